/*
 * bench/loadgen.c: the load generator for the benchmarks. One process, epoll,
 * non-blocking sockets, thousands of connections; TLS through OpenSSL when
 * built with -DLG_TLS (-lssl -lcrypto).
 *
 *   loadgen -m MODE -P PROTO -a IP:PORT [-c CONC] [-t SECS] [-n COUNT] [-s BYTES]
 *           [-u USER] [-w PASS] [-L] [-T] [-R] [-G GROUPS] [-V 1.2|1.3] [-C CIPHERS]
 *
 * Modes (each slot of the -c concurrency runs them back to back for -t seconds,
 * then in-flight work is finished and counted):
 *   sessions   connect, greeting, login, logout, wait for the server to close
 *              (IMAP "a LOGIN" / "b LOGOUT"; POP3 USER/PASS/QUIT; SMTP EHLO,
 *              AUTH PLAIN, QUIT). -n stops after COUNT sessions instead.
 *   download   log in once, then IMAP "FETCH 1 BODY[]" or POP3 "RETR 1" again
 *              and again; counts the message bytes.
 *   upload     log in once, then IMAP APPEND of -s BYTES or SMTP MAIL/RCPT/DATA
 *              of -s BYTES again and again.
 *   idle       open -n COUNT connections, at most -c at a time being set up, and
 *              hold them: pre-auth (after the greeting) or, with -L, logged in.
 *              Prints "ready ..." once all are held, then holds until stdin
 *              closes (or -t seconds).
 *   handshake  implicit TLS: handshake, read the greeting, close. -R resumes
 *              the slot's previous session (full handshake the first time).
 *
 * Output: one line of key=value pairs on stdout, e.g.
 *   mode=sessions proto=imap tls=0 conc=64 ok=51234 err=0 secs=3.002 rate=17066.4
 *   p50_us=3512 p99_us=6020 bytes=0 mbps=0.0
 * (MB = 10^6 bytes). Exit status 1 when nothing succeeded.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifdef LG_TLS
#include <openssl/err.h>
#include <openssl/ssl.h>
#endif

#define IN_CAP 4096               /* reply lines; bodies never go here */
#define OUT_CAP 1024              /* one command */
#define SCRATCH (256u * 1024u)
#define SEND_CHUNK (256u * 1024u)
#define LINE_LEN 80u
#define PATTERN_LINES 13107u
#define PATTERN_LEN (PATTERN_LINES * LINE_LEN)
#define EV_BATCH 512
#define DRAIN_MS 10000            /* after -t: time allowed to finish in-flight work */
#define ERR_ABORT 10000           /* give up when this many fail and none succeed */

enum mode { M_SESSIONS, M_DOWNLOAD, M_UPLOAD, M_IDLE, M_HANDSHAKE };
enum proto { P_IMAP, P_POP3, P_SMTP };

enum state {
	S_CONNECTING,
	S_TLS,
	S_GREETING,
	S_LOGIN,        /* IMAP: tagged reply to LOGIN */
	S_USER,         /* POP3 */
	S_PASS,
	S_EHLO,         /* SMTP: multi-line 250 */
	S_AUTH,         /* SMTP: 235 */
	S_HOLD,         /* idle */
	S_FETCH_HDR,    /* IMAP literal header / POP3 "+OK N octets" */
	S_BODY,         /* skipping the message */
	S_FETCH_TAIL,   /* IMAP tagged OK / POP3 "." */
	S_APPEND_CONT,  /* IMAP "+" */
	S_SEND_BODY,    /* upload: the body is going out */
	S_APPEND_DONE,  /* IMAP tagged OK / SMTP 250 after the dot */
	S_MAIL,
	S_RCPT,
	S_DATA,
	S_LOGOUT,       /* wait for the server to close */
};

struct conn {
	int fd;
	enum state st;
	unsigned interest;
	uint64_t t0;                /* ns at connect() */
	char in[IN_CAP];
	size_t inlen;
	char out[OUT_CAP];
	size_t olen, ooff;
	uint64_t body_left, body_pos; /* upload: pattern bytes still to send */
	const char *tail;           /* after the body: "\r\n" (IMAP) or ".\r\n" (SMTP) */
	size_t tail_len, tail_off;
	uint64_t skip_left;         /* download: message bytes still to come */
	int slot;
	bool held;                  /* idle: counted in nheld */
#ifdef LG_TLS
	SSL *ssl;
#endif
};

