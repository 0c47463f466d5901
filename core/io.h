/*
 * A connection's byte stream: the fd, its watch, and the buffers holding bytes
 * not yet consumed (in) or not yet sent (out). Buffers exist only while they
 * hold bytes. TLS plugs in underneath through io_tls_vt, so protocol code reads
 * and writes plaintext the same way on every connection.
 */
#ifndef MP_IO_H
#define MP_IO_H

#include "buf.h"
#include "common.h"
#include "loop.h"

#include <sys/types.h>

struct io;

/* A TLS layer (tls/) fills this in when TLS starts on a connection. */
struct io_tls_vt {
	/* Like read(2)/write(2) on plaintext: >0 bytes, 0 = clean EOF,
	 * -1 with errno (EAGAIN: call again when io_want() says so). */
	ssize_t (*read)(struct io *io, void *dst, size_t cap);
	ssize_t (*write)(struct io *io, const void *src, size_t n);
	/* Flush records queued inside the engine: MP_OK when nothing is queued. */
	enum mp_status (*flush)(struct io *io);
	/* Extra readiness the engine needs (e.g. EV_WRITE to send a handshake
	 * record while the protocol only wants to read). */
	unsigned (*want)(struct io *io, unsigned app_want);
	/* True while plaintext is buffered inside the engine (a read may return
	 * data without the socket being readable). */
	bool (*pending)(struct io *io);
	void (*free)(struct io *io);
};

/* Bytes held for a slow peer before the writer is told to stop (back-pressure). */
#define IO_OUT_MAX (256u * 1024u)

struct io {
	struct ev_watch w;
	struct buf *in;
	struct buf *out;
	void *tls;
	const struct io_tls_vt *tls_vt;
	uint64_t nread, nwritten;   /* plaintext bytes, for the session log line */
	int pipe_r, pipe_w;         /* relay: kernel-side bytes bound for this fd */
	uint32_t piped;             /* bytes waiting in that pipe */
	bool has_pipe;
	bool secret;                /* may carry credentials: wipe buffers on release */
	bool eof;                   /* peer closed its side */
	bool error;                 /* read or write failed; err holds errno */
	int err;
};

void io_init(struct io *io, int fd, ev_fn fn);
static inline bool io_open(const struct io *io)
{
	return io->w.fd >= 0;
}
/* Read what is available into io->in, which holds at most cap bytes.
 * MP_OK: new bytes arrived. MP_AGAIN: none now. MP_TOOLONG: in is full.
 * MP_ERR: EOF or error (see io->eof / io->error); bytes already in in stay. */
enum mp_status io_fill(struct io *io, size_t cap);
/* Drop n consumed bytes from in; releases the buffer when empty. */
void io_consume(struct io *io, size_t n);
/* Like read(2) straight into dst (used by the relay), bypassing io->in. */
ssize_t io_read(struct io *io, void *dst, size_t cap);
/* Send now what the socket takes; queue the rest. MP_ERR on a write error
 * or when more than IO_OUT_MAX would be queued. */
enum mp_status io_write(struct io *io, const void *p, size_t n);
enum mp_status io_printf(struct io *io, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Send queued bytes. MP_OK: nothing left. MP_AGAIN: some left. MP_ERR. */
enum mp_status io_flush(struct io *io);
static inline bool io_out_pending(const struct io *io)
{
	return buf_len(io->out) > 0 || io->piped > 0;
}
/* Relay without copying through user space: move up to max bytes from
 * `from`'s socket into `to`'s through a pipe (splice(2)), and on as far as
 * `to` takes them; the rest waits in the pipe (io_out_pending(to)). Plain
 * sockets only, on Linux. >0 bytes read, 0 at EOF, -1 with errno (EAGAIN:
 * nothing to read now; ENOSYS: not available here, use io_read/io_write). */
ssize_t io_splice(struct io *from, struct io *to, size_t max);
/* Plaintext already decrypted inside the TLS engine: readable without a
 * socket event (level-triggered readiness will not announce it). */
static inline bool io_pending_in(struct io *io)
{
	return io->tls_vt != NULL && io->tls_vt->pending(io);
}
/* Register interest: reading if want_read, writing while output is queued,
 * plus whatever TLS needs. The one place interest is derived. */
void io_set_interest(struct io *io, bool want_read);
/* Close the fd, release buffers (in is wiped: it may hold credentials). */
void io_close(struct io *io);

#endif
