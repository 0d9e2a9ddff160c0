/*
 * revoke.h - revocation: the district CA's certificate revocation list
 * (an X.509 CRL signed by the CA key), kept in the replica and passed on
 * to every peer (a CRL frame in each session and in each bundle), so a
 * revocation reaches every node the district can reach.
 *
 * Rules (docs/protocol.md, "Revocation"):
 *  - a list is installed only if the district CA signed it and its CRL
 *    number is higher than the one held;
 *  - a revoked node's TLS handshake is refused by every node that holds
 *    the list;
 *  - its txns whose HLC is at or after the revocation time are
 *    quarantined; those before are kept (they were valid when made).
 */
#ifndef TSYNC_REVOKE_H
#define TSYNC_REVOKE_H

#include <stddef.h>
#include <stdint.h>

struct tsync_node;

/* Verifies and installs a CRL if newer; *installed says whether it was. */
int crl_install(struct tsync_node *n, const void *pem, size_t len,
		int *installed, uint64_t *number);
/* The list held (malloc'd PEM), or TSYNC_ENOENT. */
int crl_pem(struct tsync_node *n, char **pem, size_t *len);
/* Revocation time (ms) of a certificate serial, or -1 if not revoked. */
int64_t crl_revoked_at(struct tsync_node *n, uint64_t serial);

#endif
