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
 *
 * Layout (version 2): the file is a run of 512-byte slots.  Slot 0 is a
 * comment naming the layout; every other slot holds one stream's line,
 * then a comment line `#CRC` (8 hex digits, FNV-1a of the line) padded
 * with spaces to the slot's end.  A commit rewrites only the slots of the
 * streams it moved, in place (one pwrite each, one sector, no rename), so
 * a local commit costs a few syscalls instead of a write, an fsync and a
 * rename.  A slot whose CRC does not match (a write torn by a power cut)
 * is skipped: that stream's entry then lags, which is the safe direction
 * (heads.h).  A file in any other layout (the first version, or one
 * edited by hand) is read line by line, strictly, and replaced atomically
 * by a version 2 file at the next save.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "heads.h"
#include "node_int.h"
#include "scope.h"

#define HEADS_MAX 4096 /* streams of one node; more is a damaged file */
#define SLOT 512       /* one sector: a slot is never split by a write */
#define SYNC_MS 1000   /* fdatasync moved slots at most this much later */
#define MAGIC "# tiersync heads v2"

struct hrec {
	uint64_t seq;
	uint64_t peer; /* 0: written here */
	char hash[2 * KEYS_HASH_LEN + 1]; /* "-" when unknown */
	char scope[SCOPE_MAX + 1];
	uint32_t slot; /* 1.. in a version 2 file; 0: none yet */
	int moved;     /* to be written */
};

struct hset {
	struct hrec *v;
	size_t n, cap;
	uint32_t nslot; /* slots in the file, slot 0 included; 0: not v2 */
};

/* The open heads file of a node handle (tsync_node.heads). */
struct heads_file {
	int dirfd;          /* NODE_DIR, flock'd around each read or write */
	int fd;             /* NODE_DIR/heads, -1 when not open */
	dev_t dev;
	ino_t ino;
	sqlite3_stmt *own;  /* the node's own stream heads */
	uint64_t synced_ms; /* last fdatasync */
	int dirty;          /* slots written since */
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
	if (ts_grow(&h->v, &h->cap, h->n, sizeof(*h->v), 8) != 0)
		return NULL;
	r = &h->v[h->n++];
	memset(r, 0, sizeof(*r));
	ts_fmt(r->hash, sizeof(r->hash), "-");
	memcpy(r->scope, scope, len);
	r->scope[len] = '\0';
	return r;
}

/* Parses one line (NUL-terminated) into r; 0, or -1 when it is not one. */
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

static uint32_t
fnv1a(const char *p, size_t n)
{
	uint32_t h = 2166136261u;

	while (n-- > 0)
		h = (h ^ (uint8_t)*p++) * 16777619u;
	return h;
}

/* Takes r into h (the higher seq wins); -1 when out of memory or full. */
static int
hset_take(struct hset *h, const struct hrec *r)
{
	struct hrec *e;

	if (h->n >= HEADS_MAX || (e = hset_get(h, r->scope,
					      strlen(r->scope))) == NULL)
		return -1;
	if (r->seq > e->seq)
		*e = *r;
	return 0;
}

/* One version 2 slot; a torn or unused one is skipped (it only lags). */
static int
read_slot(struct hset *h, char *s, uint32_t slot)
{
	char *nl = memchr(s, '\n', SLOT), *end;
	struct hrec r;
	unsigned long crc;

	if (nl == NULL || nl + 10 > s + SLOT || nl[1] != '#')
		return 0;
	errno = 0;
	crc = strtoul(nl + 2, &end, 16);
	if (errno != 0 || end != nl + 10 ||
	    crc != fnv1a(s, (size_t)(nl - s)))
		return 0;
	*nl = '\0';
	if (parse_line(s, &r) != 0)
		return 0;
	r.slot = slot;
	return hset_take(h, &r);
}

/* Parses the text of a heads file (NUL-terminated, len bytes) into h. */
static int
parse_file(struct hset *h, char *text, size_t len)
{
	struct hrec r;
	char *line, *nl;
	uint32_t i;

	if (len >= SLOT && strncmp(text, MAGIC, strlen(MAGIC)) == 0) {
		/* A slot cut short or left as zeros by a power cut during an
		 * append is skipped (and the next append overwrites it). */
		h->nslot = (uint32_t)(len / SLOT);
		for (i = 1; i < h->nslot; i++)
			if (read_slot(h, text + (size_t)i * SLOT, i) != 0)
				return -1;
		return 0;
	}
	if (memchr(text, '\0', len) != NULL)
		return -1;
	for (line = text; *line != '\0'; line = nl) {
		nl = line + strcspn(line, "\n");
		if (*nl == '\n')
			*nl++ = '\0';
		if (line[0] == '#' || line[0] == '\0' || line[0] == '\r')
			continue;
		if (parse_line(line, &r) != 0 || hset_take(h, &r) != 0)
			return -1;
	}
	return 0;
}

