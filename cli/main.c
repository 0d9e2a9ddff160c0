/*
 * main.c - the tiersync command: dispatches to cmd_*.c.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
	"tiersync COMMAND ...\n"
	"  ca init CA_DIR --district NAME [--days N]\n"
	"  ca issue CA_DIR --scope PATH [--role office|auditor] --out NODE_DIR\n"
	"  ca revoke CA_DIR NODE_CERT|NODE_ID [--node DISTRICT_NODE_DIR]\n"
	"  init NODE_DIR [--parent HOST:PORT] [--listen ADDR:PORT]\n"
	"  sql NODE_DIR \"SQL\"        read or write through the node\n"
	"  log NODE_DIR [--limit N]  txns, newest first\n"
	"  status NODE_DIR [--json]  identity, streams, counts\n"
	"  verify NODE_DIR           audit chains, signatures, scopes, tables\n"
	"  digest NODE_DIR [--scope PATH]\n"
	"  serve NODE_DIR [--listen ADDR:PORT] [--parent HOST:PORT] [--quiet]\n"
	"  sync NODE_DIR --peer HOST:PORT [--timeout SECONDS]\n"
	"  bundle export NODE_DIR --for SCOPE --out FILE [--since FILE]\n"
	"  bundle import NODE_DIR FILE\n"
	"  conflicts NODE_DIR [list [--json] | resolve ID (--keep mine|theirs "
	"| --value V)]\n"
	"  version";

struct cmd {
	const char *name;
	int (*fn)(struct args *a);
};

static const struct cmd cmds[] = {
	{"ca", cmd_ca},         {"init", cmd_init},
	{"sql", cmd_sql},       {"log", cmd_log},
	{"status", cmd_status}, {"digest", cmd_digest},
	{"verify", cmd_verify}, {"serve", cmd_serve},
	{"sync", cmd_sync},     {"bundle", cmd_bundle},
	{"conflicts", cmd_conflicts},
};

int
main(int argc, char **argv)
{
	struct args a = {argc, argv, 2};
	size_t i;

	if (argc < 2 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
		printf("%s\n", usage);
		return argc < 2 ? EXIT_USAGE : EXIT_DONE;
	}
	if (strcmp(argv[1], "version") == 0 ||
	    strcmp(argv[1], "--version") == 0) {
		printf("tiersync %s\n", TSYNC_VERSION_STRING);
		return EXIT_DONE;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].fn(&a);
	return usage_error(usage, "unknown command '%s'", argv[1]);
}
