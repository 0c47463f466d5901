/*
 * Stub resolver tests, in-process: the test binds UDP sockets on loopback
 * and plays scripted (often hostile) DNS servers from the same event loop
 * the resolver uses. Each test starts with loop_init() and ends with every
 * query finished or cancelled and resolver_shutdown(), so nothing leaks
 * into the next test (ASan checks the rest at exit).
 *
 * Hostile answers are "evil": well-formed answers naming 6.6.6.6 (or the
 * PTR evil.example.test), each broken in one way. Each is run alone (the
 * query must time out: it was dropped) and followed by the honest answer
 * (which must win: waiting went on after the drop).
 */
#include "t.h"

#include "../../core/loop.h"
#include "../../proto/dns_msg.h"
#include "../../proto/resolver.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define FAKE_Q_MAX 64      /* queries recorded per fake server */
#define PKT_MAX 2048
#define EVIL_V4 "6.6.6.6"

/* ---- packets ---------------------------------------------------------------------- */

#include "pkt.h"

/* A dotted name in wire form, root appended. A value starting with '='
 * is raw wire bytes (to put a '.' inside a label); the root is appended. */
static void pname(struct pkt *k, const char *s)
{
	if (s[0] == '=') {
		pbytes(k, s + 1, strlen(s + 1));
		p8(k, 0);
		return;
	}
	while (*s != '\0') {
		const char *dot = strchr(s, '.');
		size_t l = dot ? (size_t)(dot - s) : strlen(s);
		p8(k, (unsigned)l);
		pbytes(k, s, l);
		s += l;
		if (*s == '.') {
			s++;
		}
	}
	p8(k, 0);
}

static uint16_t g16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void s16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* What the resolver asked: our own uncompressed query. */
struct qinfo {
	uint16_t id;
	uint16_t qtype;
	char name[DNS_NAME_MAX + 1];
	size_t qend; /* offset just past the question */
};

static bool q_parse(const uint8_t *q, size_t n, struct qinfo *qi)
{
	size_t off = 12, o = 0;
	if (n < 17 || g16(q + 4) != 1) {
		return false;
	}
	qi->id = g16(q);
	while (off < n && q[off] != 0) {
		size_t l = q[off++];
		if (l > 63 || off + l > n || o + l + 1 >= sizeof(qi->name)) {
			return false;
		}
		if (o != 0) {
			qi->name[o++] = '.';
		}
		memcpy(qi->name + o, q + off, l);
		o += l;
		off += l;
	}
	qi->name[o] = '\0';
	if (off + 5 > n) {
		return false;
	}
	qi->qtype = g16(q + off + 1);
	qi->qend = off + 5;
	return true;
}

/* Start a response: header and question copied from the query. */
static void r_begin(struct pkt *k, const uint8_t *q, const struct qinfo *qi, unsigned flags)
{
	k->n = 0;
	pbytes(k, q, qi->qend);
	s16(k->b + 2, 0x8180u | flags); /* QR RD RA */
	s16(k->b + 6, 0);
	s16(k->b + 8, 0);
	s16(k->b + 10, 0);
}

/* An answer record; owner NULL = a pointer to the question name. */
static void r_rr(struct pkt *k, const char *owner, uint16_t type, uint32_t ttl, const char *value)
{
	uint8_t ab[16];
	if (owner == NULL) {
		p16(k, 0xc00c);
	} else {
		pname(k, owner);
	}
	p16(k, type);
	p16(k, DNS_C_IN);
	p32(k, ttl);
	if (type == DNS_T_A) {
		inet_pton(AF_INET, value, ab);
		p16(k, 4);
		pbytes(k, ab, 4);
	} else if (type == DNS_T_AAAA) {
		inet_pton(AF_INET6, value, ab);
		p16(k, 16);
		pbytes(k, ab, 16);
	} else {
		size_t at = k->n;
		p16(k, 0);
		pname(k, value);
		s16(k->b + at, (unsigned)(k->n - at - 2));
	}
	s16(k->b + 6, g16(k->b + 6) + 1u);
}

/* ---- the zone the fake servers serve ------------------------------------------------ */

struct rr_def {
	const char *name;
	uint16_t type;
	const char *value;
};

#define V6PTR "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"

static const struct rr_def zone[] = {
	{ "host.example.test", DNS_T_A, "192.0.2.1" },
	{ "host.example.test", DNS_T_AAAA, "2001:db8::1" },
	{ "two.example.test", DNS_T_A, "192.0.2.2" },
	{ "two.example.test", DNS_T_A, "192.0.2.3" },
	{ "alias.example.test", DNS_T_CNAME, "host.example.test" },
	{ "noaddr.example.test", DNS_T_PTR, "x.example.test" }, /* exists, no A */
	{ "10.2.0.192.in-addr.arpa", DNS_T_PTR, "Mail.Example.test" },
	{ "mail.example.test", DNS_T_A, "192.0.2.10" },
	{ "11.2.0.192.in-addr.arpa", DNS_T_PTR, "liar.example.test" },
	{ "liar.example.test", DNS_T_A, "192.0.2.99" },
	{ "14.2.0.192.in-addr.arpa", DNS_T_PTR, "noaddr.example.test" },
	{ V6PTR, DNS_T_PTR, "v6.example.test" },
	{ "v6.example.test", DNS_T_AAAA, "2001:db8::10" },
	/* PTR injection (CVE-2026-28753): none of these may ever come out */
	{ "20.2.0.192.in-addr.arpa", DNS_T_PTR, "evil\r\nx.example.test" },
	{ "21.2.0.192.in-addr.arpa", DNS_T_PTR, "a b.example.test" },
	{ "22.2.0.192.in-addr.arpa", DNS_T_PTR, "a_b.example.test" },
	{ "23.2.0.192.in-addr.arpa", DNS_T_PTR, "=\x03" "a.b\x07" "example\x04" "test" },
	{ "24.2.0.192.in-addr.arpa", DNS_T_PTR, "a\xff.example.test" },
	{ "25.2.0.192.in-addr.arpa", DNS_T_PTR, "=" }, /* the root */
	{ "26.2.0.192.in-addr.arpa", DNS_T_PTR, "x[1].example.test" },
	{ "27.2.0.192.in-addr.arpa", DNS_T_PTR, "a%0d.example.test" },
};

