/*
 * chaos_proxy.c - tsync_chaos [--seed N] LPORT TPORT, a fault-injecting
 * TCP proxy for tests.  It forwards each connection to 127.0.0.1:LPORT
 * on to 127.0.0.1:TPORT.  At random points drawn from the seed it cuts a
 * connection (closes both sides after a random number of bytes), stalls
 * one direction (forwards nothing for 50 to 500 ms) or slows it (forwards
 * the next bytes in small chunks with delays).  It logs one line per fault
 * to stderr and runs until it is killed.  State hangs off the handles'
 * data pointers: a struct proxy for the listener, a struct pconn per
 * connection and a struct dir per direction.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#define CHUNK 512 /* bytes per write while slow */

struct proxy {
	uv_loop_t *loop;
	uv_tcp_t listener;
	struct sockaddr_in target;
	uint64_t rng;
	unsigned conns;
};

struct dir {
	struct pconn *pc;
	const char *name;
	uv_tcp_t *from, *to;
	uv_timer_t timer;
	char q[65536]; /* q[head, qlen) waits; read only while empty */
	size_t head, qlen;
	uint64_t fwd, next_fault, stall_until, slow_left;
};

struct pconn {
	struct proxy *px;
	unsigned id;
	uv_tcp_t cli, srv;
	uv_connect_t creq;
	struct dir d[2]; /* d[0] client to target, d[1] back */
	uint64_t total, cut_at;
	int closing, open;
};

static void pump(struct dir *d);

/* xorshift64*, the seeded source of every decision: lo to hi. */
static uint64_t
rnd(struct proxy *px, uint64_t lo, uint64_t hi)
{
	px->rng ^= px->rng >> 12;
	px->rng ^= px->rng << 25;
	px->rng ^= px->rng >> 27;
	return lo + (px->rng * 2685821657736338717ULL >> 11) % (hi - lo + 1);
}

static void
on_closed(uv_handle_t *h)
{
	struct pconn *pc = ((struct dir *)h->data)->pc;

	if (--pc->open == 0)
		free(pc);
}

static void
pconn_close(struct pconn *pc)
{
	uv_handle_t *h[4] = {(uv_handle_t *)&pc->cli, (uv_handle_t *)&pc->srv,
			     (uv_handle_t *)&pc->d[0].timer,
			     (uv_handle_t *)&pc->d[1].timer};
	int i;

	if (pc->closing)
		return;
	pc->closing = 1;
	for (i = 0; i < 4; i++)
		uv_close(h[i], on_closed);
}

static void
on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct dir *d = h->data;

	(void)hint;
	*b = uv_buf_init(d->q + d->qlen, (unsigned)(sizeof(d->q) - d->qlen));
}

static void
on_read(uv_stream_t *h, ssize_t nread, const uv_buf_t *b)
{
	struct dir *d = h->data;

	(void)b;
	if (nread < 0) {
		pconn_close(d->pc);
		return;
	}
	d->qlen += (size_t)nread;
	pump(d);
}

static void
on_write(uv_write_t *req, int status)
{
	struct dir *d = req->data;

	free(req);
	if (status < 0)
		pconn_close(d->pc);
}

static void
on_timer(uv_timer_t *t)
{
	pump(t->data);
}

/* Draws the next stall or slow stretch of a direction. */
static void
fault(struct dir *d)
{
	struct proxy *px = d->pc->px;
	uint64_t ms = 0;

	if (rnd(px, 0, 1) == 0) {
		ms = rnd(px, 50, 500);
		d->stall_until = uv_now(px->loop) + ms;
	} else {
		d->slow_left = rnd(px, 4096, 65536);
	}
	fprintf(stderr, "chaos: conn %u %s: %s %llu %s after %llu bytes\n",
		d->pc->id, d->name, ms ? "stall" : "slow for",
		(unsigned long long)(ms ? ms : d->slow_left),
		ms ? "ms" : "bytes", (unsigned long long)d->fwd);
	d->next_fault = d->fwd + rnd(px, 16384, 2u << 20);
}

/*
 * Forwards what is queued, as the faults of the moment allow.  It reads
 * only while nothing waits, so a stall or a slow stretch holds the sender
 * back through TCP.
 */
