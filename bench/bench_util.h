/*
 * NAME
 *   bench_util - what the in-process benchmark drivers share
 * SUMMARY
 *   bench_read_file: a whole file into memory (malloc'd; NULL when it cannot
 *   be read). Header-only: each driver is one source file. The clock is
 *   libfwdauth's monoclock.h.
 */
#ifndef FWDAUTH_BENCH_UTIL_H
#define FWDAUTH_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>

static inline char *bench_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *p = NULL;
    size_t n = 0;
    for (;;) {
        char *q = realloc(p, n + 65536);
        if (!q) {
            free(p);
            fclose(f);
            return NULL;
        }
        p = q;
        size_t got = fread(p + n, 1, 65536, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    *len = n;
    return p;
}

#endif
