/* server - accept loop and per-connection threads; see server.h. */
#include "server.h"

#include "log.h"
#include "lookup.h"
#include "metrics.h"
#include "milter_conn.h"
#include "monoclock.h"
#include "netstring.h"
#include "runtime.h"
#include "socketmap.h"
#include "sockio.h"
#include "tcptable.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define OUT_MAX 16384
#define REPLY_ROOM                                                                                 \
    (SOCKETMAP_REPLY_MAX > TCPTABLE_LINE_MAX ? SOCKETMAP_REPLY_MAX : TCPTABLE_LINE_MAX)
#define SOCKETMAP_BUF (NETSTRING_FRAMED_MAX + 8192)
#define TCP_BUF (2 * TCPTABLE_LINE_MAX)
#define THREAD_STACK (512 * 1024)

struct conn {
    int fd;
    int kind;
    int li; /* index of its listener in server_run's array */
    int warned;
    int evicted;                /* under reg_lock: closed to make room */
    _Atomic int64_t idle_since; /* monoclock ms when it began waiting between
                                   requests; 0 while a request is under way */
    struct metrics *metrics;
    struct conn *prev, *next;
    struct conn *pool_next; /* under pool_lock, while it waits for a thread */
    pthread_t thread;       /* under reg_lock, once has_thread: woken for a drain */
    int has_thread;
    int tcp; /* inet, not unix: TCP_NODELAY, TCP_QUICKACK apply */
    char peer[64];
    size_t cap, off, len;
    uint8_t out[OUT_MAX];
    uint8_t in[]; /* cap bytes */
};

/* Daemon-wide connection registry, so that a stop can wake idle threads,
 * with the count per listener that its limit is checked against. */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t reg_empty = PTHREAD_COND_INITIALIZER;
static struct conn *reg_head;
static size_t reg_count, reg_evicting;
static size_t reg_per[SERVER_LISTENERS_MAX], reg_per_evicting[SERVER_LISTENERS_MAX];
static atomic_int stopping;
/* Drain (server.h): table connections are handed over when idle. */
static atomic_int draining;
static struct server_handover handover = {-1, NULL, NULL, NULL};

void server_set_handover(const struct server_handover *h)
{
    handover = *h;
}

const char *server_kind_name(int kind)
{
    switch (kind) {
    case SERVER_SOCKETMAP:
        return "socketmap";
    case SERVER_TCP_FORWARD:
        return "tcp_table forward";
    case SERVER_MILTER:
        return "milter";
    default:
        return "tcp_table reverse";
    }
}

static void reg_add(struct conn *c)
{
    pthread_mutex_lock(&reg_lock);
    c->prev = NULL;
    c->next = reg_head;
    if (reg_head)
        reg_head->prev = c;
    reg_head = c;
    reg_count++;
    reg_per[c->li]++;
    pthread_mutex_unlock(&reg_lock);
}

/* Unregister and close: under the lock, so a stop never shuts down a
 * descriptor number that was closed and reused. */
static void reg_remove_close(struct conn *c)
{
    pthread_mutex_lock(&reg_lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        reg_head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    reg_count--;
    reg_per[c->li]--;
    if (c->evicted) {
        reg_evicting--;
        reg_per_evicting[c->li]--;
    }
    close(c->fd);
    if (reg_count == 0)
        pthread_cond_broadcast(&reg_empty);
    pthread_mutex_unlock(&reg_lock);
}

/* The client's address as accept(2) gave it (no getpeername per
 * connection), or asked of the socket for a connection handed over.
 * Returns its address family (AF_UNSPEC when unknown). */
static int peer_name(int fd, const struct sockaddr_storage *given, char *out, size_t outsz)
{
    struct sockaddr_storage asked;
    const struct sockaddr_storage *p = given;
    socklen_t sl = sizeof(asked);
    char host[INET6_ADDRSTRLEN] = "?";
    if (!p) {
        if (getpeername(fd, (struct sockaddr *)&asked, &sl) < 0) {
            snprintf(out, outsz, "unknown");
            return AF_UNSPEC;
        }
        p = &asked;
    }
    if (p->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)p;
        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
        snprintf(out, outsz, "%s:%u", host, (unsigned)ntohs(sin->sin_port));
    } else if (p->ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)p;
        inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
        snprintf(out, outsz, "[%s]:%u", host, (unsigned)ntohs(sin6->sin6_port));
    } else {
        snprintf(out, outsz, "unix");
    }
    return p->ss_family;
}

