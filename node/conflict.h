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

/*
 * Id clashes (docs/data-model.md, "One id, two scopes").  A row id belongs
 * to the scope of its earliest change: the smallest (hlc, origin, scope)
 * of the changes held for that (table, id).  While only one scope ever
 * wrote an id nothing is recorded.  Once a change of a second scope is
 * held, the id is "contested" and every change to it, of every scope, is
 * kept in ts_clash (its own one-change txn body, the owner's changes with
 * aside = 0, the others with aside = 1); the table, ts_ver and ts_heads
 * hold the merge of the owner's changes only, and ts_heads holds one row
 * with col = 1 (the scope slot) per other scope whose own record would be
 * live, named by that scope's earliest version, valued with its scope.
 * When an earlier change of another scope arrives, the row is rebuilt
 * from that scope's changes.  The result depends only on the txns held.
 */
struct txn;
struct tbl;

/* 1 if ts_clash holds anything (0 when it does not exist yet). */
int clash_any(struct tsync_node *n);
/* 1 if (tid, id) is contested, 0 if not, <0 on error. */
int clash_held(struct tsync_node *n, int tid, const char *id, size_t idlen);
/* Creates ts_clash if it is missing. */
int clash_ensure(struct tsync_node *n);
/* Keeps change i of t (table tid) in ts_clash. */
int clash_put(struct tsync_node *n, int tid, const struct txn *t,
	      uint32_t i);
/* The owner's scope of (tid, id) into out (empty if none); marks every
 * kept change of another scope as aside. */
int clash_owner(struct tsync_node *n, int tid, const char *id, size_t idlen,
		char *out, size_t outlen);
/* Rewrites the scope-slot heads (col 1) of (tid, id) in ts_heads. */
int clash_heads(struct tsync_node *n, int tid, const char *id, size_t idlen);
/* A local commit's txn (capture.c): keeps its changes to contested ids,
 * and rebuilds a row a change of another scope must not show
 * (implemented in apply.c, next to the merge). */
int clash_local(struct tsync_node *n, const uint8_t *body, size_t len);

#endif
