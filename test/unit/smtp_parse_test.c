/* SMTP command and reply parsers, EHLO keywords, xtext. */
#include "t.h"

#include "../../proto/line.h"
#include "../../proto/smtp_parse.h"

#define L(s) s, sizeof(s) - 1

static const struct {
	const char *in;
	size_t n;
	enum mp_status want;
	enum smtp_cmd_id id;
	size_t nargs;
	const char *a0, *a1, *params;
} cmd_rows[] = {
	{ L("HELO client.example"), MP_OK, SMTP_HELO, 1, "client.example", NULL, NULL },
	{ L("helo client.example "), MP_OK, SMTP_HELO, 1, "client.example", NULL, NULL },
	{ L("EHLO [192.0.2.1]"), MP_OK, SMTP_EHLO, 1, "[192.0.2.1]", NULL, NULL },
	{ L("ehlo  [IPv6:2001:db8::1]"), MP_OK, SMTP_EHLO, 1, "[IPv6:2001:db8::1]", NULL, NULL },
	{ L("EHLO"), MP_INVALID, 0, 0, NULL, NULL, NULL },
	{ L("EHLO "), MP_INVALID, 0, 0, NULL, NULL, NULL },
	{ L("EHLO a b"), MP_INVALID, 0, 0, NULL, NULL, NULL },
	{ L("HELO a\rb"), MP_INVALID, 0, 0, NULL, NULL, NULL },
	{ L("AUTH PLAIN"), MP_OK, SMTP_AUTH, 1, "PLAIN", NULL, NULL },
	{ L("auth login Ym9i"), MP_OK, SMTP_AUTH, 2, "login", "Ym9i", NULL },
	{ L("AUTH PLAIN ="), MP_OK, SMTP_AUTH, 2, "PLAIN", "=", NULL },
	{ L("AUTH"), MP_INVALID, 0, 0, NULL, NULL, NULL },
	{ L("AUTH PLAIN a b"), MP_INVALID, 0, 0, NULL, NULL, NULL },
	{ L("MAIL FROM:<a@b.example>"), MP_OK, SMTP_MAIL, 1, "a@b.example", NULL, "" },
	{ L("mail from:<a@b.example>"), MP_OK, SMTP_MAIL, 1, "a@b.example", NULL, "" },
	{ L("MAIL FROM: <a@b.example>"), MP_OK, SMTP_MAIL, 1, "a@b.example", NULL, "" },
	{ L("MAIL  FROM:<a@b>  SIZE=100 BODY=8BITMIME  "), MP_OK, SMTP_MAIL, 1, "a@b", NULL,
	  "SIZE=100 BODY=8BITMIME" },
	{ L("MAIL FROM:<>"), MP_OK, SMTP_MAIL, 1, "", NULL, "" },
	{ L("MAIL FROM:<> AUTH=<>"), MP_OK, SMTP_MAIL, 1, "", NULL, "AUTH=<>" },
	{ L("MAIL FROM:a@b SIZE=1"), MP_OK, SMTP_MAIL, 1, "a@b", NULL, "SIZE=1" },
	{ L("MAIL FROM:<\"a b>c\"@d>"), MP_OK, SMTP_MAIL, 1, "\"a b>c\"@d", NULL, "" },
	{ L("MAIL FROM:<\"a\\\"b\"@d> X"), MP_OK, SMTP_MAIL, 1, "\"a\\\"b\"@d", NULL, "X" },
	{ L("MAIL FROM:<@r1,@r2:a@b>"), MP_OK, SMTP_MAIL, 1, "@r1,@r2:a@b", NULL, "" },
	{ L("MAIL FROM:<\xc3\xa9@b> SMTPUTF8"), MP_OK, SMTP_MAIL, 1, "\xc3\xa9@b", NULL, "SMTPUTF8" },
	{ L("MAIL FROM:<a b@c>"), MP_INVALID, 0, 0, NULL, NULL, NULL },
	{ L("MAIL FROM:<\"a@b>"), MP_INVALID, 0, 0, NULL, NULL, NULL },
	{ L("MAIL FROM:<\"a\\"), MP_INVALID, 0, 0, NULL, NULL, NULL },
	{ L("MAIL FROM:<a@b"), MP_INVALID, 0, 0, NULL, NULL, NULL },
	{ L("MAIL FROM:<a@b>x"), MP_INVALID, 0, 0, NULL, NULL, NULL },
	{ L("MAIL FROM:"), MP_INVALID, 0, 0, NULL, NULL, NULL },
	{ L("MAIL FROM: "), MP_INVALID, 0, 0, NULL, NULL, NULL },
	{ L("MAIL FROM <a@b>"), MP_INVALID, 0, 0, NULL, NULL, NULL },
	{ L("MAIL TO:<a@b>"), MP_INVALID, 0, 0, NULL, NULL, NULL },
	{ L("MAIL"), MP_INVALID, 0, 0, NULL, NULL, NULL },
	{ L("MAIL FROM:<a@b>\0"), MP_INVALID, 0, 0, NULL, NULL, NULL },
	{ L("MAIL FROM:<a@b>\r"), MP_INVALID, 0, 0, NULL, NULL, NULL },
	{ L("MAIL FROM:<a\r@b>"), MP_INVALID, 0, 0, NULL, NULL, NULL },
	{ L("RCPT TO:<c@d.example>"), MP_OK, SMTP_RCPT, 1, "c@d.example", NULL, "" },
	{ L("rcpt to: <c@d> NOTIFY=NEVER"), MP_OK, SMTP_RCPT, 1, "c@d", NULL, "NOTIFY=NEVER" },
	{ L("RCPT TO:<Postmaster>"), MP_OK, SMTP_RCPT, 1, "Postmaster", NULL, "" },
	{ L("RCPT TO:<>"), MP_INVALID, 0, 0, NULL, NULL, NULL },
	{ L("RCPT FROM:<c@d>"), MP_INVALID, 0, 0, NULL, NULL, NULL },
	{ L("RCPT TO"), MP_INVALID, 0, 0, NULL, NULL, NULL },
	{ L("RSET"), MP_OK, SMTP_RSET, 0, NULL, NULL, NULL },
	{ L("rset "), MP_OK, SMTP_RSET, 0, NULL, NULL, NULL },
	{ L("RSET x"), MP_INVALID, 0, 0, NULL, NULL, NULL },
	{ L("NOOP"), MP_OK, SMTP_NOOP, 0, NULL, NULL, NULL },
	{ L("NOOP anything at all"), MP_OK, SMTP_NOOP, 0, NULL, NULL, NULL },
	{ L("QUIT"), MP_OK, SMTP_QUIT, 0, NULL, NULL, NULL },
	{ L("QUIT x"), MP_INVALID, 0, 0, NULL, NULL, NULL },
	{ L("STARTTLS"), MP_OK, SMTP_STARTTLS, 0, NULL, NULL, NULL },
	{ L("starttls"), MP_OK, SMTP_STARTTLS, 0, NULL, NULL, NULL },
	{ L("STARTTLS x"), MP_INVALID, 0, 0, NULL, NULL, NULL },
	{ L("STARTTLS\r"), MP_INVALID, 0, 0, NULL, NULL, NULL },
	{ L("VRFY bob"), MP_OK, SMTP_VRFY, 1, "bob", NULL, NULL },
	{ L("VRFY Bob Smith <bob@x> "), MP_OK, SMTP_VRFY, 1, "Bob Smith <bob@x>", NULL, NULL },
	{ L("VRFY"), MP_INVALID, 0, 0, NULL, NULL, NULL },
	{ L("EXPN list"), MP_OK, SMTP_EXPN, 1, "list", NULL, NULL },
	{ L("EXPN  "), MP_INVALID, 0, 0, NULL, NULL, NULL },
	{ L("HELP"), MP_OK, SMTP_HELP, 0, NULL, NULL, NULL },
	{ L("HELP MAIL"), MP_OK, SMTP_HELP, 0, NULL, NULL, NULL },
	{ L("DATA"), MP_OK, SMTP_DATA, 0, NULL, NULL, NULL },
	{ L("DATA x"), MP_INVALID, 0, 0, NULL, NULL, NULL },
	{ L("BDAT 1000"), MP_OK, SMTP_BDAT, 1, "1000", NULL, NULL },
	{ L("BDAT 0 LAST"), MP_OK, SMTP_BDAT, 2, "0", "LAST", NULL },
	{ L("bdat 10 last"), MP_OK, SMTP_BDAT, 2, "10", "last", NULL },
	{ L("BDAT"), MP_INVALID, 0, 0, NULL, NULL, NULL },
	{ L("BDAT x"), MP_INVALID, 0, 0, NULL, NULL, NULL },
	{ L("BDAT 1 FIRST"), MP_INVALID, 0, 0, NULL, NULL, NULL },
	{ L("BDAT 1 LAST x"), MP_INVALID, 0, 0, NULL, NULL, NULL },
	{ L("XCLIENT ADDR=1.2.3.4"), MP_OK, SMTP_UNKNOWN, 0, NULL, NULL, NULL },
	{ L("ETRN x"), MP_OK, SMTP_UNKNOWN, 0, NULL, NULL, NULL },
	{ L("STARTTLSX"), MP_OK, SMTP_UNKNOWN, 0, NULL, NULL, NULL },
	{ L("GET / HTTP/1.0"), MP_OK, SMTP_UNKNOWN, 0, NULL, NULL, NULL },
	{ L("MAIL\tFROM:<a@b>"), MP_OK, SMTP_UNKNOWN, 0, NULL, NULL, NULL },
	{ L(""), MP_INVALID, 0, 0, NULL, NULL, NULL },
	{ L("  "), MP_INVALID, 0, 0, NULL, NULL, NULL },
	{ L(" QUIT"), MP_INVALID, 0, 0, NULL, NULL, NULL },
	{ L("\0QUIT"), MP_INVALID, 0, 0, NULL, NULL, NULL },
	{ L("QUIT\n"), MP_INVALID, 0, 0, NULL, NULL, NULL },
	{ L("\r"), MP_INVALID, 0, 0, NULL, NULL, NULL },
};

