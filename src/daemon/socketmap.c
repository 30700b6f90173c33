/* socketmap - Postfix socketmap_table(5) request handler; see socketmap.h. */
#include "socketmap.h"

#include "netstring.h"

#include <string.h>

/* Frame "word[ text]" as a netstring into reply. */
static int frame(char *reply, size_t replysz, const char *word, const char *text, size_t tlen)
{
    char payload[SOCKETMAP_REPLY_MAX];
    size_t wl = strlen(word);
    if (wl + tlen > sizeof(payload))
        return -1;
    memcpy(payload, word, wl);
    memcpy(payload + wl, text, tlen);
    return netstring_encode((const uint8_t *)payload, wl + tlen, (uint8_t *)reply, replysz);
}

/* A request we cannot serve: note why (with at most 64 octets of what was
 * asked, for the log) and answer PERM text. */
static int bad_request(struct lookup_note *note, const char *why, const char *what, size_t len,
                       const char *text, char *reply, size_t replysz)
{
    note->kind = LOOKUP_BADREQ;
    note->why = why;
    note->key = what;
    note->key_len = len > 64 ? 64 : len;
    return frame(reply, replysz, "PERM ", text, strlen(text));
}

int socketmap_handle(const srs *s, time_t now, const uint8_t *req, size_t n, char *reply,
                     size_t replysz, struct lookup_note *note)
{
    lookup_note_init(note);
    if (replysz < SOCKETMAP_REPLY_MAX)
        return -1;
    const char *r = (const char *)req;
    const char *sp = memchr(r, ' ', n);
    if (!sp)
        return bad_request(note, "malformed request: no space between map name and key", r, n,
                           "malformed request", reply, replysz);
    size_t nlen = (size_t)(sp - r);
    const char *key = sp + 1;
    size_t klen = n - nlen - 1;
    int dir;
    if (nlen == 7 && memcmp(r, "forward", 7) == 0) {
        dir = LOOKUP_FORWARD;
    } else if (nlen == 7 && memcmp(r, "reverse", 7) == 0) {
        dir = LOOKUP_REVERSE;
    } else {
        return bad_request(note, "unknown map name", r, nlen, "unknown map", reply, replysz);
    }
    char out[SRS_ADDR_MAX];
    switch (lookup_srs(s, dir, key, klen, now, out, sizeof(out), note)) {
    case LOOKUP_FOUND: {
        int m = frame(reply, replysz, "OK ", out, note->result_len);
        if (m > 0) {
            /* Point the note at the reply, which outlives out[]. */
            note->result = reply + (size_t)m - 1 - note->result_len;
        }
        return m;
    }
    case LOOKUP_NOTFOUND:
        return frame(reply, replysz, "NOTFOUND ", "", 0);
    default: {
        /* The store's own words stay in our log; Postfix logs this. */
        const char *msg =
            note->reason == SRS_R_STORE_FAILED ? "SRS store unavailable" : "internal error";
        return frame(reply, replysz, "TEMP ", msg, strlen(msg));
    }
    }
}
