/*
 * POP3: the client dialogue before login (RFC 1939 USER/PASS/APOP, RFC 2449
 * CAPA, RFC 5034 AUTH, RFC 2595 STLS), the login to the backend with
 * USER/PASS, and the hand-over to the relay. Texts, capability lists and
 * their order follow nginx's ngx_mail_pop3_module.c / ngx_mail_pop3_handler.c,
 * because monitoring and auth scripts written for nginx match on them.
 */
#include "../core/log.h"
#include "../core/rand.h"
#include "pop3_parse.h"
#include "sasl.h"
#include "sasl_flow.h"
#include "session.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* One multi-line reply (CAPA, AUTH list) is built here, flushed when full. */
#define POP3_REPLY_MAX 1024
/* "USER " / "PASS " + credential + CRLF. */
#define POP3_BACKEND_LINE_MAX (AUTH_PASS_MAX + 8)
/* How much of a backend line goes into a log line. */
#define POP3_LOG_REPLY_MAX 200

/* Backend login steps (pop3_step() while PH_BACKEND). */
enum {
	BK_GREETING = 0, /* waiting for "+OK" */
	BK_XCLIENT,      /* sent "XCLIENT ..." and "USER login", waiting for XCLIENT's reply */
	BK_USER,         /* sent "USER login", waiting for "+OK" */
	BK_PASS,         /* sent "PASS password", waiting for "+OK" */
	BK_STLS,         /* proxy_ssl starttls: sent "STLS", waiting for "+OK" */
};

/*
 * Per-session POP3 state: the backend step, and whether USER was accepted
 * (nginx's ngx_pop3_user state), kept in the session's struct pop3_state.
 */
static uint8_t *pop3_step(struct session *s)
{
	return &s->p.pop3.step;
}

static uint8_t *pop3_user_state(struct session *s)
{
	return &s->p.pop3.user;
}

/*
 * The SASL mechanisms of pop3_auth, in nginx's order
 * (ngx_mail_pop3_auth_methods_names: PLAIN, LOGIN, APOP (no SASL name),
 * CRAM-MD5, EXTERNAL). pop3_auth has no "login" keyword: nginx's
 * ngx_mail_pop3_merge_srv_conf() turns LOGIN on whenever PLAIN is, so the
 * default `pop3_auth plain` advertises "SASL PLAIN LOGIN".
 */
static unsigned sasl_enabled(const struct session *s)
{
	unsigned m = s->srv->pop3_auth;
	if (m & AUTHM_PLAIN) {
		m |= AUTHM_LOGIN;
	}
	return m;
}

static const struct {
	unsigned bit;
	const char *name;
} sasl_names[] = {
	{ AUTHM_PLAIN, "PLAIN" },
	{ AUTHM_LOGIN, "LOGIN" },
	{ AUTHM_CRAM_MD5, "CRAM-MD5" },
	{ AUTHM_EXTERNAL, "EXTERNAL" },
};

/* A reply assembled in one buffer, so a list leaves in one write. */
struct reply {
	struct session *s;
	size_t len;
	char buf[POP3_REPLY_MAX];
};

static void reply_flush(struct reply *r)
{
	if (r->len > 0) {
		session_send(r->s, r->buf, r->len);
		r->len = 0;
	}
}

static void reply_add(struct reply *r, const char *p, size_t n)
{
	while (n > 0) {
		if (r->len == sizeof(r->buf)) {
			reply_flush(r);
		}
		size_t k = MP_MIN(n, sizeof(r->buf) - r->len);
		memcpy(r->buf + r->len, p, k);
		r->len += k;
		p += k;
		n -= k;
	}
}

static void reply_str(struct reply *r, const char *str)
{
	reply_add(r, str, strlen(str));
}

/*
 * CAPA (RFC 2449), as nginx builds it: pop3_capabilities, then "SASL" with
 * the mechanisms, then STLS; a list ends with ".". With `starttls only`
 * before TLS, USER and SASL are left out (nginx's starttls_only_capability).
 * In the USER state nginx answers without STLS (ngx_mail_pop3_capa(s, c, 0)).
 * One deviation: nginx writes a bare "SASL" line when pop3_auth enables no
 * SASL mechanism (only apop); RFC 2449 §6.3 wants at least one, so the line
 * is omitted then.
 */
