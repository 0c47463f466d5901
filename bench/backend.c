/*
 * bench/backend.c: a mail backend for the benchmarks, fast enough that it is
 * never what limits a run (bench/run shows that with a direct client ->
 * backend run). One process, epoll, non-blocking, no allocation per byte.
 *
 *   backend [-b 127.0.0.1] [-s MSG_BYTES] -l imap=PORT [-l pop3=PORT] [-l smtp=PORT]
 *
 * Every login succeeds. Messages are served from one pattern buffer in
 * memory (80-byte CRLF lines, no line starts with "."), so a download of any
 * size costs no memory; uploads are discarded as they arrive.
 *   IMAP: greeting "* OK", LOGIN (quoted, atoms or synchronising literals as
 *         nginx sends them), SELECT, FETCH (answers BODY[] with a literal of
 *         MSG_BYTES), APPEND (literal discarded), IDLE/DONE, NOOP, LOGOUT.
 *   POP3: USER/PASS, AUTH, STAT, LIST, RETR (MSG_BYTES, "+OK N octets"), QUIT.
 *   SMTP: EHLO/HELO, XCLIENT (220 again, as Postfix), AUTH PLAIN/LOGIN,
 *         MAIL, RCPT, DATA (discarded up to CRLF.CRLF), RSET, NOOP, QUIT.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
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
#include <unistd.h>

#define LINE_CAP 8192            /* longest command line, literals included */
#define OUT_CAP 4096             /* queued reply text */
#define TAG_CAP 64
#define SCRATCH (256u * 1024u)   /* one recv, shared: the loop is single-threaded */
#define SEND_CHUNK (256u * 1024u)
#define PATTERN_LINES 13107u     /* 13107 * 80 = 1048560 bytes */
#define LINE_LEN 80u
#define PATTERN_LEN (PATTERN_LINES * LINE_LEN)
#define MAX_LISTEN 8
#define EV_BATCH 256

enum proto { P_IMAP, P_POP3, P_SMTP };

struct listener {
	int fd;
	enum proto proto;
};

struct conn {
	int fd;
	enum proto proto;
	unsigned interest;          /* EPOLLIN or EPOLLOUT as registered */
	bool closing;               /* close once out is flushed */
	/* line assembly */
	char line[LINE_CAP];
	size_t linelen;
	uint64_t lit_left;          /* IMAP literal bytes still to append to line */
	/* sinks */
	uint64_t sink_left;         /* IMAP APPEND literal bytes to discard */
	bool sink_data;             /* SMTP DATA: discard up to CRLF.CRLF */
	int dot;                    /* -1 mid-line, 0 at BOL, 1 BOL ".", 2 BOL ".\r" */
	char tag[TAG_CAP];          /* IMAP: APPEND/IDLE tag awaiting completion */
	bool idling;
	bool append_pending;        /* IMAP: the literal's end completes APPEND */
	/* bytes received behind a command whose reply is still queued (pipelining) */
	char in[LINE_CAP];
	size_t inlen;
	int smtp_auth_step;         /* AUTH PLAIN/LOGIN continuation lines left */
	/* output: head text, then stream bytes of the pattern, then tail text */
	char out[OUT_CAP];
	size_t olen, ooff;
	uint64_t stream_left, stream_pos;
	char tail[TAG_CAP + 64];
	size_t tlen, toff;
};

static int epfd;
static uint64_t msg_bytes = 16u * 1024u * 1024u;
static char pattern[PATTERN_LEN];
static char scratch[SCRATCH];
static struct listener listeners[MAX_LISTEN];
static int nlisteners;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "backend: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static void set_interest(struct conn *c, unsigned want)
{
	if (c->interest == want) {
		return;
	}
	struct epoll_event ev = { .events = want, .data.ptr = c };
	epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
	c->interest = want;
}

static void conn_free(struct conn *c)
{
	epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
}

static bool out_pending(const struct conn *c)
{
	return c->ooff < c->olen || c->stream_left > 0 || c->toff < c->tlen;
}

