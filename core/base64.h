/* base64 (RFC 4648 §4), once for the whole program: SASL lines (strict) and
 * PEM bodies (the same, with line breaks between the characters). Pure. */
#ifndef MP_BASE64_H
#define MP_BASE64_H

#include "common.h"

/* Encoded length of n bytes (with padding); valid for n <= BASE64_INPUT_MAX only. */
#define BASE64_ENCODED_LEN(n) ((((n) + 2) / 3) * 4)
#define BASE64_INPUT_MAX (SIZE_MAX / 4 * 3 - 2)
/* Upper bound of the decoded length of n base64 characters. */
#define BASE64_DECODED_MAX(n) ((n) / 4 * 3)

/* in[0..n) into out[0..cap), not NUL-terminated. MP_OK with *outlen, or
 * MP_TOOLONG if cap < BASE64_ENCODED_LEN(n). */
enum mp_status base64_encode(const uint8_t *in, size_t n, char *out, size_t cap, size_t *outlen);

/*
 * Strict decoding, as SASL requires (RFC 4422 §3.4; RFC 3501 / 5034 / 4954
 * padded base64): the alphabet only, length a multiple of 4, '=' only as
 * the last one or two characters, and the bits the padding stands for zero
 * (RFC 4648 §3.5), so every input decodes one way only. No whitespace.
 * MP_OK with *outlen; MP_INVALID; MP_TOOLONG if out is too small.
 * (nginx's ngx_decode_base64 is laxer.)
 */
enum mp_status base64_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *outlen);

/* The same rules, but spaces, tabs, CR and LF between characters are
 * skipped: a PEM body (RFC 7468 §3). */
enum mp_status base64_decode_lines(const char *in, size_t n, uint8_t *out, size_t cap,
				   size_t *outlen);

#endif
