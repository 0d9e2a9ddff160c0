/*
 * forge.c - tsync_forge: crafts the attacks a receiver must refuse, as
 * bundle files (or, for "inject", straight into a relay's log, as a
 * compromised relay would).  Test-only: it reaches into node internals.
 *
 *   tsync_forge scope NODE_DIR SCOPE OUT   txn of NODE in another SCOPE
 *   tsync_forge badsig NODE_DIR OUT        next txn, signed by a stray key
 *   tsync_forge chain NODE_DIR OUT         next txn, wrong prev hash
 *   tsync_forge gap NODE_DIR OUT           txn at head + 2
 *   tsync_forge equivocate NODE_DIR OUT    another txn at the head's seq
 *   tsync_forge backdate NODE_DIR OUT TAG [HOLDER_DIR]
 *                                          next txn of NODE after the head
 *                                          NODE (or HOLDER) holds, well
 *                                          signed, HLC of 2020 (a clock set
 *                                          back), row forged-backdate-TAG
 *   tsync_forge inject NODE_DIR RELAY_DIR [good]
 *                                          next txn of NODE (bad signature
 *                                          unless "good") put into RELAY's
 *                                          log without any check
 *   tsync_forge expire CA_DIR NODE_DIR     replaces NODE's certificate by
 *                                          an expired one from the CA
 *   tsync_forge rewrite NODE_DIR SEQ OLD NEW
 *                                          NODE's key holder rewrites its
 *                                          own history: the bytes OLD in
 *                                          its txn SEQ become NEW (same
 *                                          length), and SEQ..head are
 *                                          re-chained and re-signed with
 *                                          NODE's key, in its own log
 *
 * Hostile peers over the network, with NODE's real certificate over TLS
 * (each prints what happened and exits 0 if it could connect):
 *
 *   tsync_forge net NODE_DIR HOST:PORT pingflood SECONDS
 *        HELLO and VV, then PINGs as fast as the socket takes them, never
 *        reading, until the server drops the link or SECONDS pass; prints
 *        "server stopped reading after S s" when no byte was taken for
 *        3 s, then "closed after S s" or "still open after S s".
 *   tsync_forge net NODE_DIR HOST:PORT batchflood SECONDS
 *        the same with empty BATCHes, each answered by an ACK.
 *   tsync_forge net NODE_DIR HOST:PORT trickle SECONDS
 *        a frame that announces 1000 bytes, then one byte per second.
 *   tsync_forge net NODE_DIR HOST:PORT hold K SECONDS
 *        K links with the same identity, each sends HELLO; after SECONDS
 *        prints "open M" (links the server did not close).
 *   tsync_forge net NODE_DIR HOST:PORT raw K SECONDS
 *        K plain TCP connections that send nothing; prints "open M".
 */
#define _GNU_SOURCE /* POLLRDHUP */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "frame.h"
#include "node_int.h"
#include "tls.h"
#include "txn.h"

static void
die(const char *msg)
{
	fprintf(stderr, "tsync_forge: %s\n", msg);
	exit(1);
}

/* Encodes a one-row insert txn with HLC `ms` (0: now). */
static void
body_at(struct ts_buf *b, uint64_t origin, const char *scope, uint64_t seq,
	const uint8_t prev[32], const char *id, uint64_t ms)
{
	msgpack_packer pk;
	struct timespec ts;
	uint64_t hlc;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (ms == 0)
		ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	hlc = hlc_make(ms, 0);
	txn_packer(&pk, b);
	msgpack_pack_array(&pk, 9);
	msgpack_pack_uint8(&pk, TXN_FMT);
	msgpack_pack_uint64(&pk, origin);
	msgpack_pack_str_with_body(&pk, scope, strlen(scope));
	msgpack_pack_uint64(&pk, seq);
	msgpack_pack_bin_with_body(&pk, prev, 32);
	msgpack_pack_uint64(&pk, hlc);
	msgpack_pack_uint32(&pk, SCHEMA_VERSION);
	msgpack_pack_array(&pk, 1);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_str_with_body(&pk, "cases", 5);
	msgpack_pack_array(&pk, 1);
	msgpack_pack_str_with_body(&pk, "title", 5);
	msgpack_pack_array(&pk, 1);
	msgpack_pack_array(&pk, 6);
	msgpack_pack_uint8(&pk, 0);
	msgpack_pack_str_with_body(&pk, id, strlen(id));
	msgpack_pack_uint8(&pk, TXN_INSERT);
	msgpack_pack_uint64(&pk, 0);
	msgpack_pack_uint64(&pk, 0);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint8(&pk, 0);
	msgpack_pack_str_with_body(&pk, "forged", 6);
	msgpack_pack_uint64(&pk, 0);
	msgpack_pack_uint64(&pk, 0);
}

