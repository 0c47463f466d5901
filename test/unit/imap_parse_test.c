#include "t.h"

#include "../../proto/imap_parse.h"

#include <stdlib.h>

#define DEFAULT_MAX 4096
#define IN(s) (s), sizeof(s) - 1

/* ---------------------------------------------------------------- commands */

/* Renders parsed arguments as "A:atom|Q:quoted|L:literal|N:NIL|(|)", with
 * bytes outside printable ASCII as \xNN, so a table row can state them. */
static const char *render_args(const struct imap_cmd *c)
{
	static char buf[16384];
	size_t o = 0;
	static const char kind[] = { 'A', 'Q', 'L', 'N', '(', ')' };

	buf[0] = '\0';
	for (size_t a = 0; a < c->nargs; a++) {
		const struct imap_arg *g = &c->args[a];
		if (o + 8 >= sizeof(buf)) {
			break;
		}
		if (a > 0) {
			buf[o++] = '|';
		}
		buf[o++] = kind[g->type];
		if (g->type == IMAP_LIST_OPEN || g->type == IMAP_LIST_CLOSE) {
			continue;
		}
		buf[o++] = ':';
		for (size_t k = 0; k < g->v.n && o + 5 < sizeof(buf); k++) {
			unsigned char ch = (unsigned char)g->v.p[k];
			if (ch < 0x20 || ch >= 0x7f) {
				o += (size_t)snprintf(buf + o, sizeof(buf) - o, "\\x%02x", ch);
			} else {
				buf[o++] = (char)ch;
			}
		}
	}
	buf[o] = '\0';
	return buf;
}

struct cmd_row {
	const char *in;
	size_t inlen;
	size_t max;            /* 0: DEFAULT_MAX */
	enum mp_status st;
	const char *tag;
	const char *name;      /* OK rows */
	const char *args;      /* OK rows */
	size_t len;            /* 0: inlen */
	bool recoverable;      /* INVALID / TOOLONG rows */
	size_t syncs;          /* synchronising literals, i.e. continuations to send */
};

