/* master - the root process: generations of signer and worker; see master.h. */
#include "master.h"

#include "fileread.h"
#include "ipc.h"
#include "log.h"
#include "monoclock.h"
#include "proctitle.h"
#include "runtime.h"
#include "signer.h"
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum role { SIGNER, WORKER };
enum cstate { C_NONE, C_STARTING, C_READY, C_DRAINING };
enum gstate { G_STARTING, G_CURRENT, G_OLD, G_FAILED };
enum purpose { P_START, P_RELOAD };

struct gen;

struct child {
    int role;
    pid_t pid; /* 0: not running */
    int ctl;   /* -1: closed */
    int state; /* enum cstate */
    int restarted;
    struct gen *gen;
    unsigned slot;             /* a worker's metrics slot */
    int64_t started_ms;        /* when forked */
    int64_t last_channel_ms;   /* a worker: when it got a signer channel */
    pid_t last_channel_signer; /* and to which signer */
    int waits_signer;          /* a worker: IPC_NEED_SIGNER not answered yet */
    unsigned delay;            /* seconds of the last back-off */
    int64_t restart_at;        /* 0: no restart due */
    int told_to_stop;
    char error[IPC_TEXT_MAX + 1];
};

struct gen {
    unsigned id;
    int state; /* enum gstate */
    int purpose;
    char *text;
    size_t len;
    struct fa_config cfg; /* as the master read it (restart-only settings not kept) */
    unsigned nsecrets;    /* the worker's IPC_READY */
    struct child signer, worker;
};

struct master {
    const struct master_args *a;
    struct gen *gens[MASTER_GENERATIONS];
    struct gen *current;
    unsigned next_id;
    int hup_pending;
    int stopping;
    int64_t stop_deadline;
    int ready_fd;
    int handoff[2];
    unsigned char slot_used[METRICS_SLOTS];
    int start_status; /* 0 running; 2 the first generation failed */
    char start_error[IPC_TEXT_MAX + 64];
};

static const char *role_name(int role)
{
    return role == SIGNER ? "signer" : "worker";
}

static int64_t now_ms(void)
{
    return monoclock_ms();
}

