/* Authenticator dispatch and the auth context pool. */
#include "auth.h"

#include "session.h"

#include <stdlib.h>
#include <string.h>

#define AUTH_FREE_KEEP 64

static struct auth_ctx *free_ctx;
static unsigned nfree;

struct auth_ctx *auth_ctx_get(void)
{
	struct auth_ctx *a = free_ctx;
	if (a != NULL) {
		free_ctx = a->next_free;
		nfree--;
	} else {
		a = malloc(sizeof(*a));
		if (a == NULL) {
			return NULL;
		}
	}
	memset(a, 0, sizeof(*a));
	return a;
}

void auth_ctx_put(struct auth_ctx *a)
{
	if (a == NULL) {
		return;
	}
	free(a->smtp_helo);
	free(a->smtp_from);
	free(a->smtp_to);
	explicit_bzero(a, sizeof(*a));
	if (nfree >= AUTH_FREE_KEEP) {
		free(a);
		return;
	}
	a->next_free = free_ctx;
	free_ctx = a;
	nfree++;
}

void auth_ctx_reset_creds(struct auth_ctx *a)
{
	/* every credential field together, lengths included (CVE-2026-27651) */
	explicit_bzero(a->login, sizeof(a->login));
	explicit_bzero(a->pass, sizeof(a->pass));
	explicit_bzero(a->salt, sizeof(a->salt));
	explicit_bzero(a->user, sizeof(a->user));
	explicit_bzero(a->bpass, sizeof(a->bpass));
	a->login_len = a->pass_len = a->salt_len = a->user_len = a->bpass_len = 0;
	a->has_user = a->has_bpass = false;
	a->mech = AMECH_PLAIN;
	a->step = 0;
	a->outcome = AUTH_DENIED;
	a->err_text[0] = '\0';
	a->err_code[0] = '\0';
	a->wait_s = 0;
	a->retry = false;
	a->why = NULL;
	memset(&a->backend, 0, sizeof(a->backend));
}

const char *auth_mech_http_name(enum auth_mech m)
{
	switch (m) {
	case AMECH_PLAIN:
	case AMECH_LOGIN:
		return "plain";
	case AMECH_APOP:
		return "apop";
	case AMECH_CRAM_MD5:
		return "cram-md5";
	case AMECH_EXTERNAL:
		return "external";
	case AMECH_NONE:
		return "none";
	}
	return "plain";
}

static void done_cb(struct timer *t)
{
	struct auth_ctx *a = MP_CONTAINER_OF(t, struct auth_ctx, step_timer);
	session_auth_done(a->owner);
}

void auth_done_later(struct session *s)
{
	s->auth->step_timer.fn = done_cb;
	timer_set(&s->auth->step_timer, 0);
}

void auth_start(struct session *s)
{
	if (s->srv->nauth_backends > 0 && auth_builtin_try(s)) {
		return;
	}
	if (s->srv->auth_http.text != NULL) {
		auth_http_start(s);
		return;
	}
	/* only auth_backend entries, none of which matched this login */
	auth_builtin_deny(s);
}

void auth_cancel(struct session *s)
{
	if (s->auth == NULL) {
		return;
	}
	timer_stop(&s->auth->step_timer);
	auth_http_cancel(s);
	auth_builtin_cancel(s);
}
