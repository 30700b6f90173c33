/* Unit tests for fwdchange: the Subject tag, every footer rule (append,
 * quoted-printable append, HTML insertion, footer part, wrap, none), the
 * MIME header reading, boundary choice, limits and the added-field check.
 * Tests/integration/test_fwdchange.py parses the results with Python. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fwdchange.h"
#include "msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the Subject tag ---- */

static void expect_subject(const char *value, const char *tag, int rc, const char *want)
{
    char out[2048];
    memset(out, 'X', sizeof(out));
    int r = fwdchange_subject(value, value ? strlen(value) : 0, tag, out, sizeof(out));
    if (r != rc)
        fail_msg("subject \"%s\" tag \"%s\": %d, wanted %d", value ? value : "(null)", tag, r, rc);
    if (rc == 1 && strcmp(out, want) != 0)
        fail_msg("subject \"%s\": \"%s\", wanted \"%s\"", value ? value : "(null)", out, want);
    if (rc == 1)
        assert_null(strchr(out, '\r'));
}

static void test_subject_tag(void **state)
{
    (void)state;
    expect_subject(" Hello", "[fwd]", 1, " [fwd] Hello");
    expect_subject("Hello", "[fwd]", 1, " [fwd] Hello");
    expect_subject("  \t Hello  ", "[fwd]", 1, " [fwd] Hello  ");
    /* Folding kept; CRLF becomes the milter's bare LF. */
    expect_subject(" Hello\n world", "[fwd]", 1, " [fwd] Hello\n world");
    expect_subject(" Hello\r\n\tworld", "[fwd]", 1, " [fwd] Hello\n\tworld");
    expect_subject("\r\n Hello", "[fwd]", 1, " [fwd] Hello");
    /* Empty or absent. */
    expect_subject(" ", "[fwd]", 1, " [fwd]");
    expect_subject("", "[fwd]", 1, " [fwd]");
    expect_subject(NULL, "[fwd]", 1, " [fwd]");
    expect_subject(" x", "Fwd by example.net:", 1, " Fwd by example.net: x");
    /* Encoded words stay as they are. */
    expect_subject(" =?UTF-8?Q?J=C3=B6rg?=", "[fwd]", 1, " [fwd] =?UTF-8?Q?J=C3=B6rg?=");
}

static void test_subject_already(void **state)
{
    (void)state;
    expect_subject(" [fwd] Hello", "[fwd]", 0, NULL);
    expect_subject(" [FWD] Hello", "[fwd]", 0, NULL);
    expect_subject("[fwd]", "[fwd]", 0, NULL);
    expect_subject(" [fwd]Hello", "[fwd]", 0, NULL);
    expect_subject("\n [fwd] Hello", "[fwd]", 0, NULL);
    expect_subject(" [fw\n d] x", "[fw d]", 0, NULL); /* read unfolded */
    /* Leading encoded words decoded; white space between two dropped. */
    expect_subject(" =?UTF-8?Q?=5Bfwd=5D_Hello?=", "[fwd]", 0, NULL);
    expect_subject(" =?utf-8?b?W2Z3ZF0gSGVsbG8=?=", "[fwd]", 0, NULL);
    expect_subject(" =?UTF-8?Q?=5Bf?= =?UTF-8?Q?wd=5D?= x", "[fwd]", 0, NULL);
    expect_subject(" =?UTF-8?Q?=5Bf?=\n =?UTF-8?Q?wd=5D?=", "[fwd]", 0, NULL);
    expect_subject(" =?ISO-8859-1?Q?=5Bfwd=5D?=", "[fwd]", 0, NULL);
    /* An encoded word followed by text: the white space between is kept. */
    expect_subject(" =?UTF-8?Q?Fwd?= by x", "Fwd by", 0, NULL);
    expect_subject(" =?UTF-8?Q?Fwd?= by x", "Fwdby", 1, " Fwdby =?UTF-8?Q?Fwd?= by x");
    /* Not the tag. */
    expect_subject(" Re: [fwd] Hello", "[fwd]", 1, " [fwd] Re: [fwd] Hello");
    expect_subject(" [fw", "[fwd]", 1, " [fwd] [fw");
    expect_subject(" =?UTF-8?Q?=5Bfw?=", "[fwd]", 1, " [fwd] =?UTF-8?Q?=5Bfw?=");
    expect_subject(" =?x-unknown?Q?=5Bfwd=5D?=", "[fwd]", 1, " [fwd] =?x-unknown?Q?=5Bfwd=5D?=");
}

static void test_subject_errors(void **state)
{
    (void)state;
    char out[256];
    expect_subject(" x", "", -1, NULL);
    expect_subject(" x", " [fwd]", -1, NULL);
    expect_subject(" x", "[fwd] ", -1, NULL);
    expect_subject(" x", "[f\twd]", -1, NULL);
    expect_subject(" x", "[f\nwd]", -1, NULL);
    expect_subject(" x", "=?UTF-8?Q?x?=", -1, NULL);
    expect_subject(" x", "[f\xc3\xbcr]", -1, NULL);
    char longtag[FWDCHANGE_TAG_MAX + 2];
    memset(longtag, 'a', sizeof(longtag) - 1);
    longtag[FWDCHANGE_TAG_MAX + 1] = '\0';
    expect_subject(" x", longtag, -1, NULL);
    longtag[FWDCHANGE_TAG_MAX] = '\0';
    char want[FWDCHANGE_TAG_MAX + 8];
    snprintf(want, sizeof(want), " %s x", longtag);
    expect_subject(" x", longtag, 1, want);
    /* A bare CR, a NUL. */
    expect_subject(" a\rb", "[fwd]", -1, NULL);
    expect_subject(" ab\r", "[fwd]", -1, NULL);
    assert_int_equal(fwdchange_subject(" a\0b", 4, "[fwd]", out, sizeof(out)), -1);
    /* Out too small: every size below the exact one fails. */
    const char *v = " Hello\r\n world";
    const char *w = " [fwd] Hello\n world";
    for (size_t sz = 0; sz <= strlen(w); sz++)
        assert_int_equal(fwdchange_subject(v, strlen(v), "[fwd]", out, sz), -1);
    assert_int_equal(fwdchange_subject(v, strlen(v), "[fwd]", out, strlen(w) + 1), 1);
    assert_string_equal(out, w);
    assert_true(strlen(w) + 1 <= FWDCHANGE_SUBJECT_ROOM(strlen(v)));
}

