/*
 * PEM framing (RFC 7468, plus RFC 1421 headers for OpenSSL's encrypted
 * keys), base64, and private keys as OpenSSL writes them:
 *   - "RSA PRIVATE KEY" / "EC PRIVATE KEY" / "PRIVATE KEY" in clear;
 *   - the same with "Proc-Type: 4,ENCRYPTED" and "DEK-Info: <cipher>,<iv>"
 *     headers (key = EVP_BytesToKey(MD5, salt = first 8 IV bytes, 1 round));
 *   - "ENCRYPTED PRIVATE KEY": PKCS#8 with PBES2 = PBKDF2 (HMAC-SHA1/224/
 *     256/384/512) + AES-128/192/256-CBC or DES-EDE3-CBC (RFC 8018).
 * Decryption uses BearSSL's primitives; every password of ssl_password_file
 * is tried in turn (as nginx does).
 */
#include "tls_int.h"

#include "../core/base64.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PEM_LABEL_MAX 64

void tls_wipe(void *p, size_t n)
{
	explicit_bzero(p, n); /* not optimised away, unlike a dead memset */
}

/* ---- framing ----------------------------------------------------------- */

static bool starts(const char *p, const char *end, const char *lit)
{
	size_t l = strlen(lit);
	return (size_t)(end - p) >= l && memcmp(p, lit, l) == 0;
}

static const char *line_end(const char *p, const char *end)
{
	const char *q = memchr(p, '\n', (size_t)(end - p));
	return q != NULL ? q : end;
}

static const char *next_line(const char *p, const char *end)
{
	const char *q = line_end(p, end);
	return q < end ? q + 1 : end;
}

/* Trailing CR and blanks of a line are not part of it. */
static const char *trim_end(const char *p, const char *q)
{
	while (q > p && (q[-1] == '\r' || q[-1] == ' ' || q[-1] == '\t')) {
		q--;
	}
	return q;
}

enum mp_status tls_pem_next(const char *p, size_t n, size_t *off, struct tls_pem *out)
{
	const char *end = p + n;
	const char *l = p + (*off < n ? *off : n);
	/* the next line that begins an object */
	while (l < end && !starts(l, end, "-----BEGIN ")) {
		l = next_line(l, end);
	}
	if (l >= end) {
		*off = n;
		return MP_AGAIN;
	}
	const char *le = trim_end(l, line_end(l, end));
	const char *lab = l + 11;
	if (le - lab < 6 || memcmp(le - 5, "-----", 5) != 0) {
		return MP_INVALID;
	}
	struct mp_str label = { lab, (size_t)(le - 5 - lab) };
	if (label.n == 0 || label.n > PEM_LABEL_MAX) {
		return MP_INVALID;
	}
	for (size_t i = 0; i < label.n; i++) {
		char c = label.p[i];
		if (c < 0x20 || c > 0x7E || c == '-') {
			return MP_INVALID;
		}
	}
	const char *b = next_line(l, end);
	/* RFC 1421 headers: "Name: value" lines up to an empty line */
	struct mp_str headers = { b, 0 };
	const char *fl = trim_end(b, line_end(b, end));
	if (b < end && memchr(b, ':', (size_t)(fl - b)) != NULL && !starts(b, end, "-----")) {
		const char *h = b;
		while (h < end) {
			const char *he = trim_end(h, line_end(h, end));
			if (he == h) {
				break;
			}
			if (starts(h, end, "-----")) {
				return MP_INVALID; /* END before the end of the headers */
			}
			h = next_line(h, end);
		}
		if (h >= end) {
			return MP_INVALID;
		}
		headers.n = (size_t)(h - b);
		b = next_line(h, end);
	}
	/* body up to "-----END <label>-----" */
	const char *e = b;
	while (e < end && !starts(e, end, "-----END ")) {
		e = next_line(e, end);
	}
	if (e >= end) {
		return MP_INVALID;
	}
	const char *ee = trim_end(e, line_end(e, end));
	if ((size_t)(ee - e) != 9 + label.n + 5 || memcmp(e + 9, label.p, label.n) != 0 ||
	    memcmp(ee - 5, "-----", 5) != 0) {
		return MP_INVALID;
	}
	out->label = label;
	out->headers = headers;
	out->body.p = b;
	out->body.n = (size_t)(e - b);
	*off = (size_t)(next_line(e, end) - p);
	return MP_OK;
}

