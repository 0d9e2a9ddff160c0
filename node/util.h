/*
 * util.h - small helpers shared by every module: a growable byte buffer with
 * a hard cap, hex formatting, and big-endian integer packing.
 *
 * Owns nothing global.  A struct ts_buf belongs to whoever declared it and is
 * released with ts_buf_free().
 */
#ifndef TSYNC_UTIL_H
#define TSYNC_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct tsync_ops;

struct ts_buf {
	uint8_t *p;
	size_t len;
	size_t cap;
	size_t max; /* hard limit; 0 means SIZE_MAX / 2 */
	int err;    /* sticky: a put failed (over max or out of memory) */
	const struct tsync_ops *ops;
};

void ts_buf_init(struct ts_buf *b, const struct tsync_ops *ops, size_t max);
int ts_buf_reserve(struct ts_buf *b, size_t more);
int ts_buf_put(struct ts_buf *b, const void *p, size_t n);
void ts_buf_consume(struct ts_buf *b, size_t n); /* drop n bytes from the front */
void ts_buf_free(struct ts_buf *b);

void *ts_alloc(const struct tsync_ops *ops, size_t n);
void *ts_realloc(const struct tsync_ops *ops, void *p, size_t n);
/*
 * Room for element n of the array *pp (a pointer to the array's pointer)
 * of `size`-byte elements whose capacity is *cap: when it is full, the
 * capacity doubles (from `first`).  0, or TSYNC_ENOMEM with *pp and *cap
 * as they were.
 */
int ts_grow(void *pp, size_t *cap, size_t n, size_t size, size_t first);
void ts_free(const struct tsync_ops *ops, void *p);
char *ts_strdup(const struct tsync_ops *ops, const char *s);
uint64_t ts_now_ms(const struct tsync_ops *ops);

void hex_encode(const uint8_t *p, size_t n, char *out); /* out: 2n+1 */
int hex_decode(const char *s, uint8_t *out, size_t n);  /* 0 on success */
void id_format(uint64_t id, char out[17]);

/*
 * Finishes a file written to `tmp` through f: flushes, fsyncs and closes
 * it, then renames it over `path`, so a crash leaves the old file or the
 * new one, never half of one.  On failure tmp is removed; returns -1.
 */
int ts_file_replace(FILE *f, const char *tmp, const char *path);
int id_parse(const char *s, uint64_t *id);

void be64_put(uint8_t *p, uint64_t v);
uint64_t be64_get(const uint8_t *p);

/* snprintf that never overflows and always terminates. */
void ts_fmt(char *dst, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
