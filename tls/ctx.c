/*
 * TLS contexts from the configuration: certificates and keys, trust
 * anchors, CRLs, versions, suites, curves, ALPN name, session cache policy.
 * Runs at start-up, on reload and for -t; errors are nginx-style messages
 * with the file and line of the directive.
 *
 * Session cache. One BearSSL LRU (br_ssl_session_cache_lru, 100 bytes an
 * entry) is shared by every server of the process and sized from the
 * largest ssl_session_cache of the live contexts: conf/ turns the directive
 * into a byte budget (conf_ssl.session_cache_size, at most TLS_CACHE_MAX),
 * e.g. builtin:N -> N * 100 bytes; for shared:NAME:SIZE, nginx's "1 MB holds
 * about 4000 sessions" means SIZE / 256 entries, i.e. SIZE * 100 / 256
 * bytes here. The store is allocated at the first TLS handshake that needs
 * it (not at -t) and reallocated, empty, only when the budget changes on
 * reload. Two things BearSSL's LRU lacks
 * are added around it by conn.c, without a second table:
 *  - isolation (CVE-2014-3616 / CVE-2025-23419): sessions are stored under
 *    SHA-256(server identity, time bucket, session ID). The identity hashes
 *    a per-process secret with the certificate chains, ALPN name, versions
 *    and suites, so a session resumes only on a server that would have made
 *    the same decisions; on others the lookup simply misses.
 *  - ssl_session_timeout: the time bucket is a quarter of the timeout and
 *    a lookup tries the last four buckets, so a session is resumable for
 *    between 75% and 100% of ssl_session_timeout, never longer.
 * Servers with ssl_verify_client do not use the cache at all: BearSSL keeps
 * no client certificate with a session, and a resumed session would come
 * without one (nginx keeps it; we prefer a full handshake).
 */
#include "tls_int.h"

#include "../core/log.h"
#include "../core/rand.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

uint64_t tls_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- errors ------------------------------------------------------------ */

struct ectx {
	char *err;
	size_t errcap;
	const char *file;
	int line;
	void (*notice)(int level, const char *msg);
};

__attribute__((format(printf, 2, 3))) static void fail(struct ectx *e, const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (e->errcap > 0) {
		snprintf(e->err, e->errcap, "%s in %s:%d", msg, e->file != NULL ? e->file : "?", e->line);
	}
}

__attribute__((format(printf, 3, 4))) static void note(struct ectx *e, int level, const char *fmt, ...)
{
	if (e->notice == NULL) {
		return;
	}
	char msg[768], full[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "%s in %s:%d", msg, e->file != NULL ? e->file : "?", e->line);
	e->notice(level, full);
}

/* ---- files ------------------------------------------------------------- */

/* A whole file (or the text of a "data:" value), NUL-terminated, malloc'ed.
 * NULL with a reason in why. */
static char *read_text(const char *path, size_t *len, bool secret, bool *world_readable, char *why, size_t whycap)
{
	if (strncmp(path, "data:", 5) == 0) {
		size_t n = strlen(path + 5);
		char *b = malloc(n + 1);
		if (b == NULL) {
			snprintf(why, whycap, "out of memory");
			return NULL;
		}
		memcpy(b, path + 5, n + 1);
		*len = n;
		return b;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, whycap, "open() failed (%d: %s)", errno, strerror(errno));
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(why, whycap, "not a regular file");
		close(fd);
		return NULL;
	}
	if (st.st_size > (off_t)TLS_FILE_MAX) {
		snprintf(why, whycap, "file too large (more than %u bytes)", TLS_FILE_MAX);
		close(fd);
		return NULL;
	}
	if (world_readable != NULL) {
		*world_readable = (st.st_mode & S_IROTH) != 0;
	}
	size_t cap = (size_t)st.st_size, n = 0;
	char *b = malloc(cap + 1);
	if (b == NULL) {
		snprintf(why, whycap, "out of memory");
		close(fd);
		return NULL;
	}
	while (n < cap) {
		ssize_t r = read(fd, b + n, cap - n);
		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r <= 0) {
			break;
		}
		n += (size_t)r;
	}
	close(fd);
	b[n] = '\0';
	*len = n;
	(void)secret;
	return b;
}

static void free_text(char *b, size_t n, bool secret)
{
	if (b != NULL && secret) {
		tls_wipe(b, n);
	}
	free(b);
}

/* All DER objects of the given PEM labels in a text, malloc'ed each. */
struct derlist {
	uint8_t *v[TLS_CA_MAX];
	size_t len[TLS_CA_MAX];
	size_t n;
};

static void derlist_free(struct derlist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i]);
	}
	l->n = 0;
}

/* The length of the first DER element (a TRUSTED CERTIFICATE has OpenSSL's
 * auxiliary data behind the certificate). */
static size_t first_element(const uint8_t *p, size_t n)
{
	struct tls_der d = { p, p + n }, v;
	unsigned tag;
	return tls_der_read(&d, &tag, &v) ? (size_t)(d.p - p) : n;
}

static bool pem_objects(const char *text, size_t n, const char *const *labels, struct derlist *out, size_t max,
			char *why, size_t whycap)
{
	size_t off = 0;
	out->n = 0;
	for (;;) {
		struct tls_pem pem;
		enum mp_status st = tls_pem_next(text, n, &off, &pem);
		if (st == MP_AGAIN) {
			return true;
		}
		if (st != MP_OK) {
			snprintf(why, whycap, "malformed PEM");
			return false;
		}
		bool want = false;
		for (size_t i = 0; labels[i] != NULL; i++) {
			if (pem.label.n == strlen(labels[i]) && memcmp(pem.label.p, labels[i], pem.label.n) == 0) {
				want = true;
			}
		}
		if (!want) {
			continue;
		}
		if (out->n == max) {
			snprintf(why, whycap, "too many objects (more than %zu)", max);
			return false;
		}
		size_t cap = pem.body.n / 4 * 3 + 3, dl;
		uint8_t *der = malloc(cap);
		if (der == NULL) {
			snprintf(why, whycap, "out of memory");
			return false;
		}
		if (tls_b64_decode(pem.body.p, pem.body.n, der, cap, &dl) != MP_OK || dl == 0 || dl > TLS_DER_MAX) {
			free(der);
			snprintf(why, whycap, "bad base64 in PEM");
			return false;
		}
		out->v[out->n] = der;
		out->len[out->n] = first_element(der, dl);
		out->n++;
	}
}

