/*
 * fanin.c - bench group "fanin": one street with 60 villages writing at
 * once.  Every office is a real `serve` process (62 of them: the district,
 * the street, 60 villages), every link mutual TLS over loopback, and the
 * writers are 60 more processes, one per village, committing one-case txns
 * through the node API as `tiersync sql` would; this process watches the
 * district's replica for the rows.
 *
 *   fanin_steady_*: each village commits every 100-200 ms for 10 s
 *       (about 400 commits/s in all, some 5,000 times the district's real
 *       rate: docs/performance.md); txns reaching the district per second,
 *       latency from the commit at the village until visible at the
 *       district (through the street), and the street's CPU and RSS;
 *   fanin_flood_*: each village commits 200 txns as fast as it can; txns
 *       per second reaching the district until the last one is there.
 *   fanin_street_cpu_pct: CPU time of the street's process over the phase,
 *       in % of one core (utime + stime, /proc/PID/stat);
 *   fanin_street_rss_mb, _hwm_mb: VmRSS at the end, VmHWM (peak);
 *   fanin_street_cpu_us_per_txn: the street's CPU per txn it relayed.
 * TSYNC_BENCH_FANIN_VILLAGES=N replaces 60.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define VMAX 200

struct fan {
	const char *dir;
	int nv, port;
	pid_t district, street, village[VMAX];
	char ddb[600];
};

/* utime + stime of pid in seconds (0 if it cannot be read). */
static double
proc_cpu(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields after the command's closing parenthesis: state is 3rd,
	 * utime the 14th and stime the 15th of the whole line. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
		   &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* A "VmRSS:"-like line of /proc/PID/status, in MiB. */
static double
proc_mem(pid_t pid, const char *key)
{
	char path[64], line[256];
	double kb = 0;
	size_t kl = strlen(key);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, kl) == 0) {
			kb = strtod(line + kl, NULL);
			break;
		}
	fclose(f);
	return kb / 1024.0;
}

/* Village v's writer: count commits, `pause_us` (+ up to as much again)
 * apart, each reported on fd; starts when `go` closes. */
