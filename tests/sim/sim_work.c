/*
 * sim_work.c - what the offices do, and the faults above the byte stream.
 *
 * Writes (work_write), all through the public API (tsync_node_exec, or
 * tsync_node_begin + SQL on tsync_node_db() + tsync_node_commit):
 *  - inserts of new cases in a scope the office may write: its own, a
 *    child's, or a broadcast scope below it ("gangzha/" + "*" for the
 *    district, "gangzha/qinzao/" + "*" for a street);
 *  - updates of rows the office sees and may write, of one to three
 *    columns, from a small pool of values (so that equal values written
 *    concurrently occur too).  Updates prefer the first three rows of a
 *    scope, which the village, its street and the district all see: edits
 *    of the same columns of the same rows by different nodes, made while
 *    the links between them are cut or slow, are concurrent;
 *  - deletes, re-inserts of deleted ids, and commits that span two scopes;
 *  - writes the node must refuse (an auditor writing, an office writing
 *    above its scope, a write on tsync_node_db() outside a transaction),
 *    which must fail and leave no txn;
 *  - settling conflicts (tsync_node_resolve) in all three ways.
 * Every commit that returned 0 is recorded, txn by txn (work_record), with
 * the hash of each txn: sim_check.c proves none of them was lost.
 *
 * Faults modelled here:
 *  - Crash (work_crash): a node is closed while its links carry anything
 *    at all (sessions mid-batch, batches unacknowledged, frames half
 *    received by the peer); in most crashes of an office a transaction is
 *    open with captured writes (an insert of a "lost-" row and an update
 *    writing "lost"), and it is abandoned: tsync_node_close() without
 *    commit, as a process that dies would leave it.  The node is reopened
 *    from disk later (tsync_node_open) and its links are recreated.
 *  - Duplicated and reordered batches (work_replay): txns a neighbour holds
 *    are delivered again through apply_batch(), the code a BATCH frame
 *    reaches, in windows that are mostly already held (duplicates), in
 *    random interleavings of streams (reorder across streams, the order of
 *    arrival the merge must not depend on), or fully shuffled (reorder
 *    within a stream: the receiver must refuse the gaps and keep nothing
 *    of them but the quarantine record).
 *  - Sneakernet (work_bundle, work_mail): bundles exported for a
 *    neighbour, some --since an older one, are "posted" and imported after
 *    a random delay, in whatever order they arrive, and some twice.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"
#include "node_int.h"
#include "scope.h"
#include "sim.h"

static const char *const columns[] = {
	"category", "title", "parties", "status", "opened_at", "notes",
};
#define NCOLUMNS (sizeof(columns) / sizeof(columns[0]))

static const char *const values[] = {
	"'registered'", "'mediating'", "'resolved'", "'failed'",
	"'court'", "'邻里纠纷'", "'调解中'", "'已结案'", "NULL", "''",
};
#define NVALUES (sizeof(values) / sizeof(values[0]))

struct vrow {
	char id[48];
	char scope[64];
};

struct vrows {
	struct vrow *r;
	size_t n, cap;
};

/* ---- helpers ----------------------------------------------------------- */

/* A random SQL literal; `buf` holds it when it is made up. */
static const char *
value(struct sim *sm, char *buf, size_t len)
{
	uint64_t k = rng_below(&sm->rng, NVALUES + 3);

	if (k < NVALUES)
		return values[k];
	snprintf(buf, len, "'案%llu'",
		 (unsigned long long)rng_below(&sm->rng, 1000));
	return buf;
}

static struct sim_node *
pick_office(struct sim *sm)
{
	int i = (int)rng_below(&sm->rng, N_AUDITOR);

	return sm->node[i].n != NULL ? &sm->node[i] : NULL;
}

static void
row_add(struct sim *sm, const char *id, const char *scope)
{
	struct rowrec *r;

	if (work_row_scope(sm, id) != NULL)
		return;
	sm->rows = sim_grow(sm->rows, &sm->caprows, sm->nrows,
			    sizeof(*sm->rows));
	r = &sm->rows[sm->nrows++];
	snprintf(r->id, sizeof(r->id), "%s", id);
	snprintf(r->scope, sizeof(r->scope), "%s", scope);
}

