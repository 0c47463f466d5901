/*
 * A bounded DER reader and the formatters BearSSL does not have: the fields
 * of a certificate, names in OpenSSL's two text forms, serial numbers, the
 * iPAddress entries of a subjectAltName, and CRLs.
 *
 * Every input here is hostile (a client certificate is attacker-chosen and
 * BearSSL's validator does not look at everything we print): each read is
 * checked against the end of its enclosing element, lengths are definite
 * and at most 4 bytes long, nesting is bounded, and output is bounded by the
 * caller's capacity.
 */
#include "tls_int.h"

#include <stdio.h>
#include <string.h>

/* AVAs in one name (a name longer than this is refused, not truncated). */
#define DN_AVAS_MAX 64
/* Longest OID name or dotted text we print. */
#define OID_TEXT_MAX 96

/* ---- the reader -------------------------------------------------------- */

bool tls_der_read(struct tls_der *d, unsigned *tag, struct tls_der *val)
{
	if (d->end - d->p < 2) {
		return false;
	}
	unsigned t = d->p[0];
	if ((t & 0x1F) == 0x1F) {
		return false; /* high tag numbers: not in X.509 */
	}
	size_t len = d->p[1];
	const uint8_t *q = d->p + 2;
	if (len & 0x80) {
		unsigned nb = len & 0x7F;
		if (nb == 0 || nb > 4 || (size_t)(d->end - q) < nb) {
			return false; /* indefinite (BER) or absurd */
		}
		len = 0;
		for (unsigned i = 0; i < nb; i++) {
			len = (len << 8) | *q++;
		}
	}
	if ((size_t)(d->end - q) < len) {
		return false;
	}
	*tag = t;
	val->p = q;
	val->end = q + len;
	d->p = q + len;
	return true;
}

bool tls_der_expect(struct tls_der *d, unsigned tag, struct tls_der *val)
{
	struct tls_der save = *d;
	unsigned t;
	if (!tls_der_read(d, &t, val) || t != tag) {
		*d = save;
		return false;
	}
	return true;
}

static bool der_peek(const struct tls_der *d, unsigned *tag)
{
	if (d->p >= d->end) {
		return false;
	}
	*tag = d->p[0];
	return true;
}

static size_t der_len(const struct tls_der *d)
{
	return (size_t)(d->end - d->p);
}

/* ---- output ------------------------------------------------------------ */

struct out {
	char *p;
	size_t n, cap; /* cap includes the NUL */
	bool full;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->full || o->cap - o->n <= n) {
		o->full = true;
		return;
	}
	memcpy(o->p + o->n, s, n);
	o->n += n;
	o->p[o->n] = '\0';
}

static void putc1(struct out *o, char c)
{
	put(o, &c, 1);
}

static void put_hex2(struct out *o, unsigned b)
{
	static const char hex[] = "0123456789ABCDEF";
	char t[2] = { hex[(b >> 4) & 15], hex[b & 15] };
	put(o, t, 2);
}

static enum mp_status out_done(struct out *o)
{
	return o->full ? MP_TOOLONG : MP_OK;
}

/* ---- OIDs -------------------------------------------------------------- */

/* Short names as OpenSSL's OBJ_nid2sn gives them for attribute types that
 * occur in names. Keys are the OID contents (DER without tag and length). */
