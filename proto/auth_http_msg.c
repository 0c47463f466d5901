#include "auth_http_msg.h"

#include "../conf/conf.h"

#include <string.h>

/* ---- request ---------------------------------------------------------- */

/* An append-only writer over the caller's buffer. Once full it only counts,
 * so the caller checks overflow once at the end. */
struct wr {
	char *p;
	size_t cap, len;
	bool full;
};

static void put(struct wr *w, const char *s, size_t n)
{
	if (n == 0) {
		return; /* s may be NULL for an absent value */
	}
	if (w->full || n > w->cap - w->len) {
		w->full = true;
		return;
	}
	memcpy(w->p + w->len, s, n);
	w->len += n;
}

static void put_lit(struct wr *w, const char *s)
{
	put(w, s, strlen(s));
}

static void put_str(struct wr *w, struct mp_str s)
{
	put(w, s.p, s.n);
}

static void put_uint(struct wr *w, unsigned v)
{
	char d[20];
	size_t i = sizeof(d);
	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	put(w, d + i, sizeof(d) - i);
}

static const char hex_upper[] = "0123456789ABCDEF";

static void put_pct(struct wr *w, unsigned char c)
{
	char e[3] = { '%', hex_upper[c >> 4], hex_upper[c & 15] };
	put(w, e, 3);
}

/* nginx's NGX_ESCAPE_MAIL_AUTH set (0x00-0x1F, space, '%') plus DEL. */
static bool esc_mail(unsigned char c)
{
	return c < 0x20 || c == ' ' || c == '%' || c == 0x7f;
}

static void put_escaped(struct wr *w, struct mp_str s, bool (*esc)(unsigned char))
{
	size_t i = 0;
	while (i < s.n) {
		size_t j = i;
		while (j < s.n && !esc((unsigned char)s.p[j])) {
			j++;
		}
		put(w, s.p + i, j - i);
		if (j < s.n) {
			put_pct(w, (unsigned char)s.p[j]);
			j++;
		}
		i = j;
	}
}

static void put_header(struct wr *w, const char *name, struct mp_str v)
{
	put_lit(w, name);
	put_lit(w, ": ");
	put_str(w, v);
	put_lit(w, "\r\n");
}

/* A value written verbatim: no control byte but HTAB (RFC 7230 §3.2
 * field-vchar / obs-text). CR, LF and NUL would split or end the header. */
static bool verbatim_ok(struct mp_str s)
{
	for (size_t i = 0; i < s.n; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			return false;
		}
	}
	return true;
}

static bool verbatim_ok_c(const char *s)
{
	return s != NULL && verbatim_ok((struct mp_str){ s, strlen(s) });
}

/* RFC 7230 §3.2.6 tchar. */
static bool is_tchar(unsigned char c)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
		return true;
	}
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool token_ok(const char *s)
{
	if (s == NULL || *s == '\0') {
		return false;
	}
	for (; *s != '\0'; s++) {
		if (!is_tchar((unsigned char)*s)) {
			return false;
		}
	}
	return true;
}

static bool uri_ok(struct mp_str s)
{
	if (s.n == 0) {
		return false;
	}
	for (size_t i = 0; i < s.n; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if (c <= 0x20 || c >= 0x7f) {
			return false;
		}
	}
	return true;
}

static bool req_valid(const struct auth_http_req *r, bool none)
{
	const struct mp_str *plain[] = {
		&r->host, &r->method, &r->salt, &r->protocol, &r->client_ip,
		&r->client_host, &r->pp_addr, &r->pp_port, &r->pp_server_addr,
		&r->pp_server_port,
	};
	const struct mp_str *smtp[] = { &r->smtp_helo, &r->smtp_from, &r->smtp_to };
	const struct mp_str *ssl[] = {
		&r->ssl_protocol, &r->ssl_cipher, &r->ssl_verify, &r->ssl_subject,
		&r->ssl_issuer, &r->ssl_serial, &r->ssl_fingerprint,
	};

	if (!uri_ok(r->uri)) {
		return false;
	}
	for (size_t i = 0; i < MP_ARRAY_LEN(plain); i++) {
		if (!verbatim_ok(*plain[i])) {
			return false;
		}
	}
	/* Only checked when they are written: a stale envelope from an earlier
	 * attempt must not make a plain login fail. */
	for (size_t i = 0; none && i < MP_ARRAY_LEN(smtp); i++) {
		if (!verbatim_ok(*smtp[i])) {
			return false;
		}
	}
	for (size_t i = 0; r->ssl && i < MP_ARRAY_LEN(ssl); i++) {
		if (!verbatim_ok(*ssl[i])) {
			return false;
		}
	}
	if (r->nextra > 0 && r->extra == NULL) {
		return false;
	}
	for (size_t i = 0; i < r->nextra; i++) {
		if (!token_ok(r->extra[i].name) || !verbatim_ok_c(r->extra[i].value)) {
			return false;
		}
	}
	return true;
}

