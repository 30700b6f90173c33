/* sockio - writes to a client socket; see sockio.h. */
#include "sockio.h"

#include "monoclock.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>

int sockio_send_all(int fd, const uint8_t *p, size_t n, long timeout_ms)
{
    int64_t deadline = -1; /* taken at the first wait: most replies never wait */
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w >= 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -1;
        /* The socket buffer is full: wait, within what is left. */
        int64_t now = monoclock_ms();
        if (deadline < 0)
            deadline = now + (timeout_ms > 0 ? timeout_ms : 0);
        if (now >= deadline) {
            errno = ETIMEDOUT;
            return -1;
        }
        struct pollfd pfd = {fd, POLLOUT, 0};
        int r = poll(&pfd, 1, (int)(deadline - now));
        if (r < 0 && errno != EINTR)
            return -1;
    }
    return 0;
}