static void check_cmd(size_t i, const char *p)
{
	struct smtp_cmd c;
	enum mp_status st;
	size_t n = cmd_rows[i].n;

	memset(&c, 0xa5, sizeof(c));
	st = smtp_parse_cmd(p, n, &c);
	if (st != cmd_rows[i].want) {
		char m[200];
		snprintf(m, sizeof(m), "row %zu \"%s\": status %d want %d", i, cmd_rows[i].in,
			 (int)st, (int)cmd_rows[i].want);
		t_fail(__FILE__, __LINE__, m);
		return;
	}
	if (st != MP_OK) {
		CHECK_INT(((unsigned char *)&c)[0], 0xa5);
		return;
	}
	CHECK_INT(c.id, cmd_rows[i].id);
	CHECK_INT(c.nargs, cmd_rows[i].nargs);
	if (cmd_rows[i].a0 != NULL && c.nargs >= 1) {
		CHECK_MEM(c.args[0].p, c.args[0].n, cmd_rows[i].a0);
	}
	if (cmd_rows[i].a1 != NULL && c.nargs >= 2) {
		CHECK_MEM(c.args[1].p, c.args[1].n, cmd_rows[i].a1);
	}
	if (cmd_rows[i].params != NULL) {
		CHECK_MEM(c.params.p, c.params.n, cmd_rows[i].params);
	}
	CHECK(c.line.p == p && c.line.n == n);
	CHECK(c.verb.p == p && c.verb.n <= n);
	CHECK(c.rest.p >= p && c.rest.p + c.rest.n <= p + n);
	CHECK(c.params.p >= p && c.params.p + c.params.n <= p + n);
	for (size_t k = 0; k < c.nargs; k++) {
		CHECK(c.args[k].p >= p && c.args[k].p + c.args[k].n <= p + n);
	}
}

