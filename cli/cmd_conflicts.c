/*
 * cmd_conflicts.c - `tiersync conflicts`: concurrent edits kept for a
 * person to settle.  On a field of the records (domain/schema.c) the
 * list names the field in Chinese and gives each coded value's label,
 * and `resolve --value` takes a coded field's label as well as its code.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tiersync/records.h"

static const char usage[] =
	"tiersync conflicts NODE_DIR [list [--json] | resolve ID "
	"(--keep mine|theirs | --value V)]\n"
	"  on a coded field V is its code or its label: --value 低";

struct lst {
	int json, count;
	json_t *arr; /* --json: the conflicts so far */
	int oom;     /* --json: one could not be built */
};

/* A value for people: text as it is, a blob as x'<hex>', NULL as (null). */
static void
show_value(const char *v, size_t len, int blob)
{
	size_t i;

	if (v == NULL) {
		fputs("(null)", stdout);
		return;
	}
	if (!blob) {
		fwrite(v, 1, len, stdout);
		return;
	}
	fputs("x'", stdout);
	for (i = 0; i < len; i++)
		printf("%02x", (unsigned char)v[i]);
	putchar('\'');
}

/* The record field of a conflict's column, or NULL (not a record kind). */
static const struct tsync_field *
field_of(const char *table, const char *column)
{
	const struct tsync_kind *k = tsync_kind_find(table);

	return k != NULL ? tsync_kind_field(k, column) : NULL;
}

/* " (label)" after a coded value, for people. */
static void
show_label(const struct tsync_field *f, const char *v, size_t len, int blob)
{
	const char *l;
	char code[64];

	if (f == NULL || f->type != TSYNC_FT_ENUM || v == NULL || blob ||
	    len >= sizeof(code))
		return;
	memcpy(code, v, len);
	code[len] = '\0';
	if ((l = tsync_choice_label(f, code)) != NULL)
		printf(" (%s)", l);
}

/* A value in JSON: a string, {"blob":"<hex>"} or null. */
static json_t *
value_json(const char *v, size_t len, int blob)
{
	if (v == NULL)
		return json_null();
	return blob ? jblob(v, len) : jtextn(v, len);
}

static int
print_conflict(void *arg, const struct tsync_conflict *c)
{
	struct lst *l = arg;
	char mine[64], theirs[64];
	json_t *v;

	if (!l->json) {
		const struct tsync_field *f = field_of(c->table, c->column);

		tsync_hlc_format(c->mine_hlc, mine, sizeof(mine));
		tsync_hlc_format(c->theirs_hlc, theirs, sizeof(theirs));
		printf("conflict %s  %s/%s  column %s%s%s%s%s\n  shown:  ",
		       c->id, c->table, c->row, c->column, f ? " (" : "",
		       f ? f->label : "", f ? ")" : "",
		       c->row_deleted ? "  (row deleted since)" : "");
		show_value(c->mine, c->mine_len, c->mine_blob);
		show_label(f, c->mine, c->mine_len, c->mine_blob);
		printf("\n          (written %s by node %s)\n  other:  ", mine,
		       c->mine_origin);
		show_value(c->theirs, c->theirs_len, c->theirs_blob);
		show_label(f, c->theirs, c->theirs_len, c->theirs_blob);
		printf("\n          (written %s by node %s)\n", theirs,
		       c->theirs_origin);
		l->count++;
		return 0;
	}
	v = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:b}", "id",
		      jtext(c->id), "table", jtext(c->table), "row",
		      jtext(c->row), "column", jtext(c->column), "mine",
		      value_json(c->mine, c->mine_len, c->mine_blob), "theirs",
		      value_json(c->theirs, c->theirs_len, c->theirs_blob),
		      "mine_hlc", juint(c->mine_hlc), "mine_origin",
		      jtext(c->mine_origin), "theirs_hlc", juint(c->theirs_hlc),
		      "theirs_origin", jtext(c->theirs_origin), "row_deleted",
		      c->row_deleted);
	if (v == NULL || json_array_append_new(l->arr, v) != 0) {
		l->oom = 1;
		return -1; /* stops the listing */
	}
	return 0;
}

