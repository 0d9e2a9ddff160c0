/*
 * fuzz_common.h - helpers shared by the libFuzzer targets: a temporary
 * directory made once per process (removed at exit), identities issued
 * by a throwaway district CA, and DER-to-PEM wrapping.
 *
 * Everything here runs in LLVMFuzzerInitialize or at exit, never per
 * input, and aborts on failure: a fuzzer that cannot set up must not run.
 */
#ifndef TSYNC_FUZZ_COMMON_H
#define TSYNC_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>

#include "tiersync/tiersync.h"

static char fz_dir[512];

static inline void
fz_cleanup(void)
{
	char cmd[600];

	if (fz_dir[0] == '\0' || getenv("TSYNC_FUZZ_KEEP") != NULL)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fz_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz: cannot remove %s\n", fz_dir);
}

/* The per-process scratch directory, made on first use. */
static inline const char *
fz_root(void)
{
	const char *tmp = getenv("TMPDIR");

	if (fz_dir[0] == '\0') {
		snprintf(fz_dir, sizeof(fz_dir), "%s/tsync-fuzz-XXXXXX",
			 tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
		if (mkdtemp(fz_dir) == NULL) {
			perror("fuzz: mkdtemp");
			abort();
		}
		atexit(fz_cleanup);
	}
	return fz_dir;
}

/* Path of `name` inside the scratch directory, into out. */
static inline const char *
fz_path(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", fz_root(), name);
	return out;
}

/* Makes the CA (once) and an initialised node directory `name`. */
static inline void
fz_make_node(const char *name, const char *scope, const char *role)
{
	char ca[600], nd[600], err[512];

	fz_path(ca, sizeof(ca), "ca");
	fz_path(nd, sizeof(nd), name);
	if (access(ca, F_OK) != 0 &&
	    tsync_ca_init(ca, "gangzha", 3650, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz: ca init: %s\n", err);
		abort();
	}
	if (tsync_ca_issue(ca, scope, role, 3650, nd, err, sizeof(err)) != 0 ||
	    tsync_node_init(nd, NULL, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz: node %s: %s\n", name, err);
		abort();
	}
}

/* Makes and opens node `name`. */
static inline struct tsync_node *
fz_open_node(const char *name, const char *scope, const char *role)
{
	struct tsync_node *n = NULL;
	char nd[600];

	fz_make_node(name, scope, role);
	if (tsync_node_open(fz_path(nd, sizeof(nd), name), NULL, &n) != 0) {
		fprintf(stderr, "fuzz: open %s: %s\n", name,
			tsync_node_errmsg(n));
		abort();
	}
	return n;
}

static inline void
fz_sql(struct tsync_node *n, const char *sql)
{
	if (tsync_node_exec(n, sql, NULL, NULL) != 0) {
		fprintf(stderr, "fuzz: sql: %s\n", tsync_node_errmsg(n));
		abort();
	}
}

/*
 * Wraps DER bytes as PEM with `label` ("CERTIFICATE", "X509 CRL") into a
 * malloc'd buffer, so a fuzzer can mutate the DER rather than base64.
 * Returns NULL when memory runs out.
 */
static inline char *
fz_pem(const uint8_t *der, size_t n, const char *label, size_t *len)
{
	size_t b64 = 4 * ((n + 2) / 3), cap = b64 + b64 / 64 + 2 * 64 + 8;
	char *p = malloc(cap), *q;
	size_t i;

	if (p == NULL)
		return NULL;
	q = p + snprintf(p, cap, "-----BEGIN %s-----\n", label);
	for (i = 0; i < n; i += 48) {
		size_t k = n - i < 48 ? n - i : 48;

		q += EVP_EncodeBlock((unsigned char *)q, der + i, (int)k);
		*q++ = '\n';
	}
	q += snprintf(q, cap - (size_t)(q - p), "-----END %s-----\n", label);
	*len = (size_t)(q - p);
	return p;
}

#endif
