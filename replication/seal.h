/*
 * seal.h - sealed bundles: the bytes of a plain bundle, encrypted for the
 * certificates that may read them (docs/protocol.md, section 7.5).
 *
 * Owns the file format below and its cryptography: one random content key
 * per file; each recipient gets it wrapped with X25519 (a fresh ephemeral
 * key per recipient) + HKDF-SHA256 + AES-256-GCM; the content is cut into
 * chunks of at most SEAL_CHUNK bytes, each AES-256-GCM with the chunk's
 * index as nonce and the header's SHA-256, the index, the length and the
 * final flag as associated data.  So a reader that knows none of the
 * recipients' keys learns only sizes and recipient ids, and a reader that
 * does detects any changed, dropped, reordered or missing chunk before it
 * hands out one byte of it.
 *
 *   header  magic "TSYNCSB" (7) | version 1 (1) | salt (16) | nrecip (2)
 *           nrecip x ( node_id (8) | eph_pub (32) | wrapped key (32) |
 *                      tag (16) )
 *   chunk   word (4: bit 31 final, bits 0-30 length) | ciphertext | tag (16)
 *
 * All integers big-endian.  Does not: choose the recipients, or know what
 * the bytes mean (replication/bundle.c does both).  Memory is bounded by
 * one chunk each way, plus the header (at most SEAL_RECIP_MAX entries).
 */
#ifndef TSYNC_SEAL_H
#define TSYNC_SEAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "keys.h"

#define SEAL_MAGIC "TSYNCSB"
#define SEAL_MAGIC_LEN 7
#define SEAL_VERSION 1
#define SEAL_CHUNK (64u * 1024)
#define SEAL_RECIP_MAX 1024
#define SEAL_PREFIX_LEN 26 /* magic, version, salt, nrecip */
#define SEAL_ENTRY_LEN 88

struct seal_recip {
	uint64_t node_id;
	uint8_t pub[KEYS_ENC_LEN];
};

struct seal_writer;
struct seal_reader;

/* 1 if `f` (rewound after the look) starts with the sealed magic. */
int seal_sniff(FILE *f);

/*
 * Writes the header for `n` recipients (1..SEAL_RECIP_MAX) to `f` (which
 * stays the caller's).  On success the caller owns *out and releases it
 * with seal_writer_free().
 */
int seal_writer_new(FILE *f, const struct seal_recip *r, size_t n,
		    struct seal_writer **out);
/* Appends plaintext; full chunks go to the file.  TSYNC_EIO sticks. */
int seal_write(struct seal_writer *w, const void *p, size_t n);
/* Writes the last chunk, flagged final.  Call once, after the last write. */
int seal_finish(struct seal_writer *w);
void seal_writer_free(struct seal_writer *w); /* wipes the key; NULL ok */

/*
 * Reads the header from `f` (positioned at its start; it stays the
 * caller's) and opens the entry of `my_id` with `my_enc` (its X25519
 * private key, or NULL when the node has none).  Returns 0 with *out set;
 * TSYNC_ENOENT if the file ends inside the header; TSYNC_ECORRUPT for a
 * header this version does not read; TSYNC_ESCOPE when `my_id` is not a
 * recipient; TSYNC_EAUTH when its entry does not open (no key, another
 * key, or a changed byte).  `why` says which, naming the recipients.
 */
int seal_reader_open(FILE *f, uint64_t my_id, EVP_PKEY *my_enc,
		     struct seal_reader **out, char *why, size_t len);
/*
 * Up to `n` bytes of checked plaintext into p: the count, 0 after the
 * final chunk, or TSYNC_ENOENT (the file ends before its final chunk) or
 * TSYNC_EAUTH (a chunk fails its check); errors stick.
 */
long seal_read(struct seal_reader *r, void *p, size_t n);
/* The sticky error of seal_read (0 if none), with the file offset and the
 * index (from 0) of the chunk it stopped at. */
int seal_error(const struct seal_reader *r, uint64_t *offset,
	       uint64_t *chunk);
void seal_reader_free(struct seal_reader *r); /* wipes the key; NULL ok */

#endif
