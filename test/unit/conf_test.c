/*
 * conf_load() end to end: every directive's happy path and error path (with
 * nginx's exact message), inheritance mail -> server, listen forms, protocol
 * inference, includes, -g, -T. Configurations are written to a private
 * temporary directory; host names come from a hosts file written there too.
 */
#include "t.h"

#include "../../conf/conf_int.h"
#include "../../core/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char tdir[256];     /* ends in '/' */
static char conf_path[300];
static char created[64][300];
static size_t ncreated;
static char notes[8192];

static void cleanup(void)
{
	for (size_t i = ncreated; i > 0; i--) {
		if (unlink(created[i - 1]) != 0) {
			rmdir(created[i - 1]);
		}
	}
	if (tdir[0] != '\0') {
		rmdir(tdir);
	}
}

static void remember(const char *path)
{
	for (size_t i = 0; i < ncreated; i++) {
		if (strcmp(created[i], path) == 0) {
			return;
		}
	}
	if (ncreated < MP_ARRAY_LEN(created)) {
		snprintf(created[ncreated++], sizeof(created[0]), "%s", path);
	}
}

/* Write a file under the test directory (name relative to it). */
static void put(const char *name, const char *text)
{
	char path[300];
	snprintf(path, sizeof(path), "%s%s", tdir, name);
	FILE *f = fopen(path, "w");
	if (f == NULL) {
		t_fail(__FILE__, __LINE__, path);
		return;
	}
	fputs(text, f);
	fclose(f);
	remember(path);
}

static void put_dir(const char *name)
{
	char path[300];
	snprintf(path, sizeof(path), "%s%s", tdir, name);
	mkdir(path, 0700);
	remember(path);
}

static void setup(void)
{
	if (tdir[0] != '\0') {
		return;
	}
	char tmpl[] = "/tmp/mproxy-conf-test.XXXXXX";
	if (mkdtemp(tmpl) == NULL) {
		abort();
	}
	snprintf(tdir, sizeof(tdir), "%s/", tmpl);
	snprintf(conf_path, sizeof(conf_path), "%smproxy.conf", tdir);
	atexit(cleanup);
	put("hosts", "127.0.0.1 localhost\n"
		     "10.1.2.3 auth.test\n"
		     "192.0.2.1 multi.test\n"
		     "192.0.2.2 multi.test\n"
		     "::1 ip6.test\n");
}

static void on_notice(int level, const char *msg)
{
	size_t o = strlen(notes);
	snprintf(notes + o, sizeof(notes) - o, "%d:%s\n", level, msg);
}

static struct conf *load_g(const char *text, const char *g, char *err, size_t errcap)
{
	setup();
	put("mproxy.conf", text);
	char hosts[300];
	snprintf(hosts, sizeof(hosts), "%shosts", tdir);
	struct conf_opts o = { conf_path, tdir, g };
	struct conf_load_ex ex;
	memset(&ex, 0, sizeof(ex));
	ex.opts = &o;
	ex.hosts_file = hosts;
	ex.hostname = "mx.test";
	ex.no_user_lookup = true;
	notes[0] = '\0';
	return conf_load_ex(&ex, err, errcap, on_notice);
}

static struct conf *load(const char *text)
{
	char err[1024];
	struct conf *c = load_g(text, NULL, err, sizeof(err));
	if (c == NULL) {
		char m[1200];
		snprintf(m, sizeof(m), "load failed: %s", err);
		t_fail(__FILE__, __LINE__, m);
	}
	return c;
}

/* "{F}" in want stands for the configuration file, "{D}" for the test directory. */
static void expand(const char *want, char *out, size_t cap)
{
	size_t o = 0;
	while (*want != '\0' && o + 1 < cap) {
		const char *rep = strncmp(want, "{F}", 3) == 0 ? conf_path
				  : strncmp(want, "{D}", 3) == 0 ? tdir
								 : NULL;
		if (rep != NULL) {
			o += (size_t)snprintf(out + o, cap - o, "%s", rep);
			want += 3;
		} else {
			out[o++] = *want++;
		}
	}
	out[MP_MIN(o, cap - 1)] = '\0';
}

static void check_error(const char *file, int line, const char *text, const char *g,
			const char *want)
{
	char err[1024], exp[1024];
	expand(want, exp, sizeof(exp));
	struct conf *c = load_g(text, g, err, sizeof(err));
	if (c != NULL) {
		char m[1400];
		snprintf(m, sizeof(m), "loaded, wanted error \"%s\" for: %s", exp, text);
		t_fail(file, line, m);
		conf_free(c);
		return;
	}
	if (strcmp(err, exp) != 0) {
		char m[3000];
		snprintf(m, sizeof(m), "config: %s\n      got:  %s\n      want: %s", text, err, exp);
		t_fail(file, line, m);
	}
}

/* CHECK_STR for long texts: the message shows the start of both. */
static void check_text(const char *file, int line, const char *got, const char *want)
{
	if (strcmp(got, want) != 0) {
		char m[1024];
		snprintf(m, sizeof(m), "got \"%.450s\" want \"%.450s\"", got, want);
		t_fail(file, line, m);
	}
}

#define CHECK_TEXT(got, want) check_text(__FILE__, __LINE__, (got), (want))

static void addr_text(const struct mp_addr *a, char *out, size_t cap)
{
	net_addr_text(a, out, cap);
}

/* ---- error paths, one row each --------------------------------------------- */

#define AH "auth_http 127.0.0.1:9/a; "
#define SRV143 "server { listen 143; } "

struct err_case {
	const char *text;
	const char *want;
};

