/* pfcheck - Postfix content checks that change mail around the milter; see pfcheck.h. */
#include "pfcheck.h"

#include "fileread.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

const char *const pfcheck_params_before[] = {"header_checks", "mime_header_checks",
                                             "nested_header_checks", "body_checks", NULL};
const char *const pfcheck_params_after[] = {"smtp_header_checks", "smtp_mime_header_checks",
                                            "smtp_nested_header_checks", "smtp_body_checks", NULL};

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* The action word of one logical line [p, e): after "/pattern/flags" (or
 * "!/pattern/") or after the key of an indexed table. */
static int line_modifies(const char *p, const char *e)
{
    if (p < e && *p == '!')
        p++;
    if (p < e && *p == '/') {
        /* The pattern ends at the next "/" not escaped by a backslash. */
        for (p++; p < e && *p != '/'; p++)
            if (*p == '\\' && p + 1 < e)
                p++;
        if (p < e)
            p++;
        while (p < e && !is_space(*p))
            p++; /* flags */
    } else {
        while (p < e && !is_space(*p))
            p++; /* key */
    }
    while (p < e && is_space(*p))
        p++;
    size_t n = 0;
    while (p + n < e && !is_space(p[n]))
        n++;
    return (n == 7 && strncasecmp(p, "REPLACE", 7) == 0) ||
           (n == 7 && strncasecmp(p, "PREPEND", 7) == 0);
}

int pfcheck_table_modifies(const char *text, size_t n, unsigned *line)
{
    const char *p = text, *end = text + n;
    unsigned no = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        no++;
        const char *q = p;
        while (q < e && is_space(*q))
            q++;
        /* Blank, comment, continuation (starts with white space), if/endif.
         * The text need not end with a NUL: compare only inside the line. */
        size_t len = (size_t)(e - q);
        int rule = q == p && q < e && *q != '#' && !(len >= 3 && strncasecmp(q, "if ", 3) == 0) &&
                   !(len >= 5 && strncasecmp(q, "endif", 5) == 0);
        if (rule && line_modifies(q, e)) {
            *line = no;
            return 1;
        }
        p = nl ? nl + 1 : end;
    }
    return 0;
}

int pfcheck_next_map(const char **list, struct pfcheck_map *m)
{
    const char *p = *list;
    while (*p && (*p == ',' || is_space(*p) || *p == '\n'))
        p++;
    if (!*p)
        return 0;
    const char *s = p;
    while (*p && *p != ',' && !is_space(*p) && *p != '\n')
        p++;
    *list = p;
    size_t len = (size_t)(p - s);
    snprintf(m->whole, sizeof(m->whole), "%.*s", (int)len, s);
    m->type[0] = m->path[0] = '\0';
    const char *colon = memchr(s, ':', len);
    if (!colon || (size_t)(colon - s) >= sizeof(m->type))
        return 1;
    snprintf(m->type, sizeof(m->type), "%.*s", (int)(colon - s), s);
    /* Tables whose rules are in a file of that name (the text of indexed
     * ones is beside their .db/.lmdb/.cdb). */
    static const char *const file_types[] = {"regexp", "pcre", "hash",     "btree", "lmdb",
                                             "cdb",    "dbm",  "texthash", NULL};
    for (int i = 0; file_types[i]; i++)
        if (strcmp(m->type, file_types[i]) == 0 && colon[1] == '/')
            snprintf(m->path, sizeof(m->path), "%.*s", (int)(len - (size_t)(colon + 1 - s)),
                     colon + 1);
    return 1;
}

int pfcheck_param_before(const char *param)
{
    for (size_t i = 0; pfcheck_params_before[i]; i++)
        if (strcmp(param, pfcheck_params_before[i]) == 0)
            return 1;
    return 0;
}

int pfcheck_scan(const char *param, const char *value, pfcheck_found_fn found, void *arg)
{
    const char *p = value;
    struct pfcheck_map map;
    int n = 0;
    while (pfcheck_next_map(&p, &map) == 1) {
        char *text;
        size_t len;
        unsigned line;
        fa_err e;
        if (!map.path[0] || file_read(map.path, PFCHECK_FILE_MAX, 0, 0, &text, &len, &e) < 0)
            continue;
        int modifies = pfcheck_table_modifies(text, len, &line);
        file_free(text, len);
        if (modifies) {
            n++;
            found(arg, param, &map, line);
        }
    }
    return n;
}

int pfcheck_describe(const char *param, const struct pfcheck_map *m, unsigned line, char *out,
                     size_t n)
{
    int before = pfcheck_param_before(param);
    int k = snprintf(out, n,
                     "Postfix %s = %s: %s:%u changes messages (REPLACE or PREPEND) %s; forwarded "
                     "mail then %s. Use forward_subject_tag, forward_footer and forward_header "
                     "instead (fwdauthd.conf(5))",
                     param, m->whole, m->path, line,
                     before ? "before milters see them" : "after fwdauthd signed them",
                     before ? "fails verification here (valid signatures break, p=reject "
                              "senders are refused)"
                            : "fails our DKIM signature and ARC seal at the next hop");
    return k < 0 ? 0 : k;
}
