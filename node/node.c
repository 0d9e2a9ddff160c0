/*
 * node.c - the node handle: init, open, close, transactions and identity.
 *
 * A node directory holds node.key (0600), node.crt and ca.crt (written by
 * `tiersync ca issue`), tiersync.conf and replica.db (written by
 * `tiersync init`).
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apply.h"
#include "conflict.h"
#include "domain.h"
#include "heads.h"
#include "node_int.h"
#include "scope.h"

const char *
tsync_strerror(int err)
{
	switch (err) {
	case TSYNC_OK: return "ok";
	case TSYNC_ENOMEM: return "out of memory";
	case TSYNC_EIO: return "I/O error";
	case TSYNC_ECORRUPT: return "corrupt data";
	case TSYNC_EPROTO: return "protocol error";
	case TSYNC_EAUTH: return "authentication failed";
	case TSYNC_EINVAL: return "invalid argument";
	case TSYNC_EEXIST: return "already exists";
	case TSYNC_ESCOPE: return "outside the allowed scope";
	case TSYNC_EFULL: return "disk full";
	case TSYNC_ENOENT: return "not found";
	case TSYNC_EVERIFY: return "audit found faults";
	case TSYNC_EBUSY: return "replica busy";
	default: return "unknown error";
	}
}

const char *
tsync_node_errmsg(const struct tsync_node *n)
{
	if (n == NULL)
		return "out of memory";
	return n->errmsg[0] ? n->errmsg : "ok";
}

static int
file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static int
addr_ok(const char *s)
{
	const char *colon = s ? strrchr(s, ':') : NULL;
	char *end;
	long port;

	if (colon == NULL || colon == s)
		return 0;
	port = strtol(colon + 1, &end, 10);
	return *end == '\0' && port > 0 && port < 65536;
}

/* Loads key, certificate and CA; checks they belong together. */
static int
load_identity(struct tsync_node *n)
{
	char path[PATH_MAX], err[300];
	struct cert_info ci;

	ts_fmt(path, sizeof(path), "%s/node.key", n->dir);
	if (!file_exists(path))
		return node_err(n, TSYNC_ENOENT,
				"%s has no node identity: run `tiersync ca "
				"issue CA_DIR --scope PATH --out %s` first",
				n->dir, n->dir);
	if ((n->key = keys_load_private(path, err, sizeof(err))) == NULL)
		return node_err(n, TSYNC_EAUTH, "%s", err);
	ts_fmt(path, sizeof(path), "%s/node.crt", n->dir);
	if ((n->cert = cert_load(path, err, sizeof(err))) == NULL)
		return node_err(n, TSYNC_EAUTH, "%s", err);
	ts_fmt(path, sizeof(path), "%s/ca.crt", n->dir);
	if ((n->ca = cert_load(path, err, sizeof(err))) == NULL)
		return node_err(n, TSYNC_EAUTH, "%s", err);
	if (cert_check_issuer(n->cert, n->ca) != 0)
		return node_err(n, TSYNC_EAUTH,
				"node.crt in %s was not signed by ca.crt",
				n->dir);
	if (cert_parse(n->cert, &ci) != 0)
		return node_err(n, TSYNC_EAUTH,
				"node.crt in %s is not a tiersync node "
				"certificate",
				n->dir);
	n->id = keys_node_id(n->key);
	if (n->id != ci.node_id)
		return node_err(n, TSYNC_EAUTH,
				"node.key does not match node.crt in %s",
				n->dir);
	ts_fmt(n->scope, sizeof(n->scope), "%s", ci.scope);
	ts_fmt(n->role, sizeof(n->role), "%s", ci.role);
	ts_fmt(n->district, sizeof(n->district), "%s", ci.district);
	return 0;
}

static struct tsync_node *
node_new(const char *dir, const struct tsync_ops *ops)
{
	struct tsync_node *n = calloc(1, sizeof(*n));

	if (n == NULL)
		return NULL;
	if (ops != NULL)
		n->ops = *ops;
	n->dir = strdup(dir);
	n->max_skew_ms = HLC_DEFAULT_MAX_SKEW_MS;
	if (n->dir == NULL) {
		free(n);
		return NULL;
	}
	return n;
}

