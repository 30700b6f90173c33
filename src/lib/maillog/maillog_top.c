/* maillog_top - the heaviest keys of a stream, in bounded memory (see maillog_top.h). */
#include "maillog_top.h"

#include <stdlib.h>
#include <string.h>

struct entry {
    struct entry *next; /* hash chain */
    uint64_t hash;
    unsigned long long weight, error, count, bytes, deferrals;
    size_t pos; /* in the heap */
    size_t keylen;
    char key[]; /* keylen bytes and a NUL */
};

struct maillog_top {
    size_t capacity;
    struct entry **buckets; /* a power of two, >= capacity */
    size_t nbuckets;
    struct entry **heap; /* a min-heap by weight: heap[0] goes first */
    size_t n;
    unsigned long long evicted;
};

static uint64_t hash_key(const char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 0x100000001b3ULL;
    return h;
}

struct maillog_top *maillog_top_new(size_t capacity, fa_err *err)
{
    struct maillog_top *t = calloc(1, sizeof(*t));
    if (!t || capacity == 0)
        goto fail;
    t->capacity = capacity;
    t->nbuckets = 16;
    while (t->nbuckets < capacity)
        t->nbuckets *= 2;
    t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
    t->heap = calloc(capacity, sizeof(*t->heap));
    if (!t->buckets || !t->heap)
        goto fail;
    return t;
fail:
    maillog_top_free(t);
    fa_err_set(err, capacity ? "out of memory" : "a top table needs room for one key");
    return NULL;
}

void maillog_top_free(struct maillog_top *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        free(t->heap[i]);
    free(t->heap);
    free(t->buckets);
    free(t);
}

static void heap_set(struct maillog_top *t, size_t i, struct entry *e)
{
    t->heap[i] = e;
    e->pos = i;
}

/* An entry's weight only grows: move it down towards the leaves. */
static void sift_down(struct maillog_top *t, size_t i)
{
    struct entry *e = t->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= t->n)
            break;
        if (c + 1 < t->n && t->heap[c + 1]->weight < t->heap[c]->weight)
            c++;
        if (t->heap[c]->weight >= e->weight)
            break;
        heap_set(t, i, t->heap[c]);
        i = c;
    }
    heap_set(t, i, e);
}

static void sift_up(struct maillog_top *t, size_t i)
{
    struct entry *e = t->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (t->heap[parent]->weight <= e->weight)
            break;
        heap_set(t, i, t->heap[parent]);
        i = parent;
    }
    heap_set(t, i, e);
}

static void unlink_entry(struct maillog_top *t, const struct entry *e)
{
    for (struct entry **pp = &t->buckets[e->hash & (t->nbuckets - 1)]; *pp; pp = &(*pp)->next)
        if (*pp == e) {
            *pp = e->next;
            return;
        }
}

int maillog_top_add(struct maillog_top *t, const char *key, size_t keylen,
                    unsigned long long weight, unsigned long long count, unsigned long long bytes,
                    unsigned long long deferrals)
{
    uint64_t h = hash_key(key, keylen);
    struct entry **slot = &t->buckets[h & (t->nbuckets - 1)];
    for (struct entry *e = *slot; e; e = e->next)
        if (e->hash == h && e->keylen == keylen && memcmp(e->key, key, keylen) == 0) {
            e->weight += weight;
            e->count += count;
            e->bytes += bytes;
            e->deferrals += deferrals;
            sift_down(t, e->pos);
            return 0;
        }

    struct entry *e = malloc(sizeof(*e) + keylen + 1);
    if (!e)
        return -1;
    memcpy(e->key, key, keylen);
    e->key[keylen] = 0;
    e->keylen = keylen;
    e->hash = h;
    e->count = count;
    e->bytes = bytes;
    e->deferrals = deferrals;
    if (t->n < t->capacity) {
        e->weight = weight;
        e->error = 0;
        t->heap[t->n] = e;
        e->pos = t->n++;
        sift_up(t, e->pos);
    } else {
        /* Space-Saving: the lightest key makes room; the new one inherits
         * its weight as the most it may be over-stated by. */
        struct entry *old = t->heap[0];
        unlink_entry(t, old);
        e->error = old->weight;
        e->weight = old->weight + weight;
        free(old);
        t->evicted++;
        heap_set(t, 0, e);
        sift_down(t, 0);
    }
    e->next = *slot;
    *slot = e;
    return 0;
}

static int cmp_ull(unsigned long long a, unsigned long long b)
{
    return a < b ? 1 : a > b ? -1 : 0; /* larger first */
}

static int cmp_key(const struct maillog_top_row *a, const struct maillog_top_row *b)
{
    size_t n = a->keylen < b->keylen ? a->keylen : b->keylen;
    int c = memcmp(a->key, b->key, n);
    if (c)
        return c;
    return a->keylen < b->keylen ? -1 : a->keylen > b->keylen;
}

static int by_count(const void *x, const void *y)
{
    const struct maillog_top_row *a = x, *b = y;
    int c = cmp_ull(a->count, b->count);
    if (!c)
        c = cmp_ull(a->bytes, b->bytes);
    return c ? c : cmp_key(a, b);
}

static int by_bytes(const void *x, const void *y)
{
    const struct maillog_top_row *a = x, *b = y;
    int c = cmp_ull(a->bytes, b->bytes);
    if (!c)
        c = cmp_ull(a->count, b->count);
    return c ? c : cmp_key(a, b);
}

static int by_weight(const void *x, const void *y)
{
    const struct maillog_top_row *a = x, *b = y;
    int c = cmp_ull(a->weight, b->weight);
    return c ? c : cmp_key(a, b);
}

size_t maillog_top_rows(const struct maillog_top *t, enum ml_top_order order,
                        struct maillog_top_row *rows, size_t max)
{
    if (!t || max == 0 || t->n == 0)
        return 0;
    struct maillog_top_row *all = malloc(t->n * sizeof(*all));
    if (!all)
        return 0;
    for (size_t i = 0; i < t->n; i++) {
        const struct entry *e = t->heap[i];
        all[i] = (struct maillog_top_row){e->key,   e->keylen, e->weight,   e->error,
                                          e->count, e->bytes,  e->deferrals};
    }
    qsort(all, t->n, sizeof(*all),
          order == ML_TOP_BY_BYTES   ? by_bytes
          : order == ML_TOP_BY_COUNT ? by_count
                                     : by_weight);
    size_t n = t->n < max ? t->n : max;
    memcpy(rows, all, n * sizeof(*rows));
    free(all);
    return n;
}

size_t maillog_top_size(const struct maillog_top *t)
{
    return t ? t->n : 0;
}

size_t maillog_top_capacity(const struct maillog_top *t)
{
    return t ? t->capacity : 0;
}

unsigned long long maillog_top_evicted(const struct maillog_top *t)
{
    return t ? t->evicted : 0;
}
