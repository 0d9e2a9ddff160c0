/*
 * verify.c - the auditor's check of a replica (`tiersync verify`).
 *
 * 1. Every stream: each txn's stored bytes hash to its stored hash, seq
 *    numbers run 1..head without a gap, each txn links to the hash of the
 *    one before, every signature verifies against the origin's certificate
 *    (itself signed by the district CA), and the origin's certificate
 *    allows the stream's scope.  Every signature is checked here, not just
 *    the newest: an audit has time.
 * 2. Replaying the log into a scratch table (per column: the largest
 *    version and its value) gives what the replicated tables must hold;
 *    any row that differs, is missing, or is extra is a fault, as is any
 *    column version in ts_ver that the log does not explain.  An id that
 *    changes of several scopes wrote belongs to the scope of its earliest
 *    change; the others must be kept aside in ts_clash and listed in
 *    ts_heads (col 1), and only the owner's changes count for the table.
 * 3. Every other engine table is recomputed from the log or checked
 *    against what it restates: ts_log.hlc and the head's hlc against the
 *    bodies, the kept values of ts_heads, ts_over and the tombstones
 *    (ts_ver.dead) against the replay, every ts_certs row against its own
 *    PEM and the CA, ts_meta against node.crt, and the quarantine's bodies
 *    against what this node may see.
 * 4. sqlite_master holds only the objects the node makes, and the records
 *    layer's triggers and indexes with exactly its SQL (domain_objects).
 * docs/data-model.md, "What verify checks", lists every check.
 * The replay is independent of merge.c on purpose: it is a second
 * implementation of the same rule (the largest version wins).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "domain.h"
#include "node_int.h"
#include "receipt.h"
#include "revoke.h"
#include "scope.h"
#include "snapshot.h"
#include "txn.h"

#define MAX_FAULTS 200

#define DROP_TEMP                                                          \
	"DROP TABLE IF EXISTS temp.vx; DROP TABLE IF EXISTS temp.vall;"    \
	" DROP TABLE IF EXISTS temp.vprev; DROP TABLE IF EXISTS"           \
	" temp.vclaim; DROP TABLE IF EXISTS temp.vown;"                    \
	" DROP TABLE IF EXISTS temp.vclash; DROP TABLE IF EXISTS"          \
	" temp.vchead; DROP TABLE IF EXISTS temp.vobj;"

struct audit {
	struct tsync_node *n;
	tsync_fault_cb cb;
	void *arg;
	unsigned faults;
	sqlite3_stmt *put;
	sqlite3_stmt *all, *prev; /* every version; every version overwritten */
	sqlite3_stmt *claim;      /* every change: who wrote which id */
	int64_t later;            /* txns holding parts unknown here */
	int flags;                /* VERIFY_* (snapshot.h) */
};

static void __attribute__((format(printf, 2, 3)))
fault(struct audit *a, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (++a->faults > MAX_FAULTS)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (a->cb != NULL)
		a->cb(a->arg, line);
}

/* Receipts and evidence (receipt.c): each evidence row and each receipt
 * that the log contradicts is a fault. */
static void __attribute__((format(printf, 2, 3)))
receipt_fault(void *arg, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fault(arg, "%s", line);
}

/* Binds ?1..?6 = (tid, row id, column, hlc, origin, scope) to a reset s. */
static sqlite3_stmt *
bind_version(sqlite3_stmt *s, int tid, const struct txn_change *c, int col,
	     uint64_t hlc, uint64_t origin, const struct txn *t)
{
	sqlite3_reset(s);
	sqlite3_bind_int(s, 1, tid);
	sqlite3_bind_text(s, 2, c->id, (int)c->id_len, SQLITE_STATIC);
	sqlite3_bind_int(s, 3, col);
	sqlite3_bind_int64(s, 4, (int64_t)hlc);
	sqlite3_bind_int64(s, 5, (int64_t)origin);
	sqlite3_bind_text(s, 6, t->scope, (int)t->scope_len, SQLITE_STATIC);
	return s;
}

static int
put(struct audit *a, int tid, const struct txn_change *c, int col,
    const struct txn *t, const msgpack_object *val, int alive)
{
	sqlite3_stmt *s = bind_version(a->put, tid, c, col, t->hlc, t->origin,
				       t);
	int rc;

	if (val != NULL)
		txn_bind_value(s, 7, val);
	else
		sqlite3_bind_int(s, 7, alive);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : node_sqlerr(a->n, rc, "replay");
}

/* Records a column version and the version it overwrote (conflicts). */
static int
put_tree(struct audit *a, int tid, const struct txn_change *c, int col,
	 const struct txn *t, const struct txn_col *cv)
{
	sqlite3_stmt *s = bind_version(a->all, tid, c, col, t->hlc, t->origin,
				       t);
	int rc;

	txn_bind_value(s, 7, cv->value);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return node_sqlerr(a->n, rc, "replay");
	if (cv->prev_hlc == 0 && cv->prev_origin == 0)
		return 0;
	s = bind_version(a->prev, tid, c, col, cv->prev_hlc, cv->prev_origin,
			 t);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : node_sqlerr(a->n, rc, "replay");
}

/*
 * The conflict set the log implies: per column, the versions no version
 * overwrote (heads), less the largest version (the value).  It must be
 * exactly what ts_heads holds.
 */
static int
audit_conflicts(struct audit *a)
{
	static const char *const sql[3] = {
		"SELECT tid, id, col FROM (SELECT a.tid, a.id, a.col, a.hlc,"
		" a.origin FROM temp.vall a WHERE NOT EXISTS (SELECT 1 FROM"
		" temp.vprev p WHERE p.tid = a.tid AND p.id = a.id AND"
		" p.col = a.col AND p.hlc = a.hlc AND p.origin = a.origin)"
		" AND EXISTS (SELECT 1 FROM temp.vall b WHERE b.tid = a.tid"
		" AND b.id = a.id AND b.col = a.col AND"
		" ts_version_cmp(b.hlc, b.origin, a.hlc, a.origin) > 0)"
		" EXCEPT SELECT tid, id, col, hlc, origin FROM ts_heads"
		" WHERE col >= 2)",
		"SELECT tid, id, col FROM (SELECT tid, id, col, hlc, origin"
		" FROM ts_heads WHERE col >= 2 EXCEPT SELECT a.tid, a.id, a.col, a.hlc,"
		" a.origin FROM temp.vall a WHERE NOT EXISTS (SELECT 1 FROM"
		" temp.vprev p WHERE p.tid = a.tid AND p.id = a.id AND"
		" p.col = a.col AND p.hlc = a.hlc AND p.origin = a.origin)"
		" AND EXISTS (SELECT 1 FROM temp.vall b WHERE b.tid = a.tid"
		" AND b.id = a.id AND b.col = a.col AND"
		" ts_version_cmp(b.hlc, b.origin, a.hlc, a.origin) > 0))",
		"SELECT DISTINCT h.tid, h.id, h.col FROM ts_heads h JOIN"
		" temp.vall a ON a.tid = h.tid AND a.id = h.id AND a.col ="
		" h.col AND a.hlc = h.hlc AND a.origin = h.origin WHERE"
		" h.col >= 2 AND h.val IS NOT a.val",
	};
	static const char *const what[3] = {
		"a concurrent value the log holds is missing from the "
		"conflicts",
		"a conflict is listed that the log does not explain",
		"a conflict's kept value is not the value its txn wrote",
	};
	sqlite3_stmt *s;
	int i, rc;

	for (i = 0; i < 3; i++) {
		rc = sqlite3_prepare_v2(a->n->db, sql[i], -1, &s, NULL);
		if (rc != SQLITE_OK)
			return node_sqlerr(a->n, rc, "conflicts");
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			const struct tbl *t =
				ts_store_table_tid(a->n, sqlite3_column_int(s, 0));
			int col = sqlite3_column_int(s, 2);

			fault(a, "row %s/%s column %s: %s",
			      t ? t->name : "?", sqlite3_column_text(s, 1),
			      t && col < t->ncol ? t->cols[col] : "?", what[i]);
		}
		sqlite3_finalize(s);
		if (rc != SQLITE_DONE)
			return node_sqlerr(a->n, rc, "conflicts");
	}
	return 0;
}

