/*
 * Pure IMAP parsers: the client's pre-authentication commands (RFC 3501 §9,
 * literals per RFC 7888), AUTHENTICATE continuation lines, and the backend's
 * response lines during the proxy's login to it. No I/O, no allocation, no
 * globals: every slice handed out points into the caller's input (or, for
 * quoted strings, into the caller's scratch buffer) and lives as long as they.
 */
#ifndef MP_IMAP_PARSE_H
#define MP_IMAP_PARSE_H

#include "../core/common.h"
#include "../core/str.h"

/* nginx 1.21.0: tags of A-Za-z0-9 - . _ only, at most 32 chars. RFC 3501's tag
 * is any ASTRING-CHAR but "+"; we follow nginx's stricter set so that a tag we
 * echo (and reuse towards the backend) can never carry anything surprising. */
#define IMAP_TAG_MAX 32
/* Tokens after the command name, list parentheses included; more is MP_INVALID. */
#define IMAP_ARGS_MAX 64
/* Parenthesised list nesting; pre-auth only ID uses one level. */
#define IMAP_LIST_DEPTH_MAX 4
/* Largest literal a backend may send in an untagged line during our login. */
#define IMAP_RESP_LITERAL_MAX 65536

enum imap_arg_type {
	IMAP_ATOM,
	IMAP_QUOTED,
	IMAP_LITERAL,
	IMAP_NIL,
	IMAP_LIST_OPEN,
	IMAP_LIST_CLOSE,
};

struct imap_arg {
	enum imap_arg_type type;
	struct mp_str v; /* atom text, unescaped quoted text, literal bytes, "NIL", "(" or ")" */
};

struct imap_cmd {
	struct mp_str tag;  /* empty if no valid tag was found */
	struct mp_str name; /* command name as sent (caller compares case-insensitively) */
	struct imap_arg args[IMAP_ARGS_MAX];
	size_t nargs;
	/* MP_OK: bytes of input this command used, including its final CRLF.
	 * MP_INVALID: bytes up to and including the LF ending the bad line.
	 * MP_TOOLONG: bytes to drop if recoverable (see below), else as far as read. */
	size_t len;
	/* MP_AGAIN: a synchronising literal {n} needs a "+ " continuation; send
	 * one, increment ctx->conts_sent and parse again (no new bytes needed). */
	bool need_continuation;
	/* MP_AGAIN without need_continuation: parsing cannot progress before at
	 * least this many bytes are buffered (> n while literal data is awaited,
	 * so a caller fed byte by byte may skip useless re-parses). */
	size_t need;
	size_t literals; /* literals seen so far (synchronising and non-synchronising) */
	/* MP_INVALID / MP_TOOLONG: true when the caller may answer "<tag> BAD"
	 * (or "* BAD" with an empty tag), drop the first len bytes and go on.
	 * False when the stream cannot be resynchronised and the caller must
	 * close: the command does not fit in ctx->max, or the rejected line
	 * announced a non-synchronising literal {n+} whose bytes the client sends
	 * without waiting (nginx closes too; RFC 7888 §4). Zero means "close", so
	 * a caller that forgets to look errs on the safe side. */
	bool recoverable;
};

struct imap_parse_ctx {
	size_t conts_sent; /* synchronising literals the caller already answered with "+ " */
	size_t max;        /* the command buffer limit (imap_client_buffer) */
	/* Caller-owned; quoted strings are unescaped into it (rewritten on every
	 * call, also on failure). scratch_cap >= max guarantees it never runs out;
	 * when it does, the result is MP_TOOLONG (not recoverable). */
	char *scratch;
	size_t scratch_cap;
};

