/*
 * check.h - the assertions of tiersync's C tests.  A failed CHECK prints
 * file:line and both values, counts the failure and goes on; main() ends
 * with CHECK_DONE(), which prints "N passed, N failed".
 */
#ifndef TSYNC_CHECK_H
#define TSYNC_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int check_pass, check_fail;

#define CHECK(cond)                                                        \
	do {                                                               \
		if (cond) {                                                \
			check_pass++;                                      \
		} else {                                                   \
			check_fail++;                                      \
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n",       \
				__FILE__, __LINE__, #cond);                \
		}                                                          \
	} while (0)

#define CHECK_EQ(a, b)                                                     \
	do {                                                               \
		long long va_ = (long long)(a), vb_ = (long long)(b);      \
		if (va_ == vb_) {                                          \
			check_pass++;                                      \
		} else {                                                   \
			check_fail++;                                      \
			fprintf(stderr, "%s:%d: %s == %s: %lld != %lld\n", \
				__FILE__, __LINE__, #a, #b, va_, vb_);     \
		}                                                          \
	} while (0)

#define CHECK_STR(a, b)                                                    \
	do {                                                               \
		const char *sa_ = (a), *sb_ = (b);                         \
		if (sa_ != NULL && sb_ != NULL && strcmp(sa_, sb_) == 0) { \
			check_pass++;                                      \
		} else {                                                   \
			check_fail++;                                      \
			fprintf(stderr, "%s:%d: %s == %s: '%s' != '%s'\n", \
				__FILE__, __LINE__, #a, #b,                \
				sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)"); \
		}                                                          \
	} while (0)

#define CHECK_DONE()                                                       \
	(printf("%d passed, %d failed\n", check_pass, check_fail),         \
	 check_fail == 0 && check_pass > 0 ? 0 : 1)

#endif
