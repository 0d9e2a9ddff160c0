/*
 * sim_net.c - the simulated network: each link is the two session state
 * machines of a parent-child pair (replication/session.c, unchanged),
 * joined by two in-order byte pipes.
 *
 * How each fault of a byte stream is modelled:
 *  - Delay: each connection draws a latency (1..80 ms); every chunk is
 *    delivered at now + latency + jitter, never before the chunk ahead of
 *    it (TCP keeps order).
 *  - Chunking: what a session has to send is cut into chunks of random
 *    sizes (1 byte, a few bytes, up to 1.5 KiB, or all of it), so frames
 *    arrive split at every possible byte and several frames arrive at once.
 *  - Drops and cuts: net_cut() kills a random connected link at once: the
 *    next chunk in flight is delivered only up to a random byte, the rest
 *    of both pipes is lost, and both sessions are freed (a half-received
 *    frame dies with its session).  Rarely a chunk itself carries the cut
 *    (p_chunk_cut), so links also die in the middle of heavy traffic.  The
 *    link reconnects later with two new sessions, which resume from the
 *    version vectors; that is what a dropped TCP connection is.
 *  - Stalls: a time jump (sim.c) stops every clock-driven exchange at once;
 *    the sessions then time out ("no word from ...") as a real link whose
 *    peer froze would, and reconnect.
 * Duplicated and reordered batches cannot happen inside one TCP stream;
 * they are modelled at the message level in sim_work.c.
 *
 * Every action a session reports is handled at once, as net.c does after
 * each read: SA_APPLIED tells the node's other sessions to push what
 * arrived (live relay), SA_CLOSE tears the link down.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"
#include "sim.h"

static void
pipe_clear(struct pipe *p)
{
	size_t i;

	for (i = p->head; i < p->n; i++)
		free(p->q[i].p);
	free(p->q);
	memset(p, 0, sizeof(*p));
}

static void
pipe_push(struct pipe *p, const uint8_t *bytes, size_t len, uint64_t at)
{
	struct chunk *c;

	if (p->n == p->cap && p->head > 0) {
		memmove(p->q, p->q + p->head, (p->n - p->head) * sizeof(*p->q));
		p->n -= p->head;
		p->head = 0;
	}
	p->q = sim_grow(p->q, &p->cap, p->n, sizeof(*p->q));
	c = &p->q[p->n++];
	if ((c->p = malloc(len)) == NULL)
		abort();
	memcpy(c->p, bytes, len);
	c->len = len;
	c->at = at < p->last_at ? p->last_at : at;
	p->last_at = c->at;
}

static size_t
pipe_bytes(const struct pipe *p)
{
	size_t i, b = 0;

	for (i = p->head; i < p->n; i++)
		b += p->q[i].len;
	return b;
}

void
net_link_up(struct sim *sm, struct sim_link *l)
{
	struct sess_cfg cfg;
	int i;

	memset(&cfg, 0, sizeof(cfg));
	/* Small batches and windows: many batches, many cut points. */
	cfg.window = 1 + (unsigned)rng_below(&sm->rng, 4);
	cfg.batch_txns = 1 + (unsigned)rng_below(&sm->rng, 12);
	cfg.batch_bytes = rng_chance(&sm->rng, 300) ? 1024 : 0;
	l->latency = 1 + (unsigned)rng_below(&sm->rng, 80);
	for (i = 0; i < 2; i++) {
		struct sim_node *sn = &sm->node[l->node[i]];

		/* The session keeps the pointer: the link owns the text. */
		snprintf(l->addr[i], sizeof(l->addr[i]), "sim:%s", sn->name);
		cfg.node = sn->n;
		cfg.peer_addr = l->addr[1 - i];
		l->s[i] = sess_new(&cfg, sim_node_now(sn));
		if (l->s[i] == NULL)
			abort();
		l->synced[i] = 0;
	}
	l->up = 1;
	sm->st[SS_CONNS]++;
	sim_event(sm, "link %s-%s up (window %u, batch %u, %ums)",
		  sm->node[l->node[0]].name, sm->node[l->node[1]].name,
		  cfg.window, cfg.batch_txns, l->latency);
}

void
net_link_down(struct sim *sm, struct sim_link *l, const char *why)
{
	int i;

	if (!l->up)
		return;
	for (i = 0; i < 2; i++) {
		sess_free(l->s[i]);
		l->s[i] = NULL;
		pipe_clear(&l->pipe[i]);
	}
	l->up = 0;
	/* Mostly a quick reconnect; sometimes a long outage, during which
	 * the two sides write concurrently. */
	l->up_at = sm->now + 20 + rng_below(&sm->rng, 1500);
	if (rng_chance(&sm->rng, 150))
		l->up_at += 1000 + rng_below(&sm->rng, 5000);
	sim_event(sm, "link %s-%s down: %s", sm->node[l->node[0]].name,
		  sm->node[l->node[1]].name, why);
}

void
net_node_down(struct sim *sm, int node, const char *why)
{
	int i;

	for (i = 0; i < SIM_LINKS; i++)
		if (sm->link[i].node[0] == node || sm->link[i].node[1] == node)
			net_link_down(sm, &sm->link[i], why);
}

void
net_notify(struct sim *sm, int node, const struct sess *except)
{
	int i, j;

	for (i = 0; i < SIM_LINKS; i++)
		for (j = 0; j < 2; j++)
			if (sm->link[i].up && sm->link[i].node[j] == node &&
			    sm->link[i].s[j] != except)
				sess_notify(sm->link[i].s[j]);
}

