/*
 * Fuzz the configuration lexer and parser on in-memory text: the whole
 * conf_load() path (directive table, setters, inheritance, validation) with
 * nothing read from disk (include fails, host names other than "localhost"
 * do not resolve, no passwd lookups). Inputs starting with a 0x01 byte go to
 * the small readers instead (URLs, CIDRs, hosts text, times, sizes).
 */
#include "../conf/conf_int.h"

#include <stdlib.h>
#include <string.h>

static size_t no_resolve(void *ctx, const char *host, size_t n, struct mp_addr *out, size_t max)
{
	(void)ctx;
	/* exercise the hosts reader with the host name as the "file" */
	return conf_hosts_find(host, n, host, n > 8 ? 8 : n, out, max);
}

static void readers(const uint8_t *d, size_t n)
{
	struct mp_str s = { (const char *)d, n };
	struct conf_url_out u;
	struct conf_cidr c;
	struct mp_addr addrs[4];
	uint8_t ip[4];
	int64_t v;
	bool low;

	for (int kind = 0; kind < 3; kind++) {
		struct conf_url_in in = { s, kind == 1, kind == 0, (uint16_t)(kind == 0 ? 80 : 0) };
		(void)conf_url_parse(&in, &u, no_resolve, NULL);
	}
	(void)conf_cidr_parse(s, &c, &low);
	(void)conf_inet4(s.p, s.n, ip);
	(void)conf_hosts_find(s.p, s.n, "localhost", 9, addrs, 4);
	(void)conf_parse_time(s, false, &v);
	(void)conf_parse_time(s, true, &v);
	(void)conf_parse_size(s, &v);
	(void)conf_parse_offset(s, &v);
	(void)conf_atoi(s, &v);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	char err[512];
	if (n > 0 && d[0] == 0x01) {
		readers(d + 1, n - 1);
		return 0;
	}
	/* an exact-size copy so ASan sees any read past the end */
	char *text = malloc(n > 0 ? n : 1);
	if (text == NULL) {
		return 0;
	}
	if (n > 0) {
		memcpy(text, d, n);
	}
	struct conf *c = conf_load_text(text, n, err, sizeof(err));
	if (c == NULL && memchr(err, '\0', sizeof(err)) == NULL) {
		abort(); /* the error message must always be terminated */
	}
	conf_free(c);
	free(text);
	return 0;
}
