/*
 * IMAP: the client dialogue before login (RFC 3501 §6.1-6.2, RFC 2971 ID,
 * RFC 4959 SASL-IR, RFC 7888 literals), the login to the backend, and the
 * hand-over to the relay. Texts follow nginx's, because monitoring and auth
 * scripts written for nginx match on them.
 */
#include "../core/log.h"
#include "imap_parse.h"
#include "sasl_flow.h"
#include "session.h"

#include <stdio.h>
#include <string.h>

#define IMAP_CAPS_MAX 1024
#define IMAP_SCRATCH_MAX (64u * 1024u)

/* Backend login steps (s->p.imap.step while PH_BACKEND). */
enum {
	BK_GREETING = 0, /* waiting for "* OK" */
	BK_USER_CONT,    /* sent "tag LOGIN {n}", waiting for "+" */
	BK_PASS_CONT,    /* sent "user {n}", waiting for "+" */
	BK_RESULT,       /* waiting for the tagged reply */
	BK_STARTTLS,     /* proxy_ssl starttls: waiting for our STARTTLS's OK */
};

#define STARTTLS_TAG "mproxy-tls"


static char scratch[IMAP_SCRATCH_MAX];

static void append(char *dst, size_t cap, size_t *len, const char *word)
{
	int r = snprintf(dst + *len, cap - *len, "%s%s", *len ? " " : "", word);
	if (r > 0 && *len + (size_t)r < cap) {
		*len += (size_t)r;
	}
}

/*
 * The capability list: imap_capabilities, then what mproxy itself implements
 * before login (ID, SASL-IR, LITERAL-: a non-synchronising literal is taken up
 * to the client buffer; LITERAL- promises 4096 octets, RFC 7888 §5), then
 * AUTH= per imap_auth, then STARTTLS / STARTTLS LOGINDISABLED as nginx orders
 * them. Nothing is listed twice.
 */
static size_t capabilities(const struct session *s, char *out, size_t cap)
{
	const struct conf_server *srv = s->srv;
	size_t len = 0;
	out[0] = '\0';
	for (size_t i = 0; i < srv->imap_capabilities.n; i++) {
		append(out, cap, &len, srv->imap_capabilities.v[i]);
	}
	struct mp_str have = { out, len };
	if (!imap_capability_has(have, "ID")) {
		append(out, cap, &len, "ID");
	}
	have.n = len;
	if (!imap_capability_has(have, "SASL-IR")) {
		append(out, cap, &len, "SASL-IR");
	}
	have.n = len;
	if (!imap_capability_has(have, "LITERAL+") && !imap_capability_has(have, "LITERAL-")) {
		append(out, cap, &len, "LITERAL-");
	}
	bool only = session_login_needs_tls(s);
	if (!only) {
		static const struct {
			unsigned bit;
			const char *name;
		} methods[] = {
			{ AUTHM_PLAIN, "AUTH=PLAIN" },
			{ AUTHM_LOGIN, "AUTH=LOGIN" },
			{ AUTHM_CRAM_MD5, "AUTH=CRAM-MD5" },
			{ AUTHM_EXTERNAL, "AUTH=EXTERNAL" },
		};
		for (size_t i = 0; i < MP_ARRAY_LEN(methods); i++) {
			if (srv->imap_auth & methods[i].bit) {
				append(out, cap, &len, methods[i].name);
			}
		}
	}
	if (session_starttls_offered(s)) {
		append(out, cap, &len, only ? "STARTTLS LOGINDISABLED" : "STARTTLS");
	}
	return len;
}

static void imap_greet(struct session *s)
{
	char caps[IMAP_CAPS_MAX];
	s->client_buffer_cap = s->srv->imap_client_buffer;
	capabilities(s, caps, sizeof(caps));
	session_sendf(s, "* OK [CAPABILITY %s] IMAP4 ready\r\n", caps);
}

static void reply(struct session *s, struct mp_str tag, const char *text)
{
	if (tag.n == 0) {
		session_sendf(s, "* %s\r\n", text);
	} else {
		session_sendf(s, "%.*s %s\r\n", (int)tag.n, tag.p, text);
	}
}

/* A protocol error: BAD with the tag; close after max_errors. */
static void bad(struct session *s, struct mp_str tag, const char *text)
{
	reply(s, tag, text);
	if (session_error(s)) {
		session_quit(s, "too many invalid commands");
	}
}


static bool save_tag(struct session *s, struct mp_str tag)
{
	return str_copy(s->auth->tag, sizeof(s->auth->tag), tag) == MP_OK;
}

