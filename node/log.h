/*
 * log.h - the streams and the txn log in replica.db: heads, appends,
 * listing streams and reading ranges for sending (node/log.c).
 */
#ifndef TSYNC_LOG_H
#define TSYNC_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "keys.h"

struct tsync_node;

struct stream_head {
	int64_t sid;
	uint64_t seq;
	uint8_t hash[KEYS_HASH_LEN];
	uint64_t hlc;
};
int ts_log_head(struct tsync_node *n, uint64_t origin, const char *scope,
	     size_t scope_len, struct stream_head *h); /* 0, or ENOENT */
int ts_log_append(struct tsync_node *n, struct stream_head *h,
	       uint64_t origin, const char *scope, size_t scope_len,
	       const uint8_t *body, size_t len,
	       const uint8_t hash[KEYS_HASH_LEN],
	       const uint8_t sig[KEYS_SIG_LEN], uint64_t hlc, int store_head);
/* Writes h as the stream's head (after appends with store_head 0). */
int ts_log_store_head(struct tsync_node *n, const struct stream_head *h);

/* A stream as listed for replication. */
struct stream_row {
	int64_t sid;
	uint64_t origin;
	char scope[256];
	uint64_t seq;
};
/* All streams, malloc'd array in *out (free() it). */
int ts_log_streams(struct tsync_node *n, struct stream_row **out, size_t *count);
/*
 * The same with each head's hash in a parallel malloc'd array (when
 * hashes is not NULL), read in one statement so that a seq and its hash
 * always agree.  free() both.
 */
int ts_log_heads(struct tsync_node *n, struct stream_row **rows,
		 uint8_t (**hashes)[KEYS_HASH_LEN], size_t *count);
typedef int (*ts_log_txn_cb)(void *arg, uint64_t seq, const uint8_t *body,
			  size_t len, const uint8_t *sig);
/*
 * Calls cb for seq from..to of stream sid, never going past max_bytes;
 * with may_exceed, a first txn larger than max_bytes is still given alone.
 */
int ts_log_read(struct tsync_node *n, int64_t sid, uint64_t from, uint64_t to,
	     size_t max_bytes, int may_exceed, ts_log_txn_cb cb, void *arg);


#define LOG_ROWID(sid, seq) ((int64_t)(sid) << 40 | (int64_t)(seq))

#endif
