/* srs_config - an SRS engine from fwdauthd.conf; see srs_config.h. */
#include "srs_config.h"

#include "fileread.h"
#include "secfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAP_FIELD_MAX 1024 /* a domain or a path, with room */

static char *copy_field(const char *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

void srs_domain_map_free(struct srs_domain_map_entry *e, size_t n)
{
    for (size_t i = 0; e && i < n; i++) {
        free(e[i].fwd);
        free(e[i].srs_domain);
        free(e[i].secrets);
    }
    free(e);
}

/* One field's check: NULL when good, else what was expected. */
static const char *map_field_bad(int which, const char *v)
{
    switch (which) {
    case 0:
        return config_valid_name(v[0] == '.' ? v + 1 : v, 0)
                   ? NULL
                   : "a forwarding domain: a domain name, or .domain for its subdomains";
    case 1:
        return config_valid_name(v, 0) && strcmp(v, "1") != 0 ? NULL
                                                              : "an SRS domain: a domain name";
    default:
        return v[0] == '/' ? NULL : "a secrets file: an absolute path";
    }
}

int srs_domain_map_parse(const char *name, const char *buf, size_t len,
                         struct srs_domain_map_entry **out, size_t *n, fa_err *err)
{
    *out = NULL;
    *n = 0;
    size_t cap = 0;
    unsigned line = 0;
    for (size_t pos = 0; pos < len;) {
        const char *l = buf + pos;
        const char *nl = memchr(l, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - l) : len - pos;
        pos += ll + (nl ? 1 : 0);
        line++;
        if (ll > 0 && l[ll - 1] == '\r')
            ll--;
        size_t i = 0;
        while (i < ll && (l[i] == ' ' || l[i] == '\t'))
            i++;
        if (i == ll || l[i] == '#')
            continue;
        char *field[3] = {NULL, NULL, NULL};
        int nf = 0;
        const char *bad = NULL;
        while (i < ll && !bad) {
            size_t start = i;
            while (i < ll && l[i] != ' ' && l[i] != '\t')
                i++;
            size_t fl = i - start;
            while (i < ll && (l[i] == ' ' || l[i] == '\t'))
                i++;
            if (nf == 3) {
                bad = "at most three fields: FORWARDING-DOMAIN SRS-DOMAIN [SECRETS-FILE]";
                break;
            }
            for (size_t k = start; k < start + fl && !bad; k++)
                if ((unsigned char)l[k] < 0x21 || (unsigned char)l[k] > 0x7e)
                    bad = "printable ASCII fields (write internationalized names as A-labels)";
            if (!bad && fl > MAP_FIELD_MAX)
                bad = "a field of at most 1024 octets";
            if (bad)
                break;
            if (!(field[nf] = copy_field(l + start, fl))) {
                bad = "memory (out of memory)";
                break;
            }
            bad = map_field_bad(nf, field[nf]);
            nf++;
        }
        if (!bad && nf < 2)
            bad = "FORWARDING-DOMAIN SRS-DOMAIN [SECRETS-FILE]";
        if (!bad && *n >= SRS_FORWARDING_MAX)
            bad = "at most 10000 forwarding domains";
        if (!bad && *n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            struct srs_domain_map_entry *ne = realloc(*out, nc * sizeof(*ne));
            if (!ne)
                bad = "memory (out of memory)";
            else {
                *out = ne;
                cap = nc;
            }
        }
        if (bad) {
            for (int k = 0; k < 3; k++)
                free(field[k]);
            srs_domain_map_free(*out, *n);
            *out = NULL;
            *n = 0;
            return fa_err_set(err, "%s:%u: expected %s", name, line, bad);
        }
        (*out)[*n] = (struct srs_domain_map_entry){field[0], field[1], field[2], line};
        (*n)++;
    }
    return 0;
}

/* A secrets file: its lines point into *data (secfile_free it). */
struct secrets {
    char *path;
    char *data;
    size_t len;
    const char *v[SRS_SECRETS_MAX];
    size_t lens[SRS_SECRETS_MAX];
    size_t n;
};

static void secrets_free(struct secrets *s)
{
    if (s->data)
        secfile_free(s->data, s->len);
    s->data = NULL;
}

/* Read path as a secrets file; the message names the file, never a secret. */
static int secrets_read(const char *path, uid_t owner, struct secrets *s, fa_err *err)
{
    memset(s, 0, sizeof(*s));
    fa_err ferr;
    if (secfile_read(path, owner, &s->data, &s->len, &ferr) < 0)
        return fa_err_set(err, "%s", ferr.msg);
    int got = secfile_lines(s->data, s->len, s->v, s->lens, SRS_SECRETS_MAX);
    if (got < 0) {
        secrets_free(s);
        return fa_err_set(err, "%s: more than %d secrets", path, SRS_SECRETS_MAX);
    }
    if (got == 0) {
        secrets_free(s);
        return fa_err_set(err, "%s: no secret in the file", path);
    }
    s->n = (size_t)got;
    return 0;
}

/* Every line of srs_domain_map into s, each secrets file read once. */
static int load_domain_map(const struct fa_config *cfg, uid_t owner, srs *s, fa_err *err)
{
    char *buf;
    size_t len;
    fa_err e;
    if (file_read(cfg->srs_domain_map, SRS_DOMAIN_MAP_MAX, 0, 0, &buf, &len, &e) < 0)
        return config_fail(cfg, "srs_domain_map", err, "srs_domain_map: %s", e.msg);
    struct srs_domain_map_entry *map;
    size_t n;
    int rc = srs_domain_map_parse(cfg->srs_domain_map, buf, len, &map, &n, &e);
    file_free(buf, len);
    if (rc < 0)
        return config_fail(cfg, "srs_domain_map", err, "srs_domain_map: %s", e.msg);
    struct secrets *files = NULL;
    size_t nfiles = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct secrets *sec = NULL;
        if (map[i].secrets) {
            for (size_t k = 0; k < nfiles && !sec; k++)
                if (strcmp(files[k].path, map[i].secrets) == 0)
                    sec = &files[k];
            if (!sec) {
                struct secrets *nf = realloc(files, (nfiles + 1) * sizeof(*nf));
                if (!nf) {
                    rc = config_fail(cfg, "srs_domain_map", err, "out of memory");
                    break;
                }
                files = nf;
                if (secrets_read(map[i].secrets, owner, &files[nfiles], &e) < 0) {
                    rc = config_fail(cfg, "srs_domain_map", err, "srs_domain_map: %s:%u: %s",
                                     cfg->srs_domain_map, map[i].line, e.msg);
                    break;
                }
                files[nfiles].path = map[i].secrets;
                sec = &files[nfiles++];
            }
        }
        if (srs_add_domain(s, map[i].fwd, map[i].srs_domain, sec ? sec->v : NULL,
                           sec ? sec->lens : NULL, sec ? sec->n : 0, &e) < 0)
            rc = config_fail(cfg, "srs_domain_map", err, "srs_domain_map: %s:%u: %s",
                             cfg->srs_domain_map, map[i].line, e.msg);
    }
    for (size_t k = 0; k < nfiles; k++)
        secrets_free(&files[k]);
    free(files);
    srs_domain_map_free(map, n);
    return rc;
}

