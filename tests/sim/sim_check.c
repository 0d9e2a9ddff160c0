/*
 * sim_check.c - what must hold once every link healed and the network is
 * quiet.  The district holds every stream, so it is the reference:
 *
 *  (1) Visibility: every node holds exactly the live rows (all columns)
 *      and exactly the streams (origin, scope, seq, head hash) of the
 *      district whose scope it may see (scope_may_see with its scope and
 *      role): nothing missing, nothing extra, nothing of a sibling.
 *  (2) Digests: tsync_node_digest over the node's own scope equals the
 *      district's over that scope; the auditor's full digest equals the
 *      district's full digest.
 *  (3) Conflicts: tsync_node_conflicts of each node (id, table, row,
 *      column, both values, both versions, row deleted) equals the
 *      district's list restricted to the rows that node may see.
 *  (4) No acknowledged write lost.  For every txn whose commit returned 0:
 *      (a) every node that may see its scope holds it, at its seq, with
 *          the hash it had when it was committed;
 *      (b) at the district, each column it wrote still has its version
 *          (hlc, origin) either as the column's current version, or as an
 *          open conflict (ts_heads), or named as "overwrote" by some txn
 *          the district holds (a later write, or a settlement, that saw
 *          it): no value is ever silently dropped;
 *      (c) at the district, the row slot's version is at least the version
 *          of each insert or delete it made (tombstones are last writer
 *          wins on the row slot, docs/data-model.md).
 *  (5) tsync_node_verify is clean on every node.
 *  (6) Nothing of an abandoned transaction exists anywhere: no "lost-" row
 *      or version, no "lost" value; nor of a write that bypassed capture
 *      (no "stray" value).
 *  (7) Sessions never quarantine: only the replayed batches and bundles
 *      (which carry gaps on purpose) may leave quarantine records.
 * Session failures other than idle timeouts, and "not in sync" results,
 * are failures too; sim_net.c reports them as they happen.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node_int.h"
#include "scope.h"
#include "sim.h"
#include "txn.h"

struct strs {
	char **s;
	size_t n, cap;
};

static void
strs_add(struct strs *l, const char *s)
{
	l->s = sim_grow(l->s, &l->cap, l->n, sizeof(*l->s));
	if ((l->s[l->n++] = strdup(s)) == NULL)
		abort();
}

static void
strs_free(struct strs *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->s[i]);
	free(l->s);
	memset(l, 0, sizeof(*l));
}

/* Fails on the first difference between what n holds and what it should. */
static void
strs_same(struct sim *sm, const char *what, const struct sim_node *sn,
	  const struct strs *have, const struct strs *want)
{
	size_t i;

	for (i = 0; i < have->n && i < want->n; i++)
		if (strcmp(have->s[i], want->s[i]) != 0)
			break;
	if (i == have->n && i == want->n)
		return;
	sim_fail(sm, "(%s) %s holds %zu, should hold %zu; first difference "
		     "at %zu: has '%s', should have '%s'",
		 what, sn->name, have->n, want->n, i,
		 i < have->n ? have->s[i] : "(nothing)",
		 i < want->n ? want->s[i] : "(nothing)");
}

static int
visible(const struct sim_node *viewer, const char *scope)
{
	return viewer == NULL || scope_may_see(viewer->scope, viewer->role,
					       scope);
}

/* The current row of s as "a|b|c", NULL as \N. */
static void
row_text(sqlite3_stmt *s, char *out, size_t len)
{
	int i, ncol = sqlite3_column_count(s);
	size_t off = 0;

	out[0] = '\0';
	for (i = 0; i < ncol && off < len; i++) {
		const char *v = (const char *)sqlite3_column_text(s, i);

		off += (size_t)snprintf(out + off, len - off, "%s%s",
					i ? "|" : "", v ? v : "\\N");
	}
}

