/*
 * tls.h - mutual TLS 1.3 through memory BIOs (no sockets here).
 *
 * Both sides present a node certificate from the district CA; each checks
 * the other's against ca.crt.  Ciphertext goes in with ts_tls_feed() and
 * comes out with ts_tls_take(); plaintext with ts_tls_read() and ts_tls_write().
 * A peer without a valid certificate fails the handshake and never
 * reaches a session; the reason is kept for the log.
 *
 * Does not: move bytes (net.c) or speak the sync protocol.
 */
#ifndef TSYNC_TLS_H
#define TSYNC_TLS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "keys.h"

struct tsync_node;
/*
 * Builds the SSL_CTX of the node in `dir`; NULL with err on failure.  The
 * node (borrowed, must outlive the context) is asked whether a peer's
 * certificate was revoked.
 */
SSL_CTX *ts_tls_ctx_new(const char *dir, struct tsync_node *n, char *err,
		     size_t len);

struct ts_tls {
	SSL *ssl;
	BIO *rbio, *wbio;
	int done;              /* handshake complete */
	int failed;
	struct cert_info peer; /* valid once done */
	char why[256];         /* failure reason */
};

int ts_tls_init(struct ts_tls *t, SSL_CTX *ctx, int server);
void ts_tls_free(struct ts_tls *t);
/* Ciphertext from the network. */
int ts_tls_feed(struct ts_tls *t, const void *p, size_t n);
/*
 * Drives the handshake and reads plaintext into buf.  Returns bytes read,
 * 0 when nothing is available, or -1 on failure (t->why says why).
 */
int ts_tls_read(struct ts_tls *t, uint8_t *buf, size_t cap);
/* Plaintext to send; returns bytes taken (may be fewer) or -1. */
int ts_tls_write(struct ts_tls *t, const uint8_t *p, size_t n);
/* Ciphertext to send: bytes available in the write BIO. */
size_t ts_tls_pending(struct ts_tls *t);
size_t ts_tls_take(struct ts_tls *t, uint8_t *buf, size_t cap);

#endif
