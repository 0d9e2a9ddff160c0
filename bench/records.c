/*
 * records.c - bench group "records": the district's report, and one record
 * added through the CLI, each against plain SQLite in the same run.
 *
 *   report_ms_scale1, report_ms_scaleN: tsync_report + tsync_report_render
 *       (HTML, to a file) for the district over the three generated years
 *       (2024-01-01..2026-12-31), on a district node that tsync_generate
 *       filled at scale 1 and at N = 100 (TSYNC_BENCH_SCALE=N changes N;
 *       report_scale says which); median of a few runs after a warm-up.
 *       report_records_scaleN: records generated.
 *       report_raw_ms_scaleN: the same grouped counts in plain SQL on a
 *       plain connection to the same file (one GROUP BY per figure, same
 *       period, but no split by child scope, no JSON, no HTML);
 *       report_vs_raw_ratio_scaleN = report / that.
 *       report_count_ms_scaleN: one SELECT count(*) per record table, and
 *       report_vs_count_ratio_scaleN against it (a floor, not a peer).
 *   record_add_ms_p50/_p99: `tiersync dispute add` run as a process on a
 *       village node (50 runs; p99 of 50 is the slowest).  Baselines, same
 *       run: record_add_version_ms_p50, `tiersync version` (process
 *       start-up), and record_add_raw_insert_ms_p50, one raw SQLite INSERT
 *       in its own transaction (WAL, synchronous=FULL); ratios of p50s.
 * The tiersync binary is $TSYNC_BIN, else ../tiersync from this binary.
 */
#include <fcntl.h>
#include <limits.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "tiersync/records.h"

#define VSCOPE "gangzha/qinzao/feiqiao"
#define FROM "2024-01-01"
#define TO "2026-12-31"
#define ADD_RUNS 50

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(v[0]), bench_cmp_d);
	return v[n / 2];
}

/* ---- report ------------------------------------------------------------ */

/* The report's figures as plain grouped queries: ?1 from, ?2 to. */
static const char *const raw_sql[] = {
	"SELECT category, count(*) FROM disputes WHERE opened BETWEEN ?1 AND"
	" ?2 GROUP BY 1",
	"SELECT source, count(*) FROM disputes WHERE opened BETWEEN ?1 AND ?2"
	" GROUP BY 1",
	"SELECT status, count(*) FROM disputes WHERE opened BETWEEN ?1 AND ?2"
	" GROUP BY 1",
	"SELECT status, count(*) FROM disputes WHERE closed BETWEEN ?1 AND ?2"
	" AND status IN ('resolved','failed','referred') GROUP BY 1",
	"SELECT result, count(*) FROM mediations WHERE date BETWEEN ?1 AND ?2"
	" GROUP BY 1",
	"SELECT became, count(*) FROM consults WHERE date BETWEEN ?1 AND ?2"
	" GROUP BY 1",
	"SELECT triage, count(*) FROM petitions WHERE received BETWEEN ?1 AND"
	" ?2 GROUP BY 1",
	"SELECT routed_to, count(*) FROM petitions WHERE received BETWEEN ?1"
	" AND ?2 AND routed_to IS NOT NULL GROUP BY 1",
	"SELECT kind, count(*), total(audience) FROM events WHERE date BETWEEN"
	" ?1 AND ?2 GROUP BY 1",
	"SELECT kind, count(*) FROM specials WHERE since <= ?2 AND (until IS"
	" NULL OR until >= ?1) GROUP BY 1",
	"SELECT count(*) FROM visits WHERE date BETWEEN ?1 AND ?2",
	"SELECT level, count(*) FROM risks WHERE date BETWEEN ?1 AND ?2 GROUP"
	" BY 1",
	"SELECT kind, count(*) FROM meetings WHERE date BETWEEN ?1 AND ?2"
	" GROUP BY 1",
	"SELECT status, count(*) FROM grid_reports WHERE date BETWEEN ?1 AND"
	" ?2 GROUP BY 1",
};
#define NRAW (sizeof(raw_sql) / sizeof(raw_sql[0]))

static double
run_sql(sqlite3 *db, const char *sql, int bind)
{
	sqlite3_stmt *s;
	double sink = 0;
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
		fprintf(stderr, "bench: %s: %s\n", sql, sqlite3_errmsg(db));
		exit(1);
	}
	if (bind) {
		sqlite3_bind_text(s, 1, FROM, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, TO, -1, SQLITE_STATIC);
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		sink += sqlite3_column_double(s, sqlite3_column_count(s) > 1);
	if (rc != SQLITE_DONE) {
		fprintf(stderr, "bench: %s: %s\n", sql, sqlite3_errmsg(db));
		exit(1);
	}
	sqlite3_finalize(s);
	return sink;
}

