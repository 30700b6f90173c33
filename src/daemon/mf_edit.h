/*
 * NAME
 *   mf_edit - header and body changes made to the MTA's copy and our own alike
 * SUMMARY
 *   The milter changes a message through end-of-message modifications
 *   (milter_mods), which the MTA applies after the milter has answered.
 *   Our DKIM signature and ARC set must cover the message as it will
 *   leave, so every change is made twice: as a modification for the MTA,
 *   and on an outgoing copy of the header fields (struct mf_out) that the
 *   signer and sealer read. This module keeps the two in step.
 * SYNOPSIS
 *   struct mf_edit e;
 *   mf_edit_init(&e, mods, received_h, received_n);
 *   mf_edit_insert_top(&e, "Authentication-Results", " mx.example.net; ...");
 *   mf_edit_change(&e, "Subject", 1, " [fwd] Hello");
 *   mf_edit_delete(&e, "Authentication-Results", 3);
 *   mf_edit_add(&e, "X-Original-From", " a@example.org");
 *   dkim_signer_finish(signer, e.h, e.n, ...)
 *   mf_edit_free(&e);
 * DESCRIPTION
 *   Indexes are those of milter_mods (milter.h): change and delete name
 *   the n-th field of that name (from 1) in the message as received, not
 *   as changed; inserts go just below the MTA's own Received: field, each
 *   above the previous one. The outgoing copy starts as the received
 *   fields (their raw text is not copied: the received fields must live
 *   until mf_edit_free) and follows the same rules. Values carry their
 *   leading space (" value"), fold with "\n" + white space, as milter.h
 *   says.
 * DIAGNOSTICS
 *   Each returns 0, or -1 when the modification was refused (milter_mods:
 *   not granted, malformed, out of room) or memory ran out; after -1 the
 *   caller tempfails the message (the MTA discards its changes).
 *   mf_edit_change and mf_edit_delete on a field that was not received
 *   change nothing in the copy and still ask the MTA (which ignores it).
 */
#ifndef FWDAUTHD_MF_EDIT_H
#define FWDAUTHD_MF_EDIT_H

#include "milter.h"
#include "msg.h"

#include <stddef.h>

struct mf_edit {
    struct milter_mods *mods;
    const struct msg_header *rh; /* the fields as received */
    size_t rn;
    struct msg_header *h; /* the fields as they will leave */
    size_t n, cap;
    char **owned; /* texts of the fields we made */
    size_t nowned, owned_cap;
};

int mf_edit_init(struct mf_edit *e, struct milter_mods *mods, const struct msg_header *rh,
                 size_t rn);
void mf_edit_free(struct mf_edit *e);

int mf_edit_insert_top(struct mf_edit *e, const char *name, const char *value);
int mf_edit_add(struct mf_edit *e, const char *name, const char *value);
int mf_edit_change(struct mf_edit *e, const char *name, unsigned nth, const char *value);
int mf_edit_delete(struct mf_edit *e, const char *name, unsigned nth);
/* Every received field of that name, highest index first. */
int mf_edit_delete_all(struct mf_edit *e, const char *name);
/* The first received field of that name changed, or the field added. */
int mf_edit_set(struct mf_edit *e, const char *name, const char *value);

/* The n-th received field of that name (from 1), or NULL. */
const struct msg_header *mf_edit_received(const struct mf_edit *e, const char *name, unsigned nth);

#endif