/* Handles what side `i` of l reports; the link may go down. */
static void
actions(struct sim *sm, struct sim_link *l, int i)
{
	struct sim_node *sn = &sm->node[l->node[i]];
	struct sess_action a;

	while (l->up && sess_poll(l->s[i], sim_node_now(sn), &a)) {
		switch (a.type) {
		case SA_SYNCED:
			l->synced[i] = 1;
			sim_event(sm, "%s synced: %s", sn->name, a.text);
			if (a.code != 0)
				sim_fail(sm, "%s: %s", sn->name, a.text);
			break;
		case SA_APPLIED:
			sim_event(sm, "%s %s", sn->name, a.text);
			/* Receipts and evidence the session wrote are
			 * local commits of the node's own streams. */
			if (strncmp(a.text, "recorded ", 9) == 0)
				work_record(sm, sn, 1);
			net_notify(sm, l->node[i], l->s[i]);
			break;
		case SA_CLOSE:
			/* Only the idle timeout after a time jump is a
			 * legitimate end; anything else is a product bug. */
			if (strstr(a.text, "no word from") == NULL)
				sim_fail(sm, "session of %s closed: %s",
					 sn->name, a.text);
			net_link_down(sm, l, a.text);
			return;
		default:
			sim_event(sm, "%s: %s", sn->name, a.text);
			break;
		}
	}
}

/* Moves what side i has to send into its pipe, in random chunks. */
static void
send_side(struct sim *sm, struct sim_link *l, int i)
{
	const uint8_t *p;
	size_t n, k;

	while ((p = sess_pending(l->s[i], &n)), n > 0) {
		switch (rng_below(&sm->rng, 4)) {
		case 0:
			k = n;
			break;
		case 1:
			k = 1 + rng_below(&sm->rng, 16);
			break;
		default:
			k = 1 + rng_below(&sm->rng, 1500);
			break;
		}
		if (k > n)
			k = n;
		pipe_push(&l->pipe[i], p, k,
			  sm->now + l->latency +
				  rng_below(&sm->rng, l->latency + 1));
		sess_sent(l->s[i], k);
		sm->st[SS_BYTES] += k;
	}
}

/* Feeds n bytes to side i and handles what that makes it report. */
static void
feed(struct sim *sm, struct sim_link *l, int i, const uint8_t *p, size_t n)
{
	if (n > 0)
		sess_feed(l->s[i], p, n);
	actions(sm, l, i);
}

/* Feeds side i's due chunks to the other side. */
static void
deliver(struct sim *sm, struct sim_link *l, int i)
{
	struct pipe *p = &l->pipe[i];

	while (l->up && p->head < p->n && p->q[p->head].at <= sm->now) {
		struct chunk c = p->q[p->head++];
		int cut = !sm->phase_heal &&
			  rng_chance(&sm->rng, sm->prm.p_chunk_cut);

		feed(sm, l, 1 - i, c.p,
		     cut ? rng_below(&sm->rng, c.len) : c.len);
		free(c.p);
		if (cut) {
			sm->st[SS_CUTS]++;
			net_link_down(sm, l, "cut inside a chunk");
		}
	}
}

void
net_cut(struct sim *sm)
{
	struct sim_link *l = &sm->link[rng_below(&sm->rng, SIM_LINKS)];
	int i = (int)rng_below(&sm->rng, 2);
	struct pipe *p = &l->pipe[i];
	char why[64];

	if (!l->up)
		return;
	if (p->head < p->n) {
		struct chunk *c = &p->q[p->head];
		size_t keep = rng_below(&sm->rng, c->len);

		snprintf(why, sizeof(why), "cut after %zu of %zu bytes", keep,
			 pipe_bytes(p));
		feed(sm, l, 1 - i, c->p, keep);
	} else {
		snprintf(why, sizeof(why), "cut while idle");
	}
	sm->st[SS_CUTS]++;
	net_link_down(sm, l, why);
}

void
net_step(struct sim *sm)
{
	int k, i;

	for (k = 0; k < SIM_LINKS; k++) {
		struct sim_link *l = &sm->link[k];

		for (i = 0; i < 2 && l->up; i++)
			actions(sm, l, i);
		for (i = 0; i < 2 && l->up; i++)
			send_side(sm, l, i);
		for (i = 0; i < 2 && l->up; i++)
			deliver(sm, l, i);
	}
}

/* The delivery time of the next chunk in flight, or UINT64_MAX. */
uint64_t
net_next_at(const struct sim *sm)
{
	uint64_t at = UINT64_MAX;
	int k, i;

	for (k = 0; k < SIM_LINKS; k++)
		for (i = 0; i < 2; i++) {
			const struct pipe *p = &sm->link[k].pipe[i];

			if (sm->link[k].up && p->head < p->n &&
			    p->q[p->head].at < at)
				at = p->q[p->head].at;
		}
	return at;
}

/* 1 when every link is up, synced both ways and carries no byte. */
int
net_quiet(struct sim *sm)
{
	int k, i;
	size_t n;

	for (k = 0; k < SIM_LINKS; k++)
		for (i = 0; i < 2 && sm->link[k].up; i++)
			actions(sm, &sm->link[k], i);
	for (k = 0; k < SIM_LINKS; k++) {
		struct sim_link *l = &sm->link[k];

		if (!l->up || !l->synced[0] || !l->synced[1])
			return 0;
		for (i = 0; i < 2; i++) {
			sess_pending(l->s[i], &n);
			if (n > 0 || l->pipe[i].head < l->pipe[i].n)
				return 0;
		}
	}
	return 1;
}

void
net_free(struct sim *sm)
{
	int k;

	for (k = 0; k < SIM_LINKS; k++)
		net_link_down(sm, &sm->link[k], "end of run");
}
