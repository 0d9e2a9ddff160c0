/*
 * heads.c - NODE_DIR/heads, the restore detector; see heads.h.
 *
 * The file is text, one line per stream of this node:
 *
 *   SEQ HASH SCOPE [PEER]
 *
 * SEQ is decimal, HASH the 64 hex digits of that txn's hash when this node
 * wrote it (or `-` when only a peer's VV told of it), SCOPE the stream's
 * scope, and PEER (16 hex digits) the peer whose VV told of it.  Lines
 * starting with `#` are comments.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "heads.h"
#include "node_int.h"
#include "scope.h"

#define HEADS_MAX 4096 /* streams of one node; more is a damaged file */

struct hrec {
	uint64_t seq;
	uint64_t peer; /* 0: written here */
	char hash[2 * KEYS_HASH_LEN + 1]; /* "-" when unknown */
	char scope[SCOPE_MAX + 1];
};

struct hset {
	struct hrec *v;
	size_t n, cap;
};

static struct hrec *
hset_find(struct hset *h, const char *scope, size_t len)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		if (strlen(h->v[i].scope) == len &&
		    memcmp(h->v[i].scope, scope, len) == 0)
			return &h->v[i];
	return NULL;
}

/* The entry for scope, added (seq 0) if absent; NULL when out of memory. */
static struct hrec *
hset_get(struct hset *h, const char *scope, size_t len)
{
	struct hrec *r = hset_find(h, scope, len);

	if (r != NULL)
		return r;
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 8;
		struct hrec *nv = realloc(h->v, cap * sizeof(*nv));

		if (nv == NULL)
			return NULL;
		h->v = nv;
		h->cap = cap;
	}
	r = &h->v[h->n++];
	memset(r, 0, sizeof(*r));
	ts_fmt(r->hash, sizeof(r->hash), "-");
	memcpy(r->scope, scope, len);
	r->scope[len] = '\0';
	return r;
}

/* Parses one line into r; 0, or -1 when it is not a heads line. */
static int
parse_line(char *line, struct hrec *r)
{
	char *f[4], *end;
	int nf = 0;

	line[strcspn(line, "\r\n")] = '\0';
	while (*line != '\0' && nf < 4) {
		f[nf++] = line;
		line += strcspn(line, " ");
		if (*line == ' ')
			*line++ = '\0';
	}
	if (nf < 3 || *line != '\0')
		return -1;
	memset(r, 0, sizeof(*r));
	errno = 0;
	r->seq = strtoull(f[0], &end, 10);
	if (errno != 0 || *end != '\0' || end == f[0] || r->seq == 0)
		return -1;
	if (strcmp(f[1], "-") != 0 &&
	    (strlen(f[1]) != 2 * KEYS_HASH_LEN ||
	     strspn(f[1], "0123456789abcdef") != 2 * KEYS_HASH_LEN))
		return -1;
	if (strlen(f[2]) > SCOPE_MAX || !scope_valid(f[2], 1))
		return -1;
	if (nf == 4 && id_parse(f[3], &r->peer) != 0)
		return -1;
	ts_fmt(r->hash, sizeof(r->hash), "%s", f[1]);
	ts_fmt(r->scope, sizeof(r->scope), "%s", f[2]);
	return 0;
}

/* Reads the heads file into h (empty if there is none). */
static int
heads_read(struct tsync_node *n, struct hset *h)
{
	char path[PATH_MAX], line[512];
	struct hrec r, *e;
	unsigned lineno = 0;
	FILE *f;

	memset(h, 0, sizeof(*h));
	ts_fmt(path, sizeof(path), "%s/heads", n->dir);
	if ((f = fopen(path, "r")) == NULL)
		return errno == ENOENT ? 0
				       : node_err(n, TSYNC_EIO,
						  "cannot read %s: %s", path,
						  strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (parse_line(line, &r) != 0 || h->n >= HEADS_MAX ||
		    (e = hset_get(h, r.scope, strlen(r.scope))) == NULL) {
			fclose(f);
			free(h->v);
			memset(h, 0, sizeof(*h));
			return node_err(n, TSYNC_ECORRUPT,
					"%s line %u is damaged: the node "
					"cannot tell whether replica.db was "
					"restored (see docs/operations.md, "
					"Backing up and restoring)",
					path, lineno);
		}
		if (r.seq > e->seq)
			*e = r;
	}
	fclose(f);
	return 0;
}

/*
 * Replaces the heads file with h: a temporary file, fsync, rename.  The
 * directory is not fsync'd: after a power cut the rename may be undone,
 * and the older file only lags (heads.h), so one fsync per commit is
 * spared.
 */
