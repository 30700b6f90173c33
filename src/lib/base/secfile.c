/* secfile - read secrets and keys only from files others cannot read; see secfile.h. */
#include "secfile.h"

#include "fileread.h"

#include <string.h>

/* A secrets file is read as file_read reads one with FILE_SECRET: no link,
 * owned by root or the reader, not readable by others, not group-writable. */

void secfile_free(char *data, size_t len)
{
    file_free(data, len);
}

int secfile_read(const char *path, uid_t owner_uid, char **data, size_t *len, fa_err *err)
{
    return file_read(path, SECFILE_MAX, FILE_SECRET, owner_uid, data, len, err);
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
