#include "t.h"

#include "../../proto/pwhash.h"

#include <stdlib.h>

static void unhex(const char *h, uint8_t *out)
{
	for (size_t i = 0; h[2 * i] != '\0'; i++) {
		unsigned v;
		sscanf(h + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
}

/* RFC 7914 §11, PBKDF2-HMAC-SHA256 with dkLen = 64: our 32-byte key is the
 * first block. */
TEST(pwhash_pbkdf2_rfc7914)
{
	static const struct {
		const char *pw, *salt;
		uint32_t c;
		const char *dk64;
	} rows[] = {
		{ "passwd", "salt", 1,
		  "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
		  "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783" },
		{ "Password", "NaCl", 80000,
		  "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56"
		  "a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d" },
	};
	for (size_t i = 0; i < MP_ARRAY_LEN(rows); i++) {
		uint8_t want[64], got[PWHASH_DK_LEN];
		unhex(rows[i].dk64, want);
		pwhash_pbkdf2_sha256(rows[i].pw, strlen(rows[i].pw), (const uint8_t *)rows[i].salt,
				     strlen(rows[i].salt), rows[i].c, got);
		CHECK(memcmp(got, want, PWHASH_DK_LEN) == 0);
	}
}

/* Strings computed with python3 hashlib.pbkdf2_hmac and passlib's ab64
 * (base64, '.' for '+', no padding). */
static const struct {
	const char *pw;
	size_t pwlen;
	const uint8_t *salt;
	size_t saltlen;
	unsigned rounds;
	const char *encoded;
} vectors[] = {
#define PW(x) (x), sizeof(x) - 1
#define SALT(x) (const uint8_t *)(x), sizeof(x) - 1
	{ PW("passwd"), SALT("salt"), 1,
	  "$pbkdf2-sha256$1$c2FsdA$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLw" },
	{ PW("password"), SALT("\x37\x66\x0c\x21\x64\x2c\x05\x60\x4c\x69\xed\x3d\xc7\x58\xeb\x3d"),
	  29000, "$pbkdf2-sha256$29000$N2YMIWQsBWBMae09x1jrPQ$lEjTD4tvq5SOB5ctjdSxvnbzU5PQEfMComvCIxNEqq8" },
	{ PW("correct horse"), SALT("0123456789abcdef"), 5000,
	  "$pbkdf2-sha256$5000$MDEyMzQ1Njc4OWFiY2RlZg$EoApErBVWjTPstY/szoDOtvrmvkMQ7MG9GqIEWlgV.I" },
	{ PW(""), SALT(""), 1, "$pbkdf2-sha256$1$$984LZT0tcqQQjPWr6RL/3Xd2Ftu7J6cOggTzri0Pb60" },
	{ PW("p\xc3\xa4ssw\xc3\xb6rd"),
	  SALT("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
	       "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
	       "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
	       "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"),
	  3,
	  "$pbkdf2-sha256$3$////////////////////////////////////////////////////////////"
	  "/////////////////////////w$Tj3PrnepvV0stBxmtkBesX/awN4QyQL6BpATK/04kC0" },
	{ PW("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	     "xxxxxxxxxxxxxxxxxxxx"),
	  SALT("salt"), 2, "$pbkdf2-sha256$2$c2FsdA$1DoYzXe6/BpLDGAl278px.bWeszmrQKnNtSjADtqPCY" },
	{ PW("pass\0word"), SALT("sa\0lt"), 4096,
	  "$pbkdf2-sha256$4096$c2EAbHQ$ibadBRb4KYk8aWImZQqGh4wCmsE.4nZQnVrli2RmpyQ" },
	{ PW("hunter2"), SALT("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"),
	  5000, "$pbkdf2-sha256$5000$AAECAwQFBgcICQoLDA0ODw$4nw5Awe1dFA/H8n7NkTaHevOyyaVTcLSpMQclF5pg0U" },
#undef PW
#undef SALT
};

/* Run a check to the end, counting the steps. */
static enum mp_status run_check(const char *enc, const char *pw, size_t pwlen, unsigned step,
				bool *match, unsigned *steps)
{
	struct pwhash_check c;
	enum mp_status st = pwhash_check_start(&c, enc, pw, pwlen);
	*steps = 0;
	if (st != MP_OK) {
		return st;
	}
	do {
		st = pwhash_check_step(&c, step, match);
		(*steps)++;
	} while (st == MP_AGAIN);
	/* finished: wiped, and further steps are refused */
	static const struct pwhash_check zero;
	CHECK(memcmp(&c, &zero, sizeof(c)) == 0);
	bool m2;
	CHECK_INT(pwhash_check_step(&c, step, &m2), MP_ERR);
	return st;
}

TEST(pwhash_vectors_both_ways)
{
	for (size_t i = 0; i < MP_ARRAY_LEN(vectors); i++) {
		char out[PWHASH_ENCODED_MAX];
		CHECK_INT(pwhash_make(vectors[i].pw, vectors[i].pwlen, vectors[i].salt,
				      vectors[i].saltlen, vectors[i].rounds, out, sizeof(out)),
			  MP_OK);
		CHECK_STR(out, vectors[i].encoded);
		CHECK(pwhash_valid(vectors[i].encoded));

		bool match = false;
		unsigned steps;
		CHECK_INT(run_check(vectors[i].encoded, vectors[i].pw, vectors[i].pwlen,
				    PWHASH_STEP_ROUNDS, &match, &steps), MP_OK);
		CHECK(match);
		CHECK_INT(steps, 1 + (vectors[i].rounds - 1) / PWHASH_STEP_ROUNDS
					 - ((vectors[i].rounds - 1) % PWHASH_STEP_ROUNDS == 0
					    && vectors[i].rounds > 1));

		/* wrong passwords: one byte off, truncated, longer, empty */
		const char *pw = vectors[i].pw;
		size_t n = vectors[i].pwlen;
		char buf[256];
		memcpy(buf, pw, n);
		buf[n] = 'x';
		CHECK_INT(run_check(vectors[i].encoded, buf, n + 1, 100000, &match, &steps), MP_OK);
		CHECK(!match);
		if (n > 0) {
			buf[n - 1] ^= 1;
			CHECK_INT(run_check(vectors[i].encoded, buf, n, 100000, &match, &steps),
				  MP_OK);
			CHECK(!match);
			CHECK_INT(run_check(vectors[i].encoded, pw, n - 1, 100000, &match, &steps),
				  MP_OK);
			CHECK(!match);
		}
	}
}

TEST(pwhash_steps)
{
	/* 5000 rounds: round 1 in start, then 4999 more */
	const char *enc = vectors[2].encoded;
	bool match = false;
	unsigned steps;
	CHECK_INT(run_check(enc, "correct horse", 13, 1, &match, &steps), MP_OK);
	CHECK(match);
	CHECK_INT(steps, 4999);
	CHECK_INT(run_check(enc, "correct horse", 13, 4998, &match, &steps), MP_OK);
	CHECK_INT(steps, 2);
	CHECK(match);
	CHECK_INT(run_check(enc, "correct horse", 13, 4999, &match, &steps), MP_OK);
	CHECK_INT(steps, 1);
	CHECK(match);
	CHECK_INT(run_check(enc, "correct horse", 13, UINT32_MAX, &match, &steps), MP_OK);
	CHECK_INT(steps, 1);
	CHECK(match);
	/* one round: done on the first step, even with max_rounds 0 */
	CHECK_INT(run_check(vectors[0].encoded, "passwd", 6, 0, &match, &steps), MP_OK);
	CHECK_INT(steps, 1);
	CHECK(match);

	/* max_rounds 0 makes no progress */
	struct pwhash_check c;
	CHECK_INT(pwhash_check_start(&c, enc, "correct horse", 13), MP_OK);
	for (int i = 0; i < 3; i++) {
		CHECK_INT(pwhash_check_step(&c, 0, &match), MP_AGAIN);
	}
	CHECK_INT(pwhash_check_step(&c, 4999, &match), MP_OK);
	CHECK(match);

	/* abandoned half-way: wiped, refused afterwards */
	static const struct pwhash_check zero;
	CHECK_INT(pwhash_check_start(&c, enc, "correct horse", 13), MP_OK);
	CHECK_INT(pwhash_check_step(&c, 100, &match), MP_AGAIN);
	pwhash_check_wipe(&c);
	CHECK(memcmp(&c, &zero, sizeof(c)) == 0);
	CHECK_INT(pwhash_check_step(&c, 100, &match), MP_ERR);
	pwhash_check_wipe(&c);

	/* never started (zeroed) */
	struct pwhash_check z;
	memset(&z, 0, sizeof(z));
	CHECK_INT(pwhash_check_step(&z, 100, &match), MP_ERR);
}

TEST(pwhash_malformed)
{
	static const char *bad[] = {
		"",
		"$pbkdf2-sha256$",
		"$pbkdf2-sha512$1$c2FsdA$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLw",
		"$PBKDF2-SHA256$1$c2FsdA$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLw",
		"pbkdf2-sha256$1$c2FsdA$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLw",
		"$pbkdf2$1$c2FsdA$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLw",
		/* rounds */
		"$pbkdf2-sha256$0$c2FsdA$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLw",
		"$pbkdf2-sha256$01$c2FsdA$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLw",
		"$pbkdf2-sha256$$c2FsdA$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLw",
		"$pbkdf2-sha256$-1$c2FsdA$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLw",
		"$pbkdf2-sha256$+1$c2FsdA$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLw",
		"$pbkdf2-sha256$1 $c2FsdA$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLw",
		"$pbkdf2-sha256$1000001$c2FsdA$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLw",
		"$pbkdf2-sha256$4294967297$c2FsdA$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLw",
		"$pbkdf2-sha256$99999999999999999999$c2FsdA$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLw",
		/* salt */
		"$pbkdf2-sha256$1$c2FsdA==$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLw",
		"$pbkdf2-sha256$1$c2F+dA$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLw",
		"$pbkdf2-sha256$1$c2FsdAc2F$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLw", /* %4 == 1 */
		"$pbkdf2-sha256$1$c2FsdB$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLw",   /* stray bits */
		"$pbkdf2-sha256$1$c2 FsdA$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLw",
		"$pbkdf2-sha256$1$c2FsdA",
		"$pbkdf2-sha256$1$c2FsdA$",
		/* checksum */
		"$pbkdf2-sha256$1$c2FsdA$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrL",
		"$pbkdf2-sha256$1$c2FsdA$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLww",
		"$pbkdf2-sha256$1$c2FsdA$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLx", /* stray bits */
		"$pbkdf2-sha256$1$c2FsdA$VawEblbjCJ+sFpHCJUS2BflBhSFt3gRl5oudV8INrLw",
		"$pbkdf2-sha256$1$c2FsdA$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLw=",
		"$pbkdf2-sha256$1$c2FsdA$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLw$",
		"$pbkdf2-sha256$1$c2FsdA$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLw\n",
		"$pbkdf2-sha256$1$c2FsdA$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INr w",
	};
	for (size_t i = 0; i < MP_ARRAY_LEN(bad); i++) {
		struct pwhash_check c;
		memset(&c, 0x77, sizeof(c));
		/* placed before an unreadable page, NUL included */
		const char *g = t_guarded(bad[i], strlen(bad[i]) + 1);
		if (pwhash_valid(g)) {
			char m[64];
			snprintf(m, sizeof(m), "malformed hash %zu accepted", i);
			t_fail(__FILE__, __LINE__, m);
		}
		CHECK_INT(pwhash_check_start(&c, g, "passwd", 6), MP_INVALID);
		bool match;
		CHECK_INT(pwhash_check_step(&c, 10, &match), MP_ERR);
	}
	CHECK(!pwhash_valid(NULL));

	/* salt: 86 characters (64 bytes) fine, 87 and 88 (65, 66 bytes) not */
	for (size_t sl = 84; sl <= 88; sl++) {
		char e[256];
		size_t o = (size_t)snprintf(e, sizeof(e), "$pbkdf2-sha256$1$");
		memset(e + o, 'A', sl);
		o += sl;
		snprintf(e + o, sizeof(e) - o, "$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLw");
		CHECK(pwhash_valid(t_guarded(e, strlen(e) + 1)) == (sl != 85 && sl <= 86));
	}
	/* the limits themselves are fine: 64 bytes of salt, PWHASH_ROUNDS_MAX rounds */
	CHECK(pwhash_valid(vectors[4].encoded));
	CHECK(pwhash_valid("$pbkdf2-sha256$1000000$c2FsdA$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLw"));
	for (size_t i = 0; i < MP_ARRAY_LEN(vectors); i++) {
		const char *e = vectors[i].encoded;
		CHECK(pwhash_valid(t_guarded(e, strlen(e) + 1)));
	}
}

TEST(pwhash_make_limits)
{
	char out[PWHASH_ENCODED_MAX];
	static const uint8_t salt[PWHASH_SALT_MAX + 1];
	CHECK_INT(pwhash_make("pw", 2, salt, 16, 0, out, sizeof(out)), MP_INVALID);
	CHECK_INT(pwhash_make("pw", 2, salt, 16, PWHASH_ROUNDS_MAX + 1, out, sizeof(out)),
		  MP_INVALID);
	CHECK_INT(pwhash_make("pw", 2, salt, PWHASH_SALT_MAX + 1, 1, out, sizeof(out)),
		  MP_INVALID);
	/* the longest form fits PWHASH_ENCODED_MAX exactly (1000000 rounds
	 * would take a second: count the six digits 1 is short of) */
	CHECK_INT(pwhash_make("pw", 2, salt, PWHASH_SALT_MAX, 1, out, sizeof(out)), MP_OK);
	CHECK_INT(strlen(out) + 1 + PWHASH_ROUNDS_DIGITS_MAX - 1, PWHASH_ENCODED_MAX);
	CHECK(pwhash_valid(out));
	/* cap: exact fit needs the NUL */
	CHECK_INT(pwhash_make("passwd", 6, (const uint8_t *)"salt", 4, 1, out, sizeof(out)), MP_OK);
	size_t need = strlen(out) + 1;
	char small[PWHASH_ENCODED_MAX];
	memset(small, 0, sizeof(small));
	CHECK_INT(pwhash_make("passwd", 6, (const uint8_t *)"salt", 4, 1, small, need - 1),
		  MP_TOOLONG);
	CHECK_INT(small[0], 0);
	CHECK_INT(pwhash_make("passwd", 6, (const uint8_t *)"salt", 4, 1, small, need), MP_OK);
	CHECK_STR(small, out);
	/* default-parameter hashes check */
	uint8_t s16[PWHASH_SALT_DEFAULT] = { 1, 2, 3 };
	CHECK_INT(pwhash_make("letmein", 7, s16, sizeof(s16), PWHASH_ROUNDS_DEFAULT, out,
			      sizeof(out)), MP_OK);
	bool match = false;
	unsigned steps;
	CHECK_INT(run_check(out, "letmein", 7, PWHASH_STEP_ROUNDS, &match, &steps), MP_OK);
	CHECK(match);
}
