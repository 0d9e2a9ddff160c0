/*
 * cmd_demo.c - `tiersync demo [DIR]`: a whole district on this machine.
 *
 * A CA, the district, two streets, two villages under each, a grid under
 * one village and an auditor: each a real `tiersync serve` process over
 * mutual TLS on loopback, each with its folder in DIR (the scope with '/'
 * as '.').  The district publishes its offices and roster; villages record
 * disputes, mediations, consultations and events while their links are
 * down; links come up and everything flows; a street and a village edit
 * the same dispute concurrently and a clerk settles the conflict; the
 * district prints its report; the auditor holds everything and verifies
 * it.  Every check is printed; exit 0 only if all held.  Every process
 * started is stopped.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "tiersync/records.h"
#include "tiersync/web.h"

#define DEMO_PASSWORD "demo-pass-1"

extern char **environ;

enum { D, S1, S2, V1, V2, V3, V4, G, A, NNODE };

static const struct office {
	const char *scope, *name, *shortname, *tier;
	int parent; /* index, -1 for none */
	int auditor;
} offices[NNODE] = {
	{"gangzha", "港闸区", "港闸", "district", -1, 0},
	{"gangzha/qinzao", "秦灶街道", "秦灶", "street", D, 0},
	{"gangzha/tangzha", "唐闸街道", "唐闸", "street", D, 0},
	{"gangzha/qinzao/feiqiao", "费桥村", "费桥", "village", S1, 0},
	{"gangzha/qinzao/xinhe", "新河村", "新河", "village", S1, 0},
	{"gangzha/tangzha/donggang", "东港村", "东港", "village", S2, 0},
	{"gangzha/tangzha/huayuan", "花园社区", "花园", "village", S2, 0},
	{"gangzha/qinzao/feiqiao/g1", "费桥第一网格", "费桥一格", "grid", V1,
	 0},
	{"gangzha", "区审计组", "审计", "auditor", D, 1},
};

struct demo {
	char dir[512];
	char path[NNODE][600];
	int port[NNODE];
	int http[NNODE]; /* web app port, 0 for none */
	int stay;        /* --stay: keep serving until Ctrl-C */
	pid_t pid[NNODE];
	int checks, failed;
};

static void
say(const char *what)
{
	printf("\n\033[1m== %s\033[0m\n", what);
	fflush(stdout);
}

static void
check(struct demo *d, int ok, const char *what)
{
	d->checks++;
	d->failed += !ok;
	printf("  %s %s\n", ok ? "✓" : "✗", what);
	fflush(stdout);
}

/*
 * A loopback port nothing listens on, below the ephemeral range (32768
 * and up) so that no outgoing connection can take it before serve binds.
 */
static int
free_port(int i)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	int tries, port = 0;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (tries = 0; tries < 200 && port == 0; tries++) {
		int s = socket(AF_INET, SOCK_STREAM, 0);

		a.sin_port = htons((uint16_t)(20000 + (getpid() * 7 + tries * 131 +
						       i * 997 +
						       (int)time(NULL)) % 12000));
		if (s >= 0 && bind(s, (struct sockaddr *)&a, sizeof(a)) == 0)
			port = ntohs(a.sin_port);
		if (s >= 0)
			close(s);
	}
	return port;
}

static int
serve(struct demo *d, int i)
{
	char addr[64];
	char *argv[] = {"tiersync", "serve", d->path[i], "--quiet", NULL, NULL,
			NULL};

	if (d->http[i] != 0) {
		snprintf(addr, sizeof(addr), "127.0.0.1:%d", d->http[i]);
		argv[4] = "--http";
		argv[5] = addr;
	}
	posix_spawn_file_actions_t fa;
	char log[700];
	int rc;

	snprintf(log, sizeof(log), "%s.log", d->path[i]);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, log,
					 O_WRONLY | O_CREAT | O_APPEND, 0644);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	rc = posix_spawn(&d->pid[i], "/proc/self/exe", &fa, NULL, argv,
			 environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		d->pid[i] = 0;
	return rc;
}

static void
stop(struct demo *d, int i)
{
	if (d->pid[i] <= 0)
		return;
	kill(d->pid[i], SIGTERM);
	waitpid(d->pid[i], NULL, 0);
	d->pid[i] = 0;
}

static void
pause_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Opens node i; prints why not. */
static struct tsync_node *
node(struct demo *d, int i)
{
	return open_node(d->path[i]);
}

