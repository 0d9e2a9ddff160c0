/*
 * web.c - the work room's browser app: static pages and the JSON API.
 *
 * libmicrohttpd parses HTTP and runs every handler on one internal thread,
 * so this module's state (a node handle of its own, the accounts database,
 * the sessions) is touched by that thread only; the serving process's
 * libuv loop never sees it and learns of writes as of any other process's
 * (the replica is the meeting point).  Routes are listed in docs/http-api.md.
 *
 * Limits: 64 connections (16 per address), 30 s idle timeout, 64 KiB for
 * a request's headers (libmicrohttpd answers 431 over it), 256 KiB for a
 * body (413).  Sessions: 256 at most, 12 hours each, a random token in an
 * HttpOnly SameSite=Strict cookie; every write needs the session's CSRF
 * token in X-CSRF-Token.  Every request re-reads the session's account
 * in users.db: disabled, removed, another role or a new password ends
 * the session there (401 with the reason, in Chinese too).
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "tiersync/records.h"
#include "tiersync/web.h"
#include "node_int.h"
#include "users.h"
#include "web_assets.h"

#define MAX_SESSIONS 256
#define SESSION_SECONDS (12 * 3600)
#define BODY_MAX (256u << 10)

struct session {
	char token[65], csrf[65];
	char user[65], role[16];
	unsigned char stamp[USERS_STAMP_LEN]; /* the account's at login */
	int local;                            /* open mode: no account */
	time_t expires;
};

struct tsync_web {
	struct MHD_Daemon *d;
	struct tsync_node *n;
	sqlite3 *users;
	sqlite3_stmt *acct; /* users_state's statement */
	sqlite3_stmt *dv;   /* PRAGMA data_version on the replica */
	char *kinds;        /* /api/kinds: the declarations, built once */
	char *status;       /* the last /api/status answer, or NULL */
	sqlite3_int64 status_dv, status_changes; /* the replica's, then */
	char dir[1024];
	int open_mode; /* loopback and no account: no login */
	struct session s[MAX_SESSIONS];
};

struct req {
	char *body;
	size_t len;
	int too_big;
};

/* ---- Responses ------------------------------------------------------ */

static enum MHD_Result
send_buf(struct MHD_Connection *c, unsigned status, const char *type,
	 const void *p, size_t len, int cache, const char *cookie)
{
	struct MHD_Response *r;
	enum MHD_Result ok;

	r = MHD_create_response_from_buffer(len, (void *)p,
					    MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control",
				cache ? "public, max-age=3600" : "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Content-Security-Policy",
				"default-src 'self'; style-src 'self' "
				"'unsafe-inline'; frame-ancestors 'none'");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	if (cookie != NULL)
		MHD_add_response_header(r, "Set-Cookie", cookie);
	ok = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ok;
}

/* Sends `j` (stolen) as JSON. */
static enum MHD_Result
send_json(struct MHD_Connection *c, unsigned status, json_t *j,
	  const char *cookie)
{
	char *text = json_dumps(j, JSON_COMPACT);
	enum MHD_Result ok;

	json_decref(j);
	if (text == NULL)
		return MHD_NO;
	ok = send_buf(c, status, "application/json; charset=utf-8", text,
		      strlen(text), 0, cookie);
	free(text);
	return ok;
}

/*
 * An error as {"error": message, "field": name}; the field is the text
 * before " (" when the message names one ("category (类别): ...").
 */
static enum MHD_Result
send_err(struct MHD_Connection *c, unsigned status, const char *msg)
{
	const char *p = strstr(msg, " (");
	const char *colon = strchr(msg, ':');
	json_t *j = json_pack("{s:s}", "error", msg);

	if (p != NULL && colon != NULL && p < colon &&
	    strspn(msg, "abcdefghijklmnopqrstuvwxyz_") == (size_t)(p - msg))
		json_object_set_new(j, "field", json_stringn(msg, (size_t)(p - msg)));
	else if (colon != NULL &&
		 strspn(msg, "abcdefghijklmnopqrstuvwxyz_") == (size_t)(colon - msg))
		json_object_set_new(j, "field",
				    json_stringn(msg, (size_t)(colon - msg)));
	return send_json(c, status, j, NULL);
}

static unsigned
status_of(int rc)
{
	switch (rc) {
	case TSYNC_EINVAL: return 400;
	case TSYNC_ENOENT: return 404;
	case TSYNC_ESCOPE: return 403;
	case TSYNC_EAUTH: return 403;
	case TSYNC_EBUSY: return 503;
	default: return 500;
	}
}

static enum MHD_Result
send_node_err(struct tsync_web *w, struct MHD_Connection *c, int rc)
{
	return send_err(c, status_of(rc), tsync_node_errmsg(w->n));
}

/* ---- Sessions ---------------------------------------------------------- */

