/*
 * NAME
 *   srs_config - an SRS engine from fwdauthd.conf
 * SUMMARY
 *   srs_from_config checks the SRS settings of a configuration
 *   (config_check_srs), reads the secrets file, opens the store
 *   (srs_store, srsstore.h) and the SRS domain map (srs_domain_map), and
 *   builds the engine with srs_new and srs_add_domain. It is the glue
 *   between config (top layer) and srs, which takes its settings in an
 *   explicit struct srs_params and never reads the configuration itself.
 * SYNOPSIS
 *   srs *s = srs_from_config(&cfg, getuid(), &err);
 *   srs *s = srs_from_config_observed(&cfg, uid, observe_fn, metrics, &err);   store metrics
 *   ... srs_forward_ex(s, ...) ...
 *   srs_free(s);
 *   struct srs_domain_map_entry *e; size_t n;
 *   srs_domain_map_parse("FILE", buf, len, &e, &n, &err); ... srs_domain_map_free(e, n);
 * DESCRIPTION
 *   cfg->srs_secrets is read with secfile_read (owner root or
 *   secrets_owner, permissions as secfile.h requires): one secret per
 *   line, blank lines ignored, at most SRS_SECRETS_MAX. The first secret
 *   signs, all verify.
 *   srs_mode: with srs_store empty the engine is stateless whatever
 *   srs_mode says (hybrid, the default, has nothing to store in, so
 *   fwdauthd -a's dump loads back); config_check_srs refuses database
 *   without a store. srs_store_password names a file (read like the secrets) whose
 *   first line is the Redis password.
 *   srs_domain_map is a file of lines
 *     FORWARDING-DOMAIN  SRS-DOMAIN  [SECRETS-FILE]
 *   separated by white space; "#" starts a comment line; blank lines are
 *   skipped. FORWARDING-DOMAIN is a domain name or ".domain" (its
 *   subdomains, as local_domains); SRS-DOMAIN a domain name; SECRETS-FILE
 *   an absolute path read like srs_secrets (without it, srs_secrets signs
 *   for that SRS domain too). At most SRS_FORWARDING_MAX lines of
 *   mappings, SRS_DOMAIN_MAP_MAX octets in all. The map is read by the
 *   milter path only (the recipient chooses the SRS domain); reverse
 *   lookups accept every SRS domain it names.
 * SECURITY
 *   The secrets and the password are wiped from the buffers they were
 *   read into once the engine holds them; errors name files, never their
 *   contents.
 * DIAGNOSTICS
 *   srs_from_config returns NULL with err set, naming the setting's
 *   FILE:LINE (config_fail): SRS settings that do not form a whole, a
 *   secrets or password file that cannot be read safely, more than
 *   SRS_SECRETS_MAX secrets or none, a bad srs_domain_map line (its
 *   FILE:LINE too), or what srs_new, srs_add_domain or srsstore_open
 *   refuse. srs_domain_map_parse returns 0, or -1 with "NAME:LINE: ..." in
 *   err.
 */
#ifndef FWDAUTH_SRS_CONFIG_H
#define FWDAUTH_SRS_CONFIG_H

#include "config.h"
#include "err.h"
#include "srs.h"
#include "srsstore.h"

#include <sys/types.h>

#define SRS_DOMAIN_MAP_MAX (1024 * 1024)

struct srs_domain_map_entry {
    char *fwd;        /* forwarding domain or .domain */
    char *srs_domain; /* its SRS domain */
    char *secrets;    /* its secrets file; NULL = srs_secrets */
    unsigned line;    /* where in the file */
};

srs *srs_from_config(const struct fa_config *cfg, uid_t secrets_owner, fa_err *err);
srs *srs_from_config_observed(const struct fa_config *cfg, uid_t secrets_owner,
                              srsstore_observe_fn observe, void *observe_arg, fa_err *err);

int srs_domain_map_parse(const char *name, const char *buf, size_t len,
                         struct srs_domain_map_entry **out, size_t *n, fa_err *err);
void srs_domain_map_free(struct srs_domain_map_entry *e, size_t n);

#endif
