/*
 * NAME
 *   cmd_send - fwdauth send: optionally DKIM-sign a message, then submit it
 *   over SMTP (RFC 6409 submission) with libcurl
 * SUMMARY
 *   One message (FILE or standard input) goes through three steps, each
 *   streaming through an unlinked spool file so memory stays constant:
 *   prepare (Bcc and Resent-Bcc removed, Date and Message-ID added when
 *   missing, envelope taken from From/To/Cc/Bcc unless --from/--to),
 *   sign (signing.h, when -d/-s/-k are given: after Bcc is gone, so the
 *   signature never covers it), submit (libcurl, STARTTLS required by
 *   default, certificates verified, AUTH when --user is given).
 * SECURITY
 *   The password comes only from a file others cannot read (secfile.h),
 *   first line; it is never on the command line, never printed: --verbose
 *   hides everything the client sends during AUTH. TLS is required unless
 *   --no-tls, and AUTH over a connection without TLS is refused unless the
 *   server is this host. Certificates are checked unless --insecure.
 *   A message goes out whole or not at all: the first rejected recipient
 *   stops the transaction before DATA.
 *   When the server accepts the message, one line on standard output says
 *   so with its reply and the queue ID in it (Postfix's "queued as ID",
 *   Exim's "id=ID"), or one JSON object with --json.
 * DIAGNOSTICS
 *   Exit 0 sent; 1 refused by the server (4xx/5xx to AUTH, MAIL, RCPT or
 *   DATA), with the server's reply; 2 usage, I/O, connection or TLS error.
 */
#include "addrlist.h"
#include "cli.h"
#include "input.h"
#include "secfile.h"
#include "signing.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define PROG "fwdauth send"
#define REPLY_MAX 512

static void send_usage(FILE *f)
{
    fprintf(f,
            "usage: fwdauth send --server HOST[:PORT] [--starttls | --tls | --no-tls]\n"
            "                    [--user USER --password-file FILE] [--ca-file FILE] [--insecure]\n"
            "                    [--from ADDR] [--to ADDR]... [-d DOMAIN -s SELECTOR -k KEYFILE\n"
            "                    [-a ALG]]... [--canon H/B] [--verbose] [--json]\n"
            "                    [FILE | < message]\n"
            "\n"
            "Submits one message over SMTP, DKIM-signing it first when -d/-s/-k are given.\n"
            "The envelope sender is --from or the message's From (Sender when From has several\n"
            "addresses); the recipients are the --to addresses, or else every address in To,\n"
            "Cc and Bcc. Bcc (and Resent-Bcc) fields are removed before signing and sending.\n"
            "Date and Message-ID are added when the message has none. Once the server\n"
            "accepts it, prints \"sent to N recipients via HOST:PORT: REPLY\" (REPLY names\n"
            "the queue ID when the server gives one).\n"
            "\n"
            "  --server HOST[:PORT]  submission server ([IPv6]:PORT for IPv6 addresses)\n"
            "  --starttls            port 587, STARTTLS required (the default)\n"
            "  --tls                 implicit TLS (SMTPS), port 465\n"
            "  --no-tls              plain SMTP, port 25, no TLS at all: only for a relay on\n"
            "                        this host (AUTH is refused unless the server is loopback)\n"
            "  --user USER           authenticate (SMTP AUTH) as USER\n"
            "  --password-file FILE  the password: first line of FILE, which must not be\n"
            "                        readable by others\n"
            "  --ca-file FILE        trust the CA certificates in FILE (PEM) instead of the\n"
            "                        system store\n"
            "  --insecure            do not verify the server's certificate (tests only)\n"
            "  --from ADDR           envelope sender (MAIL FROM)\n"
            "  --to ADDR             envelope recipient (RCPT TO); repeatable; replaces the\n"
            "                        header recipients\n"
            "  --helo NAME           name for EHLO (default: this host's name)\n"
            "  --timeout SECONDS     for connecting and for each server reply (default 60)\n"
            "  --verbose             show the SMTP dialogue on standard error (credentials\n"
            "                        hidden)\n"
            "  --json                once sent, one JSON object: server, from, recipients,\n"
            "                        reply, queue_id (null when the reply names none)\n"
            "  -d DOMAIN -s SELECTOR -k KEYFILE [-a ALG]\n"
            "                        add a DKIM signature (repeatable; see fwdauth dkim sign)\n"
            "  --canon H/B, -H h1:h2:..., -i IDENTITY, --timestamp T, --expire S, --body-length,\n"
            "  --query-tag\n"
            "                        signing options as for fwdauth dkim sign\n"
            "  -c FILE               configuration file\n"
            "\n"
            "exit status: 0 sent, 1 refused by the server (authentication, sender, recipient\n"
            "or message), 2 usage, I/O, connection or TLS error\n");
}

/* ---- spool files ---------------------------------------------------------- */

