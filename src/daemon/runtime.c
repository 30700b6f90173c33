/* runtime - reference-counted configuration snapshots; see runtime.h. */
#include "runtime.h"

#include "domlist.h"
#include "fileread.h"
#include "log.h"
#include "metrics.h"
#include "srs_config.h"

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

/* Does msg (an error from keytable_load) concern the table at path? Its
 * errors start with the table's path. */
static int about_table(const char *msg, const char *table)
{
    if (strncmp(table, "refile:", 7) == 0)
        table += 7;
    else if (strncmp(table, "file:", 5) == 0)
        table += 5;
    size_t n = strlen(table);
    return strncmp(msg, table, n) == 0 && msg[n] == ':';
}

/* "x is set but y and z are not: ... go together" for keys that must be set
 * all or none, at the line of the first one set; 0 when they agree. */
static int all_or_none(const struct fa_config *c, const char *const *names, char *const *values,
                       size_t n, fa_err *err)
{
    size_t set = 0, first = n;
    for (size_t i = 0; i < n; i++)
        if (values[i][0] && set++ == 0)
            first = i;
    if (set == 0 || set == n)
        return 0;
    char unset[200] = "", all[200] = "";
    size_t nunset = n - set, k = 0;
    for (size_t i = 0; i < n; i++) {
        size_t u = strlen(unset), l = strlen(all);
        snprintf(all + l, sizeof(all) - l, "%s%s",
                 i == 0       ? ""
                 : i + 1 == n ? " and "
                              : ", ",
                 names[i]);
        if (!values[i][0]) {
            snprintf(unset + u, sizeof(unset) - u, "%s%s",
                     k == 0            ? ""
                     : k + 1 == nunset ? " and "
                                       : ", ",
                     names[i]);
            k++;
        }
    }
    return config_fail(c, names[first], err, "%s is set but %s %s not: %s go together",
                       names[first], unset, nunset == 1 ? "is" : "are", all);
}

/* The key loader of runtime_load: the file, read in this process. */
static struct fa_key *load_local(void *arg, const char *path, fa_err *err)
{
    return key_load_private(path, *(const uid_t *)arg, err);
}

/* The milter's parts: resolver, keys, internal networks, authserv-id.
 * Every error names the FILE:LINE of the setting it is about. */