static void test_subject_long(void **state)
{
    (void)state;
    /* "Subject:" + " [fwd] " + first line: folded after the tag once it
     * would pass 998 octets; the unfolded text is the same. */
    char v[1200], out[FWDCHANGE_SUBJECT_ROOM(1200)];
    for (size_t first = 980; first <= 1100; first++) {
        v[0] = ' ';
        memset(v + 1, 'a', first);
        memcpy(v + 1 + first, "\n b", 4);
        size_t n = strlen(v);
        assert_int_equal(fwdchange_subject(v, n, "[fwd]", out, sizeof(out)), 1);
        assert_true(strlen(out) + 1 <= FWDCHANGE_SUBJECT_ROOM(n));
        int folded = 8 + 7 + first > 998;
        assert_memory_equal(out, folded ? " [fwd]\n a" : " [fwd] a", folded ? 9 : 8);
        /* Every line of the result within 998 (counting "Subject:"). */
        size_t col = 8;
        for (const char *p = out; *p; p++) {
            col = *p == '\n' ? 0 : col + 1;
            if (first + 8 + 1 <= 998)
                assert_true(col <= 998);
        }
    }
}

/* ---- footers ---- */

#define ASCII_FOOTER "-- \nForwarded by example.net  \n"
#define ASCII_CRLF "-- \r\nForwarded by example.net\r\n"
#define UTF8_FOOTER "Weitergeleitet von example.net \xe2\x80\x94 Gr\xc3\xbc\xc3\x9f"
#define UTF8_CRLF "Weitergeleitet von example.net \xe2\x80\x94 Gr\xc3\xbc\xc3\x9f\r\n"
#define UTF8_QP "Weitergeleitet von example.net =E2=80=94 Gr=C3=BC=C3=9F\r\n"
#define HTML_FOOTER "<p class=\"f\">Forwarded \xe2\x80\x94 gr\xc3\xbc\xc3\x9f</p>\n"
#define HTML_CRLF "<p class=\"f\">Forwarded &#x2014; gr&#xFC;&#xDF;</p>\r\n"
#define HTML_QP "<p class=3D\"f\">Forwarded &#x2014; gr&#xFC;&#xDF;</p>\r\n"

struct run {
    struct msg_headers hs;
    struct fwdchange_footer f;
    char *msg;
    size_t body_off, n;
    int rc;
    fa_err err;
};

/* Parse msg (CRLF) and apply the footer. */
static void run(struct run *r, const char *msg, const char *text, const char *html)
{
    memset(r, 0, sizeof(*r));
    r->n = strlen(msg);
    r->msg = strdup(msg);
    assert_int_equal(msg_parse(r->msg, r->n, &r->hs, &r->body_off, &r->err), 0);
    struct fwdchange_footer_spec spec = {.text = text, .html = html, .boundary = "B0"};
    r->rc = fwdchange_footer(r->hs.h, r->hs.n, (const uint8_t *)r->msg + r->body_off,
                             r->n - r->body_off, &spec, &r->f, &r->err);
}

static void done(struct run *r)
{
    fwdchange_footer_free(&r->f);
    assert_null(r->f.body);
    assert_int_equal(r->f.nhdr, 0);
    free(r->hs.h);
    free(r->msg);
}

static void expect_body(struct run *r, int action, const char *body)
{
    if (r->rc != 0)
        fail_msg("error: %s", r->err.msg);
    if (r->f.action != action)
        fail_msg("action %s (%s), wanted %s", fwdchange_action_name(r->f.action), r->f.why,
                 fwdchange_action_name(action));
    assert_non_null(r->f.why);
    assert_true(r->f.why[0] != '\0');
    if (action == FOOTER_NONE) {
        assert_null(r->f.body);
        assert_int_equal(r->f.len, 0);
        assert_null(r->f.hdr);
        assert_int_equal(r->f.nhdr, 0);
        return;
    }
    if (body && (r->f.len != strlen(body) || memcmp(r->f.body, body, r->f.len) != 0))
        fail_msg("body:\n[%.*s]\nwanted:\n[%s]", (int)r->f.len, r->f.body, body);
}

/* The header changes as "name=value|name|..." (value NULL: name alone). */
static void expect_hdr(struct run *r, const char *want)
{
    char got[1024] = "";
    size_t o = 0;
    for (size_t i = 0; i < r->f.nhdr; i++)
        o += (size_t)snprintf(got + o, sizeof(got) - o, "%s%s%s%s", i ? "|" : "", r->f.hdr[i].name,
                              r->f.hdr[i].value ? "=" : "",
                              r->f.hdr[i].value ? r->f.hdr[i].value : "");
    if (strcmp(got, want) != 0)
        fail_msg("header changes \"%s\", wanted \"%s\"", got, want);
}

static void check_append(const char *head, const char *body, const char *text, const char *want)
{
    char msg[8192];
    snprintf(msg, sizeof(msg), "From: a@example.org\r\n%s\r\n%s", head, body);
    struct run r;
    run(&r, msg, text, NULL);
    expect_body(&r, FOOTER_APPEND, want);
    expect_hdr(&r, "");
    done(&r);
}

static void check_action(const char *head, const char *body, const char *text, const char *html,
                         int action)
{
    char msg[8192];
    snprintf(msg, sizeof(msg), "From: a@example.org\r\n%s\r\n%s", head, body);
    struct run r;
    run(&r, msg, text, html);
    expect_body(&r, action, NULL);
    done(&r);
}