static int count_of(struct tsync_node *n, const char *sql, int64_t *out);

/* Reports each (tid, id, scope) that sql returns as a fault. */
static int
clash_faults(struct audit *a, const char *sql, const char *what)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(a->n->db, sql, -1, &s, NULL);

	if (rc != SQLITE_OK)
		return node_sqlerr(a->n, rc, "id clashes");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const struct tbl *t =
			ts_store_table_tid(a->n, sqlite3_column_int(s, 0));

		fault(a, "row %s/%s, scope %s: %s", t ? t->name : "?",
		      sqlite3_column_text(s, 1), sqlite3_column_text(s, 2),
		      what);
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : node_sqlerr(a->n, rc, "id clashes");
}

/*
 * Ids used by more than one scope (docs/data-model.md, "One id, two
 * scopes"): the id belongs to the scope of its earliest change, the
 * smallest (hlc, origin, scope).  ts_clash must keep exactly every change
 * of such an id, those of other scopes marked aside; ts_heads must list,
 * in the scope slot (col 1), each other scope whose own record is live,
 * by its earliest change.  Then the other scopes' versions leave the
 * replay, so the tables are checked against the owner's changes alone.
 */
static int
audit_clashes(struct audit *a)
{
	static const char *const kept[2] = {
		"SELECT tid, id, scope FROM (SELECT tid, id, hlc, origin,"
		" scope, aside FROM temp.vclash EXCEPT SELECT tid, id, hlc,"
		" origin, scope, aside FROM %s)",
		"SELECT tid, id, scope FROM (SELECT tid, id, hlc, origin,"
		" scope, aside FROM %s EXCEPT SELECT tid, id, hlc, origin,"
		" scope, aside FROM temp.vclash)",
	};
	static const char *const heads[2] = {
		"SELECT tid, id, scope FROM (SELECT tid, id, hlc, origin, scope"
		" FROM temp.vchead EXCEPT SELECT tid, id, hlc, origin, val FROM"
		" ts_heads WHERE col = 1)",
		"SELECT tid, id, val FROM (SELECT tid, id, hlc, origin, val"
		" FROM ts_heads WHERE col = 1 EXCEPT SELECT tid, id, hlc,"
		" origin, scope FROM temp.vchead)",
	};
	static const char *const what[4] = {
		"a change the log holds to an id two scopes used is not kept "
		"in the id clashes (or kept with the wrong owner)",
		"the id clashes keep a change the log does not explain",
		"the id is used by this scope too, but the clash is not listed",
		"an id clash is listed that the log does not explain",
	};
	const char *src = "main.ts_clash";
	char sql[1024];
	int64_t have = 0;
	int i, rc;

	rc = ts_store_exec(a->n,
			"CREATE TEMP TABLE vown AS SELECT c.tid, c.id, (SELECT"
			" d.scope FROM temp.vclaim d WHERE d.tid = c.tid AND"
			" d.id = c.id ORDER BY d.hlc, d.origin, d.scope LIMIT"
			" 1) AS scope FROM (SELECT tid, id FROM temp.vclaim"
			" GROUP BY tid, id HAVING count(DISTINCT scope) > 1)"
			" c;"
			"CREATE TEMP TABLE vclash AS SELECT v.tid, v.id, v.hlc,"
			" v.origin, v.scope, v.scope <> o.scope AS aside FROM"
			" temp.vclaim v JOIN temp.vown o ON o.tid = v.tid AND"
			" o.id = v.id;"
			"CREATE TEMP TABLE vchead AS SELECT g.tid, g.id, (SELECT"
			" k.hlc FROM temp.vclaim k WHERE k.tid = g.tid AND"
			" k.id = g.id AND k.scope = g.scope ORDER BY k.hlc,"
			" k.origin LIMIT 1) AS hlc, (SELECT k.origin FROM"
			" temp.vclaim k WHERE k.tid = g.tid AND k.id = g.id"
			" AND k.scope = g.scope ORDER BY k.hlc, k.origin LIMIT"
			" 1) AS origin, g.scope FROM (SELECT DISTINCT tid, id,"
			" scope FROM temp.vclash WHERE aside) g WHERE (SELECT"
			" k.kind FROM temp.vclaim k WHERE k.tid = g.tid AND"
			" k.id = g.id AND k.scope = g.scope AND k.kind <> 0"
			" ORDER BY k.hlc DESC, k.origin DESC LIMIT 1) = 1");
	if (rc != 0)
		return rc;
	if ((rc = count_of(a->n, "SELECT count(*) FROM sqlite_master WHERE"
				 " name = 'ts_clash'", &have)) != 0)
		return rc;
	if (have == 0)
		src = "(SELECT 0 AS tid, '' AS id, 0 AS hlc, 0 AS origin, ''"
		      " AS scope, 0 AS aside WHERE 0)";
	for (i = 0; i < 2; i++) {
		ts_fmt(sql, sizeof(sql), kept[i], src);
		if ((rc = clash_faults(a, sql, what[i])) != 0)
			return rc;
	}
	for (i = 0; i < 2; i++)
		if ((rc = clash_faults(a, heads[i], what[2 + i])) != 0)
			return rc;
	/* From here on the replay holds the owners' changes only. */
	return ts_store_exec(a->n,
			  "DELETE FROM temp.vx WHERE EXISTS (SELECT 1 FROM"
			  " temp.vown o WHERE o.tid = vx.tid AND o.id = vx.id"
			  " AND o.scope <> vx.scope);"
			  "DELETE FROM temp.vall WHERE EXISTS (SELECT 1 FROM"
			  " temp.vown o WHERE o.tid = vall.tid AND o.id ="
			  " vall.id AND o.scope <> vall.scope);"
			  "DELETE FROM temp.vprev WHERE EXISTS (SELECT 1 FROM"
			  " temp.vown o WHERE o.tid = vprev.tid AND o.id ="
			  " vprev.id AND o.scope <> vprev.scope)");
}