/* OK rows are also fed prefix by prefix (see cmd_incremental). */
static const struct cmd_row cmd_rows[] = {
	/* plain commands */
	{ IN("a1 CAPABILITY\r\n"), 0, MP_OK, "a1", "CAPABILITY", "", 0, false, 0 },
	{ IN("a1 noop\n"), 0, MP_OK, "a1", "noop", "", 0, false, 0 },
	{ IN("a1 STARTTLS\r\n"), 0, MP_OK, "a1", "STARTTLS", "", 0, false, 0 },
	{ IN("Zz-9._ LOGOUT\r\n"), 0, MP_OK, "Zz-9._", "LOGOUT", "", 0, false, 0 },
	{ IN("abcdefghijklmnopqrstuvwxyz012345 NOOP\r\n"), 0, MP_OK,
	  "abcdefghijklmnopqrstuvwxyz012345", "NOOP", "", 0, false, 0 },
	/* LOGIN: atoms, quoted, escapes, literals */
	{ IN("a2 LOGIN user pass\r\n"), 0, MP_OK, "a2", "LOGIN", "A:user|A:pass", 0, false, 0 },
	{ IN("a2 LOGIN \"user\" \"pa ss\"\r\n"), 0, MP_OK, "a2", "LOGIN", "Q:user|Q:pa ss", 0,
	  false, 0 },
	{ IN("a2 login \"us\\\"er\" \"p\\\\w\"\r\n"), 0, MP_OK, "a2", "login",
	  "Q:us\"er|Q:p\\w", 0, false, 0 },
	{ IN("a2 LOGIN \"\" \"\"\r\n"), 0, MP_OK, "a2", "LOGIN", "Q:|Q:", 0, false, 0 },
	{ IN("a2 LOGIN \"j\xc3\xbcrgen\" \"\x01\t\x7f\"\r\n"), 0, MP_OK, "a2", "LOGIN",
	  "Q:j\\xc3\\xbcrgen|Q:\\x01\\x09\\x7f", 0, false, 0 },
	{ IN("a2 LOGIN user*master p%]x~!#\r\n"), 0, MP_OK, "a2", "LOGIN",
	  "A:user*master|A:p%]x~!#", 0, false, 0 },
	{ IN("a3 LOGIN {4}\r\nuser {4}\r\npass\r\n"), 0, MP_OK, "a3", "LOGIN", "L:user|L:pass", 0,
	  false, 2 },
	{ IN("a3 LOGIN {4+}\r\nuser {4+}\r\npass\r\n"), 0, MP_OK, "a3", "LOGIN",
	  "L:user|L:pass", 0, false, 0 },
	{ IN("a3 LOGIN {4}\r\nuser \"pass\"\r\n"), 0, MP_OK, "a3", "LOGIN", "L:user|Q:pass", 0,
	  false, 1 },
	{ IN("a3 LOGIN user {6+}\r\np\r\n\0 x\r\n"), 0, MP_OK, "a3", "LOGIN",
	  "A:user|L:p\\x0d\\x0a\\x00 x", 0, false, 0 },
	{ IN("a3 LOGIN {4+}\r\nuser {6}\r\n\"}\r\n{\"\r\n"), 0, MP_OK, "a3", "LOGIN",
	  "L:user|L:\"}\\x0d\\x0a{\"", 0, false, 1 },
	{ IN("a3 LOGIN {5}\r\n{3}\r\n x\r\n"), 0, MP_OK, "a3", "LOGIN", "L:{3}\\x0d\\x0a|A:x", 0,
	  false, 1 },
	{ IN("a3 LOGIN {0}\r\n {0}\r\n\r\n"), 0, MP_OK, "a3", "LOGIN", "L:|L:", 0, false, 2 },
	{ IN("a3 LOGIN {3}\nabc {0003+}\nxyz\n"), 0, MP_OK, "a3", "LOGIN", "L:abc|L:xyz", 0,
	  false, 1 },
	/* nginx leniency: runs of SP between arguments and before CRLF */
	{ IN("a4 LOGIN  user   pass  \r\n"), 0, MP_OK, "a4", "LOGIN", "A:user|A:pass", 0, false,
	  0 },
	/* AUTHENTICATE */
	{ IN("a5 AUTHENTICATE PLAIN\r\n"), 0, MP_OK, "a5", "AUTHENTICATE", "A:PLAIN", 0, false,
	  0 },
	{ IN("a5 AUTHENTICATE PLAIN AHVzZXIAcGFzcw==\r\n"), 0, MP_OK, "a5", "AUTHENTICATE",
	  "A:PLAIN|A:AHVzZXIAcGFzcw==", 0, false, 0 },
	{ IN("a5 AUTHENTICATE PLAIN =\r\n"), 0, MP_OK, "a5", "AUTHENTICATE", "A:PLAIN|A:=", 0,
	  false, 0 },
	{ IN("a5 AUTHENTICATE LOGIN dXNlcg+/\r\n"), 0, MP_OK, "a5", "AUTHENTICATE",
	  "A:LOGIN|A:dXNlcg+/", 0, false, 0 },
	/* ID */
	{ IN("a6 ID (\"name\" \"x\" \"version\" \"1\")\r\n"), 0, MP_OK, "a6", "ID",
	  "(|Q:name|Q:x|Q:version|Q:1|)", 0, false, 0 },
	{ IN("a6 ID NIL\r\n"), 0, MP_OK, "a6", "ID", "N:NIL", 0, false, 0 },
	{ IN("a6 ID nIl\r\n"), 0, MP_OK, "a6", "ID", "N:nIl", 0, false, 0 },
	{ IN("a6 ID NILS\r\n"), 0, MP_OK, "a6", "ID", "A:NILS", 0, false, 0 },
	{ IN("a6 ID ( \"name\" {3}\r\nabc )\r\n"), 0, MP_OK, "a6", "ID", "(|Q:name|L:abc|)", 0,
	  false, 1 },
	{ IN("a6 ID (\"a\" {1+}\r\nb)\r\n"), 0, MP_OK, "a6", "ID", "(|Q:a|L:b|)", 0, false, 0 },
	{ IN("a6 ID ()\r\n"), 0, MP_OK, "a6", "ID", "(|)", 0, false, 0 },
	{ IN("a6 ID ((((x))) ())\r\n"), 0, MP_OK, "a6", "ID", "(|(|(|(|A:x|)|)|)|(|)|)", 0,
	  false, 0 },
	/* pipelining: only the first command is consumed */
	{ IN("a7 NOOP\r\na8 NOOP\r\n"), 0, MP_OK, "a7", "NOOP", "", 9, false, 0 },
	{ IN("a7 LOGIN {1}\r\nx y\r\na8 LOGOUT\r\n"), 0, MP_OK, "a7", "LOGIN", "L:x|A:y", 19,
	  false, 1 },
	/* exactly max bytes, and a window smaller than the buffered data */
	{ IN("a1 NOOP\r\n"), 9, MP_OK, "a1", "NOOP", "", 0, false, 0 },
	{ IN("a1 NOOP\r\na2 NOOP\r\n"), 9, MP_OK, "a1", "NOOP", "", 9, false, 0 },

	/* bad tags: no tag to answer with */
	{ IN("a*1 NOOP\r\n"), 0, MP_INVALID, "", NULL, NULL, 0, true, 0 },
	{ IN("a+ NOOP\r\n"), 0, MP_INVALID, "", NULL, NULL, 0, true, 0 },
	{ IN("* NOOP\r\n"), 0, MP_INVALID, "", NULL, NULL, 0, true, 0 },
	{ IN("+ NOOP\r\n"), 0, MP_INVALID, "", NULL, NULL, 0, true, 0 },
	{ IN(" a1 NOOP\r\n"), 0, MP_INVALID, "", NULL, NULL, 0, true, 0 },
	{ IN("abcdefghijklmnopqrstuvwxyz0123456 NOOP\r\n"), 0, MP_INVALID, "", NULL, NULL, 0, true,
	  0 },
	{ IN("a\0 NOOP\r\n"), 0, MP_INVALID, "", NULL, NULL, 0, true, 0 },
	{ IN("a\xc3\xa9 NOOP\r\n"), 0, MP_INVALID, "", NULL, NULL, 0, true, 0 },
	/* empty line, only a tag, missing command */
	{ IN("\r\n"), 0, MP_INVALID, "", NULL, NULL, 0, true, 0 },
	{ IN("\n"), 0, MP_INVALID, "", NULL, NULL, 0, true, 0 },
	{ IN("a1\r\n"), 0, MP_INVALID, "", NULL, NULL, 0, true, 0 },
	{ IN("a1 \r\n"), 0, MP_INVALID, "a1", NULL, NULL, 0, true, 0 },
	{ IN("a1  NOOP\r\n"), 0, MP_INVALID, "a1", NULL, NULL, 0, true, 0 },
	{ IN("a1 (x)\r\n"), 0, MP_INVALID, "a1", NULL, NULL, 0, true, 0 },
	{ IN("a1 NO\"OP\"\r\n"), 0, MP_INVALID, "a1", NULL, NULL, 0, true, 0 },
	/* CR without LF */
	{ IN("a1 NOOP\rx\r\n"), 0, MP_INVALID, "a1", NULL, NULL, 0, true, 0 },
	{ IN("a1\rNOOP\r\n"), 0, MP_INVALID, "", NULL, NULL, 0, true, 0 },
	{ IN("a1 LOGIN {1}\rx\r\n"), 0, MP_INVALID, "a1", NULL, NULL, 0, true, 0 },
	/* missing SP between arguments */
	{ IN("a1 LOGIN\"x\" y\r\n"), 0, MP_INVALID, "a1", NULL, NULL, 0, true, 0 },
	{ IN("a1 LOGIN \"x\"\"y\"\r\n"), 0, MP_INVALID, "a1", NULL, NULL, 0, true, 0 },
	{ IN("a1 LOGIN x\"y\"\r\n"), 0, MP_INVALID, "a1", NULL, NULL, 0, true, 0 },
	{ IN("a1 ID(NIL)\r\n"), 0, MP_INVALID, "a1", NULL, NULL, 0, true, 0 },
	{ IN("a1 ID (NIL)x\r\n"), 0, MP_INVALID, "a1", NULL, NULL, 0, true, 0 },
	{ IN("a1 LOGIN x{1}\r\n"), 0, MP_INVALID, "a1", NULL, NULL, 0, true, 0 },
	/* quoted strings */
	{ IN("a1 LOGIN \"u\0\" p\r\n"), 0, MP_INVALID, "a1", NULL, NULL, 0, true, 0 },
	{ IN("a1 LOGIN \"user\r\n"), 0, MP_INVALID, "a1", NULL, NULL, 0, true, 0 },
	{ IN("a1 LOGIN \"user\n"), 0, MP_INVALID, "a1", NULL, NULL, 0, true, 0 },
	{ IN("a1 LOGIN \"a\\x\" b\r\n"), 0, MP_INVALID, "a1", NULL, NULL, 0, true, 0 },
	{ IN("a1 LOGIN \"a\\\r\n"), 0, MP_INVALID, "a1", NULL, NULL, 0, true, 0 },
	/* atoms */
	{ IN("a1 LOGIN u\0x p\r\n"), 0, MP_INVALID, "a1", NULL, NULL, 0, true, 0 },
	{ IN("a1 LOGIN j\xc3\xbc p\r\n"), 0, MP_INVALID, "a1", NULL, NULL, 0, true, 0 },
	{ IN("a1 LOGIN \\Seen p\r\n"), 0, MP_INVALID, "a1", NULL, NULL, 0, true, 0 },
	{ IN("a1 LOGIN u\tp\r\n"), 0, MP_INVALID, "a1", NULL, NULL, 0, true, 0 },
	/* literal headers and what follows a literal (nginx 1.29.6) */
	{ IN("a1 LOGIN {}\r\n"), 0, MP_INVALID, "a1", NULL, NULL, 0, true, 0 },
	{ IN("a1 LOGIN {1x}\r\n"), 0, MP_INVALID, "a1", NULL, NULL, 0, true, 0 },
	{ IN("a1 LOGIN {-1}\r\n"), 0, MP_INVALID, "a1", NULL, NULL, 0, true, 0 },
	{ IN("a1 LOGIN {1}x\r\n"), 0, MP_INVALID, "a1", NULL, NULL, 0, true, 0 },
	{ IN("a1 LOGIN {1} \r\n"), 0, MP_INVALID, "a1", NULL, NULL, 0, true, 0 },
	/* ends in "+}": nginx's check, erring towards closing */
	{ IN("a1 LOGIN {1++}\r\n"), 0, MP_INVALID, "a1", NULL, NULL, 0, false, 0 },
	{ IN("a1 LOGIN {1}\r\nux y\r\n"), 0, MP_INVALID, "a1", NULL, NULL, 0, true, 1 },
	{ IN("a1 LOGIN {1}\r\nu\"y\"\r\n"), 0, MP_INVALID, "a1", NULL, NULL, 0, true, 1 },
	{ IN("a1 LOGIN {1+}\r\nu{1+}\r\nx\r\n"), 0, MP_INVALID, "a1", NULL, NULL, 22, false, 0 },
	/* an invalid line announcing {n+}: its bytes come anyway, close (nginx) */
	{ IN("a1 LOGIN a\"b {5+}\r\nhello\r\n"), 0, MP_INVALID, "a1", NULL, NULL, 19, false, 0 },
	{ IN("a1 LOGIN a\"b {5+}\nhello\r\n"), 0, MP_INVALID, "a1", NULL, NULL, 18, false, 0 },
	/* ... but {n}: the client waits for "+", a tagged BAD resynchronises */
	{ IN("a1 LOGIN a\"b {5}\r\n"), 0, MP_INVALID, "a1", NULL, NULL, 0, true, 0 },
	/* lists */
	{ IN("a1 ID (\"a\"\r\n"), 0, MP_INVALID, "a1", NULL, NULL, 0, true, 0 },
	{ IN("a1 ID \"a\")\r\n"), 0, MP_INVALID, "a1", NULL, NULL, 0, true, 0 },
	{ IN("a1 ID ((((( x )))))\r\n"), 0, MP_INVALID, "a1", NULL, NULL, 0, true, 0 },
	/* the invalid line ends at its first LF; the next command stays */
	{ IN("a1 LOGIN \"x\0\r\na2 NOOP\r\n"), 0, MP_INVALID, "a1", NULL, NULL, 14, true, 0 },

	/* literal sizes: overflow-safe, refused before any data is needed */
	{ IN("a1 LOGIN {99999999999999999999}\r\n"), 0, MP_TOOLONG, "a1", NULL, NULL, 0, true,
	  0 },
	{ IN("a1 LOGIN {99999999999999999999+}\r\n"), 0, MP_TOOLONG, "a1", NULL, NULL, 32, false,
	  0 },
	{ IN("a1 LOGIN {18446744073709551615}\r\n"), 0, MP_TOOLONG, "a1", NULL, NULL, 0, true,
	  0 },
	{ IN("a1 LOGIN {18446744073709551616+}"), 0, MP_TOOLONG, "a1", NULL, NULL, 0, false, 0 },
	{ IN("a1 LOGIN {4097}\r\n"), 0, MP_TOOLONG, "a1", NULL, NULL, 0, true, 0 },
	{ IN("a1 LOGIN {4097+}"), 0, MP_TOOLONG, "a1", NULL, NULL, 0, false, 0 },
	/* too long lines */
	{ IN("a1 NOOP\r\n"), 8, MP_TOOLONG, "a1", NULL, NULL, 8, false, 0 },
	{ IN("a1 NOOP\r"), 8, MP_TOOLONG, "a1", NULL, NULL, 8, false, 0 },
	{ IN("abcdefgh"), 8, MP_TOOLONG, "", NULL, NULL, 8, false, 0 },
	{ IN("a*1 NOOPNOOP"), 8, MP_TOOLONG, "", NULL, NULL, 8, false, 0 },
};

