/*
 * capture.c - change capture: turns every local write to a replicated
 * table into per-column changes, and at commit into one signed txn per
 * scope, appended to the stream (this node, scope) in the same SQLite
 * transaction as the data.
 *
 * How: SQLite's pre-update hook reports each row change with its old and
 * new values.  The hook only records (it may not write the database); the
 * commit then folds repeated changes of one row, reads each row's column
 * versions from ts_ver, picks the txn HLC (greater than every version it
 * overwrites, so a node whose clock runs behind still wins over what it
 * has seen), encodes, hashes, signs and appends.
 *
 * Invariants: writes made while cap.applying is set (merge.c) are not
 * captured; a capture error poisons the transaction (capture_commit fails
 * and the caller rolls back), so nothing half-captured is ever committed.
 */
#define _GNU_SOURCE
/* Debian's libsqlite3 is built with the pre-update hook; node_open checks. */
#define SQLITE_ENABLE_PREUPDATE_HOOK 1
#include <stdlib.h>
#include <string.h>

#include "conflict.h"
#include "heads.h"
#include "node_int.h"
#include "scope.h"
#include "txn.h"

#define CAP_ARENA_MAX (64u << 20)

static int
cap_fail(struct capture *c, int code, const char *msg, const char *id)
{
	if (c->err == 0) {
		c->err = code;
		ts_fmt(c->errmsg, sizeof(c->errmsg), "%s%s%s", msg,
		       id ? ": row " : "", id ? id : "");
	}
	return code;
}

static int
val_eq(sqlite3_value *a, sqlite3_value *b)
{
	int t = sqlite3_value_type(a);

	if (t != sqlite3_value_type(b))
		return 0;
	switch (t) {
	case SQLITE_INTEGER:
		return sqlite3_value_int64(a) == sqlite3_value_int64(b);
	case SQLITE_FLOAT:
		return sqlite3_value_double(a) == sqlite3_value_double(b);
	case SQLITE_TEXT:
	case SQLITE_BLOB: {
		const void *pa = t == SQLITE_TEXT
					 ? (const void *)sqlite3_value_text(a)
					 : sqlite3_value_blob(a);
		const void *pb = t == SQLITE_TEXT
					 ? (const void *)sqlite3_value_text(b)
					 : sqlite3_value_blob(b);
		int na = sqlite3_value_bytes(a);

		return na == sqlite3_value_bytes(b) &&
		       (na == 0 || memcmp(pa, pb, (size_t)na) == 0);
	}
	default:
		return 1;
	}
}

/* Appends the text of `v` to the arena; off/len receive its place. */
static int
arena_text(struct capture *c, sqlite3_value *v, uint32_t *off, uint32_t *len)
{
	const unsigned char *s;
	int n;

	if (sqlite3_value_type(v) != SQLITE_TEXT)
		return TSYNC_EINVAL;
	s = sqlite3_value_text(v);
	n = sqlite3_value_bytes(v);
	*off = (uint32_t)c->arena.len;
	*len = (uint32_t)n;
	return ts_buf_put(&c->arena, s, (size_t)n);
}

static int
arena_value(struct capture *c, sqlite3_value *v, uint32_t *slot)
{
	msgpack_packer pk;
	size_t start = c->arena.len;

	txn_packer(&pk, &c->arena);
	if (txn_pack_value(&pk, v) != 0)
		return TSYNC_ENOMEM;
	slot[0] = (uint32_t)start + 1;
	slot[1] = (uint32_t)(c->arena.len - start);
	return 0;
}

static struct cap_change *
cap_new(struct capture *c, int ncol)
{
	struct cap_change *ch;

	if (c->nch == c->capch) {
		uint32_t cap = c->capch ? c->capch * 2 : 64;
		void *p = realloc(c->ch, sizeof(*c->ch) * cap);

		if (p == NULL)
			return NULL;
		c->ch = p;
		c->capch = cap;
	}
	if (c->noffs + 2u * (uint32_t)ncol > c->capoffs) {
		uint32_t cap = c->capoffs ? c->capoffs : 512;
		void *p;

		while (c->noffs + 2u * (uint32_t)ncol > cap)
			cap *= 2;
		p = realloc(c->offs, sizeof(*c->offs) * cap);
		if (p == NULL)
			return NULL;
		c->offs = p;
		c->capoffs = cap;
	}
	ch = &c->ch[c->nch];
	memset(ch, 0, sizeof(*ch));
	ch->order = c->nch++;
	ch->vals_off = c->noffs;
	memset(c->offs + c->noffs, 0, sizeof(*c->offs) * 2u * (uint32_t)ncol);
	c->noffs += 2u * (uint32_t)ncol;
	return ch;
}

static int
record_delete(struct capture *c, sqlite3 *db, struct cap_change *ch, int ncol)
{
	msgpack_packer pk;
	sqlite3_value *v;
	size_t start;
	int i;

	txn_packer(&pk, &c->arena);
	start = c->arena.len;
	msgpack_pack_array(&pk, (size_t)ncol);
	for (i = 0; i < ncol; i++) {
		if (sqlite3_preupdate_old(db, i, &v) != SQLITE_OK ||
		    txn_pack_value(&pk, v) != 0)
			return TSYNC_ENOMEM;
	}
	ch->dead_off = (uint32_t)start;
	ch->dead_len = (uint32_t)(c->arena.len - start);
	return 0;
}

