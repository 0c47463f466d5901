/*
 * The stub resolver. See resolver.h for the contract; dns_msg.c does all
 * wire parsing.
 *
 * Shape: a query (resolver_query) holds up to two lookups (struct lookup:
 * one name, one record type). A lookup sends tries (struct rtry: one
 * datagram on its own connected socket); the last RESOLVER_OPEN_TRIES stay
 * open, so a slow server's answer to an earlier try still counts, as in
 * musl's res_msend.c, where one socket hears every server asked.
 *
 * All state changes happen in the query's timer callback (query_tick):
 * starting lookups, cache look-ups, resends, the deadline, the step from
 * PTR to forward lookup, and the callback. Socket handlers only record an
 * answer (closing that lookup's sockets) and arm the timer at zero. So:
 *   - no callback runs inside a resolver_* call;
 *   - the query's memory is never freed while the loop may still hold an
 *     event for one of its sockets in the current batch (timers run after
 *     the batch; see loop_epoll.c), which is also why resolver_cancel()
 *     defers the free to the timer.
 */
#include "resolver.h"

#include "../core/log.h"
#include "../core/loop.h"
#include "../core/rand.h"
#include "dns_msg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RESOLVER_SERVERS_MAX 32   /* servers used per query (conf allows 32) */
#define RESOLVER_OPEN_TRIES 2     /* tries per lookup still listened to */
#define RESOLVER_READS_MAX 16     /* datagrams read per readiness event */
#define RESOLVER_LOOKUPS 2        /* A + AAAA at most */

enum lk_state {
	LK_UNUSED,
	LK_WAIT,    /* to start at the next tick (cache first) */
	LK_RUNNING, /* tries on the wire */
	LK_DONE,    /* st and the result are set; no sockets open */
};

struct lookup;

/* One datagram sent to one server. w.fd is -1 when the slot is free. */
struct rtry {
	struct ev_watch w;
	struct lookup *lk;
	uint16_t id;
	uint8_t server;
	uint32_t seq;            /* order of sending, to find the oldest */
};

struct lookup {
	struct resolver_query *q;
	enum lk_state state;
	enum resolver_status st;
	uint16_t qtype;
	uint8_t next_server;     /* where the next try goes (round robin) */
	uint32_t failed;         /* bit per server that failed this lookup */
	uint64_t next_try;       /* loop_now() ms of the next resend */
	uint32_t sent;           /* tries sent so far */
	struct rtry tries[RESOLVER_OPEN_TRIES];
	char name[DNS_NAME_MAX + 1]; /* as asked: no trailing dot */
	/* the answer, when st == RESOLVER_OK */
	char ptr[DNS_NAME_MAX + 1];
	uint8_t addrs[DNS_MAX_ADDRS][16];
	size_t naddrs;
};

enum q_kind {
	Q_CLIENT, /* PTR, then forward-confirm, in lk[0] */
	Q_HOST,   /* A in lk[0], AAAA in lk[1] */
};

struct resolver_query {
	struct resolver_query *prev, *next; /* every query, for resolver_shutdown() */
	enum q_kind kind;
	bool forward;            /* Q_CLIENT: the PTR is in, lk[0] is the A/AAAA */
	bool dead;               /* cancelled: free at the next tick */
	struct timer timer;
	uint64_t deadline;
	uint64_t view;           /* cache partition: servers + valid= */
	uint64_t valid_ms;
	bool ipv4, ipv6;
	resolver_name_cb name_cb;
	resolver_addr_cb addr_cb;
	void *arg;
	int cfamily;             /* Q_CLIENT: AF_INET or AF_INET6 (v4-mapped -> AF_INET) */
	uint8_t caddr[16];
	struct lookup lk[RESOLVER_LOOKUPS];
	size_t nservers;
	struct mp_addr servers[]; /* copied from the configuration */
};