static void set_timeout(int fd, int opt, long ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof(tv));
}

/* Log a protocol problem: the first per connection at warning, later ones at debug. */
static void conn_problem(struct conn *c, const char *what)
{
    int level = c->warned ? FA_LOG_DEBUG : FA_LOG_WARNING;
    c->warned = 1;
    log_msg(level, "%s client %s: %s", server_kind_name(c->kind), c->peer, what);
}

static void log_note(struct conn *c, const struct lookup_note *n)
{
    int level = lookup_log_level(n);
    if (n->kind == LOOKUP_BADREQ) {
        if (c->warned)
            level = FA_LOG_DEBUG;
        c->warned = 1;
    }
    if (!log_enabled(level))
        return;
    int kl = n->key_len > 1024 ? 1024 : (int)n->key_len;
    const char *dir = lookup_dir_name(n->dir);
    switch (n->kind) {
    case LOOKUP_FOUND:
        log_msg(level, "srs %s: <%.*s> -> <%.*s>", dir, kl, n->key ? n->key : "",
                (int)n->result_len, n->result);
        break;
    case LOOKUP_NOTFOUND:
        log_msg(level, "srs %s: <%.*s> left unchanged: %s", dir, kl, n->key ? n->key : "",
                n->why ? n->why : "");
        break;
    case LOOKUP_TEMP:
        log_msg(level, "srs %s: <%.*s>: temporary failure: %s", dir, kl, n->key ? n->key : "",
                n->why ? n->why : "");
        break;
    default:
        log_msg(level, "%s client %s: %s: \"%.*s\"", server_kind_name(c->kind), c->peer,
                n->why ? n->why : "bad request", kl, n->key ? n->key : "");
    }
}

static int listener_label(int kind)
{
    switch (kind) {
    case SERVER_SOCKETMAP:
        return METRICS_L_SOCKETMAP;
    case SERVER_TCP_FORWARD:
        return METRICS_L_TCP_FORWARD;
    case SERVER_TCP_REVERSE:
        return METRICS_L_TCP_REVERSE;
    default:
        return METRICS_L_MILTER;
    }
}

/* The one place each table answer is counted: after its handler decided it. */
static void count_answer(const struct conn *c, const struct lookup_note *n)
{
    int result = n->kind == LOOKUP_FOUND      ? METRICS_FOUND
                 : n->kind == LOOKUP_NOTFOUND ? METRICS_NOTFOUND
                 : n->kind == LOOKUP_TEMP     ? METRICS_TEMP
                                              : METRICS_ERROR;
    int map = n->dir == LOOKUP_FORWARD ? METRICS_MAP_FORWARD : METRICS_MAP_REVERSE;
    /* A socketmap request refused before its map name was known. */
    if (c->kind == SERVER_SOCKETMAP && n->kind == LOOKUP_BADREQ)
        map = METRICS_MAP_UNKNOWN;
    metrics_srs_lookup(c->metrics,
                       c->kind == SERVER_SOCKETMAP ? METRICS_SOCKETMAP : METRICS_TCP_TABLE, map,
                       result);
}

enum batch_result { BATCH_OK, BATCH_CLOSE };

/* A reply must be written within request_timeout (sockio.h). */
static long send_ms(const struct runtime *rt)
{
    return (long)rt->cfg.request_timeout * 1000;
}

/* Answer every complete request in c->in[off..len), in order, with as few
 * writes as possible. */
