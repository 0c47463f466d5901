/*
 * PROXY protocol codec tests. Every row is parsed whole, through
 * t_guarded(), and as every proper prefix (the bytes dripping in one at a
 * time): a good header must be MP_AGAIN until it is complete, and a bad
 * one must never be accepted — and must be refused by its `early` byte
 * when that is set.
 */
#include "t.h"

#include "../../proto/proxy_proto.h"

#include <arpa/inet.h>

#define V2SIG "\r\n\r\n\0\r\nQUIT\n"
#define V2SIG_LEN 12
#define V2_IP4 "\x01\x02\x03\x04" "\x05\x06\x07\x08" "\x04\x57" "\x08\xae"
#define V2_IP6 "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01" \
	       "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01" "\x01\xbb" "\x00\x8f"

struct prow {
	const char *name;
	const char *in;
	size_t n;
	enum mp_status want;
	size_t len;        /* bytes consumed when MP_OK */
	int version;
	bool local;
	const char *src;   /* net_addr_text(), "" when local */
	const char *dst;
	size_t early;      /* failing rows: this many bytes already decide */
};

#define R(name, lit, ...) { name, lit, sizeof(lit) - 1, __VA_ARGS__ }
#define OK1(name, lit, len, src, dst) R(name, lit, MP_OK, len, 1, false, src, dst, 0)
#define OK2(name, lit, len, src, dst) R(name, lit, MP_OK, len, 2, false, src, dst, 0)
#define LOCAL(name, lit, ver, len) R(name, lit, MP_OK, len, ver, true, "", "", 0)
#define BAD(name, lit, early) R(name, lit, MP_INVALID, 0, 0, false, "", "", early)

#define TCP4 "PROXY TCP4 1.2.3.4 5.6.7.8 1111 2222\r\n"

