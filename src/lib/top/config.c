/* config - Postfix-style settings for fwdauthd and fwdauth; see config.h. */
#include "config.h"

#include "addr.h"
#include "fileread.h"
#include "listenaddr.h"
#include "nets.h"
#include "srsstore.h"
#include "strlist.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Longest logical line (after joining continuation lines). */
#define CONFIG_MAX_LINE 65536

/* Longest value text shown in an error. */
#define SHOWN_MAX 100
/* A postconf-style dump folds lists after this many columns. */
#define DUMP_WIDTH 78

enum setting_type { T_STRING, T_LIST, T_UINT, T_ENUM, T_CHAR, T_BOOL };

/* What a T_STRING value, or each entry of a T_LIST, must look like. An
 * empty T_STRING means "off" and is accepted for every kind but V_USER. */
enum value_kind {
    V_ANY,          /* no check beyond the trailing-comment rule */
    V_DOMAIN,       /* a host name, no final dot */
    V_LOCAL_DOMAIN, /* a host name or .name (subdomains), final dot allowed */
    V_AUTHSERV_ID,  /* ours: a host name, no final dot */
    V_TRUSTED_ID,   /* theirs: a host name, final dot allowed (compared as domain names) */
    V_ADDRESS,      /* dot-atom local@domain */
    V_RECIPIENT,    /* dot-atom local@domain or @domain */
    V_NETS,         /* the whole list through nets_parse */
    V_PATH,         /* an absolute path */
    V_TABLE,        /* [file:]absolute path */
    V_SIGNING,      /* [file:|refile:]absolute path */
    V_LISTEN,       /* listen_parse */
    V_LISTEN_INET,  /* listen_parse, inet only */
    V_DNS_SERVER,   /* ADDR or ADDR@PORT, numeric, several */
    V_USER,         /* a user name, not empty */
    V_SELECTOR,     /* a DKIM selector */
    V_KEYNAME,      /* a KeyTable name */
    V_TOKEN,        /* printable ASCII */
    V_SRS_STORE,    /* srsstore_parse */
};

struct key_def {
    const char *name;
    enum setting_type type;
    size_t offset;
    const char *def;            /* default, parsed like a file value */
    unsigned min, max;          /* T_UINT */
    const char *const *choices; /* T_ENUM (index = value), T_CHAR (one-char strings) */
    enum value_kind kind;       /* T_STRING, T_LIST */
};

static const char *const log_levels[] = {"error", "warning", "info", "debug", NULL};
static const char *const alphabets[] = {"base64url", "base64", NULL};
static const char *const separators[] = {"=", "+", "-", NULL};
static const char *const srs_modes[] = {"stateless", "hybrid", "database", NULL}; /* srs.h */
static const char *const booleans[] = {"no", "yes", NULL};
static const char *const enforce_modes[] = {"off", "tag", "quarantine", "reject", NULL};
static const char *const rewrite_modes[] = {"off", "reject", "reject-and-quarantine", "always",
                                            NULL};
static const char *const fwd_failures[] = {"reject", "hold", NULL};
static const char *const fwd_policies[] = {"reject", "reject-and-quarantine", NULL};
static const char *const unreadable_modes[] = {"reject", "tempfail", "accept-unsigned", NULL};
static const char *const dmarc_modes[] = {"rfc7489", "rfc9989", NULL}; /* enum dmarc_mode */

#define OFF(f) offsetof(struct fa_config, f)
#define STR(key, def, kind)                                                                        \
    {                                                                                              \
#key, T_STRING, OFF(key), def, 0, 0, NULL, kind                                            \
    }
#define LIST(key, def, kind)                                                                       \
    {                                                                                              \
#key, T_LIST, OFF(key), def, 0, 0, NULL, kind                                              \
    }
#define UINT(key, def, min, max)                                                                   \
    {                                                                                              \
#key, T_UINT, OFF(key), def, min, max, NULL, V_ANY                                         \
    }
#define CHOICE(key, type, def, choices)                                                            \
    {                                                                                              \
#key, type, OFF(key), def, 0, 0, choices, V_ANY                                            \
    }
