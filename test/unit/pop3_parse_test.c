/* POP3 command and reply parsers: tables of valid and hostile lines. */
#include "t.h"

#include "../../proto/line.h"
#include "../../proto/pop3_parse.h"

#define L(s) s, sizeof(s) - 1

static const struct {
	const char *in;
	size_t n;
	enum mp_status want;
	enum pop3_cmd_id id;
	size_t nargs;
	const char *a0, *a1;
} cmd_rows[] = {
	{ L("USER bob"), MP_OK, POP3_USER, 1, "bob", NULL },
	{ L("user bob"), MP_OK, POP3_USER, 1, "bob", NULL },
	{ L("UsEr bob@example.org"), MP_OK, POP3_USER, 1, "bob@example.org", NULL },
	{ L("USER bob smith"), MP_OK, POP3_USER, 1, "bob smith", NULL },
	{ L("USER  bob"), MP_OK, POP3_USER, 1, " bob", NULL },   /* single SP separates */
	{ L("USER"), MP_INVALID, 0, 0, NULL, NULL },
	{ L("USER "), MP_INVALID, 0, 0, NULL, NULL },
	{ L("PASS secret"), MP_OK, POP3_PASS, 1, "secret", NULL },
	{ L("pass s3cr et "), MP_OK, POP3_PASS, 1, "s3cr et ", NULL }, /* verbatim, as Dovecot */
	{ L("PASS  lead"), MP_OK, POP3_PASS, 1, " lead", NULL },
	{ L("PASS \xc3\xa9t\xc3\xa9"), MP_OK, POP3_PASS, 1, "\xc3\xa9t\xc3\xa9", NULL },
	{ L("PASS a\tb"), MP_OK, POP3_PASS, 1, "a\tb", NULL },
	{ L("PASS"), MP_INVALID, 0, 0, NULL, NULL },
	{ L("PASS "), MP_INVALID, 0, 0, NULL, NULL },
	{ L("PASS a\0b"), MP_INVALID, 0, 0, NULL, NULL },       /* NUL */
	{ L("PASS a\rb"), MP_INVALID, 0, 0, NULL, NULL },       /* bare CR */
	{ L("PASS a\nb"), MP_INVALID, 0, 0, NULL, NULL },       /* LF never inside a line */
	{ L("PASS x\r"), MP_INVALID, 0, 0, NULL, NULL },
	{ L("APOP mrose c4c9334bac560ecc979e58001b3e22fb"), MP_OK, POP3_APOP, 2, "mrose",
	  "c4c9334bac560ecc979e58001b3e22fb" },
	{ L("apop  mrose  C4C9334BAC560ECC979E58001B3E22FB "), MP_OK, POP3_APOP, 2, "mrose",
	  "C4C9334BAC560ECC979E58001B3E22FB" },
	{ L("APOP mrose c4c9334bac560ecc979e58001b3e22f"), MP_INVALID, 0, 0, NULL, NULL },   /* 31 */
	{ L("APOP mrose c4c9334bac560ecc979e58001b3e22fbb"), MP_INVALID, 0, 0, NULL, NULL }, /* 33 */
	{ L("APOP mrose c4c9334bac560ecc979e58001b3e22fg"), MP_INVALID, 0, 0, NULL, NULL },  /* not hex */
	{ L("APOP mrose"), MP_INVALID, 0, 0, NULL, NULL },
	{ L("APOP"), MP_INVALID, 0, 0, NULL, NULL },
	{ L("APOP a b c4c9334bac560ecc979e58001b3e22fb"), MP_INVALID, 0, 0, NULL, NULL },
	{ L("AUTH"), MP_OK, POP3_AUTH, 0, NULL, NULL },
	{ L("AUTH "), MP_OK, POP3_AUTH, 0, NULL, NULL },
	{ L("AUTH PLAIN"), MP_OK, POP3_AUTH, 1, "PLAIN", NULL },
	{ L("auth plain AGJvYgBzZWNyZXQ="), MP_OK, POP3_AUTH, 2, "plain", "AGJvYgBzZWNyZXQ=" },
	{ L("AUTH PLAIN ="), MP_OK, POP3_AUTH, 2, "PLAIN", "=" },   /* RFC 5034 §4 empty IR */
	{ L("AUTH PLAIN a b"), MP_INVALID, 0, 0, NULL, NULL },
	{ L("CAPA"), MP_OK, POP3_CAPA, 0, NULL, NULL },
	{ L("capa"), MP_OK, POP3_CAPA, 0, NULL, NULL },
	{ L("CAPA  "), MP_OK, POP3_CAPA, 0, NULL, NULL },
	{ L("CAPA x"), MP_INVALID, 0, 0, NULL, NULL },
	{ L("NOOP"), MP_OK, POP3_NOOP, 0, NULL, NULL },
	{ L("NOOP 1"), MP_INVALID, 0, 0, NULL, NULL },
	{ L("QUIT"), MP_OK, POP3_QUIT, 0, NULL, NULL },
	{ L("Quit"), MP_OK, POP3_QUIT, 0, NULL, NULL },
	{ L("QUIT now"), MP_INVALID, 0, 0, NULL, NULL },
	{ L("STLS"), MP_OK, POP3_STLS, 0, NULL, NULL },
	{ L("stls"), MP_OK, POP3_STLS, 0, NULL, NULL },
	{ L("STLS x"), MP_INVALID, 0, 0, NULL, NULL },
	{ L("STLS\0"), MP_INVALID, 0, 0, NULL, NULL },
	{ L("LIST 1"), MP_OK, POP3_UNKNOWN, 0, NULL, NULL },
	{ L("RETR"), MP_OK, POP3_UNKNOWN, 0, NULL, NULL },
	{ L("USERX bob"), MP_OK, POP3_UNKNOWN, 0, NULL, NULL },
	{ L("USE bob"), MP_OK, POP3_UNKNOWN, 0, NULL, NULL },
	{ L("XCLIENT ADDR=1.2.3.4"), MP_OK, POP3_UNKNOWN, 0, NULL, NULL },
	{ L("STARTTLS"), MP_OK, POP3_UNKNOWN, 0, NULL, NULL },
	{ L("USER\tbob"), MP_OK, POP3_UNKNOWN, 0, NULL, NULL },  /* only SP separates */
	{ L(""), MP_INVALID, 0, 0, NULL, NULL },
	{ L(" "), MP_INVALID, 0, 0, NULL, NULL },
	{ L(" USER bob"), MP_INVALID, 0, 0, NULL, NULL },
	{ L("\0"), MP_INVALID, 0, 0, NULL, NULL },
	{ L("QU\0IT"), MP_INVALID, 0, 0, NULL, NULL },
	{ L("\r"), MP_INVALID, 0, 0, NULL, NULL },
};