static void test_plain_append(void **state)
{
    (void)state;
    /* No Content-Type: text/plain; charset=us-ascii. */
    check_append("", "Hi\r\n", ASCII_FOOTER, "Hi\r\n" ASCII_CRLF);
    check_append("", "Hi", ASCII_FOOTER, "Hi\r\n" ASCII_CRLF);
    check_append("", "", ASCII_FOOTER, ASCII_CRLF);
    check_append("", "Hi\r\n\r\n", "x\r\ny", "Hi\r\n\r\nx\r\ny\r\n");
    check_append("Content-Type: text/plain\r\n", "Hi\r\n", "\n\nx \t\n", "Hi\r\n\r\n\r\nx\r\n");
    check_append("Content-Type: TEXT/Plain; charset=\"US-ASCII\"; format=flowed\r\n", "Hi\r\n",
                 ASCII_FOOTER, "Hi\r\n" ASCII_CRLF);
    check_append("Content-Type: text/plain; charset=iso-8859-1\r\n"
                 "Content-Transfer-Encoding: 8bit\r\n",
                 "Gr\xfc\xdf\r\n", ASCII_FOOTER, "Gr\xfc\xdf\r\n" ASCII_CRLF);
    check_append("Content-Type: text/plain; charset=windows-1252\r\n", "Hi\r\n", ASCII_FOOTER,
                 "Hi\r\n" ASCII_CRLF);
    check_append("Content-Type: text/plain (plain text);\r\n charset = utf-8 (yes)\r\n"
                 "Content-Transfer-Encoding: 7BIT (seven)\r\n",
                 "Hi\r\n", ASCII_FOOTER, "Hi\r\n" ASCII_CRLF);
    /* A non-ASCII footer: appended to UTF-8 in 8bit or binary only. */
    check_append("Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n",
                 "Gr\xc3\xbc\xc3\x9f\r\n", UTF8_FOOTER, "Gr\xc3\xbc\xc3\x9f\r\n" UTF8_CRLF);
    check_append("Content-Type: text/plain; charset=utf8\r\nContent-Transfer-Encoding: binary\r\n",
                 "x", UTF8_FOOTER, "x\r\n" UTF8_CRLF);
    check_action("Content-Type: text/plain; charset=utf-8\r\n", "Hi\r\n", UTF8_FOOTER, NULL,
                 FOOTER_WRAP);
    check_action("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n",
                 "Hi\r\n", UTF8_FOOTER, NULL, FOOTER_WRAP);
    check_action("", "Hi\r\n", UTF8_FOOTER, NULL, FOOTER_WRAP);
    check_action("Content-Type: text/plain; charset=iso-8859-1\r\n"
                 "Content-Transfer-Encoding: 8bit\r\n",
                 "Hi\r\n", UTF8_FOOTER, NULL, FOOTER_WRAP);
    /* Charsets where ASCII is not ASCII, or that cannot be read. */
    check_action("Content-Type: text/plain; charset=utf-16\r\n", "Hi\r\n", ASCII_FOOTER, NULL,
                 FOOTER_WRAP);
    check_action("Content-Type: text/plain; charset=iso-2022-jp\r\n", "Hi\r\n", ASCII_FOOTER, NULL,
                 FOOTER_WRAP);
    check_action("Content-Type: text/plain; charset*=utf-8''us-ascii\r\n", "Hi\r\n", ASCII_FOOTER,
                 NULL, FOOTER_WRAP);
    check_action("Content-Type: text/plain; charset=us-ascii; charset=utf-16\r\n", "Hi\r\n",
                 ASCII_FOOTER, NULL, FOOTER_WRAP);
    check_action(
        "Content-Type: text/plain; charset=\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaa\"\r\n",
        "Hi\r\n", ASCII_FOOTER, NULL, FOOTER_WRAP);
    /* Other encodings and text types. */
    check_action("Content-Transfer-Encoding: base64\r\n", "SGkK\r\n", ASCII_FOOTER, NULL,
                 FOOTER_WRAP);
    check_action("Content-Transfer-Encoding: x-uuencode\r\n", "Hi\r\n", ASCII_FOOTER, NULL,
                 FOOTER_WRAP);
    check_action("Content-Type: text/calendar\r\n", "Hi\r\n", ASCII_FOOTER, NULL, FOOTER_WRAP);
}

/* Decode quoted-printable s[0..n) into out (soft breaks joined, hard
 * breaks as CRLF); checks that every physical line is within 76. */
static size_t qp_decode(const char *s, size_t n, char *out)
{
    size_t o = 0, col = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n') {
            assert_true(col <= 76);
            col = 0;
            out[o++] = '\r';
            out[o++] = '\n';
            i++;
            continue;
        }
        col++;
        if (s[i] == '=') {
            if (i + 2 < n && s[i + 1] == '\r' && s[i + 2] == '\n') {
                assert_true(col <= 76);
                col = 0;
                i += 2;
                continue;
            }
            assert_true(i + 2 < n);
            unsigned v;
            assert_int_equal(sscanf(s + i + 1, "%2X", &v), 1);
            out[o++] = (char)v;
            i += 2;
            col += 2;
            continue;
        }
        assert_true(s[i] != '\t' || (i + 1 < n && s[i + 1] != '\r'));
        out[o++] = s[i];
    }
    return o;
}

