/*
 * net.c - real links: libuv TCP + TLS (tls.c) + the session (session.c),
 * the listener for children, the parent link with backoff, live push of
 * new commits, and the one-shot `sync`.
 *
 * Callbacks are thin: each translates a libuv event into a call on the
 * connection (conn_input, conn_flush, conn_close) and returns.  Protocol
 * decisions live in the session; SQL lives in node/.
 *
 * Live push: a local write commits through its own node handle, in this
 * process (the web app's thread) or in another one (`tiersync sql`, the
 * record commands).  After the commit, tsync_node_commit sends one byte to
 * NODE_DIR/wake, a unix datagram socket that `serve` binds (uv_poll): the
 * loop wakes, checks PRAGMA data_version (moved, since the poke follows the
 * commit) and tells every session to push.  No polling on that path.  The
 * safety nets: the 200 ms tick checks data_version too (a writer that
 * does not poke: an older tiersync, a bundle import); when the socket
 * cannot be bound (a directory path longer than sun_path), the old watch
 * stands in: inotify on the directory, and a change to replica.db-wal
 * starts a short burst of 1 ms data_version checks.  Commits this process
 * applies from one peer notify the others directly (SA_APPLIED).
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/rand.h>
#include <uv.h>

#include "heads.h"
#include "node_int.h"
#include "revoke.h"
#include "scope.h"
#include "session.h"
#include "tls.h"

#define READ_BUF (64u << 10)
#define WRITE_HIGH (4u << 20) /* ciphertext queued in libuv before we wait */
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 30000
#define HANDSHAKE_MS 10000
/*
 * Per-peer caps (docs/protocol.md, section 9.1; the session adds its own).
 * A link's output backlog is what the session, TLS and libuv hold for the
 * peer.  An honest link never holds more than about 24 MiB (two batches,
 * one oversized frame, WRITE_HIGH in libuv), so reading stops only for a
 * peer that makes us answer faster than it reads.
 */
#define CONN_MAX 256         /* inbound links, also <= RLIMIT_NOFILE - 32 */
#define CONN_FD_SPARE 32     /* descriptors kept for the store, the parent */
#define CONN_PER_PEER 4      /* links per identity (node id) */
#define CONN_UNAUTH_MAX 64   /* inbound links still in the TLS handshake */
#define OUT_PAUSE (28u << 20) /* backlog above which we stop reading */
#define OUT_RESUME (8u << 20) /* and below which we read again */
#define OUT_MAX (32u << 20)  /* backlog above which the link is dropped */
#define LINGER_MS 5000       /* a closing link may flush this long */

struct server;

struct conn {
	struct server *srv;
	uv_tcp_t tcp;
	uv_connect_t creq;
	struct ts_tls tls;
	struct sess *sess;
	int outbound, closing, handle_open, paused;
	int yielded; /* reading stopped until the loop served the others */
	uint64_t started; /* ms: TLS must be up within HANDSHAKE_MS */
	uint64_t closed_at; /* ms: conn_close() was called */
	uint64_t rec_sent, rec_recv; /* figures already in ts_peers */
	size_t writing;
	char addr[96];
	char err[320];
	struct conn *next;
	uint8_t rbuf[READ_BUF];
};

struct server {
	uv_loop_t loop;
	struct tsync_node *n;
	SSL_CTX *ctx;
	int quiet;
	uv_tcp_t listener;
	int listening;
	unsigned conn_max; /* CONN_MAX, lowered to fit RLIMIT_NOFILE */
	struct conn *conns;
	/* the parent link (or the sync peer) */
	char parent[300];
	struct conn *parent_conn;
	uv_timer_t reconnect;
	uint64_t backoff_ms;
	int one_shot;
	/* timers and watchers */
	uv_timer_t tick, burst, deadline;
	uv_check_t fair; /* restarts yielded links after each poll */
	int notify_pending; /* batches applied since the last check */
	struct conn *notify_src; /* the one link they came from, or NULL */
	uint64_t burst_until;
	uv_fs_event_t watch;
	int watching;
	uv_poll_t wake; /* NODE_DIR/wake: local commits poke it */
	int wake_fd;    /* -1: not bound (sync, or the path is too long) */
	char wake_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	sqlite3_stmt *dv;
	int64_t data_version;
	uv_signal_t sigint, sigterm;
	int stopping;
	char crl_number[32];
	/* sync result */
	int result;
	struct tsync_sync_result *sr;
};

static void __attribute__((format(printf, 3, 4)))
srv_log(struct server *srv, int level, const char *fmt, ...)
{
	char msg[512], when[32];
	time_t now = time(NULL);
	struct tm tm;
	va_list ap;

	if (srv->quiet && level > TSYNC_LOG_WARN)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fprintf(stderr, "%s tiersync[%s]: %s\n", when, srv->n->scope, msg);
}

static uint64_t
now_ms(struct server *srv)
{
	return ts_now_ms(&srv->n->ops);
}

static void conn_flush(struct conn *c);
static void conn_close(struct conn *c, const char *why);
static void parent_schedule(struct server *srv);