TEST(smtp_cmd_table)
{
	for (size_t i = 0; i < MP_ARRAY_LEN(cmd_rows); i++) {
		check_cmd(i, cmd_rows[i].in);
		check_cmd(i, t_guarded(cmd_rows[i].in, cmd_rows[i].n));
	}
}

/* nginx sends the whole MAIL line as Auth-SMTP-From: keep it verbatim. */
TEST(smtp_cmd_mail_line)
{
	struct smtp_cmd c;
	static const char in[] = "MAIL FROM:<a@b> SIZE=5  ";

	CHECK_INT(smtp_parse_cmd(L(in), &c), MP_OK);
	CHECK_MEM(c.line.p, c.line.n, in);
	CHECK_MEM(c.verb.p, c.verb.n, "MAIL");
	CHECK_MEM(c.rest.p, c.rest.n, "FROM:<a@b> SIZE=5");
	CHECK_INT(smtp_parse_cmd(L("NOOP  hi there "), &c), MP_OK);
	CHECK_MEM(c.rest.p, c.rest.n, "hi there");
}

static const struct {
	const char *in;
	size_t n;
	size_t max;
	enum mp_status want;
	unsigned code;
	size_t nlines, len;
	const char *first, *last, *ext;
} reply_rows[] = {
	{ L("220 mx.example ESMTP Postfix\r\n"), 4096, MP_OK, 220, 1, 30,
	  "mx.example ESMTP Postfix", "mx.example ESMTP Postfix", "" },
	{ L("250-mx.example\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-XCLIENT NAME ADDR PROTO HELO LOGIN\r\n250 8BITMIME\r\n"),
	  4096, MP_OK, 250, 5, 105, "mx.example", "8BITMIME", "" },
	{ L("250-a\n250 b\n"), 4096, MP_OK, 250, 2, 12, "a", "b", "" },
	{ L("250-a\r\n250-\r\n250\r\n"), 4096, MP_OK, 250, 3, 18, "a", "", "" },
	{ L("250\r\n"), 4096, MP_OK, 250, 1, 5, "", "", "" },
	{ L("250 \r\n"), 4096, MP_OK, 250, 1, 6, "", "", "" },
	{ L("235 2.7.0 Authentication successful\r\n"), 4096, MP_OK, 235, 1, 37,
	  "2.7.0 Authentication successful", "2.7.0 Authentication successful", "2.7.0" },
	{ L("550 5.7.1\r\n"), 4096, MP_OK, 550, 1, 11, "5.7.1", "5.7.1", "5.7.1" },
	{ L("421 4.123.456 x\r\n"), 4096, MP_OK, 421, 1, 17, "4.123.456 x", "4.123.456 x", "4.123.456" },
	{ L("421 4.1234.5 x\r\n"), 4096, MP_OK, 421, 1, 16, "4.1234.5 x", "4.1234.5 x", "" },
	{ L("250 2.0.0OK\r\n"), 4096, MP_OK, 250, 1, 13, "2.0.0OK", "2.0.0OK", "" },
	{ L("250 3.0.0 x\r\n"), 4096, MP_OK, 250, 1, 13, "3.0.0 x", "3.0.0 x", "" },
	{ L("250 2.0. x\r\n"), 4096, MP_OK, 250, 1, 12, "2.0. x", "2.0. x", "" },
	{ L("334 \r\n"), 4096, MP_OK, 334, 1, 6, "", "", "" },
	{ L("334 VXNlcm5hbWU6\r\n"), 4096, MP_OK, 334, 1, 18, "VXNlcm5hbWU6", "VXNlcm5hbWU6", "" },
	{ L("220 a\r\n250 b\r\n"), 4096, MP_OK, 220, 1, 7, "a", "a", "" },   /* one reply only */
	{ L("554 x\r\n"), 4096, MP_OK, 554, 1, 7, "x", "x", "" },
	{ L("599 x\r\n"), 4096, MP_INVALID, 0, 0, 0, NULL, NULL, NULL },   /* RFC 5321 §4.2 */
	/* incomplete */
	{ L("250-a\r\n"), 4096, MP_AGAIN, 0, 0, 0, NULL, NULL, NULL },
	{ L("250-a\r\n250-b\r\n250 c"), 4096, MP_AGAIN, 0, 0, 0, NULL, NULL, NULL },
	{ L("250"), 4096, MP_AGAIN, 0, 0, 0, NULL, NULL, NULL },
	/* hostile */
	{ L("250-a\r\n251 b\r\n"), 4096, MP_INVALID, 0, 0, 0, NULL, NULL, NULL },
	{ L("250-a\r\n220-b\r\n250 c\r\n"), 4096, MP_INVALID, 0, 0, 0, NULL, NULL, NULL },
	{ L("250-a\r\nxyz\r\n"), 4096, MP_INVALID, 0, 0, 0, NULL, NULL, NULL },
	{ L("250-a\r\n\r\n"), 4096, MP_INVALID, 0, 0, 0, NULL, NULL, NULL },
	{ L("25\r\n"), 4096, MP_INVALID, 0, 0, 0, NULL, NULL, NULL },
	{ L("\r\n"), 4096, MP_INVALID, 0, 0, 0, NULL, NULL, NULL },
	{ L("2500 x\r\n"), 4096, MP_INVALID, 0, 0, 0, NULL, NULL, NULL },
	{ L("250x\r\n"), 4096, MP_INVALID, 0, 0, 0, NULL, NULL, NULL },
	{ L("250\tx\r\n"), 4096, MP_INVALID, 0, 0, 0, NULL, NULL, NULL },
	{ L("160 x\r\n"), 4096, MP_INVALID, 0, 0, 0, NULL, NULL, NULL },
	{ L("600 x\r\n"), 4096, MP_INVALID, 0, 0, 0, NULL, NULL, NULL },
	{ L("260 x\r\n"), 4096, MP_INVALID, 0, 0, 0, NULL, NULL, NULL },
	{ L("25a x\r\n"), 4096, MP_INVALID, 0, 0, 0, NULL, NULL, NULL },
	{ L(" 250 x\r\n"), 4096, MP_INVALID, 0, 0, 0, NULL, NULL, NULL },
	{ L("250 a\0b\r\n"), 4096, MP_INVALID, 0, 0, 0, NULL, NULL, NULL },
	{ L("250 a\rb\r\n"), 4096, MP_INVALID, 0, 0, 0, NULL, NULL, NULL },
	{ L("250-a\rb\r\n250 c\r\n"), 4096, MP_INVALID, 0, 0, 0, NULL, NULL, NULL },
	{ L("* OK IMAP4 ready\r\n"), 4096, MP_INVALID, 0, 0, 0, NULL, NULL, NULL },
	{ L("+OK POP3 ready\r\n"), 4096, MP_INVALID, 0, 0, 0, NULL, NULL, NULL },
	/* limits: "250-a\r\n250 b\r\n" is 14 bytes */
	{ L("250-a\r\n250 b\r\n"), 15, MP_OK, 250, 2, 14, "a", "b", "" },
	{ L("250-a\r\n250 b\r\n"), 14, MP_OK, 250, 2, 14, "a", "b", "" },
	{ L("250-a\r\n250 b\r\n"), 13, MP_TOOLONG, 0, 0, 0, NULL, NULL, NULL },
	{ L("250-a\r\n250 b\r"), 13, MP_TOOLONG, 0, 0, 0, NULL, NULL, NULL },
	{ L("250-a\r\n250 b"), 13, MP_AGAIN, 0, 0, 0, NULL, NULL, NULL },
	{ L("250-a\r\n"), 7, MP_TOOLONG, 0, 0, 0, NULL, NULL, NULL },   /* 250- never finished */
	{ L("250-a\r\n"), 8, MP_AGAIN, 0, 0, 0, NULL, NULL, NULL },
};

