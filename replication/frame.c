/*
 * frame.c - frame encoding and decoding; see frame.h and
 * docs/protocol.md.
 */
#include "frame.h"

#include <string.h>

#include "tiersync/tiersync.h"
#include "txn.h"

size_t
frame_begin(struct ts_buf *b, msgpack_packer *pk)
{
	size_t start = b->len;
	static const uint8_t zero[4];

	ts_buf_put(b, zero, 4);
	txn_packer(pk, b);
	return start;
}

int
frame_end(struct ts_buf *b, size_t start)
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

/* Reads a big-endian integer of w bytes. */
static size_t
be_get(const uint8_t *p, unsigned w)
{
	size_t v = 0;

	while (w-- > 0)
		v = v << 8 | *p++;
	return v;
}

/*
 * The header of the msgpack object at p (n > 0 bytes): its size in bytes
 * (*hdr), the payload bytes that follow it (*skip) and the number of
 * child objects (*kids).  -1 for 0xc1 (never used) or a truncated header.
 */
static int
mp_head(const uint8_t *p, size_t n, size_t *hdr, size_t *skip, size_t *kids)
{
	/* 0xc4..0xdf: header length, then width of the length field. */
	static const uint8_t lw[28] = {
		1, 2, 4,          /* bin 8/16/32 */
		1, 2, 4,          /* ext 8/16/32 (one type byte follows) */
		0, 0,             /* float 32/64 */
		0, 0, 0, 0,       /* uint 8..64 */
		0, 0, 0, 0,       /* int 8..64 */
		0, 0, 0, 0, 0,    /* fixext 1..16 */
		1, 2, 4,          /* str 8/16/32 */
		2, 4,             /* array 16/32 */
		2, 4              /* map 16/32 */
	};
	static const uint8_t fixed[28] = {
		0, 0, 0, 0, 0, 0, 4, 8, 1, 2, 4, 8, 1, 2, 4, 8,
		2, 3, 5, 9, 17, 0, 0, 0, 0, 0, 0, 0
	};
	uint8_t b = p[0];
	unsigned w;

	*hdr = 1;
	*skip = *kids = 0;
	if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
		return 0;
	if (b <= 0x8f) {
		*kids = 2 * (size_t)(b & 0x0f);
		return 0;
	}
	if (b <= 0x9f) {
		*kids = b & 0x0f;
		return 0;
	}
	if (b <= 0xbf) {
		*skip = b & 0x1f;
		return 0;
	}
	if (b == 0xc1)
		return -1;
	w = lw[b - 0xc4];
	if (w == 0) {
		*skip = fixed[b - 0xc4];
		return 0;
	}
	if (n < 1 + (size_t)w)
		return -1;
	*hdr = 1 + w;
	if (b >= 0xdc) {
		*kids = be_get(p + 1, w) * (b >= 0xde ? 2 : 1);
		return 0;
	}
	*skip = be_get(p + 1, w) + (b >= 0xc7 && b <= 0xc9 ? 1 : 0);
	return 0;
}

int
frame_mp_check(const uint8_t *p, size_t n, size_t *budget, size_t *used)
{
	size_t left[FRAME_DEPTH_MAX + 1];
	size_t off = 0, hdr, skip, kids;
	int depth = 0;

	left[0] = 1;
	while (depth >= 0) {
		if (left[depth] == 0) {
			depth--;
			continue;
		}
		left[depth]--;
		if (off >= n || mp_head(p + off, n - off, &hdr, &skip,
					&kids) != 0 || skip > n - off - hdr)
			return TSYNC_EPROTO;
		off += hdr;
		/* Every child takes at least one byte: a count beyond the
		 * bytes left is a lie, refused before msgpack-c sees it. */
		if (kids > n - off || kids > *budget)
			return TSYNC_ECORRUPT;
		off += skip;
		*budget -= kids;
		if (kids > 0) {
			if (depth == FRAME_DEPTH_MAX)
				return TSYNC_ECORRUPT;
			left[++depth] = kids;
		}
	}
	*used = off;
	return 0;
}

int
frame_decode(struct frame *f, const uint8_t *body, size_t len)
{
	size_t off = 0, budget = FRAME_ELEMS_MAX;
	int rc;

	memset(f, 0, sizeof(*f));
	msgpack_unpacked_init(&f->up);
	if ((rc = frame_mp_check(body, len, &budget, &off)) != 0)
		return rc;
	if (off != len)
		return TSYNC_EPROTO;
	off = 0;
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
