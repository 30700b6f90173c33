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
 *   if (server_nofile_fit(&cfg, &err) < 0) fail(err.msg);    as root, before the drop
 *   struct server_listener ls[3] = {{fd, SERVER_SOCKETMAP, "inet:127.0.0.1:10001"}, ...};
 *   server_run(ls, n, signal_fd, on_signal, ctx, metrics);   returns after on_signal says stop
 * DESCRIPTION
 *   Each request is answered with the runtime snapshot current when it
 *   arrives (runtime.h): a SIGHUP reaches long-lived connections at their
 *   next request. In the common case a request costs one read(2) and one
 *   write(2): every complete request found in one read (pipelining) is
 *   answered, in order, with one write. Buffers are per connection and
 *   allocated once: a socketmap connection holds one largest netstring
 *   (100008 bytes) plus slack, a tcp_table connection 8 KB; their pages
 *   are touched only as requests fill them.
 *   Limits (from the current snapshot; fwdauthd.conf(5)), as Postfix's
 *   master.cf process limits, so that one service cannot starve another:
 *     table_connection_limit   connections per table listener (socketmap,
 *                       tcp_table forward, tcp_table reverse: each its own)
 *     milter_connection_limit  connections on the milter listener
 *     connection_limit  all table and milter connections together (a bound
 *                       on threads and descriptors; server_limits_warning
 *                       says when it is below the sum of the above, which
 *                       lets one listener's clients keep out another's)
 *     A connection over a limit is accepted and closed at once (a milter
 *     client then applies its milter_default_action); logged once per
 *     burst and listener, counted (metrics.h). When a table listener is
 *     full, the connection on it that has waited longest between
 *     requests is closed to make room instead (logged once per burst), as
 *     a connection cache drops its least recently used entry: a flood of
 *     idle sockets cannot keep lookups out, and Postfix's table clients
 *     reconnect at their next lookup. Only connections between requests
 *     are closed so, never one in the middle of a request. Milter connections are never closed so:
 * one waits between messages of a live SMTP session. idle_timeout      seconds a table connection
 * may wait between requests request_timeout   seconds from the first byte of a request to its last
 * (slow clients are cut off); also the time to write a whole reply (sockio.h) server_nofile_need is
 * the number of descriptors the limits can use: the table and milter connections (at most
 * connection_limit), the metrics connections (metrics_connection_limit), the listeners, and a
 *   margin of SERVER_NOFILE_FILES for files, logs and pipes plus, with a
 *   milter, SERVER_NOFILE_DNS for the resolver's sockets (libunbound
 *   serves at most 1024 queries at once, plus its TCP buffers).
 *   server_nofile_fit raises RLIMIT_NOFILE to it when it is lower (the
 *   hard limit too when run as root: call it before the privilege drop),
 *   and logs that at info; the accept loop fits the soft limit again
 *   after a reload that raised the limits.
 *   A malformed netstring or an over-long tcp_table line closes the
 *   connection (the stream cannot be resynchronised); a bad request inside
 *   a well-formed frame gets a protocol error and the connection goes on.
 *   Each connection logs its first protocol problem at warning, later ones
 *   at debug. Lookups log at debug (lookup.h).
 *   metrics (metrics.h; may be NULL) counts connections per listener
 *   (accepted, open now, refused over connection_limit) and each table
 *   answer by protocol, map and result, where the answer is decided: one
 *   count per request answered.
 *   When on_signal returns SERVER_STOP (or any other nonzero value but
 *   SERVER_DRAIN), server_run closes the listeners, lets
 *   requests being answered finish, closes connections that wait between
 *   requests (shutdown(2) wakes their threads) and returns when all
 *   connection threads have ended or SERVER_STOP_WAIT seconds have passed.
 *   Drain (SERVER_DRAIN: a newer worker serves, worker.h): the listeners
 *   close; each table connection, once it waits between requests (its
 *   thread is woken with SERVER_WAKE_SIGNAL, whose handler server_run
 *   installs), is given to the handover's give (server_set_handover),
 *   open, and closed here (when give fails or there is no handover, it is
 *   just closed: Postfix's table clients reconnect); milter connections
 *   go on until the MTA closes them or they time out. server_run returns
 *   when none is left; a SERVER_STOP from on_signal meanwhile stops as
 *   above. While serving, server_run also polls the handover's fd and
 *   serves each connection take returns on a listener of its kind (a
 *   connection a draining worker handed over: admitted there once, it is
 *   not checked against the limits again).
 * SECURITY
 *   Every buffer is bounded; client bytes reach logs only through log_msg.
 *   SIGPIPE must be ignored or blocked by the caller; writes use
 *   MSG_NOSIGNAL anyway.
 * DIAGNOSTICS
 *   server_run returns 0, or -1 when threads were still running at the
 *   deadline. server_nofile_fit returns 0, or -1 with a message in err
 *   that says how many descriptors are needed, what the limits are, and
 *   what to change (fwdauthd refuses to start then, and -t reports it).
 *   server_limits_warning returns 1 with the text in buf, or 0.
 */
#ifndef FWDAUTHD_SERVER_H
#define FWDAUTHD_SERVER_H

#include "config.h"
#include "err.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#define SERVER_STOP_WAIT 5
#define SERVER_NAME_MAX 300
#define SERVER_LISTENERS_MAX 7
#define SERVER_NOFILE_FILES 64 /* descriptors beyond the connections: files, logs, pipes */
#define SERVER_NOFILE_DNS 1040 /* with a milter: libunbound's sockets */

enum server_kind { SERVER_SOCKETMAP, SERVER_TCP_FORWARD, SERVER_TCP_REVERSE, SERVER_MILTER };

struct server_listener {
    int fd;
    int kind; /* enum server_kind */
    char name[SERVER_NAME_MAX];
};

/* Called in the main thread for each signal read from sigfd; returns
 * 0 to go on, SERVER_STOP or SERVER_DRAIN. */
typedef int (*server_signal_fn)(int signo, void *ctx);
#define SERVER_STOP 1
#define SERVER_DRAIN 2
#define SERVER_WAKE_SIGNAL SIGUSR2

/* Table connections passed between workers (worker.h). */
struct server_handover {
    int fd;                                   /* polled while serving; -1: none */
    int (*take)(void *arg, int *kind);        /* fd readable: a connection, or -1 */
    int (*give)(void *arg, int fd, int kind); /* draining: 0 when passed on */
    void *arg;
};
void server_set_handover(const struct server_handover *h);

struct metrics;
int server_run(struct server_listener *ls, size_t n, int sigfd, server_signal_fn on_signal,
               void *ctx, struct metrics *metrics);

const char *server_kind_name(int kind);

/* The per-listener limit for a listener of this kind. */
unsigned server_listener_limit(const struct fa_config *cfg, int kind);
unsigned long server_nofile_need(const struct fa_config *cfg);
int server_nofile_fit(const struct fa_config *cfg, fa_err *err);
int server_limits_warning(const struct fa_config *cfg, char *buf, size_t size);

#endif
