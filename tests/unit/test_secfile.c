/* Unit tests for secfile: permissions that make a secrets file unsafe are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "secfile.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/fwdauth-secfile-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    assert_int_equal(chmod(path, mode), 0);
}

static void test_modes(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/secret", dir);
    char *data;
    size_t len;
    fa_err err;
    write_file(path, "s3cret\n", 0600);
    assert_int_equal(secfile_read(path, geteuid(), &data, &len, &err), 0);
    assert_int_equal(len, 7);
    assert_memory_equal(data, "s3cret\n", 7);
    secfile_free(data, len);

    write_file(path, "s3cret\n", 0640); /* group-readable is allowed */
    assert_int_equal(secfile_read(path, geteuid(), &data, &len, &err), 0);
    secfile_free(data, len);

    static const mode_t refused[] = {0644, 0604, 0602, 0660, 0666};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        write_file(path, "s3cret\n", refused[i]);
        assert_int_equal(secfile_read(path, geteuid(), &data, &len, &err), -1);
        assert_null(data);
        assert_non_null(strstr(err.msg, path));
        assert_null(strstr(err.msg, "s3cret")); /* never the contents */
    }
    assert_int_equal(secfile_read(dir, geteuid(), &data, &len, &err), -1);
    assert_int_equal(secfile_read("/nonexistent/x", geteuid(), &data, &len, &err), -1);
}

static void test_owner(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    char path[128];
    snprintf(path, sizeof(path), "%s/owned", dir);
    write_file(path, "k\n", 0600);
    char *data;
    size_t len;
    fa_err err;
    /* Owned by nobody (65534): fine for nobody, refused for another user. */
    assert_int_equal(chown(path, 65534, 65534), 0);
    assert_int_equal(secfile_read(path, 65534, &data, &len, &err), 0);
    secfile_free(data, len);
    assert_int_equal(secfile_read(path, 1234, &data, &len, &err), -1);
    assert_non_null(strstr(err.msg, "owned by root"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_modes),
        cmocka_unit_test(test_owner),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
