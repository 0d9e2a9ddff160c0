/*
 * test_session.c - two session state machines joined by in-memory pipes
 * (no sockets, no clock): catch-up both ways, three tiers through a relay,
 * visibility, idempotence, bounded memory, and every error path.
 */
#include "check.h"
#include "apply.h"
#include "faultvfs.h"
#include "frame.h"
#include "node_int.h"
#include "pair.h"
#include "receipt.h"
#include "revoke.h"
#include "session.h"
#include "testnode.h"
#include "txn.h"

static void
digests_equal(struct tsync_node *a, struct tsync_node *b, const char *scope)
{
	char da[65], db[65];

	CHECK_EQ(tsync_node_digest(a, scope, da), 0);
	CHECK_EQ(tsync_node_digest(b, scope, db), 0);
	CHECK_STR(da, db);
}

/* Feeds one raw frame to a fresh session and returns its close text. */
static void
bad_input(struct tsync_node *n, const uint8_t *p, size_t len,
	  const char *expect)
{
	struct sess_cfg c = {0};
	struct sess_action a;
	struct sess *s;
	int closed = 0;

	c.node = n;
	s = sess_new(&c, 0);
	sess_feed(s, p, len);
	while (sess_poll(s, 0, &a))
		if (a.type == SA_CLOSE) {
			closed = 1;
			if (strstr(a.text, expect) == NULL)
				fprintf(stderr, "close text '%s' lacks '%s'\n",
					a.text, expect);
			CHECK(strstr(a.text, expect) != NULL);
		}
	CHECK(closed);
	CHECK(sess_failed(s));
	sess_free(s);
}

/*
 * A HELLO as release `rel` sends it: pmin in element 1, the link schema
 * in element 5; pmax, schema and rel in elements 7-9 unless rel is NULL
 * (release 0.1.0's seven elements); `extra` more elements after them, as
 * a later release may add.
 */
static size_t
hello_as(uint8_t *out, uint32_t pmin, uint32_t link, uint32_t pmax,
	 uint32_t schema, const char *rel, int extra)
{
	struct ts_buf b;
	msgpack_packer pk;
	size_t f, n;
	int i;

	ts_buf_init(&b, NULL, 0);
	f = frame_begin(&b, &pk);
	msgpack_pack_array(&pk, (rel != NULL ? 10 : 7) + (size_t)extra);
	msgpack_pack_uint8(&pk, WIRE_HELLO);
	msgpack_pack_uint32(&pk, pmin);
	msgpack_pack_uint64(&pk, 42);
	msgpack_pack_str_with_body(&pk, "gangzha/x", 9);
	msgpack_pack_str_with_body(&pk, "office", 6);
	msgpack_pack_uint32(&pk, link);
	msgpack_pack_uint8(&pk, 0);
	if (rel != NULL) {
		msgpack_pack_uint32(&pk, pmax);
		msgpack_pack_uint32(&pk, schema);
		msgpack_pack_str_with_body(&pk, rel, strlen(rel));
	}
	for (i = 0; i < extra; i++)
		msgpack_pack_str_with_body(&pk, "later", 5);
	frame_end(&b, f);
	memcpy(out, b.p, b.len);
	n = b.len;
	ts_buf_free(&b);
	return n;
}

/* A HELLO as this release sends it. */
static size_t
hello_frame(uint8_t *out)
{
	return hello_as(out, PROTO_MIN, LINK_SCHEMA, PROTO_VERSION,
			SCHEMA_VERSION, TSYNC_VERSION_STRING, 0);
}

/*
 * Many actions between two polls (here 100 refused CERTs, each a log
 * line) never push out the close that follows: the link must not stay
 * open on a failed session.
 */
static void
queue_keeps_close(struct tsync_node *n)
{
	struct sess_cfg c = {0};
	struct sess_action a;
	struct ts_buf b;
	msgpack_packer pk;
	struct sess *s;
	int i, nact = 0, last = -1;

	ts_buf_init(&b, NULL, 0);
	for (i = 0; i < 100; i++) {
		size_t f = frame_begin(&b, &pk);

		msgpack_pack_array(&pk, 2);
		msgpack_pack_uint8(&pk, WIRE_CERT);
		msgpack_pack_bin_with_body(&pk, "not a certificate", 17);
		frame_end(&b, f);
	}
	ts_buf_put(&b, "\xff\xff\xff\xff", 4); /* a frame length out of bounds */
	c.node = n;
	s = sess_new(&c, 0);
	sess_feed(s, b.p, b.len);
	while (sess_poll(s, 0, &a)) {
		nact++;
		last = a.type;
	}
	CHECK(nact > 0);
	CHECK_EQ(last, SA_CLOSE);
	CHECK(sess_failed(s));
	sess_free(s);
	ts_buf_free(&b);
}

/* ---- Versions (docs/protocol.md, 2.3) ------------------------------ */

/* Feeds frames to a fresh session; 1 if its log holds `want`. */
static int
fed_logs(struct tsync_node *n, const uint8_t *p, size_t len,
	 const char *want, int *closed)
{
	struct sess_cfg c = {0};
	struct sess_action a;
	struct sess *s;
	int found = 0;

	c.node = n;
	s = sess_new(&c, 0);
	sess_feed(s, p, len);
	*closed = 0;
	while (sess_poll(s, 0, &a)) {
		if (want != NULL && strstr(a.text, want) != NULL)
			found = 1;
		if (a.type == SA_CLOSE) {
			*closed = 1;
			fprintf(stderr, "closed: %s\n", a.text);
		}
	}
	sess_free(s);
	return found;
}

/*
 * Peers of other releases link: release 0.1.0's HELLO (protocol 1, no
 * elements 7-9), and a later release's (protocol 1 to 5, schema 9, more
 * elements).  A later release's message (type 32 on) and elements a
 * message gains later are skipped once both speak protocol 2.
 */
