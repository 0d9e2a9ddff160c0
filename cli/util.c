/*
 * util.c - argument parsing and output helpers for the tiersync command.
 */
#include <stdarg.h>
#include <stdint.h>
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

/* Length of the well-formed UTF-8 sequence at p (1 to 4), or 0. */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
	size_t len, i;
	unsigned cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (len > n)
		return 0;
	cp = p[0] & (0x7fu >> len);
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3fu);
	}
	/* Overlong forms, UTF-16 surrogates and beyond U+10FFFF. */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

/*
 * The first n bytes of s as a JSON string.  jansson takes only UTF-8, so
 * a byte that does not start a well-formed sequence becomes U+FFFD first;
 * jansson escapes the quotes, backslashes and control characters.
 */
json_t *
jtextn(const char *s, size_t n)
{
	static const char fffd[] = "\xef\xbf\xbd";
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, o = 0, len;
	json_t *v;
	char *t;

	if (s == NULL)
		return json_string("");
	while (i < n && (len = utf8_len(p + i, n - i)) != 0)
		i += len;
	if (i == n) /* already UTF-8, the common case */
		return json_stringn(s, n);
	if (n > (SIZE_MAX - 1) / 3 || (t = malloc(3 * n + 1)) == NULL)
		return NULL;
	memcpy(t, s, i);
	o = i;
	while (i < n) {
		if ((len = utf8_len(p + i, n - i)) == 0) {
			memcpy(t + o, fffd, 3); /* not UTF-8: U+FFFD per byte */
			o += 3;
			i++;
		} else {
			memcpy(t + o, p + i, len);
			o += len;
			i += len;
		}
	}
	v = json_stringn(t, o);
	free(t);
	return v;
}

json_t *
jtext(const char *s)
{
	return jtextn(s, s ? strlen(s) : 0);
}

json_t *
jblob(const void *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *b = p;
	json_t *v;
	char *t;
	size_t i;

	if (n > (SIZE_MAX - 1) / 2 || (t = malloc(2 * n + 1)) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		t[2 * i] = hex[b[i] >> 4];
		t[2 * i + 1] = hex[b[i] & 15];
	}
	v = json_pack("{s:s%}", "blob", t, 2 * n);
	free(t);
	return v;
}

json_t *
juint(uint64_t v)
{
	/* HLCs, counts and sizes stay far below 2^63; past it, a number. */
	if (v > (uint64_t)INT64_MAX)
		return json_real((double)v);
	return json_integer((json_int_t)v);
}

int
jprint(json_t *v)
{
	int rc = 0;

	if (v == NULL)
		return fail("out of memory building the JSON output");
	if (json_dumpf(v, stdout, JSON_COMPACT) != 0 || putchar('\n') == EOF)
		rc = fail("cannot write the JSON output");
	json_decref(v);
	return rc;
}