static struct imap_parse_ctx mkctx(size_t max, char *scratch, size_t cap)
{
	struct imap_parse_ctx ctx = { 0, max, scratch, cap };
	return ctx;
}

/* Parses p[0..n) like the session would: answering continuations as asked. */
static enum mp_status parse_all(struct imap_parse_ctx *ctx, const char *p, size_t n,
				struct imap_cmd *c, size_t *conts)
{
	enum mp_status st;
	for (;;) {
		st = imap_parse_command(ctx, p, n, c);
		if (st != MP_AGAIN || !c->need_continuation) {
			return st;
		}
		ctx->conts_sent++;
		(*conts)++;
	}
}

static void check_row(const struct cmd_row *r, size_t idx)
{
	static char scratch[65536];
	size_t max = r->max ? r->max : DEFAULT_MAX;
	struct imap_parse_ctx ctx = mkctx(max, scratch, max);
	struct imap_cmd c;
	size_t conts = 0;
	size_t want_len = r->len ? r->len : r->inlen;
	const char *in = t_guarded(r->in, r->inlen);
	enum mp_status st = parse_all(&ctx, in, r->inlen, &c, &conts);
	char got[256], want[256];

	/* one line per row, so a failure names its row */
	snprintf(got, sizeof(got), "row %zu: st=%d tag=%.*s len=%zu conts=%zu", idx, (int)st,
		 (int)c.tag.n, c.tag.p, c.len, conts);
	snprintf(want, sizeof(want), "row %zu: st=%d tag=%s len=%zu conts=%zu", idx, (int)r->st,
		 r->tag, want_len, r->syncs);
	CHECK_STR(got, want);
	if (r->st == MP_OK) {
		CHECK_MEM(c.name.p, c.name.n, r->name);
		CHECK_STR(render_args(&c), r->args);
	} else {
		snprintf(got, sizeof(got), "row %zu: nargs=%zu recoverable=%d", idx, c.nargs,
			 c.recoverable);
		snprintf(want, sizeof(want), "row %zu: nargs=0 recoverable=%d", idx, r->recoverable);
		CHECK_STR(got, want);
	}
	if (r->st == MP_INVALID) {
		CHECK(c.len >= 1 && in[c.len - 1] == '\n');
	}
}

TEST(imap_cmd_table)
{
	for (size_t k = 0; k < MP_ARRAY_LEN(cmd_rows); k++) {
		check_row(&cmd_rows[k], k);
	}
}

/* A need_continuation is right only just after "{digits}" CRLF / LF. */
static bool at_sync_header_end(const char *p, size_t k)
{
	size_t q = k;
	if (q < 4 || p[q - 1] != '\n') {
		return false;
	}
	q--;
	if (p[q - 1] == '\r') {
		q--;
	}
	if (p[q - 1] != '}' || p[q - 2] < '0' || p[q - 2] > '9') {
		return false;
	}
	q -= 2;
	while (q > 0 && p[q - 1] >= '0' && p[q - 1] <= '9') {
		q--;
	}
	return q > 0 && p[q - 1] == '{';
}

