#include "sasl.h"

#include <bearssl_hash.h>
#include <bearssl_hmac.h>
#include <string.h>

enum mp_status sasl_plain_decode(const uint8_t *p, size_t n, struct mp_str *authzid,
				 struct mp_str *authcid, struct mp_str *passwd)
{
	if (n == 0) {
		return MP_INVALID;
	}
	const uint8_t *nul1 = memchr(p, '\0', n);
	if (nul1 == NULL) {
		return MP_INVALID;
	}
	size_t rest = n - (size_t)(nul1 - p) - 1;
	const uint8_t *nul2 = memchr(nul1 + 1, '\0', rest);
	if (nul2 == NULL) {
		return MP_INVALID;
	}
	const uint8_t *end = p + n;
	/* Exactly two NULs: a third would hide part of the password from a
	 * backend that reads it as a C string (nginx keeps it all). */
	if (memchr(nul2 + 1, '\0', (size_t)(end - nul2 - 1)) != NULL) {
		return MP_INVALID;
	}
	if (nul2 == nul1 + 1 || nul2 + 1 == end) {
		return MP_INVALID; /* RFC 4616 §2: authcid and passwd are 1*SAFE */
	}
	*authzid = (struct mp_str){ (const char *)p, (size_t)(nul1 - p) };
	*authcid = (struct mp_str){ (const char *)nul1 + 1, (size_t)(nul2 - nul1 - 1) };
	*passwd = (struct mp_str){ (const char *)nul2 + 1, (size_t)(end - nul2 - 1) };
	return MP_OK;
}

/* Decimal digits of v, right-aligned in d[20]; returns the first index. */
static size_t fmt_u64(char d[20], uint64_t v)
{
	size_t i = 20;
	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	return i;
}

enum mp_status sasl_cram_salt(char *out, size_t cap, const uint8_t rnd[SASL_CRAM_RND_LEN],
			      uint64_t time, const char *server_name, size_t *len)
{
	size_t sn = strlen(server_name);
	for (size_t i = 0; i < sn; i++) {
		unsigned char c = (unsigned char)server_name[i];
		if (c <= 0x20 || c == 0x7f || c == '<' || c == '>') {
			return MP_INVALID;
		}
	}
	uint64_t r = 0;
	for (size_t i = 0; i < SASL_CRAM_RND_LEN; i++) {
		r = r << 8 | rnd[i];
	}
	char rd[20], td[20];
	size_t ri = fmt_u64(rd, r), ti = fmt_u64(td, time);
	size_t rn = sizeof(rd) - ri, tn = sizeof(td) - ti;
	/* "<" r "." t "@" name ">" NUL; rn + tn <= 40, so only sn can overflow. */
	size_t fixed = 1 + rn + 1 + tn + 1 + 1 + 1;
	if (cap < fixed || sn > cap - fixed) {
		return MP_TOOLONG;
	}
	size_t o = 0;
	out[o++] = '<';
	memcpy(out + o, rd + ri, rn);
	o += rn;
	out[o++] = '.';
	memcpy(out + o, td + ti, tn);
	o += tn;
	out[o++] = '@';
	memcpy(out + o, server_name, sn);
	o += sn;
	out[o++] = '>';
	out[o] = '\0';
	*len = o;
	return MP_OK;
}

static bool is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

enum mp_status sasl_cram_parse_response(const uint8_t *p, size_t n, struct mp_str *user,
					struct mp_str *digest)
{
	/* RFC 2195 §2: the digest is fixed-width hex, so the last space is the
	 * separator and a user name may itself hold spaces. */
	if (n < SASL_DIGEST_HEX_LEN + 2) {
		return MP_INVALID;
	}
	size_t sp = n - SASL_DIGEST_HEX_LEN - 1;
	if (p[sp] != ' ') {
		return MP_INVALID;
	}
	for (size_t i = sp + 1; i < n; i++) {
		if (!is_hex(p[i])) {
			return MP_INVALID;
		}
	}
	*user = (struct mp_str){ (const char *)p, sp };
	*digest = (struct mp_str){ (const char *)p + sp + 1, SASL_DIGEST_HEX_LEN };
	return MP_OK;
}

static void to_hex(const uint8_t md[16], char out_hex[SASL_DIGEST_HEX_LEN + 1])
{
	static const char hx[] = "0123456789abcdef";
	for (size_t i = 0; i < 16; i++) {
		out_hex[2 * i] = hx[md[i] >> 4];
		out_hex[2 * i + 1] = hx[md[i] & 15];
	}
	out_hex[SASL_DIGEST_HEX_LEN] = '\0';
}

void sasl_cram_digest(const char *secret, size_t secretlen, struct mp_str salt,
		      char out_hex[SASL_DIGEST_HEX_LEN + 1])
{
	br_hmac_key_context kc;
	br_hmac_context hc;
	uint8_t md[16];

	br_hmac_key_init(&kc, &br_md5_vtable, secret, secretlen);
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, salt.p, salt.n);
	br_hmac_out(&hc, md);
	to_hex(md, out_hex);
	explicit_bzero(&kc, sizeof(kc));
	explicit_bzero(&hc, sizeof(hc));
	explicit_bzero(md, sizeof(md));
}

void apop_digest(struct mp_str salt, const char *password, size_t pwlen,
		 char out_hex[SASL_DIGEST_HEX_LEN + 1])
{
	br_md5_context mc;
	uint8_t md[16];

	br_md5_init(&mc);
	br_md5_update(&mc, salt.p, salt.n);
	br_md5_update(&mc, password, pwlen);
	br_md5_out(&mc, md);
	to_hex(md, out_hex);
	explicit_bzero(&mc, sizeof(mc));
	explicit_bzero(md, sizeof(md));
}

static unsigned lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? c + 32u : c;
}

bool sasl_digest_eq(struct mp_str a, struct mp_str b)
{
	if (a.n != SASL_DIGEST_HEX_LEN || b.n != SASL_DIGEST_HEX_LEN) {
		return false;
	}
	unsigned diff = 0;
	for (size_t i = 0; i < SASL_DIGEST_HEX_LEN; i++) {
		diff |= lower((unsigned char)a.p[i]) ^ lower((unsigned char)b.p[i]);
	}
	return diff == 0;
}

bool sasl_cred_safe(struct mp_str s)
{
	return !str_has_ctl_crlfnul(s);
}
