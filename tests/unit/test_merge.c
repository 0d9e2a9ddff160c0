/*
 * test_merge.c - properties of the merge, on real nodes:
 *  - every order of arrival converges: random histories of concurrent
 *    writes (updates of the same columns, deletes, edits on top of
 *    received values) are replayed into a fresh replica in every
 *    interleaving of their streams (all of them when there are few,
 *    a seeded sample otherwise); value, conflict set and verify agree;
 *  - applying twice changes nothing (idempotence);
 *  - one id used by two sibling villages: in every order of arrival the
 *    district shows the same rows, conflicts and id clashes, verify is
 *    clean, and the street that saw them in its own order between its
 *    own writes ends the same (docs/data-model.md, "One id, two scopes");
 *  - a delete concurrent with an update deletes the row (the update's
 *    value is kept in the tombstone and returns with a re-insert);
 *  - a far-ahead clock is accepted as data, flagged, and does not drag
 *    the receiver's clock; a write on top of it still wins.
 */
#include <sys/stat.h>

#include "apply.h"
#include "check.h"
#include "node_int.h"
#include "testnode.h"
#include "txn.h"

struct clock {
	uint64_t now;
	int64_t skew;
};

static uint64_t
clock_now(void *ctx)
{
	struct clock *c = ctx;

	return (uint64_t)((int64_t)c->now + c->skew);
}

struct txnlist {
	struct wire_txn *w;
	uint8_t **mem;
	uint64_t *stream; /* sid of the origin node's log */
	uint64_t *owner;  /* origin */
	size_t n, cap;
};

static void
tl_add(struct txnlist *l, const void *body, size_t len, const void *sig,
       uint64_t origin, uint64_t sid)
{
	uint8_t *m = malloc(len + 64);

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->w = realloc(l->w, l->cap * sizeof(*l->w));
		l->mem = realloc(l->mem, l->cap * sizeof(*l->mem));
		l->stream = realloc(l->stream, l->cap * sizeof(*l->stream));
		l->owner = realloc(l->owner, l->cap * sizeof(*l->owner));
	}
	memcpy(m, body, len);
	memcpy(m + len, sig, 64);
	l->mem[l->n] = m;
	l->w[l->n].body = m;
	l->w[l->n].len = len;
	l->w[l->n].sig = m + len;
	l->stream[l->n] = sid;
	l->owner[l->n] = origin;
	l->n++;
}

static void
tl_free(struct txnlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->mem[i]);
	free(l->w);
	free(l->mem);
	free(l->stream);
	free(l->owner);
	memset(l, 0, sizeof(*l));
}

/* The txns a node originated, in stream order. */
static void
own_txns(struct tsync_node *n, struct txnlist *l)
{
	sqlite3_stmt *s;

	sqlite3_prepare_v2(n->db,
			   "SELECT l.body, l.sig, s.origin, s.sid FROM ts_log l"
			   " JOIN ts_streams s ON s.sid = l.k >> 40 WHERE"
			   " s.origin = ?1 ORDER BY l.k",
			   -1, &s, NULL);
	sqlite3_bind_int64(s, 1, (int64_t)n->id);
	while (sqlite3_step(s) == SQLITE_ROW)
		tl_add(l, sqlite3_column_blob(s, 0),
		       (size_t)sqlite3_column_bytes(s, 0),
		       sqlite3_column_blob(s, 1),
		       (uint64_t)sqlite3_column_int64(s, 2),
		       (uint64_t)sqlite3_column_int64(s, 3));
	sqlite3_finalize(s);
}

/* `to` learns `from`'s certificate (a session sends it as a CERT). */
static void
learn_cert(struct tsync_node *from, struct tsync_node *to)
{
	char *pem;
	size_t len;

	if (certs_pem(from, from->id, &pem, &len) == 0) {
		CHECK_EQ(certs_add_pem(to, pem, len), 0);
		free(pem);
	}
}

/* `to` receives everything `from` originated (a sync, one way). */
static void
deliver(struct tsync_node *from, struct tsync_node *to)
{
	struct txnlist l = {0};
	struct apply_report rep;

	learn_cert(from, to);
	own_txns(from, &l);
	if (l.n > 0)
		CHECK_EQ(apply_batch(to, l.w, l.n, "test", &rep, NULL, NULL),
			 0);
	tl_free(&l);
}

static uint64_t rng_state;

