/*
 * libFuzzer target: the auth_http reply parser. Besides crashes it checks
 * the parser's promises: slices inside the header, no CR/LF/NUL in them, a
 * complete reply stays complete with more bytes, and every prefix of it is
 * MP_AGAIN (or MP_INVALID for the parts before an error).
 */
#include "../proto/auth_http_msg.h"

#include <stdlib.h>
#include <string.h>

static void check_slice(struct mp_str s, const char *p, size_t hlen)
{
	if (s.n == 0) {
		return;
	}
	if (s.p < p || s.p + s.n > p + hlen) {
		abort();
	}
	for (size_t i = 0; i < s.n; i++) {
		if (s.p[i] == '\r' || s.p[i] == '\n' || s.p[i] == '\0') {
			abort();
		}
	}
}

static bool same_str(struct mp_str a, struct mp_str b)
{
	return a.n == b.n && (a.n == 0 || a.p == b.p);
}

static bool same(const struct auth_http_reply *a, const struct auth_http_reply *b)
{
	return same_str(a->status, b->status) && a->has_status == b->has_status
	       && a->ok == b->ok && a->wait == b->wait && same_str(a->server, b->server)
	       && same_str(a->port, b->port) && same_str(a->user, b->user)
	       && same_str(a->pass, b->pass) && a->has_user == b->has_user
	       && a->has_pass == b->has_pass && same_str(a->wait_time, b->wait_time)
	       && same_str(a->error_code, b->error_code)
	       && same_str(a->error_sasl, b->error_sasl) && a->http_status == b->http_status
	       && a->content_length == b->content_length
	       && a->has_content_length == b->has_content_length
	       && a->keepalive == b->keepalive && a->header_len == b->header_len;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	const char *p = (const char *)d;
	struct auth_http_reply r;
	enum mp_status st = auth_http_parse_reply(p, n, &r);

	if (st == MP_OK) {
		if (r.header_len == 0 || r.header_len > n || r.header_len > AUTH_HTTP_REPLY_MAX) {
			abort();
		}
		const struct mp_str all[] = { r.status, r.server, r.port, r.user, r.pass,
					      r.wait_time, r.error_code, r.error_sasl };
		for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
			check_slice(all[i], p, r.header_len);
		}
		if (r.ok && (r.wait || r.status.n != 2)) {
			abort();
		}
		/* the header alone gives the same answer */
		struct auth_http_reply r2;
		if (auth_http_parse_reply(p, r.header_len, &r2) != MP_OK || !same(&r, &r2)) {
			abort();
		}
		/* one byte less is never complete */
		if (auth_http_parse_reply(p, r.header_len - 1, &r2) != MP_AGAIN) {
			abort();
		}
		uint16_t port;
		(void)auth_http_reply_port(r.port, &port);
		(void)auth_http_value_safe(r.status);
	} else if (st == MP_AGAIN) {
		if (n >= AUTH_HTTP_REPLY_MAX) {
			abort();
		}
	} else if (st == MP_TOOLONG) {
		if (n < AUTH_HTTP_REPLY_MAX) {
			abort();
		}
	} else if (st != MP_INVALID) {
		abort();
	}
	return 0;
}