/* "exited with status 2", "killed by signal 9 (Killed)". */
static void describe_status(int status, char *out, size_t outsz)
{
    if (WIFEXITED(status))
        snprintf(out, outsz, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(out, outsz, "killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(out, outsz, "ended (status %#x)", (unsigned)status);
}

static void close_ctl(struct child *c)
{
    if (c->ctl >= 0)
        close(c->ctl);
    c->ctl = -1;
}

/* Standard input, output and error to /dev/null (a daemon's children). */
static void detach_stdio(void)
{
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return;
    dup2(fd, 0);
    dup2(fd, 1);
    dup2(fd, 2);
    if (fd > 2)
        close(fd);
}

static void gen_failed(struct master *m, struct gen *g);
static void failed_gone(struct master *m, struct gen *g);

/* ---- forking ----------------------------------------------------------- */

static int fork_signer(struct master *m, struct gen *g)
{
    const struct master_args *a = m->a;
    struct child *c = &g->signer;
    int sp[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
        log_msg(FA_LOG_ERROR, "socketpair: %s", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        log_msg(FA_LOG_ERROR, "fork: %s", strerror(errno));
        close(sp[0]);
        close(sp[1]);
        return -1;
    }
    if (pid == 0) {
        if (!a->foreground)
            detach_stdio();
        struct signer_args sa = {
            .config_name = a->config_path,
            .config_text = g->text,
            .config_len = g->len,
            .chroot = a->start->chroot,
            .user = a->user,
            .key_owner = a->secrets_owner,
            .ctl_fd = sp[1],
            .master = getppid(),
        };
        signer_main(&sa);
    }
    close(sp[1]);
    *c = (struct child){
        .role = SIGNER,
        .pid = pid,
        .ctl = sp[0],
        .state = C_STARTING,
        .gen = g,
        .started_ms = now_ms(),
        .delay = c->delay,
        .restarted = c->restarted,
    };
    return 0;
}

/* A new channel between a worker (end w, returned) and signer s. */
static int channel(struct child *s)
{
    if (s->pid == 0 || s->ctl < 0)
        return -1;
    int p[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, p) < 0)
        return -1;
    struct ipc_msg msg = {.type = IPC_CLIENT};
    if (ipc_send(s->ctl, &msg, p[0]) < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    close(p[0]);
    return p[1];
}

static unsigned take_slot(struct master *m)
{
    for (unsigned i = 1; i < METRICS_SLOTS; i++)
        if (!m->slot_used[i]) {
            m->slot_used[i] = 1;
            return i;
        }
    return 0; /* shared by the overflow, never cleared */
}

static int fork_worker(struct master *m, struct gen *g)
{
    const struct master_args *a = m->a;
    struct child *c = &g->worker;
    int chan = channel(&g->signer);
    if (chan < 0) {
        log_msg(FA_LOG_ERROR, "no channel to the signer for a new worker");
        return -1;
    }
    int sp[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
        log_msg(FA_LOG_ERROR, "socketpair: %s", strerror(errno));
        close(chan);
        return -1;
    }
    unsigned slot = take_slot(m);
    metrics_clear_slot(a->metrics, slot);
    pid_t pid = fork();
    if (pid < 0) {
        log_msg(FA_LOG_ERROR, "fork: %s", strerror(errno));
        close(chan);
        close(sp[0]);
        close(sp[1]);
        m->slot_used[slot] = 0;
        return -1;
    }
    if (pid == 0) {
        if (!a->foreground)
            detach_stdio();
        struct worker_args wa = {
            .config_name = a->config_path,
            .config_text = g->text,
            .config_len = g->len,
            .start = a->start,
            .user = a->user,
            .secrets_owner = a->secrets_owner,
            .ls = a->ls,
            .nls = a->nls,
            .metrics_fd = a->metrics_fd,
            .metrics_name = a->metrics_name,
            .metrics = a->metrics,
            .metrics_slot = slot,
            .ctl_fd = sp[1],
            .signer_fd = chan,
            .handoff_in = m->handoff[0],
            .handoff_out = m->handoff[1],
            .master = getppid(),
        };
        worker_main(&wa);
    }
    close(chan);
    close(sp[1]);
    *c = (struct child){
        .role = WORKER,
        .pid = pid,
        .ctl = sp[0],
        .state = C_STARTING,
        .gen = g,
        .slot = slot,
        .started_ms = now_ms(),
        .last_channel_ms = now_ms(),
        .last_channel_signer = g->signer.pid,
        .delay = c->delay,
        .restarted = c->restarted,
    };
    return 0;
}

/* ---- generations ------------------------------------------------------- */

static void free_gen(struct master *m, struct gen *g)
{
    for (size_t i = 0; i < MASTER_GENERATIONS; i++)
        if (m->gens[i] == g)
            m->gens[i] = NULL;
    if (m->current == g)
        m->current = NULL;
    close_ctl(&g->signer);
    close_ctl(&g->worker);
    config_free(&g->cfg);
    free(g->text);
    free(g);
}

static int gen_alive(const struct gen *g)
{
    return g->signer.pid || g->worker.pid;
}

/* Room for one more generation: stop the oldest draining worker if need be. */
static int make_room(struct master *m)
{
    struct gen *oldest = NULL;
    for (size_t i = 0; i < MASTER_GENERATIONS; i++) {
        if (!m->gens[i])
            return (int)i;
        if (m->gens[i]->state == G_OLD && (!oldest || m->gens[i]->id < oldest->id))
            oldest = m->gens[i];
    }
    if (oldest) {
        if (oldest->worker.pid && !oldest->worker.told_to_stop) {
            log_msg(FA_LOG_WARNING,
                    "%d generations alive: stopping the oldest draining worker (pid %d) now",
                    MASTER_GENERATIONS, (int)oldest->worker.pid);
            kill(oldest->worker.pid, SIGTERM);
            oldest->worker.told_to_stop = 1;
        }
    }
    return -1;
}

/* A new generation from text and its parsed cfg (both taken over). */
static struct gen *start_gen(struct master *m, char *text, size_t len, int purpose,
                             struct fa_config *cfg)
{
    int i = make_room(m);
    struct gen *g = i < 0 ? NULL : calloc(1, sizeof(*g));
    if (!g) {
        if (i < 0)
            m->hup_pending = 1; /* again when the oldest has gone */
        else
            log_msg(FA_LOG_ERROR, "out of memory");
        config_free(cfg);
        free(text);
        return NULL;
    }
    g->cfg = *cfg;
    g->id = ++m->next_id;
    g->state = G_STARTING;
    g->purpose = purpose;
    g->text = text;
    g->len = len;
    g->signer.ctl = g->worker.ctl = -1;
    m->gens[i] = g;
    if (fork_signer(m, g) < 0 || fork_worker(m, g) < 0) {
        snprintf(g->signer.error, sizeof(g->signer.error), "cannot start the processes");
        gen_failed(m, g);
        if (!gen_alive(g)) {
            failed_gone(m, g);
            free_gen(m, g);
        }
        return NULL;
    }
    return g;
}

/* The error of a failed generation: the signer's first (a key problem is
 * its), else the worker's. */
static const char *gen_error(const struct gen *g)
{
    if (g->signer.error[0])
        return g->signer.error;
    if (g->worker.error[0])
        return g->worker.error;
    return "its processes ended at start";
}

/* A child of a starting generation failed: stop the other one; the
 * failure is told when both have ended (failed_gone), so that the
 * signer's reason, the first cause, can be read first. */
static void gen_failed(struct master *m, struct gen *g)
{
    if (g->state != G_STARTING)
        return;
    g->state = G_FAILED;
    for (int r = 0; r < 2; r++) {
        struct child *c = r == SIGNER ? &g->signer : &g->worker;
        if (c->pid)
            kill(c->pid, SIGTERM);
    }
    if (g->purpose == P_START)
        m->start_status = 2;
}

static void failed_gone(struct master *m, struct gen *g)
{
    if (g->purpose == P_START) {
        snprintf(m->start_error, sizeof(m->start_error), "%s", gen_error(g));
        return;
    }
    log_msg(FA_LOG_ERROR, "reload failed, keeping the old configuration: %s", gen_error(g));
    metrics_reload(m->a->metrics, 0, time(NULL));
}

static void answer_waiting(struct master *m);

/* The generation is ready: it serves now; the one before drains. */
static void promote(struct master *m, struct gen *g)
{
    struct gen *old = m->current;
    g->state = G_CURRENT;
    m->current = g;
    const struct master_args *a = m->a;
    if (old) {
        old->state = G_OLD;
        if (old->worker.pid) {
            old->worker.state = C_DRAINING;
            kill(old->worker.pid, SIGUSR1);
        }
        /* The old signer serves its channels until they close. */
        if (old->signer.pid)
            old->signer.state = C_DRAINING;
        close_ctl(&old->signer);
        old->signer.restart_at = old->worker.restart_at = 0;
        if (!gen_alive(old))
            free_gen(m, old);
    }
    if (g->purpose == P_START) {
        log_msg(FA_LOG_INFO,
                "fwdauthd %s starting: user %s (uid %u, gid %u)%s%s, srs_domain %s, %u SRS "
                "secret%s; master pid %d, signer pid %d, worker pid %d",
                FWDAUTH_VERSION, a->user ? a->user->name : "(unchanged)",
                (unsigned)(a->user ? a->user->uid : getuid()),
                (unsigned)(a->user ? a->user->gid : getgid()),
                a->start->chroot[0] ? ", chroot " : "", a->start->chroot, g->cfg.srs_domain,
                (unsigned)g->worker.slot, g->worker.slot == 1 ? "" : "s", (int)getpid(),
                (int)g->signer.pid, (int)g->worker.pid);
        if (m->ready_fd >= 0) {
            ssize_t w = write(m->ready_fd, "0", 1);
            (void)w;
            close(m->ready_fd);
            m->ready_fd = -1;
            detach_stdio();
        }
    } else {
        /* Now that they are in force: what this reload could not change. */
        runtime_keep_restart(&g->cfg, a->start, 1);
        log_msg(FA_LOG_INFO,
                "reloaded %s: srs_domain %s, %u SRS secret%s (signer pid %d, worker pid %d)",
                a->config_path, g->cfg.srs_domain, g->nsecrets, g->nsecrets == 1 ? "" : "s",
                (int)g->signer.pid, (int)g->worker.pid);
        metrics_reload(a->metrics, 1, time(NULL));
    }
    answer_waiting(m);
}

/* ---- signer channels for workers ---------------------------------------- */

/* The signer a worker of generation g gets: its own while that one runs
 * and takes channels, else the current generation's. */
static struct child *signer_for(struct master *m, struct gen *g)
{
    if (g->signer.pid && g->signer.ctl >= 0)
        return &g->signer;
    if (m->current && m->current->signer.pid && m->current->signer.ctl >= 0)
        return &m->current->signer;
    return NULL;
}

static void no_signer(struct child *w, const char *why)
{
    w->waits_signer = 0;
    if (w->ctl >= 0)
        ipc_send_text(w->ctl, IPC_NO_SIGNER, 0, why);
}

/* Answer a worker's IPC_NEED_SIGNER now, or leave it waiting while its
 * signer starts. */
static void give_signer(struct master *m, struct child *w)
{
    struct child *s = signer_for(m, w->gen);
    if (!s) {
        no_signer(w, "no signer is running (it is being restarted)");
        return;
    }
    if (s->state == C_STARTING) {
        w->waits_signer = 1;
        return;
    }
    int64_t now = now_ms();
    /* A worker gets a new channel when its signer changed, or once a
     * second: a worker taken over cannot make the signer hold many. */
    if (s->pid == w->last_channel_signer && now - w->last_channel_ms < 1000) {
        no_signer(w, "a channel was given less than a second ago");
        return;
    }
    int fd = channel(s);
    if (fd < 0) {
        no_signer(w, "cannot make a channel to the signer");
        return;
    }
    struct ipc_msg msg = {.type = IPC_SIGNER};
    if (ipc_send(w->ctl, &msg, fd) < 0)
        log_msg(FA_LOG_WARNING, "cannot pass a signer channel to worker pid %d: %s", (int)w->pid,
                strerror(errno));
    close(fd);
    w->waits_signer = 0;
    w->last_channel_ms = now;
    w->last_channel_signer = s->pid;
}

static void answer_waiting(struct master *m)
{
    for (size_t i = 0; i < MASTER_GENERATIONS; i++) {
        struct gen *g = m->gens[i];
        if (g && g->worker.pid && g->worker.waits_signer)
            give_signer(m, &g->worker);
    }
}

/* ---- messages from the children ----------------------------------------- */

static void maybe_promote(struct master *m, struct gen *g)
{
    if (g->state == G_STARTING && g->signer.state == C_READY && g->worker.state == C_READY)
        promote(m, g);
}

static void child_ready(struct master *m, struct child *c, uint32_t count)
{
    struct gen *g = c->gen;
    c->state = C_READY;
    c->error[0] = '\0';
    if (c->role == WORKER)
        g->nsecrets = count;
    if (g->state == G_STARTING) {
        maybe_promote(m, g);
    } else if (c->restarted) {
        log_msg(FA_LOG_INFO, "%s restarted (pid %d)", role_name(c->role), (int)c->pid);
        c->restarted = 0;
    }
    if (c->role == SIGNER)
        answer_waiting(m);
}

static void on_message(struct master *m, struct child *c)
{
    uint8_t buf[IPC_PACKET_MAX];
    struct ipc_msg msg;
    int passed;
    int r = ipc_recv(c->ctl, buf, &msg, &passed);
    if (passed >= 0)
        close(passed); /* children never pass descriptors up */
    if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) {
        if (r < 0 && errno == EBADMSG)
            log_msg(FA_LOG_WARNING, "%s pid %d sent a message that does not decode: ignoring it",
                    role_name(c->role), (int)c->pid);
        else
            close_ctl(c); /* it is ending; SIGCHLD follows */
        return;
    }
    if (r < 0)
        return;
    if (msg.type == IPC_READY && c->state == C_STARTING) {
        child_ready(m, c, msg.key);
    } else if (msg.type == IPC_ERROR && c->state == C_STARTING) {
        snprintf(c->error, sizeof(c->error), "%.*s", (int)msg.len, (const char *)msg.data);
        if (c->gen->state == G_STARTING)
            gen_failed(m, c->gen);
        else
            log_msg(FA_LOG_ERROR, "%s (pid %d) could not start: %s", role_name(c->role),
                    (int)c->pid, c->error);
    } else if (msg.type == IPC_NEED_SIGNER && c->role == WORKER) {
        give_signer(m, c);
    } else {
        log_msg(FA_LOG_WARNING, "%s pid %d sent message type %d now: ignoring it",
                role_name(c->role), (int)c->pid, msg.type);
    }
}

/* ---- children that end -------------------------------------------------- */

static struct child *find_child(struct master *m, pid_t pid)
{
    for (size_t i = 0; i < MASTER_GENERATIONS; i++) {
        struct gen *g = m->gens[i];
        if (!g)
            continue;
        if (g->signer.pid == pid)
            return &g->signer;
        if (g->worker.pid == pid)
            return &g->worker;
    }
    return NULL;
}

/* When to start c again: at once after a long life, else back off. */
static void schedule_restart(struct child *c, const char *how)
{
    int64_t now = now_ms();
    if (now - c->started_ms >= MASTER_BACKOFF_WINDOW * 1000)
        c->delay = 0;
    else
        c->delay =
            c->delay ? (c->delay * 2 > MASTER_BACKOFF_MAX ? MASTER_BACKOFF_MAX : c->delay * 2) : 1;
    c->restart_at = now + (int64_t)c->delay * 1000;
    if (c->restart_at == 0)
        c->restart_at = 1;
    c->restarted = 1;
    if (c->delay)
        log_msg(FA_LOG_ERROR, "%s %s after %.1f s; starting a new one in %u s", role_name(c->role),
                how, (double)(now - c->started_ms) / 1000, c->delay);
    else
        log_msg(FA_LOG_ERROR, "%s %s; starting a new one", role_name(c->role), how);
}

static void child_ended(struct master *m, struct child *c, int status)
{
    struct gen *g = c->gen;
    char how[160], st[96];
    describe_status(status, st, sizeof(st));
    snprintf(how, sizeof(how), "(pid %d) %s", (int)c->pid, st);
    int was = c->state;
    pid_t pid = c->pid;
    c->pid = 0;
    c->state = C_NONE;
    c->waits_signer = 0;
    close_ctl(c);
    if (c->role == WORKER) {
        metrics_clear_slot(m->a->metrics, c->slot);
        if (c->slot)
            m->slot_used[c->slot] = 0;
    }
    if (m->stopping) {
        /* The SIGTERM stop_all sent may end a child (the signer has no
         * handler for it): that is the normal end, not worth a warning. */
        if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0) &&
            !(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM))
            log_msg(FA_LOG_WARNING, "%s %s while stopping", role_name(c->role), how);
    } else if (g->state == G_STARTING) {
        if (!c->error[0])
            snprintf(c->error, sizeof(c->error), "the %s %s at start", role_name(c->role), how);
        gen_failed(m, g);
    } else if (g->state == G_CURRENT) {
        if (was == C_STARTING && c->error[0])
            schedule_restart(c, "could not start");
        else
            schedule_restart(c, how);
    } else if (g->state == G_OLD) {
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
            log_msg(FA_LOG_DEBUG, "old %s (pid %d) is done", role_name(c->role), (int)pid);
        else
            log_msg(FA_LOG_WARNING, "old %s %s", role_name(c->role), how);
    }
    /* Workers waiting for this signer: answer them (another, or none). */
    if (c->role == SIGNER)
        answer_waiting(m);
    if (!gen_alive(g) && g->state != G_CURRENT) {
        if (g->state == G_FAILED)
            failed_gone(m, g);
        free_gen(m, g);
    }
}

static void reap(struct master *m)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            return;
        struct child *c = find_child(m, pid);
        if (c)
            child_ended(m, c, status);
    }
}

