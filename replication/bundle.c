/*
 * bundle.c - sneakernet: one direction of a session, in a file.
 *
 * A bundle is BUNDLE, then CERT, CRL and BATCH frames, then END (see
 * docs/protocol.md, section 7).  It is written and read by the session
 * (session.c) in its bundle modes: export runs a SESS_BUNDLE_OUT session
 * for an office of the target scope, whose input is the --since bundle (its
 * END vv is what the reader holds) and whose output goes to the file;
 * import feeds the file to a SESS_BUNDLE_IN session, which applies each
 * BATCH as a link does.  So the batch builder, the version vector, the
 * frame reader, the caps and the apply path are the link's own, and this
 * file only moves bytes between the session and the file.  Memory is
 * bounded by one frame in and two batches out.
 *
 * Sealed bundles (the default of `tiersync bundle export`) carry the same
 * bytes through seal.c, encrypted for the certificates this node knows of
 * the offices and auditors at or above the target scope, and for itself.
 * Import recognises them by their magic and reads the opened bytes as it
 * reads a plain file.
 */
#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"
#include "node_int.h"
#include "revoke.h"
#include "scope.h"
#include "seal.h"
#include "session.h"

#define CHUNK (64u << 10) /* bytes read from the file at a time */

/* ---- reading frames from a file -------------------------------------- */

struct reader {
	FILE *f;
	struct seal_reader *seal; /* NULL for a plain file */
};

/* Opens a plain or sealed bundle; a sealed one with n's enc.key. */
static int
reader_open(struct reader *r, struct tsync_node *n, const char *path,
	    char *why, size_t len)
{
	char kp[PATH_MAX], kerr[256];
	EVP_PKEY *k;
	int rc;

	memset(r, 0, sizeof(*r));
	if ((r->f = fopen(path, "rb")) == NULL) {
		ts_fmt(why, len, "cannot open %s: %s", path, strerror(errno));
		return TSYNC_ENOENT;
	}
	if (!seal_sniff(r->f))
		return 0;
	ts_fmt(kp, sizeof(kp), "%s/enc.key", n->dir);
	k = keys_enc_load_private(kp, kerr, sizeof(kerr));
	rc = seal_reader_open(r->f, n->id, k, &r->seal, why, len);
	EVP_PKEY_free(k);
	if (rc != 0) {
		char m[320];

		ts_fmt(m, sizeof(m), "%s", why);
		if (rc == TSYNC_ESCOPE)
			ts_fmt(why, len,
			       "%s is a sealed bundle %s: only the offices "
			       "and auditors at or above the scope it was made "
			       "for can open it; ask the sender for one --for "
			       "%s",
			       path, m, n->scope);
		else
			ts_fmt(why, len, "%s is a sealed bundle and %s", path,
			       m);
		fclose(r->f);
		r->f = NULL;
	}
	return rc;
}

static void
reader_close(struct reader *r)
{
	seal_reader_free(r->seal);
	if (r->f != NULL)
		fclose(r->f);
}

/* Up to len bytes into p: the count, 0 at the end, or an error (sealed:
 * TSYNC_ENOENT when cut, TSYNC_EAUTH when a chunk was changed). */
static long
reader_fill(struct reader *r, uint8_t *p, size_t len)
{
	size_t got;

	if (r->seal != NULL)
		return seal_read(r->seal, p, len);
	got = fread(p, 1, len, r->f);
	return got == 0 && ferror(r->f) ? TSYNC_EIO : (long)got;
}

/*
 * Feeds the whole file to s, until it ends, END was read, or the session
 * closes or fails.  Returns 0, or the reader's error (a cut or changed sealed file,
 * a read error).
 */
static int
feed_file(struct sess *s, struct reader *rd, uint8_t *chunk,
	  void (*each)(struct sess *s, void *arg), void *arg)
{
	long got;

	/* Bytes after END are not read (a --since input stays open). */
	while (!sess_closed(s) && !sess_got_end(s)) {
		if ((got = reader_fill(rd, chunk, CHUNK)) < 0)
			return (int)got;
		if (got == 0)
			return 0;
		sess_feed(s, chunk, (size_t)got);
		if (each != NULL)
			each(s, arg); /* the session's actions, as they come */
	}
	return 0;
}

