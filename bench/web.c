/*
 * web.c - bench group "web": the browser app's JSON API and its dashboard,
 * each against a same-process baseline.
 *
 * A district node is filled by tsync_generate (4 streets of 15 villages,
 * the three years 2024-2026, at scale TSYNC_BENCH_WEB_SCALE, default 10,
 * so that one village holds a few hundred disputes and a page of 50 is
 * full), and that node's own app is served in this process
 * (tsync_web_start on 127.0.0.1, its libmicrohttpd thread and node
 * handle, an account "bench" logged in once).  The list is of one
 * village's disputes, by scope: the district holds the whole district, so
 * the query filters the village out of every village's rows.
 *
 *   api_list_ms_p50/_p99: GET /api/records/dispute?limit=50&scope=VILLAGE
 *       over loopback with the session cookie, one new TCP connection per
 *       request (Connection: close), 200 requests after 20 warm-up ones;
 *       time from connect to the last byte of the response.
 *       api_list_village, api_list_village_disputes, api_list_bytes: the
 *       village, how many disputes it holds, the response's size.
 *   api_list_rec_ms_p50: the same list through tsync_rec_list on another
 *       handle in this process, opened after the generation as the app's
 *       is (no HTTP, no session, no JSON text);
 *       api_list_vs_rec_ratio = api / that.
 *   api_list_raw_ms_p50: a raw SQLite SELECT of the village's 50 newest
 *       disputes (every column read; `scope = ?`, the same index as the
 *       list's subtree test) on a plain connection with the node's cache
 *       size: no count of the total, no labels, no JSON;
 *       api_list_vs_raw_ratio = api / that.
 *   api_status_ms_p50: GET /api/status (the dashboard's figures: counts,
 *       open disputes by risk over the whole district, the ten mediating
 *       ones, peers, quarantine), 50 requests, for reading page_load_ms.
 *   page_load_ms (and page_load_* lines): the dashboard in headless
 *       Chromium, by bench/web_page.py under /usr/bin/python3 with
 *       selenium: from navigation start until the dashboard is on screen
 *       (its risk cards and sync table, after /api/session, /api/kinds and
 *       /api/status), median of warm loads, with an empty local page
 *       loaded the same way as the baseline.  Skipped, with a line saying
 *       why, if chromium, chromedriver or selenium is missing.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "tiersync/records.h"
#include "tiersync/web.h"

#define RUNS 200
#define WARM 20
#define PASSWORD "bench-pass-1"
#ifndef TSYNC_SRC_DIR
#define TSYNC_SRC_DIR "."
#endif

static void
die(const char *what, const char *why)
{
	fprintf(stderr, "bench: %s: %s\n", what, why);
	exit(1);
}

/* ---- A minimal HTTP/1.1 client: one connection per request ------------ */

struct resp {
	int status;
	char *text; /* whole response, headers and body */
	size_t len;
	const char *body;
};

static void
http(int port, const char *method, const char *path, const char *cookie,
     const char *body, struct resp *r)
{
	struct sockaddr_in sa = {0};
	char head[2048];
	size_t cap = 1 << 16;
	int fd, one = 1, n;
	ssize_t k;

	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		die("connect to the web app", "refused");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	n = snprintf(head, sizeof(head),
		     "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
		     "Connection: close\r\n%s%s%s"
		     "Content-Type: application/json\r\n"
		     "Content-Length: %zu\r\n\r\n",
		     method, path, port, cookie ? "Cookie: tsid=" : "",
		     cookie ? cookie : "", cookie ? "\r\n" : "",
		     body ? strlen(body) : 0);
	if (write(fd, head, (size_t)n) != n ||
	    (body && write(fd, body, strlen(body)) != (ssize_t)strlen(body)))
		die("write to the web app", "short write");
	r->text = malloc(cap);
	r->len = 0;
	while ((k = read(fd, r->text + r->len, cap - r->len - 1)) > 0) {
		r->len += (size_t)k;
		if (cap - r->len < 4096)
			r->text = realloc(r->text, cap *= 2);
	}
	close(fd);
	r->text[r->len] = '\0';
	r->status = r->len > 12 ? (int)strtol(r->text + 9, NULL, 10) : 0;
	r->body = strstr(r->text, "\r\n\r\n");
	r->body = r->body ? r->body + 4 : r->text + r->len;
}

/* ---- The node and its app ----------------------------------------------- */