static void
pump(struct dir *d)
{
	struct pconn *pc = d->pc;
	uint64_t now = uv_now(pc->px->loop);
	uv_write_t *w;
	uv_buf_t b;
	size_t n;

	while (!pc->closing && d->head < d->qlen) {
		if (now < d->stall_until) {
			uv_timer_start(&d->timer, on_timer,
				       d->stall_until - now, 0);
			uv_read_stop((uv_stream_t *)d->from);
			return;
		}
		n = d->qlen - d->head;
		if (d->slow_left > 0 && n > CHUNK)
			n = CHUNK;
		if (pc->cut_at > 0 && pc->total + n >= pc->cut_at)
			n = (size_t)(pc->cut_at - pc->total);
		/* The bytes travel right behind their request. */
		if ((w = malloc(sizeof(*w) + n)) == NULL)
			break;
		b = uv_buf_init((char *)(w + 1), (unsigned)n);
		memcpy(b.base, d->q + d->head, n);
		w->data = d;
		if (uv_write(w, (uv_stream_t *)d->to, &b, 1, on_write) < 0) {
			free(w);
			break;
		}
		d->head += n;
		d->fwd += n;
		if ((pc->total += n) == pc->cut_at) {
			fprintf(stderr, "chaos: conn %u: cut after %llu bytes\n",
				pc->id, (unsigned long long)pc->total);
			break;
		}
		if (d->fwd >= d->next_fault)
			fault(d);
		if (d->slow_left > 0) {
			d->slow_left -= n < d->slow_left ? n : d->slow_left;
			d->stall_until = now + rnd(pc->px, 1, 8);
		}
	}
	if (d->head < d->qlen || (pc->cut_at && pc->total >= pc->cut_at))
		pconn_close(pc); /* a cut, or no memory */
	d->head = d->qlen = 0;
	if (!pc->closing)
		uv_read_start((uv_stream_t *)d->from, on_alloc, on_read);
}

static void
on_connect(uv_connect_t *req, int status)
{
	struct pconn *pc = req->data;

	if (status < 0 && !pc->closing)
		fprintf(stderr, "chaos: conn %u: target refused: %s\n", pc->id,
			uv_strerror(status));
	if (status < 0) {
		pconn_close(pc);
		return;
	}
	pump(&pc->d[0]); /* starts reading both ways */
	pump(&pc->d[1]);
}

static void
on_connection(uv_stream_t *l, int status)
{
	struct proxy *px = l->data;
	struct pconn *pc;
	int i;

	if (status < 0 || (pc = calloc(1, sizeof(*pc))) == NULL)
		return;
	pc->px = px;
	pc->id = ++px->conns;
	pc->open = 4;
	pc->creq.data = pc;
	uv_tcp_init(px->loop, &pc->cli);
	uv_tcp_init(px->loop, &pc->srv);
	for (i = 0; i < 2; i++) {
		struct dir *d = &pc->d[i];

		d->pc = pc;
		d->name = i == 0 ? "up" : "down";
		d->from = i == 0 ? &pc->cli : &pc->srv;
		d->to = i == 0 ? &pc->srv : &pc->cli;
		uv_timer_init(px->loop, &d->timer);
		d->from->data = d->timer.data = d;
		d->next_fault = rnd(px, 16384, 2u << 20);
	}
	/* Three connections in four are cut, after 4 KiB to 8 MiB. */
	if (rnd(px, 0, 3) != 0)
		pc->cut_at = rnd(px, 4096, 8u << 20);
	if (uv_accept(l, (uv_stream_t *)&pc->cli) != 0 ||
	    uv_tcp_connect(&pc->creq, &pc->srv,
			   (const struct sockaddr *)&px->target,
			   on_connect) != 0)
		pconn_close(pc);
}

static long
port(const char *s)
{
	char *end;
	long p = strtol(s, &end, 10);

	return *end == '\0' && p > 0 && p < 65536 ? p : -1;
}

int
main(int argc, char **argv)
{
	struct proxy px;
	struct sockaddr_in addr;
	uv_loop_t loop;
	unsigned long long seed = 1;
	long lport, tport;

	memset(&px, 0, sizeof(px));
	if (argc == 5 && strcmp(argv[1], "--seed") == 0) {
		seed = strtoull(argv[2], NULL, 10);
		argv += 2;
		argc -= 2;
	}
	if (argc != 3 || (lport = port(argv[1])) < 0 ||
	    (tport = port(argv[2])) < 0) {
		fprintf(stderr, "usage: tsync_chaos [--seed N] LPORT TPORT\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN); /* a write to a dead peer is just a cut */
	px.rng = seed * 0x9e3779b97f4a7c15ULL + 1;
	uv_loop_init(&loop);
	px.loop = &loop;
	uv_ip4_addr("127.0.0.1", (int)tport, &px.target);
	uv_ip4_addr("127.0.0.1", (int)lport, &addr);
	uv_tcp_init(px.loop, &px.listener);
	px.listener.data = &px;
	if (uv_tcp_bind(&px.listener, (const struct sockaddr *)&addr, 0) != 0 ||
	    uv_listen((uv_stream_t *)&px.listener, 64, on_connection) != 0) {
		fprintf(stderr, "tsync_chaos: cannot listen on port %ld\n",
			lport);
		return 1;
	}
	fprintf(stderr, "chaos: seed %llu, 127.0.0.1:%ld -> 127.0.0.1:%ld\n",
		seed, lport, tport);
	return uv_run(px.loop, UV_RUN_DEFAULT);
}