static void
writer(struct fan *f, int v, int phase, int count, unsigned pause_us,
       int fd, int go)
{
	char nd[600], sql[256], b;
	struct tsync_node *n;
	unsigned seed = (unsigned)v * 2654435761u + (unsigned)phase;
	int i;

	snprintf(nd, sizeof(nd), "%s/fv%02d", f->dir, v);
	if (tsync_node_open(nd, NULL, &n) != 0)
		_exit(1);
	if (read(go, &b, 1) < 0)
		_exit(1);
	for (i = 0; i < count; i++) {
		struct bench_rec r = {v, i, 0};

		snprintf(sql, sizeof(sql),
			 "INSERT INTO cases(id, scope, title) VALUES("
			 "'f%d-%02d-%05d', 'gangzha/qinzao/v%02d', 'x')",
			 phase, v, i, v);
		if (tsync_node_exec(n, sql, NULL, NULL) != 0) {
			fprintf(stderr, "bench: %s\n", tsync_node_errmsg(n));
			_exit(1);
		}
		r.t = bench_now();
		if (write(fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
			_exit(1);
		if (pause_us > 0) {
			seed = seed * 1103515245u + 12345u;
			usleep(pause_us + (seed >> 8) % pause_us);
		}
	}
	tsync_node_close(n);
	_exit(0);
}

/* One phase; prints fanin_<name>_* figures. */
static void
phase(struct fan *f, int no, const char *name, int count, unsigned pause_us)
{
	int total = f->nv * count, fd[2], go[2], v, got, seen;
	double *tc = calloc((size_t)total, sizeof(double));
	double *tv = calloc((size_t)total, sizeof(double));
	double *lat = calloc((size_t)total, sizeof(double));
	pid_t *pids = calloc((size_t)f->nv, sizeof(pid_t));
	double t0, tlast, c0, c1, d0, d1;
	struct bench_watch wt;
	sqlite3_int64 last;
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;

	if (tc == NULL || tv == NULL || lat == NULL || pids == NULL ||
	    pipe(fd) != 0 || pipe(go) != 0)
		exit(1);
	memset(&wt, 0, sizeof(wt));
	wt.db_path = f->ddb;
	wt.idfmt = "f%d-%d-%d";
	wt.fd = fd[0];
	wt.nw = f->nv;
	wt.count = count;
	wt.phase = no;
	wt.poll_us = 200;
	wt.settle_s = 30;
	wt.max_s = 900;
	wt.tc = tc;
	wt.tv = tv;
	if (bench_watch_open(&wt, &db, &q, &last) != 0)
		exit(1);
	for (v = 0; v < f->nv; v++)
		if ((pids[v] = fork()) == 0) {
			close(fd[0]);
			close(go[1]);
			writer(f, v, no, count, pause_us, fd[1], go[0]);
		}
	close(fd[1]);
	close(go[0]);
	usleep(500000 + 10000 * (unsigned)f->nv); /* the writers open */
	c0 = proc_cpu(f->street);
	d0 = proc_cpu(f->district);
	close(go[1]);
	bench_watch_run(&wt, q, last);
	c1 = proc_cpu(f->street);
	d1 = proc_cpu(f->district);
	for (v = 0; v < f->nv; v++)
		waitpid(pids[v], NULL, 0);
	got = bench_latencies(tc, tv, total, lat);
	seen = wt.seen;
	t0 = wt.t0;
	tlast = wt.tlast > t0 ? wt.tlast : bench_now();
	printf("fanin_%s_villages: %d\n", name, f->nv);
	printf("fanin_%s_txns: %d\n", name, seen);
	printf("fanin_%s_txns_per_s: %.0f\n", name, seen / (tlast - t0));
	if (got > 0) {
		printf("fanin_%s_latency_ms_p50: %.2f\n", name, lat[got / 2]);
		printf("fanin_%s_latency_ms_p99: %.2f\n", name,
		       lat[got * 99 / 100]);
	}
	if (seen < total)
		printf("fanin_%s_missing: %d\n", name, total - seen);
	printf("fanin_%s_street_cpu_pct: %.1f\n", name,
	       100 * (c1 - c0) / (tlast - t0));
	printf("fanin_%s_street_cpu_us_per_txn: %.0f\n", name,
	       seen ? 1e6 * (c1 - c0) / seen : 0);
	printf("fanin_%s_district_cpu_pct: %.1f\n", name,
	       100 * (d1 - d0) / (tlast - t0));
	printf("fanin_%s_street_rss_mb: %.1f\n", name,
	       proc_mem(f->street, "VmRSS:"));
	printf("fanin_%s_street_hwm_mb: %.1f\n", name,
	       proc_mem(f->street, "VmHWM:"));
	fflush(stdout);
	sqlite3_finalize(q);
	sqlite3_close(db);
	close(fd[0]);
	free(tc);
	free(tv);
	free(lat);
	free(pids);
}

int
bench_fanin(const char *dir)
{
	const char *env = getenv("TSYNC_BENCH_FANIN_VILLAGES");
	char nd[600], name[32], scope[64], pd[64], ps[64];
	struct fan f;
	double idle0, idle1;
	int v;

	memset(&f, 0, sizeof(f));
	f.dir = dir;
	f.nv = env ? (int)strtol(env, NULL, 10) : 60;
	if (f.nv < 1 || f.nv > VMAX)
		f.nv = 60;
	f.port = 30000 + (int)(getpid() % 20000);
	snprintf(pd, sizeof(pd), "127.0.0.1:%d", f.port);
	snprintf(ps, sizeof(ps), "127.0.0.1:%d", f.port + 1);
	if (bench_node(dir, "fd", "gangzha", pd, NULL) != 0 ||
	    bench_node(dir, "fs", "gangzha/qinzao", ps, pd) != 0)
		return 1;
	for (v = 0; v < f.nv; v++) {
		snprintf(name, sizeof(name), "fv%02d", v);
		snprintf(scope, sizeof(scope), "gangzha/qinzao/v%02d", v);
		if (bench_node(dir, name, scope, NULL, ps) != 0)
			return 1;
	}
	snprintf(f.ddb, sizeof(f.ddb), "%s/fd/replica.db", dir);
	snprintf(nd, sizeof(nd), "%s/fd", dir);
	f.district = bench_serve(nd, pd, NULL);
	usleep(200000);
	snprintf(nd, sizeof(nd), "%s/fs", dir);
	f.street = bench_serve(nd, ps, pd);
	usleep(200000);
	for (v = 0; v < f.nv; v++) {
		snprintf(nd, sizeof(nd), "%s/fv%02d", dir, v);
		f.village[v] = bench_serve(nd, NULL, ps);
	}
	sleep(3); /* 60 TLS handshakes and first sessions */
	idle0 = proc_cpu(f.street);
	sleep(5);
	idle1 = proc_cpu(f.street);
	printf("fanin_idle_street_cpu_pct: %.2f\n", 100 * (idle1 - idle0) / 5);
	printf("fanin_idle_street_rss_mb: %.1f\n",
	       proc_mem(f.street, "VmRSS:"));
	fflush(stdout);
	phase(&f, 1, "steady", 60, 100000);
	phase(&f, 2, "flood", 200, 0);
	for (v = 0; v < f.nv; v++)
		kill(f.village[v], SIGTERM);
	kill(f.street, SIGTERM);
	kill(f.district, SIGTERM);
	for (v = 0; v < f.nv; v++)
		waitpid(f.village[v], NULL, 0);
	waitpid(f.street, NULL, 0);
	waitpid(f.district, NULL, 0);
	return 0;
}
