/*
 * tls/ tests: the pure pieces (names, cipher strings, DER names, serials,
 * times, PEM, base64, PBKDF2, encrypted keys) table-driven with hostile
 * rows, and whole handshakes over socketpair() between tls_start_client and
 * tls_start_server, or against a bare BearSSL client (client certificates,
 * ALPN offers) -- data both ways, resumption, refusals.
 *
 * Certificates and keys are generated at test time with the openssl
 * command into a private temporary directory; without openssl those tests
 * say so on stderr and pass.
 */
#include "t.h"

#include "../../core/buf.h"
#include "../../core/io.h"
#include "../../core/log.h"
#include "../../tls/tls_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* t.h's CHECK_STR, with the strings cut short in the message (gcc warns
 * about its fixed buffer with the long strings compared here). */
#define CHECK_S(got, want)                                                                        \
	do {                                                                                      \
		const char *g_ = (got), *w_ = (want);                                             \
		if (g_ == NULL || strcmp(g_, w_) != 0) {                                          \
			t_fail(__FILE__, __LINE__, #got);                                         \
			fprintf(stderr, "      got \"%.300s\"\n      want \"%.300s\"\n", g_ ? g_ : "(null)", w_); \
		}                                                                                 \
	} while (0)

/* ---- names, versions ---------------------------------------------------- */

TEST(tls_version_names)
{
	CHECK_S(tls_version_name(BR_TLS10), "TLSv1");
	CHECK_S(tls_version_name(BR_TLS11), "TLSv1.1");
	CHECK_S(tls_version_name(BR_TLS12), "TLSv1.2");
	CHECK_S(tls_version_name(BR_SSL30), "SSLv3");
	CHECK_S(tls_version_name(0x0304), "");
	CHECK_S(tls_version_name(0), "");
}

/* Every suite we enable, with OpenSSL's name ("openssl ciphers -V"). */
static const struct {
	uint16_t id;
	const char *name;
} suite_names[] = {
	{ 0xC02C, "ECDHE-ECDSA-AES256-GCM-SHA384" }, { 0xC030, "ECDHE-RSA-AES256-GCM-SHA384" },
	{ 0xCCA9, "ECDHE-ECDSA-CHACHA20-POLY1305" }, { 0xCCA8, "ECDHE-RSA-CHACHA20-POLY1305" },
	{ 0xC02B, "ECDHE-ECDSA-AES128-GCM-SHA256" }, { 0xC02F, "ECDHE-RSA-AES128-GCM-SHA256" },
	{ 0xC024, "ECDHE-ECDSA-AES256-SHA384" },     { 0xC028, "ECDHE-RSA-AES256-SHA384" },
	{ 0xC023, "ECDHE-ECDSA-AES128-SHA256" },     { 0xC027, "ECDHE-RSA-AES128-SHA256" },
	{ 0xC00A, "ECDHE-ECDSA-AES256-SHA" },        { 0xC014, "ECDHE-RSA-AES256-SHA" },
	{ 0xC009, "ECDHE-ECDSA-AES128-SHA" },        { 0xC013, "ECDHE-RSA-AES128-SHA" },
	{ 0x009D, "AES256-GCM-SHA384" },             { 0x009C, "AES128-GCM-SHA256" },
	{ 0x003D, "AES256-SHA256" },                 { 0x003C, "AES128-SHA256" },
	{ 0x0035, "AES256-SHA" },                    { 0x002F, "AES128-SHA" },
};

TEST(tls_suite_names)
{
	CHECK_INT(MP_ARRAY_LEN(suite_names), TLS_NSUITES);
	for (size_t i = 0; i < MP_ARRAY_LEN(suite_names); i++) {
		CHECK_S(tls_suite_name(suite_names[i].id), suite_names[i].name);
		CHECK(tls_suite_find(suite_names[i].id) != NULL);
	}
	CHECK_S(tls_suite_name(0x000A), ""); /* 3DES: not enabled */
	CHECK_S(tls_suite_name(0x1301), ""); /* TLS 1.3 */
}

/* ---- the cipher-string language ----------------------------------------- */

/* Expected results are what "openssl ciphers -v STRING" (OpenSSL 3.0.x)
 * prints, filtered to the suites above. */
#define ALL20                                                                                                 \
	"ECDHE-ECDSA-AES256-GCM-SHA384 ECDHE-RSA-AES256-GCM-SHA384 ECDHE-ECDSA-CHACHA20-POLY1305 "            \
	"ECDHE-RSA-CHACHA20-POLY1305 ECDHE-ECDSA-AES128-GCM-SHA256 ECDHE-RSA-AES128-GCM-SHA256 "              \
	"ECDHE-ECDSA-AES256-SHA384 ECDHE-RSA-AES256-SHA384 ECDHE-ECDSA-AES128-SHA256 ECDHE-RSA-AES128-SHA256 " \
	"ECDHE-ECDSA-AES256-SHA ECDHE-RSA-AES256-SHA ECDHE-ECDSA-AES128-SHA ECDHE-RSA-AES128-SHA "             \
	"AES256-GCM-SHA384 AES128-GCM-SHA256 AES256-SHA256 AES128-SHA256 AES256-SHA AES128-SHA"

static const struct {
	const char *in;
	const char *want; /* NULL: no cipher match */
} cipher_rows[] = {
	{ "HIGH:!aNULL:!MD5", ALL20 },
	{ "ALL:@SECLEVEL=0", ALL20 },
	{ "DEFAULT", ALL20 },
	{ "HIGH:+kRSA", ALL20 },
	{ "RSA", "AES256-GCM-SHA384 AES128-GCM-SHA256 AES256-SHA256 AES128-SHA256 AES256-SHA AES128-SHA" },
	{ "kRSA", "AES256-GCM-SHA384 AES128-GCM-SHA256 AES256-SHA256 AES128-SHA256 AES256-SHA AES128-SHA" },
	{ "!RSA:HIGH",
	  "ECDHE-ECDSA-AES256-GCM-SHA384 ECDHE-RSA-AES256-GCM-SHA384 ECDHE-ECDSA-CHACHA20-POLY1305 "
	  "ECDHE-RSA-CHACHA20-POLY1305 ECDHE-ECDSA-AES128-GCM-SHA256 ECDHE-RSA-AES128-GCM-SHA256 "
	  "ECDHE-ECDSA-AES256-SHA384 ECDHE-RSA-AES256-SHA384 ECDHE-ECDSA-AES128-SHA256 ECDHE-RSA-AES128-SHA256 "
	  "ECDHE-ECDSA-AES256-SHA ECDHE-RSA-AES256-SHA ECDHE-ECDSA-AES128-SHA ECDHE-RSA-AES128-SHA" },
	{ "ECDHE+AESGCM",
	  "ECDHE-ECDSA-AES256-GCM-SHA384 ECDHE-RSA-AES256-GCM-SHA384 ECDHE-ECDSA-AES128-GCM-SHA256 "
	  "ECDHE-RSA-AES128-GCM-SHA256" },
	{ "EECDH+AESGCM:EDH+AESGCM",
	  "ECDHE-ECDSA-AES256-GCM-SHA384 ECDHE-RSA-AES256-GCM-SHA384 ECDHE-ECDSA-AES128-GCM-SHA256 "
	  "ECDHE-RSA-AES128-GCM-SHA256" },
	{ "aRSA",
	  "ECDHE-RSA-AES256-GCM-SHA384 ECDHE-RSA-CHACHA20-POLY1305 ECDHE-RSA-AES128-GCM-SHA256 "
	  "ECDHE-RSA-AES256-SHA384 ECDHE-RSA-AES128-SHA256 ECDHE-RSA-AES256-SHA ECDHE-RSA-AES128-SHA "
	  "AES256-GCM-SHA384 AES128-GCM-SHA256 AES256-SHA256 AES128-SHA256 AES256-SHA AES128-SHA" },
	{ "ECDSA",
	  "ECDHE-ECDSA-AES256-GCM-SHA384 ECDHE-ECDSA-CHACHA20-POLY1305 ECDHE-ECDSA-AES128-GCM-SHA256 "
	  "ECDHE-ECDSA-AES256-SHA384 ECDHE-ECDSA-AES128-SHA256 ECDHE-ECDSA-AES256-SHA ECDHE-ECDSA-AES128-SHA" },
	{ "SHA", "ECDHE-ECDSA-AES256-SHA ECDHE-RSA-AES256-SHA ECDHE-ECDSA-AES128-SHA ECDHE-RSA-AES128-SHA AES256-SHA "
		 "AES128-SHA" },
	{ "SHA256", "ECDHE-ECDSA-AES128-SHA256 ECDHE-RSA-AES128-SHA256 AES256-SHA256 AES128-SHA256" },
	{ "SHA384", "ECDHE-ECDSA-AES256-SHA384 ECDHE-RSA-AES256-SHA384" },
	{ "CHACHA20", "ECDHE-ECDSA-CHACHA20-POLY1305 ECDHE-RSA-CHACHA20-POLY1305" },
	{ "TLSv1", "ECDHE-ECDSA-AES256-SHA ECDHE-RSA-AES256-SHA ECDHE-ECDSA-AES128-SHA ECDHE-RSA-AES128-SHA" },
	{ "SSLv3", "AES256-SHA AES128-SHA" },
	{ "AESGCM+AES128", "ECDHE-ECDSA-AES128-GCM-SHA256 ECDHE-RSA-AES128-GCM-SHA256 AES128-GCM-SHA256" },
	{ "HIGH:!aNULL:!MD5:@STRENGTH",
	  "ECDHE-ECDSA-AES256-GCM-SHA384 ECDHE-RSA-AES256-GCM-SHA384 ECDHE-ECDSA-CHACHA20-POLY1305 "
	  "ECDHE-RSA-CHACHA20-POLY1305 ECDHE-ECDSA-AES256-SHA384 ECDHE-RSA-AES256-SHA384 ECDHE-ECDSA-AES256-SHA "
	  "ECDHE-RSA-AES256-SHA AES256-GCM-SHA384 AES256-SHA256 AES256-SHA ECDHE-ECDSA-AES128-GCM-SHA256 "
	  "ECDHE-RSA-AES128-GCM-SHA256 ECDHE-ECDSA-AES128-SHA256 ECDHE-RSA-AES128-SHA256 ECDHE-ECDSA-AES128-SHA "
	  "ECDHE-RSA-AES128-SHA AES128-GCM-SHA256 AES128-SHA256 AES128-SHA" },
	{ "kEECDH:-AESGCM:kRSA:AESGCM",
	  "ECDHE-ECDSA-CHACHA20-POLY1305 ECDHE-RSA-CHACHA20-POLY1305 ECDHE-ECDSA-AES256-SHA384 "
	  "ECDHE-RSA-AES256-SHA384 ECDHE-ECDSA-AES128-SHA256 ECDHE-RSA-AES128-SHA256 ECDHE-ECDSA-AES256-SHA "
	  "ECDHE-RSA-AES256-SHA ECDHE-ECDSA-AES128-SHA ECDHE-RSA-AES128-SHA AES256-GCM-SHA384 AES128-GCM-SHA256 "
	  "AES256-SHA256 AES128-SHA256 AES256-SHA AES128-SHA ECDHE-ECDSA-AES256-GCM-SHA384 "
	  "ECDHE-RSA-AES256-GCM-SHA384 ECDHE-ECDSA-AES128-GCM-SHA256 ECDHE-RSA-AES128-GCM-SHA256" },
	{ "ALL:-ECDSA:ECDSA",
	  "ECDHE-RSA-AES256-GCM-SHA384 ECDHE-RSA-CHACHA20-POLY1305 ECDHE-RSA-AES128-GCM-SHA256 "
	  "ECDHE-RSA-AES256-SHA384 ECDHE-RSA-AES128-SHA256 ECDHE-RSA-AES256-SHA ECDHE-RSA-AES128-SHA "
	  "AES256-GCM-SHA384 AES128-GCM-SHA256 AES256-SHA256 AES128-SHA256 AES256-SHA AES128-SHA "
	  "ECDHE-ECDSA-AES256-GCM-SHA384 ECDHE-ECDSA-CHACHA20-POLY1305 ECDHE-ECDSA-AES128-GCM-SHA256 "
	  "ECDHE-ECDSA-AES256-SHA384 ECDHE-ECDSA-AES128-SHA256 ECDHE-ECDSA-AES256-SHA ECDHE-ECDSA-AES128-SHA" },
	{ "ECDHE:!ECDSA:ECDSA",
	  "ECDHE-RSA-AES256-GCM-SHA384 ECDHE-RSA-CHACHA20-POLY1305 ECDHE-RSA-AES128-GCM-SHA256 "
	  "ECDHE-RSA-AES256-SHA384 ECDHE-RSA-AES128-SHA256 ECDHE-RSA-AES256-SHA ECDHE-RSA-AES128-SHA" },
	{ "FOO+AES:AES128-SHA", "AES128-SHA" },
	{ "HIGH:-AES256:AES256-SHA",
	  "ECDHE-ECDSA-CHACHA20-POLY1305 ECDHE-RSA-CHACHA20-POLY1305 ECDHE-ECDSA-AES128-GCM-SHA256 "
	  "ECDHE-RSA-AES128-GCM-SHA256 ECDHE-ECDSA-AES128-SHA256 ECDHE-RSA-AES128-SHA256 ECDHE-ECDSA-AES128-SHA "
	  "ECDHE-RSA-AES128-SHA AES128-GCM-SHA256 AES128-SHA256 AES128-SHA AES256-SHA" },
	{ "ECDHE-RSA-AES128-GCM-SHA256 ECDHE-RSA-CHACHA20-POLY1305,AES128-SHA",
	  "ECDHE-RSA-AES128-GCM-SHA256 ECDHE-RSA-CHACHA20-POLY1305 AES128-SHA" },
	{ "::ECDHE-RSA-AES128-SHA::", "ECDHE-RSA-AES128-SHA" },
	{ "ecdhe-rsa-aes128-sha", NULL }, /* names are case-sensitive */
	{ "MEDIUM", NULL },
	{ "3DES:RC4:CAMELLIA:aNULL", NULL },
	{ "AES128+AES256", NULL },
	{ "FOO", NULL },
	{ "", NULL },
	{ "!ALL:HIGH", NULL },
	{ "-", NULL },
	{ "@STRENGTH", NULL },
};

TEST(tls_cipher_strings)
{
	for (size_t r = 0; r < MP_ARRAY_LEN(cipher_rows); r++) {
		uint16_t out[TLS_NSUITES];
		size_t n = 99;
		const char *in = cipher_rows[r].in;
		const char *g = t_guarded(in, strlen(in));
		enum mp_status st = tls_cipher_list(g, strlen(in), out, TLS_NSUITES, &n);
		if (cipher_rows[r].want == NULL) {
			if (st != MP_INVALID) {
				t_fail(__FILE__, __LINE__, in);
			}
			CHECK_INT(n, 0);
			continue;
		}
		char got[2048] = "";
		for (size_t i = 0; i < n; i++) {
			strcat(got, i ? " " : "");
			strcat(got, tls_suite_name(out[i]));
		}
		CHECK_INT(st, MP_OK);
		CHECK_S(got, cipher_rows[r].want);
	}
	/* a short output array keeps the first ones */
	uint16_t two[2];
	size_t n;
	CHECK_INT(tls_cipher_list("ALL", 3, two, 2, &n), MP_OK);
	CHECK_INT(n, 2);
	CHECK_INT(two[0], 0xC02C);
}

/* ---- DER: names, serials, times ----------------------------------------- */

static size_t unhex(const char *h, uint8_t *out)
{
	size_t n = 0;
	while (h[0] != '\0' && h[1] != '\0') {
		if (h[0] == ' ') {
			h++;
			continue;
		}
		unsigned v;
		sscanf(h, "%2x", &v);
		out[n++] = (uint8_t)v;
		h += 2;
	}
	return n;
}

static const struct {
	const char *hex;       /* DER Name */
	enum mp_status st;
	const char *oneline;
	const char *rfc2253;
} dn_rows[] = {
	/* C=US, ST=Example Org, CN=client one */
	{ "3038310b30090603550406130255533114301206035504080c0b4578616d706c65204f7267"
	  "311330110603550403130a636c69656e74206f6e65",
	  MP_OK, "/C=US/ST=Example Org/CN=client one", "CN=client one,ST=Example Org,C=US" },
	{ "3000", MP_OK, "", "" },
	/* multi-valued RDN: CN=a + UID=b */
	{ "301d311b300806035504030c0161300f060a0992268993f22c6401010c0162", MP_OK, "/CN=a+UID=b", "UID=b+CN=a" },
	/* specials: "# a/b+c,d " (leading '#', trailing space) */
	{ "30153113301106035504030c0a2320612f622b632c6420", MP_OK, "/CN=# a\\/b\\+c,d ",
	  "CN=\\# a/b\\+c\\,d\\ " },
	/* control and 8-bit bytes */
	{ "300f310d300b06035504030c04c3a90a41", MP_OK, "/CN=\\xC3\\xA9\\x0AA", "CN=\\C3\\A9\\0AA" },
	/* BMPString "\u00e9" and an unknown OID 1.2.3.4 */
	{ "301b310b300906035504031e0200e9310c300a06032a03040c0378797a",
	  MP_OK, "/CN=\\x00\\xE9/1.2.3.4=xyz", "1.2.3.4=#0C0378797A,CN=\\C3\\A9" },
	/* emailAddress (IA5String) */
	{ "3020311e301c06092a864886f70d010901160f6140622e6578616d706c652e636f6d", MP_OK,
	  "/emailAddress=a@b.example.com", "emailAddress=a@b.example.com" },
	/* hostile */
	{ "", MP_INVALID, "", "" },
	{ "30", MP_INVALID, "", "" },
	{ "3001", MP_INVALID, "", "" },
	{ "3100", MP_INVALID, "", "" },                       /* SET, not SEQUENCE */
	{ "30023000", MP_INVALID, "", "" },                   /* RDN not a SET */
	{ "3004310230 00", MP_INVALID, "", "" },               /* AVA without OID */
	{ "30803100", MP_INVALID, "", "" },                   /* indefinite length */
	{ "3085ffffffff01", MP_INVALID, "", "" },             /* 5-byte length */
	{ "3084ffffffff", MP_INVALID, "", "" },               /* length past the end */
	{ "300031", MP_INVALID, "", "" },                     /* trailing bytes */
	{ "300b3109300706035504031f00", MP_INVALID, "", "" }, /* high tag number */
	{ "300a3108300606035504030c", MP_INVALID, "", "" },   /* value truncated */
	{ "30093107300506002a0c00", MP_INVALID, "", "" },     /* empty OID */
	{ "300c310a30080604808001010c00", MP_INVALID, "", "" }, /* OID with 0x80 padding */
	/* BMPString of odd length: oneline prints bytes, RFC 2253 refuses */
	{ "300e310c300a06035504031e03004100", MP_OK, "/CN=\\x00A\\x00", NULL },
};

TEST(tls_dn_formats)
{
	for (size_t r = 0; r < MP_ARRAY_LEN(dn_rows); r++) {
		uint8_t der[512];
		char out[1024];
		size_t n = unhex(dn_rows[r].hex, der);
		const uint8_t *g = (const uint8_t *)t_guarded(der, n);
		enum mp_status st = tls_dn_oneline(g, n, out, sizeof(out));
		CHECK_INT(st, dn_rows[r].st);
		if (st == MP_OK) {
			CHECK_S(out, dn_rows[r].oneline);
		}
		st = tls_dn_rfc2253(g, n, out, sizeof(out));
		if (dn_rows[r].rfc2253 == NULL) {
			CHECK_INT(st, MP_INVALID);
		} else {
			CHECK_INT(st, dn_rows[r].st);
			if (st == MP_OK) {
				CHECK_S(out, dn_rows[r].rfc2253);
			}
		}
		/* every proper prefix of a good name is refused, never over-read */
		if (dn_rows[r].st == MP_OK) {
			for (size_t k = 0; k < n; k++) {
				g = (const uint8_t *)t_guarded(der, k);
				CHECK(tls_dn_oneline(g, k, out, sizeof(out)) != MP_OK);
				CHECK(tls_dn_rfc2253(g, k, out, sizeof(out)) != MP_OK);
			}
		}
	}
}

TEST(tls_dn_limits)
{
	/* output capacity: exactly enough, one short */
	uint8_t der[4096];
	size_t n = unhex("30153113301106035504030c0a2320612f622b632c6420", der);
	char out[64];
	const char *want = "/CN=# a\\/b\\+c,d ";
	size_t wl = strlen(want);
	CHECK_INT(tls_dn_oneline(der, n, out, wl + 1), MP_OK);
	CHECK_S(out, want);
	CHECK_INT(tls_dn_oneline(der, n, out, wl), MP_TOOLONG);
	CHECK_INT(tls_dn_oneline(der, n, out, 0), MP_TOOLONG);
	/* AVAs: 64 is the most a name may have */
	for (int count = 63; count <= 65; count++) {
		size_t o = 0;
		der[o++] = 0x30;
		der[o++] = 0x82;
		size_t body = (size_t)count * 11;
		der[o++] = (uint8_t)(body >> 8);
		der[o++] = (uint8_t)body;
		for (int i = 0; i < count; i++) {
			static const uint8_t rdn[] = { 0x31, 0x09, 0x30, 0x07, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x00 };
			memcpy(der + o, rdn, sizeof(rdn));
			o += sizeof(rdn);
		}
		char big[2048];
		CHECK_INT(tls_dn_oneline(der, o, big, sizeof(big)), count <= 64 ? MP_OK : MP_TOOLONG);
		CHECK_INT(tls_dn_rfc2253(der, o, big, sizeof(big)), count <= 64 ? MP_OK : MP_TOOLONG);
	}
}

TEST(tls_serial_hex_rows)
{
	static const struct {
		const char *hex;
		enum mp_status st;
		const char *want;
	} rows[] = {
		{ "00", MP_OK, "00" },
		{ "01", MP_OK, "01" },
		{ "7f", MP_OK, "7F" },
		{ "00a1", MP_OK, "A1" },
		{ "1234abcd", MP_OK, "1234ABCD" },
		{ "ff", MP_OK, "-01" },
		{ "80", MP_OK, "-80" },
		{ "ff7f", MP_OK, "-81" },
		{ "", MP_INVALID, "" },
	};
	for (size_t r = 0; r < MP_ARRAY_LEN(rows); r++) {
		uint8_t b[16];
		char out[64];
		size_t n = unhex(rows[r].hex, b);
		CHECK_INT(tls_serial_hex((const uint8_t *)t_guarded(b, n), n, out, sizeof(out)), rows[r].st);
		if (rows[r].st == MP_OK) {
			CHECK_S(out, rows[r].want);
		}
	}
	/* TLS_SERIAL_MAX bytes of magnitude (plus a sign byte) fit; one more does not */
	uint8_t big[TLS_SERIAL_MAX + 2];
	char out[2 * TLS_SERIAL_MAX + 8];
	memset(big, 0x11, sizeof(big));
	CHECK_INT(tls_serial_hex(big, TLS_SERIAL_MAX - 1, out, sizeof(out)), MP_OK);
	CHECK_INT(tls_serial_hex(big, TLS_SERIAL_MAX, out, sizeof(out)), MP_OK);
	CHECK_INT(strlen(out), 2 * TLS_SERIAL_MAX);
	CHECK_INT(tls_serial_hex(big, TLS_SERIAL_MAX + 1, out, sizeof(out)), MP_TOOLONG);
	big[0] = 0x00;
	big[1] = 0x91;
	CHECK_INT(tls_serial_hex(big, TLS_SERIAL_MAX + 1, out, sizeof(out)), MP_OK);
	CHECK_INT(tls_serial_hex(big, TLS_SERIAL_MAX, out, 2 * TLS_SERIAL_MAX - 2), MP_TOOLONG);
}

TEST(tls_der_times)
{
	int64_t t;
	CHECK_INT(tls_der_time(0x17, (const uint8_t *)"700101000000Z", 13, &t), MP_OK);
	CHECK_INT(t, 0);
	CHECK_INT(tls_der_time(0x17, (const uint8_t *)"491231235959Z", 13, &t), MP_OK);
	CHECK_INT(t, 2524607999LL);
	CHECK_INT(tls_der_time(0x17, (const uint8_t *)"500101000000Z", 13, &t), MP_OK);
	CHECK_INT(t, -631152000LL);
	CHECK_INT(tls_der_time(0x18, (const uint8_t *)"20380119031408Z", 15, &t), MP_OK);
	CHECK_INT(t, 2147483648LL);
	CHECK_INT(tls_der_time(0x18, (const uint8_t *)"99991231235959Z", 15, &t), MP_OK);
	CHECK_INT(tls_der_time(0x17, (const uint8_t *)"700101000000", 12, &t), MP_INVALID);
	CHECK_INT(tls_der_time(0x17, (const uint8_t *)"701301000000Z", 13, &t), MP_INVALID);
	CHECK_INT(tls_der_time(0x17, (const uint8_t *)"70010100000aZ", 13, &t), MP_INVALID);
	CHECK_INT(tls_der_time(0x18, (const uint8_t *)"700101000000Z", 13, &t), MP_INVALID);
	CHECK_INT(tls_der_time(0x04, (const uint8_t *)"700101000000Z", 13, &t), MP_INVALID);
}

TEST(tls_san_ip)
{
	/* dNSName "a", iPAddress 127.0.0.1, iPAddress ::1 */
	uint8_t san[64];
	size_t n = unhex("820161 87047f000001 871000000000000000000000000000000001", san);
	uint8_t v4[4] = { 127, 0, 0, 1 }, v4b[4] = { 127, 0, 0, 2 }, v6[16] = { 0 };
	v6[15] = 1;
	CHECK(tls_san_has_ip(san, n, v4, 4));
	CHECK(!tls_san_has_ip(san, n, v4b, 4));
	CHECK(tls_san_has_ip(san, n, v6, 16));
	CHECK(!tls_san_has_ip(san, n - 1, v6, 16)); /* truncated entry */
	CHECK(!tls_san_has_ip(NULL, 0, v4, 4));
}

/* ---- PEM, base64, PBKDF2 ------------------------------------------------ */

TEST(tls_base64)
{
	static const struct {
		const char *in;
		enum mp_status st;
		const char *out;
	} rows[] = {
		{ "", MP_OK, "" },
		{ "Zg==", MP_OK, "f" },
		{ "Zm8=", MP_OK, "fo" },
		{ "Zm9v", MP_OK, "foo" },
		{ "Zm9v\r\nYmFy", MP_OK, "foobar" },
		{ " Z m 9 v ", MP_OK, "foo" },
		{ "Zg", MP_INVALID, "" },
		{ "Zg=", MP_INVALID, "" },
		{ "Z===", MP_INVALID, "" },
		{ "Zg==Zg==", MP_INVALID, "" },
		{ "Zm9*", MP_INVALID, "" },
		{ "=", MP_INVALID, "" },
	};
	for (size_t r = 0; r < MP_ARRAY_LEN(rows); r++) {
		uint8_t out[16];
		size_t n = 99;
		const char *g = t_guarded(rows[r].in, strlen(rows[r].in));
		CHECK_INT(tls_b64_decode(g, strlen(rows[r].in), out, sizeof(out), &n), rows[r].st);
		if (rows[r].st == MP_OK) {
			CHECK_MEM(out, n, rows[r].out);
		}
	}
	uint8_t two[2];
	size_t n;
	CHECK_INT(tls_b64_decode("Zm9v", 4, two, 2, &n), MP_TOOLONG);
	/* encode/decode round trip with line breaks every 64 columns */
	uint8_t der[200], back[200];
	for (size_t i = 0; i < sizeof(der); i++) {
		der[i] = (uint8_t)(i * 7);
	}
	char pem[512];
	size_t pl = tls_pem_encode("CERTIFICATE", der, sizeof(der), pem, sizeof(pem));
	CHECK(pl > 0);
	CHECK(strncmp(pem, "-----BEGIN CERTIFICATE-----\n", 28) == 0);
	CHECK(strcmp(pem + pl - 26, "-----END CERTIFICATE-----\n") == 0);
	CHECK(pem[28 + 64] == '\n');
	size_t off = 0;
	struct tls_pem p;
	CHECK_INT(tls_pem_next(pem, pl, &off, &p), MP_OK);
	CHECK_INT(tls_b64_decode(p.body.p, p.body.n, back, sizeof(back), &n), MP_OK);
	CHECK(n == sizeof(der) && memcmp(back, der, n) == 0);
	CHECK_INT(tls_pem_encode("CERTIFICATE", der, sizeof(der), pem, pl), 0);
}

TEST(tls_pem_framing)
{
	const char *text = "junk before\n"
			   "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
			   "-----BEGIN RSA PRIVATE KEY-----\r\n"
			   "Proc-Type: 4,ENCRYPTED\r\n"
			   "DEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\r\n"
			   "\r\n"
			   "Zm9v\r\n"
			   "-----END RSA PRIVATE KEY-----\r\n";
	size_t off = 0, n = strlen(text);
	struct tls_pem p;
	struct mp_str v;
	const char *g = t_guarded(text, n);
	CHECK_INT(tls_pem_next(g, n, &off, &p), MP_OK);
	CHECK_MEM(p.label.p, p.label.n, "EC PARAMETERS");
	CHECK_INT(p.headers.n, 0);
	CHECK_INT(tls_pem_next(g, n, &off, &p), MP_OK);
	CHECK_MEM(p.label.p, p.label.n, "RSA PRIVATE KEY");
	CHECK_INT(tls_pem_header(&p, "DEK-Info", &v), MP_OK);
	CHECK_MEM(v.p, v.n, "AES-128-CBC,00112233445566778899AABBCCDDEEFF");
	CHECK_INT(tls_pem_header(&p, "Proc-Type", &v), MP_OK);
	CHECK_MEM(v.p, v.n, "4,ENCRYPTED");
	CHECK_INT(tls_pem_header(&p, "X", &v), MP_AGAIN);
	CHECK_MEM(p.body.p, p.body.n, "Zm9v\r\n");
	CHECK_INT(tls_pem_next(g, n, &off, &p), MP_AGAIN);
	/* every prefix: never over-reads, never accepts an unterminated object */
	for (size_t k = 0; k < n; k++) {
		off = 0;
		g = t_guarded(text, k);
		enum mp_status st;
		while ((st = tls_pem_next(g, k, &off, &p)) == MP_OK) {
		}
		CHECK(st == MP_AGAIN || st == MP_INVALID);
	}
	static const char *const bad[] = {
		"-----BEGIN X-----\nZm9v\n",                    /* no END */
		"-----BEGIN X-----\nZm9v\n-----END Y-----\n",   /* wrong END */
		"-----BEGIN -----\n-----END -----\n",           /* empty label */
		"-----BEGIN X\nZm9v\n-----END X-----\n",        /* unterminated BEGIN line */
		"-----BEGIN X-----\nA: b\n-----END X-----\n",   /* headers never end */
	};
	for (size_t i = 0; i < MP_ARRAY_LEN(bad); i++) {
		off = 0;
		CHECK_INT(tls_pem_next(bad[i], strlen(bad[i]), &off, &p), MP_INVALID);
	}
}

static void hexs(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		sprintf(out + 2 * i, "%02x", p[i]);
	}
}

