#include "smtp_parse.h"

#include "line.h"

#include <string.h>

/* Argument shapes, one per verb (a table, not a ladder). */
enum smtp_argspec {
	ARGS_NONE,  /* no argument; trailing SPs tolerated */
	ARGS_HOST,  /* exactly one word */
	ARGS_AUTH,  /* mech [initial-response] */
	ARGS_MAIL,  /* FROM:<path> [params] */
	ARGS_RCPT,  /* TO:<path> [params] */
	ARGS_ANY,   /* optional free text: see rest */
	ARGS_TEXT,  /* mandatory free text: args[0] = rest */
	ARGS_BDAT,  /* size [LAST] */
};

static const struct {
	const char *name;
	enum smtp_cmd_id id;
	enum smtp_argspec args;
} smtp_cmds[] = {
	{ "HELO", SMTP_HELO, ARGS_HOST },
	{ "EHLO", SMTP_EHLO, ARGS_HOST },
	{ "AUTH", SMTP_AUTH, ARGS_AUTH },
	{ "MAIL", SMTP_MAIL, ARGS_MAIL },
	{ "RCPT", SMTP_RCPT, ARGS_RCPT },
	{ "RSET", SMTP_RSET, ARGS_NONE },
	{ "NOOP", SMTP_NOOP, ARGS_ANY },
	{ "QUIT", SMTP_QUIT, ARGS_NONE },
	{ "STARTTLS", SMTP_STARTTLS, ARGS_NONE },
	{ "VRFY", SMTP_VRFY, ARGS_TEXT },
	{ "EXPN", SMTP_EXPN, ARGS_TEXT },
	{ "HELP", SMTP_HELP, ARGS_ANY },
	{ "DATA", SMTP_DATA, ARGS_NONE },
	{ "BDAT", SMTP_BDAT, ARGS_BDAT },
};

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static struct mp_str trim_sp(struct mp_str s)
{
	while (s.n > 0 && s.p[0] == ' ') {
		s.p++;
		s.n--;
	}
	while (s.n > 0 && s.p[s.n - 1] == ' ') {
		s.n--;
	}
	return s;
}

/* Split s on runs of SP into at most max slices;
 * MP_INVALID if there are more. */
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

/*
 * "FROM:<path> params" / "TO:<path> params" (RFC 5321 §4.1.1.2-3). s is the
 * trimmed rest of the line. A path in angle brackets may hold a quoted local
 * part (RFC 5321 §4.1.2) in which SP and '>' are data and '\' quotes the
 * next byte.
 */
static enum mp_status parse_path(struct mp_str s, const char *kw, bool empty_ok,
				 struct mp_str *path, struct mp_str *params)
{
	size_t kl = strlen(kw);
	const char *p, *end = s.p + s.n;

	if (!str_has_prefix_nocase(s, kw)) {
		return MP_INVALID;
	}
	p = s.p + kl;
	/* Postfix (and most MTAs) accept "MAIL FROM: <a@b>". */
	while (p < end && *p == ' ') {
		p++;
	}
	if (p == end) {
		return MP_INVALID;
	}
	const char *a, *z;
	if (*p == '<') {
		bool quoted = false;
		a = ++p;
		for (;;) {
			if (p == end) {
				return MP_INVALID;
			}
			if (quoted && *p == '\\') {
				if (end - p < 2) {
					return MP_INVALID;
				}
				p += 2;
				continue;
			}
			if (*p == '"') {
				quoted = !quoted;
			} else if (!quoted && *p == '>') {
				break;
			} else if (!quoted && *p == ' ') {
				/* Outside quotes a path has no SP (RFC 5321 §4.1.2). */
				return MP_INVALID;
			}
			p++;
		}
		z = p++;
		if (p < end && *p != ' ') {
			return MP_INVALID;
		}
	} else {
		/* No brackets: tolerated like Postfix without
		 * strict_rfc821_envelopes; the path ends at the next SP. */
		a = p;
		while (p < end && *p != ' ') {
			p++;
		}
		z = p;
	}
	if (z == a && !empty_ok) {
		return MP_INVALID;
	}
	*path = (struct mp_str){ a, (size_t)(z - a) };
	*params = trim_sp((struct mp_str){ p, (size_t)(end - p) });
	return MP_OK;
}

