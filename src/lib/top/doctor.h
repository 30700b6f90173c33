/*
 * NAME
 *   doctor - is the whole forwarding set-up right? (fwdauth doctor)
 * SUMMARY
 *   The checks behind `fwdauth doctor` and `fwdauth check-dns -c`, as pure
 *   functions over what the front end gathers: Postfix's settings (the
 *   output of `postconf -x` and `postconf -n`, parsed here), the lookup
 *   tables Postfix names (`postmap -s` output, parsed here), fwdauthd's
 *   configuration and KeyTable, the files' stat(2) data, the daemon's user,
 *   the answers of a live probe of the daemon's listeners, and DNS through
 *   the dns module (read with the lint rules, lint.h). Each check gives one
 *   finding: a level (lint.h's ok, warning, problem, error), a short check
 *   name, a one-line verdict and, when something is wrong, the exact line
 *   to add and where (main.cf, fwdauthd.conf, the DNS zone, a shell
 *   command). Nothing here runs a process, opens a socket or prints.
 * SYNOPSIS
 *   struct doctor_pairs pf;  doctor_postconf_parse(text, len, &pf, &err);
 *   doctor_pair(&pf, "milter_default_action")      "tempfail", NULL if absent
 *   struct doctor_pairs t;   doctor_postmap_parse(text, len, &t, &err);
 *   const char *p = list; char item[DOCTOR_ITEM_MAX];
 *   while (doctor_list_next(&p, item, sizeof(item)) == 1)  each list item
 *   struct doctor_plan plan; doctor_plan_make(&cfg, kt, &plan, &err);
 *   struct doctor_input in = {...};
 *   struct doctor_finding *f = calloc(DOCTOR_FINDINGS_MAX, sizeof(*f));
 *   struct doctor_report r;  doctor_report_init(&r, f, DOCTOR_FINDINGS_MAX);
 *   doctor_run(&in, &r);     or doctor_check_postfix, _files, _dns, _probes
 *   doctor_zone_txt("_dmarc.example.net", txt, len, out, sizeof(out));
 * DESCRIPTION
 *   Parsers. doctor_postconf_parse reads "name = value" lines as postconf
 *   prints them (a line starting with white space continues the previous
 *   one, as postconf -f folds them); doctor_postmap_parse reads "key
 *   value" lines as `postmap -s` prints a table (key, a tab or spaces, the
 *   value). Later pairs of the same name win (doctor_pair returns the
 *   last). doctor_list_next walks a Postfix list (items separated by
 *   commas or white space; "{ ... }" is one item, as in smtpd_milters'
 *   extended syntax and inline: tables, returned with its braces).
 *   doctor_socketmap_reply reads one netstring reply of a socketmap server
 *   ("OK value", "NOTFOUND ", "TEMP reason", "PERM reason"),
 *   doctor_tcptable_reply one tcp_table reply line ("200 value" with %XX
 *   decoded, 400/500 reason), doctor_milter_optneg one SMFIC_OPTNEG reply
 *   packet (milter protocol: 4-octet length, 'O', version, actions,
 *   protocol steps).
 *   The plan (doctor_plan_make) lists every domain and key the
 *   configuration names, without the admin naming them: srs_domain (role
 *   DOCTOR_ROLE_SRS: SPF and MX), from_rewrite_address's domain
 *   (DOCTOR_ROLE_REWRITE: SPF, DMARC, and the DKIM key that signs it),
 *   every KeyTable entry's domain (DOCTOR_ROLE_SIGNING: SPF, DMARC) and
 *   key (DKIM), arc_domain with arc_selector and arc_key (DOCTOR_ROLE_ARC:
 *   its DKIM-style key record). Entries whose domain is "%" (the sender's)
 *   are counted in wildcard_keys and not checked. At most
 *   DOCTOR_PLAN_KEYS keys and DOCTOR_PLAN_DOMAINS domains are planned;
 *   dropped counts the rest (the front end says so).
 *   The checks (each documented at its function below) look at what a
 *   forwarder needs: Postfix asks fwdauthd's tables (canonical maps and
 *   their classes), hands mail to its milter (smtpd_milters,
 *   non_smtpd_milters, milter_default_action = tempfail,
 *   disable_mime_output_conversion = yes), accepts mail for the SRS domain
 *   (virtual_alias_domains, as the README sets it up; mydestination or
 *   virtual_mailbox_domains work too; relay_domains is a warning: it
 *   relays forged SRS addresses), changes no mail around the milter
 *   (pfcheck.h), forwards exactly the aliases fwdauthd treats as forwarded
 *   (virtual_alias_maps against forward_recipients, both ways); key and
 *   secret files as the daemon reads them; DNS (lint.h) for every planned
 *   domain and key, and the live probe's answers.
 *   Key and secret files (doctor_check_files): a file must be owned by
 *   root or the daemon's user, not readable or writable by others and not
 *   writable by its group (secfile.h). With read_as_root (the daemon
 *   reads keys and secrets as root at start and at every reload: fwdauthd
 *   with a signer process), a key owned by the daemon's user is a warning
 *   (a worker taken over could read it). Without it (the daemon reloads
 *   as its user on SIGHUP), the daemon's user must be able to read every
 *   such file, or every reload fails.
 * DIAGNOSTICS
 *   doctor_postconf_parse and doctor_postmap_parse return 0, or -1 with
 *   the line in err (a line that is not "name = value", a name that is
 *   not a parameter name, more than DOCTOR_PAIRS_MAX pairs, out of
 *   memory); the pairs are then empty. doctor_list_next returns 1 with an
 *   item, 0 at the end (an item longer than the buffer is cut, an
 *   unclosed "{" runs to the end). doctor_socketmap_reply and
 *   doctor_tcptable_reply return enum doctor_reply (DOCTOR_REPLY_FOUND,
 *   _NOTFOUND, _TEMP, _PERM, or _MALFORMED when the octets are not a reply
 *   of that protocol); doctor_milter_optneg returns 0 or -1 (not an
 *   OPTNEG reply). doctor_plan_make returns 0, or -1 when out of memory.
 *   doctor_zone_txt returns the line's length, or -1 when out is too
 *   small. The checks never fail: a finding says what could not be
 *   checked (level LINT_ERROR: postconf could not run, a DNS lookup
 *   failed). Findings beyond the report's room are counted (count[],
 *   dropped), never lost silently.
 * SECURITY
 *   Everything parsed here comes from other programs and from the network
 *   (the probe's replies, DNS): parsers are bounded (DOCTOR_PAIRS_MAX
 *   pairs, DOCTOR_ITEM_MAX octets an item, replies at most
 *   DOCTOR_REPLY_MAX octets), and texts are made one printable line.
 *   Private keys are only compared with what DNS publishes (their public
 *   half); nothing secret appears in a finding.
 */
