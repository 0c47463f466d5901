/*
 * DNS codec tests. Packets are hand-built with the little writer below;
 * every row is parsed in place and through t_guarded() (an over-read
 * crashes), and every proper prefix of every complete packet without TC
 * must be MP_INVALID.
 */
#include "t.h"

#include "../../proto/dns_msg.h"

#include <arpa/inet.h>
#include <stdint.h>

#define ID 0x1234
#define QNAME "mail.example.com"
#define RESP 0x8180u /* QR, RD, RA */
#define F_TC 0x0200u
#define PKT_MAX 8192

#include "pkt.h"

/* Dotted name, uncompressed, root label appended unless nul == false
 * (then the caller appends a pointer). Any byte but '.' may sit in a label.
 * Returns the offset it was written at. */
static size_t plabels(struct pkt *k, const char *s, bool root)
{
	size_t at = k->n;
	while (*s != '\0') {
		const char *dot = strchr(s, '.');
		size_t l = dot ? (size_t)(dot - s) : strlen(s);
		p8(k, (unsigned)l);
		pbytes(k, s, l);
		s += l;
		if (*s == '.') {
			s++;
		}
	}
	if (root) {
		p8(k, 0);
	}
	return at;
}

static size_t pname(struct pkt *k, const char *s)
{
	return plabels(k, s, true);
}

static void pptr(struct pkt *k, size_t off)
{
	p16(k, 0xc000u | (unsigned)off);
}

static void phdr(struct pkt *k, unsigned id, unsigned flags, unsigned qd, unsigned an,
		 unsigned ns, unsigned ar)
{
	k->n = 0;
	p16(k, id);
	p16(k, flags);
	p16(k, qd);
	p16(k, an);
	p16(k, ns);
	p16(k, ar);
}

/* Header plus the question "QNAME type IN" at offset 12. */
static void pstart(struct pkt *k, unsigned flags, unsigned an, unsigned type)
{
	phdr(k, ID, flags, 1, an, 0, 0);
	pname(k, QNAME);
	p16(k, type);
	p16(k, DNS_C_IN);
}

/* Fixed part of an RR whose owner has just been written; returns where the
 * RDLENGTH sits so rr_end() can patch it. */
static size_t rr_fixed(struct pkt *k, unsigned type, unsigned class, uint32_t ttl)
{
	p16(k, type);
	p16(k, class);
	p32(k, ttl);
	size_t at = k->n;
	p16(k, 0);
	return at;
}

static void rr_end(struct pkt *k, size_t at)
{
	size_t l = k->n - at - 2;
	k->b[at] = (uint8_t)(l >> 8);
	k->b[at + 1] = (uint8_t)l;
}

/* RR owned by the name at owner_off (a pointer), with raw RDATA. */
static void rr_raw(struct pkt *k, size_t owner_off, unsigned type, uint32_t ttl,
		   const void *rd, size_t rdlen)
{
	pptr(k, owner_off);
	size_t at = rr_fixed(k, type, DNS_C_IN, ttl);
	pbytes(k, rd, rdlen);
	rr_end(k, at);
}

static void rr_a(struct pkt *k, size_t owner_off, uint32_t ttl, const char *ip)
{
	uint8_t b[16];
	if (strchr(ip, ':') != NULL) {
		inet_pton(AF_INET6, ip, b);
		rr_raw(k, owner_off, DNS_T_AAAA, ttl, b, 16);
	} else {
		inet_pton(AF_INET, ip, b);
		rr_raw(k, owner_off, DNS_T_A, ttl, b, 4);
	}
}

/* RR owned by owner_off whose RDATA is an uncompressed name; returns the
 * offset of that name. */
static size_t rr_name(struct pkt *k, size_t owner_off, unsigned type, uint32_t ttl,
		      const char *target)
{
	pptr(k, owner_off);
	size_t at = rr_fixed(k, type, DNS_C_IN, ttl);
	size_t name = pname(k, target);
	rr_end(k, at);
	return name;
}

/* ---- the packets ---- */

static void b_good_a(struct pkt *k, int arg)
{
	(void)arg;
	pstart(k, RESP, 2, DNS_T_A);
	rr_a(k, 12, 300, "192.0.2.1");
	rr_a(k, 12, 200, "192.0.2.2");
}

static void b_good_aaaa(struct pkt *k, int arg)
{
	(void)arg;
	pstart(k, RESP, 1, DNS_T_AAAA);
	rr_a(k, 12, 60, "2001:db8::1");
}

static void b_case(struct pkt *k, int arg)
{
	(void)arg;
	phdr(k, ID, RESP, 1, 1, 0, 0);
	pname(k, "MAIL.Example.COM");
	p16(k, DNS_T_A);
	p16(k, DNS_C_IN);
	rr_a(k, 12, 30, "192.0.2.9");
}

#define PTRQ "1.2.0.192.in-addr.arpa"

static void ptr_start(struct pkt *k, unsigned an)
{
	phdr(k, ID, RESP, 1, an, 0, 0);
	pname(k, PTRQ);
	p16(k, DNS_T_PTR);
	p16(k, DNS_C_IN);
}

static void b_good_ptr(struct pkt *k, int arg)
{
	(void)arg;
	ptr_start(k, 2);
	size_t t = rr_name(k, 12, DNS_T_PTR, 3600, "Host-1.example.net");
	/* second target compressed against the first: "b" + "example.net" */
	pptr(k, 12);
	size_t at = rr_fixed(k, DNS_T_PTR, DNS_C_IN, 7200);
	plabels(k, "b", false);
	pptr(k, t + 7);
	rr_end(k, at);
}

