/*
 * apply.c - verifying and merging txns from peers; see apply.h.
 */
#include <stdlib.h>
#include <string.h>

#include "apply.h"
#include "conflict.h"
#include "node_int.h"
#include "revoke.h"
#include "scope.h"
#include "txn.h"

enum reason {
	R_OK, R_MALFORMED, R_VISIBILITY, R_NOCERT, R_SCOPE, R_GAP, R_CHAIN,
	R_EQUIVOCATION, R_SIGNATURE, R_ROWSCOPE, R_DUP, R_REVOKED
};

static const char *const reason_text[] = {
	[R_OK] = "ok",
	[R_MALFORMED] = "malformed txn",
	[R_VISIBILITY] = "scope not visible to this node",
	[R_NOCERT] = "origin certificate unknown or not from the district CA",
	[R_SCOPE] = "origin may not write this scope",
	[R_GAP] = "gap: seq is not the next of its stream",
	[R_CHAIN] = "broken chain: prev hash does not match the stream head",
	[R_EQUIVOCATION] = "equivocation: a different txn at a seq already held",
	[R_SIGNATURE] = "bad signature",
	[R_ROWSCOPE] = "change to a row of another scope",
	[R_DUP] = "duplicate",
	[R_REVOKED] = "origin's certificate was revoked before this txn",
};

/* The state of one row before a change is merged. */
struct rowstate {
	uint8_t vers[16 * TBL_MAX_COLS];
	int existed, alive;
	struct ts_buf cur; /* msgpack array of ncol values, or empty */
};

static int
read_row(struct tsync_node *n, struct tbl *t, const char *id, size_t idlen,
	 struct rowstate *rs)
{
	sqlite3_stmt *s = ts_store_stmt(n, ST_VER_GET);
	int rc, i;

	memset(rs->vers, 0, sizeof(rs->vers));
	rs->existed = rs->alive = 0;
	rs->cur.len = 0;
	if (s == NULL)
		return TSYNC_EIO;
	sqlite3_bind_int(s, 1, t->tid);
	sqlite3_bind_text(s, 2, id, (int)idlen, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		rs->existed = 1;
		if (ver_unpack(sqlite3_column_blob(s, 0),
			       (size_t)sqlite3_column_bytes(s, 0), rs->vers,
			       t->ncol) != 0)
			rc = node_err(n, TSYNC_ECORRUPT, "corrupt versions");
		else if (sqlite3_column_type(s, 1) == SQLITE_NULL)
			rs->alive = 1;
		else
			rc = ts_buf_put(&rs->cur, sqlite3_column_blob(s, 1),
				     (size_t)sqlite3_column_bytes(s, 1));
	} else if (rc == SQLITE_DONE) {
		rc = 0;
	} else {
		rc = node_sqlerr(n, rc, "read versions");
	}
	sqlite3_reset(s);
	if (rc != 0 && rc != SQLITE_ROW)
		return rc;
	if (!rs->alive)
		return 0;
	/* Live row: its values come from the table itself. */
	if (t->get == NULL) {
		char sql[2048];
		size_t len = (size_t)snprintf(sql, sizeof(sql), "SELECT id");

		for (i = 1; i < t->ncol && len < sizeof(sql); i++)
			len += (size_t)snprintf(sql + len, sizeof(sql) - len,
						", \"%s\"", t->cols[i]);
		if (len < sizeof(sql))
			snprintf(sql + len, sizeof(sql) - len,
				 " FROM \"%s\" WHERE id = ?1", t->name);
		rc = sqlite3_prepare_v3(n->db, sql, -1,
					SQLITE_PREPARE_PERSISTENT, &t->get,
					NULL);
		if (rc != SQLITE_OK)
			return node_sqlerr(n, rc, "prepare row read");
	}
	sqlite3_reset(t->get);
	sqlite3_bind_text(t->get, 1, id, (int)idlen, SQLITE_STATIC);
	if (sqlite3_step(t->get) == SQLITE_ROW) {
		msgpack_packer pk;

		txn_packer(&pk, &rs->cur);
		msgpack_pack_array(&pk, (size_t)t->ncol);
		for (i = 0; i < t->ncol; i++)
			txn_pack_value(&pk, sqlite3_column_value(t->get, i));
	} else {
		rs->alive = 0; /* versions say live, table lacks it: heal */
	}
	sqlite3_reset(t->get);
	return 0;
}

static int
prepare_upsert(struct tsync_node *n, struct tbl *t)
{
	char sql[4096];
	size_t len;
	int i, rc;

	len = (size_t)snprintf(sql, sizeof(sql), "INSERT INTO \"%s\"(id",
			       t->name);
	for (i = 1; i < t->ncol && len < sizeof(sql); i++)
		len += (size_t)snprintf(sql + len, sizeof(sql) - len,
					", \"%s\"", t->cols[i]);
	len += (size_t)snprintf(sql + len, sizeof(sql) - len, ") VALUES(?1");
	for (i = 1; i < t->ncol && len < sizeof(sql); i++)
		len += (size_t)snprintf(sql + len, sizeof(sql) - len, ", ?%d",
					i + 1);
	len += (size_t)snprintf(sql + len, sizeof(sql) - len,
				") ON CONFLICT(id) DO UPDATE SET scope ="
				" excluded.scope");
	for (i = 2; i < t->ncol && len < sizeof(sql); i++)
		len += (size_t)snprintf(sql + len, sizeof(sql) - len,
					", \"%s\" = excluded.\"%s\"",
					t->cols[i], t->cols[i]);
	if (len >= sizeof(sql))
		return node_err(n, TSYNC_EINVAL, "table %s too wide", t->name);
	rc = sqlite3_prepare_v3(n->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
				&t->upsert, NULL);
	if (rc == SQLITE_OK) {
		snprintf(sql, sizeof(sql), "DELETE FROM \"%s\" WHERE id = ?1",
			 t->name);
		rc = sqlite3_prepare_v3(n->db, sql, -1,
					SQLITE_PREPARE_PERSISTENT, &t->del,
					NULL);
	}
	return rc == SQLITE_OK ? 0 : node_sqlerr(n, rc, "prepare apply");
}

/* Writes the merged row: values vals[0..ncol), live or not. */
static int
write_row(struct tsync_node *n, struct tbl *t, const struct txn_change *c,
	  struct rowstate *rs, const msgpack_object **vals, int alive,
	  struct ts_buf *scratch)
{
	sqlite3_stmt *s;
	msgpack_packer pk;
	int i, rc;

	if (t->upsert == NULL && (rc = prepare_upsert(n, t)) != 0)
		return rc;
	scratch->len = 0;
	if (alive) {
		s = t->upsert;
		sqlite3_reset(s);
		sqlite3_bind_text(s, 1, c->id, (int)c->id_len, SQLITE_STATIC);
		for (i = 1; i < t->ncol; i++) {
			if (vals[i] != NULL)
				txn_bind_value(s, i + 1, vals[i]);
			else if (t->dflt != NULL && t->dflt[i] != NULL)
				sqlite3_bind_value(s, i + 1, t->dflt[i]);
			else
				sqlite3_bind_null(s, i + 1);
		}
		rc = sqlite3_step(s);
		sqlite3_reset(s);
		if (rc != SQLITE_DONE)
			return node_sqlerr(n, rc, "apply row");
	} else {
		if (rs->alive) {
			s = t->del;
			sqlite3_reset(s);
			sqlite3_bind_text(s, 1, c->id, (int)c->id_len,
					  SQLITE_STATIC);
			rc = sqlite3_step(s);
			sqlite3_reset(s);
			if (rc != SQLITE_DONE)
				return node_sqlerr(n, rc, "delete row");
		}
		txn_packer(&pk, scratch);
		msgpack_pack_array(&pk, (size_t)t->ncol);
		msgpack_pack_str_with_body(&pk, c->id, c->id_len);
		for (i = 1; i < t->ncol; i++) {
			if (vals[i] != NULL)
				msgpack_pack_object(&pk, *vals[i]);
			else
				msgpack_pack_nil(&pk);
		}
	}
	{
		uint8_t packed[17 * TBL_MAX_COLS];

		s = ts_store_stmt(n, ST_VER_PUT);
		if (s == NULL)
			return TSYNC_EIO;
		sqlite3_bind_int(s, 1, t->tid);
		sqlite3_bind_text(s, 2, c->id, (int)c->id_len, SQLITE_STATIC);
		sqlite3_bind_blob(s, 3, packed,
				  (int)ver_pack(rs->vers, t->ncol, packed),
				  SQLITE_STATIC);
		if (!alive)
			sqlite3_bind_blob(s, 4, scratch->p, (int)scratch->len,
					  SQLITE_STATIC);
		rc = sqlite3_step(s);
		sqlite3_reset(s);
	}
	return rc == SQLITE_DONE ? 0 : node_sqlerr(n, rc, "write versions");
}

