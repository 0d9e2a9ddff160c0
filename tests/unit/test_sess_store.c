/*
 * test_sess_store.c - a session over a store the test supplies
 * (sess_store.h): the node's own class wrapped by one that fails a chosen
 * method (apply, read, the stream list, or a group's begin, second apply
 * or commit).  The session must fail cleanly, name the store's error,
 * keep nothing half done, and the next session over the plain store must
 * complete.
 */
#include "check.h"
#include "node_int.h"
#include "sess_store.h"
#include "session.h"
#include "testnode.h"

/* The node's class, with one method failing while `fail` is set. */
struct faulty {
	struct tsync_node *n;
	int fail_apply, fail_read, fail_streams, fail_begin, fail_commit;
	unsigned fail_apply_at; /* the n-th apply fails (0: none) */
	unsigned applies, reads, commits;
	char err[128];
};

static struct sess_store_class faulty_class;

static void
f_self(void *ctx, uint64_t *id, const char **scope, const char **role)
{
	struct faulty *f = ctx;

	sess_store_node.self(f->n, id, scope, role);
}

static int
f_streams(void *ctx, struct stream_row **rows, size_t *count)
{
	struct faulty *f = ctx;

	if (f->fail_streams) {
		snprintf(f->err, sizeof(f->err), "injected: streams");
		return TSYNC_EIO;
	}
	return sess_store_node.streams(f->n, rows, count);
}

static int
f_heads(void *ctx, struct stream_row **rows,
	uint8_t (**hashes)[KEYS_HASH_LEN], size_t *count)
{
	struct faulty *f = ctx;

	return sess_store_node.heads(f->n, rows, hashes, count);
}

static int
f_read(void *ctx, int64_t sid, uint64_t from, uint64_t to, size_t max,
       int may_exceed, ts_log_txn_cb cb, void *arg)
{
	struct faulty *f = ctx;

	f->reads++;
	if (f->fail_read) {
		snprintf(f->err, sizeof(f->err), "injected: read");
		return TSYNC_EIO;
	}
	return sess_store_node.read(f->n, sid, from, to, max, may_exceed, cb,
				    arg);
}

static int
f_begin(void *ctx)
{
	struct faulty *f = ctx;

	if (f->fail_begin) {
		snprintf(f->err, sizeof(f->err), "injected: begin");
		return TSYNC_EBUSY;
	}
	return sess_store_node.begin(f->n);
}

static int
f_commit(void *ctx)
{
	struct faulty *f = ctx;

	f->commits++;
	if (f->fail_commit) {
		/* As a failed COMMIT does: rolled back, then the error. */
		sess_store_node.rollback(f->n);
		snprintf(f->err, sizeof(f->err), "injected: commit");
		return TSYNC_EFULL;
	}
	return sess_store_node.commit(f->n);
}

static void
f_rollback(void *ctx)
{
	sess_store_node.rollback(((struct faulty *)ctx)->n);
}

static int
f_apply(void *ctx, const struct wire_txn *t, size_t count, const char *peer,
	struct apply_report *rep, apply_held_cb held, void *arg, int grouped)
{
	struct faulty *f = ctx;

	f->applies++;
	if (f->fail_apply ||
	    (f->fail_apply_at != 0 && f->applies == f->fail_apply_at)) {
		snprintf(f->err, sizeof(f->err), "injected: disk full");
		return TSYNC_EFULL;
	}
	return sess_store_node.apply(f->n, t, count, peer, rep, held, arg,
				     grouped);
}

static int
f_cert_pem(void *ctx, uint64_t origin, char **pem, size_t *len)
{
	return sess_store_node.cert_pem(((struct faulty *)ctx)->n, origin, pem,
					len);
}

static int
f_cert_add(void *ctx, const void *pem, size_t len)
{
	return sess_store_node.cert_add(((struct faulty *)ctx)->n, pem, len);
}

static int
f_crl_pem(void *ctx, char **pem, size_t *len)
{
	return sess_store_node.crl_pem(((struct faulty *)ctx)->n, pem, len);
}

static int
f_crl_install(void *ctx, const void *pem, size_t len, int *installed,
	      uint64_t *no)
{
	return sess_store_node.crl_install(((struct faulty *)ctx)->n, pem, len,
					   installed, no);
}