static void reply(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void reply(struct conn *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(c->out + c->olen, OUT_CAP - c->olen, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= OUT_CAP - c->olen) {
		c->closing = true; /* a peer pipelining without reading: give up */
		return;
	}
	c->olen += (size_t)n;
}

/* Stream `n` pattern bytes after the head text, then the tail text. */
static void stream(struct conn *c, uint64_t n, const char *tailfmt, ...) __attribute__((format(printf, 3, 4)));

static void stream(struct conn *c, uint64_t n, const char *tailfmt, ...)
{
	c->stream_left = n;
	c->stream_pos = 0;
	va_list ap;
	va_start(ap, tailfmt);
	int r = vsnprintf(c->tail, sizeof(c->tail), tailfmt, ap);
	va_end(ap);
	c->tlen = r > 0 && (size_t)r < sizeof(c->tail) ? (size_t)r : 0;
	c->toff = 0;
}

/* Send what the socket takes. -1: the connection is gone. */
static int flush_out(struct conn *c)
{
	for (;;) {
		const char *p;
		size_t n;
		if (c->ooff < c->olen) {
			p = c->out + c->ooff;
			n = c->olen - c->ooff;
		} else if (c->stream_left > 0) {
			size_t off = (size_t)(c->stream_pos % PATTERN_LEN);
			n = PATTERN_LEN - off;
			if (n > SEND_CHUNK) {
				n = SEND_CHUNK;
			}
			if (n > c->stream_left) {
				n = (size_t)c->stream_left;
			}
			p = pattern + off;
		} else if (c->toff < c->tlen) {
			p = c->tail + c->toff;
			n = c->tlen - c->toff;
		} else {
			c->olen = c->ooff = c->tlen = c->toff = 0;
			return 0;
		}
		ssize_t r = send(c->fd, p, n, MSG_NOSIGNAL);
		if (r < 0) {
			if (errno == EINTR) {
				continue;
			}
			return errno == EAGAIN ? 0 : -1;
		}
		if (c->ooff < c->olen) {
			c->ooff += (size_t)r;
		} else if (c->stream_left > 0) {
			c->stream_left -= (uint64_t)r;
			c->stream_pos += (uint64_t)r;
		} else {
			c->toff += (size_t)r;
		}
	}
}

/* "{123}" or "{123+}" at the end of a line: the literal's size. */
static bool literal_at_end(const char *p, size_t n, uint64_t *size, bool *sync)
{
	if (n < 3 || p[n - 1] != '}') {
		return false;
	}
	size_t i = n - 1;
	*sync = true;
	if (p[i - 1] == '+') {
		*sync = false;
		i--;
	}
	size_t end = i;
	while (i > 0 && p[i - 1] >= '0' && p[i - 1] <= '9') {
		i--;
	}
	if (i == end || i == 0 || p[i - 1] != '{' || end - i > 18) {
		return false;
	}
	uint64_t v = 0;
	for (size_t k = i; k < end; k++) {
		v = v * 10 + (uint64_t)(p[k] - '0');
	}
	*size = v;
	return true;
}

/* Split "tag CMD rest": returns false when there is no command word. */
static bool split_cmd(const char *line, size_t n, struct conn *c, char *cmd, size_t cmdcap, bool tagged)
{
	size_t i = 0;
	if (tagged) {
		while (i < n && line[i] != ' ') {
			i++;
		}
		size_t tl = i < TAG_CAP - 1 ? i : TAG_CAP - 1;
		memcpy(c->tag, line, tl);
		c->tag[tl] = '\0';
		if (i < n) {
			i++;
		}
	}
	size_t k = 0;
	while (i < n && line[i] != ' ' && k + 1 < cmdcap) {
		cmd[k++] = line[i++];
	}
	cmd[k] = '\0';
	return k > 0;
}

static int words(const char *p, size_t n)
{
	int w = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] != ' ' && (i == 0 || p[i - 1] == ' ')) {
			w++;
		}
	}
	return w;
}

