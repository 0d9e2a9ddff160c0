/*
 * test_txn.c - txn encoding round trip, hashing, signatures, and that a
 * changed byte or a foreign key is detected; certificates whose key does
 * not decode, or is not Ed25519, are refused without a crash.
 */
#include <stdlib.h>

#include <openssl/x509.h>

#include "check.h"
#include "certs.h"
#include "node_int.h"
#include "testnode.h"
#include "txn.h"

#define T_HLC (HLC_MIN + 77)  /* a valid HLC, early 2020 */
#define T_PREV (HLC_MIN + 5)

static void
build_hlc(struct ts_buf *b, uint64_t seq, const uint8_t prev[32], uint64_t hlc,
	  uint64_t col_prev)
{
	msgpack_packer pk;

	txn_packer(&pk, b);
	msgpack_pack_array(&pk, 9);
	msgpack_pack_uint8(&pk, TXN_FMT);
	msgpack_pack_uint64(&pk, 0x1234567890abcdefULL & INT64_MAX);
	msgpack_pack_str_with_body(&pk, "gangzha/qinzao", 14);
	msgpack_pack_uint64(&pk, seq);
	msgpack_pack_bin_with_body(&pk, prev, 32);
	msgpack_pack_uint64(&pk, hlc);
	msgpack_pack_uint32(&pk, 1);
	msgpack_pack_array(&pk, 1); /* tables */
	msgpack_pack_array(&pk, 2);
	msgpack_pack_str_with_body(&pk, "cases", 5);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_str_with_body(&pk, "title", 5);
	msgpack_pack_str_with_body(&pk, "amount", 6);
	msgpack_pack_array(&pk, 1); /* changes */
	msgpack_pack_array(&pk, 6);
	msgpack_pack_uint8(&pk, 0);
	msgpack_pack_str_with_body(&pk, "c1", 2);
	msgpack_pack_uint8(&pk, TXN_INSERT);
	msgpack_pack_uint64(&pk, 0);
	msgpack_pack_uint64(&pk, 0);
	msgpack_pack_array(&pk, 8);
	msgpack_pack_uint8(&pk, 0);
	msgpack_pack_str_with_body(&pk, "邻里纠纷", strlen("邻里纠纷"));
	msgpack_pack_uint64(&pk, 0);
	msgpack_pack_uint64(&pk, 0);
	msgpack_pack_uint8(&pk, 1);
	msgpack_pack_int64(&pk, -42);
	msgpack_pack_uint64(&pk, col_prev);
	msgpack_pack_uint64(&pk, 9);
}

static void
build(struct ts_buf *b, uint64_t seq, const uint8_t prev[32])
{
	build_hlc(b, seq, prev, T_HLC, T_PREV);
}

/*
 * Re-labels the subject key of a node certificate as `oid` (DER content
 * bytes of an OID under 1.3.101, the Ed25519 arc), keeping the 32 key
 * bytes, and signs it again with the CA key so that only the key is
 * wrong.  Returns the PEM in `pem` (OPENSSL_free), or 0 bytes on failure.
 */
static size_t
relabel_key(X509 *good, uint8_t oid, X509 *ca, EVP_PKEY *ca_key, char **pem)
{
	static const uint8_t ed25519[] = {0x06, 0x03, 0x2b, 0x65, 0x70};
	unsigned char *der = NULL, *p;
	const unsigned char *q;
	int len = i2d_X509(good, &der), seen = 0, i;
	size_t n = 0;
	X509 *c;

	*pem = NULL;
	/* The second occurrence is the SubjectPublicKeyInfo's (the first
	 * is the tbs signature algorithm, the third the outer one). */
	for (i = 0, p = der; len > 0 && i + 5 <= len; i++)
		if (memcmp(p + i, ed25519, 5) == 0 && ++seen == 2) {
			p[i + 4] = oid;
			break;
		}
	q = der;
	c = seen == 2 ? d2i_X509(NULL, &q, len) : NULL;
	OPENSSL_free(der);
	if (c == NULL)
		return 0;
	if (X509_sign(c, ca_key, NULL) > 0 && cert_check_issuer(c, ca) == 0)
		cert_to_pem(c, pem, &n);
	X509_free(c);
	return n;
}

