/*
 * libFuzzer target for the IMAP backend response parser and the quoting
 * helper. Byte 0 picks the line limit; the rest is what a backend sent. Lines
 * are walked as the backend login would (skipping literals of untagged data).
 * Every text imap_quote() accepts must read back unchanged through the
 * command parser.
 */
#include "../proto/imap_parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const size_t maxes[] = { 8, 40, 512, 4096 };

/* A broken contract aborts, naming the line. */
#define check(cond) check_at((cond), __LINE__)

static void check_at(int cond, int line)
{
	if (!cond) {
		fprintf(stderr, "contract broken at %s:%d\n", __FILE__, line);
		abort();
	}
}

static int inside(struct mp_str s, const char *p, size_t len)
{
	return s.n == 0 || (s.p >= p && s.p + s.n <= p + len);
}

static void roundtrip(struct mp_str s)
{
	static char cmd[8192], scratch[8192];
	size_t o = 8;
	memcpy(cmd, "a LOGIN ", o);
	size_t q = imap_quote(cmd + o, sizeof(cmd) - o - 2, s);
	if (q == 0) {
		for (size_t k = 0; k < s.n; k++) {
			unsigned char c = (unsigned char)s.p[k];
			if (c == 0 || c == '\r' || c == '\n' || c >= 0x80) {
				return;
			}
		}
		check(2 * s.n + 2 > sizeof(cmd) - o - 2);
		return;
	}
	memcpy(cmd + o + q, "\r\n", 2);
	struct imap_parse_ctx ctx = { 0, sizeof(cmd), scratch, sizeof(scratch) };
	struct imap_cmd c;
	check(imap_parse_command(&ctx, cmd, o + q + 2, &c) == MP_OK);
	check(c.nargs == 1 && c.args[0].type == IMAP_QUOTED);
	check(c.args[0].v.n == s.n && memcmp(c.args[0].v.p, s.p, s.n) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (n < 1) {
		return 0;
	}
	size_t max = maxes[d[0] % 4];
	const char *p = (const char *)d + 1;
	n -= 1;

	roundtrip((struct mp_str){ p, MP_MIN(n, 2000) });

	bool rest = false;
	for (int rounds = 0; rounds < 64 && n > 0; rounds++) {
		struct imap_resp r;
		enum mp_status st = rest ? imap_parse_response_rest(p, n, max, &r)
					 : imap_parse_response(p, n, max, &r);
		if (st != MP_OK) {
			if (st == MP_INVALID) {
				check(r.len > 0 && r.len <= MP_MIN(n, max) && p[r.len - 1] == '\n');
			}
			check(!r.literal && r.text.n == 0 && r.code.n == 0 && r.tag.n == 0);
			return 0;
		}
		check(r.len > 0 && r.len <= MP_MIN(n, max) && p[r.len - 1] == '\n');
		check(inside(r.tag, p, r.len - 1) && inside(r.code, p, r.len - 1));
		check(inside(r.text, p, r.len - 1) && inside(r.untagged_name, p, r.len - 1));
		check(memchr(r.text.p, '\r', r.text.n) == NULL);
		check(memchr(r.text.p, '\0', r.text.n) == NULL);
		check(r.literal_len <= IMAP_RESP_LITERAL_MAX);
		check(r.kind != IMAP_RESP_TAGGED || r.tag.n > 0);
		(void)imap_capability_has(r.code, "IMAP4rev1");
		(void)imap_capability_has(r.text, "LITERAL+");
		/* the line alone gives the same answer */
		struct imap_resp r2;
		st = rest ? imap_parse_response_rest(p, r.len, max, &r2)
			  : imap_parse_response(p, r.len, max, &r2);
		check(st == MP_OK && r2.len == r.len && r2.kind == r.kind && r2.status == r.status);
		size_t skip = r.len;
		rest = r.literal;
		if (r.literal) {
			if (r.literal_len > n - r.len) {
				return 0;
			}
			skip += r.literal_len;
		}
		p += skip;
		n -= skip;
	}
	return 0;
}
