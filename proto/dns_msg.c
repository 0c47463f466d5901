/*
 * DNS wire codec for the stub resolver. See dns_msg.h for the contract.
 *
 * Names are handled in uncompressed wire form (length-prefixed labels,
 * ending in the zero root label) and compared byte-wise, ignoring ASCII
 * case: comparing presentation forms would let a label containing a '.'
 * byte pass for two labels.
 */
#include "dns_msg.h"

#include <string.h>

#define DNS_HDR_LEN 12         /* RFC 1035 §4.1.1 */
#define DNS_WIRE_NAME_MAX 255  /* RFC 1035 §2.3.4: octets, root label included */
#define DNS_LABEL_MAX 63       /* RFC 1035 §2.3.4 */
#define DNS_Q_FIXED 4          /* QTYPE, QCLASS */
#define DNS_RR_FIXED 10        /* TYPE, CLASS, TTL, RDLENGTH */
#define DNS_A_LEN 4
#define DNS_AAAA_LEN 16

/* Header flag bits, RFC 1035 §4.1.1. */
#define DNS_F_QR 0x8000u
#define DNS_F_OPCODE 0x7800u
#define DNS_F_TC 0x0200u
#define DNS_F_RD 0x0100u
#define DNS_F_RCODE 0x000fu

/* RFC 1035 §4.1.4: the two top bits of a length byte. 01 and 10 were
 * extended label types (RFC 6891 §5 deprecates them): not accepted. */
#define DNS_LABEL_PTR 0xc0u
#define DNS_PTR_HI_MASK 0x3fu

/* RFC 2181 §8: a TTL with the top bit set is treated as zero. */
#define DNS_TTL_TOPBIT 0x80000000u

_Static_assert(DNS_NAME_MAX + 1 >= DNS_WIRE_NAME_MAX - 1,
	       "presentation form of a 255-byte wire name (253 chars) must fit");

struct dns_name {
	uint8_t b[DNS_WIRE_NAME_MAX];
	size_t n; /* bytes used, root label included */
};

/* A framed resource record (RFC 1035 §4.1.3). */
struct dns_rr {
	uint16_t type;
	uint16_t class;
	uint32_t ttl;
	size_t rd;     /* offset of RDATA; rd + rdlen <= packet length */
	size_t rdlen;
};

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static int lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

static bool is_ldh(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-';
}

/* Characters we put in a query: LDH plus '_' (service labels, RFC 8552). */
static bool is_query_char(int c)
{
	return is_ldh(c) || c == '_';
}

/* Wire names are equal ignoring ASCII case. Length bytes (<= 63) are below
 * 'A' and so compare exactly. */
static bool name_eq(const struct dns_name *a, const struct dns_name *b)
{
	if (a->n != b->n) {
		return false;
	}
	for (size_t i = 0; i < a->n; i++) {
		if (lower(a->b[i]) != lower(b->b[i])) {
			return false;
		}
	}
	return true;
}

/* Presentation form (trailing dot optional) to wire form. The root name
 * alone ("" or ".") is refused: we never ask for it. Reads at most
 * DNS_WIRE_NAME_MAX + 1 characters of name before giving up. */
static enum mp_status name_to_wire(const char *name, struct dns_name *w)
{
	size_t i = 0;

	w->n = 0;
	if (name == NULL) {
		return MP_INVALID;
	}
	for (;;) {
		size_t start = i;
		while (name[i] != '\0' && name[i] != '.') {
			if (!is_query_char((unsigned char)name[i]) ||
			    i - start >= DNS_LABEL_MAX) {
				return MP_INVALID;
			}
			i++;
		}
		size_t len = i - start;
		/* keep room for this label's length byte and the root label */
		if (len == 0 || w->n + 1 + len + 1 > DNS_WIRE_NAME_MAX) {
			return MP_INVALID;
		}
		w->b[w->n++] = (uint8_t)len;
		memcpy(w->b + w->n, name + start, len);
		w->n += len;
		if (name[i] == '\0') {
			break;
		}
		i++; /* the dot */
		if (name[i] == '\0') {
			break; /* trailing dot: already absolute */
		}
	}
	w->b[w->n++] = 0;
	return MP_OK;
}

