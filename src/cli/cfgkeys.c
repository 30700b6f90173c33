/* cfgkeys - the domains and keys a configuration names; see cfgkeys.h. */
#include "cfgkeys.h"
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* Any public key will do: the tables are read only to list their entries. */
static const char placeholder_p[] = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

static struct fa_key *placeholder(void *arg, const char *path, fa_err *err)
{
    (void)arg;
    (void)path;
    return key_from_dns_p(KEY_ED25519, placeholder_p, sizeof(placeholder_p) - 1, err);
}

int cfgkeys_load(const struct fa_config *cfg, struct cfgkeys *ck)
{
    memset(ck, 0, sizeof(*ck));
    fa_err err;
    if (cfg->dkim_key_table[0] && cfg->dkim_signing_table[0]) {
        struct key_loader ld = {placeholder, NULL};
        ck->kt = keytable_load_with(cfg->dkim_key_table, cfg->dkim_signing_table, &ld, &err);
        if (!ck->kt)
            snprintf(ck->kt_error, sizeof(ck->kt_error), "%s", err.msg);
    }
    if (doctor_plan_make(cfg, ck->kt, &ck->plan, &err) < 0) {
        fprintf(stderr, "%s: %s\n", cli_prog, err.msg);
        keytable_free(ck->kt);
        ck->kt = NULL;
        return -1;
    }
    /* Each key read as its owner would read it: whoever owns it (its mode is
     * doctor's to judge), so that DNS can be compared with it. */
    for (size_t i = 0; i < ck->plan.nkeys; i++) {
        struct doctor_key *k = &ck->plan.keys[i];
        struct stat st;
        if (stat(k->path, &st) < 0) {
            snprintf(k->load_error, sizeof(k->load_error), "%.200s: %s", k->path, strerror(errno));
            continue;
        }
        struct fa_key *key = key_load_private(k->path, st.st_uid, &err);
        if (key)
            k->key = key;
        else
            snprintf(k->load_error, sizeof(k->load_error), "%s", err.msg);
    }
    return 0;
}

void cfgkeys_free(struct cfgkeys *ck)
{
    for (size_t i = 0; i < ck->plan.nkeys; i++)
        key_free((struct fa_key *)ck->plan.keys[i].key);
    doctor_plan_free(&ck->plan);
    keytable_free(ck->kt);
    ck->kt = NULL;
}
