/* metrics_http - GET /metrics with libmicrohttpd; see metrics_http.h. */
#include "metrics_http.h"

#include "log.h"

#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct metrics_http {
    struct MHD_Daemon *mhd;
    const struct metrics *m;
};

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    log_msg(FA_LOG_WARNING, "metrics: %s", line);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *text,
                             const char *allow)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    enum MHD_Result ok =
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    if (ok == MHD_YES && allow)
        ok = MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    if (ok == MHD_YES)
        ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_size, void **req_cls)
{
    static int seen; /* address only: marks a request whose headers were seen */
    struct metrics_http *h = cls;
    (void)version;
    (void)upload_data;
    /* Other methods are answered at once, their body left unread (the
     * connection is then closed). */
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n", "GET, HEAD");
    /* GET and HEAD: answer once the request is complete (any body is
     * discarded), so that the connection can be kept alive. */
    if (*req_cls == NULL) {
        *req_cls = &seen;
        return MHD_YES;
    }
    if (*upload_size != 0) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(url, "/metrics") != 0)
        return reply(c, MHD_HTTP_NOT_FOUND, "not found: try /metrics\n", NULL);
    char *buf = malloc(METRICS_RENDER_MAX);
    size_t len = 0;
    if (!buf || metrics_render(h->m, buf, METRICS_RENDER_MAX, &len) < 0) {
        free(buf);
        log_msg(FA_LOG_ERROR, "metrics: cannot render the metrics (out of memory or space)");
        return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n", NULL);
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(buf);
        return MHD_NO;
    }
    enum MHD_Result ok = MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE);
    if (ok == MHD_YES)
        ok = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ok;
}

struct metrics_http *metrics_http_start(int fd, const struct metrics *m, unsigned limit,
                                        fa_err *err)
{
    struct metrics_http *h = calloc(1, sizeof(*h));
    if (!h) {
        close(fd);
        fa_err_set(err, "metrics: out of memory");
        return NULL;
    }
    h->m = m;
    h->mhd = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG, 0,
                              NULL, NULL, handle, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                              MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd, MHD_OPTION_CONNECTION_LIMIT,
                              limit, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_HTTP_TIMEOUT,
                              MHD_OPTION_END);
    if (!h->mhd) {
        close(fd);
        free(h);
        fa_err_set(err, "metrics: libmicrohttpd could not start on the metrics_listen socket");
        return NULL;
    }
    return h;
}

void metrics_http_stop(struct metrics_http *h)
{
    if (!h)
        return;
    /* The listening socket belongs to the master and is shared with the
     * worker that replaces this one on a reload: quiesced first, MHD only
     * stops accepting on it; stopped without, it shuts the socket down
     * for every process (the next worker's scrapes were refused). */
    MHD_socket fd = MHD_quiesce_daemon(h->mhd);
    MHD_stop_daemon(h->mhd);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    free(h);
}
