/* domlist - domain list matching; see domlist.h. */
#include "domlist.h"

#include <string.h>
#include <strings.h>

static size_t strip_dot(const char *s, size_t n)
{
    return (n > 0 && s[n - 1] == '.') ? n - 1 : n;
}

int domain_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    alen = strip_dot(a, alen);
    blen = strip_dot(b, blen);
    return alen == blen && alen > 0 && strncasecmp(a, b, alen) == 0;
}

int domlist_match(char *const *patterns, size_t npatterns, const char *domain, size_t len)
{
    len = strip_dot(domain, len);
    for (size_t i = 0; i < npatterns; i++) {
        const char *p = patterns[i];
        size_t plen = strip_dot(p, strlen(p));
        if (plen > 1 && p[0] == '.') {
            /* ".example.net": a proper subdomain; the label before must be non-empty. */
            if (len > plen && strncasecmp(domain + len - plen, p, plen) == 0)
                return 1;
        } else if (domain_equal(p, plen, domain, len)) {
            return 1;
        }
    }
    return 0;
}
