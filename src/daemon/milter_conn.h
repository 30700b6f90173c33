/*
 * NAME
 *   milter_conn - one milter connection: socket I/O around the milter core
 * SUMMARY
 *   milter_conn_serve reads packets from a connected MTA socket, feeds them
 *   to a milter session (milter.h) running the filter from mailflow.h, and
 *   writes the replies, until the MTA quits, the stream breaks or the
 *   daemon stops. Called by server.c in the connection's own thread.
 * SYNOPSIS
 *   milter_conn_serve(fd, "127.0.0.1:41234");
 * DESCRIPTION
 *   Reads are large (every packet already received is handled after one
 *   read(2)); replies are collected and written with one send(2) before the
 *   loop reads again, so a message costs about one read per body chunk and
 *   one write at end of message when Postfix uses the no-reply steps. The
 *   input buffer starts at MILTER_CONN_BUF and grows, only for a packet
 *   that needs it, up to MILTER_PACKET_MAX plus its length field.
 *   Timeouts: milter_timeout seconds (fwdauthd.conf) for the next packet
 *   and for each write, taken from the runtime snapshot at connect and at
 *   each MAIL FROM. Each message gets the snapshot current at its MAIL FROM
 *   (a SIGHUP applies from the next message) and keeps it until it ends.
 *   A protocol error (milter.h) closes the connection: Postfix then applies
 *   milter_default_action (tempfail by default) to that SMTP session's
 *   current message; nothing is lost. A stop (server.h) shuts the socket
 *   for reading: the loop ends at once, a message in flight is tempfailed
 *   by Postfix.
 * SECURITY
 *   Every length comes from milter_frame, which bounds it; the buffer never
 *   exceeds MILTER_PACKET_MAX + 4 octets.
 * DIAGNOSTICS
 *   Logs the first protocol problem of a connection at warning (later ones
 *   at debug), limits and filter errors as the core reports them, timeouts
 *   at warning when inside a message, else at debug.
 */
#ifndef FWDAUTHD_MILTER_CONN_H
#define FWDAUTHD_MILTER_CONN_H

#define MILTER_CONN_BUF (128 * 1024)

void milter_conn_serve(int fd, const char *peer);

#endif