static bool is_wild(const char *name)
{
	size_t n = strlen(name), s = strlen(".wild.test");
	return n > s && strcmp(name + n - s, ".wild.test") == 0;
}

/* The honest answer: records of the zone (one CNAME level), wildcard names
 * under wild.test, NXDOMAIN for names not there at all. */
static void zone_answer(struct pkt *k, const uint8_t *q, const struct qinfo *qi, uint32_t ttl)
{
	const char *target = qi->name;
	bool exists = false;

	r_begin(k, q, qi, 0);
	if (is_wild(qi->name)) {
		if (qi->qtype == DNS_T_A) {
			r_rr(k, NULL, DNS_T_A, ttl, "192.0.2.200");
		} else if (qi->qtype == DNS_T_AAAA) {
			r_rr(k, NULL, DNS_T_AAAA, ttl, "2001:db8::200");
		}
		return;
	}
	for (size_t i = 0; i < MP_ARRAY_LEN(zone); i++) {
		if (strcasecmp(zone[i].name, target) == 0 && zone[i].type == DNS_T_CNAME) {
			r_rr(k, NULL, DNS_T_CNAME, ttl, zone[i].value);
			target = zone[i].value;
			exists = true;
			break;
		}
	}
	for (size_t i = 0; i < MP_ARRAY_LEN(zone); i++) {
		if (strcasecmp(zone[i].name, target) != 0) {
			continue;
		}
		exists = true;
		if (zone[i].type == qi->qtype) {
			r_rr(k, target == qi->name ? NULL : target, zone[i].type, ttl, zone[i].value);
		}
	}
	if (!exists) {
		s16(k->b + 2, 0x8183u); /* NXDOMAIN */
	}
}

/* ---- fake servers --------------------------------------------------------------------- */

enum fake_mode {
	M_ANSWER,     /* the zone, after f->hostile if any */
	M_SILENT,
	M_RCODE,      /* f->rcode, no records */
	M_TRUNC,      /* TC set, no records */
	M_HOLD_PREV,  /* hold each query; answer the previous one when the next comes */
};

enum hostile {
	H_NONE,
	H_WRONG_ID,
	H_WRONG_NAME,
	H_WRONG_QTYPE,
	H_WRONG_CLASS,
	H_NOT_RESPONSE,
	H_OTHER_PORT,   /* sent from another socket of the same address */
	H_OTHER_ADDR,   /* sent from 127.0.0.2 */
	H_LOOP,         /* owner name is a pointer to itself */
	H_FWD_PTR,      /* owner name is a pointer forward */
	H_OVERSIZE,     /* > DNS_MSG_MAX */
	H_BAD_RDLEN,    /* RDLENGTH past the end */
	H_SHORT,        /* 5 bytes */
	H_EMPTY,        /* 0 bytes */
	H_JUNK,         /* 100 random datagrams */
	H_COUNT,
};

static const char *const hostile_names[H_COUNT] = {
	"none", "wrong id", "wrong name", "wrong qtype", "wrong class", "not a response",
	"other port", "other addr", "compression loop", "forward pointer", "oversize",
	"bad rdlength", "short", "empty", "junk",
};

struct fake {
	struct ev_watch w;
	struct mp_addr addr;
	enum fake_mode mode;
	enum hostile hostile;
	bool then_answer;      /* after the hostile packet, the honest answer */
	int rcode;
	uint32_t ttl;
	uint16_t drop_qtype;   /* M_ANSWER: never answer this type */
	int nq;
	struct qinfo qs[FAKE_Q_MAX];
	uint16_t ports[FAKE_Q_MAX];
	uint8_t held[PKT_MAX];
	size_t held_n;
	struct sockaddr_storage held_from;
	socklen_t held_fl;
};

static void send_from(const char *ip, const struct pkt *k, const struct sockaddr *to, socklen_t tl)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	inet_pton(AF_INET, ip, &a.sin_addr);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		CHECK(!"bind for a spoofed answer");
	} else {
		sendto(fd, k->b, k->n, 0, to, tl);
	}
	if (fd >= 0) {
		close(fd);
	}
}

/* The evil answer: correct but for the address (or PTR target). */
static void evil_answer(struct pkt *k, const uint8_t *q, const struct qinfo *qi)
{
	r_begin(k, q, qi, 0);
	if (qi->qtype == DNS_T_PTR) {
		r_rr(k, NULL, DNS_T_PTR, 300, "evil.example.test");
	} else if (qi->qtype == DNS_T_AAAA) {
		r_rr(k, NULL, DNS_T_AAAA, 300, "2001:db8::666");
	} else {
		r_rr(k, NULL, DNS_T_A, 300, EVIL_V4);
	}
}

