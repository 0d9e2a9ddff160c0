/*
 * bench_util.c - shared pieces of the benchmarks (see bench.h).
 */
#include "bench.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char bench_insert_sql[] =
	"INSERT INTO cases(id, scope, category, title, parties, status,"
	" opened_at, notes) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

double
bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
bench_node(const char *dir, const char *name, const char *scope,
	   const char *listen, const char *parent)
{
	char ca[512], nd[512], err[512];
	struct stat st;
	struct tsync_init_opts o = {parent, listen};

	snprintf(ca, sizeof(ca), "%s/ca", dir);
	snprintf(nd, sizeof(nd), "%s/%s", dir, name);
	if (stat(ca, &st) != 0 &&
	    tsync_ca_init(ca, "gangzha", 30, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench: %s\n", err);
		return -1;
	}
	if (tsync_ca_issue(ca, scope, "office", 30, nd, err, sizeof(err)) != 0 ||
	    tsync_node_init(nd, &o, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench: %s\n", err);
		return -1;
	}
	return 0;
}

sqlite3 *
bench_raw_db(const char *path)
{
	sqlite3 *db;

	if (sqlite3_open(path, &db) != SQLITE_OK)
		return NULL;
	sqlite3_exec(db,
		     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
		     "PRAGMA cache_size=-16384;"
		     "CREATE TABLE IF NOT EXISTS cases(id TEXT PRIMARY KEY NOT"
		     " NULL, scope TEXT NOT NULL, category TEXT, title TEXT,"
		     " parties TEXT, status TEXT, opened_at TEXT, notes TEXT)",
		     NULL, NULL, NULL);
	return db;
}

void
bench_bind_case(sqlite3_stmt *s, uint64_t i, const char *scope)
{
	static const char *const cats[] = {"land", "family", "marriage",
					   "neighbours", "labour", "traffic",
					   "other"};
	char id[32], title[96], parties[64], day[16];

	snprintf(id, sizeof(id), "case-%08llu", (unsigned long long)i);
	snprintf(title, sizeof(title), "邻里纠纷 第%llu号 宅基地边界",
		 (unsigned long long)i);
	snprintf(parties, sizeof(parties), "张某%llu; 李某",
		 (unsigned long long)(i % 997));
	snprintf(day, sizeof(day), "2016-%02u-%02u", (unsigned)(i % 12 + 1),
		 (unsigned)(i % 28 + 1));
	sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 2, scope, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, cats[i % 7], -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, title, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 5, parties, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 6, "registered", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 7, day, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 8, "司法所受理，派出所协助", -1, SQLITE_STATIC);
}

pid_t
bench_serve(const char *nd, const char *listen, const char *parent)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct tsync_serve_opts o = {listen, parent, 1};
		char err[512];

		if (tsync_serve(nd, &o, err, sizeof(err)) != 0)
			fprintf(stderr, "serve: %s\n", err);
		_exit(0);
	}
	return pid;
}

int
bench_cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
bench_watch_open(struct bench_watch *w, sqlite3 **db, sqlite3_stmt **q,
		 sqlite3_int64 *last)
{
	sqlite3_stmt *s;

	*last = 0;
	if (sqlite3_open_v2(w->db_path, db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK)
		return -1;
	sqlite3_busy_timeout(*db, 1000);
	if (sqlite3_prepare_v2(*db, "SELECT coalesce(max(rowid), 0) FROM cases",
			       -1, &s, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW)
		*last = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	fcntl(w->fd, F_SETFL, O_NONBLOCK);
	return sqlite3_prepare_v2(*db, "SELECT rowid, id FROM cases WHERE"
				       " rowid > ?1 ORDER BY rowid",
				  -1, q, NULL) == SQLITE_OK
		       ? 0
		       : -1;
}

void
bench_watch_run(struct bench_watch *w, sqlite3_stmt *q, sqlite3_int64 last)
{
	int total = w->nw * w->count, done = 0, i;

	w->seen = 0;
	w->tend = w->tlast = 0;
	w->t0 = bench_now();
	while (w->seen < total) {
		struct bench_rec r[64];
		ssize_t k = read(w->fd, r, sizeof(r));
		double now;

		for (i = 0; k > 0 && i < (int)(k / (ssize_t)sizeof(r[0])); i++)
			if (r[i].w >= 0 && r[i].w < w->nw && r[i].i >= 0 &&
			    r[i].i < w->count)
				w->tc[r[i].w * w->count + r[i].i] = r[i].t;
		if (k == 0 && !done) {
			done = 1; /* every writer closed its end */
			w->tend = bench_now();
		}
		sqlite3_bind_int64(q, 1, last);
		now = bench_now();
		while (sqlite3_step(q) == SQLITE_ROW) {
			const char *id = (const char *)sqlite3_column_text(q, 1);
			int ph, a, b;

			last = sqlite3_column_int64(q, 0);
			if (id != NULL && sscanf(id, w->idfmt, &ph, &a, &b) == 3 &&
			    ph == w->phase && a >= 0 && a < w->nw && b >= 0 &&
			    b < w->count && w->tv[a * w->count + b] == 0) {
				w->tv[a * w->count + b] = now;
				w->tlast = now;
				w->seen++;
			}
		}
		sqlite3_reset(q);
		if ((done && now - w->tend > w->settle_s) ||
		    now - w->t0 > w->max_s)
			break;
		usleep(w->poll_us);
	}
}

int
bench_latencies(const double *tc, const double *tv, int total, double *lat)
{
	int i, got = 0;

	for (i = 0; i < total; i++)
		if (tc[i] > 0 && tv[i] > 0)
			lat[got++] = tv[i] > tc[i] ? (tv[i] - tc[i]) * 1000 : 0;
	qsort(lat, (size_t)got, sizeof(lat[0]), bench_cmp_d);
	return got;
}
