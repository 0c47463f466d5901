/*
 * Fuzz the DER side of tls/: names in both text forms (with a roomy and a
 * tight output buffer), certificates, serials, subjectAltName iPAddress
 * lookup and CRLs. Every input is what a client may put in its certificate.
 */
#include "../tls/tls_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static char out[TLS_DN_TEXT_MAX];
	static const uint8_t ip4[4] = { 127, 0, 0, 1 };
	static const uint8_t ip6[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
	tls_dn_oneline(d, n, out, sizeof(out));
	tls_dn_rfc2253(d, n, out, sizeof(out));
	tls_dn_oneline(d, n, out, 17);
	tls_dn_rfc2253(d, n, out, 17);
	tls_serial_hex(d, n, out, sizeof(out));
	struct tls_cert_info ci;
	if (tls_cert_parse(d, n, &ci) == MP_OK) {
		tls_dn_oneline(ci.subject, ci.subject_len, out, sizeof(out));
		tls_dn_rfc2253(ci.issuer, ci.issuer_len, out, sizeof(out));
		tls_serial_hex(ci.serial, ci.serial_len, out, sizeof(out));
		tls_san_has_ip(ci.san, ci.san_len, ip4, sizeof(ip4));
		tls_san_has_ip(ci.san, ci.san_len, ip6, sizeof(ip6));
	}
	struct tls_crl_info crl;
	if (tls_crl_parse(d, n, &crl) == MP_OK) {
		size_t off = 0;
		const uint8_t *ser;
		size_t sl;
		for (int k = 0; k < 100000 && tls_crl_next_serial(&crl, &off, &ser, &sl) == MP_OK; k++) {
			tls_serial_hex(ser, sl, out, sizeof(out));
		}
		tls_dn_oneline(crl.issuer, crl.issuer_len, out, sizeof(out));
	}
	return 0;
}
