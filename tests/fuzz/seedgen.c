/*
 * seedgen.c - writes the seed corpora of the fuzz targets from a small
 * real district: `tsync_fuzz_seedgen OUTDIR` makes a CA, a street and a
 * village with a few rows, revokes a third node, exports bundles from the
 * village and runs a session between the two, and writes into
 * OUTDIR/{frame,txn,session,bundle,cert,crl}/ what the targets take:
 * frame bodies, txn bodies, the village's side of a session after its
 * handshake (with the steering byte of fuzz_session.c in front), bundle
 * files, certificates and the revocation list (DER).
 *
 * The seeds are signed by a CA made here, not by the one each target
 * makes, so they reach the signature checks but not past them.  They are
 * committed in tests/fuzz/corpus/; run this again (scripts/fuzz.sh
 * --seeds) only to refresh them.
 */
#include "fuzz_common.h"

#include <errno.h>
#include <sys/stat.h>

#include <openssl/pem.h>

#include "frame.h"
#include "keys.h"
#include "revoke.h"
#include "session.h"

static const char *out_dir;
static unsigned nwritten;

static void
put(const char *kind, const char *name, const void *p, size_t n)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", out_dir, kind);
	if (mkdir(path, 0755) != 0 && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s/%s", out_dir, kind, name);
	if ((f = fopen(path, "wb")) == NULL || fwrite(p, 1, n, f) != n ||
	    fclose(f) != 0) {
		perror(path);
		exit(1);
	}
	nwritten++;
}

static uint8_t *
slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p = NULL;
	long len;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0 || (p = malloc((size_t)len + 1)) == NULL ||
	    fread(p, 1, (size_t)len, f) != (size_t)len) {
		fprintf(stderr, "seedgen: cannot read %s\n", path);
		exit(1);
	}
	fclose(f);
	*n = (size_t)len;
	return p;
}

/* Frame bodies and txn bodies of a bundle file. */
static void
split_bundle(const uint8_t *p, size_t n, const char *tag)
{
	const uint8_t *body;
	size_t len, used, off = 0;
	unsigned k = 0, t = 0;
	char name[64];

	while (frame_next(p + off, n - off, &body, &len, &used) == 1) {
		struct frame f;
		const msgpack_object *a;
		uint32_t cnt, i;

		snprintf(name, sizeof(name), "%s-%02u", tag, k++);
		put("frame", name, body, len);
		if (frame_decode(&f, body, len) == 0 && f.type == WIRE_BATCH &&
		    frame_arr(&f, 2, &a, &cnt) == 0)
			for (i = 0; i + 1 < cnt && t < 8; i += 2) {
				snprintf(name, sizeof(name), "%s-%02u", tag,
					 t++);
				put("txn", name, a[i].via.bin.ptr,
				    a[i].via.bin.size);
			}
		frame_done(&f);
		off += used;
	}
}

static void
cert_der(const char *path, const char *name)
{
	char err[256];
	unsigned char *der = NULL;
	X509 *c = cert_load(path, err, sizeof(err));
	int n;

	if (c == NULL || (n = i2d_X509(c, &der)) <= 0) {
		fprintf(stderr, "seedgen: %s: %s\n", path, err);
		exit(1);
	}
	put("cert", name, der, (size_t)n);
	OPENSSL_free(der);
	X509_free(c);
}

static void
crl_der(struct tsync_node *n)
{
	unsigned char *der = NULL;
	X509_CRL *c;
	size_t len;
	char *pem;
	BIO *b;
	int k;

	if (crl_pem(n, &pem, &len) != 0) {
		fprintf(stderr, "seedgen: the village holds no CRL\n");
		exit(1);
	}
	put("crl", "pem", pem, len);
	b = BIO_new_mem_buf(pem, (int)len);
	c = b ? PEM_read_bio_X509_CRL(b, NULL, NULL, NULL) : NULL;
	if (c == NULL || (k = i2d_X509_CRL(c, &der)) <= 0)
		exit(1);
	put("crl", "der", der, (size_t)k);
	OPENSSL_free(der);
	X509_CRL_free(c);
	BIO_free(b);
	free(pem);
}

/* Skips the first `frames` frames of p[0..n). */
static size_t
skip_frames(const uint8_t *p, size_t n, int frames)
{
	const uint8_t *body;
	size_t len, used, off = 0;

	while (frames-- > 0 &&
	       frame_next(p + off, n - off, &body, &len, &used) == 1)
		off += used;
	return off;
}