static int
ts_store_cert(struct tsync_node *n, X509 *c)
{
	struct cert_info ci;
	sqlite3_stmt *s;
	char *pem;
	size_t len;
	int rc;

	if (cert_parse(c, &ci) != 0 || cert_to_pem(c, &pem, &len) != 0)
		return node_err(n, TSYNC_ECORRUPT, "bad certificate");
	rc = sqlite3_prepare_v2(n->db,
				"INSERT OR REPLACE INTO ts_certs(node_id,"
				" scope, role, pem) VALUES(?1, ?2, ?3, ?4)",
				-1, &s, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(s, 1, (int64_t)ci.node_id);
		sqlite3_bind_text(s, 2, ci.scope, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, ci.role, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 4, pem, (int)len, SQLITE_STATIC);
		rc = sqlite3_step(s);
		sqlite3_finalize(s);
	}
	OPENSSL_free(pem);
	return rc == SQLITE_DONE ? 0 : node_sqlerr(n, rc, "store certificate");
}

static int
write_conf(struct tsync_node *n, const struct tsync_init_opts *o)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	FILE *f;

	ts_fmt(path, sizeof(path), "%s/tiersync.conf", n->dir);
	ts_fmt(tmp, sizeof(tmp), "%s/tiersync.conf.tmp", n->dir);
	if ((f = fopen(tmp, "w")) == NULL)
		return node_err(n, TSYNC_EIO, "cannot write %s: %s", tmp,
				strerror(errno));
	fprintf(f,
		"# tiersync node configuration (docs/operations.md)\n"
		"# node %016llx, scope %s, role %s\n"
		"[node]\n"
		"# where children connect; empty = do not listen\n"
		"listen = %s\n"
		"# the parent's address; empty = no parent (the district)\n"
		"parent = %s\n"
		"# remote clocks further ahead than this are bounded\n"
		"max_clock_skew_ms = %llu\n",
		(unsigned long long)n->id, n->scope, n->role,
		o && o->listen ? o->listen : "",
		o && o->parent ? o->parent : "",
		(unsigned long long)n->max_skew_ms);
	if (ts_file_replace(f, tmp, path) != 0)
		return node_err(n, TSYNC_EIO, "cannot write %s", path);
	return 0;
}

static int
init_db(struct tsync_node *n, const char *dbpath)
{
	struct ts_store_txn tx;
	char idhex[17], ver[16];
	int rc;

	if ((rc = ts_store_open(n, dbpath, 1)) != 0)
		return rc;
	id_format(n->id, idhex);
	ts_fmt(ver, sizeof(ver), "%d", SCHEMA_VERSION);
	if ((rc = ts_store_txn_begin(n, &tx, NULL)) != 0)
		return rc;
	if ((rc = ts_store_meta_set(n, "node_id", idhex)) != 0 ||
	    (rc = ts_store_meta_set(n, "scope", n->scope)) != 0 ||
	    (rc = ts_store_meta_set(n, "role", n->role)) != 0 ||
	    (rc = ts_store_meta_set(n, "district", n->district)) != 0 ||
	    (rc = ts_store_meta_set(n, "schema_version", ver)) != 0 ||
	    (rc = ts_store_meta_set(n, "later_kept", "1")) != 0 ||
	    (rc = ts_store_cert(n, n->cert)) != 0 ||
	    (rc = domain_declare(n)) != 0) {
		ts_store_txn_rollback(n, &tx);
		return rc;
	}
	return ts_store_txn_commit(n, &tx);
}

