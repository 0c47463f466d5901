#include "t.h"

#include "../../conf/conf.h"
#include "../../proto/auth_http_msg.h"

#include <stdlib.h>

#define S(x) ((struct mp_str){ (x), sizeof(x) - 1 })

/* ---- request ---------------------------------------------------------- */

static struct auth_http_req base_req(void)
{
	struct auth_http_req r;
	memset(&r, 0, sizeof(r));
	r.host = S("localhost");
	r.uri = S("/auth");
	r.method = S("plain");
	r.user = S("alice");
	r.pass = S("secret");
	r.protocol = S("imap");
	r.attempt = 1;
	r.client_ip = S("192.0.2.1");
	return r;
}

/* Build, check the result, and that every smaller buffer gives MP_TOOLONG
 * with nothing left behind. */
static void check_build(const struct auth_http_req *r, enum mp_status want,
			const char *text)
{
	static char out[16384];
	size_t len = 12345;
	enum mp_status st = auth_http_build_request(r, out, sizeof(out), &len);
	CHECK_INT(st, want);
	if (want != MP_OK) {
		CHECK_INT(len, 0);
		return;
	}
	CHECK_MEM(out, len, text);
	if (st != MP_OK) {
		return;
	}
	/* Every cap below the exact size: MP_TOOLONG, len 0, buffer wiped. */
	for (size_t cap = 0; cap < len; cap++) {
		char *small = malloc(cap + 1);
		memset(small, 0, cap + 1);
		size_t l2 = 99;
		CHECK_INT(auth_http_build_request(r, small, cap, &l2), MP_TOOLONG);
		CHECK_INT(l2, 0);
		for (size_t i = 0; i <= cap; i++) {
			if (small[i] != 0) {
				CHECK(!"buffer not wiped after MP_TOOLONG");
				break;
			}
		}
		free(small);
	}
	size_t l3 = 0;
	char *exact = malloc(len);
	CHECK_INT(auth_http_build_request(r, exact, len, &l3), MP_OK);
	CHECK_INT(l3, len);
	free(exact);
}

TEST(auth_http_req_plain_imap)
{
	struct auth_http_req r = base_req();
	check_build(&r, MP_OK,
		    "GET /auth HTTP/1.0\r\n"
		    "Host: localhost\r\n"
		    "Auth-Method: plain\r\n"
		    "Auth-User: alice\r\n"
		    "Auth-Pass: secret\r\n"
		    "Auth-Protocol: imap\r\n"
		    "Auth-Login-Attempt: 1\r\n"
		    "Client-IP: 192.0.2.1\r\n"
		    "\r\n");
}

TEST(auth_http_req_everything)
{
	static const struct conf_header extra[] = {
		{ "X-Auth-Key", "s3cr3t value" },
		{ "X-Empty", "" },
	};
	struct auth_http_req r = base_req();
	r.method = S("cram-md5");
	r.pass = S("b913a602c7eda7a495b4e6e7334d3890");
	r.salt = S("<1896.697170952@mail.example.com>");
	r.protocol = S("pop3");
	r.attempt = 4294967295u;
	r.client_ip = S("2001:db8::1");
	r.client_host = S("[UNAVAILABLE]");
	r.pp_addr = S("198.51.100.7");
	r.pp_port = S("40000");
	r.pp_server_addr = S("203.0.113.1");
	r.pp_server_port = S("995");
	r.smtp_helo = S("ignored, method is not none");
	r.ssl = true;
	r.ssl_protocol = S("TLSv1.3");
	r.ssl_cipher = S("TLS_AES_128_GCM_SHA256");
	r.ssl_verify = S("SUCCESS");
	r.ssl_subject = S("CN=alice,O=Example\tTab");
	r.ssl_serial = S("01");
	r.ssl_cert = S("-----BEGIN CERTIFICATE-----\nMIIB+/x=\n-----END CERTIFICATE-----\n");
	r.extra = extra;
	r.nextra = 2;
	r.keepalive = true;
	check_build(&r, MP_OK,
		    "GET /auth HTTP/1.0\r\n"
		    "Host: localhost\r\n"
		    "Auth-Method: cram-md5\r\n"
		    "Auth-User: alice\r\n"
		    "Auth-Pass: b913a602c7eda7a495b4e6e7334d3890\r\n"
		    "Auth-Salt: <1896.697170952@mail.example.com>\r\n"
		    "Auth-Protocol: pop3\r\n"
		    "Auth-Login-Attempt: 4294967295\r\n"
		    "Client-IP: 2001:db8::1\r\n"
		    "Client-Host: [UNAVAILABLE]\r\n"
		    "Proxy-Protocol-Addr: 198.51.100.7\r\n"
		    "Proxy-Protocol-Port: 40000\r\n"
		    "Proxy-Protocol-Server-Addr: 203.0.113.1\r\n"
		    "Proxy-Protocol-Server-Port: 995\r\n"
		    "Auth-SSL: on\r\n"
		    "Auth-SSL-Protocol: TLSv1.3\r\n"
		    "Auth-SSL-Cipher: TLS_AES_128_GCM_SHA256\r\n"
		    "Auth-SSL-Verify: SUCCESS\r\n"
		    "Auth-SSL-Subject: CN=alice,O=Example\tTab\r\n"
		    "Auth-SSL-Serial: 01\r\n"
		    "Auth-SSL-Cert: -----BEGIN%20CERTIFICATE-----%0AMIIB+/x=%0A"
		    "-----END%20CERTIFICATE-----%0A\r\n"
		    "X-Auth-Key: s3cr3t value\r\n"
		    "X-Empty: \r\n"
		    "Connection: keep-alive\r\n"
		    "\r\n");
}

