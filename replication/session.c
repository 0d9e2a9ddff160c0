/*
 * session.c - the sync session state machine; see session.h and
 * docs/protocol.md.
 *
 * States and transitions (each made by the function named):
 *
 *   S_HELLO --HELLO ok--------------> S_VV     on_hello (sends our VV)
 *   S_VV    --VV--------------------> S_SYNC   on_vv (starts sending)
 *   S_SYNC  --BATCH/ACK/CERT/DONE/PING/PONG--> S_SYNC
 *   any     --BYE-------------------> S_CLOSED on_bye
 *   any     --sess_close------------> S_CLOSED (BYE queued)
 *   any     --ERROR, bad frame, timeout, store failure--> S_FAILED  fail
 *
 * Both sides send HELLO at once; VV follows the peer's HELLO.  S_FAILED and
 * S_CLOSED are sticky: no frame is processed after them.
 *
 * Invariants:
 *  - at most cfg.window batches are unacknowledged, and no batch is built
 *    while more than two batches of output wait to be written, so memory is
 *    bounded by the window, never by the backlog;
 *  - `known` holds, per stream, the highest seq the peer is known to hold
 *    (its VV, what we sent, what it sent us): nothing at or below it is
 *    sent again in this session;
 *  - a batch is acknowledged only after it is committed, so a link that
 *    drops at any byte resumes from the version vectors with nothing lost
 *    and nothing applied twice;
 *  - what one peer can make this session hold is capped (docs/protocol.md,
 *    section 9.1): input is one frame (FRAME_MAX), output waiting for the
 *    peer SESS_OUT_MAX, a VV VV_MAX streams, a decoded frame
 *    FRAME_ELEMS_MAX objects, the bodies of a BATCH BATCH_ELEMS_MAX;
 *    PINGs are limited to PING_MAX per PING_WINDOW_MS.  Over a cap the
 *    session fails with ERROR 8 (LIMIT).  A frame must complete within
 *    frame_deadline(), else ERROR 6 (TIMEOUT) as for an idle peer;
 *  - bytes leave `in` and `out` by moving an offset; the live bytes are
 *    moved down only when the dead front is at least half the buffer, so
 *    consuming is O(1) amortized per byte;
 *  - `known` is found through a hash index and our own streams through a
 *    sorted copy, so a VV of n entries costs O(n log n).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "apply.h"
#include "frame.h"
#include "heads.h"
#include "node_int.h"
#include "receipt.h"
#include "revoke.h"
#include "scope.h"
#include "sess_store.h"
#include "session.h"
#include "snap.h"
#include "txn.h"

enum state { S_HELLO, S_VV, S_SYNC, S_CLOSED, S_FAILED };

#define QMAX 64     /* actions queued between two sess_poll() calls */
#define QRESERVE 16 /* slots a log line may not take: kept for actions */
#define COMPACT_MIN (64u << 10) /* dead front bytes before a compaction */
#define GROUP_BATCHES 2 /* a one_shot pull's batches under one commit */
#define GROUP_MS 200    /* ... and how long their ACKs may wait */

struct known {
	uint64_t origin;
	char *scope;
	uint64_t seq;
};

struct sess {
	struct sess_cfg cfg;
	struct tsync_node *n;     /* receipts, evidence, snapshots */
	struct sess_store store;  /* everything else of the replica */
	uint64_t self_id;         /* this node, as the store says */
	const char *self_scope, *self_role;
	int state;
	struct ts_buf in, out;
	size_t in_off, out_off;  /* consumed bytes at the front */
	uint64_t in_done;        /* input bytes of whole frames taken */
	uint64_t in_at;          /* where the frame being read starts */
	uint64_t frame_at;       /* ms: the partial frame in `in` began */
	size_t frame_len;        /* its announced length, 0 if unknown */
	uint64_t ping_win, pings; /* PINGs received in the current window */
	uint64_t now, last_rx, last_ping;
	/* the peer */
	uint64_t peer_id;
	char peer_scope[256], peer_role[16], peer_name[400];
	char peer_release[24];
	unsigned proto;       /* agreed protocol version, after HELLO */
	uint32_t peer_schema; /* the peer's replica schema, after HELLO */
	uint64_t skipped;     /* skippable messages of unknown type */
	/* what the peer holds */
	struct known *known;
	size_t nknown, capknown;
	size_t *kidx, kcap;      /* open addressing: index + 1, 0 = free */
	uint64_t kseed;
	/* origins whose certificate went out in this session */
	uint64_t *certed;
	size_t ncerted, capcerted;
	/* sending */
	struct stream_row *plan;
	size_t nplan, plan_pos;
	int dirty, sent_done, got_done, synced;
	uint64_t next_batch;
	unsigned inflight;
	uint64_t mismatch;
	/* receipts for a child (receipt.h): when, and recv_txns then */
	uint64_t receipt_at, receipt_recv;
	struct ts_buf batch;
	unsigned batch_count;
	/* one_shot: batches applied in one open transaction; their ACKs wait
	 * in grp_ack until it commits (group_end) */
	int grp_open;
	unsigned grp_n;
	uint64_t grp_at;
	struct {
		uint64_t no;
		uint32_t ok, rej;
	} grp_ack[GROUP_BATCHES];
	/* actions */
	struct sess_action q[QMAX];
	unsigned qhead, qlen;
	struct sess_stats st;
	struct snap *snap; /* a snapshot first pull (snap.h), or NULL */
	int rx_reset;      /* the check ran in a frame: word restarts now */
};

/* ---- small helpers -------------------------------------------------- */

/*
 * Queues an action for the I/O layer.  Log lines are best effort: one is
 * dropped when fewer than QRESERVE slots are free.  Other actions take a
 * free slot; a close, which must never be lost (the link would stay
 * open), takes the newest entry's slot when none is free.  Returns the
 * queued action, or NULL when it was dropped.
 */
static struct sess_action * __attribute__((format(printf, 4, 5)))
act(struct sess *s, int type, int code, const char *fmt, ...)
{
	struct sess_action *a;
	va_list ap;

	if (type == SA_LOG && s->qlen >= QMAX - QRESERVE)
		return NULL;
	if (s->qlen == QMAX) {
		if (type != SA_CLOSE)
			return NULL;
		s->qlen--;
	}
	a = &s->q[(s->qhead + s->qlen++) % QMAX];
	memset(a, 0, sizeof(*a));
	a->type = type;
	a->code = code;
	va_start(ap, fmt);
	vsnprintf(a->text, sizeof(a->text), fmt, ap);
	va_end(ap);
	return a;
}

/* The store's message for its last error. */
static const char *
store_err(const struct sess *s)
{
	return s->store.vt->errmsg(s->store.ctx);
}

static void
send_error(struct sess *s, int code, const char *text)
{
	msgpack_packer pk;
	size_t f = frame_begin(&s->out, &pk);

	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint8(&pk, WIRE_ERROR);
	msgpack_pack_int(&pk, code);
	msgpack_pack_str_with_body(&pk, text, strlen(text));
	frame_end(&s->out, f);
}

/* Drops the open group of batches: none of them was ACKed. */
static void
group_abort(struct sess *s)
{
	if (s->grp_open)
		s->store.vt->rollback(s->store.ctx);
	s->grp_open = 0;
	s->grp_n = 0;
}

/* Fails the session: sticky, tells the peer (unless it told us). */
static int __attribute__((format(printf, 4, 5)))
fail(struct sess *s, int code, int wire, const char *fmt, ...)
{
	char text[300];
	va_list ap;

	group_abort(s);
	if (s->state == S_FAILED || s->state == S_CLOSED)
		return code;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (wire > 0 && s->cfg.mode == SESS_LINK)
		send_error(s, wire, text);
	s->state = S_FAILED;
	act(s, SA_CLOSE, code, "%s", text);
	return code;
}

/* Drops n bytes from the front of b in O(1) amortized. */
static void
ts_buf_drop(struct ts_buf *b, size_t *off, size_t n)
{
	*off += n;
	if (*off >= b->len) {
		b->len = *off = 0;
		return;
	}
	if (*off >= COMPACT_MIN && *off >= b->len - *off) {
		memmove(b->p, b->p + *off, b->len - *off);
		b->len -= *off;
		*off = 0;
	}
}

/* A keyed hash of a stream name: the key is drawn per session, so a peer
 * cannot choose names that collide. */
static size_t
known_hash(const struct sess *s, uint64_t origin, const char *scope,
	   size_t len)
{
	uint64_t h = s->kseed ^ (origin * 0x9e3779b97f4a7c15ull);
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ (uint8_t)scope[i]) * 0x100000001b3ull;
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 32;
	return (size_t)h;
}

static int
known_is(const struct known *k, uint64_t origin, const char *scope,
	 size_t len)
{
	return k->origin == origin && strlen(k->scope) == len &&
	       memcmp(k->scope, scope, len) == 0;
}

static struct known *
known_find(struct sess *s, uint64_t origin, const char *scope, size_t len)
{
	size_t i;

	if (s->kcap == 0)
		return NULL;
	i = known_hash(s, origin, scope, len) & (s->kcap - 1);
	for (; s->kidx[i] != 0; i = (i + 1) & (s->kcap - 1)) {
		struct known *k = &s->known[s->kidx[i] - 1];

		if (known_is(k, origin, scope, len))
			return k;
	}
	return NULL;
}

/* Puts known[j] into the index (which has a free slot). */
static void
known_index(struct sess *s, size_t j)
{
	const struct known *k = &s->known[j];
	size_t i = known_hash(s, k->origin, k->scope, strlen(k->scope)) &
		   (s->kcap - 1);

	while (s->kidx[i] != 0)
		i = (i + 1) & (s->kcap - 1);
	s->kidx[i] = j + 1;
}

