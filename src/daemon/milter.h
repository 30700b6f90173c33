/*
 * NAME
 *   milter - Sendmail/Postfix milter protocol (versions 2, 3, 4, 6), filter side
 * SUMMARY
 *   A pure protocol core: packet framing, decoding of every MTA command,
 *   option negotiation, macros, a per-message state machine, encoding of
 *   every reply and end-of-message modification, and a small callback
 *   interface (struct milter_filter) through which a mail filter sees each
 *   message. No I/O, no logging of its own, no mail policy: the connection
 *   loop (milter_conn.h) reads and writes the socket, the filter
 *   (mailflow.h) decides what to do with mail.
 * SYNOPSIS
 *   struct milter_session *s = milter_session_new(filter, &env);
 *   for each complete packet (milter_frame):
 *       rc = milter_session_packet(s, cmd, data, len);
 *       write milter_session_output(s, &n) when it is time (see below)
 *       rc == MILTER_CLOSE: quit;  rc == MILTER_ERROR: protocol error, close
 *   milter_session_free(s);                 ends an open message first
 * DESCRIPTION
 *   Wire format (MILTER_README, Postfix milter8.c, sendmail mfdef.h): every
 *   packet is a 4-octet big-endian length that counts the command octet and
 *   the data, then the command octet, then the data. Strings are
 *   NUL-terminated. Lengths of 0 (no command) or above MILTER_PACKET_MAX are
 *   refused: the stream cannot be trusted after that and the connection is
 *   closed (Postfix then applies milter_default_action: tempfail). So is
 *   any packet above MILTER_PACKET_HELD but a header (MTAs send body
 *   chunks of at most 65535 octets unless a larger size was negotiated,
 *   which this layer never offers); a header packet above it is dropped
 *   unread and the message refused as for any header over its limit.
 *
 *   Negotiation. The MTA offers a version and masks of actions and protocol
 *   steps. Versions 2, 3, 4 and >= 6 are accepted and answered with
 *   min(version, 6) (5 never existed; 0, 1 and 5 close the connection). The
 *   answer asks only for what the filter declared and the MTA offered:
 *     actions   filter->actions & offered (MILTER_ACT_*). An action not
 *               granted cannot be used at end of message (see milter_mods).
 *     steps     every step the filter does not declare is switched off
 *               (SMFIP_NO*), except connect, HELO, MAIL and RCPT, which the
 *               layer always receives (cheap; they feed the accessors below);
 *               DATA, headers, end of headers, body and unknown commands are
 *               received only when declared in filter->steps.
 *     no-reply  every received step not in filter->replies is marked
 *               SMFIP_NR_* (the MTA does not wait for an answer): with the
 *               usual Postfix 3.x (version 6) a message costs one reply, at
 *               end of message. Versions 2-4 have no SMFIP_NR_*: the layer
 *               answers "continue" itself.
 *     SMFIP_HDR_LEADSPC and SMFIP_SKIP whenever offered (version 6).
 *   Header bytes. With SMFIP_HDR_LEADSPC (version 6, Postfix 2.8+) a header
 *   value reaches the filter exactly as after the colon in the message,
 *   leading white space included, and a value given to milter_mods is put
 *   after the colon as is: give " value" to get "Name: value". Without it
 *   (versions 2-4) the MTA has removed one space after the colon and will
 *   add one: the layer then removes one leading space from values the
 *   filter adds, so the filter's convention is the same either way (a value
 *   without a leading space cannot be expressed there and gets one).
 *   Postfix sends folded header values with bare LF ("\n") between lines
 *   and the name without any white space before the colon; added values
 *   must also fold with "\n" + SP/TAB. Body chunks are CRLF text as on the
 *   wire, at most 65535 octets each in Postfix, without dot-stuffing.
 *
 *   State machine. O first (once); then C (again only after K); H, U and A
 *   at any time after C; M opens a message; R, T, L, N, B, E need an open
 *   message, and E closes it (its answer is the one final reply of the
 *   message); L and N come before one N at most (a header field or a second
 *   N after N is a protocol error: Postfix never sends one, and a filter
 *   sets up its message at N); A closes it without a reply; Q ends the
 *   connection (returns MILTER_CLOSE); K ends it and waits for a new C on
 *   the same stream. A second M, or an H, inside a message aborts that
 *   message first, as libmilter does (Postfix sends A in those cases
 *   anyway). Any other order (a body before MAIL, a second O, a command
 *   before O), an unknown command octet or a malformed packet is a protocol
 *   error: MILTER_ERROR, close. D (macros) may come at any time after O.
 *   Several messages per connection are normal; after Q or K nothing leaks.
 *
 *   Macros. Each D packet replaces the macros of its stage (C, H, M, R, T,
 *   L, N, B, E, U). milter_macro looks a name up with or without braces
 *   ("i" = "{i}", "{auth_authen}" = "auth_authen"), latest stage first. At
 *   the end of each message (E answered, A, implicit abort) the stages from
 *   M on are cleared, as libmilter does; connect and HELO macros stay for
 *   the whole connection. Postfix sends the queue ID ("i") reliably only
 *   with the end-of-message stage (milter_end_of_data_macros).
 *
 *   Decisions. Every callback returns an enum milter_status. CONTINUE goes
 *   on. ACCEPT, REJECT, TEMPFAIL, DISCARD and REPLYCODE (text set with
 *   milter_set_reply) decide the message: the layer stops calling the
 *   filter for it (only msg_end follows) and answers at once when the step
 *   is one the MTA waits for, else at the next step it waits for (at the
 *   latest end of message). From rcpt, REJECT, TEMPFAIL and REPLYCODE
 *   refuse that recipient only, but only when MILTER_STEP_RCPT is in
 *   filter->replies; otherwise they decide the whole message. SKIP stops
 *   that callback for the rest of the message (body: SMFIR_SKIP when the
 *   MTA waits for body replies and understands it). Any other value, a
 *   NULL from msg_begin, a failed milter_mods call or a limit below being
 *   exceeded is an internal failure: TEMPFAIL for the message (DESIGN.md
 *   failure policy; Postfix answers 451 4.7.1 and the client retries).
 *
 *   Limits (each exceeded limit is logged through env->log and never stops
 *   the connection; the header limits refuse the message for good with
 *   552 5.3.4, since a retry would exceed them again, every other one
 *   tempfails it): MILTER_MACRO_BYTES per stage
 *   and MILTER_MACRO_COUNT pairs; MILTER_HOST_MAX (client name and HELO),
 *   MILTER_ADDR_MAX (client address); MILTER_ENVFROM_BYTES and
 *   MILTER_ARGS_MAX for MAIL FROM; MILTER_RCPT_MAX recipients in
 *   MILTER_RCPT_BYTES; MILTER_HEADERS_MAX headers per message,
 *   MILTER_HEADER_NAME_MAX and MILTER_HEADER_MAX per header; end of message
 *   modifications in MILTER_MODS_BYTES and MILTER_MODS_COUNT. A connect or
 *   HELO over its limit tempfails every message of the connection.
 *
 *   Output. Replies accumulate in the session's output buffer, in order;
 *   the caller writes them out (milter_session_output) and then calls
 *   milter_session_consumed. It must do so before it blocks for more input
 *   and whenever milter_session_want_flush says so (before each packet):
 *   the buffer always has room for one packet's answer after that.
 * SECURITY
 *   Input is untrusted: every length is checked before use, every string
 *   must be NUL-terminated inside its packet, nothing is read past a
 *   packet. Body chunks and header names/values are passed to the filter
 *   as pointers into the packet (no copy); they are valid only during the
 *   callback. The session allocates all of its memory in milter_session_new
 *   (no allocation per packet or message).
 *   Thread-safety: a session belongs to one thread; filter callbacks run in
 *   it. Distinct sessions share nothing.
 * DIAGNOSTICS
 *   milter_session_packet returns MILTER_OK, MILTER_CLOSE or MILTER_ERROR;
 *   after MILTER_ERROR, milter_session_error says why (static text). Notes
 *   that deserve a log line (limits, bad filter results) go to env->log.
 */
