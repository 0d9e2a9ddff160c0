/*
 * bundle.c - sneakernet: the frames a socket would carry, in a file.
 *
 * A bundle is BUNDLE, then CERT and BATCH frames, then END (see
 * docs/protocol.md, "Bundles").  Export writes what a node of the target
 * scope may see; import runs each BATCH through apply_batch(), the code
 * the network path uses, so every check and the quarantine apply.  Memory
 * is bounded by one batch either way.
 *
 * Sealed bundles (the default of `tiersync bundle export`) carry the same
 * bytes through seal.c, encrypted for the certificates this node knows of
 * the offices and auditors at or above the target scope, and for itself.
 * Import recognises them by their magic and reads the opened bytes as it
 * reads a plain file.
 */
#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply.h"
#include "frame.h"
#include "node_int.h"
#include "receipt.h"
#include "revoke.h"
#include "scope.h"
#include "seal.h"
#include "txn.h"

#define BUNDLE_FMT 1
#define BATCH_TXNS 1024
#define BATCH_BYTES (1u << 20)

struct vv_entry {
	uint64_t origin;
	char scope[SCOPE_MAX + 1];
	uint64_t seq;
};

struct vv {
	struct vv_entry *e;
	size_t n;
};

static uint64_t
vv_get(const struct vv *v, uint64_t origin, const char *scope)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		if (v->e[i].origin == origin && strcmp(v->e[i].scope, scope) == 0)
			return v->e[i].seq;
	return 0;
}

static void
pack_vv(msgpack_packer *pk, const struct vv *v)
{
	size_t i;

	msgpack_pack_array(pk, 3 * v->n);
	for (i = 0; i < v->n; i++) {
		msgpack_pack_uint64(pk, v->e[i].origin);
		msgpack_pack_str_with_body(pk, v->e[i].scope,
					   strlen(v->e[i].scope));
		msgpack_pack_uint64(pk, v->e[i].seq);
	}
}