static int
first_village(void *arg, int ncol, const char *const *names,
	      const char *const *vals)
{
	(void)ncol;
	(void)names;
	snprintf(arg, 256, "%s", vals[0] ? vals[0] : "");
	return 0;
}

static struct tsync_web *
start_web(const char *nd, int *port)
{
	struct tsync_web *w = NULL;
	char addr[64], err[512];
	int i, rc = TSYNC_EIO;

	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	/* Below the ephemeral range, as the tests do; retry if in use. */
	for (i = 0; i < 20 && rc == TSYNC_EIO; i++) {
		*port = 20000 + rand() % 30000;
		snprintf(addr, sizeof(addr), "127.0.0.1:%d", *port);
		rc = tsync_web_start(nd, addr, &w, err, sizeof(err));
	}
	if (rc != 0)
		die("web app", err);
	return w;
}

static void
page_load(const char *dir, int port)
{
	const char *py = getenv("TSYNC_BENCH_PYTHON");
	const char *script = getenv("TSYNC_BENCH_WEB_PAGE");
	char url[64], path[1024];
	pid_t pid;
	int st;

	if (py == NULL || *py == '\0')
		py = "/usr/bin/python3";
	if (script == NULL || *script == '\0') {
		snprintf(path, sizeof(path), "%s/bench/web_page.py",
			 TSYNC_SRC_DIR);
		script = path;
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	fflush(stdout);
	if ((pid = fork()) == 0) {
		execl(py, py, script, url, "bench", PASSWORD, dir, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		printf("page_load_ms: skipped (%s %s failed; see above)\n", py,
		       script);
}

int
bench_web(const char *dir)
{
	const char *env = getenv("TSYNC_BENCH_WEB_SCALE");
	double scale = env ? strtod(env, NULL) : 10;
	struct tsync_gen_opts o = {4, 15, 3, 2026, 1, 0};
	struct tsync_gen_stats gst = {0};
	struct tsync_rec_filter f = {0};
	static double ta[RUNS], tr[RUNS], tq[RUNS], ts[50];
	char nd[600], village[256] = "", path[512], cookie[65] = "", err[512];
	char sql[256], dbpath[700];
	struct tsync_node *n;
	struct tsync_web *w;
	struct resp r;
	json_t *j, *out;
	sqlite3 *db;
	sqlite3_stmt *s;
	const char *p;
	long long total = 0;
	size_t bytes = 0;
	double gen, t;
	int port, i, c, cache = -16384;

	if (!(scale > 0 && scale <= 1000)) {
		fprintf(stderr, "bench: TSYNC_BENCH_WEB_SCALE takes a number "
				"above 0, up to 1000\n");
		return 2;
	}
	o.scale = scale;
	if (bench_node(dir, "district", "gangzha", NULL, NULL) != 0)
		return 1;
	snprintf(nd, sizeof(nd), "%s/district", dir);
	if (tsync_node_open(nd, NULL, &n) != 0)
		die("open", tsync_node_errmsg(n));
	gen = bench_now();
	if (tsync_generate(n, &o, &gst) != 0)
		die("generate", tsync_node_errmsg(n));
	gen = bench_now() - gen;
	/* A fresh handle, as the app's: none of the generation's state. */
	tsync_node_close(n);
	if (tsync_node_open(nd, NULL, &n) != 0)
		die("open", tsync_node_errmsg(n));
	tsync_node_exec(n,
			"SELECT path FROM offices WHERE tier = 'village' "
			"ORDER BY path LIMIT 1",
			first_village, village);
	if (village[0] == '\0')
		die("generate", "no village in the offices");
	if (tsync_user_add(nd, "bench", "clerk", PASSWORD, err, sizeof(err)))
		die("user add", err);
	w = start_web(nd, &port);

	/* Log in once; the session cookie serves every request. */
	http(port, "POST", "/api/login", NULL,
	     "{\"user\":\"bench\",\"password\":\"" PASSWORD "\"}", &r);
	if (r.status != 200 || (p = strstr(r.text, "tsid=")) == NULL)
		die("login", r.text);
	snprintf(cookie, sizeof(cookie), "%.64s", p + 5);
	free(r.text);

	snprintf(path, sizeof(path),
		 "/api/records/dispute?limit=50&scope=%s", village);
	for (i = 0; i < WARM + RUNS; i++) {
		t = bench_now();
		http(port, "GET", path, cookie, NULL, &r);
		t = bench_now() - t;
		if (r.status != 200)
			die(path, r.text);
		if (i >= WARM)
			ta[i - WARM] = t;
		if (i == 0) {
			bytes = r.len - (size_t)(r.body - r.text);
			j = json_loads(r.body, 0, NULL);
			total = json_integer_value(json_object_get(j, "total"));
			if (json_array_size(json_object_get(j, "records")) !=
			    (total < 50 ? (size_t)total : 50))
				die(path, "wrong number of records");
			json_decref(j);
		}
		free(r.text);
	}

	/* The same list in this process, on the bench's own handle. */
	f.scope = village;
	f.limit = 50;
	for (i = 0; i < WARM + RUNS; i++) {
		t = bench_now();
		if (tsync_rec_list(n, tsync_kind_find("dispute"), &f, &out))
			die("tsync_rec_list", tsync_node_errmsg(n));
		t = bench_now() - t;
		json_decref(out);
		if (i >= WARM)
			tr[i - WARM] = t;
	}

	/* Raw SQLite: the 50 rows, every column read, nothing more. */
	if (sqlite3_prepare_v2(tsync_node_db(n), "PRAGMA cache_size", -1, &s,
			       NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		cache = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	snprintf(dbpath, sizeof(dbpath), "%s/replica.db", nd);
	if (sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK)
		die("open", dbpath);
	snprintf(sql, sizeof(sql), "PRAGMA cache_size=%d", cache);
	sqlite3_exec(db, sql, NULL, NULL, NULL);
	if (sqlite3_prepare_v2(db,
			       "SELECT * FROM disputes WHERE scope = ?1 ORDER "
			       "BY opened DESC, no DESC LIMIT 50",
			       -1, &s, NULL) != SQLITE_OK)
		die("raw select", sqlite3_errmsg(db));
	for (i = 0; i < WARM + RUNS; i++) {
		size_t sink = 0;

		t = bench_now();
		sqlite3_bind_text(s, 1, village, -1, SQLITE_STATIC);
		while (sqlite3_step(s) == SQLITE_ROW)
			for (c = 0; c < sqlite3_column_count(s); c++)
				sink += (size_t)sqlite3_column_bytes(s, c) +
					(sqlite3_column_text(s, c) != NULL);
		sqlite3_reset(s);
		t = bench_now() - t;
		if (sink == 0)
			die("raw select", "no rows");
		if (i >= WARM)
			tq[i - WARM] = t;
	}
	sqlite3_finalize(s);
	sqlite3_close(db);

	qsort(ta, RUNS, sizeof(ta[0]), bench_cmp_d);
	qsort(tr, RUNS, sizeof(tr[0]), bench_cmp_d);
	qsort(tq, RUNS, sizeof(tq[0]), bench_cmp_d);
	printf("web_scale: %g\n", scale);
	printf("web_records: %llu\n", (unsigned long long)gst.records);
	printf("web_generate_s: %.1f\n", gen);
	printf("api_list_village: %s\n", village);
	printf("api_list_village_disputes: %lld\n", total);
	printf("api_list_bytes: %zu\n", bytes);
	printf("api_list_runs: %d\n", RUNS);
	printf("api_list_ms_p50: %.3f\n", ta[RUNS / 2] * 1000);
	printf("api_list_ms_p99: %.3f\n", ta[RUNS * 99 / 100] * 1000);
	printf("api_list_rec_ms_p50: %.3f\n", tr[RUNS / 2] * 1000);
	printf("api_list_raw_ms_p50: %.3f\n", tq[RUNS / 2] * 1000);
	printf("api_list_vs_rec_ratio: %.2f\n", ta[RUNS / 2] / tr[RUNS / 2]);
	printf("api_list_vs_raw_ratio: %.1f\n", ta[RUNS / 2] / tq[RUNS / 2]);
	for (i = 0; i < 55; i++) {
		t = bench_now();
		http(port, "GET", "/api/status", cookie, NULL, &r);
		t = bench_now() - t;
		if (r.status != 200)
			die("/api/status", r.text);
		free(r.text);
		if (i >= 5)
			ts[i - 5] = t;
	}
	qsort(ts, 50, sizeof(ts[0]), bench_cmp_d);
	printf("api_status_ms_p50: %.3f\n", ts[25] * 1000);
	fflush(stdout);

	page_load(dir, port);
	tsync_web_stop(w);
	tsync_node_close(n);
	return 0;
}
