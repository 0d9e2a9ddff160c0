/*
 * txn.h - the txn encoding: msgpack bodies, their hash and signature.
 *
 * A txn body is the msgpack array
 *   [fmt=1, origin:u64, scope:str, seq:u64, prev:bin32, hlc:u64,
 *    schema:u32, tables:[[name:str, [colname:str...]]...],
 *    changes:[change...]]
 * change = [table:uint (index into tables), id:str, kind:u8,
 *           row_prev_hlc:u64, row_prev_origin:u64, cols:[...]]
 * cols is flat, four items per column written:
 *           col:uint (index into the table's colnames),
 *           value:nil|int|float|str|bin, prev_hlc:u64, prev_origin:u64
 * kind: 0 update, 1 insert (the row becomes live), 2 delete (tombstone).
 * hash = SHA-256(body); sig = Ed25519(origin key, "tsync-txn-1" || hash).
 * Every version written by a txn is (hlc, origin) of the txn.
 * docs/data-model.md is the prose form of this header.
 *
 * Does not: touch the database (capture.c, merge.c, log.c do).
 */
#ifndef TSYNC_TXN_H
#define TSYNC_TXN_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "keys.h"
#include "util.h"

#define TXN_FMT 1
#define TXN_MAX_BODY (16u << 20) /* 16 MiB: a larger commit is refused */

enum { TXN_UPDATE = 0, TXN_INSERT = 1, TXN_DELETE = 2 };

struct txn {
	uint64_t origin;
	const char *scope; /* not NUL-terminated; points into the body */
	uint32_t scope_len;
	uint64_t seq;
	const uint8_t *prev; /* 32 bytes */
	uint64_t hlc;
	uint32_t schema;
	const msgpack_object *tables;
	const msgpack_object *changes;
	uint32_t nchanges;
	uint8_t hash[KEYS_HASH_LEN];
	msgpack_unpacked up; /* owns the decoded objects */
};

struct txn_change {
	const char *table;
	uint32_t table_len;
	const char *id;
	uint32_t id_len;
	int kind;
	uint64_t row_prev_hlc, row_prev_origin;
	const msgpack_object *colnames;
	const msgpack_object *cols;
	uint32_t ncols;
};

struct txn_col {
	const char *name;
	uint32_t name_len;
	const msgpack_object *value;
	uint64_t prev_hlc, prev_origin;
};

/* msgpack writer appending to a struct ts_buf; a failed write sets b->err */
void txn_packer(msgpack_packer *pk, struct ts_buf *b);

/*
 * Decodes and structurally validates `body`.  On failure writes a reason to
 * err and returns TSYNC_ECORRUPT.  Release with txn_done() in every case.
 */
int txn_decode(struct txn *t, const uint8_t *body, size_t n, char *err,
	       size_t errlen);
void txn_done(struct txn *t);

/*
 * What decoding the txns of one batch shares: the SHA-256 digest fetched
 * once (a one-shot SHA256() fetches it again for every body) and one msgpack
 * zone for all their objects (no zone, so no malloc, per txn).  A txn
 * decoded with txn_decode_in() lives until txn_dec_free(); txn_done() on it
 * frees nothing.
 */
struct txn_dec {
	EVP_MD *md;
	EVP_MD_CTX *ctx;
	msgpack_zone *zone;
};

int txn_dec_init(struct txn_dec *d);
void txn_dec_free(struct txn_dec *d);
int txn_decode_in(struct txn_dec *d, struct txn *t, const uint8_t *body,
		  size_t n, char *err, size_t errlen);
void txn_change_at(const struct txn *t, uint32_t i, struct txn_change *c);
void txn_col_at(const struct txn_change *c, uint32_t j, struct txn_col *col);

int txn_sign(EVP_PKEY *k, const uint8_t hash[KEYS_HASH_LEN],
	      uint8_t sig[KEYS_SIG_LEN]);
int txn_verify_sig(EVP_PKEY *k, const uint8_t hash[KEYS_HASH_LEN],
		   const uint8_t sig[KEYS_SIG_LEN]);

/* Appends a msgpack encoding of an SQLite value. */
struct sqlite3_value;
struct sqlite3_stmt;
int txn_pack_value(msgpack_packer *pk, struct sqlite3_value *v);
/* Binds a decoded value (static: valid while the txn is). */
int txn_bind_value(struct sqlite3_stmt *s, int i, const msgpack_object *v);

#endif