/* A cached answer. key holds the question name, NUL, and for PTR the target. */
struct cache_ent {
	uint64_t view;
	uint64_t expires;        /* loop_now() ms */
	uint64_t used;           /* LRU stamp */
	uint32_t hash;
	uint16_t qtype;
	uint8_t st;              /* RESOLVER_OK or RESOLVER_NOTFOUND */
	uint8_t naddrs;
	uint8_t addrs[DNS_MAX_ADDRS][16];
	const char *ptr;         /* into key, or NULL */
	char key[];
};

static struct resolver_query *queries;
static unsigned rr_next;     /* round robin across lookups */
static struct cache_ent *cache[RESOLVER_CACHE_MAX];
static size_t cache_len;
static uint64_t cache_clock;
/* One receive buffer for everyone (single-threaded): a byte more than
 * DNS_MSG_MAX so that an oversize datagram is seen as such and dropped. */
static uint8_t rx[DNS_MSG_MAX + 1];

_Static_assert(RESOLVER_SERVERS_MAX <= 32, "failed is a 32-bit mask");
_Static_assert(RESOLVER_SERVERS_MAX <= 256, "server index is 8 bits");
_Static_assert(DNS_MAX_ADDRS <= 255, "naddrs is 8 bits in the cache");

static void query_tick(struct timer *t);

/* ---- small helpers ---------------------------------------------------------------- */

static int lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

/* DNS names compare without ASCII case (RFC 4343); not strcasecmp(): locale. */
static bool name_eq(const char *a, const char *b)
{
	for (; *a != '\0' && lower((unsigned char)*a) == lower((unsigned char)*b); a++, b++) {
	}
	return *a == '\0' && *b == '\0';
}

static uint64_t fnv64(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++) {
		h = (h ^ b[i]) * 0x100000001b3u;
	}
	return h;
}

static uint32_t name_hash(const char *name, uint16_t qtype)
{
	uint32_t h = 2166136261u ^ qtype;
	for (; *name != '\0'; name++) {
		h = (h ^ (uint8_t)lower((unsigned char)*name)) * 16777619u;
	}
	return h;
}

/* Copy name without one trailing dot. false if it cannot be a DNS name. */
static bool copy_name(char *dst, const char *name)
{
	size_t n = strnlen(name, DNS_NAME_MAX + 1);
	if (n > 0 && name[n - 1] == '.') {
		n--;
	}
	if (n == 0 || n > DNS_NAME_MAX - 2) {
		return false; /* 253 characters is the longest name (RFC 1035 §2.3.4) */
	}
	memcpy(dst, name, n);
	dst[n] = '\0';
	return true;
}

/* ---- cache ------------------------------------------------------------------------ */

static void cache_drop(size_t i)
{
	free(cache[i]);
	cache[i] = cache[--cache_len];
	cache[cache_len] = NULL;
}

static size_t cache_find(const struct resolver_query *q, const struct lookup *lk, uint32_t h)
{
	for (size_t i = 0; i < cache_len; i++) {
		const struct cache_ent *e = cache[i];
		if (e->hash == h && e->qtype == lk->qtype && e->view == q->view &&
		    name_eq(e->key, lk->name)) {
			return i;
		}
	}
	return SIZE_MAX;
}

/* A fresh entry for lk's question fills lk's result: true, lk is LK_DONE. */
static bool cache_get(struct lookup *lk)
{
	size_t i = cache_find(lk->q, lk, name_hash(lk->name, lk->qtype));
	if (i == SIZE_MAX) {
		return false;
	}
	struct cache_ent *e = cache[i];
	if (loop_now() >= e->expires) {
		cache_drop(i);
		return false;
	}
	e->used = ++cache_clock;
	lk->st = (enum resolver_status)e->st;
	lk->naddrs = e->naddrs;
	memcpy(lk->addrs, e->addrs, sizeof(lk->addrs));
	lk->ptr[0] = '\0';
	if (e->ptr != NULL) {
		memcpy(lk->ptr, e->ptr, strlen(e->ptr) + 1);
	}
	lk->state = LK_DONE;
	return true;
}