int
tsync_node_init(const char *dir, const struct tsync_init_opts *o, char *err,
		size_t errlen)
{
	char dbpath[PATH_MAX], conf[PATH_MAX], side[PATH_MAX];
	struct tsync_node *n;
	int rc;

	if (o != NULL && ((o->parent && !addr_ok(o->parent)) ||
			  (o->listen && !addr_ok(o->listen)))) {
		ts_fmt(err, errlen,
		       "--parent and --listen take HOST:PORT with a port "
		       "from 1 to 65535");
		return TSYNC_EINVAL;
	}
	if ((n = node_new(dir, NULL)) == NULL)
		return TSYNC_ENOMEM;
	ts_fmt(dbpath, sizeof(dbpath), "%s/replica.db", dir);
	ts_fmt(conf, sizeof(conf), "%s/tiersync.conf", dir);
	if (file_exists(dbpath) || file_exists(conf)) {
		rc = node_err(n, TSYNC_EEXIST,
			      "%s is already initialised; nothing changed",
			      dir);
		goto out;
	}
	if ((rc = load_identity(n)) != 0)
		goto out;
	if ((rc = init_db(n, dbpath)) != 0 || (rc = write_conf(n, o)) != 0) {
		ts_store_close(n);
		unlink(dbpath);
		ts_fmt(side, sizeof(side), "%s-wal", dbpath);
		unlink(side);
		ts_fmt(side, sizeof(side), "%s-shm", dbpath);
		unlink(side);
	}
out:
	ts_fmt(err, errlen, "%s", n->errmsg);
	tsync_node_close(n);
	return rc;
}

static int
load_clock(struct tsync_node *n)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(n->db,
				    "SELECT coalesce(max(hlc), 0) FROM"
				    " ts_streams",
				    -1, &s, NULL);

	if (rc != SQLITE_OK)
		return node_sqlerr(n, rc, "read clock");
	if (sqlite3_step(s) == SQLITE_ROW)
		n->hlc.last = (uint64_t)sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	/* Never resume from a far-ahead clock (see capture.c). */
	{
		uint64_t bound = hlc_make(ts_now_ms(&n->ops) + n->max_skew_ms,
					  0xffff);

		if (n->hlc.last > bound)
			n->hlc.last = bound;
	}
	return 0;
}

/*
 * The copy of replica.db taken before a migration from schema `from`:
 * replica.db.schema<from>-backup beside it (docs/operations.md, upgrades).
 */
static void
backup_path(const struct tsync_node *n, long from, char *out, size_t len)
{
	ts_fmt(out, len, "%s/replica.db.schema%ld-backup", n->dir, from);
}

/*
 * Brings a replica of an older schema up to this one, after a backup and
 * in one transaction: the schema steps are declared (tables, columns at
 * their end with a default, rules), then what the older schema could not
 * apply is merged from the log (apply_later).  A replica written by a
 * newer tiersync is refused.
 */
static int
migrate(struct tsync_node *n)
{
	char v[32], want[16], bak[PATH_MAX], *q;
	int old_ncol[TBL_MAX_TABLES + 1] = {0};
	struct ts_store_txn t;
	uint64_t merged = 0;
	long have;
	int i, rc, scan_all;

	if (ts_store_meta_get(n, "schema_version", v, sizeof(v)) != 0)
		v[0] = '\0';
	have = strtol(v, NULL, 10);
	if (have == SCHEMA_VERSION)
		return 0;
	if (have > SCHEMA_VERSION || have < 1)
		return node_err(n, TSYNC_EINVAL,
				"replica.db has schema version %s, and this "
				"tiersync (release %s) knows schema 1 to %d: run "
				"the newer release, or restore the backup taken "
				"before the upgrade (replica.db.schema%d-backup)",
				v, TSYNC_VERSION_STRING, SCHEMA_VERSION,
				SCHEMA_VERSION);
	backup_path(n, have, bak, sizeof(bak));
	if (unlink(bak) != 0 && errno != ENOENT)
		return node_err(n, TSYNC_EIO, "cannot replace %s: %s", bak,
				strerror(errno));
	if ((q = sqlite3_mprintf("VACUUM INTO %Q", bak)) == NULL)
		return node_err(n, TSYNC_ENOMEM, "out of memory");
	rc = ts_store_exec(n, q);
	sqlite3_free(q);
	if (rc != 0) {
		char why[256];

		ts_fmt(why, sizeof(why), "%s", n->errmsg);
		unlink(bak);
		return node_err(n, rc, "cannot back up replica.db to %s before "
				"migrating it from schema %ld (%s): free space "
				"and open the node again", bak, have, why);
	}
	ts_fmt(want, sizeof(want), "%d", SCHEMA_VERSION);
	scan_all = ts_store_meta_get(n, "later_kept", v, sizeof(v)) != 0 ||
		   strcmp(v, "1") != 0;
	if ((rc = ts_store_txn_begin(n, &t, "migrate")) != 0)
		return rc;
	if ((rc = ts_store_load_tables(n)) == 0)
		for (i = 0; i < n->ntbl; i++)
			old_ncol[n->tbls[i].tid] = n->tbls[i].ncol;
	if (rc == 0 && (rc = domain_declare(n)) == 0 &&
	    (rc = ts_store_load_tables(n)) == 0 && (rc = over_scan(n)) == 0 &&
	    (rc = apply_later(n, old_ncol, scan_all, &merged)) == 0 &&
	    (rc = ts_store_meta_set(n, "later_kept", "1")) == 0)
		rc = ts_store_meta_set(n, "schema_version", want);
	if (rc != 0) {
		ts_store_txn_rollback(n, &t);
		return rc;
	}
	return ts_store_txn_commit(n, &t);
}