#ifndef FWDAUTHD_MILTER_H
#define FWDAUTHD_MILTER_H

#include <stddef.h>
#include <stdint.h>

/* ---- protocol constants (sendmail libmilter mfdef.h / mfapi.h) -------- */

#define MILTER_PACKET_MAX (1024 * 1024) /* largest packet accepted, command included */
#define MILTER_CHUNK_MAX 65535          /* body chunk size MTAs use */
/* Largest packet handed to the session whole, command included: a header
 * field of MILTER_HEADER_MAX octets (defined below). A header packet above
 * it, up to MILTER_PACKET_MAX, is refused by the session anyway: the
 * connection loop drops its octets as they arrive (milter_frame says
 * MILTER_FRAME_SKIP) and tells the session with milter_session_skipped,
 * so no connection ever holds more than this. */
#define MILTER_PACKET_HELD (256 * 1024 + 1)

/* Commands from the MTA (SMFIC_*). */
#define SMFIC_ABORT 'A'
#define SMFIC_BODY 'B'
#define SMFIC_CONNECT 'C'
#define SMFIC_MACRO 'D'
#define SMFIC_BODYEOB 'E'
#define SMFIC_HELO 'H'
#define SMFIC_QUIT_NC 'K'
#define SMFIC_HEADER 'L'
#define SMFIC_MAIL 'M'
#define SMFIC_EOH 'N'
#define SMFIC_OPTNEG 'O'
#define SMFIC_QUIT 'Q'
#define SMFIC_RCPT 'R'
#define SMFIC_DATA 'T'
#define SMFIC_UNKNOWN 'U'