static void
random_hex(char *out, size_t bytes)
{
	unsigned char b[32];
	size_t i;

	if (bytes > sizeof(b))
		bytes = sizeof(b);
	if (RAND_bytes(b, (int)bytes) != 1)
		memset(b, 0, sizeof(b)); /* never: OpenSSL's RNG is seeded */
	for (i = 0; i < bytes; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static struct session *
session_new(struct tsync_web *w, const char *user, const char *role,
	    const unsigned char *stamp)
{
	time_t now = time(NULL);
	struct session *s = &w->s[0];
	int i;

	for (i = 0; i < MAX_SESSIONS; i++) /* a free or the oldest slot */
		if (w->s[i].expires < s->expires || w->s[i].expires < now) {
			s = &w->s[i];
			if (s->expires < now)
				break;
		}
	random_hex(s->token, 32);
	random_hex(s->csrf, 32);
	snprintf(s->user, sizeof(s->user), "%s", user);
	snprintf(s->role, sizeof(s->role), "%s", role);
	s->local = stamp == NULL;
	if (stamp != NULL)
		memcpy(s->stamp, stamp, USERS_STAMP_LEN);
	s->expires = now + SESSION_SECONDS;
	return s;
}

static void
session_end(struct session *s)
{
	OPENSSL_cleanse(s, sizeof(*s));
}

/* users.db busy or unreadable: the request is refused (503), the
 * session kept. */
static const char accounts_unreadable[] =
	"session: the accounts cannot be read now; try again "
	"(暂时无法读取账户信息，请稍后重试)";

/*
 * Whether the session's account still stands as it did at login; NULL if
 * so, else why not (the message for the 401).  Run for every request, so
 * that `tiersync user disable|remove|role|passwd` in another process
 * ends the person's sessions on every browser at their next click.  A
 * disable ends them for good: `enable` leaves the epoch it moved on.
 */
static const char *
session_stale(struct tsync_web *w, const struct session *s)
{
	unsigned char stamp[USERS_STAMP_LEN];
	char role[16];
	int rc;

	if (s->local)
		return NULL;
	rc = users_state(&w->acct, w->users, s->user, role, sizeof(role),
			 stamp);
	if (rc == TSYNC_ENOENT)
		return "session: the account was removed; you are logged out "
		       "(账户已被删除，已退出登录)";
	if (rc == TSYNC_EAUTH)
		return "session: the account was disabled; you are logged out "
		       "(账户已被停用，已退出登录)";
	if (rc != 0)
		return accounts_unreadable;
	if (strcmp(role, s->role) != 0)
		return "session: the account's role was changed; log in again "
		       "(账户角色已变更，请重新登录)";
	if (CRYPTO_memcmp(stamp, s->stamp, USERS_SALT_LEN) != 0)
		return "session: the password was changed; log in again "
		       "(密码已修改，请重新登录)";
	if (memcmp(stamp + USERS_SALT_LEN, s->stamp + USERS_SALT_LEN,
		   USERS_STAMP_LEN - USERS_SALT_LEN) != 0)
		return "session: the account was disabled; you are logged out "
		       "(账户已被停用，已退出登录)";
	return NULL;
}

/*
 * The request's session, or NULL.  A session whose account changed is
 * ended here and *why says how (else *why is NULL).
 */
static struct session *
session_of(struct tsync_web *w, struct MHD_Connection *c, const char **why)
{
	const char *tok = MHD_lookup_connection_value(c, MHD_COOKIE_KIND,
						      "tsid");
	time_t now = time(NULL);
	int i;

	*why = NULL;
	if (tok == NULL || strlen(tok) != 64)
		return NULL;
	for (i = 0; i < MAX_SESSIONS; i++)
		if (w->s[i].expires > now &&
		    CRYPTO_memcmp(w->s[i].token, tok, 64) == 0) {
			if ((*why = session_stale(w, &w->s[i])) == NULL)
				return &w->s[i];
			if (*why != accounts_unreadable)
				session_end(&w->s[i]);
			return NULL;
		}
	return NULL;
}

static void
cookie_of(const struct session *s, char *out, size_t len)
{
	snprintf(out, len,
		 "tsid=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d",
		 s ? s->token : "", s ? SESSION_SECONDS : 0);
}

/*
 * 401 for a session just ended by a change to its account: the reason,
 * "ended": true (the app shows it on the login page) and the cookie
 * cleared.  503 and nothing ended when users.db could not be read.
 */
static enum MHD_Result
send_ended(struct MHD_Connection *c, const char *why)
{
	char cookie[160];

	if (why == accounts_unreadable)
		return send_err(c, 503, why);
	cookie_of(NULL, cookie, sizeof(cookie));
	return send_json(c, 401,
			 json_pack("{s:s, s:s, s:b}", "error", why, "field",
				   "session", "ended", 1),
			 cookie);
}

static int
csrf_ok(struct MHD_Connection *c, const struct session *s)
{
	const char *t = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						    "X-CSRF-Token");

	return t != NULL && strlen(t) == 64 &&
	       CRYPTO_memcmp(t, s->csrf, 64) == 0;
}

static int
may_write(const struct session *s)
{
	return strcmp(s->role, "viewer") != 0;
}

/* ---- API handlers -------------------------------------------------------- */

static json_t *
session_json(struct tsync_web *w, const struct session *s)
{
	struct tsync_identity id;
	char name[256];

	tsync_node_identity(w->n, &id);
	tsync_scope_name(w->n, id.scope, name, sizeof(name));
	return json_pack("{s:s, s:s, s:s, s:b, s:{s:s, s:s, s:s, s:s}}",
			 "user", s->user, "role", s->role, "csrf", s->csrf,
			 "open", w->open_mode, "node", "id", id.node_id,
			 "scope", id.scope, "role", id.role, "name", name);
}

static enum MHD_Result
api_login(struct tsync_web *w, struct MHD_Connection *c, json_t *body)
{
	const char *user = json_string_value(json_object_get(body, "user"));
	const char *pw = json_string_value(json_object_get(body, "password"));
	unsigned char stamp[USERS_STAMP_LEN];
	char role[16], cookie[160];
	struct session *s;
	int rc;

	if (user == NULL || pw == NULL)
		return send_err(c, 400, "user: give user and password");
	rc = users_check(w->users, user, pw, role, sizeof(role), stamp);
	if (rc == TSYNC_EBUSY)
		return send_err(c, 429, "password: too many failed logins; "
					"the account is locked for 15 minutes "
					"(登录失败次数过多，账户锁定15分钟)");
	if (rc != 0)
		return send_err(c, 403, "password: wrong user or password "
					"(用户名或密码错误)");
	s = session_new(w, user, role, stamp);
	cookie_of(s, cookie, sizeof(cookie));
	return send_json(c, 200, session_json(w, s), cookie);
}

/* The record declarations as JSON text (they are fixed in the binary). */
static char *
kinds_text(void)
{
	const struct tsync_kind *k;
	json_t *arr = json_array();
	size_t nk, i;
	char *text;
	int f;

	k = tsync_kinds(&nk);
	for (i = 0; i < nk; i++) {
		json_t *fields = json_array();

		for (f = 0; f < k[i].nfield; f++) {
			const struct tsync_field *fd = &k[i].fields[f];
			static const char *const types[] = {
				"text", "date", "int", "enum", "list", "ref",
				"scope"};
			json_t *ch = json_array();
			const struct tsync_choice *x;

			for (x = fd->choices; x && x->code; x++)
				json_array_append_new(
					ch, json_pack("{s:s, s:s}", "code",
						      x->code, "label",
						      x->label));
			json_array_append_new(
				fields,
				json_pack("{s:s, s:s, s:s, s:b, s:o, s:s?, s:s}",
					  "name", fd->name, "label", fd->label,
					  "type", types[fd->type], "required",
					  fd->required, "choices", ch, "ref",
					  fd->ref, "help", fd->help));
		}
		json_array_append_new(
			arr, json_pack("{s:s, s:s, s:s, s:s?, s:s, s:s?, s:o}",
				       "name", k[i].name, "table", k[i].table,
				       "label", k[i].label, "date", k[i].date,
				       "title", k[i].title, "parent",
				       k[i].parent, "fields", fields));
	}
	text = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	return text;
}

static enum MHD_Result
api_kinds(struct tsync_web *w, struct MHD_Connection *c)
{
	if (w->kinds == NULL && (w->kinds = kinds_text()) == NULL)
		return send_err(c, 500, "out of memory");
	return send_buf(c, 200, "application/json; charset=utf-8", w->kinds,
			strlen(w->kinds), 0, NULL);
}

/*
 * Whether the replica may have changed since the last call: another
 * connection's commit moves data_version, this handle's own writes move
 * total_changes.  1 if unchanged, else 0 (and the new state noted).
 */
static int
replica_same(struct tsync_web *w)
{
	sqlite3_int64 dv, ch = sqlite3_total_changes64(w->n->db);
	int same;

	if (w->dv == NULL &&
	    sqlite3_prepare_v3(w->n->db, "PRAGMA data_version", -1,
			       SQLITE_PREPARE_PERSISTENT, &w->dv,
			       NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_step(w->dv) != SQLITE_ROW) {
		sqlite3_reset(w->dv);
		return 0;
	}
	dv = sqlite3_column_int64(w->dv, 0);
	sqlite3_reset(w->dv);
	same = w->status != NULL && dv == w->status_dv &&
	       ch == w->status_changes;
	w->status_dv = dv;
	w->status_changes = ch;
	return same;
}

static int
count_cb(void *arg, int ncol, const char *const *names,
	 const char *const *vals)
{
	json_t *o = arg;

	(void)ncol;
	(void)names;
	json_object_set_new(o, vals[0] ? vals[0] : "?",
			    json_integer(vals[1] ? atoll(vals[1]) : 0));
	return 0;
}

static int
peer_cb(void *arg, const struct tsync_peer_info *p)
{
	json_array_append_new(
		arg,
		json_pack("{s:s, s:s?, s:s?, s:s?, s:s?, s:I, s:I, s:I}", "id",
			  p->node_id, "scope", p->scope, "role", p->role,
			  "addr", p->addr, "last_error", p->last_error,
			  "last_contact_ms", (json_int_t)p->last_contact_ms,
			  "they_lack", (json_int_t)p->they_lack, "we_lack",
			  (json_int_t)p->we_lack));
	return 0;
}

static int
quar_cb(void *arg, const struct tsync_quarantine_info *q)
{
	json_array_append_new(arg, json_pack("{s:s?, s:s?, s:I}", "peer",
					     q->peer, "reason", q->reason,
					     "count", (json_int_t)q->count));
	return 0;
}

/* ---- Equivocation evidence (docs/protocol.md 8.3) ------------------------ */

#define EV_STATUS_MAX 20 /* newest records of evidence in /api/status */

struct ev_ctx {
	struct tsync_web *w;
	const char *scope; /* only streams at or below it, or NULL */
	json_t *arr;
};

/* Whether scope path `p` is `top` or below it. */
static int
scope_within(const char *p, const char *top)
{
	size_t n = strlen(top);

	return strncmp(p, top, n) == 0 && (p[n] == '\0' || p[n] == '/');
}

static const char *
how_label(const char *how)
{
	static const char *const h[][2] = {
		{"txn", "收到同一序号的另一份签名记录"},
		{"chain", "后一条记录接在另一份历史之后"},
		{"vv", "同步时对方持有的链头不同"},
		{"receipt", "上级回执中的链头与本机不同"},
	};
	size_t i;

	for (i = 0; i < sizeof(h) / sizeof(h[0]); i++)
		if (strcmp(how, h[i][0]) == 0)
			return h[i][1];
	return how;
}

static int
ev_cb(void *arg, const struct tsync_evidence_info *e)
{
	struct ev_ctx *x = arg;
	char name[256];
	json_t *o;

	if (x->scope != NULL && !scope_within(e->scope, x->scope))
		return 0;
	tsync_scope_name(x->w->n, e->scope, name, sizeof(name));
	o = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:s?, "
		      "s:I, s:i, s:i}",
		      "origin", e->origin, "scope", e->scope, "scope_name",
		      name, "seq", (json_int_t)e->seq, "held", e->held,
		      "other", e->other, "how", e->how, "how_label",
		      how_label(e->how), "seen_by", e->seen_by, "peer",
		      e->peer[0] ? e->peer : NULL, "seen_at_ms",
		      (json_int_t)e->seen_at_ms, "signed_bodies",
		      e->signed_bodies, "ours", e->ours);
	/* Newest first: the engine gives them oldest first. */
	return o != NULL && json_array_insert_new(x->arr, 0, o) == 0
		       ? 0
		       : TSYNC_ENOMEM;
}

/* The evidence held here about streams at or below `scope` (NULL: all),
 * newest first, into *out. */
static int
evidence_list(struct tsync_web *w, const char *scope, json_t **out)
{
	struct ev_ctx x = {w, scope, json_array()};
	int rc;

	if (x.arr == NULL)
		return TSYNC_ENOMEM;
	rc = tsync_node_evidence(w->n, ev_cb, &x);
	if (rc != 0) {
		json_decref(x.arr);
		return rc;
	}
	*out = x.arr;
	return 0;
}

/* {"total": N, "records": [...]}, at most `max` of them (0: all). */
static json_t *
evidence_json(json_t *arr, size_t max)
{
	size_t total = json_array_size(arr);

	while (max != 0 && json_array_size(arr) > max)
		json_array_remove(arr, json_array_size(arr) - 1);
	return json_pack("{s:I, s:o}", "total", (json_int_t)total, "records",
			 arr);
}

static enum MHD_Result
api_evidence(struct tsync_web *w, struct MHD_Connection *c)
{
	const char *scope = MHD_lookup_connection_value(
		c, MHD_GET_ARGUMENT_KIND, "scope");
	json_t *arr;
	int rc;

	rc = evidence_list(w, scope && *scope ? scope : NULL, &arr);
	if (rc != 0)
		return send_node_err(w, c, rc);
	return send_json(c, 200, evidence_json(arr, 0), NULL);
}

/*
 * The dashboard: open disputes by risk, those under mediation, the links,
 * conflicts, quarantine and equivocation evidence.  Counted from the small engine tables only
 * (tsync_node_counts also scans every row, too slow for a page).  The two
 * queries on disputes still read the whole table (about 11 ms of CPU at
 * a district of 17,000 disputes), so the answer is kept and sent again
 * while the replica has not changed (replica_same): every figure here
 * comes from replica.db.
 */
static enum MHD_Result
api_status(struct tsync_web *w, struct MHD_Connection *c)
{
	struct tsync_rec_filter f = {0};
	json_t *risk, *peers, *q, *k, *open = NULL, *eq, *ev = NULL;
	int rc;

	if (replica_same(w))
		return send_buf(c, 200, "application/json; charset=utf-8",
				w->status, strlen(w->status), 0, NULL);
	free(w->status);
	w->status = NULL;
	risk = json_object();
	peers = json_array();
	q = json_array();
	k = json_object();
	rc = tsync_node_exec(w->n,
			     "SELECT 'conflicts', count(*) FROM ts_heads UNION "
			     "ALL SELECT 'quarantined', count(*) FROM "
			     "ts_quarantine UNION ALL SELECT 'txns', "
			     "coalesce(sum(seq), 0) FROM ts_streams",
			     count_cb, k);
	if (rc == 0)
		rc = tsync_node_exec(w->n,
				     "SELECT risk, count(*) FROM disputes WHERE "
				     "status IN ('registered','mediating') "
				     "GROUP BY risk",
				     count_cb, risk);
	if (rc == 0)
		rc = tsync_node_peers(w->n, peer_cb, peers);
	if (rc == 0)
		rc = tsync_node_quarantine(w->n, quar_cb, q);
	f.sort = "risk";
	f.limit = 10;
	eq = json_pack("{s:s}", "status", "mediating");
	f.eq = eq;
	if (rc == 0)
		rc = tsync_rec_list(w->n, tsync_kind_find("dispute"), &f, &open);
	json_decref(eq);
	if (rc == 0)
		rc = evidence_list(w, NULL, &ev);
	if (rc != 0) {
		json_decref(open);
		json_decref(risk);
		json_decref(peers);
		json_decref(q);
		json_decref(k);
		return send_node_err(w, c, rc);
	}
	json_object_set_new(k, "open_by_risk", risk);
	json_object_set_new(k, "mediating", open);
	json_object_set_new(k, "peers", peers);
	json_object_set_new(k, "quarantine", q);
	json_object_set_new(k, "evidence", evidence_json(ev, EV_STATUS_MAX));
	if ((w->status = json_dumps(k, JSON_COMPACT)) == NULL) {
		json_decref(k);
		return send_err(c, 500, "out of memory");
	}
	json_decref(k);
	return send_buf(c, 200, "application/json; charset=utf-8", w->status,
			strlen(w->status), 0, NULL);
}

static const char *
arg(struct MHD_Connection *c, const char *name)
{
	const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
						    name);

	return v && *v ? v : NULL;
}