static const struct prow prows[] = {
	/* v1 */
	OK1("v1 TCP4", TCP4, 38, "1.2.3.4:1111", "5.6.7.8:2222"),
	OK1("v1 TCP4 + data", TCP4 "A1 LOGIN a b\r\n", 38, "1.2.3.4:1111", "5.6.7.8:2222"),
	OK1("v1 TCP6", "PROXY TCP6 2001:db8::1 ::1 65535 0\r\n", 36,
	    "[2001:db8::1]:65535", "[::1]:0"),
	OK1("v1 TCP6 v4-mapped", "PROXY TCP6 ::ffff:1.2.3.4 ::1 1 2\r\n", 35,
	    "[::ffff:1.2.3.4]:1", "[::1]:2"),
	LOCAL("v1 UNKNOWN", "PROXY UNKNOWN\r\n", 1, 15),
	LOCAL("v1 UNKNOWN with addresses", "PROXY UNKNOWN 1.2.3.4 5.6.7.8 1 2\r\n", 1, 35),
	LOCAL("v1 UNKNOWN + space", "PROXY UNKNOWN \r\n", 1, 16),
	BAD("v1 UNKNOWNX", "PROXY UNKNOWNX\r\n", 0),
	BAD("v1 no protocol", "PROXY \r\n", 0),
	BAD("v1 lowercase", "PROXY tcp4 1.2.3.4 5.6.7.8 1111 2222\r\n", 0),
	BAD("v1 TCP5", "PROXY TCP5 1.2.3.4 5.6.7.8 1111 2222\r\n", 0),
	BAD("v1 double space 1", "PROXY  TCP4 1.2.3.4 5.6.7.8 1111 2222\r\n", 0),
	BAD("v1 double space 2", "PROXY TCP4 1.2.3.4  5.6.7.8 1111 2222\r\n", 0),
	BAD("v1 trailing space", "PROXY TCP4 1.2.3.4 5.6.7.8 1111 2222 \r\n", 0),
	BAD("v1 missing dport", "PROXY TCP4 1.2.3.4 5.6.7.8 1111\r\n", 0),
	BAD("v1 extra field", "PROXY TCP4 1.2.3.4 5.6.7.8 1111 2222 3\r\n", 0),
	BAD("v1 TCP4 with v6", "PROXY TCP4 ::1 ::1 1111 2222\r\n", 0),
	BAD("v1 TCP6 with v4", "PROXY TCP6 1.2.3.4 5.6.7.8 1111 2222\r\n", 0),
	BAD("v1 TCP6 brackets", "PROXY TCP6 [::1] [::1] 1111 2222\r\n", 0),
	BAD("v1 TCP6 scope", "PROXY TCP6 fe80::1%eth0 ::1 1111 2222\r\n", 0),
	BAD("v1 short v4", "PROXY TCP4 1.2.3 5.6.7.8 1111 2222\r\n", 0),
	BAD("v1 v4 octet 256", "PROXY TCP4 1.2.3.256 5.6.7.8 1111 2222\r\n", 0),
	BAD("v1 v4 leading zero", "PROXY TCP4 01.2.3.4 5.6.7.8 1111 2222\r\n", 0),
	BAD("v1 port 65536", "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2222\r\n", 0),
	BAD("v1 port 99999", "PROXY TCP4 1.2.3.4 5.6.7.8 1111 99999\r\n", 0),
	BAD("v1 port +80", "PROXY TCP4 1.2.3.4 5.6.7.8 +80 2222\r\n", 0),
	BAD("v1 port -1", "PROXY TCP4 1.2.3.4 5.6.7.8 -1 2222\r\n", 0),
	BAD("v1 port 080", "PROXY TCP4 1.2.3.4 5.6.7.8 080 2222\r\n", 0),
	BAD("v1 port overlong", "PROXY TCP4 1.2.3.4 5.6.7.8 000001111 2222\r\n", 0),
	BAD("v1 port hex", "PROXY TCP4 1.2.3.4 5.6.7.8 0x10 2222\r\n", 0),
	BAD("v1 bare LF", "PROXY TCP4 1.2.3.4 5.6.7.8 1111 2222\n", 37),
	BAD("v1 CR CR LF", "PROXY TCP4 1.2.3.4 5.6.7.8 1111 2222\r\r\n", 38),
	BAD("v1 NUL", "PROXY TCP4 1.2.3.4\0 5.6.7.8 1111 2222\r\n", 19),
	BAD("v1 tab", "PROXY\tTCP4 1.2.3.4 5.6.7.8 1111 2222\r\n", 6),
	BAD("v1 8-bit in UNKNOWN", "PROXY UNKNOWN \xff\r\n", 15),
	/* not a PROXY header at all: refused as soon as that is certain */
	BAD("IMAP command", "A1 LOGIN user pass\r\n", 1),
	BAD("SMTP command", "EHLO x\r\n", 1),
	BAD("TLS hello", "\x16\x03\x01\x02\x00\x01", 1),
	BAD("PROXX", "PROXX TCP4\r\n", 5),
	BAD("PROXY without space", "PROXYTCP4\r\n", 6),
	BAD("CRLF CRLF CRLF", "\r\n\r\n\r\n", 5),
	BAD("v2 QUIX", "\r\n\r\n\0\r\nQUIX\n\x21\x11\0\0", 11),
	/* v2 */
	OK2("v2 TCP4", V2SIG "\x21\x11\x00\x0c" V2_IP4, 28, "1.2.3.4:1111", "5.6.7.8:2222"),
	OK2("v2 TCP4 + data", V2SIG "\x21\x11\x00\x0c" V2_IP4 "* OK", 28,
	    "1.2.3.4:1111", "5.6.7.8:2222"),
	OK2("v2 TCP6", V2SIG "\x21\x21\x00\x24" V2_IP6, 52, "[2001:db8::1]:443", "[::1]:143"),
	OK2("v2 TCP4 + TLVs", V2SIG "\x21\x11\x00\x14" V2_IP4 "\x01\x00\x02h2" "\x04\x00\x00", 36,
	    "1.2.3.4:1111", "5.6.7.8:2222"),
	OK2("v2 TCP6 + TLV", V2SIG "\x21\x21\x00\x2a" V2_IP6 "\x20\x00\x03\x01\x00\x00", 58,
	    "[2001:db8::1]:443", "[::1]:143"),
	LOCAL("v2 LOCAL", V2SIG "\x20\x00\x00\x00", 2, 16),
	LOCAL("v2 LOCAL + data", V2SIG "\x20\x00\x00\x00" "EHLO", 2, 16),
	LOCAL("v2 LOCAL with a block", V2SIG "\x20\x11\x00\x0c" V2_IP4, 2, 28),
	LOCAL("v2 LOCAL odd family", V2SIG "\x20\xff\x00\x03" "abc", 2, 19),
	LOCAL("v2 PROXY UNSPEC", V2SIG "\x21\x00\x00\x02" "zz", 2, 18),
	LOCAL("v2 UDP4", V2SIG "\x21\x12\x00\x0c" V2_IP4, 2, 28),
	LOCAL("v2 UDP6", V2SIG "\x21\x22\x00\x24" V2_IP6, 2, 52),
	BAD("v2 version 1", V2SIG "\x11\x11\x00\x0c" V2_IP4, 13),
	BAD("v2 version 3", V2SIG "\x31\x11\x00\x0c" V2_IP4, 13),
	BAD("v2 command 2", V2SIG "\x22\x11\x00\x0c" V2_IP4, 13),
	BAD("v2 command 15", V2SIG "\x2f\x11\x00\x0c" V2_IP4, 13),
	BAD("v2 family 0x13", V2SIG "\x21\x13\x00\x0c" V2_IP4, 14),
	BAD("v2 family 0x41", V2SIG "\x21\x41\x00\x0c" V2_IP4, 14),
	BAD("v2 family 0x10", V2SIG "\x21\x10\x00\x0c" V2_IP4, 14),
	BAD("v2 TCP4 len 11", V2SIG "\x21\x11\x00\x0b" "\x01\x02\x03\x04\x05\x06\x07\x08\x04\x57\x08", 0),
	BAD("v2 TCP6 len 35", V2SIG "\x21\x21\x00\x23" "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01"
	    "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01" "\x01\xbb\x00", 0),
	BAD("v2 TLV too long", V2SIG "\x21\x11\x00\x11" V2_IP4 "\x01\x00\x03h2", 0),
	BAD("v2 TLV 0xffff", V2SIG "\x21\x11\x00\x11" V2_IP4 "\x01\xff\xffh2", 0),
	BAD("v2 TLV 1 byte left", V2SIG "\x21\x11\x00\x0d" V2_IP4 "\x04", 0),
	BAD("v2 TLV 2 bytes left", V2SIG "\x21\x11\x00\x0e" V2_IP4 "\x04\x00", 0),
	BAD("v2 TLV then 1 byte", V2SIG "\x21\x11\x00\x10" V2_IP4 "\x04\x00\x00\x04", 0),
	R("v2 length 0xffff", V2SIG "\x21\x11\xff\xff" V2_IP4, MP_TOOLONG, 0, 0, false, "", "", 16),
};