static void check_reply(size_t i, const char *p, size_t n)
{
	struct smtp_reply r;
	enum mp_status st;

	memset(&r, 0xa5, sizeof(r));
	st = smtp_parse_reply(p, n, reply_rows[i].max, &r);
	if (st != reply_rows[i].want) {
		char m[200];
		snprintf(m, sizeof(m), "reply row %zu (n=%zu): status %d want %d", i, n, (int)st,
			 (int)reply_rows[i].want);
		t_fail(__FILE__, __LINE__, m);
		return;
	}
	if (st != MP_OK) {
		CHECK_INT(((unsigned char *)&r)[0], 0xa5);
		return;
	}
	CHECK(r.complete);
	CHECK_INT(r.code, reply_rows[i].code);
	CHECK_INT(r.nlines, reply_rows[i].nlines);
	CHECK_INT(r.len, reply_rows[i].len);
	CHECK_MEM(r.first_text.p, r.first_text.n, reply_rows[i].first);
	CHECK_MEM(r.last_text.p, r.last_text.n, reply_rows[i].last);
	CHECK_MEM(r.ext.p, r.ext.n, reply_rows[i].ext);
	CHECK_INT(r.has_ext, reply_rows[i].ext[0] != '\0');
}

TEST(smtp_reply_table)
{
	for (size_t i = 0; i < MP_ARRAY_LEN(reply_rows); i++) {
		check_reply(i, reply_rows[i].in, reply_rows[i].n);
		check_reply(i, t_guarded(reply_rows[i].in, reply_rows[i].n), reply_rows[i].n);
	}
}