static const char *const CERT_LABELS[] = { "CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE", NULL };

/* ---- trust anchors ----------------------------------------------------- */

struct dnbuf {
	uint8_t *p;
	size_t n, cap;
	bool oom;
};

static void dn_append(void *ctx, const void *buf, size_t len)
{
	struct dnbuf *d = ctx;
	if (d->oom) {
		return;
	}
	if (d->n + len > d->cap) {
		size_t nc = d->cap ? d->cap * 2 : 128;
		while (nc < d->n + len) {
			nc *= 2;
		}
		uint8_t *np = realloc(d->p, nc);
		if (np == NULL) {
			d->oom = true;
			return;
		}
		d->p = np;
		d->cap = nc;
	}
	memcpy(d->p + d->n, buf, len);
	d->n += len;
}

static void *dup_mem(const void *p, size_t n)
{
	void *q = malloc(n > 0 ? n : 1);
	if (q != NULL && n > 0) {
		memcpy(q, p, n);
	}
	return q;
}

void tls_tas_free(struct tls_tas *tas)
{
	for (size_t i = 0; i < tas->n; i++) {
		br_x509_trust_anchor *ta = &tas->v[i];
		free(ta->dn.data);
		if (ta->pkey.key_type == BR_KEYTYPE_RSA) {
			free(ta->pkey.key.rsa.n);
			free(ta->pkey.key.rsa.e);
		} else if (ta->pkey.key_type == BR_KEYTYPE_EC) {
			free(ta->pkey.key.ec.q);
		}
	}
	free(tas->v);
	tas->v = NULL;
	tas->n = 0;
}

/* Append the certificates of a CA file as trust anchors. */
static bool load_tas(struct ectx *e, const char *directive, const char *path, struct tls_tas *tas)
{
	char why[256];
	size_t len;
	char *text = read_text(path, &len, false, NULL, why, sizeof(why));
	if (text == NULL) {
		fail(e, "cannot load \"%s\" \"%s\": %s", directive, path, why);
		return false;
	}
	struct derlist *l = calloc(1, sizeof(*l));
	if (l == NULL) {
		free(text);
		fail(e, "out of memory");
		return false;
	}
	bool ok = pem_objects(text, len, CERT_LABELS, l, TLS_CA_MAX, why, sizeof(why));
	free(text);
	if (ok && l->n == 0) {
		snprintf(why, sizeof(why), "no certificate found");
		ok = false;
	}
	if (ok && tas->n + l->n > TLS_CA_MAX) {
		snprintf(why, sizeof(why), "too many certificates (more than %u)", TLS_CA_MAX);
		ok = false;
	}
	br_x509_trust_anchor *nv = ok ? realloc(tas->v, (tas->n + l->n) * sizeof(*nv)) : NULL;
	if (ok && nv == NULL) {
		snprintf(why, sizeof(why), "out of memory");
		ok = false;
	}
	if (nv != NULL) {
		tas->v = nv;
	}
	for (size_t i = 0; ok && i < l->n; i++) {
		br_x509_decoder_context dc;
		struct dnbuf dn = { NULL, 0, 0, false };
		br_x509_decoder_init(&dc, dn_append, &dn);
		br_x509_decoder_push(&dc, l->v[i], l->len[i]);
		const br_x509_pkey *pk = br_x509_decoder_get_pkey(&dc);
		if (pk == NULL || dn.oom) {
			free(dn.p);
			snprintf(why, sizeof(why), "certificate #%zu cannot be decoded (BearSSL error %d)", i + 1,
				 br_x509_decoder_last_error(&dc));
			ok = false;
			break;
		}
		br_x509_trust_anchor *ta = &tas->v[tas->n];
		memset(ta, 0, sizeof(*ta));
		ta->dn.data = dn.p;
		ta->dn.len = dn.n;
		ta->flags = br_x509_decoder_isCA(&dc) ? BR_X509_TA_CA : 0;
		ta->pkey.key_type = pk->key_type;
		if (pk->key_type == BR_KEYTYPE_RSA) {
			ta->pkey.key.rsa.n = dup_mem(pk->key.rsa.n, pk->key.rsa.nlen);
			ta->pkey.key.rsa.nlen = pk->key.rsa.nlen;
			ta->pkey.key.rsa.e = dup_mem(pk->key.rsa.e, pk->key.rsa.elen);
			ta->pkey.key.rsa.elen = pk->key.rsa.elen;
			ok = ta->pkey.key.rsa.n != NULL && ta->pkey.key.rsa.e != NULL;
		} else {
			ta->pkey.key.ec.curve = pk->key.ec.curve;
			ta->pkey.key.ec.q = dup_mem(pk->key.ec.q, pk->key.ec.qlen);
			ta->pkey.key.ec.qlen = pk->key.ec.qlen;
			ok = ta->pkey.key.ec.q != NULL;
		}
		tas->n++;
		if (!ok) {
			snprintf(why, sizeof(why), "out of memory");
		}
	}
	derlist_free(l);
	free(l);
	if (!ok) {
		fail(e, "cannot load \"%s\" \"%s\": %s", directive, path, why);
	}
	return ok;
}

/* ---- certificate + key pairs ------------------------------------------- */

static void pair_free(struct tls_pair *p)
{
	for (size_t i = 0; i < p->chain_len; i++) {
		free(p->chain[i].data);
	}
	p->chain_len = 0;
	tls_key_free(&p->key);
}

