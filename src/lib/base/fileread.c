/* fileread - whole files, bounded and checked on the descriptor; see fileread.h. */
#include "fileread.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
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
    if (flags & FILE_SECRET) {
        if (st->st_uid != 0 && st->st_uid != owner)
            return "must be owned by root or by the user that reads it";
        if (st->st_mode & (S_IROTH | S_IWOTH))
            return "is readable or writable by others (chmod o-rw)";
        if (st->st_mode & S_IWGRP)
            return "is writable by its group (chmod g-w)";
    }
    if (st->st_mode & S_IWOTH)
        return "is writable by others (chmod o-w)";
    return NULL;
}

/* Is dir (a folder) writable by others without the sticky bit? Then it
 * is copied into bad. */
static int open_folder(const char *dir, char *bad, size_t badsz)
{
    struct stat st;
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
        return 0;
    if (!(st.st_mode & S_IWOTH) || (st.st_mode & S_ISVTX))
        return 0;
    snprintf(bad, badsz, "%s", dir);
    return 1;
}

/* The first folder on the way to path that is open to others: each folder
 * in which a name of the path is looked up, "." or "/" first, then every
 * prefix that ends before a slash. stat follows links, so a prefix that
 * is a link is judged by the folder it leads to, where the next name is
 * looked up. Returns 1 with the folder in bad. */
static int open_folder_on(const char *path, char *bad, size_t badsz)
{
    size_t n = strlen(path);
    char dir[PATH_MAX];
    if (n == 0 || n >= sizeof(dir))
        return 0;
    if (open_folder(path[0] == '/' ? "/" : ".", bad, badsz))
        return 1;
    for (size_t i = 1; i < n; i++) {
        if (path[i] != '/' || path[i - 1] == '/')
            continue;
        memcpy(dir, path, i);
        dir[i] = '\0';
        if (open_folder(dir, bad, badsz))
            return 1;
    }
    return 0;
}

/* As open_folder_on, for the path as written and, when links lead
 * elsewhere, for the path they resolve to. */
static int unsafe_folder(const char *path, char *bad, size_t badsz)
{
    if (open_folder_on(path, bad, badsz))
        return 1;
    char real[PATH_MAX];
    if (realpath(path, real) && strcmp(real, path) != 0)
        return open_folder_on(real, bad, badsz);
    return 0;
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
    char bad[PATH_MAX];
    if (unsafe_folder(path, bad, sizeof(bad))) {
        close(fd);
        return fa_err_set(err,
                          "refusing %s: the folder %s is writable by others without the sticky "
                          "bit, so anyone could replace the file (chmod o-w %s)",
                          path, bad, bad);
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