/* A certificate whose key does not decode, or is not Ed25519, is
 * refused by cert_parse and by a node receiving it (no crash). */
static void
bad_cert_keys(void)
{
	static const uint8_t oids[] = {0x7f, 0x71, 0x6e}; /* ?, Ed448, X25519 */
	struct tsync_node *n = tn_node("certs", "gangzha/qinzao", "office",
				       NULL);
	struct cert_info ci;
	char path[400], err[128];
	EVP_PKEY *ca_key, *k;
	X509 *ca, *good, *c;
	size_t i;

	snprintf(path, sizeof(path), "%s/ca/ca.key", tn_root());
	ca_key = keys_load_private(path, err, sizeof(err));
	snprintf(path, sizeof(path), "%s/ca/ca.crt", tn_root());
	ca = cert_load(path, err, sizeof(err));
	CHECK(ca_key != NULL && ca != NULL);
	CHECK_EQ(keys_node_id(NULL), 0);
	CHECK_EQ(keys_generate(&k), 0);
	memset(&ci, 0, sizeof(ci));
	ci.node_id = keys_node_id(k);
	snprintf(ci.scope, sizeof(ci.scope), "gangzha/qinzao/x");
	snprintf(ci.role, sizeof(ci.role), "office");
	snprintf(ci.district, sizeof(ci.district), "gangzha");
	good = cert_make_node(k, &ci, ca, ca_key, 30, 77);
	CHECK(good != NULL);
	CHECK_EQ(cert_parse(good, &ci), 0);
	for (i = 0; good != NULL && i < sizeof(oids); i++) {
		char *pem;
		size_t len = relabel_key(good, oids[i], ca, ca_key, &pem);

		CHECK(len > 0);
		if (len == 0)
			continue;
		c = cert_from_pem(pem, len);
		CHECK(c != NULL);
		if (c != NULL)
			CHECK_EQ(cert_parse(c, &ci), TSYNC_ECORRUPT);
		X509_free(c);
		CHECK(certs_add_pem(n, pem, len) != 0);
		CHECK(strstr(tsync_node_errmsg(n), "not a tiersync node") !=
		      NULL);
		OPENSSL_free(pem);
	}
	/* The node still works and knows no such origin. */
	CHECK(certs_get(n, keys_node_id(k)) == NULL);
	CHECK_EQ(tn_sql(n, "INSERT INTO cases(id, scope) VALUES('k1',"
			   " 'gangzha/qinzao')"), 0);
	X509_free(good);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(k);
	tsync_node_close(n);
}