static void send_capa(struct session *s, bool stls)
{
	const struct conf_server *srv = s->srv;
	bool only = session_login_needs_tls(s);
	struct reply r = { .s = s, .len = 0 };
	reply_str(&r, "+OK Capability list follows\r\n");
	for (size_t i = 0; i < srv->pop3_capabilities.n; i++) {
		const char *cap = srv->pop3_capabilities.v[i];
		if (only && str_eq_nocase((struct mp_str){ cap, strlen(cap) }, "USER")) {
			continue;
		}
		reply_str(&r, cap);
		reply_str(&r, "\r\n");
	}
	unsigned m = sasl_enabled(s);
	if (!only && (m & (AUTHM_PLAIN | AUTHM_LOGIN | AUTHM_CRAM_MD5 | AUTHM_EXTERNAL))) {
		reply_str(&r, "SASL");
		for (size_t i = 0; i < MP_ARRAY_LEN(sasl_names); i++) {
			if (m & sasl_names[i].bit) {
				reply_str(&r, " ");
				reply_str(&r, sasl_names[i].name);
			}
		}
		reply_str(&r, "\r\n");
	}
	if (session_starttls_offered(s) && (stls || only)) {
		reply_str(&r, "STLS\r\n");
	}
	reply_str(&r, ".\r\n");
	reply_flush(&r);
}

/* Bare AUTH: nginx's auth_capability, one mechanism per line. */
static void send_auth_list(struct session *s)
{
	unsigned m = sasl_enabled(s);
	struct reply r = { .s = s, .len = 0 };
	reply_str(&r, "+OK methods supported:\r\n");
	for (size_t i = 0; i < MP_ARRAY_LEN(sasl_names); i++) {
		if (m & sasl_names[i].bit) {
			reply_str(&r, sasl_names[i].name);
			reply_str(&r, "\r\n");
		}
	}
	reply_str(&r, ".\r\n");
	reply_flush(&r);
}

/*
 * The APOP timestamp of the greeting (RFC 1939 §7). It must stay the same
 * for the whole session (a client may retry APOP after an Auth-Wait
 * failure), but auth_ctx_reset_creds() wipes s->auth->salt between attempts
 * and the session holds no other room for it. So it is derived, not stored:
 * "<R.T@server_name>" (nginx's ngx_mail_salt() form), R = the first 8 bytes
 * of HMAC-MD5(key, session id) with a random key per process, T = the Unix
 * time the session started. R is as unpredictable as the key and unique per
 * session id, so no two sessions of a process share a timestamp.
 */
static struct {
	bool ready;
	uint8_t key[16];
	int64_t wall0, mono0; /* the same instant on both clocks (s, ms) */
} salt_key;

/* One digit of sasl_cram_digest()'s lower-case hex. */
static unsigned hexval(char c)
{
	return c <= '9' ? (unsigned)(c - '0') : (unsigned)(c - 'a' + 10);
}

static enum mp_status greeting_salt(const struct session *s, char *out, size_t cap, size_t *len)
{
	if (!salt_key.ready) {
		if (rand_bytes(salt_key.key, sizeof(salt_key.key)) != MP_OK) {
			return MP_ERR;
		}
		salt_key.wall0 = (int64_t)time(NULL);
		salt_key.mono0 = (int64_t)loop_now();
		salt_key.ready = true;
	}
	char id[8], hex[SASL_DIGEST_HEX_LEN + 1];
	for (size_t i = 0; i < sizeof(id); i++) {
		id[i] = (char)(s->id >> (56 - 8 * i));
	}
	sasl_cram_digest((const char *)salt_key.key, sizeof(salt_key.key),
			 (struct mp_str){ id, sizeof(id) }, hex);
	uint8_t rnd[SASL_CRAM_RND_LEN];
	for (size_t i = 0; i < sizeof(rnd); i++) {
		rnd[i] = (uint8_t)(hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]));
	}
	int64_t t = salt_key.wall0 + ((int64_t)s->started_ms - salt_key.mono0) / 1000;
	return sasl_cram_salt(out, cap, rnd, t > 0 ? (uint64_t)t : 0, s->srv->server_name, len);
}

static bool apop_greeting(const struct session *s)
{
	/* nginx: a timestamp whenever apop or cram-md5 is enabled */
	return (s->srv->pop3_auth & (AUTHM_APOP | AUTHM_CRAM_MD5)) != 0;
}