static void b_ptr_compressed(struct pkt *k, int arg)
{
	(void)arg;
	ptr_start(k, 1);
	pptr(k, 12);
	size_t at = rr_fixed(k, DNS_T_PTR, DNS_C_IN, 10);
	plabels(k, "x", false);
	pptr(k, 12 + 10); /* "in-addr.arpa" inside the question */
	rr_end(k, at);
}

/* arg selects the bad byte put into the PTR target's first label */
static void b_ptr_bad(struct pkt *k, int arg)
{
	ptr_start(k, 1);
	pptr(k, 12);
	size_t at = rr_fixed(k, DNS_T_PTR, DNS_C_IN, 10);
	p8(k, 9);
	pbytes(k, "evil", 4);
	p8(k, (unsigned)arg);
	pbytes(k, "name", 4);
	pname(k, "example");
	rr_end(k, at);
}

static void b_ptr_root(struct pkt *k, int arg)
{
	(void)arg;
	ptr_start(k, 1);
	pptr(k, 12);
	size_t at = rr_fixed(k, DNS_T_PTR, DNS_C_IN, 10);
	p8(k, 0);
	rr_end(k, at);
}

/* first PTR clean, second one for the same name not */
static void b_ptr_second_bad(struct pkt *k, int arg)
{
	(void)arg;
	ptr_start(k, 2);
	rr_name(k, 12, DNS_T_PTR, 10, "good.example");
	rr_name(k, 12, DNS_T_PTR, 10, "bad\r\nname.example");
}

/* PTR target with a label containing a '.' byte */
static void b_ptr_dot_in_label(struct pkt *k, int arg)
{
	(void)arg;
	ptr_start(k, 1);
	pptr(k, 12);
	size_t at = rr_fixed(k, DNS_T_PTR, DNS_C_IN, 10);
	p8(k, 5);
	pbytes(k, "a.b.c", 5);
	p8(k, 0);
	rr_end(k, at);
}

/* PTR whose RDLENGTH is one more than its name */
static void b_ptr_rdlen_long(struct pkt *k, int arg)
{
	(void)arg;
	ptr_start(k, 1);
	pptr(k, 12);
	size_t at = rr_fixed(k, DNS_T_PTR, DNS_C_IN, 10);
	pname(k, "host.example");
	p8(k, 0);
	rr_end(k, at);
}

/* PTR whose RDLENGTH cuts its name short (name runs into the next RR) */
static void b_ptr_rdlen_short(struct pkt *k, int arg)
{
	(void)arg;
	ptr_start(k, 1);
	pptr(k, 12);
	size_t at = rr_fixed(k, DNS_T_PTR, DNS_C_IN, 10);
	pname(k, "host.example");
	rr_end(k, at);
	k->b[at + 1] -= 3; /* the last 3 bytes become trailing garbage */
}

/* CNAME chain of arg links, in order, then the A record */
static void b_cname_chain(struct pkt *k, int arg)
{
	char name[32];
	pstart(k, RESP, (unsigned)arg + 1, DNS_T_A);
	size_t owner = 12;
	for (int i = 0; i < arg; i++) {
		snprintf(name, sizeof(name), "c%d.example.net", i);
		owner = rr_name(k, owner, DNS_T_CNAME, (uint32_t)(100 - i), name);
	}
	rr_a(k, owner, 500, "198.51.100.7");
}

/* A, then the chain backwards: the order of answers does not matter */
static void b_cname_unordered(struct pkt *k, int arg)
{
	(void)arg;
	pstart(k, RESP, 3, DNS_T_A);
	size_t b = pname(k, "b.example.net");
	size_t at = rr_fixed(k, DNS_T_A, DNS_C_IN, 300);
	pbytes(k, "\x09\x09\x09\x09", 4);
	rr_end(k, at);
	size_t a = pname(k, "a.example.net");
	at = rr_fixed(k, DNS_T_CNAME, DNS_C_IN, 50);
	pptr(k, b);
	rr_end(k, at);
	pptr(k, 12);
	at = rr_fixed(k, DNS_T_CNAME, DNS_C_IN, 100);
	pptr(k, a);
	rr_end(k, at);
}

static void b_cname_loop(struct pkt *k, int arg)
{
	(void)arg;
	pstart(k, RESP, 3, DNS_T_A);
	size_t a = rr_name(k, 12, DNS_T_CNAME, 10, "a.example.net");
	size_t b = rr_name(k, a, DNS_T_CNAME, 10, "b.example.net");
	rr_name(k, b, DNS_T_CNAME, 10, "a.example.net");
}

/* CNAME to a name, A records only for the original name: not used */
static void b_cname_stale(struct pkt *k, int arg)
{
	(void)arg;
	pstart(k, RESP, 2, DNS_T_A);
	rr_a(k, 12, 10, "192.0.2.66");
	rr_name(k, 12, DNS_T_CNAME, 10, "elsewhere.example.net");
}

static void b_nxdomain(struct pkt *k, int arg)
{
	(void)arg;
	phdr(k, ID, RESP | 3u, 1, 0, 1, 0);
	pname(k, QNAME);
	p16(k, DNS_T_A);
	p16(k, DNS_C_IN);
	/* SOA in the authority section: framed, not used */
	size_t zone = pname(k, "example.com");
	size_t at = rr_fixed(k, 6, DNS_C_IN, 900);
	plabels(k, "ns", false);
	pptr(k, zone);
	plabels(k, "hostmaster", false);
	pptr(k, zone);
	p32(k, 1);
	p32(k, 2);
	p32(k, 3);
	p32(k, 4);
	p32(k, 5);
	rr_end(k, at);
}

static void b_servfail(struct pkt *k, int arg)
{
	(void)arg;
	pstart(k, RESP | 2u, 0, DNS_T_A);
}