/* Keeps the index at most half full. */
static int
known_grow(struct sess *s)
{
	size_t cap = s->kcap ? s->kcap : 64, j;
	size_t *ni;

	while (cap < 2 * (s->nknown + 1))
		cap *= 2;
	if (cap == s->kcap)
		return 0;
	if ((ni = calloc(cap, sizeof(*ni))) == NULL)
		return TSYNC_ENOMEM;
	free(s->kidx);
	s->kidx = ni;
	s->kcap = cap;
	for (j = 0; j < s->nknown; j++)
		known_index(s, j);
	return 0;
}

static uint64_t
known_get(struct sess *s, uint64_t origin, const char *scope, size_t len)
{
	struct known *k = known_find(s, origin, scope, len);

	return k != NULL ? k->seq : 0;
}

static int
known_raise(struct sess *s, uint64_t origin, const char *scope, size_t len,
	    uint64_t seq)
{
	struct known *k = known_find(s, origin, scope, len);

	if (k == NULL) {
		if (ts_grow(&s->known, &s->capknown, s->nknown,
			    sizeof(*s->known), 32) != 0 ||
		    known_grow(s) != 0)
			return TSYNC_ENOMEM;
		k = &s->known[s->nknown];
		k->scope = strndup(scope, len);
		if (k->scope == NULL)
			return TSYNC_ENOMEM;
		k->origin = origin;
		k->seq = 0;
		known_index(s, s->nknown++);
	}
	if (seq > k->seq)
		k->seq = seq;
	return 0;
}

static int
peer_may_see(struct sess *s, const char *scope)
{
	return scope_may_see(s->peer_scope, s->peer_role, scope);
}

/*
 * Writes [origin, scope, seq, ...] for the streams the peer may see and,
 * from protocol 2 on, the appended element: [hash, ...], the head hash of
 * each entry in the same order (docs/protocol.md 2.4).
 */
/*
 * What END's signature covers (docs/protocol.md 7.1): SHA-256 of
 * "tsync-end-1", the writer's id and the txn count (8 bytes big-endian
 * each), then per vv entry its origin (8), scope length (4), scope, seq
 * (8) and head hash (32).  end_begin, end_entry, then EVP_DigestFinal_ex.
 */
