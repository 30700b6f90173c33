/* addr - envelope address splitting and quoting; see addr.h. */
#include "addr.h"

#include <string.h>

/* RFC 5322 atext, plus 8-bit octets for SMTPUTF8 local parts. */
static int is_atext(unsigned char c)
{
    if (c >= 0x80)
        return 1;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL && c != '\0';
}

int addr_is_dot_atom(const char *local, size_t n)
{
    if (n == 0 || local[0] == '.' || local[n - 1] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)local[i];
        if (c == '.') {
            if (local[i - 1] == '.')
                return 0;
        } else if (!is_atext(c)) {
            return 0;
        }
    }
    return 1;
}

int addr_quote_local(const char *local, size_t n, char *out, size_t outsz)
{
    size_t o = 0;
    if (addr_is_dot_atom(local, n)) {
        if (n + 1 > outsz)
            return -1;
        memcpy(out, local, n);
        out[n] = '\0';
        return (int)n;
    }
    if (outsz < 3)
        return -1;
    out[o++] = '"';
    for (size_t i = 0; i < n; i++) {
        if (local[i] == '"' || local[i] == '\\') {
            if (o + 1 >= outsz)
                return -1;
            out[o++] = '\\';
        }
        if (o + 1 >= outsz)
            return -1;
        out[o++] = local[i];
    }
    if (o + 2 > outsz)
        return -1;
    out[o++] = '"';
    out[o] = '\0';
    return (int)o;
}

int addr_valid_domain(const char *d, size_t n)
{
    if (n == 0 || n > ADDR_DOMAIN_MAX)
        return 0;
    int literal = d[0] == '[';
    if (literal && (n < 3 || d[n - 1] != ']'))
        return 0;
    for (size_t i = literal; i < n - literal; i++) {
        unsigned char c = (unsigned char)d[i];
        int ok = c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
                 (literal && c == ':');
        if (!ok)
            return 0;
    }
    return 1;
}

static int fail(struct addr *a, const char *why)
{
    a->why = why;
    return -1;
}

/* Unquote a quoted-string local part [s, s+n), which starts and ends with '"'. */
static int unquote(struct addr *a, const char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 1; i + 1 < n; i++) {
        char c = s[i];
        if (c == '"')
            return fail(a, "unescaped quote inside quoted local part");
        if (c == '\\') {
            if (i + 2 >= n)
                return fail(a, "backslash at end of quoted local part");
            c = s[++i];
        }
        if (o >= ADDR_LOCAL_MAX)
            return fail(a, "local part too long");
        a->local[o++] = c;
    }
    if (o == 0)
        return fail(a, "empty local part");
    a->local[o] = '\0';
    a->local_len = o;
    return 0;
}

int addr_split(const char *s, size_t n, struct addr *a)
{
    a->why = NULL;
    a->local_len = a->domain_len = 0;
    a->local[0] = a->domain[0] = '\0';
    if (n == 0)
        return fail(a, "empty address");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return fail(a, "control character in address");
    }
    const char *at = NULL;
    for (size_t i = n; i-- > 0;)
        if (s[i] == '@') {
            at = s + i;
            break;
        }
    if (!at)
        return fail(a, "no domain");
    const char *dom = at + 1;
    size_t dlen = (size_t)(s + n - dom), llen = (size_t)(at - s);
    if (dlen == 0)
        return fail(a, "no domain");
    if (llen == 0)
        return fail(a, "empty local part");
    if (dlen > ADDR_DOMAIN_MAX)
        return fail(a, "domain too long");
    if (!addr_valid_domain(dom, dlen))
        return fail(a, "invalid character in domain");
    memcpy(a->domain, dom, dlen);
    a->domain[dlen] = '\0';
    a->domain_len = dlen;

    if (llen >= 2 && s[0] == '"' && s[llen - 1] == '"')
        return unquote(a, s, llen);
    if (llen > ADDR_LOCAL_MAX)
        return fail(a, "local part too long");
    memcpy(a->local, s, llen);
    a->local[llen] = '\0';
    a->local_len = llen;
    return 0;
}