static int
list(struct tsync_node *n, struct args *a)
{
	struct lst l = {arg_flag(a, "--json"), 0, NULL, 0};
	int rc;

	if ((rc = arg_done(a, usage)) != 0)
		return rc;
	if (l.json && (l.arr = json_array()) == NULL)
		return jprint(NULL);
	rc = tsync_node_conflicts(n, print_conflict, &l);
	if (l.json) {
		/* Nothing on standard output unless all of it is there. */
		if (rc == 0 && !l.oom)
			return jprint(l.arr);
		json_decref(l.arr);
		if (l.oom)
			return jprint(NULL); /* says memory ran out */
	} else if (rc == 0) {
		printf("%d open conflict%s\n", l.count, l.count == 1 ? "" : "s");
	}
	return rc == 0 ? EXIT_DONE : fail("%s", tsync_node_errmsg(n));
}

/*
 * The value to store for --value V: on a coded field (ENUM) the code of
 * V, given as the code or as the exact label ("高" or "high"); else V.
 * NULL, with the allowed values said, when V is neither.
 */
static const char *
value_for(struct tsync_node *n, const char *id, const char *v)
{
	const struct tsync_field *f;
	const struct tsync_choice *c;
	const char *code = tsync_conflict_value(n, id, v, &f);

	if (code != NULL)
		return code;
	fprintf(stderr, "tiersync: --value '%s' is not a value of %s (%s) "
			"(取值无效); give a label or its code:",
		v, f->label, f->name);
	for (c = f->choices; c->code != NULL; c++)
		fprintf(stderr, "%s %s %s", c == f->choices ? "" : ",",
			c->label, c->code);
	fputs("; nothing was written\n", stderr);
	return NULL;
}

static int
resolve(struct tsync_node *n, struct args *a)
{
	const char *keep = arg_opt(a, "--keep");
	const char *value = arg_opt(a, "--value");
	const char *id = arg_next(a);
	int how, rc;

	if (id == NULL || (keep == NULL) == (value == NULL))
		return usage_error(usage, "resolve takes an ID and either "
					  "--keep mine|theirs or --value V");
	if ((rc = arg_done(a, usage)) != 0)
		return rc;
	if (keep != NULL && strcmp(keep, "mine") == 0)
		how = TSYNC_KEEP_MINE;
	else if (keep != NULL && strcmp(keep, "theirs") == 0)
		how = TSYNC_KEEP_THEIRS;
	else if (keep != NULL)
		return usage_error(usage, "--keep takes mine or theirs");
	else if ((value = value_for(n, id, value)) != NULL)
		how = TSYNC_KEEP_VALUE;
	else
		return EXIT_FAIL;
	if (tsync_node_resolve(n, id, how, value) != 0)
		return fail("%s; nothing was written", tsync_node_errmsg(n));
	printf("conflict %s settled; the settlement travels to every node\n",
	       id);
	return EXIT_DONE;
}

int
cmd_conflicts(struct args *a)
{
	const char *dir = arg_next(a), *sub;
	struct tsync_node *n;
	int rc;

	if (dir == NULL)
		return usage_error(usage, "NODE_DIR is needed");
	sub = arg_next(a);
	if (sub != NULL && strcmp(sub, "list") != 0 &&
	    strcmp(sub, "resolve") != 0)
		return usage_error(usage, "unknown conflicts command '%s'", sub);
	if ((n = open_node(dir)) == NULL)
		return EXIT_FAIL;
	if (sub != NULL && strcmp(sub, "resolve") == 0)
		rc = resolve(n, a);
	else
		rc = list(n, a);
	tsync_node_close(n);
	return rc;
}
