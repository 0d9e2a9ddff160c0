/*
 * replication.c - bench group "replication": real `serve` processes over
 * TLS on loopback, against raw SQLite inserting the same rows in this run.
 *
 *   full_pull_ratio_100k, full_pull_ratio: rows/s of a fresh node pulling
 *       100k (and 1M) one-case txns, divided by raw SQLite's rows/s
 *       inserting the same rows (1024 per transaction, WAL, FULL sync);
 *   peak_rss_mb_server, peak_rss_mb_client: peak RSS of each side during
 *       the largest pull;
 *   wire_bytes_per_txn, txn_bytes: protocol bytes per txn, and the txn's
 *       own encoded size (body + signature);
 *   live_latency_ms_p50/_p99: commit at a child until visible at its
 *       parent, both running `serve`;
 *   resume_resent_txns: txns sent again after the pull was cut at 90%.
 * TSYNC_BENCH_ROWS=N replaces 1M (e.g. for a quick run).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define VSCOPE "gangzha/qinzao/feiqiao"

static int port_base;

static pid_t
spawn_serve(const char *nd, const char *listen, const char *parent)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct tsync_serve_opts o = {listen, parent, 1};
		char err[512];

		if (tsync_serve(nd, &o, err, sizeof(err)) != 0)
			fprintf(stderr, "serve: %s\n", err);
		_exit(0);
	}
	usleep(200000);
	return pid;
}

static double
stop(pid_t pid, double *rss_mb)
{
	struct rusage ru;
	int st;

	kill(pid, SIGTERM);
	wait4(pid, &st, 0, &ru);
	if (rss_mb != NULL)
		*rss_mb = (double)ru.ru_maxrss / 1024.0;
	return 0;
}

/* Writes `rows` one-case txns into node nd, in a child process. */
static void
generate(const char *nd, uint64_t rows, uint64_t first)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		struct tsync_node *n;
		sqlite3_stmt *s;
		uint64_t i;

		if (tsync_node_open(nd, NULL, &n) != 0)
			_exit(1);
		sqlite3_exec(tsync_node_db(n), "PRAGMA synchronous=OFF", NULL,
			     NULL, NULL);
		tsync_node_begin(n);
		sqlite3_prepare_v2(tsync_node_db(n), bench_insert_sql, -1, &s,
				   NULL);
		tsync_node_rollback(n);
		for (i = first; i < first + rows; i++) {
			tsync_node_begin(n);
			bench_bind_case(s, i, VSCOPE);
			sqlite3_step(s);
			sqlite3_reset(s);
			if (tsync_node_commit(n) != 0)
				_exit(1);
		}
		sqlite3_finalize(s);
		tsync_node_close(n);
		_exit(0);
	}
	waitpid(pid, &st, 0);
}

static double
raw_rows_per_s(const char *dir, uint64_t rows)
{
	char path[512];
	sqlite3 *db;
	sqlite3_stmt *s;
	double t;
	uint64_t i;

	snprintf(path, sizeof(path), "%s/raw-%llu.db", dir,
		 (unsigned long long)rows);
	db = bench_raw_db(path);
	sqlite3_prepare_v2(db, bench_insert_sql, -1, &s, NULL);
	t = bench_now();
	for (i = 0; i < rows; i++) {
		if (i % 1024 == 0)
			sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
		bench_bind_case(s, i, VSCOPE);
		sqlite3_step(s);
		sqlite3_reset(s);
		if (i % 1024 == 1023 || i == rows - 1)
			sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	}
	t = bench_now() - t;
	sqlite3_finalize(s);
	sqlite3_close(db);
	return (double)rows / t;
}

static uint64_t held_txns(const char *nd);

struct pull {
	double secs, rss_mb;
	struct tsync_sync_result r;
};

