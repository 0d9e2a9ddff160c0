/*
 * tiersync.h - the public C API of a tiersync node.
 *
 * A node is one office's local SQLite replica plus its identity (an Ed25519
 * key and a certificate from the district CA).  Every write made through
 * the node is captured per column, versioned with a hybrid logical clock and
 * appended to a signed, hash-chained stream (origin, scope).
 *
 * Conventions (see docs/architecture.md):
 *  - every function returns 0 (TSYNC_OK) or a negative TSYNC_E* code;
 *  - the message of the last failure is kept on the handle
 *    (tsync_node_errmsg), never in a global;
 *  - _open/_new give the caller ownership; _close/_free accept NULL.
 */
#ifndef TIERSYNC_H
#define TIERSYNC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TSYNC_VERSION_STRING "0.2.0" /* the release (CHANGELOG.md) */
#define TSYNC_PROTOCOL_VERSION 2      /* the highest protocol HELLO offers */
#define TSYNC_PROTOCOL_MIN 1          /* the lowest protocol it still speaks */
#define TSYNC_SCHEMA_VERSION 3        /* the replicated tables' version */

enum {
	TSYNC_OK = 0,
	TSYNC_ENOMEM = -1,   /* allocation failed */
	TSYNC_EIO = -2,      /* file system or database I/O failed */
	TSYNC_ECORRUPT = -3, /* stored or received bytes are malformed */
	TSYNC_EPROTO = -4,   /* the peer broke the protocol */
	TSYNC_EAUTH = -5,    /* signature, certificate or chain check failed */
	TSYNC_EINVAL = -6,   /* bad argument or bad SQL */
	TSYNC_EEXIST = -7,   /* the thing to create already exists */
	TSYNC_ESCOPE = -8,   /* write or txn outside the allowed scope */
	TSYNC_EFULL = -9,    /* disk full */
	TSYNC_ENOENT = -10,  /* the thing to open does not exist */
	TSYNC_EVERIFY = -11, /* an audit found faults */
	TSYNC_EBUSY = -12,   /* the replica is locked by another writer */
};

/* Static text for an error code. */
const char *tsync_strerror(int err);

/*
 * Hooks through which the core reaches time, randomness, memory and the log.
 * Any member may be NULL; the defaults are the real clock, OpenSSL's RNG,
 * realloc() and stderr.  Tests swap them to control time.
 */
struct tsync_ops {
	uint64_t (*now_ms)(void *ctx);                   /* wall clock, ms */
	int (*random)(void *ctx, void *buf, size_t n);   /* 0 on success */
	void *(*realloc)(void *ctx, void *p, size_t n);  /* n == 0 frees */
	void (*log)(void *ctx, int level, const char *msg);
	void *ctx;
};

enum { TSYNC_LOG_ERROR = 0, TSYNC_LOG_WARN = 1, TSYNC_LOG_INFO = 2,
       TSYNC_LOG_DEBUG = 3 };

/* ---- Certificate authority (district) --------------------------------- */

/*
 * Creates the district CA in `ca_dir`: ca.key (0600) and ca.crt.  Refuses
 * (TSYNC_EEXIST) if a CA is already there.  `err` receives a message.
 */
int tsync_ca_init(const char *ca_dir, const char *district, int days,
		  char *err, size_t errlen);

/*
 * Issues a node identity into `out_dir` (created if missing): node.key
 * (0600), node.crt binding the key, `scope` and `role` ("office" or
 * "auditor"), and a copy of ca.crt.  Refuses if out_dir already holds a key.
 */
int tsync_ca_issue(const char *ca_dir, const char *scope, const char *role,
		   int days, const char *out_dir, char *err, size_t errlen);

/*
 * Revokes a node certificate (a path, or a node id whose certificate is in
 * CA_DIR/issued/) and writes the new signed list to CA_DIR/crl.pem.  With
 * node_dir, installs it there too (the district node), from where it
 * replicates to every node.
 */
int tsync_ca_revoke(const char *ca_dir, const char *cert,
		    const char *node_dir, char *err, size_t errlen);
/*
 * The same, fixing the revocation positions: for each stream of the
 * certificate's origin, the last seq every node accepts.  They are the
 * heads node_dir holds of that origin (when given), overridden or added to
 * by `cuts` ("SCOPE=SEQ[,SCOPE=SEQ...]", may be NULL); a stream named by
 * neither is accepted up to seq 0.  With node_dir, the node's list is read
 * first, and nothing is written if the new list's number would not be
 * above the one it holds.  On success `msg` receives the list's number and
 * positions; on failure, the error.
 */
int tsync_ca_revoke_cut(const char *ca_dir, const char *cert,
			const char *node_dir, const char *cuts, char *msg,
			size_t msglen);

