/* Addresses in the configuration: ngx_inet_addr, ngx_parse_url, ngx_ptocidr
 * equivalents and the /etc/hosts reader. Inputs sit against an unreadable
 * page (t_guarded). */
#include "t.h"

#include "../../conf/conf_int.h"

#include <arpa/inet.h>

TEST(conf_addr_inet4)
{
	static const struct {
		const char *in;
		const char *want; /* NULL: rejected */
	} cases[] = {
		{ "1.2.3.4", "1.2.3.4" },
		{ "0.0.0.0", "0.0.0.0" },
		{ "255.255.255.255", "255.255.255.255" },
		{ "01.002.3.4", "1.2.3.4" }, /* decimal, not octal, as nginx */
		{ "1..2.3", "1.0.2.3" },     /* nginx's reader accepts an empty octet */
		{ "256.1.1.1", NULL },
		{ "1.2.3", NULL },
		{ "1.2.3.4.5", NULL },
		{ "", NULL },
		{ "a.b.c.d", NULL },
		{ "1.2.3.4 ", NULL },
		{ "1.2.3.-4", NULL },
	};
	for (size_t i = 0; i < MP_ARRAY_LEN(cases); i++) {
		uint8_t ip[4];
		char text[32];
		size_t n = strlen(cases[i].in);
		bool ok = conf_inet4(t_guarded(cases[i].in, n), n, ip);
		if (cases[i].want == NULL) {
			CHECK(!ok);
			continue;
		}
		CHECK(ok);
		inet_ntop(AF_INET, ip, text, sizeof(text));
		CHECK_STR(text, cases[i].want);
	}
}

/* Test lookup: "auth.test" has one address, "multi.test" two, "v6.test" one. */
static size_t fake_resolve(void *ctx, const char *host, size_t n, struct mp_addr *out, size_t max)
{
	(void)ctx;
	static const char hosts[] = "10.1.2.3 auth.test\n"
				    "192.0.2.1 multi.test\n192.0.2.2 multi.test\n"
				    "2001:db8::5 v6.test\n";
	return conf_hosts_find(hosts, sizeof(hosts) - 1, host, n, out, max);
}

struct url_case {
	const char *url;
	int kind; /* 0 auth_http (uri_part, port 80), 1 listen, 2 resolver (port 53) */
	const char *want; /* "!err" or "addr1,addr2 host=H hp=HP uri=U [noport] [wild]" */
};

static const struct url_case url_cases[] = {
	/* listen */
	{ "143", 1, "0.0.0.0:143 host= hp=143 uri= wild" },
	{ "*:143", 1, "0.0.0.0:143 host=* hp=*:143 uri= wild" },
	{ "127.0.0.1:143", 1, "127.0.0.1:143 host=127.0.0.1 hp=127.0.0.1:143 uri=" },
	{ "0.0.0.0:143", 1, "0.0.0.0:143 host=0.0.0.0 hp=0.0.0.0:143 uri= wild" },
	{ "[::1]:143", 1, "[::1]:143 host=[::1] hp=[::1]:143 uri=" },
	{ "[::]:143", 1, "[::]:143 host=[::] hp=[::]:143 uri= wild" },
	{ "auth.test:25", 1, "10.1.2.3:25 host=auth.test hp=auth.test:25 uri=" },
	{ "multi.test:25", 1, "192.0.2.1:25,192.0.2.2:25 host=multi.test hp=multi.test:25 uri=" },
	{ "v6.test:25", 1, "[2001:db8::5]:25 host=v6.test hp=v6.test:25 uri=" },
	{ "unix:/run/m.sock", 1, "unix:/run/m.sock host=/run/m.sock hp=/run/m.sock uri=" },
	{ "UNIX:/run/m.sock", 1, "unix:/run/m.sock host=/run/m.sock hp=/run/m.sock uri=" },
	{ "127.0.0.1", 1, "127.0.0.1:0 host=127.0.0.1 hp=127.0.0.1 uri= noport" },
	{ "nohost.test:25", 1, "!host not found" },
	{ "127.0.0.1:0", 1, "!invalid port" },
	{ "127.0.0.1:65535", 1, "127.0.0.1:65535 host=127.0.0.1 hp=127.0.0.1:65535 uri=" },
	{ "127.0.0.1:65536", 1, "!invalid port" },
	{ "65536", 1, "!invalid port" },
	{ "0", 1, "!invalid port" },
	{ "127.0.0.1:", 1, "!invalid port" },
	{ "127.0.0.1:x", 1, "!invalid port" },
	{ "::1:143", 1, "!invalid port" },
	{ ":143", 1, "!no host" },
	{ "127.0.0.1:143/x", 1, "!invalid host" },
	{ "127.0.0.1:143?x", 1, "!invalid host" },
	{ "[::1", 1, "!invalid host" },
	{ "[::1]x", 1, "!invalid host" },
	{ "[::1]:143/", 1, "!invalid host" },
	{ "[zz]:143", 1, "!invalid IPv6 address" },
	{ "[]:143", 1, "!no host" },
	{ "[::1]:0", 1, "!invalid port" },
	{ "unix:", 1, "!no path in the unix domain socket" },
	{ "", 1, "!no host" },
	{ "*", 1, "0.0.0.0:0 host=* hp=* uri= noport wild" },
	/* auth_http (http:// already stripped by the caller) */
	{ "localhost.test:9000/cgi-bin/auth", 0, "!host not found" },
	{ "auth.test:9000/cgi-bin/auth", 0, "10.1.2.3:9000 host=auth.test hp=auth.test:9000 uri=/cgi-bin/auth" },
	{ "auth.test/auth", 0, "10.1.2.3:80 host=auth.test hp=auth.test uri=/auth noport" },
	{ "auth.test", 0, "10.1.2.3:80 host=auth.test hp=auth.test uri= noport" },
	{ "auth.test?a=1", 0, "10.1.2.3:80 host=auth.test hp=auth.test uri=?a=1 noport" },
	{ "auth.test/a:b", 0, "10.1.2.3:80 host=auth.test hp=auth.test uri=/a:b noport" },
	{ "[::1]:9000/a", 0, "[::1]:9000 host=[::1] hp=[::1]:9000 uri=/a" },
	{ "[::1]/a", 0, "[::1]:80 host=[::1] hp=[::1] uri=/a noport" },
	{ "unix:/run/auth.sock:/auth", 0, "unix:/run/auth.sock host=/run/auth.sock hp=/run/auth.sock uri=/auth" },
	{ "unix:/run/auth.sock", 0, "unix:/run/auth.sock host=/run/auth.sock hp=/run/auth.sock uri=" },
	{ "unix::/auth", 0, "!no path in the unix domain socket" },
	{ "https://auth.test/x", 0, "!invalid port" },
	{ "10.0.0.1:99999/x", 0, "!invalid port" },
	{ "/x", 0, "!no host" },
	/* resolver */
	{ "127.0.0.1", 2, "127.0.0.1:53 host=127.0.0.1 hp=127.0.0.1 uri= noport" },
	{ "[::1]:5353", 2, "[::1]:5353 host=[::1] hp=[::1]:5353 uri=" },
	{ "127.0.0.1/x", 2, "!invalid host" },
};

