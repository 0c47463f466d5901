/*
 * DNS wire format for the stub resolver (RFC 1035 §4, RFC 3596): build one
 * query, parse one response. Pure: no I/O, no allocation, no globals.
 *
 * Every DNS server is hostile (CVE-2021-23017, CVE-2016-0742/0746/0747):
 * a response is accepted only when its ID, question, type and class match
 * what we asked; names are decompressed with backward-only pointers, a
 * jump cap and the 255-byte limit; CNAME chains are capped; every RDLENGTH
 * is checked against the packet end; a PTR target must be a plain LDH host
 * name before it may reach an auth_http header or an XCLIENT command
 * (CVE-2026-28753).
 *
 * Random IDs and source ports, matching the reply's source address and the
 * query timeout belong to the caller (the resolver), not to this codec.
 */
#ifndef MP_DNS_MSG_H
#define MP_DNS_MSG_H

#include "../core/common.h"
#include "../core/net.h"

/* RR types (RFC 1035 §3.2.2, RFC 3596 §2.1) and class IN. */
#define DNS_T_A 1
#define DNS_T_CNAME 5
#define DNS_T_PTR 12
#define DNS_T_AAAA 28
#define DNS_C_IN 1

/* RCODEs (RFC 1035 §4.1.1) the caller is likely to look at. */
#define DNS_RCODE_NOERROR 0
#define DNS_RCODE_SERVFAIL 2
#define DNS_RCODE_NXDOMAIN 3

#define DNS_MAX_ADDRS 8        /* A/AAAA records kept; later ones ignored */
#define DNS_NAME_MAX 255       /* presentation form fits in 254 + NUL */
#define DNS_CNAME_MAX 8        /* CNAMEs followed; a 9th is MP_INVALID */
#define DNS_PTR_JUMPS_MAX 32   /* compression pointers followed in one name */
/*
 * Largest response accepted. We send no EDNS0 OPT record (RFC 6891), so a
 * conforming server never sends more than 512 bytes over UDP (RFC 1035
 * §4.2.1) and sets TC instead; a bigger datagram is MP_INVALID. This also
 * bounds the parse cost: a reply built to be slow (records with 255-byte
 * names, a CNAME chain to rescan) takes ~0.05 ms at 512 bytes, ~70 ms at
 * 64 KiB. Raise it only together with adding EDNS0 to the query.
 */
#define DNS_MSG_MAX 512
/* Largest query dns_build_query() writes: header + 255-byte name + type/class. */
#define DNS_QUERY_MAX (12 + 255 + 4)
/* "b.a.9.8.<32 nibbles>.ip6.arpa" is 72 characters; plus NUL. */
#define DNS_PTR_NAME_MAX 73

struct dns_answer {
	int rcode;                 /* 0 NOERROR, 3 NXDOMAIN, ... */
	bool truncated;            /* TC bit: caller may retry (we have no TCP) — report it */
	uint32_t ttl;              /* minimum TTL among used records; 0 if none used */
	char ptr[DNS_NAME_MAX + 1];/* first PTR target, presentation form, for PTR queries */
	bool bad_ptr;              /* a PTR target was not a host name: ptr is empty */
	uint8_t addrs[DNS_MAX_ADDRS][16]; size_t naddrs; /* A (4 bytes used) or AAAA */
};

/*
 * Write a query for (name, qtype, class IN) with RD set and one question.
 * name: presentation form, labels of 1..63 characters from [A-Za-z0-9-_],
 * at most 255 bytes on the wire, trailing dot optional.
 * MP_OK and *len set; MP_INVALID for a bad name; MP_TOOLONG if cap is too
 * small (DNS_QUERY_MAX always suffices). out is untouched unless MP_OK.
 */
enum mp_status dns_build_query(uint16_t id, const char *name, uint16_t qtype,
			       uint8_t *out, size_t cap, size_t *len);

/*
 * Reverse-lookup name for an IP address, NUL-terminated:
 * "21.0.0.127.in-addr.arpa", or the nibble form under "ip6.arpa".
 * An IPv4-mapped IPv6 address (::ffff:a.b.c.d, as a dual-stack socket
 * reports an IPv4 client) gives the in-addr.arpa name of a.b.c.d, since
 * that is where its PTR lives. Returns the length without the NUL, or 0 if
 * the address is not IPv4/IPv6 or cap is too small (DNS_PTR_NAME_MAX
 * always suffices).
 */
size_t dns_ptr_name(const struct mp_addr *a, char *out, size_t cap);

/*
 * Parse a response to the query (want_id, want_name, want_qtype, IN).
 * MP_OK: *out filled; the caller checks out->rcode and out->truncated.
 *   Records used are those of the answer section owned by want_name or by
 *   the end of its CNAME chain; records for other names, of other classes
 *   or of unknown types are skipped; authority and additional sections are
 *   only framed (checked to be well-formed), never used.
 *   With TC set, answers are used up to the last complete record.
 * MP_INVALID: anything malformed, longer than DNS_MSG_MAX, or not an
 *   answer to this very question (wrong ID, QR=0, opcode, question, ...).
 *   The resolver should drop the datagram and keep waiting: it may be
 *   spoofed or stale.
 * Never reads p[n] or beyond. *out is untouched unless MP_OK.
 */
enum mp_status dns_parse_response(const uint8_t *p, size_t n, uint16_t want_id,
				  const char *want_name, uint16_t want_qtype,
				  struct dns_answer *out);

#endif
