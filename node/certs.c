/*
 * certs.c - known node certificates and a cache of their keys; see
 * certs.h.
 */
#include <stdlib.h>
#include <string.h>

#include "certs.h"
#include "node_int.h"
#include "revoke.h"

#define CACHE_SIZE 1024 /* entries; a district has a few hundred nodes */

static struct cert_entry *
cache_slot(struct tsync_node *n, uint64_t id)
{
	size_t i, h;

	if (n->certcache == NULL) {
		n->certcache = calloc(CACHE_SIZE, sizeof(struct cert_entry));
		if (n->certcache == NULL)
			return NULL;
	}
	h = (size_t)(id * 0x9e3779b97f4a7c15ULL >> 54) % CACHE_SIZE;
	for (i = 0; i < CACHE_SIZE; i++) {
		struct cert_entry *e = &n->certcache[(h + i) % CACHE_SIZE];

		if (e->node_id == id || e->node_id == 0)
			return e;
	}
	return NULL; /* full: callers fall back to no caching */
}

static int
load_pem(struct tsync_node *n, const void *pem, size_t len,
	 struct cert_entry *e)
{
	X509 *c = cert_from_pem(pem, len);
	int rc = TSYNC_EAUTH;

	if (c == NULL)
		return node_err(n, TSYNC_ECORRUPT, "certificate is not PEM");
	if (cert_check_issuer(c, n->ca) != 0)
		rc = node_err(n, TSYNC_EAUTH,
			      "certificate not signed by the district CA");
	else if (cert_parse(c, &e->info) != 0)
		rc = node_err(n, TSYNC_EAUTH,
			      "certificate is not a tiersync node certificate");
	else if ((e->key = X509_get_pubkey(c)) != NULL)
		rc = 0;
	e->node_id = rc == 0 ? e->info.node_id : 0;
	X509_free(c);
	return rc;
}

const struct cert_entry *
certs_get(struct tsync_node *n, uint64_t origin)
{
	struct cert_entry *e = cache_slot(n, origin);
	sqlite3_stmt *s;
	int rc;

	if (e != NULL && e->node_id == origin)
		return e;
	if (e == NULL)
		return NULL;
	if ((s = ts_store_stmt(n, ST_CERT_GET)) == NULL)
		return NULL;
	sqlite3_bind_int64(s, 1, (int64_t)origin);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		rc = load_pem(n, sqlite3_column_blob(s, 0),
			      (size_t)sqlite3_column_bytes(s, 0), e);
	else
		rc = node_err(n, TSYNC_ENOENT, "no certificate for origin");
	sqlite3_reset(s);
	if (rc != 0 || e->info.node_id != origin) {
		EVP_PKEY_free(e->key);
		memset(e, 0, sizeof(*e));
		return NULL;
	}
	e->revoked_at = crl_revoked_at(n, e->info.serial);
	return e;
}

int
certs_add_pem(struct tsync_node *n, const void *pem, size_t len)
{
	struct cert_entry tmp;
	sqlite3_stmt *s;
	int rc;

	memset(&tmp, 0, sizeof(tmp));
	if ((rc = load_pem(n, pem, len, &tmp)) != 0)
		return rc;
	EVP_PKEY_free(tmp.key);
	rc = sqlite3_prepare_v2(n->db,
				"INSERT OR IGNORE INTO ts_certs(node_id, scope,"
				" role, pem) VALUES(?1, ?2, ?3, ?4)",
				-1, &s, NULL);
	if (rc != SQLITE_OK)
		return node_sqlerr(n, rc, "store certificate");
	sqlite3_bind_int64(s, 1, (int64_t)tmp.info.node_id);
	sqlite3_bind_text(s, 2, tmp.info.scope, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, tmp.info.role, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, pem, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : node_sqlerr(n, rc, "store certificate");
}

int
certs_pem(struct tsync_node *n, uint64_t origin, char **pem, size_t *len)
{
	sqlite3_stmt *s = ts_store_stmt(n, ST_CERT_GET);
	int rc;

	*pem = NULL;
	if (s == NULL)
		return TSYNC_EIO;
	sqlite3_bind_int64(s, 1, (int64_t)origin);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*len = (size_t)sqlite3_column_bytes(s, 0);
		*pem = malloc(*len + 1);
		if (*pem != NULL)
			memcpy(*pem, sqlite3_column_blob(s, 0), *len);
		rc = *pem != NULL ? 0 : TSYNC_ENOMEM;
	} else {
		rc = TSYNC_ENOENT;
	}
	sqlite3_reset(s);
	return rc;
}

void
certs_free(struct tsync_node *n)
{
	size_t i;

	if (n->certcache == NULL)
		return;
	for (i = 0; i < CACHE_SIZE; i++)
		EVP_PKEY_free(n->certcache[i].key);
	free(n->certcache);
	n->certcache = NULL;
}
