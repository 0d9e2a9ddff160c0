/*
 * snapshot.c - the store side of a snapshot first pull; see snapshot.h
 * and docs/protocol.md, section 3.14.
 *
 * What travels: the rows of the engine tables that hold replicated data
 * (COPY below) and of every replicated table, as they are stored.  What
 * never travels: ts_meta, ts_tables (both sides must already agree on it),
 * ts_quarantine, ts_peers, ts_skew, ts_revoked* (the CRL frame brings the
 * list, checked against the CA), web accounts and anything else local.
 * The puller accepts rows only for the tables of the offer, and the offer
 * only names tables of this list whose columns equal its own.
 *
 * The check reuses verify.c (verify_run with VERIFY_HEAD_SIGS): the same
 * fold of the log that `tiersync verify` compares the tables with.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conflict.h"
#include "snapshot.h"
#include "txn.h"

/* Engine tables whose rows are replicated data, in the order they go. */
static const char *const COPY[] = {
	"ts_certs", "ts_streams", "ts_log", "ts_ver", "ts_heads", "ts_over",
	"ts_clash", "ts_later",
};
#define NCOPY (sizeof(COPY) / sizeof(COPY[0]))

/* ---- shared ---------------------------------------------------------- */

/* 1 if `name` may travel in a snapshot of n's schema. */
static int
copyable(struct tsync_node *n, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < NCOPY; i++)
		if (strlen(COPY[i]) == len && memcmp(COPY[i], name, len) == 0)
			return 1;
	return ts_store_table(n, name, len) != NULL;
}

/* Column names of table `name` through db, packed as an array (or -1). */
static int
pack_cols(sqlite3 *db, const char *name, msgpack_packer *pk, int *ncol)
{
	char sql[300];
	sqlite3_stmt *s;
	int i;

	ts_fmt(sql, sizeof(sql), "SELECT * FROM \"%s\" LIMIT 0", name);
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return -1;
	*ncol = sqlite3_column_count(s);
	if (pk != NULL) {
		msgpack_pack_array(pk, (size_t)*ncol);
		for (i = 0; i < *ncol; i++) {
			const char *c = sqlite3_column_name(s, i);

			msgpack_pack_str_with_body(pk, c, strlen(c));
		}
	}
	sqlite3_finalize(s);
	return 0;
}

/* ---- the peer -------------------------------------------------------- */

struct snap_reader {
	struct tsync_node *n;
	sqlite3 *db;           /* read-only, one read transaction */
	struct stream_row *vv;
	size_t nvv;
	char **names;          /* tables that exist here, in COPY order */
	int *ncols;
	size_t ntables, cur;
	sqlite3_stmt *rows;    /* SELECT * of names[cur] */
	int pending;           /* rows holds a row not sent yet */
	struct ts_buf scratch;
};

void
snap_reader_free(struct snap_reader *r)
{
	size_t i;

	if (r == NULL)
		return;
	sqlite3_finalize(r->rows);
	if (r->db != NULL)
		sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(r->db);
	for (i = 0; i < r->ntables; i++)
		free(r->names[i]);
	free(r->names);
	free(r->ncols);
	free(r->vv);
	ts_buf_free(&r->scratch);
	free(r);
}

static int
reader_add(struct snap_reader *r, const char *name)
{
	int ncol;

	if (pack_cols(r->db, name, NULL, &ncol) != 0)
		return 0; /* not here (ts_clash is made when first needed) */
	if ((r->names[r->ntables] = strdup(name)) == NULL)
		return TSYNC_ENOMEM;
	r->ncols[r->ntables++] = ncol;
	return 0;
}

