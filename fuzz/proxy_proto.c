/*
 * libFuzzer target for proto/proxy_proto.c. Properties checked by trap:
 * a header that parses is MP_AGAIN on every shorter prefix we try; an
 * MP_AGAIN input is MP_AGAIN on its prefixes too; addresses that parse
 * survive a build/parse round trip in both versions.
 */
#include "../proto/proxy_proto.h"

#include <string.h>

#define REQUIRE(c)                          \
	do {                                \
		if (!(c)) {                 \
			__builtin_trap();   \
		}                           \
	} while (0)

static void roundtrip(const struct pp_header *h)
{
	struct pp_header r;
	char v1[PP_V1_MAX];
	uint8_t v2[PP_V2_MAX];
	size_t len;

	REQUIRE(pp_build_v1(&h->src, &h->dst, v1, sizeof(v1), &len) == MP_OK);
	REQUIRE(pp_parse((const uint8_t *)v1, len, &r) == MP_OK && r.len == len);
	REQUIRE(!r.local && net_addr_equal(&r.src, &h->src) && net_addr_equal(&r.dst, &h->dst));
	REQUIRE(pp_build_v2(&h->src, &h->dst, v2, sizeof(v2), &len) == MP_OK);
	REQUIRE(pp_parse(v2, len, &r) == MP_OK && r.len == len);
	REQUIRE(!r.local && net_addr_equal(&r.src, &h->src) && net_addr_equal(&r.dst, &h->dst));
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct pp_header h, t;
	enum mp_status st = pp_parse(d, n, &h);

	switch (st) {
	case MP_OK:
		REQUIRE(h.len > 0 && h.len <= n && h.len <= PP_MAX);
		REQUIRE(h.version == 1 || h.version == 2);
		REQUIRE(h.version == 2 || h.len <= PP_V1_MAX);
		REQUIRE(pp_parse(d, h.len, &t) == MP_OK && t.len == h.len);
		REQUIRE(pp_parse(d, h.len - 1, &t) == MP_AGAIN);
		REQUIRE(pp_parse(d, h.len / 2, &t) == MP_AGAIN);
		if (h.local) {
			REQUIRE(h.src.len == 0 && h.dst.len == 0);
		} else {
			REQUIRE(h.src.u.sa.sa_family == h.dst.u.sa.sa_family);
			roundtrip(&h);
		}
		break;
	case MP_AGAIN:
		REQUIRE(n < PP_MAX);
		if (n > 0) {
			REQUIRE(pp_parse(d, n - 1, &t) == MP_AGAIN);
		}
		break;
	case MP_INVALID:
	case MP_TOOLONG:
		REQUIRE(n > 0);
		break;
	default:
		__builtin_trap();
	}
	return 0;
}
