/*
 * PROXY protocol codec. See proxy_proto.h for the contract; section numbers
 * below are those of haproxy's proxy-protocol.txt.
 */
#include "proxy_proto.h"

#include "../core/str.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#define PP_V1_SIG "PROXY "
#define PP_V1_SIG_LEN (sizeof(PP_V1_SIG) - 1)
#define PP_V1_PORT_DIGITS 5     /* "65535" */
#define PP_PORT_MAX 65535u

#define PP_V2_SIG_LEN 12
#define PP_V2_HDR_LEN 16        /* signature, ver/cmd, fam, len */
#define PP_V2_VERSION 0x20u     /* §2.2: high nibble of byte 13 */
#define PP_V2_CMD_LOCAL 0x0u
#define PP_V2_CMD_PROXY 0x1u
#define PP_V2_TLV_HDR 3         /* type, length hi, length lo */

/* §2.2 byte 14: address family (high nibble) and transport (low nibble). */
#define PP_V2_UNSPEC 0x00u
#define PP_V2_TCP4 0x11u
#define PP_V2_UDP4 0x12u
#define PP_V2_TCP6 0x21u
#define PP_V2_UDP6 0x22u
#define PP_V2_UNIX_STREAM 0x31u
#define PP_V2_UNIX_DGRAM 0x32u

/* §2.2: sizes of the address blocks. */
#define PP_V2_ADDR4_LEN 12
#define PP_V2_ADDR6_LEN 36
#define PP_V2_ADDRUNIX_LEN 216

_Static_assert(PP_V2_MAX >= PP_V2_HDR_LEN + PP_V2_ADDRUNIX_LEN,
	       "a v2 header with unix addresses must fit");
_Static_assert(PP_V2_MAX - PP_V2_HDR_LEN <= 0xffff, "v2 length field is 16 bits");

static const uint8_t pp_v2_sig[PP_V2_SIG_LEN] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
};

/* Is what we have so far a prefix of sig (or sig a prefix of it)? */
static bool sig_prefix(const uint8_t *p, size_t n, const void *sig, size_t len)
{
	return memcmp(p, sig, MP_MIN(n, len)) == 0;
}

static void set_ip4(struct mp_addr *a, const void *ip, uint16_t port_be)
{
	memset(a, 0, sizeof(*a));
	a->u.in4.sin_family = AF_INET;
	memcpy(&a->u.in4.sin_addr, ip, 4);
	a->u.in4.sin_port = port_be;
	a->len = sizeof(a->u.in4);
}

static void set_ip6(struct mp_addr *a, const void *ip, uint16_t port_be)
{
	memset(a, 0, sizeof(*a));
	a->u.in6.sin6_family = AF_INET6;
	memcpy(&a->u.in6.sin6_addr, ip, 16);
	a->u.in6.sin6_port = port_be;
	a->len = sizeof(a->u.in6);
}

/* Next space-separated token of [p, end); NULL if empty. Returns the
 * position after the token and sets *t to it. */
static const uint8_t *v1_token(const uint8_t *p, const uint8_t *end, struct mp_str *t)
{
	const uint8_t *s = p;
	while (p < end && *p != ' ') {
		p++;
	}
	if (p == s) {
		return NULL;
	}
	t->p = (const char *)s;
	t->n = (size_t)(p - s);
	return p;
}

/* Exactly one space, then a token. */
static const uint8_t *v1_next(const uint8_t *p, const uint8_t *end, struct mp_str *t)
{
	if (p == NULL || p == end || *p != ' ') {
		return NULL;
	}
	return v1_token(p + 1, end, t);
}

static bool v1_eq(struct mp_str t, const char *lit)
{
	return t.n == strlen(lit) && memcmp(t.p, lit, t.n) == 0;
}

/* §2.1: addresses in their usual text form, of the announced family.
 * inet_pton() takes no brackets, scope ids or leading zeros in IPv4. */