TEST(auth_http_req_smtp_none)
{
	struct auth_http_req r = base_req();
	r.method = S("none");
	r.user = (struct mp_str){ NULL, 0 };
	r.pass = (struct mp_str){ NULL, 0 };
	r.protocol = S("smtp");
	r.client_host = S("client.example.net");
	/* nginx writes all three, even an empty HELO. */
	r.smtp_from = S("MAIL FROM:<a@example.net> SIZE=100");
	r.smtp_to = S("RCPT TO:<b@example.com>");
	r.ssl = false;
	r.ssl_subject = S("ignored\r\nX-Evil: 1"); /* not written, not checked */
	check_build(&r, MP_OK,
		    "GET /auth HTTP/1.0\r\n"
		    "Host: localhost\r\n"
		    "Auth-Method: none\r\n"
		    "Auth-User: \r\n"
		    "Auth-Pass: \r\n"
		    "Auth-Protocol: smtp\r\n"
		    "Auth-Login-Attempt: 1\r\n"
		    "Client-IP: 192.0.2.1\r\n"
		    "Client-Host: client.example.net\r\n"
		    "Auth-SMTP-Helo: \r\n"
		    "Auth-SMTP-From: MAIL FROM:<a@example.net> SIZE=100\r\n"
		    "Auth-SMTP-To: RCPT TO:<b@example.com>\r\n"
		    "\r\n");
}

/* Header injection through the credentials: everything that could end or
 * split a header comes out %-escaped. */
TEST(auth_http_req_escaping)
{
	static const struct {
		struct mp_str user, pass;
		const char *want_user, *want_pass;
	} rows[] = {
		{ S("alice"), S("p w"), "alice", "p%20w" },
		{ S("a%b"), S("100%"), "a%25b", "100%25" },
		{ S("alice\r\nAuth-Status: OK"), S("x\r\n\r\nGET / HTTP/1.0"),
		  "alice%0D%0AAuth-Status:%20OK", "x%0D%0A%0D%0AGET%20/%20HTTP/1.0" },
		{ S("a\0b"), S("\x01\x1f\x7f"), "a%00b", "%01%1F%7F" },
		{ S("\xc3\xa9l\xc3\xa8ve"), S("p\xe4ss"), "\xc3\xa9l\xc3\xa8ve", "p\xe4ss" },
		{ S("\t"), S("~!\"#$&'()*+,/:;<=>?@[\\]^_`{|}"), "%09",
		  "~!\"#$&'()*+,/:;<=>?@[\\]^_`{|}" },
	};
	for (size_t i = 0; i < MP_ARRAY_LEN(rows); i++) {
		struct auth_http_req r = base_req();
		char want[1024];
		r.user = rows[i].user;
		r.pass = rows[i].pass;
		snprintf(want, sizeof(want),
			 "GET /auth HTTP/1.0\r\nHost: localhost\r\nAuth-Method: plain\r\n"
			 "Auth-User: %s\r\nAuth-Pass: %s\r\nAuth-Protocol: imap\r\n"
			 "Auth-Login-Attempt: 1\r\nClient-IP: 192.0.2.1\r\n\r\n",
			 rows[i].want_user, rows[i].want_pass);
		check_build(&r, MP_OK, want);
	}
}