static int
replay(struct audit *a, const struct txn *t)
{
	struct txn_change c;
	struct txn_col col;
	struct tbl *tb;
	sqlite3_stmt *s;
	uint32_t i, j;
	int rc, ci, unknown;

	for (i = 0, unknown = 0; i < t->nchanges; i++) {
		txn_change_at(t, i, &c);
		tb = ts_store_table(a->n, c.table, c.table_len);
		for (j = 0; tb != NULL && !unknown && j < c.ncols; j++) {
			txn_col_at(&c, j, &col);
			unknown = tbl_col(tb, col.name, col.name_len) < 0;
		}
		if (tb == NULL)
			unknown = 1;
		if (tb == NULL)
			continue; /* a table of a newer schema: kept verbatim */
		/* A change claims its id if it writes a slot known here. */
		for (j = 0, ci = c.kind != TXN_UPDATE ? 0 : -1;
		     ci < 0 && j < c.ncols; j++) {
			txn_col_at(&c, j, &col);
			if (tbl_col(tb, col.name, col.name_len) >= 2)
				ci = 0;
		}
		if (ci < 0)
			continue;
		s = bind_version(a->claim, tb->tid, &c, c.kind, t->hlc,
				 t->origin, t);
		rc = sqlite3_step(s);
		sqlite3_reset(s);
		if (rc != SQLITE_DONE)
			return node_sqlerr(a->n, rc, "replay");
		if (c.kind != TXN_UPDATE &&
		    (rc = put(a, tb->tid, &c, 0, t, NULL,
			      c.kind == TXN_INSERT)) != 0)
			return rc;
		for (j = 0; j < c.ncols; j++) {
			txn_col_at(&c, j, &col);
			ci = tbl_col(tb, col.name, col.name_len);
			if (ci < 2)
				continue;
			if ((rc = put(a, tb->tid, &c, ci, t, col.value, 0)) != 0 ||
			    (rc = put_tree(a, tb->tid, &c, ci, t, &col)) != 0)
				return rc;
		}
	}
	a->later += unknown;
	return 0;
}

static EVP_PKEY *
origin_key(struct audit *a, uint64_t origin, const char *scope,
	   const char *sname)
{
	sqlite3_stmt *s = ts_store_stmt(a->n, ST_CERT_GET);
	struct cert_info ci;
	EVP_PKEY *k = NULL;
	X509 *c = NULL;

	if (s == NULL)
		return NULL;
	sqlite3_bind_int64(s, 1, (int64_t)origin);
	if (sqlite3_step(s) == SQLITE_ROW)
		c = cert_from_pem(sqlite3_column_blob(s, 0),
				  (size_t)sqlite3_column_bytes(s, 0));
	sqlite3_reset(s);
	if (c == NULL) {
		fault(a, "stream %s: no certificate for its origin", sname);
		return NULL;
	}
	if (cert_check_issuer(c, a->n->ca) != 0)
		fault(a, "stream %s: origin certificate not signed by the "
			 "district CA", sname);
	else if (cert_parse(c, &ci) != 0 || ci.node_id != origin)
		fault(a, "stream %s: origin certificate does not match", sname);
	else if (!scope_may_write(ci.scope, ci.role, scope))
		fault(a, "stream %s: origin (%s, scope %s) may not write scope "
			 "%s", sname, ci.role, ci.scope, scope);
	else
		k = X509_get_pubkey(c);
	X509_free(c);
	return k;
}

struct walk {
	uint64_t origin;
	const char *scope;
	const char *name; /* "origin/scope" for messages */
	uint64_t expect;
	uint8_t prev[KEYS_HASH_LEN];
	uint64_t hlc; /* of the last txn, if it decoded (else 0) */
	EVP_PKEY *key;
	uint64_t head; /* VERIFY_HEAD_SIGS: the one signature checked */
};

static int
check_txn(struct audit *a, struct walk *w, uint64_t seq, sqlite3_stmt *s)
{
	const uint8_t *body = sqlite3_column_blob(s, 2);
	size_t len = (size_t)sqlite3_column_bytes(s, 2);
	uint8_t h[KEYS_HASH_LEN];
	struct txn t;
	char err[128];
	int rc = 0;

	if (seq != w->expect)
		fault(a, "stream %s: seq %llu..%llu missing (gap)", w->name,
		      (unsigned long long)w->expect,
		      (unsigned long long)seq - 1);
	keys_sha256(body, len, h);
	if (sqlite3_column_bytes(s, 1) != KEYS_HASH_LEN ||
	    memcmp(sqlite3_column_blob(s, 1), h, KEYS_HASH_LEN) != 0)
		fault(a, "stream %s seq %llu: stored bytes were altered "
			 "(hash mismatch)", w->name, (unsigned long long)seq);
	w->hlc = 0;
	if (txn_decode(&t, body, len, err, sizeof(err)) != 0) {
		fault(a, "stream %s seq %llu: %s", w->name,
		      (unsigned long long)seq, err);
	} else {
		w->hlc = t.hlc;
		if (t.origin != w->origin || t.seq != seq ||
		    t.scope_len != strlen(w->scope) ||
		    memcmp(t.scope, w->scope, t.scope_len) != 0)
			fault(a, "stream %s seq %llu: header names another "
				 "stream or seq", w->name,
			      (unsigned long long)seq);
		if (memcmp(t.prev, w->prev, KEYS_HASH_LEN) != 0)
			fault(a, "stream %s seq %llu: does not link to seq "
				 "%llu (broken chain)", w->name,
			      (unsigned long long)seq,
			      (unsigned long long)seq - 1);
		if ((uint64_t)sqlite3_column_int64(s, 4) != t.hlc)
			fault(a, "stream %s seq %llu: ts_log.hlc %llu is "
				 "not the body's HLC %llu", w->name,
			      (unsigned long long)seq,
			      (unsigned long long)sqlite3_column_int64(s, 4),
			      (unsigned long long)t.hlc);
		if (w->key != NULL &&
		    (!(a->flags & VERIFY_HEAD_SIGS) || seq == w->head) &&
		    (sqlite3_column_bytes(s, 3) != KEYS_SIG_LEN ||
		     txn_verify_sig(w->key, h, sqlite3_column_blob(s, 3)) != 0))
			fault(a, "stream %s seq %llu: signature does not verify "
				 "against the origin's certificate", w->name,
			      (unsigned long long)seq);
		rc = replay(a, &t);
	}
	txn_done(&t);
	memcpy(w->prev, h, KEYS_HASH_LEN);
	w->expect = seq + 1;
	return rc;
}

