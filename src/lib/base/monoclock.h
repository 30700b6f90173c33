/*
 * NAME
 *   monoclock - the monotonic clock, in seconds or milliseconds
 * SUMMARY
 *   For deadlines and durations (DNS timeouts, idle connections, signing
 *   and query latency): CLOCK_MONOTONIC does not jump with the wall clock.
 * SYNOPSIS
 *   double t0 = monoclock_seconds(); ... elapsed = monoclock_seconds() - t0;
 *   int64_t deadline = monoclock_ms() + timeout_ms;
 * DESCRIPTION
 *   The values count from an unspecified point (the boot, on Linux): only
 *   differences between two readings mean anything. Both functions are
 *   inline, in this header alone (no .c file).
 * DIAGNOSTICS
 *   None: clock_gettime(CLOCK_MONOTONIC) cannot fail on the systems we
 *   build on (POSIX requires the clock), so its result is not checked.
 */
#ifndef FWDAUTH_MONOCLOCK_H
#define FWDAUTH_MONOCLOCK_H

#include <stdint.h>
#include <time.h>

static inline double monoclock_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline int64_t monoclock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