/*
 * Read the possibly compressed name at off, reading no byte at or past lim.
 * *end gets the offset just past the name's in-place bytes (the zero label,
 * or the first pointer). MP_AGAIN when the name runs past lim (a truncated
 * packet), MP_INVALID when it is malformed.
 *
 * Loops are impossible by construction (RFC 1035 §4.1.4 only says pointers
 * refer to a "prior occurrence"): a pointer must land strictly before the
 * start of the label run that contains it, so the runs' start offsets
 * strictly decrease; it must not land in the header either. The jump cap
 * and the 255-byte limit bound the work on top of that.
 */
static enum mp_status read_name(const uint8_t *p, size_t lim, size_t off,
				struct dns_name *w, size_t *end)
{
	size_t pos = off, run = off, stop = 0;
	unsigned jumps = 0;

	w->n = 0;
	for (;;) {
		if (pos >= lim) {
			return MP_AGAIN;
		}
		unsigned c = p[pos];
		if ((c & DNS_LABEL_PTR) == DNS_LABEL_PTR) {
			if (lim - pos < 2) {
				return MP_AGAIN;
			}
			size_t to = (size_t)(c & DNS_PTR_HI_MASK) << 8 | p[pos + 1];
			if (to < DNS_HDR_LEN || to >= run || ++jumps > DNS_PTR_JUMPS_MAX) {
				return MP_INVALID;
			}
			if (stop == 0) {
				stop = pos + 2;
			}
			pos = run = to;
			continue;
		}
		if ((c & DNS_LABEL_PTR) != 0) {
			return MP_INVALID;
		}
		if (c == 0) {
			/* room for the root is kept by the label check below */
			w->b[w->n++] = 0;
			*end = stop != 0 ? stop : pos + 1;
			return MP_OK;
		}
		if (w->n + 1 + c + 1 > DNS_WIRE_NAME_MAX) {
			return MP_INVALID;
		}
		if (lim - pos - 1 < c) {
			return MP_AGAIN;
		}
		w->b[w->n++] = (uint8_t)c;
		memcpy(w->b + w->n, p + pos + 1, c);
		w->n += c;
		pos += 1 + c;
	}
}

/* A host name for a PTR target: LDH labels joined by dots, no trailing dot.
 * Anything else (space, CR, LF, '[', '_', 8-bit, the root) is refused: the
 * name goes into auth_http headers and XCLIENT NAME (CVE-2026-28753). */
static enum mp_status wire_to_host(const struct dns_name *w, char *out)
{
	size_t i = 0, o = 0;

