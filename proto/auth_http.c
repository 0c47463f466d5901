/*
 * The auth_http client: nginx's protocol (see auth_http_msg.c for the wire
 * format), over a non-blocking connection with auth_http_timeout.
 *
 * Beyond nginx: connections are kept open between requests when the server
 * agrees (it answers a "Connection: keep-alive" request with a keep-alive
 * reply of known length), so a busy proxy does not pay a TCP handshake per
 * login. A kept connection that the server closed meanwhile is retried once
 * on a fresh connection, before a byte of the reply was seen.
 */
#include "auth.h"

#include "../core/io.h"
#include "../core/log.h"
#include "auth_http_msg.h"
#include "session.h"
#include "../tls/tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define AUTH_HTTP_REQ_MAX 24576 /* room for Auth-SSL-Cert, %-escaped */
#define AUTH_HTTP_IDLE_MAX 32        /* kept connections, all servers together */
#define AUTH_HTTP_IDLE_MS 30000u     /* a kept connection unused this long is closed */

struct auth_http_conn {
	struct auth_http_conn *next;     /* idle list */
	struct io io;
	struct mp_addr addr;             /* pool key */
	struct session *s;               /* NULL while idle */
	struct timer timer;
	bool connecting;
	bool reused;                     /* came from the idle list */
	bool got_bytes;
};

static struct auth_http_conn *idle;
static unsigned nidle;

static void conn_free(struct auth_http_conn *c)
{
	timer_stop(&c->timer);
	io_close(&c->io);
	free(c);
}

static void idle_remove(struct auth_http_conn *c)
{
	for (struct auth_http_conn **pp = &idle; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			nidle--;
			return;
		}
	}
}

static void on_idle_timer(struct timer *t)
{
	struct auth_http_conn *c = MP_CONTAINER_OF(t, struct auth_http_conn, timer);
	idle_remove(c);
	conn_free(c);
}

static void on_conn(struct ev_watch *w, unsigned ev);
static void on_timeout(struct timer *t);

static void update(struct auth_http_conn *c)
{
	if (c->connecting) {
		loop_set(&c->io.w, EV_WRITE);
	} else {
		io_set_interest(&c->io, true);
	}
}

static void retry_later(struct timer *t)
{
	struct auth_ctx *a = MP_CONTAINER_OF(t, struct auth_ctx, step_timer);
	auth_http_start(a->owner);
}

/* The session gets its answer; the connection goes back to the pool or away. */
static void finish(struct auth_http_conn *c, bool keep)
{
	struct session *s = c->s;
	c->s = NULL;
	if (s != NULL && s->auth != NULL) {
		s->auth->http = NULL;
	}
	timer_stop(&c->timer);
	if (keep && nidle < AUTH_HTTP_IDLE_MAX && buf_len(c->io.in) == 0 && !io_out_pending(&c->io)) {
		c->next = idle;
		idle = c;
		nidle++;
		c->timer.fn = on_idle_timer;
		timer_set(&c->timer, AUTH_HTTP_IDLE_MS);
		io_set_interest(&c->io, true); /* notice the server closing it */
	} else {
		conn_free(c);
	}
	if (s == NULL) {
		return;
	}
	if (s->auth->retry) {
		/* Auth-Status: WAIT: the same request again after Auth-Wait seconds */
		s->auth->retry = false;
		s->auth->step_timer.fn = retry_later;
		timer_set(&s->auth->step_timer, (uint64_t)s->auth->wait_s * 1000u);
		s->auth->wait_s = 0;
		return;
	}
	session_auth_done(s);
}

static void fail(struct auth_http_conn *c, const char *why)
{
	struct session *s = c->s;
	if (s != NULL && s->auth != NULL) {
		s->auth->outcome = AUTH_ERROR;
		s->auth->why = why;
		log_msg(LOGL_ERR, s->id, "%s while in http auth state, auth server: %s", why,
			s->srv->auth_http.text);
	}
	finish(c, false);
}

static struct auth_http_conn *conn_open(const struct mp_addr *a)
{
	struct auth_http_conn *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		return NULL;
	}
	int fd = socket(a->u.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		free(c);
		return NULL;
	}
	io_init(&c->io, fd, on_conn);
	c->io.secret = true; /* Auth-Pass both ways */
	c->addr = *a;
	if (connect(fd, &a->u.sa, a->len) != 0) {
		if (errno != EINPROGRESS && errno != EAGAIN) {
			int e = errno;
			conn_free(c);
			errno = e;
			return NULL;
		}
		c->connecting = true;
	}
	return c;
}

