/* spf_macro - SPF macro syntax check and expansion (RFC 7208 section 7).
 * See spf_macro.h. */
#include "spf_macro.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#define VAL_MAX 2048                /* a macro value longer than this is cut */
#define PARTS_MAX (VAL_MAX / 2 + 2) /* at most this many parts in VAL_MAX octets */
#define DIGITS_CAP 1000             /* digit transformers saturate here */

struct sink {
    char *buf;
    size_t cap, len;
    int mode;
    int truncated;
};

static void put(struct sink *k, char c)
{
    if (k->len + 1 >= k->cap) {
        k->truncated = 1;
        if (k->mode == SPF_MACRO_EXP || k->cap < 4)
            return;
        /* A window over the tail: keep the right half. */
        size_t keep = (k->cap - 1) / 2;
        memmove(k->buf, k->buf + k->len - keep, keep);
        k->len = keep;
    }
    k->buf[k->len++] = c;
}

static int is_delim(char c)
{
    return c == '.' || c == '-' || c == '+' || c == ',' || c == '/' || c == '_' || c == '=';
}

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int letter_ok(int c, int mode)
{
    switch (lower(c)) {
    case 's':
    case 'l':
    case 'o':
    case 'd':
    case 'i':
    case 'p':
    case 'h':
    case 'v':
        return 1;
    case 'c':
    case 'r':
    case 't':
        return mode == SPF_MACRO_EXP;
    default:
        return 0;
    }
}

struct macro {
    char letter;   /* as written (upper case = URL-escape) */
    unsigned keep; /* right-hand parts to keep; 0 = all */
    int reverse;
    char delims[8]; /* NUL-terminated; "" = "." */
};

/* Parse one macro-expand at s[*i] (which is '%'); advances *i. Returns
 * 0 with *m filled for "%{...}", 1 for "%%" / "%_" / "%-" (m->letter
 * holds '%', ' ' or '-'), -1 on a syntax error. */
static int parse_macro(const char *s, size_t n, size_t *i, int mode, struct macro *m)
{
    size_t j = *i + 1;
    memset(m, 0, sizeof(*m));
    if (j >= n)
        return -1;
    if (s[j] == '%' || s[j] == '_' || s[j] == '-') {
        m->letter = s[j];
        *i = j + 1;
        return 1;
    }
    if (s[j] != '{')
        return -1;
    j++;
    if (j >= n || !letter_ok((unsigned char)s[j], mode))
        return -1;
    m->letter = s[j++];
    int digits = 0;
    unsigned keep = 0;
    while (j < n && s[j] >= '0' && s[j] <= '9') {
        keep = keep * 10 + (unsigned)(s[j] - '0');
        if (keep > DIGITS_CAP)
            keep = DIGITS_CAP;
        digits = 1;
        j++;
    }
    if (digits && keep == 0)
        return -1; /* RFC 7208 section 7.1: the digit must be nonzero */
    m->keep = keep;
    if (j < n && (s[j] == 'r' || s[j] == 'R')) {
        m->reverse = 1;
        j++;
    }
    size_t nd = 0;
    while (j < n && is_delim(s[j])) {
        if (nd < sizeof(m->delims) - 1 && !strchr(m->delims, s[j]))
            m->delims[nd++] = s[j];
        j++;
    }
    if (j >= n || s[j] != '}')
        return -1;
    *i = j + 1;
    return 0;
}

static int literal_ok(unsigned char c, int mode)
{
    if (c == ' ')
        return mode == SPF_MACRO_EXP;
    return c >= 0x21 && c <= 0x7e && c != '%';
}

int spf_macro_check(const char *s, size_t n, int mode, int *ends_in_macro)
{
    size_t i = 0;
    int last_macro = 0;
    struct macro m;
    while (i < n) {
        if (s[i] == '%') {
            if (parse_macro(s, n, &i, mode, &m) < 0)
                return -1;
            last_macro = 1;
        } else {
            if (!literal_ok((unsigned char)s[i], mode))
                return -1;
            i++;
            last_macro = 0;
        }
    }
    if (ends_in_macro)
        *ends_in_macro = last_macro;
    return 0;
}