static int
count_cb(void *arg, int ncol, const char *const *names,
	 const char *const *vals)
{
	(void)ncol;
	(void)names;
	*(long *)arg = vals[0] ? strtol(vals[0], NULL, 10) : 0;
	return 0;
}

static long
count(struct demo *d, int i, const char *sql)
{
	struct tsync_node *n = node(d, i);
	long v = -1;

	if (n != NULL && tsync_node_exec(n, sql, count_cb, &v) != 0)
		v = -1;
	tsync_node_close(n);
	return v;
}

/* Waits up to `ms` for node i to hold `want` rows of `sql`. */
static long
wait_count(struct demo *d, int i, const char *sql, long want, unsigned ms)
{
	long v = -1;
	unsigned t;

	for (t = 0; t <= ms; t += 100) {
		if ((v = count(d, i, sql)) == want)
			return v;
		pause_ms(100);
	}
	return v;
}

static int
add(struct tsync_node *n, const char *kind, const char *by, json_t *vals,
    char *no, size_t len)
{
	json_t *rec = NULL;
	int rc = tsync_rec_add(n, tsync_kind_find(kind), vals, by, NULL, &rec);

	if (rc != 0)
		fprintf(stderr, "  %s: %s\n", kind, tsync_node_errmsg(n));
	else if (no != NULL)
		snprintf(no, len, "%s",
			 json_string_value(json_object_get(rec, "no")));
	json_decref(rec);
	json_decref(vals);
	return rc;
}

static int
upd(struct tsync_node *n, const char *no, const char *by, json_t *vals)
{
	int rc = tsync_rec_update(n, tsync_kind_find("dispute"), no, vals, by,
				  NULL);

	if (rc != 0)
		fprintf(stderr, "  update %s: %s\n", no, tsync_node_errmsg(n));
	json_decref(vals);
	return rc;
}

static int
setup(struct demo *d)
{
	char err[512], addr[64], paddr[64], cadir[600];
	struct tsync_init_opts o;
	int i;

	snprintf(cadir, sizeof(cadir), "%s/ca", d->dir);
	if (tsync_ca_init(cadir, "gangzha", 365, err, sizeof(err)) != 0)
		return fail("%s", err);
	for (i = 0; i < NNODE; i++) {
		size_t k;

		snprintf(d->path[i], sizeof(d->path[i]), "%s/%s%s", d->dir,
			 offices[i].scope, offices[i].auditor ? ".auditor" : "");
		for (k = strlen(d->dir) + 1; d->path[i][k] != '\0'; k++)
			if (d->path[i][k] == '/')
				d->path[i][k] = '.';
		if (tsync_ca_issue(cadir, offices[i].scope,
				   offices[i].auditor ? "auditor" : "office",
				   365, d->path[i], err, sizeof(err)) != 0)
			return fail("%s", err);
		d->port[i] = free_port(i);
	}
	for (i = 0; i < NNODE; i++) {
		snprintf(addr, sizeof(addr), "127.0.0.1:%d", d->port[i]);
		if (offices[i].parent >= 0)
			snprintf(paddr, sizeof(paddr), "127.0.0.1:%d",
				 d->port[offices[i].parent]);
		o.listen = offices[i].tier[0] == 'g' || offices[i].auditor
				   ? NULL
				   : addr;
		o.parent = offices[i].parent >= 0 ? paddr : NULL;
		if (tsync_node_init(d->path[i], &o, err, sizeof(err)) != 0)
			return fail("%s", err);
	}
	/* The web app on a village and a street, with a demo account. */
	d->http[V1] = free_port(20 + V1);
	d->http[S1] = free_port(20 + S1);
	if (tsync_user_add(d->path[V1], "demo", "clerk", DEMO_PASSWORD, err,
			   sizeof(err)) != 0 ||
	    tsync_user_add(d->path[S1], "demo", "clerk", DEMO_PASSWORD, err,
			   sizeof(err)) != 0)
		return fail("%s", err);
	printf("  %d nodes initialised under %s (one folder per office)\n",
	       NNODE, d->dir);
	return 0;
}