/* Replies and modifications to the MTA (SMFIR_*). */
#define SMFIR_ADDRCPT '+'
#define SMFIR_DELRCPT '-'
#define SMFIR_ADDRCPT_PAR '2'
#define SMFIR_ACCEPT 'a'
#define SMFIR_CONTINUE 'c'
#define SMFIR_DISCARD 'd'
#define SMFIR_CHGFROM 'e'
#define SMFIR_ADDHEADER 'h'
#define SMFIR_INSHEADER 'i'
#define SMFIR_CHGHEADER 'm'
#define SMFIR_PROGRESS 'p'
#define SMFIR_QUARANTINE 'q'
#define SMFIR_REJECT 'r'
#define SMFIR_SKIP 's'
#define SMFIR_TEMPFAIL 't'
#define SMFIR_REPLYCODE 'y'
#define SMFIR_REPLBODY 'b'

/* Actions (SMFIF_*): what the filter may change at end of message. */
#define SMFIF_ADDHDRS 0x001u
#define SMFIF_CHGBODY 0x002u
#define SMFIF_ADDRCPT 0x004u
#define SMFIF_DELRCPT 0x008u
#define SMFIF_CHGHDRS 0x010u
#define SMFIF_QUARANTINE 0x020u
#define SMFIF_CHGFROM 0x040u
#define SMFIF_ADDRCPT_PAR 0x080u
#define SMFIF_SETSYMLIST 0x100u

/* Protocol steps (SMFIP_*). */
#define SMFIP_NOCONNECT 0x000001u
#define SMFIP_NOHELO 0x000002u
#define SMFIP_NOMAIL 0x000004u
#define SMFIP_NORCPT 0x000008u
#define SMFIP_NOBODY 0x000010u
#define SMFIP_NOHDRS 0x000020u
#define SMFIP_NOEOH 0x000040u
#define SMFIP_NR_HDR 0x000080u
#define SMFIP_NOUNKNOWN 0x000100u
#define SMFIP_NODATA 0x000200u
#define SMFIP_SKIP 0x000400u
#define SMFIP_RCPT_REJ 0x000800u
#define SMFIP_NR_CONN 0x001000u
#define SMFIP_NR_HELO 0x002000u
#define SMFIP_NR_MAIL 0x004000u
#define SMFIP_NR_RCPT 0x008000u
#define SMFIP_NR_DATA 0x010000u
#define SMFIP_NR_UNKN 0x020000u
#define SMFIP_NR_EOH 0x040000u
#define SMFIP_NR_BODY 0x080000u
#define SMFIP_HDR_LEADSPC 0x100000u

