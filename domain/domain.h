/*
 * domain.h - the records layer inside the library: the declarations of
 * the record kinds (schema.c), their rules, and what the engine calls to
 * create and check them.
 *
 * Owns: the replicated tables of the governance domain, their indexes and
 * the validation triggers generated from the declarations.  Does not:
 * decide what replicates where (the engine does, by scope).
 *
 * Invariant: a rule is one SQL expression over NEW (and OLD for a step of
 * a workflow); the same text is the trigger that refuses a local write
 * and the query of tsync_rec_check() over held records.
 */
#ifndef TSYNC_DOMAIN_H
#define TSYNC_DOMAIN_H

#include "tiersync/records.h"

struct tsync_node;

/*
 * Columns every record has after id and scope, set once by the node when
 * the record is made.  Who changed a record later is not a column (two
 * offices editing different fields would then always conflict): each
 * change adds a row to the `edits` table instead.
 */
#define DOMAIN_COMMON "no", "recorded_by", "recorded_at"
#define DOMAIN_NCOMMON 3

enum {
	RULE_ALWAYS = 0, /* insert and update; checked on held records */
	RULE_INSERT = 1, /* insert only */
	RULE_STEP = 2,   /* update only; may use OLD */
};

struct domain_rule {
	const char *table;
	const char *field; /* named first in the message */
	int when;          /* RULE_* */
	const char *ok;    /* SQL: true when the row is acceptable */
	const char *msg;   /* after "field (label): " */
};

/* Creates (or brings up to date) tables, indexes and triggers. */
int domain_declare(struct tsync_node *n);
/*
 * Calls cb with the name and the SQL, as sqlite_schema stores it, of each
 * index and trigger domain_declare makes (verify compares them); stops at
 * the first non-zero return and returns it.
 */
int domain_objects(int (*cb)(void *arg, const char *name, const char *sql),
		   void *arg);
/* Registers ts_check(), ts_newid() and ts_node_id() on the connection. */
int domain_install(struct tsync_node *n);
/* A new record id: "<node id>-<HLC in hex>". */
void domain_newid(struct tsync_node *n, char *out, size_t len);
/* The table rules (field rules are derived from the declarations). */
const struct domain_rule *domain_rules(size_t *count);
/*
 * The rule of one field's type, as SQL over NEW (`ok`) and its message;
 * returns 0 for a field with no such rule (free text).
 */
int domain_field_rule(const struct tsync_field *f, char *ok, size_t oklen,
		      char *msg, size_t msglen);
/* Writes "field (label): allowed: code label, ..." for an enum. */
void domain_allowed(const struct tsync_field *f, char *out, size_t len);

#endif
