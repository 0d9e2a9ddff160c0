/*
 * sim.c - the simulator's driver: arguments, the identities made once per
 * process, and one seed from start to finish.  See sim.h for the layout.
 *
 *   test_sim                       500 seeds, 1..500 (what ctest runs)
 *   test_sim --seeds 5000 --from 1 any range of seeds
 *   test_sim --seed 1234 [-v]      one seed, optionally with its trace
 *
 * A seed's life: every node's replica is reset to the freshly initialised
 * template, the clocks get their skews, and then for prm.steps steps the
 * true time advances by a few milliseconds, the offices write, the faults
 * strike, and the network moves bytes.  Then every crashed node comes back,
 * every link is healed and the network runs until it is quiet (every
 * session synced, no byte in flight); sim_check.c then checks the result.
 *
 * Determinism: all choices come from struct sim's PRNG, seeded by the seed
 * alone; the nodes' identities are derived from fixed labels, so node ids
 * are the same in every process; iteration is always in index or SQL
 * ORDER BY order; no pointer value or real time reaches a decision.  Each
 * event is hashed into sm->fingerprint, and the first seed of every run is
 * run a second time to check that the two fingerprints agree.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "keys.h"
#include "sim.h"
#include "util.h"

/* 2026-01-01T00:00:00Z: where every seed's true clock starts. */
#define SIM_EPOCH_MS 1767225600000ULL
#define HEAL_MAX_STEPS 200000
/* Steps per seed by default: 500 seeds take about 2.5 minutes in a
 * release build and 8 under ASan on one core (mostly the final verify). */
#define SIM_STEPS 200

static const struct {
	const char *name, *scope, *role;
	int parent;
} defs[SIM_NODES] = {
	[N_DISTRICT] = {"district", "gangzha", "office", -1},
	[N_QINZAO] = {"qinzao", "gangzha/qinzao", "office", N_DISTRICT},
	[N_TANGZHA] = {"tangzha", "gangzha/tangzha", "office", N_DISTRICT},
	[N_FEIQIAO] = {"feiqiao", "gangzha/qinzao/feiqiao", "office",
		       N_QINZAO},
	[N_HUANGNI] = {"huangni", "gangzha/qinzao/huangni", "office",
		       N_QINZAO},
	[N_SHIGANG] = {"shigang", "gangzha/tangzha/shigang", "office",
		       N_TANGZHA},
	[N_XINSHENG] = {"xinsheng", "gangzha/tangzha/xinsheng", "office",
			N_TANGZHA},
	[N_AUDITOR] = {"auditor", "gangzha", "auditor", N_DISTRICT},
};

/* The replica files of a freshly initialised node, kept in memory. */
struct fixture {
	char root[256];
	uint8_t *db[SIM_NODES], *wal[SIM_NODES];
	size_t dblen[SIM_NODES], wallen[SIM_NODES];
};

/* ---- events and failures ---------------------------------------------- */

static void
fnv(uint64_t *h, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		*h ^= (uint8_t)s[i];
		*h *= 0x100000001b3ULL;
	}
}

void
sim_event(struct sim *sm, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (len < 0)
		return;
	fnv(&sm->fingerprint, line,
	    (size_t)len < sizeof(line) ? (size_t)len : sizeof(line) - 1);
	if (sm->verbose)
		fprintf(stderr, "%8llu %s\n",
			(unsigned long long)(sm->now - SIM_EPOCH_MS), line);
}