static void test_qp_append(void **state)
{
    (void)state;
    const char *h = "Content-Type: text/plain; charset=utf-8\r\n"
                    "Content-Transfer-Encoding: quoted-printable\r\n";
    check_append(h, "Gr=C3=BC=C3=9F\r\n", UTF8_FOOTER, "Gr=C3=BC=C3=9F\r\n" UTF8_QP);
    check_append(h, "Hi", ASCII_FOOTER, "Hi\r\n--=20\r\nForwarded by example.net\r\n");
    /* A soft line break at the end is ended, so the footer starts a line. */
    check_append(h, "Hi=\r\n", "x", "Hi=\r\n\r\nx\r\n");
    check_append(h, "Hi=", "x", "Hi=\r\n\r\nx\r\n");
    check_append(h, "", "x=y", "x=3Dy\r\n");
    check_append("Content-Type: text/plain; charset=iso-8859-1\r\n"
                 "Content-Transfer-Encoding: Quoted-Printable\r\n",
                 "Gr=FC=DF\r\n", ASCII_FOOTER, "Gr=FC=DF\r\n--=20\r\nForwarded by example.net\r\n");
    check_action("Content-Type: text/plain; charset=iso-8859-1\r\n"
                 "Content-Transfer-Encoding: quoted-printable\r\n",
                 "Hi\r\n", UTF8_FOOTER, NULL, FOOTER_WRAP);
    /* Long lines: soft breaks within 76 octets, decoding gives the text. */
    char text[FWDCHANGE_LINE_MAX + 1] = "";
    for (size_t i = 0; i < 140; i++)
        strcat(text, "a\xc3\xa9=b \t"); /* 7 octets: all the encodings */
    strcat(text, " \t");                /* trailing white space: dropped */
    char msg[8192];
    snprintf(msg, sizeof(msg), "%s\r\nbody\r\n", h);
    struct run r;
    run(&r, msg, text, NULL);
    expect_body(&r, FOOTER_APPEND, NULL);
    char dec[8192];
    size_t dl = qp_decode((const char *)r.f.body, r.f.len, dec);
    dec[dl] = '\0';
    /* Trailing white space of the footer line is dropped. */
    size_t tl = strlen(text);
    while (tl && (text[tl - 1] == ' ' || text[tl - 1] == '\t'))
        tl--;
    assert_int_equal(dl, 6 + tl + 2);
    assert_memory_equal(dec, "body\r\n", 6);
    assert_memory_equal(dec + 6, text, tl);
    done(&r);
}

static void check_html(const char *head, const char *body, const char *want)
{
    char msg[8192];
    snprintf(msg, sizeof(msg), "From: a@example.org\r\n%s\r\n%s", head, body);
    struct run r;
    run(&r, msg, ASCII_FOOTER, HTML_FOOTER);
    expect_body(&r, FOOTER_APPEND, want);
    expect_hdr(&r, "");
    done(&r);
}

static void test_html_insert(void **state)
{
    (void)state;
    const char *h = "Content-Type: text/html; charset=utf-8\r\n";
    check_html(h, "<html><body><p>Hi</p>\r\n</body></html>\r\n",
               "<html><body><p>Hi</p>\r\n" HTML_CRLF "</body></html>\r\n");
    /* The last </body>, any case, mid-line. */
    check_html(h, "<body>x</body><!-- </body> --><p>y</p></BODY >\r\n",
               "<body>x</body><!-- </body> --><p>y</p>\r\n" HTML_CRLF "</BODY >\r\n");
    check_html(h, "<p>Hi</p>", "<p>Hi</p>\r\n" HTML_CRLF);
    check_html(h, "<p>Hi</p></bodyx>", "<p>Hi</p></bodyx>\r\n" HTML_CRLF);
    check_html("Content-Type: text/html\r\nContent-Transfer-Encoding: 8bit\r\n", "</body>",
               HTML_CRLF "</body>");
    /* Quoted-printable: encoded, joined by a soft line break. */
    const char *q = "Content-Type: text/html; charset=iso-8859-1\r\n"
                    "Content-Transfer-Encoding: quoted-printable\r\n";
    check_html(q, "<p class=3D\"x\">Gr=FC=DF</p></body>\r\n",
               "<p class=3D\"x\">Gr=FC=DF</p>=\r\n" HTML_QP "</body>\r\n");
    check_html(q, "<p>x</p>\r\n</body>\r\n", "<p>x</p>\r\n" HTML_QP "</body>\r\n");
    check_html(q, "<p>x=\r\n</p>", "<p>x=\r\n</p>\r\n" HTML_QP);
    check_html(q, "<p>x</p>=</body>", "<p>x</p>=</body>\r\n" HTML_QP); /* broken escape */
    /* Without an HTML footer, in base64 or a foreign charset: a wrap. */
    check_action(h, "<p>Hi</p>\r\n", ASCII_FOOTER, NULL, FOOTER_WRAP);
    check_action("Content-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n",
                 "PHA+SGk8L3A+\r\n", ASCII_FOOTER, HTML_FOOTER, FOOTER_WRAP);
    check_action("Content-Type: text/html; charset=utf-16\r\n", "<p>Hi</p>\r\n", ASCII_FOOTER,
                 HTML_FOOTER, FOOTER_WRAP);
}

#define MIXED_HEAD "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XX\"\r\n"
#define MIXED_BODY                                                                                 \
    "preamble\r\n--XX\r\nContent-Type: text/plain\r\n\r\nHi\r\n--XX\r\n"                           \
    "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"          \
    "AAEC\r\n"
#define TEXT_PART                                                                                  \
    "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n"               \
    "Content-Disposition: inline\r\n\r\n" ASCII_CRLF

