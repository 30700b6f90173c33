/* libFuzzer target: the forwarder's own changes (fwdchange). The input is a
 * whole message: its header section and body go through fwdchange_footer
 * with three footers (ASCII, UTF-8, UTF-8 with an HTML fragment), its
 * first Subject: value (or the input itself) through fwdchange_subject,
 * and the input as footer text through fwdchange_footer_check. Invariants:
 * no crash, bounded output, FOOTER_NONE leaves nothing allocated, the new
 * body holds the original body's octets (APPEND and PART: as a prefix and a
 * suffix around one insertion; WRAP: whole, inside the wrapper, which opens
 * and closes with its boundary), header changes are well-formed values, and
 * a tagged Subject unfolds to the tag and the original, and is tagged. */
#include "fwdchange.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define TAG "[fwd]"

static const struct fwdchange_footer_spec specs[] = {
    {.text = "-- \nForwarded by example.net\n", .html = NULL, .boundary = "=_fz"},
    {.text = "Weitergeleitet \xe2\x80\x94 Gr\xc3\xbc\xc3\x9f"
             "e\n",
     .html = NULL,
     .boundary = "=_fz"},
    {.text = "-- \nx\xc3\xa9\n",
     .html = "<p>Gr\xc3\xbc\xc3\x9f"
             "e</p>",
     .boundary = "=_fz"},
};

static void check_value(const char *v)
{
    if (v[0] != ' ')
        abort();
    for (const char *p = v; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            abort();
}

static void check_footer(const struct msg_headers *hs, const uint8_t *body, size_t n)
{
    size_t fields = 0;
    for (size_t i = 0; i < hs->n; i++)
        fields += hs->h[i].len;
    for (size_t s = 0; s < sizeof(specs) / sizeof(specs[0]); s++) {
        struct fwdchange_footer f;
        fa_err err;
        int rc = fwdchange_footer(hs->h, hs->n, body, n, &specs[s], &f, &err);
        if (rc < 0) {
            /* Only when the body holds every boundary candidate. */
            if (!strstr(err.msg, "boundary"))
                abort();
        }
        if (!f.why || (rc == 0 && !f.why[0]))
            abort();
        if (rc < 0 || f.action == FOOTER_NONE) {
            if (f.body || f.len || f.hdr || f.nhdr || f.action != FOOTER_NONE)
                abort();
            continue;
        }
        if (!f.body || f.len <= n || f.len > n + 2 * fields + 64 * 1024)
            abort();
        for (size_t k = 0; k < f.nhdr; k++) {
            if (!f.hdr[k].name || !f.hdr[k].name[0])
                abort();
            if (f.hdr[k].value)
                check_value(f.hdr[k].value);
        }
        if (f.action == FOOTER_APPEND || f.action == FOOTER_PART) {
            /* One insertion: the longest common prefix and suffix cover
             * the original. */
            size_t p = 0, q = 0;
            while (p < n && f.body[p] == body[p])
                p++;
            while (q < n && f.body[f.len - 1 - q] == body[n - 1 - q])
                q++;
            if (p + q < n)
                abort();
            if (f.action == FOOTER_APPEND && f.nhdr)
                abort();
        } else if (f.action == FOOTER_WRAP) {
            if (n && !memmem(f.body, f.len, body, n))
                abort();
            /* The last change sets Content-Type (or MIME-Version after it). */
            const char *ct = NULL;
            for (size_t k = 0; k < f.nhdr; k++)
                if (strcmp(f.hdr[k].name, "Content-Type") == 0)
                    ct = f.hdr[k].value;
            if (!ct)
                abort();
            const char *b = strstr(ct, "boundary=\"");
            if (!b)
                abort();
            b += 10;
            size_t bl = strcspn(b, "\"");
            if (f.len < 2 * bl + 12 || memcmp(f.body, "--", 2) != 0 ||
                memcmp(f.body + 2, b, bl) != 0 || memcmp(f.body + f.len - 4 - bl, b, bl) != 0 ||
                memcmp(f.body + f.len - 4, "--\r\n", 4) != 0)
                abort();
        } else {
            abort();
        }
        fwdchange_footer_free(&f);
        if (f.body || f.nhdr)
            abort();
    }
}

/* s[0..n) without CR and LF. */
static size_t unfold(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] != '\r' && s[i] != '\n')
            out[o++] = s[i];
    return o;
}

static void check_subject(const char *v, size_t n)
{
    size_t room = FWDCHANGE_SUBJECT_ROOM(n);
    char *out = malloc(room);
    int r = fwdchange_subject(v, n, TAG, out, room);
    if (r < -1 || r > 1)
        abort();
    if (r == 1) {
        size_t ol = strnlen(out, room);
        if (ol == room || memcmp(out, " " TAG, 6) != 0 || strchr(out, '\r'))
            abort();
        /* Unfolded: " [fwd] " + the original unfolded, leading white space
         * removed (" [fwd]" alone when nothing is left). */
        char *a = malloc(ol + 1), *b = malloc(n + 1);
        size_t al = unfold(out, ol, a), bl = unfold(v, n, b), i = 0;
        while (i < bl && (b[i] == ' ' || b[i] == '\t'))
            i++;
        if (i == bl ? al != 6 : (al != 7 + bl - i || memcmp(a + 7, b + i, bl - i) != 0))
            abort();
        free(a);
        free(b);
        /* Tagged once: the result counts as tagged. */
        char *again = malloc(FWDCHANGE_SUBJECT_ROOM(ol));
        if (fwdchange_subject(out, ol, TAG, again, FWDCHANGE_SUBJECT_ROOM(ol)) != 0)
            abort();
        free(again);
    }
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256 * 1024)
        return 0;
    struct msg_headers hs = {0};
    size_t body_off;
    fa_err err;
    if (msg_parse((const char *)data, size, &hs, &body_off, &err) == 0) {
        check_footer(&hs, data + body_off, size - body_off);
        const struct msg_header *s = NULL;
        for (size_t i = 0; i < hs.n && !s; i++)
            if (msg_header_is(&hs.h[i], "Subject"))
                s = &hs.h[i];
        if (s)
            check_subject(s->raw + s->value_off, s->value_end - s->value_off);
        free(hs.h);
    }
    check_subject((const char *)data, size < 4096 ? size : 4096);

    /* The input as footer text. */
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    struct fwdchange_footer_spec spec = {.text = text, .boundary = "=_fz"};
    if (fwdchange_footer_check(&spec, &err) == 0) {
        static const char m[] = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n"
                                "--b--\r\n";
        struct msg_headers mh;
        size_t off;
        if (msg_parse(m, sizeof(m) - 1, &mh, &off, &err) == 0) {
            check_footer(&mh, (const uint8_t *)m + off, sizeof(m) - 1 - off);
            struct fwdchange_footer f;
            if (fwdchange_footer(mh.h, mh.n, (const uint8_t *)m + off, sizeof(m) - 1 - off, &spec,
                                 &f, &err) == 0)
                fwdchange_footer_free(&f);
            free(mh.h);
        }
    }
    free(text);
    return 0;
}
