/*
 * ca.c - the district certificate authority: `tiersync ca init` and
 * `tiersync ca issue`.  A CA directory holds ca.key (0600), ca.crt and
 * issued/<node-id>.crt, a copy of every certificate it signed.  An issued
 * node directory gets node.key (Ed25519, signs), enc.key (X25519, opens
 * sealed bundles; both 0600), node.crt (binding both public keys) and a
 * copy of ca.crt.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "keys.h"
#include "scope.h"
#include "tiersync/tiersync.h"
#include "util.h"

/* What `ca issue` writes into a node directory. */
static const char *const node_files[] = {"node.key", "enc.key", "node.crt",
					 "ca.crt"};
#define NFILES (sizeof(node_files) / sizeof(node_files[0]))

static int
ensure_dir(const char *dir, char *err, size_t len)
{
	if (mkdir(dir, 0700) == 0 || errno == EEXIST)
		return 0;
	ts_fmt(err, len, "cannot create directory %s: %s", dir,
	       strerror(errno));
	return TSYNC_EIO;
}

static int
exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

int
tsync_ca_init(const char *ca_dir, const char *district, int days, char *err,
	      size_t errlen)
{
	char path[PATH_MAX];
	EVP_PKEY *key = NULL;
	X509 *crt = NULL;
	int rc;

	if (!scope_valid(district, 0) || strchr(district, '/') != NULL) {
		ts_fmt(err, errlen,
		       "district '%s' must be one lower-case word "
		       "(a-z, 0-9, - or _), e.g. gangzha",
		       district);
		return TSYNC_EINVAL;
	}
	if ((rc = ensure_dir(ca_dir, err, errlen)) != 0)
		return rc;
	ts_fmt(path, sizeof(path), "%s/ca.key", ca_dir);
	if (exists(path)) {
		ts_fmt(err, errlen, "%s already holds a CA; nothing changed",
		       ca_dir);
		return TSYNC_EEXIST;
	}
	if (keys_generate(&key) != 0 ||
	    (crt = cert_make_ca(key, district, days)) == NULL) {
		ts_fmt(err, errlen, "cannot make the CA key and certificate");
		rc = TSYNC_ENOMEM;
		goto out;
	}
	if ((rc = keys_save_private(key, path, err, errlen)) != 0)
		goto out;
	ts_fmt(path, sizeof(path), "%s/ca.crt", ca_dir);
	if ((rc = cert_save(crt, path, err, errlen)) != 0)
		goto out;
	ts_fmt(path, sizeof(path), "%s/issued", ca_dir);
	rc = ensure_dir(path, err, errlen);
out:
	EVP_PKEY_free(key);
	X509_free(crt);
	return rc;
}

static int
copy_file(const char *from, const char *to, char *err, size_t len)
{
	X509 *c = cert_load(from, err, len);
	int rc;

	if (c == NULL)
		return TSYNC_EIO;
	rc = cert_save(c, to, err, len);
	X509_free(c);
	return rc;
}