static struct mp_str saved_tag(const struct session *s)
{
	return (struct mp_str){ s->auth->tag, strlen(s->auth->tag) };
}

static bool is_string(const struct imap_arg *a)
{
	return a->type == IMAP_ATOM || a->type == IMAP_QUOTED || a->type == IMAP_LITERAL;
}

/* The outcome of a SASL start or step, in IMAP's words. */
static void sasl_outcome(struct session *s, enum sasl_result r, const char *chal, size_t chlen)
{
	struct mp_str tag = saved_tag(s);
	switch (r) {
	case SASL_CHALLENGE:
		session_sendf(s, "+ %.*s\r\n", (int)chlen, chal);
		break;
	case SASL_DONE:
		session_authenticate(s);
		break;
	case SASL_CANCELLED:
		bad(s, tag, "BAD AUTHENTICATE cancelled");
		break;
	case SASL_UNSAFE:
		log_msg(LOGL_INFO, s->id, "client sent credentials with CR, LF or NUL");
		bad(s, tag, "NO invalid credentials");
		break;
	case SASL_INVALID:
	case SASL_UNSUPPORTED:
		bad(s, tag, "BAD invalid command");
		break;
	}
}

static void cmd_login(struct session *s, const struct imap_cmd *c)
{
	if (c->nargs != 2 || !is_string(&c->args[0]) || !is_string(&c->args[1])) {
		bad(s, c->tag, "BAD invalid command");
		return;
	}
	if (!session_auth_ctx(s, true) || !save_tag(s, c->tag)) {
		return;
	}
	enum sasl_result r = sasl_set_creds(s, c->args[0].v, c->args[1].v, AMECH_PLAIN);
	sasl_outcome(s, r, NULL, 0);
}

static void cmd_authenticate(struct session *s, const struct imap_cmd *c)
{
	if (c->nargs < 1 || c->nargs > 2 || c->args[0].type != IMAP_ATOM ||
	    (c->nargs == 2 && !is_string(&c->args[1]))) {
		bad(s, c->tag, "BAD invalid command");
		return;
	}
	if (!session_auth_ctx(s, true) || !save_tag(s, c->tag)) {
		return;
	}
	char chal[SASL_CHALLENGE_MAX];
	size_t chlen = 0;
	const struct mp_str *ir = c->nargs == 2 ? &c->args[1].v : NULL;
	enum sasl_result r = sasl_start(s, c->args[0].v, ir, s->srv->imap_auth, chal, sizeof(chal), &chlen);
	sasl_outcome(s, r, chal, chlen);
}

static void dispatch(struct session *s, const struct imap_cmd *c)
{
	struct mp_str name = c->name;
	char caps[IMAP_CAPS_MAX];
	if (str_eq_nocase(name, "CAPABILITY") && c->nargs == 0) {
		capabilities(s, caps, sizeof(caps));
		session_sendf(s, "* CAPABILITY %s\r\n%.*s OK completed\r\n", caps, (int)c->tag.n, c->tag.p);
	} else if (str_eq_nocase(name, "NOOP") && c->nargs == 0) {
		reply(s, c->tag, "OK completed");
	} else if (str_eq_nocase(name, "LOGOUT") && c->nargs == 0) {
		session_sendf(s, "* BYE\r\n%.*s OK completed\r\n", (int)c->tag.n, c->tag.p);
		session_quit(s, "client logged out");
	} else if (str_eq_nocase(name, "ID")) {
		/* RFC 2971: answered here; nginx's BAD breaks OfflineIMAP and Outlook */
		session_sendf(s, "* ID NIL\r\n%.*s OK completed\r\n", (int)c->tag.n, c->tag.p);
	} else if (str_eq_nocase(name, "STARTTLS") && c->nargs == 0 && session_starttls_offered(s)) {
		/* RFC 3501 §6.2.1; nginx's reply text. Nothing said before TLS
		 * survives it: SASL state and the IMAP literal count go. */
		reply(s, c->tag, "OK completed");
		if (s->auth != NULL) {
			auth_ctx_put(s->auth);
			s->auth = NULL;
		}
		s->p.imap.conts = 0;
		session_starttls(s, c->len);
	} else if ((str_eq_nocase(name, "LOGIN") || str_eq_nocase(name, "AUTHENTICATE")) &&
		   session_login_needs_tls(s)) {
		/* starttls only: LOGINDISABLED is advertised; nginx answers BAD */
		bad(s, c->tag, "BAD invalid command");
	} else if (str_eq_nocase(name, "LOGIN")) {
		cmd_login(s, c);
	} else if (str_eq_nocase(name, "AUTHENTICATE")) {
		cmd_authenticate(s, c);
	} else {
		bad(s, c->tag, "BAD invalid command");
	}
}

