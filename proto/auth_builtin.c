/*
 * The built-in authenticator (`auth_backend` directive): routes a login to a
 * backend without any HTTP auth server, for appliances. An entry either
 * checks a PBKDF2 password hash here or passes the password through for the
 * backend to check.
 *
 * PBKDF2 is deliberately slow and the loop is single-threaded, so the hash is
 * computed in slices of AUTH_HASH_SLICE rounds, one slice per loop turn (a
 * zero-delay timer): other sessions are served between slices.
 */
#include "auth.h"

#include "../core/log.h"
#include "auth_route.h"
#include "pwhash.h"
#include "session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ~0.5 ms of SHA-256 work per slice on a small x86 core; a router is slower,
 * which only means more turns, not longer stalls. */
#define AUTH_HASH_SLICE 256u
#define AUTH_DENY_WAIT_S 1u /* failed built-in logins wait, like an auth script's Auth-Wait */

static void deny(struct auth_ctx *a)
{
	a->outcome = AUTH_DENIED;
	snprintf(a->err_text, sizeof(a->err_text), "Invalid login or password");
	a->wait_s = AUTH_DENY_WAIT_S;
}

static void hash_step(struct timer *t)
{
	struct auth_ctx *a = MP_CONTAINER_OF(t, struct auth_ctx, step_timer);
	bool match = false;
	enum mp_status st = pwhash_check_step(a->pw, AUTH_HASH_SLICE, &match);
	if (st == MP_AGAIN) {
		timer_set(&a->step_timer, 0);
		return;
	}
	free(a->pw);
	a->pw = NULL;
	if (st == MP_OK && match) {
		a->outcome = AUTH_OK;
	} else {
		deny(a);
	}
	session_auth_done(a->owner);
}

bool auth_builtin_try(struct session *s)
{
	struct auth_ctx *a = s->auth;
	const struct conf_auth_backend *e = auth_route_match(
		s->srv->auth_backends, s->srv->nauth_backends,
		(struct mp_str){ a->login, a->login_len });
	if (e == NULL) {
		return false;
	}
	a->backend = e->addr;
	if (e->hash == NULL) {
		/* pass-through: the backend checks the password itself */
		if (a->mech == AMECH_APOP || a->mech == AMECH_CRAM_MD5 || a->mech == AMECH_EXTERNAL) {
			/* the client's password is unknown after a digest mechanism
			 * or a certificate */
			deny(a);
		} else {
			a->outcome = AUTH_OK;
		}
		auth_done_later(s);
		return true;
	}
	if (a->mech != AMECH_PLAIN && a->mech != AMECH_LOGIN) {
		deny(a);
		auth_done_later(s);
		return true;
	}
	a->pw = malloc(sizeof(*a->pw));
	if (a->pw == NULL ||
	    pwhash_check_start(a->pw, e->hash, a->pass, a->pass_len) != MP_OK) {
		log_msg(LOGL_ERR, s->id, "invalid password hash for \"%s\" in %s:%d", e->user, e->file, e->line);
		free(a->pw);
		a->pw = NULL;
		a->outcome = AUTH_ERROR;
		a->why = "invalid password hash in auth_backend";
		auth_done_later(s);
		return true;
	}
	a->step_timer.fn = hash_step;
	timer_set(&a->step_timer, 0);
	return true;
}

void auth_builtin_deny(struct session *s)
{
	struct auth_ctx *a = s->auth;
	deny(a);
	auth_done_later(s);
}

void auth_builtin_cancel(struct session *s)
{
	struct auth_ctx *a = s->auth;
	if (a->pw != NULL) {
		pwhash_check_wipe(a->pw);
		free(a->pw);
		a->pw = NULL;
	}
}
