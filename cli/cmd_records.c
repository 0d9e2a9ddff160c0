/*
 * cmd_records.c - the record commands a work room uses, one shape for
 * every kind: `tiersync KIND add|list|show|update NODE_DIR ...`, plus the
 * workflow steps (dispute mediate|close|refer, petition route|close,
 * person visit, grid convert) and `tiersync help [KIND]`.
 *
 * Flags are the kinds' fields (domain/schema.c): --category family or
 * --category 家庭纠纷.  Output is Chinese; --json gives the records.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "tiersync/records.h"

static const char verbs[] = "add|list|show|update";

static void
flag_of(const char *field, char *out, size_t len)
{
	size_t i;

	snprintf(out, len, "--%s", field);
	for (i = 2; out[i] != '\0'; i++)
		if (out[i] == '_')
			out[i] = '-';
}

static const char *
who(struct args *a)
{
	const char *by = arg_opt(a, "--by");

	return by ? by : getenv("TSYNC_BY");
}

/* Takes every --FIELD VALUE of the kind into a JSON object. */
static json_t *
take_fields(struct args *a, const struct tsync_kind *k)
{
	json_t *o = json_object();
	char flag[80];
	int i;

	for (i = 0; i < k->nfield; i++) {
		const char *v;

		flag_of(k->fields[i].name, flag, sizeof(flag));
		if ((v = arg_opt(a, flag)) != NULL)
			json_object_set_new(o, k->fields[i].name,
					    json_string(v));
	}
	return o;
}

static void
print_value(FILE *f, json_t *v)
{
	size_t i;
	json_t *e;

	if (json_is_string(v))
		fputs(json_string_value(v), f);
	else if (json_is_integer(v))
		fprintf(f, "%lld", (long long)json_integer_value(v));
	else if (json_is_array(v))
		json_array_foreach(v, i, e) fprintf(f, "%s%s", i ? "、" : "",
						    json_is_string(e)
							    ? json_string_value(e)
							    : "?");
}

/* A field as shown: the label of an enum, the value otherwise. */
static json_t *
shown(json_t *rec, const struct tsync_field *f)
{
	char key[96];
	json_t *l;

	snprintf(key, sizeof(key), "%s_label", f->name);
	if (f->type == TSYNC_FT_ENUM && (l = json_object_get(rec, key)))
		return l;
	return json_object_get(rec, f->name);
}

static void
print_line(const struct tsync_kind *k, json_t *rec)
{
	const struct tsync_field *f;
	int i;

	printf("%s", json_string_value(json_object_get(rec, "no")) ?: "-");
	if (k->date)
		printf("  %s", json_string_value(json_object_get(rec, k->date))
				       ?: "");
	for (i = 0; i < k->nfield; i++) {
		f = &k->fields[i];
		if (f->type == TSYNC_FT_ENUM && f->required &&
		    strcmp(f->name, k->title) != 0 && i < 10) {
			printf("  ");
			print_value(stdout, shown(rec, f));
		}
	}
	if ((f = tsync_kind_field(k, k->title)) != NULL) {
		printf("  ");
		print_value(stdout, shown(rec, f));
	}
	printf("  [%s]\n",
	       json_string_value(json_object_get(rec, "scope_name")) ?: "");
}

static void
print_record(const struct tsync_kind *k, json_t *rec)
{
	size_t nk, j, i;
	const struct tsync_kind *all = tsync_kinds(&nk);
	json_t *e;
	int f;

	printf("%s %s\n", k->label,
	       json_string_value(json_object_get(rec, "no")) ?: "");
	printf("  编号 id: %s\n  辖区 scope: %s (%s)\n",
	       json_string_value(json_object_get(rec, "id")),
	       json_string_value(json_object_get(rec, "scope_name")),
	       json_string_value(json_object_get(rec, "scope")));
	for (f = 0; f < k->nfield; f++) {
		json_t *v = shown(rec, &k->fields[f]);

		if (v == NULL || json_is_null(v))
			continue;
		printf("  %s %s: ", k->fields[f].label, k->fields[f].name);
		print_value(stdout, v);
		printf("\n");
	}
	printf("  登记 recorded: %s %s\n",
	       json_string_value(json_object_get(rec, "recorded_by")) ?: "",
	       json_string_value(json_object_get(rec, "recorded_at")) ?: "");
	json_array_foreach(json_object_get(rec, "edits"), i, e)
	{
		printf("  修改 edited: %s %s ",
		       json_string_value(json_object_get(e, "by")) ?: "",
		       json_string_value(json_object_get(e, "at")) ?: "");
		print_value(stdout, json_object_get(e, "fields"));
		printf("\n");
	}
	for (j = 0; j < nk; j++) {
		json_t *arr = json_object_get(rec, all[j].table);
		json_t *c;

		if (all[j].parent == NULL || !json_is_array(arr))
			continue;
		printf("  %s (%zu):\n", all[j].label, json_array_size(arr));
		json_array_foreach(arr, i, c)
		{
			printf("    ");
			print_line(&all[j], c);
		}
	}
}