static int
publish(struct demo *d)
{
	struct tsync_node *n = node(d, D);
	static const char *const staff[][4] = {
		{"王芳", "judicial", "gangzha/qinzao/feiqiao", "司法助理员"},
		{"李强", "police", "gangzha/qinzao/feiqiao", "社区民警"},
		{"陈静", "lawfirm", "gangzha/qinzao/feiqiao", "值班律师"},
		{"周磊", "judicial", "gangzha/qinzao", "街道调解员"},
	};
	size_t i;
	int rc = 0;

	if (n == NULL)
		return -1;
	for (i = 0; rc == 0 && i < NNODE; i++)
		if (!offices[i].auditor)
			rc = add(n, "office", "区司法局",
				 json_pack("{s:s,s:s,s:s,s:s}", "path",
					   offices[i].scope, "name",
					   offices[i].name, "short",
					   offices[i].shortname, "tier",
					   offices[i].tier),
				 NULL, 0);
	for (i = 0; rc == 0 && i < sizeof(staff) / sizeof(staff[0]); i++)
		rc = add(n, "staff", "区司法局",
			 json_pack("{s:s,s:s,s:s,s:s}", "name", staff[i][0],
				   "unit", staff[i][1], "office", staff[i][2],
				   "title", staff[i][3]),
			 NULL, 0);
	tsync_node_close(n);
	return rc;
}

/* A village's offline week: two disputes (one settled), a consult, an
 * event.  The first dispute's number goes to `first`. */
static int
village_week(struct demo *d, int i, char *first, size_t len)
{
	struct tsync_node *n = node(d, i);
	char no[64];
	int rc;

	if (n == NULL)
		return -1;
	rc = add(n, "dispute", "王芳",
		 json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "title",
			   "宅基地边界争议", "category", "征地拆迁", "source",
			   "来访", "parties", "张建国、李秀英", "risk", "中",
			   "lead", "三所联合", "opened", "2026-11-02", "summary",
			   "两户因宅基地边界发生争执。"),
		 first, len);
	if (rc == 0)
		rc = add(n, "dispute", "李强",
			 json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "title",
				   "赡养老人纠纷", "category", "family",
				   "source", "police", "parties",
				   "赵海燕、赵志刚", "risk", "low", "lead",
				   "judicial", "opened", "2026-11-03"),
			 no, sizeof(no));
	if (rc == 0)
		rc = upd(n, no, "王芳",
			 json_pack("{s:s}", "status", "mediating"));
	if (rc == 0)
		rc = add(n, "mediation", "王芳",
			 json_pack("{s:s,s:s,s:s,s:s,s:s}", "dispute", no,
				   "date", "2026-11-05", "participants",
				   "王芳（司法所）、李强（派出所）、陈静（律师事务所）",
				   "result", "agreed", "agreement",
				   "子女轮流赡养，每月支付生活费。"),
			 NULL, 0);
	if (rc == 0)
		rc = upd(n, no, "王芳",
			 json_pack("{s:s,s:s,s:s}", "status", "resolved",
				   "closed", "2026-11-05", "outcome",
				   "调解成功，签订赡养协议"));
	if (rc == 0)
		rc = add(n, "consult", "陈静",
			 json_pack("{s:s,s:s,s:s,s:s,s:s}", "lawyer", "陈静",
				   "topic", "土地承包", "question",
				   "承包地被占用如何维权？", "answer",
				   "先协商，可申请调解或仲裁。", "date",
				   "2026-11-04"),
			 NULL, 0);
	if (rc == 0)
		rc = add(n, "event", "陈静",
			 json_pack("{s:s,s:s,s:s,s:s,s:s,s:i}", "kind",
				   "lecture", "title", "民法典进村", "date",
				   "2026-11-06", "place", "村民活动室", "speakers",
				   "陈静", "audience", 80 + 10 * i),
			 NULL, 0);
	tsync_node_close(n);
	return rc;
}

static int
conflicts_cb(void *arg, const struct tsync_conflict *c)
{
	snprintf(arg, 16, "%s", c->id);
	return 0;
}

static long
nconflicts(struct demo *d, int i, char *id)
{
	struct tsync_node *n = node(d, i);
	struct tsync_counts c = {0};
	long v = -1;

	if (n != NULL && tsync_node_counts(n, &c) == 0)
		v = (long)c.conflicts;
	if (n != NULL && id != NULL)
		tsync_node_conflicts(n, conflicts_cb, id);
	tsync_node_close(n);
	return v;
}

static long
wait_conflicts(struct demo *d, int i, long want, char *id)
{
	long v = -1;
	int t;

	for (t = 0; t < 150 && (v = nconflicts(d, i, id)) != want; t++)
		pause_ms(100);
	return v;
}

