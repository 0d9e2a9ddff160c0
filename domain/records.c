/*
 * records.c - adding, changing, reading, listing and checking records.
 *
 * Values come in as JSON (from the command line as strings, from the web
 * API typed) and are normalised here: an ENUM accepts its code or its
 * Chinese label, a LIST an array or a text separated by 、 , ; and a REF
 * the record's id or its number.  Whatever passes goes to SQL, where the
 * triggers of schema.c judge it once more, so a rule holds for every way
 * in.  Every error names the field: "category (类别): ...".
 *
 * Writes join the caller's node transaction when one is open, so a
 * workflow step that touches two records (a grid report turned into a
 * dispute) is one commit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "domain.h"
#include "node_int.h"
#include "scope.h"

#define SQL_MAX 8192

static int
field_err(struct tsync_node *n, const struct tsync_field *f, const char *fmt,
	  const char *arg)
{
	char msg[1024];

	snprintf(msg, sizeof(msg), fmt, arg);
	return node_err(n, TSYNC_EINVAL, "%s (%s): %s", f->name, f->label,
			msg);
}

/* A trigger's RAISE text is already "field (label): ..."; keep it. */
static int
sql_err(struct tsync_node *n, int rc)
{
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return node_err(n, TSYNC_EINVAL, "%s", sqlite3_errmsg(n->db));
	return node_sqlerr(n, rc, "record");
}

