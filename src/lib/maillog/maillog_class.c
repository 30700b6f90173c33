/* maillog_class - the table of why receivers refuse mail (see maillog_class.h). */
#include "maillog_class.h"

#include <string.h>
#include <strings.h>

/*
 * First match wins, so specific codes come before the words, and the words
 * before the generic classes. Codes are subject.detail (RFC 3463): the
 * class digit (4 or 5) is the status, not the reason. Sources: Microsoft's
 * NDR reference (5.7.509, 5.7.515, 5.7.23), Gmail's SMTP error reference
 * (5.7.26-5.7.32), Yahoo's postmaster pages (5.7.9), RFC 7372 (5.7.20-27).
 */
static const struct ml_rule rules[] = {
    {ML_CAT_DMARC, "7.509", NULL, "Microsoft: sending domain does not pass DMARC (p=reject)"},
    {ML_CAT_BULK, "7.515", NULL, "Microsoft: sender lacks the authentication bulk senders need"},
    {ML_CAT_DMARC, "7.26", NULL, "Gmail: unauthenticated, DMARC policy of the sending domain"},
    {ML_CAT_SPF, "7.27", NULL, "Gmail: SPF does not pass for the sending domain"},
    {ML_CAT_DKIM, "7.30", NULL, "Gmail: DKIM does not pass"},
    {ML_CAT_ALIGNMENT, "7.32", NULL, "Gmail: From domain not aligned with SPF or DKIM"},
    {ML_CAT_DMARC, "7.9", NULL, "Yahoo/AOL: not accepted for policy reasons (DMARC)"},
    {ML_CAT_SPF, "7.23", NULL, "SPF validation failed (RFC 7372)"},
    {ML_CAT_SPF, "7.24", NULL, "SPF validation error (RFC 7372)"},
    {ML_CAT_DKIM, "7.20", NULL, "no passing DKIM signature (RFC 7372)"},
    {ML_CAT_DKIM, "7.21", NULL, "no acceptable DKIM signature (RFC 7372)"},
    {ML_CAT_DKIM, "7.22", NULL, "no valid author-matched DKIM signature (RFC 7372)"},
    {ML_CAT_DMARC, NULL, "dmarc", "reply names DMARC"},
    {ML_CAT_ALIGNMENT, NULL, "alignment", "reply names alignment"},
    {ML_CAT_SPF, NULL, "spf", "reply names SPF"},
    {ML_CAT_SPF, NULL, "sender policy framework", "reply names SPF"},
    {ML_CAT_DKIM, NULL, "dkim", "reply names DKIM"},
    {ML_CAT_MAILBOX, "1.1", NULL, "no such mailbox"},
    {ML_CAT_MAILBOX, "1.10", NULL, "recipient address has a null MX"},
    {ML_CAT_MAILBOX, "2.1", NULL, "mailbox disabled"},
    {ML_CAT_MAILBOX, "2.2", NULL, "mailbox full"},
    {ML_CAT_MAILBOX, NULL, "user unknown", "no such mailbox"},
    {ML_CAT_MAILBOX, NULL, "mailbox full", "mailbox full"},
    {ML_CAT_POLICY, "7.*", NULL, "refused by the receiver's policy (spam, reputation, blocklist)"},
    {ML_CAT_MAILBOX, "1.*", NULL, "bad recipient address"},
    {ML_CAT_MAILBOX, "2.*", NULL, "mailbox problem"},
};

static int code_matches(const char *rule, const char *dsn, size_t dsnlen)
{
    /* dsn is "C.SSS.DDD": compare what follows "C." */
    if (dsnlen < 3 || dsn[1] != '.')
        return 0;
    const char *sd = dsn + 2;
    size_t n = dsnlen - 2, rn = strlen(rule);
    if (rn >= 2 && rule[rn - 1] == '*') /* "7.*": the subject only */
        return n >= rn - 1 && memcmp(sd, rule, rn - 1) == 0;
    return n == rn && memcmp(sd, rule, n) == 0;
}

/* word as a whole word (letters on neither side), ASCII case-insensitively. */
static int has_word(const char *s, size_t n, const char *word)
{
    size_t wn = strlen(word);
    for (size_t i = 0; i + wn <= n; i++) {
        if (strncasecmp(s + i, word, wn) != 0)
            continue;
        int before = i > 0 && ((s[i - 1] | 0x20) >= 'a' && (s[i - 1] | 0x20) <= 'z');
        int after = i + wn < n && ((s[i + wn] | 0x20) >= 'a' && (s[i + wn] | 0x20) <= 'z');
        if (!before && !after)
            return 1;
    }
    return 0;
}

const struct ml_rule *maillog_classify(const char *dsn, size_t dsnlen, const char *reply,
                                       size_t replylen, int temporary)
{
    static const struct ml_rule deferral = {ML_CAT_DEFERRAL, NULL, NULL,
                                            "temporary failure, Postfix retries"};
    static const struct ml_rule other = {ML_CAT_OTHER, NULL, NULL, "permanent failure"};
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        const struct ml_rule *r = &rules[i];
        if (r->code && (!dsn || !code_matches(r->code, dsn, dsnlen)))
            continue;
        if (r->word && (!reply || !has_word(reply, replylen, r->word)))
            continue;
        /* A deferral for a generic reason is a deferral, not a policy verdict. */
        if (temporary && r->code && strchr(r->code, '*'))
            break;
        return r;
    }
    return temporary ? &deferral : &other;
}

const char *maillog_category_name(enum ml_category c)
{
    static const char *const names[ML_CAT_COUNT] = {
        "dmarc", "spf", "dkim", "alignment", "bulk", "policy", "mailbox", "deferral", "other",
    };
    return (unsigned)c < ML_CAT_COUNT ? names[c] : "other";
}

int maillog_category_is_auth(enum ml_category c)
{
    return c == ML_CAT_DMARC || c == ML_CAT_SPF || c == ML_CAT_DKIM || c == ML_CAT_ALIGNMENT ||
           c == ML_CAT_BULK;
}
