/*
 * cmd_report.c - `tiersync report`, `tiersync check` and `tiersync
 * generate`: the figures for a scope and period, the held records that
 * break a rule, and a realistic district for demos, tests and benches.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tiersync/records.h"

static const char report_usage[] =
	"tiersync report NODE_DIR [--scope PATH] [--from YYYY-MM-DD] "
	"[--to YYYY-MM-DD] [--format text|json|html] [--out FILE]";

int
cmd_report(struct args *a)
{
	const char *scope = arg_opt(a, "--scope"), *from = arg_opt(a, "--from");
	const char *to = arg_opt(a, "--to"), *fmt = arg_opt(a, "--format");
	const char *outp = arg_opt(a, "--out"), *dir = arg_next(a);
	struct tsync_node *n;
	json_t *r;
	FILE *f = stdout;
	int kind = TSYNC_FMT_TEXT, rc;

	if (dir == NULL || arg_done(a, report_usage) != 0)
		return dir ? EXIT_USAGE
			   : usage_error(report_usage, "give NODE_DIR");
	if (fmt != NULL && strcmp(fmt, "json") == 0)
		kind = TSYNC_FMT_JSON;
	else if (fmt != NULL && strcmp(fmt, "html") == 0)
		kind = TSYNC_FMT_HTML;
	else if (fmt != NULL && strcmp(fmt, "text") != 0)
		return usage_error(report_usage,
				   "--format takes text, json or html");
	if ((n = open_node(dir)) == NULL)
		return EXIT_FAIL;
	if (tsync_report(n, scope, from, to, &r) != 0) {
		rc = fail("%s", tsync_node_errmsg(n));
		tsync_node_close(n);
		return rc;
	}
	tsync_node_close(n);
	if (outp != NULL && (f = fopen(outp, "w")) == NULL) {
		json_decref(r);
		return fail("cannot write %s", outp);
	}
	rc = tsync_report_render(r, kind, f);
	json_decref(r);
	if (outp != NULL && (fclose(f) != 0 || rc != 0))
		return fail("cannot write %s", outp);
	if (outp != NULL)
		fprintf(stderr, "report written to %s\n", outp);
	return rc == 0 ? EXIT_DONE : EXIT_FAIL;
}

static const char check_usage[] = "tiersync check NODE_DIR [--json]";

int
cmd_check(struct args *a)
{
	int json = arg_flag(a, "--json");
	const char *dir = arg_next(a);
	struct tsync_node *n;
	json_t *faults, *f;
	size_t i, cnt;

	if (dir == NULL || arg_done(a, check_usage) != 0)
		return dir ? EXIT_USAGE
			   : usage_error(check_usage, "give NODE_DIR");
	if ((n = open_node(dir)) == NULL)
		return EXIT_FAIL;
	if (tsync_rec_check(n, &faults) != 0) {
		int rc = fail("%s", tsync_node_errmsg(n));

		tsync_node_close(n);
		return rc;
	}
	tsync_node_close(n);
	cnt = json_array_size(faults);
	if (json) {
		json_dumpf(faults, stdout, JSON_INDENT(2));
		printf("\n");
	} else {
		json_array_foreach(faults, i, f)
			printf("%s %s [%s]: %s\n",
			       json_string_value(json_object_get(f, "kind")),
			       json_string_value(json_object_get(f, "no"))
				       ?: json_string_value(
					       json_object_get(f, "id")),
			       json_string_value(json_object_get(f, "scope")),
			       json_string_value(json_object_get(f, "message")));
		if (cnt == 0)
			printf("all records keep the rules (记录均符合规则)\n");
		else
			printf("%zu records break a rule: fix the fields named"
			       " with `tiersync KIND update` (%zu 条记录需要更正)"
			       "\n",
			       cnt, cnt);
	}
	json_decref(faults);
	return cnt == 0 ? EXIT_DONE : EXIT_FAIL;
}

static const char gen_usage[] =
	"tiersync generate NODE_DIR [--scale X] [--seed N] [--years N] "
	"[--end-year YYYY] [--streets N] [--villages N]";

static int
num_opt(struct args *a, const char *name, unsigned lo, unsigned hi,
	unsigned *out)
{
	const char *v = arg_opt(a, name);
	char *end;
	unsigned long x;

	if (v == NULL)
		return 0;
	x = strtoul(v, &end, 10);
	if (*end != '\0' || end == v || x < lo || x > hi)
		return usage_error(gen_usage, "%s takes a number from %u to %u",
				   name, lo, hi);
	*out = (unsigned)x;
	return 0;
}

int
cmd_generate(struct args *a)
{
	struct tsync_gen_opts o = {4, 15, 3, 2026, 1, 1.0};
	struct tsync_gen_stats st = {0};
	const char *scale = arg_opt(a, "--scale"), *dir;
	struct tsync_node *n;
	char *end;

	if (num_opt(a, "--seed", 0, 1u << 30, &o.seed) ||
	    num_opt(a, "--years", 1, 20, &o.years) ||
	    num_opt(a, "--end-year", 2000, 2099, &o.end_year) ||
	    num_opt(a, "--streets", 1, 40, &o.streets) ||
	    num_opt(a, "--villages", 1, 100, &o.villages))
		return EXIT_USAGE;
	if (scale != NULL) {
		o.scale = strtod(scale, &end);
		if (*end != '\0' || !(o.scale > 0 && o.scale <= 1000))
			return usage_error(gen_usage,
					   "--scale takes a number above 0, "
					   "up to 1000");
	}
	dir = arg_next(a);
	if (dir == NULL || arg_done(a, gen_usage) != 0)
		return dir ? EXIT_USAGE
			   : usage_error(gen_usage, "give NODE_DIR");
	if ((n = open_node(dir)) == NULL)
		return EXIT_FAIL;
	if (tsync_generate(n, &o, &st) != 0) {
		int rc = fail("%s", tsync_node_errmsg(n));

		tsync_node_close(n);
		return rc;
	}
	tsync_node_close(n);
	printf("generated %llu records in %llu txns\n",
	       (unsigned long long)st.records, (unsigned long long)st.txns);
	return EXIT_DONE;
}
