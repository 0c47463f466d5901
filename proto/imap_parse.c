/*
 * Pure IMAP parsers. The command parser re-parses a command from its start on
 * every call; it keeps no state between calls except what the caller passes
 * in struct imap_parse_ctx (how many continuations were sent), so a split
 * read can never leave a stale pointer behind (nginx's split-read bug class).
 */
#include "imap_parse.h"

#include <string.h>

/* nginx 1.21.0 tag set, see IMAP_TAG_MAX. */
static bool is_tag_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_';
}

/* RFC 3501 §9: ATOM-CHAR = any CHAR except atom-specials
 * (atom-specials = "(" / ")" / "{" / SP / CTL / "%" / "*" / DQUOTE / "\" / "]"). */
static bool is_atom_char(unsigned char c)
{
	if (c <= 0x1f || c >= 0x7f) {
		return false;
	}
	return strchr("(){ %*\"\\]", c) == NULL;
}

/* An unquoted argument: RFC 3501 list-char = ATOM-CHAR / list-wildcards /
 * resp-specials, i.e. astring's chars plus "%" and "*". A login such as
 * user*master (Dovecot's master-user separator) sent unquoted is accepted, as
 * nginx does; "\", "(" , "{", DQUOTE, 8-bit and CTLs are not. */
static bool is_arg_char(unsigned char c)
{
	return is_atom_char(c) || c == ']' || c == '%' || c == '*';
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* at + v + tail > max, without overflow. */
static bool exceeds(size_t at, size_t v, size_t tail, size_t max)
{
	if (at > max) {
		return true;
	}
	if (v > max - at) {
		return true;
	}
	return tail > max - at - v;
}

/*
 * A rejected line ending in "+}" (before its CR LF) announced a
 * non-synchronising literal: the client sends the bytes without waiting, so
 * they would be parsed as commands. nginx checks exactly these two bytes and
 * closes; we do the same (erring towards closing). lf = offset of the LF.
 */
static bool line_ends_nonsync(const char *p, size_t lf)
{
	size_t q = lf;
	if (q > 0 && p[q - 1] == '\r') {
		q--;
	}
	return q >= 2 && p[q - 1] == '}' && p[q - 2] == '+';
}

/* Publish the outcome of a failed or incomplete parse: only the fields that
 * mean something for it, every argument slice cleared. */
static enum mp_status fail(struct imap_cmd *out, enum mp_status st, struct mp_str tag, size_t len,
			   bool recoverable, size_t literals)
{
	memset(out, 0, sizeof(*out));
	out->tag = tag;
	out->len = len;
	out->recoverable = recoverable;
	out->literals = literals;
	return st;
}

static bool add_arg(struct imap_cmd *c, enum imap_arg_type type, const char *p, size_t n)
{
	if (c->nargs == IMAP_ARGS_MAX) {
		return false;
	}
	c->args[c->nargs].type = type;
	c->args[c->nargs].v.p = p;
	c->args[c->nargs].v.n = n;
	c->nargs++;
	return true;
}

enum mp_status imap_parse_command(const struct imap_parse_ctx *ctx, const char *p, size_t n,
				  struct imap_cmd *out)
{
	struct imap_cmd c;
	struct mp_str tag = { p, 0 };
	size_t max = ctx->max;
	/* Never look past max: a command that needs byte max is too long. */
	size_t end = MP_MIN(n, max);
	size_t i = 0, j, k, start, depth = 0, syncs = 0, sp = 0;
	bool need_sep, recoverable;

	memset(&c, 0, sizeof(c));

	/* tag SP */
	while (i < end && is_tag_char((unsigned char)p[i])) {
		if (i == IMAP_TAG_MAX) {
			goto invalid;
		}
		i++;
	}
	if (i == end) {
		goto incomplete;
	}
	if (i == 0 || p[i] != ' ') {
		goto invalid;
	}
	tag.n = i;
	i++;

	/* command name: an atom, exactly one SP after the tag */
	start = i;
	while (i < end && is_atom_char((unsigned char)p[i])) {
		i++;
	}
	if (i == end) {
		goto incomplete;
	}
	if (i == start) {
		goto invalid;
	}
	c.name.p = p + start;
	c.name.n = i - start;

	/*
	 * Arguments. need_sep: the previous token was a value, so the next value
	 * needs a SP first; only SP, ")" or the line end may follow a value. This
	 * also enforces nginx 1.29.6's rule after a literal's data.
	 */
	need_sep = true;
	for (;;) {
		if (i == end) {
			goto incomplete;
		}
		unsigned char ch = (unsigned char)p[i];
		if (ch == '\r') {
			if (i + 1 == end) {
				goto incomplete;
			}
			if (p[i + 1] != '\n') {
				/* RFC 3501 §2.2: lines end in CRLF; a lone CR is garbage */
				i++;
				goto invalid;
			}
			i += 2;
			break;
		}
		if (ch == '\n') {
			/* bare LF accepted, as nginx does */
			i++;
			break;
		}
		if (ch == ' ') {
			i++;
			need_sep = false;
			continue;
		}
		if (ch == ')') {
			if (depth == 0 || !add_arg(&c, IMAP_LIST_CLOSE, p + i, 1)) {
				goto invalid;
			}
			depth--;
			i++;
			need_sep = true;
			continue;
		}
		if (need_sep) {
			goto invalid;
		}
		/* refuse a value beyond the limit at its first byte, before a
		 * literal's continuation is asked for or its data awaited */
		if (c.nargs == IMAP_ARGS_MAX) {
			goto invalid;
		}
		if (ch == '(') {
			if (depth == IMAP_LIST_DEPTH_MAX || !add_arg(&c, IMAP_LIST_OPEN, p + i, 1)) {
				goto invalid;
			}
			depth++;
			i++;
			continue;
		}
		need_sep = true;
		if (ch == '"') {
			/* RFC 3501 §9 quoted: QUOTED-CHAR = TEXT-CHAR except DQUOTE and
			 * "\", or "\" DQUOTE / "\\". 8-bit bytes are passed through
			 * (clients send raw UTF-8 here); CR, LF and NUL never are. */
			size_t s0 = sp;
			j = i + 1;
			for (;;) {
				if (j == end) {
					i = j;
					goto incomplete;
				}
				unsigned char b = (unsigned char)p[j];
				if (b == '"') {
					break;
				}
				if (b == '\\') {
					if (j + 1 == end) {
						i = j + 1;
						goto incomplete;
					}
					b = (unsigned char)p[j + 1];
					if (b != '"' && b != '\\') {
						i = j + 1;
						goto invalid;
					}
					j++;
				} else if (b == '\r' || b == '\n' || b == '\0') {
					i = j;
					goto invalid;
				}
				if (sp == ctx->scratch_cap) {
					return fail(out, MP_TOOLONG, tag, j, false, c.literals);
				}
				ctx->scratch[sp++] = (char)b;
				j++;
			}
			/* an empty string points into the input: scratch may be NULL */
			const char *v = sp > s0 ? ctx->scratch + s0 : p + j;
			if (!add_arg(&c, IMAP_QUOTED, v, sp - s0)) {
				goto invalid;
			}
			i = j + 1;
			continue;
		}
		if (ch == '{') {
			/* RFC 3501 §4.3 literal "{" number "}" CRLF *CHAR8, RFC 7888
			 * literal+ "{" number "+}". The number is parsed saturating:
			 * anything above max is refused below, whatever its digits. */
			size_t v = 0;
			bool nonsync = false;
			j = i + 1;
			start = j;
			while (j < end && is_digit((unsigned char)p[j])) {
				size_t d = (size_t)(p[j] - '0');
				v = v > (SIZE_MAX - d) / 10 ? SIZE_MAX : v * 10 + d;
				j++;
			}
			if (j == end) {
				i = j;
				goto incomplete;
			}
			if (j == start) {
				i = j;
				goto invalid;
			}
			if (p[j] == '+') {
				nonsync = true;
				j++;
				if (j == end) {
					i = j;
					goto incomplete;
				}
			}
			if (p[j] != '}') {
				i = j;
				goto invalid;
			}
			j++;
			/* {n+}: the client sends the data without waiting, so refuse
			 * now, before a byte of it arrives; even the shortest ending
			 * (LF, data, LF) would not fit. Nothing can be resynchronised. */
			if (nonsync && exceeds(j, v, 2, max)) {
				return fail(out, MP_TOOLONG, tag, j, false, c.literals);
			}
			if (j == end) {
				i = j;
				goto incomplete;
			}
			if (p[j] == '\r') {
				if (j + 1 == end) {
					i = j + 1;
					goto incomplete;
				}
				if (p[j + 1] != '\n') {
					i = j + 1;
					goto invalid;
				}
				j += 2;
			} else if (p[j] == '\n') {
				j++;
			} else {
				i = j;
				goto invalid;
			}
			/* j = end of the literal's header line. The data and at least
			 * a final LF must fit. A synchronising literal's client now
			 * waits for "+": refusing with a tagged BAD keeps the stream in
			 * step (RFC 3501 §7.5), so that case is recoverable. */
			if (exceeds(j, v, 1, max)) {
				return fail(out, MP_TOOLONG, tag, j, !nonsync, c.literals);
			}
			c.literals++;
			if (!nonsync) {
				if (syncs >= ctx->conts_sent) {
					memset(out, 0, sizeof(*out));
					out->tag = tag;
					out->need_continuation = true;
					out->literals = c.literals;
					return MP_AGAIN;
				}
				syncs++;
			}
			/* the literal's bytes may be anything, CR LF NUL included */
			if (n - j < v) {
				memset(out, 0, sizeof(*out));
				out->tag = tag;
				out->need = j + v;
				out->literals = c.literals;
				return MP_AGAIN;
			}
			if (!add_arg(&c, IMAP_LITERAL, p + j, v)) {
				goto invalid;
			}
			i = j + v;
			continue;
		}
		/* atom, or NIL */
		j = i;
		while (j < end && is_arg_char((unsigned char)p[j])) {
			j++;
		}
		if (j == i) {
			goto invalid;
		}
		enum imap_arg_type type = IMAP_ATOM;
		if (str_eq_nocase((struct mp_str){ p + i, j - i }, "NIL")) {
			type = IMAP_NIL;
		}
		if (!add_arg(&c, type, p + i, j - i)) {
			goto invalid;
		}
		i = j;
	}
	if (depth != 0) {
		/* unbalanced "(": the line's LF (at i - 1) ends the bad line */
		i--;
		goto invalid;
	}
	c.tag = tag;
	c.len = i;
	*out = c;
	return MP_OK;

incomplete:
	/* byte i is needed: beyond max the command can never fit */
	if (end == max) {
		return fail(out, MP_TOOLONG, tag, end, false, c.literals);
	}
	memset(out, 0, sizeof(*out));
	out->tag = tag;
	out->need = n + 1;
	out->literals = c.literals;
	return MP_AGAIN;

invalid:
	/* The bad line ends at the first LF from the offending byte on (that
	 * byte may be the LF itself). Until it arrives we cannot tell the caller
	 * what to drop; if it cannot arrive within max, the line is hopeless. */
	for (k = i; k < end; k++) {
		if (p[k] == '\n') {
			break;
		}
	}
	if (k == end) {
		if (end == max) {
			return fail(out, MP_TOOLONG, tag, k, false, c.literals);
		}
		memset(out, 0, sizeof(*out));
		out->tag = tag;
		out->need = n + 1;
		out->literals = c.literals;
		return MP_AGAIN;
	}
	recoverable = !line_ends_nonsync(p, k);
	return fail(out, MP_INVALID, tag, k + 1, recoverable, c.literals);
}

enum mp_status imap_parse_line(const char *p, size_t n, size_t max, size_t *linelen, size_t *used)
{
	size_t end = MP_MIN(n, max);
	const char *lf = end > 0 ? memchr(p, '\n', end) : NULL;
	size_t k, len;

	*linelen = 0;
	*used = 0;
	if (lf == NULL) {
		return end == max ? MP_TOOLONG : MP_AGAIN;
	}
	k = (size_t)(lf - p);
	len = k;
	if (len > 0 && p[len - 1] == '\r') {
		len--;
	}
	*used = k + 1;
	if (memchr(p, '\r', len) != NULL) {
		return MP_INVALID;
	}
	*linelen = len;
	return MP_OK;
}

/* Frames a response line: *line = content without CRLF, *len = with it. */
static enum mp_status frame_resp(const char *p, size_t n, size_t max, struct mp_str *line,
				 size_t *len)
{
	size_t end = MP_MIN(n, max);
	const char *lf = end > 0 ? memchr(p, '\n', end) : NULL;
	size_t k;

	if (lf == NULL) {
		return end == max ? MP_TOOLONG : MP_AGAIN;
	}
	k = (size_t)(lf - p);
	*len = k + 1;
	if (k > 0 && p[k - 1] == '\r') {
		k--;
	}
	line->p = p;
	line->n = k;
	/* a backend's CR or NUL must not travel on inside a relayed line */
	if (memchr(p, '\r', k) != NULL || memchr(p, '\0', k) != NULL) {
		return MP_INVALID;
	}
	return MP_OK;
}

/* Untagged data ending in "{n}" (RFC 3501 §4.3): MP_OK with *lit set when
 * present, MP_TOOLONG when n > IMAP_RESP_LITERAL_MAX. */
static enum mp_status resp_literal(struct mp_str s, bool *has, size_t *lit)
{
	size_t k;
	uint64_t v;
	enum mp_status st;

	*has = false;
	*lit = 0;
	if (s.n < 3 || s.p[s.n - 1] != '}') {
		return MP_OK;
	}
	k = s.n - 1;
	while (k > 0 && is_digit((unsigned char)s.p[k - 1])) {
		k--;
	}
	if (k == 0 || k == s.n - 1 || s.p[k - 1] != '{') {
		return MP_OK;
	}
	st = str_to_u64((struct mp_str){ s.p + k, s.n - 1 - k }, IMAP_RESP_LITERAL_MAX, &v);
	if (st != MP_OK) {
		return MP_TOOLONG;
	}
	*has = true;
	*lit = (size_t)v;
	return MP_OK;
}

/* RFC 3501 §9 resp-text = ["[" resp-text-code "]" SP] text. The code runs to
 * the first "]" (resp-text-code never contains one). Lenient: the text may be
 * empty, and "]" may end the line. */
static bool resp_text(struct mp_str s, struct mp_str *code, struct mp_str *text)
{
	const char *rb;
	size_t k;

	code->p = s.p;
	code->n = 0;
	*text = s;
	if (s.n == 0 || s.p[0] != '[') {
		return true;
	}
	rb = memchr(s.p, ']', s.n);
	if (rb == NULL) {
		return false;
	}
	k = (size_t)(rb - s.p);
	if (k == 1) {
		return false;
	}
	code->p = s.p + 1;
	code->n = k - 1;
	k++;
	if (k < s.n) {
		if (s.p[k] != ' ') {
			return false;
		}
		k++;
	}
	text->p = s.p + k;
	text->n = s.n - k;
	return true;
}

static enum imap_resp_status status_of(struct mp_str w)
{
	static const struct {
		const char *name;
		enum imap_resp_status st;
	} tab[] = {
		{ "OK", IMAP_ST_OK },   { "NO", IMAP_ST_NO },		{ "BAD", IMAP_ST_BAD },
		{ "BYE", IMAP_ST_BYE }, { "PREAUTH", IMAP_ST_PREAUTH },
	};
	for (size_t t = 0; t < MP_ARRAY_LEN(tab); t++) {
		if (str_eq_nocase(w, tab[t].name)) {
			return tab[t].st;
		}
	}
	return IMAP_ST_NONE;
}

/* Splits s at its first SP: *word before, *rest after (empty if none). */
static void split_word(struct mp_str s, struct mp_str *word, struct mp_str *rest)
{
	const char *spc = s.n > 0 ? memchr(s.p, ' ', s.n) : NULL;
	size_t k = spc != NULL ? (size_t)(spc - s.p) : s.n;

	word->p = s.p;
	word->n = k;
	rest->p = s.p + k;
	rest->n = 0;
	if (spc != NULL) {
		rest->p = s.p + k + 1;
		rest->n = s.n - k - 1;
	}
}

static bool all_chars(struct mp_str s, bool (*ok)(unsigned char))
{
	for (size_t k = 0; k < s.n; k++) {
		if (!ok((unsigned char)s.p[k])) {
			return false;
		}
	}
	return true;
}

/* RFC 3501 §9 tag = 1*<any ASTRING-CHAR except "+"> */
static bool is_resp_tag_char(unsigned char c)
{
	return c != '+' && (is_atom_char(c) || c == ']');
}

enum mp_status imap_parse_response(const char *p, size_t n, size_t max, struct imap_resp *out)
{
	struct imap_resp r;
	struct mp_str line, word, rest;
	enum mp_status st;

	memset(&r, 0, sizeof(r));
	memset(out, 0, sizeof(*out));
	st = frame_resp(p, n, max, &line, &r.len);
	out->len = r.len;
	if (st != MP_OK) {
		return st;
	}
	if (line.n == 0) {
		return MP_INVALID;
	}
	r.code.p = r.text.p = r.tag.p = r.untagged_name.p = line.p;

	if (line.p[0] == '+') {
		/* RFC 3501 §7.5 continue-req = "+" SP (resp-text / base64); a
		 * bare "+" is tolerated (some servers drop the SP when empty) */
		r.kind = IMAP_RESP_CONTINUATION;
		if (line.n > 1 && line.p[1] != ' ') {
			return MP_INVALID;
		}
		rest.p = line.p + MP_MIN(line.n, 2);
		rest.n = line.n - MP_MIN(line.n, 2);
		if (!resp_text(rest, &r.code, &r.text)) {
			return MP_INVALID;
		}
		*out = r;
		return MP_OK;
	}

	if (line.p[0] == '*') {
		r.kind = IMAP_RESP_UNTAGGED;
		if (line.n < 3 || line.p[1] != ' ') {
			return MP_INVALID;
		}
		split_word((struct mp_str){ line.p + 2, line.n - 2 }, &word, &rest);
		if (word.n == 0 || !all_chars(word, is_atom_char)) {
			return MP_INVALID;
		}
		r.status = status_of(word);
		if (r.status != IMAP_ST_NONE) {
			if (!resp_text(rest, &r.code, &r.text)) {
				return MP_INVALID;
			}
			*out = r;
			return MP_OK;
		}
		/* untagged data: "* CAPABILITY ...", "* ID (...)", "* 5 EXISTS" */
		r.untagged_name = word;
		r.text = rest;
		st = resp_literal(rest, &r.literal, &r.literal_len);
		if (st != MP_OK) {
			return st;
		}
		*out = r;
		return MP_OK;
	}

	r.kind = IMAP_RESP_TAGGED;
	split_word(line, &word, &rest);
	if (word.n == 0 || !all_chars(word, is_resp_tag_char)) {
		return MP_INVALID;
	}
	r.tag = word;
	split_word(rest, &word, &rest);
	r.status = status_of(word);
	/* RFC 3501 §7.1: only OK, NO and BAD may be tagged */
	if (r.status != IMAP_ST_OK && r.status != IMAP_ST_NO && r.status != IMAP_ST_BAD) {
		return MP_INVALID;
	}
	if (!resp_text(rest, &r.code, &r.text)) {
		return MP_INVALID;
	}
	*out = r;
	return MP_OK;
}

enum mp_status imap_parse_response_rest(const char *p, size_t n, size_t max,
					struct imap_resp *out)
{
	struct imap_resp r;
	struct mp_str line;
	enum mp_status st;

	memset(&r, 0, sizeof(r));
	memset(out, 0, sizeof(*out));
	st = frame_resp(p, n, max, &line, &r.len);
	out->len = r.len;
	if (st != MP_OK) {
		return st;
	}
	r.kind = IMAP_RESP_UNTAGGED;
	r.code.p = r.tag.p = r.untagged_name.p = line.p;
	r.text = line;
	st = resp_literal(line, &r.literal, &r.literal_len);
	if (st != MP_OK) {
		return st;
	}
	*out = r;
	return MP_OK;
}

bool imap_capability_has(struct mp_str caps, const char *cap)
{
	size_t k = 0;

	while (k < caps.n) {
		while (k < caps.n && caps.p[k] == ' ') {
			k++;
		}
		size_t s = k;
		while (k < caps.n && caps.p[k] != ' ') {
			k++;
		}
		if (k > s && str_eq_nocase((struct mp_str){ caps.p + s, k - s }, cap)) {
			return true;
		}
	}
	return false;
}

size_t imap_quote(char *dst, size_t cap, struct mp_str s)
{
	size_t o = 0;

	if (cap < 2) {
		return 0;
	}
	dst[o++] = '"';
	for (size_t k = 0; k < s.n; k++) {
		unsigned char c = (unsigned char)s.p[k];
		if (c == '\0' || c == '\r' || c == '\n' || c >= 0x80) {
			return 0;
		}
		/* room for an escape, this byte and the closing quote */
		size_t need = (c == '"' || c == '\\') ? 3 : 2;
		if (need > cap - o) {
			return 0;
		}
		if (c == '"' || c == '\\') {
			dst[o++] = '\\';
		}
		dst[o++] = (char)c;
	}
	dst[o++] = '"';
	return o;
}