enum mp_status smtp_parse_cmd(const char *p, size_t n, struct smtp_cmd *out)
{
	struct smtp_cmd c;
	size_t i, k;

	memset(&c, 0, sizeof(c));
	if (n == 0 || p[0] == ' ' || str_has_ctl_crlfnul((struct mp_str){ p, n })) {
		return MP_INVALID;
	}
	c.line = (struct mp_str){ p, n };
	for (i = 0; i < n && p[i] != ' '; i++) {
	}
	c.verb = (struct mp_str){ p, i };
	c.rest = trim_sp((struct mp_str){ p + i, n - i });
	c.params = (struct mp_str){ p + n, 0 };

	for (k = 0; k < MP_ARRAY_LEN(smtp_cmds); k++) {
		if (str_eq_nocase(c.verb, smtp_cmds[k].name)) {
			break;
		}
	}
	if (k == MP_ARRAY_LEN(smtp_cmds)) {
		c.id = SMTP_UNKNOWN;
		*out = c;
		return MP_OK;
	}
	c.id = smtp_cmds[k].id;

	switch (smtp_cmds[k].args) {
	case ARGS_NONE:
		if (c.rest.n != 0) {
			return MP_INVALID;
		}
		break;
	case ARGS_HOST:
		if (split_args(c.rest, c.args, 1, &c.nargs) != MP_OK || c.nargs != 1) {
			return MP_INVALID;
		}
		break;
	case ARGS_AUTH:
		if (split_args(c.rest, c.args, 2, &c.nargs) != MP_OK || c.nargs < 1) {
			return MP_INVALID;
		}
		break;
	case ARGS_MAIL:
	case ARGS_RCPT:
		if (smtp_cmds[k].args == ARGS_MAIL) {
			/* "MAIL FROM:<>" is the null reverse-path (RFC 5321 §4.5.5). */
			if (parse_path(c.rest, "FROM:", true, &c.args[0], &c.params) != MP_OK) {
				return MP_INVALID;
			}
		} else if (parse_path(c.rest, "TO:", false, &c.args[0], &c.params) != MP_OK) {
			return MP_INVALID;
		}
		c.nargs = 1;
		break;
	case ARGS_ANY:
		break;
	case ARGS_TEXT:
		if (c.rest.n == 0) {
			return MP_INVALID;
		}
		c.args[0] = c.rest;
		c.nargs = 1;
		break;
	case ARGS_BDAT:
		/* RFC 3030 §2: "BDAT" SP chunk-size [ SP end-marker ]. */
		if (split_args(c.rest, c.args, 2, &c.nargs) != MP_OK || c.nargs < 1) {
			return MP_INVALID;
		}
		for (i = 0; i < c.args[0].n; i++) {
			if (!is_digit((unsigned char)c.args[0].p[i])) {
				return MP_INVALID;
			}
		}
		if (c.nargs == 2 && !str_eq_nocase(c.args[1], "LAST")) {
			return MP_INVALID;
		}
		break;
	}
	*out = c;
	return MP_OK;
}

/* RFC 5321 §4.2: Reply-code = %x32-35 %x30-35 %x30-39. */
static bool reply_code(const char *p, unsigned *code)
{
	unsigned char a = (unsigned char)p[0], b = (unsigned char)p[1], c = (unsigned char)p[2];

	if (a < '2' || a > '5' || b < '0' || b > '5' || !is_digit(c)) {
		return false;
	}
	*code = (unsigned)(a - '0') * 100 + (unsigned)(b - '0') * 10 + (unsigned)(c - '0');
	return true;
}

/* RFC 3463 §2: class "." subject "." detail, class 2/4/5, subject and
 * detail 1*3digit; then SP or the end of the text. */
