/*
 * Private to tls/ (and its unit tests and fuzzers): the pure pieces the TLS
 * module is built from.
 *
 *   suites.c   the cipher suites we enable, their OpenSSL names, and the
 *              OpenSSL cipher-string language mapped onto them
 *   x509.c     a bounded DER reader: certificate fields, names in
 *              X509_NAME_oneline and RFC 2253 form, serial, SAN, CRL
 *   pem.c      PEM framing, base64, encrypted private keys (OpenSSL's
 *              traditional DEK-Info and PKCS#8 PBES2), key/cert decoding
 *   ctx.c      tls_server_ctx / tls_client_ctx from the configuration,
 *              the process-wide session cache
 *   conn.c     per-connection state, the engine pump, the io_tls_vt,
 *              certificate choice, client-certificate capture
 *
 * Pure functions follow the house rule: (input, length, out) -> mp_status,
 * no I/O, no allocation, no globals; they are fuzzed (fuzz/tls_*.c).
 */
#ifndef MP_TLS_INT_H
#define MP_TLS_INT_H

#include "tls.h"
#include "../core/str.h"

#include <bearssl.h>

/* ---- limits ------------------------------------------------------------ */

/* Cipher suites mproxy knows (suites.c's table). */
#define TLS_NSUITES 20
/* Certificate/key pairs in one server (nginx: one per key type in practice). */
#define TLS_CERTS_MAX 8
/* Certificates in one ssl_certificate chain file. */
#define TLS_CHAIN_MAX 16
/* Certificates in one CA file (ssl_client_certificate, trusted, proxy trusted). */
#define TLS_CA_MAX 4096
/* Any file we read (certificates, keys, CA bundles, CRLs, passwords). */
#define TLS_FILE_MAX (8u << 20)
/* One DER object decoded from PEM. */
#define TLS_DER_MAX (1u << 20)
/* Passwords in ssl_password_file, and the length of one (nginx: 4096). */
#define TLS_PASSWORDS_MAX 64
#define TLS_PASSWORD_LEN_MAX 4096
/* The client's end-entity certificate we keep for Auth-SSL-* headers. */
#define TLS_PEER_CERT_MAX 16384
/* One formatted distinguished name, NUL included. */
#define TLS_DN_TEXT_MAX 4096
/* Serial numbers longer than this (RFC 5280 4.1.2.2 says 20) are refused. */
#define TLS_SERIAL_MAX 64
/* DER nesting we follow inside a certificate or name. */
#define TLS_DER_DEPTH_MAX 16
/* PBKDF2 iterations accepted in an encrypted PKCS#8 key (OpenSSL: 2048). */
#define TLS_PBKDF2_ITER_MAX 10000000u
/* Revoked serials kept from all ssl_crl files of one server. */
#define TLS_CRL_ENTRIES_MAX 100000
/* Session cache: one BearSSL LRU entry, and the cache's upper bound. */
#define TLS_CACHE_ENTRY 100
#define TLS_CACHE_MAX (256u << 20)
/* Backend sessions remembered per tls_client_ctx (keyed by backend address). */
#define TLS_CLIENT_SESSIONS 16
#define TLS_CLIENT_SESSION_TTL_MS (300u * 1000u)

/* Record buffers. A peer may send records of 16 KiB of plaintext, so the
 * input side is full-size; our own records carry at most TLS_OUT_PLAIN
 * bytes (BearSSL fragments to fit), which costs ~2% of bandwidth against
 * 12 KiB less per connection. */
#define TLS_IBUF_LEN BR_SSL_BUFSIZE_INPUT
#define TLS_OUT_PLAIN 4096
#define TLS_OBUF_LEN (TLS_OUT_PLAIN + 85)

/* ---- suites.c ---------------------------------------------------------- */

enum tls_suite_attr {
	TLS_K_ECDHE = 1u << 0,
	TLS_K_RSA = 1u << 1,
	TLS_A_RSA = 1u << 2,
	TLS_A_ECDSA = 1u << 3,
	TLS_E_AES128 = 1u << 4,
	TLS_E_AES256 = 1u << 5,
	TLS_E_AESGCM = 1u << 6,
	TLS_E_CHACHA20 = 1u << 7,
	TLS_M_SHA1 = 1u << 8,
	TLS_M_SHA256 = 1u << 9,
	TLS_M_SHA384 = 1u << 10,
	TLS_M_AEAD = 1u << 11,
	TLS_V_TLS12 = 1u << 12, /* needs TLS 1.2 */
	TLS_V_TLS10 = 1u << 13, /* OpenSSL's "TLSv1" class */
	TLS_V_SSL3 = 1u << 14,  /* OpenSSL's "SSLv3" class */
};