static int
take_vv(const msgpack_object *a, uint32_t n, struct vv *v)
{
	uint32_t i;

	v->e = calloc(n / 3 + 1, sizeof(*v->e));
	v->n = 0;
	if (v->e == NULL)
		return TSYNC_ENOMEM;
	for (i = 0; i + 2 < n; i += 3) {
		if (a[i].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
		    a[i + 1].type != MSGPACK_OBJECT_STR ||
		    a[i + 1].via.str.size > SCOPE_MAX ||
		    a[i + 2].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
			return TSYNC_ECORRUPT;
		v->e[v->n].origin = a[i].via.u64;
		memcpy(v->e[v->n].scope, a[i + 1].via.str.ptr,
		       a[i + 1].via.str.size);
		v->e[v->n].scope[a[i + 1].via.str.size] = '\0';
		v->e[v->n].seq = a[i + 2].via.u64;
		v->n++;
	}
	return 0;
}

/* ---- reading frames from a file -------------------------------------- */

struct reader {
	FILE *f;
	struct seal_reader *seal; /* NULL for a plain file */
	struct ts_buf b;
	uint64_t offset; /* offset of b.p[0] in the (opened) bytes */
	int eof;
};

/* Opens a plain or sealed bundle; a sealed one with n's enc.key. */
static int
reader_open(struct reader *r, struct tsync_node *n, const char *path,
	    char *why, size_t len)
{
	char kp[PATH_MAX], kerr[256];
	EVP_PKEY *k;
	int rc;

	memset(r, 0, sizeof(*r));
	ts_buf_init(&r->b, NULL, FRAME_MAX + 4);
	if ((r->f = fopen(path, "rb")) == NULL) {
		ts_fmt(why, len, "cannot open %s: %s", path, strerror(errno));
		return TSYNC_ENOENT;
	}
	if (!seal_sniff(r->f))
		return 0;
	ts_fmt(kp, sizeof(kp), "%s/enc.key", n->dir);
	k = keys_enc_load_private(kp, kerr, sizeof(kerr));
	rc = seal_reader_open(r->f, n->id, k, &r->seal, why, len);
	EVP_PKEY_free(k);
	if (rc != 0) {
		char m[320];

		ts_fmt(m, sizeof(m), "%s", why);
		if (rc == TSYNC_ESCOPE)
			ts_fmt(why, len,
			       "%s is a sealed bundle %s: only the offices "
			       "and auditors at or above the scope it was made "
			       "for can open it; ask the sender for one --for "
			       "%s",
			       path, m, n->scope);
		else
			ts_fmt(why, len, "%s is a sealed bundle and %s", path,
			       m);
		fclose(r->f);
		r->f = NULL;
	}
	return rc;
}

static void
reader_close(struct reader *r)
{
	seal_reader_free(r->seal);
	if (r->f != NULL)
		fclose(r->f);
	ts_buf_free(&r->b);
}

/* More bytes into r->b: the count, 0 at the end, or an error. */
static long
reader_fill(struct reader *r)
{
	size_t room = r->b.cap - r->b.len;

	if (r->seal != NULL)
		return seal_read(r->seal, r->b.p + r->b.len, room);
	return (long)fread(r->b.p + r->b.len, 1, room, r->f);
}

/* Next frame: 1 with f set, 0 at a clean end, <0 on a bad frame. */
static int
read_frame(struct reader *r, struct frame *f, uint64_t *at)
{
	const uint8_t *body;
	size_t len, used;
	long got;
	int rc;

	*at = r->offset;
	for (;;) {
		rc = r->b.len > 0 ? frame_next(r->b.p, r->b.len, &body, &len,
					       &used)
				  : 0;
		if (rc < 0)
			return TSYNC_EPROTO;
		if (rc == 1)
			break;
		if (r->eof)
			return r->b.len == 0 ? 0 : TSYNC_ENOENT;
		if (ts_buf_reserve(&r->b, 1u << 16) != 0)
			return TSYNC_ENOMEM;
		if ((got = reader_fill(r)) < 0)
			return (int)got; /* sealed: ENOENT cut, EAUTH changed */
		r->b.len += (size_t)got;
		if (got == 0)
			r->eof = 1;
	}
	rc = frame_decode(f, body, len);
	if (rc != 0) {
		frame_done(f);
		return TSYNC_EPROTO;
	}
	/* The frame's objects point into b: consumed by frame_release(). */
	r->offset += used;
	return 1;
}

static void
frame_release(struct reader *r, struct frame *f, uint64_t at)
{
	frame_done(f);
	ts_buf_consume(&r->b, (size_t)(r->offset - at));
}

/* Reads the END vv of an earlier bundle (for --since). */
static int
since_vv(struct tsync_node *n, const char *path, struct vv *v, char *why,
	 size_t len)
{
	struct reader r;
	struct frame f;
	uint64_t at;
	int rc, found = 0;

	memset(v, 0, sizeof(*v));
	if ((rc = reader_open(&r, n, path, why, len)) != 0) {
		reader_close(&r);
		return rc;
	}
	while ((rc = read_frame(&r, &f, &at)) == 1) {
		const msgpack_object *a;
		uint32_t cnt;

		if (f.type == WIRE_END && frame_arr(&f, 2, &a, &cnt) == 0 &&
		    take_vv(a, cnt, v) == 0)
			found = 1;
		frame_release(&r, &f, at);
	}
	reader_close(&r);
	if (!found) {
		ts_fmt(why, len, "%s is not a complete bundle (no END frame)",
		       path);
		return TSYNC_ECORRUPT;
	}
	return 0;
}

/* ---- export ------------------------------------------------------------ */

struct exporter {
	struct tsync_node *n;
	FILE *f;
	struct seal_writer *seal; /* NULL: --unsealed */
	struct ts_buf frame, batch;
	unsigned count;
	uint64_t batches, txns;
	int err;
};

static int
write_frame(struct exporter *x)
{
	if (x->frame.err != 0)
		x->err = TSYNC_EIO;
	else if (x->seal != NULL)
		x->err = seal_write(x->seal, x->frame.p, x->frame.len);
	else if (fwrite(x->frame.p, 1, x->frame.len, x->f) != x->frame.len)
		x->err = TSYNC_EIO;
	x->frame.len = 0;
	return x->err;
}

static int
add_txn(void *arg, uint64_t seq, const uint8_t *body, size_t len,
	const uint8_t *sig)
{
	struct exporter *x = arg;
	msgpack_packer pk;

	(void)seq;
	txn_packer(&pk, &x->batch);
	msgpack_pack_bin_with_body(&pk, body, len);
	msgpack_pack_bin_with_body(&pk, sig, KEYS_SIG_LEN);
	x->count++;
	return x->count >= BATCH_TXNS || x->batch.len >= BATCH_BYTES;
}

static int
flush_batch(struct exporter *x)
{
	msgpack_packer pk;
	size_t f;

	if (x->count == 0)
		return 0;
	f = frame_begin(&x->frame, &pk);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint8(&pk, WIRE_BATCH);
	msgpack_pack_uint64(&pk, ++x->batches);
	msgpack_pack_array(&pk, 2 * (size_t)x->count);
	if (ts_buf_put(&x->frame, x->batch.p, x->batch.len) != 0 ||
	    frame_end(&x->frame, f) != 0)
		x->err = TSYNC_EINVAL;
	x->txns += x->count;
	x->count = 0;
	x->batch.len = 0;
	return write_frame(x);
}

static int
export_stream(struct exporter *x, const struct stream_row *s, uint64_t from)
{
	msgpack_packer pk;
	size_t f, len;
	char *pem;
	int rc;

	if (certs_pem(x->n, s->origin, &pem, &len) == 0) {
		f = frame_begin(&x->frame, &pk);
		msgpack_pack_array(&pk, 2);
		msgpack_pack_uint8(&pk, WIRE_CERT);
		msgpack_pack_bin_with_body(&pk, pem, len);
		frame_end(&x->frame, f);
		free(pem);
		if (write_frame(x) != 0)
			return x->err;
	}
	while (from <= s->seq) {
		uint64_t before = x->txns + x->count;

		rc = ts_log_read(x->n, s->sid, from, s->seq,
			      BATCH_BYTES - x->batch.len, x->batch.len == 0,
			      add_txn, x);
		if (rc != 0)
			return rc;
		if (x->txns + x->count == before) {
			if (x->count == 0)
				break; /* log shorter than its head: verify */
			if (flush_batch(x) != 0) /* the next one is too big */
				return x->err;
			continue;
		}
		from += x->txns + x->count - before;
		if ((x->count >= BATCH_TXNS || x->batch.len >= BATCH_BYTES) &&
		    flush_batch(x) != 0)
			return x->err;
	}
	return 0;
}

static int
export_all(struct exporter *x, const char *for_scope, const struct vv *since,
	   struct vv *after)
{
	struct stream_row *v;
	size_t cnt, i;
	int rc;

	if ((rc = ts_log_streams(x->n, &v, &cnt)) != 0)
		return rc;
	after->e = calloc(cnt + 1, sizeof(*after->e));
	after->n = 0;
	if (after->e == NULL) {
		free(v);
		return TSYNC_ENOMEM;
	}
	for (i = 0; i < cnt && rc == 0; i++) {
		uint64_t have;

		if (!scope_may_see(for_scope, "office", v[i].scope))
			continue;
		after->e[after->n].origin = v[i].origin;
		ts_fmt(after->e[after->n].scope, SCOPE_MAX + 1, "%s",
		       v[i].scope);
		after->e[after->n++].seq = v[i].seq;
		have = vv_get(since, v[i].origin, v[i].scope);
		if (have < v[i].seq)
			rc = export_stream(x, &v[i], have + 1);
	}
	free(v);
	if (rc == 0)
		rc = flush_batch(x);
	return rc;
}

/* ---- recipients of a sealed bundle ------------------------------------ */

struct recips {
	struct seal_recip *r;
	size_t n, cap;
	unsigned readers; /* recipients at or above the scope, self aside */
	int self_reads;   /* the exporter is itself at or above the scope */
};

/* Appends a formatted text to the note in r (cut short when full). */
static void
note_add(struct tsync_bundle_result *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
note_add(struct tsync_bundle_result *r, const char *fmt, ...)
{
	size_t k = strlen(r->note);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->note + k, sizeof(r->note) - k, fmt, ap);
	va_end(ap);
}

static int
recip_add(struct recips *v, uint64_t id, const uint8_t pub[KEYS_ENC_LEN])
{
	size_t i;

	for (i = 0; i < v->n; i++)
		if (v->r[i].node_id == id)
			return 0;
	if (v->n == SEAL_RECIP_MAX)
		return TSYNC_EINVAL;
	if (v->n == v->cap) {
		size_t cap = v->cap ? 2 * v->cap : 16;
		struct seal_recip *p = realloc(v->r, cap * sizeof(*p));

		if (p == NULL)
			return TSYNC_ENOMEM;
		v->r = p;
		v->cap = cap;
	}
	v->r[v->n].node_id = id;
	memcpy(v->r[v->n++].pub, pub, KEYS_ENC_LEN);
	return 1;
}

/*
 * A certificate named with --to: checked against the CA and kept in
 * ts_certs (so later exports find it without --to); it must be one that
 * may read `scope` and can receive a sealed bundle.
 */
static int
recip_file(struct tsync_node *n, const char *path, const char *scope,
	   struct tsync_bundle_result *r)
{
	struct cert_info ci;
	X509 *c = cert_load(path, r->why, sizeof(r->why));
	char *pem = NULL;
	size_t len;
	int rc = TSYNC_EAUTH;

	if (c == NULL)
		return TSYNC_ENOENT;
	if (cert_parse(c, &ci) != 0 || cert_to_pem(c, &pem, &len) != 0 ||
	    certs_add_pem(n, pem, len) != 0)
		ts_fmt(r->why, sizeof(r->why),
		       "--to %s is not a node certificate of this district",
		       path);
	else if (!scope_within(scope, ci.scope))
		ts_fmt(r->why, sizeof(r->why),
		       "--to %s: node %016llx (%s %s) may not read %s", path,
		       (unsigned long long)ci.node_id, ci.scope, ci.role,
		       scope);
	else if (!ci.has_enc)
		ts_fmt(r->why, sizeof(r->why),
		       "--to %s: node %016llx has no encryption key (its "
		       "certificate was issued before sealed bundles)",
		       path, (unsigned long long)ci.node_id);
	else if (crl_revoked_at(n, ci.serial) >= 0)
		ts_fmt(r->why, sizeof(r->why),
		       "--to %s: node %016llx is revoked", path,
		       (unsigned long long)ci.node_id);
	else
		rc = 0;
	OPENSSL_free(pem);
	X509_free(c);
	return rc;
}

/* Every known certificate of an office or auditor at or above `scope`. */
static int
recip_known(struct tsync_node *n, const char *scope, struct recips *v,
	    struct tsync_bundle_result *r)
{
	sqlite3_stmt *s;
	unsigned lacking = 0;
	int rc;

	rc = sqlite3_prepare_v2(n->db, "SELECT node_id FROM ts_certs "
				"ORDER BY scope, node_id", -1, &s, NULL);
	if (rc != SQLITE_OK)
		return node_sqlerr(n, rc, "read certificates");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		uint64_t id = (uint64_t)sqlite3_column_int64(s, 0);
		const struct cert_entry *e = certs_get(n, id);

		if (e == NULL || e->revoked_at >= 0 ||
		    !scope_within(scope, e->info.scope))
			continue;
		if (!e->info.has_enc) {
			note_add(r, "%s%016llx (%s %s)",
				 lacking++ ? ", " : "; not for ",
				 (unsigned long long)id, e->info.scope,
				 e->info.role);
			continue;
		}
		if ((rc = recip_add(v, id, e->info.enc_pub)) < 0)
			break;
		if (id == n->id)
			v->self_reads = 1;
		else
			v->readers += (unsigned)rc;
	}
	sqlite3_finalize(s);
	if (lacking > 0)
		note_add(r, ", whose certificate%s no encryption key "
			 "(issued before sealed bundles: re-issue to include "
			 "them)", lacking == 1 ? " has" : "s have");
	return rc == SQLITE_DONE ? 0 : rc < 0 ? rc : TSYNC_EIO;
}

