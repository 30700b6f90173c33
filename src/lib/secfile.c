/* secfile - read secrets and keys only from files others cannot read; see secfile.h. */
#include "secfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void secfile_free(char *data, size_t len)
{
    if (data) {
        /* explicit_bzero is not optimized away, unlike memset before free. */
        explicit_bzero(data, len);
        free(data);
    }
}

int secfile_read(const char *path, uid_t owner_uid, char **data, size_t *len, fa_err *err)
{
    *data = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return fa_err_errno(err, errno, "cannot open %s", path);
    /* Check the file we opened, not the name: no race with a swapped file. */
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return fa_err_errno(err, e, "cannot stat %s", path);
    }
    const char *problem = NULL;
    if (!S_ISREG(st.st_mode))
        problem = "is not a regular file";
    else if (st.st_uid != 0 && st.st_uid != owner_uid)
        problem = "must be owned by root or by the user that reads it";
    else if (st.st_mode & (S_IROTH | S_IWOTH))
        problem = "is readable or writable by others (chmod o-rw)";
    else if (st.st_mode & S_IWGRP)
        problem = "is writable by its group (chmod g-w)";
    else if (st.st_size > SECFILE_MAX)
        problem = "is too large for a secrets file";
    if (problem) {
        close(fd);
        return fa_err_set(err, "refusing %s: it %s", path, problem);
    }
    size_t size = (size_t)st.st_size;
    char *buf = malloc(size + 1);
    if (!buf) {
        close(fd);
        return fa_err_set(err, "out of memory");
    }
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            secfile_free(buf, size + 1);
            close(fd);
            return fa_err_errno(err, e, "cannot read %s", path);
        }
        if (n == 0)
            break; /* shrank while reading: take what is there */
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    *data = buf;
    *len = got;
    return 0;
}

int secfile_lines(const char *data, size_t len, const char **lines, size_t *lens, size_t max)
{
    size_t n = 0;
    for (const char *line = data, *next; line < data + len; line = next) {
        const char *nl = memchr(line, '\n', (size_t)(data + len - line));
        next = nl ? nl + 1 : data + len;
        size_t l = (size_t)((nl ? nl : data + len) - line);
        if (l > 0 && line[l - 1] == '\r')
            l--;
        if (l == 0)
            continue;
        if (n == max)
            return -1;
        lines[n] = line;
        lens[n++] = l;
    }
    return (int)n;
}