enum mp_status auth_http_build_request(const struct auth_http_req *r, char *out,
				       size_t cap, size_t *len)
{
	struct wr w = { out, cap, 0, false };
	/* ngx_mail_auth_http_create_request() writes Auth-SMTP-* when
	 * s->auth_method == NGX_MAIL_AUTH_NONE. */
	bool none = str_eq_nocase(r->method, "none");

	*len = 0;
	if (!req_valid(r, none)) {
		return MP_INVALID;
	}

	/* Order and spelling: ngx_mail_auth_http_create_request(). */
	put_lit(&w, "GET ");
	put_str(&w, r->uri);
	put_lit(&w, " HTTP/1.0\r\n");
	put_header(&w, "Host", r->host);
	put_header(&w, "Auth-Method", r->method);

	put_lit(&w, "Auth-User: ");
	put_escaped(&w, r->user, esc_mail);
	put_lit(&w, "\r\n");
	put_lit(&w, "Auth-Pass: ");
	put_escaped(&w, r->pass, esc_mail);
	put_lit(&w, "\r\n");

	if (r->salt.n > 0) {
		put_header(&w, "Auth-Salt", r->salt);
	}
	put_header(&w, "Auth-Protocol", r->protocol);
	put_lit(&w, "Auth-Login-Attempt: ");
	put_uint(&w, r->attempt);
	put_lit(&w, "\r\n");
	put_header(&w, "Client-IP", r->client_ip);
	if (r->client_host.n > 0) {
		put_header(&w, "Client-Host", r->client_host);
	}
	if (r->pp_addr.n > 0) {
		put_header(&w, "Proxy-Protocol-Addr", r->pp_addr);
		put_header(&w, "Proxy-Protocol-Port", r->pp_port);
		put_header(&w, "Proxy-Protocol-Server-Addr", r->pp_server_addr);
		put_header(&w, "Proxy-Protocol-Server-Port", r->pp_server_port);
	}
	if (none) {
		put_header(&w, "Auth-SMTP-Helo", r->smtp_helo);
		put_header(&w, "Auth-SMTP-From", r->smtp_from);
		put_header(&w, "Auth-SMTP-To", r->smtp_to);
	}
	if (r->ssl) {
		const struct {
			const char *name;
			struct mp_str v;
		} ssl[] = {
			{ "Auth-SSL-Protocol", r->ssl_protocol },
			{ "Auth-SSL-Cipher", r->ssl_cipher },
			{ "Auth-SSL-Verify", r->ssl_verify },
			{ "Auth-SSL-Subject", r->ssl_subject },
			{ "Auth-SSL-Issuer", r->ssl_issuer },
			{ "Auth-SSL-Serial", r->ssl_serial },
			{ "Auth-SSL-Fingerprint", r->ssl_fingerprint },
		};
		put_lit(&w, "Auth-SSL: on\r\n");
		for (size_t i = 0; i < MP_ARRAY_LEN(ssl); i++) {
			if (ssl[i].v.n > 0) {
				put_header(&w, ssl[i].name, ssl[i].v);
			}
		}
		if (r->ssl_cert.n > 0) {
			put_lit(&w, "Auth-SSL-Cert: ");
			/* escaped like Auth-User: what nginx 1.22 sends (space %20, LF %0A;
			 * '+', '/', '=' as they are) */
			put_escaped(&w, r->ssl_cert, esc_mail);
			put_lit(&w, "\r\n");
		}
	}
	for (size_t i = 0; i < r->nextra; i++) {
		put_lit(&w, r->extra[i].name);
		put_lit(&w, ": ");
		put_lit(&w, r->extra[i].value);
		put_lit(&w, "\r\n");
	}
	if (r->keepalive) {
		put_lit(&w, "Connection: keep-alive\r\n");
	}
	put_lit(&w, "\r\n");

	if (w.full) {
		explicit_bzero(out, w.len);
		return MP_TOOLONG;
	}
	*len = w.len;
	return MP_OK;
}

