/*
 * receipt.c - receipts and equivocation evidence; see receipt.h and
 * docs/protocol.md, section 8.3.
 *
 * The two tables are ordinary replicated tables (domain/schema.c), so
 * what this file writes is captured, signed and chained like any local
 * write, and every receiver checks it like any txn.  This file only
 * decides what to write, and reads both tables back for status and
 * verify.
 *
 *   receipts(id = WITNESS/ORIGIN/SCOPE, scope = the witness's scope,
 *            witness, origin, stream, seq, head, at)
 *   evidence(id = 32 hex of a hash of what was seen, scope = the
 *            detector's scope, origin, stream, seq, held, other, how,
 *            seen_by, peer, seen_at, body_a, sig_a, body_b, sig_b)
 *
 * Node ids are 16 hex digits and hashes 64, as `status` prints them.
 */
#include <stdlib.h>
#include <string.h>

#include "node_int.h"
#include "receipt.h"
#include "scope.h"
#include "certs.h"
#include "txn.h"

static int
may_write(const struct tsync_node *n)
{
	return strcmp(n->role, "office") == 0;
}

/* The txn held at (origin, scope, seq): its hash, and optionally a copy
 * of its body and signature (malloc'd).  1 if held, 0 if not, <0 error. */
static int
held_txn(struct tsync_node *n, uint64_t origin, const char *scope,
	 size_t len, uint64_t seq, uint8_t hash[KEYS_HASH_LEN],
	 uint8_t **body, size_t *blen, uint8_t **sig)
{
	sqlite3_stmt *s;
	int rc, found = 0;

	rc = sqlite3_prepare_v2(n->db,
				"SELECT l.hash, l.body, l.sig FROM ts_streams s"
				" JOIN ts_log l ON l.k = (s.sid << 40) | ?3"
				" WHERE s.origin = ?1 AND s.scope = ?2 AND"
				" ?3 <= s.seq",
				-1, &s, NULL);
	if (rc != SQLITE_OK)
		return node_sqlerr(n, rc, "receipts");
	sqlite3_bind_int64(s, 1, (int64_t)origin);
	sqlite3_bind_text(s, 2, scope, (int)len, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (int64_t)seq);
	if (seq >= 1 && seq < ((uint64_t)1 << 40) &&
	    (rc = sqlite3_step(s)) == SQLITE_ROW &&
	    sqlite3_column_bytes(s, 0) == KEYS_HASH_LEN) {
		memcpy(hash, sqlite3_column_blob(s, 0), KEYS_HASH_LEN);
		found = 1;
		if (body != NULL && sqlite3_column_bytes(s, 2) == KEYS_SIG_LEN) {
			*blen = (size_t)sqlite3_column_bytes(s, 1);
			*body = malloc(*blen + 1);
			*sig = malloc(KEYS_SIG_LEN);
			if (*body == NULL || *sig == NULL) {
				free(*body);
				free(*sig);
				*body = *sig = NULL;
				sqlite3_finalize(s);
				return node_err(n, TSYNC_ENOMEM, "no memory");
			}
			memcpy(*body, sqlite3_column_blob(s, 1), *blen);
			memcpy(*sig, sqlite3_column_blob(s, 2), KEYS_SIG_LEN);
		}
	}
	sqlite3_finalize(s);
	return found;
}

/* ---- evidence ---------------------------------------------------------- */

struct ev {
	uint64_t origin;
	const char *scope;
	size_t len;
	uint64_t seq;
	uint8_t held[KEYS_HASH_LEN], other[KEYS_HASH_LEN];
	const char *how;
	uint64_t peer; /* who showed us the other head; 0: none */
	const uint8_t *body_b, *sig_b;
	size_t blen_b;
};

/* The evidence id: one per (detector, stream, seq, how, pair of
 * hashes). */
