/*
 * records.h - the governance records of the three offices, on top of the
 * engine: disputes, mediation sessions, consultations, petitions, publicity
 * events, special-population files and visits, risk assessments, review
 * meetings, grid reports, and the offices and roster they belong to.
 *
 * Every record is a row of a replicated table declared once (domain/
 * schema.c).  Values are validated where they enter, by these functions and
 * by `tiersync sql` alike (SQL triggers generated from the same
 * declarations); records that arrive from peers are never refused for
 * domain rules, and tsync_rec_check() lists those that break one.
 *
 * JSON values (jansson) carry records in and out: the caller owns every
 * json_t it receives through an `out` pointer (json_decref it).
 */
#ifndef TIERSYNC_RECORDS_H
#define TIERSYNC_RECORDS_H

#include <stdio.h>

#include <jansson.h>

#include "tiersync/tiersync.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Field types. */
enum {
	TSYNC_FT_TEXT,  /* free text */
	TSYNC_FT_DATE,  /* YYYY-MM-DD */
	TSYNC_FT_INT,   /* whole number >= 0 */
	TSYNC_FT_ENUM,  /* one code of `choices` */
	TSYNC_FT_LIST,  /* list of texts (stored as a JSON array) */
	TSYNC_FT_REF,   /* id of a record of kind `ref` */
	TSYNC_FT_SCOPE, /* a scope path */
};

struct tsync_choice {
	const char *code;  /* stored, ASCII: "family" */
	const char *label; /* shown, Chinese: "家庭纠纷" */
};

struct tsync_field {
	const char *name;  /* column; the flag is --name with '_' as '-' */
	const char *label; /* Chinese */
	int type;          /* TSYNC_FT_* */
	int required;
	const struct tsync_choice *choices; /* ENUM: ends with {NULL, NULL} */
	const char *ref;   /* REF: the kind's command name */
	const char *help;  /* one line, English */
	/* An SQL literal, or NULL: the value of a row whose txns never set
	 * the field (rows written before the field was declared). */
	const char *dflt;
};

struct tsync_kind {
	const char *name;   /* command name: "dispute" */
	const char *table;  /* replicated table: "disputes" */
	const char *label;  /* Chinese: "矛盾纠纷" */
	const char *tag;    /* in the record number: "" or "咨" */
	const char *date;   /* the field that dates a record, for periods */
	const char *title;  /* the field that names a record in lists */
	const char *parent; /* REF field whose record gives the scope, or NULL */
	int broadcast;      /* 1: written to "SCOPE/" "*", seen below */
	const struct tsync_field *fields;
	int nfield;
};

/* The declared kinds, in the order a work room meets them. */
const struct tsync_kind *tsync_kinds(size_t *count);
/* By command name ("dispute") or table ("disputes"); NULL if none. */
const struct tsync_kind *tsync_kind_find(const char *name);
const struct tsync_field *tsync_kind_field(const struct tsync_kind *k,
					   const char *name);
/* Chinese label of an ENUM code, or NULL. */
const char *tsync_choice_label(const struct tsync_field *f, const char *code);
/* Code for a code or label ("family" or "家庭纠纷"), or NULL. */
const char *tsync_choice_code(const struct tsync_field *f, const char *s);
/*
 * The value to store when conflict `id` is settled with a new value v
 * (tsync_node_resolve, TSYNC_KEEP_VALUE): on a coded field (ENUM) the
 * code of v, given as the code or as its label ("high" or "高"); on any
 * other field, or when no open conflict has that id, v itself.  NULL when
 * v is neither a code nor a label of the coded field.  *f (if f is not
 * NULL) receives the conflict's record field or NULL, so that a caller
 * can name the field and its choices.
 */
const char *tsync_conflict_value(struct tsync_node *n, const char *id,
				 const char *v, const struct tsync_field **f);

/*
 * Adds a record.  `values` maps field names to values (strings as typed,
 * ENUM codes or labels, LIST as an array or a text separated by "、", ","
 * or ";").  `by` is the recording person; `scope` NULL means the parent
 * record's scope, else the node's own (SCOPE/ "*" for broadcast kinds).
 * The node gives the id and the number.  On success *out (may be NULL)
 * receives the stored record.  Errors name the field (tsync_node_errmsg):
 * "category (类别): ...".  Inside a transaction the caller began, the add
 * joins it; otherwise it is its own.
 */
int tsync_rec_add(struct tsync_node *n, const struct tsync_kind *k,
		  json_t *values, const char *by, const char *scope,
		  json_t **out);
/* Changes the fields given (null or "" clears an optional field). */
int tsync_rec_update(struct tsync_node *n, const struct tsync_kind *k,
		     const char *id_or_no, json_t *values, const char *by,
		     json_t **out);
/* One record by id or number, with its sessions or visits. */
int tsync_rec_get(struct tsync_node *n, const struct tsync_kind *k,
		  const char *id_or_no, json_t **out);

struct tsync_rec_filter {
	const char *scope;  /* this scope and inside it; NULL: all */
	const char *from;   /* date field >= from; NULL: open */
	const char *to;     /* date field <= to */
	const char *search; /* substring of any text field */
	const char *sort;   /* field; NULL: the date field */
	int asc;            /* 1: oldest first */
	json_t *eq;         /* field -> value that must match (codes) */
	unsigned limit;     /* 0: 50 */
	unsigned offset;
};
/* {"total": N, "records": [...]} */
int tsync_rec_list(struct tsync_node *n, const struct tsync_kind *k,
		   const struct tsync_rec_filter *f, json_t **out);

/*
 * Every held record that breaks a domain rule (records that came from
 * peers are never refused for these): an array of {kind, id, no, scope,
 * field, message}.
 */
int tsync_rec_check(struct tsync_node *n, json_t **out);

/* Display name of a scope from the offices records, else its last part. */
void tsync_scope_name(struct tsync_node *n, const char *scope, char *out,
		      size_t len);

/*
 * The figures the district publishes, for `scope` (NULL: the node's own)
 * and the period [from, to] (either may be NULL): disputes by category,
 * source and status, mediation success, consultations, petitions and
 * where they went, publicity events and audience, special-population
 * files and visits, risk assessments, meetings, grid reports; with one
 * row per child scope (a street's villages, the district's streets).
 */
int tsync_report(struct tsync_node *n, const char *scope, const char *from,
		 const char *to, json_t **out);

enum { TSYNC_FMT_TEXT = 0, TSYNC_FMT_JSON = 1, TSYNC_FMT_HTML = 2 };
/* Writes a report as text, JSON or one self-contained HTML page. */
int tsync_report_render(const json_t *report, int fmt, FILE *f);

/*
 * Generates a realistic district into a district node: offices, roster and
 * `years` years of records ending at `end_year` for `streets` streets of
 * `villages` villages each, at the rates the district reports, times
 * `scale`.  Deterministic for a seed.
 */
struct tsync_gen_opts {
	unsigned streets, villages, years, end_year, seed;
	double scale;
};
struct tsync_gen_stats {
	uint64_t records, txns;
};
int tsync_generate(struct tsync_node *n, const struct tsync_gen_opts *o,
		   struct tsync_gen_stats *st);

#ifdef __cplusplus
}
#endif
#endif /* TIERSYNC_RECORDS_H */
