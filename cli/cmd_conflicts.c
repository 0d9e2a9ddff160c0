/*
 * cmd_conflicts.c - `tiersync conflicts`: concurrent edits kept for a
 * person to settle.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
	"tiersync conflicts NODE_DIR [list [--json] | resolve ID "
	"(--keep mine|theirs | --value V)]";

struct lst {
	int json, count;
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

/* A value in JSON: a string, {"blob":"<hex>"} or null. */
static void
json_value(const char *v, size_t len, int blob)
{
	if (v == NULL)
		fputs("null", stdout);
	else if (blob)
		json_hex(stdout, v, len);
	else
		json_strn(stdout, v, len);
}

static int
print_conflict(void *arg, const struct tsync_conflict *c)
{
	struct lst *l = arg;
	char mine[64], theirs[64];

	tsync_hlc_format(c->mine_hlc, mine, sizeof(mine));
	tsync_hlc_format(c->theirs_hlc, theirs, sizeof(theirs));
	if (!l->json) {
		printf("conflict %s  %s/%s  column %s%s\n  shown:  ", c->id,
		       c->table, c->row, c->column,
		       c->row_deleted ? "  (row deleted since)" : "");
		show_value(c->mine, c->mine_len, c->mine_blob);
		printf("\n          (written %s by node %s)\n  other:  ", mine,
		       c->mine_origin);
		show_value(c->theirs, c->theirs_len, c->theirs_blob);
		printf("\n          (written %s by node %s)\n", theirs,
		       c->theirs_origin);
		l->count++;
		return 0;
	}
	printf("%s{\"id\":\"%s\",\"table\":", l->count++ ? "," : "", c->id);
	json_str(stdout, c->table);
	printf(",\"row\":");
	json_str(stdout, c->row);
	printf(",\"column\":");
	json_str(stdout, c->column);
	printf(",\"mine\":");
	json_value(c->mine, c->mine_len, c->mine_blob);
	printf(",\"theirs\":");
	json_value(c->theirs, c->theirs_len, c->theirs_blob);
	printf(",\"mine_hlc\":%llu,\"mine_origin\":\"%s\",\"theirs_hlc\":%llu,"
	       "\"theirs_origin\":\"%s\",\"row_deleted\":%s}",
	       (unsigned long long)c->mine_hlc, c->mine_origin,
	       (unsigned long long)c->theirs_hlc, c->theirs_origin,
	       c->row_deleted ? "true" : "false");
	return 0;
}

static int
list(struct tsync_node *n, struct args *a)
{
	struct lst l = {arg_flag(a, "--json"), 0};
	int rc;

	if ((rc = arg_done(a, usage)) != 0)
		return rc;
	if (l.json)
		printf("[");
	rc = tsync_node_conflicts(n, print_conflict, &l);
	if (l.json)
		printf("]\n");
	else if (rc == 0)
		printf("%d open conflict%s\n", l.count, l.count == 1 ? "" : "s");
	return rc == 0 ? EXIT_DONE : fail("%s", tsync_node_errmsg(n));
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
	else
		how = TSYNC_KEEP_VALUE;
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