/* One AUTHENTICATE continuation line. Returns false when nothing complete. */
static bool sasl_line(struct session *s)
{
	size_t linelen = 0, used = 0;
	enum mp_status st = imap_parse_line(buf_head(s->client.in), buf_len(s->client.in),
					    s->client_buffer_cap, &linelen, &used);
	if (st == MP_AGAIN) {
		return false;
	}
	if (st == MP_TOOLONG) {
		log_msg(LOGL_INFO, s->id, "client sent too long command");
		session_sendf(s, "* BAD client sent too long command\r\n");
		session_quit(s, "too long command");
		return false;
	}
	char chal[SASL_CHALLENGE_MAX];
	size_t chlen = 0;
	enum sasl_result r = SASL_INVALID;
	if (st == MP_OK) {
		r = sasl_step(s, (struct mp_str){ buf_head(s->client.in), linelen }, chal, sizeof(chal), &chlen);
	} else {
		s->auth->step = 0;
	}
	io_consume(&s->client, used);
	sasl_outcome(s, r, chal, chlen);
	return true;
}

static void imap_client_input(struct session *s)
{
	while (!s->quit && !s->closed && s->phase == PH_AUTH && buf_len(s->client.in) > 0) {
		if (sasl_active(s)) {
			if (!sasl_line(s)) {
				return;
			}
			continue;
		}
		struct imap_cmd c;
		struct imap_parse_ctx ctx = {
			.conts_sent = s->p.imap.conts,
			.max = s->client_buffer_cap,
			.scratch = scratch,
			.scratch_cap = sizeof(scratch),
		};
		enum mp_status st = imap_parse_command(&ctx, buf_head(s->client.in), buf_len(s->client.in), &c);
		if (st == MP_AGAIN) {
			if (c.need_continuation) {
				/* RFC 3501 §7.5: the client waits for this before sending a literal */
				session_sendf(s, "+ OK\r\n");
				s->p.imap.conts++;
				continue;
			}
			if (buf_len(s->client.in) >= s->client_buffer_cap) {
				st = MP_TOOLONG;
				c.recoverable = false;
				c.tag.n = 0;
			} else {
				return;
			}
		}
		s->p.imap.conts = 0;
		if (st == MP_INVALID || st == MP_TOOLONG) {
			if (st == MP_TOOLONG) {
				log_msg(LOGL_INFO, s->id, "client sent too long command");
			}
			if (!c.recoverable) {
				reply(s, c.tag, st == MP_TOOLONG ? "BAD client sent too long command"
								 : "BAD invalid command");
				session_quit(s, st == MP_TOOLONG ? "too long command" : "invalid command");
				return;
			}
			/* the tag points into the buffer: answer before consuming */
			bad(s, c.tag, st == MP_TOOLONG ? "BAD literal too big" : "BAD invalid command");
			io_consume(&s->client, c.len);
			continue;
		}
		if (++s->commands > s->srv->max_commands) {
			log_msg(LOGL_INFO, s->id, "client sent too many commands");
			session_sendf(s, "* BYE too many commands\r\n");
			session_quit(s, "too many commands");
			return;
		}
		dispatch(s, &c);
		/* the command's slices point into the buffer: consume only now */
		io_consume(&s->client, c.len);
	}
}

static void imap_auth_failed(struct session *s, const char *text, const char *code, bool keep)
{
	(void)code;
	(void)keep;
	struct mp_str tag = saved_tag(s);
	session_sendf(s, "%.*s NO %s\r\n", (int)tag.n, tag.p, text);
}

static void imap_internal_error(struct session *s)
{
	session_sendf(s, "* BAD internal server error\r\n");
}

static enum mp_status backend_send(struct session *s, const char *p, size_t n);

static void imap_backend_connected(struct session *s)
{
	s->p.imap.step = BK_GREETING;
	s->p.imap.id_pending = false;
}

/* The tag of our own ID command: not a tag a client's LOGIN can carry
 * through our parser unnoticed, since we compare it exactly. */
#define ID_TAG "mproxy-id"

/*
 * proxy_client_id: tell the backend who the client really is, as Dovecot's
 * own proxy does (RFC 2971 ID with x-originating-ip/-port and
 * x-connected-ip/-port; Dovecot honours them from login_trusted_networks).
 * Sent only when the greeting announces ID, and pipelined with LOGIN.
 */
