/* libFuzzer target: what an SRS store returns. The bytes are a Redis reply
 * stream as hiredis reads it off the socket; every reply it forms goes
 * through our GET and SET reply parsers, and whatever GET accepts through
 * srs_store_value_check, as a reverse lookup would. Also the SQLite row
 * path: the raw bytes as a stored value. Nothing may crash, and a value
 * passes the check only when it hashes to its key. */
#include "srs_store.h"
#include "srsstore_redis.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_value(const char *v, size_t n)
{
    char key[SRS_STORE_KEY_LEN + 1];
    const char *why;
    if (srs_store_key(v, n, key) < 0)
        abort();
    int ok = srs_store_value_check(key, v, n, &why) == 0;
    /* The same value under another key never passes. */
    char other[SRS_STORE_KEY_LEN + 1];
    memcpy(other, key, sizeof(other));
    other[0] = other[0] == '0' ? '1' : '0';
    if (srs_store_value_check(other, v, n, &why) == 0)
        abort();
    (void)ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_value((const char *)data, size);
    redisReader *r = redisReaderCreate();
    if (!r)
        return 0;
    srsstore_redis_bound(r); /* the daemon's limits, as on every connection */
    if (redisReaderFeed(r, (const char *)data, size) == REDIS_OK) {
        for (int i = 0; i < 64; i++) {
            void *reply = NULL;
            if (redisReaderGetReply(r, &reply) != REDIS_OK || !reply)
                break;
            char val[SRS_STORE_VALUE_MAX + 1];
            size_t vlen = 0;
            fa_err err;
            if (srsstore_redis_reply_get(reply, val, sizeof(val), &vlen, &err) == SRS_STORE_OK) {
                /* An over-long value is cut, and refused by its length. */
                if (vlen < sizeof(val))
                    check_value(val, vlen);
            }
            (void)srsstore_redis_reply_put(reply, &err);
            freeReplyObject(reply);
        }
    }
    redisReaderFree(r);
    return 0;
}
