/*
 * util.c - byte buffers, allocation through the ops struct, hex and
 * big-endian helpers.  See util.h.
 */
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <time.h>

#include "tiersync/tiersync.h"

void *
ts_realloc(const struct tsync_ops *ops, void *p, size_t n)
{
	if (ops != NULL && ops->realloc != NULL)
		return ops->realloc(ops->ctx, p, n);
	if (n == 0) {
		free(p);
		return NULL;
	}
	return realloc(p, n);
}

void *
ts_alloc(const struct tsync_ops *ops, size_t n)
{
	return ts_realloc(ops, NULL, n == 0 ? 1 : n);
}

void
ts_free(const struct tsync_ops *ops, void *p)
{
	if (p != NULL)
		ts_realloc(ops, p, 0);
}

char *
ts_strdup(const struct tsync_ops *ops, const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = ts_alloc(ops, n);

	if (d != NULL)
		memcpy(d, s, n);
	return d;
}

uint64_t
ts_now_ms(const struct tsync_ops *ops)
{
	struct timespec ts;

	if (ops != NULL && ops->now_ms != NULL)
		return ops->now_ms(ops->ctx);
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
ts_buf_init(struct ts_buf *b, const struct tsync_ops *ops, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->ops = ops;
	b->max = max == 0 ? SIZE_MAX / 2 : max;
}

int
ts_buf_reserve(struct ts_buf *b, size_t more)
{
	size_t need, cap;
	uint8_t *p;

	if (more > b->max - b->len) {
		b->err = TSYNC_EINVAL;
		return TSYNC_EINVAL;
	}
	need = b->len + more;
	if (need <= b->cap)
		return 0;
	cap = b->cap < 256 ? 256 : b->cap;
	while (cap < need)
		cap *= 2;
	if (cap > b->max)
		cap = b->max;
	p = ts_realloc(b->ops, b->p, cap);
	if (p == NULL) {
		b->err = TSYNC_ENOMEM;
		return TSYNC_ENOMEM;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

int
ts_buf_put(struct ts_buf *b, const void *p, size_t n)
{
	int rc;

	if (n == 0)
		return 0;
	if ((rc = ts_buf_reserve(b, n)) != 0)
		return rc;
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

void
ts_buf_consume(struct ts_buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
}

void
ts_buf_free(struct ts_buf *b)
{
	ts_free(b->ops, b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

void
hex_encode(const uint8_t *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
hex_decode(const char *s, uint8_t *out, size_t n)
{
	size_t i;

	if (strlen(s) != 2 * n)
		return TSYNC_EINVAL;
	for (i = 0; i < n; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return TSYNC_EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

void
be64_put(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

uint64_t
be64_get(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

void
id_format(uint64_t id, char out[17])
{
	uint8_t b[8];

	be64_put(b, id);
	hex_encode(b, 8, out);
}

int
id_parse(const char *s, uint64_t *id)
{
	uint8_t b[8];

	if (hex_decode(s, b, 8) != 0)
		return TSYNC_EINVAL;
	*id = be64_get(b);
	return 0;
}

void
ts_fmt(char *dst, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(dst, len, fmt, ap);
	va_end(ap);
}

int
ts_file_replace(FILE *f, const char *tmp, const char *path)
{
	int ok = fflush(f) == 0 && fsync(fileno(f)) == 0;

	ok = fclose(f) == 0 && ok;
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

/*
 * Pokes the wake socket of NODE_DIR (a unix datagram socket that `serve`
 * binds at dir/name): one byte, never blocking.  Nobody listening (no
 * serve, or a path too long for sun_path) is not an error: serve's timer
 * finds the commit anyway.  Returns 0 when the byte was queued.
 */
int
ts_wake(const char *dir, const char *name)
{
	struct sockaddr_un sa;
	int fd, n, rc;
	char b = 'w';

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path))
		return -1;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	do
		rc = (int)sendto(fd, &b, 1, MSG_DONTWAIT | MSG_NOSIGNAL,
				 (struct sockaddr *)&sa, sizeof(sa));
	while (rc < 0 && errno == EINTR);
	close(fd);
	return rc == 1 ? 0 : -1;
}

int
ts_grow(void *pp, size_t *cap, size_t n, size_t size, size_t first)
{
	size_t nc;
	void *p, *np;

	if (n < *cap)
		return 0;
	nc = *cap ? *cap * 2 : first;
	if (nc <= n || nc > SIZE_MAX / size)
		return TSYNC_ENOMEM;
	memcpy(&p, pp, sizeof(p));
	if ((np = realloc(p, nc * size)) == NULL)
		return TSYNC_ENOMEM;
	memcpy(pp, &np, sizeof(np));
	*cap = nc;
	return 0;
}