static const struct key_def keys[] = {
    STR(srs_domain, "", V_DOMAIN),
    STR(srs_secrets, "", V_PATH),
    LIST(local_domains, "", V_LOCAL_DOMAIN),
    UINT(srs_hash_length, "4", 1, 27),
    UINT(srs_hash_minimum, "0", 0, 27),
    UINT(srs_max_age, "21", 1, 1023),
    CHOICE(srs_separator, T_CHAR, "=", separators),
    CHOICE(srs_hash_alphabet, T_ENUM, "base64url", alphabets),
    CHOICE(srs_mode, T_ENUM, "hybrid", srs_modes),
    STR(srs_store, "", V_SRS_STORE),
    STR(srs_store_password, "", V_PATH),
    UINT(srs_store_timeout_ms, "1000", 10, 60000),
    STR(srs_domain_map, "", V_PATH),
    STR(socketmap_listen, "", V_LISTEN),
    STR(tcp_forward_listen, "", V_LISTEN),
    STR(tcp_reverse_listen, "", V_LISTEN),
    STR(milter_listen, "", V_LISTEN),
    STR(metrics_listen, "", V_LISTEN_INET),
    STR(authserv_id, "", V_AUTHSERV_ID),
    UINT(milter_timeout, "300", 1, 3600),
    STR(dkim_key_table, "", V_TABLE),
    STR(dkim_signing_table, "", V_SIGNING),
    LIST(internal_hosts, "127.0.0.0/8, ::1", V_NETS),
    LIST(originating_daemon_names, "ORIGINATING", V_TOKEN),
    LIST(forward_recipients, "", V_RECIPIENT),
    STR(forward_signing_key, "", V_KEYNAME),
    CHOICE(srs_forwarded_mail, T_BOOL, "yes", booleans),
    CHOICE(dmarc_enforce, T_ENUM, "tag", enforce_modes),
    CHOICE(from_rewrite, T_ENUM, "off", rewrite_modes),
    STR(from_rewrite_address, "", V_ADDRESS),
    STR(arc_domain, "", V_DOMAIN),
    STR(arc_selector, "", V_SELECTOR),
    STR(arc_key, "", V_PATH),
    LIST(trusted_authserv_ids, "", V_TRUSTED_ID),
    CHOICE(forward_dmarc_failure, T_ENUM, "reject", fwd_failures),
    CHOICE(forward_dmarc_policies, T_ENUM, "reject-and-quarantine", fwd_policies),
    CHOICE(from_unreadable, T_ENUM, "reject", unreadable_modes),
    STR(forward_subject_tag, "", V_ANY),
    STR(forward_footer, "", V_PATH),
    STR(forward_footer_html, "", V_PATH),
    STR(forward_header, "", V_ANY),
    CHOICE(from_rewrite_on_change, T_BOOL, "yes", booleans),
    LIST(stage2_daemon_names, "", V_TOKEN),
    STR(stage_secrets, "", V_PATH),
    UINT(stage_max_age, "432000", 60, 2592000),
    STR(postfix_config_directory, "", V_PATH),
    STR(user, "nobody", V_USER),
    STR(chroot, "", V_PATH),
    UINT(connection_limit, "2000", 1, 40000),
    UINT(table_connection_limit, "500", 1, 10000),
    UINT(milter_connection_limit, "500", 1, 10000),
    UINT(metrics_connection_limit, "32", 1, 1000),
    UINT(milter_buffer_memory, "64", 1, 4096),
    UINT(request_timeout, "100", 1, 3600),
    UINT(idle_timeout, "300", 1, 86400),
    CHOICE(log_level, T_ENUM, "info", log_levels),
    STR(dns_zone_file, "", V_PATH),
    STR(dns_server, "", V_DNS_SERVER),
    UINT(dns_timeout, "5", 1, 60),
    UINT(milter_dns_budget, "60", 1, 3600),
    CHOICE(dmarc_mode, T_ENUM, "rfc7489", dmarc_modes),
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))
_Static_assert(NKEYS <= CONFIG_KEYS_MAX, "raise CONFIG_KEYS_MAX in config.h");

const char *config_log_level_name(int level)
{
    if (level < 0 || level > FA_LOG_DEBUG)
        return "?";
    return log_levels[level];
}

static const struct key_def *find_key(const char *name)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
}

