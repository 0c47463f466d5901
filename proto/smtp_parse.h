/*
 * SMTP pure parsers: client commands (RFC 5321, RFC 4954 AUTH, RFC 3207
 * STARTTLS), backend replies (single and multi-line, RFC 5321 §4.2.1), EHLO
 * keyword look-up, and xtext (RFC 3461 §4) for XCLIENT values. No I/O, no
 * allocation: every slice handed out points into the caller's input.
 */
#ifndef MP_SMTP_PARSE_H
#define MP_SMTP_PARSE_H

#include "../core/str.h"

/* Most split arguments any command we understand takes (AUTH mech ir,
 * BDAT size LAST). */
#define SMTP_ARGS_MAX 2

enum smtp_cmd_id {
	SMTP_UNKNOWN = 0, /* any other verb: the caller answers 502/500 */
	SMTP_HELO,
	SMTP_EHLO,
	SMTP_AUTH,
	SMTP_MAIL,
	SMTP_RCPT,
	SMTP_RSET,
	SMTP_NOOP,
	SMTP_QUIT,
	SMTP_STARTTLS,
	SMTP_VRFY,
	SMTP_EXPN,
	SMTP_HELP,
	SMTP_DATA,
	SMTP_BDAT,
};

struct smtp_cmd {
	enum smtp_cmd_id id;
	struct mp_str verb;                /* as sent (any case) */
	struct mp_str args[SMTP_ARGS_MAX]; /* see smtp_parse_cmd() */
	size_t nargs;
	struct mp_str rest;   /* after the verb and its SPs, trailing SPs cut; may be empty */
	struct mp_str params; /* MAIL/RCPT: ESMTP parameters after the path, SPs cut; else empty */
	struct mp_str line;   /* the whole line p[0..n): nginx's Auth-SMTP-From/-To value */
};

/*
 * Parse one framed client line p[0..n) (no line end). Verbs are
 * case-insensitive; arguments are separated by runs of SP and trailing SPs
 * are ignored.
 *   HELO host, EHLO host:  args[0] = host; exactly one word (as nginx; Postfix
 *                          would glue several words together).
 *   AUTH mech [ir]:        1-2 args.
 *   MAIL FROM:<path> [params], RCPT TO:<path> [params]: "FROM:"/"TO:" any
 *                          case, optional SPs after the colon (Postfix accepts
 *                          "MAIL FROM: <a@b>"); args[0] = the path without its
 *                          angle brackets (empty for "<>"), nargs = 1; a path
 *                          without brackets runs to the next SP (Postfix
 *                          without strict_rfc821_envelopes). Inside brackets
 *                          SP is allowed only in a quoted local part, which
 *                          may also hold '>' (RFC 5321 §4.1.2).
 *                          params = the rest. line = the whole line.
 *   RSET, QUIT, STARTTLS, DATA: no argument.
 *   NOOP, HELP [arg]:      anything; see rest (RFC 5321 §4.1.1.9, §4.1.1.8).
 *   VRFY s, EXPN s:        rest must be non-empty; args[0] = rest.
 *   BDAT size [LAST]:      1-2 args, size all digits (RFC 3030 §2); not
 *                          otherwise checked.
 * Wrong argument count or shape → MP_INVALID. Unknown verbs → MP_OK with id
 * SMTP_UNKNOWN (args not split). NUL, CR or LF anywhere (a bare CR must not
 * be smuggled towards the MTA), an empty line, or a line starting with SP →
 * MP_INVALID. *out is written only on MP_OK.
 */
enum mp_status smtp_parse_cmd(const char *p, size_t n, struct smtp_cmd *out);

struct smtp_reply {
	unsigned code;            /* 200..559 (RFC 5321 §4.2: %x32-35 %x30-35 %x30-39) */
	bool complete;            /* always true when MP_OK is returned */
	struct mp_str first_text; /* text of the first line after "NNN-"/"NNN " (may be empty) */
	struct mp_str last_text;  /* text of the last line */
	bool has_ext;             /* first_text starts with an RFC 3463 enhanced
				   * status code "c.s.d" followed by SP or end */
	struct mp_str ext;        /* that enhanced code, else empty */
	size_t len;               /* bytes of the whole reply incl. all line ends */
	size_t nlines;
};

/*
 * Parse one complete reply at p[0..n); max bounds the whole reply, line ends
 * included. MP_AGAIN until the last line ("NNN SP text" or "NNN" CRLF)
 * arrives; MP_TOOLONG if it is not complete within max bytes. Every line must
 * start with the same 3-digit code, followed by '-' (more lines follow), or by
 * SP or the line end (this is the last line); otherwise, or on NUL or bare CR
 * in a complete line, MP_INVALID. Lines are checked as they complete, so a
 * bad line is reported as soon as its line end arrives. Line ends are CRLF or
 * bare LF. *out is written only on MP_OK.
 */
enum mp_status smtp_parse_reply(const char *p, size_t n, size_t max, struct smtp_reply *out);

/*
 * Find an EHLO keyword (RFC 5321 §4.1.1.1: the first word of each line after
 * the first, which carries the server's domain) in a complete reply
 * p[0..n), such as the len bytes a successful smtp_parse_reply() measured.
 * Case-insensitive. If params is not NULL it receives the rest of that line
 * after the keyword and its SP(s) (e.g. "PLAIN LOGIN" for AUTH).
 * Robust against any input.
 */
bool smtp_reply_find_keyword(const char *p, size_t n, const char *kw, struct mp_str *params);
bool smtp_reply_has_keyword(const char *p, size_t n, const char *kw);

/*
 * xtext-encode s into dst (RFC 3461 §4): every byte outside '!'..'~', and
 * '+' and '=', becomes "+XX" with upper-case hex. Returns the encoded length,
 * or 0 if it does not fit in cap (or s is empty). No NUL is written.
 */
size_t smtp_xtext_encode(char *dst, size_t cap, struct mp_str s);

#endif