	if (w->b[0] == 0) {
		return MP_INVALID;
	}
	while (w->b[i] != 0) {
		size_t len = w->b[i++];
		if (o != 0) {
			out[o++] = '.';
		}
		for (size_t k = 0; k < len; k++) {
			int c = w->b[i++];
			if (!is_ldh(c)) {
				return MP_INVALID;
			}
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
	return MP_OK;
}

/* Frame the record at *off: owner name, fixed part, RDATA inside [0, n).
 * MP_AGAIN if it runs past n, MP_INVALID if malformed. */
static enum mp_status rr_frame(const uint8_t *p, size_t n, size_t *off,
			       struct dns_rr *rr, struct dns_name *owner)
{
	size_t pos;
	enum mp_status st = read_name(p, n, *off, owner, &pos);

	if (st != MP_OK) {
		return st;
	}
	if (n - pos < DNS_RR_FIXED) {
		return MP_AGAIN;
	}
	rr->type = rd16(p + pos);
	rr->class = rd16(p + pos + 2);
	rr->ttl = rd32(p + pos + 4);
	if (rr->ttl & DNS_TTL_TOPBIT) {
		rr->ttl = 0;
	}
	rr->rdlen = rd16(p + pos + 8);
	rr->rd = pos + DNS_RR_FIXED;
	if (n - rr->rd < rr->rdlen) {
		return MP_AGAIN;
	}
	*off = rr->rd + rr->rdlen;
	return MP_OK;
}

/* A name that is the whole RDATA (CNAME, PTR): compression may point back
 * into the packet, but the in-place bytes must end exactly at RDATA's end. */
static enum mp_status rdata_name(const uint8_t *p, const struct dns_rr *rr,
				 struct dns_name *w)
{
	size_t lim = rr->rd + rr->rdlen, end;

	if (read_name(p, lim, rr->rd, w, &end) != MP_OK || end != lim) {
		return MP_INVALID;
	}
	return MP_OK;
}

/* Checks on answer records that must hold whoever owns them. */
static enum mp_status rr_check(const uint8_t *p, const struct dns_rr *rr)
{
	struct dns_name tmp;

	if (rr->class != DNS_C_IN) {
		return MP_OK;
	}
	switch (rr->type) {
	case DNS_T_A:
		return rr->rdlen == DNS_A_LEN ? MP_OK : MP_INVALID;
	case DNS_T_AAAA:
		return rr->rdlen == DNS_AAAA_LEN ? MP_OK : MP_INVALID;
	case DNS_T_CNAME:
	case DNS_T_PTR:
		return rdata_name(p, rr, &tmp);
	default:
		return MP_OK; /* unknown types: framed, then skipped */
	}
}

enum mp_status dns_build_query(uint16_t id, const char *name, uint16_t qtype,
			       uint8_t *out, size_t cap, size_t *len)
{
	struct dns_name w;
	size_t need;

	if (name_to_wire(name, &w) != MP_OK) {
		return MP_INVALID;
	}
	need = DNS_HDR_LEN + w.n + DNS_Q_FIXED;
	if (cap < need) {
		return MP_TOOLONG;
	}
	wr16(out, id);
	wr16(out + 2, DNS_F_RD);
	wr16(out + 4, 1); /* QDCOUNT */
	wr16(out + 6, 0);
	wr16(out + 8, 0);
	wr16(out + 10, 0);
	memcpy(out + DNS_HDR_LEN, w.b, w.n);
	wr16(out + DNS_HDR_LEN + w.n, qtype);
	wr16(out + DNS_HDR_LEN + w.n + 2, DNS_C_IN);
	*len = need;
	return MP_OK;
}

size_t dns_ptr_name(const struct mp_addr *a, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	char tmp[DNS_PTR_NAME_MAX];
	const uint8_t *b;
	size_t o = 0;

	switch (a->u.sa.sa_family) {
	case AF_INET:
		b = (const uint8_t *)&a->u.in4.sin_addr;
		break;
	case AF_INET6:
		b = (const uint8_t *)&a->u.in6.sin6_addr;
		if (memcmp(b, v4mapped, sizeof(v4mapped)) == 0) {
			b += sizeof(v4mapped);
			break;
		}
		for (int i = 15; i >= 0; i--) {
			tmp[o++] = hex[b[i] & 0xf];
			tmp[o++] = '.';
			tmp[o++] = hex[b[i] >> 4];
			tmp[o++] = '.';
		}
		memcpy(tmp + o, "ip6.arpa", sizeof("ip6.arpa"));
		o += sizeof("ip6.arpa") - 1;
		goto done;
	default:
		return 0;
	}
	for (int i = 3; i >= 0; i--) {
		unsigned v = b[i];
		if (v >= 100) {
			tmp[o++] = (char)('0' + v / 100);
		}
		if (v >= 10) {
			tmp[o++] = (char)('0' + v / 10 % 10);
		}
		tmp[o++] = (char)('0' + v % 10);
		tmp[o++] = '.';
	}
	memcpy(tmp + o, "in-addr.arpa", sizeof("in-addr.arpa"));
	o += sizeof("in-addr.arpa") - 1;
done:
	if (cap < o + 1) {
		return 0;
	}
	memcpy(out, tmp, o + 1);
	return o;
}

/* Find the CNAME owned by target among the first nan answers at off. */
static enum mp_status find_cname(const uint8_t *p, size_t n, size_t off, size_t nan,
				 const struct dns_name *target,
				 struct dns_name *next, uint32_t *ttl, bool *found)
{
	struct dns_name owner;
	struct dns_rr rr;

	*found = false;
	for (size_t i = 0; i < nan; i++) {
		if (rr_frame(p, n, &off, &rr, &owner) != MP_OK) {
			return MP_INVALID; /* framed once already: cannot happen */
		}
		if (rr.type == DNS_T_CNAME && rr.class == DNS_C_IN &&
		    name_eq(&owner, target)) {
			if (rdata_name(p, &rr, next) != MP_OK) {
				return MP_INVALID;
			}
			*ttl = rr.ttl;
			*found = true;
			return MP_OK;
		}
	}
	return MP_OK;
}

enum mp_status dns_parse_response(const uint8_t *p, size_t n, uint16_t want_id,
				  const char *want_name, uint16_t want_qtype,
				  struct dns_answer *out)
{
	struct dns_answer a;
	struct dns_name want, qname, target, owner, next;
	struct dns_rr rr;
	size_t off, an_off, nan = 0, counts[3];
	uint32_t ttl = UINT32_MAX, t;
	unsigned flags;
	bool tc, found, used = false;

	if (name_to_wire(want_name, &want) != MP_OK || n < DNS_HDR_LEN || n > DNS_MSG_MAX) {
		return MP_INVALID;
	}
	flags = rd16(p + 2);
	if (rd16(p) != want_id || !(flags & DNS_F_QR) || (flags & DNS_F_OPCODE) != 0 ||
	    rd16(p + 4) != 1) {
		return MP_INVALID;
	}
	tc = (flags & DNS_F_TC) != 0;
	counts[0] = rd16(p + 6);
	counts[1] = rd16(p + 8);
	counts[2] = rd16(p + 10);

	/* The question must be complete and ours, even in a truncated reply. */
	if (read_name(p, n, DNS_HDR_LEN, &qname, &off) != MP_OK ||
	    n - off < DNS_Q_FIXED || !name_eq(&qname, &want) ||
	    rd16(p + off) != want_qtype || rd16(p + off + 2) != DNS_C_IN) {
		return MP_INVALID;
	}
	off += DNS_Q_FIXED;
	an_off = off;

	/* Frame every record of every section. With TC set the packet may stop
	 * at any record boundary (RFC 2181 §9): keep what is complete. */
	for (int s = 0; s < 3; s++) {
		for (size_t i = 0; i < counts[s]; i++) {
			enum mp_status st = rr_frame(p, n, &off, &rr, &owner);
			if (st == MP_AGAIN && tc) {
				goto framed;
			}
			if (st != MP_OK) {
				return MP_INVALID;
			}
			if (s == 0) {
				if (rr_check(p, &rr) != MP_OK) {
					return MP_INVALID;
				}
				nan++;
			}
		}
	}
framed:
	memset(&a, 0, sizeof(a));
	a.rcode = (int)(flags & DNS_F_RCODE);
	a.truncated = tc;

	/* Follow the CNAME chain from the question name (RFC 1034 §3.6.2).
	 * Answers may come in any order, so each hop scans them all. */
	target = qname;
	for (unsigned hops = 0; want_qtype != DNS_T_CNAME; hops++) {
		if (find_cname(p, n, an_off, nan, &target, &next, &t, &found) != MP_OK) {
			return MP_INVALID;
		}
		if (!found) {
			break;
		}
		if (hops == DNS_CNAME_MAX) {
			return MP_INVALID;
		}
		ttl = MP_MIN(ttl, t);
		used = true;
		target = next;
	}

	off = an_off;
	for (size_t i = 0; i < nan; i++) {
		if (rr_frame(p, n, &off, &rr, &owner) != MP_OK) {
			return MP_INVALID;
		}
		if (rr.class != DNS_C_IN || rr.type != want_qtype ||
		    !name_eq(&owner, &target)) {
			continue;
		}
		switch (rr.type) {
		case DNS_T_A:
		case DNS_T_AAAA:
			/* rr_check() has fixed rdlen at 4 or 16 */
			if (a.naddrs == DNS_MAX_ADDRS) {
				continue;
			}
			memcpy(a.addrs[a.naddrs++], p + rr.rd, rr.rdlen);
			break;
		case DNS_T_PTR: {
			/* Every PTR for our name must be clean, not just the one used. */
			char host[DNS_NAME_MAX + 1];
			if (rdata_name(p, &rr, &next) != MP_OK) {
				return MP_INVALID;
			}
			if (wire_to_host(&next, host) != MP_OK) {
				/* a well-formed answer to our question whose name is not a
				 * host name (CVE-2026-28753): the answer stands, the name
				 * is never used. Anyone can publish such a PTR, so it must
				 * end the lookup (not look like spoofing to be waited out) */
				a.bad_ptr = true;
				continue;
			}
			if (a.ptr[0] != '\0' || a.bad_ptr) {
				continue;
			}
			memcpy(a.ptr, host, sizeof(host));
			break;
		}
		default:
			continue; /* a type we do not interpret: not "used" */
		}
		ttl = MP_MIN(ttl, rr.ttl);
		used = true;
	}
	a.ttl = used ? ttl : 0;
	if (a.bad_ptr) {
		/* one bad PTR taints them all: nothing of this answer is used */
		a.ptr[0] = '\0';
		a.ttl = 0;
	}
	*out = a;
	return MP_OK;
}
