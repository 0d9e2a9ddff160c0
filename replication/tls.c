/*
 * tls.c - TLS 1.3 engine over memory BIOs; see tls.h.
 */
#include "tls.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "revoke.h"
#include "tiersync/tiersync.h"
#include "util.h"

/* Chain checks are OpenSSL's; revocation is the replica's list. */
static int
on_verify(int ok, X509_STORE_CTX *x)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(
		x, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct tsync_node *n =
		ssl ? SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)) : NULL;
	X509 *c = X509_STORE_CTX_get_current_cert(x);
	uint64_t serial = 0;

	if (!ok || n == NULL || c == NULL || X509_STORE_CTX_get_error_depth(x))
		return ok;
	ASN1_INTEGER_get_uint64(&serial, X509_get0_serialNumber(c));
	if (crl_revoked_at(n, serial) >= 0) {
		X509_STORE_CTX_set_error(x, X509_V_ERR_CERT_REVOKED);
		return 0;
	}
	return 1;
}

SSL_CTX *
ts_tls_ctx_new(const char *dir, struct tsync_node *n, char *err, size_t len)
{
	char path[PATH_MAX];
	SSL_CTX *ctx = SSL_CTX_new(TLS_method());

	if (ctx == NULL) {
		ts_fmt(err, len, "cannot create a TLS context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_app_data(ctx, n);
	SSL_CTX_set_verify(ctx,
			   SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
			   on_verify);
	SSL_CTX_set_verify_depth(ctx, 1);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	ts_fmt(path, sizeof(path), "%s/ca.crt", dir);
	if (SSL_CTX_load_verify_locations(ctx, path, NULL) != 1) {
		ts_fmt(err, len, "cannot load %s", path);
		goto fail;
	}
	ts_fmt(path, sizeof(path), "%s/node.crt", dir);
	if (SSL_CTX_use_certificate_file(ctx, path, SSL_FILETYPE_PEM) != 1) {
		ts_fmt(err, len, "cannot load %s", path);
		goto fail;
	}
	ts_fmt(path, sizeof(path), "%s/node.key", dir);
	if (SSL_CTX_use_PrivateKey_file(ctx, path, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		ts_fmt(err, len, "cannot load %s or it does not match "
				 "node.crt", path);
		goto fail;
	}
	return ctx;
fail:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}

int
ts_tls_init(struct ts_tls *t, SSL_CTX *ctx, int server)
{
	memset(t, 0, sizeof(*t));
	t->ssl = SSL_new(ctx);
	t->rbio = BIO_new(BIO_s_mem());
	t->wbio = BIO_new(BIO_s_mem());
	if (t->ssl == NULL || t->rbio == NULL || t->wbio == NULL) {
		SSL_free(t->ssl);
		BIO_free(t->rbio);
		BIO_free(t->wbio);
		memset(t, 0, sizeof(*t));
		return TSYNC_ENOMEM;
	}
	BIO_set_mem_eof_return(t->rbio, -1);
	SSL_set_bio(t->ssl, t->rbio, t->wbio); /* the SSL owns both */
	if (server)
		SSL_set_accept_state(t->ssl);
	else
		SSL_set_connect_state(t->ssl);
	return 0;
}

void
ts_tls_free(struct ts_tls *t)
{
	SSL_free(t->ssl);
	memset(t, 0, sizeof(*t));
}

int
ts_tls_feed(struct ts_tls *t, const void *p, size_t n)
{
	return BIO_write(t->rbio, p, (int)n) == (int)n ? 0 : TSYNC_ENOMEM;
}

/* Words an administrator can act on, for the common refusals. */
static const char *
verify_words(long vr)
{
	switch (vr) {
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
		return "not signed by this district's CA (a certificate from "
		       "another CA)";
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return "expired: issue a new one with `tiersync ca issue`";
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return "not yet valid (check the clock)";
	case X509_V_ERR_CERT_REVOKED:
		return "revoked by the district";
	default:
		return NULL;
	}
}

static int
set_failure(struct ts_tls *t, int ret)
{
	long vr = SSL_get_verify_result(t->ssl);
	unsigned long e = ERR_peek_error();
	char buf[200];

	t->failed = 1;
	if (vr != X509_V_OK && verify_words(vr) != NULL)
		ts_fmt(t->why, sizeof(t->why), "peer certificate refused: %s",
		       verify_words(vr));
	else if (vr != X509_V_OK)
		ts_fmt(t->why, sizeof(t->why), "peer certificate refused: %s",
		       X509_verify_cert_error_string(vr));
	else if (ERR_GET_REASON(e) == SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED)
		ts_fmt(t->why, sizeof(t->why),
		       "the peer refused our certificate: it was revoked by "
		       "the district");
	else if (ERR_GET_REASON(e) == SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED)
		ts_fmt(t->why, sizeof(t->why),
		       "the peer refused our certificate: it has expired");
	else if (ERR_GET_REASON(e) == SSL_R_TLSV1_ALERT_UNKNOWN_CA ||
		 ERR_GET_REASON(e) == SSL_R_TLSV1_ALERT_DECRYPT_ERROR)
		ts_fmt(t->why, sizeof(t->why),
		       "the peer refused our certificate: not from its "
		       "district CA");
	else if (ERR_GET_REASON(e) == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE)
		ts_fmt(t->why, sizeof(t->why),
		       "peer sent no certificate (every node needs one from "
		       "the district CA)");
	else if (e != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		ts_fmt(t->why, sizeof(t->why), "TLS failed: %s", buf);
	} else {
		ts_fmt(t->why, sizeof(t->why), "TLS failed (code %d)",
		       SSL_get_error(t->ssl, ret));
	}
	ERR_clear_error();
	return -1;
}

/* Checks the verified peer certificate is a tiersync node's. */
static int
take_peer(struct ts_tls *t)
{
	X509 *c = SSL_get0_peer_certificate(t->ssl);

	if (c == NULL) {
		t->failed = 1;
		ts_fmt(t->why, sizeof(t->why), "peer sent no certificate");
		return -1;
	}
	if (cert_parse(c, &t->peer) != 0) {
		t->failed = 1;
		ts_fmt(t->why, sizeof(t->why),
		       "peer certificate is not a tiersync node certificate");
		return -1;
	}
	t->done = 1;
	return 0;
}

int
ts_tls_read(struct ts_tls *t, uint8_t *buf, size_t cap)
{
	int r;

	if (t->failed)
		return -1;
	if (!t->done) {
		r = SSL_do_handshake(t->ssl);
		if (r != 1) {
			int e = SSL_get_error(t->ssl, r);

			if (e == SSL_ERROR_WANT_READ ||
			    e == SSL_ERROR_WANT_WRITE)
				return 0;
			return set_failure(t, r);
		}
		if (take_peer(t) != 0)
			return -1;
	}
	r = SSL_read(t->ssl, buf, (int)(cap > INT_MAX ? INT_MAX : cap));
	if (r > 0)
		return r;
	switch (SSL_get_error(t->ssl, r)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return 0;
	case SSL_ERROR_ZERO_RETURN:
		t->failed = 1;
		ts_fmt(t->why, sizeof(t->why), "peer closed TLS");
		return -1;
	default:
		return set_failure(t, r);
	}
}

int
ts_tls_write(struct ts_tls *t, const uint8_t *p, size_t n)
{
	int r;

	if (t->failed)
		return -1;
	if (!t->done || n == 0)
		return 0;
	r = SSL_write(t->ssl, p, (int)(n > (1u << 20) ? (1u << 20) : n));
	if (r > 0)
		return r;
	switch (SSL_get_error(t->ssl, r)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return 0;
	default:
		return set_failure(t, r);
	}
}

size_t
ts_tls_pending(struct ts_tls *t)
{
	return t->wbio ? (size_t)BIO_ctrl_pending(t->wbio) : 0;
}

size_t
ts_tls_take(struct ts_tls *t, uint8_t *buf, size_t cap)
{
	int r = BIO_read(t->wbio, buf, (int)(cap > INT_MAX ? INT_MAX : cap));

	return r > 0 ? (size_t)r : 0;
}
