/* test_hlc.c - the hybrid logical clock: monotonic, bounded by skew. */
#include "check.h"
#include "hlc.h"

int
main(void)
{
	struct hlc c = {0};
	uint64_t a, b, d;

	a = hlc_now(&c, 1000);
	CHECK_EQ(hlc_ms(a), 1000);
	b = hlc_now(&c, 1000); /* same millisecond: logical tick */
	CHECK(b > a);
	CHECK_EQ(hlc_ms(b), 1000);
	d = hlc_now(&c, 999); /* clock stepped back: still increases */
	CHECK(d > b);
	CHECK_EQ(hlc_now(&c, 2000), hlc_make(2000, 0));

	/* A remote value within the bound is adopted. */
	CHECK_EQ(hlc_observe(&c, hlc_make(2500, 3), 2000, 1000), 0);
	CHECK(hlc_now(&c, 2000) > hlc_make(2500, 3));

	/* A far-ahead remote clock is bounded and reported. */
	CHECK_EQ(hlc_observe(&c, hlc_make(10000000, 0), 3000, 1000), 1);
	CHECK(c.last <= hlc_make(4000, 0xffff));
	CHECK(c.last >= hlc_make(4000, 0));

	/* Nothing wraps: at the top the clock stays at the top. */
	c.last = UINT64_MAX - 1;
	CHECK_EQ(hlc_now(&c, 1000), UINT64_MAX);
	CHECK_EQ(hlc_now(&c, 1000), UINT64_MAX);
	CHECK_EQ(hlc_make(1ULL << 48, 0), UINT64_MAX);
	c.last = 0;
	hlc_observe(&c, hlc_make(2000, 0), UINT64_MAX - 5, 1000);
	CHECK_EQ(c.last, hlc_make(2000, 0)); /* the bound did not wrap */

	/* The valid range: 2020-01-01 included to 2100-01-01 excluded. */
	CHECK(!hlc_valid(0));
	CHECK(!hlc_valid(HLC_MIN - 1));
	CHECK(hlc_valid(HLC_MIN));
	CHECK(hlc_valid(hlc_make(1700000000000ULL, 7)));
	CHECK(hlc_valid(HLC_MAX));
	CHECK(!hlc_valid(HLC_MAX + 1));
	CHECK(!hlc_valid(UINT64_MAX));
	CHECK(HLC_MAX < 1ULL << 63); /* signed and unsigned orders agree */
	CHECK(hlc_ms_valid(HLC_MIN_MS) && !hlc_ms_valid(HLC_END_MS));
	CHECK(!hlc_ms_valid(1000));

	CHECK(version_cmp(5, 1, 5, 2) < 0);
	CHECK(version_cmp(1ULL << 63, 1, 5, 2) > 0); /* unsigned */
	CHECK(version_cmp(6, 1, 5, 2) > 0);
	CHECK_EQ(version_cmp(5, 2, 5, 2), 0);
	return CHECK_DONE();
}
