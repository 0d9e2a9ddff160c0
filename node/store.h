/*
 * store.h - replica.db: opening it, transactions and savepoints, the
 * statement cache, ts_meta, the declared tables and the per-row version
 * blobs (node/store.c).
 */
#ifndef TSYNC_STORE_H
#define TSYNC_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

struct tsync_node;
struct tbl;

int ts_store_open(struct tsync_node *n, const char *path, int create);
int ts_store_exec(struct tsync_node *n, const char *sql);
/*
 * A write transaction, or a savepoint inside one.  ts_store_txn_begin opens
 * BEGIN IMMEDIATE when no transaction is open (or when `name` is NULL,
 * which then fails if one is), else SAVEPOINT `name` (a constant
 * identifier).  ts_store_txn_commit commits or releases it and, if that
 * fails, rolls it back.  ts_store_txn_rollback undoes and closes it; call it
 * on every error path after a successful begin.  After either, no
 * transaction of this scope is left open, whatever failed.
 */
struct ts_store_txn {
	const char *name;
	int outer;
};
int ts_store_txn_begin(struct tsync_node *n, struct ts_store_txn *t,
		    const char *name);
int ts_store_txn_commit(struct tsync_node *n, struct ts_store_txn *t);
void ts_store_txn_rollback(struct tsync_node *n, struct ts_store_txn *t);
/* A read transaction: one consistent snapshot until ts_store_read_end. */
int ts_store_read_begin(struct tsync_node *n);
void ts_store_read_end(struct tsync_node *n);
sqlite3_stmt *ts_store_stmt(struct tsync_node *n, int which);
int ts_store_meta_get(struct tsync_node *n, const char *key, char *out,
		   size_t len);
int ts_store_meta_set(struct tsync_node *n, const char *key, const char *val);
int ts_store_load_tables(struct tsync_node *n);
int ts_store_declare(struct tsync_node *n, const char *name,
		  const char *const *cols, const char *const *types, int ncol);
void ts_store_close(struct tsync_node *n);
struct tbl *ts_store_table(struct tsync_node *n, const char *name, size_t len);
struct tbl *ts_store_table_tid(struct tsync_node *n, int tid);
/* Column index of `name` in t, or -1. */
int tbl_col(const struct tbl *t, const char *name, size_t len);


/* Stores a message on the node and returns `code`. */
int node_err(struct tsync_node *n, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Translates the connection's last SQLite error into a node error. */
int node_sqlerr(struct tsync_node *n, int rc, const char *what);

/* ver blobs (stored per row in ts_ver): 16 bytes per column slot. */
void ver_get(const uint8_t *vers, int nvers, int slot, uint64_t *hlc,
	     uint64_t *origin);
void ver_set(uint8_t *vers, int slot, uint64_t hlc, uint64_t origin);
/* Compact stored form; out needs 17 * ncol bytes. */
size_t ver_pack(const uint8_t *vers, int ncol, uint8_t *out);
int ver_unpack(const uint8_t *blob, size_t len, uint8_t *vers, int ncol);

#endif