static FILE *spool_new(void)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) {
        char tmpl[4096];
        snprintf(tmpl, sizeof(tmpl), "%s/fwdauth-send-XXXXXX", dir);
        fd = mkstemp(tmpl);
        if (fd >= 0)
            unlink(tmpl);
    }
    if (fd < 0) {
        fprintf(stderr, PROG ": cannot make a spool file in %s: %s\n", dir, strerror(errno));
        return NULL;
    }
    FILE *f = fdopen(fd, "w+");
    if (!f) {
        fprintf(stderr, PROG ": cannot make a spool file: %s\n", strerror(errno));
        close(fd);
    }
    return f;
}

/* ---- step 1: prepare -------------------------------------------------------- */

struct prepare {
    FILE *out;
    int write_error;
    int need_from, need_rcpt; /* take them from the header */
    struct addrlist from, sender, rcpt;
    size_t nfrom_fields;
    const char *envelope_from; /* --from, or set from the header */
};

static void put_date_and_id(struct prepare *p, const char *eol, int need_date, int need_id)
{
    if (need_date) {
        char buf[64];
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S %z", &tm);
        fprintf(p->out, "Date: %s%s", buf, eol);
    }
    if (need_id) {
        unsigned char rnd[16];
        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
            for (size_t i = 0; i < sizeof(rnd); i++)
                rnd[i] = (unsigned char)(rand() ^ (int)time(NULL) ^ (int)getpid());
        }
        const char *at = p->envelope_from ? strrchr(p->envelope_from, '@') : NULL;
        const char *domain = at && at[1] ? at + 1 : "localhost";
        fprintf(p->out, "Message-ID: <");
        for (size_t i = 0; i < sizeof(rnd); i++)
            fprintf(p->out, "%02x", rnd[i]);
        fprintf(p->out, ".fwdauth@%s>%s", domain, eol);
    }
}

static int field_addresses(struct addrlist *l, const struct msg_header *h)
{
    fa_err err;
    if (addrlist_parse(l, h->raw + h->value_off, h->value_end - h->value_off, &err) == 0)
        return 0;
    fprintf(stderr, PROG ": cannot read the addresses in %.*s: %s\n", (int)h->name_len, h->raw,
            err.msg);
    return -1;
}

static int prepare_headers(void *ctx, struct msg_reader *r)
{
    struct prepare *p = ctx;
    const struct msg_headers *hs = &r->headers;
    int has_date = 0, has_id = 0;
    for (size_t i = 0; i < hs->n; i++) {
        const struct msg_header *h = &hs->h[i];
        if (msg_header_is(h, "Date"))
            has_date = 1;
        else if (msg_header_is(h, "Message-ID"))
            has_id = 1;
        else if (msg_header_is(h, "From")) {
            p->nfrom_fields++;
            if (p->need_from && field_addresses(&p->from, h) < 0)
                return -1;
        } else if (msg_header_is(h, "Sender")) {
            if (p->need_from && field_addresses(&p->sender, h) < 0)
                return -1;
        } else if (msg_header_is(h, "To") || msg_header_is(h, "Cc") || msg_header_is(h, "Bcc")) {
            if (p->need_rcpt && field_addresses(&p->rcpt, h) < 0)
                return -1;
        }
    }
    if (p->need_from) {
        /* RFC 5322 section 3.6.2: with several From addresses, Sender names
         * the one who sent it. */
        const struct addrlist *l = p->from.n == 1 ? &p->from : &p->sender;
        if (p->nfrom_fields > 1 || l->n != 1) {
            fprintf(stderr, PROG ": %s; give --from\n",
                    p->nfrom_fields == 0  ? "the message has no From field"
                    : p->nfrom_fields > 1 ? "the message has several From fields"
                    : p->from.n == 0      ? "the From field holds no address"
                    : p->sender.n == 0    ? "From has several addresses and there is no Sender"
                                          : "Sender must hold exactly one address");
            return -1;
        }
        p->envelope_from = l->addr[0];
    }

    /* The fields, in order, without Bcc; then Date and Message-ID if
     * missing; then the separator as it was. */
    const char *eol = r->crlf || hs->n == 0 ? "\r\n" : "\n";
    size_t end = 0;
    for (size_t i = 0; i < hs->n; i++) {
        const struct msg_header *h = &hs->h[i];
        end = (size_t)(h->raw - r->head) + h->len;
        if (msg_header_is(h, "Bcc") || msg_header_is(h, "Resent-Bcc"))
            continue;
        fwrite(h->raw, 1, h->len, p->out);
    }
    if (!has_date || !has_id) {
        if (end > 0 && r->head[end - 1] != '\n')
            fputs(eol, p->out);
        put_date_and_id(p, eol, !has_date, !has_id);
    }
    fwrite(r->head + end, 1, r->head_len - end, p->out);
    if (ferror(p->out)) {
        fprintf(stderr, PROG ": cannot write the spool file: %s\n", strerror(errno));
        return -1;
    }
    return 0;
}

static void prepare_body(void *ctx, const uint8_t *b, size_t n)
{
    struct prepare *p = ctx;
    if (fwrite(b, 1, n, p->out) != n)
        p->write_error = 1;
}