static enum MHD_Result
eq_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *v)
{
	json_t *eq = cls;

	(void)kind;
	if (v != NULL && *v != '\0')
		json_object_set_new(eq, key, json_string(v));
	return MHD_YES;
}

static enum MHD_Result
api_list(struct tsync_web *w, struct MHD_Connection *c,
	 const struct tsync_kind *k)
{
	static const char *const reserved[] = {"scope", "from", "to", "search",
					       "sort", "asc", "limit", "page"};
	struct tsync_rec_filter f = {0};
	json_t *eq = json_object(), *out;
	const char *lim = arg(c, "limit"), *page = arg(c, "page");
	size_t i;
	int rc;

	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, eq_arg, eq);
	for (i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		json_object_del(eq, reserved[i]);
	f.scope = arg(c, "scope");
	f.from = arg(c, "from");
	f.to = arg(c, "to");
	f.search = arg(c, "search");
	f.sort = arg(c, "sort");
	f.asc = arg(c, "asc") != NULL;
	f.limit = lim ? (unsigned)strtoul(lim, NULL, 10) : 50;
	if (f.limit == 0 || f.limit > 500) {
		json_decref(eq);
		return send_err(c, 400, "limit: give 1 to 500");
	}
	f.offset = page ? ((unsigned)strtoul(page, NULL, 10) - 1) * f.limit
			: 0;
	if (page && strtoul(page, NULL, 10) == 0) {
		json_decref(eq);
		return send_err(c, 400, "page: give 1 or more");
	}
	f.eq = eq;
	rc = tsync_rec_list(w->n, k, &f, &out);
	json_decref(eq);
	return rc ? send_node_err(w, c, rc) : send_json(c, 200, out, NULL);
}

