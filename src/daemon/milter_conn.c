/* milter_conn - socket loop of one milter connection; see milter_conn.h. */
#include "milter_conn.h"

#include "log.h"
#include "mailflow.h"
#include "milter.h"
#include "monoclock.h"
#include "runtime.h"
#include "sockio.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* Octets of input buffers above MILTER_CONN_BUF, over all connections. */
static _Atomic size_t big_in_use;

static int budget_take(size_t n, size_t limit)
{
    size_t cur = atomic_load(&big_in_use);
    do {
        if (cur > limit || n > limit - cur)
            return -1;
    } while (!atomic_compare_exchange_weak(&big_in_use, &cur, cur + n));
    return 0;
}

static void budget_give(size_t n)
{
    atomic_fetch_sub(&big_in_use, n);
}

struct mconn {
    int fd;
    const char *peer;
    long tmo_ms;   /* milter_timeout of the snapshot in use */
    long rcv_ms;   /* SO_RCVTIMEO set now; -1 none */
    size_t budget; /* milter_buffer_memory in octets */
    int warned;
    int tcp;     /* an inet connection: TCP_QUICKACK applies */
    int unacked; /* data read since our last write or quick ACK */
};

/*
 * With Postfix 3.x the MTA does not wait for our answers until end of
 * message, so we send nothing for a whole message and Linux delays its ACKs
 * (about 40 ms); the MTA's small end-of-message packet then waits for that
 * ACK: 40 ms per message. TCP_QUICKACK does not stay set, so it is set
 * again before a read whenever data came in since our last write (a write
 * carries the ACK itself, so after one there is nothing to hurry: half the
 * setsockopt calls). Replies go out at once (TCP_NODELAY, set by the
 * server on every inet connection).
 */
static void quickack(struct mconn *c)
{
    int one = 1;
    if (c->tcp && c->unacked) {
        setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
        c->unacked = 0;
    }
}

static void set_rcv(struct mconn *c, long ms)
{
    if (ms == c->rcv_ms)
        return;
    if (ms < 1)
        ms = 1; /* 0 would mean "no timeout" */
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    c->rcv_ms = ms;
}

static void take_settings(struct mconn *c, const struct runtime *rt)
{
    c->tmo_ms = (long)(rt ? rt->cfg.milter_timeout : 300) * 1000;
    c->budget = (size_t)(rt ? rt->cfg.milter_buffer_memory : 64) * 1024 * 1024;
}

static void *env_ctx_get(void *arg)
{
    struct mconn *c = arg;
    struct runtime *rt = runtime_acquire();
    if (rt)
        take_settings(c, rt);
    return rt;
}

static void env_ctx_put(void *arg, void *ctx)
{
    (void)arg;
    runtime_release(ctx);
}

static void env_log(void *arg, int level, const char *line)
{
    struct mconn *c = arg;
    log_msg(level == MILTER_LOG_ERROR ? FA_LOG_ERROR : FA_LOG_WARNING, "milter client %s: %s",
            c->peer, line);
}

static int env_write(void *arg, const uint8_t *p, size_t n)
{
    struct mconn *c = arg;
    c->unacked = 0;
    return sockio_send_all(c->fd, p, n, c->tmo_ms);
}

static void problem(struct mconn *c, const char *what, const char *detail)
{
    int level = c->warned ? FA_LOG_DEBUG : FA_LOG_WARNING;
    c->warned = 1;
    log_msg(level, "milter client %s: %s%s%s", c->peer, what, detail ? ": " : "",
            detail ? detail : "");
}

static int flush(struct mconn *c, struct milter_session *s)
{
    size_t n;
    const uint8_t *p = milter_session_output(s, &n);
    if (n == 0)
        return 0;
    if (sockio_send_all(c->fd, p, n, c->tmo_ms) < 0) {
        if (log_enabled(FA_LOG_DEBUG))
            log_msg(FA_LOG_DEBUG, "milter client %s: write failed: %s", c->peer, strerror(errno));
        return -1;
    }
    c->unacked = 0;
    milter_session_consumed(s);
    return 0;
}

