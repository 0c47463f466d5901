/*
 * Addresses in the configuration, read as nginx reads them
 * (src/core/ngx_inet.c): ngx_inet_addr, ngx_parse_url, ngx_ptocidr. Host
 * names never reach the libc resolver: the caller's lookup function answers
 * them (from /etc/hosts), so loading never blocks on DNS.
 */
#include "conf_int.h"

#include <arpa/inet.h>
#include <string.h>

bool conf_inet4(const char *p, size_t n, uint8_t out[4])
{
	uint32_t addr = 0, octet = 0;
	unsigned dots = 0;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (c >= '0' && c <= '9') {
			octet = octet * 10 + (uint32_t)(c - '0');
			if (octet > 255) {
				return false;
			}
			continue;
		}
		if (c == '.' && dots < 3) {
			addr = (addr << 8) + octet;
			octet = 0;
			dots++;
			continue;
		}
		return false;
	}
	if (dots != 3) {
		return false;
	}
	addr = (addr << 8) + octet;
	out[0] = (uint8_t)(addr >> 24);
	out[1] = (uint8_t)(addr >> 16);
	out[2] = (uint8_t)(addr >> 8);
	out[3] = (uint8_t)addr;
	return true;
}

static bool inet6(const char *p, size_t n, uint8_t out[16])
{
	char tmp[64];
	if (n == 0 || n >= sizeof(tmp)) {
		return false;
	}
	memcpy(tmp, p, n);
	tmp[n] = '\0';
	return inet_pton(AF_INET6, tmp, out) == 1;
}

static const char *memchr_c(const char *p, const char *end, char c)
{
	return p < end ? memchr(p, c, (size_t)(end - p)) : NULL;
}

/* ngx_atoi over [p, end) as a port: 1..65535, else 0. */
static unsigned port_num(const char *p, const char *end)
{
	int64_t n;
	if (conf_atoi((struct mp_str){ p, (size_t)(end - p) }, &n) != MP_OK || n < 1 || n > 65535) {
		return 0;
	}
	return (unsigned)n;
}

static void set_v4(struct mp_addr *a, const uint8_t ip[4], uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->u.in4.sin_family = AF_INET;
	memcpy(&a->u.in4.sin_addr, ip, 4);
	a->u.in4.sin_port = htons(port);
	a->len = sizeof(a->u.in4);
}

static void set_v6(struct mp_addr *a, const uint8_t ip[16], uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->u.in6.sin6_family = AF_INET6;
	memcpy(&a->u.in6.sin6_addr, ip, 16);
	a->u.in6.sin6_port = htons(port);
	a->len = sizeof(a->u.in6);
}

static bool addr_is_any(const struct mp_addr *a)
{
	static const uint8_t zero[16];
	if (a->u.sa.sa_family == AF_INET) {
		return a->u.in4.sin_addr.s_addr == 0;
	}
	if (a->u.sa.sa_family == AF_INET6) {
		return memcmp(&a->u.in6.sin6_addr, zero, 16) == 0;
	}
	return false;
}

static enum mp_status url_unix(const struct conf_url_in *in, struct conf_url_out *out)
{
	const char *path = in->url.p + 5, *last = in->url.p + in->url.n;
	size_t len = (size_t)(last - path);
	if (in->uri_part) {
		const char *uri = memchr_c(path, last, ':');
		if (uri != NULL) {
			len = (size_t)(uri - path);
			uri++;
			out->uri = (struct mp_str){ uri, (size_t)(last - uri) };
		}
	}
	if (len == 0) {
		out->err = "no path in the unix domain socket";
		return MP_INVALID;
	}
	struct mp_addr *a = &out->addrs[0];
	if (len + 1 > sizeof(a->u.un.sun_path)) {
		out->err = "too long path in the unix domain socket";
		return MP_INVALID;
	}
	if (memchr(path, '\0', len) != NULL) {
		out->err = "invalid path in the unix domain socket";
		return MP_INVALID;
	}
	memset(a, 0, sizeof(*a));
	a->u.un.sun_family = AF_UNIX;
	memcpy(a->u.un.sun_path, path, len);
	a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
	out->host = (struct mp_str){ path, len };
	out->hostport = out->host;
	out->family = AF_UNIX;
	out->naddrs = 1;
	return MP_OK;
}