/* ---- recipients of a sealed bundle ------------------------------------ */

struct recips {
	struct seal_recip *r;
	size_t n, cap;
	unsigned readers; /* recipients at or above the scope, self aside */
	int self_reads;   /* the exporter is itself at or above the scope */
};

/* Appends a formatted text to the note in r (cut short when full). */
static void
note_add(struct tsync_bundle_result *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
note_add(struct tsync_bundle_result *r, const char *fmt, ...)
{
	size_t k = strlen(r->note);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->note + k, sizeof(r->note) - k, fmt, ap);
	va_end(ap);
}

static int
recip_add(struct recips *v, uint64_t id, const uint8_t pub[KEYS_ENC_LEN])
{
	size_t i;

	for (i = 0; i < v->n; i++)
		if (v->r[i].node_id == id)
			return 0;
	if (v->n == SEAL_RECIP_MAX)
		return TSYNC_EINVAL;
	if (v->n == v->cap) {
		size_t cap = v->cap ? 2 * v->cap : 16;
		struct seal_recip *p = realloc(v->r, cap * sizeof(*p));

		if (p == NULL)
			return TSYNC_ENOMEM;
		v->r = p;
		v->cap = cap;
	}
	v->r[v->n].node_id = id;
	memcpy(v->r[v->n++].pub, pub, KEYS_ENC_LEN);
	return 1;
}

/*
 * A certificate named with --to: checked against the CA and kept in
 * ts_certs (so later exports find it without --to); it must be one that
 * may read `scope` and can receive a sealed bundle.
 */
static int
recip_file(struct tsync_node *n, const char *path, const char *scope,
	   struct tsync_bundle_result *r)
{
	struct cert_info ci;
	X509 *c = cert_load(path, r->why, sizeof(r->why));
	char *pem = NULL;
	size_t len;
	int rc = TSYNC_EAUTH;

	if (c == NULL)
		return TSYNC_ENOENT;
	if (cert_parse(c, &ci) != 0 || cert_to_pem(c, &pem, &len) != 0 ||
	    certs_add_pem(n, pem, len) != 0)
		ts_fmt(r->why, sizeof(r->why),
		       "--to %s is not a node certificate of this district",
		       path);
	else if (!scope_within(scope, ci.scope))
		ts_fmt(r->why, sizeof(r->why),
		       "--to %s: node %016llx (%s %s) may not read %s", path,
		       (unsigned long long)ci.node_id, ci.scope, ci.role,
		       scope);
	else if (!ci.has_enc)
		ts_fmt(r->why, sizeof(r->why),
		       "--to %s: node %016llx has no encryption key (its "
		       "certificate was issued before sealed bundles)",
		       path, (unsigned long long)ci.node_id);
	else if (crl_revoked_at(n, ci.serial) >= 0)
		ts_fmt(r->why, sizeof(r->why),
		       "--to %s: node %016llx is revoked", path,
		       (unsigned long long)ci.node_id);
	else
		rc = 0;
	OPENSSL_free(pem);
	X509_free(c);
	return rc;
}

/* Every known certificate of an office or auditor at or above `scope`. */
static int
recip_known(struct tsync_node *n, const char *scope, struct recips *v,
	    struct tsync_bundle_result *r)
{
	sqlite3_stmt *s;
	unsigned lacking = 0;
	int rc;

	rc = sqlite3_prepare_v2(n->db, "SELECT node_id FROM ts_certs "
				"ORDER BY scope, node_id", -1, &s, NULL);
	if (rc != SQLITE_OK)
		return node_sqlerr(n, rc, "read certificates");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		uint64_t id = (uint64_t)sqlite3_column_int64(s, 0);
		const struct cert_entry *e = certs_get(n, id);