/* The split-read class: a reply fed one byte more at a time (every split
 * offset) is MP_AGAIN until its last line end, then the same reply; an
 * invalid or too-long one never turns MP_OK on the way. */
TEST(smtp_reply_every_prefix)
{
	for (size_t i = 0; i < MP_ARRAY_LEN(reply_rows); i++) {
		for (size_t k = 0; k < reply_rows[i].n; k++) {
			struct smtp_reply r;
			const char *g = t_guarded(reply_rows[i].in, k);
			enum mp_status st = smtp_parse_reply(g, k, reply_rows[i].max, &r);
			bool done = reply_rows[i].want == MP_OK && k >= reply_rows[i].len;
			if (done) {
				CHECK_INT(st, MP_OK);
				CHECK_INT(r.len, reply_rows[i].len);
				CHECK_INT(r.nlines, reply_rows[i].nlines);
			} else if (st != MP_AGAIN && st != reply_rows[i].want) {
				char m[120];
				snprintf(m, sizeof(m), "reply row %zu prefix %zu: status %d", i, k,
					 (int)st);
				t_fail(__FILE__, __LINE__, m);
			}
		}
	}
}

/* A backend that never ends its "250-" lines is cut off at max. */
TEST(smtp_reply_unfinished)
{
	static char buf[8192];
	struct smtp_reply r;
	size_t n = 0;

	while (n + 7 <= sizeof(buf)) {
		memcpy(buf + n, "250-xx\n", 7);
		n += 7;
	}
	const char *g = t_guarded(buf, n);
	CHECK_INT(smtp_parse_reply(g, n, n + 1, &r), MP_AGAIN);
	CHECK_INT(smtp_parse_reply(g, n, n, &r), MP_TOOLONG);
	CHECK_INT(smtp_parse_reply(g, n, 4096, &r), MP_TOOLONG);
	CHECK_INT(smtp_parse_reply(g, 4095, 4096, &r), MP_AGAIN);
}

