/* The configuration lexer (nginx's ngx_conf_read_token) and the number/unit
 * readers. Each lexer row is run over a copy placed against an unreadable
 * page, so any read past the end crashes. */
#include "t.h"

#include "../../conf/conf_int.h"

#include <stdlib.h>

/* Renders the whole token stream: "[w1|w2];" for a directive ended by ";",
 * "[w]{" for a block start, "}" for a block end, "$" for the end of input and
 * "!message@line" for an error. Control bytes in words as \xHH. */
static void render(const char *in, size_t n, bool param, char *out, size_t cap)
{
	struct conf_arena *a = conf_arena_new(1u << 24);
	struct conf_args *args = malloc(sizeof(*args));
	const char *p = t_guarded(in, n);
	struct conf_lexer lx = { p, p + n, 1, param };
	size_t o = 0;
	char msg[256];

	out[0] = '\0';
	for (int guard = 0; guard < 1000; guard++) {
		enum conf_tok t = conf_lex(&lx, a, args, msg, sizeof(msg));
		if (t != CONF_TOK_ERROR && args->n > 0) {
			o += (size_t)snprintf(out + o, cap - o, "[");
			for (size_t i = 0; i < args->n; i++) {
				if (i > 0) {
					o += (size_t)snprintf(out + o, cap - o, "|");
				}
				for (size_t k = 0; k < args->v[i].n && o + 5 < cap; k++) {
					unsigned char c = (unsigned char)args->v[i].p[k];
					o += (size_t)snprintf(out + o, cap - o, c < 0x20 ? "\\x%02X" : "%c", c);
				}
				/* words are NUL-terminated copies */
				if (args->v[i].p[args->v[i].n] != '\0') {
					o += (size_t)snprintf(out + o, cap - o, "<noNUL>");
				}
			}
			o += (size_t)snprintf(out + o, cap - o, "]");
		}
		if (o >= cap - 1) {
			break;
		}
		switch (t) {
		case CONF_TOK_END:
			o += (size_t)snprintf(out + o, cap - o, ";");
			continue;
		case CONF_TOK_BLOCK_START:
			o += (size_t)snprintf(out + o, cap - o, "{");
			continue;
		case CONF_TOK_BLOCK_DONE:
			o += (size_t)snprintf(out + o, cap - o, "}");
			continue;
		case CONF_TOK_FILE_DONE:
			snprintf(out + o, cap - o, "$");
			break;
		case CONF_TOK_ERROR:
			snprintf(out + o, cap - o, "!%s@%u", msg, lx.line);
			break;
		}
		break;
	}
	free(args);
	conf_arena_free(a);
}

struct lex_case {
	const char *in;
	size_t n; /* 0: strlen(in) */
	const char *want;
};

