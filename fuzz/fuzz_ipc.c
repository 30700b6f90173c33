/* libFuzzer target: the messages between fwdauthd's processes (ipc.h) and
 * the signer's side of them (signer_answer in signer.h), as a worker taken
 * over could send them. The input is one packet.
 * Checks: a packet that decodes encodes back to the same octets; the
 * signer's answer to it, when there is one, decodes, carries the request's
 * id, and is IPC_DESCRIBED (for a describe of a loaded path: its index),
 * IPC_SIGNED (for a sign: as long as the key's signatures) or IPC_FAIL;
 * only IPC_DESCRIBE and IPC_SIGN get answers. Two keys are loaded: an
 * Ed25519 one named "/k/ed" and an RSA-1024 one named "/k/rsa". */
#include "ipc.h"
#include "keys.h"
#include "log.h"
#include "signer.h"

#include <stdlib.h>
#include <string.h>

static struct signer_keys *keys(void)
{
    static struct signer_keys *sk;
    if (sk)
        return sk;
    log_set_level(FA_LOG_ERROR); /* refused requests log warnings: keep runs quiet */
    fa_err err;
    struct fa_key *ed = key_generate(KEY_ED25519, 0, &err);
    struct fa_key *rsa = key_generate(KEY_RSA, 1024, &err);
    sk = signer_keys_new();
    if (!ed || !rsa || !sk || signer_keys_add(sk, "/k/ed", ed, 1) < 0 ||
        signer_keys_add(sk, "/k/rsa", rsa, 1) < 0)
        abort();
    return sk;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct signer_keys *sk = keys();
    struct ipc_msg m;
    int ok = ipc_decode(data, size, &m) == 0;
    if (ok) {
        uint8_t back[IPC_PACKET_MAX];
        long n = ipc_encode(&m, back, sizeof(back));
        if (n < 0 || (size_t)n != size || memcmp(back, data, size) != 0)
            abort();
    }
    uint8_t out[IPC_PACKET_MAX];
    long r = signer_answer(sk, data, size, out, sizeof(out));
    if (r < 0)
        abort();
    if (r == 0) {
        if (ok && (m.type == IPC_DESCRIBE || m.type == IPC_SIGN))
            abort(); /* a good request is always answered */
        return 0;
    }
    if (!ok || (m.type != IPC_DESCRIBE && m.type != IPC_SIGN))
        abort();
    struct ipc_msg rep;
    if (ipc_decode(out, (size_t)r, &rep) < 0 || rep.id != m.id)
        abort();
    if (rep.type == IPC_FAIL)
        return 0;
    if (m.type == IPC_DESCRIBE) {
        int ed = m.len == 5 && memcmp(m.data, "/k/ed", 5) == 0;
        int rsa = m.len == 6 && memcmp(m.data, "/k/rsa", 6) == 0;
        if (rep.type != IPC_DESCRIBED || (!ed && !rsa) || rep.key != (ed ? 0u : 1u) ||
            rep.arg != (ed ? KEY_ED25519 : KEY_RSA))
            abort();
    } else if (rep.type != IPC_SIGNED || m.key > 1 || rep.len != (m.key == 0 ? 64u : 128u)) {
        abort();
    }
    return 0;
}
