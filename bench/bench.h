/*
 * bench.h - helpers for tiersync's benchmarks: timing, a scratch node,
 * and the raw-SQLite baseline table.
 */
#ifndef TSYNC_BENCH_H
#define TSYNC_BENCH_H

#include <sqlite3.h>
#include <stdint.h>
#include <sys/types.h>

#include "tiersync/tiersync.h"

double bench_now(void);
/* Makes CA + node of `scope` under dir/name; returns 0 on success. */
int bench_node(const char *dir, const char *name, const char *scope,
	       const char *listen, const char *parent);
/* Opens a raw SQLite database with the same table and pragmas. */
sqlite3 *bench_raw_db(const char *path);
/* Binds row i of the synthetic case data to an INSERT with 8 params. */
void bench_bind_case(sqlite3_stmt *s, uint64_t i, const char *scope);
extern const char bench_insert_sql[];
/* Runs `tiersync serve` of node nd (quiet) in a child process; its pid. */
pid_t bench_serve(const char *nd, const char *listen, const char *parent);

/* For qsort of doubles, ascending. */
int bench_cmp_d(const void *a, const void *b);

/* A commit a writer process made: writer w's i-th, when it returned. */
struct bench_rec {
	int32_t w, i;
	double t; /* bench_now() once the commit returned */
};

/*
 * The live benches' watcher: `nw` writer processes each commit `count`
 * rows with ids idfmt (three %d: phase, writer, i) at one node and send a
 * bench_rec through fd (read end, made non-blocking here) after each;
 * bench_watch() watches replica db_path (read-only) for those rows, every
 * poll_us, until all are seen, settle_s after the writers closed fd, or
 * max_s in all.  tc and tv (nw * count, zeroed) get each commit's time and
 * when its row became visible.
 */
struct bench_watch {
	const char *db_path, *idfmt;
	int fd, nw, count, phase;
	unsigned poll_us;
	double settle_s, max_s;
	double *tc, *tv;
	/* out */
	double t0, tend, tlast; /* start, writers done, last row seen */
	int seen;
};
/* Opens the replica and notes where its rows end; call before the
 * writers start.  0, or -1. */
int bench_watch_open(struct bench_watch *w, sqlite3 **db, sqlite3_stmt **q,
		     sqlite3_int64 *last);
void bench_watch_run(struct bench_watch *w, sqlite3_stmt *q,
		     sqlite3_int64 last);
/*
 * Latencies (ms) of the commits both timed, sorted into lat (total long);
 * returns their number.
 */
int bench_latencies(const double *tc, const double *tv, int total,
		    double *lat);

#endif
