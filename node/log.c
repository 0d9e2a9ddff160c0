/*
 * log.c - streams and the txn log: stream heads, appending a txn, listing
 * streams and txns.  A txn is stored exactly as its origin encoded it
 * (body + signature), keyed by k = sid << 40 | seq, so one stream's txns
 * are one contiguous range of the table.
 */
#include <stdlib.h>
#include <string.h>

#include "node_int.h"
#include "txn.h"

int
ts_log_head(struct tsync_node *n, uint64_t origin, const char *scope,
	 size_t scope_len, struct stream_head *h)
{
	sqlite3_stmt *s = ts_store_stmt(n, ST_STREAM_GET);
	int rc;

	memset(h, 0, sizeof(*h));
	h->sid = -1;
	if (s == NULL)
		return TSYNC_EIO;
	sqlite3_bind_int64(s, 1, (int64_t)origin);
	sqlite3_bind_text(s, 2, scope, (int)scope_len, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		h->sid = sqlite3_column_int64(s, 0);
		h->seq = (uint64_t)sqlite3_column_int64(s, 1);
		if (sqlite3_column_bytes(s, 2) == KEYS_HASH_LEN)
			memcpy(h->hash, sqlite3_column_blob(s, 2),
			       KEYS_HASH_LEN);
		h->hlc = (uint64_t)sqlite3_column_int64(s, 3);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = TSYNC_ENOENT;
	} else {
		rc = node_sqlerr(n, rc, "read stream head");
	}
	sqlite3_reset(s);
	return rc;
}