static const struct {
	const char *der;
	uint8_t len;
	const char *sn;
} oid_names[] = {
	{ "\x55\x04\x03", 3, "CN" },
	{ "\x55\x04\x04", 3, "SN" },
	{ "\x55\x04\x05", 3, "serialNumber" },
	{ "\x55\x04\x06", 3, "C" },
	{ "\x55\x04\x07", 3, "L" },
	{ "\x55\x04\x08", 3, "ST" },
	{ "\x55\x04\x09", 3, "street" },
	{ "\x55\x04\x0a", 3, "O" },
	{ "\x55\x04\x0b", 3, "OU" },
	{ "\x55\x04\x0c", 3, "title" },
	{ "\x55\x04\x0d", 3, "description" },
	{ "\x55\x04\x0f", 3, "businessCategory" },
	{ "\x55\x04\x10", 3, "postalAddress" },
	{ "\x55\x04\x11", 3, "postalCode" },
	{ "\x55\x04\x12", 3, "postOfficeBox" },
	{ "\x55\x04\x14", 3, "telephoneNumber" },
	{ "\x55\x04\x29", 3, "name" },
	{ "\x55\x04\x2a", 3, "GN" },
	{ "\x55\x04\x2b", 3, "initials" },
	{ "\x55\x04\x2c", 3, "generationQualifier" },
	{ "\x55\x04\x2d", 3, "x500UniqueIdentifier" },
	{ "\x55\x04\x2e", 3, "dnQualifier" },
	{ "\x55\x04\x41", 3, "pseudonym" },
	{ "\x55\x04\x48", 3, "role" },
	{ "\x55\x04\x61", 3, "organizationIdentifier" },
	{ "\x2a\x86\x48\x86\xf7\x0d\x01\x09\x01", 9, "emailAddress" },
	{ "\x2a\x86\x48\x86\xf7\x0d\x01\x09\x02", 9, "unstructuredName" },
	{ "\x2a\x86\x48\x86\xf7\x0d\x01\x09\x08", 9, "unstructuredAddress" },
	{ "\x09\x92\x26\x89\x93\xf2\x2c\x64\x01\x01", 10, "UID" },
	{ "\x09\x92\x26\x89\x93\xf2\x2c\x64\x01\x19", 10, "DC" },
	{ "\x2b\x06\x01\x04\x01\x82\x37\x3c\x02\x01\x01", 11, "jurisdictionL" },
	{ "\x2b\x06\x01\x04\x01\x82\x37\x3c\x02\x01\x02", 11, "jurisdictionST" },
	{ "\x2b\x06\x01\x04\x01\x82\x37\x3c\x02\x01\x03", 11, "jurisdictionC" },
};

static const char *oid_sn(struct tls_der oid)
{
	for (size_t i = 0; i < MP_ARRAY_LEN(oid_names); i++) {
		if (der_len(&oid) == oid_names[i].len && memcmp(oid.p, oid_names[i].der, oid_names[i].len) == 0) {
			return oid_names[i].sn;
		}
	}
	return NULL;
}

/* Dotted text of an OID (X.690 8.19), as OBJ_obj2txt(no_name=1). Arcs
 * beyond 64 bits are refused. */
static bool oid_dotted(struct tls_der oid, char *buf, size_t cap)
{
	struct out o = { buf, 0, cap, false };
	buf[0] = '\0';
	bool first = true;
	const uint8_t *p = oid.p;
	if (p == oid.end) {
		return false;
	}
	while (p < oid.end) {
		uint64_t v = 0;
		unsigned nb = 0;
		for (;;) {
			if (p >= oid.end || nb >= 9) {
				return false; /* truncated arc, or wider than 63 bits */
			}
			if (nb == 0 && *p == 0x80) {
				return false; /* X.690 8.19.2: no leading 0x80 */
			}
			v = (v << 7) | (*p & 0x7F);
			nb++;
			if (!(*p++ & 0x80)) {
				break;
			}
		}
		char num[48];
		int k;
		if (first) {
			unsigned a = v < 40 ? 0 : v < 80 ? 1 : 2;
			k = snprintf(num, sizeof(num), "%u.%llu", a, (unsigned long long)(v - 40u * a));
			first = false;
		} else {
			k = snprintf(num, sizeof(num), ".%llu", (unsigned long long)v);
		}
		put(&o, num, (size_t)k);
	}
	return !o.full;
}

/* ---- names ------------------------------------------------------------- */