struct tls_suite {
	uint16_t id;        /* IANA number, BearSSL's BR_TLS_* */
	const char *name;   /* OpenSSL's name */
	uint16_t attrs;     /* tls_suite_attr bits */
	uint16_t bits;      /* symmetric strength, for @STRENGTH */
};

/* In OpenSSL's default order ("openssl ciphers ALL"), which the cipher
 * string language starts from. */
extern const struct tls_suite tls_suites[TLS_NSUITES];

const struct tls_suite *tls_suite_find(uint16_t id);
/* OpenSSL's name for a suite, "" if unknown. */
const char *tls_suite_name(uint16_t id);
/* "TLSv1", "TLSv1.1", "TLSv1.2", "SSLv3"; "" if unknown. */
const char *tls_version_name(unsigned version);
/* An OpenSSL cipher string (ssl_ciphers) -> our suites in preference order.
 * MP_OK with *n >= 1, or MP_INVALID when nothing is left ("no cipher match"). */
enum mp_status tls_cipher_list(const char *s, size_t len, uint16_t *out, size_t cap, size_t *n);

/* ---- x509.c ------------------------------------------------------------ */

/* A DER cursor over [p, end). */
struct tls_der {
	const uint8_t *p, *end;
};
/* One element: tag (low-tag-number form only), contents in *val (the
 * cursor moves past it). Definite lengths of at most 4 bytes. false when
 * malformed or truncated; the cursor is then unspecified. */
bool tls_der_read(struct tls_der *d, unsigned *tag, struct tls_der *val);
/* The same, requiring the tag; on false the cursor is unchanged. */
bool tls_der_expect(struct tls_der *d, unsigned tag, struct tls_der *val);

struct tls_cert_info {
	const uint8_t *serial;   /* INTEGER contents (two's complement) */
	size_t serial_len;
	const uint8_t *issuer;   /* whole Name (SEQUENCE, tag included) */
	size_t issuer_len;
	const uint8_t *subject;
	size_t subject_len;
	int64_t not_before;      /* seconds since the epoch, UTC */
	int64_t not_after;
	const uint8_t *san;      /* GeneralNames contents, NULL if no SAN */
	size_t san_len;
};

/* The fields of one DER certificate, pointing into der. MP_OK / MP_INVALID. */
enum mp_status tls_cert_parse(const uint8_t *der, size_t n, struct tls_cert_info *out);
/* A DER Name as OpenSSL's X509_NAME_oneline writes it: "/C=US/CN=x". Output
 * is NUL-terminated. MP_OK / MP_INVALID (not a Name) / MP_TOOLONG. */
enum mp_status tls_dn_oneline(const uint8_t *name, size_t n, char *out, size_t cap);
/* A DER Name as X509_NAME_print_ex(XN_FLAG_RFC2253): "CN=x,C=US". */
enum mp_status tls_dn_rfc2253(const uint8_t *name, size_t n, char *out, size_t cap);
/* INTEGER contents as i2a_ASN1_INTEGER: "00" for 0, upper-case hex of the
 * magnitude, '-' first when negative. MP_INVALID / MP_TOOLONG. */
enum mp_status tls_serial_hex(const uint8_t *p, size_t n, char *out, size_t cap);
/* Is ip (4 or 16 bytes) one of the iPAddress entries of a SAN? */
bool tls_san_has_ip(const uint8_t *san, size_t n, const uint8_t *ip, size_t iplen);
/* X.509 time (UTCTime tag 0x17 / GeneralizedTime 0x18 contents) -> epoch seconds. */
enum mp_status tls_der_time(unsigned tag, const uint8_t *p, size_t n, int64_t *out);

/* A CRL (RFC 5280 5.1), fields pointing into der. */
struct tls_crl_info {
	const uint8_t *tbs;        /* whole TBSCertList (signed bytes) */
	size_t tbs_len;
	const uint8_t *issuer;     /* whole Name */
	size_t issuer_len;
	int64_t next_update;       /* 0 when absent */
	const uint8_t *revoked;    /* revokedCertificates contents, NULL if none */
	size_t revoked_len;
	const uint8_t *sig_oid;    /* signatureAlgorithm OID contents */
	size_t sig_oid_len;
	const uint8_t *sig;        /* signature BIT STRING contents after the unused-bits byte */
	size_t sig_len;
};
enum mp_status tls_crl_parse(const uint8_t *der, size_t n, struct tls_crl_info *out);
/* Walk revokedCertificates: the serial (INTEGER contents) of entry at *off,
 * advancing *off. MP_OK, MP_AGAIN at the end, MP_INVALID. */
