/* epoll back-end (Linux). */
#if defined(__linux__) && !defined(MP_FORCE_KQUEUE)
#include "loop.h"

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#define EPOLL_BATCH 256

static int epfd = -1;

const char *loop_backend_name(void)
{
	return "epoll";
}

int loop_backend_init(void)
{
	if (epfd >= 0) {
		close(epfd);
	}
	epfd = epoll_create1(EPOLL_CLOEXEC);
	return epfd < 0 ? -1 : 0;
}

static uint32_t to_epoll(unsigned want)
{
	return (want & EV_READ ? EPOLLIN | EPOLLRDHUP : 0) | (want & EV_WRITE ? EPOLLOUT : 0);
}

int loop_set(struct ev_watch *w, unsigned want)
{
	if (w->fd < 0) {
		return -1;
	}
	w->want = want;
	if (want == w->active) {
		return 0;
	}
	/* no interest: leave the kernel set rather than keep reporting HUP */
	if (want == 0) {
		epoll_ctl(epfd, EPOLL_CTL_DEL, w->fd, NULL);
		w->active = 0;
		return 0;
	}
	struct epoll_event ev = { .events = to_epoll(want), .data.ptr = w };
	int op = w->active ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (epoll_ctl(epfd, op, w->fd, &ev) != 0) {
		return -1;
	}
	w->active = want;
	return 0;
}

void loop_del(struct ev_watch *w)
{
	/* no EPOLL_CTL_DEL: close(2) follows, and closing the last reference
	 * to a file drops it from epoll (mproxy never dup()s a socket) */
	w->active = 0;
	w->want = 0;
}

int loop_backend_wait(int timeout_ms)
{
	struct epoll_event evs[EPOLL_BATCH];
	int n = epoll_wait(epfd, evs, EPOLL_BATCH, timeout_ms);
	/* handlers arm timers: they must see the time of this wakeup */
	loop_update_time();
	if (n < 0) {
		return errno == EINTR ? 0 : -1;
	}
	for (int i = 0; i < n; i++) {
		struct ev_watch *w = evs[i].data.ptr;
		uint32_t e = evs[i].events;
		unsigned got = 0;
		if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
			got |= EV_READ;
		}
		if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR)) {
			got |= EV_WRITE;
		}
		/* an earlier handler of this batch may have dropped interest or
		 * closed the fd; its owner is freed only after the batch */
		got &= w->want;
		if (w->fd >= 0 && got != 0) {
			w->fn(w, got);
		}
	}
	return 0;
}
#endif