/* Client address families in SMFIC_CONNECT (SMFIA_*). */
#define SMFIA_UNKNOWN 'U'
#define SMFIA_UNIX 'L'
#define SMFIA_INET '4'
#define SMFIA_INET6 '6'

/* ---- limits -------------------------------------------------------------- */

#define MILTER_MACRO_BYTES 8192 /* per stage, names and values with NULs */
#define MILTER_MACRO_COUNT 64   /* pairs per stage */
#define MILTER_HOST_MAX 1024    /* client host name, HELO argument */
#define MILTER_ADDR_MAX 256     /* client address text */
#define MILTER_ENVFROM_BYTES 4096
#define MILTER_ARGS_MAX 32 /* ESMTP parameters of MAIL FROM or RCPT TO */
#define MILTER_RCPT_MAX 1000
#define MILTER_RCPT_BYTES (128 * 1024)
#define MILTER_HEADERS_MAX 2000
#define MILTER_HEADER_NAME_MAX 998
#define MILTER_HEADER_MAX (256 * 1024) /* one header: name + value */
_Static_assert(MILTER_PACKET_HELD == MILTER_HEADER_MAX + 1, "a held packet fits one header");
/* End-of-message changes: enough to delete every header field the
 * header section may hold (MILTER_HEADERS_MAX, at most 34 octets each for
 * the names the filter deletes) on top of the fields it adds. */
#define MILTER_MODS_BYTES (160 * 1024)
#define MILTER_MODS_COUNT (MILTER_HEADERS_MAX + 64)
#define MILTER_REPLY_MAX 512 /* SMTP reply text of a REPLYCODE, without NUL */

/* ---- the filter interface ------------------------------------------------ */

/* What a callback decides (see DESCRIPTION, "Decisions"). */
enum milter_status {
    MILTER_CONTINUE = 0,
    MILTER_ACCEPT,    /* accept the message, no further callbacks, no changes */
    MILTER_REJECT,    /* 550 5.7.1 (the message, or one recipient from rcpt) */
    MILTER_TEMPFAIL,  /* 451 4.7.1 (idem) */
    MILTER_DISCARD,   /* accept and drop the message */
    MILTER_REPLYCODE, /* answer with the text set by milter_set_reply */
    MILTER_SKIP       /* stop calling this callback for this message */
};

/* Steps the filter wants to see / to answer (filter->steps, ->replies). */
#define MILTER_STEP_CONNECT 0x001u /* replies only: the layer always receives these */
#define MILTER_STEP_HELO 0x002u
#define MILTER_STEP_MAIL 0x004u
#define MILTER_STEP_RCPT 0x008u
#define MILTER_STEP_DATA 0x010u
#define MILTER_STEP_HEADER 0x020u
#define MILTER_STEP_EOH 0x040u
#define MILTER_STEP_BODY 0x080u

/* Actions the filter may take at end of message (filter->actions). */
#define MILTER_ACT_ADDHDRS SMFIF_ADDHDRS         /* add and insert headers */
#define MILTER_ACT_CHGHDRS SMFIF_CHGHDRS         /* change and delete headers */
#define MILTER_ACT_ADDRCPT SMFIF_ADDRCPT         /* add recipients */
#define MILTER_ACT_ADDRCPT_PAR SMFIF_ADDRCPT_PAR /* add recipients with ESMTP args */
#define MILTER_ACT_DELRCPT SMFIF_DELRCPT
#define MILTER_ACT_CHGFROM SMFIF_CHGFROM
#define MILTER_ACT_QUARANTINE SMFIF_QUARANTINE
#define MILTER_ACT_CHGBODY SMFIF_CHGBODY /* replace the body */

struct milter_session;
struct milter_mods;