/* Verbatim values with a control byte: refused, nothing emitted. */
TEST(auth_http_req_injection_refused)
{
	static const struct conf_header bad_name[] = { { "X-Bad:", "v" } };
	static const struct conf_header bad_name2[] = { { "X Bad", "v" } };
	static const struct conf_header bad_name3[] = { { "", "v" } };
	static const struct conf_header bad_value[] = { { "X-Ok", "v\r\nX-Evil: 1" } };
	static const struct conf_header null_value[] = { { "X-Ok", NULL } };
	static const struct conf_header good[] = { { "X-Ok", "v" } };
	enum { F_HELO, F_FROM, F_TO, F_HOST, F_SALT, F_IP, F_PP, F_SUBJ, F_URI, F_HOSTH,
	       F_METHOD, F_EXTRA } f;
	static const struct {
		int field;
		struct mp_str v;
		const struct conf_header *extra;
	} rows[] = {
		{ F_HELO, S("x\r\nAuth-Status: OK"), NULL },
		{ F_FROM, S("MAIL FROM:<a@b>\r\nX: y"), NULL },
		{ F_FROM, S("MAIL FROM:<a@b>\n"), NULL },
		{ F_FROM, S("MAIL FROM:<a\0@b>"), NULL },
		{ F_FROM, S("MAIL FROM:<a\r@b>"), NULL },
		{ F_TO, S("RCPT TO:<a@b>\x7f"), NULL },
		{ F_TO, S("RCPT TO:<a@b>\x0b"), NULL },
		{ F_HOST, S("evil.example\r\nAuth-User: root"), NULL },
		{ F_SALT, S("<1.2@x>\r\n"), NULL },
		{ F_IP, S("1.2.3.4\n"), NULL },
		{ F_PP, S("1.2.3.4\0"), NULL },
		{ F_SUBJ, S("CN=a\r\nAuth-Status: OK"), NULL },
		{ F_URI, S("/auth x"), NULL },
		{ F_URI, S("/auth\r\n"), NULL },
		{ F_URI, S(""), NULL },
		{ F_URI, S("/\xc3\xa9"), NULL },
		{ F_HOSTH, S("localhost\r\nX: y"), NULL },
		{ F_METHOD, S("plain\n"), NULL },
		{ F_EXTRA, S(""), bad_name },
		{ F_EXTRA, S(""), bad_name2 },
		{ F_EXTRA, S(""), bad_name3 },
		{ F_EXTRA, S(""), bad_value },
		{ F_EXTRA, S(""), null_value },
	};
	for (size_t i = 0; i < MP_ARRAY_LEN(rows); i++) {
		struct auth_http_req r = base_req();
		r.method = S("none");
		r.protocol = S("smtp");
		r.ssl = true;
		r.extra = good;
		r.nextra = 1;
		f = rows[i].field;
		switch (f) {
		case F_HELO: r.smtp_helo = rows[i].v; break;
		case F_FROM: r.smtp_from = rows[i].v; break;
		case F_TO: r.smtp_to = rows[i].v; break;
		case F_HOST: r.client_host = rows[i].v; break;
		case F_SALT: r.salt = rows[i].v; break;
		case F_IP: r.client_ip = rows[i].v; break;
		case F_PP: r.pp_addr = rows[i].v; break;
		case F_SUBJ: r.ssl_subject = rows[i].v; break;
		case F_URI: r.uri = rows[i].v; break;
		case F_HOSTH: r.host = rows[i].v; break;
		case F_METHOD: r.method = rows[i].v; break;
		case F_EXTRA: r.extra = rows[i].extra; break;
		}
		char out[2048];
		size_t len = 7;
		enum mp_status st = auth_http_build_request(&r, out, sizeof(out), &len);
		if (st != MP_INVALID) {
			char m[64];
			snprintf(m, sizeof(m), "row %zu accepted", i);
			t_fail(__FILE__, __LINE__, m);
		}
		CHECK_INT(len, 0);
	}
	/* A hostile envelope left over from an earlier attempt is not written
	 * (nor checked) when the method is not "none". */
	struct auth_http_req r = base_req();
	r.smtp_from = S("MAIL FROM:<a@b>\r\nAuth-Status: OK");
	char out[2048];
	size_t len;
	CHECK_INT(auth_http_build_request(&r, out, sizeof(out), &len), MP_OK);
	CHECK(memmem(out, len, "SMTP", 4) == NULL);
	/* extra with nextra > 0 but NULL array */
	r = base_req();
	r.nextra = 1;
	CHECK_INT(auth_http_build_request(&r, out, sizeof(out), &len), MP_INVALID);
}

/* ---- reply ------------------------------------------------------------ */

#define ABSENT ((const char *)0)
#define B(x) (x), sizeof(x) - 1
#define BAD_N(x) { .in = (x), .n = sizeof(x) - 1, .want = MP_INVALID }

struct reply_row {
	const char *in;
	size_t n; /* 0: strlen(in) */
	enum mp_status want;
	/* only for MP_OK */
	const char *status; /* ABSENT: no Auth-Status */
	int ok, wait;
	const char *server, *port, *user, *pass, *wait_time, *ecode, *esasl;
	int http_status;
	int keepalive;
	long long content_length; /* -1: no valid Content-Length */
	size_t header_len; /* 0: strlen(in) */
};

