/*
 * Relay. Reads go into one scratch buffer shared by every session (the loop
 * is single-threaded), then straight to the other socket; only what the other
 * socket does not take now is copied into a per-session buffer, and reading
 * that direction stops until it drains. An idle proxied session therefore
 * holds no buffer at all, and a busy one moves data in large steps instead of
 * proxy_buffer-sized ones.
 */
#include "relay.h"

#include "session.h"

#define RELAY_CHUNK (64u * 1024u)
#define RELAY_ROUNDS 8 /* reads per event, so one busy session cannot starve others */

static char scratch[RELAY_CHUNK];

void relay_pump(struct session *s, struct io *from, struct io *to)
{
	bool from_client = from == &s->client;
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
			const char *why = from_client ? (r == 0 ? "client closed" : "client read error")
						      : (r == 0 ? "upstream closed" : "upstream read error");
			/* deliver what is still queued for the other side, then close */
			session_quit(s, why);
			return;
		}
		break; /* EAGAIN */
	}
}