const char *
work_row_scope(const struct sim *sm, const char *id)
{
	size_t i;

	for (i = 0; i < sm->nrows; i++)
		if (strcmp(sm->rows[i].id, id) == 0)
			return sm->rows[i].scope;
	return NULL;
}

/* The rows node sn holds and may write, by scope and id. */
static void
writable_rows(struct sim_node *sn, struct vrows *v)
{
	sqlite3_stmt *s;

	v->n = 0;
	if (sqlite3_prepare_v2(tsync_node_db(sn->n),
			       "SELECT id, scope FROM cases ORDER BY scope, id",
			       -1, &s, NULL) != SQLITE_OK)
		return;
	while (sqlite3_step(s) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(s, 0);
		const char *sc = (const char *)sqlite3_column_text(s, 1);

		if (id == NULL || sc == NULL ||
		    !scope_may_write(sn->scope, sn->role, sc))
			continue;
		v->r = sim_grow(v->r, &v->cap, v->n, sizeof(*v->r));
		snprintf(v->r[v->n].id, sizeof(v->r[v->n].id), "%s", id);
		snprintf(v->r[v->n].scope, sizeof(v->r[v->n].scope), "%s", sc);
		v->n++;
	}
	sqlite3_finalize(s);
}

/*
 * Picks a row: first a scope (each scope that has rows equally likely),
 * then, with `hot`, mostly one of that scope's first three rows, which
 * every office above it sees too.
 */
static const struct vrow *
pick_row(struct sim *sm, const struct vrows *v, int hot)
{
	size_t i, first = 0, n, nscopes = 0, want;

	for (i = 0; i < v->n; i++)
		nscopes += i == 0 || strcmp(v->r[i].scope, v->r[i - 1].scope);
	if (nscopes == 0)
		return NULL;
	want = rng_below(&sm->rng, nscopes);
	for (i = 0; i < v->n; i++) {
		if (i > 0 && strcmp(v->r[i].scope, v->r[i - 1].scope) == 0)
			continue;
		first = i;
		if (want-- == 0)
			break;
	}
	for (n = 0; first + n < v->n &&
		    strcmp(v->r[first + n].scope, v->r[first].scope) == 0;
	     n++)
		;
	if (hot && n > 3 && rng_chance(&sm->rng, 600))
		n = 3;
	return &v->r[first + rng_below(&sm->rng, n)];
}

/* A random scope that sn may write: its own, a child's, or a broadcast. */
static void
pick_scope(struct sim *sm, struct sim_node *sn, char *out, size_t len)
{
	const char *c[SIM_NODES];
	int i, n = 0;

	for (i = 0; i < N_AUDITOR; i++)
		if (i != sn->idx &&
		    scope_may_write(sn->scope, sn->role, sm->node[i].scope))
			c[n++] = sm->node[i].scope;
	if (rng_chance(&sm->rng, 100))
		snprintf(out, len, "%s/*", sn->scope);
	else if (n > 0 && rng_chance(&sm->rng, 350))
		snprintf(out, len, "%s", c[rng_below(&sm->rng, (uint64_t)n)]);
	else
		snprintf(out, len, "%s", sn->scope);
}

static size_t
sql_update(struct sim *sm, char *sql, size_t len, const char *id)
{
	unsigned ncol = 1 + (unsigned)rng_below(&sm->rng, 3), k;
	unsigned first = (unsigned)rng_below(&sm->rng, NCOLUMNS);
	size_t off;
	char buf[32];

	off = (size_t)snprintf(sql, len, "UPDATE cases SET ");
	for (k = 0; k < ncol && off < len; k++)
		off += (size_t)snprintf(sql + off, len - off, "%s%s = %s",
					k ? ", " : "",
					columns[(first + k * 2) % NCOLUMNS],
					value(sm, buf, sizeof(buf)));
	if (off < len)
		off += (size_t)snprintf(sql + off, len - off,
					" WHERE id = '%s';", id);
	return off;
}