static bool same_int(const unsigned char *a, size_t al, const unsigned char *b, size_t bl)
{
	while (al > 0 && *a == 0) {
		a++;
		al--;
	}
	while (bl > 0 && *b == 0) {
		b++;
		bl--;
	}
	return al == bl && memcmp(a, b, al) == 0;
}

/* Does the private key belong to the certificate's public key? */
static bool key_matches(const struct tls_key *k, const br_x509_pkey *pk)
{
	if (k->type != pk->key_type) {
		return false;
	}
	if (k->type == BR_KEYTYPE_RSA) {
		/* same modulus, and a signature the certificate's key verifies
		 * (BearSSL's compute_pubexp only works for its own keys) */
		br_rsa_compute_modulus cm = br_rsa_compute_modulus_get_default();
		size_t nl = cm(NULL, &k->rsa);
		unsigned char *n = nl > 0 && nl <= 512 ? malloc(2 * nl) : NULL;
		if (n == NULL) {
			return false;
		}
		cm(n, &k->rsa);
		static const unsigned char oid[] = { 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01 };
		unsigned char hv[32], got[32];
		memset(hv, 0x42, sizeof(hv));
		bool ok = same_int(n, nl, pk->key.rsa.n, pk->key.rsa.nlen) &&
			  br_rsa_pkcs1_sign_get_default()(oid, hv, sizeof(hv), &k->rsa, n + nl) &&
			  br_rsa_pkcs1_vrfy_get_default()(n + nl, nl, oid, sizeof(got), &pk->key.rsa, got) &&
			  memcmp(got, hv, sizeof(hv)) == 0;
		free(n);
		return ok;
	}
	if (k->ec.curve != pk->key.ec.curve) {
		return false;
	}
	unsigned char q[BR_EC_KBUF_PUB_MAX_SIZE];
	br_ec_public_key pub;
	size_t ql = br_ec_compute_pub(&br_ec_all_m31, &pub, q, &k->ec);
	return ql > 0 && ql == pk->key.ec.qlen && memcmp(q, pk->key.ec.q, ql) == 0;
}

static bool load_pair(struct ectx *e, const struct conf_ssl_cert *c, const struct tls_pwlist *pw,
		      struct tls_pair *p)
{
	char why[256];
	size_t len;
	struct ectx ce = *e;
	if (c->file != NULL) {
		ce.file = c->file;
		ce.line = c->line;
	}
	memset(p, 0, sizeof(*p));
	char *text = read_text(c->cert, &len, false, NULL, why, sizeof(why));
	if (text == NULL) {
		fail(&ce, "cannot load certificate \"%s\": %s", c->cert, why);
		return false;
	}
	struct derlist *l = calloc(1, sizeof(*l));
	if (l == NULL) {
		free(text);
		fail(&ce, "out of memory");
		return false;
	}
	bool ok = pem_objects(text, len, CERT_LABELS, l, TLS_CHAIN_MAX, why, sizeof(why));
	free(text);
	if (ok && l->n == 0) {
		snprintf(why, sizeof(why), "no certificate found");
		ok = false;
	}
	br_x509_decoder_context dc;
	const br_x509_pkey *pk = NULL;
	for (size_t i = 0; ok && i < l->n; i++) {
		br_x509_decoder_init(&dc, NULL, NULL);
		br_x509_decoder_push(&dc, l->v[i], l->len[i]);
		const br_x509_pkey *k = br_x509_decoder_get_pkey(&dc);
		if (k == NULL) {
			snprintf(why, sizeof(why), "certificate #%zu cannot be decoded (BearSSL error %d)", i + 1,
				 br_x509_decoder_last_error(&dc));
			ok = false;
			break;
		}
		p->chain[i].data = l->v[i];
		p->chain[i].data_len = l->len[i];
		l->v[i] = NULL;
		p->chain_len++;
	}
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i]);
	}
	free(l);
	if (!ok) {
		pair_free(p);
		fail(&ce, "cannot load certificate \"%s\": %s", c->cert, why);
		return false;
	}
	br_x509_decoder_init(&dc, NULL, NULL);
	br_x509_decoder_push(&dc, p->chain[0].data, p->chain[0].data_len);
	pk = br_x509_decoder_get_pkey(&dc);
	if (pk->key_type == BR_KEYTYPE_EC &&
	    (pk->key.ec.curve != BR_EC_secp256r1 && pk->key.ec.curve != BR_EC_secp384r1 &&
	     pk->key.ec.curve != BR_EC_secp521r1)) {
		pair_free(p);
		fail(&ce, "cannot load certificate \"%s\": unsupported EC curve %d (P-256, P-384, P-521 only)", c->cert,
		     pk->key.ec.curve);
		return false;
	}
	if (pk->key_type == BR_KEYTYPE_RSA && pk->key.rsa.nlen > 512) {
		pair_free(p);
		fail(&ce, "cannot load certificate \"%s\": RSA keys over 4096 bits are not supported", c->cert);
		return false;
	}
	/* the key */
	bool world = false;
	text = read_text(c->key, &len, true, &world, why, sizeof(why));
	if (text == NULL) {
		pair_free(p);
		fail(&ce, "cannot load certificate key \"%s\": %s", c->key, why);
		return false;
	}
	if (world) {
		note(&ce, LOGL_WARN, "certificate key \"%s\" is readable by other users", c->key);
	}
	enum mp_status st = tls_key_decode(text, len, pw, &p->key, why, sizeof(why));
	free_text(text, len, true);
	if (st != MP_OK) {
		pair_free(p);
		fail(&ce, "cannot load certificate key \"%s\": %s", c->key, st == MP_ERR ? "out of memory" : why);
		return false;
	}
	if (!key_matches(&p->key, pk)) {
		pair_free(p);
		fail(&ce, "cannot load certificate key \"%s\": the key does not match certificate \"%s\"", c->key,
		     c->cert);
		return false;
	}
	if (p->key.type == BR_KEYTYPE_EC) {
		p->curve = p->key.ec.curve;
	}
	return true;
}

