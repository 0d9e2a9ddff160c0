/*
 * snap.c - the wire side of a snapshot first pull; see snap.h and
 * docs/protocol.md, section 3.14.
 *
 * Invariants:
 *  - only a puller whose replica is empty asks, and only a peer whose
 *    every stream the puller may see offers: a filtered snapshot is never
 *    made, so what travels is the peer's whole replicated data;
 *  - the peer builds a chunk only while less than two chunks of its
 *    output wait to be written, so its memory is one chunk and the read
 *    cursor, never the replica; the puller lands each chunk at once;
 *  - nothing of a snapshot is used before the check passed: until then
 *    the puller sends no BATCH and no DONE, and node/snapshot.c marks the
 *    replica so that no other session is served from it;
 *  - every way out of RECEIVING but a passed check discards the rows.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node_int.h"
#include "scope.h"
#include "snap.h"
#include "snapshot.h"
#include "txn.h"

enum snap_state { SN_ASKED, SN_RECEIVING, SN_SKIP, SN_STREAMING,
		  SN_WAITING, SN_DONE };

struct snap {
	int state;
	struct snap_reader *rd;   /* peer */
	struct snap_writer *wr;   /* puller */
	struct ts_buf vv;            /* puller: the offer's vv, packed */
	struct stream_row *sent;  /* peer: the snapshot's vv, once sent */
	size_t nsent;
	uint64_t rows, chunks, t0;
};

static void __attribute__((format(printf, 3, 4)))
say(struct snap_res *r, int warn, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->log, sizeof(r->log), fmt, ap);
	va_end(ap);
	r->warn = warn;
}

static int __attribute__((format(printf, 4, 5)))
bad(struct snap_res *r, int rc, int wire, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->text, sizeof(r->text), fmt, ap);
	va_end(ap);
	r->wire = wire;
	r->rc = rc;
	return rc;
}

/* [type] or [type, ok, text] (RESULT, END with rows appended). */
static void
send_small(const struct snap_ctx *c, int type, int ok, const char *text,
	   int rows, uint64_t nrows)
{
	msgpack_packer pk;
	size_t f = frame_begin(c->out, &pk);

	msgpack_pack_array(&pk, type == WIRE_SNAP_REQ ? 1 : 3 + rows);
	msgpack_pack_uint8(&pk, (uint8_t)type);
	if (type != WIRE_SNAP_REQ) {
		msgpack_pack_uint8(&pk, ok ? 1 : 0);
		msgpack_pack_str_with_body(&pk, text, strlen(text));
		if (rows)
			msgpack_pack_uint64(&pk, nrows);
	}
	frame_end(c->out, f);
}

static struct snap *
snap_alloc(int state)
{
	struct snap *sp = calloc(1, sizeof(*sp));

	if (sp != NULL) {
		sp->state = state;
		ts_buf_init(&sp->vv, NULL, 0);
	}
	return sp;
}

void
snap_free(struct snap *sp)
{
	if (sp == NULL)
		return;
	snap_writer_abort(sp->wr); /* NULL unless interrupted */
	snap_reader_free(sp->rd);
	ts_buf_free(&sp->vv);
	free(sp->sent);
	free(sp);
}

/* 1 if ts_meta says a snapshot arrived here and was not checked yet. */
static int
unverified(struct tsync_node *n)
{
	char st[200];

	return snap_state(n, st, sizeof(st)) == 0 &&
	       strncmp(st, "verified", 8) != 0;
}

/*
 * A node asks for a snapshot only when its tiersync.conf says
 * `snapshot_first_pull = yes`.  The check (verify's fold of the log) is
 * slower than the ordinary pull today (docs/performance.md: 1M txns took
 * about 115 s by snapshot, 7-12 s by the ordinary pull in the same
 * runs), and a
 * snapshot holds the replica's write transaction open while it lands, so
 * it stays a choice for an office that wants a whole replica checked in
 * one go (docs/operations.md).
 */
static int
snap_opted(struct tsync_node *n)
{
	char v[16];
	int rc = node_conf_get(n, "snapshot_first_pull", v, sizeof(v));

	n->errmsg[0] = '\0';
	return rc == 0 && strcmp(v, "yes") == 0;
}

