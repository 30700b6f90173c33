/* strlist - lists of strings in Postfix's list syntax; see strlist.h. */
#include "strlist.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

void strlist_free(struct fa_list *list)
{
    for (size_t i = 0; i < list->n; i++)
        free(list->v[i]);
    free(list->v);
    list->v = NULL;
    list->n = 0;
}

static int is_list_sep(int c)
{
    return c == ',' || isspace(c);
}

int strlist_split(const char *value, struct fa_list *out, fa_err *err)
{
    struct fa_list l = {NULL, 0};
    size_t cap = 0;
    const char *p = value;
    for (;;) {
        while (*p && is_list_sep((unsigned char)*p))
            p++;
        if (!*p)
            break;
        const char *start = p;
        while (*p && !is_list_sep((unsigned char)*p))
            p++;
        if (l.n == cap) { /* doubling: a long list is not copied once per entry */
            size_t ncap = cap ? 2 * cap : 8;
            char **nv = realloc(l.v, ncap * sizeof(*nv));
            if (!nv) {
                strlist_free(&l);
                return fa_err_set(err, "out of memory");
            }
            l.v = nv;
            cap = ncap;
        }
        char *item = strndup(start, (size_t)(p - start));
        if (!item) {
            strlist_free(&l);
            return fa_err_set(err, "out of memory");
        }
        l.v[l.n++] = item;
    }
    *out = l;
    return 0;
}