static bool load_passwords(struct ectx *e, const char *path, struct tls_pwlist *pw)
{
	char why[256];
	size_t len;
	memset(pw, 0, sizeof(*pw));
	char *text = read_text(path, &len, true, NULL, why, sizeof(why));
	if (text == NULL) {
		fail(e, "cannot open \"ssl_password_file\" \"%s\": %s", path, why);
		return false;
	}
	/* one password a line (LF or CRLF), as ngx_ssl_read_password_file */
	size_t i = 0;
	while (i < len) {
		size_t j = i;
		while (j < len && text[j] != '\n') {
			j++;
		}
		size_t l = j - i;
		if (l > 0 && text[i + l - 1] == '\r') {
			l--;
		}
		if (pw->n == TLS_PASSWORDS_MAX || l > TLS_PASSWORD_LEN_MAX) {
			free_text(text, len, true);
			fail(e, "\"ssl_password_file\" \"%s\": too many or too long passwords", path);
			return false;
		}
		pw->v[pw->n] = malloc(l + 1);
		if (pw->v[pw->n] == NULL) {
			free_text(text, len, true);
			fail(e, "out of memory");
			return false;
		}
		memcpy(pw->v[pw->n], text + i, l);
		pw->v[pw->n][l] = '\0';
		pw->len[pw->n] = l;
		pw->n++;
		i = j + 1;
	}
	free_text(text, len, true);
	if (pw->n == 0) {
		fail(e, "empty \"ssl_password_file\" \"%s\"", path);
		return false;
	}
	return true;
}

static void pw_free(struct tls_pwlist *pw)
{
	for (size_t i = 0; i < pw->n; i++) {
		tls_wipe(pw->v[i], pw->len[i]);
		free(pw->v[i]);
	}
	pw->n = 0;
}

/* ---- CRLs -------------------------------------------------------------- */

static const br_hash_class *sig_hash(const uint8_t *oid, size_t n, int *keytype)
{
	static const uint8_t RSA_PREFIX[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01 };
	static const uint8_t ECDSA_SHA1[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01 };
	static const uint8_t ECDSA_SHA2[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03 };
	if (n == sizeof(RSA_PREFIX) + 1 && memcmp(oid, RSA_PREFIX, sizeof(RSA_PREFIX)) == 0) {
		*keytype = BR_KEYTYPE_RSA;
		switch (oid[n - 1]) {
		case 5:
			return &br_sha1_vtable;
		case 11:
			return &br_sha256_vtable;
		case 12:
			return &br_sha384_vtable;
		case 13:
			return &br_sha512_vtable;
		case 14:
			return &br_sha224_vtable;
		default:
			return NULL;
		}
	}
	*keytype = BR_KEYTYPE_EC;
	if (n == sizeof(ECDSA_SHA1) && memcmp(oid, ECDSA_SHA1, n) == 0) {
		return &br_sha1_vtable;
	}
	if (n == sizeof(ECDSA_SHA2) + 1 && memcmp(oid, ECDSA_SHA2, sizeof(ECDSA_SHA2)) == 0) {
		switch (oid[n - 1]) {
		case 1:
			return &br_sha224_vtable;
		case 2:
			return &br_sha256_vtable;
		case 3:
			return &br_sha384_vtable;
		case 4:
			return &br_sha512_vtable;
		default:
			return NULL;
		}
	}
	return NULL;
}

static size_t hash_size(const br_hash_class *h)
{
	return (size_t)(h->desc >> BR_HASHDESC_OUT_OFF) & BR_HASHDESC_OUT_MASK;
}

/* DER DigestInfo OIDs for RSA PKCS#1 v1.5 (length-prefixed, BearSSL style). */
static const unsigned char *rsa_hash_oid(const br_hash_class *h)
{
	static const unsigned char SHA1[] = { 0x05, 0x2B, 0x0E, 0x03, 0x02, 0x1A };
	static const unsigned char SHA224[] = { 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x04 };
	static const unsigned char SHA256[] = { 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01 };
	static const unsigned char SHA384[] = { 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02 };
	static const unsigned char SHA512[] = { 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03 };
	switch (hash_size(h)) {
	case 20:
		return SHA1;
	case 28:
		return SHA224;
	case 32:
		return SHA256;
	case 48:
		return SHA384;
	default:
		return SHA512;
	}
}

static bool crl_signature_ok(const struct tls_crl_info *ci, const br_x509_pkey *pk)
{
	int kt;
	const br_hash_class *h = sig_hash(ci->sig_oid, ci->sig_oid_len, &kt);
	if (h == NULL || kt != pk->key_type) {
		return false;
	}
	br_hash_compat_context hc;
	uint8_t hv[64], got[64];
	h->init(&hc.vtable);
	h->update(&hc.vtable, ci->tbs, ci->tbs_len);
	h->out(&hc.vtable, hv);
	size_t hl = hash_size(h);
	if (kt == BR_KEYTYPE_RSA) {
		br_rsa_pkcs1_vrfy v = br_rsa_pkcs1_vrfy_get_default();
		return v(ci->sig, ci->sig_len, rsa_hash_oid(h), hl, &pk->key.rsa, got) && memcmp(got, hv, hl) == 0;
	}
	return br_ecdsa_vrfy_asn1_get_default()(&br_ec_all_m31, hv, hl, &pk->key.ec, ci->sig, ci->sig_len) == 1;
}