/* ---- Node life cycle ------------------------------------------------ */

struct tsync_node;

struct tsync_init_opts {
	const char *parent; /* "host:port" or NULL */
	const char *listen; /* "addr:port" or NULL */
};

/*
 * Creates NODE_DIR/replica.db (SQLite, WAL) and NODE_DIR/tiersync.conf for
 * the identity that `tsync_ca_issue` wrote there.  Refuses with
 * TSYNC_EEXIST, changing nothing, when the node is already initialised.
 */
int tsync_node_init(const char *dir, const struct tsync_init_opts *o,
		    char *err, size_t errlen);

/*
 * Opens the node in `dir`.  *out is set even on failure (unless memory ran
 * out) so that tsync_node_errmsg() can say why; close it in every case.
 */
int tsync_node_open(const char *dir, const struct tsync_ops *ops,
		    struct tsync_node **out);
void tsync_node_close(struct tsync_node *n);

/* Message of the last failure on `n`; owned by n, valid until next call. */
const char *tsync_node_errmsg(const struct tsync_node *n);

/* ---- Writing and reading ---------------------------------------------- */

/* One result row: `ncol` columns, values as text (NULL for SQL NULL). */
typedef int (*tsync_row_cb)(void *arg, int ncol, const char *const *names,
			    const char *const *values);

/*
 * Runs `sql` (one or more statements) as one transaction.  Result rows go
 * to `cb` (may be NULL).  Writes to replicated tables are captured and
 * committed as signed txns atomically with the data.  On any failure
 * nothing is written.
 */
int tsync_node_exec(struct tsync_node *n, const char *sql, tsync_row_cb cb,
		    void *arg);

/*
 * Lower-level form for programs that prepare their own statements:
 * between tsync_node_begin() and tsync_node_commit() every write made on
 * the connection returned by tsync_node_db() is captured.
 * tsync_node_rollback() discards it all.
 */
int tsync_node_begin(struct tsync_node *n);
int tsync_node_commit(struct tsync_node *n);
void tsync_node_rollback(struct tsync_node *n);
struct sqlite3 *tsync_node_db(struct tsync_node *n); /* borrowed */

/* ---- Identity and state ------------------------------------------------ */

struct tsync_identity {
	char node_id[17];  /* 16 hex digits */
	char scope[256];
	char role[16];     /* "office" or "auditor" */
	char district[64];
};
int tsync_node_identity(const struct tsync_node *n,
			struct tsync_identity *out);

struct tsync_stream_info {
	char origin[17];
	const char *scope; /* valid during the callback */
	uint64_t seq;      /* highest contiguous seq held */
	uint64_t hlc;      /* HLC of that txn */
	int local;         /* 1 if this node is the origin */
};
typedef int (*tsync_stream_cb)(void *arg, const struct tsync_stream_info *s);
int tsync_node_streams(struct tsync_node *n, tsync_stream_cb cb, void *arg);

struct tsync_counts {
	uint64_t txns;
	uint64_t rows;       /* live rows in replicated tables */
	uint64_t tombstones; /* deleted rows remembered by version */
	uint64_t streams;
	uint64_t conflicts;
	uint64_t quarantined;
};
int tsync_node_counts(struct tsync_node *n, struct tsync_counts *out);

/* One txn of the log, for `tiersync log`. */
struct tsync_txn_info {
	char origin[17];
	const char *scope;   /* valid during the callback */
	uint64_t seq;
	uint64_t hlc;
	const char *summary; /* "cases/ab12 insert {title,status}" lines */
};
typedef int (*tsync_txn_cb)(void *arg, const struct tsync_txn_info *t);
/* Lists up to `limit` txns (0: all), newest first. */
int tsync_node_log(struct tsync_node *n, unsigned limit, tsync_txn_cb cb,
		   void *arg);

/*
 * Digest of the visible replicated state: every live row of every
 * replicated table whose scope is `scope` or inside it (NULL: all), in a
 * canonical order.  `hex` receives 64 hex digits and a NUL.  A `scope`
 * that is not a scope path (scope.h) is refused with TSYNC_EINVAL.
 */
int tsync_node_digest(struct tsync_node *n, const char *scope, char hex[65]);

/*
 * Audits the replica: chains, signatures, scopes and that the tables hold
 * exactly what the log says.  Each fault is reported to `cb` as one line.
 * Returns 0 when clean, TSYNC_EVERIFY when faults were found, or another
 * error if the audit itself could not run.
 */
typedef void (*tsync_fault_cb)(void *arg, const char *fault);
int tsync_node_verify(struct tsync_node *n, tsync_fault_cb cb, void *arg);