/*
 * Merges one column write W (the txn's version) that overwrote P:
 * W joins the heads unless a version already named it as overwritten;
 * the largest head is the value; P stops being a head.  See conflict.h.
 * A settling write carries the column once per head it settles, all with
 * the same W: W arrives only at the first of them (`arrives`), the others
 * only retire their P.
 */
static int
merge_column(struct tsync_node *n, const struct txn *t,
	     const struct txn_change *c, struct tbl *tb, struct rowstate *rs,
	     int ci, const struct txn_col *col, int arrives,
	     const msgpack_object **vals, int *changed)
{
	struct colref cr = {tb->tid, c->id, c->id_len, ci};
	uint64_t wh, wo;
	int rc = 0, was_cur;

	ver_get(rs->vers, tb->ncol, ci, &wh, &wo);
	was_cur = col->prev_hlc == wh && col->prev_origin == wo;
	if (arrives && (t->hlc != wh || t->origin != wo)) {
		if ((rc = over_take(n, &cr, t->hlc, t->origin)) < 0)
			return rc;
		if (rc == 1) {
			rc = 0; /* overwritten before it arrived: no head */
		} else if (version_cmp(t->hlc, t->origin, wh, wo) > 0) {
			/* The old value stays a head unless W overwrote it. */
			if ((wh != 0 || wo != 0) && !was_cur &&
			    (rc = heads_add(n, &cr, wh, wo, vals[ci])) != 0)
				return rc;
			ver_set(rs->vers, ci, t->hlc, t->origin);
			vals[ci] = col->value;
			*changed = 1;
		} else if ((rc = heads_add(n, &cr, t->hlc, t->origin,
					   col->value)) != 0) {
			return rc;
		}
	}
	if ((col->prev_hlc != 0 || col->prev_origin != 0) && !was_cur) {
		rc = heads_remove(n, &cr, col->prev_hlc, col->prev_origin);
		if (rc == 0)
			rc = over_add(n, &cr, col->prev_hlc, col->prev_origin);
		else if (rc == 1)
			rc = 0;
	}
	return rc;
}

/* Merges one change whose row state is in rs. */
static int
merge_change(struct tsync_node *n, const struct txn *t,
	     const struct txn_change *c, struct tbl *tb, struct rowstate *rs,
	     struct ts_buf *scratch)
{
	const msgpack_object *vals[TBL_MAX_COLS];
	msgpack_object scope;
	msgpack_unpacked up;
	struct txn_col col;
	uint64_t h, o, seen = 0;
	int alive = rs->alive, changed = 0, ci, rc;
	uint32_t j;
	size_t off = 0;

	memset(vals, 0, sizeof(vals));
	/* apply_later: a column this node did not know shows the row's
	 * version (ver_pack leaves out what equals it), but nothing here
	 * ever wrote it: it starts unwritten. */
	for (ci = tb->later_from > 2 ? tb->later_from : tb->ncol;
	     ci < tb->ncol; ci++)
		if (memcmp(rs->vers + 16 * ci, rs->vers, 16) == 0)
			memset(rs->vers + 16 * ci, 0, 16);
	if (c->kind != TXN_UPDATE) {
		ver_get(rs->vers, tb->ncol, 0, &h, &o);
		if (version_cmp(t->hlc, t->origin, h, o) > 0) {
			ver_set(rs->vers, 0, t->hlc, t->origin);
			alive = c->kind == TXN_INSERT;
			changed = 1;
		}
	}
	msgpack_unpacked_init(&up);
	if (rs->cur.len > 0 &&
	    msgpack_unpack_next(&up, (const char *)rs->cur.p, rs->cur.len,
				&off) == MSGPACK_UNPACK_SUCCESS &&
	    up.data.type == MSGPACK_OBJECT_ARRAY)
		for (ci = 0; ci < tb->ncol &&
			     ci < (int)up.data.via.array.size; ci++)
			vals[ci] = &up.data.via.array.ptr[ci];
	rc = 0;
	for (j = 0; j < c->ncols && rc == 0; j++) {
		txn_col_at(c, j, &col);
		ci = tbl_col(tb, col.name, col.name_len);
		if (ci < 0)
			n->later_seen = 1; /* a newer schema's: kept for later */
		if (ci < 2 || ci < tb->later_from)
			continue;
		rc = merge_column(n, t, c, tb, rs, ci, &col,
				  !(seen >> ci & 1), vals, &changed);
		seen |= 1ULL << ci;
	}
	if (rc != 0) {
		msgpack_unpacked_destroy(&up);
		return rc;
	}
	if (changed) {
		if (vals[1] == NULL) {
			scope.type = MSGPACK_OBJECT_STR;
			scope.via.str.ptr = t->scope;
			scope.via.str.size = t->scope_len;
			vals[1] = &scope;
		}
		rc = write_row(n, tb, c, rs, vals, alive, scratch);
	}
	msgpack_unpacked_destroy(&up);
	return rc;
}

/* Every version a txn writes is above the version it says it overwrote. */
static int
versions_rise(const struct txn *t, const struct txn_change *c)
{
	struct txn_col col;
	uint32_t j;

	if ((c->row_prev_hlc || c->row_prev_origin) &&
	    version_cmp(t->hlc, t->origin, c->row_prev_hlc,
			c->row_prev_origin) <= 0)
		return 0;
	for (j = 0; j < c->ncols; j++) {
		txn_col_at(c, j, &col);
		if ((col.prev_hlc || col.prev_origin) &&
		    version_cmp(t->hlc, t->origin, col.prev_hlc,
				col.prev_origin) <= 0)
			return 0;
	}
	return 1;
}

/* The scope a held row carries (index 1 of its values), if known. */
static int
row_scope(const struct rowstate *rs, char *out, size_t outlen)
{
	msgpack_unpacked up;
	size_t off = 0;
	int ok = 0;

	out[0] = '\0';
	if (rs->cur.len == 0)
		return 0;
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, (const char *)rs->cur.p, rs->cur.len,
				&off) == MSGPACK_UNPACK_SUCCESS &&
	    up.data.type == MSGPACK_OBJECT_ARRAY &&
	    up.data.via.array.size >= 2 &&
	    up.data.via.array.ptr[1].type == MSGPACK_OBJECT_STR &&
	    up.data.via.array.ptr[1].via.str.size < outlen) {
		const msgpack_object *sc = &up.data.via.array.ptr[1];

		memcpy(out, sc->via.str.ptr, sc->via.str.size);
		out[sc->via.str.size] = '\0';
		ok = 1;
	}
	msgpack_unpacked_destroy(&up);
	return ok;
}

static int
same_scope_str(const struct txn *t, const char *scope)
{
	return strlen(scope) == t->scope_len &&
	       memcmp(scope, t->scope, t->scope_len) == 0;
}

/* Runs sql with ?1 = tid, ?2 = id. */
static int
row_exec(struct tsync_node *n, const char *sql, int tid, const char *id,
	 size_t idlen)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(n->db, sql, -1, &s, NULL);

	if (rc != SQLITE_OK)
		return node_sqlerr(n, rc, "id clash");
	sqlite3_bind_int(s, 1, tid);
	sqlite3_bind_text(s, 2, id, (int)idlen, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : node_sqlerr(n, rc, "id clash");
}