static void
be_put(EVP_MD_CTX *md, uint64_t v, int bytes)
{
	uint8_t b[8];
	int i;

	for (i = 0; i < bytes; i++)
		b[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
	EVP_DigestUpdate(md, b, (size_t)bytes);
}

static int
end_begin(EVP_MD_CTX *md, uint64_t writer, uint64_t txns)
{
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		return -1;
	EVP_DigestUpdate(md, "tsync-end-1", 11);
	be_put(md, writer, 8);
	be_put(md, txns, 8);
	return 0;
}

static void
end_entry(EVP_MD_CTX *md, uint64_t origin, const char *scope, size_t len,
	  uint64_t seq, const uint8_t hash[KEYS_HASH_LEN])
{
	be_put(md, origin, 8);
	be_put(md, len, 4);
	EVP_DigestUpdate(md, scope, len);
	be_put(md, seq, 8);
	EVP_DigestUpdate(md, hash, KEYS_HASH_LEN);
}

/* pack_vv, and each entry into md when not NULL (END's digest). */
static int
pack_vv_md(struct sess *s, msgpack_packer *pk, int *err, EVP_MD_CTX *md);

static int
pack_vv(struct sess *s, msgpack_packer *pk, int *err)
{
	return pack_vv_md(s, pk, err, NULL);
}

static int
pack_vv_md(struct sess *s, msgpack_packer *pk, int *err, EVP_MD_CTX *md)
{
	struct stream_row *v;
	uint8_t (*h)[KEYS_HASH_LEN];
	size_t cnt, i, vis = 0;

	if ((*err = s->store.vt->heads(s->store.ctx, &v, &h, &cnt)) != 0)
		return -1;
	for (i = 0; i < cnt; i++)
		vis += peer_may_see(s, v[i].scope);
	msgpack_pack_array(pk, 3 * vis);
	for (i = 0; i < cnt; i++) {
		if (!peer_may_see(s, v[i].scope))
			continue;
		msgpack_pack_uint64(pk, v[i].origin);
		msgpack_pack_str_with_body(pk, v[i].scope, strlen(v[i].scope));
		msgpack_pack_uint64(pk, v[i].seq);
		if (md != NULL)
			end_entry(md, v[i].origin, v[i].scope,
				  strlen(v[i].scope), v[i].seq, h[i]);
	}
	if (s->proto >= 2) {
		msgpack_pack_array(pk, vis);
		for (i = 0; i < cnt; i++)
			if (peer_may_see(s, v[i].scope))
				msgpack_pack_bin_with_body(pk, h[i],
							   KEYS_HASH_LEN);
	}
	free(v);
	free(h);
	return 0;
}

/* ---- sending ----------------------------------------------------------- */

static void
send_hello(struct sess *s)
{
	msgpack_packer pk;
	size_t f = frame_begin(&s->out, &pk);

	msgpack_pack_array(&pk, 10);
	msgpack_pack_uint8(&pk, WIRE_HELLO);
	msgpack_pack_uint32(&pk, PROTO_MIN);
	msgpack_pack_uint64(&pk, s->self_id);
	msgpack_pack_str_with_body(&pk, s->self_scope, strlen(s->self_scope));
	msgpack_pack_str_with_body(&pk, s->self_role, strlen(s->self_role));
	msgpack_pack_uint32(&pk, LINK_SCHEMA);
	msgpack_pack_uint8(&pk, s->cfg.one_shot ? 1 : 0);
	msgpack_pack_uint32(&pk, PROTO_VERSION);
	msgpack_pack_uint32(&pk, SCHEMA_VERSION);
	msgpack_pack_str_with_body(&pk, TSYNC_VERSION_STRING,
				   strlen(TSYNC_VERSION_STRING));
	frame_end(&s->out, f);
}

static int
send_vv(struct sess *s, int type)
{
	msgpack_packer pk;
	size_t f = frame_begin(&s->out, &pk);
	int err = 0;

	msgpack_pack_array(&pk, s->proto >= 2 ? 3 : 2);
	msgpack_pack_uint8(&pk, (uint8_t)type);
	if (pack_vv(s, &pk, &err) != 0) {
		s->out.len = f;
		return fail(s, err, ERR_INTERNAL, "cannot read streams: %s",
			    store_err(s));
	}
	return frame_end(&s->out, f);
}

static int
send_cert(struct sess *s, uint64_t origin)
{
	msgpack_packer pk;
	size_t i, f, len;
	char *pem;

	for (i = 0; i < s->ncerted; i++)
		if (s->certed[i] == origin)
			return 0;
	if (ts_grow(&s->certed, &s->capcerted, s->ncerted, sizeof(*s->certed),
		    16) != 0)
		return TSYNC_ENOMEM;
	s->certed[s->ncerted++] = origin;
	if (s->store.vt->cert_pem(s->store.ctx, origin, &pem, &len) != 0)
		return 0; /* unknown here: the peer will quarantine */
	f = frame_begin(&s->out, &pk);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint8(&pk, WIRE_CERT);
	msgpack_pack_bin_with_body(&pk, pem, len);
	free(pem);
	return frame_end(&s->out, f);
}

/*
 * END [12, txns, vv, hashes]: the last frame of a bundle (docs/protocol.md
 * 7.1), the vv and hashes as in DONE; the session is then closed.
 */
static void
send_end(struct sess *s)
{
	msgpack_packer pk;
	size_t f = frame_begin(&s->out, &pk);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t dg[KEYS_HASH_LEN], sig[KEYS_SIG_LEN];
	int err = 0;

	/* Signed, so a reader can trust its heads as a peer's VV: a file
	 * carries no TLS identity (protocol.md 7.1). */
	msgpack_pack_array(&pk, 5);
	msgpack_pack_uint8(&pk, WIRE_END);
	msgpack_pack_uint64(&pk, s->st.sent_txns);
	if (md == NULL || end_begin(md, s->self_id, s->st.sent_txns) != 0)
		err = TSYNC_ENOMEM;
	else if (pack_vv_md(s, &pk, &err, md) != 0)
		err = err ? err : TSYNC_EIO;
	else if (EVP_DigestFinal_ex(md, dg, NULL) != 1 ||
		 s->store.vt->sign(s->store.ctx, dg, sig) != 0)
		err = TSYNC_EINVAL;
	EVP_MD_CTX_free(md);
	if (err == 0) {
		msgpack_pack_bin_with_body(&pk, sig, KEYS_SIG_LEN);
		err = frame_end(&s->out, f);
	}
	if (err != 0) {
		s->out.len = f;
		fail(s, err, 0, "cannot write END: %s", store_err(s));
		return;
	}
	s->state = S_CLOSED;
	act(s, SA_CLOSE, 0, "wrote %llu txns for %s",
	    (unsigned long long)s->st.sent_txns, s->peer_scope);
}

static int
batch_add(void *arg, uint64_t seq, const uint8_t *body, size_t len,
	  const uint8_t *sig)
{
	struct sess *s = arg;
	msgpack_packer pk;

	(void)seq;
	txn_packer(&pk, &s->batch);
	msgpack_pack_bin_with_body(&pk, body, len);
	msgpack_pack_bin_with_body(&pk, sig, KEYS_SIG_LEN);
	s->batch_count++;
	return s->batch_count >= s->cfg.batch_txns ? 1 : 0;
}

static int
plan_rebuild(struct sess *s)
{
	int rc;

	free(s->plan);
	s->plan = NULL;
	s->nplan = s->plan_pos = 0;
	s->dirty = 0;
	rc = s->store.vt->streams(s->store.ctx, &s->plan, &s->nplan);
	if (rc != 0)
		return fail(s, rc, ERR_INTERNAL, "cannot read streams: %s",
			    store_err(s));
	return 0;
}

/* Builds and queues one batch; returns 1 if one was queued. */
static int
send_batch(struct sess *s)
{
	msgpack_packer pk;
	size_t f;
	int rc, auditor = s->cfg.mode == SESS_LINK &&
			  strcmp(s->self_role, "auditor") == 0;

	/* An auditor sends a peer only the peer's own txns: those a
	 * restored office lacks (docs/protocol.md, section 3.4). */
	s->batch.len = 0;
	s->batch_count = 0;
	while (s->plan_pos < s->nplan && s->batch_count < s->cfg.batch_txns &&
	       s->batch.len < s->cfg.batch_bytes) {
		struct stream_row *r = &s->plan[s->plan_pos];
		size_t sl = strlen(r->scope);
		uint64_t have = known_get(s, r->origin, r->scope, sl);
		unsigned before = s->batch_count;

		if (have >= r->seq || !peer_may_see(s, r->scope) ||
		    (auditor && r->origin != s->peer_id)) {
			s->plan_pos++;
			continue;
		}
		if (!auditor && (rc = send_cert(s, r->origin)) != 0)
			return fail(s, rc, ERR_INTERNAL, "out of memory");
		rc = s->store.vt->read(s->store.ctx, r->sid, have + 1, r->seq,
			      s->cfg.batch_bytes - s->batch.len,
			      s->batch.len == 0, batch_add, s);
		if (rc < 0)
			return fail(s, rc, ERR_INTERNAL, "cannot read log: %s",
				    store_err(s));
		if (s->batch_count == before) {
			if (before > 0)
				break; /* the next txn opens the next batch */
			s->plan_pos++; /* the log is shorter than its head */
			continue;
		}
		known_raise(s, r->origin, r->scope, sl,
			    have + (s->batch_count - before));
	}
	if (s->batch_count == 0)
		return 0;
	f = frame_begin(&s->out, &pk);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint8(&pk, WIRE_BATCH);
	msgpack_pack_uint64(&pk, ++s->next_batch);
	msgpack_pack_array(&pk, 2 * (size_t)s->batch_count);
	if (ts_buf_put(&s->out, s->batch.p, s->batch.len) != 0 ||
	    frame_end(&s->out, f) != 0)
		return fail(s, TSYNC_ENOMEM, ERR_INTERNAL, "batch too large");
	if (s->cfg.mode == SESS_LINK)
		s->inflight++; /* a file sends no ACKs */
	s->st.sent_txns += s->batch_count;
	return 1;
}

static int on_snap(struct sess *s, const struct frame *f);

/* Fills the window; sends DONE once everything is out and acknowledged. */
static void
pump(struct sess *s)
{
	int rc;

	if (s->snap != NULL && on_snap(s, NULL) != 0)
		return; /* a snapshot first: nothing else goes out */
	while (s->state == S_SYNC && s->inflight < s->cfg.window &&
	       s->out.len - s->out_off < 2 * s->cfg.batch_bytes) {
		if (s->dirty && plan_rebuild(s) != 0)
			return;
		rc = send_batch(s);
		if (rc < 0)
			return;
		if (rc == 0)
			break;
	}
	if (s->state == S_SYNC && !s->dirty && s->plan_pos >= s->nplan &&
	    s->inflight == 0 && !s->sent_done) {
		s->sent_done = 1;
		if (s->cfg.mode == SESS_BUNDLE_OUT)
			send_end(s);
		else
			send_vv(s, WIRE_DONE);
	}
}

/* ---- receiving ------------------------------------------------------- */

/*
 * The versions of a HELLO (docs/protocol.md, 2.4): element 1 is the lowest
 * protocol the peer speaks, element 7 the highest (absent before protocol
 * 2: equal to element 1); element 5 is the link's schema floor, element 8
 * the replica's schema (absent: element 5), element 9 the release.
 */
static int
hello_versions(struct sess *s, const struct frame *f)
{
	uint64_t pmin, pmax, link, schema;
	const char *rel = "0.1.0";
	uint32_t rl = 5;

	if (frame_u64(f, 1, &pmin) != 0 || frame_u64(f, 5, &link) != 0)
		return fail(s, TSYNC_EPROTO, ERR_MALFORMED, "malformed HELLO");
	if (f->n <= 7 || frame_u64(f, 7, &pmax) != 0 || pmax < pmin)
		pmax = pmin;
	if (f->n <= 8 || frame_u64(f, 8, &schema) != 0)
		schema = link;
	if (f->n > 9 && frame_str(f, 9, &rel, &rl) == 0 &&
	    rl >= sizeof(s->peer_release))
		rl = sizeof(s->peer_release) - 1;
	memcpy(s->peer_release, rel, rl);
	s->peer_release[rl] = '\0';
	s->proto = pmax < PROTO_VERSION ? pmax : PROTO_VERSION;
	if (s->proto < pmin || s->proto < PROTO_MIN)
		return fail(s, TSYNC_EPROTO, ERR_PROTO_VERSION,
			    "peer (release %s) speaks protocol versions "
			    "%llu to %llu, this node (release %s) speaks %u "
			    "to %u; upgrade the older node",
			    s->peer_release, (unsigned long long)pmin,
			    (unsigned long long)pmax, TSYNC_VERSION_STRING,
			    PROTO_MIN, PROTO_VERSION);
	if (link != LINK_SCHEMA)
		return fail(s, TSYNC_EPROTO, ERR_SCHEMA_VERSION,
			    "peer (release %s) links at schema %llu, this "
			    "node at schema %u; upgrade the older node",
			    s->peer_release, (unsigned long long)link,
			    LINK_SCHEMA);
	s->peer_schema = schema > UINT32_MAX ? UINT32_MAX : (uint32_t)schema;
	return 0;
}

/*
 * A snapshot first pull (snap.h, docs/protocol.md 3.14): at the peer's
 * HELLO (f NULL), for a frame of type 40 to 44, or (pump) to send chunks.
 * Returns 1 from the pump while batches and DONE must wait.
 */
static int
on_snap(struct sess *s, const struct frame *f)
{
	struct snap_ctx c = {s->n, &s->out, s->out.len - s->out_off,
			     s->peer_name, s->peer_scope, s->peer_role,
			     s->proto, s->peer_schema, s->cfg.batch_bytes};
	struct snap_res r;
	uint64_t origin, seq;
	const char *scope;
	size_t i;
	int hold = 0;

	memset(&r, 0, sizeof(r));
	if (f != NULL && s->proto < 2)
		return fail(s, TSYNC_EPROTO, ERR_MALFORMED,
			    "unknown message type %d", f->type);
	if (f != NULL)
		snap_frame(&s->snap, &c, f, &r);
	else if (s->state == S_HELLO)
		snap_hello(&s->snap, &c, &r);
	else
		hold = snap_pump(s->snap, &c, &r);
	if (r.log[0] != '\0')
		act(s, SA_LOG, r.warn, "%s", r.log);
	if (r.wire > 0)
		return fail(s, r.rc, r.wire, "%s", r.text);
	s->rx_reset |= r.stalled;
	s->st.recv_txns += r.txns;
	for (i = 0; r.done && r.ok && snap_vv_at(s->snap, i, &origin, &scope,
						   &seq); i++)
		known_raise(s, origin, scope, strlen(scope), seq);
	if (r.done) {
		s->dirty = 1;
		if (r.txns > 0) {
			struct sess_action *x = act(s, SA_APPLIED, 0,
						    "snapshot: %llu txns",
						    (unsigned long long)r.txns);

			if (x != NULL)
				x->count = r.txns;
		}
	}
	return hold;
}

/*
 * A BATCH or DONE before the answer to our SNAP_REQ: the peer skipped it
 * (a release before snapshots, 2.2), so the ordinary pull goes on.
 */
static void
snap_skipped(struct sess *s)
{
	if (!snap_unanswered(s->snap))
		return;
	act(s, SA_LOG, 0, "%s did not answer the snapshot request (a release "
	    "before it); taking the ordinary pull", s->peer_name);
	s->dirty = 1;
}

static int
on_hello(struct sess *s, const struct frame *f)
{
	uint64_t id;
	const char *scope, *role;
	uint32_t sl, rl;
	char idhex[17];

	if (hello_versions(s, f) != 0)
		return TSYNC_EPROTO;
	if (frame_u64(f, 2, &id) != 0 || frame_str(f, 3, &scope, &sl) != 0 ||
	    frame_str(f, 4, &role, &rl) != 0 ||
	    sl >= sizeof(s->peer_scope) || rl >= sizeof(s->peer_role))
		return fail(s, TSYNC_EPROTO, ERR_MALFORMED, "malformed HELLO");
	memcpy(s->peer_scope, scope, sl);
	s->peer_scope[sl] = '\0';
	memcpy(s->peer_role, role, rl);
	s->peer_role[rl] = '\0';
	s->peer_id = id;
	if (s->cfg.peer != NULL &&
	    (s->cfg.peer->node_id != id ||
	     strcmp(s->cfg.peer->scope, s->peer_scope) != 0 ||
	     strcmp(s->cfg.peer->role, s->peer_role) != 0))
		return fail(s, TSYNC_EAUTH, ERR_IDENTITY,
			    "HELLO does not match the peer's certificate");
	id_format(id, idhex);
	ts_fmt(s->peer_name, sizeof(s->peer_name), "%s (%s %s)", idhex,
	       s->peer_role, s->peer_scope);
	act(s, SA_LOG, 0, "hello from %s%s%s", s->peer_name,
	    s->cfg.peer_addr ? " at " : "",
	    s->cfg.peer_addr ? s->cfg.peer_addr : "");
	if (s->peer_schema != SCHEMA_VERSION || s->proto != PROTO_VERSION)
		act(s, SA_LOG, 0,
		    "%s runs release %s (protocol %u, schema %u); this node "
		    "runs %s (schema %u)%s",
		    s->peer_name, s->peer_release, s->proto, s->peer_schema,
		    TSYNC_VERSION_STRING, SCHEMA_VERSION,
		    s->peer_schema > SCHEMA_VERSION
			    ? ": what this schema does not know is kept and "
			      "relayed, and applied after an upgrade"
			    : "");
	if (on_snap(s, NULL) != 0)
		return TSYNC_EPROTO;
	s->state = S_VV;
	if (send_vv(s, WIRE_VV) != 0)
		return TSYNC_EIO;
	sess_send_crl(s);
	return 0;
}

/* 1 if a[0..2] is a well-typed [origin, scope, seq] entry. */
static int
vv_entry_ok(const msgpack_object *a)
{
	return a[0].type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
	       a[1].type == MSGPACK_OBJECT_STR &&
	       a[1].via.str.size <= SCOPE_MAX &&
	       a[2].type == MSGPACK_OBJECT_POSITIVE_INTEGER;
}

static int
row_cmp(uint64_t origin, const char *scope, size_t len,
	const struct stream_row *r)
{
	size_t rl = strlen(r->scope);
	int c;

	if (origin != r->origin)
		return origin < r->origin ? -1 : 1;
	c = memcmp(scope, r->scope, len < rl ? len : rl);
	if (c != 0)
		return c;
	return len < rl ? -1 : len > rl;
}

static int
row_sort(const void *x, const void *y)
{
	const struct stream_row *a = x;

	return row_cmp(a->origin, a->scope, strlen(a->scope), y);
}

/* Our streams, sorted for held_seq(). */
static int
mine_sorted(struct sess *s, struct stream_row **mine, size_t *cnt)
{
	int rc = s->store.vt->streams(s->store.ctx, mine, cnt);

	if (rc == 0 && *cnt > 1)
		qsort(*mine, *cnt, sizeof(**mine), row_sort);
	return rc;
}

/* The seq we hold of the stream named by entry a: a binary search of the
 * sorted copy of our streams. */
static uint64_t
held_seq(const struct stream_row *mine, size_t cnt, const msgpack_object *a)
{
	size_t lo = 0, hi = cnt;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = row_cmp(a[0].via.u64, a[1].via.str.ptr,
				a[1].via.str.size, &mine[mid]);

		if (c == 0)
			return mine[mid].seq;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return 0;
}

/* Refuses a VV or DONE of more than VV_MAX streams. */
static int
vv_size_ok(struct sess *s, uint32_t n, const char *what)
{
	if (n / 3 <= VV_MAX)
		return 1;
	fail(s, TSYNC_EPROTO, ERR_LIMIT,
	     "%s of %u streams is over the cap of %u", what, n / 3, VV_MAX);
	return 0;
}

/*
 * The peer holds more of one of our own streams than we do: this replica
 * was restored from an older backup.  The heads file remembers it, so no
 * local write reuses those seqs until they are fetched back (heads.h).
 */
static void
restored(struct sess *s, const msgpack_object *a, uint64_t my)
{
	if (heads_learn(s->n, a[1].via.str.ptr, a[1].via.str.size,
			a[2].via.u64, s->peer_id) != 0)
		act(s, SA_LOG, 0, "cannot record the restore: %s",
		    tsync_node_errmsg(s->n));
	act(s, SA_LOG, 0,
	    "%s holds our stream %.*s up to seq %llu, we hold %llu: this "
	    "replica was restored from a backup; local writes wait until "
	    "the rest is fetched back",
	    s->peer_name, (int)a[1].via.str.size, a[1].via.str.ptr,
	    (unsigned long long)a[2].via.u64, (unsigned long long)my);
}

/* The session wrote local txns (receipts, evidence): the I/O layer
 * pushes them on its other links, as for txns applied from a peer. */
static void
wrote_local(struct sess *s, unsigned count, const char *what)
{
	struct sess_action *x = act(s, SA_APPLIED, 0, "recorded %u %s", count,
				    what);

	if (x != NULL)
		x->count = count;
}

/*
 * Protocol 2 on, element 2 of VV and DONE holds the head hash of each
 * entry (docs/protocol.md 2.4, 8.3).  An entry naming a seq we hold with
 * another hash is equivocation by its origin: it is recorded as evidence
 * (receipt.h), and our txn at that seq is offered to the peer again (its
 * `known` lowered below it), so the peer holds the other signed body too.
 * A missing or mistyped element is ignored, as any appended element.
 */
static void
vv_hashes(struct sess *s, const struct frame *f, unsigned at,
	  const msgpack_object *a, uint32_t n, const struct stream_row *mine,
	  size_t cnt)
{
	const msgpack_object *h;
	uint32_t hn, i, found = 0;

	if (s->proto < 2 || frame_arr(f, at, &h, &hn) != 0 || hn != n / 3)
		return;
	for (i = 0; i < hn; i++) {
		const msgpack_object *e = &a[3 * i];
		struct known *k;
		char hx[13];
		int rc;

		if (h[i].type != MSGPACK_OBJECT_BIN ||
		    h[i].via.bin.size != KEYS_HASH_LEN || !vv_entry_ok(e) ||
		    e[2].via.u64 == 0 || e[2].via.u64 > held_seq(mine, cnt, e))
			continue;
		rc = evidence_vv(s->n, e[0].via.u64, e[1].via.str.ptr,
				 e[1].via.str.size, e[2].via.u64,
				 (const uint8_t *)h[i].via.bin.ptr, s->peer_id,
				 s->now);
		if (rc < 0)
			act(s, SA_LOG, 0, "cannot record evidence: %s",
			    tsync_node_errmsg(s->n));
		if (rc <= 0)
			continue;
		s->mismatch++;
		found++;
		hex_encode((const uint8_t *)h[i].via.bin.ptr, 6, hx);
		act(s, SA_LOG, 0,
		    "%s holds stream %016llx/%.*s at seq %llu with another "
		    "hash (%s...) than ours: its origin equivocated "
		    "(evidence recorded)",
		    s->peer_name, (unsigned long long)e[0].via.u64,
		    (int)e[1].via.str.size, e[1].via.str.ptr,
		    (unsigned long long)e[2].via.u64, hx);
		k = known_find(s, e[0].via.u64, e[1].via.str.ptr,
			       e[1].via.str.size);
		if (k != NULL && k->seq >= e[2].via.u64) {
			k->seq = e[2].via.u64 - 1; /* send ours at that seq */
			s->dirty = 1;
		}
	}
	if (found > 0)
		wrote_local(s, found, "evidence of equivocation");
}

/* Records their VV in `known`; counts what each side lacks. */
static int
take_vv(struct sess *s, const struct frame *f)
{
	const msgpack_object *a;
	uint32_t n, i;
	struct stream_row *mine;
	size_t cnt, j;
	int rc;

	if (frame_arr(f, 1, &a, &n) != 0 || n % 3 != 0)
		return fail(s, TSYNC_EPROTO, ERR_MALFORMED, "malformed VV");
	if (!vv_size_ok(s, n, "VV"))
		return TSYNC_EPROTO;
	for (i = 0; i < n; i += 3) {
		if (!vv_entry_ok(&a[i]))
			return fail(s, TSYNC_EPROTO, ERR_MALFORMED,
				    "malformed VV entry");
		if (known_raise(s, a[i].via.u64, a[i + 1].via.str.ptr,
				a[i + 1].via.str.size, a[i + 2].via.u64) != 0)
			return fail(s, TSYNC_ENOMEM, ERR_INTERNAL, "no memory");
	}
	if ((rc = mine_sorted(s, &mine, &cnt)) != 0)
		return fail(s, rc, ERR_INTERNAL, "cannot read streams: %s",
			    store_err(s));
	s->st.they_lack = s->st.we_lack = 0;
	for (j = 0; j < cnt; j++) {
		uint64_t theirs = known_get(s, mine[j].origin, mine[j].scope,
					    strlen(mine[j].scope));

		if (peer_may_see(s, mine[j].scope) && mine[j].seq > theirs)
			s->st.they_lack += mine[j].seq - theirs;
	}
	for (i = 0; i < n; i += 3) {
		uint64_t my = held_seq(mine, cnt, &a[i]);

		if (a[i + 2].via.u64 <= my)
			continue;
		s->st.we_lack += a[i + 2].via.u64 - my;
		if (a[i].via.u64 == s->self_id)
			restored(s, &a[i], my);
	}
	vv_hashes(s, f, 2, a, n, mine, cnt);
	free(mine);
	return 0;
}

static int
on_vv(struct sess *s, const struct frame *f)
{
	int rc = take_vv(s, f);

	if (rc != 0)
		return rc;
	act(s, SA_LOG, 0, "%s lacks %llu txns we hold; we lack %llu of its",
	    s->peer_name, (unsigned long long)s->st.they_lack,
	    (unsigned long long)s->st.we_lack);
	s->state = S_SYNC;
	s->dirty = 1;
	return 0;
}

static void
on_held(void *arg, uint64_t origin, const char *scope, size_t len,
	uint64_t seq)
{
	known_raise(arg, origin, scope, len, seq);
}

/* 1 unless the peer is an auditor and w is not a txn of ours: an auditor
 * sends a restored office its own txns back, nothing else. */
static int
from_auditor_ok(struct sess *s, const struct wire_txn *w)
{
	struct txn t;
	char err[96];
	int ok;

	if (strcmp(s->peer_role, "auditor") != 0)
		return 1;
	ok = txn_decode(&t, w->body, w->len, err, sizeof(err)) == 0 &&
	     t.origin == s->self_id;
	txn_done(&t);
	return ok;
}

/* Refused txns that prove equivocation (the origin signed two heads for
 * one seq) become evidence (receipt.h). */
static void
found_evidence(struct sess *s, int64_t qmark)
{
	unsigned ev = 0;

	if (evidence_from_quarantine(s->n, qmark, s->peer_id, s->now, &ev) !=
	    0)
		act(s, SA_LOG, 0, "cannot record evidence: %s",
		    tsync_node_errmsg(s->n));
	if (ev > 0) {
		act(s, SA_LOG, 0,
		    "%u txns from %s are signed by their origins at seqs we "
		    "hold otherwise: equivocation (evidence recorded)",
		    ev, s->peer_name);
		wrote_local(s, ev, "evidence of equivocation");
	}
}

static int
send_ack(struct sess *s, uint64_t no, uint32_t ok, uint32_t rej)
{
	msgpack_packer pk;
	size_t fr;

	if (s->cfg.mode != SESS_LINK)
		return 0; /* a bundle's writer reads no ACKs */
	fr = frame_begin(&s->out, &pk);

	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint8(&pk, WIRE_ACK);
	msgpack_pack_uint64(&pk, no);
	msgpack_pack_uint32(&pk, ok);
	msgpack_pack_uint32(&pk, rej);
	return frame_end(&s->out, fr);
}

/*
 * A one_shot pull (`tiersync sync`: the process's only link) applies up to
 * GROUP_BATCHES batches in one SQLite transaction and ACKs each only after
 * that commit, so an ACKed txn still survives a power cut.  The group ends
 * when it is full, when the input holds no partial frame (the peer may be
 * waiting for our ACKs), before any other frame, after GROUP_MS, and at
 * close.  `serve` shares its connection between links and local writers,
 * so there each batch keeps its own commit.
 */
static int
group_begin(struct sess *s)
{
	int rc;

	if (!s->cfg.one_shot || s->grp_open)
		return 0;
	if ((rc = s->store.vt->begin(s->store.ctx)) < 0)
		return fail(s, rc, ERR_INTERNAL, "cannot store batches: %s",
			    store_err(s));
	if (rc == 0)
		return 0; /* a transaction is open: each batch alone */
	s->grp_open = 1;
	s->grp_n = 0;
	s->grp_at = s->now;
	return 0;
}

/* Commits the open group, then ACKs its batches. */
static int
group_end(struct sess *s)
{
	unsigned i;
	int rc;

	if (!s->grp_open)
		return 0;
	s->grp_open = 0;
	if ((rc = s->store.vt->commit(s->store.ctx)) != 0) {
		s->grp_n = 0;
		return fail(s, rc, ERR_INTERNAL,
			    "cannot store batches: %s (nothing of them was "
			    "kept; they will be sent again)",
			    store_err(s));
	}
	for (i = 0, rc = 0; i < s->grp_n && rc == 0; i++)
		rc = send_ack(s, s->grp_ack[i].no, s->grp_ack[i].ok,
			      s->grp_ack[i].rej);
	s->grp_n = 0;
	return rc;
}

static int
on_batch(struct sess *s, const struct frame *f)
{
	const msgpack_object *a;
	struct wire_txn *w;
	struct apply_report rep;
	uint64_t no;
	uint32_t n, i;
	size_t budget = BATCH_ELEMS_MAX;
	int64_t qmark;
	int rc, queued;

	if (frame_u64(f, 1, &no) != 0 || frame_arr(f, 2, &a, &n) != 0 ||
	    n % 2 != 0)
		return fail(s, TSYNC_EPROTO, ERR_MALFORMED, "malformed BATCH");
	w = calloc(n / 2 + 1, sizeof(*w));
	if (w == NULL)
		return fail(s, TSYNC_ENOMEM, ERR_INTERNAL, "out of memory");
	for (i = 0; i < n; i += 2) {
		size_t used;

		if (a[i].type != MSGPACK_OBJECT_BIN ||
		    a[i + 1].type != MSGPACK_OBJECT_BIN ||
		    a[i + 1].via.bin.size != KEYS_SIG_LEN) {
			free(w);
			return fail(s, TSYNC_EPROTO, ERR_MALFORMED,
				    "malformed txn in BATCH %llu",
				    (unsigned long long)no);
		}
		/* Each body is unpacked by txn_decode(): its counts are
		 * checked here first, and all bodies share one budget. */
		if (a[i].via.bin.size > 0 &&
		    frame_mp_check((const uint8_t *)a[i].via.bin.ptr,
				   a[i].via.bin.size, &budget, &used) != 0) {
			free(w);
			return fail(s, TSYNC_EPROTO, ERR_LIMIT,
				    "txn %u of BATCH %llu: msgpack counts "
				    "beyond its bytes or over %u objects",
				    i / 2 + 1, (unsigned long long)no,
				    BATCH_ELEMS_MAX);
		}
		w[i / 2].body = (const uint8_t *)a[i].via.bin.ptr;
		w[i / 2].len = a[i].via.bin.size;
		w[i / 2].sig = (const uint8_t *)a[i + 1].via.bin.ptr;
		if (!from_auditor_ok(s, &w[i / 2])) {
			free(w);
			return fail(s, TSYNC_EPROTO, ERR_ROLE,
				    "an auditor sends nothing but our own "
				    "txns back");
		}
	}
	/* Quarantine records after qmark may be evidence; an empty batch
	 * (a flooder's) refuses nothing, so costs no query. */
	qmark = n > 0 ? evidence_qmark(s->n) : 0;
	if ((rc = group_begin(s)) != 0) {
		free(w);
		return rc;
	}
	rc = s->store.vt->apply(s->store.ctx, w, n / 2, s->peer_name, &rep,
				on_held, s, s->grp_open);
	free(w);
	if (rc != 0)
		return fail(s, rc, ERR_INTERNAL,
			    "cannot store batch %llu: %s (nothing of it was "
			    "kept; it will be sent again)",
			    (unsigned long long)no, store_err(s));
	s->st.batch_txns += n / 2; /* read and stored */
	queued = s->grp_open;
	if (queued) {
		s->grp_ack[s->grp_n].no = no;
		s->grp_ack[s->grp_n].ok = rep.applied + rep.duplicate;
		s->grp_ack[s->grp_n].rej = rep.rejected;
		s->grp_n++;
	}
	/* Evidence is written in a transaction of its own. */
	if (rep.rejected > 0 && (rc = group_end(s)) != 0)
		return rc;
	s->st.recv_txns += rep.applied;
	s->st.dup += rep.duplicate;
	s->st.rejected += rep.rejected;
	if (rep.rejected > 0) {
		s->mismatch += rep.rejected;
		act(s, SA_LOG, 0,
		    "quarantined %u txns from %s; first: %s", rep.rejected,
		    s->peer_name, rep.first_reject);
		found_evidence(s, qmark);
	}
	if (rep.applied > 0) {
		struct sess_action *x = act(s, SA_APPLIED, 0,
					    "applied %u txns from %s",
					    rep.applied, s->peer_name);

		if (x != NULL)
			x->count = rep.applied;
	}
	if (queued) /* ACKed at the group's commit */
		return s->grp_n < GROUP_BATCHES ? 0 : group_end(s);
	return send_ack(s, no, rep.applied + rep.duplicate, rep.rejected);
}

static int
on_ack(struct sess *s, const struct frame *f)
{
	uint64_t no, ok, rej;

	if (frame_u64(f, 1, &no) || frame_u64(f, 2, &ok) ||
	    frame_u64(f, 3, &rej) || s->inflight == 0)
		return fail(s, TSYNC_EPROTO, ERR_MALFORMED, "unexpected ACK");
	s->inflight--;
	s->st.acked_txns += ok + rej;
	if (rej > 0) {
		s->mismatch += rej;
		act(s, SA_LOG, 0, "%s quarantined %llu of our txns",
		    s->peer_name, (unsigned long long)rej);
	}
	return 0;
}

/*
 * A child's DONE (all it sent us is committed) and, while the link stays
 * up, every RECEIPT_EVERY_MS after txns arrived: countersign the heads of
 * the child's streams (receipt.h), and check the receipts held against
 * our log.  Both write local txns, which the other links push on.
 */
static void
receipts_now(struct sess *s)
{
	unsigned w = 0, ev = 0;

	s->receipt_at = s->now;
	s->receipt_recv = s->st.recv_txns;
	if (strcmp(s->peer_role, "office") == 0 &&
	    receipt_update(s->n, s->peer_scope, s->now, &w) != 0)
		act(s, SA_LOG, 0, "cannot write receipts for %s: %s",
		    s->peer_name, tsync_node_errmsg(s->n));
	if (evidence_from_receipts(s->n, s->now, &ev) != 0)
		act(s, SA_LOG, 0, "cannot check receipts: %s",
		    tsync_node_errmsg(s->n));
	if (ev > 0)
		act(s, SA_LOG, 0,
		    "%u receipts name heads this node holds with other "
		    "hashes: their origins equivocated (evidence recorded)",
		    ev);
	if (w > 0)
		act(s, SA_LOG, 0, "receipted %u streams of %s", w,
		    s->peer_name);
	if (w + ev > 0)
		wrote_local(s, w + ev, "receipts and evidence");
}

static int
on_done(struct sess *s, const struct frame *f)
{
	const msgpack_object *a;
	uint32_t n, i;
	struct stream_row *mine;
	size_t cnt;
	int sends;

	if (frame_arr(f, 1, &a, &n) != 0 || n % 3 != 0)
		return fail(s, TSYNC_EPROTO, ERR_MALFORMED, "malformed DONE");
	if (!vv_size_ok(s, n, "DONE"))
		return TSYNC_EPROTO;
	s->got_done = 1;
	if (mine_sorted(s, &mine, &cnt) != 0)
		return fail(s, TSYNC_EIO, ERR_INTERNAL, "cannot read streams: %s",
			    store_err(s));
	/*
	 * Everything the peer holds that we may see and that its role lets it
	 * send us, we now hold too.  An auditor sends only our own txns back,
	 * so what else it holds beyond us is never missing here
	 * (docs/protocol.md 3.7).
	 */
	sends = strcmp(s->peer_role, "auditor") != 0;
	for (i = 0; i + 2 < n; i += 3) {
		uint64_t my;
		char sc[SCOPE_MAX + 1];

		if (!vv_entry_ok(&a[i])) {
			free(mine);
			return fail(s, TSYNC_EPROTO, ERR_MALFORMED,
				    "malformed DONE entry");
		}
		memcpy(sc, a[i + 1].via.str.ptr, a[i + 1].via.str.size);
		sc[a[i + 1].via.str.size] = '\0';
		if ((!sends && a[i].via.u64 != s->self_id) ||
		    !scope_may_see(s->self_scope, s->self_role, sc))
			continue;
		my = held_seq(mine, cnt, &a[i]);
		if (a[i + 2].via.u64 > my)
			s->mismatch += a[i + 2].via.u64 - my;
	}
	vv_hashes(s, f, 2, a, n, mine, cnt);
	free(mine);
	receipts_now(s);
	return 0;
}

/* CERT: stored if the CA signed it (section 3.4); else only logged. */
static int
on_cert(struct sess *s, const struct frame *f)
{
	const uint8_t *p;
	uint32_t n;

	if (frame_bin(f, 1, &p, &n) != 0)
		return fail(s, TSYNC_EPROTO, ERR_MALFORMED, "bad CERT");
	if (s->store.vt->cert_add(s->store.ctx, p, n) != 0)
		act(s, SA_LOG, 0, "certificate from %s refused: %s",
		    s->peer_name, store_err(s));
	return 0;
}

/* CRL: installed if newer and signed by the CA (section 8.1). */
static int
on_crl(struct sess *s, const struct frame *f)
{
	const uint8_t *p;
	uint32_t n;
	uint64_t no = 0;
	int installed = 0;

	if (frame_bin(f, 1, &p, &n) != 0)
		return fail(s, TSYNC_EPROTO, ERR_MALFORMED, "bad CRL");
	if (s->store.vt->crl_install(s->store.ctx, p, n, &installed, &no) != 0)
		act(s, SA_LOG, 0, "revocation list from %s refused: %s",
		    s->peer_name, store_err(s));
	else if (installed) {
		struct sess_action *x = act(
			s, SA_CRL, 0, "installed revocation list #%llu from %s",
			(unsigned long long)no, s->peer_name);

		if (x != NULL)
			x->count = no;
	}
	return 0;
}

/* ---- bundles (docs/protocol.md, section 7) ----------------------------- */

/*
 * BUNDLE [11, fmt, exporter, for_scope, created_ms, since, proto, schema,
 * release]: elements 6-8 are absent before release 0.2.0 (protocol 1,
 * schema 1).
 */
static int
on_bundle(struct sess *s, const struct frame *f)
{
	uint64_t fmt, origin, proto = 1, schema = 1;
	const char *rel = "0.1.0";
	uint32_t rl = 5;
	char idhex[17];

	if (frame_u64(f, 1, &fmt) != 0 || fmt != BUNDLE_FMT ||
	    frame_u64(f, 2, &origin) != 0)
		return fail(s, TSYNC_EPROTO, 0, "malformed BUNDLE");
	if (s->cfg.mode == SESS_BUNDLE_OUT) {
		/* The --since input: only its END is read, and the bundle
		 * being written keeps this release's versions. */
		s->state = S_VV;
		return 0;
	}
	if (f->n > 6)
		frame_u64(f, 6, &proto);
	if (f->n > 7)
		frame_u64(f, 7, &schema);
	if (f->n > 8 && frame_str(f, 8, &rel, &rl) != 0)
		rl = 0;
	if (rl >= sizeof(s->peer_release))
		rl = sizeof(s->peer_release) - 1;
	memcpy(s->peer_release, rel, rl);
	s->peer_release[rl] = '\0';
	s->proto = proto < PROTO_VERSION ? (unsigned)proto : PROTO_VERSION;
	s->peer_schema = schema > UINT32_MAX ? UINT32_MAX : (uint32_t)schema;
	s->peer_id = origin;
	id_format(origin, idhex);
	ts_fmt(s->peer_name, sizeof(s->peer_name), "%s from %s",
	       s->cfg.peer_addr ? s->cfg.peer_addr : "bundle", idhex);
	s->state = S_SYNC;
	return 0;
}

/*
 * 1 if END's element 4 is the writer's signature over its txn count, vv
 * and hashes, checked with the writer's certificate (a CERT of the file,
 * checked against the CA, or one held before).
 */
static int
end_signed(struct sess *s, const struct frame *f, uint64_t txns,
	   const msgpack_object *a, uint32_t n)
{
	const msgpack_object *h;
	const uint8_t *sig;
	uint8_t dg[KEYS_HASH_LEN];
	uint32_t hn, sl, i;
	EVP_MD_CTX *md;
	int ok;

	if (f->n < 5 || frame_arr(f, 3, &h, &hn) != 0 || hn != n / 3 ||
	    frame_bin(f, 4, &sig, &sl) != 0 || sl != KEYS_SIG_LEN)
		return 0;
	for (i = 0; i < hn; i++)
		if (h[i].type != MSGPACK_OBJECT_BIN ||
		    h[i].via.bin.size != KEYS_HASH_LEN)
			return 0;
	if ((md = EVP_MD_CTX_new()) == NULL)
		return 0;
	ok = end_begin(md, s->peer_id, txns) == 0;
	for (i = 0; ok && i < hn; i++)
		end_entry(md, a[3 * i].via.u64, a[3 * i + 1].via.str.ptr,
			  a[3 * i + 1].via.str.size, a[3 * i + 2].via.u64,
			  (const uint8_t *)h[i].via.bin.ptr);
	ok = ok && EVP_DigestFinal_ex(md, dg, NULL) == 1;
	EVP_MD_CTX_free(md);
	return ok && s->store.vt->check(s->store.ctx, s->peer_id, dg, sig) == 0;
}

/*
 * END [12, txns, vv, hashes, sig].  Read back: the count must match the
 * txns read; when the writer signed it, its heads count as a peer's: the
 * hashes as a DONE's (evidence of equivocation), our own streams as a
 * VV's (a restored replica).  In the --since input of a bundle being
 * written: its vv is what the reader holds, as a peer's VV.
 */
static int
on_end(struct sess *s, const struct frame *f)
{
	const msgpack_object *a;
	struct stream_row *mine;
	uint64_t txns;
	uint32_t n, i;
	size_t cnt;

	if (frame_u64(f, 1, &txns) != 0 || frame_arr(f, 2, &a, &n) != 0 ||
	    n % 3 != 0)
		return fail(s, TSYNC_EPROTO, 0, "malformed END");
	if (!vv_size_ok(s, n, "END"))
		return TSYNC_EPROTO;
	for (i = 0; i < n; i += 3)
		if (!vv_entry_ok(&a[i]))
			return fail(s, TSYNC_EPROTO, 0, "malformed END entry");
	s->got_done = 1;
	if (s->cfg.mode == SESS_BUNDLE_OUT) {
		for (i = 0; i < n; i += 3)
			if (known_raise(s, a[i].via.u64, a[i + 1].via.str.ptr,
					a[i + 1].via.str.size,
					a[i + 2].via.u64) != 0)
				return fail(s, TSYNC_ENOMEM, 0, "no memory");
		return 0;
	}
	if (txns != s->st.batch_txns)
		return fail(s, TSYNC_ECORRUPT, 0,
			    "bundle says %llu txns but held %llu",
			    (unsigned long long)txns,
			    (unsigned long long)s->st.batch_txns);
	if (!end_signed(s, f, txns, a, n)) {
		/* No TLS identity vouches for a file: heads nobody signed
		 * could block our writes or accuse an office. */
		act(s, SA_LOG, 0, "the END of %s is not signed by its writer "
		    "(release 0.1.0, or a changed file): its heads were not "
		    "used", s->peer_name);
		goto done;
	}
	if (mine_sorted(s, &mine, &cnt) != 0)
		return fail(s, TSYNC_EIO, 0, "cannot read streams: %s",
			    store_err(s));
	/* Our own streams held further by the writer: this replica was
	 * restored from a backup (as from a VV, section 3.3). */
	for (i = 0; i < n; i += 3) {
		uint64_t my = held_seq(mine, cnt, &a[i]);

		if (a[i].via.u64 == s->self_id && a[i + 2].via.u64 > my)
			restored(s, &a[i], my);
	}
	vv_hashes(s, f, 3, a, n, mine, cnt);
	free(mine);
done:
	s->state = S_CLOSED;
	act(s, SA_CLOSE, 0, "read %llu txns from %s",
	    (unsigned long long)txns, s->peer_name);
	return 0;
}

/*
 * The frames of a bundle file.  Read back (SESS_BUNDLE_IN): BUNDLE first,
 * then CERT, CRL and BATCH as from a peer, then END.  As the --since input
 * of a bundle being written (SESS_BUNDLE_OUT): only END's vv is taken.
 */
static int
on_bundle_frame(struct sess *s, const struct frame *f)
{
	int since = s->cfg.mode == SESS_BUNDLE_OUT;

	if (s->state == S_HELLO && f->type != WIRE_BUNDLE)
		return fail(s, TSYNC_EPROTO, 0,
			    "the first frame is not BUNDLE but type %d",
			    f->type);
	switch (f->type) {
	case WIRE_BUNDLE:
		if (s->state != S_HELLO)
			return fail(s, TSYNC_EPROTO, 0, "second BUNDLE");
		return on_bundle(s, f);
	case WIRE_END:
		return on_end(s, f);
	case WIRE_CERT:
		return since ? 0 : on_cert(s, f);
	case WIRE_CRL:
		return since ? 0 : on_crl(s, f);
	case WIRE_BATCH:
		return since ? 0 : on_batch(s, f);
	default:
		if (f->type >= WIRE_SKIPPABLE && s->proto >= 2) {
			s->skipped++;
			return 0; /* a later release's message (2.2) */
		}
		return fail(s, TSYNC_EPROTO, 0,
			    "message type %d in a bundle", f->type);
	}
}

int
sess_bundle_start(struct sess *s)
{
	msgpack_packer pk;
	size_t f, i;
	int rc;

	if (s->cfg.mode != SESS_BUNDLE_OUT || s->state == S_FAILED ||
	    s->state == S_CLOSED)
		return TSYNC_EINVAL;
	f = frame_begin(&s->out, &pk);
	msgpack_pack_array(&pk, 9);
	msgpack_pack_uint8(&pk, WIRE_BUNDLE);
	msgpack_pack_uint8(&pk, BUNDLE_FMT);
	msgpack_pack_uint64(&pk, s->self_id);
	msgpack_pack_str_with_body(&pk, s->peer_scope, strlen(s->peer_scope));
	msgpack_pack_uint64(&pk, s->now);
	msgpack_pack_array(&pk, 3 * s->nknown);
	for (i = 0; i < s->nknown; i++) {
		msgpack_pack_uint64(&pk, s->known[i].origin);
		msgpack_pack_str_with_body(&pk, s->known[i].scope,
					   strlen(s->known[i].scope));
		msgpack_pack_uint64(&pk, s->known[i].seq);
	}
	msgpack_pack_uint32(&pk, PROTO_VERSION);
	msgpack_pack_uint32(&pk, SCHEMA_VERSION);
	msgpack_pack_str_with_body(&pk, TSYNC_VERSION_STRING,
				   strlen(TSYNC_VERSION_STRING));
	if ((rc = frame_end(&s->out, f)) != 0)
		return fail(s, rc, 0, "the --since vv is too large");
	s->state = S_SYNC;
	sess_send_crl(s);
	/* The writer introduces itself, so the reader can seal its answer
	 * to it even when no stream of ours goes in. */
	if ((rc = send_cert(s, s->self_id)) != 0)
		return fail(s, rc, 0, "out of memory");
	s->dirty = 1;
	return 0;
}

int
sess_got_end(const struct sess *s)
{
	return s->got_done && s->cfg.mode != SESS_LINK;
}

uint64_t
sess_in_offset(const struct sess *s)
{
	return s->state == S_FAILED ? s->in_at : s->in_done;
}

void
sess_peer_versions(const struct sess *s, unsigned *proto, uint32_t *schema,
		   const char **release)
{
	*proto = s->proto;
	*schema = s->peer_schema;
	*release = s->peer_release;
}

static int
on_frame(struct sess *s, const uint8_t *body, size_t len)
{
	struct frame f;
	int rc = 0;

	if ((rc = frame_decode(&f, body, len)) != 0) {
		frame_done(&f);
		if (rc == TSYNC_ECORRUPT)
			return fail(s, TSYNC_EPROTO, ERR_LIMIT,
				    "frame of %zu bytes: msgpack counts beyond "
				    "its bytes or over %u objects",
				    len, FRAME_ELEMS_MAX);
		return fail(s, TSYNC_EPROTO, ERR_MALFORMED,
			    "frame is not a msgpack array with a type");
	}
	if (f.type != WIRE_BATCH && (rc = group_end(s)) != 0) {
		frame_done(&f);
		return rc;
	}
	if (s->cfg.mode != SESS_LINK) {
		rc = on_bundle_frame(s, &f);
		frame_done(&f);
		return rc;
	}
	if (s->state == S_HELLO && f.type != WIRE_HELLO && f.type != WIRE_ERROR)
		rc = fail(s, TSYNC_EPROTO, ERR_MALFORMED,
			  "expected HELLO, got message type %d", f.type);
	else if (s->state == S_VV && f.type == WIRE_BATCH)
		rc = fail(s, TSYNC_EPROTO, ERR_MALFORMED, "BATCH before VV");
	else switch (f.type) {
	case WIRE_HELLO:
		rc = s->state == S_HELLO
			     ? on_hello(s, &f)
			     : fail(s, TSYNC_EPROTO, ERR_MALFORMED,
				    "second HELLO");
		break;
	case WIRE_VV:
		rc = s->state == S_VV ? on_vv(s, &f)
				      : fail(s, TSYNC_EPROTO, ERR_MALFORMED,
					     "unexpected VV");
		break;
	case WIRE_CERT:
		rc = on_cert(s, &f);
		break;
	case WIRE_CRL:
		rc = on_crl(s, &f);
		break;
	case WIRE_BATCH:
		snap_skipped(s);
		rc = on_batch(s, &f);
		break;
	case WIRE_ACK:
		rc = on_ack(s, &f);
		break;
	case WIRE_DONE:
		snap_skipped(s);
		rc = on_done(s, &f);
		break;
	case WIRE_PING: {
		msgpack_packer pk;
		size_t fr;
		uint64_t t = 0;

		if (s->now - s->ping_win >= PING_WINDOW_MS) {
			s->ping_win = s->now;
			s->pings = 0;
		}
		if (++s->pings > PING_MAX) {
			rc = fail(s, TSYNC_EPROTO, ERR_LIMIT,
				  "PING flood: more than %u PINGs within "
				  "%u ms",
				  PING_MAX, PING_WINDOW_MS);
			break;
		}
		fr = frame_begin(&s->out, &pk);
		frame_u64(&f, 1, &t);
		msgpack_pack_array(&pk, 2);
		msgpack_pack_uint8(&pk, WIRE_PONG);
		msgpack_pack_uint64(&pk, t);
		frame_end(&s->out, fr);
		break;
	}
	case WIRE_PONG:
		break;
	case WIRE_ERROR: {
		const char *t = "";
		uint32_t tl = 0;

		frame_str(&f, 2, &t, &tl);
		s->state = S_FAILED;
		act(s, SA_CLOSE, TSYNC_EPROTO, "peer %s reported: %.*s",
		    s->peer_name, (int)tl, t);
		rc = TSYNC_EPROTO;
		break;
	}
	case WIRE_BYE: {
		const char *t = "";
		uint32_t tl = 0;

		frame_str(&f, 1, &t, &tl);
		s->state = S_CLOSED;
		act(s, SA_CLOSE, 0, "%s closed the link: %.*s", s->peer_name,
		    (int)tl, t);
		break;
	}
	case WIRE_SNAP_REQ:
	case WIRE_SNAP_OFFER:
	case WIRE_SNAP_DATA:
	case WIRE_SNAP_END:
	case WIRE_SNAP_RESULT:
		rc = on_snap(s, &f) < 0 || sess_failed(s) ? TSYNC_EPROTO : 0;
		break;
	default:
		if (f.type >= WIRE_SKIPPABLE && s->proto >= 2) {
			/* A later release's message: skipped (2.2). */
			if (s->skipped++ == 0)
				act(s, SA_LOG, 0,
				    "skipped message type %d from %s (a later "
				    "release's; this node runs %s)",
				    f.type, s->peer_name,
				    TSYNC_VERSION_STRING);
			break;
		}
		rc = fail(s, TSYNC_EPROTO, ERR_MALFORMED,
			  "unknown message type %d", f.type);
	}
	frame_done(&f);
	return rc;
}

/* ---- public ---------------------------------------------------------- */

struct sess *
sess_new(const struct sess_cfg *cfg, uint64_t now_ms)
{
	struct sess *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->cfg = *cfg;
	s->n = cfg->node;
	if (cfg->store != NULL) {
		s->store = *cfg->store;
	} else {
		s->store.vt = &sess_store_node;
		s->store.ctx = cfg->node;
	}
	s->store.vt->self(s->store.ctx, &s->self_id, &s->self_scope,
			  &s->self_role);
	if (s->cfg.window == 0)
		s->cfg.window = 4;
	if (s->cfg.batch_txns == 0)
		s->cfg.batch_txns = 1024;
	if (s->cfg.batch_bytes == 0)
		s->cfg.batch_bytes = 1u << 20;
	if (s->cfg.ping_ms == 0)
		s->cfg.ping_ms = 10000;
	if (s->cfg.idle_ms == 0)
		s->cfg.idle_ms = 30000;
	ts_buf_init(&s->in, NULL, FRAME_MAX + 4);
	ts_buf_init(&s->out, NULL, 0);
	ts_buf_init(&s->batch, NULL, 0);
	s->now = s->last_rx = s->last_ping = s->ping_win = now_ms;
	if (s->n->ops.random == NULL ||
	    s->n->ops.random(s->n->ops.ctx, &s->kseed, sizeof(s->kseed)) != 0)
		RAND_bytes((unsigned char *)&s->kseed, sizeof(s->kseed));
	ts_fmt(s->peer_name, sizeof(s->peer_name), "%s",
	       cfg->peer_addr ? cfg->peer_addr : "peer");
	if (cfg->mode == SESS_BUNDLE_OUT) {
		/* The reader: an office of for_scope (section 7.2). */
		s->cfg.one_shot = 0;
		s->proto = PROTO_VERSION;
		ts_fmt(s->peer_scope, sizeof(s->peer_scope), "%s",
		       cfg->for_scope ? cfg->for_scope : "");
		ts_fmt(s->peer_role, sizeof(s->peer_role), "office");
	} else if (cfg->mode == SESS_BUNDLE_IN) {
		s->cfg.one_shot = 0; /* each batch kept as soon as read */
	} else {
		send_hello(s);
	}
	return s;
}

void
sess_free(struct sess *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nknown; i++)
		free(s->known[i].scope);
	free(s->known);
	free(s->kidx);
	free(s->certed);
	free(s->plan);
	group_abort(s);
	snap_free(s->snap);
	ts_buf_free(&s->in);
	ts_buf_free(&s->out);
	ts_buf_free(&s->batch);
	free(s);
}

