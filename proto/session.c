/*
 * Sessions: accept, phases, the hand-offs between client dialogue,
 * authenticator, backend login and relay, and the deferred close.
 *
 * Lifetime: a session is allocated at accept and put on the close list by
 * session_close(); it is freed by session_reap() after the current loop turn,
 * so an event already fetched for it in the same batch finds fd == -1 and is
 * dropped. Nothing touches a session after closing it.
 */
#include "session.h"

#include "../core/log.h"
#include "access.h"
#include "line.h"
#include "relay.h"
#include "resolver.h"
#include "../tls/tls.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ACCEPT_PAUSE_MS 100    /* out of descriptors: stop accepting this long */
#define AUTH_OUT_HIGH 16384    /* pre-auth: stop reading while this much is unsent */

struct listener {
	struct ev_watch w;
	const struct conf_listen *ls;
	struct listener *next;
};

static struct listener *listeners;
static struct timer accept_timer;
static bool accept_paused;
static struct session *free_sessions, *closed_sessions, *live_sessions;
static size_t nsessions, max_sessions = 1024;
static uint64_t next_session_id = 1;

static void on_client(struct ev_watch *w, unsigned ev);
static const char *bt(const struct session *s)
{
	return s->backend_text != NULL ? s->backend_text : "-";
}
static void on_backend(struct ev_watch *w, unsigned ev);
static void on_timer(struct timer *t);

void session_client_addr(const struct session *s, struct mp_addr *out)
{
	net_from_ipaddr(&s->client_ip, &s->ls->addr, out);
}

size_t session_count(void)
{
	return nsessions;
}

/* ---- listening sockets ---- */

static int setsockopt_int(int fd, int level, int name, int v)
{
	return setsockopt(fd, level, name, &v, sizeof(v));
}

static void apply_keepalive(int fd, const struct conf_listen *ls)
{
	if (ls->keepalive < 0) {
		return;
	}
	setsockopt_int(fd, SOL_SOCKET, SO_KEEPALIVE, ls->keepalive);
#if defined(TCP_KEEPIDLE)
	if (ls->keepalive && ls->keepidle > 0) {
		setsockopt_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, ls->keepidle);
	}
#endif
#if defined(TCP_KEEPINTVL)
	if (ls->keepalive && ls->keepintvl > 0) {
		setsockopt_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, ls->keepintvl);
	}
#endif
#if defined(TCP_KEEPCNT)
	if (ls->keepalive && ls->keepcnt > 0) {
		setsockopt_int(fd, IPPROTO_TCP, TCP_KEEPCNT, ls->keepcnt);
	}
#endif
}

static void on_accept(struct ev_watch *w, unsigned ev);