/*
 * 1 if change c writes anything here: an insert or a delete (the row
 * slot), or an update carrying a column this node knows.  Only such a
 * change claims its id (verify.c counts the same way).
 */
static int
change_writes(const struct tbl *tb, const struct txn_change *c)
{
	struct txn_col col;
	uint32_t j;

	if (c->kind != TXN_UPDATE)
		return 1;
	for (j = 0; j < c->ncols; j++) {
		txn_col_at(c, j, &col);
		if (tbl_col(tb, col.name, col.name_len) >= 2)
			return 1;
	}
	return 0;
}

/* Merges the kept change `body` (a one-change txn, see clash_put). */
static int
merge_kept(struct tsync_node *n, struct tbl *tb, const void *body,
	   size_t len, struct rowstate *rs, struct ts_buf *scratch)
{
	struct txn t;
	struct txn_change c;
	char err[96];
	uint8_t *copy = malloc(len ? len : 1);
	int rc;

	if (copy == NULL)
		return node_err(n, TSYNC_ENOMEM, "out of memory");
	memcpy(copy, body, len);
	rc = txn_decode(&t, copy, len, err, sizeof(err));
	if (rc == 0 && t.nchanges == 1) {
		txn_change_at(&t, 0, &c);
		rc = read_row(n, tb, c.id, c.id_len, rs);
		if (rc == 0)
			rc = merge_change(n, &t, &c, tb, rs, scratch);
	} else {
		rc = node_err(n, TSYNC_ECORRUPT, "a kept change is corrupt: %s",
			      err);
	}
	txn_done(&t);
	free(copy);
	return rc;
}

/*
 * Rebuilds row (tb, id) from the kept changes of scope `owner` alone:
 * the table row, its versions, its conflicts and pending overwrites are
 * dropped and those changes merged again (in any order: the merge does
 * not depend on it).
 */
static int
rebuild(struct tsync_node *n, struct tbl *tb, const char *id, size_t idlen,
	const char *owner, struct ts_buf *scratch)
{
	struct rowstate rs;
	sqlite3_stmt *s;
	char sql[600];
	int rc, later_from, applying = n->cap.applying;

	n->cap.applying = 1;
	snprintf(sql, sizeof(sql), "DELETE FROM \"%s\" WHERE id = ?2 AND"
		 " ?1 = ?1", tb->name);
	rc = row_exec(n, sql, tb->tid, id, idlen);
	if (rc == 0)
		rc = row_exec(n, "DELETE FROM ts_ver WHERE tid = ?1 AND"
				 " id = ?2", tb->tid, id, idlen);
	if (rc == 0)
		rc = row_exec(n, "DELETE FROM ts_heads WHERE tid = ?1 AND"
				 " id = ?2 AND col >= 2", tb->tid, id, idlen);
	if (rc == 0)
		rc = row_exec(n, "DELETE FROM ts_over WHERE tid = ?1 AND"
				 " id = ?2", tb->tid, id, idlen);
	if (rc != 0) {
		n->cap.applying = applying;
		return rc;
	}
	rc = sqlite3_prepare_v2(n->db, "SELECT body FROM ts_clash WHERE"
				       " tid = ?1 AND id = ?2 AND scope = ?3"
				       " ORDER BY hlc, origin", -1, &s, NULL);
	if (rc != SQLITE_OK) {
		n->cap.applying = applying;
		return node_sqlerr(n, rc, "id clash");
	}
	sqlite3_bind_int(s, 1, tb->tid);
	sqlite3_bind_text(s, 2, id, (int)idlen, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 3, owner, -1, SQLITE_STATIC);
	ts_buf_init(&rs.cur, &n->ops, 0);
	later_from = tb->later_from;
	tb->later_from = 0; /* a rebuild merges every column */
	while (rc == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW)
		rc = merge_kept(n, tb, sqlite3_column_blob(s, 0),
				(size_t)sqlite3_column_bytes(s, 0), &rs,
				scratch);
	tb->later_from = later_from;
	if (rc == SQLITE_DONE)
		rc = 0;
	else if (rc > 0)
		rc = node_sqlerr(n, rc, "id clash");
	sqlite3_finalize(s);
	ts_buf_free(&rs.cur);
	n->cap.applying = applying;
	return rc;
}

/*
 * Change i of t to the contested id c->id: keeps it, then either merges
 * it (its scope owns the id and still did), leaves it aside (another
 * scope owns the id), or rebuilds the row (the owner changed, or a local
 * commit already wrote a change that must not show).  `local`: capture
 * already wrote this change to the row.
 */
static int
clash_apply(struct tsync_node *n, const struct txn *t, uint32_t i,
	    const struct txn_change *c, struct tbl *tb, struct rowstate *rs,
	    struct ts_buf *scratch, int local)
{
	char before[SCOPE_MAX + 1], after[SCOPE_MAX + 1];
	int rc;

	if ((rc = clash_owner(n, tb->tid, c->id, c->id_len, before,
			      sizeof(before))) != 0 ||
	    (rc = clash_put(n, tb->tid, t, i)) != 0 ||
	    (rc = clash_owner(n, tb->tid, c->id, c->id_len, after,
			      sizeof(after))) != 0)
		return rc;
	if (strcmp(before, after) == 0 && same_scope_str(t, after)) {
		if (!local && (rc = read_row(n, tb, c->id, c->id_len, rs)) == 0)
			rc = merge_change(n, t, c, tb, rs, scratch);
	} else if (strcmp(before, after) != 0 || local) {
		rc = rebuild(n, tb, c->id, c->id_len, after, scratch);
	}
	if (rc == 0)
		rc = clash_heads(n, tb->tid, c->id, c->id_len);
	return rc;
}

/*
 * The id c->id is held with scope `owner` and a change of another scope
 * arrived: from now on every change to it is kept in ts_clash.  The
 * owner's changes so far are in the log, in the streams of its scope.
 */
static int
clash_start(struct tsync_node *n, struct tbl *tb, const struct txn_change *c,
	    const char *owner)
{
	sqlite3_stmt *st, *lg;
	int rc;

	if ((rc = clash_ensure(n)) != 0)
		return rc;
	rc = sqlite3_prepare_v2(n->db, "SELECT sid FROM ts_streams WHERE"
				       " scope = ?1", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return node_sqlerr(n, rc, "id clash");
	rc = sqlite3_prepare_v2(n->db, "SELECT body FROM ts_log WHERE k"
				       " BETWEEN ?1 AND ?2 ORDER BY k", -1,
				&lg, NULL);
	if (rc != SQLITE_OK) {
		sqlite3_finalize(st);
		return node_sqlerr(n, rc, "id clash");
	}
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
	rc = 0;
	while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
		int64_t sid = sqlite3_column_int64(st, 0);

		sqlite3_reset(lg);
		sqlite3_bind_int64(lg, 1, LOG_ROWID(sid, 1));
		sqlite3_bind_int64(lg, 2, LOG_ROWID(sid + 1, 0) - 1);
		while (rc == 0 && sqlite3_step(lg) == SQLITE_ROW) {
			struct txn lt;
			struct txn_change lc;
			char err[96];
			uint32_t j;

			if (txn_decode(&lt, sqlite3_column_blob(lg, 0),
				       (size_t)sqlite3_column_bytes(lg, 0), err,
				       sizeof(err)) == 0)
				for (j = 0; j < lt.nchanges && rc == 0; j++) {
					txn_change_at(&lt, j, &lc);
					if (lc.id_len == c->id_len &&
					    memcmp(lc.id, c->id, c->id_len) == 0 &&
					    ts_store_table(n, lc.table,
							lc.table_len) == tb &&
					    change_writes(tb, &lc))
						rc = clash_put(n, tb->tid, &lt, j);
				}
			txn_done(&lt);
		}
	}
	sqlite3_finalize(lg);
	sqlite3_finalize(st);
	return rc;
}

/*
 * Merges change i of t; *clash says ts_clash may hold rows.  `fresh`:
 * ts_ver holds no row (tb, id), so its lookup is skipped (fresh_scan).
 */