/* The rows of `sql` at `from` whose scope `viewer` may see (NULL: all). */
static void
collect(struct sim_node *from, const char *sql, int scope_col,
	const struct sim_node *viewer, struct strs *out)
{
	sqlite3_stmt *s;
	char line[4096];

	if (sqlite3_prepare_v2(tsync_node_db(from->n), sql, -1, &s, NULL) !=
	    SQLITE_OK)
		return;
	while (sqlite3_step(s) == SQLITE_ROW) {
		const char *sc =
			(const char *)sqlite3_column_text(s, scope_col);

		if (sc == NULL || !visible(viewer, sc))
			continue;
		row_text(s, line, sizeof(line));
		strs_add(out, line);
	}
	sqlite3_finalize(s);
}

static const char rows_sql[] =
	"SELECT id, scope, category, title, parties, status, opened_at,"
	" notes FROM cases ORDER BY id";
static const char streams_sql[] =
	"SELECT printf('%016x', origin), scope, seq, hex(hash) FROM"
	" ts_streams WHERE seq > 0 ORDER BY origin, scope";

/* (1) and (2) for one node. */
static void
check_holds(struct sim *sm, struct sim_node *sn)
{
	struct sim_node *d = &sm->node[N_DISTRICT];
	struct strs have = {NULL, 0, 0}, want = {NULL, 0, 0};
	char hd[65], hn[65];
	const char *scope = sn->idx == N_AUDITOR ? NULL : sn->scope;

	collect(sn, rows_sql, 1, NULL, &have);
	collect(d, rows_sql, 1, sn, &want);
	strs_same(sm, "1: rows", sn, &have, &want);
	strs_free(&have);
	strs_free(&want);
	collect(sn, streams_sql, 1, NULL, &have);
	collect(d, streams_sql, 1, sn, &want);
	strs_same(sm, "1: streams", sn, &have, &want);
	strs_free(&have);
	strs_free(&want);
	if (tsync_node_digest(sn->n, scope, hn) != 0 ||
	    tsync_node_digest(d->n, scope, hd) != 0)
		sim_fail(sm, "(2) digest of %s: %s", sn->name,
			 tsync_node_errmsg(sn->n));
	else if (strcmp(hn, hd) != 0)
		sim_fail(sm, "(2) digest of %s over %s is %.16s, the "
			     "district's is %.16s",
			 sn->name, scope ? scope : "everything", hn, hd);
}

/* ---- (3) conflicts ------------------------------------------------------- */

struct conf_ctx {
	struct sim *sm;
	const struct sim_node *viewer;
	struct strs *out;
};

static int
conf_cb(void *arg, const struct tsync_conflict *c)
{
	struct conf_ctx *x = arg;
	const char *scope = work_row_scope(x->sm, c->row);
	char line[1024];

	if (scope == NULL) {
		sim_fail(x->sm, "(3) a conflict on row %s, which the "
				"simulator never made",
			 c->row);
		return 0;
	}
	if (!visible(x->viewer, scope))
		return 0;
	snprintf(line, sizeof(line),
		 "%s %s/%s/%s theirs=%s@%llu/%s mine=%s@%llu/%s deleted=%d",
		 c->id, c->table, c->row, c->column,
		 c->theirs ? c->theirs : "\\N",
		 (unsigned long long)c->theirs_hlc, c->theirs_origin,
		 c->mine ? c->mine : "\\N", (unsigned long long)c->mine_hlc,
		 c->mine_origin, c->row_deleted);
	strs_add(x->out, line);
	return 0;
}

static void
check_conflicts(struct sim *sm, struct sim_node *sn)
{
	struct strs have = {NULL, 0, 0}, want = {NULL, 0, 0};
	struct conf_ctx x = {sm, NULL, &have};

	if (tsync_node_conflicts(sn->n, conf_cb, &x) != 0)
		sim_fail(sm, "(3) conflicts of %s: %s", sn->name,
			 tsync_node_errmsg(sn->n));
	x.viewer = sn;
	x.out = &want;
	tsync_node_conflicts(sm->node[N_DISTRICT].n, conf_cb, &x);
	strs_same(sm, "3: conflicts", sn, &have, &want);
	if (sn->idx == N_AUDITOR)
		sm->st[SS_CONFLICTS] += have.n;
	strs_free(&have);
	strs_free(&want);
}