int
snap_hello(struct snap **sp, const struct snap_ctx *c, struct snap_res *r)
{
	struct tsync_node *n = c->n;
	int left = unverified(n), want;

	*sp = NULL;
	if (!sqlite3_get_autocommit(n->db))
		return bad(r, TSYNC_EBUSY, ERR_INTERNAL,
			   "this node is receiving a snapshot first pull and "
			   "serves nothing until it is checked; try later");
	want = snap_opted(n) && c->proto >= 2 &&
	       strcmp(c->peer_role, "office") == 0 &&
	       c->peer_schema == SCHEMA_VERSION &&
	       scope_within(n->scope, c->peer_scope) &&
	       (left || snap_empty(n));
	if (left && !want)
		return bad(r, TSYNC_EBUSY, ERR_INTERNAL,
			   "this node's replica is unverified (an interrupted "
			   "snapshot first pull); it serves nothing until a "
			   "pull from its parent replaced it");
	if (!want)
		return 0;
	if (left && snap_discard(n) != 0)
		return bad(r, TSYNC_EIO, ERR_INTERNAL,
			   "cannot discard an unverified snapshot: %s",
			   tsync_node_errmsg(n));
	if ((*sp = snap_alloc(SN_ASKED)) == NULL)
		return bad(r, TSYNC_ENOMEM, ERR_INTERNAL, "out of memory");
	(*sp)->t0 = ts_now_ms(&n->ops);
	send_small(c, WIRE_SNAP_REQ, 0, "", 0, 0);
	say(r, 0, "%sreplica empty: asking %s for a snapshot first pull",
	    left ? "discarded an unverified snapshot; " : "", c->peer_name);
	return 0;
}

/* Why this node offers no snapshot to the peer, or NULL. */
static const char *
refusal(const struct snap_ctx *c, struct snap_reader **rd, char *why,
	size_t len)
{
	struct tsync_node *n = c->n;
	const struct stream_row *v;
	size_t cnt, i;

	*rd = NULL;
	if (strcmp(n->role, "office") != 0)
		return "an auditor sends nothing";
	if (c->peer_schema != SCHEMA_VERSION) {
		ts_fmt(why, len, "the peer has schema %u, this node %u",
		       c->peer_schema, SCHEMA_VERSION);
		return why;
	}
	if (unverified(n))
		return "this node's own replica is not verified";
	if (snap_reader_open(n, rd) != 0) {
		ts_fmt(why, len, "%s", tsync_node_errmsg(n));
		return why;
	}
	v = snap_reader_vv(*rd, &cnt);
	for (i = 0; i < cnt; i++)
		if (!scope_may_see(c->peer_scope, c->peer_role, v[i].scope)) {
			ts_fmt(why, len, "this replica holds streams the peer "
					 "may not see (scope %s); a filtered "
					 "snapshot is not offered",
			       v[i].scope);
			snap_reader_free(*rd);
			*rd = NULL;
			return why;
		}
	return NULL;
}

static int
on_req(struct snap **sp, const struct snap_ctx *c, struct snap_res *r)
{
	struct snap_reader *rd;
	const struct stream_row *v;
	msgpack_packer pk;
	char why[300];
	const char *no;
	size_t f, cnt, i;
	uint64_t txns = 0;

	if (*sp != NULL)
		return bad(r, TSYNC_EPROTO, ERR_MALFORMED, "unexpected SNAP_REQ");
	no = refusal(c, &rd, why, sizeof(why));
	if ((*sp = snap_alloc(no ? SN_DONE : SN_STREAMING)) == NULL) {
		snap_reader_free(rd);
		return bad(r, TSYNC_ENOMEM, ERR_INTERNAL, "out of memory");
	}
	(*sp)->rd = rd;
	(*sp)->t0 = ts_now_ms(&c->n->ops);
	f = frame_begin(c->out, &pk);
	msgpack_pack_array(&pk, 6);
	msgpack_pack_uint8(&pk, WIRE_SNAP_OFFER);
	msgpack_pack_uint8(&pk, no ? 0 : 1);
	msgpack_pack_str_with_body(&pk, no ? no : "", no ? strlen(no) : 0);
	cnt = 0;
	v = rd ? snap_reader_vv(rd, &cnt) : NULL;
	msgpack_pack_array(&pk, 3 * cnt);
	for (i = 0; i < cnt; i++) {
		msgpack_pack_uint64(&pk, v[i].origin);
		msgpack_pack_str_with_body(&pk, v[i].scope, strlen(v[i].scope));
		msgpack_pack_uint64(&pk, v[i].seq);
		txns += v[i].seq;
	}
	if (rd == NULL) {
		msgpack_pack_array(&pk, 0);
		msgpack_pack_array(&pk, 0);
	} else if (snap_reader_pack_tables(rd, &pk) != 0) {
		c->out->len = f;
		return bad(r, TSYNC_EIO, ERR_INTERNAL,
			   "cannot read the tables for a snapshot");
	}
	frame_end(c->out, f);
	if (no)
		say(r, 0, "no snapshot for %s: %s; it takes the ordinary pull",
		    c->peer_name, no);
	else
		say(r, 0, "sending %s a snapshot of %zu streams, %llu txns",
		    c->peer_name, cnt, (unsigned long long)txns);
	return 0;
}

