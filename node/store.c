/*
 * store.c - the SQLite side of the node: opening replica.db, the engine's
 * own tables, prepared statements, metadata and table declarations.  The
 * only place SQLite result codes become TSYNC_E* codes.
 *
 * Engine tables (all prefixed ts_, never writable by user SQL):
 *   ts_meta(key, value)          node id, scope, role, schema, hlc
 *   ts_tables(tid, name, cols)   declared replicated tables
 *   ts_certs(node_id, ...)       node certificates known to this replica
 *   ts_streams(sid, origin, scope, seq, hash, hlc)   stream heads
 *   ts_log(k, hlc, hash, body, sig)   txns; k = sid << 40 | seq
 *   ts_ver(tid, id, vers, dead)  per-row column versions and tombstones
 * docs/data-model.md describes each.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node_int.h"

static const char *const engine_schema =
	"CREATE TABLE IF NOT EXISTS ts_meta(key TEXT PRIMARY KEY, value);"
	"CREATE TABLE IF NOT EXISTS ts_tables(tid INTEGER PRIMARY KEY,"
	" name TEXT UNIQUE NOT NULL, cols TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS ts_certs(node_id INTEGER PRIMARY KEY,"
	" scope TEXT NOT NULL, role TEXT NOT NULL, pem TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS ts_streams(sid INTEGER PRIMARY KEY,"
	" origin INTEGER NOT NULL, scope TEXT NOT NULL,"
	" seq INTEGER NOT NULL, hash BLOB NOT NULL, hlc INTEGER NOT NULL,"
	" UNIQUE(origin, scope));"
	"CREATE TABLE IF NOT EXISTS ts_log(k INTEGER PRIMARY KEY,"
	" hlc INTEGER NOT NULL, hash BLOB NOT NULL, body BLOB NOT NULL,"
	" sig BLOB NOT NULL);"
	"CREATE TABLE IF NOT EXISTS ts_ver(tid INTEGER NOT NULL,"
	" id TEXT NOT NULL, vers BLOB NOT NULL, dead BLOB,"
	" PRIMARY KEY(tid, id)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS ts_quarantine(qid INTEGER PRIMARY KEY,"
	" at INTEGER NOT NULL, peer TEXT, origin INTEGER, scope TEXT,"
	" seq INTEGER, reason TEXT NOT NULL, body BLOB, sig BLOB);"
	"CREATE TABLE IF NOT EXISTS ts_heads(tid INTEGER NOT NULL,"
	" id TEXT NOT NULL, col INTEGER NOT NULL, hlc INTEGER NOT NULL,"
	" origin INTEGER NOT NULL, val,"
	" PRIMARY KEY(tid, id, col, hlc, origin)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS ts_over(tid INTEGER NOT NULL,"
	" id TEXT NOT NULL, col INTEGER NOT NULL, hlc INTEGER NOT NULL,"
	" origin INTEGER NOT NULL,"
	" PRIMARY KEY(tid, id, col, hlc, origin)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS ts_skew(origin INTEGER PRIMARY KEY,"
	" ahead_ms INTEGER NOT NULL, seen_at INTEGER NOT NULL);"
	"CREATE UNIQUE INDEX IF NOT EXISTS ts_quarantine_once ON"
	" ts_quarantine(origin, scope, seq, reason, peer);"
	"CREATE TABLE IF NOT EXISTS ts_revoked(serial INTEGER PRIMARY KEY,"
	" revoked_at INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS ts_peers(peer_id INTEGER PRIMARY KEY,"
	" scope TEXT, role TEXT, addr TEXT, last_contact INTEGER,"
	" they_lack INTEGER, we_lack INTEGER, sent INTEGER DEFAULT 0,"
	" received INTEGER DEFAULT 0, last_error TEXT);"
	"CREATE TABLE IF NOT EXISTS ts_later(k INTEGER PRIMARY KEY,"
	" schema INTEGER NOT NULL);";

static const char *const stmt_sql[ST__COUNT] = {
	[ST_VER_GET] = "SELECT vers, dead FROM ts_ver WHERE tid=?1 AND id=?2",
	[ST_VER_PUT] = "INSERT OR REPLACE INTO ts_ver(tid, id, vers, dead)"
		       " VALUES(?1, ?2, ?3, ?4)",
	[ST_STREAM_GET] = "SELECT sid, seq, hash, hlc FROM ts_streams"
			  " WHERE origin=?1 AND scope=?2",
	[ST_STREAM_NEW] = "INSERT INTO ts_streams(origin, scope, seq, hash,"
			  " hlc) VALUES(?1, ?2, 0, zeroblob(32), 0)",
	[ST_STREAM_SET] = "UPDATE ts_streams SET seq=?2, hash=?3, hlc=?4"
			  " WHERE sid=?1",
	[ST_LOG_PUT] = "INSERT INTO ts_log(k, hlc, hash, body, sig)"
		       " VALUES(?1, ?2, ?3, ?4, ?5)",
	[ST_META_SET] = "INSERT OR REPLACE INTO ts_meta(key, value)"
			" VALUES(?1, ?2)",
	[ST_CERT_GET] = "SELECT pem FROM ts_certs WHERE node_id=?1",
	[ST_HEADS_ADD] = "INSERT OR IGNORE INTO ts_heads(tid, id, col, hlc,"
			 " origin, val) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_HEADS_DEL] = "DELETE FROM ts_heads WHERE tid = ?1 AND id = ?2 AND"
			 " col = ?3 AND hlc = ?4 AND origin = ?5",
	[ST_OVER_ADD] = "INSERT OR IGNORE INTO ts_over(tid, id, col, hlc,"
			" origin) VALUES(?1, ?2, ?3, ?4, ?5)",
	[ST_LOG_HASH] = "SELECT hash FROM ts_log WHERE k = ?1",
	[ST_OVER_DEL] = "DELETE FROM ts_over WHERE tid = ?1 AND id = ?2 AND"
			" col = ?3 AND hlc = ?4 AND origin = ?5",
};

int
node_err(struct tsync_node *n, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(n->errmsg, sizeof(n->errmsg), fmt, ap);
	va_end(ap);
	return code;
}

int
node_sqlerr(struct tsync_node *n, int rc, const char *what)
{
	int prim = rc & 0xff;
	int code = TSYNC_EIO;
	const char *hint = "";

	switch (prim) {
	case SQLITE_FULL:
		code = TSYNC_EFULL;
		hint = " (disk full: free space and retry; nothing was lost)";
		break;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		code = TSYNC_EBUSY;
		hint = " (another process holds the replica; retry)";
		break;
	case SQLITE_NOMEM:
		code = TSYNC_ENOMEM;
		break;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		code = TSYNC_ECORRUPT;
		break;
	case SQLITE_CONSTRAINT:
	case SQLITE_ERROR:
	case SQLITE_MISMATCH:
	case SQLITE_RANGE:
	case SQLITE_AUTH:
		code = TSYNC_EINVAL;
		break;
	default:
		break;
	}
	return node_err(n, code, "%s: %s%s", what,
			n->db != NULL ? sqlite3_errmsg(n->db)
				      : sqlite3_errstr(rc),
			hint);
}

int
ts_store_exec(struct tsync_node *n, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(n->db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		sqlite3_free(msg);
		return node_sqlerr(n, rc, "sql");
	}
	return 0;
}

/*
 * Transactions.  Every engine write that spans statements runs between
 * ts_store_txn_begin and ts_store_txn_commit, and every error path in between
 * ends in ts_store_txn_rollback.  A failed commit rolls back by itself.  So no
 * failure (a full disk, a busy replica) leaves a transaction or savepoint
 * open on the handle: SQLite's own automatic rollbacks, and the state it
 * leaves when the COMMIT of a RELEASE fails, are all cleaned up here.
 * The rollbacks never touch the node's error message.
 */