/* options */
static enum mode mode = M_SESSIONS;
static enum proto proto = P_IMAP;
static struct sockaddr_in target;
static int conc = 1;
static double secs = 3.0;
static long count = 0;
static uint64_t body_bytes = 16u * 1024u * 1024u;
static const char *user = "bench", *pass = "benchpw";
static bool use_tls, resume, logged_in_idle;
#ifdef LG_TLS
static SSL_CTX *ctx;
static SSL_SESSION **slot_sess;
static char tls_info[128];
#endif

/* run state */
static int epfd;
static char scratch[SCRATCH];
static char pattern[PATTERN_LEN];
static bool running = true;
static uint64_t t_start, t_last_done;
static long nok, nerr, nresumed, nopen, nheld, nstarted;
static uint64_t nbytes;
static uint32_t *lat;
static size_t nlat, lat_cap;
static int slots_active;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "loadgen: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void record_latency(uint64_t ns)
{
	if (nlat == lat_cap) {
		lat_cap = lat_cap ? lat_cap * 2 : 65536;
		lat = realloc(lat, lat_cap * sizeof(*lat));
		if (lat == NULL) {
			die("out of memory");
		}
	}
	uint64_t us = ns / 1000u;
	lat[nlat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static void set_interest(struct conn *c, unsigned want)
{
	if (c->interest == want) {
		return;
	}
	struct epoll_event ev = { .events = want, .data.ptr = c };
	if (epoll_ctl(epfd, c->interest ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &ev) != 0) {
		die("epoll_ctl: %s", strerror(errno));
	}
	c->interest = want;
}

/* ---- byte stream (plain or TLS) ---- */

enum { IO_AGAIN_R = -1, IO_AGAIN_W = -2, IO_ERR = -3 };

static ssize_t c_read(struct conn *c, void *p, size_t n)
{
#ifdef LG_TLS
	if (c->ssl != NULL) {
		int r = SSL_read(c->ssl, p, (int)(n > INT32_MAX ? INT32_MAX : n));
		if (r > 0) {
			return r;
		}
		int e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ) {
			return IO_AGAIN_R;
		}
		if (e == SSL_ERROR_WANT_WRITE) {
			return IO_AGAIN_W;
		}
		if (e == SSL_ERROR_ZERO_RETURN) {
			return 0;
		}
		ERR_clear_error();
		return (e == SSL_ERROR_SYSCALL && r == 0) ? 0 : IO_ERR;
	}
#endif
	ssize_t r = recv(c->fd, p, n, 0);
	if (r >= 0) {
		return r;
	}
	return errno == EAGAIN || errno == EINTR ? IO_AGAIN_R : IO_ERR;
}

static ssize_t c_write(struct conn *c, const void *p, size_t n)
{
#ifdef LG_TLS
	if (c->ssl != NULL) {
		int r = SSL_write(c->ssl, p, (int)(n > INT32_MAX ? INT32_MAX : n));
		if (r > 0) {
			return r;
		}
		int e = SSL_get_error(c->ssl, r);
		ERR_clear_error();
		return e == SSL_ERROR_WANT_WRITE ? IO_AGAIN_W : e == SSL_ERROR_WANT_READ ? IO_AGAIN_R : IO_ERR;
	}
#endif
	ssize_t r = send(c->fd, p, n, MSG_NOSIGNAL);
	if (r >= 0) {
		return r;
	}
	return errno == EAGAIN || errno == EINTR ? IO_AGAIN_W : IO_ERR;
}

/* ---- connection lifetime ---- */

static void start_conn(int slot);

static void conn_close(struct conn *c)
{
#ifdef LG_TLS
	if (c->ssl != NULL) {
		/* no close_notify, but keep the session resumable */
		SSL_set_shutdown(c->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
		SSL_free(c->ssl);
	}
#endif
	epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	nopen--;
	free(c);
}

/*
 * The connection is done with, ok or not. A session or handshake counts as
 * one success; download and upload connections count their operations in
 * op_done() and end with ok = false and `counted` set. The slot then starts
 * over, or retires once the run is over.
 */
static void finish_conn(struct conn *c, bool ok, bool counted)
{
	int slot = c->slot;
	uint64_t t = now_ns();
	if (c->held) {
		nheld--;
	}
	if (!counted) {
		if (ok) {
			nok++;
			t_last_done = t;
			if (mode == M_SESSIONS || mode == M_HANDSHAKE) {
				record_latency(t - c->t0);
			}
		} else {
			nerr++;
			if (nerr >= ERR_ABORT && nok == 0) {
				running = false;
			}
		}
	}
	conn_close(c);
	if (count > 0 && (mode == M_SESSIONS || mode == M_HANDSHAKE) && nstarted >= count) {
		running = false;
	}
	bool again = running && (mode == M_SESSIONS || mode == M_HANDSHAKE || !(ok || counted));
	if (again) {
		start_conn(slot);
	} else if (mode != M_IDLE) {
		slots_active--;
	}
}

static void finish(struct conn *c, bool ok)
{
	finish_conn(c, ok, false);
}

static void fail(struct conn *c, const char *why)
{
	static int shown;
	if (shown < 3) {
		int n = (int)(c->inlen > 120 ? 120 : c->inlen);
		fprintf(stderr, "loadgen: slot %d: %s (state %d, last input \"%.*s\")\n", c->slot, why, c->st,
			n, c->in);
		shown++;
	}
	finish(c, false);
}

static void queue_cmd(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void queue_cmd(struct conn *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(c->out, OUT_CAP, fmt, ap);
	va_end(ap);
	c->olen = n > 0 && n < OUT_CAP ? (size_t)n : 0;
	c->ooff = 0;
}

static void queue_body(struct conn *c, uint64_t n, const char *tail)
{
	c->body_left = n;
	c->body_pos = 0;
	c->tail = tail;
	c->tail_len = strlen(tail);
	c->tail_off = 0;
}

static bool out_pending(const struct conn *c)
{
	return c->ooff < c->olen || c->body_left > 0 || c->tail_off < c->tail_len;
}

/* Returns IO_ERR, IO_AGAIN_* or 0 when everything went. */
static int flush_out(struct conn *c)
{
	for (;;) {
		const char *p;
		size_t n;
		int part;
		if (c->ooff < c->olen) {
			p = c->out + c->ooff;
			n = c->olen - c->ooff;
			part = 0;
		} else if (c->body_left > 0) {
			size_t off = (size_t)(c->body_pos % PATTERN_LEN);
			n = PATTERN_LEN - off;
			n = n > SEND_CHUNK ? SEND_CHUNK : n;
			n = n > c->body_left ? (size_t)c->body_left : n;
			p = pattern + off;
			part = 1;
		} else if (c->tail_off < c->tail_len) {
			p = c->tail + c->tail_off;
			n = c->tail_len - c->tail_off;
			part = 2;
		} else {
			c->olen = c->ooff = 0;
			c->tail_len = c->tail_off = 0;
			return 0;
		}
		ssize_t r = c_write(c, p, n);
		if (r < 0) {
			return (int)r;
		}
		if (part == 0) {
			c->ooff += (size_t)r;
		} else if (part == 1) {
			c->body_left -= (uint64_t)r;
			c->body_pos += (uint64_t)r;
			nbytes += (uint64_t)r;
		} else {
			c->tail_off += (size_t)r;
		}
	}
}

/* ---- the dialogue ---- */

static void b64(const unsigned char *src, size_t n, char *dst)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)src[i] << 16;
		if (i + 1 < n) {
			v |= (unsigned)src[i + 1] << 8;
		}
		if (i + 2 < n) {
			v |= src[i + 2];
		}
		dst[o++] = t[(v >> 18) & 63];
		dst[o++] = t[(v >> 12) & 63];
		dst[o++] = i + 1 < n ? t[(v >> 6) & 63] : '=';
		dst[o++] = i + 2 < n ? t[v & 63] : '=';
	}
	dst[o] = '\0';
}