struct ava {
	struct tls_der oid;
	unsigned tag;          /* of the value */
	struct tls_der val;        /* contents */
	const uint8_t *tlv;    /* whole value encoding */
	size_t tlv_len;
	unsigned set;          /* index of its RDN */
};

static enum mp_status name_avas(const uint8_t *name, size_t n, struct ava *avas, size_t *navas)
{
	struct tls_der d = { name, name + n }, seq;
	if (!tls_der_expect(&d, 0x30, &seq) || d.p != d.end) {
		return MP_INVALID;
	}
	size_t k = 0;
	unsigned set = 0;
	while (seq.p < seq.end) {
		struct tls_der rdn;
		if (!tls_der_expect(&seq, 0x31, &rdn)) {
			return MP_INVALID;
		}
		while (rdn.p < rdn.end) {
			struct tls_der atv, oid;
			if (!tls_der_expect(&rdn, 0x30, &atv) || !tls_der_expect(&atv, 0x06, &oid)) {
				return MP_INVALID;
			}
			if (k == DN_AVAS_MAX) {
				return MP_TOOLONG;
			}
			struct ava *a = &avas[k];
			a->oid = oid;
			a->tlv = atv.p;
			if (!tls_der_read(&atv, &a->tag, &a->val) || atv.p != atv.end) {
				return MP_INVALID;
			}
			a->tlv_len = (size_t)(atv.p - a->tlv);
			a->set = set;
			k++;
		}
		set++;
	}
	*navas = k;
	return MP_OK;
}

static bool field_name(struct tls_der oid, char *buf, size_t cap, bool *known)
{
	const char *sn = oid_sn(oid);
	*known = sn != NULL;
	if (sn != NULL) {
		size_t l = strlen(sn);
		if (l >= cap) {
			return false;
		}
		memcpy(buf, sn, l + 1);
		return true;
	}
	return oid_dotted(oid, buf, cap);
}

enum mp_status tls_dn_oneline(const uint8_t *name, size_t n, char *out, size_t cap)
{
	struct ava avas[DN_AVAS_MAX];
	size_t navas;
	if (cap == 0) {
		return MP_TOOLONG;
	}
	out[0] = '\0';
	enum mp_status st = name_avas(name, n, avas, &navas);
	if (st != MP_OK) {
		return st;
	}
	struct out o = { out, 0, cap, false };
	for (size_t i = 0; i < navas; i++) {
		char fn[OID_TEXT_MAX];
		bool known;
		if (!field_name(avas[i].oid, fn, sizeof(fn), &known)) {
			return MP_INVALID;
		}
		/* OpenSSL 3: '+' joins the values of a multi-valued RDN */
		putc1(&o, i > 0 && avas[i - 1].set == avas[i].set ? '+' : '/');
		put(&o, fn, strlen(fn));
		putc1(&o, '=');
		/* OpenSSL keeps the contents of universal primitive types and the
		 * whole encoding of anything else (SEQUENCE, context tags) */
		bool whole = (avas[i].tag & 0xE0) != 0;
		const uint8_t *q = whole ? avas[i].tlv : avas[i].val.p;
		size_t num = whole ? avas[i].tlv_len : der_len(&avas[i].val);
		/* X509_NAME_oneline: a GeneralString whose length is a multiple
		 * of 4 and that looks like UCS-4 (zeros in the first three bytes
		 * of every group) prints only every fourth byte */
		bool doit[4] = { true, true, true, true };
		if (avas[i].tag == 27 && num % 4 == 0) {
			bool nz[4] = { false, false, false, false };
			for (size_t j = 0; j < num; j++) {
				if (q[j] != 0) {
					nz[j & 3] = true;
				}
			}
			if (!(nz[0] || nz[1] || nz[2])) {
				doit[0] = doit[1] = doit[2] = false;
			}
		}
		for (size_t j = 0; j < num; j++) {
			if (!doit[j & 3]) {
				continue;
			}
			unsigned c = q[j];
			if (c < ' ' || c > '~') {
				put(&o, "\\x", 2);
				put_hex2(&o, c);
			} else {
				if (c == '/' || c == '+') {
					putc1(&o, '\\');
				}
				putc1(&o, (char)c);
			}
		}
		if (o.full) {
			return MP_TOOLONG;
		}
	}
	return out_done(&o);
}