static size_t
sql_insert(struct sim *sm, char *sql, size_t len, const char *id,
	   const char *scope)
{
	size_t off, k;
	char buf[32];

	off = (size_t)snprintf(sql, len, "INSERT INTO cases(id, scope");
	for (k = 0; k < NCOLUMNS && off < len; k++)
		off += (size_t)snprintf(sql + off, len - off, ", %s",
					columns[k]);
	if (off < len)
		off += (size_t)snprintf(sql + off, len - off,
					") VALUES('%s', '%s'", id, scope);
	for (k = 0; k < NCOLUMNS && off < len; k++)
		off += (size_t)snprintf(sql + off, len - off, ", %s",
					value(sm, buf, sizeof(buf)));
	if (off < len)
		off += (size_t)snprintf(sql + off, len - off, ");");
	return off;
}

/* Runs sql as one node transaction, through either form of the API. */
static int
exec_write(struct sim *sm, struct sim_node *sn, const char *sql)
{
	int rc;

	if (!rng_chance(&sm->rng, 200))
		return tsync_node_exec(sn->n, sql, NULL, NULL);
	if ((rc = tsync_node_begin(sn->n)) != 0)
		return rc;
	if (sqlite3_exec(tsync_node_db(sn->n), sql, NULL, NULL, NULL) !=
	    SQLITE_OK) {
		tsync_node_rollback(sn->n);
		return TSYNC_EINVAL;
	}
	return tsync_node_commit(sn->n);
}

/* ---- acknowledged writes ---------------------------------------------- */

static int
own_slot(struct sim_node *sn, const char *scope)
{
	unsigned i;

	for (i = 0; i < sn->nown; i++)
		if (strcmp(sn->own[i].scope, scope) == 0)
			return (int)i;
	if (sn->nown == SIM_OWN_MAX)
		return -1;
	snprintf(sn->own[sn->nown].scope, sizeof(sn->own[0].scope), "%s",
		 scope);
	sn->own[sn->nown].seq = 0;
	return (int)sn->nown++;
}

static void
add_ack(struct sim *sm, struct sim_node *sn, int64_t sid, const char *scope,
	uint64_t seq)
{
	sqlite3_stmt *s;
	struct ack *a;

	sm->acks = sim_grow(sm->acks, &sm->capacks, sm->nacks,
			    sizeof(*sm->acks));
	a = &sm->acks[sm->nacks];
	memset(a, 0, sizeof(*a));
	a->node = sn->idx;
	snprintf(a->scope, sizeof(a->scope), "%s", scope);
	a->seq = seq;
	if (sqlite3_prepare_v2(tsync_node_db(sn->n),
			       "SELECT hash FROM ts_log WHERE k = ?1", -1, &s,
			       NULL) != SQLITE_OK)
		return;
	sqlite3_bind_int64(s, 1, LOG_ROWID(sid, seq));
	if (sqlite3_step(s) == SQLITE_ROW &&
	    sqlite3_column_bytes(s, 0) == (int)sizeof(a->hash)) {
		memcpy(a->hash, sqlite3_column_blob(s, 0), sizeof(a->hash));
		sm->nacks++;
		sm->st[SS_TXNS]++;
	} else {
		sim_fail(sm, "%s: committed txn %s/%llu is not in its log",
			 sn->name, scope, (unsigned long long)seq);
	}
	sqlite3_finalize(s);
}

/*
 * After a commit: records every txn it added to sn's own streams as
 * acknowledged, or, when the commit failed, checks that it added none.
 */
