/* keytable - OpenDKIM-compatible KeyTable and SigningTable; see keytable.h. */
#include "keytable.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define KT_FILE_MAX (4 * 1024 * 1024)

struct kt_key {
    char name[128];
    char domain[256];
    char selector[128];
    size_t loaded; /* index into keytable.loaded */
};

struct kt_loaded {
    char path[1024];
    struct fa_key *key;
};

struct st_entry {
    char pattern[384];
    size_t key;
    char signer[320];
};

struct keytable {
    struct kt_key *keys;
    size_t nkeys;
    struct kt_loaded *loaded;
    size_t nloaded;
    struct st_entry *st;
    size_t nst;
    int regex;
};

void keytable_free(struct keytable *kt)
{
    if (!kt)
        return;
    for (size_t i = 0; i < kt->nloaded; i++)
        key_free(kt->loaded[i].key);
    free(kt->loaded);
    free(kt->keys);
    free(kt->st);
    free(kt);
}

/* Split a line into at most max white-space separated fields (in place). */
static size_t split_fields(char *line, char **f, size_t max)
{
    size_t n = 0;
    char *p = line;
    while (*p) {
        while (*p && isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        if (n == max)
            return max + 1;
        f[n++] = p;
        while (*p && !isspace((unsigned char)*p))
            p++;
        if (*p)
            *p++ = '\0';
    }
    return n;
}

static int copy_field(char *dst, size_t sz, const char *src)
{
    size_t n = strlen(src);
    if (n >= sz)
        return -1;
    memcpy(dst, src, n + 1);
    return 0;
}

typedef int (*line_fn)(struct keytable *kt, char **f, size_t nf, const char *where,
                       const struct key_loader *ld, fa_err *err);

static int each_line(struct keytable *kt, const char *name, const char *text, size_t len,
                     line_fn fn, const struct key_loader *ld, fa_err *err)
{
    size_t lineno = 0;
    for (size_t off = 0; off < len;) {
        const char *nl = memchr(text + off, '\n', len - off);
        size_t l = nl ? (size_t)(nl - (text + off)) : len - off;
        lineno++;
        char line[2048];
        if (l >= sizeof(line))
            return fa_err_set(err, "%s:%zu: line too long", name, lineno);
        memcpy(line, text + off, l);
        line[l] = '\0';
        off += l + (nl ? 1 : 0);
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *f[4];
        size_t nf = split_fields(line, f, 3);
        if (nf == 0)
            continue;
        char where[600];
        snprintf(where, sizeof(where), "%s:%zu", name, lineno);
        if (nf > 3)
            return fa_err_set(err, "%s: too many fields", where);
        if (fn(kt, f, nf, where, ld, err) < 0)
            return -1;
    }
    return 0;
}

static int key_line(struct keytable *kt, char **f, size_t nf, const char *where,
                    const struct key_loader *ld, fa_err *err)
{
    if (nf != 2)
        return fa_err_set(err, "%s: expected \"NAME DOMAIN:SELECTOR:KEYFILE\"", where);
    char *c1 = strchr(f[1], ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c1 || !c2 || c1 == f[1] || c2 == c1 + 1 || !c2[1])
        return fa_err_set(err, "%s: expected DOMAIN:SELECTOR:KEYFILE", where);
    *c1 = *c2 = '\0';
    const char *path = c2 + 1;
    if (!(path[0] == '/' || strncmp(path, "./", 2) == 0 || strncmp(path, "../", 3) == 0))
        return fa_err_set(err, "%s: the key must be a file path (inline keys are not supported)",
                          where);
    struct kt_key *nk = realloc(kt->keys, (kt->nkeys + 1) * sizeof(*nk));
    if (!nk)
        return fa_err_set(err, "out of memory");
    kt->keys = nk;
    struct kt_key *k = &kt->keys[kt->nkeys];
    if (copy_field(k->name, sizeof(k->name), f[0]) < 0 ||
        copy_field(k->domain, sizeof(k->domain), f[1]) < 0 ||
        copy_field(k->selector, sizeof(k->selector), c1 + 1) < 0)
        return fa_err_set(err, "%s: field too long", where);
    for (size_t i = 0; i < kt->nkeys; i++)
        if (strcmp(kt->keys[i].name, k->name) == 0)
            return fa_err_set(err, "%s: key name \"%s\" defined twice", where, k->name);
    /* Load each key file once. */
    size_t li = 0;
    while (li < kt->nloaded && strcmp(kt->loaded[li].path, path) != 0)
        li++;
    if (li == kt->nloaded) {
        struct kt_loaded *nl = realloc(kt->loaded, (kt->nloaded + 1) * sizeof(*nl));
        if (!nl)
            return fa_err_set(err, "out of memory");
        kt->loaded = nl;
        if (copy_field(nl[li].path, sizeof(nl[li].path), path) < 0)
            return fa_err_set(err, "%s: key path too long", where);
        fa_err kerr;
        nl[li].key = ld->load(ld->arg, path, &kerr);
        if (!nl[li].key)
            return fa_err_set(err, "%s: %s", where, kerr.msg);
        kt->nloaded++;
    }
    k->loaded = li;
    kt->nkeys++;
    return 0;
}

static int sign_line(struct keytable *kt, char **f, size_t nf, const char *where,
                     const struct key_loader *ld, fa_err *err)
{
    (void)ld;
    if (nf < 2)
        return fa_err_set(err, "%s: expected \"PATTERN KEYNAME [SIGNER]\"", where);
    size_t k = 0;
    while (k < kt->nkeys && strcmp(kt->keys[k].name, f[1]) != 0)
        k++;
    if (k == kt->nkeys)
        return fa_err_set(err, "%s: key \"%s\" is not in the KeyTable", where, f[1]);
    struct st_entry *ns = realloc(kt->st, (kt->nst + 1) * sizeof(*ns));
    if (!ns)
        return fa_err_set(err, "out of memory");
    kt->st = ns;
    struct st_entry *e = &kt->st[kt->nst];
    e->key = k;
    e->signer[0] = '\0';
    if (copy_field(e->pattern, sizeof(e->pattern), f[0]) < 0 ||
        (nf == 3 && copy_field(e->signer, sizeof(e->signer), f[2]) < 0))
        return fa_err_set(err, "%s: field too long", where);
    kt->nst++;
    return 0;
}

/* The loader of keytable_load and keytable_parse: the file, read here. */
static struct fa_key *load_local(void *arg, const char *path, fa_err *err)
{
    return key_load_private(path, *(const uid_t *)arg, err);
}

struct keytable *keytable_parse(const char *kt_name, const char *kt_text, size_t kt_len,
                                const char *st_name, const char *st_text, size_t st_len,
                                int st_is_regex, uid_t key_owner, fa_err *err)
{
    struct key_loader ld = {load_local, &key_owner};
    return keytable_parse_with(kt_name, kt_text, kt_len, st_name, st_text, st_len, st_is_regex, &ld,
                               err);
}

struct keytable *keytable_parse_with(const char *kt_name, const char *kt_text, size_t kt_len,
                                     const char *st_name, const char *st_text, size_t st_len,
                                     int st_is_regex, const struct key_loader *ld, fa_err *err)
{
    struct keytable *kt = calloc(1, sizeof(*kt));
    if (!kt) {
        fa_err_set(err, "out of memory");
        return NULL;
    }
    kt->regex = st_is_regex;
    if (each_line(kt, kt_name, kt_text, kt_len, key_line, ld, err) < 0 ||
        each_line(kt, st_name, st_text, st_len, sign_line, ld, err) < 0) {
        keytable_free(kt);
        return NULL;
    }
    return kt;
}

static char *read_text(const char *path, size_t *len, fa_err *err)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        fa_err_errno(err, errno, "%s: cannot open", path); /* errors start with the table */
        return NULL;
    }
    char *buf = malloc(KT_FILE_MAX + 1);
    size_t n = buf ? fread(buf, 1, KT_FILE_MAX + 1, f) : 0;
    int bad = !buf || ferror(f) || n > KT_FILE_MAX;
    fclose(f);
    if (bad) {
        free(buf);
        fa_err_set(err, "%s: cannot read (or larger than %d octets)", path, KT_FILE_MAX);
        return NULL;
    }
    *len = n;
    return buf;
}