TEST(tls_pbkdf2_vectors)
{
	/* RFC 6070 */
	uint8_t out[25];
	char h[64];
	tls_pbkdf2(&br_sha1_vtable, "password", 8, (const uint8_t *)"salt", 4, 1, out, 20);
	hexs(out, 20, h);
	CHECK_S(h, "0c60c80f961f0e71f3a9b524af6012062fe037a6");
	tls_pbkdf2(&br_sha1_vtable, "password", 8, (const uint8_t *)"salt", 4, 4096, out, 20);
	hexs(out, 20, h);
	CHECK_S(h, "4b007901b765489abead49d926f721d065a429c1");
	tls_pbkdf2(&br_sha1_vtable, "passwordPASSWORDpassword", 24,
		   (const uint8_t *)"saltSALTsaltSALTsaltSALTsaltSALTsalt", 36, 4096, out, 25);
	hexs(out, 25, h);
	CHECK_S(h, "3d2eec4fe41c849b80c8d83662c0e44a8b291a964cf2f07038");
	/* RFC 7914 11 (PBKDF2-HMAC-SHA256) */
	uint8_t o2[64];
	char h2[160];
	tls_pbkdf2(&br_sha256_vtable, "passwd", 6, (const uint8_t *)"salt", 4, 1, o2, 64);
	hexs(o2, 64, h2);
	CHECK_S(h2, "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
		      "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783");
}

