/*
 * NAME
 *   metrics_http - the HTTP listener of metrics_listen: GET /metrics
 * SUMMARY
 *   Serves the registry of metrics.h to Prometheus over HTTP with
 *   libmicrohttpd, on a socket that main bound (as root, with listen.h)
 *   before privileges were dropped.
 * SYNOPSIS
 *   int fd = listen_open(&addr, &err);           as root, before privs_drop
 *   ... privs_drop, daemonize (fork) ...
 *   struct metrics_http *h = metrics_http_start(fd, metrics, cfg.metrics_connection_limit, &err);
 *   ... server_run ...
 *   metrics_http_stop(h);                        on SIGTERM; closes fd
 * DESCRIPTION
 *   Requests, answered by libmicrohttpd's internal polling thread (epoll
 *   on Linux: an idle or slow client costs a descriptor, never a wait for
 *   the others):
 *     GET or HEAD /metrics  200, Content-Type "text/plain; version=0.0.4;
 *                           charset=utf-8", the text of metrics_render
 *     GET or HEAD elsewhere 404
 *     any other method      405 with "Allow: GET, HEAD"
 *   A query string is ignored. At most `limit` clients at once
 *   (metrics_connection_limit, default 32: a scraper or two, and room for
 *   idle keep-alive connections); a client beyond it waits in the listen
 *   queue until one closes. Each is cut off after METRICS_HTTP_TIMEOUT
 *   idle seconds. The thread only reads atomic counters: a scrape never
 *   blocks the mail path, and a slow or stuck scraper only holds its own
 *   connection.
 *   Start it after any fork(2) (threads do not survive one) and with the
 *   daemon's signals blocked in the calling thread, so that the HTTP
 *   thread inherits the mask and signals keep going to the signalfd.
 *   libmicrohttpd's own error messages go to the daemon's log (log.h) at
 *   warning.
 * SECURITY
 *   No authentication and no TLS: bind it to 127.0.0.1 or ::1, or let a
 *   firewall decide who may scrape. Request bodies are never read; the
 *   reply holds only what metrics.h keeps (no secrets, no addresses).
 * DIAGNOSTICS
 *   metrics_http_start returns NULL with the reason in err (and closes
 *   fd); metrics_http_stop never fails.
 */
#ifndef FWDAUTHD_METRICS_HTTP_H
#define FWDAUTHD_METRICS_HTTP_H

#include "err.h"
#include "metrics.h"

#define METRICS_HTTP_TIMEOUT 10 /* seconds */

struct metrics_http;

struct metrics_http *metrics_http_start(int fd, const struct metrics *m, unsigned limit,
                                        fa_err *err);
void metrics_http_stop(struct metrics_http *h);

#endif
