/*
 * The configuration's memory: a list of chunks, freed together by conf_free().
 * Nothing is freed individually; vectors that grow leave their old copy
 * behind (bounded: at most as much again as the final size).
 */
#include "conf_int.h"

#include <stdlib.h>
#include <string.h>

#define ARENA_CHUNK 16384
#define ARENA_ALIGN 16

struct arena_chunk {
	struct arena_chunk *next;
	size_t size, used;
	_Alignas(ARENA_ALIGN) unsigned char data[];
};

struct conf_arena {
	struct arena_chunk *head;
	size_t total; /* bytes obtained from malloc */
	size_t limit;
};

struct conf_arena *conf_arena_new(size_t limit)
{
	struct conf_arena *a = calloc(1, sizeof(*a));
	if (a != NULL) {
		a->limit = limit;
	}
	return a;
}

static struct arena_chunk *arena_grow(struct conf_arena *a, size_t need)
{
	size_t size = need > ARENA_CHUNK ? need : ARENA_CHUNK;
	if (size > a->limit || a->total > a->limit - size) {
		return NULL;
	}
	struct arena_chunk *ch = malloc(sizeof(*ch) + size);
	if (ch == NULL) {
		return NULL;
	}
	ch->size = size;
	ch->used = 0;
	a->total += size;
	/* a big private chunk goes behind the head so the head keeps its space */
	if (a->head != NULL && size > ARENA_CHUNK) {
		ch->next = a->head->next;
		a->head->next = ch;
	} else {
		ch->next = a->head;
		a->head = ch;
	}
	return ch;
}

void *conf_arena_alloc(struct conf_arena *a, size_t n)
{
	if (n == 0) {
		n = 1;
	}
	if (n > SIZE_MAX - ARENA_ALIGN) {
		return NULL;
	}
	n = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	struct arena_chunk *ch = a->head;
	if (ch == NULL || ch->size - ch->used < n) {
		ch = arena_grow(a, n);
		if (ch == NULL) {
			return NULL;
		}
	}
	void *p = ch->data + ch->used;
	ch->used += n;
	memset(p, 0, n);
	return p;
}

char *conf_arena_strndup(struct conf_arena *a, const char *s, size_t n)
{
	if (n == SIZE_MAX) {
		return NULL;
	}
	char *p = conf_arena_alloc(a, n + 1);
	if (p != NULL) {
		if (n > 0) {
			memcpy(p, s, n);
		}
		p[n] = '\0';
	}
	return p;
}

void conf_arena_free(struct conf_arena *a)
{
	if (a == NULL) {
		return;
	}
	struct arena_chunk *ch = a->head;
	while (ch != NULL) {
		struct arena_chunk *next = ch->next;
		free(ch);
		ch = next;
	}
	free(a);
}

static bool is_pow2(size_t n)
{
	return (n & (n - 1)) == 0;
}

void *conf_vec_push(struct conf_arena *a, void *vp, size_t *n, size_t elsize)
{
	/* vp is the address of some T *; read and write it with memcpy so no
	 * object is accessed through an incompatible pointer type */
	void *v;
	size_t cur = *n;
	memcpy(&v, vp, sizeof(v));
	if (v == NULL) {
		cur = 0; /* a NULL vector is empty, whatever *n says */
	}
	if (v == NULL || (cur >= 4 && is_pow2(cur))) {
		size_t cap = cur < 4 ? 4 : cur * 2;
		if (cap > SIZE_MAX / elsize) {
			return NULL;
		}
		void *nv = conf_arena_alloc(a, cap * elsize);
		if (nv == NULL) {
			return NULL;
		}
		if (cur > 0 && v != NULL) {
			memcpy(nv, v, cur * elsize);
		}
		v = nv;
		memcpy(vp, &v, sizeof(v));
	}
	*n = cur + 1;
	return (char *)v + cur * elsize;
}