#define GROW_FIRST (MILTER_CHUNK_MAX + 5) /* one whole body chunk */

/* The input buffer: MILTER_CONN_BUF octets, more from the daemon-wide
 * budget while a large packet needs them. */
struct inbuf {
    uint8_t *p;
    size_t cap, len;
};

/* Grow to hold more of a packet of want octets: to twice what it holds
 * (so never more than twice what arrived), or straight to a Postfix body
 * chunk's size, the usual case, which saves two steps; -1 when the budget
 * or malloc says no (the buffer is then unchanged). */
static int inbuf_grow(struct inbuf *b, size_t want, size_t budget)
{
    size_t cap = b->cap * 2 > GROW_FIRST ? b->cap * 2 : GROW_FIRST;
    if (cap > want)
        cap = want;
    if (budget_take(cap - b->cap, budget) < 0)
        return -1;
    uint8_t *bigger = realloc(b->p, cap);
    if (!bigger) {
        budget_give(cap - b->cap);
        return -1;
    }
    b->p = bigger;
    b->cap = cap;
    return 0;
}

/* Back to MILTER_CONN_BUF once empty between messages. */
static void inbuf_shrink(struct inbuf *b)
{
    if (b->cap <= MILTER_CONN_BUF || b->len > 0)
        return;
    uint8_t *small = realloc(b->p, MILTER_CONN_BUF);
    if (!small)
        return; /* keep the large one (and its share of the budget) */
    budget_give(b->cap - MILTER_CONN_BUF);
    b->p = small;
    b->cap = MILTER_CONN_BUF;
}

static void inbuf_free(struct inbuf *b)
{
    if (b->cap > MILTER_CONN_BUF)
        budget_give(b->cap - MILTER_CONN_BUF);
    free(b->p);
}

/* A packet being dropped as it arrives (milter_session_skipped). */
struct skip {
    size_t left; /* octets still to drop; 0: none */
    uint8_t cmd;
    size_t dlen;
    int why;
};

