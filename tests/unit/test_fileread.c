/* Unit tests for fileread: bounds, file types, links, ownership and modes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fileread.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/fwdauth-fileread-XXXXXX";

static const char *path_of(const char *name)
{
    static char p[256];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    return p;
}

static void write_file(const char *name, const char *text, mode_t mode)
{
    const char *p = path_of(name);
    unlink(p);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    assert_int_equal(chmod(p, mode), 0);
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_plain(void **state)
{
    (void)state;
    char *d;
    size_t n;
    fa_err err;
    write_file("a", "hello\n", 0644);
    assert_int_equal(file_read(path_of("a"), 100, 0, 0, &d, &n, &err), 0);
    assert_int_equal(n, 6);
    assert_string_equal(d, "hello\n"); /* NUL-terminated */
    file_free(d, n);
    /* Over the bound: refused, saying so. */
    assert_int_equal(file_read(path_of("a"), 5, 0, 0, &d, &n, &err), -1);
    assert_null(d);
    assert_non_null(strstr(err.msg, "larger than 5 bytes"));
    /* Missing, a directory. */
    assert_int_equal(file_read(path_of("none"), 100, 0, 0, &d, &n, &err), -1);
    assert_non_null(strstr(err.msg, "cannot open"));
    assert_int_equal(file_read(dir, 100, 0, 0, &d, &n, &err), -1);
    assert_non_null(strstr(err.msg, "not a regular file"));
}

static void test_fifo_does_not_block(void **state)
{
    (void)state;
    char *d;
    size_t n;
    fa_err err;
    const char *p = path_of("fifo");
    assert_int_equal(mkfifo(p, 0600), 0);
    /* No writer: a blocking open would hang here forever. */
    assert_int_equal(file_read(p, 100, FILE_SECRET, getuid(), &d, &n, &err), -1);
    assert_non_null(strstr(err.msg, "not a regular file"));
    assert_int_equal(file_read(p, 100, 0, 0, &d, &n, &err), -1);
}

static void test_secret(void **state)
{
    (void)state;
    char *d;
    size_t n;
    fa_err err;
    write_file("s", "s3cret\n", 0640);
    assert_int_equal(file_read(path_of("s"), 100, FILE_SECRET, getuid(), &d, &n, &err), 0);
    file_free(d, n);
    write_file("s", "s3cret\n", 0644);
    assert_int_equal(file_read(path_of("s"), 100, FILE_SECRET, getuid(), &d, &n, &err), -1);
    assert_non_null(strstr(err.msg, "readable or writable by others"));
    assert_null(strstr(err.msg, "s3cret"));
    write_file("s", "s3cret\n", 0660);
    assert_int_equal(file_read(path_of("s"), 100, FILE_SECRET, getuid(), &d, &n, &err), -1);
    assert_non_null(strstr(err.msg, "writable by its group"));
    /* A link to a good secret: refused for secrets, followed otherwise. */
    write_file("s", "s3cret\n", 0600);
    char target[256];
    snprintf(target, sizeof(target), "%s", path_of("s"));
    assert_int_equal(symlink(target, path_of("link")), 0);
    assert_int_equal(file_read(path_of("link"), 100, FILE_SECRET, getuid(), &d, &n, &err), -1);
    assert_non_null(strstr(err.msg, "symbolic link"));
    assert_int_equal(file_read(path_of("link"), 100, 0, 0, &d, &n, &err), 0);
    file_free(d, n);
    /* Owned by someone else (root may chown; others skip this part). */
    if (geteuid() == 0) {
        assert_int_equal(chown(path_of("s"), 12345, 0), 0);
        assert_int_equal(file_read(path_of("s"), 100, FILE_SECRET, 0, &d, &n, &err), -1);
        assert_non_null(strstr(err.msg, "must be owned by root or by the user"));
        assert_int_equal(file_read(path_of("s"), 100, FILE_SECRET, 12345, &d, &n, &err), 0);
        file_free(d, n);
    }
}

