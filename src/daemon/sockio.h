/*
 * NAME
 *   sockio - write a reply to a client socket
 * SUMMARY
 *   sockio_send_all writes a whole buffer to a connected socket, for the
 *   table connections (server.c) and the milter connections
 *   (milter_conn.c). Kept apart from both so that the milter loop, which
 *   server.c starts, does not call back into server.c.
 * SYNOPSIS
 *   if (sockio_send_all(fd, reply, len) < 0) close the connection
 * DESCRIPTION
 *   Writes with send(2) and MSG_NOSIGNAL (a client that went away is an
 *   error, not a SIGPIPE), retries on EINTR, and goes on after a short
 *   write. A send timeout set on the socket (SO_SNDTIMEO) bounds each
 *   send(2).
 * DIAGNOSTICS
 *   Returns 0, or -1 with errno from send(2).
 */
#ifndef FWDAUTHD_SOCKIO_H
#define FWDAUTHD_SOCKIO_H

#include <stddef.h>
#include <stdint.h>

int sockio_send_all(int fd, const uint8_t *p, size_t n);

#endif
