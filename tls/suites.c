/*
 * The cipher suites mproxy enables, their OpenSSL names, and OpenSSL's
 * cipher-string language (ssl_ciphers) evaluated over them.
 *
 * The language, as ssl_create_cipher_list() in OpenSSL implements it: the
 * string is a list of elements separated by ':', ' ', ';' or ','. An element
 * is a cipher name or aliases joined by '+' (all must match), optionally
 * prefixed:
 *   (none)  add the matching suites not yet listed, at the end
 *   '-'     take the matching suites out of the list (they may come back)
 *   '!'     take them out for good
 *   '+'     move the matching listed suites to the end
 * plus "@STRENGTH" (stable sort by key length) and "@SECLEVEL=n" (ignored:
 * every suite here passes level 2). Unknown names make an element match
 * nothing; an empty result is an error ("no cipher match"). Only suites in
 * the table below exist here: aliases for what BearSSL does not do (DHE,
 * PSK, CAMELLIA, 3DES, RC4, NULL...) are known and match nothing.
 */
#include "tls_int.h"

#include <string.h>

#define K_E TLS_K_ECDHE
#define K_R TLS_K_RSA
#define A_R TLS_A_RSA
#define A_E TLS_A_ECDSA
#define GCM128 (TLS_E_AES128 | TLS_E_AESGCM | TLS_M_AEAD | TLS_V_TLS12)
#define GCM256 (TLS_E_AES256 | TLS_E_AESGCM | TLS_M_AEAD | TLS_V_TLS12)
#define CHACHA (TLS_E_CHACHA20 | TLS_M_AEAD | TLS_V_TLS12)
#define CBC128_256 (TLS_E_AES128 | TLS_M_SHA256 | TLS_V_TLS12)
#define CBC256_384 (TLS_E_AES256 | TLS_M_SHA384 | TLS_V_TLS12)
#define CBC256_256 (TLS_E_AES256 | TLS_M_SHA256 | TLS_V_TLS12)