		if (e == NULL || e->revoked_at >= 0 ||
		    !scope_within(scope, e->info.scope))
			continue;
		if (!e->info.has_enc) {
			note_add(r, "%s%016llx (%s %s)",
				 lacking++ ? ", " : "; not for ",
				 (unsigned long long)id, e->info.scope,
				 e->info.role);
			continue;
		}
		if ((rc = recip_add(v, id, e->info.enc_pub)) < 0)
			break;
		if (id == n->id)
			v->self_reads = 1;
		else
			v->readers += (unsigned)rc;
	}
	sqlite3_finalize(s);
	if (lacking > 0)
		note_add(r, ", whose certificate%s no encryption key "
			 "(issued before sealed bundles: re-issue to include "
			 "them)", lacking == 1 ? " has" : "s have");
	return rc == SQLITE_DONE ? 0 : rc < 0 ? rc : TSYNC_EIO;
}

/*
 * The recipients of a sealed bundle for `scope`: every certificate this
 * node knows (ts_certs, which replicate with the data, plus those named
 * with --to) of an office or auditor whose scope holds `scope`, revoked
 * ones aside; and the exporter itself, which holds every byte anyway and
 * must read the file back for a later --since.
 */
static int
pick_recips(struct tsync_node *n, const char *scope, const char *const *to,
	    struct recips *v, struct tsync_bundle_result *r)
{
	struct cert_info me;
	int rc;

	for (; to != NULL && *to != NULL; to++)
		if ((rc = recip_file(n, *to, scope, r)) != 0)
			return rc;
	if (cert_parse(n->cert, &me) != 0 || !me.has_enc) {
		ts_fmt(r->why, sizeof(r->why),
		       "this node's certificate has no encryption key (it was "
		       "issued before sealed bundles): re-issue it, or "
		       "export --unsealed");
		return TSYNC_EAUTH;
	}
	if ((rc = recip_known(n, scope, v, r)) != 0)
		return rc;
	if (recip_add(v, n->id, me.enc_pub) < 0)
		return TSYNC_ENOMEM;
	if (v->readers == 0 && !v->self_reads) {
		ts_fmt(r->why, sizeof(r->why),
		       "this node knows no certificate with an encryption key "
		       "of an office or auditor at or above %s%s: give the "
		       "recipient's certificate with --to CERT (its node.crt),"
		       " or export --unsealed for debugging",
		       scope, r->note[0] ? " (some lack a key)" : "");
		return TSYNC_ENOENT;
	}
	return 0;
}

/* The note of a sealed export: "sealed for N: id (scope role), ...". */
static void
note_recips(struct tsync_node *n, const struct recips *v,
	    struct tsync_bundle_result *r)
{
	char lack[sizeof(r->note)];
	size_t i;

	ts_fmt(lack, sizeof(lack), "%s", r->note);
	r->note[0] = '\0';
	r->recipients = (unsigned)v->n;
	note_add(r, "sealed for %zu:", v->n);
	for (i = 0; i < v->n; i++) {
		const struct cert_entry *e = certs_get(n, v->r[i].node_id);

		note_add(r, "%s %016llx (%s %s%s)", i ? "," : "",
			 (unsigned long long)v->r[i].node_id,
			 e ? e->info.scope : "?", e ? e->info.role : "?",
			 v->r[i].node_id == n->id ? ", this node" : "");
	}
	note_add(r, "%s", lack);
}

/* ---- export ------------------------------------------------------------ */

struct exporter {
	struct tsync_node *n;
	struct sess *s;
	FILE *f;
	struct seal_writer *seal; /* NULL: --unsealed */
	char why[320];            /* the session's reason, if it failed */
};

/* Writes what the session queued to the file (or the sealer). */
static int
drain(struct exporter *x)
{
	const uint8_t *p;
	size_t len;
	int rc = 0;

	p = sess_pending(x->s, &len);
	if (len == 0)
		return 0;
	if (x->seal != NULL)
		rc = seal_write(x->seal, p, len);
	else if (fwrite(p, 1, len, x->f) != len)
		rc = TSYNC_EIO;
	sess_sent(x->s, len);
	return rc;
}