static void send_client_id(struct session *s)
{
	struct mp_addr local;
	char cip[MP_ADDR_TEXT_MAX], lip[MP_ADDR_TEXT_MAX], line[512];
	struct mp_addr ca;
	session_client_addr(s, &ca);
	if (ca.u.sa.sa_family != AF_INET && ca.u.sa.sa_family != AF_INET6) {
		return;
	}
	memset(&local, 0, sizeof(local));
	local.len = sizeof(local.u);
	if (getsockname(s->client.w.fd, &local.u.sa, &local.len) != 0) {
		return;
	}
	net_ip_text(&ca, cip, sizeof(cip));
	net_ip_text(&local, lip, sizeof(lip));
	int n = snprintf(line, sizeof(line),
			 ID_TAG " ID (\"x-originating-ip\" \"%s\" \"x-originating-port\" \"%u\" "
			 "\"x-connected-ip\" \"%s\" \"x-connected-port\" \"%u\")\r\n",
			 cip, net_port(&ca), lip, net_port(&local));
	if (n > 0 && (size_t)n < sizeof(line) && backend_send(s, line, (size_t)n) == MP_OK) {
		s->p.imap.id_pending = true;
	}
}

static void backend_user_pass(const struct session *s, struct mp_str *user, struct mp_str *pass)
{
	const struct auth_ctx *a = s->auth;
	*user = a->has_user ? (struct mp_str){ a->user, a->user_len } : (struct mp_str){ a->login, a->login_len };
	*pass = a->has_bpass ? (struct mp_str){ a->bpass, a->bpass_len } : (struct mp_str){ a->pass, a->pass_len };
}

static enum mp_status backend_send(struct session *s, const char *p, size_t n)
{
	if (io_write(&s->backend, p, n) != MP_OK) {
		log_msg(LOGL_ERR, s->id, "upstream write error while logging in");
		imap_internal_error(s);
		session_quit(s, "upstream write error");
		return MP_ERR;
	}
	return MP_OK;
}

/*
 * Log in with the client's own tag, as nginx does, so the backend's tagged
 * reply can go to the client unchanged. Quoted strings when both credentials
 * allow it (one round trip); otherwise synchronising literals like nginx.
 */
static void send_login(struct session *s)
{
	struct mp_str user, pass, tag = saved_tag(s);
	char line[2 * (AUTH_LOGIN_MAX + AUTH_PASS_MAX) + 64];
	char qu[2 * AUTH_LOGIN_MAX + 3], qp[2 * AUTH_PASS_MAX + 3];
	backend_user_pass(s, &user, &pass);
	size_t qul = imap_quote(qu, sizeof(qu), user);
	size_t qpl = imap_quote(qp, sizeof(qp), pass);
	int n;
	if (qul > 0 && qpl > 0) {
		n = snprintf(line, sizeof(line), "%.*s LOGIN %.*s %.*s\r\n", (int)tag.n, tag.p, (int)qul, qu,
			     (int)qpl, qp);
		s->p.imap.step = BK_RESULT;
	} else {
		n = snprintf(line, sizeof(line), "%.*s LOGIN {%zu}\r\n", (int)tag.n, tag.p, user.n);
		s->p.imap.step = BK_USER_CONT;
	}
	memset(qp, 0, sizeof(qp));
	if (n > 0 && (size_t)n < sizeof(line)) {
		backend_send(s, line, (size_t)n);
	}
	memset(line, 0, sizeof(line));
}

/* After the greeting (and TLS, when asked for): who the client is, then LOGIN. */
static void imap_backend_tls_ready(struct session *s)
{
	if (s->srv->proxy_client_id && s->p.imap.backend_id) {
		send_client_id(s);
	}
	send_login(s);
}

static void backend_failed(struct session *s, const struct imap_resp *r, const char *line, size_t len)
{
	log_msg(LOGL_ERR, s->id, "upstream sent invalid response: \"%.*s\" while logging in",
		(int)MP_MIN(r->len, 200), line);
	if (s->srv->proxy_pass_error_message && r->kind == IMAP_RESP_TAGGED) {
		session_send(s, line, len);
	} else {
		imap_internal_error(s);
	}
	session_quit(s, "upstream login failed");
}