static int
audit_stream(struct audit *a, int64_t sid, struct walk *w, uint64_t head,
	     const void *head_hash, uint64_t head_hlc)
{
	sqlite3_stmt *s;
	int rc;

	w->key = origin_key(a, w->origin, w->scope, w->name);
	w->expect = 1;
	w->head = head;
	memset(w->prev, 0, sizeof(w->prev));
	rc = sqlite3_prepare_v2(a->n->db,
				"SELECT k, hash, body, sig, hlc FROM ts_log"
				" WHERE k BETWEEN ?1 AND ?2 ORDER BY k",
				-1, &s, NULL);
	if (rc != SQLITE_OK) {
		EVP_PKEY_free(w->key);
		return node_sqlerr(a->n, rc, "read log");
	}
	sqlite3_bind_int64(s, 1, LOG_ROWID(sid, 1));
	sqlite3_bind_int64(s, 2, LOG_ROWID(sid + 1, 0) - 1);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		uint64_t seq = (uint64_t)sqlite3_column_int64(s, 0) &
			       ((1ULL << 40) - 1);

		if ((rc = check_txn(a, w, seq, s)) != 0)
			break;
	}
	sqlite3_finalize(s);
	EVP_PKEY_free(w->key);
	if (rc != SQLITE_DONE && rc != 0)
		return rc > 0 ? node_sqlerr(a->n, rc, "read log") : rc;
	if (w->expect - 1 != head)
		fault(a, "stream %s: head says seq %llu but the log ends at "
			 "%llu", w->name, (unsigned long long)head,
		      (unsigned long long)w->expect - 1);
	else if (head > 0 && memcmp(head_hash, w->prev, KEYS_HASH_LEN) != 0)
		fault(a, "stream %s: head hash does not match seq %llu",
		      w->name, (unsigned long long)head);
	else if (head > 0 && w->hlc != 0 && head_hlc != w->hlc)
		fault(a, "stream %s: head hlc %llu is not seq %llu's HLC %llu",
		      w->name, (unsigned long long)head_hlc,
		      (unsigned long long)head, (unsigned long long)w->hlc);
	return 0;
}

/* Held txns of a revoked origin that the list does not accept. */
static int
audit_revoked(struct audit *a, int64_t sid, const struct walk *w)
{
	struct crl_cut c;
	int rc = crl_beyond(a->n, w->origin, w->scope, sid, &c);

	if (rc == 0 && c.count > 0)
		fault(a, "stream %s: seq %llu..%llu (%llu txns) held beyond "
			 "its origin's revocation: list #%llu accepts up to "
			 "seq %llu%s", w->name, (unsigned long long)c.first,
		      (unsigned long long)c.end, (unsigned long long)c.count,
		      (unsigned long long)c.list, (unsigned long long)c.last,
		      c.by_seq ? "" : " (by time)");
	return rc;
}

static int
audit_streams(struct audit *a)
{
	sqlite3_stmt *s;
	int rc;

	rc = sqlite3_prepare_v2(a->n->db,
				"SELECT sid, origin, scope, seq, hash, hlc"
				" FROM ts_streams ORDER BY sid",
				-1, &s, NULL);
	if (rc != SQLITE_OK)
		return node_sqlerr(a->n, rc, "list streams");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct walk w;
		char name[300], idhex[17];

		memset(&w, 0, sizeof(w));
		w.origin = (uint64_t)sqlite3_column_int64(s, 1);
		w.scope = (const char *)sqlite3_column_text(s, 2);
		id_format(w.origin, idhex);
		ts_fmt(name, sizeof(name), "%s/%s", idhex, w.scope);
		w.name = name;
		rc = audit_stream(a, sqlite3_column_int64(s, 0), &w,
				  (uint64_t)sqlite3_column_int64(s, 3),
				  sqlite3_column_blob(s, 4),
				  (uint64_t)sqlite3_column_int64(s, 5));
		if (rc == 0)
			rc = audit_revoked(a, sqlite3_column_int64(s, 0), &w);
		if (rc != 0)
			break;
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE || rc == 0 ? 0
					    : node_sqlerr(a->n, rc, "streams");
}

/* Builds "SELECT id, scope, c.. FROM T" and the expected-state twin. */
static int
state_sql(const struct tbl *t, char *sql, size_t len)
{
	size_t n = 0;
	int i;

	n += (size_t)snprintf(sql + n, len - n,
			      "SELECT id FROM (SELECT id, scope");
	for (i = 2; i < t->ncol && n < len; i++)
		n += (size_t)snprintf(sql + n, len - n, ", \"%s\"",
				      t->cols[i]);
	if (n < len)
		n += (size_t)snprintf(sql + n, len - n,
				      " FROM main.\"%s\" EXCEPT SELECT r.id,"
				      " r.scope", t->name);
	for (i = 2; i < t->ncol && n < len; i++)
		if (t->dflt_sql != NULL && t->dflt_sql[i] != NULL)
			/* Never written: the declared default (apply.c). */
			n += (size_t)snprintf(
				sql + n, len - n,
				", CASE WHEN EXISTS (SELECT 1 FROM temp.vx x"
				" WHERE x.tid = r.tid AND x.id = r.id AND"
				" x.scope = r.scope AND x.col = %d) THEN"
				" (SELECT val FROM temp.vx x WHERE x.tid ="
				" r.tid AND x.id = r.id AND x.scope = r.scope"
				" AND x.col = %d) ELSE (%s) END",
				i, i, t->dflt_sql[i]);
		else
			n += (size_t)snprintf(sql + n, len - n,
					      ", (SELECT val FROM temp.vx x"
					      " WHERE x.tid = r.tid AND x.id ="
					      " r.id AND x.scope = r.scope AND"
					      " x.col = %d)", i);
	if (n < len)
		n += (size_t)snprintf(sql + n, len - n,
				      " FROM temp.vx r WHERE r.tid = %d AND"
				      " r.col = 0 AND r.val = 1)", t->tid);
	return n < len ? 0 : TSYNC_EINVAL;
}

static int
report_rows(struct audit *a, const struct tbl *t, const char *sql,
	    const char *what)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(a->n->db, sql, -1, &s, NULL);

	if (rc != SQLITE_OK)
		return node_sqlerr(a->n, rc, "compare");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		fault(a, "row %s/%s: %s", t->name, sqlite3_column_text(s, 0),
		      what);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : node_sqlerr(a->n, rc, "compare");
}