static void send_login(struct conn *c)
{
	switch (proto) {
	case P_IMAP:
		queue_cmd(c, "a LOGIN %s %s\r\n", user, pass);
		c->st = S_LOGIN;
		break;
	case P_POP3:
		queue_cmd(c, "USER %s\r\n", user);
		c->st = S_USER;
		break;
	case P_SMTP:
		queue_cmd(c, "EHLO loadgen.test\r\n");
		c->st = S_EHLO;
		break;
	}
}

static void send_logout(struct conn *c)
{
	queue_cmd(c, proto == P_IMAP ? "b LOGOUT\r\n" : "QUIT\r\n");
	c->st = S_LOGOUT;
}

/* Next operation on a logged-in connection, or the end of it.
 * False when c was finished (freed). */
static bool next_op(struct conn *c)
{
	if (mode == M_IDLE) {
		c->st = S_HOLD;
		c->held = true;
		nheld++;
		return true;
	}
	if (mode == M_SESSIONS) {
		send_logout(c);
		return true;
	}
	if (!running) {
		/* the last operation is done: this slot's run is over */
		finish_conn(c, false, true);
		return false;
	}
	if (mode == M_DOWNLOAD) {
		queue_cmd(c, proto == P_IMAP ? "c FETCH 1 BODY[]\r\n" : "RETR 1\r\n");
		c->st = S_FETCH_HDR;
		return true;
	}
	if (proto == P_IMAP) {
		queue_cmd(c, "d APPEND INBOX {%llu}\r\n", (unsigned long long)body_bytes);
		c->st = S_APPEND_CONT;
	} else {
		queue_cmd(c, "MAIL FROM:<loadgen@bench.test>\r\n");
		c->st = S_MAIL;
	}
	return true;
}

