/* Unit tests for listen and listenaddr: Postfix address syntax, refusals,
 * format/parse round trips, real sockets (inet on a kernel-chosen port, unix
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

static void test_good(void **state)
{
    (void)state;
    struct listen_addr a;
    fa_err err;
    assert_int_equal(parse("inet:127.0.0.1:10001", &a, &err), 0);
    assert_int_equal(a.kind, LISTEN_INET);
    assert_string_equal(a.host, "127.0.0.1");
    assert_int_equal(a.port, 10001);
    assert_int_equal(parse("inet:[::1]:25", &a, &err), 0);
    assert_int_equal(a.kind, LISTEN_INET);
    assert_string_equal(a.host, "::1");
    assert_int_equal(a.port, 25);
    assert_int_equal(parse("inet:localhost:65535", &a, &err), 0);
    assert_string_equal(a.host, "localhost");
    assert_int_equal(parse("inet:10002", &a, &err), 0);
    assert_int_equal(a.kind, LISTEN_INET_ANY);
    assert_int_equal(a.port, 10002);
    assert_int_equal(parse("unix:/run/fwdauth/srs.sock", &a, &err), 0);
    assert_int_equal(a.kind, LISTEN_UNIX);
    assert_string_equal(a.path, "/run/fwdauth/srs.sock");
}

static void test_bad(void **state)
{
    (void)state;
    struct listen_addr a;
    fa_err err;
    const char *bad[] = {
        "",
        "inet:",
        "inet:127.0.0.1:",
        "inet:127.0.0.1:0",
        "inet:127.0.0.1:65536",
        "inet:127.0.0.1:123456",
        "inet:127.0.0.1:01",
        "inet:127.0.0.1:port",
        "inet::1:25",
        "inet:[::1]25",
        "inet:[]:25",
        "inet:[::1",
        "inet::25",
        "inet:host name:25",
        "inet:h\x01:25",
        "tcp:127.0.0.1:25",
        "127.0.0.1:25",
        "unix:",
        "unix:relative/path",
        "unix:/has space",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err.msg[0] = '\0';
        assert_int_equal(parse(bad[i], &a, &err), -1);
        assert_true(err.msg[0] != '\0');
    }
    char longpath[200] = "unix:/";
    memset(longpath + 6, 'a', 150);
    longpath[156] = '\0';
    assert_int_equal(parse(longpath, &a, &err), -1);
    assert_non_null(strstr(err.msg, "longer"));
}

static void test_format_round_trip(void **state)
{
    (void)state;
    const char *in[] = {"inet:127.0.0.1:10001", "inet:[::1]:25", "inet:10002", "unix:/tmp/x.sock",
                        "inet:mail.example.org:587"};
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        struct listen_addr a, b;
        fa_err err;
        char out[400];
        assert_int_equal(parse(in[i], &a, &err), 0);
        assert_true(listen_format(&a, out, sizeof(out)) > 0);
        assert_string_equal(out, in[i]);
        assert_int_equal(parse(out, &b, &err), 0);
        assert_memory_equal(&a, &b, sizeof(a));
    }
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

static void test_parse_port(void **state)
{
    (void)state;
    unsigned p = 0;
    assert_int_equal(listen_parse_port("1", 1, &p), 0);
    assert_int_equal(p, 1);
    assert_int_equal(listen_parse_port("65535", 5, &p), 0);
    assert_int_equal(p, 65535);
    assert_int_equal(listen_parse_port("65536", 5, &p), -1);
    assert_int_equal(listen_parse_port("0", 1, &p), -1);
    assert_int_equal(listen_parse_port("053", 3, &p), -1);
    assert_int_equal(listen_parse_port("", 0, &p), -1);
    assert_int_equal(listen_parse_port("5x", 2, &p), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_format_round_trip),
        cmocka_unit_test(test_open_inet),
        cmocka_unit_test(test_open_unix),
        cmocka_unit_test(test_probe_inet),
        cmocka_unit_test(test_probe_unix),
        cmocka_unit_test(test_parse_port),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