/* header variations: arg picks the defect */
static void b_header(struct pkt *k, int arg)
{
	b_good_a(k, 0);
	switch (arg) {
	case 0: /* wrong ID */
		k->b[1] ^= 1;
		break;
	case 1: /* QR = 0 */
		k->b[2] &= 0x7f;
		break;
	case 2: /* opcode 1 (IQUERY) */
		k->b[2] |= 0x08;
		break;
	case 3: /* QDCOUNT 0 */
		k->b[5] = 0;
		break;
	case 4: /* QDCOUNT 2 */
		k->b[5] = 2;
		break;
	case 5: /* truncated header */
		k->n = 11;
		break;
	case 6: /* wrong question type */
		k->b[12 + 18 + 1] = DNS_T_AAAA;
		break;
	case 7: /* wrong question class */
		k->b[12 + 18 + 3] = 3;
		break;
	case 8: /* wrong question name: one letter */
		k->b[13] = 'n';
		break;
	case 9: /* ANCOUNT beyond the records present */
		k->b[7] = 3;
		break;
	default:
		break;
	}
}

/* QNAME with "example.com" as one label holding a dot */
static void b_qname_dot_label(struct pkt *k, int arg)
{
	(void)arg;
	phdr(k, ID, RESP, 1, 0, 0, 0);
	p8(k, 4);
	pbytes(k, "mail", 4);
	p8(k, 11);
	pbytes(k, "example.com", 11);
	p8(k, 0);
	p16(k, DNS_T_A);
	p16(k, DNS_C_IN);
}

/* A record whose RDLENGTH runs past the end */
static void b_rdlen_past(struct pkt *k, int arg)
{
	pstart(k, RESP, 1, DNS_T_A);
	pptr(k, 12);
	rr_fixed(k, DNS_T_A, DNS_C_IN, 10);
	k->b[k->n - 2] = (uint8_t)(arg >> 8);
	k->b[k->n - 1] = (uint8_t)arg;
	pbytes(k, "\x01\x02", 2);
}

/* A (arg 0) or AAAA (arg 1) with the wrong RDLENGTH, all bytes present */
static void b_bad_addr_len(struct pkt *k, int arg)
{
	static const uint8_t z[17];
	pstart(k, RESP, 1, arg ? DNS_T_AAAA : DNS_T_A);
	rr_raw(k, 12, arg ? DNS_T_AAAA : DNS_T_A, 10, z, arg ? 4 : 5);
}

/* A with a bad RDLENGTH for another name still spoils the packet, but
 * in class CHAOS it is simply skipped */
static void b_bad_a_other(struct pkt *k, int arg)
{
	pstart(k, RESP, 2, DNS_T_A);
	pname(k, "other.example");
	size_t at = rr_fixed(k, DNS_T_A, arg ? 3 : DNS_C_IN, 10);
	pbytes(k, "\x01\x02\x03\x04\x05", 5);
	rr_end(k, at);
	rr_a(k, 12, 10, "192.0.2.1");
}

/* answer owner name: arg picks the compression defect */
static void b_compress(struct pkt *k, int arg)
{
	pstart(k, RESP, 1, DNS_T_A);
	size_t here = k->n;
	switch (arg) {
	case 0: /* pointer to itself */
		pptr(k, here);
		break;
	case 1: /* forward pointer */
		pptr(k, here + 2);
		break;
	case 2: /* into the header */
		pptr(k, 4);
		break;
	case 3: /* labels, then a pointer back to their own start */
		plabels(k, "abc", false);
		pptr(k, here);
		break;
	case 4: /* pointer past the end of the packet */
		pptr(k, 0x3fff);
		break;
	case 5: /* extended label type 01 (a "length" of 64) */
		p8(k, 0x40);
		break;
	case 6: /* label type 10 */
		p8(k, 0x80);
		break;
	case 7: /* pointer into its own label data: ends, but no compressor
		 * ever writes that; only the "before the run" rule stops it */
		p8(k, 5);
		pbytes(k, "\x01z\x00xx", 5);
		pptr(k, here + 1);
		break;
	default:
		break;
	}
	rr_fixed(k, DNS_T_A, DNS_C_IN, 10);
	k->b[k->n - 1] = 4;
	pbytes(k, "\x01\x02\x03\x04", 4);
}

/* Two pointers to each other: an unrelated RR's owner points forward to
 * the second, which points back to the first. */
static void b_ptr_pair(struct pkt *k, int arg)
{
	(void)arg;
	pstart(k, RESP, 2, DNS_T_A);
	size_t first = k->n;
	pptr(k, first + 2 + 10 + 4);
	rr_fixed(k, DNS_T_A, DNS_C_IN, 10);
	k->b[k->n - 1] = 4;
	pbytes(k, "\x01\x02\x03\x04", 4);
	pptr(k, first);
	rr_fixed(k, DNS_T_A, DNS_C_IN, 10);
	k->b[k->n - 1] = 4;
	pbytes(k, "\x01\x02\x03\x04", 4);
}

/* unrelated owner name of exactly arg wire bytes, built from 63-byte
 * labels; arg >= 256 also through compression when arg is odd */
static void b_long_owner(struct pkt *k, int arg)
{
	char lab[64];
	size_t want = (size_t)arg, len = 1; /* root */
	pstart(k, RESP, 2, DNS_T_A);
	memset(lab, 'x', sizeof(lab));
	while (len < want) {
		size_t l = MP_MIN((size_t)63, want - len - 1);
		if (l == 0) {
			break;
		}
		p8(k, (unsigned)l);
		pbytes(k, lab, l);
		len += 1 + l;
	}
	p8(k, 0);
	size_t at = rr_fixed(k, DNS_T_A, DNS_C_IN, 10);
	pbytes(k, "\x01\x02\x03\x04", 4);
	rr_end(k, at);
	rr_a(k, 12, 10, "192.0.2.1");
}