static void
now_iso(struct tsync_node *n, char *out, size_t len)
{
	time_t t = (time_t)(ts_now_ms(&n->ops) / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- Values in ----------------------------------------------------------- */

/* Accepts 2026-03-05, 2026/3/5, 2026.3.5 and 2026年3月5日. */
static int
norm_date(const char *s, char *out, size_t len)
{
	unsigned y, m, d;
	char sep[8];

	if (sscanf(s, "%4u-%2u-%2u%1s", &y, &m, &d, sep) == 3 ||
	    sscanf(s, "%4u/%2u/%2u%1s", &y, &m, &d, sep) == 3 ||
	    sscanf(s, "%4u.%2u.%2u%1s", &y, &m, &d, sep) == 3 ||
	    sscanf(s, "%4u年%2u月%2u日%1s", &y, &m, &d, sep) == 3) {
		snprintf(out, len, "%04u-%02u-%02u", y % 10000, m % 100,
			 d % 100);
		return 0;
	}
	return -1;
}

/* Splits "a、b, c;d" into a JSON array text. */
static char *
list_from_text(const char *s)
{
	static const char *const seps[] = {"、", "，", "；", ",", ";", "\n"};
	json_t *a = json_array();
	const char *p = s;
	char *out;

	while (*p != '\0') {
		const char *end = p + strlen(p);
		size_t i, skip = 0;

		for (i = 0; i < sizeof(seps) / sizeof(seps[0]); i++) {
			const char *q = strstr(p, seps[i]);

			if (q != NULL && q < end) {
				end = q;
				skip = strlen(seps[i]);
			}
		}
		while (p < end && *p == ' ')
			p++;
		if (end > p) {
			size_t k = (size_t)(end - p);

			while (k > 0 && p[k - 1] == ' ')
				k--;
			if (k > 0)
				json_array_append_new(a, json_stringn(p, k));
		}
		p = end + skip;
	}
	out = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	return out;
}

/* The record's id for an id or a number, in the kind's table. */
static int
find_id(struct tsync_node *n, const struct tsync_kind *k, const char *key,
	char *id, size_t len)
{
	char sql[256];
	sqlite3_stmt *s;
	int rc;

	snprintf(sql, sizeof(sql),
		 "SELECT id FROM \"%s\" WHERE id = ?1 UNION ALL SELECT id "
		 "FROM \"%s\" WHERE no = ?1 LIMIT 1",
		 k->table, k->table);
	if ((rc = sqlite3_prepare_v2(n->db, sql, -1, &s, NULL)) != SQLITE_OK)
		return node_sqlerr(n, rc, "find record");
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		snprintf(id, len, "%s", (const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc != SQLITE_DONE)
		return node_sqlerr(n, rc, "find record");
	return node_err(n, TSYNC_ENOENT,
			"no %s %s on this node (see `tiersync %s list`)",
			k->name, key, k->name);
}

struct val {
	const struct tsync_field *f;
	char *text; /* owned; NULL: SQL NULL */
	int is_int;
	long long i;
};

static int
norm_value(struct tsync_node *n, const struct tsync_field *f, json_t *j,
	   struct val *v)
{
	char buf[1024], tmp[64];
	const char *s;

	v->f = f;
	if (json_is_null(j))
		return 0;
	if (f->type == TSYNC_FT_LIST && json_is_array(j)) {
		size_t i;
		json_t *e;

		json_array_foreach(j, i, e) if (!json_is_string(e))
			return field_err(n, f, "%s", "give a list of texts");
		v->text = json_dumps(j, JSON_COMPACT);
		return 0;
	}
	if (f->type == TSYNC_FT_INT && json_is_integer(j)) {
		if (json_integer_value(j) < 0)
			return field_err(n, f, "%s",
					 "not a whole number of 0 or more "
					 "(应为非负整数)");
		v->is_int = 1;
		v->i = json_integer_value(j);
		return 0;
	}
	if (json_is_integer(j)) {
		snprintf(tmp, sizeof(tmp), "%lld",
			 (long long)json_integer_value(j));
		s = tmp;
	} else if (!json_is_string(j)) {
		return field_err(n, f, "%s", "give a text value");
	} else {
		s = json_string_value(j);
	}
	if (*s == '\0')
		return 0;
	switch (f->type) {
	case TSYNC_FT_DATE:
		if (norm_date(s, buf, sizeof(buf)) != 0)
			return field_err(n, f,
					 "'%s' is not a date: write YYYY-MM-DD "
					 "(日期格式应为 2026-03-05)",
					 s);
		s = buf;
		break;
	case TSYNC_FT_INT: {
		char *end;
		long long x = strtoll(s, &end, 10);

		if (*end != '\0' || end == s || x < 0)
			return field_err(n, f,
					 "'%s' is not a whole number of 0 or "
					 "more (应为非负整数)",
					 s);
		v->is_int = 1;
		v->i = x;
		return 0;
	}
	case TSYNC_FT_ENUM: {
		const char *code = tsync_choice_code(f, s);
		char allowed[800];

		if (code == NULL) {
			domain_allowed(f, allowed, sizeof(allowed));
			snprintf(buf, sizeof(buf), "'%s' is %s", s, allowed);
			return field_err(n, f, "%s", buf);
		}
		s = code;
		break;
	}
	case TSYNC_FT_LIST:
		v->text = list_from_text(s);
		return v->text ? 0 : node_err(n, TSYNC_ENOMEM, "out of memory");
	case TSYNC_FT_REF: {
		const struct tsync_kind *r = tsync_kind_find(f->ref);
		int rc;

		if (r == NULL)
			return field_err(n, f, "%s", "unknown kind");
		rc = find_id(n, r, s, buf, sizeof(buf));
		if (rc == TSYNC_ENOENT)
			return field_err(n, f, "%s", tsync_node_errmsg(n));
		if (rc != 0)
			return rc;
		s = buf;
		break;
	}
	case TSYNC_FT_SCOPE:
		if (!scope_valid(s, 0))
			return field_err(n, f,
					 "'%s' is not a scope path such as "
					 "gangzha/qinzao (辖区路径无效)",
					 s);
		break;
	}
	v->text = strdup(s);
	return v->text ? 0 : node_err(n, TSYNC_ENOMEM, "out of memory");
}

static void
vals_free(struct val *v, int nv)
{
	while (nv-- > 0)
		free(v[nv].text);
}

/* Reads `values` into v[] (one per field given); unknown names refused. */
static int
take_values(struct tsync_node *n, const struct tsync_kind *k, json_t *values,
	    struct val *v, int *nv)
{
	const char *key;
	json_t *j;
	int rc;

	*nv = 0;
	if (values != NULL && !json_is_object(values))
		return node_err(n, TSYNC_EINVAL, "values must be an object");
	json_object_foreach(values, key, j)
	{
		const struct tsync_field *f = tsync_kind_field(k, key);
		char names[1024];
		size_t o = 0;
		int i;

		if (f == NULL) {
			for (i = 0; i < k->nfield && o < sizeof(names); i++)
				o += (size_t)snprintf(names + o,
						      sizeof(names) - o,
						      "%s%s", i ? ", " : "",
						      k->fields[i].name);
			return node_err(n, TSYNC_EINVAL,
					"%s: not a field of %s; fields: %s",
					key, k->name, names);
		}
		memset(&v[*nv], 0, sizeof(v[*nv]));
		rc = norm_value(n, f, j, &v[*nv]);
		(*nv)++;
		if (rc != 0)
			return rc;
	}
	return 0;
}

static void
bind_val(sqlite3_stmt *s, int i, const struct val *v)
{
	if (v->is_int)
		sqlite3_bind_int64(s, i, v->i);
	else if (v->text != NULL)
		sqlite3_bind_text(s, i, v->text, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, i);
}

/* ---- Scope and number of a new record --------------------------------- */

static int
scope_of_ref(struct tsync_node *n, const struct tsync_kind *r, const char *id,
	     char *out, size_t len)
{
	char sql[128];
	sqlite3_stmt *s;
	int rc;

	snprintf(sql, sizeof(sql), "SELECT scope FROM \"%s\" WHERE id = ?1",
		 r->table);
	if ((rc = sqlite3_prepare_v2(n->db, sql, -1, &s, NULL)) != SQLITE_OK)
		return node_sqlerr(n, rc, "record scope");
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		snprintf(out, len, "%s", (const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : node_err(n, TSYNC_ENOENT, "no record %s",
					       id);
}

static int
pick_scope(struct tsync_node *n, const struct tsync_kind *k,
	   const struct val *v, int nv, const char *want, char *out,
	   size_t len)
{
	int i;

	if (k->parent != NULL) {
		const struct tsync_field *pf = tsync_kind_field(k, k->parent);

		for (i = 0; i < nv; i++)
			if (v[i].f == pf && v[i].text != NULL)
				return scope_of_ref(n, tsync_kind_find(pf->ref),
						    v[i].text, out, len);
		return field_err(n, pf, "%s", "required (必填项不能为空)");
	}
	snprintf(out, len, "%s", want ? want : n->scope);
	if (k->broadcast && !(strlen(out) > 2 &&
			      strcmp(out + strlen(out) - 2, "/*") == 0))
		snprintf(out + strlen(out), len - strlen(out), "/*");
	if (!scope_valid(out, 1))
		return node_err(n, TSYNC_EINVAL,
				"scope: '%s' is not a scope path such as "
				"gangzha/qinzao/feiqiao",
				out);
	if (!scope_may_write(n->scope, n->role, out))
		return node_err(n, TSYNC_ESCOPE,
				"scope: this node (%s, %s) cannot record in %s",
				n->scope, n->role, out);
	return 0;
}

void
tsync_scope_name(struct tsync_node *n, const char *scope, char *out,
		 size_t len)
{
	sqlite3_stmt *s;
	const char *last;
	size_t sl = strlen(scope);
	int bc = sl > 2 && strcmp(scope + sl - 2, "/*") == 0;

	if (sqlite3_prepare_v2(n->db,
			       "SELECT name FROM offices WHERE path = "
			       "?1 ORDER BY recorded_at DESC LIMIT 1",
			       -1, &s, NULL) == SQLITE_OK) {
		sqlite3_bind_text(s, 1, scope, bc ? (int)sl - 2 : -1,
				  SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_ROW &&
		    sqlite3_column_text(s, 0) != NULL) {
			snprintf(out, len, "%s%s",
				 (const char *)sqlite3_column_text(s, 0),
				 bc ? "（全辖）" : "");
			sqlite3_finalize(s);
			return;
		}
		sqlite3_finalize(s);
	}
	last = strrchr(scope, '/');
	snprintf(out, len, "%.*s", bc ? 1000 : (int)sl,
		 last && !bc ? last + 1 : scope);
}

/* "费桥2026-001": the office's short name, the kind's tag, the year. */
static int
next_number(struct tsync_node *n, const struct tsync_kind *k,
	    const char *scope, const char *date, char *out, size_t len)
{
	char prefix[160], name[128], sql[256];
	sqlite3_stmt *s;
	int rc, next = 1;

	name[0] = '\0';
	if (sqlite3_prepare_v2(n->db,
			       "SELECT coalesce(short, name) FROM offices "
			       "WHERE path = ?1 LIMIT 1",
			       -1, &s, NULL) == SQLITE_OK) {
		size_t sl = strlen(scope);

		/* A broadcast scope "P/" "*" is numbered as P. */
		sqlite3_bind_text(s, 1, scope,
				  sl > 2 && strcmp(scope + sl - 2, "/*") == 0
					  ? (int)sl - 2
					  : -1,
				  SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_ROW &&
		    sqlite3_column_text(s, 0) != NULL)
			snprintf(name, sizeof(name), "%s",
				 (const char *)sqlite3_column_text(s, 0));
		sqlite3_finalize(s);
	}
	if (name[0] == '\0') {
		const char *end = scope + strlen(scope), *p;

		if (end - scope > 2 && strcmp(end - 2, "/*") == 0)
			end -= 2;
		for (p = end; p > scope && p[-1] != '/'; p--)
			;
		snprintf(name, sizeof(name), "%.*s", (int)(end - p), p);
	}
	snprintf(prefix, sizeof(prefix), "%s%s%.4s-", name, k->tag, date);
	snprintf(sql, sizeof(sql),
		 "SELECT max(CAST(substr(no, length(?2) + 1) AS INTEGER)) "
		 "FROM \"%s\" WHERE scope = ?1 AND no >= ?2 AND no < ?2 || "
		 "x'ff' AND substr(no, 1, length(?2)) = ?2",
		 k->table);
	if ((rc = sqlite3_prepare_v2(n->db, sql, -1, &s, NULL)) != SQLITE_OK)
		return node_sqlerr(n, rc, "number");
	sqlite3_bind_text(s, 1, scope, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, prefix, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		next = sqlite3_column_int(s, 0) + 1;
	sqlite3_finalize(s);
	snprintf(out, len, "%s%03d", prefix, next);
	return 0;
}

/* ---- Writing ------------------------------------------------------------- */

/* Runs `fn` inside the caller's transaction, or in one of its own. */
static int
in_txn(struct tsync_node *n, int (*fn)(void *), void *arg)
{
	int own = !n->cap.active, rc;

	if (own && (rc = tsync_node_begin(n)) != 0)
		return rc;
	rc = fn(arg);
	if (!own)
		return rc;
	if (rc != 0) {
		tsync_node_rollback(n);
		return rc;
	}
	return tsync_node_commit(n);
}

struct write {
	struct tsync_node *n;
	const struct tsync_kind *k;
	struct val v[TBL_MAX_COLS];
	int nv;
	const char *by, *scope;
	char id[64];
};

static const char *
val_text(const struct write *w, const char *field)
{
	int i;

	for (i = 0; i < w->nv; i++)
		if (strcmp(w->v[i].f->name, field) == 0)
			return w->v[i].text;
	return NULL;
}

static int
do_add(void *arg)
{
	struct write *w = arg;
	struct tsync_node *n = w->n;
	const struct tsync_kind *k = w->k;
	char scope[SCOPE_MAX + 1], no[192], at[32], sql[SQL_MAX], today[16];
	const char *date;
	sqlite3_stmt *s;
	size_t o;
	int i, rc;

	if ((rc = pick_scope(n, k, w->v, w->nv, w->scope, scope,
			     sizeof(scope))) != 0)
		return rc;
	now_iso(n, at, sizeof(at));
	snprintf(today, sizeof(today), "%.10s", at);
	date = k->date ? val_text(w, k->date) : NULL;
	if ((rc = next_number(n, k, scope, date ? date : today, no,
			      sizeof(no))) != 0)
		return rc;
	o = (size_t)snprintf(sql, sizeof(sql),
			     "INSERT INTO \"%s\"(id, scope, no, recorded_by, "
			     "recorded_at",
			     k->table);
	for (i = 0; i < w->nv && o < sizeof(sql); i++)
		o += (size_t)snprintf(sql + o, sizeof(sql) - o, ", \"%s\"",
				      w->v[i].f->name);
	o += (size_t)snprintf(sql + o, sizeof(sql) - o,
			      ") VALUES(ts_newid(), ?1, ?2, ?3, ?4");
	for (i = 0; i < w->nv && o < sizeof(sql); i++)
		o += (size_t)snprintf(sql + o, sizeof(sql) - o, ", ?%d", i + 5);
	o += (size_t)snprintf(sql + o, sizeof(sql) - o, ") RETURNING id");
	if (o >= sizeof(sql))
		return node_err(n, TSYNC_EINVAL, "too many values");
	if ((rc = sqlite3_prepare_v2(n->db, sql, -1, &s, NULL)) != SQLITE_OK)
		return node_sqlerr(n, rc, "add record");
	sqlite3_bind_text(s, 1, scope, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, no, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, w->by, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, at, -1, SQLITE_STATIC);
	for (i = 0; i < w->nv; i++)
		bind_val(s, i + 5, &w->v[i]);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		snprintf(w->id, sizeof(w->id), "%s",
			 (const char *)sqlite3_column_text(s, 0));
	while (rc == SQLITE_ROW)
		rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return sql_err(n, rc);
	return n->cap.err ? node_err(n, n->cap.err, "%s", n->cap.errmsg) : 0;
}

static int
check_by(struct tsync_node *n, const char *by)
{
	const char *p = by;

	while (p != NULL && (*p == ' ' || *p == '\t'))
		p++;
	if (p == NULL || *p == '\0')
		return node_err(n, TSYNC_EINVAL,
				"recorded_by (登记人): say who records it "
				"(--by NAME, or TSYNC_BY in the environment)");
	return 0;
}

/*
 * Every required field the new record lacks, in one message: a clerk
 * fills the form once, not once per field.  The parent reference is
 * pick_scope()'s to name.
 */
static int
add_missing(struct tsync_node *n, const struct write *w)
{
	char names[1024];
	size_t o = 0;
	int i, miss = 0;
	const struct tsync_field *one = NULL;

	names[0] = '\0';
	for (i = 0; i < w->k->nfield; i++) {
		const struct tsync_field *f = &w->k->fields[i];
		int j, have = 0;

		for (j = 0; j < w->nv; j++)
			if (w->v[j].f == f)
				have = w->v[j].is_int ||
				       (w->v[j].text != NULL &&
					w->v[j].text[0] != '\0');
		if (!f->required || have ||
		    (w->k->parent != NULL && strcmp(f->name, w->k->parent) == 0))
			continue;
		one = f;
		if (o < sizeof(names))
			o += (size_t)snprintf(names + o, sizeof(names) - o,
					      "%s%s (%s)", miss ? ", " : "",
					      f->name, f->label);
		miss++;
	}
	if (miss == 1)
		return field_err(n, one, "%s", "required (必填项不能为空)");
	if (miss > 1)
		return node_err(n, TSYNC_EINVAL, "%s: required (必填项不能为空)",
				names);
	return 0;
}

/*
 * Defaults: a workflow starts at its first state; the date that dates a
 * record (registered, held, visited) is today's, in local time, unless
 * given.
 */
static int
add_defaults(struct tsync_node *n, struct write *w)
{
	int i;

	if (w->k->date != NULL && val_text(w, w->k->date) == NULL) {
		const struct tsync_field *f = tsync_kind_field(w->k, w->k->date);
		time_t now = (time_t)(ts_now_ms(&n->ops) / 1000);
		struct tm tm;
		char day[16];

		if (f != NULL && f->type == TSYNC_FT_DATE &&
		    w->nv < TBL_MAX_COLS && localtime_r(&now, &tm) != NULL &&
		    strftime(day, sizeof(day), "%Y-%m-%d", &tm) > 0) {
			memset(&w->v[w->nv], 0, sizeof(w->v[0]));
			w->v[w->nv].f = f;
			if ((w->v[w->nv].text = strdup(day)) == NULL)
				return node_err(n, TSYNC_ENOMEM,
						"out of memory");
			w->nv++;
		}
	}

	for (i = 0; i < w->k->nfield; i++) {
		const struct tsync_field *f = &w->k->fields[i];

		if (f->type != TSYNC_FT_ENUM || val_text(w, f->name) != NULL ||
		    (strcmp(f->name, "status") != 0 &&
		     strcmp(f->name, "became") != 0))
			continue;
		memset(&w->v[w->nv], 0, sizeof(w->v[0]));
		w->v[w->nv].f = f;
		if ((w->v[w->nv].text = strdup(f->choices[0].code)) == NULL)
			return node_err(n, TSYNC_ENOMEM, "out of memory");
		w->nv++;
	}
	return 0;
}

/* Starts a write: who records it is checked, *w is allocated. */
static int
write_begin(struct tsync_node *n, const struct tsync_kind *k, const char *by,
	    json_t **out, struct write **w)
{
	int rc;

	*w = NULL;
	if (out != NULL)
		*out = NULL;
	if ((rc = check_by(n, by)) != 0)
		return rc;
	if ((*w = calloc(1, sizeof(**w))) == NULL)
		return node_err(n, TSYNC_ENOMEM, "out of memory");
	**w = (struct write){.n = n, .k = k, .by = by};
	return 0;
}

/* Ends a write: the stored record to *out when it succeeded. */
static int
write_end(struct write *w, int rc, json_t **out)
{
	if (rc == 0 && out != NULL)
		rc = tsync_rec_get(w->n, w->k, w->id, out);
	vals_free(w->v, w->nv);
	free(w);
	return rc;
}

int
tsync_rec_add(struct tsync_node *n, const struct tsync_kind *k,
	      json_t *values, const char *by, const char *scope, json_t **out)
{
	struct write *w;
	int rc;

	if ((rc = write_begin(n, k, by, out, &w)) != 0)
		return rc;
	w->scope = scope;
	if ((rc = take_values(n, k, values, w->v, &w->nv)) == 0 &&
	    (rc = add_defaults(n, w)) == 0 && (rc = add_missing(n, w)) == 0)
		rc = in_txn(n, do_add, w);
	return write_end(w, rc, out);
}

static int
do_update(void *arg)
{
	struct write *w = arg;
	struct tsync_node *n = w->n;
	char sql[SQL_MAX], at[32], eid[64];
	sqlite3_stmt *s;
	json_t *fields = json_array();
	char *flist, *q;
	size_t o;
	int i, rc;

	o = (size_t)snprintf(sql, sizeof(sql), "UPDATE \"%s\" SET ",
			     w->k->table);
	for (i = 0; i < w->nv && o < sizeof(sql); i++) {
		o += (size_t)snprintf(sql + o, sizeof(sql) - o,
				      "%s\"%s\" = ?%d", i ? ", " : "",
				      w->v[i].f->name, i + 2);
		json_array_append_new(fields, json_string(w->v[i].f->name));
	}
	o += (size_t)snprintf(sql + o, sizeof(sql) - o, " WHERE id = ?1");
	flist = json_dumps(fields, JSON_COMPACT);
	json_decref(fields);
	if (o >= sizeof(sql) || flist == NULL) {
		free(flist);
		return node_err(n, TSYNC_EINVAL, "too many values");
	}
	rc = sqlite3_prepare_v2(n->db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK) {
		free(flist);
		return node_sqlerr(n, rc, "update record");
	}
	sqlite3_bind_text(s, 1, w->id, -1, SQLITE_STATIC);
	for (i = 0; i < w->nv; i++)
		bind_val(s, i + 2, &w->v[i]);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		free(flist);
		return sql_err(n, rc);
	}
	/* The edit log: who changed what, a new row each time. */
	now_iso(n, at, sizeof(at));
	domain_newid(n, eid, sizeof(eid));
	q = sqlite3_mprintf("INSERT INTO edits(id, scope, recorded_by, "
			    "recorded_at, kind, record, fields) SELECT ?1, "
			    "scope, ?2, ?3, ?4, id, ?5 FROM \"%w\" WHERE id "
			    "= ?6",
			    w->k->table);
	rc = q ? sqlite3_prepare_v2(n->db, q, -1, &s, NULL) : SQLITE_NOMEM;
	sqlite3_free(q);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(s, 1, eid, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, w->by, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, at, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 4, w->k->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 5, flist, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 6, w->id, -1, SQLITE_STATIC);
		rc = sqlite3_step(s);
		sqlite3_finalize(s);
	}
	free(flist);
	if (rc != SQLITE_DONE)
		return sql_err(n, rc);
	return n->cap.err ? node_err(n, n->cap.err, "%s", n->cap.errmsg) : 0;
}

int
tsync_rec_update(struct tsync_node *n, const struct tsync_kind *k,
		 const char *id_or_no, json_t *values, const char *by,
		 json_t **out)
{
	struct write *w;
	int rc;

	if ((rc = write_begin(n, k, by, out, &w)) != 0)
		return rc;
	if ((rc = find_id(n, k, id_or_no, w->id, sizeof(w->id))) == 0 &&
	    (rc = take_values(n, k, values, w->v, &w->nv)) == 0)
		rc = w->nv == 0 ? node_err(n, TSYNC_EINVAL,
					   "nothing to change: give the "
					   "fields to set")
				: in_txn(n, do_update, w);
	return write_end(w, rc, out);
}

/* ---- Reading ------------------------------------------------------------- */

/* The last scope named, so that a list names each office once. */
struct names {
	char scope[SCOPE_MAX + 1];
	char name[256];
};

static json_t *
row_json(struct tsync_node *n, const struct tsync_kind *k, sqlite3_stmt *s,
	 struct names *nm)
{
	json_t *o = json_object();
	int i, nc = sqlite3_column_count(s);

	json_object_set_new(o, "kind", json_string(k->name));
	for (i = 0; i < nc; i++) {
		const char *col = sqlite3_column_name(s, i);
		const char *txt = (const char *)sqlite3_column_text(s, i);
		const struct tsync_field *f = tsync_kind_field(k, col);
		json_t *v;

		if (txt == NULL) {
			json_object_set_new(o, col, json_null());
			continue;
		}
		if (f != NULL && f->type == TSYNC_FT_LIST &&
		    (v = json_loads(txt, JSON_DECODE_ANY, NULL)) != NULL)
			json_object_set_new(o, col, v);
		else if (sqlite3_column_type(s, i) == SQLITE_INTEGER)
			json_object_set_new(o, col,
					    json_integer(
						    sqlite3_column_int64(s, i)));
		else
			json_object_set_new(o, col, json_string(txt));
		if (f != NULL && f->type == TSYNC_FT_ENUM) {
			char key[96];
			const char *l = tsync_choice_label(f, txt);

			snprintf(key, sizeof(key), "%s_label", col);
			json_object_set_new(o, key, l ? json_string(l)
						      : json_string(txt));
		}
		if (strcmp(col, "scope") == 0) {
			if (strcmp(nm->scope, txt) != 0) {
				snprintf(nm->scope, sizeof(nm->scope), "%s",
					 txt);
				tsync_scope_name(n, txt, nm->name,
						 sizeof(nm->name));
			}
			json_object_set_new(o, "scope_name",
					    json_string(nm->name));
		}
	}
	return o;
}

static int
children(struct tsync_node *n, const struct tsync_kind *k, const char *id,
	 json_t *o)
{
	const struct tsync_kind *all;
	struct names nm = {"", ""};
	size_t nk, i;
	char sql[256];
	sqlite3_stmt *s;
	int rc;

	all = tsync_kinds(&nk);
	for (i = 0; i < nk; i++) {
		const struct tsync_kind *c = &all[i];
		const struct tsync_field *pf;
		json_t *arr;

		if (c->parent == NULL ||
		    (pf = tsync_kind_field(c, c->parent)) == NULL ||
		    strcmp(pf->ref, k->name) != 0)
			continue;
		snprintf(sql, sizeof(sql),
			 "SELECT * FROM \"%s\" WHERE \"%s\" = ?1 ORDER BY "
			 "\"%s\", no",
			 c->table, c->parent, c->date);
		rc = sqlite3_prepare_v2(n->db, sql, -1, &s, NULL);
		if (rc != SQLITE_OK)
			return node_sqlerr(n, rc, "read records");
		sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
		arr = json_array();
		while ((rc = sqlite3_step(s)) == SQLITE_ROW)
			json_array_append_new(arr, row_json(n, c, s, &nm));
		sqlite3_finalize(s);
		json_object_set_new(o, c->table, arr);
		if (rc != SQLITE_DONE)
			return node_sqlerr(n, rc, "read records");
	}
	return 0;
}

/* The record's edit log, oldest first. */
static int
edits_of(struct tsync_node *n, const char *id, json_t *o)
{
	json_t *arr = json_array();
	sqlite3_stmt *s;
	int rc;

	rc = sqlite3_prepare_v2(n->db,
				"SELECT recorded_by, recorded_at, fields FROM "
				"edits WHERE record = ?1 ORDER BY recorded_at, "
				"id",
				-1, &s, NULL);
	if (rc != SQLITE_OK) {
		json_decref(arr);
		return node_sqlerr(n, rc, "read edits");
	}
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		json_array_append_new(
			arr, json_pack("{s:s?, s:s?, s:o?}", "by",
				       sqlite3_column_text(s, 0), "at",
				       sqlite3_column_text(s, 1), "fields",
				       json_loads((const char *)
							  sqlite3_column_text(
								  s, 2),
						  0, NULL)));
	sqlite3_finalize(s);
	json_object_set_new(o, "edits", arr);
	return rc == SQLITE_DONE ? 0 : node_sqlerr(n, rc, "read edits");
}

int
tsync_rec_get(struct tsync_node *n, const struct tsync_kind *k,
	      const char *id_or_no, json_t **out)
{
	struct names nm = {"", ""};
	char id[128], sql[128];
	sqlite3_stmt *s;
	int rc;

	*out = NULL;
	if ((rc = find_id(n, k, id_or_no, id, sizeof(id))) != 0)
		return rc;
	snprintf(sql, sizeof(sql), "SELECT * FROM \"%s\" WHERE id = ?1",
		 k->table);
	if ((rc = sqlite3_prepare_v2(n->db, sql, -1, &s, NULL)) != SQLITE_OK)
		return node_sqlerr(n, rc, "read record");
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		*out = row_json(n, k, s, &nm);
	sqlite3_finalize(s);
	if (*out == NULL)
		return node_sqlerr(n, rc, "read record");
	if ((rc = children(n, k, id, *out)) != 0)
		return rc;
	return edits_of(n, id, *out);
}

struct conflict_field {
	const char *id;
	const struct tsync_field *f; /* the conflict's record field */
};

static int
conflict_field_cb(void *arg, const struct tsync_conflict *c)
{
	struct conflict_field *cf = arg;
	const struct tsync_kind *k;

	if (strcmp(c->id, cf->id) != 0)
		return 0;
	if ((k = tsync_kind_find(c->table)) != NULL)
		cf->f = tsync_kind_field(k, c->column);
	return 1; /* found: stop */
}

const char *
tsync_conflict_value(struct tsync_node *n, const char *id, const char *v,
		     const struct tsync_field **fp)
{
	struct conflict_field cf = {id, NULL};
	const char *code;

	tsync_node_conflicts(n, conflict_field_cb, &cf);
	if (fp != NULL)
		*fp = cf.f;
	if (cf.f == NULL || cf.f->type != TSYNC_FT_ENUM)
		return v; /* an unknown id is said by tsync_node_resolve */
	if ((code = tsync_choice_code(cf.f, v)) != NULL)
		return code;
	return NULL;
}

/* WHERE clause of a list; binds go to ?1.. in `binds`. */
static int
list_where(struct tsync_node *n, const struct tsync_kind *k,
	   const struct tsync_rec_filter *f, char *w, size_t len,
	   const char **binds, int *nb, struct val *tmp, int *ntmp)
{
	size_t o = (size_t)snprintf(w, len, " WHERE 1");
	const char *key;
	json_t *j;
	int i, rc;

	*nb = 0;
	*ntmp = 0;
	if (f->scope != NULL) {
		binds[(*nb)++] = f->scope;
		o += (size_t)snprintf(w + o, len - o,
				      " AND (scope = ?%d OR (scope > ?%d || '/'"
				      " AND scope < ?%d || '0'))",
				      *nb, *nb, *nb);
	}
	if (k->date != NULL && f->from != NULL) {
		binds[(*nb)++] = f->from;
		o += (size_t)snprintf(w + o, len - o, " AND \"%s\" >= ?%d",
				      k->date, *nb);
	}
	if (k->date != NULL && f->to != NULL) {
		binds[(*nb)++] = f->to;
		o += (size_t)snprintf(w + o, len - o, " AND \"%s\" <= ?%d",
				      k->date, *nb);
	}
	if (f->search != NULL && *f->search != '\0') {
		binds[(*nb)++] = f->search;
		o += (size_t)snprintf(w + o, len - o,
				      " AND (instr(coalesce(no,''), ?%d) > 0",
				      *nb);
		for (i = 0; i < k->nfield; i++)
			if (k->fields[i].type == TSYNC_FT_TEXT ||
			    k->fields[i].type == TSYNC_FT_LIST)
				o += (size_t)snprintf(
					w + o, len - o,
					" OR instr(coalesce(\"%s\",''), ?%d) > 0",
					k->fields[i].name, *nb);
		o += (size_t)snprintf(w + o, len - o, ")");
	}
	json_object_foreach(f->eq, key, j)
	{
		const struct tsync_field *fd = tsync_kind_field(k, key);

		if (fd == NULL)
			return node_err(n, TSYNC_EINVAL,
					"%s: not a field of %s", key, k->name);
		memset(&tmp[*ntmp], 0, sizeof(tmp[0]));
		rc = norm_value(n, fd, j, &tmp[*ntmp]);
		(*ntmp)++;
		if (rc != 0)
			return rc;
		binds[(*nb)++] = tmp[*ntmp - 1].text ? tmp[*ntmp - 1].text : "";
		o += (size_t)snprintf(w + o, len - o, " AND \"%s\" = ?%d", key,
				      *nb);
	}
	return o < len ? 0 : node_err(n, TSYNC_EINVAL, "filter too long");
}

int
tsync_rec_list(struct tsync_node *n, const struct tsync_kind *k,
	       const struct tsync_rec_filter *f, json_t **out)
{
	static const struct tsync_rec_filter none;
	const char *binds[TBL_MAX_COLS + 8];
	struct val tmp[TBL_MAX_COLS];
	char where[4096], sql[SQL_MAX];
	struct names nm = {"", ""};
	const char *sort;
	sqlite3_stmt *s;
	json_t *arr;
	int nb, ntmp = 0, i, rc;
	long long total = 0;

	*out = NULL;
	if (f == NULL)
		f = &none;
	sort = f->sort ? f->sort : k->date ? k->date : "no";
	if (strcmp(sort, "no") != 0 && strcmp(sort, "recorded_at") != 0 &&
	    tsync_kind_field(k, sort) == NULL)
		return node_err(n, TSYNC_EINVAL,
				"sort: %s is not a field of %s", sort, k->name);
	rc = list_where(n, k, f, where, sizeof(where), binds, &nb, tmp, &ntmp);
	if (rc != 0) {
		vals_free(tmp, ntmp);
		return rc;
	}
	snprintf(sql, sizeof(sql),
		 "SELECT count(*) OVER (), * FROM \"%s\"%s ORDER BY \"%s\" %s,"
		 " no %s LIMIT %u OFFSET %u",
		 k->table, where, sort, f->asc ? "ASC" : "DESC",
		 f->asc ? "ASC" : "DESC", f->limit ? f->limit : 50, f->offset);
	if ((rc = sqlite3_prepare_v2(n->db, sql, -1, &s, NULL)) != SQLITE_OK) {
		vals_free(tmp, ntmp);
		return node_sqlerr(n, rc, "list records");
	}
	for (i = 0; i < nb; i++)
		sqlite3_bind_text(s, i + 1, binds[i], -1, SQLITE_STATIC);
	arr = json_array();
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		json_t *o;

		total = sqlite3_column_int64(s, 0);
		o = row_json(n, k, s, &nm);
		json_object_del(o, "count(*) OVER ()");
		json_array_append_new(arr, o);
	}
	sqlite3_finalize(s);
	vals_free(tmp, ntmp);
	if (rc != SQLITE_DONE) {
		json_decref(arr);
		return node_sqlerr(n, rc, "list records");
	}
	if (json_array_size(arr) == 0 && f->offset > 0) {
		/* Past the end: still tell how many there are. */
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\"%s",
			 k->table, where);
		if (sqlite3_prepare_v2(n->db, sql, -1, &s, NULL) == SQLITE_OK) {
			for (i = 0; i < nb; i++)
				sqlite3_bind_text(s, i + 1, binds[i], -1,
						  SQLITE_STATIC);
			if (sqlite3_step(s) == SQLITE_ROW)
				total = sqlite3_column_int64(s, 0);
			sqlite3_finalize(s);
		}
	}
	*out = json_pack("{s:s, s:I, s:o}", "kind", k->name, "total",
			 (json_int_t)total, "records", arr);
	return 0;
}

/* ---- Checking held records -------------------------------------------- */

static int
check_query(struct tsync_node *n, const struct tsync_kind *k,
	    const char *field, const char *ok, const char *msg, json_t *out)
{
	const struct tsync_field *f = tsync_kind_field(k, field);
	char *sql;
	sqlite3_stmt *s;
	int rc;

	sql = sqlite3_mprintf("SELECT NEW.id, NEW.no, NEW.scope FROM \"%s\" "
			      "AS NEW WHERE NOT (%s) ORDER BY NEW.no",
			      k->table, ok);
	if (sql == NULL)
		return node_err(n, TSYNC_ENOMEM, "out of memory");
	rc = sqlite3_prepare_v2(n->db, sql, -1, &s, NULL);
	sqlite3_free(sql);
	if (rc != SQLITE_OK)
		return node_sqlerr(n, rc, "check");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		char m[1400];

		snprintf(m, sizeof(m), "%s (%s): %s", field,
			 f ? f->label : "记录", msg);
		json_array_append_new(
			out,
			json_pack("{s:s, s:s?, s:s?, s:s?, s:s, s:s}", "kind",
				  k->name, "id", sqlite3_column_text(s, 0),
				  "no", sqlite3_column_text(s, 1), "scope",
				  sqlite3_column_text(s, 2), "field", field,
				  "message", m));
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : node_sqlerr(n, rc, "check");
}

static int
check_kind(struct tsync_node *n, const struct tsync_kind *k, json_t *out)
{
	const struct domain_rule *r;
	char ok[2048], msg[1024];
	size_t nr, i;
	int j, rc = 0;

	for (j = 0; rc == 0 && j < k->nfield; j++) {
		const struct tsync_field *f = &k->fields[j];

		if (f->required) {
			snprintf(ok, sizeof(ok),
				 "NEW.\"%s\" IS NOT NULL AND trim(NEW.\"%s\") "
				 "<> ''",
				 f->name, f->name);
			rc = check_query(n, k, f->name, ok,
					 "required (必填项不能为空)", out);
		}
		if (rc == 0 &&
		    domain_field_rule(f, ok, sizeof(ok), msg, sizeof(msg)))
			rc = check_query(n, k, f->name, ok, msg, out);
	}
	r = domain_rules(&nr);
	for (i = 0; rc == 0 && i < nr; i++)
		if (strcmp(r[i].table, k->table) == 0 &&
		    r[i].when == RULE_ALWAYS)
			rc = check_query(n, k, r[i].field, r[i].ok, r[i].msg,
					 out);
	snprintf(ok, sizeof(ok),
		 "NEW.no IS NULL OR NOT EXISTS (SELECT 1 FROM \"%s\" x WHERE "
		 "x.no = NEW.no AND x.id <> NEW.id)",
		 k->table);
	if (rc == 0)
		rc = check_query(n, k, "no", ok,
				 "the same number is used by another record "
				 "(编号重复)",
				 out);
	return rc;
}

int
tsync_rec_check(struct tsync_node *n, json_t **out)
{
	const struct tsync_kind *k;
	size_t nk, i;
	int rc = 0;

	*out = json_array();
	k = tsync_kinds(&nk);
	for (i = 0; rc == 0 && i < nk; i++)
		rc = check_kind(n, &k[i], *out);
	if (rc != 0) {
		json_decref(*out);
		*out = NULL;
	}
	return rc;
}
