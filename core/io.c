#include "io.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#if defined(__linux__)
#include <fcntl.h>
#endif

void io_init(struct io *io, int fd, ev_fn fn)
{
	memset(io, 0, sizeof(*io));
	io->w.fd = fd;
	io->w.fn = fn;
}

static void release(struct io *io, struct buf *b)
{
	if (io->secret) {
		buf_put_wiped(b);
	} else {
		buf_put(b);
	}
}

ssize_t io_read(struct io *io, void *dst, size_t cap)
{
	ssize_t r;
	if (io->tls_vt != NULL) {
		r = io->tls_vt->read(io, dst, cap);
	} else {
		do {
			r = recv(io->w.fd, dst, cap, 0);
		} while (r < 0 && errno == EINTR);
	}
	if (r > 0) {
		io->nread += (uint64_t)r;
	} else if (r == 0) {
		io->eof = true;
	} else if (errno != EAGAIN && errno != EWOULDBLOCK) {
		io->error = true;
		io->err = errno;
	}
	return r;
}

static ssize_t raw_write(struct io *io, const void *p, size_t n)
{
	ssize_t r;
	if (io->tls_vt != NULL) {
		return io->tls_vt->write(io, p, n);
	}
	do {
		r = send(io->w.fd, p, n, MSG_NOSIGNAL);
	} while (r < 0 && errno == EINTR);
	return r;
}

enum mp_status io_fill(struct io *io, size_t cap)
{
	bool got = false;
	if (io->in == NULL) {
		io->in = buf_get(cap);
		if (io->in == NULL) {
			io->error = true;
			io->err = ENOMEM;
			return MP_ERR;
		}
	} else if (io->in->cap < cap && buf_len(io->in) > 0 && io->in->end == io->in->cap) {
		/* the limit grew (e.g. a literal): move to a bigger buffer */
		struct buf *nb = buf_get(cap);
		if (nb == NULL) {
			io->error = true;
			io->err = ENOMEM;
			return MP_ERR;
		}
		memcpy(nb->data, buf_head(io->in), buf_len(io->in));
		nb->end = (uint32_t)buf_len(io->in);
		buf_mark(nb);
		release(io, io->in);
		io->in = nb;
	}
	for (;;) {
		buf_mark(io->in); /* before buf_room() may move bytes down */
		size_t room = buf_room(io->in);
		size_t limit = cap > buf_len(io->in) ? cap - buf_len(io->in) : 0;
		room = MP_MIN(room, limit);
		if (room == 0) {
			return got ? MP_OK : MP_TOOLONG;
		}
		ssize_t r = io_read(io, io->in->data + io->in->end, room);
		if (r > 0) {
			io->in->end += (uint32_t)r;
			got = true;
			if ((size_t)r < room && (io->tls_vt == NULL || !io->tls_vt->pending(io))) {
				return MP_OK;
			}
			continue;
		}
		if (r == 0 || io->error) {
			return got ? MP_OK : MP_ERR;
		}
		if (buf_len(io->in) == 0) {
			buf_put(io->in);
			io->in = NULL;
		}
		return got ? MP_OK : MP_AGAIN;
	}
}

void io_consume(struct io *io, size_t n)
{
	if (io->in == NULL) {
		return;
	}
	buf_consume(io->in, n);
	if (buf_len(io->in) == 0) {
		release(io, io->in);
		io->in = NULL;
	}
}

static enum mp_status queue(struct io *io, const char *p, size_t n)
{
	size_t have = buf_len(io->out);
	if (have + n > IO_OUT_MAX) {
		io->error = true;
		io->err = ENOBUFS;
		return MP_ERR;
	}
	if (io->out == NULL || buf_room(io->out) < n) {
		struct buf *nb = buf_get(have + n);
		if (nb == NULL) {
			io->error = true;
			io->err = ENOMEM;
			return MP_ERR;
		}
		if (have > 0) {
			memcpy(nb->data, buf_head(io->out), have);
		}
		nb->end = (uint32_t)have;
		release(io, io->out);
		io->out = nb;
	}
	memcpy(io->out->data + io->out->end, p, n);
	io->out->end += (uint32_t)n;
	buf_mark(io->out);
	return MP_OK;
}

enum mp_status io_write(struct io *io, const void *src, size_t n)
{
	const char *p = src;
	if (io->error || io->w.fd < 0) {
		return MP_ERR;
	}
	if (buf_len(io->out) == 0) {
		while (n > 0) {
			ssize_t r = raw_write(io, p, n);
			if (r > 0) {
				io->nwritten += (uint64_t)r;
				p += r;
				n -= (size_t)r;
				continue;
			}
			if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
				break;
			}
			io->error = true;
			io->err = r < 0 ? errno : EPIPE;
			return MP_ERR;
		}
	}
	return n > 0 ? queue(io, p, n) : MP_OK;
}

enum mp_status io_printf(struct io *io, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	int r = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= sizeof(line)) {
		return MP_ERR;
	}
	return io_write(io, line, (size_t)r);
}