static uint64_t
rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* The observable state: digest plus the sorted conflict list. */
struct state {
	char digest[65];
	char conflicts[4096];
};

static int
add_conflict(void *arg, const struct tsync_conflict *c)
{
	struct state *st = arg;
	size_t len = strlen(st->conflicts);

	snprintf(st->conflicts + len, sizeof(st->conflicts) - len,
		 "%s %s/%s.%s=%s|", c->id, c->table, c->row, c->column,
		 c->theirs ? c->theirs : "null");
	return 0;
}

static void
observe(struct tsync_node *n, struct state *st)
{
	memset(st, 0, sizeof(*st));
	tsync_node_digest(n, NULL, st->digest);
	tsync_node_conflicts(n, add_conflict, st);
}

static void
copy_file(const char *from, const char *to)
{
	char cmd[2600];

	snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && rm -f '%s-wal' '%s-shm'",
		 from, to, to, to);
	if (system(cmd) != 0)
		abort();
}

struct replay {
	struct tsync_node **nodes;
	char tmpl[600], live[600], dir[400];
	struct txnlist *all;
	size_t nstreams;
	uint64_t sids[8];
	size_t idx[8][64], len[8];
	size_t order[512];
	struct state first;
	int have_first, runs, diffs;
};

/* Applies all txns in `order` to a fresh copy of the receiver. */
static void
replay_one(struct replay *r, size_t count)
{
	struct tsync_node *n = NULL;
	struct apply_report rep;
	struct state st;
	size_t i;

	copy_file(r->tmpl, r->live);
	if (tsync_node_open(r->dir, NULL, &n) != 0)
		abort();
	sqlite3_exec(n->db, "PRAGMA synchronous=OFF", NULL, NULL, NULL);
	for (i = 0; i < 3; i++)
		learn_cert(r->nodes[i], n);
	for (i = 0; i < count; i++)
		apply_batch(n, &r->all->w[r->order[i]], 1, "replay", &rep, NULL,
			    NULL);
	if (r->runs == 0) /* idempotence: once more, changes nothing */
		apply_batch(n, r->all->w, r->all->n, "again", &rep, NULL, NULL);
	observe(n, &st);
	if (!r->have_first) {
		r->first = st;
		r->have_first = 1;
		CHECK_EQ(tsync_node_verify(n, NULL, NULL), 0);
	} else if (strcmp(st.digest, r->first.digest) != 0 ||
		   strcmp(st.conflicts, r->first.conflicts) != 0) {
		if (r->diffs++ == 0)
			fprintf(stderr, "diverged:\n %s %s\n %s %s\n",
				r->first.digest, r->first.conflicts, st.digest,
				st.conflicts);
	}
	r->runs++;
	tsync_node_close(n);
}

/* Every interleaving of the streams (pos[k] = next of stream k). */
static void
interleave(struct replay *r, size_t *pos, size_t done, size_t total,
	   int *budget)
{
	size_t k;

	if (*budget <= 0)
		return;
	if (done == total) {
		replay_one(r, total);
		(*budget)--;
		return;
	}
	for (k = 0; k < r->nstreams; k++) {
		if (pos[k] == r->len[k])
			continue;
		r->order[done] = r->idx[k][pos[k]++];
		interleave(r, pos, done + 1, total, budget);
		pos[k]--;
	}
}

static void
sample(struct replay *r, size_t total, int runs)
{
	size_t pos[8];
	int i;

	while (runs-- > 0) {
		size_t done = 0, k;

		memset(pos, 0, sizeof(pos));
		while (done < total) {
			k = (size_t)(rnd() % r->nstreams);
			if (pos[k] == r->len[k])
				continue;
			r->order[done++] = r->idx[k][pos[k]++];
		}
		replay_one(r, total);
	}
	(void)i;
}

static const char *const VALS[] = {"registered", "mediating", "resolved",
				   "failed", "referred"};
static const char *const COLS[] = {"status", "title", "notes"};

