/* config - Postfix-style settings for fwdauthd and fwdauth; see config.h. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A config file larger than this is a mistake, not a configuration. */
#define CONFIG_MAX_FILE (1024 * 1024)
/* Longest logical line (after joining continuation lines). */
#define CONFIG_MAX_LINE 65536

enum key_type { T_STRING, T_LIST, T_UINT, T_ENUM, T_CHAR, T_BOOL };

struct key_def {
    const char *name;
    enum key_type type;
    size_t offset;
    const char *def;            /* default, parsed like a file value */
    unsigned min, max;          /* T_UINT */
    const char *const *choices; /* T_ENUM (index = value), T_CHAR (one-char strings) */
};

static const char *const log_levels[] = {"error", "warning", "info", "debug", NULL};
static const char *const alphabets[] = {"base64url", "base64", NULL};
static const char *const separators[] = {"=", "+", "-", NULL};
static const char *const booleans[] = {"no", "yes", NULL};
static const char *const enforce_modes[] = {"off", "tag", "quarantine", "reject", NULL};
static const char *const rewrite_modes[] = {"off", "reject", "reject-and-quarantine", "always",
                                            NULL};
static const char *const fwd_failures[] = {"reject", "hold", NULL};
static const char *const fwd_policies[] = {"reject", "reject-and-quarantine", NULL};
static const char *const unreadable_modes[] = {"reject", "tempfail", "accept-unsigned", NULL};
static const char *const dmarc_modes[] = {"rfc7489", "rfc9989", NULL}; /* enum dmarc_mode */