static enum mp_status send_request(struct auth_http_conn *c)
{
	struct session *s = c->s;
	struct auth_ctx *a = s->auth;
	const struct conf_server *srv = s->srv;
	char ip[MP_ADDR_TEXT_MAX], req[AUTH_HTTP_REQ_MAX];
	struct mp_addr ca;
	session_client_addr(s, &ca);
	size_t iplen = net_ip_text(&ca, ip, sizeof(ip));
	struct auth_http_req r;
	memset(&r, 0, sizeof(r));
	r.host = (struct mp_str){ srv->auth_http.host_header, strlen(srv->auth_http.host_header) };
	r.uri = (struct mp_str){ srv->auth_http.uri, strlen(srv->auth_http.uri) };
	const char *m = auth_mech_http_name(a->mech);
	r.method = (struct mp_str){ m, strlen(m) };
	r.user = (struct mp_str){ a->login, a->login_len };
	r.pass = (struct mp_str){ a->pass, a->pass_len };
	if (a->salt_len > 0) {
		r.salt = (struct mp_str){ a->salt, a->salt_len };
	}
	const char *proto = conf_proto_name(srv->protocol);
	r.protocol = (struct mp_str){ proto, strlen(proto) };
	r.attempt = s->attempts;
	r.client_ip = (struct mp_str){ ip, iplen };
	/* nginx always sends Client-Host for SMTP: the confirmed name, or its
	 * "[UNAVAILABLE]" / "[TEMPUNAVAIL]" forms */
	if (srv->protocol == PROTO_SMTP) {
		const char *host = s->client_host ? s->client_host : "[UNAVAILABLE]";
		r.client_host = (struct mp_str){ host, strlen(host) };
	}
	if (a->mech == AMECH_NONE) {
		if (a->smtp_helo) {
			r.smtp_helo = (struct mp_str){ a->smtp_helo, strlen(a->smtp_helo) };
		}
		if (a->smtp_from) {
			r.smtp_from = (struct mp_str){ a->smtp_from, strlen(a->smtp_from) };
		}
		if (a->smtp_to) {
			r.smtp_to = (struct mp_str){ a->smtp_to, strlen(a->smtp_to) };
		}
	}
	/* Proxy-Protocol-*: what the load balancer said, as nginx 1.19.8 sends it */
	char ppa[MP_ADDR_TEXT_MAX], ppsa[MP_ADDR_TEXT_MAX], ppp[8], ppsp[8];
	if (s->pp != NULL && !s->pp->local) {
		r.pp_addr = (struct mp_str){ ppa, net_ip_text(&s->pp->src, ppa, sizeof(ppa)) };
		r.pp_port = (struct mp_str){ ppp, (size_t)snprintf(ppp, sizeof(ppp), "%u", net_port(&s->pp->src)) };
		r.pp_server_addr = (struct mp_str){ ppsa, net_ip_text(&s->pp->dst, ppsa, sizeof(ppsa)) };
		r.pp_server_port = (struct mp_str){ ppsp, (size_t)snprintf(ppsp, sizeof(ppsp), "%u", net_port(&s->pp->dst)) };
	}
	/* Auth-SSL-*: what the client's TLS looks like, as nginx 1.7.11+ */
	struct tls_peer_cert pc;
	if (session_tls_active(s)) {
		const char *proto_name = tls_protocol_name(&s->client);
		const char *cipher = tls_cipher_name(&s->client);
		r.ssl = true;
		r.ssl_protocol = (struct mp_str){ proto_name, strlen(proto_name) };
		r.ssl_cipher = (struct mp_str){ cipher, strlen(cipher) };
		if (srv->ssl.verify_client != VERIFY_OFF) {
			tls_peer_cert(&s->client, &pc);
			r.ssl_verify = (struct mp_str){ pc.verify, strlen(pc.verify) };
			if (pc.present) {
				/* RFC 2253, as nginx >= 1.11.6 sends them (checked on 1.22) */
				r.ssl_subject = (struct mp_str){ pc.subject_rfc2253, strlen(pc.subject_rfc2253) };
				r.ssl_issuer = (struct mp_str){ pc.issuer_rfc2253, strlen(pc.issuer_rfc2253) };
				r.ssl_serial = (struct mp_str){ pc.serial, strlen(pc.serial) };
				r.ssl_fingerprint = (struct mp_str){ pc.fingerprint, strlen(pc.fingerprint) };
				if (srv->auth_http_pass_client_cert) {
					r.ssl_cert = (struct mp_str){ pc.pem, strlen(pc.pem) };
				}
			}
		}
	}
	r.extra = srv->auth_http_headers;
	r.nextra = srv->nauth_http_headers;
	r.keepalive = true;
	size_t len = 0;
	enum mp_status st = auth_http_build_request(&r, req, sizeof(req), &len);
	if (st != MP_OK) {
		return st;
	}
	st = io_write(&c->io, req, len);
	memset(req, 0, len); /* it held the password */
	return st;
}