static void
body(struct ts_buf *b, uint64_t origin, const char *scope, uint64_t seq,
     const uint8_t prev[32], const char *id)
{
	body_at(b, origin, scope, seq, prev, id, 0);
}

static void
write_bundle(const char *out, struct tsync_node *n, const struct ts_buf *b,
	     const uint8_t sig[64])
{
	struct ts_buf f;
	msgpack_packer pk;
	size_t at;
	char *pem;
	size_t len;
	FILE *fp;

	ts_buf_init(&f, NULL, 0);
	at = frame_begin(&f, &pk);
	msgpack_pack_array(&pk, 6);
	msgpack_pack_uint8(&pk, WIRE_BUNDLE);
	msgpack_pack_uint8(&pk, 1);
	msgpack_pack_uint64(&pk, n->id);
	msgpack_pack_str_with_body(&pk, n->scope, strlen(n->scope));
	msgpack_pack_uint64(&pk, 0);
	msgpack_pack_array(&pk, 0);
	frame_end(&f, at);
	if (certs_pem(n, n->id, &pem, &len) == 0) {
		at = frame_begin(&f, &pk);
		msgpack_pack_array(&pk, 2);
		msgpack_pack_uint8(&pk, WIRE_CERT);
		msgpack_pack_bin_with_body(&pk, pem, len);
		frame_end(&f, at);
		free(pem);
	}
	at = frame_begin(&f, &pk);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint8(&pk, WIRE_BATCH);
	msgpack_pack_uint64(&pk, 1);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_bin_with_body(&pk, b->p, b->len);
	msgpack_pack_bin_with_body(&pk, sig, 64);
	frame_end(&f, at);
	at = frame_begin(&f, &pk);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint8(&pk, WIRE_END);
	msgpack_pack_uint64(&pk, 1);
	msgpack_pack_array(&pk, 0);
	frame_end(&f, at);
	if ((fp = fopen(out, "wb")) == NULL ||
	    fwrite(f.p, 1, f.len, fp) != f.len || fclose(fp) != 0)
		die("cannot write the bundle");
	ts_buf_free(&f);
}

static void
sign(EVP_PKEY *k, const struct ts_buf *b, uint8_t sig[64])
{
	uint8_t h[32];

	keys_sha256(b->p, b->len, h);
	if (txn_sign(k, h, sig) != 0)
		die("cannot sign");
}

static void
inject(struct tsync_node *relay, struct tsync_node *n, const struct ts_buf *b,
       const uint8_t sig[64], uint64_t seq)
{
	struct stream_head h;
	uint8_t hash[32];

	keys_sha256(b->p, b->len, hash);
	if (ts_log_head(relay, n->id, n->scope, strlen(n->scope), &h) != 0 &&
	    h.sid < 0 && seq != 1)
		die("relay lacks the stream");
	if (h.seq + 1 != seq)
		die("relay is not at the node's head");
	if (ts_store_exec(relay, "BEGIN") != 0 ||
	    ts_log_append(relay, &h, n->id, n->scope, strlen(n->scope), b->p,
		       b->len, hash, sig, 0, 1) != 0 ||
	    ts_store_exec(relay, "COMMIT") != 0)
		die(tsync_node_errmsg(relay));
}

/*
 * A key holder rewriting its own stream (protocol.md 8.3): edits txn
 * `from` in place, then re-chains and re-signs it and every txn after it
 * with the node's own key, so the stream verifies on its own.  Only a
 * receipt or a copy held elsewhere can tell.
 */