void milter_conn_serve(int fd, const char *peer, int tcp)
{
    struct mconn c = {fd, peer, 0, -1, 0, 0, tcp, 0};
    struct runtime *rt = runtime_acquire();
    take_settings(&c, rt);
    runtime_release(rt);
    struct milter_env env = {env_ctx_get, env_ctx_put, env_log, env_write, &c};
    struct milter_session *s = milter_session_new(mailflow_filter(), &env);
    struct inbuf in = {malloc(MILTER_CONN_BUF), MILTER_CONN_BUF, 0};
    struct skip sk = {0, 0, 0, 0};
    int64_t pkt_start = 0; /* when the packet now arriving began; 0: none */
    if (!s || !in.p) {
        log_msg(FA_LOG_ERROR, "milter client %s: out of memory", peer);
        goto out;
    }
    if (log_enabled(FA_LOG_DEBUG))
        log_msg(FA_LOG_DEBUG, "milter: connect from %s", peer);

    for (;;) {
        /* Handle every complete packet in the buffer. */
        size_t off = 0, want = 0;
        int done = 0, completed = 0;
        while (!done) {
            int r = MILTER_OK;
            if (sk.left > 0) {
                size_t k = in.len - off < sk.left ? in.len - off : sk.left;
                off += k;
                sk.left -= k;
                if (sk.left > 0)
                    break;
                if (milter_session_want_flush(s, sk.cmd) && flush(&c, s) < 0)
                    goto out;
                r = milter_session_skipped(s, sk.cmd, sk.dlen, sk.why);
            } else {
                uint8_t cmd;
                const uint8_t *data;
                size_t dlen, used;
                int fr = milter_frame(in.p + off, in.len - off, &cmd, &data, &dlen, &used);
                if (fr == MILTER_FRAME_BAD) {
                    problem(&c, "bad packet length, closing the connection", NULL);
                    goto out;
                }
                if (fr == MILTER_FRAME_MORE) {
                    want = used;
                    break;
                }
                if (fr == MILTER_FRAME_SKIP) {
                    sk = (struct skip){used, cmd, dlen, MILTER_SKIP_TOO_LARGE};
                    continue;
                }
                if (milter_session_want_flush(s, cmd) && flush(&c, s) < 0)
                    goto out;
                r = milter_session_packet(s, cmd, data, dlen);
                off += used;
            }
            completed = 1;
            if (r == MILTER_ERROR) {
                flush(&c, s);
                problem(&c, "protocol error, closing the connection", milter_session_error(s));
                goto out;
            }
            if (r == MILTER_CLOSE)
                done = 1;
        }
        if (flush(&c, s) < 0 || done)
            break;
        if (off > 0) {
            memmove(in.p, in.p + off, in.len - off);
            in.len -= off;
        }
        if (in.len == 0 && sk.left == 0 && !milter_session_in_message(s))
            inbuf_shrink(&in);
        if (want > in.cap && in.len == in.cap && inbuf_grow(&in, want, c.budget) < 0) {
            /* Full, and no memory for more of this packet: drop it. A
             * header or body chunk then tempfails its message; anything
             * else cannot be dropped. */
            uint8_t cmd = in.p[4];
            if (cmd != SMFIC_HEADER && cmd != SMFIC_BODY) {
                log_msg(FA_LOG_ERROR,
                        "milter client %s: no memory for a %zu-octet packet (milter_buffer_memory "
                        "in use), closing the connection",
                        peer, want);
                break;
            }
            sk = (struct skip){want, cmd, want - 5, MILTER_SKIP_NO_MEMORY};
            continue;
        }

        /* Deadlines: milter_timeout for the next packet to begin, and for
         * a packet that has begun to be complete. */
        int64_t now = monoclock_ms();
        long wait_ms;
        if (in.len == 0 && sk.left == 0) {
            pkt_start = 0;
            wait_ms = c.tmo_ms;
        } else {
            if (completed || pkt_start == 0)
                pkt_start = now;
            wait_ms = c.tmo_ms - (long)(now - pkt_start);
            if (wait_ms <= 0) {
                problem(&c, "packet not complete within milter_timeout, closing", NULL);
                break;
            }
        }
        /* The receive timeout may overshoot the deadline by up to a
         * second, never undershoot it: no setsockopt per read while
         * packets flow. */
        if (c.rcv_ms < wait_ms || c.rcv_ms > wait_ms + 1000)
            set_rcv(&c, wait_ms);
        quickack(&c);
        ssize_t n = read(fd, in.p + in.len, in.cap - in.len);
        if (n > 0) {
            c.unacked = 1;
            in.len += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && pkt_start != 0 &&
            monoclock_ms() - pkt_start < c.tmo_ms)
            continue; /* an earlier receive timeout: the deadline is later */
        if (n == 0) {
            if (in.len > 0 || sk.left > 0 || milter_session_in_message(s))
                problem(&c, "connection closed in the middle of a message", NULL);
            else if (log_enabled(FA_LOG_DEBUG))
                log_msg(FA_LOG_DEBUG, "milter: disconnect from %s", peer);
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (pkt_start != 0)
                problem(&c, "packet not complete within milter_timeout, closing", NULL);
            else if (milter_session_in_message(s))
                problem(&c, "no packet within milter_timeout, closing", NULL);
            else if (log_enabled(FA_LOG_DEBUG))
                log_msg(FA_LOG_DEBUG, "milter: idle timeout for %s", peer);
        } else if (log_enabled(FA_LOG_DEBUG)) {
            log_msg(FA_LOG_DEBUG, "milter client %s: read: %s", peer, strerror(errno));
        }
        break;
    }
out:
    milter_session_free(s);
    inbuf_free(&in);
}