static void start_on(struct session *s, struct auth_http_conn *c)
{
	c->s = s;
	c->got_bytes = false;
	s->auth->http = c;
	c->timer.fn = on_timeout;
	timer_set(&c->timer, s->srv->auth_http_timeout_ms);
	if (!c->connecting) {
		if (send_request(c) != MP_OK) {
			fail(c, "auth http request could not be built or sent");
			return;
		}
	}
	update(c);
}

void auth_http_start(struct session *s)
{
	const struct mp_addr *a = &s->srv->auth_http.addr;
	for (struct auth_http_conn *c = idle; c != NULL; c = c->next) {
		if (net_addr_equal(&c->addr, a)) {
			idle_remove(c);
			timer_stop(&c->timer);
			c->reused = true;
			start_on(s, c);
			return;
		}
	}
	struct auth_http_conn *c = conn_open(a);
	if (c == NULL) {
		char why[128];
		snprintf(why, sizeof(why), "connect() to auth server failed (%d: %s)", errno, strerror(errno));
		s->auth->outcome = AUTH_ERROR;
		s->auth->why = "connect() to auth server failed";
		log_msg(LOGL_ERR, s->id, "%s while in http auth state, auth server: %s", why,
			s->srv->auth_http.text);
		auth_done_later(s);
		return;
	}
	c->reused = false;
	start_on(s, c);
}

static void retry_fresh(struct auth_http_conn *old)
{
	struct session *s = old->s;
	old->s = NULL;
	conn_free(old);
	struct auth_http_conn *c = conn_open(&s->srv->auth_http.addr);
	if (c == NULL) {
		s->auth->outcome = AUTH_ERROR;
		s->auth->why = "connect() to auth server failed";
		s->auth->http = NULL;
		session_auth_done(s);
		return;
	}
	start_on(s, c);
}

/* Letters, digits, '-' and '.': what may be looked up at all. */
static bool host_name_ok(struct mp_str n)
{
	if (n.n == 0 || n.n > 253) {
		return false;
	}
	for (size_t i = 0; i < n.n; i++) {
		char c = n.p[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		      c == '.')) {
			return false;
		}
	}
	return true;
}

static void apply_reply(struct session *s, const struct auth_http_reply *r)
{
	struct auth_ctx *a = s->auth;
	bool needs_pass = s->srv->protocol != PROTO_SMTP || s->srv->proxy_smtp_auth;
	if (r->user.n > 0) {
		if (!auth_http_value_safe(r->user) || str_copy(a->user, sizeof(a->user), r->user) != MP_OK) {
			a->outcome = AUTH_ERROR;
			a->why = "auth http server sent invalid user";
			return;
		}
		a->user_len = r->user.n;
		a->has_user = true;
	}
	if (r->pass.n > 0) {
		if (!auth_http_value_safe(r->pass) || str_copy(a->bpass, sizeof(a->bpass), r->pass) != MP_OK) {
			a->outcome = AUTH_ERROR;
			a->why = "auth http server sent invalid password";
			return;
		}
		a->bpass_len = r->pass.n;
		a->has_bpass = true;
	}
	if (r->ok) {
		uint16_t port = 0;
		if (r->server.n == 0 || r->port.n == 0) {
			a->outcome = AUTH_ERROR;
			a->why = "auth http server did not send server or port";
			return;
		}
		if (auth_http_reply_port(r->port, &port) != MP_OK) {
			a->outcome = AUTH_ERROR;
			a->why = "auth http server sent invalid server port";
			return;
		}
		if (net_parse_ip(r->server.p, r->server.n, &a->backend) == MP_OK) {
			net_set_port(&a->backend, port);
		} else if (s->srv->resolver.n > 0 && host_name_ok(r->server) &&
			   str_copy(a->backend_host, sizeof(a->backend_host), r->server) == MP_OK) {
			/* beyond nginx, which wants an IP here: with a resolver, a
			 * host name is looked up (session_auth_done) */
			memset(&a->backend, 0, sizeof(a->backend));
			a->backend_port = port;
		} else {
			a->outcome = AUTH_ERROR;
			a->why = s->srv->resolver.n > 0 ? "auth http server sent invalid server address"
							: "auth http server sent a host name, and there is no resolver";
			return;
		}
		if (needs_pass && !a->has_bpass) {
			if (a->mech == AMECH_PLAIN || a->mech == AMECH_LOGIN) {
				memcpy(a->bpass, a->pass, a->pass_len + 1);
				a->bpass_len = a->pass_len;
				a->has_bpass = true;
			} else {
				a->outcome = AUTH_ERROR;
				a->why = "auth http server did not send password";
				return;
			}
		}
		if (!a->has_user) {
			memcpy(a->user, a->login, a->login_len + 1);
			a->user_len = a->login_len;
		}
		a->outcome = AUTH_OK;
		return;
	}
	uint64_t wait = 0;
	/* nginx ignores an Auth-Wait it cannot parse; so do we (no wait: close) */
	if (r->wait_time.n > 0 && str_to_u64(r->wait_time, 3600, &wait) != MP_OK) {
		wait = 0;
	}
	if (r->status.n == 0) {
		a->outcome = AUTH_ERROR;
		a->why = "auth http server sent no Auth-Status";
		return;
	}
	if (r->wait) {
		a->outcome = AUTH_DENIED;
		a->retry = true;
		a->wait_s = (unsigned)wait;
		return;
	}
	a->outcome = AUTH_DENIED;
	a->wait_s = (unsigned)wait;
	if (!auth_http_value_safe(r->status) ||
	    str_copy(a->err_text, sizeof(a->err_text), r->status) != MP_OK) {
		snprintf(a->err_text, sizeof(a->err_text), "Internal server error");
	}
	if (r->error_code.n > 0 && auth_http_value_safe(r->error_code)) {
		str_copy(a->err_code, sizeof(a->err_code), r->error_code);
	}
}

