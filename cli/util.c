/*
 * util.c - argument parsing and output helpers for the tiersync command.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void
drop(struct args *a, int i, int n)
{
	memmove(&a->argv[i], &a->argv[i + n],
		sizeof(char *) * (size_t)(a->argc - i - n + 1));
	a->argc -= n;
}

const char *
arg_opt(struct args *a, const char *name)
{
	size_t n = strlen(name);
	int i;

	for (i = a->pos; i < a->argc; i++) {
		const char *s = a->argv[i];

		if (strcmp(s, "--") == 0)
			break;
		if (strcmp(s, name) == 0 && i + 1 < a->argc) {
			const char *v = a->argv[i + 1];

			drop(a, i, 2);
			return v;
		}
		if (strncmp(s, name, n) == 0 && s[n] == '=') {
			drop(a, i, 1);
			return s + n + 1;
		}
	}
	return NULL;
}

int
arg_flag(struct args *a, const char *name)
{
	int i;

	for (i = a->pos; i < a->argc; i++) {
		if (strcmp(a->argv[i], "--") == 0)
			break;
		if (strcmp(a->argv[i], name) == 0) {
			drop(a, i, 1);
			return 1;
		}
	}
	return 0;
}

const char *
arg_next(struct args *a)
{
	while (a->pos < a->argc) {
		const char *s = a->argv[a->pos];

		if (strcmp(s, "--") == 0) {
			drop(a, a->pos, 1);
			continue;
		}
		if (s[0] == '-' && s[1] == '-')
			return NULL; /* an unknown option: arg_done says so */
		a->pos++;
		return s;
	}
	return NULL;
}

int
arg_done(struct args *a, const char *usage)
{
	if (a->pos < a->argc)
		return usage_error(usage, "unexpected argument '%s'",
				   a->argv[a->pos]);
	return 0;
}

int
usage_error(const char *usage, const char *fmt, ...)
{
	va_list ap;

	fputs("tiersync: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: %s\n", usage);
	return EXIT_USAGE;
}

int
fail(const char *fmt, ...)
{
	va_list ap;

	fputs("tiersync: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_FAIL;
}

struct tsync_node *
open_node(const char *dir)
{
	struct tsync_node *n = NULL;

	if (tsync_node_open(dir, NULL, &n) != 0) {
		fail("%s", tsync_node_errmsg(n));
		tsync_node_close(n);
		return NULL;
	}
	return n;
}

void
json_str(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");

	fputc('"', f);
	for (; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}
