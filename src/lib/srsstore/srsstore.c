/* srsstore - the SRS stores behind one interface; see srsstore.h. */
#include "srsstore.h"

#include "monoclock.h"
#include "srsstore_redis.h"
#include "srsstore_sqlite.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct srsstore {
    struct srs_store iface; /* first: the interface srs calls */
    const struct srsstore_backend *be;
    struct srsstore_conf conf;
    pthread_mutex_t lock;         /* the idle list */
    pthread_mutex_t connect_lock; /* one connect at a time */
    void **idle;
    size_t nidle, max_idle;
    atomic_llong down_until_ms; /* monotonic; 0 = not backing off */
    srsstore_observe_fn observe;
    void *observe_arg;
};

int srsstore_parse(const char *text, struct srsstore_spec *spec, fa_err *err)
{
    memset(spec, 0, sizeof(*spec));
    size_t n = strlen(text);
    if (strncmp(text, "sqlite:", 7) == 0) {
        const char *p = text + 7;
        size_t pl = n - 7;
        int ok = pl > 1 && pl < sizeof(spec->path) && p[0] == '/';
        for (size_t i = 0; ok && i < pl; i++)
            ok = (unsigned char)p[i] > ' ' && (unsigned char)p[i] < 0x7f;
        if (!ok)
            return fa_err_set(err, "sqlite: expected an absolute path (no white space)");
        spec->kind = SRSSTORE_SQLITE;
        memcpy(spec->path, p, pl + 1);
        return 0;
    }
    if (strncmp(text, "redis:", 6) == 0) {
        fa_err e;
        if (listen_parse(text + 6, n - 6, &spec->redis, &e) < 0 ||
            spec->redis.kind == LISTEN_INET_ANY)
            return fa_err_set(err, "redis: expected unix:/PATH, inet:HOST:PORT or "
                                   "inet:[IPV6]:PORT");
        spec->kind = SRSSTORE_REDIS;
        return 0;
    }
    return fa_err_set(err, "expected sqlite:/PATH, redis:unix:/PATH or redis:inet:HOST:PORT");
}

/* A connection: idle from the pool, or a new one (unless backing off). */
static void *take(struct srsstore *st, fa_err *err)
{
    pthread_mutex_lock(&st->lock);
    void *c = st->nidle ? st->idle[--st->nidle] : NULL;
    pthread_mutex_unlock(&st->lock);
    if (c)
        return c;
    /* One connect at a time: SQLite's first connection sets the database
     * up (WAL, the table) and the others must not race it; a store that
     * is down is tried by one request while the others wait for its
     * verdict instead of each waiting for its own timeout. */
    pthread_mutex_lock(&st->connect_lock);
    long long now = (long long)monoclock_ms();
    long long until = atomic_load(&st->down_until_ms);
    if (until && now < until) {
        pthread_mutex_unlock(&st->connect_lock);
        fa_err_set(err, "%s unreachable a moment ago, next try in %lld ms", st->be->name,
                   until - now);
        return NULL;
    }
    c = st->be->connect(&st->conf, err);
    atomic_store(&st->down_until_ms, c ? 0 : (long long)monoclock_ms() + SRSSTORE_BACKOFF_MS);
    pthread_mutex_unlock(&st->connect_lock);
    return c;
}

/* Give c back after a request; after an error it is closed (reconnect). */
static void give_back(struct srsstore *st, void *c, int result)
{
    if (result != SRS_STORE_ERROR) {
        pthread_mutex_lock(&st->lock);
        if (st->nidle < st->max_idle) {
            st->idle[st->nidle++] = c;
            c = NULL;
        }
        pthread_mutex_unlock(&st->lock);
    }
    if (c)
        st->be->disconnect(c);
}

static void observe(struct srsstore *st, int op, int result, double t0)
{
    if (st->observe)
        st->observe(st->observe_arg, op, result, monoclock_seconds() - t0);
}

static int st_get(struct srs_store *iface, const char *key, time_t now, char *value, size_t valsz,
                  size_t *vlen, fa_err *err)
{
    struct srsstore *st = (struct srsstore *)iface;
    double t0 = monoclock_seconds();
    int rc = SRS_STORE_ERROR;
    void *c = take(st, err);
    if (c) {
        rc = st->be->get(c, &st->conf, key, now, value, valsz, vlen, err);
        give_back(st, c, rc);
    }
    observe(st, SRSSTORE_GET, rc, t0);
    return rc;
}

static int st_put(struct srs_store *iface, const char *key, const char *value, size_t vlen,
                  unsigned ttl, time_t now, fa_err *err)
{
    struct srsstore *st = (struct srsstore *)iface;
    double t0 = monoclock_seconds();
    int rc = SRS_STORE_ERROR;
    void *c = take(st, err);
    if (c) {
        rc = st->be->put(c, &st->conf, key, value, vlen, ttl, now, err);
        give_back(st, c, rc);
    }
    observe(st, SRSSTORE_PUT, rc, t0);
    return rc;
}

static void st_free(struct srs_store *iface)
{
    struct srsstore *st = (struct srsstore *)iface;
    if (!st)
        return;
    for (size_t i = 0; i < st->nidle; i++)
        st->be->disconnect(st->idle[i]);
    free(st->idle);
    if (st->conf.password) {
        OPENSSL_cleanse(st->conf.password, st->conf.password_len);
        free(st->conf.password);
    }
    pthread_mutex_destroy(&st->lock);
    pthread_mutex_destroy(&st->connect_lock);
    free(st);
}

struct srs_store *srsstore_open(const char *text, const struct srsstore_opts *o, fa_err *err)
{
    struct srsstore *st = calloc(1, sizeof(*st));
    if (!st) {
        fa_err_set(err, "out of memory");
        return NULL;
    }
    if (srsstore_parse(text, &st->conf.spec, err) < 0) {
        free(st);
        return NULL;
    }
    pthread_mutex_init(&st->lock, NULL);
    pthread_mutex_init(&st->connect_lock, NULL);
    st->iface.get = st_get;
    st->iface.put = st_put;
    st->iface.free = st_free;
    st->be =
        st->conf.spec.kind == SRSSTORE_SQLITE ? &srsstore_sqlite_backend : &srsstore_redis_backend;
    st->conf.timeout_ms = o && o->timeout_ms ? o->timeout_ms : 1000;
    atomic_init(&st->conf.next_expire, 0);
    atomic_init(&st->conf.next_sync, 0);
    atomic_init(&st->down_until_ms, 0);
    st->max_idle = o && o->max_idle ? o->max_idle : SRSSTORE_IDLE_MAX;
    st->observe = o ? o->observe : NULL;
    st->observe_arg = o ? o->observe_arg : NULL;
    st->idle = calloc(st->max_idle, sizeof(void *));
    if (!st->idle)
        goto oom;
    if (o && o->password && o->password_len) {
        if (st->conf.spec.kind != SRSSTORE_REDIS) {
            fa_err_set(err, "a password is for a redis store only");
            st_free(&st->iface);
            return NULL;
        }
        if (!(st->conf.password = malloc(o->password_len)))
            goto oom;
        memcpy(st->conf.password, o->password, o->password_len);
        st->conf.password_len = o->password_len;
    }
    return &st->iface;
oom:
    fa_err_set(err, "out of memory");
    st_free(&st->iface);
    return NULL;
}

const char *srsstore_kind_name(const struct srs_store *iface)
{
    const struct srsstore *st = (const struct srsstore *)iface;
    return st->be->name;
}
