/*
 * tls.h - mutual TLS 1.3 through memory BIOs (no sockets here).
 *
 * Both sides present a node certificate from the district CA; each checks
 * the other's against ca.crt.  Ciphertext goes in with tls_feed() and
 * comes out with tls_take(); plaintext with tls_read() and tls_write().
 * A peer without a valid certificate fails the handshake and never
 * reaches a session; the reason is kept for the log.
 *
 * Does not: move bytes (conn_uv.c) or speak the sync protocol.
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
SSL_CTX *tls_ctx_new(const char *dir, struct tsync_node *n, char *err,
		     size_t len);

struct tls {
	SSL *ssl;
	BIO *rbio, *wbio;
	int done;              /* handshake complete */
	int failed;
	struct cert_info peer; /* valid once done */
	char why[256];         /* failure reason */
};

int tls_init(struct tls *t, SSL_CTX *ctx, int server);
void tls_free(struct tls *t);
/* Ciphertext from the network. */
int tls_feed(struct tls *t, const void *p, size_t n);
/*
 * Drives the handshake and reads plaintext into buf.  Returns bytes read,
 * 0 when nothing is available, or -1 on failure (t->why says why).
 */
int tls_read(struct tls *t, uint8_t *buf, size_t cap);
/* Plaintext to send; returns bytes taken (may be fewer) or -1. */
int tls_write(struct tls *t, const uint8_t *p, size_t n);
/* Ciphertext to send: bytes available in the write BIO. */
size_t tls_pending(struct tls *t);
size_t tls_take(struct tls *t, uint8_t *buf, size_t cap);

#endif
