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

struct hlc {
	uint64_t last;
};

static inline uint64_t
hlc_ms(uint64_t h)
{
	return h >> HLC_LOGICAL_BITS;
}

static inline uint64_t
hlc_make(uint64_t ms, uint64_t logical)
{
	return ms << HLC_LOGICAL_BITS | (logical & 0xffff);
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

/* Compares versions (hlc, origin): <0, 0, >0. */
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
