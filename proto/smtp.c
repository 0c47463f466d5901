/*
 * SMTP: the client dialogue before authentication (RFC 5321, RFC 4954 AUTH,
 * RFC 2920 pipelining, RFC 3207 STARTTLS), nginx's `smtp_auth none` envelope
 * capture, the login to the backend (EHLO, Postfix's XCLIENT, AUTH PLAIN,
 * MAIL/RCPT replay) and the hand-over to the relay.
 *
 * Texts, the EHLO line order and the backend dialogue follow nginx's
 * ngx_mail_smtp_module.c, ngx_mail_smtp_handler.c and ngx_mail_proxy_module.c,
 * because monitoring scripts, auth servers and Postfix setups written for
 * nginx match on them. Where mproxy differs, a comment says why.
 *
 * Pipelining: commands are framed one line at a time and each handled line
 * is consumed only after its handler ran. The command that starts
 * authentication (AUTH's last step, or RCPT with smtp_auth none) ends the
 * loop, so whatever the client sent behind it stays in s->client.in, and
 * session_start_relay() hands exactly those bytes to the backend, in order.
 */
#include "../core/log.h"
#include "sasl.h"
#include "sasl_flow.h"
#include "session.h"
#include "smtp_parse.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The EHLO reply: server_name, smtp_capabilities, AUTH, STARTTLS. */
#define SMTP_EHLO_MAX 8192
#define SMTP_EHLO_LINES_MAX 256
/* One line to the backend: "XCLIENT ADDR=.. LOGIN=<xtext, 3 bytes per
 * byte> NAME=..", or "AUTH PLAIN <base64 of \0user\0pass>". */
#define SMTP_BACKEND_LINE_MAX 4096
/* How much of a peer's text goes into a log line. */
#define SMTP_LOG_TEXT_MAX 200

/* Backend login steps (*smtp_step(s) while PH_BACKEND); nginx's
 * ngx_smtp_* proxy states. */
enum {
	BK_GREETING = 0, /* waiting for "220" */
	BK_HELO,         /* sent "EHLO|HELO server_name", waiting for 250 */
	BK_XCLIENT,      /* sent XCLIENT, waiting for 220 or 250 */
	BK_XCLIENT_HELO, /* sent the client's EHLO|HELO again, waiting for 250 */
	BK_AUTH,         /* sent AUTH PLAIN, waiting for 235 */
	BK_FROM,         /* smtp_auth none: sent MAIL FROM, waiting for 250 */
	BK_TO,           /* smtp_auth none: sent RCPT TO, any reply goes to the client */
	BK_STARTTLS,     /* proxy_ssl starttls: sent STARTTLS, waiting for 220 */
};

/*
 * Per-session SMTP state: the backend step and whether the client said EHLO
 * (nginx's s->esmtp). session.h has no smtp member in its union yet, so the
 * two bytes of struct imap_state carry ours (as pop3.c does); a session
 * speaks one protocol, so they are never shared. HELO, MAIL FROM and RCPT TO
 * live in s->auth (smtp_helo/smtp_from/smtp_to), which is taken at the first
 * command that needs it.
 */
static uint8_t *smtp_step(struct session *s)
{
	return &s->p.smtp.step;
}

static uint8_t *smtp_esmtp(struct session *s)
{
	return &s->p.smtp.esmtp;
}

/* Bytes of the line being handled, for STARTTLS: what follows it in the
 * buffer is plaintext the client pipelined and must be dropped. The loop is
 * single-threaded and command() does not nest, so one variable is enough. */
static size_t current_line_used;

/* The client's host name for XCLIENT NAME= (and the auth server's
 * Client-Host). Without a resolver nginx uses "[UNAVAILABLE]"; the
 * resolver issue fills in the forward-confirmed name here. */
static const char *client_host(const struct session *s)
{
	return s->client_host != NULL ? s->client_host : "[UNAVAILABLE]";
}

/* A peer's text made safe for a log line: printable ASCII only. */
static void log_text(char *dst, size_t cap, const char *p, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 1 < cap; i++) {
		unsigned char c = (unsigned char)p[i];
		dst[o++] = (c >= 0x20 && c < 0x7f && c != '"') ? (char)c : '?';
	}
	dst[o] = '\0';
}

static const char *bt(const struct session *s)
{
	return s->backend_text != NULL ? s->backend_text : "-";
}

/* ---- replies to the client ---- */

static void reply(struct session *s, const char *line)
{
	session_sendf(s, "%s\r\n", line);
}

/* A command we could not act on: counts against max_errors (nginx closes
 * after the reply that reaches the limit). */