static const char ehlo[] = "250-mx.example Hello AUTH\r\n"
			   "250-PIPELINING\r\n"
			   "250-SIZE 10240000\r\n"
			   "250-auth PLAIN LOGIN\r\n"
			   "250-AUTH=PLAIN LOGIN\r\n"
			   "250-XCLIENT NAME ADDR PROTO HELO LOGIN\r\n"
			   "250-STARTTLS\r\n"
			   "250-X\r\n"
			   "250 8BITMIME\n";

TEST(smtp_reply_keywords)
{
	struct smtp_reply r;
	struct mp_str params = { NULL, 0 };
	const char *g = t_guarded(ehlo, sizeof(ehlo) - 1);

	CHECK_INT(smtp_parse_reply(g, sizeof(ehlo) - 1, 4096, &r), MP_OK);
	CHECK_INT(r.len, sizeof(ehlo) - 1);
	CHECK(smtp_reply_has_keyword(g, r.len, "PIPELINING"));
	CHECK(smtp_reply_has_keyword(g, r.len, "pipelining"));
	CHECK(smtp_reply_has_keyword(g, r.len, "STARTTLS"));
	CHECK(smtp_reply_has_keyword(g, r.len, "8BITMIME"));
	CHECK(smtp_reply_has_keyword(g, r.len, "X"));
	CHECK(smtp_reply_find_keyword(g, r.len, "AUTH", &params));
	CHECK_MEM(params.p, params.n, "PLAIN LOGIN");
	CHECK(smtp_reply_find_keyword(g, r.len, "xclient", &params));
	CHECK_MEM(params.p, params.n, "NAME ADDR PROTO HELO LOGIN");
	CHECK(smtp_reply_find_keyword(g, r.len, "STARTTLS", &params));
	CHECK_INT(params.n, 0);
	CHECK(smtp_reply_has_keyword(g, r.len, "AUTH=PLAIN"));
	CHECK(!smtp_reply_has_keyword(g, r.len, "mx.example"));   /* first line is the domain */
	CHECK(!smtp_reply_has_keyword(g, r.len, "Hello"));
	CHECK(!smtp_reply_has_keyword(g, r.len, "SIZE 10240000"));
	CHECK(!smtp_reply_has_keyword(g, r.len, "CHUNKING"));
	CHECK(!smtp_reply_has_keyword(g, r.len, "PIPE"));
	CHECK(!smtp_reply_has_keyword(g, r.len, "PIPELININGS"));
	CHECK(!smtp_reply_has_keyword(g, r.len, ""));
	CHECK(!smtp_reply_has_keyword(g, 0, "PIPELINING"));
	/* cut anywhere, it still never reads past n */
	for (size_t k = 0; k <= sizeof(ehlo) - 1; k++) {
		const char *h = t_guarded(ehlo, k);
		(void)smtp_reply_find_keyword(h, k, "8BITMIME", &params);
	}
	/* keyword on the last line of a cut reply, the line end missing */
	g = t_guarded("250-a\r\n250 XCLIENT", 18);
	CHECK(smtp_reply_has_keyword(g, 18, "XCLIENT"));
	g = t_guarded("250 XCLIENT\r\n", 13);
	CHECK(!smtp_reply_has_keyword(g, 13, "XCLIENT"));
	g = t_guarded("250-a\r\n25\r\n250 XCLIENT\r\n", 24);
	CHECK(smtp_reply_has_keyword(g, 24, "XCLIENT"));
}

