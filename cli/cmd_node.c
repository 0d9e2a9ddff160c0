/*
 * cmd_node.c - the node commands that read or write one replica:
 * init, sql, log, status, digest, verify.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int
cmd_init(struct args *a)
{
	static const char u[] = "tiersync init NODE_DIR [--parent HOST:PORT] "
				"[--listen ADDR:PORT]";
	struct tsync_init_opts o = {NULL, NULL};
	const char *dir;
	char err[512];
	int rc;

	o.parent = arg_opt(a, "--parent");
	o.listen = arg_opt(a, "--listen");
	if ((dir = arg_next(a)) == NULL)
		return usage_error(u, "NODE_DIR is needed");
	if ((rc = arg_done(a, u)) != 0)
		return rc;
	if (tsync_node_init(dir, &o, err, sizeof(err)) != 0)
		return fail("%s", err);
	printf("node initialised in %s\n", dir);
	return EXIT_DONE;
}

struct print {
	int rows;
};

static int
print_row(void *arg, int ncol, const char *const *names,
	  const char *const *vals)
{
	struct print *p = arg;
	int i;

	if (p->rows++ == 0) {
		for (i = 0; i < ncol; i++)
			printf("%s%s", i ? "|" : "", names[i]);
		putchar('\n');
	}
	for (i = 0; i < ncol; i++)
		printf("%s%s", i ? "|" : "", vals[i] ? vals[i] : "");
	putchar('\n');
	return 0;
}

#define SQL_STDIN_MAX (1u << 30) /* a script on standard input: 1 GiB */

/* Reads all of standard input into a NUL-terminated buffer, or fails. */
static char *
read_stdin(void)
{
	size_t len = 0, cap = 0, got;
	char *p = NULL, *np;

	do {
		if (cap - len < 65536) {
			cap = cap ? 2 * cap : 1u << 20;
			if (cap > SQL_STDIN_MAX + 1u ||
			    (np = realloc(p, cap)) == NULL) {
				free(p);
				fail("the SQL on standard input is over 1 GiB "
				     "or memory ran out; nothing was written");
				return NULL;
			}
			p = np;
		}
		got = fread(p + len, 1, cap - len - 1, stdin);
		len += got;
	} while (got > 0);
	if (ferror(stdin) || memchr(p, '\0', len) != NULL) {
		free(p);
		fail("%s; nothing was written",
		     ferror(stdin) ? "cannot read standard input"
				   : "standard input holds a NUL byte: it is "
				     "not SQL text");
		return NULL;
	}
	p[len] = '\0';
	return p;
}

int
cmd_sql(struct args *a)
{
	static const char u[] = "tiersync sql NODE_DIR [\"SQL\" | -]  "
				"(no SQL or -: read it from standard input)";
	const char *dir = arg_next(a), *sql = arg_next(a);
	struct print p = {0};
	struct tsync_node *n;
	char *script = NULL;
	int rc;

	if (dir == NULL)
		return usage_error(u, "NODE_DIR is needed");
	if ((rc = arg_done(a, u)) != 0)
		return rc;
	if ((n = open_node(dir)) == NULL)
		return EXIT_FAIL;
	if (sql == NULL || strcmp(sql, "-") == 0) {
		if ((script = read_stdin()) == NULL) {
			tsync_node_close(n);
			return EXIT_FAIL;
		}
		sql = script;
	}
	rc = tsync_node_exec(n, sql, print_row, &p);
	if (rc != 0) {
		const char *m = tsync_node_errmsg(n);

		/* Some messages already say so (a refused clock, disk full). */
		rc = strstr(m, "nothing was written") != NULL
			     ? fail("%s", m)
			     : fail("%s; nothing was written", m);
	}
	free(script);
	tsync_node_close(n);
	return rc;
}

static int
print_txn(void *arg, const struct tsync_txn_info *t)
{
	char when[64];
	const char *p = t->summary, *nl;

	(void)arg;
	tsync_hlc_format(t->hlc, when, sizeof(when));
	printf("%s %s #%llu  %s\n", t->origin, t->scope,
	       (unsigned long long)t->seq, when);
	while (*p != '\0') {
		nl = strchr(p, '\n');
		printf("    %.*s\n", nl ? (int)(nl - p) : (int)strlen(p), p);
		p = nl ? nl + 1 : p + strlen(p);
	}
	return 0;
}