static void proto_error(struct session *s, const char *line)
{
	reply(s, line);
	if (session_error(s)) {
		session_quit(s, "too many invalid commands");
	}
}

static void invalid(struct session *s)
{
	proto_error(s, "500 5.5.1 Invalid command");
}

static void smtp_internal_error(struct session *s)
{
	reply(s, "451 4.3.2 Internal server error");
}

static void smtp_greet(struct session *s)
{
	s->client_buffer_cap = s->srv->smtp_client_buffer;
	*smtp_esmtp(s) = 0;
	session_sendf(s, "220 %s ESMTP ready\r\n", s->srv->server_name);
}

/* nginx's ngx_mail_smtp_invalid_pipelining(): the session closes after it. */
static void smtp_early_talker(struct session *s)
{
	reply(s, "503 5.5.0 Improper use of SMTP command pipelining");
}

/*
 * The EHLO reply, as nginx's ngx_mail_smtp_merge_srv_conf() builds it: the
 * server name, each smtp_capabilities entry, the AUTH line (PLAIN LOGIN
 * CRAM-MD5 EXTERNAL per smtp_auth; `none` is not a SASL mechanism), and
 * with starttls a STARTTLS line appended last (nginx's starttls_capability:
 * the old last line becomes "250-"). With `starttls only` before TLS, no
 * AUTH line and STARTTLS last (starttls_only_capability). Every line but the
 * last is "250-", the last "250 ".
 *
 * Never advertised, whatever smtp_capabilities says: CHUNKING and BINARYMIME
 * (RFC 3030). Before authentication BDAT chunks would be read as commands,
 * and clients that saw CHUNKING from nginx broke (Mailu#1766).
 */
static void send_ehlo(struct session *s)
{
	static char out[SMTP_EHLO_MAX];
	static const struct {
		unsigned bit;
		const char *name;
	} mechs[] = {
		{ AUTHM_PLAIN, "PLAIN" },
		{ AUTHM_LOGIN, "LOGIN" },
		{ AUTHM_CRAM_MD5, "CRAM-MD5" },
		{ AUTHM_EXTERNAL, "EXTERNAL" },
	};
	const struct conf_server *srv = s->srv;
	const char *lines[SMTP_EHLO_LINES_MAX];
	size_t n = 0;
	char auth[64] = "AUTH";
	size_t alen = 4;

	lines[n++] = srv->server_name;
	for (size_t i = 0; i < srv->smtp_capabilities.n && n + 3 < MP_ARRAY_LEN(lines); i++) {
		const char *cap = srv->smtp_capabilities.v[i];
		size_t w = strcspn(cap, " ");
		struct mp_str kw = { cap, w };
		if (str_eq_nocase(kw, "CHUNKING") || str_eq_nocase(kw, "BINARYMIME")) {
			continue;
		}
		lines[n++] = cap;
	}
	for (size_t i = 0; i < MP_ARRAY_LEN(mechs); i++) {
		if (srv->smtp_auth & mechs[i].bit) {
			alen += (size_t)snprintf(auth + alen, sizeof(auth) - alen, " %s", mechs[i].name);
		}
	}
	if (alen > 4 && !session_login_needs_tls(s)) {
		lines[n++] = auth;
	}
	if (session_starttls_offered(s) && !session_tls_active(s)) {
		lines[n++] = "STARTTLS";
	}

	size_t len = 0;
	for (size_t i = 0; i < n; i++) {
		int r = snprintf(out + len, sizeof(out) - len, "250%c%s\r\n", i + 1 < n ? '-' : ' ', lines[i]);
		if (r < 0 || (size_t)r >= sizeof(out) - len) {
			log_msg(LOGL_ERR, s->id, "EHLO reply longer than %u bytes: check smtp_capabilities",
				(unsigned)SMTP_EHLO_MAX);
			smtp_internal_error(s);
			session_quit(s, "EHLO reply too long");
			return;
		}
		len += (size_t)r;
	}
	session_send(s, out, len);
}

/* ---- the envelope, kept in s->auth ---- */


static void clear_str(char **p)
{
	free(*p);
	*p = NULL;
}

/* Replace *dst by a copy of v; false when memory is out (reported). */
static bool set_str(struct session *s, char **dst, struct mp_str v)
{
	char *copy = malloc(v.n + 1);
	if (copy == NULL) {
		smtp_internal_error(s);
		session_quit(s, "out of memory");
		return false;
	}
	memcpy(copy, v.p, v.n);
	copy[v.n] = '\0';
	free(*dst);
	*dst = copy;
	return true;
}

