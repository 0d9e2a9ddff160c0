/*
 * hlc.c - hybrid logical clock; see hlc.h for the encoding and invariants.
 */
#include "hlc.h"

#include <stdio.h>
#include <time.h>

#include "tiersync/tiersync.h"

uint64_t
hlc_now(struct hlc *c, uint64_t phys_ms)
{
	uint64_t p = hlc_make(phys_ms, 0);

	/* Never wraps: at the top it stays there, and the caller, which
	 * checks hlc_valid(), refuses to write. */
	c->last = p > c->last ? p : hlc_add(c->last, 1);
	return c->last;
}

int
hlc_observe(struct hlc *c, uint64_t remote, uint64_t phys_ms,
	    uint64_t max_skew_ms)
{
	uint64_t bound = hlc_make(hlc_add(phys_ms, max_skew_ms), 0xffff);

	if (remote > bound) {
		/* Up to the bound, with the logical counter free to tick. */
		uint64_t cap = hlc_make(hlc_add(phys_ms, max_skew_ms), 0);

		if (cap > c->last)
			c->last = cap;
		return 1;
	}
	if (remote > c->last)
		c->last = remote;
	return 0;
}

void
tsync_hlc_format(uint64_t hlc, char *buf, size_t len)
{
	uint64_t ms = hlc_ms(hlc);
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	char day[32];

	if (gmtime_r(&secs, &tm) == NULL ||
	    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		snprintf(buf, len, "%llu", (unsigned long long)hlc);
		return;
	}
	snprintf(buf, len, "%s.%03uZ+%u", day, (unsigned)(ms % 1000),
		 (unsigned)(hlc & 0xffff));
}