/* ---- step 3: submit --------------------------------------------------------- */

/* The SMTP dialogue as it went: the last command the client sent and the
 * server's reply to it, the only state report() reads. libcurl runs the
 * dialogue itself and shows it only to its debug callback, one line at a
 * time; smtp_sent and smtp_received keep this state from those lines. */
enum smtp_cmd {
    CMD_CONNECT, /* nothing sent yet: the reply is the greeting */
    CMD_EHLO,    /* EHLO or HELO */
    CMD_STARTTLS,
    CMD_AUTH,
    CMD_MAIL,
    CMD_RCPT,
    CMD_DATA,
    CMD_MESSAGE /* the message itself: the reply is the one at end of data */
};

enum smtp_auth {
    AUTH_NONE,    /* not started */
    AUTH_SENDING, /* AUTH sent, the exchange goes on: every client line is a credential */
    AUTH_OK,      /* 235 */
    AUTH_REFUSED  /* any other final reply */
};

struct smtp_state {
    enum smtp_cmd cmd;       /* the last command sent (QUIT aside) */
    char arg[REPLY_MAX];     /* what a report names of it: RCPT TO's recipient */
    int code;                /* the server's reply to it: 3 digits; 0 until one came */
    char reply[REPLY_MAX];   /* that reply, its lines joined */
    char partial[REPLY_MAX]; /* a multi-line reply being read */
    int auth_offered;        /* the last EHLO reply lists AUTH */
    enum smtp_auth auth;
    int quitting; /* QUIT sent: its reply is not the one that matters */
};

static void append_line(char *dst, const char *s, size_t n)
{
    size_t l = strlen(dst);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        n--;
    if (l && l + 1 < REPLY_MAX)
        dst[l++] = ' ';
    for (size_t i = 0; i < n && l + 1 < REPLY_MAX; i++)
        dst[l++] = isprint((unsigned char)s[i]) ? s[i] : '?';
    dst[l] = '\0';
}

static int line_is(const char *p, size_t n, const char *word)
{
    size_t w = strlen(word);
    return n >= w && strncasecmp(p, word, w) == 0;
}

/* The client sent the line p[0..n): a new command. Returns 1 when the line
 * holds credentials (the AUTH command and everything sent while the
 * exchange goes on), which --verbose must not show. */
static int smtp_sent(struct smtp_state *st, const char *p, size_t n)
{
    static const struct {
        const char *word;
        enum smtp_cmd cmd;
    } commands[] = {{"EHLO", CMD_EHLO},       {"HELO", CMD_EHLO},     {"STARTTLS", CMD_STARTTLS},
                    {"MAIL FROM:", CMD_MAIL}, {"RCPT TO:", CMD_RCPT}, {"DATA", CMD_DATA}};
    if (st->auth == AUTH_SENDING)
        return 1;
    if (line_is(p, n, "AUTH ")) {
        st->cmd = CMD_AUTH;
        st->auth = AUTH_SENDING;
        return 1;
    }
    if (line_is(p, n, "QUIT")) {
        st->quitting = 1;
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (!line_is(p, n, commands[i].word))
            continue;
        st->cmd = commands[i].cmd;
        st->arg[0] = '\0';
        if (line_is(p, n, "EHLO"))
            st->auth_offered = 0;
        if (st->cmd == CMD_RCPT) {
            const char *a = p + 8, *e = p + n;
            while (a < e && *a == ' ')
                a++;
            if (a < e && *a == '<')
                a++;
            const char *gt = memchr(a, '>', (size_t)(e - a));
            append_line(st->arg, a, gt ? (size_t)(gt - a) : (size_t)(e - a));
        }
        break;
    }
    return 0;
}

/* The server sent the line p[0..n) ("250-..." goes on, "250 ..." ends). */
static void smtp_received(struct smtp_state *st, const char *p, size_t n)
{
    append_line(st->partial, p, n);
    if (st->cmd == CMD_EHLO && n >= 8 && strncasecmp(p + 4, "AUTH", 4) == 0 &&
        (n == 8 || strchr(" =\r\n", p[8])))
        st->auth_offered = 1;
    if (n >= 4 && p[3] == '-')
        return;
    if (!st->quitting) {
        memcpy(st->reply, st->partial, sizeof(st->reply));
        st->code = n >= 3 && isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1]) &&
                           isdigit((unsigned char)p[2])
                       ? (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0')
                       : 0;
    }
    st->partial[0] = '\0';
    if (st->auth == AUTH_SENDING && st->code != 334)
        st->auth = st->code == 235 ? AUTH_OK : AUTH_REFUSED;
}

struct session {
    FILE *msg;
    int verbose;
    int want_auth;
    int auth_abort; /* the message was about to go out unauthenticated: stopped */
    int prev_cr;    /* the last octet given to curl was CR */
    int pending_lf;
    int read_error;
    struct smtp_state st;
};

