/* Messages signed, sealed and verified in memory, for the unit tests of
 * dkim, arc and arrival: keys made in the test and published in zone text, a message parsed once
 * and its body streamed in small pieces, as the milter receives it. Every failure fails the test.
 * A test that needs a resolver includes test_zone.h too.
 * Include after <cmocka.h>; the test links the auth layer (or one above).
 * The functions are static inline: a test uses some of them. */
#ifndef FWDAUTH_TEST_MAIL_H
#define FWDAUTH_TEST_MAIL_H

#include "arc.h"
#include "dkim.h"
#include "dns.h"
#include "keys.h"
#include "msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A message parsed in place: text is owned, hs.h points into it. */
struct tmsg {
    char *text;
    size_t len;
    struct msg_headers hs;
    size_t body;
};

static inline void tmsg_parse(struct tmsg *m, const char *text)
{
    fa_err err;
    m->len = strlen(text);
    m->text = malloc(m->len + 1);
    assert_non_null(m->text);
    memcpy(m->text, text, m->len + 1);
    m->hs = (struct msg_headers){0};
    if (msg_parse(m->text, m->len, &m->hs, &m->body, &err) < 0)
        fail_msg("msg_parse: %s", err.msg);
}

static inline void tmsg_free(struct tmsg *m)
{
    free(m->hs.h);
    free(m->text);
}

/* The body in pieces of 7 octets: every CR LF and every white-space run
 * gets split somewhere, as a stream does. */
#define TMSG_FEED(m, fn, obj)                                                                      \
    do {                                                                                           \
        for (size_t off_ = (m)->body; off_ < (m)->len; off_ += 7) {                                \
            size_t n_ = (m)->len - off_ < 7 ? (m)->len - off_ : 7;                                 \
            fn((obj), (const uint8_t *)(m)->text + off_, n_);                                      \
        }                                                                                          \
    } while (0)

/* fields[0..n) (each ending with its line break), then text; malloc'd. */
static inline char *prepend_fields(char *const *fields, size_t n, const char *text)
{
    size_t len = strlen(text) + 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(fields[i]);
    char *out = malloc(len), *o = out;
    assert_non_null(out);
    for (size_t i = 0; i < n; i++)
        o += sprintf(o, "%s", fields[i]);
    strcpy(o, text);
    return out;
}

/* text with every occurrence of from (at least one) replaced by to; malloc'd. */
static inline char *replace(const char *text, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to), n = 0;
    for (const char *p = strstr(text, from); p; p = strstr(p + fl, from))
        n++;
    if (n == 0)
        fail_msg("\"%s\" is not in the message", from);
    char *out = malloc(strlen(text) + n * tl + 1), *o = out;
    assert_non_null(out);
    const char *p = text, *q;
    while ((q = strstr(p, from))) {
        memcpy(o, p, (size_t)(q - p));
        o += q - p;
        memcpy(o, to, tl);
        o += tl;
        p = q + fl;
    }
    strcpy(o, p);
    return out;
}

static inline struct fa_key *test_key(int type)
{
    fa_err err;
    struct fa_key *k = key_generate(type, type == KEY_RSA ? 1024 : 0, &err);
    if (!k)
        fail_msg("key_generate: %s", err.msg);
    return k;
}

/* Append the key's record for selector._domainkey.domain to zone (a
 * buffer of zsz octets holding zone text). */
static inline void zone_add_key(char *zone, size_t zsz, const struct fa_key *k,
                                const char *selector, const char *domain)
{
    size_t used = strlen(zone);
    int n = key_dns_zone_line(k, selector, domain, zone + used, zsz - used - 1);
    assert_true(n > 0);
    strcat(zone, "\n");
}

/* text with the DKIM-Signature fields of specs[0..n) on top; malloc'd. */
static inline char *dkim_sign_text(const char *text, const struct dkim_sign_spec *specs, size_t n)
{
    struct tmsg m;
    tmsg_parse(&m, text);
    fa_err err;
    struct dkim_signer *s = dkim_signer_new(specs, n, &err);
    if (!s)
        fail_msg("dkim_signer_new: %s", err.msg);
    TMSG_FEED(&m, dkim_signer_body, s);
    char *fields[DKIM_MAX_SIGS];
    const char *eol = strstr(text, "\r\n") ? "\r\n" : "\n";
    if (dkim_signer_finish(s, m.hs.h, m.hs.n, eol, fields, &err) < 0)
        fail_msg("dkim_signer_finish: %s", err.msg);
    dkim_signer_free(s);
    char *out = prepend_fields(fields, n, text);
    for (size_t i = 0; i < n; i++)
        free(fields[i]);
    tmsg_free(&m);
    return out;
}

/* Every DKIM-Signature of text, checked at now; the number of results. */
static inline size_t dkim_verify_text(const char *text, struct dns *dns, time_t now,
                                      struct dkim_sig_result *out)
{
    struct tmsg m;
    tmsg_parse(&m, text);
    fa_err err;
    struct dkim_verifier *v = dkim_verifier_new(m.hs.h, m.hs.n, now, &err);
    if (!v)
        fail_msg("dkim_verifier_new: %s", err.msg);
    TMSG_FEED(&m, dkim_verifier_body, v);
    size_t n = dkim_verifier_finish(v, dns, out, DKIM_MAX_SIGS);
    dkim_verifier_free(v);
    tmsg_free(&m);
    return n;
}

/* The one DKIM result of a message that carries one signature. */
static inline struct dkim_sig_result dkim_verify_one(const char *text, struct dns *dns, time_t now)
{
    struct dkim_sig_result r[DKIM_MAX_SIGS];
    assert_int_equal(dkim_verify_text(text, dns, now, r), 1);
    return r[0];
}

/* The ARC chain of text, validated at now. */
static inline void arc_verify_text(const char *text, struct dns *dns, time_t now,
                                   struct arc_result *out)
{
    struct tmsg m;
    tmsg_parse(&m, text);
    fa_err err;
    struct arc_verifier *v = arc_verifier_new(m.hs.h, m.hs.n, now, &err);
    if (!v)
        fail_msg("arc_verifier_new: %s", err.msg);
    TMSG_FEED(&m, arc_verifier_body, v);
    arc_verifier_finish(v, dns, out);
    arc_verifier_free(v);
    tmsg_free(&m);
}

/* Seal text with sp at now: the sealer's return code; *out (malloc'd) is
 * the message with the new set on top when sealed, else NULL; *chain is
 * the chain as validated; err says why nothing was added. */
static inline int arc_seal_text(const char *text, const struct arc_seal_spec *sp, struct dns *dns,
                                time_t now, char **out, struct arc_result *chain, fa_err *err)
{
    struct tmsg m;
    tmsg_parse(&m, text);
    struct arc_sealer *s = arc_sealer_new(sp, m.hs.h, m.hs.n, now, err);
    if (!s)
        fail_msg("arc_sealer_new: %s", err->msg);
    TMSG_FEED(&m, arc_sealer_body, s);
    char *fields[3];
    const char *eol = strstr(text, "\r\n") ? "\r\n" : "\n";
    int rc = arc_sealer_finish(s, dns, eol, chain, fields, err);
    *out = rc == ARC_SEALED ? prepend_fields(fields, 3, text) : NULL;
    if (rc == ARC_SEALED)
        for (int i = 0; i < 3; i++)
            free(fields[i]);
    arc_sealer_free(s);
    tmsg_free(&m);
    return rc;
}

#endif