static bool starts(const char *line, size_t n, const char *p)
{
	size_t k = strlen(p);
	return n >= k && memcmp(line, p, k) == 0;
}

/* An operation (one download or upload) completed. False if c was finished. */
static bool op_done(struct conn *c)
{
	nok++;
	t_last_done = now_ns();
	return next_op(c);
}

/* One complete line (CRLF stripped). Returns false if c was finished. */
static bool on_line(struct conn *c, const char *l, size_t n)
{
	switch (c->st) {
	case S_GREETING:
		if (proto == P_SMTP && starts(l, n, "220-")) {
			return true;
		}
		if (!(proto == P_IMAP ? starts(l, n, "* OK") : proto == P_POP3 ? starts(l, n, "+OK")
										 : starts(l, n, "220 "))) {
			fail(c, "bad greeting");
			return false;
		}
		if (mode == M_HANDSHAKE || (mode == M_IDLE && !logged_in_idle)) {
			if (mode == M_HANDSHAKE) {
				finish(c, true);
				return false;
			}
			c->st = S_HOLD;
			c->held = true;
			nheld++;
			return true;
		}
		send_login(c);
		return true;
	case S_LOGIN:
		if (starts(l, n, "* ")) {
			return true;
		}
		if (!starts(l, n, "a OK")) {
			fail(c, "login refused");
			return false;
		}
		return next_op(c);
	case S_USER:
	case S_PASS:
		if (!starts(l, n, "+OK")) {
			fail(c, "login refused");
			return false;
		}
		if (c->st == S_USER) {
			queue_cmd(c, "PASS %s\r\n", pass);
			c->st = S_PASS;
			return true;
		}
		return next_op(c);
	case S_EHLO:
		if (starts(l, n, "250-")) {
			return true;
		}
		if (!starts(l, n, "250 ")) {
			fail(c, "EHLO refused");
			return false;
		}
		{
			unsigned char raw[512];
			char enc[700];
			size_t ul = strlen(user), pl = strlen(pass);
			if (ul + pl + 2 > sizeof(raw)) {
				die("user/password too long");
			}
			raw[0] = '\0';
			memcpy(raw + 1, user, ul);
			raw[1 + ul] = '\0';
			memcpy(raw + 2 + ul, pass, pl);
			b64(raw, ul + pl + 2, enc);
			queue_cmd(c, "AUTH PLAIN %s\r\n", enc);
			c->st = S_AUTH;
		}
		return true;
	case S_AUTH:
		if (!starts(l, n, "235")) {
			fail(c, "AUTH refused");
			return false;
		}
		return next_op(c);
	case S_FETCH_HDR: {
		if (proto == P_IMAP) {
			const char *lb = n > 0 && l[n - 1] == '}' ? memrchr(l, '{', n) : NULL;
			if (lb == NULL) {
				if (starts(l, n, "c ")) {
					fail(c, "FETCH refused");
					return false;
				}
				return true;
			}
			c->skip_left = strtoull(lb + 1, NULL, 10);
		} else {
			if (!starts(l, n, "+OK ")) {
				fail(c, "RETR refused");
				return false;
			}
			c->skip_left = strtoull(l + 4, NULL, 10);
		}
		c->st = c->skip_left > 0 ? S_BODY : S_FETCH_TAIL;
		return true;
	}
	case S_FETCH_TAIL:
		if (proto == P_IMAP) {
			if (!starts(l, n, "c ")) {
				return true; /* the ")" closing the FETCH response */
			}
			if (!starts(l, n, "c OK")) {
				fail(c, "FETCH failed");
				return false;
			}
		} else if (!(n == 1 && l[0] == '.')) {
			fail(c, "RETR not terminated");
			return false;
		}
		return op_done(c);
	case S_APPEND_CONT:
		if (!starts(l, n, "+")) {
			fail(c, "APPEND refused");
			return false;
		}
		queue_body(c, body_bytes, "\r\n");
		c->st = S_SEND_BODY;
		return true;
	case S_MAIL:
	case S_RCPT:
		if (!starts(l, n, "250")) {
			fail(c, "MAIL/RCPT refused");
			return false;
		}
		if (c->st == S_MAIL) {
			queue_cmd(c, "RCPT TO:<sink@bench.test>\r\n");
			c->st = S_RCPT;
		} else {
			queue_cmd(c, "DATA\r\n");
			c->st = S_DATA;
		}
		return true;
	case S_DATA:
		if (!starts(l, n, "354")) {
			fail(c, "DATA refused");
			return false;
		}
		queue_body(c, body_bytes, ".\r\n");
		c->st = S_SEND_BODY;
		return true;
	case S_SEND_BODY:
	case S_APPEND_DONE:
		if (proto == P_IMAP && !starts(l, n, "d ")) {
			return true;
		}
		if (proto == P_IMAP ? !starts(l, n, "d OK") : !starts(l, n, "250")) {
			fail(c, "upload refused");
			return false;
		}
		return op_done(c);
	case S_LOGOUT:
	case S_HOLD:
		return true; /* BYE, tagged OK, +OK, 221: wait for the close */
	default:
		fail(c, "unexpected input");
		return false;
	}
}

