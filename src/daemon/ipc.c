/* ipc - messages between fwdauthd's processes; see ipc.h. */
#include "ipc.h"

#include "keys.h"
#include "netint.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define IPC_MAGIC 'F'
#define IPC_VERSION 1

/* Text payloads: no control octets (they would reach a log line). */
static int text_ok(const uint8_t *p, size_t n)
{
    if (n > IPC_TEXT_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x20 || p[i] == 0x7f)
            return 0;
    return 1;
}

/* The rules of ipc.h for one message; 0 good, -1 not. */
static int check(const struct ipc_msg *m)
{
    if (m->arg < 0 || m->arg > 255 || m->len > IPC_PATH_MAX || (m->len && !m->data))
        return -1;
    switch (m->type) {
    case IPC_DESCRIBE:
        return m->len >= 1 && !memchr(m->data, 0, m->len) ? 0 : -1;
    case IPC_DESCRIBED:
        return m->len == 2 && (m->arg == KEY_RSA || m->arg == KEY_ED25519) ? 0 : -1;
    case IPC_SIGN:
        return m->arg == KEY_MD_SHA256 && m->len == 32 ? 0 : -1;
    case IPC_SIGNED:
        return m->len >= 1 && m->len <= KEY_SIG_MAX ? 0 : -1;
    case IPC_FAIL:
    case IPC_ERROR:
    case IPC_NO_SIGNER:
        return text_ok(m->data, m->len) ? 0 : -1;
    case IPC_HANDOFF:
        return m->len == 0 ? 0 : -1; /* arg: a listener kind, judged by the receiver */
    case IPC_READY:
    case IPC_NEED_SIGNER:
    case IPC_SIGNER:
    case IPC_CLIENT:
        return m->len == 0 ? 0 : -1;
    default:
        return -1;
    }
}

int ipc_decode(const uint8_t *p, size_t n, struct ipc_msg *m)
{
    if (n < IPC_HEADER || p[0] != IPC_MAGIC || p[1] != IPC_VERSION)
        return -1;
    size_t len = (size_t)p[12] << 8 | p[13];
    if (len != n - IPC_HEADER)
        return -1;
    *m = (struct ipc_msg){
        .type = p[2],
        .arg = p[3],
        .id = netint_get32(p + 4),
        .key = netint_get32(p + 8),
        .data = p + IPC_HEADER,
        .len = len,
    };
    return check(m);
}

long ipc_encode(const struct ipc_msg *m, uint8_t *out, size_t outsz)
{
    if (check(m) < 0 || outsz < IPC_HEADER + m->len)
        return -1;
    out[0] = IPC_MAGIC;
    out[1] = IPC_VERSION;
    out[2] = (uint8_t)m->type;
    out[3] = (uint8_t)m->arg;
    netint_put32(out + 4, m->id);
    netint_put32(out + 8, m->key);
    out[12] = (uint8_t)(m->len >> 8);
    out[13] = (uint8_t)m->len;
    if (m->len)
        memcpy(out + IPC_HEADER, m->data, m->len);
    return (long)(IPC_HEADER + m->len);
}

int ipc_send(int fd, const struct ipc_msg *m, int pass_fd)
{
    uint8_t buf[IPC_PACKET_MAX];
    long n = ipc_encode(m, buf, sizeof(buf));
    if (n < 0) {
        errno = EMSGSIZE;
        return -1;
    }
    struct iovec iov = {buf, (size_t)n};
    union {
        struct cmsghdr h;
        char space[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (pass_fd >= 0) {
        memset(&ctl, 0, sizeof(ctl));
        mh.msg_control = ctl.space;
        mh.msg_controllen = sizeof(ctl.space);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
    }
    for (;;) {
        ssize_t w = sendmsg(fd, &mh, MSG_NOSIGNAL);
        if (w == n)
            return 0;
        if (w < 0 && errno == EINTR)
            continue;
        if (w >= 0)
            errno = EMSGSIZE; /* a packet socket sends all or nothing */
        return -1;
    }
}

/* Close every descriptor in the control data of mh; return the first one
 * (still open) when keep_first, else -1. */
static int take_fds(struct msghdr *mh, int keep_first)
{
    int first = -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < nfd; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (keep_first && first < 0)
                first = fd;
            else
                close(fd);
        }
    }
    return first;
}

int ipc_recv(int fd, uint8_t *buf, struct ipc_msg *m, int *passed)
{
    *passed = -1;
    union {
        struct cmsghdr h;
        char space[CMSG_SPACE(4 * sizeof(int))];
    } ctl;
    struct iovec iov = {buf, IPC_PACKET_MAX};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.space, .msg_controllen = sizeof(ctl)};
    ssize_t n;
    do
        n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -1;
    if (n == 0 && mh.msg_controllen == 0)
        return 0;
    int bad = (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || ipc_decode(buf, (size_t)n, m) < 0;
    int got = take_fds(&mh, !bad);
    if (bad) {
        errno = EBADMSG;
        return -1;
    }
    *passed = got;
    return 1;
}

int ipc_send_text(int fd, int type, uint32_t id, const char *text)
{
    uint8_t t[IPC_TEXT_MAX];
    size_t n = strlen(text);
    if (n > sizeof(t))
        n = sizeof(t);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)text[i];
        t[i] = c < 0x20 || c == 0x7f ? '?' : c;
    }
    struct ipc_msg m = {.type = type, .id = id, .data = t, .len = n};
    return ipc_send(fd, &m, -1);
}
