/*
 * cli.h - shared helpers of the tiersync command.  The CLI uses only the
 * public API in include/tiersync/.
 */
#ifndef TSYNC_CLI_H
#define TSYNC_CLI_H

#include <stdio.h>

#include <jansson.h>

#include "tiersync/tiersync.h"

/* Exit codes: 0 done, 1 failed or found faults, 2 bad command line. */
enum { EXIT_DONE = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

struct args {
	int argc;
	char **argv;
	int pos; /* next positional to take */
};

/* Returns the value of --name (or NULL), removing it from argv. */
const char *arg_opt(struct args *a, const char *name);
/* Returns 1 if the flag --name is present, removing it. */
int arg_flag(struct args *a, const char *name);
/* Next positional argument, or NULL. */
const char *arg_next(struct args *a);
/* Fails with a usage message if unknown options or extra args remain. */
int arg_done(struct args *a, const char *usage);

int usage_error(const char *usage, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Opens a node or prints why not. */
struct tsync_node *open_node(const char *dir);
/*
 * JSON output, built with jansson: a string (NULL gives ""), the first n
 * bytes of s as a string, a blob as {"blob":"<hex>"}, and an unsigned
 * number.  Bytes that are not UTF-8 become U+FFFD, so the output is always
 * JSON.  Each returns a new reference, or NULL if memory ran out (json_pack
 * "o" fails on NULL, so these can go straight into it).
 */
json_t *jtext(const char *s);
json_t *jtextn(const char *s, size_t n);
json_t *jblob(const void *p, size_t n);
json_t *juint(uint64_t v);
/*
 * Prints v on one line (compact, keys in insertion order) to standard
 * output and drops the reference; NULL means memory ran out.  Returns
 * EXIT_DONE or EXIT_FAIL (with a message).
 */
int jprint(json_t *v);

int cmd_ca(struct args *a);
int cmd_init(struct args *a);
int cmd_sql(struct args *a);
int cmd_log(struct args *a);
int cmd_status(struct args *a);
int cmd_digest(struct args *a);
int cmd_verify(struct args *a);
int cmd_serve(struct args *a);
int cmd_sync(struct args *a);
int cmd_bundle(struct args *a);
int cmd_conflicts(struct args *a);
/* cmd_records.c: `tiersync KIND VERB ...` for every record kind. */
int cmd_record(struct args *a);
/* Prints the help of a record kind; -1 if `name` is none. */
int cmd_help_kind(const char *name);
int cmd_report(struct args *a);
int cmd_check(struct args *a);
int cmd_generate(struct args *a);
int cmd_demo(struct args *a);
int cmd_user(struct args *a);

#endif