static int open_listener(const struct conf_listen *ls)
{
	int family = ls->addr.u.sa.sa_family;
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_msg(LOGL_EMERG, 0, "socket() %s failed (%d: %s)", ls->text, errno, strerror(errno));
		return -1;
	}
	if (family != AF_UNIX) {
		setsockopt_int(fd, SOL_SOCKET, SO_REUSEADDR, 1);
	}
	if (family != AF_UNIX) {
		/* replies are written whole; Nagle would only add delayed-ACK
		 * stalls (nginx pays ~40 ms per TLS handshake). Accepted sockets
		 * inherit it: one setsockopt per listener, not per session. */
		setsockopt_int(fd, IPPROTO_TCP, TCP_NODELAY, 1);
	}
	if (family == AF_INET6) {
		/* nginx's default is ipv6only=on */
		setsockopt_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, ls->ipv6only != 0);
	}
	if (ls->rcvbuf > 0) {
		setsockopt_int(fd, SOL_SOCKET, SO_RCVBUF, ls->rcvbuf);
	}
	if (ls->sndbuf > 0) {
		setsockopt_int(fd, SOL_SOCKET, SO_SNDBUF, ls->sndbuf);
	}
	apply_keepalive(fd, ls);
	if (family == AF_UNIX) {
		/* a stale socket file from an earlier run would make bind() fail */
		struct stat st;
		if (lstat(ls->addr.u.un.sun_path, &st) == 0 && S_ISSOCK(st.st_mode)) {
			unlink(ls->addr.u.un.sun_path);
		}
	}
	if (bind(fd, &ls->addr.u.sa, ls->addr.len) != 0) {
		log_msg(LOGL_EMERG, 0, "bind() to %s failed (%d: %s)", ls->text, errno, strerror(errno));
		close(fd);
		return -1;
	}
	if (family == AF_UNIX) {
		chmod(ls->addr.u.un.sun_path, 0666);
	}
	if (listen(fd, ls->backlog > 0 ? ls->backlog : 511) != 0) {
		log_msg(LOGL_EMERG, 0, "listen() to %s failed (%d: %s)", ls->text, errno, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void set_accepting(bool on)
{
	for (struct listener *l = listeners; l != NULL; l = l->next) {
		loop_set(&l->w, on ? EV_READ : 0);
	}
}

static void on_accept_timer(struct timer *t)
{
	(void)t;
	accept_paused = false;
	set_accepting(true);
}

int session_listen_all(const struct conf *c)
{
	accept_timer.fn = on_accept_timer;
	if (c->worker_connections > 0) {
		max_sessions = c->worker_connections;
	}
	/* a session arms a few timers at once (its own, the authenticator's,
	 * an auth_http connection's): reserve for the usual case so arming
	 * never waits on memory; resolver queries may still grow the heap */
	if (timer_reserve(max_sessions * 3 + 64) != 0) {
		log_msg(LOGL_EMERG, 0, "cannot reserve timers for %zu worker_connections", max_sessions);
		return -1;
	}
	for (size_t i = 0; i < c->nlistens; i++) {
		int fd = open_listener(c->listens[i]);
		if (fd < 0) {
			return -1;
		}
		struct listener *l = calloc(1, sizeof(*l));
		if (l == NULL) {
			close(fd);
			return -1;
		}
		l->w.fd = fd;
		l->w.fn = on_accept;
		l->ls = c->listens[i];
		l->next = listeners;
		listeners = l;
		loop_set(&l->w, EV_READ);
	}
	return 0;
}

void session_stop_listening(void)
{
	timer_stop(&accept_timer);
	while (listeners != NULL) {
		struct listener *l = listeners;
		listeners = l->next;
		loop_del(&l->w);
		close(l->w.fd);
		if (l->ls->addr.u.sa.sa_family == AF_UNIX) {
			unlink(l->ls->addr.u.un.sun_path);
		}
		free(l);
	}
}

/* ---- session lifetime ---- */

/*
 * Sessions come from chunks of SESSION_CHUNK, carved once and recycled
 * through the free list: no allocator headers or size-class slack per
 * session (measured: 522 -> ~400 bytes of RSS per idle session at 10,000),
 * no malloc on the accept path once warm. Chunks live until exit, like
 * nginx's connection array.
 */
#define SESSION_CHUNK 64

struct session_chunk {
	struct session_chunk *next;
	struct session v[SESSION_CHUNK];
};

static struct session_chunk *chunks;

static struct session *session_alloc(void)
{
	if (free_sessions == NULL) {
		struct session_chunk *c = malloc(sizeof(*c));
		if (c == NULL) {
			return NULL;
		}
		c->next = chunks;
		chunks = c;
		for (size_t i = SESSION_CHUNK; i-- > 0;) {
			c->v[i].next = free_sessions;
			free_sessions = &c->v[i];
		}
	}
	struct session *s = free_sessions;
	free_sessions = s->next;
	memset(s, 0, sizeof(*s));
	return s;
}

static void pause_accepting(void)
{
	if (!accept_paused) {
		accept_paused = true;
		set_accepting(false);
		timer_set(&accept_timer, ACCEPT_PAUSE_MS);
	}
}

static const struct proto_ops *ops_for(enum mail_proto p)
{
	switch (p) {
	case PROTO_IMAP:
		return &imap_ops;
	case PROTO_POP3:
		return &pop3_ops;
	case PROTO_SMTP:
		return &smtp_ops;
	default:
		return NULL;
	}
}

static void session_begin(struct session *s);

static void on_accept(struct ev_watch *w, unsigned ev)
{
	struct listener *l = MP_CONTAINER_OF(w, struct listener, w);
	(void)ev;
	/* accept until EAGAIN: level-triggered, but one wakeup per batch is cheaper */
	for (;;) {
		if (nsessions >= max_sessions) {
			log_msg(LOGL_ALERT, 0, "%zu worker_connections are not enough", max_sessions);
			pause_accepting();
			return;
		}
		struct mp_addr peer;
		memset(&peer, 0, sizeof(peer));
		peer.len = sizeof(peer.u);
		int fd = accept4(w->fd, &peer.u.sa, &peer.len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED) {
				continue;
			}
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				log_msg(LOGL_CRIT, 0, "accept4() failed (%d: %s)", errno, strerror(errno));
				pause_accepting();
			}
			return;
		}
		struct session *s = session_alloc();
		if (s == NULL) {
			close(fd);
			pause_accepting();
			return;
		}
		nsessions++;
		s->id = next_session_id++;
		s->ls = l->ls;
		s->srv = l->ls->server;
		s->ops = ops_for(s->srv->protocol);
		s->started_ms = loop_now();
		/* an unnamed unix peer is named after the listener, as nginx does */
		net_to_ipaddr(&peer, &s->client_ip);
		s->anext = live_sessions;
		if (live_sessions != NULL) {
			live_sessions->aprev = s;
		}
		live_sessions = s;
		io_init(&s->client, fd, on_client);
		io_init(&s->backend, -1, on_backend);
		s->client.secret = true; /* until the relay: credentials pass here */
		s->timer.fn = on_timer;
		if (log_get_level() >= LOGL_INFO) {
			/* formatting addresses is a real share of a short session */
			char ctext[MP_ADDR_TEXT_MAX];
			struct mp_addr ca;
			session_client_addr(s, &ca);
			net_addr_text(&ca, ctext, sizeof(ctext));
			log_msg(LOGL_INFO, s->id, "client %s connected to %s", ctext, l->ls->text);
		}
		if (l->ls->proxy_protocol) {
			/* the header comes first, bounded in size and by `timeout` */
			s->phase = PH_PROXY_HEADER;
			timer_set(&s->timer, s->srv->timeout_ms);
		} else {
			session_begin(s);
		}
		if (!s->closed) {
			session_update(s);
		}
	}
}

static void session_greet(struct session *s)
{
	s->phase = PH_AUTH;
	timer_set(&s->timer, s->srv->timeout_ms);
	s->ops->greet(s);
	/* bytes that came in one segment with a PROXY header are here already;
	 * no socket event will announce them again */
	if (!s->closed && !s->quit && buf_len(s->client.in) > 0) {
		s->ops->client_input(s);
	}
}