enum mp_status tls_pem_header(const struct tls_pem *pem, const char *name, struct mp_str *value)
{
	const char *h = pem->headers.p, *end = h + pem->headers.n;
	size_t nl = strlen(name);
	while (h < end) {
		const char *he = trim_end(h, line_end(h, end));
		if ((size_t)(he - h) > nl && memcmp(h, name, nl) == 0 && h[nl] == ':') {
			const char *v = h + nl + 1;
			while (v < he && (*v == ' ' || *v == '\t')) {
				v++;
			}
			value->p = v;
			value->n = (size_t)(he - v);
			return MP_OK;
		}
		h = next_line(h, end);
	}
	return MP_AGAIN;
}

/* ---- base64 ------------------------------------------------------------ */

/* A PEM body: core/base64.c's strict rules, line breaks allowed. */
enum mp_status tls_b64_decode(const char *p, size_t n, uint8_t *dst, size_t cap, size_t *outlen)
{
	return base64_decode_lines(p, n, dst, cap, outlen);
}

size_t tls_pem_encode(const char *label, const uint8_t *der, size_t n, char *dst, size_t cap)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t ll = strlen(label);
	size_t b64 = (n + 2) / 3 * 4;
	size_t need = 11 + ll + 6 + b64 + (b64 + 63) / 64 + 9 + ll + 6 + 1;
	if (n > TLS_DER_MAX || need > cap) {
		return 0;
	}
	size_t o = (size_t)snprintf(dst, cap, "-----BEGIN %s-----\n", label);
	size_t col = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)der[i] << 16;
		if (i + 1 < n) {
			v |= (uint32_t)der[i + 1] << 8;
		}
		if (i + 2 < n) {
			v |= der[i + 2];
		}
		dst[o++] = tab[(v >> 18) & 63];
		dst[o++] = tab[(v >> 12) & 63];
		dst[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		dst[o++] = i + 2 < n ? tab[v & 63] : '=';
		col += 4;
		if (col == 64) {
			dst[o++] = '\n';
			col = 0;
		}
	}
	if (col > 0) {
		dst[o++] = '\n';
	}
	o += (size_t)snprintf(dst + o, cap - o, "-----END %s-----\n", label);
	return o;
}

/* ---- decryption -------------------------------------------------------- */

static size_t cipher_key_len(int c)
{
	switch (c) {
	case TLS_CIPHER_AES128:
		return 16;
	case TLS_CIPHER_AES192:
	case TLS_CIPHER_DES3:
		return 24;
	case TLS_CIPHER_AES256:
		return 32;
	default:
		return 0;
	}
}

static size_t cipher_iv_len(int c)
{
	return c == TLS_CIPHER_DES3 ? 8 : 16;
}

/* CBC-decrypt in place, then check and remove the PKCS#7 padding. A wrong
 * password shows up here most of the time (or in the key decoder). */
static enum mp_status cbc_decrypt(int cipher, const uint8_t *key, uint8_t *iv, uint8_t *buf, size_t n,
				  size_t *outlen)
{
	size_t bs = cipher_iv_len(cipher);
	if (n == 0 || n % bs != 0) {
		return MP_INVALID;
	}
	if (cipher == TLS_CIPHER_DES3) {
		br_des_ct_cbcdec_keys dk;
		br_des_ct_cbcdec_init(&dk, key, 24);
		br_des_ct_cbcdec_run(&dk, iv, buf, n);
		tls_wipe(&dk, sizeof(dk));
	} else {
		/* the AES implementation the TLS engine uses anyway (AES-NI,
		 * ct64 or ct), found through a scratch engine: no second copy
		 * of AES in the binary for the sake of key files */
		br_ssl_engine_context *e = calloc(1, sizeof(*e));
		if (e == NULL) {
			return MP_ERR;
		}
		br_ssl_engine_set_default_aes_cbc(e);
		const br_block_cbcdec_class *vt = e->iaes_cbcdec;
		free(e);
		br_aes_gen_cbcdec_keys ak;
		vt->init(&ak.vtable, key, cipher_key_len(cipher));
		vt->run(&ak.vtable, iv, buf, n);
		tls_wipe(&ak, sizeof(ak));
	}
	unsigned padv = buf[n - 1];
	if (padv == 0 || padv > bs) {
		return MP_INVALID;
	}
	for (size_t i = n - padv; i < n; i++) {
		if (buf[i] != padv) {
			return MP_INVALID;
		}
	}
	*outlen = n - padv;
	return MP_OK;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	if (c >= 'A' && c <= 'F') {
		return c - 'A' + 10;
	}
	return -1;
}

