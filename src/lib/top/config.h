/*
 * NAME
 *   config - fwdauthd.conf: Postfix-style "key = value" settings
 * SUMMARY
 *   Reads the configuration shared by fwdauthd and the fwdauth CLI into an
 *   immutable struct fa_config. The syntax is Postfix's main.cf: one
 *   "name = value" per logical line, blank lines and lines whose first
 *   non-blank character is "#" ignored, a line that starts with white space
 *   continues the previous one. List values split on commas and white space.
 *   Unlike main.cf, a value that holds a "#" after white space (or starts
 *   with one) is an error: there are no comments at the end of a line, and
 *   an admin who writes one must learn that it is not a comment.
 * SYNOPSIS
 *   struct fa_config cfg;
 *   config_init(&cfg);                       defaults for every key
 *   config_load_file(&cfg, "fwdauthd.conf", &err);
 *   config_set(&cfg, "srs_domain", "x.example", "command line", &err);
 *   config_where(&cfg, "srs_domain")         "fwdauthd.conf:3", or "default"
 *   config_fail(&cfg, "arc_key", &err, "...")  an error at that key's line
 *   char *text = config_dump(&cfg, 0);       "name = value" lines (postconf -n)
 *   config_free(&cfg);
 * DESCRIPTION
 *   Every key is declared once, in a table in config.c, with its storage
 *   type, default, limits and the type its value is checked as when it is
 *   set: domain names (srs_domain, arc_domain; local_domains entries may
 *   start with "." for subdomains), authserv-ids (authserv_id,
 *   trusted_authserv_ids: RFC 8601 ids written as domain names, so that
 *   they compare as domain names), addresses (from_rewrite_address: a
 *   dot-atom local@domain; forward_recipients: local@domain or @domain),
 *   internal_hosts (addresses or CIDR networks, read by nets_parse),
 *   absolute file paths (srs_secrets, arc_key, dkim_key_table and
 *   dkim_signing_table with their file:/refile: prefixes, dns_zone_file,
 *   chroot), listen addresses (listenaddr.h; metrics_listen inet only),
 *   dns_server (ADDR or ADDR@PORT, numeric), srs_store (srsstore.h:
 *   sqlite:/PATH, redis:unix:/PATH or redis:inet:HOST:PORT), user (a user
 *   name), a DKIM selector (arc_selector), a KeyTable name (forward_signing_key),
 *   numbers in a range, choices and booleans. `fwdauthd.conf(5)` documents
 *   them. Host names are ASCII (write internationalized names as A-labels).
 *   Later lines win over earlier ones, as in Postfix, and each key
 *   remembers where it was last set, so that checks made after loading
 *   (runtime.c, srs_config.c) can name FILE:LINE too.
 *   config_load_file_each and config_load_buf_each go on after a bad
 *   line and hand every problem to a callback (fwdauthd -t); the other
 *   loaders stop at the first. A value, or a list written back as
 *   "name = a, b, ...", must fit in one logical line (65535 octets), so
 *   that every dump loads. config_dump writes the settings as "name = value" lines in
 *   table order, every one or only those that differ from the default,
 *   lists comma-separated and folded as Postfix's postconf does; the text
 *   loads back to the same settings.
 * DIAGNOSTICS
 *   config_set, config_load_* and config_check_srs return 0, or -1 with
 *   the reason in err: unknown keys, malformed lines, trailing comments,
 *   values of the wrong type or out of range name FILE:LINE (the `where`
 *   given to config_set), the key and what was expected. Values are shown
 *   at most 100 octets long with control characters as "?"; no key holds
 *   a secret (srs_secrets names a file). config_load_*_each return the
 *   same after reporting every problem, the first in err. config_parse
 *   returns 0, or -1 with err: a malformed line (FILE:LINE), out of
 *   memory, or the first failure of fn.
 *   config_fail returns -1. config_dump returns NULL when out of memory.
 *   config_valid_name returns 1 or 0. config_where and
 *   config_log_level_name never fail.
 */
#ifndef FWDAUTH_CONFIG_H
#define FWDAUTH_CONFIG_H

#include "err.h"
#include "srs.h" /* enum fa_srs_alphabet */
#include "strlist.h"

#include <stddef.h>

