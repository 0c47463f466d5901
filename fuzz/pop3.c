/*
 * libFuzzer target for the POP3 side: the line framer, the command parser on
 * every framed line, and the reply parser on the whole input, with the
 * invariants the daemon relies on checked (slices inside the input, no
 * CR/LF/NUL in a credential, replies consistent when re-parsed at their own
 * length). The first byte picks the limit, so max-1/max/max+1 get hit.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/line.h"
#include "proto/pop3_parse.h"

#define INSIDE(s, base, len) \
	((s).p >= (base) && (size_t)((s).p - (base)) <= (len) && (s).n <= (len) - (size_t)((s).p - (base)))

static void check_cmd(const char *p, size_t n)
{
	struct pop3_cmd c;

	if (pop3_parse_cmd(p, n, &c) != MP_OK) {
		return;
	}
	if (c.nargs > POP3_ARGS_MAX || !INSIDE(c.verb, p, n) || !INSIDE(c.rest, p, n)) {
		abort();
	}
	for (size_t i = 0; i < c.nargs; i++) {
		if (!INSIDE(c.args[i], p, n) || c.args[i].n == 0 || str_has_ctl_crlfnul(c.args[i])) {
			abort();
		}
	}
	if ((c.id == POP3_USER || c.id == POP3_PASS) && c.nargs != 1) {
		abort();
	}
	if (c.id == POP3_APOP && (c.nargs != 2 || c.args[1].n != POP3_APOP_DIGEST_LEN)) {
		abort();
	}
}

static void check_reply(const char *p, size_t n, size_t max)
{
	struct pop3_reply r, r2;
	enum mp_status st = pop3_parse_reply(p, n, max, &r);

	if (st != MP_OK) {
		return;
	}
	if (r.len == 0 || r.len > n || r.len > max || !INSIDE(r.text, p, r.len)
	    || str_has_ctl_crlfnul(r.text) || p[r.len - 1] != '\n') {
		abort();
	}
	/* Same answer on exactly the reply's bytes; "again" one byte short. */
	if (pop3_parse_reply(p, r.len, max, &r2) != MP_OK || r2.len != r.len
	    || r2.kind != r.kind || r2.text.p != r.text.p || r2.text.n != r.text.n) {
		abort();
	}
	if (pop3_parse_reply(p, r.len - 1, max, &r2) != MP_AGAIN) {
		abort();
	}
	(void)pop3_greeting_has_xclient(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (n == 0) {
		return 0;
	}
	size_t max = (size_t)d[0] + 1;
	const char *p = (const char *)d + 1;
	size_t left = n - 1;

	/* Frame and parse every line, as the client side of the daemon does. */
	const char *q = p;
	size_t rem = left;
	for (;;) {
		size_t len, used;
		enum mp_status st = line_frame(q, rem, max, &len, &used);
		if (st != MP_OK) {
			if (st == MP_AGAIN && rem >= max) {
				abort();
			}
			break;
		}
		if (used > rem || used > max || len >= used || q[used - 1] != '\n') {
			abort();
		}
		check_cmd(q, len);
		q += used;
		rem -= used;
	}
	/* Also the whole input as one line, whatever it holds. */
	check_cmd(p, left);

	check_reply(p, left, max);
	check_reply(p, left, left + 1);
	return 0;
}
