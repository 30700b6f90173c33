#!/usr/bin/env bash
# make run: a demo fwdauthd under ./var, in the foreground, on loopback.
# Generates an SRS secret and a config on first use (kept for later runs),
# takes PostSRSd's classic ports 10001/10002 (and 10003 for socketmap) when
# they are free and free ports otherwise, and prints the Postfix lines to
# paste with the ports actually in use.
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
# Readable by the daemon's group so that SIGHUP can reload it after the drop
# to nobody (fwdauthd.conf(5): owner root or user, group-readable allowed).
if [ "$(id -u)" = 0 ]; then
	chgrp "$(id -gn nobody)" "$secrets"
	chmod 640 "$secrets"
else
	chmod 600 "$secrets"
fi

port_in_use() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }
free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
pick_port() {
	if port_in_use "$1"; then free_port; else echo "$1"; fi
}
fwd=$(pick_port 10001)
rev=$(pick_port 10002)
smap=$(pick_port 10003)
milter=$(pick_port 8891)
domain=${FWDAUTH_SRS_DOMAIN:-$(hostname -f 2>/dev/null || echo srs.example.net)}
case "$domain" in *.*) ;; *) domain=srs.example.net ;; esac

conf=$var/fwdauthd.conf
cat >"$conf" <<CONF
# Written by 'make run' ($(date -u +%FT%TZ)); see doc/fwdauthd.conf.5.
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

"$bin/fwdauthd" -c "$conf" -t

cat <<MSG

fwdauthd: SRS domain $domain, config $conf
Paste into Postfix's main.cf (then 'postfix reload'), either tcp_table:

    sender_canonical_maps = tcp:127.0.0.1:$fwd
    recipient_canonical_maps = tcp:127.0.0.1:$rev
    sender_canonical_classes = envelope_sender
    recipient_canonical_classes = envelope_recipient, header_recipient
    virtual_alias_domains = \$virtual_alias_maps, $domain

or socketmap (Postfix 2.10 and later):

    sender_canonical_maps = socketmap:inet:127.0.0.1:$smap:forward
    recipient_canonical_maps = socketmap:inet:127.0.0.1:$smap:reverse
    sender_canonical_classes = envelope_sender
    recipient_canonical_classes = envelope_recipient, header_recipient
    virtual_alias_domains = \$virtual_alias_maps, $domain

(virtual_alias_domains makes Postfix accept bounces to SRS addresses from
any client; leave $domain out of it when it is already in mydestination.)
The classes matter: Postfix's default would also rewrite the From: header,
which breaks DKIM signatures. The milter (DKIM verification and
Authentication-Results for inbound mail; signing and forwarded-only SRS once
the keys and forward_recipients are configured, see README.md):

    smtpd_milters = inet:127.0.0.1:$milter
    non_smtpd_milters = inet:127.0.0.1:$milter
    milter_default_action = tempfail
    disable_mime_output_conversion = yes

Try it by hand:

    postmap -q user@example.org tcp:127.0.0.1:$fwd
    $bin/fwdauth srs forward -c $conf user@example.org

Starting fwdauthd in the foreground (Ctrl-C stops it).
MSG
exec "$bin/fwdauthd" -c "$conf" -f
