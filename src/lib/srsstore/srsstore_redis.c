/* srsstore_redis - Redis or Valkey as the SRS store; see srsstore_redis.h. */
#include "srsstore_redis.h"

#include "monoclock.h"
#include "srs_store.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

static struct timeval tv_of(unsigned ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    return tv;
}

static const char *where(const struct srsstore_conf *conf, char *buf, size_t n)
{
    if (listen_format(&conf->spec.redis, buf, n) < 0)
        snprintf(buf, n, "?");
    return buf;
}

static int rd_fail(fa_err *err, const struct srsstore_conf *conf, const char *what,
                   const char *detail)
{
    char w[LISTEN_TEXT_MAX];
    return fa_err_set(err, "redis %s: %s: %.100s", where(conf, w, sizeof(w)), what,
                      detail && detail[0] ? detail : "failed");
}

/* hiredis 0.14 (Debian 12) has no limit of its own on what a server may
 * declare: "*400000000" makes its reader calloc 3.2 GB before a single
 * element arrived. Our create functions wrap hiredis's own (kept in the
 * reader's privdata, which reaches every task) and refuse an array or a
 * string over our limits; hiredis then fails the reply ("Out of memory",
 * its only word for a refused object), which the store reports as an
 * error, so the table answers TEMP. */
static const redisReplyObjectFunctions *base_fn(const redisReadTask *t)
{
    return t->privdata;
}

static void *bounded_string(const redisReadTask *t, char *s, size_t n)
{
    return n > SRSSTORE_REDIS_REPLY_MAX ? NULL : base_fn(t)->createString(t, s, n);
}

static void *bounded_array(const redisReadTask *t, int n)
{
    return n < 0 || n > SRSSTORE_REDIS_ARRAY_MAX ? NULL : base_fn(t)->createArray(t, n);
}

static void *bounded_integer(const redisReadTask *t, long long v)
{
    return base_fn(t)->createInteger(t, v);
}

static void *bounded_nil(const redisReadTask *t)
{
    return base_fn(t)->createNil(t);
}

static redisReplyObjectFunctions bounded_fn = {
    .createString = bounded_string,
    .createArray = bounded_array,
    .createInteger = bounded_integer,
    .createNil = bounded_nil,
    .freeObject = freeReplyObject,
};

void srsstore_redis_bound(redisReader *r)
{
    if (r->fn == &bounded_fn)
        return;
    r->privdata = r->fn;
    r->fn = &bounded_fn;
}

/* One command and its reply, as redisCommand would do it, but bounded:
 * the unparsed input never exceeds SRSSTORE_REDIS_REPLY_MAX (a server that
 * streams a 1 GB bulk string is cut off at 64 KiB, not buffered), and the
 * whole round trip ends after twice the timeout even when the server
 * dribbles one byte per read timeout. */
static redisReply *rd_roundtrip(redisContext *c, const struct srsstore_conf *conf, const char **why)
{
    int64_t deadline = monoclock_ms() + 2 * (int64_t)conf->timeout_ms;
    void *reply = NULL;
    int done = 0;
    *why = NULL;
    do {
        if (redisBufferWrite(c, &done) != REDIS_OK)
            return NULL;
    } while (!done);
    for (;;) {
        if (redisGetReplyFromReader(c, &reply) != REDIS_OK)
            return NULL;
        if (reply)
            return reply;
        if (c->reader->len - c->reader->pos > SRSSTORE_REDIS_REPLY_MAX) {
            *why = "reply over " SRSSTORE_REDIS_REPLY_MAX_TEXT " octets";
            return NULL;
        }
        if (monoclock_ms() > deadline) {
            *why = "reply not complete within twice srs_store_timeout_ms";
            return NULL;
        }
        if (redisBufferRead(c) != REDIS_OK)
            return NULL;
    }
}

/* The reply to a command, or NULL with the reason in *why. A context that
 * failed mid-reply is out of step with its server: the caller's error
 * makes the pool drop it. */
static redisReply *rd_command(redisContext *c, const struct srsstore_conf *conf, const char **why,
                              const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = redisvAppendCommand(c, fmt, ap);
    va_end(ap);
    if (rc != REDIS_OK) {
        *why = c->errstr;
        return NULL;
    }
    redisReply *r = rd_roundtrip(c, conf, why);
    if (!r && !*why)
        *why = c->err ? c->errstr : "failed";
    return r;
}

static void rd_disconnect(void *conn)
{
    if (conn)
        redisFree(conn);
}