static void send_hostile(struct fake *f, const uint8_t *q, const struct qinfo *qi,
			 const struct sockaddr *to, socklen_t tl)
{
	struct pkt k;
	evil_answer(&k, q, qi);
	switch (f->hostile) {
	case H_NONE:
		return;
	case H_WRONG_ID:
		s16(k.b, qi->id ^ 0x0100u);
		break;
	case H_WRONG_NAME:
		/* change a letter, not just its case */
		k.b[13] = k.b[13] == 'q' ? 'z' : 'q';
		break;
	case H_WRONG_QTYPE:
		s16(k.b + qi->qend - 4, qi->qtype == DNS_T_A ? DNS_T_AAAA : DNS_T_A);
		break;
	case H_WRONG_CLASS:
		s16(k.b + qi->qend - 2, 3); /* CHAOS */
		break;
	case H_NOT_RESPONSE:
		s16(k.b + 2, 0x0180u);
		break;
	case H_OTHER_PORT:
		send_from("127.0.0.1", &k, to, tl);
		return;
	case H_OTHER_ADDR:
		send_from("127.0.0.2", &k, to, tl);
		return;
	case H_LOOP: {
		r_begin(&k, q, qi, 0);
		size_t at = k.n;
		p16(&k, 0xc000u | (unsigned)at);
		p16(&k, qi->qtype);
		p16(&k, DNS_C_IN);
		p32(&k, 300);
		p16(&k, 4);
		p32(&k, 0x06060606u);
		s16(k.b + 6, 1);
		break;
	}
	case H_FWD_PTR: {
		r_begin(&k, q, qi, 0);
		size_t at = k.n;
		p16(&k, 0xc000u | (unsigned)(at + 2));
		pname(&k, qi->name);
		p16(&k, qi->qtype);
		p16(&k, DNS_C_IN);
		p32(&k, 300);
		p16(&k, 4);
		p32(&k, 0x06060606u);
		s16(k.b + 6, 1);
		break;
	}
	case H_OVERSIZE:
		while (k.n <= DNS_MSG_MAX) {
			r_rr(&k, NULL, DNS_T_A, 300, EVIL_V4);
		}
		break;
	case H_BAD_RDLEN:
		/* the one record: pointer, type, class, TTL, then RDLENGTH */
		s16(k.b + qi->qend + 10, 200);
		break;
	case H_SHORT:
		k.n = 5;
		break;
	case H_EMPTY:
		k.n = 0;
		break;
	case H_JUNK:
		for (int i = 0; i < 100; i++) {
			struct pkt j;
			j.n = 12 + (size_t)(i % 50);
			for (size_t b = 0; b < j.n; b++) {
				j.b[b] = (uint8_t)(i * 31 + b * 7);
			}
			sendto(f->w.fd, j.b, j.n, 0, to, tl);
		}
		return;
	case H_COUNT:
		return;
	}
	sendto(f->w.fd, k.b, k.n, 0, to, tl);
}

static void fake_readable(struct ev_watch *w, unsigned events)
{
	struct fake *f = MP_CONTAINER_OF(w, struct fake, w);
	uint8_t q[PKT_MAX];
	struct sockaddr_storage from;
	struct pkt k;
	(void)events;

	for (;;) {
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(w->fd, q, sizeof(q), 0, (struct sockaddr *)&from, &fl);
		struct qinfo qi;
		if (n < 0) {
			return;
		}
		if (!q_parse(q, (size_t)n, &qi)) {
			CHECK(!"the resolver sent a malformed query");
			continue;
		}
		if (f->nq < FAKE_Q_MAX) {
			f->qs[f->nq] = qi;
			f->ports[f->nq] = ntohs(((struct sockaddr_in *)&from)->sin_port);
		}
		f->nq++;
		switch (f->mode) {
		case M_SILENT:
			break;
		case M_ANSWER:
			if (qi.qtype == f->drop_qtype) {
				break;
			}
			send_hostile(f, q, &qi, (struct sockaddr *)&from, fl);
			if (f->hostile == H_NONE || f->then_answer) {
				zone_answer(&k, q, &qi, f->ttl);
				sendto(w->fd, k.b, k.n, 0, (struct sockaddr *)&from, fl);
			}
			break;
		case M_RCODE:
			r_begin(&k, q, &qi, (unsigned)f->rcode);
			sendto(w->fd, k.b, k.n, 0, (struct sockaddr *)&from, fl);
			break;
		case M_TRUNC:
			r_begin(&k, q, &qi, 0x0200u);
			sendto(w->fd, k.b, k.n, 0, (struct sockaddr *)&from, fl);
			break;
		case M_HOLD_PREV:
			if (f->held_n != 0) {
				struct qinfo hq;
				q_parse(f->held, f->held_n, &hq);
				zone_answer(&k, f->held, &hq, f->ttl);
				sendto(w->fd, k.b, k.n, 0, (struct sockaddr *)&f->held_from, f->held_fl);
			}
			memcpy(f->held, q, (size_t)n);
			f->held_n = (size_t)n;
			f->held_from = from;
			f->held_fl = fl;
			break;
		}
	}
}

static void fake_start(struct fake *f, enum fake_mode mode)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	memset(f, 0, sizeof(*f));
	f->mode = mode;
	f->ttl = 300;
	f->w.fd = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (f->w.fd < 0 || bind(f->w.fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(f->w.fd, (struct sockaddr *)&a, &al) != 0) {
		CHECK(!"fake server socket");
		abort();
	}
	net_nonblock(f->w.fd);
	f->w.fn = fake_readable;
	loop_set(&f->w, EV_READ);
	memcpy(&f->addr.u.in4, &a, sizeof(a));
	f->addr.len = sizeof(a);
}

static void fake_stop(struct fake *f)
{
	loop_del(&f->w);
	close(f->w.fd);
	f->w.fd = -1;
}

/* A port with nothing behind it: the kernel answers with ICMP port unreachable. */
static struct mp_addr closed_addr(void)
{
	struct fake f;
	fake_start(&f, M_SILENT);
	struct mp_addr a = f.addr;
	fake_stop(&f);
	return a;
}

/* ---- driving the resolver ------------------------------------------------------------ */

static struct {
	int calls;
	enum resolver_status st;
	bool name_null;
	char name[DNS_NAME_MAX + 1];
	struct mp_addr addrs[DNS_MAX_ADDRS];
	size_t n;
	uint64_t at;
} got;

static void got_reset(void)
{
	memset(&got, 0, sizeof(got));
}

