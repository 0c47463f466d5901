#include "io.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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
	unsigned want = (want_read ? EV_READ : 0) | (buf_len(io->out) > 0 ? EV_WRITE : 0);
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
}
