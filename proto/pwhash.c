#include "pwhash.h"

#include <bearssl_hash.h>
#include <string.h>

/* Marks a started check; a caller-allocated struct that was never started
 * (zeroed) or already finished (wiped) does not carry it. */
#define PWHASH_RUNNING 0x70776863u

/* Sizes in ab64 characters (no padding): ceil(bytes * 4 / 3). */
#define AB64_LEN(n) (((n) * 4 + 2) / 3)
#define PWHASH_SALT_CHARS_MAX AB64_LEN(PWHASH_SALT_MAX)
#define PWHASH_DK_CHARS AB64_LEN(PWHASH_DK_LEN)

_Static_assert(PWHASH_SALT_CHARS_MAX == 86, "ab64 of the largest salt");
_Static_assert(PWHASH_DK_CHARS == 43, "ab64 of the checksum");
_Static_assert(PWHASH_ROUNDS_MAX <= UINT32_MAX, "rounds fit rounds_left");
_Static_assert(PWHASH_ROUNDS_MAX < 10000000u, "PWHASH_ROUNDS_DIGITS_MAX digits");

/* ---- passlib's adapted base64 ------------------------------------------ */

static const char ab64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789./";

static int ab64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z') {
		return c - 'A';
	}
	if (c >= 'a' && c <= 'z') {
		return c - 'a' + 26;
	}
	if (c >= '0' && c <= '9') {
		return c - '0' + 52;
	}
	if (c == '.') {
		return 62;
	}
	if (c == '/') {
		return 63;
	}
	return -1;
}

/* Strict: only the canonical form passlib writes (no padding, no '+', no
 * stray bits in the last character). out must hold n * 3 / 4 bytes. */
static enum mp_status ab64_decode(const char *in, size_t n, uint8_t *out, size_t *outlen)
{
	if (n % 4 == 1) {
		return MP_INVALID;
	}
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		int d = ab64_val((unsigned char)in[i]);
		if (d < 0) {
			return MP_INVALID;
		}
		acc = (acc << 6 | (uint32_t)d) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	if ((acc & ((1u << bits) - 1)) != 0) {
		return MP_INVALID;
	}
	*outlen = o;
	return MP_OK;
}

/* out must hold AB64_LEN(n) characters; returns the count written. */
static size_t ab64_encode(const uint8_t *in, size_t n, char *out)
{
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		acc = (acc << 8 | in[i]) & 0xffff;
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[o++] = ab64_alphabet[(acc >> bits) & 63];
		}
	}
	if (bits > 0) {
		out[o++] = ab64_alphabet[(acc << (6 - bits)) & 63];
	}
	return o;
}

/* ---- the encoded form -------------------------------------------------- */

struct parsed {
	uint32_t rounds;
	size_t saltlen;
	uint8_t salt[PWHASH_SALT_MAX];
	uint8_t chk[PWHASH_DK_LEN];
};

static enum mp_status parse(const char *enc, struct parsed *out)
{
	size_t plen = sizeof(PWHASH_PREFIX) - 1;
	if (enc == NULL || strncmp(enc, PWHASH_PREFIX, plen) != 0) {
		return MP_INVALID;
	}
	const char *p = enc + plen;

	/* rounds: passlib refuses zero-padded numbers, so do we. */
	uint64_t rounds = 0;
	const char *d = p;
	if (*p == '0') {
		return MP_INVALID;
	}
	while (*p >= '0' && *p <= '9') {
		if (p - d >= PWHASH_ROUNDS_DIGITS_MAX) {
			return MP_INVALID;
		}
		rounds = rounds * 10 + (uint64_t)(*p - '0');
		p++;
	}
	if (p == d || *p != '$' || rounds < PWHASH_ROUNDS_MIN || rounds > PWHASH_ROUNDS_MAX) {
		return MP_INVALID;
	}
	p++;

	const char *s = p;
	while (*p != '\0' && *p != '$') {
		if ((size_t)(p - s) >= PWHASH_SALT_CHARS_MAX) {
			return MP_INVALID;
		}
		p++;
	}
	if (*p != '$') {
		return MP_INVALID;
	}
	size_t slen;
	if (ab64_decode(s, (size_t)(p - s), out->salt, &slen) != MP_OK) {
		return MP_INVALID;
	}
	p++;

	size_t clen = 0;
	while (clen <= PWHASH_DK_CHARS && p[clen] != '\0') {
		clen++;
	}
	size_t got;
	if (clen != PWHASH_DK_CHARS || ab64_decode(p, clen, out->chk, &got) != MP_OK
	    || got != PWHASH_DK_LEN) {
		return MP_INVALID;
	}
	out->rounds = (uint32_t)rounds;
	out->saltlen = slen;
	return MP_OK;
}

bool pwhash_valid(const char *encoded)
{
	struct parsed ph;
	bool ok = parse(encoded, &ph) == MP_OK;
	explicit_bzero(&ph, sizeof(ph));
	return ok;
}

/* ---- PBKDF2 ------------------------------------------------------------ */

/* One HMAC with precomputed keyed states: the inner and outer hashes each
 * finish with a single SHA-256 compression for a 32-byte message. */
