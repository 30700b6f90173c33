/* lookup - one SRS table lookup and how to log it; see lookup.h. */
#include "lookup.h"

#include <string.h>

void lookup_note_init(struct lookup_note *note)
{
    memset(note, 0, sizeof(*note));
    note->kind = LOOKUP_NOTFOUND;
}

const char *lookup_dir_name(int dir)
{
    return dir == LOOKUP_FORWARD ? "forward" : "reverse";
}

int lookup_srs(const srs *s, int dir, const char *key, size_t len, time_t now, char *out,
               size_t outsz, struct lookup_note *note)
{
    note->dir = dir;
    note->key = key;
    note->key_len = len;
    note->result = NULL;
    note->result_len = 0;
    note->why = NULL;
    note->reason = SRS_R_NONE;
    if (len > LOOKUP_KEY_MAX) {
        note->why = "key too long";
        return note->kind = LOOKUP_NOTFOUND;
    }
    if (memchr(key, '\0', len)) {
        note->why = "NUL byte in key";
        return note->kind = LOOKUP_NOTFOUND;
    }
    struct srs_why why;
    /* The canonical maps see only the address: the default SRS domain. */
    int rc = dir == LOOKUP_FORWARD ? srs_forward_ex(s, NULL, 0, key, len, now, out, outsz, &why)
                                   : srs_reverse_ex(s, key, len, now, out, outsz, &why);
    note->reason = why.reason;
    if (rc == SRS_OK) {
        size_t n = strnlen(out, outsz);
        if (n == 0 || n == outsz) {
            note->why = "empty or unterminated result";
            return note->kind = LOOKUP_TEMP;
        }
        if (n == len && memcmp(out, key, n) == 0) {
            note->why = "address unchanged";
            return note->kind = LOOKUP_NOTFOUND;
        }
        note->result = out;
        note->result_len = n;
        return note->kind = LOOKUP_FOUND;
    }
    _Static_assert(sizeof(note->detail) == sizeof(why.detail), "lookup_note.detail");
    if (why.text == why.detail) {
        memcpy(note->detail, why.detail, sizeof(note->detail));
        note->why = note->detail;
    } else {
        note->why = why.text ? why.text : "no reason given";
    }
    return note->kind = rc == SRS_UNCHANGED ? LOOKUP_NOTFOUND : LOOKUP_TEMP;
}

int lookup_log_level(const struct lookup_note *note)
{
    switch (note->kind) {
    case LOOKUP_NOTFOUND:
        switch (note->reason) {
        case SRS_R_TOO_LONG:
        case SRS_R_UNKNOWN_KEY:
            return FA_LOG_INFO;
        case SRS_R_NO_STORE:
            return FA_LOG_WARNING;
        case SRS_R_BAD_VALUE:
            return FA_LOG_ERROR;
        default:
            return FA_LOG_DEBUG;
        }
    case LOOKUP_TEMP:
        return FA_LOG_ERROR;
    case LOOKUP_BADREQ:
        return FA_LOG_WARNING;
    default:
        return FA_LOG_DEBUG;
    }
}
