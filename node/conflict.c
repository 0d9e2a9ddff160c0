/*
 * conflict.c - heads, pending overwrites, listing and settling conflicts;
 * see conflict.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conflict.h"
#include "node_int.h"
#include "scope.h"
#include "txn.h"

/* The cached statement `which`, bound to (column, version). */
static sqlite3_stmt *
colref_stmt(struct tsync_node *n, int which, const struct colref *c,
	    uint64_t hlc, uint64_t origin)
{
	sqlite3_stmt *s = ts_store_stmt(n, which);

	if (s == NULL)
		return NULL;
	sqlite3_bind_int(s, 1, c->tid);
	sqlite3_bind_text(s, 2, c->id, (int)c->idlen, SQLITE_STATIC);
	sqlite3_bind_int(s, 3, c->col);
	sqlite3_bind_int64(s, 4, (int64_t)hlc);
	sqlite3_bind_int64(s, 5, (int64_t)origin);
	return s;
}

/* Runs s; returns whether it changed a row, or <0 on error. */
static int
run(struct tsync_node *n, sqlite3_stmt *s)
{
	int rc;

	if (s == NULL)
		return TSYNC_EIO;
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return node_sqlerr(n, rc, "conflicts");
	return sqlite3_changes(n->db) > 0;
}

int
heads_add(struct tsync_node *n, const struct colref *c, uint64_t hlc,
	  uint64_t origin, const msgpack_object *val)
{
	sqlite3_stmt *s = colref_stmt(n, ST_HEADS_ADD, c, hlc, origin);
	int rc;

	if (s != NULL && val != NULL)
		txn_bind_value(s, 6, val);
	rc = run(n, s);
	return rc < 0 ? rc : 0;
}

int
heads_remove(struct tsync_node *n, const struct colref *c, uint64_t hlc,
	     uint64_t origin)
{
	return run(n, colref_stmt(n, ST_HEADS_DEL, c, hlc, origin));
}

int
over_add(struct tsync_node *n, const struct colref *c, uint64_t hlc,
	 uint64_t origin)
{
	int rc = run(n, colref_stmt(n, ST_OVER_ADD, c, hlc, origin));

	n->over_any = 1;
	return rc < 0 ? rc : 0;
}

int
over_take(struct tsync_node *n, const struct colref *c, uint64_t hlc,
	  uint64_t origin)
{
	/* Almost always empty: skip the lookup (over_scan set the flag). */
	if (!n->over_any)
		return 0;
	return run(n, colref_stmt(n, ST_OVER_DEL, c, hlc, origin));
}

int
over_scan(struct tsync_node *n)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(n->db, "SELECT 1 FROM ts_over LIMIT 1", -1,
				    &s, NULL);

	if (rc != SQLITE_OK)
		return node_sqlerr(n, rc, "conflicts");
	n->over_any = sqlite3_step(s) == SQLITE_ROW;
	sqlite3_finalize(s);
	return 0;
}

void
conflict_id(const char *table, const char *id, size_t idlen, const char *col,
	    uint64_t hlc, uint64_t origin, char out[13])
{
	char buf[600];
	uint8_t h[32];
	int len;

	len = snprintf(buf, sizeof(buf), "%s/%.*s/%s/%llu/%llu", table,
		       (int)idlen, id, col, (unsigned long long)hlc,
		       (unsigned long long)origin);
	if (len < 0)
		len = 0;
	keys_sha256(buf, (size_t)len < sizeof(buf) ? (size_t)len : sizeof(buf),
		    h);
	hex_encode(h, 6, out);
}

/* ---- id clashes ---------------------------------------------------------- */

int
clash_ensure(struct tsync_node *n)
{
	return ts_store_exec(n, "CREATE TABLE IF NOT EXISTS ts_clash(tid INTEGER"
			     " NOT NULL, id TEXT NOT NULL, hlc INTEGER NOT"
			     " NULL, origin INTEGER NOT NULL, scope TEXT NOT"
			     " NULL, kind INTEGER NOT NULL, aside INTEGER NOT"
			     " NULL, body BLOB NOT NULL, PRIMARY KEY(tid, id,"
			     " hlc, origin, scope)) WITHOUT ROWID");
}