static void
rewrite(struct tsync_node *n, uint64_t from, const char *old, const char *nw)
{
	struct stream_head h;
	uint8_t oldh[32], newh[32], sig[64];
	uint64_t seq;
	size_t ol = strlen(old);

	if (strlen(nw) != ol || ol == 0)
		die("OLD and NEW must have the same length");
	if (ts_log_head(n, n->id, n->scope, strlen(n->scope), &h) != 0 ||
	    from < 1 || from > h.seq)
		die("no such txn in the node's own stream");
	if (ts_store_exec(n, "BEGIN") != 0)
		die(tsync_node_errmsg(n));
	for (seq = from; seq <= h.seq; seq++) {
		sqlite3_stmt *s;
		uint8_t *body, *at;
		size_t len;

		sqlite3_prepare_v2(n->db, "SELECT body, hash FROM ts_log WHERE"
					  " k = ?1",
				   -1, &s, NULL);
		sqlite3_bind_int64(s, 1, LOG_ROWID(h.sid, seq));
		if (sqlite3_step(s) != SQLITE_ROW)
			die("log row missing");
		len = (size_t)sqlite3_column_bytes(s, 0);
		body = malloc(len);
		if (body == NULL)
			die("no memory");
		memcpy(body, sqlite3_column_blob(s, 0), len);
		memcpy(oldh, sqlite3_column_blob(s, 1), 32);
		sqlite3_finalize(s);
		if (seq == from) {
			at = memmem(body, len, old, ol);
			if (at == NULL)
				die("OLD is not in that txn");
			memcpy(at, nw, ol);
		} else {
			/* prev is the old hash of seq-1: now newh */
			at = memmem(body, len, h.hash, 32);
			if (at == NULL)
				die("prev not found");
			memcpy(at, newh, 32);
		}
		memcpy(h.hash, oldh, 32); /* the old hash of this seq */
		keys_sha256(body, len, newh);
		if (txn_sign(n->key, newh, sig) != 0)
			die("cannot sign");
		sqlite3_prepare_v2(n->db, "UPDATE ts_log SET body = ?2, hash = ?3,"
					  " sig = ?4 WHERE k = ?1",
				   -1, &s, NULL);
		sqlite3_bind_int64(s, 1, LOG_ROWID(h.sid, seq));
		sqlite3_bind_blob(s, 2, body, (int)len, SQLITE_STATIC);
		sqlite3_bind_blob(s, 3, newh, 32, SQLITE_STATIC);
		sqlite3_bind_blob(s, 4, sig, 64, SQLITE_STATIC);
		if (sqlite3_step(s) != SQLITE_DONE)
			die("cannot rewrite the log");
		sqlite3_finalize(s);
		free(body);
	}
	{
		sqlite3_stmt *s;

		sqlite3_prepare_v2(n->db, "UPDATE ts_streams SET hash = ?2 WHERE"
					  " sid = ?1",
				   -1, &s, NULL);
		sqlite3_bind_int64(s, 1, h.sid);
		sqlite3_bind_blob(s, 2, newh, 32, SQLITE_STATIC);
		if (sqlite3_step(s) != SQLITE_DONE)
			die("cannot move the head");
		sqlite3_finalize(s);
	}
	if (ts_store_exec(n, "COMMIT") != 0)
		die(tsync_node_errmsg(n));
}

