#include "sasl_flow.h"

#include "../core/rand.h"
#include "sasl.h"
#include "session.h"
#include "../tls/tls.h"

#include <string.h>
#include <time.h>

enum {
	STEP_NONE = 0,
	STEP_PLAIN,      /* waiting for the PLAIN message */
	STEP_LOGIN_USER, /* waiting for the user name (base64) */
	STEP_LOGIN_PASS, /* waiting for the password (base64) */
	STEP_CRAM,       /* waiting for "user digest" (base64) */
	STEP_EXTERNAL,   /* waiting for the authorization identity (may be empty) */
};

/* "Username:" and "Password:" in base64, the challenges nginx sends for LOGIN */
#define LOGIN_USER_CHALLENGE "VXNlcm5hbWU6"
#define LOGIN_PASS_CHALLENGE "UGFzc3dvcmQ6"

bool sasl_active(const struct session *s)
{
	return s->auth != NULL && s->auth->step != STEP_NONE;
}

enum sasl_result sasl_set_creds(struct session *s, struct mp_str login, struct mp_str pass,
				enum auth_mech mech)
{
	struct auth_ctx *a = s->auth;
	if (!sasl_cred_safe(login) || !sasl_cred_safe(pass)) {
		return SASL_UNSAFE;
	}
	/* EXTERNAL may leave the identity to the certificate (RFC 4422 App. A) */
	if ((login.n == 0 && mech != AMECH_EXTERNAL) || str_copy(a->login, sizeof(a->login), login) != MP_OK ||
	    str_copy(a->pass, sizeof(a->pass), pass) != MP_OK) {
		return SASL_INVALID;
	}
	a->login_len = login.n;
	a->pass_len = pass.n;
	a->mech = mech;
	session_set_login(s, login.p, login.n);
	return SASL_DONE;
}

enum mp_status sasl_make_salt(struct session *s)
{
	uint8_t rnd[SASL_CRAM_RND_LEN];
	size_t len = 0;
	if (rand_bytes(rnd, sizeof(rnd)) != MP_OK) {
		return MP_ERR;
	}
	if (sasl_cram_salt(s->auth->salt, sizeof(s->auth->salt), rnd, (uint64_t)time(NULL),
			   s->srv->server_name, &len) != MP_OK) {
		return MP_ERR;
	}
	s->auth->salt_len = len;
	return MP_OK;
}

/* Decode one base64 line; "=" is the empty string (RFC 4959). */
static bool decode(struct mp_str in, uint8_t *out, size_t cap, size_t *outlen)
{
	if (in.n == 1 && in.p[0] == '=') {
		*outlen = 0;
		return true;
	}
	return base64_decode(in.p, in.n, out, cap, outlen) == MP_OK;
}

#define DECODED_MAX (AUTH_LOGIN_MAX + AUTH_PASS_MAX + 8)

static enum sasl_result finish_plain(struct session *s, struct mp_str b64)
{
	uint8_t buf[DECODED_MAX];
	size_t n = 0;
	struct mp_str authzid, authcid, passwd;
	if (!decode(b64, buf, sizeof(buf), &n) ||
	    sasl_plain_decode(buf, n, &authzid, &authcid, &passwd) != MP_OK) {
		memset(buf, 0, sizeof(buf));
		return SASL_INVALID;
	}
	/* authzid is discarded, as nginx does */
	enum sasl_result r = sasl_set_creds(s, authcid, passwd, AMECH_PLAIN);
	memset(buf, 0, sizeof(buf));
	return r;
}

/* RFC 4422 Appendix A: the response is the authorization identity; nginx
 * sends it as Auth-User with Auth-Method: external and no password. */
static enum sasl_result finish_external(struct session *s, struct mp_str b64)
{
	uint8_t buf[AUTH_LOGIN_MAX];
	size_t n = 0;
	if (!decode(b64, buf, sizeof(buf), &n)) {
		return SASL_INVALID;
	}
	enum sasl_result r = sasl_set_creds(s, (struct mp_str){ (const char *)buf, n },
					    (struct mp_str){ "", 0 }, AMECH_EXTERNAL);
	return r;
}

static enum sasl_result challenge(struct session *s, int step, const char *text, char *out,
				  size_t cap, size_t *len)
{
	size_t n = strlen(text);
	if (n >= cap) {
		return SASL_INVALID;
	}
	memcpy(out, text, n + 1);
	*len = n;
	s->auth->step = (uint8_t)step;
	return SASL_CHALLENGE;
}

static enum sasl_result cram_challenge(struct session *s, char *out, size_t cap, size_t *len)
{
	if (sasl_make_salt(s) != MP_OK ||
	    base64_encode((const uint8_t *)s->auth->salt, s->auth->salt_len, out, cap, len) != MP_OK) {
		return SASL_INVALID;
	}
	s->auth->step = STEP_CRAM;
	return SASL_CHALLENGE;
}