static void session_greet_or_delay(struct session *s);
static void session_after_tls(struct session *s);
static void start_tls(struct session *s, bool implicit);
static void tls_handshake_input(struct session *s);
static void client_input_auth(struct session *s);
static void backend_handshake_input(struct session *s);

/* The resolver's answer: nginx's Client-Host / XCLIENT NAME forms. */
static void on_client_name(void *arg, enum resolver_status st, const char *name)
{
	struct session *s = arg;
	s->rq = NULL;
	const char *host = st == RESOLVER_OK       ? name
			   : st == RESOLVER_NOTFOUND ? "[UNAVAILABLE]"
						     : "[TEMPUNAVAIL]";
	s->client_host = strdup(host);
	log_msg(LOGL_DEBUG, s->id, "client name: %s", host);
	session_greet_or_delay(s);
	session_update(s);
}

static void session_begin(struct session *s)
{
	/* allow/deny, on the real client address (after the PROXY header) */
	struct mp_addr ca;
	session_client_addr(s, &ca);
	if (!access_allowed(&s->srv->access, &ca)) {
		char ctext[MP_ADDR_TEXT_MAX];
		net_addr_text(&ca, ctext, sizeof(ctext));
		log_msg(LOGL_ERR, s->id, "access forbidden by rule, client: %s, server: %s", ctext, s->ls->text);
		session_close(s, "access forbidden");
		return;
	}
	if ((s->ls->ssl || s->srv->ssl.ssl_on) && s->srv->tls != NULL) {
		start_tls(s, true);
		return;
	}
	session_after_tls(s);
}

/* After implicit TLS (or without it): the client's name, then the greeting. */
static void session_after_tls(struct session *s)
{
	/* SMTP with a resolver: the client's name first, as nginx does (it goes
	 * to auth_http as Client-Host and to XCLIENT as NAME) */
	if (s->srv->protocol == PROTO_SMTP && s->srv->resolver.n > 0) {
		struct mp_addr ca;
		session_client_addr(s, &ca);
		s->phase = PH_RESOLVE;
		timer_set(&s->timer, s->srv->resolver_timeout_ms + s->srv->timeout_ms);
		s->rq = resolver_client_name(&s->srv->resolver, s->srv->resolver_timeout_ms,
					     &ca, on_client_name, s);
		if (s->rq != NULL) {
			return;
		}
		s->client_host = strdup("[TEMPUNAVAIL]");
	}
	session_greet_or_delay(s);
}

static void session_greet_or_delay(struct session *s)
{
	if (s->ops->early_talker != NULL && s->srv->smtp_greeting_delay_ms > 0 &&
	    buf_len(s->client.in) > 0) {
		/* it talked behind its PROXY header, before any greeting */
		log_msg(LOGL_INFO, s->id, "client sent data before greeting");
		s->ops->early_talker(s);
		session_quit(s, "early talker");
		return;
	}
	if (s->ops->early_talker != NULL && s->srv->smtp_greeting_delay_ms > 0) {
		/* listen for early talkers before greeting (nginx's smtp_greeting_delay) */
		s->phase = PH_GREETING_DELAY;
		timer_set(&s->timer, s->srv->smtp_greeting_delay_ms);
		return;
	}
	session_greet(s);
}

void session_set_login(struct session *s, const char *login, size_t n)
{
	free(s->login);
	s->login = malloc(n + 1);
	if (s->login != NULL) {
		memcpy(s->login, login, n);
		s->login[n] = '\0';
	}
}

/* Logins go into log lines between quotes: escape what could forge a line. */
static void log_safe(char *dst, size_t cap, const char *src)
{
	size_t o = 0;
	for (; src != NULL && *src != '\0' && o + 5 < cap; src++) {
		unsigned char c = (unsigned char)*src;
		if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
			o += (size_t)snprintf(dst + o, cap - o, "\\x%02X", c);
		} else {
			dst[o++] = (char)c;
		}
	}
	dst[o] = '\0';
}

static const char *phase_name(enum session_phase p)
{
	switch (p) {
	case PH_PROXY_HEADER:
		return "proxy protocol";
	case PH_TLS_HANDSHAKE:
		return "SSL handshake";
	case PH_RESOLVE:
		return "resolving";
	case PH_GREETING_DELAY:
	case PH_AUTH:
		return "auth";
	case PH_AUTH_WAIT:
	case PH_AUTH_DELAY:
		return "http auth";
	case PH_BACKEND:
		return "backend login";
	case PH_RELAY:
		return "relay";
	}
	return "?";
}