/* What --verbose shows of a client line: AUTH's mechanism, no credential. */
static void show_sent(const char *p, size_t n, int secret)
{
    if (!secret) {
        fprintf(stderr, "> %.*s", (int)n, p);
    } else if (line_is(p, n, "AUTH ")) {
        size_t m = 5;
        while (m < n && p[m] != ' ' && p[m] != '\r' && p[m] != '\n')
            m++;
        fprintf(stderr, "> %.*s%s\n", (int)m, p,
                m < n && p[m] == ' ' ? " [credentials hidden]" : "");
        return;
    } else {
        fprintf(stderr, "> [credentials hidden]\n");
        return;
    }
    if (p[n - 1] != '\n')
        fputc('\n', stderr);
}

/* curl's trace: split into lines (curl may pass several at once) for the
 * state, and shown for --verbose. */
static int debug_cb(CURL *h, curl_infotype type, char *data, size_t size, void *ctx)
{
    (void)h;
    struct session *s = ctx;
    const char *p = data, *e = data + size;
    switch (type) {
    case CURLINFO_TEXT:
        if (s->verbose)
            fprintf(stderr, "* %.*s", (int)size, data);
        break;
    case CURLINFO_HEADER_OUT:
    case CURLINFO_HEADER_IN:
        while (p < e) {
            const char *nl = memchr(p, '\n', (size_t)(e - p));
            size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(e - p);
            if (type == CURLINFO_HEADER_OUT) {
                int secret = smtp_sent(&s->st, p, n);
                if (s->verbose)
                    show_sent(p, n, secret);
            } else {
                smtp_received(&s->st, p, n);
                if (s->verbose)
                    fprintf(stderr, "< %.*s%s", (int)n, p, p[n - 1] == '\n' ? "" : "\n");
            }
            p += n;
        }
        break;
    case CURLINFO_DATA_OUT:
        s->st.cmd = CMD_MESSAGE;
        break;
    default:
        break;
    }
    return 0;
}

/* Give curl the message with every line ending in CRLF: curl's dot-stuffing
 * looks for CRLF "." and SMTP wants CRLF (a message with bare LF is signed
 * as if it had CRLF, so the signature holds). */
static size_t read_cb(char *buf, size_t size, size_t nitems, void *ctx)
{
    struct session *s = ctx;
    size_t room = size * nitems, o = 0;
    if (s->want_auth && s->st.auth != AUTH_OK) {
        s->auth_abort = 1;
        return CURL_READFUNC_ABORT;
    }
    s->st.cmd = CMD_MESSAGE;
    if (s->pending_lf && room > 0) {
        buf[o++] = '\n';
        s->pending_lf = 0;
        s->prev_cr = 0;
    }
    while (o < room) {
        int c = getc(s->msg);
        if (c == EOF) {
            if (ferror(s->msg)) {
                s->read_error = 1;
                return CURL_READFUNC_ABORT;
            }
            break;
        }
        if (c == '\n' && !s->prev_cr) {
            buf[o++] = '\r';
            if (o == room) {
                s->pending_lf = 1;
                break;
            }
        }
        buf[o++] = (char)c;
        s->prev_cr = c == '\r';
    }
    return o;
}

/* HOST[:PORT] or [V6]:PORT into host (bracketed for IPv6) and port. */
static int parse_server(const char *v, char *host, size_t hostsz, long *port)
{
    const char *hs = v, *he, *ps = NULL;
    int v6 = 0;
    if (*v == '[') {
        he = strchr(v, ']');
        if (!he)
            return -1;
        hs = v + 1;
        v6 = 1;
        if (he[1] == ':')
            ps = he + 2;
        else if (he[1])
            return -1;
    } else {
        const char *c = strchr(v, ':');
        if (c && strchr(c + 1, ':')) { /* a bare IPv6 address */
            he = v + strlen(v);
            v6 = 1;
        } else {
            he = c ? c : v + strlen(v);
            ps = c ? c + 1 : NULL;
        }
    }
    size_t hl = (size_t)(he - hs);
    if (hl == 0 || hl + 3 > hostsz)
        return -1;
    for (size_t i = 0; i < hl; i++) {
        unsigned char c = (unsigned char)hs[i];
        if (!isalnum(c) && c != '.' && c != '-' && c != '_' && !(v6 && (c == ':' || c == '%')))
            return -1;
    }
    snprintf(host, hostsz, v6 ? "[%.*s]" : "%.*s", (int)hl, hs);
    if (ps) {
        char *end;
        errno = 0;
        long p = strtol(ps, &end, 10);
        if (errno || *end || end == ps || p < 1 || p > 65535)
            return -1;
        *port = p;
    }
    return 0;
}

static int is_loopback(const char *host)
{
    return strcmp(host, "localhost") == 0 || strncmp(host, "127.", 4) == 0 ||
           strcmp(host, "[::1]") == 0;
}