/* A fresh node pulls from the server at `addr`, in a child process. */
static void
pull(const char *nd, const char *addr, struct pull *p, int kill_at_pct,
     uint64_t total)
{
	int fd[2];
	pid_t pid;
	struct rusage ru;
	int st;
	double t0 = bench_now();

	if (pipe(fd) != 0)
		exit(1);
	pid = fork();
	if (pid == 0) {
		struct tsync_sync_result r;

		close(fd[0]);
		tsync_sync(nd, addr, 3600 * 1000, &r);
		if (write(fd[1], &r, sizeof(r)) != (ssize_t)sizeof(r))
			_exit(1);
		_exit(0);
	}
	close(fd[1]);
	if (kill_at_pct > 0) {
		/* Watch the fresh node's stream heads; cut at the mark. */
		for (;;) {
			usleep(2000);
			if (held_txns(nd) * 100 >= total * (uint64_t)kill_at_pct) {
				kill(pid, SIGKILL);
				break;
			}
		}
	}
	memset(&p->r, 0, sizeof(p->r));
	if (read(fd[0], &p->r, sizeof(p->r)) != (ssize_t)sizeof(p->r))
		memset(&p->r, 0, sizeof(p->r));
	close(fd[0]);
	wait4(pid, &st, 0, &ru);
	p->secs = bench_now() - t0;
	p->rss_mb = (double)ru.ru_maxrss / 1024.0;
}

/* One number from a node's replica, read-only (0 if it cannot be read). */
static double
query_num(const char *nd, const char *sql)
{
	char path[700];
	sqlite3 *db;
	sqlite3_stmt *s = NULL;
	double v = 0;

	snprintf(path, sizeof(path), "%s/replica.db", nd);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_double(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

static uint64_t
held_txns(const char *nd)
{
	return (uint64_t)query_num(nd, "SELECT coalesce(sum(seq), 0) FROM"
				       " ts_streams");
}

static double
txn_bytes(const char *nd)
{
	return query_num(nd, "SELECT avg(length(body) + length(sig)) FROM"
			     " ts_log");
}

static void
full_pull(const char *dir, uint64_t rows, const char *label, int last)
{
	char src[64], dst[64], nd[600], addr[64], listen[64];
	struct pull p;
	double raw, rss_srv;
	pid_t srv;

	snprintf(src, sizeof(src), "src%s", label);
	snprintf(dst, sizeof(dst), "dst%s", label);
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port_base++);
	snprintf(addr, sizeof(addr), "%s", listen);
	if (bench_node(dir, src, VSCOPE, listen, NULL) != 0 ||
	    bench_node(dir, dst, "gangzha/qinzao", NULL, NULL) != 0)
		exit(1);
	snprintf(nd, sizeof(nd), "%s/%s", dir, src);
	generate(nd, rows, 0);
	srv = spawn_serve(nd, listen, NULL);
	snprintf(nd, sizeof(nd), "%s/%s", dir, dst);
	pull(nd, addr, &p, 0, rows);
	stop(srv, &rss_srv);
	raw = raw_rows_per_s(dir, rows);
	printf("full_pull_rows_per_s%s: %.0f\n", label,
	       (double)p.r.received / p.secs);
	printf("full_pull_raw_rows_per_s%s: %.0f\n", label, raw);
	printf("full_pull_ratio%s: %.3f\n", label,
	       (double)p.r.received / p.secs / raw);
	if (last) {
		snprintf(nd, sizeof(nd), "%s/%s", dir, src);
		printf("peak_rss_mb_server: %.1f\n", rss_srv);
		printf("peak_rss_mb_client: %.1f\n", p.rss_mb);
		printf("wire_bytes_per_txn: %.1f\n",
		       p.r.received ? (double)p.r.bytes_in / p.r.received : 0);
		printf("txn_bytes: %.1f\n", txn_bytes(nd));
	}
	fflush(stdout);
}

static void
resume(const char *dir)
{
	char nd[600], listen[64];
	const uint64_t rows = 100000;
	struct pull p;
	uint64_t held;
	pid_t srv;

	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port_base++);
	if (bench_node(dir, "rsrc", VSCOPE, listen, NULL) != 0 ||
	    bench_node(dir, "rdst", "gangzha/qinzao", NULL, NULL) != 0)
		exit(1);
	snprintf(nd, sizeof(nd), "%s/rsrc", dir);
	generate(nd, rows, 0);
	srv = spawn_serve(nd, listen, NULL);
	snprintf(nd, sizeof(nd), "%s/rdst", dir);
	pull(nd, listen, &p, 90, rows);
	held = held_txns(nd);
	pull(nd, listen, &p, 0, rows);
	stop(srv, NULL);
	printf("resume_cut_at_txns: %llu\n", (unsigned long long)held);
	printf("resume_resent_txns: %lld\n",
	       (long long)(p.r.received + p.r.duplicate) -
		       (long long)(rows - held));
	fflush(stdout);
}