static int serve_batch(struct conn *c, struct runtime **rtp, int *completed)
{
    size_t outlen = 0;
    time_t now = 0;
    int result = BATCH_OK;
    *completed = 0;
    while (c->off < c->len) {
        const uint8_t *p = c->in + c->off;
        size_t avail = c->len - c->off, used = 0, dlen = 0;
        const uint8_t *data = p;
        int st;
        if (c->kind == SERVER_SOCKETMAP) {
            st = netstring_parse(p, avail, &data, &dlen, &used);
            if (st == NETSTRING_MALFORMED) {
                conn_problem(c, "malformed netstring, closing the connection");
                result = BATCH_CLOSE;
                break;
            }
            if (st == NETSTRING_NEED_MORE)
                break;
        } else {
            st = tcptable_frame(p, avail, &dlen, &used);
            if (st == TCPTABLE_TOO_LONG) {
                conn_problem(c, "request line longer than 4096 bytes, closing the connection");
                metrics_srs_lookup(c->metrics, METRICS_TCP_TABLE,
                                   c->kind == SERVER_TCP_FORWARD ? METRICS_MAP_FORWARD
                                                                 : METRICS_MAP_REVERSE,
                                   METRICS_ERROR);
                static const char msg[] = "500 request too long\n";
                if (OUT_MAX - outlen >= sizeof(msg)) {
                    memcpy(c->out + outlen, msg, sizeof(msg) - 1);
                    outlen += sizeof(msg) - 1;
                }
                result = BATCH_CLOSE;
                break;
            }
            if (st == TCPTABLE_NEED_MORE)
                break;
        }
        if (*completed == 0) {
            /* Pick up a reload once per batch: one atomic load. */
            if (runtime_generation() != (*rtp)->generation) {
                struct runtime *fresh = runtime_acquire();
                if (fresh) {
                    runtime_release(*rtp);
                    *rtp = fresh;
                }
            }
            now = time(NULL);
        }
        (*completed)++;
        if (OUT_MAX - outlen < REPLY_ROOM) {
            if (sockio_send_all(c->fd, c->out, outlen, send_ms(*rtp)) < 0)
                return BATCH_CLOSE;
            outlen = 0;
        }
        struct lookup_note note;
        int m;
        if (c->kind == SERVER_SOCKETMAP)
            m = socketmap_handle((*rtp)->srs, now, data, dlen, (char *)c->out + outlen,
                                 OUT_MAX - outlen, &note);
        else
            m = tcptable_handle((*rtp)->srs,
                                c->kind == SERVER_TCP_FORWARD ? LOOKUP_FORWARD : LOOKUP_REVERSE,
                                now, data, dlen, (char *)c->out + outlen, OUT_MAX - outlen, &note);
        if (m < 0) {
            log_msg(FA_LOG_ERROR, "internal error: reply buffer too small");
            result = BATCH_CLOSE;
            break;
        }
        outlen += (size_t)m;
        count_answer(c, &note);
        log_note(c, &note);
        c->off += used;
    }
    if (outlen > 0 && sockio_send_all(c->fd, c->out, outlen, send_ms(*rtp)) < 0) {
        if (log_enabled(FA_LOG_DEBUG))
            log_msg(FA_LOG_DEBUG, "%s client %s: write failed: %s", server_kind_name(c->kind),
                    c->peer, strerror(errno));
        return BATCH_CLOSE;
    }
    return result;
}

