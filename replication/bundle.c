/*
 * bundle.c - sneakernet: the frames a socket would carry, in a file.
 *
 * A bundle is BUNDLE, then CERT and BATCH frames, then END (see
 * docs/protocol.md, "Bundles").  Export writes what a node of the target
 * scope may see; import runs each BATCH through apply_batch(), the code
 * the network path uses, so every check and the quarantine apply.  Memory
 * is bounded by one batch either way.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply.h"
#include "frame.h"
#include "node_int.h"
#include "revoke.h"
#include "scope.h"
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
	struct buf b;
	uint64_t offset; /* file offset of b.p[0] */
	int eof;
};

/* Next frame: 1 with f set, 0 at a clean end, <0 on a bad frame. */
static int
read_frame(struct reader *r, struct frame *f, uint64_t *at)
{
	const uint8_t *body;
	size_t len, used;
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
		if (buf_reserve(&r->b, 1u << 16) != 0)
			return TSYNC_ENOMEM;
		len = fread(r->b.p + r->b.len, 1, r->b.cap - r->b.len, r->f);
		r->b.len += len;
		if (len == 0)
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
	buf_consume(&r->b, (size_t)(r->offset - at));
}

/* Reads the END vv of an earlier bundle (for --since). */
static int
since_vv(const char *path, struct vv *v, char *why, size_t len)
{
	struct reader r;
	struct frame f;
	uint64_t at;
	int rc, found = 0;

	memset(&r, 0, sizeof(r));
	memset(v, 0, sizeof(*v));
	buf_init(&r.b, NULL, FRAME_MAX + 4);
	if ((r.f = fopen(path, "rb")) == NULL) {
		ts_fmt(why, len, "cannot open %s: %s", path, strerror(errno));
		return TSYNC_ENOENT;
	}
	while ((rc = read_frame(&r, &f, &at)) == 1) {
		const msgpack_object *a;
		uint32_t n;

		if (f.type == WIRE_END && frame_arr(&f, 2, &a, &n) == 0 &&
		    take_vv(a, n, v) == 0)
			found = 1;
		frame_release(&r, &f, at);
	}
	fclose(r.f);
	buf_free(&r.b);
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
	struct buf frame, batch;
	unsigned count;
	uint64_t batches, txns;
	int err;
};

