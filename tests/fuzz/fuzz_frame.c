/*
 * fuzz_frame.c - the frame layer (replication/frame.h) fed arbitrary
 * bytes: frame_next on the input as a stream, frame_mp_check with the
 * frame budget, and frame_decode with every accessor on every element.
 *
 * Besides the sanitizers it checks one property: when frame_mp_check()
 * accepts a value, msgpack-c decodes exactly the same bytes as one value.
 * A disagreement means the walker's counts (which guard msgpack-c's
 * allocations) are not the counts msgpack-c acts on.
 */
#include <stdio.h>
#include <stdlib.h>

#include "frame.h"

static void
walker_agrees(const uint8_t *p, size_t n)
{
	size_t budget = FRAME_ELEMS_MAX, used = 0, off = 0;
	msgpack_unpacked up;
	int rc;

	if (frame_mp_check(p, n, &budget, &used) != 0)
		return;
	if (used == 0 || used > n)
		abort();
	msgpack_unpacked_init(&up);
	rc = msgpack_unpack_next(&up, (const char *)p, used, &off);
	if (rc != MSGPACK_UNPACK_SUCCESS || off != used) {
		fprintf(stderr, "frame_mp_check took %zu bytes, msgpack-c: "
			"rc %d after %zu\n", used, rc, off);
		abort();
	}
	msgpack_unpacked_destroy(&up);
}

static void
decode_all(const uint8_t *p, size_t n)
{
	struct frame f;
	uint32_t i;

	if (frame_decode(&f, p, n) == 0) {
		for (i = 0; i <= f.n; i++) {
			const msgpack_object *a;
			const uint8_t *b;
			const char *s;
			uint64_t v;
			uint32_t len;

			(void)frame_u64(&f, i, &v);
			(void)frame_str(&f, i, &s, &len);
			(void)frame_bin(&f, i, &b, &len);
			(void)frame_arr(&f, i, &a, &len);
		}
	}
	frame_done(&f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *body;
	size_t len, used, off = 0;

	/* The input as one frame body. */
	walker_agrees(data, size);
	decode_all(data, size);
	/* The input as a stream of length-prefixed frames. */
	while (frame_next(data + off, size - off, &body, &len, &used) == 1) {
		if (used != 4 + len || used > size - off)
			abort();
		decode_all(body, len);
		off += used;
	}
	return 0;
}
