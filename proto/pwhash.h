/*
 * Password hashes for the built-in authenticator (auth_backend ...
 * password=HASH), in passlib's pbkdf2_sha256 format:
 *
 *     $pbkdf2-sha256$<rounds>$<salt>$<checksum>
 *
 * PBKDF2-HMAC-SHA256 (RFC 8018 §5.2) with a 32-byte key; salt and checksum
 * in passlib's "adapted base64" (ab64: the base64 alphabet with '.' for '+',
 * no padding). Such strings come from
 *     python3 -c 'from passlib.hash import pbkdf2_sha256; print(pbkdf2_sha256.hash("pw"))'
 * or `mproxy -hash`.
 *
 * The proxy is single-threaded, so a check runs in slices: start, then step
 * a bounded number of rounds per event-loop turn until it is done.
 */
#ifndef MP_PWHASH_H
#define MP_PWHASH_H

#include "../core/common.h"

#include <bearssl_hmac.h>

#define PWHASH_PREFIX "$pbkdf2-sha256$"
#define PWHASH_DK_LEN 32          /* SHA-256 output: one PBKDF2 block */
#define PWHASH_SALT_MAX 64        /* bytes; passlib's default is 16 */
#define PWHASH_SALT_DEFAULT 16
#define PWHASH_ROUNDS_MIN 1
#define PWHASH_ROUNDS_MAX 1000000u  /* ~1 s of CPU per login here; more is a mistake */
/*
 * Default for newly made hashes. Measured on the development machine
 * (shared 2-core Xeon VM, musl-gcc -O2, BearSSL's portable SHA-256): one
 * compression 0.30-0.40 us, one PBKDF2 round (two compressions plus HMAC
 * bookkeeping) 0.6-0.9 us, so 5000 rounds cost 3-4.5 ms of CPU per login,
 * spread over loop turns by pwhash_check_step(). Hashes with more rounds
 * (passlib's default 29000: about 25 ms) are checked the same way.
 */
#define PWHASH_ROUNDS_DEFAULT 5000u
/* Rounds per pwhash_check_step() call from the loop: about 0.5 ms. */
#define PWHASH_STEP_ROUNDS 500u
/* Longest encoded form, NUL included: prefix, rounds (7 digits at most,
 * PWHASH_ROUNDS_MAX), '$', ab64(64 bytes) = 86, '$', ab64(32 bytes) = 43, NUL. */
#define PWHASH_ROUNDS_DIGITS_MAX 7
#define PWHASH_ENCODED_MAX \
	(sizeof(PWHASH_PREFIX) - 1 + PWHASH_ROUNDS_DIGITS_MAX + 1 + 86 + 1 + 43 + 1)

/* An in-flight check. Caller-allocated (about 240 bytes); its contents are
 * private. Holds password-derived state until done or wiped. */
struct pwhash_check {
	br_hmac_key_context kc; /* HMAC-SHA256 keyed with the password */
	uint8_t u[PWHASH_DK_LEN]; /* U_i */
	uint8_t t[PWHASH_DK_LEN]; /* T = U_1 ^ ... ^ U_i */
	uint8_t want[PWHASH_DK_LEN];
	uint32_t rounds_left;
	uint32_t state;
};

/* True if encoded is a well-formed hash this module can check: the prefix,
 * rounds PWHASH_ROUNDS_MIN..MAX in decimal without leading zeros, a salt of
 * at most PWHASH_SALT_MAX bytes and a 32-byte checksum, both canonical ab64.
 * The configuration loader calls it so that a bad hash is a start-up error. */
bool pwhash_valid(const char *encoded);

/*
 * Begin checking password against encoded; computes the first round.
 *   MP_OK:      call pwhash_check_step() until it is done.
 *   MP_INVALID: encoded is malformed (c is left wiped).
 */
enum mp_status pwhash_check_start(struct pwhash_check *c, const char *encoded,
				  const char *password, size_t pwlen);

/*
 * Run up to max_rounds more rounds (0 runs none).
 *   MP_AGAIN: more to do.
 *   MP_OK:    done; *match says whether the password was right (compared in
 *             constant time). The state is wiped.
 *   MP_ERR:   c was not started, or was already finished or wiped.
 */
enum mp_status pwhash_check_step(struct pwhash_check *c, unsigned max_rounds, bool *match);

/* Abandon a check (the session went away): wipe the state. Idempotent. */
void pwhash_check_wipe(struct pwhash_check *c);

/*
 * Make an encoded hash, NUL-terminated, in one go (blocking: for the
 * command line and tests, not for the event loop).
 *   MP_INVALID: rounds outside PWHASH_ROUNDS_MIN..MAX, saltlen > PWHASH_SALT_MAX.
 *   MP_TOOLONG: cap too small (PWHASH_ENCODED_MAX always suffices).
 */
enum mp_status pwhash_make(const char *password, size_t pwlen, const uint8_t *salt,
			   size_t saltlen, unsigned rounds, char *out, size_t cap);

/* Raw PBKDF2-HMAC-SHA256 with a 32-byte output (RFC 8018 §5.2), blocking. */
void pwhash_pbkdf2_sha256(const char *password, size_t pwlen, const uint8_t *salt,
			  size_t saltlen, uint32_t rounds, uint8_t out[PWHASH_DK_LEN]);

#endif
