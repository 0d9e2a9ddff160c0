/*
 * revoke.c - making, installing and querying the revocation list; see
 * revoke.h.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "node_int.h"
#include "revoke.h"

static X509_CRL *
crl_parse(const void *pem, size_t len)
{
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	X509_CRL *c = b ? PEM_read_bio_X509_CRL(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	ERR_clear_error();
	return c;
}

static uint64_t
crl_number(X509_CRL *c)
{
	ASN1_INTEGER *num = X509_CRL_get_ext_d2i(c, NID_crl_number, NULL, NULL);
	uint64_t v = 0;

	if (num != NULL)
		ASN1_INTEGER_get_uint64(&v, num);
	ASN1_INTEGER_free(num);
	return v;
}

static int64_t
asn1_ms(const ASN1_TIME *t)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm) * 1000;
}

static int
store_entries(struct tsync_node *n, X509_CRL *c, const void *pem, size_t len,
	      uint64_t number)
{
	STACK_OF(X509_REVOKED) *rev = X509_CRL_get_REVOKED(c);
	sqlite3_stmt *s = NULL;
	struct store_txn tx;
	char num[32];
	int i, rc;

	ts_fmt(num, sizeof(num), "%llu", (unsigned long long)number);
	if ((rc = store_txn_begin(n, &tx, "crl")) != 0)
		return rc;
	if ((rc = store_exec(n, "DELETE FROM ts_revoked")) != 0) {
		store_txn_rollback(n, &tx);
		return rc;
	}
	rc = sqlite3_prepare_v2(n->db,
				"INSERT OR REPLACE INTO ts_revoked(serial,"
				" revoked_at) VALUES(?1, ?2)",
				-1, &s, NULL);
	for (i = 0; rc == SQLITE_OK && i < sk_X509_REVOKED_num(rev); i++) {
		X509_REVOKED *r = sk_X509_REVOKED_value(rev, i);
		uint64_t serial = 0;

		ASN1_INTEGER_get_uint64(&serial,
					X509_REVOKED_get0_serialNumber(r));
		sqlite3_reset(s);
		sqlite3_bind_int64(s, 1, (int64_t)serial);
		/* The list says seconds: the revocation counts from the end
		 * of that second, never against a txn made before it. */
		sqlite3_bind_int64(s, 2,
				   asn1_ms(X509_REVOKED_get0_revocationDate(r)) +
					   999);
		rc = sqlite3_step(s) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
	}
	sqlite3_finalize(s);
	if (rc == SQLITE_OK) {
		sqlite3_stmt *m;

		rc = sqlite3_prepare_v2(n->db,
					"INSERT OR REPLACE INTO ts_meta(key,"
					" value) VALUES('crl', ?1),"
					" ('crl_number', ?2)",
					-1, &m, NULL);
		if (rc == SQLITE_OK) {
			sqlite3_bind_text(m, 1, pem, (int)len, SQLITE_STATIC);
			sqlite3_bind_text(m, 2, num, -1, SQLITE_STATIC);
			rc = sqlite3_step(m) == SQLITE_DONE ? SQLITE_OK
							    : SQLITE_ERROR;
			sqlite3_finalize(m);
		}
	}
	if (rc != SQLITE_OK) {
		rc = node_sqlerr(n, sqlite3_errcode(n->db), "install CRL");
		store_txn_rollback(n, &tx);
		return rc;
	}
	if ((rc = store_txn_commit(n, &tx)) != 0)
		return rc;
	certs_free(n); /* cached entries carry revocation times */
	return 0;
}

int
crl_install(struct tsync_node *n, const void *pem, size_t len,
	    int *installed, uint64_t *number)
{
	X509_CRL *c = crl_parse(pem, len);
	char have[32];
	uint64_t num, held = 0;
	int rc;

	*installed = 0;
	if (c == NULL)
		return node_err(n, TSYNC_ECORRUPT, "revocation list is not PEM");
	if (X509_CRL_verify(c, X509_get0_pubkey(n->ca)) != 1) {
		X509_CRL_free(c);
		ERR_clear_error();
		return node_err(n, TSYNC_EAUTH, "revocation list not signed by "
						"the district CA");
	}
	num = crl_number(c);
	if (store_meta_get(n, "crl_number", have, sizeof(have)) == 0)
		held = strtoull(have, NULL, 10);
	if (number != NULL)
		*number = num;
	rc = 0;
	if (num > held) {
		rc = store_entries(n, c, pem, len, num);
		*installed = rc == 0;
	}
	X509_CRL_free(c);
	return rc;
}

int
crl_pem(struct tsync_node *n, char **pem, size_t *len)
{
	sqlite3_stmt *s;
	int rc;

	*pem = NULL;
	rc = sqlite3_prepare_v2(n->db, "SELECT value FROM ts_meta WHERE"
				       " key = 'crl'", -1, &s, NULL);
	if (rc != SQLITE_OK)
		return node_sqlerr(n, rc, "read CRL");
	rc = TSYNC_ENOENT;
	if (sqlite3_step(s) == SQLITE_ROW) {
		*len = (size_t)sqlite3_column_bytes(s, 0);
		*pem = malloc(*len + 1);
		if (*pem != NULL) {
			memcpy(*pem, sqlite3_column_blob(s, 0), *len);
			rc = 0;
		} else {
			rc = TSYNC_ENOMEM;
		}
	}
	sqlite3_finalize(s);
	return rc;
}

