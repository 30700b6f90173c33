/* msg - header section parsing with exact raw bytes; see msg.h. */
#include "msg.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int is_ftext(unsigned char c)
{
    return c >= 33 && c <= 126 && c != ':';
}

/* Length of the line at p (up to and including LF, or to the end). */
static size_t line_len(const char *p, size_t n)
{
    const char *nl = memchr(p, '\n', n);
    return nl ? (size_t)(nl - p) + 1 : n;
}

static int is_blank_line(const char *p, size_t len)
{
    return (len == 1 && p[0] == '\n') || (len == 2 && p[0] == '\r' && p[1] == '\n');
}

/* Does the line start a header field "name:"? Returns name length, or 0. */
static size_t field_name(const char *p, size_t len, size_t *colon)
{
    size_t i = 0;
    while (i < len && is_ftext((unsigned char)p[i]))
        i++;
    size_t name = i;
    while (i < len && (p[i] == ' ' || p[i] == '\t'))
        i++; /* obsolete syntax: white space before the colon */
    if (name == 0 || i == len || p[i] != ':')
        return 0;
    *colon = i;
    return name;
}

/* Parse fields from p[0..n); stops at the blank line or a non-field line.
 * Returns 0 with *end = offset where the body starts, or -1. */
static int parse_fields(const char *p, size_t n, struct msg_headers *hs, size_t *end, int at_eof,
                        int *complete, fa_err *err)
{
    size_t off = 0, cap = 0;
    hs->h = NULL;
    hs->n = 0;
    *complete = 0;
    while (off < n) {
        size_t ll = line_len(p + off, n - off);
        if (!at_eof && p[off + ll - 1] != '\n')
            break; /* incomplete line: need more input */
        if (is_blank_line(p + off, ll)) {
            *end = off + ll;
            *complete = 1;
            return 0;
        }
        size_t colon;
        size_t nl = field_name(p + off, ll, &colon);
        if (!nl) {
            /* Not a field: the body starts here (continuations are folded below). */
            *end = off;
            *complete = 1;
            return 0;
        }
        size_t start = off;
        off += ll;
        /* Continuation lines start with white space. */
        while (off < n && (p[off] == ' ' || p[off] == '\t')) {
            size_t cl = line_len(p + off, n - off);
            if (!at_eof && p[off + cl - 1] != '\n') {
                free(hs->h);
                hs->h = NULL;
                hs->n = 0;
                return 1; /* need more */
            }
            off += cl;
        }
        if (!at_eof && off == n) {
            /* The next line might continue this field: wait for it. */
            free(hs->h);
            hs->h = NULL;
            hs->n = 0;
            return 1;
        }
        if (hs->n == MSG_FIELDS_MAX) {
            free(hs->h);
            hs->h = NULL;
            hs->n = 0;
            return fa_err_set(err, "more than %d header fields", MSG_FIELDS_MAX);
        }
        if (hs->n == cap) {
            cap = cap ? cap * 2 : 32;
            struct msg_header *nh = realloc(hs->h, cap * sizeof(*nh));
            if (!nh) {
                free(hs->h);
                hs->h = NULL;
                hs->n = 0;
                return fa_err_set(err, "out of memory");
            }
            hs->h = nh;
        }
        struct msg_header *h = &hs->h[hs->n++];
        h->raw = p + start;
        h->len = off - start;
        h->name_len = nl;
        h->value_off = colon + 1;
        size_t ve = h->len;
        if (ve > 0 && h->raw[ve - 1] == '\n')
            ve--;
        if (ve > 0 && h->raw[ve - 1] == '\r')
            ve--;
        h->value_end = ve < h->value_off ? h->value_off : ve;
    }
    if (!at_eof) {
        free(hs->h);
        hs->h = NULL;
        hs->n = 0;
        return 1;
    }
    *end = n;
    *complete = 1;
    return 0;
}

int msg_parse(const char *p, size_t n, struct msg_headers *hs, size_t *body_off, fa_err *err)
{
    int complete;
    int rc = parse_fields(p, n, hs, body_off, 1, &complete, err);
    return rc < 0 ? -1 : 0;
}

void msg_reader_init(struct msg_reader *r)
{
    memset(r, 0, sizeof(*r));
    r->state = MSG_HEADERS;
}

void msg_reader_free(struct msg_reader *r)
{
    free(r->headers.h);
    free(r->head);
    memset(r, 0, sizeof(*r));
}

/* Try to complete the section from head[0..head_len). Returns 1 when done
 * (body starts at *end), 0 when more is needed, -1 on error. */
static int try_complete(struct msg_reader *r, int at_eof, size_t *end, fa_err *err)
{
    struct msg_headers hs;
    int complete;
    int rc = parse_fields(r->head, r->head_len, &hs, end, at_eof, &complete, err);
    if (rc < 0)
        return -1;
    if (rc > 0 || !complete)
        return 0;
    r->headers = hs;
    r->state = MSG_BODY;
    const char *nl = r->head_len ? memchr(r->head, '\n', r->head_len) : NULL;
    r->crlf = nl && nl > r->head && nl[-1] == '\r';
    return 1;
}

size_t msg_reader_feed(struct msg_reader *r, const uint8_t *p, size_t n, fa_err *err)
{
    if (r->state == MSG_BODY || n == 0)
        return 0;
    /* Append, bounded, then look for the end of the section. Only the
     * header section is kept; body bytes are handed back to the caller. */
    size_t take = n;
    if (r->head_len + take > MSG_HEADER_MAX + 2)
        take = MSG_HEADER_MAX + 2 - r->head_len;
    if (r->head_len + take > r->head_cap) {
        size_t cap = r->head_cap ? r->head_cap : 8192;
        while (cap < r->head_len + take)
            cap *= 2;
        char *nh = realloc(r->head, cap);
        if (!nh) {
            fa_err_set(err, "out of memory");
            return (size_t)-1;
        }
        r->head = nh;
        r->head_cap = cap;
    }
    size_t before = r->head_len;
    memcpy(r->head + before, p, take);
    r->head_len += take;
    size_t end;
    int rc = try_complete(r, 0, &end, err);
    if (rc < 0)
        return (size_t)-1;
    if (rc == 0) {
        if (r->head_len > MSG_HEADER_MAX) {
            fa_err_set(err, "header section larger than %d octets", MSG_HEADER_MAX);
            return (size_t)-1;
        }
        return take;
    }
    /* Bytes past the section's end belong to the body. */
    size_t used = end - before;
    r->head_len = end;
    return used;
}

int msg_reader_eof(struct msg_reader *r, fa_err *err)
{
    if (r->state == MSG_BODY)
        return 0;
    size_t end;
    if (try_complete(r, 1, &end, err) < 0)
        return -1;
    r->head_len = end;
    return 0;
}

int msg_header_is(const struct msg_header *h, const char *name)
{
    size_t n = strlen(name);
    return h->name_len == n && strncasecmp(h->raw, name, n) == 0;
}