static int
digest(struct demo *d, int i, const char *scope, char hex[65])
{
	struct tsync_node *n = node(d, i);
	int rc = n ? tsync_node_digest(n, scope, hex) : -1;

	tsync_node_close(n);
	return rc;
}

static void
fault_cb(void *arg, const char *fault)
{
	(void)arg;
	printf("    fault: %s\n", fault);
}

static void
start_all(struct demo *d, int from, int to)
{
	int i;

	for (i = from; i <= to; i++)
		serve(d, i);
	pause_ms(300);
}

/* GET `path` from the web app on `port`; 1 if it answers 200 with `want`. */
static int
web_get(int port, const char *path, const char *want)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	char req[256], resp[8192];
	size_t got = 0;
	ssize_t k;
	int s = socket(AF_INET, SOCK_STREAM, 0), ok = 0;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	if (s < 0)
		return 0;
	snprintf(req, sizeof(req),
		 "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    write(s, req, strlen(req)) == (ssize_t)strlen(req)) {
		while (got < sizeof(resp) - 1 &&
		       (k = read(s, resp + got, sizeof(resp) - 1 - got)) > 0)
			got += (size_t)k;
		resp[got] = '\0';
		ok = strncmp(resp, "HTTP/1.0 200", 12) == 0 ||
		     strncmp(resp, "HTTP/1.1 200", 12) == 0;
		ok = ok && strstr(resp, want) != NULL;
	}
	close(s);
	return ok;
}

static void
run(struct demo *d)
{
	char first[4][64], id[16] = "", hd[65], ha[65], rep[700];
	const char *q = "SELECT count(*) FROM disputes";
	struct tsync_node *n;
	json_t *r = NULL;
	long v;
	int i, ok;

	say("The district publishes its offices and roster; every node starts");
	check(d, publish(d) == 0, "district recorded 8 offices and its roster");
	start_all(d, D, D);
	start_all(d, S1, S2);
	start_all(d, V1, V4);
	start_all(d, G, A);
	for (i = V1, ok = 1; i <= G; i++)
		ok &= wait_count(d, i, "SELECT count(*) FROM offices", 8,
				 15000) == 8;
	check(d, ok, "every village and the grid hold the offices (broadcast)");
	for (i = 0, ok = 0; i < 50 && !ok; i++) {
		ok = web_get(d->http[S1], "/", "三所共建工作台");
		if (!ok)
			pause_ms(100);
	}
	check(d, ok, "the street's web app answers");

	say("The village links go down; villages work offline");
	for (i = V1; i <= G; i++)
		stop(d, i);
	for (i = V1, ok = 1; i <= V4; i++)
		ok &= village_week(d, i, first[i - V1], sizeof(first[0])) == 0;
	check(d, ok, "4 villages recorded 8 disputes, a mediation each, "
		     "consultations and events offline");
	n = node(d, G);
	ok = n && add(n, "grid", "网格员 顾春梅",
		      json_pack("{s:s,s:s,s:s,s:s}", "reporter", "顾春梅",
				"seen", "三组两户因排水沟堵塞发生口角", "place",
				"费桥村三组", "date", "2026-11-07"),
		      NULL, 0) == 0;
	tsync_node_close(n);
	check(d, ok, "the grid liaison reported what she saw");
	printf("  first dispute of Feiqiao: %s\n", first[0]);
	check(d, count(d, S1, q) == 0, "the street has seen none of it yet");

	say("Links come up: everything flows to the street and the district");
	start_all(d, V1, G);
	v = wait_count(d, D, q, 8, 20000);
	check(d, v == 8, "the district holds all 8 disputes");
	check(d, wait_count(d, S1, q, 4, 5000) == 4,
	      "Qinzao street holds its villages' 4 disputes, not Tangzha's");
	check(d, wait_count(d, V2, q, 2, 5000) == 2,
	      "Xinhe village holds only its own 2 disputes");
	check(d, wait_count(d, D, "SELECT count(*) FROM grid_reports", 1,
			    10000) == 1,
	      "the grid report reached the district");

	say("The street and Feiqiao edit the same dispute while cut off");
	stop(d, V1);
	n = node(d, S1);
	ok = n && upd(n, first[0], "周磊", json_pack("{s:s}", "risk", "high")) == 0;
	tsync_node_close(n);
	n = node(d, V1);
	ok &= n && upd(n, first[0], "王芳", json_pack("{s:s}", "risk", "low")) == 0;
	tsync_node_close(n);
	check(d, ok, "street set risk 高, village set risk 低");
	serve(d, V1);
	v = wait_conflicts(d, S1, 1, id);
	check(d, v == 1 && wait_conflicts(d, V1, 1, NULL) == 1,
	      "the conflict shows at the street and at the village");
	n = node(d, S1);
	ok = n && tsync_node_resolve(n, id, TSYNC_KEEP_VALUE, "high") == 0;
	tsync_node_close(n);
	check(d, ok, "a street clerk settles it: risk 高");
	check(d, wait_conflicts(d, V1, 0, NULL) == 0 &&
			 wait_conflicts(d, D, 0, NULL) == 0,
	      "the settlement reached the village and the district");
	check(d, wait_count(d, V1, "SELECT count(*) FROM disputes WHERE risk "
				   "= 'high'",
			    1, 5000) == 1,
	      "Feiqiao now shows the settled value");

	say("The district's report");
	n = node(d, D);
	ok = n && tsync_report(n, "gangzha", "2026-01-01", "2026-12-31", &r) == 0;
	tsync_node_close(n);
	if (ok) {
		FILE *f;

		tsync_report_render(r, TSYNC_FMT_TEXT, stdout);
		snprintf(rep, sizeof(rep), "%s/report.html", d->dir);
		if ((f = fopen(rep, "w")) != NULL) {
			tsync_report_render(r, TSYNC_FMT_HTML, f);
			fclose(f);
			printf("  (printable report: %s)\n", rep);
		}
	}
	check(d, ok && json_integer_value(json_object_get(
			       json_object_get(r, "totals"), "disputes")) == 8,
	      "the report counts 8 disputes, 4 resolved");
	json_decref(r);

	say("The auditor holds everything and verifies it");
	for (i = 0; i < 100; i++) {
		if (digest(d, D, NULL, hd) == 0 && digest(d, A, NULL, ha) == 0 &&
		    strcmp(hd, ha) == 0)
			break;
		pause_ms(100);
	}
	check(d, strcmp(hd, ha) == 0, "the auditor's digest equals the district's");
	n = node(d, A);
	ok = n && tsync_node_verify(n, fault_cb, NULL) == 0;
	tsync_node_close(n);
	check(d, ok, "verify at the auditor: every chain, signature and scope");

	say("The web app, in Chinese, for the clerks who will not use a shell");
	check(d, web_get(d->http[V1], "/", "三所共建工作台"),
	      "Feiqiao's web app answers");
	printf("  费桥村 (village): http://127.0.0.1:%d/  秦灶街道 (street): "
	       "http://127.0.0.1:%d/\n  account: demo / %s\n",
	       d->http[V1], d->http[S1], DEMO_PASSWORD);
}