/* 1 if vv is a well-formed flat array of VV_MAX triples at most. */
static int
vv_ok(const msgpack_object *a, uint32_t n)
{
	uint32_t i;

	if (n % 3 != 0 || n / 3 > VV_MAX)
		return 0;
	for (i = 0; i < n; i += 3)
		if (a[i].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
		    a[i + 1].type != MSGPACK_OBJECT_STR ||
		    a[i + 1].via.str.size > SCOPE_MAX ||
		    a[i + 2].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
			return 0;
	return 1;
}

static int
on_offer(struct snap *sp, const struct snap_ctx *c, const struct frame *f,
	 struct snap_res *r)
{
	const msgpack_object *vv, *tables, *tids;
	uint32_t nvv, nt, ntid, tl = 0;
	uint64_t ok;
	const char *text = "";
	char why[300];
	msgpack_packer pk;
	int rc;

	if (sp == NULL || sp->state != SN_ASKED)
		return bad(r, TSYNC_EPROTO, ERR_MALFORMED,
			   "unexpected SNAP_OFFER");
	if (frame_u64(f, 1, &ok) != 0 || frame_str(f, 2, &text, &tl) != 0 ||
	    frame_arr(f, 3, &vv, &nvv) != 0 || frame_arr(f, 4, &tables, &nt) ||
	    frame_arr(f, 5, &tids, &ntid) != 0 || !vv_ok(vv, nvv))
		return bad(r, TSYNC_EPROTO, ERR_MALFORMED,
			   "malformed SNAP_OFFER");
	if (!ok) {
		sp->state = SN_DONE;
		r->done = 1;
		say(r, 0, "%s offers no snapshot: %.*s; taking the ordinary "
			  "pull", c->peer_name, (int)(tl > 200 ? 200 : tl),
		    text);
		return 0;
	}
	rc = snap_writer_begin(c->n, tables, nt, tids, ntid, &sp->wr, why,
			       sizeof(why));
	if (rc != 0) {
		/* Tell the peer at once; skip its chunks until its END. */
		sp->state = SN_SKIP;
		send_small(c, WIRE_SNAP_RESULT, 0, why, 0, 0);
		say(r, 1, "snapshot from %s refused, taking the ordinary "
			  "pull: %s", c->peer_name, why);
		return 0;
	}
	txn_packer(&pk, &sp->vv);
	msgpack_pack_object(&pk, f->a[3]);
	if (sp->vv.err) {
		snap_writer_abort(sp->wr);
		sp->wr = NULL;
		return bad(r, TSYNC_ENOMEM, ERR_INTERNAL, "out of memory");
	}
	sp->state = SN_RECEIVING;
	say(r, 0, "receiving a snapshot of %u streams from %s", nvv / 3,
	    c->peer_name);
	return 0;
}

static int
on_data(struct snap *sp, const struct snap_ctx *c, const struct frame *f,
	struct snap_res *r)
{
	const msgpack_object *vals;
	const char *table;
	uint32_t tl, nv;
	uint64_t ncol;

	if (sp == NULL || (sp->state != SN_RECEIVING && sp->state != SN_SKIP))
		return bad(r, TSYNC_EPROTO, ERR_MALFORMED,
			   "unexpected SNAP_DATA");
	if (frame_str(f, 1, &table, &tl) != 0 || frame_u64(f, 2, &ncol) != 0 ||
	    frame_arr(f, 3, &vals, &nv) != 0)
		return bad(r, TSYNC_EPROTO, ERR_MALFORMED,
			   "malformed SNAP_DATA");
	if (sp->state == SN_SKIP)
		return 0;
	if (snap_writer_rows(sp->wr, table, tl, ncol, vals, nv) != 0) {
		char why[300];

		ts_fmt(why, sizeof(why), "%s", tsync_node_errmsg(c->n));
		snap_writer_abort(sp->wr);
		sp->wr = NULL;
		sp->state = SN_SKIP;
		send_small(c, WIRE_SNAP_RESULT, 0, why, 0, 0);
		say(r, 1, "snapshot from %s discarded, taking the ordinary "
			  "pull: %s", c->peer_name, why);
		return 0;
	}
	sp->chunks++;
	sp->rows += ncol ? nv / ncol : 0;
	return 0;
}

/* The puller's END: the check, then RESULT. */
static int
on_end(struct snap *sp, const struct snap_ctx *c, const struct frame *f,
       struct snap_res *r)
{
	msgpack_unpacked up;
	const char *text = "";
	uint32_t tl = 0;
	uint64_t ok, t1, tc;
	char why[400];
	int rc;

	if (sp == NULL || (sp->state != SN_RECEIVING && sp->state != SN_SKIP))
		return bad(r, TSYNC_EPROTO, ERR_MALFORMED,
			   "unexpected SNAP_END");
	if (frame_u64(f, 1, &ok) != 0 || frame_str(f, 2, &text, &tl) != 0)
		return bad(r, TSYNC_EPROTO, ERR_MALFORMED, "malformed SNAP_END");
	r->done = 1;
	if (sp->state == SN_SKIP || !ok) {
		if (sp->state == SN_RECEIVING)
			say(r, 1, "%s stopped its snapshot: %.*s; taking the "
				  "ordinary pull", c->peer_name,
			    (int)(tl > 200 ? 200 : tl), text);
		snap_writer_abort(sp->wr);
		sp->wr = NULL;
		sp->state = SN_DONE;
		return 0;
	}
	sp->state = SN_DONE;
	r->stalled = 1;
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, (const char *)sp->vv.p, sp->vv.len,
				NULL) != MSGPACK_UNPACK_SUCCESS ||
	    up.data.type != MSGPACK_OBJECT_ARRAY) {
		msgpack_unpacked_destroy(&up);
		snap_writer_abort(sp->wr);
		sp->wr = NULL;
		return bad(r, TSYNC_ENOMEM, ERR_INTERNAL, "out of memory");
	}
	tc = ts_now_ms(&c->n->ops);
	rc = snap_writer_end(sp->wr, up.data.via.array.ptr,
			     up.data.via.array.size, c->peer_name, &r->txns,
			     why, sizeof(why));
	sp->wr = NULL;
	msgpack_unpacked_destroy(&up);
	t1 = ts_now_ms(&c->n->ops);
	if (rc != 0) {
		send_small(c, WIRE_SNAP_RESULT, 0, why, 0, 0);
		say(r, 1, "snapshot from %s discarded, taking the ordinary "
			  "pull; the check failed: %s", c->peer_name, why);
		r->txns = 0;
		return 0;
	}
	r->ok = 1;
	ts_fmt(why, sizeof(why), "verified: %llu txns, received in %llu ms, "
				 "checked in %llu ms",
	       (unsigned long long)r->txns, (unsigned long long)(tc - sp->t0),
	       (unsigned long long)(t1 - tc));
	send_small(c, WIRE_SNAP_RESULT, 1, why, 0, 0);
	say(r, 0, "snapshot from %s verified: %llu txns, %llu rows in %llu "
		  "chunks, received in %llu ms, checked in %llu ms; the "
		  "ordinary pull goes on from its version vector",
	    c->peer_name, (unsigned long long)r->txns,
	    (unsigned long long)sp->rows, (unsigned long long)sp->chunks,
	    (unsigned long long)(tc - sp->t0), (unsigned long long)(t1 - tc));
	return 0;
}