static void imap_backend_input(struct session *s)
{
	while (!s->quit && !s->closed && s->phase == PH_BACKEND && buf_len(s->backend.in) > 0) {
		struct imap_resp r;
		const char *line = buf_head(s->backend.in);
		enum mp_status st = imap_parse_response(line, buf_len(s->backend.in), s->srv->proxy_buffer, &r);
		if (st == MP_AGAIN) {
			return;
		}
		if (st != MP_OK) {
			log_msg(LOGL_ERR, s->id, "upstream sent invalid response while logging in");
			imap_internal_error(s);
			session_quit(s, "upstream sent invalid response");
			return;
		}
		if (r.literal) {
			/* an untagged line carrying a literal: not expected while logging in */
			log_msg(LOGL_ERR, s->id, "upstream sent a literal while logging in");
			imap_internal_error(s);
			session_quit(s, "upstream sent invalid response");
			return;
		}
		struct mp_str user, pass;
		backend_user_pass(s, &user, &pass);
		if (s->p.imap.id_pending && r.kind == IMAP_RESP_TAGGED && str_eq_nocase(r.tag, ID_TAG)) {
			/* our ID's answer: a refusal only costs the backend's view of the client */
			if (r.status != IMAP_ST_OK) {
				log_msg(LOGL_WARN, s->id, "upstream refused ID with the client's address");
			}
			s->p.imap.id_pending = false;
			io_consume(&s->backend, r.len);
			continue;
		}
		switch (s->p.imap.step) {
		case BK_GREETING:
			if (r.kind != IMAP_RESP_UNTAGGED || r.status != IMAP_ST_OK) {
				backend_failed(s, &r, line, r.len);
				return;
			}
			s->p.imap.backend_id = imap_capability_has(r.code, "ID");
			io_consume(&s->backend, r.len);
			if (s->srv->proxy_ssl.mode == 2) {
				/* RFC 3501 §6.2.1 toward the backend; a PREAUTH greeting
				 * never gets here (stripping, security.md row 2) */
				if (backend_send(s, STARTTLS_TAG " STARTTLS\r\n",
						 sizeof(STARTTLS_TAG " STARTTLS\r\n") - 1) == MP_OK) {
					s->p.imap.step = BK_STARTTLS;
				}
				continue;
			}
			imap_backend_tls_ready(s);
			continue;
		case BK_STARTTLS:
			if (r.kind == IMAP_RESP_UNTAGGED && r.status != IMAP_ST_BYE) {
				break;
			}
			if (r.kind != IMAP_RESP_TAGGED || r.status != IMAP_ST_OK ||
			    !str_eq_nocase(r.tag, STARTTLS_TAG)) {
				backend_failed(s, &r, line, r.len);
				return;
			}
			io_consume(&s->backend, r.len);
			session_backend_starttls(s);
			return;
		case BK_USER_CONT:
		case BK_PASS_CONT:
			if (r.kind == IMAP_RESP_UNTAGGED) {
				break; /* e.g. "* OK Waiting for authentication process" */
			}
			if (r.kind != IMAP_RESP_CONTINUATION) {
				backend_failed(s, &r, line, r.len);
				return;
			}
			io_consume(&s->backend, r.len);
			if (s->p.imap.step == BK_USER_CONT) {
				char hdr[32];
				int n = snprintf(hdr, sizeof(hdr), " {%zu}\r\n", pass.n);
				if (backend_send(s, user.p, user.n) != MP_OK ||
				    backend_send(s, hdr, (size_t)n) != MP_OK) {
					return;
				}
				s->p.imap.step = BK_PASS_CONT;
			} else {
				if (backend_send(s, pass.p, pass.n) != MP_OK || backend_send(s, "\r\n", 2) != MP_OK) {
					return;
				}
				s->p.imap.step = BK_RESULT;
			}
			continue;
		case BK_RESULT:
			if (r.kind == IMAP_RESP_UNTAGGED && r.status != IMAP_ST_BYE) {
				break; /* e.g. "* CAPABILITY ..." before the tagged OK (Gmail, SmarterMail) */
			}
			if (r.kind == IMAP_RESP_TAGGED && r.status == IMAP_ST_OK) {
				/* the tagged OK, with the backend's capabilities if any, goes to the client */
				if (session_send(s, line, r.len) != MP_OK) {
					return;
				}
				io_consume(&s->backend, r.len);
				session_start_relay(s, NULL, 0);
				return;
			}
			backend_failed(s, &r, line, r.len);
			return;
		}
		io_consume(&s->backend, r.len);
	}
}

const struct proto_ops imap_ops = {
	.name = "imap",
	.greet = imap_greet,
	.client_input = imap_client_input,
	.auth_failed = imap_auth_failed,
	.backend_connected = imap_backend_connected,
	.backend_input = imap_backend_input,
	.internal_error = imap_internal_error,
	.backend_tls_ready = imap_backend_tls_ready,
	.no_cert = "* BYE No required SSL certificate\r\n",
	.cert_error = "* BYE SSL certificate error\r\n",
};