enum fa_log_level { FA_LOG_ERROR, FA_LOG_WARNING, FA_LOG_INFO, FA_LOG_DEBUG };
enum fa_dmarc_enforce { FA_ENFORCE_OFF, FA_ENFORCE_TAG, FA_ENFORCE_QUARANTINE, FA_ENFORCE_REJECT };
enum fa_from_rewrite {
    FA_REWRITE_OFF,
    FA_REWRITE_REJECT,                /* senders with p=reject */
    FA_REWRITE_REJECT_AND_QUARANTINE, /* p=reject or p=quarantine */
    FA_REWRITE_ALWAYS                 /* any sender that publishes DMARC */
};
/* Forwarded mail that failed DMARC under a policy in forward_dmarc_policies. */
enum fa_forward_failure { FA_FWDFAIL_REJECT, FA_FWDFAIL_HOLD };
enum fa_forward_policies { FA_FWDPOL_REJECT, FA_FWDPOL_REJECT_AND_QUARANTINE };
/* Forwarded mail whose From: cannot be read with certainty. */
enum fa_from_unreadable { FA_UNREADABLE_REJECT, FA_UNREADABLE_TEMPFAIL, FA_UNREADABLE_ACCEPT };

/* The largest configuration file config_load_file reads (octets): a larger
 * one is a mistake, not a configuration. */
#define CONFIG_MAX_FILE (1024 * 1024)

/* Room for every key's "where it was set" (config.c asserts it is enough). */
#define CONFIG_KEYS_MAX 96

struct fa_config {
    /* SRS (srs.h) */
    char *srs_domain;              /* domain of rewritten senders */
    char *srs_secrets;             /* path: one secret per line; first signs */
    struct fa_list local_domains;  /* never rewritten; ".example.net" = subdomains */
    unsigned srs_hash_length;      /* base64 characters emitted (libsrs2: 4) */
    unsigned srs_hash_minimum;     /* characters accepted on reverse; 0 = hash_length */
    unsigned srs_max_age;          /* days a rewritten address stays valid */
    char srs_separator;            /* '=', '+' or '-' after SRS0/SRS1 */
    int srs_hash_alphabet;         /* enum fa_srs_alphabet (srs.h), emitted; both accepted */
    int srs_mode;                  /* enum srs_mode (srs.h): stateless, hybrid, database */
    char *srs_store;               /* sqlite:/PATH, redis:unix:/PATH, redis:inet:HOST:PORT */
    char *srs_store_password;      /* file: the Redis password (AUTH); empty = none */
    unsigned srs_store_timeout_ms; /* every store connect, read and write */
    char *srs_domain_map;          /* file: forwarding domain -> SRS domain [secrets] */

    /* fwdauthd listeners, in Postfix syntax: inet:HOST:PORT, inet:[::1]:PORT, unix:/path */
    char *socketmap_listen;
    char *tcp_forward_listen;
    char *tcp_reverse_listen;
    char *milter_listen;  /* Postfix milter protocol 6 (smtpd_milters) */
    char *metrics_listen; /* HTTP GET /metrics (Prometheus), inet only; empty = off */

    /* fwdauthd process */
    char *user;                        /* drop to this user after binding */
    char *chroot;                      /* chroot here after binding; empty = none */
    unsigned connection_limit;         /* table and milter connections, all listeners together */
    unsigned table_connection_limit;   /* per socketmap / tcp_table listener */
    unsigned milter_connection_limit;  /* on the milter listener */
    unsigned metrics_connection_limit; /* on the metrics listener (restart) */
    unsigned milter_buffer_memory;     /* MiB for milter packets over 16 KiB, all connections */
    unsigned request_timeout;          /* seconds to finish a request once started */
    unsigned idle_timeout;             /* seconds a connection may wait between requests */
    int log_level;                     /* enum fa_log_level */

    /* Milter: authentication results and signing */
    char *authserv_id;             /* our name in Authentication-Results; empty = host name */
    unsigned milter_timeout;       /* seconds to wait for the MTA's next packet */
    char *dkim_key_table;          /* OpenDKIM KeyTable: NAME DOMAIN:SELECTOR:KEYFILE */
    char *dkim_signing_table;      /* OpenDKIM SigningTable (refile:PATH for wildcards) */
    struct fa_list internal_hosts; /* clients whose mail is ours (CIDR or address) */
    struct fa_list originating_daemon_names; /* {daemon_name} values of submission services */
    struct fa_list forward_recipients;       /* recipients whose mail we forward: addr, @domain */
    char *forward_signing_key;               /* KeyTable name for our signature on forwarded mail */
    int srs_forwarded_mail;                  /* milter: SRS the envelope sender of forwarded mail */
    int dmarc_enforce;                   /* enum fa_dmarc_enforce: off, tag, quarantine, reject */
    int from_rewrite;                    /* enum fa_from_rewrite */
    char *from_rewrite_address;          /* the From: address of rewritten mail (ours) */
    char *arc_domain;                    /* ARC sealing of forwarded mail: d= */
    char *arc_selector;                  /* s= */
    char *arc_key;                       /* its private key file */
    struct fa_list trusted_authserv_ids; /* upstream Authentication-Results we believe */
    int forward_dmarc_failure;           /* enum fa_forward_failure: reject or hold */
    int forward_dmarc_policies;          /* enum fa_forward_policies: which failures count */
    int from_unreadable;                 /* enum fa_from_unreadable */

