/*
 * txn.c - encode, decode, hash and sign txn bodies.  See txn.h.
 */
#include "txn.h"

#include <string.h>

#include <sqlite3.h>

#include "hlc.h"
#include "tiersync/tiersync.h"

static int
ts_buf_write(void *data, const char *p, size_t n)
{
	return ts_buf_put(data, p, n) == 0 ? 0 : -1;
}

void
txn_packer(msgpack_packer *pk, struct ts_buf *b)
{
	msgpack_packer_init(pk, b, ts_buf_write);
}

int
txn_pack_value(msgpack_packer *pk, sqlite3_value *v)
{
	switch (sqlite3_value_type(v)) {
	case SQLITE_INTEGER:
		return msgpack_pack_int64(pk, sqlite3_value_int64(v));
	case SQLITE_FLOAT:
		return msgpack_pack_double(pk, sqlite3_value_double(v));
	case SQLITE_TEXT: {
		const unsigned char *s = sqlite3_value_text(v);
		int n = sqlite3_value_bytes(v);

		return msgpack_pack_str_with_body(pk, s, (size_t)n);
	}
	case SQLITE_BLOB: {
		const void *p = sqlite3_value_blob(v);
		int n = sqlite3_value_bytes(v);

		return msgpack_pack_bin_with_body(pk, p, (size_t)n);
	}
	default:
		return msgpack_pack_nil(pk);
	}
}

static int
get_u64(const msgpack_object *o, uint64_t *v)
{
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return -1;
	*v = o->via.u64;
	return 0;
}

static int
is_str(const msgpack_object *o)
{
	return o->type == MSGPACK_OBJECT_STR && o->via.str.size > 0;
}

static int
value_ok(const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
	case MSGPACK_OBJECT_FLOAT64:
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_STR:
	case MSGPACK_OBJECT_BIN:
		return 1;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		return o->via.u64 <= INT64_MAX;
	default:
		return 0;
	}
}

/* Checks the table dictionary: [[name, [col, ...]], ...]. */
static int
check_tables(const msgpack_object *o)
{
	const msgpack_object *e;
	uint32_t i, j;

	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > 255)
		return -1;
	for (i = 0; i < o->via.array.size; i++) {
		e = &o->via.array.ptr[i];
		if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 2 ||
		    !is_str(&e->via.array.ptr[0]) ||
		    e->via.array.ptr[1].type != MSGPACK_OBJECT_ARRAY ||
		    e->via.array.ptr[1].via.array.size > 255)
			return -1;
		for (j = 0; j < e->via.array.ptr[1].via.array.size; j++)
			if (!is_str(&e->via.array.ptr[1].via.array.ptr[j]))
				return -1;
	}
	return 0;
}

static int
check_change(const msgpack_object *o, const msgpack_object *tables)
{
	const msgpack_object *a, *cols;
	uint64_t v, tix, ncolnames;
	uint32_t j;

	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 6)
		return -1;
	a = o->via.array.ptr;
	if (get_u64(&a[0], &tix) || tix >= tables->via.array.size ||
	    !is_str(&a[1]) || get_u64(&a[2], &v) || v > TXN_DELETE ||
	    get_u64(&a[3], &v) || (v != 0 && !hlc_valid(v)) ||
	    get_u64(&a[4], &v) ||
	    a[5].type != MSGPACK_OBJECT_ARRAY || a[5].via.array.size % 4 != 0)
		return -1;
	ncolnames = tables->via.array.ptr[tix].via.array.ptr[1].via.array.size;
	cols = a[5].via.array.ptr;
	for (j = 0; j < a[5].via.array.size; j += 4) {
		if (get_u64(&cols[j], &v) || v >= ncolnames ||
		    !value_ok(&cols[j + 1]) || get_u64(&cols[j + 2], &v) ||
		    (v != 0 && !hlc_valid(v)) || get_u64(&cols[j + 3], &v))
			return -1;
	}
	return 0;
}

