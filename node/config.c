/*
 * config.c - reads tiersync.conf (INI, parsed by Debian's inih).  Keys
 * live in the [node] section: listen, parent, max_clock_skew_ms.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "node_int.h"

struct want {
	const char *key;
	char *out;
	size_t len;
	int found;
};

static int
on_entry(void *arg, const char *section, const char *name, const char *value)
{
	struct want *w = arg;

	if (strcmp(section, "node") == 0 && strcmp(name, w->key) == 0) {
		ts_fmt(w->out, w->len, "%s", value);
		w->found = 1;
	}
	return 1;
}

int
node_conf_get(struct tsync_node *n, const char *key, char *out, size_t len)
{
	char path[PATH_MAX];
	struct want w = {key, out, len, 0};
	int rc;

	out[0] = '\0';
	ts_fmt(path, sizeof(path), "%s/tiersync.conf", n->dir);
	rc = ini_parse(path, on_entry, &w);
	if (rc < 0)
		return node_err(n, TSYNC_ENOENT, "cannot read %s", path);
	if (rc > 0)
		return node_err(n, TSYNC_EINVAL, "%s line %d is not KEY = VALUE",
				path, rc);
	return w.found ? 0 : TSYNC_ENOENT;
}
