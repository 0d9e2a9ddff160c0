/*
 * test_capture.c - change capture on a real node in a temporary directory:
 * insert, update, delete, folding, multi-scope commits, refusals, the clock
 * that runs behind, and a clean verify afterwards.
 */
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "node_int.h"
#include "txn.h"

static uint64_t fake_now = 1700000000000ULL;

static uint64_t
now_ms(void *ctx)
{
	(void)ctx;
	return fake_now;
}

/* Decodes txn `seq` of this node's stream in `scope`. */
static int
load_txn(struct tsync_node *n, const char *scope, uint64_t seq, struct txn *t)
{
	sqlite3_stmt *s;
	char err[128];
	int rc = -1;

	sqlite3_prepare_v2(n->db,
			   "SELECT l.body FROM ts_log l JOIN ts_streams s ON"
			   " s.sid = l.k >> 40 WHERE s.origin = ?1 AND"
			   " s.scope = ?2 AND (l.k & 1099511627775) = ?3",
			   -1, &s, NULL);
	sqlite3_bind_int64(s, 1, (int64_t)n->id);
	sqlite3_bind_text(s, 2, scope, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (int64_t)seq);
	memset(t, 0, sizeof(*t));
	msgpack_unpacked_init(&t->up);
	if (sqlite3_step(s) == SQLITE_ROW) {
		/* Decoded objects point into the body: keep a copy. */
		static uint8_t body[1 << 16];
		size_t len = (size_t)sqlite3_column_bytes(s, 0);

		txn_done(t);
		if (len <= sizeof(body)) {
			memcpy(body, sqlite3_column_blob(s, 0), len);
			rc = txn_decode(t, body, len, err, sizeof(err));
		}
	}
	sqlite3_finalize(s);
	return rc;
}

static uint64_t
head(struct tsync_node *n, const char *scope)
{
	struct stream_head h;

	if (ts_log_head(n, n->id, scope, strlen(scope), &h) != 0)
		return 0;
	return h.seq;
}

static int
count_rows(void *arg, int ncol, const char *const *names,
	   const char *const *vals)
{
	(void)ncol;
	(void)names;
	*(int *)arg = atoi(vals[0]);
	return 0;
}

static void
faultcb(void *arg, const char *f)
{
	(void)arg;
	fprintf(stderr, "fault: %s\n", f);
}