enum sasl_result sasl_start(struct session *s, struct mp_str mech, const struct mp_str *ir,
			    unsigned enabled, char *out, size_t cap, size_t *len)
{
	*len = 0;
	if (str_eq_nocase(mech, "PLAIN")) {
		if (ir != NULL) {
			return finish_plain(s, *ir);
		}
		return challenge(s, STEP_PLAIN, "", out, cap, len);
	}
	if (str_eq_nocase(mech, "LOGIN")) {
		if (ir != NULL) {
			/* initial response = the user name (nginx 0.7.34) */
			uint8_t buf[AUTH_LOGIN_MAX];
			size_t n = 0;
			if (!decode(*ir, buf, sizeof(buf), &n)) {
				return SASL_INVALID;
			}
			struct mp_str u = { (const char *)buf, n };
			if (!sasl_cred_safe(u)) {
				return SASL_UNSAFE;
			}
			if (n == 0 || str_copy(s->auth->login, sizeof(s->auth->login), u) != MP_OK) {
				return SASL_INVALID;
			}
			s->auth->login_len = n;
			return challenge(s, STEP_LOGIN_PASS, LOGIN_PASS_CHALLENGE, out, cap, len);
		}
		return challenge(s, STEP_LOGIN_USER, LOGIN_USER_CHALLENGE, out, cap, len);
	}
	if (str_eq_nocase(mech, "CRAM-MD5")) {
		/* a digest mechanism cannot take an initial response */
		if (!(enabled & AUTHM_CRAM_MD5) || ir != NULL) {
			return SASL_UNSUPPORTED;
		}
		return cram_challenge(s, out, cap, len);
	}
	if (str_eq_nocase(mech, "EXTERNAL")) {
		/* checked once, here, for both forms (freenginx fb930b2). Beyond
		 * nginx, which leaves it to the auth server: EXTERNAL means the
		 * TLS client certificate, so without a verified one it is refused. */
		if (!(enabled & AUTHM_EXTERNAL) || !session_tls_active(s) ||
		    tls_peer_cert_status(&s->client) != TLS_CERT_OK) {
			return SASL_UNSUPPORTED;
		}
		if (ir != NULL) {
			return finish_external(s, *ir);
		}
		/* nginx asks for the user name, as for LOGIN */
		return challenge(s, STEP_EXTERNAL, LOGIN_USER_CHALLENGE, out, cap, len);
	}
	return SASL_UNSUPPORTED;
}

enum sasl_result sasl_step(struct session *s, struct mp_str line, char *out, size_t cap,
			   size_t *len)
{
	struct auth_ctx *a = s->auth;
	int step = a->step;
	*len = 0;
	a->step = STEP_NONE;
	if (line.n == 1 && line.p[0] == '*') {
		return SASL_CANCELLED;
	}
	switch (step) {
	case STEP_PLAIN:
		return finish_plain(s, line);
	case STEP_EXTERNAL:
		return finish_external(s, line);
	case STEP_LOGIN_USER: {
		uint8_t buf[AUTH_LOGIN_MAX];
		size_t n = 0;
		if (!decode(line, buf, sizeof(buf), &n)) {
			return SASL_INVALID;
		}
		struct mp_str u = { (const char *)buf, n };
		if (!sasl_cred_safe(u)) {
			return SASL_UNSAFE;
		}
		if (n == 0 || str_copy(a->login, sizeof(a->login), u) != MP_OK) {
			return SASL_INVALID;
		}
		a->login_len = n;
		return challenge(s, STEP_LOGIN_PASS, LOGIN_PASS_CHALLENGE, out, cap, len);
	}
	case STEP_LOGIN_PASS: {
		uint8_t buf[AUTH_PASS_MAX];
		size_t n = 0;
		if (!decode(line, buf, sizeof(buf), &n)) {
			return SASL_INVALID;
		}
		char login[AUTH_LOGIN_MAX + 1];
		memcpy(login, a->login, a->login_len + 1);
		enum sasl_result r = sasl_set_creds(s, (struct mp_str){ login, a->login_len },
						    (struct mp_str){ (const char *)buf, n }, AMECH_LOGIN);
		memset(buf, 0, sizeof(buf));
		return r;
	}
	case STEP_CRAM: {
		uint8_t buf[AUTH_LOGIN_MAX + 64];
		size_t n = 0;
		struct mp_str user, digest;
		if (!decode(line, buf, sizeof(buf), &n) ||
		    sasl_cram_parse_response(buf, n, &user, &digest) != MP_OK) {
			return SASL_INVALID;
		}
		/* the digest stands in for the password; the salt goes along */
		return sasl_set_creds(s, user, digest, AMECH_CRAM_MD5);
	}
	default:
		return SASL_INVALID;
	}
}