#ifndef FWDAUTH_DOCTOR_H
#define FWDAUTH_DOCTOR_H

#include "config.h"
#include "dns.h"
#include "keys.h"
#include "keytable.h"
#include "lint.h"

#include <stddef.h>
#include <sys/types.h>

#define DOCTOR_TEXT_MAX 1024    /* a verdict, NUL included */
#define DOCTOR_FIX_MAX 2048     /* a line to add (a 4096-bit key's zone line fits) */
#define DOCTOR_FINDINGS_MAX 512 /* what fwdauth doctor keeps; any max works */
#define DOCTOR_PAIRS_MAX 100000 /* parameters or table entries parsed */
#define DOCTOR_ITEM_MAX 1024    /* one list item */
#define DOCTOR_REPLY_MAX 4096   /* a probe's reply */
#define DOCTOR_PLAN_KEYS 500    /* keys a plan holds */
#define DOCTOR_PLAN_DOMAINS 500 /* domains a plan holds */
#define DOCTOR_ALIASES_SHOWN 20 /* alias findings, then one summary */
#define DOCTOR_PROBE_ADDRESS "doctor-probe@fwdauth-doctor.invalid"

/* ---- findings -------------------------------------------------------- */

/* Where the line to add goes. */
enum doctor_fix_in {
    DOCTOR_FIX_NONE,          /* nothing to add: the text says what to do */
    DOCTOR_FIX_MAIN_CF,       /* Postfix's main.cf */
    DOCTOR_FIX_FWDAUTHD_CONF, /* fwdauthd.conf */
    DOCTOR_FIX_DNS,           /* the zone: a zone-file line */
    DOCTOR_FIX_SHELL          /* a command to run */
};