static void on_name(void *arg, enum resolver_status st, const char *name)
{
	(void)arg;
	got.calls++;
	got.st = st;
	got.at = loop_now();
	got.name_null = name == NULL;
	if (name != NULL) {
		snprintf(got.name, sizeof(got.name), "%s", name);
	}
}

static void on_addrs(void *arg, enum resolver_status st, const struct mp_addr *a, size_t n)
{
	(void)arg;
	got.calls++;
	got.st = st;
	got.at = loop_now();
	got.n = n;
	for (size_t i = 0; i < n && i < DNS_MAX_ADDRS; i++) {
		got.addrs[i] = a[i];
	}
}

/* Run the loop until a callback came or ms passed. */
static void pump(int ms)
{
	loop_update_time();
	uint64_t end = loop_now() + (uint64_t)ms;
	int calls = got.calls;
	while (got.calls == calls && loop_now() < end) {
		loop_run_once((int)(end - loop_now()));
	}
}

/* Run the loop for ms, whatever happens. */
static void run_for(int ms)
{
	loop_update_time();
	uint64_t end = loop_now() + (uint64_t)ms;
	while (loop_now() < end) {
		loop_run_once((int)(end - loop_now()));
	}
}

struct rconf {
	struct mp_addr addrs[4];
	struct conf_resolver c;
};

static const struct conf_resolver *rconf(struct rconf *r, const struct fake *a, const struct fake *b)
{
	memset(r, 0, sizeof(*r));
	r->c.addrs = r->addrs;
	r->c.ipv4 = r->c.ipv6 = true;
	if (a != NULL) {
		r->addrs[r->c.n++] = a->addr;
	}
	if (b != NULL) {
		r->addrs[r->c.n++] = b->addr;
	}
	return &r->c;
}

static void begin(void)
{
	CHECK(loop_init() == 0);
	got_reset();
}

static void end(void)
{
	resolver_shutdown();
}

static bool addr_is(const struct mp_addr *a, const char *ip)
{
	char t[MP_ADDR_TEXT_MAX];
	net_ip_text(a, t, sizeof(t));
	return strcmp(t, ip) == 0 && net_port(a) == 0;
}

static struct mp_addr ip(const char *s)
{
	struct mp_addr a;
	net_parse_ip(s, strlen(s), &a);
	return a;
}

/* Resolve a host and wait for the callback. */
static void host(const struct conf_resolver *c, uint64_t timeout, const char *name)
{
	got_reset();
	struct resolver_query *q = resolver_host_addrs(c, timeout, name, on_addrs, NULL);
	CHECK(q != NULL);
	CHECK_INT(got.calls, 0); /* never from inside the call */
	pump((int)timeout + 500);
	CHECK_INT(got.calls, 1);
}

static void client(const struct conf_resolver *c, uint64_t timeout, const char *addr)
{
	got_reset();
	struct mp_addr a = ip(addr);
	struct resolver_query *q = resolver_client_name(c, timeout, &a, on_name, NULL);
	CHECK(q != NULL);
	CHECK_INT(got.calls, 0);
	pump((int)timeout + 500);
	CHECK_INT(got.calls, 1);
	CHECK(got.name_null == (got.st != RESOLVER_OK));
}

/* ---- tests ------------------------------------------------------------------------- */

TEST(resolver_answer)
{
	struct fake f;
	struct rconf r;
	begin();
	fake_start(&f, M_ANSWER);
	host(rconf(&r, &f, NULL), 2000, "host.example.test");
	CHECK_INT(got.st, RESOLVER_OK);
	CHECK_INT(got.n, 2);
	CHECK(addr_is(&got.addrs[0], "192.0.2.1")); /* A first */
	CHECK(addr_is(&got.addrs[1], "2001:db8::1"));
	CHECK_INT(f.nq, 2);
	/* trailing dot, case, several records, CNAME */
	host(&r.c, 2000, "TWO.example.test.");
	CHECK_INT(got.st, RESOLVER_OK);
	CHECK_INT(got.n, 2);
	CHECK(addr_is(&got.addrs[0], "192.0.2.2"));
	CHECK(addr_is(&got.addrs[1], "192.0.2.3"));
	host(&r.c, 2000, "alias.example.test");
	CHECK_INT(got.st, RESOLVER_OK);
	CHECK_INT(got.n, 2);
	CHECK(addr_is(&got.addrs[0], "192.0.2.1"));
	fake_stop(&f);
	end();
}

TEST(resolver_ids_and_ports_differ)
{
	struct fake f;
	struct rconf r;
	begin();
	fake_start(&f, M_ANSWER);
	rconf(&r, &f, NULL);
	r.c.ipv6 = false;
	for (int i = 0; i < 8; i++) {
		char name[64];
		snprintf(name, sizeof(name), "n%d.wild.test", i);
		host(&r.c, 2000, name);
		CHECK_INT(got.st, RESOLVER_OK);
	}
	CHECK_INT(f.nq, 8);
	int same_id = 0, same_port = 0;
	for (int i = 1; i < 8; i++) {
		same_id += f.qs[i].id == f.qs[0].id;
		same_port += f.ports[i] == f.ports[0];
	}
	CHECK(same_id < 2);
	CHECK(same_port < 2);
	fake_stop(&f);
	end();
}