static bool v1_ip(struct mp_str t, int af, void *dst)
{
	char tmp[INET6_ADDRSTRLEN];

	if (t.n == 0 || t.n >= sizeof(tmp)) {
		return false;
	}
	memcpy(tmp, t.p, t.n);
	tmp[t.n] = '\0';
	return inet_pton(af, tmp, dst) == 1;
}

/* §2.1: a port is 0..65535 in decimal. We also refuse leading zeros, so
 * that one port has one spelling. */
static bool v1_port(struct mp_str t, uint16_t *port_be)
{
	unsigned v = 0;

	if (t.n == 0 || t.n > PP_V1_PORT_DIGITS || (t.n > 1 && t.p[0] == '0')) {
		return false;
	}
	for (size_t i = 0; i < t.n; i++) {
		if (t.p[i] < '0' || t.p[i] > '9') {
			return false;
		}
		v = v * 10 + (unsigned)(t.p[i] - '0');
	}
	if (v > PP_PORT_MAX) {
		return false;
	}
	*port_be = htons((uint16_t)v);
	return true;
}

static enum mp_status v1_parse(const uint8_t *p, size_t n, struct pp_header *out)
{
	struct pp_header h;
	struct mp_str proto, s_ip, d_ip, s_port, d_port;
	uint8_t sb[16], db[16];
	uint16_t sp, dp;
	const uint8_t *c, *end;
	size_t eol;
	int af;

	/* Frame: printable US-ASCII up to CRLF, CRLF within PP_V1_MAX bytes. */
	for (eol = 0;; eol++) {
		if (eol + 2 > PP_V1_MAX) {
			return MP_INVALID;
		}
		if (eol == n) {
			return MP_AGAIN;
		}
		if (p[eol] == '\r') {
			if (eol + 1 == n) {
				return MP_AGAIN;
			}
			if (p[eol + 1] != '\n') {
				return MP_INVALID;
			}
			break;
		}
		if (p[eol] < 0x20 || p[eol] > 0x7e) {
			return MP_INVALID;
		}
	}

	memset(&h, 0, sizeof(h));
	h.version = 1;
	h.len = eol + 2;
	end = p + eol;
	c = v1_token(p + PP_V1_SIG_LEN, end, &proto);
	if (c == NULL) {
		return MP_INVALID;
	}
	if (v1_eq(proto, "UNKNOWN")) {
		/* §2.1: the rest of an UNKNOWN line is ignored */
		h.local = true;
		*out = h;
		return MP_OK;
	}
	if (v1_eq(proto, "TCP4")) {
		af = AF_INET;
	} else if (v1_eq(proto, "TCP6")) {
		af = AF_INET6;
	} else {
		return MP_INVALID;
	}
	c = v1_next(c, end, &s_ip);
	c = v1_next(c, end, &d_ip);
	c = v1_next(c, end, &s_port);
	c = v1_next(c, end, &d_port);
	if (c != end || !v1_ip(s_ip, af, sb) || !v1_ip(d_ip, af, db) ||
	    !v1_port(s_port, &sp) || !v1_port(d_port, &dp)) {
		return MP_INVALID;
	}
	if (af == AF_INET) {
		set_ip4(&h.src, sb, sp);
		set_ip4(&h.dst, db, dp);
	} else {
		set_ip6(&h.src, sb, sp);
		set_ip6(&h.dst, db, dp);
	}
	*out = h;
	return MP_OK;
}

/* §2.2: the block after the addresses is a sequence of whole TLVs. */
static bool v2_tlvs_ok(const uint8_t *p, size_t n)
{
	while (n > 0) {
		if (n < PP_V2_TLV_HDR) {
			return false;
		}
		size_t l = (size_t)p[1] << 8 | p[2];
		if (l > n - PP_V2_TLV_HDR) {
			return false;
		}
		p += PP_V2_TLV_HDR + l;
		n -= PP_V2_TLV_HDR + l;
	}
	return true;
}

static enum mp_status v2_parse(const uint8_t *p, size_t n, struct pp_header *out)
{
	struct pp_header h;
	unsigned cmd, fam;
	size_t len, alen;

