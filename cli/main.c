/*
 * main.c - the tiersync command: dispatches to cmd_*.c.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "tiersync/records.h"

static const char usage[] =
	"tiersync COMMAND ...\n"
	"  ca init CA_DIR --district NAME [--days N]\n"
	"  ca issue CA_DIR --scope PATH [--role office|auditor] --out NODE_DIR\n"
	"  ca revoke CA_DIR NODE_CERT|NODE_ID [--node DISTRICT_NODE_DIR]\n"
	"            [--cut SCOPE=SEQ[,SCOPE=SEQ...]]\n"
	"  init NODE_DIR [--parent HOST:PORT] [--listen ADDR:PORT]\n"
	"  sql NODE_DIR \"SQL\"        read or write through the node\n"
	"  log NODE_DIR [--limit N]  txns, newest first\n"
	"  status NODE_DIR [--json]  identity, streams, counts, evidence\n"
	"  verify NODE_DIR [--receipts]\n"
	"                            audit chains, signatures, scopes, tables,\n"
	"                            equivocation evidence; how far receipts\n"
	"                            witness each stream\n"
	"  digest NODE_DIR [--scope PATH]\n"
	"  serve NODE_DIR [--listen ADDR:PORT] [--parent HOST:PORT] [--http ADDR:PORT] [--quiet]\n"
	"  sync NODE_DIR --peer HOST:PORT [--timeout SECONDS]\n"
	"  bundle export NODE_DIR --for SCOPE --out FILE [--since FILE]\n"
	"                [--to CERT]... [--unsealed]\n"
	"  bundle import NODE_DIR FILE\n"
	"  conflicts NODE_DIR [list [--json] | resolve ID (--keep mine|theirs "
	"| --value V)]\n"
	"  version\n"
	"\n"
	"records of the three offices (tiersync help KIND for the fields):\n"
	"  office|staff|dispute|mediation|consult|petition|event|person|visit|"
	"risk|meeting|grid\n"
	"       add|list|show|update NODE_DIR ...\n"
	"  dispute mediate|close|refer, petition route|close, person visit,\n"
	"  grid report|convert              the workflow steps\n"
	"  report NODE_DIR [--scope PATH] [--from DATE] [--to DATE]\n"
	"         [--format text|json|html] [--out FILE]\n"
	"  check NODE_DIR [--json]    held records that break a rule\n"
	"  generate NODE_DIR [--scale X] [--seed N] [--years N]\n"
	"  demo [DIR] [--stay]        a whole district on this machine\n"
	"  user add|passwd|disable|enable|role|remove|list NODE_DIR [NAME]\n"
	"       [--role ROLE]\n"
	"                             web app accounts (password on stdin)\n"
	"  help [COMMAND]";

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
	{"conflicts", cmd_conflicts}, {"report", cmd_report},
	{"check", cmd_check},   {"generate", cmd_generate},
	{"demo", cmd_demo},     {"user", cmd_user},
};

/* Prints the usage lines of one command; 0 if it has none. */
static int
help_lines(const char *cmd)
{
	const char *p = usage;
	size_t n = strlen(cmd);
	int hit = 0;

	while (*p != '\0') {
		const char *e = strchr(p, '\n');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		if (len > n + 2 && strncmp(p + 2, cmd, n) == 0 &&
		    (p[n + 2] == ' ' || p[n + 2] == '\n')) {
			printf("%.*s\n", (int)len, p);
			hit = 1;
		}
		p += len + (e != NULL);
	}
	return hit;
}

int
main(int argc, char **argv)
{
	struct args a = {argc, argv, 2};
	size_t i;

	if (argc >= 3 && strcmp(argv[1], "help") == 0) {
		if (cmd_help_kind(argv[2]) == 0)
			return EXIT_DONE;
		if (help_lines(argv[2]))
			return EXIT_DONE;
		return usage_error(usage, "no help for '%s'", argv[2]);
	}
	if (argc >= 2 && tsync_kind_find(argv[1]) != NULL &&
	    strchr(argv[1], '_') == NULL)
		return cmd_record(&a);
	if (argc < 2 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
		printf("%s\n", usage);
		return argc < 2 ? EXIT_USAGE : EXIT_DONE;
	}
	if (strcmp(argv[1], "version") == 0 ||
	    strcmp(argv[1], "--version") == 0) {
		printf("tiersync %s (protocol %d, schema %d)\n",
		       TSYNC_VERSION_STRING, TSYNC_PROTOCOL_VERSION,
		       TSYNC_SCHEMA_VERSION);
		return EXIT_DONE;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].fn(&a);
	return usage_error(usage, "unknown command '%s'", argv[1]);
}