void session_close(struct session *s, const char *reason)
{
	if (s->closed) {
		return;
	}
	s->closed = true;
	if (log_get_level() >= LOGL_INFO) {
		char ctext[MP_ADDR_TEXT_MAX], login[AUTH_LOGIN_MAX * 4 + 8];
		struct mp_addr ca;
		session_client_addr(s, &ca);
		net_addr_text(&ca, ctext, sizeof(ctext));
		log_safe(login, sizeof(login), s->login);
		uint64_t ms = loop_now() - s->started_ms;
		log_msg(LOGL_INFO, s->id,
			"session closed: client: %s, protocol: %s, login: \"%s\", upstream: %s, "
			"bytes in: %llu, bytes out: %llu, duration: %llu.%03llus, reason: %s, in state: %s",
			ctext, s->ops ? s->ops->name : "?", login,
			bt(s),
			(unsigned long long)s->client.nread, (unsigned long long)s->client.nwritten,
			(unsigned long long)(ms / 1000), (unsigned long long)(ms % 1000),
			reason ? reason : "closed", phase_name(s->phase));
	}
	if (session_tls_active(s) && !s->client.error) {
		/* a close_notify, so the client sees a clean end (never blocks) */
		tls_shutdown(&s->client);
	}
	auth_cancel(s);
	resolver_cancel(s->rq);
	s->rq = NULL;
	if (s->auth != NULL) {
		auth_ctx_put(s->auth);
		s->auth = NULL;
	}
	timer_stop(&s->timer);
	io_close(&s->client);
	io_close(&s->backend);
	free(s->login);
	s->login = NULL;
	free(s->backend_text);
	s->backend_text = NULL;
	free(s->pp);
	s->pp = NULL;
	free(s->client_host);
	s->client_host = NULL;
	if (s->aprev != NULL) {
		s->aprev->anext = s->anext;
	} else {
		live_sessions = s->anext;
	}
	if (s->anext != NULL) {
		s->anext->aprev = s->aprev;
	}
	s->next = closed_sessions;
	closed_sessions = s;
}

void session_reap(void)
{
	while (closed_sessions != NULL) {
		struct session *s = closed_sessions;
		closed_sessions = s->next;
		nsessions--;
		s->next = free_sessions;
		free_sessions = s;
	}
}

void session_quit(struct session *s, const char *reason)
{
	s->quit = true;
	if (s->close_reason == NULL) {
		s->close_reason = reason;
	}
}

/* ---- output and errors ---- */

enum mp_status session_send(struct session *s, const char *p, size_t n)
{
	if (io_write(&s->client, p, n) != MP_OK) {
		session_quit(s, "client write error");
		return MP_ERR;
	}
	return MP_OK;
}

enum mp_status session_sendf(struct session *s, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	va_start(ap, fmt);
	int r = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= sizeof(line)) {
		session_quit(s, "reply too long");
		return MP_ERR;
	}
	return session_send(s, line, (size_t)r);
}

bool session_client_line(struct session *s, const char *too_long, struct mp_str *line,
			 size_t *used)
{
	size_t linelen = 0;
	const char *p = buf_head(s->client.in);
	enum mp_status st = line_frame(p, buf_len(s->client.in), s->client_buffer_cap, &linelen, used);
	if (st == MP_AGAIN) {
		return false;
	}
	if (st != MP_OK) {
		/* logged without the text: it may hold a password */
		log_msg(LOGL_INFO, s->id, "client sent too long command");
		session_send(s, too_long, strlen(too_long));
		session_quit(s, "too long command");
		return false;
	}
	*line = (struct mp_str){ p, linelen };
	return true;
}

bool session_error(struct session *s)
{
	if (s->errors < 255) {
		s->errors++;
	}
	if (s->errors >= s->srv->max_errors) {
		log_msg(LOGL_INFO, s->id, "client sent too many invalid commands");
		return true;
	}
	return false;
}

/* ---- interest ---- */

/*
 * TLS may hold decrypted bytes that no socket event will announce (they came
 * in one record with what was read before). Whenever the session could take
 * them, take them now.
 */
static void take_pending_input(struct session *s)
{
	if (s->quit || s->closed) {
		return;
	}
	if (s->phase == PH_RELAY) {
		if (!io_out_pending(&s->backend) && io_pending_in(&s->client)) {
			relay_pump(s, &s->client, &s->backend);
		}
		if (!s->quit && !s->closed && !io_out_pending(&s->client) && io_pending_in(&s->backend)) {
			relay_pump(s, &s->backend, &s->client);
		}
	} else if (s->phase == PH_AUTH && !s->starttls_pending &&
		   buf_len(s->client.out) < AUTH_OUT_HIGH && io_pending_in(&s->client)) {
		client_input_auth(s);
	}
}

void session_update(struct session *s)
{
	if (s->closed) {
		return;
	}
	take_pending_input(s);
	if (s->closed) {
		return;
	}
	if (s->quit) {
		if (!io_out_pending(&s->client) && !io_out_pending(&s->backend)) {
			session_close(s, s->close_reason);
			return;
		}
		io_set_interest(&s->client, false);
		io_set_interest(&s->backend, false);
		return;
	}
	if (s->starttls_pending && !io_out_pending(&s->client)) {
		start_tls(s, false);
		if (s->closed) {
			return;
		}
		if (s->quit) {
			/* the whole handshake was there and ended in a refusal */
			session_update(s);
			return;
		}
		/* a ClientHello may already be waiting in the socket */
	}
	bool cr = false, br = false;
	switch (s->phase) {
	case PH_PROXY_HEADER:
	case PH_GREETING_DELAY:
	case PH_TLS_HANDSHAKE:
		cr = true;
		break;
	case PH_AUTH:
		/* while STARTTLS's reply drains, read nothing more in plaintext */
		cr = !s->starttls_pending && buf_len(s->client.out) < AUTH_OUT_HIGH;
		break;
	case PH_BACKEND:
		br = true;
		break;
	case PH_RELAY:
		/* back-pressure: read a side only while the other has nothing queued */
		cr = !io_out_pending(&s->backend);
		br = !io_out_pending(&s->client);
		break;
	default:
		break;
	}
	io_set_interest(&s->client, cr);
	if (io_open(&s->backend)) {
		if (s->backend_connecting) {
			loop_set(&s->backend.w, EV_WRITE);
		} else {
			io_set_interest(&s->backend, br);
		}
	}
}