int
tsync_node_open(const char *dir, const struct tsync_ops *ops,
		struct tsync_node **out)
{
	char dbpath[PATH_MAX], idhex[17], have[32];
	struct tsync_node *n;
	int rc;

	*out = n = node_new(dir, ops);
	if (n == NULL)
		return TSYNC_ENOMEM;
	ts_fmt(dbpath, sizeof(dbpath), "%s/replica.db", dir);
	if (!file_exists(dbpath))
		return node_err(n, TSYNC_ENOENT,
				"%s is not an initialised node: run "
				"`tiersync init %s` first",
				dir, dir);
	if ((rc = load_identity(n)) != 0 ||
	    (rc = ts_store_open(n, dbpath, 0)) != 0)
		return rc;
	if ((rc = ts_store_meta_get(n, "node_id", have, sizeof(have))) != 0)
		return node_err(n, TSYNC_ECORRUPT,
				"%s is not a tiersync replica", dbpath);
	id_format(n->id, idhex);
	if (strcmp(have, idhex) != 0)
		return node_err(n, TSYNC_EAUTH,
				"replica.db belongs to node %s, but node.key "
				"is node %s",
				have, idhex);
	{
		char v[32], *end;
		unsigned long long ms;

		rc = node_conf_get(n, "max_clock_skew_ms", v, sizeof(v));
		if (rc != 0 && rc != TSYNC_ENOENT)
			return rc; /* tiersync.conf is broken: file, line */
		if (rc == 0 && v[0] != '\0') {
			ms = strtoull(v, &end, 10);
			if (*end != '\0' || ms < 1000 || ms > 86400000ULL)
				return node_err(n, TSYNC_EINVAL,
						"max_clock_skew_ms = %s in "
						"tiersync.conf: give 1000 to "
						"86400000 (ms)",
						v);
			n->max_skew_ms = ms;
		}
		n->errmsg[0] = '\0';
	}
	/* The rules' SQL functions first: a migration merges rows. */
	if ((rc = domain_install(n)) != 0 || (rc = migrate(n)) != 0 ||
	    (rc = ts_store_load_tables(n)) != 0 || (rc = load_clock(n)) != 0)
		return rc;
	return capture_install(n);
}

void
tsync_node_close(struct tsync_node *n)
{
	if (n == NULL)
		return;
	if (n->cap.active)
		tsync_node_rollback(n);
	certs_free(n);
	heads_close(n);
	ts_store_close(n);
	capture_free(n);
	EVP_PKEY_free(n->key);
	X509_free(n->cert);
	X509_free(n->ca);
	free(n->dir);
	free(n);
}

