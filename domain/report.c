/*
 * report.c - the figures the district publishes, for a scope and a period.
 *
 * One grouped query per measure (measures[] below) over the scope's
 * subtree; each row lands in the total and in the row of the child scope
 * it lies under (a street's villages, the district's streets; records of
 * the scope itself form a row of their own).  Every figure is a count of
 * records whose date falls in the period, except: "mediated" counts the
 * disputes closed in the period after mediation (resolved, failed or
 * referred), and "specials" the files active at any time in the period.
 * docs/usage.md lists each figure with its definition.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "domain.h"
#include "node_int.h"
#include "scope.h"

struct measure {
	const char *kind;  /* command name of the kind */
	const char *cond;  /* period condition; ?2 = from, ?3 = to */
	const char *dim;   /* field grouped by, or NULL */
	const char *count; /* figure counting the rows, or NULL */
	const char *by;    /* figure of counts per dim value, or NULL */
	const char *sum;   /* column summed into figure `sumkey` */
	const char *sumkey;
	const char *extra; /* more conditions */
};

#define IN_PERIOD(c) \
	"(?2 IS NULL OR " c " >= ?2) AND (?3 IS NULL OR " c " <= ?3)"

static const struct measure measures[] = {
	{"dispute", IN_PERIOD("opened"), "category", "disputes", "by_category",
	 NULL, NULL, NULL},
	{"dispute", IN_PERIOD("opened"), "source", NULL, "by_source", NULL,
	 NULL, NULL},
	{"dispute", IN_PERIOD("opened"), "status", NULL, "by_status", NULL,
	 NULL, NULL},
	{"dispute", IN_PERIOD("closed"), "status", "mediated",
	 "mediated_by_status", NULL, NULL,
	 "status IN ('resolved','failed','referred')"},
	{"mediation", IN_PERIOD("date"), "result", "sessions",
	 "sessions_by_result", NULL, NULL, NULL},
	{"consult", IN_PERIOD("date"), "became", "consults", "consults_became",
	 NULL, NULL, NULL},
	{"petition", IN_PERIOD("received"), "triage", "petitions",
	 "petitions_by_triage", NULL, NULL, NULL},
	{"petition", IN_PERIOD("received"), "routed_to", NULL,
	 "petitions_routed", NULL, NULL, "routed_to IS NOT NULL"},
	{"event", IN_PERIOD("date"), "kind", "events", "events_by_kind",
	 "audience", "audience", NULL},
	{"person",
	 "(?3 IS NULL OR since <= ?3) AND (?2 IS NULL OR until IS NULL OR "
	 "until >= ?2)",
	 "kind", "specials", "specials_by_kind", NULL, NULL, NULL},
	{"visit", IN_PERIOD("date"), NULL, "visits", NULL, NULL, NULL, NULL},
	{"risk", IN_PERIOD("date"), "level", "risks", "risks_by_level", NULL,
	 NULL, NULL},
	{"meeting", IN_PERIOD("date"), "kind", "meetings", "meetings_by_kind",
	 NULL, NULL, NULL},
	{"grid", IN_PERIOD("date"), "status", "grid_reports", "grid_by_status",
	 NULL, NULL, NULL},
};
#define NMEASURE (sizeof(measures) / sizeof(measures[0]))

static json_t *
figures_new(void)
{
	json_t *f = json_object();
	size_t i;

	for (i = 0; i < NMEASURE; i++) {
		if (measures[i].count)
			json_object_set_new(f, measures[i].count,
					    json_integer(0));
		if (measures[i].by)
			json_object_set_new(f, measures[i].by, json_object());
		if (measures[i].sumkey)
			json_object_set_new(f, measures[i].sumkey,
					    json_integer(0));
	}
	return f;
}

static void
bump(json_t *o, const char *key, json_int_t by)
{
	json_t *v = json_object_get(o, key);

	json_object_set_new(o, key,
			    json_integer((v ? json_integer_value(v) : 0) + by));
}

static void
tally(json_t *fig, const struct measure *m, const char *dim, json_int_t cnt,
      json_int_t sum)
{
	if (m->count)
		bump(fig, m->count, cnt);
	if (m->by && dim)
		bump(json_object_get(fig, m->by), dim, cnt);
	if (m->sumkey)
		bump(fig, m->sumkey, sum);
}