/* The node's open heads state, made on first use; NULL on error. */
static struct heads_file *
hf_get(struct tsync_node *n)
{
	struct heads_file *hf = n->heads;

	if (hf != NULL)
		return hf;
	if ((hf = calloc(1, sizeof(*hf))) == NULL) {
		node_err(n, TSYNC_ENOMEM, "out of memory");
		return NULL;
	}
	hf->fd = -1;
	hf->dirfd = open(n->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (hf->dirfd < 0) {
		node_err(n, TSYNC_EIO, "cannot open %s: %s", n->dir,
			 strerror(errno));
		free(hf);
		return NULL;
	}
	n->heads = hf;
	return hf;
}

/* (Re)opens the heads file if it is not open or was replaced; 0, 1 when
 * there is none, or an error. */
static int
hf_open(struct tsync_node *n, struct heads_file *hf)
{
	struct stat st;

	if (fstatat(hf->dirfd, "heads", &st, 0) != 0) {
		if (errno != ENOENT)
			return node_err(n, TSYNC_EIO, "cannot read %s/heads: "
				        "%s", n->dir, strerror(errno));
		if (hf->fd >= 0)
			close(hf->fd);
		hf->fd = -1;
		return 1;
	}
	if (hf->fd >= 0 && st.st_dev == hf->dev && st.st_ino == hf->ino)
		return 0;
	if (hf->fd >= 0)
		close(hf->fd);
	hf->fd = openat(hf->dirfd, "heads", O_RDWR | O_CLOEXEC);
	if (hf->fd < 0 || fstat(hf->fd, &st) != 0)
		return node_err(n, TSYNC_EIO, "cannot open %s/heads: %s",
				n->dir, strerror(errno));
	hf->dev = st.st_dev;
	hf->ino = st.st_ino;
	return 0;
}

/* Reads the heads file into h (empty if there is none); under the lock. */
static int
heads_read(struct tsync_node *n, struct heads_file *hf, struct hset *h)
{
	struct stat st;
	char *text;
	ssize_t got;
	int rc;

	memset(h, 0, sizeof(*h));
	if ((rc = hf_open(n, hf)) != 0)
		return rc > 0 ? 0 : rc;
	if (fstat(hf->fd, &st) != 0)
		return node_err(n, TSYNC_EIO, "cannot read %s/heads: %s",
				n->dir, strerror(errno));
	if (st.st_size > (off_t)(HEADS_MAX + 1) * SLOT)
		goto damaged;
	if ((text = malloc((size_t)st.st_size + 1)) == NULL)
		return node_err(n, TSYNC_ENOMEM, "out of memory");
	got = pread(hf->fd, text, (size_t)st.st_size, 0);
	if (got < 0) {
		free(text);
		return node_err(n, TSYNC_EIO, "cannot read %s/heads: %s",
				n->dir, strerror(errno));
	}
	text[got] = '\0';
	if (parse_file(h, text, (size_t)got) != 0) {
		free(text);
		goto damaged;
	}
	free(text);
	return 0;
damaged:
	free(h->v);
	memset(h, 0, sizeof(*h));
	return node_err(n, TSYNC_ECORRUPT,
			"%s/heads is damaged: the node cannot tell whether "
			"replica.db was restored (see docs/operations.md, "
			"Backing up and restoring)", n->dir);
}

/* Formats r as its slot: the line, `#CRC`, spaces, a newline. */
static void
slot_format(const struct hrec *r, char out[SLOT])
{
	char peer[17] = "";
	int len;

	if (r->peer != 0)
		id_format(r->peer, peer);
	len = snprintf(out, SLOT, "%llu %s %s%s%s", (unsigned long long)r->seq,
		       r->hash, r->scope, r->peer != 0 ? " " : "", peer);
	snprintf(out + len, (size_t)(SLOT - len), "\n#%08x",
		 (unsigned)fnv1a(out, (size_t)len));
	len += 10;
	memset(out + len, ' ', (size_t)(SLOT - len - 1));
	out[SLOT - 1] = '\n';
}

static void
header_format(char out[SLOT])
{
	int len = snprintf(out, SLOT,
			   MAGIC ": how far this node's own streams reached "
			   "(docs/operations.md).\n"
			   "# SEQ HASH SCOPE [PEER]; replica.db behind a "
			   "line = restored from a backup.\n"
			   "# One %d-byte slot per stream, rewritten in "
			   "place.\n#",
			   SLOT);

	memset(out + len, ' ', (size_t)(SLOT - len - 1));
	out[SLOT - 1] = '\n';
}

/*
 * Replaces the heads file with h in the version 2 layout: a temporary
 * file, fsync, rename.  Only for a file in another layout (or none).  The
 * directory is not fsync'd: after a power cut the rename may be undone,
 * and the older file only lags (heads.h).
 */
static int
heads_rewrite(struct tsync_node *n, struct heads_file *hf, struct hset *h)
{
	char path[PATH_MAX], tmp[PATH_MAX], slot[SLOT];
	size_t i;
	FILE *f;

	ts_fmt(path, sizeof(path), "%s/heads", n->dir);
	ts_fmt(tmp, sizeof(tmp), "%s/heads.tmp", n->dir);
	if ((f = fopen(tmp, "w")) == NULL)
		return node_err(n, TSYNC_EIO, "cannot write %s: %s", tmp,
				strerror(errno));
	header_format(slot);
	fwrite(slot, 1, SLOT, f);
	for (i = 0; i < h->n; i++) {
		slot_format(&h->v[i], slot);
		fwrite(slot, 1, SLOT, f);
	}
	if (ts_file_replace(f, tmp, path) != 0)
		return node_err(n, TSYNC_EIO, "cannot write %s", path);
	return hf_open(n, hf) == 0 ? 0 : TSYNC_EIO;
}

/*
 * Writes the moved entries of h.  In a version 2 file each moved slot is
 * rewritten in place; a new stream's slot goes at the end, and then the
 * file is fdatasync'd at once (its size changed).  Slots only moved are
 * fdatasync'd when SYNC_MS passed since the last sync, else left dirty
 * for heads_sync() or heads_close(): until then a power cut may undo
 * them, which makes the file lag behind replica.db, never run ahead.
 */
static int
heads_write(struct tsync_node *n, struct heads_file *hf, struct hset *h,
	    int sync_now)
{
	char slot[SLOT];
	uint64_t now;
	size_t i;

	if (h->nslot == 0 || hf->fd < 0)
		return heads_rewrite(n, hf, h);
	for (i = 0; i < h->n; i++) {
		struct hrec *r = &h->v[i];

		if (!r->moved)
			continue;
		if (r->slot == 0) {
			r->slot = h->nslot++;
			sync_now = 1;
		}
		slot_format(r, slot);
		if (pwrite(hf->fd, slot, SLOT, (off_t)r->slot * SLOT) != SLOT)
			return node_err(n, TSYNC_EIO, "cannot write %s/heads:"
					" %s", n->dir, strerror(errno));
		hf->dirty = 1;
	}
	now = ts_now_ms(&n->ops);
	if (hf->dirty && (sync_now || now - hf->synced_ms >= SYNC_MS)) {
		if (fdatasync(hf->fd) != 0)
			return node_err(n, TSYNC_EIO, "cannot sync %s/heads: "
					"%s", n->dir, strerror(errno));
		hf->dirty = 0;
		hf->synced_ms = now;
	}
	return 0;
}

static int
hf_lock(struct tsync_node *n, struct heads_file *hf, int how)
{
	if (flock(hf->dirfd, how) != 0)
		return node_err(n, TSYNC_EIO, "cannot lock %s: %s", n->dir,
				strerror(errno));
	return 0;
}

int
heads_check(struct tsync_node *n)
{
	struct heads_file *hf = hf_get(n);
	struct stream_head sh;
	struct hset h;
	char who[64] = "";
	size_t i;
	int rc;

	if (hf == NULL)
		return TSYNC_EIO;
	if ((rc = hf_lock(n, hf, LOCK_SH)) != 0)
		return rc;
	rc = heads_read(n, hf, &h);
	flock(hf->dirfd, LOCK_UN);
	if (rc != 0)
		return rc;
	for (i = 0; i < h.n; i++) {
		rc = ts_log_head(n, n->id, h.v[i].scope, strlen(h.v[i].scope),
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

/* Raises h's entries to replica.db's heads of this node's streams. */
static int
own_heads(struct tsync_node *n, struct heads_file *hf, struct hset *h,
	  int *changed)
{
	sqlite3_stmt *s;
	struct hrec *r;
	int rc;

	if (hf->own == NULL &&
	    (rc = sqlite3_prepare_v2(n->db, "SELECT scope, seq, hash FROM"
					    " ts_streams WHERE origin = ?1"
					    " AND seq > 0",
				     -1, &hf->own, NULL)) != SQLITE_OK)
		return node_sqlerr(n, rc, "read own streams");
	s = hf->own;
	sqlite3_bind_int64(s, 1, (int64_t)n->id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *sc = (const char *)sqlite3_column_text(s, 0);
		uint64_t seq = (uint64_t)sqlite3_column_int64(s, 1);
		size_t sl = (size_t)sqlite3_column_bytes(s, 0);

		if (sl > SCOPE_MAX || sqlite3_column_bytes(s, 2) !=
					      KEYS_HASH_LEN)
			continue;
		if ((r = hset_get(h, sc, sl)) == NULL) {
			rc = SQLITE_NOMEM;
			break;
		}
		if (seq < r->seq || (seq == r->seq && r->peer == 0))
			continue; /* entries only rise */
		r->seq = seq;
		r->peer = 0;
		hex_encode(sqlite3_column_blob(s, 2), KEYS_HASH_LEN, r->hash);
		r->moved = 1;
		*changed = 1;
	}
	sqlite3_reset(s);
	if (rc == SQLITE_DONE)
		return 0;
	return rc == SQLITE_NOMEM ? node_err(n, TSYNC_ENOMEM, "out of memory")
				  : node_sqlerr(n, rc, "read own streams");
}

int
heads_save(struct tsync_node *n)
{
	struct heads_file *hf = hf_get(n);
	struct hset h;
	int rc, changed = 0;

	if (hf == NULL)
		return TSYNC_EIO;
	if ((rc = hf_lock(n, hf, LOCK_EX)) != 0)
		return rc;
	if ((rc = heads_read(n, hf, &h)) == 0 &&
	    (rc = own_heads(n, hf, &h, &changed)) == 0 && changed)
		rc = heads_write(n, hf, &h, 0);
	free(h.v);
	flock(hf->dirfd, LOCK_UN);
	return rc;
}

int
heads_learn(struct tsync_node *n, const char *scope, size_t scope_len,
	    uint64_t seq, uint64_t peer_id)
{
	struct heads_file *hf;
	struct hset h;
	struct hrec *r;
	char sc[SCOPE_MAX + 1];
	int rc;

	if (scope_len > SCOPE_MAX || seq == 0)
		return 0;
	memcpy(sc, scope, scope_len);
	sc[scope_len] = '\0';
	if (!scope_valid(sc, 1))
		return 0; /* not a stream this node can have written */
	if ((hf = hf_get(n)) == NULL)
		return TSYNC_EIO;
	if ((rc = hf_lock(n, hf, LOCK_EX)) != 0)
		return rc;
	if ((rc = heads_read(n, hf, &h)) == 0) {
		if ((r = hset_get(&h, sc, scope_len)) == NULL)
			rc = node_err(n, TSYNC_ENOMEM, "out of memory");
		else if (seq > r->seq) {
			r->seq = seq;
			r->peer = peer_id;
			ts_fmt(r->hash, sizeof(r->hash), "-");
			r->moved = 1;
			rc = heads_write(n, hf, &h, 1); /* rare: sync now */
		}
	}
	free(h.v);
	flock(hf->dirfd, LOCK_UN);
	return rc;
}

int
heads_sync(struct tsync_node *n)
{
	struct heads_file *hf = n->heads;

	if (hf == NULL || !hf->dirty || hf->fd < 0 ||
	    ts_now_ms(&n->ops) - hf->synced_ms < SYNC_MS)
		return 0;
	if (fdatasync(hf->fd) != 0)
		return node_err(n, TSYNC_EIO, "cannot sync %s/heads: %s",
				n->dir, strerror(errno));
	hf->dirty = 0;
	hf->synced_ms = ts_now_ms(&n->ops);
	return 0;
}

void
heads_close(struct tsync_node *n)
{
	struct heads_file *hf = n->heads;

	if (hf == NULL)
		return;
	if (hf->dirty && hf->fd >= 0)
		(void)fdatasync(hf->fd);
	if (hf->fd >= 0)
		close(hf->fd);
	close(hf->dirfd);
	sqlite3_finalize(hf->own);
	free(hf);
	n->heads = NULL;
}
