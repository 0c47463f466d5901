/*
 * A command-line driver for proto/resolver.c, for tests against real name
 * servers (dnsmasq) and test/integration/dns_fake.py. Not part of mproxy.
 *
 *   resolver_probe [-s SERVER[:PORT]]... [-t TIMEOUT_MS] [-V VALID_MS] [-4] [-6] [-d]
 *                  (host NAME | client IP | sleep MS)...
 *
 * -s adds a name server (port 53 unless given; "[v6]:port" for IPv6);
 * -4 / -6 mean ipv4=off / ipv6=off; -d logs debug lines to stderr.
 * The operations run one after the other in one process, so the second of
 * two equal lookups shows the cache. One line per operation on stdout:
 *   OK <name>            client, forward-confirmed
 *   OK <addr> [<addr>]   host
 *   NOTFOUND | TEMPFAIL
 * each followed by " ms=<elapsed>". Exit status 0 unless usage is wrong.
 *
 * Build (from the repository root):
 *   cc -std=c11 -D_GNU_SOURCE -O1 -g -I. test/resolver_probe.c proto/resolver.c \
 *      proto/dns_msg.c core/loop.c core/loop_epoll.c core/loop_kqueue.c core/timer.c \
 *      core/net.c core/rand.c core/log.c -o build/resolver_probe
 */
#include "../core/log.h"
#include "../core/loop.h"
#include "../core/net.h"
#include "../proto/resolver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROBE_SERVERS_MAX 8

static bool done;

static const char *status_text(enum resolver_status st)
{
	switch (st) {
	case RESOLVER_OK:
		return "OK";
	case RESOLVER_NOTFOUND:
		return "NOTFOUND";
	default:
		return "TEMPFAIL";
	}
}

static void on_name(void *arg, enum resolver_status st, const char *name)
{
	uint64_t t0 = *(const uint64_t *)arg;
	printf("%s%s%s ms=%llu\n", status_text(st), name ? " " : "", name ? name : "",
	       (unsigned long long)(loop_now() - t0));
	done = true;
}

static void on_addrs(void *arg, enum resolver_status st, const struct mp_addr *a, size_t n)
{
	uint64_t t0 = *(const uint64_t *)arg;
	printf("%s", status_text(st));
	for (size_t i = 0; i < n; i++) {
		char t[MP_ADDR_TEXT_MAX];
		net_ip_text(&a[i], t, sizeof(t));
		printf(" %s", t);
	}
	printf(" ms=%llu\n", (unsigned long long)(loop_now() - t0));
	done = true;
}

static int usage(void)
{
	fprintf(stderr, "usage: resolver_probe [-s SERVER[:PORT]]... [-t MS] [-V MS] [-4] [-6] [-d] "
			"(host NAME | client IP | sleep MS)...\n");
	return 2;
}

static bool parse_server(const char *s, struct mp_addr *a)
{
	if (net_parse_addr_port(s, strlen(s), a) == MP_OK && a->u.sa.sa_family != AF_UNIX) {
		return true;
	}
	if (net_parse_ip(s, strlen(s), a) == MP_OK) {
		net_set_port(a, 53);
		return true;
	}
	return false;
}

int main(int argc, char **argv)
{
	struct mp_addr servers[PROBE_SERVERS_MAX];
	struct conf_resolver cfg = { .addrs = servers, .ipv4 = true, .ipv6 = true };
	uint64_t timeout_ms = 5000;
	char err[256];
	int i;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *o = argv[i];
		if (strcmp(o, "-4") == 0) {
			cfg.ipv4 = false;
		} else if (strcmp(o, "-6") == 0) {
			cfg.ipv6 = false;
		} else if (strcmp(o, "-d") == 0) {
			if (log_open("stderr", LOGL_DEBUG, err, sizeof(err)) != 0) {
				fprintf(stderr, "%s\n", err);
				return 1;
			}
		} else if (i + 1 < argc && strcmp(o, "-s") == 0) {
			if (cfg.n == PROBE_SERVERS_MAX || !parse_server(argv[++i], &servers[cfg.n])) {
				return usage();
			}
			cfg.n++;
		} else if (i + 1 < argc && strcmp(o, "-t") == 0) {
			timeout_ms = strtoull(argv[++i], NULL, 10);
		} else if (i + 1 < argc && strcmp(o, "-V") == 0) {
			cfg.valid_ms = strtoull(argv[++i], NULL, 10);
		} else {
			return usage();
		}
	}
	if (i == argc || loop_init() != 0) {
		return usage();
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (; i + 1 < argc; i += 2) {
		const char *op = argv[i], *v = argv[i + 1];
		uint64_t t0;
		struct resolver_query *q;

		loop_update_time();
		t0 = loop_now();
		done = false;
		if (strcmp(op, "sleep") == 0) {
			uint64_t until = t0 + strtoull(v, NULL, 10);
			while (loop_now() < until) {
				loop_run_once((int)(until - loop_now()));
			}
			continue;
		}
		if (strcmp(op, "host") == 0) {
			q = resolver_host_addrs(&cfg, timeout_ms, v, on_addrs, &t0);
		} else if (strcmp(op, "client") == 0) {
			struct mp_addr a;
			if (net_parse_ip(v, strlen(v), &a) != MP_OK) {
				return usage();
			}
			q = resolver_client_name(&cfg, timeout_ms, &a, on_name, &t0);
		} else {
			return usage();
		}
		if (q == NULL) {
			printf("ERROR out of memory\n");
			return 1;
		}
		while (!done) {
			if (loop_run_once(-1) != 0) {
				return 1;
			}
		}
	}
	if (i != argc) {
		return usage();
	}
	resolver_shutdown();
	return 0;
}
