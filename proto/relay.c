/*
 * Relay. On plain sockets (Linux) bytes never enter user space: splice(2)
 * moves them socket -> pipe -> socket, with a pipe taken from a small pool
 * only while bytes are in flight. Otherwise (TLS on either side, or no
 * splice) reads go into one scratch buffer shared by every session (the loop
 * is single-threaded), then straight to the other socket. Either way only
 * what the other side does not take now stays (in the pipe or a
 * per-session buffer), and reading that direction stops until it drains:
 * an idle proxied session holds no buffer and no pipe, and a busy one moves
 * data in large steps instead of proxy_buffer-sized ones.
 */
#include "relay.h"

#include "session.h"

#include <errno.h>

#define RELAY_CHUNK (64u * 1024u)
#define RELAY_ROUNDS 8 /* reads per event, so one busy session cannot starve others */

static char scratch[RELAY_CHUNK];

static const char *closed_why(bool from_client, bool eof)
{
	return from_client ? (eof ? "client closed" : "client read error")
			   : (eof ? "upstream closed" : "upstream read error");
}

/* The kernel-side road. false: not available here, take the other one. */
static bool splice_pump(struct session *s, struct io *from, struct io *to)
{
	bool from_client = from == &s->client;
	for (int i = 0; i < RELAY_ROUNDS && !io_out_pending(to); i++) {
		ssize_t r = io_splice(from, to, RELAY_CHUNK);
		if (r < 0 && errno == ENOSYS) {
			return i > 0;
		}
		if (r > 0) {
			s->last_activity_ms = loop_now();
			if (to->error) {
				session_close(s, from_client ? "upstream write error" : "client write error");
				return true;
			}
			if ((size_t)r < RELAY_CHUNK) {
				break;
			}
			continue;
		}
		if (r == 0 || from->error) {
			session_quit(s, closed_why(from_client, r == 0));
		}
		break; /* EAGAIN */
	}
	return true;
}

void relay_pump(struct session *s, struct io *from, struct io *to)
{
	bool from_client = from == &s->client;
	if (splice_pump(s, from, to)) {
		return;
	}
	for (int i = 0; i < RELAY_ROUNDS && !io_out_pending(to); i++) {
		ssize_t r = io_read(from, scratch, sizeof(scratch));
		if (r > 0) {
			s->last_activity_ms = loop_now();
			if (io_write(to, scratch, (size_t)r) != MP_OK) {
				session_close(s, from_client ? "upstream write error" : "client write error");
				return;
			}
			/* a short read drained the socket, unless TLS holds more */
			if ((size_t)r < sizeof(scratch) && !io_pending_in(from)) {
				break;
			}
			continue;
		}
		if (r == 0 || from->error) {
			/* deliver what is still queued for the other side, then close */
			session_quit(s, closed_why(from_client, r == 0));
			return;
		}
		break; /* EAGAIN */
	}
}