static void imap_line(struct conn *c, const char *line, size_t n)
{
	char cmd[32];
	if (c->idling) {
		c->idling = false;
		reply(c, "%s OK IDLE terminated\r\n", c->tag);
		return;
	}
	if (!split_cmd(line, n, c, cmd, sizeof(cmd), true)) {
		reply(c, "* BAD empty command\r\n");
		return;
	}
	if (strcasecmp(cmd, "LOGIN") == 0 || strcasecmp(cmd, "AUTHENTICATE") == 0) {
		reply(c, "%s OK [CAPABILITY IMAP4rev1 IDLE] LOGIN completed\r\n", c->tag);
	} else if (strcasecmp(cmd, "FETCH") == 0 || strcasecmp(cmd, "UID") == 0) {
		reply(c, "* 1 FETCH (BODY[] {%llu}\r\n", (unsigned long long)msg_bytes);
		stream(c, msg_bytes, ")\r\n%s OK FETCH completed\r\n", c->tag);
	} else if (strcasecmp(cmd, "SELECT") == 0 || strcasecmp(cmd, "EXAMINE") == 0) {
		reply(c, "* 1 EXISTS\r\n* 0 RECENT\r\n%s OK [READ-WRITE] SELECT completed\r\n", c->tag);
	} else if (strcasecmp(cmd, "IDLE") == 0) {
		c->idling = true;
		reply(c, "+ idling\r\n");
	} else if (strcasecmp(cmd, "LOGOUT") == 0) {
		reply(c, "* BYE logging out\r\n%s OK LOGOUT completed\r\n", c->tag);
		c->closing = true;
	} else if (strcasecmp(cmd, "CAPABILITY") == 0) {
		reply(c, "* CAPABILITY IMAP4rev1 IDLE\r\n%s OK CAPABILITY completed\r\n", c->tag);
	} else {
		reply(c, "%s OK %s completed\r\n", c->tag, cmd);
	}
}

static void pop3_line(struct conn *c, const char *line, size_t n)
{
	char cmd[32];
	if (c->smtp_auth_step > 0) { /* POP3 AUTH continuation */
		c->smtp_auth_step = 0;
		reply(c, "+OK logged in\r\n");
		return;
	}
	if (!split_cmd(line, n, c, cmd, sizeof(cmd), false)) {
		reply(c, "-ERR empty command\r\n");
		return;
	}
	if (strcasecmp(cmd, "RETR") == 0 || strcasecmp(cmd, "TOP") == 0) {
		reply(c, "+OK %llu octets\r\n", (unsigned long long)msg_bytes);
		stream(c, msg_bytes, ".\r\n");
	} else if (strcasecmp(cmd, "STAT") == 0) {
		reply(c, "+OK 1 %llu\r\n", (unsigned long long)msg_bytes);
	} else if (strcasecmp(cmd, "LIST") == 0) {
		reply(c, "+OK 1 messages\r\n1 %llu\r\n.\r\n", (unsigned long long)msg_bytes);
	} else if (strcasecmp(cmd, "CAPA") == 0) {
		reply(c, "+OK\r\nUSER\r\nSASL PLAIN LOGIN\r\n.\r\n");
	} else if (strcasecmp(cmd, "AUTH") == 0) {
		/* "AUTH PLAIN <ir>" completes at once; without an initial response, one round */
		if (words(line, n) >= 3) {
			reply(c, "+OK logged in\r\n");
		} else {
			c->smtp_auth_step = 1;
			reply(c, "+ \r\n");
		}
	} else if (strcasecmp(cmd, "QUIT") == 0) {
		reply(c, "+OK bye\r\n");
		c->closing = true;
	} else {
		reply(c, "+OK\r\n");
	}
}