TEST(smtp_xtext)
{
	static const struct {
		const char *in;
		size_t n;
		const char *out;
	} rows[] = {
		{ L("bob"), "bob" },
		{ L("bob@example.org"), "bob@example.org" },
		{ L("a+b=c"), "a+2Bb+3Dc" },
		{ L("a b"), "a+20b" },
		{ L("!~"), "!~" },
		{ L("\x7f\x80\xff"), "+7F+80+FF" },
		{ L("\r\n\0"), "+0D+0A+00" },
		{ L("\xc3\xa9"), "+C3+A9" },
		{ L("[IPv6:::1]"), "[IPv6:::1]" },
		{ L("x\ty"), "x+09y" },
	};
	char out[64];

	for (size_t i = 0; i < MP_ARRAY_LEN(rows); i++) {
		size_t want = strlen(rows[i].out);
		const char *g = t_guarded(rows[i].in, rows[i].n);
		memset(out, '#', sizeof(out));
		CHECK_INT(smtp_xtext_encode(out, sizeof(out), (struct mp_str){ g, rows[i].n }), want);
		CHECK_MEM(out, want, rows[i].out);
		CHECK_INT(out[want], '#');   /* nothing written past the result */
		/* cap = exact, exact-1, exact+1 */
		CHECK_INT(smtp_xtext_encode(out, want, (struct mp_str){ g, rows[i].n }), want);
		CHECK_INT(smtp_xtext_encode(out, want + 1, (struct mp_str){ g, rows[i].n }), want);
		CHECK_INT(smtp_xtext_encode(out, want - 1, (struct mp_str){ g, rows[i].n }), 0);
	}
	CHECK_INT(smtp_xtext_encode(out, sizeof(out), (struct mp_str){ "", 0 }), 0);
	CHECK_INT(smtp_xtext_encode(NULL, 0, (struct mp_str){ "a", 1 }), 0);
	/* never writes past cap even when it fails half-way */
	memset(out, '#', sizeof(out));
	CHECK_INT(smtp_xtext_encode(out, 4, MP_STR_LIT("ab+c")), 0);
	CHECK_INT(out[4], '#');
}

