/* libFuzzer target: the From reading and rewrite (fromhdr). The input is
 * read twice: as a header section (from_read over its fields) and as one
 * From: value (from_read_value, from_display_name, from_rewrite_value). */
#include "fromhdr.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define VIA "example.net"
#define FWD "forwarder@example.net"

static void check_info(const struct from_info *fi)
{
    if (fi->state < FROM_OK || fi->state > FROM_UNREADABLE || !fi->why || !fi->why[0])
        abort();
    size_t dl = strnlen(fi->domain, sizeof(fi->domain));
    size_t ll = strnlen(fi->local, sizeof(fi->local));
    if (dl == sizeof(fi->domain) || ll == sizeof(fi->local))
        abort(); /* not terminated */
    if (fi->state == FROM_OK || fi->state == FROM_REPAIRED) {
        /* One domain, without its trailing dot, no controls, no literal. */
        if (dl == 0 || ll == 0 || fi->domain[dl - 1] == '.' || fi->domain[0] == '[' ||
            fi->fields != 1 || fi->mailboxes != 1)
            abort();
        for (size_t i = 0; i < dl; i++)
            if ((unsigned char)fi->domain[i] <= 0x20 || fi->domain[i] == 0x7f ||
                fi->domain[i] == '@')
                abort();
        if ((fi->state == FROM_OK) != (fi->repairs == 0))
            abort();
    } else if (dl || ll || fi->repairs) {
        abort();
    }
}

/* The name as from_display_name gives it for "<name> via example.net",
 * cut as the decoder cuts. */
static size_t expected_name(const char *name, size_t n, char *out)
{
    char full[FROM_NAME_MAX + 32];
    memcpy(full, name, n);
    memcpy(full + n, " via " VIA, strlen(" via " VIA));
    size_t fl = n + strlen(" via " VIA);
    if (fl > FROM_NAME_MAX) {
        fl = FROM_NAME_MAX;
        while (fl > 0 && ((unsigned char)full[fl] & 0xC0) == 0x80)
            fl--; /* a character boundary */
        while (fl > 0 && full[fl - 1] == ' ')
            fl--;
    }
    memcpy(out, full, fl);
    out[fl] = '\0';
    return fl;
}

static void check_rewrite(const char *v, size_t n, int state)
{
    char out[FROM_REWRITE_MAX];
    fa_err err;
    int len = from_rewrite_value(v, n, VIA, FWD, out, sizeof(out), &err);
    int readable = state == FROM_OK || state == FROM_REPAIRED;
    if ((len >= 0) != readable)
        abort(); /* a rewrite exactly for what can be read; always room */
    if (len < 0)
        return;
    if ((size_t)len != strlen(out) || out[0] != ' ')
        abort(); /* no NUL inside */
    /* Printable ASCII, "\n " folding, lines within 78 (the first counting
     * "From:") but the address line, which is within 998. */
    size_t col = 5, line_start = 0;
    for (int i = 0; i <= len; i++) {
        unsigned char c = (unsigned char)out[i];
        if (c == '\n' || c == '\0') {
            int address_line = memmem(out + line_start, (size_t)i - line_start, "<" FWD ">",
                                      strlen(FWD) + 2) != NULL;
            if (col > (address_line ? 998 : 78))
                abort();
            if (c == '\n' && out[i + 1] != ' ')
                abort();
            col = 0;
            line_start = (size_t)i + 1;
            continue;
        }
        if (c < 0x20 || c >= 0x7f)
            abort();
        col++;
    }
    /* Exactly one mailbox, ours. */
    struct from_info fi;
    if (from_read_value(out, (size_t)len, &fi) != FROM_OK || fi.mailboxes != 1 ||
        strcmp(fi.local, "forwarder") != 0 || strcmp(fi.domain, "example.net") != 0)
        abort();
    /* The name reads back as the original's + " via example.net". */
    char name[FROM_NAME_MAX + 1], back[FROM_NAME_MAX + 1], want[FROM_NAME_MAX + 1];
    int nl = from_display_name(v, n, name, sizeof(name));
    if (nl < 0 || from_display_name(out, (size_t)len, back, sizeof(back)) < 0)
        abort();
    expected_name(name, (size_t)nl, want);
    if (strcmp(back, want) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;

    struct msg_headers hs;
    size_t body;
    fa_err err;
    if (msg_parse(p, size, &hs, &body, &err) == 0) {
        struct from_info fi;
        int st = from_read(hs.h, hs.n, &fi);
        if (st != fi.state)
            abort();
        check_info(&fi);
        size_t fields = 0;
        for (size_t i = 0; i < hs.n; i++)
            fields += msg_header_is(&hs.h[i], "From");
        if (fields != fi.fields || (fields == 0) != (st == FROM_ABSENT) ||
            (fields > 1 && st != FROM_MULTIPLE))
            abort();
        free(hs.h);
    }

    struct from_info fi;
    int st = from_read_value(p, size, &fi);
    check_info(&fi);
    char name[FROM_NAME_MAX + 1];
    int nl = from_display_name(p, size, name, sizeof(name));
    if ((nl >= 0) != (st == FROM_OK || st == FROM_REPAIRED) ||
        (nl >= 0 && strlen(name) != (size_t)nl))
        abort();
    check_rewrite(p, size, st);
    return 0;
}