static const struct reply_row reply_rows[] = {
	/* nginx's documented success reply */
	{ "HTTP/1.0 200 OK\r\nAuth-Status: OK\r\nAuth-Server: 127.0.0.1\r\n"
	  "Auth-Port: 143\r\n\r\n", 0, MP_OK, "OK", 1, 0, "127.0.0.1", "143", NULL, NULL,
	  NULL, NULL, NULL, 200, 0, -1, 0 },
	/* no status line, bare LF, odd case, spaces and tabs around values */
	{ "auth-status:OK\nAUTH-SERVER: \t 10.0.0.1 \t\nauth-port:  110  \n"
	  "Auth-User: bob \nAuth-Pass:  s p \n\n", 0, MP_OK, "OK", 1, 0, "10.0.0.1", "110",
	  "bob", "s p", NULL, NULL, NULL, 0, 0, -1, 0 },
	/* failure text, wait, SMTP error code, SASL */
	{ "HTTP/1.0 200 OK\r\nAuth-Status: Invalid login or password\r\nAuth-Wait: 3\r\n"
	  "Auth-Error-Code: 535 5.7.8\r\nAuth-Error-SASL: eyJzdGF0dXMiOiI0MDEifQ==\r\n\r\n",
	  0, MP_OK, "Invalid login or password", 0, 0, NULL, NULL, NULL, NULL, "3",
	  "535 5.7.8", "eyJzdGF0dXMiOiI0MDEifQ==", 200, 0, -1, 0 },
	/* "OK" is case-sensitive in nginx: "ok" is an error text */
	{ "Auth-Status: ok\r\n\r\n", 0, MP_OK, "ok", 0, 0, NULL, NULL, NULL, NULL, NULL,
	  NULL, NULL, 0, 0, -1, 0 },
	{ "Auth-Status: WAIT\r\nAuth-Wait: 2\r\n\r\n", 0, MP_OK, "WAIT", 0, 1, NULL, NULL,
	  NULL, NULL, "2", NULL, NULL, 0, 0, -1, 0 },
	/* duplicated Auth-Status: an error wins, the last error text is kept */
	{ "Auth-Status: OK\r\nAuth-Status: Bad\r\n\r\n", 0, MP_OK, "Bad", 0, 0, NULL, NULL,
	  NULL, NULL, NULL, NULL, NULL, 0, 0, -1, 0 },
	{ "Auth-Status: Bad\r\nAuth-Status: OK\r\n\r\n", 0, MP_OK, "Bad", 0, 0, NULL, NULL,
	  NULL, NULL, NULL, NULL, NULL, 0, 0, -1, 0 },
	{ "Auth-Status: A\r\nAuth-Status: WAIT\r\nAuth-Status: B\r\n\r\n", 0, MP_OK, "B", 0,
	  0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, -1, 0 },
	{ "Auth-Status: WAIT\r\nAuth-Status: OK\r\n\r\n", 0, MP_OK, "WAIT", 0, 1, NULL, NULL,
	  NULL, NULL, NULL, NULL, NULL, 0, 0, -1, 0 },
	{ "Auth-Status: OK\r\nAuth-Status: OK\r\n\r\n", 0, MP_OK, "OK", 1, 0, NULL, NULL,
	  NULL, NULL, NULL, NULL, NULL, 0, 0, -1, 0 },
	/* an empty status text is an error too */
	{ "Auth-Status:\r\nAuth-Server: 1.2.3.4\r\n\r\n", 0, MP_OK, "", 0, 0, "1.2.3.4",
	  NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, -1, 0 },
	/* no Auth-Status: fail closed even with a backend */
	{ "Auth-Server: 1.2.3.4\r\nAuth-Port: 143\r\n\r\n", 0, MP_OK, ABSENT, 0, 0,
	  "1.2.3.4", "143", NULL, NULL, NULL, NULL, NULL, 0, 0, -1, 0 },
	/* empty header, only a blank line */
	{ "\r\n", 0, MP_OK, ABSENT, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0,
	  -1, 0 },
	{ "\n", 0, MP_OK, ABSENT, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, -1,
	  0 },
	/* empty Auth-Pass is present */
	{ "Auth-Status: OK\r\nAuth-Pass:\r\n\r\n", 0, MP_OK, "OK", 1, 0, NULL, NULL, NULL,
	  "", NULL, NULL, NULL, 0, 0, -1, 0 },
	/* body not looked at; header_len excludes it */
	{ B("Auth-Status: OK\r\n\r\n\0\r\rgarbage"), MP_OK, "OK", 1, 0, NULL, NULL, NULL,
	  NULL, NULL, NULL, NULL, 0, 0, -1, 19 },
	/* a status line nginx skips: anything after "HTTP/" */
	{ "HTTP/garbage: x\r\nAuth-Status: OK\r\n\r\n", 0, MP_OK, "OK", 1, 0, NULL, NULL,
	  NULL, NULL, NULL, NULL, NULL, 0, 0, -1, 0 },
	{ "HTTP/1.1 404 Not Found\r\n\r\n", 0, MP_OK, ABSENT, 0, 0, NULL, NULL, NULL, NULL,
	  NULL, NULL, NULL, 404, 0, -1, 0 },
	{ "HTTP/1.1 200\r\n\r\n", 0, MP_OK, ABSENT, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL,
	  NULL, 200, 0, -1, 0 },
	{ "HTTP/1.1 2000 x\r\n\r\n", 0, MP_OK, ABSENT, 0, 0, NULL, NULL, NULL, NULL, NULL,
	  NULL, NULL, 0, 0, -1, 0 },
	/* unknown headers ignored, control bytes and 8-bit kept (value_safe decides) */
	{ "X-Foo: \x01\x02\r\nAuth-Status: \xc3\xa9" "chec \x1b[31m\r\n\r\n", 0, MP_OK,
	  "\xc3\xa9" "chec \x1b[31m", 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, -1,
	  0 },
	/* token characters nginx would refuse are accepted in names */
	{ "X_Foo!#$%&'*+.^`|~: 1\r\nAuth-Status: OK\r\n\r\n", 0, MP_OK, "OK", 1, 0, NULL,
	  NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, -1, 0 },

	/* keep-alive */
	{ "HTTP/1.1 200 OK\r\nAuth-Status: OK\r\nContent-Length: 0\r\n\r\n", 0, MP_OK, "OK",
	  1, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 200, 1, 0, 0 },
	{ "HTTP/1.1 200 OK\r\nAuth-Status: OK\r\n\r\n", 0, MP_OK, "OK", 1, 0, NULL, NULL,
	  NULL, NULL, NULL, NULL, NULL, 200, 0, -1, 0 },
	{ "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\n", 0, MP_OK, ABSENT, 0, 0, NULL,
	  NULL, NULL, NULL, NULL, NULL, NULL, 200, 1, -1, 0 },
	{ "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", 0, MP_OK,
	  ABSENT, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 200, 0, 0, 0 },
	{ "HTTP/1.1 200 OK\r\nConnection: foo, CLOSE\r\nConnection: keep-alive\r\n"
	  "Content-Length: 0\r\n\r\n", 0, MP_OK, ABSENT, 0, 0, NULL, NULL, NULL, NULL, NULL,
	  NULL, NULL, 200, 0, 0, 0 },
	{ "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 0, MP_OK, ABSENT, 0, 0, NULL, NULL,
	  NULL, NULL, NULL, NULL, NULL, 200, 0, 0, 0 },
	{ "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 5\r\n\r\nhello", 0,
	  MP_OK, ABSENT, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 200, 1, 5, 62 },
	{ "HTTP/1.0 200 OK\r\nConnection: te,keep-alive\r\n\r\n", 0, MP_OK, ABSENT, 0, 0,
	  NULL, NULL, NULL, NULL, NULL, NULL, NULL, 200, 1, -1, 0 },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n", 0,
	  MP_OK, ABSENT, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 200, 0, 0, 0 },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 0, MP_OK,
	  ABSENT, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 200, 0, -1, 0 },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", 0, MP_OK,
	  ABSENT, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 200, 1, 5, 0 },
	{ "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 0, MP_OK, ABSENT, 0, 0, NULL,
	  NULL, NULL, NULL, NULL, NULL, NULL, 200, 0, -1, 0 },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n", 0, MP_OK,
	  ABSENT, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 200, 0, -1, 0 },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 65536\r\n\r\n", 0, MP_OK, ABSENT, 0, 0, NULL,
	  NULL, NULL, NULL, NULL, NULL, NULL, 200, 1, 65536, 0 },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 65537\r\n\r\n", 0, MP_OK, ABSENT, 0, 0, NULL,
	  NULL, NULL, NULL, NULL, NULL, NULL, 200, 0, 65537, 0 },
	{ "Content-Length: 0\r\nConnection: keep-alive\r\n\r\n", 0, MP_OK, ABSENT, 0, 0,
	  NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, 0, 0 },
	{ "HTTP/2 200\r\nContent-Length: 0\r\n\r\n", 0, MP_OK, ABSENT, 0, 0, NULL, NULL,
	  NULL, NULL, NULL, NULL, NULL, 0, 0, 0, 0 },

	/* hostile */
	{ .in = "Auth-Status: OK\r\nAuth-Server: 1.2.3.4\r\nAuth-Server: 5.6.7.8\r\n\r\n",
	  .want = MP_INVALID },
	{ .in = "Auth-Status: OK\r\nAuth-Port: 143\r\nauth-port: 25\r\n\r\n", .want = MP_INVALID },
	{ .in = "Auth-Status: OK\r\nAuth-User: a\r\nAuth-User: root\r\n\r\n", .want = MP_INVALID },
	{ .in = "Auth-Status: OK\r\nAuth-Pass: a\r\nAuth-Pass:\r\n\r\n", .want = MP_INVALID },
	BAD_N("Auth-Status: OK\r\nAuth-Pass: a\0b\r\n\r\n"),
	BAD_N("HTTP/1.0 200\0 OK\r\nAuth-Status: OK\r\n\r\n"),
	{ .in = "Auth-Status: OK\rAuth-Server: 1.2.3.4\r\n\r\n", .want = MP_INVALID },
	{ .in = "Auth-Status: OK\r\r\n\r\n", .want = MP_INVALID },
	{ .in = "Auth-Status: OK\r\n\r\r\n", .want = MP_INVALID },
	{ .in = "HTTP/1.0 200 OK\rX\r\n\r\n", .want = MP_INVALID },
	{ .in = "Auth-Status OK\r\n\r\n", .want = MP_INVALID },
	{ .in = "Auth-Status : OK\r\n\r\n", .want = MP_INVALID },
	{ .in = ": OK\r\n\r\n", .want = MP_INVALID },
	{ .in = "Auth-Status: OK\r\n continued\r\n\r\n", .want = MP_INVALID },
	{ .in = "Auth-Status: OK\r\n\tcontinued\r\n\r\n", .want = MP_INVALID },
	{ .in = "Auth(Status): OK\r\n\r\n", .want = MP_INVALID },
	{ .in = "http/1.0 200 OK\r\n\r\n", .want = MP_INVALID },
	{ .in = "Auth-Status: OK\r\nHTTP/1.0 200 OK\r\n\r\n", .want = MP_INVALID },
	{ .in = "\xff\xfe: x\r\n\r\n", .want = MP_INVALID },
	{ .in = "<html><body>It works!</body></html>\r\n\r\n", .want = MP_INVALID },
	/* incomplete */
	{ .in = "", .want = MP_AGAIN },
	{ .in = "HTTP/1.0 200 OK\r\nAuth-Status: OK\r\n", .want = MP_AGAIN },
	{ .in = "HTTP/1.0 200 OK\r\nAuth-Status: OK\r\n\r", .want = MP_AGAIN },
	{ .in = "Auth-Status: OK", .want = MP_AGAIN },
	/* errors show before the header is complete */
	BAD_N("Auth-Status: O\0"),
	{ .in = "Auth-Status: O\rK", .want = MP_INVALID },
};

