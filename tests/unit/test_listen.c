/* Unit tests for listen (the address syntax is test_listenaddr.c's): real
 * sockets (inet on a kernel-chosen port, unix
 * with a stale socket file and mode 0666), and listen_probe (fwdauthd -t):
 * bindable, in use, not bindable, for inet and unix addresses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "listen.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int parse(const char *s, struct listen_addr *a, fa_err *err)
{
    return listen_parse(s, strlen(s), a, err);
}

static void test_open_inet(void **state)
{
    (void)state;
    /* A port the kernel picked, released again, then bound by listen_open. */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
    assert_int_equal(bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
    socklen_t sl = sizeof(sin);
    getsockname(s, (struct sockaddr *)&sin, &sl);
    close(s);
    char text[64];
    snprintf(text, sizeof(text), "inet:127.0.0.1:%u", (unsigned)ntohs(sin.sin_port));
    struct listen_addr a;
    fa_err err;
    assert_int_equal(parse(text, &a, &err), 0);
    int fd = listen_open(&a, &err);
    if (fd < 0)
        fail_msg("listen_open: %s", err.msg);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(c, (struct sockaddr *)&sin, sizeof(sin)), 0);
    close(c);
    /* a second bind of the same address fails with a message naming it */
    assert_int_equal(listen_open(&a, &err), -1);
    assert_non_null(strstr(err.msg, text));
    close(fd);
}

static void test_open_unix(void **state)
{
    (void)state;
    char dir[] = "/tmp/fwdauth-listen-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char text[200], path[150];
    snprintf(path, sizeof(path), "%s/s.sock", dir);
    snprintf(text, sizeof(text), "unix:%s", path);
    struct listen_addr a;
    fa_err err;
    assert_int_equal(parse(text, &a, &err), 0);

    /* a stale socket file (bound, never listened, closed) is replaced */
    int st = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    strcpy(sun.sun_path, path);
    assert_int_equal(bind(st, (struct sockaddr *)&sun, sizeof(sun)), 0);
    close(st);
    int fd = listen_open(&a, &err);
    if (fd < 0)
        fail_msg("listen_open: %s", err.msg);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0666);
    /* a live socket is not taken over */
    assert_int_equal(listen_open(&a, &err), -1);
    assert_non_null(strstr(err.msg, "another process"));
    close(fd);
    unlink(path);

    /* a regular file is never removed */
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(listen_open(&a, &err), -1);
    assert_non_null(strstr(err.msg, "not a socket"));
    assert_int_equal(stat(path, &sb), 0);
    unlink(path);
    rmdir(dir);
}

/* A port the kernel picked on 127.0.0.1, released again. */
static unsigned free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
    assert_int_equal(bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
    socklen_t sl = sizeof(sin);
    getsockname(s, (struct sockaddr *)&sin, &sl);
    close(s);
    return ntohs(sin.sin_port);
}

static void test_probe_inet(void **state)
{
    (void)state;
    char text[64];
    snprintf(text, sizeof(text), "inet:127.0.0.1:%u", free_port());
    struct listen_addr a;
    fa_err err;
    assert_int_equal(parse(text, &a, &err), 0);
    assert_int_equal(listen_probe(&a, &err), 0);
    /* the probe let go: the daemon can still bind it */
    int fd = listen_open(&a, &err);
    assert_true(fd >= 0);
    /* a running daemon holds it: "in use", not an error */
    assert_int_equal(listen_probe(&a, &err), LISTEN_IN_USE);
    assert_non_null(strstr(err.msg, text));
    assert_non_null(strstr(err.msg, "already listens"));
    close(fd);
    /* an address this host does not have (TEST-NET-1) */
    snprintf(text, sizeof(text), "inet:192.0.2.1:%u", free_port());
    assert_int_equal(parse(text, &a, &err), 0);
    err.msg[0] = '\0';
    assert_int_equal(listen_probe(&a, &err), -1);
    assert_non_null(strstr(err.msg, text));
    assert_non_null(strstr(err.msg, strerror(EADDRNOTAVAIL)));
    /* a host name that does not resolve */
    assert_int_equal(parse("inet:no-such-host.invalid:10001", &a, &err), 0);
    assert_int_equal(listen_probe(&a, &err), -1);
    assert_non_null(strstr(err.msg, "cannot resolve"));
}

static void test_probe_unix(void **state)
{
    (void)state;
    char dir[] = "/tmp/fwdauth-probe-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char text[200], path[150];
    snprintf(path, sizeof(path), "%s/s.sock", dir);
    snprintf(text, sizeof(text), "unix:%s", path);
    struct listen_addr a;
    fa_err err;
    assert_int_equal(parse(text, &a, &err), 0);
    /* nothing there: bindable, and the probe leaves nothing behind */
    assert_int_equal(listen_probe(&a, &err), 0);
    struct stat sb;
    assert_int_equal(stat(path, &sb), -1);
    DIR *d = opendir(dir);
    assert_non_null(d);
    int entries = 0;
    for (struct dirent *e; (e = readdir(d));)
        entries += e->d_name[0] != '.' || strncmp(e->d_name, ".fwdauthd-t", 11) == 0;
    closedir(d);
    assert_int_equal(entries, 0);
    /* a live socket: in use */
    int fd = listen_open(&a, &err);
    assert_true(fd >= 0);
    assert_int_equal(listen_probe(&a, &err), LISTEN_IN_USE);
    assert_non_null(strstr(err.msg, "another process"));
    /* the same file, no longer listened on: stale, bindable */
    close(fd);
    assert_int_equal(listen_probe(&a, &err), 0);
    unlink(path);
    /* a regular file: listen_open would refuse it */
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(listen_probe(&a, &err), -1);
    assert_non_null(strstr(err.msg, "not a socket"));
    unlink(path);
    /* a folder that does not exist */
    snprintf(text, sizeof(text), "unix:%s/nope/s.sock", dir);
    assert_int_equal(parse(text, &a, &err), 0);
    assert_int_equal(listen_probe(&a, &err), -1);
    assert_non_null(strstr(err.msg, "cannot create a socket in"));
    assert_non_null(strstr(err.msg, strerror(ENOENT)));
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_inet),
        cmocka_unit_test(test_open_unix),
        cmocka_unit_test(test_probe_inet),
        cmocka_unit_test(test_probe_unix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
