/*
 * forge.c - tsync_forge: crafts the attacks a receiver must refuse, as
 * bundle files (or, for "inject", straight into a relay's log, as a
 * compromised relay would).  Test-only: it reaches into node internals.
 *
 *   tsync_forge scope NODE_DIR SCOPE OUT   txn of NODE in another SCOPE
 *   tsync_forge badsig NODE_DIR OUT        next txn, signed by a stray key
 *   tsync_forge chain NODE_DIR OUT         next txn, wrong prev hash
 *   tsync_forge gap NODE_DIR OUT           txn at head + 2
 *   tsync_forge equivocate NODE_DIR OUT    another txn at the head's seq
 *   tsync_forge inject NODE_DIR RELAY_DIR [good]
 *                                          next txn of NODE (bad signature
 *                                          unless "good") put into RELAY's
 *                                          log without any check
 *   tsync_forge expire CA_DIR NODE_DIR     replaces NODE's certificate by
 *                                          an expired one from the CA
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>

#include "frame.h"
#include "node_int.h"
#include "txn.h"

static void
die(const char *msg)
{
	fprintf(stderr, "tsync_forge: %s\n", msg);
	exit(1);
}

/* Encodes a one-row insert txn. */
static void
body(struct buf *b, uint64_t origin, const char *scope, uint64_t seq,
     const uint8_t prev[32], const char *id)
{
	msgpack_packer pk;
	struct timespec ts;
	uint64_t hlc;

	clock_gettime(CLOCK_REALTIME, &ts);
	hlc = hlc_make((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000,
		       0);
	txn_packer(&pk, b);
	msgpack_pack_array(&pk, 9);
	msgpack_pack_uint8(&pk, TXN_FMT);
	msgpack_pack_uint64(&pk, origin);
	msgpack_pack_str_with_body(&pk, scope, strlen(scope));
	msgpack_pack_uint64(&pk, seq);
	msgpack_pack_bin_with_body(&pk, prev, 32);
	msgpack_pack_uint64(&pk, hlc);
	msgpack_pack_uint32(&pk, SCHEMA_VERSION);
	msgpack_pack_array(&pk, 1);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_str_with_body(&pk, "cases", 5);
	msgpack_pack_array(&pk, 1);
	msgpack_pack_str_with_body(&pk, "title", 5);
	msgpack_pack_array(&pk, 1);
	msgpack_pack_array(&pk, 6);
	msgpack_pack_uint8(&pk, 0);
	msgpack_pack_str_with_body(&pk, id, strlen(id));
	msgpack_pack_uint8(&pk, TXN_INSERT);
	msgpack_pack_uint64(&pk, 0);
	msgpack_pack_uint64(&pk, 0);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint8(&pk, 0);
	msgpack_pack_str_with_body(&pk, "forged", 6);
	msgpack_pack_uint64(&pk, 0);
	msgpack_pack_uint64(&pk, 0);
}

static void
write_bundle(const char *out, struct tsync_node *n, const struct buf *b,
	     const uint8_t sig[64])
{
	struct buf f;
	msgpack_packer pk;
	size_t at;
	char *pem;
	size_t len;
	FILE *fp;

	buf_init(&f, NULL, 0);
	at = frame_begin(&f, &pk);
	msgpack_pack_array(&pk, 6);
	msgpack_pack_uint8(&pk, WIRE_BUNDLE);
	msgpack_pack_uint8(&pk, 1);
	msgpack_pack_uint64(&pk, n->id);
	msgpack_pack_str_with_body(&pk, n->scope, strlen(n->scope));
	msgpack_pack_uint64(&pk, 0);
	msgpack_pack_array(&pk, 0);
	frame_end(&f, at);
	if (certs_pem(n, n->id, &pem, &len) == 0) {
		at = frame_begin(&f, &pk);
		msgpack_pack_array(&pk, 2);
		msgpack_pack_uint8(&pk, WIRE_CERT);
		msgpack_pack_bin_with_body(&pk, pem, len);
		frame_end(&f, at);
		free(pem);
	}
	at = frame_begin(&f, &pk);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint8(&pk, WIRE_BATCH);
	msgpack_pack_uint64(&pk, 1);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_bin_with_body(&pk, b->p, b->len);
	msgpack_pack_bin_with_body(&pk, sig, 64);
	frame_end(&f, at);
	at = frame_begin(&f, &pk);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint8(&pk, WIRE_END);
	msgpack_pack_uint64(&pk, 1);
	msgpack_pack_array(&pk, 0);
	frame_end(&f, at);
	if ((fp = fopen(out, "wb")) == NULL ||
	    fwrite(f.p, 1, f.len, fp) != f.len || fclose(fp) != 0)
		die("cannot write the bundle");
	buf_free(&f);
}

static void
sign(EVP_PKEY *k, const struct buf *b, uint8_t sig[64])
{
	uint8_t h[32];

	keys_sha256(b->p, b->len, h);
	if (txn_sign(k, h, sig) != 0)
		die("cannot sign");
}

static void
inject(struct tsync_node *relay, struct tsync_node *n, const struct buf *b,
       const uint8_t sig[64], uint64_t seq)
{
	struct stream_head h;
	uint8_t hash[32];

	keys_sha256(b->p, b->len, hash);
	if (log_head(relay, n->id, n->scope, strlen(n->scope), &h) != 0 &&
	    h.sid < 0 && seq != 1)
		die("relay lacks the stream");
	if (h.seq + 1 != seq)
		die("relay is not at the node's head");
	if (store_exec(relay, "BEGIN") != 0 ||
	    log_append(relay, &h, n->id, n->scope, strlen(n->scope), b->p,
		       b->len, hash, sig, 0, 1) != 0 ||
	    store_exec(relay, "COMMIT") != 0)
		die(tsync_node_errmsg(relay));
}

static void
expire(const char *ca_dir, const char *node_dir)
{
	char path[PATH_MAX], err[256];
	EVP_PKEY *cak, *k;
	X509 *ca, *c, *old;
	struct cert_info ci;
	FILE *f;

	snprintf(path, sizeof(path), "%s/ca.key", ca_dir);
	cak = keys_load_private(path, err, sizeof(err));
	snprintf(path, sizeof(path), "%s/ca.crt", ca_dir);
	ca = cert_load(path, err, sizeof(err));
	snprintf(path, sizeof(path), "%s/node.key", node_dir);
	k = keys_load_private(path, err, sizeof(err));
	snprintf(path, sizeof(path), "%s/node.crt", node_dir);
	old = cert_load(path, err, sizeof(err));
	if (cak == NULL || ca == NULL || k == NULL || old == NULL ||
	    cert_parse(old, &ci) != 0)
		die(err);
	c = cert_make_node(k, &ci, ca, cak, 1, ci.serial + 1);
	if (c == NULL)
		die("cannot make the certificate");
	/* Valid from two days ago to yesterday. */
	X509_gmtime_adj(X509_getm_notBefore(c), -2 * 86400L);
	X509_gmtime_adj(X509_getm_notAfter(c), -86400L);
	X509_sign(c, cak, NULL);
	if ((f = fopen(path, "w")) == NULL || !PEM_write_X509(f, c) ||
	    fclose(f) != 0)
		die("cannot write node.crt");
	X509_free(c);
	X509_free(old);
	X509_free(ca);
	EVP_PKEY_free(k);
	EVP_PKEY_free(cak);
}

int
main(int argc, char **argv)
{
	struct tsync_node *n = NULL;
	struct stream_head h;
	struct buf b;
	uint8_t sig[64], zero[32] = {0};
	const char *mode;
	char id[64];

	if (argc < 4)
		die("usage: see the comment at the top of forge.c");
	mode = argv[1];
	if (strcmp(mode, "expire") == 0) {
		expire(argv[2], argv[3]);
		return 0;
	}
	if (tsync_node_open(argv[2], NULL, &n) != 0)
		die(tsync_node_errmsg(n));
	buf_init(&b, NULL, 0);
	snprintf(id, sizeof(id), "forged-%s", mode);
	if (strcmp(mode, "scope") == 0 && argc == 5) {
		if (log_head(n, n->id, argv[3], strlen(argv[3]), &h) != 0)
			h.seq = 0;
		body(&b, n->id, argv[3], h.seq + 1, h.seq ? h.hash : zero, id);
		sign(n->key, &b, sig);
		write_bundle(argv[4], n, &b, sig);
		goto done;
	}
	if (log_head(n, n->id, n->scope, strlen(n->scope), &h) != 0)
		die("the node has written nothing yet");
	if (strcmp(mode, "badsig") == 0 || strcmp(mode, "inject") == 0) {
		EVP_PKEY *stray;
		int good = argc > 4 && strcmp(argv[4], "good") == 0;

		body(&b, n->id, n->scope, h.seq + 1, h.hash, id);
		if (keys_generate(&stray) != 0)
			die("keygen");
		sign(good ? n->key : stray, &b, sig);
		EVP_PKEY_free(stray);
		if (strcmp(mode, "badsig") == 0) {
			write_bundle(argv[3], n, &b, sig);
		} else {
			struct tsync_node *relay = NULL;

			if (tsync_node_open(argv[3], NULL, &relay) != 0)
				die(tsync_node_errmsg(relay));
			inject(relay, n, &b, sig, h.seq + 1);
			tsync_node_close(relay);
		}
	} else if (strcmp(mode, "chain") == 0) {
		body(&b, n->id, n->scope, h.seq + 1, zero, id);
		sign(n->key, &b, sig);
		write_bundle(argv[3], n, &b, sig);
	} else if (strcmp(mode, "gap") == 0) {
		body(&b, n->id, n->scope, h.seq + 2, h.hash, id);
		sign(n->key, &b, sig);
		write_bundle(argv[3], n, &b, sig);
	} else if (strcmp(mode, "equivocate") == 0) {
		uint8_t prev[32];
		sqlite3_stmt *s;

		/* The hash of seq head-1 is the prev of the txn at head. */
		memcpy(prev, zero, 32);
		sqlite3_prepare_v2(n->db, "SELECT hash FROM ts_log WHERE k = ?1",
				   -1, &s, NULL);
		sqlite3_bind_int64(s, 1, LOG_ROWID(h.sid, h.seq - 1));
		if (h.seq > 1 && sqlite3_step(s) == SQLITE_ROW)
			memcpy(prev, sqlite3_column_blob(s, 0), 32);
		sqlite3_finalize(s);
		body(&b, n->id, n->scope, h.seq, prev, id);
		sign(n->key, &b, sig);
		write_bundle(argv[3], n, &b, sig);
	} else {
		die("unknown mode");
	}
done:
	buf_free(&b);
	tsync_node_close(n);
	return 0;
}