static int
record_new(struct capture *c, sqlite3 *db, struct cap_change *ch, int ncol,
	   int is_update)
{
	sqlite3_value *nv, *ov;
	int i;

	for (i = 2; i < ncol; i++) {
		if (sqlite3_preupdate_new(db, i, &nv) != SQLITE_OK)
			return TSYNC_ENOMEM;
		if (is_update) {
			if (sqlite3_preupdate_old(db, i, &ov) != SQLITE_OK)
				return TSYNC_ENOMEM;
			if (val_eq(ov, nv))
				continue;
		}
		ch->mask |= 1ULL << i;
		if (arena_value(c, nv, c->offs + ch->vals_off + 2 * i) != 0)
			return TSYNC_ENOMEM;
	}
	return 0;
}

static void
cap_record(struct tsync_node *n, struct tbl *t, sqlite3 *db, int op)
{
	struct capture *c = &n->cap;
	struct cap_change *ch;
	sqlite3_value *id, *scope, *oid, *oscope;
	int rc;

	if (sqlite3_preupdate_count(db) != t->ncol) {
		cap_fail(c, TSYNC_EINVAL, "table changed shape", t->name);
		return;
	}
	ch = cap_new(c, t->ncol);
	if (ch == NULL) {
		cap_fail(c, TSYNC_ENOMEM, "out of memory capturing", NULL);
		return;
	}
	ch->tid = (uint32_t)t->tid;
	/* These allocate, and leave the value unset when they fail. */
	if (op == SQLITE_DELETE) {
		rc = sqlite3_preupdate_old(db, 0, &id);
		if (rc == SQLITE_OK)
			rc = sqlite3_preupdate_old(db, 1, &scope);
	} else {
		rc = sqlite3_preupdate_new(db, 0, &id);
		if (rc == SQLITE_OK)
			rc = sqlite3_preupdate_new(db, 1, &scope);
	}
	if (rc != SQLITE_OK) {
		cap_fail(c, TSYNC_ENOMEM, "out of memory capturing", NULL);
		return;
	}
	if (c->arena.err != 0) {
		cap_fail(c, TSYNC_EINVAL, "transaction too large: split it",
			 NULL);
		return;
	}
	if (arena_text(c, id, &ch->id_off, &ch->id_len) != 0 ||
	    ch->id_len == 0) {
		cap_fail(c, TSYNC_EINVAL, "id must be non-empty text", NULL);
		return;
	}
	if (arena_text(c, scope, &ch->scope_off, &ch->scope_len) != 0) {
		cap_fail(c, TSYNC_EINVAL, "scope must be text", NULL);
		return;
	}
	if (op == SQLITE_UPDATE) {
		if (sqlite3_preupdate_old(db, 0, &oid) != SQLITE_OK ||
		    sqlite3_preupdate_old(db, 1, &oscope) != SQLITE_OK) {
			cap_fail(c, TSYNC_ENOMEM, "out of memory capturing",
				 NULL);
			return;
		}
		if (!val_eq(oid, id) || !val_eq(oscope, scope)) {
			cap_fail(c, TSYNC_EINVAL,
				 "the id and scope of a row cannot change; "
				 "delete it and insert a new row",
				 (const char *)sqlite3_value_text(oid));
			return;
		}
	}
	switch (op) {
	case SQLITE_INSERT:
		ch->kind = TXN_INSERT;
		rc = record_new(c, db, ch, t->ncol, 0);
		break;
	case SQLITE_UPDATE:
		ch->kind = TXN_UPDATE;
		rc = record_new(c, db, ch, t->ncol, 1);
		break;
	default:
		ch->kind = TXN_DELETE;
		rc = record_delete(c, db, ch, t->ncol);
		break;
	}
	if (rc != 0)
		cap_fail(c, rc, "out of memory capturing", NULL);
	else if (ch->kind == TXN_UPDATE && ch->mask == 0)
		c->nch--; /* an update that changed nothing */
}

static void
on_preupdate(void *arg, sqlite3 *db, int op, const char *zdb,
	     const char *ztab, sqlite3_int64 k1, sqlite3_int64 k2)
{
	struct tsync_node *n = arg;
	struct tbl *t;

	(void)k1;
	(void)k2;
	if (n->cap.applying || strcmp(zdb, "main") != 0)
		return;
	t = ts_store_table(n, ztab, strlen(ztab));
	if (t == NULL)
		return;
	if (!n->cap.active) {
		n->cap.stray = 1; /* on_commit turns the commit into a rollback */
		return;
	}
	if (n->cap.err == 0)
		cap_record(n, t, db, op);
}

/* Denies user SQL writes to engine tables and DDL on replicated ones. */
static int
on_authorize(void *arg, int action, const char *a, const char *b,
	     const char *zdb, const char *trigger)
{
	struct tsync_node *n = arg;
	const char *tbl = NULL;

	(void)zdb;
	(void)trigger;
	if (n->cap.applying || !n->cap.active)
		return SQLITE_OK;
	switch (action) {
	case SQLITE_TRANSACTION:
	case SQLITE_SAVEPOINT:
		/* The node owns the transaction: a nested ROLLBACK TO would
		 * undo data whose capture was already recorded. */
		return SQLITE_DENY;
	case SQLITE_INSERT:
	case SQLITE_UPDATE:
	case SQLITE_DELETE:
		if (a != NULL && strncmp(a, "ts_", 3) == 0)
			return SQLITE_DENY;
		return SQLITE_OK;
	case SQLITE_DROP_TABLE:
	case SQLITE_ALTER_TABLE:
	case SQLITE_CREATE_TRIGGER:
	case SQLITE_DROP_INDEX:
		tbl = action == SQLITE_ALTER_TABLE ? b : a;
		if (action == SQLITE_CREATE_TRIGGER ||
		    action == SQLITE_DROP_INDEX)
			tbl = b;
		break;
	default:
		return SQLITE_OK;
	}
	if (tbl != NULL && (strncmp(tbl, "ts_", 3) == 0 ||
			    ts_store_table(n, tbl, strlen(tbl)) != NULL))
		return SQLITE_DENY;
	return SQLITE_OK;
}

