/* netstring - incremental netstring codec; see netstring.h. */
#include "netstring.h"

#include <stdio.h>
#include <string.h>

int netstring_parse(const uint8_t *buf, size_t n, const uint8_t **data, size_t *len,
                    size_t *consumed)
{
    size_t value = 0, i = 0;
    for (;;) {
        if (i == n)
            return NETSTRING_NEED_MORE;
        uint8_t c = buf[i];
        if (c == ':')
            break;
        if (c < '0' || c > '9')
            return NETSTRING_MALFORMED;
        if (i == 1 && buf[0] == '0')
            return NETSTRING_MALFORMED; /* leading zero */
        if (i == NETSTRING_MAX_DIGITS)
            return NETSTRING_MALFORMED;
        value = value * 10 + (size_t)(c - '0');
        if (value > NETSTRING_MAX)
            return NETSTRING_MALFORMED;
        i++;
    }
    if (i == 0)
        return NETSTRING_MALFORMED; /* ":" without a length */
    size_t start = i + 1;
    if (n - start < value + 1)
        return NETSTRING_NEED_MORE;
    if (buf[start + value] != ',')
        return NETSTRING_MALFORMED;
    *data = buf + start;
    *len = value;
    *consumed = start + value + 1;
    return NETSTRING_COMPLETE;
}

int netstring_encode(const uint8_t *data, size_t len, uint8_t *out, size_t outsz)
{
    if (len > NETSTRING_MAX)
        return -1;
    char digits[NETSTRING_MAX_DIGITS + 2];
    int d = snprintf(digits, sizeof(digits), "%zu", len);
    if (d < 0 || (size_t)d >= sizeof(digits) || outsz < (size_t)d + 1 + len + 1)
        return -1;
    memcpy(out, digits, (size_t)d);
    out[d] = ':';
    if (len)
        memmove(out + d + 1, data, len);
    out[(size_t)d + 1 + len] = ',';
    return (int)((size_t)d + len + 2);
}
