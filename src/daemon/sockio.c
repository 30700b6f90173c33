/* sockio - writes to a client socket; see sockio.h. */
#include "sockio.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/types.h>

int sockio_send_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}