/*
 * HELO/EHLO arguments and MAIL/RCPT lines go verbatim into the auth
 * request (Auth-SMTP-*) and into backend command lines. The parser already
 * refused CR, LF and NUL; other control bytes and DEL are refused here too,
 * so nothing a header or a command line cannot carry crosses over. 8-bit
 * bytes pass (RFC 6531 addresses).
 */
static bool text_ok(struct mp_str v)
{
	for (size_t i = 0; i < v.n; i++) {
		unsigned char c = (unsigned char)v.p[i];
		if (c < 0x20 || c == 0x7f) {
			return false;
		}
	}
	return true;
}

static struct mp_str trim_trailing_sp(struct mp_str v)
{
	while (v.n > 0 && v.p[v.n - 1] == ' ') {
		v.n--;
	}
	return v;
}

static bool in_transaction(const struct session *s)
{
	return s->auth != NULL && s->auth->smtp_from != NULL;
}

/* ---- commands ---- */

static void cmd_helo(struct session *s, const struct smtp_cmd *c)
{
	if (!text_ok(c->args[0])) {
		proto_error(s, "501 5.5.4 Invalid argument");
		return;
	}
	if (!session_auth_ctx(s, false) || !set_str(s, &s->auth->smtp_helo, c->args[0])) {
		return;
	}
	/* RFC 5321 §4.1.4: HELO/EHLO clears the mail transaction (nginx too) */
	clear_str(&s->auth->smtp_from);
	clear_str(&s->auth->smtp_to);
	if (c->id == SMTP_HELO) {
		*smtp_esmtp(s) = 0;
		session_sendf(s, "250 %s\r\n", s->srv->server_name);
		return;
	}
	*smtp_esmtp(s) = 1;
	send_ehlo(s);
}

/* The outcome of an AUTH command or of one of its SASL steps. */
static void sasl_outcome(struct session *s, enum sasl_result r, const char *chal, size_t chlen)
{
	switch (r) {
	case SASL_CHALLENGE:
		/* RFC 4954 §4: "334 " and the base64 challenge; "334 " alone for PLAIN */
		session_sendf(s, "334 %.*s\r\n", (int)chlen, chal);
		break;
	case SASL_DONE:
		session_authenticate(s);
		break;
	case SASL_CANCELLED:
		/* RFC 4954 §4: a "*" line MUST be answered with 501 (nginx has
		 * no special case: its base64 decoder fails, "500 Invalid command") */
		reply(s, "501 5.7.0 Authentication cancelled");
		break;
	case SASL_UNSAFE:
		log_msg(LOGL_INFO, s->id, "client sent credentials with CR, LF or NUL");
		proto_error(s, "535 5.7.8 Authentication credentials invalid");
		break;
	case SASL_INVALID:
	case SASL_UNSUPPORTED:
		/* nginx: bad base64, an unknown or disabled mechanism */
		invalid(s);
		break;
	}
}

static void cmd_auth(struct session *s, const struct smtp_cmd *c)
{
	if (session_login_needs_tls(s)) {
		invalid(s); /* nginx: ngx_mail_starttls_only() -> invalid command */
		return;
	}
	if (in_transaction(s)) {
		/* RFC 4954 §4: not permitted during a mail transaction (nginx
		 * accepts it and the MTA later sees RCPT without MAIL) */
		reply(s, "503 5.5.1 Bad sequence of commands");
		return;
	}
	if (!session_auth_ctx(s, false)) {
		return;
	}
	/* every attempt starts from empty credentials (security.md #8) */
	auth_ctx_reset_creds(s->auth);
	char chal[SASL_CHALLENGE_MAX];
	size_t chlen = 0;
	const struct mp_str *ir = c->nargs == 2 ? &c->args[1] : NULL;
	enum sasl_result r = sasl_start(s, c->args[0], ir, s->srv->smtp_auth, chal, sizeof(chal), &chlen);
	sasl_outcome(s, r, chal, chlen);
}