static enum mp_status url_inet6(const struct conf_url_in *in, struct conf_url_out *out)
{
	const char *host = in->url.p + 1, *last = in->url.p + in->url.n;
	const char *p = memchr_c(host, last, ']');
	if (p == NULL) {
		out->err = "invalid host";
		return MP_INVALID;
	}
	const char *port = p + 1;
	const char *uri = memchr_c(port, last, '/');
	if (uri != NULL) {
		if (in->listen || !in->uri_part) {
			out->err = "invalid host";
			return MP_INVALID;
		}
		out->uri = (struct mp_str){ uri, (size_t)(last - uri) };
		last = uri;
	}
	out->hostport = (struct mp_str){ in->url.p, (size_t)(last - in->url.p) };
	if (port < last) {
		if (*port != ':') {
			out->err = "invalid host";
			return MP_INVALID;
		}
		port++;
		unsigned n = port_num(port, last);
		if (n == 0) {
			out->err = "invalid port";
			return MP_INVALID;
		}
		out->port = (uint16_t)n;
	} else {
		out->no_port = true;
		out->port = in->default_port;
	}
	size_t len = (size_t)(p - host);
	if (len == 0) {
		out->err = "no host";
		return MP_INVALID;
	}
	out->host = (struct mp_str){ host - 1, len + 2 };
	uint8_t ip[16];
	if (!inet6(host, len, ip)) {
		out->err = "invalid IPv6 address";
		return MP_INVALID;
	}
	set_v6(&out->addrs[0], ip, out->port);
	out->naddrs = 1;
	out->family = AF_INET6;
	out->wildcard = addr_is_any(&out->addrs[0]);
	return MP_OK;
}

static enum mp_status url_inet(const struct conf_url_in *in, struct conf_url_out *out,
			       conf_resolve_fn resolve, void *ctx)
{
	const char *host = in->url.p, *last = in->url.p + in->url.n;
	const char *port = memchr_c(host, last, ':');
	const char *uri = memchr_c(host, last, '/');
	const char *args = memchr_c(host, last, '?');
	uint8_t ip[4];

	if (args != NULL && (uri == NULL || args < uri)) {
		uri = args;
	}
	if (uri != NULL) {
		if (in->listen || !in->uri_part) {
			out->err = "invalid host";
			return MP_INVALID;
		}
		out->uri = (struct mp_str){ uri, (size_t)(last - uri) };
		last = uri;
		if (port != NULL && uri < port) {
			port = NULL;
		}
	}
	out->hostport = (struct mp_str){ host, (size_t)(last - host) };

	if (port != NULL) {
		unsigned n = port_num(port + 1, last);
		if (n == 0) {
			out->err = "invalid port";
			return MP_INVALID;
		}
		out->port = (uint16_t)n;
		last = port;
	} else {
		if (uri == NULL && in->listen) {
			/* the value as a port alone: "listen 143" */
			int64_t n;
			if (conf_atoi((struct mp_str){ host, (size_t)(last - host) }, &n) == MP_OK) {
				if (n < 1 || n > 65535) {
					out->err = "invalid port";
					return MP_INVALID;
				}
				out->port = (uint16_t)n;
				static const uint8_t any[4];
				set_v4(&out->addrs[0], any, out->port);
				out->naddrs = 1;
				out->family = AF_INET;
				out->wildcard = true;
				return MP_OK;
			}
		}
		out->no_port = true;
		out->port = in->default_port;
	}

	size_t len = (size_t)(last - host);
	if (len == 0) {
		out->err = "no host";
		return MP_INVALID;
	}
	out->host = (struct mp_str){ host, len };

	if (in->listen && len == 1 && *host == '*') {
		static const uint8_t any[4];
		set_v4(&out->addrs[0], any, out->port);
		out->naddrs = 1;
		out->family = AF_INET;
		out->wildcard = true;
		return MP_OK;
	}

	if (conf_inet4(host, len, ip)) {
		set_v4(&out->addrs[0], ip, out->port);
		out->naddrs = 1;
		out->family = AF_INET;
		out->wildcard = addr_is_any(&out->addrs[0]);
		return MP_OK;
	}

	size_t found = resolve != NULL ? resolve(ctx, host, len, out->addrs, CONF_URL_ADDRS_MAX) : 0;
	if (found == 0) {
		out->err = "host not found";
		return MP_INVALID;
	}
	out->naddrs = found;
	for (size_t i = 0; i < found; i++) {
		net_set_port(&out->addrs[i], out->port);
	}
	out->family = out->addrs[0].u.sa.sa_family;
	out->wildcard = addr_is_any(&out->addrs[0]);
	return MP_OK;
}