	/* Decide as early as the bytes allow. */
	if (n <= PP_V2_SIG_LEN) {
		return MP_AGAIN;
	}
	if ((p[12] & 0xf0u) != PP_V2_VERSION) {
		return MP_INVALID;
	}
	cmd = p[12] & 0x0fu;
	if (cmd != PP_V2_CMD_LOCAL && cmd != PP_V2_CMD_PROXY) {
		return MP_INVALID; /* §2.2: "must drop connections presenting unexpected values" */
	}
	if (n < PP_V2_SIG_LEN + 2) {
		return MP_AGAIN;
	}
	fam = p[13];
	switch (fam) {
	case PP_V2_UNSPEC:
		alen = 0;
		break;
	case PP_V2_TCP4:
	case PP_V2_UDP4:
		alen = PP_V2_ADDR4_LEN;
		break;
	case PP_V2_TCP6:
	case PP_V2_UDP6:
		alen = PP_V2_ADDR6_LEN;
		break;
	case PP_V2_UNIX_STREAM:
	case PP_V2_UNIX_DGRAM:
		alen = PP_V2_ADDRUNIX_LEN;
		break;
	default:
		/* §2.2: unassigned values "must be rejected as invalid", except
		 * that LOCAL discards the whole block, family included */
		if (cmd == PP_V2_CMD_PROXY) {
			return MP_INVALID;
		}
		alen = 0;
		break;
	}
	if (n < PP_V2_HDR_LEN) {
		return MP_AGAIN;
	}
	len = (size_t)p[14] << 8 | p[15];
	if (len > PP_V2_MAX - PP_V2_HDR_LEN) {
		return MP_TOOLONG;
	}
	if (n - PP_V2_HDR_LEN < len) {
		return MP_AGAIN;
	}

	memset(&h, 0, sizeof(h));
	h.version = 2;
	h.len = PP_V2_HDR_LEN + len;
	p += PP_V2_HDR_LEN;
	if (cmd == PP_V2_CMD_LOCAL || fam == PP_V2_UNSPEC) {
		/* §2.2: LOCAL, and PROXY over UNSPEC: use the real endpoints and
		 * ignore the block, which has no defined layout */
		h.local = true;
		*out = h;
		return MP_OK;
	}
	if (len < alen || !v2_tlvs_ok(p + alen, len - alen)) {
		return MP_INVALID;
	}
	switch (fam) {
	case PP_V2_TCP4: {
		uint16_t sp, dp;
		memcpy(&sp, p + 8, 2);
		memcpy(&dp, p + 10, 2);
		set_ip4(&h.src, p, sp);
		set_ip4(&h.dst, p + 4, dp);
		break;
	}
	case PP_V2_TCP6: {
		uint16_t sp, dp;
		memcpy(&sp, p + 32, 2);
		memcpy(&dp, p + 34, 2);
		set_ip6(&h.src, p, sp);
		set_ip6(&h.dst, p + 16, dp);
		break;
	}
	default:
		/* DGRAM and unix: well-formed, but no address a TCP proxy can
		 * use; keep the real peer, as nginx does */
		h.local = true;
		break;
	}
	*out = h;
	return MP_OK;
}

enum mp_status pp_parse(const uint8_t *p, size_t n, struct pp_header *out)
{
	if (n == 0) {
		return MP_AGAIN;
	}
	if (sig_prefix(p, n, PP_V1_SIG, PP_V1_SIG_LEN)) {
		if (n < PP_V1_SIG_LEN) {
			return MP_AGAIN;
		}
		return v1_parse(p, n, out);
	}
	if (sig_prefix(p, n, pp_v2_sig, PP_V2_SIG_LEN)) {
		return v2_parse(p, n, out);
	}
	return MP_INVALID;
}