/* A random history among three offices that all see the village scope. */
static void
history(struct tsync_node **nodes, struct clock *clk, int steps)
{
	char sql[256];
	int i;

	for (i = 0; i < steps; i++) {
		int who = (int)(rnd() % 3), what = (int)(rnd() % 10);
		int row = (int)(rnd() % 3);

		clk[0].now = clk[1].now = clk[2].now += 1 + rnd() % 3;
		if (what < 6) {
			snprintf(sql, sizeof(sql),
				 "UPDATE cases SET %s = '%s-%d' WHERE id = 'r%d'",
				 COLS[rnd() % 3], VALS[rnd() % 5], who, row);
			tsync_node_exec(nodes[who], sql, NULL, NULL);
		} else if (what < 7 && who == 0) {
			snprintf(sql, sizeof(sql),
				 "DELETE FROM cases WHERE id = 'r%d'", row);
			tsync_node_exec(nodes[who], sql, NULL, NULL);
		} else if (what < 8 && who == 0) {
			snprintf(sql, sizeof(sql),
				 "INSERT OR IGNORE INTO cases(id, scope, title)"
				 " VALUES('r%d', 'gangzha/qinzao/feiqiao',"
				 " 'again')",
				 row);
			tsync_node_exec(nodes[who], sql, NULL, NULL);
		} else {
			int to = (int)(rnd() % 3);

			if (to != who)
				deliver(nodes[who], nodes[to]);
		}
	}
}

typedef void (*history_fn)(struct tsync_node **, struct clock *, int);

/* Replays every order; returns the first order's state in *out. */
static void
property_run_fn(struct tsync_node **nodes, struct clock *clk,
		const char *dir, uint64_t seed, int steps, history_fn hist,
		struct state *out)
{
	struct txnlist all = {0};
	struct replay r;
	size_t i, k, total, pos[8] = {0};
	int budget = 400;

	rng_state = seed;
	hist(nodes, clk, steps);
	memset(&r, 0, sizeof(r));
	r.nodes = nodes;
	for (i = 0; i < 3; i++)
		own_txns(nodes[i], &all);
	r.all = &all;
	for (i = 0; i < all.n; i++) {
		for (k = 0; k < r.nstreams && r.sids[k] != all.stream[i] +
							     1000 * all.owner[i] % 997;
		     k++)
			;
		if (k == r.nstreams)
			r.sids[r.nstreams++] = all.stream[i] +
					       1000 * all.owner[i] % 997;
		r.idx[k][r.len[k]++] = i;
	}
	total = all.n;
	snprintf(r.dir, sizeof(r.dir), "%s", dir);
	snprintf(r.tmpl, sizeof(r.tmpl), "%s/replica.tmpl", dir);
	snprintf(r.live, sizeof(r.live), "%s/replica.db", dir);
	interleave(&r, pos, 0, total, &budget);
	if (budget <= 0)
		sample(&r, total, 150);
	if (r.diffs != 0)
		fprintf(stderr, "seed %llu: %d of %d orders diverged\n",
			(unsigned long long)seed, r.diffs, r.runs);
	CHECK_EQ(r.diffs, 0);
	CHECK(r.runs >= 3);
	if (out != NULL)
		*out = r.first;
	tl_free(&all);
}

static void
property_run(struct tsync_node **nodes, struct clock *clk, const char *dir,
	     uint64_t seed, int steps)
{
	property_run_fn(nodes, clk, dir, seed, steps, history, NULL);
}

static const char *const VILLAGE[2] = {"gangzha/qinzao/feiqiao",
				       "gangzha/qinzao/tangzha"};

/*
 * Two sibling villages (nodes 0 and 1) that use the same ids r0..r2 (raw
 * SQL: inserts, updates, deletes, re-inserts), and their street (node 2),
 * which receives both and edits whatever row it shows under an id, so its
 * own writes land in the scope that owns the id there at that moment.
 */
static void
history_clash(struct tsync_node **nodes, struct clock *clk, int steps)
{
	char sql[256];
	int i;

	for (i = 0; i < steps; i++) {
		int who = (int)(rnd() % 3), what = (int)(rnd() % 10);
		int row = (int)(rnd() % 3);

		if (who == 2 && rnd() % 2)
			row = 1; /* the id both villages made first */
		clk[0].now = clk[1].now = clk[2].now += 1 + rnd() % 3;
		if (who < 2 && what < 4) {
			snprintf(sql, sizeof(sql),
				 "INSERT OR IGNORE INTO cases(id, scope, title)"
				 " VALUES('r%d', '%s', 'v%d')",
				 row, VILLAGE[who], who);
		} else if (what < 7) {
			snprintf(sql, sizeof(sql),
				 "UPDATE cases SET %s = '%s-%d' WHERE id = 'r%d'",
				 COLS[rnd() % 3], VALS[rnd() % 5], who, row);
		} else if (what < 8 && who < 2) {
			snprintf(sql, sizeof(sql),
				 "DELETE FROM cases WHERE id = 'r%d'", row);
		} else {
			deliver(nodes[who == 2 ? rnd() % 2 : (unsigned)who],
				nodes[2]);
			continue;
		}
		tsync_node_exec(nodes[who], sql, NULL, NULL);
	}
}