enum mp_status conf_url_parse(const struct conf_url_in *in, struct conf_url_out *out,
			      conf_resolve_fn resolve, void *ctx)
{
	const char *p = in->url.p;
	size_t len = in->url.n;
	memset(out, 0, sizeof(*out));
	if (len >= 5 && str_has_prefix_nocase(in->url, "unix:")) {
		return url_unix(in, out);
	}
	if (len > 0 && p[0] == '[') {
		return url_inet6(in, out);
	}
	return url_inet(in, out, resolve, ctx);
}

enum mp_status conf_cidr_parse(struct mp_str s, struct conf_cidr *out, bool *low_bits)
{
	const char *addr = s.p, *last = s.p + s.n;
	const char *mask = memchr_c(addr, last, '/');
	size_t len = (size_t)((mask != NULL ? mask : last) - addr);
	struct conf_cidr c;
	unsigned bits;

	memset(&c, 0, sizeof(c));
	if (conf_inet4(addr, len, c.addr)) {
		c.family = AF_INET;
		bits = 32;
	} else if (inet6(addr, len, c.addr)) {
		c.family = AF_INET6;
		bits = 128;
	} else {
		return MP_INVALID;
	}

	*low_bits = false;
	if (mask != NULL) {
		int64_t shift;
		mask++;
		if (conf_atoi((struct mp_str){ mask, (size_t)(last - mask) }, &shift) != MP_OK ||
		    shift > (int64_t)bits) {
			return MP_INVALID;
		}
		bits = (unsigned)shift;
		for (unsigned i = 0; i < 16; i++) {
			unsigned keep = bits > i * 8 ? bits - i * 8 : 0;
			uint8_t m = keep >= 8 ? 0xff : (uint8_t)(0xff00u >> keep);
			if ((c.addr[i] & m) != c.addr[i]) {
				*low_bits = true;
				c.addr[i] &= m;
			}
		}
	}
	c.prefix = bits;
	*out = c;
	return MP_OK;
}

static int lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

static bool name_eq(const char *a, size_t an, const char *b, size_t bn)
{
	if (an != bn) {
		return false;
	}
	for (size_t i = 0; i < an; i++) {
		if (lower((unsigned char)a[i]) != lower((unsigned char)b[i])) {
			return false;
		}
	}
	return true;
}

static bool hosts_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* One hosts line [p, end): "addr name alias..." with the comment cut off. */
static size_t hosts_line(const char *p, const char *end, const char *name, size_t nlen,
			 struct mp_addr *out, size_t have, size_t max)
{
	const char *f = NULL;
	size_t flen = 0;
	bool match = false;

	while (p < end) {
		while (p < end && hosts_space(*p)) {
			p++;
		}
		if (p >= end) {
			break;
		}
		const char *w = p;
		while (p < end && !hosts_space(*p)) {
			p++;
		}
		size_t wl = (size_t)(p - w);
		if (f == NULL) {
			f = w;
			flen = wl;
		} else if (name_eq(w, wl, name, nlen)) {
			match = true;
		}
	}
	if (!match || have >= max) {
		return have;
	}

	struct mp_addr a;
	uint8_t ip[16];
	if (conf_inet4(f, flen, ip)) {
		set_v4(&a, ip, 0);
	} else if (inet6(f, flen, ip)) {
		set_v6(&a, ip, 0);
	} else {
		return have; /* "fe80::1%eth0" and garbage: skipped */
	}
	for (size_t i = 0; i < have; i++) {
		if (net_addr_equal(&out[i], &a)) {
			return have;
		}
	}
	out[have] = a;
	return have + 1;
}

size_t conf_hosts_find(const char *text, size_t n, const char *name, size_t nlen,
		       struct mp_addr *out, size_t max)
{
	const char *p = text, *end = text + n;
	size_t have = 0;
	if (nlen == 0) {
		return 0;
	}
	while (p < end && have < max) {
		const char *eol = memchr_c(p, end, '\n');
		if (eol == NULL) {
			eol = end;
		}
		const char *hash = memchr_c(p, eol, '#');
		have = hosts_line(p, hash != NULL ? hash : eol, name, nlen, out, have, max);
		p = eol + (eol < end ? 1 : 0);
	}
	return have;
}