static int read_password(const char *path, char **out)
{
    fa_err err;
    char *data;
    size_t len;
    if (secfile_read(path, geteuid(), &data, &len, &err) < 0) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        return -1;
    }
    size_t n = 0;
    while (n < len && data[n] != '\n' && data[n] != '\r' && data[n] != '\0')
        n++;
    if (n == 0) {
        fprintf(stderr, PROG ": %s: the first line (the password) is empty\n", path);
        secfile_free(data, len);
        return -1;
    }
    *out = malloc(n + 1);
    if (*out) {
        memcpy(*out, data, n);
        (*out)[n] = '\0';
    }
    secfile_free(data, len);
    return *out ? 0 : -1;
}

static void wipe_free(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

struct send_opts {
    char host[300];
    long port;
    int mode; /* 0 STARTTLS, 1 implicit TLS, 2 none */
    const char *user, *password_file, *ca_file, *helo;
    int insecure, verbose, json;
    long timeout;
};

/* A failure below SMTP (connection, name, time, TLS, the spool file):
 * one line and EXIT_TROUBLE; 0 when rc is none of these. oserr is the
 * errno of a failed connect. */
static int report_transport(const struct send_opts *o, const struct session *s, CURLcode rc,
                            const char *why, long oserr)
{
    if (s->auth_abort) {
        fprintf(stderr,
                PROG ": %s:%ld offered no AUTH; refusing to send without "
                     "authenticating as %s\n",
                o->host, o->port, o->user);
        return EXIT_TROUBLE;
    }
    if (s->read_error) {
        fprintf(stderr, PROG ": cannot read the spooled message: %s\n", strerror(errno));
        return EXIT_TROUBLE;
    }
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
        fprintf(stderr, PROG ": cannot connect to %s:%ld: %s\n", o->host, o->port,
                oserr == ECONNREFUSED ? "connection refused"
                : oserr               ? strerror((int)oserr)
                                      : why);
        return EXIT_TROUBLE;
    case CURLE_COULDNT_RESOLVE_HOST:
        fprintf(stderr, PROG ": cannot resolve %s: %s\n", o->host, why);
        return EXIT_TROUBLE;
    case CURLE_OPERATION_TIMEDOUT:
        fprintf(stderr, PROG ": %s:%ld timed out: %s\n", o->host, o->port, why);
        return EXIT_TROUBLE;
    case CURLE_USE_SSL_FAILED:
        fprintf(stderr,
                PROG ": %s:%ld does not offer STARTTLS; refusing to send in clear "
                     "(--no-tls allows it, for a relay on this host only)\n",
                o->host, o->port);
        return EXIT_TROUBLE;
    case CURLE_PEER_FAILED_VERIFICATION:
        fprintf(stderr,
                PROG ": TLS certificate verification failed for %s: %s (--ca-file names "
                     "a CA to trust)\n",
                o->host, why);
        return EXIT_TROUBLE;
    case CURLE_SSL_CONNECT_ERROR:
        fprintf(stderr, PROG ": TLS handshake with %s:%ld failed: %s\n", o->host, o->port, why);
        return EXIT_TROUBLE;
    case CURLE_SSL_CACERT_BADFILE:
        fprintf(stderr, PROG ": cannot use the CA file %s: %s\n",
                o->ca_file ? o->ca_file : "(system store)", why);
        return EXIT_TROUBLE;
    default:
        return 0;
    }
}

/* The server refused a command (4xx or 5xx): which one, with its reply. */
static int report_refusal(const struct send_opts *o, const struct session *s, const char *from,
                          const char *reply)
{
    const struct smtp_state *st = &s->st;
    switch (st->cmd) {
    case CMD_RCPT:
        fprintf(stderr, PROG ": recipient %s rejected: %s%s\n", st->arg, reply,
                s->want_auth && st->auth != AUTH_OK && !st->auth_offered
                    ? " (not authenticated: the server offered no AUTH)"
                    : "");
        break;
    case CMD_MAIL:
        fprintf(stderr, PROG ": sender %s rejected: %s\n", from, reply);
        break;
    case CMD_DATA:
        fprintf(stderr, PROG ": DATA refused: %s\n", reply);
        break;
    case CMD_MESSAGE:
        fprintf(stderr, PROG ": message rejected at end of DATA: %s\n", reply);
        break;
    case CMD_AUTH:
        fprintf(stderr, PROG ": authentication refused for %s: %s\n", o->user, reply);
        break;
    default:
        fprintf(stderr, PROG ": refused by %s:%ld: %s\n", o->host, o->port, reply);
        break;
    }
    return EXIT_NEGATIVE;
}

/* Turn curl's result and the dialogue's state into one line and an exit
 * status. */
static int report(const struct send_opts *o, const struct session *s, CURLcode rc, long oserr,
                  const char *errbuf, const char *from)
{
    const char *why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    const char *reply = s->st.reply[0] ? s->st.reply : why;
    int status = report_transport(o, s, rc, why, oserr);
    if (status)
        return status;
    if (rc == CURLE_LOGIN_DENIED) {
        fprintf(stderr, PROG ": authentication refused for %s: %s\n", o->user, reply);
        return EXIT_NEGATIVE;
    }
    if (s->st.code >= 400 && s->st.code < 600)
        return report_refusal(o, s, from, reply);
    fprintf(stderr, PROG ": %s:%ld: %s\n", o->host, o->port, why);
    return EXIT_TROUBLE;
}