/* Runs the session's actions; keeps the text of a failure. */
static int
actions(struct exporter *x, uint64_t now)
{
	struct sess_action a;
	int rc = 0;

	while (sess_poll(x->s, now, &a))
		if (a.type == SA_CLOSE && a.code != 0) {
			ts_fmt(x->why, sizeof(x->why), "%s", a.text);
			rc = a.code;
		}
	return rc;
}

/* Takes the END vv of an earlier bundle (--since) as what the reader
 * holds. */
static int
since_vv(struct exporter *x, const char *path, char *why, size_t len)
{
	struct reader rd;
	uint8_t *chunk = malloc(CHUNK);
	int rc;

	if (chunk == NULL)
		return TSYNC_ENOMEM;
	rc = reader_open(&rd, x->n, path, why, len);
	if (rc == 0)
		rc = feed_file(x->s, &rd, chunk, NULL, NULL);
	reader_close(&rd);
	free(chunk);
	if (rc == 0 && (rc = actions(x, ts_now_ms(NULL))) != 0)
		ts_fmt(why, len, "%s: %s", path, x->why);
	else if (rc == 0 && !sess_got_end(x->s)) {
		ts_fmt(why, len, "%s is not a complete bundle (no END frame)",
		       path);
		rc = TSYNC_ECORRUPT;
	} else if (rc != 0 && why[0] == '\0') {
		ts_fmt(why, len, "cannot read %s", path);
	}
	return rc;
}

/* The whole file, in one read transaction: one consistent snapshot. */
static int
write_bundle(struct exporter *x)
{
	uint64_t now = ts_now_ms(NULL);
	int rc;

	if ((rc = ts_store_read_begin(x->n)) != 0)
		return rc;
	rc = sess_bundle_start(x->s);
	while (rc == 0 && !sess_closed(x->s)) {
		size_t len;

		rc = actions(x, now);
		sess_pending(x->s, &len);
		if (rc == 0 && len == 0 && !sess_closed(x->s))
			rc = TSYNC_EINVAL; /* no progress: a bug, not a loop */
		if (rc == 0)
			rc = drain(x);
	}
	if (rc == 0)
		rc = actions(x, now);
	if (rc == 0)
		rc = drain(x);
	ts_store_read_end(x->n);
	if (rc == 0 && x->seal != NULL)
		rc = seal_finish(x->seal);
	return rc;
}

int
tsync_bundle_export_opts(const char *dir, const char *for_scope,
			 const char *out, const struct tsync_bundle_opts *o,
			 struct tsync_bundle_result *r)
{
	static const struct tsync_bundle_opts plain = {NULL, 1, NULL};
	struct exporter x;
	struct recips rv;
	struct sess_cfg cfg;
	struct sess_stats st;
	char tmp[PATH_MAX];
	int rc;