int
cmd_demo(struct args *a)
{
	static const char usage[] = "tiersync demo [DIR] [--stay]";
	struct demo *d = calloc(1, sizeof(*d));
	const char *dir;
	int i, rc;

	if (d == NULL)
		return fail("out of memory");
	d->stay = arg_flag(a, "--stay");
	dir = arg_next(a);
	if (arg_done(a, usage) != 0) {
		free(d);
		return EXIT_USAGE;
	}
	if (dir != NULL)
		snprintf(d->dir, sizeof(d->dir), "%s", dir);
	else
		snprintf(d->dir, sizeof(d->dir), "/tmp/tiersync-demo.%d",
			 (int)getpid());
	if (mkdir(d->dir, 0755) != 0 && errno != EEXIST) {
		rc = fail("cannot create %s: %s", d->dir, strerror(errno));
		free(d);
		return rc;
	}
	say("The district (gangzha) creates its CA and an identity for every "
	    "office");
	if ((rc = setup(d)) != 0) {
		free(d);
		return rc;
	}
	run(d);
	if (d->stay && d->failed == 0) {
		sigset_t set;
		int sig;

		printf("\nthe district keeps running: open the addresses above;"
		       " Ctrl-C stops it\n");
		fflush(stdout);
		sigemptyset(&set);
		sigaddset(&set, SIGINT);
		sigaddset(&set, SIGTERM);
		sigprocmask(SIG_BLOCK, &set, NULL);
		sigwait(&set, &sig);
	}
	for (i = 0; i < NNODE; i++)
		stop(d, i);
	printf("\n%d checks, %d failed; nodes left in %s\n", d->checks,
	       d->failed, d->dir);
	rc = d->failed == 0 ? EXIT_DONE : EXIT_FAIL;
	free(d);
	return rc;
}