/* Restarts that are due; returns the ms until the next one (-1: none). */
static int due_restarts(struct master *m)
{
    int64_t now = now_ms(), next = -1;
    struct gen *g = m->current;
    if (!g || m->stopping)
        return -1;
    struct child *order[2] = {&g->signer, &g->worker};
    for (int i = 0; i < 2; i++) {
        struct child *c = order[i];
        if (!c->restart_at || c->pid)
            continue;
        /* A worker needs its signer running. */
        if (c->role == WORKER && !g->signer.pid)
            continue;
        if (c->restart_at <= now) {
            c->restart_at = 0;
            if ((c->role == SIGNER ? fork_signer(m, g) : fork_worker(m, g)) < 0) {
                c->delay = MASTER_BACKOFF_MAX;
                c->restart_at = now + MASTER_BACKOFF_MAX * 1000;
            } else {
                c->restarted = 1;
                continue;
            }
        }
        if (next < 0 || c->restart_at - now < next)
            next = c->restart_at - now;
    }
    return (int)next;
}

/* ---- signals ------------------------------------------------------------- */

static struct gen *starting_gen(struct master *m)
{
    for (size_t i = 0; i < MASTER_GENERATIONS; i++)
        if (m->gens[i] && m->gens[i]->state == G_STARTING)
            return m->gens[i];
    return NULL;
}

