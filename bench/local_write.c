/*
 * local_write.c - bench group "local-write": writing case rows through the
 * node (capture, versions, signed txns) against plain SQLite inserting the
 * same rows with the same pragmas (WAL, synchronous=FULL), same process.
 *
 *   local_write_batched_ratio: 100k rows, 1000 per commit
 *   local_write_single_ratio:  5k rows, one per commit
 * A ratio of 1.0 means capture is free; lower is better.
 * TSYNC_BENCH_BATCHED_ONLY / TSYNC_BENCH_SINGLE_ONLY run one half (for perf).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define SCOPE "gangzha/qinzao/feiqiao"

static double
run_raw(const char *path, uint64_t rows, uint64_t per)
{
	sqlite3 *db = bench_raw_db(path);
	sqlite3_stmt *s;
	double t0 = bench_now();
	uint64_t i;

	sqlite3_prepare_v2(db, bench_insert_sql, -1, &s, NULL);
	for (i = 0; i < rows; i++) {
		if (i % per == 0)
			sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
		bench_bind_case(s, i, SCOPE);
		if (sqlite3_step(s) != SQLITE_DONE)
			abort();
		sqlite3_reset(s);
		if (i % per == per - 1)
			sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	}
	t0 = bench_now() - t0;
	sqlite3_finalize(s);
	sqlite3_close(db);
	return t0;
}

static double
run_node(const char *dir, const char *name, uint64_t rows, uint64_t per)
{
	char nd[512];
	struct tsync_node *n;
	sqlite3_stmt *s;
	double t0;
	uint64_t i;

	if (bench_node(dir, name, SCOPE, NULL, NULL) != 0)
		exit(1);
	snprintf(nd, sizeof(nd), "%s/%s", dir, name);
	if (tsync_node_open(nd, NULL, &n) != 0) {
		fprintf(stderr, "bench: %s\n", tsync_node_errmsg(n));
		exit(1);
	}
	t0 = bench_now();
	tsync_node_begin(n);
	sqlite3_prepare_v2(tsync_node_db(n), bench_insert_sql, -1, &s, NULL);
	tsync_node_rollback(n);
	for (i = 0; i < rows; i++) {
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
	t0 = bench_now() - t0;
	sqlite3_finalize(s);
	tsync_node_close(n);
	return t0;
}

int
bench_local_write(const char *dir)
{
	char raw[512];
	double r, t;

	if (getenv("TSYNC_BENCH_SINGLE_ONLY") != NULL)
		goto single;
	snprintf(raw, sizeof(raw), "%s/raw-batched.db", dir);
	r = run_raw(raw, 100000, 1000);
	t = run_node(dir, "batched", 100000, 1000);
	printf("local_write_batched_raw_rows_per_s: %.0f\n", 100000 / r);
	printf("local_write_batched_node_rows_per_s: %.0f\n", 100000 / t);
	printf("local_write_batched_ratio: %.2f\n", t / r);
	fflush(stdout);
	if (getenv("TSYNC_BENCH_BATCHED_ONLY") != NULL)
		return 0;
single:
	snprintf(raw, sizeof(raw), "%s/raw-single.db", dir);
	r = run_raw(raw, 5000, 1);
	t = run_node(dir, "single", 5000, 1);
	printf("local_write_single_raw_commits_per_s: %.0f\n", 5000 / r);
	printf("local_write_single_node_commits_per_s: %.0f\n", 5000 / t);
	printf("local_write_single_ratio: %.2f\n", t / r);
	return 0;
}