struct rep {
	struct tsync_node *n;
	const char *scope, *from, *to;
	json_t *total;
	json_t *kids; /* child scope -> figures */
};

static json_t *
kid(struct rep *r, const char *scope)
{
	json_t *f = json_object_get(r->kids, scope);

	if (f == NULL) {
		f = figures_new();
		json_object_set_new(r->kids, scope, f);
	}
	return f;
}

/* The child of r->scope that `s` lies in (r->scope itself for its own). */
#define CHILD_SQL                                                          \
	"CASE WHEN scope = ?1 THEN ?1 ELSE substr(scope, 1, length(?1) + "  \
	"instr(substr(scope, length(?1) + 2) || '/', '/')) END"
#define SUBTREE_SQL \
	"(scope = ?1 OR (scope > ?1 || '/' AND scope < ?1 || '0')) AND " \
	"scope NOT GLOB '*[*]'"

static int
run_measure(struct rep *r, const struct measure *m)
{
	const struct tsync_kind *k = tsync_kind_find(m->kind);
	sqlite3_stmt *s;
	char *sql;
	int rc;

	sql = sqlite3_mprintf("SELECT " CHILD_SQL ", %s, count(*), %s%s%s FROM"
			      " \"%s\" WHERE " SUBTREE_SQL " AND %s%s%s "
			      "GROUP BY 1, 2",
			      m->dim ? m->dim : "NULL",
			      m->sum ? "total(\"" : "0", m->sum ? m->sum : "",
			      m->sum ? "\")" : "", k->table, m->cond,
			      m->extra ? " AND " : "",
			      m->extra ? m->extra : "");
	if (sql == NULL)
		return node_err(r->n, TSYNC_ENOMEM, "out of memory");
	rc = sqlite3_prepare_v2(r->n->db, sql, -1, &s, NULL);
	sqlite3_free(sql);
	if (rc != SQLITE_OK)
		return node_sqlerr(r->n, rc, "report");
	sqlite3_bind_text(s, 1, r->scope, -1, SQLITE_STATIC);
	if (r->from)
		sqlite3_bind_text(s, 2, r->from, -1, SQLITE_STATIC);
	if (r->to)
		sqlite3_bind_text(s, 3, r->to, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *child = (const char *)sqlite3_column_text(s, 0);
		const char *dim = (const char *)sqlite3_column_text(s, 1);
		json_int_t cnt = sqlite3_column_int64(s, 2);
		json_int_t sum = (json_int_t)sqlite3_column_double(s, 3);

		tally(r->total, m, dim, cnt, sum);
		tally(kid(r, child), m, dim, cnt, sum);
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : node_sqlerr(r->n, rc, "report");
}

/* Every office directly below the scope gets a row, records or not. */
static int
known_children(struct rep *r)
{
	sqlite3_stmt *s;
	int rc;

	rc = sqlite3_prepare_v2(
		r->n->db,
		"SELECT DISTINCT path FROM offices WHERE path > ?1 || '/' AND "
		"path < ?1 || '0' AND instr(substr(path, length(?1) + 2), '/')"
		" = 0",
		-1, &s, NULL);
	if (rc != SQLITE_OK)
		return node_sqlerr(r->n, rc, "report");
	sqlite3_bind_text(s, 1, r->scope, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		kid(r, (const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : node_sqlerr(r->n, rc, "report");
}

static void
rates(json_t *fig)
{
	json_int_t med = json_integer_value(json_object_get(fig, "mediated"));
	json_int_t ok = json_integer_value(json_object_get(
		json_object_get(fig, "mediated_by_status"), "resolved"));

	json_object_set_new(fig, "resolved", json_integer(ok));
	json_object_set_new(fig, "success_rate",
			    med ? json_real((double)ok / (double)med)
				: json_null());
}

/* Labels of every dim, so that renderers need no declarations. */
static json_t *
labels(void)
{
	json_t *l = json_object();
	size_t i;

	for (i = 0; i < NMEASURE; i++) {
		const struct tsync_kind *k = tsync_kind_find(measures[i].kind);
		const struct tsync_field *f;
		const struct tsync_choice *c;
		json_t *o;

		if (measures[i].by == NULL ||
		    (f = tsync_kind_field(k, measures[i].dim)) == NULL)
			continue;
		o = json_object();
		for (c = f->choices; c != NULL && c->code != NULL; c++)
			json_object_set_new(o, c->code, json_string(c->label));
		json_object_set_new(l, measures[i].by, o);
	}
	return l;
}

static json_t *
children_array(struct rep *r)
{
	json_t *arr = json_array(), *fig;
	const char **keys;
	const char *key;
	size_t n = json_object_size(r->kids), i = 0, j;
	char name[256];

	keys = calloc(n ? n : 1, sizeof(*keys));
	json_object_foreach(r->kids, key, fig) keys[i++] = key;
	for (i = 1; i < n; i++) /* few children: insertion sort */
		for (j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
			key = keys[j];
			keys[j] = keys[j - 1];
			keys[j - 1] = key;
		}
	for (i = 0; i < n; i++) {
		fig = json_object_get(r->kids, keys[i]);
		rates(fig);
		tsync_scope_name(r->n, keys[i], name, sizeof(name));
		json_object_set_new(fig, "scope", json_string(keys[i]));
		json_object_set_new(fig, "name",
				    json_string(strcmp(keys[i], r->scope) == 0
							? "本级"
							: name));
		json_array_append(arr, fig);
	}
	free(keys);
	return arr;
}

static int
check_date(struct tsync_node *n, const char *what, const char *d)
{
	unsigned y, m, dd;
	char rest[4];

	if (d == NULL)
		return 0;
	if (strlen(d) == 10 && sscanf(d, "%4u-%2u-%2u%1s", &y, &m, &dd,
				      rest) == 3 && m >= 1 && m <= 12 &&
	    dd >= 1 && dd <= 31) {
		/* The day must exist: 2026-11-31 comes back as 12-01. */
		struct tm tm = {.tm_year = (int)y - 1900, .tm_mon = (int)m - 1,
				.tm_mday = (int)dd, .tm_hour = 12};
		time_t t = timegm(&tm);

		gmtime_r(&t, &tm);
		if (tm.tm_mday == (int)dd)
			return 0;
	}
	return node_err(n, TSYNC_EINVAL, "%s: '%s' is not a date: write "
					 "YYYY-MM-DD",
			what, d);
}

int
tsync_report(struct tsync_node *n, const char *scope, const char *from,
	     const char *to, json_t **out)
{
	struct rep r = {n, scope ? scope : n->scope, from, to, NULL, NULL};
	char name[256], at[32];
	time_t now = (time_t)(ts_now_ms(&n->ops) / 1000);
	struct tm tm;
	size_t i;
	int rc = 0;

	*out = NULL;
	if (!scope_valid(r.scope, 0))
		return node_err(n, TSYNC_EINVAL,
				"--scope: '%s' is not a scope path such as "
				"gangzha/qinzao",
				r.scope);
	if ((rc = check_date(n, "--from", from)) != 0 ||
	    (rc = check_date(n, "--to", to)) != 0)
		return rc;
	if (from && to && strcmp(from, to) > 0)
		return node_err(n, TSYNC_EINVAL,
				"--to %s is before --from %s", to, from);
	r.total = figures_new();
	r.kids = json_object();
	for (i = 0; rc == 0 && i < NMEASURE; i++)
		rc = run_measure(&r, &measures[i]);
	if (rc == 0)
		rc = known_children(&r);
	if (rc != 0) {
		json_decref(r.total);
		json_decref(r.kids);
		return rc;
	}
	rates(r.total);
	tsync_scope_name(n, r.scope, name, sizeof(name));
	gmtime_r(&now, &tm);
	strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", &tm);
	*out = json_pack("{s:s, s:s, s:s?, s:s?, s:s, s:o, s:o, s:o}", "scope",
			 r.scope, "name", name, "from", from, "to", to,
			 "generated_at", at, "totals", r.total, "children",
			 children_array(&r), "labels", labels());
	json_decref(r.kids);
	return 0;
}
