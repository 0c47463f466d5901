/* A minimal stand-in for the BSD <sys/event.h>, only so that core/loop_kqueue.c
 * is compiled on Linux (make kqueue-check) and does not rot. Never linked. */
#ifndef MP_COMPAT_SYS_EVENT_H
#define MP_COMPAT_SYS_EVENT_H

#include <stdint.h>
#include <time.h>

struct kevent {
	uintptr_t ident;
	short filter;
	unsigned short flags;
	unsigned int fflags;
	intptr_t data;
	void *udata;
};

#define EVFILT_READ (-1)
#define EVFILT_WRITE (-2)
#define EV_ADD 0x0001
#define EV_DELETE 0x0002

#define EV_SET(kevp, a, b, c, d, e, f)           \
	do {                                     \
		(kevp)->ident = (uintptr_t)(a);  \
		(kevp)->filter = (short)(b);     \
		(kevp)->flags = (unsigned short)(c); \
		(kevp)->fflags = (d);            \
		(kevp)->data = (e);              \
		(kevp)->udata = (f);             \
	} while (0)

int kqueue(void);
int kevent(int kq, const struct kevent *changelist, int nchanges, struct kevent *eventlist,
	   int nevents, const struct timespec *timeout);

#endif