static enum MHD_Result
api_conflicts(struct tsync_web *w, struct MHD_Connection *c);
static enum MHD_Result
api_resolve(struct tsync_web *w, struct MHD_Connection *c, const char *id,
	    json_t *body);

static enum MHD_Result
api_report(struct tsync_web *w, struct MHD_Connection *c, int html)
{
	json_t *r;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	enum MHD_Result ok;
	int rc;

	rc = tsync_report(w->n, arg(c, "scope"), arg(c, "from"), arg(c, "to"),
			  &r);
	if (rc != 0)
		return send_node_err(w, c, rc);
	if (!html)
		return send_json(c, 200, r, NULL);
	if ((f = open_memstream(&buf, &len)) == NULL) {
		json_decref(r);
		return send_err(c, 500, "out of memory");
	}
	tsync_report_render(r, TSYNC_FMT_HTML, f);
	fclose(f);
	json_decref(r);
	ok = send_buf(c, 200, "text/html; charset=utf-8", buf, len, 0, NULL);
	free(buf);
	return ok;
}

static void
fault_cb(void *arg, const char *fault)
{
	json_array_append_new(arg, json_string(fault));
}

static enum MHD_Result
api_verify(struct tsync_web *w, struct MHD_Connection *c)
{
	json_t *faults = json_array(), *check = NULL;
	int rc = tsync_node_verify(w->n, fault_cb, faults);

	if (rc != 0 && rc != TSYNC_EVERIFY) {
		json_decref(faults);
		return send_node_err(w, c, rc);
	}
	if (tsync_rec_check(w->n, &check) != 0)
		check = json_array();
	return send_json(c, 200,
			 json_pack("{s:b, s:o, s:o}", "clean", rc == 0,
				   "faults", faults, "check", check),
			 NULL);
}