/* ---- fixtures made with the openssl command ------------------------------ */

static char fxdir[64];
static int fx_state; /* 0 = not tried, 1 = ready, -1 = unavailable */

static const char *fx(const char *name)
{
	static char paths[8][128];
	static int k;
	k = (k + 1) % 8;
	snprintf(paths[k], sizeof(paths[k]), "%s/%s", fxdir, name);
	return paths[k];
}

__attribute__((format(printf, 1, 2))) static bool sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	char full[2300];
	snprintf(full, sizeof(full), "cd %s && (%s) >/dev/null 2>&1", fxdir, cmd);
	return system(full) == 0;
}

static void fixtures_remove(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fxdir);
	if (system(cmd) != 0) {
		fprintf(stderr, "    (tls: could not remove %s)\n", fxdir);
	}
}

static bool fixtures(void)
{
	if (fx_state != 0) {
		return fx_state > 0;
	}
	fx_state = -1;
	snprintf(fxdir, sizeof(fxdir), "/tmp/mproxy-tls-XXXXXX");
	if (mkdtemp(fxdir) == NULL) {
		fprintf(stderr, "    (tls: mkdtemp failed, fixture tests skipped)\n");
		return false;
	}
	atexit(fixtures_remove);
	if (system("openssl version >/dev/null 2>&1") != 0) {
		fprintf(stderr, "    (tls: no openssl command, fixture tests skipped)\n");
		return false;
	}
	const char *ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256";
	bool ok =
		sh("printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > srv.ext") &&
		sh("printf 'basicConstraints=CA:FALSE\\nkeyUsage=digitalSignature,keyEncipherment\\n' > cli.ext") &&
		sh("openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 3 -subj "
		   "'/CN=Test CA/O=mproxy tests'") &&
		sh("openssl req -x509 %s -nodes -keyout ca2.key -out ca2.pem -days 3 -subj '/CN=Other CA'", ec) &&
		sh("openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj /CN=localhost && "
		   "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -set_serial 0x0102 -out srv.pem -days 2 "
		   "-extfile srv.ext") &&
		sh("openssl req %s -nodes -keyout srvec.key -out srvec.csr -subj /CN=localhost && "
		   "openssl x509 -req -in srvec.csr -CA ca.pem -CAkey ca.key -set_serial 0x0103 -out srvec.pem -days 2 "
		   "-extfile srv.ext",
		   ec) &&
		sh("cat srv.pem ca.pem > srvchain.pem") &&
		sh("openssl req -newkey rsa:2048 -nodes -keyout cli.key -out cli.csr -subj "
		   "'/C=US/O=Example Org/CN=client one' && openssl x509 -req -in cli.csr -CA ca.pem -CAkey ca.key "
		   "-set_serial 0x00A1B2C3D4 -out cli.pem -days 2 -extfile cli.ext") &&
		sh("openssl req -x509 %s -nodes -keyout self.key -out self.pem -days 2 -subj /CN=selfie", ec) &&
		sh("openssl x509 -req -in srv.csr -CA ca2.pem -CAkey ca2.key -set_serial 7 -out srvother.pem -days 2 "
		   "-extfile srv.ext") &&
		/* the same key in every format */
		sh("openssl rsa -in srv.key -traditional -out k_rsa_trad.key") &&
		sh("openssl ec -in srvec.key -out k_ec_sec1.key") &&
		sh("openssl ecparam -name prime256v1 -out k_ec_param.key && cat k_ec_sec1.key >> k_ec_param.key") &&
		sh("openssl rsa -in srv.key -traditional -aes128 -passout pass:secret -out k_rsa_aes128.key") &&
		sh("openssl rsa -in srv.key -traditional -aes256 -passout pass:secret -out k_rsa_aes256.key") &&
		sh("openssl rsa -in srv.key -traditional -des3 -passout pass:secret -out k_rsa_des3.key") &&
		sh("openssl ec -in srvec.key -aes256 -passout pass:secret -out k_ec_aes256.key") &&
		sh("openssl pkcs8 -topk8 -in srv.key -v2 aes-256-cbc -v2prf hmacWithSHA256 -passout pass:secret "
		   "-out k_p8_aes256.key") &&
		sh("openssl pkcs8 -topk8 -in srvec.key -v2 aes-128-cbc -v2prf hmacWithSHA1 -passout pass:secret "
		   "-out k_p8_aes128.key") &&
		sh("openssl pkcs8 -topk8 -in srv.key -v2 des3 -passout pass:secret -out k_p8_des3.key") &&
		sh("printf 'wrong\\nsecret\\n' > pw.txt && printf 'wrong\\r\\n' > pwbad.txt") &&
		sh("printf 'not a pem\\n' > junk.pem") &&
		/* CRLs: one revoking cli.pem, one empty */
		sh("printf '[ca]\\ndefault_ca=d\\n[d]\\ndatabase=index.txt\\ncrlnumber=crlnum\\ndefault_md=sha256\\n"
		   "default_crl_days=2\\n' > ca.cnf && : > index.txt && echo 01 > crlnum") &&
		sh("openssl ca -config ca.cnf -keyfile ca.key -cert ca.pem -gencrl -out crl_empty.pem") &&
		sh("openssl ca -config ca.cnf -keyfile ca.key -cert ca.pem -revoke cli.pem && "
		   "openssl ca -config ca.cnf -keyfile ca.key -cert ca.pem -gencrl -out crl_cli.pem") &&
		sh("cp ca2.pem ca2.crt && : > index2.txt && echo 01 > crlnum2 && sed 's/index.txt/index2.txt/;s/crlnum$/crlnum2/' "
		   "ca.cnf > ca2.cnf && openssl ca -config ca2.cnf -keyfile ca2.key -cert ca2.pem -gencrl -out crl_other.pem") &&
		sh("chmod 600 *.key");
	if (!ok) {
		fprintf(stderr, "    (tls: openssl failed making fixtures in %s, fixture tests skipped)\n", fxdir);
		return false;
	}
	fx_state = 1;
	return true;
}