/* OpenSSL's charmap for ASCII, as used by do_esc_char(): bit 0 = RFC 2253
 * special, bit 1 = control, 0x20 = special when first, 0x40 = when last. */
static unsigned char char_type(unsigned c)
{
	if (c < 0x20 || c == 0x7F) {
		return 2;
	}
	switch (c) {
	case ' ':
		return 0x60;
	case '"':
	case '+':
	case ',':
	case ';':
	case '<':
	case '>':
	case '\\':
		return 1;
	case '#':
		return 0x20;
	default:
		return 0;
	}
}

#define ESC_2253 1u
#define ESC_CTRL 2u
#define ESC_MSB 4u
#define ESC_FIRST 0x20u
#define ESC_LAST 0x40u

/* do_esc_char() for a byte, with RFC 2253 flags. */
static void esc_byte(struct out *o, unsigned c, unsigned pos)
{
	unsigned fl = ESC_2253 | ESC_CTRL | ESC_MSB | pos;
	unsigned ch = c > 0x7F ? (fl & ESC_MSB) : (char_type(c) & fl);
	if (ch & (ESC_2253 | ESC_FIRST | ESC_LAST)) {
		putc1(o, '\\');
		putc1(o, (char)c);
	} else if (ch & (ESC_CTRL | ESC_MSB)) {
		putc1(o, '\\');
		put_hex2(o, c);
	} else {
		putc1(o, (char)c);
	}
}

/* Characters per string type, as OpenSSL's tag2nbyte: 0 = UTF-8 (printed
 * byte by byte), -1 = not a string type (dumped as DER). */
static int tag_width(unsigned tag)
{
	switch (tag) {
	case 12:
		return 0;
	case 18: case 19: case 20: case 22: case 23: case 24: case 26:
		return 1;
	case 28:
		return 4;
	case 30:
		return 2;
	default:
		return -1;
	}
}

