/* libFuzzer target: body canonicalization, differential. The whole input in
 * one piece (lines canonical as they stand go through the fast path) must
 * give the same octets as the same input one octet at a time (never the
 * fast path), for both algorithms, with and without an l= limit. */
#include "canon.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct out {
    uint8_t *p;
    size_t n, cap;
};

static void sink(void *ctx, const uint8_t *p, size_t n)
{
    struct out *o = ctx;
    if (o->n + n > o->cap)
        abort();
    memcpy(o->p + o->n, p, n);
    o->n += n;
}

static void run(int alg, uint64_t limit, const uint8_t *d, size_t n, size_t step, struct out *o)
{
    static struct canon_body b; /* large; one at a time */
    o->n = 0;
    canon_body_init(&b, alg, limit, sink, o);
    for (size_t i = 0; i < n; i += step)
        canon_body_update(&b, d + i, n - i < step ? n - i : step);
    canon_body_final(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t cap = 2 * size + 4;
    struct out a = {malloc(cap), 0, cap}, b = {malloc(cap), 0, cap};
    for (int alg = 0; alg < 2; alg++) {
        uint64_t limits[2] = {CANON_NO_LIMIT, size / 3};
        for (int l = 0; l < 2; l++) {
            run(alg, limits[l], data, size, size ? size : 1, &a);
            run(alg, limits[l], data, size, 1, &b);
            if (a.n != b.n || memcmp(a.p, b.p, a.n) != 0)
                abort();
        }
    }
    free(a.p);
    free(b.p);
    return 0;
}