/*
 * A mail filter. Every callback is optional (NULL = not interested); `msg`
 * is what msg_begin returned, `s` gives the accessors below. Callbacks run
 * in the connection's thread and must not block for long: Postfix waits
 * (milter_command_timeout, milter_content_timeout).
 *
 *   msg_begin  at MAIL FROM, before envfrom. ctx is the daemon's context for
 *              this message (the runtime snapshot current at MAIL FROM,
 *              struct runtime *). Returns the filter's per-message state;
 *              NULL means internal failure (the message is tempfailed).
 *              With msg_begin NULL, msg is NULL everywhere.
 *   envfrom    addr without the angle brackets ("" = null sender); args are
 *              the ESMTP parameters ("SIZE=123", "BODY=8BITMIME", ...).
 *   rcpt       idem for each RCPT TO the MTA accepted so far.
 *   data       at the DATA command (only with MILTER_STEP_DATA).
 *   header     one header field: name (no colon), value as described in
 *              DESCRIPTION (leading space kept, folds as "\n"). Both are
 *              NUL-terminated at nlen/vlen. Postfix hides its own Received:.
 *   eoh        after the last header.
 *   body       one chunk of the body (CRLF lines), not copied.
 *   eom        end of message: the one place to modify the message, through
 *              mods (applied by the MTA in the order given). The returned
 *              status is the final answer; anything but CONTINUE or ACCEPT
 *              drops the modifications.
 *   msg_end    always called exactly once after a successful msg_begin:
 *              after eom, or when the message is aborted (RSET, client
 *              gone, a second MAIL, QUIT, protocol error, daemon stop).
 *              Free msg here. status is the final answer sent to the MTA
 *              for the message (MILTER_CONTINUE at end of message = it goes
 *              on, with the modifications), or MILTER_ABORTED when the
 *              message ended without one.
 */
#define MILTER_ABORTED (-1)
struct milter_filter {
    const char *name; /* for logs */
    unsigned actions; /* MILTER_ACT_* needed at end of message */
    unsigned steps;   /* MILTER_STEP_DATA/HEADER/EOH/BODY to receive */
    unsigned replies; /* MILTER_STEP_* at which a decision must reach the MTA at once */
    void *(*msg_begin)(void *ctx, struct milter_session *s);
    int (*envfrom)(void *msg, struct milter_session *s, const char *addr, const char *const *args,
                   size_t nargs);
    int (*rcpt)(void *msg, struct milter_session *s, const char *addr, const char *const *args,
                size_t nargs);
    int (*data)(void *msg, struct milter_session *s);
    int (*header)(void *msg, struct milter_session *s, const char *name, size_t nlen,
                  const char *value, size_t vlen);
    int (*eoh)(void *msg, struct milter_session *s);
    int (*body)(void *msg, struct milter_session *s, const uint8_t *p, size_t n);
    int (*eom)(void *msg, struct milter_session *s, struct milter_mods *mods);
    void (*msg_end)(void *msg, struct milter_session *s, int status);
};

/*
 * What the connection loop provides. ctx_get runs at each MAIL FROM and
 * returns the ctx given to msg_begin; ctx_put runs after msg_end with the
 * same ctx. log receives one finished line (level as enum
 * milter_log_level) for events worth logging: limits, bad filter results.
 * All may be NULL (ctx is then NULL).
 */
enum milter_log_level { MILTER_LOG_ERROR, MILTER_LOG_WARNING };

struct milter_env {
    void *(*ctx_get)(void *arg);
    void (*ctx_put)(void *arg, void *ctx);
    void (*log)(void *arg, int level, const char *line);
    /* Write n octets to the MTA now (milter_progress only); 0 or -1. */
    int (*write)(void *arg, const uint8_t *p, size_t n);
    void *arg;
};

/* ---- accessors, valid in any callback ------------------------------------ */

/* A macro by name, with or without braces; NULL when the MTA did not send it. */
const char *milter_macro(const struct milter_session *s, const char *name);
/* Macro "i", or "NOQUEUE" when unknown. */
const char *milter_queue_id(const struct milter_session *s);
/* From SMFIC_CONNECT: host name ("[1.2.3.4]" when Postfix found none),
 * address text, family (SMFIA_INET, SMFIA_INET6, SMFIA_UNIX, SMFIA_UNKNOWN)
 * and port (0 when unknown). "" and SMFIA_UNKNOWN before a connect. */
