#include "net.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

enum mp_status net_parse_ip(const char *p, size_t n, struct mp_addr *out)
{
	char tmp[INET6_ADDRSTRLEN + 2];
	memset(out, 0, sizeof(*out));
	if (n >= 2 && p[0] == '[' && p[n - 1] == ']') {
		p++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(tmp)) {
		return MP_INVALID;
	}
	memcpy(tmp, p, n);
	tmp[n] = '\0';
	if (inet_pton(AF_INET, tmp, &out->u.in4.sin_addr) == 1) {
		out->u.in4.sin_family = AF_INET;
		out->len = sizeof(out->u.in4);
		return MP_OK;
	}
	if (inet_pton(AF_INET6, tmp, &out->u.in6.sin6_addr) == 1) {
		out->u.in6.sin6_family = AF_INET6;
		out->len = sizeof(out->u.in6);
		return MP_OK;
	}
	return MP_INVALID;
}

enum mp_status net_parse_addr_port(const char *p, size_t n, struct mp_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (n > 5 && memcmp(p, "unix:", 5) == 0) {
		size_t pl = n - 5;
		if (pl == 0 || pl >= sizeof(out->u.un.sun_path)) {
			return MP_INVALID;
		}
		out->u.un.sun_family = AF_UNIX;
		memcpy(out->u.un.sun_path, p + 5, pl);
		out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + pl + 1);
		return MP_OK;
	}
	size_t colon = n;
	while (colon > 0 && p[colon - 1] != ':') {
		colon--;
	}
	if (colon == 0) {
		return MP_INVALID;
	}
	unsigned long port = 0;
	size_t digits = n - colon;
	if (digits == 0 || digits > 5) {
		return MP_INVALID;
	}
	for (size_t i = colon; i < n; i++) {
		if (p[i] < '0' || p[i] > '9') {
			return MP_INVALID;
		}
		port = port * 10 + (unsigned long)(p[i] - '0');
	}
	if (port == 0 || port > 65535) {
		return MP_INVALID;
	}
	size_t hl = colon - 1;
	/* a bare v6 without brackets is ambiguous with the port: demand brackets */
	if (memchr(p, ':', hl) != NULL && !(hl >= 2 && p[0] == '[' && p[hl - 1] == ']')) {
		return MP_INVALID;
	}
	if (net_parse_ip(p, hl, out) != MP_OK) {
		return MP_INVALID;
	}
	net_set_port(out, (uint16_t)port);
	return MP_OK;
}

void net_set_port(struct mp_addr *a, uint16_t port)
{
	if (a->u.sa.sa_family == AF_INET) {
		a->u.in4.sin_port = htons(port);
	} else if (a->u.sa.sa_family == AF_INET6) {
		a->u.in6.sin6_port = htons(port);
	}
}

uint16_t net_port(const struct mp_addr *a)
{
	if (a->u.sa.sa_family == AF_INET) {
		return ntohs(a->u.in4.sin_port);
	}
	if (a->u.sa.sa_family == AF_INET6) {
		return ntohs(a->u.in6.sin6_port);
	}
	return 0;
}

size_t net_ip_text(const struct mp_addr *a, char *dst, size_t cap)
{
	char tmp[INET6_ADDRSTRLEN];
	const char *s = NULL;
	if (cap == 0) {
		return 0;
	}
	switch (a->u.sa.sa_family) {
	case AF_INET:
		s = inet_ntop(AF_INET, &a->u.in4.sin_addr, tmp, sizeof(tmp));
		break;
	case AF_INET6:
		s = inet_ntop(AF_INET6, &a->u.in6.sin6_addr, tmp, sizeof(tmp));
		break;
	case AF_UNIX: {
		int r = snprintf(dst, cap, "unix:%s", a->u.un.sun_path);
		return r < 0 ? 0 : MP_MIN((size_t)r, cap - 1);
	}
	default:
		break;
	}
	if (s == NULL) {
		s = "unknown";
	}
	int r = snprintf(dst, cap, "%s", s);
	return r < 0 ? 0 : MP_MIN((size_t)r, cap - 1);
}

size_t net_addr_text(const struct mp_addr *a, char *dst, size_t cap)
{
	char ip[INET6_ADDRSTRLEN + 8];
	int r;
	if (cap == 0) {
		return 0;
	}
	if (a->u.sa.sa_family == AF_UNIX) {
		return net_ip_text(a, dst, cap);
	}
	net_ip_text(a, ip, sizeof(ip));
	if (a->u.sa.sa_family == AF_INET6) {
		r = snprintf(dst, cap, "[%s]:%u", ip, net_port(a));
	} else {
		r = snprintf(dst, cap, "%s:%u", ip, net_port(a));
	}
	return r < 0 ? 0 : MP_MIN((size_t)r, cap - 1);
}

bool net_addr_equal(const struct mp_addr *a, const struct mp_addr *b)
{
	if (a->u.sa.sa_family != b->u.sa.sa_family) {
		return false;
	}
	switch (a->u.sa.sa_family) {
	case AF_INET:
		return a->u.in4.sin_port == b->u.in4.sin_port &&
		       a->u.in4.sin_addr.s_addr == b->u.in4.sin_addr.s_addr;
	case AF_INET6:
		return a->u.in6.sin6_port == b->u.in6.sin6_port &&
		       memcmp(&a->u.in6.sin6_addr, &b->u.in6.sin6_addr, 16) == 0;
	case AF_UNIX:
		return strcmp(a->u.un.sun_path, b->u.un.sun_path) == 0;
	default:
		return false;
	}
}

int net_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		return -1;
	}
	return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

void net_to_ipaddr(const struct mp_addr *a, struct mp_ipaddr *out)
{
	memset(out, 0, sizeof(*out));
	switch (a->u.sa.sa_family) {
	case AF_INET:
		out->u.in4 = a->u.in4;
		break;
	case AF_INET6:
		out->u.in6 = a->u.in6;
		break;
	default:
		out->u.sa.sa_family = a->u.sa.sa_family;
		break;
	}
}

void net_from_ipaddr(const struct mp_ipaddr *a, const struct mp_addr *unix_addr, struct mp_addr *out)
{
	memset(out, 0, sizeof(*out));
	switch (a->u.sa.sa_family) {
	case AF_INET:
		out->u.in4 = a->u.in4;
		out->len = sizeof(out->u.in4);
		break;
	case AF_INET6:
		out->u.in6 = a->u.in6;
		out->len = sizeof(out->u.in6);
		break;
	default:
		if (unix_addr != NULL) {
			*out = *unix_addr;
		}
		break;
	}
}
