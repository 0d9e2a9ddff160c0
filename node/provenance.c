/*
 * provenance.c - who wrote each value of a row: for every column, the
 * version it holds (HLC and origin node), the origin's certified scope and
 * role, and the txn (stream and seq) that carried it, as the log holds it.
 * An auditor reads this to say which office wrote what, and when.
 */
#include <stdlib.h>
#include <string.h>

#include "node_int.h"
#include "scope.h"

/* The seq of the txn of stream (origin, scope) whose HLC is `hlc`. */
static uint64_t
seq_of(struct tsync_node *n, uint64_t origin, const char *scope, uint64_t hlc)
{
	sqlite3_stmt *s;
	uint64_t seq = 0;

	if (sqlite3_prepare_v2(n->db,
			       "SELECT l.k & 1099511627775 FROM ts_streams t "
			       "JOIN ts_log l ON l.k >= (t.sid << 40) AND l.k < "
			       "((t.sid + 1) << 40) WHERE t.origin = ?1 AND "
			       "t.scope = ?2 AND l.hlc = ?3 LIMIT 1",
			       -1, &s, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_int64(s, 1, (int64_t)origin);
	sqlite3_bind_text(s, 2, scope, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (int64_t)hlc);
	if (sqlite3_step(s) == SQLITE_ROW)
		seq = (uint64_t)sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return seq;
}

static void
cert_of(struct tsync_node *n, uint64_t origin, char *scope, size_t slen,
	char *role, size_t rlen)
{
	sqlite3_stmt *s;

	scope[0] = role[0] = '\0';
	if (sqlite3_prepare_v2(n->db,
			       "SELECT scope, role FROM ts_certs WHERE node_id "
			       "= ?1",
			       -1, &s, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_int64(s, 1, (int64_t)origin);
	if (sqlite3_step(s) == SQLITE_ROW) {
		ts_fmt(scope, slen, "%s", sqlite3_column_text(s, 0));
		ts_fmt(role, rlen, "%s", sqlite3_column_text(s, 1));
	}
	sqlite3_finalize(s);
}

int
tsync_node_provenance(struct tsync_node *n, const char *table,
		      const char *id, tsync_prov_cb cb, void *arg)
{
	struct tbl *t = ts_store_table(n, table, strlen(table));
	char rowscope[SCOPE_MAX + 1], oscope[SCOPE_MAX + 1], role[16];
	struct tsync_provenance p;
	sqlite3_stmt *s;
	uint8_t *vers;
	int rc, col;

	if (t == NULL)
		return node_err(n, TSYNC_ENOENT, "no replicated table %s", table);
	rc = sqlite3_prepare_v2(n->db,
				"SELECT v.vers FROM ts_ver v WHERE v.tid = ?1 "
				"AND v.id = ?2",
				-1, &s, NULL);
	if (rc != SQLITE_OK)
		return node_sqlerr(n, rc, "provenance");
	sqlite3_bind_int(s, 1, t->tid);
	sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(s)) != SQLITE_ROW) {
		sqlite3_finalize(s);
		return rc == SQLITE_DONE
			       ? node_err(n, TSYNC_ENOENT, "no row %s/%s",
					  table, id)
			       : node_sqlerr(n, rc, "provenance");
	}
	if ((vers = calloc((size_t)t->ncol, 16)) == NULL) {
		sqlite3_finalize(s);
		return node_err(n, TSYNC_ENOMEM, "out of memory");
	}
	rc = ver_unpack(sqlite3_column_blob(s, 0),
			(size_t)sqlite3_column_bytes(s, 0), vers, t->ncol);
	sqlite3_finalize(s);
	if (rc != 0) {
		free(vers);
		return node_err(n, TSYNC_ECORRUPT, "versions of %s/%s are "
						   "corrupt",
				table, id);
	}
	rowscope[0] = '\0';
	{
		char *q = sqlite3_mprintf("SELECT scope FROM \"%w\" WHERE id = ?1",
					  table);

		if (q && sqlite3_prepare_v2(n->db, q, -1, &s, NULL) == SQLITE_OK) {
			sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
			if (sqlite3_step(s) == SQLITE_ROW)
				ts_fmt(rowscope, sizeof(rowscope), "%s",
				       sqlite3_column_text(s, 0));
			sqlite3_finalize(s);
		}
		sqlite3_free(q);
	}
	for (col = 0, rc = 0; rc == 0 && col < t->ncol; col++) {
		uint64_t origin;

		if (col == 1)
			continue; /* scope: fixed with the row */
		memset(&p, 0, sizeof(p));
		ver_get(vers, t->ncol, col, &p.hlc, &origin);
		if (p.hlc == 0)
			continue; /* never written */
		id_format(origin, p.origin);
		cert_of(n, origin, oscope, sizeof(oscope), role, sizeof(role));
		p.column = t->cols[col];
		p.origin_scope = oscope;
		p.origin_role = role;
		p.stream_scope = rowscope;
		p.seq = seq_of(n, origin, rowscope, p.hlc);
		rc = cb(arg, &p);
	}
	free(vers);
	return rc;
}
