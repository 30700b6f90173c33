/* footq: test-only client of the fwdchange module (tests/integration/
 * test_fwdchange.py). Usage:
 *   footq [-t TAG] [-f FOOTER_FILE] [-H HTML_FILE] [-b STEM] [-a NAME:VALUE] < message
 * Reads one message (line ends LF or CRLF; bare LFs are made CRLF first,
 * as SMTP carries it), makes the forwarder's changes as the milter would
 * (the Subject tag with -t, the footer with -f and optionally -H, the
 * added field with -a) and prints the changed message on standard output
 * with CRLF line ends. Standard error gets one line:
 *   ACTION<TAB>WHY<TAB>SUBJECT
 * ACTION is fwdchange_action_name's ("none" without -f), WHY the footer's
 * reason, SUBJECT "tagged", "already" or "error" ("-" without -t).
 * Exit 0, or 1 when fwdchange_footer or fwdchange_header_check fails (the
 * error on standard error), 2 on bad usage. */
#include "fwdchange.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static char *slurp(FILE *fp, size_t *len)
{
    size_t cap = 1 << 16, n = 0, r;
    char *p = malloc(cap + 1);
    if (!p)
        exit(2);
    while ((r = fread(p + n, 1, cap - n, fp)) > 0) {
        n += r;
        if (n == cap) {
            char *np = realloc(p, (cap *= 2) + 1);
            if (!np)
                exit(2);
            p = np;
        }
    }
    p[n] = '\0';
    *len = n;
    return p;
}

static char *read_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        perror(path);
        exit(2);
    }
    size_t n;
    char *p = slurp(fp, &n);
    fclose(fp);
    return p;
}

/* Write s[0..n) with every bare LF made CRLF. */
static void put_crlf(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
            putchar('\r');
        putchar(s[i]);
    }
}

static void put_field(const char *name, const char *value)
{
    fputs(name, stdout);
    putchar(':');
    put_crlf(value, strlen(value));
    fputs("\r\n", stdout);
}