/* The queue ID in the server's reply to the message, as Postfix ("250 2.0.0
 * Ok: queued as 4dK2xq1Zz8z9") and Exim ("250 OK id=1sXyZ-000abc-Qr") write
 * it: its length, 0 when the reply names none. */
static size_t queue_id(const char *reply, const char **id)
{
    static const char *const marks[] = {"queued as ", "id="};
    for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
        const char *p = strstr(reply, marks[i]);
        if (!p)
            continue;
        p += strlen(marks[i]);
        size_t n = 0;
        while (isalnum((unsigned char)p[n]) || p[n] == '-' || p[n] == '.' || p[n] == '_')
            n++;
        if (n) {
            *id = p;
            return n;
        }
    }
    return 0;
}

/* The message was accepted: say so on standard output. */
static int report_sent(const struct send_opts *o, const struct session *s, const char *from,
                       const struct addrlist *rcpt)
{
    const char *id = NULL;
    size_t idlen = queue_id(s->st.reply, &id);
    if (!o->json) {
        printf("sent to %zu recipient%s via %s:%ld: %s\n", rcpt->n, rcpt->n == 1 ? "" : "s",
               o->host, o->port, s->st.reply);
    } else {
        char server[320];
        snprintf(server, sizeof(server), "%s:%ld", o->host, o->port);
        fputs("{\"sent\":true,\"server\":", stdout);
        cli_json_string(stdout, server, strlen(server));
        fputs(",\"from\":", stdout);
        cli_json_string(stdout, from, strlen(from));
        fputs(",\"recipients\":[", stdout);
        for (size_t i = 0; i < rcpt->n; i++) {
            if (i)
                putchar(',');
            cli_json_string(stdout, rcpt->addr[i], strlen(rcpt->addr[i]));
        }
        printf("],\"code\":%d,\"reply\":", s->st.code);
        cli_json_string(stdout, s->st.reply, strlen(s->st.reply));
        fputs(",\"queue_id\":", stdout);
        if (idlen)
            cli_json_string(stdout, id, idlen);
        else
            fputs("null", stdout);
        fputs("}\n", stdout);
    }
    if (fflush(stdout) != 0) {
        /* Sent all the same: say so, but the caller cannot have read it. */
        fprintf(stderr, PROG ": sent, but cannot write to standard output: %s\n", strerror(errno));
        return EXIT_TROUBLE;
    }
    return EXIT_POSITIVE;
}

static int submit(const struct send_opts *o, FILE *msg, const char *password, const char *from,
                  const struct addrlist *rcpt)
{
    static const char *const schemes[] = {"smtp", "smtps", "smtp"};
    char helo[256], url[700], errbuf[CURL_ERROR_SIZE] = "";
    if (o->helo)
        snprintf(helo, sizeof(helo), "%s", o->helo);
    else if (gethostname(helo, sizeof(helo)) < 0 || !helo[0])
        snprintf(helo, sizeof(helo), "localhost");
    helo[sizeof(helo) - 1] = '\0';
    for (char *p = helo; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '_')
            *p = '-';
    snprintf(url, sizeof(url), "%s://%s:%ld/%s", schemes[o->mode], o->host, o->port, helo);

    CURL *h = curl_easy_init();
    if (!h) {
        fprintf(stderr, PROG ": cannot start libcurl\n");
        return EXIT_TROUBLE;
    }
    struct session s = {.msg = msg, .verbose = o->verbose, .want_auth = o->user != NULL};
    struct curl_slist *rl = NULL;
    int status = EXIT_TROUBLE;
    char addr[2 * REPLY_MAX];
    for (size_t i = 0; i < rcpt->n; i++) {
        snprintf(addr, sizeof(addr), "<%s>", rcpt->addr[i]);
        struct curl_slist *n = curl_slist_append(rl, addr);
        if (!n) {
            fprintf(stderr, PROG ": out of memory\n");
            goto out;
        }
        rl = n;
    }
    snprintf(addr, sizeof(addr), "<%s>", from);

    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_USE_SSL,
                     o->mode == 2 ? (long)CURLUSESSL_NONE : (long)CURLUSESSL_ALL);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, o->insecure ? 0L : 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, o->insecure ? 0L : 2L);
    if (o->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, o->ca_file);
    if (o->user) {
        curl_easy_setopt(h, CURLOPT_USERNAME, o->user);
        curl_easy_setopt(h, CURLOPT_PASSWORD, password);
    }
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, addr);
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rl);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(h, CURLOPT_READDATA, &s);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, o->timeout);
    curl_easy_setopt(h, CURLOPT_SERVER_RESPONSE_TIMEOUT, o->timeout);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, o->timeout);
    /* The debug callback keeps the dialogue's state (smtp_sent,
     * smtp_received) and prints it for --verbose, credentials hidden. */
    curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
    curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, debug_cb);
    curl_easy_setopt(h, CURLOPT_DEBUGDATA, &s);

    CURLcode rc = curl_easy_perform(h);
    long oserr = 0;
    curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &oserr);
    if (rc == CURLE_OK && !s.auth_abort)
        status = report_sent(o, &s, from, rcpt);
    else
        status = report(o, &s, rc, oserr, errbuf, from);