static void reload(struct master *m)
{
    const struct master_args *a = m->a;
    if (starting_gen(m)) {
        m->hup_pending = 1; /* after the reload under way */
        return;
    }
    char *text = NULL;
    size_t len = 0;
    fa_err err = {{0}};
    struct fa_config cfg;
    config_init(&cfg);
    if (file_read(a->config_path, CONFIG_MAX_FILE, 0, 0, &text, &len, &err) < 0 ||
        config_load_buf(&cfg, a->config_path, text, len, &err) < 0) {
        log_msg(FA_LOG_ERROR, "reload failed, keeping the old configuration: %s", err.msg);
        metrics_reload(a->metrics, 0, time(NULL));
        config_free(&cfg);
        free(text);
        return;
    }
    log_set_level(cfg.log_level);
    start_gen(m, text, len, P_RELOAD, &cfg);
}

static void stop_all(struct master *m, int sig_workers)
{
    for (size_t i = 0; i < MASTER_GENERATIONS; i++) {
        struct gen *g = m->gens[i];
        if (!g)
            continue;
        g->signer.restart_at = g->worker.restart_at = 0;
        if (g->worker.pid)
            kill(g->worker.pid, sig_workers);
        if (g->signer.state == C_STARTING && g->signer.pid)
            kill(g->signer.pid, SIGTERM);
    }
}