static void
expire(const char *ca_dir, const char *node_dir)
{
	char path[PATH_MAX], err[256];
	EVP_PKEY *cak, *k;
	X509 *ca, *c, *old;
	struct cert_info ci;
	FILE *f;

	snprintf(path, sizeof(path), "%s/ca.key", ca_dir);
	cak = keys_load_private(path, err, sizeof(err));
	snprintf(path, sizeof(path), "%s/ca.crt", ca_dir);
	ca = cert_load(path, err, sizeof(err));
	snprintf(path, sizeof(path), "%s/node.key", node_dir);
	k = keys_load_private(path, err, sizeof(err));
	snprintf(path, sizeof(path), "%s/node.crt", node_dir);
	old = cert_load(path, err, sizeof(err));
	if (cak == NULL || ca == NULL || k == NULL || old == NULL ||
	    cert_parse(old, &ci) != 0)
		die(err);
	c = cert_make_node(k, &ci, ca, cak, 1, ci.serial + 1);
	if (c == NULL)
		die("cannot make the certificate");
	/* Valid from two days ago to yesterday. */
	X509_gmtime_adj(X509_getm_notBefore(c), -2 * 86400L);
	X509_gmtime_adj(X509_getm_notAfter(c), -86400L);
	X509_sign(c, cak, NULL);
	if ((f = fopen(path, "w")) == NULL || !PEM_write_X509(f, c) ||
	    fclose(f) != 0)
		die("cannot write node.crt");
	X509_free(c);
	X509_free(old);
	X509_free(ca);
	EVP_PKEY_free(k);
	EVP_PKEY_free(cak);
}

/* ---- hostile peers over TLS ------------------------------------------ */

struct peer {
	int fd, dead;
	struct ts_tls tls;
};

static double
secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
dial(const char *addr)
{
	char host[256], *colon;
	struct addrinfo hints, *res = NULL;
	int fd;

	snprintf(host, sizeof(host), "%s", addr);
	if ((colon = strrchr(host, ':')) == NULL)
		die("address is not HOST:PORT");
	*colon = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0 || res == NULL)
		die("cannot resolve");
	fd = socket(res->ai_family, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) != 0)
		die("cannot connect");
	freeaddrinfo(res);
	return fd;
}

/* Sends all of p, waiting for room; -1 once the server dropped us. */
static int
send_all(struct peer *pe, const uint8_t *p, size_t n)
{
	while (n > 0 && !pe->dead) {
		ssize_t w = send(pe->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w > 0) {
			p += w;
			n -= (size_t)w;
		} else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			struct pollfd pf = {pe->fd, POLLOUT, 0};

			poll(&pf, 1, 50);
		} else {
			pe->dead = 1;
		}
	}
	return pe->dead ? -1 : 0;
}

/* Moves TLS output to the socket. */
static int
flush_tls(struct peer *pe)
{
	uint8_t b[16384];
	size_t k;

	while ((k = ts_tls_take(&pe->tls, b, sizeof(b))) > 0)
		if (send_all(pe, b, k) != 0)
			return -1;
	return 0;
}

static void
handshake(struct peer *pe, SSL_CTX *ctx, const char *addr)
{
	uint8_t b[16384];
	double until = secs() + 10;

	memset(pe, 0, sizeof(*pe));
	pe->fd = dial(addr);
	if (ts_tls_init(&pe->tls, ctx, 0) != 0)
		die("ts_tls_init");
	while (!pe->tls.done) {
		struct pollfd pf = {pe->fd, POLLIN, 0};
		ssize_t r;

		if (ts_tls_read(&pe->tls, b, 0) < 0)
			die(pe->tls.why);
		flush_tls(pe);
		if (pe->tls.done)
			break;
		if (secs() > until || poll(&pf, 1, 1000) < 0)
			die("handshake timed out");
		if (!(pf.revents & (POLLIN | POLLHUP)))
			continue;
		if ((r = recv(pe->fd, b, sizeof(b), 0)) <= 0)
			die("the server closed the link in the handshake");
		ts_tls_feed(&pe->tls, b, (size_t)r);
	}
}

/* Sends one plaintext frame through TLS. */
static int
send_frame(struct peer *pe, const struct ts_buf *f)
{
	size_t off = 0;

	while (off < f->len) {
		int w = ts_tls_write(&pe->tls, f->p + off, f->len - off);

		if (w <= 0)
			return -1;
		off += (size_t)w;
		if (flush_tls(pe) != 0)
			return -1;
	}
	return 0;
}