static void pop3_greet(struct session *s)
{
	s->client_buffer_cap = s->srv->pop3_client_buffer;
	*pop3_user_state(s) = 0;
	if (!apop_greeting(s)) {
		session_sendf(s, "+OK POP3 ready\r\n");
		return;
	}
	char salt[AUTH_SALT_MAX + 1];
	size_t n = 0;
	if (greeting_salt(s, salt, sizeof(salt), &n) != MP_OK) {
		log_msg(LOGL_ERR, s->id, "cannot make the APOP timestamp (server_name \"%s\")",
			s->srv->server_name);
		session_sendf(s, "-ERR internal server error\r\n");
		session_quit(s, "no APOP timestamp");
		return;
	}
	session_sendf(s, "+OK POP3 ready %.*s\r\n", (int)n, salt);
}

/* Back to nginx's ngx_pop3_start state: forget USER and any half exchange. */
static void to_start(struct session *s)
{
	*pop3_user_state(s) = 0;
	if (s->auth != NULL) {
		auth_ctx_reset_creds(s->auth);
	}
}

/* nginx's answer to anything it cannot take; counts against max_errors. */
static void invalid(struct session *s)
{
	to_start(s);
	session_sendf(s, "-ERR invalid command\r\n");
	if (session_error(s)) {
		session_quit(s, "too many invalid commands");
	}
}


/* The outcome of a login command or SASL step, in POP3's words. */
static void sasl_outcome(struct session *s, enum sasl_result r, const char *chal, size_t chlen)
{
	switch (r) {
	case SASL_CHALLENGE:
		/* RFC 5034 §4: "+ " and the base64 challenge; "+ " alone for PLAIN */
		session_sendf(s, "+ %.*s\r\n", (int)chlen, chal);
		break;
	case SASL_DONE:
		*pop3_user_state(s) = 0;
		session_authenticate(s);
		break;
	case SASL_CANCELLED:
		/* RFC 5034 §4: a "*" line must be answered with -ERR; not a protocol error */
		to_start(s);
		session_sendf(s, "-ERR authentication cancelled\r\n");
		break;
	case SASL_UNSAFE:
		log_msg(LOGL_INFO, s->id, "client sent credentials with CR, LF or NUL");
		to_start(s);
		session_sendf(s, "-ERR invalid credentials\r\n");
		if (session_error(s)) {
			session_quit(s, "too many invalid commands");
		}
		break;
	case SASL_INVALID:
	case SASL_UNSUPPORTED:
		invalid(s);
		break;
	}
}

static void cmd_user(struct session *s, const struct pop3_cmd *c)
{
	struct mp_str login = c->args[0];
	if (session_login_needs_tls(s)) {
		invalid(s);
		return;
	}
	if (!session_auth_ctx(s, true)) {
		return;
	}
	if (!sasl_cred_safe(login) || str_copy(s->auth->login, sizeof(s->auth->login), login) != MP_OK) {
		invalid(s);
		return;
	}
	s->auth->login_len = login.n;
	session_set_login(s, login.p, login.n);
	*pop3_user_state(s) = 1;
	session_sendf(s, "+OK\r\n");
}

static void cmd_pass(struct session *s, const struct pop3_cmd *c)
{
	/* sasl_set_creds() copies into s->auth->login: hand it a copy, not itself */
	if (s->auth == NULL || s->auth->login_len == 0) {
		invalid(s);
		return;
	}
	char login[AUTH_LOGIN_MAX + 1];
	size_t n = s->auth->login_len;
	memcpy(login, s->auth->login, n + 1);
	enum sasl_result r = sasl_set_creds(s, (struct mp_str){ login, n }, c->args[0], AMECH_PLAIN);
	memset(login, 0, sizeof(login));
	sasl_outcome(s, r, NULL, 0);
}

static void cmd_apop(struct session *s, const struct pop3_cmd *c)
{
	if (session_login_needs_tls(s) || !(s->srv->pop3_auth & AUTHM_APOP)) {
		invalid(s);
		return;
	}
	if (!session_auth_ctx(s, true)) {
		return;
	}
	/* the digest stands in for the password; the timestamp goes along */
	enum sasl_result r = sasl_set_creds(s, c->args[0], c->args[1], AMECH_APOP);
	if (r == SASL_DONE) {
		size_t n = 0;
		if (greeting_salt(s, s->auth->salt, sizeof(s->auth->salt), &n) != MP_OK) {
			r = SASL_INVALID;
		}
		s->auth->salt_len = n;
	}
	sasl_outcome(s, r, NULL, 0);
}