/*
 * Every OK and INVALID row, fed as the network would: each prefix 1..len,
 * placed before an unreadable page, must be MP_AGAIN (answering each
 * continuation request, which must come exactly after a sync literal header)
 * until the full command gives the row's outcome.
 */
TEST(imap_cmd_incremental)
{
	static char scratch[65536];
	for (size_t r = 0; r < MP_ARRAY_LEN(cmd_rows); r++) {
		const struct cmd_row *row = &cmd_rows[r];
		if (row->st != MP_OK && row->st != MP_INVALID) {
			continue;
		}
		size_t max = row->max ? row->max : DEFAULT_MAX;
		size_t len = row->len ? row->len : row->inlen;
		struct imap_parse_ctx ctx = mkctx(max, scratch, max);
		size_t conts = 0, fails = 0;
		for (size_t k = 1; k <= len; k++) {
			const char *in = t_guarded(row->in, k);
			struct imap_cmd c;
			enum mp_status st = imap_parse_command(&ctx, in, k, &c);
			if (st == MP_AGAIN && c.need_continuation) {
				if (!at_sync_header_end(in, k)) {
					fails++;
				}
				ctx.conts_sent++;
				conts++;
				/* answered: the same bytes now just wait for data */
				st = imap_parse_command(&ctx, in, k, &c);
				if (c.need_continuation) {
					fails++;
				}
			}
			if (k < len) {
				if (st != MP_AGAIN || c.need > len) {
					fails++;
				}
			} else if (st != row->st || c.len != len) {
				fails++;
			}
		}
		if (conts != row->syncs || fails != 0) {
			char m[160];
			snprintf(m, sizeof(m), "row %zu: %zu wrong prefixes, %zu continuations", r,
				 fails, conts);
			t_fail(__FILE__, __LINE__, m);
		}
	}
}

/* Pipelined commands parsed one after the other out of one buffer. */
TEST(imap_cmd_pipelined)
{
	static const char in[] = "a1 CAPABILITY\r\na2 LOGIN {4+}\r\nuser pass\r\na3 LOGOUT\n";
	static char scratch[4096];
	struct imap_parse_ctx ctx = mkctx(4096, scratch, sizeof(scratch));
	const char *want[] = { "CAPABILITY", "LOGIN", "LOGOUT" };
	const char *p = t_guarded(in, sizeof(in) - 1);
	size_t n = sizeof(in) - 1;
	for (size_t k = 0; k < 3; k++) {
		struct imap_cmd c;
		CHECK_INT(imap_parse_command(&ctx, p, n, &c), MP_OK);
		CHECK_MEM(c.name.p, c.name.n, want[k]);
		p += c.len;
		n -= c.len;
	}
	CHECK_INT(n, 0);
}

/* Builds "a1 LOGIN {N}\r\n" + N x "x" + "\r\n" (sync) or {N+}. */
static size_t build_literal(char *buf, size_t cap, size_t nlit, bool nonsync, size_t *hdr)
{
	int h = snprintf(buf, cap, "a1 LOGIN {%zu%s}\r\n", nlit, nonsync ? "+" : "");
	*hdr = (size_t)h;
	memset(buf + h, 'x', nlit);
	memcpy(buf + h + nlit, "\r\n", 2);
	return (size_t)h + nlit + 2;
}

/* The whole command at max-1, max, max+1 bytes; sync and non-sync. */
TEST(imap_cmd_literal_bounds)
{
	static char buf[DEFAULT_MAX + 64], scratch[DEFAULT_MAX];
	for (int nonsync = 0; nonsync <= 1; nonsync++) {
		for (int delta = -1; delta <= 1; delta++) {
			size_t want = (size_t)(DEFAULT_MAX + delta), hdr, total = 0, nlit;
			for (nlit = DEFAULT_MAX - 40; nlit < DEFAULT_MAX; nlit++) {
				total = build_literal(buf, sizeof(buf), nlit, nonsync, &hdr);
				if (total == want) {
					break;
				}
			}
			CHECK_INT(total, want);
			struct imap_parse_ctx ctx = mkctx(DEFAULT_MAX, scratch, sizeof(scratch));
			struct imap_cmd c;
			size_t conts = 0;
			const char *in = t_guarded(buf, total);
			enum mp_status st = parse_all(&ctx, in, total, &c, &conts);
			if (delta <= 0) {
				CHECK_INT(st, MP_OK);
				CHECK_INT(c.len, total);
				CHECK_INT(c.args[0].v.n, nlit);
				CHECK(c.args[0].v.p == in + hdr);
				CHECK_INT(conts, nonsync ? 0 : 1);
			} else {
				/* fits by its header (a final bare LF would do) but not
				 * with CRLF: too long once byte max is needed */
				CHECK_INT(st, MP_TOOLONG);
				CHECK(!c.recoverable);
			}
		}
	}
}

/* A literal that cannot fit is refused before any of its bytes: {n+} at the
 * "}", {n} at the end of its header line (and then recoverably). */
TEST(imap_cmd_literal_early)
{
	static char buf[DEFAULT_MAX * 2], scratch[DEFAULT_MAX];
	struct imap_parse_ctx ctx = mkctx(DEFAULT_MAX, scratch, sizeof(scratch));
	struct imap_cmd c;
	size_t hdr;

	/* hdr + n + 1 = max + 1: the data and a bare LF would not fit */
	size_t nlit = DEFAULT_MAX - 40;
	for (;; nlit++) {
		build_literal(buf, sizeof(buf), nlit, false, &hdr);
		if (hdr + nlit >= DEFAULT_MAX) {
			break;
		}
	}
	CHECK_INT(hdr + nlit, DEFAULT_MAX);
	CHECK_INT(imap_parse_command(&ctx, t_guarded(buf, hdr - 2), hdr - 2, &c), MP_AGAIN);
	CHECK(!c.need_continuation);
	CHECK_INT(imap_parse_command(&ctx, t_guarded(buf, hdr - 1), hdr - 1, &c), MP_AGAIN);
	CHECK_INT(imap_parse_command(&ctx, t_guarded(buf, hdr), hdr, &c), MP_TOOLONG);
	CHECK(c.recoverable);
	CHECK_INT(c.len, hdr);
	CHECK_MEM(c.tag.p, c.tag.n, "a1");
	/* one less fits: a continuation is asked for */
	build_literal(buf, sizeof(buf), nlit - 1, false, &hdr);
	CHECK_INT(imap_parse_command(&ctx, t_guarded(buf, hdr), hdr, &c), MP_AGAIN);
	CHECK(c.need_continuation);

	/* {n+}: decided at the "}" */
	build_literal(buf, sizeof(buf), nlit, true, &hdr);
	CHECK_INT(imap_parse_command(&ctx, t_guarded(buf, hdr - 2), hdr - 2, &c), MP_TOOLONG);
	CHECK(!c.recoverable);
	CHECK_INT(c.len, hdr - 2);
	build_literal(buf, sizeof(buf), nlit - 1, true, &hdr);
	CHECK_INT(imap_parse_command(&ctx, t_guarded(buf, hdr - 2), hdr - 2, &c), MP_AGAIN);
	/* ... but with CRLF it is one byte short: decided at the LF */
	CHECK_INT(imap_parse_command(&ctx, t_guarded(buf, hdr), hdr, &c), MP_TOOLONG);
	CHECK(!c.recoverable);
	build_literal(buf, sizeof(buf), nlit - 2, true, &hdr);
	CHECK_INT(imap_parse_command(&ctx, t_guarded(buf, hdr), hdr, &c), MP_AGAIN);
	CHECK_INT(c.need, hdr + nlit - 2);
	CHECK(!c.need_continuation);
}

