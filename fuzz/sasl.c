/*
 * libFuzzer target: base64, SASL PLAIN and the CRAM-MD5 response parser.
 * The first byte picks what the rest is fed to; every path also checks the
 * round trip or the slice invariants.
 */
#include "../proto/sasl.h"

#include <stdlib.h>
#include <string.h>

#define FUZZ_MAX 4096

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static void inside(struct mp_str s, const uint8_t *p, size_t n)
{
	if (s.n > 0 && ((const uint8_t *)s.p < p || (const uint8_t *)s.p + s.n > p + n)) {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static uint8_t dec[FUZZ_MAX];
	static char enc[BASE64_ENCODED_LEN(FUZZ_MAX)];
	size_t dl, el;

	if (n == 0 || n > FUZZ_MAX) {
		return 0;
	}
	uint8_t mode = d[0];
	d++;
	n--;

	/* Anything that decodes re-encodes to exactly the input (strictness). */
	if (base64_decode((const char *)d, n, dec, sizeof(dec), &dl) == MP_OK) {
		if (dl > BASE64_DECODED_MAX(n)) {
			abort();
		}
		if (base64_encode(dec, dl, enc, sizeof(enc), &el) != MP_OK || el != n
		    || memcmp(enc, d, n) != 0) {
			abort();
		}
	}
	/* Anything encodes and decodes back. */
	if (base64_encode(d, n, enc, sizeof(enc), &el) != MP_OK
	    || base64_decode(enc, el, dec, sizeof(dec), &dl) != MP_OK || dl != n
	    || memcmp(dec, d, n) != 0) {
		abort();
	}

	const uint8_t *msg = d;
	size_t mn = n;
	if (mode & 1) {
		/* feed the SASL parsers decoded bytes, as the daemon does */
		if (base64_decode((const char *)d, n, dec, sizeof(dec), &dl) != MP_OK) {
			return 0;
		}
		msg = dec;
		mn = dl;
	}

	struct mp_str z, c, pw;
	if (sasl_plain_decode(msg, mn, &z, &c, &pw) == MP_OK) {
		inside(z, msg, mn);
		inside(c, msg, mn);
		inside(pw, msg, mn);
		if (c.n == 0 || pw.n == 0 || z.n + c.n + pw.n + 2 != mn
		    || memchr(z.p, 0, z.n) != NULL || memchr(c.p, 0, c.n) != NULL
		    || memchr(pw.p, 0, pw.n) != NULL) {
			abort();
		}
		(void)sasl_cred_safe(c);
	}

	struct mp_str user, digest;
	if (sasl_cram_parse_response(msg, mn, &user, &digest) == MP_OK) {
		inside(user, msg, mn);
		inside(digest, msg, mn);
		if (user.n == 0 || digest.n != SASL_DIGEST_HEX_LEN || user.n + 1 + digest.n != mn) {
			abort();
		}
		char hex[SASL_DIGEST_HEX_LEN + 1];
		sasl_cram_digest(user.p, user.n, digest, hex);
		(void)sasl_digest_eq((struct mp_str){ hex, SASL_DIGEST_HEX_LEN }, digest);
	}
	return 0;
}
