/*
 * gen.c - tsync_gen, a test generator: writes COUNT txns into an existing
 * node, one case row per txn (one commit each), through the public API
 * only.
 *
 *   tsync_gen NODE_DIR COUNT [PREFIX [SCOPE]]
 *
 * Row ids are PREFIX-NNNNNNN (PREFIX defaults to "gen"), in the node's own
 * scope, or in SCOPE (for a street writing into one of its villages, so
 * that txns flow down too).  It prints the number of txns written.
 *
 * This is a test tool, not a way to load real data: for speed it turns
 * off SQLite's fsync (PRAGMA synchronous=OFF) on the node's connection, so
 * a power cut while it runs could lose or corrupt the replica.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "tiersync/tiersync.h"

static const char insert_sql[] =
	"INSERT INTO cases(id, scope, category, title, parties, status,"
	" opened_at) VALUES(?1, ?2, ?3, ?4, ?5, 'registered', ?6)";

static int
bind_case(sqlite3_stmt *s, const char *prefix, const char *scope,
	  unsigned long i)
{
	static const char *const cats[] = {"land", "family", "marriage",
					   "neighbours", "labour", "traffic",
					   "other"};
	char id[96], title[96], parties[64], day[16];

	snprintf(id, sizeof(id), "%s-%07lu", prefix, i);
	snprintf(title, sizeof(title), "邻里纠纷 第%lu号", i);
	snprintf(parties, sizeof(parties), "张某%lu; 李某", i % 997);
	snprintf(day, sizeof(day), "2016-%02lu-%02lu", i % 12 + 1, i % 28 + 1);
	sqlite3_reset(s);
	if (sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
	    sqlite3_bind_text(s, 2, scope, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(s, 3, cats[i % 7], -1, SQLITE_STATIC) !=
		    SQLITE_OK ||
	    sqlite3_bind_text(s, 4, title, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
	    sqlite3_bind_text(s, 5, parties, -1, SQLITE_TRANSIENT) !=
		    SQLITE_OK ||
	    sqlite3_bind_text(s, 6, day, -1, SQLITE_TRANSIENT) != SQLITE_OK)
		return -1;
	return sqlite3_step(s) == SQLITE_DONE ? 0 : -1;
}

/*
 * Writes rows [0, count), one commit each.  The statement is prepared
 * inside a node transaction: the authorizer judges a statement when it is
 * prepared (see docs/architecture.md on the lower-level API).
 */
static int
generate(struct tsync_node *n, const char *prefix, const char *scope,
	 unsigned long count, unsigned long *done)
{
	struct tsync_identity id;
	sqlite3_stmt *s = NULL;
	sqlite3 *db = tsync_node_db(n);
	unsigned long i;

	*done = 0;
	if (tsync_node_identity(n, &id) != 0 ||
	    sqlite3_exec(db, "PRAGMA synchronous=OFF", NULL, NULL, NULL) !=
		    SQLITE_OK)
		return -1;
	if (scope == NULL)
		scope = id.scope;
	for (i = 0; i < count; i++) {
		if (tsync_node_begin(n) != 0)
			break;
		if (s == NULL &&
		    sqlite3_prepare_v2(db, insert_sql, -1, &s, NULL) !=
			    SQLITE_OK) {
			fprintf(stderr, "tsync_gen: %s\n", sqlite3_errmsg(db));
			tsync_node_rollback(n);
			return -1;
		}
		if (bind_case(s, prefix, scope, i) != 0) {
			fprintf(stderr, "tsync_gen: row %lu: %s\n", i,
				sqlite3_errmsg(db));
			sqlite3_reset(s);
			tsync_node_rollback(n);
			break;
		}
		sqlite3_reset(s);
		if (tsync_node_commit(n) != 0)
			break;
		(*done)++;
	}
	sqlite3_finalize(s);
	return *done == count ? 0 : -1;
}

int
main(int argc, char **argv)
{
	struct tsync_node *n = NULL;
	unsigned long count, done = 0;
	char *end;
	int rc;

	if (argc < 3 || argc > 5) {
		fprintf(stderr, "usage: tsync_gen NODE_DIR COUNT "
				"[PREFIX [SCOPE]]\n");
		return 2;
	}
	count = strtoul(argv[2], &end, 10);
	if (*end != '\0' || argv[2][0] == '\0' || count > 9999999) {
		fprintf(stderr, "tsync_gen: COUNT must be 0 to 9999999\n");
		return 2;
	}
	if (tsync_node_open(argv[1], NULL, &n) != 0) {
		fprintf(stderr, "tsync_gen: %s\n", tsync_node_errmsg(n));
		tsync_node_close(n);
		return 1;
	}
	rc = generate(n, argc > 3 ? argv[3] : "gen", argc > 4 ? argv[4] : NULL,
		      count, &done);
	if (rc != 0)
		fprintf(stderr, "tsync_gen: stopped after %lu txns: %s\n", done,
			tsync_node_errmsg(n));
	printf("%lu\n", done);
	tsync_node_close(n);
	return rc == 0 ? 0 : 1;
}