static void smtp_line(struct conn *c, const char *line, size_t n)
{
	char cmd[32];
	if (c->smtp_auth_step > 0) {
		c->smtp_auth_step--;
		if (c->smtp_auth_step > 0) {
			reply(c, "334 UGFzc3dvcmQ6\r\n");
		} else {
			reply(c, "235 2.7.0 Authentication successful\r\n");
		}
		return;
	}
	if (!split_cmd(line, n, c, cmd, sizeof(cmd), false)) {
		reply(c, "500 5.5.2 Error: bad syntax\r\n");
		return;
	}
	if (strcasecmp(cmd, "EHLO") == 0) {
		reply(c, "250-bench.test\r\n250-PIPELINING\r\n250-SIZE 0\r\n250-8BITMIME\r\n"
			 "250-XCLIENT ADDR LOGIN NAME HELO PROTO\r\n250 AUTH PLAIN LOGIN\r\n");
	} else if (strcasecmp(cmd, "HELO") == 0) {
		reply(c, "250 bench.test\r\n");
	} else if (strcasecmp(cmd, "XCLIENT") == 0) {
		reply(c, "220 bench.test ESMTP\r\n");
	} else if (strcasecmp(cmd, "AUTH") == 0) {
		bool login = n >= 10 && strncasecmp(line + 5, "LOGIN", 5) == 0;
		bool ir = words(line, n) >= 3;
		if (login) {
			/* AUTH LOGIN [user]: ask for what is missing */
			c->smtp_auth_step = ir ? 1 : 2;
			reply(c, ir ? "334 UGFzc3dvcmQ6\r\n" : "334 VXNlcm5hbWU6\r\n");
		} else if (ir) {
			reply(c, "235 2.7.0 Authentication successful\r\n");
		} else {
			c->smtp_auth_step = 1;
			reply(c, "334 \r\n");
		}
	} else if (strcasecmp(cmd, "DATA") == 0) {
		c->sink_data = true;
		c->dot = 0;
		reply(c, "354 End data with <CR><LF>.<CR><LF>\r\n");
	} else if (strcasecmp(cmd, "QUIT") == 0) {
		reply(c, "221 2.0.0 Bye\r\n");
		c->closing = true;
	} else {
		reply(c, "250 2.0.0 Ok\r\n");
	}
}

/* A complete command line (CRLF stripped, literals folded in). */
static void on_line(struct conn *c, const char *line, size_t n)
{
	switch (c->proto) {
	case P_IMAP:
		imap_line(c, line, n);
		break;
	case P_POP3:
		pop3_line(c, line, n);
		break;
	case P_SMTP:
		smtp_line(c, line, n);
		break;
	}
}

/* SMTP DATA: consume up to and including CRLF.CRLF; returns bytes used. */
static size_t sink_data(struct conn *c, const char *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		if (c->dot >= 0) {
			char ch = p[i++];
			static const char want[] = ".\r\n";
			if (ch == want[c->dot]) {
				if (++c->dot == 3) {
					c->sink_data = false;
					reply(c, "250 2.0.0 Ok: queued\r\n");
					return i;
				}
			} else {
				c->dot = ch == '\n' ? 0 : -1;
			}
			continue;
		}
		const char *nl = memchr(p + i, '\n', n - i);
		if (nl == NULL) {
			return n;
		}
		i = (size_t)(nl - p) + 1;
		c->dot = 0;
	}
	return n;
}

/*
 * Feed received bytes. Lines are processed only while no output is queued,
 * so replies keep their order; what is left waits in c->line... except bulk
 * data, which never needs a reply before it ends.
 * Returns the number of bytes consumed.
 */
