/* Timers in a binary min-heap keyed by deadline. The heap array grows by
 * doubling (amortised); a timer knows its slot so stopping it is O(log n). */
#include "loop.h"

#include <stdlib.h>
#include <time.h>

static struct timer **heap;
static size_t heap_len, heap_cap;
static uint64_t now_ms;

uint64_t loop_now(void)
{
	return now_ms;
}

void loop_update_time(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void place(size_t i, struct timer *t)
{
	heap[i] = t;
	t->idx = i + 1;
}

static void sift_up(size_t i)
{
	struct timer *t = heap[i];
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (heap[parent]->when <= t->when) {
			break;
		}
		place(i, heap[parent]);
		i = parent;
	}
	place(i, t);
}

static void sift_down(size_t i)
{
	struct timer *t = heap[i];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		uint64_t mw = t->when;
		if (l < heap_len && heap[l]->when < mw) {
			m = l;
			mw = heap[l]->when;
		}
		if (r < heap_len && heap[r]->when < mw) {
			m = r;
		}
		if (m == i) {
			break;
		}
		place(i, heap[m]);
		i = m;
	}
	place(i, t);
}

void timer_stop(struct timer *t)
{
	if (t->idx == 0) {
		return;
	}
	size_t i = t->idx - 1;
	t->idx = 0;
	heap_len--;
	if (i == heap_len) {
		return;
	}
	place(i, heap[heap_len]);
	sift_down(i);
	sift_up(heap[i]->idx - 1);
}

int timer_reserve(size_t n)
{
	if (n <= heap_cap) {
		return 0;
	}
	struct timer **nh = realloc(heap, n * sizeof(*nh));
	if (nh == NULL) {
		return -1;
	}
	heap = nh;
	heap_cap = n;
	return 0;
}

void timer_set(struct timer *t, uint64_t after_ms)
{
	timer_stop(t);
	/* start-up reserves room for every session's timers (timer_reserve);
	 * growing here is for the rest, and only fails when memory is out */
	if (heap_len == heap_cap && timer_reserve(heap_cap ? heap_cap * 2 : 256) != 0) {
		return;
	}
	t->when = now_ms + after_ms;
	heap[heap_len] = t;
	t->idx = heap_len + 1;
	heap_len++;
	sift_up(heap_len - 1);
}

int timer_next_ms(void)
{
	if (heap_len == 0) {
		return -1;
	}
	if (heap[0]->when <= now_ms) {
		return 0;
	}
	uint64_t d = heap[0]->when - now_ms;
	return d > 86400000u ? 86400000 : (int)d;
}

void timer_run_expired(void)
{
	/* bounded per turn so a storm of timers cannot starve I/O */
	for (int n = 0; n < 10000 && heap_len > 0 && heap[0]->when <= now_ms; n++) {
		struct timer *t = heap[0];
		timer_stop(t);
		t->fn(t);
	}
}
