/*
 * sim.h - the deterministic simulator: a whole district in one process.
 *
 * Eight real nodes (struct tsync_node on real SQLite files) run the real
 * session state machine (replication/session.c) and the real capture,
 * apply and merge code.  Only the network, the clock and the crashes are
 * simulated, all driven by one seeded PRNG, so a seed replays exactly.
 *
 *   district gangzha --- street qinzao --- villages feiqiao, huangni
 *                    \-- street tangzha -- villages shigang, xinsheng
 *                    \-- auditor (role auditor, scope gangzha)
 *
 * The files:
 *   sim.c        arguments, the identities made once per process, one
 *                seed from start to finish (the main loop, healing);
 *   sim_net.c    links: the two sessions of a link, the bytes between
 *                them (delays, chunking, cuts, time jumps);
 *   sim_work.c   what the offices do (writes, conflicts, settling) and
 *                the other faults (crashes, replayed and reordered
 *                batches, bundles);
 *   sim_check.c  what must hold once every link healed and the network
 *                is quiet.
 *
 * Nothing here is global: a run is a struct sim.
 */
#ifndef TSYNC_SIM_H
#define TSYNC_SIM_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "tiersync/tiersync.h"

struct sess;

/* splitmix64: small, fast, and good enough to drive a simulation. */
struct rng {
	uint64_t s;
};

static inline uint64_t
rng_next(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A number in [0, n), or 0 when n is 0. */
static inline uint64_t
rng_below(struct rng *r, uint64_t n)
{
	return n == 0 ? 0 : rng_next(r) % n;
}

/* 1 with probability per_mille / 1000. */
static inline int
rng_chance(struct rng *r, unsigned per_mille)
{
	return rng_below(r, 1000) < per_mille;
}

enum {
	N_DISTRICT, N_QINZAO, N_TANGZHA, N_FEIQIAO, N_HUANGNI, N_SHIGANG,
	N_XINSHENG, N_AUDITOR, SIM_NODES
};
#define SIM_LINKS (SIM_NODES - 1) /* every node but the district has a parent */
#define SIM_OWN_MAX 16            /* streams one node originates */

struct sim;

struct sim_node {
	struct sim *sim;
	int idx;
	const char *name, *scope, *role;
	int parent;               /* index, or -1 for the district */
	char dir[PATH_MAX];
	struct tsync_ops ops;     /* now_ms reads the simulated clock */
	struct rng rng;           /* ops.random */
	struct tsync_node *n;     /* NULL while crashed */
	uint64_t id;
	int64_t skew_ms;          /* this office's clock minus true time */
	uint64_t up_at;           /* crashed: reopens at this time */
	unsigned next_row;        /* rows made here are "<name>-<k>" */
	struct {
		char scope[256];
		uint64_t seq;
	} own[SIM_OWN_MAX];       /* own streams, as far as acknowledged */
	unsigned nown;
};

/* Bytes in flight in one direction of a link, in order. */
struct chunk {
	uint8_t *p;
	size_t len;
	uint64_t at; /* delivery time */
};

struct pipe {
	struct chunk *q;
	size_t head, n, cap; /* q[head..n) are in flight */
	uint64_t last_at;
};

struct sim_link {
	int node[2];          /* [0] the child, [1] the parent */
	int up;
	uint64_t up_at;       /* down: reconnects at this time */
	struct sess *s[2];    /* s[i] runs on node[i] */
	int synced[2];
	struct pipe pipe[2];  /* pipe[i] carries bytes from side i */
	unsigned latency;     /* ms, drawn per connection */
	char addr[2][64];     /* "sim:<name>", the sessions' peer_addr */
};

/* A commit that returned 0, one txn of it. */
struct ack {
	int node;
	char scope[256];
	uint64_t seq;
	uint8_t hash[32];
};

/* Every row id the simulator made, with its scope. */
struct rowrec {
	char id[48];
	char scope[64];
};

struct mail {
	char path[PATH_MAX];
	int dst;
	uint64_t at;   /* delivery time */
	int left;      /* deliveries left (2: it is delivered twice) */
};

/* What a run did, summed over seeds and printed at the end (sim.c). */
enum {
	SS_COMMITS, SS_REFUSED, SS_TXNS, SS_CONFLICTS, SS_RESOLVES, SS_CUTS,
	SS_CRASHES, SS_ABANDONED, SS_JUMPS, SS_CONNS, SS_BYTES, SS_REPLAYS,
	SS_REPLAY_APPLIED, SS_REPLAY_DUP, SS_REPLAY_REFUSED, SS_BUNDLES,
	SS_IMPORTS, SS_HEAL_STEPS, SS__COUNT
};

/* Knobs, per mille per step unless said otherwise. */
struct sim_params {
	unsigned steps;
	unsigned p_write, p_cut, p_crash, p_replay, p_bundle, p_mail,
		p_resolve, p_jump, p_chunk_cut;
};

struct sim {
	uint64_t seed;
	struct rng rng;
	uint64_t now; /* true simulated time, ms */
	int verbose, phase_heal;
	char root[256];
	struct sim_params prm;
	struct sim_node node[SIM_NODES];
	struct sim_link link[SIM_LINKS];
	struct ack *acks;
	size_t nacks, capacks;
	struct rowrec *rows;
	size_t nrows, caprows;
	struct mail *mail;
	size_t nmail, capmail;
	unsigned nbundles;
	unsigned failures;
	uint64_t fingerprint; /* FNV-1a over every event: same seed, same run */
	uint64_t st[SS__COUNT];
};

/* sim.c */
void sim_event(struct sim *sm, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void sim_fail(struct sim *sm, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
uint64_t sim_node_now(const struct sim_node *sn);
int sim_node_open(struct sim *sm, struct sim_node *sn);
void *sim_grow(void *p, size_t *cap, size_t n, size_t size);

/* sim_net.c */
void net_link_up(struct sim *sm, struct sim_link *l);
void net_link_down(struct sim *sm, struct sim_link *l, const char *why);
void net_node_down(struct sim *sm, int node, const char *why);
void net_notify(struct sim *sm, int node, const struct sess *except);
void net_cut(struct sim *sm);
void net_step(struct sim *sm);
int net_quiet(struct sim *sm);
uint64_t net_next_at(const struct sim *sm);
void net_free(struct sim *sm);

/* sim_work.c */
void work_write(struct sim *sm);
void work_crash(struct sim *sm);
void work_replay(struct sim *sm);
void work_bundle(struct sim *sm);
void work_mail(struct sim *sm, int all);
void work_resolve(struct sim *sm);
void work_record(struct sim *sm, struct sim_node *sn, int committed);
const char *work_row_scope(const struct sim *sm, const char *id);

/* sim_check.c */
void check_all(struct sim *sm);

#endif