static bool load_crls(struct ectx *e, const char *path, struct tls_server_ctx *ctx)
{
	static const char *const CRL_LABELS[] = { "X509 CRL", NULL };
	char why[256];
	size_t len;
	char *text = read_text(path, &len, false, NULL, why, sizeof(why));
	if (text == NULL) {
		fail(e, "cannot load \"ssl_crl\" \"%s\": %s", path, why);
		return false;
	}
	struct derlist *l = calloc(1, sizeof(*l));
	if (l == NULL) {
		free(text);
		fail(e, "out of memory");
		return false;
	}
	bool ok = pem_objects(text, len, CRL_LABELS, l, TLS_CA_MAX, why, sizeof(why));
	free(text);
	if (ok && l->n == 0) {
		snprintf(why, sizeof(why), "no CRL found");
		ok = false;
	}
	struct tls_crls *cr = &ctx->crls;
	for (size_t i = 0; ok && i < l->n; i++) {
		struct tls_crl_info ci;
		if (tls_crl_parse(l->v[i], l->len[i], &ci) != MP_OK) {
			snprintf(why, sizeof(why), "CRL #%zu cannot be decoded", i + 1);
			ok = false;
			break;
		}
		const br_x509_trust_anchor *ta = NULL;
		for (size_t k = 0; k < ctx->tas.n; k++) {
			if (ctx->tas.v[k].dn.len == ci.issuer_len &&
			    memcmp(ctx->tas.v[k].dn.data, ci.issuer, ci.issuer_len) == 0) {
				ta = &ctx->tas.v[k];
			}
		}
		if (ta == NULL) {
			note(e, LOGL_WARN,
			     "\"ssl_crl\" \"%s\": CRL #%zu is not issued by a certificate of ssl_client_certificate or "
			     "ssl_trusted_certificate, ignored",
			     path, i + 1);
			continue;
		}
		if (!crl_signature_ok(&ci, &ta->pkey)) {
			snprintf(why, sizeof(why), "CRL #%zu: bad signature", i + 1);
			ok = false;
			break;
		}
		struct tls_crl_issuer *ni = realloc(cr->issuers, (cr->nissuers + 1) * sizeof(*ni));
		uint8_t *dn = dup_mem(ci.issuer, ci.issuer_len);
		if (ni == NULL || dn == NULL) {
			if (ni != NULL) {
				cr->issuers = ni;
			}
			free(dn);
			snprintf(why, sizeof(why), "out of memory");
			ok = false;
			break;
		}
		cr->issuers = ni;
		cr->issuers[cr->nissuers] = (struct tls_crl_issuer){ dn, ci.issuer_len, ci.next_update };
		size_t off = 0;
		const uint8_t *ser;
		size_t sl;
		enum mp_status st;
		while ((st = tls_crl_next_serial(&ci, &off, &ser, &sl)) == MP_OK) {
			if (cr->n == TLS_CRL_ENTRIES_MAX || sl > TLS_SERIAL_MAX + 1) {
				st = MP_TOOLONG;
				break;
			}
			if (cr->n % 256 == 0) {
				struct tls_crl_entry *nv = realloc(cr->v, (cr->n + 256) * sizeof(*nv));
				if (nv == NULL) {
					st = MP_ERR;
					break;
				}
				cr->v = nv;
			}
			struct tls_crl_entry *en = &cr->v[cr->n++];
			en->issuer = (uint32_t)cr->nissuers;
			en->len = (uint8_t)sl;
			memcpy(en->serial, ser, sl);
		}
		cr->nissuers++;
		if (st != MP_AGAIN) {
			snprintf(why, sizeof(why), "CRL #%zu: %s", i + 1,
				 st == MP_TOOLONG ? "too many or too long entries" : st == MP_ERR ? "out of memory" : "bad entry");
			ok = false;
		}
	}
	derlist_free(l);
	free(l);
	if (!ok) {
		fail(e, "cannot load \"ssl_crl\" \"%s\": %s", path, why);
		return false;
	}
	ctx->have_crl = true;
	return true;
}

const char *tls_crl_check(const struct tls_server_ctx *ctx, const struct tls_cert_info *ci, int64_t now)
{
	if (!ctx->have_crl) {
		return NULL;
	}
	const struct tls_crls *cr = &ctx->crls;
	for (size_t i = 0; i < cr->nissuers; i++) {
		if (cr->issuers[i].dn_len != ci->issuer_len || memcmp(cr->issuers[i].dn, ci->issuer, ci->issuer_len) != 0) {
			continue;
		}
		if (cr->issuers[i].next_update != 0 && cr->issuers[i].next_update < now) {
			return "CRL has expired";
		}
		for (size_t k = 0; k < cr->n; k++) {
			if (cr->v[k].issuer == i && same_int(cr->v[k].serial, cr->v[k].len, ci->serial, ci->serial_len)) {
				return "certificate revoked";
			}
		}
		return NULL;
	}
	/* OpenSSL with X509_V_FLAG_CRL_CHECK, as nginx sets it for ssl_crl */
	return "unable to get certificate CRL";
}

static void crls_free(struct tls_crls *cr)
{
	for (size_t i = 0; i < cr->nissuers; i++) {
		free(cr->issuers[i].dn);
	}
	free(cr->issuers);
	free(cr->v);
	memset(cr, 0, sizeof(*cr));
}

/* ---- versions, curves, suites ------------------------------------------ */

static bool set_versions(struct ectx *e, unsigned protocols, unsigned *vmin, unsigned *vmax)
{
	static bool tls13_noted;
	const unsigned dflt = TLSP_TLSv1_2 | TLSP_TLSv1_3;
	if (protocols == 0) {
		protocols = dflt;
	}
	if (protocols & (TLSP_SSLv2 | TLSP_SSLv3)) {
		note(e, LOGL_NOTICE, "\"ssl_protocols\": SSLv2 and SSLv3 are not supported, ignored");
	}
	static const struct {
		unsigned bit, version;
	} v[] = { { TLSP_TLSv1, BR_TLS10 }, { TLSP_TLSv1_1, BR_TLS11 }, { TLSP_TLSv1_2, BR_TLS12 } };
	*vmin = 0;
	*vmax = 0;
	for (size_t i = 0; i < MP_ARRAY_LEN(v); i++) {
		if (protocols & v[i].bit) {
			if (*vmin == 0) {
				*vmin = v[i].version;
			}
			*vmax = v[i].version;
		}
	}
	if (*vmin == 0) {
		fail(e, "no protocol left in \"ssl_protocols\": this build supports TLSv1, TLSv1.1 and TLSv1.2");
		return false;
	}
	/* once per process: the default list has TLSv1.3 too, and saying it
	 * for every server block of every reload would be noise */
	if ((protocols & TLSP_TLSv1_3) && protocols != dflt && !tls13_noted) {
		tls13_noted = true;
		note(e, LOGL_NOTICE, "\"ssl_protocols\": TLSv1.3 is not supported by this build (BearSSL), TLSv1.2 is the highest");
	}
	if (*vmin == BR_TLS10 && *vmax == BR_TLS12 && !(protocols & TLSP_TLSv1_1)) {
		note(e, LOGL_NOTICE, "\"ssl_protocols\": a range is needed here, TLSv1.1 is enabled too");
	}
	return true;
}

