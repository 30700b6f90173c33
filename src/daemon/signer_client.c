/* signer_client - remote keys signed by the signer process; see signer_client.h. */
#include "signer_client.h"

#include "ipc.h"
#include "monoclock.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* One key as the worker knows it: its path, and its index in the signer
 * the channel of epoch `epoch` leads to. */
struct slot {
    char *path;
    int type;
    unsigned bits;
    uint32_t index;
    unsigned epoch;
};

struct signer_client {
    pthread_mutex_t lock;
    int fd;         /* the channel to the signer; -1 when broken */
    unsigned rcv_s; /* its SO_RCVTIMEO in seconds; 0: not set yet */
    int ctl;        /* to the master */
    unsigned epoch; /* bumped with each new channel */
    uint32_t next_id;
    struct slot *slots;
    size_t nslots;
};

/* A remote key's arg: which slot of which client. */
struct rkey {
    struct signer_client *sc;
    size_t slot;
};

struct signer_client *signer_client_new(int signer_fd, int ctl_fd)
{
    struct signer_client *sc = calloc(1, sizeof(*sc));
    if (!sc)
        return NULL;
    pthread_mutex_init(&sc->lock, NULL);
    sc->fd = signer_fd;
    sc->ctl = ctl_fd;
    sc->epoch = 1;
    return sc;
}

void signer_client_free(struct signer_client *sc)
{
    if (!sc)
        return;
    for (size_t i = 0; i < sc->nslots; i++)
        free(sc->slots[i].path);
    free(sc->slots);
    if (sc->fd >= 0)
        close(sc->fd);
    pthread_mutex_destroy(&sc->lock);
    free(sc);
}

/* Wait for a packet on fd until deadline (monoclock ms): 1 readable, 0
 * timed out, -1 error. For the control channel (a new signer: rare). */
static int wait_in(int fd, uint64_t deadline)
{
    for (;;) {
        uint64_t now = monoclock_ms();
        if (now >= deadline)
            return 0;
        struct pollfd p = {fd, POLLIN, 0};
        int r = poll(&p, 1, (int)(deadline - now > 60000 ? 60000 : deadline - now));
        if (r > 0)
            return 1;
        if (r < 0 && errno != EINTR)
            return -1;
    }
}

/* The answer is waited for in recvmsg itself, with SO_RCVTIMEO, set only
 * when the timeout changes: no poll(2) before each answer (one system
 * call less per signature, measured by bench/milter.sh). */