/*
 * The recipients of a sealed bundle for `scope`: every certificate this
 * node knows (ts_certs, which replicate with the data, plus those named
 * with --to) of an office or auditor whose scope holds `scope`, revoked
 * ones aside; and the exporter itself, which holds every byte anyway and
 * must read the file back for a later --since.
 */
static int
pick_recips(struct tsync_node *n, const char *scope, const char *const *to,
	    struct recips *v, struct tsync_bundle_result *r)
{
	struct cert_info me;
	int rc;

	for (; to != NULL && *to != NULL; to++)
		if ((rc = recip_file(n, *to, scope, r)) != 0)
			return rc;
	if (cert_parse(n->cert, &me) != 0 || !me.has_enc) {
		ts_fmt(r->why, sizeof(r->why),
		       "this node's certificate has no encryption key (it was "
		       "issued before sealed bundles): re-issue it, or "
		       "export --unsealed");
		return TSYNC_EAUTH;
	}
	if ((rc = recip_known(n, scope, v, r)) != 0)
		return rc;
	if (recip_add(v, n->id, me.enc_pub) < 0)
		return TSYNC_ENOMEM;
	if (v->readers == 0 && !v->self_reads) {
		ts_fmt(r->why, sizeof(r->why),
		       "this node knows no certificate with an encryption key "
		       "of an office or auditor at or above %s%s: give the "
		       "recipient's certificate with --to CERT (its node.crt),"
		       " or export --unsealed for debugging",
		       scope, r->note[0] ? " (some lack a key)" : "");
		return TSYNC_ENOENT;
	}
	return 0;
}

