/*
 * testnode.h - test helpers: make a CA and nodes in a temporary directory,
 * run SQL, and join two sessions with in-memory pipes.
 */
#ifndef TSYNC_TESTNODE_H
#define TSYNC_TESTNODE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tiersync/tiersync.h"

static char tn_dir[256];

static const char *
tn_root(void)
{
	if (tn_dir[0] == '\0') {
		snprintf(tn_dir, sizeof(tn_dir), "/tmp/tsync-unit-XXXXXX");
		if (mkdtemp(tn_dir) == NULL)
			abort();
	}
	return tn_dir;
}

/* Issues and opens a node; aborts the test on failure. */
static struct tsync_node *
tn_node(const char *name, const char *scope, const char *role,
	const struct tsync_ops *ops)
{
	char ca[400], nd[400], err[512];
	struct tsync_node *n = NULL;

	snprintf(ca, sizeof(ca), "%s/ca", tn_root());
	snprintf(nd, sizeof(nd), "%s/%s", tn_root(), name);
	if (access(ca, F_OK) != 0 &&
	    tsync_ca_init(ca, "gangzha", 30, err, sizeof(err)) != 0) {
		fprintf(stderr, "ca: %s\n", err);
		abort();
	}
	if (tsync_ca_issue(ca, scope, role, 30, nd, err, sizeof(err)) != 0 ||
	    tsync_node_init(nd, NULL, err, sizeof(err)) != 0) {
		fprintf(stderr, "node %s: %s\n", name, err);
		abort();
	}
	if (tsync_node_open(nd, ops, &n) != 0) {
		fprintf(stderr, "open %s: %s\n", name, tsync_node_errmsg(n));
		abort();
	}
	return n;
}

static int
tn_sql(struct tsync_node *n, const char *sql)
{
	int rc = tsync_node_exec(n, sql, NULL, NULL);

	if (rc != 0)
		fprintf(stderr, "sql: %s\n", tsync_node_errmsg(n));
	return rc;
}

static void
tn_cleanup(void)
{
	char cmd[400];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tn_root());
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tn_root());
}

#endif