/* Once every worker is gone, the signers may go too. */
static void stop_signers(struct master *m)
{
    for (size_t i = 0; i < MASTER_GENERATIONS; i++)
        if (m->gens[i] && m->gens[i]->worker.pid)
            return;
    for (size_t i = 0; i < MASTER_GENERATIONS; i++) {
        struct gen *g = m->gens[i];
        if (g && g->signer.pid) {
            close_ctl(&g->signer);
            kill(g->signer.pid, SIGTERM);
        }
    }
}

static int children_alive(const struct master *m)
{
    for (size_t i = 0; i < MASTER_GENERATIONS; i++)
        if (m->gens[i] && gen_alive(m->gens[i]))
            return 1;
    return 0;
}

static void on_signal(struct master *m, int signo)
{
    if (signo == SIGCHLD) {
        reap(m);
    } else if (signo == SIGHUP) {
        if (!m->stopping)
            reload(m);
    } else if ((signo == SIGTERM || signo == SIGINT) && !m->stopping) {
        log_msg(FA_LOG_INFO, "stopping on signal %s", signo == SIGTERM ? "TERM" : "INT");
        m->stopping = 1;
        m->stop_deadline = now_ms() + (SERVER_STOP_WAIT + 10) * 1000;
        /* No more connections queue for workers that will not take them. */
        for (size_t i = 0; i < m->a->nls; i++)
            close(m->a->ls[i].fd);
        stop_all(m, SIGTERM);
    }
}

