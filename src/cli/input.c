/* input - one streaming pass over a message, then its original bytes; see input.h. */
#include "input.h"
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define INPUT_CHUNK 65536

int cli_input_open(struct cli_input *in, const char *path, int rewind)
{
    in->spool = -1;
    in->rewind = rewind;
    if (!path || strcmp(path, "-") == 0) {
        in->fd = 0;
        in->name = "standard input";
    } else {
        in->name = path;
        in->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (in->fd < 0) {
            fprintf(stderr, "%s: cannot open %s: %s\n", cli_prog, path, strerror(errno));
            return -1;
        }
    }
    struct stat st;
    if (rewind && (fstat(in->fd, &st) < 0 || !S_ISREG(st.st_mode))) {
        const char *dir = getenv("TMPDIR");
        if (!dir || !dir[0])
            dir = "/tmp";
        in->spool = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (in->spool < 0) {
            char tmpl[4096];
            snprintf(tmpl, sizeof(tmpl), "%s/fwdauth-spool-XXXXXX", dir);
            in->spool = mkstemp(tmpl);
            if (in->spool >= 0)
                unlink(tmpl);
        }
        if (in->spool < 0) {
            fprintf(stderr, "%s: cannot make a spool file: %s\n", cli_prog, strerror(errno));
            cli_input_close(in);
            return -1;
        }
    }
    return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int cli_input_read(struct cli_input *in, struct msg_reader *r, cli_headers_fn headers,
                   cli_body_fn body, void *ctx)
{
    uint8_t *buf = malloc(INPUT_CHUNK);
    if (!buf) {
        fprintf(stderr, "%s: out of memory\n", cli_prog);
        return -1;
    }
    int rc = 0;
    for (;;) {
        ssize_t n = read(in->fd, buf, INPUT_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "%s: cannot read %s: %s\n", cli_prog, in->name, strerror(errno));
            rc = -1;
            break;
        }
        if (n == 0)
            break;
        if (in->spool >= 0 && write_all(in->spool, buf, (size_t)n) < 0) {
            fprintf(stderr, "%s: cannot write the spool file: %s\n", cli_prog, strerror(errno));
            rc = -1;
            break;
        }
        size_t used = 0;
        if (r->state == MSG_HEADERS) {
            fa_err err;
            used = msg_reader_feed(r, buf, (size_t)n, &err);
            if (used == (size_t)-1) {
                fprintf(stderr, "%s: %s: %s\n", cli_prog, in->name, err.msg);
                rc = -1;
                break;
            }
            if (r->state == MSG_BODY && headers && headers(ctx, r) < 0) {
                rc = -1;
                break;
            }
        }
        if (r->state == MSG_BODY && used < (size_t)n)
            body(ctx, buf + used, (size_t)n - used);
    }
    free(buf);
    if (rc == 0 && r->state == MSG_HEADERS) {
        fa_err err;
        if (msg_reader_eof(r, &err) < 0) {
            fprintf(stderr, "%s: %s: %s\n", cli_prog, in->name, err.msg);
            rc = -1;
        } else if (headers && headers(ctx, r) < 0) {
            rc = -1;
        }
    }
    return rc;
}

int cli_input_copy(struct cli_input *in, FILE *out)
{
    int fd = in->spool >= 0 ? in->spool : in->fd;
    if (lseek(fd, 0, SEEK_SET) < 0) {
        fprintf(stderr, "%s: cannot rewind %s: %s\n", cli_prog, in->name, strerror(errno));
        return -1;
    }
    uint8_t *buf = malloc(INPUT_CHUNK);
    if (!buf)
        return -1;
    int rc = 0;
    for (;;) {
        ssize_t n = read(fd, buf, INPUT_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n < 0 ? -1 : 0;
            break;
        }
        if (fwrite(buf, 1, (size_t)n, out) != (size_t)n) {
            rc = -1;
            break;
        }
    }
    free(buf);
    if (rc < 0)
        fprintf(stderr, "%s: cannot copy %s: %s\n", cli_prog, in->name, strerror(errno));
    return rc;
}

void cli_input_close(struct cli_input *in)
{
    if (in->spool >= 0)
        close(in->spool);
    if (in->fd > 0)
        close(in->fd);
    in->spool = -1;
    in->fd = -1;
}
