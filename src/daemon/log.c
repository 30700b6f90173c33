/* log - syslog or stderr, one line per event; see log.h. */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/* Daemon-wide log settings: the only mutable state of this module. */
static atomic_int log_level = FA_LOG_INFO;
static atomic_int log_foreground = 1;
/* Our pid for the foreground prefix, read once per process instead of a
 * getpid(2) per line; a fork (the master's children) reads it again. */
static atomic_long log_pid;

static void log_forked(void)
{
    atomic_store(&log_pid, (long)getpid());
}

static void log_init_pid(void)
{
    log_forked();
    pthread_atfork(NULL, NULL, log_forked);
}

void log_open(int foreground)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, log_init_pid);
    atomic_store(&log_foreground, foreground != 0);
    if (!foreground)
        openlog("fwdauthd", LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void log_reopen(void)
{
    if (!atomic_load(&log_foreground)) {
        closelog();
        openlog("fwdauthd", LOG_PID | LOG_NDELAY, LOG_MAIL);
    }
}

void log_set_level(int level)
{
    if (level < FA_LOG_ERROR)
        level = FA_LOG_ERROR;
    if (level > FA_LOG_DEBUG)
        level = FA_LOG_DEBUG;
    atomic_store(&log_level, level);
}

int log_get_level(void)
{
    return atomic_load_explicit(&log_level, memory_order_relaxed);
}

int log_enabled(int level)
{
    return level <= atomic_load_explicit(&log_level, memory_order_relaxed);
}

static int syslog_priority(int level)
{
    switch (level) {
    case FA_LOG_ERROR:
        return LOG_ERR;
    case FA_LOG_WARNING:
        return LOG_WARNING;
    case FA_LOG_INFO:
        return LOG_INFO;
    default:
        return LOG_DEBUG;
    }
}

static long pid_now(void)
{
    long pid = atomic_load_explicit(&log_pid, memory_order_relaxed);
    return pid ? pid : (long)getpid(); /* before log_open */
}

void log_msg(int level, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    char line[LOG_LINE_MAX + 128];
    size_t off = 0;
    int fg = atomic_load(&log_foreground);
    if (fg) {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        int n =
            snprintf(line, sizeof(line),
                     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ fwdauthd[%ld]: %s: ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, pid_now(), config_log_level_name(level));
        if (n > 0 && (size_t)n < sizeof(line))
            off = (size_t)n;
    }
    size_t start = off;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line + off, LOG_LINE_MAX, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    off += (size_t)n < LOG_LINE_MAX ? (size_t)n : LOG_LINE_MAX - 1;
    for (size_t i = start; i < off; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c < 0x20 || c == 0x7f)
            line[i] = '?';
    }
    if (fg) {
        line[off++] = '\n';
        ssize_t w = write(STDERR_FILENO, line, off);
        (void)w;
    } else {
        line[off] = '\0';
        syslog(syslog_priority(level), "%s", line);
    }
}