struct keytable *keytable_load(const char *key_table, const char *signing_table, uid_t key_owner,
                               fa_err *err)
{
    struct key_loader ld = {load_local, &key_owner};
    return keytable_load_with(key_table, signing_table, &ld, err);
}

struct keytable *keytable_load_with(const char *key_table, const char *signing_table,
                                    const struct key_loader *ld, fa_err *err)
{
    int regex = 0;
    if (strncmp(signing_table, "refile:", 7) == 0) {
        regex = 1;
        signing_table += 7;
    } else if (strncmp(signing_table, "file:", 5) == 0) {
        signing_table += 5;
    }
    if (strncmp(key_table, "file:", 5) == 0)
        key_table += 5;
    size_t kl, sl;
    char *kt_text = read_text(key_table, &kl, err);
    if (!kt_text)
        return NULL;
    char *st_text = read_text(signing_table, &sl, err);
    if (!st_text) {
        free(kt_text);
        return NULL;
    }
    struct keytable *kt =
        keytable_parse_with(key_table, kt_text, kl, signing_table, st_text, sl, regex, ld, err);
    free(kt_text);
    free(st_text);
    return kt;
}

/* Case-insensitive wildcard match: "*" matches any run of characters. */
static int wild_match(const char *pat, const char *s)
{
    const char *star = NULL, *resume = NULL;
    while (*s) {
        if (*pat == '*') {
            star = pat++;
            resume = s;
        } else if (tolower((unsigned char)*pat) == tolower((unsigned char)*s)) {
            pat++;
            s++;
        } else if (star) {
            pat = star + 1;
            s = ++resume;
        } else {
            return 0;
        }
    }
    while (*pat == '*')
        pat++;
    return *pat == '\0';
}