/* ---- peers and notification ------------------------------------------ */

static void
record_peer(struct conn *c)
{
	struct sess_stats st;
	struct peer_rec p;

	if (c->sess == NULL || sess_peer_id(c->sess) == 0)
		return;
	sess_get_stats(c->sess, &st);
	memset(&p, 0, sizeof(p));
	p.id = sess_peer_id(c->sess);
	p.scope = sess_peer_scope(c->sess);
	p.role = sess_peer_role(c->sess);
	p.addr = c->addr;
	p.error = c->err;
	p.last_contact = now_ms(c->srv);
	p.they_lack = st.they_lack;
	p.we_lack = st.we_lack;
	p.sent = st.sent_txns - c->rec_sent;
	p.received = st.recv_txns - c->rec_recv;
	c->rec_sent = st.sent_txns;
	c->rec_recv = st.recv_txns;
	if (peers_record(c->srv->n, &p) != 0)
		srv_log(c->srv, TSYNC_LOG_WARN, "cannot record peer: %s",
			tsync_node_errmsg(c->srv->n));
}

/*
 * A newer revocation list arrived (from a peer, or installed by
 * `tiersync ca revoke --node` in another process): pass it to every peer
 * and close the links of revoked peers.
 */
static void
crl_changed(struct server *srv)
{
	char num[32] = "";
	struct conn *c;

	if (ts_store_meta_get(srv->n, "crl_number", num, sizeof(num)) != 0 ||
	    strcmp(num, srv->crl_number) == 0)
		return;
	ts_fmt(srv->crl_number, sizeof(srv->crl_number), "%s", num);
	certs_free(srv->n);
	for (c = srv->conns; c != NULL; c = c->next) {
		if (c->closing || !c->tls.done)
			continue;
		if (crl_revoked_at(srv->n, c->tls.peer.serial) >= 0) {
			ts_fmt(c->err, sizeof(c->err),
			       "peer certificate revoked by the district");
			conn_close(c, c->err);
		} else if (c->sess != NULL) {
			sess_send_crl(c->sess);
			conn_flush(c);
		}
	}
}

static void
notify_all(struct server *srv, struct conn *except)
{
	struct conn *c;

	for (c = srv->conns; c != NULL; c = c->next) {
		if (c == except || c->sess == NULL || c->closing)
			continue;
		sess_notify(c->sess);
		conn_flush(c);
	}
}

static int
data_changed(struct server *srv)
{
	int64_t v = srv->data_version;

	if (srv->dv == NULL &&
	    sqlite3_prepare_v2(srv->n->db, "PRAGMA data_version", -1,
			       &srv->dv, NULL) != SQLITE_OK)
		return 1;
	if (sqlite3_step(srv->dv) == SQLITE_ROW)
		v = sqlite3_column_int64(srv->dv, 0);
	sqlite3_reset(srv->dv);
	if (v == srv->data_version)
		return 0;
	srv->data_version = v;
	return 1;
}

static void
on_burst(uv_timer_t *t)
{
	struct server *srv = t->data;

	if (data_changed(srv)) {
		crl_changed(srv);
		notify_all(srv, NULL);
	}
	if (now_ms(srv) > srv->burst_until)
		uv_timer_stop(t);
}

/* Tells the sessions about commits made elsewhere since the last look. */
static void
srv_changed(struct server *srv)
{
	if (data_changed(srv)) {
		crl_changed(srv);
		notify_all(srv, NULL);
	}
}

static void
on_wake(uv_poll_t *h, int status, int events)
{
	struct server *srv = h->data;
	char b[64];

	(void)events;
	if (status < 0)
		return;
	while (recv(srv->wake_fd, b, sizeof(b), MSG_DONTWAIT) > 0)
		; /* one look serves every poke queued */
	srv_changed(srv);
}

/*
 * Binds NODE_DIR/wake (serve only: a one-shot `sync` leaves it to the
 * serve that may run beside it).  A stale socket of a serve that died is
 * replaced.  Without it the inotify watch stands in.
 */
static void
wake_open(struct server *srv, const char *dir)
{
	struct sockaddr_un sa;
	int fd, len;

	srv->wake_fd = -1;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	len = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir,
		       NODE_WAKE);
	if (len < 0 || (size_t)len >= sizeof(sa.sun_path)) {
		srv_log(srv, TSYNC_LOG_INFO, "%s/%s: path too long for a "
			"socket; watching the directory instead", dir,
			NODE_WAKE);
		return;
	}
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return;
	unlink(sa.sun_path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    uv_poll_init(&srv->loop, &srv->wake, fd) != 0) {
		srv_log(srv, TSYNC_LOG_WARN, "cannot bind %s: %s; watching "
			"the directory instead", sa.sun_path, strerror(errno));
		close(fd);
		return;
	}
	srv->wake.data = srv;
	uv_poll_start(&srv->wake, UV_READABLE, on_wake);
	srv->wake_fd = fd;
	ts_fmt(srv->wake_path, sizeof(srv->wake_path), "%s", sa.sun_path);
}

