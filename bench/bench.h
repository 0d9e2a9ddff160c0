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

#endif
