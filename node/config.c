/*
 * config.c - reads tiersync.conf (INI, parsed by Debian's inih).  Keys
 * live in the [node] section: listen, parent, max_clock_skew_ms,
 * http_listen, snapshot_first_pull.
 *
 * The file is checked whole on every read: a line that is neither a
 * comment, a [section] header nor KEY = VALUE, a key outside [node], a key
 * tiersync does not know and a key given twice are each an error naming
 * the file and the line, so a typo never passes for an empty setting.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "node_int.h"

static const char *const conf_keys[] = {"listen", "parent",
					"max_clock_skew_ms", "http_listen",
					"snapshot_first_pull"};
#define NKEYS (sizeof(conf_keys) / sizeof(conf_keys[0]))

struct want {
	const char *key;
	char *out;
	size_t len;
	int found;
	FILE *f;
	int line;       /* lines read so far: the line being parsed */
	char raw[8];    /* the first bytes of that line */
	int seen[NKEYS];
	int bad_line;   /* the first line the handler refused, or 0 */
	char why[200];  /* and why */
};

/* inih's reader: fgets that counts lines as inih does. */
static char *
conf_read(char *str, int num, void *arg)
{
	struct want *w = arg;
	char *s = fgets(str, num, w->f);

	if (s != NULL) {
		w->line++;
		ts_fmt(w->raw, sizeof(w->raw), "%s", s);
	}
	return s;
}

static int __attribute__((format(printf, 2, 3)))
refuse(struct want *w, const char *fmt, ...)
{
	va_list ap;

	if (w->bad_line == 0) {
		w->bad_line = w->line;
		va_start(ap, fmt);
		vsnprintf(w->why, sizeof(w->why), fmt, ap);
		va_end(ap);
	}
	return 0; /* inih: an error on this line */
}

static int
on_entry(void *arg, const char *section, const char *name, const char *value)
{
	struct want *w = arg;
	size_t i;

	if (section[0] == '\0')
		return refuse(w, "'%s' comes before [node]", name);
	if (strcmp(section, "node") != 0)
		return refuse(w, "'%s' is in [%s]; tiersync.conf has only "
				 "[node]",
			      name, section);
	for (i = 0; i < NKEYS; i++)
		if (strcmp(name, conf_keys[i]) == 0)
			break;
	if (i == NKEYS)
		return refuse(w, "unknown key '%s' (known: listen, parent, "
				 "max_clock_skew_ms, http_listen, "
				 "snapshot_first_pull)",
			      name);
	if (w->seen[i]++ && (w->raw[0] == ' ' || w->raw[0] == '\t'))
		return refuse(w, "an indented line continues '%s'; give "
				 "each value on one line",
			      name);
	if (w->seen[i] > 1)
		return refuse(w, "'%s' is given twice", name);
	if (strcmp(name, w->key) == 0) {
		ts_fmt(w->out, w->len, "%s", value);
		w->found = 1;
	}
	return 1;
}

int
node_conf_get(struct tsync_node *n, const char *key, char *out, size_t len)
{
	char path[PATH_MAX];
	struct want w;
	int rc;

	memset(&w, 0, sizeof(w));
	w.key = key;
	w.out = out;
	w.len = len;
	out[0] = '\0';
	ts_fmt(path, sizeof(path), "%s/tiersync.conf", n->dir);
	if ((w.f = fopen(path, "r")) == NULL)
		return node_err(n, TSYNC_ENOENT, "cannot read %s: %s", path,
				strerror(errno));
	rc = ini_parse_stream(conf_read, &w, on_entry, &w);
	fclose(w.f);
	if (rc < 0)
		return node_err(n, TSYNC_ENOMEM, "out of memory reading %s",
				path);
	if (rc > 0 && rc == w.bad_line)
		return node_err(n, TSYNC_EINVAL, "%s line %d: %s", path, rc,
				w.why);
	if (rc > 0)
		return node_err(n, TSYNC_EINVAL,
				"%s line %d: not [node], KEY = VALUE or a "
				"# comment",
				path, rc);
	return w.found ? 0 : TSYNC_ENOENT;
}