static void
on_fs_event(uv_fs_event_t *h, const char *file, int events, int status)
{
	struct server *srv = h->data;

	(void)events;
	if (status < 0 || file == NULL || strcmp(file, "replica.db-wal") != 0)
		return;
	srv->burst_until = now_ms(srv) + 50;
	if (!uv_is_active((uv_handle_t *)&srv->burst))
		uv_timer_start(&srv->burst, on_burst, 0, 1);
}

/* ---- one connection -------------------------------------------------- */

static void
handle_action(struct conn *c, const struct sess_action *a)
{
	struct server *srv = c->srv;

	switch (a->type) {
	case SA_LOG: /* code 1: a warning (snap.c) */
		srv_log(srv, a->code ? TSYNC_LOG_WARN : TSYNC_LOG_INFO, "%s",
			a->text);
		break;
	case SA_APPLIED:
		/* The other links are told once per loop iteration (on_fair),
		 * however many batches it applied: with 60 children sending at
		 * once, each telling costs every session a look at its peer. */
		srv_log(srv, TSYNC_LOG_INFO, "%s", a->text);
		if (!srv->notify_pending)
			srv->notify_src = c;
		else if (srv->notify_src != c)
			srv->notify_src = NULL;
		srv->notify_pending = 1;
		break;
	case SA_CRL:
		srv_log(srv, TSYNC_LOG_WARN, "%s", a->text);
		crl_changed(srv);
		break;
	case SA_SYNCED:
		srv_log(srv, a->code ? TSYNC_LOG_WARN : TSYNC_LOG_INFO, "%s",
			a->text);
		if (c->outbound)
			srv->backoff_ms = 0; /* a working link: retry fast */
		record_peer(c);
		if (c->outbound && srv->one_shot) {
			srv->result = a->code;
			if (srv->sr != NULL)
				ts_fmt(srv->sr->why, sizeof(srv->sr->why), "%s",
				       a->text);
			sess_close(c->sess, "sync complete");
			conn_close(c, "sync complete");
		}
		break;
	case SA_CLOSE:
		if (a->code != 0)
			ts_fmt(c->err, sizeof(c->err), "%s", a->text);
		conn_close(c, a->text);
		break;
	default:
		break;
	}
}

static void
on_write(uv_write_t *req, int status)
{
	struct conn *c = req->handle->data;
	size_t len = *(size_t *)(req + 1);

	free(req);
	c->writing -= len;
	if (status < 0 && !c->closing) {
		ts_fmt(c->err, sizeof(c->err), "write failed: %s",
		       uv_strerror(status));
		conn_close(c, c->err);
		return;
	}
	conn_flush(c);
}

/* Moves session output through TLS into libuv writes. */
static void
push_cipher(struct conn *c)
{
	size_t n;

	while ((n = ts_tls_pending(&c->tls)) > 0 && c->handle_open) {
		uv_write_t *req = malloc(sizeof(*req) + sizeof(size_t) + n);
		uint8_t *data = (uint8_t *)(req + 1) + sizeof(size_t);
		uv_buf_t b;
		int rc;

		if (req == NULL)
			return;
		n = ts_tls_take(&c->tls, data, n);
		*(size_t *)(req + 1) = n;
		b = uv_buf_init((char *)data, (unsigned)n);
		c->writing += n;
		rc = uv_write(req, (uv_stream_t *)&c->tcp, &b, 1, on_write);
		if (rc < 0) {
			c->writing -= n;
			free(req);
			ts_fmt(c->err, sizeof(c->err), "write failed: %s",
			       uv_strerror(rc));
			conn_close(c, c->err);
			return;
		}
	}
}

static void on_closed(uv_handle_t *h);
static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b);
static void on_read(uv_stream_t *h, ssize_t nread, const uv_buf_t *buf);

/* Bytes held for the peer: in the session, in TLS and queued in libuv. */
static size_t
conn_backlog(struct conn *c)
{
	size_t n = 0;

	if (c->sess != NULL)
		sess_pending(c->sess, &n);
	return n + ts_tls_pending(&c->tls) + c->writing;
}

/*
 * Backpressure: stops reading from a peer while its backlog is above
 * OUT_PAUSE, reads again below OUT_RESUME, drops it above OUT_MAX.
 */
static void
conn_pace(struct conn *c)
{
	size_t b;

	if (c->closing || !c->handle_open)
		return;
	b = conn_backlog(c);
	if (b > OUT_MAX) {
		ts_fmt(c->err, sizeof(c->err),
		       "peer does not read: %zu bytes wait to be sent, over "
		       "the cap of %u",
		       b, OUT_MAX);
		conn_close(c, c->err);
	} else if (!c->paused && b > OUT_PAUSE) {
		c->paused = 1;
		uv_read_stop((uv_stream_t *)&c->tcp);
		srv_log(c->srv, TSYNC_LOG_WARN,
			"link %s: %zu bytes wait to be sent; not reading from "
			"it until they drain",
			c->addr, b);
	} else if (c->paused && b < OUT_RESUME) {
		c->paused = c->yielded = 0;
		uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
	}
}