static void test_part(void **state)
{
    (void)state;
    struct run r;
    run(&r, MIXED_HEAD "\r\n" MIXED_BODY "--XX--\r\nepilogue\r\n--XX--\r\n", ASCII_FOOTER, NULL);
    expect_body(&r, FOOTER_PART,
                MIXED_BODY "--XX\r\n" TEXT_PART "\r\n--XX--\r\nepilogue\r\n--XX--\r\n");
    expect_hdr(&r, "");
    done(&r);
    /* No MIME-Version: added. Close line with white space, no final CRLF. */
    run(&r, "Content-Type: multipart/mixed; boundary=XX\r\n\r\n" MIXED_BODY "--XX-- \t",
        ASCII_FOOTER, NULL);
    expect_body(&r, FOOTER_PART, MIXED_BODY "--XX\r\n" TEXT_PART "\r\n--XX-- \t");
    expect_hdr(&r, "MIME-Version= 1.0");
    done(&r);
    /* A non-ASCII footer part is quoted-printable; with HTML, an
     * alternative of both. */
    run(&r, MIXED_HEAD "\r\n" MIXED_BODY "--XX--\r\n", UTF8_FOOTER, HTML_FOOTER);
    expect_body(&r, FOOTER_PART,
                MIXED_BODY "--XX\r\n"
                           "Content-Type: multipart/alternative; boundary=\"B0\"\r\n"
                           "Content-Disposition: inline\r\n\r\n"
                           "--B0\r\n"
                           "Content-Type: text/plain; charset=utf-8\r\n"
                           "Content-Transfer-Encoding: quoted-printable\r\n\r\n" UTF8_QP "\r\n"
                           "--B0\r\n"
                           "Content-Type: text/html; charset=utf-8\r\n"
                           "Content-Transfer-Encoding: 7bit\r\n\r\n" HTML_CRLF "\r\n"
                           "--B0--\r\n\r\n--XX--\r\n");
    done(&r);
    /* Bare LF line ends in the body are read too. */
    run(&r, MIXED_HEAD "\r\n--XX\nContent-Type: text/plain\n\nHi\n--XX--\n", "x", NULL);
    expect_body(&r, FOOTER_PART,
                "--XX\nContent-Type: text/plain\n\nHi\n--XX\r\n"
                "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n"
                "Content-Disposition: inline\r\n\r\nx\r\n\r\n--XX--\n");
    done(&r);
    /* RFC 2231 continuations of the boundary are joined. */
    run(&r,
        "Content-Type: multipart/mixed; boundary*1=\"X\";\r\n boundary*0=X\r\n\r\n" MIXED_BODY
        "--XX--\r\n",
        "x", NULL);
    expect_body(&r, FOOTER_PART, NULL);
    done(&r);
}

static void test_wrap(void **state)
{
    (void)state;
    struct run r;
    const char *alt_body = "--A\r\nContent-Type: text/plain\r\n\r\nHi\r\n--A\r\n"
                           "Content-Type: text/html\r\n\r\n<p>Hi</p>\r\n--A--\r\n";
    char msg[4096];
    snprintf(msg, sizeof(msg),
             "From: a@example.org\r\nContent-Type: multipart/alternative;\n boundary=A\r\n"
             "Subject: x\r\ncontent-disposition: inline\r\nContent-ID: <a@b>\r\n"
             "Content-Disposition: inline\r\n\r\n%s",
             alt_body);
    run(&r, msg, ASCII_FOOTER, NULL);
    char want[4096];
    snprintf(want, sizeof(want),
             "--B0\r\nContent-Type: multipart/alternative;\r\n boundary=A\r\n"
             "content-disposition: inline\r\nContent-ID: <a@b>\r\n"
             "Content-Disposition: inline\r\n\r\n%s\r\n--B0\r\n" TEXT_PART "\r\n--B0--\r\n",
             alt_body);
    expect_body(&r, FOOTER_WRAP, want);
    expect_hdr(&r, "content-disposition|Content-ID|Content-Type= multipart/mixed; "
                   "boundary=\"B0\"|MIME-Version= 1.0");
    done(&r);

    /* Signed content stays byte for byte inside. */
    const char *signed_body = "--S\r\nContent-Type: text/plain\r\n\r\nsigned \r\n\r\n--S\r\n"
                              "Content-Type: application/pkcs7-signature\r\n\r\nMIIB\r\n--S--\r\n";
    snprintf(msg, sizeof(msg),
             "MIME-Version: 1.0\r\nContent-Type: multipart/signed; protocol=\"application/"
             "pkcs7-signature\"; micalg=sha-256; boundary=\"S\"\r\n\r\n%s",
             signed_body);
    run(&r, msg, ASCII_FOOTER, HTML_FOOTER);
    expect_body(&r, FOOTER_WRAP, NULL);
    assert_non_null(memmem(r.f.body, r.f.len, signed_body, strlen(signed_body)));
    const char *inner = "--B0\r\nContent-Type: multipart/signed; protocol=\"application/"
                        "pkcs7-signature\"; micalg=sha-256; boundary=\"S\"\r\n\r\n";
    assert_memory_equal(r.f.body, inner, strlen(inner));
    assert_memory_equal(r.f.body + strlen(inner), signed_body, strlen(signed_body));
    /* The alternative footer gets its own boundary, 1_B0. */
    assert_non_null(memmem(r.f.body, r.f.len, "boundary=\"1_B0\"", 15));
    expect_hdr(&r, "Content-Type= multipart/mixed; boundary=\"B0\"");
    done(&r);

    /* Single parts without a Content-* field: an empty part header. */
    run(&r, "From: a@example.org\r\n\r\nHi\r\n", UTF8_FOOTER, NULL);
    expect_body(&r, FOOTER_WRAP,
                "--B0\r\n\r\nHi\r\n\r\n--B0\r\n"
                "Content-Type: text/plain; charset=utf-8\r\n"
                "Content-Transfer-Encoding: quoted-printable\r\n"
                "Content-Disposition: inline\r\n\r\n" UTF8_QP "\r\n--B0--\r\n");
    expect_hdr(&r, "Content-Type= multipart/mixed; boundary=\"B0\"|MIME-Version= 1.0");
    done(&r);

    /* Empty body. */
    run(&r, "Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n", "x", NULL);
    expect_body(&r, FOOTER_WRAP,
                "--B0\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                "\r\n--B0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                "Content-Transfer-Encoding: 7bit\r\nContent-Disposition: inline\r\n\r\n"
                "x\r\n\r\n--B0--\r\n");
    expect_hdr(&r, "Content-Transfer-Encoding|Content-Type= multipart/mixed; "
                   "boundary=\"B0\"|MIME-Version= 1.0");
    done(&r);

    /* 8-bit content: the new multipart says 8bit (or binary) too. */
    run(&r,
        "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8BIT\r\n"
        "\r\nGr\xfc\r\n",
        UTF8_FOOTER, NULL);
    expect_body(&r, FOOTER_WRAP, NULL);
    expect_hdr(&r, "Content-Type= multipart/mixed; boundary=\"B0\"|Content-Transfer-Encoding= "
                   "8bit|MIME-Version= 1.0");
    const char *w8 = "--B0\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
                     "Content-Transfer-Encoding: 8BIT\r\n\r\nGr\xfc\r\n\r\n--B0\r\n";
    assert_true(r.f.len > strlen(w8));
    assert_memory_equal(r.f.body, w8, strlen(w8));
    done(&r);
    run(&r,
        "MIME-Version: 1.0\r\nContent-Transfer-Encoding: binary\r\n"
        "Content-Type: multipart/alternative; boundary=A\r\n\r\n--A\r\n\r\nx\r\n--A--\r\n",
        "x", NULL);
    expect_hdr(&r, "Content-Type= multipart/mixed; boundary=\"B0\"|Content-Transfer-Encoding= "
                   "binary");
    done(&r);

    check_action("Content-Type: message/rfc822\r\n", "From: x@y\r\n\r\nHi\r\n", "x", NULL,
                 FOOTER_WRAP);
    check_action("Content-Type: application/pkcs7-mime; smime-type=enveloped-data; "
                 "name=smime.p7m\r\nContent-Transfer-Encoding: base64\r\n",
                 "MIIB\r\n", "x", NULL, FOOTER_WRAP);
    check_action("Content-Type: multipart/related; boundary=R\r\n",
                 "--R\r\nContent-Type: text/html\r\n\r\nx\r\n--R--\r\n", "x", NULL, FOOTER_WRAP);
    check_action("Content-Type: multipart/report; report-type=delivery-status; boundary=R\r\n",
                 "--R\r\n\r\nx\r\n--R--\r\n", "x", NULL, FOOTER_WRAP);
}

