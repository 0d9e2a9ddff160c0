/*
 * conflict.h - concurrent writes kept for people (see DESIGN.md, "Merge").
 *
 * Per column, versions form a tree through the "overwrote" links.  Its
 * heads are the versions no known version overwrote; the value is the
 * largest head (kept in ts_ver and the table), the other heads are the open
 * conflicts, kept with their values in ts_heads.  A version named as
 * overwritten before it arrived is remembered in ts_over, so that when it
 * does arrive it is already not a head.  Two nodes holding the same
 * versions therefore hold the same value and the same conflicts, whatever
 * the order of arrival.  Settling a conflict is a write that names every
 * head it settles as overwritten.
 */
#ifndef TSYNC_CONFLICT_H
#define TSYNC_CONFLICT_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

struct tsync_node;

struct colref {
	int tid;
	const char *id;
	size_t idlen;
	int col;
};

/* Adds a losing head with its value (a msgpack object). */
int heads_add(struct tsync_node *n, const struct colref *c, uint64_t hlc,
	      uint64_t origin, const msgpack_object *val);
/* Removes a head: 1 if it was one, 0 if not, <0 on error. */
int heads_remove(struct tsync_node *n, const struct colref *c, uint64_t hlc,
		 uint64_t origin);
/* Remembers that (hlc, origin) was overwritten before it arrived. */
int over_add(struct tsync_node *n, const struct colref *c, uint64_t hlc,
	     uint64_t origin);
/* 1 (and forgets it) if (hlc, origin) was overwritten before arriving. */
int over_take(struct tsync_node *n, const struct colref *c, uint64_t hlc,
	      uint64_t origin);
/* Inside a write transaction: notes whether ts_over holds anything. */
int over_scan(struct tsync_node *n);
/* A conflict's stable id: 12 hex digits, the same on every node. */
void conflict_id(const char *table, const char *id, size_t idlen,
		 const char *col, uint64_t hlc, uint64_t origin, char out[13]);

#endif
