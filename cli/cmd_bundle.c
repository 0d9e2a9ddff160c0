/*
 * cmd_bundle.c - `tiersync bundle export|import`: sneakernet.
 */
#include <string.h>

#include "cli.h"

static const char u_exp[] = "tiersync bundle export NODE_DIR --for SCOPE "
			    "--out FILE [--since FILE] [--to CERT]... "
			    "[--unsealed]";

#define TO_MAX 16
static const char u_imp[] = "tiersync bundle import NODE_DIR FILE";

static int
bundle_export(struct args *a)
{
	const char *scope = arg_opt(a, "--for");
	const char *out = arg_opt(a, "--out");
	struct tsync_bundle_opts o = {arg_opt(a, "--since"),
				      arg_flag(a, "--unsealed"), NULL};
	const char *to[TO_MAX + 1];
	const char *dir;
	struct tsync_bundle_result r;
	int rc, nto = 0;

	while (nto < TO_MAX && (to[nto] = arg_opt(a, "--to")) != NULL)
		nto++;
	to[nto] = NULL;
	o.to = to;
	dir = arg_next(a);
	if (dir == NULL || scope == NULL || out == NULL)
		return usage_error(u_exp, "NODE_DIR, --for and --out are "
					  "needed");
	if (o.unsealed && nto > 0)
		return usage_error(u_exp, "--to names recipients of a sealed "
					  "bundle: not with --unsealed");
	if ((rc = arg_done(a, u_exp)) != 0)
		return rc;
	if (tsync_bundle_export_opts(dir, scope, out, &o, &r) != 0)
		return fail("bundle export: %s", r.why);
	printf("wrote %llu txns for %s to %s%s\n", (unsigned long long)r.txns,
	       scope, out,
	       o.unsealed ? " (unsealed: anyone with the file can read it)"
			  : "");
	if (r.note[0] != '\0')
		printf("%s\n", r.note);
	return EXIT_DONE;
}

static int
bundle_import(struct args *a)
{
	const char *dir = arg_next(a), *file = arg_next(a);
	struct tsync_bundle_result r;
	int rc;

	if (dir == NULL || file == NULL)
		return usage_error(u_imp, "NODE_DIR and FILE are needed");
	if ((rc = arg_done(a, u_imp)) != 0)
		return rc;
	rc = tsync_bundle_import(dir, file, &r);
	if (r.note[0] != '\0')
		printf("%s\n", r.note);
	printf("read %llu txns: applied %llu, already held %llu, "
	       "quarantined %llu\n",
	       (unsigned long long)r.txns, (unsigned long long)r.applied,
	       (unsigned long long)r.duplicate,
	       (unsigned long long)r.quarantined);
	if (rc != 0)
		return fail("bundle import: %s", r.why);
	return EXIT_DONE;
}

int
cmd_bundle(struct args *a)
{
	const char *sub = arg_next(a);

	if (sub != NULL && strcmp(sub, "export") == 0)
		return bundle_export(a);
	if (sub != NULL && strcmp(sub, "import") == 0)
		return bundle_import(a);
	return usage_error("tiersync bundle export|import ...",
			   "unknown bundle command '%s'", sub ? sub : "");
}
