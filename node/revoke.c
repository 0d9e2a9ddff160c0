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

#include <openssl/asn1t.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "apply.h"
#include "node_int.h"
#include "revoke.h"
#include "scope.h"

/*
 * The revocation positions of one CRL entry (docs/protocol.md, 8.1): an
 * entry extension, critical, whose value is the DER of
 *
 *   RevocationPositions ::= SEQUENCE OF StreamPosition
 *   StreamPosition ::= SEQUENCE { scope UTF8String, lastSeq INTEGER }
 *
 * Every stream of the revoked origin is accepted up to lastSeq; a stream
 * not named is accepted up to seq 0, that is not at all.  The OID is in
 * the UUID arc (2.25, ITU-T X.667), which needs no registration.
 */
#define CRL_POS_OID "2.25.184380734147128031169954599606439455826"

typedef struct tsync_pos_st {
	ASN1_UTF8STRING *scope;
	ASN1_INTEGER *last;
} TSYNC_POS;

DECLARE_ASN1_FUNCTIONS(TSYNC_POS)
ASN1_SEQUENCE(TSYNC_POS) = {
	ASN1_SIMPLE(TSYNC_POS, scope, ASN1_UTF8STRING),
	ASN1_SIMPLE(TSYNC_POS, last, ASN1_INTEGER),
} ASN1_SEQUENCE_END(TSYNC_POS)
IMPLEMENT_ASN1_FUNCTIONS(TSYNC_POS)

DEFINE_STACK_OF(TSYNC_POS)
typedef STACK_OF(TSYNC_POS) TSYNC_POSITIONS;
DECLARE_ASN1_ITEM(TSYNC_POSITIONS)
ASN1_ITEM_TEMPLATE(TSYNC_POSITIONS) = ASN1_EX_TEMPLATE_TYPE(
	ASN1_TFLG_SEQUENCE_OF, 0, TSYNC_POSITIONS, TSYNC_POS)
ASN1_ITEM_TEMPLATE_END(TSYNC_POSITIONS)

/* Positions of one entry, or NULL when it carries none.  *bad is set when
 * it carries an extension that does not decode. */
static TSYNC_POSITIONS *
entry_positions(X509_REVOKED *r, int *bad)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(CRL_POS_OID, 1);
	int i = obj != NULL ? X509_REVOKED_get_ext_by_OBJ(r, obj, -1) : -1;
	ASN1_OCTET_STRING *v;
	const unsigned char *p;
	TSYNC_POSITIONS *sk = NULL;

	ASN1_OBJECT_free(obj);
	if (i < 0)
		return NULL;
	v = X509_EXTENSION_get_data(X509_REVOKED_get_ext(r, i));
	p = ASN1_STRING_get0_data(v);
	sk = (TSYNC_POSITIONS *)ASN1_item_d2i(
		NULL, &p, ASN1_STRING_length(v),
		ASN1_ITEM_rptr(TSYNC_POSITIONS));
	if (sk == NULL || p != ASN1_STRING_get0_data(v) + ASN1_STRING_length(v))
		*bad = 1;
	return sk;
}

static void
positions_free(TSYNC_POSITIONS *sk)
{
	sk_TSYNC_POS_pop_free(sk, TSYNC_POS_free);
}

/* Stores one entry's positions; the row with scope '' marks an entry
 * that carries positions at all. */