static int
issue(const char *ca_dir, const struct cert_info *want, int days,
      const char *out_dir, char *err, size_t errlen)
{
	char path[PATH_MAX], idhex[17];
	EVP_PKEY *ca_key = NULL, *key = NULL, *enc = NULL;
	X509 *ca = NULL, *crt = NULL;
	struct cert_info ci = *want;
	uint64_t serial;
	int rc = TSYNC_EIO, created = 0;

	ts_fmt(path, sizeof(path), "%s/ca.key", ca_dir);
	if ((ca_key = keys_load_private(path, err, errlen)) == NULL)
		goto out;
	ts_fmt(path, sizeof(path), "%s/ca.crt", ca_dir);
	if ((ca = cert_load(path, err, errlen)) == NULL)
		goto out;
	X509_NAME_get_text_by_NID(X509_get_subject_name(ca),
				  NID_organizationName, ci.district,
				  sizeof(ci.district));
	scope_district(want->scope, idhex, sizeof(idhex));
	if (strcmp(idhex, ci.district) != 0) {
		ts_fmt(err, errlen,
		       "scope %s is not inside district %s of this CA",
		       want->scope, ci.district);
		rc = TSYNC_ESCOPE;
		goto out;
	}
	if (keys_generate(&key) != 0 || keys_enc_generate(&enc) != 0 ||
	    keys_enc_public(enc, ci.enc_pub) != 0 ||
	    RAND_bytes((unsigned char *)&serial, sizeof(serial)) != 1) {
		ts_fmt(err, errlen, "cannot generate a key");
		rc = TSYNC_ENOMEM;
		goto out;
	}
	ci.node_id = keys_node_id(key);
	ci.has_enc = 1;
	crt = cert_make_node(key, &ci, ca, ca_key, days,
			     serial & 0x7fffffffffffffffULL);
	if (crt == NULL) {
		ts_fmt(err, errlen, "cannot sign the node certificate");
		goto out;
	}
	if ((rc = ensure_dir(out_dir, err, errlen)) != 0)
		goto out;
	created = 1;
	ts_fmt(path, sizeof(path), "%s/node.key", out_dir);
	if ((rc = keys_save_private(key, path, err, errlen)) != 0)
		goto out;
	ts_fmt(path, sizeof(path), "%s/enc.key", out_dir);
	if ((rc = keys_save_private(enc, path, err, errlen)) != 0)
		goto out;
	ts_fmt(path, sizeof(path), "%s/node.crt", out_dir);
	if ((rc = cert_save(crt, path, err, errlen)) != 0)
		goto out;
	ts_fmt(path, sizeof(path), "%s/ca.crt", ca_dir);
	{
		char to[PATH_MAX];

		ts_fmt(to, sizeof(to), "%s/ca.crt", out_dir);
		if ((rc = copy_file(path, to, err, errlen)) != 0)
			goto out;
	}
	id_format(ci.node_id, idhex);
	ts_fmt(path, sizeof(path), "%s/issued/%s.crt", ca_dir, idhex);
	rc = cert_save(crt, path, err, errlen);
out:
	if (rc != 0 && created) {
		/* Leave nothing half-issued behind. */
		size_t i;

		for (i = 0; i < NFILES; i++) {
			ts_fmt(path, sizeof(path), "%s/%s", out_dir,
			       node_files[i]);
			unlink(path);
		}
	}
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(key);
	EVP_PKEY_free(enc);
	X509_free(ca);
	X509_free(crt);
	return rc;
}

int
tsync_ca_issue(const char *ca_dir, const char *scope, const char *role,
	       int days, const char *out_dir, char *err, size_t errlen)
{
	struct cert_info ci;
	char path[PATH_MAX];

	memset(&ci, 0, sizeof(ci));
	if (role == NULL)
		role = "office";
	if (strcmp(role, "office") != 0 && strcmp(role, "auditor") != 0) {
		ts_fmt(err, errlen, "role '%s' must be office or auditor",
		       role);
		return TSYNC_EINVAL;
	}
	if (!scope_valid(scope, 0)) {
		ts_fmt(err, errlen,
		       "scope '%s' is not a scope path: lower-case "
		       "segments separated by /, e.g. gangzha/qinzao/feiqiao",
		       scope);
		return TSYNC_EINVAL;
	}
	{
		size_t i;

		for (i = 0; i < NFILES; i++) {
			ts_fmt(path, sizeof(path), "%s/%s", out_dir,
			       node_files[i]);
			if (exists(path)) {
				ts_fmt(err, errlen,
				       "%s already holds a node identity (%s);"
				       " nothing changed",
				       out_dir, node_files[i]);
				return TSYNC_EEXIST;
			}
		}
	}
	ts_fmt(ci.scope, sizeof(ci.scope), "%s", scope);
	ts_fmt(ci.role, sizeof(ci.role), "%s", role);
	return issue(ca_dir, &ci, days, out_dir, err, errlen);
}