static int parse_uint(const char *value, unsigned *out)
{
    if (!isdigit((unsigned char)value[0]))
        return -1;
    errno = 0;
    char *end;
    unsigned long v = strtoul(value, &end, 10);
    if (errno || *end || v > UINT_MAX)
        return -1;
    *out = (unsigned)v;
    return 0;
}

/* ---- value checks by kind ----------------------------------------------- */

int config_valid_name(const char *s, int allow_final_dot)
{
    size_t n = strlen(s), label = 0;
    if (n == 0 || n > 253 + (allow_final_dot ? 1 : 0))
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '.') {
            if (label == 0 || s[i - 1] == '-')
                return 0;
            if (i == n - 1 && !allow_final_dot)
                return 0;
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   (c == '-' && label > 0)) {
            if (++label > 63)
                return 0;
        } else {
            return 0;
        }
    }
    return s[n - 1] != '-';
}

/* Printable ASCII, no white space: what every token-like value is made of. */
static int all_graphic(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f)
            return 0;
    return 1;
}

/* local@domain with a dot-atom local part of at most 64 octets. */
static int valid_address(const char *s, int allow_final_dot)
{
    const char *at = strrchr(s, '@');
    if (!at || at == s || at - s > 64 || !addr_is_dot_atom(s, (size_t)(at - s)))
        return 0;
    return config_valid_name(at + 1, allow_final_dot);
}

static int valid_path(const char *s)
{
    return s[0] == '/' && strlen(s) < PATH_MAX && all_graphic(s);
}

static int valid_ip(const char *s)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* One dns_server entry: ADDR or ADDR@PORT, as dns.c hands it to libunbound. */
static int valid_dns_server(const char *s, size_t n)
{
    char addr[INET6_ADDRSTRLEN + 1];
    const char *at = memchr(s, '@', n);
    size_t al = at ? (size_t)(at - s) : n;
    unsigned port;
    if (al == 0 || al >= sizeof(addr))
        return 0;
    if (at && listen_parse_port(at + 1, n - al - 1, &port) < 0)
        return 0;
    memcpy(addr, s, al);
    addr[al] = '\0';
    return valid_ip(addr);
}

/* POSIX portable user names, as useradd(8) takes them: letters, digits,
 * ".", "_", "-" (not first), an optional final "$"; at most 32 octets. */
static int valid_user(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 32 || s[0] == '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || (c == '$' && i == n - 1)))
            return 0;
    }
    return 1;
}

/* NULL when v (a T_STRING value or one T_LIST entry) is good for kind,
 * else what was expected. */
