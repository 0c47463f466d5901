/*
 * bench/authd.c: an auth_http server for the benchmarks. Every request gets
 * "Auth-Status: OK" and the backend for its Auth-Protocol. One process,
 * epoll, non-blocking; a Python server would be the bottleneck.
 *
 *   authd [-b 127.0.0.1] -l PORT [-B BACKEND_IP] -p imap=PORT [-p pop3=PORT] [-p smtp=PORT]
 *
 * Keep-alive as nginx's peers see it: a request carrying "Connection:
 * keep-alive" gets a keep-alive reply with "Content-Length: 0" and the
 * connection stays open for the next request; any other request (nginx
 * sends HTTP/1.0 without it) is answered and the connection closed by us.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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

#define REQ_CAP 8192
#define REPLY_CAP 512
#define EV_BATCH 256

struct conn {
	int fd;
	bool writing;          /* EPOLLOUT registered: a reply is partly sent */
	bool close_after;
	char req[REQ_CAP];
	size_t len;
	char out[REPLY_CAP];
	size_t olen, ooff;
};

static int epfd, lfd;
static const char *backend_ip = "127.0.0.1";
static int port_imap, port_pop3, port_smtp;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "authd: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static void conn_free(struct conn *c)
{
	epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
}

/* The value of header `name` in the head [p, p+n), or NULL. */
static const char *header(const char *p, size_t n, const char *name, size_t *vlen)
{
	size_t nl = strlen(name);
	const char *end = p + n;
	const char *line = memchr(p, '\n', n); /* skip the request line */
	while (line != NULL && line + 1 < end) {
		line++;
		const char *eol = memchr(line, '\n', (size_t)(end - line));
		if (eol == NULL) {
			break;
		}
		if ((size_t)(eol - line) > nl && line[nl] == ':' && strncasecmp(line, name, nl) == 0) {
			const char *v = line + nl + 1;
			while (v < eol && (*v == ' ' || *v == '\t')) {
				v++;
			}
			const char *ve = eol;
			while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ')) {
				ve--;
			}
			*vlen = (size_t)(ve - v);
			return v;
		}
		line = eol;
	}
	return NULL;
}

static bool value_is(const char *v, size_t n, const char *want)
{
	return v != NULL && n == strlen(want) && strncasecmp(v, want, n) == 0;
}

/* Build the reply for the complete request head of `hlen` bytes. */
static void answer(struct conn *c, size_t hlen)
{
	size_t vl = 0;
	const char *proto = header(c->req, hlen, "Auth-Protocol", &vl);
	int port = value_is(proto, vl, "pop3") ? port_pop3 : value_is(proto, vl, "smtp") ? port_smtp : port_imap;
	const char *conn = header(c->req, hlen, "Connection", &vl);
	bool keep = value_is(conn, vl, "keep-alive");
	int n = snprintf(c->out, sizeof(c->out),
			 "HTTP/1.0 200 OK\r\nAuth-Status: OK\r\nAuth-Server: %s\r\nAuth-Port: %d\r\n%s\r\n",
			 backend_ip, port, keep ? "Connection: keep-alive\r\nContent-Length: 0\r\n" : "");
	c->olen = (size_t)n;
	c->ooff = 0;
	c->close_after = !keep;
}

static void set_writing(struct conn *c, bool on)
{
	if (c->writing == on) {
		return;
	}
	struct epoll_event ev = { .events = on ? EPOLLOUT : EPOLLIN, .data.ptr = c };
	epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
	c->writing = on;
}

/* Send the reply; then close, or go on with requests already buffered. */
static void drive(struct conn *c)
{
	for (;;) {
		while (c->ooff < c->olen) {
			ssize_t r = send(c->fd, c->out + c->ooff, c->olen - c->ooff, MSG_NOSIGNAL);
			if (r < 0) {
				if (errno == EINTR) {
					continue;
				}
				if (errno == EAGAIN) {
					set_writing(c, true);
					return;
				}
				conn_free(c);
				return;
			}
			c->ooff += (size_t)r;
		}
		if (c->olen > 0) {
			c->olen = c->ooff = 0;
			if (c->close_after) {
				conn_free(c);
				return;
			}
		}
		/* one more complete request already here? (a client may pipeline) */
		char *e = c->len >= 4 ? memmem(c->req, c->len, "\r\n\r\n", 4) : NULL;
		if (e == NULL) {
			set_writing(c, false);
			return;
		}
		size_t hlen = (size_t)(e - c->req) + 4;
		answer(c, hlen);
		memmove(c->req, c->req + hlen, c->len - hlen);
		c->len -= hlen;
	}
}

static void on_readable(struct conn *c)
{
	for (;;) {
		if (c->len == REQ_CAP) {
			conn_free(c); /* no head is this long */
			return;
		}
		ssize_t r = recv(c->fd, c->req + c->len, REQ_CAP - c->len, 0);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
			conn_free(c);
			return;
		}
		if (r < 0) {
			break;
		}
		c->len += (size_t)r;
		if (c->len < REQ_CAP) {
			break;
		}
	}
	drive(c);
}

static void on_accept(void)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			return;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct conn *c = malloc(sizeof(*c));
		if (c == NULL) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->writing = false;
		c->close_after = false;
		c->len = c->olen = c->ooff = 0;
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
			close(fd);
			free(c);
		}
	}
}

int main(int argc, char **argv)
{
	const char *ip = "127.0.0.1";
	int port = 0, opt;
	while ((opt = getopt(argc, argv, "b:l:B:p:")) != -1) {
		switch (opt) {
		case 'b':
			ip = optarg;
			break;
		case 'l':
			port = atoi(optarg);
			break;
		case 'B':
			backend_ip = optarg;
			break;
		case 'p': {
			char *eq = strchr(optarg, '=');
			if (eq == NULL) {
				die("-p PROTO=PORT");
			}
			int v = atoi(eq + 1);
			if (strncmp(optarg, "imap=", 5) == 0) {
				port_imap = v;
			} else if (strncmp(optarg, "pop3=", 5) == 0) {
				port_pop3 = v;
			} else if (strncmp(optarg, "smtp=", 5) == 0) {
				port_smtp = v;
			} else {
				die("unknown protocol in %s", optarg);
			}
			break;
		}
		default:
			die("usage: authd [-b IP] -l PORT [-B BACKEND_IP] -p imap=PORT [-p pop3=PORT] [-p smtp=PORT]");
		}
	}
	if (port == 0) {
		die("no port (-l PORT)");
	}
	signal(SIGPIPE, SIG_IGN);
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
		die("bad address %s", ip);
	}
	if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(lfd, 4096) != 0) {
		die("bind/listen %s:%d: %s", ip, port, strerror(errno));
	}
	epfd = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event lev = { .events = EPOLLIN, .data.ptr = NULL };
	epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev);
	for (;;) {
		struct epoll_event evs[EV_BATCH];
		int n = epoll_wait(epfd, evs, EV_BATCH, -1);
		if (n < 0 && errno != EINTR) {
			die("epoll_wait: %s", strerror(errno));
		}
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (c == NULL) {
				on_accept();
			} else if (c->writing) {
				drive(c);
			} else {
				on_readable(c);
			}
		}
	}
}
