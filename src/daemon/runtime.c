/* runtime - reference-counted configuration snapshots; see runtime.h. */
#include "runtime.h"

#include "addr.h"
#include "log.h"
#include "metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* The daemon's current snapshot: the only mutable state of this module. */
static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static struct runtime *current;
static atomic_ulong current_generation;

static void runtime_free(struct runtime *rt);

/* The resolver's observer: DNS latency and errors into the registry. */
static void observe_dns(void *arg, int type, double seconds, int status, int failure)
{
    (void)status;
    metrics_dns_query(arg, type, seconds, failure);
}

/* The milter's parts: resolver, keys, internal networks, authserv-id. */
static int load_milter(struct runtime *rt, uid_t key_owner, fa_err *err)
{
    const struct fa_config *c = &rt->cfg;
    if (policy_nets_parse(c->internal_hosts.v, c->internal_hosts.n, &rt->internal, err) < 0)
        return -1;
    if (c->authserv_id[0]) {
        snprintf(rt->authserv_id, sizeof(rt->authserv_id), "%s", c->authserv_id);
    } else if (gethostname(rt->authserv_id, sizeof(rt->authserv_id) - 1) < 0) {
        snprintf(rt->authserv_id, sizeof(rt->authserv_id), "localhost");
    }
    if (!c->milter_listen[0])
        return 0;
    if (!c->dkim_key_table[0] != !c->dkim_signing_table[0])
        return fa_err_set(err, "dkim_key_table and dkim_signing_table go together");
    if (c->dkim_key_table[0]) {
        rt->keys = keytable_load(c->dkim_key_table, c->dkim_signing_table, key_owner, err);
        if (!rt->keys)
            return -1;
        struct keytable_match m;
        if (c->forward_signing_key[0] &&
            !keytable_find_name(rt->keys, c->forward_signing_key, "%", &m))
            return fa_err_set(err, "forward_signing_key = %s: no such key in %s",
                              c->forward_signing_key, c->dkim_key_table);
        /* Our signature on forwarded mail is d= our domain: a "%" (the sender's
         * domain) would sign as the sender with our key. */
        if (c->forward_signing_key[0] && strchr(m.domain, '%'))
            return fa_err_set(err,
                              "forward_signing_key = %s: its KeyTable domain must be "
                              "ours, not \"%%\"",
                              c->forward_signing_key);
    } else if (c->forward_signing_key[0]) {
        return fa_err_set(err, "forward_signing_key needs dkim_key_table");
    }
    if (c->forward_recipients.n && c->srs_forwarded_mail && !rt->srs)
        return fa_err_set(err, "srs_forwarded_mail needs srs_domain and srs_secrets "
                               "(or set srs_forwarded_mail = no)");
    if (!c->arc_key[0] != !c->arc_domain[0] || !c->arc_key[0] != !c->arc_selector[0])
        return fa_err_set(err, "arc_key, arc_domain and arc_selector go together");
    if (c->arc_key[0] && !(rt->arc_key = key_load_private(c->arc_key, key_owner, err)))
        return -1;
    for (size_t i = 0; i < c->trusted_authserv_ids.n; i++)
        if (strcasecmp(c->trusted_authserv_ids.v[i], rt->authserv_id) == 0)
            return fa_err_set(err,
                              "trusted_authserv_ids must not list our own authserv_id "
                              "(%s): senders could forge its results",
                              rt->authserv_id);
    if (c->from_rewrite != FA_REWRITE_OFF) {
        struct keytable_match m;
        const char *a = c->from_rewrite_address, *at = strrchr(a, '@');
        /* It goes into From: as it stands: a plain dot-atom address only. */
        if (!at || !addr_is_dot_atom(a, (size_t)(at - a)) ||
            !addr_valid_domain(at + 1, strlen(at + 1)))
            return fa_err_set(err, "from_rewrite needs from_rewrite_address, a plain address "
                                   "of ours (local@domain)");
        if (!rt->keys || !c->forward_signing_key[0] ||
            !keytable_find_name(rt->keys, c->forward_signing_key, at + 1, &m) ||
            strcasecmp(m.domain, at + 1) != 0)
            return fa_err_set(err,
                              "from_rewrite: forward_signing_key must sign for %s, the "
                              "domain of from_rewrite_address, so rewritten mail aligns",
                              at + 1);
    }
    struct dns_opts o = {
        .zone_file = c->dns_zone_file[0] ? c->dns_zone_file : NULL,
        .server = c->dns_server[0] ? c->dns_server : NULL,
        .timeout_ms = c->dns_timeout * 1000,
        .observe = rt->metrics ? observe_dns : NULL,
        .observe_arg = rt->metrics,
    };
    rt->dns = dns_new(&o, err);
    return rt->dns ? 0 : -1;
}