static int
f_sign(void *ctx, const uint8_t hash[KEYS_HASH_LEN],
       uint8_t sig[KEYS_SIG_LEN])
{
	return sess_store_node.sign(((struct faulty *)ctx)->n, hash, sig);
}

static int
f_check(void *ctx, uint64_t origin, const uint8_t hash[KEYS_HASH_LEN],
	const uint8_t sig[KEYS_SIG_LEN])
{
	return sess_store_node.check(((struct faulty *)ctx)->n, origin, hash,
				     sig);
}

static const char *
f_errmsg(void *ctx)
{
	struct faulty *f = ctx;

	return f->err[0] ? f->err : sess_store_node.errmsg(f->n);
}

/* Runs two sessions to the end; returns 1 if both reported in sync.  The
 * close reasons land in why_a / why_b. */
static int
pipe_run(struct sess *a, struct sess *b, char *why_a, char *why_b)
{
	int synced = 0, rounds = 0, moved = 1;

	while (moved && rounds++ < 10000) {
		struct sess *side[2] = {a, b};
		char *why[2] = {why_a, why_b};
		int i;

		moved = 0;
		for (i = 0; i < 2; i++) {
			struct sess_action x;
			const uint8_t *p;
			size_t n;

			while (sess_poll(side[i], 0, &x)) {
				if (x.type == SA_SYNCED && x.code == 0)
					synced++;
				if (x.type == SA_CLOSE)
					snprintf(why[i], 320, "%s", x.text);
			}
			p = sess_pending(side[i], &n);
			if (n > 0) {
				sess_feed(side[1 - i], p, n);
				sess_sent(side[i], n);
				moved = 1;
			}
		}
	}
	return synced == 2;
}

static int
rows(struct tsync_node *n)
{
	sqlite3_stmt *s;
	int c = -1;

	sqlite3_prepare_v2(tsync_node_db(n), "SELECT count(*) FROM cases", -1,
			   &s, NULL);
	if (sqlite3_step(s) == SQLITE_ROW)
		c = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return c;
}

static int sync_batches(struct tsync_node *v, struct faulty *fv,
			struct tsync_node *st, struct faulty *fs, char *why_v,
			char *why_st, unsigned batch_txns);

/* One sync of v (through the faulty store when fv, else plain) into st
 * (faulty when fs).  Returns 1 if in sync. */
static int
sync_via(struct tsync_node *v, struct faulty *fv, struct tsync_node *st,
	 struct faulty *fs, char *why_v, char *why_st)
{
	return sync_batches(v, fv, st, fs, why_v, why_st, 0);
}

/* The same, `batch_txns` txns a batch (0: the default). */
static int
sync_batches(struct tsync_node *v, struct faulty *fv, struct tsync_node *st,
	     struct faulty *fs, char *why_v, char *why_st, unsigned batch_txns)
{
	struct sess_store sv = {&faulty_class, fv}, ss = {&faulty_class, fs};
	struct sess_cfg c = {0};
	struct sess *a, *b;
	int ok;

	why_v[0] = why_st[0] = '\0';
	c.one_shot = 1;
	c.batch_txns = batch_txns;
	c.node = v;
	c.store = fv ? &sv : NULL;
	a = sess_new(&c, 0);
	c.node = st;
	c.store = fs ? &ss : NULL;
	b = sess_new(&c, 0);
	ok = pipe_run(a, b, why_v, why_st);
	CHECK(sqlite3_get_autocommit(tsync_node_db(v)));
	CHECK(sqlite3_get_autocommit(tsync_node_db(st)));
	sess_free(a);
	sess_free(b);
	return ok;
}

