/*
 * sess_store.h - what a session needs of a replica, as a class the caller
 * supplies (in the spirit of BearSSL's caller-supplied classes): its
 * identity and its key, its streams and their heads, reading a range of a
 * stream, applying a batch (alone or in a group under one commit),
 * certificates and the revocation list.  sess_store_node is the class over a node;
 * the session reaches the replica through nothing else for these, so a
 * test can give it another store.
 *
 * Receipts, evidence and snapshots, which the session starts but does not
 * run, keep their own modules' interfaces (receipt.h, heads.h, snap.h).
 */
#ifndef TSYNC_SESS_STORE_H
#define TSYNC_SESS_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "apply.h"
#include "keys.h"
#include "log.h"

struct sess_store_class {
	void (*self)(void *ctx, uint64_t *id, const char **scope,
		     const char **role);
	/* Every stream with its head seq (malloc'd; free() it). */
	int (*streams)(void *ctx, struct stream_row **rows, size_t *count);
	/* The same with each head's hash (both malloc'd). */
	int (*heads)(void *ctx, struct stream_row **rows,
		     uint8_t (**hashes)[KEYS_HASH_LEN], size_t *count);
	/* cb for seq from..to of stream sid, within max_bytes (log.h). */
	int (*read)(void *ctx, int64_t sid, uint64_t from, uint64_t to,
		    size_t max_bytes, int may_exceed, ts_log_txn_cb cb,
		    void *arg);
	/* A group of batches under one commit: begin returns 1 when it
	 * opened one, 0 when it cannot (another transaction is open: each
	 * batch then commits alone), or an error. */
	int (*begin)(void *ctx);
	int (*commit)(void *ctx);
	void (*rollback)(void *ctx);
	/* Checks and applies a batch (apply.h); in the open group when
	 * `grouped`, else in a transaction of its own. */
	int (*apply)(void *ctx, const struct wire_txn *t, size_t count,
		     const char *peer, struct apply_report *rep,
		     apply_held_cb held, void *held_arg, int grouped);
	int (*cert_pem)(void *ctx, uint64_t origin, char **pem, size_t *len);
	int (*cert_add)(void *ctx, const void *pem, size_t len);
	int (*crl_pem)(void *ctx, char **pem, size_t *len);
	int (*crl_install)(void *ctx, const void *pem, size_t len,
			   int *installed, uint64_t *number);
	/* Signs a digest with this node's key (a bundle's END). */
	int (*sign)(void *ctx, const uint8_t hash[KEYS_HASH_LEN],
		    uint8_t sig[KEYS_SIG_LEN]);
	/* 0 if sig is origin's over hash: its certificate known, checked
	 * against the CA and not revoked. */
	int (*check)(void *ctx, uint64_t origin,
		     const uint8_t hash[KEYS_HASH_LEN],
		     const uint8_t sig[KEYS_SIG_LEN]);
	/* The message of the last error. */
	const char *(*errmsg)(void *ctx);
};

struct sess_store {
	const struct sess_store_class *vt;
	void *ctx;
};

/* The class over a node: ctx is the struct tsync_node. */
extern const struct sess_store_class sess_store_node;

#endif