/* 256 bytes reached only by prefixing the question's name (18 bytes) */
static void b_long_compressed(struct pkt *k, int arg)
{
	char lab[64];
	pstart(k, RESP, 1, DNS_T_A);
	memset(lab, 'y', sizeof(lab));
	/* 3 x 64 + (1 + arg) + 18 = 211 + arg wire bytes */
	for (int i = 0; i < 3; i++) {
		p8(k, 63);
		pbytes(k, lab, 63);
	}
	p8(k, (unsigned)arg);
	pbytes(k, lab, (size_t)arg);
	pptr(k, 12);
	size_t at = rr_fixed(k, DNS_T_A, DNS_C_IN, 10);
	pbytes(k, "\x01\x02\x03\x04", 4);
	rr_end(k, at);
}

/* arg records; record i's owner is a pointer to record i-1's owner, and
 * the first one's to the question, so the last owner takes arg jumps. */
static void b_jumps(struct pkt *k, int arg)
{
	pstart(k, RESP, (unsigned)arg, DNS_T_A);
	size_t prev = 12;
	for (int i = 0; i < arg; i++) {
		size_t here = k->n;
		pptr(k, prev);
		size_t at = rr_fixed(k, 16, DNS_C_IN, 10); /* TXT */
		p8(k, 0);
		rr_end(k, at);
		prev = here;
	}
}

static void b_tc(struct pkt *k, int arg)
{
	(void)arg;
	pstart(k, RESP | F_TC, 3, DNS_T_A);
	rr_a(k, 12, 100, "192.0.2.1");
	rr_a(k, 12, 100, "192.0.2.2");
	k->n -= 2; /* second record cut; third never sent */
}

static void b_many(struct pkt *k, int arg)
{
	char ip[32];
	pstart(k, RESP, (unsigned)arg, DNS_T_A);
	for (int i = 0; i < arg; i++) {
		snprintf(ip, sizeof(ip), "192.0.2.%d", 10 + i);
		rr_a(k, 12, (uint32_t)(1000 - i), ip);
	}
}

static void b_other_name(struct pkt *k, int arg)
{
	(void)arg;
	pstart(k, RESP, 2, DNS_T_A);
	size_t o = pname(k, "other.example.com");
	size_t at = rr_fixed(k, DNS_T_A, DNS_C_IN, 10);
	pbytes(k, "\x0a\x00\x00\x01", 4);
	rr_end(k, at);
	rr_a(k, o, 10, "10.0.0.2");
}

/* A record for our name in the additional section only */
static void b_additional(struct pkt *k, int arg)
{
	(void)arg;
	phdr(k, ID, RESP, 1, 0, 0, 1);
	pname(k, QNAME);
	p16(k, DNS_T_A);
	p16(k, DNS_C_IN);
	rr_a(k, 12, 10, "192.0.2.1");
}

/* unknown types and an OPT pseudo-RR around the one A */
static void b_unknown(struct pkt *k, int arg)
{
	(void)arg;
	phdr(k, ID, RESP, 1, 3, 0, 1);
	pname(k, QNAME);
	p16(k, DNS_T_A);
	p16(k, DNS_C_IN);
	rr_raw(k, 12, 16, 10, "\x05hello", 6);
	rr_raw(k, 12, 46, 10, "\xff\xfe\xfd", 3);
	rr_a(k, 12, 77, "192.0.2.5");
	p8(k, 0); /* OPT, owner root */
	size_t at = rr_fixed(k, 41, 1232, 0);
	rr_end(k, at);
}

/* TTL with the top bit set counts as 0 (RFC 2181 §8) */
static void b_ttl_topbit(struct pkt *k, int arg)
{
	(void)arg;
	pstart(k, RESP, 1, DNS_T_A);
	rr_a(k, 12, 0x80000001u, "192.0.2.1");
}

/* trailing bytes after the last section are ignored */
static void b_trailing(struct pkt *k, int arg)
{
	b_good_a(k, arg);
	pbytes(k, "\0\0\0", 3);
}

/* Rows with a bad PTR name are MP_OK answers with bad_ptr set and no name:
 * the lookup must end at once (NOTFOUND), not wait out the timeout as it
 * would for a spoofed datagram. */
struct drow {
	const char *name;
	void (*build)(struct pkt *k, int arg);
	int arg;
	const char *qname;
	uint16_t qtype;
	enum mp_status want;
	int rcode;
	bool tc;
	size_t naddrs;
	const char *addr0; /* text of addrs[0] */
	const char *ptr;
	uint32_t ttl;
};

