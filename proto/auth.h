/*
 * The authenticator: given what the client sent (s->auth), decide where the
 * session goes. Two implementations behind auth_start(): auth_http (nginx's
 * protocol, auth_http.c) and the built-in map (auth_backend directive,
 * auth_builtin.c). Both finish by calling session_auth_done().
 */
#ifndef MP_AUTH_H
#define MP_AUTH_H

#include "../core/common.h"
#include "../core/loop.h"
#include "../core/net.h"

struct session;

enum auth_mech {
	AMECH_PLAIN = 0,   /* LOGIN, USER/PASS, AUTH PLAIN */
	AMECH_LOGIN,       /* AUTH LOGIN: reported to auth_http as "plain", like nginx */
	AMECH_APOP,
	AMECH_CRAM_MD5,
	AMECH_EXTERNAL,
	AMECH_NONE,        /* smtp_auth none */
};

#define AUTH_LOGIN_MAX 512
#define AUTH_PASS_MAX 1024
#define AUTH_SALT_MAX 256
#define AUTH_TAG_MAX 32
#define AUTH_TEXT_MAX 512

enum auth_outcome {
	AUTH_OK,       /* backend chosen */
	AUTH_DENIED,   /* credentials refused: err_text, wait_s */
	AUTH_ERROR,    /* the authenticator failed: internal error to the client */
};

struct auth_http_conn;
struct pwhash_check;

/* Lives from the first login command to the start of the relay; every
 * credential field is wiped when it is released or reset. */
struct auth_ctx {
	struct auth_ctx *next_free;
	enum auth_mech mech;
	uint8_t step;                     /* multi-step SASL exchanges */
	char tag[AUTH_TAG_MAX + 1];       /* IMAP: the login command's tag */
	size_t login_len, pass_len, salt_len;
	char login[AUTH_LOGIN_MAX + 1];
	char pass[AUTH_PASS_MAX + 1];     /* plaintext, or the digest for APOP/CRAM-MD5 */
	char salt[AUTH_SALT_MAX + 1];
	/* SMTP: the envelope for smtp_auth none, HELO for Auth-SMTP-Helo */
	char *smtp_helo, *smtp_from, *smtp_to;

	/* The answer. */
	enum auth_outcome outcome;
	struct mp_addr backend;           /* len 0 while backend_host is resolved */
	char backend_host[256];           /* Auth-Server given as a host name */
	uint16_t backend_port;
	size_t user_len, bpass_len;       /* Auth-User/Auth-Pass, if given */
	char user[AUTH_LOGIN_MAX + 1];
	char bpass[AUTH_PASS_MAX + 1];
	bool has_user, has_bpass;
	char err_text[AUTH_TEXT_MAX + 1];
	char err_code[32];                /* SMTP Auth-Error-Code */
	unsigned wait_s;                  /* Auth-Wait; 0 = close after the error */
	bool retry;                       /* Auth-Status: WAIT: ask again */
	const char *why;                  /* AUTH_ERROR: reason for the log */

	struct auth_http_conn *http;      /* in-flight request */
	struct pwhash_check *pw;          /* in-flight built-in hash check */
	struct timer step_timer;          /* built-in: next slice of hashing */
	struct session *owner;
};

struct auth_ctx *auth_ctx_get(void);
/* Wipe and release. */
void auth_ctx_put(struct auth_ctx *a);
/* Forget the credentials of a failed attempt (keep tag and SMTP envelope). */
void auth_ctx_reset_creds(struct auth_ctx *a);

/* Start authenticating s (s->auth filled). Calls session_auth_done() later,
 * never from inside auth_start itself. */
void auth_start(struct session *s);
/* The session is going away: drop any in-flight work. */
void auth_cancel(struct session *s);

/* Back-ends. */
void auth_http_start(struct session *s);
void auth_http_cancel(struct session *s);
bool auth_builtin_try(struct session *s); /* false: no auth_backend entry matched */
void auth_builtin_deny(struct session *s);  /* no route at all: refuse the login */
void auth_builtin_cancel(struct session *s);

/* Call session_auth_done() on the next loop turn (never re-enter the caller). */
void auth_done_later(struct session *s);

/* Called by the back-ends with s->auth->outcome and friends set. */
void session_auth_done(struct session *s);

const char *auth_mech_http_name(enum auth_mech m); /* "plain", "apop", ... */

#endif
