/*
 * snapshot.h - the store side of a snapshot first pull (docs/protocol.md,
 * section 3.14): a consistent read of the replicated tables on the peer,
 * and landing, checking, keeping or discarding them on the puller.
 *
 * The peer reads through its own read-only connection, so the snapshot is
 * one SQLite read transaction (WAL keeps it consistent while the node goes
 * on writing) and the node's connection stays free.  The puller writes
 * through the node's connection in a few large transactions; ts_meta key
 * `snapshot` says where it stands:
 *
 *   (absent)     an ordinary replica
 *   receiving    rows are arriving; an interruption discards them
 *   unverified   every row is in; the check runs
 *   verified ... the check passed (the text says from whom and when)
 *
 * A replica whose key says receiving or unverified serves nothing, and the
 * next pull discards it first (snap_discard), so a crash never leaves a
 * half-checked replica in service.  Memory is bounded by one chunk on
 * either side, never by the replica.
 *
 * Does not: speak the wire (replication/snapshot.c).
 */
#ifndef TSYNC_SNAPSHOT_H
#define TSYNC_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "node_int.h"

/* Objects in one SNAP_DATA chunk: well under FRAME_ELEMS_MAX. */
#define SNAP_CHUNK_OBJS (1u << 18)
/* Bytes after which the puller commits and opens the next transaction. */
#define SNAP_COMMIT_BYTES (256u << 20)
/* Page cache of the check's scratch tables (KiB, negative: SQLite's). */
#define SNAP_CHECK_CACHE "-65536"

/* ---- the peer ------------------------------------------------------- */

struct snap_reader;

/* Opens a read transaction on replica.db through a second connection. */
int snap_reader_open(struct tsync_node *n, struct snap_reader **out);
void snap_reader_free(struct snap_reader *r);
/* The streams of the snapshot (its version vector), in sid order. */
const struct stream_row *snap_reader_vv(const struct snap_reader *r,
					size_t *count);
/*
 * Packs [[name, [col, ...]], ...] (the tables that will follow) and
 * [[tid, name, cols], ...] (ts_tables, which both sides must share).
 */
int snap_reader_pack_tables(struct snap_reader *r, msgpack_packer *pk);
/*
 * Packs the elements of the next SNAP_DATA after its type, as
 * `table:str, ncol:uint, values:array`, into pk: at most max_bytes of
 * values (a first row larger still travels alone) and SNAP_CHUNK_OBJS
 * objects.  Returns 1 when a chunk was packed, 0 at the end, or an error.
 */
int snap_reader_next(struct snap_reader *r, msgpack_packer *pk,
		     size_t max_bytes, uint64_t *rows);

/* ---- the puller ------------------------------------------------------ */

struct snap_writer;

/* ts_meta `snapshot` into out; TSYNC_ENOENT when the key is absent. */
int snap_state(struct tsync_node *n, char *out, size_t len);
/* 1 when the replica holds no stream (and may take a snapshot). */
int snap_empty(struct tsync_node *n);
/* Removes every row a snapshot brought, and the key: an empty replica. */
int snap_discard(struct tsync_node *n);
/*
 * Checks the offer's tables against this replica's (same ts_tables, same
 * columns) and that the replica is empty, marks it `receiving` and opens
 * the first transaction.  why receives the reason of a refusal.
 */
int snap_writer_begin(struct tsync_node *n, const msgpack_object *tables,
		      uint32_t ntables, const msgpack_object *tids,
		      uint32_t ntids, struct snap_writer **out, char *why,
		      size_t whylen);
/* Inserts one chunk: nvals values, ncol per row, into `table`. */
int snap_writer_rows(struct snap_writer *w, const char *table,
		     uint32_t tlen, uint64_t ncol, const msgpack_object *vals,
		     uint32_t nvals);
/*
 * Commits what arrived, marks the replica `unverified`, checks it (every
 * stream's chain, each stream head's signature and the origin's
 * certificate to the district CA, every table against the fold of the
 * log, and that the heads equal the offer's vv) and marks it verified.
 * On a failed check the rows are discarded and `why` names the first
 * faults; returns TSYNC_EVERIFY.  The writer is freed in every case.
 */
int snap_writer_end(struct snap_writer *w, const msgpack_object *vv,
		    uint32_t nvv, const char *from, uint64_t *txns,
		    char *why, size_t whylen);
/* An interrupted snapshot: rolls back and discards; frees w. */
void snap_writer_abort(struct snap_writer *w);

/* verify.c: tsync_node_verify() with flags. */
#define VERIFY_HEAD_SIGS 1 /* only each stream head's signature: the
			    * chain vouches for the txns below it */
int verify_run(struct tsync_node *n, int flags, tsync_fault_cb cb,
	       void *arg);

#endif