/* Read a file whole (NUL-terminated). */
static char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		return NULL;
	}
	static char buf[65536];
	*n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[*n] = '\0';
	fclose(f);
	return buf;
}

/* One line of a command's output, trailing newline removed. */
static void sh_out(char *out, size_t cap, const char *cmd)
{
	char full[1024];
	snprintf(full, sizeof(full), "cd %s && %s 2>/dev/null", fxdir, cmd);
	out[0] = '\0';
	FILE *p = popen(full, "r");
	if (p == NULL) {
		return;
	}
	if (fgets(out, (int)cap, p) == NULL) {
		out[0] = '\0';
	}
	pclose(p);
	out[strcspn(out, "\r\n")] = '\0';
}

static bool first_der(const char *path, uint8_t *der, size_t cap, size_t *n)
{
	size_t tl, off = 0;
	char *text = slurp(path, &tl);
	struct tls_pem p;
	return text != NULL && tls_pem_next(text, tl, &off, &p) == MP_OK &&
	       tls_b64_decode(p.body.p, p.body.n, der, cap, n) == MP_OK;
}

TEST(tls_cert_fields_match_openssl)
{
	if (!fixtures()) {
		return;
	}
	uint8_t der[8192];
	size_t n;
	CHECK(first_der(fx("cli.pem"), der, sizeof(der), &n));
	struct tls_cert_info ci;
	CHECK_INT(tls_cert_parse(der, n, &ci), MP_OK);
	char mine[1024], want[1024];
	CHECK_INT(tls_dn_rfc2253(ci.subject, ci.subject_len, mine, sizeof(mine)), MP_OK);
	sh_out(want, sizeof(want), "openssl x509 -in cli.pem -noout -subject -nameopt RFC2253");
	CHECK_S(mine, want + strlen("subject="));
	CHECK_S(mine, "CN=client one,O=Example Org,C=US");
	CHECK_INT(tls_dn_oneline(ci.subject, ci.subject_len, mine, sizeof(mine)), MP_OK);
	CHECK_S(mine, "/C=US/O=Example Org/CN=client one");
	CHECK_INT(tls_dn_oneline(ci.issuer, ci.issuer_len, mine, sizeof(mine)), MP_OK);
	CHECK_S(mine, "/CN=Test CA/O=mproxy tests");
	CHECK_INT(tls_serial_hex(ci.serial, ci.serial_len, mine, sizeof(mine)), MP_OK);
	sh_out(want, sizeof(want), "openssl x509 -in cli.pem -noout -serial");
	CHECK_S(mine, want + strlen("serial="));
	CHECK_S(mine, "A1B2C3D4");
	CHECK(ci.not_after > ci.not_before);
	CHECK(ci.san == NULL);
	CHECK(first_der(fx("srv.pem"), der, sizeof(der), &n));
	CHECK_INT(tls_cert_parse(der, n, &ci), MP_OK);
	uint8_t lo[4] = { 127, 0, 0, 1 };
	CHECK(tls_san_has_ip(ci.san, ci.san_len, lo, 4));
	/* every proper prefix is refused */
	for (size_t k = 0; k < n; k += 7) {
		CHECK(tls_cert_parse((const uint8_t *)t_guarded(der, k), k, &ci) != MP_OK);
	}
}