static const struct err_case err_cases[] = {
	/* parser and lexer */
	{ "foo;", "unknown directive \"foo\" in {F}:1" },
	{ "mail { foo; }", "unknown directive \"foo\" in {F}:1" },
	{ "mail {\n" AH "\nserver {\nlisten 143;\nfoo bar;\n}\n}", "unknown directive \"foo\" in {F}:5" },
	{ "listen 143;", "\"listen\" directive is not allowed here in {F}:1" },
	{ "mail { listen 143; }", "\"listen\" directive is not allowed here in {F}:1" },
	{ "mail { " AH "server { listen 143; server {} } }",
	  "\"server\" directive is not allowed here in {F}:1" },
	{ "events { mail {} }", "\"mail\" directive is not allowed here in {F}:1" },
	{ "mail { worker_processes 1; }", "\"worker_processes\" directive is not allowed here in {F}:1" },
	{ "mail { location / {} }", "\"location\" directive is not allowed here in {F}:1" },
	{ "mail { } }", "unexpected \"}\" in {F}:1" },
	{ "mail {", "unexpected end of file, expecting \"}\" in {F}:1" },
	{ "mail {\n", "unexpected end of file, expecting \"}\" in {F}:2" },
	{ "mail { timeout 1s", "unexpected end of file, expecting \";\" or \"}\" in {F}:1" },
	{ "mail { timeout \"1s", "unexpected end of file, expecting \";\" or \"}\" in {F}:1" },
	{ "mail { timeout 1s\"; }", "\"timeout\" directive invalid value in {F}:1" },
	{ "mail { a\"b; }", "unknown directive \"a\"b\" in {F}:1" },
	{ "mail { auth_http \"127.0.0.1:9/a\"x; }", "unexpected \"x\" in {F}:1" },
	{ "mail { " AH SRV143 "} x", "unexpected end of file, expecting \";\" or \"}\" in {F}:1" },
	{ "mail { " AH SRV143 "} ;", "unexpected \";\" in {F}:1" },
	{ "{", "unexpected \"{\" in {F}:1" },
	{ "mail { " AH "server { listen 143 } } }", "unexpected \"}\" in {F}:1" },
	{ "mail;", "directive \"mail\" has no opening \"{\" in {F}:1" },
	{ "mail { " AH "server; }", "directive \"server\" has no opening \"{\" in {F}:1" },
	{ "mail { timeout 1s { } }", "directive \"timeout\" is not terminated by \";\" in {F}:1" },
	{ "mail { " AH "server x { listen 143; } }",
	  "invalid number of arguments in \"server\" directive in {F}:1" },
	{ "mail x { }", "invalid number of arguments in \"mail\" directive in {F}:1" },
	{ "mail {}\nmail {}", "\"mail\" directive is duplicate in {F}:2" },
	{ "events {}\nevents {}", "\"events\" directive is duplicate in {F}:2" },
	{ "http {}\nhttp {}", "\"http\" directive is duplicate in {F}:2" },
	{ "stream {} stream {}", "\"stream\" directive is duplicate in {F}:1" },
	{ "http { a { b { c;", "unexpected end of file, expecting \"}\" in {F}:1" },
	{ "http { a; } }", "unexpected \"}\" in {F}:1" },
	{ "http { a \"b }", "unexpected end of file, expecting \";\" or \"}\" in {F}:1" },
	{ "http { include a b; }", "invalid number of arguments in \"include\" directive in {F}:1" },
	{ "http { include x { } }", "directive \"include\" is not terminated by \";\" in {F}:1" },

	/* include */
	{ "include nonexistent.conf;",
	  "open() \"{D}nonexistent.conf\" failed (2: No such file or directory) in {F}:1" },
	{ "mail {\n include /nonexistent/inc.conf; }",
	  "open() \"/nonexistent/inc.conf\" failed (2: No such file or directory) in {F}:2" },
	{ "include;", "invalid number of arguments in \"include\" directive in {F}:1" },
	{ "include a b;", "invalid number of arguments in \"include\" directive in {F}:1" },
	{ "mail { " AH "include inc/close.conf; }", "unexpected \"}\" in {D}inc/close.conf:1" },
	{ "mail { " AH "include inc/noterm.conf; }",
	  "unexpected end of file, expecting \";\" or \"}\" in {D}inc/noterm.conf:2" },
	{ "include inc/open.conf;\n}", "unexpected end of file, expecting \"}\" in {D}inc/open.conf:2" },
	{ "mail { " AH SRV143 "}\ninclude inc/self.conf;",
	  "too deep nesting of blocks and includes (more than 32) in {D}inc/self.conf:1" },
	{ "include inc;", "read() \"{D}inc\" failed (21: Is a directory) in {F}:1" },

	/* generic slots */
	{ "mail { timeout; }", "invalid number of arguments in \"timeout\" directive in {F}:1" },
	{ "mail { timeout 1s 2s; }", "invalid number of arguments in \"timeout\" directive in {F}:1" },
	{ "mail { timeout 1s; timeout 2s; }", "\"timeout\" directive is duplicate in {F}:1" },
	{ "mail { timeout abc; }", "\"timeout\" directive invalid value in {F}:1" },
	{ "mail { timeout 1y; }", "\"timeout\" directive invalid value in {F}:1" },
	{ "mail { timeout \"5 s\"; }", "\"timeout\" directive invalid value in {F}:1" },
	{ "mail { timeout 9223372036854776; }", "\"timeout\" directive invalid value in {F}:1" },
	{ "mail { proxy_timeout x; }", "\"proxy_timeout\" directive invalid value in {F}:1" },
	{ "mail { resolver_timeout 1x; }", "\"resolver_timeout\" directive invalid value in {F}:1" },
	{ "mail { auth_http_timeout x; }", "\"auth_http_timeout\" directive invalid value in {F}:1" },
	{ "mail { smtp_greeting_delay x; }", "\"smtp_greeting_delay\" directive invalid value in {F}:1" },
	{ "mail { xclient x; }",
	  "invalid value \"x\" in \"xclient\" directive, it must be \"on\" or \"off\" in {F}:1" },
	{ "mail { xclient on off; }", "invalid number of arguments in \"xclient\" directive in {F}:1" },
	{ "mail { xclient on; xclient off; }", "\"xclient\" directive is duplicate in {F}:1" },
	{ "mail { proxy yes; }",
	  "invalid value \"yes\" in \"proxy\" directive, it must be \"on\" or \"off\" in {F}:1" },
	{ "mail { proxy_pass_error_message 1; }",
	  "invalid value \"1\" in \"proxy_pass_error_message\" directive, it must be \"on\" or \"off\" in {F}:1" },
	{ "mail { proxy_smtp_auth x; }",
	  "invalid value \"x\" in \"proxy_smtp_auth\" directive, it must be \"on\" or \"off\" in {F}:1" },
	{ "mail { auth_http_pass_client_cert maybe; }",
	  "invalid value \"maybe\" in \"auth_http_pass_client_cert\" directive, it must be \"on\" or \"off\" in {F}:1" },
	{ "mail { proxy_client_id x; }",
	  "invalid value \"x\" in \"proxy_client_id\" directive, it must be \"on\" or \"off\" in {F}:1" },
	{ "mail { ssl_prefer_server_ciphers x; }",
	  "invalid value \"x\" in \"ssl_prefer_server_ciphers\" directive, it must be \"on\" or \"off\" in {F}:1" },
	{ "mail { ssl_session_tickets x; }",
	  "invalid value \"x\" in \"ssl_session_tickets\" directive, it must be \"on\" or \"off\" in {F}:1" },
	{ "mail { ssl_certificate_compression x; }",
	  "invalid value \"x\" in \"ssl_certificate_compression\" directive, it must be \"on\" or \"off\" in {F}:1" },
	{ "mail { proxy_ssl_verify x; }",
	  "invalid value \"x\" in \"proxy_ssl_verify\" directive, it must be \"on\" or \"off\" in {F}:1" },
	{ "mail { max_errors x; }", "\"max_errors\" directive invalid number in {F}:1" },
	{ "mail { max_errors -1; }", "\"max_errors\" directive invalid number in {F}:1" },
	{ "mail { max_errors 4294967296; }", "\"max_errors\" directive invalid number in {F}:1" },
	{ "mail { max_errors 3; max_errors 4; }", "\"max_errors\" directive is duplicate in {F}:1" },
	{ "mail { max_commands x; }", "\"max_commands\" directive invalid number in {F}:1" },
	{ "mail { ssl_verify_depth x; }", "\"ssl_verify_depth\" directive invalid number in {F}:1" },
	{ "mail { proxy_ssl_verify_depth x; }",
	  "\"proxy_ssl_verify_depth\" directive invalid number in {F}:1" },
	{ "mail { proxy_buffer x; }", "\"proxy_buffer\" directive invalid value in {F}:1" },
	{ "mail { proxy_buffer 4k; proxy_buffer 8k; }", "\"proxy_buffer\" directive is duplicate in {F}:1" },
	{ "mail { proxy_buffer 127; }", "\"proxy_buffer\" directive invalid value in {F}:1" },
	{ "mail { proxy_buffer 16385k; }", "\"proxy_buffer\" directive invalid value in {F}:1" },
	{ "mail { imap_client_buffer x; }", "\"imap_client_buffer\" directive invalid value in {F}:1" },
	{ "mail { pop3_client_buffer 1g; }", "\"pop3_client_buffer\" directive invalid value in {F}:1" },
	{ "mail { smtp_client_buffer 1k; smtp_client_buffer 2k; }",
	  "\"smtp_client_buffer\" directive is duplicate in {F}:1" },
	{ "mail { server_name a; server_name b; }", "\"server_name\" directive is duplicate in {F}:1" },
	{ "mail { server_name; }", "invalid number of arguments in \"server_name\" directive in {F}:1" },
	{ "mail { server_name \"a\\r\\nb\"; }", "invalid character in \"server_name\" directive in {F}:1" },
	{ "mail { ssl_ciphers a; ssl_ciphers b; }", "\"ssl_ciphers\" directive is duplicate in {F}:1" },
	{ "mail { ssl_ecdh_curve a; ssl_ecdh_curve b; }", "\"ssl_ecdh_curve\" directive is duplicate in {F}:1" },
	{ "mail { ssl_dhparam a; ssl_dhparam b; }", "\"ssl_dhparam\" directive is duplicate in {F}:1" },
	{ "mail { ssl_password_file a; ssl_password_file b; }",
	  "\"ssl_password_file\" directive is duplicate in {F}:1" },
	{ "mail { ssl_client_certificate a; ssl_client_certificate b; }",
	  "\"ssl_client_certificate\" directive is duplicate in {F}:1" },
	{ "mail { ssl_trusted_certificate a; ssl_trusted_certificate b; }",
	  "\"ssl_trusted_certificate\" directive is duplicate in {F}:1" },
	{ "mail { ssl_crl a; ssl_crl b; }", "\"ssl_crl\" directive is duplicate in {F}:1" },
	{ "mail { proxy_ssl_name a; proxy_ssl_name b; }", "\"proxy_ssl_name\" directive is duplicate in {F}:1" },
	{ "mail { proxy_ssl_trusted_certificate a; proxy_ssl_trusted_certificate b; }",
	  "\"proxy_ssl_trusted_certificate\" directive is duplicate in {F}:1" },
	{ "mail { ssl_session_timeout 1ms; }", "\"ssl_session_timeout\" directive invalid value in {F}:1" },
	{ "mail { ssl_conf_command a; }", "invalid number of arguments in \"ssl_conf_command\" directive in {F}:1" },
	{ "mail { ssl_certificate; }", "invalid number of arguments in \"ssl_certificate\" directive in {F}:1" },
	{ "mail { ssl_certificate_key a b; }",
	  "invalid number of arguments in \"ssl_certificate_key\" directive in {F}:1" },
	{ "mail { ssl_session_ticket_key; }",
	  "invalid number of arguments in \"ssl_session_ticket_key\" directive in {F}:1" },

	/* enums and bitmasks */
	{ "mail { imap_auth foo; }", "invalid value \"foo\" in {F}:1" },
	{ "mail { imap_auth; }", "invalid number of arguments in \"imap_auth\" directive in {F}:1" },
	{ "mail { imap_auth apop; }", "invalid value \"apop\" in {F}:1" },
	{ "mail { pop3_auth login; }", "invalid value \"login\" in {F}:1" },
	{ "mail { smtp_auth apop; }", "invalid value \"apop\" in {F}:1" },
	{ "mail { ssl_protocols TLSv1.2 TLSv9; }", "invalid value \"TLSv9\" in {F}:1" },
	{ "mail { ssl_verify_client maybe; }", "invalid value \"maybe\" in {F}:1" },
	{ "mail { ssl_verify_client on; ssl_verify_client off; }",
	  "\"ssl_verify_client\" directive is duplicate in {F}:1" },
	{ "mail { starttls foo; }", "invalid value \"foo\" in {F}:1" },
	{ "mail { starttls on; starttls off; }", "\"starttls\" directive is duplicate in {F}:1" },
	{ "mail { proxy_protocol x; }",
	  "invalid value \"x\" in \"proxy_protocol\" directive, it must be \"on\", \"off\" or \"v2\" in {F}:1" },
	{ "mail { proxy_protocol on; proxy_protocol off; }",
	  "\"proxy_protocol\" directive is duplicate in {F}:1" },
	{ "mail { proxy_ssl x; }",
	  "invalid value \"x\" in \"proxy_ssl\" directive, it must be \"on\", \"off\" or \"starttls\" in {F}:1" },
	{ "mail { imap_capabilities; }", "invalid number of arguments in \"imap_capabilities\" directive in {F}:1" },
	{ "mail { smtp_capabilities \"A\\nB\"; }", "invalid character in \"smtp_capabilities\" directive in {F}:1" },

	/* server blocks */
	{ "mail { server { listen 143; } }", "no \"auth_http\" is defined for server in {F}:1" },
	{ "mail {\n" AH "\nserver {\n}\n}", "no \"listen\" is defined for server in {F}:3" },
	{ "mail { " AH "server { protocol imap; } }", "no \"listen\" is defined for server in {F}:1" },
	{ "mail { " AH "server { listen 10143; } }", "unknown mail protocol for server in {F}:1" },
	{ "mail { " AH "server { listen 143; protocol foo; } }", "unknown protocol \"foo\" in {F}:1" },
	{ "mail { " AH "server { listen 143; protocol IMAP; } }", "unknown protocol \"IMAP\" in {F}:1" },
	{ "mail { " AH "server { listen 10143; protocol; } }",
	  "invalid number of arguments in \"protocol\" directive in {F}:1" },
	{ "mail { " AH "server { listen 10143; } server { listen 143; } }",
	  "unknown mail protocol for server in {F}:1" },
	/* protocol errors come before auth_http errors, as in nginx's merge order */
	{ "mail {\nserver { listen 143; }\nserver { listen 10143; }\n}",
	  "unknown mail protocol for server in {F}:3" },

	/* listen */
	{ "mail { " AH "server { listen 127.0.0.1:143; } server { listen 127.0.0.1:143; } }",
	  "duplicate \"127.0.0.1:143\" address and port pair in {F}:1" },
	{ "mail { " AH "server { listen 127.0.0.1:143; listen 127.0.0.1:143; } }",
	  "duplicate \"127.0.0.1:143\" address and port pair in {F}:1" },
	{ "mail { " AH "server { listen 143; } server { listen *:143; } }",
	  "duplicate \"0.0.0.0:143\" address and port pair in {F}:1" },
	{ "mail { " AH "server { listen 143; } server { listen 0.0.0.0:143; } }",
	  "duplicate \"0.0.0.0:143\" address and port pair in {F}:1" },
	{ "mail { " AH "server { listen [::1]:143; } server { listen [::1]:143; } }",
	  "duplicate \"[::1]:143\" address and port pair in {F}:1" },
	{ "mail { " AH "server { listen unix:/tmp/a.sock; protocol imap; } server { listen unix:/tmp/a.sock; protocol imap; } }",
	  "duplicate \"unix:/tmp/a.sock\" address and port pair in {F}:1" },
	{ "mail { " AH "server { listen 127.0.0.1:143; } server { listen localhost:143; } }",
	  "duplicate \"127.0.0.1:143\" address and port pair in {F}:1" },
	{ "mail { " AH "server { listen x:25; } }",
	  "host not found in \"x:25\" of the \"listen\" directive in {F}:1" },
	{ "mail { " AH "server { listen 127.0.0.1:0; } }",
	  "invalid port in \"127.0.0.1:0\" of the \"listen\" directive in {F}:1" },
	{ "mail { " AH "server { listen 127.0.0.1:65536; } }",
	  "invalid port in \"127.0.0.1:65536\" of the \"listen\" directive in {F}:1" },
	{ "mail { " AH "server { listen 70000; } }",
	  "invalid port in \"70000\" of the \"listen\" directive in {F}:1" },
	{ "mail { " AH "server { listen :143; } }", "no host in \":143\" of the \"listen\" directive in {F}:1" },
	{ "mail { " AH "server { listen 127.0.0.1; } }",
	  "no port in \"127.0.0.1\" of the \"listen\" directive in {F}:1" },
	{ "mail { " AH "server { listen [::1; } }", "invalid host in \"[::1\" of the \"listen\" directive in {F}:1" },
	{ "mail { " AH "server { listen [zz]:143; } }",
	  "invalid IPv6 address in \"[zz]:143\" of the \"listen\" directive in {F}:1" },
	{ "mail { " AH "server { listen 127.0.0.1:143/x; } }",
	  "invalid host in \"127.0.0.1:143/x\" of the \"listen\" directive in {F}:1" },
	{ "mail { " AH "server { listen unix:; } }",
	  "no path in the unix domain socket in \"unix:\" of the \"listen\" directive in {F}:1" },
	{ "mail { " AH "server { listen; } }", "invalid number of arguments in \"listen\" directive in {F}:1" },
	{ "mail { " AH "server { listen 143 foo; } }", "the invalid \"foo\" parameter in {F}:1" },
	{ "mail { " AH "server { listen 143 backlog=0; } }", "invalid backlog \"backlog=0\" in {F}:1" },
	{ "mail { " AH "server { listen 143 backlog=x; } }", "invalid backlog \"backlog=x\" in {F}:1" },
	{ "mail { " AH "server { listen 143 backlog=2147483648; } }",
	  "invalid backlog \"backlog=2147483648\" in {F}:1" },
	{ "mail { " AH "server { listen 143 rcvbuf=x; } }", "invalid rcvbuf \"rcvbuf=x\" in {F}:1" },
	{ "mail { " AH "server { listen 143 sndbuf=1g; } }", "invalid sndbuf \"sndbuf=1g\" in {F}:1" },
	{ "mail { " AH "server { listen 143 sndbuf=2048m; } }", "invalid sndbuf \"sndbuf=2048m\" in {F}:1" },
	{ "mail { " AH "server { listen [::]:143 ipv6only=ox; } }", "invalid ipv6only flags \"ox\" in {F}:1" },
	{ "mail { " AH "server { listen [::]:143 ipv6only=x; } }",
	  "the invalid \"ipv6only=x\" parameter in {F}:1" },
	{ "mail { " AH "server { listen 143 so_keepalive=::; } }",
	  "invalid so_keepalive value: \"::\" in {F}:1" },
	{ "mail { " AH "server { listen 143 so_keepalive=x; } }",
	  "invalid so_keepalive value: \"x\" in {F}:1" },
	{ "mail { " AH "server { listen 143 so_keepalive=1:2:x; } }",
	  "invalid so_keepalive value: \"1:2:x\" in {F}:1" },
	{ "mail { " AH "server { listen 143 so_keepalive=1ms; } }",
	  "invalid so_keepalive value: \"1ms\" in {F}:1" },

	/* ssl */
	{ "mail { " AH "server { listen 993 ssl; } }",
	  "no \"ssl_certificate\" is defined for the \"listen ... ssl\" directive in {F}:1" },
	{ "mail { " AH "ssl_certificate a.pem; server { listen 993 ssl; } }",
	  "no \"ssl_certificate_key\" is defined for the \"listen ... ssl\" directive in {F}:1" },
	{ "mail { " AH "ssl_certificate a.pem; ssl_certificate b.pem; ssl_certificate_key a.key;\n"
	  "server {\nlisten 993 ssl; } }",
	  "no \"ssl_certificate_key\" is defined for certificate \"b.pem\" and the \"listen ... ssl\" directive in {F}:3" },
	{ "mail { " AH "server { listen 143; starttls on; } }",
	  "no \"ssl_certificate\" is defined for the \"starttls\" directive in {F}:1" },
	{ "mail {\n" AH "starttls on;\n" SRV143 "}",
	  "no \"ssl_certificate\" is defined for the \"starttls\" directive in {F}:2" },
	{ "mail { " AH "server { listen 143; ssl on; } }",
	  "no \"ssl_certificate\" is defined for the \"ssl\" directive in {F}:1" },
	{ "mail { " AH "server { listen 143; ssl on; starttls on; } }",
	  "\"ssl\" directive conflicts with \"starttls\" in {F}:1" },
	{ "mail { " AH "server { listen 143; starttls on; ssl on; } }",
	  "\"starttls\" directive conflicts with \"ssl on\" in {F}:1" },
	{ "mail { " AH "ssl x; }", "invalid value \"x\" in \"ssl\" directive, it must be \"on\" or \"off\" in {F}:1" },
	{ "mail { " AH "server { listen 993 ssl; ssl_certificate a; ssl_certificate_key b; ssl_verify_client on; } }",
	  "no ssl_client_certificate or ssl_trusted_certificate for ssl_verify_client" },
	{ "mail { ssl_session_cache foo; }", "invalid session cache \"foo\" in {F}:1" },
	{ "mail { ssl_session_cache shared:SSL:1k; }", "session cache \"shared:SSL:1k\" is too small in {F}:1" },
	{ "mail { ssl_session_cache shared::10m; }", "invalid session cache \"shared::10m\" in {F}:1" },
	{ "mail { ssl_session_cache shared:SSL; }", "invalid session cache \"shared:SSL\" in {F}:1" },
	{ "mail { ssl_session_cache shared:SSL:x; }", "invalid session cache \"shared:SSL:x\" in {F}:1" },
	{ "mail { ssl_session_cache builtin:x; }", "invalid session cache \"builtin:x\" in {F}:1" },
	{ "mail { ssl_session_cache a b c; }", "invalid number of arguments in \"ssl_session_cache\" directive in {F}:1" },

	/* auth_http */
	{ "mail { auth_http https://a/x; }", "invalid port in auth_http \"https://a/x\" in {F}:1" },
	{ "mail { auth_http nosuch.invalid/x; }", "host not found in auth_http \"nosuch.invalid/x\" in {F}:1" },
	{ "mail { auth_http http://nosuch.invalid/x; }",
	  "host not found in auth_http \"nosuch.invalid/x\" in {F}:1" },
	{ "mail { auth_http 127.0.0.1:99999/x; }", "invalid port in auth_http \"127.0.0.1:99999/x\" in {F}:1" },
	{ "mail { auth_http unix:; }", "no path in the unix domain socket in auth_http \"unix:\" in {F}:1" },
	{ "mail { auth_http \"\"; }", "no host in auth_http \"\" in {F}:1" },
	{ "mail { auth_http \"127.0.0.1/a b\"; }", "invalid URI in auth_http \"127.0.0.1/a b\" in {F}:1" },
	{ "mail { auth_http; }", "invalid number of arguments in \"auth_http\" directive in {F}:1" },
	{ "mail { auth_http_header X-A; }", "invalid number of arguments in \"auth_http_header\" directive in {F}:1" },
	{ "mail { auth_http_header \"X A\" b; }",
	  "invalid header name \"X A\" in \"auth_http_header\" directive in {F}:1" },
	{ "mail { auth_http_header X-A \"b\\r\\nX-Evil: 1\"; }",
	  "invalid character in \"auth_http_header\" directive in {F}:1" },

	/* auth_backend */
	{ "mail { auth_backend; }", "invalid number of arguments in \"auth_backend\" directive in {F}:1" },
	{ "mail { auth_backend a; }", "invalid number of arguments in \"auth_backend\" directive in {F}:1" },
	{ "mail { auth_backend a 127.0.0.1:143 password=x y; }",
	  "invalid number of arguments in \"auth_backend\" directive in {F}:1" },
	{ "mail { auth_backend a localhost:143; }",
	  "invalid address \"localhost:143\" in \"auth_backend\" directive in {F}:1" },
	{ "mail { auth_backend a 127.0.0.1; }", "invalid address \"127.0.0.1\" in \"auth_backend\" directive in {F}:1" },
	{ "mail { auth_backend a ::1:143; }", "invalid address \"::1:143\" in \"auth_backend\" directive in {F}:1" },
	{ "mail { auth_backend a*b 127.0.0.1:143; }", "invalid user \"a*b\" in \"auth_backend\" directive in {F}:1" },
	{ "mail { auth_backend *@ 127.0.0.1:143; }", "invalid user \"*@\" in \"auth_backend\" directive in {F}:1" },
	{ "mail { auth_backend **@x 127.0.0.1:143; }", "invalid user \"**@x\" in \"auth_backend\" directive in {F}:1" },
	{ "mail { auth_backend *@a@b 127.0.0.1:143; }", "invalid user \"*@a@b\" in \"auth_backend\" directive in {F}:1" },
	{ "mail { auth_backend \"a b\" 127.0.0.1:143; }", "invalid user \"a b\" in \"auth_backend\" directive in {F}:1" },
	{ "mail { auth_backend \"\" 127.0.0.1:143; }", "invalid user \"\" in \"auth_backend\" directive in {F}:1" },
	{ "mail { auth_backend a 127.0.0.1:143 pass=x; }",
	  "invalid parameter \"pass=x\" in \"auth_backend\" directive in {F}:1" },
	{ "mail { auth_backend a 127.0.0.1:143 password=; }",
	  "invalid parameter \"password=\" in \"auth_backend\" directive in {F}:1" },
	{ "mail { auth_backend a 127.0.0.1:143; auth_backend A 127.0.0.1:144; }",
	  "duplicate user \"A\" in \"auth_backend\" directive in {F}:1" },

	/* resolver */
	{ "mail { resolver off; resolver off; }", "\"resolver\" directive is duplicate in {F}:1" },
	{ "mail { resolver 127.0.0.1 valid=x; }", "invalid parameter: valid=x in {F}:1" },
	{ "mail { resolver 127.0.0.1 ipv6=x; }", "invalid parameter: ipv6=x in {F}:1" },
	{ "mail { resolver 127.0.0.1 ipv4=off ipv6=off; }", "\"ipv4\" and \"ipv6\" cannot both be \"off\" in {F}:1" },
	{ "mail { resolver valid=30s; }", "no name servers defined in {F}:1" },
	{ "mail { resolver 127.0.0.1:x; }", "invalid port in resolver \"127.0.0.1:x\" in {F}:1" },
	{ "mail { resolver nosuch.invalid; }", "host not found in resolver \"nosuch.invalid\" in {F}:1" },
	{ "mail { resolver unix:/x; }", "invalid parameter: unix:/x in {F}:1" },
	{ "mail { resolver; }", "invalid number of arguments in \"resolver\" directive in {F}:1" },

	/* access, real ip */
	{ "mail { allow x; }", "invalid parameter \"x\" in {F}:1" },
	{ "mail { deny 10.0.0.0/33; }", "invalid parameter \"10.0.0.0/33\" in {F}:1" },
	{ "mail { allow; }", "invalid number of arguments in \"allow\" directive in {F}:1" },
	{ "mail { set_real_ip_from nosuch.invalid; }",
	  "host not found in set_real_ip_from \"nosuch.invalid\" in {F}:1" },
	{ "mail { set_real_ip_from 10.0.0.0/33; }", "host not found in set_real_ip_from \"10.0.0.0/33\" in {F}:1" },

	/* error_log */
	{ "mail { error_log /tmp/x.log foo; }", "invalid log level \"foo\" in {F}:1" },
	{ "mail { error_log /tmp/x.log info warn; }", "duplicate log level \"warn\" in {F}:1" },
	{ "mail { error_log /tmp/x.log debug_mail info; }", "duplicate log level \"info\" in {F}:1" },
	{ "mail { error_log /tmp/x.log info debug_mail; }", "invalid log level \"debug_mail\" in {F}:1" },
	{ "mail { error_log; }", "invalid number of arguments in \"error_log\" directive in {F}:1" },
	{ "error_log x err;", "invalid log level \"err\" in {F}:1" },
	{ "mail { error_log memory:1m; }", "mproxy was built without debug support in {F}:1" },
	{ "mail { error_log syslog:foo=bar; }", "unknown syslog parameter \"foo=bar\" in {F}:1" },
	{ "mail { error_log syslog:facility=local7; }", "no syslog server specified in {F}:1" },
	{ "mail { error_log syslog:server=127.0.0.1,facility=x; }", "unknown syslog facility \"x\" in {F}:1" },
	{ "mail { error_log syslog:server=127.0.0.1,severity=x; }", "unknown syslog severity \"x\" in {F}:1" },
	{ "mail { error_log syslog:server=127.0.0.1,tag=a-b; }",
	  "syslog \"tag\" only allows alphanumeric characters and underscore in {F}:1" },
	{ "mail { error_log syslog:server=127.0.0.1,tag=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa; }",
	  "syslog tag length exceeds 32 in {F}:1" },
	{ "mail { error_log syslog:server=127.0.0.1:x; }", "invalid port in syslog server \"127.0.0.1:x\" in {F}:1" },
	{ "mail { error_log syslog:server=127.0.0.1,server=127.0.0.1; }", "duplicate syslog \"server\" in {F}:1" },
	{ "mail { error_log syslog:server=a,facility=mail,facility=mail; }", "host not found in syslog server \"a\" in {F}:1" },
	{ "mail { error_log syslog:server=localhost,facility=mail,facility=mail; }", "duplicate syslog \"facility\" in {F}:1" },

	/* main and events */
	{ "daemon x;", "invalid value \"x\" in \"daemon\" directive, it must be \"on\" or \"off\" in {F}:1" },
	{ "daemon on;\ndaemon off;", "\"daemon\" directive is duplicate in {F}:2" },
	{ "master_process x;", "invalid value \"x\" in \"master_process\" directive, it must be \"on\" or \"off\" in {F}:1" },
	{ "worker_processes x;", "\"worker_processes\" directive invalid value in {F}:1" },
	{ "worker_processes 1;\nworker_processes 2;", "\"worker_processes\" directive is duplicate in {F}:2" },
	{ "worker_priority x;", "\"worker_priority\" directive invalid number in {F}:1" },
	{ "worker_rlimit_nofile x;", "\"worker_rlimit_nofile\" directive invalid number in {F}:1" },
	{ "worker_rlimit_core 1x;", "\"worker_rlimit_core\" directive invalid value in {F}:1" },
	{ "worker_shutdown_timeout x;", "\"worker_shutdown_timeout\" directive invalid value in {F}:1" },
	{ "timer_resolution x;", "\"timer_resolution\" directive invalid value in {F}:1" },
	{ "pcre_jit x;", "invalid value \"x\" in \"pcre_jit\" directive, it must be \"on\" or \"off\" in {F}:1" },
	{ "debug_points x;", "invalid value \"x\" in {F}:1" },
	{ "pid a; pid b;", "\"pid\" directive is duplicate in {F}:1" },
	{ "user;", "invalid number of arguments in \"user\" directive in {F}:1" },
	{ "user a b c;", "invalid number of arguments in \"user\" directive in {F}:1" },
	{ "user a; user b;", "\"user\" directive is duplicate in {F}:1" },
	{ "thread_pool x;", "invalid number of arguments in \"thread_pool\" directive in {F}:1" },
	{ "events { worker_connections x; }", "invalid number \"x\" in {F}:1" },
	{ "events { worker_connections 0; }", "invalid number \"0\" in {F}:1" },
	{ "events { worker_connections 1; worker_connections 2; }",
	  "\"worker_connections\" directive is duplicate in {F}:1" },
	{ "events { use foo; }", "invalid event type \"foo\" in {F}:1" },
	{ "events { foo; }", "unknown directive \"foo\" in {F}:1" },
	{ "events { multi_accept x; }",
	  "invalid value \"x\" in \"multi_accept\" directive, it must be \"on\" or \"off\" in {F}:1" },
	{ "events { accept_mutex_delay x; }", "\"accept_mutex_delay\" directive invalid value in {F}:1" },
	{ "events { worker_aio_requests x; }", "\"worker_aio_requests\" directive invalid number in {F}:1" },
	{ "events { daemon on; }", "\"daemon\" directive is not allowed here in {F}:1" },
};

