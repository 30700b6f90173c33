/* runtime - reference-counted configuration snapshots; see runtime.h. */
#include "runtime.h"

#include "log.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* The daemon's current snapshot: the only mutable state of this module. */
static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static struct runtime *current;
static atomic_ulong current_generation;

struct runtime *runtime_load(const char *path, uid_t secrets_owner, fa_err *err)
{
    struct runtime *rt = calloc(1, sizeof(*rt));
    if (!rt) {
        fa_err_set(err, "out of memory");
        return NULL;
    }
    config_init(&rt->cfg);
    if (config_load_file(&rt->cfg, path, err) < 0 || config_check_srs(&rt->cfg, err) < 0)
        goto fail;
    rt->srs = srs_from_config(&rt->cfg, secrets_owner, err);
    if (!rt->srs)
        goto fail;
    atomic_init(&rt->refs, 1);
    return rt;
fail:
    config_free(&rt->cfg);
    free(rt);
    return NULL;
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
    keep_string(&fresh->cfg.user, &old->cfg.user, "user");
    keep_string(&fresh->cfg.chroot, &old->cfg.chroot, "chroot");
}

static void runtime_free(struct runtime *rt)
{
    srs_free(rt->srs);
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