out:
    curl_slist_free_all(rl);
    curl_easy_cleanup(h);
    return status;
}

/* Prepare, sign and submit one message. */
static int run(const struct send_opts *o, const struct cli_sign_args *sa, const char *from,
               const struct addrlist *to, const char *path)
{
    int status = EXIT_TROUBLE;
    struct cli_signer signer = {.n = 0};
    int sign = cli_sign_requested(sa);
    char *password = NULL;
    struct prepare p = {.need_from = from == NULL, .need_rcpt = to->n == 0, .envelope_from = from};
    addrlist_init(&p.from);
    addrlist_init(&p.sender);
    addrlist_init(&p.rcpt);
    FILE *spool1 = NULL, *spool2 = NULL;
    struct cli_input in = {.fd = -1, .spool = -1};
    struct msg_reader r;
    msg_reader_init(&r);

    if (sign && cli_signer_load(&signer, sa, PROG) < 0)
        goto out;
    if (o->password_file && read_password(o->password_file, &password) < 0)
        goto out;

    /* 1: prepare (Bcc out, Date and Message-ID in, envelope from the header) */
    if (!(spool1 = spool_new()) || cli_input_open(&in, path, 0) < 0)
        goto out;
    p.out = spool1;
    if (cli_input_read(&in, &r, prepare_headers, prepare_body, &p) < 0)
        goto out;
    if (p.write_error || fflush(spool1) != 0) {
        fprintf(stderr, PROG ": cannot write the spool file: %s\n", strerror(errno));
        goto out;
    }
    cli_input_close(&in);
    const struct addrlist *rcpt = to->n ? to : &p.rcpt;
    if (rcpt->n == 0) {
        fprintf(stderr, PROG ": no recipients: the message has no To, Cc or Bcc address; "
                             "give --to\n");
        goto out;
    }

    /* 2: sign what will be sent */
    FILE *msg = spool1;
    if (sign) {
        if (!(spool2 = spool_new()))
            goto out;
        in = (struct cli_input){
            .fd = dup(fileno(spool1)), .spool = -1, .rewind = 1, .name = "the message"};
        if (in.fd < 0 || lseek(in.fd, 0, SEEK_SET) < 0) {
            fprintf(stderr, PROG ": cannot reread the spool file: %s\n", strerror(errno));
            goto out;
        }
        if (cli_sign_input(&signer, &in, spool2, PROG) != EXIT_POSITIVE)
            goto out;
        cli_input_close(&in);
        msg = spool2;
    }
    rewind(msg);

    /* 3: submit */
    status = submit(o, msg, password, p.envelope_from, rcpt);
out:
    msg_reader_free(&r);
    cli_input_close(&in);
    if (spool1)
        fclose(spool1);
    if (spool2)
        fclose(spool2);
    addrlist_free(&p.from);
    addrlist_free(&p.sender);
    addrlist_free(&p.rcpt);
    wipe_free(password);
    cli_signer_free(&signer);
    return status;
}

/* ---- the command ---------------------------------------------------------- */