/* Keep lk's result (OK or NOTFOUND) for ttl_ms. Out of memory: not kept. */
static void cache_put(const struct lookup *lk, uint64_t ttl_ms)
{
	const struct resolver_query *q = lk->q;
	uint32_t h = name_hash(lk->name, lk->qtype);
	uint64_t now = loop_now();

	if (ttl_ms == 0) {
		return;
	}
	size_t i = cache_find(q, lk, h);
	if (i != SIZE_MAX) {
		cache_drop(i);
	}
	if (cache_len == RESOLVER_CACHE_MAX) {
		/* O(RESOLVER_CACHE_MAX) per insert of a fresh answer: fine at this size */
		size_t victim = 0;
		for (i = 0; i < cache_len; i++) {
			if (now >= cache[i]->expires) {
				victim = i;
				break;
			}
			if (cache[i]->used < cache[victim]->used) {
				victim = i;
			}
		}
		cache_drop(victim);
	}
	size_t nl = strlen(lk->name) + 1;
	size_t pl = lk->qtype == DNS_T_PTR && lk->st == RESOLVER_OK ? strlen(lk->ptr) + 1 : 0;
	struct cache_ent *e = malloc(sizeof(*e) + nl + pl);
	if (e == NULL) {
		return;
	}
	e->view = q->view;
	e->expires = ttl_ms > UINT64_MAX - now ? UINT64_MAX : now + ttl_ms;
	e->used = ++cache_clock;
	e->hash = h;
	e->qtype = lk->qtype;
	e->st = (uint8_t)lk->st;
	e->naddrs = (uint8_t)lk->naddrs;
	memcpy(e->addrs, lk->addrs, sizeof(e->addrs));
	memcpy(e->key, lk->name, nl);
	e->ptr = NULL;
	if (pl != 0) {
		memcpy(e->key + nl, lk->ptr, pl);
		e->ptr = e->key + nl;
	}
	cache[cache_len++] = e;
}

/* ---- tries: one datagram, one socket ---------------------------------------------- */

static void try_close(struct rtry *t)
{
	if (t->w.fd >= 0) {
		loop_del(&t->w);
		close(t->w.fd);
		t->w.fd = -1;
	}
}

static void lookup_close(struct lookup *lk)
{
	for (size_t i = 0; i < RESOLVER_OPEN_TRIES; i++) {
		try_close(&lk->tries[i]);
	}
}

/* The lookup has its outcome: no more sockets; the tick takes it from here. */
static void lookup_finish(struct lookup *lk, enum resolver_status st)
{
	lookup_close(lk);
	lk->st = st;
	lk->state = LK_DONE;
	timer_set(&lk->q->timer, 0);
}

/* The server of try t answered with an error code or an ICMP error: skip it
 * for this lookup and ask the next one now. */
static void server_failed(struct lookup *lk, struct rtry *t, const char *why)
{
	log_msg(LOGL_DEBUG, 0, "resolver: server #%u %s for \"%s\"", (unsigned)t->server + 1,
		why, lk->name);
	lk->failed |= 1u << t->server;
	try_close(t);
	lk->next_try = loop_now();
	timer_set(&lk->q->timer, 0);
}

