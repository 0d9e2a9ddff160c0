/*
 * pair.h - two nodes' sessions joined by in-memory pipes, for the unit
 * tests: join() makes the two session state machines, run() moves bytes
 * both ways until nothing moves, sync_once() does one whole one-shot sync,
 * and rows() counts rows of `cases`.  No sockets, no clock.
 */
#ifndef TSYNC_PAIR_H
#define TSYNC_PAIR_H

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"
#include "tiersync/tiersync.h"

struct link {
	struct sess *a, *b;
	int synced_a, synced_b, code_a, code_b, closed_a, closed_b;
	char close_a[320], close_b[320];
	size_t max_pending;
	uint64_t now;
};

static void
drain(struct sess *s, int *synced, int *code, int *closed, char *why)
{
	struct sess_action a;

	while (sess_poll(s, 0, &a)) {
		if (getenv("TEST_VERBOSE"))
			fprintf(stderr, "action %d: %s\n", a.type, a.text);
		if (a.type == SA_SYNCED) {
			*synced = 1;
			*code = a.code;
		} else if (a.type == SA_CLOSE) {
			*closed = 1;
			snprintf(why, 320, "%s", a.text);
			if (getenv("TEST_VERBOSE"))
				fprintf(stderr, "close: %s\n", a.text);
		}
	}
}

/* Moves bytes both ways until nothing moves, at most `chunk` bytes a
 * step each way (0: all that is pending). */
static void
run(struct link *l, size_t chunk)
{
	int moved = 1, rounds = 0;

	while (moved && rounds++ < 100000) {
		const uint8_t *p;
		size_t n;

		moved = 0;
		drain(l->a, &l->synced_a, &l->code_a, &l->closed_a, l->close_a);
		drain(l->b, &l->synced_b, &l->code_b, &l->closed_b, l->close_b);
		p = sess_pending(l->a, &n);
		if (n > l->max_pending)
			l->max_pending = n;
		if (n > 0) {
			if (chunk && n > chunk)
				n = chunk;
			sess_feed(l->b, p, n);
			sess_sent(l->a, n);
			moved = 1;
		}
		p = sess_pending(l->b, &n);
		if (n > l->max_pending)
			l->max_pending = n;
		if (n > 0) {
			if (chunk && n > chunk)
				n = chunk;
			sess_feed(l->a, p, n);
			sess_sent(l->b, n);
			moved = 1;
		}
	}
}

static struct link
join(struct tsync_node *x, struct tsync_node *y, int one_shot)
{
	struct sess_cfg c = {0};
	struct link l;

	memset(&l, 0, sizeof(l));
	c.one_shot = one_shot;
	c.batch_txns = 64;
	c.node = x;
	l.a = sess_new(&c, 0);
	c.node = y;
	l.b = sess_new(&c, 0);
	return l;
}

static void
unjoin(struct link *l)
{
	sess_free(l->a);
	sess_free(l->b);
}

static int
rows(struct tsync_node *n, const char *where)
{
	sqlite3_stmt *s;
	char sql[256];
	int c = -1;

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM cases WHERE %s",
		 where);
	sqlite3_prepare_v2(tsync_node_db(n), sql, -1, &s, NULL);
	if (sqlite3_step(s) == SQLITE_ROW)
		c = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return c;
}

/* One sync a -> b (and back); returns whether both said SYNCED. */
static int
sync_once(struct tsync_node *a, struct tsync_node *b)
{
	struct link l = join(a, b, 1);
	int ok;

	run(&l, 0);
	ok = l.synced_a && l.synced_b && l.code_a == 0 && l.code_b == 0;
	unjoin(&l);
	return ok;
}

#endif
