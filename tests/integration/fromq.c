/* fromq: test-only client of the fromhdr module (tests/integration/
 * test_from_rewrite.py). Usage: fromq VIA_DOMAIN ADDRESS < records
 * Each record on standard input is a header section (one or more fields,
 * lines ending in LF or CRLF), records separated by a NUL octet. For each
 * it prints one line of five tab-separated columns:
 *   STATE LOCAL DOMAIN REWRITE WHY
 * STATE is from_read's state name; LOCAL and DOMAIN are hex ("-" when
 * empty); REWRITE is hex of from_rewrite_value's output for the first
 * From: field's value, or "-" when it refused; WHY is from_read's reason,
 * then " | " and the parser's detail, and " | rewrite: " and the rewrite's
 * error, when there are any. */
#include "fromhdr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void hex(const char *s, size_t n)
{
    if (n == 0)
        fputs("-", stdout);
    for (size_t i = 0; i < n; i++)
        printf("%02x", (unsigned char)s[i]);
}

static void one(const char *rec, size_t n, const char *via, const char *address)
{
    struct msg_headers hs = {0};
    size_t body;
    fa_err err = {{0}};
    if (msg_parse(rec, n, &hs, &body, &err) < 0) {
        printf("error\t-\t-\t-\t%s\n", err.msg);
        return;
    }
    struct from_info fi;
    from_read(hs.h, hs.n, &fi);
    const struct msg_header *from = NULL;
    for (size_t i = 0; i < hs.n && !from; i++)
        if (msg_header_is(&hs.h[i], "From"))
            from = &hs.h[i];
    char out[FROM_REWRITE_MAX];
    int rl = -1;
    fa_err rerr = {{0}};
    if (from)
        rl = from_rewrite_value(from->raw + from->value_off, from->value_end - from->value_off, via,
                                address, out, sizeof(out), &rerr);
    printf("%s\t", from_state_name(fi.state));
    hex(fi.local, strlen(fi.local));
    putchar('\t');
    hex(fi.domain, strlen(fi.domain));
    putchar('\t');
    if (rl < 0)
        fputs("-", stdout);
    else
        hex(out, (size_t)rl);
    printf("\t%s", fi.why);
    if (fi.detail[0])
        printf(" | %s", fi.detail);
    if (rerr.msg[0])
        printf(" | rewrite: %s", rerr.msg);
    putchar('\n');
    free(hs.h);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: fromq VIA_DOMAIN ADDRESS < records\n");
        return 2;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        return 2;
    size_t r;
    while ((r = fread(buf + len, 1, cap - len, stdin)) > 0) {
        len += r;
        if (len == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb)
                return 2;
            buf = nb;
        }
    }
    for (size_t i = 0; i < len;) {
        const char *nul = memchr(buf + i, '\0', len - i);
        size_t n = nul ? (size_t)(nul - (buf + i)) : len - i;
        one(buf + i, n, argv[1], argv[2]);
        i += n + 1;
    }
    free(buf);
    return 0;
}