static int
audit_table(struct audit *a, const struct tbl *t)
{
	char sql[8192], rev[8192];
	char *mid;
	int rc;

	if (state_sql(t, sql, sizeof(sql)) != 0)
		return node_err(a->n, TSYNC_EINVAL, "table too wide");
	rc = report_rows(a, t, sql,
			 "the table holds values the log does not say "
			 "(edited behind the node's back?)");
	if (rc != 0)
		return rc;
	/* Same query with the two sides swapped. */
	mid = strstr(sql, " EXCEPT ");
	{
		const char *a1 = sql + strlen("SELECT id FROM (");
		size_t la = (size_t)(mid - a1);
		const char *b1 = mid + strlen(" EXCEPT ");
		size_t lb = strlen(b1) - 1; /* drop ')' */

		ts_fmt(rev, sizeof(rev), "SELECT id FROM (%.*s EXCEPT %.*s)",
		       (int)lb, b1, (int)la, a1);
	}
	return report_rows(a, t, rev,
			   "the log says this row differs or exists, the "
			   "table disagrees");
}

static int
count_of(struct tsync_node *n, const char *sql, int64_t *out)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(n->db, sql, -1, &s, NULL);

	*out = 0;
	if (rc != SQLITE_OK)
		return node_sqlerr(n, rc, "count");
	if (sqlite3_step(s) == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return 0;
}

static int
audit_versions(struct audit *a)
{
	sqlite3_stmt *s, *q;
	int64_t slots = 0, expect = 0;
	int rc;

	rc = sqlite3_prepare_v2(a->n->db, "SELECT tid, id, vers FROM ts_ver",
				-1, &s, NULL);
	if (rc != SQLITE_OK)
		return node_sqlerr(a->n, rc, "versions");
	rc = sqlite3_prepare_v2(a->n->db,
				"SELECT 1 FROM temp.vx WHERE tid=?1 AND id=?2"
				" AND col=?3 AND hlc=?4 AND origin=?5",
				-1, &q, NULL);
	if (rc != SQLITE_OK) {
		sqlite3_finalize(s);
		return node_sqlerr(a->n, rc, "versions");
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int tid = sqlite3_column_int(s, 0);
		const struct tbl *t = ts_store_table_tid(a->n, tid);
		uint8_t v[16 * TBL_MAX_COLS];
		int nv = t != NULL ? t->ncol : 0, col;
		uint64_t h, o;

		if (t != NULL &&
		    ver_unpack(sqlite3_column_blob(s, 2),
			       (size_t)sqlite3_column_bytes(s, 2), v, nv) != 0) {
			fault(a, "row %s/%s: versions are corrupt", t->name,
			      sqlite3_column_text(s, 1));
			continue;
		}
		for (col = 0; t != NULL && col < nv; col++) {
			ver_get(v, nv, col, &h, &o);
			if (h == 0 && o == 0)
				continue;
			slots++;
			sqlite3_reset(q);
			sqlite3_bind_int(q, 1, tid);
			sqlite3_bind_value(q, 2, sqlite3_column_value(s, 1));
			sqlite3_bind_int(q, 3, col);
			sqlite3_bind_int64(q, 4, (int64_t)h);
			sqlite3_bind_int64(q, 5, (int64_t)o);
			if (sqlite3_step(q) != SQLITE_ROW)
				fault(a, "row %s/%s: column %s has a version "
					 "no txn in the log wrote", t->name,
				      sqlite3_column_text(s, 1),
				      col == 0 ? "(row)" : t->cols[col]);
		}
	}
	sqlite3_finalize(q);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return node_sqlerr(a->n, rc, "versions");
	if ((rc = count_of(a->n, "SELECT count(*) FROM temp.vx", &expect)) != 0)
		return rc;
	if (expect != slots)
		fault(a, "column versions: the log writes %lld, ts_ver holds "
			 "%lld (versions removed or added behind the node)",
		      (long long)expect, (long long)slots);
	return 0;
}

/* Every stored txn belongs to a stream and lies within its head. */
static int
audit_orphans(struct audit *a)
{
	int64_t held, heads;
	int rc;

	if ((rc = count_of(a->n, "SELECT count(*) FROM ts_log", &held)) != 0 ||
	    (rc = count_of(a->n, "SELECT coalesce(sum(seq), 0) FROM"
				 " ts_streams", &heads)) != 0)
		return rc;
	if (held > heads)
		fault(a, "%lld txns in the log lie beyond their stream's "
			 "head or belong to no stream",
		      (long long)(held - heads));
	return 0;
}

/* Reports each (tid, id, col) that sql returns as a fault. */
static int
slot_faults(struct audit *a, const char *sql, const char *what)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(a->n->db, sql, -1, &s, NULL);

	if (rc != SQLITE_OK)
		return node_sqlerr(a->n, rc, "check");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const struct tbl *t =
			ts_store_table_tid(a->n, sqlite3_column_int(s, 0));
		int col = sqlite3_column_int(s, 2);

		fault(a, "row %s/%s column %s: %s", t ? t->name : "?",
		      sqlite3_column_text(s, 1),
		      t && col >= 0 && col < t->ncol ? t->cols[col] : "?",
		      what);
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : node_sqlerr(a->n, rc, "check");
}

/*
 * ts_over against the log, before the id clashes trim the replay: every
 * pending overwrite must be named as overwritten by a held txn, and every
 * version a held txn names that no held txn wrote must be pending (else
 * it would become a conflict when it arrives).
 */
static int
audit_over(struct audit *a)
{
	int rc = slot_faults(a,
			     "SELECT tid, id, col FROM (SELECT tid, id, col,"
			     " hlc, origin FROM ts_over EXCEPT SELECT tid, id,"
			     " col, hlc, origin FROM temp.vprev)",
			     "a pending overwrite is listed that no txn in "
			     "the log names");

	if (rc != 0)
		return rc;
	return slot_faults(a,
			   "SELECT tid, id, col FROM (SELECT tid, id, col,"
			   " hlc, origin FROM temp.vprev EXCEPT SELECT tid,"
			   " id, col, hlc, origin FROM temp.vall EXCEPT SELECT"
			   " tid, id, col, hlc, origin FROM ts_over)",
			   "a txn names a version as overwritten that is "
			   "neither held nor listed as pending");
}

/* 1 if element i (>= 1) of a tombstone is what the replay says. */
static int
dead_value_ok(sqlite3_stmt *q, int tid, sqlite3_value *id, int i,
	      const msgpack_object *v)
{
	int ok;

	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	txn_bind_value(q, 1, v);
	sqlite3_bind_int(q, 2, tid);
	sqlite3_bind_value(q, 3, id);
	sqlite3_bind_int(q, 4, i);
	ok = sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int(q, 0) == 1;
	sqlite3_reset(q);
	return ok;
}