/* IMAP_TAG_MAX, IMAP_ARGS_MAX, IMAP_LIST_DEPTH_MAX at max-1, max, max+1. */
TEST(imap_cmd_limits)
{
	static char buf[4096], scratch[4096];
	struct imap_parse_ctx ctx = mkctx(sizeof(buf), scratch, sizeof(scratch));
	struct imap_cmd c;
	size_t o;

	for (size_t t = IMAP_TAG_MAX - 1; t <= IMAP_TAG_MAX + 1; t++) {
		memset(buf, 't', t);
		memcpy(buf + t, " NOOP\r\n", 7);
		enum mp_status st = imap_parse_command(&ctx, t_guarded(buf, t + 7), t + 7, &c);
		CHECK_INT(st, t <= IMAP_TAG_MAX ? MP_OK : MP_INVALID);
		CHECK_INT(c.tag.n, t <= IMAP_TAG_MAX ? t : 0);
	}
	for (size_t a = IMAP_ARGS_MAX - 1; a <= IMAP_ARGS_MAX + 1; a++) {
		o = (size_t)snprintf(buf, sizeof(buf), "a ID");
		for (size_t k = 0; k < a; k++) {
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, " x%zu", k);
		}
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "\r\n");
		enum mp_status st = imap_parse_command(&ctx, t_guarded(buf, o), o, &c);
		CHECK_INT(st, a <= IMAP_ARGS_MAX ? MP_OK : MP_INVALID);
		if (st == MP_OK) {
			CHECK_INT(c.nargs, a);
		} else {
			CHECK_INT(c.len, o);
			CHECK(c.recoverable);
		}
	}
	/* a literal beyond the limit is refused at its "{": no continuation asked */
	o = (size_t)snprintf(buf, sizeof(buf), "a ID");
	for (size_t k = 0; k < IMAP_ARGS_MAX; k++) {
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, " x%zu", k);
	}
	o += (size_t)snprintf(buf + o, sizeof(buf) - o, " {3}\r\nabc\r\n");
	CHECK_INT(imap_parse_command(&ctx, t_guarded(buf, o), o, &c), MP_INVALID);
	CHECK_INT(c.len, o - 5);
	CHECK(!c.need_continuation);
	CHECK_INT(imap_parse_command(&ctx, t_guarded(buf, o - 5), o - 5, &c), MP_INVALID);
	CHECK_INT(imap_parse_command(&ctx, t_guarded(buf, o - 6), o - 6, &c), MP_AGAIN);
	CHECK(!c.need_continuation);

	/* list parentheses count as arguments */
	o = (size_t)snprintf(buf, sizeof(buf), "a ID (");
	for (size_t k = 0; k < IMAP_ARGS_MAX - 2; k++) {
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "\"k\" ");
	}
	o += (size_t)snprintf(buf + o, sizeof(buf) - o, ")\r\n");
	CHECK_INT(imap_parse_command(&ctx, t_guarded(buf, o), o, &c), MP_OK);
	CHECK_INT(c.nargs, IMAP_ARGS_MAX);
	CHECK(c.args[IMAP_ARGS_MAX - 1].type == IMAP_LIST_CLOSE);
	memcpy(buf + o - 3, "\"k\")\r\n", 6);
	CHECK_INT(imap_parse_command(&ctx, t_guarded(buf, o + 3), o + 3, &c), MP_INVALID);

	for (size_t d = IMAP_LIST_DEPTH_MAX - 1; d <= IMAP_LIST_DEPTH_MAX + 1; d++) {
		o = (size_t)snprintf(buf, sizeof(buf), "a ID ");
		for (size_t k = 0; k < d; k++) {
			buf[o++] = '(';
		}
		buf[o++] = 'x';
		for (size_t k = 0; k < d; k++) {
			buf[o++] = ')';
		}
		memcpy(buf + o, "\r\n", 2);
		o += 2;
		enum mp_status st = imap_parse_command(&ctx, t_guarded(buf, o), o, &c);
		CHECK_INT(st, d <= IMAP_LIST_DEPTH_MAX ? MP_OK : MP_INVALID);
	}
}

/* The command buffer limit for plain lines: max-1, max, max+1. */
TEST(imap_cmd_line_bounds)
{
	static char buf[300], scratch[300];
	for (size_t len = 199; len <= 201; len++) {
		size_t o = (size_t)snprintf(buf, sizeof(buf), "a1 LOGIN \"");
		size_t fill = len - o - 3;
		memset(buf + o, 'q', fill);
		memcpy(buf + o + fill, "\"\r\n", 3);
		struct imap_parse_ctx ctx = mkctx(200, scratch, sizeof(scratch));
		struct imap_cmd c;
		enum mp_status st = imap_parse_command(&ctx, t_guarded(buf, len), len, &c);
		CHECK_INT(st, len <= 200 ? MP_OK : MP_TOOLONG);
		if (st == MP_OK) {
			CHECK_INT(c.args[0].v.n, fill);
		} else {
			CHECK(!c.recoverable);
			CHECK_MEM(c.tag.p, c.tag.n, "a1");
		}
		/* and the same with only max bytes buffered so far */
		st = imap_parse_command(&ctx, t_guarded(buf, MP_MIN(len, 200)), MP_MIN(len, 200), &c);
		CHECK_INT(st, len <= 200 ? MP_OK : MP_TOOLONG);
	}
}

/* Quoted strings are unescaped into the caller's scratch: its size is a limit. */
TEST(imap_cmd_scratch)
{
	char scratch[4];
	struct imap_parse_ctx ctx = mkctx(4096, scratch, 3);
	struct imap_cmd c;

	CHECK_INT(imap_parse_command(&ctx, IN("a LOGIN \"a\\\"c\"\r\n"), &c), MP_OK);
	CHECK_MEM(c.args[0].v.p, c.args[0].v.n, "a\"c");
	CHECK(c.args[0].v.p == scratch);
	CHECK_INT(imap_parse_command(&ctx, IN("a LOGIN \"ab\" \"c\"\r\n"), &c), MP_OK);
	CHECK_STR(render_args(&c), "Q:ab|Q:c");
	CHECK_INT(imap_parse_command(&ctx, IN("a LOGIN \"ab\" \"cd\"\r\n"), &c), MP_TOOLONG);
	CHECK(!c.recoverable);
	CHECK_INT(imap_parse_command(&ctx, IN("a LOGIN \"abcd\"\r\n"), &c), MP_TOOLONG);

	ctx = mkctx(4096, NULL, 0);
	CHECK_INT(imap_parse_command(&ctx, IN("a LOGIN \"\" x\r\n"), &c), MP_OK);
	CHECK_STR(render_args(&c), "Q:|A:x");
	CHECK_INT(imap_parse_command(&ctx, IN("a LOGIN \"a\" x\r\n"), &c), MP_TOOLONG);
}

