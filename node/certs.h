/*
 * certs.h - the certificates a replica knows, by node id.
 *
 * Node certificates replicate as data: they are stored in ts_certs and
 * travel with the txns of their origin (a CERT frame before the origin's
 * first batch), so any node can check any origin, even one it never met.
 * A certificate is accepted only if the district CA signed it.  Parsed
 * public keys are cached on the node (a small open-addressing table).
 *
 * Does not: decide visibility (replication/vis.c) or revocation (later).
 */
#ifndef TSYNC_CERTS_H
#define TSYNC_CERTS_H

#include <stdint.h>

#include "keys.h"

struct tsync_node;

struct cert_entry {
	uint64_t node_id;
	struct cert_info info;
	EVP_PKEY *key;
	int64_t revoked_at; /* ms, or -1 */
};

/* Finds the certificate of `origin`; NULL (with node error) if unknown. */
const struct cert_entry *certs_get(struct tsync_node *n, uint64_t origin);
/* Verifies a PEM certificate against the CA and stores it.  Returns 0, or
 * TSYNC_EAUTH with a message when the CA did not sign it. */
int certs_add_pem(struct tsync_node *n, const void *pem, size_t len);
/* PEM of `origin`'s certificate into *pem (malloc'd), or ENOENT. */
int certs_pem(struct tsync_node *n, uint64_t origin, char **pem,
	      size_t *len);
void certs_free(struct tsync_node *n);

#endif