/* The note of a sealed export: "sealed for N: id (scope role), ...". */
static void
note_recips(struct tsync_node *n, const struct recips *v,
	    struct tsync_bundle_result *r)
{
	char lack[sizeof(r->note)];
	size_t i;

	ts_fmt(lack, sizeof(lack), "%s", r->note);
	r->note[0] = '\0';
	r->recipients = (unsigned)v->n;
	note_add(r, "sealed for %zu:", v->n);
	for (i = 0; i < v->n; i++) {
		const struct cert_entry *e = certs_get(n, v->r[i].node_id);

		note_add(r, "%s %016llx (%s %s%s)", i ? "," : "",
			 (unsigned long long)v->r[i].node_id,
			 e ? e->info.scope : "?", e ? e->info.role : "?",
			 v->r[i].node_id == n->id ? ", this node" : "");
	}
	note_add(r, "%s", lack);
}

/* ---- export, the whole file -------------------------------------------- */

static void
write_head(struct exporter *x, const char *for_scope, const struct vv *since)
{
	msgpack_packer pk;
	char *pem;
	size_t f, len;

	f = frame_begin(&x->frame, &pk);
	msgpack_pack_array(&pk, 9);
	msgpack_pack_uint8(&pk, WIRE_BUNDLE);
	msgpack_pack_uint8(&pk, BUNDLE_FMT);
	msgpack_pack_uint64(&pk, x->n->id);
	msgpack_pack_str_with_body(&pk, for_scope, strlen(for_scope));
	msgpack_pack_uint64(&pk, ts_now_ms(NULL));
	pack_vv(&pk, since);
	msgpack_pack_uint32(&pk, PROTO_VERSION);
	msgpack_pack_uint32(&pk, SCHEMA_VERSION);
	msgpack_pack_str_with_body(&pk, TSYNC_VERSION_STRING,
				   strlen(TSYNC_VERSION_STRING));
	frame_end(&x->frame, f);
	if (write_frame(x) != 0)
		return;
	if (crl_pem(x->n, &pem, &len) == 0) {
		f = frame_begin(&x->frame, &pk);
		msgpack_pack_array(&pk, 2);
		msgpack_pack_uint8(&pk, WIRE_CRL);
		msgpack_pack_bin_with_body(&pk, pem, len);
		frame_end(&x->frame, f);
		free(pem);
		if (write_frame(x) != 0)
			return;
	}
	/* The exporter introduces itself, so the receiver can seal its
	 * answer to it even when the exporter has no stream to carry. */
	if (cert_to_pem(x->n->cert, &pem, &len) == 0) {
		f = frame_begin(&x->frame, &pk);
		msgpack_pack_array(&pk, 2);
		msgpack_pack_uint8(&pk, WIRE_CERT);
		msgpack_pack_bin_with_body(&pk, pem, len);
		frame_end(&x->frame, f);
		OPENSSL_free(pem);
		write_frame(x);
	}
}

