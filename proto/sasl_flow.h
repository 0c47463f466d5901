/*
 * The SASL exchanges every protocol shares (RFC 4422): PLAIN, LOGIN,
 * CRAM-MD5 and EXTERNAL, with or without an initial response. Protocols only
 * frame the challenges ("+ " for IMAP and POP3, "334 " for SMTP) and the
 * final replies; the decoding and the credential bookkeeping live here once.
 */
#ifndef MP_SASL_FLOW_H
#define MP_SASL_FLOW_H

#include "../core/str.h"
#include "auth.h"

struct session;

enum sasl_result {
	SASL_CHALLENGE,   /* send "<prefix><challenge>", wait for the next line */
	SASL_DONE,        /* credentials are in s->auth: call session_authenticate() */
	SASL_CANCELLED,   /* the client sent "*" */
	SASL_INVALID,     /* malformed response: a protocol error */
	SASL_UNSUPPORTED, /* mechanism unknown or not enabled */
	SASL_UNSAFE,      /* credentials with CR, LF or NUL: refused */
};

#define SASL_CHALLENGE_MAX 512

/* Start AUTHENTICATE/AUTH with mechanism `mech` (case-insensitive) and an
 * optional initial response (ir == NULL: none; "=" is an empty one, RFC 4959).
 * `enabled` holds the AUTHM_* bits of the protocol's *_auth directive; PLAIN
 * and LOGIN are always accepted, as nginx does (they only control what is
 * advertised). s->auth must exist. */
enum sasl_result sasl_start(struct session *s, struct mp_str mech, const struct mp_str *ir,
			    unsigned enabled, char *challenge, size_t cap, size_t *len);
/* The client's next line in the exchange. */
enum sasl_result sasl_step(struct session *s, struct mp_str line, char *challenge, size_t cap,
			   size_t *len);
/* Is an exchange in progress (the next client line belongs to it)? */
bool sasl_active(const struct session *s);
/* Make a salt "<random.time@server_name>" into s->auth (APOP greeting, CRAM-MD5). */
enum mp_status sasl_make_salt(struct session *s);
/* Store login/password into s->auth (checked: no CR/LF/NUL, bounded). */
enum sasl_result sasl_set_creds(struct session *s, struct mp_str login, struct mp_str pass,
				enum auth_mech mech);

#endif
