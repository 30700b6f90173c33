/* milter_conn - socket loop of one milter connection; see milter_conn.h. */
#include "milter_conn.h"

#include "log.h"
#include "mailflow.h"
#include "milter.h"
#include "runtime.h"
#include "sockio.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

struct mconn {
    int fd;
    const char *peer;
    long tmo_ms;
    int warned;
    int tcp; /* an inet connection: re-arm TCP_QUICKACK before each read */
};

/*
 * With Postfix 3.x the MTA does not wait for our answers until end of
 * message, so we send nothing for a whole message and Linux delays its ACKs
 * (about 40 ms); the MTA's small end-of-message packet then waits for that
 * ACK: 40 ms per message. TCP_QUICKACK does not stay set, so it is set
 * again before every read. Replies go out at once (TCP_NODELAY).
 */
static void tcp_setup(struct mconn *c)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(c->fd, (struct sockaddr *)&ss, &len) < 0 ||
        (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
        return;
    c->tcp = 1;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void quickack(const struct mconn *c)
{
    int one = 1;
    if (c->tcp)
        setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
}

static void set_timeouts(struct mconn *c, unsigned seconds)
{
    long ms = (long)seconds * 1000;
    if (ms == c->tmo_ms)
        return;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    c->tmo_ms = ms;
}

static void *env_ctx_get(void *arg)
{
    struct mconn *c = arg;
    struct runtime *rt = runtime_acquire();
    if (rt)
        set_timeouts(c, rt->cfg.milter_timeout);
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
    return sockio_send_all(c->fd, p, n);
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
    if (sockio_send_all(c->fd, p, n) < 0) {
        if (log_enabled(FA_LOG_DEBUG))
            log_msg(FA_LOG_DEBUG, "milter client %s: write failed: %s", c->peer, strerror(errno));
        return -1;
    }
    milter_session_consumed(s);
    return 0;
}

void milter_conn_serve(int fd, const char *peer)
{
    struct mconn c = {fd, peer, -1, 0, 0};
    tcp_setup(&c);
    struct runtime *rt = runtime_acquire();
    set_timeouts(&c, rt ? rt->cfg.milter_timeout : 300);
    runtime_release(rt);
    struct milter_env env = {env_ctx_get, env_ctx_put, env_log, env_write, &c};
    struct milter_session *s = milter_session_new(mailflow_filter(), &env);
    size_t cap = MILTER_CONN_BUF, len = 0;
    uint8_t *in = malloc(cap);
    if (!s || !in) {
        log_msg(FA_LOG_ERROR, "milter client %s: out of memory", peer);
        goto out;
    }
    if (log_enabled(FA_LOG_DEBUG))
        log_msg(FA_LOG_DEBUG, "milter: connect from %s", peer);

    for (;;) {
        /* Handle every complete packet in the buffer. */
        size_t off = 0, want = 0;
        int done = 0;
        while (!done) {
            uint8_t cmd;
            const uint8_t *data;
            size_t dlen, used;
            int fr = milter_frame(in + off, len - off, &cmd, &data, &dlen, &used);
            if (fr == MILTER_FRAME_BAD) {
                problem(&c, "bad packet length, closing the connection", NULL);
                goto out;
            }
            if (fr == MILTER_FRAME_MORE) {
                want = used;
                break;
            }
            if (milter_session_want_flush(s, cmd) && flush(&c, s) < 0)
                goto out;
            switch (milter_session_packet(s, cmd, data, dlen)) {
            case MILTER_ERROR:
                flush(&c, s);
                problem(&c, "protocol error, closing the connection", milter_session_error(s));
                goto out;
            case MILTER_CLOSE:
                done = 1;
                break;
            default:
                break;
            }
            off += used;
        }
        if (flush(&c, s) < 0 || done)
            break;
        if (off > 0) {
            memmove(in, in + off, len - off);
            len -= off;
        }
        if (want > cap) { /* one large packet: grow (bounded by milter_frame) */
            uint8_t *bigger = realloc(in, want);
            if (!bigger) {
                log_msg(FA_LOG_ERROR, "milter client %s: out of memory for a %zu-octet packet",
                        peer, want);
                break;
            }
            in = bigger;
            cap = want;
        }
        quickack(&c);
        ssize_t n = read(fd, in + len, cap - len);
        if (n > 0) {
            len += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0) {
            if (len > 0 || milter_session_in_message(s))
                problem(&c, "connection closed in the middle of a message", NULL);
            else if (log_enabled(FA_LOG_DEBUG))
                log_msg(FA_LOG_DEBUG, "milter: disconnect from %s", peer);
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (len > 0 || milter_session_in_message(s))
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
    free(in);
}