struct doctor_finding {
    int level;                  /* enum lint_level */
    char check[32];             /* "milter-default-action", "dkim-key", ... */
    char text[DOCTOR_TEXT_MAX]; /* the verdict, one line */
    int fix_in;                 /* enum doctor_fix_in */
    char fix[DOCTOR_FIX_MAX];   /* the exact line to add there; "" with DOCTOR_FIX_NONE */
};

struct doctor_report {
    struct doctor_finding *f; /* the caller's array */
    size_t max, n, dropped;
    size_t count[4]; /* by level, stored or not */
};

void doctor_report_init(struct doctor_report *r, struct doctor_finding *f, size_t max);
/* "main.cf", "fwdauthd.conf", "DNS", "shell", or "" for DOCTOR_FIX_NONE. */
const char *doctor_fix_in_name(int fix_in);

/* ---- what the front end gathers -------------------------------------- */

struct doctor_pair {
    char *name, *value;
};
struct doctor_pairs {
    struct doctor_pair *p;
    size_t n;
};

int doctor_postconf_parse(const char *text, size_t len, struct doctor_pairs *out, fa_err *err);
int doctor_postmap_parse(const char *text, size_t len, struct doctor_pairs *out, fa_err *err);
const char *doctor_pair(const struct doctor_pairs *p, const char *name);
void doctor_pairs_free(struct doctor_pairs *p);

int doctor_list_next(const char **list, char *item, size_t itemsz);

/* A Postfix lookup table named in one of the lists doctor reads
 * (virtual_alias_maps, virtual_alias_domains, mydestination,
 * virtual_mailbox_domains, relay_domains), with its entries when the
 * front end could list them (postmap -s). */
struct doctor_table {
    const char *name; /* "hash:/etc/postfix/virtual", as listed */
    int listed;       /* 1: entries holds every key; 0: could not be listed */
    struct doctor_pairs entries;
};

enum doctor_file_kind {
    DOCTOR_FILE_KEY,   /* a private key (KeyTable, arc_key) */
    DOCTOR_FILE_SECRET /* srs_secrets, stage_secrets */
};

/* One file the daemon reads, as stat(2) saw it. */
struct doctor_file {
    const char *path;
    const char *setting; /* "arc_key", "srs_secrets", "dkim_key_table entry NAME", ... */
    int kind;            /* enum doctor_file_kind */
    int err;             /* errno of stat; 0: the fields below hold */
    int regular;
    uid_t uid;
    gid_t gid;
    mode_t mode;
};

/* The daemon's user (fwdauthd.conf `user`). */
struct doctor_user {
    const char *name;
    int known; /* 0: no such user */
    uid_t uid;
    gid_t gid;
    const gid_t *groups; /* supplementary groups, the primary one included or not */
    size_t ngroups;
};

enum doctor_probe_kind {
    DOCTOR_PROBE_SOCKETMAP,
    DOCTOR_PROBE_TCP_FORWARD,
    DOCTOR_PROBE_TCP_REVERSE,
    DOCTOR_PROBE_MILTER
};

/* One listener's live probe: up to two requests and their replies. The
 * socketmap probe asks "forward DOCTOR_PROBE_ADDRESS", then "reverse" of
 * the answer; tcp_forward "get DOCTOR_PROBE_ADDRESS"; tcp_reverse "get"
 * of an SRS address when the front end has one, else of the probe
 * address; milter sends SMFIC_OPTNEG. */
struct doctor_probe {
    int kind;            /* enum doctor_probe_kind */
    const char *setting; /* "socketmap_listen", ... */
    const char *address; /* its value */
    int err;             /* 0: every request was answered; else errno */
    const char *step;    /* with err: "connect", "write", "read" */
    size_t nreq;
    char request[2][320];            /* socketmap/tcp_table keys asked ("" for milter) */
    char reply[2][DOCTOR_REPLY_MAX]; /* the raw replies */
    size_t reply_len[2];
};

/* A key the plan checks in DNS. */
struct doctor_key {
    char name[128]; /* KeyTable name, or "arc_key" */
    char domain[256];
    char selector[128];
    char path[1024];
    int arc;                     /* the ARC key */
    const struct fa_key *key;    /* its private key when it could be read, else NULL */
    char load_error[FA_ERR_MAX]; /* why not */
};

enum doctor_role {
    DOCTOR_ROLE_SRS = 1,     /* srs_domain: SPF, MX */
    DOCTOR_ROLE_REWRITE = 2, /* from_rewrite_address's domain: SPF, DMARC, aligned DKIM */
    DOCTOR_ROLE_SIGNING = 4, /* a KeyTable domain: SPF, DMARC */
    DOCTOR_ROLE_ARC = 8      /* arc_domain: its key record */
};