/* Closes the handle once a closing link has written everything. */
static void
conn_finish(struct conn *c)
{
	if (c->closing && c->writing == 0 && c->handle_open) {
		c->handle_open = 0;
		uv_close((uv_handle_t *)&c->tcp, on_closed);
	}
}

static void
conn_flush(struct conn *c)
{
	struct sess_action a;
	const uint8_t *p;
	size_t n;
	int w, guard = 0;

	while (c->sess != NULL && guard++ < 64) {
		while (!c->closing && sess_poll(c->sess, now_ms(c->srv), &a))
			handle_action(c, &a);
		if (c->writing > WRITE_HIGH)
			break;
		p = sess_pending(c->sess, &n);
		if (n == 0)
			break;
		w = ts_tls_write(&c->tls, p, n);
		if (w <= 0)
			break;
		sess_sent(c->sess, (size_t)w);
		push_cipher(c);
	}
	push_cipher(c);
	conn_pace(c);
	conn_finish(c);
}

static void
conn_free(struct conn *c)
{
	struct server *srv = c->srv;
	struct conn **pp;

	for (pp = &srv->conns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	if (srv->notify_src == c)
		srv->notify_src = NULL;
	if (c->outbound && srv->sr != NULL && c->sess != NULL) {
		struct sess_stats st;

		sess_get_stats(c->sess, &st);
		srv->sr->sent += st.sent_txns;
		srv->sr->received += st.recv_txns;
		srv->sr->duplicate += st.dup;
		srv->sr->bytes_in += st.recv_bytes;
		srv->sr->bytes_out += st.sent_bytes;
		srv->sr->rejected += st.rejected;
		if (srv->result != 0 && c->err[0] != '\0')
			ts_fmt(srv->sr->why, sizeof(srv->sr->why), "%s",
			       c->err);
	} else if (c->outbound && srv->sr != NULL && c->err[0] != '\0') {
		ts_fmt(srv->sr->why, sizeof(srv->sr->why), "%s", c->err);
	}
	if (srv->parent_conn == c) {
		struct sess_stats st;

		/* A link that moved txns before it dropped was working: retry
		 * fast, or a flaky link would back off to 30 s between
		 * attempts that each make progress. */
		if (c->sess != NULL) {
			sess_get_stats(c->sess, &st);
			if (st.acked_txns > 0 || st.recv_txns > 0)
				srv->backoff_ms = 0;
		}
		srv->parent_conn = NULL;
		parent_schedule(srv);
	}
	sess_free(c->sess);
	ts_tls_free(&c->tls);
	free(c);
}

static void
on_closed(uv_handle_t *h)
{
	conn_free(h->data);
}

static void
conn_close(struct conn *c, const char *why)
{
	if (c->closing)
		return;
	c->closing = 1;
	c->closed_at = now_ms(c->srv);
	srv_log(c->srv, c->err[0] ? TSYNC_LOG_WARN : TSYNC_LOG_INFO,
		"link %s %s closed: %s", c->addr,
		c->sess ? sess_peer_name(c->sess) : "", why);
	record_peer(c);
	if (!c->handle_open)
		return;
	/* Flush what is queued (a BYE or ERROR), then close. */
	if (c->sess != NULL && c->tls.done) {
		const uint8_t *p;
		size_t n;
		int w;

		while ((p = sess_pending(c->sess, &n), n > 0) &&
		       (w = ts_tls_write(&c->tls, p, n)) > 0)
			sess_sent(c->sess, (size_t)w);
	}
	push_cipher(c);
	uv_read_stop((uv_stream_t *)&c->tcp);
	conn_finish(c); /* now, or from the last on_write */
}

/*
 * Whether this link makes sense for the two identities: a parent must be
 * an office strictly above us; any other link joins two related scopes
 * (one inside the other) or an auditor of the district.  NULL if fine,
 * else the reason.
 */
static const char *
link_refusal(struct conn *c, char *buf, size_t len)
{
	const struct cert_info *p = &c->tls.peer;
	const struct tsync_node *n = c->srv->n;
	int is_parent = c->outbound && !c->srv->one_shot;
	/* An auditor's parent is the office of its own scope (the district). */
	int above = scope_within(n->scope, p->scope) &&
		    (strcmp(n->scope, p->scope) != 0 ||
		     strcmp(n->role, "auditor") == 0);

	if (strcmp(p->district, n->district) != 0)
		ts_fmt(buf, len, "peer belongs to district %s, not %s",
		       p->district, n->district);
	else if (is_parent && (strcmp(p->role, "office") != 0 || !above))
		ts_fmt(buf, len, "%s %s (%s) presents itself as our parent, "
				 "but a parent must be an office above %s",
		       strcmp(p->role, "auditor") == 0 ? "an auditor"
						       : "a node",
		       p->scope, p->role, n->scope);
	else if (strcmp(p->role, "auditor") == 0 ||
		 strcmp(n->role, "auditor") == 0 ||
		 scope_within(p->scope, n->scope) ||
		 scope_within(n->scope, p->scope))
		return NULL;
	else
		ts_fmt(buf, len, "%s and %s are not on one branch: they have "
				 "nothing to exchange",
		       p->scope, n->scope);
	return buf;
}

/* Other open links with the identity of c's peer. */
static unsigned
peer_links(const struct conn *c)
{
	const struct conn *o;
	unsigned k = 0;

	for (o = c->srv->conns; o != NULL; o = o->next)
		if (o != c && !o->closing && o->sess != NULL &&
		    o->tls.peer.node_id == c->tls.peer.node_id)
			k++;
	return k;
}

static void
start_session(struct conn *c)
{
	struct sess_cfg cfg;
	char why[300];

	if (link_refusal(c, why, sizeof(why)) != NULL) {
		ts_fmt(c->err, sizeof(c->err), "link refused: %s", why);
		conn_close(c, c->err);
		return;
	}
	if (peer_links(c) >= CONN_PER_PEER) {
		ts_fmt(c->err, sizeof(c->err),
		       "link refused: node %016llx already has %u links, the "
		       "cap",
		       (unsigned long long)c->tls.peer.node_id, CONN_PER_PEER);
		conn_close(c, c->err);
		return;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.node = c->srv->n;
	cfg.one_shot = c->outbound && c->srv->one_shot;
	cfg.peer = &c->tls.peer;
	cfg.peer_addr = c->addr;
	c->sess = sess_new(&cfg, now_ms(c->srv));
	if (c->sess == NULL) {
		conn_close(c, "out of memory");
		return;
	}
	srv_log(c->srv, TSYNC_LOG_INFO, "TLS up with %s (node %016llx, %s %s)",
		c->addr, (unsigned long long)c->tls.peer.node_id,
		c->tls.peer.role, c->tls.peer.scope);
}

/* Ciphertext arrived. */
static void
conn_input(struct conn *c, const uint8_t *p, size_t n)
{
	uint8_t plain[READ_BUF];
	int r;

	if (ts_tls_feed(&c->tls, p, n) != 0) {
		conn_close(c, "out of memory");
		return;
	}
	for (;;) {
		int was_done = c->tls.done;

		r = ts_tls_read(&c->tls, plain, sizeof(plain));
		if (r < 0) {
			ts_fmt(c->err, sizeof(c->err), "%s", c->tls.why);
			push_cipher(c); /* the TLS alert, if any */
			conn_close(c, c->tls.why);
			return;
		}
		if (!was_done && c->tls.done)
			start_session(c);
		if (r == 0)
			break;
		if (c->sess != NULL)
			sess_feed(c->sess, plain, (size_t)r);
		if (c->closing)
			return;
	}
	push_cipher(c);
	conn_flush(c);
}

static void
on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct conn *c = h->data;

	(void)hint;
	*b = uv_buf_init((char *)c->rbuf, sizeof(c->rbuf));
}

/*
 * Fairness: libuv reads up to 32 buffers from one socket in a row, so a
 * peer that floods would be served for 2 MiB of frames before any other.
 * After a full buffer the link stops reading until on_fair(), which runs
 * once every ready link has had its turn.  on_fair() also tells the links
 * about the batches applied in that turn (SA_APPLIED), once.
 */
static void
conn_yield(struct conn *c, size_t nread)
{
	if (nread < sizeof(c->rbuf) || c->closing || c->paused ||
	    !c->handle_open)
		return;
	c->yielded = 1;
	uv_read_stop((uv_stream_t *)&c->tcp);
}

static void
on_fair(uv_check_t *h)
{
	struct server *srv = h->data;
	struct conn *c;

	if (srv->notify_pending) {
		srv->notify_pending = 0;
		notify_all(srv, srv->notify_src);
	}
	for (c = srv->conns; c != NULL; c = c->next)
		if (c->yielded) {
			c->yielded = 0;
			if (!c->closing && !c->paused && c->handle_open)
				uv_read_start((uv_stream_t *)&c->tcp, on_alloc,
					      on_read);
		}
}

static void
on_read(uv_stream_t *h, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *c = h->data;

	if (nread < 0) {
		if (nread != UV_EOF)
			ts_fmt(c->err, sizeof(c->err), "read failed: %s",
			       uv_strerror((int)nread));
		conn_close(c, nread == UV_EOF ? "peer hung up" : c->err);
	} else if (nread > 0) {
		conn_input(c, (const uint8_t *)buf->base, (size_t)nread);
		conn_yield(c, (size_t)nread);
	}
}

static struct conn *
conn_new(struct server *srv, int outbound)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->srv = srv;
	c->outbound = outbound;
	if (ts_tls_init(&c->tls, srv->ctx, !outbound) != 0 ||
	    uv_tcp_init(&srv->loop, &c->tcp) != 0) {
		ts_tls_free(&c->tls);
		free(c);
		return NULL;
	}
	c->handle_open = 1;
	c->started = now_ms(srv);
	c->tcp.data = c;
	c->next = srv->conns;
	srv->conns = c;
	return c;
}