/* ---- events ---- */

static void client_input_auth(struct session *s)
{
	size_t cap = s->client_buffer_cap;
	enum mp_status st = io_fill(&s->client, cap);
	if (buf_len(s->client.in) > 0 && (st == MP_OK || st == MP_TOOLONG || st == MP_ERR)) {
		s->ops->client_input(s);
	}
	if (!s->closed && !s->quit && (s->client.eof || s->client.error)) {
		session_close(s, s->client.error ? "client read error" : "client closed");
	}
}

/* ---- TLS toward the client ---- */

bool session_tls_active(const struct session *s)
{
	return s->client.tls_vt != NULL;
}

bool session_starttls_offered(const struct session *s)
{
	return s->srv->tls != NULL && s->srv->ssl.starttls != STARTTLS_OFF && !session_tls_active(s);
}

bool session_login_needs_tls(const struct session *s)
{
	return s->srv->tls != NULL && s->srv->ssl.starttls == STARTTLS_ONLY && !session_tls_active(s);
}

void session_starttls(struct session *s, size_t cmd_len)
{
	io_consume(&s->client, cmd_len);
	if (buf_len(s->client.in) > 0) {
		/* plaintext pipelined behind STARTTLS must never be read as if it
		 * came through TLS (CVE-2011-0411, nginx CVE-2014-3556) */
		log_msg(LOGL_INFO, s->id, "client sent %zu bytes after STARTTLS: discarded",
			buf_len(s->client.in));
		io_consume(&s->client, buf_len(s->client.in));
	}
	s->starttls_pending = true;
}

static void start_tls(struct session *s, bool implicit)
{
	s->starttls_pending = false;
	s->tls_implicit = implicit;
	if (tls_start_server(&s->client, s->srv->tls) != MP_OK) {
		log_msg(LOGL_ERR, s->id, "cannot start TLS (out of memory)");
		session_close(s, "TLS start failed");
		return;
	}
	s->phase = PH_TLS_HANDSHAKE;
	timer_set(&s->timer, s->srv->timeout_ms);
	/* bytes that came behind a PROXY header are in the engine already */
	tls_handshake_input(s);
}

/* ssl_verify_client: nginx checks the certificate after the handshake and
 * says goodbye in the protocol's words. */
static bool client_cert_ok(struct session *s)
{
	enum tls_cert_status st = tls_peer_cert_status(&s->client);
	if (st != TLS_CERT_MISSING && st != TLS_CERT_BAD) {
		return true;
	}
	if (st == TLS_CERT_MISSING) {
		log_msg(LOGL_INFO, s->id, "client sent no required SSL certificate");
	} else {
		struct tls_peer_cert pc;
		tls_peer_cert(&s->client, &pc);
		log_msg(LOGL_INFO, s->id, "client SSL certificate verify error: %s", pc.verify);
	}
	const char *text = st == TLS_CERT_MISSING ? s->ops->no_cert : s->ops->cert_error;
	session_send(s, text, strlen(text));
	session_quit(s, "client certificate refused");
	return false;
}

static void tls_handshake_input(struct session *s)
{
	enum mp_status st = tls_handshake(&s->client);
	if (st == MP_AGAIN) {
		return;
	}
	if (st != MP_OK) {
		log_msg(LOGL_INFO, s->id, "SSL handshake failed: %s", tls_error(&s->client));
		session_close(s, "TLS handshake failed");
		return;
	}
	log_msg(LOGL_DEBUG, s->id, "TLS: %s %s%s", tls_protocol_name(&s->client), tls_cipher_name(&s->client),
		tls_session_reused(&s->client) ? " (resumed)" : "");
	if (!client_cert_ok(s)) {
		return;
	}
	if (s->tls_implicit) {
		session_after_tls(s);
		return;
	}
	/* STARTTLS: the dialogue goes on, over TLS, from a clean state */
	s->phase = PH_AUTH;
	timer_set(&s->timer, s->srv->timeout_ms);
	if (buf_len(s->client.in) > 0) {
		s->ops->client_input(s);
	}
}

/*
 * PROXY protocol v1/v2 from a load balancer. Required on a listener with
 * `proxy_protocol`; the address it carries replaces the client's only when
 * the peer is trusted by set_real_ip_from (nginx's realip module). Bytes after
 * the header stay in client.in for the protocol (or the TLS engine).
 */
static void proxy_header_input(struct session *s)
{
	enum mp_status st = io_fill(&s->client, PP_MAX);
	struct pp_header h;
	enum mp_status ps = MP_AGAIN;
	if (buf_len(s->client.in) > 0) {
		ps = pp_parse((const uint8_t *)buf_head(s->client.in), buf_len(s->client.in), &h);
	}
	if (ps == MP_AGAIN) {
		if (st == MP_ERR) {
			session_close(s, "client closed before PROXY header");
		} else if (buf_len(s->client.in) >= PP_MAX) {
			ps = MP_INVALID;
		} else {
			return;
		}
	}
	if (ps != MP_OK) {
		if (!s->closed) {
			log_msg(LOGL_ERR, s->id, "broken header: invalid PROXY protocol header");
			session_close(s, "invalid PROXY header");
		}
		return;
	}
	io_consume(&s->client, h.len);
	s->pp = malloc(sizeof(*s->pp));
	if (s->pp != NULL) {
		*s->pp = h;
	}
	char peer[MP_ADDR_TEXT_MAX], src[MP_ADDR_TEXT_MAX];
	struct mp_addr ca;
	session_client_addr(s, &ca);
	net_addr_text(&ca, peer, sizeof(peer));
	if (!h.local && access_trusted(&s->srv->real_ip_from, &ca)) {
		net_to_ipaddr(&h.src, &s->client_ip);
		net_addr_text(&h.src, src, sizeof(src));
		log_msg(LOGL_INFO, s->id, "PROXY protocol from %s: client %s", peer, src);
	} else {
		log_msg(LOGL_INFO, s->id, "PROXY protocol header from %s %s", peer,
			h.local ? "without address (LOCAL/UNKNOWN)" : "ignored: peer not in set_real_ip_from");
	}
	session_begin(s);
}

