#include "buf.h"

#include <stdlib.h>
#include <string.h>

#define CLASS_MIN_SHIFT 8  /* 256 bytes */
#define CLASS_COUNT 13     /* 256 .. 1 MiB */
#define FREE_KEEP 64       /* cached free buffers per class */

static struct {
	struct buf *head;
	unsigned count;
} classes[CLASS_COUNT];

_Static_assert((BUF_MIN >> CLASS_MIN_SHIFT) == 1, "BUF_MIN is class 0");
_Static_assert((BUF_MAX >> (CLASS_MIN_SHIFT + CLASS_COUNT - 1)) == 1, "BUF_MAX is the top class");

static int class_of(size_t cap)
{
	int c = 0;
	size_t sz = BUF_MIN;
	while (sz < cap) {
		sz <<= 1;
		c++;
	}
	return c;
}

struct buf *buf_get(size_t cap)
{
	if (cap > BUF_MAX) {
		return NULL;
	}
	int c = class_of(cap);
	struct buf *b = classes[c].head;
	if (b != NULL) {
		classes[c].head = b->next_free;
		classes[c].count--;
	} else {
		size_t sz = (size_t)BUF_MIN << c;
		b = malloc(sizeof(*b) + sz);
		if (b == NULL) {
			return NULL;
		}
		b->cap = (uint32_t)sz;
	}
	b->next_free = NULL;
	b->start = b->end = b->hw = 0;
	return b;
}

void buf_put(struct buf *b)
{
	if (b == NULL) {
		return;
	}
	int c = class_of(b->cap);
	if (classes[c].count >= FREE_KEEP) {
		free(b);
		return;
	}
	b->next_free = classes[c].head;
	classes[c].head = b;
	classes[c].count++;
}

void buf_put_wiped(struct buf *b)
{
	if (b == NULL) {
		return;
	}
	/* only what was written: wiping a 4 KiB buffer for a 20-byte command
	 * was most of a session's CPU */
	buf_mark(b);
	explicit_bzero(b->data, b->hw);
	buf_put(b);
}

size_t buf_room(struct buf *b)
{
	if (b->start > 0 && (b->start == b->end || b->end == b->cap)) {
		memmove(b->data, b->data + b->start, b->end - b->start);
		b->end -= b->start;
		b->start = 0;
	}
	return b->cap - b->end;
}

void buf_consume(struct buf *b, size_t n)
{
	if (n >= buf_len(b)) {
		b->start = b->end = 0;
	} else {
		b->start += (uint32_t)n;
	}
}

void buf_trim(void)
{
	for (int c = 0; c < CLASS_COUNT; c++) {
		while (classes[c].head != NULL) {
			struct buf *b = classes[c].head;
			classes[c].head = b->next_free;
			free(b);
		}
		classes[c].count = 0;
	}
}