/* ---- (4) acknowledged writes --------------------------------------------- */

/* 1 if sn holds (origin, scope, seq) with this hash. */
static int
holds(struct sim_node *sn, uint64_t origin, const struct ack *a,
      uint8_t **body, size_t *len)
{
	sqlite3_stmt *s;
	int ok = 0;

	if (sqlite3_prepare_v2(tsync_node_db(sn->n),
			       "SELECT l.hash, l.body FROM ts_streams s"
			       " JOIN ts_log l ON l.k = (s.sid << 40) | ?3"
			       " WHERE s.origin = ?1 AND s.scope = ?2"
			       " AND s.seq >= ?3",
			       -1, &s, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_int64(s, 1, (int64_t)origin);
	sqlite3_bind_text(s, 2, a->scope, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (int64_t)a->seq);
	if (sqlite3_step(s) == SQLITE_ROW &&
	    sqlite3_column_bytes(s, 0) == (int)sizeof(a->hash) &&
	    memcmp(sqlite3_column_blob(s, 0), a->hash, sizeof(a->hash)) == 0) {
		ok = 1;
		if (body != NULL) {
			*len = (size_t)sqlite3_column_bytes(s, 1);
			if ((*body = malloc(*len + 1)) == NULL)
				abort();
			memcpy(*body, sqlite3_column_blob(s, 1), *len);
		}
	}
	sqlite3_finalize(s);
	return ok;
}

/* The district's "overwrote" links, per column, in a scratch database. */
static sqlite3 *
named_versions(struct sim *sm)
{
	struct tsync_node *d = sm->node[N_DISTRICT].n;
	sqlite3_stmt *s, *ins;
	sqlite3 *m;
	char err[96];

	if (sqlite3_open(":memory:", &m) != SQLITE_OK ||
	    sqlite3_exec(m, "CREATE TABLE named(tbl, id, col, hlc, origin,"
			    " PRIMARY KEY(tbl, id, col, hlc, origin))",
			 NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(m, "INSERT OR IGNORE INTO named VALUES(?1, ?2,"
				  " ?3, ?4, ?5)",
			       -1, &ins, NULL) != SQLITE_OK) {
		sqlite3_close(m);
		return NULL;
	}
	sqlite3_prepare_v2(tsync_node_db(d), "SELECT body FROM ts_log", -1, &s,
			   NULL);
	while (sqlite3_step(s) == SQLITE_ROW) {
		struct txn t;
		uint32_t i, j;

		if (txn_decode(&t, sqlite3_column_blob(s, 0),
			       (size_t)sqlite3_column_bytes(s, 0), err,
			       sizeof(err)) != 0) {
			sim_fail(sm, "(4) the district holds a bad txn: %s",
				 err);
			txn_done(&t);
			continue;
		}
		for (i = 0; i < t.nchanges; i++) {
			struct txn_change c;

			txn_change_at(&t, i, &c);
			for (j = 0; j < c.ncols; j++) {
				struct txn_col col;

				txn_col_at(&c, j, &col);
				if (col.prev_hlc == 0 && col.prev_origin == 0)
					continue;
				sqlite3_bind_text(ins, 1, c.table,
						  (int)c.table_len,
						  SQLITE_STATIC);
				sqlite3_bind_text(ins, 2, c.id, (int)c.id_len,
						  SQLITE_STATIC);
				sqlite3_bind_text(ins, 3, col.name,
						  (int)col.name_len,
						  SQLITE_STATIC);
				sqlite3_bind_int64(ins, 4,
						   (int64_t)col.prev_hlc);
				sqlite3_bind_int64(ins, 5,
						   (int64_t)col.prev_origin);
				sqlite3_step(ins);
				sqlite3_reset(ins);
			}
		}
		txn_done(&t);
	}
	sqlite3_finalize(s);
	sqlite3_finalize(ins);
	return m;
}

static int
exists(sqlite3 *db, const char *sql, const char *tbl, int tid,
       const char *id, size_t idlen, const char *col, int ci, uint64_t hlc,
       uint64_t origin)
{
	sqlite3_stmt *s;
	int found = 0;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return 0;
	if (tbl != NULL)
		sqlite3_bind_text(s, 1, tbl, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int(s, 1, tid);
	sqlite3_bind_text(s, 2, id, (int)idlen, SQLITE_STATIC);
	if (col != NULL)
		sqlite3_bind_text(s, 3, col, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int(s, 3, ci);
	sqlite3_bind_int64(s, 4, (int64_t)hlc);
	sqlite3_bind_int64(s, 5, (int64_t)origin);
	found = sqlite3_step(s) == SQLITE_ROW;
	sqlite3_finalize(s);
	return found;
}

/* (4b) and (4c) for one change of an acknowledged txn. */
static void
check_change(struct sim *sm, sqlite3 *named, const struct ack *a,
	     const struct txn *t, const struct txn_change *c)
{
	struct tsync_node *d = sm->node[N_DISTRICT].n;
	struct tbl *tb = ts_store_table(d, c->table, c->table_len);
	uint8_t vers[16 * TBL_MAX_COLS];
	sqlite3_stmt *s;
	uint64_t h, o;
	uint32_t j;
	char tname[64];

	if (tb == NULL)
		return;
	snprintf(tname, sizeof(tname), "%s", tb->name);
	memset(vers, 0, sizeof(vers));
	if (sqlite3_prepare_v2(tsync_node_db(d), "SELECT vers FROM ts_ver"
						 " WHERE tid = ?1 AND id = ?2",
			       -1, &s, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_int(s, 1, tb->tid);
	sqlite3_bind_text(s, 2, c->id, (int)c->id_len, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_ROW ||
	    ver_unpack(sqlite3_column_blob(s, 0),
		       (size_t)sqlite3_column_bytes(s, 0), vers,
		       tb->ncol) != 0)
		sim_fail(sm, "(4) the district has no versions of row %.*s",
			 (int)c->id_len, c->id);
	sqlite3_finalize(s);
	if (c->kind != TXN_UPDATE) {
		ver_get(vers, tb->ncol, 0, &h, &o);
		if (version_cmp(h, o, t->hlc, t->origin) < 0)
			sim_fail(sm, "(4c) %s's %s of row %.*s (%s/%llu) is "
				     "above the district's row version",
				 sm->node[a->node].name,
				 c->kind == TXN_INSERT ? "insert" : "delete",
				 (int)c->id_len, c->id, a->scope,
				 (unsigned long long)a->seq);
	}
	for (j = 0; j < c->ncols; j++) {
		struct txn_col col;
		char cname[64];
		int ci;

		txn_col_at(c, j, &col);
		ci = tbl_col(tb, col.name, col.name_len);
		if (ci < 2)
			continue;
		snprintf(cname, sizeof(cname), "%s", tb->cols[ci]);
		ver_get(vers, tb->ncol, ci, &h, &o);
		if ((h == t->hlc && o == t->origin) ||
		    exists(tsync_node_db(d),
			   "SELECT 1 FROM ts_heads WHERE tid = ?1 AND id = ?2"
			   " AND col = ?3 AND hlc = ?4 AND origin = ?5",
			   NULL, tb->tid, c->id, c->id_len, NULL, ci, t->hlc,
			   t->origin) ||
		    exists(named,
			   "SELECT 1 FROM named WHERE tbl = ?1 AND id = ?2"
			   " AND col = ?3 AND hlc = ?4 AND origin = ?5",
			   tname, 0, c->id, c->id_len, cname, 0, t->hlc,
			   t->origin))
			continue;
		sim_fail(sm, "(4b) lost: %s wrote %s/%.*s/%s (txn %s/%llu, "
			     "hlc %llu); at the district it is neither the "
			     "value, nor a conflict, nor overwritten by a "
			     "write that saw it",
			 sm->node[a->node].name, tname, (int)c->id_len, c->id,
			 cname, a->scope, (unsigned long long)a->seq,
			 (unsigned long long)t->hlc);
	}
}

static void
check_acks(struct sim *sm)
{
	sqlite3 *named = named_versions(sm);
	size_t i;
	int j;

	for (i = 0; i < sm->nacks; i++) {
		const struct ack *a = &sm->acks[i];
		uint64_t origin = sm->node[a->node].id;
		uint8_t *body = NULL;
		size_t len = 0;
		struct txn t;
		char err[96];
		uint32_t k;

		for (j = 0; j < SIM_NODES; j++)
			if (visible(&sm->node[j], a->scope) &&
			    !holds(&sm->node[j], origin, a,
				   j == N_DISTRICT ? &body : NULL, &len))
				sim_fail(sm, "(4a) %s lacks %s's acknowledged "
					     "txn %s/%llu",
					 sm->node[j].name,
					 sm->node[a->node].name, a->scope,
					 (unsigned long long)a->seq);
		if (body == NULL || named == NULL)
			continue;
		if (txn_decode(&t, body, len, err, sizeof(err)) == 0)
			for (k = 0; k < t.nchanges; k++) {
				struct txn_change c;

				txn_change_at(&t, k, &c);
				check_change(sm, named, a, &t, &c);
			}
		txn_done(&t);
		free(body);
	}
	sqlite3_close(named);
}

/* ---- (5), (6), (7) ------------------------------------------------------ */

struct fault_ctx {
	struct sim *sm;
	const struct sim_node *sn;
};

static void
fault_cb(void *arg, const char *fault)
{
	struct fault_ctx *x = arg;

	sim_fail(x->sm, "(5) verify %s: %s", x->sn->name, fault);
}

static long long
count(struct sim_node *sn, const char *sql, char *first, size_t len)
{
	sqlite3_stmt *s;
	long long c = -1;

	if (first != NULL)
		first[0] = '\0';
	if (sqlite3_prepare_v2(tsync_node_db(sn->n), sql, -1, &s, NULL) !=
	    SQLITE_OK)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW) {
		c = sqlite3_column_int64(s, 0);
		if (first != NULL && sqlite3_column_count(s) > 1 &&
		    sqlite3_column_text(s, 1) != NULL)
			snprintf(first, len, "%s", sqlite3_column_text(s, 1));
	}
	sqlite3_finalize(s);
	return c;
}

static void
check_node(struct sim *sm, struct sim_node *sn)
{
	struct fault_ctx x = {sm, sn};
	char first[512];
	long long c;
	int rc;

	if ((rc = tsync_node_verify(sn->n, fault_cb, &x)) != 0)
		sim_fail(sm, "(5) verify %s returned %d: %s", sn->name, rc,
			 tsync_node_errmsg(sn->n));
	c = count(sn, "SELECT (SELECT count(*) FROM cases WHERE id LIKE"
		      " 'lost-%' OR notes IN ('lost', 'stray')) + (SELECT"
		      " count(*) FROM ts_ver WHERE id LIKE 'lost-%')",
		  NULL, 0);
	if (c != 0)
		sim_fail(sm, "(6) %s holds %lld traces of abandoned or "
			     "uncaptured writes",
			 sn->name, c);
	c = count(sn, "SELECT count(*), min(peer || ': ' || reason) FROM"
		      " ts_quarantine WHERE peer NOT LIKE 'sim replay%' AND"
		      " peer NOT LIKE 'bundle %'",
		  first, sizeof(first));
	if (c != 0)
		sim_fail(sm, "(7) %s quarantined %lld txns from sessions, e.g."
			     " %s",
			 sn->name, c, first);
}

void
check_all(struct sim *sm)
{
	char hex[65];
	int i;

	for (i = 0; i < SIM_NODES; i++)
		if (sm->node[i].n == NULL) {
			sim_fail(sm, "%s is not open at the end",
				 sm->node[i].name);
			return;
		}
	for (i = 1; i < SIM_NODES; i++) {
		check_holds(sm, &sm->node[i]);
		check_conflicts(sm, &sm->node[i]);
	}
	check_acks(sm);
	for (i = 0; i < SIM_NODES; i++)
		check_node(sm, &sm->node[i]);
	if (tsync_node_digest(sm->node[N_DISTRICT].n, NULL, hex) == 0)
		sim_event(sm, "district digest %s", hex);
}