static void
hello_vv(struct tsync_node *n, struct ts_buf *b)
{
	msgpack_packer pk;
	size_t at = frame_begin(b, &pk);

	msgpack_pack_array(&pk, 9);
	msgpack_pack_uint8(&pk, WIRE_HELLO);
	msgpack_pack_uint32(&pk, PROTO_MIN);
	msgpack_pack_uint64(&pk, n->id);
	msgpack_pack_str_with_body(&pk, n->scope, strlen(n->scope));
	msgpack_pack_str_with_body(&pk, n->role, strlen(n->role));
	msgpack_pack_uint32(&pk, LINK_SCHEMA);
	msgpack_pack_uint8(&pk, 0);
	msgpack_pack_uint32(&pk, PROTO_VERSION);
	msgpack_pack_uint32(&pk, SCHEMA_VERSION);
	frame_end(b, at);
	at = frame_begin(b, &pk);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint8(&pk, WIRE_VV);
	msgpack_pack_array(&pk, 0);
	frame_end(b, at);
}

/* 1 if the server closed the socket (EOF or reset); reads and drops. */
static int
closed_by_server(struct peer *pe)
{
	uint8_t b[16384];
	ssize_t r;

	if (pe->dead)
		return 1;
	while ((r = recv(pe->fd, b, sizeof(b), MSG_DONTWAIT)) > 0)
		;
	if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
		pe->dead = 1;
	return pe->dead;
}

/* Appends 256 PINGs or empty BATCHes, as TLS records, to c. */
static void
flood_more(struct peer *pe, int batch, uint64_t *k, struct ts_buf *c)
{
	struct ts_buf b;
	msgpack_packer pk;
	uint8_t t[16384];
	size_t got;
	unsigned i;

	ts_buf_init(&b, NULL, 0);
	for (i = 0; i < 256; i++) {
		size_t at = frame_begin(&b, &pk);

		if (batch) {
			msgpack_pack_array(&pk, 3);
			msgpack_pack_uint8(&pk, WIRE_BATCH);
			msgpack_pack_uint64(&pk, ++*k);
			msgpack_pack_array(&pk, 0);
		} else {
			msgpack_pack_array(&pk, 2);
			msgpack_pack_uint8(&pk, WIRE_PING);
			msgpack_pack_uint64(&pk, ++*k);
		}
		frame_end(&b, at);
	}
	if (ts_tls_write(&pe->tls, b.p, b.len) != (int)b.len)
		die("ts_tls_write");
	while ((got = ts_tls_take(&pe->tls, t, sizeof(t))) > 0)
		ts_buf_put(c, t, got);
	ts_buf_free(&b);
}

/*
 * Floods PINGs or empty BATCHes, never reading, until the server drops
 * the link or SECONDS pass.  Says when the server stopped reading (no
 * byte taken for 3 s) and when it closed the link.
 */
static void
flood(struct tsync_node *n, SSL_CTX *ctx, const char *addr, int batch,
      double seconds)
{
	struct peer pe;
	struct ts_buf b, c;
	double t0, until, moved;
	uint64_t k = 0, bytes = 0;
	size_t off = 0;
	int stalled = 0;

	handshake(&pe, ctx, addr);
	ts_buf_init(&b, NULL, 0);
	ts_buf_init(&c, NULL, 0);
	hello_vv(n, &b);
	send_frame(&pe, &b);
	t0 = moved = secs();
	until = t0 + seconds;
	while (secs() < until && !pe.dead) {
		struct pollfd pf = {pe.fd, POLLOUT | POLLRDHUP, 0};
		ssize_t w;

		if (off == c.len) {
			c.len = off = 0;
			flood_more(&pe, batch, &k, &c);
		}
		w = send(pe.fd, c.p + off, c.len - off,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			off += (size_t)w;
			bytes += (uint64_t)w;
			moved = secs();
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EINTR) {
			pe.dead = 1;
			break;
		}
		if (!stalled && secs() - moved > 3) {
			stalled = 1;
			printf("server stopped reading after %.1f s, %llu "
			       "bytes sent\n",
			       moved - t0, (unsigned long long)bytes);
		}
		poll(&pf, 1, 100);
		if (pf.revents & (POLLHUP | POLLERR | POLLRDHUP))
			pe.dead = 1;
	}
	if (pe.dead)
		printf("closed after %.1f s, %llu frames, %llu bytes sent\n",
		       secs() - t0, (unsigned long long)k,
		       (unsigned long long)bytes);
	else
		printf("still open after %.1f s, %llu frames, %llu bytes "
		       "sent\n",
		       secs() - t0, (unsigned long long)k,
		       (unsigned long long)bytes);
	ts_buf_free(&b);
	ts_buf_free(&c);
	ts_tls_free(&pe.tls);
	close(pe.fd);
}