static int
cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
latency(const char *dir)
{
	char pl[64], nd[600], pdb[600], sql[256];
	pid_t ps, cs;
	struct tsync_node *n;
	sqlite3 *db;
	sqlite3_stmt *q;
	double lat[500];
	int i, got = 0;

	snprintf(pl, sizeof(pl), "127.0.0.1:%d", port_base++);
	if (bench_node(dir, "lp", "gangzha/qinzao", pl, NULL) != 0 ||
	    bench_node(dir, "lc", VSCOPE, NULL, pl) != 0)
		exit(1);
	snprintf(nd, sizeof(nd), "%s/lp", dir);
	ps = spawn_serve(nd, pl, NULL);
	snprintf(nd, sizeof(nd), "%s/lc", dir);
	cs = spawn_serve(nd, NULL, pl);
	usleep(500000);
	if (tsync_node_open(nd, NULL, &n) != 0)
		exit(1);
	snprintf(pdb, sizeof(pdb), "%s/lp/replica.db", dir);
	sqlite3_open_v2(pdb, &db, SQLITE_OPEN_READONLY, NULL);
	sqlite3_prepare_v2(db, "SELECT 1 FROM cases WHERE id = ?1", -1, &q,
			   NULL);
	for (i = 0; i < 500; i++) {
		char id[32];
		double t0, t;

		snprintf(id, sizeof(id), "lat-%d", i);
		snprintf(sql, sizeof(sql),
			 "INSERT INTO cases(id, scope, title) VALUES('%s',"
			 " '" VSCOPE "', 'x')", id);
		if (tsync_node_exec(n, sql, NULL, NULL) != 0)
			exit(1);
		t0 = bench_now();
		for (;;) {
			sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
			t = bench_now();
			if (sqlite3_step(q) == SQLITE_ROW) {
				sqlite3_reset(q);
				break;
			}
			sqlite3_reset(q);
			if (t - t0 > 5)
				break;
		}
		lat[got++] = (t - t0) * 1000;
		usleep(2000);
	}
	qsort(lat, (size_t)got, sizeof(lat[0]), cmp_d);
	printf("live_latency_ms_p50: %.2f\n", lat[got / 2]);
	printf("live_latency_ms_p99: %.2f\n", lat[got * 99 / 100]);
	fflush(stdout);
	sqlite3_finalize(q);
	sqlite3_close(db);
	tsync_node_close(n);
	stop(cs, NULL);
	stop(ps, NULL);
}

int
bench_replication(const char *dir)
{
	const char *env = getenv("TSYNC_BENCH_ROWS");
	uint64_t big = env ? strtoull(env, NULL, 10) : 1000000;

	port_base = 30000 + (int)(getpid() % 20000);
	latency(dir);
	resume(dir);
	full_pull(dir, 100000, "_100k", big <= 100000);
	if (big > 100000)
		full_pull(dir, big, "", 1);
	return 0;
}
