/*
 * keys.c - Ed25519 keys, signatures and X.509 certificates via OpenSSL 3.
 * See keys.h for the certificate layout.
 */
#include "keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "tiersync/tiersync.h"
#include "util.h"

int
keys_generate(EVP_PKEY **out)
{
	*out = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	return *out == NULL ? TSYNC_ENOMEM : 0;
}

int
keys_save_private(EVP_PKEY *k, const char *path, char *err, size_t len)
{
	int fd;
	FILE *f;
	int ok;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0) {
		ts_fmt(err, len, "cannot create %s: %s", path, strerror(errno));
		return errno == EEXIST ? TSYNC_EEXIST : TSYNC_EIO;
	}
	f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		ts_fmt(err, len, "cannot open %s: %s", path, strerror(errno));
		return TSYNC_EIO;
	}
	ok = PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		ok = 0;
	if (fclose(f) != 0)
		ok = 0;
	if (!ok) {
		ts_fmt(err, len, "cannot write %s", path);
		unlink(path);
		return TSYNC_EIO;
	}
	return 0;
}

static EVP_PKEY *
load_private(const char *path, int type, const char *what, char *err,
	     size_t len)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k;
	struct stat st;

	if (f == NULL) {
		ts_fmt(err, len, "cannot open key %s: %s", path,
		       strerror(errno));
		return NULL;
	}
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077) != 0) {
		fclose(f);
		ts_fmt(err, len,
		       "key %s is readable by others (mode %03o); "
		       "run: chmod 600 %s",
		       path, (unsigned)(st.st_mode & 0777), path);
		return NULL;
	}
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	ERR_clear_error();
	if (k == NULL || EVP_PKEY_get_id(k) != type) {
		EVP_PKEY_free(k);
		ts_fmt(err, len, "%s is not an %s private key", path, what);
		return NULL;
	}
	return k;
}

EVP_PKEY *
keys_load_private(const char *path, char *err, size_t len)
{
	return load_private(path, EVP_PKEY_ED25519, "Ed25519", err, len);
}

int
keys_enc_generate(EVP_PKEY **out)
{
	*out = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	return *out == NULL ? TSYNC_ENOMEM : 0;
}

EVP_PKEY *
keys_enc_load_private(const char *path, char *err, size_t len)
{
	return load_private(path, EVP_PKEY_X25519, "X25519", err, len);
}

int
keys_enc_public(EVP_PKEY *k, uint8_t out[KEYS_ENC_LEN])
{
	size_t n = KEYS_ENC_LEN;

	if (k == NULL || EVP_PKEY_get_id(k) != EVP_PKEY_X25519 ||
	    EVP_PKEY_get_raw_public_key(k, out, &n) != 1 ||
	    n != KEYS_ENC_LEN) {
		ERR_clear_error();
		return TSYNC_EINVAL;
	}
	return 0;
}

int
keys_enc_shared(EVP_PKEY *k, const uint8_t peer[KEYS_ENC_LEN],
		uint8_t out[KEYS_ENC_LEN])
{
	EVP_PKEY *pk;
	EVP_PKEY_CTX *ctx;
	size_t n = KEYS_ENC_LEN;
	int ok;

	pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer,
					 KEYS_ENC_LEN);
	ctx = pk != NULL ? EVP_PKEY_CTX_new(k, NULL) : NULL;
	/* OpenSSL refuses a low-order point (an all-zero secret). */
	ok = ctx != NULL && EVP_PKEY_derive_init(ctx) == 1 &&
	     EVP_PKEY_derive_set_peer(ctx, pk) == 1 &&
	     EVP_PKEY_derive(ctx, out, &n) == 1 && n == KEYS_ENC_LEN;
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pk);
	ERR_clear_error();
	return ok ? 0 : TSYNC_EAUTH;
}

void
keys_sha256(const void *p, size_t n, uint8_t out[KEYS_HASH_LEN])
{
	SHA256(p, n, out);
}

uint64_t
keys_node_id(EVP_PKEY *k)
{
	uint8_t raw[32], h[32];
	size_t n = sizeof(raw);

	/* A certificate whose key did not decode has no key at all. */
	if (k == NULL || EVP_PKEY_get_id(k) != EVP_PKEY_ED25519 ||
	    EVP_PKEY_get_raw_public_key(k, raw, &n) != 1 || n != sizeof(raw)) {
		ERR_clear_error();
		return 0;
	}
	keys_sha256(raw, n, h);
	/* 63 bits, so ids order the same as SQLite's signed integers. */
	return be64_get(h) & 0x7fffffffffffffffULL;
}