/* Received bytes: skip message bodies, frame lines. False if c was finished. */
static bool feed(struct conn *c, const char *p, size_t n)
{
	while (n > 0) {
		if (c->st == S_BODY) {
			size_t k = n < c->skip_left ? n : (size_t)c->skip_left;
			c->skip_left -= k;
			nbytes += k;
			p += k;
			n -= k;
			if (c->skip_left == 0) {
				c->st = S_FETCH_TAIL;
			}
			continue;
		}
		const char *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) + 1 : n;
		if (c->inlen + take > IN_CAP) {
			fail(c, "reply line too long");
			return false;
		}
		memcpy(c->in + c->inlen, p, take);
		c->inlen += take;
		p += take;
		n -= take;
		if (nl == NULL) {
			break;
		}
		size_t ln = c->inlen - 1;
		if (ln > 0 && c->in[ln - 1] == '\r') {
			ln--;
		}
		c->inlen = 0;
		if (!on_line(c, c->in, ln)) {
			return false;
		}
	}
	return true;
}

/* Derive interest from the state; flush what is queued. False if finished. */
static bool pump_out(struct conn *c)
{
	int r = flush_out(c);
	if (r == IO_ERR) {
		fail(c, "write error");
		return false;
	}
	unsigned want = EPOLLIN;
	if (r == IO_AGAIN_W) {
		want = EPOLLOUT;
		if (c->st != S_SEND_BODY) {
			want |= EPOLLIN;
		}
	}
	if (c->st == S_SEND_BODY && r == 0) {
		c->st = S_APPEND_DONE;
	}
	set_interest(c, want);
	return true;
}