/*
 * Refuses to commit a write to a replicated table made outside
 * tsync_node_begin/commit (through tsync_node_db()): it was not captured,
 * so committing it would put rows in the tables that no txn explains.
 */
static int
on_commit(void *arg)
{
	struct tsync_node *n = arg;

	if (n->cap.stray) {
		n->cap.stray = 0;
		return 1;
	}
	return 0;
}

static void
on_rollback(void *arg)
{
	((struct tsync_node *)arg)->cap.stray = 0;
}

int
capture_install(struct tsync_node *n)
{
	if (!sqlite3_compileoption_used("ENABLE_PREUPDATE_HOOK"))
		return node_err(n, TSYNC_EINVAL,
				"this libsqlite3 lacks the pre-update hook; "
				"install Debian's libsqlite3-0");
	ts_buf_init(&n->cap.arena, &n->ops, CAP_ARENA_MAX);
	sqlite3_preupdate_hook(n->db, on_preupdate, n);
	sqlite3_set_authorizer(n->db, on_authorize, n);
	sqlite3_commit_hook(n->db, on_commit, n);
	sqlite3_rollback_hook(n->db, on_rollback, n);
	return 0;
}

void
capture_reset(struct tsync_node *n)
{
	struct capture *c = &n->cap;

	c->active = 0;
	c->err = 0;
	c->errmsg[0] = '\0';
	c->nch = 0;
	c->noffs = 0;
	c->nsettle = 0;
	c->arena.len = 0;
	c->arena.err = 0;
	/* Give back memory after a very large transaction. */
	if (c->arena.cap > (4u << 20)) {
		ts_buf_free(&c->arena);
		free(c->offs);
		free(c->ch);
		c->offs = NULL;
		c->ch = NULL;
		c->capoffs = c->capch = 0;
	}
}

void
capture_free(struct tsync_node *n)
{
	ts_buf_free(&n->cap.arena);
	free(n->cap.offs);
	free(n->cap.ch);
	free(n->cap.settle);
	memset(&n->cap, 0, sizeof(n->cap));
}

/* ---- Commit: fold, version, encode, sign, append --------------------- */

/* A ts_ver row read ahead (ver_prefetch); offsets into commit.pre. */
struct pre_row {
	uint32_t id_off, id_len, vers_off, vers_len, dead_off;
	int32_t dead_len; /* -1: NULL (a live row) */
};

struct commit {
	struct tsync_node *n;
	struct cap_change **sorted;
	uint32_t nsorted;
	uint8_t *vers;   /* `stride` bytes per change: its row versions */
	size_t stride;
	uint64_t hlc;
	struct ts_buf body;
	/* ver_prefetch: the ts_ver rows of the commit's id range, by tid */
	struct ts_buf pre;
	struct pre_row *prow;
	uint32_t nprow, capprow;
	uint32_t pre_from[TBL_MAX_TABLES + 1], pre_to[TBL_MAX_TABLES + 1];
	uint8_t pre_done[TBL_MAX_TABLES + 1]; /* 1: prow holds tid's rows */
};

static int
cmp_bytes(const uint8_t *a, uint32_t na, const uint8_t *b, uint32_t nb)
{
	int r = memcmp(a, b, na < nb ? na : nb);

	if (r != 0)
		return r;
	return na < nb ? -1 : na > nb;
}

/* Orders changes by row (table, id) and then by when they happened. */
static int
cmp_row(const void *pa, const void *pb, void *arg)
{
	const struct cap_change *a = *(struct cap_change *const *)pa;
	const struct cap_change *b = *(struct cap_change *const *)pb;
	const uint8_t *base = ((const struct capture *)arg)->arena.p;
	int r = 0;

	if (a->tid != b->tid)
		r = a->tid < b->tid ? -1 : 1;
	if (r == 0)
		r = cmp_bytes(base + a->id_off, a->id_len, base + b->id_off,
			      b->id_len);
	if (r == 0)
		r = a->order < b->order ? -1 : a->order > b->order;
	return r;
}

/* Orders changes by scope, then as cmp_row(). */
static int
cmp_change(const void *pa, const void *pb, void *arg)
{
	const struct cap_change *a = *(struct cap_change *const *)pa;
	const struct cap_change *b = *(struct cap_change *const *)pb;
	const uint8_t *base = ((const struct capture *)arg)->arena.p;
	int r = cmp_bytes(base + a->scope_off, a->scope_len,
			  base + b->scope_off, b->scope_len);

	return r != 0 ? r : cmp_row(pa, pb, arg);
}

static int
same_row(const struct capture *c, const struct cap_change *a,
	 const struct cap_change *b)
{
	return a->tid == b->tid && a->id_len == b->id_len &&
	       memcmp(c->arena.p + a->id_off, c->arena.p + b->id_off,
		      a->id_len) == 0;
}