int
tsync_node_begin(struct tsync_node *n)
{
	struct ts_store_txn tx;
	int rc;

	if (n->cap.active)
		return node_err(n, TSYNC_EINVAL, "a transaction is open");
	capture_reset(n);
	if ((rc = ts_store_txn_begin(n, &tx, NULL)) != 0)
		return rc;
	n->cap.active = 1;
	return 0;
}

/* Discards the open transaction; the node's error message is left as is. */
void
tsync_node_rollback(struct tsync_node *n)
{
	struct ts_store_txn tx = {NULL, 1};

	capture_reset(n);
	ts_store_txn_rollback(n, &tx);
}

int
tsync_node_commit(struct tsync_node *n)
{
	struct ts_store_txn tx = {NULL, 1};
	uint64_t saved = n->hlc.last;
	int rc, wrote = n->cap.nch > 0;

	if (!n->cap.active)
		return node_err(n, TSYNC_EINVAL, "no transaction is open");
	n->cap.active = 0; /* engine statements from here on */
	rc = capture_commit(n);
	if (rc == 0)
		rc = ts_store_txn_commit(n, &tx); /* rolls back if it fails */
	if (rc != 0) {
		n->hlc.last = saved;
		tsync_node_rollback(n); /* keeps the failure's message */
		return rc;
	}
	capture_reset(n);
	/* serve pushes the commit at once (NODE_WAKE, net.c). */
	if (wrote)
		(void)ts_wake(n->dir, NODE_WAKE);
	/* After the commit, never before: the heads file may lag behind
	 * replica.db (a failure or a power cut here only weakens the restore
	 * check), but is never ahead of it (heads.h).  One pwrite of a slot
	 * in place; fdatasync at most once a second. */
	if (wrote)
		(void)heads_save(n);
	return 0;
}

struct sqlite3 *
tsync_node_db(struct tsync_node *n)
{
	return n->db;
}

/*
 * ---- What user SQL may not do -------------------------------------------
 *
 * capture.c's authorizer refuses writes to the engine's tables and DDL on
 * replicated ones.  A pragma acts while SQLite prepares it, so the setting
 * pragmas below, and ATTACH, are refused here, from the statement's text,
 * before it is prepared: they would let SQL edit sqlite_schema behind the
 * engine (writable_schema, schema_version), run schema SQL with side
 * effects (trusted_schema), drop the journal that makes a failed command
 * write nothing (journal_mode), skip CHECK constraints
 * (ignore_check_constraints), or write a replicated table through a second
 * name that capture does not watch (ATTACH of replica.db).  Reading any
 * pragma is allowed.  SQLite's defensive mode backs this up.
 */
static const char *const refused_pragmas[] = {
	"writable_schema", "schema_version", "trusted_schema", "journal_mode",
	"ignore_check_constraints",
};

/* Skips blanks and comments. */
static const char *
sql_skip(const char *p)
{
	const char *e;

	for (;;) {
		while (*p != '\0' && strchr(" \t\n\r\f\v", *p) != NULL)
			p++;
		if (p[0] == '-' && p[1] == '-') {
			p += strcspn(p, "\n");
		} else if (p[0] == '/' && p[1] == '*') {
			e = strstr(p + 2, "*/");
			p = e != NULL ? e + 2 : p + strlen(p);
		} else {
			return p;
		}
	}
}

/* Reads the word or quoted name at p, lower-cased, into out; its end. */
static const char *
sql_word(const char *p, char *out, size_t len)
{
	size_t n = 0;
	char q = 0;

	if (*p == '"' || *p == '`' || *p == '\'') {
		q = *p++;
	} else if (*p == '[') {
		q = ']';
		p++;
	}
	for (; *p != '\0'; p++) {
		if (q != 0 && *p == q) {
			if (q == ']' || p[1] != q) {
				p++;
				break;
			}
			p++; /* a doubled quote stands for one */
		} else if (q == 0 && *p != '_' && *p != '$' &&
			   (unsigned char)*p < 0x80 &&
			   !isalnum((unsigned char)*p)) {
			break;
		}
		if (n + 1 < len)
			out[n++] = (char)tolower((unsigned char)*p);
	}
	out[n] = '\0';
	return p;
}

