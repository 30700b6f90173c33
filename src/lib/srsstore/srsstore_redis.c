/* srsstore_redis - Redis or Valkey as the SRS store; see srsstore_redis.h. */
#include "srsstore_redis.h"

#include "srs_store.h"

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
    if (conf->password) {
        redisReply *r = redisCommand(c, "AUTH %b", conf->password, conf->password_len);
        int ok = r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0;
        if (!ok)
            rd_fail(err, conf, "AUTH refused",
                    !r                             ? c->errstr
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
    redisReply *r = redisCommand(c, "GET " SRSSTORE_REDIS_PREFIX "%s", key);
    if (!r) {
        rd_fail(err, conf, "GET", c->errstr);
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
    redisReply *r =
        redisCommand(c, "SET " SRSSTORE_REDIS_PREFIX "%s %b EX %u", key, value, vlen, ttl);
    if (!r) {
        rd_fail(err, conf, "SET", c->errstr);
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