static int
prov_cb(void *arg, const struct tsync_provenance *p)
{
	char at[48];

	tsync_hlc_format(p->hlc, at, sizeof(at));
	json_array_append_new(
		arg, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "column",
			       p->column, "at", at, "origin", p->origin,
			       "origin_scope", p->origin_scope, "origin_role",
			       p->origin_role, "stream_scope", p->stream_scope,
			       "seq", (json_int_t)p->seq));
	return 0;
}

/* /api/provenance/KIND/ID: which node wrote each value, when, in which
 * txn of which stream. */
static enum MHD_Result
api_provenance(struct tsync_web *w, struct MHD_Connection *c, const char *rest)
{
	const char *slash = strchr(rest, '/');
	const struct tsync_kind *k;
	json_t *rec = NULL, *arr, *x;
	char kname[32];
	size_t i;
	int rc;

	if (slash == NULL)
		return send_err(c, 404, "path: give /api/provenance/KIND/ID");
	snprintf(kname, sizeof(kname), "%.*s", (int)(slash - rest), rest);
	if ((k = tsync_kind_find(kname)) == NULL)
		return send_err(c, 404, "kind: no such record kind");
	if ((rc = tsync_rec_get(w->n, k, slash + 1, &rec)) != 0)
		return send_node_err(w, c, rc);
	arr = json_array();
	rc = tsync_node_provenance(w->n, k->table,
				   json_string_value(json_object_get(rec, "id")),
				   prov_cb, arr);
	if (rc != 0) {
		json_decref(rec);
		json_decref(arr);
		return send_node_err(w, c, rc);
	}
	json_array_foreach(arr, i, x)
	{
		const char *col = json_string_value(json_object_get(x, "column"));
		const struct tsync_field *f = tsync_kind_field(k, col);

		json_object_set_new(x, "label", json_string(f ? f->label : col));
		json_object_set(x, "value", json_object_get(rec, col));
	}
	json_decref(rec);
	return send_json(c, 200, json_pack("{s:o}", "columns", arr), NULL);
}

