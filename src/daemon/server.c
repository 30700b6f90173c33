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
    int warned;
    struct metrics *metrics;
    struct conn *prev, *next;
    char peer[64];
    size_t cap, off, len;
    uint8_t out[OUT_MAX];
    uint8_t in[]; /* cap bytes */
};

/* Daemon-wide connection registry, so that a stop can wake idle threads. */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t reg_empty = PTHREAD_COND_INITIALIZER;
static struct conn *reg_head;
static size_t reg_count;
static atomic_int stopping;

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
    close(c->fd);
    if (reg_count == 0)
        pthread_cond_broadcast(&reg_empty);
    pthread_mutex_unlock(&reg_lock);
}

static void peer_name(int fd, char *out, size_t outsz)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char host[INET6_ADDRSTRLEN] = "?";
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0) {
        snprintf(out, outsz, "unknown");
        return;
    }
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
        snprintf(out, outsz, "%s:%u", host, (unsigned)ntohs(sin->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
        snprintf(out, outsz, "[%s]:%u", host, (unsigned)ntohs(sin6->sin6_port));
    } else {
        snprintf(out, outsz, "unix");
    }
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
            if (sockio_send_all(c->fd, c->out, outlen) < 0)
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
    if (outlen > 0 && sockio_send_all(c->fd, c->out, outlen) < 0) {
        if (log_enabled(FA_LOG_DEBUG))
            log_msg(FA_LOG_DEBUG, "%s client %s: write failed: %s", server_kind_name(c->kind),
                    c->peer, strerror(errno));
        return BATCH_CLOSE;
    }
    return result;
}

static void *conn_main(void *arg)
{
    struct conn *c = arg;
    if (c->kind == SERVER_MILTER) {
        peer_name(c->fd, c->peer, sizeof(c->peer));
        milter_conn_serve(c->fd, c->peer);
        metrics_connection_close(c->metrics, METRICS_L_MILTER);
        reg_remove_close(c);
        free(c);
        return NULL;
    }
    struct runtime *rt = runtime_acquire();
    peer_name(c->fd, c->peer, sizeof(c->peer));
    if (log_enabled(FA_LOG_DEBUG))
        log_msg(FA_LOG_DEBUG, "%s: connect from %s", server_kind_name(c->kind), c->peer);
    set_timeout(c->fd, SO_SNDTIMEO, (long)rt->cfg.request_timeout * 1000);
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
        ssize_t n = read(c->fd, c->in + c->len, c->cap - c->len);
        if (n > 0) {
            c->len += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (atomic_load(&stopping))
            break;
        if (n == 0) {
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
    return NULL;
}

static int start_conn(int fd, int kind, struct metrics *metrics)
{
    size_t cap = kind == SERVER_SOCKETMAP ? SOCKETMAP_BUF
                 : kind == SERVER_MILTER  ? 0 /* milter_conn has its own buffers */
                                          : TCP_BUF;
    struct conn *c = malloc(sizeof(*c) + cap);
    if (!c)
        return -1;
    memset(c, 0, sizeof(*c));
    c->fd = fd;
    c->kind = kind;
    c->cap = cap;
    c->metrics = metrics;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, THREAD_STACK);
    reg_add(c);
    metrics_connection_open(metrics, listener_label(kind));
    pthread_t t;
    int rc = pthread_create(&t, &attr, conn_main, c);
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

struct accept_state {
    int limit_logged;
    int error_logged;
    struct metrics *metrics;
};

static void accept_all(const struct server_listener *l, struct accept_state *st)
{
    for (int i = 0; i < 64; i++) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
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
        unsigned limit = rt ? rt->cfg.connection_limit : 1;
        runtime_release(rt);
        pthread_mutex_lock(&reg_lock);
        size_t active = reg_count;
        pthread_mutex_unlock(&reg_lock);
        if (active >= limit) {
            if (!st->limit_logged)
                log_msg(FA_LOG_WARNING,
                        "connection_limit (%u) reached: refusing new connections until "
                        "some close",
                        limit);
            st->limit_logged = 1;
            metrics_connection_refused(st->metrics, listener_label(l->kind));
            close(fd);
            continue;
        }
        st->limit_logged = 0;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* fails on unix: fine */
        int rc = start_conn(fd, l->kind, st->metrics);
        if (rc < 0) {
            log_msg(FA_LOG_ERROR, "cannot start a connection thread: %s", strerror(errno));
            if (rc == -1)
                close(fd);
        }
    }
}

int server_run(struct server_listener *ls, size_t n, int sigfd, server_signal_fn on_signal,
               void *ctx, struct metrics *metrics)
{
    struct pollfd pfd[8];
    if (n + 1 > sizeof(pfd) / sizeof(pfd[0]))
        n = sizeof(pfd) / sizeof(pfd[0]) - 1;
    for (size_t i = 0; i < n; i++) {
        pfd[i].fd = ls[i].fd;
        pfd[i].events = POLLIN;
    }
    pfd[n].fd = sigfd;
    pfd[n].events = POLLIN;
    struct accept_state st = {0, 0, metrics};
    int stop = 0;
    while (!stop) {
        int r = poll(pfd, n + 1, -1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            log_msg(FA_LOG_ERROR, "poll: %s", strerror(errno));
            break;
        }
        if (pfd[n].revents & POLLIN) {
            struct signalfd_siginfo si;
            ssize_t got = read(sigfd, &si, sizeof(si));
            if (got == (ssize_t)sizeof(si) && on_signal((int)si.ssi_signo, ctx))
                stop = 1;
        }
        for (size_t i = 0; i < n && !stop; i++)
            if (pfd[i].revents & (POLLIN | POLLERR))
                accept_all(&ls[i], &st);
    }

    /* Stop: no new connections; wake threads that wait for a request. */
    for (size_t i = 0; i < n; i++) {
        close(ls[i].fd);
        ls[i].fd = -1;
    }
    atomic_store(&stopping, 1);
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
