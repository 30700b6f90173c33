/* libFuzzer target: SRS address parsing (forward and reverse), with a fixed
 * secret, stateless and hybrid (an in-memory store). Whatever forward
 * produces must reverse to an address again; a stored sender (an alias)
 * must come back byte for byte; every output fits in 64 octets of local
 * part when a store was there to take what does not. */
#include "fuzz_srs_engine.h"
#include "srs.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 16
struct mem_store {
    struct srs_store iface;
    char key[SLOTS][SRS_STORE_KEY_LEN + 1];
    char val[SLOTS][SRS_STORE_VALUE_MAX + 1];
    size_t len[SLOTS];
    unsigned next;
};

static int mem_put(struct srs_store *st, const char *key, const char *value, size_t vlen,
                   unsigned ttl, time_t now, fa_err *err)
{
    (void)ttl, (void)now, (void)err;
    struct mem_store *m = (struct mem_store *)st;
    if (vlen > SRS_STORE_VALUE_MAX)
        abort(); /* srs never stores more */
    unsigned i = m->next++ % SLOTS;
    memcpy(m->key[i], key, SRS_STORE_KEY_LEN + 1);
    memcpy(m->val[i], value, vlen);
    m->len[i] = vlen;
    return SRS_STORE_OK;
}

static int mem_get(struct srs_store *st, const char *key, time_t now, char *value, size_t valsz,
                   size_t *vlen, fa_err *err)
{
    (void)now, (void)err;
    struct mem_store *m = (struct mem_store *)st;
    for (unsigned i = 0; i < SLOTS; i++) {
        if (strcmp(m->key[i], key) == 0 && m->len[i] < valsz) {
            memcpy(value, m->val[i], m->len[i]);
            value[m->len[i]] = '\0';
            *vlen = m->len[i];
            return SRS_STORE_OK;
        }
    }
    return SRS_STORE_MISS;
}

static void mem_free(struct srs_store *st)
{
    (void)st;
}

static const srs *hybrid_srs(void)
{
    static struct mem_store m = {.iface = {mem_put, mem_get, mem_free}};
    static srs *s;
    if (!s) {
        static const char *const secrets[] = {"tops3cr3t"};
        static const size_t lens[] = {9};
        struct srs_params p = {.domain = "fwd.example.net",
                               .hash_length = 4,
                               .max_age = 21,
                               .separator = '=',
                               .mode = SRS_MODE_HYBRID,
                               .store = &m.iface};
        s = srs_new(&p, secrets, lens, 1, NULL);
        if (!s || srs_add_domain(s, "one.example", "srs.one.example", NULL, NULL, 0, NULL) < 0)
            abort();
    }
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const srs *s = daemon_fuzz_srs();
    const time_t now = 1577836860;
    char out[SRS_ADDR_MAX], back[SRS_ADDR_MAX];
    const char *why;
    (void)srs_reverse(s, (const char *)data, size, now, out, sizeof(out), &why);
    if (srs_forward(s, (const char *)data, size, now, out, sizeof(out), &why) == SRS_OK) {
        /* Our own output is always a valid SRS address of ours. */
        if (srs_reverse(s, out, strlen(out), now, back, sizeof(back), &why) != SRS_OK)
            abort();
    }

    const srs *h = hybrid_srs();
    struct srs_why w;
    (void)srs_reverse_ex(h, (const char *)data, size, now, out, sizeof(out), &w);
    char *rcpt[] = {"alias@one.example"};
    int rc = srs_forward_ex(h, rcpt, size & 1, (const char *)data, size, now, out, sizeof(out), &w);
    if (rc == SRS_OK) {
        const char *at = strrchr(out, '@');
        if (!at || at - out > 64)
            abort();
        if (srs_reverse_ex(h, out, strlen(out), now, back, sizeof(back), &w) != SRS_OK)
            abort();
        /* an alias gives back exactly what was stored */
        int alias = at - out == 47 && strncmp(out, "SRS0", 4) == 0 && out[12] == '=' &&
                    strncmp(out + 13, "1=", 2) == 0;
        if (alias && (strlen(back) != size || memcmp(back, data, size) != 0))
            abort();
    } else if (rc == SRS_UNCHANGED && w.reason == SRS_R_TOO_LONG && size <= SRS_STORE_VALUE_MAX) {
        abort(); /* with a store, "too long" only for what cannot be stored */
    }
    return 0;
}