int
cmd_log(struct args *a)
{
	static const char u[] = "tiersync log NODE_DIR [--limit N]";
	const char *lim = arg_opt(a, "--limit");
	const char *dir = arg_next(a);
	struct tsync_node *n;
	unsigned limit = 0;
	char *end;
	int rc;

	if (lim != NULL) {
		long v = strtol(lim, &end, 10);

		if (*end != '\0' || v < 0)
			return usage_error(u, "--limit takes a count");
		limit = (unsigned)v;
	}
	if (dir == NULL)
		return usage_error(u, "NODE_DIR is needed");
	if ((rc = arg_done(a, u)) != 0)
		return rc;
	if ((n = open_node(dir)) == NULL)
		return EXIT_FAIL;
	rc = tsync_node_log(n, limit, print_txn, NULL);
	if (rc != 0)
		rc = fail("%s", tsync_node_errmsg(n));
	tsync_node_close(n);
	return rc;
}

struct st {
	int json;
	int count;
	json_t *arr; /* --json: the list being filled */
	int oom;     /* --json: an item could not be built */
};

/* Appends an item to the --json list; -1 if it could not be built. */
static int
add(struct st *st, json_t *v)
{
	if (v != NULL && json_array_append_new(st->arr, v) == 0)
		return 0;
	st->oom = 1;
	return -1; /* stops the listing */
}

static int
print_stream(void *arg, const struct tsync_stream_info *s)
{
	struct st *st = arg;
	char when[64];

	if (st->json)
		return add(st, json_pack("{s:o,s:o,s:o,s:o,s:b}", "origin",
					 jtext(s->origin), "scope",
					 jtext(s->scope), "seq", juint(s->seq),
					 "hlc", juint(s->hlc), "local",
					 s->local));
	tsync_hlc_format(s->hlc, when, sizeof(when));
	printf("  %s %-40s seq %-8llu %s%s\n", s->origin, s->scope,
	       (unsigned long long)s->seq, when, s->local ? "  (local)" : "");
	return 0;
}

static int
print_quarantine(void *arg, const struct tsync_quarantine_info *q)
{
	struct st *st = arg;

	if (st->json)
		return add(st, json_pack("{s:o,s:o,s:o,s:o}", "peer",
					 jtext(q->peer), "reason",
					 jtext(q->reason), "count",
					 juint(q->count), "last_at_ms",
					 juint(q->last_at_ms)));
	printf("%s  %llu from %s: %s\n",
	       st->count++ ? "" : "quarantined (kept as evidence, not "
				  "applied):\n",
	       (unsigned long long)q->count, q->peer, q->reason);
	return 0;
}

static int
print_skew(void *arg, const struct tsync_skew_info *k)
{
	struct st *st = arg;

	if (st->json)
		return add(st, json_pack("{s:o,s:o}", "origin", jtext(k->origin),
					 "ahead_ms", juint(k->ahead_ms)));
	printf("%s  %s clock ran %llu ms ahead of ours (versions kept; "
	       "our clock bounded)\n",
	       st->count++ ? "" : "clock skew:\n", k->origin,
	       (unsigned long long)k->ahead_ms);
	return 0;
}

static int
print_peer(void *arg, const struct tsync_peer_info *p)
{
	struct st *st = arg;
	char when[64];
	uint64_t ms = p->last_contact_ms;

	if (st->json)
		return add(st,
			   json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,"
				     "s:o}",
				     "node_id", jtext(p->node_id), "role",
				     jtext(p->role), "scope", jtext(p->scope),
				     "addr", jtext(p->addr), "last_contact_ms",
				     juint(ms), "they_lack", juint(p->they_lack),
				     "we_lack", juint(p->we_lack), "sent",
				     juint(p->sent), "received",
				     juint(p->received), "last_error",
				     p->last_error ? jtext(p->last_error)
						   : json_null()));
	tsync_hlc_format(ms << 16, when, sizeof(when));
	printf("  %s %-7s %-32s last contact %s\n"
	       "      behind: peer lacked %llu of ours, we lacked %llu "
	       "of its; moved: sent %llu, received %llu%s%s\n",
	       p->node_id, p->role, p->scope, when,
	       (unsigned long long)p->they_lack, (unsigned long long)p->we_lack,
	       (unsigned long long)p->sent, (unsigned long long)p->received,
	       p->last_error ? "\n      last error: " : "",
	       p->last_error ? p->last_error : "");
	return 0;
}

static int
count_evidence(void *arg, const struct tsync_evidence_info *e)
{
	(void)e;
	(*(unsigned *)arg)++;
	return 0;
}