/* Refuses the statement at the start of `sql` if it is one of those above. */
static int
sql_guard(struct tsync_node *n, const char *sql)
{
	char w[64], name[64];
	const char *p = sql_word(sql_skip(sql), w, sizeof(w));
	size_t i;

	if (strcmp(w, "explain") == 0) { /* EXPLAIN [QUERY PLAN] prepares */
		p = sql_word(sql_skip(p), w, sizeof(w));
		if (strcmp(w, "query") == 0) {
			p = sql_word(sql_skip(p), w, sizeof(w));
			p = sql_word(sql_skip(p), w, sizeof(w));
		}
	}
	if (strcmp(w, "attach") == 0)
		return node_err(n, TSYNC_EINVAL,
				"sql: ATTACH is refused: writes through an "
				"attached database escape the node's capture");
	if (strcmp(w, "pragma") != 0)
		return 0;
	p = sql_skip(sql_word(sql_skip(p), name, sizeof(name)));
	if (*p == '.') /* schema.name */
		p = sql_skip(sql_word(sql_skip(p + 1), name, sizeof(name)));
	if (*p != '=' && *p != '(')
		return 0; /* reading a pragma changes nothing */
	for (i = 0; i < sizeof(refused_pragmas) / sizeof(refused_pragmas[0]);
	     i++)
		if (strcmp(name, refused_pragmas[i]) == 0)
			return node_err(n, TSYNC_EINVAL,
					"sql: PRAGMA %s is refused: setting it "
					"could alter the schema or the "
					"replica's integrity",
					name);
	return 0;
}

static int
run_stmt(struct tsync_node *n, sqlite3_stmt *s, tsync_row_cb cb, void *arg)
{
	const char *names[TBL_MAX_COLS * 4], *vals[TBL_MAX_COLS * 4];
	int ncol = sqlite3_column_count(s), i, rc;

	if (ncol > (int)(sizeof(names) / sizeof(names[0])))
		ncol = (int)(sizeof(names) / sizeof(names[0]));
	for (i = 0; i < ncol; i++)
		names[i] = sqlite3_column_name(s, i);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (cb == NULL)
			continue;
		for (i = 0; i < ncol; i++)
			vals[i] = (const char *)sqlite3_column_text(s, i);
		if (cb(arg, ncol, names, vals) != 0)
			return node_err(n, TSYNC_EINVAL, "stopped by caller");
	}
	if (rc != SQLITE_DONE)
		return node_sqlerr(n, rc, "sql");
	return 0;
}

int
tsync_node_exec(struct tsync_node *n, const char *sql, tsync_row_cb cb,
		void *arg)
{
	const char *tail = sql;
	sqlite3_stmt *s;
	int rc;

	sqlite3_db_config(n->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	if ((rc = tsync_node_begin(n)) != 0)
		return rc;
	while (tail != NULL && *tail != '\0') {
		if ((rc = sql_guard(n, tail)) != 0)
			break;
		rc = sqlite3_prepare_v2(n->db, tail, -1, &s, &tail);
		if (rc != SQLITE_OK) {
			rc = node_sqlerr(n, rc, "sql");
			break;
		}
		if (s == NULL)
			continue;
		rc = run_stmt(n, s, cb, arg);
		sqlite3_finalize(s);
		if (rc == 0 && n->cap.err != 0)
			rc = node_err(n, n->cap.err, "%s", n->cap.errmsg);
		if (rc != 0)
			break;
	}
	if (rc != 0) {
		tsync_node_rollback(n); /* keeps the failure's message */
		return rc;
	}
	return tsync_node_commit(n);
}

int
tsync_node_identity(const struct tsync_node *n, struct tsync_identity *out)
{
	memset(out, 0, sizeof(*out));
	id_format(n->id, out->node_id);
	ts_fmt(out->scope, sizeof(out->scope), "%s", n->scope);
	ts_fmt(out->role, sizeof(out->role), "%s", n->role);
	ts_fmt(out->district, sizeof(out->district), "%s", n->district);
	return 0;
}