static void test_none(void **state)
{
    (void)state;
    const char *mb = "--XX\r\n\r\nx\r\n--XX--\r\n";
    check_action("Content-Type: text/plain\r\nContent-Type: text/html\r\n", "x", "f", NULL,
                 FOOTER_NONE);
    check_action("Content-Transfer-Encoding: 7bit\r\nContent-Transfer-Encoding: base64\r\n", "x",
                 "f", NULL, FOOTER_NONE);
    static const char *const bad_ct[] = {
        "Content-Type: text\r\n",
        "Content-Type: text/\r\n",
        "Content-Type: /plain\r\n",
        "Content-Type: \r\n",
        "Content-Type: text/plain; charset\r\n",
        "Content-Type: text/plain; charset=\r\n",
        "Content-Type: text/plain; charset=\"utf-8\r\n",
        "Content-Type: text/plain (unterminated\r\n",
        "Content-Type: text/plain x\r\n",
        "Content-Type: text/plain; charset=utf-8 x\r\n",
        "Content-Type: text/pl\xc3\xa4in\r\n",
        "Content-Type: text/plain; =x\r\n",
        "Content-Transfer-Encoding: \r\n",
        "Content-Transfer-Encoding: 7bit x\r\n",
        NULL,
    };
    for (size_t i = 0; bad_ct[i]; i++)
        check_action(bad_ct[i], "x\r\n", "f", NULL, FOOTER_NONE);
    static const char *const bad_mp[] = {
        "Content-Type: multipart/mixed\r\n",
        "Content-Type: multipart/mixed; boundary=\"\"\r\n",
        "Content-Type: multipart/mixed; boundary=\"XX \"\r\n",
        "Content-Type: multipart/mixed; boundary=XX; boundary=XX\r\n",
        "Content-Type: multipart/mixed; boundary=XX; boundary*0=XX\r\n",
        "Content-Type: multipart/mixed; boundary*=''XX\r\n",
        "Content-Type: multipart/mixed; boundary*0*=''XX\r\n",
        "Content-Type: multipart/mixed; boundary*1=XX\r\n",
        "Content-Type: multipart/mixed; boundary*01=XX\r\n",
        "Content-Type: multipart/mixed; boundary=YY\r\n",
        "Content-Type: multipart/alternative; boundary=YY\r\n",
        "Content-Type: multipart/mixed; boundary=XX\r\nContent-Transfer-Encoding: base64\r\n",
        "Content-Type: multipart/signed; boundary=XX\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n",
        NULL,
    };
    for (size_t i = 0; bad_mp[i]; i++)
        check_action(bad_mp[i], mb, "f", NULL, FOOTER_NONE);
    /* The boundary line or the closing line missing, or in the wrong order. */
    const char *mixed = "Content-Type: multipart/mixed; boundary=XX\r\n";
    check_action(mixed, "--XX\r\n\r\nx\r\n", "f", NULL, FOOTER_NONE);
    check_action(mixed, "--XX--\r\n--XX\r\n\r\nx\r\n--XX--\r\n", "f", NULL, FOOTER_NONE);
    check_action(mixed, "--XXY\r\n\r\nx\r\n--XX--\r\n", "f", NULL, FOOTER_NONE);
    check_action(mixed, " --XX\r\n\r\nx\r\n--XX--\r\n", "f", NULL, FOOTER_NONE);
    check_action(mixed, "--XX\r\n\r\nx\r\n--XX--x\r\n", "f", NULL, FOOTER_NONE);
    check_action(mixed, "", "f", NULL, FOOTER_NONE);
    check_action("Content-Type: multipart/alternative; boundary=XX\r\n", "--XX\r\n\r\nx\r\n", "f",
                 NULL, FOOTER_NONE);
    /* A footer holding the message's own boundary line. */
    check_action(mixed, mb, "--XX", NULL, FOOTER_NONE);
    check_action(mixed, mb, "a\n--XX--\nb", NULL, FOOTER_NONE);
    check_action(mixed, mb, "a XX --XX", NULL, FOOTER_PART); /* not at a line's start */
    /* 8-bit octets in a parameter (RFC 6532) are read. */
    check_action("Content-Type: text/plain; name=\"\xc3\xa4\"; x=\xc3\xa4\r\n", "x\r\n", "f", NULL,
                 FOOTER_APPEND);
}