/* A HELLO that never completes: one byte per second. */
static void
trickle(SSL_CTX *ctx, const char *addr, double seconds)
{
	struct peer pe;
	struct ts_buf b;
	double t0, until;
	uint8_t x = 0x97;

	handshake(&pe, ctx, addr);
	ts_buf_init(&b, NULL, 0);
	ts_buf_put(&b, "\x00\x00\x03\xe8", 4);
	send_frame(&pe, &b);
	t0 = secs();
	until = t0 + seconds;
	while (secs() < until && !closed_by_server(&pe)) {
		b.len = 0;
		ts_buf_put(&b, &x, 1);
		send_frame(&pe, &b);
		sleep(1);
	}
	if (pe.dead)
		printf("closed after %.0f s\n", secs() - t0);
	else
		printf("still open after %.0f s\n", secs() - t0);
	ts_buf_free(&b);
	ts_tls_free(&pe.tls);
	close(pe.fd);
}

/* K links, TLS and HELLO (or plain TCP); prints how many stay open. */
static void
hold(struct tsync_node *n, SSL_CTX *ctx, const char *addr, int k,
     double seconds, int raw)
{
	struct peer *pe = calloc((size_t)k, sizeof(*pe));
	struct ts_buf b;
	int i, open = 0;
	double until;

	ts_buf_init(&b, NULL, 0);
	hello_vv(n, &b);
	for (i = 0; i < k; i++) {
		if (raw) {
			pe[i].fd = dial(addr);
			continue;
		}
		handshake(&pe[i], ctx, addr);
		send_frame(&pe[i], &b);
	}
	until = secs() + seconds;
	while (secs() < until) {
		for (i = 0; i < k; i++)
			closed_by_server(&pe[i]);
		usleep(100000);
	}
	for (i = 0; i < k; i++) {
		open += !closed_by_server(&pe[i]);
		if (!raw)
			ts_tls_free(&pe[i].tls);
		close(pe[i].fd);
	}
	printf("open %d of %d\n", open, k);
	ts_buf_free(&b);
	free(pe);
}

static int
net_main(int argc, char **argv)
{
	struct tsync_node *n = NULL;
	SSL_CTX *ctx;
	char err[256];
	const char *mode;

	if (argc < 6)
		die("usage: see the comment at the top of forge.c");
	if (tsync_node_open(argv[2], NULL, &n) != 0)
		die(tsync_node_errmsg(n));
	if ((ctx = ts_tls_ctx_new(argv[2], n, err, sizeof(err))) == NULL)
		die(err);
	mode = argv[4];
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(mode, "pingflood") == 0)
		flood(n, ctx, argv[3], 0, atof(argv[5]));
	else if (strcmp(mode, "batchflood") == 0)
		flood(n, ctx, argv[3], 1, atof(argv[5]));
	else if (strcmp(mode, "trickle") == 0)
		trickle(ctx, argv[3], atof(argv[5]));
	else if ((strcmp(mode, "hold") == 0 || strcmp(mode, "raw") == 0) &&
		 argc >= 7)
		hold(n, ctx, argv[3], (int)strtol(argv[5], NULL, 10),
		     atof(argv[6]), strcmp(mode, "raw") == 0);
	else
		die("unknown net mode");
	SSL_CTX_free(ctx);
	tsync_node_close(n);
	return 0;
}

