/*
 * node_int.h - the node handle shared by the node/ modules.
 *
 * struct tsync_node owns: the SQLite connection to replica.db, the node's
 * identity (key, certificate, CA certificate), the HLC, the declared
 * replicated tables, the capture state of the open transaction, a cache of
 * prepared statements, and the last error message.  Nothing here is global.
 */
#ifndef TSYNC_NODE_INT_H
#define TSYNC_NODE_INT_H

#include <stdint.h>

#include <sqlite3.h>

#include "tiersync/tiersync.h"
#include "hlc.h"
#include "certs.h"
#include "keys.h"
#include "util.h"

/* 1: cases only; 2: the records (domain/).  CHANGELOG.md names each. */
#define SCHEMA_VERSION TSYNC_SCHEMA_VERSION
#define TBL_MAX_COLS 64
#define TBL_MAX_TABLES 64 /* tids are 1..TBL_MAX_TABLES */

/* A replicated table: column 0 is `id`, column 1 is `scope`. */
struct tbl {
	int tid;
	char *name;
	int ncol;
	char **cols;
	sqlite3_stmt *upsert; /* merge.c: INSERT .. ON CONFLICT DO UPDATE */
	sqlite3_stmt *del;    /* merge.c: DELETE WHERE id = ? */
	sqlite3_stmt *get;    /* merge.c: SELECT cols WHERE id = ? */
	sqlite3_value **dflt; /* declared default of each column, or NULL */
	char **dflt_sql;      /* the same as SQL text (verify.c) */
	int later_from;       /* apply_later: merge columns from here only */
};

/* One captured row change, before the commit folds them. */
struct cap_change {
	uint32_t tid;
	uint32_t order;
	uint8_t kind; /* TXN_* */
	uint32_t id_off, id_len;
	uint32_t scope_off, scope_len;
	uint64_t mask;     /* columns carried (bit = column index) */
	uint32_t vals_off; /* first of ncol value offsets in cap.offs */
	uint32_t dead_off, dead_len; /* delete: old values, msgpack array */
};

/* A conflict head that the open transaction settles (names overwritten). */
struct settle {
	uint32_t tid, col;
	uint32_t id_off, id_len; /* in the capture arena */
	uint64_t hlc, origin;
};

struct capture {
	int active; /* inside tsync_node_begin/commit */
	int applying; /* engine writes: not captured */
	int lax; /* settling a conflict: domain rules (ts_check) stand down */
	int err;
	int stray; /* a replicated table was written outside a node txn */
	char errmsg[256];
	struct cap_change *ch;
	uint32_t nch, capch;
	uint32_t *offs; /* value offsets into `arena` (+1; 0 = absent) */
	uint32_t noffs, capoffs;
	struct buf arena; /* ids, scopes, encoded values */
	struct settle *settle;
	uint32_t nsettle, capsettle;
};

enum {
	ST_VER_GET, ST_VER_PUT, ST_STREAM_GET, ST_STREAM_NEW, ST_STREAM_SET,
	ST_LOG_PUT, ST_META_SET, ST_CERT_GET, ST_HEADS_ADD, ST_HEADS_DEL,
	ST_OVER_ADD, ST_OVER_DEL, ST_LOG_HASH, ST__COUNT
};

struct tsync_node {
	struct tsync_ops ops;
	char *dir;
	sqlite3 *db;
	EVP_PKEY *key;
	X509 *cert;
	X509 *ca;
	uint64_t id;
	char scope[256];
	char role[16];
	char district[64];
	struct hlc hlc;
	uint64_t max_skew_ms;
	struct tbl *tbls;
	int ntbl;
	struct capture cap;
	struct cert_entry *certcache; /* certs.c */
	int over_any; /* conflict.c: ts_over may hold rows (checked per batch) */
	sqlite3_stmt *st[ST__COUNT];
	sqlite3_stmt *st_read; /* log.c: log_read */
	struct heads_file *heads; /* heads.c: the open heads file */
	int later_seen; /* apply.c: the txn being merged holds unknown parts */
	char errmsg[512];
};

/* util.c: the datagram socket in NODE_DIR that `serve` listens on; a
 * process that committed pokes it (ts_wake) so the links push at once. */
#define NODE_WAKE "wake"
int ts_wake(const char *dir, const char *name);

