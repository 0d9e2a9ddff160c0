/*
 * cmd_ca.c - `tiersync ca init`, `tiersync ca issue` and `tiersync ca
 * revoke`.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char u_init[] = "tiersync ca init CA_DIR --district NAME "
			     "[--days N]";
static const char u_issue[] = "tiersync ca issue CA_DIR --scope PATH "
			      "[--role office|auditor] [--days N] "
			      "--out NODE_DIR";

static int
parse_days(const char *s, const char *usage, int *days)
{
	char *end;
	long v;

	*days = 3650;
	if (s == NULL)
		return 0;
	v = strtol(s, &end, 10);
	if (*end != '\0' || v < 1 || v > 36500)
		return usage_error(usage, "--days takes 1 to 36500, not '%s'",
				   s);
	*days = (int)v;
	return 0;
}

static int
ca_init(struct args *a)
{
	const char *district = arg_opt(a, "--district");
	const char *days_s = arg_opt(a, "--days");
	const char *dir = arg_next(a);
	char err[512];
	int days, rc;

	if ((rc = parse_days(days_s, u_init, &days)) != 0)
		return rc;
	if (dir == NULL || district == NULL)
		return usage_error(u_init, "CA_DIR and --district are needed");
	if ((rc = arg_done(a, u_init)) != 0)
		return rc;
	if (tsync_ca_init(dir, district, days, err, sizeof(err)) != 0)
		return fail("%s", err);
	printf("CA for district %s created in %s (keep ca.key offline)\n",
	       district, dir);
	return EXIT_DONE;
}

static int
ca_issue(struct args *a)
{
	const char *scope = arg_opt(a, "--scope");
	const char *role = arg_opt(a, "--role");
	const char *out = arg_opt(a, "--out");
	const char *days_s = arg_opt(a, "--days");
	const char *dir = arg_next(a);
	char err[512];
	int days, rc;

	if ((rc = parse_days(days_s, u_issue, &days)) != 0)
		return rc;
	if (dir == NULL || scope == NULL || out == NULL)
		return usage_error(u_issue, "CA_DIR, --scope and --out are "
					    "needed");
	if ((rc = arg_done(a, u_issue)) != 0)
		return rc;
	if (tsync_ca_issue(dir, scope, role, days, out, err, sizeof(err)) != 0)
		return fail("%s", err);
	printf("issued %s node for %s into %s\n", role ? role : "office",
	       scope, out);
	return EXIT_DONE;
}

static int
ca_revoke(struct args *a)
{
	static const char u[] = "tiersync ca revoke CA_DIR NODE_CERT|NODE_ID "
				"[--node DISTRICT_NODE_DIR] "
				"[--cut SCOPE=SEQ[,SCOPE=SEQ...]]";
	const char *node = arg_opt(a, "--node");
	const char *cuts = arg_opt(a, "--cut");
	const char *dir = arg_next(a), *cert = arg_next(a);
	char msg[1536];
	int rc;

	if (dir == NULL || cert == NULL)
		return usage_error(u, "CA_DIR and NODE_CERT are needed");
	if ((rc = arg_done(a, u)) != 0)
		return rc;
	if (tsync_ca_revoke_cut(dir, cert, node, cuts, msg, sizeof(msg)) != 0)
		return fail("%s", msg);
	printf("revoked %s; the list is %s/crl.pem%s%s\n%s\n", cert, dir,
	       node ? ", installed in " : " (install it in the district node "
					  "with --node to spread it)",
	       node ? node : "", msg);
	return EXIT_DONE;
}

int
cmd_ca(struct args *a)
{
	const char *sub = arg_next(a);

	if (sub != NULL && strcmp(sub, "init") == 0)
		return ca_init(a);
	if (sub != NULL && strcmp(sub, "issue") == 0)
		return ca_issue(a);
	if (sub != NULL && strcmp(sub, "revoke") == 0)
		return ca_revoke(a);
	return usage_error("tiersync ca init|issue|revoke ...",
			   "unknown ca command '%s'", sub ? sub : "");
}