static int
on_result(struct snap *sp, const struct snap_ctx *c, const struct frame *f,
	  struct snap_res *r)
{
	const char *text = "";
	uint32_t tl = 0;
	uint64_t ok;

	if (sp == NULL || (sp->state != SN_STREAMING && sp->state != SN_WAITING))
		return bad(r, TSYNC_EPROTO, ERR_MALFORMED,
			   "unexpected SNAP_RESULT");
	if (frame_u64(f, 1, &ok) != 0 || frame_str(f, 2, &text, &tl) != 0)
		return bad(r, TSYNC_EPROTO, ERR_MALFORMED,
			   "malformed SNAP_RESULT");
	if (sp->state == SN_STREAMING) {
		/* Refused before the end: stop, and say so. */
		send_small(c, WIRE_SNAP_END, 0, "the puller refused it", 1,
			   sp->rows);
		ok = 0;
	}
	sp->state = SN_DONE;
	r->done = 1;
	r->ok = ok != 0;
	if (ok)
		say(r, 0, "%s verified our snapshot (%llu rows; %.*s); the "
			  "ordinary session goes on from its version vector",
		    c->peer_name, (unsigned long long)sp->rows,
		    (int)(tl > 200 ? 200 : tl), text);
	else
		say(r, 1, "%s discarded our snapshot: %.*s; it takes the "
			  "ordinary pull", c->peer_name,
		    (int)(tl > 300 ? 300 : tl), text);
	return 0;
}

