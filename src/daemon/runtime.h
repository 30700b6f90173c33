/*
 * NAME
 *   runtime - the daemon's current configuration snapshot, swapped on SIGHUP
 * SUMMARY
 *   A struct runtime holds one loaded configuration and what is built from
 *   it (SRS, resolver, keys, ...). It never changes after it is loaded. A
 *   worker (worker.h) loads one at start and runtime_install publishes it;
 *   a SIGHUP replaces the worker (master.h), not the snapshot. Connection
 *   threads hold a reference while they use one. fwdauthd -t loads one to
 *   check a configuration.
 * SYNOPSIS
 *   struct runtime *rt = runtime_load(path, secrets_owner, metrics, &err);   keys read here
 *   struct runtime_opts o = {.config_text = t, .config_len = n, .keep = &start_cfg,
 *                            .keys = &loader, .secrets_owner = uid, .metrics = m};
 *   rt = runtime_load_with(path, &o, &err);   a worker: keys through its signer
 *   runtime_install(rt);                      publishes; drops the old one
 *   struct runtime *cur = runtime_acquire();  +1 reference
 *   if (runtime_generation() != cur->generation) ... a newer one exists
 *   runtime_release(cur);
 * DESCRIPTION
 *   runtime_load reads the file and builds what the listeners need: the
 *   srs object when srs_domain or srs_secrets is set (required by the
 *   socketmap and tcp_table listeners; its secrets file must be owned by
 *   root or by secrets_owner, secfile.h), and for the milter the resolver
 *   (dns_* settings), the signing keys (dkim_key_table and
 *   dkim_signing_table, both or neither; forward_signing_key must name a
 *   KeyTable entry; key files owned by root or secrets_owner), the parsed
 *   internal_hosts, the authserv-id (this host's name by default), the ARC
 *   sealing key (arc_key with arc_domain and arc_selector, all or none) and
 *   the From-rewrite settings (from_rewrite_address within the
 *   forward_signing_key's domain, so the rewritten From: aligns).
 *   runtime_load_with does the same from o->config_text when set (the
 *   text the master read, named path in errors), else from the file;
 *   loads the key files through o->keys when set (keys.h: a worker's
 *   loader returns remote keys, signer_client.h), else reads them here
 *   (owned by root or o->secrets_owner); and first copies into the
 *   configuration the restart-only settings of o->keep when set.
 *   runtime_keep_restart copies into fresh the settings that only a
 *   restart can change (listen addresses, user, chroot) from old, and
 *   with log nonzero logs "changed X needs a restart; keeping X = old"
 *   for each that differs.
 *   metrics (metrics.h, may be NULL) is the daemon's registry, owned by
 *   main and outliving every snapshot: each snapshot keeps the pointer for
 *   the milter (mailflow.h counts messages, results, signatures) and hands
 *   the resolver an observer that counts DNS latency and errors.
 *   runtime_acquire takes a mutex only for the pointer copy and the count;
 *   runtime_generation is one atomic load, cheap enough for every request.
 * SECURITY
 *   Secrets stay inside the srs object; nothing here logs them.
 * DIAGNOSTICS
 *   runtime_load returns NULL with the reason in err. Every reason names
 *   the FILE:LINE of the setting it is about (config_fail): the line that
 *   set it, or the file when the setting was left at its default; errors
 *   inside the files it names (secrets, key tables, keys, zone file) also
 *   name that file (and its line).
 */
#ifndef FWDAUTHD_RUNTIME_H
#define FWDAUTHD_RUNTIME_H

#include "config.h"
#include "dns.h"
#include "err.h"
#include "fwdchange.h"
#include "keytable.h"
#include "nets.h"
#include "policy.h"
#include "srs.h"
#include "stagehdr.h"

#include <stdatomic.h>
#include <sys/types.h>

struct runtime {
    atomic_uint refs;
    unsigned long generation;
    struct fa_config cfg;
    srs *srs;                /* NULL when no SRS is configured (milter only) */
    struct dns *dns;         /* milter: DKIM key lookups; NULL without milter_listen */
    struct keytable *keys;   /* milter: signing keys; NULL without dkim_key_table */
    struct fa_key *arc_key;  /* milter: ARC sealing key; NULL without arc_key */
    struct nets internal;    /* internal_hosts, parsed */
    char authserv_id[256];   /* authserv_id, or this host's name */
    struct metrics *metrics; /* the daemon's registry (not owned); may be NULL */

    /* The forwarder's own changes (forward_*): checked when loaded. */
    struct fwdchange_footer_spec footer; /* .text NULL: no footer */
    char *footer_text, *footer_html;     /* what footer points at */
    char *header_name, *header_value;    /* forward_header split; NULL: none */
    stagehdr_keys *stage_keys;           /* stage_secrets; NULL: one stage */
};

/* srs_secret_count, or 0 without SRS (for logs). */
size_t runtime_srs_secrets(const struct runtime *rt);

struct metrics;
struct runtime_opts {
    const char *config_text; /* NULL: read path */
    size_t config_len;
    const struct fa_config *keep;  /* restart-only settings to keep; NULL: none */
    const struct key_loader *keys; /* NULL: key files read here */
    uid_t secrets_owner;           /* accepted owner of secrets (and keys) besides root */
    struct metrics *metrics;       /* may be NULL */
};
struct runtime *runtime_load(const char *path, uid_t secrets_owner, struct metrics *metrics,
                             fa_err *err);
struct runtime *runtime_load_with(const char *path, const struct runtime_opts *o, fa_err *err);
void runtime_keep_restart(struct fa_config *fresh, const struct fa_config *old, int log);
void runtime_install(struct runtime *rt);
struct runtime *runtime_acquire(void);
void runtime_release(struct runtime *rt);
unsigned long runtime_generation(void);

#endif