static int
emit(const struct tsync_kind *k, json_t *rec, int json)
{
	if (json) {
		json_dumpf(rec, stdout, JSON_INDENT(2));
		printf("\n");
	} else {
		print_record(k, rec);
	}
	json_decref(rec);
	return EXIT_DONE;
}

static int
node_fail(struct tsync_node *n)
{
	int rc = fail("%s", tsync_node_errmsg(n));

	tsync_node_close(n);
	return rc;
}

/* ---- add, update, show, list ---------------------------------------- */

static int
rec_add(struct args *a, const struct tsync_kind *k, json_t *extra,
	const char *usage, const char *dir)
{
	const char *by, *scope;
	struct tsync_node *n;
	json_t *vals, *rec;
	int json;

	by = who(a);
	scope = arg_opt(a, "--scope");
	json = arg_flag(a, "--json");
	vals = take_fields(a, k);
	if (extra != NULL)
		json_object_update(vals, extra);
	if (dir == NULL)
		dir = arg_next(a);
	if (dir == NULL || arg_done(a, usage) != 0) {
		json_decref(vals);
		return dir ? EXIT_USAGE : usage_error(usage, "give NODE_DIR");
	}
	if ((n = open_node(dir)) == NULL) {
		json_decref(vals);
		return EXIT_FAIL;
	}
	if (tsync_rec_add(n, k, vals, by, scope, &rec) != 0) {
		json_decref(vals);
		return node_fail(n);
	}
	json_decref(vals);
	if (!json)
		printf("已登记 recorded: %s %s\n", k->label,
		       json_string_value(json_object_get(rec, "no")));
	tsync_node_close(n);
	if (!json) {
		json_decref(rec);
		return EXIT_DONE;
	}
	return emit(k, rec, 1);
}

static int
rec_update(struct args *a, const struct tsync_kind *k, json_t *extra,
	   const char *usage)
{
	const char *dir, *id, *by;
	struct tsync_node *n;
	json_t *vals, *rec;
	int json;

	by = who(a);
	json = arg_flag(a, "--json");
	vals = take_fields(a, k);
	if (extra != NULL)
		json_object_update(vals, extra);
	dir = arg_next(a);
	id = arg_next(a);
	if (dir == NULL || id == NULL || arg_done(a, usage) != 0) {
		json_decref(vals);
		return id ? EXIT_USAGE
			  : usage_error(usage, "give NODE_DIR and ID (or "
					       "number)");
	}
	if ((n = open_node(dir)) == NULL) {
		json_decref(vals);
		return EXIT_FAIL;
	}
	if (tsync_rec_update(n, k, id, vals, by, &rec) != 0) {
		json_decref(vals);
		return node_fail(n);
	}
	json_decref(vals);
	tsync_node_close(n);
	if (json)
		return emit(k, rec, 1);
	printf("已更新 updated: %s %s\n", k->label,
	       json_string_value(json_object_get(rec, "no")));
	json_decref(rec);
	return EXIT_DONE;
}

static int
rec_show(struct args *a, const struct tsync_kind *k, const char *usage)
{
	int json = arg_flag(a, "--json");
	const char *dir = arg_next(a), *id = arg_next(a);
	struct tsync_node *n;
	json_t *rec;

	if (dir == NULL || id == NULL || arg_done(a, usage) != 0)
		return id ? EXIT_USAGE
			  : usage_error(usage, "give NODE_DIR and ID (or "
					       "number)");
	if ((n = open_node(dir)) == NULL)
		return EXIT_FAIL;
	if (tsync_rec_get(n, k, id, &rec) != 0)
		return node_fail(n);
	tsync_node_close(n);
	return emit(k, rec, json);
}

