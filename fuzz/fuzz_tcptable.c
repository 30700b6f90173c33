/* libFuzzer target: the tcp_table connection path without sockets. The
 * input is a byte stream split into lines by tcptable_frame; each line goes
 * to tcptable_handle, alternating forward and reverse. Checks: replies are
 * one line of at most 4096 bytes with a 200, 400 or 500 status and nothing
 * unencoded in a 200 text; %XX decoding undoes encoding. */
#include "fuzz_srs_engine.h"
#include "tcptable.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1577836860

static void check_reply(const char *r, int m)
{
    if (m < 5 || m > TCPTABLE_LINE_MAX || r[m - 1] != '\n' || memchr(r, '\n', (size_t)m - 1))
        abort();
    if (!(memcmp(r, "200 ", 4) == 0 || memcmp(r, "400 ", 4) == 0 || memcmp(r, "500 ", 4) == 0))
        abort();
    if (memcmp(r, "200 ", 4) == 0)
        for (int i = 4; i < m - 1; i++)
            if ((unsigned char)r[i] <= ' ' || (unsigned char)r[i] >= 0x7f)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const srs *s = daemon_fuzz_srs();
    size_t off = 0;
    int dir = LOOKUP_FORWARD;
    while (off < size) {
        size_t len, used;
        int st = tcptable_frame(data + off, size - off, &len, &used);
        if (st != TCPTABLE_LINE)
            break;
        if (used > size - off || len >= used || used > TCPTABLE_LINE_MAX)
            abort();
        char reply[TCPTABLE_LINE_MAX];
        struct lookup_note note;
        int m = tcptable_handle(s, dir, NOW, data + off, len, reply, sizeof(reply), &note);
        check_reply(reply, m);
        dir = dir == LOOKUP_FORWARD ? LOOKUP_REVERSE : LOOKUP_FORWARD;
        off += used;
    }
    /* codec round trip on the raw input */
    if (size <= 1024) {
        char enc[3 * 1024], dec[1024];
        int e = tcptable_encode((const char *)data, size, enc, sizeof(enc));
        if (e < 0)
            abort();
        int d = tcptable_decode((const uint8_t *)enc, (size_t)e, dec, sizeof(dec));
        if (d != (int)size || (size && memcmp(dec, data, size) != 0))
            abort();
    }
    return 0;
}
