/*
 * scope.c - scope path rules; see scope.h.
 */
#include "scope.h"

#include <string.h>

static int
seg_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
	       c == '-';
}

int
scope_valid(const char *s, int bcast)
{
	size_t seglen = 0, n = 0;
	const char *p;

	if (s == NULL || *s == '\0' || strlen(s) > SCOPE_MAX)
		return 0;
	for (p = s; *p != '\0'; p++, n++) {
		if (*p == '/') {
			if (seglen == 0)
				return 0;
			seglen = 0;
			continue;
		}
		if (*p == '*') {
			/* Only as the whole last segment, never the first. */
			if (!bcast || seglen != 0 || n == 0 || p[1] != '\0')
				return 0;
			return 1;
		}
		if (!seg_char(*p))
			return 0;
		seglen++;
	}
	return seglen > 0;
}

int
scope_within(const char *s, const char *root)
{
	size_t n = strlen(root);

	if (strncmp(s, root, n) != 0)
		return 0;
	return s[n] == '\0' || s[n] == '/';
}

int
scope_may_write(const char *node_scope, const char *role, const char *s)
{
	if (strcmp(role, "office") != 0)
		return 0;
	return scope_valid(s, 1) && scope_within(s, node_scope);
}

void
scope_district(const char *s, char *out, size_t len)
{
	size_t n = strcspn(s, "/");

	if (len == 0)
		return;
	if (n >= len)
		n = len - 1;
	memcpy(out, s, n);
	out[n] = '\0';
}

int
scope_may_see(const char *viewer, const char *role, const char *s)
{
	size_t n = strlen(s);
	char parent[SCOPE_MAX + 1];

	/*
	 * The role does not widen what a node sees: an auditor sees what an
	 * office of its scope sees, so a district auditor sees the district
	 * and a village auditor its village (docs/protocol.md, section 5).
	 */
	(void)role;
	if (scope_within(s, viewer))
		return 1;
	/* A broadcast scope "P/" "*" reaches every node inside P. */
	if (n >= 2 && n <= SCOPE_MAX && s[n - 1] == '*' && s[n - 2] == '/') {
		memcpy(parent, s, n - 2);
		parent[n - 2] = '\0';
		return scope_within(viewer, parent);
	}
	return 0;
}