static void on_readable(struct conn *c)
{
	for (int round = 0; round < 64; round++) {
		ssize_t r = c_read(c, scratch, SCRATCH);
		if (r == 0) {
			if (c->st == S_LOGOUT) {
				finish(c, true);
			} else {
				fail(c, "server closed");
			}
			return;
		}
		if (r == IO_ERR) {
			fail(c, "read error");
			return;
		}
		if (r < 0) {
			break;
		}
		if (!feed(c, scratch, (size_t)r)) {
			return;
		}
		if (!use_tls && (size_t)r < SCRATCH) {
			break;
		}
	}
	pump_out(c);
}

#ifdef LG_TLS
static void tls_step(struct conn *c)
{
	int r = SSL_connect(c->ssl);
	if (r == 1) {
		if (SSL_session_reused(c->ssl)) {
			nresumed++;
		}
		if (tls_info[0] == '\0') {
			int g = SSL_get_negotiated_group(c->ssl);
			const char *gn = g > 0 ? OBJ_nid2sn(g & ~TLSEXT_nid_unknown) : NULL;
			snprintf(tls_info, sizeof(tls_info), "tls_version=%s cipher=%s group=%s", SSL_get_version(c->ssl),
				 SSL_get_cipher_name(c->ssl), gn != NULL ? gn : "?");
		}
		if (resume) {
			SSL_SESSION *s = SSL_get1_session(c->ssl);
			if (slot_sess[c->slot] != NULL) {
				SSL_SESSION_free(slot_sess[c->slot]);
			}
			slot_sess[c->slot] = s;
		}
		c->st = S_GREETING;
		on_readable(c);
		return;
	}
	int e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ) {
		set_interest(c, EPOLLIN);
	} else if (e == SSL_ERROR_WANT_WRITE) {
		set_interest(c, EPOLLOUT);
	} else {
		static int shown;
		if (shown++ < 3) {
			char buf[256];
			ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
			fprintf(stderr, "loadgen: TLS handshake failed: %s\n", buf);
		}
		ERR_clear_error();
		fail(c, "TLS handshake failed");
	}
}
#endif

static void connected(struct conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);
	getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
	if (err != 0) {
		fail(c, "connect failed");
		return;
	}
#ifdef LG_TLS
	if (use_tls) {
		c->ssl = SSL_new(ctx);
		SSL_set_fd(c->ssl, c->fd);
		if (resume && slot_sess[c->slot] != NULL) {
			SSL_set_session(c->ssl, slot_sess[c->slot]);
		}
		c->st = S_TLS;
		tls_step(c);
		return;
	}
#endif
	c->st = S_GREETING;
	set_interest(c, EPOLLIN);
}

static void on_event(struct conn *c, uint32_t ev)
{
	switch (c->st) {
	case S_CONNECTING:
		connected(c);
		return;
#ifdef LG_TLS
	case S_TLS:
		tls_step(c);
		return;
#endif
	default:
		break;
	}
	if ((ev & EPOLLOUT) && out_pending(c)) {
		if (!pump_out(c)) {
			return;
		}
		if (!(ev & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
			return;
		}
	}
	on_readable(c);
}

static void start_conn(int slot)
{
	struct conn *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		die("out of memory");
	}
	c->slot = slot;
	c->t0 = now_ns();
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		die("socket: %s", strerror(errno));
	}
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	nopen++;
	nstarted++;
	c->st = S_CONNECTING;
	if (connect(c->fd, (struct sockaddr *)&target, sizeof(target)) != 0 && errno != EINPROGRESS) {
		/* immediate failure: report through the normal path */
		set_interest(c, EPOLLOUT);
		return;
	}
	set_interest(c, EPOLLOUT);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static const char *mode_name(void)
{
	static const char *const n[] = { "sessions", "download", "upload", "idle", "handshake" };
	return n[mode];
}

