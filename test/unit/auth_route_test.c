#include "t.h"

#include "../../proto/auth_route.h"

#define S(x) ((struct mp_str){ (x), sizeof(x) - 1 })

static const struct conf_auth_backend table[] = {
	{ .user = "*@example.com" },     /* 0 */
	{ .user = "alice@example.com" }, /* 1: exact beats the earlier domain entry */
	{ .user = "*" },                 /* 2 */
	{ .user = "Bob@Example.COM" },   /* 3 */
	{ .user = "*@EXAMPLE.org" },     /* 4 */
	{ .user = "*@example.com" },     /* 5: duplicate, never chosen */
	{ .user = "*" },                 /* 6: duplicate, never chosen */
	{ .user = "alice@example.com" }, /* 7: duplicate, never chosen */
	{ .user = "*x" },                /* 8: malformed pattern: matches nothing */
	{ .user = "*@" },                /* 9: malformed pattern */
	{ .user = NULL },                /* 10: skipped */
	{ .user = "plainuser" },         /* 11: login without a domain */
	{ .user = "*@sub.example.com" }, /* 12 */
};

TEST(auth_route_precedence)
{
	static const struct {
		struct mp_str login;
		int want; /* index into table, -1 = NULL */
	} rows[] = {
		{ S("alice@example.com"), 1 },
		{ S("ALICE@EXAMPLE.COM"), 1 },
		{ S("carol@example.com"), 0 },
		{ S("carol@Example.Com"), 0 },
		{ S("bob@example.com"), 3 },
		{ S("dave@example.org"), 4 },
		{ S("eve@other.net"), 2 },
		{ S("noat"), 2 },
		{ S("plainuser"), 11 },
		{ S("PlainUser"), 11 },
		{ S("plainuser@example.com"), 0 },
		{ S("alice@example.com.evil.net"), 2 },
		{ S("alice@evil.net.example.com"), 2 },
		{ S("x@sub.example.com"), 12 },
		{ S("a@b@example.com"), 0 },     /* the last '@' starts the domain */
		{ S("a@example.com@evil.net"), 2 },
		{ S("alice@"), 2 },
		{ S("@example.com"), 0 },
		{ S(""), 2 },
		{ S("*"), 2 },
		{ S("*@example.com"), 0 },      /* a pattern is never an exact login */
		{ S("*x"), 2 },
		{ S("alice@example.com\0"), 2 }, /* NUL is part of the login */
		{ S("alice@example.com "), 2 },
		{ S("x@"), 2 },
	};
	for (size_t i = 0; i < MP_ARRAY_LEN(rows); i++) {
		const char *g = t_guarded(rows[i].login.p, rows[i].login.n);
		const struct conf_auth_backend *b =
			auth_route_match(table, MP_ARRAY_LEN(table), (struct mp_str){ g, rows[i].login.n });
		long got = b == NULL ? -1 : (long)(b - table);
		if (got != rows[i].want) {
			char m[128];
			snprintf(m, sizeof(m), "login row %zu: got %ld want %d", i, got, rows[i].want);
			t_fail(__FILE__, __LINE__, m);
		}
	}
}

TEST(auth_route_no_wildcard)
{
	/* without "*" an unknown login matches nothing */
	const struct conf_auth_backend *b;
	b = auth_route_match(table + 3, 2, S("eve@other.net"));
	CHECK(b == NULL);
	b = auth_route_match(table + 3, 2, S("x@example.org"));
	CHECK(b == &table[4]);
	b = auth_route_match(table, 0, S("alice@example.com"));
	CHECK(b == NULL);
	b = auth_route_match(NULL, 0, S("alice@example.com"));
	CHECK(b == NULL);
	/* only malformed patterns and a NULL user */
	b = auth_route_match(table + 8, 3, S("x@example.com"));
	CHECK(b == NULL);
	b = auth_route_match(table + 8, 3, (struct mp_str){ NULL, 0 });
	CHECK(b == NULL);
	/* first "*" wins */
	b = auth_route_match(table + 5, 2, S("nobody"));
	CHECK(b == &table[6]);
}