static const struct {
	const char *file;
	int type;
	bool encrypted;
} key_rows[] = {
	{ "srv.key", BR_KEYTYPE_RSA, false },        { "srvec.key", BR_KEYTYPE_EC, false },
	{ "k_rsa_trad.key", BR_KEYTYPE_RSA, false }, { "k_ec_sec1.key", BR_KEYTYPE_EC, false },
	{ "k_ec_param.key", BR_KEYTYPE_EC, false },  { "k_rsa_aes128.key", BR_KEYTYPE_RSA, true },
	{ "k_rsa_aes256.key", BR_KEYTYPE_RSA, true }, { "k_rsa_des3.key", BR_KEYTYPE_RSA, true },
	{ "k_ec_aes256.key", BR_KEYTYPE_EC, true },  { "k_p8_aes256.key", BR_KEYTYPE_RSA, true },
	{ "k_p8_aes128.key", BR_KEYTYPE_EC, true },  { "k_p8_des3.key", BR_KEYTYPE_RSA, true },
};

TEST(tls_key_formats)
{
	if (!fixtures()) {
		return;
	}
	struct tls_pwlist good = { { (char *)"wrong", (char *)"secret" }, { 5, 6 }, 2 };
	struct tls_pwlist badpw = { { (char *)"wrong" }, { 5 }, 1 };
	for (size_t r = 0; r < MP_ARRAY_LEN(key_rows); r++) {
		size_t n;
		char *text = slurp(fx(key_rows[r].file), &n);
		CHECK(text != NULL);
		if (text == NULL) {
			continue;
		}
		struct tls_key k;
		char why[128];
		enum mp_status st = tls_key_decode(text, n, &good, &k, why, sizeof(why));
		if (st != MP_OK) {
			t_fail(__FILE__, __LINE__, key_rows[r].file);
			continue;
		}
		CHECK_INT(k.type, key_rows[r].type);
		tls_key_free(&k);
		if (key_rows[r].encrypted) {
			CHECK_INT(tls_key_decode(text, n, &badpw, &k, why, sizeof(why)), MP_INVALID);
			CHECK_S(why, "bad password or corrupt key");
			CHECK_INT(tls_key_decode(text, n, NULL, &k, why, sizeof(why)), MP_INVALID);
			CHECK(strstr(why, "ssl_password_file") != NULL);
		}
	}
	struct tls_key k;
	char why[128];
	CHECK_INT(tls_key_decode("nothing", 7, NULL, &k, why, sizeof(why)), MP_INVALID);
	CHECK_S(why, "no private key found");
	const char *garbage = "-----BEGIN PRIVATE KEY-----\nZm9v\n-----END PRIVATE KEY-----\n";
	CHECK_INT(tls_key_decode(garbage, strlen(garbage), NULL, &k, why, sizeof(why)), MP_INVALID);
	const char *weird = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: CAST5-CBC,0011223344556677\n"
			    "\nZm9v\n-----END RSA PRIVATE KEY-----\n";
	CHECK_INT(tls_key_decode(weird, strlen(weird), &good, &k, why, sizeof(why)), MP_INVALID);
	CHECK(strstr(why, "unsupported key encryption") != NULL);
}

/* ---- contexts from a configuration -------------------------------------- */

static char notices[4096];

static void collect(int level, const char *msg)
{
	(void)level;
	strncat(notices, msg, sizeof(notices) - strlen(notices) - 2);
	strcat(notices, "\n");
}

static struct conf_ssl_cert certs_rsa_ec[2];

static void srv_init(struct conf_server *s, const char *cert, const char *key)
{
	memset(s, 0, sizeof(*s));
	s->file = "/etc/mproxy.conf";
	s->line = 7;
	s->protocol = PROTO_IMAP;
	s->ssl.file = "/etc/mproxy.conf";
	s->ssl.line = 12;
	certs_rsa_ec[0] = (struct conf_ssl_cert){ cert, key, "/etc/mproxy.conf", 12 };
	s->ssl.certs = certs_rsa_ec;
	s->ssl.ncerts = 1;
	s->ssl.protocols = TLSP_TLSv1_2 | TLSP_TLSv1_3;
	s->ssl.ciphers = "HIGH:!aNULL:!MD5";
	s->ssl.ecdh_curve = "auto";
	s->ssl.session_timeout_ms = 300000;
	s->ssl.verify_depth = 1;
}

TEST(tls_ctx_errors)
{
	if (!fixtures()) {
		return;
	}
	struct conf_server s;
	char err[1024];
	struct tls_server_ctx *c;

	srv_init(&s, "/nonexistent/c.pem", fx("srv.key"));
	c = tls_server_ctx_new(&s, err, sizeof(err), collect);
	CHECK(c == NULL);
	CHECK(strstr(err, "cannot load certificate \"/nonexistent/c.pem\": open() failed") == err);
	CHECK(strstr(err, " in /etc/mproxy.conf:12") != NULL);

	srv_init(&s, fx("junk.pem"), fx("srv.key"));
	CHECK(tls_server_ctx_new(&s, err, sizeof(err), collect) == NULL);
	CHECK(strstr(err, "no certificate found") != NULL);

	srv_init(&s, fx("srv.pem"), fx("srvec.key"));
	CHECK(tls_server_ctx_new(&s, err, sizeof(err), collect) == NULL);
	CHECK(strstr(err, "does not match certificate") != NULL);

	srv_init(&s, fx("srv.pem"), fx("cli.key"));
	CHECK(tls_server_ctx_new(&s, err, sizeof(err), collect) == NULL);
	CHECK(strstr(err, "cannot load certificate key") == err);

	srv_init(&s, fx("srv.pem"), fx("k_rsa_aes128.key"));
	CHECK(tls_server_ctx_new(&s, err, sizeof(err), collect) == NULL);
	CHECK(strstr(err, "no ssl_password_file") != NULL);
	s.ssl.password_file = fx("pwbad.txt");
	CHECK(tls_server_ctx_new(&s, err, sizeof(err), collect) == NULL);
	CHECK(strstr(err, "bad password") != NULL);
	s.ssl.password_file = fx("pw.txt");
	c = tls_server_ctx_new(&s, err, sizeof(err), collect);
	CHECK(c != NULL);
	tls_server_ctx_free(c);

	srv_init(&s, fx("srv.pem"), fx("srv.key"));
	s.ssl.ciphers = "MEDIUM:3DES";
	CHECK(tls_server_ctx_new(&s, err, sizeof(err), collect) == NULL);
	CHECK(strstr(err, "no cipher suite matches \"ssl_ciphers MEDIUM:3DES\"") == err);
	s.ssl.ciphers = "ECDSA"; /* only an RSA certificate */
	CHECK(tls_server_ctx_new(&s, err, sizeof(err), collect) == NULL);
	CHECK(strstr(err, "can be used") != NULL);

	srv_init(&s, fx("srv.pem"), fx("srv.key"));
	s.ssl.protocols = TLSP_TLSv1_3;
	CHECK(tls_server_ctx_new(&s, err, sizeof(err), collect) == NULL);
	CHECK(strstr(err, "no protocol left") != NULL);

	srv_init(&s, fx("srv.pem"), fx("srv.key"));
	s.ssl.ecdh_curve = "X448:brainpoolP256r1";
	CHECK(tls_server_ctx_new(&s, err, sizeof(err), collect) == NULL);
	CHECK(strstr(err, "no supported curve") != NULL);

	srv_init(&s, fx("srv.pem"), fx("srv.key"));
	s.ssl.ncerts = 0;
	CHECK(tls_server_ctx_new(&s, err, sizeof(err), collect) == NULL);
	CHECK(strstr(err, "no \"ssl_certificate\"") == err);

	/* accepted with notices */
	notices[0] = '\0';
	srv_init(&s, fx("srv.pem"), fx("srv.key"));
	s.ssl.protocols = TLSP_TLSv1 | TLSP_TLSv1_2 | TLSP_TLSv1_3 | TLSP_SSLv3;
	s.ssl.dhparam = "/etc/dh.pem";
	const char *cmds[] = { "Options", "-SessionTicket" };
	s.ssl.conf_commands.v = cmds;
	s.ssl.conf_commands.n = 2;
	s.ssl.ecdh_curve = "X448:prime256v1";
	c = tls_server_ctx_new(&s, err, sizeof(err), collect);
	CHECK(c != NULL);
	CHECK(strstr(notices, "ssl_dhparam") != NULL);
	CHECK(strstr(notices, "ssl_conf_command Options") != NULL);
	CHECK(strstr(notices, "TLSv1.3") != NULL);
	CHECK(strstr(notices, "SSLv3") != NULL);
	CHECK(strstr(notices, "X448") != NULL);
	CHECK(strstr(notices, "TLSv1.1 is enabled too") != NULL);
	CHECK(strstr(notices, "in /etc/mproxy.conf:12") != NULL);
	tls_server_ctx_free(c);

	/* a CA file that is not PEM, for client certificates */
	srv_init(&s, fx("srv.pem"), fx("srv.key"));
	s.ssl.verify_client = VERIFY_ON;
	s.ssl.client_certificate = fx("junk.pem");
	CHECK(tls_server_ctx_new(&s, err, sizeof(err), collect) == NULL);
	CHECK(strstr(err, "cannot load \"ssl_client_certificate\"") == err);

	/* proxy side: verification needs trust anchors */
	memset(&s, 0, sizeof(s));
	s.file = "/etc/mproxy.conf";
	s.line = 30;
	s.proxy_ssl.mode = 1;
	s.proxy_ssl.verify = true;
	CHECK(tls_client_ctx_new(&s, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "proxy_ssl_trusted_certificate") != NULL);
	CHECK(strstr(err, " in /etc/mproxy.conf:30") != NULL);
}

/* ---- handshakes over socketpair() --------------------------------------- */

static void dummy_cb(struct ev_watch *w, unsigned ev)
{
	(void)w;
	(void)ev;
}

