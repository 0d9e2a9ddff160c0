/*
 * snap.h - the wire side of a snapshot first pull (docs/protocol.md,
 * section 3.14): SNAP_REQ, SNAP_OFFER, SNAP_DATA, SNAP_END and
 * SNAP_RESULT, message types 40 to 44 (skippable, protocol 2).
 *
 * The session (session.c) calls these at its HELLO, for each of those
 * frames and when it fills its window; they write frames into the
 * session's output and say through struct snap_res what the session must
 * do (fail, log, take the snapshot's version vector as what the peer
 * holds).  No I/O: the rows are read and written by node/snapshot.c.
 *
 * States, puller:  ASKED --OFFER ok--> RECEIVING --END--> (check) DONE
 *                  ASKED --OFFER no--> DONE;  any --bad chunk--> SKIP
 *                  SKIP --END--> DONE
 *          peer:   (REQ) STREAMING --last chunk, END--> WAITING
 *                  WAITING --RESULT--> DONE;  (REQ refused) DONE
 * While a side is not DONE the ordinary flow waits: no BATCH, no DONE.
 */
#ifndef TSYNC_SNAP_H
#define TSYNC_SNAP_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"

struct tsync_node;
struct snap;

struct snap_ctx {
	struct tsync_node *n;
	struct ts_buf *out;     /* the session's output */
	size_t out_pending;  /* of it, bytes not yet written */
	const char *peer_name, *peer_scope, *peer_role;
	unsigned proto;
	uint32_t peer_schema;
	size_t chunk_bytes;  /* bytes of values per SNAP_DATA */
};

struct snap_res {
	int wire;        /* > 0: fail the session: ERROR `wire`, `text` */
	int rc;          /* with it, the TSYNC_E* code */
	char text[300];
	char log[480];   /* a line to log, or "" */
	int warn;        /* the line is a warning */
	int done;        /* the snapshot ended now; ok: it stands */
	int ok;
	int stalled;     /* this call ran the check: the peer's clock moved */
	uint64_t txns;   /* puller: txns the snapshot brought */
};

/* At the peer's HELLO: may ask for a snapshot, or refuse the session. */
int snap_hello(struct snap **sp, const struct snap_ctx *c,
	       struct snap_res *r);
/* One frame of type WIRE_SNAP_*. */
int snap_frame(struct snap **sp, const struct snap_ctx *c,
	       const struct frame *f, struct snap_res *r);
/* Sends chunks while the output is short; 1 while the ordinary flow must
 * wait. */
int snap_pump(struct snap *sp, const struct snap_ctx *c, struct snap_res *r);
/* Puller: the peer went on without answering SNAP_REQ (a release before
 * snapshots skipped it).  Returns 1 (and gives up) if we were waiting. */
int snap_unanswered(struct snap *sp);
/* 1 while the peer checks our snapshot: no idle timeout, no PING. */
int snap_waiting(const struct snap *sp);
/* Peer: stream i of the snapshot (0 when i is past the end). */
int snap_vv_at(const struct snap *sp, size_t i, uint64_t *origin,
	       const char **scope, uint64_t *seq);
/* Frees; a snapshot still arriving is discarded (the replica is empty). */
void snap_free(struct snap *sp);

#endif