/* Checks one ts_ver row's `dead` (column 2 of s) against the replay. */
static void
check_dead(struct audit *a, sqlite3_stmt *s, sqlite3_stmt *q,
	   const struct tbl *t, int live)
{
	const char *id = (const char *)sqlite3_column_text(s, 1);
	const void *p = sqlite3_column_blob(s, 2);
	size_t len = (size_t)sqlite3_column_bytes(s, 2), off = 0;
	const msgpack_object *e;
	msgpack_unpacked up;
	int i;

	if (sqlite3_column_type(s, 2) == SQLITE_NULL) {
		if (!live)
			fault(a, "row %s/%s: the log says it is deleted, but "
				 "no tombstone is kept", t->name, id);
		return;
	}
	if (live) {
		fault(a, "row %s/%s: a tombstone is kept, but the log says "
			 "the row is live", t->name, id);
		return;
	}
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, p, len, &off) != MSGPACK_UNPACK_SUCCESS ||
	    off != len || up.data.type != MSGPACK_OBJECT_ARRAY ||
	    up.data.via.array.size != (uint32_t)t->ncol ||
	    up.data.via.array.ptr[0].type != MSGPACK_OBJECT_STR ||
	    up.data.via.array.ptr[0].via.str.size != strlen(id) ||
	    memcmp(up.data.via.array.ptr[0].via.str.ptr, id, strlen(id)) != 0) {
		fault(a, "row %s/%s: the tombstone is corrupt", t->name, id);
		msgpack_unpacked_destroy(&up);
		return;
	}
	e = up.data.via.array.ptr;
	for (i = 1; i < t->ncol; i++)
		if (!dead_value_ok(q, t->tid, sqlite3_column_value(s, 1), i,
				   &e[i]))
			fault(a, "row %s/%s: the tombstone's %s is not what "
				 "the log says", t->name, id, t->cols[i]);
	msgpack_unpacked_destroy(&up);
}

/*
 * Tombstones against the replay: a row the log leaves deleted (or only
 * updated) keeps its last values in ts_ver.dead, the winning value of
 * each column and the owner's scope; a live row keeps none.
 */
static int
audit_tombstones(struct audit *a)
{
	sqlite3_stmt *s, *q;
	int rc;

	rc = sqlite3_prepare_v2(a->n->db,
				"SELECT v.tid, v.id, v.dead, coalesce((SELECT"
				" x.val FROM temp.vx x WHERE x.tid = v.tid AND"
				" x.id = v.id AND x.col = 0), 0) FROM ts_ver v"
				" WHERE EXISTS (SELECT 1 FROM temp.vx x WHERE"
				" x.tid = v.tid AND x.id = v.id)",
				-1, &s, NULL);
	if (rc != SQLITE_OK)
		return node_sqlerr(a->n, rc, "tombstones");
	rc = sqlite3_prepare_v2(a->n->db,
				"SELECT ?1 IS (SELECT CASE WHEN ?4 = 1 THEN"
				" scope ELSE val END FROM temp.vx WHERE tid ="
				" ?2 AND id = ?3 AND (?4 = 1 OR col = ?4)"
				" LIMIT 1)",
				-1, &q, NULL);
	if (rc != SQLITE_OK) {
		sqlite3_finalize(s);
		return node_sqlerr(a->n, rc, "tombstones");
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const struct tbl *t =
			ts_store_table_tid(a->n, sqlite3_column_int(s, 0));

		if (t != NULL)
			check_dead(a, s, q, t, sqlite3_column_int(s, 3) == 1);
	}
	sqlite3_finalize(q);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : node_sqlerr(a->n, rc, "tombstones");
}

/* Checks one stored certificate: its CA signature and its columns. */
static void
check_cert(struct audit *a, sqlite3_stmt *s)
{
	uint64_t id = (uint64_t)sqlite3_column_int64(s, 0);
	const char *scope = (const char *)sqlite3_column_text(s, 1);
	const char *role = (const char *)sqlite3_column_text(s, 2);
	X509 *c = cert_from_pem(sqlite3_column_blob(s, 3),
				(size_t)sqlite3_column_bytes(s, 3));
	struct cert_info ci;
	char hex[17];

	id_format(id, hex);
	if (c == NULL) {
		fault(a, "certificate of node %s: the stored PEM does not "
			 "parse", hex);
		return;
	}
	if (cert_check_issuer(c, a->n->ca) != 0)
		fault(a, "certificate of node %s: not signed by the district "
			 "CA", hex);
	else if (cert_parse(c, &ci) != 0)
		fault(a, "certificate of node %s: not a tiersync node "
			 "certificate", hex);
	else if (ci.node_id != id)
		fault(a, "certificate of node %s: it is another node's", hex);
	else if (strcmp(ci.scope, scope ? scope : "") != 0 ||
		 strcmp(ci.role, role ? role : "") != 0)
		fault(a, "certificate of node %s: ts_certs says scope %s, "
			 "role %s; the certificate says scope %s, role %s",
		      hex, scope ? scope : "", role ? role : "", ci.scope,
		      ci.role);
	X509_free(c);
}

/* Every stored certificate, not only those of streams held. */
static int
audit_certs(struct audit *a)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(a->n->db,
				    "SELECT node_id, scope, role, pem FROM"
				    " ts_certs ORDER BY node_id",
				    -1, &s, NULL);

	if (rc != SQLITE_OK)
		return node_sqlerr(a->n, rc, "certificates");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		check_cert(a, s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : node_sqlerr(a->n, rc, "certificates");
}

/* ts_meta's identity against node.crt, which the node runs as. */
static int
audit_meta(struct audit *a)
{
	struct tsync_node *n = a->n;
	const char *key[4] = {"node_id", "scope", "role", "district"};
	const char *want[4];
	char hex[17], have[300];
	int i;

	id_format(n->id, hex);
	want[0] = hex;
	want[1] = n->scope;
	want[2] = n->role;
	want[3] = n->district;
	for (i = 0; i < 4; i++) {
		if (ts_store_meta_get(n, key[i], have, sizeof(have)) != 0)
			have[0] = '\0';
		if (strcmp(have, want[i]) != 0)
			fault(a, "ts_meta.%s is '%s', but node.crt says '%s'",
			      key[i], have, want[i]);
	}
	return 0;
}

/* Of a quarantined body that does not decode, apply.c keeps this much. */
#define QUARANTINE_KEEP 256