int
ts_store_txn_begin(struct tsync_node *n, struct ts_store_txn *t, const char *name)
{
	char sql[64];

	t->name = name;
	t->outer = name == NULL || sqlite3_get_autocommit(n->db);
	if (t->outer)
		return ts_store_exec(n, "BEGIN IMMEDIATE");
	ts_fmt(sql, sizeof(sql), "SAVEPOINT %s", name);
	return ts_store_exec(n, sql);
}

int
ts_store_txn_commit(struct tsync_node *n, struct ts_store_txn *t)
{
	char sql[64];
	int rc;

	if (t->outer) {
		rc = ts_store_exec(n, "COMMIT");
	} else {
		ts_fmt(sql, sizeof(sql), "RELEASE %s", t->name);
		rc = ts_store_exec(n, sql);
	}
	if (rc != 0)
		ts_store_txn_rollback(n, t);
	return rc;
}

void
ts_store_txn_rollback(struct tsync_node *n, struct ts_store_txn *t)
{
	char sql[64];

	if (sqlite3_get_autocommit(n->db))
		return; /* SQLite already rolled everything back */
	if (t->outer) {
		sqlite3_exec(n->db, "ROLLBACK", NULL, NULL, NULL);
		return;
	}
	/* Two statements: a failed ROLLBACK TO must not skip the RELEASE.
	 * If the savepoint is gone, the enclosing owner rolls back. */
	ts_fmt(sql, sizeof(sql), "ROLLBACK TO %s", t->name);
	sqlite3_exec(n->db, sql, NULL, NULL, NULL);
	ts_fmt(sql, sizeof(sql), "RELEASE %s", t->name);
	sqlite3_exec(n->db, sql, NULL, NULL, NULL);
}