static void cmd_auth(struct session *s, const struct pop3_cmd *c)
{
	if (session_login_needs_tls(s)) {
		invalid(s);
		return;
	}
	if (c->nargs == 0) {
		send_auth_list(s);
		return;
	}
	if (!session_auth_ctx(s, true)) {
		return;
	}
	char chal[SASL_CHALLENGE_MAX];
	size_t chlen = 0;
	const struct mp_str *ir = c->nargs == 2 ? &c->args[1] : NULL;
	enum sasl_result r = sasl_start(s, c->args[0], ir, sasl_enabled(s), chal, sizeof(chal), &chlen);
	sasl_outcome(s, r, chal, chlen);
}

/*
 * nginx's ngx_mail_pop3_auth_state(): in the start state USER, CAPA, APOP,
 * AUTH, QUIT, NOOP and STLS; after USER only PASS, CAPA, QUIT and NOOP.
 * Anything else is "-ERR invalid command" and back to the start state.
 */
static void dispatch(struct session *s, const struct pop3_cmd *c, size_t used)
{
	bool user_state = *pop3_user_state(s) != 0;
	switch (c->id) {
	case POP3_CAPA:
		send_capa(s, !user_state);
		return;
	case POP3_NOOP:
		session_sendf(s, "+OK\r\n");
		return;
	case POP3_QUIT:
		session_sendf(s, "+OK\r\n");
		session_quit(s, "client quit");
		return;
	case POP3_PASS:
		if (user_state) {
			cmd_pass(s, c);
			return;
		}
		break;
	case POP3_USER:
		if (!user_state) {
			cmd_user(s, c);
			return;
		}
		break;
	case POP3_APOP:
		if (!user_state) {
			cmd_apop(s, c);
			return;
		}
		break;
	case POP3_AUTH:
		if (!user_state) {
			cmd_auth(s, c);
			return;
		}
		break;
	case POP3_STLS:
		/* RFC 2595 §4; refused while starttls is off, as nginx does */
		if (!user_state && session_starttls_offered(s)) {
			session_sendf(s, "+OK\r\n");
			if (s->auth != NULL) {
				auth_ctx_put(s->auth);
				s->auth = NULL;
			}
			session_starttls(s, used);
			return;
		}
		break;
	case POP3_UNKNOWN:
		break;
	}
	invalid(s);
}

static void pop3_client_input(struct session *s)
{
	while (!s->quit && !s->closed && s->phase == PH_AUTH && buf_len(s->client.in) > 0) {
		struct mp_str line;
		size_t used = 0;
		/* nginx: a too long line is "-ERR invalid command", then close */
		if (!session_client_line(s, "-ERR invalid command\r\n", &line, &used)) {
			return;
		}
		if (sasl_active(s)) {
			char chal[SASL_CHALLENGE_MAX];
			size_t chlen = 0;
			enum sasl_result r = sasl_step(s, line, chal, sizeof(chal), &chlen);
			io_consume(&s->client, used);
			sasl_outcome(s, r, chal, chlen);
			continue;
		}
		struct pop3_cmd c;
		if (pop3_parse_cmd(line.p, line.n, &c) != MP_OK) {
			io_consume(&s->client, used);
			invalid(s);
			continue;
		}
		if (++s->commands > s->srv->max_commands) {
			log_msg(LOGL_INFO, s->id, "client sent too many commands");
			session_sendf(s, "-ERR too many commands\r\n");
			session_quit(s, "too many commands");
			return;
		}
		dispatch(s, &c, used);
		/* the command's slices point into the buffer: consume only now */
		io_consume(&s->client, used);
	}
}

static void pop3_auth_failed(struct session *s, const char *text, const char *code, bool keep)
{
	(void)code;
	(void)keep;
	*pop3_user_state(s) = 0;
	session_sendf(s, "-ERR %s\r\n", text);
}

static void pop3_internal_error(struct session *s)
{
	session_sendf(s, "-ERR internal server error\r\n");
}

