/* libFuzzer target: the socketmap connection path without sockets. The input
 * is a byte stream as a client would send it: netstrings are parsed one
 * after another (pipelining) and each payload goes to socketmap_handle.
 * Checks: a complete netstring lies within the input, every reply is one
 * well-formed netstring that starts with OK, NOTFOUND, TEMP or PERM, and
 * an OK from "forward" reverses to OK again. */
#include "fuzz_srs_engine.h"
#include "netstring.h"
#include "socketmap.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1577836860

static void check_reply(const char *reply, int m, const uint8_t **payload, size_t *plen)
{
    size_t used;
    if (m <= 0 || m > SOCKETMAP_REPLY_MAX)
        abort();
    if (netstring_parse((const uint8_t *)reply, (size_t)m, payload, plen, &used) !=
            NETSTRING_COMPLETE ||
        used != (size_t)m)
        abort();
    const char *p = (const char *)*payload;
    if (!((*plen >= 3 && memcmp(p, "OK ", 3) == 0) ||
          (*plen == 9 && memcmp(p, "NOTFOUND ", 9) == 0) ||
          (*plen >= 5 && memcmp(p, "TEMP ", 5) == 0) || (*plen >= 5 && memcmp(p, "PERM ", 5) == 0)))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const srs *s = daemon_fuzz_srs();
    size_t off = 0;
    while (off < size) {
        const uint8_t *d;
        size_t len, used;
        int st = netstring_parse(data + off, size - off, &d, &len, &used);
        if (st != NETSTRING_COMPLETE)
            break;
        if (used > size - off || d < data + off || d + len > data + off + used)
            abort();
        char reply[SOCKETMAP_REPLY_MAX];
        struct lookup_note note;
        int m = socketmap_handle(s, NOW, d, len, reply, sizeof(reply), &note);
        const uint8_t *p;
        size_t plen;
        check_reply(reply, m, &p, &plen);
        if (len > 8 && memcmp(d, "forward ", 8) == 0 && note.kind == LOOKUP_FOUND) {
            char req[SOCKETMAP_REPLY_MAX + 16];
            memcpy(req, "reverse ", 8);
            memcpy(req + 8, p + 3, plen - 3);
            char back[SOCKETMAP_REPLY_MAX];
            int b = socketmap_handle(s, NOW, (const uint8_t *)req, 8 + plen - 3, back, sizeof(back),
                                     &note);
            check_reply(back, b, &p, &plen);
            if (memcmp(p, "OK ", 3) != 0)
                abort();
        }
        off += used;
    }
    /* encode/parse round trip of the input itself */
    if (size <= NETSTRING_MAX) {
        uint8_t *buf = malloc(NETSTRING_FRAMED_MAX);
        if (!buf)
            return 0;
        int m = netstring_encode(data, size, buf, NETSTRING_FRAMED_MAX);
        const uint8_t *d;
        size_t len, used;
        if (m < 0 || netstring_parse(buf, (size_t)m, &d, &len, &used) != NETSTRING_COMPLETE ||
            len != size || used != (size_t)m || (size && memcmp(d, data, size) != 0))
            abort();
        free(buf);
    }
    return 0;
}
