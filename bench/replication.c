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
 *   wal_bytes_per_txn_ratio: bytes the pulling process handed to write(2)
 *       and pwrite(2) (/proc/self/io wchar: WAL, checkpoints into
 *       replica.db, heads file, logs and its few socket bytes) per txn,
 *       against raw SQLite's for the same rows in this run (its WAL and
 *       the checkpoints, sqlite3_close included); _100k and the largest;
 *   full_pull_cpu_ratio_100k, full_pull_cpu_ratio: the same rows per
 *       second of CPU (user + system) of the pulling process, against
 *       raw SQLite's per CPU second of its insert loop: what the pull
 *       costs, less the waits (fsync, other work on a shared machine)
 *       that move the wall-clock ratio from one run to the next;
 *   live_latency_ms_p50/_p99: commit at a child until visible at its
 *       parent, both running `serve`, the writer another process (as
 *       `tiersync sql`); _w10, _w50 with 10 and 50 writers at once;
 *   resume_resent_txns: txns sent again after the pull was cut at 90%.
 * TSYNC_BENCH_ROWS=N replaces 1M (e.g. for a quick run);
 * TSYNC_BENCH_LIVE_ONLY=1 stops after the live latency;
 * TSYNC_BENCH_LIVE_DUMP=1 lists on stderr each commit slower than 2 ms.
 */
#include <fcntl.h>
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
	pid_t pid = bench_serve(nd, listen, parent);

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

/* This process's /proc/self/io wchar: bytes passed to write calls. */
static uint64_t
io_wchar(void)
{
	char line[128];
	uint64_t v = 0;
	FILE *f = fopen("/proc/self/io", "r");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "wchar: ", 7) == 0)
			v = strtoull(line + 7, NULL, 10);
	fclose(f);
	return v;
}

/* User + system CPU seconds of a rusage. */
static double
cpu_secs(const struct rusage *ru)
{
	return (double)ru->ru_utime.tv_sec + ru->ru_utime.tv_usec / 1e6 +
	       (double)ru->ru_stime.tv_sec + ru->ru_stime.tv_usec / 1e6;
}

/*
 * Raw SQLite's rows/s; *wchar (if not NULL): the bytes it wrote; *cpu
 * (if not NULL): the CPU seconds it took.
 */
static double
raw_rows_io(const char *dir, uint64_t rows, uint64_t *wchar, double *cpu)
{
	char path[512];
	sqlite3 *db;
	sqlite3_stmt *s;
	struct rusage r0, r1;
	double t;
	uint64_t i, w0 = io_wchar();

	snprintf(path, sizeof(path), "%s/raw-%llu.db", dir,
		 (unsigned long long)rows);
	db = bench_raw_db(path);
	sqlite3_prepare_v2(db, bench_insert_sql, -1, &s, NULL);
	getrusage(RUSAGE_SELF, &r0);
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
	getrusage(RUSAGE_SELF, &r1);
	sqlite3_finalize(s);
	sqlite3_close(db);
	if (wchar != NULL)
		*wchar = io_wchar() - w0;
	if (cpu != NULL)
		*cpu = cpu_secs(&r1) - cpu_secs(&r0);
	return (double)rows / t;
}

static double
raw_rows_per_s(const char *dir, uint64_t rows)
{
	return raw_rows_io(dir, rows, NULL, NULL);
}

static uint64_t held_txns(const char *nd);

struct pull {
	double secs, rss_mb, cpu; /* cpu: user + system of the puller */
	struct tsync_sync_result r;
	uint64_t wchar; /* the pulling process's bytes written */
};

/* What the pulling child reports through its pipe. */
struct pulled {
	struct tsync_sync_result r;
	uint64_t wchar;
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
		struct pulled r;

