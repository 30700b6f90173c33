/* srs_config - an SRS engine from fwdauthd.conf; see srs_config.h. */
#include "srs_config.h"

#include "secfile.h"

srs *srs_from_config(const struct fa_config *cfg, uid_t secrets_owner, fa_err *err)
{
    if (config_check_srs(cfg, err) < 0)
        return NULL;
    char *data;
    size_t len;
    fa_err ferr;
    if (secfile_read(cfg->srs_secrets, secrets_owner, &data, &len, &ferr) < 0) {
        config_fail(cfg, "srs_secrets", err, "srs_secrets: %s", ferr.msg);
        return NULL;
    }
    const char *secrets[SRS_SECRETS_MAX];
    size_t lens[SRS_SECRETS_MAX], n = 0;
    srs *s = NULL;
    int got = secfile_lines(data, len, secrets, lens, SRS_SECRETS_MAX);
    if (got < 0) {
        config_fail(cfg, "srs_secrets", err, "srs_secrets: %s: more than %d secrets",
                    cfg->srs_secrets, SRS_SECRETS_MAX);
        goto out;
    }
    n = (size_t)got;
    if (n == 0) {
        config_fail(cfg, "srs_secrets", err, "srs_secrets: %s: no secret in the file",
                    cfg->srs_secrets);
        goto out;
    }
    struct srs_params p = {
        .domain = cfg->srs_domain,
        .local_domains = cfg->local_domains.v,
        .n_local_domains = cfg->local_domains.n,
        .hash_length = cfg->srs_hash_length,
        .hash_minimum = cfg->srs_hash_minimum,
        .max_age = cfg->srs_max_age,
        .separator = cfg->srs_separator,
        .alphabet = cfg->srs_hash_alphabet,
    };
    s = srs_new(&p, secrets, lens, n, err);
out:
    secfile_free(data, len);
    return s;
}