/* Folds the changes of one row (sorted[i..j)) into sorted[i]. */
static void
fold_row(struct capture *c, struct cap_change **s, uint32_t i, uint32_t j,
	 int ncol)
{
	struct cap_change *f = s[i];
	uint32_t k;
	int col;

	for (k = i + 1; k < j; k++) {
		struct cap_change *g = s[k];

		if (g->kind == TXN_INSERT || g->kind == TXN_DELETE) {
			f->kind = g->kind;
			f->mask = 0;
			memset(c->offs + f->vals_off, 0,
			       sizeof(*c->offs) * 2u * (uint32_t)ncol);
			f->dead_off = g->dead_off;
			f->dead_len = g->dead_len;
		} else if (f->kind == TXN_DELETE) {
			f->kind = TXN_UPDATE;
		}
		for (col = 2; col < ncol; col++) {
			if (!(g->mask >> col & 1))
				continue;
			c->offs[f->vals_off + 2 * col] =
				c->offs[g->vals_off + 2 * col];
			c->offs[f->vals_off + 2 * col + 1] =
				c->offs[g->vals_off + 2 * col + 1];
			f->mask |= 1ULL << col;
		}
	}
}

/* 1 if the stored values of a dead row (msgpack array) have this scope. */
static int
dead_scope_is(const void *blob, size_t len, const uint8_t *scope,
	      uint32_t slen)
{
	msgpack_unpacked up;
	size_t off = 0;
	int ok = 1;

	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, blob, len, &off) ==
		    MSGPACK_UNPACK_SUCCESS &&
	    up.data.type == MSGPACK_OBJECT_ARRAY &&
	    up.data.via.array.size >= 2 &&
	    up.data.via.array.ptr[1].type == MSGPACK_OBJECT_STR)
		ok = up.data.via.array.ptr[1].via.str.size == slen &&
		     memcmp(up.data.via.array.ptr[1].via.str.ptr, scope,
			    slen) == 0;
	msgpack_unpacked_destroy(&up);
	return ok;
}

/* Takes a ts_ver row (vers, and dead or NULL) of ch into vers. */
static int
take_versions(struct tsync_node *n, const struct tbl *t,
	      const struct cap_change *ch, const void *vb, size_t vlen,
	      const void *db, int dlen, uint8_t *vers)
{
	if (ver_unpack(vb, vlen, vers, t->ncol) != 0)
		return node_err(n, TSYNC_ECORRUPT,
				"versions of row %s/%.*s are corrupt", t->name,
				(int)ch->id_len, n->cap.arena.p + ch->id_off);
	if (dlen >= 0 && !dead_scope_is(db, (size_t)dlen,
					n->cap.arena.p + ch->scope_off,
					ch->scope_len))
		return node_err(n, TSYNC_EINVAL,
				"row %.*s was in another scope; the id and "
				"scope of a row cannot change",
				(int)ch->id_len, n->cap.arena.p + ch->id_off);
	return 0;
}

/*
 * Reads ahead, for each table the commit writes many rows of, the
 * ts_ver rows whose ids lie between the commit's least and greatest id
 * of that table: one range scan instead of a lookup a row.  A range that
 * holds more than twice the commit's rows (ids spread over the table) is
 * left to the lookups.  Only an optimisation: on any error the lookups
 * stand.
 */
static void
ver_prefetch(struct commit *cm)
{
	struct tsync_node *n = cm->n;
	const uint8_t *a = n->cap.arena.p;
	uint32_t cnt[TBL_MAX_TABLES + 1] = {0}, lo[TBL_MAX_TABLES + 1],
		 hi[TBL_MAX_TABLES + 1], k;
	sqlite3_stmt *s = NULL;
	int tid;

	if (cm->nsorted < 64)
		return;
	for (k = 0; k < cm->nsorted; k++) {
		const struct cap_change *c = cm->sorted[k];

		if (c->tid > TBL_MAX_TABLES)
			return;
		if (cnt[c->tid] == 0 ||
		    cmp_bytes(a + c->id_off, c->id_len,
			      a + cm->sorted[lo[c->tid]]->id_off,
			      cm->sorted[lo[c->tid]]->id_len) < 0)
			lo[c->tid] = k;
		if (cnt[c->tid] == 0 ||
		    cmp_bytes(a + c->id_off, c->id_len,
			      a + cm->sorted[hi[c->tid]]->id_off,
			      cm->sorted[hi[c->tid]]->id_len) > 0)
			hi[c->tid] = k;
		cnt[c->tid]++;
	}
	if (sqlite3_prepare_v2(n->db, "SELECT id, vers, dead FROM ts_ver"
				      " WHERE tid = ?1 AND id >= ?2 AND"
				      " id <= ?3 ORDER BY id LIMIT ?4",
			       -1, &s, NULL) != SQLITE_OK)
		return;
	ts_buf_init(&cm->pre, &n->ops, 0);
	for (tid = 1; tid <= TBL_MAX_TABLES; tid++) {
		const struct cap_change *l, *h;
		uint32_t from = cm->nprow, got = 0;
		int rc;

		if (cnt[tid] < 64)
			continue;
		l = cm->sorted[lo[tid]];
		h = cm->sorted[hi[tid]];
		sqlite3_bind_int(s, 1, tid);
		sqlite3_bind_text(s, 2, (const char *)a + l->id_off,
				  (int)l->id_len, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, (const char *)a + h->id_off,
				  (int)h->id_len, SQLITE_STATIC);
		sqlite3_bind_int64(s, 4, 2 * (int64_t)cnt[tid] + 1);
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			struct pre_row *r;

			if (cm->nprow == cm->capprow) {
				uint32_t cap = cm->capprow ? cm->capprow * 2
							   : 256;
				void *p = realloc(cm->prow, sizeof(*r) * cap);

				if (p == NULL)
					break;
				cm->prow = p;
				cm->capprow = cap;
			}
			r = &cm->prow[cm->nprow];
			r->id_off = (uint32_t)cm->pre.len;
			r->id_len = (uint32_t)sqlite3_column_bytes(s, 0);
			ts_buf_put(&cm->pre, sqlite3_column_text(s, 0), r->id_len);
			r->vers_off = (uint32_t)cm->pre.len;
			r->vers_len = (uint32_t)sqlite3_column_bytes(s, 1);
			ts_buf_put(&cm->pre, sqlite3_column_blob(s, 1),
				r->vers_len);
			r->dead_off = (uint32_t)cm->pre.len;
			r->dead_len = sqlite3_column_type(s, 2) == SQLITE_NULL
					      ? -1
					      : sqlite3_column_bytes(s, 2);
			if (r->dead_len > 0)
				ts_buf_put(&cm->pre, sqlite3_column_blob(s, 2),
					(size_t)r->dead_len);
			cm->nprow++;
			got++;
		}
		sqlite3_reset(s);
		if (rc == SQLITE_DONE && cm->pre.err == 0 &&
		    got <= 2 * cnt[tid]) {
			cm->pre_from[tid] = from;
			cm->pre_to[tid] = cm->nprow;
			cm->pre_done[tid] = 1;
		} else {
			cm->nprow = from; /* this table: the lookups */
		}
	}
	sqlite3_finalize(s);
}