static int
stream_create(struct tsync_node *n, struct stream_head *h, uint64_t origin,
	      const char *scope, size_t scope_len)
{
	sqlite3_stmt *s = ts_store_stmt(n, ST_STREAM_NEW);
	int rc;

	if (s == NULL)
		return TSYNC_EIO;
	sqlite3_bind_int64(s, 1, (int64_t)origin);
	sqlite3_bind_text(s, 2, scope, (int)scope_len, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return node_sqlerr(n, rc, "create stream");
	h->sid = sqlite3_last_insert_rowid(n->db);
	if (h->sid >= (1LL << 23))
		return node_err(n, TSYNC_EINVAL, "too many streams");
	return 0;
}

int
ts_log_store_head(struct tsync_node *n, const struct stream_head *h)
{
	sqlite3_stmt *s = ts_store_stmt(n, ST_STREAM_SET);
	int rc;

	if (s == NULL)
		return TSYNC_EIO;
	sqlite3_bind_int64(s, 1, h->sid);
	sqlite3_bind_int64(s, 2, (int64_t)h->seq);
	sqlite3_bind_blob(s, 3, h->hash, KEYS_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, (int64_t)h->hlc);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : node_sqlerr(n, rc, "advance stream");
}

int
ts_log_append(struct tsync_node *n, struct stream_head *h, uint64_t origin,
	   const char *scope, size_t scope_len, const uint8_t *body,
	   size_t len, const uint8_t hash[KEYS_HASH_LEN],
	   const uint8_t sig[KEYS_SIG_LEN], uint64_t hlc, int store_head)
{
	sqlite3_stmt *s;
	int rc;

	if (h->sid < 0 &&
	    (rc = stream_create(n, h, origin, scope, scope_len)) != 0)
		return rc;
	if (h->seq + 1 >= (1ULL << 40))
		return node_err(n, TSYNC_EINVAL, "stream is full (2^40 txns)");
	if ((s = ts_store_stmt(n, ST_LOG_PUT)) == NULL)
		return TSYNC_EIO;
	sqlite3_bind_int64(s, 1, LOG_ROWID(h->sid, h->seq + 1));
	sqlite3_bind_int64(s, 2, (int64_t)hlc);
	sqlite3_bind_blob(s, 3, hash, KEYS_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(s, 4, body, (int)len, SQLITE_STATIC);
	sqlite3_bind_blob(s, 5, sig, KEYS_SIG_LEN, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return node_sqlerr(n, rc, "append txn");
	h->seq++;
	memcpy(h->hash, hash, KEYS_HASH_LEN);
	h->hlc = hlc;
	return store_head ? ts_log_store_head(n, h) : 0;
}

int
tsync_node_streams(struct tsync_node *n, tsync_stream_cb cb, void *arg)
{
	struct tsync_stream_info si;
	sqlite3_stmt *s;
	int rc;

	rc = sqlite3_prepare_v2(n->db,
				"SELECT origin, scope, seq, hlc FROM ts_streams"
				" ORDER BY scope, origin",
				-1, &s, NULL);
	if (rc != SQLITE_OK)
		return node_sqlerr(n, rc, "list streams");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		uint64_t origin = (uint64_t)sqlite3_column_int64(s, 0);

		id_format(origin, si.origin);
		si.scope = (const char *)sqlite3_column_text(s, 1);
		si.seq = (uint64_t)sqlite3_column_int64(s, 2);
		si.hlc = (uint64_t)sqlite3_column_int64(s, 3);
		si.local = origin == n->id;
		if (cb(arg, &si) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : node_sqlerr(n, rc, "list streams");
}

static int
count(struct tsync_node *n, const char *sql, uint64_t *out)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(n->db, sql, -1, &s, NULL);

	if (rc != SQLITE_OK)
		return node_sqlerr(n, rc, "count");
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*out += (uint64_t)sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : node_sqlerr(n, rc, "count");
}

int
tsync_node_counts(struct tsync_node *n, struct tsync_counts *out)
{
	char sql[256];
	int i, rc;

	memset(out, 0, sizeof(*out));
	if ((rc = count(n, "SELECT count(*) FROM ts_streams",
			&out->streams)) != 0 ||
	    (rc = count(n, "SELECT coalesce(sum(seq), 0) FROM ts_streams",
			&out->txns)) != 0 ||
	    (rc = count(n, "SELECT count(*) FROM ts_ver WHERE dead NOT NULL",
			&out->tombstones)) != 0 ||
	    (rc = count(n, "SELECT count(*) FROM ts_quarantine",
			&out->quarantined)) != 0 ||
	    (rc = count(n, "SELECT count(*) FROM ts_heads",
			&out->conflicts)) != 0)
		return rc;
	for (i = 0; i < n->ntbl; i++) {
		ts_fmt(sql, sizeof(sql), "SELECT count(*) FROM \"%s\"",
		       n->tbls[i].name);
		if ((rc = count(n, sql, &out->rows)) != 0)
			return rc;
	}
	return 0;
}

static void
summarise(struct tsync_node *n, const struct txn *t, struct ts_buf *out)
{
	static const char *const kinds[] = {"update", "insert", "delete"};
	struct txn_change c;
	struct txn_col col;
	char line[512];
	uint32_t i, j;
	size_t len;

	(void)n;
	for (i = 0; i < t->nchanges; i++) {
		txn_change_at(t, i, &c);
		len = (size_t)snprintf(line, sizeof(line), "%s%.*s/%.*s %s",
				       i ? "\n" : "", (int)c.table_len,
				       c.table, (int)c.id_len, c.id,
				       kinds[c.kind]);
		for (j = 0; j < c.ncols && len < sizeof(line) - 2; j++) {
			txn_col_at(&c, j, &col);
			len += (size_t)snprintf(line + len, sizeof(line) - len,
						"%s%.*s", j ? "," : " {",
						(int)col.name_len, col.name);
		}
		if (c.ncols > 0 && len < sizeof(line) - 2)
			len += (size_t)snprintf(line + len,
						sizeof(line) - len, "}");
		if (len >= sizeof(line))
			len = sizeof(line) - 1;
		ts_buf_put(out, line, len);
	}
	ts_buf_put(out, "", 1);
}

int
tsync_node_log(struct tsync_node *n, unsigned limit, tsync_txn_cb cb,
	       void *arg)
{
	struct tsync_txn_info ti;
	struct ts_buf sum;
	sqlite3_stmt *s;
	char err[128];
	int rc;

	rc = sqlite3_prepare_v2(n->db,
				"SELECT s.origin, s.scope, l.k & 1099511627775,"
				" l.hlc, l.body FROM ts_log l JOIN ts_streams s"
				" ON s.sid = l.k >> 40"
				" ORDER BY l.hlc DESC, l.k DESC LIMIT ?1",
				-1, &s, NULL);
	if (rc != SQLITE_OK)
		return node_sqlerr(n, rc, "read log");
	sqlite3_bind_int64(s, 1, limit == 0 ? -1 : (int64_t)limit);
	ts_buf_init(&sum, &n->ops, 0);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct txn t;

		id_format((uint64_t)sqlite3_column_int64(s, 0), ti.origin);
		ti.scope = (const char *)sqlite3_column_text(s, 1);
		ti.seq = (uint64_t)sqlite3_column_int64(s, 2);
		ti.hlc = (uint64_t)sqlite3_column_int64(s, 3);
		sum.len = 0;
		if (txn_decode(&t, sqlite3_column_blob(s, 4),
			       (size_t)sqlite3_column_bytes(s, 4), err,
			       sizeof(err)) == 0)
			summarise(n, &t, &sum);
		else
			ts_buf_put(&sum, err, strlen(err) + 1);
		txn_done(&t);
		ti.summary = (const char *)sum.p;
		if (cb(arg, &ti) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	ts_buf_free(&sum);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : node_sqlerr(n, rc, "read log");
}

int
ts_log_heads(struct tsync_node *n, struct stream_row **rows,
	     uint8_t (**hashes)[KEYS_HASH_LEN], size_t *count)
{
	struct stream_row *v = NULL;
	uint8_t (*h)[KEYS_HASH_LEN] = NULL;
	size_t cnt = 0, cap = 0, hcap = 0;
	sqlite3_stmt *s;
	int rc;

	*rows = NULL;
	*count = 0;
	if (hashes != NULL)
		*hashes = NULL;
	rc = sqlite3_prepare_v2(n->db,
				"SELECT sid, origin, scope, seq, hash FROM"
				" ts_streams WHERE seq > 0 ORDER BY sid",
				-1, &s, NULL);
	if (rc != SQLITE_OK)
		return node_sqlerr(n, rc, "list streams");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (ts_grow(&v, &cap, cnt, sizeof(*v), 16) != 0 ||
		    (hashes != NULL &&
		     ts_grow(&h, &hcap, cnt, sizeof(*h), 16) != 0)) {
			rc = SQLITE_NOMEM;
			break;
		}
		v[cnt].sid = sqlite3_column_int64(s, 0);
		v[cnt].origin = (uint64_t)sqlite3_column_int64(s, 1);
		ts_fmt(v[cnt].scope, sizeof(v[cnt].scope), "%s",
		       (const char *)sqlite3_column_text(s, 2));
		v[cnt].seq = (uint64_t)sqlite3_column_int64(s, 3);
		if (hashes != NULL) {
			memset(h[cnt], 0, KEYS_HASH_LEN);
			if (sqlite3_column_bytes(s, 4) == KEYS_HASH_LEN)
				memcpy(h[cnt], sqlite3_column_blob(s, 4),
				       KEYS_HASH_LEN);
		}
		cnt++;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		free(v);
		free(h);
		return rc == SQLITE_NOMEM ? node_err(n, TSYNC_ENOMEM, "no memory")
					  : node_sqlerr(n, rc, "list streams");
	}
	*rows = v;
	if (hashes != NULL)
		*hashes = h;
	*count = cnt;
	return 0;
}

int
ts_log_streams(struct tsync_node *n, struct stream_row **out, size_t *count)
{
	return ts_log_heads(n, out, NULL, count);
}

int
ts_log_read(struct tsync_node *n, int64_t sid, uint64_t from, uint64_t to,
	 size_t max_bytes, int may_exceed, ts_log_txn_cb cb, void *arg)
{
	sqlite3_stmt *s = n->st_read;
	size_t bytes = 0;
	int rc;

	if (s == NULL) {
		rc = sqlite3_prepare_v3(n->db,
					"SELECT k, body, sig FROM ts_log WHERE k"
					" BETWEEN ?1 AND ?2 ORDER BY k",
					-1, SQLITE_PREPARE_PERSISTENT, &s,
					NULL);
		if (rc != SQLITE_OK)
			return node_sqlerr(n, rc, "read log");
		n->st_read = s;
	}
	sqlite3_reset(s);
	sqlite3_bind_int64(s, 1, LOG_ROWID(sid, from));
	sqlite3_bind_int64(s, 2, LOG_ROWID(sid, to));
	while (bytes < max_bytes && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		size_t len = (size_t)sqlite3_column_bytes(s, 1);

		/* Never past max_bytes, except one txn alone when the caller
		 * allows it (an empty batch: TXN_MAX_BODY < FRAME_MAX). */
		if ((bytes > 0 || !may_exceed) &&
		    bytes + len + KEYS_SIG_LEN + 16 > max_bytes) {
			rc = SQLITE_DONE;
			break;
		}
		if (sqlite3_column_bytes(s, 2) != KEYS_SIG_LEN) {
			rc = node_err(n, TSYNC_ECORRUPT, "stored txn lacks a "
				      "signature");
			break;
		}
		rc = cb(arg, (uint64_t)sqlite3_column_int64(s, 0) &
				     ((1ULL << 40) - 1),
			sqlite3_column_blob(s, 1), len,
			sqlite3_column_blob(s, 2));
		if (rc != 0) {
			rc = rc > 0 ? SQLITE_DONE : rc; /* >0: stop, no error */
			break;
		}
		bytes += len + KEYS_SIG_LEN;
		rc = SQLITE_DONE;
	}
	sqlite3_reset(s);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return 0;
	return rc < 0 ? rc : node_sqlerr(n, rc, "read log");
}