    /* The forwarder's own changes to forwarded mail (fwdchange.h) */
    char *forward_subject_tag;  /* Subject: tag, e.g. "[fwd]"; empty = none */
    char *forward_footer;       /* file: UTF-8 footer text; empty = none */
    char *forward_footer_html;  /* file: HTML footer fragment; empty = the text one */
    char *forward_header;       /* one field "Name: value" added; empty = none */
    int from_rewrite_on_change; /* our changes break an aligned signature: rewrite From: */

    /* Two stages around a content filter (stagehdr.h) */
    struct fa_list stage2_daemon_names; /* {daemon_name} of the re-injection smtpd */
    char *stage_secrets;                /* file: HMAC secrets, first signs, all verify */
    unsigned stage_max_age;             /* seconds a stage-1 field stays valid */

    /* The Postfix instance fwdauthd works with (fwdauthd -t, fwdauth doctor) */
    char *postfix_config_directory; /* its config_directory; empty = postconf's default */

    /* DNS (dns.h) */
    char *dns_zone_file;        /* answer from this RFC 1035 zone file only */
    char *dns_server;           /* resolver address; empty = /etc/resolv.conf */
    unsigned dns_timeout;       /* seconds per query */
    unsigned milter_dns_budget; /* seconds of DNS per message (dns_session_new) */

    /* DMARC (dmarc.h) */
    int dmarc_mode; /* enum dmarc_mode: rfc7489 (PSL) or rfc9989 (DNS Tree Walk) */

    /* Where each key (in table order) was last set: "FILE:LINE" or the
     * `where` given to config_set; NULL = default. Read with config_where. */
    char *set_at[CONFIG_KEYS_MAX];
    char *file; /* the last file loaded, for errors about keys it left unset */
};

void config_init(struct fa_config *cfg);
void config_free(struct fa_config *cfg);

/* Set one key from its text value, checked by its type; `where` (e.g.
 * "file:12") prefixes errors and is remembered for config_where. */
int config_set(struct fa_config *cfg, const char *key, const char *value, const char *where,
               fa_err *err);

/* Parse a whole file or buffer on top of what cfg holds. */
int config_load_file(struct fa_config *cfg, const char *path, fa_err *err);
int config_load_buf(struct fa_config *cfg, const char *name, const char *buf, size_t len,
                    fa_err *err);

/* Like config_load_file, but a bad line does not stop the loading: each
 * problem ("FILE:LINE: ...") goes to report, and the return is 0 when
 * there was none, else -1 with the first in err. */
typedef void (*config_report_fn)(void *ctx, const char *problem);
int config_load_file_each(struct fa_config *cfg, const char *path, config_report_fn report,
                          void *ctx, fa_err *err);
int config_load_buf_each(struct fa_config *cfg, const char *name, const char *buf, size_t len,
                         config_report_fn report, void *ctx, fa_err *err);

/* Where key was last set: "FILE:LINE", the `where` of config_set, or
 * "default"; "unknown parameter" for a name not in the table. */
const char *config_where(const struct fa_config *cfg, const char *key);

/* Fill err with "WHERE: message", WHERE being where key was set, or the
 * file loaded when it was left at its default; returns -1. */
int config_fail(const struct fa_config *cfg, const char *key, fa_err *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Every setting (all != 0) or those that differ from their defaults, as
 * "name = value\n" lines that config_load_buf reads back unchanged. The
 * caller frees the text; NULL when out of memory. */
char *config_dump(const struct fa_config *cfg, int all);

/* Letters, digits and hyphens in dot-separated labels of 1 to 63 octets,
 * at most 253 in all (RFC 1035 host names, RFC 6376 selectors); a final
 * dot only with allow_final_dot. 1 yes, 0 no. */
int config_valid_name(const char *s, int allow_final_dot);

/* Check that the SRS settings form a usable whole (srs_domain and
 * srs_secrets set, hash_minimum <= hash_length, srs_mode hybrid or
 * database set explicitly only with srs_store, a hash short enough for
 * aliases with a store, srs_store_password only with Redis). */
int config_check_srs(const struct fa_config *cfg, fa_err *err);

/* Names for enum fa_log_level, for logs and --help. */
const char *config_log_level_name(int level);

/* Generic parser used by config_load_*: calls fn for each logical line.
 * Exposed for the fuzz target and for other Postfix-style tables. */
typedef int (*config_line_fn)(void *ctx, const char *key, const char *value, const char *where,
                              fa_err *err);
int config_parse(const char *name, const char *buf, size_t len, config_line_fn fn, void *ctx,
                 fa_err *err);

#endif