static void addr_text(const struct mp_addr *a, char *buf, size_t cap)
{
	if (a->len == 0) {
		buf[0] = '\0';
		return;
	}
	net_addr_text(a, buf, cap);
}

#define ROW_CHECK(r, cond)                                                     \
	do {                                                                   \
		if (!(cond)) {                                                 \
			char m_[256];                                          \
			snprintf(m_, sizeof(m_), "[%s] %s", (r)->name, #cond); \
			t_fail(__FILE__, __LINE__, m_);                        \
		}                                                              \
	} while (0)

static void run_row(const struct prow *r)
{
	struct pp_header h, pristine;
	char s[MP_ADDR_TEXT_MAX], d[MP_ADDR_TEXT_MAX];
	const uint8_t *in = (const uint8_t *)r->in;

	memset(&pristine, 0xa5, sizeof(pristine));
	h = pristine;
	enum mp_status st = pp_parse(in, r->n, &h);
	ROW_CHECK(r, st == r->want);
	if (st == MP_OK && r->want == MP_OK) {
		ROW_CHECK(r, h.len == r->len);
		ROW_CHECK(r, h.version == r->version);
		ROW_CHECK(r, h.local == r->local);
		addr_text(&h.src, s, sizeof(s));
		addr_text(&h.dst, d, sizeof(d));
		ROW_CHECK(r, strcmp(s, r->src) == 0);
		ROW_CHECK(r, strcmp(d, r->dst) == 0);
	} else {
		ROW_CHECK(r, memcmp(&h, &pristine, sizeof(h)) == 0);
	}

	h = pristine;
	ROW_CHECK(r, pp_parse((const uint8_t *)t_guarded(in, r->n), r->n, &h) == st);

	/* drip-feed: every proper prefix of the header (or of the input) */
	size_t upto = r->want == MP_OK ? r->len : r->n;
	for (size_t cut = 0; cut < upto; cut++) {
		enum mp_status cs = pp_parse((const uint8_t *)t_guarded(in, cut), cut, &h);
		if (r->want == MP_OK) {
			ROW_CHECK(r, cs == MP_AGAIN);
		} else {
			ROW_CHECK(r, cs == MP_AGAIN || cs == r->want);
			if (r->early != 0 && cut >= r->early) {
				ROW_CHECK(r, cs == r->want);
			}
			if (r->early != 0 && cut < r->early) {
				ROW_CHECK(r, cs == MP_AGAIN);
			}
		}
	}
}

TEST(pp_parse_table)
{
	for (size_t i = 0; i < MP_ARRAY_LEN(prows); i++) {
		run_row(&prows[i]);
	}
}

/* v1: 106 and 107 bytes with CRLF are fine, 108 are not. Without a CR in
 * its first 106 bytes a line cannot end in time: refused at once. */
TEST(pp_v1_max)
{
	char line[PP_V1_MAX + 8];
	struct pp_header h;

	for (size_t total = PP_V1_MAX - 1; total <= PP_V1_MAX + 1; total++) {
		memset(line, 'x', sizeof(line));
		memcpy(line, "PROXY UNKNOWN ", 14);
		memcpy(line + total - 2, "\r\n", 2);
		const uint8_t *g = (const uint8_t *)t_guarded(line, total);
		enum mp_status st = pp_parse(g, total, &h);
		CHECK_INT(st, total <= PP_V1_MAX ? MP_OK : MP_INVALID);
		if (st == MP_OK) {
			CHECK_INT(h.len, total);
			CHECK(h.local);
		}
		/* the CR in, the LF not yet */
		st = pp_parse((const uint8_t *)t_guarded(line, total - 1), total - 1, &h);
		CHECK_INT(st, total <= PP_V1_MAX ? MP_AGAIN : MP_INVALID);
	}
	memset(line, 'x', sizeof(line));
	memcpy(line, "PROXY UNKNOWN ", 14);
	CHECK_INT(pp_parse((const uint8_t *)t_guarded(line, PP_V1_MAX - 2), PP_V1_MAX - 2, &h),
		  MP_AGAIN);
	CHECK_INT(pp_parse((const uint8_t *)t_guarded(line, PP_V1_MAX - 1), PP_V1_MAX - 1, &h),
		  MP_INVALID);
	/* a CR as the 107th byte: its LF would be the 108th */
	line[PP_V1_MAX - 1] = '\r';
	CHECK_INT(pp_parse((const uint8_t *)t_guarded(line, PP_V1_MAX), PP_V1_MAX, &h),
		  MP_INVALID);
}

static size_t v2_hdr(uint8_t *b, unsigned fam, size_t len)
{
	memcpy(b, V2SIG, V2SIG_LEN);
	b[12] = 0x21;
	b[13] = (uint8_t)fam;
	b[14] = (uint8_t)(len >> 8);
	b[15] = (uint8_t)len;
	return 16;
}

/* v2 total length PP_V2_MAX - 1, PP_V2_MAX, PP_V2_MAX + 1: IPv4 addresses
 * plus one TLV filling the rest. The last is refused with 16 bytes in. */
TEST(pp_v2_max)
{
	static uint8_t b[PP_V2_MAX + 64];
	struct pp_header h;

	for (size_t total = PP_V2_MAX - 1; total <= PP_V2_MAX + 1; total++) {
		size_t len = total - 16, v = len - 12 - 3;
		memset(b, 0x41, sizeof(b));
		v2_hdr(b, 0x11, len);
		b[28] = 0x05; /* UNIQUE_ID */
		b[29] = (uint8_t)(v >> 8);
		b[30] = (uint8_t)v;
		enum mp_status st = pp_parse((const uint8_t *)t_guarded(b, total), total, &h);
		CHECK_INT(st, total <= PP_V2_MAX ? MP_OK : MP_TOOLONG);
		if (st == MP_OK) {
			CHECK_INT(h.len, total);
			CHECK(!h.local);
		}
		st = pp_parse((const uint8_t *)t_guarded(b, 16), 16, &h);
		CHECK_INT(st, total <= PP_V2_MAX ? MP_AGAIN : MP_TOOLONG);
	}
}

/* Unix addresses: 216 bytes are required; they give no usable address. */
TEST(pp_v2_unix)
{
	static uint8_t b[512];
	struct pp_header h;
	static const struct {
		unsigned fam;
		size_t len;
		enum mp_status want;
	} rows[] = {
		{ 0x31, 215, MP_INVALID },
		{ 0x31, 216, MP_OK },
		{ 0x31, 217, MP_INVALID }, /* one stray byte is not a TLV */
		{ 0x31, 219, MP_OK },      /* an empty TLV */
		{ 0x32, 216, MP_OK },
		{ 0x32, 100, MP_INVALID },
	};

	for (size_t i = 0; i < MP_ARRAY_LEN(rows); i++) {
		memset(b, 0, sizeof(b));
		size_t n = v2_hdr(b, rows[i].fam, rows[i].len) + rows[i].len;
		enum mp_status st = pp_parse((const uint8_t *)t_guarded(b, n), n, &h);
		CHECK_INT(st, rows[i].want);
		if (st == MP_OK) {
			CHECK(h.local);
			CHECK_INT(h.len, n);
			CHECK_INT(h.src.len, 0);
		}
		for (size_t cut = 0; cut < n; cut++) {
			CHECK_INT(pp_parse((const uint8_t *)t_guarded(b, cut), cut, &h), MP_AGAIN);
		}
	}
}

static void roundtrip(const char *src, const char *dst, bool want_local, const char *want_v1)
{
	struct mp_addr s, d;
	struct pp_header h;
	char v1[PP_V1_MAX], small[PP_V1_MAX];
	uint8_t v2[PP_V2_MAX], small2[PP_V2_MAX];
	size_t len = 0, len2 = 0;

	CHECK_INT(net_parse_addr_port(src, strlen(src), &s), MP_OK);
	CHECK_INT(net_parse_addr_port(dst, strlen(dst), &d), MP_OK);

	CHECK_INT(pp_build_v1(&s, &d, v1, sizeof(v1), &len), MP_OK);
	CHECK_MEM(v1, len, want_v1);
	CHECK(len <= PP_V1_MAX);
	CHECK_INT(pp_parse((const uint8_t *)t_guarded(v1, len), len, &h), MP_OK);
	CHECK_INT(h.len, len);
	CHECK_INT(h.version, 1);
	CHECK(h.local == want_local);
	if (!want_local) {
		CHECK(net_addr_equal(&h.src, &s));
		CHECK(net_addr_equal(&h.dst, &d));
	}
	/* exact cap fits; one byte less is refused and leaves out alone */
	CHECK_INT(pp_build_v1(&s, &d, small, len, &len), MP_OK);
	memset(small, 0x5a, sizeof(small));
	CHECK_INT(pp_build_v1(&s, &d, small, len - 1, &len), MP_TOOLONG);
	for (size_t i = 0; i < sizeof(small); i++) {
		if (small[i] != 0x5a) {
			t_fail(__FILE__, __LINE__, "pp_build_v1 wrote on MP_TOOLONG");
			break;
		}
	}

	CHECK_INT(pp_build_v2(&s, &d, v2, sizeof(v2), &len2), MP_OK);
	CHECK_INT(len2, want_local ? 16 : s.u.sa.sa_family == AF_INET ? 28 : 52);
	CHECK_INT(pp_parse((const uint8_t *)t_guarded(v2, len2), len2, &h), MP_OK);
	CHECK_INT(h.len, len2);
	CHECK_INT(h.version, 2);
	CHECK(h.local == want_local);
	if (!want_local) {
		CHECK(net_addr_equal(&h.src, &s));
		CHECK(net_addr_equal(&h.dst, &d));
	} else {
		CHECK_INT(v2[12], 0x20); /* LOCAL */
	}
	memset(small2, 0x5a, sizeof(small2));
	CHECK_INT(pp_build_v2(&s, &d, small2, len2 - 1, &len2), MP_TOOLONG);
	CHECK_INT(small2[0], 0x5a);
	CHECK_INT(pp_build_v2(&s, &d, small2, len2, &len2), MP_OK);
}

TEST(pp_build_roundtrip)
{
	roundtrip("192.0.2.1:50000", "198.51.100.2:143", false,
		  "PROXY TCP4 192.0.2.1 198.51.100.2 50000 143\r\n");
	roundtrip("0.0.0.0:1", "255.255.255.255:65535", false,
		  "PROXY TCP4 0.0.0.0 255.255.255.255 1 65535\r\n");
	roundtrip("[2001:db8::1]:1234", "[::1]:993", false,
		  "PROXY TCP6 2001:db8::1 ::1 1234 993\r\n");
	roundtrip("[1111:2222:3333:4444:5555:6666:7777:8888]:65535",
		  "[9999:aaaa:bbbb:cccc:dddd:eeee:ffff:1234]:65535", false,
		  "PROXY TCP6 1111:2222:3333:4444:5555:6666:7777:8888 "
		  "9999:aaaa:bbbb:cccc:dddd:eeee:ffff:1234 65535 65535\r\n");
	roundtrip("[::ffff:192.0.2.1]:5", "[::ffff:192.0.2.2]:6", false,
		  "PROXY TCP6 ::ffff:192.0.2.1 ::ffff:192.0.2.2 5 6\r\n");
	/* mixed families and unix sockets: UNKNOWN / LOCAL, as nginx does */
	roundtrip("192.0.2.1:5", "[::1]:143", true, "PROXY UNKNOWN\r\n");
	roundtrip("unix:/run/a.sock", "unix:/run/b.sock", true, "PROXY UNKNOWN\r\n");
	roundtrip("unix:/run/a.sock", "192.0.2.1:143", true, "PROXY UNKNOWN\r\n");

	/* unset addresses, too */
	struct mp_addr z;
	char v1[PP_V1_MAX];
	size_t len;
	memset(&z, 0, sizeof(z));
	CHECK_INT(pp_build_v1(&z, &z, v1, sizeof(v1), &len), MP_OK);
	CHECK_MEM(v1, len, "PROXY UNKNOWN\r\n");
}

/* The v2 bytes we send, checked against the spec's layout by hand. */
TEST(pp_build_v2_bytes)
{
	static const uint8_t want[] = {
		0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
		0x21, 0x11, 0x00, 0x0c, 1, 2, 3, 4, 5, 6, 7, 8, 0x04, 0x57, 0x08, 0xae,
	};
	struct mp_addr s, d;
	uint8_t out[64];
	size_t len = 0;

	CHECK_INT(net_parse_addr_port("1.2.3.4:1111", 12, &s), MP_OK);
	CHECK_INT(net_parse_addr_port("5.6.7.8:2222", 12, &d), MP_OK);
	CHECK_INT(pp_build_v2(&s, &d, out, sizeof(out), &len), MP_OK);
	CHECK_INT(len, sizeof(want));
	CHECK(memcmp(out, want, sizeof(want)) == 0);
}
