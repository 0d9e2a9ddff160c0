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
 * Invariants: the file is written under an flock on NODE_DIR; an entry
 * never goes down; it is written only after replica.db committed (and
 * SQLite, synchronous=FULL, made that commit durable), so it is never
 * ahead of what this node really wrote.  It may lag: a failed write, or a
 * power cut that undoes the slots written since the last fdatasync (at
 * most about SYNC_MS, 1 s, of commits; heads.c), leaves it behind, which
 * only weakens the detection for a backup taken in that last second (and
 * a peer's VV still tells: heads_learn).  The other direction would be
 * worse: an entry ahead of every replica would refuse local writes for
 * ever, since no peer could give back txns that were never written.
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

/* fdatasync's the slots written more than SYNC_MS ago; for a long-running
 * process (serve calls it from its tick).  0, or TSYNC_EIO. */
int heads_sync(struct tsync_node *n);

/* Syncs what is left and frees the open file; from tsync_node_close. */
void heads_close(struct tsync_node *n);

#endif