static int
ts_store_positions(struct tsync_node *n, sqlite3_stmt *s, uint64_t serial,
		TSYNC_POSITIONS *sk)
{
	int i, rc = SQLITE_OK;

	for (i = -1; rc == SQLITE_OK && i < sk_TSYNC_POS_num(sk); i++) {
		TSYNC_POS *p = i < 0 ? NULL : sk_TSYNC_POS_value(sk, i);
		uint64_t last = 0;

		sqlite3_reset(s);
		sqlite3_bind_int64(s, 1, (int64_t)serial);
		if (p == NULL) {
			sqlite3_bind_text(s, 2, "", 0, SQLITE_STATIC);
		} else {
			const char *sc =
				(const char *)ASN1_STRING_get0_data(p->scope);
			int len = ASN1_STRING_length(p->scope);

			if (len <= 0 || len > SCOPE_MAX ||
			    memchr(sc, '\0', (size_t)len) != NULL ||
			    !ASN1_INTEGER_get_uint64(&last, p->last) ||
			    last >= (1ULL << 40))
				return node_err(n, TSYNC_ECORRUPT,
						"revocation list: bad position");
			sqlite3_bind_text(s, 2, sc, len, SQLITE_TRANSIENT);
		}
		sqlite3_bind_int64(s, 3, (int64_t)last);
		rc = sqlite3_step(s) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
	}
	return rc == SQLITE_OK ? 0 : node_sqlerr(n, sqlite3_errcode(n->db),
						 "install CRL");
}

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

/* Made when a list is first installed, so older replicas gain it then. */
#define POS_TABLE                                                          \
	"CREATE TABLE IF NOT EXISTS ts_revoked_pos(serial INTEGER NOT NULL,"  \
	" scope TEXT NOT NULL, last_seq INTEGER NOT NULL,"                 \
	" PRIMARY KEY(serial, scope)) WITHOUT ROWID;"

/*
 * A newly installed list re-judges what this node already holds: the txns
 * of a revoked origin's stream beyond what the list accepts (its position,
 * or its time for an entry without one) move to the quarantine, the
 * stream goes back to the last accepted seq, and the rows they touched are
 * merged again without them (apply_cut).  Nothing beyond a revocation
 * stays held, so verify stays clean (docs/protocol.md, 8.1).
 */
static int
rejudge(struct tsync_node *n, const char *num)
{
	sqlite3_stmt *s;
	char peer[48];
	int rc;

	ts_fmt(peer, sizeof(peer), "revocation list #%s", num);
	rc = sqlite3_prepare_v2(n->db, "SELECT sid, origin, scope FROM"
				       " ts_streams WHERE seq > 0 ORDER BY sid",
				-1, &s, NULL);
	if (rc != SQLITE_OK)
		return node_sqlerr(n, rc, "re-judge held txns");
	rc = 0;
	while (rc == 0 && sqlite3_step(s) == SQLITE_ROW) {
		const char *scope = (const char *)sqlite3_column_text(s, 2);
		char sc[SCOPE_MAX + 1];
		struct crl_cut cut;
		uint64_t moved;
		int64_t sid = sqlite3_column_int64(s, 0);

		ts_fmt(sc, sizeof(sc), "%s", scope ? scope : "");
		rc = crl_beyond(n, (uint64_t)sqlite3_column_int64(s, 1), sc,
				sid, &cut);
		if (rc == 0 && cut.count > 0)
			rc = apply_cut(n, sid, cut.first - 1,
				       "origin's certificate was revoked before "
				       "this txn",
				       peer, &moved);
	}
	sqlite3_finalize(s);
	return rc;
}