enum mp_status tls_crl_next_serial(const struct tls_crl_info *crl, size_t *off, const uint8_t **serial,
				   size_t *serial_len);

/* ---- pem.c ------------------------------------------------------------- */

struct tls_pem {
	struct mp_str label;     /* "CERTIFICATE", "RSA PRIVATE KEY", ... */
	struct mp_str headers;   /* RFC 1421 header lines ("Proc-Type: ..."), may be empty */
	struct mp_str body;      /* base64 text, whitespace included */
};

/* The next PEM object in p[*off..n): MP_OK (and *off moves past its END
 * line), MP_AGAIN when there is none, MP_INVALID when one is malformed
 * (BEGIN without a matching END, bad label). Text outside objects is
 * skipped, as OpenSSL does. */
enum mp_status tls_pem_next(const char *p, size_t n, size_t *off, struct tls_pem *out);
/* Value of a header ("DEK-Info"), MP_OK or MP_AGAIN (absent). */
enum mp_status tls_pem_header(const struct tls_pem *pem, const char *name, struct mp_str *value);
/* Base64 (whitespace ignored, '=' padding required at the end only).
 * MP_OK, MP_INVALID, MP_TOOLONG (cap too small). */
enum mp_status tls_b64_decode(const char *p, size_t n, uint8_t *dst, size_t cap, size_t *outlen);
/* DER -> PEM with 64-column lines, as PEM_write_bio_X509. NUL-terminated.
 * Returns the length, or 0 when cap is too small. */
size_t tls_pem_encode(const char *label, const uint8_t *der, size_t n, char *dst, size_t cap);

/* Passwords from ssl_password_file (wiped by tls_pw_free). */
struct tls_pwlist {
	char *v[TLS_PASSWORDS_MAX];
	size_t len[TLS_PASSWORDS_MAX];
	size_t n;
};

/* A decoded private key, owning its bytes (wiped on free). */
struct tls_key {
	int type;                    /* BR_KEYTYPE_RSA or BR_KEYTYPE_EC; 0 = none */
	br_rsa_private_key rsa;
	br_ec_private_key ec;
	uint8_t *mem;
	size_t memlen;
};

/* Decode the first private key in a PEM text, decrypting it with each
 * password in turn when it is encrypted (traditional "Proc-Type: 4,ENCRYPTED"
 * with DEK-Info AES-128-CBC / AES-192-CBC / AES-256-CBC / DES-EDE3-CBC, or
 * "ENCRYPTED PRIVATE KEY" PKCS#8 PBES2 with PBKDF2-HMAC-SHA1/SHA256 and
 * AES-CBC / DES-EDE3-CBC). Allocates out->mem. On failure writes a short
 * reason ("bad password or corrupt key", "unsupported ...") into why.
 * MP_OK, MP_INVALID, MP_ERR (memory). */
enum mp_status tls_key_decode(const char *text, size_t n, const struct tls_pwlist *pw, struct tls_key *out,
			      char *why, size_t whycap);
void tls_key_free(struct tls_key *k);
/* The pure decryption steps, exposed for tests and the fuzzer. out needs n
 * bytes; *outlen is the length after removing the PKCS#7 padding. */
enum mp_status tls_pem_decrypt_legacy(struct mp_str dek_info, const uint8_t *in, size_t n, const char *pw,
				      size_t pwlen, uint8_t *out, size_t *outlen);
/* PKCS#8 EncryptedPrivateKeyInfo with PBES2 (RFC 8018 A.4), parsed. */
struct tls_pbes2 {
	const br_hash_class *prf;   /* PBKDF2's HMAC hash */
	const uint8_t *salt;
	size_t salt_len;
	uint32_t iter;
	int cipher;                 /* TLS_CIPHER_* */
	uint8_t iv[16];
	const uint8_t *data;        /* encryptedData contents */
	size_t data_len;
};
enum { TLS_CIPHER_AES128 = 1, TLS_CIPHER_AES192, TLS_CIPHER_AES256, TLS_CIPHER_DES3 };
/* MP_OK, MP_INVALID (not PBES2 / malformed), MP_TOOLONG (iterations over
 * TLS_PBKDF2_ITER_MAX). Pure. */