/* Replace each "%" in src by domain. */
static void subst(char *dst, size_t sz, const char *src, const char *domain)
{
    size_t o = 0;
    for (; *src && o + 1 < sz; src++) {
        if (*src == '%') {
            size_t n = strlen(domain);
            if (o + n >= sz)
                break;
            memcpy(dst + o, domain, n);
            o += n;
        } else {
            dst[o++] = *src;
        }
    }
    dst[o] = '\0';
}

static int fill_key(const struct keytable *kt, size_t key, const char *signer, const char *domain,
                    struct keytable_match *m)
{
    const struct kt_key *k = &kt->keys[key];
    subst(m->domain, sizeof(m->domain), k->domain, domain);
    snprintf(m->selector, sizeof(m->selector), "%s", k->selector);
    subst(m->identity, sizeof(m->identity), signer, domain);
    m->key = kt->loaded[k->loaded].key;
    return 1;
}

static int fill(const struct keytable *kt, const struct st_entry *e, const char *domain,
                struct keytable_match *m)
{
    return fill_key(kt, e->key, e->signer, domain, m);
}

int keytable_find_name(const struct keytable *kt, const char *name, const char *domain,
                       struct keytable_match *m)
{
    for (size_t i = 0; i < kt->nkeys; i++)
        if (strcmp(kt->keys[i].name, name) == 0)
            return fill_key(kt, i, "", domain, m);
    return 0;
}

int keytable_entry(const struct keytable *kt, size_t i, struct keytable_entry *e)
{
    if (i >= kt->nkeys)
        return 0;
    const struct kt_key *k = &kt->keys[i];
    e->name = k->name;
    e->domain = k->domain;
    e->selector = k->selector;
    e->path = kt->loaded[k->loaded].path;
    e->key = kt->loaded[k->loaded].key;
    return 1;
}

static const struct st_entry *exact(const struct keytable *kt, const char *key)
{
    for (size_t i = 0; i < kt->nst; i++)
        if (strcasecmp(kt->st[i].pattern, key) == 0)
            return &kt->st[i];
    return NULL;
}

int keytable_find(const struct keytable *kt, const char *local, const char *domain,
                  struct keytable_match *m)
{
    if (kt->regex) {
        char addr[700];
        snprintf(addr, sizeof(addr), "%s@%s", local, domain);
        for (size_t i = 0; i < kt->nst; i++)
            if (wild_match(kt->st[i].pattern, addr))
                return fill(kt, &kt->st[i], domain, m);
        return 0;
    }
    /* OpenDKIM's order for plain tables (opendkim.conf(5), SigningTable). */
    char key[700];
    const struct st_entry *e;
    snprintf(key, sizeof(key), "%s@%s", local, domain);
    if ((e = exact(kt, key)) || (e = exact(kt, domain)))
        return fill(kt, e, domain, m);
    for (const char *p = strchr(domain, '.'); p; p = strchr(p + 1, '.')) {
        snprintf(key, sizeof(key), "%s@%s", local, p);
        if ((e = exact(kt, key)))
            return fill(kt, e, domain, m);
    }
    for (const char *p = strchr(domain, '.'); p; p = strchr(p + 1, '.'))
        if ((e = exact(kt, p)))
            return fill(kt, e, domain, m);
    snprintf(key, sizeof(key), "%s@*", local);
    if ((e = exact(kt, key)) || (e = exact(kt, "*")))
        return fill(kt, e, domain, m);
    return 0;
}