static int
count_clashes(void *arg, const struct tsync_conflict *c)
{
	if (strstr(c->column, "two scopes") != NULL)
		++*(int *)arg;
	return 0;
}

int
main(int argc, char **argv)
{
	struct clock clk[4] = {{1700000000000ULL, 0}, {1700000000000ULL, -40},
			       {1700000000000ULL, 25}, {1700000000000ULL, 0}};
	struct tsync_ops ops[4];
	struct tsync_node *nodes[3], *recv;
	char dir[400], tmpl[600], live[600];
	uint64_t seed, seeds = argc > 1 ? strtoull(argv[1], NULL, 10) : 8;
	int i;

	for (i = 0; i < 4; i++) {
		memset(&ops[i], 0, sizeof(ops[i]));
		ops[i].now_ms = clock_now;
		ops[i].ctx = &clk[i];
	}
	/* The receiver: a district replica, copied fresh for each order. */
	recv = tn_node("recv", "gangzha", "office", &ops[3]);
	snprintf(dir, sizeof(dir), "%s/recv", tn_root());
	snprintf(tmpl, sizeof(tmpl), "%s/replica.tmpl", dir);
	snprintf(live, sizeof(live), "%s/replica.db", dir);
	tsync_node_close(recv);
	copy_file(live, tmpl);

	for (seed = 1; seed <= seeds; seed++) {
		char name[3][32];

		for (i = 0; i < 3; i++)
			snprintf(name[i], sizeof(name[i]), "s%llu-%d",
				 (unsigned long long)seed, i);
		nodes[0] = tn_node(name[0], "gangzha/qinzao/feiqiao", "office",
				   &ops[0]);
		nodes[1] = tn_node(name[1], "gangzha/qinzao", "office", &ops[1]);
		nodes[2] = tn_node(name[2], "gangzha", "office", &ops[2]);
		for (i = 0; i < 3; i++)
			sqlite3_exec(nodes[i]->db, "PRAGMA synchronous=OFF",
				     NULL, NULL, NULL);
		CHECK_EQ(tn_sql(nodes[0],
				"INSERT INTO cases(id, scope, title, status)"
				" VALUES('r0', 'gangzha/qinzao/feiqiao', 't0',"
				" 'registered'), ('r1', 'gangzha/qinzao/feiqiao',"
				" 't1', 'registered'), ('r2',"
				" 'gangzha/qinzao/feiqiao', 't2', 'registered')"),
			 0);
		deliver(nodes[0], nodes[1]);
		deliver(nodes[0], nodes[2]);
		property_run(nodes, clk, dir, seed, seed % 3 == 0 ? 12 : 7);
		for (i = 0; i < 3; i++)
			tsync_node_close(nodes[i]);
	}

	/* One id, two scopes: every order of arrival gives the district the
	 * same tables, the same conflicts and id clashes, and a clean
	 * verify; the street, which got them in its own order between its
	 * own writes, ends the same. */
	{
		int clashes = 0;

		for (seed = 1; seed <= (seeds + 1) / 2; seed++) {
			char name[3][32];
			struct state want, got;

			for (i = 0; i < 3; i++)
				snprintf(name[i], sizeof(name[i]), "c%llu-%d",
					 (unsigned long long)seed, i);
			nodes[0] = tn_node(name[0], VILLAGE[0], "office",
					   &ops[0]);
			nodes[1] = tn_node(name[1], VILLAGE[1], "office",
					   &ops[1]);
			nodes[2] = tn_node(name[2], "gangzha/qinzao", "office",
					   &ops[2]);
			for (i = 0; i < 3; i++)
				sqlite3_exec(nodes[i]->db,
					     "PRAGMA synchronous=OFF", NULL,
					     NULL, NULL);
			CHECK_EQ(tn_sql(nodes[0], "INSERT INTO cases(id, scope,"
					" title) VALUES('r0', 'gangzha/qinzao/"
					"feiqiao', 'a0'), ('r1', 'gangzha/"
					"qinzao/feiqiao', 'a1')"), 0);
			clk[1].now = clk[0].now += 2;
			CHECK_EQ(tn_sql(nodes[1], "INSERT INTO cases(id, scope,"
					" title) VALUES('r1', 'gangzha/qinzao/"
					"tangzha', 'b1'), ('r2', 'gangzha/"
					"qinzao/tangzha', 'b2')"), 0);
			if (seed % 2) { /* the street edits contested ids */
				deliver(nodes[1], nodes[2]);
				deliver(nodes[0], nodes[2]);
			}
			property_run_fn(nodes, clk, dir, seed * 7919,
					seed % 3 == 0 ? 12 : 8, history_clash,
					&want);
			deliver(nodes[0], nodes[2]);
			deliver(nodes[1], nodes[2]);
			observe(nodes[2], &got);
			CHECK_STR(got.digest, want.digest);
			CHECK_STR(got.conflicts, want.conflicts);
			CHECK_EQ(tsync_node_verify(nodes[2], NULL, NULL), 0);
			tsync_node_conflicts(nodes[2], count_clashes, &clashes);
			for (i = 0; i < 3; i++)
				tsync_node_close(nodes[i]);
		}
		CHECK(clashes > 0); /* the histories did make clashes */
	}

	/* A batch of 32 changes or more skips the version lookup of an id
	 * that no row holds yet and no other change of the batch names
	 * (apply.c, fresh_scan).  Two offices of one village insert the
	 * same id f20; the second also inserts 39 more ids around it and
	 * edits and deletes some of its new rows in later txns.  A street
	 * that holds f20 first (the range holds a row: every id is looked
	 * up) and one that gets the big batch first (fresh ids, and ids the
	 * batch names twice) end the same, with f20 contested, and verify's
	 * own fold of the log agrees with both. */
	{
		struct tsync_node *a1, *a2, *r1, *r2;
		struct state x, y;
		char sql[400];
		int k;

		a1 = tn_node("fr-a1", "gangzha/qinzao/feiqiao", "office",
			     &ops[0]);
		a2 = tn_node("fr-a2", "gangzha/qinzao/feiqiao", "office",
			     &ops[2]);
		r1 = tn_node("fr-r1", "gangzha/qinzao", "office", &ops[1]);
		r2 = tn_node("fr-r2", "gangzha/qinzao", "office", &ops[1]);
		CHECK_EQ(tn_sql(a1, "INSERT INTO cases(id, scope, title)"
				" VALUES('f20', 'gangzha/qinzao/feiqiao',"
				" 'one')"), 0);
		for (k = 0; k < 2; k++) {
			snprintf(sql, sizeof(sql),
				 "WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL"
				 " SELECT i + 1 FROM c WHERE i < 39) INSERT"
				 " INTO cases(id, scope, title, status)"
				 " SELECT printf('%c%%02d', i), 'gangzha/"
				 "qinzao/feiqiao', 'two' || i, 'registered'"
				 " FROM c", k ? 'g' : 'f');
			CHECK_EQ(tn_sql(a2, sql), 0);
		}
		CHECK_EQ(tn_sql(a2, "UPDATE cases SET title = 'edited' WHERE"
				" id IN ('f07', 'g05')"), 0);
		CHECK_EQ(tn_sql(a2, "DELETE FROM cases WHERE id = 'f09'"), 0);
		deliver(a1, r1);
		deliver(a2, r1);
		deliver(a2, r2);
		deliver(a1, r2);
		observe(r1, &x);
		observe(r2, &y);
		CHECK_STR(x.digest, y.digest);
		CHECK_STR(x.conflicts, y.conflicts);
		CHECK(strstr(x.conflicts, "/f20.title=") != NULL);
		CHECK_EQ(tsync_node_verify(r1, NULL, NULL), 0);
		CHECK_EQ(tsync_node_verify(r2, NULL, NULL), 0);
		{
			sqlite3_stmt *q;

			sqlite3_prepare_v2(r2->db, "SELECT count(*),"
					   " sum(title = 'edited'), sum(status"
					   " IS NULL) FROM cases", -1, &q,
					   NULL);
			CHECK(sqlite3_step(q) == SQLITE_ROW);
			CHECK_EQ(sqlite3_column_int(q, 0), 79);
			CHECK_EQ(sqlite3_column_int(q, 1), 2);
			CHECK_EQ(sqlite3_column_int(q, 2), 0);
			sqlite3_finalize(q);
		}
		tsync_node_close(a1);
		tsync_node_close(a2);
		tsync_node_close(r1);
		tsync_node_close(r2);
	}

	/* A delete concurrent with an update: the row stays deleted; a
	 * re-insert brings the row back with every column newer than its
	 * own write. */
	{
		struct tsync_node *v = tn_node("dv", "gangzha/qinzao/feiqiao",
					       "office", &ops[0]);
		struct tsync_node *s = tn_node("ds", "gangzha/qinzao", "office",
					       &ops[1]);
		struct state a, b;

		tn_sql(v, "INSERT INTO cases(id, scope, title) VALUES('d1',"
			  " 'gangzha/qinzao/feiqiao', 'x')");
		deliver(v, s);
		clk[0].now += 10;
		tn_sql(v, "DELETE FROM cases WHERE id = 'd1'");
		tn_sql(s, "UPDATE cases SET title = 'edited' WHERE id = 'd1'");
		deliver(v, s);
		deliver(s, v);
		observe(v, &a);
		observe(s, &b);
		CHECK_STR(a.digest, b.digest);
		CHECK_STR(a.conflicts, b.conflicts);
		{
			sqlite3_stmt *q;

			sqlite3_prepare_v2(s->db, "SELECT count(*) FROM cases",
					   -1, &q, NULL);
			sqlite3_step(q);
			CHECK_EQ(sqlite3_column_int(q, 0), 0);
			sqlite3_finalize(q);
		}
		CHECK_EQ(tsync_node_verify(v, NULL, NULL), 0);
		CHECK_EQ(tsync_node_verify(s, NULL, NULL), 0);
		tsync_node_close(v);
		tsync_node_close(s);
	}

	/* A clock an hour ahead: kept as data, flagged, bounded. */
	{
		struct clock fast = {1700000000000ULL, 3600 * 1000};
		struct tsync_ops fops = ops[0];
		struct tsync_node *v, *s;
		struct txnlist l = {0};
		struct txn t, u;
		char err[64];
		int flagged = 0;

		fops.ctx = &fast;
		v = tn_node("fast", "gangzha/qinzao/feiqiao", "office", &fops);
		s = tn_node("slow", "gangzha/qinzao", "office", &ops[1]);
		clk[1].now = fast.now;
		tn_sql(v, "INSERT INTO cases(id, scope, title) VALUES('k1',"
			  " 'gangzha/qinzao/feiqiao', 'future')");
		deliver(v, s);
		CHECK(s->hlc.last <= hlc_make(clk[1].now + (uint64_t)clk[1].skew +
						      s->max_skew_ms,
					      0xffff));
		{
			sqlite3_stmt *q;

			sqlite3_prepare_v2(s->db, "SELECT count(*) FROM ts_skew",
					   -1, &q, NULL);
			sqlite3_step(q);
			flagged = sqlite3_column_int(q, 0);
			sqlite3_finalize(q);
		}
		CHECK_EQ(flagged, 1);
		/* The slow street overwrites the future value: it wins. */
		tn_sql(s, "UPDATE cases SET title = 'now' WHERE id = 'k1'");
		own_txns(s, &l);
		CHECK(l.n >= 1);
		own_txns(v, &l);
		CHECK(txn_decode(&t, l.w[0].body, l.w[0].len, err,
				 sizeof(err)) == 0);
		CHECK(txn_decode(&u, l.w[l.n - 1].body, l.w[l.n - 1].len, err,
				 sizeof(err)) == 0);
		CHECK(t.hlc > u.hlc); /* the street's version is larger */
		txn_done(&t);
		txn_done(&u);
		tl_free(&l);
		/* ... but the street's clock was not dragged along. */
		tn_sql(s, "INSERT INTO cases(id, scope) VALUES('k2',"
			  " 'gangzha/qinzao')");
		CHECK(hlc_ms(s->hlc.last) <= clk[1].now + (uint64_t)clk[1].skew +
						     s->max_skew_ms);
		deliver(s, v);
		{
			sqlite3_stmt *q;

			sqlite3_prepare_v2(v->db, "SELECT title FROM cases WHERE"
					   " id = 'k1'", -1, &q, NULL);
			CHECK(sqlite3_step(q) == SQLITE_ROW &&
			      strcmp((const char *)sqlite3_column_text(q, 0),
				     "now") == 0);
			sqlite3_finalize(q);
		}
		tsync_node_close(v);
		tsync_node_close(s);
	}
	tn_cleanup();
	return CHECK_DONE();
}
