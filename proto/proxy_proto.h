/*
 * PROXY protocol v1 and v2 (haproxy's proxy-protocol.txt): parse the header
 * a load balancer puts before the client's bytes, build the one we send to
 * backends. Pure: no I/O, no allocation, no globals.
 *
 * The caller accepts a header only on listeners configured with
 * proxy_protocol and only from set_real_ip_from peers (security.md row 16).
 */
#ifndef MP_PROXY_PROTO_H
#define MP_PROXY_PROTO_H

#include "../core/common.h"
#include "../core/net.h"

#define PP_V1_MAX 107      /* spec 2.1: a v1 line is at most 107 bytes, CRLF included */
/*
 * Largest v2 header we accept: 16-byte fixed part + 1024 bytes of addresses
 * and TLVs; a bigger length field is MP_TOOLONG as soon as the 16 fixed
 * bytes are in. The spec allows 64K; 1024 holds unix addresses (216), or
 * IPv6 addresses (36) plus every TLV HAProxy sends in practice
 * (AUTHORITY <= 258, UNIQUE_ID <= 131, SSL with CN and cipher, ALPN,
 * CRC32C, NETNS, cloud endpoint ids). nginx caps at 4096 in total. The
 * caller must be able to buffer PP_MAX bytes before the session starts.
 */
#define PP_V2_MAX (16 + 1024)
#define PP_MAX MP_MAX(PP_V1_MAX, PP_V2_MAX)

struct pp_header {
	int version;               /* 1 or 2 */
	bool local;                /* v2 LOCAL command or v1 UNKNOWN: keep the real peer address */
	struct mp_addr src, dst;   /* with ports; both unset (len 0) when local */
	size_t len;                /* bytes consumed */
};

/*
 * Parse a PROXY header at the start of p[0..n). Bytes after out->len belong
 * to the mail protocol.
 * MP_OK: *out filled.
 * MP_AGAIN: a valid header so far, but incomplete (n == 0 included).
 * MP_INVALID: anything off-spec; in particular as soon as the first bytes
 *   match neither signature ("PROXY " / the 12-byte v2 one), or a byte
 *   that cannot belong to a v1 line arrives. A v1 line without CRLF in its
 *   first 107 bytes is MP_INVALID (the spec's own limit).
 * MP_TOOLONG: a v2 length field beyond PP_V2_MAX (our limit, not the spec's).
 *
 * v1 is strict: single spaces, "TCP4"/"TCP6" with addresses of that family
 * (no brackets, no scope), ports 0..65535 as plain decimal (no sign, no
 * leading zero), CRLF right after the destination port; "UNKNOWN" may be
 * followed by a space and anything printable, which is ignored (local).
 * v2: version 2; command LOCAL (local, the whole block discarded as the
 * spec says) or PROXY; any other command or unassigned family byte is
 * MP_INVALID. PROXY with TCP over IPv4/IPv6 gives addresses; UNSPEC, UNIX
 * and DGRAM families give local=true (nginx, too, keeps the real peer for
 * families it does not support). The length must cover the family's
 * address block (12, 36, 216), and what follows must be whole TLVs
 * (type, 16-bit length, value) ending exactly at the header's end; their
 * contents, CRC32C included, are not interpreted.
 * *out is untouched unless MP_OK.
 */
enum mp_status pp_parse(const uint8_t *p, size_t n, struct pp_header *out);

/*
 * "PROXY TCP4 src dst sport dport\r\n" (or TCP6) when src and dst are both
 * IPv4 or both IPv6; "PROXY UNKNOWN\r\n" for unix sockets or mixed families,
 * as nginx does. Not NUL-terminated. MP_TOOLONG if cap is too small
 * (PP_V1_MAX always suffices); out untouched unless MP_OK.
 */
enum mp_status pp_build_v1(const struct mp_addr *src, const struct mp_addr *dst,
			   char *out, size_t cap, size_t *len);

/*
 * A v2 PROXY header with TCP over IPv4 or IPv6 (no TLVs), or a LOCAL header
 * with family UNSPEC for unix sockets or mixed families. 28 or 52 or 16
 * bytes. MP_TOOLONG if cap is too small; out untouched unless MP_OK.
 */
enum mp_status pp_build_v2(const struct mp_addr *src, const struct mp_addr *dst,
			   uint8_t *out, size_t cap, size_t *len);

#endif