int
main(void)
{
	char tmpl[] = "/tmp/tsync-cap-XXXXXX", ca[300], nd[300], err[512];
	const char *V = "gangzha/qinzao/feiqiao";
	struct tsync_ops ops = {now_ms, NULL, NULL, NULL, NULL};
	struct tsync_node *n;
	struct txn t;
	struct txn_change c;
	struct txn_col col;
	uint64_t v1;
	int cnt;

	CHECK(mkdtemp(tmpl) != NULL);
	snprintf(ca, sizeof(ca), "%s/ca", tmpl);
	snprintf(nd, sizeof(nd), "%s/street", tmpl);
	CHECK_EQ(tsync_ca_init(ca, "gangzha", 30, err, sizeof(err)), 0);
	CHECK_EQ(tsync_ca_issue(ca, "gangzha/qinzao", "office", 30, nd, err,
				sizeof(err)), 0);
	CHECK_EQ(tsync_node_init(nd, NULL, err, sizeof(err)), 0);
	CHECK_EQ(tsync_node_init(nd, NULL, err, sizeof(err)), TSYNC_EEXIST);
	CHECK_EQ(tsync_node_open(nd, &ops, &n), 0);

	/* Insert: one txn, seq 1, all data columns, nothing overwritten. */
	CHECK_EQ(tsync_node_exec(n, "INSERT INTO cases(id, scope, category,"
				    " title, status) VALUES('c1',"
				    " 'gangzha/qinzao/feiqiao', 'family',"
				    " '婚姻纠纷', 'registered')",
				 NULL, NULL), 0);
	CHECK_EQ(head(n, V), 1);
	CHECK_EQ(load_txn(n, V, 1, &t), 0);
	CHECK_EQ(t.nchanges, 1);
	txn_change_at(&t, 0, &c);
	CHECK_EQ(c.kind, TXN_INSERT);
	CHECK_EQ(c.ncols, 6);
	CHECK_EQ(c.row_prev_hlc, 0);
	v1 = t.hlc;
	CHECK_EQ(hlc_ms(v1), fake_now);
	txn_done(&t);

	/* Update: only the changed column, naming the version it overwrote. */
	fake_now += 10;
	CHECK_EQ(tsync_node_exec(n, "UPDATE cases SET status='mediating',"
				    " category='family' WHERE id='c1'",
				 NULL, NULL), 0);
	CHECK_EQ(head(n, V), 2);
	CHECK_EQ(load_txn(n, V, 2, &t), 0);
	txn_change_at(&t, 0, &c);
	CHECK_EQ(c.kind, TXN_UPDATE);
	CHECK_EQ(c.ncols, 1);
	txn_col_at(&c, 0, &col);
	CHECK(col.name_len == 6 && memcmp(col.name, "status", 6) == 0);
	CHECK_EQ(col.prev_hlc, v1);
	CHECK_EQ(col.prev_origin, n->id);
	CHECK(memcmp(t.prev, (uint8_t[32]){0}, 32) != 0);
	txn_done(&t);

	/* An update that changes nothing writes no txn. */
	CHECK_EQ(tsync_node_exec(n, "UPDATE cases SET status='mediating'",
				 NULL, NULL), 0);
	CHECK_EQ(head(n, V), 2);

	/* Insert then update in one commit folds into one insert. */
	CHECK_EQ(tsync_node_exec(n, "INSERT INTO cases(id, scope, title)"
				    " VALUES('c2', 'gangzha/qinzao/feiqiao',"
				    " 'a'); UPDATE cases SET title='b' WHERE"
				    " id='c2'",
				 NULL, NULL), 0);
	CHECK_EQ(head(n, V), 3);
	CHECK_EQ(load_txn(n, V, 3, &t), 0);
	CHECK_EQ(t.nchanges, 1);
	txn_change_at(&t, 0, &c);
	CHECK_EQ(c.kind, TXN_INSERT);
	txn_col_at(&c, 1, &col); /* title */
	CHECK(col.value->type == MSGPACK_OBJECT_STR &&
	      col.value->via.str.ptr[0] == 'b');
	txn_done(&t);

	/* One commit touching two scopes becomes one txn per scope. */
	CHECK_EQ(tsync_node_exec(n, "INSERT INTO cases(id, scope) VALUES"
				    "('c3', 'gangzha/qinzao'),"
				    "('c4', 'gangzha/qinzao/feiqiao')",
				 NULL, NULL), 0);
	CHECK_EQ(head(n, "gangzha/qinzao"), 1);
	CHECK_EQ(head(n, V), 4);

	/* Delete: a tombstone naming the row version it overwrote. */
	CHECK_EQ(tsync_node_exec(n, "DELETE FROM cases WHERE id='c1'", NULL,
				 NULL), 0);
	CHECK_EQ(head(n, V), 5);
	CHECK_EQ(load_txn(n, V, 5, &t), 0);
	txn_change_at(&t, 0, &c);
	CHECK_EQ(c.kind, TXN_DELETE);
	CHECK_EQ(c.row_prev_hlc, v1);
	CHECK_EQ(c.ncols, 0);
	txn_done(&t);

	/* Refusals: out of scope, changed scope, engine tables, nested
	 * transactions; each leaves nothing behind. */
	CHECK_EQ(tsync_node_exec(n, "INSERT INTO cases(id, scope) VALUES"
				    "('x1', 'gangzha/other')",
				 NULL, NULL), TSYNC_ESCOPE);
	CHECK_EQ(tsync_node_exec(n, "INSERT INTO cases(id, scope) VALUES"
				    "('x2', 'gangzha/qinzao/feiqiao'),"
				    "('x3', 'gangzha')",
				 NULL, NULL), TSYNC_ESCOPE);
	CHECK_EQ(tsync_node_exec(n, "UPDATE cases SET scope='gangzha/qinzao'"
				    " WHERE id='c2'",
				 NULL, NULL), TSYNC_EINVAL);
	CHECK(tsync_node_exec(n, "DELETE FROM ts_log", NULL, NULL) != 0);
	CHECK(tsync_node_exec(n, "DROP TABLE cases", NULL, NULL) != 0);
	CHECK(tsync_node_exec(n, "COMMIT", NULL, NULL) != 0);
	CHECK(tsync_node_exec(n, "INSERT INTO cases(id) VALUES('x4')", NULL,
			      NULL) != 0);
	CHECK(tsync_node_exec(n, "INSERT INTO nosuch VALUES(1)", NULL,
			      NULL) != 0);
	cnt = -1;
	CHECK_EQ(tsync_node_exec(n, "SELECT count(*) FROM cases WHERE id"
				    " LIKE 'x%'", count_rows, &cnt), 0);
	CHECK_EQ(cnt, 0);
	CHECK_EQ(head(n, V), 5);
	CHECK_EQ(head(n, "gangzha"), 0);

	/* A row cannot move to another scope: not by REPLACE in one commit,
	 * not by re-inserting a deleted id elsewhere. */
	CHECK_EQ(tsync_node_exec(n, "REPLACE INTO cases(id, scope) VALUES"
				    "('c2', 'gangzha/qinzao')",
				 NULL, NULL), TSYNC_EINVAL);
	CHECK_EQ(tsync_node_exec(n, "INSERT INTO cases(id, scope) VALUES"
				    "('c1', 'gangzha/qinzao')",
				 NULL, NULL), TSYNC_EINVAL);
	CHECK_EQ(tsync_node_exec(n, "INSERT INTO cases(id, scope) VALUES"
				    "('c1', 'gangzha/qinzao/feiqiao')",
				 NULL, NULL), 0); /* same scope: revived */
	CHECK_EQ(tsync_node_exec(n, "DELETE FROM cases WHERE id='c1'", NULL,
				 NULL), 0);
	CHECK_EQ(head(n, V), 7);

	/* A write through tsync_node_db() outside a node transaction is
	 * not captured, so it is rolled back, never committed. */
	CHECK(sqlite3_exec(tsync_node_db(n), "INSERT INTO cases(id, scope)"
			   " VALUES('stray', 'gangzha/qinzao/feiqiao')",
			   NULL, NULL, NULL) != SQLITE_OK);
	cnt = -1;
	CHECK_EQ(tsync_node_exec(n, "SELECT count(*) FROM cases WHERE"
				    " id='stray'", count_rows, &cnt), 0);
	CHECK_EQ(cnt, 0);
	CHECK_EQ(tsync_node_exec(n, "INSERT INTO cases(id, scope) VALUES"
				    "('after', 'gangzha/qinzao/feiqiao')",
				 NULL, NULL), 0);
	CHECK_EQ(head(n, V), 8);

	/* A clock that runs behind still writes larger versions. */
	fake_now -= 3600 * 1000;
	CHECK_EQ(tsync_node_exec(n, "UPDATE cases SET notes='n' WHERE"
				    " id='c2'",
				 NULL, NULL), 0);
	CHECK_EQ(load_txn(n, V, 9, &t), 0);
	txn_change_at(&t, 0, &c);
	txn_col_at(&c, 0, &col);
	CHECK(t.hlc > col.prev_hlc);
	CHECK(t.hlc > v1);
	txn_done(&t);

	/* A clock outside 2020..2100 writes nothing. */
	{
		uint64_t keep = fake_now;

		fake_now = 1000;
		CHECK_EQ(tsync_node_exec(n, "UPDATE cases SET notes='z' WHERE"
					    " id='c2'",
					 NULL, NULL), TSYNC_EINVAL);
		fake_now = HLC_END_MS + 1;
		CHECK_EQ(tsync_node_exec(n, "UPDATE cases SET notes='z' WHERE"
					    " id='c2'",
					 NULL, NULL), TSYNC_EINVAL);
		fake_now = keep;
		CHECK_EQ(head(n, V), 9);
	}

	CHECK_EQ(tsync_node_verify(n, faultcb, NULL), 0);
	tsync_node_close(n);

	/* Reopen: the clock resumes above everything stored. */
	CHECK_EQ(tsync_node_open(nd, &ops, &n), 0);
	CHECK_EQ(tsync_node_exec(n, "UPDATE cases SET notes='m' WHERE"
				    " id='c2'",
				 NULL, NULL), 0);
	CHECK_EQ(head(n, V), 10);
	CHECK_EQ(tsync_node_verify(n, faultcb, NULL), 0);
	tsync_node_close(n);
	{
		char cmd[400];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpl);
		CHECK_EQ(system(cmd), 0);
	}
	return CHECK_DONE();
}