static void
versions(struct tsync_node *n)
{
	uint8_t fr[512];
	size_t len;
	int closed;

	len = hello_as(fr, 1, LINK_SCHEMA, 0, 0, NULL, 0);
	CHECK(fed_logs(n, fr, len, "runs release 0.1.0 (protocol 1, schema 1)",
		       &closed));
	CHECK(!closed);
	len = hello_as(fr, 1, LINK_SCHEMA, 5, 9, "0.9.0", 3);
	CHECK(fed_logs(n, fr, len, "runs release 0.9.0 (protocol 2, schema 9)"
				   "; this node runs",
		       &closed));
	CHECK(!closed);
	CHECK(fed_logs(n, fr, len, "kept and relayed", &closed));
	/* VV, then message type 60 with two elements, then a PING that
	 * carries an element more than protocol 2 defines: skipped, and
	 * answered. */
	memcpy(fr + len, "\x00\x00\x00\x03\x92\x02\x90"
			 "\x00\x00\x00\x03\x92\x3c\x01"
			 "\x00\x00\x00\x05\x93\x06\x07\xa1",
	       7 + 7 + 8);
	fr[len + 7 + 7 + 8] = 'x';
	CHECK(fed_logs(n, fr, len + 7 + 7 + 9, "skipped message type 60",
		       &closed));
	CHECK(!closed);
}

/* ---- A snapshot first pull (docs/protocol.md 3.14) ------------------ */

/* tiersync.conf of node `name`: snapshot_first_pull = yes. */
static void
snap_opt_in(const char *name)
{
	char path[400];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/tiersync.conf", tn_root(), name);
	f = fopen(path, "a");
	CHECK(f != NULL);
	if (f != NULL) {
		fputs("snapshot_first_pull = yes\n", f);
		fclose(f);
	}
}

/* Moves bytes both ways, at most `limit` bytes from b to a in all. */
static void
run_upto(struct link *l, size_t limit)
{
	size_t moved = 0;
	int rounds = 0;

	while (moved < limit && rounds++ < 100000) {
		const uint8_t *p;
		size_t n;

		drain(l->a, &l->synced_a, &l->code_a, &l->closed_a, l->close_a);
		drain(l->b, &l->synced_b, &l->code_b, &l->closed_b, l->close_b);
		p = sess_pending(l->a, &n);
		if (n > 0) {
			sess_feed(l->b, p, n);
			sess_sent(l->a, n);
		}
		p = sess_pending(l->b, &n);
		if (n > limit - moved)
			n = limit - moved;
		if (n > 0) {
			sess_feed(l->a, p, n);
			sess_sent(l->b, n);
			moved += n;
		}
	}
}

static size_t
longest_body(struct tsync_node *n)
{
	sqlite3_stmt *s;
	size_t len = 0;

	sqlite3_prepare_v2(tsync_node_db(n), "SELECT max(length(body)) FROM"
			   " ts_log", -1, &s, NULL);
	if (sqlite3_step(s) == SQLITE_ROW)
		len = (size_t)sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return len;
}

/*
 * An empty auditor pulls the district by snapshot, verified, digests
 * equal; one interrupted halfway is left empty and pulls again; a street
 * gets no snapshot.  Memory stays bounded by the chunks, not the replica.
 */
static void
snapshot(struct tsync_node *d)
{
	struct tsync_node *a1 = tn_node("snap-a1", "gangzha", "auditor", NULL);
	struct tsync_node *a2 = tn_node("snap-a2", "gangzha", "auditor", NULL);
	struct tsync_node *s1 = tn_node("snap-s1", "gangzha/qinzao", "office",
					NULL);
	char st[200], sql[400];
	struct link l;
	int i;

	/* Each asks for a snapshot when empty (tiersync.conf). */
	snap_opt_in("snap-a1");
	snap_opt_in("snap-a2");
	snap_opt_in("snap-s1");

	for (i = 0; i < 2000; i++) {
		snprintf(sql, sizeof(sql), "INSERT INTO cases(id, scope, title)"
			 " VALUES('snap-%d', 'gangzha', '%0200d')", i, i);
		CHECK_EQ(tn_sql(d, sql), 0);
	}
	l = join(a1, d, 1);
	run(&l, 0);
	CHECK(l.synced_a && l.synced_b);
	CHECK_EQ(l.code_a, 0);
	CHECK_EQ(tsync_node_replica_state(a1, st, sizeof(st)), 0);
	CHECK(strncmp(st, "verified: ", 10) == 0);
	digests_equal(a1, d, NULL);
	/* Two chunks of 1 MiB wait at most, and one larger row alone. */
	CHECK(l.max_pending < (3u << 20) + longest_body(d));
	unjoin(&l);
	CHECK_EQ(tsync_node_verify(a1, NULL, NULL), 0);

	/* Cut after 200 KiB: the rows that came are discarded. */
	l = join(a2, d, 1);
	run_upto(&l, 200 << 10);
	CHECK(!l.closed_a);
	CHECK_EQ(tsync_node_replica_state(a2, st, sizeof(st)), 0);
	CHECK_STR(st, "receiving");
	unjoin(&l);
	CHECK_EQ(tsync_node_replica_state(a2, st, sizeof(st)), TSYNC_ENOENT);
	CHECK_EQ(rows(a2, "1"), 0);
	l = join(a2, d, 1);
	run(&l, 0);
	CHECK(l.synced_a && l.synced_b);
	digests_equal(a2, d, NULL);
	unjoin(&l);

	/* A street: the district holds more than it may see. */
	l = join(s1, d, 1);
	run(&l, 0);
	CHECK(l.synced_a && l.synced_b);
	CHECK_EQ(tsync_node_replica_state(s1, st, sizeof(st)), TSYNC_ENOENT);
	digests_equal(s1, d, "gangzha/qinzao");
	unjoin(&l);
	tsync_node_close(a1);
	tsync_node_close(a2);
	tsync_node_close(s1);
}

/* ---- Per-peer caps (docs/protocol.md, section 9.1) ------------------ */

/* A session over n that has taken the peer's HELLO (and, if vv, its VV). */
static struct sess *
caps_sess(struct tsync_node *n, uint64_t idle_ms, int vv)
{
	struct sess_cfg c = {0};
	struct sess *s;
	uint8_t fr[256];
	size_t len = hello_frame(fr);

	c.node = n;
	c.idle_ms = idle_ms;
	s = sess_new(&c, 0);
	sess_feed(s, fr, len);
	if (vv)
		sess_feed(s, (const uint8_t *)"\x00\x00\x00\x03\x92\x02\x90",
			  7);
	CHECK(!sess_closed(s));
	return s;
}

