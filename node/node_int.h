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
	struct ts_buf arena; /* ids, scopes, encoded values */
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
	sqlite3_stmt *st_read; /* log.c: ts_log_read */
	struct heads_file *heads; /* heads.c: the open heads file */
	int later_seen; /* apply.c: the txn being merged holds unknown parts */
	char errmsg[512];
};

/* util.c: the datagram socket in NODE_DIR that `serve` listens on; a
 * process that committed pokes it (ts_wake) so the links push at once. */
#define NODE_WAKE "wake"
int ts_wake(const char *dir, const char *name);

/* The modules' own headers, for the files that use the node handle. */
#include "capture.h"
#include "config.h"
#include "log.h"
#include "peers.h"
#include "store.h"

#endif