		close(fd[0]);
		memset(&r, 0, sizeof(r));
		tsync_sync(nd, addr, 3600 * 1000, &r.r);
		r.wchar = io_wchar();
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
	{
		struct pulled r;

		if (read(fd[0], &r, sizeof(r)) != (ssize_t)sizeof(r))
			memset(&r, 0, sizeof(r));
		p->r = r.r;
		p->wchar = r.wchar;
	}
	close(fd[0]);
	wait4(pid, &st, 0, &ru);
	p->secs = bench_now() - t0;
	p->rss_mb = (double)ru.ru_maxrss / 1024.0;
	p->cpu = cpu_secs(&ru);
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
	double raw, rss_srv, raw_cpu = 0;
	uint64_t raw_w = 0;
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
	raw = raw_rows_io(dir, rows, &raw_w, &raw_cpu);
	printf("full_pull_rows_per_s%s: %.0f\n", label,
	       (double)p.r.received / p.secs);
	printf("full_pull_raw_rows_per_s%s: %.0f\n", label, raw);
	printf("full_pull_ratio%s: %.3f\n", label,
	       (double)p.r.received / p.secs / raw);
	if (p.cpu > 0 && raw_cpu > 0) {
		printf("full_pull_cpu_s%s: %.2f\n", label, p.cpu);
		printf("full_pull_raw_cpu_s%s: %.2f\n", label, raw_cpu);
		printf("full_pull_cpu_ratio%s: %.3f\n", label,
		       (double)p.r.received / p.cpu / ((double)rows / raw_cpu));
	}
	if (p.r.received > 0 && raw_w > 0) {
		printf("wal_bytes_per_txn%s: %.0f\n", label,
		       (double)p.wchar / (double)p.r.received);
		printf("wal_bytes_per_txn_raw%s: %.0f\n", label,
		       (double)raw_w / (double)rows);
		printf("wal_bytes_per_txn_ratio%s: %.2f\n", label,
		       (double)p.wchar / (double)p.r.received /
			       ((double)raw_w / (double)rows));
	}
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

/*
 * Writer w of a live-latency phase, in its own process (like `tiersync
 * sql` beside `serve`): `count` one-case commits into node nd, each
 * reported on fd once committed, pausing `pause_us` (+ up to as much
 * again, at random) between them.
 */
static void
lat_writer(const char *nd, int fd, int go, int phase, int w, int count,
	   unsigned pause_us)
{
	struct tsync_node *n;
	char sql[256], b;
	unsigned seed = (unsigned)w * 2654435761u + 1;
	int i;

	if (tsync_node_open(nd, NULL, &n) != 0)
		_exit(1);
	if (read(go, &b, 1) < 0) /* every writer open: start together */
		_exit(1);
	for (i = 0; i < count; i++) {
		struct bench_rec r = {w, i, 0};

		snprintf(sql, sizeof(sql),
			 "INSERT INTO cases(id, scope, title) VALUES("
			 "'lat%d-%03d-%05d', '" VSCOPE "', 'x')", phase, w, i);
		if (tsync_node_exec(n, sql, NULL, NULL) != 0) {
			fprintf(stderr, "bench: %s\n", tsync_node_errmsg(n));
			_exit(1);
		}
		r.t = bench_now();
		if (write(fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
			_exit(1);
		seed = seed * 1103515245u + 12345u;
		usleep(pause_us + (pause_us ? (seed >> 8) % pause_us : 0));
	}
	tsync_node_close(n);
	_exit(0);
}

/*
 * One phase: `writers` processes commit at the child while this process
 * watches the parent's replica (read-only, in a tight loop) for the new
 * rows, every 50 us or so; a commit's latency is from its end at the
 * child until its row is visible at the parent.  Prints live_latency_ms_p50/_p99 with `label`.
 */
static void
lat_phase(const char *child, const char *parent_db, int writers, int count,
	  unsigned pause_us, const char *label)
{
	int fd[2], go[2], w, i, total = writers * count, got;
	double *tc = calloc((size_t)total, sizeof(double));
	double *tv = calloc((size_t)total, sizeof(double));
	double *lat = calloc((size_t)total, sizeof(double));
	pid_t *pids = calloc((size_t)writers, sizeof(pid_t));
	struct bench_watch wt;
	sqlite3_int64 last;
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;

	if (tc == NULL || tv == NULL || lat == NULL || pids == NULL ||
	    pipe(fd) != 0 || pipe(go) != 0)
		exit(1);
	memset(&wt, 0, sizeof(wt));
	wt.db_path = parent_db;
	wt.idfmt = "lat%d-%d-%d";
	wt.fd = fd[0];
	wt.nw = writers;
	wt.count = count;
	wt.phase = writers;
	wt.poll_us = 50; /* a 50 us look, not a spin that takes a core */
	wt.settle_s = 10;
	wt.max_s = 600;
	wt.tc = tc;
	wt.tv = tv;
	if (bench_watch_open(&wt, &db, &q, &last) != 0)
		exit(1);
	for (w = 0; w < writers; w++)
		if ((pids[w] = fork()) == 0) {
			close(fd[0]);
			close(go[1]);
			lat_writer(child, fd[1], go[0], writers, w, count,
				   pause_us);
		}
	close(fd[1]);
	close(go[0]);
	usleep(300000 + 10000 * (unsigned)writers); /* the writers open */
	close(go[1]);
	bench_watch_run(&wt, q, last);
	for (w = 0; w < writers; w++)
		waitpid(pids[w], NULL, 0);
	if (getenv("TSYNC_BENCH_LIVE_DUMP") != NULL) /* the slow ones, when */
		for (i = 0; i < total; i++)
			if (tc[i] > 0 && tv[i] > 0 && tv[i] - tc[i] > 0.002)
				fprintf(stderr, "slow%s %d at %.3f s: %.2f ms\n",
					label, i, tc[i] - wt.t0,
					(tv[i] - tc[i]) * 1000);
	got = bench_latencies(tc, tv, total, lat);
	if (got > 0) {
		printf("live_latency_ms_p50%s: %.2f\n", label, lat[got / 2]);
		printf("live_latency_ms_p99%s: %.2f\n", label,
		       lat[got * 99 / 100]);
	}
	printf("live_commits_per_s%s: %.0f\n", label,
	       got / ((wt.tend > wt.t0 ? wt.tend : bench_now()) - wt.t0));
	if (got < total)
		printf("live_lost%s: %d\n", label, total - got);
	fflush(stdout);
	sqlite3_finalize(q);
	sqlite3_close(db);
	close(fd[0]);
	free(tc);
	free(tv);
	free(lat);
	free(pids);
}

/*
 * live_latency_ms_p50/_p99: one writer, 500 commits 2-4 ms apart;
 * _w10 and _w50: 10 and 50 writers at once, each committing every
 * 20-40 ms (about 330 and 1,650 commits/s offered).
 */
static void
latency(const char *dir)
{
	char pl[64], nd[600], pdb[600];
	pid_t ps, cs;

	snprintf(pl, sizeof(pl), "127.0.0.1:%d", port_base++);
	if (bench_node(dir, "lp", "gangzha/qinzao", pl, NULL) != 0 ||
	    bench_node(dir, "lc", VSCOPE, NULL, pl) != 0)
		exit(1);
	snprintf(nd, sizeof(nd), "%s/lp", dir);
	ps = spawn_serve(nd, pl, NULL);
	snprintf(nd, sizeof(nd), "%s/lc", dir);
	cs = spawn_serve(nd, NULL, pl);
	usleep(500000);
	snprintf(pdb, sizeof(pdb), "%s/lp/replica.db", dir);
	lat_phase(nd, pdb, 1, 500, 2000, "");
	lat_phase(nd, pdb, 10, 100, 20000, "_w10");
	lat_phase(nd, pdb, 50, 40, 20000, "_w50");
	stop(cs, NULL);
	stop(ps, NULL);
}

/*
 * snapshot_pull_ratio: a fresh office of the source's own scope (a new PC
 * for the village) pulls the source that full_pull() filled, by snapshot
 * (docs/protocol.md 3.14): rows per second of the whole `sync`, the check
 * included, against raw SQLite inserting the same rows in this run.
 */
static void
snapshot_pull(const char *dir, uint64_t rows, const char *src)
{
	char nd[600], listen[64];
	struct pull p;
	double raw, rss_srv;
	FILE *conf;
	pid_t srv;

	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port_base++);
	if (bench_node(dir, "snap", VSCOPE, NULL, NULL) != 0)
		exit(1);
	/* A snapshot first pull is asked for only where the node opted in
	 * (replication/snap.c); without it this measured the ordinary pull. */
	snprintf(nd, sizeof(nd), "%s/snap/tiersync.conf", dir);
	if ((conf = fopen(nd, "a")) == NULL)
		exit(1);
	fputs("snapshot_first_pull = yes\n", conf);
	fclose(conf);
	snprintf(nd, sizeof(nd), "%s/%s", dir, src);
	srv = spawn_serve(nd, listen, NULL);
	snprintf(nd, sizeof(nd), "%s/snap", dir);
	pull(nd, listen, &p, 0, rows);
	stop(srv, &rss_srv);
	raw = raw_rows_per_s(dir, rows);
	printf("snapshot_pull_verified: %.0f\n",
	       query_num(nd, "SELECT value LIKE 'verified%' FROM ts_meta"
			     " WHERE key = 'snapshot'"));
	printf("snapshot_pull_rows_per_s: %.0f\n", (double)p.r.received / p.secs);
	printf("snapshot_pull_raw_rows_per_s: %.0f\n", raw);
	printf("snapshot_pull_ratio: %.3f\n",
	       (double)p.r.received / p.secs / raw);
	printf("snapshot_peak_rss_mb_server: %.1f\n", rss_srv);
	printf("snapshot_peak_rss_mb_client: %.1f\n", p.rss_mb);
	printf("snapshot_wire_bytes_per_txn: %.1f\n",
	       p.r.received ? (double)p.r.bytes_in / p.r.received : 0);
	fflush(stdout);
}

int
bench_replication(const char *dir)
{
	const char *env = getenv("TSYNC_BENCH_ROWS");
	uint64_t big = env ? strtoull(env, NULL, 10) : 1000000;

	port_base = 30000 + (int)(getpid() % 20000);
	latency(dir);
	if (getenv("TSYNC_BENCH_LIVE_ONLY") != NULL)
		return 0;
	resume(dir);
	full_pull(dir, 100000, "_100k", big <= 100000);
	if (big > 100000)
		full_pull(dir, big, "", 1);
	snapshot_pull(dir, big > 100000 ? big : 100000,
		      big > 100000 ? "src" : "src_100k");
	return 0;
}