/*
 * Parses one client command from the start of p[0..n). Call again from the
 * start with more bytes after MP_AGAIN (re-parsing is bounded by ctx->max).
 *
 *   tag SP name *(SP arg) CRLF          arg = atom / quoted / literal / NIL / list
 *
 * MP_OK: out holds the command; consume out->len bytes (pipelined data follows).
 * MP_AGAIN: need more bytes, or a continuation (out->need_continuation).
 * MP_INVALID: syntax error; out->tag (if read), out->len, out->recoverable.
 *   Known only once the bad line's LF is buffered (MP_AGAIN until then); a
 *   bad line with no LF within ctx->max is MP_TOOLONG.
 * MP_TOOLONG: the command does not fit in ctx->max, or a literal declares more
 *   than fits (reported before any of its bytes is needed: for {n+} at the "}",
 *   for {n} once its header line is complete, since the client then waits for
 *   our continuation and we may refuse with a tagged BAD, RFC 3501 §7.5).
 *
 * Lenient like nginx: a bare LF ends a line; runs of SP between arguments and
 * before the CRLF are accepted. Strict: CR must be followed by LF; a literal's
 * data must be followed by SP, CRLF or ")" (nginx 1.29.6); atoms are 7-bit.
 */
enum mp_status imap_parse_command(const struct imap_parse_ctx *ctx, const char *p, size_t n,
				  struct imap_cmd *out);

/*
 * Frames one line, e.g. a base64 AUTHENTICATE continuation (RFC 3501 §6.2.2).
 * MP_OK: *linelen = line length without CRLF (or bare LF), *used = bytes to
 *   consume including the terminator (<= max).
 * MP_AGAIN: no LF yet. MP_TOOLONG: no LF within max bytes (close).
 * MP_INVALID: a CR not followed by LF inside the line; *used = bytes to drop
 *   (through the LF), *linelen = 0.
 */
enum mp_status imap_parse_line(const char *p, size_t n, size_t max, size_t *linelen,
			       size_t *used);

enum imap_resp_kind {
	IMAP_RESP_UNTAGGED,
	IMAP_RESP_CONTINUATION,
	IMAP_RESP_TAGGED,
};

enum imap_resp_status {
	IMAP_ST_NONE,
	IMAP_ST_OK,
	IMAP_ST_NO,
	IMAP_ST_BAD,
	IMAP_ST_BYE,
	IMAP_ST_PREAUTH,
};

struct imap_resp {
	enum imap_resp_kind kind;
	struct mp_str tag;            /* tagged only */
	enum imap_resp_status status; /* NONE for continuations and untagged data */
	struct mp_str code;           /* inside of "[...]", e.g. "CAPABILITY IMAP4rev1 ID", or empty */
	struct mp_str text;           /* human text after the code; for untagged data the rest of the line */
	struct mp_str untagged_name;  /* "CAPABILITY" for "* CAPABILITY ..." (then text = the list);
				       * "5" for "* 5 EXISTS"; empty for status responses */
	size_t len;                   /* line length including CRLF */
	/* Untagged data whose line ends in a literal "{n}" (e.g. "* ID ("name" {5}"):
	 * skip literal_len bytes after the line, then frame the rest of the
	 * response with imap_parse_response_rest(), which may report another. */
	bool literal;
	size_t literal_len;
};

/*
 * Parses one backend response line from the start of p[0..n).
 * MP_AGAIN: no LF yet. MP_TOOLONG: no LF within max bytes, or a literal larger
 * than IMAP_RESP_LITERAL_MAX. MP_INVALID: anything else that is not a well-
 * formed line (NUL, stray CR, unknown tagged status, unterminated "[").
 * out->len is set with MP_OK and MP_INVALID.
 */
enum mp_status imap_parse_response(const char *p, size_t n, size_t max, struct imap_resp *out);

/*
 * Frames the rest of an untagged response after a literal's bytes: up to the
 * next LF; out->text is the fragment, out->literal/literal_len say whether it
 * ends in another literal. Same outcomes as imap_parse_response().
 */
enum mp_status imap_parse_response_rest(const char *p, size_t n, size_t max,
					struct imap_resp *out);

/* True when the space-separated list caps holds the token cap (ASCII case-insensitive). */
bool imap_capability_has(struct mp_str caps, const char *cap);

/*
 * Writes s as an IMAP quoted string ("..." with \" and \\ escaped) into dst,
 * without a NUL terminator, and returns the bytes written. Returns 0 when s
 * holds a byte quoted strings cannot carry (CR, LF, NUL, 8-bit: RFC 3501 §9
 * QUOTED-CHAR is 7-bit TEXT-CHAR) or the result does not fit in cap: send s as
 * a literal then.
 */
size_t imap_quote(char *dst, size_t cap, struct mp_str s);

#endif
