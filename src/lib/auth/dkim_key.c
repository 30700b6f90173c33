/* dkim_key - DKIM key records: read, fetch; see dkim_key.h. */
#include "dkim_key.h"

#include "tags.h"

#include <stdio.h>
#include <string.h>

const char *dkim_result_name(int result)
{
    static const char *const names[] = {"none",   "pass",      "fail",     "neutral",
                                        "policy", "temperror", "permerror"};
    return result >= 0 && result <= DKIM_PERMERROR ? names[result] : "?";
}

const char *dkim_alg_name(int alg)
{
    switch (alg) {
    case DKIM_RSA_SHA256:
        return "rsa-sha256";
    case DKIM_ED25519_SHA256:
        return "ed25519-sha256";
    case DKIM_RSA_SHA1:
        return "rsa-sha1";
    default:
        return "unknown";
    }
}

static struct fa_key *key_problem(struct dkim_key_info *info, int problem, const char **why,
                                  const char *text)
{
    info->problem = problem;
    if (why)
        *why = text;
    return NULL;
}

static void key_tag(const struct tag *t, const char **v, size_t *n)
{
    *v = t ? t->value : NULL;
    *n = t ? t->value_len : 0;
}

struct fa_key *dkim_key_record_read(const char *txt, size_t len, int alg,
                                    struct dkim_key_info *info, const char **why, fa_err *err)
{
    struct tag_list l;
    memset(info, 0, sizeof(*info));
    info->type = -1;
    info->alg = alg;
    const char *twhy = NULL;
    if (tags_parse(txt, len, &l, &twhy) < 0)
        return key_problem(info, DKIM_KEY_SYNTAX, why, twhy);
    const struct tag *tv = tags_find(&l, "v"), *tk = tags_find(&l, "k"), *th = tags_find(&l, "h"),
                     *tp = tags_find(&l, "p"), *tt = tags_find(&l, "t"), *ts = tags_find(&l, "s");
    key_tag(tk, &info->k, &info->k_len);
    key_tag(th, &info->h, &info->h_len);
    key_tag(ts, &info->s, &info->s_len);
    if (tv && (!tags_value_is(tv, "DKIM1") || tv != &l.t[0]))
        return key_problem(info, DKIM_KEY_VERSION, why, "key record: v= is not DKIM1 or not first");
    int type = KEY_RSA;
    if (tk) {
        if (tags_value_is_nocase(tk, "ed25519"))
            type = KEY_ED25519;
        else if (!tags_value_is_nocase(tk, "rsa"))
            return key_problem(info, DKIM_KEY_TYPE, why, "key record: unknown key type");
    }
    info->type = type;
    if (alg < 0)
        info->alg = alg = type == KEY_ED25519 ? DKIM_ED25519_SHA256 : DKIM_RSA_SHA256;
    if ((alg == DKIM_ED25519_SHA256) != (type == KEY_ED25519))
        return key_problem(info, DKIM_KEY_ALG, why,
                           "key type does not match the signature algorithm");
    if (th && !tags_list_has(th->value, th->value_len, alg == DKIM_RSA_SHA1 ? "sha1" : "sha256"))
        return key_problem(info, DKIM_KEY_HASH, why, "key record h= excludes the signature's hash");
    if (ts && !tags_list_has(ts->value, ts->value_len, "*") &&
        !tags_list_has(ts->value, ts->value_len, "email"))
        return key_problem(info, DKIM_KEY_SERVICE, why, "key record is not for email (s=)");
    if (tt) {
        info->testing = tags_list_has(tt->value, tt->value_len, "y");
        info->strict = tags_list_has(tt->value, tt->value_len, "s");
    }
    if (!tp)
        return key_problem(info, DKIM_KEY_NO_P, why, "key record without p=");
    if (tp->value_len == 0)
        return key_problem(info, DKIM_KEY_REVOKED, why, "key revoked (empty p=)");
    fa_err kerr;
    struct fa_key *k = key_from_dns_p(type, tp->value, tp->value_len, err ? err : &kerr);
    if (!k)
        return key_problem(info, DKIM_KEY_BAD_P, why, "key record: p= is not a valid public key");
    /* key_from_dns_p refuses RSA keys under KEY_RSA_MIN_BITS (RFC 8301). */
    info->bits = key_bits(k);
    info->problem = DKIM_KEY_OK;
    return k;
}

struct fa_key *dkim_parse_key_record(const char *txt, size_t len, int alg, int *testing,
                                     int *strict, int *result, const char **why)
{
    struct dkim_key_info info;
    struct fa_key *k = dkim_key_record_read(txt, len, alg, &info, why, NULL);
    *testing = info.testing;
    *strict = info.strict;
    *result = k ? DKIM_PASS : DKIM_PERMERROR;
    return k;
}

int dkim_key_name(const char *selector, const char *domain, char *out, size_t outsz)
{
    int n = snprintf(out, outsz, "%s._domainkey.%s", selector, domain);
    if (n < 0 || (size_t)n >= outsz) {
        if (outsz)
            out[0] = '\0';
        return -1;
    }
    return 0;
}

struct fa_key *dkim_key_fetch(struct dns *dns, const char *selector, const char *domain, int alg,
                              int *testing, int *strict, int *result, const char **why)
{
    char name[DKIM_KEY_NAME_MAX];
    dkim_key_name(selector, domain, name, sizeof(name));
    struct dns_answer a;
    dns_query(dns, name, DNS_T_TXT, &a);
    struct fa_key *k = NULL;
    *testing = *strict = 0;
    if (a.status == DNS_TEMPFAIL) {
        *result = DKIM_TEMPERROR;
        *why = "key lookup failed temporarily";
    } else if (a.status != DNS_OK) {
        *result = DKIM_PERMERROR;
        *why = "no key for signature";
    } else {
        /* Use the first record that parses (RFC 6376 section 3.6.2.2). */
        *why = "no valid key record";
        *result = DKIM_PERMERROR;
        for (size_t i = 0; i < a.n && !k; i++)
            k = dkim_parse_key_record((const char *)a.rr[i].data, a.rr[i].len, alg, testing, strict,
                                      result, why);
    }
    dns_answer_free(&a);
    return k;
}
