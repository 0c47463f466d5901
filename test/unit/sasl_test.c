#include "t.h"

#include "../../proto/sasl.h"

#define S(x) ((struct mp_str){ (x), sizeof(x) - 1 })

static bool slice_is(struct mp_str s, const char *p, size_t n)
{
	return s.n == n && memcmp(s.p, p, n) == 0;
}

/* ---- base64 ------------------------------------------------------------ */

/* RFC 4648 §10 test vectors. */
static const struct {
	const char *raw, *b64;
} b64_vectors[] = {
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

TEST(base64_rfc4648_vectors)
{
	for (size_t i = 0; i < MP_ARRAY_LEN(b64_vectors); i++) {
		const char *raw = b64_vectors[i].raw, *b64 = b64_vectors[i].b64;
		size_t rn = strlen(raw), bn = strlen(b64);
		char enc[16];
		uint8_t dec[16];
		size_t len = 99;

		CHECK_INT(BASE64_ENCODED_LEN(rn), bn);
		CHECK_INT(base64_encode((const uint8_t *)raw, rn, enc, bn, &len), MP_OK);
		CHECK_MEM(enc, len, b64);
		if (bn > 0) {
			CHECK_INT(base64_encode((const uint8_t *)raw, rn, enc, bn - 1, &len),
				  MP_TOOLONG);
		}

		const char *g = t_guarded(b64, bn);
		CHECK_INT(base64_decode(g, bn, dec, rn, &len), MP_OK);
		CHECK_MEM((const char *)dec, len, raw);
		if (rn > 0) {
			CHECK_INT(base64_decode(g, bn, dec, rn - 1, &len), MP_TOOLONG);
		}
	}
}

TEST(base64_decode_strict)
{
	static const struct {
		const char *in;
		size_t n;
	} bad[] = {
#define B(x) { (x), sizeof(x) - 1 }
		B("Zg="),      /* length not a multiple of 4 */
		B("Zg"),       /* unpadded (nginx accepts it) */
		B("Zm9vY"),
		B("="),        /* SASL's "empty response" is the caller's */
		B("=="),
		B("===="),
		B("A==="),
		B("Z=g="),
		B("Zg==Zg=="), /* padding in the middle */
		B("Zg==\r\n"),
		B("Zm9v\r\n"),
		B("Zm\n9"),
		B(" Zm9"),
		B("Zm9 "),
		B("Zm\t9"),
		B("Zm-v"),     /* base64url alphabet */
		B("Zm_v"),
		B("Zm9\0"),
		B("\0\0\0\0"),
		B("Zm9v\xff\xfe\xfd\xfc"),
		B("Zh=="),     /* non-zero padding bits (RFC 4648 §3.5) */
		B("Zm9="),
		B("Zm8/Zh=="),
#undef B
	};
	for (size_t i = 0; i < MP_ARRAY_LEN(bad); i++) {
		uint8_t out[16];
		size_t len = 77;
		const char *g = t_guarded(bad[i].in, bad[i].n);
		if (base64_decode(g, bad[i].n, out, sizeof(out), &len) != MP_INVALID) {
			char m[64];
			snprintf(m, sizeof(m), "bad base64 row %zu accepted", i);
			t_fail(__FILE__, __LINE__, m);
		}
		CHECK_INT(len, 77);
	}
}

/* Every length 0..300 of every byte value round-trips, placed before an
 * unreadable page both ways. */
TEST(base64_roundtrip)
{
	static uint8_t raw[300], dec[300];
	static char enc[BASE64_ENCODED_LEN(300)];
	for (size_t i = 0; i < sizeof(raw); i++) {
		raw[i] = (uint8_t)(i * 167 + 13);
	}
	for (size_t n = 0; n <= sizeof(raw); n++) {
		size_t el = 0, dl = 0;
		const uint8_t *g = (const uint8_t *)t_guarded(raw, n);
		CHECK_INT(base64_encode(g, n, enc, sizeof(enc), &el), MP_OK);
		CHECK_INT(el, BASE64_ENCODED_LEN(n));
		const char *ge = t_guarded(enc, el);
		CHECK_INT(base64_decode(ge, el, dec, BASE64_DECODED_MAX(el), &dl), MP_OK);
		CHECK_INT(dl, n);
		CHECK(memcmp(dec, raw, n) == 0);
	}
}

/* ---- PLAIN --------------------------------------------------------------- */

TEST(sasl_plain)
{
	static const struct {
		const char *in;
		size_t n;
		enum mp_status want;
		const char *zid, *cid, *pw;
	} rows[] = {
#define B(x) (x), sizeof(x) - 1
		{ B("\0alice\0secret"), MP_OK, "", "alice", "secret" },
		{ B("admin\0alice\0secret"), MP_OK, "admin", "alice", "secret" },
		{ B("\0alice@example.com\0p w\r\nd"), MP_OK, "", "alice@example.com", "p w\r\nd" },
		{ B("\0a\0b"), MP_OK, "", "a", "b" },
		{ B(""), MP_INVALID, NULL, NULL, NULL },
		{ B("alice"), MP_INVALID, NULL, NULL, NULL },
		{ B("alice\0secret"), MP_INVALID, NULL, NULL, NULL },   /* one NUL */
		{ B("\0\0secret"), MP_INVALID, NULL, NULL, NULL },      /* empty authcid */
		{ B("\0alice\0"), MP_INVALID, NULL, NULL, NULL },       /* empty passwd */
		{ B("\0\0"), MP_INVALID, NULL, NULL, NULL },
		{ B("\0alice\0sec\0ret"), MP_INVALID, NULL, NULL, NULL }, /* three NULs */
		{ B("\0alice\0secret\0"), MP_INVALID, NULL, NULL, NULL },
		{ B("\0\0\0"), MP_INVALID, NULL, NULL, NULL },
#undef B
	};
	for (size_t i = 0; i < MP_ARRAY_LEN(rows); i++) {
		struct mp_str z = { "x", 1 }, c = { "x", 1 }, p = { "x", 1 };
		const uint8_t *g = (const uint8_t *)t_guarded(rows[i].in, rows[i].n);
		enum mp_status st = sasl_plain_decode(g, rows[i].n, &z, &c, &p);
		CHECK_INT(st, rows[i].want);
		if (st == MP_OK && rows[i].want == MP_OK) {
			CHECK(slice_is(z, rows[i].zid, strlen(rows[i].zid)));
			CHECK(slice_is(c, rows[i].cid, strlen(rows[i].cid)));
			CHECK(p.n == rows[i].n - (size_t)(p.p - (const char *)g));
			CHECK(memcmp(p.p, rows[i].in + (p.p - (const char *)g), p.n) == 0);
		} else {
			/* nothing published on failure */
			CHECK(z.n == 1 && c.n == 1 && p.n == 1);
		}
	}
	/* The CR/LF password decodes, but must not go to a backend. */
	struct mp_str z, c, p;
	CHECK_INT(sasl_plain_decode((const uint8_t *)"\0u\0a\r\nb", 7, &z, &c, &p), MP_OK);
	CHECK(!sasl_cred_safe(p));
}

/* ---- CRAM-MD5 / APOP --------------------------------------------------- */

TEST(sasl_cram_rfc2195_example)
{
	char hex[SASL_DIGEST_HEX_LEN + 1];
	/* RFC 2195 §2 */
	sasl_cram_digest("tanstaaftanstaaf", 16, S("<1896.697170952@postoffice.reston.mci.net>"),
			 hex);
	CHECK_STR(hex, "b913a602c7eda7a495b4e6e7334d3890");
	/* RFC 2104 / RFC 2202 test case 2 for HMAC-MD5 */
	sasl_cram_digest("Jefe", 4, S("what do ya want for nothing?"), hex);
	CHECK_STR(hex, "750c783e6ab0b503eaa86e310a5db738");
	/* a key longer than the block is hashed first (RFC 2202 test case 6) */
	char key[80];
	memset(key, 0xaa, sizeof(key));
	sasl_cram_digest(key, sizeof(key), S("Test Using Larger Than Block-Size Key - Hash Key First"),
			 hex);
	CHECK_STR(hex, "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd");
}

TEST(sasl_apop_rfc1939_example)
{
	char hex[SASL_DIGEST_HEX_LEN + 1];
	/* RFC 1939 §7 */
	apop_digest(S("<1896.697170952@dbc.mtview.ca.us>"), "tanstaaf", 8, hex);
	CHECK_STR(hex, "c4c9334bac560ecc979e58001b3e22fb");
	apop_digest(S(""), "", 0, hex);
	CHECK_STR(hex, "d41d8cd98f00b204e9800998ecf8427e");
}

TEST(sasl_cram_parse)
{
	static const struct {
		const char *in;
		enum mp_status want;
		const char *user;
	} rows[] = {
		{ "tim b913a602c7eda7a495b4e6e7334d3890", MP_OK, "tim" },
		{ "tim B913A602C7EDA7A495B4E6E7334D3890", MP_OK, "tim" },
		{ "john doe b913a602c7eda7a495b4e6e7334d3890", MP_OK, "john doe" },
		{ "tim  b913a602c7eda7a495b4e6e7334d3890", MP_OK, "tim " },
		{ "t b913a602c7eda7a495b4e6e7334d3890", MP_OK, "t" },
		{ " b913a602c7eda7a495b4e6e7334d3890", MP_INVALID, NULL },  /* no user */
		{ "b913a602c7eda7a495b4e6e7334d3890", MP_INVALID, NULL },
		{ "tim b913a602c7eda7a495b4e6e7334d389", MP_INVALID, NULL }, /* 31 */
		{ "tim b913a602c7eda7a495b4e6e7334d38900", MP_INVALID, NULL }, /* 33 */
		{ "tim b913a602c7eda7a495b4e6e7334d389g", MP_INVALID, NULL },
		{ "tim b913a602c7eda7a495b4e6e7334d389 ", MP_INVALID, NULL },
		{ "tim\tb913a602c7eda7a495b4e6e7334d3890", MP_INVALID, NULL },
		{ "tim b913a602c7eda7a4 5b4e6e7334d3890", MP_INVALID, NULL },
		{ "", MP_INVALID, NULL },
		{ "tim", MP_INVALID, NULL },
	};
	for (size_t i = 0; i < MP_ARRAY_LEN(rows); i++) {
		struct mp_str u = { NULL, 9 }, d = { NULL, 9 };
		size_t n = strlen(rows[i].in);
		const uint8_t *g = (const uint8_t *)t_guarded(rows[i].in, n);
		enum mp_status st = sasl_cram_parse_response(g, n, &u, &d);
		if (st != rows[i].want) {
			char m[96];
			snprintf(m, sizeof(m), "cram row %zu: got %d", i, st);
			t_fail(__FILE__, __LINE__, m);
			continue;
		}
		if (st == MP_OK) {
			CHECK(slice_is(u, rows[i].user, strlen(rows[i].user)));
			CHECK(d.n == SASL_DIGEST_HEX_LEN);
			CHECK(d.p + d.n == (const char *)g + n);
		} else {
			CHECK(u.n == 9 && d.n == 9);
		}
	}
	/* NUL and CR in the user decode; sasl_cred_safe is the gate. */
	static const char nul[] = "ti\0m b913a602c7eda7a495b4e6e7334d3890";
	struct mp_str u, d;
	CHECK_INT(sasl_cram_parse_response((const uint8_t *)nul, sizeof(nul) - 1, &u, &d), MP_OK);
	CHECK(!sasl_cred_safe(u));
}

TEST(sasl_cram_salt_form)
{
	static const uint8_t rnd1896[SASL_CRAM_RND_LEN] = { 0, 0, 0, 0, 0, 0, 0x07, 0x68 };
	static const uint8_t rndmax[SASL_CRAM_RND_LEN] = { 0xff, 0xff, 0xff, 0xff,
							   0xff, 0xff, 0xff, 0xff };
	static const uint8_t rnd0[SASL_CRAM_RND_LEN] = { 0 };
	char out[128];
	size_t len = 0;

	CHECK_INT(sasl_cram_salt(out, sizeof(out), rnd1896, 697170952, "postoffice.reston.mci.net",
				 &len), MP_OK);
	CHECK_STR(out, "<1896.697170952@postoffice.reston.mci.net>");
	CHECK_INT(len, strlen(out));
	/* exact fit needs room for the NUL */
	CHECK_INT(sasl_cram_salt(out, len + 1, rnd1896, 697170952, "postoffice.reston.mci.net",
				 &len), MP_OK);
	CHECK_INT(sasl_cram_salt(out, len, rnd1896, 697170952, "postoffice.reston.mci.net",
				 &len), MP_TOOLONG);
	CHECK_INT(sasl_cram_salt(out, 0, rnd1896, 1, "x", &len), MP_TOOLONG);

	CHECK_INT(sasl_cram_salt(out, sizeof(out), rndmax, UINT64_MAX, "mx", &len), MP_OK);
	CHECK_STR(out, "<18446744073709551615.18446744073709551615@mx>");
	CHECK_INT(len, SASL_CRAM_SALT_FIXED + 2);
	CHECK_INT(sasl_cram_salt(out, sizeof(out), rnd0, 0, "", &len), MP_OK);
	CHECK_STR(out, "<0.0@>");

	static const char *bad[] = { "a b", "a\r\nb", "a\tb", "a>b", "a<b", "a\x7f" };
	for (size_t i = 0; i < MP_ARRAY_LEN(bad); i++) {
		CHECK_INT(sasl_cram_salt(out, sizeof(out), rnd0, 0, bad[i], &len), MP_INVALID);
	}

	/* the digest of our own challenge verifies, whatever the case */
	char hex[SASL_DIGEST_HEX_LEN + 1];
	CHECK_INT(sasl_cram_salt(out, sizeof(out), rnd1896, 697170952, "mail.example.com", &len),
		  MP_OK);
	sasl_cram_digest("pw", 2, (struct mp_str){ out, len }, hex);
	char upper[SASL_DIGEST_HEX_LEN];
	for (size_t i = 0; i < SASL_DIGEST_HEX_LEN; i++) {
		upper[i] = (hex[i] >= 'a' && hex[i] <= 'f') ? (char)(hex[i] - 32) : hex[i];
	}
	CHECK(sasl_digest_eq((struct mp_str){ hex, 32 }, (struct mp_str){ upper, 32 }));
}

TEST(sasl_digest_eq_and_cred_safe)
{
	CHECK(sasl_digest_eq(S("b913a602c7eda7a495b4e6e7334d3890"),
			     S("B913A602C7EDA7A495B4E6E7334D3890")));
	CHECK(!sasl_digest_eq(S("b913a602c7eda7a495b4e6e7334d3890"),
			      S("b913a602c7eda7a495b4e6e7334d3891")));
	CHECK(!sasl_digest_eq(S("b913a602c7eda7a495b4e6e7334d3890"),
			      S("b913a602c7eda7a495b4e6e7334d389")));
	CHECK(!sasl_digest_eq(S(""), S("")));

	CHECK(sasl_cred_safe(S("")));
	CHECK(sasl_cred_safe(S("p\xc3\xa4ss w\tord")));
	CHECK(!sasl_cred_safe(S("a\rb")));
	CHECK(!sasl_cred_safe(S("a\nb")));
	CHECK(!sasl_cred_safe(S("a\0b")));
}