/* Reads the version vector inside the read transaction. */
static int
reader_vv(struct snap_reader *r)
{
	sqlite3_stmt *s;
	size_t cap = 0;
	int rc;

	if (sqlite3_prepare_v2(r->db, "SELECT sid, origin, scope, seq FROM"
				      " ts_streams WHERE seq > 0 ORDER BY sid",
			       -1, &s, NULL) != SQLITE_OK)
		return TSYNC_EIO;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct stream_row *v;

		if (r->nvv == cap) {
			cap = cap ? 2 * cap : 64;
			if ((v = realloc(r->vv, cap * sizeof(*v))) == NULL) {
				sqlite3_finalize(s);
				return TSYNC_ENOMEM;
			}
			r->vv = v;
		}
		v = &r->vv[r->nvv++];
		v->sid = sqlite3_column_int64(s, 0);
		v->origin = (uint64_t)sqlite3_column_int64(s, 1);
		ts_fmt(v->scope, sizeof(v->scope), "%s",
		       (const char *)sqlite3_column_text(s, 2));
		v->seq = (uint64_t)sqlite3_column_int64(s, 3);
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : TSYNC_EIO;
}

int
snap_reader_open(struct tsync_node *n, struct snap_reader **out)
{
	struct snap_reader *r = calloc(1, sizeof(*r));
	char path[600];
	size_t i, max = NCOPY + (size_t)n->ntbl;
	int rc;

	*out = NULL;
	if (r == NULL)
		return node_err(n, TSYNC_ENOMEM, "out of memory");
	r->n = n;
	ts_buf_init(&r->scratch, NULL, 0);
	r->names = calloc(max, sizeof(*r->names));
	r->ncols = calloc(max, sizeof(*r->ncols));
	ts_fmt(path, sizeof(path), "%s/replica.db", n->dir);
	if (r->names == NULL || r->ncols == NULL) {
		snap_reader_free(r);
		return node_err(n, TSYNC_ENOMEM, "out of memory");
	}
	if (sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READONLY, NULL) !=
		    SQLITE_OK ||
	    sqlite3_busy_timeout(r->db, 5000) != SQLITE_OK ||
	    sqlite3_exec(r->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		rc = node_err(n, TSYNC_EIO, "snapshot: cannot open %s: %s",
			      path, r->db ? sqlite3_errmsg(r->db) : "?");
		snap_reader_free(r);
		return rc;
	}
	/* The first read pins the WAL snapshot every later read sees. */
	rc = reader_vv(r);
	for (i = 0; rc == 0 && i < NCOPY; i++)
		rc = reader_add(r, COPY[i]);
	for (i = 0; rc == 0 && i < (size_t)n->ntbl; i++)
		rc = reader_add(r, n->tbls[i].name);
	if (rc != 0) {
		rc = node_err(n, rc, "snapshot: cannot read %s: %s", path,
			      sqlite3_errmsg(r->db));
		snap_reader_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

const struct stream_row *
snap_reader_vv(const struct snap_reader *r, size_t *count)
{
	*count = r->nvv;
	return r->vv;
}

int
snap_reader_pack_tables(struct snap_reader *r, msgpack_packer *pk)
{
	sqlite3_stmt *s;
	size_t i;
	int ncol, rc, cnt = 0;

	msgpack_pack_array(pk, r->ntables);
	for (i = 0; i < r->ntables; i++) {
		msgpack_pack_array(pk, 2);
		msgpack_pack_str_with_body(pk, r->names[i],
					   strlen(r->names[i]));
		if (pack_cols(r->db, r->names[i], pk, &ncol) != 0)
			return TSYNC_EIO;
	}
	if (sqlite3_prepare_v2(r->db, "SELECT count(*) FROM ts_tables", -1,
			       &s, NULL) != SQLITE_OK)
		return TSYNC_EIO;
	if (sqlite3_step(s) == SQLITE_ROW)
		cnt = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	if (sqlite3_prepare_v2(r->db, "SELECT tid, name, cols FROM ts_tables"
				      " ORDER BY tid", -1, &s, NULL) != SQLITE_OK)
		return TSYNC_EIO;
	msgpack_pack_array(pk, (size_t)cnt);
	while (cnt-- > 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		msgpack_pack_array(pk, 3);
		for (i = 0; i < 3; i++)
			txn_pack_value(pk, sqlite3_column_value(s, (int)i));
	}
	sqlite3_finalize(s);
	return cnt < 0 ? 0 : TSYNC_EIO;
}

int
snap_reader_next(struct snap_reader *r, msgpack_packer *pk,
		 size_t max_bytes, uint64_t *rows)
{
	msgpack_packer sp;
	const char *name;
	char sql[300];
	size_t objs = 0, last = 0;
	int i, ncol, rc = SQLITE_ROW;

	*rows = 0;
	for (;;) {
		if (r->cur >= r->ntables)
			return 0;
		if (r->rows == NULL) {
			ts_fmt(sql, sizeof(sql), "SELECT * FROM \"%s\"",
			       r->names[r->cur]);
			if (sqlite3_prepare_v2(r->db, sql, -1, &r->rows,
					       NULL) != SQLITE_OK)
				return node_err(r->n, TSYNC_EIO,
						"snapshot: %s",
						sqlite3_errmsg(r->db));
			r->pending = 0;
		}
		if (r->pending || (rc = sqlite3_step(r->rows)) == SQLITE_ROW)
			break;
		sqlite3_finalize(r->rows);
		r->rows = NULL;
		if (rc != SQLITE_DONE)
			return node_err(r->n, TSYNC_EIO, "snapshot: %s",
					sqlite3_errmsg(r->db));
		r->cur++;
	}
	ncol = r->ncols[r->cur];
	name = r->names[r->cur];
	r->scratch.len = 0;
	r->scratch.err = 0;
	txn_packer(&sp, &r->scratch);
	while (rc == SQLITE_ROW) {
		last = r->scratch.len;
		for (i = 0; i < ncol; i++)
			txn_pack_value(&sp, sqlite3_column_value(r->rows, i));
		if (r->scratch.err)
			return node_err(r->n, TSYNC_ENOMEM, "out of memory");
		if (*rows > 0 && (r->scratch.len > max_bytes ||
				  objs + (size_t)ncol > SNAP_CHUNK_OBJS)) {
			r->scratch.len = last; /* this row opens the next */
			r->pending = 1;
			break;
		}
		r->pending = 0;
		(*rows)++;
		objs += (size_t)ncol;
		if (r->scratch.len >= max_bytes)
			break;
		rc = sqlite3_step(r->rows);
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return node_err(r->n, TSYNC_EIO, "snapshot: %s",
				sqlite3_errmsg(r->db));
	msgpack_pack_str_with_body(pk, name, strlen(name));
	msgpack_pack_uint32(pk, (uint32_t)ncol);
	msgpack_pack_array(pk, (size_t)*rows * (size_t)ncol);
	if (pk->callback(pk->data, (const char *)r->scratch.p,
			 r->scratch.len) != 0)
		return TSYNC_ENOMEM;
	if (rc == SQLITE_DONE) { /* the table is done: the next one */
		sqlite3_finalize(r->rows);
		r->rows = NULL;
		r->cur++;
	}
	return 1;
}

/* ---- the puller ------------------------------------------------------ */

struct wtable {
	char *name;
	int ncol;
	sqlite3_stmt *ins;
};

struct snap_writer {
	struct tsync_node *n;
	struct ts_store_txn tx;
	int open;               /* tx is open */
	struct wtable *t;
	size_t nt;
	size_t since_commit;    /* bytes since the last commit */
};

int
snap_state(struct tsync_node *n, char *out, size_t len)
{
	return ts_store_meta_get(n, "snapshot", out, len);
}

int
snap_empty(struct tsync_node *n)
{
	sqlite3_stmt *s;
	int empty = 0;

	if (sqlite3_prepare_v2(n->db, "SELECT NOT EXISTS (SELECT 1 FROM"
				      " ts_streams WHERE seq > 0)", -1, &s,
			       NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_step(s) == SQLITE_ROW)
		empty = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return empty;
}

static int
table_exists(struct tsync_node *n, const char *name)
{
	int ncol;

	return pack_cols(n->db, name, NULL, &ncol) == 0;
}

int
snap_discard(struct tsync_node *n)
{
	struct ts_store_txn tx;
	char sql[300], own[32];
	size_t i;
	int rc, applying = n->cap.applying;

	if ((rc = ts_store_txn_begin(n, &tx, NULL)) != 0)
		return rc;
	n->cap.applying = 1;
	ts_fmt(own, sizeof(own), "%lld", (long long)n->id);
	for (i = 0; rc == 0 && i < NCOPY + (size_t)n->ntbl; i++) {
		const char *name = i < NCOPY ? COPY[i]
					     : n->tbls[i - NCOPY].name;

		if (!table_exists(n, name))
			continue;
		/* A fresh replica's own certificate was there before. */
		ts_fmt(sql, sizeof(sql), "DELETE FROM \"%s\"%s%s", name,
		       i == 0 ? " WHERE node_id <> " : "", i == 0 ? own : "");
		rc = ts_store_exec(n, sql);
	}
	if (rc == 0)
		rc = ts_store_exec(n, "DELETE FROM ts_meta WHERE key ="
				   " 'snapshot'");
	n->cap.applying = applying;
	if (rc == 0)
		return ts_store_txn_commit(n, &tx);
	ts_store_txn_rollback(n, &tx);
	return rc;
}

static void
writer_free(struct snap_writer *w)
{
	size_t i;

	for (i = 0; i < w->nt; i++) {
		sqlite3_finalize(w->t[i].ins);
		free(w->t[i].name);
	}
	free(w->t);
	free(w);
}

/* The offer's ts_tables rows must be this replica's, row for row. */
static int
same_tids(struct tsync_node *n, const msgpack_object *tids, uint32_t ntids,
	  char *why, size_t whylen)
{
	sqlite3_stmt *s;
	uint32_t i = 0;
	int rc, ok = 1;

	if (sqlite3_prepare_v2(n->db, "SELECT tid, name, cols FROM ts_tables"
				      " ORDER BY tid", -1, &s, NULL) != SQLITE_OK)
		return node_sqlerr(n, SQLITE_ERROR, "snapshot");
	while (ok && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		const msgpack_object *e = &tids[i];
		const char *name = (const char *)sqlite3_column_text(s, 1);
		const char *cols = (const char *)sqlite3_column_text(s, 2);

		ok = i < ntids && e->type == MSGPACK_OBJECT_ARRAY &&
		     e->via.array.size == 3 &&
		     e->via.array.ptr[0].type ==
			     MSGPACK_OBJECT_POSITIVE_INTEGER &&
		     e->via.array.ptr[0].via.u64 ==
			     (uint64_t)sqlite3_column_int64(s, 0) &&
		     e->via.array.ptr[1].type == MSGPACK_OBJECT_STR &&
		     e->via.array.ptr[1].via.str.size == strlen(name) &&
		     memcmp(e->via.array.ptr[1].via.str.ptr, name,
			    strlen(name)) == 0 &&
		     e->via.array.ptr[2].type == MSGPACK_OBJECT_STR &&
		     e->via.array.ptr[2].via.str.size == strlen(cols) &&
		     memcmp(e->via.array.ptr[2].via.str.ptr, cols,
			    strlen(cols)) == 0;
		i++;
	}
	sqlite3_finalize(s);
	if (ok && i == ntids)
		return 0;
	ts_fmt(why, whylen, "the peer's replicated tables (ts_tables) are "
			    "not this replica's");
	return TSYNC_EINVAL;
}

/* Prepares the insert of one offered table after checking its columns. */
static int
writer_table(struct snap_writer *w, const msgpack_object *e, char *why,
	     size_t whylen)
{
	struct tsync_node *n = w->n;
	const msgpack_object *cols;
	struct wtable *t = &w->t[w->nt];
	char sql[300 + 4 * TBL_MAX_COLS * 4];
	sqlite3_stmt *s;
	size_t len;
	int i;

	if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size < 2 ||
	    e->via.array.ptr[0].type != MSGPACK_OBJECT_STR ||
	    e->via.array.ptr[1].type != MSGPACK_OBJECT_ARRAY ||
	    e->via.array.ptr[0].via.str.size >= 200) {
		ts_fmt(why, whylen, "malformed snapshot offer");
		return TSYNC_EPROTO;
	}
	len = e->via.array.ptr[0].via.str.size;
	cols = e->via.array.ptr[1].via.array.ptr;
	if ((t->name = strndup(e->via.array.ptr[0].via.str.ptr, len)) == NULL)
		return TSYNC_ENOMEM;
	w->nt++;
	if (strlen(t->name) != len || !copyable(n, t->name, len)) {
		ts_fmt(why, whylen, "the offer names table %s, which a "
				    "snapshot does not carry", t->name);
		return TSYNC_EPROTO;
	}
	if (strcmp(t->name, "ts_clash") == 0 && clash_ensure(n) != 0)
		return TSYNC_EIO;
	ts_fmt(sql, sizeof(sql), "SELECT * FROM \"%s\" LIMIT 0", t->name);
	if (sqlite3_prepare_v2(n->db, sql, -1, &s, NULL) != SQLITE_OK)
		return node_sqlerr(n, SQLITE_ERROR, "snapshot");
	t->ncol = sqlite3_column_count(s);
	for (i = 0; i < t->ncol && (uint32_t)t->ncol ==
				   e->via.array.ptr[1].via.array.size; i++) {
		const char *c = sqlite3_column_name(s, i);

		if (cols[i].type != MSGPACK_OBJECT_STR ||
		    cols[i].via.str.size != strlen(c) ||
		    memcmp(cols[i].via.str.ptr, c, strlen(c)) != 0)
			break;
	}
	sqlite3_finalize(s);
	if (i != t->ncol || (uint32_t)t->ncol !=
				    e->via.array.ptr[1].via.array.size) {
		ts_fmt(why, whylen, "table %s has other columns on the peer",
		       t->name);
		return TSYNC_EINVAL;
	}
	len = (size_t)snprintf(sql, sizeof(sql), "INSERT %sINTO \"%s\" VALUES(",
			       strcmp(t->name, "ts_certs") == 0 ? "OR IGNORE "
								: "",
			       t->name);
	for (i = 0; i < t->ncol && len + 8 < sizeof(sql); i++)
		len += (size_t)snprintf(sql + len, sizeof(sql) - len, "%s?",
					i ? "," : "");
	ts_fmt(sql + len, sizeof(sql) - len, ")");
	if (sqlite3_prepare_v2(n->db, sql, -1, &t->ins, NULL) != SQLITE_OK)
		return node_sqlerr(n, SQLITE_ERROR, "snapshot");
	return 0;
}

int
snap_writer_begin(struct tsync_node *n, const msgpack_object *tables,
		  uint32_t ntables, const msgpack_object *tids,
		  uint32_t ntids, struct snap_writer **out, char *why,
		  size_t whylen)
{
	struct snap_writer *w;
	char st[64];
	uint32_t i;
	int rc;

	*out = NULL;
	why[0] = '\0';
	if (ts_store_meta_get(n, "snapshot", st, sizeof(st)) == 0 ||
	    !snap_empty(n)) {
		ts_fmt(why, whylen, "this replica is no longer empty");
		return TSYNC_EEXIST;
	}
	if ((rc = same_tids(n, tids, ntids, why, whylen)) != 0)
		return rc;
	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->t = calloc(ntables + 1, sizeof(*w->t))) == NULL) {
		free(w);
		return TSYNC_ENOMEM;
	}
	w->n = n;
	for (i = 0, rc = 0; rc == 0 && i < ntables; i++)
		rc = writer_table(w, &tables[i], why, whylen);
	/* Hold the write lock from here: another process's write waits. */
	if (rc == 0 && (rc = ts_store_exec(n, "PRAGMA synchronous=NORMAL")) == 0 &&
	    (rc = ts_store_txn_begin(n, &w->tx, NULL)) == 0) {
		w->open = 1;
		rc = ts_store_meta_set(n, "snapshot", "receiving");
	}
	if (rc != 0) {
		if (why[0] == '\0')
			ts_fmt(why, whylen, "%s", tsync_node_errmsg(n));
		if (w->open)
			ts_store_txn_rollback(n, &w->tx);
		ts_store_exec(n, "PRAGMA synchronous=FULL");
		writer_free(w);
		return rc;
	}
	*out = w;
	return 0;
}

int
snap_writer_rows(struct snap_writer *w, const char *table, uint32_t tlen,
		 uint64_t ncol, const msgpack_object *vals, uint32_t nvals)
{
	struct tsync_node *n = w->n;
	struct wtable *t = NULL;
	size_t i;
	uint32_t j;
	int k, rc = 0;

	for (i = 0; i < w->nt && t == NULL; i++)
		if (strlen(w->t[i].name) == tlen &&
		    memcmp(w->t[i].name, table, tlen) == 0)
			t = &w->t[i];
	if (t == NULL || ncol != (uint64_t)t->ncol || nvals % t->ncol != 0)
		return node_err(n, TSYNC_EPROTO, "snapshot rows for %.*s, "
				"which the offer did not name as such",
				(int)(tlen > 64 ? 64 : tlen), table);
	n->cap.applying = 1;
	for (j = 0; rc == 0 && j < nvals; j += (uint32_t)t->ncol) {
		sqlite3_reset(t->ins);
		for (k = 0; k < t->ncol; k++) {
			const msgpack_object *v = &vals[j + (uint32_t)k];

			if (txn_bind_value(t->ins, k + 1, v) != 0) {
				rc = node_err(n, TSYNC_EPROTO, "snapshot: a "
					      "value of %s is not a stored "
					      "value", t->name);
				break;
			}
			if (v->type == MSGPACK_OBJECT_STR ||
			    v->type == MSGPACK_OBJECT_BIN)
				w->since_commit += v->via.bin.size;
			w->since_commit += 8;
		}
		if (rc == 0 && sqlite3_step(t->ins) != SQLITE_DONE)
			rc = node_err(n, TSYNC_ECORRUPT, "snapshot: a row of "
				      "%s does not insert: %s", t->name,
				      sqlite3_errmsg(n->db));
	}
	n->cap.applying = 0;
	sqlite3_reset(t->ins);
	if (rc == 0 && w->since_commit >= SNAP_COMMIT_BYTES) {
		w->open = 0;
		if ((rc = ts_store_txn_commit(n, &w->tx)) == 0 &&
		    (rc = ts_store_txn_begin(n, &w->tx, NULL)) == 0)
			w->open = 1;
		w->since_commit = 0;
	}
	return rc;
}

void
snap_writer_abort(struct snap_writer *w)
{
	struct tsync_node *n;

	if (w == NULL)
		return;
	n = w->n;
	if (w->open)
		ts_store_txn_rollback(n, &w->tx);
	writer_free(w);
	snap_discard(n);
	ts_store_exec(n, "PRAGMA synchronous=FULL");
}

struct faults {
	char *why;
	size_t len, used;
	unsigned count;
};

static void
on_fault(void *arg, const char *line)
{
	struct faults *f = arg;

	if (f->count++ >= 3 || f->used + 8 >= f->len)
		return;
	f->used += (size_t)snprintf(f->why + f->used, f->len - f->used, "%s%s",
				    f->used ? "; " : "", line);
	if (f->used >= f->len)
		f->used = f->len - 1;
}

/* The heads now held must be the offer's vv, stream for stream. */
static int
heads_are_vv(struct tsync_node *n, const msgpack_object *vv, uint32_t nvv,
	     uint64_t *txns, struct faults *f)
{
	struct stream_row *mine;
	size_t cnt, i;
	uint32_t j;
	int rc = ts_log_streams(n, &mine, &cnt);

	if (rc != 0)
		return rc;
	*txns = 0;
	for (i = 0; i < cnt; i++) {
		size_t sl = strlen(mine[i].scope);

		*txns += mine[i].seq;
		for (j = 0; j + 2 < nvv; j += 3)
			if (vv[j].via.u64 == mine[i].origin &&
			    vv[j + 1].via.str.size == sl &&
			    memcmp(vv[j + 1].via.str.ptr, mine[i].scope, sl) ==
				    0)
				break;
		if (j + 2 >= nvv || vv[j + 2].via.u64 != mine[i].seq)
			on_fault(f, "the streams held are not the snapshot's "
				    "version vector");
	}
	if (cnt != nvv / 3)
		on_fault(f, "the streams held are not the snapshot's version "
			    "vector");
	free(mine);
	return 0;
}

/* The local clock observes the newest version that arrived. */
static void
observe_clock(struct tsync_node *n)
{
	sqlite3_stmt *s;

	if (sqlite3_prepare_v2(n->db, "SELECT coalesce(max(hlc), 0) FROM"
				      " ts_streams", -1, &s, NULL) != SQLITE_OK)
		return;
	if (sqlite3_step(s) == SQLITE_ROW)
		hlc_observe(&n->hlc, (uint64_t)sqlite3_column_int64(s, 0),
			    ts_now_ms(&n->ops), n->max_skew_ms);
	sqlite3_finalize(s);
}

/*
 * Holds the write lock of replica.db through a second connection while
 * the check runs, so no other process commits a local write onto rows
 * not checked yet (it waits, then fails as busy).  NULL if it cannot.
 */
static sqlite3 *
write_lock(struct tsync_node *n)
{
	char path[600];
	sqlite3 *db = NULL;

	ts_fmt(path, sizeof(path), "%s/replica.db", n->dir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) ==
		    SQLITE_OK &&
	    sqlite3_busy_timeout(db, 5000) == SQLITE_OK &&
	    sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK)
		return db;
	sqlite3_close(db);
	return NULL;
}