/* On failure nothing of a previous success survives in *out. */
TEST(imap_cmd_no_stale_output)
{
	static char scratch[64];
	struct imap_parse_ctx ctx = mkctx(4096, scratch, sizeof(scratch));
	struct imap_cmd c;

	CHECK_INT(imap_parse_command(&ctx, IN("a LOGIN user pass\r\n"), &c), MP_OK);
	CHECK_INT(c.nargs, 2);
	CHECK_INT(imap_parse_command(&ctx, IN("a LOGIN user pa"), &c), MP_AGAIN);
	CHECK_INT(c.nargs, 0);
	CHECK(c.args[0].v.p == NULL && c.args[0].v.n == 0);
	CHECK(c.name.n == 0);
	CHECK_INT(c.need, 16);
	CHECK_INT(imap_parse_command(&ctx, IN("a LOGIN user \"p\0\"\r\n"), &c), MP_INVALID);
	CHECK_INT(c.nargs, 0);
	CHECK(c.args[1].v.p == NULL);
}

/* ------------------------------------------------------------------- lines */

TEST(imap_line_framer)
{
	size_t ll, used;
	static const struct {
		const char *in;
		size_t n, max;
		enum mp_status st;
		size_t linelen, used;
	} rows[] = {
		{ IN("dXNlcg==\r\n"), 64, MP_OK, 8, 10 },
		{ IN("dXNlcg==\n"), 64, MP_OK, 8, 9 },
		{ IN("*\r\nrest"), 64, MP_OK, 1, 3 },
		{ IN("\r\n"), 64, MP_OK, 0, 2 },
		{ IN("\n"), 64, MP_OK, 0, 1 },
		{ IN("dXNlcg=="), 64, MP_AGAIN, 0, 0 },
		{ IN("dXNlcg==\r"), 64, MP_AGAIN, 0, 0 },
		{ IN(""), 64, MP_AGAIN, 0, 0 },
		{ IN("ab\rc\r\n"), 64, MP_INVALID, 0, 6 },
		{ IN("\r\r\n"), 64, MP_INVALID, 0, 3 },
		{ IN("abc\r\n"), 5, MP_OK, 3, 5 },
		{ IN("abc\r\n"), 4, MP_TOOLONG, 0, 0 },
		{ IN("abcd\n"), 4, MP_TOOLONG, 0, 0 },
		{ IN("abc\n"), 4, MP_OK, 3, 4 },
		{ IN("abc\n"), 0, MP_TOOLONG, 0, 0 },
	};
	for (size_t r = 0; r < MP_ARRAY_LEN(rows); r++) {
		const char *in = t_guarded(rows[r].in, rows[r].n);
		CHECK_INT(imap_parse_line(in, rows[r].n, rows[r].max, &ll, &used), rows[r].st);
		CHECK_INT(ll, rows[r].linelen);
		CHECK_INT(used, rows[r].used);
		if (rows[r].st == MP_OK) {
			for (size_t k = 0; k + 1 < rows[r].used; k++) {
				in = t_guarded(rows[r].in, k);
				CHECK_INT(imap_parse_line(in, k, rows[r].max, &ll, &used), MP_AGAIN);
			}
		}
	}
}

/* --------------------------------------------------------------- responses */

struct resp_row {
	const char *in;
	size_t inlen;
	size_t max;
	enum mp_status st;
	enum imap_resp_kind kind;
	const char *tag;
	enum imap_resp_status status;
	const char *code;
	const char *text;
	const char *name;
	size_t len; /* 0: inlen */
	bool literal;
	size_t literal_len;
};

#define DOVECOT_CAPS "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN"

