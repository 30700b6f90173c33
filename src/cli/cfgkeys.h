/*
 * NAME
 *   cfgkeys - the domains and keys a configuration names, loaded to be checked
 * SUMMARY
 *   For `fwdauth doctor` and `fwdauth check-dns -c`: reads the KeyTable
 *   and SigningTable of fwdauthd.conf without loading a key through them
 *   (a placeholder stands in, so a key that cannot be read here does not
 *   hide the others), makes the plan of doctor.h (srs_domain,
 *   from_rewrite_address's domain, every KeyTable domain and key, the ARC
 *   key), then reads each planned private key on its own, whoever owns
 *   it, to compare it with what DNS publishes. A key that cannot be read
 *   keeps key NULL and the reason in load_error.
 * SYNOPSIS
 *   struct cfgkeys ck;
 *   if (cfgkeys_load(&cfg, &ck) == 0) { ck.plan ...; ck.kt_error ...; cfgkeys_free(&ck); }
 * DIAGNOSTICS
 *   cfgkeys_load returns 0 (kt_error says when the tables could not be
 *   read: the plan then has no KeyTable keys), or -1 when out of memory
 *   (printed).
 */
#ifndef FWDAUTH_CFGKEYS_H
#define FWDAUTH_CFGKEYS_H

#include "config.h"
#include "doctor.h"
#include "keytable.h"

struct cfgkeys {
    struct keytable *kt; /* NULL without (or with unreadable) tables */
    struct doctor_plan plan;
    char kt_error[FA_ERR_MAX];
};

int cfgkeys_load(const struct fa_config *cfg, struct cfgkeys *ck);
void cfgkeys_free(struct cfgkeys *ck);

#endif