static int
write_bundle(struct exporter *x, const char *for_scope, const struct vv *sv,
	     struct vv *after)
{
	msgpack_packer pk;
	size_t f;
	int rc;

	write_head(x, for_scope, sv);
	rc = x->err;
	if (rc == 0)
		rc = export_all(x, for_scope, sv, after);
	if (rc == 0) {
		f = frame_begin(&x->frame, &pk);
		msgpack_pack_array(&pk, 3);
		msgpack_pack_uint8(&pk, WIRE_END);
		msgpack_pack_uint64(&pk, x->txns);
		pack_vv(&pk, after);
		frame_end(&x->frame, f);
		rc = write_frame(x);
	}
	if (rc == 0 && x->seal != NULL)
		rc = seal_finish(x->seal);
	return rc;
}

int
tsync_bundle_export_opts(const char *dir, const char *for_scope,
			 const char *out, const struct tsync_bundle_opts *o,
			 struct tsync_bundle_result *r)
{
	static const struct tsync_bundle_opts plain = {NULL, 1, NULL};
	struct exporter x;
	struct vv sv = {NULL, 0}, after = {NULL, 0};
	struct recips rv;
	char tmp[PATH_MAX];
	int rc;

	memset(r, 0, sizeof(*r));
	memset(&x, 0, sizeof(x));
	memset(&rv, 0, sizeof(rv));
	if (o == NULL)
		o = &plain;
	if (!scope_valid(for_scope, 0)) {
		ts_fmt(r->why, sizeof(r->why), "--for '%s' is not a scope path",
		       for_scope);
		return TSYNC_EINVAL;
	}
	if (tsync_node_open(dir, NULL, &x.n) != 0) {
		ts_fmt(r->why, sizeof(r->why), "%s", tsync_node_errmsg(x.n));
		rc = TSYNC_EINVAL;
		goto out;
	}
	if (o->since != NULL &&
	    (rc = since_vv(x.n, o->since, &sv, r->why, sizeof(r->why))) != 0)
		goto out;
	if (!o->unsealed) {
		if ((rc = pick_recips(x.n, for_scope, o->to, &rv, r)) != 0)
			goto out;
		note_recips(x.n, &rv, r);
	}
	ts_fmt(tmp, sizeof(tmp), "%s.tmp", out);
	if ((x.f = fopen(tmp, "wb")) == NULL) {
		ts_fmt(r->why, sizeof(r->why), "cannot create %s: %s", tmp,
		       strerror(errno));
		rc = TSYNC_EIO;
		goto out;
	}
	ts_buf_init(&x.frame, NULL, 0);
	ts_buf_init(&x.batch, NULL, 0);
	rc = o->unsealed ? 0 : seal_writer_new(x.f, rv.r, rv.n, &x.seal);
	/* One read transaction: the bundle is one consistent snapshot. */
	sqlite3_exec(x.n->db, "BEGIN", NULL, NULL, NULL);
	if (rc == 0)
		rc = write_bundle(&x, for_scope, &sv, &after);
	sqlite3_exec(x.n->db, "COMMIT", NULL, NULL, NULL);
	seal_writer_free(x.seal);
	if (fflush(x.f) != 0 || fsync(fileno(x.f)) != 0)
		rc = rc ? rc : TSYNC_EIO;
	if (fclose(x.f) != 0)
		rc = rc ? rc : TSYNC_EIO;
	if (rc == 0 && rename(tmp, out) != 0)
		rc = TSYNC_EIO;
	if (rc != 0) {
		unlink(tmp);
		ts_fmt(r->why, sizeof(r->why), "cannot write %s: %s", out,
		       rc == TSYNC_EIO ? strerror(errno)
				       : tsync_node_errmsg(x.n));
	}
	r->txns = x.txns;
	ts_buf_free(&x.frame);
	ts_buf_free(&x.batch);
out:
	free(rv.r);
	free(sv.e);
	free(after.e);
	tsync_node_close(x.n);
	return rc;
}