static double
time_raw_grouped(sqlite3 *db)
{
	double t = bench_now();
	size_t i;

	for (i = 0; i < NRAW; i++)
		run_sql(db, raw_sql[i], 1);
	return bench_now() - t;
}

static double
time_raw_count(sqlite3 *db)
{
	size_t nk, i;
	const struct tsync_kind *k = tsync_kinds(&nk);
	double t = bench_now();
	char sql[128];

	for (i = 0; i < nk; i++) {
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\"",
			 k[i].table);
		run_sql(db, sql, 0);
	}
	return bench_now() - t;
}

static double
time_report(struct tsync_node *n, const char *html, long *bytes)
{
	double t = bench_now();
	json_t *r;
	FILE *f;

	if (tsync_report(n, NULL, FROM, TO, &r) != 0) {
		fprintf(stderr, "bench: report: %s\n", tsync_node_errmsg(n));
		exit(1);
	}
	if ((f = fopen(html, "w")) == NULL ||
	    tsync_report_render(r, TSYNC_FMT_HTML, f) != 0) {
		fprintf(stderr, "bench: cannot write %s\n", html);
		exit(1);
	}
	*bytes = ftell(f);
	if (fclose(f) != 0)
		exit(1);
	t = bench_now() - t;
	json_decref(r);
	return t;
}