const char *milter_client_name(const struct milter_session *s);
const char *milter_client_addr(const struct milter_session *s);
int milter_client_family(const struct milter_session *s);
unsigned milter_client_port(const struct milter_session *s);
/* The last HELO/EHLO argument, "" when none. */
const char *milter_helo(const struct milter_session *s);
/* The envelope sender of the open message, without <> ("" = null sender),
 * and its ESMTP parameters. */
const char *milter_sender(const struct milter_session *s);
const char *const *milter_sender_args(const struct milter_session *s, size_t *nargs);
/* Recipients of the open message, in order, without <> (those the filter
 * refused in rcpt are not listed). */
size_t milter_rcpt_count(const struct milter_session *s);
const char *milter_rcpt(const struct milter_session *s, size_t i);
/* Headers and body octets seen so far in the open message. */
size_t milter_header_count(const struct milter_session *s);
uint64_t milter_body_size(const struct milter_session *s);
/* What was negotiated: protocol version, granted SMFIF_* actions, SMFIP_* steps. */
unsigned milter_version(const struct milter_session *s);
unsigned milter_actions(const struct milter_session *s);
unsigned milter_protocol(const struct milter_session *s);

/* Set the SMTP reply for MILTER_REPLYCODE: "4XX 4.X.X text" or
 * "5XX 5.X.X text" (the enhanced code optional, its class must match),
 * one line of printable text up to MILTER_REPLY_MAX octets. Returns
 * MILTER_REPLYCODE, or MILTER_TEMPFAIL for a malformed reply (logged).
 * Usage: return milter_set_reply(s, "550 5.7.1 DMARC policy reject"); */
int milter_set_reply(struct milter_session *s, const char *reply);

/* From eom only: tell the MTA we are still working (SMFIR_PROGRESS), so a
 * slow check does not hit Postfix's milter_content_timeout. 0, or -1 when
 * it could not be sent (no env->write, not in eom, write error). */
int milter_progress(struct milter_session *s);

/* ---- end-of-message modifications ---------------------------------------- */

/*
 * Bounded builder of modifications, serialized at once in the order of the
 * calls (that is the order the MTA applies them). Each returns 0, or -1
 * when the action was not granted, the arguments are invalid (empty or
 * malformed name, CR or NUL in a value, a line break not followed by SP or
 * TAB) or the space is exhausted; after -1 the whole message is tempfailed
 * unless the filter returns REJECT/DISCARD/REPLYCODE anyway. Check
 * milter_mods_allowed first to degrade gracefully.
 *
 * Header indexes, as Postfix applies them (cleanup_milter.c):
 *   insert  index 0 puts the header at the very top of the message as it
 *           will be delivered, above Postfix's own Received: header (which
 *           the filter never saw); index 1 puts it right below that
 *           Received:, i.e. above every header the filter saw. Each insert
 *           counts the headers as they stand after the previous
 *           modifications (an earlier insert shifts later indexes).
 *   change  index n (from 1) is the n-th header of that name (compared
 *           without regard to case) in the message as received, i.e. as the
 *           filter saw them in header(); delete = change to an empty value.
 * Values follow the convention in DESCRIPTION (" value").
 */
int milter_mods_allowed(const struct milter_mods *m, unsigned action);
int milter_mods_add_header(struct milter_mods *m, const char *name, const char *value);
int milter_mods_insert_header(struct milter_mods *m, unsigned index, const char *name,
                              const char *value);
int milter_mods_change_header(struct milter_mods *m, const char *name, unsigned index,
                              const char *value);
