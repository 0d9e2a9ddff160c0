/*
 * peers.c - what this node remembers of its peers (ts_peers): last
 * contact, how far behind each side was, txns moved, the last error.
 * Written by the replication layer at each session's milestones and shown
 * by `tiersync status`.
 */
#include <string.h>

#include "node_int.h"

int
peers_record(struct tsync_node *n, const struct peer_rec *p)
{
	sqlite3_stmt *s;
	int rc;

	rc = sqlite3_prepare_v2(
		n->db,
		"INSERT INTO ts_peers(peer_id, scope, role, addr, last_contact,"
		" they_lack, we_lack, sent, received, last_error)"
		" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
		" ON CONFLICT(peer_id) DO UPDATE SET scope = excluded.scope,"
		" role = excluded.role, addr = excluded.addr, last_contact ="
		" excluded.last_contact, they_lack = excluded.they_lack,"
		" we_lack = excluded.we_lack, sent = sent + excluded.sent,"
		" received = received + excluded.received, last_error ="
		" excluded.last_error",
		-1, &s, NULL);
	if (rc != SQLITE_OK)
		return node_sqlerr(n, rc, "record peer");
	sqlite3_bind_int64(s, 1, (int64_t)p->id);
	sqlite3_bind_text(s, 2, p->scope, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, p->role, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, p->addr ? p->addr : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, (int64_t)p->last_contact);
	sqlite3_bind_int64(s, 6, (int64_t)p->they_lack);
	sqlite3_bind_int64(s, 7, (int64_t)p->we_lack);
	sqlite3_bind_int64(s, 8, (int64_t)p->sent);
	sqlite3_bind_int64(s, 9, (int64_t)p->received);
	if (p->error != NULL && p->error[0] != '\0')
		sqlite3_bind_text(s, 10, p->error, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : node_sqlerr(n, rc, "record peer");
}

int
tsync_node_peers(struct tsync_node *n, tsync_peer_cb cb, void *arg)
{
	struct tsync_peer_info pi;
	sqlite3_stmt *s;
	int rc;

	rc = sqlite3_prepare_v2(n->db,
				"SELECT peer_id, scope, role, addr, last_contact,"
				" they_lack, we_lack, sent, received,"
				" last_error FROM ts_peers ORDER BY scope",
				-1, &s, NULL);
	if (rc != SQLITE_OK)
		return node_sqlerr(n, rc, "list peers");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		memset(&pi, 0, sizeof(pi));
		id_format((uint64_t)sqlite3_column_int64(s, 0), pi.node_id);
		pi.scope = (const char *)sqlite3_column_text(s, 1);
		pi.role = (const char *)sqlite3_column_text(s, 2);
		pi.addr = (const char *)sqlite3_column_text(s, 3);
		pi.last_contact_ms = (uint64_t)sqlite3_column_int64(s, 4);
		pi.they_lack = (uint64_t)sqlite3_column_int64(s, 5);
		pi.we_lack = (uint64_t)sqlite3_column_int64(s, 6);
		pi.sent = (uint64_t)sqlite3_column_int64(s, 7);
		pi.received = (uint64_t)sqlite3_column_int64(s, 8);
		pi.last_error = (const char *)sqlite3_column_text(s, 9);
		if (cb(arg, &pi) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : node_sqlerr(n, rc, "list peers");
}

int
tsync_node_skews(struct tsync_node *n, tsync_skew_cb cb, void *arg)
{
	struct tsync_skew_info si;
	sqlite3_stmt *s;
	int rc;

	rc = sqlite3_prepare_v2(n->db, "SELECT origin, ahead_ms, seen_at FROM"
				       " ts_skew ORDER BY origin", -1, &s, NULL);
	if (rc != SQLITE_OK)
		return node_sqlerr(n, rc, "list clock skews");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		id_format((uint64_t)sqlite3_column_int64(s, 0), si.origin);
		si.ahead_ms = (uint64_t)sqlite3_column_int64(s, 1);
		si.seen_at_ms = (uint64_t)sqlite3_column_int64(s, 2);
		if (cb(arg, &si) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : node_sqlerr(n, rc, "list clock skews");
}

int
tsync_node_quarantine(struct tsync_node *n, tsync_quarantine_cb cb, void *arg)
{
	struct tsync_quarantine_info qi;
	sqlite3_stmt *s;
	int rc;

	rc = sqlite3_prepare_v2(n->db,
				"SELECT coalesce(peer, ''), reason, count(*),"
				" max(at) FROM ts_quarantine GROUP BY 1, 2"
				" ORDER BY 1, 2",
				-1, &s, NULL);
	if (rc != SQLITE_OK)
		return node_sqlerr(n, rc, "list quarantine");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		qi.peer = (const char *)sqlite3_column_text(s, 0);
		qi.reason = (const char *)sqlite3_column_text(s, 1);
		qi.count = (uint64_t)sqlite3_column_int64(s, 2);
		qi.last_at_ms = (uint64_t)sqlite3_column_int64(s, 3);
		if (cb(arg, &qi) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : node_sqlerr(n, rc, "list quarantine");
}
