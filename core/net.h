/* Socket addresses: one type for IPv4, IPv6 and unix sockets, and their text forms. */
#ifndef MP_NET_H
#define MP_NET_H

#include "common.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

struct mp_addr {
	union {
		struct sockaddr sa;
		struct sockaddr_in in4;
		struct sockaddr_in6 in6;
		struct sockaddr_un un;
	} u;
	socklen_t len; /* 0 = unset */
};

/* An IP address only (no unix path): what a session keeps for its client,
 * a quarter of struct mp_addr. AF_UNIX here means "a unix-socket client"
 * (the path is the listener's). */
struct mp_ipaddr {
	union {
		struct sockaddr sa;
		struct sockaddr_in in4;
		struct sockaddr_in6 in6;
	} u;
};

void net_to_ipaddr(const struct mp_addr *a, struct mp_ipaddr *out);
/* Expand; a unix client takes `unix_addr` (the listener's address). */
void net_from_ipaddr(const struct mp_ipaddr *a, const struct mp_addr *unix_addr, struct mp_addr *out);

/* Longest text form: "unix:" + sun_path, or "[v6%scope]:65535". */
#define MP_ADDR_TEXT_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) + 8)

/* Parse an IP literal (no port): "1.2.3.4", "::1", "[::1]". MP_OK or MP_INVALID. */
enum mp_status net_parse_ip(const char *p, size_t n, struct mp_addr *out);
/* Parse "ip:port", "[v6]:port", "unix:/path". Hostnames are MP_INVALID here. */
enum mp_status net_parse_addr_port(const char *p, size_t n, struct mp_addr *out);
void net_set_port(struct mp_addr *a, uint16_t port);
uint16_t net_port(const struct mp_addr *a);
/* "127.0.0.1", "::1", "unix:/path" (no port). Returns length written. */
size_t net_ip_text(const struct mp_addr *a, char *dst, size_t cap);
/* "127.0.0.1:143", "[::1]:143", "unix:/path". Returns length written. */
size_t net_addr_text(const struct mp_addr *a, char *dst, size_t cap);
bool net_addr_equal(const struct mp_addr *a, const struct mp_addr *b);
/* Make socket non-blocking and close-on-exec. */
int net_nonblock(int fd);

#endif