/*
 * Processes the whole frames at the front of p[0..n); *used says how many
 * bytes they took.  Stops at the first partial frame, error or close.
 */
static int
feed_frames(struct sess *s, const uint8_t *p, size_t n, size_t *used)
{
	const uint8_t *body;
	size_t len, fl;
	int rc;

	*used = 0;
	while (*used < n) {
		s->in_at = s->in_done;
		rc = frame_next(p + *used, n - *used, &body, &len, &fl);
		if (rc < 0)
			return fail(s, TSYNC_EPROTO, ERR_MALFORMED,
				    "frame length out of bounds");
		if (rc == 0)
			break;
		*used += fl;
		s->in_done += fl;
		s->frame_at = s->now; /* what follows is a new frame */
		if ((rc = on_frame(s, body, len)) != 0)
			return rc;
		if (s->state == S_FAILED || s->state == S_CLOSED)
			break;
	}
	return 0;
}

/* Notes the announced length of the partial frame left in `in`. */
static void
partial_frame(struct sess *s)
{
	const uint8_t *p;

	s->frame_len = 0;
	if (s->in.len - s->in_off < 4)
		return;
	p = s->in.p + s->in_off;
	s->frame_len = (size_t)p[0] << 24 | (size_t)p[1] << 16 |
		       (size_t)p[2] << 8 | p[3];
}