/* /api/records/KIND[/ID] */
static enum MHD_Result
api_records(struct tsync_web *w, struct MHD_Connection *c,
	    const struct session *s, const char *method, const char *rest,
	    json_t *body)
{
	char kname[32];
	const char *slash = strchr(rest, '/');
	const struct tsync_kind *k;
	json_t *out = NULL;
	int rc;

	snprintf(kname, sizeof(kname), "%.*s",
		 (int)(slash ? (size_t)(slash - rest) : strlen(rest)), rest);
	if ((k = tsync_kind_find(kname)) == NULL)
		return send_err(c, 404, "kind: no such record kind");
	if (strcmp(method, "GET") == 0) {
		if (slash == NULL)
			return api_list(w, c, k);
		rc = tsync_rec_get(w->n, k, slash + 1, &out);
		return rc ? send_node_err(w, c, rc) : send_json(c, 200, out, NULL);
	}
	if (!may_write(s))
		return send_err(c, 403, "role: a viewer reads only (只读账户)");
	if (!json_is_object(body))
		return send_err(c, 400, "body: give a JSON object of fields");
	if (strcmp(method, "POST") == 0 && slash == NULL) {
		const char *scope = json_string_value(json_object_get(body,
								      "scope"));
		json_t *vals = json_deep_copy(body);

		json_object_del(vals, "scope");
		rc = tsync_rec_add(w->n, k, vals, s->user, scope, &out);
		json_decref(vals);
		return rc ? send_node_err(w, c, rc) : send_json(c, 201, out, NULL);
	}
	if (strcmp(method, "PATCH") == 0 && slash != NULL) {
		rc = tsync_rec_update(w->n, k, slash + 1, body, s->user, &out);
		return rc ? send_node_err(w, c, rc) : send_json(c, 200, out, NULL);
	}
	return send_err(c, 405, "method: not allowed here");
}

static enum MHD_Result
route_api(struct tsync_web *w, struct MHD_Connection *c, const char *url,
	  const char *method, struct req *rq)
{
	const char *why;
	struct session *s = session_of(w, c, &why);
	int get = strcmp(method, "GET") == 0;
	json_t *body = NULL;
	json_error_t je;
	enum MHD_Result ok;

	if (rq->too_big)
		return send_err(c, 413, "body: larger than 256 KiB");
	if (!get && rq->len > 0 &&
	    (body = json_loadb(rq->body, rq->len, 0, &je)) == NULL) {
		char m[256];

		snprintf(m, sizeof(m), "body: bad JSON at line %d column %d: %s",
			 je.line, je.column, je.text);
		return send_err(c, 400, m);
	}
	if (strcmp(url, "/api/login") == 0 && !get) {
		ok = api_login(w, c, body);
		goto out;
	}
	if (s == NULL && w->open_mode && strcmp(url, "/api/session") == 0) {
		char cookie[160];

		s = session_new(w, "本机用户", "admin", NULL);
		cookie_of(s, cookie, sizeof(cookie));
		ok = send_json(c, 200, session_json(w, s), cookie);
		goto out;
	}
	if (s == NULL) {
		ok = why ? send_ended(c, why)
			 : send_err(c, 401, "session: log in first (请先登录)");
		goto out;
	}
	if (!get && !csrf_ok(c, s)) {
		ok = send_err(c, 403, "csrf: missing or wrong X-CSRF-Token "
				      "(请刷新页面)");
		goto out;
	}
	if (strcmp(url, "/api/session") == 0)
		ok = send_json(c, 200, session_json(w, s), NULL);
	else if (strcmp(url, "/api/logout") == 0 && !get) {
		char cookie[160];

		s->expires = 0;
		cookie_of(NULL, cookie, sizeof(cookie));
		ok = send_json(c, 200, json_pack("{s:b}", "ok", 1), cookie);
	} else if (strcmp(url, "/api/kinds") == 0 && get)
		ok = api_kinds(w, c);
	else if (strcmp(url, "/api/status") == 0 && get)
		ok = api_status(w, c);
	else if (strcmp(url, "/api/report") == 0 && get)
		ok = api_report(w, c, 0);
	else if (strcmp(url, "/api/verify") == 0 && get)
		ok = api_verify(w, c);
	else if (strcmp(url, "/api/evidence") == 0 && get)
		ok = api_evidence(w, c);
	else if (strcmp(url, "/api/conflicts") == 0 && get)
		ok = api_conflicts(w, c);
	else if (strncmp(url, "/api/conflicts/", 15) == 0 && !get) {
		ok = may_write(s) ? api_resolve(w, c, url + 15, body)
				  : send_err(c, 403, "role: a viewer reads "
						     "only (只读账户)");
	} else if (strncmp(url, "/api/provenance/", 16) == 0 && get)
		ok = api_provenance(w, c, url + 16);
	else if (strncmp(url, "/api/records/", 13) == 0)
		ok = api_records(w, c, s, method, url + 13, body);
	else
		ok = send_err(c, 404, "path: no such API");
out:
	json_decref(body);
	return ok;
}

