/* Unit tests for signer_client: the worker's end of the channel to the
 * signer, against a fake signer thread on a real SEQPACKET socket pair
 * speaking ipc.h. A key is described once and signed through; a signer that
 * does not answer costs one SIGNER_CLIENT_TIMEOUT and an error naming it,
 * not a hang; its late answer, arriving before the next request's, is
 * skipped by id; a signer that closes the channel is an error, never a
 * signature. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ipc.h"
#include "keys.h"
#include "monoclock.h"
#include "signer_client.h"

#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum fake_mode { FAKE_ANSWER, FAKE_SILENT_ONCE, FAKE_CLOSE };

struct fake {
    int fd;
    enum fake_mode mode;
    int signs;
};

static void send_signed(int fd, uint32_t id, uint8_t fill)
{
    uint8_t sig[256];
    memset(sig, fill, sizeof(sig));
    struct ipc_msg rep = {.type = IPC_SIGNED, .id = id, .data = sig, .len = sizeof(sig)};
    assert_int_equal(ipc_send(fd, &rep, -1), 0);
}

static void *fake_signer(void *arg)
{
    struct fake *f = arg;
    uint8_t buf[IPC_PACKET_MAX];
    uint32_t silent_id = 0;
    for (;;) {
        struct ipc_msg m;
        int passed;
        if (ipc_recv(f->fd, buf, &m, &passed) <= 0)
            break;
        if (m.type == IPC_DESCRIBE) {
            uint8_t bits[2] = {2048 >> 8, 2048 & 0xff};
            struct ipc_msg rep = {.type = IPC_DESCRIBED,
                                  .arg = KEY_RSA,
                                  .id = m.id,
                                  .key = 0,
                                  .data = bits,
                                  .len = 2};
            ipc_send(f->fd, &rep, -1);
            continue;
        }
        if (m.type != IPC_SIGN)
            break;
        f->signs++;
        if (f->mode == FAKE_CLOSE)
            break;
        if (f->mode == FAKE_SILENT_ONCE && f->signs == 1) {
            silent_id = m.id; /* no answer until the next request */
            continue;
        }
        if (silent_id) /* the late answer first, as a slow signer would */
            send_signed(f->fd, silent_id, 0xee);
        send_signed(f->fd, m.id, 0x5a);
    }
    close(f->fd);
    return NULL;
}

struct setup {
    struct fake f;
    pthread_t t;
    struct signer_client *sc;
    struct fa_key *k;
};

static void start(struct setup *s, enum fake_mode mode)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    s->f = (struct fake){sv[1], mode, 0};
    assert_int_equal(pthread_create(&s->t, NULL, fake_signer, &s->f), 0);
    s->sc = signer_client_new(sv[0], -1);
    assert_non_null(s->sc);
    struct key_loader ld = signer_client_loader(s->sc);
    fa_err err;
    s->k = ld.load(ld.arg, "/etc/fwdauth/keys/test.private", &err);
    assert_non_null(s->k);
    assert_int_equal(key_type(s->k), KEY_RSA);
    assert_int_equal(key_bits(s->k), 2048);
}

static void stop(struct setup *s)
{
    key_free(s->k);
    signer_client_free(s->sc); /* closes the channel: the fake ends */
    pthread_join(s->t, NULL);
}

static int sign(struct setup *s, uint8_t *sig, fa_err *err)
{
    uint8_t digest[32] = {1, 2, 3};
    size_t n = 0;
    int rc = key_sign_digest(s->k, KEY_MD_SHA256, digest, sizeof(digest), sig, &n, err);
    if (rc == 0)
        assert_int_equal(n, 256);
    return rc;
}

static void test_signs(void **state)
{
    (void)state;
    struct setup s;
    start(&s, FAKE_ANSWER);
    uint8_t sig[KEY_SIG_MAX];
    fa_err err;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sign(&s, sig, &err), 0);
        assert_int_equal(sig[0], 0x5a);
    }
    stop(&s);
    assert_int_equal(s.f.signs, 3);
}

static void test_silent_then_late(void **state)
{
    (void)state;
    struct setup s;
    start(&s, FAKE_SILENT_ONCE);
    uint8_t sig[KEY_SIG_MAX];
    fa_err err;
    double t = monoclock_seconds();
    assert_int_equal(sign(&s, sig, &err), -1);
    double took = monoclock_seconds() - t;
    assert_non_null(strstr(err.msg, "did not answer within"));
    /* one timeout, not forever; slack for a loaded machine */
    assert_true(took >= SIGNER_CLIENT_TIMEOUT - 0.5 && took < SIGNER_CLIENT_TIMEOUT + 20);
    /* the late answer (0xee) comes first and is not taken for this one */
    assert_int_equal(sign(&s, sig, &err), 0);
    assert_int_equal(sig[0], 0x5a);
    stop(&s);
}

static void test_signer_gone(void **state)
{
    (void)state;
    struct setup s;
    start(&s, FAKE_CLOSE);
    uint8_t sig[KEY_SIG_MAX];
    fa_err err;
    /* no master to ask for another signer (ctl -1): an error at once */
    double t = monoclock_seconds();
    assert_int_equal(sign(&s, sig, &err), -1);
    assert_true(monoclock_seconds() - t < 5);
    assert_non_null(strstr(err.msg, "signer"));
    stop(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signs),
        cmocka_unit_test(test_silent_then_late),
        cmocka_unit_test(test_signer_gone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