	memset(r, 0, sizeof(*r));
	memset(&x, 0, sizeof(x));
	memset(&rv, 0, sizeof(rv));
	if (o == NULL)
		o = &plain;
	if (!scope_valid(for_scope, 0)) {
		ts_fmt(r->why, sizeof(r->why), "--for '%s' is not a scope path",
		       for_scope);
		return TSYNC_EINVAL;
	}
	if (tsync_node_open(dir, NULL, &x.n) != 0) {
		ts_fmt(r->why, sizeof(r->why), "%s", tsync_node_errmsg(x.n));
		rc = TSYNC_EINVAL;
		goto out;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.node = x.n;
	cfg.mode = SESS_BUNDLE_OUT;
	cfg.for_scope = for_scope;
	cfg.peer_addr = out;
	if ((x.s = sess_new(&cfg, ts_now_ms(NULL))) == NULL) {
		rc = TSYNC_ENOMEM;
		ts_fmt(r->why, sizeof(r->why), "out of memory");
		goto out;
	}
	if (o->since != NULL &&
	    (rc = since_vv(&x, o->since, r->why, sizeof(r->why))) != 0)
		goto out;
	if (!o->unsealed) {
		if ((rc = pick_recips(x.n, for_scope, o->to, &rv, r)) != 0)
			goto out;
		note_recips(x.n, &rv, r);
	}
	ts_fmt(tmp, sizeof(tmp), "%s.tmp", out);
	if ((x.f = fopen(tmp, "wb")) == NULL) {
		ts_fmt(r->why, sizeof(r->why), "cannot create %s: %s", tmp,
		       strerror(errno));
		rc = TSYNC_EIO;
		goto out;
	}
	rc = o->unsealed ? 0 : seal_writer_new(x.f, rv.r, rv.n, &x.seal);
	if (rc == 0)
		rc = write_bundle(&x);
	seal_writer_free(x.seal);
	if (fflush(x.f) != 0 || fsync(fileno(x.f)) != 0)
		rc = rc ? rc : TSYNC_EIO;
	if (fclose(x.f) != 0)
		rc = rc ? rc : TSYNC_EIO;
	if (rc == 0 && rename(tmp, out) != 0)
		rc = TSYNC_EIO;
	if (rc != 0) {
		unlink(tmp);
		ts_fmt(r->why, sizeof(r->why), "cannot write %s: %s", out,
		       x.why[0]	      ? x.why
		       : rc == TSYNC_EIO ? strerror(errno)
					 : tsync_node_errmsg(x.n));
	}
	sess_get_stats(x.s, &st);
	r->txns = st.sent_txns;
out:
	sess_free(x.s);
	free(rv.r);
	tsync_node_close(x.n);
	return rc;
}

int
tsync_bundle_export(const char *dir, const char *for_scope, const char *out,
		    const char *since, struct tsync_bundle_result *r)
{
	struct tsync_bundle_opts o = {since, 1, NULL};

	return tsync_bundle_export_opts(dir, for_scope, out, &o, r);
}

/* ---- import ------------------------------------------------------------ */

/* The session's actions during an import: a failure's text and code,
 * and what a link would log (refusals, evidence, an unsigned END) into the
 * result's note. */
struct import_log {
	struct tsync_bundle_result *r;
	char *text; /* 320 bytes */
	int code;
};

static void
import_actions(struct sess *s, void *arg)
{
	struct import_log *lg = arg;
	struct sess_action a;

	while (sess_poll(s, ts_now_ms(NULL), &a))
		if (a.type == SA_CLOSE && a.code != 0) {
			ts_fmt(lg->text, 320, "%s", a.text);
			lg->code = lg->code ? lg->code : a.code;
		} else if (a.type == SA_LOG) {
			note_add(lg->r, "%s%s", lg->r->note[0] ? "; " : "",
				 a.text);
		}
}

/*
 * A note when the writer's schema is newer than ours (elements 6-8 of
 * BUNDLE; absent before release 0.2.0: protocol 1, schema 1).
 */
static void
note_versions(struct sess *s, struct tsync_bundle_result *r)
{
	const char *rel;
	uint32_t schema;
	unsigned proto;

	sess_peer_versions(s, &proto, &schema, &rel);
	if (schema > SCHEMA_VERSION)
		note_add(r,
			 "%swritten by release %s (schema %u; this node "
			 "has %u): what this schema does not know is kept "
			 "and applied after an upgrade",
			 r->note[0] ? "; " : "", rel, schema, SCHEMA_VERSION);
}

/* r->why after the import failed with rc at byte `at`; `ended`: at END
 * (its count, which `text` states). */
static int
import_why(struct tsync_node *n, const struct reader *rd, const char *file,
	   uint64_t at, int rc, int ended, const char *text,
	   struct tsync_bundle_result *r)
{
	char what[360];
	uint64_t chunk, off;