static void
ev_id(const struct tsync_node *n, const struct ev *e, char out[33])
{
	uint8_t m[8 + 8 + 8 + 1 + 2 * KEYS_HASH_LEN + 256], h[KEYS_HASH_LEN];
	const uint8_t *lo = e->held, *hi = e->other;
	size_t l = 0;

	if (memcmp(lo, hi, KEYS_HASH_LEN) > 0) {
		lo = e->other;
		hi = e->held;
	}
	be64_put(m, n->id);
	be64_put(m + 8, e->origin);
	be64_put(m + 16, e->seq);
	m[24] = (uint8_t)e->how[0]; /* t(xn), c(hain), v(v), r(eceipt) */
	l = 25;
	memcpy(m + l, lo, KEYS_HASH_LEN);
	memcpy(m + l + KEYS_HASH_LEN, hi, KEYS_HASH_LEN);
	l += 2 * KEYS_HASH_LEN;
	memcpy(m + l, e->scope, e->len < 256 ? e->len : 256);
	l += e->len < 256 ? e->len : 256;
	keys_sha256(m, l, h);
	hex_encode(h, 16, out);
}

/* 1 if this node recorded this evidence already. */
static int
ev_known(struct tsync_node *n, const char *id)
{
	sqlite3_stmt *s;
	int k;

	if (sqlite3_prepare_v2(n->db, "SELECT 1 FROM evidence WHERE id = ?1",
			       -1, &s, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	k = sqlite3_step(s) == SQLITE_ROW;
	sqlite3_finalize(s);
	return k;
}

/* Writes one evidence row as a local txn; 1 if written, 0 if known or
 * this node may not write, <0 on error. */
static int
ev_write(struct tsync_node *n, const struct ev *e, uint64_t now_ms)
{
	char id[33], org[17], me[17], peer[17], held[65], other[65];
	uint8_t h[KEYS_HASH_LEN], *body = NULL, *sig = NULL;
	size_t blen = 0;
	sqlite3_stmt *s;
	int rc;

	ev_id(n, e, id);
	if (!may_write(n) || ev_known(n, id))
		return 0;
	rc = held_txn(n, e->origin, e->scope, e->len, e->seq, h, &body, &blen,
		      &sig);
	if (rc < 0)
		return rc;
	id_format(e->origin, org);
	id_format(n->id, me);
	id_format(e->peer, peer);
	hex_encode(e->held, KEYS_HASH_LEN, held);
	hex_encode(e->other, KEYS_HASH_LEN, other);
	if ((rc = tsync_node_begin(n)) != 0)
		goto out;
	rc = sqlite3_prepare_v2(n->db,
				"INSERT INTO evidence(id, scope, origin, stream,"
				" seq, held, other, how, seen_by, peer,"
				" seen_at, body_a, sig_a, body_b, sig_b)"
				" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
				" ?10, ?11, ?12, ?13, ?14, ?15)",
				-1, &s, NULL);
	if (rc != SQLITE_OK) {
		rc = node_sqlerr(n, rc, "evidence");
		tsync_node_rollback(n);
		goto out;
	}
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, n->scope, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, org, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, e->scope, (int)e->len, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, (int64_t)e->seq);
	sqlite3_bind_text(s, 6, held, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 7, other, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 8, e->how, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 9, me, -1, SQLITE_STATIC);
	if (e->peer != 0)
		sqlite3_bind_text(s, 10, peer, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 11, (int64_t)now_ms);
	if (body != NULL) {
		sqlite3_bind_blob(s, 12, body, (int)blen, SQLITE_STATIC);
		sqlite3_bind_blob(s, 13, sig, KEYS_SIG_LEN, SQLITE_STATIC);
	}
	if (e->body_b != NULL) {
		sqlite3_bind_blob(s, 14, e->body_b, (int)e->blen_b,
				  SQLITE_STATIC);
		sqlite3_bind_blob(s, 15, e->sig_b, KEYS_SIG_LEN,
				  SQLITE_STATIC);
	}
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		rc = node_sqlerr(n, rc, "evidence");
		tsync_node_rollback(n);
		goto out;
	}
	rc = tsync_node_commit(n);
	if (rc == 0)
		rc = 1;
out:
	free(body);
	free(sig);
	return rc;
}