int
ts_store_read_begin(struct tsync_node *n)
{
	sqlite3_stmt *st;
	int rc;

	if (!sqlite3_get_autocommit(n->db))
		return node_err(n, TSYNC_EBUSY, "a transaction is open");
	if ((rc = sqlite3_exec(n->db, "BEGIN", NULL, NULL, NULL)) != SQLITE_OK)
		return node_sqlerr(n, rc, "begin a read");
	/* A deferred BEGIN takes its snapshot at the first read: now. */
	rc = sqlite3_prepare_v2(n->db, "SELECT count(*) FROM ts_meta", -1, &st,
				NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st) == SQLITE_ROW ? SQLITE_OK
						    : sqlite3_errcode(n->db);
	sqlite3_finalize(st);
	if (rc != SQLITE_OK) {
		rc = node_sqlerr(n, rc, "begin a read");
		sqlite3_exec(n->db, "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}
	return 0;
}

void
ts_store_read_end(struct tsync_node *n)
{
	if (!sqlite3_get_autocommit(n->db))
		sqlite3_exec(n->db, "ROLLBACK", NULL, NULL, NULL);
}

int
ts_store_open(struct tsync_node *n, const char *path, int create)
{
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
	int rc;

	if (create)
		flags |= SQLITE_OPEN_CREATE;
	rc = sqlite3_open_v2(path, &n->db, flags, NULL);
	if (rc != SQLITE_OK)
		return node_err(n, create ? TSYNC_EIO : TSYNC_ENOENT,
				"cannot open %s: %s", path,
				n->db ? sqlite3_errmsg(n->db)
				      : sqlite3_errstr(rc));
	sqlite3_extended_result_codes(n->db, 1);
	sqlite3_busy_timeout(n->db, 5000);
	if ((rc = ts_store_exec(n, "PRAGMA journal_mode=WAL;"
				"PRAGMA synchronous=FULL;"
				"PRAGMA foreign_keys=OFF;"
				"PRAGMA cache_size=-16384;")) != 0)
		return rc;
	if ((rc = ts_store_exec(n, engine_schema)) != 0)
		return rc;
	return 0;
}

sqlite3_stmt *
ts_store_stmt(struct tsync_node *n, int which)
{
	if (n->st[which] == NULL &&
	    sqlite3_prepare_v3(n->db, stmt_sql[which], -1,
			       SQLITE_PREPARE_PERSISTENT, &n->st[which],
			       NULL) != SQLITE_OK) {
		node_sqlerr(n, sqlite3_errcode(n->db), "prepare");
		return NULL;
	}
	sqlite3_reset(n->st[which]);
	sqlite3_clear_bindings(n->st[which]);
	return n->st[which];
}

int
ts_store_meta_get(struct tsync_node *n, const char *key, char *out, size_t len)
{
	sqlite3_stmt *s;
	int rc;

	rc = sqlite3_prepare_v2(n->db,
				"SELECT value FROM ts_meta WHERE key=?1", -1,
				&s, NULL);
	if (rc != SQLITE_OK)
		return node_sqlerr(n, rc, "read meta");
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(s, 0);

		ts_fmt(out, len, "%s", v != NULL ? v : "");
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = node_err(n, TSYNC_ENOENT, "meta %s missing", key);
	} else {
		rc = node_sqlerr(n, rc, "read meta");
	}
	sqlite3_finalize(s);
	return rc;
}

int
ts_store_meta_set(struct tsync_node *n, const char *key, const char *val)
{
	sqlite3_stmt *s = ts_store_stmt(n, ST_META_SET);
	int rc;

	if (s == NULL)
		return TSYNC_EIO;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, val, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : node_sqlerr(n, rc, "write meta");
}

static void
tbl_free(struct tbl *t)
{
	int i;

	for (i = 0; i < t->ncol; i++) {
		free(t->cols[i]);
		if (t->dflt != NULL) {
			sqlite3_value_free(t->dflt[i]);
			free(t->dflt_sql[i]);
		}
	}
	free(t->cols);
	free(t->dflt);
	free(t->dflt_sql);
	free(t->name);
	sqlite3_finalize(t->upsert);
	sqlite3_finalize(t->del);
	sqlite3_finalize(t->get);
}

static int
tbl_add(struct tsync_node *n, int tid, const char *name, const char *cols)
{
	struct tbl *t, *nt;
	const char *p = cols;

	if (tid < 1 || tid > TBL_MAX_TABLES)
		return node_err(n, TSYNC_ECORRUPT, "table id %d of %s out of "
				"range", tid, name);
	nt = realloc(n->tbls, sizeof(*nt) * (size_t)(n->ntbl + 1));
	if (nt == NULL)
		return node_err(n, TSYNC_ENOMEM, "out of memory");
	n->tbls = nt;
	t = &nt[n->ntbl];
	memset(t, 0, sizeof(*t));
	t->tid = tid;
	t->name = strdup(name);
	t->cols = calloc(TBL_MAX_COLS, sizeof(char *));
	n->ntbl++;
	if (t->name == NULL || t->cols == NULL)
		return node_err(n, TSYNC_ENOMEM, "out of memory");
	while (*p != '\0') {
		size_t len = strcspn(p, ",");

		if (t->ncol == TBL_MAX_COLS)
			return node_err(n, TSYNC_ECORRUPT,
					"table %s has too many columns", name);
		t->cols[t->ncol] = strndup(p, len);
		if (t->cols[t->ncol++] == NULL)
			return node_err(n, TSYNC_ENOMEM, "out of memory");
		p += len;
		if (*p == ',')
			p++;
	}
	if (t->ncol < 3 || strcmp(t->cols[0], "id") != 0 ||
	    strcmp(t->cols[1], "scope") != 0)
		return node_err(n, TSYNC_ECORRUPT,
				"table %s must start with id, scope", name);
	return 0;
}

/*
 * The declared default of each column (PRAGMA table_info's dflt_value,
 * evaluated once): apply.c writes it into a row whose txns never set the
 * column, a row written by an older schema (docs/data-model.md).
 */
static int
tbl_defaults(struct tsync_node *n, struct tbl *t)
{
	sqlite3_stmt *s, *e;
	char sql[300];
	int rc, ci;

	snprintf(sql, sizeof(sql), "SELECT name, dflt_value FROM"
		 " pragma_table_info('%s') WHERE dflt_value IS NOT NULL",
		 t->name);
	if ((rc = sqlite3_prepare_v2(n->db, sql, -1, &s, NULL)) != SQLITE_OK)
		return node_sqlerr(n, rc, "read column defaults");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *col = (const char *)sqlite3_column_text(s, 0);

		if ((ci = tbl_col(t, col, strlen(col))) < 2)
			continue;
		if (t->dflt == NULL &&
		    ((t->dflt = calloc(TBL_MAX_COLS, sizeof(*t->dflt))) == NULL ||
		     (t->dflt_sql = calloc(TBL_MAX_COLS,
					   sizeof(*t->dflt_sql))) == NULL))
			break;
		if ((t->dflt_sql[ci] = strdup((const char *)sqlite3_column_text(
			     s, 1))) == NULL)
			break;
		snprintf(sql, sizeof(sql), "SELECT %s",
			 (const char *)sqlite3_column_text(s, 1));
		if (sqlite3_prepare_v2(n->db, sql, -1, &e, NULL) == SQLITE_OK &&
		    sqlite3_step(e) == SQLITE_ROW)
			t->dflt[ci] = sqlite3_value_dup(sqlite3_column_value(e, 0));
		sqlite3_finalize(e);
	}
	sqlite3_finalize(s);
	if (rc == SQLITE_ROW)
		return node_err(n, TSYNC_ENOMEM, "out of memory");
	return rc == SQLITE_DONE ? 0 : node_sqlerr(n, rc, "column defaults");
}