static const char *check_value(enum value_kind kind, const char *v)
{
    switch (kind) {
    case V_ANY:
        return NULL;
    case V_DOMAIN:
        return config_valid_name(v, 0) ? NULL
                                       : "a domain name (letters, digits and hyphens in "
                                         "dot-separated labels, no final dot; IDNs as xn--)";
    case V_LOCAL_DOMAIN:
        return config_valid_name(v[0] == '.' ? v + 1 : v, 1)
                   ? NULL
                   : "a domain name, or .domain for its subdomains (letters, digits and "
                     "hyphens in dot-separated labels)";
    case V_AUTHSERV_ID:
        return config_valid_name(v, 0) ? NULL
                                       : "an authserv-id (RFC 8601) written as a domain name, "
                                         "such as this host's name, e.g. mx.example.net";
    case V_TRUSTED_ID:
        return config_valid_name(v, 1) ? NULL
                                       : "an authserv-id (RFC 8601) written as a domain name, "
                                         "e.g. gw.example.net";
    case V_ADDRESS:
        return valid_address(v, 0) ? NULL : "a plain address local@domain (dot-atom local part)";
    case V_RECIPIENT:
        if (v[0] == '@')
            return config_valid_name(v + 1, 1) ? NULL : "local@domain or @domain";
        return valid_address(v, 1) ? NULL : "local@domain or @domain";
    case V_NETS: /* checked as a whole list in check_list */
        return NULL;
    case V_PATH:
        return valid_path(v) ? NULL : "an absolute path (no white space)";
    case V_TABLE:
        return valid_path(strncmp(v, "file:", 5) == 0 ? v + 5 : v)
                   ? NULL
                   : "an absolute path, or file:/path (no white space)";
    case V_SIGNING:
        if (strncmp(v, "refile:", 7) == 0)
            v += 7;
        else if (strncmp(v, "file:", 5) == 0)
            v += 5;
        return valid_path(v) ? NULL
                             : "an absolute path, file:/path or refile:/path (no white space)";
    case V_LISTEN:
    case V_LISTEN_INET: {
        struct listen_addr a;
        if (listen_parse(v, strlen(v), &a, NULL) < 0)
            return kind == V_LISTEN ? "inet:HOST:PORT, inet:[IPV6]:PORT, inet:PORT or unix:/PATH"
                                    : "inet:HOST:PORT, inet:[IPV6]:PORT or inet:PORT";
        if (kind == V_LISTEN_INET && a.kind == LISTEN_UNIX)
            return "inet:HOST:PORT, inet:[IPV6]:PORT or inet:PORT (Prometheus scrapes over "
                   "TCP, not a UNIX-domain socket)";
        return NULL;
    }
    case V_DNS_SERVER: {
        const char *p = v;
        size_t entries = 0;
        for (;;) {
            p += strspn(p, ", \t");
            size_t l = strcspn(p, ", \t");
            if (!l)
                break;
            if (!valid_dns_server(p, l))
                return "numeric resolver addresses, ADDR or ADDR@PORT (IPv4 or IPv6), "
                       "separated by commas or spaces";
            entries++;
            p += l;
        }
        return entries ? NULL
                       : "numeric resolver addresses, ADDR or ADDR@PORT (IPv4 or IPv6), "
                         "separated by commas or spaces";
    }
    case V_USER:
        return valid_user(v) ? NULL
                             : "a user name (letters, digits, \".\", \"_\", \"-\"; at most 32)";
    case V_SELECTOR:
        return config_valid_name(v, 0) ? NULL
                                       : "a DKIM selector (letters, digits and hyphens in "
                                         "dot-separated labels)";
    case V_KEYNAME:
        return all_graphic(v) && !strchr(v, '#') && strlen(v) < 128
                   ? NULL
                   : "a KeyTable name (printable, no white space or \"#\", at most 127 octets)";
    case V_TOKEN:
        return all_graphic(v) ? NULL : "printable ASCII without white space";
    case V_SRS_STORE: {
        struct srsstore_spec spec;
        return srsstore_parse(v, &spec, NULL) == 0
                   ? NULL
                   : "sqlite:/PATH, redis:unix:/PATH, redis:inet:HOST:PORT or "
                     "redis:inet:[IPV6]:PORT";
    }
    }
    return "a known type (internal error)";
}

/* A value as an error may show it: bounded, control characters as "?". */
static void shown(const char *v, char *out, size_t sz)
{
    size_t o = 0;
    for (; *v && o + 4 < sz && o < SHOWN_MAX; v++)
        out[o++] = ((unsigned char)*v < ' ' || (unsigned char)*v == 0x7f) ? '?' : *v;
    if (*v)
        out[o++] = '.', out[o++] = '.', out[o++] = '.';
    out[o] = '\0';
}

/* White space (or a list's comma) then "#", or "#" first: the admin meant
 * a comment. */
static int has_trailing_comment(const char *v)
{
    if (v[0] == '#')
        return 1;
    for (const char *p = v; *p; p++)
        if ((isspace((unsigned char)p[0]) || p[0] == ',') && p[1] == '#')
            return 1;
    return 0;
}

/* Does "name = value" as config_dump writes it fit in one logical line, so
 * that the dump loads back? Lists are written with ", " between entries. */
static int fits_dump(const struct key_def *k, const char *value, const struct fa_list *l)
{
    size_t n = strlen(k->name) + 3;
    if (l) {
        for (size_t i = 0; i < l->n; i++)
            n += strlen(l->v[i]) + (i ? 2 : 0);
    } else {
        n += strlen(value);
    }
    return n < CONFIG_MAX_LINE;
}

static int set_error(fa_err *err, const char *w, const char *sep, const struct key_def *k,
                     const char *value, const char *entry, const char *expected)
{
    char sv[SHOWN_MAX + 8], se[SHOWN_MAX + 8];
    shown(value, sv, sizeof(sv));
    if (!entry)
        return fa_err_set(err, "%s%s%s = \"%s\": expected %s", w, sep, k->name, sv, expected);
    shown(entry, se, sizeof(se));
    return fa_err_set(err, "%s%s%s: entry \"%s\": expected %s", w, sep, k->name, se, expected);
}