static const struct lex_case lex_cases[] = {
	{ "", 0, "$" },
	{ " \t\r\n ", 0, "$" },
	{ "a;", 0, "[a];$" },
	{ "a b c;", 0, "[a|b|c];$" },
	{ "  a   b  ;  ", 0, "[a|b];$" },
	{ "a\r\nb\n;", 0, "[a|b];$" },
	{ "a {", 0, "[a]{$" },
	{ "a{b;}", 0, "[a]{[b];}$" },
	{ "a b{c;", 0, "[a|b]{[c];$" },
	{ "}", 0, "}$" },
	{ "a;}}", 0, "[a];}}$" },
	/* "}" is a word character after the start of a word */
	{ "a}", 0, "!unexpected end of file, expecting \";\" or \"}\"@1" },
	{ "a b};", 0, "[a|b}];$" },
	{ "a }", 0, "!unexpected \"}\"@1" },
	{ "{", 0, "!unexpected \"{\"@1" },
	{ ";", 0, "!unexpected \";\"@1" },
	{ "a;;", 0, "[a];!unexpected \";\"@1" },
	/* quotes */
	{ "a \"b c\";", 0, "[a|b c];$" },
	{ "a 'b c';", 0, "[a|b c];$" },
	{ "a \"\";", 0, "[a|];$" },
	{ "a \"b'c\" 'd\"e';", 0, "[a|b'c|d\"e];$" },
	{ "\"a\" b;", 0, "[a|b];$" },
	{ "a \"x\"y;", 0, "!unexpected \"y\"@1" },
	{ "a \"x\"\"y\";", 0, "!unexpected \"\"\"@1" },
	{ "a \"x\";", 0, "[a|x];$" },
	{ "a \"x\"{", 0, "[a|x]{$" },
	{ "a \"x\"\n;", 0, "[a|x];$" },
	/* ")" may follow a quoted word and starts a new one (nginx's "if (...)") */
	{ "a (\"x\");", 0, "[a|(\"x\")];$" },
	{ "a \"x\");", 0, "[a|x|)];$" },
	{ "a \"x", 0, "!unexpected end of file, expecting \";\" or \"}\"@1" },
	{ "a 'x", 0, "!unexpected end of file, expecting \";\" or \"}\"@1" },
	{ "a \"x\ny\";", 0, "[a|x\\x0Ay];$" },
	/* escapes: \" \' \\ \t \r \n unescaped, anything else kept */
	{ "a \"b\\\"c\";", 0, "[a|b\"c];$" },
	{ "a 'b\\'c';", 0, "[a|b'c];$" },
	{ "a b\\\\c;", 0, "[a|b\\c];$" },
	{ "a b\\tc\\rd\\ne;", 0, "[a|b\\x09c\\x0Dd\\x0Ae];$" },
	{ "a \\x;", 0, "[a|\\x];$" },
	{ "a b\\ c;", 0, "[a|b\\ c];$" },
	{ "a \\;;", 0, "[a|\\;];$" },
	{ "a b\\;", 0, "!unexpected end of file, expecting \";\" or \"}\"@1" },
	{ "a \"b\\\\\";", 0, "[a|b\\];$" },
	{ "\\a;", 0, "[\\a];$" },
	/* comments: only at the start of a word */
	{ "# c\na;", 0, "[a];$" },
	{ "a #c;\n;", 0, "[a];$" },
	{ "a#b;", 0, "[a#b];$" },
	{ "a \"#b\";", 0, "[a|#b];$" },
	{ "#only", 0, "$" },
	{ "a; # x } {", 0, "[a];$" },
	/* variables: "${" does not open a block */
	{ "a ${b} c;", 0, "[a|${b}|c];$" },
	{ "a $b{;", 0, "[a|$b]{!unexpected \";\"@1" },
	{ "a b${c}d;", 0, "[a|b${c}d];$" },
	/* NUL: fine in a comment, an error elsewhere */
	{ "#\0\na;", 5, "[a];$" },
	{ "a\0;", 3, "!unexpected NUL character@1" },
	{ "a \"\0\";", 6, "!unexpected NUL character@1" },
	/* non-printable bytes are shown escaped */
	{ "a \"x\"\x01;", 0, "!unexpected \"\\x01\"@1" },
	/* lines */
	{ "a;\nb;\n\nc", 0, "[a];[b];!unexpected end of file, expecting \";\" or \"}\"@4" },
	{ "a;\n\n\"x\ny", 0, "[a];!unexpected end of file, expecting \";\" or \"}\"@4" },
	{ "\n\n}", 0, "}$" },
	{ "\n\na }", 0, "!unexpected \"}\"@3" },
};

TEST(conf_lex_table)
{
	char out[2048];
	for (size_t i = 0; i < MP_ARRAY_LEN(lex_cases); i++) {
		const struct lex_case *c = &lex_cases[i];
		size_t n = c->n != 0 ? c->n : strlen(c->in);
		render(c->in, n, false, out, sizeof(out));
		if (strcmp(out, c->want) != 0) {
			char m[1024];
			snprintf(m, sizeof(m), "case %zu \"%.200s\": got %.300s want %.300s", i, c->in, out,
				 c->want);
			t_fail(__FILE__, __LINE__, m);
		}
	}
}

TEST(conf_lex_param)
{
	char out[512];
	render("daemon off", 10, true, out, sizeof(out));
	CHECK_STR(out, "!unexpected end of parameter, expecting \";\"@1");
	render("daemon off;", 11, true, out, sizeof(out));
	CHECK_STR(out, "[daemon|off];$");
}

/* nginx's NGX_CONF_BUFFER: a word of CONF_TOKEN_MAX-1 bytes passes, one of
 * CONF_TOKEN_MAX does not (quoted: the closing quote counts). */