static void
report(const char *dir, double scale)
{
	struct tsync_gen_opts o = {4, 15, 3, 2026, 1, scale};
	struct tsync_gen_stats st = {0};
	char name[64], nd[600], path[700], html[700], label[32];
	double rep[5], raw[5], cnt[5], gen;
	struct tsync_node *n;
	sqlite3 *db;
	sqlite3_stmt *s;
	int runs = scale > 10 ? 3 : 5, i, cache = -16384;
	long bytes = 0;

	snprintf(label, sizeof(label), "_scale%g", scale);
	snprintf(name, sizeof(name), "district%g", scale);
	if (bench_node(dir, name, "gangzha", NULL, NULL) != 0)
		exit(1);
	snprintf(nd, sizeof(nd), "%s/%s", dir, name);
	if (tsync_node_open(nd, NULL, &n) != 0) {
		fprintf(stderr, "bench: %s\n", tsync_node_errmsg(n));
		exit(1);
	}
	gen = bench_now();
	if (tsync_generate(n, &o, &st) != 0) {
		fprintf(stderr, "bench: generate: %s\n", tsync_node_errmsg(n));
		exit(1);
	}
	gen = bench_now() - gen;
	/* The plain connection gets the node's page cache size. */
	if (sqlite3_prepare_v2(tsync_node_db(n), "PRAGMA cache_size", -1, &s,
			       NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		cache = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	snprintf(path, sizeof(path), "%s/replica.db", nd);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK)
		exit(1);
	snprintf(path, sizeof(path), "PRAGMA cache_size=%d", cache);
	sqlite3_exec(db, path, NULL, NULL, NULL);
	snprintf(html, sizeof(html), "%s/report%s.html", dir, label);
	/* Warm-up: both sides read every page once. */
	time_raw_count(db);
	time_raw_grouped(db);
	time_report(n, html, &bytes);
	for (i = 0; i < runs; i++) {
		rep[i] = time_report(n, html, &bytes);
		raw[i] = time_raw_grouped(db);
		cnt[i] = time_raw_count(db);
	}
	sqlite3_close(db);
	tsync_node_close(n);
	rep[0] = median(rep, runs);
	raw[0] = median(raw, runs);
	cnt[0] = median(cnt, runs);
	printf("report_records%s: %llu\n", label,
	       (unsigned long long)st.records);
	printf("report_generate_s%s: %.1f\n", label, gen);
	printf("report_html_kb%s: %.1f\n", label, bytes / 1024.0);
	printf("report_ms%s: %.2f\n", label, rep[0] * 1000);
	printf("report_raw_ms%s: %.2f\n", label, raw[0] * 1000);
	printf("report_vs_raw_ratio%s: %.2f\n", label, rep[0] / raw[0]);
	printf("report_count_ms%s: %.3f\n", label, cnt[0] * 1000);
	printf("report_vs_count_ratio%s: %.1f\n", label, rep[0] / cnt[0]);
	fflush(stdout);
}

/* ---- record add through the CLI ---------------------------------------- */

static void
find_bin(char *out, size_t len)
{
	const char *env = getenv("TSYNC_BIN");
	char self[PATH_MAX];
	ssize_t k;

	if (env != NULL && *env != '\0') {
		snprintf(out, len, "%s", env);
	} else if ((k = readlink("/proc/self/exe", self, sizeof(self) - 1)) >
		   0) {
		self[k] = '\0';
		snprintf(out, len, "%s/../tiersync", dirname(self));
	} else {
		snprintf(out, len, "tiersync");
	}
	if (access(out, X_OK) != 0) {
		fprintf(stderr, "bench: no tiersync binary at %s (set"
				" TSYNC_BIN)\n", out);
		exit(1);
	}
}

/* Runs argv as a process, stdout to /dev/null; seconds taken. */
static double
run_proc(char *const argv[])
{
	double t = bench_now();
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		dup2(fd, 1);
		execv(argv[0], argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0) {
		fprintf(stderr, "bench: %s %s failed\n", argv[0], argv[1]);
		exit(1);
	}
	return bench_now() - t;
}

static void
record_add(const char *dir)
{
	char bin[PATH_MAX + 16], nd[600], raw[600];
	char *add[] = {bin, "dispute", "add", nd, "--category", "family",
		       "--source", "walkin", "--title", "测试", "--parties",
		       "甲、乙", "--risk", "low", "--lead", "judicial",
		       "--opened", "2026-03-05", "--by", "王芳", NULL};
	char *ver[] = {bin, "version", NULL};
	double ta[ADD_RUNS], tv[ADD_RUNS], tr[ADD_RUNS];
	sqlite3 *db;
	sqlite3_stmt *s;
	int i;

	find_bin(bin, sizeof(bin));
	if (bench_node(dir, "village", VSCOPE, NULL, NULL) != 0)
		exit(1);
	snprintf(nd, sizeof(nd), "%s/village", dir);
	snprintf(raw, sizeof(raw), "%s/raw-add.db", dir);
	db = bench_raw_db(raw);
	sqlite3_prepare_v2(db, bench_insert_sql, -1, &s, NULL);
	run_proc(add); /* warm-up: first write, page cache */
	run_proc(ver);
	for (i = 0; i < ADD_RUNS; i++) {
		double t;

		ta[i] = run_proc(add);
		tv[i] = run_proc(ver);
		t = bench_now();
		sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
		bench_bind_case(s, (uint64_t)i, VSCOPE);
		if (sqlite3_step(s) != SQLITE_DONE)
			abort();
		sqlite3_reset(s);
		if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
			abort();
		tr[i] = bench_now() - t;
	}
	sqlite3_finalize(s);
	sqlite3_close(db);
	qsort(ta, ADD_RUNS, sizeof(ta[0]), bench_cmp_d);
	qsort(tv, ADD_RUNS, sizeof(tv[0]), bench_cmp_d);
	qsort(tr, ADD_RUNS, sizeof(tr[0]), bench_cmp_d);
	printf("record_add_runs: %d\n", ADD_RUNS);
	printf("record_add_ms_p50: %.2f\n", ta[ADD_RUNS / 2] * 1000);
	printf("record_add_ms_p99: %.2f\n", ta[ADD_RUNS * 99 / 100] * 1000);
	printf("record_add_version_ms_p50: %.2f\n", tv[ADD_RUNS / 2] * 1000);
	printf("record_add_raw_insert_ms_p50: %.3f\n",
	       tr[ADD_RUNS / 2] * 1000);
	printf("record_add_vs_version_ratio: %.2f\n",
	       ta[ADD_RUNS / 2] / tv[ADD_RUNS / 2]);
	printf("record_add_vs_raw_insert_ratio: %.1f\n",
	       ta[ADD_RUNS / 2] / tr[ADD_RUNS / 2]);
	fflush(stdout);
}

int
bench_records(const char *dir)
{
	const char *env = getenv("TSYNC_BENCH_SCALE");
	double big = env ? strtod(env, NULL) : 100;

	if (!(big > 0 && big <= 1000)) {
		fprintf(stderr, "bench: TSYNC_BENCH_SCALE takes a number above"
				" 0, up to 1000\n");
		return 2;
	}
	record_add(dir);
	report(dir, 1);
	if (big != 1) {
		printf("report_scale: %g\n", big);
		report(dir, big);
	}
	return 0;
}