TEST(conf_errors_table)
{
	setup();
	put_dir("inc");
	put("inc/close.conf", "}\n");
	put("inc/noterm.conf", "timeout 5s\n");
	put("inc/open.conf", "mail {\n");
	put("inc/self.conf", "include inc/self.conf;\n");
	for (size_t i = 0; i < MP_ARRAY_LEN(err_cases); i++) {
		/* the NUL row is the only one with a NUL inside */
		check_error(__FILE__, __LINE__, err_cases[i].text, NULL, err_cases[i].want);
	}
}

TEST(conf_errors_nul_byte)
{
	/* string literals stop at NUL: write the file by hand */
	setup();
	char path[300];
	snprintf(path, sizeof(path), "%snul.conf", tdir);
	FILE *f = fopen(path, "w");
	fwrite("mail { server_name a\0b; }", 1, 25, f);
	fclose(f);
	remember(path);
	put("mproxy.conf", "include nul.conf;");
	struct conf_opts o = { conf_path, tdir, NULL };
	char err[512], want[512];
	CHECK(conf_load(&o, err, sizeof(err), NULL) == NULL);
	snprintf(want, sizeof(want), "unexpected NUL character in %snul.conf:1", tdir);
	CHECK_TEXT(err, want);
}

TEST(conf_errors_main_file)
{
	char err[512];
	struct conf_opts o = { "/nonexistent/mproxy.conf", "/", NULL };
	CHECK(conf_load(&o, err, sizeof(err), NULL) == NULL);
	CHECK_STR(err, "open() \"/nonexistent/mproxy.conf\" failed (2: No such file or directory)");
	/* a tiny error buffer is still NUL-terminated */
	char tiny[8];
	CHECK(conf_load(&o, tiny, sizeof(tiny), NULL) == NULL);
	CHECK_STR(tiny, "open() ");
	CHECK(conf_load(&o, NULL, 0, NULL) == NULL);
}