int
tsync_bundle_export(const char *dir, const char *for_scope, const char *out,
		    const char *since, struct tsync_bundle_result *r)
{
	struct tsync_bundle_opts o = {since, 1, NULL};

	return tsync_bundle_export_opts(dir, for_scope, out, &o, r);
}

/* ---- import ------------------------------------------------------------ */

static int
import_batch(struct tsync_node *n, const struct frame *f, const char *peer,
	     struct tsync_bundle_result *r)
{
	const msgpack_object *a;
	struct apply_report rep;
	struct wire_txn *w;
	size_t budget = BATCH_ELEMS_MAX;
	uint32_t cnt, i;
	int64_t qmark;
	unsigned ev;
	int rc;

	if (frame_arr(f, 2, &a, &cnt) != 0 || cnt % 2 != 0)
		return TSYNC_EPROTO;
	w = calloc(cnt / 2 + 1, sizeof(*w));
	if (w == NULL)
		return TSYNC_ENOMEM;
	for (i = 0; i < cnt; i += 2) {
		size_t used;

		if (a[i].type != MSGPACK_OBJECT_BIN ||
		    a[i + 1].type != MSGPACK_OBJECT_BIN ||
		    a[i + 1].via.bin.size != KEYS_SIG_LEN) {
			free(w);
			return TSYNC_EPROTO;
		}
		/* As on a socket (session.c on_batch): txn_decode unpacks
		 * each body, so its counts are checked against its bytes
		 * first, all bodies sharing one budget. */
		if (a[i].via.bin.size > 0 &&
		    frame_mp_check((const uint8_t *)a[i].via.bin.ptr,
				   a[i].via.bin.size, &budget, &used) != 0) {
			free(w);
			return TSYNC_EPROTO;
		}
		w[i / 2].body = (const uint8_t *)a[i].via.bin.ptr;
		w[i / 2].len = a[i].via.bin.size;
		w[i / 2].sig = (const uint8_t *)a[i + 1].via.bin.ptr;
	}
	qmark = cnt > 0 ? evidence_qmark(n) : 0;
	rc = apply_batch(n, w, cnt / 2, peer, &rep, NULL, NULL);
	free(w);
	if (rc != 0)
		return rc;
	if (rep.rejected > 0) /* equivocation proven by signed txns */
		(void)evidence_from_quarantine(n, qmark, 0, ts_now_ms(&n->ops),
					       &ev);
	r->txns += cnt / 2;
	r->applied += rep.applied;
	r->duplicate += rep.duplicate;
	r->quarantined += rep.rejected;
	return 0;
}