enum mp_status tls_pkcs8_parse(const uint8_t *der, size_t n, struct tls_pbes2 *out);
enum mp_status tls_pkcs8_decrypt(const uint8_t *der, size_t n, const char *pw, size_t pwlen, uint8_t *out,
				 size_t *outlen);
/* PBKDF2 (RFC 8018 5.2) with HMAC over hash. */
void tls_pbkdf2(const br_hash_class *hash, const void *pw, size_t pwlen, const uint8_t *salt, size_t saltlen,
		uint32_t iter, uint8_t *out, size_t outlen);

/* Wipe memory the compiler may not elide. */
void tls_wipe(void *p, size_t n);

/* ---- ctx.c: contexts built from the configuration ---------------------- */

struct tls_tas {
	br_x509_trust_anchor *v;    /* DN and key bytes owned (freed by tls_tas_free) */
	size_t n;
};

/* One ssl_certificate / ssl_certificate_key pair. */
struct tls_pair {
	br_x509_certificate chain[TLS_CHAIN_MAX]; /* DER owned */
	size_t chain_len;
	struct tls_key key;
	int curve;                  /* EC: the key's curve */
};

/* Revoked serials from ssl_crl, for issuers we trust. */
struct tls_crl_entry {
	uint32_t issuer;            /* index in tls_crls.issuers */
	uint8_t len;
	uint8_t serial[TLS_SERIAL_MAX + 1];
};
struct tls_crl_issuer {
	uint8_t *dn;                /* DER Name, owned */
	size_t dn_len;
	int64_t next_update;        /* 0: none */
};
struct tls_crls {
	struct tls_crl_issuer *issuers;
	size_t nissuers;
	struct tls_crl_entry *v;
	size_t n;
};

struct tls_server_ctx {
	unsigned refs;              /* the configuration + each connection */
	struct tls_server_ctx *live_next; /* all contexts (for the cache size) */
	struct tls_pair pairs[TLS_CERTS_MAX];
	size_t npairs;
	uint16_t suites[TLS_NSUITES];
	size_t nsuites;
	unsigned vmin, vmax;
	bool prefer_server;
	uint32_t curves;            /* ECDHE curves allowed (bit = curve id) */
	const char *alpn[1];
	char alpn_name[8];
	enum verify_client_mode verify;
	unsigned depth;
	struct tls_tas tas;         /* ssl_client_certificate + ssl_trusted_certificate */
	br_x500_name *ta_names;     /* CertificateRequest list (ssl_client_certificate) */
	size_t nta_names;
	struct tls_crls crls;
	bool have_crl;
	bool cache;                 /* session cache on for this server */
	uint64_t timeout_ms;        /* ssl_session_timeout */
	size_t cache_bytes;         /* what this server asks of the shared cache */
	uint8_t cache_key[32];      /* this server's identity in the cache */
};

struct tls_client_session {
	bool used;
	uint8_t key[32];            /* SHA-256 of the backend address */
	uint64_t stored_ms;
	br_ssl_session_parameters params;
};

struct tls_client_ctx {
	unsigned refs;
	uint16_t suites[TLS_NSUITES];
	size_t nsuites;
	bool verify;
	unsigned depth;
	struct tls_tas tas;
	char name[256];             /* proxy_ssl_name ("" = none) */
	bool name_is_ip;
	uint8_t ip[16];             /* proxy_ssl_name as an IP literal */
	size_t iplen;
	const char *alpn[1];
	char alpn_name[8];
	struct tls_client_session sess[TLS_CLIENT_SESSIONS];
	unsigned sess_next;
};

void tls_server_ctx_ref(struct tls_server_ctx *ctx);
void tls_client_ctx_ref(struct tls_client_ctx *ctx);
void tls_tas_free(struct tls_tas *tas);
/* The process-wide LRU, (re)sized to what the live contexts ask; NULL when
 * no context wants a cache. */
br_ssl_session_cache_lru *tls_cache_get(void);
/* Revocation check of a client certificate: NULL when fine, else OpenSSL's
 * words ("certificate revoked", "unable to get certificate CRL", ...). */
const char *tls_crl_check(const struct tls_server_ctx *ctx, const struct tls_cert_info *ci, int64_t now);
uint64_t tls_now_ms(void);
/* Bytes one TLS connection holds after the handshake (struct + buffers). */
size_t tls_conn_bytes(void);

#endif