/* Equivocation evidence (docs/protocol.md 8.3): two heads for one seq. */
static int
print_evidence(void *arg, const struct tsync_evidence_info *e)
{
	struct st *st = arg;

	if (st->json)
		return add(st,
			   json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,"
				     "s:o,s:o}",
				     "origin", jtext(e->origin), "scope",
				     jtext(e->scope), "seq", juint(e->seq),
				     "held", jtext(e->held), "other",
				     jtext(e->other), "how", jtext(e->how),
				     "seen_by", jtext(e->seen_by), "peer",
				     e->peer[0] ? jtext(e->peer) : json_null(),
				     "seen_at_ms", juint(e->seen_at_ms),
				     "signed_bodies", juint((uint64_t)e->signed_bodies),
				     "ours", juint((uint64_t)e->ours)));
	printf("  %s/%s seq %llu: %.12s vs %.12s, seen by %s by %s%s%s; "
	       "%d of 2 bodies signed by the origin\n",
	       e->origin, e->scope, (unsigned long long)e->seq, e->held,
	       e->other, e->seen_by, e->how, e->peer[0] ? " from " : "",
	       e->peer, e->signed_bodies);
	return 0;
}

/*
 * --json: the object of `status`, built from the lists, or NULL: *oom if
 * memory ran out, else *rc says why.
 */
static json_t *
status_json(struct tsync_node *n, const struct tsync_identity *id,
	    const struct tsync_counts *c, int *rc, int *oom)
{
	json_t *lists[5] = {NULL, NULL, NULL, NULL, NULL}, *o;
	struct st st = {1, 0, NULL, 0};
	int i;

	*rc = 0;
	*oom = 1;
	for (i = 0; i < 5; i++)
		if ((lists[i] = json_array()) == NULL)
			goto drop;
	st.arr = lists[0];
	*rc = tsync_node_streams(n, print_stream, &st);
	st.arr = lists[1];
	if (*rc == 0)
		*rc = tsync_node_peers(n, print_peer, &st);
	st.arr = lists[2];
	if (*rc == 0)
		*rc = tsync_node_skews(n, print_skew, &st);
	st.arr = lists[3];
	if (*rc == 0)
		*rc = tsync_node_quarantine(n, print_quarantine, &st);
	st.arr = lists[4];
	if (*rc == 0)
		*rc = tsync_node_evidence(n, print_evidence, &st);
	*oom = st.oom;
	if (*rc != 0 || *oom)
		goto drop;
	o = json_pack("{s:o,s:o,s:o,s:o,s:{s:o,s:o,s:o,s:o,s:o,s:o},"
			 "s:o,s:o,s:o,s:o}",
			 "node_id", jtext(id->node_id), "scope",
			 jtext(id->scope), "role", jtext(id->role), "district",
			 jtext(id->district), "counts", "txns", juint(c->txns),
			 "rows", juint(c->rows), "tombstones",
			 juint(c->tombstones), "streams", juint(c->streams),
			 "conflicts", juint(c->conflicts), "quarantined",
			 juint(c->quarantined), "streams", lists[0], "peers",
			 lists[1], "clock_skews", lists[2], "quarantine",
			 lists[3]);
	if (o != NULL && json_object_set_new(o, "evidence", lists[4]) == 0)
		return o;
	json_decref(o);
	lists[4] = NULL; /* json_object_set_new took it, even on failure */
	return NULL;
drop:
	for (i = 0; i < 5; i++)
		json_decref(lists[i]);
	return NULL;
}

/* A replica a snapshot first pull brought says whether it was checked. */
static void
print_replica_state(struct tsync_node *n)
{
	char st[200];

	if (tsync_node_replica_state(n, st, sizeof(st)) != 0)
		return;
	if (strncmp(st, "verified", 8) == 0)
		printf("replica   %s\n", st);
	else
		printf("replica   unverified (%s a snapshot first pull: it "
		       "serves nothing until the check passed)\n",
		       strcmp(st, "receiving") == 0 ? "receiving" : "checking");
}