/* Every entry of a list value, by the key's kind. */
static int check_list(const struct key_def *k, const struct fa_list *l, const char *value,
                      const char *w, const char *sep, fa_err *err)
{
    if (k->kind == V_NETS) {
        struct nets *nets = malloc(sizeof(*nets));
        fa_err e;
        if (!nets)
            return fa_err_set(err, "out of memory");
        int rc = nets_parse(l->v, l->n, nets, &e);
        free(nets);
        if (rc < 0)
            return fa_err_set(err,
                              "%s%s%s; expected IPv4 or IPv6 addresses or networks "
                              "(ADDRESS/PREFIX), at most %d",
                              w, sep, e.msg, NETS_MAX);
        return 0;
    }
    for (size_t i = 0; i < l->n; i++) {
        const char *expected = check_value(k->kind, l->v[i]);
        if (expected)
            return set_error(err, w, sep, k, value, l->v[i], expected);
    }
    return 0;
}

static int remember_where(struct fa_config *cfg, const struct key_def *k, const char *where)
{
    char *copy = NULL;
    if (where && !(copy = strdup(where)))
        return fa_err_set(NULL, "out of memory");
    char **slot = &cfg->set_at[k - keys];
    free(*slot);
    *slot = copy;
    return 0;
}

int config_set(struct fa_config *cfg, const char *key, const char *value, const char *where,
               fa_err *err)
{
    const char *w = where ? where : "";
    const char *sep = where ? ": " : "";
    const struct key_def *k = find_key(key);
    if (!k)
        return fa_err_set(err, "%s%sunknown parameter \"%s\"", w, sep, key);
    void *field = (char *)cfg + k->offset;

    /* Before any type check, so the admin learns why, not that "#" is no domain. */
    if (has_trailing_comment(value))
        return fa_err_set(err,
                          "%s%s%s: trailing comments are not allowed in fwdauthd.conf (a \"#\" "
                          "after the value would be read as part of it): put the comment on "
                          "its own line above",
                          w, sep, key);
    switch (k->type) {
    case T_STRING: {
        const char *expected = NULL;
        if (value[0] || k->kind == V_USER)
            expected = check_value(k->kind, value);
        if (expected)
            return set_error(err, w, sep, k, value, NULL, expected);
        if (!fits_dump(k, value, NULL))
            return fa_err_set(err, "%s%s%s: value too long", w, sep, key);
        char *copy = strdup(value);
        if (!copy || remember_where(cfg, k, where) < 0) {
            free(copy);
            return fa_err_set(err, "out of memory");
        }
        free(*(char **)field);
        *(char **)field = copy;
        return 0;
    }
    case T_LIST: {
        struct fa_list l;
        if (strlist_split(value, &l, err) < 0)
            return -1;
        if (!fits_dump(k, value, &l)) {
            strlist_free(&l);
            return fa_err_set(err,
                              "%s%s%s: list too long (at most %d octets written as "
                              "\"name = a, b, ...\")",
                              w, sep, key, CONFIG_MAX_LINE - 1);
        }
        if (check_list(k, &l, value, w, sep, err) < 0 || remember_where(cfg, k, where) < 0) {
            strlist_free(&l);
            return -1;
        }
        strlist_free(field);
        *(struct fa_list *)field = l;
        return 0;
    }
    case T_UINT: {
        unsigned v;
        if (parse_uint(value, &v) < 0 || v < k->min || v > k->max) {
            char range[64];
            snprintf(range, sizeof(range), "a whole number from %u to %u", k->min, k->max);
            return set_error(err, w, sep, k, value, NULL, range);
        }
        if (remember_where(cfg, k, where) < 0)
            return fa_err_set(err, "out of memory");
        *(unsigned *)field = v;
        return 0;
    }
    case T_ENUM:
    case T_BOOL:
    case T_CHAR:
        for (int i = 0; k->choices[i]; i++) {
            if (strcasecmp(k->choices[i], value) == 0) {
                if (remember_where(cfg, k, where) < 0)
                    return fa_err_set(err, "out of memory");
                if (k->type == T_ENUM || k->type == T_BOOL)
                    *(int *)field = i;
                else
                    *(char *)field = k->choices[i][0];
                return 0;
            }
        }
        {
            char allowed[128] = "one of ";
            for (int i = 0; k->choices[i]; i++) {
                strncat(allowed, i ? ", " : "", sizeof(allowed) - strlen(allowed) - 1);
                strncat(allowed, k->choices[i], sizeof(allowed) - strlen(allowed) - 1);
            }
            return set_error(err, w, sep, k, value, NULL, allowed);
        }
    }
    return fa_err_set(err, "%s%sinternal error: bad type for %s", w, sep, key);
}