/* ---- reply ------------------------------------------------------------ */

static struct mp_str trim(const char *b, const char *e)
{
	while (b < e && (*b == ' ' || *b == '\t')) {
		b++;
	}
	while (e > b && (e[-1] == ' ' || e[-1] == '\t')) {
		e--;
	}
	return (struct mp_str){ b, (size_t)(e - b) };
}

static bool slice_eq(struct mp_str s, const char *lit)
{
	size_t n = strlen(lit);
	return s.n == n && memcmp(s.p, lit, n) == 0;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Reply state while the header is being read. */
struct rstate {
	struct auth_http_reply r;
	int version;   /* 10, 11, or 0: no or unknown status line */
	struct mp_str err;
	bool saw_ok, saw_wait, has_err;
	struct mp_str last_ok;
	bool has_server, has_port;
	bool conn_close, conn_ka, te, cl_bad;
};

/* "HTTP/" already matched at line[0..5). Only a well-formed
 * "HTTP/d.d NNN[ reason]" is recorded; anything else is skipped as nginx
 * skips it (ngx_mail_auth_http_ignore_status_line). */
static void status_line(struct rstate *st, const char *l, size_t n)
{
	if (n < 12 || !is_digit(l[5]) || l[6] != '.' || !is_digit(l[7]) || l[8] != ' '
	    || !is_digit(l[9]) || !is_digit(l[10]) || !is_digit(l[11])
	    || (n > 12 && l[12] != ' ')) {
		return;
	}
	if (l[5] == '1' && l[7] == '0') {
		st->version = 10;
	} else if (l[5] == '1' && l[7] == '1') {
		st->version = 11;
	}
	st->r.http_status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
}

/* Connection: a comma-separated list of tokens (RFC 7230 §6.1). */
static void connection_tokens(struct rstate *st, struct mp_str v)
{
	const char *p = v.p, *end = v.p + v.n;
	while (p < end) {
		const char *c = memchr(p, ',', (size_t)(end - p));
		if (c == NULL) {
			c = end;
		}
		struct mp_str t = trim(p, c);
		if (str_eq_nocase(t, "close")) {
			st->conn_close = true;
		} else if (str_eq_nocase(t, "keep-alive")) {
			st->conn_ka = true;
		}
		p = c + (c < end);
	}
}

/* nginx ignores Content-Length; mproxy only needs it to reuse a keep-alive
 * connection, so a bad or conflicting one (RFC 7230 §3.3.2) only turns
 * keep-alive off, it does not fail the login. */
static void content_length(struct rstate *st, struct mp_str v)
{
	uint64_t cl;
	if (str_to_u64(v, UINT64_MAX, &cl) != MP_OK) {
		st->cl_bad = true;
		return;
	}
	if (st->r.has_content_length && st->r.content_length != cl) {
		st->cl_bad = true;
		return;
	}
	st->r.content_length = cl;
	st->r.has_content_length = true;
}

static enum mp_status header_line(struct rstate *st, const char *l, size_t n)
{
	const char *colon = memchr(l, ':', n);
	if (colon == NULL || colon == l) {
		return MP_INVALID;
	}
	for (const char *c = l; c < colon; c++) {
		if (!is_tchar((unsigned char)*c)) {
			return MP_INVALID;
		}
	}
	struct mp_str name = { l, (size_t)(colon - l) };
	struct mp_str v = trim(colon + 1, l + n);

	if (str_eq_nocase(name, "Auth-Status")) {
		st->r.has_status = true;
		if (slice_eq(v, "OK")) {
			st->saw_ok = true;
			st->last_ok = v;
		} else if (slice_eq(v, "WAIT")) {
			st->saw_wait = true;
			st->r.status = v;
		} else {
			st->has_err = true;
			st->err = v;
		}
	} else if (str_eq_nocase(name, "Auth-Server")) {
		if (st->has_server) {
			return MP_INVALID;
		}
		st->has_server = true;
		st->r.server = v;
	} else if (str_eq_nocase(name, "Auth-Port")) {
		if (st->has_port) {
			return MP_INVALID;
		}
		st->has_port = true;
		st->r.port = v;
	} else if (str_eq_nocase(name, "Auth-User")) {
		if (st->r.has_user) {
			return MP_INVALID;
		}
		st->r.has_user = true;
		st->r.user = v;
	} else if (str_eq_nocase(name, "Auth-Pass")) {
		if (st->r.has_pass) {
			return MP_INVALID;
		}
		st->r.has_pass = true;
		st->r.pass = v;
	} else if (str_eq_nocase(name, "Auth-Wait")) {
		st->r.wait_time = v;
	} else if (str_eq_nocase(name, "Auth-Error-Code")) {
		st->r.error_code = v;
	} else if (str_eq_nocase(name, "Auth-Error-SASL")) {
		st->r.error_sasl = v;
	} else if (str_eq_nocase(name, "Connection")) {
		connection_tokens(st, v);
	} else if (str_eq_nocase(name, "Content-Length")) {
		content_length(st, v);
	} else if (str_eq_nocase(name, "Transfer-Encoding")) {
		st->te = true;
	}
	return MP_OK;
}

/* Within an unfinished line: a NUL, or a CR followed by anything but LF, is
 * already an error; a CR at the very end may still be followed by LF. */
static bool partial_bad(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\0' || (p[i] == '\r' && i + 1 < n)) {
			return true;
		}
	}
	return false;
}