static void render_url(const struct conf_url_out *u, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < u->naddrs; i++) {
		char a[MP_ADDR_TEXT_MAX + 8];
		net_addr_text(&u->addrs[i], a, sizeof(a));
		o += (size_t)snprintf(out + o, cap - o, "%s%s", i ? "," : "", a);
	}
	o += (size_t)snprintf(out + o, cap - o, " host=%.*s hp=%.*s uri=%.*s%s%s", (int)u->host.n,
			      u->host.p, (int)u->hostport.n, u->hostport.p, (int)u->uri.n, u->uri.p,
			      u->no_port ? " noport" : "", u->wildcard ? " wild" : "");
}

TEST(conf_addr_url)
{
	for (size_t i = 0; i < MP_ARRAY_LEN(url_cases); i++) {
		const struct url_case *c = &url_cases[i];
		size_t n = strlen(c->url);
		struct conf_url_in in = { { t_guarded(c->url, n), n }, c->kind == 1, c->kind == 0,
					  (uint16_t)(c->kind == 0 ? 80 : c->kind == 2 ? 53 : 0) };
		struct conf_url_out u;
		char got[512];
		if (conf_url_parse(&in, &u, fake_resolve, NULL) == MP_OK) {
			render_url(&u, got, sizeof(got));
		} else {
			snprintf(got, sizeof(got), "!%s", u.err);
		}
		if (strcmp(got, c->want) != 0) {
			char m[1024];
			snprintf(m, sizeof(m), "url \"%s\": got \"%s\" want \"%s\"", c->url, got, c->want);
			t_fail(__FILE__, __LINE__, m);
		}
	}
}

TEST(conf_addr_unix_path_limit)
{
	struct sockaddr_un sun;
	size_t max = sizeof(sun.sun_path) - 1; /* room for the NUL */
	char url[256];
	for (size_t len = max - 1; len <= max + 1; len++) {
		memcpy(url, "unix:/", 6);
		memset(url + 6, 'p', len - 1);
		size_t n = 5 + len;
		struct conf_url_in in = { { t_guarded(url, n), n }, true, false, 0 };
		struct conf_url_out u;
		enum mp_status st = conf_url_parse(&in, &u, NULL, NULL);
		if (len <= max) {
			CHECK_INT(st, MP_OK);
			CHECK_INT(strlen(u.addrs[0].u.un.sun_path), len);
		} else {
			CHECK_INT(st, MP_INVALID);
			CHECK_STR(u.err, "too long path in the unix domain socket");
		}
	}
}