static bool set_curves(struct ectx *e, const char *spec, uint32_t *mask)
{
	static const struct {
		const char *name;
		int id;
	} names[] = {
		{ "prime256v1", BR_EC_secp256r1 }, { "secp256r1", BR_EC_secp256r1 }, { "P-256", BR_EC_secp256r1 },
		{ "secp384r1", BR_EC_secp384r1 },  { "P-384", BR_EC_secp384r1 },     { "secp521r1", BR_EC_secp521r1 },
		{ "P-521", BR_EC_secp521r1 },      { "X25519", BR_EC_curve25519 },   { "x25519", BR_EC_curve25519 },
	};
	const uint32_t all = (1u << BR_EC_secp256r1) | (1u << BR_EC_secp384r1) | (1u << BR_EC_secp521r1) |
			     (1u << BR_EC_curve25519);
	if (spec == NULL || strcmp(spec, "auto") == 0) {
		*mask = all;
		return true;
	}
	*mask = 0;
	const char *p = spec;
	while (*p != '\0') {
		const char *q = strchr(p, ':');
		size_t n = q != NULL ? (size_t)(q - p) : strlen(p);
		bool found = false;
		if (n == 4 && memcmp(p, "auto", 4) == 0) {
			*mask |= all;
			found = true;
		}
		for (size_t i = 0; i < MP_ARRAY_LEN(names); i++) {
			if (strlen(names[i].name) == n && memcmp(p, names[i].name, n) == 0) {
				*mask |= 1u << names[i].id;
				found = true;
			}
		}
		if (!found) {
			note(e, LOGL_NOTICE, "\"ssl_ecdh_curve\": curve \"%.*s\" is not supported, ignored", (int)n, p);
		}
		p += n;
		if (*p == ':') {
			p++;
		}
	}
	if (*mask == 0) {
		fail(e, "no supported curve in \"ssl_ecdh_curve %s\" (prime256v1, secp384r1, secp521r1, X25519)", spec);
		return false;
	}
	return true;
}

/* Suites of the cipher string that the versions (and, for a server, the
 * certificates) can use. */
static bool set_suites(struct ectx *e, const char *spec, unsigned vmax, bool have_rsa, bool have_ec, bool server,
		       uint16_t *out, size_t *nout)
{
	uint16_t all[TLS_NSUITES];
	size_t n;
	const char *s = spec != NULL ? spec : "HIGH:!aNULL:!MD5";
	if (tls_cipher_list(s, strlen(s), all, TLS_NSUITES, &n) != MP_OK) {
		fail(e, "no cipher suite matches \"ssl_ciphers %s\" (this build has ECDHE/RSA with AES-GCM, "
			"CHACHA20-POLY1305 and AES-CBC)",
		     s);
		return false;
	}
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		const struct tls_suite *su = tls_suite_find(all[i]);
		if ((su->attrs & TLS_V_TLS12) && vmax < BR_TLS12) {
			continue;
		}
		if (server && (su->attrs & TLS_A_RSA) && !have_rsa) {
			continue;
		}
		if (server && (su->attrs & TLS_A_ECDSA) && !have_ec) {
			continue;
		}
		out[k++] = all[i];
	}
	if (k == 0) {
		fail(e, "no cipher suite of \"ssl_ciphers %s\" can be used with the configured %s", s,
		     server ? "certificates and protocols" : "protocols");
		return false;
	}
	*nout = k;
	return true;
}

/* ---- the session cache ------------------------------------------------- */

static struct tls_server_ctx *live_ctxs;
static struct {
	br_ssl_session_cache_lru lru;
	unsigned char *store;
	size_t size;
} cache;
static uint8_t process_secret[32];
static bool process_secret_set;

static size_t cache_wanted(void)
{
	size_t want = 0;
	for (struct tls_server_ctx *c = live_ctxs; c != NULL; c = c->live_next) {
		if (c->cache && c->cache_bytes > want) {
			want = c->cache_bytes;
		}
	}
	return want;
}

br_ssl_session_cache_lru *tls_cache_get(void)
{
	size_t want = cache_wanted();
	if (want != cache.size) {
		/* (re)sized only between handshakes: connections reach the cache
		 * through this function each time, never keep a pointer */
		if (cache.store != NULL) {
			tls_wipe(cache.store, cache.size);
			free(cache.store);
		}
		cache.store = NULL;
		cache.size = 0;
		if (want > 0) {
			cache.store = malloc(want);
			if (cache.store == NULL) {
				return NULL;
			}
			cache.size = want;
			br_ssl_session_cache_lru_init(&cache.lru, cache.store, want);
		}
	}
	return cache.store != NULL ? &cache.lru : NULL;
}

/* ---- server contexts --------------------------------------------------- */

void tls_server_ctx_ref(struct tls_server_ctx *ctx)
{
	ctx->refs++;
}