static void check_cmd(size_t i, const char *p)
{
	struct pop3_cmd c;
	enum mp_status st;

	memset(&c, 0xa5, sizeof(c));
	st = pop3_parse_cmd(p, cmd_rows[i].n, &c);
	if (st != cmd_rows[i].want) {
		char m[200];
		snprintf(m, sizeof(m), "row %zu \"%s\": status %d want %d", i, cmd_rows[i].in,
			 (int)st, (int)cmd_rows[i].want);
		t_fail(__FILE__, __LINE__, m);
		return;
	}
	if (st != MP_OK) {
		/* nothing published on failure */
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
	/* every slice lies inside the input */
	CHECK(c.verb.p == p && c.verb.n <= cmd_rows[i].n);
	CHECK(c.rest.p >= p && c.rest.p + c.rest.n <= p + cmd_rows[i].n);
	for (size_t k = 0; k < c.nargs; k++) {
		CHECK(c.args[k].p >= p && c.args[k].p + c.args[k].n <= p + cmd_rows[i].n);
	}
}

TEST(pop3_cmd_table)
{
	for (size_t i = 0; i < MP_ARRAY_LEN(cmd_rows); i++) {
		check_cmd(i, cmd_rows[i].in);
		check_cmd(i, t_guarded(cmd_rows[i].in, cmd_rows[i].n));
	}
}

TEST(pop3_cmd_rest)
{
	struct pop3_cmd c;

	CHECK_INT(pop3_parse_cmd(L("LIST 1 2"), &c), MP_OK);
	CHECK_MEM(c.verb.p, c.verb.n, "LIST");
	CHECK_MEM(c.rest.p, c.rest.n, "1 2");
	CHECK_INT(pop3_parse_cmd(L("AUTH PLAIN  ="), &c), MP_OK);
	CHECK_MEM(c.rest.p, c.rest.n, "PLAIN  =");
	CHECK_INT(pop3_parse_cmd(L("QUIT"), &c), MP_OK);
	CHECK_INT(c.rest.n, 0);
}

/* A long password at the caller's limit (nginx's 128-byte POP3 buffer minus
 * "PASS " and CRLF) and far beyond: the parser itself has no limit. */
TEST(pop3_cmd_long)
{
	static char buf[5 + 4096];
	struct pop3_cmd c;

	memcpy(buf, "PASS ", 5);
	memset(buf + 5, 'p', sizeof(buf) - 5);
	CHECK_INT(pop3_parse_cmd(t_guarded(buf, 128 - 2), 128 - 2, &c), MP_OK);
	CHECK_INT(c.args[0].n, 128 - 2 - 5);
	CHECK_INT(pop3_parse_cmd(t_guarded(buf, sizeof(buf)), sizeof(buf), &c), MP_OK);
	CHECK_INT(c.args[0].n, 4096);
}

static const struct {
	const char *in;
	size_t n;
	size_t max;
	enum mp_status want;
	enum pop3_reply_kind kind;
	const char *text;
	size_t len;
} reply_rows[] = {
	{ L("+OK POP3 ready\r\n"), 512, MP_OK, POP3_REPLY_OK, "POP3 ready", 16 },
	{ L("+OK\r\n"), 512, MP_OK, POP3_REPLY_OK, "", 5 },
	{ L("+OK\n"), 512, MP_OK, POP3_REPLY_OK, "", 4 },
	{ L("+OK \r\n"), 512, MP_OK, POP3_REPLY_OK, "", 6 },
	{ L("+OK [XCLIENT] Dovecot ready.\r\n"), 512, MP_OK, POP3_REPLY_OK,
	  "[XCLIENT] Dovecot ready.", 30 },
	{ L("-ERR [AUTH] Authentication failed.\r\n"), 512, MP_OK, POP3_REPLY_ERR,
	  "[AUTH] Authentication failed.", 36 },
	{ L("-ERR\r\n"), 512, MP_OK, POP3_REPLY_ERR, "", 6 },
	{ L("+ \r\n"), 512, MP_OK, POP3_REPLY_CONT, "", 4 },
	{ L("+\r\n"), 512, MP_OK, POP3_REPLY_CONT, "", 3 },
	{ L("+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n"), 512, MP_OK,
	  POP3_REPLY_CONT, "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+", 60 },
	{ L("+OK a\r\n+OK b\r\n"), 512, MP_OK, POP3_REPLY_OK, "a", 7 },   /* one line only */
	{ L("+OK"), 512, MP_AGAIN, 0, NULL, 0 },
	{ L("+OK ready\r"), 512, MP_AGAIN, 0, NULL, 0 },
	{ L(""), 512, MP_AGAIN, 0, NULL, 0 },
	{ L("+ok ready\r\n"), 512, MP_INVALID, 0, NULL, 0 },
	{ L("-err no\r\n"), 512, MP_INVALID, 0, NULL, 0 },
	{ L("+OKAY\r\n"), 512, MP_INVALID, 0, NULL, 0 },
	{ L("-ERROR\r\n"), 512, MP_INVALID, 0, NULL, 0 },
	{ L("+x\r\n"), 512, MP_INVALID, 0, NULL, 0 },
	{ L("-\r\n"), 512, MP_INVALID, 0, NULL, 0 },
	{ L("\r\n"), 512, MP_INVALID, 0, NULL, 0 },
	{ L("* OK IMAP4 ready\r\n"), 512, MP_INVALID, 0, NULL, 0 },
	{ L("220 smtp ready\r\n"), 512, MP_INVALID, 0, NULL, 0 },
	{ L("+OK a\0b\r\n"), 512, MP_INVALID, 0, NULL, 0 },
	{ L("+OK a\rb\r\n"), 512, MP_INVALID, 0, NULL, 0 },
	{ L("+OK a\r\r\n"), 512, MP_INVALID, 0, NULL, 0 },
	/* limits: "+OK hi\r\n" is 8 bytes */
	{ L("+OK hi\r\n"), 9, MP_OK, POP3_REPLY_OK, "hi", 8 },
	{ L("+OK hi\r\n"), 8, MP_OK, POP3_REPLY_OK, "hi", 8 },
	{ L("+OK hi\r\n"), 7, MP_TOOLONG, 0, NULL, 0 },
	{ L("+OK hi!"), 7, MP_TOOLONG, 0, NULL, 0 },
	{ L("+OK hi"), 7, MP_AGAIN, 0, NULL, 0 },
};

static void check_reply(size_t i, const char *p, size_t n)
{
	struct pop3_reply r;
	enum mp_status st;

	memset(&r, 0xa5, sizeof(r));
	st = pop3_parse_reply(p, n, reply_rows[i].max, &r);
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
	CHECK_INT(r.kind, reply_rows[i].kind);
	CHECK_MEM(r.text.p, r.text.n, reply_rows[i].text);
	CHECK_INT(r.len, reply_rows[i].len);
}

TEST(pop3_reply_table)
{
	for (size_t i = 0; i < MP_ARRAY_LEN(reply_rows); i++) {
		check_reply(i, reply_rows[i].in, reply_rows[i].n);
		check_reply(i, t_guarded(reply_rows[i].in, reply_rows[i].n), reply_rows[i].n);
	}
}

/* Fed one byte more at a time, a reply is MP_AGAIN until its line end, then
 * the same result; an invalid one never turns MP_OK on the way. */
TEST(pop3_reply_every_prefix)
{
	for (size_t i = 0; i < MP_ARRAY_LEN(reply_rows); i++) {
		for (size_t k = 0; k < reply_rows[i].n; k++) {
			struct pop3_reply r;
			const char *g = t_guarded(reply_rows[i].in, k);
			enum mp_status st = pop3_parse_reply(g, k, reply_rows[i].max, &r);
			bool done = reply_rows[i].want == MP_OK && k >= reply_rows[i].len;
			if (done) {
				CHECK_INT(st, MP_OK);
				CHECK_INT(r.len, reply_rows[i].len);
			} else if (st != MP_AGAIN && st != reply_rows[i].want) {
				char m[120];
				snprintf(m, sizeof(m), "reply row %zu prefix %zu: status %d", i, k,
					 (int)st);
				t_fail(__FILE__, __LINE__, m);
			}
		}
	}
}

TEST(pop3_greeting_xclient)
{
	static const struct {
		const char *in;
		bool want;
	} rows[] = {
		{ "+OK [XCLIENT] Dovecot ready.\r\n", true },
		{ "+OK [xclient] Dovecot ready.\r\n", true },
		{ "+OK [XCLIENT]\r\n", true },
		{ "+OK Dovecot ready.\r\n", false },
		{ "+OK Dovecot [XCLIENT] ready.\r\n", false },
		{ "+OK [XCLIENTS] ready.\r\n", false },
		{ "+OK [XCLIENT ready.\r\n", false },
		{ "+OK  [XCLIENT] ready.\r\n", false },
		{ "-ERR [XCLIENT] no.\r\n", false },
		{ "+ [XCLIENT]\r\n", false },
	};
	for (size_t i = 0; i < MP_ARRAY_LEN(rows); i++) {
		struct pop3_reply r;
		size_t n = strlen(rows[i].in);
		CHECK_INT(pop3_parse_reply(t_guarded(rows[i].in, n), n, 512, &r), MP_OK);
		CHECK_INT(pop3_greeting_has_xclient(&r), rows[i].want);
	}
}

/* The split-read class: pipelined commands arriving in two reads, split at
 * every offset, framed by line_frame() and parsed, give the same commands. */
TEST(pop3_cmd_pipelined_split)
{
	static const char stream[] = "CAPA\r\nuser bob\r\nPASS pa ss\nAUTH PLAIN =\r\n"
				     "APOP a c4c9334bac560ecc979e58001b3e22fb\r\nQUIT\r\n";
	static const enum pop3_cmd_id want[] = { POP3_CAPA, POP3_USER, POP3_PASS, POP3_AUTH,
						 POP3_APOP, POP3_QUIT };
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
				struct pop3_cmd c;
				const char *g = t_guarded(buf + start, have - start);
				enum mp_status st = line_frame(g, have - start, 128, &len, &used);
				if (st != MP_OK) {
					CHECK_INT(st, MP_AGAIN);
					break;
				}
				CHECK_INT(pop3_parse_cmd(g, len, &c), MP_OK);
				CHECK(got < MP_ARRAY_LEN(want) && c.id == want[got]);
				if (c.id == POP3_PASS) {
					CHECK_MEM(c.args[0].p, c.args[0].n, "pa ss");
				}
				got++;
				start += used;
			}
		}
		CHECK_INT(got, MP_ARRAY_LEN(want));
		CHECK_INT(start, total);
	}
}
