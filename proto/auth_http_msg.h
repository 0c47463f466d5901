/*
 * The auth_http wire format, exactly as nginx's mail modules speak it
 * (reference/auth_http.md §2): the request builder and the reply parser.
 * Pure: no I/O, no allocation, no globals. The client side that connects,
 * sends and reads lives in auth_http.c.
 */
#ifndef MP_AUTH_HTTP_MSG_H
#define MP_AUTH_HTTP_MSG_H

#include "../core/common.h"
#include "../core/str.h"

struct conf_header; /* conf/conf.h: { const char *name, *value; } */

/*
 * Everything the request carries. Every field is a slice; an empty slice
 * (n == 0) means "absent". Host, Auth-Method, Auth-User, Auth-Pass,
 * Auth-Protocol, Auth-Login-Attempt and Client-IP are always written (empty
 * if absent), as nginx does; the others as described below.
 *
 * Escaping (nginx's "memcached" table, ngx_escape_uri NGX_ESCAPE_MAIL_AUTH):
 * Auth-User and Auth-Pass get %XX (upper-case hex) for 0x00-0x1F, space and
 * '%'; mproxy also escapes DEL (0x7F). 8-bit bytes pass through raw as with
 * nginx: they cannot break HTTP framing (RFC 7230 obs-text), and existing
 * auth scripts that do not urldecode still see UTF-8 logins unchanged.
 * Auth-SSL-Cert is given as raw PEM and written URI-component escaped
 * (everything but ALPHA DIGIT "-._~"), as nginx's
 * ngx_ssl_get_escaped_certificate() does.
 *
 * Every other value is written verbatim, so it must not contain a control
 * byte other than HTAB (CR, LF, NUL, 0x01-0x1F, DEL): such a value makes the
 * builder fail with MP_INVALID and nothing is sent. uri must be printable
 * ASCII without spaces (it sits in the request line).
 */
struct auth_http_req {
	struct mp_str host;   /* Host header value */
	struct mp_str uri;    /* request target, required */
	struct mp_str method; /* "plain" "apop" "cram-md5" "external" "none" */
	struct mp_str user, pass;
	/* nginx sends Auth-Salt for every non-plain method whenever the session
	 * has a salt (POP3 with APOP/CRAM-MD5 enabled, IMAP/SMTP with CRAM-MD5):
	 * the caller mirrors that by setting it or not. */
	struct mp_str salt;
	struct mp_str protocol; /* "imap" "pop3" "smtp" */
	unsigned attempt;       /* Auth-Login-Attempt */
	struct mp_str client_ip, client_host;
	/* Proxy-Protocol-*: all four are written when pp_addr is set (nginx:
	 * when the listener has proxy_protocol), otherwise none. */
	struct mp_str pp_addr, pp_port, pp_server_addr, pp_server_port;
	/* Auth-SMTP-Helo/From/To: nginx writes all three, even when empty,
	 * exactly when the method is "none"; they are ignored for any other
	 * method (never send a field the method does not have, security.md #8). */
	struct mp_str smtp_helo, smtp_from, smtp_to;
	/* Auth-SSL: on, then each of the others when set; all ignored unless
	 * ssl. ssl_cert is raw PEM (escaped here). */
	bool ssl;
	struct mp_str ssl_protocol, ssl_cipher, ssl_verify, ssl_subject,
		ssl_issuer, ssl_serial, ssl_fingerprint, ssl_cert;
	/* auth_http_header lines, written "name: value" in order. name must be
	 * an RFC 7230 token; value obeys the verbatim rule above. */
	const struct conf_header *extra;
	size_t nextra;
	/* Adds "Connection: keep-alive" (the only header nginx does not send;
	 * a server that ignores it behaves as with nginx). */
	bool keepalive;
};

/*
 * Build the request into out[0..cap). The output is not NUL-terminated.
 *   MP_OK:      *len = request length.
 *   MP_INVALID: a verbatim value holds a forbidden byte, uri is empty or
 *               not printable, an extra header name is not a token.
 *   MP_TOOLONG: cap is too small.
 * On failure *len = 0 and every byte written to out is wiped (the request
 * holds the password).
 */
enum mp_status auth_http_build_request(const struct auth_http_req *r, char *out,
				       size_t cap, size_t *len);

/* Largest reply header we accept, status line and blank line included.
 * nginx reads into a fixed 1024-byte buffer; long Auth-Error-SASL or
 * Auth-Pass values are why mproxy allows more. */