/* Bytes that complete the partial frame held in `in` (or its header). */
static size_t
partial_need(const struct sess *s)
{
	size_t have = s->in.len - s->in_off;

	if (have < 4)
		return 4 - have;
	if (s->frame_len == 0 || s->frame_len > FRAME_MAX)
		return 0; /* frame_next() refuses it */
	return 4 + s->frame_len - have;
}

/* Parses what p[0..n) holds after the partial frame in `in`, if any. */
static int
feed_some(struct sess *s, const uint8_t **p, size_t *n)
{
	size_t used, take;
	int rc;

	if (s->in.len == s->in_off) {
		/* Parse straight from p while no partial frame is held. */
		s->in.len = s->in_off = 0;
		rc = feed_frames(s, *p, *n, &used);
		*p += used;
		*n -= used;
		if (rc != 0 || *n == 0 || s->state == S_FAILED ||
		    s->state == S_CLOSED)
			return rc;
	}
	/* The live bytes of `in` are one partial frame: add only what
	 * completes it, so `in` never holds more than one frame. */
	if (s->in_off > 0) {
		memmove(s->in.p, s->in.p + s->in_off, s->in.len - s->in_off);
		s->in.len -= s->in_off;
		s->in_off = 0;
	}
	take = partial_need(s);
	if (take == 0 || take > *n)
		take = *n;
	if (ts_buf_put(&s->in, *p, take) != 0)
		return fail(s, TSYNC_EPROTO, ERR_MALFORMED, "frame too large");
	*p += take;
	*n -= take;
	partial_frame(s);
	rc = feed_frames(s, s->in.p, s->in.len, &used);
	ts_buf_drop(&s->in, &s->in_off, used);
	return rc;
}