TEST(conf_lex_token_limit)
{
	size_t big = CONF_TOKEN_MAX + 16;
	char *in = malloc(big + 8);
	char *out = malloc(2 * big);
	for (size_t len = CONF_TOKEN_MAX - 1; len <= CONF_TOKEN_MAX + 1; len++) {
		in[0] = 'a';
		in[1] = ' ';
		memset(in + 2, 'x', len);
		in[2 + len] = ';';
		render(in, len + 3, false, out, 2 * big);
		if (len < CONF_TOKEN_MAX) {
			CHECK(out[0] == '[' && strcmp(out + strlen(out) - 3, "];$") == 0);
		} else {
			CHECK_STR(out, "!too long parameter \"xxxxxxxxxx...\" started@1");
		}
	}
	for (size_t len = CONF_TOKEN_MAX - 3; len <= CONF_TOKEN_MAX; len++) {
		/* a "quoted" word: content + closing quote */
		in[0] = 'a';
		in[1] = ' ';
		in[2] = '"';
		memset(in + 3, 'x', len);
		in[3 + len] = '"';
		in[4 + len] = ';';
		render(in, len + 5, false, out, 2 * big);
		if (len + 1 < CONF_TOKEN_MAX) {
			CHECK(out[0] == '[');
		} else if (len + 1 == CONF_TOKEN_MAX) {
			CHECK_STR(out, "!too long parameter \"xxxxxxxxxx...\" started@1");
		} else {
			CHECK_STR(out, "!too long parameter, probably missing terminating \"\"\" character@1");
		}
	}
	/* the error names the line where the word started */
	memcpy(in, "a\n'", 3);
	memset(in + 3, '\n', CONF_TOKEN_MAX + 2);
	render(in, CONF_TOKEN_MAX + 5, false, out, 2 * big);
	CHECK_STR(out, "!too long parameter, probably missing terminating \"'\" character@2");
	free(in);
	free(out);
}

TEST(conf_lex_args_limit)
{
	size_t n = CONF_ARGS_MAX + 1;
	char *in = malloc(2 * n + 2);
	char *out = malloc(8 * n + 64);
	for (size_t words = CONF_ARGS_MAX - 1; words <= CONF_ARGS_MAX + 1; words++) {
		size_t o = 0;
		for (size_t i = 0; i < words; i++) {
			in[o++] = 'w';
			in[o++] = ' ';
		}
		in[o++] = ';';
		render(in, o, false, out, 8 * n + 64);
		if (words <= CONF_ARGS_MAX) {
			CHECK(strcmp(out + strlen(out) - 3, "];$") == 0);
		} else {
			CHECK_STR(out, "!too many parameters in \"w\" directive@1");
		}
	}
	free(in);
	free(out);
}

/* ---- numbers and units ---------------------------------------------------- */

struct unit_case {
	const char *in;
	int64_t want; /* -1: invalid */
};

static void check_units(const char *what, enum mp_status (*fn)(struct mp_str, int64_t *),
			const struct unit_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int64_t v = -1;
		size_t len = strlen(cases[i].in);
		struct mp_str s = { t_guarded(cases[i].in, len), len };
		enum mp_status st = fn(s, &v);
		int64_t got = st == MP_OK ? v : -1;
		if (got != cases[i].want) {
			char m[256];
			snprintf(m, sizeof(m), "%s(\"%s\"): got %lld want %lld", what, cases[i].in,
				 (long long)got, (long long)cases[i].want);
			t_fail(__FILE__, __LINE__, m);
		}
	}
}

static enum mp_status time_ms(struct mp_str s, int64_t *out)
{
	return conf_parse_time(s, false, out);
}

static enum mp_status time_s(struct mp_str s, int64_t *out)
{
	return conf_parse_time(s, true, out);
}

TEST(conf_units_time_ms)
{
	static const struct unit_case cases[] = {
		{ "0", 0 },
		{ "1", 1000 },
		{ "1s", 1000 },
		{ "1ms", 1 },
		{ "1m", 60000 },
		{ "1h", 3600000 },
		{ "1d", 86400000 },
		{ "1w", 604800000 },
		{ "1M", -1 }, /* months and years only where nginx reads seconds */
		{ "1y", -1 },
		{ "1h 30m", 5400000 },
		{ "1h30m", 5400000 },
		{ "1h   30m", 5400000 },
		{ "1w2d3h4m5s6ms", 788645006 },
		{ "30m 1h", -1 },
		{ "1s 500ms", 1500 },
		{ "500ms 1s", -1 },
		{ "1s1s", -1 },
		{ "1ms1ms", -1 },
		{ "1h30", 3630000 },
		{ "5 ", 5000 },
		{ " 5", 5000 },
		{ "5 s", -1 },
		{ "", -1 },
		{ "s", -1 },
		{ "ms", -1 },
		{ "1x", -1 },
		{ "-1", -1 },
		{ "1.5s", -1 },
		{ "9223372036854775807ms", INT64_MAX },
		{ "9223372036854775808ms", -1 },
		{ "9223372036854775", 9223372036854775000 },
		{ "9223372036854776", -1 },
		{ "9223372036854775s", 9223372036854775000 },
		{ "106751991167d", 9223372036828800000 },
		{ "106751991168d", -1 },
		{ "99999999999999999999", -1 },
	};
	check_units("time_ms", time_ms, cases, MP_ARRAY_LEN(cases));
}