static void lookup_answer(struct lookup *lk, struct rtry *t, const struct dns_answer *a)
{
	const struct resolver_query *q = lk->q;
	enum resolver_status st;
	uint64_t ttl_ms;

	if (a->rcode == DNS_RCODE_NXDOMAIN) {
		st = RESOLVER_NOTFOUND; /* RFC 8020: nothing below it either */
	} else if (a->rcode != DNS_RCODE_NOERROR) {
		/* SERVFAIL, REFUSED, FORMERR, NOTIMP, ...: another server may do better */
		server_failed(lk, t, "answered with an error");
		return;
	} else if (a->truncated) {
		/* no TCP fallback (resolver.h) */
		log_msg(LOGL_DEBUG, 0, "resolver: truncated answer for \"%s\"", lk->name);
		lookup_finish(lk, RESOLVER_TEMPFAIL);
		return;
	} else if (lk->qtype == DNS_T_PTR) {
		st = a->ptr[0] != '\0' ? RESOLVER_OK : RESOLVER_NOTFOUND;
	} else {
		st = a->naddrs != 0 ? RESOLVER_OK : RESOLVER_NOTFOUND;
	}
	lk->naddrs = 0;
	lk->ptr[0] = '\0';
	if (st == RESOLVER_OK) {
		lk->naddrs = a->naddrs;
		memcpy(lk->addrs, a->addrs, sizeof(lk->addrs));
		memcpy(lk->ptr, a->ptr, sizeof(lk->ptr));
		ttl_ms = q->valid_ms != 0 ? q->valid_ms
					  : MP_MIN((uint64_t)a->ttl * 1000u, (uint64_t)RESOLVER_TTL_MAX_MS);
	} else {
		ttl_ms = q->valid_ms != 0 ? q->valid_ms : RESOLVER_NEG_TTL_MS;
	}
	lk->st = st;
	cache_put(lk, ttl_ms);
	lookup_finish(lk, st);
}

static void try_readable(struct ev_watch *w, unsigned events)
{
	struct rtry *t = MP_CONTAINER_OF(w, struct rtry, w);
	struct lookup *lk = t->lk;
	const struct mp_addr *server = &lk->q->servers[t->server];

	(void)events;
	/* bounded: a flood of junk must not starve the loop (level-triggered,
	 * so what is left is read at the next turn) */
	for (int i = 0; i < RESOLVER_READS_MAX; i++) {
		struct mp_addr from;
		struct dns_answer a;

		memset(&from, 0, sizeof(from));
		from.len = sizeof(from.u);
		ssize_t r = recvfrom(w->fd, rx, sizeof(rx), 0, &from.u.sa, &from.len);
		if (r < 0) {
			if (errno == EINTR) {
				continue;
			}
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				return;
			}
			/* ECONNREFUSED (ICMP port unreachable) and the like */
			server_failed(lk, t, strerror(errno));
			return;
		}
		/* the socket is connected, so the kernel filtered already;
		 * checked again in case a platform does not */
		if (!net_addr_equal(&from, server)) {
			continue;
		}
		if (dns_parse_response(rx, (size_t)r, t->id, lk->name, lk->qtype, &a) != MP_OK) {
			/* wrong ID or question, malformed, oversize: maybe spoofed,
			 * maybe stale; the real answer may still come */
			continue;
		}
		lookup_answer(lk, t, &a);
		return;
	}
}

/* Send one try of lk to server s. MP_OK; MP_INVALID: that server cannot be
 * reached (skip it); MP_ERR: a local failure (no socket, no randomness). */
static enum mp_status try_send(struct lookup *lk, unsigned s)
{
	const struct mp_addr *sa = &lk->q->servers[s];
	struct rtry *t = NULL;
	uint8_t pkt[DNS_QUERY_MAX];
	size_t len;
	uint16_t id;

	if (rand_bytes(&id, sizeof(id)) != MP_OK ||
	    dns_build_query(id, lk->name, lk->qtype, pkt, sizeof(pkt), &len) != MP_OK) {
		return MP_ERR;
	}
	int fd = socket(sa->u.sa.sa_family, SOCK_DGRAM, 0);
	if (fd < 0) {
		return MP_ERR;
	}
	if (net_nonblock(fd) != 0) {
		close(fd);
		return MP_ERR;
	}
	/* connect(): the kernel picks a random ephemeral port and drops
	 * datagrams from anyone but the server (RFC 5452 §3, §9.2) */
	if (connect(fd, &sa->u.sa, sa->len) != 0 || send(fd, pkt, len, 0) != (ssize_t)len) {
		log_msg(LOGL_DEBUG, 0, "resolver: server #%u unreachable for \"%s\": %s", s + 1,
			lk->name, strerror(errno));
		close(fd);
		return MP_INVALID;
	}
	/* sent: into a free slot, else the oldest try's (it has had its chance) */
	for (size_t i = 0; i < RESOLVER_OPEN_TRIES; i++) {
		struct rtry *c = &lk->tries[i];
		if (c->w.fd < 0) {
			t = c;
			break;
		}
		if (t == NULL || c->seq < t->seq) {
			t = c;
		}
	}
	try_close(t);
	t->w.fd = fd;
	t->w.want = 0;
	t->w.active = 0;
	t->w.fn = try_readable;
	t->lk = lk;
	t->id = id;
	t->server = (uint8_t)s;
	t->seq = lk->sent++;
	if (loop_set(&t->w, EV_READ) != 0) {
		close(fd);
		t->w.fd = -1;
		return MP_ERR;
	}
	return MP_OK;
}