static bool slice_is(struct mp_str s, const char *want)
{
	if (want == NULL) {
		return s.n == 0;
	}
	return s.n == strlen(want) && memcmp(s.p, want, s.n) == 0;
}

static void check_reply_fields(size_t i, const struct reply_row *row,
			       const struct auth_http_reply *r, size_t n)
{
	char m[128];
	snprintf(m, sizeof(m), "reply row %zu", i);
#define F(cond)                  \
	do {                     \
		if (!(cond)) {   \
			t_fail(__FILE__, __LINE__, m); \
			CHECK(cond); \
		}                \
	} while (0)
	F(r->has_status == (row->status != ABSENT));
	F(slice_is(r->status, row->status));
	F(r->ok == (row->ok != 0));
	F(r->wait == (row->wait != 0));
	F(slice_is(r->server, row->server));
	F(slice_is(r->port, row->port));
	F(slice_is(r->user, row->user));
	F(r->has_user == (row->user != NULL));
	F(slice_is(r->pass, row->pass));
	F(r->has_pass == (row->pass != NULL));
	F(slice_is(r->wait_time, row->wait_time));
	F(slice_is(r->error_code, row->ecode));
	F(slice_is(r->error_sasl, row->esasl));
	F(r->http_status == row->http_status);
	F(r->keepalive == (row->keepalive != 0));
	F(r->has_content_length == (row->content_length >= 0));
	F(row->content_length < 0 || r->content_length == (uint64_t)row->content_length);
	F(r->header_len == (row->header_len ? row->header_len : n));
#undef F
}