int
keys_sign(EVP_PKEY *k, const uint8_t *msg, size_t n, uint8_t sig[KEYS_SIG_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t siglen = KEYS_SIG_LEN;
	int ok;

	if (ctx == NULL)
		return TSYNC_ENOMEM;
	ok = EVP_DigestSignInit(ctx, NULL, NULL, NULL, k) == 1 &&
	     EVP_DigestSign(ctx, sig, &siglen, msg, n) == 1;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : TSYNC_EAUTH;
}

int
keys_verify(EVP_PKEY *k, const uint8_t *msg, size_t n,
	    const uint8_t sig[KEYS_SIG_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok;

	if (ctx == NULL)
		return TSYNC_ENOMEM;
	ok = EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k) == 1 &&
	     EVP_DigestVerify(ctx, sig, KEYS_SIG_LEN, msg, n) == 1;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return ok ? 0 : TSYNC_EAUTH;
}

X509 *
cert_load(const char *path, char *err, size_t len)
{
	FILE *f = fopen(path, "r");
	X509 *c;

	if (f == NULL) {
		ts_fmt(err, len, "cannot open certificate %s: %s", path,
		       strerror(errno));
		return NULL;
	}
	c = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (c == NULL)
		ts_fmt(err, len, "%s is not a PEM certificate", path);
	return c;
}

X509 *
cert_from_pem(const void *pem, size_t n)
{
	BIO *b = BIO_new_mem_buf(pem, (int)n);
	X509 *c;

	if (b == NULL)
		return NULL;
	c = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	ERR_clear_error();
	return c;
}

int
cert_to_pem(X509 *c, char **pem, size_t *n)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long len;

	if (b == NULL || !PEM_write_bio_X509(b, c)) {
		BIO_free(b);
		return TSYNC_ENOMEM;
	}
	len = BIO_get_mem_data(b, &p);
	*pem = OPENSSL_malloc((size_t)len + 1);
	if (*pem == NULL) {
		BIO_free(b);
		return TSYNC_ENOMEM;
	}
	memcpy(*pem, p, (size_t)len);
	(*pem)[len] = '\0';
	*n = (size_t)len;
	BIO_free(b);
	return 0;
}

int
cert_save(X509 *c, const char *path, char *err, size_t len)
{
	FILE *f = fopen(path, "wx");
	int ok;

	if (f == NULL) {
		ts_fmt(err, len, "cannot create %s: %s", path, strerror(errno));
		return errno == EEXIST ? TSYNC_EEXIST : TSYNC_EIO;
	}
	ok = PEM_write_X509(f, c);
	if (fclose(f) != 0)
		ok = 0;
	if (!ok) {
		ts_fmt(err, len, "cannot write %s", path);
		return TSYNC_EIO;
	}
	return 0;
}

static int
name_get(X509_NAME *nm, int nid, char *out, size_t len)
{
	int n = X509_NAME_get_text_by_NID(nm, nid, out, (int)len);

	if (n < 0) {
		out[0] = '\0';
		return TSYNC_ECORRUPT;
	}
	return 0;
}

static int64_t
asn1_time_unix(const ASN1_TIME *t)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm);
}

/*
 * The encryption key extension, if present and well formed.  It is not
 * critical: a certificate whose extension does not decode is still a node
 * certificate, one that cannot receive sealed bundles.
 */
static void
enc_get(X509 *c, struct cert_info *out)
{
	ASN1_OBJECT *oid = OBJ_txt2obj(KEYS_ENC_OID, 1);
	const ASN1_OCTET_STRING *v;
	const unsigned char *p;
	EVP_PKEY *k = NULL;
	int i;

	i = oid != NULL ? X509_get_ext_by_OBJ(c, oid, -1) : -1;
	ASN1_OBJECT_free(oid);
	if (i < 0)
		goto out;
	v = X509_EXTENSION_get_data(X509_get_ext(c, i));
	p = ASN1_STRING_get0_data(v);
	k = d2i_PUBKEY(NULL, &p, ASN1_STRING_length(v));
	if (k != NULL && p == ASN1_STRING_get0_data(v) + ASN1_STRING_length(v) &&
	    keys_enc_public(k, out->enc_pub) == 0)
		out->has_enc = 1;
out:
	EVP_PKEY_free(k);
	ERR_clear_error();
}

static int
enc_add(X509 *c, const uint8_t pub[KEYS_ENC_LEN])
{
	EVP_PKEY *k = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pub,
						  KEYS_ENC_LEN);
	ASN1_OBJECT *oid = OBJ_txt2obj(KEYS_ENC_OID, 1);
	ASN1_OCTET_STRING *v = ASN1_OCTET_STRING_new();
	unsigned char *der = NULL;
	int n = k != NULL ? i2d_PUBKEY(k, &der) : -1;
	int ok = n > 0 && oid != NULL && v != NULL &&
		 ASN1_OCTET_STRING_set(v, der, n) == 1;

	if (ok) {
		X509_EXTENSION *ex =
		    X509_EXTENSION_create_by_OBJ(NULL, oid, 0, v);

		ok = ex != NULL && X509_add_ext(c, ex, -1) == 1;
		X509_EXTENSION_free(ex);
	}
	OPENSSL_free(der);
	ASN1_OCTET_STRING_free(v);
	ASN1_OBJECT_free(oid);
	EVP_PKEY_free(k);
	return ok;
}

