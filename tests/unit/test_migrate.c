/*
 * test_migrate.c - schemas that differ (docs/data-model.md, "Schema
 * versions"), on real nodes:
 *  - schema step 2 -> 3 (receipts, evidence): the tables, the backup;
 *  - schema step 1 -> 2 (the records' tables): a replica laid out as
 *    release 0.1.0 left it, holding txns of tables it did not know, is
 *    opened: a backup is taken first, the tables are declared, what the
 *    log holds is merged, and the rows, digest and verify agree with the
 *    node that wrote them; a replica of a newer schema is refused;
 *  - a new column with a default: an older node keeps a newer node's
 *    values of it (ts_later) and applies them after its upgrade; a newer
 *    node fills the default into rows an older node wrote; verify agrees
 *    at every step and notices a ts_later edited behind the node.
 */
#include <sys/stat.h>

#include "apply.h"
#include "check.h"
#include "node_int.h"
#include "testnode.h"
#include "txn.h"

/* `to` receives everything `from` originated (one way, as a sync). */
static void
deliver(struct tsync_node *from, struct tsync_node *to)
{
	struct apply_report rep;
	struct wire_txn w[64];
	uint8_t *mem[64];
	sqlite3_stmt *s;
	char *pem;
	size_t n = 0, i, len;

	if (certs_pem(from, from->id, &pem, &len) == 0) {
		CHECK_EQ(certs_add_pem(to, pem, len), 0);
		free(pem);
	}
	sqlite3_prepare_v2(from->db,
			   "SELECT l.body, l.sig FROM ts_log l JOIN ts_streams"
			   " s ON s.sid = l.k >> 40 WHERE s.origin = ?1"
			   " ORDER BY l.k",
			   -1, &s, NULL);
	sqlite3_bind_int64(s, 1, (int64_t)from->id);
	while (n < 64 && sqlite3_step(s) == SQLITE_ROW) {
		len = (size_t)sqlite3_column_bytes(s, 0);
		mem[n] = malloc(len + KEYS_SIG_LEN);
		memcpy(mem[n], sqlite3_column_blob(s, 0), len);
		memcpy(mem[n] + len, sqlite3_column_blob(s, 1), KEYS_SIG_LEN);
		w[n].body = mem[n];
		w[n].len = len;
		w[n].sig = mem[n] + len;
		n++;
	}
	sqlite3_finalize(s);
	CHECK(n > 0);
	CHECK_EQ(apply_batch(to, w, n, "test", &rep, NULL, NULL), 0);
	CHECK_EQ(rep.rejected, 0);
	for (i = 0; i < n; i++)
		free(mem[i]);
}

static long
num_of(const char *s)
{
	return strtol(s, NULL, 10);
}