static int
merge_one(struct tsync_node *n, const struct txn *t, uint32_t i,
	  struct tbl *tb, struct rowstate *rs, struct ts_buf *scratch,
	  int *clash, int fresh)
{
	char owner[SCOPE_MAX + 1];
	struct txn_change c;
	int rc;

	txn_change_at(t, i, &c);
	if (!change_writes(tb, &c))
		return 0;
	if (*clash && (rc = clash_held(n, tb->tid, c.id, c.id_len)) != 0)
		return rc < 0 ? rc
			      : clash_apply(n, t, i, &c, tb, rs, scratch, 0);
	if (fresh) {
		/* What read_row finds when ts_ver has no row. */
		memset(rs->vers, 0, sizeof(rs->vers));
		rs->existed = rs->alive = 0;
		rs->cur.len = 0;
	} else if ((rc = read_row(n, tb, c.id, c.id_len, rs)) != 0) {
		return rc;
	}
	if (row_scope(rs, owner, sizeof(owner)) && !same_scope_str(t, owner)) {
		/* An id another scope holds: never a refusal (the rule in
		 * docs/data-model.md, "One id, two scopes"). */
		if ((rc = clash_start(n, tb, &c, owner)) != 0)
			return rc;
		*clash = 1;
		return clash_apply(n, t, i, &c, tb, rs, scratch, 0);
	}
	return merge_change(n, t, &c, tb, rs, scratch);
}

/*
 * Checks and merges every change of t; R_OK or a reason.  fresh[i] (if
 * fresh is not NULL): change i's row has no versions yet (fresh_scan).
 */
static int
merge_txn(struct tsync_node *n, const struct txn *t, struct ts_buf *scratch,
	  int *clash, const uint8_t *fresh, int *err)
{
	struct rowstate rs;
	struct txn_change c;
	struct tbl *tb;
	uint32_t i;
	int rc = 0;

	/* First, the txn itself: every version rises above what it names. */
	for (i = 0; i < t->nchanges; i++) {
		txn_change_at(t, i, &c);
		if (ts_store_table(n, c.table, c.table_len) != NULL &&
		    !versions_rise(t, &c)) {
			*err = 0;
			return R_MALFORMED;
		}
	}
	ts_buf_init(&rs.cur, &n->ops, 0);
	for (i = 0; i < t->nchanges && rc == 0; i++) {
		txn_change_at(t, i, &c);
		if ((tb = ts_store_table(n, c.table, c.table_len)) == NULL) {
			n->later_seen = 1; /* a newer schema's table */
			continue;
		}
		rc = merge_one(n, t, i, tb, &rs, scratch, clash,
			       fresh != NULL && fresh[i]);
	}
	ts_buf_free(&rs.cur);
	*err = rc;
	return R_OK;
}

int
clash_local(struct tsync_node *n, const uint8_t *body, size_t len)
{
	struct rowstate rs;
	struct txn_change c;
	struct txn t;
	struct tbl *tb;
	struct ts_buf scratch;
	char err[96];
	uint32_t i;
	int rc;

	if (!clash_any(n))
		return 0;
	if (txn_decode(&t, body, len, err, sizeof(err)) != 0) {
		txn_done(&t);
		return node_err(n, TSYNC_ECORRUPT, "own txn: %s", err);
	}
	ts_buf_init(&rs.cur, &n->ops, 0);
	ts_buf_init(&scratch, &n->ops, 0);
	rc = 0;
	for (i = 0; i < t.nchanges && rc == 0; i++) {
		txn_change_at(&t, i, &c);
		if ((tb = ts_store_table(n, c.table, c.table_len)) == NULL)
			continue;
		rc = change_writes(tb, &c) ? clash_held(n, tb->tid, c.id,
							 c.id_len)
					   : 0;
		if (rc == 1)
			rc = clash_apply(n, &t, i, &c, tb, &rs, &scratch, 1);
	}
	ts_buf_free(&scratch);
	ts_buf_free(&rs.cur);
	txn_done(&t);
	return rc;
}

/*
 * The quarantine keeps evidence, within a cap per peer (docs/protocol.md,
 * section 9.1): the records of one peer (by its name) take at most
 * QUARANTINE_PEER_MAX bytes, counting body, signature, scope and
 * QUARANTINE_ROW for the rest of a record.  A record that does not fit
 * keeps its header only; when not even that fits, nothing is recorded
 * (the txn is still refused and counted).  Of a body that does not
 * decode, only the first QUARANTINE_KEEP bytes are kept.
 */
#define QUARANTINE_PEER_MAX (1u << 20)
#define QUARANTINE_KEEP 256
#define QUARANTINE_ROW 64

/* Bytes of the records kept for `peer`; negative on a store error. */
static int64_t
quarantine_used(struct tsync_node *n, const char *peer)
{
	sqlite3_stmt *s;
	int64_t v = 0;
	int rc;

	rc = sqlite3_prepare_v2(n->db, "SELECT coalesce(sum(coalesce("
				       "length(body), 0) + coalesce(length(sig),"
				       " 0) + coalesce(length(scope), 0) + ?2),"
				       " 0) FROM ts_quarantine WHERE peer = ?1",
				-1, &s, NULL);
	if (rc != SQLITE_OK)
		return node_sqlerr(n, rc, "quarantine");
	sqlite3_bind_text(s, 1, peer ? peer : "", -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, QUARANTINE_ROW);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? v : node_sqlerr(n, rc, "quarantine");
}

/* 1 if this undecodable body (its kept prefix and signature) is on
 * record for the peer already. */