int main(int argc, char **argv)
{
    const char *tag = NULL, *footer = NULL, *html = NULL, *stem = NULL, *add = NULL;
    int c;
    while ((c = getopt(argc, argv, "t:f:H:b:a:")) != -1) {
        switch (c) {
        case 't':
            tag = optarg;
            break;
        case 'f':
            footer = optarg;
            break;
        case 'H':
            html = optarg;
            break;
        case 'b':
            stem = optarg;
            break;
        case 'a':
            add = optarg;
            break;
        default:
            fprintf(stderr, "usage: footq [-t TAG] [-f FOOTER] [-H HTML] [-b STEM] "
                            "[-a NAME:VALUE] < message\n");
            return 2;
        }
    }
    size_t rawlen;
    char *raw = slurp(stdin, &rawlen);
    /* CRLF throughout, as the milter sees the message. */
    char *msg = malloc(2 * rawlen + 1);
    size_t n = 0;
    for (size_t i = 0; i < rawlen; i++) {
        if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r'))
            msg[n++] = '\r';
        msg[n++] = raw[i];
    }
    struct msg_headers hs = {0};
    size_t body_off;
    fa_err err = {{0}};
    struct fwdchange_footer f = {0};
    int status = 1;
    if (msg_parse(msg, n, &hs, &body_off, &err) < 0) {
        fprintf(stderr, "msg_parse: %s\n", err.msg);
        goto fail;
    }
    const uint8_t *body = (const uint8_t *)msg + body_off;
    size_t blen = n - body_off;

    f.why = "-";
    if (footer) {
        char *text = read_file(footer), *frag = html ? read_file(html) : NULL;
        struct fwdchange_footer_spec spec = {.text = text, .html = frag, .boundary = stem};
        int rc = fwdchange_footer(hs.h, hs.n, body, blen, &spec, &f, &err);
        free(text);
        free(frag);
        if (rc < 0) {
            fprintf(stderr, "fwdchange_footer: %s\n", err.msg);
            goto fail;
        }
    }
    char addname[FWDCHANGE_NAME_MAX + 2] = "", *addvalue = NULL;
    if (add) {
        const char *colon = strchr(add, ':');
        size_t nl = colon ? (size_t)(colon - add) : 0;
        if (!colon || nl > FWDCHANGE_NAME_MAX) {
            fprintf(stderr, "-a NAME:VALUE\n");
            status = 2;
            goto fail;
        }
        memcpy(addname, add, nl);
        addname[nl] = '\0';
        addvalue = (char *)colon + 1;
        if (fwdchange_header_check(addname, addvalue, &err) < 0) {
            fprintf(stderr, "fwdchange_header_check: %s\n", err.msg);
            goto fail;
        }
    }

    /* The header: the Subject tag, then the footer's changes in order (a
     * delete drops every field of the name, a set replaces the first one in
     * place and drops the others, or adds one at the end). */
    const char *subj_state = "-";
    char *subj = NULL;
    int subj_done = 0;
    size_t nh = hs.n;
    const char **newval = calloc(nh + 1, sizeof(*newval)); /* NULL: as is */
    int *drop = calloc(nh + 1, sizeof(*drop));
    for (size_t k = 0; k < f.nhdr; k++) {
        int set = 0;
        for (size_t i = 0; i < nh; i++) {
            if (drop[i] || !msg_header_is(&hs.h[i], f.hdr[k].name))
                continue;
            if (f.hdr[k].value && !set) {
                newval[i] = f.hdr[k].value;
                set = 1;
            } else {
                drop[i] = 1;
            }
        }
    }
    if (tag) {
        for (size_t i = 0; i < nh && !subj_done; i++) {
            if (!msg_header_is(&hs.h[i], "Subject"))
                continue;
            size_t vl = hs.h[i].value_end - hs.h[i].value_off;
            subj = malloc(FWDCHANGE_SUBJECT_ROOM(vl));
            int r = fwdchange_subject(hs.h[i].raw + hs.h[i].value_off, vl, tag, subj,
                                      FWDCHANGE_SUBJECT_ROOM(vl));
            subj_state = r == 1 ? "tagged" : r == 0 ? "already" : "error";
            if (r == 1)
                newval[i] = subj;
            subj_done = 1;
        }
    }
    for (size_t i = 0; i < nh; i++) {
        if (drop[i])
            continue;
        if (newval[i]) {
            char name[1024];
            snprintf(name, sizeof(name), "%.*s", (int)hs.h[i].name_len, hs.h[i].raw);
            put_field(name, newval[i]);
        } else {
            put_crlf(hs.h[i].raw, hs.h[i].len);
            if (hs.h[i].len == 0 || hs.h[i].raw[hs.h[i].len - 1] != '\n')
                fputs("\r\n", stdout);
        }
    }
    for (size_t k = 0; k < f.nhdr; k++) {
        if (!f.hdr[k].value)
            continue;
        int present = 0;
        for (size_t i = 0; i < nh; i++)
            present |= !drop[i] && msg_header_is(&hs.h[i], f.hdr[k].name);
        if (!present)
            put_field(f.hdr[k].name, f.hdr[k].value);
    }
    if (tag && !subj_done) {
        char v[FWDCHANGE_SUBJECT_ROOM(0)];
        int r = fwdchange_subject(NULL, 0, tag, v, sizeof(v));
        subj_state = r == 1 ? "tagged" : "error";
        if (r == 1)
            put_field("Subject", v);
    }
    if (add) {
        char v[FWDCHANGE_LINE_MAX + 2];
        snprintf(v, sizeof(v), " %s", addvalue);
        put_field(addname, v);
    }
    fputs("\r\n", stdout);
    if (f.action != FOOTER_NONE)
        fwrite(f.body, 1, f.len, stdout);
    else
        fwrite(body, 1, blen, stdout);
    fprintf(stderr, "%s\t%s\t%s\n", fwdchange_action_name(f.action), f.why, subj_state);
    free(subj);
    free(newval);
    free(drop);
    status = 0;
fail:
    fwdchange_footer_free(&f);
    free(hs.h);
    free(msg);
    free(raw);
    return status;
}