int master_run(const struct master_args *a)
{
    struct master m = {.a = a, .ready_fd = a->ready_fd};
    proctitle_set("fwdauthd", "fwdauthd: master");
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, m.handoff) < 0) {
        fprintf(stderr, "fwdauthd: socketpair: %s\n", strerror(errno));
        return 2;
    }
    struct fa_config cfg;
    fa_err err = {{0}};
    config_init(&cfg);
    if (config_load_buf(&cfg, a->config_path, a->config_text, a->config_len, &err) < 0) {
        fprintf(stderr, "fwdauthd: %s\n", err.msg);
        config_free(&cfg);
        return 2;
    }
    if (!start_gen(&m, a->config_text, a->config_len, P_START, &cfg))
        return 2;

    for (;;) {
        if (m.stopping) {
            stop_signers(&m);
            if (!children_alive(&m))
                break;
        } else if (m.start_status && !children_alive(&m)) {
            break;
        } else if (m.hup_pending && !starting_gen(&m)) {
            m.hup_pending = 0;
            reload(&m);
        }
        int timeout = due_restarts(&m);
        if (m.stopping || m.start_status) {
            if (!m.stop_deadline)
                m.stop_deadline = now_ms() + (SERVER_STOP_WAIT + 10) * 1000;
            int64_t left = m.stop_deadline - now_ms();
            if (left <= 0) {
                for (size_t i = 0; i < MASTER_GENERATIONS; i++) {
                    struct gen *g = m.gens[i];
                    if (g && g->worker.pid)
                        kill(g->worker.pid, SIGKILL);
                    if (g && g->signer.pid)
                        kill(g->signer.pid, SIGKILL);
                }
                m.stop_deadline = now_ms() + 5000;
                left = 5000;
            }
            timeout = left > 1000 ? 1000 : (int)(left > 0 ? left : 100);
        }
        struct pollfd pfd[1 + 2 * MASTER_GENERATIONS];
        struct child *who[1 + 2 * MASTER_GENERATIONS];
        size_t n = 0;
        pfd[n].fd = a->sigfd;
        pfd[n].events = POLLIN;
        who[n++] = NULL;
        for (size_t i = 0; i < MASTER_GENERATIONS; i++) {
            struct gen *g = m.gens[i];
            if (!g)
                continue;
            struct child *cs[2] = {&g->signer, &g->worker};
            for (int r = 0; r < 2; r++)
                if (cs[r]->ctl >= 0) {
                    pfd[n].fd = cs[r]->ctl;
                    pfd[n].events = POLLIN;
                    who[n++] = cs[r];
                }
        }
        if (poll(pfd, n, timeout) < 0) {
            if (errno == EINTR)
                continue;
            log_msg(FA_LOG_ERROR, "poll: %s", strerror(errno));
            sleep(1);
            continue;
        }
        /* Messages first: a child's IPC_ERROR before its SIGCHLD. */
        for (size_t i = 1; i < n; i++)
            if (pfd[i].revents && who[i]->ctl == pfd[i].fd)
                on_message(&m, who[i]);
        if (pfd[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            while (read(a->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
                on_signal(&m, (int)si.ssi_signo);
        }
    }
    int status = m.start_status;
    if (status) {
        const char *why = m.start_error[0] ? m.start_error : "the first processes did not start";
        if (!a->foreground)
            fprintf(stderr, "fwdauthd: %s\n", why);
        log_msg(FA_LOG_ERROR, "fatal: %s", why);
    } else {
        log_msg(FA_LOG_INFO, "stopped");
    }
    for (size_t i = 0; i < MASTER_GENERATIONS; i++)
        if (m.gens[i])
            free_gen(&m, m.gens[i]);
    close(m.handoff[0]);
    close(m.handoff[1]);
    return status;
}