static void on_client(struct ev_watch *w, unsigned ev)
{
	struct session *s = MP_CONTAINER_OF(w, struct session, client.w);
	if (ev & EV_WRITE) {
		if (io_flush(&s->client) == MP_ERR) {
			session_close(s, "client write error");
			return;
		}
	}
	if (s->phase == PH_TLS_HANDSHAKE && !s->quit) {
		tls_handshake_input(s);
		session_update(s);
		return;
	}
	if ((ev & EV_READ) && !s->quit) {
		switch (s->phase) {
		case PH_AUTH:
			client_input_auth(s);
			break;
		case PH_RELAY:
			relay_pump(s, &s->client, &s->backend);
			break;
		case PH_GREETING_DELAY:
			log_msg(LOGL_INFO, s->id, "client sent data before greeting");
			s->ops->early_talker(s);
			session_quit(s, "early talker");
			break;
		case PH_PROXY_HEADER:
			proxy_header_input(s);
			break;
		case PH_TLS_HANDSHAKE:
			break; /* below: any event may move the handshake on */
		default:
			break;
		}
	}
	session_update(s);
}

/* proxy_protocol on|v2: the real client's address goes first on the wire. */
static bool send_proxy_header(struct session *s)
{
	if (s->srv->proxy_protocol == 0) {
		return true;
	}
	struct mp_addr local, ca;
	session_client_addr(s, &ca);
	memset(&local, 0, sizeof(local));
	if (s->pp != NULL && !s->pp->local && net_addr_equal(&ca, &s->pp->src)) {
		/* behind a trusted load balancer: the address the client really
		 * connected to (and of the client's family) */
		local = s->pp->dst;
	} else {
		local.len = sizeof(local.u);
		if (getsockname(s->client.w.fd, &local.u.sa, &local.len) != 0) {
			local.len = 0;
		}
	}
	uint8_t hdr[PP_MAX];
	size_t len = 0;
	enum mp_status st = s->srv->proxy_protocol == 2
				    ? pp_build_v2(&ca, &local, hdr, sizeof(hdr), &len)
				    : pp_build_v1(&ca, &local, (char *)hdr, sizeof(hdr), &len);
	if (st != MP_OK || io_write(&s->backend, hdr, len) != MP_OK) {
		log_msg(LOGL_ERR, s->id, "cannot send PROXY protocol header to upstream %s", bt(s));
		s->ops->internal_error(s);
		session_quit(s, "PROXY header to upstream failed");
		return false;
	}
	return true;
}

/*
 * The backend connection is up (and the PROXY header queued): with
 * `proxy_ssl on` TLS comes first, and not one byte from the backend is
 * parsed before its handshake completes (nginx CVE-2026-1642 class).
 */
static void backend_ready(struct session *s)
{
	if (s->srv->proxy_ssl.mode == 1 && s->srv->proxy_tls != NULL) {
		if (tls_start_client(&s->backend, s->srv->proxy_tls) != MP_OK) {
			log_msg(LOGL_ERR, s->id, "cannot start TLS to upstream %s (out of memory)", bt(s));
			s->ops->internal_error(s);
			session_quit(s, "upstream TLS failed");
			return;
		}
		s->backend_handshake = true;
		backend_handshake_input(s);
		return;
	}
	s->ops->backend_connected(s);
}

static void backend_handshake_input(struct session *s)
{
	enum mp_status st = tls_handshake(&s->backend);
	if (st == MP_AGAIN) {
		return;
	}
	s->backend_handshake = false;
	if (st != MP_OK) {
		log_msg(LOGL_ERR, s->id, "SSL handshake with upstream %s failed: %s", bt(s),
			tls_error(&s->backend));
		s->ops->internal_error(s);
		session_quit(s, "upstream TLS handshake failed");
		return;
	}
	log_msg(LOGL_DEBUG, s->id, "upstream TLS: %s %s", tls_protocol_name(&s->backend),
		tls_cipher_name(&s->backend));
	if (s->backend_starttls) {
		s->ops->backend_tls_ready(s);
	} else {
		s->ops->backend_connected(s);
	}
	/* the backend may have spoken already (its greeting came with the
	 * handshake's last flight) */
	if (!s->quit && !s->closed && io_pending_in(&s->backend)) {
		io_fill(&s->backend, s->srv->proxy_buffer);
		if (buf_len(s->backend.in) > 0) {
			s->ops->backend_input(s);
		}
	}
}

