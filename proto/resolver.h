/*
 * mproxy's own stub resolver: UDP only, no libc resolver, no getaddrinfo.
 * It serves nginx's mail `resolver` / `resolver_timeout` directives.
 *
 * Model: musl's res_msend.c. Several name servers (each with a port, 53 by
 * default) are asked round-robin; a try that stays unanswered for
 * RESOLVER_TRY_MS (or what is left of the timeout) is resent to the next
 * server; every query ends within timeout_ms, whatever the servers do.
 *
 * Every DNS server is hostile (security.md rows 6 and 10):
 *   - each datagram goes out on a fresh UDP socket (a kernel-chosen, random
 *     source port) connect()ed to the server, with a random 16-bit ID from
 *     rand_bytes(); the kernel drops datagrams from other addresses and
 *     ports, and the source is checked once more after recvfrom();
 *   - an answer must carry our ID and our question (dns_parse_response());
 *     anything invalid, oversize (> DNS_MSG_MAX) or spoofed-looking is
 *     dropped and waiting goes on;
 *   - PTR targets are plain LDH host names or nothing (CVE-2026-28753), and
 *     a client name is handed out only once forward-confirmed.
 * Outcomes: NXDOMAIN or "no such record" -> RESOLVER_NOTFOUND. SERVFAIL,
 * REFUSED and other error codes, or an ICMP error, make that server skipped
 * for the rest of the lookup and the next one asked at once; when every
 * server has failed -> RESOLVER_TEMPFAIL. A truncated (TC) answer ->
 * RESOLVER_TEMPFAIL: there is no TCP fallback (RFC 7766 wants one for a
 * full resolver; the records asked for here fit in 512 bytes unless a
 * server plays games, and a TCP client is a second, larger attack surface).
 * No answer within timeout_ms -> RESOLVER_TEMPFAIL.
 *
 * Cache: answers per (question, record type, server set) are kept for their
 * TTL (at most RESOLVER_TTL_MAX_MS), or for valid= when it is set; NXDOMAIN
 * and no-data answers for RESOLVER_NEG_TTL_MS (or valid=), as nginx does.
 * At most RESOLVER_CACHE_MAX entries; the least recently used goes first.
 *
 * Lifetimes: callbacks run from the event loop, never from inside a
 * resolver_* call (a cache hit is delivered through a zero-delay timer).
 * The query is freed just before its callback runs: from then on the
 * pointer is dead and must not be passed to resolver_cancel(). cfg is
 * copied; it need not outlive the call.
 */
#ifndef MP_RESOLVER_H
#define MP_RESOLVER_H

#include "../conf/conf.h"
#include "../core/common.h"
#include "../core/net.h"
#include "dns_msg.h" /* DNS_MAX_ADDRS */

#define RESOLVER_TRY_MS 1000          /* resend to the next server after this */
#define RESOLVER_CACHE_MAX 256        /* cache entries (each ~200 bytes + names) */
#define RESOLVER_NEG_TTL_MS 10000     /* NXDOMAIN / no data, unless valid= */
#define RESOLVER_TTL_MAX_MS 3600000u  /* a server's TTL is capped at one hour */

enum resolver_status {
	RESOLVER_OK,
	RESOLVER_NOTFOUND, /* nginx "[UNAVAILABLE]" */
	RESOLVER_TEMPFAIL, /* nginx "[TEMPUNAVAIL]" */
};

struct resolver_query;

/*
 * Client name as nginx's mail resolver does it (ngx_mail_smtp_resolve_addr_handler
 * + _name_handler): PTR of addr, then forward-confirm: A (IPv4 client) /
 * AAAA (IPv6 client) of the PTR name must contain addr. An IPv4-mapped IPv6
 * address counts as IPv4. With ipv4=off (ipv6=off) an IPv4 (IPv6) client
 * cannot be confirmed: RESOLVER_NOTFOUND. A unix-socket client gives
 * RESOLVER_TEMPFAIL (as nginx), no resolver configured RESOLVER_NOTFOUND.
 * timeout_ms bounds the whole thing, PTR and forward lookup together.
 * Calls cb exactly once, from the loop (never from inside this call), with
 * status and the confirmed name (NUL-terminated, [A-Za-z0-9.-] only, no
 * trailing dot, valid only during the callback; NULL unless RESOLVER_OK).
 * Returns NULL on immediate failure (out of memory): then no callback.
 */
typedef void (*resolver_name_cb)(void *arg, enum resolver_status st, const char *name);
struct resolver_query *resolver_client_name(const struct conf_resolver *cfg, uint64_t timeout_ms,
					    const struct mp_addr *addr, resolver_name_cb cb, void *arg);

/*
 * Forward lookup of a host name (e.g. an Auth-Server that is a name): up to
 * DNS_MAX_ADDRS addresses (port 0), A and/or AAAA per ipv4=/ipv6=, asked in
 * parallel; A addresses come first. RESOLVER_OK as soon as one of the two
 * gave addresses and the other has ended (answered, failed or timed out).
 * An IP literal is answered without a query; a name that is not a valid
 * DNS name gives RESOLVER_NOTFOUND. Same callback rules as above.
 */
typedef void (*resolver_addr_cb)(void *arg, enum resolver_status st, const struct mp_addr *addrs,
				 size_t n);
struct resolver_query *resolver_host_addrs(const struct conf_resolver *cfg, uint64_t timeout_ms,
					   const char *name, resolver_addr_cb cb, void *arg);

/* The caller is going away: no callback afterwards; frees everything of the
 * query (sockets at once, the memory after the current loop turn's event
 * batch). NULL is a no-op. Not for a query whose callback has started. */
void resolver_cancel(struct resolver_query *q);

/* Free the cache and any query still around (at exit, for leak checkers;
 * outside the loop). Queries still running are dropped without callback. */
void resolver_shutdown(void);

#endif
