/* Unit tests for srsstore: both stores for real. SQLite in a temp folder
 * (schema, WAL, file mode, expiry by a fake clock, the periodic clean-up,
 * threads); Redis with a real redis-server this test starts on a UNIX
 * socket in the temp folder and stops (keys, TTL, real expiry, AUTH, down
 * and slow stores, a hostile server's endless or dribbled replies,
 * back-off and reconnect); and the engine on each store
 * with a fake clock: an alias is reversed, an expired or forged one is
 * refused without a store request (the observer counts them). Without
 * redis-server the Redis tests are skipped, or fail under CI=true. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "srs.h"
#include "srsstore.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define T0 1577836860 /* the published SRS vector's time */
#define DAY 86400
#define REDIS_SERVER "/usr/bin/redis-server"

static char dir[] = "/tmp/fwdauth-srsstore-XXXXXX";
static pid_t redis_pid = -1, redis_auth_pid = -1;

static const char *path_of(const char *name)
{
    static char p[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof(p[k]), "%s/%s", dir, name);
    return p[k];
}

/* What the observer saw: requests by operation and result. */
struct counts {
    int get_hit, get_miss, get_error, put_ok, put_error;
    double max_seconds;
};

static void count(void *arg, int op, int result, double seconds)
{
    struct counts *c = arg;
    if (op == SRSSTORE_GET)
        result == SRS_STORE_OK     ? c->get_hit++
        : result == SRS_STORE_MISS ? c->get_miss++
                                   : c->get_error++;
    else
        result == SRS_STORE_OK ? c->put_ok++ : c->put_error++;
    if (seconds > c->max_seconds)
        c->max_seconds = seconds;
}

static struct srs_store *open_store(const char *spec, struct counts *c, unsigned timeout_ms,
                                    const char *password)
{
    struct srsstore_opts o = {.timeout_ms = timeout_ms, .observe = count, .observe_arg = c};
    if (password) {
        o.password = password;
        o.password_len = strlen(password);
    }
    fa_err err;
    struct srs_store *st = srsstore_open(spec, &o, &err);
    if (!st)
        fail_msg("srsstore_open %s: %s", spec, err.msg);
    return st;
}

static int put(struct srs_store *st, const char *addr, unsigned ttl, time_t now, fa_err *err)
{
    char key[SRS_STORE_KEY_LEN + 1];
    assert_int_equal(srs_store_key(addr, strlen(addr), key), 0);
    return st->put(st, key, addr, strlen(addr), ttl, now, err);
}