static void cmd_mail(struct session *s, const struct smtp_cmd *c)
{
	if (session_login_needs_tls(s)) {
		/* closes the gap of nginx PR #705: no envelope before TLS */
		reply(s, "530 5.7.0 Must issue a STARTTLS command first");
		return;
	}
	if (!(s->srv->smtp_auth & AUTHM_NONE)) {
		char text[SMTP_LOG_TEXT_MAX + 1];
		log_text(text, sizeof(text), c->line.p, c->line.n);
		log_msg(LOGL_INFO, s->id, "client was rejected: \"%s\"", text);
		reply(s, "530 5.7.1 Authentication required");
		return;
	}
	if (s->auth == NULL || s->auth->smtp_helo == NULL || s->auth->smtp_from != NULL) {
		/* RFC 5321 §4.1.4: a transaction needs EHLO/HELO first, and
		 * only one MAIL at a time. (nginx takes MAIL without HELO and
		 * sends an empty Auth-SMTP-Helo; scripts expect one.) */
		reply(s, "503 5.5.1 Bad sequence of commands");
		return;
	}
	struct mp_str line = trim_trailing_sp(c->line);
	if (!text_ok(line)) {
		proto_error(s, "501 5.5.4 Invalid argument");
		return;
	}
	/* the whole line, as nginx keeps it for Auth-SMTP-From and the backend */
	if (set_str(s, &s->auth->smtp_from, line)) {
		reply(s, "250 2.0.0 OK");
	}
}

static void cmd_rcpt(struct session *s, const struct smtp_cmd *c)
{
	if (session_login_needs_tls(s)) {
		reply(s, "530 5.7.0 Must issue a STARTTLS command first");
		return;
	}
	if (!in_transaction(s)) {
		reply(s, "503 5.5.1 Bad sequence of commands");
		return;
	}
	struct mp_str line = trim_trailing_sp(c->line);
	if (!text_ok(line)) {
		proto_error(s, "501 5.5.4 Invalid argument");
		return;
	}
	if (!set_str(s, &s->auth->smtp_to, line)) {
		return;
	}
	/*
	 * smtp_auth none: the first RCPT asks the authenticator, which sees
	 * HELO, MAIL and this RCPT. Later RCPTs (pipelined behind this one or
	 * sent after the relay started) go to the MTA untouched, as in nginx.
	 */
	auth_ctx_reset_creds(s->auth);
	s->auth->mech = AMECH_NONE;
	session_authenticate(s);
}

static void cmd_rset(struct session *s, const struct smtp_cmd *c)
{
	(void)c;
	if (s->auth != NULL) {
		clear_str(&s->auth->smtp_from);
		clear_str(&s->auth->smtp_to);
	}
	reply(s, "250 2.0.0 OK");
}

static void cmd_noop(struct session *s, const struct smtp_cmd *c)
{
	(void)c;
	reply(s, "250 2.0.0 OK");
}

static void cmd_quit(struct session *s, const struct smtp_cmd *c)
{
	(void)c;
	reply(s, "221 2.0.0 Bye");
	session_quit(s, "client quit");
}

/*
 * STARTTLS (RFC 3207): refused whenever starttls is off, as nginx does. On
 * acceptance nginx's "220 2.0.0 Start TLS"; HELO, MAIL and RCPT are
 * forgotten (the client must say EHLO again, RFC 3207 §4.2) and every byte
 * pipelined behind the command is dropped by session_starttls()
 * (CVE-2011-0411, nginx CVE-2014-3556).
 */
static void cmd_starttls(struct session *s, const struct smtp_cmd *c)
{
	(void)c;
	if (!session_starttls_offered(s)) {
		invalid(s);
		return;
	}
	reply(s, "220 2.0.0 Start TLS");
	if (s->auth != NULL) {
		auth_ctx_put(s->auth);
		s->auth = NULL;
	}
	*smtp_esmtp(s) = 0;
	session_starttls(s, current_line_used);
}

/* DATA/BDAT before the relay: there is no transaction here to take a
 * message, and message bytes must never be read as commands. nginx does not
 * know the verbs ("500 Invalid command"); RFC 5321 §4.1.4 says 503. */
static void cmd_data(struct session *s, const struct smtp_cmd *c)
{
	(void)c;
	proto_error(s, "503 5.5.1 Bad sequence of commands");
}

/* VRFY, EXPN, HELP and unknown verbs: nginx's "500 5.5.1 Invalid command". */
static void cmd_invalid(struct session *s, const struct smtp_cmd *c)
{
	(void)c;
	invalid(s);
}

static const struct {
	enum smtp_cmd_id id;
	void (*fn)(struct session *s, const struct smtp_cmd *c);
} commands[] = {
	{ SMTP_HELO, cmd_helo },
	{ SMTP_EHLO, cmd_helo },
	{ SMTP_AUTH, cmd_auth },
	{ SMTP_MAIL, cmd_mail },
	{ SMTP_RCPT, cmd_rcpt },
	{ SMTP_RSET, cmd_rset },
	{ SMTP_NOOP, cmd_noop },
	{ SMTP_QUIT, cmd_quit },
	{ SMTP_STARTTLS, cmd_starttls },
	{ SMTP_DATA, cmd_data },
	{ SMTP_BDAT, cmd_data },
	{ SMTP_VRFY, cmd_invalid },
	{ SMTP_EXPN, cmd_invalid },
	{ SMTP_HELP, cmd_invalid },
	{ SMTP_UNKNOWN, cmd_invalid },
};