/* ---- relay pipes: held only while bytes are in flight ---- */

#define PIPE_POOL_MAX 32 /* empty pipes kept for the next burst */

#if defined(__linux__)
static struct {
	int r, w;
} pipe_pool[PIPE_POOL_MAX];
static unsigned npipes;

static int pipe_get(struct io *io)
{
	if (npipes > 0) {
		npipes--;
		io->pipe_r = pipe_pool[npipes].r;
		io->pipe_w = pipe_pool[npipes].w;
	} else {
		int fds[2];
		if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
			return -1;
		}
		io->pipe_r = fds[0];
		io->pipe_w = fds[1];
	}
	io->has_pipe = true;
	return 0;
}

/* An empty pipe goes back to the pool; one with bytes in it is closed. */
static void pipe_put(struct io *io)
{
	if (!io->has_pipe) {
		return;
	}
	if (io->piped == 0 && npipes < PIPE_POOL_MAX) {
		pipe_pool[npipes].r = io->pipe_r;
		pipe_pool[npipes].w = io->pipe_w;
		npipes++;
	} else {
		close(io->pipe_r);
		close(io->pipe_w);
	}
	io->has_pipe = false;
	io->piped = 0;
}

/* Pipe -> socket. MP_OK: the pipe is empty (and released). */
static enum mp_status pipe_flush(struct io *io)
{
	while (io->piped > 0) {
		ssize_t r = splice(io->pipe_r, NULL, io->w.fd, NULL, io->piped,
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (r > 0) {
			io->piped -= (uint32_t)r;
			io->nwritten += (uint64_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			return MP_AGAIN;
		}
		io->error = true;
		io->err = r < 0 ? errno : EPIPE;
		return MP_ERR;
	}
	pipe_put(io);
	return MP_OK;
}

ssize_t io_splice(struct io *from, struct io *to, size_t max)
{
	if (from->tls_vt != NULL || to->tls_vt != NULL || to->piped > 0 || buf_len(to->out) > 0) {
		errno = ENOSYS;
		return -1;
	}
	if (!to->has_pipe && pipe_get(to) != 0) {
		errno = ENOSYS; /* out of descriptors: copy instead */
		return -1;
	}
	ssize_t r;
	do {
		r = splice(from->w.fd, NULL, to->pipe_w, NULL, max, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	} while (r < 0 && errno == EINTR);
	if (r > 0) {
		from->nread += (uint64_t)r;
		to->piped = (uint32_t)r;
		if (pipe_flush(to) == MP_ERR) {
			errno = EPIPE;
			return r; /* the caller sees to->error */
		}
		return r;
	}
	if (r == 0) {
		from->eof = true;
	} else if (errno != EAGAIN && errno != EWOULDBLOCK) {
		from->error = true;
		from->err = errno;
	}
	pipe_put(to); /* nothing moved: an idle session holds no pipe */
	return r;
}
#else
static enum mp_status pipe_flush(struct io *io)
{
	(void)io;
	return MP_OK;
}

static void pipe_put(struct io *io)
{
	(void)io;
}

ssize_t io_splice(struct io *from, struct io *to, size_t max)
{
	(void)from;
	(void)to;
	(void)max;
	errno = ENOSYS;
	return -1;
}
#endif

enum mp_status io_flush(struct io *io)
{
	while (buf_len(io->out) > 0) {
		ssize_t r = raw_write(io, buf_head(io->out), buf_len(io->out));
		if (r > 0) {
			io->nwritten += (uint64_t)r;
			buf_consume(io->out, (size_t)r);
			continue;
		}
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			return MP_AGAIN;
		}
		io->error = true;
		io->err = r < 0 ? errno : EPIPE;
		return MP_ERR;
	}
	if (io->out != NULL) {
		release(io, io->out);
		io->out = NULL;
	}
	if (io->piped > 0) {
		return pipe_flush(io);
	}
	if (io->tls_vt != NULL) {
		return io->tls_vt->flush(io);
	}
	return MP_OK;
}

void io_set_interest(struct io *io, bool want_read)
{
	if (io->w.fd < 0) {
		return;
	}
	unsigned want = (want_read ? EV_READ : 0) | (io_out_pending(io) ? EV_WRITE : 0);
	if (io->tls_vt != NULL) {
		want = io->tls_vt->want(io, want);
	}
	loop_set(&io->w, want);
}

void io_close(struct io *io)
{
	if (io->w.fd >= 0) {
		loop_del(&io->w);
		close(io->w.fd);
		io->w.fd = -1;
	}
	if (io->tls_vt != NULL) {
		io->tls_vt->free(io);
		io->tls_vt = NULL;
		io->tls = NULL;
	}
	/* in: before the relay it may hold a password; cheap when it held little */
	buf_put_wiped(io->in);
	io->in = NULL;
	release(io, io->out);
	io->out = NULL;
	pipe_put(io);
}