static void test_body_limit(void **state)
{
    (void)state;
    size_t n = FWDCHANGE_BODY_MAX + 1;
    uint8_t *body = malloc(n);
    assert_non_null(body);
    memset(body, 'a', n);
    struct fwdchange_footer_spec spec = {.text = "f"};
    struct fwdchange_footer f;
    fa_err err;
    assert_int_equal(fwdchange_footer(NULL, 0, body, n, &spec, &f, &err), 0);
    assert_int_equal(f.action, FOOTER_NONE);
    assert_string_equal(f.why, "body over 16 MiB");
    assert_null(f.body);
    assert_int_equal(fwdchange_footer(NULL, 0, body, n - 1, &spec, &f, &err), 0);
    assert_int_equal(f.action, FOOTER_APPEND);
    assert_int_equal(f.len, n - 1 + 2 + 3);
    fwdchange_footer_free(&f);
    free(body);
}

static void test_boundaries(void **state)
{
    (void)state;
    struct run r;
    /* The stem occurs in the body: the next candidate. */
    run(&r, "Content-Type: image/png\r\n\r\nB0 1_B0 2_B0\r\n", "x", NULL);
    expect_body(&r, FOOTER_WRAP, NULL);
    expect_hdr(&r, "Content-Type= multipart/mixed; boundary=\"3_B0\"|MIME-Version= 1.0");
    done(&r);
    /* ... or in the footer. */
    run(&r, "Content-Type: image/png\r\n\r\nx\r\n", "B0", NULL);
    expect_hdr(&r, "Content-Type= multipart/mixed; boundary=\"1_B0\"|MIME-Version= 1.0");
    done(&r);
    /* A prefix of the message's own boundary, or prefixed by it: B0 is in
     * the body, 1_B0 starts with the message's 1_B, 2_B0 is free. */
    run(&r,
        "Content-Type: multipart/mixed; boundary=\"1_B\"\r\n\r\n--1_B\r\n\r\nB0\r\n"
        "--1_B--\r\n",
        "x", "<p>x</p>");
    expect_body(&r, FOOTER_PART, NULL);
    assert_non_null(memmem(r.f.body, r.f.len, "boundary=\"2_B0\"", 15));
    done(&r);
    /* Every candidate taken: an error, nothing allocated. */
    char body[1024] = "Content-Type: image/png\r\n\r\nB0";
    for (int k = 1; k < 32; k++)
        snprintf(body + strlen(body), sizeof(body) - strlen(body), " %d_B0", k);
    run(&r, body, "x", NULL);
    assert_int_equal(r.rc, -1);
    assert_int_equal(r.f.action, FOOTER_NONE);
    assert_null(r.f.body);
    assert_int_equal(r.f.nhdr, 0);
    assert_non_null(strstr(r.err.msg, "boundary"));
    done(&r);

    /* Random boundaries: "=_fwdauth_" and 24 hex digits, never the same. */
    const char *msg = "Content-Type: image/png\r\n\r\nx\r\n";
    struct msg_headers hs;
    size_t off;
    fa_err err;
    assert_int_equal(msg_parse(msg, strlen(msg), &hs, &off, &err), 0);
    struct fwdchange_footer_spec spec = {.text = "x"};
    char seen[2][64];
    for (int k = 0; k < 2; k++) {
        struct fwdchange_footer f;
        assert_int_equal(fwdchange_footer(hs.h, hs.n, (const uint8_t *)msg + off, strlen(msg) - off,
                                          &spec, &f, &err),
                         0);
        assert_int_equal(f.action, FOOTER_WRAP);
        const char *v = f.hdr[0].value;
        assert_int_equal(strncmp(v, " multipart/mixed; boundary=\"=_fwdauth_", 38), 0);
        assert_int_equal(strlen(v), 38 + 24 + 1);
        snprintf(seen[k], sizeof(seen[k]), "%s", v);
        fwdchange_footer_free(&f);
    }
    assert_string_not_equal(seen[0], seen[1]);
    free(hs.h);
}

static void expect_spec(const char *text, const char *html, const char *stem, const char *want)
{
    struct fwdchange_footer_spec spec = {.text = text, .html = html, .boundary = stem};
    fa_err err = {{0}};
    int rc = fwdchange_footer_check(&spec, &err);
    if (!want) {
        if (rc != 0)
            fail_msg("\"%s\": %s", text ? text : "(null)", err.msg);
        return;
    }
    if (rc != -1 || !strstr(err.msg, want))
        fail_msg("\"%s\": rc %d \"%s\", wanted \"%s\"", text ? text : "(null)", rc, err.msg, want);
    /* The same refusal from fwdchange_footer, nothing allocated. */
    struct fwdchange_footer f;
    assert_int_equal(fwdchange_footer(NULL, 0, (const uint8_t *)"x", 1, &spec, &f, &err), -1);
    assert_null(f.body);
    assert_int_equal(f.nhdr, 0);
}