static void report(const char *prefix, uint64_t t_end)
{
	double el = (double)(t_end - t_start) / 1e9;
	if (el <= 0) {
		el = 1e-9;
	}
	uint32_t p50 = 0, p99 = 0;
	if (nlat > 0) {
		qsort(lat, nlat, sizeof(*lat), cmp_u32);
		p50 = lat[nlat / 2];
		p99 = lat[(nlat * 99) / 100 < nlat ? (nlat * 99) / 100 : nlat - 1];
	}
	static const char *const pn[] = { "imap", "pop3", "smtp" };
	printf("%smode=%s proto=%s tls=%d conc=%d ok=%ld err=%ld secs=%.3f rate=%.1f p50_us=%u p99_us=%u "
	       "bytes=%llu mbps=%.1f resumed=%ld held=%ld",
	       prefix, mode_name(), pn[proto], use_tls, conc, nok, nerr, el, (double)nok / el, p50, p99,
	       (unsigned long long)nbytes, (double)nbytes / el / 1e6, nresumed, nheld);
#ifdef LG_TLS
	if (tls_info[0] != '\0') {
		printf(" %s", tls_info);
	}
#endif
	printf("\n");
	fflush(stdout);
}

static void usage(void)
{
	die("usage: loadgen -m sessions|download|upload|idle|handshake -P imap|pop3|smtp -a IP:PORT\n"
	    "  [-c CONC] [-t SECS] [-n COUNT] [-s BYTES] [-u USER] [-w PASS] [-L] [-T] [-R] [-G GROUPS] [-V 1.2|1.3] [-C CIPHERS]");
}

