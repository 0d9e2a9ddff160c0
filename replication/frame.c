/*
 * frame.c - frame encoding and decoding; see frame.h and
 * docs/protocol.md.
 */
#include "frame.h"

#include <string.h>

#include "tiersync/tiersync.h"
#include "txn.h"

size_t
frame_begin(struct buf *b, msgpack_packer *pk)
{
	size_t start = b->len;
	static const uint8_t zero[4];

	buf_put(b, zero, 4);
	txn_packer(pk, b);
	return start;
}

int
frame_end(struct buf *b, size_t start)
{
	size_t n;

	if (b->len < start + 4)
		return TSYNC_ENOMEM;
	n = b->len - start - 4;
	if (n == 0 || n > FRAME_MAX)
		return TSYNC_EINVAL;
	b->p[start] = (uint8_t)(n >> 24);
	b->p[start + 1] = (uint8_t)(n >> 16);
	b->p[start + 2] = (uint8_t)(n >> 8);
	b->p[start + 3] = (uint8_t)n;
	return 0;
}

int
frame_next(const uint8_t *p, size_t n, const uint8_t **body, size_t *len,
	   size_t *used)
{
	size_t l;

	if (n < 4)
		return 0;
	l = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
	if (l == 0 || l > FRAME_MAX)
		return TSYNC_EPROTO;
	if (n < 4 + l)
		return 0;
	*body = p + 4;
	*len = l;
	*used = 4 + l;
	return 1;
}

int
frame_decode(struct frame *f, const uint8_t *body, size_t len)
{
	size_t off = 0;

	memset(f, 0, sizeof(*f));
	msgpack_unpacked_init(&f->up);
	if (msgpack_unpack_next(&f->up, (const char *)body, len, &off) !=
		    MSGPACK_UNPACK_SUCCESS ||
	    off != len || f->up.data.type != MSGPACK_OBJECT_ARRAY ||
	    f->up.data.via.array.size < 1 ||
	    f->up.data.via.array.ptr[0].type !=
		    MSGPACK_OBJECT_POSITIVE_INTEGER)
		return TSYNC_EPROTO;
	f->a = f->up.data.via.array.ptr;
	f->n = f->up.data.via.array.size;
	f->type = (int)(f->a[0].via.u64 & 0xff);
	if (f->a[0].via.u64 > 0xff)
		f->type = 0;
	return 0;
}

void
frame_done(struct frame *f)
{
	msgpack_unpacked_destroy(&f->up);
}

int
frame_u64(const struct frame *f, uint32_t i, uint64_t *v)
{
	if (i >= f->n || f->a[i].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return -1;
	*v = f->a[i].via.u64;
	return 0;
}

int
frame_str(const struct frame *f, uint32_t i, const char **s, uint32_t *len)
{
	if (i >= f->n || f->a[i].type != MSGPACK_OBJECT_STR)
		return -1;
	*s = f->a[i].via.str.ptr;
	*len = f->a[i].via.str.size;
	return 0;
}

int
frame_bin(const struct frame *f, uint32_t i, const uint8_t **p,
	  uint32_t *len)
{
	if (i >= f->n || f->a[i].type != MSGPACK_OBJECT_BIN)
		return -1;
	*p = (const uint8_t *)f->a[i].via.bin.ptr;
	*len = f->a[i].via.bin.size;
	return 0;
}

int
frame_arr(const struct frame *f, uint32_t i, const msgpack_object **a,
	  uint32_t *len)
{
	if (i >= f->n || f->a[i].type != MSGPACK_OBJECT_ARRAY)
		return -1;
	*a = f->a[i].via.array.ptr;
	*len = f->a[i].via.array.size;
	return 0;
}
