#include "access.h"

#include <string.h>

static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned bytes = bits / 8, rest = bits % 8;
	if (memcmp(a, b, bytes) != 0) {
		return false;
	}
	if (rest == 0) {
		return true;
	}
	uint8_t mask = (uint8_t)(0xFFu << (8 - rest));
	return (a[bytes] & mask) == (b[bytes] & mask);
}

bool access_cidr_match(const struct conf_cidr *rule, const struct mp_addr *addr)
{
	int fam = addr->u.sa.sa_family;
	if (rule->family == 0) {
		return true; /* "all" */
	}
	if (rule->family == AF_UNIX) {
		return fam == AF_UNIX;
	}
	if (rule->family == AF_INET) {
		const uint8_t *v4 = NULL;
		if (fam == AF_INET) {
			v4 = (const uint8_t *)&addr->u.in4.sin_addr;
		} else if (fam == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&addr->u.in6.sin6_addr)) {
			v4 = (const uint8_t *)&addr->u.in6.sin6_addr + 12;
		}
		return v4 != NULL && prefix_equal(v4, rule->addr, MP_MIN(rule->prefix, 32u));
	}
	if (rule->family == AF_INET6 && fam == AF_INET6) {
		return prefix_equal((const uint8_t *)&addr->u.in6.sin6_addr, rule->addr,
				    MP_MIN(rule->prefix, 128u));
	}
	return false;
}

bool access_allowed(const struct conf_cidrlist *rules, const struct mp_addr *addr)
{
	for (size_t i = 0; i < rules->n; i++) {
		if (access_cidr_match(&rules->v[i], addr)) {
			return rules->v[i].allow;
		}
	}
	return true;
}

bool access_trusted(const struct conf_cidrlist *from, const struct mp_addr *addr)
{
	for (size_t i = 0; i < from->n; i++) {
		if (access_cidr_match(&from->v[i], addr)) {
			return true;
		}
	}
	return false;
}