/* Serve one connection to its end: unregister, close and free it. */
static void conn_serve(struct conn *c)
{
    pthread_mutex_lock(&reg_lock);
    c->thread = pthread_self(); /* for a drain to wake it */
    c->has_thread = 1;
    pthread_mutex_unlock(&reg_lock);
    if (c->kind == SERVER_MILTER) {
        milter_conn_serve(c->fd, c->peer, c->tcp);
        metrics_connection_close(c->metrics, METRICS_L_MILTER);
        reg_remove_close(c);
        free(c);
        return;
    }
    struct runtime *rt = runtime_acquire();
    if (log_enabled(FA_LOG_DEBUG))
        log_msg(FA_LOG_DEBUG, "%s: connect from %s", server_kind_name(c->kind), c->peer);
    long cur_tmo = -1, req_start = 0;
    int have_start = 0;

    for (;;) {
        int completed;
        if (serve_batch(c, &rt, &completed) != BATCH_OK)
            break;
        if (c->off == c->len) {
            c->off = c->len = 0;
        } else if (c->off > 0) {
            memmove(c->in, c->in + c->off, c->len - c->off);
            c->len -= c->off;
            c->off = 0;
        }
        if (atomic_load(&stopping))
            break;
        if (atomic_load(&draining) && c->len == 0) {
            /* Between requests: the newer worker answers the next one. */
            if (handover.give && handover.give(handover.arg, c->fd, c->kind) == 0 &&
                log_enabled(FA_LOG_DEBUG))
                log_msg(FA_LOG_DEBUG, "%s: connection from %s handed over to the new worker",
                        server_kind_name(c->kind), c->peer);
            break;
        }
        long want;
        if (c->len == 0) {
            have_start = 0;
            want = (long)rt->cfg.idle_timeout * 1000;
        } else {
            long now = (long)monoclock_ms();
            if (completed || !have_start) {
                req_start = now;
                have_start = 1;
            }
            want = (long)rt->cfg.request_timeout * 1000 - (now - req_start);
            if (want <= 0) {
                conn_problem(c, "request not complete within request_timeout, closing");
                break;
            }
        }
        if (want != cur_tmo) {
            set_timeout(c->fd, SO_RCVTIMEO, want);
            cur_tmo = want;
        }
        if (c->len == c->cap) {
            conn_problem(c, "request larger than the buffer, closing");
            break;
        }
        /* Waiting between requests: the accept loop may close it to make
         * room when the listener is full (see accept_all). */
        if (c->len == 0)
            atomic_store(&c->idle_since, monoclock_ms());
        ssize_t n = read(c->fd, c->in + c->len, c->cap - c->len);
        if (c->len == 0)
            atomic_store(&c->idle_since, 0);
        if (n > 0) {
            c->len += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (atomic_load(&stopping))
            break;
        pthread_mutex_lock(&reg_lock);
        int evicted = c->evicted;
        pthread_mutex_unlock(&reg_lock);
        if (evicted) {
            if (log_enabled(FA_LOG_DEBUG))
                log_msg(FA_LOG_DEBUG, "%s: closed idle connection from %s to make room",
                        server_kind_name(c->kind), c->peer);
        } else if (n == 0) {
            if (c->len > 0)
                conn_problem(c, "connection closed in the middle of a request");
            else if (log_enabled(FA_LOG_DEBUG))
                log_msg(FA_LOG_DEBUG, "%s: disconnect from %s", server_kind_name(c->kind), c->peer);
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (c->len > 0)
                conn_problem(c, "request not complete within request_timeout, closing");
            else if (log_enabled(FA_LOG_DEBUG))
                log_msg(FA_LOG_DEBUG, "%s: idle timeout for %s", server_kind_name(c->kind),
                        c->peer);
        } else {
            if (log_enabled(FA_LOG_DEBUG))
                log_msg(FA_LOG_DEBUG, "%s client %s: read: %s", server_kind_name(c->kind), c->peer,
                        strerror(errno));
        }
        break;
    }
    runtime_release(rt);
    metrics_connection_close(c->metrics, listener_label(c->kind));
    reg_remove_close(c);
    free(c);
}

/* ---- connection threads ---------------------------------------------------
 * Postfix opens a milter connection per SMTP session, so on a typical MX
 * each message costs a connection. A thread per connection that ends with
 * it cost about 0.4 ms of CPU per message here (clone, the stack's pages
 * faulted in and given back, exit; bench/milter.sh --before), more than
 * the RSA signature. So a thread that has served its connection waits for the
 * next one instead of ending: at most POOL_IDLE_MAX wait, each at most
 * POOL_IDLE_SECONDS, and a new thread is made only when none waits. The
 * pool changes no limit: connections are still counted per listener. */
#define POOL_IDLE_MAX 32
#define POOL_IDLE_SECONDS 60

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cond = PTHREAD_COND_INITIALIZER;
static struct conn *pool_head, *pool_tail; /* handed over, not yet taken */
static size_t pool_waiting, pool_queued;

/* The next connection for a thread that finished one, or NULL when it
 * should end (enough threads wait already, it waited long enough, or the
 * server stops). */
static struct conn *pool_wait(void)
{
    pthread_mutex_lock(&pool_lock);
    if (pool_waiting >= POOL_IDLE_MAX || atomic_load(&stopping)) {
        pthread_mutex_unlock(&pool_lock);
        return NULL;
    }
    pool_waiting++;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += POOL_IDLE_SECONDS;
    int rc = 0;
    while (!pool_head && rc != ETIMEDOUT && !atomic_load(&stopping))
        rc = pthread_cond_timedwait(&pool_cond, &pool_lock, &until);
    struct conn *c = pool_head;
    if (c) {
        pool_head = c->pool_next;
        if (!pool_head)
            pool_tail = NULL;
        pool_queued--;
    }
    pool_waiting--;
    pthread_mutex_unlock(&pool_lock);
    return c;
}

/* Give c to a waiting thread: 0, or -1 when none is free. */
static int pool_give(struct conn *c)
{
    pthread_mutex_lock(&pool_lock);
    if (pool_waiting <= pool_queued) {
        pthread_mutex_unlock(&pool_lock);
        return -1;
    }
    c->pool_next = NULL;
    if (pool_tail)
        pool_tail->pool_next = c;
    else
        pool_head = c;
    pool_tail = c;
    pool_queued++;
    pthread_cond_signal(&pool_cond);
    pthread_mutex_unlock(&pool_lock);
    return 0;
}

static void *conn_thread(void *arg)
{
    for (struct conn *c = arg; c; c = pool_wait())
        conn_serve(c);
    return NULL;
}

static int start_conn(int fd, const struct server_listener *l, int li, struct metrics *metrics,
                      const struct sockaddr_storage *ss)
{
    int kind = l->kind;
    size_t cap = kind == SERVER_SOCKETMAP ? SOCKETMAP_BUF
                 : kind == SERVER_MILTER  ? 0 /* milter_conn has its own buffers */
                                          : TCP_BUF;
    struct conn *c = malloc(sizeof(*c) + cap);
    if (!c)
        return -1;
    /* Only the fields: the buffers are written before they are read, and
     * leaving their pages untouched keeps an idle connection small. */
    memset(c, 0, offsetof(struct conn, out));
    c->fd = fd;
    c->kind = kind;
    c->li = li;
    c->cap = cap;
    c->metrics = metrics;
    int family = peer_name(fd, ss, c->peer, sizeof(c->peer));
    c->tcp = family == AF_INET || family == AF_INET6;
    if (c->tcp) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    atomic_init(&c->idle_since, 0);
    reg_add(c);
    metrics_connection_open(metrics, listener_label(kind));
    if (pool_give(c) == 0)
        return 0;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, THREAD_STACK);
    pthread_t t;
    int rc = pthread_create(&t, &attr, conn_thread, c);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        metrics_connection_close(metrics, listener_label(kind));
        reg_remove_close(c);
        free(c);
        errno = rc;
        return -2; /* fd already closed */
    }
    return 0;
}