/* ---- Conflicts ------------------------------------------------------------ */

static int
conflict_cb(void *arg, const struct tsync_conflict *x)
{
	char mh[48], th[48];

	tsync_hlc_format(x->mine_hlc, mh, sizeof(mh));
	tsync_hlc_format(x->theirs_hlc, th, sizeof(th));
	json_array_append_new(
		arg, json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s?, s:s, s:s, "
			       "s:s, s:s, s:b}",
			       "id", x->id, "table", x->table, "row", x->row,
			       "column", x->column, "mine", x->mine, "theirs",
			       x->theirs, "mine_at", mh, "theirs_at", th,
			       "mine_origin", x->mine_origin, "theirs_origin",
			       x->theirs_origin, "row_deleted",
			       x->row_deleted));
	return 0;
}

/* The field's Chinese name, and the values' labels for an enumeration. */
static void
label_conflict(const struct tsync_kind *k, json_t *x)
{
	const struct tsync_field *f = tsync_kind_field(
		k, json_string_value(json_object_get(x, "column")));
	static const char *const sides[] = {"mine", "theirs"};
	size_t i;

	if (f == NULL)
		return;
	json_object_set_new(x, "column_label", json_string(f->label));
	for (i = 0; i < 2 && f->type == TSYNC_FT_ENUM; i++) {
		char key[16];
		const char *l = tsync_choice_label(
			f, json_string_value(json_object_get(x, sides[i])));

		snprintf(key, sizeof(key), "%s_label", sides[i]);
		if (l != NULL)
			json_object_set_new(x, key, json_string(l));
	}
}

static enum MHD_Result
api_conflicts(struct tsync_web *w, struct MHD_Connection *c)
{
	json_t *arr = json_array();
	size_t i;
	json_t *x;
	int rc = tsync_node_conflicts(w->n, conflict_cb, arr);

	if (rc != 0) {
		json_decref(arr);
		return send_node_err(w, c, rc);
	}
	/* The record's number, so a person sees which dispute it is. */
	json_array_foreach(arr, i, x)
	{
		const struct tsync_kind *k = tsync_kind_find(
			json_string_value(json_object_get(x, "table")));
		json_t *rec = NULL;

		if (k && tsync_rec_get(w->n, k,
				       json_string_value(json_object_get(x, "row")),
				       &rec) == 0) {
			json_object_set(x, "no", json_object_get(rec, "no"));
			json_object_set_new(x, "kind", json_string(k->name));
			json_object_set_new(x, "kind_label",
					    json_string(k->label));
			label_conflict(k, x);
		}
		json_decref(rec);
	}
	return send_json(c, 200, arr, NULL);
}

/*
 * A new value typed on the conflict screen: on a coded field, the code of
 * the code or label given (a clerk types the label shown, 低); else as
 * given.  NULL and the message in msg when it is neither.
 */
static const char *
resolve_value(struct tsync_web *w, const char *id, const char *v, char *msg,
	      size_t len)
{
	const struct tsync_field *f;
	const struct tsync_choice *x;
	const char *code = tsync_conflict_value(w->n, id, v, &f);
	size_t o;

	if (code != NULL)
		return code;
	if (strlen(v) > 64) /* not echoed: the cut could split a character */
		v = "…";
	o = (size_t)snprintf(msg, len,
			     "value (新值): '%s' is not a value of %s; "
			     "give a label or its code:",
			     v, f->name);
	for (x = f->choices; x->code != NULL && o < len; x++)
		o += (size_t)snprintf(msg + o, len - o, "%s %s %s",
				      x == f->choices ? "" : ",", x->label,
				      x->code);
	if (o < len)
		o += (size_t)snprintf(msg + o, len - o, " (取值无效，%s可填：",
				      f->label);
	for (x = f->choices; x->code != NULL && o < len; x++)
		o += (size_t)snprintf(msg + o, len - o, "%s%s",
				      x == f->choices ? "" : "、", x->label);
	if (o < len)
		snprintf(msg + o, len - o, ")");
	return NULL;
}

static enum MHD_Result
api_resolve(struct tsync_web *w, struct MHD_Connection *c, const char *id,
	    json_t *body)
{
	char msg[1024];
	const char *keep = json_string_value(json_object_get(body, "keep"));
	const char *value = json_string_value(json_object_get(body, "value"));
	int how, rc;

	if (keep == NULL)
		return send_err(c, 400, "keep: give mine, theirs or value");
	if (strcmp(keep, "mine") == 0)
		how = TSYNC_KEEP_MINE;
	else if (strcmp(keep, "theirs") == 0)
		how = TSYNC_KEEP_THEIRS;
	else if (strcmp(keep, "value") == 0 && value != NULL)
		how = TSYNC_KEEP_VALUE;
	else
		return send_err(c, 400, "keep: give mine, theirs, or value "
					"with a value");
	if (how == TSYNC_KEEP_VALUE &&
	    (value = resolve_value(w, id, value, msg, sizeof(msg))) == NULL)
		return send_err(c, 400, msg);
	rc = tsync_node_resolve(w->n, id, how, value);
	return rc ? send_node_err(w, c, rc)
		  : send_json(c, 200, json_pack("{s:b}", "ok", 1), NULL);
}

/* ---- Dispatch ----------------------------------------------------------- */

