/*
 * libFuzzer target for the IMAP client command parser and line framer.
 * Byte 0 picks the buffer limit, byte 1 the scratch size; the rest is what a
 * client sent. Commands are consumed as the session would (answering
 * continuations, skipping recoverable bad lines), and each result is checked
 * against the parser's contract: slices in bounds, every proper prefix of a
 * complete command incomplete, the same answer from exactly the command bytes.
 */
#include "../proto/imap_parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const size_t maxes[] = { 8, 24, 100, 4096 };

/* A broken contract aborts, naming the line. */
#define check(cond) check_at((cond), __LINE__)

static void check_at(int cond, int line)
{
	if (!cond) {
		fprintf(stderr, "contract broken at %s:%d\n", __FILE__, line);
		abort();
	}
}

static void check_slices(const struct imap_cmd *c, const char *p, const char *scratch, size_t cap)
{
	check(c->nargs <= IMAP_ARGS_MAX);
	check(c->tag.n <= IMAP_TAG_MAX);
	for (size_t a = 0; a < c->nargs; a++) {
		const struct mp_str *v = &c->args[a].v;
		int in_input = v->p >= p && v->p + v->n <= p + c->len;
		int in_scratch = scratch != NULL && v->p >= scratch && v->p + v->n <= scratch + cap;
		check(in_input || in_scratch);
		if (c->args[a].type == IMAP_QUOTED) {
			check(memchr(v->p, '\r', v->n) == NULL && memchr(v->p, '\n', v->n) == NULL);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static char scratch[4096];
	if (n < 2) {
		return 0;
	}
	size_t max = maxes[d[0] % 4];
	size_t cap = (d[1] & 1) ? max : (size_t)(d[1] >> 1) % 16;
	const char *p = (const char *)d + 2;
	n -= 2;

	size_t ll, used;
	enum mp_status lst = imap_parse_line(p, n, max, &ll, &used);
	if (lst == MP_OK) {
		check(used <= MP_MIN(n, max) && ll < used && p[used - 1] == '\n');
	}

	for (int rounds = 0; rounds < 64 && n > 0; rounds++) {
		struct imap_parse_ctx ctx = { 0, max, cap ? scratch : NULL, cap };
		struct imap_cmd c;
		enum mp_status st;
		for (;;) {
			st = imap_parse_command(&ctx, p, n, &c);
			if (st != MP_AGAIN || !c.need_continuation) {
				break;
			}
			check(ctx.conts_sent < n);
			ctx.conts_sent++;
		}
		if (st == MP_AGAIN) {
			check(c.need > n && c.nargs == 0);
			return 0;
		}
		if (st == MP_TOOLONG) {
			check(c.nargs == 0);
			if (!c.recoverable) {
				return 0;
			}
			check(c.len > 0 && c.len <= MP_MIN(n, max) && p[c.len - 1] == '\n');
			p += c.len;
			n -= c.len;
			continue;
		}
		check(c.len > 0 && c.len <= MP_MIN(n, max) && p[c.len - 1] == '\n');
		if (st == MP_OK) {
			check(c.name.n > 0 && c.tag.n > 0);
			check_slices(&c, p, ctx.scratch, cap);
		} else {
			check(st == MP_INVALID && c.nargs == 0);
		}
		/* the command's own bytes give the same answer; its proper prefixes
		 * are incomplete (all continuations already answered) */
		struct imap_cmd c2;
		size_t len = c.len;
		check(imap_parse_command(&ctx, p, len, &c2) == st && c2.len == len);
		check(c2.nargs == c.nargs && c2.recoverable == c.recoverable);
		for (size_t k = 0; k < len; k += 1 + len / 64) {
			check(imap_parse_command(&ctx, p, k, &c2) == MP_AGAIN);
			check(!c2.need_continuation);
		}
		if (!c.recoverable && st == MP_INVALID) {
			return 0;
		}
		p += len;
		n -= len;
	}
	return 0;
}