/* Polls s at `now`; returns 1 if it closed, with its text in why. */
static int
caps_closed(struct sess *s, uint64_t now, char *why, size_t len)
{
	struct sess_action a;
	int closed = 0;

	while (sess_poll(s, now, &a))
		if (a.type == SA_CLOSE) {
			closed = 1;
			snprintf(why, len, "%s", a.text);
		}
	return closed;
}

static void
caps_expect(struct sess *s, uint64_t now, const char *expect)
{
	char why[320] = "";

	CHECK(caps_closed(s, now, why, sizeof(why)));
	if (strstr(why, expect) == NULL)
		fprintf(stderr, "close text '%s' lacks '%s'\n", why, expect);
	CHECK(strstr(why, expect) != NULL);
}

static double
caps_secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A VV frame of k streams (origin i, scope, seq i). */
static void
caps_vv(struct ts_buf *b, uint32_t k)
{
	msgpack_packer pk;
	size_t f = frame_begin(b, &pk);
	uint32_t i;

	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint8(&pk, WIRE_VV);
	msgpack_pack_array(&pk, 3 * (size_t)k);
	for (i = 0; i < k; i++) {
		msgpack_pack_uint64(&pk, 1000 + (uint64_t)i);
		msgpack_pack_str_with_body(&pk, "gangzha/qinzao/feiqiao", 22);
		msgpack_pack_uint64(&pk, 1 + (uint64_t)i);
	}
	CHECK_EQ(frame_end(b, f), 0);
}

/* A BATCH of k bodies: each a msgpack bin of `size` bytes, which decodes
 * but is no txn (so it is quarantined as malformed). */
static void
caps_junk_batch(struct ts_buf *b, uint64_t no, unsigned k, size_t size)
{
	msgpack_packer pk;
	size_t f = frame_begin(b, &pk);
	uint8_t *junk = calloc(1, size), sig[64] = {0};
	unsigned i;

	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint8(&pk, WIRE_BATCH);
	msgpack_pack_uint64(&pk, no);
	msgpack_pack_array(&pk, 2 * (size_t)k);
	for (i = 0; i < k; i++) {
		snprintf((char *)junk, size, "junk %llu %u",
			 (unsigned long long)no, i);
		msgpack_pack_bin_with_body(&pk, junk, size);
		msgpack_pack_bin_with_body(&pk, sig, 64);
	}
	free(junk);
	CHECK_EQ(frame_end(b, f), 0);
}

