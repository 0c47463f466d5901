/*
 * libFuzzer target for the SMTP side: the line framer, the command parser on
 * every framed line, the multi-line reply parser (re-parsed at its own length
 * and one byte short), the EHLO keyword look-up, and xtext (decoded back and
 * compared). The first byte picks the limit, so max-1/max/max+1 get hit.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/line.h"
#include "proto/smtp_parse.h"

#define INSIDE(s, base, len) \
	((s).p >= (base) && (size_t)((s).p - (base)) <= (len) && (s).n <= (len) - (size_t)((s).p - (base)))

static void check_cmd(const char *p, size_t n)
{
	struct smtp_cmd c;

	if (smtp_parse_cmd(p, n, &c) != MP_OK) {
		return;
	}
	if (c.nargs > SMTP_ARGS_MAX || !INSIDE(c.verb, p, n) || !INSIDE(c.rest, p, n)
	    || !INSIDE(c.params, p, n) || c.line.p != p || c.line.n != n
	    || str_has_ctl_crlfnul(c.line)) {
		abort();
	}
	for (size_t i = 0; i < c.nargs; i++) {
		if (!INSIDE(c.args[i], p, n)) {
			abort();
		}
	}
	if ((c.id == SMTP_HELO || c.id == SMTP_EHLO) && (c.nargs != 1 || c.args[0].n == 0)) {
		abort();
	}
	if ((c.id == SMTP_MAIL || c.id == SMTP_RCPT) && c.nargs != 1) {
		abort();
	}
}

static int unhex(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static void check_xtext(const char *p, size_t n, size_t cap)
{
	static char out[3 * 256 + 1];
	static char back[256];

	if (n > 256) {
		n = 256;
	}
	if (cap > sizeof(out) - 1) {
		cap = sizeof(out) - 1;
	}
	out[cap] = '#';
	size_t o = smtp_xtext_encode(out, cap, (struct mp_str){ p, n });
	if (out[cap] != '#' || o > cap) {
		abort();
	}
	if (o == 0) {
		return;
	}
	size_t b = 0;
	for (size_t i = 0; i < o; i++) {
		if (out[i] == '+') {
			if (o - i < 3 || unhex(out[i + 1]) < 0 || unhex(out[i + 2]) < 0) {
				abort();
			}
			back[b++] = (char)(unhex(out[i + 1]) * 16 + unhex(out[i + 2]));
			i += 2;
		} else if (out[i] < '!' || out[i] > '~' || out[i] == '=') {
			abort();
		} else {
			back[b++] = out[i];
		}
	}
	if (b != n || memcmp(back, p, n) != 0) {
		abort();
	}
}

static void check_reply(const char *p, size_t n, size_t max)
{
	struct smtp_reply r, r2;
	enum mp_status st = smtp_parse_reply(p, n, max, &r);

	if (st != MP_OK) {
		return;
	}
	if (!r.complete || r.len == 0 || r.len > n || r.len > max || r.nlines == 0
	    || r.code < 200 || r.code > 559 || !INSIDE(r.first_text, p, r.len)
	    || !INSIDE(r.last_text, p, r.len) || !INSIDE(r.ext, p, r.len)
	    || r.has_ext != (r.ext.n > 0) || p[r.len - 1] != '\n') {
		abort();
	}
	if (smtp_parse_reply(p, r.len, max, &r2) != MP_OK || r2.len != r.len
	    || r2.code != r.code || r2.nlines != r.nlines) {
		abort();
	}
	if (smtp_parse_reply(p, r.len - 1, max, &r2) != MP_AGAIN) {
		abort();
	}
	struct mp_str params;
	static const char *const kws[] = { "XCLIENT", "AUTH", "STARTTLS", "PIPELINING", "X" };
	for (size_t i = 0; i < sizeof(kws) / sizeof(kws[0]); i++) {
		if (smtp_reply_find_keyword(p, r.len, kws[i], &params)
		    && !INSIDE(params, p, r.len)) {
			abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (n == 0) {
		return 0;
	}
	size_t max = (size_t)d[0] * 4 + 1;
	const char *p = (const char *)d + 1;
	size_t left = n - 1;

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
	check_cmd(p, left);

	check_reply(p, left, max);
	check_reply(p, left, left + 1);
	/* Keyword look-up must survive any bytes, not only parsed replies. */
	(void)smtp_reply_has_keyword(p, left, "AUTH");

	check_xtext(p, left, (size_t)d[0] * 3);
	check_xtext(p, left, 3 * 256);
	return 0;
}
