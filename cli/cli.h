/*
 * cli.h - shared helpers of the tiersync command.  The CLI uses only the
 * public API in include/tiersync/.
 */
#ifndef TSYNC_CLI_H
#define TSYNC_CLI_H

#include <stdio.h>

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
 * JSON output: a string (NULL prints ""), the first n bytes of s as a
 * string, and a blob as {"blob":"<hex>"}.  Control characters are escaped
 * and bytes that are not UTF-8 become U+FFFD, so the output is always JSON.
 */
void json_str(FILE *f, const char *s);
void json_strn(FILE *f, const char *s, size_t n);
void json_hex(FILE *f, const void *p, size_t n);

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