TEST(auth_http_reply_table)
{
	for (size_t i = 0; i < MP_ARRAY_LEN(reply_rows); i++) {
		const struct reply_row *row = &reply_rows[i];
		size_t n = row->n ? row->n : strlen(row->in);
		struct auth_http_reply r;
		const char *g = t_guarded(row->in, n);
		enum mp_status st = auth_http_parse_reply(g, n, &r);
		if (st != row->want) {
			char m[160];
			snprintf(m, sizeof(m), "reply row %zu: got %d want %d", i, st, row->want);
			t_fail(__FILE__, __LINE__, m);
			continue;
		}
		if (st == MP_OK) {
			check_reply_fields(i, row, &r, n);
		}
		/* Every prefix (the reply split at each offset and fed again):
		 * MP_AGAIN until complete; for bad input MP_AGAIN then MP_INVALID,
		 * never back. */
		size_t stop = st == MP_OK ? r.header_len : n;
		bool bad = false;
		for (size_t k = 0; k < stop; k++) {
			struct auth_http_reply r2;
			memset(&r2, 0xa5, sizeof(r2));
			g = t_guarded(row->in, k);
			enum mp_status s2 = auth_http_parse_reply(g, k, &r2);
			bool fine = s2 == MP_AGAIN || (row->want == MP_INVALID && s2 == MP_INVALID);
			if (bad && s2 != MP_INVALID) {
				fine = false;
			}
			if (s2 == MP_INVALID) {
				bad = true;
			}
			if (!fine) {
				char m[160];
				snprintf(m, sizeof(m), "reply row %zu prefix %zu: got %d", i, k, s2);
				t_fail(__FILE__, __LINE__, m);
				break;
			}
		}
	}
}