int
cmd_status(struct args *a)
{
	static const char u[] = "tiersync status NODE_DIR [--json]";
	struct st st = {arg_flag(a, "--json"), 0, NULL, 0};
	const char *dir = arg_next(a);
	struct tsync_identity id;
	struct tsync_counts c;
	struct tsync_node *n;
	json_t *out;
	int rc, oom;

	if (dir == NULL)
		return usage_error(u, "NODE_DIR is needed");
	if ((rc = arg_done(a, u)) != 0)
		return rc;
	if ((n = open_node(dir)) == NULL)
		return EXIT_FAIL;
	tsync_node_identity(n, &id);
	if ((rc = tsync_node_counts(n, &c)) != 0) {
		rc = fail("%s", tsync_node_errmsg(n));
		goto out;
	}
	if (st.json) {
		/* Nothing on standard output unless all of it is there. */
		out = status_json(n, &id, &c, &rc, &oom);
		if (rc != 0 && !oom)
			rc = fail("%s", tsync_node_errmsg(n));
		else
			rc = jprint(out); /* NULL: says memory ran out */
		goto out;
	}
	printf("node      %s\nscope     %s\nrole      %s\n"
	       "district  %s\n",
	       id.node_id, id.scope, id.role, id.district);
	print_replica_state(n);
	printf("txns %llu, rows %llu, tombstones %llu, conflicts %llu, "
	       "quarantined %llu\nstreams (%llu):\n",
	       (unsigned long long)c.txns, (unsigned long long)c.rows,
	       (unsigned long long)c.tombstones,
	       (unsigned long long)c.conflicts,
	       (unsigned long long)c.quarantined,
	       (unsigned long long)c.streams);
	rc = tsync_node_streams(n, print_stream, &st);
	printf("peers:\n");
	st.count = 0;
	if (rc == 0)
		rc = tsync_node_peers(n, print_peer, &st);
	st.count = 0;
	if (rc == 0)
		rc = tsync_node_skews(n, print_skew, &st);
	st.count = 0;
	if (rc == 0)
		rc = tsync_node_quarantine(n, print_quarantine, &st);
	if (rc == 0) {
		unsigned ev = 0;

		rc = tsync_node_evidence(n, count_evidence, &ev);
		if (rc == 0 && ev == 0)
			printf("evidence: none\n");
		else if (rc == 0)
			printf("evidence: %u records of equivocation (an origin "
			       "signed two histories; see verify):\n", ev);
		if (rc == 0 && ev > 0)
			rc = tsync_node_evidence(n, print_evidence, &st);
	}
	if (rc != 0)
		rc = fail("%s", tsync_node_errmsg(n));
out:
	tsync_node_close(n);
	return rc;
}

int
cmd_digest(struct args *a)
{
	static const char u[] = "tiersync digest NODE_DIR [--scope PATH]";
	const char *scope = arg_opt(a, "--scope");
	const char *dir = arg_next(a);
	struct tsync_node *n;
	char hex[65];
	int rc;

	if (dir == NULL)
		return usage_error(u, "NODE_DIR is needed");
	if ((rc = arg_done(a, u)) != 0)
		return rc;
	if ((n = open_node(dir)) == NULL)
		return EXIT_FAIL;
	rc = tsync_node_digest(n, scope, hex);
	if (rc == 0)
		printf("%s\n", hex);
	else if (rc == TSYNC_EINVAL) /* --scope is not a scope path */
		rc = usage_error(u, "%s", tsync_node_errmsg(n));
	else
		rc = fail("%s", tsync_node_errmsg(n));
	tsync_node_close(n);
	return rc;
}

static void
print_fault(void *arg, const char *line)
{
	(void)arg;
	printf("FAULT %s\n", line);
}

/* verify --receipts: how far each stream is witnessed, and by whom. */
static int
print_witnessed(void *arg, const struct tsync_witness_info *w)
{
	(void)arg;
	printf("  %s/%s: seq %llu, witnessed up to %llu%s%s", w->origin,
	       w->scope, (unsigned long long)w->seq,
	       (unsigned long long)w->witnessed, w->witnesses[0] ? " by " : "",
	       w->witnesses);
	if (w->witnessed < w->seq)
		printf("; not witnessed: seq %llu..%llu",
		       (unsigned long long)w->witnessed + 1,
		       (unsigned long long)w->seq);
	if (w->contradicted > 0)
		printf("; %u receipts contradict this log", w->contradicted);
	printf("\n");
	return 0;
}

int
cmd_verify(struct args *a)
{
	static const char u[] = "tiersync verify NODE_DIR [--receipts]";
	int receipts = arg_flag(a, "--receipts");
	const char *dir = arg_next(a);
	struct tsync_counts c;
	struct tsync_node *n;
	int rc;

	if (dir == NULL)
		return usage_error(u, "NODE_DIR is needed");
	if ((rc = arg_done(a, u)) != 0)
		return rc;
	if ((n = open_node(dir)) == NULL)
		return EXIT_FAIL;
	rc = tsync_node_verify(n, print_fault, NULL);
	if (receipts && (rc == 0 || rc == TSYNC_EVERIFY)) {
		printf("receipts (NODE:SEQ countersigned by a parent; + beyond "
		       "what this node holds):\n");
		if (tsync_node_witnessed(n, print_witnessed, NULL) != 0)
			rc = TSYNC_EIO;
	}
	if (rc == 0 && tsync_node_counts(n, &c) == 0)
		printf("verified: %llu streams, %llu txns, %llu rows; no "
		       "faults\n",
		       (unsigned long long)c.streams,
		       (unsigned long long)c.txns, (unsigned long long)c.rows);
	else if (rc == TSYNC_EVERIFY)
		rc = fail("verify: %s", tsync_node_errmsg(n));
	else if (rc != 0)
		rc = fail("verify could not run: %s", tsync_node_errmsg(n));
	tsync_node_close(n);
	return rc == 0 ? EXIT_DONE : EXIT_FAIL;
}