/* The read-ahead row of ch, or NULL; *known says whether it was read. */
static const struct pre_row *
ver_prefetched(const struct commit *cm, const struct cap_change *ch,
	       int *known)
{
	const uint8_t *a = cm->n->cap.arena.p;
	uint32_t lo, hi;

	*known = ch->tid <= TBL_MAX_TABLES && cm->pre_done[ch->tid];
	if (!*known)
		return NULL;
	lo = cm->pre_from[ch->tid];
	hi = cm->pre_to[ch->tid];
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct pre_row *r = &cm->prow[mid];
		int c = cmp_bytes(a + ch->id_off, ch->id_len,
				  cm->pre.p + r->id_off, r->id_len);

		if (c == 0)
			return r;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* Reads the row's versions into slot; returns the largest it overwrites. */
static int
read_versions(struct commit *cm, struct cap_change *ch, uint8_t *vers,
	      uint64_t *maxprev)
{
	struct tsync_node *n = cm->n;
	sqlite3_stmt *s;
	const struct tbl *t = ts_store_table_tid(n, (int)ch->tid);
	const struct pre_row *pr;
	uint64_t h, o;
	int rc, col, known;

	memset(vers, 0, 16u * (size_t)t->ncol);
	pr = ver_prefetched(cm, ch, &known);
	if (pr != NULL) {
		if ((rc = take_versions(n, t, ch, cm->pre.p + pr->vers_off,
					pr->vers_len,
					cm->pre.p + pr->dead_off,
					pr->dead_len, vers)) != 0)
			return rc;
	} else if (!known) {
		if ((s = ts_store_stmt(n, ST_VER_GET)) == NULL)
			return TSYNC_EIO;
		sqlite3_bind_int(s, 1, (int)ch->tid);
		sqlite3_bind_text(s, 2,
				  (const char *)n->cap.arena.p + ch->id_off,
				  (int)ch->id_len, SQLITE_STATIC);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			rc = take_versions(
				n, t, ch, sqlite3_column_blob(s, 0),
				(size_t)sqlite3_column_bytes(s, 0),
				sqlite3_column_blob(s, 1),
				sqlite3_column_type(s, 1) == SQLITE_NULL
					? -1
					: sqlite3_column_bytes(s, 1),
				vers);
			sqlite3_reset(s);
			if (rc != 0)
				return rc;
			rc = SQLITE_DONE;
		}
		sqlite3_reset(s);
		if (rc != SQLITE_DONE)
			return node_sqlerr(n, rc, "read versions");
	}
	for (col = 0; col < t->ncol; col++) {
		if (col == 1)
			continue;
		ver_get(vers, t->ncol, col, &h, &o);
		if (h > *maxprev)
			*maxprev = h;
	}
	return 0;
}

static void
pack_prev(msgpack_packer *pk, const uint8_t *vers, int ncol, int slot)
{
	uint64_t h, o;

	ver_get(vers, ncol, slot, &h, &o);
	msgpack_pack_uint64(pk, h);
	msgpack_pack_uint64(pk, o);
}

static int
settle_hits(const struct tsync_node *n, const struct settle *st,
	    const struct cap_change *ch, int col)
{
	return st->tid == ch->tid && (int)st->col == col &&
	       st->id_len == ch->id_len &&
	       memcmp(n->cap.arena.p + st->id_off, n->cap.arena.p + ch->id_off,
		      ch->id_len) == 0;
}

/* Counts the settled heads of (ch, col). */
static uint32_t
settles_of(const struct tsync_node *n, const struct cap_change *ch, int col)
{
	uint32_t k, cnt = 0;

	if (!(ch->mask >> col & 1))
		return 0;
	for (k = 0; k < n->cap.nsettle; k++)
		cnt += settle_hits(n, &n->cap.settle[k], ch, col);
	return cnt;
}