/* ---- limits --------------------------------------------------------------- */

unsigned server_listener_limit(const struct fa_config *cfg, int kind)
{
    return kind == SERVER_MILTER ? cfg->milter_connection_limit : cfg->table_connection_limit;
}

/* The table and milter listeners configured, and their limits summed. */
static unsigned long listener_sum(const struct fa_config *cfg, unsigned *tables, unsigned *milters)
{
    *tables = (cfg->socketmap_listen[0] != 0) + (cfg->tcp_forward_listen[0] != 0) +
              (cfg->tcp_reverse_listen[0] != 0);
    *milters = cfg->milter_listen[0] != 0;
    return (unsigned long)*tables * cfg->table_connection_limit +
           (unsigned long)*milters * cfg->milter_connection_limit;
}

int server_limits_warning(const struct fa_config *cfg, char *buf, size_t size)
{
    unsigned tables, milters;
    unsigned long sum = listener_sum(cfg, &tables, &milters);
    if (tables + milters < 2 || cfg->connection_limit >= sum)
        return 0;
    char parts[200] = "";
    if (tables)
        snprintf(parts, sizeof(parts), "%u x table_connection_limit %u", tables,
                 cfg->table_connection_limit);
    if (milters)
        snprintf(parts + strlen(parts), sizeof(parts) - strlen(parts),
                 "%smilter_connection_limit %u", tables ? " + " : "", cfg->milter_connection_limit);
    snprintf(buf, size,
             "connection_limit (%u) is below the sum of the listener limits (%lu = %s): once it "
             "is reached, the clients of one listener keep out those of the others; raise it or "
             "lower the listener limits",
             cfg->connection_limit, sum, parts);
    return 1;
}

