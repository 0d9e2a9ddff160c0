/*
 * frame.h - the wire format: length-prefixed msgpack frames.
 *
 * A frame is a 4-byte big-endian length N (1 <= N <= FRAME_MAX) followed
 * by N bytes holding one msgpack array whose first element is the message
 * type.  docs/protocol.md is the normative description; this header and
 * frame.c implement it.  Frames are the same on a socket and in a bundle.
 *
 * Does not: decide what to send (session.c) or move bytes (net.c).
 */
#ifndef TSYNC_FRAME_H
#define TSYNC_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "tiersync/tiersync.h"
#include "util.h"

#define PROTO_VERSION TSYNC_PROTOCOL_VERSION /* tiersync.h: highest spoken */
#define PROTO_MIN TSYNC_PROTOCOL_MIN         /* lowest spoken */
/*
 * HELLO element 5: the schema floor of the link.  Release 0.1.0 refuses a
 * peer whose element 5 differs from its own schema (1); since 0.2.0 a node
 * keeps and relays what its schema does not know, so every release sends
 * 1 here and its replica's schema in element 8 (docs/protocol.md, 2.4).
 */
#define LINK_SCHEMA 1
/*
 * Message types from WIRE_SKIPPABLE up may be skipped by a receiver that
 * does not know them (protocol 2 on); an unknown type below it is an error.
 * Elements appended to any message are ignored by a receiver that does not
 * know them.  A sender sends such types only once both sides agreed on the
 * protocol version that defines them.
 */
#define WIRE_SKIPPABLE 32
#define FRAME_MAX (17u << 20) /* one txn of TXN_MAX_BODY plus framing */

/*
 * Decoding caps (docs/protocol.md, section 9.1).  msgpack-c allocates an
 * array's or map's elements from its header before it has read them, so
 * every count is checked against the bytes that remain (each element takes
 * at least one byte) and against these caps before anything is unpacked.
 */
#define FRAME_ELEMS_MAX (1u << 19) /* msgpack objects in one frame */
#define FRAME_DEPTH_MAX 16         /* nesting of arrays and maps */
#define BATCH_ELEMS_MAX (1u << 21) /* objects in all txn bodies of a BATCH */
#define VV_MAX (1u << 17)          /* streams in one VV, DONE or END */

enum msg_type {
	/* [1, proto_min, node_id, scope, role, link_schema, mode,
	 *  proto_max, schema, release] (elements 7-9 since protocol 2) */
	WIRE_HELLO = 1,
	WIRE_VV = 2,    /* [2, [origin, scope, seq, ...]] flat triples */
	WIRE_CERT = 3,  /* [3, pem:bin] */
	WIRE_BATCH = 4, /* [4, batch_no, [body:bin, sig:bin, ...]] */
	WIRE_ACK = 5,   /* [5, batch_no, applied, rejected] */
	WIRE_PING = 6,  /* [6, ms] */
	WIRE_PONG = 7,  /* [7, ms] */
	WIRE_ERROR = 8, /* [8, code, text] */
	WIRE_BYE = 9,   /* [9, text] */
	WIRE_DONE = 10, /* [10, [origin, scope, seq, ...]] caught up */
	/* [11, fmt, node_id, for_scope, created_ms, since, proto, schema,
	 * release] (elements 6-8 since protocol 2) */
	WIRE_BUNDLE = 11,
	WIRE_END = 12,  /* [12, txns, [origin, scope, seq, ...], hashes, sig] */
	WIRE_CRL = 13,  /* [13, pem:bin] the district's revocation list */
	/* A snapshot first pull (protocol 2, skippable; snap.h, 3.14). */
	WIRE_SNAP_REQ = 40,    /* [40] an empty replica asks */
	WIRE_SNAP_OFFER = 41,  /* [41, ok, why, vv, tables, tids] */
	WIRE_SNAP_DATA = 42,   /* [42, table, ncol, [value, ...]] */
	WIRE_SNAP_END = 43,    /* [43, ok, why, rows] */
	WIRE_SNAP_RESULT = 44, /* [44, ok, why] the puller's check */
};

/* Element 1 of BUNDLE: the bundle file format (docs/protocol.md 7.1). */
#define BUNDLE_FMT 1

enum err_code {
	ERR_PROTO_VERSION = 1,
	ERR_SCHEMA_VERSION = 2,
	ERR_IDENTITY = 3,
	ERR_MALFORMED = 4,
	ERR_INTERNAL = 5,
	ERR_TIMEOUT = 6,
	ERR_ROLE = 7,
	ERR_LIMIT = 8, /* a per-peer cap was exceeded (section 9.1) */
};

/* Appends a frame header placeholder; frame_end() fills the length. */
size_t frame_begin(struct ts_buf *b, msgpack_packer *pk);
int frame_end(struct ts_buf *b, size_t start);

/*
 * Looks for one complete frame at the front of p[0..n).  Returns 1 and
 * sets *body and *len (the msgpack bytes) and *used (header + body) when one is
 * there, 0 when more bytes are needed, or TSYNC_EPROTO when the length is
 * out of bounds.
 */
int frame_next(const uint8_t *p, size_t n, const uint8_t **body,
	       size_t *len, size_t *used);

/*
 * Walks the one msgpack value at the front of p[0..n) without allocating.
 * Every array, map, str, bin and ext length must fit in the bytes that
 * remain, nesting must stay within FRAME_DEPTH_MAX, and the objects it
 * would decode to are taken from *budget (an array of k counts k, a map of
 * k pairs 2k).  Returns 0 and sets *used, or TSYNC_ECORRUPT.
 */
int frame_mp_check(const uint8_t *p, size_t n, size_t *budget, size_t *used);

/*
 * Decodes a frame body: its type and the array elements.  Returns
 * TSYNC_ECORRUPT when frame_mp_check() refuses a count (nothing was
 * allocated for it), TSYNC_EPROTO when it is not one msgpack array with a
 * type.
 */
struct frame {
	msgpack_unpacked up;
	int type;
	const msgpack_object *a; /* elements, a[0] is the type */
	uint32_t n;
};
int frame_decode(struct frame *f, const uint8_t *body, size_t len);
void frame_done(struct frame *f);

/* Accessors: 0 on success, -1 when the element is missing or mistyped. */
int frame_u64(const struct frame *f, uint32_t i, uint64_t *v);
int frame_str(const struct frame *f, uint32_t i, const char **s,
	      uint32_t *len);
int frame_bin(const struct frame *f, uint32_t i, const uint8_t **p,
	      uint32_t *len);
int frame_arr(const struct frame *f, uint32_t i, const msgpack_object **a,
	      uint32_t *len);

#endif