static void pop3_backend_connected(struct session *s)
{
	*pop3_step(s) = BK_GREETING;
}

static void backend_user_pass(const struct session *s, struct mp_str *user, struct mp_str *pass)
{
	const struct auth_ctx *a = s->auth;
	*user = a->has_user ? (struct mp_str){ a->user, a->user_len } : (struct mp_str){ a->login, a->login_len };
	*pass = a->has_bpass ? (struct mp_str){ a->bpass, a->bpass_len } : (struct mp_str){ a->pass, a->pass_len };
}

/*
 * "USER login" or "PASS password". Both come from the client or the auth
 * server; one with CR, LF or NUL would end the command early and smuggle in
 * another (nginx/nginx PR #1620), so it is refused here whatever its source.
 */
static enum mp_status backend_cmd(struct session *s, const char *verb, struct mp_str arg)
{
	char line[POP3_BACKEND_LINE_MAX];
	if (arg.n == 0 || !sasl_cred_safe(arg)) {
		log_msg(LOGL_ERR, s->id, "refusing to send %s with an empty value or CR, LF or NUL to upstream %s",
			verb, s->backend_text ? s->backend_text : "-");
		pop3_internal_error(s);
		session_quit(s, "unsafe credentials for upstream");
		return MP_ERR;
	}
	int n = snprintf(line, sizeof(line), "%s %.*s\r\n", verb, (int)arg.n, arg.p);
	enum mp_status st = MP_ERR;
	if (n > 0 && (size_t)n < sizeof(line)) {
		st = io_write(&s->backend, line, (size_t)n);
	}
	memset(line, 0, sizeof(line));
	if (st != MP_OK) {
		log_msg(LOGL_ERR, s->id, "upstream write error while logging in");
		pop3_internal_error(s);
		session_quit(s, "upstream write error");
	}
	return st;
}

/*
 * proxy_client_id (beyond nginx): tell the backend who the client really is,
 * as Dovecot's own proxy does, with XCLIENT ADDR= PORT= (Dovecot's
 * pop3-login takes it from login_trusted_networks and then says [XCLIENT]
 * in its greeting). Sent only when the greeting announces it, pipelined
 * with USER. The client's own XCLIENT never gets this far: before login it
 * is an unknown command.
 */
static enum mp_status send_xclient(struct session *s)
{
	char ip[MP_ADDR_TEXT_MAX], line[MP_ADDR_TEXT_MAX + 32];
	struct mp_addr ca;
	session_client_addr(s, &ca);
	int fam = ca.u.sa.sa_family;
	if (fam != AF_INET && fam != AF_INET6) {
		return MP_AGAIN; /* a unix-socket client has no address to tell */
	}
	net_ip_text(&ca, ip, sizeof(ip));
	int n = snprintf(line, sizeof(line), "XCLIENT ADDR=%s PORT=%u\r\n", ip, net_port(&ca));
	if (n <= 0 || (size_t)n >= sizeof(line) || io_write(&s->backend, line, (size_t)n) != MP_OK) {
		log_msg(LOGL_ERR, s->id, "upstream write error while logging in");
		pop3_internal_error(s);
		session_quit(s, "upstream write error");
		return MP_ERR;
	}
	return MP_OK;
}

/*
 * The backend refused (or said something else than +OK). nginx logs the
 * line; with proxy_pass_error_message its -ERR reaches the client (the
 * CommuniGate use case), else the generic internal error. The relayed line
 * is rebuilt from the parsed text, so it carries nothing the parser did not
 * accept and always ends in CRLF.
 */
static void backend_failed(struct session *s, const struct pop3_reply *r, const char *line)
{
	size_t shown = r->len;
	while (shown > 0 && (line[shown - 1] == '\n' || line[shown - 1] == '\r')) {
		shown--;
	}
	log_msg(LOGL_ERR, s->id, "upstream sent invalid response: \"%.*s\" while logging in, upstream: %s",
		(int)MP_MIN(shown, POP3_LOG_REPLY_MAX), line, s->backend_text ? s->backend_text : "-");
	if (s->srv->proxy_pass_error_message && r->kind == POP3_REPLY_ERR) {
		if (r->text.n > 0) {
			session_sendf(s, "-ERR %.*s\r\n", (int)r->text.n, r->text.p);
		} else {
			session_sendf(s, "-ERR\r\n");
		}
	} else {
		pop3_internal_error(s);
	}
	session_quit(s, "upstream login failed");
}