int
ts_store_load_tables(struct tsync_node *n)
{
	sqlite3_stmt *s;
	int rc, i;

	while (n->ntbl > 0)
		tbl_free(&n->tbls[--n->ntbl]);
	rc = sqlite3_prepare_v2(n->db,
				"SELECT tid, name, cols FROM ts_tables"
				" ORDER BY name",
				-1, &s, NULL);
	if (rc != SQLITE_OK)
		return node_sqlerr(n, rc, "read table declarations");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		rc = tbl_add(n, sqlite3_column_int(s, 0),
			     (const char *)sqlite3_column_text(s, 1),
			     (const char *)sqlite3_column_text(s, 2));
		if (rc != 0)
			break;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE && rc != 0)
		return rc > 0 ? node_sqlerr(n, rc, "read tables") : rc;
	for (i = 0; i < n->ntbl; i++)
		if ((rc = tbl_defaults(n, &n->tbls[i])) != 0)
			return rc;
	return 0;
}

/*
 * A table of an older schema gains the declared columns it lacks, at the
 * end and with their declared default (ALTER TABLE ADD COLUMN): columns
 * are only ever appended, so column numbers and the versions kept per
 * column (ts_ver) stay valid.
 */
static int
declare_new_cols(struct tsync_node *n, const char *name,
		 const char *const *cols, const char *const *types, int ncol)
{
	char sql[600];
	sqlite3_stmt *s;
	int i, rc, have;

	snprintf(sql, sizeof(sql), "SELECT 1 FROM pragma_table_info('%s')"
		 " WHERE name = ?1", name);
	if ((rc = sqlite3_prepare_v2(n->db, sql, -1, &s, NULL)) != SQLITE_OK)
		return node_sqlerr(n, rc, "read columns");
	for (i = 0, rc = 0; i < ncol && rc == 0; i++) {
		sqlite3_reset(s);
		sqlite3_bind_text(s, 1, cols[i], -1, SQLITE_STATIC);
		have = sqlite3_step(s) == SQLITE_ROW;
		if (have)
			continue;
		snprintf(sql, sizeof(sql), "ALTER TABLE \"%s\" ADD COLUMN"
			 " \"%s\" %s", name, cols[i], types[i]);
		rc = ts_store_exec(n, sql);
	}
	sqlite3_finalize(s);
	return rc;
}