/* One msgpack value filling body[0..n), into d's zone or t's own. */
static int
unpack_body(struct txn_dec *d, struct txn *t, const uint8_t *body, size_t n)
{
	size_t off = 0;

	if (n > TXN_MAX_BODY)
		return -1;
	if (d == NULL)
		return msgpack_unpack_next(&t->up, (const char *)body, n,
					   &off) == MSGPACK_UNPACK_SUCCESS &&
			       off == n
			       ? 0
			       : -1;
	return msgpack_unpack((const char *)body, n, &off, d->zone,
			      &t->up.data) == MSGPACK_UNPACK_SUCCESS &&
		       off == n
		       ? 0
		       : -1;
}

static void
hash_body(struct txn_dec *d, const uint8_t *body, size_t n,
	  uint8_t out[KEYS_HASH_LEN])
{
	unsigned len = 0;

	if (d == NULL || EVP_DigestInit_ex(d->ctx, d->md, NULL) != 1 ||
	    EVP_DigestUpdate(d->ctx, body, n) != 1 ||
	    EVP_DigestFinal_ex(d->ctx, out, &len) != 1 ||
	    len != KEYS_HASH_LEN)
		keys_sha256(body, n, out);
}

int
txn_dec_init(struct txn_dec *d)
{
	d->md = EVP_MD_fetch(NULL, "SHA256", NULL);
	d->ctx = EVP_MD_CTX_new();
	d->zone = msgpack_zone_new(64u << 10);
	if (d->md != NULL && d->ctx != NULL && d->zone != NULL)
		return 0;
	txn_dec_free(d);
	return TSYNC_ENOMEM;
}

void
txn_dec_free(struct txn_dec *d)
{
	EVP_MD_free(d->md);
	EVP_MD_CTX_free(d->ctx);
	if (d->zone != NULL)
		msgpack_zone_free(d->zone);
	memset(d, 0, sizeof(*d));
}

static int decode_in(struct txn_dec *d, struct txn *t, const uint8_t *body,
		     size_t n, char *err, size_t errlen);

int
txn_decode(struct txn *t, const uint8_t *body, size_t n, char *err,
	   size_t errlen)
{
	return decode_in(NULL, t, body, n, err, errlen);
}

int
txn_decode_in(struct txn_dec *d, struct txn *t, const uint8_t *body,
	      size_t n, char *err, size_t errlen)
{
	return decode_in(d, t, body, n, err, errlen);
}

static int
decode_in(struct txn_dec *d, struct txn *t, const uint8_t *body, size_t n,
	  char *err, size_t errlen)
{
	const msgpack_object *a;
	uint64_t v;
	uint32_t i;

	memset(t, 0, sizeof(*t));
	msgpack_unpacked_init(&t->up);
	if (unpack_body(d, t, body, n) != 0) {
		ts_fmt(err, errlen, "txn body is not one msgpack value");
		return TSYNC_ECORRUPT;
	}
	if (t->up.data.type != MSGPACK_OBJECT_ARRAY ||
	    t->up.data.via.array.size != 9) {
		ts_fmt(err, errlen, "txn body is not a 9-element array");
		return TSYNC_ECORRUPT;
	}
	a = t->up.data.via.array.ptr;
	if (get_u64(&a[0], &v) || v != TXN_FMT) {
		ts_fmt(err, errlen, "unknown txn format");
		return TSYNC_ECORRUPT;
	}
	if (get_u64(&a[1], &t->origin) || !is_str(&a[2]) ||
	    get_u64(&a[3], &t->seq) || t->seq == 0 ||
	    a[4].type != MSGPACK_OBJECT_BIN || a[4].via.bin.size != 32 ||
	    get_u64(&a[5], &t->hlc) || get_u64(&a[6], &v) || v > UINT32_MAX ||
	    check_tables(&a[7]) != 0 || a[8].type != MSGPACK_OBJECT_ARRAY) {
		ts_fmt(err, errlen, "txn header fields have wrong types");
		return TSYNC_ECORRUPT;
	}
	if (!hlc_valid(t->hlc)) {
		ts_fmt(err, errlen, "txn hlc %llu is outside the valid range"
			 " (2020-01-01 to 2100-01-01)",
		       (unsigned long long)t->hlc);
		return TSYNC_ECORRUPT;
	}
	t->scope = a[2].via.str.ptr;
	t->scope_len = a[2].via.str.size;
	t->prev = (const uint8_t *)a[4].via.bin.ptr;
	t->schema = (uint32_t)v;
	t->tables = &a[7];
	t->changes = a[8].via.array.ptr;
	t->nchanges = a[8].via.array.size;
	for (i = 0; i < t->nchanges; i++) {
		if (check_change(&t->changes[i], t->tables) != 0) {
			ts_fmt(err, errlen, "txn change %u is malformed", i);
			return TSYNC_ECORRUPT;
		}
	}
	hash_body(d, body, n, t->hash);
	return 0;
}