int main(int argc, char **argv)
{
	const char *addr = NULL, *groups = NULL, *maxver = NULL, *ciphers = NULL;
	int opt;
	while ((opt = getopt(argc, argv, "m:P:a:c:t:n:s:u:w:LTRG:V:C:")) != -1) {
		switch (opt) {
		case 'm':
			mode = !strcmp(optarg, "sessions")    ? M_SESSIONS
			       : !strcmp(optarg, "download")  ? M_DOWNLOAD
			       : !strcmp(optarg, "upload")    ? M_UPLOAD
			       : !strcmp(optarg, "idle")      ? M_IDLE
			       : !strcmp(optarg, "handshake") ? M_HANDSHAKE
							      : (usage(), M_SESSIONS);
			break;
		case 'P':
			proto = !strcmp(optarg, "imap") ? P_IMAP : !strcmp(optarg, "pop3") ? P_POP3
				: !strcmp(optarg, "smtp") ? P_SMTP : (usage(), P_IMAP);
			break;
		case 'a':
			addr = optarg;
			break;
		case 'c':
			conc = atoi(optarg);
			break;
		case 't':
			secs = atof(optarg);
			break;
		case 'n':
			count = atol(optarg);
			break;
		case 's':
			body_bytes = strtoull(optarg, NULL, 10);
			break;
		case 'u':
			user = optarg;
			break;
		case 'w':
			pass = optarg;
			break;
		case 'L':
			logged_in_idle = true;
			break;
		case 'T':
			use_tls = true;
			break;
		case 'R':
			resume = true;
			break;
		case 'G':
			groups = optarg;
			break;
		case 'V':
			maxver = optarg;
			break;
		case 'C':
			ciphers = optarg;
			break;
		default:
			usage();
		}
	}
	if (addr == NULL || conc < 1) {
		usage();
	}
	{
		char host[64];
		const char *colon = strrchr(addr, ':');
		if (colon == NULL || (size_t)(colon - addr) >= sizeof(host)) {
			usage();
		}
		memcpy(host, addr, (size_t)(colon - addr));
		host[colon - addr] = '\0';
		target.sin_family = AF_INET;
		target.sin_port = htons((uint16_t)atoi(colon + 1));
		if (inet_pton(AF_INET, host, &target.sin_addr) != 1) {
			die("bad address %s", addr);
		}
	}
	if (mode == M_UPLOAD && proto == P_POP3) {
		die("POP3 has no upload");
	}
	if (mode == M_DOWNLOAD && proto == P_SMTP) {
		die("SMTP has no download");
	}
	if ((mode == M_HANDSHAKE || resume) && !use_tls) {
		die("handshake mode and -R need -T");
	}
#ifdef LG_TLS
	if (use_tls) {
		ctx = SSL_CTX_new(TLS_client_method());
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		/* sessions are kept per slot by us, not in the context's cache */
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
		SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
		if (groups != NULL && SSL_CTX_set1_groups_list(ctx, groups) != 1) {
			die("bad -G %s", groups);
		}
		if (ciphers != NULL && SSL_CTX_set_cipher_list(ctx, ciphers) != 1) {
			die("bad -C %s", ciphers);
		}
		if (maxver != NULL) {
			SSL_CTX_set_max_proto_version(ctx, !strcmp(maxver, "1.2") ? TLS1_2_VERSION : TLS1_3_VERSION);
		}
		slot_sess = calloc((size_t)(mode == M_IDLE ? (count > 0 ? count : 1) : conc), sizeof(*slot_sess));
	}
#else
	(void)groups;
	(void)maxver;
	(void)ciphers;
	if (use_tls) {
		die("built without TLS (cc -DLG_TLS ... -lssl -lcrypto)");
	}
#endif
	signal(SIGPIPE, SIG_IGN);
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	body_bytes -= body_bytes % LINE_LEN; /* whole lines: SMTP's dot must start a line */
	for (size_t i = 0; i < PATTERN_LINES; i++) {
		char *l = pattern + i * LINE_LEN;
		memset(l, 'A' + (int)(i % 26), LINE_LEN - 2);
		l[LINE_LEN - 2] = '\r';
		l[LINE_LEN - 1] = '\n';
	}
	epfd = epoll_create1(EPOLL_CLOEXEC);
	t_start = now_ns();
	uint64_t deadline = t_start + (uint64_t)(secs * 1e9);
	uint64_t drain_end = 0;
	bool ready_said = false;
	int slot_next = 0;
	if (mode == M_IDLE) {
		if (count <= 0) {
			die("idle needs -n COUNT");
		}
		/* -c bounds the connections being set up at once */
		for (; slot_next < conc && slot_next < count; slot_next++) {
			start_conn(slot_next);
		}
		slots_active = (int)count;
	} else {
		for (int i = 0; i < conc; i++) {
			start_conn(i);
		}
		slots_active = conc;
	}
	for (;;) {
		struct epoll_event evs[EV_BATCH];
		uint64_t now = now_ns();
		int timeout = 100;
		int n = epoll_wait(epfd, evs, EV_BATCH, timeout);
		if (n < 0 && errno != EINTR) {
			die("epoll_wait: %s", strerror(errno));
		}
		for (int i = 0; i < n; i++) {
			on_event(evs[i].data.ptr, evs[i].events);
		}
		now = now_ns();
		if (mode == M_IDLE) {
			/* keep -c connections in set-up until COUNT are open */
			while (slot_next < count && nopen - nheld < conc && running) {
				start_conn(slot_next++);
			}
			if (!ready_said && nheld >= count) {
				ready_said = true;
				t_last_done = now;
				report("ready ", now);
				deadline = now + (uint64_t)(secs * 1e9);
			}
			if (ready_said) {
				struct pollfd pfd = { .fd = 0, .events = POLLIN };
				char b[64];
				bool stdin_closed = poll(&pfd, 1, 0) == 1 && read(0, b, sizeof(b)) <= 0;
				if (stdin_closed || now >= deadline) {
					report("", t_last_done);
					return 0;
				}
			} else if (nerr >= ERR_ABORT || now >= t_start + 600ull * 1000000000u) {
				report("", now);
				return 1;
			}
			continue;
		}
		if (running && now >= deadline && count == 0) {
			running = false;
		}
		if (!running && drain_end == 0) {
			drain_end = now + (uint64_t)DRAIN_MS * 1000000u;
		}
		if (slots_active <= 0 || nopen == 0 || (drain_end != 0 && now >= drain_end)) {
			break;
		}
	}
	report("", t_last_done ? t_last_done : now_ns());
	return nok > 0 ? 0 : 1;
}