static int load_milter(struct runtime *rt, const struct key_loader *ld, fa_err *err)
{
    const struct fa_config *c = &rt->cfg;
    fa_err e;
    if (nets_parse(c->internal_hosts.v, c->internal_hosts.n, &rt->internal, &e) < 0)
        return config_fail(c, "internal_hosts", err, "%s", e.msg);
    if (c->authserv_id[0]) {
        snprintf(rt->authserv_id, sizeof(rt->authserv_id), "%s", c->authserv_id);
    } else if (gethostname(rt->authserv_id, sizeof(rt->authserv_id) - 1) < 0) {
        snprintf(rt->authserv_id, sizeof(rt->authserv_id), "localhost");
    }
    if (!c->milter_listen[0])
        return 0;
    static const char *const dkim_names[] = {"dkim_key_table", "dkim_signing_table"};
    char *const dkim_values[] = {c->dkim_key_table, c->dkim_signing_table};
    if (all_or_none(c, dkim_names, dkim_values, 2, err) < 0)
        return -1;
    if (c->dkim_key_table[0]) {
        rt->keys = keytable_load_with(c->dkim_key_table, c->dkim_signing_table, ld, &e);
        if (!rt->keys) {
            const char *key =
                about_table(e.msg, c->dkim_signing_table) && !about_table(e.msg, c->dkim_key_table)
                    ? "dkim_signing_table"
                    : "dkim_key_table";
            return config_fail(c, key, err, "%s: %s", key, e.msg);
        }
        struct keytable_match m;
        if (c->forward_signing_key[0] &&
            !keytable_find_name(rt->keys, c->forward_signing_key, "%", &m))
            return config_fail(c, "forward_signing_key", err,
                               "forward_signing_key = %s: no such key in %s (dkim_key_table, %s)",
                               c->forward_signing_key, c->dkim_key_table,
                               config_where(c, "dkim_key_table"));
        /* Our signature on forwarded mail is d= our domain: a "%" (the sender's
         * domain) would sign as the sender with our key. */
        if (c->forward_signing_key[0] && strchr(m.domain, '%'))
            return config_fail(c, "forward_signing_key", err,
                               "forward_signing_key = %s: its KeyTable domain must be "
                               "ours, not \"%%\"",
                               c->forward_signing_key);
    } else if (c->forward_signing_key[0]) {
        return config_fail(c, "forward_signing_key", err,
                           "forward_signing_key needs dkim_key_table and dkim_signing_table");
    }
    if (c->forward_recipients.n && c->srs_forwarded_mail && !rt->srs)
        return config_fail(c, "forward_recipients", err,
                           "forward_recipients with srs_forwarded_mail = yes (%s) needs "
                           "srs_domain and srs_secrets (or set srs_forwarded_mail = no)",
                           config_where(c, "srs_forwarded_mail"));
    static const char *const arc_names[] = {"arc_key", "arc_domain", "arc_selector"};
    char *const arc_values[] = {c->arc_key, c->arc_domain, c->arc_selector};
    if (all_or_none(c, arc_names, arc_values, 3, err) < 0)
        return -1;
    if (c->arc_key[0] && !(rt->arc_key = ld->load(ld->arg, c->arc_key, &e)))
        return config_fail(c, "arc_key", err, "arc_key: %s", e.msg);
    for (size_t i = 0; i < c->trusted_authserv_ids.n; i++) {
        const char *t = c->trusted_authserv_ids.v[i];
        /* As domain names: letter case and a final dot do not matter. */
        if (domain_equal(t, strlen(t), rt->authserv_id, strlen(rt->authserv_id)))
            return config_fail(c, "trusted_authserv_ids", err,
                               "trusted_authserv_ids lists %s, our own authserv_id (%s%s): "
                               "senders could forge its results",
                               t, c->authserv_id[0] ? "authserv_id, " : "this host's name",
                               c->authserv_id[0] ? config_where(c, "authserv_id") : "");
    }
    if (c->from_rewrite != FA_REWRITE_OFF) {
        struct keytable_match m;
        const char *a = c->from_rewrite_address, *at = strrchr(a, '@');
        /* config.c checked its form: a plain dot-atom address, as it goes into From:. */
        if (!at)
            return config_fail(c, "from_rewrite", err,
                               "from_rewrite needs from_rewrite_address, a plain address "
                               "of ours (local@domain)");
        if (!rt->keys || !c->forward_signing_key[0] ||
            !keytable_find_name(rt->keys, c->forward_signing_key, at + 1, &m) ||
            strcasecmp(m.domain, at + 1) != 0)
            return config_fail(c, "from_rewrite_address", err,
                               "from_rewrite: forward_signing_key (%s) must sign for %s, the "
                               "domain of from_rewrite_address, so rewritten mail aligns",
                               config_where(c, "forward_signing_key"), at + 1);
    }
    struct dns_opts o = {
        .zone_file = c->dns_zone_file[0] ? c->dns_zone_file : NULL,
        .server = c->dns_server[0] ? c->dns_server : NULL,
        .timeout_ms = c->dns_timeout * 1000,
        .observe = rt->metrics ? observe_dns : NULL,
        .observe_arg = rt->metrics,
    };
    rt->dns = dns_new(&o, &e);
    if (!rt->dns) {
        const char *key = c->dns_zone_file[0] ? "dns_zone_file" : "dns_server";
        return config_fail(c, key, err, "%s: %s", key, e.msg);
    }
    return 0;
}

/* A footer file: UTF-8 text, bounded by what a footer may be. */
static int load_footer_file(const struct fa_config *c, const char *key, const char *path,
                            char **out, fa_err *err)
{
    size_t len;
    fa_err e;
    if (file_read(path, FWDCHANGE_FOOTER_MAX, 0, 0, out, &len, &e) < 0)
        return config_fail(c, key, err, "%s: %s", key, e.msg);
    return 0;
}