int
main(int argc, char **argv)
{
	struct tsync_node *n = NULL;
	struct stream_head h;
	struct ts_buf b;
	uint8_t sig[64], zero[32] = {0};
	const char *mode;
	char id[64];

	if (argc < 4)
		die("usage: see the comment at the top of forge.c");
	mode = argv[1];
	if (strcmp(mode, "net") == 0)
		return net_main(argc, argv);
	if (strcmp(mode, "expire") == 0) {
		expire(argv[2], argv[3]);
		return 0;
	}
	if (tsync_node_open(argv[2], NULL, &n) != 0)
		die(tsync_node_errmsg(n));
	ts_buf_init(&b, NULL, 0);
	snprintf(id, sizeof(id), "forged-%s", mode);
	if (strcmp(mode, "scope") == 0 && argc == 5) {
		if (ts_log_head(n, n->id, argv[3], strlen(argv[3]), &h) != 0)
			h.seq = 0;
		body(&b, n->id, argv[3], h.seq + 1, h.seq ? h.hash : zero, id);
		sign(n->key, &b, sig);
		write_bundle(argv[4], n, &b, sig);
		goto done;
	}
	if (ts_log_head(n, n->id, n->scope, strlen(n->scope), &h) != 0)
		die("the node has written nothing yet");
	if (strcmp(mode, "badsig") == 0 || strcmp(mode, "inject") == 0) {
		EVP_PKEY *stray;
		int good = argc > 4 && strcmp(argv[4], "good") == 0;

		body(&b, n->id, n->scope, h.seq + 1, h.hash, id);
		if (keys_generate(&stray) != 0)
			die("keygen");
		sign(good ? n->key : stray, &b, sig);
		EVP_PKEY_free(stray);
		if (strcmp(mode, "badsig") == 0) {
			write_bundle(argv[3], n, &b, sig);
		} else {
			struct tsync_node *relay = NULL;

			if (tsync_node_open(argv[3], NULL, &relay) != 0)
				die(tsync_node_errmsg(relay));
			inject(relay, n, &b, sig, h.seq + 1);
			tsync_node_close(relay);
		}
	} else if (strcmp(mode, "backdate") == 0 && argc >= 5) {
		/* A laptop whose clock was set back: HLC at 2020-01-01,
		 * chained on the head that HOLDER (or NODE) holds. */
		struct tsync_node *holder = NULL;

		if (argc > 5 && (tsync_node_open(argv[5], NULL, &holder) != 0 ||
				 ts_log_head(holder, n->id, n->scope,
					  strlen(n->scope), &h) != 0))
			die("the holder has no stream of NODE");
		tsync_node_close(holder);
		snprintf(id, sizeof(id), "forged-backdate-%s", argv[4]);
		body_at(&b, n->id, n->scope, h.seq + 1, h.hash, id,
			1577836800000ULL);
		sign(n->key, &b, sig);
		write_bundle(argv[3], n, &b, sig);
	} else if (strcmp(mode, "rewrite") == 0 && argc == 6) {
		rewrite(n, strtoull(argv[3], NULL, 10), argv[4], argv[5]);
	} else if (strcmp(mode, "chain") == 0) {
		body(&b, n->id, n->scope, h.seq + 1, zero, id);
		sign(n->key, &b, sig);
		write_bundle(argv[3], n, &b, sig);
	} else if (strcmp(mode, "gap") == 0) {
		body(&b, n->id, n->scope, h.seq + 2, h.hash, id);
		sign(n->key, &b, sig);
		write_bundle(argv[3], n, &b, sig);
	} else if (strcmp(mode, "equivocate") == 0) {
		uint8_t prev[32];
		sqlite3_stmt *s;

		/* The hash of seq head-1 is the prev of the txn at head. */
		memcpy(prev, zero, 32);
		sqlite3_prepare_v2(n->db, "SELECT hash FROM ts_log WHERE k = ?1",
				   -1, &s, NULL);
		sqlite3_bind_int64(s, 1, LOG_ROWID(h.sid, h.seq - 1));
		if (h.seq > 1 && sqlite3_step(s) == SQLITE_ROW)
			memcpy(prev, sqlite3_column_blob(s, 0), 32);
		sqlite3_finalize(s);
		body(&b, n->id, n->scope, h.seq, prev, id);
		sign(n->key, &b, sig);
		write_bundle(argv[3], n, &b, sig);
	} else {
		die("unknown mode");
	}
done:
	ts_buf_free(&b);
	tsync_node_close(n);
	return 0;
}