#define AUTH_HTTP_REPLY_MAX 4096
/* A keep-alive connection is only reused if the body to drain is at most
 * this long; a larger one is not worth the wait, close instead. */
#define AUTH_HTTP_KEEPALIVE_BODY_MAX 65536

/*
 * A parsed reply. Every slice points into the buffer given to the parser,
 * trimmed of surrounding spaces and tabs, and never contains CR, LF or NUL
 * (it may hold other control bytes: check with auth_http_value_safe()).
 */
struct auth_http_reply {
	/*
	 * Auth-Status, combined as nginx does when it appears more than once
	 * (ngx_mail_auth_http_process_headers): any value other than "OK" and
	 * "WAIT" is an error and wins (the last such text is kept); otherwise
	 * any "WAIT" wins; otherwise "OK". "OK" and "WAIT" are case-sensitive,
	 * as in nginx. No Auth-Status at all: status.n == 0, ok == false --
	 * nginx would then proxy if Auth-Server and Auth-Port are present;
	 * mproxy fails closed and the caller reports an internal error.
	 */
	struct mp_str status;
	bool has_status; /* at least one Auth-Status (possibly with an empty text) */
	bool ok;   /* status is "OK" */
	bool wait; /* status is "WAIT": ask again after Auth-Wait seconds */
	/* Auth-Server, Auth-Port, Auth-User, Auth-Pass: appearing twice makes the
	 * reply MP_INVALID (nginx keeps the last; an ambiguous backend or
	 * credential is refused instead). The rest: last one wins, as nginx. */
	struct mp_str server, port, user, pass;
	bool has_user, has_pass; /* present, possibly empty */
	struct mp_str wait_time; /* Auth-Wait, unparsed (nginx: ngx_atoi, ignored if bad) */
	struct mp_str error_code; /* Auth-Error-Code (SMTP) */
	struct mp_str error_sasl; /* Auth-Error-SASL (freenginx/Angie) */
	int http_status; /* "HTTP/x.y NNN": NNN; 0 if absent or unparsable (nginx ignores it) */
	uint64_t content_length;
	bool has_content_length;  /* one valid Content-Length (or several equal ones) */
	/*
	 * The server agreed to keep the connection: an "HTTP/1.1" status line
	 * without "Connection: close", or "HTTP/1.0" with "Connection:
	 * keep-alive"; no Transfer-Encoding; and a known body length: a valid
	 * Content-Length (at most AUTH_HTTP_KEEPALIVE_BODY_MAX), or none, which
	 * means 0 only with an explicit "Connection: keep-alive". The caller
	 * reuses the connection only if it asked too.
	 */
	bool keepalive;
	size_t header_len; /* bytes up to and including the blank line */
};

/*
 * Parse a reply as nginx does (auth_http.md §2.3), looking at no more than
 * AUTH_HTTP_REPLY_MAX bytes:
 *   - an optional status line: if the reply starts with "HTTP/", the first
 *     line is skipped (its version and code recorded when well-formed);
 *   - header lines "Name: value", names case-insensitive, unknown headers
 *     ignored; lines end in CRLF or a bare LF (nginx accepts both);
 *   - the blank line ends the header; the body is not looked at.
 * Returns
 *   MP_OK:      *out filled, header_len set.
 *   MP_AGAIN:   no blank line yet and n < AUTH_HTTP_REPLY_MAX.
 *   MP_TOOLONG: no blank line within the first AUTH_HTTP_REPLY_MAX bytes.
 *   MP_INVALID: a NUL or a bare CR anywhere in the header, a header line
 *               without ':', a name that is not an RFC 7230 token (this
 *               also rejects obs-fold continuation lines), or a duplicated
 *               Auth-Server/Auth-Port/Auth-User/Auth-Pass. An error may be
 *               reported before the header is complete.
 * *out is written only on MP_OK. The parser keeps no state: call it again
 * with the longer buffer when more bytes arrive.
 */
enum mp_status auth_http_parse_reply(const char *p, size_t n,
				     struct auth_http_reply *out);

/* Auth-Port: decimal 1..65535 (leading zeros allowed, as ngx_atoi). */
enum mp_status auth_http_reply_port(struct mp_str s, uint16_t *out);

/* No control bytes at all (0x00-0x1F, 0x7F): check every value from the
 * auth server before it reaches a backend command or a client reply. */
bool auth_http_value_safe(struct mp_str s);

#endif