static void pair_ios(struct io *a, struct io *b)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
		abort();
	}
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	io_init(a, sv[0], dummy_cb);
	io_init(b, sv[1], dummy_cb);
}

static void close_io(struct io *io)
{
	if (io->tls_vt != NULL) {
		io->tls_vt->free(io);
		io->tls_vt = NULL;
	}
	if (io->w.fd >= 0) {
		close(io->w.fd);
		io->w.fd = -1;
	}
	buf_put(io->in);
	buf_put(io->out);
	io->in = io->out = NULL;
}

/* Both handshakes to the end (either may fail). */
static void handshake_both(struct io *s, struct io *c, enum mp_status *ss, enum mp_status *cs)
{
	*ss = *cs = MP_AGAIN;
	for (int i = 0; i < 1000 && (*ss == MP_AGAIN || *cs == MP_AGAIN); i++) {
		if (*cs == MP_AGAIN) {
			*cs = tls_handshake(c);
		}
		if (*ss == MP_AGAIN) {
			*ss = tls_handshake(s);
		}
	}
}

/* Move n bytes from one io to the other through io_write/io_flush and
 * io_read, as the relay would; true when they arrive intact. */
static bool transfer(struct io *from, struct io *to, size_t n)
{
	static uint8_t src[300000], dst[300000];
	for (size_t i = 0; i < n; i++) {
		src[i] = (uint8_t)(i * 31 + 7);
	}
	size_t sent = 0, got = 0;
	for (int round = 0; round < 100000 && got < n; round++) {
		if (sent < n && !io_out_pending(from)) {
			size_t k = MP_MIN(n - sent, 5000);
			if (io_write(from, src + sent, k) != MP_OK) {
				return false;
			}
			sent += k;
		}
		if (io_flush(from) == MP_ERR) {
			return false;
		}
		for (;;) {
			ssize_t r = io_read(to, dst + got, n - got);
			if (r > 0) {
				got += (size_t)r;
				continue;
			}
			if (r == 0 || errno != EAGAIN) {
				return false;
			}
			break;
		}
	}
	return got == n && memcmp(src, dst, n) == 0;
}

static struct tls_server_ctx *server_ctx(const char *cert, const char *key, enum mail_proto proto)
{
	struct conf_server s;
	char err[512];
	srv_init(&s, cert, key);
	s.protocol = proto;
	s.ssl.session_cache = "shared:SSL:1m";
	s.ssl.session_cache_size = 1u << 20;
	struct tls_server_ctx *c = tls_server_ctx_new(&s, err, sizeof(err), NULL);
	if (c == NULL) {
		fprintf(stderr, "    %s\n", err);
	}
	return c;
}

static struct tls_client_ctx *client_ctx(const char *ca, const char *name, enum mail_proto proto)
{
	struct conf_server s;
	char err[512];
	memset(&s, 0, sizeof(s));
	s.file = "t";
	s.protocol = proto;
	s.proxy_ssl.mode = 1;
	s.proxy_ssl.verify = ca != NULL;
	s.proxy_ssl.trusted_certificate = ca;
	s.proxy_ssl.name = name;
	s.proxy_ssl.verify_depth = 1;
	struct tls_client_ctx *c = tls_client_ctx_new(&s, err, sizeof(err));
	if (c == NULL) {
		fprintf(stderr, "    %s\n", err);
	}
	return c;
}

TEST(tls_handshake_data_resume)
{
	if (!fixtures()) {
		return;
	}
	struct tls_server_ctx *sc = server_ctx(fx("srvchain.pem"), fx("srv.key"), PROTO_IMAP);
	struct tls_client_ctx *cc = client_ctx(fx("ca.pem"), "localhost", PROTO_IMAP);
	CHECK(sc != NULL && cc != NULL);
	if (sc == NULL || cc == NULL) {
		return;
	}
	for (int round = 0; round < 3; round++) {
		struct io s, c;
		enum mp_status ss, cs;
		pair_ios(&s, &c);
		CHECK_INT(tls_start_server(&s, sc), MP_OK);
		CHECK_INT(tls_start_client(&c, cc), MP_OK);
		handshake_both(&s, &c, &ss, &cs);
		CHECK_INT(ss, MP_OK);
		CHECK_INT(cs, MP_OK);
		CHECK_S(tls_protocol_name(&s), "TLSv1.2");
		CHECK_S(tls_cipher_name(&s), "ECDHE-RSA-AES256-GCM-SHA384");
		CHECK_S(tls_cipher_name(&c), tls_cipher_name(&s));
		CHECK(tls_session_reused(&s) == (round > 0));
		CHECK(tls_session_reused(&c) == (round > 0));
		CHECK_INT(tls_peer_cert_status(&s), TLS_CERT_NONE_OK);
		struct tls_peer_cert pc;
		tls_peer_cert(&s, &pc);
		CHECK(!pc.present);
		CHECK_S(pc.verify, "NONE");
		if (round == 0) {
			/* both ways, larger than the records and the socket buffers */
			CHECK(transfer(&c, &s, 250000));
			CHECK(transfer(&s, &c, 250000));
			CHECK(transfer(&c, &s, 1));
		} else {
			CHECK(transfer(&s, &c, 100));
		}
		if (round == 1) {
			/* clean close: close_notify reaches the server as EOF */
			char b[16];
			tls_shutdown(&c);
			CHECK_INT(io_read(&s, b, sizeof(b)), 0);
			CHECK(!tls_truncated(&s));
		} else {
			/* hard close: EOF all the same, but remembered */
			char b[16];
			close(c.w.fd);
			c.w.fd = -1;
			CHECK_INT(io_read(&s, b, sizeof(b)), 0);
			CHECK(tls_truncated(&s));
		}
		close_io(&s);
		close_io(&c);
	}
	/* a server with another identity (another protocol, so another ALPN
	 * name and cache key) does not resume the session */
	struct tls_server_ctx *sc2 = server_ctx(fx("srvchain.pem"), fx("srv.key"), PROTO_POP3);
	struct tls_client_ctx *cc2 = client_ctx(fx("ca.pem"), "localhost", PROTO_POP3);
	CHECK(sc2 != NULL && cc2 != NULL);
	if (sc2 != NULL && cc2 != NULL) {
		/* cc2 has no sessions: borrow cc's by copying its slots */
		memcpy(cc2->sess, cc->sess, sizeof(cc->sess));
		struct io s, c;
		enum mp_status ss, cs;
		pair_ios(&s, &c);
		CHECK_INT(tls_start_server(&s, sc2), MP_OK);
		CHECK_INT(tls_start_client(&c, cc2), MP_OK);
		handshake_both(&s, &c, &ss, &cs);
		CHECK_INT(ss, MP_OK);
		CHECK_INT(cs, MP_OK);
		CHECK(!tls_session_reused(&s));
		CHECK(!tls_session_reused(&c));
		close_io(&s);
		close_io(&c);
	}
	tls_server_ctx_free(sc2);
	tls_client_ctx_free(cc2);
	/* the context outlives its configuration while a connection holds it */
	struct io s, c;
	pair_ios(&s, &c);
	CHECK_INT(tls_start_server(&s, sc), MP_OK);
	tls_server_ctx_free(sc);
	CHECK_INT(tls_start_client(&c, cc), MP_OK);
	tls_client_ctx_free(cc);
	enum mp_status ss, cs;
	handshake_both(&s, &c, &ss, &cs);
	CHECK_INT(ss, MP_OK);
	CHECK_INT(cs, MP_OK);
	close_io(&s);
	close_io(&c);
}

TEST(tls_handshake_ecdsa_and_choice)
{
	if (!fixtures()) {
		return;
	}
	/* RSA and ECDSA pairs in one server: chosen by what the client takes */
	struct conf_server s;
	char err[512];
	srv_init(&s, fx("srv.pem"), fx("srv.key"));
	certs_rsa_ec[1] = (struct conf_ssl_cert){ fx("srvec.pem"), fx("k_p8_aes128.key"), "/etc/mproxy.conf", 13 };
	s.ssl.ncerts = 2;
	s.ssl.password_file = fx("pw.txt");
	s.ssl.prefer_server_ciphers = true;
	s.ssl.ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256";
	struct tls_server_ctx *sc = tls_server_ctx_new(&s, err, sizeof(err), NULL);
	CHECK(sc != NULL);
	struct tls_client_ctx *cc = client_ctx(fx("ca.pem"), "localhost", PROTO_IMAP);
	if (sc == NULL || cc == NULL) {
		return;
	}
	struct io a, b;
	enum mp_status ss, cs;
	pair_ios(&a, &b);
	tls_start_server(&a, sc);
	tls_start_client(&b, cc);
	handshake_both(&a, &b, &ss, &cs);
	CHECK_INT(ss, MP_OK);
	CHECK_INT(cs, MP_OK);
	CHECK_S(tls_cipher_name(&a), "ECDHE-ECDSA-AES128-GCM-SHA256");
	CHECK(transfer(&a, &b, 1000));
	close_io(&a);
	close_io(&b);
	tls_server_ctx_free(sc);
	/* the client's order wins without ssl_prefer_server_ciphers */
	s.ssl.prefer_server_ciphers = false;
	s.ssl.ciphers = "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256";
	sc = tls_server_ctx_new(&s, err, sizeof(err), NULL);
	CHECK(sc != NULL);
	if (sc != NULL) {
		pair_ios(&a, &b);
		tls_start_server(&a, sc);
		tls_start_client(&b, cc);
		handshake_both(&a, &b, &ss, &cs);
		CHECK_INT(ss, MP_OK);
		/* our client lists suites in OpenSSL's order: ECDSA first */
		CHECK_S(tls_cipher_name(&a), "ECDHE-ECDSA-AES128-GCM-SHA256");
		close_io(&a);
		close_io(&b);
		tls_server_ctx_free(sc);
	}
	/* TLS 1.0 only, CBC suites */
	srv_init(&s, fx("srv.pem"), fx("srv.key"));
	s.ssl.protocols = TLSP_TLSv1;
	sc = tls_server_ctx_new(&s, err, sizeof(err), NULL);
	CHECK(sc != NULL);
	if (sc != NULL) {
		pair_ios(&a, &b);
		tls_start_server(&a, sc);
		tls_start_client(&b, cc);
		handshake_both(&a, &b, &ss, &cs);
		CHECK_INT(ss, MP_OK);
		CHECK_S(tls_protocol_name(&a), "TLSv1");
		CHECK_S(tls_cipher_name(&a), "ECDHE-RSA-AES256-SHA");
		CHECK(transfer(&b, &a, 20000));
		close_io(&a);
		close_io(&b);
		tls_server_ctx_free(sc);
	}
	tls_client_ctx_free(cc);
}