TEST(resolver_ipv4_ipv6_off)
{
	struct fake f;
	struct rconf r;
	begin();
	fake_start(&f, M_ANSWER);
	rconf(&r, &f, NULL);
	r.c.ipv6 = false;
	host(&r.c, 2000, "host.example.test");
	CHECK_INT(got.st, RESOLVER_OK);
	CHECK_INT(got.n, 1);
	CHECK(addr_is(&got.addrs[0], "192.0.2.1"));
	CHECK_INT(f.nq, 1);
	CHECK_INT(f.qs[0].qtype, DNS_T_A);
	r.c.ipv6 = true;
	r.c.ipv4 = false;
	host(&r.c, 2000, "host.example.test");
	CHECK_INT(got.st, RESOLVER_OK);
	CHECK_INT(got.n, 1);
	CHECK(addr_is(&got.addrs[0], "2001:db8::1"));
	CHECK_INT(f.nq, 2);
	CHECK_INT(f.qs[1].qtype, DNS_T_AAAA);
	/* an IPv4 client cannot be confirmed without A lookups: PTR only */
	client(&r.c, 2000, "192.0.2.10");
	CHECK_INT(got.st, RESOLVER_NOTFOUND);
	CHECK_INT(f.nq, 3);
	CHECK_INT(f.qs[2].qtype, DNS_T_PTR);
	fake_stop(&f);
	end();
}

TEST(resolver_literal_bad_name_no_servers)
{
	struct fake f;
	struct rconf r;
	begin();
	fake_start(&f, M_ANSWER);
	rconf(&r, &f, NULL);
	host(&r.c, 2000, "192.0.2.7");
	CHECK_INT(got.st, RESOLVER_OK);
	CHECK_INT(got.n, 1);
	CHECK(addr_is(&got.addrs[0], "192.0.2.7"));
	host(&r.c, 2000, "[2001:db8::7]");
	CHECK_INT(got.st, RESOLVER_OK);
	CHECK(addr_is(&got.addrs[0], "2001:db8::7"));
	static const char *const bad[] = {
		"", ".", "a..b", "a b.test", "a\r\nb.test", "a/b.test", "\xff.test",
		"x.123456789012345678901234567890123456789012345678901234567890abcd.test",
	};
	for (size_t i = 0; i < MP_ARRAY_LEN(bad); i++) {
		host(&r.c, 2000, bad[i]);
		CHECK_INT(got.st, RESOLVER_NOTFOUND);
	}
	char longname[300];
	memset(longname, 'a', sizeof(longname));
	for (size_t i = 63; i < sizeof(longname); i += 64) {
		longname[i] = '.';
	}
	longname[253] = '\0'; /* 253 characters: the longest name */
	host(&r.c, 2000, longname);
	CHECK_INT(got.st, RESOLVER_NOTFOUND); /* asked, NXDOMAIN */
	CHECK_INT(f.nq, 2);
	longname[253] = 'a';
	longname[254] = '\0';
	host(&r.c, 2000, longname);
	CHECK_INT(got.st, RESOLVER_NOTFOUND); /* not asked */
	CHECK_INT(f.nq, 2);
	/* resolver off */
	r.c.n = 0;
	host(&r.c, 2000, "host.example.test");
	CHECK_INT(got.st, RESOLVER_NOTFOUND);
	client(&r.c, 2000, "192.0.2.10");
	CHECK_INT(got.st, RESOLVER_NOTFOUND);
	CHECK_INT(f.nq, 2);
	fake_stop(&f);
	end();
}

/* Each hostile datagram alone: dropped, so the query times out; followed by
 * the honest answer: that one is taken. */
TEST(resolver_hostile_answers_dropped)
{
	struct fake f;
	struct rconf r;
	begin();
	for (int h = H_WRONG_ID; h < H_COUNT; h++) {
		for (int then = 0; then < 2; then++) {
			fake_start(&f, M_ANSWER);
			f.hostile = (enum hostile)h;
			f.then_answer = then;
			rconf(&r, &f, NULL);
			r.c.ipv6 = false;
			loop_update_time();
			uint64_t t0 = loop_now();
			host(&r.c, 100, "host.example.test");
			if (then) {
				if (got.st != RESOLVER_OK || got.n != 1 || !addr_is(&got.addrs[0], "192.0.2.1")) {
					printf("    hostile \"%s\" then honest: st %d n %zu\n",
					       hostile_names[h], got.st, got.n);
					CHECK(!"honest answer after a hostile one");
				}
				CHECK(got.at - t0 < 100);
			} else {
				if (got.st != RESOLVER_TEMPFAIL) {
					printf("    hostile \"%s\" alone: st %d n %zu\n", hostile_names[h],
					       got.st, got.n);
					CHECK(!"hostile answer alone must time out");
				}
				CHECK(got.at - t0 >= 100);
			}
			fake_stop(&f);
			end();
		}
	}
}

TEST(resolver_hostile_ptr_answers_dropped)
{
	static const enum hostile hs[] = { H_WRONG_ID, H_WRONG_NAME, H_OTHER_PORT, H_LOOP, H_OVERSIZE,
					   H_BAD_RDLEN };
	struct fake f;
	struct rconf r;
	begin();
	for (size_t i = 0; i < MP_ARRAY_LEN(hs); i++) {
		fake_start(&f, M_ANSWER);
		f.hostile = hs[i];
		f.then_answer = true;
		client(rconf(&r, &f, NULL), 300, "192.0.2.10");
		CHECK_INT(got.st, RESOLVER_OK);
		CHECK_STR(got.name, "Mail.Example.test");
		fake_stop(&f);
		end();
	}
}

TEST(resolver_truncated_is_tempfail)
{
	struct fake f;
	struct rconf r;
	begin();
	fake_start(&f, M_TRUNC);
	loop_update_time();
	uint64_t t0 = loop_now();
	host(rconf(&r, &f, NULL), 2000, "host.example.test");
	CHECK_INT(got.st, RESOLVER_TEMPFAIL);
	CHECK(got.at - t0 < 500); /* at once, not at the timeout */
	client(&r.c, 2000, "192.0.2.10");
	CHECK_INT(got.st, RESOLVER_TEMPFAIL);
	fake_stop(&f);
	end();
}