/* Checks the body of quarantine row s against the node's visibility. */
static void
check_quarantined(struct audit *a, sqlite3_stmt *s)
{
	long long qid = sqlite3_column_int64(s, 0);
	const char *scope = (const char *)sqlite3_column_text(s, 2);
	const uint8_t *body = sqlite3_column_blob(s, 4);
	size_t len = (size_t)sqlite3_column_bytes(s, 4);
	char hs[SCOPE_MAX + 1], err[128];
	struct txn t;

	if (scope != NULL &&
	    !scope_may_see(a->n->scope, a->n->role, scope)) {
		fault(a, "quarantine #%lld: holds the body of a txn of scope "
			 "%s, which this node may not see", qid, scope);
		return;
	}
	txn_decode(&t, body, len, err, sizeof(err));
	if (t.scope == NULL) {
		if (len > QUARANTINE_KEEP || scope != NULL)
			fault(a, "quarantine #%lld: holds %zu bytes of a body "
				 "with no txn header (only the first %d are "
				 "kept, with no origin or scope)", qid, len,
			      QUARANTINE_KEEP);
	} else if (t.scope_len > SCOPE_MAX ||
		   (memcpy(hs, t.scope, t.scope_len), hs[t.scope_len] = '\0',
		    !scope_may_see(a->n->scope, a->n->role, hs))) {
		fault(a, "quarantine #%lld: holds the body of a txn of a "
			 "scope this node may not see", qid);
	} else if (scope == NULL || strcmp(hs, scope) != 0 ||
		   (uint64_t)sqlite3_column_int64(s, 1) != t.origin ||
		   (uint64_t)sqlite3_column_int64(s, 3) != t.seq) {
		fault(a, "quarantine #%lld: the body's header is not the "
			 "origin, scope and seq the row names", qid);
	}
	txn_done(&t);
}

/*
 * ts_quarantine keeps bodies only of scopes this node may see: a refusal
 * for visibility keeps the header alone, and a body with no header is cut
 * to its first QUARANTINE_KEEP bytes.
 */
static int
audit_quarantine(struct audit *a)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(a->n->db,
				    "SELECT qid, origin, scope, seq, body FROM"
				    " ts_quarantine WHERE body IS NOT NULL"
				    " ORDER BY qid",
				    -1, &s, NULL);

	if (rc != SQLITE_OK)
		return node_sqlerr(a->n, rc, "quarantine");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		check_quarantined(a, s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : node_sqlerr(a->n, rc, "quarantine");
}

/*
 * ts_later against the log: it names stored txns only, exactly as many as
 * the replay found holding tables or columns this schema does not know.
 */
static int
audit_later(struct audit *a)
{
	int64_t orphan = 0, held = 0;
	int rc;

	if ((rc = count_of(a->n, "SELECT count(*) FROM ts_later x WHERE NOT"
				 " EXISTS (SELECT 1 FROM ts_log l WHERE"
				 " l.k = x.k)", &orphan)) != 0 ||
	    (rc = count_of(a->n, "SELECT count(*) FROM ts_later", &held)) != 0)
		return rc;
	if (orphan > 0)
		fault(a, "ts_later names %lld txns the log does not hold",
		      (long long)orphan);
	if (held != a->later)
		fault(a, "ts_later names %lld txns, but %lld stored txns hold "
			 "tables or columns this schema does not know (they "
			 "would not be applied after an upgrade)",
		      (long long)held, (long long)a->later);
	return 0;
}

/* ---- Schema objects ------------------------------------------------- */

/* The engine's own tables (node/store.c, conflict.c, revoke.c). */
static const char *const engine_tables[] = {
	"ts_meta", "ts_tables", "ts_certs", "ts_streams", "ts_log",
	"ts_ver", "ts_quarantine", "ts_heads", "ts_over", "ts_skew",
	"ts_revoked", "ts_peers", "ts_revoked_pos", "ts_clash", "ts_later",
	NULL,
};

#define QUARANTINE_ONCE_SQL                                                \
	"CREATE UNIQUE INDEX ts_quarantine_once ON ts_quarantine(origin,"  \
	" scope, seq, reason, peer)"

static int
is_engine_table(const char *name)
{
	int i;

	for (i = 0; engine_tables[i] != NULL; i++)
		if (strcmp(name, engine_tables[i]) == 0)
			return 1;
	return 0;
}

static int
put_object(void *arg, const char *name, const char *sql)
{
	sqlite3_stmt *s = arg;
	int rc;

	sqlite3_reset(s);
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, sql, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : TSYNC_EIO;
}

/*
 * Judges one sqlite_master row (type, name, tbl_name, sql, expected sql,
 * tbl_name is replicated).  Tables outside ts_ that no one declared are a
 * user's local tables and allowed; every index, trigger and view must be
 * one tiersync makes, with the SQL it makes.
 */
static void
check_object(struct audit *a, sqlite3_stmt *s)
{
	const char *type = (const char *)sqlite3_column_text(s, 0);
	const char *name = (const char *)sqlite3_column_text(s, 1);
	const char *on = (const char *)sqlite3_column_text(s, 2);
	const char *sql = (const char *)sqlite3_column_text(s, 3);
	const char *want = (const char *)sqlite3_column_text(s, 4);
	int ours;

	if (on == NULL)
		on = "";
	ours = is_engine_table(on) || sqlite3_column_int(s, 5);

	if (strcmp(type, "table") == 0) {
		if (strncmp(name, "ts_", 3) == 0 && !is_engine_table(name))
			fault(a, "schema: table %s is not one of the engine's "
				 "(ts_ names are reserved)", name);
		return;
	}
	if (strcmp(type, "index") == 0 && sql == NULL && ours &&
	    strncmp(name, "sqlite_autoindex_", 17) == 0)
		return;
	if (strcmp(name, "ts_quarantine_once") == 0)
		want = QUARANTINE_ONCE_SQL;
	if (want == NULL)
		fault(a, "schema: %s %s%s%s was not made by tiersync (added "
			 "behind the node's back?)", type, name,
		      strcmp(on, name) != 0 ? " on " : "",
		      strcmp(on, name) != 0 ? on : "");
	else if (sql == NULL || strcmp(sql, want) != 0 ||
		 strcmp(type, strncmp(name, "ts_chk_", 7) == 0 ? "trigger"
							       : "index") != 0)
		fault(a, "schema: %s %s on %s is not what tiersync makes "
			 "(altered behind the node's back?)", type, name, on);
}

/*
 * Every schema object against the expected set: the engine's tables and
 * index, the replicated tables (ts_tables) with their own indexes, and
 * the records layer's indexes and triggers with exactly the SQL that
 * domain_declare makes (domain_objects).  A missing one is a fault too:
 * a dropped ts_chk_ trigger lets bad local writes in.
 */
