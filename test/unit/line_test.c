/* line_frame(): table of lines, each replayed at every prefix and placed
 * just before an unreadable page. */
#include "t.h"

#include "../../proto/line.h"

/* A literal with its length, so rows may hold NUL bytes. */
#define L(s) s, sizeof(s) - 1

static const struct {
	const char *in;
	size_t n;
	size_t max;
	enum mp_status want;
	size_t linelen, consumed;
} line_rows[] = {
	{ L("NOOP\r\n"), 128, MP_OK, 4, 6 },
	{ L("NOOP\n"), 128, MP_OK, 4, 5 },          /* bare LF accepted */
	{ L("\r\n"), 128, MP_OK, 0, 2 },
	{ L("\n"), 128, MP_OK, 0, 1 },
	{ L("a\rb\r\n"), 128, MP_OK, 3, 5 },        /* bare CR kept as data */
	{ L("a\r\r\n"), 128, MP_OK, 2, 4 },
	{ L("\r\r\n"), 128, MP_OK, 1, 3 },
	{ L("a\0b\r\n"), 128, MP_OK, 3, 5 },        /* NUL is the parser's business */
	{ L("one\r\ntwo\r\n"), 128, MP_OK, 3, 5 },  /* first line only */
	{ L("one\ntwo\r\n"), 128, MP_OK, 3, 4 },
	{ L("NOOP"), 128, MP_AGAIN, 0, 0 },
	{ L("NOOP\r"), 128, MP_AGAIN, 0, 0 },
	{ L(""), 128, MP_AGAIN, 0, 0 },
	/* the limit counts the line end: "abc\r\n" is 5 bytes */
	{ L("abc\r\n"), 6, MP_OK, 3, 5 },            /* max+1 */
	{ L("abc\r\n"), 5, MP_OK, 3, 5 },            /* max */
	{ L("abc\r\n"), 4, MP_TOOLONG, 0, 0 },       /* max-1: LF is byte 5 */
	{ L("abc\n"), 4, MP_OK, 3, 4 },
	{ L("abc\n"), 3, MP_TOOLONG, 0, 0 },
	{ L("abcd"), 4, MP_TOOLONG, 0, 0 },          /* n == max, no LF */
	{ L("abc"), 4, MP_AGAIN, 0, 0 },             /* n == max-1 */
	{ L("abcde"), 4, MP_TOOLONG, 0, 0 },
	{ L("abcd\n"), 4, MP_TOOLONG, 0, 0 },        /* LF just past max is not looked at */
	{ L("\n"), 1, MP_OK, 0, 1 },
	{ L("x"), 0, MP_TOOLONG, 0, 0 },
	{ L(""), 0, MP_TOOLONG, 0, 0 },
};

static void check_row(size_t i, const char *p, size_t n)
{
	size_t len = 12345, used = 54321;
	enum mp_status st = line_frame(p, n, line_rows[i].max, &len, &used);

	if (st != line_rows[i].want) {
		char m[160];
		snprintf(m, sizeof(m), "row %zu (n=%zu): status %d want %d", i, n, (int)st,
			 (int)line_rows[i].want);
		t_fail(__FILE__, __LINE__, m);
		return;
	}
	if (st == MP_OK) {
		CHECK_INT(len, line_rows[i].linelen);
		CHECK_INT(used, line_rows[i].consumed);
	} else {
		/* outputs untouched unless MP_OK */
		CHECK_INT(len, 12345);
		CHECK_INT(used, 54321);
	}
}

TEST(line_table)
{
	for (size_t i = 0; i < MP_ARRAY_LEN(line_rows); i++) {
		check_row(i, line_rows[i].in, line_rows[i].n);
		check_row(i, t_guarded(line_rows[i].in, line_rows[i].n), line_rows[i].n);
	}
}

/* Every prefix of a framed line is "again" (it is shorter than max), and
 * the full line plus any extra bytes frames the same. */
TEST(line_every_prefix)
{
	for (size_t i = 0; i < MP_ARRAY_LEN(line_rows); i++) {
		if (line_rows[i].want != MP_OK) {
			continue;
		}
		size_t c = line_rows[i].consumed;
		for (size_t k = 0; k < c; k++) {
			size_t len, used;
			const char *g = t_guarded(line_rows[i].in, k);
			if (line_frame(g, k, line_rows[i].max, &len, &used) != MP_AGAIN) {
				char m[80];
				snprintf(m, sizeof(m), "row %zu prefix %zu not MP_AGAIN", i, k);
				t_fail(__FILE__, __LINE__, m);
			}
		}
	}
}

/* A long line at the limits, with the page guard right after it. */
TEST(line_limits_long)
{
	static char buf[4096];
	size_t len, used;

	memset(buf, 'x', sizeof(buf));
	buf[4094] = '\r';
	buf[4095] = '\n';
	const char *g = t_guarded(buf, sizeof(buf));
	CHECK_INT(line_frame(g, 4096, 4096, &len, &used), MP_OK);
	CHECK_INT(len, 4094);
	CHECK_INT(used, 4096);
	CHECK_INT(line_frame(g, 4096, 4097, &len, &used), MP_OK);
	CHECK_INT(line_frame(g, 4096, 4095, &len, &used), MP_TOOLONG);
	CHECK_INT(line_frame(g, 4095, 4096, &len, &used), MP_AGAIN);
	CHECK_INT(line_frame(g, 4095, 4095, &len, &used), MP_TOOLONG);
	CHECK_INT(line_frame(g, 4094, 4096, &len, &used), MP_AGAIN);
}