TEST(conf_errors_command_line)
{
	static const struct {
		const char *g, *file, *want;
	} cases[] = {
		{ "events {}", "", "block directives are not supported in -g option in command line" },
		{ "daemon off", "", "unexpected end of parameter, expecting \";\" in command line" },
		{ "daemon 'off", "", "unexpected end of parameter, expecting \";\" in command line" },
		{ "daemon off; foo;", "", "unknown directive \"foo\" in command line" },
		{ "}", "", "unexpected \"}\" in command line" },
		{ "daemon x;", "", "invalid value \"x\" in \"daemon\" directive, it must be \"on\" or \"off\" in command line" },
		{ "include /nonexistent.conf;", "",
		  "open() \"/nonexistent.conf\" failed (2: No such file or directory) in command line" },
		/* -g is read first: the file's copy is the duplicate */
		{ "daemon off;", "daemon on;", "\"daemon\" directive is duplicate in {F}:1" },
		{ "pid /a;", "\n\npid /b;", "\"pid\" directive is duplicate in {F}:3" },
	};
	for (size_t i = 0; i < MP_ARRAY_LEN(cases); i++) {
		check_error(__FILE__, __LINE__, cases[i].file, cases[i].g, cases[i].want);
	}
}

/* ---- happy paths -------------------------------------------------------------- */

