/*
 * Fuzz PEM framing, base64, RFC 1421 headers, key decryption (traditional
 * DEK-Info and PKCS#8 PBES2, with a fixed password) and key decoding, plus
 * the OpenSSL cipher-string parser (configuration text, but cheap to cover).
 * PBKDF2 runs only for small iteration counts, so the fuzzer stays fast.
 */
#include "../tls/tls_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static uint8_t der[1 << 16], plain[1 << 16];
	const char *text = (const char *)d;
	size_t off = 0;
	struct tls_pem pem;
	for (int k = 0; k < 64 && tls_pem_next(text, n, &off, &pem) == MP_OK; k++) {
		size_t dl, pl;
		struct mp_str v;
		if (tls_b64_decode(pem.body.p, pem.body.n, der, sizeof(der), &dl) != MP_OK) {
			continue;
		}
		if (tls_pem_header(&pem, "DEK-Info", &v) == MP_OK) {
			tls_pem_decrypt_legacy(v, der, dl, "pw", 2, plain, &pl);
		}
		struct tls_pbes2 r;
		if (tls_pkcs8_parse(der, dl, &r) == MP_OK && r.iter <= 16) {
			tls_pkcs8_decrypt(der, dl, "pw", 2, plain, &pl);
		}
	}
	struct tls_key key;
	char why[128];
	if (tls_key_decode(text, n, NULL, &key, why, sizeof(why)) == MP_OK) {
		tls_key_free(&key);
	}
	uint16_t suites[TLS_NSUITES];
	size_t ns;
	tls_cipher_list(text, n, suites, TLS_NSUITES, &ns);
	return 0;
}
