/*
 * local_write.c - bench group "local-write": writing case rows through the
 * node (capture, versions, signed txns) against plain SQLite inserting the
 * same rows with the same pragmas (WAL, synchronous=FULL), same process.
 *
 *   local_write_batched_ratio: 100k rows, 1000 per commit
 *   local_write_single_ratio:  5k rows, one per commit
 * A ratio of 1.0 means capture is free; lower is better.
 *
 * Each group runs in ROUNDS rounds, raw SQLite and the node taking turns
 * on their own files (a fifth of the rows each round), and the ratio is
 * the median of the rounds' ratios (_min and _max beside it): on a disk
 * shared with other work, a slow spell then lands on both sides of a
 * round instead of on one side of the whole run.  The rows/s are the
 * totals.
 * TSYNC_BENCH_BATCHED_ONLY / TSYNC_BENCH_SINGLE_ONLY run one half (for perf).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define SCOPE "gangzha/qinzao/feiqiao"
#define ROUNDS 5

static double
raw_chunk(sqlite3 *db, sqlite3_stmt *s, uint64_t first, uint64_t rows,
	  uint64_t per)
{
	double t0 = bench_now();
	uint64_t i;

	for (i = first; i < first + rows; i++) {
		if (i % per == 0)
			sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
		bench_bind_case(s, i, SCOPE);
		if (sqlite3_step(s) != SQLITE_DONE)
			abort();
		sqlite3_reset(s);
		if (i % per == per - 1)
			sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	}
	return bench_now() - t0;
}

static double
node_chunk(struct tsync_node *n, sqlite3_stmt *s, uint64_t first,
	   uint64_t rows, uint64_t per)
{
	double t0 = bench_now();
	uint64_t i;

	for (i = first; i < first + rows; i++) {
		if (i % per == 0 && tsync_node_begin(n) != 0)
			abort();
		bench_bind_case(s, i, SCOPE);
		if (sqlite3_step(s) != SQLITE_DONE)
			abort();
		sqlite3_reset(s);
		if (i % per == per - 1 && tsync_node_commit(n) != 0) {
			fprintf(stderr, "bench: %s\n", tsync_node_errmsg(n));
			exit(1);
		}
	}
	return bench_now() - t0;
}

/* One group: `rows` rows, `per` a commit; prints local_write_<name>_*. */
static void
group(const char *dir, const char *name, uint64_t rows, uint64_t per,
      const char *unit)
{
	char path[512];
	struct tsync_node *n;
	sqlite3 *db;
	sqlite3_stmt *rs, *ns;
	double r = 0, t = 0, ratio[ROUNDS];
	uint64_t chunk = rows / ROUNDS;
	int k;

	snprintf(path, sizeof(path), "%s/raw-%s.db", dir, name);
	if ((db = bench_raw_db(path)) == NULL ||
	    sqlite3_prepare_v2(db, bench_insert_sql, -1, &rs, NULL) != SQLITE_OK)
		exit(1);
	if (bench_node(dir, name, SCOPE, NULL, NULL) != 0)
		exit(1);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (tsync_node_open(path, NULL, &n) != 0) {
		fprintf(stderr, "bench: %s\n", tsync_node_errmsg(n));
		exit(1);
	}
	tsync_node_begin(n);
	sqlite3_prepare_v2(tsync_node_db(n), bench_insert_sql, -1, &ns, NULL);
	tsync_node_rollback(n);
	for (k = 0; k < ROUNDS; k++) {
		double a = raw_chunk(db, rs, (uint64_t)k * chunk, chunk, per);
		double b = node_chunk(n, ns, (uint64_t)k * chunk, chunk, per);

		r += a;
		t += b;
		ratio[k] = b / a;
	}
	qsort(ratio, ROUNDS, sizeof(ratio[0]), bench_cmp_d);
	printf("local_write_%s_raw_%s_per_s: %.0f\n", name, unit,
	       (double)(chunk * ROUNDS) / r);
	printf("local_write_%s_node_%s_per_s: %.0f\n", name, unit,
	       (double)(chunk * ROUNDS) / t);
	printf("local_write_%s_ratio: %.2f\n", name, ratio[ROUNDS / 2]);
	printf("local_write_%s_ratio_min: %.2f\n", name, ratio[0]);
	printf("local_write_%s_ratio_max: %.2f\n", name, ratio[ROUNDS - 1]);
	fflush(stdout);
	sqlite3_finalize(ns);
	tsync_node_close(n);
	sqlite3_finalize(rs);
	sqlite3_close(db);
}

int
bench_local_write(const char *dir)
{
	if (getenv("TSYNC_BENCH_SINGLE_ONLY") == NULL)
		group(dir, "batched", 100000, 1000, "rows");
	if (getenv("TSYNC_BENCH_BATCHED_ONLY") == NULL)
		group(dir, "single", 5000, 1, "commits");
	return 0;
}
