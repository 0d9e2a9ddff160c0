/*
 * cmd_net.c - the commands that talk to other nodes: serve and sync.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tiersync/web.h"

int
cmd_serve(struct args *a)
{
	static const char u[] = "tiersync serve NODE_DIR [--listen ADDR:PORT] "
				"[--parent HOST:PORT] [--http ADDR:PORT] "
				"[--quiet]";
	struct tsync_serve_opts o;
	struct tsync_web *web = NULL;
	const char *dir, *http;
	char err[512];
	int rc;

	memset(&o, 0, sizeof(o));
	http = arg_opt(a, "--http");
	o.listen = arg_opt(a, "--listen");
	o.parent = arg_opt(a, "--parent");
	o.quiet = arg_flag(a, "--quiet");
	if ((dir = arg_next(a)) == NULL)
		return usage_error(u, "NODE_DIR is needed");
	if ((rc = arg_done(a, u)) != 0)
		return rc;
	/* The web app runs on its own thread beside the sync loop. */
	rc = tsync_web_start(dir, http, &web, err, sizeof(err));
	if (rc != 0 && !(rc == TSYNC_ENOENT && http == NULL))
		return fail("%s", err);
	if (web != NULL && !o.quiet)
		fprintf(stderr, "web app on http://%s/\n",
			http ? http : "(http_listen)");
	rc = tsync_serve(dir, &o, err, sizeof(err));
	tsync_web_stop(web);
	if (rc != 0)
		return fail("%s", err);
	return EXIT_DONE;
}

int
cmd_sync(struct args *a)
{
	static const char u[] = "tiersync sync NODE_DIR --peer HOST:PORT "
				"[--timeout SECONDS]";
	const char *peer = arg_opt(a, "--peer");
	const char *tmo = arg_opt(a, "--timeout");
	const char *dir = arg_next(a);
	struct tsync_sync_result r;
	unsigned timeout = 600;
	int rc;

	if (tmo != NULL) {
		char *end;
		long v = strtol(tmo, &end, 10);

		if (*end != '\0' || v < 1 || v > 86400)
			return usage_error(u, "--timeout takes 1 to 86400 "
					      "seconds");
		timeout = (unsigned)v;
	}
	if (dir == NULL || peer == NULL)
		return usage_error(u, "NODE_DIR and --peer are needed");
	if ((rc = arg_done(a, u)) != 0)
		return rc;
	rc = tsync_sync(dir, peer, timeout * 1000, &r);
	if (rc == 0) {
		printf("in sync with %s: sent %llu txns, received %llu\n", peer,
		       (unsigned long long)r.sent,
		       (unsigned long long)r.received);
		return EXIT_DONE;
	}
	return fail("sync with %s failed: %s", peer, r.why);
}
