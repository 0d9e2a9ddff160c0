/*
 * apply.h - applying txns received from a peer or a bundle.
 *
 * A batch is applied in one SQLite transaction.  Each txn is checked
 * before any of its changes touch the replica:
 *   - it decodes, and names a stream this node may hold (visibility);
 *   - its origin's certificate is known, signed by the district CA, and
 *     allows the txn's scope and role;
 *   - its seq is the next of its stream and it links to the stream head
 *     (a txn at a seq already held is a duplicate if the bytes are the
 *     same and equivocation if not);
 *   - the newest txn of each run of one stream in the batch carries a
 *     valid signature; the hash links below it then authenticate the whole
 *     run.  If that signature fails the run is redone checking every
 *     signature, so the good txns before a forged one are kept.
 * A txn failing any check is quarantined (ts_quarantine) with its reason,
 * the peer it came from and the time; the rest of the batch is applied.
 * A change to an id another scope already uses is not a failed check: the
 * txn is held, and the id's owner (its earliest creation) decides what the
 * row shows; the other scope's changes are kept aside in ts_clash
 * (docs/data-model.md, "One id, two scopes").
 *
 * Merge: per column, the larger version (hlc, origin) wins; the row slot
 * decides whether the row is live (see docs/data-model.md).  Applying a
 * txn twice changes nothing.
 */
#ifndef TSYNC_APPLY_H
#define TSYNC_APPLY_H

#include <stddef.h>
#include <stdint.h>

struct tsync_node;

struct wire_txn {
	const uint8_t *body;
	size_t len;
	const uint8_t *sig; /* 64 bytes */
};

struct apply_report {
	unsigned applied;
	unsigned duplicate;
	unsigned rejected;
	char first_reject[256];
};

/* Told of every txn now held (applied or duplicate). */
typedef void (*apply_held_cb)(void *arg, uint64_t origin, const char *scope,
			      size_t scope_len, uint64_t seq);

/* Applies and commits a batch; `peer` names the source for quarantine. */
int apply_batch(struct tsync_node *n, const struct wire_txn *t, size_t count,
		const char *peer, struct apply_report *rep,
		apply_held_cb held, void *held_arg);

/*
 * The same inside the caller's open transaction (as a savepoint): the
 * caller commits, and only then may it acknowledge the batch.
 */
int apply_batch_in(struct tsync_node *n, const struct wire_txn *t,
		   size_t count, const char *peer, struct apply_report *rep,
		   apply_held_cb held, void *held_arg);

/*
 * Merges from the log what an older schema did not know (after a
 * migration; see apply.c).  old_ncol[tid]: the table's columns before.
 */
int apply_later(struct tsync_node *n, const int *old_ncol,
		int scan_all, uint64_t *merged);

/*
 * Cuts stream `sid` back to seq `keep`: the txns after it move to the
 * quarantine with reason `why` (peer: `peer`), the stream's head goes back
 * to seq keep, and every row they touched is merged again from the txns
 * still held.  *moved: how many.  Runs inside the caller's transaction
 * (a revocation list that does not accept them, node/revoke.c).
 */
int apply_cut(struct tsync_node *n, int64_t sid, uint64_t keep,
	      const char *why, const char *peer, uint64_t *moved);

/* Total txns ever applied from peers (ts_meta "applied_txns"). */
uint64_t apply_total(struct tsync_node *n);

#endif