/* Applies the frames of rd; 0 after END, else the error at *at. */
/*
 * Elements 6-8 of the BUNDLE frame (absent before release 0.2.0: protocol
 * 1, schema 1): a note when the writer's schema is newer than ours.
 */
static void
bundle_versions(const struct frame *f, uint64_t *proto,
		struct tsync_bundle_result *r)
{
	uint64_t schema = 1;
	const char *rel = "0.1.0";
	uint32_t rl = 5;

	if (f->n > 6)
		frame_u64(f, 6, proto);
	if (f->n > 7)
		frame_u64(f, 7, &schema);
	if (f->n > 8 && frame_str(f, 8, &rel, &rl) != 0)
		rl = 0;
	if (schema > SCHEMA_VERSION)
		note_add(r,
			 "%swritten by release %.*s (schema %llu; this node "
			 "has %u): what this schema does not know is kept "
			 "and applied after an upgrade",
			 r->note[0] ? "; " : "", (int)(rl > 20 ? 20 : rl), rel,
			 (unsigned long long)schema, SCHEMA_VERSION);
}

static int
import_frames(struct tsync_node *n, struct reader *rd, const char *file,
	      uint64_t *at, struct tsync_bundle_result *r)
{
	struct frame f;
	char peer[PATH_MAX + 64];
	uint64_t end_txns = 0, proto = 1;
	int rc, nframes = 0, ended = 0;

	ts_fmt(peer, sizeof(peer), "bundle %s", file);
	while (!ended && (rc = read_frame(rd, &f, at)) == 1) {
		if (nframes++ == 0 && f.type != WIRE_BUNDLE) {
			rc = TSYNC_EPROTO;
		} else if (f.type == WIRE_BUNDLE) {
			uint64_t fmt, origin;

			rc = frame_u64(&f, 1, &fmt) || fmt != BUNDLE_FMT ||
					     frame_u64(&f, 2, &origin)
				     ? TSYNC_EPROTO
				     : 0;
			if (rc == 0)
				ts_fmt(peer, sizeof(peer),
				       "bundle %s from %016llx", file,
				       (unsigned long long)origin);
			if (rc == 0)
				bundle_versions(&f, &proto, r);
		} else if (f.type == WIRE_CERT) {
			const uint8_t *p;
			uint32_t len;

			rc = frame_bin(&f, 1, &p, &len) ? TSYNC_EPROTO : 0;
			if (rc == 0)
				certs_add_pem(n, p, len); /* else quarantined */
		} else if (f.type == WIRE_CRL) {
			const uint8_t *p;
			uint32_t len;
			int inst;

			rc = frame_bin(&f, 1, &p, &len) ? TSYNC_EPROTO : 0;
			if (rc == 0)
				crl_install(n, p, len, &inst, NULL);
		} else if (f.type == WIRE_BATCH) {
			rc = import_batch(n, &f, peer, r);
		} else if (f.type == WIRE_END) {
			rc = frame_u64(&f, 1, &end_txns) ? TSYNC_EPROTO : 0;
			ended = 1;
		} else if (f.type >= WIRE_SKIPPABLE && proto >= 2) {
			rc = 0; /* a later release's message (protocol 2.2) */
		} else {
			rc = TSYNC_EPROTO;
		}
		frame_release(rd, &f, *at);
		if (rc != 0)
			return rc;
	}
	if (rc == 0 && !ended)
		rc = TSYNC_ENOENT;
	if (rc == 0 && end_txns != r->txns) {
		ts_fmt(r->why, sizeof(r->why),
		       "bundle says %llu txns but held %llu",
		       (unsigned long long)end_txns,
		       (unsigned long long)r->txns);
		return TSYNC_ECORRUPT;
	}
	return rc;
}