static int
parse_uint(const char *s, const char *what, unsigned *out, const char *usage)
{
	char *end;
	unsigned long v;

	if (s == NULL)
		return 0;
	v = strtoul(s, &end, 10);
	if (*end != '\0' || end == s || v > 100000)
		return usage_error(usage, "%s takes a number from 0 to 100000",
				   what);
	*out = (unsigned)v;
	return 0;
}

static int
rec_list(struct args *a, const struct tsync_kind *k, const char *usage)
{
	struct tsync_rec_filter f = {0};
	const char *dir, *lim, *page;
	struct tsync_node *n;
	json_t *res, *r;
	unsigned pg = 1;
	size_t i;
	int json;

	json = arg_flag(a, "--json");
	f.scope = arg_opt(a, "--scope");
	f.from = arg_opt(a, "--from");
	f.to = arg_opt(a, "--to");
	f.search = arg_opt(a, "--search");
	f.sort = arg_opt(a, "--sort");
	f.asc = arg_flag(a, "--asc");
	lim = arg_opt(a, "--limit");
	page = arg_opt(a, "--page");
	f.eq = take_fields(a, k);
	dir = arg_next(a);
	if (dir == NULL || arg_done(a, usage) != 0 ||
	    parse_uint(lim, "--limit", &f.limit, usage) != 0 ||
	    parse_uint(page, "--page", &pg, usage) != 0) {
		json_decref(f.eq);
		return dir ? EXIT_USAGE : usage_error(usage, "give NODE_DIR");
	}
	f.offset = (pg > 0 ? pg - 1 : 0) * (f.limit ? f.limit : 50);
	if ((n = open_node(dir)) == NULL) {
		json_decref(f.eq);
		return EXIT_FAIL;
	}
	if (tsync_rec_list(n, k, &f, &res) != 0) {
		json_decref(f.eq);
		return node_fail(n);
	}
	json_decref(f.eq);
	tsync_node_close(n);
	if (json) {
		json_dumpf(res, stdout, JSON_INDENT(2));
		printf("\n");
	} else {
		json_array_foreach(json_object_get(res, "records"), i, r)
			print_line(k, r);
		printf("共 %lld 条 %s (total)\n",
		       (long long)json_integer_value(
			       json_object_get(res, "total")),
		       k->label);
	}
	json_decref(res);
	return EXIT_DONE;
}

/* ---- Workflow steps ---------------------------------------------------- */

static void
today(char *out, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(out, len, "%Y-%m-%d", &tm);
}