TEST(resolver_silence_times_out)
{
	struct fake f;
	struct rconf r;
	begin();
	fake_start(&f, M_SILENT);
	loop_update_time();
	uint64_t t0 = loop_now();
	host(rconf(&r, &f, NULL), 300, "host.example.test");
	CHECK_INT(got.st, RESOLVER_TEMPFAIL);
	CHECK(got.at - t0 >= 300);
	CHECK(got.at - t0 < 400);
	CHECK_INT(f.nq, 2); /* A and AAAA, once each: 300 ms < one try */
	t0 = loop_now();
	client(&r.c, 300, "192.0.2.10");
	CHECK_INT(got.st, RESOLVER_TEMPFAIL);
	CHECK(got.at - t0 >= 300 && got.at - t0 < 400);
	fake_stop(&f);
	end();
}

/* A silent server is asked again after RESOLVER_TRY_MS, on a new socket with
 * a new ID; a late answer to the first try still counts. */
TEST(resolver_resend_and_late_answer)
{
	struct fake f;
	struct rconf r;
	begin();
	fake_start(&f, M_HOLD_PREV);
	rconf(&r, &f, NULL);
	r.c.ipv6 = false;
	loop_update_time();
	uint64_t t0 = loop_now();
	host(&r.c, 3000, "host.example.test");
	CHECK_INT(got.st, RESOLVER_OK);
	CHECK(addr_is(&got.addrs[0], "192.0.2.1"));
	CHECK(got.at - t0 >= RESOLVER_TRY_MS);
	CHECK(got.at - t0 < RESOLVER_TRY_MS + 300);
	CHECK_INT(f.nq, 2);
	CHECK(f.ports[0] != f.ports[1]);
	fake_stop(&f);
	end();
}

TEST(resolver_nxdomain_nodata)
{
	struct fake f;
	struct rconf r;
	begin();
	fake_start(&f, M_ANSWER);
	host(rconf(&r, &f, NULL), 2000, "nosuch.example.test");
	CHECK_INT(got.st, RESOLVER_NOTFOUND);
	CHECK_INT(got.n, 0);
	host(&r.c, 2000, "noaddr.example.test");
	CHECK_INT(got.st, RESOLVER_NOTFOUND);
	client(&r.c, 2000, "192.0.2.99"); /* no PTR */
	CHECK_INT(got.st, RESOLVER_NOTFOUND);
	client(&r.c, 2000, "192.0.2.14"); /* PTR to a name without A */
	CHECK_INT(got.st, RESOLVER_NOTFOUND);
	f.mode = M_RCODE;
	f.rcode = DNS_RCODE_NXDOMAIN;
	host(&r.c, 2000, "x1.wild.test");
	CHECK_INT(got.st, RESOLVER_NOTFOUND);
	fake_stop(&f);
	end();
}

TEST(resolver_servfail_then_next_server)
{
	static const int rcodes[] = { DNS_RCODE_SERVFAIL, 5 /* REFUSED */, 1 /* FORMERR */, 4 };
	struct fake bad, good;
	struct rconf r;
	begin();
	for (size_t i = 0; i < MP_ARRAY_LEN(rcodes); i++) {
		fake_start(&bad, M_RCODE);
		bad.rcode = rcodes[i];
		fake_start(&good, M_ANSWER);
		rconf(&r, &bad, &good);
		r.c.ipv6 = false;
		/* round robin: of two fresh lookups one starts at each server */
		for (int k = 0; k < 2; k++) {
			char name[64];
			snprintf(name, sizeof(name), "s%d.wild.test", k);
			loop_update_time();
			uint64_t t0 = loop_now();
			host(&r.c, 3000, name);
			CHECK_INT(got.st, RESOLVER_OK);
			CHECK(addr_is(&got.addrs[0], "192.0.2.200"));
			CHECK(got.at - t0 < 300); /* no waiting for a resend */
		}
		CHECK_INT(bad.nq, 1);
		CHECK_INT(good.nq, 2);
		fake_stop(&bad);
		fake_stop(&good);
		end();
	}
}

TEST(resolver_every_server_fails)
{
	struct fake a, b;
	struct rconf r;
	begin();
	fake_start(&a, M_RCODE);
	a.rcode = DNS_RCODE_SERVFAIL;
	fake_start(&b, M_RCODE);
	b.rcode = 5;
	loop_update_time();
	uint64_t t0 = loop_now();
	client(rconf(&r, &a, &b), 5000, "192.0.2.10");
	CHECK_INT(got.st, RESOLVER_TEMPFAIL);
	CHECK(got.at - t0 < 300);
	CHECK_INT(a.nq, 1);
	CHECK_INT(b.nq, 1);
	/* nothing listening: ICMP port unreachable, refused at once */
	struct rconf r2;
	rconf(&r2, NULL, NULL);
	r2.addrs[0] = closed_addr();
	r2.c.n = 1;
	t0 = loop_now();
	host(&r2.c, 5000, "host.example.test");
	CHECK_INT(got.st, RESOLVER_TEMPFAIL);
	CHECK(got.at - t0 < 300);
	/* a dead server and a live one */
	r2.addrs[1] = a.addr;
	r2.c.n = 2;
	a.mode = M_ANSWER;
	for (int k = 0; k < 2; k++) {
		char name[64];
		snprintf(name, sizeof(name), "d%d.wild.test", k);
		t0 = loop_now();
		host(&r2.c, 5000, name);
		CHECK_INT(got.st, RESOLVER_OK);
		CHECK(got.at - t0 < 300);
	}
	fake_stop(&a);
	fake_stop(&b);
	end();
}

TEST(resolver_round_robin)
{
	struct fake a, b;
	struct rconf r;
	begin();
	fake_start(&a, M_ANSWER);
	fake_start(&b, M_ANSWER);
	rconf(&r, &a, &b);
	r.c.ipv6 = false;
	for (int k = 0; k < 6; k++) {
		char name[64];
		snprintf(name, sizeof(name), "rr%d.wild.test", k);
		host(&r.c, 2000, name);
		CHECK_INT(got.st, RESOLVER_OK);
	}
	CHECK_INT(a.nq, 3);
	CHECK_INT(b.nq, 3);
	fake_stop(&a);
	fake_stop(&b);
	end();
}