/*
 * A line the parser refused: a known verb with arguments of the wrong
 * shape is "501 5.5.4 Invalid argument" (nginx's text for HELO, AUTH, MAIL
 * and RCPT without arguments); anything else (control bytes, an unknown
 * verb that could not even be split) is "500 5.5.1 Invalid command".
 */
static void unparsable(struct session *s, struct mp_str line)
{
	struct smtp_cmd verb;
	size_t w = 0;
	while (w < line.n && line.p[w] != ' ') {
		w++;
	}
	/* the verb alone parses as a known command, or fails for want of
	 * arguments; an unknown one comes back as SMTP_UNKNOWN */
	bool known = w > 0 && !str_has_ctl_crlfnul(line) &&
		     (smtp_parse_cmd(line.p, w, &verb) != MP_OK || verb.id != SMTP_UNKNOWN);
	if (known) {
		proto_error(s, "501 5.5.4 Invalid argument");
	} else {
		invalid(s);
	}
}

static void command(struct session *s, struct mp_str line)
{
	if (++s->commands > s->srv->max_commands) {
		/* freenginx/Angie max_commands */
		log_msg(LOGL_INFO, s->id, "client sent too many commands");
		reply(s, "421 4.7.0 Too many commands, closing connection");
		session_quit(s, "too many commands");
		return;
	}
	struct smtp_cmd c;
	if (smtp_parse_cmd(line.p, line.n, &c) != MP_OK) {
		unparsable(s, line);
		return;
	}
	for (size_t i = 0; i < MP_ARRAY_LEN(commands); i++) {
		if (commands[i].id == c.id) {
			commands[i].fn(s, &c);
			return;
		}
	}
	invalid(s);
}