static long long
caps_q(struct tsync_node *n, const char *what)
{
	sqlite3_stmt *s;
	char sql[300];
	long long v = -1;

	snprintf(sql, sizeof(sql), "SELECT %s FROM ts_quarantine WHERE peer "
		 "LIKE '%%gangzha/x%%'", what);
	sqlite3_prepare_v2(tsync_node_db(n), sql, -1, &s, NULL);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

/* msgpack counts are checked against the bytes before unpacking. */
static void
caps_counts(struct tsync_node *n)
{
	/* array32 of 2^32-1, map32 of 2^31, in 5 bytes; 17 nested arrays. */
	static const uint8_t a32[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t m32[] = {0xdf, 0x80, 0x00, 0x00, 0x00, 0x01};
	static const uint8_t ok[] = {0x93, 0x01, 0xa1, 'x', 0xc4, 0x01, 0x00};
	uint8_t deep[FRAME_DEPTH_MAX + 2];
	size_t budget = FRAME_ELEMS_MAX, used = 0;
	struct ts_buf b;
	msgpack_packer pk;
	struct sess *s;
	size_t f;

	CHECK_EQ(frame_mp_check(a32, sizeof(a32), &budget, &used),
		 TSYNC_ECORRUPT);
	CHECK_EQ(frame_mp_check(m32, sizeof(m32), &budget, &used),
		 TSYNC_ECORRUPT);
	memset(deep, 0x91, sizeof(deep));
	deep[sizeof(deep) - 1] = 0x00;
	CHECK_EQ(frame_mp_check(deep, sizeof(deep), &budget, &used),
		 TSYNC_ECORRUPT);
	CHECK_EQ(frame_mp_check(deep + 2, sizeof(deep) - 2, &budget, &used),
		 0);
	CHECK_EQ(frame_mp_check(ok, sizeof(ok), &budget, &used), 0);
	CHECK_EQ(used, sizeof(ok));
	budget = 2;
	CHECK_EQ(frame_mp_check(ok, sizeof(ok), &budget, &used),
		 TSYNC_ECORRUPT); /* 3 objects over a budget of 2 */
	/* As a frame: refused by the check, never handed to msgpack-c. */
	bad_input(n, (const uint8_t *)"\x00\x00\x00\x05\xdd\xff\xff\xff\xff", 9,
		  "msgpack counts beyond its bytes");
	/* Inside a txn body of a BATCH, which txn_decode() would unpack. */
	ts_buf_init(&b, NULL, 0);
	b.len = 0;
	{
		uint8_t sig[64] = {0};

		s = caps_sess(n, 0, 1);
		f = frame_begin(&b, &pk);
		msgpack_pack_array(&pk, 3);
		msgpack_pack_uint8(&pk, WIRE_BATCH);
		msgpack_pack_uint64(&pk, 1);
		msgpack_pack_array(&pk, 2);
		msgpack_pack_bin_with_body(&pk, a32, sizeof(a32));
		msgpack_pack_bin_with_body(&pk, sig, sizeof(sig));
		CHECK_EQ(frame_end(&b, f), 0);
		sess_feed(s, b.p, b.len);
		caps_expect(s, 0, "txn 1 of BATCH 1: msgpack counts beyond");
		sess_free(s);
	}
	ts_buf_free(&b);
}

/* PINGs: PING_MAX per window are answered, one more fails the session. */
static void
caps_ping(struct tsync_node *n)
{
	static const uint8_t ping[] = {0, 0, 0, 3, 0x92, 0x06, 0x01};
	struct sess *s = caps_sess(n, 0, 1);
	char why[320];
	size_t pend;
	unsigned i;

	for (i = 0; i < PING_MAX; i++)
		sess_feed(s, ping, sizeof(ping));
	CHECK(!caps_closed(s, 0, why, sizeof(why)));
	/* One more within the same window: a flood. */
	for (i = 0; i < PING_MAX; i++)
		sess_feed(s, ping, sizeof(ping));
	CHECK(caps_closed(s, 0, why, sizeof(why)));
	CHECK(strstr(why, "PING flood") != NULL);
	sess_pending(s, &pend);
	CHECK(pend < 4096);
	sess_free(s);
	/* PING_MAX in each window, window after window: answered. */
	s = caps_sess(n, 0, 1);
	for (i = 0; i < PING_MAX; i++)
		sess_feed(s, ping, sizeof(ping));
	CHECK(!caps_closed(s, PING_WINDOW_MS, why, sizeof(why)));
	for (i = 0; i < PING_MAX; i++)
		sess_feed(s, ping, sizeof(ping));
	CHECK(!caps_closed(s, PING_WINDOW_MS, why, sizeof(why)));
	sess_free(s);
}

/* A frame that trickles fails once its deadline passes, though bytes
 * keep arriving; a frame that completes in time resets the clock. */
static void
caps_trickle(struct tsync_node *n)
{
	static const uint8_t ping[] = {0, 0, 0, 3, 0x92, 0x06, 0x01};
	struct sess *s = caps_sess(n, 1000, 1);
	char why[320];
	uint64_t t;
	unsigned i;

	/* A 1000-byte frame, one byte every 100 ms. */
	sess_feed(s, (const uint8_t *)"\x00\x00\x03\xe8", 4);
	for (t = 100, i = 0; t <= 1000; t += 100, i++) {
		CHECK(!caps_closed(s, t, why, sizeof(why)));
		sess_feed(s, (const uint8_t *)"\x92", 1);
	}
	/* Deadline: 1000 ms idle + 1000 bytes at FRAME_MIN_RATE. */
	t = 1000 + 1000u * 1000 / FRAME_MIN_RATE;
	CHECK(!caps_closed(s, t, why, sizeof(why)));
	sess_feed(s, (const uint8_t *)"\x92", 1);
	caps_expect(s, t + 40, "a frame of 1000 bytes is not complete");
	sess_free(s);
	/* Whole frames byte by byte, each within its deadline: kept. */
	s = caps_sess(n, 1000, 1);
	for (t = 0; t < 5000; t += 100) {
		sess_feed(s, ping + (t / 100) % 7, 1);
		CHECK(!caps_closed(s, t, why, sizeof(why)));
	}
	sess_free(s);
}

/* A VV of VV_MAX streams takes well under a second; one more is refused. */
static void
caps_vv_size(struct tsync_node *n)
{
	struct ts_buf b;
	struct sess *s;
	char why[320];
	double t0;

	ts_buf_init(&b, NULL, 0);
	caps_vv(&b, VV_MAX);
	s = caps_sess(n, 0, 0);
	t0 = caps_secs();
	sess_feed(s, b.p, b.len);
	CHECK(!caps_closed(s, 0, why, sizeof(why)));
	fprintf(stderr, "VV of %u streams: %.3f s\n", VV_MAX,
		caps_secs() - t0);
	CHECK(caps_secs() - t0 < 2.0);
	sess_free(s);
	b.len = 0;
	caps_vv(&b, VV_MAX + 1);
	s = caps_sess(n, 0, 0);
	t0 = caps_secs();
	sess_feed(s, b.p, b.len);
	caps_expect(s, 0, "over the cap");
	CHECK(caps_secs() - t0 < 2.0);
	sess_free(s);
	ts_buf_free(&b);
}

/* Junk bodies: the quarantine keeps at most its share per peer, and of a
 * body that does not decode only a prefix. */
static void
caps_quarantine(struct tsync_node *n)
{
	struct sess *s = caps_sess(n, 0, 1);
	struct ts_buf b;
	char why[320];
	uint64_t no;

	ts_buf_init(&b, NULL, 0);
	for (no = 1; no <= 5; no++) { /* 5 batches of 10 bodies of 1 MiB */
		b.len = 0;
		caps_junk_batch(&b, no, 10, 1u << 20);
		sess_feed(s, b.p, b.len);
		CHECK(!caps_closed(s, 0, why, sizeof(why)));
	}
	CHECK_EQ(caps_q(n, "count(*)"), 50);
	CHECK_EQ(caps_q(n, "max(length(body))"), 256);
	for (no = 6; no <= 10; no++) { /* then thousands of small ones */
		b.len = 0;
		caps_junk_batch(&b, no, 1000, 200);
		sess_feed(s, b.p, b.len);
		CHECK(!caps_closed(s, 0, why, sizeof(why)));
	}
	CHECK(caps_q(n, "count(*)") < 5050);
	CHECK(caps_q(n, "sum(length(body) + length(sig) + 64)") <=
	      (1 << 20));
	CHECK(caps_q(n, "sum(length(body) + length(sig) + 64)") >
	      (1 << 20) - 4096);
	sess_free(s);
	ts_buf_free(&b);
}

/* Output is consumed in O(1) amortized: a big backlog drained in small
 * writes takes linear time. */
static void
caps_drain(struct tsync_node *n)
{
	static const uint8_t ping[] = {0, 0, 0, 3, 0x92, 0x06, 0x01};
	struct sess *s = caps_sess(n, 0, 1);
	size_t pend, total = 0;
	double t0;
	unsigned i;

	/* PONGs pile up (no one reads): PING_MAX per window of time. */
	for (i = 0; i < 200000; i++) {
		char why[320];

		sess_feed(s, ping, sizeof(ping));
		if (caps_closed(s, (uint64_t)(i / PING_MAX + 1) *
				       PING_WINDOW_MS, why, sizeof(why)))
			break;
	}
	CHECK(!sess_closed(s));
	sess_pending(s, &pend);
	CHECK(pend > 1000000);
	t0 = caps_secs();
	while (sess_pending(s, &pend), pend > 0) {
		sess_sent(s, pend < 16 ? pend : 16);
		total += pend < 16 ? pend : 16;
	}
	fprintf(stderr, "drained %zu bytes in 16-byte writes: %.3f s\n",
		total, caps_secs() - t0);
	CHECK(caps_secs() - t0 < 1.0);
	sess_free(s);
}

static void
caps(struct tsync_node *n)
{
	caps_counts(n);
	caps_ping(n);
	caps_trickle(n);
	caps_vv_size(n);
	caps_quarantine(n);
	caps_drain(n);
}

/* ---- Bad days: a full disk, a failure in the middle of any write ------ */

/* The handle holds no transaction and takes a local write. */
static int
healthy(struct tsync_node *n, int *serial)
{
	char sql[400];

	snprintf(sql, sizeof(sql), "INSERT INTO cases(id, scope) VALUES"
		 "('ok-%d', '%s')", (*serial)++, n->scope);
	return sqlite3_get_autocommit(tsync_node_db(n)) && tn_sql(n, sql) == 0;
}

/* Revokes the certificate of a throwaway node; returns the new list. */
static char *
new_crl(const char *name, size_t *len)
{
	char ca[300], crt[300], path[320], err[256];
	struct tsync_node *x = tn_node(name, "gangzha/qinzao/x", "office",
				       NULL);
	char *pem = malloc(1 << 16);
	FILE *f;

	tsync_node_close(x);
	snprintf(ca, sizeof(ca), "%s/ca", tn_root());
	snprintf(crt, sizeof(crt), "%s/%s/node.crt", tn_root(), name);
	CHECK_EQ(tsync_ca_revoke(ca, crt, NULL, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/crl.pem", ca);
	*len = 0;
	if ((f = fopen(path, "r")) != NULL) {
		*len = fread(pem, 1, 1 << 16, f);
		fclose(f);
	}
	CHECK(*len > 0);
	return pem;
}

/*
 * A short disk-full once left serve stuck: a failure left a transaction
 * open on the handle, so every later BEGIN failed ("cannot start a
 * transaction within a transaction") and other writers met "database is
 * locked".  Here the k-th write of every path fails in turn (local
 * write, apply through a session, revocation list install), then whole
 * operations meet a full disk at commit, then a page limit in the middle;
 * after each, the same handle must hold no transaction and take writes,
 * and the operation must succeed once the fault is gone.
 */
static void
bad_days(void)
{
	struct tsync_node *a, *b;
	size_t len;
	char *crl, sql[160];
	int k, serial = 0, installed, failed;

	CHECK_EQ(fv_install(), 0);
	a = tn_node("df-village", "gangzha/qinzao/feiqiao", "office", NULL);
	b = tn_node("df-street", "gangzha/qinzao", "office", NULL);
	CHECK(sync_once(a, b));

	/* Local write: every write statement of a commit fails in turn. */
	for (k = 1, failed = 1; failed && k < 200; k++) {
		snprintf(sql, sizeof(sql), "INSERT INTO cases(id, scope, title)"
			 " VALUES('lw-%d', 'gangzha/qinzao/feiqiao', 't');"
			 " UPDATE cases SET title = 'u' WHERE id = 'ok-0'", k);
		fv_arm(tsync_node_db(a), k);
		tsync_node_exec(a, sql, NULL, NULL);
		failed = fv_hits > 0;
		fv_arm(tsync_node_db(a), 0);
		CHECK(healthy(a, &serial));
	}
	CHECK(!failed);

	/* Apply through a session: b's k-th write fails. */
	for (k = 1, failed = 1; failed && k < 400; k++) {
		snprintf(sql, sizeof(sql), "INSERT INTO cases(id, scope) VALUES"
			 "('ap-%d', 'gangzha/qinzao/feiqiao')", k);
		CHECK_EQ(tn_sql(a, sql), 0);
		fv_arm(tsync_node_db(b), k);
		sync_once(a, b);
		failed = fv_hits > 0;
		fv_arm(tsync_node_db(b), 0);
		CHECK(healthy(b, &serial));
	}
	CHECK(!failed);
	CHECK(sync_once(a, b));
	CHECK_EQ(rows(b, "id LIKE 'ap-%'"), k - 1);

	/* Revocation list install: the k-th write fails. */
	crl = new_crl("df-x1", &len);
	for (k = 1, failed = 1; failed && k < 50; k++) {
		fv_arm(tsync_node_db(b), k);
		installed = 0;
		crl_install(b, crl, len, &installed, NULL);
		failed = fv_hits > 0;
		fv_arm(tsync_node_db(b), 0);
		CHECK(healthy(b, &serial));
		CHECK(!failed || !installed);
	}
	CHECK(!failed && installed);
	free(crl);

	/* A full disk at commit, for each path, on the same handles. */
	crl = new_crl("df-x2", &len);
	fv_full = 1;
	CHECK_EQ(tsync_node_exec(a, "INSERT INTO cases(id, scope) VALUES"
				    "('full-1', 'gangzha/qinzao/feiqiao')",
				 NULL, NULL), TSYNC_EFULL);
	CHECK(crl_install(b, crl, len, &installed, NULL) != 0);
	fv_full = 0;
	CHECK(healthy(a, &serial));
	CHECK(healthy(b, &serial));
	CHECK_EQ(crl_install(b, crl, len, &installed, NULL), 0);
	CHECK(installed);
	free(crl);
	CHECK_EQ(tn_sql(a, "INSERT INTO cases(id, scope) VALUES"
			   "('full-2', 'gangzha/qinzao/feiqiao')"), 0);
	fv_full = 1;
	CHECK(!sync_once(a, b));
	fv_full = 0;
	CHECK(healthy(a, &serial));
	CHECK(healthy(b, &serial));
	CHECK(sync_once(a, b));
	CHECK_EQ(rows(b, "id = 'full-2'"), 1);

	/* The page limit (PRAGMA max_page_count) met in mid-apply. */
	for (k = 0; k < 300; k++) {
		snprintf(sql, sizeof(sql), "INSERT INTO cases(id, scope, notes)"
			 " VALUES('pg-%d', 'gangzha/qinzao/feiqiao',"
			 " printf('%%.500c', 'x'))", k);
		CHECK_EQ(tn_sql(a, sql), 0);
	}
	{
		sqlite3_stmt *s;
		int pages = 0;

		sqlite3_prepare_v2(tsync_node_db(b), "PRAGMA page_count", -1,
				   &s, NULL);
		if (sqlite3_step(s) == SQLITE_ROW)
			pages = sqlite3_column_int(s, 0);
		sqlite3_finalize(s);
		snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %d",
			 pages + 2);
		CHECK_EQ(sqlite3_exec(tsync_node_db(b), sql, NULL, NULL,
				      NULL), SQLITE_OK);
	}
	CHECK(!sync_once(a, b));
	CHECK(sqlite3_get_autocommit(tsync_node_db(b)));
	CHECK_EQ(sqlite3_exec(tsync_node_db(b), "PRAGMA max_page_count ="
			      " 1073741823", NULL, NULL, NULL), SQLITE_OK);
	CHECK(healthy(b, &serial));
	CHECK(sync_once(a, b));
	CHECK_EQ(rows(b, "id LIKE 'pg-%'"), 300);
	CHECK_EQ(tsync_node_verify(a, NULL, NULL), 0);
	CHECK_EQ(tsync_node_verify(b, NULL, NULL), 0);
	tsync_node_close(a);
	tsync_node_close(b);
}

static int
count(struct tsync_node *n, const char *sql)
{
	sqlite3_stmt *s;
	int c = -1;

	sqlite3_prepare_v2(tsync_node_db(n), sql, -1, &s, NULL);
	if (s != NULL && sqlite3_step(s) == SQLITE_ROW)
		c = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return c;
}

/*
 * Rewrites the head txn of n's own stream as its key holder could: one
 * byte of a value changed, hash and signature made again with n's key,
 * the stream head moved (docs/protocol.md 8.3).
 */
static void
rewrite_head(struct tsync_node *n)
{
	struct stream_head h;
	sqlite3_stmt *s;
	uint8_t body[4096], hash[KEYS_HASH_LEN], sig[KEYS_SIG_LEN], *at;
	size_t len;

	CHECK_EQ(ts_log_head(n, n->id, n->scope, strlen(n->scope), &h), 0);
	sqlite3_prepare_v2(n->db, "SELECT body FROM ts_log WHERE k = ?1", -1,
			   &s, NULL);
	sqlite3_bind_int64(s, 1, LOG_ROWID(h.sid, h.seq));
	CHECK_EQ(sqlite3_step(s), SQLITE_ROW);
	len = (size_t)sqlite3_column_bytes(s, 0);
	CHECK(len < sizeof(body));
	memcpy(body, sqlite3_column_blob(s, 0), len);
	sqlite3_finalize(s);
	for (at = body; at + 4 <= body + len && memcmp(at, "orig", 4) != 0;
	     at++)
		;
	if (at + 4 > body + len)
		at = NULL;
	CHECK(at != NULL);
	if (at != NULL)
		memcpy(at, "FAKE", 4);
	keys_sha256(body, len, hash);
	CHECK_EQ(txn_sign(n->key, hash, sig), 0);
	sqlite3_prepare_v2(n->db, "UPDATE ts_log SET body = ?2, hash = ?3,"
				  " sig = ?4 WHERE k = ?1",
			   -1, &s, NULL);
	sqlite3_bind_int64(s, 1, LOG_ROWID(h.sid, h.seq));
	sqlite3_bind_blob(s, 2, body, (int)len, SQLITE_STATIC);
	sqlite3_bind_blob(s, 3, hash, KEYS_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(s, 4, sig, KEYS_SIG_LEN, SQLITE_STATIC);
	CHECK_EQ(sqlite3_step(s), SQLITE_DONE);
	sqlite3_finalize(s);
	sqlite3_prepare_v2(n->db, "UPDATE ts_streams SET hash = ?2 WHERE"
				  " sid = ?1",
			   -1, &s, NULL);
	sqlite3_bind_int64(s, 1, h.sid);
	sqlite3_bind_blob(s, 2, hash, KEYS_HASH_LEN, SQLITE_STATIC);
	CHECK_EQ(sqlite3_step(s), SQLITE_DONE);
	sqlite3_finalize(s);
}

/*
 * Receipts and evidence (docs/protocol.md 8.3): a street receipts its
 * village's head on the village's DONE; a rewritten head shows in the next
 * VV, both sides record evidence and the street ends up holding both
 * signed bodies; the receipt, carried to the district, holds the old head.
 */
static void
receipts_and_evidence(void)
{
	struct tsync_node *d, *st, *v;
	struct link l;
	char q[256], vid[17];

	d = tn_node("r-d", "gangzha", "office", NULL);
	st = tn_node("r-st", "gangzha/henghe", "office", NULL);
	v = tn_node("r-v", "gangzha/henghe/x", "office", NULL);
	id_format(v->id, vid);
	CHECK_EQ(tn_sql(v, "INSERT INTO cases(id, scope, title) VALUES"
			   "('x-1', 'gangzha/henghe/x', 'orig-1')"), 0);
	CHECK_EQ(tn_sql(v, "INSERT INTO cases(id, scope, title) VALUES"
			   "('x-2', 'gangzha/henghe/x', 'orig-2')"), 0);
	l = join(v, st, 1);
	run(&l, 0);
	CHECK(l.synced_a && l.synced_b);
	CHECK_EQ(l.code_a, 0);
	unjoin(&l);
	snprintf(q, sizeof(q), "SELECT count(*) FROM receipts WHERE origin ="
			       " '%s' AND seq = 2 AND scope = 'gangzha/henghe'",
		 vid);
	CHECK_EQ(count(st, q), 1);
	CHECK_EQ(count(v, "SELECT count(*) FROM receipts"), 0); /* not down */
	/* Nothing moved: the receipt is not written again. */
	CHECK_EQ(count(st, "SELECT count(*) FROM ts_log"), 3);
	l = join(v, st, 1);
	run(&l, 0);
	unjoin(&l);
	CHECK_EQ(count(st, "SELECT count(*) FROM ts_log"), 3);
	l = join(st, d, 1);
	run(&l, 0);
	CHECK(l.synced_a && l.synced_b);
	unjoin(&l);
	CHECK_EQ(count(d, q), 1);
	CHECK_EQ(tsync_node_verify(d, NULL, NULL), 0);

	/* A link that stays up: the receipt follows new txns at most every
	 * RECEIPT_EVERY_MS. */
	{
		struct sess_cfg c = {0};
		struct sess_action a;

		c.idle_ms = c.ping_ms = 3 * RECEIPT_EVERY_MS;
		memset(&l, 0, sizeof(l));
		c.node = v;
		l.a = sess_new(&c, 0);
		c.node = st;
		l.b = sess_new(&c, 0);
		run(&l, 0);
		CHECK(l.synced_a && l.synced_b);
		CHECK_EQ(tn_sql(v, "INSERT INTO cases(id, scope, title) VALUES"
				   "('x-3', 'gangzha/henghe/x', 'orig-3')"),
			 0);
		sess_notify(l.a);
		run(&l, 0);
		CHECK_EQ(rows(st, "id = 'x-3'"), 1);
		CHECK_EQ(count(st, q), 1); /* still seq 2 */
		while (sess_poll(l.b, RECEIPT_EVERY_MS, &a))
			;
		snprintf(q, sizeof(q), "SELECT count(*) FROM receipts WHERE"
				       " origin = '%s' AND seq = 3",
			 vid);
		CHECK_EQ(count(st, q), 1);
		unjoin(&l);
	}

	/* The village's key holder rewrites seq 3. */
	rewrite_head(v);
	/* A bundle's END carries the head hashes, as DONE does: one --since a
	 * full bundle holds no txn, yet its reader records the other head at
	 * seq 3 from them alone, naming the writer (protocol.md 7.3). */
	{
		struct tsync_bundle_result br;
		char vd[400], full[400], heads[400];

		snprintf(vd, sizeof(vd), "%s/r-v", tn_root());
		snprintf(full, sizeof(full), "%s/r-full.tsb", tn_root());
		snprintf(heads, sizeof(heads), "%s/r-heads.tsb", tn_root());
		CHECK_EQ(tsync_bundle_export(vd, "gangzha/henghe", full, NULL,
					     &br), 0);
		CHECK_EQ(tsync_bundle_export(vd, "gangzha/henghe", heads,
					     full, &br), 0);
		CHECK_EQ(br.txns, 0);
		snprintf(vd, sizeof(vd), "%s/r-st", tn_root());
		CHECK_EQ(tsync_bundle_import(vd, heads, &br), 0);
		CHECK_EQ(br.txns, 0);
		snprintf(q, sizeof(q), "SELECT count(*) FROM evidence WHERE"
				       " origin = '%s' AND seq = 3 AND how ="
				       " 'vv' AND peer = '%s'",
			 vid, vid);
		CHECK_EQ(count(st, q), 1); /* the link below finds it known */
	}
	l = join(v, st, 1);
	run(&l, 0);
	CHECK(l.synced_a && l.synced_b);
	CHECK(l.code_a != 0 && l.code_b != 0); /* not in sync, both sides */
	unjoin(&l);
	snprintf(q, sizeof(q), "SELECT count(*) FROM evidence WHERE origin ="
			       " '%s' AND seq = 3 AND how = 'vv'",
		 vid);
	CHECK_EQ(count(st, q), 1);
	snprintf(q, sizeof(q), "SELECT count(*) FROM evidence WHERE origin ="
			       " '%s' AND seq = 3 AND how = 'txn' AND body_b"
			       " IS NOT NULL",
		 vid);
	CHECK_EQ(count(st, q), 1);
	CHECK_EQ(tsync_node_verify(st, NULL, NULL), TSYNC_EVERIFY);
	l = join(st, d, 1);
	run(&l, 0);
	unjoin(&l);
	CHECK_EQ(count(d, q), 1);
	CHECK_EQ(tsync_node_verify(d, NULL, NULL), TSYNC_EVERIFY);
	/* The same frames with protocol 1 carry no heads: release 0.1.0
	 * peers see the VV they always saw (hello_versions, unit.session's
	 * versions()). */
	tsync_node_close(d);
	tsync_node_close(st);
	tsync_node_close(v);
}

int
main(void)
{
	struct tsync_node *d, *st, *v1, *v2;
	struct link l;
	char sql[256];
	int i;

	d = tn_node("district", "gangzha", "office", NULL);
	st = tn_node("street", "gangzha/qinzao", "office", NULL);
	v1 = tn_node("v1", "gangzha/qinzao/feiqiao", "office", NULL);
	v2 = tn_node("v2", "gangzha/qinzao/tangzha", "office", NULL);

	queue_keeps_close(v1);

	/* Village and street write while apart, then sync both ways. */
	for (i = 0; i < 300; i++) {
		snprintf(sql, sizeof(sql),
			 "INSERT INTO cases(id, scope, title) VALUES('v1-%d',"
			 " 'gangzha/qinzao/feiqiao', '调解 %d')",
			 i, i);
		CHECK_EQ(tn_sql(v1, sql), 0);
	}
	CHECK_EQ(tn_sql(st, "INSERT INTO cases(id, scope, title) VALUES"
			    "('st-1', 'gangzha/qinzao', 'street only'),"
			    "('st-2', 'gangzha/qinzao/feiqiao', 'for feiqiao'),"
			    "('st-3', 'gangzha/qinzao/*', 'roster')"), 0);
	l = join(v1, st, 1);
	run(&l, 0);
	CHECK(l.synced_a && l.synced_b);
	CHECK_EQ(l.code_a, 0);
	CHECK_EQ(l.code_b, 0);
	CHECK_EQ(rows(st, "id LIKE 'v1-%'"), 300);
	CHECK_EQ(rows(v1, "id = 'st-2'"), 1); /* down into its subtree */
	CHECK_EQ(rows(v1, "id = 'st-3'"), 1); /* broadcast above it */
	CHECK_EQ(rows(v1, "id = 'st-1'"), 0); /* street's own: not down */
	digests_equal(v1, st, "gangzha/qinzao/feiqiao");
	/* Bounded: the window of 4 batches of 64 txns, never the backlog. */
	CHECK(l.max_pending < 200 * 1024);
	unjoin(&l);

	/* Again: nothing moves, nothing applied twice. */
	{
		uint64_t before = apply_total(st);

		l = join(v1, st, 1);
		run(&l, 7); /* tiny chunks: frames split at every byte */
		CHECK(l.synced_a && l.synced_b);
		CHECK_EQ(apply_total(st), before);
		unjoin(&l);
	}

	/* Three tiers: the street relays; the district edits v1's row. */
	l = join(st, d, 1);
	run(&l, 0);
	CHECK(l.synced_a && l.synced_b);
	unjoin(&l);
	CHECK_EQ(rows(d, "id LIKE 'v1-%'"), 300);
	CHECK_EQ(tn_sql(d, "UPDATE cases SET status='reviewed' WHERE"
			   " id='v1-7'"), 0);
	l = join(st, d, 1);
	run(&l, 0);
	unjoin(&l);
	l = join(v1, st, 1);
	run(&l, 0);
	unjoin(&l);
	CHECK_EQ(rows(v1, "id='v1-7' AND status='reviewed'"), 1);
	digests_equal(v1, d, "gangzha/qinzao/feiqiao");
	digests_equal(st, d, "gangzha/qinzao");

	/* A sibling village sees nothing of v1's. */
	l = join(v2, st, 1);
	run(&l, 0);
	CHECK(l.synced_a && l.synced_b);
	unjoin(&l);
	CHECK_EQ(rows(v2, "scope = 'gangzha/qinzao/feiqiao'"), 0);
	CHECK_EQ(rows(v2, "id = 'st-3'"), 1);
	CHECK_EQ(tsync_node_verify(v1, NULL, NULL), 0);
	CHECK_EQ(tsync_node_verify(v2, NULL, NULL), 0);
	CHECK_EQ(tsync_node_verify(st, NULL, NULL), 0);
	CHECK_EQ(tsync_node_verify(d, NULL, NULL), 0);

	receipts_and_evidence();

	/* Live mode: a new commit is pushed after notify. */
	l = join(v1, st, 0);
	run(&l, 0);
	CHECK_EQ(tn_sql(v1, "INSERT INTO cases(id, scope) VALUES('live-1',"
			    " 'gangzha/qinzao/feiqiao')"), 0);
	sess_notify(l.a);
	run(&l, 0);
	CHECK_EQ(rows(st, "id='live-1'"), 1);
	CHECK(!sess_closed(l.a) && !sess_closed(l.b));
	/* Idle links are closed; pings keep live ones open. */
	{
		struct sess_action a;
		int closed = 0;

		sess_poll(l.a, 10000, &a);
		while (sess_poll(l.a, 40000, &a))
			closed |= a.type == SA_CLOSE &&
				  strstr(a.text, "no word") != NULL;
		CHECK(closed);
	}
	unjoin(&l);

	/* Two near-10 MiB txns in two streams: each travels in a batch of
	 * its own, never one frame over the limit. */
	{
		struct sess_cfg c = {0};

		CHECK_EQ(tn_sql(st, "WITH RECURSIVE k(x) AS (SELECT 1 UNION ALL"
				    " SELECT x + 1 FROM k WHERE x < 4500) INSERT"
				    " INTO cases(id, scope, notes) SELECT 'big1-'"
				    " || x, 'gangzha/qinzao', hex(randomblob(1000))"
				    " FROM k"), 0);
		CHECK_EQ(tn_sql(st, "WITH RECURSIVE k(x) AS (SELECT 1 UNION ALL"
				    " SELECT x + 1 FROM k WHERE x < 4500) INSERT"
				    " INTO cases(id, scope, notes) SELECT 'big2-'"
				    " || x, 'gangzha/qinzao/feiqiao',"
				    " hex(randomblob(1000)) FROM k"), 0);
		memset(&l, 0, sizeof(l));
		c.one_shot = 1;
		c.node = st;
		l.a = sess_new(&c, 0);
		c.node = d;
		l.b = sess_new(&c, 0);
		run(&l, 0);
		CHECK(l.synced_a && l.synced_b);
		CHECK_EQ(l.code_a, 0);
		CHECK_EQ(rows(d, "id LIKE 'big%'"), 9000);
		unjoin(&l);
	}

	/* Error paths. */
	{
		uint8_t fr[256];
		size_t n;

		n = hello_as(fr, 3, LINK_SCHEMA, 4, 9, "0.9.0", 0);
		bad_input(v1, fr, n, "peer (release 0.9.0) speaks protocol "
				     "versions 3 to 4, this node (release");
		n = hello_as(fr, 99, LINK_SCHEMA, 0, 0, NULL, 0);
		bad_input(v1, fr, n, "speaks protocol versions 99 to 99");
		n = hello_as(fr, PROTO_MIN, 7, 0, 0, NULL, 0);
		bad_input(v1, fr, n, "links at schema 7, this node at schema");
		bad_input(v1, (const uint8_t *)"\xff\xff\xff\xff", 4,
			  "frame length out of bounds");
		bad_input(v1, (const uint8_t *)"\x00\x00\x00\x01\xc1", 5,
			  "not a msgpack array");
		bad_input(v1, (const uint8_t *)"\x00\x00\x00\x02\x91\x04", 6,
			  "expected HELLO");
		n = hello_frame(fr);
		memcpy(fr + n, "\x00\x00\x00\x03\x92\x04\x01", 7);
		bad_input(v1, fr, n + 7, "BATCH before VV");
		memcpy(fr + n, "\x00\x00\x00\x03\x92\x02\x90"
			       "\x00\x00\x00\x03\x92\x02\x90", 14);
		bad_input(v1, fr, n + 14, "unexpected VV");
		memcpy(fr + n, "\x00\x00\x00\x02\x91\x1f", 6);
		bad_input(v1, fr, n + 6, "unknown message type 31");
		/* Release 0.1.0 speaks protocol 1: nothing is skippable. */
		n = hello_as(fr, 1, LINK_SCHEMA, 0, 0, NULL, 0);
		memcpy(fr + n, "\x00\x00\x00\x02\x91\x3f", 6);
		bad_input(v1, fr, n + 6, "unknown message type 63");
	}
	versions(v1);
	/* A HELLO that does not match the TLS identity is refused. */
	{
		struct cert_info ci;
		struct sess_cfg c = {0};
		struct sess_action a;
		struct sess *s;
		uint8_t fr[256];
		size_t n = hello_frame(fr);
		int ok = 0;

		memset(&ci, 0, sizeof(ci));
		ci.node_id = 43;
		snprintf(ci.scope, sizeof(ci.scope), "gangzha/x");
		snprintf(ci.role, sizeof(ci.role), "office");
		c.node = v1;
		c.peer = &ci;
		s = sess_new(&c, 0);
		sess_feed(s, fr, n);
		while (sess_poll(s, 0, &a))
			ok |= a.type == SA_CLOSE &&
			      strstr(a.text, "does not match") != NULL;
		CHECK(ok);
		sess_free(s);
	}
	caps(st);
	snapshot(d);

	tsync_node_close(d);
	tsync_node_close(st);
	tsync_node_close(v1);
	tsync_node_close(v2);
	bad_days();
	tn_cleanup();
	return CHECK_DONE();
}