static bool lookup_waiting(const struct lookup *lk)
{
	for (size_t i = 0; i < RESOLVER_OPEN_TRIES; i++) {
		if (lk->tries[i].w.fd >= 0) {
			return true;
		}
	}
	return false;
}

/* Send the next try to the next server that has not failed. If none can
 * be sent, an earlier try still open is waited for until the next resend
 * time; without one the lookup ends in RESOLVER_TEMPFAIL. */
static void lookup_send(struct lookup *lk, uint64_t now)
{
	struct resolver_query *q = lk->q;
	unsigned base = lk->next_server;
	uint64_t interval = MP_MIN((uint64_t)RESOLVER_TRY_MS, q->deadline - now);

	for (size_t k = 0; k < q->nservers; k++) {
		unsigned s = (unsigned)((base + k) % q->nservers);
		if (lk->failed & (1u << s)) {
			continue;
		}
		enum mp_status r = try_send(lk, s);
		if (r == MP_OK) {
			lk->next_server = (uint8_t)((s + 1) % q->nservers);
			lk->next_try = now + interval;
			return;
		}
		if (r != MP_INVALID) {
			break; /* local trouble (descriptors, randomness): no use trying others */
		}
		lk->failed |= 1u << s;
	}
	if (lookup_waiting(lk)) {
		lk->next_try = now + interval;
		return;
	}
	log_msg(LOGL_DEBUG, 0, "resolver: no server left to ask for \"%s\"", lk->name);
	lookup_finish(lk, RESOLVER_TEMPFAIL);
}

/* ---- lookups and queries ---------------------------------------------------------- */

static void lookup_init(struct lookup *lk, struct resolver_query *q, const char *name,
			uint16_t qtype)
{
	lk->q = q;
	lk->state = LK_WAIT;
	lk->st = RESOLVER_TEMPFAIL;
	lk->qtype = qtype;
	lk->failed = 0;
	lk->next_try = 0;
	lk->sent = 0;
	lk->naddrs = 0;
	lk->ptr[0] = '\0';
	for (size_t i = 0; i < RESOLVER_OPEN_TRIES; i++) {
		lk->tries[i].w.fd = -1;
		lk->tries[i].w.want = 0;
		lk->tries[i].w.active = 0;
		lk->tries[i].lk = lk;
	}
	if (name != lk->name) {
		memcpy(lk->name, name, strlen(name) + 1);
	}
}

/* Already decided without a query (literal, bad name, no servers, ...). */
static void lookup_set_done(struct lookup *lk, struct resolver_query *q, uint16_t qtype,
			    enum resolver_status st)
{
	lookup_init(lk, q, "", qtype);
	lk->state = LK_DONE;
	lk->st = st;
}

static void lookup_step(struct lookup *lk, uint64_t now)
{
	struct resolver_query *q = lk->q;

	if (lk->state == LK_WAIT) {
		/* a cache hit is good even at the deadline */
		if (cache_get(lk)) {
			return;
		}
		lk->state = LK_RUNNING;
		lk->next_server = (uint8_t)(rr_next++ % q->nservers);
		lk->next_try = now;
	}
	if (lk->state != LK_RUNNING) {
		return;
	}
	if (now >= q->deadline) {
		log_msg(LOGL_DEBUG, 0, "resolver: timed out asking for \"%s\"", lk->name);
		lookup_finish(lk, RESOLVER_TEMPFAIL);
		return;
	}
	if (now >= lk->next_try) {
		lookup_send(lk, now);
	}
}