TEST(conf_addr_url_many_addresses)
{
	/* more addresses than CONF_URL_ADDRS_MAX: the first ones are kept */
	char hosts[4096];
	size_t o = 0;
	for (int i = 0; i < CONF_URL_ADDRS_MAX + 3; i++) {
		o += (size_t)snprintf(hosts + o, sizeof(hosts) - o, "10.0.0.%d many\n", i + 1);
	}
	struct mp_addr out[CONF_URL_ADDRS_MAX];
	CHECK_INT(conf_hosts_find(hosts, o, "many", 4, out, CONF_URL_ADDRS_MAX), CONF_URL_ADDRS_MAX);
	CHECK_INT(out[0].u.in4.sin_addr.s_addr, htonl(0x0a000001));
}

TEST(conf_addr_cidr)
{
	static const struct {
		const char *in;
		const char *want; /* "addr/prefix" or NULL; "~" prefix: low bits were set */
	} cases[] = {
		{ "10.0.0.0/8", "10.0.0.0/8" },
		{ "10.1.2.3/8", "~10.0.0.0/8" },
		{ "10.1.2.3", "10.1.2.3/32" },
		{ "10.1.2.3/32", "10.1.2.3/32" },
		{ "0.0.0.0/0", "0.0.0.0/0" },
		{ "1.2.3.4/0", "~0.0.0.0/0" },
		{ "192.168.1.129/25", "~192.168.1.128/25" },
		{ "::1", "::1/128" },
		{ "2001:db8::/32", "2001:db8::/32" },
		{ "2001:db8::1/32", "~2001:db8::/32" },
		{ "2001:db8:ffff::/33", "~2001:db8:8000::/33" },
		{ "::/0", "::/0" },
		{ "1.2.3.4/33", NULL },
		{ "::/129", NULL },
		{ "1.2.3.4/", NULL },
		{ "1.2.3.4/x", NULL },
		{ "1.2.3.4/-1", NULL },
		{ "[::1]", NULL },
		{ "all", NULL },
		{ "", NULL },
		{ "/8", NULL },
	};
	for (size_t i = 0; i < MP_ARRAY_LEN(cases); i++) {
		struct conf_cidr c;
		bool low = false;
		size_t n = strlen(cases[i].in);
		enum mp_status st =
			conf_cidr_parse((struct mp_str){ t_guarded(cases[i].in, n), n }, &c, &low);
		if (cases[i].want == NULL) {
			if (st != MP_INVALID) {
				t_fail(__FILE__, __LINE__, cases[i].in);
			}
			continue;
		}
		char text[80], got[96];
		CHECK_INT(st, MP_OK);
		inet_ntop(c.family, c.addr, text, sizeof(text));
		snprintf(got, sizeof(got), "%s%s/%u", low ? "~" : "", text, c.prefix);
		CHECK_STR(got, cases[i].want);
	}
}

TEST(conf_addr_hosts)
{
	static const char text[] =
		"# comment 1.2.3.4 a.test\n"
		"127.0.0.1\tlocalhost\n"
		"::1 localhost ip6-localhost\n"
		"10.0.0.1 A.Test alias.test # trailing comment b.test\n"
		"10.0.0.2 a.test\r\n"
		"10.0.0.1 a.test\n"        /* duplicate: kept once */
		"fe80::1%eth0 a.test\n"    /* scoped: skipped */
		"garbage a.test\n"         /* not an address: skipped */
		"10.0.0.9\n"               /* no names */
		"   \n"
		"10.0.0.3 last.test"; /* no final newline */
	struct mp_addr out[8];
	char a[64];
	const char *p = t_guarded(text, sizeof(text) - 1);
	size_t n = sizeof(text) - 1;

	CHECK_INT(conf_hosts_find(p, n, "a.test", 6, out, 8), 2);
	net_ip_text(&out[0], a, sizeof(a));
	CHECK_STR(a, "10.0.0.1");
	net_ip_text(&out[1], a, sizeof(a));
	CHECK_STR(a, "10.0.0.2");
	CHECK_INT(conf_hosts_find(p, n, "ALIAS.test", 10, out, 8), 1);
	CHECK_INT(conf_hosts_find(p, n, "localhost", 9, out, 8), 2);
	net_ip_text(&out[1], a, sizeof(a));
	CHECK_STR(a, "::1");
	CHECK_INT(conf_hosts_find(p, n, "last.test", 9, out, 8), 1);
	CHECK_INT(conf_hosts_find(p, n, "b.test", 6, out, 8), 0);
	CHECK_INT(conf_hosts_find(p, n, "comment", 7, out, 8), 0);
	CHECK_INT(conf_hosts_find(p, n, "10.0.0.9", 8, out, 8), 0);
	CHECK_INT(conf_hosts_find(p, n, "a.tes", 5, out, 8), 0);
	CHECK_INT(conf_hosts_find(p, n, "", 0, out, 8), 0);
	CHECK_INT(conf_hosts_find(p, n, "a.test", 6, out, 1), 1);
	CHECK_INT(conf_hosts_find(p, n, "a.test", 6, out, 0), 0);
	CHECK_INT(conf_hosts_find(p, 0, "a.test", 6, out, 8), 0);
}