static void on_conn(struct ev_watch *w, unsigned ev)
{
	struct auth_http_conn *c = MP_CONTAINER_OF(w, struct auth_http_conn, io.w);
	if (c->s == NULL) {
		/* idle: the server closed it or sent garbage; either way it goes */
		idle_remove(c);
		conn_free(c);
		return;
	}
	if (c->connecting) {
		int err = 0;
		socklen_t len = sizeof(err);
		getsockopt(c->io.w.fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err != 0) {
			log_msg(LOGL_ERR, c->s->id, "connect() to %s failed (%d: %s) while in http auth state",
				c->s->srv->auth_http.text, err, strerror(err));
			fail(c, "auth server unreachable");
			return;
		}
		c->connecting = false;
		if (send_request(c) != MP_OK) {
			fail(c, "auth http request could not be built or sent");
			return;
		}
		update(c);
		return;
	}
	if (ev & EV_WRITE) {
		if (io_flush(&c->io) == MP_ERR) {
			if (c->reused) {
				retry_fresh(c);
				return;
			}
			fail(c, "auth http server write error");
			return;
		}
	}
	if (ev & EV_READ) {
		enum mp_status st = io_fill(&c->io, AUTH_HTTP_REPLY_MAX);
		if (buf_len(c->io.in) > 0) {
			c->got_bytes = true;
			struct auth_http_reply r;
			enum mp_status ps = auth_http_parse_reply(buf_head(c->io.in), buf_len(c->io.in), &r);
			if (ps == MP_OK) {
				size_t body = r.has_content_length ? (size_t)r.content_length : 0;
				bool keep = r.keepalive && r.header_len + body == buf_len(c->io.in);
				apply_reply(c->s, &r);
				io_consume(&c->io, buf_len(c->io.in));
				finish(c, keep);
				return;
			}
			if (ps == MP_INVALID) {
				fail(c, "auth http server sent invalid response");
				return;
			}
			if (ps == MP_TOOLONG || st == MP_TOOLONG) {
				fail(c, "auth http server sent too long response");
				return;
			}
		}
		if (c->io.eof || c->io.error) {
			if (c->reused && !c->got_bytes) {
				retry_fresh(c);
				return;
			}
			fail(c, c->got_bytes ? "auth http server sent incomplete response"
					     : "auth http server closed connection");
			return;
		}
	}
	update(c);
}

static void on_timeout(struct timer *t)
{
	struct auth_http_conn *c = MP_CONTAINER_OF(t, struct auth_http_conn, timer);
	fail(c, "auth http server timed out");
}

void auth_http_cancel(struct session *s)
{
	struct auth_http_conn *c = s->auth->http;
	if (c == NULL) {
		return;
	}
	s->auth->http = NULL;
	c->s = NULL;
	conn_free(c); /* a half-done exchange cannot be reused */
}