int milter_mods_delete_header(struct milter_mods *m, const char *name, unsigned index);
/* addr with or without <>; args NULL or "" for none (Postfix ignores them). */
int milter_mods_change_from(struct milter_mods *m, const char *addr, const char *args);
/* args NULL: SMFIR_ADDRCPT; else SMFIR_ADDRCPT_PAR (needs MILTER_ACT_ADDRCPT_PAR). */
int milter_mods_add_rcpt(struct milter_mods *m, const char *addr, const char *args);
int milter_mods_delete_rcpt(struct milter_mods *m, const char *addr);
int milter_mods_quarantine(struct milter_mods *m, const char *reason);
/* Replace the whole body with p[0..n) (CRLF text as on the wire, no
 * dot-stuffing), in one call. Unlike the others it is not buffered: it
 * goes out at once through env->write as SMFIR_REPLBODY packets of at most
 * MILTER_CHUNK_MAX octets (a body may be far larger than the modification
 * buffer), so it precedes the buffered ones, which the MTA accepts in any
 * order. Needs MILTER_ACT_CHGBODY and env->write. */
int milter_mods_replace_body(struct milter_mods *m, const uint8_t *p, size_t n);
size_t milter_mods_count(const struct milter_mods *m);

/* ---- the session (driven by the connection loop) ------------------------- */

enum milter_result { MILTER_OK, MILTER_CLOSE, MILTER_ERROR };
enum milter_frame_result {
    MILTER_FRAME_OK,
    MILTER_FRAME_MORE,
    MILTER_FRAME_BAD,
    MILTER_FRAME_SKIP
};

/* Look at the start of a stream: with a complete packet in p[0..n), sets
 * *cmd, *data (p + 5), *dlen and *used (5 + dlen) and returns
 * MILTER_FRAME_OK; MILTER_FRAME_MORE when more bytes are needed (*used is
 * then the total size of the packet when its length is known, else 5);
 * MILTER_FRAME_BAD for a length of 0 or above MILTER_PACKET_MAX, or a
 * packet other than a header above MILTER_PACKET_HELD;
 * MILTER_FRAME_SKIP for a header packet above MILTER_PACKET_HELD, as soon
 * as its command octet is in p: *cmd, *dlen and *used (its total size)
 * are set, *data is not. The caller drops *used octets from the stream
 * (those already in p and those still to come), then calls
 * milter_session_skipped(s, cmd, dlen, MILTER_SKIP_TOO_LARGE). */
int milter_frame(const uint8_t *p, size_t n, uint8_t *cmd, const uint8_t **data, size_t *dlen,
                 size_t *used);

/* A header (SMFIC_HEADER) or body chunk (SMFIC_BODY) packet of len data
 * octets that the caller dropped instead of handing it over:
 *   MILTER_SKIP_TOO_LARGE  above MILTER_PACKET_HELD (headers only): counts
 *                          as a header over its limit (552 5.3.4, see
 *                          Limits)
 *   MILTER_SKIP_NO_MEMORY  the caller had no memory for it (a daemon-wide
 *                          budget): the message is tempfailed, logged
 * The step is answered as for a packet (nothing when it is a no-reply
 * step). Any other command, or one outside a message, is a protocol
 * error. Returns as milter_session_packet. */
enum milter_skip_reason { MILTER_SKIP_TOO_LARGE, MILTER_SKIP_NO_MEMORY };
int milter_session_skipped(struct milter_session *s, uint8_t cmd, size_t len, int why);

/* NULL when out of memory. filter and env must outlive the session. */
struct milter_session *milter_session_new(const struct milter_filter *f,
                                          const struct milter_env *env);
/* Ends an open message (msg_end, ctx_put) and frees. NULL is fine. */
void milter_session_free(struct milter_session *s);

/* Handle one packet (data may be NULL when len is 0). */
int milter_session_packet(struct milter_session *s, uint8_t cmd, const uint8_t *data, size_t len);
const char *milter_session_error(const struct milter_session *s);

const uint8_t *milter_session_output(const struct milter_session *s, size_t *len);
void milter_session_consumed(struct milter_session *s);
/* Nonzero when the output must be written before the next packet. */
int milter_session_want_flush(const struct milter_session *s, uint8_t next_cmd);
/* Nonzero while a message is open (between M and its end). */
int milter_session_in_message(const struct milter_session *s);

#endif
