/*
 * fuzz_session.c - the session state machine (replication/session.h) of
 * a street node fed arbitrary bytes by a village peer after a good
 * handshake.
 *
 * LLVMFuzzerInitialize makes a CA, the street (A) and the village (B)
 * with a few rows, and records what B sends in a real handshake with A
 * (its HELLO and VV).  Each input then gets a fresh session on A with
 * B's certificate as the TLS identity: the recorded handshake goes in
 * first, then the input.
 *
 * The first input byte steers delivery: its low four bits pick a chunk
 * size (0: the whole input at once), its high four bits how far the clock
 * moves between chunks (n * 1.5 s, so a slow trickle meets the frame
 * deadline and the idle timeout).  Everything A sends back is dropped.
 */
#include "fuzz_common.h"

#include "keys.h"
#include "session.h"

static struct tsync_node *fz_a, *fz_b;
static struct cert_info fz_ia, fz_ib;
static uint8_t *fz_hs;
static size_t fz_hslen;

static void
load_info(const char *name, struct cert_info *ci)
{
	char path[700], err[256];
	X509 *c;

	snprintf(path, sizeof(path), "%s/%s/node.crt", fz_root(), name);
	if ((c = cert_load(path, err, sizeof(err))) == NULL ||
	    cert_parse(c, ci) != 0) {
		fprintf(stderr, "fuzz: %s: %s\n", path, err);
		abort();
	}
	X509_free(c);
}

static void
drain(struct sess *s, uint64_t now)
{
	struct sess_action a;
	size_t n;

	while (sess_poll(s, now, &a))
		;
	(void)sess_pending(s, &n);
	sess_sent(s, n);
}

static struct sess *
street_session(uint64_t now)
{
	struct sess_cfg c;

	memset(&c, 0, sizeof(c));
	c.node = fz_a;
	c.peer = &fz_ib;
	c.peer_addr = "fuzz";
	return sess_new(&c, now);
}

/* Records B's HELLO and VV, as B sends them to A. */
static void
record_handshake(void)
{
	struct sess_action act;
	struct sess_cfg c;
	struct sess *a = street_session(0), *b;
	const uint8_t *p;
	size_t n;

	memset(&c, 0, sizeof(c));
	c.node = fz_b;
	c.peer = &fz_ia;
	b = sess_new(&c, 0);
	if (a == NULL || b == NULL)
		abort();
	p = sess_pending(a, &n); /* A's HELLO */
	if (n == 0 || sess_feed(b, p, n) != 0)
		abort();
	while (sess_poll(b, 0, &act))
		;
	p = sess_pending(b, &fz_hslen); /* B's HELLO, then its VV */
	if (fz_hslen == 0 || (fz_hs = malloc(fz_hslen)) == NULL)
		abort();
	memcpy(fz_hs, p, fz_hslen);
	sess_free(a);
	sess_free(b);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_a = fz_open_node("street", "gangzha/qinzao", "office");
	fz_b = fz_open_node("village", "gangzha/qinzao/feiqiao", "office");
	fz_sql(fz_b, "INSERT INTO cases(id, scope, title) VALUES"
		     "('c1', 'gangzha/qinzao/feiqiao', 'fence'),"
		     "('c2', 'gangzha/qinzao/feiqiao', 'water')");
	fz_sql(fz_b, "UPDATE cases SET title = 'wall' WHERE id = 'c1'");
	load_info("street", &fz_ia);
	load_info("village", &fz_ib);
	record_handshake();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t chunks[16] = {0,  1,  2,   3,   4,   5,
					  7,  8,  13,  16,  31,  64,
					  100, 512, 4096, 65536};
	struct sess *s;
	uint64_t now = 1000, step;
	size_t chunk, off;

	if (size < 1)
		return 0;
	chunk = chunks[data[0] & 0x0f];
	step = (uint64_t)(data[0] >> 4) * 1500;
	data++;
	size--;
	if ((s = street_session(now)) == NULL)
		abort();
	if (sess_feed(s, fz_hs, fz_hslen) != 0 || sess_failed(s)) {
		fprintf(stderr, "fuzz: the recorded handshake failed\n");
		abort();
	}
	drain(s, now);
	for (off = 0; off < size && !sess_closed(s);) {
		size_t k = chunk == 0 || chunk > size - off ? size - off
							     : chunk;

		(void)sess_feed(s, data + off, k);
		off += k;
		now += step;
		drain(s, now);
	}
	drain(s, now + 60000); /* timers after the input ends */
	sess_free(s);
	return 0;
}
