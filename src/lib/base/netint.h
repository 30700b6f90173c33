/*
 * NAME
 *   netint - 32-bit integers in network byte order
 * SUMMARY
 *   The length and number fields of the milter protocol, fwdauthd's
 *   inter-process messages and the milter probe of fwdauth doctor.
 * SYNOPSIS
 *   uint32_t len = netint_get32(packet);
 *   netint_put32(reply, len);
 * DESCRIPTION
 *   Byte by byte, so the pointer needs no alignment and the host's byte
 *   order does not matter. Inline, in this header alone (no .c file).
 * DIAGNOSTICS
 *   None: the caller guarantees four readable (writable) octets.
 */
#ifndef FWDAUTH_NETINT_H
#define FWDAUTH_NETINT_H

#include <stdint.h>

static inline uint32_t netint_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void netint_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

#endif