static void
peer_name_of(uv_tcp_t *t, int peer, char *out, size_t len)
{
	struct sockaddr_storage ss;
	int n = sizeof(ss);
	char host[64] = "?";

	if ((peer ? uv_tcp_getpeername(t, (struct sockaddr *)&ss, &n)
		  : uv_tcp_getsockname(t, (struct sockaddr *)&ss, &n)) == 0) {
		if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

			uv_ip6_name(a, host, sizeof(host));
			ts_fmt(out, len, "[%s]:%u", host, ntohs(a->sin6_port));
			return;
		}
		uv_ip4_name((struct sockaddr_in *)&ss, host, sizeof(host));
		ts_fmt(out, len, "%s:%u", host,
		       ntohs(((struct sockaddr_in *)&ss)->sin_port));
		return;
	}
	ts_fmt(out, len, "?");
}

/*
 * Whether the new inbound link c is one too many: CONN_MAX (or what the
 * descriptor limit allows) in all, CONN_UNAUTH_MAX before TLS is up.
 */
static int
inbound_full(struct server *srv, struct conn *c)
{
	const struct conn *o;
	unsigned all = 0, unauth = 0;

	for (o = srv->conns; o != NULL; o = o->next) {
		if (o == c || o->outbound || o->closing)
			continue;
		all++;
		unauth += !o->tls.done;
	}
	if (all >= srv->conn_max)
		ts_fmt(c->err, sizeof(c->err),
		       "refused: %u inbound links, the cap", all);
	else if (unauth >= CONN_UNAUTH_MAX)
		ts_fmt(c->err, sizeof(c->err),
		       "refused: %u links in the TLS handshake, the cap",
		       unauth);
	else
		return 0;
	return 1;
}