static int get(struct srs_store *st, const char *addr, time_t now, char *val, fa_err *err)
{
    char key[SRS_STORE_KEY_LEN + 1];
    size_t n = 0;
    assert_int_equal(srs_store_key(addr, strlen(addr), key), 0);
    int rc = st->get(st, key, now, val, SRS_STORE_VALUE_MAX + 1, &n, err);
    if (rc == SRS_STORE_OK)
        assert_int_equal(n, strlen(val));
    return rc;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- parsing --------------------------------------------------------- */

static void test_parse(void **state)
{
    (void)state;
    struct srsstore_spec sp;
    fa_err err;
    assert_int_equal(srsstore_parse("sqlite:/var/lib/fwdauth/srs.db", &sp, &err), 0);
    assert_int_equal(sp.kind, SRSSTORE_SQLITE);
    assert_string_equal(sp.path, "/var/lib/fwdauth/srs.db");
    assert_int_equal(srsstore_parse("redis:unix:/run/redis/redis.sock", &sp, &err), 0);
    assert_int_equal(sp.kind, SRSSTORE_REDIS);
    assert_string_equal(sp.redis.path, "/run/redis/redis.sock");
    assert_int_equal(srsstore_parse("redis:inet:127.0.0.1:6379", &sp, &err), 0);
    assert_int_equal(sp.redis.port, 6379);
    assert_int_equal(srsstore_parse("redis:inet:[::1]:6379", &sp, &err), 0);
    assert_string_equal(sp.redis.host, "::1");
    static const char *const bad[] = {
        "",          "sqlite:",         "sqlite:relative.db", "sqlite:/a b",
        "redis:",    "redis:inet:6379", "redis:tcp:h:1",      "redis:inet:h:0",
        "mysql:/db", "redis:unix:rel",  "redis:inet:h:65536", "postgres:x",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (srsstore_parse(bad[i], &sp, &err) == 0)
            fail_msg("accepted \"%s\"", bad[i]);
    }
    /* a password is for Redis only */
    struct srsstore_opts o = {.password = "pw", .password_len = 2};
    assert_null(srsstore_open("sqlite:/tmp/x.db", &o, &err));
}

/* ---- SQLite ------------------------------------------------------------ */

static void sql_one(const char *db, const char *sql, char *out, size_t outsz)
{
    sqlite3 *h;
    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
    out[0] = '\0';
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(out, outsz, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(h);
}

static void test_sqlite_store(void **state)
{
    (void)state;
    const char *db = path_of("srs.db");
    char spec[300], val[SRS_STORE_VALUE_MAX + 1], text[512];
    snprintf(spec, sizeof(spec), "sqlite:%s", db);
    struct counts c = {0};
    struct srs_store *st = open_store(spec, &c, 1000, NULL);
    assert_int_equal(access(db, F_OK), -1); /* nothing before the first request */
    fa_err err;
    assert_int_equal(get(st, "a@b.example", T0, val, &err), SRS_STORE_MISS);
    assert_int_equal(put(st, "a@b.example", 100, T0, &err), SRS_STORE_OK);
    assert_int_equal(get(st, "a@b.example", T0 + 99, val, &err), SRS_STORE_OK);
    assert_string_equal(val, "a@b.example");
    /* expiry by the (fake) clock: a miss the second it expires */
    assert_int_equal(get(st, "a@b.example", T0 + 100, val, &err), SRS_STORE_MISS);
    /* put again: refreshed, one row */
    assert_int_equal(put(st, "a@b.example", 100, T0 + 100, &err), SRS_STORE_OK);
    assert_int_equal(get(st, "a@b.example", T0 + 150, val, &err), SRS_STORE_OK);
    sql_one(db, "SELECT count(*) FROM kv", text, sizeof(text));
    assert_string_equal(text, "1");
    /* PostSRSd 2's table and key, WAL, a private file */
    sql_one(db, "SELECT k FROM kv", text, sizeof(text));
    char key[SRS_STORE_KEY_LEN + 1];
    srs_store_key("a@b.example", 11, key);
    assert_string_equal(text, key);
    sql_one(db, "SELECT sql FROM sqlite_master WHERE name = 'kv'", text, sizeof(text));
    assert_non_null(strstr(text, "k TEXT NOT NULL UNIQUE ON CONFLICT REPLACE"));
    assert_non_null(strstr(text, "lt INTEGER NOT NULL"));
    sql_one(db, "PRAGMA journal_mode", text, sizeof(text));
    assert_string_equal(text, "wal");
    struct stat sb;
    assert_int_equal(stat(db, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(c.put_ok, 2);
    assert_int_equal(c.get_hit, 2);
    assert_int_equal(c.get_miss, 2);
    st->free(st);

    /* the clean-up: rows past their time go, one batch per put when due */
    struct counts c2 = {0};
    st = open_store(spec, &c2, 1000, NULL);
    char addr[64];
    for (int i = 0; i < 2500; i++) {
        snprintf(addr, sizeof(addr), "u%d@old.example", i);
        assert_int_equal(put(st, addr, 10, T0 - 100000, &err), SRS_STORE_OK);
    }
    sql_one(db, "SELECT count(*) FROM kv", text, sizeof(text));
    assert_string_equal(text, "2501"); /* the clean-up ran at the first put, before these */
    for (int i = 0; i < 3; i++) {
        snprintf(addr, sizeof(addr), "new%d@new.example", i);
        assert_int_equal(put(st, addr, 1000, T0 + 200, &err), SRS_STORE_OK);
    }
    sql_one(db, "SELECT count(*) FROM kv WHERE lt <= 1577837060", text, sizeof(text));
    assert_string_equal(text, "0"); /* 1000 + 1000 + 500 + the first row */
    sql_one(db, "SELECT count(*) FROM kv", text, sizeof(text));
    assert_string_equal(text, "3");
    st->free(st);
}

struct hammer {
    struct srs_store *st;
    int id, failures;
};

static void *hammer_main(void *arg)
{
    struct hammer *h = arg;
    char addr[64], val[SRS_STORE_VALUE_MAX + 1];
    fa_err err;
    for (int i = 0; i < 200; i++) {
        snprintf(addr, sizeof(addr), "t%d.%d@threads.example", h->id, i);
        if (put(h->st, addr, 1000, T0, &err) != SRS_STORE_OK ||
            get(h->st, addr, T0, val, &err) != SRS_STORE_OK || strcmp(val, addr) != 0)
            h->failures++;
    }
    return NULL;
}

/* Eight threads at once, as eight Postfix connections: every write is read back. */
static void hammer(const char *spec)
{
    struct counts c = {0};
    struct srs_store *st = open_store(spec, &c, 5000, NULL);
    pthread_t t[8];
    struct hammer h[8];
    for (int i = 0; i < 8; i++) {
        h[i] = (struct hammer){st, i, 0};
        assert_int_equal(pthread_create(&t[i], NULL, hammer_main, &h[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(h[i].failures, 0);
    }
    st->free(st);
}

static void test_sqlite_threads(void **state)
{
    (void)state;
    char spec[300];
    snprintf(spec, sizeof(spec), "sqlite:%s", path_of("threads.db"));
    hammer(spec);
}

static void test_sqlite_unusable(void **state)
{
    (void)state;
    struct counts c = {0};
    struct srs_store *st = open_store("sqlite:/nonexistent-dir/srs.db", &c, 200, NULL);
    fa_err err;
    assert_int_equal(put(st, "a@b.example", 100, T0, &err), SRS_STORE_ERROR);
    assert_non_null(strstr(err.msg, "/nonexistent-dir/srs.db"));
    assert_int_equal(c.put_error, 1);
    st->free(st);
}

/* ---- the engine on a real store ---------------------------------------- */

static void engine_on(const char *spec)
{
    struct counts c = {0};
    static const char *const secrets[] = {"tops3cr3t"};
    size_t lens[] = {9};
    struct srs_params p = {.domain = "fwd.example.net",
                           .hash_length = 4,
                           .max_age = 21,
                           .separator = '=',
                           .mode = SRS_MODE_HYBRID,
                           .store = open_store(spec, &c, 1000, NULL)};
    fa_err err;
    srs *s = srs_new(&p, secrets, lens, 1, &err);
    assert_non_null(s);
    static const char sender[] =
        "newsletter-bounces+subscriber.number.12345@mailing-lists.example-company.com";
    char out[SRS_ADDR_MAX], back[SRS_ADDR_MAX], bad[SRS_ADDR_MAX];
    struct srs_why why;
    /* the real clock for Redis, which expires by its own */
    time_t now = strncmp(spec, "redis", 5) == 0 ? time(NULL) : T0;
    assert_int_equal(
        srs_forward_ex(s, NULL, 0, sender, strlen(sender), now, out, sizeof(out), &why), SRS_OK);
    assert_int_equal(c.put_ok, 1);
    assert_int_equal(srs_reverse_ex(s, out, strlen(out), now + 3600, back, sizeof(back), &why),
                     SRS_OK);
    assert_string_equal(back, sender);
    assert_int_equal(c.get_hit, 1);
    /* expired by the fake clock: refused before the store is asked */
    assert_int_equal(srs_reverse_ex(s, out, strlen(out), now + 23 * DAY, back, sizeof(back), &why),
                     SRS_UNCHANGED);
    assert_int_equal(why.reason, SRS_R_EXPIRED);
    /* forged: likewise */
    strcpy(bad, out);
    bad[6] = bad[6] == 'x' ? 'y' : 'x';
    assert_int_equal(srs_reverse_ex(s, bad, strlen(bad), now, back, sizeof(back), &why),
                     SRS_UNCHANGED);
    assert_int_equal(why.reason, SRS_R_BAD_HASH);
    assert_int_equal(c.get_hit + c.get_miss + c.get_error, 1);
    /* a short sender never touches the store */
    assert_int_equal(srs_forward_ex(s, NULL, 0, "a@b.example", 11, now, out, sizeof(out), &why),
                     SRS_OK);
    assert_int_equal(c.put_ok + c.put_error, 1);
    srs_free(s);
}

static void test_engine_on_sqlite(void **state)
{
    (void)state;
    char spec[300];
    snprintf(spec, sizeof(spec), "sqlite:%s", path_of("engine.db"));
    engine_on(spec);
}

/* ---- Redis ------------------------------------------------------------- */

static int in_ci(void)
{
    const char *ci = getenv("CI");
    return ci && strcmp(ci, "true") == 0;
}

static void need_redis(void)
{
    if (access(REDIS_SERVER, X_OK) == 0)
        return;
    if (in_ci())
        fail_msg("CI=true and %s is missing (scripts/deps.sh)", REDIS_SERVER);
    skip();
}

/* redis-server on DIR/NAME.sock, no TCP, no persistence; waits until it answers. */
static pid_t start_redis(const char *name, const char *password)
{
    char sock[256], log[300];
    snprintf(sock, sizeof(sock), "%s", path_of(name));
    snprintf(log, sizeof(log), "%s.log", sock);
    unlink(sock);
    pid_t pid = fork();
    if (pid == 0) {
        const char *argv[32];
        int n = 0;
        argv[n++] = REDIS_SERVER;
        argv[n++] = "--port";
        argv[n++] = "0";
        argv[n++] = "--unixsocket";
        argv[n++] = sock;
        argv[n++] = "--unixsocketperm";
        argv[n++] = "700";
        argv[n++] = "--save";
        argv[n++] = "";
        argv[n++] = "--appendonly";
        argv[n++] = "no";
        argv[n++] = "--dir";
        argv[n++] = dir;
        argv[n++] = "--logfile";
        argv[n++] = log;
        if (password) {
            argv[n++] = "--requirepass";
            argv[n++] = password;
        }
        argv[n] = NULL;
        execv(REDIS_SERVER, (char *const *)argv);
        _exit(127);
    }
    assert_true(pid > 0);
    for (int i = 0; i < 200; i++) {
        struct timeval tv = {1, 0};
        redisContext *c = redisConnectUnixWithTimeout(sock, tv);
        int ok = c && !c->err;
        redisFree(c);
        if (ok)
            return pid;
        usleep(50000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    fail_msg("redis-server did not start on %s", sock);
    return -1;
}

static void stop_redis(pid_t *pid)
{
    if (*pid > 0) {
        kill(*pid, SIGTERM);
        waitpid(*pid, NULL, 0);
        *pid = -1;
    }
}

static redisReply *raw(const char *name, const char *cmd, const char *arg)
{
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectUnixWithTimeout(path_of(name), tv);
    assert_true(c && !c->err);
    redisReply *r = redisCommand(c, cmd, arg);
    redisFree(c);
    assert_non_null(r);
    return r;
}

static void test_redis_store(void **state)
{
    (void)state;
    need_redis();
    if (redis_pid < 0)
        redis_pid = start_redis("redis.sock", NULL);
    char spec[300], val[SRS_STORE_VALUE_MAX + 1];
    snprintf(spec, sizeof(spec), "redis:unix:%s", path_of("redis.sock"));
    struct counts c = {0};
    struct srs_store *st = open_store(spec, &c, 1000, NULL);
    fa_err err;
    time_t now = time(NULL);
    assert_int_equal(get(st, "a@b.example", now, val, &err), SRS_STORE_MISS);
    assert_int_equal(put(st, "a@b.example", 22 * DAY, now, &err), SRS_STORE_OK);
    assert_int_equal(get(st, "a@b.example", now, val, &err), SRS_STORE_OK);
    assert_string_equal(val, "a@b.example");
    /* PostSRSd 2's key, and Redis's own expiry (EX) */
    char key[SRS_STORE_KEY_LEN + 1], rk[64];
    srs_store_key("a@b.example", 11, key);
    snprintf(rk, sizeof(rk), "PostSRSd/%s", key);
    redisReply *r = raw("redis.sock", "TTL %s", rk);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    assert_true(r->integer > 22 * DAY - 60 && r->integer <= 22 * DAY);
    freeReplyObject(r);
    r = raw("redis.sock", "GET %s", rk);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_string_equal(r->str, "a@b.example");
    freeReplyObject(r);
    /* real expiry: one second */
    assert_int_equal(put(st, "short@b.example", 1, now, &err), SRS_STORE_OK);
    usleep(2100000);
    assert_int_equal(get(st, "short@b.example", now, val, &err), SRS_STORE_MISS);
    /* a value that is not a string: an error, never a sender */
    srs_store_key("weird@b.example", 15, key);
    snprintf(rk, sizeof(rk), "PostSRSd/%s", key);
    freeReplyObject(raw("redis.sock", "LPUSH %s x", rk));
    assert_int_equal(get(st, "weird@b.example", now, val, &err), SRS_STORE_ERROR);
    assert_non_null(strstr(err.msg, "WRONGTYPE"));
    assert_int_equal(c.get_hit, 1);
    assert_int_equal(c.get_miss, 2);
    assert_int_equal(c.get_error, 1);
    st->free(st);
}

static void test_redis_threads(void **state)
{
    (void)state;
    need_redis();
    if (redis_pid < 0)
        redis_pid = start_redis("redis.sock", NULL);
    char spec[300];
    snprintf(spec, sizeof(spec), "redis:unix:%s", path_of("redis.sock"));
    hammer(spec);
}

static void test_engine_on_redis(void **state)
{
    (void)state;
    need_redis();
    if (redis_pid < 0)
        redis_pid = start_redis("redis.sock", NULL);
    char spec[300];
    snprintf(spec, sizeof(spec), "redis:unix:%s", path_of("redis.sock"));
    engine_on(spec);
}

static void test_redis_auth(void **state)
{
    (void)state;
    need_redis();
    static const char pw[] = "s3cret-redis-pass";
    redis_auth_pid = start_redis("auth.sock", pw);
    char spec[300], val[SRS_STORE_VALUE_MAX + 1];
    snprintf(spec, sizeof(spec), "redis:unix:%s", path_of("auth.sock"));
    fa_err err;
    struct counts c = {0};
    struct srs_store *st = open_store(spec, &c, 1000, NULL);
    assert_int_equal(put(st, "a@b.example", 100, time(NULL), &err), SRS_STORE_ERROR);
    assert_non_null(strstr(err.msg, "NOAUTH"));
    st->free(st);
    st = open_store(spec, &c, 1000, "wrong-password");
    assert_int_equal(put(st, "a@b.example", 100, time(NULL), &err), SRS_STORE_ERROR);
    assert_non_null(strstr(err.msg, "AUTH refused"));
    assert_null(strstr(err.msg, "wrong-password"));
    st->free(st);
    st = open_store(spec, &c, 1000, pw);
    assert_int_equal(put(st, "a@b.example", 100, time(NULL), &err), SRS_STORE_OK);
    assert_int_equal(get(st, "a@b.example", time(NULL), val, &err), SRS_STORE_OK);
    st->free(st);
    stop_redis(&redis_auth_pid);
}

/* Down: an error at once, then back-off, then a reconnect once it is back. */
static void test_redis_down_and_back(void **state)
{
    (void)state;
    need_redis();
    pid_t pid = start_redis("flaky.sock", NULL);
    char spec[300], val[SRS_STORE_VALUE_MAX + 1];
    snprintf(spec, sizeof(spec), "redis:unix:%s", path_of("flaky.sock"));
    struct counts c = {0};
    struct srs_store *st = open_store(spec, &c, 1000, NULL);
    fa_err err;
    time_t now = time(NULL);
    assert_int_equal(put(st, "a@b.example", 100, now, &err), SRS_STORE_OK);
    stop_redis(&pid);
    /* the pooled connection is dead: this request fails and drops it */
    assert_int_equal(get(st, "a@b.example", now, val, &err), SRS_STORE_ERROR);
    /* the next one cannot connect; the one after does not even try */
    assert_int_equal(get(st, "a@b.example", now, val, &err), SRS_STORE_ERROR);
    double t = now_s();
    assert_int_equal(get(st, "a@b.example", now, val, &err), SRS_STORE_ERROR);
    assert_true(now_s() - t < 0.05);
    assert_non_null(strstr(err.msg, "unreachable"));
    pid = start_redis("flaky.sock", NULL);
    usleep((SRSSTORE_BACKOFF_MS + 100) * 1000);
    /* back, without its data (no persistence): a miss, not an error */
    assert_int_equal(get(st, "a@b.example", now, val, &err), SRS_STORE_MISS);
    assert_int_equal(put(st, "a@b.example", 100, now, &err), SRS_STORE_OK);
    assert_int_equal(get(st, "a@b.example", now, val, &err), SRS_STORE_OK);
    st->free(st);
    stop_redis(&pid);
}

/* Hostile: a "Redis" that answers every command with what a broken or
 * malicious server might send. hiredis 0.14 alone would calloc 3.2 GB for
 * the declared array, buffer the endless bulk string without limit, and
 * wait a read timeout per dribbled byte; each must instead be an error
 * naming the limit, within a bounded time. */
enum hostile_kind { HOSTILE_SILENT, HOSTILE_ARRAY, HOSTILE_ENDLESS, HOSTILE_DRIBBLE };

struct hostile {
    int fd;
    enum hostile_kind kind;
};

static void *hostile_serve(void *arg)
{
    struct hostile *h = arg;
    int c;
    while ((c = accept(h->fd, NULL, NULL)) >= 0) {
        char buf[4096];
        if (read(c, buf, sizeof(buf)) <= 0) {
            close(c);
            continue;
        }
        if (h->kind == HOSTILE_SILENT) {
            while (read(c, buf, sizeof(buf)) > 0) /* until the client gives up */
                ;
        } else if (h->kind == HOSTILE_ARRAY) {
            (void)!write(c, "*400000000\r\n", 12);
        } else if (h->kind == HOSTILE_ENDLESS) {
            (void)!write(c, "$1000000000\r\n", 14);
            memset(buf, 'x', sizeof(buf));
            for (int i = 0; i < 100000 && write(c, buf, sizeof(buf)) > 0; i++)
                ;
        } else {
            (void)!write(c, "$64\r\n", 5);
            for (int i = 0; i < 64 && write(c, "x", 1) == 1; i++)
                usleep(100000); /* under the 300 ms read timeout each time */
        }
        close(c);
    }
    return NULL;
}

static void hostile_case(enum hostile_kind kind, const char *name, const char *want, double min_s)
{
    const char *sock = path_of(name);
    unlink(sock);
    struct hostile h = {socket(AF_UNIX, SOCK_STREAM, 0), kind};
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock);
    assert_int_equal(bind(h.fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    assert_int_equal(listen(h.fd, 16), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, hostile_serve, &h), 0);
    char spec[300], val[SRS_STORE_VALUE_MAX + 1];
    snprintf(spec, sizeof(spec), "redis:unix:%s", sock);
    struct counts c = {0};
    struct srs_store *st = open_store(spec, &c, 300, NULL);
    fa_err err;
    double t0 = now_s();
    assert_int_equal(get(st, "a@b.example", time(NULL), val, &err), SRS_STORE_ERROR);
    double took = now_s() - t0;
    if (!strstr(err.msg, want))
        fail_msg("%s: want \"%s\" in \"%s\"", name, want, err.msg);
    /* twice the 300 ms timeout, plus a loaded machine's slack; without the
     * limit the dribble alone takes 6.4 s */
    if (took < min_s || took > 2.5)
        fail_msg("%s: %.2f s", name, took);
    assert_int_equal(c.get_error, 1);
    st->free(st);
    shutdown(h.fd, SHUT_RDWR);
    close(h.fd);
    pthread_join(t, NULL);
}

static void test_redis_hostile(void **state)
{
    (void)state;
    hostile_case(HOSTILE_ARRAY, "array.sock", "Out of memory", 0);
    hostile_case(HOSTILE_ENDLESS, "endless.sock", "reply over 65536 octets", 0);
    hostile_case(HOSTILE_DRIBBLE, "dribble.sock", "twice srs_store_timeout_ms", 0);
}

/* Slow: a server that accepts and never answers; each request gives up
 * after the 300 ms timeout. */
static void test_redis_slow(void **state)
{
    (void)state;
    hostile_case(HOSTILE_SILENT, "silent.sock", "GET", 0.25);
}

static int setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    stop_redis(&redis_pid);
    stop_redis(&redis_auth_pid);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_sqlite_store),
        cmocka_unit_test(test_sqlite_threads),
        cmocka_unit_test(test_sqlite_unusable),
        cmocka_unit_test(test_engine_on_sqlite),
        cmocka_unit_test(test_redis_store),
        cmocka_unit_test(test_redis_threads),
        cmocka_unit_test(test_engine_on_redis),
        cmocka_unit_test(test_redis_auth),
        cmocka_unit_test(test_redis_down_and_back),
        cmocka_unit_test(test_redis_slow),
        cmocka_unit_test(test_redis_hostile),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
