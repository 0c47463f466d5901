/*
 * Byte buffers from a pool. A session holds a buffer only while bytes are
 * waiting in it: an idle session holds none (that is what keeps idle sessions
 * small). Buffers come in power-of-two size classes with a free list each, so
 * steady traffic does not call malloc.
 */
#ifndef MP_BUF_H
#define MP_BUF_H

#include "common.h"

struct buf {
	struct buf *next_free;
	uint32_t cap;   /* bytes in data[] */
	uint32_t start; /* first unconsumed byte */
	uint32_t end;   /* one past the last byte */
	uint32_t hw;    /* highest end since buf_get: what a wipe must cover */
	char data[];
};

#define BUF_MIN 256
#define BUF_MAX (1u << 20)

/* A buffer of at least cap bytes (cap <= BUF_MAX), or NULL when memory is out. */
struct buf *buf_get(size_t cap);
void buf_put(struct buf *b);
/* Note that bytes up to end were written (for buf_put_wiped). */
static inline void buf_mark(struct buf *b)
{
	if (b->end > b->hw) {
		b->hw = b->end;
	}
}
/* Wipe what was ever written, then release (buffers that held credentials). */
void buf_put_wiped(struct buf *b);

static inline size_t buf_len(const struct buf *b)
{
	return b ? b->end - b->start : 0;
}
static inline char *buf_head(struct buf *b)
{
	return b->data + b->start;
}
/* Room after end; compacts first when the consumed prefix is worth reclaiming. */
size_t buf_room(struct buf *b);
void buf_consume(struct buf *b, size_t n);
/* Release cached free buffers (on reload, or when asked to shrink). */
void buf_trim(void);

#endif