#define OFF(f) offsetof(struct fa_config, f)
static const struct key_def keys[] = {
    {"srs_domain", T_STRING, OFF(srs_domain), "", 0, 0, NULL},
    {"srs_secrets", T_STRING, OFF(srs_secrets), "", 0, 0, NULL},
    {"local_domains", T_LIST, OFF(local_domains), "", 0, 0, NULL},
    {"srs_hash_length", T_UINT, OFF(srs_hash_length), "4", 1, 27, NULL},
    {"srs_hash_minimum", T_UINT, OFF(srs_hash_minimum), "0", 0, 27, NULL},
    {"srs_max_age", T_UINT, OFF(srs_max_age), "21", 1, 1023, NULL},
    {"srs_separator", T_CHAR, OFF(srs_separator), "=", 0, 0, separators},
    {"srs_hash_alphabet", T_ENUM, OFF(srs_hash_alphabet), "base64url", 0, 0, alphabets},
    {"socketmap_listen", T_STRING, OFF(socketmap_listen), "", 0, 0, NULL},
    {"tcp_forward_listen", T_STRING, OFF(tcp_forward_listen), "", 0, 0, NULL},
    {"tcp_reverse_listen", T_STRING, OFF(tcp_reverse_listen), "", 0, 0, NULL},
    {"milter_listen", T_STRING, OFF(milter_listen), "", 0, 0, NULL},
    {"metrics_listen", T_STRING, OFF(metrics_listen), "", 0, 0, NULL},
    {"authserv_id", T_STRING, OFF(authserv_id), "", 0, 0, NULL},
    {"milter_timeout", T_UINT, OFF(milter_timeout), "300", 1, 3600, NULL},
    {"dkim_key_table", T_STRING, OFF(dkim_key_table), "", 0, 0, NULL},
    {"dkim_signing_table", T_STRING, OFF(dkim_signing_table), "", 0, 0, NULL},
    {"internal_hosts", T_LIST, OFF(internal_hosts), "127.0.0.0/8, ::1", 0, 0, NULL},
    {"originating_daemon_names", T_LIST, OFF(originating_daemon_names), "ORIGINATING", 0, 0, NULL},
    {"forward_recipients", T_LIST, OFF(forward_recipients), "", 0, 0, NULL},
    {"forward_signing_key", T_STRING, OFF(forward_signing_key), "", 0, 0, NULL},
    {"srs_forwarded_mail", T_BOOL, OFF(srs_forwarded_mail), "yes", 0, 0, booleans},
    {"dmarc_enforce", T_ENUM, OFF(dmarc_enforce), "tag", 0, 0, enforce_modes},
    {"from_rewrite", T_ENUM, OFF(from_rewrite), "off", 0, 0, rewrite_modes},
    {"from_rewrite_address", T_STRING, OFF(from_rewrite_address), "", 0, 0, NULL},
    {"arc_domain", T_STRING, OFF(arc_domain), "", 0, 0, NULL},
    {"arc_selector", T_STRING, OFF(arc_selector), "", 0, 0, NULL},
    {"arc_key", T_STRING, OFF(arc_key), "", 0, 0, NULL},
    {"trusted_authserv_ids", T_LIST, OFF(trusted_authserv_ids), "", 0, 0, NULL},
    {"forward_dmarc_failure", T_ENUM, OFF(forward_dmarc_failure), "reject", 0, 0, fwd_failures},
    {"forward_dmarc_policies", T_ENUM, OFF(forward_dmarc_policies), "reject-and-quarantine", 0, 0,
     fwd_policies},
    {"from_unreadable", T_ENUM, OFF(from_unreadable), "reject", 0, 0, unreadable_modes},
    {"user", T_STRING, OFF(user), "nobody", 0, 0, NULL},
    {"chroot", T_STRING, OFF(chroot), "", 0, 0, NULL},
    {"connection_limit", T_UINT, OFF(connection_limit), "500", 1, 10000, NULL},
    {"request_timeout", T_UINT, OFF(request_timeout), "100", 1, 3600, NULL},
    {"idle_timeout", T_UINT, OFF(idle_timeout), "300", 1, 86400, NULL},
    {"log_level", T_ENUM, OFF(log_level), "info", 0, 0, log_levels},
    {"dns_zone_file", T_STRING, OFF(dns_zone_file), "", 0, 0, NULL},
    {"dns_server", T_STRING, OFF(dns_server), "", 0, 0, NULL},
    {"dns_timeout", T_UINT, OFF(dns_timeout), "5", 1, 60, NULL},
    {"dmarc_mode", T_ENUM, OFF(dmarc_mode), "rfc7489", 0, 0, dmarc_modes},
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

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

void config_list_free(struct fa_list *list)
{
    for (size_t i = 0; i < list->n; i++)
        free(list->v[i]);
    free(list->v);
    list->v = NULL;
    list->n = 0;
}

static int is_list_sep(int c)
{
    return c == ',' || isspace(c);
}

int config_split_list(const char *value, struct fa_list *out, fa_err *err)
{
    struct fa_list l = {NULL, 0};
    const char *p = value;
    for (;;) {
        while (*p && is_list_sep((unsigned char)*p))
            p++;
        if (!*p)
            break;
        const char *start = p;
        while (*p && !is_list_sep((unsigned char)*p))
            p++;
        char **nv = realloc(l.v, (l.n + 1) * sizeof(*nv));
        char *item = strndup(start, (size_t)(p - start));
        if (!nv || !item) {
            free(item);
            if (nv)
                l.v = nv;
            config_list_free(&l);
            return fa_err_set(err, "out of memory");
        }
        l.v = nv;
        l.v[l.n++] = item;
    }
    *out = l;
    return 0;
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

int config_set(struct fa_config *cfg, const char *key, const char *value, const char *where,
               fa_err *err)
{
    const char *w = where ? where : "";
    const char *sep = where ? ": " : "";
    const struct key_def *k = find_key(key);
    if (!k)
        return fa_err_set(err, "%s%sunknown parameter \"%s\"", w, sep, key);
    void *field = (char *)cfg + k->offset;

    switch (k->type) {
    case T_STRING: {
        char *copy = strdup(value);
        if (!copy)
            return fa_err_set(err, "out of memory");
        free(*(char **)field);
        *(char **)field = copy;
        return 0;
    }
    case T_LIST: {
        struct fa_list l;
        if (config_split_list(value, &l, err) < 0)
            return -1;
        config_list_free(field);
        *(struct fa_list *)field = l;
        return 0;
    }
    case T_UINT: {
        unsigned v;
        if (parse_uint(value, &v) < 0 || v < k->min || v > k->max)
            return fa_err_set(err, "%s%s%s = \"%s\": expected a whole number from %u to %u", w, sep,
                              key, value, k->min, k->max);
        *(unsigned *)field = v;
        return 0;
    }
    case T_ENUM:
    case T_BOOL:
    case T_CHAR:
        for (int i = 0; k->choices[i]; i++) {
            if (strcasecmp(k->choices[i], value) == 0) {
                if (k->type == T_ENUM || k->type == T_BOOL)
                    *(int *)field = i;
                else
                    *(char *)field = k->choices[i][0];
                return 0;
            }
        }
        {
            char allowed[128] = "";
            for (int i = 0; k->choices[i]; i++) {
                strncat(allowed, i ? ", " : "", sizeof(allowed) - strlen(allowed) - 1);
                strncat(allowed, k->choices[i], sizeof(allowed) - strlen(allowed) - 1);
            }
            return fa_err_set(err, "%s%s%s = \"%s\": expected one of %s", w, sep, key, value,
                              allowed);
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
            config_list_free(field);
    }
    memset(cfg, 0, sizeof(*cfg));
}

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
    char *value = strndup(vs, (size_t)(ve - vs));
    if (!value)
        return fa_err_set(err, "out of memory");
    if (memchr(vs, '\0', (size_t)(ve - vs))) {
        free(value);
        return fa_err_set(err, "%s: NUL byte in value", where);
    }
    int rc = fn(ctx, key, value, where, err);
    free(value);
    return rc;
}

int config_parse(const char *name, const char *buf, size_t len, config_line_fn fn, void *ctx,
                 fa_err *err)
{
    /* Logical lines are assembled in a bounded buffer: continuation lines are
     * joined with one space, as Postfix does. */
    char *logical = malloc(CONFIG_MAX_LINE);
    if (!logical)
        return fa_err_set(err, "out of memory");
    size_t llen = 0;
    int have = 0, start_line = 0, lineno = 0, rc = 0;
    const char *p = buf, *end = buf + len;

    while (p < end && rc == 0) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        lineno++;
        if (!is_blank_or_comment(p, le)) {
            const char *s = p, *e = le;
            if (isspace((unsigned char)*p)) {
                if (!have) {
                    rc = fa_err_set(err, "%s:%d: continuation line without a parameter before it",
                                    name, lineno);
                    break;
                }
                trim(&s, &e);
                if (llen + 1 + (size_t)(e - s) >= CONFIG_MAX_LINE) {
                    rc = fa_err_set(err, "%s:%d: logical line too long", name, lineno);
                    break;
                }
                logical[llen++] = ' ';
            } else {
                if (have)
                    rc = emit_logical_line(name, start_line, logical, llen, fn, ctx, err);
                if (rc)
                    break;
                have = 1;
                start_line = lineno;
                llen = 0;
                trim(&s, &e);
                if ((size_t)(e - s) >= CONFIG_MAX_LINE) {
                    rc = fa_err_set(err, "%s:%d: logical line too long", name, lineno);
                    break;
                }
            }
            memcpy(logical + llen, s, (size_t)(e - s));
            llen += (size_t)(e - s);
        }
        p = nl ? nl + 1 : end;
    }
    if (rc == 0 && have)
        rc = emit_logical_line(name, start_line, logical, llen, fn, ctx, err);
    free(logical);
    return rc;
}

static int set_from_file(void *ctx, const char *key, const char *value, const char *where,
                         fa_err *err)
{
    return config_set(ctx, key, value, where, err);
}

int config_load_buf(struct fa_config *cfg, const char *name, const char *buf, size_t len,
                    fa_err *err)
{
    return config_parse(name, buf, len, set_from_file, cfg, err);
}

int config_load_file(struct fa_config *cfg, const char *path, fa_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fa_err_errno(err, errno, "cannot open %s", path);
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > CONFIG_MAX_FILE) {
        close(fd);
        return fa_err_set(err, "%s: not a regular file of at most %d bytes", path, CONFIG_MAX_FILE);
    }
    size_t size = (size_t)st.st_size;
    char *buf = malloc(size ? size : 1);
    if (!buf) {
        close(fd);
        return fa_err_set(err, "out of memory");
    }
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? errno : EIO;
            free(buf);
            close(fd);
            return fa_err_errno(err, e, "cannot read %s", path);
        }
        got += (size_t)n;
    }
    close(fd);
    int rc = config_load_buf(cfg, path, buf, size, err);
    free(buf);
    return rc;
}

int config_check_srs(const struct fa_config *cfg, fa_err *err)
{
    if (!cfg->srs_domain[0])
        return fa_err_set(err, "srs_domain is not set");
    if (strchr(cfg->srs_domain, '@') || strchr(cfg->srs_domain, ' '))
        return fa_err_set(err, "srs_domain = \"%s\": expected a domain name", cfg->srs_domain);
    if (!cfg->srs_secrets[0])
        return fa_err_set(err, "srs_secrets is not set (a file with one secret per line)");
    if (cfg->srs_hash_minimum > cfg->srs_hash_length)
        return fa_err_set(err, "srs_hash_minimum (%u) exceeds srs_hash_length (%u)",
                          cfg->srs_hash_minimum, cfg->srs_hash_length);
    return 0;
}