static const struct drow drows[] = {
	{ "good A", b_good_a, 0, QNAME, DNS_T_A, MP_OK, 0, false, 2, "192.0.2.1", "", 200 },
	{ "trailing dot", b_good_a, 0, QNAME ".", DNS_T_A, MP_OK, 0, false, 2, "192.0.2.1", "", 200 },
	{ "good AAAA", b_good_aaaa, 0, QNAME, DNS_T_AAAA, MP_OK, 0, false, 1, "2001:db8::1", "", 60 },
	{ "case-insensitive", b_case, 0, "mail.EXAMPLE.com", DNS_T_A, MP_OK, 0, false, 1, "192.0.2.9", "", 30 },
	{ "good PTR", b_good_ptr, 0, PTRQ, DNS_T_PTR, MP_OK, 0, false, 0, "", "Host-1.example.net", 3600 },
	{ "PTR compressed", b_ptr_compressed, 0, PTRQ, DNS_T_PTR, MP_OK, 0, false, 0, "", "x.in-addr.arpa", 10 },
	{ "PTR space", b_ptr_bad, ' ', PTRQ, DNS_T_PTR, MP_OK, 0, false, 0, "", "", 0 },
	{ "PTR CR", b_ptr_bad, '\r', PTRQ, DNS_T_PTR, MP_OK, 0, false, 0, "", "", 0 },
	{ "PTR LF", b_ptr_bad, '\n', PTRQ, DNS_T_PTR, MP_OK, 0, false, 0, "", "", 0 },
	{ "PTR [", b_ptr_bad, '[', PTRQ, DNS_T_PTR, MP_OK, 0, false, 0, "", "", 0 },
	{ "PTR _", b_ptr_bad, '_', PTRQ, DNS_T_PTR, MP_OK, 0, false, 0, "", "", 0 },
	{ "PTR NUL", b_ptr_bad, '\0', PTRQ, DNS_T_PTR, MP_OK, 0, false, 0, "", "", 0 },
	{ "PTR 8-bit", b_ptr_bad, 0xc3, PTRQ, DNS_T_PTR, MP_OK, 0, false, 0, "", "", 0 },
	{ "PTR root", b_ptr_root, 0, PTRQ, DNS_T_PTR, MP_OK, 0, false, 0, "", "", 0 },
	{ "PTR second bad", b_ptr_second_bad, 0, PTRQ, DNS_T_PTR, MP_OK, 0, false, 0, "", "", 0 },
	{ "PTR dot in label", b_ptr_dot_in_label, 0, PTRQ, DNS_T_PTR, MP_OK, 0, false, 0, "", "", 0 },
	{ "PTR rdlen long", b_ptr_rdlen_long, 0, PTRQ, DNS_T_PTR, MP_INVALID, 0, false, 0, "", "", 0 },
	{ "PTR rdlen short", b_ptr_rdlen_short, 0, PTRQ, DNS_T_PTR, MP_INVALID, 0, false, 0, "", "", 0 },
	{ "PTR answer to A query", b_good_ptr, 0, PTRQ, DNS_T_A, MP_INVALID, 0, false, 0, "", "", 0 },
	{ "CNAME chain 1", b_cname_chain, 1, QNAME, DNS_T_A, MP_OK, 0, false, 1, "198.51.100.7", "", 100 },
	{ "CNAME chain 7", b_cname_chain, DNS_CNAME_MAX - 1, QNAME, DNS_T_A, MP_OK, 0, false, 1, "198.51.100.7", "", 100 - (DNS_CNAME_MAX - 2) },
	{ "CNAME chain max", b_cname_chain, DNS_CNAME_MAX, QNAME, DNS_T_A, MP_OK, 0, false, 1, "198.51.100.7", "", 100 - (DNS_CNAME_MAX - 1) },
	{ "CNAME chain max+1", b_cname_chain, DNS_CNAME_MAX + 1, QNAME, DNS_T_A, MP_INVALID, 0, false, 0, "", "", 0 },
	{ "CNAME unordered", b_cname_unordered, 0, QNAME, DNS_T_A, MP_OK, 0, false, 1, "9.9.9.9", "", 50 },
	{ "CNAME loop", b_cname_loop, 0, QNAME, DNS_T_A, MP_INVALID, 0, false, 0, "", "", 0 },
	{ "CNAME away from A", b_cname_stale, 0, QNAME, DNS_T_A, MP_OK, 0, false, 0, "", "", 10 },
	{ "NXDOMAIN", b_nxdomain, 0, QNAME, DNS_T_A, MP_OK, 3, false, 0, "", "", 0 },
	{ "SERVFAIL", b_servfail, 0, QNAME, DNS_T_A, MP_OK, 2, false, 0, "", "", 0 },
	{ "wrong ID", b_header, 0, QNAME, DNS_T_A, MP_INVALID, 0, false, 0, "", "", 0 },
	{ "QR=0", b_header, 1, QNAME, DNS_T_A, MP_INVALID, 0, false, 0, "", "", 0 },
	{ "opcode 1", b_header, 2, QNAME, DNS_T_A, MP_INVALID, 0, false, 0, "", "", 0 },
	{ "QDCOUNT 0", b_header, 3, QNAME, DNS_T_A, MP_INVALID, 0, false, 0, "", "", 0 },
	{ "QDCOUNT 2", b_header, 4, QNAME, DNS_T_A, MP_INVALID, 0, false, 0, "", "", 0 },
	{ "truncated header", b_header, 5, QNAME, DNS_T_A, MP_INVALID, 0, false, 0, "", "", 0 },
	{ "wrong qtype", b_header, 6, QNAME, DNS_T_A, MP_INVALID, 0, false, 0, "", "", 0 },
	{ "wrong qclass", b_header, 7, QNAME, DNS_T_A, MP_INVALID, 0, false, 0, "", "", 0 },
	{ "wrong qname", b_header, 8, QNAME, DNS_T_A, MP_INVALID, 0, false, 0, "", "", 0 },
	{ "ANCOUNT too big", b_header, 9, QNAME, DNS_T_A, MP_INVALID, 0, false, 0, "", "", 0 },
	{ "asked another name", b_good_a, 0, "mail.example.org", DNS_T_A, MP_INVALID, 0, false, 0, "", "", 0 },
	{ "asked another type", b_good_a, 0, QNAME, DNS_T_AAAA, MP_INVALID, 0, false, 0, "", "", 0 },
	{ "label with a dot", b_qname_dot_label, 0, QNAME, DNS_T_A, MP_INVALID, 0, false, 0, "", "", 0 },
	{ "RDLENGTH past end", b_rdlen_past, 4, QNAME, DNS_T_A, MP_INVALID, 0, false, 0, "", "", 0 },
	{ "RDLENGTH 0xffff", b_rdlen_past, 0xffff, QNAME, DNS_T_A, MP_INVALID, 0, false, 0, "", "", 0 },
	{ "A rdlen 5", b_bad_addr_len, 0, QNAME, DNS_T_A, MP_INVALID, 0, false, 0, "", "", 0 },
	{ "AAAA rdlen 4", b_bad_addr_len, 1, QNAME, DNS_T_AAAA, MP_INVALID, 0, false, 0, "", "", 0 },
	{ "bad A, other name", b_bad_a_other, 0, QNAME, DNS_T_A, MP_INVALID, 0, false, 0, "", "", 0 },
	{ "bad A, class CH", b_bad_a_other, 1, QNAME, DNS_T_A, MP_OK, 0, false, 1, "192.0.2.1", "", 10 },
	{ "pointer to itself", b_compress, 0, QNAME, DNS_T_A, MP_INVALID, 0, false, 0, "", "", 0 },
	{ "forward pointer", b_compress, 1, QNAME, DNS_T_A, MP_INVALID, 0, false, 0, "", "", 0 },
	{ "pointer into header", b_compress, 2, QNAME, DNS_T_A, MP_INVALID, 0, false, 0, "", "", 0 },
	{ "pointer to own run", b_compress, 3, QNAME, DNS_T_A, MP_INVALID, 0, false, 0, "", "", 0 },
	{ "pointer past end", b_compress, 4, QNAME, DNS_T_A, MP_INVALID, 0, false, 0, "", "", 0 },
	{ "pointer into own label", b_compress, 7, QNAME, DNS_T_A, MP_INVALID, 0, false, 0, "", "", 0 },
	{ "label of 64 (type 01)", b_compress, 5, QNAME, DNS_T_A, MP_INVALID, 0, false, 0, "", "", 0 },
	{ "label type 10", b_compress, 6, QNAME, DNS_T_A, MP_INVALID, 0, false, 0, "", "", 0 },
	{ "two pointers to each other", b_ptr_pair, 0, QNAME, DNS_T_A, MP_INVALID, 0, false, 0, "", "", 0 },
	{ "owner 254 bytes", b_long_owner, 254, QNAME, DNS_T_A, MP_OK, 0, false, 1, "192.0.2.1", "", 10 },
	{ "owner 255 bytes", b_long_owner, 255, QNAME, DNS_T_A, MP_OK, 0, false, 1, "192.0.2.1", "", 10 },
	{ "owner 256 bytes", b_long_owner, 256, QNAME, DNS_T_A, MP_INVALID, 0, false, 0, "", "", 0 },
	{ "compressed 255 bytes", b_long_compressed, 44, QNAME, DNS_T_A, MP_OK, 0, false, 0, "", "", 0 },
	{ "compressed 256 bytes", b_long_compressed, 45, QNAME, DNS_T_A, MP_INVALID, 0, false, 0, "", "", 0 },
	{ "jumps max-1", b_jumps, DNS_PTR_JUMPS_MAX - 1, QNAME, DNS_T_A, MP_OK, 0, false, 0, "", "", 0 },
	{ "jumps max", b_jumps, DNS_PTR_JUMPS_MAX, QNAME, DNS_T_A, MP_OK, 0, false, 0, "", "", 0 },
	{ "jumps max+1", b_jumps, DNS_PTR_JUMPS_MAX + 1, QNAME, DNS_T_A, MP_INVALID, 0, false, 0, "", "", 0 },
	{ "TC bit", b_tc, 0, QNAME, DNS_T_A, MP_OK, 0, true, 1, "192.0.2.1", "", 100 },
	{ "answers max-1", b_many, DNS_MAX_ADDRS - 1, QNAME, DNS_T_A, MP_OK, 0, false, DNS_MAX_ADDRS - 1, "192.0.2.10", "", 1000 - (DNS_MAX_ADDRS - 2) },
	{ "answers max", b_many, DNS_MAX_ADDRS, QNAME, DNS_T_A, MP_OK, 0, false, DNS_MAX_ADDRS, "192.0.2.10", "", 1000 - (DNS_MAX_ADDRS - 1) },
	{ "answers max+3", b_many, DNS_MAX_ADDRS + 3, QNAME, DNS_T_A, MP_OK, 0, false, DNS_MAX_ADDRS, "192.0.2.10", "", 1000 - (DNS_MAX_ADDRS - 1) },
	{ "answers for another name", b_other_name, 0, QNAME, DNS_T_A, MP_OK, 0, false, 0, "", "", 0 },
	{ "A in additional only", b_additional, 0, QNAME, DNS_T_A, MP_OK, 0, false, 0, "", "", 0 },
	{ "unknown types skipped", b_unknown, 0, QNAME, DNS_T_A, MP_OK, 0, false, 1, "192.0.2.5", "", 77 },
	{ "TTL top bit", b_ttl_topbit, 0, QNAME, DNS_T_A, MP_OK, 0, false, 1, "192.0.2.1", "", 0 },
	{ "trailing bytes", b_trailing, 0, QNAME, DNS_T_A, MP_OK, 0, false, 2, "192.0.2.1", "", 200 },
};