static long long
count(struct tsync_node *n, const char *sql)
{
	sqlite3_stmt *s;
	long long v = -1;

	if (sqlite3_prepare_v2(n->db, sql, -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	else
		fprintf(stderr, "count: %s: %s\n", sql, sqlite3_errmsg(n->db));
	sqlite3_finalize(s);
	return v;
}

static void
text_of(struct tsync_node *n, const char *sql, char *out, size_t len)
{
	sqlite3_stmt *s;

	out[0] = '\0';
	if (sqlite3_prepare_v2(n->db, sql, -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
		snprintf(out, len, "%s", sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
}

static void
fault_cb(void *arg, const char *line)
{
	int *faults = arg;

	fprintf(stderr, "  verify: %s\n", line);
	(*faults)++;
}

static int
faults_of(struct tsync_node *n)
{
	int faults = 0, rc = tsync_node_verify(n, fault_cb, &faults);

	CHECK_EQ(rc != 0, faults != 0);
	return faults;
}

static struct tsync_node *
reopen(struct tsync_node *n, const char *name)
{
	char dir[400];
	struct tsync_node *o = NULL;

	snprintf(dir, sizeof(dir), "%s/%s", tn_root(), name);
	tsync_node_close(n);
	if (tsync_node_open(dir, NULL, &o) != 0)
		fprintf(stderr, "open %s: %s\n", name, tsync_node_errmsg(o));
	return o;
}

/* Lays n's replica out as release 0.1.0 left it: schema 1, no records
 * tables, no ts_later kept. */
static void
as_release_010(struct tsync_node *n)
{
	sqlite3_stmt *s;
	char sql[4096];
	size_t len = 0;

	sqlite3_prepare_v2(n->db, "SELECT name FROM ts_tables WHERE name <>"
				  " 'cases'", -1, &s, NULL);
	while (sqlite3_step(s) == SQLITE_ROW && len < sizeof(sql))
		len += (size_t)snprintf(sql + len, sizeof(sql) - len,
					"DROP TABLE \"%s\";",
					sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	CHECK_EQ(sqlite3_exec(n->db, sql, NULL, NULL, NULL), SQLITE_OK);
	CHECK_EQ(sqlite3_exec(n->db,
			      "DELETE FROM ts_tables WHERE name <> 'cases';"
			      "UPDATE ts_meta SET value = '1' WHERE key ="
			      " 'schema_version';",
			      NULL, NULL, NULL),
		 SQLITE_OK);
	CHECK_EQ(ts_store_load_tables(n), 0);
}

/* Schema step 1 -> 2. */
static void
step_1_2(void)
{
	struct tsync_node *v = tn_node("v", "gangzha/s1/v1", "office", NULL);
	struct tsync_node *s = tn_node("s", "gangzha/s1", "office", NULL);
	char dv[65], ds[65], path[400];
	sqlite3 *bak;
	struct stat st;

	as_release_010(s);
	CHECK_EQ(tn_sql(v, "INSERT INTO edits(id, scope, no, recorded_by,"
			   " kind, record, fields) VALUES('e1',"
			   " 'gangzha/s1/v1', '1', '张三', 'dispute', 'd1',"
			   " 'title')"),
		 0);
	CHECK_EQ(tn_sql(v, "INSERT INTO cases(id, scope, title) VALUES('c1',"
			   " 'gangzha/s1/v1', 'known to both')"),
		 0);
	CHECK_EQ(tn_sql(v, "UPDATE edits SET fields = 'title,parties' WHERE"
			   " id = 'e1'"),
		 0);
	deliver(v, s);
	/* Held, relayed as is, not applied: the table is unknown there. */
	CHECK_EQ(count(s, "SELECT count(*) FROM ts_log"), 3);
	CHECK_EQ(count(s, "SELECT count(*) FROM cases"), 1);
	CHECK_EQ(count(s, "SELECT count(*) FROM ts_later"), 2);
	/* Release 0.1.0 kept no ts_later: the migration reads the log. */
	CHECK_EQ(sqlite3_exec(s->db, "DELETE FROM ts_later; DELETE FROM"
				     " ts_meta WHERE key = 'later_kept'",
			      NULL, NULL, NULL),
		 SQLITE_OK);
	s = reopen(s, "s");
	CHECK(s != NULL);
	if (s == NULL)
		return;
	snprintf(path, sizeof(path), "%s/s/replica.db.schema1-backup",
		 tn_root());
	CHECK_EQ(stat(path, &st), 0);
	CHECK_EQ(sqlite3_open_v2(path, &bak, SQLITE_OPEN_READONLY, NULL),
		 SQLITE_OK);
	{
		sqlite3_stmt *q;

		sqlite3_prepare_v2(bak, "SELECT value FROM ts_meta WHERE key ="
					" 'schema_version'", -1, &q, NULL);
		CHECK(sqlite3_step(q) == SQLITE_ROW &&
		      strcmp((const char *)sqlite3_column_text(q, 0), "1") == 0);
		sqlite3_finalize(q);
	}
	sqlite3_close(bak);
	text_of(s, "SELECT fields FROM edits WHERE id = 'e1'", ds, sizeof(ds));
	CHECK_STR(ds, "title,parties");
	CHECK_EQ(count(s, "SELECT count(*) FROM ts_later"), 0);
	CHECK_EQ(faults_of(s), 0);
	CHECK_EQ(tsync_node_digest(v, "gangzha/s1/v1", dv), 0);
	CHECK_EQ(tsync_node_digest(s, "gangzha/s1/v1", ds), 0);
	CHECK_STR(dv, ds);
	/* A replica of a schema newer than this release is refused. */
	CHECK_EQ(sqlite3_exec(s->db, "UPDATE ts_meta SET value = '9' WHERE"
				     " key = 'schema_version'",
			      NULL, NULL, NULL),
		 SQLITE_OK);
	s = reopen(s, "s");
	CHECK(s == NULL || strstr(tsync_node_errmsg(s), "schema version 9") !=
				   NULL);
	if (s != NULL)
		CHECK(strstr(tsync_node_errmsg(s), "run the newer release") !=
		      NULL);
	tsync_node_close(s);
	tsync_node_close(v);
}

/* Schema step 2 -> 3 (receipts and evidence): a schema-2 replica gains
 * both tables, with its backup, and verifies clean. */
static void
step_2_3(void)
{
	struct tsync_node *x = tn_node("x23", "gangzha/s3", "office", NULL);
	char path[400], v[32];
	struct stat st;

	CHECK_EQ(tn_sql(x, "INSERT INTO cases(id, scope, title) VALUES('k1',"
			   " 'gangzha/s3', 'kept')"),
		 0);
	CHECK_EQ(sqlite3_exec(x->db,
			      "DROP TABLE receipts; DROP TABLE evidence;"
			      " DELETE FROM ts_tables WHERE name IN"
			      " ('receipts', 'evidence');"
			      " UPDATE ts_meta SET value = '2' WHERE key ="
			      " 'schema_version'",
			      NULL, NULL, NULL),
		 SQLITE_OK);
	x = reopen(x, "x23");
	CHECK(x != NULL);
	if (x == NULL)
		return;
	snprintf(path, sizeof(path), "%s/x23/replica.db.schema2-backup",
		 tn_root());
	CHECK_EQ(stat(path, &st), 0);
	CHECK_EQ(count(x, "SELECT count(*) FROM receipts"), 0);
	CHECK_EQ(count(x, "SELECT count(*) FROM evidence"), 0);
	CHECK_EQ(count(x, "SELECT count(*) FROM ts_tables WHERE name IN"
			  " ('receipts', 'evidence')"),
		 2);
	text_of(x, "SELECT value FROM ts_meta WHERE key = 'schema_version'", v,
		sizeof(v));
	CHECK_EQ(num_of(v), SCHEMA_VERSION);
	text_of(x, "SELECT title FROM cases WHERE id = 'k1'", v, sizeof(v));
	CHECK_STR(v, "kept");
	CHECK_EQ(faults_of(x), 0);
	tsync_node_close(x);
}

static const char *const cols_old[] = {"a"};
static const char *const cols_new[] = {"a", "b"};
static const char *const types_old[] = {"TEXT"};
static const char *const types_new[] = {"TEXT", "TEXT DEFAULT 'none'"};

static void
declare(struct tsync_node *n, int newer)
{
	CHECK_EQ(ts_store_declare(n, "notes", newer ? cols_new : cols_old,
			       newer ? types_new : types_old, newer ? 2 : 1),
		 0);
	CHECK_EQ(ts_store_load_tables(n), 0);
}

/* A new column with a default, across an older and a newer node. */
static void
new_column(void)
{
	struct tsync_node *nv = tn_node("nv", "gangzha/s2/v1", "office", NULL);
	struct tsync_node *ov = tn_node("ov", "gangzha/s2/v2", "office", NULL);
	struct tsync_node *s = tn_node("s2", "gangzha/s2", "office", NULL);
	int old_ncol[TBL_MAX_TABLES + 1] = {0};
	uint64_t merged = 0;
	char v[64];
	struct tbl *t;

	declare(nv, 1);
	declare(ov, 0);
	declare(s, 0);
	/* Declared columns are only ever appended. */
	CHECK_EQ(ts_store_declare(s, "notes", cols_new + 1, types_new + 1, 1),
		 TSYNC_EINVAL);
	CHECK_EQ(tn_sql(nv, "INSERT INTO notes(id, scope, a, b) VALUES('n1',"
			    " 'gangzha/s2/v1', 'x', 'y')"),
		 0);
	CHECK_EQ(tn_sql(nv, "INSERT INTO notes(id, scope, a) VALUES('n2',"
			    " 'gangzha/s2/v1', 'only a')"),
		 0);
	text_of(nv, "SELECT b FROM notes WHERE id = 'n2'", v, sizeof(v));
	CHECK_STR(v, "none");
	deliver(nv, s);
	/* The older street holds a, keeps b for later. */
	text_of(s, "SELECT a FROM notes WHERE id = 'n1'", v, sizeof(v));
	CHECK_STR(v, "x");
	CHECK_EQ(count(s, "SELECT count(*) FROM ts_later"), 2);
	CHECK_EQ(faults_of(s), 0);
	/* verify notices a ts_later edited behind the node. */
	CHECK_EQ(sqlite3_exec(s->db, "DELETE FROM ts_later WHERE k = (SELECT"
				     " min(k) FROM ts_later)",
			      NULL, NULL, NULL),
		 SQLITE_OK);
	CHECK_EQ(faults_of(s), 1);
	CHECK_EQ(sqlite3_exec(s->db, "INSERT INTO ts_later SELECT min(k), 2"
				     " FROM ts_log",
			      NULL, NULL, NULL),
		 SQLITE_OK);
	CHECK_EQ(faults_of(s), 0);
	/* The street upgrades: b is declared, the held values merged. */
	t = ts_store_table(s, "notes", 5);
	CHECK(t != NULL);
	old_ncol[t->tid] = t->ncol;
	CHECK_EQ(sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
	declare(s, 1);
	CHECK_EQ(apply_later(s, old_ncol, 0, &merged), 0);
	CHECK_EQ(sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	CHECK_EQ(merged, 2);
	text_of(s, "SELECT b FROM notes WHERE id = 'n1'", v, sizeof(v));
	CHECK_STR(v, "y");
	text_of(s, "SELECT b FROM notes WHERE id = 'n2'", v, sizeof(v));
	CHECK_STR(v, "none");
	CHECK_EQ(count(s, "SELECT count(*) FROM ts_later"), 0);
	CHECK_EQ(faults_of(s), 0);
	/* An older village's row gets the default at the newer street. */
	CHECK_EQ(tn_sql(ov, "INSERT INTO notes(id, scope, a) VALUES('o1',"
			    " 'gangzha/s2/v2', 'old')"),
		 0);
	deliver(ov, s);
	text_of(s, "SELECT b FROM notes WHERE id = 'o1'", v, sizeof(v));
	CHECK_STR(v, "none");
	CHECK_EQ(count(s, "SELECT count(*) FROM ts_later"), 0);
	CHECK_EQ(faults_of(s), 0);
	/* A later edit of b at the newer village wins over the default. */
	CHECK_EQ(tn_sql(nv, "UPDATE notes SET b = 'z' WHERE id = 'n2'"), 0);
	deliver(nv, s);
	text_of(s, "SELECT b FROM notes WHERE id = 'n2'", v, sizeof(v));
	CHECK_STR(v, "z");
	CHECK_EQ(faults_of(s), 0);
	tsync_node_close(s);
	tsync_node_close(ov);
	tsync_node_close(nv);
}

int
main(void)
{
	step_1_2();
	step_2_3();
	new_column();
	tn_cleanup();
	return CHECK_DONE();
}
