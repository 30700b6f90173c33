/* fileread - whole files, bounded and checked on the descriptor; see fileread.h. */
#include "fileread.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void file_free(char *data, size_t len)
{
    if (data) {
        explicit_bzero(data, len + 1);
        free(data);
    }
}

/* What is wrong with the (regular) file we opened, or NULL. */
static const char *problem(const struct stat *st, unsigned flags, uid_t owner)
{
    if (!(flags & FILE_SECRET))
        return NULL;
    if (st->st_uid != 0 && st->st_uid != owner)
        return "must be owned by root or by the user that reads it";
    if (st->st_mode & (S_IROTH | S_IWOTH))
        return "is readable or writable by others (chmod o-rw)";
    if (st->st_mode & S_IWGRP)
        return "is writable by its group (chmod g-w)";
    return NULL;
}

int file_read(const char *path, size_t max, unsigned flags, uid_t owner, char **data, size_t *len,
              fa_err *err)
{
    *data = NULL;
    *len = 0;
    int oflags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
    if (flags & FILE_SECRET)
        oflags |= O_NOFOLLOW;
    int fd = open(path, oflags);
    if (fd < 0) {
        if (errno == ELOOP && (flags & FILE_SECRET))
            return fa_err_set(err, "refusing %s: it is a symbolic link", path);
        return fa_err_errno(err, errno, "cannot open %s", path);
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return fa_err_errno(err, e, "cannot stat %s", path);
    }
    if (S_ISREG(st.st_mode) && (unsigned long long)st.st_size > max) {
        close(fd);
        return fa_err_set(err, "refusing %s: it is larger than %zu bytes", path, max);
    }
    const char *why = S_ISREG(st.st_mode) ? problem(&st, flags, owner) : "is not a regular file";
    if (why) {
        close(fd);
        return fa_err_set(err, "refusing %s: it %s", path, why);
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
            file_free(buf, size);
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