	if (ended && rc == TSYNC_ECORRUPT) {
		ts_fmt(r->why, sizeof(r->why), "%s", text);
		return rc;
	}
	r->bad_offset = at;
	if (rd->seal != NULL && seal_error(rd->seal, &off, &chunk) != 0) {
		r->bad_offset = off;
		ts_fmt(what, sizeof(what), "sealed bundle %s (chunk %llu)",
		       rc == TSYNC_ENOENT ? "truncated"
					  : "changed or damaged: a chunk "
					    "fails its authentication",
		       (unsigned long long)chunk);
	} else {
		ts_fmt(what, sizeof(what), "%s%s",
		       rc == TSYNC_ENOENT   ? "bundle truncated"
		       : rc == TSYNC_EPROTO ? "corrupt frame"
		       : rc == TSYNC_ENOMEM ? "out of memory"
					    : tsync_node_errmsg(n),
		       rd->seal != NULL ? " in the opened bytes" : "");
	}
	/* What the session found wrong with a corrupt frame, after FILE. */
	ts_fmt(r->why, sizeof(r->why),
	       "%s at byte %llu of %s%s%s%s: the %llu txns before it were "
	       "applied and kept; ask the sender for a new bundle "
	       "(or one --since the last good one)",
	       what, (unsigned long long)r->bad_offset, file,
	       rc == TSYNC_EPROTO && text[0] ? " (" : "",
	       rc == TSYNC_EPROTO ? text : "",
	       rc == TSYNC_EPROTO && text[0] ? ")" : "",
	       (unsigned long long)(r->applied + r->duplicate +
				    r->quarantined));
	return rc == TSYNC_ENOENT || rc == TSYNC_EPROTO || rc == TSYNC_EAUTH
		       ? TSYNC_ECORRUPT
		       : rc;
}

int
tsync_bundle_import(const char *dir, const char *file,
		    struct tsync_bundle_result *r)
{
	struct tsync_node *n = NULL;
	struct sess *s = NULL;
	struct sess_cfg cfg;
	struct sess_stats st;
	struct reader rd;
	char name[PATH_MAX + 16], text[320] = "";
	uint8_t *chunk = NULL;
	int rc;

	memset(r, 0, sizeof(*r));
	memset(&rd, 0, sizeof(rd));
	if (tsync_node_open(dir, NULL, &n) != 0) {
		ts_fmt(r->why, sizeof(r->why), "%s", tsync_node_errmsg(n));
		tsync_node_close(n);
		return TSYNC_EINVAL;
	}
	/* Quarantine records name it "bundle FILE from <exporter id>". */
	ts_fmt(name, sizeof(name), "bundle %s", file);
	memset(&cfg, 0, sizeof(cfg));
	cfg.node = n;
	cfg.mode = SESS_BUNDLE_IN;
	cfg.peer_addr = name;
	rc = reader_open(&rd, n, file, r->why, sizeof(r->why));
	if (rc == 0 && rd.seal != NULL)
		ts_fmt(r->note, sizeof(r->note),
		       "sealed bundle, opened with this node's key");
	if (rc == 0 && ((s = sess_new(&cfg, ts_now_ms(NULL))) == NULL ||
			(chunk = malloc(CHUNK)) == NULL))
		rc = TSYNC_ENOMEM;
	if (rc == 0) {
		struct import_log lg = {r, text, 0};
		int frc = feed_file(s, &rd, chunk, import_actions, &lg);

		import_actions(s, &lg);
		frc = frc ? frc : lg.code;
		if (frc == 0 && !sess_got_end(s))
			frc = TSYNC_ENOENT; /* cut inside or after a frame */
		sess_get_stats(s, &st);
		r->txns = st.batch_txns;
		r->applied = st.recv_txns;
		r->duplicate = st.dup;
		r->quarantined = st.rejected;
		note_versions(s, r);
		if (frc != 0)
			rc = import_why(n, &rd, file, sess_in_offset(s), frc,
					sess_got_end(s), text, r);
	}
	free(chunk);
	sess_free(s);
	reader_close(&rd);
	tsync_node_close(n);
	return rc;
}