int cmd_send(int argc, char **argv)
{
    enum {
        OPT_SERVER = 256,
        OPT_STARTTLS,
        OPT_TLS,
        OPT_NOTLS,
        OPT_USER,
        OPT_PWFILE,
        OPT_CAFILE,
        OPT_INSECURE,
        OPT_FROM,
        OPT_TO,
        OPT_HELO,
        OPT_TIMEOUT,
        OPT_VERBOSE,
        OPT_JSON,
    };
    static const struct option longopts[] = {
        CLI_SIGN_LONGOPTS,
        {"server", required_argument, NULL, OPT_SERVER},
        {"starttls", no_argument, NULL, OPT_STARTTLS},
        {"tls", no_argument, NULL, OPT_TLS},
        {"no-tls", no_argument, NULL, OPT_NOTLS},
        {"user", required_argument, NULL, OPT_USER},
        {"password-file", required_argument, NULL, OPT_PWFILE},
        {"ca-file", required_argument, NULL, OPT_CAFILE},
        {"insecure", no_argument, NULL, OPT_INSECURE},
        {"from", required_argument, NULL, OPT_FROM},
        {"to", required_argument, NULL, OPT_TO},
        {"helo", required_argument, NULL, OPT_HELO},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"verbose", no_argument, NULL, OPT_VERBOSE},
        {"json", no_argument, NULL, OPT_JSON},
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct cli_sign_args sa;
    struct send_opts o = {.port = 0, .timeout = 60};
    const char *server = NULL, *from = NULL;
    int nmodes = 0, c;
    struct addrlist to, fromlist;
    addrlist_init(&to);
    addrlist_init(&fromlist);
    cli_sign_args_init(&sa);

    optind = 1;
    while ((c = getopt_long(argc, argv, CLI_SIGN_SHORTOPTS "c:h", longopts, NULL)) != -1) {
        int r = cli_sign_option(&sa, c, optarg, PROG);
        if (r < 0)
            goto usage_error;
        if (r > 0)
            continue;
        switch (c) {
        case OPT_SERVER:
            server = optarg;
            break;
        case OPT_STARTTLS:
        case OPT_TLS:
        case OPT_NOTLS:
            nmodes++;
            o.mode = c == OPT_STARTTLS ? 0 : c == OPT_TLS ? 1 : 2;
            break;
        case OPT_USER:
            o.user = optarg;
            break;
        case OPT_PWFILE:
            o.password_file = optarg;
            break;
        case OPT_CAFILE:
            o.ca_file = optarg;
            break;
        case OPT_INSECURE:
            o.insecure = 1;
            break;
        case OPT_FROM:
            from = optarg;
            break;
        case OPT_TO: {
            fa_err err;
            struct addrlist one;
            addrlist_init(&one);
            int rc = addrlist_parse(&one, optarg, strlen(optarg), &err);
            for (size_t i = 0; rc == 0 && i < one.n; i++)
                rc = addrlist_add(&to, one.addr[i], strlen(one.addr[i]), &err);
            if (rc < 0 || one.n == 0) {
                fprintf(stderr, PROG ": --to \"%s\": %s\n", optarg,
                        rc < 0 ? err.msg : "no address");
                addrlist_free(&one);
                goto usage_error;
            }
            addrlist_free(&one);
            break;
        }
        case OPT_HELO:
            o.helo = optarg;
            break;
        case OPT_TIMEOUT: {
            char *end;
            o.timeout = strtol(optarg, &end, 10);
            if (*end || end == optarg || o.timeout < 1 || o.timeout > 3600) {
                fprintf(stderr, PROG ": --timeout wants seconds (1-3600)\n");
                goto usage_error;
            }
            break;
        }
        case OPT_VERBOSE:
            o.verbose = 1;
            break;
        case OPT_JSON:
            o.json = 1;
            break;
        case 'c': {
            /* No send settings yet, but a bad file is an error everywhere. */
            struct fa_config cfg;
            if (cli_load_config(&cfg, optarg) < 0) {
                addrlist_free(&to);
                addrlist_free(&fromlist);
                return EXIT_TROUBLE;
            }
            config_free(&cfg);
            break;
        }
        case 'h':
            send_usage(stdout);
            addrlist_free(&to);
            addrlist_free(&fromlist);
            return EXIT_POSITIVE;
        default:
            send_usage(stderr);
            goto usage_error;
        }
    }
    if (!server) {
        fprintf(stderr, PROG ": --server HOST[:PORT] is required\n");
        goto usage_error;
    }
    if (nmodes > 1) {
        fprintf(stderr, PROG ": give one of --starttls, --tls and --no-tls\n");
        goto usage_error;
    }
    if (parse_server(server, o.host, sizeof(o.host), &o.port) < 0) {
        fprintf(stderr, PROG ": --server wants HOST[:PORT] or [IPV6]:PORT, not \"%s\"\n", server);
        goto usage_error;
    }
    if (o.port == 0)
        o.port = o.mode == 0 ? 587 : o.mode == 1 ? 465 : 25;
    if (!o.user != !o.password_file) {
        fprintf(stderr, PROG ": --user and --password-file go together\n");
        goto usage_error;
    }
    if (o.user && o.mode == 2 && !is_loopback(o.host)) {
        fprintf(stderr,
                PROG ": refusing to send a password without TLS to %s (--no-tls "
                     "with --user only for this host)\n",
                o.host);
        goto usage_error;
    }
    if (from) {
        fa_err err;
        int rc = addrlist_parse(&fromlist, from, strlen(from), &err);
        if (rc < 0 || fromlist.n != 1) {
            fprintf(stderr, PROG ": --from wants one address, not \"%s\": %s\n", from,
                    rc < 0       ? err.msg
                    : fromlist.n ? "several addresses"
                                 : "no address");
            goto usage_error;
        }
        from = fromlist.addr[0];
    }
    if (argc - optind > 1) {
        fprintf(stderr, PROG ": one message at a time\n");
        goto usage_error;
    }
    const char *path = optind < argc ? argv[optind] : NULL;

    int status = run(&o, &sa, from, &to, path);
    addrlist_free(&to);
    addrlist_free(&fromlist);
    return status;
usage_error:
    addrlist_free(&to);
    addrlist_free(&fromlist);
    return EXIT_TROUBLE;
}