static size_t feed(struct conn *c, const char *p, size_t n)
{
	size_t used = 0;
	while (used < n && !c->closing) {
		const char *q = p + used;
		size_t left = n - used;
		if (c->sink_left > 0) {
			size_t k = left < c->sink_left ? left : (size_t)c->sink_left;
			c->sink_left -= k;
			used += k;
			continue;
		}
		if (c->sink_data) {
			used += sink_data(c, q, left);
			continue;
		}
		if (c->lit_left > 0) {
			size_t k = left < c->lit_left ? left : (size_t)c->lit_left;
			if (c->linelen + k > LINE_CAP) {
				c->closing = true;
				break;
			}
			memcpy(c->line + c->linelen, q, k);
			c->linelen += k;
			c->lit_left -= k;
			used += k;
			continue;
		}
		if (out_pending(c)) {
			break; /* wait for the reply to go out before the next command */
		}
		const char *nl = memchr(q, '\n', left);
		size_t take = nl ? (size_t)(nl - q) + 1 : left;
		if (c->linelen + take > LINE_CAP) {
			c->closing = true;
			break;
		}
		memcpy(c->line + c->linelen, q, take);
		c->linelen += take;
		used += take;
		if (nl == NULL) {
			break;
		}
		/* a full line: strip CRLF */
		size_t ln = c->linelen - 1;
		if (ln > 0 && c->line[ln - 1] == '\r') {
			ln--;
		}
		uint64_t lit;
		bool sync;
		if (c->proto == P_IMAP && c->append_pending) {
			c->append_pending = false;
			c->linelen = 0;
			reply(c, "%s OK APPEND completed\r\n", c->tag);
			continue;
		}
		if (c->proto == P_IMAP && literal_at_end(c->line, ln, &lit, &sync)) {
			char cmd[32];
			split_cmd(c->line, ln, c, cmd, sizeof(cmd), true);
			if (strcasecmp(cmd, "APPEND") == 0) {
				/* the message is discarded; the CRLF after it completes the command */
				c->sink_left = lit;
				c->append_pending = true;
				c->linelen = 0;
				if (sync) {
					reply(c, "+ Ready for literal data\r\n");
				}
				continue;
			}
			c->linelen = ln; /* keep the text, drop the CRLF; the literal follows */
			c->lit_left = lit;
			if (sync) {
				reply(c, "+ go ahead\r\n");
			}
			continue;
		}
		on_line(c, c->line, ln);
		c->linelen = 0;
	}
	return used;
}

static void update(struct conn *c)
{
	if (out_pending(c)) {
		set_interest(c, EPOLLOUT);
	} else if (c->closing) {
		conn_free(c);
	} else {
		set_interest(c, EPOLLIN);
	}
}

/* Feed the parked bytes first; park what a queued reply holds back. */
static void feed_all(struct conn *c, const char *p, size_t n)
{
	if (c->inlen > 0) {
		if (n > LINE_CAP - c->inlen) {
			c->closing = true;
			return;
		}
		memcpy(c->in + c->inlen, p, n);
		c->inlen += n;
		size_t used = feed(c, c->in, c->inlen);
		memmove(c->in, c->in + used, c->inlen - used);
		c->inlen -= used;
		return;
	}
	size_t used = feed(c, p, n);
	if (used < n && !c->closing) {
		if (n - used > LINE_CAP) {
			c->closing = true;
			return;
		}
		memcpy(c->in, p + used, n - used);
		c->inlen = n - used;
	}
}

static void on_readable(struct conn *c)
{
	for (int round = 0; round < 16; round++) {
		ssize_t r = recv(c->fd, scratch, SCRATCH, 0);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
			conn_free(c);
			return;
		}
		if (r < 0) {
			break;
		}
		feed_all(c, scratch, (size_t)r);
		if (flush_out(c) < 0) {
			conn_free(c);
			return;
		}
		/* replies went out at once: the parked commands go now */
		while (!out_pending(c) && !c->closing && c->inlen > 0) {
			size_t before = c->inlen;
			feed_all(c, "", 0);
			if (flush_out(c) < 0) {
				conn_free(c);
				return;
			}
			if (c->inlen == before) {
				break;
			}
		}
		if (out_pending(c) || c->closing || (size_t)r < SCRATCH) {
			break;
		}
	}
	update(c);
}

/* Output drained: commands parked behind it go now. */
static void refeed(struct conn *c)
{
	while (!out_pending(c) && !c->closing && c->inlen > 0) {
		size_t before = c->inlen;
		feed_all(c, "", 0);
		if (flush_out(c) < 0) {
			conn_free(c);
			return;
		}
		if (c->inlen == before) {
			break;
		}
	}
	update(c);
}