TEST(conf_defaults)
{
	struct conf *c = load("mail { auth_http 127.0.0.1:9000; server { listen 143; } }");
	if (c == NULL) {
		return;
	}
	CHECK_STR(c->prefix, tdir);
	CHECK_STR(c->conf_file, conf_path);
	CHECK(c->daemon);
	CHECK(c->master_process);
	CHECK_STR(c->pid_file, MP_PID_PATH);
	CHECK(c->user == NULL && c->group == NULL);
	CHECK_STR(c->error_log, "stderr");
	CHECK_INT(c->error_log_level, LOGL_ERR);
	CHECK_INT(c->worker_rlimit_nofile, 0);
	CHECK_INT(c->worker_connections, 1024);
	CHECK(c->has_mail);
	CHECK_INT(c->nservers, 1);
	CHECK_INT(c->nlistens, 1);

	const struct conf_server *s = c->servers[0];
	CHECK_STR(s->file, conf_path);
	CHECK_INT(s->line, 1);
	CHECK_INT(s->protocol, PROTO_IMAP);
	CHECK_STR(s->server_name, "mx.test");
	CHECK_INT(s->timeout_ms, 60000);
	CHECK_INT(s->proxy_timeout_ms, 86400000);
	CHECK_INT(s->resolver_timeout_ms, 30000);
	CHECK_INT(s->auth_http_timeout_ms, 60000);
	CHECK_INT(s->smtp_greeting_delay_ms, 0);
	CHECK_INT(s->max_errors, 5);
	CHECK_INT(s->max_commands, 1000);
	CHECK_STR(s->auth_http.text, "127.0.0.1:9000");
	CHECK_STR(s->auth_http.host_header, "127.0.0.1");
	CHECK_STR(s->auth_http.uri, "/");
	CHECK_INT(net_port(&s->auth_http.addr), 9000);
	CHECK_INT(s->nauth_http_headers, 0);
	CHECK(!s->auth_http_pass_client_cert);
	CHECK_INT(s->nauth_backends, 0);
	CHECK(!s->proxy);
	CHECK_INT(s->proxy_buffer, (size_t)sysconf(_SC_PAGESIZE));
	CHECK(!s->proxy_pass_error_message);
	CHECK_INT(s->proxy_protocol, 0);
	CHECK(!s->proxy_smtp_auth);
	CHECK(s->xclient);
	CHECK(!s->proxy_client_id);
	CHECK_INT(s->proxy_ssl.mode, 0);
	CHECK(s->proxy_ssl.verify);
	CHECK_INT(s->proxy_ssl.verify_depth, 1);
	CHECK(s->proxy_ssl.trusted_certificate == NULL && s->proxy_ssl.name == NULL);
	CHECK_INT(s->imap_auth, AUTHM_PLAIN);
	CHECK_INT(s->imap_capabilities.n, 3);
	CHECK_STR(s->imap_capabilities.v[0], "IMAP4");
	CHECK_STR(s->imap_capabilities.v[2], "UIDPLUS");
	CHECK_INT(s->imap_client_buffer, (size_t)sysconf(_SC_PAGESIZE));
	CHECK_INT(s->pop3_auth, AUTHM_PLAIN);
	CHECK_INT(s->pop3_capabilities.n, 3);
	CHECK_STR(s->pop3_capabilities.v[1], "USER");
	CHECK_INT(s->pop3_client_buffer, 512);
	CHECK_INT(s->smtp_auth, AUTHM_PLAIN | AUTHM_LOGIN);
	CHECK_INT(s->smtp_capabilities.n, 0);
	CHECK_INT(s->resolver.n, 0);
	CHECK(s->resolver.ipv4 && s->resolver.ipv6);
	CHECK_INT(s->real_ip_from.n, 0);
	CHECK_INT(s->access.n, 0);
	CHECK(!s->ssl.ssl_on);
	CHECK_INT(s->ssl.starttls, STARTTLS_OFF);
	CHECK_INT(s->ssl.ncerts, 0);
	CHECK_INT(s->ssl.protocols, TLSP_TLSv1_2 | TLSP_TLSv1_3);
	CHECK_STR(s->ssl.ciphers, "HIGH:!aNULL:!MD5");
	CHECK(!s->ssl.prefer_server_ciphers);
	CHECK_STR(s->ssl.ecdh_curve, "auto");
	CHECK_STR(s->ssl.session_cache, "none");
	CHECK_INT(s->ssl.session_cache_size, 0);
	CHECK_INT(s->ssl.session_timeout_ms, 300000);
	CHECK(s->ssl.session_tickets);
	CHECK_INT(s->ssl.verify_client, VERIFY_OFF);
	CHECK_INT(s->ssl.verify_depth, 1);
	CHECK(!s->ssl.certificate_compression);
	CHECK(s->error_log == NULL);

	const struct conf_listen *l = c->listens[0];
	CHECK_STR(l->text, "0.0.0.0:143");
	CHECK(l->wildcard);
	CHECK(!l->ssl && !l->proxy_protocol && !l->bind && !l->multipath);
	CHECK_INT(l->ipv6only, -1);
	CHECK_INT(l->backlog, -1);
	CHECK_INT(l->rcvbuf, 0);
	CHECK_INT(l->sndbuf, 0);
	CHECK_INT(l->keepalive, -1);
	CHECK(l->server == s);
	CHECK_STR(l->file, conf_path);
	CHECK_INT(l->line, 1);
	conf_free(c);
}

/* The example of nginx's ngx_mail_core_module page, as in test/nginx-example.conf. */
static const char nginx_example[] =
	"worker_processes auto;\n"
	"\n"
	"error_log /var/log/nginx/error.log info;\n"
	"\n"
	"events {\n"
	"    worker_connections  1024;\n"
	"}\n"
	"\n"
	"mail {\n"
	"    server_name       mail.example.com;\n"
	"    auth_http         localhost:9000/cgi-bin/nginxauth.cgi;\n"
	"\n"
	"    imap_capabilities IMAP4rev1 UIDPLUS IDLE LITERAL+ QUOTA;\n"
	"\n"
	"    pop3_auth         plain apop cram-md5;\n"
	"    pop3_capabilities LAST TOP USER PIPELINING UIDL;\n"
	"\n"
	"    smtp_auth         login plain cram-md5;\n"
	"    smtp_capabilities \"SIZE 10485760\" ENHANCEDSTATUSCODES 8BITMIME DSN;\n"
	"    xclient           off;\n"
	"\n"
	"    server {\n"
	"        listen   25;\n"
	"        protocol smtp;\n"
	"    }\n"
	"    server {\n"
	"        listen   110;\n"
	"        protocol pop3;\n"
	"        proxy_pass_error_message on;\n"
	"    }\n"
	"    server {\n"
	"        listen   143;\n"
	"        protocol imap;\n"
	"    }\n"
	"    server {\n"
	"        listen   587;\n"
	"        protocol smtp;\n"
	"    }\n"
	"}\n";

TEST(conf_nginx_example)
{
	/* the copy in test/ (used by "mproxy -t") must be this very text */
	FILE *f = fopen("test/nginx-example.conf", "r");
	if (f != NULL) {
		char file[4096];
		size_t n = fread(file, 1, sizeof(file) - 1, f);
		fclose(f);
		file[n] = '\0';
		CHECK_TEXT(file, nginx_example);
	}
	const char *text = nginx_example;
	struct conf *c = load(text);
	if (c == NULL) {
		return;
	}
	CHECK(strstr(notes, "\"worker_processes\" directive is ignored here (mproxy is single-process)") != NULL);
	CHECK_STR(c->error_log, "/var/log/nginx/error.log");
	CHECK_INT(c->error_log_level, LOGL_INFO);
	CHECK_INT(c->worker_connections, 1024);
	CHECK_INT(c->nservers, 4);
	CHECK_INT(c->nlistens, 4);
	static const enum mail_proto protos[] = { PROTO_SMTP, PROTO_POP3, PROTO_IMAP, PROTO_SMTP };
	static const char *const texts[] = { "0.0.0.0:25", "0.0.0.0:110", "0.0.0.0:143", "0.0.0.0:587" };
	for (size_t i = 0; i < 4 && i < c->nservers; i++) {
		const struct conf_server *s = c->servers[i];
		CHECK_INT(s->protocol, protos[i]);
		CHECK_STR(c->listens[i]->text, texts[i]);
		CHECK_STR(s->server_name, "mail.example.com");
		/* auth_http localhost:9000/...: localhost resolves even without /etc/hosts */
		char a[64];
		addr_text(&s->auth_http.addr, a, sizeof(a));
		CHECK_STR(a, "127.0.0.1:9000");
		CHECK_STR(s->auth_http.host_header, "localhost");
		CHECK_STR(s->auth_http.uri, "/cgi-bin/nginxauth.cgi");
		CHECK_INT(s->imap_capabilities.n, 5);
		CHECK_STR(s->imap_capabilities.v[3], "LITERAL+");
		CHECK_INT(s->pop3_auth, AUTHM_PLAIN | AUTHM_APOP | AUTHM_CRAM_MD5);
		CHECK_INT(s->pop3_capabilities.n, 5);
		CHECK_INT(s->smtp_auth, AUTHM_PLAIN | AUTHM_LOGIN | AUTHM_CRAM_MD5);
		/* one capability with a space in it, as nginx */
		CHECK_INT(s->smtp_capabilities.n, 4);
		CHECK_STR(s->smtp_capabilities.v[0], "SIZE 10485760");
		CHECK(!s->xclient);
		CHECK(s->proxy_pass_error_message == (i == 1));
	}
	conf_free(c);
}

TEST(conf_inheritance)
{
	struct conf *c = load(
		"mail {\n"
		"  auth_http auth.test:9000/auth;\n"
		"  auth_http_header X-Key secret;\n"
		"  timeout 10s;\n"
		"  server_name mail.test;\n"
		"  imap_capabilities IMAP4rev1 IDLE;\n"
		"  imap_auth login;\n"
		"  allow 10.0.0.0/8;\n"
		"  deny all;\n"
		"  set_real_ip_from 192.168.0.0/16;\n"
		"  ssl_certificate mail.pem;\n"
		"  ssl_certificate_key mail.key;\n"
		"  error_log mail.log warn;\n"
		"  resolver 127.0.0.1;\n"
		"  server { listen 143; }\n"
		"  server {\n"
		"    listen 110;\n"
		"    timeout 20s;\n"
		"    server_name pop.test;\n"
		"    allow 127.0.0.1;\n"
		"    auth_http unix:/run/auth.sock:/pop;\n"
		"    ssl_certificate pop.pem;\n"
		"    ssl_certificate_key /abs/pop.key;\n"
		"    starttls on;\n"
		"    imap_auth plain;\n"
		"    imap_auth cram-md5;\n"
		"    resolver off;\n"
		"  }\n"
		"  smtp_auth none;\n" /* after the servers: still inherited (merge at the end) */
		"  server { listen 25; server_name \"\"; imap_capabilities X; imap_capabilities Y Z; }\n"
		"}\n");
	if (c == NULL) {
		return;
	}
	CHECK_INT(c->nservers, 3);
	const struct conf_server *a = c->servers[0], *b = c->servers[1], *d = c->servers[2];
	char t[80];

	CHECK_INT(a->timeout_ms, 10000);
	CHECK_INT(b->timeout_ms, 20000);
	CHECK_STR(a->server_name, "mail.test");
	CHECK_STR(b->server_name, "pop.test");
	CHECK_STR(d->server_name, "mx.test"); /* "" means the host name, as nginx */
	CHECK_INT(a->imap_capabilities.n, 2);
	CHECK_STR(a->imap_capabilities.v[1], "IDLE");
	CHECK_INT(d->imap_capabilities.n, 3);
	CHECK_STR(d->imap_capabilities.v[2], "Z");
	CHECK_INT(a->imap_auth, AUTHM_LOGIN);
	CHECK_INT(b->imap_auth, AUTHM_PLAIN | AUTHM_CRAM_MD5);
	CHECK_INT(a->smtp_auth, AUTHM_NONE);
	CHECK_INT(d->smtp_auth, AUTHM_NONE);

	addr_text(&a->auth_http.addr, t, sizeof(t));
	CHECK_STR(t, "10.1.2.3:9000");
	CHECK_STR(a->auth_http.host_header, "auth.test");
	CHECK_STR(a->auth_http.uri, "/auth");
	CHECK_STR(b->auth_http.text, "unix:/run/auth.sock:/pop");
	addr_text(&b->auth_http.addr, t, sizeof(t));
	CHECK_STR(t, "unix:/run/auth.sock");
	CHECK_STR(b->auth_http.host_header, "localhost");
	CHECK_STR(b->auth_http.uri, "/pop");
	CHECK_INT(a->nauth_http_headers, 1);
	CHECK_INT(b->nauth_http_headers, 1);
	CHECK_STR(b->auth_http_headers[0].name, "X-Key");
	CHECK_STR(b->auth_http_headers[0].value, "secret");

	/* allow/deny: the server's list replaces the mail block's */
	CHECK_INT(a->access.n, 2);
	CHECK(a->access.v[0].allow && a->access.v[0].family == AF_INET && a->access.v[0].prefix == 8);
	CHECK(!a->access.v[1].allow && a->access.v[1].family == 0);
	CHECK_INT(b->access.n, 1);
	CHECK(b->access.v[0].allow && b->access.v[0].prefix == 32);
	CHECK_INT(d->real_ip_from.n, 1);
	CHECK_INT(d->real_ip_from.v[0].prefix, 16);

	/* TLS files resolve against the configuration's directory */
	char want[400];
	CHECK_INT(a->ssl.ncerts, 1);
	snprintf(want, sizeof(want), "%smail.pem", tdir);
	CHECK_STR(a->ssl.certs[0].cert, want);
	snprintf(want, sizeof(want), "%smail.key", tdir);
	CHECK_STR(a->ssl.certs[0].key, want);
	CHECK_INT(a->ssl.certs[0].line, 11);
	CHECK_INT(b->ssl.ncerts, 1);
	snprintf(want, sizeof(want), "%spop.pem", tdir);
	CHECK_STR(b->ssl.certs[0].cert, want);
	CHECK_STR(b->ssl.certs[0].key, "/abs/pop.key");
	CHECK_INT(b->ssl.starttls, STARTTLS_ON);
	CHECK_INT(b->ssl.line, 24);
	CHECK_INT(a->ssl.starttls, STARTTLS_OFF);

	/* error_log: files against the prefix; inherited */
	snprintf(want, sizeof(want), "%smail.log", tdir);
	CHECK_STR(a->error_log, want);
	CHECK_INT(a->error_log_level, LOGL_WARN);
	CHECK_STR(d->error_log, want);

	CHECK_INT(a->resolver.n, 1);
	CHECK_INT(net_port(&a->resolver.addrs[0]), 53);
	CHECK_INT(b->resolver.n, 0);
	conf_free(c);
}

