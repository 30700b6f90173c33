/* tcptable - Postfix tcp_table(5) request handler; see tcptable.h. */
#include "tcptable.h"

#include <string.h>

int tcptable_frame(const uint8_t *buf, size_t n, size_t *linelen, size_t *consumed)
{
    size_t lim = n < TCPTABLE_LINE_MAX ? n : TCPTABLE_LINE_MAX;
    const uint8_t *nl = memchr(buf, '\n', lim);
    if (!nl)
        return n >= TCPTABLE_LINE_MAX ? TCPTABLE_TOO_LONG : TCPTABLE_NEED_MORE;
    size_t len = (size_t)(nl - buf);
    *consumed = len + 1;
    if (len > 0 && buf[len - 1] == '\r')
        len--;
    *linelen = len;
    return TCPTABLE_LINE;
}

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int tcptable_decode(const uint8_t *in, size_t n, char *out, size_t outsz)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = in[i];
        if (c == '%') {
            if (n - i < 3)
                return -1;
            int h = hexval(in[i + 1]), l = hexval(in[i + 2]);
            if (h < 0 || l < 0)
                return -1;
            c = (uint8_t)(h * 16 + l);
            i += 2;
        }
        if (o >= outsz)
            return -1;
        out[o++] = (char)c;
    }
    return (int)o;
}

static int needs_quoting(uint8_t c)
{
    /* Postfix: '%', white space and non-printable characters (8-bit too). */
    return c == '%' || c <= ' ' || c >= 0x7f;
}

int tcptable_encode(const char *in, size_t n, char *out, size_t outsz)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)in[i];
        if (needs_quoting(c)) {
            if (o > outsz || outsz - o < 3)
                return -1;
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        } else {
            if (o >= outsz)
                return -1;
            out[o++] = (char)c;
        }
    }
    return (int)o;
}

static int reply_text(char *reply, size_t replysz, const char *code, const char *text)
{
    size_t cl = strlen(code), tl = strlen(text);
    if (cl + 1 + tl + 1 > replysz)
        return -1;
    memcpy(reply, code, cl);
    reply[cl] = ' ';
    memcpy(reply + cl + 1, text, tl);
    reply[cl + 1 + tl] = '\n';
    return (int)(cl + tl + 2);
}

int tcptable_handle(const srs *s, int dir, time_t now, const uint8_t *line, size_t n, char *reply,
                    size_t replysz, struct lookup_note *note)
{
    lookup_note_init(note);
    note->dir = dir;
    if (replysz < TCPTABLE_LINE_MAX)
        return -1;
    char key[TCPTABLE_LINE_MAX];
    int klen = -1;
    if (n > 4 && memcmp(line, "get ", 4) == 0)
        klen = tcptable_decode(line + 4, n - 4, key, sizeof(key));
    if (klen <= 0) {
        note->kind = LOOKUP_BADREQ;
        note->why = "malformed request";
        note->key = (const char *)line;
        note->key_len = n > 64 ? 64 : n;
        return reply_text(reply, replysz, "500", "malformed request");
    }
    char out[SRS_ADDR_MAX];
    switch (lookup_srs(s, dir, key, (size_t)klen, now, out, sizeof(out), note)) {
    case LOOKUP_FOUND: {
        memcpy(reply, "200 ", 4);
        int e = tcptable_encode(note->result, note->result_len, reply + 4, TCPTABLE_LINE_MAX - 5);
        if (e < 0) {
            note->kind = LOOKUP_TEMP;
            note->why = "result too long for tcp_table";
            return reply_text(reply, replysz, "400", "result too long");
        }
        reply[4 + e] = '\n';
        /* key[] and out[] end with this call: the note points at the
         * request line and the reply, both encoded. */
        note->key = (const char *)line + 4;
        note->key_len = n - 4;
        note->result = reply + 4;
        note->result_len = (size_t)e;
        return e + 5;
    }
    case LOOKUP_NOTFOUND:
        note->key = (const char *)line + 4;
        note->key_len = n - 4;
        return reply_text(reply, replysz, "500", "not found");
    default:
        note->key = (const char *)line + 4;
        note->key_len = n - 4;
        return reply_text(reply, replysz, "400",
                          note->reason == SRS_R_STORE_FAILED ? "SRS store unavailable"
                                                             : "temporary failure");
    }
}