static int
audit_schema(struct audit *a)
{
	sqlite3_stmt *s;
	int rc;

	rc = sqlite3_prepare_v2(a->n->db,
				"INSERT OR REPLACE INTO temp.vobj VALUES(?1,"
				" ?2)",
				-1, &s, NULL);
	if (rc != SQLITE_OK)
		return node_sqlerr(a->n, rc, "schema");
	rc = domain_objects(put_object, s);
	sqlite3_finalize(s);
	if (rc != 0)
		return node_err(a->n, rc, "schema: listing the records "
					  "layer's objects failed");
	rc = sqlite3_prepare_v2(a->n->db,
				"SELECT m.type, m.name, m.tbl_name, m.sql,"
				" (SELECT o.sql FROM temp.vobj o WHERE o.name ="
				" m.name), EXISTS (SELECT 1 FROM main.ts_tables"
				" t WHERE t.name = m.tbl_name) FROM"
				" main.sqlite_master m WHERE substr(m.name, 1,"
				" 11) <> 'sqlite_stat' AND m.name <>"
				" 'sqlite_sequence' ORDER BY m.type, m.name",
				-1, &s, NULL);
	if (rc != SQLITE_OK)
		return node_sqlerr(a->n, rc, "schema");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		check_object(a, s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return node_sqlerr(a->n, rc, "schema");
	rc = sqlite3_prepare_v2(a->n->db,
				"SELECT name FROM temp.vobj WHERE name NOT IN"
				" (SELECT name FROM main.sqlite_master) ORDER"
				" BY name",
				-1, &s, NULL);
	if (rc != SQLITE_OK)
		return node_sqlerr(a->n, rc, "schema");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		fault(a, "schema: %s %s is missing (dropped behind the "
			 "node's back?)",
		      strncmp((const char *)sqlite3_column_text(s, 0),
			      "ts_chk_", 7) == 0 ? "trigger" : "index",
		      sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : node_sqlerr(a->n, rc, "schema");
}

/*
 * ts_version_cmp(h1, o1, h2, o2): version_cmp() for SQL, so that verify
 * orders versions exactly as the merge does (as unsigned numbers; the
 * INTEGERs SQLite hands back are their bits).
 */
static void
sql_version_cmp(sqlite3_context *cx, int argc, sqlite3_value **v)
{
	(void)argc;
	sqlite3_result_int(cx, version_cmp((uint64_t)sqlite3_value_int64(v[0]),
					   (uint64_t)sqlite3_value_int64(v[1]),
					   (uint64_t)sqlite3_value_int64(v[2]),
					   (uint64_t)sqlite3_value_int64(v[3])));
}

int
tsync_node_verify(struct tsync_node *n, tsync_fault_cb cb, void *arg)
{
	return verify_run(n, 0, cb, arg);
}

int
verify_run(struct tsync_node *n, int flags, tsync_fault_cb cb, void *arg)
{
	struct audit a = {n, cb, arg, 0, NULL, NULL, NULL, NULL, 0, flags};
	int i, rc;

	rc = sqlite3_create_function(n->db, "ts_version_cmp", 4,
				     SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
				     sql_version_cmp, NULL, NULL);
	if (rc != SQLITE_OK)
		return node_sqlerr(n, rc, "verify");
	rc = ts_store_exec(n, DROP_TEMP
			   "CREATE TEMP TABLE vx(tid INTEGER, id TEXT,"
			   " col INTEGER, hlc INTEGER, origin INTEGER,"
			   " scope TEXT, val, PRIMARY KEY(tid, id, scope,"
			   " col)) WITHOUT ROWID;"
			   "CREATE TEMP TABLE vall(tid INTEGER, id TEXT,"
			   " col INTEGER, hlc INTEGER, origin INTEGER,"
			   " scope TEXT, val, PRIMARY KEY(tid, id, col, hlc,"
			   " origin, scope)) WITHOUT ROWID;"
			   "CREATE TEMP TABLE vprev(tid INTEGER, id TEXT,"
			   " col INTEGER, hlc INTEGER, origin INTEGER,"
			   " scope TEXT, PRIMARY KEY(tid, id, col, hlc,"
			   " origin, scope)) WITHOUT ROWID;"
			   "CREATE TEMP TABLE vclaim(tid INTEGER, id TEXT,"
			   " kind INTEGER, hlc INTEGER, origin INTEGER,"
			   " scope TEXT, PRIMARY KEY(tid, id, hlc, origin,"
			   " scope)) WITHOUT ROWID;"
			   "CREATE TEMP TABLE vobj(name TEXT PRIMARY KEY,"
			   " sql TEXT); BEGIN");
	if (rc != 0)
		return rc;
	rc = sqlite3_prepare_v2(n->db,
				"INSERT INTO temp.vx VALUES(?1, ?2, ?3, ?4, ?5,"
				" ?6, ?7) ON CONFLICT(tid, id, scope, col) DO"
				" UPDATE SET hlc = excluded.hlc, origin ="
				" excluded.origin, val = excluded.val WHERE"
				" ts_version_cmp("
				"excluded.hlc, excluded.origin, vx.hlc,"
				" vx.origin) > 0",
				-1, &a.put, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(n->db,
					"INSERT OR IGNORE INTO temp.vall VALUES(?1,"
					" ?2, ?3, ?4, ?5, ?6, ?7)",
					-1, &a.all, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(n->db,
					"INSERT OR IGNORE INTO temp.vprev VALUES("
					"?1, ?2, ?3, ?4, ?5, ?6)",
					-1, &a.prev, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(n->db,
					"INSERT OR IGNORE INTO temp.vclaim VALUES("
					"?1, ?2, ?3, ?4, ?5, ?6)",
					-1, &a.claim, NULL);
	if (rc != SQLITE_OK)
		rc = node_sqlerr(n, rc, "verify");
	if (rc == 0)
		rc = audit_schema(&a);
	if (rc == 0)
		rc = audit_meta(&a);
	if (rc == 0)
		rc = audit_certs(&a);
	if (rc == 0)
		rc = audit_streams(&a);
	if (rc == 0)
		rc = audit_over(&a);
	if (rc == 0)
		rc = audit_clashes(&a);
	for (i = 0; rc == 0 && i < n->ntbl; i++)
		rc = audit_table(&a, &n->tbls[i]);
	if (rc == 0)
		rc = audit_versions(&a);
	if (rc == 0)
		rc = audit_orphans(&a);
	if (rc == 0)
		rc = audit_conflicts(&a);
	if (rc == 0)
		rc = audit_tombstones(&a);
	if (rc == 0)
		rc = audit_quarantine(&a);
	if (rc == 0)
		rc = audit_later(&a);
	if (rc == 0)
		rc = receipt_audit(n, receipt_fault, &a);
	sqlite3_finalize(a.put);
	sqlite3_finalize(a.all);
	sqlite3_finalize(a.prev);
	sqlite3_finalize(a.claim);
	sqlite3_exec(n->db, "ROLLBACK; " DROP_TEMP, NULL, NULL, NULL);
	if (rc != 0)
		return rc;
	if (a.faults > MAX_FAULTS && cb != NULL) {
		char line[96];

		ts_fmt(line, sizeof(line), "... and %u more faults",
		       a.faults - MAX_FAULTS);
		cb(arg, line);
	}
	if (a.faults > 0)
		return node_err(n, TSYNC_EVERIFY, "%u faults", a.faults);
	return 0;
}
