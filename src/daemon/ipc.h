/*
 * NAME
 *   ipc - the messages between fwdauthd's processes
 * SUMMARY
 *   The master, the signer and the workers (master.h, signer.h, worker.h)
 *   talk over AF_UNIX SOCK_SEQPACKET socket pairs, one message per packet.
 *   This module encodes and decodes those messages and passes a file
 *   descriptor along with one (SCM_RIGHTS). Nothing else: who may send
 *   which message is the receiver's business.
 * SYNOPSIS
 *   struct ipc_msg m = {.type = IPC_SIGN, .id = 7, .key = 2, .arg = KEY_MD_SHA256,
 *                       .data = digest, .len = 32};
 *   ipc_send(fd, &m, -1);                          no descriptor with it
 *   uint8_t buf[IPC_PACKET_MAX]; struct ipc_msg r; int passed;
 *   ipc_recv(fd, buf, &r, &passed);                r.data points into buf
 *   ipc_decode(buf, n, &r);                        the parser alone (fuzz_ipc)
 * DESCRIPTION
 *   A packet is a 14-octet header and a payload:
 *     0 'F'   1 version (1)   2 type   3 arg
 *     4 id (32 bits, big-endian)   8 key (32 bits)   12 payload length (16 bits)
 *     14 payload, exactly that long: the packet has no other octets
 *   Types, arg, key and payload:
 *     IPC_DESCRIBE   worker -> signer: payload a key file path (1 to
 *                    IPC_PATH_MAX octets, no NUL); "which key is this?"
 *     IPC_DESCRIBED  signer -> worker: key = the key's index, arg = its
 *                    type (KEY_RSA, KEY_ED25519), payload its size in bits
 *                    (16 bits, big-endian): never the key
 *     IPC_SIGN       worker -> signer: key = index, arg = digest
 *                    (KEY_MD_SHA256), payload the 32-octet digest
 *     IPC_SIGNED     signer -> worker: payload the signature (1 to
 *                    KEY_SIG_MAX octets)
 *     IPC_FAIL       signer -> worker: payload why (text)
 *     IPC_READY      child -> master: started; key = a count (the signer's
 *                    keys, the worker's SRS secrets)
 *     IPC_ERROR      child -> master: could not start; payload why (text)
 *     IPC_NEED_SIGNER  worker -> master: its signer channel broke
 *     IPC_SIGNER     master -> worker: a new signer channel (descriptor
 *                    passed); IPC_NO_SIGNER: none now, payload why
 *     IPC_CLIENT     master -> signer: a new worker channel (descriptor)
 *     IPC_HANDOFF    worker -> worker: an idle table connection
 *                    (descriptor), arg = its listener kind (server.h)
 *   Texts are at most IPC_TEXT_MAX octets of printable ASCII or UTF-8
 *   (control octets are refused). The id of a reply is the id of its
 *   request. ipc_recv closes any descriptor that came with a packet it
 *   refuses, and any descriptor beyond the first.
 * SECURITY
 *   A worker parses network input and may be compromised: the signer and
 *   the master decode what workers send with this strict parser (fuzzed by
 *   fuzz/fuzz_ipc.c) and trust nothing else in it. Key material never
 *   travels: a worker names keys by path or index and gets signatures.
 * DIAGNOSTICS
 *   ipc_decode returns 0, or -1 for a packet that breaks any rule above.
 *   ipc_encode returns the packet length, or -1 when m breaks them.
 *   ipc_send returns 0, or -1 with errno (EMSGSIZE for a bad message).
 *   ipc_recv returns 1 with a message, 0 at end of file, or -1 with errno
 *   (EBADMSG for a packet that does not decode or was truncated).
 */
#ifndef FWDAUTHD_IPC_H
#define FWDAUTHD_IPC_H

#include <stddef.h>
#include <stdint.h>

#define IPC_HEADER 14
#define IPC_PATH_MAX 4095
#define IPC_TEXT_MAX 1024
#define IPC_PACKET_MAX (IPC_HEADER + IPC_PATH_MAX)

enum ipc_type {
    IPC_DESCRIBE = 1,
    IPC_DESCRIBED,
    IPC_SIGN,
    IPC_SIGNED,
    IPC_FAIL,
    IPC_READY,
    IPC_ERROR,
    IPC_NEED_SIGNER,
    IPC_SIGNER,
    IPC_NO_SIGNER,
    IPC_CLIENT,
    IPC_HANDOFF,
};

struct ipc_msg {
    int type; /* enum ipc_type */
    int arg;  /* 0..255 */
    uint32_t id;
    uint32_t key;
    const uint8_t *data; /* payload */
    size_t len;
};

int ipc_decode(const uint8_t *p, size_t n, struct ipc_msg *m);
long ipc_encode(const struct ipc_msg *m, uint8_t *out, size_t outsz);

int ipc_send(int fd, const struct ipc_msg *m, int pass_fd);
/* buf: IPC_PACKET_MAX octets; *passed: a descriptor that came with it, or -1. */
int ipc_recv(int fd, uint8_t *buf, struct ipc_msg *m, int *passed);

/* Send IPC_READY / IPC_ERROR / IPC_FAIL-like text messages: text cut at
 * IPC_TEXT_MAX octets and control characters replaced by "?". */
int ipc_send_text(int fd, int type, uint32_t id, const char *text);

#endif
