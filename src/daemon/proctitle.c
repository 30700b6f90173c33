/* proctitle - process titles for ps(1); see proctitle.h. */
#include "proctitle.h"

#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

extern char **environ;

/* The area the title goes into: the process's only mutable state here,
 * set once in main before any thread exists. */
static char *area;
static size_t area_len;

void proctitle_init(int argc, char **argv)
{
    if (argc < 1 || !argv[0])
        return;
    char *start = argv[0], *end = argv[0] + strlen(argv[0]) + 1;
    for (int i = 1; i < argc; i++)
        if (argv[i] == end)
            end += strlen(argv[i]) + 1;
    size_t n = 0;
    while (environ && environ[n])
        n++;
    /* The environment strings follow when they are contiguous: take them
     * too, after copying them where getenv will find them. */
    char **copy = calloc(n + 1, sizeof(*copy));
    if (!copy)
        goto done;
    for (size_t i = 0; i < n; i++) {
        if (environ[i] == end)
            end += strlen(environ[i]) + 1;
        if (!(copy[i] = strdup(environ[i]))) {
            for (size_t j = 0; j < i; j++)
                free(copy[j]);
            free(copy);
            goto done;
        }
    }
    environ = copy;
done:
    /* Without the copy, the environment stays in place: argv only. */
    if (environ != copy) {
        end = argv[0] + strlen(argv[0]) + 1;
        for (int i = 1; i < argc; i++)
            if (argv[i] == end)
                end += strlen(argv[i]) + 1;
    }
    area = start;
    area_len = (size_t)(end - start);
    for (int i = 1; i < argc; i++)
        argv[i] = NULL; /* they point into the area */
}

void proctitle_set(const char *comm, const char *title)
{
    prctl(PR_SET_NAME, comm, 0, 0, 0);
    if (!area || area_len < 2)
        return;
    size_t n = strlen(title);
    if (n > area_len - 1)
        n = area_len - 1;
    memcpy(area, title, n);
    memset(area + n, 0, area_len - n);
}
