/*
 * POP3 pure parsers: client commands (RFC 1939, RFC 2449 CAPA, RFC 5034 AUTH,
 * RFC 2595 STLS) and the backend's status lines. No I/O, no allocation: every
 * slice handed out points into the caller's input and lives as long as it.
 */
#ifndef MP_POP3_PARSE_H
#define MP_POP3_PARSE_H

#include "../core/str.h"

/* Most arguments any command we understand takes (APOP name digest,
 * AUTH mech initial-response). */
#define POP3_ARGS_MAX 2
/* APOP digest: 16 octets of MD5 in hex (RFC 1939 §7). */
#define POP3_APOP_DIGEST_LEN 32

enum pop3_cmd_id {
	POP3_UNKNOWN = 0, /* any other verb: the caller answers -ERR */
	POP3_USER,
	POP3_PASS,
	POP3_APOP,
	POP3_AUTH,
	POP3_CAPA,
	POP3_NOOP,
	POP3_QUIT,
	POP3_STLS,
};

struct pop3_cmd {
	enum pop3_cmd_id id;
	struct mp_str verb;                  /* as sent (any case) */
	struct mp_str args[POP3_ARGS_MAX];   /* see pop3_parse_cmd() */
	size_t nargs;
	struct mp_str rest;                  /* everything after the verb's SP; empty if none */
};

/*
 * Parse one framed client line p[0..n) (no line end).
 * Verbs are case-insensitive. Arguments:
 *   USER name, PASS secret: exactly one argument, the whole rest of the line
 *     after the single SP that follows the verb, verbatim (inner, leading and
 *     trailing spaces included). RFC 1939 §3 separates by a single SP;
 *     Dovecot takes PASS's whole rest as the password, and nginx also keeps
 *     spaces inside USER/PASS (it only drops leading ones). Empty → MP_INVALID.
 *   APOP name digest: two arguments, digest POP3_APOP_DIGEST_LEN hex digits.
 *   AUTH [mech [initial-response]]: 0-2 arguments (bare AUTH lists
 *     mechanisms, as nginx does).
 *   CAPA, NOOP, QUIT, STLS: no argument.
 * Other than for USER/PASS, arguments are separated by runs of SP and
 * trailing SPs are ignored. Wrong argument count → MP_INVALID.
 * Unknown verbs → MP_OK with id POP3_UNKNOWN (args not split, rest set).
 * NUL, CR or LF anywhere, an empty line, or a line starting with SP →
 * MP_INVALID. *out is written only on MP_OK.
 */
enum mp_status pop3_parse_cmd(const char *p, size_t n, struct pop3_cmd *out);

enum pop3_reply_kind {
	POP3_REPLY_OK,   /* "+OK" */
	POP3_REPLY_ERR,  /* "-ERR" */
	POP3_REPLY_CONT, /* "+" SP base64: SASL continuation (RFC 5034 §4) */
};

struct pop3_reply {
	enum pop3_reply_kind kind;
	struct mp_str text; /* after the status and its SP (OK/ERR), or the
			     * base64 challenge (CONT); may be empty */
	size_t len;         /* bytes consumed, line end included */
};

/*
 * Frame and parse one backend status line at p[0..n); max bounds the line,
 * line end included (as line_frame()). MP_AGAIN: incomplete; MP_TOOLONG:
 * no line end within max. "+OK" and "-ERR" are upper-case (RFC 1939 §3, as
 * nginx checks them) and must be followed by SP or the line end. A "+" SP
 * line, or a lone "+", is a continuation. NUL or bare CR, or anything else →
 * MP_INVALID. *out is written only on MP_OK.
 */
enum mp_status pop3_parse_reply(const char *p, size_t n, size_t max, struct pop3_reply *out);

/*
 * Whether a +OK greeting carries the [XCLIENT] response code, as Dovecot's
 * does when it trusts us ("+OK [XCLIENT] Dovecot ready."). RFC 2449 §8 puts a
 * response code in brackets right at the start of the text; matched
 * case-insensitively.
 */
bool pop3_greeting_has_xclient(const struct pop3_reply *greeting);

#endif