int
clash_any(struct tsync_node *n)
{
	sqlite3_stmt *s;
	int any;

	/* No table yet: nothing was ever contested here. */
	if (sqlite3_prepare_v2(n->db, "SELECT 1 FROM ts_clash LIMIT 1", -1, &s,
			       NULL) != SQLITE_OK)
		return 0;
	any = sqlite3_step(s) == SQLITE_ROW;
	sqlite3_finalize(s);
	return any;
}

int
clash_held(struct tsync_node *n, int tid, const char *id, size_t idlen)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(n->db, "SELECT 1 FROM ts_clash WHERE tid = ?1"
				      " AND id = ?2 LIMIT 1", -1, &s,
			       NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_int(s, 1, tid);
	sqlite3_bind_text(s, 2, id, (int)idlen, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : node_sqlerr(n, rc, "id clashes");
}

/*
 * Change i of t as a txn body of its own: t's header, the one table it
 * touches, the change with table index 0.  It decodes like any txn, so a
 * rebuild merges it with the same code as a received txn.
 */
static int
clash_body(const struct txn *t, uint32_t i, struct ts_buf *b)
{
	const msgpack_object *a = t->changes[i].via.array.ptr;
	msgpack_packer pk;
	uint32_t k;

	txn_packer(&pk, b);
	msgpack_pack_array(&pk, 9);
	msgpack_pack_uint8(&pk, TXN_FMT);
	msgpack_pack_uint64(&pk, t->origin);
	msgpack_pack_str_with_body(&pk, t->scope, t->scope_len);
	msgpack_pack_uint64(&pk, t->seq);
	msgpack_pack_bin_with_body(&pk, t->prev, KEYS_HASH_LEN);
	msgpack_pack_uint64(&pk, t->hlc);
	msgpack_pack_uint32(&pk, t->schema);
	msgpack_pack_array(&pk, 1);
	msgpack_pack_object(&pk, t->tables->via.array.ptr[a[0].via.u64]);
	msgpack_pack_array(&pk, 1);
	msgpack_pack_array(&pk, 6);
	msgpack_pack_uint8(&pk, 0);
	for (k = 1; k < 6; k++)
		msgpack_pack_object(&pk, a[k]);
	return b->err != 0 ? TSYNC_ENOMEM : 0;
}

int
clash_put(struct tsync_node *n, int tid, const struct txn *t, uint32_t i)
{
	struct txn_change c;
	struct ts_buf b;
	sqlite3_stmt *s;
	int rc;

	txn_change_at(t, i, &c);
	ts_buf_init(&b, &n->ops, 0);
	if ((rc = clash_body(t, i, &b)) != 0) {
		ts_buf_free(&b);
		return node_err(n, rc, "out of memory");
	}
	rc = sqlite3_prepare_v2(n->db,
				"INSERT OR IGNORE INTO ts_clash(tid, id, hlc,"
				" origin, scope, kind, aside, body) VALUES(?1,"
				" ?2, ?3, ?4, ?5, ?6, 0, ?7)",
				-1, &s, NULL);
	if (rc != SQLITE_OK) {
		ts_buf_free(&b);
		return node_sqlerr(n, rc, "id clashes");
	}
	sqlite3_bind_int(s, 1, tid);
	sqlite3_bind_text(s, 2, c.id, (int)c.id_len, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (int64_t)t->hlc);
	sqlite3_bind_int64(s, 4, (int64_t)t->origin);
	sqlite3_bind_text(s, 5, t->scope, (int)t->scope_len, SQLITE_STATIC);
	sqlite3_bind_int(s, 6, c.kind);
	sqlite3_bind_blob(s, 7, b.p, (int)b.len, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	ts_buf_free(&b);
	return rc == SQLITE_DONE ? 0 : node_sqlerr(n, rc, "id clashes");
}

/* Prepares sql with ?1 = tid, ?2 = id. */
static sqlite3_stmt *
clash_stmt(struct tsync_node *n, const char *sql, int tid, const char *id,
	   size_t idlen)
{
	sqlite3_stmt *s;

	if (sqlite3_prepare_v2(n->db, sql, -1, &s, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_int(s, 1, tid);
	sqlite3_bind_text(s, 2, id, (int)idlen, SQLITE_TRANSIENT);
	return s;
}

int
clash_owner(struct tsync_node *n, int tid, const char *id, size_t idlen,
	    char *out, size_t outlen)
{
	sqlite3_stmt *s;
	int rc;

	out[0] = '\0';
	/* Valid versions lie below 2^63: SQLite's order is version_cmp's. */
	s = clash_stmt(n, "SELECT scope FROM ts_clash WHERE tid = ?1 AND"
			  " id = ?2 ORDER BY hlc, origin, scope LIMIT 1",
		       tid, id, idlen);
	if (s == NULL)
		return node_sqlerr(n, sqlite3_errcode(n->db), "id clashes");
	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		ts_fmt(out, outlen, "%s", sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return node_sqlerr(n, rc, "id clashes");
	s = clash_stmt(n, "UPDATE ts_clash SET aside = (scope <> ?3) WHERE"
			  " tid = ?1 AND id = ?2 AND aside <> (scope <> ?3)",
		       tid, id, idlen);
	if (s == NULL)
		return node_sqlerr(n, sqlite3_errcode(n->db), "id clashes");
	sqlite3_bind_text(s, 3, out, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : node_sqlerr(n, rc, "id clashes");
}

/* One scope's kept changes of a contested id, summed up. */
struct claim {
	char scope[SCOPE_MAX + 1];
	uint64_t hlc, origin; /* its earliest change */
	int live; /* its latest insert or delete is an insert */
};

static int
clash_head_put(struct tsync_node *n, int tid, const char *id, size_t idlen,
	       const struct claim *c)
{
	sqlite3_stmt *s = clash_stmt(n, "INSERT OR IGNORE INTO ts_heads(tid,"
				        " id, col, hlc, origin, val) VALUES(?1,"
				        " ?2, 1, ?3, ?4, ?5)",
				     tid, id, idlen);
	int rc;

	if (s == NULL)
		return node_sqlerr(n, sqlite3_errcode(n->db), "id clashes");
	sqlite3_bind_int64(s, 3, (int64_t)c->hlc);
	sqlite3_bind_int64(s, 4, (int64_t)c->origin);
	sqlite3_bind_text(s, 5, c->scope, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : node_sqlerr(n, rc, "id clashes");
}

int
clash_heads(struct tsync_node *n, int tid, const char *id, size_t idlen)
{
	struct claim cur;
	sqlite3_stmt *s;
	char owner[SCOPE_MAX + 1];
	int rc, have = 0;

	if ((rc = clash_owner(n, tid, id, idlen, owner, sizeof(owner))) != 0)
		return rc;
	s = clash_stmt(n, "DELETE FROM ts_heads WHERE tid = ?1 AND id = ?2"
			  " AND col = 1", tid, id, idlen);
	if (s == NULL)
		return node_sqlerr(n, sqlite3_errcode(n->db), "id clashes");
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return node_sqlerr(n, rc, "id clashes");
	s = clash_stmt(n, "SELECT scope, hlc, origin, kind FROM ts_clash WHERE"
			  " tid = ?1 AND id = ?2 AND aside ORDER BY scope,"
			  " hlc, origin", tid, id, idlen);
	if (s == NULL)
		return node_sqlerr(n, sqlite3_errcode(n->db), "id clashes");
	memset(&cur, 0, sizeof(cur));
	rc = 0;
	while (rc == 0 && sqlite3_step(s) == SQLITE_ROW) {
		const char *sc = (const char *)sqlite3_column_text(s, 0);
		uint64_t h = (uint64_t)sqlite3_column_int64(s, 1);
		uint64_t o = (uint64_t)sqlite3_column_int64(s, 2);
		int kind = sqlite3_column_int(s, 3);

		if (!have || strcmp(sc, cur.scope) != 0) {
			if (have && cur.live)
				rc = clash_head_put(n, tid, id, idlen, &cur);
			memset(&cur, 0, sizeof(cur));
			ts_fmt(cur.scope, sizeof(cur.scope), "%s", sc);
			cur.hlc = h;
			cur.origin = o;
			have = 1;
		}
		if (kind != TXN_UPDATE) /* rows come in version order */
			cur.live = kind == TXN_INSERT;
	}
	sqlite3_finalize(s);
	if (rc == 0 && have && cur.live)
		rc = clash_head_put(n, tid, id, idlen, &cur);
	return rc;
}

/* ---- listing and settling (public) ------------------------------------ */

/* Column i of s as text, or as its bytes if it is a blob; NULL if NULL. */
static const char *
conflict_value(sqlite3_stmt *s, int i, size_t *len, int *blob)
{
	const char *v;

	*blob = sqlite3_column_type(s, i) == SQLITE_BLOB;
	if (*blob)
		v = sqlite3_column_blob(s, i);
	else
		v = (const char *)sqlite3_column_text(s, i);
	*len = (size_t)sqlite3_column_bytes(s, i);
	if (v == NULL && *blob)
		v = ""; /* a blob of no bytes */
	return v;
}

/* What the listing names as the column of an id clash. */
#define CLASH_COLUMN "scope (id used by two scopes: the other's record " \
		     "is kept aside)"

/*
 * An id clash as a conflict (ts_heads, col 1): "mine" is the scope that
 * owns the id (its earliest change), "theirs" the other scope, named by
 * its earliest change.  Returns cb's result, or <0 on error.
 */
static int
clash_entry(struct tsync_node *n, const struct tbl *t, sqlite3_stmt *h,
	    struct tsync_conflict *c, tsync_conflict_cb cb, void *arg)
{
	const char *id = (const char *)sqlite3_column_text(h, 1);
	sqlite3_stmt *o = NULL, *live = NULL;
	char sql[512];
	int rc;

	c->table = t->name;
	c->row = id;
	c->column = CLASH_COLUMN;
	c->theirs_hlc = (uint64_t)sqlite3_column_int64(h, 3);
	id_format((uint64_t)sqlite3_column_int64(h, 4), c->theirs_origin);
	c->theirs = conflict_value(h, 5, &c->theirs_len, &c->theirs_blob);
	conflict_id(t->name, id, strlen(id), "scope", c->theirs_hlc,
		    (uint64_t)sqlite3_column_int64(h, 4), c->id);
	id_format(0, c->mine_origin);
	o = clash_stmt(n, "SELECT scope, hlc, origin FROM ts_clash WHERE"
			  " tid = ?1 AND id = ?2 ORDER BY hlc, origin, scope"
			  " LIMIT 1", t->tid, id, strlen(id));
	if (o != NULL && sqlite3_step(o) == SQLITE_ROW) {
		c->mine = conflict_value(o, 0, &c->mine_len, &c->mine_blob);
		c->mine_hlc = (uint64_t)sqlite3_column_int64(o, 1);
		id_format((uint64_t)sqlite3_column_int64(o, 2), c->mine_origin);
	}
	snprintf(sql, sizeof(sql), "SELECT 1 FROM \"%s\" WHERE id = ?1",
		 t->name);
	if (sqlite3_prepare_v2(n->db, sql, -1, &live, NULL) == SQLITE_OK) {
		sqlite3_bind_text(live, 1, id, -1, SQLITE_STATIC);
		c->row_deleted = sqlite3_step(live) != SQLITE_ROW;
	}
	rc = cb(arg, c);
	sqlite3_finalize(live);
	sqlite3_finalize(o);
	return rc != 0 ? 1 : 0;
}

int
tsync_node_conflicts(struct tsync_node *n, tsync_conflict_cb cb, void *arg)
{
	sqlite3_stmt *s, *cur = NULL;
	struct tsync_conflict c;
	int rc;

	rc = sqlite3_prepare_v2(n->db,
				"SELECT h.tid, h.id, h.col, h.hlc, h.origin,"
				" h.val, v.vers FROM ts_heads h LEFT JOIN ts_ver"
				" v ON v.tid = h.tid AND v.id = h.id"
				" ORDER BY h.tid, h.id, h.col, h.hlc, h.origin",
				-1, &s, NULL);
	if (rc != SQLITE_OK)
		return node_sqlerr(n, rc, "list conflicts");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const struct tbl *t = ts_store_table_tid(n, sqlite3_column_int(s, 0));
		const char *id = (const char *)sqlite3_column_text(s, 1);
		int col = sqlite3_column_int(s, 2);
		uint8_t vers[16 * TBL_MAX_COLS];
		uint64_t wh = 0, wo = 0;
		char sql[512];

		if (t == NULL || col < 1 || col >= t->ncol)
			continue;
		memset(&c, 0, sizeof(c));
		if (col == 1) {
			rc = clash_entry(n, t, s, &c, cb, arg);
			if (rc < 0)
				break;
			if (rc > 0) {
				rc = SQLITE_DONE;
				break;
			}
			continue;
		}
		if (sqlite3_column_type(s, 6) != SQLITE_NULL &&
		    ver_unpack(sqlite3_column_blob(s, 6),
			       (size_t)sqlite3_column_bytes(s, 6), vers,
			       t->ncol) == 0)
			ver_get(vers, t->ncol, col, &wh, &wo);
		c.table = t->name;
		c.row = id;
		c.column = t->cols[col];
		c.theirs_hlc = (uint64_t)sqlite3_column_int64(s, 3);
		id_format((uint64_t)sqlite3_column_int64(s, 4), c.theirs_origin);
		c.theirs = conflict_value(s, 5, &c.theirs_len, &c.theirs_blob);
		c.mine_hlc = wh;
		id_format(wo, c.mine_origin);
		conflict_id(t->name, id, strlen(id), t->cols[col],
			    c.theirs_hlc, (uint64_t)sqlite3_column_int64(s, 4),
			    c.id);
		snprintf(sql, sizeof(sql), "SELECT \"%s\" FROM \"%s\" WHERE"
			 " id = ?1", t->cols[col], t->name);
		if (sqlite3_prepare_v2(n->db, sql, -1, &cur, NULL) == SQLITE_OK) {
			sqlite3_bind_text(cur, 1, id, -1, SQLITE_STATIC);
			if (sqlite3_step(cur) == SQLITE_ROW)
				c.mine = conflict_value(cur, 0, &c.mine_len,
							&c.mine_blob);
			else
				c.row_deleted = 1;
		}
		rc = cb(arg, &c);
		sqlite3_finalize(cur);
		cur = NULL;
		if (rc != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : node_sqlerr(n, rc, "list conflicts");
}

struct found {
	const char *want;
	int tid, col;
	char row[256];
	uint64_t hlc, origin;
	int hit;
};

/* Finds the head behind a conflict id. */
static int
find_head(struct tsync_node *n, struct found *f)
{
	sqlite3_stmt *s;
	int rc;

	rc = sqlite3_prepare_v2(n->db, "SELECT tid, id, col, hlc, origin FROM"
				       " ts_heads", -1, &s, NULL);
	if (rc != SQLITE_OK)
		return node_sqlerr(n, rc, "find conflict");
	while (!f->hit && sqlite3_step(s) == SQLITE_ROW) {
		const struct tbl *t = ts_store_table_tid(n, sqlite3_column_int(s, 0));
		const char *id = (const char *)sqlite3_column_text(s, 1);
		int col = sqlite3_column_int(s, 2);
		char cid[13];

		if (t == NULL || col < 1 || col >= t->ncol)
			continue;
		conflict_id(t->name, id, strlen(id), t->cols[col],
			    (uint64_t)sqlite3_column_int64(s, 3),
			    (uint64_t)sqlite3_column_int64(s, 4), cid);
		if (strcmp(cid, f->want) != 0)
			continue;
		f->hit = 1;
		f->tid = t->tid;
		f->col = col;
		ts_fmt(f->row, sizeof(f->row), "%s", id);
		f->hlc = (uint64_t)sqlite3_column_int64(s, 3);
		f->origin = (uint64_t)sqlite3_column_int64(s, 4);
	}
	sqlite3_finalize(s);
	return 0;
}

int
tsync_node_resolve(struct tsync_node *n, const char *cid, int how,
		   const char *value)
{
	struct found f;
	const struct tbl *t;
	sqlite3_stmt *s;
	char sql[512];
	int rc;

	memset(&f, 0, sizeof(f));
	f.want = cid;
	if ((rc = find_head(n, &f)) != 0)
		return rc;
	if (!f.hit)
		return node_err(n, TSYNC_ENOENT, "no open conflict %s (see "
						 "`tiersync conflicts DIR list`)",
				cid);
	t = ts_store_table_tid(n, f.tid);
	if (f.col == 1)
		return node_err(n, TSYNC_EINVAL,
				"%s is an id used by two scopes: row %s/%s "
				"belongs to the scope that wrote it first, and "
				"the other scope's record with that id is kept "
				"aside on every node that sees both.  It is not "
				"settled here: in the other scope, enter that "
				"record again under a new id and delete %s "
				"there; the clash then clears everywhere",
				cid, t->name, f.row, f.row);
	if ((rc = tsync_node_begin(n)) != 0)
		return rc;
	if (how == TSYNC_KEEP_THEIRS)
		snprintf(sql, sizeof(sql),
			 "UPDATE \"%s\" SET \"%s\" = (SELECT val FROM ts_heads"
			 " WHERE tid = ?2 AND id = ?1 AND col = ?3 AND hlc = ?4"
			 " AND origin = ?5) WHERE id = ?1",
			 t->name, t->cols[f.col]);
	else if (how == TSYNC_KEEP_VALUE)
		snprintf(sql, sizeof(sql),
			 "UPDATE \"%s\" SET \"%s\" = ?6 WHERE id = ?1", t->name,
			 t->cols[f.col]);
	else
		snprintf(sql, sizeof(sql), "SELECT 1 FROM \"%s\" WHERE id = ?1",
			 t->name);
	rc = sqlite3_prepare_v2(n->db, sql, -1, &s, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(s, 1, f.row, -1, SQLITE_STATIC);
		if (how == TSYNC_KEEP_THEIRS) {
			sqlite3_bind_int(s, 2, f.tid);
			sqlite3_bind_int(s, 3, f.col);
			sqlite3_bind_int64(s, 4, (int64_t)f.hlc);
			sqlite3_bind_int64(s, 5, (int64_t)f.origin);
		} else if (how == TSYNC_KEEP_VALUE) {
			sqlite3_bind_text(s, 6, value ? value : "", -1,
					  SQLITE_STATIC);
		}
		/* Keeping a value already held is not a new entry: the
		 * domain rules judge new values only (domain/schema.c). */
		n->cap.lax = how != TSYNC_KEEP_VALUE;
		rc = sqlite3_step(s);
		n->cap.lax = 0;
		rc = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0
							   : node_sqlerr(n, rc,
									 "resolve");
		sqlite3_finalize(s);
	} else {
		rc = node_sqlerr(n, rc, "resolve");
	}
	if (rc == 0)
		rc = capture_settle(n, f.tid, f.row, f.col, f.hlc, f.origin);
	if (rc != 0) {
		tsync_node_rollback(n); /* keeps the failure's message */
		return rc;
	}
	return tsync_node_commit(n);
}