int
main(void)
{
	uint8_t zero[32] = {0}, sig[64];
	struct ts_buf b;
	struct txn t, t2;
	struct txn_change c;
	struct txn_col col;
	char err[128];
	EVP_PKEY *k, *other;
	size_t i;
	int bad = 0;

	ts_buf_init(&b, NULL, 0);
	build(&b, 1, zero);
	CHECK_EQ(txn_decode(&t, b.p, b.len, err, sizeof(err)), 0);
	CHECK_EQ(t.seq, 1);
	CHECK_EQ(t.hlc, T_HLC);
	CHECK_EQ(t.scope_len, 14);
	CHECK_EQ(t.nchanges, 1);
	txn_change_at(&t, 0, &c);
	CHECK_EQ(c.kind, TXN_INSERT);
	CHECK_EQ(c.ncols, 2);
	CHECK(c.table_len == 5 && memcmp(c.table, "cases", 5) == 0);
	txn_col_at(&c, 0, &col);
	CHECK(col.name_len == 5 && memcmp(col.name, "title", 5) == 0);
	CHECK_EQ(col.value->type, MSGPACK_OBJECT_STR);
	CHECK(memcmp(col.value->via.str.ptr, "邻里纠纷", col.value->via.str.size) == 0);
	txn_col_at(&c, 1, &col);
	CHECK(col.name_len == 6 && memcmp(col.name, "amount", 6) == 0);
	CHECK_EQ(col.value->via.i64, -42);
	CHECK_EQ(col.prev_hlc, T_PREV);
	CHECK_EQ(col.prev_origin, 9);

	/* Signatures: good with the right key, bad with another. */
	CHECK_EQ(keys_generate(&k), 0);
	CHECK_EQ(keys_generate(&other), 0);
	txn_sign(k, t.hash, sig);
	CHECK_EQ(txn_verify_sig(k, t.hash, sig), 0);
	CHECK(txn_verify_sig(other, t.hash, sig) != 0);
	sig[3] ^= 1;
	CHECK(txn_verify_sig(k, t.hash, sig) != 0);

	/* Chain: the next txn carries this one's hash; any flipped byte
	 * changes the hash or makes the body undecodable. */
	{
		struct ts_buf b2;
		uint8_t h1[32];

		memcpy(h1, t.hash, 32);
		ts_buf_init(&b2, NULL, 0);
		build(&b2, 2, h1);
		CHECK_EQ(txn_decode(&t2, b2.p, b2.len, err, sizeof(err)), 0);
		CHECK(memcmp(t2.prev, h1, 32) == 0);
		txn_done(&t2);
		ts_buf_free(&b2);
	}
	for (i = 0; i < b.len; i++) {
		uint8_t h[32];

		b.p[i] ^= 0x40;
		if (txn_decode(&t2, b.p, b.len, err, sizeof(err)) == 0) {
			keys_sha256(b.p, b.len, h);
			if (memcmp(h, t.hash, 32) == 0)
				bad++;
		}
		txn_done(&t2);
		b.p[i] ^= 0x40;
	}
	CHECK_EQ(bad, 0);

	/* Truncations and garbage are rejected, never crash. */
	for (i = 0; i < b.len; i++) {
		CHECK(txn_decode(&t2, b.p, i, err, sizeof(err)) != 0);
		txn_done(&t2);
	}
	CHECK(txn_decode(&t2, (const uint8_t *)"\x93\x01\x02\x03", 4, err,
			 sizeof(err)) != 0);
	txn_done(&t2);

	txn_done(&t);
	ts_buf_free(&b);
	EVP_PKEY_free(k);
	EVP_PKEY_free(other);

	/* HLCs outside 2020..2100 are malformed, at the top of the 64-bit
	 * range too; a prev version is 0 (never written) or in range. */
	{
		static const uint64_t outside[] = {0, 77, HLC_MIN - 1, HLC_MAX + 1,
					       1ULL << 63, UINT64_MAX};
		struct ts_buf b2;

		for (i = 0; i < sizeof(outside) / sizeof(outside[0]); i++) {
			ts_buf_init(&b2, NULL, 0);
			build_hlc(&b2, 1, zero, outside[i], T_PREV);
			CHECK_EQ(txn_decode(&t2, b2.p, b2.len, err,
					    sizeof(err)), TSYNC_ECORRUPT);
			CHECK(strstr(err, "valid range") != NULL);
			txn_done(&t2);
			ts_buf_free(&b2);
			if (outside[i] == 0)
				continue;
			ts_buf_init(&b2, NULL, 0);
			build_hlc(&b2, 1, zero, T_HLC, outside[i]);
			CHECK_EQ(txn_decode(&t2, b2.p, b2.len, err,
					    sizeof(err)), TSYNC_ECORRUPT);
			txn_done(&t2);
			ts_buf_free(&b2);
		}
		ts_buf_init(&b2, NULL, 0);
		build_hlc(&b2, 1, zero, HLC_MAX, 0);
		CHECK_EQ(txn_decode(&t2, b2.p, b2.len, err, sizeof(err)), 0);
		txn_done(&t2);
		ts_buf_free(&b2);
	}

	bad_cert_keys();
	tn_cleanup();
	return CHECK_DONE();
}