/* Stores a message on the node and returns `code`. */
int node_err(struct tsync_node *n, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Translates the connection's last SQLite error into a node error. */
int node_sqlerr(struct tsync_node *n, int rc, const char *what);

/* store.c */
int store_open(struct tsync_node *n, const char *path, int create);
int store_exec(struct tsync_node *n, const char *sql);
/*
 * A write transaction, or a savepoint inside one.  store_txn_begin opens
 * BEGIN IMMEDIATE when no transaction is open (or when `name` is NULL,
 * which then fails if one is), else SAVEPOINT `name` (a constant
 * identifier).  store_txn_commit commits or releases it and, if that
 * fails, rolls it back.  store_txn_rollback undoes and closes it; call it
 * on every error path after a successful begin.  After either, no
 * transaction of this scope is left open, whatever failed.
 */
struct store_txn {
	const char *name;
	int outer;
};
int store_txn_begin(struct tsync_node *n, struct store_txn *t,
		    const char *name);
int store_txn_commit(struct tsync_node *n, struct store_txn *t);
void store_txn_rollback(struct tsync_node *n, struct store_txn *t);
sqlite3_stmt *store_stmt(struct tsync_node *n, int which);
int store_meta_get(struct tsync_node *n, const char *key, char *out,
		   size_t len);
int store_meta_set(struct tsync_node *n, const char *key, const char *val);
int store_load_tables(struct tsync_node *n);
int store_declare(struct tsync_node *n, const char *name,
		  const char *const *cols, const char *const *types, int ncol);
void store_close(struct tsync_node *n);
struct tbl *store_table(struct tsync_node *n, const char *name, size_t len);
struct tbl *store_table_tid(struct tsync_node *n, int tid);
/* Column index of `name` in t, or -1. */
int tbl_col(const struct tbl *t, const char *name, size_t len);


/* capture.c */
int capture_install(struct tsync_node *n);
void capture_reset(struct tsync_node *n);
int capture_commit(struct tsync_node *n);
/* Within a node transaction: writes the row's current value of `col` again,
 * naming head (hlc, origin) as overwritten too (conflict.c resolve). */
int capture_settle(struct tsync_node *n, int tid, const char *row, int col,
		   uint64_t hlc, uint64_t origin);
void capture_free(struct tsync_node *n);

/* ver blobs (stored per row in ts_ver): 16 bytes per column slot. */
void ver_get(const uint8_t *vers, int nvers, int slot, uint64_t *hlc,
	     uint64_t *origin);
void ver_set(uint8_t *vers, int slot, uint64_t hlc, uint64_t origin);
/* Compact stored form; out needs 17 * ncol bytes. */
size_t ver_pack(const uint8_t *vers, int ncol, uint8_t *out);
int ver_unpack(const uint8_t *blob, size_t len, uint8_t *vers, int ncol);

/* log.c */
struct stream_head {
	int64_t sid;
	uint64_t seq;
	uint8_t hash[KEYS_HASH_LEN];
	uint64_t hlc;
};
int log_head(struct tsync_node *n, uint64_t origin, const char *scope,
	     size_t scope_len, struct stream_head *h); /* 0, or ENOENT */
int log_append(struct tsync_node *n, struct stream_head *h,
	       uint64_t origin, const char *scope, size_t scope_len,
	       const uint8_t *body, size_t len,
	       const uint8_t hash[KEYS_HASH_LEN],
	       const uint8_t sig[KEYS_SIG_LEN], uint64_t hlc, int store_head);
/* Writes h as the stream's head (after appends with store_head 0). */
int log_store_head(struct tsync_node *n, const struct stream_head *h);

/* A stream as listed for replication. */
struct stream_row {
	int64_t sid;
	uint64_t origin;
	char scope[256];
	uint64_t seq;
};
/* All streams, malloc'd array in *out (free() it). */
int log_streams(struct tsync_node *n, struct stream_row **out, size_t *count);
typedef int (*log_txn_cb)(void *arg, uint64_t seq, const uint8_t *body,
			  size_t len, const uint8_t *sig);
/*
 * Calls cb for seq from..to of stream sid, never going past max_bytes;
 * with may_exceed, a first txn larger than max_bytes is still given alone.
 */
int log_read(struct tsync_node *n, int64_t sid, uint64_t from, uint64_t to,
	     size_t max_bytes, int may_exceed, log_txn_cb cb, void *arg);

/* peers.c */
struct peer_rec {
	uint64_t id;
	const char *scope, *role, *addr, *error;
	uint64_t last_contact, they_lack, we_lack, sent, received;
};
int peers_record(struct tsync_node *n, const struct peer_rec *p);

/* config.c: value of `key` in [node] of tiersync.conf (ENOENT if none). */
int node_conf_get(struct tsync_node *n, const char *key, char *out,
		  size_t len);

#define LOG_ROWID(sid, seq) ((int64_t)(sid) << 40 | (int64_t)(seq))

#endif