bool session_backend_starttls(struct session *s)
{
	if (s->srv->proxy_tls == NULL) {
		s->ops->internal_error(s);
		session_quit(s, "no TLS context for upstream");
		return false;
	}
	if (buf_len(s->backend.in) > 0) {
		log_msg(LOGL_ERR, s->id, "upstream %s sent data after accepting STARTTLS", bt(s));
		s->ops->internal_error(s);
		session_quit(s, "upstream STARTTLS injection");
		return false;
	}
	if (tls_start_client(&s->backend, s->srv->proxy_tls) != MP_OK) {
		s->ops->internal_error(s);
		session_quit(s, "upstream TLS failed");
		return false;
	}
	s->backend_handshake = true;
	s->backend_starttls = true;
	backend_handshake_input(s);
	return !s->quit && !s->closed;
}

static void backend_connect_done(struct session *s)
{
	int err = 0;
	socklen_t len = sizeof(err);
	s->backend_connecting = false;
	if (getsockopt(s->backend.w.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
		err = errno;
	}
	if (err != 0) {
		log_msg(LOGL_ERR, s->id, "connect() to %s failed (%d: %s) while connecting to upstream",
			bt(s), err, strerror(err));
		s->ops->internal_error(s);
		session_quit(s, "upstream connect failed");
		return;
	}
	timer_set(&s->timer, s->srv->timeout_ms);
	if (send_proxy_header(s)) {
		backend_ready(s);
	}
}

static void on_backend(struct ev_watch *w, unsigned ev)
{
	struct session *s = MP_CONTAINER_OF(w, struct session, backend.w);
	if (s->backend_connecting) {
		if (ev & EV_WRITE) {
			backend_connect_done(s);
		}
		session_update(s);
		return;
	}
	if (ev & EV_WRITE) {
		if (io_flush(&s->backend) == MP_ERR) {
			session_close(s, "upstream write error");
			return;
		}
	}
	if (s->backend_handshake) {
		backend_handshake_input(s);
		session_update(s);
		return;
	}
	if ((ev & EV_READ) && !s->quit) {
		if (s->phase == PH_BACKEND) {
			enum mp_status st = io_fill(&s->backend, s->srv->proxy_buffer);
			if (buf_len(s->backend.in) > 0) {
				s->ops->backend_input(s);
			}
			if (!s->closed && !s->quit && st == MP_TOOLONG && buf_len(s->backend.in) >= s->srv->proxy_buffer) {
				log_msg(LOGL_ERR, s->id, "upstream sent too long response line while logging in, upstream: %s",
					bt(s));
				s->ops->internal_error(s);
				session_quit(s, "upstream sent too long line");
			}
			if (!s->closed && !s->quit && (s->backend.eof || s->backend.error)) {
				log_msg(LOGL_ERR, s->id, "upstream %s prematurely closed connection while logging in",
					bt(s));
				s->ops->internal_error(s);
				session_quit(s, "upstream closed during login");
			}
		} else if (s->phase == PH_RELAY) {
			relay_pump(s, &s->backend, &s->client);
		}
	}
	session_update(s);
}

static void on_timer(struct timer *t)
{
	struct session *s = MP_CONTAINER_OF(t, struct session, timer);
	switch (s->phase) {
	case PH_GREETING_DELAY:
		session_greet(s);
		break;
	case PH_AUTH_DELAY:
		s->phase = PH_AUTH;
		timer_set(&s->timer, s->srv->timeout_ms);
		s->ops->auth_failed(s, s->auth->err_text, s->auth->err_code, true);
		auth_ctx_reset_creds(s->auth);
		/* pipelined commands that waited in the buffer */
		if (!s->quit && buf_len(s->client.in) > 0) {
			s->ops->client_input(s);
		}
		break;
	case PH_RELAY: {
		uint64_t idle = loop_now() - s->last_activity_ms;
		if (idle < s->srv->proxy_timeout_ms) {
			timer_set(&s->timer, s->srv->proxy_timeout_ms - idle);
			return;
		}
		log_msg(LOGL_INFO, s->id, "proxied session timed out, client: %s", "");
		session_close(s, "proxy_timeout");
		return;
	}
	case PH_AUTH_WAIT:
		/* the authenticator has its own timer; this is the overall bound */
		log_msg(LOGL_ERR, s->id, "auth timed out");
		s->ops->internal_error(s);
		session_quit(s, "auth timed out");
		break;
	case PH_BACKEND:
		log_msg(LOGL_ERR, s->id, "upstream timed out while logging in, upstream: %s", bt(s));
		s->ops->internal_error(s);
		session_quit(s, "upstream timed out");
		break;
	default:
		log_msg(LOGL_INFO, s->id, "client timed out");
		session_close(s, "client timed out");
		return;
	}
	session_update(s);
}

/* ---- authenticator and backend ---- */

bool session_auth_ctx(struct session *s, bool reset_creds)
{
	if (s->auth == NULL) {
		s->auth = auth_ctx_get();
		if (s->auth == NULL) {
			s->ops->internal_error(s);
			session_quit(s, "out of memory");
			return false;
		}
	} else if (reset_creds) {
		auth_ctx_reset_creds(s->auth);
	}
	return true;
}

void session_authenticate(struct session *s)
{
	if (s->attempts < 255) {
		s->attempts++;
	}
	s->phase = PH_AUTH_WAIT;
	s->auth->owner = s;
	timer_stop(&s->timer);
	auth_start(s);
}

static void backend_connect(struct session *s)
{
	const struct mp_addr *a = &s->auth->backend;
	char btext[MP_ADDR_TEXT_MAX];
	net_addr_text(a, btext, sizeof(btext));
	free(s->backend_text);
	s->backend_text = strdup(btext);
	int fd = socket(a->u.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_msg(LOGL_ERR, s->id, "socket() failed (%d: %s) while connecting to upstream", errno,
			strerror(errno));
		s->ops->internal_error(s);
		session_quit(s, "socket failed");
		return;
	}
	if (a->u.sa.sa_family != AF_UNIX) {
		setsockopt_int(fd, IPPROTO_TCP, TCP_NODELAY, 1);
	}
	io_init(&s->backend, fd, on_backend);
	s->backend.secret = true; /* our LOGIN/PASS/AUTH lines */
	s->phase = PH_BACKEND;
	timer_set(&s->timer, s->srv->timeout_ms);
	if (connect(fd, &a->u.sa, a->len) == 0) {
		if (send_proxy_header(s)) {
			backend_ready(s);
		}
		return;
	}
	if (errno == EINPROGRESS || errno == EAGAIN) {
		s->backend_connecting = true;
		return;
	}
	log_msg(LOGL_ERR, s->id, "connect() to %s failed (%d: %s) while connecting to upstream",
		bt(s), errno, strerror(errno));
	s->ops->internal_error(s);
	session_quit(s, "upstream connect failed");
}

/* An Auth-Server given as a host name, looked up: the first address. */
static void on_backend_addrs(void *arg, enum resolver_status st, const struct mp_addr *addrs, size_t n)
{
	struct session *s = arg;
	s->rq = NULL;
	if (st != RESOLVER_OK || n == 0) {
		log_msg(LOGL_ERR, s->id, "upstream \"%s\" could not be resolved (%s)", s->auth->backend_host,
			st == RESOLVER_NOTFOUND ? "not found" : "temporary failure");
		s->ops->internal_error(s);
		session_quit(s, "upstream not resolved");
		session_update(s);
		return;
	}
	s->auth->backend = addrs[0];
	net_set_port(&s->auth->backend, s->auth->backend_port);
	backend_connect(s);
	session_update(s);
}

void session_auth_done(struct session *s)
{
	struct auth_ctx *a = s->auth;
	if (s->closed) {
		return;
	}
	switch (a->outcome) {
	case AUTH_OK:
		if (a->has_user) {
			session_set_login(s, a->user, a->user_len);
		}
		if (a->backend.len == 0 && a->backend_host[0] != '\0') {
			s->rq = resolver_host_addrs(&s->srv->resolver, s->srv->resolver_timeout_ms,
						    a->backend_host, on_backend_addrs, s);
			if (s->rq == NULL) {
				s->ops->internal_error(s);
				session_quit(s, "resolver failed");
			}
			break;
		}
		backend_connect(s);
		break;
	case AUTH_DENIED: {
		char login[AUTH_LOGIN_MAX * 4 + 8];
		log_safe(login, sizeof(login), s->login);
		log_msg(LOGL_INFO, s->id, "client login failed: \"%s\", login: \"%s\"", a->err_text, login);
		if (a->wait_s > 0) {
			s->phase = PH_AUTH_DELAY;
			timer_set(&s->timer, (uint64_t)a->wait_s * 1000u);
		} else {
			s->phase = PH_AUTH;
			s->ops->auth_failed(s, a->err_text, a->err_code, false);
			session_quit(s, "login failed");
		}
		break;
	}
	case AUTH_ERROR:
		log_msg(LOGL_ERR, s->id, "auth failed: %s", a->why ? a->why : "internal error");
		s->phase = PH_AUTH;
		s->ops->internal_error(s);
		session_quit(s, "auth error");
		break;
	}
	session_update(s);
}

void session_start_relay(struct session *s, const char *reply, size_t n)
{
	char login[AUTH_LOGIN_MAX * 4 + 8];
	log_safe(login, sizeof(login), s->login);
	log_msg(LOGL_INFO, s->id, "client logged in, login: \"%s\", upstream: %s", login, bt(s));
	if (reply != NULL && session_send(s, reply, n) != MP_OK) {
		return;
	}
	/* credentials are not needed any more: wipe them now */
	auth_cancel(s);
	auth_ctx_put(s->auth);
	s->auth = NULL;
	s->phase = PH_RELAY;
	s->last_activity_ms = loop_now();
	s->client.secret = s->backend.secret = false; /* mail from here on, not ours to wipe */
	timer_set(&s->timer, s->srv->proxy_timeout_ms);
	/* bytes the client pipelined behind its login go first, in order */
	if (buf_len(s->client.in) > 0) {
		if (io_write(&s->backend, buf_head(s->client.in), buf_len(s->client.in)) != MP_OK) {
			session_close(s, "upstream write error");
			return;
		}
		io_consume(&s->client, buf_len(s->client.in));
	}
	if (buf_len(s->backend.in) > 0) {
		if (session_send(s, buf_head(s->backend.in), buf_len(s->backend.in)) != MP_OK) {
			return;
		}
		io_consume(&s->backend, buf_len(s->backend.in));
	}
}

void session_close_all(const char *reason)
{
	while (live_sessions != NULL) {
		session_close(live_sessions, reason);
	}
	session_reap();
}

void session_free_all(void)
{
	session_reap();
	free_sessions = NULL;
	while (chunks != NULL) {
		struct session_chunk *c = chunks;
		chunks = c->next;
		free(c);
	}
}