static void test_spec_check(void **state)
{
    (void)state;
    expect_spec("x", NULL, NULL, NULL);
    expect_spec(UTF8_FOOTER, HTML_FOOTER, "a-b_c=d", NULL);
    expect_spec("\t-- \r\nx\r\n", NULL, NULL, NULL);
    expect_spec(NULL, NULL, NULL, "no footer text");
    expect_spec("", NULL, NULL, "empty");
    expect_spec(" \t\n\r\n", NULL, NULL, "empty");
    expect_spec("a\rb", NULL, NULL, "control");
    expect_spec("a\x01", NULL, NULL, "control");
    expect_spec("a\x7f", NULL, NULL, "control");
    expect_spec("a\xc2\x85", NULL, NULL, "control"); /* U+0085 */
    expect_spec("a\xc3", NULL, NULL, "not UTF-8");
    expect_spec("a\xc0\xaf", NULL, NULL, "not UTF-8");
    expect_spec("a\xed\xa0\x80", NULL, NULL, "not UTF-8");
    expect_spec("x", "", NULL, "empty");
    expect_spec("x", "<p>\x02</p>", NULL, "control");
    expect_spec("x", NULL, "", "boundary");
    expect_spec("x", NULL, "a b", "boundary");
    expect_spec("x", NULL, "a\"b", "boundary");
    char big[FWDCHANGE_FOOTER_MAX + 2];
    memset(big, 'a', sizeof(big));
    for (size_t i = 100; i < sizeof(big); i += 100)
        big[i] = '\n';
    big[FWDCHANGE_FOOTER_MAX] = '\0';
    expect_spec(big, NULL, NULL, NULL);
    expect_spec("x", big, NULL, NULL);
    big[FWDCHANGE_FOOTER_MAX] = 'a';
    big[FWDCHANGE_FOOTER_MAX + 1] = '\0';
    expect_spec(big, NULL, NULL, "longer than");
    expect_spec("x", big, NULL, "longer than");
    /* Lines: 998 octets fit, 999 do not; HTML counted after references. */
    char line[FWDCHANGE_LINE_MAX + 2];
    memset(line, 'a', sizeof(line));
    line[FWDCHANGE_LINE_MAX] = '\0';
    expect_spec(line, NULL, NULL, NULL);
    line[FWDCHANGE_LINE_MAX] = 'a';
    line[FWDCHANGE_LINE_MAX + 1] = '\0';
    expect_spec(line, NULL, NULL, "line over");
    char hl[400 * 2 + 1];
    for (size_t i = 0; i < 400; i++)
        memcpy(hl + 2 * i, "\xc3\xa9", 2); /* 800 octets, 400 x "&#xE9;" = 2400 */
    hl[800] = '\0';
    expect_spec(hl, NULL, NULL, NULL);
    expect_spec("x", hl, NULL, "line over");
    char stem[FWDCHANGE_STEM_MAX + 2];
    memset(stem, 'b', sizeof(stem));
    stem[FWDCHANGE_STEM_MAX] = '\0';
    expect_spec("x", NULL, stem, NULL);
    stem[FWDCHANGE_STEM_MAX] = 'b';
    stem[FWDCHANGE_STEM_MAX + 1] = '\0';
    expect_spec("x", NULL, stem, "boundary");
}

static void test_header_check(void **state)
{
    (void)state;
    fa_err err;
    assert_int_equal(fwdchange_header_check("X-Forwarded-For", "alice@example.net", &err), 0);
    assert_int_equal(fwdchange_header_check("List-Id", "Fwd <fwd.example.net>", &err), 0);
    assert_int_equal(fwdchange_header_check("X-Note", "gr\xc3\xbc\xc3\x9f\tok", &err), 0);
    assert_int_equal(fwdchange_header_check("X-Note", "", &err), 0);
    static const char *const bad_names[] = {"",
                                            "X Note",
                                            "X:Note",
                                            "X\xc3\xa4",
                                            "Content-Type",
                                            "content-disposition",
                                            "MIME-Version",
                                            "DKIM-Signature",
                                            "ARC-Seal",
                                            "Authentication-Results",
                                            "from",
                                            "Subject",
                                            NULL};
    for (size_t i = 0; bad_names[i]; i++)
        if (fwdchange_header_check(bad_names[i], "x", &err) != -1)
            fail_msg("name \"%s\" accepted", bad_names[i]);
    assert_int_equal(fwdchange_header_check("X-Note", "a\nb", &err), -1);
    assert_int_equal(fwdchange_header_check("X-Note", "a\rb", &err), -1);
    assert_int_equal(fwdchange_header_check("X-Note", "a\xc3", &err), -1);
    char name[FWDCHANGE_NAME_MAX + 2];
    memset(name, 'N', sizeof(name));
    name[FWDCHANGE_NAME_MAX] = '\0';
    assert_int_equal(fwdchange_header_check(name, "x", &err), 0);
    name[FWDCHANGE_NAME_MAX] = 'N';
    name[FWDCHANGE_NAME_MAX + 1] = '\0';
    assert_int_equal(fwdchange_header_check(name, "x", &err), -1);
    char value[FWDCHANGE_LINE_MAX + 1];
    memset(value, 'v', sizeof(value));
    value[FWDCHANGE_LINE_MAX - 6 - 2] = '\0'; /* "X-Note: " + value = 998 */
    assert_int_equal(fwdchange_header_check("X-Note", value, &err), 0);
    value[FWDCHANGE_LINE_MAX - 6 - 2] = 'v';
    value[FWDCHANGE_LINE_MAX - 6 - 1] = '\0';
    assert_int_equal(fwdchange_header_check("X-Note", value, &err), -1);
}

static void test_action_names(void **state)
{
    (void)state;
    assert_string_equal(fwdchange_action_name(FOOTER_NONE), "none");
    assert_string_equal(fwdchange_action_name(FOOTER_APPEND), "append");
    assert_string_equal(fwdchange_action_name(FOOTER_PART), "part");
    assert_string_equal(fwdchange_action_name(FOOTER_WRAP), "wrap");
    assert_string_equal(fwdchange_action_name(42), "none");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subject_tag),    cmocka_unit_test(test_subject_already),
        cmocka_unit_test(test_subject_errors), cmocka_unit_test(test_subject_long),
        cmocka_unit_test(test_plain_append),   cmocka_unit_test(test_qp_append),
        cmocka_unit_test(test_html_insert),    cmocka_unit_test(test_part),
        cmocka_unit_test(test_wrap),           cmocka_unit_test(test_none),
        cmocka_unit_test(test_body_limit),     cmocka_unit_test(test_boundaries),
        cmocka_unit_test(test_spec_check),     cmocka_unit_test(test_header_check),
        cmocka_unit_test(test_action_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
