/*
 * The event loop: one small interface, two back-ends chosen at compile time
 * (loop_epoll.c on Linux, loop_kqueue.c on the BSDs and macOS), and timers.
 * Level-triggered readiness. Protocol code never calls this directly: the
 * session derives its interest from its state once per dispatch (io.c).
 */
#ifndef MP_LOOP_H
#define MP_LOOP_H

#include "common.h"

enum {
	EV_READ = 1u << 0,
	EV_WRITE = 1u << 1,
};

struct ev_watch;
typedef void (*ev_fn)(struct ev_watch *w, unsigned events);

struct ev_watch {
	int fd;            /* -1 when not in use */
	unsigned want;     /* EV_READ | EV_WRITE currently asked for */
	unsigned active;   /* what the kernel has registered */
	ev_fn fn;
};

int loop_init(void);
/* Ask for exactly `want` on w->fd; a no-op when nothing changes. */
int loop_set(struct ev_watch *w, unsigned want);
/* Forget the fd: call right before close(2), which removes it from the
 * kernel set. Pending events for it are dropped. */
void loop_del(struct ev_watch *w);
/* Wait up to the next timer (or max_ms, -1 = no bound), dispatch events and
 * expired timers. Returns -1 only on an unrecoverable poll error. */
int loop_run_once(int max_ms);
/* Milliseconds on the monotonic clock, cached per loop turn. */
uint64_t loop_now(void);
void loop_update_time(void);
const char *loop_backend_name(void);

/* Timers: a binary heap ordered by deadline; O(log n) set/stop, O(1) peek. */
struct timer {
	uint64_t when;     /* ms on loop_now()'s clock */
	size_t idx;        /* heap slot + 1; 0 = not armed */
	void (*fn)(struct timer *t);
};

void timer_set(struct timer *t, uint64_t after_ms);
/* Room for n armed timers, so that arming one never needs memory later. */
int timer_reserve(size_t n);
void timer_stop(struct timer *t);
static inline bool timer_armed(const struct timer *t)
{
	return t->idx != 0;
}
/* ms until the earliest timer, or -1 if none. */
int timer_next_ms(void);
void timer_run_expired(void);

/* Back-end primitives shared by both loop_*.c files (defined in each). */
int loop_backend_init(void);
int loop_backend_wait(int timeout_ms);

#endif