TEST(conf_listen_forms)
{
	struct conf *c = load(
		"mail { auth_http 127.0.0.1:9;\n"
		"server { protocol imap;\n"
		" listen 127.0.0.1:10143;\n"
		" listen *:10144 ssl proxy_protocol;\n"
		" listen 10145 backlog=10 rcvbuf=8k sndbuf=1m;\n"
		" listen [::1]:10146 bind multipath;\n"
		" listen [::]:10147 ipv6only=off so_keepalive=on;\n"
		" listen unix:/tmp/mproxy-test.sock so_keepalive=30m::10;\n"
		" listen multi.test:10148 so_keepalive=off;\n"
		" listen localhost:10149 so_keepalive=:1m:;\n"
		" listen ip6.test:10150 ipv6only=on;\n"
		" ssl_certificate a; ssl_certificate_key b;\n"
		"} }");
	if (c == NULL) {
		return;
	}
	static const char *const texts[] = {
		"127.0.0.1:10143", "0.0.0.0:10144", "0.0.0.0:10145", "[::1]:10146", "[::]:10147",
		"unix:/tmp/mproxy-test.sock", "192.0.2.1:10148", "192.0.2.2:10148", "127.0.0.1:10149",
		"[::1]:10150",
	};
	CHECK_INT(c->nlistens, MP_ARRAY_LEN(texts));
	for (size_t i = 0; i < c->nlistens && i < MP_ARRAY_LEN(texts); i++) {
		CHECK_STR(c->listens[i]->text, texts[i]);
		CHECK(c->listens[i]->server == c->servers[0]);
	}
	if (c->nlistens != MP_ARRAY_LEN(texts)) {
		conf_free(c);
		return;
	}
	struct conf_listen *const *l = c->listens;
	CHECK(!l[0]->wildcard && l[1]->wildcard && l[2]->wildcard && !l[3]->wildcard && l[4]->wildcard);
	CHECK(!l[5]->wildcard);
	CHECK(l[1]->ssl && l[1]->proxy_protocol && !l[1]->bind);
	CHECK(!l[0]->ssl && !l[0]->proxy_protocol);
	CHECK_INT(l[2]->backlog, 10);
	CHECK_INT(l[2]->rcvbuf, 8192);
	CHECK_INT(l[2]->sndbuf, 1048576);
	CHECK(l[2]->bind);
	CHECK(l[3]->bind && l[3]->multipath);
	CHECK_INT(l[3]->line, 6);
	CHECK_INT(l[4]->ipv6only, 0);
	CHECK_INT(l[4]->keepalive, 1);
	CHECK_INT(l[4]->keepidle, 0);
	CHECK_INT(l[5]->keepalive, 1);
	CHECK_INT(l[5]->keepidle, 1800);
	CHECK_INT(l[5]->keepintvl, 0);
	CHECK_INT(l[5]->keepcnt, 10);
	CHECK_INT(l[5]->addr.u.sa.sa_family, AF_UNIX);
	CHECK_INT(l[6]->keepalive, 0);
	CHECK_INT(l[7]->keepalive, 0);
	CHECK_INT(l[8]->keepintvl, 60);
	CHECK_INT(l[9]->ipv6only, 1);
	conf_free(c);
}

TEST(conf_protocol_inference)
{
	static const struct {
		const char *listen;
		enum mail_proto want;
	} cases[] = {
		{ "143", PROTO_IMAP }, { "993", PROTO_IMAP }, { "110", PROTO_POP3 },
		{ "995", PROTO_POP3 }, { "25", PROTO_SMTP },  { "465", PROTO_SMTP },
		{ "587", PROTO_SMTP }, { "127.0.0.1:587", PROTO_SMTP }, { "[::1]:110", PROTO_POP3 },
	};
	for (size_t i = 0; i < MP_ARRAY_LEN(cases); i++) {
		char text[256];
		snprintf(text, sizeof(text), "mail { auth_http 127.0.0.1:9; server { listen %s; } }",
			 cases[i].listen);
		struct conf *c = load(text);
		if (c != NULL) {
			CHECK_INT(c->servers[0]->protocol, cases[i].want);
			conf_free(c);
		}
	}
	/* an explicit protocol wins, before or after listen; the first known port wins */
	struct conf *c = load("mail { auth_http 127.0.0.1:9;"
			      " server { listen 143; protocol pop3; }"
			      " server { protocol smtp; listen 110; }"
			      " server { listen 10000; listen 995; listen 993; } }");
	if (c != NULL) {
		CHECK_INT(c->servers[0]->protocol, PROTO_POP3);
		CHECK_INT(c->servers[1]->protocol, PROTO_SMTP);
		CHECK_INT(c->servers[2]->protocol, PROTO_POP3);
		conf_free(c);
	}
	CHECK_STR(conf_proto_name(PROTO_IMAP), "imap");
	CHECK_STR(conf_proto_name(PROTO_POP3), "pop3");
	CHECK_STR(conf_proto_name(PROTO_SMTP), "smtp");
	CHECK_STR(conf_proto_name(PROTO_NONE), "none");
}

TEST(conf_ssl_directives)
{
	struct conf *c = load(
		"mail { auth_http 127.0.0.1:9;\n"
		" ssl_protocols TLSv1.2 TLSv1.2 TLSv1.3;\n"
		" ssl_ciphers ECDHE;\n"
		" ssl_prefer_server_ciphers on;\n"
		" ssl_ecdh_curve X25519:prime256v1;\n"
		" ssl_session_cache builtin:1000 shared:SSL:10m;\n"
		" ssl_session_timeout 1h;\n"
		" ssl_session_tickets off;\n"
		" ssl_session_ticket_key k1.key;\n"
		" ssl_session_ticket_key /k2.key;\n"
		" ssl_password_file pw;\n"
		" ssl_dhparam dh.pem;\n"
		" ssl_verify_client optional;\n"
		" ssl_verify_depth 3;\n"
		" ssl_client_certificate ca.pem;\n"
		" ssl_trusted_certificate trusted.pem;\n"
		" ssl_crl crl.pem;\n"
		" ssl_conf_command Options PrioritizeChaCha;\n"
		" ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256;\n"
		" ssl_certificate_compression on;\n"
		" ssl_certificate rsa.pem; ssl_certificate_key rsa.key;\n"
		" ssl_certificate \"data:-----BEGIN CERTIFICATE-----\";\n"
		" ssl_certificate_key engine:pkcs11:x;\n"
		" server { listen 993 ssl; }\n"
		" server { listen 995; ssl on; }\n"
		" server { listen 10000; protocol smtp; ssl_session_cache off; starttls only; }\n"
		"}");
	if (c == NULL) {
		return;
	}
	const struct conf_ssl *s = &c->servers[0]->ssl;
	char want[400];
	CHECK(strstr(notes, "duplicate value \"TLSv1.2\"") != NULL);
	CHECK_INT(s->protocols, TLSP_TLSv1_2 | TLSP_TLSv1_3);
	CHECK_STR(s->ciphers, "ECDHE");
	CHECK(s->prefer_server_ciphers);
	CHECK_STR(s->ecdh_curve, "X25519:prime256v1");
	CHECK_STR(s->session_cache, "builtin:1000 shared:SSL:10m");
	CHECK_INT(s->session_cache_size, 1000 * CONF_SSL_SESSION_ENTRY + 10 * 1048576);
	CHECK_INT(s->session_timeout_ms, 3600000);
	CHECK(!s->session_tickets);
	CHECK_INT(s->session_ticket_keys.n, 2);
	snprintf(want, sizeof(want), "%sk1.key", tdir);
	CHECK_STR(s->session_ticket_keys.v[0], want);
	CHECK_STR(s->session_ticket_keys.v[1], "/k2.key");
	snprintf(want, sizeof(want), "%spw", tdir);
	CHECK_STR(s->password_file, want);
	snprintf(want, sizeof(want), "%sdh.pem", tdir);
	CHECK_STR(s->dhparam, want);
	CHECK_INT(s->verify_client, VERIFY_OPTIONAL);
	CHECK_INT(s->verify_depth, 3);
	snprintf(want, sizeof(want), "%sca.pem", tdir);
	CHECK_STR(s->client_certificate, want);
	snprintf(want, sizeof(want), "%strusted.pem", tdir);
	CHECK_STR(s->trusted_certificate, want);
	snprintf(want, sizeof(want), "%scrl.pem", tdir);
	CHECK_STR(s->crl, want);
	CHECK_INT(s->conf_commands.n, 4);
	CHECK_STR(s->conf_commands.v[2], "Ciphersuites");
	CHECK_STR(s->conf_commands.v[3], "TLS_AES_128_GCM_SHA256");
	CHECK(s->certificate_compression);
	CHECK_INT(s->ncerts, 2);
	snprintf(want, sizeof(want), "%srsa.pem", tdir);
	CHECK_STR(s->certs[0].cert, want);
	CHECK_STR(s->certs[1].cert, "data:-----BEGIN CERTIFICATE-----");
	CHECK_STR(s->certs[1].key, "engine:pkcs11:x");
	CHECK_INT(s->line, 24); /* the "listen ... ssl" line */
	CHECK(c->listens[0]->ssl);
	/* deprecated "ssl on": accepted with a warning, every listen is TLS */
	CHECK(strstr(notes, "5:the \"ssl\" directive is deprecated, use the \"listen ... ssl\" directive instead") != NULL);
	CHECK(c->servers[1]->ssl.ssl_on);
	CHECK(c->listens[1]->ssl);
	CHECK(!c->listens[2]->ssl);
	CHECK_STR(c->servers[2]->ssl.session_cache, "off");
	CHECK_INT(c->servers[2]->ssl.session_cache_size, 0);
	CHECK_INT(c->servers[2]->ssl.starttls, STARTTLS_ONLY);
	conf_free(c);

	c = load("mail { auth_http 127.0.0.1:9; ssl_session_cache builtin; ssl_protocols tlsv1.3;"
		 " ssl_verify_client OPTIONAL_NO_CA; starttls ON; ssl_certificate a; ssl_certificate_key b;"
		 " server { listen 143; } }");
	if (c != NULL) {
		CHECK_INT(c->servers[0]->ssl.session_cache_size,
			  CONF_SSL_BUILTIN_DEFAULT * CONF_SSL_SESSION_ENTRY);
		CHECK_INT(c->servers[0]->ssl.protocols, TLSP_TLSv1_3);
		CHECK_INT(c->servers[0]->ssl.verify_client, VERIFY_OPTIONAL_NO_CA);
		CHECK_INT(c->servers[0]->ssl.starttls, STARTTLS_ON);
		conf_free(c);
	}
}