TEST(conf_units_time_s)
{
	static const struct unit_case cases[] = {
		{ "1", 1 },
		{ "1s", 1 },
		{ "1m", 60 },
		{ "1M", 2592000 },
		{ "1y", 31536000 },
		{ "1y1M", 34128000 },
		{ "1M1y", -1 },
		{ "1ms", -1 },
		{ "30m::", -1 },
		{ "9223372036854775807", INT64_MAX },
		{ "9223372036854775808", -1 },
		{ "292471208677y", 9223372036837872000 },
		{ "292471208678y", -1 },
	};
	check_units("time_s", time_s, cases, MP_ARRAY_LEN(cases));
}

TEST(conf_units_size)
{
	char max[32], over[32], maxk[32], overk[32];
	snprintf(max, sizeof(max), "%lld", (long long)PTRDIFF_MAX);
	snprintf(over, sizeof(over), "%llu", (unsigned long long)PTRDIFF_MAX + 1);
	snprintf(maxk, sizeof(maxk), "%lldk", (long long)(PTRDIFF_MAX / 1024));
	snprintf(overk, sizeof(overk), "%lldk", (long long)(PTRDIFF_MAX / 1024) + 1);
	const struct unit_case cases[] = {
		{ "0", 0 },
		{ "1", 1 },
		{ "1k", 1024 },
		{ "1K", 1024 },
		{ "1m", 1048576 },
		{ "16M", 16777216 },
		{ "1g", -1 },
		{ "k", -1 },
		{ "", -1 },
		{ "-1", -1 },
		{ "1.5k", -1 },
		{ "1kk", -1 },
		{ " 1", -1 },
		{ max, (int64_t)PTRDIFF_MAX },
		{ over, -1 },
		{ maxk, (int64_t)(PTRDIFF_MAX / 1024) * 1024 },
		{ overk, -1 },
	};
	check_units("size", conf_parse_size, cases, MP_ARRAY_LEN(cases));
}

TEST(conf_units_offset_atoi)
{
	static const struct unit_case off[] = {
		{ "1g", 1073741824 },
		{ "2G", 2147483648 },
		{ "8589934591g", 9223372035781033984 },
		{ "8589934592g", -1 },
		{ "1t", -1 },
	};
	static const struct unit_case num[] = {
		{ "0", 0 },
		{ "007", 7 },
		{ "123", 123 },
		{ "", -1 },
		{ "+1", -1 },
		{ "-1", -1 },
		{ "1 ", -1 },
		{ "9223372036854775807", INT64_MAX },
		{ "9223372036854775808", -1 },
	};
	check_units("offset", conf_parse_offset, off, MP_ARRAY_LEN(off));
	check_units("atoi", conf_atoi, num, MP_ARRAY_LEN(num));
}

TEST(conf_glob_match_table)
{
	static const struct {
		const char *pat, *name;
		bool want;
	} rows[] = {
		{ "*.conf", "a.conf", true },
		{ "*.conf", "a.conf.bak", false },
		{ "*.conf", ".hidden.conf", false },
		{ ".*.conf", ".hidden.conf", true },
		{ "*", "x", true },
		{ "?", "xy", false },
		{ "a?c", "abc", true },
		{ "[a-c]x", "bx", true },
		{ "[!a-c]x", "bx", false },
		{ "[^a-c]x", "dx", true },
		{ "[]]", "]", true },
		{ "[ab", "[ab", true },
		{ "\\*", "*", true },
		{ "\\*", "a", false },
		{ "*a*b*c*", "xxaxxbxxcxx", true },
		{ "*a*b*c*d", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", false },
		{ "", "", true },
		{ "", "a", false },
		{ "*", "", true },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		if (conf_glob_match(rows[i].pat, rows[i].name) != rows[i].want) {
			char m[128];
			snprintf(m, sizeof(m), "row %zu: \"%s\" vs \"%s\"", i, rows[i].pat, rows[i].name);
			t_fail(__FILE__, __LINE__, m);
		}
	}
}