static int
heads_write(struct tsync_node *n, const struct hset *h)
{
	char path[PATH_MAX], tmp[PATH_MAX], peer[17];
	size_t i;
	FILE *f;

	ts_fmt(path, sizeof(path), "%s/heads", n->dir);
	ts_fmt(tmp, sizeof(tmp), "%s/heads.tmp", n->dir);
	if ((f = fopen(tmp, "w")) == NULL)
		return node_err(n, TSYNC_EIO, "cannot write %s: %s", tmp,
				strerror(errno));
	fprintf(f, "# tiersync: how far this node's own streams reached "
		   "(docs/operations.md).\n"
		   "# SEQ HASH SCOPE [PEER]; replica.db behind a line = "
		   "restored from a backup.\n");
	for (i = 0; i < h->n; i++) {
		if (h->v[i].peer != 0)
			id_format(h->v[i].peer, peer);
		fprintf(f, "%llu %s %s%s%s\n",
			(unsigned long long)h->v[i].seq, h->v[i].hash,
			h->v[i].scope, h->v[i].peer != 0 ? " " : "",
			h->v[i].peer != 0 ? peer : "");
	}
	if (ts_file_replace(f, tmp, path) != 0)
		return node_err(n, TSYNC_EIO, "cannot write %s", path);
	return 0;
}

/* Locks NODE_DIR against other writers of the heads file; -1 on error. */
static int
heads_lock(struct tsync_node *n)
{
	int fd = open(n->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		node_err(n, TSYNC_EIO, "cannot open %s: %s", n->dir,
			 strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX) != 0) {
		node_err(n, TSYNC_EIO, "cannot lock %s: %s", n->dir,
			 strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int
heads_check(struct tsync_node *n)
{
	struct stream_head sh;
	struct hset h;
	char who[64] = "";
	size_t i;
	int rc;

	if ((rc = heads_read(n, &h)) != 0)
		return rc;
	for (i = 0; i < h.n; i++) {
		rc = log_head(n, n->id, h.v[i].scope, strlen(h.v[i].scope),
			      &sh);
		if (rc != 0 && rc != TSYNC_ENOENT)
			break;
		rc = 0;
		if (sh.seq >= h.v[i].seq)
			continue;
		if (h.v[i].peer != 0) {
			char id[17];

			id_format(h.v[i].peer, id);
			ts_fmt(who, sizeof(who), " (peer %s holds it)", id);
		}
		rc = node_err(n, TSYNC_EBUSY,
			      "this node was restored from an older backup: "
			      "replica.db holds its stream %s up to seq %llu, "
			      "but the node had reached seq %llu%s; nothing "
			      "was written.  Fetch its own txns back first: "
			      "`tiersync sync %s --peer PARENT:PORT` (any peer "
			      "that holds them will do: the parent, a child, "
			      "an auditor); see docs/operations.md",
			      h.v[i].scope, (unsigned long long)sh.seq,
			      (unsigned long long)h.v[i].seq, who, n->dir);
		break;
	}
	free(h.v);
	return rc;
}

int
heads_save(struct tsync_node *n)
{
	struct hset h;
	struct hrec *r;
	sqlite3_stmt *s;
	int fd, rc, changed = 0;

	if ((fd = heads_lock(n)) < 0)
		return TSYNC_EIO;
	if ((rc = heads_read(n, &h)) != 0)
		goto out;
	rc = sqlite3_prepare_v2(n->db,
				"SELECT scope, seq, hash FROM ts_streams"
				" WHERE origin = ?1 AND seq > 0",
				-1, &s, NULL);
	if (rc != SQLITE_OK) {
		rc = node_sqlerr(n, rc, "read own streams");
		goto out;
	}
	sqlite3_bind_int64(s, 1, (int64_t)n->id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *sc = (const char *)sqlite3_column_text(s, 0);
		uint64_t seq = (uint64_t)sqlite3_column_int64(s, 1);
		size_t sl = (size_t)sqlite3_column_bytes(s, 0);

		if (sl > SCOPE_MAX || sqlite3_column_bytes(s, 2) !=
					      KEYS_HASH_LEN)
			continue;
		if ((r = hset_get(&h, sc, sl)) == NULL) {
			rc = SQLITE_NOMEM;
			break;
		}
		if (seq < r->seq || (seq == r->seq && r->peer == 0))
			continue; /* entries only rise */
		r->seq = seq;
		r->peer = 0;
		hex_encode(sqlite3_column_blob(s, 2), KEYS_HASH_LEN, r->hash);
		changed = 1;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		rc = rc == SQLITE_NOMEM ? node_err(n, TSYNC_ENOMEM,
						   "out of memory")
					: node_sqlerr(n, rc, "read own streams");
	else
		rc = changed ? heads_write(n, &h) : 0;
out:
	free(h.v);
	close(fd); /* releases the lock */
	return rc;
}

int
heads_learn(struct tsync_node *n, const char *scope, size_t scope_len,
	    uint64_t seq, uint64_t peer_id)
{
	struct hset h;
	struct hrec *r;
	char sc[SCOPE_MAX + 1];
	int fd, rc;

	if (scope_len > SCOPE_MAX || seq == 0)
		return 0;
	memcpy(sc, scope, scope_len);
	sc[scope_len] = '\0';
	if (!scope_valid(sc, 1))
		return 0; /* not a stream this node can have written */
	if ((fd = heads_lock(n)) < 0)
		return TSYNC_EIO;
	if ((rc = heads_read(n, &h)) == 0) {
		if ((r = hset_get(&h, sc, scope_len)) == NULL)
			rc = node_err(n, TSYNC_ENOMEM, "out of memory");
		else if (seq > r->seq) {
			r->seq = seq;
			r->peer = peer_id;
			ts_fmt(r->hash, sizeof(r->hash), "-");
			rc = heads_write(n, &h);
		}
	}
	free(h.v);
	close(fd);
	return rc;
}