static int
quarantine_seen(struct tsync_node *n, const struct wire_txn *w, size_t keep,
		const char *peer)
{
	sqlite3_stmt *s;
	int seen;

	if (sqlite3_prepare_v2(n->db, "SELECT 1 FROM ts_quarantine WHERE"
				      " origin IS NULL AND body = ?1 AND"
				      " sig = ?2 AND peer = ?3",
			       -1, &s, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_blob(s, 1, w->body, (int)keep, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, w->sig, KEYS_SIG_LEN, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, peer ? peer : "", -1, SQLITE_STATIC);
	seen = sqlite3_step(s) == SQLITE_ROW;
	sqlite3_finalize(s);
	return seen;
}

/*
 * Records a refused txn.  *used holds the peer's quarantine bytes (-1:
 * not read yet) and is kept up to date.
 */
static int
quarantine(struct tsync_node *n, const struct wire_txn *w,
	   const struct txn *t, int why, const char *peer, int64_t *used)
{
	sqlite3_stmt *s;
	int header = t != NULL && t->scope != NULL;
	size_t keep = w->len, sl = header ? t->scope_len : 0;
	int evidence = why != R_VISIBILITY;
	int rc;

	if (!header && keep > QUARANTINE_KEEP)
		keep = QUARANTINE_KEEP;
	if (!header && quarantine_seen(n, w, keep, peer))
		return 0;
	if (*used < 0 && (*used = quarantine_used(n, peer)) < 0)
		return (int)*used;
	if (*used + QUARANTINE_ROW + (int64_t)sl > QUARANTINE_PEER_MAX)
		return 0; /* the peer's share is spent: refused, not kept */
	if (*used + QUARANTINE_ROW + (int64_t)(sl + keep + KEYS_SIG_LEN) >
	    QUARANTINE_PEER_MAX)
		evidence = 0;
	rc = sqlite3_prepare_v2(n->db,
				"INSERT OR IGNORE INTO ts_quarantine(at, peer,"
				" origin,"
				" scope, seq, reason, body, sig) VALUES(?1,"
				" ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
				-1, &s, NULL);
	if (rc != SQLITE_OK)
		return node_sqlerr(n, rc, "quarantine");
	sqlite3_bind_int64(s, 1, (int64_t)ts_now_ms(&n->ops));
	sqlite3_bind_text(s, 2, peer ? peer : "", -1, SQLITE_STATIC);
	if (header) {
		sqlite3_bind_int64(s, 3, (int64_t)t->origin);
		sqlite3_bind_text(s, 4, t->scope, (int)t->scope_len,
				  SQLITE_STATIC);
		sqlite3_bind_int64(s, 5, (int64_t)t->seq);
	}
	sqlite3_bind_text(s, 6, reason_text[why], -1, SQLITE_STATIC);
	/* Evidence is kept, except the records of a scope this node must
	 * never hold: of those only the header (origin, scope, seq). */
	if (evidence) {
		sqlite3_bind_blob(s, 7, w->body, (int)keep, SQLITE_STATIC);
		sqlite3_bind_blob(s, 8, w->sig, KEYS_SIG_LEN, SQLITE_STATIC);
	}
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return node_sqlerr(n, rc, "quarantine");
	if (sqlite3_changes(n->db) > 0)
		*used += QUARANTINE_ROW + (int64_t)sl +
			 (evidence ? (int64_t)(keep + KEYS_SIG_LEN) : 0);
	return 0;
}

struct ctx {
	struct tsync_node *n;
	const char *peer;
	struct apply_report *rep;
	struct ts_buf scratch;
	apply_held_cb held;
	void *held_arg;
	int64_t qused; /* the peer's quarantine bytes, -1 until read */
	/* The head of the run's stream, kept here and written once per run. */
	struct stream_head head;
	int head_loaded, head_dirty;
	int clash; /* ts_clash may hold rows (docs/data-model.md) */
};

/* Checks a txn against its stream head; R_OK, R_DUP or a reason. */
static int
check_txn(struct ctx *x, const struct txn *t, const struct cert_entry **ce)
{
	struct tsync_node *n = x->n;
	struct stream_head *h = &x->head;
	char scope[SCOPE_MAX + 1];
	int rc;

	if (t->scope_len > SCOPE_MAX)
		return R_MALFORMED;
	memcpy(scope, t->scope, t->scope_len);
	scope[t->scope_len] = '\0';
	if (!scope_valid(scope, 1) || !scope_may_see(n->scope, n->role, scope))
		return R_VISIBILITY;
	if ((*ce = certs_get(n, t->origin)) == NULL)
		return R_NOCERT;
	if (!scope_may_write((*ce)->info.scope, (*ce)->info.role, scope))
		return R_SCOPE;
	if (!x->head_loaded) {
		rc = ts_log_head(n, t->origin, t->scope, t->scope_len, h);
		if (rc != 0 && rc != TSYNC_ENOENT)
			return -1;
		x->head_loaded = 1;
	}
	if (t->seq <= h->seq) {
		/* Cached: replays after a resume meet many duplicates. */
		sqlite3_stmt *s = ts_store_stmt(n, ST_LOG_HASH);
		int same = 0;

		if (s == NULL)
			return -1;
		sqlite3_bind_int64(s, 1, LOG_ROWID(h->sid, t->seq));
		if (sqlite3_step(s) == SQLITE_ROW &&
		    sqlite3_column_bytes(s, 0) == KEYS_HASH_LEN)
			same = memcmp(sqlite3_column_blob(s, 0), t->hash,
				      KEYS_HASH_LEN) == 0;
		sqlite3_reset(s);
		return same ? R_DUP : R_EQUIVOCATION;
	}
	/* Only txns not held yet are judged against a revocation: by the
	 * stream's position in the list, or by time for older entries. */
	if (!crl_accepts(n, *ce, t->scope, t->scope_len, t->seq, t->hlc))
		return R_REVOKED;
	if (t->seq != h->seq + 1)
		return R_GAP;
	if (memcmp(t->prev, h->hash, KEYS_HASH_LEN) != 0)
		return R_CHAIN;
	return R_OK;
}

static void
note_reject(struct ctx *x, const struct txn *t, int why)
{
	char id[17];

	x->rep->rejected++;
	if (x->rep->first_reject[0] != '\0')
		return;
	id_format(t->origin, id);
	ts_fmt(x->rep->first_reject, sizeof(x->rep->first_reject),
	       "%s/%.*s seq %llu: %s", id, (int)t->scope_len,
	       t->scope ? t->scope : "", (unsigned long long)t->seq,
	       reason_text[why]);
}

/*
 * Records an origin whose clock ran further ahead of ours than the bound:
 * its versions are kept as data, our clock moved only to the bound, and
 * `tiersync status` names it.
 */
static int
note_skew(struct tsync_node *n, const struct txn *t)
{
	uint64_t now = ts_now_ms(&n->ops);
	sqlite3_stmt *s;
	int rc;

	rc = sqlite3_prepare_v2(n->db,
				"INSERT INTO ts_skew(origin, ahead_ms, seen_at)"
				" VALUES(?1, ?2, ?3) ON CONFLICT(origin) DO"
				" UPDATE SET ahead_ms = max(ahead_ms,"
				" excluded.ahead_ms), seen_at = excluded.seen_at",
				-1, &s, NULL);
	if (rc != SQLITE_OK)
		return node_sqlerr(n, rc, "note clock skew");
	sqlite3_bind_int64(s, 1, (int64_t)t->origin);
	sqlite3_bind_int64(s, 2, (int64_t)(hlc_ms(t->hlc) - now));
	sqlite3_bind_int64(s, 3, (int64_t)now);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : node_sqlerr(n, rc, "note clock skew");
}

/* One txn of the batch, decoded once. */
struct item {
	const struct wire_txn *w;
	struct txn t;
	int ok; /* decoded */
	uint8_t *fresh; /* per change: its row has no versions (fresh_scan) */
	char err[96];
};

/* Fewer changes than this in a batch are looked up one by one. */
#define FRESH_MIN 32

/* A change of the batch to a known table, for fresh_scan. */
struct rowkey {
	const struct tbl *tb;
	const char *id;
	uint32_t len;
	uint8_t *fresh;
};

/* Orders by table, then id as SQLite's BINARY collation does. */
static int
rowkey_cmp(const void *a, const void *b)
{
	const struct rowkey *x = a, *y = b;
	int c;

	if (x->tb->tid != y->tb->tid)
		return x->tb->tid < y->tb->tid ? -1 : 1;
	c = memcmp(x->id, y->id, x->len < y->len ? x->len : y->len);
	if (c != 0)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

/* 1 if ts_ver holds a row of table tid with an id in [lo, hi]. */
static int
ver_any(struct tsync_node *n, sqlite3_stmt *s, int tid,
	const struct rowkey *lo, const struct rowkey *hi)
{
	int rc;

	sqlite3_bind_int(s, 1, tid);
	sqlite3_bind_text(s, 2, lo->id, (int)lo->len, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, hi->id, (int)hi->len, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : node_sqlerr(n, rc, "read versions");
}

/*
 * Marks the changes of the batch whose row cannot have versions yet, so
 * that the merge skips their ts_ver lookup (a first pull writes rows no
 * replica held): per table, one range query says that ts_ver holds no
 * id between the least and the greatest of the batch's, and an id that
 * only one change of the batch names is then fresh until that change
 * writes it.  Nothing but the batch's own changes writes ts_ver while it
 * is applied (a clash rebuild rewrites the id of the change it serves),
 * and a rollback of a run only takes rows away, so the mark stays true.
 * Not needed for correctness: without it (a small batch, no memory),
 * every change is looked up.
 */
static int
fresh_scan(struct tsync_node *n, struct item *it, size_t count,
	   uint8_t **marks)
{
	struct rowkey *k;
	struct txn_change c;
	struct tbl *tb;
	sqlite3_stmt *s;
	size_t i, j, e, total = 0, nk = 0;
	uint32_t ci;
	int rc = 0;

	*marks = NULL;
	for (i = 0; i < count; i++)
		if (it[i].ok)
			total += it[i].t.nchanges;
	if (total < FRESH_MIN || (*marks = calloc(total, 1)) == NULL ||
	    (k = malloc(total * sizeof(*k))) == NULL)
		return 0;
	for (i = 0, e = 0; i < count; i++) {
		if (!it[i].ok)
			continue;
		it[i].fresh = *marks + e;
		for (ci = 0; ci < it[i].t.nchanges; ci++, e++) {
			txn_change_at(&it[i].t, ci, &c);
			tb = ts_store_table(n, c.table, c.table_len);
			if (tb == NULL)
				continue;
			k[nk].tb = tb;
			k[nk].id = c.id;
			k[nk].len = c.id_len;
			k[nk].fresh = *marks + e;
			nk++;
		}
	}
	qsort(k, nk, sizeof(*k), rowkey_cmp);
	rc = sqlite3_prepare_v2(n->db, "SELECT 1 FROM ts_ver WHERE tid = ?1"
				       " AND id BETWEEN ?2 AND ?3 LIMIT 1",
				-1, &s, NULL);
	if (rc != SQLITE_OK) {
		free(k);
		return node_sqlerr(n, rc, "read versions");
	}
	for (i = 0; i < nk && rc >= 0; i = j) {
		for (j = i + 1; j < nk && k[j].tb == k[i].tb; j++)
			;
		/* An id of the range is held: none of the table's is marked. */
		if ((rc = ver_any(n, s, k[i].tb->tid, &k[i], &k[j - 1])) != 0)
			continue;
		for (e = i; e < j; e++)
			*k[e].fresh = (e == i ||
				       rowkey_cmp(&k[e - 1], &k[e]) != 0) &&
				      (e + 1 == j ||
				       rowkey_cmp(&k[e], &k[e + 1]) != 0);
	}
	sqlite3_finalize(s);
	free(k);
	return rc < 0 ? rc : 0;
}

/*
 * The txn at log key k holds tables or columns this schema does not know:
 * its values stay in the log and ts_later names it, so that apply_later()
 * merges them once an upgrade declares them (docs/data-model.md).
 */
static int
later_keep(struct tsync_node *n, int64_t k, uint32_t schema)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(n->db, "INSERT OR IGNORE INTO ts_later(k,"
					   " schema) VALUES(?1, ?2)", -1, &s,
				    NULL);

	if (rc != SQLITE_OK)
		return node_sqlerr(n, rc, "keep for later");
	sqlite3_bind_int64(s, 1, k);
	sqlite3_bind_int64(s, 2, schema);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : node_sqlerr(n, rc, "keep for later");
}

/*
 * Applies one decoded txn; verifies its signature when `check_sig`.
 * Returns 0, or a negative error if the store failed.
 */
static int
apply_one(struct ctx *x, struct item *it, int check_sig, int *applied)
{
	const struct cert_entry *ce = NULL;
	struct txn *t = &it->t;
	int why, rc = 0;

	*applied = 0;
	if (!it->ok) {
		x->rep->rejected++;
		if (x->rep->first_reject[0] == '\0')
			ts_fmt(x->rep->first_reject,
			       sizeof(x->rep->first_reject), "%s", it->err);
		return quarantine(x->n, it->w, NULL, R_MALFORMED, x->peer,
				  &x->qused);
	}
	why = check_txn(x, t, &ce);
	if (why < 0)
		return TSYNC_EIO;
	if (why == R_DUP) {
		x->rep->duplicate++;
		if (x->held != NULL)
			x->held(x->held_arg, t->origin, t->scope, t->scope_len,
				t->seq);
		return 0;
	}
	if (why == R_OK && check_sig &&
	    txn_verify_sig(ce->key, t->hash, it->w->sig) != 0)
		why = R_SIGNATURE;
	if (why == R_OK) {
		x->n->later_seen = 0;
		why = merge_txn(x->n, t, &x->scratch, &x->clash, it->fresh,
				&rc);
		if (rc != 0)
			return rc;
		if (why == R_OK) {
			rc = ts_log_append(x->n, &x->head, t->origin, t->scope,
					t->scope_len, it->w->body, it->w->len,
					t->hash, it->w->sig, t->hlc, 0);
			if (rc == 0 && x->n->later_seen)
				rc = later_keep(x->n, LOG_ROWID(x->head.sid,
								x->head.seq),
						t->schema);
			if (rc != 0)
				return rc;
			x->head_dirty = 1;
			if (hlc_observe(&x->n->hlc, t->hlc,
					ts_now_ms(&x->n->ops),
					x->n->max_skew_ms) &&
			    (rc = note_skew(x->n, t)) != 0)
				return rc;
			x->rep->applied++;
			*applied = 1;
			if (x->held != NULL)
				x->held(x->held_arg, t->origin, t->scope,
					t->scope_len, t->seq);
			return 0;
		}
	}
	/* Blame the origin (scope, chain, equivocation...) only for bytes
	 * it really signed; otherwise the relay forged them. */
	if (ce != NULL && why != R_SIGNATURE && why != R_VISIBILITY &&
	    why != R_NOCERT &&
	    txn_verify_sig(ce->key, t->hash, it->w->sig) != 0)
		why = R_SIGNATURE;
	note_reject(x, t, why);
	return quarantine(x->n, it->w, t, why, x->peer, &x->qused);
}

static int
same_stream(const struct txn *a, const struct txn *b)
{
	return a->origin == b->origin && a->scope_len == b->scope_len &&
	       memcmp(a->scope, b->scope, a->scope_len) == 0;
}

/* Applies it[0..count) with the run's head cache reset first. */
static int
apply_pass(struct ctx *x, struct item *it, size_t count, int check_sig,
	   size_t *last_ok)
{
	size_t i;
	int rc = 0, ok;

	x->head_loaded = x->head_dirty = 0;
	*last_ok = count;
	for (i = 0; i < count && rc == 0; i++) {
		rc = apply_one(x, &it[i], check_sig, &ok);
		if (ok)
			*last_ok = i;
	}
	if (rc == 0 && x->head_dirty)
		rc = ts_log_store_head(x->n, &x->head);
	return rc;
}

/*
 * Applies the run it[0..count) of one stream, trusting the hash links and
 * checking only the newest applied txn's signature; on failure, redoes
 * the run with every signature checked.
 */
static int
apply_run(struct ctx *x, struct item *it, size_t count)
{
	const struct cert_entry *ce;
	struct apply_report saved = *x->rep;
	struct ts_store_txn tx;
	size_t last;
	int rc;

	if ((rc = ts_store_txn_begin(x->n, &tx, "run")) != 0)
		return rc;
	if ((rc = apply_pass(x, it, count, 0, &last)) != 0)
		goto fail;
	ce = last < count ? certs_get(x->n, it[last].t.origin) : NULL;
	if (last == count ||
	    (ce != NULL && txn_verify_sig(ce->key, it[last].t.hash,
					  it[last].w->sig) == 0))
		return ts_store_txn_commit(x->n, &tx);
	/* The newest signature failed: find the forged txn the slow way. */
	if ((rc = ts_store_exec(x->n, "ROLLBACK TO run")) != 0)
		goto fail;
	*x->rep = saved;
	if ((rc = apply_pass(x, it, count, 1, &last)) != 0)
		goto fail;
	return ts_store_txn_commit(x->n, &tx);
fail:
	ts_store_txn_rollback(x->n, &tx);
	return rc;
}

static int
bump_applied(struct tsync_node *n, unsigned count)
{
	sqlite3_stmt *s;
	int rc;

	if (count == 0)
		return 0;
	rc = sqlite3_prepare_v2(n->db,
				"INSERT INTO ts_meta(key, value) VALUES"
				"('applied_txns', ?1) ON CONFLICT(key) DO"
				" UPDATE SET value = value + ?1",
				-1, &s, NULL);
	if (rc != SQLITE_OK)
		return node_sqlerr(n, rc, "count applied");
	sqlite3_bind_int(s, 1, (int)count);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : node_sqlerr(n, rc, "count applied");
}

static int
apply_some(struct tsync_node *n, const struct wire_txn *w, size_t count,
	   const char *peer, struct apply_report *rep, apply_held_cb held,
	   void *held_arg, int nested)
{
	struct ts_store_txn tx;
	struct txn_dec dec;
	struct ctx x;
	struct item *it;
	uint8_t *marks = NULL;
	size_t i, j;
	int rc;

	memset(rep, 0, sizeof(*rep));
	memset(&x, 0, sizeof(x));
	x.n = n;
	x.peer = peer;
	x.qused = -1;
	x.rep = rep;
	x.held = held;
	x.held_arg = held_arg;
	if (txn_dec_init(&dec) != 0)
		return node_err(n, TSYNC_ENOMEM, "out of memory");
	if ((it = calloc(count + 1, sizeof(*it))) == NULL) {
		txn_dec_free(&dec);
		return node_err(n, TSYNC_ENOMEM, "out of memory");
	}
	for (i = 0; i < count; i++) {
		it[i].w = &w[i];
		it[i].ok = txn_decode_in(&dec, &it[i].t, w[i].body, w[i].len,
					 it[i].err, sizeof(it[i].err)) == 0;
	}
	/* Its own transaction (BEGIN IMMEDIATE fails inside another, so a
	 * batch is never ACKed inside a transaction its caller does not
	 * commit), or a savepoint in the caller's: apply_batch_in(). */
	if ((rc = ts_store_txn_begin(n, &tx, nested ? "batch" : NULL)) != 0)
		goto out;
	if ((rc = over_scan(n)) != 0 ||
	    (rc = fresh_scan(n, it, count, &marks)) != 0) {
		ts_store_txn_rollback(n, &tx);
		goto out;
	}
	n->cap.applying = 1;
	x.clash = clash_any(n);
	ts_buf_init(&x.scratch, &n->ops, 0);
	/* Split the batch into runs of one stream each. */
	for (i = 0; i < count && rc == 0; i = j) {
		for (j = i + 1; it[i].ok && j < count && it[j].ok &&
				same_stream(&it[i].t, &it[j].t);
		     j++)
			;
		rc = apply_run(&x, &it[i], j - i);
	}
	if (rc == 0)
		rc = bump_applied(n, rep->applied);
	n->cap.applying = 0;
	ts_buf_free(&x.scratch);
	if (rc == 0)
		rc = ts_store_txn_commit(n, &tx); /* rolls back if it fails */
	else
		ts_store_txn_rollback(n, &tx); /* keeps the failure's message */
	if (rc != 0)
		memset(rep, 0, sizeof(*rep));
out:
	for (i = 0; i < count; i++)
		txn_done(&it[i].t);
	free(marks);
	free(it);
	txn_dec_free(&dec);
	return rc;
}

int
apply_batch(struct tsync_node *n, const struct wire_txn *w, size_t count,
	    const char *peer, struct apply_report *rep, apply_held_cb held,
	    void *held_arg)
{
	return apply_some(n, w, count, peer, rep, held, held_arg, 0);
}

int
apply_batch_in(struct tsync_node *n, const struct wire_txn *w, size_t count,
	       const char *peer, struct apply_report *rep,
	       apply_held_cb held, void *held_arg)
{
	return apply_some(n, w, count, peer, rep, held, held_arg, 1);
}

uint64_t
apply_total(struct tsync_node *n)
{
	char v[32];

	if (ts_store_meta_get(n, "applied_txns", v, sizeof(v)) != 0)
		return 0;
	return strtoull(v, NULL, 10);
}

/*
 * After a migration: merges again, from the log, what the old schema did
 * not know.  old_ncol[tid] is how many columns table tid had before (0:
 * the table is new); only columns from there on are merged, so what was
 * applied before is not merged twice.  Every txn named in ts_later is
 * read, or every txn of the log when `scan_all` (a replica written before
 * ts_later was kept: release 0.1.0).  A txn that still holds unknown
 * parts stays in ts_later.  Runs inside the caller's transaction.
 */
int
apply_later(struct tsync_node *n, const int *old_ncol,
	    int scan_all, uint64_t *merged)
{
	sqlite3_stmt *s, *del = NULL;
	struct ts_buf scratch;
	int i, rc, clash = clash_any(n), applying = n->cap.applying;

	*merged = 0;
	for (i = 0; i < n->ntbl; i++)
		n->tbls[i].later_from = old_ncol[n->tbls[i].tid];
	rc = sqlite3_prepare_v2(n->db,
				scan_all ? "SELECT k, body FROM ts_log ORDER BY k"
					 : "SELECT l.k, l.body FROM ts_later"
					   " x JOIN ts_log l ON l.k = x.k"
					   " ORDER BY l.k",
				-1, &s, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(n->db, "DELETE FROM ts_later WHERE"
					       " k = ?1", -1, &del, NULL);
	if (rc != SQLITE_OK) {
		sqlite3_finalize(s);
		for (i = 0; i < n->ntbl; i++)
			n->tbls[i].later_from = 0;
		return node_sqlerr(n, rc, "apply later");
	}
	ts_buf_init(&scratch, &n->ops, 0);
	n->cap.applying = 1;
	rc = 0;
	while (rc == 0 && sqlite3_step(s) == SQLITE_ROW) {
		struct txn t;
		char err[96];
		int64_t k = sqlite3_column_int64(s, 0);

		if (txn_decode(&t, sqlite3_column_blob(s, 1),
			       (size_t)sqlite3_column_bytes(s, 1), err,
			       sizeof(err)) != 0)
			continue; /* verify reports a stored txn that is bad */
		n->later_seen = 0;
		merge_txn(n, &t, &scratch, &clash, NULL, &rc);
		if (rc == 0 && !n->later_seen && !scan_all) {
			sqlite3_reset(del);
			sqlite3_bind_int64(del, 1, k);
			if (sqlite3_step(del) != SQLITE_DONE)
				rc = node_sqlerr(n, SQLITE_ERROR,
						 "apply later");
		} else if (rc == 0 && n->later_seen && scan_all) {
			rc = later_keep(n, k, t.schema);
		}
		if (rc == 0)
			(*merged)++;
		txn_done(&t);
	}
	n->cap.applying = applying;
	for (i = 0; i < n->ntbl; i++)
		n->tbls[i].later_from = 0;
	ts_buf_free(&scratch);
	sqlite3_finalize(del);
	sqlite3_finalize(s);
	return rc;
}

/* ---- Cutting a stream back (a revocation list re-judges) ---------------- */

/* A row a removed txn touched: (tid, id), kept in a small growing list. */
struct rowref {
	int tid;
	char *id;
};

struct rowrefs {
	struct rowref *v;
	size_t n, cap;
};

static int
rowrefs_has(const struct rowrefs *r, int tid, const char *id, size_t len)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (r->v[i].tid == tid && strlen(r->v[i].id) == len &&
		    memcmp(r->v[i].id, id, len) == 0)
			return 1;
	return 0;
}

static int
rowrefs_add(struct rowrefs *r, int tid, const char *id, size_t len)
{
	if (rowrefs_has(r, tid, id, len))
		return 0;
	if (ts_grow(&r->v, &r->cap, r->n, sizeof(*r->v), 16) != 0)
		return TSYNC_ENOMEM;
	if ((r->v[r->n].id = strndup(id, len)) == NULL)
		return TSYNC_ENOMEM;
	r->v[r->n++].tid = tid;
	return 0;
}

static void
rowrefs_free(struct rowrefs *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		free(r->v[i].id);
	free(r->v);
}

/* Moves the txns of stream sid after seq `keep` to the quarantine. */
static int
cut_txns(struct tsync_node *n, int64_t sid, uint64_t keep, const char *why,
	 const char *peer, struct rowrefs *rows, uint64_t *moved)
{
	sqlite3_stmt *s, *q = NULL, *del = NULL;
	int rc;

	rc = sqlite3_prepare_v2(n->db, "SELECT k, body, sig FROM ts_log WHERE"
				       " k > ?1 AND k < ?2 ORDER BY k",
				-1, &s, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(
			n->db,
			"INSERT OR IGNORE INTO ts_quarantine(at, peer, origin,"
			" scope, seq, reason, body, sig) VALUES(?1, ?2, ?3, ?4,"
			" ?5, ?6, ?7, ?8)",
			-1, &q, NULL);
	if (rc == SQLITE_OK && clash_any(n))
		rc = sqlite3_prepare_v2(
			n->db,
			"DELETE FROM ts_clash WHERE hlc = ?1 AND origin = ?2"
			" AND scope = ?3",
			-1, &del, NULL);
	if (rc != SQLITE_OK) {
		sqlite3_finalize(s);
		sqlite3_finalize(q);
		return node_sqlerr(n, rc, "cut stream");
	}
	rc = 0;
	sqlite3_bind_int64(s, 1, LOG_ROWID(sid, keep));
	sqlite3_bind_int64(s, 2, LOG_ROWID(sid + 1, 0));
	while (rc == 0 && sqlite3_step(s) == SQLITE_ROW) {
		const void *body = sqlite3_column_blob(s, 1);
		int len = sqlite3_column_bytes(s, 1);
		struct txn t;
		struct txn_change c;
		char err[96];
		uint32_t i;

		if (txn_decode(&t, body, (size_t)len, err, sizeof(err)) != 0)
			continue; /* verify names a stored txn that is bad */
		for (i = 0; i < t.nchanges && rc == 0; i++) {
			struct tbl *tb;

			txn_change_at(&t, i, &c);
			if ((tb = ts_store_table(n, c.table, c.table_len)) != NULL)
				rc = rowrefs_add(rows, tb->tid, c.id, c.id_len);
		}
		sqlite3_reset(q);
		sqlite3_bind_int64(q, 1, (int64_t)ts_now_ms(&n->ops));
		sqlite3_bind_text(q, 2, peer, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 3, (int64_t)t.origin);
		sqlite3_bind_text(q, 4, t.scope, (int)t.scope_len,
				  SQLITE_STATIC);
		sqlite3_bind_int64(q, 5, (int64_t)t.seq);
		sqlite3_bind_text(q, 6, why, -1, SQLITE_STATIC);
		sqlite3_bind_blob(q, 7, body, len, SQLITE_STATIC);
		sqlite3_bind_blob(q, 8, sqlite3_column_blob(s, 2),
				  sqlite3_column_bytes(s, 2), SQLITE_STATIC);
		if (rc == 0 && sqlite3_step(q) != SQLITE_DONE)
			rc = node_sqlerr(n, SQLITE_ERROR, "cut stream");
		if (rc == 0 && del != NULL) {
			sqlite3_reset(del);
			sqlite3_bind_int64(del, 1, (int64_t)t.hlc);
			sqlite3_bind_int64(del, 2, (int64_t)t.origin);
			sqlite3_bind_text(del, 3, t.scope, (int)t.scope_len,
					  SQLITE_STATIC);
			if (sqlite3_step(del) != SQLITE_DONE)
				rc = node_sqlerr(n, SQLITE_ERROR, "cut stream");
		}
		(*moved)++;
		txn_done(&t);
	}
	sqlite3_finalize(del);
	sqlite3_finalize(q);
	sqlite3_finalize(s);
	return rc;
}

/* Empties row (tb, id) and everything kept about it, before a refold. */
static int
row_forget(struct tsync_node *n, struct tbl *tb, const char *id)
{
	static const char *const engine[] = {
		"DELETE FROM ts_ver WHERE tid = ?1 AND id = ?2",
		"DELETE FROM ts_heads WHERE tid = ?1 AND id = ?2",
		"DELETE FROM ts_over WHERE tid = ?1 AND id = ?2",
	};
	char sql[600];
	size_t i;
	int rc;

	snprintf(sql, sizeof(sql), "DELETE FROM \"%s\" WHERE id = ?2 AND"
		 " ?1 = ?1", tb->name);
	rc = row_exec(n, sql, tb->tid, id, strlen(id));
	for (i = 0; rc == 0 && i < sizeof(engine) / sizeof(engine[0]); i++)
		rc = row_exec(n, engine[i], tb->tid, id, strlen(id));
	if (rc == 0 && clash_any(n))
		rc = row_exec(n, "DELETE FROM ts_clash WHERE tid = ?1 AND"
				 " id = ?2", tb->tid, id, strlen(id));
	return rc;
}

/*
 * Merges again, from the log, every change to the rows in `rows` (after
 * row_forget): the rows become the fold of the txns still held, as if the
 * removed ones had never arrived (the merge does not depend on order).
 */
static int
refold(struct tsync_node *n, const struct rowrefs *rows)
{
	struct rowstate rs;
	struct ts_buf scratch;
	sqlite3_stmt *s;
	int rc, clash = clash_any(n);
	size_t i;

	for (i = 0, rc = 0; rc == 0 && i < rows->n; i++) {
		struct tbl *tb = ts_store_table_tid(n, rows->v[i].tid);

		if (tb != NULL)
			rc = row_forget(n, tb, rows->v[i].id);
	}
	if (rc != 0)
		return rc;
	if ((rc = over_scan(n)) != 0)
		return rc;
	rc = sqlite3_prepare_v2(n->db, "SELECT body FROM ts_log ORDER BY k", -1,
				&s, NULL);
	if (rc != SQLITE_OK)
		return node_sqlerr(n, rc, "refold");
	ts_buf_init(&rs.cur, &n->ops, 0);
	ts_buf_init(&scratch, &n->ops, 0);
	rc = 0;
	while (rc == 0 && sqlite3_step(s) == SQLITE_ROW) {
		struct txn t;
		struct txn_change c;
		char err[96];
		uint32_t j;

		if (txn_decode(&t, sqlite3_column_blob(s, 0),
			       (size_t)sqlite3_column_bytes(s, 0), err,
			       sizeof(err)) != 0)
			continue;
		for (j = 0; j < t.nchanges && rc == 0; j++) {
			struct tbl *tb;

			txn_change_at(&t, j, &c);
			if ((tb = ts_store_table(n, c.table, c.table_len)) != NULL &&
			    rowrefs_has(rows, tb->tid, c.id, c.id_len))
				rc = merge_one(n, &t, j, tb, &rs, &scratch,
					       &clash, 0);
		}
		txn_done(&t);
	}
	sqlite3_finalize(s);
	ts_buf_free(&scratch);
	ts_buf_free(&rs.cur);
	return rc;
}

int
apply_cut(struct tsync_node *n, int64_t sid, uint64_t keep, const char *why,
	  const char *peer, uint64_t *moved)
{
	struct rowrefs rows = {NULL, 0, 0};
	struct stream_head h;
	sqlite3_stmt *s;
	int rc, applying = n->cap.applying;

	*moved = 0;
	n->cap.applying = 1;
	rc = cut_txns(n, sid, keep, why, peer, &rows, moved);
	if (rc == 0 && *moved > 0) {
		static const char *const drop[] = {
			"DELETE FROM ts_log WHERE k > ?1 AND k < ?2",
			"DELETE FROM ts_later WHERE k > ?1 AND k < ?2",
		};
		size_t i;

		for (i = 0; rc == 0 && i < 2; i++) {
			rc = sqlite3_prepare_v2(n->db, drop[i], -1, &s, NULL);
			if (rc != SQLITE_OK) {
				rc = node_sqlerr(n, rc, "cut stream");
				break;
			}
			sqlite3_bind_int64(s, 1, LOG_ROWID(sid, keep));
			sqlite3_bind_int64(s, 2, LOG_ROWID(sid + 1, 0));
			if (sqlite3_step(s) != SQLITE_DONE)
				rc = node_sqlerr(n, SQLITE_ERROR, "cut stream");
			sqlite3_finalize(s);
		}
	}
	if (rc == 0 && *moved > 0) {
		/* The stream's head goes back to the txn at `keep`. */
		memset(&h, 0, sizeof(h));
		h.sid = sid;
		h.seq = keep;
		rc = sqlite3_prepare_v2(n->db, "SELECT hash, hlc FROM ts_log"
					       " WHERE k = ?1", -1, &s, NULL);
		rc = rc == SQLITE_OK ? 0 : node_sqlerr(n, rc, "cut stream");
		if (rc == 0) {
			sqlite3_bind_int64(s, 1, LOG_ROWID(sid, keep));
			if (sqlite3_step(s) == SQLITE_ROW &&
			    sqlite3_column_bytes(s, 0) == KEYS_HASH_LEN) {
				memcpy(h.hash, sqlite3_column_blob(s, 0),
				       KEYS_HASH_LEN);
				h.hlc = (uint64_t)sqlite3_column_int64(s, 1);
			}
			sqlite3_finalize(s);
			rc = ts_log_store_head(n, &h);
		}
	}
	if (rc == 0 && *moved > 0)
		rc = refold(n, &rows);
	n->cap.applying = applying;
	rowrefs_free(&rows);
	return rc;
}
