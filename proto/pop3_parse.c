#include "pop3_parse.h"

#include "line.h"

#include <string.h>

/* Argument shapes, one per verb (a table, not a ladder). */
enum pop3_argspec {
	ARGS_NONE,   /* no argument; trailing SPs tolerated */
	ARGS_REST,   /* exactly one: the verbatim rest of the line (USER, PASS) */
	ARGS_APOP,   /* name digest */
	ARGS_AUTH,   /* [mech [initial-response]] */
};

static const struct {
	const char *name;
	enum pop3_cmd_id id;
	enum pop3_argspec args;
} pop3_cmds[] = {
	{ "USER", POP3_USER, ARGS_REST },
	{ "PASS", POP3_PASS, ARGS_REST },
	{ "APOP", POP3_APOP, ARGS_APOP },
	{ "AUTH", POP3_AUTH, ARGS_AUTH },
	{ "CAPA", POP3_CAPA, ARGS_NONE },
	{ "NOOP", POP3_NOOP, ARGS_NONE },
	{ "QUIT", POP3_QUIT, ARGS_NONE },
	{ "STLS", POP3_STLS, ARGS_NONE },
};

static bool is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/*
 * Split s on runs of SP into at most max slices; MP_INVALID if there are
 * more. Leading and trailing SPs produce no empty slice.
 */
static enum mp_status split_args(struct mp_str s, struct mp_str *args, size_t max,
				 size_t *nargs)
{
	const char *p = s.p, *end = s.p + s.n;
	size_t k = 0;

	for (;;) {
		while (p < end && *p == ' ') {
			p++;
		}
		if (p == end) {
			break;
		}
		const char *w = p;
		while (p < end && *p != ' ') {
			p++;
		}
		if (k == max) {
			return MP_INVALID;
		}
		args[k].p = w;
		args[k].n = (size_t)(p - w);
		k++;
	}
	*nargs = k;
	return MP_OK;
}

enum mp_status pop3_parse_cmd(const char *p, size_t n, struct pop3_cmd *out)
{
	struct pop3_cmd c;
	size_t i;

	memset(&c, 0, sizeof(c));
	if (n == 0 || p[0] == ' ' || str_has_ctl_crlfnul((struct mp_str){ p, n })) {
		return MP_INVALID;
	}
	for (i = 0; i < n && p[i] != ' '; i++) {
	}
	c.verb = (struct mp_str){ p, i };
	/* RFC 1939 §3: keyword and argument are separated by a single SP. */
	if (i < n) {
		c.rest = (struct mp_str){ p + i + 1, n - i - 1 };
	} else {
		c.rest = (struct mp_str){ p + n, 0 };
	}

	size_t k;
	for (k = 0; k < MP_ARRAY_LEN(pop3_cmds); k++) {
		if (str_eq_nocase(c.verb, pop3_cmds[k].name)) {
			break;
		}
	}
	if (k == MP_ARRAY_LEN(pop3_cmds)) {
		c.id = POP3_UNKNOWN;
		*out = c;
		return MP_OK;
	}
	c.id = pop3_cmds[k].id;

	switch (pop3_cmds[k].args) {
	case ARGS_NONE:
		if (split_args(c.rest, c.args, 0, &c.nargs) != MP_OK) {
			return MP_INVALID;
		}
		break;
	case ARGS_REST:
		if (c.rest.n == 0) {
			return MP_INVALID;
		}
		c.args[0] = c.rest;
		c.nargs = 1;
		break;
	case ARGS_APOP:
		if (split_args(c.rest, c.args, 2, &c.nargs) != MP_OK || c.nargs != 2
		    || c.args[1].n != POP3_APOP_DIGEST_LEN) {
			return MP_INVALID;
		}
		for (i = 0; i < c.args[1].n; i++) {
			if (!is_hex((unsigned char)c.args[1].p[i])) {
				return MP_INVALID;
			}
		}
		break;
	case ARGS_AUTH:
		if (split_args(c.rest, c.args, 2, &c.nargs) != MP_OK) {
			return MP_INVALID;
		}
		break;
	}
	*out = c;
	return MP_OK;
}

enum mp_status pop3_parse_reply(const char *p, size_t n, size_t max, struct pop3_reply *out)
{
	size_t len, consumed;
	enum mp_status st = line_frame(p, n, max, &len, &consumed);
	struct pop3_reply r;
	size_t skip;

	if (st != MP_OK) {
		return st;
	}
	if (str_has_ctl_crlfnul((struct mp_str){ p, len })) {
		return MP_INVALID;
	}
	if (len >= 3 && memcmp(p, "+OK", 3) == 0) {
		r.kind = POP3_REPLY_OK;
		skip = 3;
	} else if (len >= 4 && memcmp(p, "-ERR", 4) == 0) {
		r.kind = POP3_REPLY_ERR;
		skip = 4;
	} else if (len >= 1 && p[0] == '+') {
		/* RFC 5034 §4: continue-req = "+" SP [base64] CRLF; a lone "+" is
		 * tolerated as an empty challenge. */
		r.kind = POP3_REPLY_CONT;
		skip = 1;
	} else {
		return MP_INVALID;
	}
	if (skip < len) {
		if (p[skip] != ' ') {
			return MP_INVALID;
		}
		skip++;
	}
	r.text = (struct mp_str){ p + skip, len - skip };
	r.len = consumed;
	*out = r;
	return MP_OK;
}

bool pop3_greeting_has_xclient(const struct pop3_reply *greeting)
{
	return greeting->kind == POP3_REPLY_OK
	       && str_has_prefix_nocase(greeting->text, "[XCLIENT]");
}