/* The split-read class: pipelined commands (RFC 2920) arriving in two reads,
 * split at every offset, framed by line_frame() and parsed, give the same
 * commands. */
TEST(smtp_cmd_pipelined_split)
{
	static const char stream[] = "EHLO c.example\r\nMAIL FROM:<a@b> SIZE=10\r\n"
				     "RCPT TO:<c@d>\nRCPT TO: <e@f>\r\nDATA\r\nQUIT\r\n";
	static const enum smtp_cmd_id want[] = { SMTP_EHLO, SMTP_MAIL, SMTP_RCPT, SMTP_RCPT,
						 SMTP_DATA, SMTP_QUIT };
	const size_t total = sizeof(stream) - 1;

	for (size_t split = 0; split <= total; split++) {
		char buf[sizeof(stream)];
		size_t have = 0, start = 0, got = 0;
		for (int read = 0; read < 2; read++) {
			size_t chunk = read == 0 ? split : total - split;
			memcpy(buf + have, stream + have, chunk);
			have += chunk;
			for (;;) {
				size_t len, used;
				struct smtp_cmd c;
				const char *g = t_guarded(buf + start, have - start);
				enum mp_status st = line_frame(g, have - start, 512, &len, &used);
				if (st != MP_OK) {
					CHECK_INT(st, MP_AGAIN);
					break;
				}
				CHECK_INT(smtp_parse_cmd(g, len, &c), MP_OK);
				CHECK(got < MP_ARRAY_LEN(want) && c.id == want[got]);
				if (c.id == SMTP_MAIL) {
					CHECK_MEM(c.line.p, c.line.n, "MAIL FROM:<a@b> SIZE=10");
				}
				got++;
				start += used;
			}
		}
		CHECK_INT(got, MP_ARRAY_LEN(want));
		CHECK_INT(start, total);
	}
}