void
txn_done(struct txn *t)
{
	msgpack_unpacked_destroy(&t->up);
}

void
txn_change_at(const struct txn *t, uint32_t i, struct txn_change *c)
{
	const msgpack_object *a = t->changes[i].via.array.ptr;
	const msgpack_object *tb = t->tables->via.array.ptr[a[0].via.u64]
					   .via.array.ptr;

	c->table = tb[0].via.str.ptr;
	c->table_len = tb[0].via.str.size;
	c->colnames = tb[1].via.array.ptr;
	c->id = a[1].via.str.ptr;
	c->id_len = a[1].via.str.size;
	c->kind = (int)a[2].via.u64;
	c->row_prev_hlc = a[3].via.u64;
	c->row_prev_origin = a[4].via.u64;
	c->cols = a[5].via.array.ptr;
	c->ncols = a[5].via.array.size / 4;
}

void
txn_col_at(const struct txn_change *c, uint32_t j, struct txn_col *col)
{
	const msgpack_object *a = c->cols + 4 * j;
	const msgpack_object *nm = &c->colnames[a[0].via.u64];

	col->name = nm->via.str.ptr;
	col->name_len = nm->via.str.size;
	col->value = &a[1];
	col->prev_hlc = a[2].via.u64;
	col->prev_origin = a[3].via.u64;
}

static void
sig_msg(const uint8_t hash[KEYS_HASH_LEN], uint8_t msg[11 + KEYS_HASH_LEN])
{
	memcpy(msg, "tsync-txn-1", 11);
	memcpy(msg + 11, hash, KEYS_HASH_LEN);
}

int
txn_sign(EVP_PKEY *k, const uint8_t hash[KEYS_HASH_LEN],
	 uint8_t sig[KEYS_SIG_LEN])
{
	uint8_t msg[11 + KEYS_HASH_LEN];

	sig_msg(hash, msg);
	return keys_sign(k, msg, sizeof(msg), sig);
}

int
txn_verify_sig(EVP_PKEY *k, const uint8_t hash[KEYS_HASH_LEN],
	       const uint8_t sig[KEYS_SIG_LEN])
{
	uint8_t msg[11 + KEYS_HASH_LEN];

	sig_msg(hash, msg);
	return keys_verify(k, msg, sizeof(msg), sig);
}

int
txn_bind_value(sqlite3_stmt *s, int i, const msgpack_object *v)
{
	switch (v->type) {
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		return sqlite3_bind_int64(s, i, (int64_t)v->via.u64);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return sqlite3_bind_int64(s, i, v->via.i64);
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return sqlite3_bind_double(s, i, v->via.f64);
	case MSGPACK_OBJECT_STR:
		return sqlite3_bind_text(s, i, v->via.str.ptr,
					 (int)v->via.str.size, SQLITE_STATIC);
	case MSGPACK_OBJECT_BIN:
		return sqlite3_bind_blob(s, i, v->via.bin.ptr,
					 (int)v->via.bin.size, SQLITE_STATIC);
	default:
		return sqlite3_bind_null(s, i);
	}
}
