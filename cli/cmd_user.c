/*
 * cmd_user.c - `tiersync user add|passwd|disable|enable|role|remove|list
 * NODE_DIR [NAME]`: the node's local accounts for the web app.  A change to an
 * account ends its open sessions in the web app at their next request.
 * Passwords are read from standard input (the first line), never from
 * the command line, where other users of the PC could see them.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cli.h"
#include "tiersync/web.h"

static const char usage[] =
	"tiersync user add NODE_DIR NAME --role viewer|clerk|lawyer|officer|"
	"admin   (password on stdin)\n"
	"  tiersync user passwd NODE_DIR NAME    (new password on stdin)\n"
	"  tiersync user disable NODE_DIR NAME\n"
	"  tiersync user enable NODE_DIR NAME    (and unlock)\n"
	"  tiersync user role NODE_DIR NAME --role viewer|clerk|lawyer|officer|"
	"admin\n"
	"  tiersync user remove NODE_DIR NAME\n"
	"  tiersync user list NODE_DIR";

static int
read_password(char *pw, size_t len)
{
	size_t n;

	if (isatty(0))
		fprintf(stderr, "password (at least 8 characters): ");
	if (fgets(pw, (int)len, stdin) == NULL)
		return -1;
	n = strcspn(pw, "\r\n");
	pw[n] = '\0';
	return 0;
}

static int
list_cb(void *arg, const char *name, const char *role, int disabled,
	int locked)
{
	(void)arg;
	printf("%-20s %-8s%s%s\n", name, role, disabled ? " disabled" : "",
	       locked ? " locked" : "");
	return 0;
}

int
cmd_user(struct args *a)
{
	const char *verb = arg_next(a), *role = arg_opt(a, "--role");
	const char *dir = arg_next(a), *name = arg_next(a);
	char pw[256], err[512];
	int rc;

	if (verb == NULL || dir == NULL)
		return usage_error(usage, "give a verb and NODE_DIR");
	if (arg_done(a, usage) != 0)
		return EXIT_USAGE;
	if (strcmp(verb, "list") == 0) {
		if (tsync_user_list(dir, list_cb, NULL, err, sizeof(err)) != 0)
			return fail("%s", err);
		return EXIT_DONE;
	}
	if (name == NULL)
		return usage_error(usage, "give the account's NAME");
	if (strcmp(verb, "disable") == 0)
		rc = tsync_user_disable(dir, name, err, sizeof(err));
	else if (strcmp(verb, "enable") == 0)
		rc = tsync_user_enable(dir, name, err, sizeof(err));
	else if (strcmp(verb, "remove") == 0)
		rc = tsync_user_remove(dir, name, err, sizeof(err));
	else if (strcmp(verb, "role") == 0) {
		if (role == NULL)
			return usage_error(usage, "give --role");
		rc = tsync_user_role(dir, name, role, err, sizeof(err));
	}
	else if (strcmp(verb, "add") == 0 || strcmp(verb, "passwd") == 0) {
		if (strcmp(verb, "add") == 0 && role == NULL)
			return usage_error(usage, "give --role");
		if (read_password(pw, sizeof(pw)) != 0)
			return fail("no password on standard input");
		rc = strcmp(verb, "add") == 0
			     ? tsync_user_add(dir, name, role, pw, err,
					      sizeof(err))
			     : tsync_user_passwd(dir, name, pw, err,
						 sizeof(err));
		OPENSSL_cleanse(pw, sizeof(pw));
	} else
		return usage_error(usage, "unknown verb '%s'", verb);
	if (rc != 0)
		return fail("%s", err);
	printf("account %s: %s\n", name, verb);
	return EXIT_DONE;
}
