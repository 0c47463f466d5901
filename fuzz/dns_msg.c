/*
 * libFuzzer target for proto/dns_msg.c. The first input byte picks the
 * question we pretend to have asked; the rest is the response, whose own ID
 * is taken as the expected one so the fuzzer gets past the ID check. The
 * same bytes also feed dns_build_query() (as a name) and dns_ptr_name()
 * (as an IPv6 address), with the properties below checked by trap.
 */
#include "../proto/dns_msg.h"

#include <string.h>

#define REQUIRE(c)                          \
	do {                                \
		if (!(c)) {                 \
			__builtin_trap();   \
		}                           \
	} while (0)

static const struct {
	const char *name;
	uint16_t type;
} asks[] = {
	{ "mail.example.com", DNS_T_A },
	{ "mail.example.com", DNS_T_AAAA },
	{ "1.2.0.192.in-addr.arpa", DNS_T_PTR },
	{ "a", DNS_T_A },
	{ "mail.example.com", DNS_T_CNAME },
};

static bool host_ok(const char *s)
{
	size_t n = strlen(s), label = 0;
	if (n == 0 || n >= DNS_NAME_MAX) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '.') {
			if (label == 0) {
				return false;
			}
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-') || ++label > 63) {
			return false;
		}
	}
	return label != 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct dns_answer a;
	uint8_t q[DNS_QUERY_MAX];
	char name[DNS_NAME_MAX + 64];
	size_t qlen, m;

	if (n < 1) {
		return 0;
	}
	size_t sel = d[0] % (sizeof(asks) / sizeof(asks[0]));
	const uint8_t *p = d + 1;
	m = n - 1;
	uint16_t id = m >= 2 ? (uint16_t)(p[0] << 8 | p[1]) : 0;

	memset(&a, 0, sizeof(a));
	if (dns_parse_response(p, m, id, asks[sel].name, asks[sel].type, &a) == MP_OK) {
		REQUIRE(a.naddrs <= DNS_MAX_ADDRS);
		REQUIRE(a.rcode >= 0 && a.rcode <= 15);
		REQUIRE(memchr(a.ptr, '\0', sizeof(a.ptr)) != NULL);
		REQUIRE(a.ptr[0] == '\0' || (asks[sel].type == DNS_T_PTR && host_ok(a.ptr)));
		REQUIRE(a.ttl <= 0x7fffffffu);
		if (asks[sel].type != DNS_T_A && asks[sel].type != DNS_T_AAAA) {
			REQUIRE(a.naddrs == 0);
		}
		/* a 12-byte header alone can never carry the question */
		REQUIRE(m > 12);
	}

	/* the bytes as a name: a query we build parses back once QR is set */
	size_t l = m < sizeof(name) - 1 ? m : sizeof(name) - 1;
	memcpy(name, p, l);
	name[l] = '\0';
	if (dns_build_query(0x4242, name, DNS_T_A, q, sizeof(q), &qlen) == MP_OK) {
		REQUIRE(qlen <= DNS_QUERY_MAX);
		REQUIRE(dns_parse_response(q, qlen, 0x4242, name, DNS_T_A, &a) == MP_INVALID);
		q[2] |= 0x80;
		REQUIRE(dns_parse_response(q, qlen, 0x4242, name, DNS_T_A, &a) == MP_OK);
		REQUIRE(a.naddrs == 0 && a.rcode == 0 && a.ttl == 0);
		REQUIRE(dns_parse_response(q, qlen - 1, 0x4242, name, DNS_T_A, &a) == MP_INVALID);
	}

	/* the bytes as an address: its reverse name is always a valid query */
	if (m >= 16) {
		struct mp_addr ad;
		char rev[DNS_PTR_NAME_MAX];
		memset(&ad, 0, sizeof(ad));
		if (p[0] & 1) {
			ad.u.in4.sin_family = AF_INET;
			memcpy(&ad.u.in4.sin_addr, p + 1, 4);
		} else {
			ad.u.in6.sin6_family = AF_INET6;
			memcpy(&ad.u.in6.sin6_addr, p, 16);
		}
		size_t rl = dns_ptr_name(&ad, rev, sizeof(rev));
		REQUIRE(rl > 0 && rl < sizeof(rev) && rev[rl] == '\0');
		REQUIRE(dns_build_query(1, rev, DNS_T_PTR, q, sizeof(q), &qlen) == MP_OK);
	}
	return 0;
}