/*
 * Where a snapshot first pull left the replica (docs/protocol.md 3.14):
 * "receiving", "unverified" (it serves nothing until checked) or
 * "verified: ..." into out; TSYNC_ENOENT for a replica built txn by txn.
 */
int tsync_node_replica_state(struct tsync_node *n, char *out, size_t len);

/* ---- Conflicts kept for people ------------------------------------------ */

struct tsync_conflict {
	char id[13];           /* stable: the same on every node */
	const char *table, *row, *column; /* valid during the callback */
	const char *mine;      /* the value shown now (the winner), or NULL */
	const char *theirs;    /* the concurrent value that lost, or NULL */
	uint64_t mine_hlc, theirs_hlc;
	char mine_origin[17], theirs_origin[17];
	int row_deleted;       /* the row itself was deleted meanwhile */
	/* Bytes in mine and theirs; a blob's bytes may include NULs. */
	size_t mine_len, theirs_len;
	int mine_blob, theirs_blob; /* 1: that value is a blob, not text */
};
typedef int (*tsync_conflict_cb)(void *arg, const struct tsync_conflict *c);
int tsync_node_conflicts(struct tsync_node *n, tsync_conflict_cb cb,
			 void *arg);

enum { TSYNC_KEEP_MINE = 0, TSYNC_KEEP_THEIRS = 1, TSYNC_KEEP_VALUE = 2 };
/*
 * Settles conflict `id` with a new signed write that names the losing
 * version as overwritten, so it clears on every node that receives it.
 */
int tsync_node_resolve(struct tsync_node *n, const char *id, int how,
		       const char *value);

/* ---- Provenance: who wrote each value ---------------------------------- */

struct tsync_provenance {
	const char *column;       /* valid during the callback */
	uint64_t hlc;             /* the version's HLC */
	char origin[17];          /* the node that wrote it */
	const char *origin_scope; /* its certified scope, "" if unknown */
	const char *origin_role;
	const char *stream_scope; /* the stream (origin, scope) that carried it */
	uint64_t seq;             /* its txn in that stream, 0 if not found */
};
typedef int (*tsync_prov_cb)(void *arg, const struct tsync_provenance *p);
/* Calls cb for every written column of row `id` of replicated `table`. */
int tsync_node_provenance(struct tsync_node *n, const char *table,
			  const char *id, tsync_prov_cb cb, void *arg);

/* ---- Peers and replication -------------------------------------------- */

struct tsync_peer_info {
	char node_id[17];
	const char *scope, *role, *addr, *last_error; /* valid in callback */
	uint64_t last_contact_ms;
	uint64_t they_lack; /* txns we held that the peer lacked, last contact */
	uint64_t we_lack;   /* txns the peer held that we lacked */
	uint64_t sent, received; /* txns moved, all sessions */
};
typedef int (*tsync_peer_cb)(void *arg, const struct tsync_peer_info *p);
int tsync_node_peers(struct tsync_node *n, tsync_peer_cb cb, void *arg);

/* Quarantined txns, grouped by the peer that sent them and the reason. */
struct tsync_quarantine_info {
	const char *peer, *reason; /* valid during the callback */
	uint64_t count, last_at_ms;
};
typedef int (*tsync_quarantine_cb)(void *arg,
				   const struct tsync_quarantine_info *q);
int tsync_node_quarantine(struct tsync_node *n, tsync_quarantine_cb cb,
			  void *arg);

/* Origins whose clock ran ahead of this node's by more than the bound. */
struct tsync_skew_info {
	char origin[17];
	uint64_t ahead_ms, seen_at_ms;
};
typedef int (*tsync_skew_cb)(void *arg, const struct tsync_skew_info *s);
int tsync_node_skews(struct tsync_node *n, tsync_skew_cb cb, void *arg);

/*
 * Equivocation evidence held here (docs/protocol.md 8.3): rows of the
 * replicated table `evidence`, written by whichever node saw two heads
 * for one (origin, scope, seq), and travelling up to the district.
 */
struct tsync_evidence_info {
	char origin[17];
	const char *scope;       /* the stream's; valid during the callback */
	uint64_t seq;
	char held[65], other[65]; /* the two hashes: the detector's, the other */
	const char *how;         /* "txn", "chain", "vv" or "receipt" */
	char seen_by[17];        /* the node that recorded it */
	char peer[17];           /* who showed it the other head, or "" */
	uint64_t seen_at_ms;
	int signed_bodies;       /* 0-2: bodies held that name the stream and
				  * verify with the origin's key here */
	int ours;                /* what this node's log holds at seq: 1 the
				  * first hash, 2 the second, 3 neither,
				  * 0 nothing */
};
typedef int (*tsync_evidence_cb)(void *arg,
				 const struct tsync_evidence_info *e);