/* Sets fields of one step; `pairs` is field, value, ..., NULL. */
static int
step(struct args *a, const struct tsync_kind *k, const char *usage, ...)
{
	json_t *extra = json_object();
	const char *field, *v;
	va_list ap;
	int rc;

	va_start(ap, usage);
	while ((field = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		if (v != NULL)
			json_object_set_new(extra, field, json_string(v));
	}
	va_end(ap);
	rc = rec_update(a, k, extra, usage);
	json_decref(extra);
	return rc;
}

static int
dispute_close(struct args *a, const struct tsync_kind *k, const char *usage)
{
	const char *res = arg_opt(a, "--result");
	const char *closed = arg_opt(a, "--closed");
	char d[16];

	today(d, sizeof(d));
	if (res == NULL)
		return usage_error(usage, "give --result resolved|failed "
					  "(调解成功|调解失败)");
	return step(a, k, usage, "status", res, "closed", closed ? closed : d,
		    NULL);
}

static int
dispute_refer(struct args *a, const struct tsync_kind *k, const char *usage)
{
	const char *to = arg_opt(a, "--to");

	if (to == NULL)
		return usage_error(usage, "give --to court|arbitration");
	return step(a, k, usage, "status", "referred", "referred_to", to,
		    NULL);
}

static int
petition_route(struct args *a, const struct tsync_kind *k, const char *usage)
{
	const char *to = arg_opt(a, "--to");

	if (to == NULL)
		return usage_error(usage, "give --to court|procuratorate|police|"
					  "justice|government|local");
	return step(a, k, usage, "status", "routed", "routed_to", to, NULL);
}

static int
petition_close(struct args *a, const struct tsync_kind *k, const char *usage)
{
	const char *closed = arg_opt(a, "--closed");
	char d[16];

	today(d, sizeof(d));
	return step(a, k, usage, "status", "closed", "closed",
		    closed ? closed : d, NULL);
}

/* person visit NODE FILE ...: a visit record of that file. */
static int
person_visit(struct args *a, const char *usage)
{
	const struct tsync_kind *v = tsync_kind_find("visit");
	const char *dir = arg_next(a), *file = arg_next(a);
	json_t *extra;
	int rc;

	if (dir == NULL || file == NULL)
		return usage_error(usage, "give NODE_DIR and the file's number");
	extra = json_pack("{s:s}", "file", file);
	rc = rec_add(a, v, extra, usage, dir);
	json_decref(extra);
	return rc;
}

/* grid convert NODE ID --title ... : a dispute from a grid report. */
static int
grid_convert(struct args *a, const char *usage)
{
	const struct tsync_kind *g = tsync_kind_find("grid");
	const struct tsync_kind *d = tsync_kind_find("dispute");
	const char *dir, *id, *by;
	struct tsync_node *n;
	json_t *vals, *rep = NULL, *dis = NULL, *upd;
	int rc;

	by = who(a);
	vals = take_fields(a, d);
	dir = arg_next(a);
	id = arg_next(a);
	if (dir == NULL || id == NULL || arg_done(a, usage) != 0) {
		json_decref(vals);
		return id ? EXIT_USAGE
			  : usage_error(usage, "give NODE_DIR and the report");
	}
	if ((n = open_node(dir)) == NULL) {
		json_decref(vals);
		return EXIT_FAIL;
	}
	rc = tsync_rec_get(n, g, id, &rep);
	if (rc == 0) {
		json_object_set_new(vals, "source", json_string("grid"));
		json_object_set(vals, "grid_report", json_object_get(rep, "id"));
		if (json_object_get(vals, "opened") == NULL)
			json_object_set(vals, "opened",
					json_object_get(rep, "date"));
		if (json_object_get(vals, "summary") == NULL)
			json_object_set(vals, "summary",
					json_object_get(rep, "seen"));
		rc = tsync_node_begin(n);
	}
	if (rc == 0)
		rc = tsync_rec_add(n, d, vals,  by,
				   json_string_value(json_object_get(rep,
								     "scope")),
				   &dis);
	if (rc == 0) {
		upd = json_pack("{s:s, s:O}", "status", "converted", "dispute",
				json_object_get(dis, "id"));
		rc = tsync_rec_update(n, g, id, upd, by, NULL);
		json_decref(upd);
	}
	if (rc == 0)
		rc = tsync_node_commit(n);
	else
		tsync_node_rollback(n);
	json_decref(vals);
	json_decref(rep);
	if (rc != 0) {
		json_decref(dis);
		return node_fail(n);
	}
	printf("已转为纠纷 converted: %s -> %s\n", id,
	       json_string_value(json_object_get(dis, "no")));
	json_decref(dis);
	tsync_node_close(n);
	return EXIT_DONE;
}

/* ---- Dispatch and help ---------------------------------------------------- */

static void
field_help(FILE *f, const struct tsync_kind *k)
{
	char flag[80];
	int i;

	for (i = 0; i < k->nfield; i++) {
		const struct tsync_field *fd = &k->fields[i];
		const struct tsync_choice *c;

		flag_of(fd->name, flag, sizeof(flag));
		fprintf(f, "  %-16s %s%s, %s\n", flag, fd->label,
			fd->required ? " (required 必填)" : "", fd->help);
		for (c = fd->choices; c != NULL && c->code != NULL; c++)
			fprintf(f, "  %-18s %-12s %s\n", "", c->code, c->label);
	}
}

static const char *
extra_verbs(const struct tsync_kind *k)
{
	if (strcmp(k->name, "dispute") == 0)
		return "\n  tiersync dispute mediate NODE_DIR ID --by NAME\n"
		       "  tiersync dispute close NODE_DIR ID --result "
		       "resolved|failed --outcome TEXT [--agreement TEXT] "
		       "[--closed DATE] --by NAME\n"
		       "  tiersync dispute refer NODE_DIR ID --to "
		       "court|arbitration --by NAME";
	if (strcmp(k->name, "petition") == 0)
		return "\n  tiersync petition route NODE_DIR ID --to WHERE "
		       "[--advice TEXT] --by NAME\n"
		       "  tiersync petition close NODE_DIR ID [--closed DATE] "
		       "--by NAME";
	if (strcmp(k->name, "person") == 0)
		return "\n  tiersync person visit NODE_DIR FILE --date DATE "
		       "--visitors NAMES [--notes TEXT] --by NAME";
	if (strcmp(k->name, "grid") == 0)
		return "\n  tiersync grid report NODE_DIR ...   (same as add)\n"
		       "  tiersync grid convert NODE_DIR ID --title T "
		       "--category C --parties P --risk R --lead L --by NAME";
	return "";
}

static void
kind_usage(const struct tsync_kind *k, char *out, size_t len)
{
	snprintf(out, len,
		 "tiersync %s %s NODE_DIR ... (tiersync help %s)\n"
		 "  tiersync %s add NODE_DIR --FIELD VALUE ... --by NAME "
		 "[--scope PATH] [--json]\n"
		 "  tiersync %s list NODE_DIR [--FIELD VALUE] [--scope PATH] "
		 "[--from DATE] [--to DATE] [--search TEXT] [--sort FIELD] "
		 "[--asc] [--limit N] [--page N] [--json]\n"
		 "  tiersync %s show NODE_DIR ID|NUMBER [--json]\n"
		 "  tiersync %s update NODE_DIR ID|NUMBER --FIELD VALUE ... "
		 "--by NAME [--json]%s",
		 k->name, verbs, k->name, k->name, k->name, k->name, k->name,
		 extra_verbs(k));
}

int
cmd_help_kind(const char *name)
{
	const struct tsync_kind *k = tsync_kind_find(name);
	char usage[2048];

	if (k == NULL)
		return -1;
	kind_usage(k, usage, sizeof(usage));
	printf("%s — %s\n%s\n\nfields (字段):\n", k->name, k->label, usage);
	field_help(stdout, k);
	printf("\nEnumerations take the code or the Chinese label. Dates: "
	       "YYYY-MM-DD. Lists: separate with 、 or commas.\n"
	       "--by NAME says who records (or set TSYNC_BY).\n");
	return 0;
}

int
cmd_record(struct args *a)
{
	const struct tsync_kind *k = tsync_kind_find(a->argv[1]);
	char usage[2048];
	const char *verb;

	kind_usage(k, usage, sizeof(usage));
	if ((verb = arg_next(a)) == NULL)
		return usage_error(usage, "give a verb: %s", verbs);
	if (strcmp(verb, "add") == 0 ||
	    (strcmp(verb, "report") == 0 && strcmp(k->name, "grid") == 0))
		return rec_add(a, k, NULL, usage, NULL);
	if (strcmp(verb, "update") == 0)
		return rec_update(a, k, NULL, usage);
	if (strcmp(verb, "show") == 0)
		return rec_show(a, k, usage);
	if (strcmp(verb, "list") == 0)
		return rec_list(a, k, usage);
	if (strcmp(k->name, "dispute") == 0) {
		if (strcmp(verb, "mediate") == 0)
			return step(a, k, usage, "status", "mediating", NULL);
		if (strcmp(verb, "close") == 0)
			return dispute_close(a, k, usage);
		if (strcmp(verb, "refer") == 0)
			return dispute_refer(a, k, usage);
	}
	if (strcmp(k->name, "petition") == 0) {
		if (strcmp(verb, "route") == 0)
			return petition_route(a, k, usage);
		if (strcmp(verb, "close") == 0)
			return petition_close(a, k, usage);
	}
	if (strcmp(k->name, "person") == 0 && strcmp(verb, "visit") == 0)
		return person_visit(a, usage);
	if (strcmp(k->name, "grid") == 0 && strcmp(verb, "convert") == 0)
		return grid_convert(a, usage);
	return usage_error(usage, "unknown verb '%s' for %s", verb, k->name);
}