/* Files writable by others, and files in folders writable by others
 * without the sticky bit (or reached through one, or through a link into
 * one), are refused, secret or not; the sticky bit (as on /tmp) and a
 * group-writable folder are fine. */
static void test_open_folders(void **state)
{
    (void)state;
    char *d;
    size_t n;
    fa_err err;
    /* Writable by others. */
    write_file("w", "x = 1\n", 0646);
    assert_int_equal(file_read(path_of("w"), 100, 0, 0, &d, &n, &err), -1);
    assert_non_null(strstr(err.msg, "writable by others (chmod o-w)"));

    /* A folder open to all, without the sticky bit: config and secret refused. */
    assert_int_equal(mkdir(path_of("open"), 0700), 0);
    assert_int_equal(chmod(path_of("open"), 0777), 0);
    write_file("open/c", "x = 1\n", 0644);
    write_file("open/s", "s3cret\n", 0600);
    char want[400];
    snprintf(want, sizeof(want), "the folder %s is writable by others without the sticky bit",
             path_of("open"));
    assert_int_equal(file_read(path_of("open/c"), 100, 0, 0, &d, &n, &err), -1);
    assert_non_null(strstr(err.msg, want));
    assert_non_null(strstr(err.msg, "chmod o-w"));
    assert_null(d);
    assert_int_equal(file_read(path_of("open/s"), 100, FILE_SECRET, getuid(), &d, &n, &err), -1);
    assert_non_null(strstr(err.msg, want));
    assert_null(strstr(err.msg, "s3cret"));

    /* Deeper: a safe folder inside the open one is still reachable by
     * renaming it; the open ancestor is named. */
    assert_int_equal(mkdir(path_of("open/sub"), 0755), 0);
    write_file("open/sub/c", "x = 1\n", 0644);
    assert_int_equal(file_read(path_of("open/sub/c"), 100, 0, 0, &d, &n, &err), -1);
    assert_non_null(strstr(err.msg, want));

    /* A link from a safe folder to a file in the open one. */
    char target[256];
    snprintf(target, sizeof(target), "%s", path_of("open/c"));
    assert_int_equal(symlink(target, path_of("tolink")), 0);
    assert_int_equal(file_read(path_of("tolink"), 100, 0, 0, &d, &n, &err), -1);
    assert_non_null(strstr(err.msg, want));

    /* A relative path: "." and its prefixes are looked at too. */
    char cwd[512];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(path_of("open")), 0);
    assert_int_equal(file_read("c", 100, 0, 0, &d, &n, &err), -1);
    assert_non_null(strstr(err.msg, "the folder . is writable by others"));
    assert_int_equal(chdir(dir), 0);
    assert_int_equal(file_read("open/c", 100, 0, 0, &d, &n, &err), -1);
    assert_non_null(strstr(err.msg, "the folder open is writable by others"));
    assert_int_equal(chdir(cwd), 0);

    /* The sticky bit (as /tmp), or group-writable only: accepted. */
    assert_int_equal(chmod(path_of("open"), 01777), 0);
    assert_int_equal(file_read(path_of("open/c"), 100, 0, 0, &d, &n, &err), 0);
    file_free(d, n);
    assert_int_equal(file_read(path_of("open/s"), 100, FILE_SECRET, getuid(), &d, &n, &err), 0);
    file_free(d, n);
    assert_int_equal(file_read(path_of("tolink"), 100, 0, 0, &d, &n, &err), 0);
    file_free(d, n);
    assert_int_equal(chmod(path_of("open"), 0775), 0);
    assert_int_equal(file_read(path_of("open/sub/c"), 100, 0, 0, &d, &n, &err), 0);
    file_free(d, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_fifo_does_not_block),
        cmocka_unit_test(test_secret),
        cmocka_unit_test(test_open_folders),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