/* OpenSSL 3's order for "ALL", restricted to these suites. */
const struct tls_suite tls_suites[TLS_NSUITES] = {
	{ BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, "ECDHE-ECDSA-AES256-GCM-SHA384", K_E | A_E | GCM256, 256 },
	{ BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, "ECDHE-RSA-AES256-GCM-SHA384", K_E | A_R | GCM256, 256 },
	{ BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-ECDSA-CHACHA20-POLY1305", K_E | A_E | CHACHA, 256 },
	{ BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-RSA-CHACHA20-POLY1305", K_E | A_R | CHACHA, 256 },
	{ BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "ECDHE-ECDSA-AES128-GCM-SHA256", K_E | A_E | GCM128, 128 },
	{ BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "ECDHE-RSA-AES128-GCM-SHA256", K_E | A_R | GCM128, 128 },
	{ BR_TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384, "ECDHE-ECDSA-AES256-SHA384", K_E | A_E | CBC256_384, 256 },
	{ BR_TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384, "ECDHE-RSA-AES256-SHA384", K_E | A_R | CBC256_384, 256 },
	{ BR_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, "ECDHE-ECDSA-AES128-SHA256", K_E | A_E | CBC128_256, 128 },
	{ BR_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256, "ECDHE-RSA-AES128-SHA256", K_E | A_R | CBC128_256, 128 },
	{ BR_TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, "ECDHE-ECDSA-AES256-SHA", K_E | A_E | TLS_E_AES256 | TLS_M_SHA1 | TLS_V_TLS10, 256 },
	{ BR_TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, "ECDHE-RSA-AES256-SHA", K_E | A_R | TLS_E_AES256 | TLS_M_SHA1 | TLS_V_TLS10, 256 },
	{ BR_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, "ECDHE-ECDSA-AES128-SHA", K_E | A_E | TLS_E_AES128 | TLS_M_SHA1 | TLS_V_TLS10, 128 },
	{ BR_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, "ECDHE-RSA-AES128-SHA", K_E | A_R | TLS_E_AES128 | TLS_M_SHA1 | TLS_V_TLS10, 128 },
	{ BR_TLS_RSA_WITH_AES_256_GCM_SHA384, "AES256-GCM-SHA384", K_R | A_R | GCM256, 256 },
	{ BR_TLS_RSA_WITH_AES_128_GCM_SHA256, "AES128-GCM-SHA256", K_R | A_R | GCM128, 128 },
	{ BR_TLS_RSA_WITH_AES_256_CBC_SHA256, "AES256-SHA256", K_R | A_R | CBC256_256, 256 },
	{ BR_TLS_RSA_WITH_AES_128_CBC_SHA256, "AES128-SHA256", K_R | A_R | CBC128_256, 128 },
	{ BR_TLS_RSA_WITH_AES_256_CBC_SHA, "AES256-SHA", K_R | A_R | TLS_E_AES256 | TLS_M_SHA1 | TLS_V_SSL3, 256 },
	{ BR_TLS_RSA_WITH_AES_128_CBC_SHA, "AES128-SHA", K_R | A_R | TLS_E_AES128 | TLS_M_SHA1 | TLS_V_SSL3, 128 },
};

const struct tls_suite *tls_suite_find(uint16_t id)
{
	for (size_t i = 0; i < TLS_NSUITES; i++) {
		if (tls_suites[i].id == id) {
			return &tls_suites[i];
		}
	}
	return NULL;
}

const char *tls_suite_name(uint16_t id)
{
	const struct tls_suite *s = tls_suite_find(id);
	return s != NULL ? s->name : "";
}

const char *tls_version_name(unsigned version)
{
	switch (version) {
	case BR_SSL30:
		return "SSLv3";
	case BR_TLS10:
		return "TLSv1";
	case BR_TLS11:
		return "TLSv1.1";
	case BR_TLS12:
		return "TLSv1.2";
	default:
		return "";
	}
}

/* Aliases. A suite matches when it has any of the bits; ALL_SUITES matches
 * everything; 0 is a known alias that matches nothing here. */
#define ALL_SUITES 0xFFFFu
static const struct {
	const char *name;
	uint16_t any;
} aliases[] = {
	{ "ALL", ALL_SUITES },
	{ "DEFAULT", ALL_SUITES },
	{ "HIGH", ALL_SUITES },
	{ "FIPS", ALL_SUITES },
	{ "kRSA", TLS_K_RSA },
	{ "RSA", TLS_K_RSA },
	{ "aRSA", TLS_A_RSA },
	{ "kECDHE", TLS_K_ECDHE },
	{ "kEECDH", TLS_K_ECDHE },
	{ "ECDHE", TLS_K_ECDHE },
	{ "EECDH", TLS_K_ECDHE },
	{ "ECDH", TLS_K_ECDHE },
	{ "aECDSA", TLS_A_ECDSA },
	{ "ECDSA", TLS_A_ECDSA },
	{ "AES", TLS_E_AES128 | TLS_E_AES256 },
	{ "AES128", TLS_E_AES128 },
	{ "AES256", TLS_E_AES256 },
	{ "AESGCM", TLS_E_AESGCM },
	{ "CHACHA20", TLS_E_CHACHA20 },
	{ "SHA1", TLS_M_SHA1 },
	{ "SHA", TLS_M_SHA1 },
	{ "SHA256", TLS_M_SHA256 },
	{ "SHA384", TLS_M_SHA384 },
	{ "TLSv1.2", TLS_V_TLS12 },
	{ "TLSv1.0", TLS_V_TLS10 },
	{ "TLSv1", TLS_V_TLS10 },
	{ "SSLv3", TLS_V_SSL3 },
	/* known to OpenSSL, absent from BearSSL or from this build */
	{ "MEDIUM", 0 }, { "LOW", 0 }, { "EXPORT", 0 }, { "eNULL", 0 }, { "NULL", 0 },
	{ "aNULL", 0 }, { "COMPLEMENTOFALL", 0 }, { "COMPLEMENTOFDEFAULT", 0 },
	{ "kDHE", 0 }, { "kEDH", 0 }, { "DHE", 0 }, { "EDH", 0 }, { "DH", 0 }, { "kDH", 0 },
	{ "ADH", 0 }, { "AECDH", 0 }, { "aDSS", 0 }, { "DSS", 0 }, { "PSK", 0 }, { "kPSK", 0 },
	{ "kECDHEPSK", 0 }, { "kDHEPSK", 0 }, { "kRSAPSK", 0 }, { "aPSK", 0 }, { "SRP", 0 },
	{ "kSRP", 0 }, { "aSRP", 0 }, { "3DES", 0 }, { "DES", 0 }, { "RC4", 0 }, { "RC2", 0 },
	{ "IDEA", 0 }, { "SEED", 0 }, { "MD5", 0 }, { "CAMELLIA", 0 }, { "CAMELLIA128", 0 },
	{ "CAMELLIA256", 0 }, { "ARIA", 0 }, { "ARIA128", 0 }, { "ARIA256", 0 }, { "AESCCM", 0 },
	{ "AESCCM8", 0 }, { "CHACHA20POLY1305", 0 }, { "GOST94", 0 }, { "GOST89MAC", 0 },
	{ "aGOST", 0 }, { "kGOST", 0 }, { "SUITEB128", 0 }, { "SUITEB128ONLY", 0 },
	{ "SUITEB192", 0 }, { "aECDH", 0 }, { "kECDH", 0 },
};

static bool word_is(const char *p, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(p, lit, n) == 0;
}

/* The set of suites (bit i = tls_suites[i]) one name stands for; false if
 * the name is unknown. Names are case-sensitive, as in OpenSSL. */
static bool name_set(const char *p, size_t n, uint32_t *set)
{
	for (size_t i = 0; i < TLS_NSUITES; i++) {
		if (word_is(p, n, tls_suites[i].name)) {
			*set = 1u << i;
			return true;
		}
	}
	for (size_t a = 0; a < MP_ARRAY_LEN(aliases); a++) {
		if (!word_is(p, n, aliases[a].name)) {
			continue;
		}
		uint32_t s = 0;
		for (size_t i = 0; i < TLS_NSUITES; i++) {
			if ((tls_suites[i].attrs & aliases[a].any) != 0) {
				s |= 1u << i;
			}
		}
		*set = s;
		return true;
	}
	return false;
}

/* OpenSSL's internal list: every suite not killed, in order; active ones
 * form the result. */
struct clist {
	uint8_t v[TLS_NSUITES];
	size_t n;
	uint32_t active;
};

/* Move the members of `pick` (in their current order) to the end or the
 * front of the list. */
static void move_set(struct clist *l, uint32_t pick, bool to_end)
{
	uint8_t moved[TLS_NSUITES], rest[TLS_NSUITES];
	size_t nm = 0, nr = 0;
	for (size_t i = 0; i < l->n; i++) {
		if (pick & (1u << l->v[i])) {
			moved[nm++] = l->v[i];
		} else {
			rest[nr++] = l->v[i];
		}
	}
	if (to_end) {
		memcpy(l->v, rest, nr);
		memcpy(l->v + nr, moved, nm);
	} else {
		memcpy(l->v, moved, nm);
		memcpy(l->v + nm, rest, nr);
	}
}

static void kill_set(struct clist *l, uint32_t pick)
{
	size_t o = 0;
	for (size_t i = 0; i < l->n; i++) {
		if (!(pick & (1u << l->v[i]))) {
			l->v[o++] = l->v[i];
		}
	}
	l->n = o;
	l->active &= ~pick;
}

static uint32_t listed(const struct clist *l)
{
	uint32_t s = 0;
	for (size_t i = 0; i < l->n; i++) {
		s |= 1u << l->v[i];
	}
	return s;
}

static bool is_sep(char c)
{
	return c == ':' || c == ' ' || c == ';' || c == ',';
}

enum mp_status tls_cipher_list(const char *s, size_t len, uint16_t *out, size_t cap, size_t *n)
{
	struct clist l;
	for (size_t i = 0; i < TLS_NSUITES; i++) {
		l.v[i] = (uint8_t)i;
	}
	l.n = TLS_NSUITES;
	l.active = 0;
	size_t i = 0;
	while (i < len) {
		if (is_sep(s[i])) {
			i++;
			continue;
		}
		size_t start = i;
		while (i < len && !is_sep(s[i])) {
			i++;
		}
		const char *e = s + start;
		size_t elen = i - start;
		char op = 0;
		if (e[0] == '!' || e[0] == '-' || e[0] == '+') {
			op = e[0];
			e++;
			elen--;
		}
		if (elen == 0) {
			continue;
		}
		if (e[0] == '@') {
			if (op == 0 && word_is(e, elen, "@STRENGTH")) {
				/* stable: strongest first, ties keep their order */
				uint32_t s128 = 0;
				for (size_t k = 0; k < TLS_NSUITES; k++) {
					if (tls_suites[k].bits == 128) {
						s128 |= 1u << k;
					}
				}
				move_set(&l, ~s128 & l.active, true);
				move_set(&l, s128 & l.active, true);
			}
			/* @SECLEVEL=n and unknown commands: nothing to do here */
			continue;
		}
		/* "A+B+C": the intersection; an unknown part voids the element */
		uint32_t set = 0xFFFFFFFFu;
		bool known = true;
		size_t p = 0;
		while (p <= elen) {
			size_t q = p;
			while (q < elen && e[q] != '+') {
				q++;
			}
			uint32_t part;
			if (q == p || !name_set(e + p, q - p, &part)) {
				known = false;
				break;
			}
			set &= part;
			p = q + 1;
		}
		if (!known) {
			continue;
		}
		set &= listed(&l);
		switch (op) {
		case 0:
			set &= ~l.active;
			move_set(&l, set, true);
			l.active |= set;
			break;
		case '-':
			set &= l.active;
			move_set(&l, set, false);
			l.active &= ~set;
			break;
		case '!':
			kill_set(&l, set);
			break;
		case '+':
			move_set(&l, set & l.active, true);
			break;
		}
	}
	size_t k = 0;
	for (size_t j = 0; j < l.n; j++) {
		if ((l.active & (1u << l.v[j])) && k < cap) {
			out[k++] = tls_suites[l.v[j]].id;
		}
	}
	*n = k;
	return k > 0 ? MP_OK : MP_INVALID;
}
