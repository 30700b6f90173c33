/* srsstore_sqlite - SQLite as the SRS store of one host; see srsstore_sqlite.h. */
#include "srsstore_sqlite.h"

#include "srs_store.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct sq_conn {
    sqlite3 *db;
    sqlite3_stmt *get, *put, *expire;
};

static int sq_fail(fa_err *err, const struct srsstore_conf *conf, sqlite3 *db, const char *what)
{
    return fa_err_set(err, "sqlite %s: %s: %s", conf->spec.path, what,
                      db ? sqlite3_errmsg(db) : "out of memory");
}

static void sq_disconnect(void *conn)
{
    struct sq_conn *c = conn;
    if (!c)
        return;
    sqlite3_finalize(c->get);
    sqlite3_finalize(c->put);
    sqlite3_finalize(c->expire);
    sqlite3_close(c->db);
    free(c);
}

static void *sq_connect(struct srsstore_conf *conf, fa_err *err)
{
    const char *path = conf->spec.path;
    /* Created here, not by SQLite, so that it is 0600 whatever the umask
     * (SQLite gives the -wal and -shm files the database's mode). */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0)
        close(fd);
    else if (errno != EEXIST) {
        fa_err_errno(err, errno, "sqlite %s: cannot create", path);
        return NULL;
    }
    struct sq_conn *c = calloc(1, sizeof(*c));
    if (!c) {
        fa_err_set(err, "out of memory");
        return NULL;
    }
    int rc = sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        sq_fail(err, conf, c->db, "cannot open");
        sq_disconnect(c);
        return NULL;
    }
    sqlite3_busy_timeout(c->db, (int)conf->timeout_ms);
    static const char setup[] =
        "PRAGMA journal_mode = WAL;"
        "PRAGMA synchronous = NORMAL;"
        "CREATE TABLE IF NOT EXISTS kv (k TEXT NOT NULL UNIQUE ON CONFLICT REPLACE,"
        " v TEXT NOT NULL, lt INTEGER NOT NULL);"
        "CREATE INDEX IF NOT EXISTS ltidx ON kv (lt);";
    if (sqlite3_exec(c->db, setup, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(c->db, "SELECT v FROM kv WHERE k = ?1 AND lt > ?2", -1, &c->get, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v2(c->db, "INSERT INTO kv (k, v, lt) VALUES (?1, ?2, ?3)", -1, &c->put,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(c->db,
                           "DELETE FROM kv WHERE rowid IN (SELECT rowid FROM kv WHERE lt <= ?1 "
                           "LIMIT ?2)",
                           -1, &c->expire, NULL) != SQLITE_OK) {
        sq_fail(err, conf, c->db, "cannot set up");
        sq_disconnect(c);
        return NULL;
    }
    return c;
}

static int sq_get(void *conn, struct srsstore_conf *conf, const char *key, time_t now, char *value,
                  size_t valsz, size_t *vlen, fa_err *err)
{
    struct sq_conn *c = conn;
    int result = SRS_STORE_ERROR;
    sqlite3_bind_text(c->get, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(c->get, 2, (sqlite3_int64)now);
    int rc = sqlite3_step(c->get);
    if (rc == SQLITE_DONE) {
        result = SRS_STORE_MISS;
    } else if (rc == SQLITE_ROW) {
        const unsigned char *v = sqlite3_column_text(c->get, 0);
        int n = sqlite3_column_bytes(c->get, 0);
        if (!v || n < 0) {
            sq_fail(err, conf, c->db, "read");
        } else {
            /* An over-long value is cut here and refused by the caller,
             * who sees its whole length (srs_store_value_check). */
            size_t k = (size_t)n < valsz ? (size_t)n : valsz - 1;
            memcpy(value, v, k);
            value[k] = '\0';
            *vlen = (size_t)n;
            result = SRS_STORE_OK;
        }
    } else {
        sq_fail(err, conf, c->db, "read");
    }
    sqlite3_reset(c->get);
    sqlite3_clear_bindings(c->get);
    return result;
}

/* Once a second at most: copy the WAL into the database and fsync both,
 * so that a power cut loses at most the last second of stored senders
 * (as Redis with appendfsync everysec); errors only delay it. */
static void sq_sync(struct sq_conn *c, struct srsstore_conf *conf, time_t now)
{
    long long due = atomic_load(&conf->next_sync);
    if (now < due || !atomic_compare_exchange_strong(&conf->next_sync, &due, (long long)now + 1))
        return;
    sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
}

/* Delete one batch of expired rows when it is time; errors only delay it. */
static void sq_expire(struct sq_conn *c, struct srsstore_conf *conf, time_t now)
{
    long long due = atomic_load(&conf->next_expire);
    if (now < due || !atomic_compare_exchange_strong(&conf->next_expire, &due, due + 60))
        return; /* not yet, or another thread does it (it has a minute) */
    sqlite3_bind_int64(c->expire, 1, (sqlite3_int64)now);
    sqlite3_bind_int(c->expire, 2, SRSSTORE_SQLITE_EXPIRE_BATCH);
    int rc = sqlite3_step(c->expire);
    int deleted = rc == SQLITE_DONE ? sqlite3_changes(c->db) : 0;
    sqlite3_reset(c->expire);
    /* A full batch: more are left, go on with the next put. */
    atomic_store(&conf->next_expire, deleted >= SRSSTORE_SQLITE_EXPIRE_BATCH
                                         ? (long long)now
                                         : (long long)now + SRSSTORE_SQLITE_EXPIRE_EVERY);
}

static int sq_put(void *conn, struct srsstore_conf *conf, const char *key, const char *value,
                  size_t vlen, unsigned ttl, time_t now, fa_err *err)
{
    struct sq_conn *c = conn;
    sqlite3_bind_text(c->put, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(c->put, 2, value, (int)vlen, SQLITE_STATIC);
    sqlite3_bind_int64(c->put, 3, (sqlite3_int64)now + ttl);
    int rc = sqlite3_step(c->put);
    sqlite3_reset(c->put);
    sqlite3_clear_bindings(c->put);
    if (rc != SQLITE_DONE) {
        sq_fail(err, conf, c->db, "write");
        return SRS_STORE_ERROR;
    }
    sq_expire(c, conf, now);
    sq_sync(c, conf, now);
    return SRS_STORE_OK;
}

const struct srsstore_backend srsstore_sqlite_backend = {
    .name = "sqlite",
    .connect = sq_connect,
    .disconnect = sq_disconnect,
    .get = sq_get,
    .put = sq_put,
};
