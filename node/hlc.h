/*
 * hlc.h - hybrid logical clock.
 *
 * An HLC timestamp is a uint64: the upper 48 bits are milliseconds since the
 * Unix epoch, the lower 16 bits a logical counter.  A version is the pair
 * (hlc, origin node id), compared hlc first, then origin.
 *
 * Invariants: hlc_now() returns a value strictly greater than every value
 * it returned or observed before.  hlc_observe() never moves the clock past
 * physical time + max_skew, so one far-ahead remote clock cannot drag this
 * node's clock forward without limit; the caller flags such origins.
 */
#ifndef TSYNC_HLC_H
#define TSYNC_HLC_H

#include <stdint.h>

#define HLC_LOGICAL_BITS 16
#define HLC_DEFAULT_MAX_SKEW_MS (5ULL * 60 * 1000) /* five minutes */

/*
 * The valid range: the physical part from 2020-01-01T00:00:00Z included
 * to 2100-01-01T00:00:00Z excluded, the logical part any.  Every valid
 * HLC is below 2^63, so it orders the same as a uint64 and as SQLite's
 * signed INTEGER.  A txn whose HLC (or a version it names as overwritten,
 * other than 0) lies outside is malformed; a node refuses to write while
 * its clock, or the HLC its commit needs, lies outside.
 */
#define HLC_MIN_MS 1577836800000ULL /* 2020-01-01T00:00:00Z */
#define HLC_END_MS 4102444800000ULL /* 2100-01-01T00:00:00Z, excluded */
#define HLC_MIN ((uint64_t)HLC_MIN_MS << HLC_LOGICAL_BITS)
#define HLC_MAX (((uint64_t)HLC_END_MS << HLC_LOGICAL_BITS) - 1)

struct hlc {
	uint64_t last;
};

static inline uint64_t
hlc_ms(uint64_t h)
{
	return h >> HLC_LOGICAL_BITS;
}

/* Saturates: a time past the 48-bit field gives the largest value. */
static inline uint64_t
hlc_make(uint64_t ms, uint64_t logical)
{
	if (ms >= 1ULL << (64 - HLC_LOGICAL_BITS))
		return UINT64_MAX;
	return ms << HLC_LOGICAL_BITS | (logical & 0xffff);
}

static inline int
hlc_valid(uint64_t h)
{
	return h >= HLC_MIN && h <= HLC_MAX;
}

static inline int
hlc_ms_valid(uint64_t ms)
{
	return ms >= HLC_MIN_MS && ms < HLC_END_MS;
}

/* a + b, saturating at UINT64_MAX. */
static inline uint64_t
hlc_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Next local timestamp, given physical time `phys_ms`. */
uint64_t hlc_now(struct hlc *c, uint64_t phys_ms);

/*
 * Takes a remote timestamp into account.  Returns 1 when `remote` was more
 * than `max_skew_ms` ahead of `phys_ms` (the clock then advances only to
 * the bound), 0 otherwise.
 */
int hlc_observe(struct hlc *c, uint64_t remote, uint64_t phys_ms,
		uint64_t max_skew_ms);

/*
 * Compares versions (hlc, origin) as unsigned numbers: <0, 0, >0.  The
 * one order of versions: the merge calls it, and verify through the SQL
 * function ts_version_cmp (verify.c).
 */
static inline int
version_cmp(uint64_t ha, uint64_t oa, uint64_t hb, uint64_t ob)
{
	if (ha != hb)
		return ha < hb ? -1 : 1;
	if (oa != ob)
		return oa < ob ? -1 : 1;
	return 0;
}

#endif