/* "AES-128-CBC,0123...": the cipher and its IV. */
static bool parse_dek(struct mp_str dek, int *cipher, uint8_t iv[16])
{
	static const struct {
		const char *name;
		int cipher;
	} names[] = {
		{ "AES-128-CBC", TLS_CIPHER_AES128 },
		{ "AES-192-CBC", TLS_CIPHER_AES192 },
		{ "AES-256-CBC", TLS_CIPHER_AES256 },
		{ "DES-EDE3-CBC", TLS_CIPHER_DES3 },
	};
	const char *comma = memchr(dek.p, ',', dek.n);
	if (comma == NULL) {
		return false;
	}
	size_t nl = (size_t)(comma - dek.p);
	*cipher = 0;
	for (size_t i = 0; i < MP_ARRAY_LEN(names); i++) {
		if (strlen(names[i].name) == nl && memcmp(dek.p, names[i].name, nl) == 0) {
			*cipher = names[i].cipher;
		}
	}
	if (*cipher == 0) {
		return false;
	}
	size_t ivl = cipher_iv_len(*cipher);
	const char *hx = comma + 1;
	if (dek.n - nl - 1 != ivl * 2) {
		return false;
	}
	for (size_t i = 0; i < ivl; i++) {
		int a = hexval(hx[2 * i]), b = hexval(hx[2 * i + 1]);
		if (a < 0 || b < 0) {
			return false;
		}
		iv[i] = (uint8_t)(a << 4 | b);
	}
	return true;
}

enum mp_status tls_pem_decrypt_legacy(struct mp_str dek, const uint8_t *in, size_t n, const char *pw,
				      size_t pwlen, uint8_t *out, size_t *outlen)
{
	int cipher;
	uint8_t iv[16];
	if (!parse_dek(dek, &cipher, iv)) {
		return MP_INVALID;
	}
	/* EVP_BytesToKey(cipher, MD5, salt = iv[0..8), count 1):
	 * D1 = MD5(pw || salt), Di = MD5(Di-1 || pw || salt) */
	uint8_t key[48], d[16];
	size_t kl = cipher_key_len(cipher), have = 0;
	while (have < kl) {
		br_md5_context mc;
		br_md5_init(&mc);
		if (have > 0) {
			br_md5_update(&mc, d, sizeof(d));
		}
		br_md5_update(&mc, pw, pwlen);
		br_md5_update(&mc, iv, 8);
		br_md5_out(&mc, d);
		size_t k = MP_MIN(sizeof(d), kl - have);
		memcpy(key + have, d, k);
		have += k;
	}
	memcpy(out, in, n);
	enum mp_status st = cbc_decrypt(cipher, key, iv, out, n, outlen);
	tls_wipe(key, sizeof(key));
	tls_wipe(d, sizeof(d));
	return st;
}

void tls_pbkdf2(const br_hash_class *hash, const void *pw, size_t pwlen, const uint8_t *salt, size_t saltlen,
		uint32_t iter, uint8_t *out, size_t outlen)
{
	br_hmac_key_context kc;
	br_hmac_key_init(&kc, hash, pw, pwlen);
	size_t hl = (size_t)(hash->desc >> BR_HASHDESC_OUT_OFF) & BR_HASHDESC_OUT_MASK;
	uint8_t u[64], t[64];
	for (uint32_t block = 1; outlen > 0; block++) {
		uint8_t be[4] = { (uint8_t)(block >> 24), (uint8_t)(block >> 16), (uint8_t)(block >> 8),
				  (uint8_t)block };
		br_hmac_context hc;
		br_hmac_init(&hc, &kc, 0);
		br_hmac_update(&hc, salt, saltlen);
		br_hmac_update(&hc, be, 4);
		br_hmac_out(&hc, u);
		memcpy(t, u, hl);
		for (uint32_t j = 1; j < iter; j++) {
			br_hmac_init(&hc, &kc, 0);
			br_hmac_update(&hc, u, hl);
			br_hmac_out(&hc, u);
			for (size_t k = 0; k < hl; k++) {
				t[k] ^= u[k];
			}
		}
		size_t c = MP_MIN(hl, outlen);
		memcpy(out, t, c);
		out += c;
		outlen -= c;
	}
	tls_wipe(u, sizeof(u));
	tls_wipe(t, sizeof(t));
	tls_wipe(&kc, sizeof(kc));
}

