/*
 * NAME
 *   srs_config - an SRS engine from fwdauthd.conf
 * SUMMARY
 *   srs_from_config checks the SRS settings of a configuration
 *   (config_check_srs), reads the secrets file and builds the engine with
 *   srs_new. It is the glue between config (top layer) and srs, which
 *   takes its settings in an explicit struct srs_params and never reads
 *   the configuration itself.
 * SYNOPSIS
 *   srs *s = srs_from_config(&cfg, getuid(), &err);
 *   ... srs_forward(s, ...) ...
 *   srs_free(s);
 * DESCRIPTION
 *   cfg->srs_secrets is read with secfile_read (owner root or
 *   secrets_owner, permissions as secfile.h requires): one secret per
 *   line, blank lines ignored, at most SRS_SECRETS_MAX. The first secret
 *   signs, all verify.
 * SECURITY
 *   The secrets are wiped from the buffer they were read into once the
 *   engine holds them; errors name the file, never a secret.
 * DIAGNOSTICS
 *   srs_from_config returns NULL with err set, naming the setting's
 *   FILE:LINE (config_fail): SRS settings that do not form a whole, a
 *   secrets file that cannot be read safely, more than SRS_SECRETS_MAX
 *   secrets or none, or what srs_new refuses.
 */
#ifndef FWDAUTH_SRS_CONFIG_H
#define FWDAUTH_SRS_CONFIG_H

#include "config.h"
#include "err.h"
#include "srs.h"

#include <sys/types.h>

srs *srs_from_config(const struct fa_config *cfg, uid_t secrets_owner, fa_err *err);

#endif