static size_t enhanced_code(struct mp_str t)
{
	size_t i = 0;

	if (t.n < 5 || (t.p[0] != '2' && t.p[0] != '4' && t.p[0] != '5') || t.p[1] != '.') {
		return 0;
	}
	i = 2;
	for (int part = 0; part < 2; part++) {
		size_t d = 0;
		while (i < t.n && d < 4 && is_digit((unsigned char)t.p[i])) {
			i++;
			d++;
		}
		if (d == 0 || d > 3) {
			return 0;
		}
		if (part == 0) {
			if (i == t.n || t.p[i] != '.') {
				return 0;
			}
			i++;
		}
	}
	if (i < t.n && t.p[i] != ' ') {
		return 0;
	}
	return i;
}

enum mp_status smtp_parse_reply(const char *p, size_t n, size_t max, struct smtp_reply *out)
{
	struct smtp_reply r;
	size_t pos = 0;

	memset(&r, 0, sizeof(r));
	for (;;) {
		size_t len, consumed;
		unsigned code;
		enum mp_status st = line_frame(p + pos, n - pos, max - pos, &len, &consumed);

		if (st != MP_OK) {
			return st;
		}
		const char *l = p + pos;
		if (len < 3 || !reply_code(l, &code)
		    || str_has_ctl_crlfnul((struct mp_str){ l, len })) {
			return MP_INVALID;
		}
		if (r.nlines == 0) {
			r.code = code;
		} else if (code != r.code) {
			return MP_INVALID;
		}
		bool last;
		struct mp_str text;
		if (len == 3) {
			last = true;
			text = (struct mp_str){ l + 3, 0 };
		} else if (l[3] == ' ' || l[3] == '-') {
			last = l[3] == ' ';
			text = (struct mp_str){ l + 4, len - 4 };
		} else {
			return MP_INVALID;
		}
		if (r.nlines == 0) {
			r.first_text = text;
		}
		r.last_text = text;
		r.nlines++;
		pos += consumed;
		if (last) {
			break;
		}
	}
	size_t e = enhanced_code(r.first_text);
	r.has_ext = e > 0;
	r.ext = (struct mp_str){ r.first_text.p, e };
	r.complete = true;
	r.len = pos;
	*out = r;
	return MP_OK;
}

bool smtp_reply_find_keyword(const char *p, size_t n, const char *kw, struct mp_str *params)
{
	const char *end = p + n;
	bool first = true;

	if (kw[0] == '\0') {
		return false;
	}
	while (p < end) {
		const char *lf = memchr(p, '\n', (size_t)(end - p));
		const char *le = lf != NULL ? lf : end;
		const char *next = lf != NULL ? lf + 1 : end;

		if (le > p && le[-1] == '\r') {
			le--;
		}
		/* The first line's first word is the server's domain, not a
		 * keyword (RFC 5321 §4.1.1.1 ehlo-ok-rsp). */
		if (!first && le - p >= 4) {
			const char *w = p + 4, *we = w;
			while (we < le && *we != ' ') {
				we++;
			}
			if (str_eq_nocase((struct mp_str){ w, (size_t)(we - w) }, kw)) {
				if (params != NULL) {
					while (we < le && *we == ' ') {
						we++;
					}
					*params = (struct mp_str){ we, (size_t)(le - we) };
				}
				return true;
			}
		}
		first = false;
		p = next;
	}
	return false;
}

bool smtp_reply_has_keyword(const char *p, size_t n, const char *kw)
{
	return smtp_reply_find_keyword(p, n, kw, NULL);
}

size_t smtp_xtext_encode(char *dst, size_t cap, struct mp_str s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (size_t i = 0; i < s.n; i++) {
		unsigned char c = (unsigned char)s.p[i];
		/* RFC 3461 §4: xchar = "!".."~" except "+" and "=". */
		if (c >= '!' && c <= '~' && c != '+' && c != '=') {
			if (cap - o < 1) {
				return 0;
			}
			dst[o++] = (char)c;
		} else {
			if (cap - o < 3) {
				return 0;
			}
			dst[o++] = '+';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	return o;
}