TEST(conf_mproxy_directives)
{
	struct conf *c = load(
		"mail {\n"
		" auth_backend alice@example.com 127.0.0.1:1143;\n"
		" auth_backend *@example.org [::1]:1143 password=$pbkdf2-sha256$i=1000$c2FsdA$aGFzaA;\n"
		" auth_backend * unix:/run/dovecot.sock;\n"
		" max_commands 50;\n"
		" pop3_client_buffer 2k;\n"
		" proxy_client_id on;\n"
		" proxy_ssl starttls;\n"
		" proxy_ssl_verify off;\n"
		" proxy_ssl_trusted_certificate ca.pem;\n"
		" proxy_ssl_name backend.test;\n"
		" proxy_ssl_verify_depth 4;\n"
		" proxy_protocol v2;\n"
		" max_errors 7;\n"
		" proxy on; proxy_buffer 16k; proxy_timeout \"1h 30m\"; proxy_pass_error_message on;\n"
		" proxy_smtp_auth on; xclient off;\n"
		" smtp_greeting_delay 500ms; smtp_client_buffer 64k; imap_client_buffer 32k;\n"
		" auth_http_timeout 5s; auth_http_pass_client_cert on; resolver_timeout 3s;\n"
		" resolver 127.0.0.1 [::1]:5353 multi.test valid=30s ipv6=off status_zone=z;\n"
		" allow unix:; allow ::1; deny 10.1.2.3/8; allow all;\n"
		" set_real_ip_from unix:; set_real_ip_from multi.test; set_real_ip_from 2001:db8::/32;\n"
		" server { listen 110; auth_backend bob 127.0.0.1:110; }\n"
		" server { listen 143; }\n"
		"}");
	if (c == NULL) {
		return;
	}
	const struct conf_server *p = c->servers[0], *s = c->servers[1];
	char t[80];
	CHECK_INT(p->nauth_backends, 1);
	CHECK_STR(p->auth_backends[0].user, "bob");
	CHECK_INT(s->nauth_backends, 3);
	CHECK_STR(s->auth_backends[0].user, "alice@example.com");
	CHECK(s->auth_backends[0].hash == NULL);
	addr_text(&s->auth_backends[1].addr, t, sizeof(t));
	CHECK_STR(t, "[::1]:1143");
	CHECK_STR(s->auth_backends[1].hash, "$pbkdf2-sha256$i=1000$c2FsdA$aGFzaA");
	CHECK_INT(s->auth_backends[1].line, 3);
	CHECK_STR(s->auth_backends[2].user, "*");
	CHECK_INT(s->auth_backends[2].addr.u.sa.sa_family, AF_UNIX);
	CHECK(s->auth_http.text == NULL); /* auth_backend alone is enough */
	CHECK_INT(s->max_commands, 50);
	CHECK_INT(s->pop3_client_buffer, 2048);
	CHECK(s->proxy_client_id);
	CHECK_INT(s->proxy_ssl.mode, 2);
	CHECK(!s->proxy_ssl.verify);
	char want[400];
	snprintf(want, sizeof(want), "%sca.pem", tdir);
	CHECK_STR(s->proxy_ssl.trusted_certificate, want);
	CHECK_STR(s->proxy_ssl.name, "backend.test");
	CHECK_INT(s->proxy_ssl.verify_depth, 4);
	CHECK_INT(s->proxy_protocol, 2);
	CHECK_INT(s->max_errors, 7);
	CHECK(s->proxy);
	CHECK_INT(s->proxy_buffer, 16384);
	CHECK_INT(s->proxy_timeout_ms, 5400000);
	CHECK(s->proxy_pass_error_message && s->proxy_smtp_auth && !s->xclient);
	CHECK_INT(s->smtp_greeting_delay_ms, 500);
	CHECK_INT(s->smtp_client_buffer, 65536);
	CHECK_INT(s->imap_client_buffer, 32768);
	CHECK_INT(s->auth_http_timeout_ms, 5000);
	CHECK(s->auth_http_pass_client_cert);
	CHECK_INT(s->resolver_timeout_ms, 3000);
	CHECK_INT(s->resolver.n, 4);
	addr_text(&s->resolver.addrs[1], t, sizeof(t));
	CHECK_STR(t, "[::1]:5353");
	addr_text(&s->resolver.addrs[3], t, sizeof(t));
	CHECK_STR(t, "192.0.2.2:53");
	CHECK_INT(s->resolver.valid_ms, 30000);
	CHECK(s->resolver.ipv4 && !s->resolver.ipv6);
	CHECK_INT(s->access.n, 4);
	CHECK_INT(s->access.v[0].family, AF_UNIX);
	CHECK_INT(s->access.v[1].family, AF_INET6);
	CHECK_INT(s->access.v[1].prefix, 128);
	CHECK(!s->access.v[2].allow);
	inet_ntop(AF_INET, s->access.v[2].addr, t, sizeof(t));
	CHECK_STR(t, "10.0.0.0");
	CHECK(strstr(notes, "5:low address bits of 10.1.2.3/8 are meaningless") != NULL);
	CHECK(s->access.v[3].allow && s->access.v[3].family == 0);
	CHECK_INT(s->real_ip_from.n, 4);
	CHECK_INT(s->real_ip_from.v[0].family, AF_UNIX);
	CHECK_INT(s->real_ip_from.v[2].prefix, 32);
	CHECK_INT(s->real_ip_from.v[3].prefix, 32);
	conf_free(c);
}

TEST(conf_main_directives)
{
	struct conf *c = load(
		"daemon off;\n"
		"master_process off;\n"
		"pid run/mproxy.pid;\n"
		"user nobody nogroup;\n"
		"worker_rlimit_nofile 65536;\n"
		"error_log logs/error.log notice;\n"
		"error_log stderr debug;\n"
		"worker_processes auto;\n"
		"worker_cpu_affinity auto;\n"
		"worker_priority -5;\n"
		"worker_rlimit_core 500m;\n"
		"worker_shutdown_timeout 10s;\n"
		"working_directory /tmp;\n"
		"timer_resolution 100ms;\n"
		"lock_file logs/lock;\n"
		"env TZ;\n"
		"load_module modules/ngx_mail_module.so;\n"
		"pcre_jit on;\n"
		"thread_pool default threads=32 max_queue=65536;\n"
		"ssl_engine foo;\n"
		"debug_points abort;\n"
		"events { worker_connections 4096; use epoll; multi_accept on; accept_mutex off;\n"
		"  accept_mutex_delay 500ms; debug_connection 127.0.0.1; worker_aio_requests 32; }\n"
		"http { server { listen 80; location / { return 200 \"}\"; } } include mime/*.types; }\n"
		"stream { upstream x { server 127.0.0.1:1; } }\n");
	if (c == NULL) {
		return;
	}
	char want[400];
	CHECK(!c->daemon);
	CHECK(!c->master_process);
	snprintf(want, sizeof(want), "%srun/mproxy.pid", tdir);
	CHECK_STR(c->pid_file, want);
	CHECK_STR(c->user, "nobody");
	CHECK_STR(c->group, "nogroup");
	CHECK_INT(c->worker_rlimit_nofile, 65536);
	snprintf(want, sizeof(want), "%slogs/error.log", tdir);
	CHECK_STR(c->error_log, want);
	CHECK_INT(c->error_log_level, LOGL_NOTICE);
	CHECK_INT(c->worker_connections, 4096);
	CHECK(!c->has_mail);
	CHECK_INT(c->nservers, 0);
	static const char *const ignored[] = {
		"master_process", "worker_processes", "worker_cpu_affinity", "worker_priority",
		"worker_rlimit_core", "worker_shutdown_timeout", "working_directory",
		"timer_resolution", "lock_file", "env", "load_module", "pcre_jit", "thread_pool",
		"ssl_engine", "debug_points", "use", "multi_accept", "accept_mutex",
		"accept_mutex_delay", "debug_connection", "worker_aio_requests", "http", "stream",
		"error_log",
	};
	for (size_t i = 0; i < MP_ARRAY_LEN(ignored); i++) {
		char needle[128];
		snprintf(needle, sizeof(needle), "%d:\"%s\" directive is ignored here (", LOGL_NOTICE,
			 ignored[i]);
		if (strstr(notes, needle) == NULL) {
			t_fail(__FILE__, __LINE__, ignored[i]);
		}
	}
	CHECK(strstr(notes, "\"worker_processes\" directive is ignored here (mproxy is single-process) in ") != NULL);
	conf_free(c);

	/* -g error_log comes first, so it is the one used */
	char err[512];
	c = load_g("error_log /var/log/x.log;", "error_log stderr info; daemon off;", err, sizeof(err));
	CHECK(c != NULL);
	if (c != NULL) {
		CHECK_STR(c->error_log, "stderr");
		CHECK_INT(c->error_log_level, LOGL_INFO);
		CHECK(!c->daemon);
		conf_free(c);
	}
	c = load("error_log \"\";\nerror_log syslog:server=unix:/dev/log,facility=mail,severity=info,tag=mproxy,nohostname debug_mail;");
	if (c != NULL) {
		CHECK_STR(c->error_log, "stderr");
		conf_free(c);
	}
	c = load("mail { error_log syslog:server=[::1]:514 debug_core; auth_http 127.0.0.1:9; server { listen 143; } }");
	if (c != NULL) {
		CHECK_STR(c->servers[0]->error_log, "syslog:server=[::1]:514");
		CHECK_INT(c->servers[0]->error_log_level, LOGL_DEBUG);
		conf_free(c);
	}
}

TEST(conf_user_lookup)
{
	/* with lookups (as nginx): only meaningful as root */
	setup();
	put("mproxy.conf", "user root;");
	struct conf_opts o = { conf_path, tdir, NULL };
	char err[512];
	notes[0] = '\0';
	struct conf *c = conf_load(&o, err, sizeof(err), on_notice);
	CHECK(c != NULL);
	if (c != NULL) {
		if (geteuid() == 0) {
			CHECK_STR(c->user, "root");
			CHECK_STR(c->group, "root");
		} else {
			CHECK(c->user == NULL);
			CHECK(strstr(notes, "the \"user\" directive makes sense only if") != NULL);
		}
		conf_free(c);
	}
	if (geteuid() == 0) {
		put("mproxy.conf", "user no-such-user-mproxy;");
		CHECK(conf_load(&o, err, sizeof(err), NULL) == NULL);
		CHECK(strncmp(err, "getpwnam(\"no-such-user-mproxy\") failed", 38) == 0);
		put("mproxy.conf", "user root no-such-group-mproxy;");
		CHECK(conf_load(&o, err, sizeof(err), NULL) == NULL);
		CHECK(strncmp(err, "getgrnam(\"no-such-group-mproxy\") failed", 39) == 0);
	}
}