static bool oid_is(const struct tls_der *o, const uint8_t *v, size_t n)
{
	return (size_t)(o->end - o->p) == n && memcmp(o->p, v, n) == 0;
}

/* 1.2.840.113549.1.5.13 / .12, 1.2.840.113549.2.{7,8,9,10,11},
 * 2.16.840.1.101.3.4.1.{2,22,42}, 1.2.840.113549.3.7 */
static const uint8_t OID_PBES2[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0d };
static const uint8_t OID_PBKDF2[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0c };
static const uint8_t OID_HMAC_PREFIX[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02 };
static const uint8_t OID_AES_PREFIX[] = { 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01 };
static const uint8_t OID_DES3[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x03, 0x07 };

static bool read_uint32(struct tls_der *d, uint32_t *v)
{
	struct tls_der x;
	if (!tls_der_expect(d, 0x02, &x) || x.p == x.end || (x.p[0] & 0x80)) {
		return false;
	}
	uint64_t a = 0;
	for (const uint8_t *q = x.p; q < x.end; q++) {
		a = (a << 8) | *q;
		if (a > UINT32_MAX) {
			return false;
		}
	}
	*v = (uint32_t)a;
	return true;
}

enum mp_status tls_pkcs8_parse(const uint8_t *der, size_t n, struct tls_pbes2 *out)
{
	struct tls_pbes2 r;
	memset(&r, 0, sizeof(r));
	struct tls_der d = { der, der + n }, epki, alg, oid, params, kdf, kdfp, enc, x;
	if (!tls_der_expect(&d, 0x30, &epki) || d.p != d.end || !tls_der_expect(&epki, 0x30, &alg) ||
	    !tls_der_expect(&alg, 0x06, &oid) || !oid_is(&oid, OID_PBES2, sizeof(OID_PBES2)) ||
	    !tls_der_expect(&alg, 0x30, &params)) {
		return MP_INVALID;
	}
	/* keyDerivationFunc: PBKDF2 { salt, iterationCount, keyLength?, prf? } */
	if (!tls_der_expect(&params, 0x30, &kdf) || !tls_der_expect(&kdf, 0x06, &oid) ||
	    !oid_is(&oid, OID_PBKDF2, sizeof(OID_PBKDF2)) || !tls_der_expect(&kdf, 0x30, &kdfp) ||
	    !tls_der_expect(&kdfp, 0x04, &x)) {
		return MP_INVALID;
	}
	r.salt = x.p;
	r.salt_len = (size_t)(x.end - x.p);
	if (!read_uint32(&kdfp, &r.iter) || r.iter == 0) {
		return MP_INVALID;
	}
	uint32_t keylen = 0;
	if (kdfp.p < kdfp.end && kdfp.p[0] == 0x02 && !read_uint32(&kdfp, &keylen)) {
		return MP_INVALID;
	}
	r.prf = &br_sha1_vtable; /* RFC 8018: DEFAULT algid-hmacWithSHA1 */
	if (kdfp.p < kdfp.end) {
		struct tls_der prf, prfoid;
		if (!tls_der_expect(&kdfp, 0x30, &prf) || !tls_der_expect(&prf, 0x06, &prfoid) ||
		    (size_t)(prfoid.end - prfoid.p) != sizeof(OID_HMAC_PREFIX) + 1 ||
		    memcmp(prfoid.p, OID_HMAC_PREFIX, sizeof(OID_HMAC_PREFIX)) != 0) {
			return MP_INVALID;
		}
		switch (prfoid.p[sizeof(OID_HMAC_PREFIX)]) {
		case 7:
			r.prf = &br_sha1_vtable;
			break;
		case 8:
			r.prf = &br_sha224_vtable;
			break;
		case 9:
			r.prf = &br_sha256_vtable;
			break;
		case 10:
			r.prf = &br_sha384_vtable;
			break;
		case 11:
			r.prf = &br_sha512_vtable;
			break;
		default:
			return MP_INVALID;
		}
	}
	if (kdfp.p != kdfp.end) {
		return MP_INVALID;
	}
	/* encryptionScheme: { cipher OID, IV } */
	if (!tls_der_expect(&params, 0x30, &enc) || !tls_der_expect(&enc, 0x06, &oid)) {
		return MP_INVALID;
	}
	if ((size_t)(oid.end - oid.p) == sizeof(OID_AES_PREFIX) + 1 &&
	    memcmp(oid.p, OID_AES_PREFIX, sizeof(OID_AES_PREFIX)) == 0) {
		switch (oid.p[sizeof(OID_AES_PREFIX)]) {
		case 2:
			r.cipher = TLS_CIPHER_AES128;
			break;
		case 22:
			r.cipher = TLS_CIPHER_AES192;
			break;
		case 42:
			r.cipher = TLS_CIPHER_AES256;
			break;
		default:
			return MP_INVALID;
		}
	} else if (oid_is(&oid, OID_DES3, sizeof(OID_DES3))) {
		r.cipher = TLS_CIPHER_DES3;
	} else {
		return MP_INVALID;
	}
	if (!tls_der_expect(&enc, 0x04, &x) || (size_t)(x.end - x.p) != cipher_iv_len(r.cipher)) {
		return MP_INVALID;
	}
	memcpy(r.iv, x.p, cipher_iv_len(r.cipher));
	if (keylen != 0 && keylen != cipher_key_len(r.cipher)) {
		return MP_INVALID;
	}
	if (!tls_der_expect(&epki, 0x04, &x) || epki.p != epki.end) {
		return MP_INVALID;
	}
	r.data = x.p;
	r.data_len = (size_t)(x.end - x.p);
	if (r.iter > TLS_PBKDF2_ITER_MAX) {
		return MP_TOOLONG;
	}
	*out = r;
	return MP_OK;
}

