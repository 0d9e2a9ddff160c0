/*
 * digest.c - one digest of the visible replicated state.
 *
 * SHA-256 over, for each replicated table in name order and each live row
 * in id order (bytewise), the msgpack array [table, id, scope, values of
 * the declared columns in declaration order].  Versions and the log are
 * not included: two replicas that show the same rows have the same digest.
 */
#include <string.h>

#include <openssl/evp.h>

#include "node_int.h"
#include "scope.h"
#include "txn.h"

static int
digest_table(struct tsync_node *n, const struct tbl *t, const char *scope,
	     EVP_MD_CTX *md, struct ts_buf *row)
{
	char sql[4096];
	size_t len;
	sqlite3_stmt *s;
	msgpack_packer pk;
	int i, rc;

	len = (size_t)snprintf(sql, sizeof(sql), "SELECT id, scope");
	for (i = 2; i < t->ncol && len < sizeof(sql); i++)
		len += (size_t)snprintf(sql + len, sizeof(sql) - len,
					", \"%s\"", t->cols[i]);
	if (len < sizeof(sql))
		len += (size_t)snprintf(sql + len, sizeof(sql) - len,
					" FROM \"%s\"%s ORDER BY id", t->name,
					scope ? " WHERE scope = ?1 OR"
						" substr(scope, 1, length(?1)"
						" + 1) = ?1 || '/'"
					      : "");
	if (len >= sizeof(sql))
		return node_err(n, TSYNC_EINVAL, "table %s too wide", t->name);
	rc = sqlite3_prepare_v2(n->db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return node_sqlerr(n, rc, "digest");
	if (scope != NULL)
		sqlite3_bind_text(s, 1, scope, -1, SQLITE_STATIC);
	txn_packer(&pk, row);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		row->len = 0;
		msgpack_pack_array(&pk, (size_t)t->ncol + 1);
		msgpack_pack_str_with_body(&pk, t->name, strlen(t->name));
		for (i = 0; i < t->ncol; i++)
			txn_pack_value(&pk, sqlite3_column_value(s, i));
		EVP_DigestUpdate(md, row->p, row->len);
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : node_sqlerr(n, rc, "digest");
}

int
tsync_node_digest(struct tsync_node *n, const char *scope, char hex[65])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t h[32];
	unsigned hl = sizeof(h);
	struct ts_buf row;
	int i, rc = 0;

	/* A path no row can carry would give the empty digest: refuse it. */
	if (scope != NULL && !scope_valid(scope, 1)) {
		EVP_MD_CTX_free(md);
		return node_err(n, TSYNC_EINVAL,
				"scope '%s' is not a scope path: lower-case "
				"segments of a-z 0-9 _ - separated by /, no "
				"trailing /, e.g. gangzha/qinzao/feiqiao",
				scope);
	}
	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(md);
		return node_err(n, TSYNC_ENOMEM, "out of memory");
	}
	ts_buf_init(&row, &n->ops, 0);
	/* Tables are loaded in name order (ts_store_load_tables).  Receipts
	 * and evidence are each witness's own attestations, checked by
	 * verify, not records: two replicas of the same records agree. */
	for (i = 0; i < n->ntbl && rc == 0; i++)
		if (strcmp(n->tbls[i].name, "receipts") != 0 &&
		    strcmp(n->tbls[i].name, "evidence") != 0)
			rc = digest_table(n, &n->tbls[i], scope, md, &row);
	ts_buf_free(&row);
	if (rc == 0) {
		EVP_DigestFinal_ex(md, h, &hl);
		hex_encode(h, sizeof(h), hex);
	}
	EVP_MD_CTX_free(md);
	return rc;
}