TEST(resolver_client_names)
{
	struct fake f;
	struct rconf r;
	begin();
	fake_start(&f, M_ANSWER);
	client(rconf(&r, &f, NULL), 2000, "192.0.2.10");
	CHECK_INT(got.st, RESOLVER_OK);
	CHECK_STR(got.name, "Mail.Example.test"); /* as the PTR says */
	CHECK_INT(f.nq, 2);
	CHECK_STR(f.qs[0].name, "10.2.0.192.in-addr.arpa");
	CHECK_INT(f.qs[0].qtype, DNS_T_PTR);
	CHECK_INT(f.qs[1].qtype, DNS_T_A);
	/* PTR says liar.example.test, whose A is another address */
	client(&r.c, 2000, "192.0.2.11");
	CHECK_INT(got.st, RESOLVER_NOTFOUND);
	/* IPv6, and IPv4-mapped IPv6 (a dual-stack listener) */
	client(&r.c, 2000, "2001:db8::10");
	CHECK_INT(got.st, RESOLVER_OK);
	CHECK_STR(got.name, "v6.example.test");
	client(&r.c, 2000, "::ffff:192.0.2.10");
	CHECK_INT(got.st, RESOLVER_OK); /* from the cache now */
	CHECK_STR(got.name, "Mail.Example.test");
	/* a unix-socket client: [TEMPUNAVAIL], as nginx */
	struct mp_addr u;
	net_parse_addr_port("unix:/tmp/x.sock", 16, &u);
	got_reset();
	CHECK(resolver_client_name(&r.c, 2000, &u, on_name, NULL) != NULL);
	pump(500);
	CHECK_INT(got.calls, 1);
	CHECK_INT(got.st, RESOLVER_TEMPFAIL);
	fake_stop(&f);
	end();
}

/* CVE-2026-28753: a PTR that is not a plain host name never comes out, and
 * the lookup ends at once as "[UNAVAILABLE]" (anyone can publish such a
 * PTR for their own address: waiting out resolver_timeout would stall the
 * session's greeting). */
TEST(resolver_ptr_injection)
{
	struct fake f;
	struct rconf r;
	begin();
	fake_start(&f, M_ANSWER);
	rconf(&r, &f, NULL);
	for (int i = 20; i <= 27; i++) {
		char a[32];
		snprintf(a, sizeof(a), "192.0.2.%d", i);
		client(&r.c, 100, a);
		CHECK_INT(got.st, RESOLVER_NOTFOUND);
		CHECK(got.name_null);
	}
	CHECK_INT(f.nq, 8); /* no forward lookup of anything */
	fake_stop(&f);
	end();
}

TEST(resolver_cache_hit)
{
	struct fake f;
	struct rconf r;
	begin();
	fake_start(&f, M_ANSWER);
	host(rconf(&r, &f, NULL), 2000, "host.example.test");
	CHECK_INT(f.nq, 2);
	host(&r.c, 2000, "HOST.example.test."); /* asserts the callback is not inside the call */
	CHECK_INT(got.st, RESOLVER_OK);
	CHECK_INT(got.n, 2);
	CHECK_INT(f.nq, 2);
	client(&r.c, 2000, "192.0.2.10");
	CHECK_INT(f.nq, 4);
	client(&r.c, 2000, "192.0.2.10");
	CHECK_INT(got.st, RESOLVER_OK);
	CHECK_STR(got.name, "Mail.Example.test");
	CHECK_INT(f.nq, 4);
	/* negative answers too */
	host(&r.c, 2000, "nosuch.example.test");
	CHECK_INT(f.nq, 6);
	host(&r.c, 2000, "nosuch.example.test");
	CHECK_INT(got.st, RESOLVER_NOTFOUND);
	CHECK_INT(f.nq, 6);
	/* another server set does not share the entries */
	struct fake g;
	struct rconf r2;
	fake_start(&g, M_ANSWER);
	host(rconf(&r2, &g, NULL), 2000, "host.example.test");
	CHECK_INT(g.nq, 2);
	fake_stop(&g);
	fake_stop(&f);
	end();
}

TEST(resolver_cache_ttl)
{
	struct fake f;
	struct rconf r;
	begin();
	fake_start(&f, M_ANSWER);
	f.ttl = 1;
	rconf(&r, &f, NULL);
	r.c.ipv6 = false;
	host(&r.c, 2000, "host.example.test");
	host(&r.c, 2000, "host.example.test");
	CHECK_INT(f.nq, 1);
	run_for(1050);
	host(&r.c, 2000, "host.example.test");
	CHECK_INT(got.st, RESOLVER_OK);
	CHECK_INT(f.nq, 2);
	/* TTL 0: never kept */
	f.ttl = 0;
	host(&r.c, 2000, "t0.wild.test");
	host(&r.c, 2000, "t0.wild.test");
	CHECK_INT(f.nq, 4);
	fake_stop(&f);
	end();
}

TEST(resolver_cache_valid_overrides)
{
	struct fake f;
	struct rconf r;
	begin();
	fake_start(&f, M_ANSWER);
	rconf(&r, &f, NULL);
	r.c.ipv6 = false;
	/* valid=100ms beats a TTL of 300 s */
	r.c.valid_ms = 100;
	host(&r.c, 2000, "host.example.test");
	host(&r.c, 2000, "host.example.test");
	CHECK_INT(f.nq, 1);
	run_for(120);
	host(&r.c, 2000, "host.example.test");
	CHECK_INT(f.nq, 2);
	/* valid=60s beats a TTL of 0 */
	f.ttl = 0;
	r.c.valid_ms = 60000;
	host(&r.c, 2000, "host.example.test");
	host(&r.c, 2000, "host.example.test");
	CHECK_INT(got.st, RESOLVER_OK);
	CHECK_INT(f.nq, 3);
	fake_stop(&f);
	end();
}