static void put_utf8(struct out *o, uint32_t c, unsigned pos)
{
	unsigned char b[4];
	size_t n;
	if (c < 0x80) {
		b[0] = (unsigned char)c;
		n = 1;
	} else if (c < 0x800) {
		b[0] = (unsigned char)(0xC0 | (c >> 6));
		b[1] = (unsigned char)(0x80 | (c & 0x3F));
		n = 2;
	} else if (c < 0x10000) {
		if (c >= 0xD800 && c <= 0xDFFF) {
			return; /* UTF8_putc refuses surrogates: OpenSSL drops them */
		}
		b[0] = (unsigned char)(0xE0 | (c >> 12));
		b[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
		b[2] = (unsigned char)(0x80 | (c & 0x3F));
		n = 3;
	} else if (c < 0x110000) {
		b[0] = (unsigned char)(0xF0 | (c >> 18));
		b[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
		b[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
		b[3] = (unsigned char)(0x80 | (c & 0x3F));
		n = 4;
	} else {
		return;
	}
	for (size_t i = 0; i < n; i++) {
		esc_byte(o, b[i], n == 1 ? pos : 0);
	}
}

static void dump_hex(struct out *o, const uint8_t *p, size_t n)
{
	putc1(o, '#');
	for (size_t i = 0; i < n; i++) {
		put_hex2(o, p[i]);
	}
}

static bool rfc2253_value(struct out *o, const struct ava *a, bool known)
{
	int w = tag_width(a->tag);
	if (!known || w < 0) {
		dump_hex(o, a->tlv, a->tlv_len);
		return true;
	}
	const uint8_t *p = a->val.p, *q = a->val.end;
	size_t n = (size_t)(q - p);
	if ((w == 4 && n % 4 != 0) || (w == 2 && n % 2 != 0)) {
		return false;
	}
	const uint8_t *start = p;
	while (p < q) {
		unsigned pos = p == start ? ESC_FIRST : 0;
		uint32_t c;
		if (w == 4) {
			c = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
			p += 4;
		} else if (w == 2) {
			c = (uint32_t)p[0] << 8 | p[1];
			p += 2;
		} else {
			c = *p++;
		}
		if (p == q) {
			pos = ESC_LAST; /* as do_buf(): "last" replaces "first" */
		}
		if (w == 0) {
			/* UTF8String: printed as bytes, not converted twice */
			esc_byte(o, c, pos);
		} else {
			put_utf8(o, c, pos);
		}
	}
	return true;
}

enum mp_status tls_dn_rfc2253(const uint8_t *name, size_t n, char *out, size_t cap)
{
	struct ava avas[DN_AVAS_MAX];
	size_t navas;
	if (cap == 0) {
		return MP_TOOLONG;
	}
	out[0] = '\0';
	enum mp_status st = name_avas(name, n, avas, &navas);
	if (st != MP_OK) {
		return st;
	}
	struct out o = { out, 0, cap, false };
	for (size_t k = 0; k < navas; k++) {
		const struct ava *a = &avas[navas - 1 - k];
		if (k > 0) {
			putc1(&o, avas[navas - k].set == a->set ? '+' : ',');
		}
		char fn[OID_TEXT_MAX];
		bool known;
		if (!field_name(a->oid, fn, sizeof(fn), &known)) {
			return MP_INVALID;
		}
		put(&o, fn, strlen(fn));
		putc1(&o, '=');
		if (!rfc2253_value(&o, a, known)) {
			return MP_INVALID;
		}
		if (o.full) {
			return MP_TOOLONG;
		}
	}
	return out_done(&o);
}

enum mp_status tls_serial_hex(const uint8_t *p, size_t n, char *out, size_t cap)
{
	uint8_t mag[TLS_SERIAL_MAX];
	if (cap == 0) {
		return MP_TOOLONG;
	}
	out[0] = '\0';
	if (n == 0) {
		return MP_INVALID;
	}
	if (n > TLS_SERIAL_MAX + 1 || (n == TLS_SERIAL_MAX + 1 && p[0] != 0x00 && p[0] != 0xFF)) {
		return MP_TOOLONG;
	}
	bool neg = (p[0] & 0x80) != 0;
	uint8_t tmp[TLS_SERIAL_MAX + 1];
	memcpy(tmp, p, n);
	if (neg) {
		/* two's complement -> magnitude */
		unsigned carry = 1;
		for (size_t i = n; i-- > 0;) {
			unsigned v = (uint8_t)~tmp[i] + carry;
			tmp[i] = (uint8_t)v;
			carry = v >> 8;
		}
	}
	size_t s = 0;
	while (s + 1 < n && tmp[s] == 0) {
		s++;
	}
	size_t m = n - s;
	if (m > TLS_SERIAL_MAX) {
		return MP_TOOLONG;
	}
	memcpy(mag, tmp + s, m);
	struct out o = { out, 0, cap, false };
	if (neg) {
		putc1(&o, '-');
	}
	for (size_t i = 0; i < m; i++) {
		put_hex2(&o, mag[i]);
	}
	return out_done(&o);
}

/* ---- time -------------------------------------------------------------- */

static bool digits(const uint8_t *p, size_t n, unsigned *v)
{
	unsigned x = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9') {
			return false;
		}
		x = x * 10 + (p[i] - '0');
	}
	*v = x;
	return true;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* RFC 5280 4.1.2.5: UTCTime YYMMDDHHMMSSZ, GeneralizedTime YYYYMMDDHHMMSSZ. */
enum mp_status tls_der_time(unsigned tag, const uint8_t *p, size_t n, int64_t *out)
{
	unsigned y, mo, d, h, mi, s;
	size_t yl = tag == 0x17 ? 2 : tag == 0x18 ? 4 : 0;
	if (yl == 0 || n != yl + 11 || p[n - 1] != 'Z') {
		return MP_INVALID;
	}
	if (!digits(p, yl, &y) || !digits(p + yl, 2, &mo) || !digits(p + yl + 2, 2, &d) ||
	    !digits(p + yl + 4, 2, &h) || !digits(p + yl + 6, 2, &mi) || !digits(p + yl + 8, 2, &s)) {
		return MP_INVALID;
	}
	if (yl == 2) {
		y += y < 50 ? 2000 : 1900;
	}
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) {
		return MP_INVALID;
	}
	*out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
	return MP_OK;
}

static bool read_time(struct tls_der *d, int64_t *t)
{
	unsigned tag;
	struct tls_der v;
	return tls_der_read(d, &tag, &v) && tls_der_time(tag, v.p, der_len(&v), t) == MP_OK;
}

/* ---- certificates ------------------------------------------------------ */

static const uint8_t OID_SAN[] = { 0x55, 0x1D, 0x11 };

enum mp_status tls_cert_parse(const uint8_t *der, size_t n, struct tls_cert_info *out)
{
	struct tls_cert_info ci;
	memset(&ci, 0, sizeof(ci));
	struct tls_der d = { der, der + n }, cert, tbs, x;
	unsigned tag;
	if (!tls_der_expect(&d, 0x30, &cert) || d.p != d.end || !tls_der_expect(&cert, 0x30, &tbs)) {
		return MP_INVALID;
	}
	if (der_peek(&tbs, &tag) && tag == 0xA0 && !tls_der_expect(&tbs, 0xA0, &x)) {
		return MP_INVALID;
	}
	if (!tls_der_expect(&tbs, 0x02, &x) || der_len(&x) == 0) {
		return MP_INVALID;
	}
	ci.serial = x.p;
	ci.serial_len = der_len(&x);
	if (!tls_der_expect(&tbs, 0x30, &x)) { /* signature algorithm */
		return MP_INVALID;
	}
	const uint8_t *s = tbs.p;
	if (!tls_der_expect(&tbs, 0x30, &x)) {
		return MP_INVALID;
	}
	ci.issuer = s;
	ci.issuer_len = (size_t)(tbs.p - s);
	struct tls_der val;
	if (!tls_der_expect(&tbs, 0x30, &val) || !read_time(&val, &ci.not_before) || !read_time(&val, &ci.not_after)) {
		return MP_INVALID;
	}
	s = tbs.p;
	if (!tls_der_expect(&tbs, 0x30, &x)) {
		return MP_INVALID;
	}
	ci.subject = s;
	ci.subject_len = (size_t)(tbs.p - s);
	if (!tls_der_expect(&tbs, 0x30, &x)) { /* subjectPublicKeyInfo */
		return MP_INVALID;
	}
	while (tbs.p < tbs.end) {
		if (!tls_der_read(&tbs, &tag, &x)) {
			return MP_INVALID;
		}
		if (tag != 0xA3) {
			continue; /* issuerUniqueID / subjectUniqueID */
		}
		struct tls_der exts;
		if (!tls_der_expect(&x, 0x30, &exts)) {
			return MP_INVALID;
		}
		while (exts.p < exts.end) {
			struct tls_der ext, oid, oct;
			if (!tls_der_expect(&exts, 0x30, &ext) || !tls_der_expect(&ext, 0x06, &oid)) {
				return MP_INVALID;
			}
			if (der_peek(&ext, &tag) && tag == 0x01 && !tls_der_expect(&ext, 0x01, &x)) {
				return MP_INVALID;
			}
			if (!tls_der_expect(&ext, 0x04, &oct)) {
				return MP_INVALID;
			}
			if (der_len(&oid) == sizeof(OID_SAN) && memcmp(oid.p, OID_SAN, sizeof(OID_SAN)) == 0) {
				struct tls_der gn;
				if (!tls_der_expect(&oct, 0x30, &gn)) {
					return MP_INVALID;
				}
				ci.san = gn.p;
				ci.san_len = der_len(&gn);
			}
		}
	}
	*out = ci;
	return MP_OK;
}

bool tls_san_has_ip(const uint8_t *san, size_t n, const uint8_t *ip, size_t iplen)
{
	if (san == NULL) {
		return false;
	}
	struct tls_der d = { san, san + n }, v;
	unsigned tag;
	while (d.p < d.end) {
		if (!tls_der_read(&d, &tag, &v)) {
			return false;
		}
		/* RFC 5280 4.2.1.6: iPAddress [7] IMPLICIT OCTET STRING */
		if (tag == 0x87 && der_len(&v) == iplen && memcmp(v.p, ip, iplen) == 0) {
			return true;
		}
	}
	return false;
}

/* ---- CRLs -------------------------------------------------------------- */

enum mp_status tls_crl_parse(const uint8_t *der, size_t n, struct tls_crl_info *out)
{
	struct tls_crl_info ci;
	memset(&ci, 0, sizeof(ci));
	struct tls_der d = { der, der + n }, cl, tbs, x;
	unsigned tag;
	if (!tls_der_expect(&d, 0x30, &cl) || d.p != d.end) {
		return MP_INVALID;
	}
	const uint8_t *s = cl.p;
	if (!tls_der_expect(&cl, 0x30, &tbs)) {
		return MP_INVALID;
	}
	ci.tbs = s;
	ci.tbs_len = (size_t)(cl.p - s);
	if (der_peek(&tbs, &tag) && tag == 0x02 && !tls_der_expect(&tbs, 0x02, &x)) {
		return MP_INVALID;
	}
	if (!tls_der_expect(&tbs, 0x30, &x)) {
		return MP_INVALID;
	}
	s = tbs.p;
	if (!tls_der_expect(&tbs, 0x30, &x)) {
		return MP_INVALID;
	}
	ci.issuer = s;
	ci.issuer_len = (size_t)(tbs.p - s);
	int64_t this_update;
	if (!read_time(&tbs, &this_update)) {
		return MP_INVALID;
	}
	if (der_peek(&tbs, &tag) && (tag == 0x17 || tag == 0x18) && !read_time(&tbs, &ci.next_update)) {
		return MP_INVALID;
	}
	if (der_peek(&tbs, &tag) && tag == 0x30) {
		if (!tls_der_expect(&tbs, 0x30, &x)) {
			return MP_INVALID;
		}
		ci.revoked = x.p;
		ci.revoked_len = der_len(&x);
	}
	struct tls_der alg, oid, sig;
	if (!tls_der_expect(&cl, 0x30, &alg) || !tls_der_expect(&alg, 0x06, &oid) || !tls_der_expect(&cl, 0x03, &sig) ||
	    der_len(&sig) < 2 || sig.p[0] != 0 || cl.p != cl.end) {
		return MP_INVALID;
	}
	ci.sig_oid = oid.p;
	ci.sig_oid_len = der_len(&oid);
	ci.sig = sig.p + 1;
	ci.sig_len = der_len(&sig) - 1;
	*out = ci;
	return MP_OK;
}

enum mp_status tls_crl_next_serial(const struct tls_crl_info *crl, size_t *off, const uint8_t **serial,
				   size_t *serial_len)
{
	if (crl->revoked == NULL || *off >= crl->revoked_len) {
		return MP_AGAIN;
	}
	struct tls_der d = { crl->revoked + *off, crl->revoked + crl->revoked_len }, entry, ser;
	if (!tls_der_expect(&d, 0x30, &entry) || !tls_der_expect(&entry, 0x02, &ser) || der_len(&ser) == 0) {
		return MP_INVALID;
	}
	*serial = ser.p;
	*serial_len = der_len(&ser);
	*off = (size_t)(d.p - crl->revoked);
	return MP_OK;
}
