/*
 * quickack_preload - LD_PRELOAD experiment for bench/milter.sh: re-arm
 * TCP_QUICKACK around every read()/recv() of the process, so that fwdauthd
 * acknowledges the MTA's milter packets at once. fwdauthd asks Postfix for
 * no replies to headers and body (SMFIP_NR_*), so it sends nothing until end
 * of message and Linux delays its ACK (~40 ms); Postfix's small end-of-message
 * packet waits for that ACK (Nagle). Not part of fwdauthd: it shows what the
 * same change in src/daemon/milter_conn.c would give.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

static void quickack(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
}

ssize_t recv(int fd, void *buf, size_t n, int flags)
{
    static ssize_t (*real)(int, void *, size_t, int);
    if (!real)
        real = (ssize_t(*)(int, void *, size_t, int))dlsym(RTLD_NEXT, "recv");
    quickack(fd);
    ssize_t r = real(fd, buf, n, flags);
    quickack(fd);
    return r;
}

ssize_t read(int fd, void *buf, size_t n)
{
    static ssize_t (*real)(int, void *, size_t);
    if (!real)
        real = (ssize_t(*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
    quickack(fd);
    ssize_t r = real(fd, buf, n);
    quickack(fd);
    return r;
}