/*
 * nginx's ngx_mail_proxy_pop3_handler(): greeting "+OK" -> "USER login" ->
 * "+OK" -> "PASS password" -> "+OK", and that last +OK line goes to the
 * client as the answer to its login before the relay starts. With
 * proxy_client_id, "XCLIENT ..." goes ahead of USER (its reply comes first).
 */
/* After the greeting (and STLS, when asked for): XCLIENT if the backend
 * offered it, then USER. */
static void pop3_backend_tls_ready(struct session *s)
{
	struct mp_str user, pass;
	enum mp_status xc = MP_AGAIN;
	backend_user_pass(s, &user, &pass);
	if (s->srv->proxy_client_id && s->p.pop3.backend_xclient) {
		xc = send_xclient(s);
		if (xc == MP_ERR) {
			return;
		}
	}
	if (backend_cmd(s, "USER", user) != MP_OK) {
		return;
	}
	*pop3_step(s) = xc == MP_OK ? BK_XCLIENT : BK_USER;
}

static void pop3_backend_input(struct session *s)
{
	while (!s->quit && !s->closed && s->phase == PH_BACKEND && buf_len(s->backend.in) > 0) {
		struct pop3_reply r;
		const char *line = buf_head(s->backend.in);
		enum mp_status st = pop3_parse_reply(line, buf_len(s->backend.in), s->srv->proxy_buffer, &r);
		if (st == MP_AGAIN) {
			return;
		}
		if (st != MP_OK) {
			log_msg(LOGL_ERR, s->id, "upstream sent %s while logging in, upstream: %s",
				st == MP_TOOLONG ? "too long response line" : "invalid response",
				s->backend_text ? s->backend_text : "-");
			pop3_internal_error(s);
			session_quit(s, "upstream sent invalid response");
			return;
		}
		if (*pop3_step(s) == BK_XCLIENT && r.kind != POP3_REPLY_CONT) {
			/* a refusal only costs the backend's view of the client */
			if (r.kind == POP3_REPLY_ERR) {
				log_msg(LOGL_WARN, s->id, "upstream refused XCLIENT with the client's address");
			}
			io_consume(&s->backend, r.len);
			*pop3_step(s) = BK_USER;
			continue;
		}
		if (r.kind != POP3_REPLY_OK) {
			backend_failed(s, &r, line);
			return;
		}
		struct mp_str user, pass;
		backend_user_pass(s, &user, &pass);
		switch (*pop3_step(s)) {
		case BK_GREETING:
			/* Dovecot's "+OK [XCLIENT]" is remembered across STLS */
			s->p.pop3.backend_xclient = pop3_greeting_has_xclient(&r);
			io_consume(&s->backend, r.len);
			if (s->srv->proxy_ssl.mode == 2) {
				/* RFC 2595 §4 toward the backend */
				if (io_write(&s->backend, "STLS\r\n", 6) != MP_OK) {
					pop3_internal_error(s);
					session_quit(s, "upstream write error");
					return;
				}
				*pop3_step(s) = BK_STLS;
				continue;
			}
			pop3_backend_tls_ready(s);
			continue;
		case BK_STLS:
			io_consume(&s->backend, r.len);
			session_backend_starttls(s);
			return;
		case BK_USER:
			io_consume(&s->backend, r.len);
			if (backend_cmd(s, "PASS", pass) != MP_OK) {
				return;
			}
			*pop3_step(s) = BK_PASS;
			continue;
		default:
			/* the backend's own +OK answers the client's login */
			if (session_send(s, line, r.len) != MP_OK) {
				return;
			}
			io_consume(&s->backend, r.len);
			session_start_relay(s, NULL, 0);
			return;
		}
	}
}

const struct proto_ops pop3_ops = {
	.name = "pop3",
	.greet = pop3_greet,
	.client_input = pop3_client_input,
	.auth_failed = pop3_auth_failed,
	.backend_connected = pop3_backend_connected,
	.backend_input = pop3_backend_input,
	.internal_error = pop3_internal_error,
	.backend_tls_ready = pop3_backend_tls_ready,
	.no_cert = "-ERR No required SSL certificate\r\n",
	.cert_error = "-ERR SSL certificate error\r\n",
};