struct doctor_domain {
    char name[256];
    unsigned roles; /* enum doctor_role bits */
};

struct doctor_plan {
    struct doctor_domain *dom;
    size_t ndom;
    struct doctor_key *keys;
    size_t nkeys;
    size_t wildcard_keys; /* KeyTable entries with domain "%": not checked */
    size_t dropped;       /* keys or domains over the limits */
};

/* kt may be NULL (no KeyTable). The keys' key and load_error are left
 * for the front end to fill. */
int doctor_plan_make(const struct fa_config *cfg, const struct keytable *kt, struct doctor_plan *p,
                     fa_err *err);
void doctor_plan_free(struct doctor_plan *p);
/* The roles as text, "srs_domain, from_rewrite_address, KeyTable, arc_domain". */
const char *doctor_role_names(unsigned roles, char *buf, size_t n);
/* Which DNS checks a domain of these roles gets. */
int doctor_role_wants_spf(unsigned roles);
int doctor_role_wants_dmarc(unsigned roles);
int doctor_role_wants_mx(unsigned roles);

struct doctor_input {
    const struct fa_config *cfg;
    const char *cfg_path;
    /* Postfix: postconf -x (every parameter, $names expanded) and postconf
     * -n (those set in main.cf, as written); NULL when postconf could not
     * run (pf_error says why). */
    const struct doctor_pairs *pf, *pf_n;
    const char *pf_error;
    const struct doctor_table *tables;
    size_t ntables;
    const char *kt_error; /* the KeyTable could not be loaded: why ("" or NULL: it could) */
    const struct doctor_plan *plan;
    const struct doctor_file *files;
    size_t nfiles;
    struct doctor_user user;
    int read_as_root; /* keys and secrets are read as root, at start and at each reload */
    const struct doctor_probe *probes; /* NULL: not probed */
    size_t nprobes;
    struct dns *dns; /* NULL: DNS not checked */
    int dmarc_mode;  /* enum dmarc_mode */
};

/* Everything below, in this order. */
void doctor_run(const struct doctor_input *in, struct doctor_report *r);

/* Postfix: postfix, srs-reverse, srs-forward, sender-canonical-classes,
 * recipient-canonical-classes, smtpd-milters, non-smtpd-milters,
 * milter-default-action, mime-output-conversion, srs-domain-accepted,
 * content-checks (pfcheck.h: reads the tables' files), forward-recipients. */
void doctor_check_postfix(const struct doctor_input *in, struct doctor_report *r);
/* key-table, key-file, secret-file. */
void doctor_check_files(const struct doctor_input *in, struct doctor_report *r);
/* srs-domain-spf, srs-domain-mx, dkim-key, arc-key, rewrite-domain-dmarc,
 * rewrite-domain-spf, rewrite-domain-dkim. */
void doctor_check_dns(const struct doctor_input *in, struct doctor_report *r);
/* daemon-socketmap, daemon-tcp-forward, daemon-tcp-reverse, daemon-milter. */
void doctor_check_probes(const struct doctor_input *in, struct doctor_report *r);

/* ---- probe replies --------------------------------------------------- */

enum doctor_reply {
    DOCTOR_REPLY_FOUND,
    DOCTOR_REPLY_NOTFOUND,
    DOCTOR_REPLY_TEMP,
    DOCTOR_REPLY_PERM,
    DOCTOR_REPLY_MALFORMED
};

/* value gets the answer (FOUND) or the reason (TEMP, PERM), NUL-terminated
 * and cut to valsz - 1 octets. */
int doctor_socketmap_reply(const char *buf, size_t len, char *value, size_t valsz);
int doctor_tcptable_reply(const char *buf, size_t len, char *value, size_t valsz);
int doctor_milter_optneg(const char *buf, size_t len, unsigned *version, unsigned *actions,
                         unsigned *protocol);

/* ---- zone-file lines ------------------------------------------------- */

/* `OWNER. 3600 IN TXT "..." "..."`: txt split into strings of at most 255
 * octets, '"' and '\' escaped, other octets outside printable ASCII
 * written as \DDD (RFC 1035 section 5.1). */
int doctor_zone_txt(const char *owner, const char *txt, size_t len, char *out, size_t outsz);

#endif