TEST(tls_handshake_refusals)
{
	if (!fixtures()) {
		return;
	}
	struct tls_server_ctx *sc = server_ctx(fx("srv.pem"), fx("srv.key"), PROTO_SMTP);
	struct tls_server_ctx *sc_other = server_ctx(fx("srvother.pem"), fx("srv.key"), PROTO_SMTP);
	static const struct {
		const char *ca;
		const char *name;
		bool other;
		const char *err;
	} rows[] = {
		{ "ca.pem", "wrong.example", false, "certificate verify failed: hostname mismatch" },
		{ "ca.pem", "127.0.0.2", false, "certificate verify failed: IP address mismatch" },
		{ "ca.pem", NULL, false, "certificate verify failed: IP address mismatch" }, /* unix socket */
		{ "ca2.pem", "localhost", false, "certificate verify failed: unable to verify the first certificate" },
		{ "ca.pem", "localhost", true, "certificate verify failed: unable to verify the first certificate" },
		{ "ca.pem", "127.0.0.1", false, NULL },
		{ NULL, "whatever", true, NULL }, /* proxy_ssl_verify off */
	};
	for (size_t r = 0; r < MP_ARRAY_LEN(rows); r++) {
		struct tls_client_ctx *cc =
			client_ctx(rows[r].ca != NULL ? fx(rows[r].ca) : NULL, rows[r].name, PROTO_SMTP);
		CHECK(cc != NULL);
		if (cc == NULL || sc == NULL || sc_other == NULL) {
			continue;
		}
		struct io s, c;
		enum mp_status ss, cs;
		pair_ios(&s, &c);
		tls_start_server(&s, rows[r].other ? sc_other : sc);
		tls_start_client(&c, cc);
		handshake_both(&s, &c, &ss, &cs);
		if (rows[r].err == NULL) {
			CHECK_INT(cs, MP_OK);
			CHECK_INT(ss, MP_OK);
		} else {
			CHECK_INT(cs, MP_ERR);
			if (strstr(tls_error(&c), rows[r].err) == NULL) {
				t_fail(__FILE__, __LINE__, tls_error(&c));
			}
			/* the session closes the connection; the server sees that */
			close(c.w.fd);
			c.w.fd = -1;
			CHECK_INT(tls_handshake(&s), MP_ERR);
			CHECK_S(tls_error(&s), "peer closed connection in handshake");
			/* a failed connection reads as an error, never as data */
			char b[8];
			CHECK(io_read(&c, b, sizeof(b)) <= 0);
		}
		close_io(&s);
		close_io(&c);
		tls_client_ctx_free(cc);
	}
	tls_server_ctx_free(sc);
	tls_server_ctx_free(sc_other);
}

/* ---- a bare BearSSL client: client certificates, ALPN offers ------------ */

struct bare {
	br_ssl_client_context cc;
	br_x509_minimal_context xc;
	br_x509_knownkey_context kk;
	unsigned char buf[BR_SSL_BUFSIZE_BIDI];
	br_x509_certificate chain[1];
	uint8_t cert[4096];
	struct tls_key key;
	uint8_t srvkey[1024];
	const char *alpn[4];
	int fd;
};

/* One non-blocking pump step; MP_OK when application data may flow. */
static enum mp_status bare_step(struct bare *b)
{
	br_ssl_engine_context *e = &b->cc.eng;
	for (int i = 0; i < 100; i++) {
		unsigned st = br_ssl_engine_current_state(e);
		if (st & BR_SSL_CLOSED) {
			return MP_ERR;
		}
		size_t n;
		if (st & BR_SSL_SENDREC) {
			unsigned char *p = br_ssl_engine_sendrec_buf(e, &n);
			ssize_t r = send(b->fd, p, n, MSG_NOSIGNAL);
			if (r > 0) {
				br_ssl_engine_sendrec_ack(e, (size_t)r);
				continue;
			}
			return r < 0 && errno == EAGAIN ? MP_AGAIN : MP_ERR;
		}
		if (st & (BR_SSL_SENDAPP | BR_SSL_RECVAPP)) {
			return MP_OK;
		}
		if (st & BR_SSL_RECVREC) {
			unsigned char *p = br_ssl_engine_recvrec_buf(e, &n);
			ssize_t r = recv(b->fd, p, n, 0);
			if (r > 0) {
				br_ssl_engine_recvrec_ack(e, (size_t)r);
				continue;
			}
			return r < 0 && errno == EAGAIN ? MP_AGAIN : MP_ERR;
		}
		return MP_AGAIN;
	}
	return MP_AGAIN;
}

static bool bare_init(struct bare *b, int fd, const char *cert, const char *key, const char *const *alpn, size_t nalpn)
{
	memset(b, 0, sizeof(*b));
	b->fd = fd;
	uint8_t der[4096];
	size_t n;
	if (!first_der(fx("srv.pem"), der, sizeof(der), &n)) {
		return false;
	}
	br_x509_decoder_context dc;
	br_x509_decoder_init(&dc, NULL, NULL);
	br_x509_decoder_push(&dc, der, n);
	const br_x509_pkey *pk = br_x509_decoder_get_pkey(&dc);
	if (pk == NULL || pk->key_type != BR_KEYTYPE_RSA) {
		return false;
	}
	memcpy(b->srvkey, pk->key.rsa.n, pk->key.rsa.nlen);
	memcpy(b->srvkey + pk->key.rsa.nlen, pk->key.rsa.e, pk->key.rsa.elen);
	br_rsa_public_key rk = { b->srvkey, pk->key.rsa.nlen, b->srvkey + pk->key.rsa.nlen, pk->key.rsa.elen };
	br_ssl_client_init_full(&b->cc, &b->xc, NULL, 0);
	br_x509_knownkey_init_rsa(&b->kk, &rk, BR_KEYTYPE_KEYX | BR_KEYTYPE_SIGN);
	br_ssl_engine_set_x509(&b->cc.eng, &b->kk.vtable);
	if (cert != NULL) {
		if (!first_der(fx(cert), b->cert, sizeof(b->cert), &n)) {
			return false;
		}
		b->chain[0].data = b->cert;
		b->chain[0].data_len = n;
		size_t kl;
		char *text = slurp(fx(key), &kl);
		char why[64];
		if (text == NULL || tls_key_decode(text, kl, NULL, &b->key, why, sizeof(why)) != MP_OK) {
			return false;
		}
		if (b->key.type == BR_KEYTYPE_RSA) {
			br_ssl_client_set_single_rsa(&b->cc, b->chain, 1, &b->key.rsa, br_rsa_pkcs1_sign_get_default());
		} else {
			br_ssl_client_set_single_ec(&b->cc, b->chain, 1, &b->key.ec, BR_KEYTYPE_SIGN, 0,
						    br_ec_get_default(), br_ecdsa_sign_asn1_get_default());
		}
	}
	for (size_t i = 0; i < nalpn; i++) {
		b->alpn[i] = alpn[i];
	}
	if (nalpn > 0) {
		br_ssl_engine_set_protocol_names(&b->cc.eng, b->alpn, nalpn);
	}
	br_ssl_engine_set_buffer(&b->cc.eng, b->buf, sizeof(b->buf), 1);
	return br_ssl_client_reset(&b->cc, "localhost", 0) == 1;
}

static void bare_free(struct bare *b)
{
	tls_key_free(&b->key);
}

static void bare_handshake(struct io *s, struct bare *b, enum mp_status *ss, enum mp_status *bs)
{
	*ss = *bs = MP_AGAIN;
	for (int i = 0; i < 1000 && (*ss == MP_AGAIN || *bs == MP_AGAIN); i++) {
		if (*bs == MP_AGAIN) {
			*bs = bare_step(b);
		}
		if (*ss == MP_AGAIN) {
			*ss = tls_handshake(s);
		}
	}
}