static void on_writable(struct conn *c)
{
	if (flush_out(c) < 0) {
		conn_free(c);
		return;
	}
	if (!out_pending(c)) {
		refeed(c);
		return;
	}
	update(c);
}

static void greet(struct conn *c)
{
	switch (c->proto) {
	case P_IMAP:
		reply(c, "* OK bench backend ready\r\n");
		break;
	case P_POP3:
		reply(c, "+OK bench backend ready\r\n");
		break;
	case P_SMTP:
		reply(c, "220 bench.test ESMTP\r\n");
		break;
	}
}

static void on_accept(struct listener *l)
{
	for (;;) {
		int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			return;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct conn *c = calloc(1, sizeof(*c));
		if (c == NULL) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->proto = l->proto;
		c->dot = -1;
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
			close(fd);
			free(c);
			continue;
		}
		c->interest = EPOLLIN;
		greet(c);
		if (flush_out(c) < 0) {
			conn_free(c);
			continue;
		}
		update(c);
	}
}

static int listen_on(const char *ip, int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
		die("bad address %s", ip);
	}
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 4096) != 0) {
		die("bind/listen %s:%d: %s", ip, port, strerror(errno));
	}
	return fd;
}

static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	const char *ip = "127.0.0.1";
	int opt;
	struct { enum proto proto; int port; } want[MAX_LISTEN];
	int nwant = 0;
	while ((opt = getopt(argc, argv, "b:s:l:")) != -1) {
		switch (opt) {
		case 'b':
			ip = optarg;
			break;
		case 's':
			msg_bytes = strtoull(optarg, NULL, 10);
			msg_bytes -= msg_bytes % LINE_LEN; /* whole lines, so POP3's ".\r\n" ends it */
			break;
		case 'l': {
			char *eq = strchr(optarg, '=');
			if (eq == NULL || nwant == MAX_LISTEN) {
				die("-l PROTO=PORT");
			}
			*eq = '\0';
			enum proto p = strcmp(optarg, "imap") == 0 ? P_IMAP
				       : strcmp(optarg, "pop3") == 0 ? P_POP3
				       : strcmp(optarg, "smtp") == 0 ? P_SMTP : (die("unknown protocol %s", optarg), P_IMAP);
			want[nwant].proto = p;
			want[nwant].port = atoi(eq + 1);
			nwant++;
			break;
		}
		default:
			die("usage: backend [-b IP] [-s MSG_BYTES] -l imap=PORT [-l pop3=PORT] [-l smtp=PORT]");
		}
	}
	if (nwant == 0) {
		die("nothing to listen on (-l imap=PORT)");
	}
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	for (size_t i = 0; i < PATTERN_LINES; i++) {
		char *l = pattern + i * LINE_LEN;
		memset(l, 'a' + (int)(i % 26), LINE_LEN - 2);
		l[LINE_LEN - 2] = '\r';
		l[LINE_LEN - 1] = '\n';
	}
	epfd = epoll_create1(EPOLL_CLOEXEC);
	for (int i = 0; i < nwant; i++) {
		listeners[i].fd = listen_on(ip, want[i].port);
		listeners[i].proto = want[i].proto;
		/* listeners are told apart from connections by the low pointer bit */
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = ((uint64_t)i << 1) | 1 };
		epoll_ctl(epfd, EPOLL_CTL_ADD, listeners[i].fd, &ev);
	}
	nlisteners = nwant;
	for (;;) {
		struct epoll_event evs[EV_BATCH];
		int n = epoll_wait(epfd, evs, EV_BATCH, -1);
		if (n < 0 && errno != EINTR) {
			die("epoll_wait: %s", strerror(errno));
		}
		for (int i = 0; i < n; i++) {
			if (evs[i].data.u64 & 1) {
				on_accept(&listeners[evs[i].data.u64 >> 1]);
				continue;
			}
			struct conn *c = evs[i].data.ptr;
			if (c->interest == EPOLLOUT) {
				on_writable(c);
			} else {
				on_readable(c);
			}
		}
	}
}