int
main(void)
{
	struct tsync_node *v, *st;
	struct faulty fv = {0}, fs = {0};
	char why_v[320], why_st[320];
	int i;

	faulty_class = (struct sess_store_class){
		.self = f_self,
		.streams = f_streams,
		.heads = f_heads,
		.read = f_read,
		.begin = f_begin,
		.commit = f_commit,
		.rollback = f_rollback,
		.apply = f_apply,
		.cert_pem = f_cert_pem,
		.cert_add = f_cert_add,
		.crl_pem = f_crl_pem,
		.crl_install = f_crl_install,
		.sign = f_sign,
		.check = f_check,
		.errmsg = f_errmsg,
	};
	v = tn_node("ss-v", "gangzha/henghe/x", "office", NULL);
	st = tn_node("ss-st", "gangzha/henghe", "office", NULL);
	fv.n = v;
	fs.n = st;
	for (i = 0; i < 3; i++) {
		char sql[160];

		snprintf(sql, sizeof(sql), "INSERT INTO cases(id, scope) VALUES"
			 "('ss-%d', 'gangzha/henghe/x')", i);
		CHECK_EQ(tn_sql(v, sql), 0);
	}

	/* The receiver's store cannot apply: its session fails naming the
	 * store's error, the sender hears why, nothing lands. */
	fs.fail_apply = 1;
	CHECK(!sync_via(v, NULL, st, &fs, why_v, why_st));
	CHECK(fs.applies >= 1);
	CHECK(strstr(why_st, "injected: disk full") != NULL);
	CHECK(strstr(why_v, "injected: disk full") != NULL);
	CHECK_EQ(rows(st), 0);

	/* The sender's store cannot read its log: the same, the other way. */
	fs.fail_apply = 0;
	fs.err[0] = '\0';
	fv.fail_read = 1;
	CHECK(!sync_via(v, &fv, st, &fs, why_v, why_st));
	CHECK(fv.reads >= 1);
	CHECK(strstr(why_v, "injected: read") != NULL);
	CHECK_EQ(rows(st), 0);

	/* Nor list its streams. */
	fv.fail_read = 0;
	fv.fail_streams = 1;
	CHECK(!sync_via(v, &fv, st, NULL, why_v, why_st));
	CHECK(strstr(why_v, "injected: streams") != NULL);

	/* One txn a batch, so `tiersync sync`'s group holds two batches
	 * under one commit.  The second apply fails after the first was
	 * applied in the group: the group is rolled back whole, nothing
	 * lands, no transaction is left open. */
	fv.fail_streams = 0;
	fv.err[0] = '\0';
	fs.applies = 0;
	fs.fail_apply_at = 2;
	CHECK(!sync_batches(v, NULL, st, &fs, why_v, why_st, 1));
	CHECK_EQ(fs.applies, 2);
	CHECK(strstr(why_st, "injected: disk full") != NULL);
	CHECK_EQ(rows(st), 0);
	/* The group's COMMIT fails: its two batches are gone with it. */
	fs.fail_apply_at = 0;
	fs.err[0] = '\0';
	fs.applies = fs.commits = 0;
	fs.fail_commit = 1;
	CHECK(!sync_batches(v, NULL, st, &fs, why_v, why_st, 1));
	CHECK(fs.applies >= 2 && fs.commits >= 1);
	CHECK(strstr(why_st, "injected: commit") != NULL);
	CHECK_EQ(rows(st), 0);
	/* The group cannot begin. */
	fs.fail_commit = 0;
	fs.err[0] = '\0';
	fs.fail_begin = 1;
	CHECK(!sync_batches(v, NULL, st, &fs, why_v, why_st, 1));
	CHECK(strstr(why_st, "injected: begin") != NULL);
	CHECK_EQ(rows(st), 0);
	fs.fail_begin = 0;
	fs.err[0] = '\0';

	/* Through the wrapped stores with no fault, and then the plain
	 * ones: complete, everything once. */
	fv.fail_streams = 0;
	fv.err[0] = '\0';
	fv.reads = fs.applies = 0;
	CHECK(sync_via(v, &fv, st, &fs, why_v, why_st));
	CHECK(fv.reads >= 1 && fs.applies >= 1); /* the session used them */
	CHECK_EQ(rows(st), 3);
	CHECK(sync_via(v, NULL, st, NULL, why_v, why_st));
	CHECK_EQ(rows(st), 3);
	CHECK_EQ(tsync_node_verify(st, NULL, NULL), 0);
	tsync_node_close(v);
	tsync_node_close(st);
	tn_cleanup();
	return CHECK_DONE();
}