static int
ts_store_entries(struct tsync_node *n, X509_CRL *c, const void *pem, size_t len,
	      uint64_t number)
{
	STACK_OF(X509_REVOKED) *rev = X509_CRL_get_REVOKED(c);
	sqlite3_stmt *s = NULL, *ps = NULL;
	struct ts_store_txn tx;
	char num[32];
	int i, rc, perr = 0;

	ts_fmt(num, sizeof(num), "%llu", (unsigned long long)number);
	if ((rc = ts_store_txn_begin(n, &tx, "crl")) != 0)
		return rc;
	if ((rc = ts_store_exec(n, POS_TABLE "DELETE FROM ts_revoked;"
				" DELETE FROM ts_revoked_pos")) != 0) {
		ts_store_txn_rollback(n, &tx);
		return rc;
	}
	rc = sqlite3_prepare_v2(n->db,
				"INSERT OR REPLACE INTO ts_revoked(serial,"
				" revoked_at) VALUES(?1, ?2)",
				-1, &s, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(n->db,
					"INSERT OR REPLACE INTO ts_revoked_pos("
					"serial, scope, last_seq) VALUES(?1,"
					" ?2, ?3)",
					-1, &ps, NULL);
	for (i = 0; rc == SQLITE_OK && i < sk_X509_REVOKED_num(rev); i++) {
		X509_REVOKED *r = sk_X509_REVOKED_value(rev, i);
		TSYNC_POSITIONS *pos;
		uint64_t serial = 0;
		int bad = 0;

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
		pos = entry_positions(r, &bad);
		if (rc == SQLITE_OK && bad) {
			perr = node_err(n, TSYNC_ECORRUPT, "revocation list: "
					"positions do not decode");
			rc = SQLITE_ERROR;
		} else if (rc == SQLITE_OK && pos != NULL &&
			   (perr = ts_store_positions(n, ps, serial, pos)) != 0) {
			rc = SQLITE_ERROR;
		}
		positions_free(pos);
	}
	sqlite3_finalize(s);
	sqlite3_finalize(ps);
	if (perr != 0) {
		ts_store_txn_rollback(n, &tx);
		return perr;
	}
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
		ts_store_txn_rollback(n, &tx);
		return rc;
	}
	certs_free(n); /* cached entries carry revocation times */
	if ((rc = rejudge(n, num)) != 0) {
		ts_store_txn_rollback(n, &tx);
		certs_free(n);
		return rc;
	}
	return ts_store_txn_commit(n, &tx);
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
	if (ts_store_meta_get(n, "crl_number", have, sizeof(have)) == 0)
		held = strtoull(have, NULL, 10);
	if (number != NULL)
		*number = num;
	rc = 0;
	if (num > held) {
		rc = ts_store_entries(n, c, pem, len, num);
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

int
crl_position(struct tsync_node *n, uint64_t serial, const char *scope,
	     size_t scope_len, uint64_t *last)
{
	sqlite3_stmt *s;
	int has = 0;

	*last = 0;
	/* No table: no list with positions was ever installed here. */
	if (sqlite3_prepare_v2(n->db, "SELECT scope, last_seq FROM"
				      " ts_revoked_pos WHERE serial = ?1 AND"
				      " scope IN ('', ?2)", -1, &s,
			       NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_int64(s, 1, (int64_t)serial);
	sqlite3_bind_text(s, 2, scope, (int)scope_len, SQLITE_STATIC);
	while (sqlite3_step(s) == SQLITE_ROW) {
		has = 1;
		if (sqlite3_column_bytes(s, 0) > 0)
			*last = (uint64_t)sqlite3_column_int64(s, 1);
	}
	sqlite3_finalize(s);
	return has;
}

int
crl_accepts(struct tsync_node *n, const struct cert_entry *ce,
	    const char *scope, size_t scope_len, uint64_t seq, uint64_t hlc)
{
	uint64_t last;

	if (ce->revoked_at < 0)
		return 1;
	if (crl_position(n, ce->info.serial, scope, scope_len, &last))
		return seq <= last;
	return hlc_ms(hlc) <= (uint64_t)ce->revoked_at;
}

int
crl_beyond(struct tsync_node *n, uint64_t origin, const char *scope,
	   int64_t sid, struct crl_cut *out)
{
	const struct cert_entry *ce = certs_get(n, origin);
	sqlite3_stmt *s;
	char num[32];
	int rc;

	memset(out, 0, sizeof(out[0]));
	if (ce == NULL || ce->revoked_at < 0)
		return 0;
	if (ts_store_meta_get(n, "crl_number", num, sizeof(num)) == 0)
		out->list = strtoull(num, NULL, 10);
	out->by_seq = crl_position(n, ce->info.serial, scope, strlen(scope),
				   &out->last);
	if (!out->by_seq)
		out->last = 0;
	rc = sqlite3_prepare_v2(n->db, "SELECT k, hlc FROM ts_log WHERE k"
				       " BETWEEN ?1 AND ?2 ORDER BY k",
				-1, &s, NULL);
	if (rc != SQLITE_OK)
		return node_sqlerr(n, rc, "read log");
	sqlite3_bind_int64(s, 1, LOG_ROWID(sid, 1));
	sqlite3_bind_int64(s, 2, LOG_ROWID(sid + 1, 0) - 1);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		uint64_t seq = (uint64_t)sqlite3_column_int64(s, 0) &
			       ((1ULL << 40) - 1);

		if (crl_accepts(n, ce, scope, strlen(scope), seq,
				(uint64_t)sqlite3_column_int64(s, 1))) {
			if (!out->by_seq)
				out->last = seq;
			continue;
		}
		if (out->count++ == 0)
			out->first = seq;
		out->end = seq;
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : node_sqlerr(n, rc, "read log");
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

/* Adds or replaces the position of `scope` (copied). */
static int
pos_set(TSYNC_POSITIONS *sk, const char *scope, size_t len, uint64_t last)
{
	TSYNC_POS *p = NULL;
	int i;

	for (i = 0; i < sk_TSYNC_POS_num(sk); i++) {
		TSYNC_POS *q = sk_TSYNC_POS_value(sk, i);

		if ((size_t)ASN1_STRING_length(q->scope) == len &&
		    memcmp(ASN1_STRING_get0_data(q->scope), scope, len) == 0)
			p = q;
	}
	if (p == NULL) {
		if ((p = TSYNC_POS_new()) == NULL ||
		    !ASN1_STRING_set(p->scope, scope, (int)len) ||
		    !sk_TSYNC_POS_push(sk, p)) {
			TSYNC_POS_free(p);
			return -1;
		}
	}
	return ASN1_INTEGER_set_uint64(p->last, last) ? 0 : -1;
}

/* The heads the district node holds of `origin`'s streams. */
static int
pos_from_node(struct tsync_node *n, uint64_t origin, TSYNC_POSITIONS *sk)
{
	sqlite3_stmt *s;
	int rc;

	rc = sqlite3_prepare_v2(n->db, "SELECT scope, seq FROM ts_streams"
				       " WHERE origin = ?1 ORDER BY scope",
				-1, &s, NULL);
	if (rc != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(s, 1, (int64_t)origin);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if (pos_set(sk, (const char *)sqlite3_column_text(s, 0),
			    (size_t)sqlite3_column_bytes(s, 0),
			    (uint64_t)sqlite3_column_int64(s, 1)) != 0)
			break;
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Parses "SCOPE=SEQ[,SCOPE=SEQ...]" into sk. */
static int
pos_from_cuts(const char *cuts, TSYNC_POSITIONS *sk, char *err,
	      size_t errlen)
{
	const char *p = cuts;

	while (*p != '\0') {
		size_t len = strcspn(p, ",");
		const char *eq = memchr(p, '=', len);
		char scope[SCOPE_MAX + 1], *end;
		unsigned long long last;

		if (eq == NULL || eq == p || (size_t)(eq - p) > SCOPE_MAX)
			goto bad;
		memcpy(scope, p, (size_t)(eq - p));
		scope[eq - p] = '\0';
		errno = 0;
		last = strtoull(eq + 1, &end, 10);
		if (!scope_valid(scope, 1) || eq[1] < '0' || eq[1] > '9' ||
		    end != p + len || errno != 0 || last >= (1ULL << 40))
			goto bad;
		if (pos_set(sk, scope, strlen(scope), last) != 0)
			return TSYNC_ENOMEM;
		p += len + (p[len] == ',');
		continue;
bad:
		ts_fmt(err, errlen, "--cut takes SCOPE=SEQ[,SCOPE=SEQ...] "
				    "(SEQ the last seq accepted), not '%.*s'",
		       (int)len, p);
		return TSYNC_EINVAL;
	}
	return 0;
}

/* The positions as a critical entry extension of r; a summary in sum. */
static int
pos_attach(X509_REVOKED *r, TSYNC_POSITIONS *sk, char *sum, size_t sumlen)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(CRL_POS_OID, 1);
	ASN1_OCTET_STRING *v = ASN1_OCTET_STRING_new();
	X509_EXTENSION *ext = NULL;
	unsigned char *der = NULL;
	size_t at = 0;
	int len, i, ok = 0;

	len = ASN1_item_i2d((ASN1_VALUE *)sk, &der,
			    ASN1_ITEM_rptr(TSYNC_POSITIONS));
	if (obj != NULL && v != NULL && len > 0 &&
	    ASN1_OCTET_STRING_set(v, der, len) &&
	    (ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 1, v)) != NULL)
		ok = X509_REVOKED_add_ext(r, ext, -1) == 1;
	sum[0] = '\0';
	for (i = 0; i < sk_TSYNC_POS_num(sk) && at + 1 < sumlen; i++) {
		TSYNC_POS *p = sk_TSYNC_POS_value(sk, i);
		uint64_t last = 0;

		ASN1_INTEGER_get_uint64(&last, p->last);
		snprintf(sum + at, sumlen - at, "%s%.*s %llu", i ? ", " : "",
			 ASN1_STRING_length(p->scope),
			 (const char *)ASN1_STRING_get0_data(p->scope),
			 (unsigned long long)last);
		at += strlen(sum + at);
	}
	OPENSSL_free(der);
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(v);
	ASN1_OBJECT_free(obj);
	return ok ? 0 : -1;
}

/*
 * Opens the district node and reads the number of the list it holds.
 * Refuses a node of another CA, so nothing is written for it.
 */
static int
open_district(const char *node_dir, X509 *ca, struct tsync_node **out,
	      uint64_t *held, char *err, size_t errlen)
{
	char have[32];

	*held = 0;
	if (tsync_node_open(node_dir, NULL, out) != 0) {
		ts_fmt(err, errlen, "cannot open %s: %s; nothing written",
		       node_dir, tsync_node_errmsg(*out));
		return TSYNC_EIO;
	}
	if (X509_cmp((*out)->ca, ca) != 0) {
		ts_fmt(err, errlen, "%s belongs to another CA; nothing written",
		       node_dir);
		return TSYNC_EINVAL;
	}
	if (ts_store_meta_get(*out, "crl_number", have, sizeof(have)) == 0)
		*held = strtoull(have, NULL, 10);
	return 0;
}

static int
write_crl(X509_CRL *crl, const char *ca_dir, const char *path, char *err,
	  size_t errlen)
{
	char tmp[PATH_MAX];
	FILE *f;

	ts_fmt(tmp, sizeof(tmp), "%s/crl.pem.tmp", ca_dir);
	if ((f = fopen(tmp, "w")) == NULL || !PEM_write_X509_CRL(f, crl) ||
	    fclose(f) != 0 || rename(tmp, path) != 0) {
		ts_fmt(err, errlen, "cannot write %s: %s", path,
		       strerror(errno));
		return TSYNC_EIO;
	}
	return 0;
}

static int
install_crl(struct tsync_node *n, X509_CRL *crl, const char *path,
	    const char *node_dir, char *err, size_t errlen)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *pem = NULL;
	long len;
	int installed = 0;

	if (b != NULL && PEM_write_bio_X509_CRL(b, crl) &&
	    (len = BIO_get_mem_data(b, &pem)) > 0 &&
	    crl_install(n, pem, (size_t)len, &installed, NULL) == 0 &&
	    installed) {
		BIO_free(b);
		return 0;
	}
	BIO_free(b);
	ts_fmt(err, errlen, "list written to %s, but not installed in %s: %s",
	       path, node_dir, installed ? "" : tsync_node_errmsg(n));
	return TSYNC_EIO;
}

int
tsync_ca_revoke(const char *ca_dir, const char *cert, const char *node_dir,
		char *err, size_t errlen)
{
	return tsync_ca_revoke_cut(ca_dir, cert, node_dir, NULL, err, errlen);
}

int
tsync_ca_revoke_cut(const char *ca_dir, const char *cert,
		    const char *node_dir, const char *cuts, char *msg,
		    size_t msglen)
{
	char path[PATH_MAX], sum[1024];
	EVP_PKEY *key = NULL;
	X509 *ca = NULL, *victim = NULL;
	X509_CRL *crl = NULL;
	X509_REVOKED *r = NULL, *dup = NULL;
	ASN1_TIME *now = NULL, *next = NULL;
	ASN1_INTEGER *num = NULL;
	TSYNC_POSITIONS *pos = sk_TSYNC_POS_new_null();
	struct tsync_node *n = NULL;
	struct cert_info ci;
	uint64_t number, held = 0;
	char *err = msg;
	size_t errlen = msglen;
	int rc = TSYNC_EIO;

	ts_fmt(path, sizeof(path), "%s/ca.key", ca_dir);
	if (pos == NULL || (key = keys_load_private(path, err, errlen)) == NULL)
		goto out;
	ts_fmt(path, sizeof(path), "%s/ca.crt", ca_dir);
	if ((ca = cert_load(path, err, errlen)) == NULL)
		goto out;
	if ((victim = find_cert(ca_dir, cert, err, errlen)) == NULL)
		goto out;
	if (cert_check_issuer(victim, ca) != 0 ||
	    cert_parse(victim, &ci) != 0) {
		ts_fmt(err, errlen, "%s was not issued by this CA", cert);
		rc = TSYNC_EINVAL;
		goto out;
	}
	if (node_dir != NULL &&
	    (rc = open_district(node_dir, ca, &n, &held, err, errlen)) != 0)
		goto out;
	rc = TSYNC_EIO;
	ts_fmt(path, sizeof(path), "%s/crl.pem", ca_dir);
	crl = crl_load_or_new(path, ca);
	number = crl != NULL ? crl_number(crl) + 1 : 1;
	if (number <= held) {
		/* A CA folder restored without its latest crl.pem would
		 * issue a list every node ignores. */
		ts_fmt(err, errlen,
		       "%s holds revocation list #%llu, but %s/crl.pem is "
		       "#%llu: this CA folder lacks the latest list (restored "
		       "from an old copy?), and a new list would be #%llu, "
		       "which no node installs; nothing written. Put the "
		       "latest list back first: sqlite3 %s/replica.db "
		       "\"SELECT value FROM ts_meta WHERE key = 'crl'\" > "
		       "%s/crl.pem",
		       node_dir, (unsigned long long)held, ca_dir,
		       (unsigned long long)number - 1,
		       (unsigned long long)number, node_dir, ca_dir);
		rc = TSYNC_EINVAL;
		goto out;
	}
	if (crl != NULL &&
	    X509_CRL_get0_by_serial(crl, &dup, X509_get_serialNumber(victim))) {
		ts_fmt(err, errlen, "%s is already revoked (list #%llu); "
				    "nothing written",
		       cert, (unsigned long long)number - 1);
		rc = TSYNC_EEXIST;
		goto out;
	}
	if ((n != NULL && pos_from_node(n, ci.node_id, pos) != 0) ||
	    (cuts != NULL &&
	     (rc = pos_from_cuts(cuts, pos, err, errlen)) != 0)) {
		if (rc == TSYNC_EIO)
			ts_fmt(err, errlen, "cannot read %s: %s", node_dir,
			       tsync_node_errmsg(n));
		goto out;
	}
	rc = TSYNC_EIO;
	now = X509_gmtime_adj(NULL, 0);
	next = X509_gmtime_adj(NULL, 365L * 86400L);
	num = ASN1_INTEGER_new();
	r = X509_REVOKED_new();
	if (crl == NULL || now == NULL || next == NULL || num == NULL ||
	    r == NULL || !ASN1_INTEGER_set_uint64(num, number) ||
	    !X509_REVOKED_set_serialNumber(r, X509_get_serialNumber(victim)) ||
	    !X509_REVOKED_set_revocationDate(r, now) ||
	    pos_attach(r, pos, sum, sizeof(sum)) != 0 ||
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
	if ((rc = write_crl(crl, ca_dir, path, err, errlen)) != 0)
		goto out;
	if (n != NULL &&
	    (rc = install_crl(n, crl, path, node_dir, err, errlen)) != 0)
		goto out;
	ts_fmt(msg, msglen, "list #%llu; last seq accepted of each stream: %s",
	       (unsigned long long)number,
	       sum[0] != '\0' ? sum : "none (no stream of it is accepted)");
out:
	tsync_node_close(n);
	positions_free(pos);
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