static const struct resp_row resp_rows[] = {
	{ IN("* OK [CAPABILITY " DOVECOT_CAPS "] Dovecot ready.\r\n"), 4096, MP_OK,
	  IMAP_RESP_UNTAGGED, "", IMAP_ST_OK, "CAPABILITY " DOVECOT_CAPS, "Dovecot ready.", "", 0,
	  false, 0 },
	{ IN("a1 OK [CAPABILITY IMAP4rev1 SASL-IR ID IDLE] Logged in\r\n"), 4096, MP_OK,
	  IMAP_RESP_TAGGED, "a1", IMAP_ST_OK, "CAPABILITY IMAP4rev1 SASL-IR ID IDLE", "Logged in",
	  "", 0, false, 0 },
	{ IN("a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"), 4096, MP_OK,
	  IMAP_RESP_TAGGED, "a1", IMAP_ST_NO, "AUTHENTICATIONFAILED", "Authentication failed.", "",
	  0, false, 0 },
	{ IN("A-._9 bad Error in IMAP command\n"), 4096, MP_OK, IMAP_RESP_TAGGED, "A-._9",
	  IMAP_ST_BAD, "", "Error in IMAP command", "", 0, false, 0 },
	{ IN("a1 OK\r\n"), 4096, MP_OK, IMAP_RESP_TAGGED, "a1", IMAP_ST_OK, "", "", "", 0, false,
	  0 },
	{ IN("a1 OK [READ-WRITE]\r\n"), 4096, MP_OK, IMAP_RESP_TAGGED, "a1", IMAP_ST_OK,
	  "READ-WRITE", "", "", 0, false, 0 },
	{ IN("+ OK\r\n"), 4096, MP_OK, IMAP_RESP_CONTINUATION, "", IMAP_ST_NONE, "", "OK", "", 0,
	  false, 0 },
	{ IN("+ \r\n"), 4096, MP_OK, IMAP_RESP_CONTINUATION, "", IMAP_ST_NONE, "", "", "", 0,
	  false, 0 },
	{ IN("+\r\n"), 4096, MP_OK, IMAP_RESP_CONTINUATION, "", IMAP_ST_NONE, "", "", "", 0, false,
	  0 },
	{ IN("+ VXNlcm5hbWU6\r\n"), 4096, MP_OK, IMAP_RESP_CONTINUATION, "", IMAP_ST_NONE, "",
	  "VXNlcm5hbWU6", "", 0, false, 0 },
	{ IN("* BYE Disconnected for inactivity.\r\n"), 4096, MP_OK, IMAP_RESP_UNTAGGED, "",
	  IMAP_ST_BYE, "", "Disconnected for inactivity.", "", 0, false, 0 },
	{ IN("* PREAUTH [CAPABILITY IMAP4rev1] Logged in as joe\r\n"), 4096, MP_OK,
	  IMAP_RESP_UNTAGGED, "", IMAP_ST_PREAUTH, "CAPABILITY IMAP4rev1", "Logged in as joe", "",
	  0, false, 0 },
	{ IN("* OK Waiting for authentication process to respond..\r\n"), 4096, MP_OK,
	  IMAP_RESP_UNTAGGED, "", IMAP_ST_OK, "", "Waiting for authentication process to respond..",
	  "", 0, false, 0 },
	{ IN("* CAPABILITY IMAP4rev1 LITERAL+ AUTH=PLAIN\r\n"), 4096, MP_OK, IMAP_RESP_UNTAGGED,
	  "", IMAP_ST_NONE, "", "IMAP4rev1 LITERAL+ AUTH=PLAIN", "CAPABILITY", 0, false, 0 },
	{ IN("* 5 EXISTS\r\n"), 4096, MP_OK, IMAP_RESP_UNTAGGED, "", IMAP_ST_NONE, "", "EXISTS",
	  "5", 0, false, 0 },
	{ IN("* ID (\"name\" {5}\r\nabcde)\r\n"), 4096, MP_OK, IMAP_RESP_UNTAGGED, "",
	  IMAP_ST_NONE, "", "(\"name\" {5}", "ID", 18, true, 5 },
	{ IN("* ID (\"name\" {0}\r\n)\r\n"), 4096, MP_OK, IMAP_RESP_UNTAGGED, "", IMAP_ST_NONE, "",
	  "(\"name\" {0}", "ID", 18, true, 0 },
	/* a status response's text is text, never a literal */
	{ IN("* OK hello {5}\r\n"), 4096, MP_OK, IMAP_RESP_UNTAGGED, "", IMAP_ST_OK, "",
	  "hello {5}", "", 0, false, 0 },
	{ IN("* ID ({65536}\r\n"), 4096, MP_OK, IMAP_RESP_UNTAGGED, "", IMAP_ST_NONE, "",
	  "({65536}", "ID", 0, true, 65536 },
	{ IN("* ID ({65537}\r\n"), 4096, MP_TOOLONG, IMAP_RESP_UNTAGGED, "", IMAP_ST_NONE, "", "",
	  "", 0, false, 0 },
	{ IN("* ID ({99999999999999999999999}\r\n"), 4096, MP_TOOLONG, IMAP_RESP_UNTAGGED, "",
	  IMAP_ST_NONE, "", "", "", 0, false, 0 },
	/* a pipelined second line is left alone */
	{ IN("* OK ready\r\na1 OK done\r\n"), 4096, MP_OK, IMAP_RESP_UNTAGGED, "", IMAP_ST_OK, "",
	  "ready", "", 12, false, 0 },
	/* exactly max, and one byte over */
	{ IN("a1 OK x\r\n"), 9, MP_OK, IMAP_RESP_TAGGED, "a1", IMAP_ST_OK, "", "x", "", 0, false,
	  0 },
	{ IN("a1 OK x\r\n"), 8, MP_TOOLONG, IMAP_RESP_UNTAGGED, "", IMAP_ST_NONE, "", "", "", 0,
	  false, 0 },
	/* garbage */
	{ IN("\r\n"), 4096, MP_INVALID, IMAP_RESP_UNTAGGED, "", IMAP_ST_NONE, "", "", "", 0, false,
	  0 },
	{ IN("*\r\n"), 4096, MP_INVALID, IMAP_RESP_UNTAGGED, "", IMAP_ST_NONE, "", "", "", 0,
	  false, 0 },
	{ IN("* \r\n"), 4096, MP_INVALID, IMAP_RESP_UNTAGGED, "", IMAP_ST_NONE, "", "", "", 0,
	  false, 0 },
	{ IN("*OK\r\n"), 4096, MP_INVALID, IMAP_RESP_UNTAGGED, "", IMAP_ST_NONE, "", "", "", 0,
	  false, 0 },
	{ IN("+OK\r\n"), 4096, MP_INVALID, IMAP_RESP_UNTAGGED, "", IMAP_ST_NONE, "", "", "", 0,
	  false, 0 },
	{ IN("a1 PREAUTH x\r\n"), 4096, MP_INVALID, IMAP_RESP_UNTAGGED, "", IMAP_ST_NONE, "", "",
	  "", 0, false, 0 },
	{ IN("a1 BYE x\r\n"), 4096, MP_INVALID, IMAP_RESP_UNTAGGED, "", IMAP_ST_NONE, "", "", "", 0,
	  false, 0 },
	{ IN("a1 OKAY\r\n"), 4096, MP_INVALID, IMAP_RESP_UNTAGGED, "", IMAP_ST_NONE, "", "", "", 0,
	  false, 0 },
	{ IN("a1\r\n"), 4096, MP_INVALID, IMAP_RESP_UNTAGGED, "", IMAP_ST_NONE, "", "", "", 0,
	  false, 0 },
	{ IN(" a1 OK\r\n"), 4096, MP_INVALID, IMAP_RESP_UNTAGGED, "", IMAP_ST_NONE, "", "", "", 0,
	  false, 0 },
	{ IN("a+1 OK x\r\n"), 4096, MP_INVALID, IMAP_RESP_UNTAGGED, "", IMAP_ST_NONE, "", "", "", 0,
	  false, 0 },
	{ IN("a1 OK [ALERT x\r\n"), 4096, MP_INVALID, IMAP_RESP_UNTAGGED, "", IMAP_ST_NONE, "", "",
	  "", 0, false, 0 },
	{ IN("a1 OK []\r\n"), 4096, MP_INVALID, IMAP_RESP_UNTAGGED, "", IMAP_ST_NONE, "", "", "", 0,
	  false, 0 },
	{ IN("a1 OK [ALERT]x\r\n"), 4096, MP_INVALID, IMAP_RESP_UNTAGGED, "", IMAP_ST_NONE, "", "",
	  "", 0, false, 0 },
	{ IN("a1 OK x\ry\r\n"), 4096, MP_INVALID, IMAP_RESP_UNTAGGED, "", IMAP_ST_NONE, "", "", "",
	  0, false, 0 },
	{ IN("a1 OK x\0y\r\n"), 4096, MP_INVALID, IMAP_RESP_UNTAGGED, "", IMAP_ST_NONE, "", "", "",
	  0, false, 0 },
	{ IN("* O\x80K x\r\n"), 4096, MP_INVALID, IMAP_RESP_UNTAGGED, "", IMAP_ST_NONE, "", "", "",
	  0, false, 0 },
	{ IN("HTTP/1.1 400 Bad Request\r\n"), 4096, MP_INVALID, IMAP_RESP_UNTAGGED, "",
	  IMAP_ST_NONE, "", "", "", 0, false, 0 },
	{ IN("SSH-2.0-OpenSSH_9.2\r\n"), 4096, MP_INVALID, IMAP_RESP_UNTAGGED, "", IMAP_ST_NONE, "",
	  "", "", 0, false, 0 },
};

