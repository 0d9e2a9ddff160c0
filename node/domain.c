/*
 * domain.c - the replicated tables of the governance domain.
 *
 * The engine knows nothing of cases or petitions: it replicates whatever is
 * declared here (each table gets `id TEXT PRIMARY KEY` and `scope TEXT`
 * first).  Adding a table or a column is a new schema version.
 */
#include "node_int.h"

struct decl {
	const char *name;
	const char *const *cols;
	const char *const *types;
	int ncol;
};

static const char *const cases_cols[] = {
	"category", "title", "parties", "status", "opened_at", "notes",
};
static const char *const cases_types[] = {
	"TEXT", "TEXT", "TEXT", "TEXT", "TEXT", "TEXT",
};

static const struct decl decls[] = {
	{"cases", cases_cols, cases_types, 6},
};

int
domain_declare(struct tsync_node *n)
{
	size_t i;
	int rc;

	for (i = 0; i < sizeof(decls) / sizeof(decls[0]); i++) {
		rc = store_declare(n, decls[i].name, decls[i].cols,
				   decls[i].types, decls[i].ncol);
		if (rc != 0)
			return rc;
	}
	return 0;
}