static void finish(struct rstate *st)
{
	struct auth_http_reply *r = &st->r;

	if (st->has_err) {
		r->status = st->err;
	} else if (st->saw_wait) {
		r->wait = true; /* r->status already points at a "WAIT" */
	} else if (st->saw_ok) {
		r->status = st->last_ok;
		r->ok = true;
	}

	bool persistent = (st->version == 11 && !st->conn_close)
			  || (st->version == 10 && st->conn_ka && !st->conn_close);
	bool length_known = st->cl_bad ? false
			    : r->has_content_length
				    ? r->content_length <= AUTH_HTTP_KEEPALIVE_BODY_MAX
				    : st->conn_ka;
	r->keepalive = persistent && !st->te && length_known;
	if (st->cl_bad) {
		r->has_content_length = false;
		r->content_length = 0;
	}
}

enum mp_status auth_http_parse_reply(const char *p, size_t n,
				     struct auth_http_reply *out)
{
	struct rstate st;
	size_t lim = MP_MIN(n, (size_t)AUTH_HTTP_REPLY_MAX);
	size_t off = 0;
	bool first = true;

	memset(&st, 0, sizeof(st));
	while (off < lim) {
		const char *l = p + off;
		const char *lf = memchr(l, '\n', lim - off);
		if (lf == NULL) {
			if (partial_bad(l, lim - off)) {
				return MP_INVALID;
			}
			break;
		}
		size_t ln = (size_t)(lf - l);
		size_t next = off + ln + 1;
		if (ln > 0 && l[ln - 1] == '\r') {
			ln--;
		}
		if (memchr(l, '\0', ln) != NULL || memchr(l, '\r', ln) != NULL) {
			return MP_INVALID;
		}
		if (ln == 0) {
			st.r.header_len = next;
			finish(&st);
			*out = st.r;
			return MP_OK;
		}
		if (first && ln >= 5 && memcmp(l, "HTTP/", 5) == 0) {
			status_line(&st, l, ln);
		} else if (header_line(&st, l, ln) != MP_OK) {
			return MP_INVALID;
		}
		first = false;
		off = next;
	}
	return n >= AUTH_HTTP_REPLY_MAX ? MP_TOOLONG : MP_AGAIN;
}

enum mp_status auth_http_reply_port(struct mp_str s, uint16_t *out)
{
	uint64_t v;
	if (str_to_u64(s, 65535, &v) != MP_OK || v == 0) {
		return MP_INVALID;
	}
	*out = (uint16_t)v;
	return MP_OK;
}

bool auth_http_value_safe(struct mp_str s)
{
	for (size_t i = 0; i < s.n; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if (c < 0x20 || c == 0x7f) {
			return false;
		}
	}
	return true;
}