TEST(imap_resp_table)
{
	for (size_t r = 0; r < MP_ARRAY_LEN(resp_rows); r++) {
		const struct resp_row *w = &resp_rows[r];
		struct imap_resp o;
		const char *in = t_guarded(w->in, w->inlen);
		enum mp_status st = imap_parse_response(in, w->inlen, w->max, &o);
		char where[32];
		snprintf(where, sizeof(where), "resp row %zu", r);
		if (st != w->st) {
			t_fail(__FILE__, __LINE__, where);
		}
		if (st != MP_OK) {
			if (st == MP_INVALID) {
				CHECK_INT(o.len, w->inlen);
			}
			CHECK(o.tag.n == 0 && o.text.n == 0 && o.code.n == 0 && !o.literal);
			continue;
		}
		CHECK_INT(o.kind, w->kind);
		CHECK_MEM(o.tag.p, o.tag.n, w->tag);
		CHECK_INT(o.status, w->status);
		CHECK_MEM(o.code.p, o.code.n, w->code);
		CHECK_MEM(o.text.p, o.text.n, w->text);
		CHECK_MEM(o.untagged_name.p, o.untagged_name.n, w->name);
		CHECK_INT(o.len, w->len ? w->len : w->inlen);
		CHECK(o.literal == w->literal);
		CHECK_INT(o.literal_len, w->literal_len);
		/* every proper prefix of the line is incomplete */
		for (size_t k = 0; k + 1 < o.len; k++) {
			struct imap_resp q;
			CHECK_INT(imap_parse_response(t_guarded(w->in, k), k, w->max, &q), MP_AGAIN);
		}
	}
}

/* An untagged response carrying literals, walked as the session would. */
TEST(imap_resp_literal_walk)
{
	static const char in[] = "* ID (\"name\" {5}\r\nab\r\nd \"v\" {2}\r\n\0y)\r\na1 OK done\r\n";
	const char *p = t_guarded(in, sizeof(in) - 1);
	size_t n = sizeof(in) - 1;
	struct imap_resp r;

	CHECK_INT(imap_parse_response(p, n, 4096, &r), MP_OK);
	CHECK(r.literal);
	CHECK_INT(r.literal_len, 5);
	p += r.len + r.literal_len;
	n -= r.len + r.literal_len;
	CHECK_INT(imap_parse_response_rest(p, n, 4096, &r), MP_OK);
	CHECK_MEM(r.text.p, r.text.n, " \"v\" {2}");
	CHECK(r.literal);
	CHECK_INT(r.literal_len, 2);
	p += r.len + r.literal_len;
	n -= r.len + r.literal_len;
	CHECK_INT(imap_parse_response_rest(p, n, 4096, &r), MP_OK);
	CHECK_MEM(r.text.p, r.text.n, ")");
	CHECK(!r.literal);
	p += r.len;
	n -= r.len;
	CHECK_INT(imap_parse_response(p, n, 4096, &r), MP_OK);
	CHECK_INT(r.kind, IMAP_RESP_TAGGED);
	CHECK_INT(r.status, IMAP_ST_OK);
	CHECK_INT(n, r.len);

	CHECK_INT(imap_parse_response_rest(IN(")"), 4096, &r), MP_AGAIN);
	CHECK_INT(imap_parse_response_rest(IN(")\r\n"), 2, &r), MP_TOOLONG);
	CHECK_INT(imap_parse_response_rest(IN("\r\n"), 4096, &r), MP_OK);
	CHECK_INT(r.text.n, 0);
	CHECK_INT(imap_parse_response_rest(IN("x\ry\r\n"), 4096, &r), MP_INVALID);
	CHECK_INT(imap_parse_response_rest(IN(" {65537}\r\n"), 4096, &r), MP_TOOLONG);
}

/* ----------------------------------------------------------------- helpers */

TEST(imap_capability)
{
	struct mp_str caps = MP_STR_LIT(DOVECOT_CAPS);
	CHECK(imap_capability_has(caps, "IMAP4rev1"));
	CHECK(imap_capability_has(caps, "imap4REV1"));
	CHECK(imap_capability_has(caps, "LITERAL+"));
	CHECK(imap_capability_has(caps, "auth=plain"));
	CHECK(!imap_capability_has(caps, "LITERAL"));
	CHECK(!imap_capability_has(caps, "AUTH"));
	CHECK(!imap_capability_has(caps, "IMAP4"));
	CHECK(!imap_capability_has(caps, "STARTTLS"));
	CHECK(!imap_capability_has(caps, ""));
	CHECK(imap_capability_has(MP_STR_LIT("  ID  "), "ID"));
	CHECK(!imap_capability_has(MP_STR_LIT(""), "ID"));
	CHECK(!imap_capability_has(MP_STR_LIT("IDLE"), "ID"));
	CHECK(imap_capability_has(MP_STR_LIT("IDLE ID"), "ID"));
}

TEST(imap_quote_strings)
{
	char out[16];
	size_t n;

	n = imap_quote(out, sizeof(out), MP_STR_LIT("user"));
	CHECK_MEM(out, n, "\"user\"");
	n = imap_quote(out, sizeof(out), MP_STR_LIT("a\"b\\c"));
	CHECK_MEM(out, n, "\"a\\\"b\\\\c\"");
	n = imap_quote(out, sizeof(out), MP_STR_LIT(""));
	CHECK_MEM(out, n, "\"\"");
	n = imap_quote(out, sizeof(out), MP_STR_LIT("a b\t~"));
	CHECK_MEM(out, n, "\"a b\t~\"");
	/* bytes a quoted string cannot carry: use a literal */
	CHECK_INT(imap_quote(out, sizeof(out), MP_STR_LIT("a\r\nb")), 0);
	CHECK_INT(imap_quote(out, sizeof(out), MP_STR_LIT("a\nb")), 0);
	CHECK_INT(imap_quote(out, sizeof(out), (struct mp_str){ "a\0b", 3 }), 0);
	CHECK_INT(imap_quote(out, sizeof(out), MP_STR_LIT("j\xc3\xbc")), 0);
	/* cap: exactly enough, one short */
	CHECK_INT(imap_quote(out, 6, MP_STR_LIT("user")), 6);
	CHECK_INT(imap_quote(out, 5, MP_STR_LIT("user")), 0);
	CHECK_INT(imap_quote(out, 4, MP_STR_LIT("a\"")), 0);
	CHECK_INT(imap_quote(out, 5, MP_STR_LIT("a\"")), 5);
	CHECK_INT(imap_quote(out, 2, MP_STR_LIT("")), 2);
	CHECK_INT(imap_quote(out, 1, MP_STR_LIT("")), 0);
	CHECK_INT(imap_quote(out, 0, MP_STR_LIT("")), 0);
	/* what imap_quote writes, the command parser reads back */
	{
		char cmd[64], scratch[64];
		static const char *vals[] = { "p\"w\\", "", " x ", "a\"\"b" };
		for (size_t k = 0; k < MP_ARRAY_LEN(vals); k++) {
			struct mp_str v = { vals[k], strlen(vals[k]) };
			size_t o = (size_t)snprintf(cmd, sizeof(cmd), "a LOGIN ");
			size_t q = imap_quote(cmd + o, sizeof(cmd) - o - 2, v);
			CHECK(q > 0);
			memcpy(cmd + o + q, "\r\n", 2);
			struct imap_parse_ctx ctx = mkctx(64, scratch, sizeof(scratch));
			struct imap_cmd c;
			CHECK_INT(imap_parse_command(&ctx, t_guarded(cmd, o + q + 2), o + q + 2, &c),
				  MP_OK);
			CHECK_INT(c.nargs, 1);
			CHECK_MEM(c.args[0].v.p, c.args[0].v.n, vals[k]);
		}
	}
}