void config_init(struct fa_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < NKEYS; i++) {
        /* Defaults are compile-time constants that config_set accepts. */
        if (config_set(cfg, keys[i].name, keys[i].def, NULL, NULL) < 0)
            abort();
    }
}

void config_free(struct fa_config *cfg)
{
    for (size_t i = 0; i < NKEYS; i++) {
        void *field = (char *)cfg + keys[i].offset;
        if (keys[i].type == T_STRING)
            free(*(char **)field);
        else if (keys[i].type == T_LIST)
            strlist_free(field);
        free(cfg->set_at[i]);
    }
    free(cfg->file);
    memset(cfg, 0, sizeof(*cfg));
}

const char *config_where(const struct fa_config *cfg, const char *key)
{
    const struct key_def *k = find_key(key);
    if (!k)
        return "unknown parameter";
    const char *w = cfg->set_at[k - keys];
    return w ? w : "default";
}

int config_fail(const struct fa_config *cfg, const char *key, fa_err *err, const char *fmt, ...)
{
    if (!err)
        return -1;
    const struct key_def *k = find_key(key);
    const char *w = k ? cfg->set_at[k - keys] : NULL;
    if (!w)
        w = cfg->file;
    char msg[FA_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (w)
        return fa_err_set(err, "%s: %s", w, msg);
    return fa_err_set(err, "%s", msg);
}

/* ---- the dump (postconf -n / postconf) ---------------------------------- */

/* Key k's value as config_set reads it back; lists folded past DUMP_WIDTH. */
static void format_value(FILE *f, const struct fa_config *cfg, const struct key_def *k)
{
    const void *field = (const char *)cfg + k->offset;
    switch (k->type) {
    case T_STRING:
        fputs(*(char *const *)field, f);
        break;
    case T_LIST: {
        const struct fa_list *l = field;
        size_t col = strlen(k->name) + 3;
        for (size_t i = 0; i < l->n; i++) {
            size_t len = strlen(l->v[i]);
            if (i > 0) {
                fputc(',', f);
                col++;
                if (col + 1 + len > DUMP_WIDTH) {
                    fputs("\n   ", f); /* a continuation line: joined with one space */
                    col = 3;
                }
                fputc(' ', f);
                col++;
            }
            fputs(l->v[i], f);
            col += len;
        }
        break;
    }
    case T_UINT:
        fprintf(f, "%u", *(const unsigned *)field);
        break;
    case T_ENUM:
    case T_BOOL:
        fputs(k->choices[*(const int *)field], f);
        break;
    case T_CHAR:
        fputc(*(const char *)field, f);
        break;
    }
}

static char *value_text(const struct fa_config *cfg, const struct key_def *k)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    format_value(f, cfg, k);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

char *config_dump(const struct fa_config *cfg, int all)
{
    struct fa_config def;
    config_init(&def);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    int ok = f != NULL;
    for (size_t i = 0; ok && i < NKEYS; i++) {
        char *mine = value_text(cfg, &keys[i]);
        char *theirs = all ? NULL : value_text(&def, &keys[i]);
        ok = mine && (all || theirs);
        if (ok && (all || strcmp(mine, theirs) != 0))
            fprintf(f, "%s =%s%s\n", keys[i].name, mine[0] ? " " : "", mine);
        free(mine);
        free(theirs);
    }
    config_free(&def);
    if (f && fclose(f) != 0)
        ok = 0;
    if (!ok) {
        free(out);
        return NULL;
    }
    return out;
}

/* ---- the file syntax ---------------------------------------------------- */

/* Trim white space at both ends of [*s, *e). */
static void trim(const char **s, const char **e)
{
    while (*s < *e && isspace((unsigned char)**s))
        (*s)++;
    while (*e > *s && isspace((unsigned char)(*e)[-1]))
        (*e)--;
}

static int is_blank_or_comment(const char *s, const char *e)
{
    while (s < e && isspace((unsigned char)*s))
        s++;
    return s == e || *s == '#';
}

static int emit_logical_line(const char *name, int lineno, const char *line, size_t len,
                             config_line_fn fn, void *ctx, fa_err *err)
{
    char where[300];
    snprintf(where, sizeof(where), "%s:%d", name, lineno);
    const char *eq = memchr(line, '=', len);
    if (!eq)
        return fa_err_set(err, "%s: missing \"=\" in \"name = value\" line", where);
    const char *ks = line, *ke = eq, *vs = eq + 1, *ve = line + len;
    trim(&ks, &ke);
    trim(&vs, &ve);
    if (ks == ke)
        return fa_err_set(err, "%s: missing parameter name before \"=\"", where);
    for (const char *p = ks; p < ke; p++)
        if (!(isalnum((unsigned char)*p) || *p == '_'))
            return fa_err_set(err, "%s: bad parameter name", where);
    char key[128];
    if ((size_t)(ke - ks) >= sizeof(key))
        return fa_err_set(err, "%s: parameter name too long", where);
    memcpy(key, ks, (size_t)(ke - ks));
    key[ke - ks] = '\0';
    if (memchr(vs, '\0', (size_t)(ve - vs)))
        return fa_err_set(err, "%s: NUL byte in value", where);
    char *value = strndup(vs, (size_t)(ve - vs));
    if (!value)
        return fa_err_set(err, "out of memory");
    int rc = fn(ctx, key, value, where, err);
    free(value);
    return rc;
}

/* config_parse, going on after a bad logical line when report is set:
 * each problem goes to report, the first stays in err. */
static int parse_lines(const char *name, const char *buf, size_t len, config_line_fn fn, void *ctx,
                       config_report_fn report, void *rctx, fa_err *err)
{
    /* Logical lines are assembled in a bounded buffer: continuation lines are
     * joined with one space, as Postfix does. */
    char *logical = malloc(CONFIG_MAX_LINE);
    if (!logical)
        return fa_err_set(err, "out of memory");
    size_t llen = 0;
    /* have: a logical line is being assembled; broken: the current one
     * was refused (too long), its continuation lines are dropped. */
    int have = 0, broken = 0, start_line = 0, lineno = 0, problems = 0;
    fa_err e = {{0}};
    const char *p = buf, *end = buf + len;

/* One problem: reported and counted (report), or the end of the parse. */
#define PROBLEM(call)                                                                              \
    do {                                                                                           \
        if ((call) < 0) {                                                                          \
            if (problems++ == 0 && err)                                                            \
                *err = e;                                                                          \
            if (!report)                                                                           \
                goto out;                                                                          \
            report(rctx, e.msg);                                                                   \
        }                                                                                          \
    } while (0)

    for (; p < end; lineno++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *s = p, *le = nl ? nl : end, *e_ = le;
        p = nl ? nl + 1 : end;
        if (is_blank_or_comment(s, le))
            continue;
        if (isspace((unsigned char)*s)) {
            if (broken)
                continue;
            if (!have) {
                PROBLEM(fa_err_set(&e, "%s:%d: continuation line without a parameter before it",
                                   name, lineno + 1));
                continue;
            }
            trim(&s, &e_);
            if (llen + 1 + (size_t)(e_ - s) >= CONFIG_MAX_LINE) {
                have = 0, broken = 1;
                PROBLEM(fa_err_set(&e, "%s:%d: logical line too long", name, lineno + 1));
                continue;
            }
            logical[llen++] = ' ';
        } else {
            if (have) {
                have = 0;
                PROBLEM(emit_logical_line(name, start_line, logical, llen, fn, ctx, &e));
            }
            broken = 0;
            start_line = lineno + 1;
            llen = 0;
            trim(&s, &e_);
            if ((size_t)(e_ - s) >= CONFIG_MAX_LINE) {
                broken = 1;
                PROBLEM(fa_err_set(&e, "%s:%d: logical line too long", name, lineno + 1));
                continue;
            }
            have = 1;
        }
        memcpy(logical + llen, s, (size_t)(e_ - s));
        llen += (size_t)(e_ - s);
    }
    if (have)
        PROBLEM(emit_logical_line(name, start_line, logical, llen, fn, ctx, &e));
#undef PROBLEM
out:
    free(logical);
    return problems ? -1 : 0;
}

int config_parse(const char *name, const char *buf, size_t len, config_line_fn fn, void *ctx,
                 fa_err *err)
{
    return parse_lines(name, buf, len, fn, ctx, NULL, NULL, err);
}

static int set_from_file(void *ctx, const char *key, const char *value, const char *where,
                         fa_err *err)
{
    return config_set(ctx, key, value, where, err);
}

/* The file loaded, for config_fail's errors about keys it left unset. */
static int remember_file(struct fa_config *cfg, const char *name, fa_err *err)
{
    char *copy = strdup(name);
    if (!copy)
        return fa_err_set(err, "out of memory");
    free(cfg->file);
    cfg->file = copy;
    return 0;
}

static int load_buf(struct fa_config *cfg, const char *name, const char *buf, size_t len,
                    config_report_fn report, void *rctx, fa_err *err)
{
    if (remember_file(cfg, name, err) < 0)
        return -1;
    return parse_lines(name, buf, len, set_from_file, cfg, report, rctx, err);
}

int config_load_buf(struct fa_config *cfg, const char *name, const char *buf, size_t len,
                    fa_err *err)
{
    return load_buf(cfg, name, buf, len, NULL, NULL, err);
}

int config_load_buf_each(struct fa_config *cfg, const char *name, const char *buf, size_t len,
                         config_report_fn report, void *ctx, fa_err *err)
{
    return load_buf(cfg, name, buf, len, report, ctx, err);
}

int config_load_file_each(struct fa_config *cfg, const char *path, config_report_fn report,
                          void *ctx, fa_err *err)
{
    char *buf = NULL;
    size_t size = 0;
    if (file_read(path, CONFIG_MAX_FILE, 0, 0, &buf, &size, err) < 0) {
        if (report)
            report(ctx, err ? err->msg : path);
        return -1;
    }
    int rc = load_buf(cfg, path, buf, size, report, ctx, err);
    free(buf);
    return rc;
}

int config_load_file(struct fa_config *cfg, const char *path, fa_err *err)
{
    return config_load_file_each(cfg, path, NULL, NULL, err);
}

int config_check_srs(const struct fa_config *cfg, fa_err *err)
{
    if (!cfg->srs_domain[0])
        return config_fail(cfg, "srs_domain", err, "srs_domain is not set");
    if (!cfg->srs_secrets[0])
        return config_fail(cfg, "srs_secrets", err,
                           "srs_secrets is not set (a file with one secret per line)");
    if (cfg->srs_hash_minimum > cfg->srs_hash_length)
        return config_fail(
            cfg, "srs_hash_minimum", err, "srs_hash_minimum (%u) exceeds srs_hash_length (%u, %s)",
            cfg->srs_hash_minimum, cfg->srs_hash_length, config_where(cfg, "srs_hash_length"));
    /* hybrid is the default and, with no store, is stateless (so that
     * fwdauthd -a's dump loads back); database cannot work without one. */
    if (cfg->srs_mode == SRS_MODE_DATABASE && !cfg->srs_store[0])
        return config_fail(cfg, "srs_mode", err,
                           "srs_mode = %s needs srs_store (where senders that do not fit are "
                           "kept)",
                           srs_modes[cfg->srs_mode]);
    if (cfg->srs_store[0] && cfg->srs_hash_length > SRS_ALIAS_HASH_MAX)
        return config_fail(cfg, "srs_hash_length", err,
                           "srs_hash_length (%u) may be at most %d with srs_store (%s): the "
                           "aliases of stored senders must fit in 64 octets",
                           cfg->srs_hash_length, SRS_ALIAS_HASH_MAX,
                           config_where(cfg, "srs_store"));
    if (cfg->srs_store_password[0] && strncmp(cfg->srs_store, "redis:", 6) != 0)
        return config_fail(cfg, "srs_store_password", err,
                           "srs_store_password is for a redis srs_store only");
    return 0;
}