unsigned long server_nofile_need(const struct fa_config *cfg)
{
    unsigned tables, milters;
    unsigned long conns = listener_sum(cfg, &tables, &milters);
    if (conns > cfg->connection_limit)
        conns = cfg->connection_limit;
    unsigned long n = conns + tables + milters + SERVER_NOFILE_FILES;
    if (milters)
        n += SERVER_NOFILE_DNS;
    if (cfg->metrics_listen[0])
        n += 1 + (unsigned long)cfg->metrics_connection_limit;
    return n;
}

int server_nofile_fit(const struct fa_config *cfg, fa_err *err)
{
    unsigned long need = server_nofile_need(cfg);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return fa_err_errno(err, errno, "getrlimit(RLIMIT_NOFILE)");
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
        return 0;
    unsigned long was = (unsigned long)rl.rlim_cur;
    struct rlimit want = rl;
    want.rlim_cur = need;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need)
        want.rlim_max = need; /* only root (CAP_SYS_RESOURCE) may, up to fs.nr_open */
    if (setrlimit(RLIMIT_NOFILE, &want) < 0) {
        int e = errno;
        return fa_err_set(err,
                          "the connection limits need %lu file descriptors, but RLIMIT_NOFILE is "
                          "%lu (hard limit %lu) and cannot be raised (%s): raise the limit "
                          "(systemd: LimitNOFILE= in the unit; a shell: ulimit -n) or lower "
                          "table_connection_limit, milter_connection_limit, "
                          "metrics_connection_limit or connection_limit",
                          need, was,
                          rl.rlim_max == RLIM_INFINITY ? 0UL : (unsigned long)rl.rlim_max,
                          strerror(e));
    }
    log_msg(FA_LOG_INFO, "RLIMIT_NOFILE raised from %lu to %lu for the connection limits", was,
            need);
    return 0;
}

/* A reload may raise the limits: fit the soft limit again if it can be
 * (the hard one is out of reach after the privilege drop). */
static void refit_nofile(const struct runtime *rt)
{
    fa_err err = {{0}};
    if (server_nofile_fit(&rt->cfg, &err) < 0)
        log_msg(FA_LOG_WARNING, "%s; until then accept(2) may fail with EMFILE", err.msg);
}

struct accept_state {
    unsigned limit_logged; /* bit per listener, and the top bit for connection_limit */
    int error_logged;
    unsigned long generation;
    struct metrics *metrics;
};
#define TOTAL_BIT (1u << SERVER_LISTENERS_MAX)

/* The table connection of listener li that has waited longest between
 * requests: shut down so that its thread ends (a Postfix table client
 * reconnects at its next lookup). The newest connections, which may not
 * have sent their first request yet, go last. Under reg_lock. Returns 1
 * when one was found. */
static int evict_idle(int li)
{
    int64_t oldest = 0;
    struct conn *pick = NULL;
    for (struct conn *c = reg_head; c; c = c->next) {
        if (c->li != li || c->evicted)
            continue;
        int64_t since = atomic_load(&c->idle_since);
        if (since != 0 && (!pick || since < oldest)) {
            pick = c;
            oldest = since;
        }
    }
    if (!pick)
        return 0;
    pick->evicted = 1;
    reg_evicting++;
    reg_per_evicting[li]++;
    shutdown(pick->fd, SHUT_RDWR);
    return 1;
}