/* The store srs_store names, with the password file's first line. */
static struct srs_store *open_store(const struct fa_config *cfg, uid_t owner,
                                    srsstore_observe_fn observe, void *arg, fa_err *err)
{
    struct srsstore_opts o = {
        .timeout_ms = cfg->srs_store_timeout_ms,
        .observe = observe,
        .observe_arg = arg,
    };
    struct secrets pw = {0};
    fa_err e;
    if (cfg->srs_store_password[0]) {
        if (secrets_read(cfg->srs_store_password, owner, &pw, &e) < 0) {
            config_fail(cfg, "srs_store_password", err, "srs_store_password: %s", e.msg);
            return NULL;
        }
        o.password = pw.v[0];
        o.password_len = pw.lens[0];
    }
    struct srs_store *st = srsstore_open(cfg->srs_store, &o, &e);
    secrets_free(&pw);
    if (!st)
        config_fail(cfg, "srs_store", err, "srs_store = %s: %s", cfg->srs_store, e.msg);
    return st;
}

srs *srs_from_config_observed(const struct fa_config *cfg, uid_t secrets_owner,
                              srsstore_observe_fn observe, void *observe_arg, fa_err *err)
{
    if (config_check_srs(cfg, err) < 0)
        return NULL;
    struct secrets sec;
    fa_err e;
    if (secrets_read(cfg->srs_secrets, secrets_owner, &sec, &e) < 0) {
        config_fail(cfg, "srs_secrets", err, "srs_secrets: %s", e.msg);
        return NULL;
    }
    struct srs_store *st = NULL;
    if (cfg->srs_store[0] && !(st = open_store(cfg, secrets_owner, observe, observe_arg, err))) {
        secrets_free(&sec);
        return NULL;
    }
    struct srs_params p = {
        .domain = cfg->srs_domain,
        .local_domains = cfg->local_domains.v,
        .n_local_domains = cfg->local_domains.n,
        .hash_length = cfg->srs_hash_length,
        .hash_minimum = cfg->srs_hash_minimum,
        .max_age = cfg->srs_max_age,
        .separator = cfg->srs_separator,
        .alphabet = cfg->srs_hash_alphabet,
        /* hybrid without a store is stateless (config_check_srs refuses
         * database without one) */
        .mode = st ? cfg->srs_mode : SRS_MODE_STATELESS,
        .store = st,
    };
    srs *s = srs_new(&p, sec.v, sec.lens, sec.n, &e); /* owns st from here */
    secrets_free(&sec);
    if (!s) {
        config_fail(cfg, "srs_domain", err, "%s", e.msg);
        return NULL;
    }
    if (cfg->srs_domain_map[0] && load_domain_map(cfg, secrets_owner, s, err) < 0) {
        srs_free(s);
        return NULL;
    }
    return s;
}

srs *srs_from_config(const struct fa_config *cfg, uid_t secrets_owner, fa_err *err)
{
    return srs_from_config_observed(cfg, secrets_owner, NULL, NULL, err);
}
