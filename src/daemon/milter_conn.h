/*
 * NAME
 *   milter_conn - one milter connection: socket I/O around the milter core
 * SUMMARY
 *   milter_conn_serve reads packets from a connected MTA socket, feeds them
 *   to a milter session (milter.h) running the filter from mailflow.h, and
 *   writes the replies, until the MTA quits, the stream breaks or the
 *   daemon stops. Called by server.c in the connection's own thread.
 * SYNOPSIS
 *   milter_conn_serve(fd, "127.0.0.1:41234", 1);
 * DESCRIPTION
 *   peer names the client in log lines; tcp is nonzero for an inet socket
 *   (the server has set TCP_NODELAY; TCP_QUICKACK is set here, see
 *   milter_conn.c).
 *   Reads are large (every packet already received is handled after one
 *   read(2)); replies are collected and written with one send(2) before the
 *   loop reads again, so a message costs about one read per body chunk and
 *   one write at end of message when Postfix uses the no-reply steps.
 *   Memory. The input buffer holds MILTER_CONN_BUF octets. A packet that
 *   does not fit makes it grow only when it is full of that packet's
 *   octets (a declared length alone takes nothing): to a body chunk's size
 *   (65540 octets) first, then by doubling, never beyond the packet's size, at most
 * MILTER_PACKET_HELD + 4 octets (milter.h: a header packet above that is dropped as it arrives and
 * its message refused; anything else above it closes the connection). The octets above
 * MILTER_CONN_BUF come from a daemon-wide budget, milter_buffer_memory (fwdauthd.conf; a Postfix
 * body chunk takes 64 KiB of it while its message is being received); the buffer returns to
 *   MILTER_CONN_BUF, and the budget gets them back, when it is empty
 *   between messages or the connection ends. When the budget is spent, a
 *   header or body packet that needs more is dropped as it arrives and its
 *   message tempfailed (logged; Postfix retries later); any other packet
 *   that needs more closes the connection (it cannot: no other command is
 *   larger than 16 KiB in milter.h's limits). So the input buffers of all
 *   connections together stay under milter_connection_limit x
 *   MILTER_CONN_BUF + milter_buffer_memory.
 *   Timeouts, milter_timeout seconds (fwdauthd.conf), taken from the
 *   runtime snapshot at connect and at each MAIL FROM:
 *     between packets   the next packet must begin within it (an MTA
 *                       whose SMTP client is slow keeps the connection
 *                       open between commands, as long as that)
 *     per packet        a packet must be complete within it of its first
 *                       octet (a client that sends a byte now and then
 *                       is cut; measured on the monotonic clock, with a
 *                       receive timeout that may end up to a second late)
 *     per write         a reply (or a body replacement chunk) must be
 *                       written within it (sockio.h)
 *   Each message gets the snapshot current at its MAIL FROM (a SIGHUP
 *   applies from the next message) and keeps it until it ends.
 *   A protocol error (milter.h) closes the connection: Postfix then applies
 *   milter_default_action (tempfail by default) to that SMTP session's
 *   current message; nothing is lost. A stop (server.h) shuts the socket
 *   for reading: the loop ends at once, a message in flight is tempfailed
 *   by Postfix.
 * SECURITY
 *   Every length comes from milter_frame, which bounds it; the buffer never
 *   exceeds MILTER_PACKET_HELD + 4 octets, and only while the packet's
 *   octets fill it.
 * DIAGNOSTICS
 *   Logs the first protocol problem of a connection at warning (later ones
 *   at debug), limits and filter errors as the core reports them, timeouts
 *   at warning when inside a message or a packet, else at debug, and a
 *   packet that could not get memory at error.
 */
#ifndef FWDAUTHD_MILTER_CONN_H
#define FWDAUTHD_MILTER_CONN_H

#define MILTER_CONN_BUF (16 * 1024)

void milter_conn_serve(int fd, const char *peer, int tcp);

#endif