static void server_ctx_destroy(struct tls_server_ctx *ctx)
{
	for (struct tls_server_ctx **pp = &live_ctxs; *pp != NULL; pp = &(*pp)->live_next) {
		if (*pp == ctx) {
			*pp = ctx->live_next;
			break;
		}
	}
	for (size_t i = 0; i < ctx->npairs; i++) {
		pair_free(&ctx->pairs[i]);
	}
	tls_tas_free(&ctx->tas);
	free(ctx->ta_names);
	crls_free(&ctx->crls);
	tls_wipe(ctx, sizeof(*ctx));
	free(ctx);
	if (live_ctxs == NULL && cache.store != NULL) {
		tls_cache_get(); /* nobody wants a cache: release it */
	}
}

void tls_server_ctx_free(struct tls_server_ctx *ctx)
{
	if (ctx != NULL && --ctx->refs == 0) {
		server_ctx_destroy(ctx);
	}
}

static const char *proto_alpn(enum mail_proto p)
{
	switch (p) {
	case PROTO_IMAP:
		return "imap";
	case PROTO_POP3:
		return "pop3";
	case PROTO_SMTP:
		return "smtp";
	default:
		return NULL;
	}
}

static void identity(struct tls_server_ctx *ctx)
{
	if (!process_secret_set) {
		if (rand_bytes(process_secret, sizeof(process_secret)) != MP_OK) {
			/* no randomness at all: sessions are still per-server, only
			 * predictable keys, and BearSSL itself would fail anyway */
			memset(process_secret, 0x5a, sizeof(process_secret));
		}
		process_secret_set = true;
	}
	br_sha256_context h;
	br_sha256_init(&h);
	br_sha256_update(&h, process_secret, sizeof(process_secret));
	for (size_t i = 0; i < ctx->npairs; i++) {
		for (size_t k = 0; k < ctx->pairs[i].chain_len; k++) {
			uint8_t len[4] = { (uint8_t)(ctx->pairs[i].chain[k].data_len >> 24),
					   (uint8_t)(ctx->pairs[i].chain[k].data_len >> 16),
					   (uint8_t)(ctx->pairs[i].chain[k].data_len >> 8),
					   (uint8_t)ctx->pairs[i].chain[k].data_len };
			br_sha256_update(&h, len, 4);
			br_sha256_update(&h, ctx->pairs[i].chain[k].data, ctx->pairs[i].chain[k].data_len);
		}
	}
	uint8_t misc[8 + 2 * TLS_NSUITES];
	size_t m = 0;
	misc[m++] = (uint8_t)(ctx->vmin >> 8);
	misc[m++] = (uint8_t)ctx->vmin;
	misc[m++] = (uint8_t)(ctx->vmax >> 8);
	misc[m++] = (uint8_t)ctx->vmax;
	misc[m++] = (uint8_t)ctx->verify;
	misc[m++] = (uint8_t)ctx->nsuites;
	for (size_t i = 0; i < ctx->nsuites; i++) {
		misc[m++] = (uint8_t)(ctx->suites[i] >> 8);
		misc[m++] = (uint8_t)ctx->suites[i];
	}
	br_sha256_update(&h, misc, m);
	br_sha256_update(&h, ctx->alpn_name, strlen(ctx->alpn_name) + 1);
	br_sha256_out(&h, ctx->cache_key);
}