static void query_unlink(struct resolver_query *q)
{
	if (q->prev != NULL) {
		q->prev->next = q->next;
	} else {
		queries = q->next;
	}
	if (q->next != NULL) {
		q->next->prev = q->prev;
	}
}

static void query_free(struct resolver_query *q)
{
	for (size_t i = 0; i < RESOLVER_LOOKUPS; i++) {
		lookup_close(&q->lk[i]);
	}
	timer_stop(&q->timer);
	query_unlink(q);
	free(q);
}

static void set_addr(struct mp_addr *a, uint16_t qtype, const uint8_t *b)
{
	memset(a, 0, sizeof(*a));
	if (qtype == DNS_T_A) {
		a->u.in4.sin_family = AF_INET;
		memcpy(&a->u.in4.sin_addr, b, 4);
		a->len = sizeof(a->u.in4);
	} else {
		a->u.in6.sin6_family = AF_INET6;
		memcpy(&a->u.in6.sin6_addr, b, 16);
		a->len = sizeof(a->u.in6);
	}
}

/* The result is copied out and the query freed before the callback, so the
 * callback may start new queries, cancel others, or free its owner. */
static void deliver_name(struct resolver_query *q, enum resolver_status st, const char *name)
{
	char copy[DNS_NAME_MAX + 1];
	resolver_name_cb cb = q->name_cb;
	void *arg = q->arg;

	if (st == RESOLVER_OK) {
		memcpy(copy, name, strlen(name) + 1);
	}
	query_free(q);
	cb(arg, st, st == RESOLVER_OK ? copy : NULL);
}

static void deliver_addrs(struct resolver_query *q)
{
	struct mp_addr out[DNS_MAX_ADDRS];
	size_t n = 0;
	bool temp = false;
	resolver_addr_cb cb = q->addr_cb;
	void *arg = q->arg;

	for (size_t i = 0; i < RESOLVER_LOOKUPS; i++) {
		const struct lookup *lk = &q->lk[i];
		if (lk->state == LK_UNUSED) {
			continue;
		}
		if (lk->st == RESOLVER_TEMPFAIL) {
			temp = true;
		}
		for (size_t k = 0; lk->st == RESOLVER_OK && k < lk->naddrs && n < DNS_MAX_ADDRS; k++) {
			set_addr(&out[n++], lk->qtype, lk->addrs[k]);
		}
	}
	query_free(q);
	cb(arg, n != 0 ? RESOLVER_OK : temp ? RESOLVER_TEMPFAIL : RESOLVER_NOTFOUND, n != 0 ? out : NULL,
	   n);
}

enum advance { ADV_WAIT, ADV_AGAIN, ADV_DELIVERED };

static enum advance client_advance(struct resolver_query *q)
{
	struct lookup *lk = &q->lk[0];

	if (lk->state != LK_DONE) {
		return ADV_WAIT;
	}
	if (lk->st != RESOLVER_OK) {
		deliver_name(q, lk->st, NULL);
		return ADV_DELIVERED;
	}
	if (!q->forward) {
		/* the PTR is in (an LDH host name, dns_msg.c made sure);
		 * now its A or AAAA must lead back to the client */
		bool v4 = q->cfamily == AF_INET;
		if (v4 ? !q->ipv4 : !q->ipv6) {
			deliver_name(q, RESOLVER_NOTFOUND, NULL);
			return ADV_DELIVERED;
		}
		q->forward = true;
		memcpy(lk->name, lk->ptr, sizeof(lk->name));
		lookup_init(lk, q, lk->name, v4 ? DNS_T_A : DNS_T_AAAA);
		return ADV_AGAIN;
	}
	size_t alen = q->cfamily == AF_INET ? 4 : 16;
	for (size_t i = 0; i < lk->naddrs; i++) {
		if (memcmp(lk->addrs[i], q->caddr, alen) == 0) {
			deliver_name(q, RESOLVER_OK, lk->name);
			return ADV_DELIVERED;
		}
	}
	log_msg(LOGL_DEBUG, 0, "resolver: \"%s\" does not resolve back to the client", lk->name);
	deliver_name(q, RESOLVER_NOTFOUND, NULL);
	return ADV_DELIVERED;
}

