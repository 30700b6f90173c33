/*
 * NAME
 *   sockio - write a reply to a client socket, within a deadline
 * SUMMARY
 *   sockio_send_all writes a whole buffer to a connected socket, for the
 *   table connections (server.c) and the milter connections
 *   (milter_conn.c). Kept apart from both so that the milter loop, which
 *   server.c starts, does not call back into server.c.
 * SYNOPSIS
 *   if (sockio_send_all(fd, reply, len, 100000) < 0) close the connection
 * DESCRIPTION
 *   Writes with send(2), MSG_NOSIGNAL (a client that went away is an
 *   error, not a SIGPIPE) and MSG_DONTWAIT, waiting with poll(2) while the
 *   socket buffer is full; retries on EINTR and goes on after a short
 *   write. The whole buffer must be written within timeout_ms
 *   milliseconds of the first wait (a reply that fits the socket buffer
 *   never waits and costs no clock read): a client that reads a byte now and then cannot hold the
 *   thread longer than that (a send timeout per send(2) call could be
 *   renewed by every byte it reads).
 * DIAGNOSTICS
 *   Returns 0, or -1 with errno from send(2) or poll(2), or ETIMEDOUT when
 *   the deadline passed.
 */
#ifndef FWDAUTHD_SOCKIO_H
#define FWDAUTHD_SOCKIO_H

#include <stddef.h>
#include <stdint.h>

int sockio_send_all(int fd, const uint8_t *p, size_t n, long timeout_ms);

#endif