static int
write_versions(struct commit *cm, struct cap_change *ch, const struct tbl *t,
	       uint8_t *vers)
{
	struct tsync_node *n = cm->n;
	sqlite3_stmt *s;
	uint8_t packed[17 * TBL_MAX_COLS];
	int col, rc;

	if (ch->kind != TXN_UPDATE)
		ver_set(vers, 0, cm->hlc, n->id);
	for (col = 2; col < t->ncol; col++)
		if (ch->mask >> col & 1)
			ver_set(vers, col, cm->hlc, n->id);
	for (uint32_t k = 0; k < n->cap.nsettle; k++) {
		const struct settle *st = &n->cap.settle[k];
		struct colref cr = {(int)st->tid,
				    (const char *)n->cap.arena.p + st->id_off,
				    st->id_len, (int)st->col};

		if (settle_hits(n, st, ch, (int)st->col) &&
		    heads_remove(n, &cr, st->hlc, st->origin) < 0)
			return TSYNC_EIO;
	}
	if ((s = ts_store_stmt(n, ST_VER_PUT)) == NULL)
		return TSYNC_EIO;
	sqlite3_bind_int(s, 1, (int)ch->tid);
	sqlite3_bind_text(s, 2, (const char *)n->cap.arena.p + ch->id_off,
			  (int)ch->id_len, SQLITE_STATIC);
	sqlite3_bind_blob(s, 3, packed, (int)ver_pack(vers, t->ncol, packed),
			  SQLITE_STATIC);
	if (ch->kind == TXN_DELETE)
		sqlite3_bind_blob(s, 4, n->cap.arena.p + ch->dead_off,
				  (int)ch->dead_len, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : node_sqlerr(n, rc, "write versions");
}

static int
pack_change(struct commit *cm, msgpack_packer *pk, struct cap_change *ch,
	    uint8_t *vers, unsigned tix)
{
	struct tsync_node *n = cm->n;
	const struct tbl *t = ts_store_table_tid(n, (int)ch->tid);
	const uint32_t *offs = n->cap.offs + ch->vals_off;
	size_t ncols = 0;
	int col;

	for (col = 2; col < t->ncol; col++)
		ncols += (ch->mask >> col & 1) + settles_of(n, ch, col);
	msgpack_pack_array(pk, 6);
	msgpack_pack_unsigned_int(pk, tix);
	msgpack_pack_str_with_body(pk, n->cap.arena.p + ch->id_off,
				   ch->id_len);
	msgpack_pack_uint8(pk, ch->kind);
	if (ch->kind == TXN_UPDATE) {
		msgpack_pack_uint64(pk, 0);
		msgpack_pack_uint64(pk, 0);
	} else {
		pack_prev(pk, vers, t->ncol, 0);
	}
	msgpack_pack_array(pk, 4 * ncols);
	for (col = 2; col < t->ncol; col++) {
		if (!(ch->mask >> col & 1))
			continue;
		msgpack_pack_unsigned_int(pk, (unsigned)(col - 2));
		if (ts_buf_put(&cm->body, n->cap.arena.p + offs[2 * col] - 1,
			    offs[2 * col + 1]) != 0)
			return TSYNC_ENOMEM;
		pack_prev(pk, vers, t->ncol, col);
		/* The same value again for each conflict head it settles. */
		if (settles_of(n, ch, col) > 0)
			for (uint32_t k = 0; k < n->cap.nsettle; k++) {
				const struct settle *st = &n->cap.settle[k];

				if (!settle_hits(n, st, ch, col))
					continue;
				msgpack_pack_unsigned_int(pk,
							  (unsigned)(col - 2));
				ts_buf_put(&cm->body,
					n->cap.arena.p + offs[2 * col] - 1,
					offs[2 * col + 1]);
				msgpack_pack_uint64(pk, st->hlc);
				msgpack_pack_uint64(pk, st->origin);
			}
	}
	return write_versions(cm, ch, t, vers);
}

/*
 * Writes the dictionary of the tables used by sorted[i..j) (in tid order,
 * as sorted) with their data columns; tix maps tid to dictionary index.
 */
static void
pack_tables(struct commit *cm, msgpack_packer *pk, uint32_t i, uint32_t j,
	    unsigned *tix)
{
	const struct tbl *used[TBL_MAX_TABLES];
	unsigned nused = 0, u;
	uint32_t k;
	int col;

	for (k = i; k < j; k++) {
		const struct cap_change *ch = cm->sorted[k];

		if (ch == NULL ||
		    (nused > 0 && (uint32_t)used[nused - 1]->tid == ch->tid))
			continue;
		used[nused] = ts_store_table_tid(cm->n, (int)ch->tid);
		tix[ch->tid % TBL_MAX_TABLES] = nused;
		nused++;
	}
	msgpack_pack_array(pk, nused);
	for (u = 0; u < nused; u++) {
		msgpack_pack_array(pk, 2);
		msgpack_pack_str_with_body(pk, used[u]->name,
					   strlen(used[u]->name));
		msgpack_pack_array(pk, (size_t)used[u]->ncol - 2);
		for (col = 2; col < used[u]->ncol; col++)
			msgpack_pack_str_with_body(pk, used[u]->cols[col],
						   strlen(used[u]->cols[col]));
	}
}

/* Encodes, signs and appends the txn of sorted[i..j) (one scope). */
static int
emit_txn(struct commit *cm, uint32_t i, uint32_t j, uint32_t nrows)
{
	struct tsync_node *n = cm->n;
	struct cap_change *first = cm->sorted[i];
	const char *scope = (const char *)n->cap.arena.p + first->scope_off;
	struct stream_head h;
	msgpack_packer pk;
	uint8_t hash[KEYS_HASH_LEN], sig[KEYS_SIG_LEN];
	unsigned tix[TBL_MAX_TABLES];
	uint32_t k;
	int rc;

	rc = ts_log_head(n, n->id, scope, first->scope_len, &h);
	if (rc != 0 && rc != TSYNC_ENOENT)
		return rc;
	cm->body.len = 0;
	txn_packer(&pk, &cm->body);
	msgpack_pack_array(&pk, 9);
	msgpack_pack_uint8(&pk, TXN_FMT);
	msgpack_pack_uint64(&pk, n->id);
	msgpack_pack_str_with_body(&pk, scope, first->scope_len);
	msgpack_pack_uint64(&pk, h.seq + 1);
	msgpack_pack_bin_with_body(&pk, h.hash, KEYS_HASH_LEN);
	msgpack_pack_uint64(&pk, cm->hlc);
	msgpack_pack_uint32(&pk, SCHEMA_VERSION);
	pack_tables(cm, &pk, i, j, tix);
	msgpack_pack_array(&pk, nrows);
	for (k = i; k < j; k++) {
		if (cm->sorted[k] == NULL)
			continue;
		rc = pack_change(cm, &pk, cm->sorted[k],
				 cm->vers + (size_t)k * cm->stride,
				 tix[cm->sorted[k]->tid % TBL_MAX_TABLES]);
		if (rc != 0)
			return rc;
	}
	if (cm->body.err != 0)
		return node_err(n, TSYNC_ENOMEM, "out of memory encoding a txn");
	if (cm->body.len > TXN_MAX_BODY)
		return node_err(n, TSYNC_EINVAL,
				"commit too large (%zu bytes of changes in "
				"scope %.*s; the limit is %u): split it",
				cm->body.len, (int)first->scope_len, scope,
				TXN_MAX_BODY);
	keys_sha256(cm->body.p, cm->body.len, hash);
	if (txn_sign(n->key, hash, sig) != 0)
		return node_err(n, TSYNC_EAUTH, "cannot sign the txn");
	rc = ts_log_append(n, &h, n->id, scope, first->scope_len, cm->body.p,
			cm->body.len, hash, sig, cm->hlc, 1);
	/* A change to an id two scopes used is kept with the others. */
	return rc == 0 ? clash_local(n, cm->body.p, cm->body.len) : rc;
}

static int
check_scope(struct tsync_node *n, struct cap_change *ch)
{
	char scope[SCOPE_MAX + 1];
	const char *id = (const char *)n->cap.arena.p + ch->id_off;

	if (ch->scope_len > SCOPE_MAX)
		return node_err(n, TSYNC_ESCOPE, "scope too long (row %.*s)",
				(int)ch->id_len, id);
	memcpy(scope, n->cap.arena.p + ch->scope_off, ch->scope_len);
	scope[ch->scope_len] = '\0';
	if (!scope_valid(scope, 1))
		return node_err(n, TSYNC_ESCOPE,
				"row %.*s: '%s' is not a scope path "
				"(lower-case segments separated by /)",
				(int)ch->id_len, id, scope);
	if (strcmp(n->role, "office") != 0)
		return node_err(n, TSYNC_ESCOPE,
				"this node is an %s: it reads and verifies, "
				"it never writes replicated data",
				n->role);
	if (!scope_may_write(n->scope, n->role, scope))
		return node_err(n, TSYNC_ESCOPE,
				"row %.*s: scope %s is outside this node's "
				"scope %s",
				(int)ch->id_len, id, scope, n->scope);
	return 0;
}

static int
same_scope(const struct capture *c, const struct cap_change *a,
	   const struct cap_change *b);

/*
 * Pass 1: sorts by row and folds each row's changes into one; a row whose
 * changes name two scopes (REPLACE into another scope) is refused.
 * Pass 2: sorts the folded rows by scope, checks each scope, and reads
 * each row's versions (vers is indexed by the final position).
 */
static int
prepare_rows(struct commit *cm)
{
	struct capture *c = &cm->n->cap;
	uint64_t maxprev = 0, now, saved;
	uint32_t i = 0, j, k, kept = 0;
	int rc;

	qsort_r(cm->sorted, cm->nsorted, sizeof(*cm->sorted), cmp_row, c);
	while (i < cm->nsorted) {
		const struct tbl *t =
			ts_store_table_tid(cm->n, (int)cm->sorted[i]->tid);

		for (j = i + 1; j < cm->nsorted &&
				same_row(c, cm->sorted[i], cm->sorted[j]);
		     j++)
			if (!same_scope(c, cm->sorted[i], cm->sorted[j]))
				return node_err(cm->n, TSYNC_EINVAL,
						"row %.*s: the id and scope "
						"of a row cannot change",
						(int)cm->sorted[i]->id_len,
						c->arena.p +
							cm->sorted[i]->id_off);
		fold_row(c, cm->sorted, i, j, t->ncol);
		cm->sorted[kept++] = cm->sorted[i];
		i = j;
	}
	cm->nsorted = kept;
	qsort_r(cm->sorted, kept, sizeof(*cm->sorted), cmp_change, c);
	ver_prefetch(cm);
	for (k = 0; k < kept; k++) {
		if ((rc = check_scope(cm->n, cm->sorted[k])) != 0)
			return rc;
		rc = read_versions(cm, cm->sorted[k],
				   cm->vers + (size_t)k * cm->stride,
				   &maxprev);
		if (rc != 0)
			return rc;
	}
	now = ts_now_ms(&cm->n->ops);
	if (!hlc_ms_valid(now))
		return node_err(cm->n, TSYNC_EINVAL,
				"the clock of this computer reads %llu ms since"
				" 1970, outside 2020-01-01..2100-01-01: set"
				" the clock; nothing was written",
				(unsigned long long)now);
	saved = cm->n->hlc.last;
	cm->hlc = hlc_now(&cm->n->hlc, now);
	if (cm->hlc <= maxprev) {
		/* Overwriting a version from a clock ahead of ours: this txn
		 * goes above it, but the clock follows only up to the bound,
		 * so one bad clock does not carry every later write along. */
		uint64_t bound = hlc_make(hlc_add(now, cm->n->max_skew_ms),
					  0xffff);

		cm->hlc = hlc_add(maxprev, 1);
		if (cm->hlc <= bound)
			cm->n->hlc.last = cm->hlc;
	}
	if (!hlc_valid(cm->hlc)) {
		cm->n->hlc.last = saved;
		return node_err(cm->n, TSYNC_EINVAL,
				"this commit would need an HLC past the valid"
				" range (a row holds a version at its end);"
				" nothing was written");
	}
	return 0;
}

static int
same_scope(const struct capture *c, const struct cap_change *a,
	   const struct cap_change *b)
{
	return a->scope_len == b->scope_len &&
	       memcmp(c->arena.p + a->scope_off, c->arena.p + b->scope_off,
		      a->scope_len) == 0;
}

static int
emit_all(struct commit *cm)
{
	struct capture *c = &cm->n->cap;
	uint32_t i = 0, j, rows;
	int rc;

	while (i < cm->nsorted) {
		rows = 0;
		for (j = i; j < cm->nsorted; j++) {
			if (cm->sorted[j] == NULL)
				continue;
			if (!same_scope(c, cm->sorted[i], cm->sorted[j]))
				break;
			rows++;
		}
		if ((rc = emit_txn(cm, i, j, rows)) != 0)
			return rc;
		i = j;
	}
	return 0;
}

int
capture_commit(struct tsync_node *n)
{
	struct capture *c = &n->cap;
	struct commit cm;
	uint32_t i;
	int rc;

	if (c->err != 0)
		return node_err(n, c->err, "%s", c->errmsg);
	if (c->nch == 0)
		return 0;
	/* A replica restored from an older backup would reuse seqs its
	 * peers hold with other contents: refused until it caught up. */
	if ((rc = heads_check(n)) != 0)
		return rc;
	memset(&cm, 0, sizeof(cm));
	cm.n = n;
	cm.nsorted = c->nch;
	cm.sorted = malloc(sizeof(*cm.sorted) * c->nch);
	for (i = 0; i < (uint32_t)n->ntbl; i++)
		if ((size_t)n->tbls[i].ncol * 16 > cm.stride)
			cm.stride = (size_t)n->tbls[i].ncol * 16;
	cm.vers = malloc((size_t)c->nch * cm.stride);
	ts_buf_init(&cm.body, &n->ops, 0);
	if (cm.sorted == NULL || cm.vers == NULL) {
		rc = node_err(n, TSYNC_ENOMEM, "out of memory at commit");
		goto out;
	}
	for (i = 0; i < c->nch; i++)
		cm.sorted[i] = &c->ch[i];
	if ((rc = prepare_rows(&cm)) == 0)
		rc = emit_all(&cm);
out:
	free(cm.sorted);
	free(cm.vers);
	ts_buf_free(&cm.body);
	ts_buf_free(&cm.pre);
	free(cm.prow);
	return rc;
}

int
capture_settle(struct tsync_node *n, int tid, const char *row, int col,
	       uint64_t hlc, uint64_t origin)
{
	struct capture *c = &n->cap;
	const struct tbl *t = ts_store_table_tid(n, tid);
	struct cap_change *ch;
	struct settle *st;
	sqlite3_stmt *s;
	char sql[512];
	int rc;

	if (t == NULL || col < 2 || col >= t->ncol || !c->active)
		return node_err(n, TSYNC_EINVAL, "no such column to settle");
	snprintf(sql, sizeof(sql), "SELECT id, scope, \"%s\" FROM \"%s\""
		 " WHERE id = ?1", t->cols[col], t->name);
	if ((rc = sqlite3_prepare_v2(n->db, sql, -1, &s, NULL)) != SQLITE_OK)
		return node_sqlerr(n, rc, "settle");
	sqlite3_bind_text(s, 1, row, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_ROW) {
		sqlite3_finalize(s);
		return node_err(n, TSYNC_ENOENT,
				"row %s/%s is deleted: insert it again before "
				"settling its conflicts",
				t->name, row);
	}
	if (c->nsettle == c->capsettle) {
		uint32_t cap = c->capsettle ? c->capsettle * 2 : 8;
		void *p = realloc(c->settle, cap * sizeof(*c->settle));

		if (p == NULL) {
			sqlite3_finalize(s);
			return node_err(n, TSYNC_ENOMEM, "out of memory");
		}
		c->settle = p;
		c->capsettle = cap;
	}
	rc = TSYNC_ENOMEM;
	if ((ch = cap_new(c, t->ncol)) != NULL) {
		ch->tid = (uint32_t)tid;
		ch->kind = TXN_UPDATE;
		ch->mask = 1ULL << col;
		if (arena_text(c, sqlite3_column_value(s, 0), &ch->id_off,
			       &ch->id_len) == 0 &&
		    arena_text(c, sqlite3_column_value(s, 1), &ch->scope_off,
			       &ch->scope_len) == 0 &&
		    arena_value(c, sqlite3_column_value(s, 2),
				c->offs + ch->vals_off + 2 * col) == 0)
			rc = 0;
	}
	sqlite3_finalize(s);
	if (rc != 0)
		return node_err(n, rc, "out of memory");
	st = &c->settle[c->nsettle++];
	st->tid = (uint32_t)tid;
	st->col = (uint32_t)col;
	st->id_off = ch->id_off;
	st->id_len = ch->id_len;
	st->hlc = hlc;
	st->origin = origin;
	return 0;
}