/* The forwarder's own changes and the two-stage keys. */
static int load_changes(struct runtime *rt, uid_t secrets_owner, fa_err *err)
{
    const struct fa_config *c = &rt->cfg;
    fa_err e;
    if (c->forward_subject_tag[0]) {
        char v[FWDCHANGE_SUBJECT_ROOM(0)];
        if (fwdchange_subject(NULL, 0, c->forward_subject_tag, v, sizeof(v)) < 0)
            return config_fail(c, "forward_subject_tag", err,
                               "forward_subject_tag = \"%s\": a tag is printable ASCII, at most "
                               "%d octets, with no \"=?\"",
                               c->forward_subject_tag, FWDCHANGE_TAG_MAX);
    }
    if (c->forward_footer_html[0] && !c->forward_footer[0])
        return config_fail(c, "forward_footer_html", err,
                           "forward_footer_html needs forward_footer (the text footer)");
    if (c->forward_footer[0]) {
        if (load_footer_file(c, "forward_footer", c->forward_footer, &rt->footer_text, err) < 0 ||
            (c->forward_footer_html[0] &&
             load_footer_file(c, "forward_footer_html", c->forward_footer_html, &rt->footer_html,
                              err) < 0))
            return -1;
        rt->footer =
            (struct fwdchange_footer_spec){.text = rt->footer_text, .html = rt->footer_html};
        if (fwdchange_footer_check(&rt->footer, &e) < 0)
            return config_fail(c, "forward_footer", err, "forward_footer: %s", e.msg);
    }
    if (c->forward_header[0]) {
        const char *colon = strchr(c->forward_header, ':');
        if (!colon)
            return config_fail(c, "forward_header", err,
                               "forward_header = \"%s\": expected \"Name: value\"",
                               c->forward_header);
        const char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        rt->header_name = strndup(c->forward_header, (size_t)(colon - c->forward_header));
        if (!rt->header_name || asprintf(&rt->header_value, " %s", v) < 0) {
            rt->header_value = NULL;
            return fa_err_set(err, "out of memory");
        }
        if (fwdchange_header_check(rt->header_name, v, &e) < 0)
            return config_fail(c, "forward_header", err, "forward_header: %s", e.msg);
    }
    static const char *const stage_names[] = {"stage2_daemon_names", "stage_secrets"};
    char *const stage_values[] = {c->stage2_daemon_names.n ? "set" : "", c->stage_secrets};
    if (all_or_none(c, stage_names, stage_values, 2, err) < 0)
        return -1;
    if (c->stage_secrets[0] &&
        !(rt->stage_keys = stagehdr_keys_load(c->stage_secrets, secrets_owner, &e)))
        return config_fail(c, "stage_secrets", err, "stage_secrets: %s", e.msg);
    return 0;
}

struct runtime *runtime_load(const char *path, uid_t secrets_owner, struct metrics *metrics,
                             fa_err *err)
{
    struct runtime_opts o = {.secrets_owner = secrets_owner, .metrics = metrics};
    return runtime_load_with(path, &o, err);
}

struct runtime *runtime_load_with(const char *path, const struct runtime_opts *o, fa_err *err)
{
    struct runtime *rt = calloc(1, sizeof(*rt));
    if (!rt) {
        fa_err_set(err, "out of memory");
        return NULL;
    }
    rt->metrics = o->metrics;
    config_init(&rt->cfg);
    if ((o->config_text ? config_load_buf(&rt->cfg, path, o->config_text, o->config_len, err)
                        : config_load_file(&rt->cfg, path, err)) < 0)
        goto fail;
    if (o->keep)
        runtime_keep_restart(&rt->cfg, o->keep, 0);
    uid_t secrets_owner = o->secrets_owner;
    uid_t key_owner = secrets_owner;
    struct key_loader local = {load_local, &key_owner};
    const struct key_loader *ld = o->keys ? o->keys : &local;
    const struct fa_config *c = &rt->cfg;
    int tables = c->socketmap_listen[0] || c->tcp_forward_listen[0] || c->tcp_reverse_listen[0];
    if (tables || c->srs_domain[0] || c->srs_secrets[0]) {
        /* checks the settings too; the store counts into the metrics */
        rt->srs = srs_from_config_observed(c, secrets_owner, metrics_srs_store, rt->metrics, err);
        if (!rt->srs)
            goto fail;
    }
    if (load_milter(rt, ld, err) < 0 ||
        (c->milter_listen[0] && load_changes(rt, secrets_owner, err) < 0))
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

static void keep_string(char **fresh, char *const *old, const char *key, int log)
{
    if (strcmp(*fresh, *old) == 0)
        return;
    char *copy = strdup(*old);
    if (!copy) {
        log_msg(FA_LOG_ERROR, "out of memory keeping %s", key);
        return;
    }
    if (log)
        log_msg(FA_LOG_WARNING, "changed %s needs a restart; keeping %s = %s", key, key, *old);
    free(*fresh);
    *fresh = copy;
}

void runtime_keep_restart(struct fa_config *fresh, const struct fa_config *old, int log)
{
    keep_string(&fresh->socketmap_listen, &old->socketmap_listen, "socketmap_listen", log);
    keep_string(&fresh->tcp_forward_listen, &old->tcp_forward_listen, "tcp_forward_listen", log);
    keep_string(&fresh->tcp_reverse_listen, &old->tcp_reverse_listen, "tcp_reverse_listen", log);
    keep_string(&fresh->milter_listen, &old->milter_listen, "milter_listen", log);
    keep_string(&fresh->metrics_listen, &old->metrics_listen, "metrics_listen", log);
    keep_string(&fresh->user, &old->user, "user", log);
    keep_string(&fresh->chroot, &old->chroot, "chroot", log);
}

static void runtime_free(struct runtime *rt)
{
    srs_free(rt->srs);
    dns_free(rt->dns);
    keytable_free(rt->keys);
    key_free(rt->arc_key);
    free(rt->footer_text);
    free(rt->footer_html);
    free(rt->header_name);
    free(rt->header_value);
    stagehdr_keys_free(rt->stage_keys);
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