static void *rd_connect(struct srsstore_conf *conf, fa_err *err)
{
    struct timeval tv = tv_of(conf->timeout_ms);
    const struct listen_addr *a = &conf->spec.redis;
    redisContext *c = a->kind == LISTEN_UNIX ? redisConnectUnixWithTimeout(a->path, tv)
                                             : redisConnectWithTimeout(a->host, (int)a->port, tv);
    if (!c || c->err) {
        rd_fail(err, conf, "cannot connect", c ? c->errstr : "out of memory");
        rd_disconnect(c);
        return NULL;
    }
    if (redisSetTimeout(c, tv) != REDIS_OK ||
        (a->kind != LISTEN_UNIX && redisEnableKeepAlive(c) != REDIS_OK)) {
        rd_fail(err, conf, "cannot set timeouts", c->errstr);
        rd_disconnect(c);
        return NULL;
    }
    srsstore_redis_bound(c->reader);
    if (conf->password) {
        const char *why = NULL;
        redisReply *r =
            rd_command(c, conf, &why, "AUTH %b", conf->password, (size_t)conf->password_len);
        int ok = r && r->type == REDIS_REPLY_STATUS && r->str && strcmp(r->str, "OK") == 0;
        if (!ok)
            rd_fail(err, conf, "AUTH refused",
                    !r                             ? why
                    : r->type == REDIS_REPLY_ERROR ? r->str
                                                   : "unexpected reply");
        if (r)
            freeReplyObject(r);
        if (!ok) {
            rd_disconnect(c);
            return NULL;
        }
    }
    return c;
}

int srsstore_redis_reply_get(const redisReply *r, char *value, size_t valsz, size_t *vlen,
                             fa_err *err)
{
    if (r->type == REDIS_REPLY_NIL)
        return SRS_STORE_MISS;
    if (r->type == REDIS_REPLY_STRING && valsz > 0 && (r->len == 0 || r->str)) {
        size_t n = (size_t)r->len;
        size_t k = n < valsz ? n : valsz - 1;
        memcpy(value, r->str, k);
        value[k] = '\0';
        *vlen = n;
        return SRS_STORE_OK;
    }
    if (r->type == REDIS_REPLY_ERROR)
        fa_err_set(err, "GET: %.100s", r->str ? r->str : "error");
    else
        fa_err_set(err, "GET: unexpected reply type %d", r->type);
    return SRS_STORE_ERROR;
}

int srsstore_redis_reply_put(const redisReply *r, fa_err *err)
{
    if (r->type == REDIS_REPLY_STATUS && r->str && r->len == 2 && memcmp(r->str, "OK", 2) == 0)
        return SRS_STORE_OK;
    if (r->type == REDIS_REPLY_ERROR)
        fa_err_set(err, "SET: %.100s", r->str ? r->str : "error");
    else
        fa_err_set(err, "SET: unexpected reply type %d", r->type);
    return SRS_STORE_ERROR;
}

static int rd_get(void *conn, struct srsstore_conf *conf, const char *key, time_t now, char *value,
                  size_t valsz, size_t *vlen, fa_err *err)
{
    (void)now; /* Redis expires entries itself */
    redisContext *c = conn;
    const char *why = NULL;
    redisReply *r = rd_command(c, conf, &why, "GET " SRSSTORE_REDIS_PREFIX "%s", key);
    if (!r) {
        rd_fail(err, conf, "GET", why);
        return SRS_STORE_ERROR;
    }
    fa_err e = {{0}};
    int rc = srsstore_redis_reply_get(r, value, valsz, vlen, &e);
    freeReplyObject(r);
    if (rc == SRS_STORE_ERROR)
        rd_fail(err, conf, "reply", e.msg);
    return rc;
}

static int rd_put(void *conn, struct srsstore_conf *conf, const char *key, const char *value,
                  size_t vlen, unsigned ttl, time_t now, fa_err *err)
{
    (void)now;
    redisContext *c = conn;
    const char *why = NULL;
    redisReply *r = rd_command(c, conf, &why, "SET " SRSSTORE_REDIS_PREFIX "%s %b EX %u", key,
                               value, vlen, ttl);
    if (!r) {
        rd_fail(err, conf, "SET", why);
        return SRS_STORE_ERROR;
    }
    fa_err e = {{0}};
    int rc = srsstore_redis_reply_put(r, &e);
    freeReplyObject(r);
    if (rc == SRS_STORE_ERROR)
        rd_fail(err, conf, "reply", e.msg);
    return rc;
}

const struct srsstore_backend srsstore_redis_backend = {
    .name = "redis",
    .connect = rd_connect,
    .disconnect = rd_disconnect,
    .get = rd_get,
    .put = rd_put,
};
