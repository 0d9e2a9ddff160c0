/*
 * scope.h - scope paths and what a node may write.
 *
 * A scope path is ASCII: segments of [a-z0-9_-] separated by '/', the first
 * segment being the district ("gangzha/qinzao/feiqiao").  A last segment of
 * "*" names a broadcast scope ("gangzha/" followed by "*": the district's rosters and
 * dictionaries, seen by everything below the district).
 *
 * Decides what a node may hold (scope_may_see), which is also what a
 * session sends a peer; replication/session.c applies it.
 */
#ifndef TSYNC_SCOPE_H
#define TSYNC_SCOPE_H

#include <stddef.h>

#define SCOPE_MAX 255

/* 1 if `s` is a well-formed scope path (broadcast allowed if `bcast`). */
int scope_valid(const char *s, int bcast);
/* 1 if `s` equals `root` or lies inside it. */
int scope_within(const char *s, const char *root);
/* 1 if a node of `node_scope` and `role` may originate txns in `s`. */
int scope_may_write(const char *node_scope, const char *role, const char *s);
/*
 * 1 if a node of `viewer_scope` and `viewer_role` may hold txns of scope
 * `s`: its own subtree, or a broadcast scope above it (parent + "/" + "*"
 * where viewer_scope lies inside parent).  The role does not matter: an
 * auditor sees what an office of its scope sees (a district auditor the
 * whole district, a village auditor its village).
 */
int scope_may_see(const char *viewer_scope, const char *viewer_role,
		  const char *s);
/* Copies the district (first segment) of `s` into out. */
void scope_district(const char *s, char *out, size_t len);

#endif
