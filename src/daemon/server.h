/*
 * NAME
 *   server - accept loop and one thread per client connection
 * SUMMARY
 *   server_run polls the listening sockets and a signal descriptor in the
 *   calling (main) thread, accepts connections and serves each in its own
 *   thread with blocking I/O: socketmap (netstrings, maps "forward" and
 *   "reverse"), tcp_table (lines, one direction per listener) or milter
 *   (SERVER_MILTER: the whole connection is milter_conn_serve, see
 *   milter_conn.h; its timeouts are milter_timeout, not the two below).
 * SYNOPSIS
 *   struct server_listener ls[3] = {{fd, SERVER_SOCKETMAP, "inet:127.0.0.1:10001"}, ...};
 *   server_run(ls, n, signal_fd, on_signal, ctx, metrics);   returns after on_signal says stop
 * DESCRIPTION
 *   Each request is answered with the runtime snapshot current when it
 *   arrives (runtime.h): a SIGHUP reaches long-lived connections at their
 *   next request. In the common case a request costs one read(2) and one
 *   write(2): every complete request found in one read (pipelining) is
 *   answered, in order, with one write. Buffers are per connection and
 *   allocated once: a socketmap connection holds one largest netstring
 *   (100008 bytes) plus slack, a tcp_table connection 8 KB.
 *   Limits (from the current snapshot):
 *     connection_limit  connections beyond it are accepted and closed at
 *                       once; logged once per burst
 *     idle_timeout      seconds a connection may wait between requests
 *     request_timeout   seconds from the first byte of a request to its
 *                       last (slow clients are cut off); also the send
 *                       timeout of a reply
 *   A malformed netstring or an over-long tcp_table line closes the
 *   connection (the stream cannot be resynchronised); a bad request inside
 *   a well-formed frame gets a protocol error and the connection goes on.
 *   Each connection logs its first protocol problem at warning, later ones
 *   at debug. Lookups log at debug (lookup.h).
 *   metrics (metrics.h; may be NULL) counts connections per listener
 *   (accepted, open now, refused over connection_limit) and each table
 *   answer by protocol, map and result, where the answer is decided: one
 *   count per request answered.
 *   When on_signal returns nonzero, server_run closes the listeners, lets
 *   requests being answered finish, closes connections that wait between
 *   requests (shutdown(2) wakes their threads) and returns when all
 *   connection threads have ended or SERVER_STOP_WAIT seconds have passed.
 * SECURITY
 *   Every buffer is bounded; client bytes reach logs only through log_msg.
 *   SIGPIPE must be ignored or blocked by the caller; writes use
 *   MSG_NOSIGNAL anyway.
 * DIAGNOSTICS
 *   Returns 0, or -1 when threads were still running at the deadline.
 */
#ifndef FWDAUTHD_SERVER_H
#define FWDAUTHD_SERVER_H

#include <stddef.h>
#include <stdint.h>

#define SERVER_STOP_WAIT 5
#define SERVER_NAME_MAX 300

enum server_kind { SERVER_SOCKETMAP, SERVER_TCP_FORWARD, SERVER_TCP_REVERSE, SERVER_MILTER };

struct server_listener {
    int fd;
    int kind; /* enum server_kind */
    char name[SERVER_NAME_MAX];
};

/* Called in the main thread for each signal read from sigfd; returns
 * nonzero to stop serving. */
typedef int (*server_signal_fn)(int signo, void *ctx);

struct metrics;
int server_run(struct server_listener *ls, size_t n, int sigfd, server_signal_fn on_signal,
               void *ctx, struct metrics *metrics);

const char *server_kind_name(int kind);

#endif