void
sim_fail(struct sim *sm, const char *fmt, ...)
{
	va_list ap;

	if (sm->failures++ >= 20)
		return;
	fprintf(stderr, "seed %llu: FAIL at t=%llu ms: ",
		(unsigned long long)sm->seed,
		(unsigned long long)(sm->now - SIM_EPOCH_MS));
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Returns p with room for element n (cap elements of `size`). */
void *
sim_grow(void *p, size_t *cap, size_t n, size_t size)
{
	size_t nc;
	void *np;

	if (n < *cap)
		return p;
	nc = *cap ? *cap * 2 : 64;
	if ((np = realloc(p, nc * size)) == NULL) {
		fprintf(stderr, "sim: out of memory\n");
		abort();
	}
	*cap = nc;
	return np;
}

/* ---- files -------------------------------------------------------------- */

static int
read_file(const char *path, uint8_t **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	long sz;

	*out = NULL;
	*len = 0;
	if (f == NULL)
		return errno == ENOENT ? 0 : -1;
	if (fseek(f, 0, SEEK_END) != 0 || (sz = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0 ||
	    (*out = malloc((size_t)sz + 1)) == NULL ||
	    fread(*out, 1, (size_t)sz, f) != (size_t)sz) {
		fclose(f);
		free(*out);
		*out = NULL;
		return -1;
	}
	*len = (size_t)sz;
	fclose(f);
	return 0;
}

static int
write_file(const char *path, const uint8_t *p, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int ok;

	if (fd < 0)
		return -1;
	ok = write(fd, p, len) == (ssize_t)len;
	ok = close(fd) == 0 && ok;
	return ok ? 0 : -1;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
rm_tree(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- identities, once per process --------------------------------------- */

/* An Ed25519 key derived from a label: the same in every process. */
static EVP_PKEY *
fixed_key(const char *label)
{
	uint8_t seed[32];

	keys_sha256(label, strlen(label), seed);
	return EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed,
					    sizeof(seed));
}

static int
make_node(struct fixture *fx, int i, EVP_PKEY *ca_key, X509 *ca)
{
	char dir[PATH_MAX], path[PATH_MAX + 16], label[64], err[512];
	struct cert_info ci;
	EVP_PKEY *k;
	X509 *crt = NULL;
	int rc = -1;

	snprintf(label, sizeof(label), "tiersync-sim node %s", defs[i].name);
	if ((k = fixed_key(label)) == NULL)
		return -1;
	memset(&ci, 0, sizeof(ci));
	ci.node_id = keys_node_id(k);
	snprintf(ci.scope, sizeof(ci.scope), "%s", defs[i].scope);
	snprintf(ci.role, sizeof(ci.role), "%s", defs[i].role);
	snprintf(ci.district, sizeof(ci.district), "gangzha");
	snprintf(dir, sizeof(dir), "%s/%s", fx->root, defs[i].name);
	if (mkdir(dir, 0700) != 0 ||
	    (crt = cert_make_node(k, &ci, ca, ca_key, 3650,
				  (uint64_t)i + 2)) == NULL)
		goto out;
	snprintf(path, sizeof(path), "%s/node.key", dir);
	if (keys_save_private(k, path, err, sizeof(err)) != 0)
		goto out;
	snprintf(path, sizeof(path), "%s/node.crt", dir);
	if (cert_save(crt, path, err, sizeof(err)) != 0)
		goto out;
	snprintf(path, sizeof(path), "%s/ca.crt", dir);
	if (cert_save(ca, path, err, sizeof(err)) != 0)
		goto out;
	if (tsync_node_init(dir, NULL, err, sizeof(err)) != 0) {
		fprintf(stderr, "sim: init %s: %s\n", dir, err);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/replica.db", dir);
	if (read_file(path, &fx->db[i], &fx->dblen[i]) != 0 ||
	    fx->dblen[i] == 0)
		goto out;
	snprintf(path, sizeof(path), "%s/replica.db-wal", dir);
	rc = read_file(path, &fx->wal[i], &fx->wallen[i]);
out:
	EVP_PKEY_free(k);
	X509_free(crt);
	return rc;
}

/*
 * Makes the CA and the eight identities in a new temporary directory, and
 * keeps each freshly initialised replica in memory: every seed starts from
 * these bytes, so no seed pays for key generation or schema creation.
 */
static int
fixture_make(struct fixture *fx)
{
	const char *tmp = getenv("TMPDIR");
	EVP_PKEY *ca_key;
	X509 *ca = NULL;
	int i, rc = -1;

	memset(fx, 0, sizeof(*fx));
	if (tmp == NULL || *tmp == '\0')
		tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(fx->root, sizeof(fx->root), "%s/tsync-sim-XXXXXX", tmp);
	if (mkdtemp(fx->root) == NULL) {
		fprintf(stderr, "sim: mkdtemp %s: %s\n", fx->root,
			strerror(errno));
		return -1;
	}
	if ((ca_key = fixed_key("tiersync-sim ca gangzha")) == NULL ||
	    (ca = cert_make_ca(ca_key, "gangzha", 3650)) == NULL)
		goto out;
	for (i = 0; i < SIM_NODES; i++)
		if (make_node(fx, i, ca_key, ca) != 0) {
			fprintf(stderr, "sim: cannot make node %s\n",
				defs[i].name);
			goto out;
		}
	rc = 0;
out:
	EVP_PKEY_free(ca_key);
	X509_free(ca);
	return rc;
}

static void
fixture_free(struct fixture *fx, int keep)
{
	int i;

	for (i = 0; i < SIM_NODES; i++) {
		free(fx->db[i]);
		free(fx->wal[i]);
	}
	if (keep)
		fprintf(stderr, "sim: kept %s\n", fx->root);
	else
		rm_tree(fx->root);
}

/* ---- nodes -------------------------------------------------------------- */

uint64_t
sim_node_now(const struct sim_node *sn)
{
	return (uint64_t)((int64_t)sn->sim->now + sn->skew_ms);
}

static uint64_t
ops_now(void *ctx)
{
	return sim_node_now(ctx);
}

static int
ops_random(void *ctx, void *buf, size_t n)
{
	struct sim_node *sn = ctx;
	uint8_t *p = buf;
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)rng_next(&sn->rng);
	return 0;
}

int
sim_node_open(struct sim *sm, struct sim_node *sn)
{
	int rc = tsync_node_open(sn->dir, &sn->ops, &sn->n);

	if (rc != 0) {
		sim_fail(sm, "reopen %s: %s", sn->name,
			 tsync_node_errmsg(sn->n));
		tsync_node_close(sn->n);
		sn->n = NULL;
		return rc;
	}
	/* A simulated crash closes a handle; the OS never loses its page
	 * cache, so fsync would only cost time. */
	sqlite3_exec(tsync_node_db(sn->n), "PRAGMA synchronous=OFF", NULL,
		     NULL, NULL);
	sim_event(sm, "open %s", sn->name);
	return 0;
}

/* Resets node i's replica to the template and sets its hooks. */
static int
node_reset(struct sim *sm, const struct fixture *fx, int i)
{
	struct sim_node *sn = &sm->node[i];
	char path[PATH_MAX + 16];

	sn->sim = sm;
	sn->idx = i;
	sn->name = defs[i].name;
	sn->scope = defs[i].scope;
	sn->role = defs[i].role;
	sn->parent = defs[i].parent;
	snprintf(sn->dir, sizeof(sn->dir), "%s/%s", fx->root, sn->name);
	sn->ops.now_ms = ops_now;
	sn->ops.random = ops_random;
	sn->ops.ctx = sn;
	sn->rng.s = rng_next(&sm->rng);
	snprintf(path, sizeof(path), "%s/replica.db-shm", sn->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/heads", sn->dir); /* a new history */
	unlink(path);
	snprintf(path, sizeof(path), "%s/replica.db-wal", sn->dir);
	unlink(path);
	if (fx->wallen[i] > 0 &&
	    write_file(path, fx->wal[i], fx->wallen[i]) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/replica.db", sn->dir);
	if (write_file(path, fx->db[i], fx->dblen[i]) != 0)
		return -1;
	return 0;
}

/* Opens node i for the first time in this seed. */
static int
node_start(struct sim *sm, int i)
{
	struct sim_node *sn = &sm->node[i];
	struct tsync_identity id;
	int rc;

	if ((rc = sim_node_open(sm, sn)) != 0)
		return rc;
	tsync_node_identity(sn->n, &id);
	sn->id = strtoull(id.node_id, NULL, 16);
	return 0;
}

/*
 * Clock skews: the district keeps true time; the others are a little off,
 * minutes behind, or days behind; one office runs far ahead, beyond the
 * five minutes that hlc_observe() accepts.
 */
static void
skews(struct sim *sm)
{
	int i, far = 1 + (int)rng_below(&sm->rng, N_XINSHENG);

	for (i = 1; i < SIM_NODES; i++) {
		struct sim_node *sn = &sm->node[i];

		switch (rng_below(&sm->rng, 4)) {
		case 0:
			sn->skew_ms = (int64_t)rng_below(&sm->rng, 1001) - 500;
			break;
		case 1:
			sn->skew_ms = -(int64_t)rng_below(&sm->rng, 300000);
			break;
		case 2:
			sn->skew_ms = -(int64_t)rng_below(&sm->rng, 259200000);
			break;
		default:
			sn->skew_ms = (int64_t)rng_below(&sm->rng, 2000);
			break;
		}
		if (i == far)
			sn->skew_ms = 360000 +
				      (int64_t)rng_below(&sm->rng, 3240000);
		sim_event(sm, "clock %s %+lld ms", sn->name,
			  (long long)sn->skew_ms);
	}
}

/* Reopens crashed nodes and reconnects links whose time has come. */
static void
revive(struct sim *sm, int all)
{
	int i;

	for (i = 0; i < SIM_NODES; i++) {
		struct sim_node *sn = &sm->node[i];

		if (sn->n == NULL && (all || sn->up_at <= sm->now))
			sim_node_open(sm, sn);
	}
	for (i = 0; i < SIM_LINKS; i++) {
		struct sim_link *l = &sm->link[i];

		if (!l->up && (all || l->up_at <= sm->now) &&
		    sm->node[l->node[0]].n != NULL &&
		    sm->node[l->node[1]].n != NULL)
			net_link_up(sm, l);
	}
}

/* One step of the faulty phase. */
static void
step(struct sim *sm)
{
	const struct sim_params *p = &sm->prm;

	sm->now += 1 + rng_below(&sm->rng, 15);
	if (rng_chance(&sm->rng, p->p_jump)) {
		uint64_t d = 5000 + rng_below(&sm->rng, 40000);

		sm->now += d;
		sm->st[SS_JUMPS]++;
		sim_event(sm, "time jumps %llu ms", (unsigned long long)d);
	}
	revive(sm, 0);
	if (rng_chance(&sm->rng, p->p_write))
		work_write(sm);
	if (rng_chance(&sm->rng, p->p_resolve))
		work_resolve(sm);
	if (rng_chance(&sm->rng, p->p_cut))
		net_cut(sm);
	if (rng_chance(&sm->rng, p->p_crash))
		work_crash(sm);
	if (rng_chance(&sm->rng, p->p_replay))
		work_replay(sm);
	if (rng_chance(&sm->rng, p->p_bundle))
		work_bundle(sm);
	if (rng_chance(&sm->rng, p->p_mail))
		work_mail(sm, 0);
	net_step(sm);
}

/* Heals everything and runs the network until it is quiet. */
static void
heal(struct sim *sm)
{
	uint64_t n;

	sm->phase_heal = 1;
	sim_event(sm, "heal");
	revive(sm, 1);
	work_mail(sm, 1);
	for (n = 0; n < HEAL_MAX_STEPS; n++) {
		/* Nothing else happens now: go to the next delivery. */
		uint64_t next = net_next_at(sm);

		sm->now = next != UINT64_MAX && next > sm->now ? next
							       : sm->now + 1;
		revive(sm, 1);
		net_step(sm);
		if (net_quiet(sm))
			break;
	}
	sm->st[SS_HEAL_STEPS] += n;
	if (n == HEAL_MAX_STEPS)
		sim_fail(sm, "the network never went quiet after healing");
	sim_event(sm, "quiet after %llu steps", (unsigned long long)n);
}

static void
teardown(struct sim *sm)
{
	size_t i;
	int j;

	net_free(sm);
	for (j = 0; j < SIM_NODES; j++) {
		tsync_node_close(sm->node[j].n);
		sm->node[j].n = NULL;
	}
	for (i = 0; i < sm->nmail; i++)
		unlink(sm->mail[i].path);
	free(sm->acks);
	free(sm->rows);
	free(sm->mail);
}

/* Runs one seed; returns the number of failed checks. */
static unsigned
run_seed(const struct fixture *fx, const struct sim_params *prm,
	 uint64_t seed, int verbose, uint64_t *fp, uint64_t total[SS__COUNT])
{
	struct sim *sm = calloc(1, sizeof(*sm));
	unsigned failures;
	int i;

	if (sm == NULL)
		abort();
	sm->seed = seed;
	sm->rng.s = seed * 0x2545f4914f6cdd1dULL ^ 0x7469657273796e63ULL;
	sm->now = SIM_EPOCH_MS;
	sm->verbose = verbose;
	sm->prm = *prm;
	sm->fingerprint = 0xcbf29ce484222325ULL;
	snprintf(sm->root, sizeof(sm->root), "%s", fx->root);
	for (i = 0; i < SIM_NODES && sm->failures == 0; i++)
		if (node_reset(sm, fx, i) != 0)
			sim_fail(sm, "cannot reset node %s", defs[i].name);
	skews(sm);
	for (i = 0; i < SIM_NODES && sm->failures == 0; i++)
		node_start(sm, i);
	for (i = 0; i < SIM_LINKS; i++) {
		sm->link[i].node[0] = i + 1;
		sm->link[i].node[1] = defs[i + 1].parent;
		sm->link[i].up_at = sm->now + rng_below(&sm->rng, 50);
	}
	if (sm->failures == 0) {
		unsigned k;

		for (k = 0; k < sm->prm.steps; k++)
			step(sm);
		heal(sm);
		if (sm->failures == 0)
			check_all(sm);
	}
	teardown(sm);
	failures = sm->failures;
	*fp = sm->fingerprint;
	if (verbose)
		fprintf(stderr, "seed %llu: fingerprint %016llx\n",
			(unsigned long long)seed, (unsigned long long)*fp);
	for (i = 0; i < SS__COUNT; i++)
		total[i] += sm->st[i];
	free(sm);
	return failures;
}

/* ---- main ---------------------------------------------------------------- */

static int
usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [--seeds N] [--from S] [--seed S] [--steps N] "
		"[-v] [--keep]\n"
		"  --seeds N   run N seeds (default 500)\n"
		"  --from S    first seed (default 1)\n"
		"  --seed S    run seed S only (same as --from S --seeds 1)\n"
		"  --steps N   steps per seed (default %u)\n"
		"  -v          print the trace of every event\n"
		"  --keep      keep the temporary directory\n",
		argv0, SIM_STEPS);
	return 2;
}

static int
num_arg(int argc, char **argv, int *i, uint64_t *out)
{
	char *end;

	if (*i + 1 >= argc)
		return -1;
	errno = 0;
	*out = strtoull(argv[++*i], &end, 10);
	return errno != 0 || *end != '\0' || end == argv[*i] ? -1 : 0;
}

static double
mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *const stat_names[SS__COUNT] = {
	[SS_COMMITS] = "commits", [SS_REFUSED] = "refused writes",
	[SS_TXNS] = "acknowledged txns", [SS_CONFLICTS] = "conflicts left",
	[SS_RESOLVES] = "settled", [SS_CUTS] = "cuts",
	[SS_CRASHES] = "crashes", [SS_ABANDONED] = "abandoned txns",
	[SS_JUMPS] = "time jumps", [SS_CONNS] = "connections",
	[SS_BYTES] = "bytes", [SS_REPLAYS] = "replays",
	[SS_REPLAY_APPLIED] = "replayed applied",
	[SS_REPLAY_DUP] = "replayed duplicate",
	[SS_REPLAY_REFUSED] = "replayed refused", [SS_BUNDLES] = "bundles",
	[SS_IMPORTS] = "imports", [SS_HEAL_STEPS] = "heal steps",
};

static void
print_stats(const uint64_t t[SS__COUNT])
{
	int i;

	printf("sim:");
	for (i = 0; i < SS__COUNT; i++)
		printf("%s %s %llu",
		       i == 0 ? "" : i % 6 == 0 ? "\nsim:" : ",",
		       stat_names[i], (unsigned long long)t[i]);
	printf("\n");
}

struct opts {
	uint64_t from, count;
	int verbose, keep;
	struct sim_params prm;
};

static int
parse_args(int argc, char **argv, struct opts *o)
{
	uint64_t v;
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--seeds") == 0 &&
		    num_arg(argc, argv, &i, &v) == 0 && v > 0)
			o->count = v;
		else if (strcmp(argv[i], "--from") == 0 &&
			 num_arg(argc, argv, &i, &v) == 0)
			o->from = v;
		else if (strcmp(argv[i], "--seed") == 0 &&
			 num_arg(argc, argv, &i, &v) == 0) {
			o->from = v;
			o->count = 1;
		} else if (strcmp(argv[i], "--steps") == 0 &&
			   num_arg(argc, argv, &i, &v) == 0 && v > 0 &&
			   v < 10000000)
			o->prm.steps = (unsigned)v;
		else if (strcmp(argv[i], "-v") == 0)
			o->verbose = 1;
		else if (strcmp(argv[i], "--keep") == 0)
			o->keep = 1;
		else
			return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct opts o = {
		.from = 1, .count = 500,
		.prm = {
			.steps = SIM_STEPS,
			.p_write = 250, .p_cut = 12, .p_crash = 6,
			.p_replay = 10, .p_bundle = 4, .p_mail = 10,
			.p_resolve = 30, .p_jump = 3, .p_chunk_cut = 3,
		},
	};
	uint64_t total[SS__COUNT], scratch[SS__COUNT], fp, fp1 = 0, s;
	struct fixture fx;
	unsigned nfail = 0, failed;
	char steps[32] = "";
	double t0, dt;

	if (parse_args(argc, argv, &o) != 0)
		return usage(argv[0]);
	if (o.prm.steps != SIM_STEPS)
		snprintf(steps, sizeof(steps), " --steps %u", o.prm.steps);
	if (fixture_make(&fx) != 0) {
		fixture_free(&fx, o.keep);
		return 1;
	}
	memset(total, 0, sizeof(total));
	t0 = mono_s();
	for (s = o.from; s < o.from + o.count; s++) {
		failed = run_seed(&fx, &o.prm, s, o.verbose, &fp, total);
		if (s == o.from)
			fp1 = fp;
		if (failed > 0 && nfail++ < 20)
			fprintf(stderr,
				"seed %llu FAILED (%u checks); replay: %s "
				"--seed %llu%s -v\n",
				(unsigned long long)s, failed, argv[0],
				(unsigned long long)s, steps);
	}
	dt = mono_s() - t0;
	/* Same seed, same run: the first seed again leaves the same trace. */
	memset(scratch, 0, sizeof(scratch));
	run_seed(&fx, &o.prm, o.from, 0, &fp, scratch);
	if (fp != fp1) {
		fprintf(stderr,
			"seed %llu is not deterministic: fingerprints %016llx "
			"and %016llx; replay: %s --seed %llu%s -v\n",
			(unsigned long long)o.from, (unsigned long long)fp1,
			(unsigned long long)fp, argv[0],
			(unsigned long long)o.from, steps);
		nfail++;
	}
	print_stats(total);
	printf("sim: %llu seeds (%llu..%llu), %u failed, %.1f s, %.0f "
	       "seeds/min\n",
	       (unsigned long long)o.count, (unsigned long long)o.from,
	       (unsigned long long)(o.from + o.count - 1), nfail, dt,
	       dt > 0 ? (double)o.count * 60.0 / dt : 0.0);
	fixture_free(&fx, o.keep);
	return nfail == 0 ? 0 : 1;
}