struct tls_server_ctx *tls_server_ctx_new(const struct conf_server *srv, char *err, size_t errcap,
					  void (*notice)(int level, const char *msg))
{
	const struct conf_ssl *ssl = &srv->ssl;
	struct ectx e = { err, errcap, ssl->file != NULL ? ssl->file : srv->file,
			  ssl->file != NULL ? ssl->line : srv->line, notice };
	if (errcap > 0) {
		err[0] = '\0';
	}
	if (ssl->ncerts == 0) {
		fail(&e, "no \"ssl_certificate\" is defined for server");
		return NULL;
	}
	if (ssl->ncerts > TLS_CERTS_MAX) {
		fail(&e, "too many \"ssl_certificate\" directives (at most %d)", TLS_CERTS_MAX);
		return NULL;
	}
	struct tls_server_ctx *ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL) {
		fail(&e, "out of memory");
		return NULL;
	}
	ctx->refs = 1;
	struct tls_pwlist pw;
	memset(&pw, 0, sizeof(pw));
	if (ssl->password_file != NULL && !load_passwords(&e, ssl->password_file, &pw)) {
		goto fail;
	}
	bool have_rsa = false, have_ec = false;
	for (size_t i = 0; i < ssl->ncerts; i++) {
		if (!load_pair(&e, &ssl->certs[i], &pw, &ctx->pairs[i])) {
			pw_free(&pw);
			goto fail;
		}
		ctx->npairs++;
		have_rsa |= ctx->pairs[i].key.type == BR_KEYTYPE_RSA;
		have_ec |= ctx->pairs[i].key.type == BR_KEYTYPE_EC;
	}
	pw_free(&pw);
	if (!set_versions(&e, ssl->protocols, &ctx->vmin, &ctx->vmax) ||
	    !set_curves(&e, ssl->ecdh_curve, &ctx->curves) ||
	    !set_suites(&e, ssl->ciphers, ctx->vmax, have_rsa, have_ec, true, ctx->suites, &ctx->nsuites)) {
		goto fail;
	}
	ctx->prefer_server = ssl->prefer_server_ciphers;
	const char *alpn = proto_alpn(srv->protocol);
	if (alpn != NULL) {
		snprintf(ctx->alpn_name, sizeof(ctx->alpn_name), "%s", alpn);
		ctx->alpn[0] = ctx->alpn_name;
	}
	/* client certificates */
	ctx->verify = ssl->verify_client;
	ctx->depth = ssl->verify_depth;
	if (ctx->verify != VERIFY_OFF) {
		if (ssl->client_certificate != NULL &&
		    !load_tas(&e, "ssl_client_certificate", ssl->client_certificate, &ctx->tas)) {
			goto fail;
		}
		size_t named = ctx->tas.n;
		if (ssl->trusted_certificate != NULL &&
		    !load_tas(&e, "ssl_trusted_certificate", ssl->trusted_certificate, &ctx->tas)) {
			goto fail;
		}
		/* the CertificateRequest lists ssl_client_certificate's names
		 * only, as OpenSSL's SSL_CTX_set_client_CA_list; BearSSL needs a
		 * non-empty list to ask at all, so an empty one becomes a single
		 * empty Name (DER 30 00), which clients ignore */
		ctx->nta_names = named > 0 ? named : 1;
		ctx->ta_names = calloc(ctx->nta_names, sizeof(*ctx->ta_names));
		if (ctx->ta_names == NULL) {
			fail(&e, "out of memory");
			goto fail;
		}
		if (named == 0) {
			static unsigned char empty_name[] = { 0x30, 0x00 };
			ctx->ta_names[0].data = empty_name;
			ctx->ta_names[0].len = sizeof(empty_name);
		}
		for (size_t i = 0; i < named; i++) {
			ctx->ta_names[i] = ctx->tas.v[i].dn;
		}
		if (ssl->crl != NULL && !load_crls(&e, ssl->crl, ctx)) {
			goto fail;
		}
	}
	/* session cache */
	ctx->timeout_ms = ssl->session_timeout_ms;
	ctx->cache_bytes = MP_MIN(ssl->session_cache_size, (size_t)TLS_CACHE_MAX);
	bool cache_off = ssl->session_cache == NULL || strcmp(ssl->session_cache, "off") == 0 ||
			 strcmp(ssl->session_cache, "none") == 0;
	ctx->cache = !cache_off && ctx->cache_bytes >= TLS_CACHE_ENTRY && ctx->timeout_ms > 0;
	if (ctx->cache && ctx->verify != VERIFY_OFF) {
		ctx->cache = false;
		note(&e, LOGL_NOTICE,
		     "\"ssl_session_cache\" is not used on a server with \"ssl_verify_client\": sessions would be "
		     "resumed without the client certificate");
	}
	/* accepted, not implementable with BearSSL */
	if (ssl->session_ticket_keys.n > 0) {
		note(&e, LOGL_NOTICE, "\"ssl_session_ticket_key\" is ignored: no session tickets with BearSSL");
	}
	if (ssl->dhparam != NULL) {
		note(&e, LOGL_NOTICE, "\"ssl_dhparam\" is ignored: no DHE cipher suites with BearSSL");
	}
	if (ssl->certificate_compression) {
		note(&e, LOGL_NOTICE, "\"ssl_certificate_compression\" is ignored: a TLSv1.3 feature");
	}
	for (size_t i = 0; i < ssl->conf_commands.n; i += 2) {
		note(&e, LOGL_NOTICE, "\"ssl_conf_command %s\" is ignored: an OpenSSL feature",
		     ssl->conf_commands.v[i] != NULL ? ssl->conf_commands.v[i] : "");
	}
	identity(ctx);
	ctx->live_next = live_ctxs;
	live_ctxs = ctx;
	return ctx;
fail:
	ctx->live_next = NULL;
	{
		/* not on the live list yet: destroy without unlinking */
		for (size_t i = 0; i < ctx->npairs; i++) {
			pair_free(&ctx->pairs[i]);
		}
		tls_tas_free(&ctx->tas);
		free(ctx->ta_names);
		crls_free(&ctx->crls);
		tls_wipe(ctx, sizeof(*ctx));
		free(ctx);
	}
	return NULL;
}

/* ---- client contexts --------------------------------------------------- */

void tls_client_ctx_ref(struct tls_client_ctx *ctx)
{
	ctx->refs++;
}

void tls_client_ctx_free(struct tls_client_ctx *ctx)
{
	if (ctx != NULL && --ctx->refs == 0) {
		tls_tas_free(&ctx->tas);
		tls_wipe(ctx, sizeof(*ctx));
		free(ctx);
	}
}

struct tls_client_ctx *tls_client_ctx_new(const struct conf_server *srv, char *err, size_t errcap)
{
	const struct conf_proxy_ssl *ps = &srv->proxy_ssl;
	struct ectx e = { err, errcap, srv->file, srv->line, NULL };
	if (errcap > 0) {
		err[0] = '\0';
	}
	struct tls_client_ctx *ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL) {
		fail(&e, "out of memory");
		return NULL;
	}
	ctx->refs = 1;
	/* toward backends: TLS 1.0-1.2, every suite, ours in OpenSSL's order */
	if (!set_suites(&e, "ALL", BR_TLS12, true, true, false, ctx->suites, &ctx->nsuites)) {
		goto fail;
	}
	ctx->verify = ps->verify;
	ctx->depth = ps->verify_depth;
	if (ps->name != NULL && ps->name[0] != '\0') {
		size_t n = strlen(ps->name);
		if (n >= sizeof(ctx->name)) {
			fail(&e, "\"proxy_ssl_name\" is too long");
			goto fail;
		}
		memcpy(ctx->name, ps->name, n + 1);
		if (inet_pton(AF_INET, ps->name, ctx->ip) == 1) {
			ctx->name_is_ip = true;
			ctx->iplen = 4;
		} else if (inet_pton(AF_INET6, ps->name, ctx->ip) == 1) {
			ctx->name_is_ip = true;
			ctx->iplen = 16;
		}
	}
	if (ctx->verify) {
		if (ps->trusted_certificate == NULL) {
			fail(&e, "no \"proxy_ssl_trusted_certificate\" for \"proxy_ssl_verify on\"");
			goto fail;
		}
		if (!load_tas(&e, "proxy_ssl_trusted_certificate", ps->trusted_certificate, &ctx->tas)) {
			goto fail;
		}
	}
	const char *alpn = proto_alpn(srv->protocol);
	if (alpn != NULL) {
		snprintf(ctx->alpn_name, sizeof(ctx->alpn_name), "%s", alpn);
		ctx->alpn[0] = ctx->alpn_name;
	}
	return ctx;
fail:
	tls_tas_free(&ctx->tas);
	free(ctx);
	return NULL;
}