static enum advance host_advance(struct resolver_query *q)
{
	for (size_t i = 0; i < RESOLVER_LOOKUPS; i++) {
		if (q->lk[i].state != LK_UNUSED && q->lk[i].state != LK_DONE) {
			return ADV_WAIT;
		}
	}
	deliver_addrs(q);
	return ADV_DELIVERED;
}

static void query_tick(struct timer *t)
{
	struct resolver_query *q = MP_CONTAINER_OF(t, struct resolver_query, timer);
	uint64_t now = loop_now();

	if (q->dead) {
		query_free(q);
		return;
	}
	/* ADV_AGAIN happens once at most (PTR -> forward lookup) */
	for (;;) {
		for (size_t i = 0; i < RESOLVER_LOOKUPS; i++) {
			lookup_step(&q->lk[i], now);
		}
		enum advance a = q->kind == Q_CLIENT ? client_advance(q) : host_advance(q);
		if (a == ADV_DELIVERED) {
			return;
		}
		if (a == ADV_WAIT) {
			break;
		}
	}
	uint64_t next = q->deadline;
	for (size_t i = 0; i < RESOLVER_LOOKUPS; i++) {
		const struct lookup *lk = &q->lk[i];
		if (lk->state == LK_RUNNING) {
			next = MP_MIN(next, lk->next_try);
		}
	}
	timer_set(&q->timer, next > now ? next - now : 0);
}

static struct resolver_query *query_new(const struct conf_resolver *cfg, uint64_t timeout_ms,
					enum q_kind kind, void *arg)
{
	size_t n = MP_MIN(cfg->n, (size_t)RESOLVER_SERVERS_MAX);
	struct resolver_query *q = calloc(1, sizeof(*q) + n * sizeof(q->servers[0]));
	uint64_t now = loop_now();

	if (q == NULL) {
		return NULL;
	}
	q->kind = kind;
	q->arg = arg;
	q->timer.fn = query_tick;
	q->deadline = timeout_ms > UINT64_MAX - now ? UINT64_MAX : now + timeout_ms;
	q->valid_ms = cfg->valid_ms;
	q->ipv4 = cfg->ipv4;
	q->ipv6 = cfg->ipv6;
	q->nservers = n;
	/* answers from different server sets, or kept for a different valid=,
	 * do not mix in the cache */
	uint64_t view = fnv64(0xcbf29ce484222325u, &q->valid_ms, sizeof(q->valid_ms));
	for (size_t i = 0; i < n; i++) {
		const struct mp_addr *a = &cfg->addrs[i];
		uint16_t fam = a->u.sa.sa_family, port = net_port(a);
		q->servers[i] = *a;
		view = fnv64(view, &fam, sizeof(fam));
		view = fnv64(view, &port, sizeof(port));
		if (fam == AF_INET) {
			view = fnv64(view, &a->u.in4.sin_addr, 4);
		} else if (fam == AF_INET6) {
			view = fnv64(view, &a->u.in6.sin6_addr, 16);
		}
	}
	q->view = view;
	for (size_t i = 0; i < RESOLVER_LOOKUPS; i++) {
		lookup_init(&q->lk[i], q, "", 0);
		q->lk[i].state = LK_UNUSED;
	}
	q->next = queries;
	if (queries != NULL) {
		queries->prev = q;
	}
	queries = q;
	/* everything else happens in the loop: no callback from inside the call */
	timer_set(&q->timer, 0);
	return q;
}