/* The limit: the header (blank line included) may be exactly
 * AUTH_HTTP_REPLY_MAX bytes long. */
static size_t fill_reply(char *buf, size_t header_len, bool crlf_end)
{
	/* "Auth-Status: OK\r\nX: aaaa...\r\n\r\n" */
	const char *head = "Auth-Status: OK\r\nX: ";
	const char *tail = crlf_end ? "\r\n\r\n" : "\n\n";
	size_t hn = strlen(head), tn = strlen(tail);
	memcpy(buf, head, hn);
	memset(buf + hn, 'a', header_len - hn - tn);
	memcpy(buf + header_len - tn, tail, tn);
	memcpy(buf + header_len, "BODYBODY", 8);
	return header_len + 8;
}

TEST(auth_http_reply_limits)
{
	static char buf[AUTH_HTTP_REPLY_MAX + 64];
	struct auth_http_reply r;
	for (int crlf = 0; crlf < 2; crlf++) {
		for (size_t hl = AUTH_HTTP_REPLY_MAX - 2; hl <= AUTH_HTTP_REPLY_MAX + 2; hl++) {
			size_t n = fill_reply(buf, hl, crlf);
			enum mp_status want = hl <= AUTH_HTTP_REPLY_MAX ? MP_OK : MP_TOOLONG;
			CHECK_INT(auth_http_parse_reply(t_guarded(buf, n), n, &r), want);
			if (want == MP_OK) {
				CHECK_INT(r.header_len, hl);
				CHECK(r.ok);
			}
			/* the header alone, and one byte short of it */
			CHECK_INT(auth_http_parse_reply(t_guarded(buf, hl), hl, &r), want);
			enum mp_status short_want = hl - 1 < AUTH_HTTP_REPLY_MAX ? MP_AGAIN : MP_TOOLONG;
			CHECK_INT(auth_http_parse_reply(t_guarded(buf, hl - 1), hl - 1, &r),
				  short_want);
		}
	}
	/* no blank line at all: max-1 again, max and max+1 too long */
	memset(buf, 0, sizeof(buf));
	fill_reply(buf, AUTH_HTTP_REPLY_MAX + 40, true);
	CHECK_INT(auth_http_parse_reply(t_guarded(buf, AUTH_HTTP_REPLY_MAX - 1),
					AUTH_HTTP_REPLY_MAX - 1, &r), MP_AGAIN);
	CHECK_INT(auth_http_parse_reply(t_guarded(buf, AUTH_HTTP_REPLY_MAX),
					AUTH_HTTP_REPLY_MAX, &r), MP_TOOLONG);
	CHECK_INT(auth_http_parse_reply(t_guarded(buf, AUTH_HTTP_REPLY_MAX + 1),
					AUTH_HTTP_REPLY_MAX + 1, &r), MP_TOOLONG);
	/* CR as the last byte within the limit, LF just past it */
	memset(buf, 'a', sizeof(buf));
	memcpy(buf, "Auth-Status: OK\r\nX: ", 20);
	memcpy(buf + AUTH_HTTP_REPLY_MAX - 3, "\r\n\r\n", 4);
	CHECK_INT(auth_http_parse_reply(t_guarded(buf, AUTH_HTTP_REPLY_MAX + 1),
					AUTH_HTTP_REPLY_MAX + 1, &r), MP_TOOLONG);
	CHECK_INT(auth_http_parse_reply(t_guarded(buf, AUTH_HTTP_REPLY_MAX),
					AUTH_HTTP_REPLY_MAX, &r), MP_TOOLONG);
	CHECK_INT(auth_http_parse_reply(t_guarded(buf, AUTH_HTTP_REPLY_MAX - 1),
					AUTH_HTTP_REPLY_MAX - 1, &r), MP_AGAIN);
	/* a NUL inside the limit is reported, not "too long" */
	buf[100] = '\0';
	CHECK_INT(auth_http_parse_reply(t_guarded(buf, AUTH_HTTP_REPLY_MAX + 10),
					AUTH_HTTP_REPLY_MAX + 10, &r), MP_INVALID);
}

