/* kqueue back-end (FreeBSD, OpenBSD, NetBSD, DragonFly, macOS). On Linux this
 * file is compiled by `make kqueue-check` against test/compat/sys/event.h so
 * it keeps compiling. */
#if !defined(__linux__) || defined(MP_FORCE_KQUEUE)
#include "loop.h"

#include <errno.h>
#include <sys/types.h>
#include <sys/event.h>
#include <sys/time.h>
#include <unistd.h>

#define KQ_BATCH 256

static int kq = -1;

const char *loop_backend_name(void)
{
	return "kqueue";
}

int loop_backend_init(void)
{
	if (kq >= 0) {
		close(kq);
	}
	kq = kqueue();
	return kq < 0 ? -1 : 0;
}

/* kqueue keeps one filter per direction: add or delete each as it changes. */
int loop_set(struct ev_watch *w, unsigned want)
{
	struct kevent ch[2];
	int n = 0;
	if (w->fd < 0) {
		return -1;
	}
	w->want = want;
	unsigned diff = want ^ w->active;
	if (diff & EV_READ) {
		EV_SET(&ch[n++], w->fd, EVFILT_READ, (want & EV_READ) ? EV_ADD : EV_DELETE, 0, 0, w);
	}
	if (diff & EV_WRITE) {
		EV_SET(&ch[n++], w->fd, EVFILT_WRITE, (want & EV_WRITE) ? EV_ADD : EV_DELETE, 0, 0, w);
	}
	if (n > 0 && kevent(kq, ch, n, NULL, 0, NULL) != 0) {
		return -1;
	}
	w->active = want;
	return 0;
}

void loop_del(struct ev_watch *w)
{
	if (w->fd >= 0 && w->active) {
		loop_set(w, 0);
	}
	w->active = 0;
	w->want = 0;
}

int loop_backend_wait(int timeout_ms)
{
	struct kevent evs[KQ_BATCH];
	struct timespec ts, *tsp = NULL;
	if (timeout_ms >= 0) {
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
		tsp = &ts;
	}
	int n = kevent(kq, NULL, 0, evs, KQ_BATCH, tsp);
	/* handlers arm timers: they must see the time of this wakeup */
	loop_update_time();
	if (n < 0) {
		return errno == EINTR ? 0 : -1;
	}
	for (int i = 0; i < n; i++) {
		struct ev_watch *w = (struct ev_watch *)evs[i].udata;
		unsigned got = evs[i].filter == EVFILT_READ ? EV_READ : EV_WRITE;
		got &= w->want;
		if (w->fd >= 0 && got != 0) {
			w->fn(w, got);
		}
	}
	return 0;
}
#endif