static int set_wait(struct signer_client *sc, unsigned seconds)
{
    if (sc->rcv_s == seconds)
        return 0;
    struct timeval tv = {(time_t)seconds, 0};
    if (setsockopt(sc->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
        return -1;
    sc->rcv_s = seconds;
    return 0;
}

enum { ASK_OK, ASK_BROKEN, ASK_FAILED };

/* One request on the channel and its answer (same id) into *rep (pointing
 * into buf). ASK_BROKEN: the channel is unusable (closed here); ASK_FAILED:
 * err says why (IPC_FAIL, timeout). Called with the lock held. */
static int ask(struct signer_client *sc, struct ipc_msg *req, unsigned seconds, uint8_t *buf,
               struct ipc_msg *rep, fa_err *err)
{
    if (sc->fd < 0)
        return ASK_BROKEN;
    req->id = ++sc->next_id;
    if (set_wait(sc, seconds) < 0 || ipc_send(sc->fd, req, -1) < 0)
        goto broken;
    uint64_t deadline = monoclock_ms() + (uint64_t)seconds * 1000;
    for (;;) {
        int passed;
        int r = ipc_recv(sc->fd, buf, rep, &passed);
        if (passed >= 0)
            close(passed);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            goto late;
        if (r <= 0)
            goto broken;
        if (rep->id != req->id) {
            /* the late answer to a request that timed out */
            if ((uint64_t)monoclock_ms() >= deadline)
                goto late;
            continue;
        }
        if (rep->type == IPC_FAIL) {
            fa_err_set(err, "signer: %.*s", (int)rep->len, (const char *)rep->data);
            return ASK_FAILED;
        }
        if ((req->type == IPC_DESCRIBE && rep->type == IPC_DESCRIBED) ||
            (req->type == IPC_SIGN && rep->type == IPC_SIGNED))
            return ASK_OK;
        goto broken; /* an answer of the wrong kind: start afresh */
    }
late:
    fa_err_set(err, "the signer did not answer within %u s", seconds);
    return ASK_FAILED;
broken:
    close(sc->fd);
    sc->fd = -1;
    return ASK_BROKEN;
}

/* A new channel from the master. Called with the lock held. */
static int reconnect(struct signer_client *sc, fa_err *err)
{
    if (sc->ctl < 0)
        return fa_err_set(err, "the signer has gone and no master can start another");
    struct ipc_msg need = {.type = IPC_NEED_SIGNER};
    if (ipc_send(sc->ctl, &need, -1) < 0)
        return fa_err_errno(err, errno, "cannot ask the master for a signer");
    uint8_t buf[IPC_PACKET_MAX];
    uint64_t deadline = monoclock_ms() + SIGNER_CLIENT_TIMEOUT * 1000;
    for (;;) {
        if (wait_in(sc->ctl, deadline) <= 0)
            return fa_err_set(err, "no signer within %d s", SIGNER_CLIENT_TIMEOUT);
        struct ipc_msg m;
        int passed;
        int r = ipc_recv(sc->ctl, buf, &m, &passed);
        if (r == 0)
            return fa_err_set(err, "the master has gone");
        if (r < 0)
            continue;
        if (m.type == IPC_SIGNER && passed >= 0) {
            sc->fd = passed;
            sc->rcv_s = 0;
            sc->epoch++;
            return 0;
        }
        if (passed >= 0)
            close(passed);
        if (m.type == IPC_NO_SIGNER)
            return fa_err_set(err, "no signer: %.*s", (int)m.len, (const char *)m.data);
    }
}

/* Ask the signer about slot s on the current channel. */
static int describe(struct signer_client *sc, struct slot *s, unsigned seconds, fa_err *err)
{
    struct ipc_msg req = {
        .type = IPC_DESCRIBE, .data = (const uint8_t *)s->path, .len = strlen(s->path)};
    uint8_t buf[IPC_PACKET_MAX];
    struct ipc_msg rep;
    int r = ask(sc, &req, seconds, buf, &rep, err);
    if (r != ASK_OK)
        return r;
    unsigned bits = (unsigned)rep.data[0] << 8 | rep.data[1];
    if (s->epoch == 0) { /* the first time: what the key is */
        s->type = rep.arg;
        s->bits = bits;
    } else if (s->type != rep.arg || s->bits != bits) {
        fa_err_set(err, "the signer's key from %s is not the one loaded at start (%s %u bits now)",
                   s->path, rep.arg == KEY_RSA ? "RSA" : "Ed25519", bits);
        return ASK_FAILED;
    }
    s->index = rep.key;
    s->epoch = sc->epoch;
    return ASK_OK;
}

static int remote_sign(void *arg, int md, const uint8_t *digest, size_t dlen, uint8_t *sig,
                       size_t *siglen, fa_err *err)
{
    struct rkey *rk = arg;
    struct signer_client *sc = rk->sc;
    pthread_mutex_lock(&sc->lock);
    struct slot *s = &sc->slots[rk->slot];
    int rc = -1, said = 0;
    for (int attempt = 0; attempt < 2 && !said; attempt++) {
        if (sc->fd < 0 && reconnect(sc, err) < 0) {
            said = 1;
            break;
        }
        int r = ASK_OK;
        if (s->epoch != sc->epoch)
            r = describe(sc, s, SIGNER_CLIENT_TIMEOUT, err);
        if (r == ASK_FAILED) {
            said = 1;
            break;
        }
        if (r == ASK_BROKEN)
            continue;
        struct ipc_msg req = {
            .type = IPC_SIGN, .arg = md, .key = s->index, .data = digest, .len = dlen};
        uint8_t buf[IPC_PACKET_MAX];
        struct ipc_msg rep;
        r = ask(sc, &req, SIGNER_CLIENT_TIMEOUT, buf, &rep, err);
        if (r == ASK_FAILED) {
            said = 1;
            break;
        }
        if (r == ASK_BROKEN)
            continue;
        memcpy(sig, rep.data, rep.len);
        *siglen = rep.len;
        rc = 0;
        break;
    }
    if (rc < 0 && !said)
        fa_err_set(err, "the channel to the signer broke twice");
    pthread_mutex_unlock(&sc->lock);
    return rc;
}

static void remote_release(void *arg)
{
    free(arg);
}

static struct fa_key *load(void *arg, const char *path, fa_err *err)
{
    struct signer_client *sc = arg;
    size_t plen = strlen(path);
    if (plen == 0 || plen > IPC_PATH_MAX) {
        fa_err_set(err, "%s: key path too long", path);
        return NULL;
    }
    pthread_mutex_lock(&sc->lock);
    struct slot *ns = realloc(sc->slots, (sc->nslots + 1) * sizeof(*ns));
    struct rkey *rk = malloc(sizeof(*rk));
    char *p = strdup(path);
    if (ns)
        sc->slots = ns;
    if (!ns || !rk || !p) {
        pthread_mutex_unlock(&sc->lock);
        free(rk);
        free(p);
        fa_err_set(err, "out of memory");
        return NULL;
    }
    struct slot *s = &sc->slots[sc->nslots];
    *s = (struct slot){.path = p};
    int r = describe(sc, s, SIGNER_CLIENT_START_TIMEOUT, err);
    if (r != ASK_OK) {
        if (r == ASK_BROKEN)
            fa_err_set(err, "%s: the signer process ended (see its log line)", path);
        pthread_mutex_unlock(&sc->lock);
        free(rk);
        free(p);
        return NULL;
    }
    sc->nslots++;
    *rk = (struct rkey){sc, sc->nslots - 1};
    int type = s->type;
    unsigned bits = s->bits;
    pthread_mutex_unlock(&sc->lock);
    struct key_remote_ops ops = {remote_sign, remote_release};
    struct fa_key *k = key_remote(type, bits, &ops, rk, err);
    if (!k)
        free(rk);
    return k;
}

struct key_loader signer_client_loader(struct signer_client *sc)
{
    return (struct key_loader){load, sc};
}
