/*
 * SASL building blocks (base64 is core/base64.h): the PLAIN message, CRAM-MD5 and APOP
 * digests and challenges. Pure: no I/O, no allocation, no globals. Decoded
 * slices point into the caller's buffer.
 */
#ifndef MP_SASL_H
#define MP_SASL_H

#include "../core/common.h"
#include "../core/base64.h"
#include "../core/str.h"

/*
 * RFC 4616 §2 PLAIN: message = [authzid] NUL authcid NUL passwd.
 * Exactly two NULs; authcid and passwd must be non-empty (1*SAFE).
 * nginx discards authzid (the caller should too, but it is handed out so
 * the caller may refuse a login whose authzid differs from authcid).
 * The slices point into p; they are written only on MP_OK.
 */
enum mp_status sasl_plain_decode(const uint8_t *p, size_t n, struct mp_str *authzid,
				 struct mp_str *authcid, struct mp_str *passwd);

/* Bytes of randomness in a CRAM-MD5/APOP challenge. */
#define SASL_CRAM_RND_LEN 8
/* "<" 20 digits "." 20 digits "@" name ">": the salt without the name. */
#define SASL_CRAM_SALT_FIXED (1 + 20 + 1 + 20 + 1 + 1)
/* 32 hex digits of an MD5 digest (RFC 2195 §2, RFC 1939 §7). */
#define SASL_DIGEST_HEX_LEN 32

/*
 * The challenge used by both APOP (the POP3 greeting) and CRAM-MD5 (base64
 * of it), in nginx's form "<RANDOM.TIME@server_name>" (ngx_mail_salt():
 * "<%ul.%T@%V>"). RANDOM is rnd read as a big-endian 64-bit number, TIME is
 * the Unix time. Written NUL-terminated without CRLF; *len excludes the NUL.
 *   MP_INVALID: server_name has a control byte, a space, '<' or '>'.
 *   MP_TOOLONG: cap too small (SASL_CRAM_SALT_FIXED + strlen(server_name)
 *               + 1 always suffices).
 */
enum mp_status sasl_cram_salt(char *out, size_t cap, const uint8_t rnd[SASL_CRAM_RND_LEN],
			      uint64_t time, const char *server_name, size_t *len);

/*
 * RFC 2195 §2 CRAM-MD5 response (already base64-decoded): "user SP digest".
 * The digest is the last SASL_DIGEST_HEX_LEN characters after the last space
 * and must be hex (either case); user is everything before, non-empty.
 * (nginx splits at the first space and only checks the digest length; every
 * response it accepts with a hex digest is accepted here too.)
 * The caller must still check user with sasl_cred_safe().
 */
enum mp_status sasl_cram_parse_response(const uint8_t *p, size_t n, struct mp_str *user,
					struct mp_str *digest);

/* HMAC-MD5(secret, salt) in lower-case hex, NUL-terminated (RFC 2195 §2). */
void sasl_cram_digest(const char *secret, size_t secretlen, struct mp_str salt,
		      char out_hex[SASL_DIGEST_HEX_LEN + 1]);

/* MD5(salt || password) in lower-case hex, NUL-terminated (RFC 1939 §7). */
void apop_digest(struct mp_str salt, const char *password, size_t pwlen,
		 char out_hex[SASL_DIGEST_HEX_LEN + 1]);

/* Constant-time comparison of two hex digests, case-insensitive. False if
 * either is not SASL_DIGEST_HEX_LEN long. */
bool sasl_digest_eq(struct mp_str a, struct mp_str b);

/* No CR, LF or NUL: a credential that would split a backend command line
 * (POP3 USER/PASS, SMTP AUTH, IMAP quoted strings) is refused. */
bool sasl_cred_safe(struct mp_str s);

#endif