int
sess_feed(struct sess *s, const uint8_t *p, size_t n)
{
	int rc;

	if (s->state == S_FAILED || s->state == S_CLOSED)
		return 0;
	s->last_rx = s->now;
	s->st.recv_bytes += n;
	if (s->in.len == s->in_off)
		s->frame_at = s->now;
	while (n > 0 && s->state != S_FAILED && s->state != S_CLOSED)
		if ((rc = feed_some(s, &p, &n)) != 0)
			return rc;
	if (s->state == S_FAILED || s->state == S_CLOSED)
		return 0;
	partial_frame(s);
	/* No partial frame: the peer may wait for our ACKs. */
	if (s->grp_open && s->in.len == s->in_off &&
	    (rc = group_end(s)) != 0)
		return rc;
	if (s->in.len == s->in_off && s->in.cap > (4u << 20)) {
		ts_buf_free(&s->in);
		s->in_off = 0;
	}
	if (s->out.len - s->out_off > SESS_OUT_MAX)
		return fail(s, TSYNC_EPROTO, ERR_LIMIT,
			    "%s does not read: %zu bytes wait to be sent, over "
			    "the cap of %u",
			    s->peer_name, s->out.len - s->out_off,
			    SESS_OUT_MAX);
	return 0;
}

const uint8_t *
sess_pending(struct sess *s, size_t *n)
{
	*n = s->out.len - s->out_off;
	return s->out.p + s->out_off;
}

