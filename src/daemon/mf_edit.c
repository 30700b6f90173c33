/* mf_edit - changes to the MTA's copy and the outgoing copy in step; see mf_edit.h. */
#include "mf_edit.h"

#include <stdlib.h>
#include <string.h>

int mf_edit_init(struct mf_edit *e, struct milter_mods *mods, const struct msg_header *rh,
                 size_t rn)
{
    memset(e, 0, sizeof(*e));
    e->mods = mods;
    e->rh = rh;
    e->rn = rn;
    e->cap = rn + 16;
    if (!(e->h = malloc(e->cap * sizeof(*e->h))))
        return -1;
    if (rn)
        memcpy(e->h, rh, rn * sizeof(*rh));
    e->n = rn;
    return 0;
}

void mf_edit_free(struct mf_edit *e)
{
    for (size_t i = 0; i < e->nowned; i++)
        free(e->owned[i]);
    free(e->owned);
    free(e->h);
    memset(e, 0, sizeof(*e));
}

/* A field "Name:value\n" (value with its leading space) as a msg_header. */
static int make_field(struct mf_edit *e, struct msg_header *f, const char *name, const char *value)
{
    if (e->nowned == e->owned_cap) {
        size_t cap = e->owned_cap ? e->owned_cap * 2 : 8;
        char **no = realloc(e->owned, cap * sizeof(*no));
        if (!no)
            return -1;
        e->owned = no;
        e->owned_cap = cap;
    }
    size_t nl = strlen(name), vl = strlen(value);
    char *t = malloc(nl + vl + 3);
    if (!t)
        return -1;
    memcpy(t, name, nl);
    t[nl] = ':';
    memcpy(t + nl + 1, value, vl);
    t[nl + 1 + vl] = '\n';
    t[nl + vl + 2] = '\0';
    e->owned[e->nowned++] = t;
    *f = (struct msg_header){t, nl + vl + 2, nl, nl + 1, nl + 1 + vl};
    return 0;
}

static int grow(struct mf_edit *e)
{
    if (e->n < e->cap)
        return 0;
    size_t cap = e->cap * 2;
    struct msg_header *nh = realloc(e->h, cap * sizeof(*nh));
    if (!nh)
        return -1;
    e->h = nh;
    e->cap = cap;
    return 0;
}

static int put(struct mf_edit *e, const char *name, const char *value, int top)
{
    struct msg_header f;
    if (grow(e) < 0 || make_field(e, &f, name, value) < 0)
        return -1;
    if (top)
        memmove(e->h + 1, e->h, e->n * sizeof(*e->h));
    e->h[top ? 0 : e->n] = f;
    e->n++;
    return 0;
}

int mf_edit_insert_top(struct mf_edit *e, const char *name, const char *value)
{
    if (milter_mods_insert_header(e->mods, 1, name, value) < 0)
        return -1;
    return put(e, name, value, 1);
}

int mf_edit_add(struct mf_edit *e, const char *name, const char *value)
{
    if (milter_mods_add_header(e->mods, name, value) < 0)
        return -1;
    return put(e, name, value, 0);
}

const struct msg_header *mf_edit_received(const struct mf_edit *e, const char *name, unsigned nth)
{
    unsigned k = 0;
    for (size_t i = 0; i < e->rn; i++)
        if (msg_header_is(&e->rh[i], name) && ++k == nth)
            return &e->rh[i];
    return NULL;
}

/* Where the received field r is in the outgoing copy, or n. */
static size_t position(const struct mf_edit *e, const struct msg_header *r)
{
    for (size_t i = 0; i < e->n; i++)
        if (e->h[i].raw == r->raw)
            return i;
    return e->n;
}

int mf_edit_change(struct mf_edit *e, const char *name, unsigned nth, const char *value)
{
    if (milter_mods_change_header(e->mods, name, nth, value) < 0)
        return -1;
    const struct msg_header *r = mf_edit_received(e, name, nth);
    size_t at = r ? position(e, r) : e->n;
    if (at == e->n)
        return 0;
    return make_field(e, &e->h[at], name, value);
}

int mf_edit_delete(struct mf_edit *e, const char *name, unsigned nth)
{
    if (milter_mods_delete_header(e->mods, name, nth) < 0)
        return -1;
    const struct msg_header *r = mf_edit_received(e, name, nth);
    size_t at = r ? position(e, r) : e->n;
    if (at < e->n) {
        memmove(e->h + at, e->h + at + 1, (e->n - at - 1) * sizeof(*e->h));
        e->n--;
    }
    return 0;
}

int mf_edit_delete_all(struct mf_edit *e, const char *name)
{
    unsigned count = 0;
    for (size_t i = 0; i < e->rn; i++)
        count += msg_header_is(&e->rh[i], name);
    /* Highest first: each deletion leaves the lower indexes as the MTA counts them. */
    for (unsigned k = count; k > 0; k--)
        if (mf_edit_delete(e, name, k) < 0)
            return -1;
    return 0;
}

int mf_edit_set(struct mf_edit *e, const char *name, const char *value)
{
    if (mf_edit_received(e, name, 1))
        return mf_edit_change(e, name, 1, value);
    return mf_edit_add(e, name, value);
}