TEST(conf_include_and_dump)
{
	setup();
	put_dir("conf.d");
	put("conf.d/20-b.conf", "server { listen 110; }\n");
	put("conf.d/10-a.conf", "server { listen 143; }\n");
	put("conf.d/skip.txt", "garbage\n");
	put("auth.inc", "auth_http 127.0.0.1:9;\ninclude conf.d/*.conf;\n");
	struct conf *c = load("mail {\n    include auth.inc;\n    include conf.d/none-*.conf;\n}\n");
	if (c == NULL) {
		return;
	}
	CHECK_INT(c->nservers, 2);
	CHECK_INT(c->servers[0]->protocol, PROTO_IMAP); /* glob results sorted */
	char want[400];
	snprintf(want, sizeof(want), "%sconf.d/10-a.conf", tdir);
	CHECK_STR(c->servers[0]->file, want);
	CHECK_INT(c->servers[0]->line, 1);

	char dump_path[300];
	snprintf(dump_path, sizeof(dump_path), "%sdump.out", tdir);
	int fd = open(dump_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	remember(dump_path);
	conf_dump(c, fd);
	close(fd);
	FILE *f = fopen(dump_path, "r");
	char got[4096];
	size_t n = f != NULL ? fread(got, 1, sizeof(got) - 1, f) : 0;
	if (f != NULL) {
		fclose(f);
	}
	got[n] = '\0';
	char exp[4096];
	snprintf(exp, sizeof(exp),
		 "# configuration file %smproxy.conf:\n"
		 "mail {\n    include auth.inc;\n    include conf.d/none-*.conf;\n}\n\n"
		 "# configuration file %sauth.inc:\n"
		 "auth_http 127.0.0.1:9;\ninclude conf.d/*.conf;\n\n"
		 "# configuration file %sconf.d/10-a.conf:\nserver { listen 143; }\n\n"
		 "# configuration file %sconf.d/20-b.conf:\nserver { listen 110; }\n\n",
		 tdir, tdir, tdir, tdir);
	CHECK_TEXT(got, exp);
	conf_free(c);

	/* a file included twice is dumped once */
	put("t.inc", "# nothing\n");
	c = load("include t.inc; include t.inc;");
	if (c != NULL) {
		fd = open(dump_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		conf_dump(c, fd);
		close(fd);
		f = fopen(dump_path, "r");
		n = f != NULL ? fread(got, 1, sizeof(got) - 1, f) : 0;
		if (f != NULL) {
			fclose(f);
		}
		got[n] = '\0';
		snprintf(exp, sizeof(exp),
			 "# configuration file %smproxy.conf:\ninclude t.inc; include t.inc;\n"
			 "# configuration file %st.inc:\n# nothing\n\n",
			 tdir, tdir);
		CHECK_TEXT(got, exp);
		conf_free(c);
	}
}

TEST(conf_relative_paths)
{
	/* -c relative to -p; include relative to the configuration's directory;
	 * pid and logs relative to -p */
	setup();
	put_dir("etc");
	put("etc/inc.conf", "pid p.pid;\n");
	put("etc/main.conf", "include inc.conf;\nerror_log logs/e.log;\n");
	struct conf_opts o = { "etc/main.conf", tdir, NULL };
	char err[512], want[400];
	struct conf *c = conf_load(&o, err, sizeof(err), NULL);
	CHECK(c != NULL);
	if (c == NULL) {
		return;
	}
	snprintf(want, sizeof(want), "%setc/main.conf", tdir);
	CHECK_STR(c->conf_file, want);
	snprintf(want, sizeof(want), "%sp.pid", tdir);
	CHECK_STR(c->pid_file, want);
	snprintf(want, sizeof(want), "%slogs/e.log", tdir);
	CHECK_STR(c->error_log, want);
	conf_free(c);

	/* a prefix without the final slash gets one */
	char prefix[300];
	snprintf(prefix, sizeof(prefix), "%.*s", (int)strlen(tdir) - 1, tdir);
	o.prefix = prefix;
	c = conf_load(&o, err, sizeof(err), NULL);
	CHECK(c != NULL);
	if (c != NULL) {
		CHECK_STR(c->prefix, tdir);
		conf_free(c);
	}
}

TEST(conf_load_text_fuzz_entry)
{
	static const char text[] = "mail { auth_http 127.0.0.1:9; server { listen 143; } include x; }";
	char err[256];
	CHECK(conf_load_text(text, sizeof(text) - 1, err, sizeof(err)) == NULL);
	CHECK_STR(err, "open() \"/fuzz/x\" failed (13: Permission denied) in /fuzz/mproxy.conf:1");
	struct conf *c = conf_load_text(text, 50, err, sizeof(err));
	CHECK(c == NULL);
	/* no hosts file at all: "localhost" still resolves, to 127.0.0.1 */
	static const char ok[] = "mail { auth_http localhost:9; server { listen 143; } }";
	c = conf_load_text(ok, sizeof(ok) - 1, err, sizeof(err));
	CHECK(c != NULL);
	if (c != NULL) {
		char a[64];
		addr_text(&c->servers[0]->auth_http.addr, a, sizeof(a));
		CHECK_STR(a, "127.0.0.1:9");
		CHECK_STR(c->servers[0]->server_name, "mproxy.test");
	}
	conf_free(c);
	static const char other[] = "mail { auth_http auth.test:9; server { listen 143; } }";
	CHECK(conf_load_text(other, sizeof(other) - 1, err, sizeof(err)) == NULL);
	CHECK_STR(err, "host not found in auth_http \"auth.test:9\" in /fuzz/mproxy.conf:1");
	conf_free(NULL);
}

/* ---- limits: max-1, max, max+1 ---------------------------------------------- */

TEST(conf_limit_depth)
{
	/* the main file is one level; then blocks: 31 nested blocks fit, 32 do not */
	for (int blocks = CONF_DEPTH_MAX - 2; blocks <= CONF_DEPTH_MAX; blocks++) {
		char text[1024];
		size_t o = 0;
		o += (size_t)snprintf(text + o, sizeof(text) - o, "http {");
		for (int i = 1; i < blocks; i++) {
			o += (size_t)snprintf(text + o, sizeof(text) - o, " a {");
		}
		for (int i = 0; i < blocks; i++) {
			o += (size_t)snprintf(text + o, sizeof(text) - o, " }");
		}
		char err[512];
		struct conf *c = load_g(text, NULL, err, sizeof(err));
		if (blocks < CONF_DEPTH_MAX) {
			CHECK(c != NULL);
		} else {
			CHECK(c == NULL);
			char want[512];
			snprintf(want, sizeof(want),
				 "too deep nesting of blocks and includes (more than %d) in %s:1",
				 CONF_DEPTH_MAX, conf_path);
			CHECK_TEXT(err, want);
		}
		conf_free(c);
	}
}

TEST(conf_limit_file_size)
{
	setup();
	char path[300];
	snprintf(path, sizeof(path), "%sbig.conf", tdir);
	remember(path);
	char *buf = malloc(CONF_FILE_MAX + 1);
	memset(buf, '#', CONF_FILE_MAX + 1);
	for (size_t size = CONF_FILE_MAX - 1; size <= CONF_FILE_MAX + 1; size++) {
		FILE *f = fopen(path, "w");
		fwrite(buf, 1, size, f);
		fclose(f);
		char err[512];
		struct conf *c = load_g("include big.conf;", NULL, err, sizeof(err));
		if (size <= CONF_FILE_MAX) {
			CHECK(c != NULL);
		} else {
			char want[1024];
			snprintf(want, sizeof(want), "configuration file \"%s\" is too large in %s:1", path,
				 conf_path);
			CHECK(c == NULL);
			CHECK_TEXT(err, want);
		}
		conf_free(c);
	}
	free(buf);
}

TEST(conf_limit_hosts_file)
{
	/* names past CONF_HOSTS_FILE_MAX bytes of the hosts file are not seen */
	setup();
	char path[300];
	snprintf(path, sizeof(path), "%shosts", tdir);
	FILE *f = fopen(path, "w");
	fputs("10.8.8.8 early.test\n", f);
	while (ftell(f) < (long)CONF_HOSTS_FILE_MAX) {
		fputs("# padding\n", f);
	}
	fputs("10.9.9.9 late.test\n", f);
	fclose(f);
	char err[512];
	struct conf *c = load_g("mail { auth_http early.test:9; server { listen 143; } }", NULL, err,
				sizeof(err));
	CHECK(c != NULL);
	conf_free(c);
	c = load_g("mail { auth_http late.test:9; server { listen 143; } }", NULL, err, sizeof(err));
	CHECK(c == NULL);
	conf_free(c);
	CHECK(strncmp(err, "host not found in auth_http \"late.test:9\"", 41) == 0);
	/* restore the shared hosts file */
	f = fopen(path, "w");
	fputs("127.0.0.1 localhost\n10.1.2.3 auth.test\n192.0.2.1 multi.test\n"
	      "192.0.2.2 multi.test\n::1 ip6.test\n",
	      f);
	fclose(f);
}

TEST(conf_limit_resolvers)
{
	for (int n = CONF_RESOLVERS_MAX - 1; n <= CONF_RESOLVERS_MAX + 1; n++) {
		char text[2048];
		size_t o = (size_t)snprintf(text, sizeof(text), "mail { resolver");
		for (int i = 0; i < n; i++) {
			o += (size_t)snprintf(text + o, sizeof(text) - o, " 10.0.0.%d", i + 1);
		}
		snprintf(text + o, sizeof(text) - o, "; auth_http 127.0.0.1:9; server { listen 25; } }");
		char err[512];
		struct conf *c = load_g(text, NULL, err, sizeof(err));
		if (n <= CONF_RESOLVERS_MAX) {
			CHECK(c != NULL);
			if (c != NULL) {
				CHECK_INT(c->servers[0]->resolver.n, n);
			}
		} else {
			CHECK(c == NULL);
			CHECK(strncmp(err, "too many name servers", 21) == 0);
		}
		conf_free(c);
	}
}

TEST(conf_limit_buffers)
{
	static const struct {
		const char *v;
		bool ok;
	} cases[] = {
		{ "127", false }, { "128", true }, { "129", true },
		{ "16383k", true }, { "16m", true }, { "16385k", false },
	};
	for (size_t i = 0; i < MP_ARRAY_LEN(cases); i++) {
		char text[256], err[512];
		snprintf(text, sizeof(text),
			 "mail { imap_client_buffer %s; auth_http 127.0.0.1:9; server { listen 143; } }",
			 cases[i].v);
		struct conf *c = load_g(text, NULL, err, sizeof(err));
		CHECK((c != NULL) == cases[i].ok);
		conf_free(c);
	}
}
