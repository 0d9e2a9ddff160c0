/*
 * sess_store.c - the session's store class over a node (sess_store.h):
 * each method is the node module's own function.
 */
#include <sqlite3.h>

#include "certs.h"
#include "node_int.h"
#include "receipt.h"
#include "revoke.h"
#include "sess_store.h"
#include "txn.h"

static void
ns_self(void *ctx, uint64_t *id, const char **scope, const char **role)
{
	struct tsync_node *n = ctx;

	*id = n->id;
	*scope = n->scope;
	*role = n->role;
}

static int
ns_streams(void *ctx, struct stream_row **rows, size_t *count)
{
	return ts_log_streams(ctx, rows, count);
}

static int
ns_heads(void *ctx, struct stream_row **rows, uint8_t (**hashes)[KEYS_HASH_LEN],
      size_t *count)
{
	return ts_log_heads(ctx, rows, hashes, count);
}

static int
ns_read(void *ctx, int64_t sid, uint64_t from, uint64_t to, size_t max_bytes,
     int may_exceed, ts_log_txn_cb cb, void *arg)
{
	return ts_log_read(ctx, sid, from, to, max_bytes, may_exceed, cb, arg);
}

static int
ns_begin(void *ctx)
{
	struct tsync_node *n = ctx;
	struct ts_store_txn t;
	int rc;

	if (!sqlite3_get_autocommit(n->db))
		return 0;
	rc = ts_store_txn_begin(n, &t, NULL);
	return rc != 0 ? rc : 1;
}

static int
ns_commit(void *ctx)
{
	struct ts_store_txn t = {NULL, 1};

	return ts_store_txn_commit(ctx, &t);
}

static void
ns_rollback(void *ctx)
{
	struct ts_store_txn t = {NULL, 1};

	ts_store_txn_rollback(ctx, &t);
}

static int
ns_apply(void *ctx, const struct wire_txn *t, size_t count, const char *peer,
      struct apply_report *rep, apply_held_cb held, void *held_arg,
      int grouped)
{
	return (grouped ? apply_batch_in : apply_batch)(ctx, t, count, peer,
							rep, held, held_arg);
}

static int
ns_cert_pem(void *ctx, uint64_t origin, char **pem, size_t *len)
{
	return certs_pem(ctx, origin, pem, len);
}

static int
ns_cert_add(void *ctx, const void *pem, size_t len)
{
	return certs_add_pem(ctx, pem, len);
}

static int
ns_crl_get(void *ctx, char **pem, size_t *len)
{
	return crl_pem(ctx, pem, len);
}

static int
ns_crl_put(void *ctx, const void *pem, size_t len, int *installed,
	uint64_t *number)
{
	return crl_install(ctx, pem, len, installed, number);
}

static int
ns_sign(void *ctx, const uint8_t hash[KEYS_HASH_LEN],
	uint8_t sig[KEYS_SIG_LEN])
{
	struct tsync_node *n = ctx;

	return txn_sign(n->key, hash, sig);
}

static int
ns_check(void *ctx, uint64_t origin, const uint8_t hash[KEYS_HASH_LEN],
	 const uint8_t sig[KEYS_SIG_LEN])
{
	const struct cert_entry *ce = certs_get(ctx, origin);

	if (ce == NULL || ce->revoked_at >= 0)
		return TSYNC_EAUTH;
	return txn_verify_sig(ce->key, hash, sig) == 0 ? 0 : TSYNC_EAUTH;
}

static const char *
ns_errmsg(void *ctx)
{
	return tsync_node_errmsg(ctx);
}

const struct sess_store_class sess_store_node = {
	.self = ns_self,
	.streams = ns_streams,
	.heads = ns_heads,
	.read = ns_read,
	.begin = ns_begin,
	.commit = ns_commit,
	.rollback = ns_rollback,
	.apply = ns_apply,
	.cert_pem = ns_cert_pem,
	.cert_add = ns_cert_add,
	.crl_pem = ns_crl_get,
	.crl_install = ns_crl_put,
	.sign = ns_sign,
	.check = ns_check,
	.errmsg = ns_errmsg,
};