static void accept_all(const struct server_listener *l, int li, struct accept_state *st)
{
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED)
                return;
            if (!st->error_logged)
                log_msg(FA_LOG_ERROR, "%s %s: accept: %s", server_kind_name(l->kind), l->name,
                        strerror(errno));
            st->error_logged = 1;
            /* Out of descriptors or memory: back off instead of spinning. */
            struct timespec ts = {0, 100 * 1000 * 1000};
            nanosleep(&ts, NULL);
            return;
        }
        st->error_logged = 0;
        struct runtime *rt = runtime_acquire();
        unsigned total = 1, mine_limit = 1;
        if (rt) {
            total = rt->cfg.connection_limit;
            mine_limit = server_listener_limit(&rt->cfg, l->kind);
            if (rt->generation != st->generation) {
                st->generation = rt->generation;
                refit_nofile(rt);
            }
        }
        runtime_release(rt);
        unsigned bit = 1u << li;
        int over = 0, evicted = 0;
        pthread_mutex_lock(&reg_lock);
        size_t mine = reg_per[li] - reg_per_evicting[li];
        if (mine >= mine_limit && l->kind != SERVER_MILTER && evict_idle(li)) {
            mine--;
            evicted = 1;
        }
        if (mine >= mine_limit)
            over = 1;
        else if (reg_count - reg_evicting >= total)
            over = 2;
        pthread_mutex_unlock(&reg_lock);
        if (evicted && !(st->limit_logged & bit)) {
            log_msg(FA_LOG_WARNING,
                    "%s %s: table_connection_limit (%u) reached: closing the connections idle "
                    "longest to make room",
                    server_kind_name(l->kind), l->name, mine_limit);
            st->limit_logged |= bit;
        }
        if (over) {
            unsigned b = over == 1 ? bit : TOTAL_BIT;
            if (!(st->limit_logged & b)) {
                if (over == 1)
                    log_msg(FA_LOG_WARNING,
                            "%s %s: %s_connection_limit (%u) reached: refusing its new "
                            "connections until some close",
                            server_kind_name(l->kind), l->name,
                            l->kind == SERVER_MILTER ? "milter" : "table", mine_limit);
                else
                    log_msg(FA_LOG_WARNING,
                            "connection_limit (%u) reached: refusing new connections until "
                            "some close",
                            total);
            }
            st->limit_logged |= b;
            metrics_connection_refused(st->metrics, listener_label(l->kind));
            close(fd);
            continue;
        }
        if (!evicted)
            st->limit_logged &= ~(bit | TOTAL_BIT);
        int rc = start_conn(fd, l, li, st->metrics, &ss);
        if (rc < 0) {
            log_msg(FA_LOG_ERROR, "cannot start a connection thread: %s", strerror(errno));
            if (rc == -1)
                close(fd);
        }
    }
}

/* A connection another worker handed over (server.h): serve it on the
 * listener of its kind. */
static void adopt(struct server_listener *ls, size_t n, struct metrics *metrics)
{
    int kind;
    int fd = handover.take(handover.arg, &kind);
    if (fd < 0)
        return;
    for (size_t i = 0; i < n; i++)
        if (ls[i].kind == kind && ls[i].fd >= 0) {
            if (start_conn(fd, &ls[i], (int)i, metrics, NULL) == -1)
                close(fd);
            return;
        }
    close(fd);
}

static void wake_handler(int sig)
{
    (void)sig; /* only to make a blocking read return EINTR */
}

/* Drain: hand over or close table connections as they go idle, let milter
 * connections end. 0 when none is left, -1 when a signal says stop. */
