/*
 * receipt.h - receipts a village cannot undo, and equivocation evidence
 * (docs/protocol.md, section 8.3; docs/data-model.md, "Receipts and
 * evidence").
 *
 * A parent countersigns the heads of the streams it received from a child
 * by writing rows of the replicated table `receipts` in its own scope: an
 * ordinary local txn, so the receipt is signed and hash-chained by the
 * parent's stream and travels up with every check the engine makes.  A
 * node that sees two heads for one (origin, scope, seq) writes a row of
 * `evidence` in its own scope, with both signed bodies where it holds
 * them, so the district can check both signatures itself.
 *
 * Both are written through tsync_node_begin/commit; an auditor (which may
 * not write) and a node refusing writes (restored, clock) only log.
 */
#ifndef TSYNC_RECEIPT_H
#define TSYNC_RECEIPT_H

#include <stddef.h>
#include <stdint.h>

#include "keys.h"

struct tsync_node;

/* A parent refreshes its receipts for a link that stays up at most this
 * often (and at the end of each session, on the child's DONE). */
#define RECEIPT_EVERY_MS (10u * 60 * 1000)
/* Evidence records written per scan, so a flood stays bounded. */
#define EVIDENCE_SCAN_MAX 64

/* How a second head was seen (evidence.how). */
#define EV_TXN "txn"         /* a signed txn at a seq held with another hash */
#define EV_CHAIN "chain"     /* a signed txn whose prev is not our seq-1 */
#define EV_VV "vv"           /* a peer's VV/DONE entry with another hash */
#define EV_RECEIPT "receipt" /* a receipt naming another hash */

/*
 * Writes or raises this node's receipt for every stream it holds whose
 * scope lies within `child_scope` and whose origin's certificate does too
 * (the child's subtree wrote it), except its own streams: (witness =
 * this node, origin, scope) -> (seq, head hash, now_ms).  Only rows that
 * moved are written, in one local txn.  *written counts them.  0 when the
 * node may not write (an auditor): nothing to do.
 */
int receipt_update(struct tsync_node *n, const char *child_scope,
		   uint64_t now_ms, unsigned *written);

/*
 * A peer's VV or DONE says it holds (origin, scope, seq) with `hash`.  If
 * this node holds that seq with another hash, records evidence (how "vv",
 * the peer as witness) and returns 1; 0 when it agrees or is not held;
 * negative on a store error.
 */
int evidence_vv(struct tsync_node *n, uint64_t origin, const char *scope,
		size_t len, uint64_t seq, const uint8_t hash[KEYS_HASH_LEN],
		uint64_t peer, uint64_t now_ms);

/* The highest quarantine record id, to scan what a batch adds. */
int64_t evidence_qmark(struct tsync_node *n);

/*
 * Turns quarantine records after `after_qid` that prove equivocation into
 * evidence: an `equivocation` txn, or a `broken chain` txn (seq = head + 1
 * whose prev is not the head's hash), each only if its signature verifies
 * with the origin's key.  *found counts records written.
 */
int evidence_from_quarantine(struct tsync_node *n, int64_t after_qid,
			     uint64_t peer, uint64_t now_ms, unsigned *found);

/*
 * Receipts held (from any witness) naming a seq this node holds with
 * another hash become evidence (how "receipt").  *found counts them.
 */
int evidence_from_receipts(struct tsync_node *n, uint64_t now_ms,
			   unsigned *found);

/*
 * For verify: every evidence row, and every receipt naming a seq this
 * node holds with another hash, as one fault line each.
 */
typedef void (*receipt_fault_cb)(void *arg, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int receipt_audit(struct tsync_node *n, receipt_fault_cb cb, void *arg);

#endif