static void
write_unlock(sqlite3 *db)
{
	if (db == NULL)
		return;
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(db);
}

int
snap_writer_end(struct snap_writer *w, const msgpack_object *vv,
		uint32_t nvv, const char *from, uint64_t *txns, char *why,
		size_t whylen)
{
	struct tsync_node *n = w->n;
	struct faults f = {why, whylen, 0, 0};
	char mark[200], at[40];
	sqlite3 *lock = NULL;
	int rc;

	why[0] = '\0';
	*txns = 0;
	rc = ts_store_meta_set(n, "snapshot", "unverified");
	w->open = 0;
	if (rc == 0)
		rc = ts_store_txn_commit(n, &w->tx);
	else
		ts_store_txn_rollback(n, &w->tx);
	writer_free(w);
	/* The fold's scratch tables get room (bounded: they spill to a
	 * temporary file beyond it), and back to the default after. */
	if (rc == 0) {
		lock = write_lock(n);
		ts_store_exec(n, "PRAGMA temp.cache_size=" SNAP_CHECK_CACHE);
		rc = verify_run(n, VERIFY_HEAD_SIGS, on_fault, &f);
		ts_store_exec(n, "PRAGMA temp.cache_size=-2000");
	}
	if (rc == 0)
		rc = heads_are_vv(n, vv, nvv, txns, &f);
	write_unlock(lock);
	if (rc == TSYNC_EVERIFY || (rc == 0 && f.count > 0)) {
		if (f.count > 3 && f.used + 32 < whylen)
			snprintf(why + f.used, whylen - f.used,
				 " (and %u more)", f.count - 3);
		snap_discard(n);
		ts_store_exec(n, "PRAGMA synchronous=FULL");
		return TSYNC_EVERIFY;
	}
	if (rc != 0) {
		ts_fmt(why, whylen, "%s", tsync_node_errmsg(n));
		snap_discard(n);
		ts_store_exec(n, "PRAGMA synchronous=FULL");
		return rc;
	}
	ts_store_exec(n, "PRAGMA synchronous=FULL");
	tsync_hlc_format(hlc_make(ts_now_ms(&n->ops), 0), at, sizeof(at));
	ts_fmt(mark, sizeof(mark), "verified: %llu txns by snapshot from %s "
				   "at %s", (unsigned long long)*txns, from, at);
	observe_clock(n);
	return ts_store_meta_set(n, "snapshot", mark);
}

int
tsync_node_replica_state(struct tsync_node *n, char *out, size_t len)
{
	return snap_state(n, out, len);
}