enum mp_status tls_pkcs8_decrypt(const uint8_t *der, size_t n, const char *pw, size_t pwlen, uint8_t *out,
				 size_t *outlen)
{
	struct tls_pbes2 r;
	enum mp_status st = tls_pkcs8_parse(der, n, &r);
	if (st != MP_OK) {
		return st;
	}
	uint8_t key[32];
	size_t kl = cipher_key_len(r.cipher);
	tls_pbkdf2(r.prf, pw, pwlen, r.salt, r.salt_len, r.iter, key, kl);
	memcpy(out, r.data, r.data_len);
	st = cbc_decrypt(r.cipher, key, r.iv, out, r.data_len, outlen);
	tls_wipe(key, sizeof(key));
	return st;
}

/* ---- private keys ------------------------------------------------------ */

/* Decode a clear DER key and copy it into owned memory. */
static enum mp_status key_from_der(const uint8_t *der, size_t n, struct tls_key *out)
{
	br_skey_decoder_context *dc = malloc(sizeof(*dc));
	if (dc == NULL) {
		return MP_ERR;
	}
	br_skey_decoder_init(dc);
	br_skey_decoder_push(dc, der, n);
	enum mp_status st = MP_INVALID;
	if (br_skey_decoder_last_error(dc) == 0) {
		int type = br_skey_decoder_key_type(dc);
		if (type == BR_KEYTYPE_RSA) {
			const br_rsa_private_key *k = br_skey_decoder_get_rsa(dc);
			size_t len = k->plen + k->qlen + k->dplen + k->dqlen + k->iqlen;
			uint8_t *m = malloc(len);
			if (m == NULL) {
				st = MP_ERR;
			} else {
				out->type = type;
				out->mem = m;
				out->memlen = len;
				out->rsa.n_bitlen = k->n_bitlen;
#define COPYPART(f, l)                          \
	do {                                    \
		memcpy(m, k->f, k->l);          \
		out->rsa.f = m;                 \
		out->rsa.l = k->l;              \
		m += k->l;                      \
	} while (0)
				COPYPART(p, plen);
				COPYPART(q, qlen);
				COPYPART(dp, dplen);
				COPYPART(dq, dqlen);
				COPYPART(iq, iqlen);
#undef COPYPART
				st = MP_OK;
			}
		} else if (type == BR_KEYTYPE_EC) {
			const br_ec_private_key *k = br_skey_decoder_get_ec(dc);
			uint8_t *m = malloc(k->xlen);
			if (m == NULL) {
				st = MP_ERR;
			} else {
				memcpy(m, k->x, k->xlen);
				out->type = type;
				out->mem = m;
				out->memlen = k->xlen;
				out->ec.curve = k->curve;
				out->ec.x = m;
				out->ec.xlen = k->xlen;
				st = MP_OK;
			}
		}
	}
	tls_wipe(dc, sizeof(*dc));
	free(dc);
	return st;
}