TEST(resolver_cache_bounded)
{
	struct fake f;
	struct rconf r;
	begin();
	fake_start(&f, M_ANSWER);
	rconf(&r, &f, NULL);
	r.c.ipv6 = false;
	host(&r.c, 2000, "first.wild.test");
	for (int i = 0; i < RESOLVER_CACHE_MAX; i++) {
		char name[64];
		snprintf(name, sizeof(name), "c%d.wild.test", i);
		struct resolver_query *q = resolver_host_addrs(&r.c, 2000, name, on_addrs, NULL);
		CHECK(q != NULL);
	}
	got_reset();
	loop_update_time();
	uint64_t end_at = loop_now() + 5000;
	while (got.calls < RESOLVER_CACHE_MAX && loop_now() < end_at) {
		loop_run_once(100);
	}
	CHECK_INT(got.calls, RESOLVER_CACHE_MAX);
	CHECK_INT(f.nq, RESOLVER_CACHE_MAX + 1);
	/* the least recently used one went */
	host(&r.c, 2000, "first.wild.test");
	CHECK_INT(f.nq, RESOLVER_CACHE_MAX + 2);
	host(&r.c, 2000, "c255.wild.test");
	CHECK_INT(f.nq, RESOLVER_CACHE_MAX + 2);
	fake_stop(&f);
	end();
}

TEST(resolver_cancelled)
{
	struct fake f;
	struct rconf r;
	begin();
	fake_start(&f, M_SILENT);
	rconf(&r, &f, NULL);
	/* before anything was sent */
	struct resolver_query *q = resolver_host_addrs(&r.c, 200, "host.example.test", on_addrs, NULL);
	resolver_cancel(q);
	/* after the queries went out */
	q = resolver_client_name(&r.c, 200, &(struct mp_addr){ 0 }, on_name, NULL);
	resolver_cancel(q);
	struct mp_addr a = ip("192.0.2.10");
	q = resolver_client_name(&r.c, 200, &a, on_name, NULL);
	run_for(50);
	CHECK_INT(f.nq, 1);
	resolver_cancel(q);
	/* an answer already waiting on the socket at the cancel goes nowhere */
	f.mode = M_ANSWER;
	q = resolver_host_addrs(&r.c, 200, "host.example.test", on_addrs, NULL);
	while (f.nq < 3) {
		loop_run_once(10); /* the fake has answered once it counted */
	}
	resolver_cancel(q);
	resolver_cancel(NULL);
	run_for(400);
	CHECK_INT(got.calls, 0);
	/* cancelled and never run: resolver_shutdown() frees it (ASan checks) */
	q = resolver_host_addrs(&r.c, 200, "host.example.test", on_addrs, NULL);
	resolver_cancel(q);
	q = resolver_host_addrs(&r.c, 200, "host2.example.test", on_addrs, NULL);
	CHECK(q != NULL);
	fake_stop(&f);
	end();
	CHECK_INT(got.calls, 0);
}

/* The callback may start the next query right away. */
static const struct conf_resolver *chain_conf;
static int chain_left;

static void on_chain(void *arg, enum resolver_status st, const struct mp_addr *a, size_t n)
{
	on_addrs(arg, st, a, n);
	if (--chain_left > 0) {
		CHECK(resolver_host_addrs(chain_conf, 2000, "host.example.test", on_chain, NULL) != NULL);
	}
}

TEST(resolver_callback_reenters)
{
	struct fake f;
	struct rconf r;
	begin();
	fake_start(&f, M_ANSWER);
	chain_conf = rconf(&r, &f, NULL);
	chain_left = 3;
	CHECK(resolver_host_addrs(chain_conf, 2000, "host.example.test", on_chain, NULL) != NULL);
	loop_update_time();
	uint64_t end_at = loop_now() + 3000;
	while (got.calls < 3 && loop_now() < end_at) {
		loop_run_once(100);
	}
	CHECK_INT(got.st, RESOLVER_OK);
	CHECK_INT(f.nq, 2); /* then cached */
	fake_stop(&f);
	end();
}

TEST(resolver_many_at_once)
{
	struct fake a, b;
	struct rconf r;
	begin();
	fake_start(&a, M_ANSWER);
	fake_start(&b, M_ANSWER);
	rconf(&r, &a, &b);
	got_reset();
	for (int i = 0; i < 50; i++) {
		char name[64];
		snprintf(name, sizeof(name), "m%d.wild.test", i);
		CHECK(resolver_host_addrs(&r.c, 2000, name, on_addrs, NULL) != NULL);
	}
	loop_update_time();
	uint64_t end_at = loop_now() + 3000;
	while (got.calls < 50 && loop_now() < end_at) {
		loop_run_once(100);
	}
	CHECK_INT(got.calls, 50);
	CHECK_INT(a.nq + b.nq, 100);
	fake_stop(&a);
	fake_stop(&b);
	end();
}

/* A answered, AAAA never: the A addresses at the timeout. */
TEST(resolver_half_answer)
{
	struct fake f;
	struct rconf r;
	begin();
	fake_start(&f, M_ANSWER);
	f.drop_qtype = DNS_T_AAAA;
	loop_update_time();
	uint64_t t0 = loop_now();
	host(rconf(&r, &f, NULL), 300, "host.example.test");
	CHECK_INT(got.st, RESOLVER_OK);
	CHECK_INT(got.n, 1);
	CHECK(addr_is(&got.addrs[0], "192.0.2.1"));
	CHECK(got.at - t0 >= 300);
	fake_stop(&f);
	end();
}
