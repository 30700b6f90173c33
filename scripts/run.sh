#!/usr/bin/env bash
# make run: a demo fwdauthd under ./var, in the foreground, on loopback.
# Generates an SRS secret and a config on first use and keeps both on later
# runs (an admin's edits and the ports in it stay; delete var/fwdauthd.conf
# for a new one). A new config takes PostSRSd's classic ports 10001/10002
# (and 10003 for socketmap) when they are free and free ports otherwise. The
# Postfix lines printed use the ports the config in force names.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
var=$top/var
bin=$top/build/bin
mkdir -p "$var"
chmod 755 "$var"

secrets=$var/srs-secrets
if [ ! -s "$secrets" ]; then
	(umask 077 && head -c 24 /dev/urandom | base64 >"$secrets")
	echo "run: new SRS secret in $secrets"
fi
# fwdauthd's root master reads the secrets (at start and on SIGHUP), so
# root-only 0600 is right (fwdauthd.conf(5): owner root or user).
chmod 600 "$secrets"

port_in_use() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }
free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
pick_port() {
	if port_in_use "$1"; then free_port; else echo "$1"; fi
}

conf=$var/fwdauthd.conf
if [ -s "$conf" ]; then
	echo "run: keeping $conf and its ports (delete it for a new one)"
else
	fwd=$(pick_port 10001)
	rev=$(pick_port 10002)
	smap=$(pick_port 10003)
	milter=$(pick_port 8891)
	domain=${FWDAUTH_SRS_DOMAIN:-$(hostname -f 2>/dev/null || echo srs.example.net)}
	case "$domain" in *.*) ;; *) domain=srs.example.net ;; esac
	cat >"$conf" <<CONF
# Written by 'make run' ($(date -u +%FT%TZ)); kept by later runs (edit it, or
# delete it for a new one); see doc/fwdauthd.conf.5.
srs_domain = $domain
srs_secrets = $secrets
tcp_forward_listen = inet:127.0.0.1:$fwd
tcp_reverse_listen = inet:127.0.0.1:$rev
socketmap_listen = inet:127.0.0.1:$smap
milter_listen = inet:127.0.0.1:$milter
authserv_id = $domain
user = nobody
log_level = info
CONF
	echo "run: new config $conf"
fi

"$bin/fwdauthd" -c "$conf" -t

# The values in force, from the file (fwdauthd -a prints every setting,
# defaults included).
setting() { "$bin/fwdauthd" -c "$conf" -a | sed -n "s/^$1 = //p"; }
# inet:HOST:PORT as Postfix's HOST:PORT; anything else (unix:, empty) as is.
hostport() { case "$1" in inet:*) echo "${1#inet:}" ;; *) echo "$1" ;; esac; }
domain=$(setting srs_domain)
fwd=$(hostport "$(setting tcp_forward_listen)")
rev=$(hostport "$(setting tcp_reverse_listen)")
smap=$(setting socketmap_listen)
milter=$(setting milter_listen)
internal=$(setting internal_hosts)

# A Postfix configuration folder for postmap -c: postmap reads main.cf first,
# and a fresh Debian with the postfix package not configured has none.
pfdir=$var/postfix
mkdir -p "$pfdir"
[ -e "$pfdir/main.cf" ] || echo "# empty: for 'postmap -c $pfdir' (make run)" >"$pfdir/main.cf"

cat <<MSG

fwdauthd: SRS domain $domain, config $conf
Paste into Postfix's main.cf (then 'postfix reload'), either tcp_table:

    sender_canonical_maps = tcp:$fwd
    recipient_canonical_maps = tcp:$rev
    sender_canonical_classes = envelope_sender
    recipient_canonical_classes = envelope_recipient, header_recipient
    virtual_alias_domains = \$virtual_alias_maps, $domain

or socketmap (Postfix 2.10 and later):

    sender_canonical_maps = socketmap:$smap:forward
    recipient_canonical_maps = socketmap:$smap:reverse
    sender_canonical_classes = envelope_sender
    recipient_canonical_classes = envelope_recipient, header_recipient
    virtual_alias_domains = \$virtual_alias_maps, $domain

(virtual_alias_domains makes Postfix accept bounces to SRS addresses from
any client; leave $domain out of it when it is already in mydestination.)
The classes matter: Postfix's default would also rewrite the From: header,
which breaks DKIM signatures. The milter (DKIM verification and
Authentication-Results for inbound mail; signing and forwarded-only SRS once
the keys and forward_recipients are configured, see README.md):

    smtpd_milters = $milter
    non_smtpd_milters = $milter
    milter_default_action = tempfail
    disable_mime_output_conversion = yes

Mail sent from this machine counts as originating: internal_hosts is
$internal, so the milter treats it as your users' mail: signed
when a key is configured, not checked (no SPF, DKIM or DMARC verdict) and not
handled as forwarded mail. To watch those, send from another host, or set
internal_hosts in $conf to a network you do not send from and restart.

Try it by hand (postmap -c: a Postfix configuration folder, made here):

    postmap -c $pfdir -q user@example.org tcp:$fwd
    $bin/fwdauth srs forward -c $conf user@example.org

Starting fwdauthd in the foreground (Ctrl-C stops it).
MSG
exec "$bin/fwdauthd" -c "$conf" -f