void
sess_sent(struct sess *s, size_t n)
{
	s->st.sent_bytes += n;
	ts_buf_drop(&s->out, &s->out_off, n);
	if (s->out.len == 0 && s->out.cap > (4u << 20))
		ts_buf_free(&s->out); /* a backlog drained: give back its room */
}

/*
 * The time a frame of `len` bytes may take from its first byte (or the end
 * of the frame before it) to its last: the idle timeout, plus 1 s per
 * FRAME_MIN_RATE bytes.  Bytes that trickle in do not count as word from
 * the peer; only whole frames do.
 */
static uint64_t
frame_deadline(const struct sess *s, size_t len)
{
	return s->cfg.idle_ms + (uint64_t)len * 1000 / FRAME_MIN_RATE;
}

/* Fails the session when a partial frame is older than its deadline. */
static void
check_frame_deadline(struct sess *s)
{
	uint64_t limit = frame_deadline(s, s->frame_len);

	if (s->in.len == s->in_off || s->now < s->frame_at ||
	    s->now - s->frame_at <= limit)
		return;
	fail(s, TSYNC_EIO, ERR_TIMEOUT,
	     "no word from %s for %llu ms: a frame of %zu bytes is not "
	     "complete (%zu bytes arrived; it had %llu ms)",
	     s->peer_name, (unsigned long long)(s->now - s->frame_at),
	     s->frame_len, s->in.len - s->in_off, (unsigned long long)limit);
}