struct runtime *runtime_load(const char *path, uid_t secrets_owner, struct metrics *metrics,
                             fa_err *err)
{
    struct runtime *rt = calloc(1, sizeof(*rt));
    if (!rt) {
        fa_err_set(err, "out of memory");
        return NULL;
    }
    rt->metrics = metrics;
    config_init(&rt->cfg);
    if (config_load_file(&rt->cfg, path, err) < 0)
        goto fail;
    const struct fa_config *c = &rt->cfg;
    int tables = c->socketmap_listen[0] || c->tcp_forward_listen[0] || c->tcp_reverse_listen[0];
    if (tables || c->srs_domain[0] || c->srs_secrets[0]) {
        rt->srs = srs_from_config(c, secrets_owner, err); /* checks the settings too */
        if (!rt->srs)
            goto fail;
    }
    if (load_milter(rt, secrets_owner, err) < 0)
        goto fail;
    atomic_init(&rt->refs, 1);
    return rt;
fail:
    runtime_free(rt);
    return NULL;
}

size_t runtime_srs_secrets(const struct runtime *rt)
{
    return rt->srs ? srs_secret_count(rt->srs) : 0;
}

static void keep_string(char **fresh, char *const *old, const char *key)
{
    if (strcmp(*fresh, *old) == 0)
        return;
    char *copy = strdup(*old);
    if (!copy) {
        log_msg(FA_LOG_ERROR, "out of memory keeping %s", key);
        return;
    }
    log_msg(FA_LOG_WARNING, "changed %s needs a restart; keeping %s = %s", key, key, *old);
    free(*fresh);
    *fresh = copy;
}

void runtime_keep_restart(struct runtime *fresh, const struct runtime *old)
{
    keep_string(&fresh->cfg.socketmap_listen, &old->cfg.socketmap_listen, "socketmap_listen");
    keep_string(&fresh->cfg.tcp_forward_listen, &old->cfg.tcp_forward_listen, "tcp_forward_listen");
    keep_string(&fresh->cfg.tcp_reverse_listen, &old->cfg.tcp_reverse_listen, "tcp_reverse_listen");
    keep_string(&fresh->cfg.milter_listen, &old->cfg.milter_listen, "milter_listen");
    keep_string(&fresh->cfg.metrics_listen, &old->cfg.metrics_listen, "metrics_listen");
    keep_string(&fresh->cfg.user, &old->cfg.user, "user");
    keep_string(&fresh->cfg.chroot, &old->cfg.chroot, "chroot");
}

static void runtime_free(struct runtime *rt)
{
    srs_free(rt->srs);
    dns_free(rt->dns);
    keytable_free(rt->keys);
    key_free(rt->arc_key);
    config_free(&rt->cfg);
    free(rt);
}

void runtime_install(struct runtime *rt)
{
    pthread_mutex_lock(&current_lock);
    struct runtime *old = current;
    rt->generation = atomic_load(&current_generation) + 1;
    current = rt;
    atomic_store(&current_generation, rt->generation);
    pthread_mutex_unlock(&current_lock);
    if (old)
        runtime_release(old);
}

struct runtime *runtime_acquire(void)
{
    pthread_mutex_lock(&current_lock);
    struct runtime *rt = current;
    if (rt)
        atomic_fetch_add_explicit(&rt->refs, 1, memory_order_relaxed);
    pthread_mutex_unlock(&current_lock);
    return rt;
}

void runtime_release(struct runtime *rt)
{
    if (rt && atomic_fetch_sub_explicit(&rt->refs, 1, memory_order_acq_rel) == 1)
        runtime_free(rt);
}

unsigned long runtime_generation(void)
{
    return atomic_load_explicit(&current_generation, memory_order_acquire);
}