static void smtp_client_input(struct session *s)
{
	while (!s->quit && !s->closed && s->phase == PH_AUTH && buf_len(s->client.in) > 0) {
		struct mp_str line;
		size_t used = 0;
		/* nginx: a too long line is "500 5.5.1 Invalid command", then close */
		if (!session_client_line(s, "500 5.5.1 Invalid command\r\n", &line, &used)) {
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
		current_line_used = used;
		command(s, line);
		/* the command's slices point into the buffer: consume only now */
		io_consume(&s->client, used);
	}
}

/*
 * nginx: "<Auth-Error-Code or 535 5.7.0> <Auth-Status text>". A code that is
 * not a 4xx/5xx reply code is replaced by the default, so an auth server
 * cannot make a refusal look like success to the client.
 */
static void smtp_auth_failed(struct session *s, const char *text, const char *code, bool keep)
{
	(void)keep;
	bool code_ok = code != NULL && (code[0] == '4' || code[0] == '5') && code[1] >= '0' &&
		       code[1] <= '9' && code[2] >= '0' && code[2] <= '9' &&
		       (code[3] == ' ' || code[3] == '\0');
	session_sendf(s, "%s %s\r\n", code_ok ? code : "535 5.7.0", text);
}

/* ---- the backend ---- */

static void smtp_backend_connected(struct session *s)
{
	*smtp_step(s) = BK_GREETING;
}

static enum mp_status backend_send(struct session *s, const char *p, size_t n)
{
	if (io_write(&s->backend, p, n) != MP_OK) {
		log_msg(LOGL_ERR, s->id, "upstream write error while logging in, upstream: %s", bt(s));
		smtp_internal_error(s);
		session_quit(s, "upstream write error");
		return MP_ERR;
	}
	return MP_OK;
}

static enum mp_status backend_sendf(struct session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static enum mp_status backend_sendf(struct session *s, const char *fmt, ...)
{
	char line[SMTP_BACKEND_LINE_MAX];
	va_list ap;
	va_start(ap, fmt);
	int r = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= sizeof(line)) {
		log_msg(LOGL_ERR, s->id, "command to upstream too long, upstream: %s", bt(s));
		smtp_internal_error(s);
		session_quit(s, "upstream command too long");
		return MP_ERR;
	}
	return backend_send(s, line, (size_t)r);
}

/*
 * XCLIENT (Postfix XCLIENT_README) exactly as nginx writes it:
 * "XCLIENT ADDR=<addr> LOGIN=<login> NAME=<host>", IPv6 addresses with the
 * "IPV6:" prefix, LOGIN only when there is one and proxy_smtp_auth is off
 * (the backend then learns it from AUTH). Every value is xtext (RFC 3461
 * §4), as the XCLIENT protocol defines them (nginx 1.29.2 for LOGIN; for an
 * address or a validated host name the encoding changes nothing). No
 * PORT/HELO/PROTO attributes, as nginx.
 */
static enum mp_status send_xclient(struct session *s)
{
	const struct auth_ctx *a = s->auth;
	char ip[MP_ADDR_TEXT_MAX + 8], addr[3 * sizeof(ip)], name[3 * 256], login[3 * AUTH_LOGIN_MAX + 1];
	size_t iplen;
	struct mp_addr ca;
	session_client_addr(s, &ca);
	switch (ca.u.sa.sa_family) {
	case AF_INET6:
		memcpy(ip, "IPV6:", 5);
		iplen = 5 + net_ip_text(&ca, ip + 5, sizeof(ip) - 5);
		break;
	case AF_INET:
		iplen = net_ip_text(&ca, ip, sizeof(ip));
		break;
	default:
		/* a unix-socket client has no address Postfix could take */
		iplen = (size_t)snprintf(ip, sizeof(ip), "[UNAVAILABLE]");
		break;
	}
	const char *host = client_host(s);
	size_t addrlen = smtp_xtext_encode(addr, sizeof(addr), (struct mp_str){ ip, iplen });
	size_t namelen = smtp_xtext_encode(name, sizeof(name), (struct mp_str){ host, strlen(host) });
	size_t loginlen = 0;
	/* a->user: Auth-User, else the client's login; with smtp_auth none
	 * only an Auth-User gives one (nginx's s->login) */
	if (!s->srv->proxy_smtp_auth && a->user_len > 0) {
		loginlen = smtp_xtext_encode(login, sizeof(login), (struct mp_str){ a->user, a->user_len });
		if (loginlen == 0) {
			log_msg(LOGL_ERR, s->id, "login too long for XCLIENT");
			smtp_internal_error(s);
			session_quit(s, "login too long for XCLIENT");
			return MP_ERR;
		}
	}
	if (addrlen == 0 || namelen == 0) {
		smtp_internal_error(s);
		session_quit(s, "XCLIENT values do not fit");
		return MP_ERR;
	}
	if (loginlen > 0) {
		return backend_sendf(s, "XCLIENT ADDR=%.*s LOGIN=%.*s NAME=%.*s\r\n", (int)addrlen, addr,
				     (int)loginlen, login, (int)namelen, name);
	}
	return backend_sendf(s, "XCLIENT ADDR=%.*s NAME=%.*s\r\n", (int)addrlen, addr, (int)namelen, name);
}

/*
 * proxy_smtp_auth: "AUTH PLAIN <base64(\0user\0password)>" with the
 * authenticator's user (Auth-User, else the client's login) and password
 * (Auth-Pass, else the client's plaintext one), as nginx. Both were checked
 * for CR, LF and NUL on their way in (sasl_set_creds, auth_http_value_safe);
 * checked again here because a NUL would shift the PLAIN fields.
 */
static enum mp_status send_auth_plain(struct session *s)
{
	const struct auth_ctx *a = s->auth;
	struct mp_str user = { a->user, a->user_len }, pass = { a->bpass, a->bpass_len };
	if (!a->has_bpass) {
		log_msg(LOGL_ERR, s->id, "no password available for proxy_smtp_auth, upstream: %s", bt(s));
		smtp_internal_error(s);
		session_quit(s, "no password for upstream AUTH");
		return MP_ERR;
	}
	if (user.n == 0 || !sasl_cred_safe(user) || !sasl_cred_safe(pass)) {
		log_msg(LOGL_ERR, s->id, "refusing to send an empty user or CR, LF or NUL in AUTH PLAIN to upstream %s",
			bt(s));
		smtp_internal_error(s);
		session_quit(s, "unsafe credentials for upstream");
		return MP_ERR;
	}
	uint8_t msg[AUTH_LOGIN_MAX + AUTH_PASS_MAX + 2];
	char line[sizeof("AUTH PLAIN \r\n") + BASE64_ENCODED_LEN(sizeof(msg))];
	size_t mlen = 0, blen = 0;
	msg[mlen++] = '\0';
	memcpy(msg + mlen, user.p, user.n);
	mlen += user.n;
	msg[mlen++] = '\0';
	memcpy(msg + mlen, pass.p, pass.n);
	mlen += pass.n;
	memcpy(line, "AUTH PLAIN ", 11);
	enum mp_status st = base64_encode(msg, mlen, line + 11, sizeof(line) - 13, &blen);
	if (st == MP_OK) {
		memcpy(line + 11 + blen, "\r\n", 2);
		st = backend_send(s, line, 11 + blen + 2);
	} else {
		smtp_internal_error(s);
		session_quit(s, "upstream AUTH does not fit");
	}
	memset(msg, 0, sizeof(msg));
	memset(line, 0, sizeof(line));
	return st;
}

/* The step after EHLO (and XCLIENT): envelope, AUTH, or done. */
static void after_helo(struct session *s)
{
	const struct auth_ctx *a = s->auth;
	if (a->mech == AMECH_NONE) {
		if (a->smtp_from == NULL || a->smtp_to == NULL) {
			/* cmd_rcpt() starts `none` only with both: cannot happen */
			smtp_internal_error(s);
			session_quit(s, "no envelope for smtp_auth none");
			return;
		}
		if (backend_sendf(s, "%s\r\n", a->smtp_from) == MP_OK) {
			*smtp_step(s) = BK_FROM;
		}
		return;
	}
	if (s->srv->proxy_smtp_auth) {
		if (send_auth_plain(s) == MP_OK) {
			*smtp_step(s) = BK_AUTH;
		}
		return;
	}
	/* the backend trusts us (XCLIENT or mynetworks): the login is done */
	session_start_relay(s, "235 2.0.0 OK\r\n", 14);
}

/*
 * The backend said something else than the step expects. nginx logs it
 * and, with proxy_pass_error_message, relays it; otherwise the client gets
 * the generic temporary error. The most common causes get a hint in the log.
 */
static void backend_failed(struct session *s, const struct smtp_reply *r, const char *raw)
{
	static const char *const actions[] = {
		[BK_GREETING] = "reading the upstream greeting",
		[BK_HELO] = "sending HELO/EHLO to upstream",
		[BK_XCLIENT] = "sending XCLIENT to upstream",
		[BK_XCLIENT_HELO] = "sending client HELO/EHLO to upstream",
		[BK_AUTH] = "sending AUTH to upstream",
		[BK_FROM] = "sending MAIL FROM to upstream",
		[BK_TO] = "sending RCPT TO to upstream",
		[BK_STARTTLS] = "sending STARTTLS to upstream",
	};
	uint8_t step = *smtp_step(s);
	const char *action = step < MP_ARRAY_LEN(actions) ? actions[step] : "logging in";
	const char *hint = "";
	if (step == BK_XCLIENT) {
		hint = " (is mproxy's address in the backend's smtpd_authorized_xclient_hosts?)";
	} else if (step == BK_AUTH) {
		hint = " (the backend refused the authenticator's user or password)";
	}
	char text[SMTP_LOG_TEXT_MAX + 1];
	log_text(text, sizeof(text), r->first_text.p, r->first_text.n);
	log_msg(LOGL_ERR, s->id, "upstream sent invalid response: \"%u %s\" while %s, upstream: %s%s", r->code,
		text, action, bt(s), hint);
	if (s->srv->proxy_pass_error_message && r->code >= 400) {
		/* a complete reply the parser accepted: no NUL, no bare CR */
		session_send(s, raw, r->len);
	} else {
		smtp_internal_error(s);
	}
	session_quit(s, "upstream login failed");
}

/*
 * nginx's ngx_mail_proxy_smtp_handler(): greeting 220 -> "EHLO server_name"
 * (HELO if the client said HELO and xclient is off) -> 250 -> [XCLIENT ->
 * 220|250 -> the client's EHLO/HELO again -> 250] -> [smtp_auth none:
 * MAIL FROM -> 250 -> RCPT TO -> any reply, which goes to the client |
 * proxy_smtp_auth: AUTH PLAIN -> 235] -> relay, the client getting
 * "235 2.0.0 OK" unless it authenticated with `none`.
 */
static bool session_tls_active_backend(const struct session *s)
{
	return s->backend.tls_vt != NULL;
}

/* TLS to the backend is up after STARTTLS: the session starts afresh
 * (RFC 3207 §4.2), so EHLO again, then on as after the first EHLO. */
static void smtp_backend_tls_ready(struct session *s)
{
	if (backend_sendf(s, "EHLO %s\r\n", s->srv->server_name) == MP_OK) {
		*smtp_step(s) = BK_HELO;
	}
}

static void smtp_backend_input(struct session *s)
{
	while (!s->quit && !s->closed && s->phase == PH_BACKEND && buf_len(s->backend.in) > 0) {
		struct smtp_reply r;
		const char *raw = buf_head(s->backend.in);
		enum mp_status st = smtp_parse_reply(raw, buf_len(s->backend.in), s->srv->proxy_buffer, &r);
		if (st == MP_AGAIN) {
			return;
		}
		if (st != MP_OK) {
			log_msg(LOGL_ERR, s->id, "upstream sent %s while logging in, upstream: %s",
				st == MP_TOOLONG ? "too long response" : "invalid response", bt(s));
			smtp_internal_error(s);
			session_quit(s, "upstream sent invalid response");
			return;
		}
		struct auth_ctx *a = s->auth;
		switch (*smtp_step(s)) {
		case BK_GREETING:
			if (r.code != 220) {
				backend_failed(s, &r, raw);
				return;
			}
			io_consume(&s->backend, r.len);
			if (backend_sendf(s, "%s %s\r\n", *smtp_esmtp(s) || s->srv->xclient ? "EHLO" : "HELO",
					  s->srv->server_name) != MP_OK) {
				return;
			}
			*smtp_step(s) = BK_HELO;
			continue;
		case BK_HELO:
			if (r.code != 250) {
				backend_failed(s, &r, raw);
				return;
			}
			if (s->srv->proxy_ssl.mode == 2 && !session_tls_active_backend(s)) {
				/* RFC 3207 toward the backend: refuse to go on in plaintext */
				if (!smtp_reply_has_keyword(raw, r.len, "STARTTLS")) {
					log_msg(LOGL_ERR, s->id, "upstream %s does not offer STARTTLS", bt(s));
					smtp_internal_error(s);
					session_quit(s, "upstream without STARTTLS");
					return;
				}
				io_consume(&s->backend, r.len);
				if (backend_sendf(s, "STARTTLS\r\n") == MP_OK) {
					*smtp_step(s) = BK_STARTTLS;
				}
				continue;
			}
			io_consume(&s->backend, r.len);
			if (s->srv->xclient) {
				if (send_xclient(s) == MP_OK) {
					*smtp_step(s) = BK_XCLIENT;
				}
				continue;
			}
			after_helo(s);
			continue;
		case BK_STARTTLS:
			if (r.code != 220) {
				backend_failed(s, &r, raw);
				return;
			}
			io_consume(&s->backend, r.len);
			session_backend_starttls(s);
			return;
		case BK_XCLIENT:
			/* Postfix answers with a fresh 220 greeting; others 250 */
			if (r.code != 220 && r.code != 250) {
				backend_failed(s, &r, raw);
				return;
			}
			io_consume(&s->backend, r.len);
			if (a->smtp_helo != NULL) {
				/* XCLIENT reset the backend's session: say hello again, as the client */
				if (backend_sendf(s, "%s %s\r\n", *smtp_esmtp(s) ? "EHLO" : "HELO", a->smtp_helo) ==
				    MP_OK) {
					*smtp_step(s) = BK_XCLIENT_HELO;
				}
				continue;
			}
			after_helo(s);
			continue;
		case BK_XCLIENT_HELO:
			if (r.code != 250) {
				backend_failed(s, &r, raw);
				return;
			}
			io_consume(&s->backend, r.len);
			after_helo(s);
			continue;
		case BK_AUTH:
			if (r.code != 235) {
				backend_failed(s, &r, raw);
				return;
			}
			io_consume(&s->backend, r.len);
			session_start_relay(s, "235 2.0.0 OK\r\n", 14);
			return;
		case BK_FROM:
			/* the client had its "250 2.0.0 OK" for MAIL from us */
			if (r.code != 250) {
				backend_failed(s, &r, raw);
				return;
			}
			io_consume(&s->backend, r.len);
			if (backend_sendf(s, "%s\r\n", a->smtp_to) == MP_OK) {
				*smtp_step(s) = BK_TO;
			}
			continue;
		case BK_TO:
		default:
			/* whatever the MTA says to the RCPT is the client's answer:
			 * it stays in backend.in for session_start_relay() */
			session_start_relay(s, NULL, 0);
			return;
		}
	}
}

const struct proto_ops smtp_ops = {
	.name = "smtp",
	.greet = smtp_greet,
	.client_input = smtp_client_input,
	.auth_failed = smtp_auth_failed,
	.backend_connected = smtp_backend_connected,
	.backend_input = smtp_backend_input,
	.internal_error = smtp_internal_error,
	.backend_tls_ready = smtp_backend_tls_ready,
	.early_talker = smtp_early_talker,
	.no_cert = "421 4.7.1 No required SSL certificate\r\n",
	.cert_error = "421 4.7.1 SSL certificate error\r\n",
};