void
work_record(struct sim *sm, struct sim_node *sn, int committed)
{
	sqlite3_stmt *s;

	if (committed)
		sm->st[SS_COMMITS]++;
	else
		sm->st[SS_REFUSED]++;
	if (sqlite3_prepare_v2(tsync_node_db(sn->n),
			       "SELECT sid, scope, seq FROM ts_streams WHERE"
			       " origin = ?1 ORDER BY scope",
			       -1, &s, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_int64(s, 1, (int64_t)sn->id);
	while (sqlite3_step(s) == SQLITE_ROW) {
		const char *sc = (const char *)sqlite3_column_text(s, 1);
		uint64_t seq = (uint64_t)sqlite3_column_int64(s, 2), q;
		int k = own_slot(sn, sc);

		if (k < 0 || seq <= sn->own[k].seq)
			continue;
		if (!committed)
			sim_fail(sm, "%s: a refused commit left txn %s/%llu",
				 sn->name, sc, (unsigned long long)seq);
		for (q = sn->own[k].seq + 1; q <= seq; q++)
			add_ack(sm, sn, sqlite3_column_int64(s, 0), sc, q);
		sn->own[k].seq = seq;
	}
	sqlite3_finalize(s);
}

/* ---- writes ------------------------------------------------------------- */

/*
 * A write made on tsync_node_db() outside a node transaction: it was not
 * captured, so the node must refuse to commit it ("stray" never appears).
 */
static void
write_stray(struct sim *sm, struct sim_node *sn)
{
	int rc = sqlite3_exec(tsync_node_db(sn->n),
			      "UPDATE cases SET notes = 'stray' WHERE id ="
			      " (SELECT min(id) FROM cases)",
			      NULL, NULL, NULL);

	sim_event(sm, "%s stray write: %d", sn->name, rc);
	if (rc == SQLITE_OK && sqlite3_changes(tsync_node_db(sn->n)) > 0)
		sim_fail(sm, "%s: an uncaptured write was committed",
			 sn->name);
	work_record(sm, sn, 0);
}

/*
 * A write the node must refuse: an auditor's, one above the office's
 * scope, or one that bypasses capture.
 */
static void
write_refused(struct sim *sm, struct sim_node *sn)
{
	char sql[1024], id[48];
	const char *scope;
	int rc;

	switch (rng_below(&sm->rng, 3)) {
	case 0:
		write_stray(sm, sn);
		return;
	case 1:
		if (sm->node[N_AUDITOR].n != NULL)
			sn = &sm->node[N_AUDITOR];
		break;
	default:
		break;
	}
	scope = sn->idx == N_AUDITOR ? sn->scope
		: sn->parent >= 0    ? sm->node[sn->parent].scope
				     : "nantong";
	snprintf(id, sizeof(id), "%s-%u", sn->name, sn->next_row++);
	sql_insert(sm, sql, sizeof(sql), id, scope);
	rc = tsync_node_exec(sn->n, sql, NULL, NULL);
	sim_event(sm, "%s refused write: %d", sn->name, rc);
	if (rc != TSYNC_ESCOPE)
		sim_fail(sm, "%s: a write outside its scope returned %d, not "
			     "TSYNC_ESCOPE",
			 sn->name, rc);
	work_record(sm, sn, rc == 0);
}

/* What one write does, and how often (weights out of 100). */
enum { W_INSERT, W_UPDATE, W_DELETE, W_TWO_SCOPES, W_REINSERT, W_REFUSED,
       W__COUNT };
static const unsigned write_weight[W__COUNT] = {30, 45, 10, 7, 5, 3};

static int
pick_write(struct sim *sm)
{
	uint64_t k = rng_below(&sm->rng, 100);
	int w;

	for (w = 0; w < W__COUNT - 1 && k >= write_weight[w]; w++)
		k -= write_weight[w];
	return w;
}

/* A new row's id and scope; with `again`, maybe an id made before. */
static void
new_row(struct sim *sm, struct sim_node *sn, int again, char *id,
	size_t idlen, char *scope, size_t scopelen)
{
	pick_scope(sm, sn, scope, scopelen);
	snprintf(id, idlen, "%s-%u", sn->name, sn->next_row++);
	if (again && sm->nrows > 0) {
		const struct rowrec *o =
			&sm->rows[rng_below(&sm->rng, sm->nrows)];

		/* Inserting a live id fails; a deleted one comes back. */
		if (scope_may_write(sn->scope, sn->role, o->scope)) {
			snprintf(id, idlen, "%s", o->id);
			snprintf(scope, scopelen, "%s", o->scope);
		}
	}
	row_add(sm, id, scope);
}

void
work_write(struct sim *sm)
{
	struct sim_node *sn = pick_office(sm);
	struct vrows v = {NULL, 0, 0};
	const struct vrow *r = NULL;
	char sql[2048], id[48], scope[64];
	int w, rc;
	size_t off;

	if (sn == NULL)
		return;
	if ((w = pick_write(sm)) == W_REFUSED) {
		write_refused(sm, sn);
		return;
	}
	if (w == W_UPDATE || w == W_DELETE || w == W_TWO_SCOPES) {
		writable_rows(sn, &v);
		if ((r = pick_row(sm, &v, w != W_DELETE)) == NULL)
			w = W_INSERT;
	}
	switch (w) {
	case W_UPDATE:
		sql_update(sm, sql, sizeof(sql), r->id);
		break;
	case W_DELETE:
		snprintf(sql, sizeof(sql), "DELETE FROM cases WHERE id = '%s';",
			 r->id);
		break;
	default:
		new_row(sm, sn, w == W_REINSERT, id, sizeof(id), scope,
			sizeof(scope));
		off = sql_insert(sm, sql, sizeof(sql), id, scope);
		/* Two scopes in one commit: one txn per scope, same HLC. */
		if (w == W_TWO_SCOPES && off < sizeof(sql))
			sql_update(sm, sql + off, sizeof(sql) - off, r->id);
		break;
	}
	rc = exec_write(sm, sn, sql);
	sim_event(sm, "%s write %d: %s", sn->name, rc, sql);
	work_record(sm, sn, rc == 0);
	if (rc == 0)
		net_notify(sm, sn->idx, NULL);
	free(v.r);
}

struct conf_list {
	char (*id)[13];
	size_t n, cap;
};

static int
conf_cb(void *arg, const struct tsync_conflict *c)
{
	struct conf_list *l = arg;

	l->id = sim_grow(l->id, &l->cap, l->n, sizeof(*l->id));
	memcpy(l->id[l->n++], c->id, 13);
	return 0;
}

void
work_resolve(struct sim *sm)
{
	struct sim_node *sn = pick_office(sm);
	struct conf_list l = {NULL, 0, 0};
	char val[32];
	int how, rc;

	if (sn == NULL || tsync_node_conflicts(sn->n, conf_cb, &l) != 0 ||
	    l.n == 0) {
		free(l.id);
		return;
	}
	how = (int)rng_below(&sm->rng, 3);
	snprintf(val, sizeof(val), "settled %llu",
		 (unsigned long long)rng_below(&sm->rng, 100));
	rc = tsync_node_resolve(sn->n, l.id[rng_below(&sm->rng, l.n)], how,
				val);
	sim_event(sm, "%s resolve (%d of %zu, how %d): %d", sn->name,
		  rc == 0, l.n, how, rc);
	work_record(sm, sn, rc == 0);
	if (rc == 0) {
		sm->st[SS_RESOLVES]++;
		net_notify(sm, sn->idx, NULL);
	}
	free(l.id);
}

/* ---- crashes ------------------------------------------------------------ */

void
work_crash(struct sim *sm)
{
	struct sim_node *sn = &sm->node[rng_below(&sm->rng, SIM_NODES)];
	char sql[512];

	if (sn->n == NULL)
		return;
	if (sn->idx != N_AUDITOR && rng_chance(&sm->rng, 700) &&
	    tsync_node_begin(sn->n) == 0) {
		snprintf(sql, sizeof(sql),
			 "INSERT INTO cases(id, scope, title, notes)"
			 " VALUES('lost-%s-%u', '%s', '未提交', 'lost');"
			 " UPDATE cases SET notes = 'lost' WHERE id = (SELECT"
			 " id FROM cases WHERE scope = '%s' ORDER BY id"
			 " LIMIT 1);",
			 sn->name, sn->next_row++, sn->scope, sn->scope);
		if (sqlite3_exec(tsync_node_db(sn->n), sql, NULL, NULL,
				 NULL) != SQLITE_OK)
			sim_fail(sm, "%s: abandoned writes failed: %s",
				 sn->name,
				 sqlite3_errmsg(tsync_node_db(sn->n)));
		sm->st[SS_ABANDONED]++;
	}
	sm->st[SS_CRASHES]++;
	net_node_down(sm, sn->idx, "crash");
	tsync_node_close(sn->n); /* never committed: abandoned */
	sn->n = NULL;
	sn->up_at = sm->now + 10 + rng_below(&sm->rng, 2000);
	sim_event(sm, "crash %s", sn->name);
}

/* ---- duplicated and reordered batches ---------------------------------- */

struct held {
	uint8_t *body;
	size_t len;
	uint8_t sig[KEYS_SIG_LEN];
	uint64_t origin;
	int stream; /* index in the stream list */
};

struct held_list {
	struct held *h;
	size_t n, cap;
	uint64_t origin;
	int stream;
};

static int
copy_txn(void *arg, uint64_t seq, const uint8_t *body, size_t len,
	 const uint8_t *sig)
{
	struct held_list *l = arg;
	struct held *h;

	(void)seq;
	l->h = sim_grow(l->h, &l->cap, l->n, sizeof(*l->h));
	h = &l->h[l->n++];
	if ((h->body = malloc(len)) == NULL)
		abort();
	memcpy(h->body, body, len);
	h->len = len;
	memcpy(h->sig, sig, KEYS_SIG_LEN);
	h->origin = l->origin;
	h->stream = l->stream;
	return 0;
}

/*
 * Orders l: as held (0), streams interleaved at random with each stream
 * kept in order (1), or shuffled (2).  l holds each stream's txns
 * together, streams numbered 0.. in order.
 */
static void
reorder(struct sim *sm, struct held_list *l, int mode, int nstreams)
{
	struct held *out, tmp;
	size_t i, j, *pos, *end;

	if (mode == 2) {
		for (i = l->n; i > 1; i--) {
			j = rng_below(&sm->rng, i);
			tmp = l->h[i - 1];
			l->h[i - 1] = l->h[j];
			l->h[j] = tmp;
		}
		return;
	}
	if (mode == 0 || nstreams < 2)
		return;
	out = malloc(l->n * sizeof(*out));
	pos = calloc((size_t)nstreams, sizeof(*pos));
	end = calloc((size_t)nstreams, sizeof(*end));
	if (out == NULL || pos == NULL || end == NULL)
		abort();
	for (i = l->n; i > 0; i--)
		pos[l->h[i - 1].stream] = i - 1;
	for (i = 0; i < l->n; i++)
		end[l->h[i].stream] = i + 1;
	for (i = 0; i < l->n; i++) {
		size_t st;

		do
			st = rng_below(&sm->rng, (uint64_t)nstreams);
		while (pos[st] >= end[st]);
		out[i] = l->h[pos[st]++];
	}
	memcpy(l->h, out, l->n * sizeof(*out));
	free(out);
	free(pos);
	free(end);
}

static void
replay_apply(struct sim *sm, struct sim_node *src, struct sim_node *dst,
	     struct held_list *l)
{
	struct apply_report rep;
	struct wire_txn w[8];
	size_t i, k, j;
	unsigned applied = 0;

	/* What CERT frames would carry before a peer's first batch. */
	for (i = 0; i < l->n; i++) {
		char *pem;
		size_t len;

		if (certs_pem(src->n, l->h[i].origin, &pem, &len) == 0) {
			certs_add_pem(dst->n, pem, len);
			free(pem);
		}
	}
	for (i = 0; i < l->n; i += k) {
		k = 1 + rng_below(&sm->rng, 6);
		if (k > l->n - i)
			k = l->n - i;
		for (j = 0; j < k; j++) {
			w[j].body = l->h[i + j].body;
			w[j].len = l->h[i + j].len;
			w[j].sig = l->h[i + j].sig;
		}
		if (apply_batch(dst->n, w, k, "sim replay", &rep, NULL,
				NULL) != 0) {
			sim_fail(sm, "%s: replayed batch not stored: %s",
				 dst->name, tsync_node_errmsg(dst->n));
			return;
		}
		applied += rep.applied;
		sm->st[SS_REPLAY_APPLIED] += rep.applied;
		sm->st[SS_REPLAY_DUP] += rep.duplicate;
		sm->st[SS_REPLAY_REFUSED] += rep.rejected;
	}
	if (applied > 0)
		net_notify(sm, dst->idx, NULL);
}

void
work_replay(struct sim *sm)
{
	struct sim_link *lk = &sm->link[rng_below(&sm->rng, SIM_LINKS)];
	int side = (int)rng_below(&sm->rng, 2), mode, nst = 0;
	struct sim_node *dst = &sm->node[lk->node[side]];
	struct sim_node *src = &sm->node[lk->node[1 - side]];
	struct held_list l;
	struct stream_row *v;
	size_t cnt, i;

	if (dst->n == NULL || src->n == NULL || src->idx == N_AUDITOR ||
	    ts_log_streams(src->n, &v, &cnt) != 0)
		return;
	memset(&l, 0, sizeof(l));
	for (i = 0; i < cnt; i++) {
		uint64_t lo, hi;

		if (!scope_may_see(dst->scope, dst->role, v[i].scope) ||
		    !rng_chance(&sm->rng, 500))
			continue;
		lo = 1 + rng_below(&sm->rng, v[i].seq);
		hi = lo + rng_below(&sm->rng, 6);
		if (hi > v[i].seq)
			hi = v[i].seq;
		l.origin = v[i].origin;
		l.stream = nst++;
		ts_log_read(src->n, v[i].sid, lo, hi, 1u << 20, 1, copy_txn, &l);
	}
	free(v);
	mode = (int)rng_below(&sm->rng, 3);
	reorder(sm, &l, mode, nst);
	sim_event(sm, "replay %zu txns of %d streams %s -> %s (mode %d)", l.n,
		  nst, src->name, dst->name, mode);
	sm->st[SS_REPLAYS]++;
	if (l.n > 0)
		replay_apply(sm, src, dst, &l);
	for (i = 0; i < l.n; i++)
		free(l.h[i].body);
	free(l.h);
}

/* ---- bundles ------------------------------------------------------------ */

void
work_bundle(struct sim *sm)
{
	struct sim_link *lk = &sm->link[rng_below(&sm->rng, SIM_LINKS)];
	int side = (int)rng_below(&sm->rng, 2);
	struct sim_node *dst = &sm->node[lk->node[side]];
	struct sim_node *src = &sm->node[lk->node[1 - side]];
	struct tsync_bundle_result r;
	const char *since = NULL;
	struct mail *m;
	size_t i;
	int rc;

	if (src->idx == N_AUDITOR)
		return;
	if (rng_chance(&sm->rng, 300))
		for (i = sm->nmail; i > 0; i--)
			if (sm->mail[i - 1].dst == dst->idx) {
				since = sm->mail[i - 1].path;
				break;
			}
	sm->mail = sim_grow(sm->mail, &sm->capmail, sm->nmail,
			    sizeof(*sm->mail));
	m = &sm->mail[sm->nmail];
	snprintf(m->path, sizeof(m->path), "%s/bundle-%u.tsb", sm->root,
		 sm->nbundles++);
	rc = tsync_bundle_export(src->dir, dst->scope, m->path, since, &r);
	sim_event(sm, "bundle %s -> %s%s: %d, %llu txns", src->name,
		  dst->name, since ? " (since)" : "", rc,
		  (unsigned long long)r.txns);
	if (rc != 0) {
		sim_fail(sm, "bundle export %s: %s", src->name, r.why);
		return;
	}
	m->dst = dst->idx;
	m->at = sm->now + rng_below(&sm->rng, 3000);
	m->left = rng_chance(&sm->rng, 200) ? 2 : 1;
	sm->nmail++;
	sm->st[SS_BUNDLES]++;
}

void
work_mail(struct sim *sm, int all)
{
	struct tsync_bundle_result r;
	size_t i;
	int rc;

	for (i = 0; i < sm->nmail; i++) {
		struct mail *m = &sm->mail[i];
		struct sim_node *dst = &sm->node[m->dst];

		while (m->left > 0 && (all || m->at <= sm->now)) {
			rc = tsync_bundle_import(dst->dir, m->path, &r);
			sim_event(sm, "import bundle into %s: %d, applied %llu"
				      " duplicate %llu quarantined %llu",
				  dst->name, rc, (unsigned long long)r.applied,
				  (unsigned long long)r.duplicate,
				  (unsigned long long)r.quarantined);
			if (rc != 0)
				sim_fail(sm, "bundle import into %s: %s",
					 dst->name, r.why);
			m->left--;
			m->at = sm->now + rng_below(&sm->rng, 3000);
			sm->st[SS_IMPORTS]++;
			if (r.applied > 0 && dst->n != NULL)
				net_notify(sm, dst->idx, NULL);
		}
	}
}