#define ROW_CHECK(r, cond)                                               \
	do {                                                             \
		if (!(cond)) {                                           \
			char m_[256];                                    \
			snprintf(m_, sizeof(m_), "[%s] %s", (r)->name, #cond); \
			t_fail(__FILE__, __LINE__, m_);                  \
		}                                                        \
	} while (0)

static enum mp_status parse(const struct drow *r, const uint8_t *p, size_t n,
			    struct dns_answer *a)
{
	return dns_parse_response(p, n, ID, r->qname, r->qtype, a);
}

TEST(dns_parse_table)
{
	static struct pkt k;
	struct dns_answer a, pristine;
	char txt[64];

	memset(&pristine, 0xa5, sizeof(pristine));
	for (size_t i = 0; i < MP_ARRAY_LEN(drows); i++) {
		const struct drow *r = &drows[i];
		memset(&k, 0, sizeof(k));
		r->build(&k, r->arg);
		ROW_CHECK(r, k.n < PKT_MAX);

		a = pristine;
		enum mp_status st = parse(r, k.b, k.n, &a);
		ROW_CHECK(r, st == r->want);
		if (st == MP_OK && r->want == MP_OK) {
			ROW_CHECK(r, a.rcode == r->rcode);
			ROW_CHECK(r, a.truncated == r->tc);
			ROW_CHECK(r, a.naddrs == r->naddrs);
			ROW_CHECK(r, strcmp(a.ptr, r->ptr) == 0);
			ROW_CHECK(r, a.ttl == r->ttl);
			if (a.naddrs > 0) {
				inet_ntop(r->qtype == DNS_T_AAAA ? AF_INET6 : AF_INET,
					  a.addrs[0], txt, sizeof(txt));
				ROW_CHECK(r, strcmp(txt, r->addr0) == 0);
			}
		} else {
			/* publish only on success */
			ROW_CHECK(r, memcmp(&a, &pristine, sizeof(a)) == 0);
		}

		/* the same bytes right before an unreadable page */
		a = pristine;
		ROW_CHECK(r, parse(r, (const uint8_t *)t_guarded(k.b, k.n), k.n, &a) == st);

		/* every proper prefix: never a crash; without TC never accepted */
		for (size_t cut = 0; cut < k.n; cut++) {
			const uint8_t *g = (const uint8_t *)t_guarded(k.b, cut);
			enum mp_status cs = parse(r, g, cut, &a);
			if (r->want == MP_OK && !r->tc && r->build != b_trailing) {
				ROW_CHECK(r, cs == MP_INVALID);
			}
		}
	}
}

/* Trailing bytes are ignored, so only cuts into the real packet fail. */
TEST(dns_parse_trailing_cuts)
{
	static struct pkt k;
	struct dns_answer a;
	b_good_a(&k, 0);
	size_t real = k.n;
	pbytes(&k, "\0\0\0", 3);
	for (size_t cut = 0; cut < k.n; cut++) {
		enum mp_status st = dns_parse_response((const uint8_t *)t_guarded(k.b, cut), cut,
						       ID, QNAME, DNS_T_A, &a);
		CHECK_INT(st, cut < real ? MP_INVALID : MP_OK);
	}
}

/* DNS_MSG_MAX - 1, DNS_MSG_MAX, DNS_MSG_MAX + 1 bytes (padding after the
 * last section is ignored, so only the size decides). */
TEST(dns_parse_msg_max)
{
	static struct pkt k;
	struct dns_answer a;
	for (size_t total = DNS_MSG_MAX - 1; total <= DNS_MSG_MAX + 1; total++) {
		b_good_a(&k, 0);
		while (k.n < total) {
			p8(&k, 0);
		}
		enum mp_status st = dns_parse_response((const uint8_t *)t_guarded(k.b, k.n), k.n,
						       ID, QNAME, DNS_T_A, &a);
		CHECK_INT(st, total <= DNS_MSG_MAX ? MP_OK : MP_INVALID);
	}
}

/* A truncated (TC) reply keeps only whole records; cuts inside the header
 * or question are still refused. */
TEST(dns_parse_tc_cuts)
{
	static struct pkt k;
	struct dns_answer a;
	pstart(&k, RESP | F_TC, 3, DNS_T_A);
	size_t qend = k.n;
	rr_a(&k, 12, 100, "192.0.2.1");
	size_t one = k.n;
	rr_a(&k, 12, 100, "192.0.2.2");
	for (size_t cut = 0; cut <= k.n; cut++) {
		enum mp_status st = dns_parse_response((const uint8_t *)t_guarded(k.b, cut), cut,
						       ID, QNAME, DNS_T_A, &a);
		if (cut < qend) {
			CHECK_INT(st, MP_INVALID);
			continue;
		}
		CHECK_INT(st, MP_OK);
		CHECK(a.truncated);
		CHECK_INT(a.naddrs, cut < one ? 0 : cut < k.n ? 1 : 2);
	}
}

/* An answer to our own query, built by dns_build_query(). */
TEST(dns_build_then_parse)
{
	static struct pkt k;
	struct dns_answer a;
	size_t len = 0;

	CHECK_INT(dns_build_query(0xbeef, "Mail.Example.com.", DNS_T_A, k.b, sizeof(k.b), &len), MP_OK);
	k.n = len;
	/* a query is not a response */
	CHECK_INT(dns_parse_response(k.b, k.n, 0xbeef, QNAME, DNS_T_A, &a), MP_INVALID);
	k.b[2] |= 0x80;
	k.b[7] = 1;
	rr_a(&k, 12, 5, "203.0.113.5");
	CHECK_INT(dns_parse_response(k.b, k.n, 0xbeef, QNAME, DNS_T_A, &a), MP_OK);
	CHECK_INT(a.naddrs, 1);
	CHECK_INT(a.ttl, 5);
	CHECK_INT(a.addrs[0][0], 203);
}

TEST(dns_build_query_bytes)
{
	static const uint8_t want[] = {
		0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
		4, 'm', 'a', 'i', 'l', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0,
		0, 28, 0, 1,
	};
	uint8_t out[DNS_QUERY_MAX], pristine[DNS_QUERY_MAX];
	size_t len = 0;

	CHECK_INT(dns_build_query(0xabcd, QNAME, DNS_T_AAAA, out, sizeof(out), &len), MP_OK);
	CHECK_INT(len, sizeof(want));
	CHECK(memcmp(out, want, sizeof(want)) == 0);
	CHECK_INT(dns_build_query(0xabcd, QNAME ".", DNS_T_AAAA, out, sizeof(out), &len), MP_OK);
	CHECK(len == sizeof(want) && memcmp(out, want, sizeof(want)) == 0);
	/* cap: exact fits, one less does not and leaves out alone */
	CHECK_INT(dns_build_query(0xabcd, QNAME, DNS_T_AAAA, out, sizeof(want), &len), MP_OK);
	memset(out, 0x5a, sizeof(out));
	memcpy(pristine, out, sizeof(out));
	CHECK_INT(dns_build_query(0xabcd, QNAME, DNS_T_AAAA, out, sizeof(want) - 1, &len), MP_TOOLONG);
	CHECK(memcmp(out, pristine, sizeof(out)) == 0);
}

/* name of n wire bytes, labels of 63 then the rest (n >= 3) */
static void wire_sized_name(char *s, size_t n)
{
	size_t len = 1, o = 0;
	while (len < n) {
		size_t l = MP_MIN((size_t)63, n - len - 1);
		if (o != 0) {
			s[o++] = '.';
		}
		memset(s + o, 'a', l);
		o += l;
		len += l + 1;
	}
	s[o] = '\0';
}

TEST(dns_build_query_names)
{
	static const struct {
		const char *name;
		enum mp_status want;
	} rows[] = {
		{ "a", MP_OK },
		{ "a.", MP_OK },
		{ "_imaps._tcp.example.com", MP_OK },
		{ "x-1.EXAMPLE.com", MP_OK },
		{ "", MP_INVALID },
		{ ".", MP_INVALID },
		{ ".a", MP_INVALID },
		{ "a..b", MP_INVALID },
		{ "a.b..", MP_INVALID },
		{ "a b", MP_INVALID },
		{ "a\rb", MP_INVALID },
		{ "a\\.b", MP_INVALID },
		{ "[1.2.3.4]", MP_INVALID },
		{ "caf\xc3\xa9.example", MP_INVALID },
	};
	uint8_t out[DNS_QUERY_MAX];
	size_t len;
	char name[400];

	for (size_t i = 0; i < MP_ARRAY_LEN(rows); i++) {
		enum mp_status st = dns_build_query(1, rows[i].name, DNS_T_A, out, sizeof(out), &len);
		if (st != rows[i].want) {
			t_fail(__FILE__, __LINE__, rows[i].name);
		}
	}
	CHECK_INT(dns_build_query(1, NULL, DNS_T_A, out, sizeof(out), &len), MP_INVALID);

	/* label 62, 63, 64 */
	for (size_t l = 62; l <= 64; l++) {
		memset(name, 'b', l);
		strcpy(name + l, ".example");
		CHECK_INT(dns_build_query(1, name, DNS_T_A, out, sizeof(out), &len),
			  l <= 63 ? MP_OK : MP_INVALID);
	}
	/* name of 254, 255, 256 wire bytes */
	for (size_t n = 254; n <= 256; n++) {
		wire_sized_name(name, n);
		CHECK_INT(dns_build_query(1, name, DNS_T_A, out, sizeof(out), &len),
			  n <= 255 ? MP_OK : MP_INVALID);
		if (n == 255) {
			CHECK_INT(len, DNS_QUERY_MAX);
			/* with the trailing dot too */
			strcat(name, ".");
			CHECK_INT(dns_build_query(1, name, DNS_T_A, out, sizeof(out), &len), MP_OK);
		}
	}
	/* a very long string is refused without reading all of it */
	memset(name, 'c', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	CHECK_INT(dns_build_query(1, name, DNS_T_A, out, sizeof(out), &len), MP_INVALID);
}

/* A question of exactly 255 wire bytes is accepted back. */
TEST(dns_parse_longest_question)
{
	static struct pkt k;
	struct dns_answer a;
	char name[300];
	size_t len;

	wire_sized_name(name, 255);
	CHECK_INT(dns_build_query(7, name, DNS_T_A, k.b, sizeof(k.b), &len), MP_OK);
	k.n = len;
	k.b[2] |= 0x80;
	k.b[7] = 1;
	rr_a(&k, 12, 9, "192.0.2.3");
	CHECK_INT(dns_parse_response((const uint8_t *)t_guarded(k.b, k.n), k.n, 7, name,
				     DNS_T_A, &a), MP_OK);
	CHECK_INT(a.naddrs, 1);
}

static void ptr_case(const char *ip, const char *want)
{
	struct mp_addr a;
	char out[DNS_PTR_NAME_MAX];
	uint8_t q[DNS_QUERY_MAX];
	size_t qlen;

	CHECK_INT(net_parse_ip(ip, strlen(ip), &a), MP_OK);
	size_t n = dns_ptr_name(&a, out, sizeof(out));
	CHECK_INT(n, strlen(want));
	CHECK_STR(out, want);
	/* exact cap works, one less fails */
	CHECK_INT(dns_ptr_name(&a, out, n + 1), n);
	CHECK_INT(dns_ptr_name(&a, out, n), 0);
	/* and it is a name we can ask for */
	CHECK_INT(dns_build_query(1, want, DNS_T_PTR, q, sizeof(q), &qlen), MP_OK);
}

TEST(dns_ptr_names)
{
	ptr_case("127.0.0.21", "21.0.0.127.in-addr.arpa");
	ptr_case("0.0.0.0", "0.0.0.0.in-addr.arpa");
	ptr_case("255.10.1.100", "100.1.10.255.in-addr.arpa");
	ptr_case("2001:db8::567:89ab",
		 "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
	ptr_case("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
		 "f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.ip6.arpa");
	ptr_case("::ffff:192.0.2.1", "1.2.0.192.in-addr.arpa");
	ptr_case("::1", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa");

	struct mp_addr u;
	char out[DNS_PTR_NAME_MAX];
	CHECK_INT(net_parse_addr_port("unix:/tmp/s", 11, &u), MP_OK);
	CHECK_INT(dns_ptr_name(&u, out, sizeof(out)), 0);
	memset(&u, 0, sizeof(u));
	CHECK_INT(dns_ptr_name(&u, out, sizeof(out)), 0);
}