int
sess_poll(struct sess *s, uint64_t now_ms, struct sess_action *a)
{
	s->now = now_ms;
	if (s->rx_reset || snap_waiting(s->snap)) {
		/* A snapshot's check ran (or runs at the peer): word from
		 * the peer, and our PINGs, start again from now. */
		s->last_rx = s->last_ping = s->frame_at = now_ms;
		s->rx_reset = 0;
	}
	if (s->cfg.mode != SESS_LINK) {
		if (s->state == S_SYNC)
			pump(s);
		goto pop;
	}
	if (s->state != S_FAILED && s->state != S_CLOSED)
		check_frame_deadline(s);
	if (s->grp_open && now_ms - s->grp_at >= GROUP_MS)
		group_end(s);
	if (s->state != S_FAILED && s->state != S_CLOSED) {
		if (now_ms - s->last_rx > s->cfg.idle_ms)
			fail(s, TSYNC_EIO, ERR_TIMEOUT,
			     "no word from %s for %llu ms", s->peer_name,
			     (unsigned long long)(now_ms - s->last_rx));
		else if (now_ms - s->last_ping >= s->cfg.ping_ms) {
			msgpack_packer pk;
			size_t f = frame_begin(&s->out, &pk);

			msgpack_pack_array(&pk, 2);
			msgpack_pack_uint8(&pk, WIRE_PING);
			msgpack_pack_uint64(&pk, now_ms);
			frame_end(&s->out, f);
			s->last_ping = now_ms;
		}
		pump(s);
		if (s->state == S_SYNC && s->got_done &&
		    s->st.recv_txns > s->receipt_recv &&
		    now_ms - s->receipt_at >= RECEIPT_EVERY_MS)
			receipts_now(s);
		if (s->sent_done && s->got_done && !s->synced) {
			s->synced = 1;
			if (s->mismatch == 0)
				act(s, SA_SYNCED, 0,
				    "in sync with %s: sent %llu, received "
				    "%llu txns",
				    s->peer_name,
				    (unsigned long long)s->st.sent_txns,
				    (unsigned long long)s->st.recv_txns);
			else
				act(s, SA_SYNCED, TSYNC_EVERIFY,
				    "not in sync with %s: %llu txns were "
				    "refused or are missing (see status)",
				    s->peer_name,
				    (unsigned long long)s->mismatch);
		}
	}
pop:
	if (s->qlen == 0) {
		memset(a, 0, sizeof(*a));
		return 0;
	}
	*a = s->q[s->qhead];
	s->qhead = (s->qhead + 1) % QMAX;
	s->qlen--;
	return 1;
}

void
sess_send_crl(struct sess *s)
{
	msgpack_packer pk;
	size_t f, len;
	char *pem;

	if (s->state == S_FAILED || s->state == S_CLOSED ||
	    s->store.vt->crl_pem(s->store.ctx, &pem, &len) != 0)
		return;
	f = frame_begin(&s->out, &pk);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint8(&pk, WIRE_CRL);
	msgpack_pack_bin_with_body(&pk, pem, len);
	frame_end(&s->out, f);
	free(pem);
}

void
sess_notify(struct sess *s)
{
	s->dirty = 1;
}

void
sess_close(struct sess *s, const char *why)
{
	msgpack_packer pk;
	size_t f;

	if (s->state == S_FAILED || s->state == S_CLOSED)
		return;
	if (group_end(s) != 0)
		return;
	f = frame_begin(&s->out, &pk);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint8(&pk, WIRE_BYE);
	msgpack_pack_str_with_body(&pk, why, strlen(why));
	frame_end(&s->out, f);
	s->state = S_CLOSED;
}

int
sess_failed(const struct sess *s)
{
	return s->state == S_FAILED;
}

int
sess_closed(const struct sess *s)
{
	return s->state == S_FAILED || s->state == S_CLOSED;
}

const char *
sess_peer_name(const struct sess *s)
{
	return s->peer_name;
}

void
sess_get_stats(const struct sess *s, struct sess_stats *st)
{
	*st = s->st;
}

uint64_t
sess_peer_id(const struct sess *s)
{
	return s->peer_id;
}

const char *
sess_peer_scope(const struct sess *s)
{
	return s->peer_scope;
}

const char *
sess_peer_role(const struct sess *s)
{
	return s->peer_role;
}
