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
 *  - an entry may carry revocation positions (a CRL entry extension):
 *    for each stream of the revoked origin, the last seq the district
 *    accepts.  A txn beyond it is quarantined whatever its HLC; a stream
 *    the entry does not name is accepted up to seq 0;
 *  - an entry without positions (lists made before them) cuts by time:
 *    txns whose HLC is after the revocation time are quarantined;
 *  - txns held before a list arrived are not removed: `verify` reports
 *    those the list does not accept (crl_beyond).
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
/*
 * 1 if the entry of `serial` carries positions; *last is then the last seq
 * accepted of the stream `scope` (0 when the entry does not name it).
 * 0 if it carries none (or `serial` is not revoked).
 */
int crl_position(struct tsync_node *n, uint64_t serial, const char *scope,
		 size_t scope_len, uint64_t *last);
/* 1 if the list accepts txn `seq` (HLC `hlc`) of `ce`'s stream `scope`:
 * always for an origin not revoked. */
struct cert_entry;
int crl_accepts(struct tsync_node *n, const struct cert_entry *ce,
		const char *scope, size_t scope_len, uint64_t seq,
		uint64_t hlc);

/* What the list says of one held stream (crl_beyond). */
struct crl_cut {
	uint64_t list;  /* number of the list held */
	int by_seq;     /* 1: cut by position; 0: by time (older entries) */
	uint64_t last;  /* last seq accepted (by time: of those held) */
	uint64_t count; /* held txns the list does not accept, */
	uint64_t first, end; /* the first and last of them */
};
/* Judges the held txns of stream `sid` (origin, scope) against the list;
 * out->count is 0 when all are accepted or the origin is not revoked. */
int crl_beyond(struct tsync_node *n, uint64_t origin, const char *scope,
	       int64_t sid, struct crl_cut *out);

#endif