/* Both TCP endpoints of one IP family: AF_INET or AF_INET6; else 0. */
static int same_ip_family(const struct mp_addr *src, const struct mp_addr *dst)
{
	int af = src->u.sa.sa_family;

	if (src->len == 0 || dst->len == 0 || af != dst->u.sa.sa_family ||
	    (af != AF_INET && af != AF_INET6)) {
		return 0;
	}
	return af;
}

enum mp_status pp_build_v1(const struct mp_addr *src, const struct mp_addr *dst,
			   char *out, size_t cap, size_t *len)
{
	char line[PP_V1_MAX + 1], s[INET6_ADDRSTRLEN] = "", d[INET6_ADDRSTRLEN] = "";
	int af = same_ip_family(src, dst), r;
	uint16_t sp = 0, dp = 0;

	if (af == AF_INET) {
		inet_ntop(af, &src->u.in4.sin_addr, s, sizeof(s));
		inet_ntop(af, &dst->u.in4.sin_addr, d, sizeof(d));
		sp = ntohs(src->u.in4.sin_port);
		dp = ntohs(dst->u.in4.sin_port);
	} else if (af == AF_INET6) {
		inet_ntop(af, &src->u.in6.sin6_addr, s, sizeof(s));
		inet_ntop(af, &dst->u.in6.sin6_addr, d, sizeof(d));
		sp = ntohs(src->u.in6.sin6_port);
		dp = ntohs(dst->u.in6.sin6_port);
	}
	if (af == 0) {
		r = snprintf(line, sizeof(line), "PROXY UNKNOWN\r\n");
	} else {
		/* longest: 2 x 39-char IPv6 + 2 x 5-digit port = 104 bytes */
		r = snprintf(line, sizeof(line), "PROXY %s %s %s %u %u\r\n",
			     af == AF_INET ? "TCP4" : "TCP6", s, d, sp, dp);
	}
	if (r < 0 || (size_t)r > PP_V1_MAX) {
		return MP_ERR; /* cannot happen: inet_ntop output is bounded */
	}
	if (cap < (size_t)r) {
		return MP_TOOLONG;
	}
	memcpy(out, line, (size_t)r);
	*len = (size_t)r;
	return MP_OK;
}

enum mp_status pp_build_v2(const struct mp_addr *src, const struct mp_addr *dst,
			   uint8_t *out, size_t cap, size_t *len)
{
	uint8_t h[PP_V2_HDR_LEN + PP_V2_ADDR6_LEN];
	int af = same_ip_family(src, dst);
	size_t alen;

	memcpy(h, pp_v2_sig, PP_V2_SIG_LEN);
	if (af == AF_INET) {
		h[12] = PP_V2_VERSION | PP_V2_CMD_PROXY;
		h[13] = PP_V2_TCP4;
		alen = PP_V2_ADDR4_LEN;
		memcpy(h + 16, &src->u.in4.sin_addr, 4);
		memcpy(h + 20, &dst->u.in4.sin_addr, 4);
		memcpy(h + 24, &src->u.in4.sin_port, 2);
		memcpy(h + 26, &dst->u.in4.sin_port, 2);
	} else if (af == AF_INET6) {
		h[12] = PP_V2_VERSION | PP_V2_CMD_PROXY;
		h[13] = PP_V2_TCP6;
		alen = PP_V2_ADDR6_LEN;
		memcpy(h + 16, &src->u.in6.sin6_addr, 16);
		memcpy(h + 32, &dst->u.in6.sin6_addr, 16);
		memcpy(h + 48, &src->u.in6.sin6_port, 2);
		memcpy(h + 50, &dst->u.in6.sin6_port, 2);
	} else {
		h[12] = PP_V2_VERSION | PP_V2_CMD_LOCAL;
		h[13] = PP_V2_UNSPEC;
		alen = 0;
	}
	h[14] = (uint8_t)(alen >> 8);
	h[15] = (uint8_t)alen;
	if (cap < PP_V2_HDR_LEN + alen) {
		return MP_TOOLONG;
	}
	memcpy(out, h, PP_V2_HDR_LEN + alen);
	*len = PP_V2_HDR_LEN + alen;
	return MP_OK;
}
