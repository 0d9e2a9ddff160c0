/*
 * cmd_bundle.c - `tiersync bundle export|import`: sneakernet.
 */
#include <string.h>

#include "cli.h"

static const char u_exp[] = "tiersync bundle export NODE_DIR --for SCOPE "
			    "--out FILE [--since FILE]";
static const char u_imp[] = "tiersync bundle import NODE_DIR FILE";

static int
bundle_export(struct args *a)
{
	const char *scope = arg_opt(a, "--for");
	const char *out = arg_opt(a, "--out");
	const char *since = arg_opt(a, "--since");
	const char *dir = arg_next(a);
	struct tsync_bundle_result r;
	int rc;

	if (dir == NULL || scope == NULL || out == NULL)
		return usage_error(u_exp, "NODE_DIR, --for and --out are "
					  "needed");
	if ((rc = arg_done(a, u_exp)) != 0)
		return rc;
	if (tsync_bundle_export(dir, scope, out, since, &r) != 0)
		return fail("bundle export: %s", r.why);
	printf("wrote %llu txns for %s to %s\n", (unsigned long long)r.txns,
	       scope, out);
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