int
evidence_vv(struct tsync_node *n, uint64_t origin, const char *scope,
	    size_t len, uint64_t seq, const uint8_t hash[KEYS_HASH_LEN],
	    uint64_t peer, uint64_t now_ms)
{
	struct ev e;
	int rc;

	memset(&e, 0, sizeof(e));
	rc = held_txn(n, origin, scope, len, seq, e.held, NULL, NULL, NULL);
	if (rc <= 0)
		return rc;
	if (memcmp(e.held, hash, KEYS_HASH_LEN) == 0)
		return 0;
	e.origin = origin;
	e.scope = scope;
	e.len = len;
	e.seq = seq;
	memcpy(e.other, hash, KEYS_HASH_LEN);
	e.how = EV_VV;
	e.peer = peer;
	rc = ev_write(n, &e, now_ms);
	return rc < 0 ? rc : 1;
}

int64_t
evidence_qmark(struct tsync_node *n)
{
	sqlite3_stmt *s;
	int64_t v = 0;

	if (sqlite3_prepare_v2(n->db, "SELECT coalesce(max(qid), 0) FROM"
				      " ts_quarantine",
			       -1, &s, NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

/* A quarantined body that proves equivocation: fills e (pointing into
 * t and the row's copies).  1 if it does. */
static int
q_proves(struct tsync_node *n, const struct txn *t, const uint8_t *sig,
	 int chain, struct ev *e)
{
	const struct cert_entry *ce;
	uint8_t h[KEYS_HASH_LEN];
	uint64_t seq = chain ? t->seq - 1 : t->seq;

	if (seq == 0 || held_txn(n, t->origin, t->scope, t->scope_len, seq, h,
				 NULL, NULL, NULL) != 1)
		return 0;
	if (memcmp(h, chain ? t->prev : t->hash, KEYS_HASH_LEN) == 0)
		return 0;
	/* Only what the origin itself signed is evidence against it. */
	if ((ce = certs_get(n, t->origin)) == NULL ||
	    txn_verify_sig(ce->key, t->hash, sig) != 0)
		return 0;
	memset(e, 0, sizeof(*e));
	e->origin = t->origin;
	e->scope = t->scope;
	e->len = t->scope_len;
	e->seq = seq;
	memcpy(e->held, h, KEYS_HASH_LEN);
	memcpy(e->other, chain ? t->prev : t->hash, KEYS_HASH_LEN);
	e->how = chain ? EV_CHAIN : EV_TXN;
	return 1;
}

struct qrow {
	uint8_t *body, *sig;
	size_t len;
	int chain;
};

int
evidence_from_quarantine(struct tsync_node *n, int64_t after_qid,
			 uint64_t peer, uint64_t now_ms, unsigned *found)
{
	struct qrow r[EVIDENCE_SCAN_MAX];
	size_t nr = 0, i;
	sqlite3_stmt *s;
	int rc = 0;

	*found = 0;
	if (!may_write(n))
		return 0;
	rc = sqlite3_prepare_v2(n->db,
				"SELECT body, sig, reason LIKE 'broken chain%'"
				" FROM ts_quarantine WHERE qid > ?1 AND"
				" body IS NOT NULL AND length(sig) = 64 AND"
				" (reason LIKE 'equivocation%' OR"
				" reason LIKE 'broken chain%') ORDER BY qid"
				" LIMIT ?2",
				-1, &s, NULL);
	if (rc != SQLITE_OK)
		return node_sqlerr(n, rc, "evidence");
	sqlite3_bind_int64(s, 1, after_qid);
	sqlite3_bind_int(s, 2, EVIDENCE_SCAN_MAX);
	while (nr < EVIDENCE_SCAN_MAX && sqlite3_step(s) == SQLITE_ROW) {
		r[nr].len = (size_t)sqlite3_column_bytes(s, 0);
		r[nr].body = malloc(r[nr].len + 1);
		r[nr].sig = malloc(KEYS_SIG_LEN);
		r[nr].chain = sqlite3_column_int(s, 2);
		if (r[nr].body == NULL || r[nr].sig == NULL) {
			free(r[nr].body);
			free(r[nr].sig);
			break;
		}
		memcpy(r[nr].body, sqlite3_column_blob(s, 0), r[nr].len);
		memcpy(r[nr].sig, sqlite3_column_blob(s, 1), KEYS_SIG_LEN);
		nr++;
	}
	sqlite3_finalize(s);
	for (i = 0; i < nr; i++) {
		struct txn t;
		struct ev e;
		char err[96];

		if (rc >= 0) {
			if (txn_decode(&t, r[i].body, r[i].len, err,
				       sizeof(err)) == 0 &&
			    q_proves(n, &t, r[i].sig, r[i].chain, &e)) {
				e.peer = peer;
				e.body_b = r[i].body;
				e.blen_b = r[i].len;
				e.sig_b = r[i].sig;
				rc = ev_write(n, &e, now_ms);
				if (rc > 0)
					(*found)++;
			}
			txn_done(&t);
		}
		free(r[i].body);
		free(r[i].sig);
	}
	return rc < 0 ? rc : 0;
}

/* ---- receipts ---------------------------------------------------------- */

struct rc_row {
	uint64_t origin;
	char scope[256];
	uint64_t seq;
	char head[65];
};

/* 1 if this node's receipt for the stream already says seq and head. */
static int
receipt_same(struct tsync_node *n, const char *id, const struct rc_row *r)
{
	sqlite3_stmt *s;
	int same = 0;

	if (sqlite3_prepare_v2(n->db, "SELECT seq, head FROM receipts WHERE"
				      " id = ?1",
			       -1, &s, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		same = (uint64_t)sqlite3_column_int64(s, 0) == r->seq &&
		       sqlite3_column_text(s, 1) != NULL &&
		       strcmp((const char *)sqlite3_column_text(s, 1),
			      r->head) == 0;
	sqlite3_finalize(s);
	return same;
}

static int
receipt_put(struct tsync_node *n, const char *id, const struct rc_row *r,
	    uint64_t now_ms)
{
	static const char *const sql[2] = {
		"UPDATE receipts SET seq = ?5, head = ?6, at = ?7 WHERE id = ?1",
		"INSERT INTO receipts(id, scope, witness, origin, stream, seq,"
		" head, at) VALUES(?1, ?2, ?3, ?4, ?8, ?5, ?6, ?7)",
	};
	char me[17], org[17];
	sqlite3_stmt *s;
	int i, rc;

	id_format(n->id, me);
	id_format(r->origin, org);
	for (i = 0; i < 2; i++) {
		rc = sqlite3_prepare_v2(n->db, sql[i], -1, &s, NULL);
		if (rc != SQLITE_OK)
			return node_sqlerr(n, rc, "receipts");
		sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
		if (i == 1) {
			sqlite3_bind_text(s, 2, n->scope, -1, SQLITE_STATIC);
			sqlite3_bind_text(s, 3, me, -1, SQLITE_STATIC);
			sqlite3_bind_text(s, 4, org, -1, SQLITE_STATIC);
			sqlite3_bind_text(s, 8, r->scope, -1, SQLITE_STATIC);
		}
		sqlite3_bind_int64(s, 5, (int64_t)r->seq);
		sqlite3_bind_text(s, 6, r->head, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 7, (int64_t)now_ms);
		rc = sqlite3_step(s);
		sqlite3_finalize(s);
		if (rc != SQLITE_DONE)
			return node_sqlerr(n, rc, "receipts");
		if (sqlite3_changes(n->db) > 0)
			return 0;
	}
	return node_err(n, TSYNC_EIO, "receipt %s not written", id);
}

static void
receipt_id(const struct tsync_node *n, const struct rc_row *r, char *out,
	   size_t len)
{
	char me[17], org[17];

	id_format(n->id, me);
	id_format(r->origin, org);
	ts_fmt(out, len, "%s/%s/%s", me, org, r->scope);
}

int
receipt_update(struct tsync_node *n, const char *child_scope,
	       uint64_t now_ms, unsigned *written)
{
	struct rc_row *v = NULL;
	size_t nv = 0, cap = 0, i;
	sqlite3_stmt *s;
	char id[320];
	int rc;

	*written = 0;
	if (!may_write(n) || !scope_within(child_scope, n->scope) ||
	    strcmp(child_scope, n->scope) == 0)
		return 0;
	rc = sqlite3_prepare_v2(n->db, "SELECT origin, scope, seq, hash FROM"
				       " ts_streams WHERE origin != ?1 AND"
				       " seq > 0 ORDER BY sid",
				-1, &s, NULL);
	if (rc != SQLITE_OK)
		return node_sqlerr(n, rc, "receipts");
	sqlite3_bind_int64(s, 1, (int64_t)n->id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *sc = (const char *)sqlite3_column_text(s, 1);
		struct rc_row r;

		const struct cert_entry *ce;

		if (sc == NULL || strlen(sc) >= sizeof(r.scope) ||
		    !scope_within(sc, child_scope) ||
		    sqlite3_column_bytes(s, 3) != KEYS_HASH_LEN)
			continue;
		r.origin = (uint64_t)sqlite3_column_int64(s, 0);
		/* Only streams the child's subtree wrote: what came from
		 * above through the child's scope is not the child's. */
		if ((ce = certs_get(n, r.origin)) == NULL ||
		    !scope_within(ce->info.scope, child_scope))
			continue;
		ts_fmt(r.scope, sizeof(r.scope), "%s", sc);
		r.seq = (uint64_t)sqlite3_column_int64(s, 2);
		hex_encode(sqlite3_column_blob(s, 3), KEYS_HASH_LEN, r.head);
		receipt_id(n, &r, id, sizeof(id));
		if (receipt_same(n, id, &r))
			continue;
		if (ts_grow(&v, &cap, nv, sizeof(*v), 16) != 0) {
			rc = SQLITE_NOMEM;
			break;
		}
		v[nv++] = r;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		free(v);
		return rc == SQLITE_NOMEM ? node_err(n, TSYNC_ENOMEM, "no memory")
					  : node_sqlerr(n, rc, "receipts");
	}
	if (nv == 0) {
		free(v);
		return 0;
	}
	if ((rc = tsync_node_begin(n)) != 0) {
		free(v);
		return rc;
	}
	for (i = 0; i < nv && rc == 0; i++) {
		receipt_id(n, &v[i], id, sizeof(id));
		rc = receipt_put(n, id, &v[i], now_ms);
	}
	free(v);
	if (rc != 0) {
		tsync_node_rollback(n);
		return rc;
	}
	if ((rc = tsync_node_commit(n)) == 0)
		*written = (unsigned)nv;
	return rc;
}

/* ---- receipts against the log -------------------------------------------- */

/* Calls cb for each receipt naming a seq held here with another hash. */
typedef int (*contra_cb)(void *arg, const char *witness, uint64_t origin,
			 const char *scope, uint64_t seq,
			 const uint8_t held[KEYS_HASH_LEN],
			 const uint8_t head[KEYS_HASH_LEN]);

struct contra {
	char witness[17], scope[256];
	uint64_t origin, seq;
	uint8_t held[KEYS_HASH_LEN], head[KEYS_HASH_LEN];
};

/* Reads every receipt, then (with no statement open, since cb may
 * write) calls cb for each naming a seq held here with another hash. */
static int
receipts_contra(struct tsync_node *n, contra_cb cb, void *arg)
{
	struct contra *v = NULL;
	size_t nv = 0, cap = 0, i;
	sqlite3_stmt *s;
	int rc;

	rc = sqlite3_prepare_v2(n->db, "SELECT witness, origin, stream, seq,"
				       " head FROM receipts",
				-1, &s, NULL);
	if (rc != SQLITE_OK)
		return node_sqlerr(n, rc, "receipts");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *w = (const char *)sqlite3_column_text(s, 0);
		const char *o = (const char *)sqlite3_column_text(s, 1);
		const char *sc = (const char *)sqlite3_column_text(s, 2);
		const char *hd = (const char *)sqlite3_column_text(s, 4);
		struct contra c;
		int h;

		c.seq = (uint64_t)sqlite3_column_int64(s, 3);
		if (w == NULL || o == NULL || sc == NULL || hd == NULL ||
		    strlen(w) != 16 || strlen(sc) >= sizeof(c.scope) ||
		    id_parse(o, &c.origin) != 0 || strlen(hd) != 64 ||
		    hex_decode(hd, c.head, KEYS_HASH_LEN) != 0)
			continue;
		h = held_txn(n, c.origin, sc, strlen(sc), c.seq, c.held, NULL,
			     NULL, NULL);
		if (h < 0) {
			rc = SQLITE_ERROR;
			break;
		}
		if (h != 1 || memcmp(c.held, c.head, KEYS_HASH_LEN) == 0)
			continue;
		ts_fmt(c.witness, sizeof(c.witness), "%s", w);
		ts_fmt(c.scope, sizeof(c.scope), "%s", sc);
		if (ts_grow(&v, &cap, nv, sizeof(*v), 8) != 0) {
			rc = SQLITE_NOMEM;
			break;
		}
		v[nv++] = c;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		free(v);
		return rc == SQLITE_NOMEM ? node_err(n, TSYNC_ENOMEM, "no memory")
					  : node_sqlerr(n, rc, "receipts");
	}
	for (i = 0; i < nv; i++)
		if (cb(arg, v[i].witness, v[i].origin, v[i].scope, v[i].seq,
		       v[i].held, v[i].head) != 0)
			break;
	free(v);
	return 0;
}

struct contra_ev {
	struct tsync_node *n;
	uint64_t now;
	unsigned found;
	int rc;
};

static int
contra_to_ev(void *arg, const char *witness, uint64_t origin,
	     const char *scope, uint64_t seq, const uint8_t held[KEYS_HASH_LEN],
	     const uint8_t head[KEYS_HASH_LEN])
{
	struct contra_ev *x = arg;
	struct ev e;
	int rc;

	memset(&e, 0, sizeof(e));
	e.origin = origin;
	e.scope = scope;
	e.len = strlen(scope);
	e.seq = seq;
	memcpy(e.held, held, KEYS_HASH_LEN);
	memcpy(e.other, head, KEYS_HASH_LEN);
	e.how = EV_RECEIPT;
	(void)id_parse(witness, &e.peer);
	rc = ev_write(x->n, &e, x->now);
	if (rc < 0) {
		x->rc = rc;
		return 1;
	}
	x->found += (unsigned)rc;
	return x->found >= EVIDENCE_SCAN_MAX;
}

int
evidence_from_receipts(struct tsync_node *n, uint64_t now_ms,
		       unsigned *found)
{
	struct contra_ev x = {n, now_ms, 0, 0};
	int rc;

	*found = 0;
	if (!may_write(n))
		return 0;
	rc = receipts_contra(n, contra_to_ev, &x);
	*found = x.found;
	return rc != 0 ? rc : x.rc;
}

/* ---- reading back: status, verify --------------------------------------- */

/* 1 if body/sig is a txn of (origin, scope, seq) with hash `h` (or, with
 * `chain`, the txn at seq + 1 whose prev is `h`) signed by the origin. */
static int
body_proves(struct tsync_node *n, const void *body, int len, const void *sig,
	    int slen, uint64_t origin, const char *scope, uint64_t seq,
	    const uint8_t h[KEYS_HASH_LEN], int chain)
{
	const struct cert_entry *ce;
	struct txn t;
	char err[96];
	int ok;

	if (body == NULL || sig == NULL || len <= 0 || slen != KEYS_SIG_LEN)
		return 0;
	if (txn_decode(&t, body, (size_t)len, err, sizeof(err)) != 0) {
		txn_done(&t);
		return 0;
	}
	ok = t.origin == origin && t.scope_len == strlen(scope) &&
	     memcmp(t.scope, scope, t.scope_len) == 0 &&
	     t.seq == (chain ? seq + 1 : seq) &&
	     memcmp(chain ? t.prev : t.hash, h, KEYS_HASH_LEN) == 0 &&
	     (ce = certs_get(n, origin)) != NULL &&
	     txn_verify_sig(ce->key, t.hash, sig) == 0;
	txn_done(&t);
	return ok;
}

static void
col_text(sqlite3_stmt *s, int i, char *out, size_t len)
{
	const char *v = (const char *)sqlite3_column_text(s, i);

	ts_fmt(out, len, "%s", v != NULL ? v : "");
}

int
tsync_node_evidence(struct tsync_node *n, tsync_evidence_cb cb, void *arg)
{
	sqlite3_stmt *s;
	int rc;

	rc = sqlite3_prepare_v2(n->db,
				"SELECT origin, stream, seq, held, other, how,"
				" seen_by, peer, seen_at, body_a, sig_a,"
				" body_b, sig_b FROM evidence ORDER BY seen_at,"
				" id",
				-1, &s, NULL);
	if (rc != SQLITE_OK)
		return node_sqlerr(n, rc, "evidence");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct tsync_evidence_info e;
		uint8_t ha[KEYS_HASH_LEN], hb[KEYS_HASH_LEN], mine[KEYS_HASH_LEN];
		char how[16], scope[256];
		uint64_t origin = 0;
		int chain, hok;

		memset(&e, 0, sizeof(e));
		col_text(s, 0, e.origin, sizeof(e.origin));
		col_text(s, 1, scope, sizeof(scope));
		e.scope = scope;
		e.seq = (uint64_t)sqlite3_column_int64(s, 2);
		col_text(s, 3, e.held, sizeof(e.held));
		col_text(s, 4, e.other, sizeof(e.other));
		col_text(s, 5, how, sizeof(how));
		e.how = how;
		col_text(s, 6, e.seen_by, sizeof(e.seen_by));
		col_text(s, 7, e.peer, sizeof(e.peer));
		e.seen_at_ms = (uint64_t)sqlite3_column_int64(s, 8);
		chain = strcmp(how, EV_CHAIN) == 0;
		hok = id_parse(e.origin, &origin) == 0 &&
		      strlen(e.held) == 64 && strlen(e.other) == 64 &&
		      hex_decode(e.held, ha, KEYS_HASH_LEN) == 0 &&
		      hex_decode(e.other, hb, KEYS_HASH_LEN) == 0;
		if (hok) {
			e.signed_bodies =
				body_proves(n, sqlite3_column_blob(s, 9),
					    sqlite3_column_bytes(s, 9),
					    sqlite3_column_blob(s, 10),
					    sqlite3_column_bytes(s, 10), origin,
					    scope, e.seq, ha, 0) +
				body_proves(n, sqlite3_column_blob(s, 11),
					    sqlite3_column_bytes(s, 11),
					    sqlite3_column_blob(s, 12),
					    sqlite3_column_bytes(s, 12), origin,
					    scope, e.seq, hb, chain);
			if (held_txn(n, origin, scope, strlen(scope), e.seq,
				     mine, NULL, NULL, NULL) == 1)
				e.ours = memcmp(mine, ha, KEYS_HASH_LEN) == 0 ? 1
					 : memcmp(mine, hb, KEYS_HASH_LEN) == 0
						 ? 2
						 : 3;
		}
		if (cb(arg, &e) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : node_sqlerr(n, rc, "evidence");
}

int
tsync_node_witnessed(struct tsync_node *n, tsync_witness_cb cb, void *arg)
{
	struct stream_row *v;
	uint8_t (*h)[KEYS_HASH_LEN];
	size_t cnt, i;
	sqlite3_stmt *s;
	int rc;

	if ((rc = ts_log_heads(n, &v, &h, &cnt)) != 0)
		return rc;
	rc = sqlite3_prepare_v2(n->db, "SELECT witness, seq, head FROM"
				       " receipts WHERE origin = ?1 AND"
				       " stream = ?2 ORDER BY seq DESC, witness",
				-1, &s, NULL);
	if (rc != SQLITE_OK) {
		free(v);
		free(h);
		return node_sqlerr(n, rc, "receipts");
	}
	for (i = 0; i < cnt; i++) {
		struct tsync_witness_info w;
		char list[1024];
		size_t ll = 0;

		memset(&w, 0, sizeof(w));
		id_format(v[i].origin, w.origin);
		w.scope = v[i].scope;
		w.seq = v[i].seq;
		list[0] = '\0';
		sqlite3_reset(s);
		sqlite3_bind_text(s, 1, w.origin, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, v[i].scope, -1, SQLITE_STATIC);
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			const char *wit = (const char *)sqlite3_column_text(s, 0);
			const char *hd = (const char *)sqlite3_column_text(s, 2);
			uint64_t seq = (uint64_t)sqlite3_column_int64(s, 1);
			uint8_t head[KEYS_HASH_LEN], mine[KEYS_HASH_LEN];
			int held;

			if (wit == NULL || hd == NULL || strlen(hd) != 64 ||
			    hex_decode(hd, head, KEYS_HASH_LEN) != 0)
				continue;
			held = held_txn(n, v[i].origin, v[i].scope,
					strlen(v[i].scope), seq, mine, NULL,
					NULL, NULL);
			if (held == 1 &&
			    memcmp(mine, head, KEYS_HASH_LEN) != 0) {
				w.contradicted++;
				continue;
			}
			if (held == 1 && seq > w.witnessed)
				w.witnessed = seq;
			if (ll + 40 < sizeof(list))
				ll += (size_t)snprintf(list + ll,
						       sizeof(list) - ll,
						       "%s%s:%llu%s",
						       ll ? " " : "", wit,
						       (unsigned long long)seq,
						       held == 1 ? "" : "+");
		}
		w.witnesses = list;
		if (rc != SQLITE_DONE) {
			rc = node_sqlerr(n, rc, "receipts");
			break;
		}
		rc = 0;
		if (cb(arg, &w) != 0)
			break;
	}
	sqlite3_finalize(s);
	free(v);
	free(h);
	return rc == SQLITE_DONE ? 0 : rc;
}

struct audit_x {
	receipt_fault_cb cb;
	void *arg;
};

static int
audit_ev(void *arg, const struct tsync_evidence_info *e)
{
	struct audit_x *x = arg;
	static const char *const held_by[] = {
		"", "; this node holds the first", "; this node holds the second",
		"; this node holds neither",
	};

	x->cb(x->arg,
	      "equivocation: stream %s/%s seq %llu exists as %.12s and as "
	      "%.12s (seen by %s by %s%s%s; %d of 2 bodies signed by the "
	      "origin%s)",
	      e->origin, e->scope, (unsigned long long)e->seq, e->held,
	      e->other, e->seen_by, e->how, e->peer[0] ? " from " : "",
	      e->peer, e->signed_bodies, held_by[e->ours & 3]);
	return 0;
}

static int
audit_contra(void *arg, const char *witness, uint64_t origin,
	     const char *scope, uint64_t seq, const uint8_t held[KEYS_HASH_LEN],
	     const uint8_t head[KEYS_HASH_LEN])
{
	struct audit_x *x = arg;
	char org[17], a[65], b[65];

	id_format(origin, org);
	hex_encode(held, KEYS_HASH_LEN, a);
	hex_encode(head, KEYS_HASH_LEN, b);
	x->cb(x->arg,
	      "receipt by %s: stream %s/%s seq %llu had head %.12s, this "
	      "node holds %.12s there: the origin rewrote its history",
	      witness, org, scope, (unsigned long long)seq, b, a);
	return 0;
}

int
receipt_audit(struct tsync_node *n, receipt_fault_cb cb, void *arg)
{
	struct audit_x x = {cb, arg};
	int rc = tsync_node_evidence(n, audit_ev, &x);

	return rc != 0 ? rc : receipts_contra(n, audit_contra, &x);
}
