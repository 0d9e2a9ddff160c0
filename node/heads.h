/*
 * heads.h - NODE_DIR/heads: how far this node's own streams reached, kept
 * outside replica.db.
 *
 * A replica restored from an older backup holds its own streams only up to
 * the backup.  Writing then would reuse seqs that peers already hold with
 * other contents (equivocation).  The heads file remembers, per stream of
 * this node, the highest seq known to exist: the last one written here,
 * or one a peer's VV showed.  While replica.db holds less of any of them
 * the node is "restored, not recovered" and refuses local writes; fetching
 * the missing txns back (from any peer: they are signed by this node)
 * ends it.  See docs/operations.md, "Backing up and restoring".
 *
 * Invariants: the file is replaced atomically (written, fsync'd, renamed)
 * under an flock on NODE_DIR; an entry never goes down;
 * it is written only after replica.db committed, so it is never ahead of
 * what this node really wrote (a failed write leaves it behind, which
 * only weakens the detection).
 */
#ifndef TSYNC_HEADS_H
#define TSYNC_HEADS_H

#include <stddef.h>
#include <stdint.h>

struct tsync_node;

/* 0 when replica.db holds every stream of this node as far as the heads
 * file says; else the refusal (TSYNC_EBUSY) with a message saying what to
 * do.  Called inside the commit's write transaction. */
int heads_check(struct tsync_node *n);

/* Records replica.db's heads of this node's streams; after a commit.
 * Entries only rise.  Failure is returned but the commit stands. */
int heads_save(struct tsync_node *n);

/* A peer (`peer_id`) holds this node's stream `scope` up to `seq`, more
 * than replica.db: the replica was restored.  Raises the entry. */
int heads_learn(struct tsync_node *n, const char *scope, size_t scope_len,
		uint64_t seq, uint64_t peer_id);

#endif