int
snap_frame(struct snap **sp, const struct snap_ctx *c, const struct frame *f,
	   struct snap_res *r)
{
	switch (f->type) {
	case WIRE_SNAP_REQ:
		return on_req(sp, c, r);
	case WIRE_SNAP_OFFER:
		return on_offer(*sp, c, f, r);
	case WIRE_SNAP_DATA:
		return on_data(*sp, c, f, r);
	case WIRE_SNAP_END:
		return on_end(*sp, c, f, r);
	case WIRE_SNAP_RESULT:
		return on_result(*sp, c, f, r);
	default:
		return bad(r, TSYNC_EPROTO, ERR_MALFORMED,
			   "unknown message type %d", f->type);
	}
}

/* Keeps the snapshot's vv past the reader, for snap_vv_at(). */
static void
keep_vv(struct snap *sp)
{
	const struct stream_row *v = snap_reader_vv(sp->rd, &sp->nsent);

	sp->sent = sp->nsent ? malloc(sp->nsent * sizeof(*v)) : NULL;
	if (sp->sent != NULL)
		memcpy(sp->sent, v, sp->nsent * sizeof(*v));
	else
		sp->nsent = 0; /* the ordinary pull then resends, no harm */
}

int
snap_pump(struct snap *sp, const struct snap_ctx *c, struct snap_res *r)
{
	msgpack_packer pk;
	size_t f, pending = c->out_pending;
	uint64_t rows;
	int rc;

	if (sp == NULL || sp->state == SN_DONE)
		return 0;
	while (sp->state == SN_STREAMING && pending < 2 * c->chunk_bytes) {
		size_t before = c->out->len;

		f = frame_begin(c->out, &pk);
		msgpack_pack_array(&pk, 4);
		msgpack_pack_uint8(&pk, WIRE_SNAP_DATA);
		rc = snap_reader_next(sp->rd, &pk, c->chunk_bytes, &rows);
		if (rc == 1 && frame_end(c->out, f) == 0) {
			sp->rows += rows;
			sp->chunks++;
			pending += c->out->len - before;
			continue;
		}
		c->out->len = f;
		if (rc < 0 || rc == 1) {
			say(r, 1, "snapshot for %s stopped: %s",
			    c->peer_name, rc < 0 ? tsync_node_errmsg(c->n)
						 : "a chunk too large");
			send_small(c, WIRE_SNAP_END, 0, r->log, 1, sp->rows);
			sp->state = SN_DONE;
			r->done = 1;
			break;
		}
		send_small(c, WIRE_SNAP_END, 1, "", 1, sp->rows);
		keep_vv(sp);
		snap_reader_free(sp->rd); /* the read transaction ends */
		sp->rd = NULL;
		sp->state = SN_WAITING;
		say(r, 0, "snapshot for %s sent: %llu rows in %llu chunks, "
			  "%llu ms; waiting for its check",
		    c->peer_name, (unsigned long long)sp->rows,
		    (unsigned long long)sp->chunks,
		    (unsigned long long)(ts_now_ms(&c->n->ops) - sp->t0));
	}
	return sp->state != SN_DONE;
}

int
snap_unanswered(struct snap *sp)
{
	if (sp == NULL || sp->state != SN_ASKED)
		return 0;
	sp->state = SN_DONE;
	return 1;
}

int
snap_waiting(const struct snap *sp)
{
	return sp != NULL && sp->state == SN_WAITING;
}

int
snap_vv_at(const struct snap *sp, size_t i, uint64_t *origin,
	   const char **scope, uint64_t *seq)
{
	if (sp == NULL || i >= sp->nsent)
		return 0;
	*origin = sp->sent[i].origin;
	*scope = sp->sent[i].scope;
	*seq = sp->sent[i].seq;
	return 1;
}