/* A table already declared may only gain columns at its end. */
static int
cols_extend(struct tsync_node *n, const char *name, const char *list)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(n->db, "SELECT cols FROM ts_tables WHERE"
					   " name = ?1", -1, &s, NULL);

	if (rc != SQLITE_OK)
		return node_sqlerr(n, rc, "declare table");
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW) {
		const char *old = (const char *)sqlite3_column_text(s, 0);
		size_t ol = strlen(old);

		if (strncmp(list, old, ol) != 0 ||
		    (list[ol] != '\0' && list[ol] != ','))
			rc = node_err(n, TSYNC_EINVAL,
				      "table %s: columns may only be added at "
				      "the end (held: %s; declared: %s)",
				      name, old, list);
	}
	sqlite3_finalize(s);
	return rc;
}

int
ts_store_declare(struct tsync_node *n, const char *name,
	      const char *const *cols, const char *const *types, int ncol)
{
	char ddl[4096], list[2048];
	size_t dl = 0, ll = 0;
	sqlite3_stmt *s;
	int i, rc;

	dl += (size_t)snprintf(ddl, sizeof(ddl),
			       "CREATE TABLE IF NOT EXISTS \"%s\"("
			       "id TEXT PRIMARY KEY NOT NULL,"
			       " scope TEXT NOT NULL",
			       name);
	ll += (size_t)snprintf(list, sizeof(list), "id,scope");
	for (i = 0; i < ncol && dl < sizeof(ddl) && ll < sizeof(list); i++) {
		dl += (size_t)snprintf(ddl + dl, sizeof(ddl) - dl,
				       ", \"%s\" %s", cols[i], types[i]);
		ll += (size_t)snprintf(list + ll, sizeof(list) - ll, ",%s",
				       cols[i]);
	}
	if (dl + 2 >= sizeof(ddl) || ll >= sizeof(list) ||
	    ncol + 2 > TBL_MAX_COLS)
		return node_err(n, TSYNC_EINVAL, "table %s too wide", name);
	memcpy(ddl + dl, ");", 3);
	if ((rc = cols_extend(n, name, list)) != 0 ||
	    (rc = ts_store_exec(n, ddl)) != 0 ||
	    (rc = declare_new_cols(n, name, cols, types, ncol)) != 0)
		return rc;
	rc = sqlite3_prepare_v2(n->db,
				"INSERT INTO ts_tables(name, cols) VALUES(?1,"
				" ?2) ON CONFLICT(name) DO UPDATE SET"
				" cols=excluded.cols",
				-1, &s, NULL);
	if (rc != SQLITE_OK)
		return node_sqlerr(n, rc, "declare table");
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, list, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : node_sqlerr(n, rc, "declare table");
}