/* The value of a macro letter into v (VAL_MAX + 1); returns its length. */
static size_t macro_value(const struct spf_macro_env *e, int letter, char *v)
{
    const char *str = NULL;
    switch (lower(letter)) {
    case 's':
        str = e->sender;
        break;
    case 'l':
        str = e->local;
        break;
    case 'o':
        str = e->sender_domain;
        break;
    case 'd':
        str = e->domain;
        break;
    case 'h':
        str = e->helo;
        break;
    case 'r':
        str = e->receiver ? e->receiver : "unknown";
        break;
    case 'v':
        str = e->ip_v6 ? "ip6" : "in-addr";
        break;
    case 't':
        snprintf(v, VAL_MAX + 1, "%lld", e->now);
        return strlen(v);
    case 'p':
        v[0] = '\0';
        if (e->get_p)
            e->get_p(e->p_ctx, e->domain ? e->domain : "", v, VAL_MAX + 1);
        if (!v[0])
            snprintf(v, VAL_MAX + 1, "unknown");
        return strnlen(v, VAL_MAX);
    case 'i':
        if (!e->ip_v6) {
            snprintf(v, VAL_MAX + 1, "%u.%u.%u.%u", e->ip[0], e->ip[1], e->ip[2], e->ip[3]);
        } else {
            static const char hex[] = "0123456789abcdef";
            size_t o = 0;
            for (int b = 0; b < 16; b++) {
                v[o++] = hex[e->ip[b] >> 4];
                v[o++] = '.';
                v[o++] = hex[e->ip[b] & 15];
                v[o++] = '.';
            }
            v[--o] = '\0';
        }
        return strlen(v);
    case 'c':
        if (!inet_ntop(e->ip_v6 ? AF_INET6 : AF_INET, e->ip, v, VAL_MAX + 1))
            v[0] = '\0';
        return strlen(v);
    }
    if (!str)
        str = "";
    size_t len = strnlen(str, VAL_MAX);
    memcpy(v, str, len);
    v[len] = '\0';
    return len;
}

static void put_value(struct sink *k, const char *v, size_t len, int escape)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)v[i];
        if (escape && !is_unreserved(c)) {
            put(k, '%');
            put(k, hex[c >> 4]);
            put(k, hex[c & 15]);
        } else {
            put(k, (char)c);
        }
    }
}

static void expand_macro(const struct spf_macro_env *e, const struct macro *m, struct sink *k)
{
    char v[VAL_MAX + 1];
    size_t len = macro_value(e, m->letter, v);
    int escape = m->letter >= 'A' && m->letter <= 'Z';
    const char *delims = m->delims[0] ? m->delims : ".";
    if (m->keep == 0 && !m->reverse && strcmp(delims, ".") == 0) {
        put_value(k, v, len, escape); /* the value as it is */
        return;
    }
    /* Split into parts: part j is v[start[j] .. start[j+1]-1) (without the
     * delimiter). */
    static const size_t max_parts = PARTS_MAX;
    size_t start[PARTS_MAX + 1];
    size_t np = 0;
    start[np++] = 0;
    for (size_t i = 0; i < len && np < max_parts; i++)
        if (strchr(delims, v[i]))
            start[np++] = i + 1;
    start[np] = len + 1; /* one past the (virtual) delimiter ending the last part */
    size_t keep = m->keep && m->keep < np ? m->keep : np;
    /* The order after optional reversal, then the right-hand `keep` parts. */
    int first = 1;
    for (size_t x = np - keep; x < np; x++) {
        size_t j = m->reverse ? np - 1 - x : x;
        if (!first)
            put(k, '.');
        first = 0;
        put_value(k, v + start[j], start[j + 1] - 1 - start[j], escape);
    }
}

int spf_macro_expand(const struct spf_macro_env *e, const char *s, size_t n, int mode, char *out,
                     size_t cap, size_t *outlen, int *truncated)
{
    struct sink k = {out, cap, 0, mode, 0};
    if (outlen)
        *outlen = 0;
    if (truncated)
        *truncated = 0;
    if (cap < 2)
        return -1;
    out[0] = '\0';
    size_t i = 0;
    struct macro m;
    while (i < n) {
        if (s[i] == '%') {
            int r = parse_macro(s, n, &i, mode, &m);
            if (r < 0)
                return -1;
            if (r == 1) {
                if (m.letter == '%')
                    put(&k, '%');
                else if (m.letter == '_')
                    put(&k, ' ');
                else {
                    put(&k, '%');
                    put(&k, '2');
                    put(&k, '0');
                }
            } else {
                expand_macro(e, &m, &k);
            }
        } else {
            if (!literal_ok((unsigned char)s[i], mode))
                return -1;
            put(&k, s[i++]);
        }
    }
    out[k.len] = '\0';
    if (outlen)
        *outlen = k.len;
    if (truncated)
        *truncated = k.truncated;
    return 0;
}