static int
write_frame(struct exporter *x)
{
	if (x->frame.err != 0 ||
	    fwrite(x->frame.p, 1, x->frame.len, x->f) != x->frame.len)
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
	if (buf_put(&x->frame, x->batch.p, x->batch.len) != 0 ||
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

		rc = log_read(x->n, s->sid, from, s->seq,
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

	if ((rc = log_streams(x->n, &v, &cnt)) != 0)
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

int
tsync_bundle_export(const char *dir, const char *for_scope, const char *out,
		    const char *since, struct tsync_bundle_result *r)
{
	struct exporter x;
	struct vv sv = {NULL, 0}, after = {NULL, 0};
	msgpack_packer pk;
	char tmp[PATH_MAX];
	size_t f;
	int rc;

	memset(r, 0, sizeof(*r));
	memset(&x, 0, sizeof(x));
	if (!scope_valid(for_scope, 0)) {
		ts_fmt(r->why, sizeof(r->why), "--for '%s' is not a scope path",
		       for_scope);
		return TSYNC_EINVAL;
	}
	if (since != NULL && (rc = since_vv(since, &sv, r->why,
					    sizeof(r->why))) != 0)
		return rc;
	if (tsync_node_open(dir, NULL, &x.n) != 0) {
		ts_fmt(r->why, sizeof(r->why), "%s", tsync_node_errmsg(x.n));
		rc = TSYNC_EINVAL;
		goto out;
	}
	ts_fmt(tmp, sizeof(tmp), "%s.tmp", out);
	if ((x.f = fopen(tmp, "wb")) == NULL) {
		ts_fmt(r->why, sizeof(r->why), "cannot create %s: %s", tmp,
		       strerror(errno));
		rc = TSYNC_EIO;
		goto out;
	}
	buf_init(&x.frame, NULL, 0);
	buf_init(&x.batch, NULL, 0);
	/* One read transaction: the bundle is one consistent snapshot. */
	sqlite3_exec(x.n->db, "BEGIN", NULL, NULL, NULL);
	f = frame_begin(&x.frame, &pk);
	msgpack_pack_array(&pk, 6);
	msgpack_pack_uint8(&pk, WIRE_BUNDLE);
	msgpack_pack_uint8(&pk, BUNDLE_FMT);
	msgpack_pack_uint64(&pk, x.n->id);
	msgpack_pack_str_with_body(&pk, for_scope, strlen(for_scope));
	msgpack_pack_uint64(&pk, ts_now_ms(NULL));
	pack_vv(&pk, &sv);
	frame_end(&x.frame, f);
	rc = write_frame(&x);
	{
		char *pem;
		size_t len;

		if (rc == 0 && crl_pem(x.n, &pem, &len) == 0) {
			f = frame_begin(&x.frame, &pk);
			msgpack_pack_array(&pk, 2);
			msgpack_pack_uint8(&pk, WIRE_CRL);
			msgpack_pack_bin_with_body(&pk, pem, len);
			frame_end(&x.frame, f);
			free(pem);
			rc = write_frame(&x);
		}
	}
	if (rc == 0)
		rc = export_all(&x, for_scope, &sv, &after);
	if (rc == 0) {
		f = frame_begin(&x.frame, &pk);
		msgpack_pack_array(&pk, 3);
		msgpack_pack_uint8(&pk, WIRE_END);
		msgpack_pack_uint64(&pk, x.txns);
		pack_vv(&pk, &after);
		frame_end(&x.frame, f);
		rc = write_frame(&x);
	}
	sqlite3_exec(x.n->db, "COMMIT", NULL, NULL, NULL);
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
	buf_free(&x.frame);
	buf_free(&x.batch);
out:
	free(sv.e);
	free(after.e);
	tsync_node_close(x.n);
	return rc;
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
	rc = apply_batch(n, w, cnt / 2, peer, &rep, NULL, NULL);
	free(w);
	if (rc != 0)
		return rc;
	r->txns += cnt / 2;
	r->applied += rep.applied;
	r->duplicate += rep.duplicate;
	r->quarantined += rep.rejected;
	return 0;
}

int
tsync_bundle_import(const char *dir, const char *file,
		    struct tsync_bundle_result *r)
{
	struct tsync_node *n = NULL;
	struct reader rd;
	struct frame f;
	char peer[PATH_MAX + 64];
	uint64_t at = 0, end_txns = 0;
	int rc, nframes = 0, ended = 0;

	memset(r, 0, sizeof(*r));
	memset(&rd, 0, sizeof(rd));
	if (tsync_node_open(dir, NULL, &n) != 0) {
		ts_fmt(r->why, sizeof(r->why), "%s", tsync_node_errmsg(n));
		tsync_node_close(n);
		return TSYNC_EINVAL;
	}
	if ((rd.f = fopen(file, "rb")) == NULL) {
		ts_fmt(r->why, sizeof(r->why), "cannot open %s: %s", file,
		       strerror(errno));
		tsync_node_close(n);
		return TSYNC_ENOENT;
	}
	buf_init(&rd.b, NULL, FRAME_MAX + 4);
	ts_fmt(peer, sizeof(peer), "bundle %s", file);
	while (!ended && (rc = read_frame(&rd, &f, &at)) == 1) {
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
		} else {
			rc = TSYNC_EPROTO;
		}
		frame_release(&rd, &f, at);
		if (rc != 0)
			break;
	}
	fclose(rd.f);
	buf_free(&rd.b);
	if (rc == 0 && !ended)
		rc = TSYNC_ENOENT;
	if (rc == 0 && end_txns != r->txns) {
		ts_fmt(r->why, sizeof(r->why),
		       "bundle says %llu txns but held %llu",
		       (unsigned long long)end_txns,
		       (unsigned long long)r->txns);
		rc = TSYNC_ECORRUPT;
	} else if (rc != 0) {
		r->bad_offset = at;
		ts_fmt(r->why, sizeof(r->why),
		       "%s at byte %llu of %s: the %llu txns before it were "
		       "applied and kept; ask the sender for a new bundle "
		       "(or one --since the last good one)",
		       rc == TSYNC_ENOENT	  ? "bundle truncated"
		       : rc == TSYNC_EPROTO ? "corrupt frame"
					    : tsync_node_errmsg(n),
		       (unsigned long long)r->bad_offset, file,
		       (unsigned long long)r->txns);
		rc = rc == TSYNC_ENOENT || rc == TSYNC_EPROTO ? TSYNC_ECORRUPT
							       : rc;
	}
	tsync_node_close(n);
	return rc;
}