int tsync_node_evidence(struct tsync_node *n, tsync_evidence_cb cb,
			void *arg);

/*
 * How far each stream held here is witnessed: receipts (countersigned
 * heads, written by parents) that agree with this node's log.
 */
struct tsync_witness_info {
	char origin[17];
	const char *scope;      /* valid during the callback */
	uint64_t seq;           /* held here */
	uint64_t witnessed;     /* highest seq a receipt confirms, or 0 */
	const char *witnesses;  /* "NODE:SEQ NODE:SEQ", or "" */
	unsigned contradicted;  /* receipts naming a held seq otherwise */
};
typedef int (*tsync_witness_cb)(void *arg, const struct tsync_witness_info *w);
int tsync_node_witnessed(struct tsync_node *n, tsync_witness_cb cb,
			 void *arg);

struct tsync_serve_opts {
	const char *listen; /* "addr:port" or NULL: from tiersync.conf */
	const char *parent; /* "host:port" or NULL: from tiersync.conf */
	int quiet;          /* 1: log errors only */
};

/*
 * Runs the node: listens for children, keeps the link to the parent
 * (reconnecting with exponential backoff and jitter), and pushes every new
 * local or relayed commit to connected peers.  Returns when SIGINT or
 * SIGTERM arrives (0) or on a fatal error (err says why).
 */
int tsync_serve(const char *dir, const struct tsync_serve_opts *o, char *err,
		size_t errlen);

struct tsync_sync_result {
	uint64_t sent, received, rejected, duplicate;
	uint64_t bytes_in, bytes_out; /* protocol bytes, before TLS */
	char why[320];
};
/*
 * One catch-up in both directions with the peer at `peer` ("host:port").
 * Returns 0 when both sides hold the same streams (of those each may
 * see), TSYNC_EVERIFY when they do not, or another error (r->why).
 */
int tsync_sync(const char *dir, const char *peer, unsigned timeout_ms,
	       struct tsync_sync_result *r);

/* ---- Bundles: the same frames on a USB stick -------------------------- */

struct tsync_bundle_result {
	uint64_t txns;       /* txns written, or read from the file */
	uint64_t applied, duplicate, quarantined; /* import */
	uint64_t bad_offset; /* import: byte offset of the first bad frame,
				or of the bad chunk of a sealed file */
	unsigned recipients; /* sealed export: how many it is sealed for */
	char note[640];      /* sealed: for whom (and who lacks a key) */
	char why[400];
};

struct tsync_bundle_opts {
	const char *since; /* a bundle exported earlier, or NULL */
	int unsealed;      /* 1: plain frames that anyone can read */
	/* More recipients: certificate files (PEM), NULL-terminated, or
	 * NULL.  Each is checked against the CA and kept in ts_certs. */
	const char *const *to;
};

/*
 * Writes to `out` every txn a node of `for_scope` may see, or with
 * o->since only what that earlier bundle did not carry.  Unless
 * o->unsealed, the file is sealed (docs/protocol.md, section 7.5): it
 * opens only with the enc.key of a recipient, which are every node this
 * one knows a certificate of (ts_certs and o->to) that is an office or
 * auditor at or above `for_scope`, not revoked and with an encryption
 * key, and this node itself; with none but itself when it is not at or
 * above `for_scope`, it fails with TSYNC_ENOENT.  r->note names them.
 * The file is written to out.tmp and renamed, so a crash leaves no half
 * file.  `o` NULL means unsealed.
 */
int tsync_bundle_export_opts(const char *dir, const char *for_scope,
			     const char *out,
			     const struct tsync_bundle_opts *o,
			     struct tsync_bundle_result *r);
/* tsync_bundle_export_opts() unsealed: plain frames, for tests and tools
 * (the simulator, the fuzz seeds).  `tiersync bundle export` seals. */
int tsync_bundle_export(const char *dir, const char *for_scope,
			const char *out, const char *since,
			struct tsync_bundle_result *r);
/*
 * Applies a bundle through the same checks as the network path, batch by
 * batch.  A truncated or corrupt file stops at the first bad frame
 * (TSYNC_ECORRUPT, r->bad_offset, r->why); every batch before it is kept.
 * Importing twice changes nothing.  A sealed bundle is opened with
 * NODE_DIR/enc.key first: TSYNC_ESCOPE when this node is not one of its
 * recipients, TSYNC_EAUTH when its entry does not open; a chunk that is
 * missing or fails its check stops it as a bad frame does.
 */
int tsync_bundle_import(const char *dir, const char *file,
			struct tsync_bundle_result *r);

/* Formats an HLC as "2026-11-28T04:31:40.123Z+5" into buf. */
void tsync_hlc_format(uint64_t hlc, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* TIERSYNC_H */