TEST(tls_client_certificates)
{
	if (!fixtures()) {
		return;
	}
	static const struct {
		enum verify_client_mode mode;
		const char *cert, *key;
		enum tls_cert_status status;
		const char *verify;
		const char *crl;
	} rows[] = {
		{ VERIFY_ON, "cli.pem", "cli.key", TLS_CERT_OK, "SUCCESS", NULL },
		{ VERIFY_ON, NULL, NULL, TLS_CERT_MISSING, "NONE", NULL },
		{ VERIFY_ON, "self.pem", "self.key", TLS_CERT_BAD, "FAILED:self-signed certificate", NULL },
		{ VERIFY_OPTIONAL, NULL, NULL, TLS_CERT_NONE_OK, "NONE", NULL },
		{ VERIFY_OPTIONAL, "self.pem", "self.key", TLS_CERT_BAD, "FAILED:self-signed certificate", NULL },
		{ VERIFY_OPTIONAL_NO_CA, "self.pem", "self.key", TLS_CERT_OK, "FAILED:self-signed certificate", NULL },
		{ VERIFY_OPTIONAL_NO_CA, "cli.pem", "cli.key", TLS_CERT_OK, "SUCCESS", NULL },
		{ VERIFY_OFF, "cli.pem", "cli.key", TLS_CERT_NONE_OK, "NONE", NULL },
		/* ssl_crl */
		{ VERIFY_ON, "cli.pem", "cli.key", TLS_CERT_OK, "SUCCESS", "crl_empty.pem" },
		{ VERIFY_ON, "cli.pem", "cli.key", TLS_CERT_BAD, "FAILED:certificate revoked", "crl_cli.pem" },
		{ VERIFY_OPTIONAL_NO_CA, "cli.pem", "cli.key", TLS_CERT_BAD, "FAILED:certificate revoked", "crl_cli.pem" },
		{ VERIFY_ON, "cli.pem", "cli.key", TLS_CERT_BAD, "FAILED:unable to get certificate CRL", "crl_other.pem" },
	};
	for (size_t r = 0; r < MP_ARRAY_LEN(rows); r++) {
		struct conf_server s;
		char err[512];
		srv_init(&s, fx("srv.pem"), fx("srv.key"));
		s.ssl.verify_client = rows[r].mode;
		s.ssl.client_certificate = fx("ca.pem");
		if (rows[r].crl != NULL) {
			/* the other CA is trusted too, so its CRL is loaded */
			s.ssl.trusted_certificate = fx("ca2.pem");
			s.ssl.crl = fx(rows[r].crl);
		}
		struct tls_server_ctx *sc = tls_server_ctx_new(&s, err, sizeof(err), NULL);
		CHECK(sc != NULL);
		if (sc == NULL) {
			fprintf(stderr, "      %s\n", err);
			continue;
		}
		struct io io, peer;
		pair_ios(&io, &peer);
		struct bare *b = malloc(sizeof(*b));
		CHECK(bare_init(b, peer.w.fd, rows[r].cert, rows[r].key, NULL, 0));
		CHECK_INT(tls_start_server(&io, sc), MP_OK);
		enum mp_status ss, bs;
		bare_handshake(&io, b, &ss, &bs);
		CHECK_INT(ss, MP_OK);
		CHECK_INT(bs, MP_OK);
		CHECK_INT(tls_peer_cert_status(&io), rows[r].status);
		struct tls_peer_cert pc;
		tls_peer_cert(&io, &pc);
		CHECK_S(pc.verify, rows[r].verify);
		if (rows[r].mode != VERIFY_OFF && rows[r].cert != NULL) {
			CHECK(pc.present);
			char want[256];
			char cmd[256];
			snprintf(cmd, sizeof(cmd), "openssl x509 -in %s -noout -fingerprint -sha1", rows[r].cert);
			sh_out(want, sizeof(want), cmd);
			/* "sha1 Fingerprint=AB:CD:..." -> "abcd..." */
			char fp[64] = "";
			const char *q = strchr(want, '=');
			for (size_t i = 0, o = 0; q != NULL && q[++i] != '\0' && o < 60;) {
				if (q[i] != ':') {
					fp[o++] = (char)(q[i] >= 'A' && q[i] <= 'F' ? q[i] + 32 : q[i]);
					fp[o] = '\0';
				}
			}
			CHECK_S(pc.fingerprint, fp);
			CHECK(strncmp(pc.pem, "-----BEGIN CERTIFICATE-----\n", 28) == 0);
			char pemfile[8192];
			size_t pl = 0;
			char *orig = slurp(fx(rows[r].cert), &pl);
			pemfile[0] = '\0';
			if (orig != NULL && pl < sizeof(pemfile)) {
				memcpy(pemfile, orig, pl + 1);
			}
			CHECK_S(pc.pem, pemfile);
			if (strcmp(rows[r].cert, "cli.pem") == 0) {
				CHECK_S(pc.subject, "/C=US/O=Example Org/CN=client one");
				CHECK_S(pc.issuer, "/CN=Test CA/O=mproxy tests");
				CHECK_S(pc.subject_rfc2253, "CN=client one,O=Example Org,C=US");
				CHECK_S(pc.issuer_rfc2253, "O=mproxy tests,CN=Test CA");
				CHECK_S(pc.serial, "A1B2C3D4");
			} else {
				CHECK_S(pc.subject, "/CN=selfie");
			}
		} else {
			CHECK(!pc.present);
			CHECK_S(pc.subject, "");
		}
		/* data flows whatever the verdict: the session decides */
		br_ssl_engine_context *e = &b->cc.eng;
		size_t room;
		unsigned char *wb = br_ssl_engine_sendapp_buf(e, &room);
		CHECK(wb != NULL && room >= 6);
		if (wb != NULL) {
			memcpy(wb, "A1 NOOP", 6);
			br_ssl_engine_sendapp_ack(e, 6);
			br_ssl_engine_flush(e, 0);
			bare_step(b);
			char got[16];
			ssize_t n = -1;
			for (int i = 0; i < 100 && n < 0; i++) {
				n = io_read(&io, got, sizeof(got));
			}
			CHECK_INT(n, 6);
		}
		bare_free(b);
		free(b);
		close_io(&io);
		close_io(&peer);
		tls_server_ctx_free(sc);
	}
}

TEST(tls_alpn)
{
	if (!fixtures()) {
		return;
	}
	static const struct {
		enum mail_proto proto;
		const char *offer[3];
		size_t n;
		bool ok;
	} rows[] = {
		{ PROTO_IMAP, { "imap" }, 1, true },
		{ PROTO_IMAP, { 0 }, 0, true },
		{ PROTO_IMAP, { "http/1.1", "imap" }, 2, true },
		{ PROTO_IMAP, { "http/1.1" }, 1, false },
		{ PROTO_IMAP, { "smtp" }, 1, false },
		{ PROTO_POP3, { "pop3" }, 1, true },
		{ PROTO_POP3, { "imap", "h2" }, 2, false },
		{ PROTO_SMTP, { "smtp" }, 1, true },
		{ PROTO_SMTP, { "SMTP" }, 1, false },
	};
	for (size_t r = 0; r < MP_ARRAY_LEN(rows); r++) {
		struct tls_server_ctx *sc = server_ctx(fx("srv.pem"), fx("srv.key"), rows[r].proto);
		if (sc == NULL) {
			CHECK(false);
			continue;
		}
		struct io io, peer;
		pair_ios(&io, &peer);
		struct bare *b = malloc(sizeof(*b));
		CHECK(bare_init(b, peer.w.fd, NULL, NULL, rows[r].offer, rows[r].n));
		tls_start_server(&io, sc);
		enum mp_status ss, bs;
		bare_handshake(&io, b, &ss, &bs);
		if (rows[r].ok) {
			CHECK_INT(ss, MP_OK);
			CHECK_INT(bs, MP_OK);
		} else {
			CHECK_INT(ss, MP_ERR);
			CHECK_S(tls_error(&io), "no application protocol");
			CHECK_INT(bs, MP_ERR);
			/* the client got the fatal alert no_application_protocol (120) */
			CHECK_INT(br_ssl_engine_last_error(&b->cc.eng), BR_ERR_RECV_FATAL_ALERT + 120);
		}
		bare_free(b);
		free(b);
		close_io(&io);
		close_io(&peer);
		tls_server_ctx_free(sc);
	}
}

/* STARTTLS: the reply queued before the switch goes out raw, first; bytes
 * that arrived after the switch are fed to the engine before the socket. */
TEST(tls_switch_pre_and_stash)
{
	if (!fixtures()) {
		return;
	}
	struct tls_server_ctx *sc = server_ctx(fx("srv.pem"), fx("srv.key"), PROTO_IMAP);
	struct tls_client_ctx *cc = client_ctx(fx("ca.pem"), "localhost", PROTO_IMAP);
	if (sc == NULL || cc == NULL) {
		CHECK(false);
		return;
	}
	struct io s, c;
	pair_ios(&s, &c);
	/* the reply sits in s.out (as if the socket had not taken it) */
	const char *reply = "A1 OK Begin TLS now\r\n";
	s.out = buf_get(64);
	memcpy(s.out->data, reply, strlen(reply));
	s.out->end = (uint32_t)strlen(reply);
	/* the client's ClientHello arrives and is read before the switch */
	CHECK_INT(tls_start_client(&c, cc), MP_OK);
	CHECK_INT(tls_handshake(&c), MP_AGAIN);
	CHECK_INT(io_fill(&s, 4096), MP_OK);
	CHECK(buf_len(s.in) > 5);
	CHECK_INT((uint8_t)buf_head(s.in)[0], 22); /* a handshake record */
	CHECK_INT(tls_start_server(&s, sc), MP_OK);
	CHECK(s.in == NULL && s.out == NULL);
	CHECK(s.tls_vt->pending(&s)); /* the stash */
	/* the client side reads the plaintext reply first, off the socket */
	char got[64];
	size_t gl = 0;
	for (int i = 0; i < 100 && gl < strlen(reply); i++) {
		tls_handshake(&s);
		ssize_t r = recv(c.w.fd, got + gl, strlen(reply) - gl, 0);
		if (r > 0) {
			gl += (size_t)r;
		}
	}
	CHECK_MEM(got, gl, reply);
	enum mp_status ss, cs;
	handshake_both(&s, &c, &ss, &cs);
	CHECK_INT(ss, MP_OK);
	CHECK_INT(cs, MP_OK);
	CHECK(!s.tls_vt->pending(&s));
	CHECK(transfer(&c, &s, 5000));
	close_io(&s);
	close_io(&c);
	tls_server_ctx_free(sc);
	tls_client_ctx_free(cc);
}

/* Plaintext injected before the switch must not reach the TLS engine as
 * application data (security.md #1): here, garbage instead of a
 * ClientHello fails the handshake. */
TEST(tls_switch_garbage_fails)
{
	if (!fixtures()) {
		return;
	}
	struct tls_server_ctx *sc = server_ctx(fx("srv.pem"), fx("srv.key"), PROTO_SMTP);
	if (sc == NULL) {
		CHECK(false);
		return;
	}
	struct io s, c;
	pair_ios(&s, &c);
	CHECK(send(c.w.fd, "RSET\r\nRSET\r\n", 12, 0) == 12);
	CHECK_INT(tls_start_server(&s, sc), MP_OK);
	enum mp_status st = MP_AGAIN;
	for (int i = 0; i < 10 && st == MP_AGAIN; i++) {
		st = tls_handshake(&s);
	}
	CHECK_INT(st, MP_ERR);
	CHECK(strstr(tls_error(&s), "handshake failed") != NULL);
	close_io(&s);
	close_io(&c);
	tls_server_ctx_free(sc);
}

TEST(tls_want_and_memory)
{
	if (!fixtures()) {
		return;
	}
	struct tls_server_ctx *sc = server_ctx(fx("srv.pem"), fx("srv.key"), PROTO_IMAP);
	if (sc == NULL) {
		CHECK(false);
		return;
	}
	struct io s, c;
	pair_ios(&s, &c);
	tls_start_server(&s, sc);
	/* a server waits for the ClientHello, whatever the session wants */
	CHECK_INT(s.tls_vt->want(&s, 0), EV_READ);
	CHECK_INT(s.tls_vt->want(&s, EV_WRITE), EV_READ);
	CHECK(!s.tls_vt->pending(&s));
	char b[8];
	CHECK_INT(io_read(&s, b, sizeof(b)), -1);
	CHECK_INT(errno, EAGAIN);
	/* per-connection memory stays near the documented 25 KiB */
	CHECK(tls_conn_bytes() < 26u * 1024u);
	CHECK(tls_conn_bytes() > (size_t)TLS_IBUF_LEN + TLS_OBUF_LEN);
	fprintf(stderr, "    (tls: %zu bytes per TLS connection)\n", tls_conn_bytes());
	close_io(&s);
	close_io(&c);
	tls_server_ctx_free(sc);
}
