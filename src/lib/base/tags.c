/* tags - RFC 6376 tag=value lists; see tags.h. */
#include "tags.h"

#include <string.h>
#include <strings.h>

static int is_fws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_valchar(unsigned char c)
{
    return (c >= 0x21 && c <= 0x3a) || (c >= 0x3c && c <= 0x7e);
}

static int fail(const char **why, const char *reason)
{
    if (why)
        *why = reason;
    return -1;
}

int tags_parse(const char *s, size_t n, struct tag_list *out, const char **why)
{
    out->n = 0;
    size_t i = 0;
    while (i <= n) {
        size_t spec_end = i;
        while (spec_end < n && s[spec_end] != ';')
            spec_end++;
        size_t a = i, b = spec_end;
        while (a < b && is_fws(s[a]))
            a++;
        if (a < b) {
            size_t name_start = a;
            if (!is_alpha(s[a]))
                return fail(why, "tag name must start with a letter");
            while (a < b && (is_alpha(s[a]) || (s[a] >= '0' && s[a] <= '9') || s[a] == '_'))
                a++;
            size_t name_end = a;
            while (a < b && is_fws(s[a]))
                a++;
            if (a == b || s[a] != '=')
                return fail(why, "tag without \"=\"");
            size_t raw_value = ++a;
            while (a < b && is_fws(s[a]))
                a++;
            size_t ve = b;
            while (ve > a && is_fws(s[ve - 1]))
                ve--;
            for (size_t k = a; k < ve; k++)
                if (!is_fws(s[k]) && !is_valchar((unsigned char)s[k]))
                    return fail(why, "forbidden character in tag value");
            for (size_t k = 0; k < out->n; k++)
                if (out->t[k].name_len == name_end - name_start &&
                    memcmp(out->t[k].name, s + name_start, name_end - name_start) == 0)
                    return fail(why, "duplicate tag");
            if (out->n == TAGS_MAX)
                return fail(why, "too many tags");
            struct tag *t = &out->t[out->n++];
            t->name = s + name_start;
            t->name_len = name_end - name_start;
            t->value = s + a;
            t->value_len = ve - a;
            t->value_off = raw_value;
            t->value_end = b;
        }
        i = spec_end + 1;
    }
    return 0;
}

int tags_parse_strict(const char *s, size_t n, struct tag_list *out, const char **why)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != ';')
            continue;
        size_t k = start;
        while (k < i && is_fws(s[k]))
            k++;
        if (k == i)
            return fail(why, "empty tag-spec");
        start = i + 1;
    }
    return tags_parse(s, n, out, why);
}

const struct tag *tags_find(const struct tag_list *l, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < l->n; i++)
        if (l->t[i].name_len == len && memcmp(l->t[i].name, name, len) == 0)
            return &l->t[i];
    return NULL;
}

int tags_value_is(const struct tag *t, const char *s)
{
    return t && t->value_len == strlen(s) && memcmp(t->value, s, t->value_len) == 0;
}

int tags_value_is_nocase(const struct tag *t, const char *s)
{
    return t && t->value_len == strlen(s) && strncasecmp(t->value, s, t->value_len) == 0;
}

int tags_copy_nows(const struct tag *t, char *out, size_t outsz)
{
    size_t o = 0;
    for (size_t i = 0; i < t->value_len; i++) {
        if (is_fws(t->value[i]))
            continue;
        if (o + 1 >= outsz)
            return -1;
        out[o++] = t->value[i];
    }
    if (outsz == 0)
        return -1;
    out[o] = '\0';
    return (int)o;
}

int tags_list_has(const char *v, size_t n, const char *item)
{
    size_t len = strlen(item);
    for (size_t i = 0; i <= n;) {
        size_t j = i;
        while (j < n && v[j] != ':')
            j++;
        size_t a = i, b = j;
        while (a < b && is_fws(v[a]))
            a++;
        while (b > a && is_fws(v[b - 1]))
            b--;
        if (b - a == len && strncasecmp(v + a, item, len) == 0)
            return 1;
        i = j + 1;
    }
    return 0;
}
