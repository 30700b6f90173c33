/*
 * NAME
 *   monoclock - the monotonic clock, in seconds or milliseconds
 * SUMMARY
 *   For deadlines and durations (DNS timeouts, idle connections, signing
 *   and query latency): CLOCK_MONOTONIC does not jump with the wall clock.
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