void tls_key_free(struct tls_key *k)
{
	if (k->mem != NULL) {
		tls_wipe(k->mem, k->memlen);
		free(k->mem);
	}
	memset(k, 0, sizeof(*k));
}

static bool label_is(const struct tls_pem *pem, const char *lit)
{
	return pem->label.n == strlen(lit) && memcmp(pem->label.p, lit, pem->label.n) == 0;
}

static void why_set(char *why, size_t cap, const char *s)
{
	if (cap > 0) {
		snprintf(why, cap, "%s", s);
	}
}

enum mp_status tls_key_decode(const char *text, size_t n, const struct tls_pwlist *pw, struct tls_key *out,
			      char *why, size_t whycap)
{
	memset(out, 0, sizeof(*out));
	size_t off = 0;
	struct tls_pem pem;
	enum mp_status st;
	for (;;) {
		st = tls_pem_next(text, n, &off, &pem);
		if (st == MP_AGAIN) {
			why_set(why, whycap, "no private key found");
			return MP_INVALID;
		}
		if (st != MP_OK) {
			why_set(why, whycap, "malformed PEM");
			return MP_INVALID;
		}
		if (label_is(&pem, "RSA PRIVATE KEY") || label_is(&pem, "EC PRIVATE KEY") ||
		    label_is(&pem, "PRIVATE KEY") || label_is(&pem, "ENCRYPTED PRIVATE KEY")) {
			break;
		}
	}
	size_t cap = pem.body.n / 4 * 3 + 3;
	uint8_t *der = malloc(cap), *plain = NULL;
	size_t dlen;
	if (der == NULL) {
		return MP_ERR;
	}
	st = tls_b64_decode(pem.body.p, pem.body.n, der, cap, &dlen);
	if (st != MP_OK) {
		why_set(why, whycap, "bad base64 in PEM");
		free(der);
		return MP_INVALID;
	}
	struct mp_str proc, dek;
	bool legacy = tls_pem_header(&pem, "Proc-Type", &proc) == MP_OK;
	bool pkcs8 = label_is(&pem, "ENCRYPTED PRIVATE KEY");
	if (legacy && (proc.n < 11 || memcmp(proc.p, "4,ENCRYPTED", 11) != 0)) {
		legacy = false;
	}
	if (!legacy && !pkcs8) {
		st = key_from_der(der, dlen, out);
		if (st == MP_INVALID) {
			why_set(why, whycap, "unsupported or corrupt private key");
		}
		goto done;
	}
	if (legacy) {
		int c;
		uint8_t iv[16];
		if (tls_pem_header(&pem, "DEK-Info", &dek) != MP_OK || !parse_dek(dek, &c, iv)) {
			why_set(why, whycap,
				"unsupported key encryption (DEK-Info AES-128/192/256-CBC or DES-EDE3-CBC only)");
			st = MP_INVALID;
			goto done;
		}
	}
	if (pkcs8) {
		struct tls_pbes2 r;
		st = tls_pkcs8_parse(der, dlen, &r);
		if (st != MP_OK) {
			why_set(why, whycap,
				st == MP_TOOLONG ? "too many PBKDF2 iterations"
						 : "unsupported key encryption (PKCS#8 PBES2 with PBKDF2 and AES/3DES-CBC only)");
			st = MP_INVALID;
			goto done;
		}
	}
	if (pw == NULL || pw->n == 0) {
		why_set(why, whycap, "the key is encrypted and there is no ssl_password_file");
		st = MP_INVALID;
		goto done;
	}
	plain = malloc(dlen > 0 ? dlen : 1);
	if (plain == NULL) {
		st = MP_ERR;
		goto done;
	}
	st = MP_INVALID;
	why_set(why, whycap, "bad password or corrupt key");
	for (size_t i = 0; i < pw->n && st == MP_INVALID; i++) {
		size_t plen;
		enum mp_status ds = legacy ? tls_pem_decrypt_legacy(dek, der, dlen, pw->v[i], pw->len[i], plain, &plen)
					   : tls_pkcs8_decrypt(der, dlen, pw->v[i], pw->len[i], plain, &plen);
		if (ds == MP_OK) {
			st = key_from_der(plain, plen, out);
		}
		tls_wipe(plain, dlen);
	}
	if (st == MP_OK) {
		why_set(why, whycap, "");
	}
done:
	tls_wipe(der, cap);
	free(der);
	free(plain);
	return st;
}