struct tbl *
ts_store_table(struct tsync_node *n, const char *name, size_t len)
{
	int i;

	for (i = 0; i < n->ntbl; i++)
		if (strlen(n->tbls[i].name) == len &&
		    memcmp(n->tbls[i].name, name, len) == 0)
			return &n->tbls[i];
	return NULL;
}

struct tbl *
ts_store_table_tid(struct tsync_node *n, int tid)
{
	int i;

	for (i = 0; i < n->ntbl; i++)
		if (n->tbls[i].tid == tid)
			return &n->tbls[i];
	return NULL;
}

int
tbl_col(const struct tbl *t, const char *name, size_t len)
{
	int i;

	for (i = 0; i < t->ncol; i++)
		if (strlen(t->cols[i]) == len &&
		    memcmp(t->cols[i], name, len) == 0)
			return i;
	return -1;
}

void
ts_store_close(struct tsync_node *n)
{
	int i;

	for (i = 0; i < ST__COUNT; i++)
		sqlite3_finalize(n->st[i]);
	sqlite3_finalize(n->st_read);
	n->st_read = NULL;
	while (n->ntbl > 0)
		tbl_free(&n->tbls[--n->ntbl]);
	free(n->tbls);
	n->tbls = NULL;
	if (n->db != NULL)
		sqlite3_close(n->db);
	n->db = NULL;
}

void
ver_get(const uint8_t *vers, int nvers, int slot, uint64_t *hlc,
	uint64_t *origin)
{
	if (vers == NULL || slot >= nvers) {
		*hlc = *origin = 0;
		return;
	}
	*hlc = be64_get(vers + 16 * slot);
	*origin = be64_get(vers + 16 * slot + 8);
}

void
ver_set(uint8_t *vers, int slot, uint64_t hlc, uint64_t origin)
{
	be64_put(vers + 16 * slot, hlc);
	be64_put(vers + 16 * slot + 8, origin);
}

/*
 * Stored form of a row's versions: 0x01, the base version (16 bytes), then
 * (slot, version) for each slot that differs from the base.  The base is
 * the row slot's version, so a freshly inserted row stores 17 bytes instead
 * of 16 per column.  Slot 1 (scope) is never versioned.
 */
size_t
ver_pack(const uint8_t *vers, int ncol, uint8_t *out)
{
	size_t n = 17;
	int col;

	out[0] = 1;
	memcpy(out + 1, vers, 16);
	for (col = 2; col < ncol; col++) {
		if (memcmp(vers + 16 * col, vers, 16) == 0)
			continue;
		out[n] = (uint8_t)col;
		memcpy(out + n + 1, vers + 16 * col, 16);
		n += 17;
	}
	return n;
}

int
ver_unpack(const uint8_t *blob, size_t len, uint8_t *vers, int ncol)
{
	size_t i;
	int col;

	memset(vers, 0, 16u * (size_t)ncol);
	if (len < 17 || blob[0] != 1 || (len - 17) % 17 != 0)
		return TSYNC_ECORRUPT;
	for (col = 0; col < ncol; col++)
		if (col != 1)
			memcpy(vers + 16 * col, blob + 1, 16);
	for (i = 17; i < len; i += 17) {
		if (blob[i] < 2 || blob[i] >= ncol)
			return TSYNC_ECORRUPT;
		memcpy(vers + 16 * blob[i], blob + i + 1, 16);
	}
	return 0;
}