/* r->why after import_frames failed with rc at byte `at`. */
static int
import_why(struct tsync_node *n, const struct reader *rd, const char *file,
	   uint64_t at, int rc, struct tsync_bundle_result *r)
{
	char what[160];
	uint64_t chunk, off;

	if (rc == TSYNC_ECORRUPT)
		return rc; /* the END count: r->why says so */
	r->bad_offset = at;
	if (rd->seal != NULL && seal_error(rd->seal, &off, &chunk) != 0) {
		r->bad_offset = off;
		ts_fmt(what, sizeof(what), "sealed bundle %s (chunk %llu)",
		       rc == TSYNC_ENOENT ? "truncated"
					  : "changed or damaged: a chunk "
					    "fails its authentication",
		       (unsigned long long)chunk);
	} else {
		ts_fmt(what, sizeof(what), "%s%s",
		       rc == TSYNC_ENOENT   ? "bundle truncated"
		       : rc == TSYNC_EPROTO ? "corrupt frame"
					    : tsync_node_errmsg(n),
		       rd->seal != NULL ? " in the opened bytes" : "");
	}
	ts_fmt(r->why, sizeof(r->why),
	       "%s at byte %llu of %s: the %llu txns before it were "
	       "applied and kept; ask the sender for a new bundle "
	       "(or one --since the last good one)",
	       what, (unsigned long long)r->bad_offset, file,
	       (unsigned long long)r->txns);
	return rc == TSYNC_ENOENT || rc == TSYNC_EPROTO || rc == TSYNC_EAUTH
		       ? TSYNC_ECORRUPT
		       : rc;
}

int
tsync_bundle_import(const char *dir, const char *file,
		    struct tsync_bundle_result *r)
{
	struct tsync_node *n = NULL;
	struct reader rd;
	uint64_t at = 0;
	int rc;

	memset(r, 0, sizeof(*r));
	memset(&rd, 0, sizeof(rd));
	if (tsync_node_open(dir, NULL, &n) != 0) {
		ts_fmt(r->why, sizeof(r->why), "%s", tsync_node_errmsg(n));
		tsync_node_close(n);
		return TSYNC_EINVAL;
	}
	rc = reader_open(&rd, n, file, r->why, sizeof(r->why));
	if (rc == 0 && rd.seal != NULL)
		ts_fmt(r->note, sizeof(r->note),
		       "sealed bundle, opened with this node's key");
	if (rc == 0 && (rc = import_frames(n, &rd, file, &at, r)) != 0)
		rc = import_why(n, &rd, file, at, rc, r);
	reader_close(&rd);
	tsync_node_close(n);
	return rc;
}