static void prf(br_hmac_context *hc, const br_hmac_key_context *kc, const void *a,
		size_t an, const void *b, size_t bn, uint8_t out[PWHASH_DK_LEN])
{
	br_hmac_init(hc, kc, 0);
	br_hmac_update(hc, a, an);
	br_hmac_update(hc, b, bn);
	br_hmac_out(hc, out);
}

/* RFC 8018 §5.2 with dkLen = hLen: T_1 = U_1 ^ ... ^ U_c,
 * U_1 = PRF(P, S || INT(1)). Starts c: key states, U_1, T = U_1. */
static void pbkdf2_first(struct pwhash_check *c, const char *password, size_t pwlen,
			 const uint8_t *salt, size_t saltlen)
{
	static const uint8_t int1[4] = { 0, 0, 0, 1 };
	br_hmac_context hc;

	br_hmac_key_init(&c->kc, &br_sha256_vtable, password, pwlen);
	prf(&hc, &c->kc, salt, saltlen, int1, sizeof(int1), c->u);
	memcpy(c->t, c->u, PWHASH_DK_LEN);
	explicit_bzero(&hc, sizeof(hc));
}

static void pbkdf2_rounds(struct pwhash_check *c, uint32_t n)
{
	br_hmac_context hc;

	for (uint32_t i = 0; i < n; i++) {
		br_hmac_init(&hc, &c->kc, 0);
		br_hmac_update(&hc, c->u, PWHASH_DK_LEN);
		br_hmac_out(&hc, c->u);
		for (size_t k = 0; k < PWHASH_DK_LEN; k++) {
			c->t[k] ^= c->u[k];
		}
	}
	explicit_bzero(&hc, sizeof(hc));
}

void pwhash_pbkdf2_sha256(const char *password, size_t pwlen, const uint8_t *salt,
			  size_t saltlen, uint32_t rounds, uint8_t out[PWHASH_DK_LEN])
{
	struct pwhash_check c;

	pbkdf2_first(&c, password, pwlen, salt, saltlen);
	if (rounds > 1) {
		pbkdf2_rounds(&c, rounds - 1);
	}
	memcpy(out, c.t, PWHASH_DK_LEN);
	explicit_bzero(&c, sizeof(c));
}

/* ---- the incremental check --------------------------------------------- */

void pwhash_check_wipe(struct pwhash_check *c)
{
	explicit_bzero(c, sizeof(*c));
}

enum mp_status pwhash_check_start(struct pwhash_check *c, const char *encoded,
				  const char *password, size_t pwlen)
{
	struct parsed ph;

	pwhash_check_wipe(c);
	if (parse(encoded, &ph) != MP_OK) {
		explicit_bzero(&ph, sizeof(ph));
		return MP_INVALID;
	}
	pbkdf2_first(c, password, pwlen, ph.salt, ph.saltlen);
	memcpy(c->want, ph.chk, PWHASH_DK_LEN);
	c->rounds_left = ph.rounds - 1;
	c->state = PWHASH_RUNNING;
	explicit_bzero(&ph, sizeof(ph));
	return MP_OK;
}

enum mp_status pwhash_check_step(struct pwhash_check *c, unsigned max_rounds, bool *match)
{
	if (c->state != PWHASH_RUNNING) {
		return MP_ERR;
	}
	uint32_t n = c->rounds_left < max_rounds ? c->rounds_left : (uint32_t)max_rounds;
	pbkdf2_rounds(c, n);
	c->rounds_left -= n;
	if (c->rounds_left > 0) {
		return MP_AGAIN;
	}
	/* Constant time: every byte is compared whatever the first difference. */
	volatile uint8_t diff = 0;
	for (size_t k = 0; k < PWHASH_DK_LEN; k++) {
		diff |= c->t[k] ^ c->want[k];
	}
	*match = diff == 0;
	pwhash_check_wipe(c);
	return MP_OK;
}

enum mp_status pwhash_make(const char *password, size_t pwlen, const uint8_t *salt,
			   size_t saltlen, unsigned rounds, char *out, size_t cap)
{
	char buf[PWHASH_ENCODED_MAX];
	uint8_t dk[PWHASH_DK_LEN];
	size_t o = sizeof(PWHASH_PREFIX) - 1;

	if (rounds < PWHASH_ROUNDS_MIN || rounds > PWHASH_ROUNDS_MAX
	    || saltlen > PWHASH_SALT_MAX) {
		return MP_INVALID;
	}
	pwhash_pbkdf2_sha256(password, pwlen, salt, saltlen, (uint32_t)rounds, dk);

	memcpy(buf, PWHASH_PREFIX, o);
	char d[PWHASH_ROUNDS_DIGITS_MAX];
	size_t i = sizeof(d);
	do {
		d[--i] = (char)('0' + rounds % 10);
		rounds /= 10;
	} while (rounds != 0);
	memcpy(buf + o, d + i, sizeof(d) - i);
	o += sizeof(d) - i;
	buf[o++] = '$';
	o += ab64_encode(salt, saltlen, buf + o);
	buf[o++] = '$';
	o += ab64_encode(dk, PWHASH_DK_LEN, buf + o);
	buf[o++] = '\0';
	explicit_bzero(dk, sizeof(dk));

	if (o > cap) {
		return MP_TOOLONG;
	}
	memcpy(out, buf, o);
	return MP_OK;
}
