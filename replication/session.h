/*
 * session.h - one sync session with one peer, as a state machine with no
 * I/O: bytes in (sess_feed), bytes out (sess_pending/sess_sent), time
 * passed in (sess_poll), actions out.  It never touches a socket or a
 * clock; it reads and writes the replica through the node.
 *
 * The same session runs over TLS (net.c), over in-memory pipes (unit
 * tests, the simulator) and over bundle files (bundle.c): a bundle is one
 * direction of a session written to a file (SESS_BUNDLE_OUT) and read
 * back (SESS_BUNDLE_IN), with the same batch builder, version vector,
 * frame reader, caps and apply path as a link.
 */
#ifndef TSYNC_SESSION_H
#define TSYNC_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "keys.h"

struct tsync_node;
struct sess;
struct sess_store;

/*
 * Per-peer caps of a session (docs/protocol.md, section 9.1).  Over any of
 * them the session fails with ERROR 8 (LIMIT), or ERROR 6 (TIMEOUT) for a
 * frame that does not complete in time.
 */
#define SESS_OUT_MAX (32u << 20) /* output waiting for a peer that does
				  * not read */
#define PING_MAX 8               /* PINGs accepted per window */
#define PING_WINDOW_MS 10000
/*
 * A frame must complete within the idle timeout plus 1 s per this many
 * bytes: 1 MiB may take 30 s + 8.5 min, so a batch crosses a lossy
 * 16 kbit/s village link, while a peer that trickles a frame still holds
 * it for a bounded time.  (16 KiB/s stalled big batches on slow links.)
 */
#define FRAME_MIN_RATE (2u << 10)

enum sess_mode {
	SESS_LINK = 0,   /* a peer at the other end: HELLO, VV, ACKs */
	SESS_BUNDLE_OUT, /* writes a bundle: input is an earlier bundle */
	SESS_BUNDLE_IN   /* reads a bundle: no output */
};

struct sess_cfg {
	struct tsync_node *node;
	/* The replica's streams, log, apply, certificates and revocation
	 * list (sess_store.h); NULL: sess_store_node over `node`. */
	const struct sess_store *store;
	int mode;                    /* enum sess_mode */
	const char *for_scope;       /* SESS_BUNDLE_OUT: the reader's scope */
	int one_shot;                /* sync: close once both sides are done */
	const struct cert_info *peer; /* identity proven by TLS, or NULL */
	const char *peer_addr;       /* for logs and status */
	unsigned window;             /* unacknowledged batches, default 4 */
	unsigned batch_txns;         /* txns per batch, default 1024 */
	size_t batch_bytes;          /* bytes per batch, default 1 MiB */
	uint64_t ping_ms;            /* default 10 s */
	uint64_t idle_ms;            /* default 30 s */
};

enum sess_action_type {
	SA_NONE = 0,
	SA_LOG,    /* text: something worth logging (connected, moved) */
	SA_SYNCED, /* both sides caught up; code 0 = same streams held */
	SA_CLOSE,  /* close the link after flushing; code = TSYNC_E*, text */
	SA_APPLIED, /* count: txns applied from the peer (notify others) */
	SA_CRL      /* a newer revocation list was installed (count: its no.) */
};

struct sess_action {
	int type;
	int code;
	uint64_t count;
	char text[320];
};

struct sess_stats {
	uint64_t sent_txns, recv_txns, rejected, dup, sent_bytes, recv_bytes;
	uint64_t they_lack, we_lack; /* at the last version-vector exchange */
	uint64_t acked_txns;         /* of ours the peer acknowledged */
	uint64_t batch_txns;         /* txns in the BATCH frames read */
};

struct sess *sess_new(const struct sess_cfg *cfg, uint64_t now_ms);
void sess_free(struct sess *s);

/* Input from the peer.  Returns 0, or an error (the session failed). */
int sess_feed(struct sess *s, const uint8_t *p, size_t n);
/* Output waiting to be written; sess_sent() drops what was written. */
const uint8_t *sess_pending(struct sess *s, size_t *n);
void sess_sent(struct sess *s, size_t n);
/* Runs timers and fills the send window.  Returns 1 and fills *a while
 * there are actions, 0 when there are none. */
int sess_poll(struct sess *s, uint64_t now_ms, struct sess_action *a);
/* The local replica changed: push what the peer lacks. */
void sess_notify(struct sess *s);
/* Sends the revocation list held (if any): after a newer one arrived. */
void sess_send_crl(struct sess *s);
/* Starts an orderly close (BYE). */
void sess_close(struct sess *s, const char *why);
int sess_failed(const struct sess *s);
int sess_closed(const struct sess *s); /* BYE or error sent or received */
const char *sess_peer_name(const struct sess *s);
void sess_get_stats(const struct sess *s, struct sess_stats *st);
/*
 * Bundles (docs/protocol.md, section 7).  SESS_BUNDLE_OUT: feed it the
 * bytes of an earlier bundle (--since) if any, whose END vv becomes what
 * the reader holds; then sess_bundle_start() queues BUNDLE, CRL and our
 * CERT, and each sess_poll() adds batches until END is out (sess_closed).
 * SESS_BUNDLE_IN: feed it the file; it applies each BATCH as a link does
 * and closes at END.  sess_got_end() says whether END was read.
 */
int sess_bundle_start(struct sess *s);
int sess_got_end(const struct sess *s);
/* Stream offset of the first byte of the frame being read: after a
 * failure, of the bad frame; at the end of a cut input, of its last,
 * partial frame (or the input's length). */
uint64_t sess_in_offset(const struct sess *s);
/* The peer's (or bundle writer's) protocol, schema and release. */
void sess_peer_versions(const struct sess *s, unsigned *proto,
			uint32_t *schema, const char **release);
/* The peer's HELLO identity (0 / "" until it arrived). */
uint64_t sess_peer_id(const struct sess *s);
const char *sess_peer_scope(const struct sess *s);
const char *sess_peer_role(const struct sess *s);

#endif