/* *out is untouched unless MP_OK. */
TEST(auth_http_reply_publish_on_success)
{
	struct auth_http_reply r, before;
	memset(&r, 0x5a, sizeof(r));
	before = r;
	const char *bad = "Auth-Status: OK\r\nAuth-Server: a\r\nAuth-Server: b\r\n\r\n";
	CHECK_INT(auth_http_parse_reply(bad, strlen(bad), &r), MP_INVALID);
	CHECK(memcmp(&r, &before, sizeof(r)) == 0);
	CHECK_INT(auth_http_parse_reply(bad, 10, &r), MP_AGAIN);
	CHECK(memcmp(&r, &before, sizeof(r)) == 0);
}

/* What the builder writes, the parser of a request would see as headers:
 * make sure an escaped injection attempt stays inside Auth-User by parsing
 * the request's header lines with the reply parser (same line rules). */
TEST(auth_http_req_roundtrip_lines)
{
	struct auth_http_req r = base_req();
	r.user = S("x\r\nAuth-Status: OK\r\nAuth-Server: 6.6.6.6\r\n");
	r.pass = S("\n\nAuth-Pass: y");
	char out[2048];
	size_t len;
	CHECK_INT(auth_http_build_request(&r, out, sizeof(out), &len), MP_OK);
	/* skip the request line: the reply parser only skips "HTTP/" lines */
	const char *h = memchr(out, '\n', len) + 1;
	struct auth_http_reply rep;
	CHECK_INT(auth_http_parse_reply(h, len - (size_t)(h - out), &rep), MP_OK);
	CHECK(!rep.has_status);
	CHECK(rep.server.n == 0);
	CHECK(rep.has_user && rep.has_pass);
	CHECK(slice_is(rep.user, "x%0D%0AAuth-Status:%20OK%0D%0AAuth-Server:%206.6.6.6%0D%0A"));
	CHECK(slice_is(rep.pass, "%0A%0AAuth-Pass:%20y"));
}

TEST(auth_http_reply_port_values)
{
	static const struct {
		struct mp_str in;
		enum mp_status want;
		unsigned v;
	} rows[] = {
		{ S("143"), MP_OK, 143 },     { S("1"), MP_OK, 1 },
		{ S("65535"), MP_OK, 65535 }, { S("00143"), MP_OK, 143 },
		{ S("0"), MP_INVALID, 0 },    { S("65536"), MP_INVALID, 0 },
		{ S(""), MP_INVALID, 0 },     { S("+1"), MP_INVALID, 0 },
		{ S("-1"), MP_INVALID, 0 },   { S("1 "), MP_INVALID, 0 },
		{ S("0x10"), MP_INVALID, 0 }, { S("99999999999999999999999"), MP_INVALID, 0 },
		{ S("14\0003"), MP_INVALID, 0 },
	};
	for (size_t i = 0; i < MP_ARRAY_LEN(rows); i++) {
		uint16_t v = 7;
		CHECK_INT(auth_http_reply_port(rows[i].in, &v), rows[i].want);
		CHECK_INT(v, rows[i].want == MP_OK ? rows[i].v : 7);
	}
}

TEST(auth_http_value_safe_values)
{
	CHECK(auth_http_value_safe(S("")));
	CHECK(auth_http_value_safe(S("Invalid login or password")));
	CHECK(auth_http_value_safe(S("\xc3\xa9")));
	CHECK(!auth_http_value_safe(S("a\tb")));
	CHECK(!auth_http_value_safe(S("a\x7f")));
	CHECK(!auth_http_value_safe(S("\x1b[31m")));
	CHECK(!auth_http_value_safe(S("a\0")));
	CHECK(!auth_http_value_safe(S("a\r\nb")));
}