/* The village's stream to the street after its HELLO and VV. */
static void
session_seed(struct tsync_node *street, struct tsync_node *village)
{
	struct sess_cfg c;
	struct sess *a, *b;
	struct sess_action act;
	struct ts_buf from_b;
	int rounds, moved = 1;
	size_t off;

	memset(&c, 0, sizeof(c));
	c.one_shot = 1;
	c.batch_txns = 2;
	c.node = street;
	a = sess_new(&c, 0);
	c.node = village;
	b = sess_new(&c, 0);
	ts_buf_init(&from_b, NULL, 0);
	for (rounds = 0; moved && rounds < 1000; rounds++) {
		const uint8_t *p;
		size_t n;

		moved = 0;
		while (sess_poll(a, 0, &act) || sess_poll(b, 0, &act))
			;
		p = sess_pending(a, &n);
		if (n > 0) {
			sess_feed(b, p, n);
			sess_sent(a, n);
			moved = 1;
		}
		p = sess_pending(b, &n);
		if (n > 0) {
			ts_buf_put(&from_b, p, n);
			sess_feed(a, p, n);
			sess_sent(b, n);
			moved = 1;
		}
	}
	off = skip_frames(from_b.p, from_b.len, 2);
	if (off >= from_b.len) {
		fprintf(stderr, "seedgen: the session sent nothing\n");
		exit(1);
	}
	/* Steering byte 0: all at once; 0x13: 3-byte chunks, 1.5 s apart. */
	from_b.p[off - 1] = 0x00;
	put("session", "sync", from_b.p + off - 1, from_b.len - off + 1);
	from_b.p[off - 1] = 0x13;
	put("session", "sync-trickle", from_b.p + off - 1,
	    from_b.len - off + 1);
	ts_buf_free(&from_b);
	sess_free(a);
	sess_free(b);
}

int
main(int argc, char **argv)
{
	struct tsync_bundle_result r;
	struct tsync_node *street, *village;
	char ca[600], sd[600], vd[600], gone[600], b1[600], b2[600];
	char err[512];
	uint8_t *p;
	size_t n;

	if (argc != 2) {
		fprintf(stderr, "usage: tsync_fuzz_seedgen OUTDIR\n");
		return 2;
	}
	out_dir = argv[1];
	if (mkdir(out_dir, 0755) != 0 && errno != EEXIST) {
		perror(out_dir);
		return 1;
	}
	fz_make_node("street", "gangzha/qinzao", "office");
	fz_make_node("village", "gangzha/qinzao/feiqiao", "office");
	fz_make_node("gone", "gangzha/qinzao/tangzha", "office");
	fz_path(ca, sizeof(ca), "ca");
	fz_path(sd, sizeof(sd), "street");
	fz_path(vd, sizeof(vd), "village");
	fz_path(gone, sizeof(gone), "gone/node.crt");
	if (tsync_ca_revoke(ca, gone, vd, err, sizeof(err)) != 0) {
		fprintf(stderr, "seedgen: revoke: %s\n", err);
		return 1;
	}
	if (tsync_node_open(vd, NULL, &village) != 0)
		return 1;
	fz_sql(village, "INSERT INTO cases(id, scope, title) VALUES"
			"('c1', 'gangzha/qinzao/feiqiao', 'fence'),"
			"('c2', 'gangzha/qinzao/feiqiao', 'water')");
	fz_sql(village, "UPDATE cases SET title = 'wall' WHERE id = 'c1'");
	fz_sql(village, "DELETE FROM cases WHERE id = 'c2'");
	tsync_node_close(village);

	fz_path(b1, sizeof(b1), "one.bundle");
	fz_path(b2, sizeof(b2), "two.bundle");
	if (tsync_bundle_export(vd, "gangzha/qinzao", b1, NULL, &r) != 0) {
		fprintf(stderr, "seedgen: export: %s\n", r.why);
		return 1;
	}
	if (tsync_node_open(vd, NULL, &village) != 0)
		return 1;
	fz_sql(village, "INSERT INTO cases(id, scope, title, notes) VALUES"
			"('c3', 'gangzha/qinzao/feiqiao', '邻里纠纷', x'00ff')");
	tsync_node_close(village);
	if (tsync_bundle_export(vd, "gangzha/qinzao", b2, b1, &r) != 0) {
		fprintf(stderr, "seedgen: export: %s\n", r.why);
		return 1;
	}
	p = slurp(b1, &n);
	put("bundle", "full", p, n);
	split_bundle(p, n, "full");
	free(p);
	p = slurp(b2, &n);
	put("bundle", "since", p, n);
	split_bundle(p, n, "since");
	free(p);

	cert_der(fz_path(ca, sizeof(ca), "ca/ca.crt"), "ca");
	cert_der(fz_path(sd, sizeof(sd), "street/node.crt"), "street");
	cert_der(gone, "gone");

	if (tsync_node_open(fz_path(sd, sizeof(sd), "street"), NULL,
			    &street) != 0 ||
	    tsync_node_open(fz_path(vd, sizeof(vd), "village"), NULL,
			    &village) != 0)
		return 1;
	crl_der(village);
	session_seed(street, village);
	tsync_node_close(street);
	tsync_node_close(village);
	printf("seedgen: %u files in %s\n", nwritten, out_dir);
	return 0;
}