struct resolver_query *resolver_client_name(const struct conf_resolver *cfg, uint64_t timeout_ms,
					    const struct mp_addr *addr, resolver_name_cb cb, void *arg)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	char ptr[DNS_PTR_NAME_MAX];
	struct resolver_query *q = query_new(cfg, timeout_ms, Q_CLIENT, arg);

	if (q == NULL) {
		return NULL;
	}
	q->name_cb = cb;
	if (addr->u.sa.sa_family == AF_INET) {
		q->cfamily = AF_INET;
		memcpy(q->caddr, &addr->u.in4.sin_addr, 4);
	} else if (addr->u.sa.sa_family == AF_INET6) {
		const uint8_t *b = (const uint8_t *)&addr->u.in6.sin6_addr;
		if (memcmp(b, v4mapped, sizeof(v4mapped)) == 0) {
			q->cfamily = AF_INET;
			memcpy(q->caddr, b + 12, 4);
		} else {
			q->cfamily = AF_INET6;
			memcpy(q->caddr, b, 16);
		}
	}
	if (dns_ptr_name(addr, ptr, sizeof(ptr)) == 0) {
		/* a unix-socket client: nginx says [TEMPUNAVAIL] */
		lookup_set_done(&q->lk[0], q, DNS_T_PTR, RESOLVER_TEMPFAIL);
	} else if (q->nservers == 0) {
		lookup_set_done(&q->lk[0], q, DNS_T_PTR, RESOLVER_NOTFOUND);
	} else {
		lookup_init(&q->lk[0], q, ptr, DNS_T_PTR);
	}
	return q;
}

struct resolver_query *resolver_host_addrs(const struct conf_resolver *cfg, uint64_t timeout_ms,
					   const char *name, resolver_addr_cb cb, void *arg)
{
	struct resolver_query *q = query_new(cfg, timeout_ms, Q_HOST, arg);
	struct lookup *lk;
	struct mp_addr lit;
	char norm[DNS_NAME_MAX + 1];
	uint8_t pkt[DNS_QUERY_MAX];
	size_t len;

	if (q == NULL) {
		return NULL;
	}
	q->addr_cb = cb;
	lk = &q->lk[0];
	if (net_parse_ip(name, strlen(name), &lit) == MP_OK) {
		/* an IP literal needs no query (nginx's ngx_resolve_name() does the same) */
		bool v4 = lit.u.sa.sa_family == AF_INET;
		lookup_set_done(lk, q, v4 ? DNS_T_A : DNS_T_AAAA, RESOLVER_OK);
		lk->naddrs = 1;
		if (v4) {
			memcpy(lk->addrs[0], &lit.u.in4.sin_addr, 4);
		} else {
			memcpy(lk->addrs[0], &lit.u.in6.sin6_addr, 16);
		}
		return q;
	}
	if (!copy_name(norm, name) ||
	    dns_build_query(0, norm, DNS_T_A, pkt, sizeof(pkt), &len) != MP_OK ||
	    q->nservers == 0) {
		lookup_set_done(lk, q, DNS_T_A, RESOLVER_NOTFOUND);
		return q;
	}
	if (q->ipv4) {
		lookup_init(lk++, q, norm, DNS_T_A);
	}
	if (q->ipv6) {
		lookup_init(lk, q, norm, DNS_T_AAAA);
	}
	if (!q->ipv4 && !q->ipv6) {
		/* conf refuses both off; be safe anyway */
		lookup_set_done(lk, q, DNS_T_A, RESOLVER_NOTFOUND);
	}
	return q;
}

void resolver_cancel(struct resolver_query *q)
{
	if (q == NULL) {
		return;
	}
	/* sockets now; memory after the current event batch (see the top) */
	for (size_t i = 0; i < RESOLVER_LOOKUPS; i++) {
		lookup_close(&q->lk[i]);
	}
	q->dead = true;
	timer_set(&q->timer, 0);
}

void resolver_shutdown(void)
{
	while (queries != NULL) {
		query_free(queries);
	}
	while (cache_len > 0) {
		cache_drop(cache_len - 1);
	}
}