static int drain(int sigfd, server_signal_fn on_signal, void *ctx)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = wake_handler; /* no SA_RESTART */
    sigemptyset(&sa.sa_mask);
    sigaction(SERVER_WAKE_SIGNAL, &sa, NULL);
    atomic_store(&draining, 1);
    for (;;) {
        pthread_mutex_lock(&reg_lock);
        /* Again and again: a wake-up just before the read is lost. */
        for (struct conn *c = reg_head; c; c = c->next)
            if (c->kind != SERVER_MILTER && c->has_thread && atomic_load(&c->idle_since))
                pthread_kill(c->thread, SERVER_WAKE_SIGNAL);
        size_t left = reg_count;
        pthread_mutex_unlock(&reg_lock);
        if (left == 0)
            return 0;
        struct pollfd p = {sigfd, POLLIN, 0};
        if (poll(&p, 1, 200) > 0) {
            struct signalfd_siginfo si;
            if (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                int what = on_signal((int)si.ssi_signo, ctx);
                if (what && what != SERVER_DRAIN)
                    return -1;
            }
        }
    }
}

int server_run(struct server_listener *ls, size_t n, int sigfd, server_signal_fn on_signal,
               void *ctx, struct metrics *metrics)
{
    struct pollfd pfd[SERVER_LISTENERS_MAX + 2];
    if (n > SERVER_LISTENERS_MAX)
        n = SERVER_LISTENERS_MAX;
    for (size_t i = 0; i < n; i++) {
        pfd[i].fd = ls[i].fd;
        pfd[i].events = POLLIN;
    }
    pfd[n].fd = sigfd;
    pfd[n].events = POLLIN;
    pfd[n + 1].fd = handover.take ? handover.fd : -1; /* poll skips -1 */
    pfd[n + 1].events = POLLIN;
    struct accept_state st = {0, 0, 0, metrics};
    struct runtime *rt = runtime_acquire();
    if (rt) {
        char why[1024];
        if (server_limits_warning(&rt->cfg, why, sizeof(why)))
            log_msg(FA_LOG_WARNING, "%s", why);
        st.generation = rt->generation;
    }
    runtime_release(rt);
    int stop = 0, drained = 0;
    while (!stop) {
        int r = poll(pfd, n + 2, -1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            log_msg(FA_LOG_ERROR, "poll: %s", strerror(errno));
            break;
        }
        if (pfd[n].revents & POLLIN) {
            struct signalfd_siginfo si;
            ssize_t got = read(sigfd, &si, sizeof(si));
            int what = got == (ssize_t)sizeof(si) ? on_signal((int)si.ssi_signo, ctx) : 0;
            drained = what == SERVER_DRAIN;
            stop = what != 0;
        }
        if (!stop && (pfd[n + 1].revents & POLLIN))
            adopt(ls, n, metrics);
        for (size_t i = 0; i < n && !stop; i++)
            if (pfd[i].revents & (POLLIN | POLLERR))
                accept_all(&ls[i], (int)i, &st);
    }

    /* Stop: no new connections; wake threads that wait for a request. */
    for (size_t i = 0; i < n; i++) {
        close(ls[i].fd);
        ls[i].fd = -1;
    }
    if (drained && drain(sigfd, on_signal, ctx) == 0)
        return 0;
    atomic_store(&stopping, 1);
    pthread_mutex_lock(&pool_lock);
    pthread_cond_broadcast(&pool_cond); /* waiting threads end */
    pthread_mutex_unlock(&pool_lock);
    pthread_mutex_lock(&reg_lock);
    for (struct conn *c = reg_head; c; c = c->next)
        shutdown(c->fd, SHUT_RD);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += SERVER_STOP_WAIT;
    while (reg_count > 0) {
        if (pthread_cond_timedwait(&reg_empty, &reg_lock, &deadline) == ETIMEDOUT)
            break;
    }
    size_t left = reg_count;
    pthread_mutex_unlock(&reg_lock);
    if (left > 0) {
        log_msg(FA_LOG_WARNING, "%zu connections still busy after %d seconds; exiting anyway", left,
                SERVER_STOP_WAIT);
        return -1;
    }
    return 0;
}