static void
on_connection(uv_stream_t *l, int status)
{
	struct server *srv = l->data;
	struct conn *c;

	if (status < 0)
		return;
	if ((c = conn_new(srv, 0)) == NULL)
		return;
	if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0) {
		conn_close(c, "accept failed");
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	peer_name_of(&c->tcp, 1, c->addr, sizeof(c->addr));
	if (inbound_full(srv, c)) {
		conn_close(c, c->err);
		return;
	}
	srv_log(srv, TSYNC_LOG_INFO, "connection from %s", c->addr);
	uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

/* ---- the parent link -------------------------------------------------- */

static void
on_connect(uv_connect_t *req, int status)
{
	struct conn *c = req->data;
	uint8_t none[1];

	if (status < 0) {
		ts_fmt(c->err, sizeof(c->err), "cannot connect to %s: %s",
		       c->addr, uv_strerror(status));
		conn_close(c, c->err);
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
	ts_tls_read(&c->tls, none, 0); /* ClientHello */
	push_cipher(c);
}

static int
split_addr(const char *addr, char *host, size_t hl, int *port)
{
	const char *colon = strrchr(addr, ':');
	char *end;
	long p;

	if (colon == NULL || colon == addr || (size_t)(colon - addr) >= hl)
		return TSYNC_EINVAL;
	p = strtol(colon + 1, &end, 10);
	if (*end != '\0' || p <= 0 || p > 65535)
		return TSYNC_EINVAL;
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	if (host[0] == '[') { /* [v6]:port */
		memmove(host, host + 1, strlen(host));
		host[strcspn(host, "]")] = '\0';
	}
	*port = (int)p;
	return 0;
}

static int
resolve(const char *host, int port, struct sockaddr_storage *ss)
{
	struct addrinfo hints, *res = NULL;
	char ps[16];

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	snprintf(ps, sizeof(ps), "%d", port);
	if (getaddrinfo(host, ps, &hints, &res) != 0 || res == NULL)
		return TSYNC_EINVAL;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}

static void
parent_connect(struct server *srv)
{
	struct sockaddr_storage ss;
	char host[256];
	int port, rc;
	struct conn *c;

	if (srv->stopping || srv->parent[0] == '\0' || srv->parent_conn)
		return;
	if (split_addr(srv->parent, host, sizeof(host), &port) != 0 ||
	    resolve(host, port, &ss) != 0) {
		srv_log(srv, TSYNC_LOG_ERROR, "cannot resolve parent %s",
			srv->parent);
		parent_schedule(srv);
		return;
	}
	if ((c = conn_new(srv, 1)) == NULL)
		return;
	ts_fmt(c->addr, sizeof(c->addr), "%s", srv->parent);
	c->creq.data = c;
	srv->parent_conn = c;
	rc = uv_tcp_connect(&c->creq, &c->tcp, (struct sockaddr *)&ss,
			    on_connect);
	if (rc < 0) {
		ts_fmt(c->err, sizeof(c->err), "cannot connect to %s: %s",
		       c->addr, uv_strerror(rc));
		conn_close(c, c->err);
	}
}

static void
on_reconnect(uv_timer_t *t)
{
	parent_connect(t->data);
}

/* Exponential backoff with +-25% jitter, 250 ms to 30 s. */
static void
parent_schedule(struct server *srv)
{
	uint32_t r = 0;
	uint64_t d;

	if (srv->stopping || srv->parent[0] == '\0')
		return;
	if (srv->one_shot) { /* sync: no retry */
		uv_stop(&srv->loop);
		return;
	}
	srv->backoff_ms = srv->backoff_ms == 0 ? BACKOFF_MIN_MS
						: srv->backoff_ms * 2;
	if (srv->backoff_ms > BACKOFF_MAX_MS)
		srv->backoff_ms = BACKOFF_MAX_MS;
	RAND_bytes((unsigned char *)&r, sizeof(r));
	d = srv->backoff_ms * 3 / 4 + r % (srv->backoff_ms / 2 + 1);
	srv_log(srv, TSYNC_LOG_INFO, "reconnecting to parent %s in %llu ms",
		srv->parent, (unsigned long long)d);
	uv_timer_start(&srv->reconnect, on_reconnect, d, 0);
}

/* ---- the server ------------------------------------------------------ */

static void
on_tick(uv_timer_t *t)
{
	struct server *srv = t->data;
	struct conn *c, *next;

	srv_changed(srv);
	if (heads_sync(srv->n) != 0)
		srv_log(srv, TSYNC_LOG_WARN, "%s", tsync_node_errmsg(srv->n));
	for (c = srv->conns; c != NULL; c = next) {
		next = c->next;
		if (c->closing && c->handle_open &&
		    now_ms(srv) - c->closed_at > LINGER_MS) {
			/* The peer does not take the last bytes: drop them
			 * (libuv cancels the writes before on_closed). */
			c->handle_open = 0;
			uv_close((uv_handle_t *)&c->tcp, on_closed);
		} else if (!c->closing && !c->tls.done &&
		    now_ms(srv) - c->started > HANDSHAKE_MS) {
			ts_fmt(c->err, sizeof(c->err),
			       "TLS handshake not done within %u ms",
			       HANDSHAKE_MS);
			conn_close(c, c->err);
		} else if (!c->closing) {
			conn_flush(c);
		}
	}
}

static void
on_close_walk(uv_handle_t *h, void *arg)
{
	struct server *srv = arg;

	if (uv_is_closing(h))
		return;
	if (h->type == UV_TCP && h->data != srv) {
		((struct conn *)h->data)->handle_open = 0;
		uv_close(h, on_closed);
	} else {
		uv_close(h, NULL);
	}
}

static void
srv_stop(struct server *srv, const char *why)
{
	struct conn *c;

	if (srv->stopping)
		return;
	srv->stopping = 1;
	srv_log(srv, TSYNC_LOG_INFO, "stopping: %s", why);
	for (c = srv->conns; c != NULL; c = c->next)
		if (c->sess != NULL && !c->closing) {
			sess_close(c->sess, why);
			conn_flush(c);
		}
	uv_stop(&srv->loop);
}

static void
on_signal(uv_signal_t *h, int sig)
{
	srv_stop(h->data, sig == SIGINT ? "SIGINT" : "SIGTERM");
}

static void
on_deadline(uv_timer_t *t)
{
	struct server *srv = t->data;

	srv->result = TSYNC_EIO;
	if (srv->sr != NULL)
		ts_fmt(srv->sr->why, sizeof(srv->sr->why),
		       "timed out before both sides were in sync");
	srv_stop(srv, "timeout");
}

static int
srv_listen(struct server *srv, const char *addr, char *err, size_t len)
{
	struct sockaddr_storage ss;
	char host[256];
	int port, rc;

	if (split_addr(addr, host, sizeof(host), &port) != 0 ||
	    resolve(host, port, &ss) != 0) {
		ts_fmt(err, len, "listen address %s is not ADDR:PORT", addr);
		return TSYNC_EINVAL;
	}
	uv_tcp_init(&srv->loop, &srv->listener);
	srv->listener.data = srv;
	srv->listening = 1;
	rc = uv_tcp_bind(&srv->listener, (struct sockaddr *)&ss, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&srv->listener, 64,
			       on_connection);
	if (rc < 0) {
		ts_fmt(err, len, "cannot listen on %s: %s", addr,
		       uv_strerror(rc));
		return TSYNC_EIO;
	}
	srv_log(srv, TSYNC_LOG_INFO, "listening on %s", addr);
	return 0;
}

/* CONN_MAX, or fewer when the descriptor limit is low. */
static unsigned
conn_max(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < CONN_MAX + CONN_FD_SPARE)
		return rl.rlim_cur > CONN_FD_SPARE + 1
			       ? (unsigned)(rl.rlim_cur - CONN_FD_SPARE)
			       : 1;
	return CONN_MAX;
}

static int
srv_init(struct server *srv, const char *dir, int one_shot, char *err,
	 size_t len)
{
	char path[PATH_MAX];

	memset(srv, 0, sizeof(*srv));
	srv->conn_max = conn_max();
	if (tsync_node_open(dir, NULL, &srv->n) != 0) {
		ts_fmt(err, len, "%s", tsync_node_errmsg(srv->n));
		tsync_node_close(srv->n);
		srv->n = NULL;
		return TSYNC_EINVAL;
	}
	if ((srv->ctx = ts_tls_ctx_new(dir, srv->n, err, len)) == NULL) {
		tsync_node_close(srv->n);
		return TSYNC_EAUTH;
	}
	signal(SIGPIPE, SIG_IGN);
	uv_loop_init(&srv->loop);
	uv_timer_init(&srv->loop, &srv->tick);
	uv_timer_init(&srv->loop, &srv->burst);
	uv_timer_init(&srv->loop, &srv->reconnect);
	uv_timer_init(&srv->loop, &srv->deadline);
	srv->tick.data = srv->burst.data = srv->reconnect.data = srv;
	srv->deadline.data = srv;
	uv_timer_start(&srv->tick, on_tick, 200, 200);
	uv_check_init(&srv->loop, &srv->fair);
	srv->fair.data = srv;
	uv_check_start(&srv->fair, on_fair);
	uv_signal_init(&srv->loop, &srv->sigint);
	uv_signal_init(&srv->loop, &srv->sigterm);
	srv->sigint.data = srv->sigterm.data = srv;
	uv_signal_start(&srv->sigint, on_signal, SIGINT);
	uv_signal_start(&srv->sigterm, on_signal, SIGTERM);
	srv->wake_fd = -1;
	if (!one_shot)
		wake_open(srv, dir);
	uv_fs_event_init(&srv->loop, &srv->watch);
	srv->watch.data = srv;
	ts_fmt(path, sizeof(path), "%s", dir);
	if (srv->wake_fd < 0)
		srv->watching = uv_fs_event_start(&srv->watch, on_fs_event,
						  path, 0) == 0;
	data_changed(srv);
	ts_store_meta_get(srv->n, "crl_number", srv->crl_number,
		       sizeof(srv->crl_number));
	return 0;
}

static void
srv_done(struct server *srv)
{
	struct conn *c;

	for (c = srv->conns; c != NULL; c = c->next)
		record_peer(c);
	uv_walk(&srv->loop, on_close_walk, srv);
	uv_run(&srv->loop, UV_RUN_DEFAULT);
	uv_loop_close(&srv->loop);
	while (srv->conns != NULL) {
		c = srv->conns;
		srv->conns = c->next;
		sess_free(c->sess);
		ts_tls_free(&c->tls);
		free(c);
	}
	if (srv->wake_fd >= 0) {
		close(srv->wake_fd);
		unlink(srv->wake_path);
	}
	sqlite3_finalize(srv->dv);
	SSL_CTX_free(srv->ctx);
	tsync_node_close(srv->n);
}

int
tsync_serve(const char *dir, const struct tsync_serve_opts *o, char *err,
	    size_t errlen)
{
	struct server srv;
	char listen[300] = "", parent[300] = "";
	int rc;

	if ((rc = srv_init(&srv, dir, 0, err, errlen)) != 0)
		return rc;
	srv.quiet = o != NULL && o->quiet;
	if (o != NULL && o->listen != NULL)
		ts_fmt(listen, sizeof(listen), "%s", o->listen);
	else
		node_conf_get(srv.n, "listen", listen, sizeof(listen));
	if (o != NULL && o->parent != NULL)
		ts_fmt(parent, sizeof(parent), "%s", o->parent);
	else
		node_conf_get(srv.n, "parent", parent, sizeof(parent));
	ts_fmt(srv.parent, sizeof(srv.parent), "%s", parent);
	if (listen[0] != '\0' &&
	    (rc = srv_listen(&srv, listen, err, errlen)) != 0) {
		srv_done(&srv);
		return rc;
	}
	if (listen[0] == '\0' && parent[0] == '\0') {
		ts_fmt(err, errlen, "nothing to serve: set listen or parent "
				    "in tiersync.conf");
		srv_done(&srv);
		return TSYNC_EINVAL;
	}
	srv_log(&srv, TSYNC_LOG_INFO, "node %016llx serving (%s %s)%s%s",
		(unsigned long long)srv.n->id, srv.n->role, srv.n->scope,
		parent[0] ? ", parent " : "", parent);
	parent_connect(&srv);
	uv_run(&srv.loop, UV_RUN_DEFAULT);
	srv_done(&srv);
	return 0;
}

int
tsync_sync(const char *dir, const char *peer, unsigned timeout_ms,
	   struct tsync_sync_result *r)
{
	struct server srv;
	int rc;

	memset(r, 0, sizeof(*r));
	if ((rc = srv_init(&srv, dir, 1, r->why, sizeof(r->why))) != 0)
		return rc;
	srv.quiet = 1;
	srv.one_shot = 1;
	srv.sr = r;
	srv.result = TSYNC_EIO;
	ts_fmt(srv.parent, sizeof(srv.parent), "%s", peer);
	ts_fmt(r->why, sizeof(r->why), "link closed before both sides were "
				       "in sync");
	uv_timer_start(&srv.deadline, on_deadline,
		       timeout_ms ? timeout_ms : 600000, 0);
	parent_connect(&srv);
	uv_run(&srv.loop, UV_RUN_DEFAULT);
	srv.stopping = 1;
	srv_done(&srv); /* closes what is left, gathering its figures */
	return srv.result;
}
