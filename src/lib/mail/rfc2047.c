/* rfc2047 - RFC 2047 encoded words to UTF-8, and UTF-8 sequences; see rfc2047.h. */
#include "rfc2047.h"

#include "b64.h"

#include <errno.h>
#include <iconv.h>
#include <string.h>
#include <strings.h>

static const char *const utf8_names[] = {"utf-8", "utf8", "us-ascii", "ascii", NULL};
static const char *const latin1_names[] = {"iso-8859-1", "iso_8859-1", "latin1", "latin-1",
                                           "l1",         "iso8859-1",  NULL};

static int in_list(const char *s, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (strcasecmp(s, list[i]) == 0)
            return 1;
    return 0;
}

long rfc2047_to_utf8(const char *charset, const uint8_t *bin, size_t n, char *out, size_t outsz)
{
    static const char repl[] = "\xEF\xBF\xBD"; /* U+FFFD */
    size_t o = 0;
    if (in_list(charset, utf8_names)) {
        o = n < outsz ? n : outsz;
        if (o)
            memcpy(out, bin, o); /* the caller validates UTF-8 */
        return (long)o;
    }
    if (in_list(charset, latin1_names)) {
        for (size_t i = 0; i < n && o + 2 <= outsz; i++) {
            if (bin[i] < 0x80) {
                out[o++] = (char)bin[i];
            } else {
                out[o++] = (char)(0xC0 | (bin[i] >> 6));
                out[o++] = (char)(0x80 | (bin[i] & 0x3F));
            }
        }
        return (long)o;
    }
    iconv_t cd = iconv_open("UTF-8", charset);
    if (cd == (iconv_t)-1)
        return -1;
    char *in = (char *)bin, *op = out;
    size_t inleft = n, outleft = outsz;
    while (inleft > 0) {
        if (iconv(cd, &in, &inleft, &op, &outleft) != (size_t)-1)
            break;
        if (errno == E2BIG || outleft < 3)
            break; /* out is full */
        /* EILSEQ: an octet that is not a character; EINVAL: a character cut
         * at the end. Either way U+FFFD, and on after one octet. */
        memcpy(op, repl, 3);
        op += 3;
        outleft -= 3;
        in++;
        inleft--;
    }
    iconv(cd, NULL, NULL, &op, &outleft); /* the shift back of stateful charsets */
    iconv_close(cd);
    return (long)(op - out);
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int hexval(char c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

long rfc2047_decode_word(const char *s, size_t n, char *out, size_t outsz)
{
    if (n < 8 || s[0] != '=' || s[1] != '?' || s[n - 2] != '?' || s[n - 1] != '=')
        return -1;
    const char *cs = s + 2, *q1 = memchr(cs, '?', n - 4);
    if (!q1 || q1 + 3 > s + n - 2 || q1[2] != '?')
        return -1;
    char enc = (char)(q1[1] | 0x20);
    const char *text = q1 + 3, *end = s + n - 2;
    if (enc != 'b' && enc != 'q')
        return -1;
    for (const char *p = text; p < end; p++)
        if (*p == '?' || (unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
            return -1;
    /* The charset, without an RFC 2231 language ("UTF-8*en"). */
    char charset[41];
    size_t cl = 0;
    for (const char *p = cs; p < q1 && *p != '*'; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_' || c == '.' || c == ':';
        if (!ok || cl + 1 >= sizeof(charset))
            return -1;
        charset[cl++] = c;
    }
    if (cl == 0)
        return -1;
    charset[cl] = '\0';

    /* Decode no more than the caller can keep. */
    uint8_t bin[RFC2047_BIN_MAX];
    size_t binmax = outsz < sizeof(bin) ? outsz : sizeof(bin);
    if (binmax == 0)
        binmax = 1;
    size_t tl = (size_t)(end - text), bl = 0;
    if (enc == 'b') {
        if (tl > B64_ENCODED_LEN(binmax) - 4)
            tl = (B64_ENCODED_LEN(binmax) - 4) & ~(size_t)3;
        int r = b64_decode(text, tl, bin, binmax);
        if (r < 0)
            return -1;
        bl = (size_t)r;
    } else {
        for (size_t i = 0; i < tl && bl < binmax; i++) {
            char c = text[i];
            if (c == '_') {
                bin[bl++] = ' ';
            } else if (c == '=' && i + 2 < tl && is_hex(text[i + 1]) && is_hex(text[i + 2])) {
                bin[bl++] = (uint8_t)(hexval(text[i + 1]) << 4 | hexval(text[i + 2]));
                i += 2;
            } else {
                bin[bl++] = (uint8_t)c; /* a lone "=" is kept, as decoders do */
            }
        }
    }
    return rfc2047_to_utf8(charset, bin, bl, out, outsz);
}

size_t rfc2047_utf8_char(const unsigned char *s, size_t n, uint32_t *cp)
{
    if (n == 0)
        return 0;
    unsigned char c = s[0];
    size_t len;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        len = 2, v = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3, v = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = v << 6 | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return len;
}