int
cert_parse(X509 *c, struct cert_info *out)
{
	X509_NAME *nm = X509_get_subject_name(c);
	EVP_PKEY *key;
	char cn[64];

	memset(out, 0, sizeof(*out));
	if (nm == NULL || name_get(nm, NID_commonName, cn, sizeof(cn)) != 0 ||
	    id_parse(cn, &out->node_id) != 0 ||
	    name_get(nm, NID_organizationName, out->district,
		     sizeof(out->district)) != 0 ||
	    name_get(nm, NID_organizationalUnitName, out->scope,
		     sizeof(out->scope)) != 0 ||
	    name_get(nm, NID_title, out->role, sizeof(out->role)) != 0)
		return TSYNC_ECORRUPT;
	ASN1_INTEGER_get_uint64(&out->serial, X509_get0_serialNumber(c));
	out->not_before = asn1_time_unix(X509_get0_notBefore(c));
	out->not_after = asn1_time_unix(X509_get0_notAfter(c));
	/* The CN must be the id of the key the certificate carries, and
	 * that key an Ed25519 key: one that does not decode (unknown
	 * algorithm, garbled bits) gives no key and no id. */
	key = X509_get0_pubkey(c);
	ERR_clear_error();
	if (key == NULL || EVP_PKEY_get_id(key) != EVP_PKEY_ED25519)
		return TSYNC_ECORRUPT;
	if (keys_node_id(key) != out->node_id)
		return TSYNC_EAUTH;
	enc_get(c, out);
	return 0;
}

int
cert_check_issuer(X509 *c, X509 *ca)
{
	EVP_PKEY *pub = X509_get0_pubkey(ca);
	int ok = pub != NULL && X509_verify(c, pub) == 1;

	ERR_clear_error();
	return ok ? 0 : TSYNC_EAUTH;
}

static int
name_add(X509_NAME *nm, int nid, const char *v)
{
	return X509_NAME_add_entry_by_NID(nm, nid, MBSTRING_UTF8,
					  (const unsigned char *)v, -1, -1, 0);
}

static int
add_ext(X509 *c, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ex;
	int ok;

	X509V3_set_ctx(&ctx, issuer, c, NULL, NULL, 0);
	ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ex == NULL)
		return 0;
	ok = X509_add_ext(c, ex, -1);
	X509_EXTENSION_free(ex);
	return ok;
}

static X509 *
cert_new(EVP_PKEY *pub, X509_NAME *subject, int days, uint64_t serial)
{
	X509 *c = X509_new();

	if (c == NULL)
		return NULL;
	if (!X509_set_version(c, 2) ||
	    !ASN1_INTEGER_set_uint64(X509_get_serialNumber(c), serial) ||
	    !X509_gmtime_adj(X509_getm_notBefore(c), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(c), (long)days * 86400L) ||
	    !X509_set_subject_name(c, subject) || !X509_set_pubkey(c, pub)) {
		X509_free(c);
		return NULL;
	}
	return c;
}

X509 *
cert_make_ca(EVP_PKEY *key, const char *district, int days)
{
	X509_NAME *nm = X509_NAME_new();
	X509 *c = NULL;
	char cn[128];

	ts_fmt(cn, sizeof(cn), "tiersync CA %s", district);
	if (nm != NULL && name_add(nm, NID_commonName, cn) &&
	    name_add(nm, NID_organizationName, district))
		c = cert_new(key, nm, days, 1);
	X509_NAME_free(nm);
	if (c == NULL)
		return NULL;
	if (!X509_set_issuer_name(c, X509_get_subject_name(c)) ||
	    !add_ext(c, c, NID_basic_constraints, "critical,CA:TRUE") ||
	    !add_ext(c, c, NID_key_usage, "critical,keyCertSign,cRLSign") ||
	    !add_ext(c, c, NID_subject_key_identifier, "hash") ||
	    X509_sign(c, key, NULL) <= 0) {
		X509_free(c);
		return NULL;
	}
	return c;
}

X509 *
cert_make_node(EVP_PKEY *pub, const struct cert_info *ci, X509 *ca,
	       EVP_PKEY *ca_key, int days, uint64_t serial)
{
	X509_NAME *nm = X509_NAME_new();
	X509 *c = NULL;
	char cn[17];

	id_format(ci->node_id, cn);
	if (nm != NULL && name_add(nm, NID_commonName, cn) &&
	    name_add(nm, NID_organizationName, ci->district) &&
	    name_add(nm, NID_organizationalUnitName, ci->scope) &&
	    name_add(nm, NID_title, ci->role))
		c = cert_new(pub, nm, days, serial);
	X509_NAME_free(nm);
	if (c == NULL)
		return NULL;
	if (!X509_set_issuer_name(c, X509_get_subject_name(ca)) ||
	    !add_ext(c, ca, NID_basic_constraints, "critical,CA:FALSE") ||
	    !add_ext(c, ca, NID_key_usage, "critical,digitalSignature") ||
	    !add_ext(c, ca, NID_ext_key_usage, "serverAuth,clientAuth") ||
	    (ci->has_enc && !enc_add(c, ci->enc_pub)) ||
	    X509_sign(c, ca_key, NULL) <= 0) {
		X509_free(c);
		return NULL;
	}
	return c;
}