static enum MHD_Result
serve_asset(struct MHD_Connection *c, const char *url)
{
	const struct web_asset *a = web_asset_find(strcmp(url, "/") == 0
							   ? "/index.html"
							   : url);

	if (a == NULL)
		return send_buf(c, 404, "text/plain; charset=utf-8",
				"not found\n", 10, 0, NULL);
	return send_buf(c, 200, a->type, a->data, a->len, 1, NULL);
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url,
	   const char *method, const char *version, const char *upload,
	   size_t *upload_size, void **con_cls)
{
	struct tsync_web *w = cls;
	struct req *rq = *con_cls;

	(void)version;
	if (rq == NULL) {
		if ((rq = calloc(1, sizeof(*rq))) == NULL)
			return MHD_NO;
		*con_cls = rq;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		if (rq->len + *upload_size > BODY_MAX) {
			rq->too_big = 1;
		} else {
			char *p = realloc(rq->body, rq->len + *upload_size + 1);

			if (p == NULL)
				return MHD_NO;
			memcpy(p + rq->len, upload, *upload_size);
			rq->body = p;
			rq->len += *upload_size;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (strncmp(url, "/api/", 5) == 0)
		return route_api(w, c, url, method, rq);
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return send_err(c, 405, "method: not allowed here");
	if (strcmp(url, "/report.html") == 0) {
		const char *why;
		struct session *s = session_of(w, c, &why);

		if (s == NULL)
			return why ? send_ended(c, why)
				   : send_err(c, 401, "session: log in first");
		return api_report(w, c, 1);
	}
	return serve_asset(c, url);
}

static void
on_done(void *cls, struct MHD_Connection *c, void **con_cls,
	enum MHD_RequestTerminationCode toe)
{
	struct req *rq = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (rq != NULL) {
		free(rq->body);
		free(rq);
		*con_cls = NULL;
	}
}

/* ---- Start and stop -------------------------------------------------------- */

static int
parse_addr(const char *addr, struct sockaddr_storage *ss, int *loopback)
{
	char host[256];
	const char *colon = strrchr(addr, ':');
	struct addrinfo hints = {0}, *ai = NULL;
	int rc;

	if (colon == NULL || colon == addr || (size_t)(colon - addr) >= sizeof(host))
		return -1;
	snprintf(host, sizeof(host), "%.*s", (int)(colon - addr), addr);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, colon + 1, &hints, &ai)) != 0 || ai == NULL)
		return -1;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	if (ai->ai_family == AF_INET)
		*loopback = (ntohl(((struct sockaddr_in *)ai->ai_addr)
					   ->sin_addr.s_addr) >>
			     24) == 127;
	else
		*loopback = IN6_IS_ADDR_LOOPBACK(
			&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr);
	freeaddrinfo(ai);
	return 0;
}

int
tsync_web_start(const char *dir, const char *addr, struct tsync_web **out,
		char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	struct tsync_web *w;
	char conf[256];
	int loopback = 0, rc, nusers;

	*out = NULL;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return TSYNC_ENOMEM;
	snprintf(w->dir, sizeof(w->dir), "%s", dir);
	if ((rc = tsync_node_open(dir, NULL, &w->n)) != 0) {
		snprintf(err, errlen, "%s", tsync_node_errmsg(w->n));
		tsync_web_stop(w);
		return rc;
	}
	if (addr == NULL) {
		if (node_conf_get(w->n, "http_listen", conf, sizeof(conf)) != 0 ||
		    conf[0] == '\0') {
			snprintf(err, errlen, "no http_listen in tiersync.conf");
			tsync_web_stop(w);
			return TSYNC_ENOENT;
		}
		addr = conf;
	}
	if (parse_addr(addr, &ss, &loopback) != 0) {
		snprintf(err, errlen, "--http %s: give ADDR:PORT, e.g. "
				      "127.0.0.1:8080",
			 addr);
		tsync_web_stop(w);
		return TSYNC_EINVAL;
	}
	if ((rc = users_open(dir, &w->users, err, errlen)) != 0) {
		tsync_web_stop(w);
		return rc;
	}
	nusers = users_count(w->users);
	if (nusers <= 0 && !loopback) {
		snprintf(err, errlen,
			 "the web app on %s (not loopback) needs an account: "
			 "run `tiersync user add %s NAME --role admin` first",
			 addr, dir);
		tsync_web_stop(w);
		return TSYNC_EINVAL;
	}
	w->open_mode = nusers <= 0 && loopback;
	w->d = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL,
		on_request, w, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u,
		MHD_OPTION_CONNECTION_LIMIT, 64u,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, 16u,
		MHD_OPTION_CONNECTION_TIMEOUT, 30u,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64u << 10),
		MHD_OPTION_NOTIFY_COMPLETED, on_done, w, MHD_OPTION_END);
	if (w->d == NULL) {
		snprintf(err, errlen, "cannot listen for the web app on %s "
				      "(in use?)",
			 addr);
		tsync_web_stop(w);
		return TSYNC_EIO;
	}
	*out = w;
	return 0;
}

void
tsync_web_stop(struct tsync_web *w)
{
	if (w == NULL)
		return;
	if (w->d != NULL)
		MHD_stop_daemon(w->d);
	sqlite3_finalize(w->dv);
	tsync_node_close(w->n);
	free(w->kinds);
	free(w->status);
	sqlite3_finalize(w->acct);
	sqlite3_close(w->users);
	OPENSSL_cleanse(w->s, sizeof(w->s));
	free(w);
}