int64_t
crl_revoked_at(struct tsync_node *n, uint64_t serial)
{
	sqlite3_stmt *s;
	int64_t at = -1;

	if (sqlite3_prepare_v2(n->db, "SELECT revoked_at FROM ts_revoked"
				      " WHERE serial = ?1", -1, &s,
			       NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(s, 1, (int64_t)serial);
	if (sqlite3_step(s) == SQLITE_ROW)
		at = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return at;
}

/* ---- the CA side ------------------------------------------------------ */

static X509 *
find_cert(const char *ca_dir, const char *what, char *err, size_t len)
{
	char path[PATH_MAX];

	if (strlen(what) == 16 && strspn(what, "0123456789abcdef") == 16) {
		ts_fmt(path, sizeof(path), "%s/issued/%s.crt", ca_dir, what);
		return cert_load(path, err, len);
	}
	return cert_load(what, err, len);
}

static X509_CRL *
crl_load_or_new(const char *path, X509 *ca)
{
	FILE *f = fopen(path, "r");
	X509_CRL *c = NULL;

	if (f != NULL) {
		c = PEM_read_X509_CRL(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (c == NULL && (c = X509_CRL_new()) != NULL) {
		X509_CRL_set_version(c, 1);
		X509_CRL_set_issuer_name(c, X509_get_subject_name(ca));
	}
	return c;
}

int
tsync_ca_revoke(const char *ca_dir, const char *cert, const char *node_dir,
		char *err, size_t errlen)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	EVP_PKEY *key = NULL;
	X509 *ca = NULL, *victim = NULL;
	X509_CRL *crl = NULL;
	X509_REVOKED *r = NULL;
	ASN1_TIME *now = NULL, *next = NULL;
	ASN1_INTEGER *num = NULL;
	FILE *f;
	uint64_t number;
	int rc = TSYNC_EIO;

	ts_fmt(path, sizeof(path), "%s/ca.key", ca_dir);
	if ((key = keys_load_private(path, err, errlen)) == NULL)
		goto out;
	ts_fmt(path, sizeof(path), "%s/ca.crt", ca_dir);
	if ((ca = cert_load(path, err, errlen)) == NULL)
		goto out;
	if ((victim = find_cert(ca_dir, cert, err, errlen)) == NULL)
		goto out;
	if (cert_check_issuer(victim, ca) != 0) {
		ts_fmt(err, errlen, "%s was not issued by this CA", cert);
		rc = TSYNC_EINVAL;
		goto out;
	}
	ts_fmt(path, sizeof(path), "%s/crl.pem", ca_dir);
	crl = crl_load_or_new(path, ca);
	number = crl != NULL ? crl_number(crl) + 1 : 1;
	now = X509_gmtime_adj(NULL, 0);
	next = X509_gmtime_adj(NULL, 365L * 86400L);
	num = ASN1_INTEGER_new();
	r = X509_REVOKED_new();
	if (crl == NULL || now == NULL || next == NULL || num == NULL ||
	    r == NULL || !ASN1_INTEGER_set_uint64(num, number) ||
	    !X509_REVOKED_set_serialNumber(r, X509_get_serialNumber(victim)) ||
	    !X509_REVOKED_set_revocationDate(r, now) ||
	    !X509_CRL_add0_revoked(crl, r)) {
		ts_fmt(err, errlen, "cannot build the revocation list");
		goto out;
	}
	r = NULL; /* the CRL owns it */
	if (!X509_CRL_set1_lastUpdate(crl, now) ||
	    !X509_CRL_set1_nextUpdate(crl, next) ||
	    !X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0,
				   X509V3_ADD_REPLACE) ||
	    !X509_CRL_sort(crl) || X509_CRL_sign(crl, key, NULL) <= 0) {
		ts_fmt(err, errlen, "cannot sign the revocation list");
		goto out;
	}
	ts_fmt(tmp, sizeof(tmp), "%s/crl.pem.tmp", ca_dir);
	if ((f = fopen(tmp, "w")) == NULL ||
	    !PEM_write_X509_CRL(f, crl) || fclose(f) != 0 ||
	    rename(tmp, path) != 0) {
		ts_fmt(err, errlen, "cannot write %s: %s", path,
		       strerror(errno));
		goto out;
	}
	rc = 0;
	if (node_dir != NULL) {
		struct tsync_node *n = NULL;
		char *pem = NULL;
		size_t len = 0;
		int installed;

		f = fopen(path, "r");
		if (f != NULL) {
			pem = malloc(1 << 20);
			len = pem ? fread(pem, 1, 1 << 20, f) : 0;
			fclose(f);
		}
		if (tsync_node_open(node_dir, NULL, &n) != 0 || pem == NULL ||
		    crl_install(n, pem, len, &installed, NULL) != 0) {
			ts_fmt(err, errlen, "list written to %s, but not "
					    "installed in %s: %s",
			       path, node_dir, tsync_node_errmsg(n));
			rc = TSYNC_EIO;
		}
		free(pem);
		tsync_node_close(n);
	}
out:
	X509_REVOKED_free(r);
	ASN1_INTEGER_free(num);
	ASN1_TIME_free(now);
	ASN1_TIME_free(next);
	X509_CRL_free(crl);
	X509_free(victim);
	X509_free(ca);
	EVP_PKEY_free(key);
	ERR_clear_error();
	return rc;
}
