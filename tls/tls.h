/*
 * TLS for mproxy, on BearSSL. Protocol code never sees TLS: tls_start_*()
 * installs io->tls_vt under a connection, and from then on io_read/io_write
 * move plaintext while this module moves records between the socket and the
 * engine (the BearSSL "pump": ask the engine its state, do exactly one send
 * or receive, acknowledge, repeat; never block).
 *
 * Lifetimes:
 *  - A server or client context is built once per conf_server at
 *    configuration load (also for -t) and is reference-counted: every
 *    connection that started TLS with it holds a reference, so
 *    tls_*_ctx_free() of an old configuration on reload is safe while its
 *    sessions live on; the last connection to close frees it.
 *  - Per-connection state (engine, record buffers, peer certificate) is
 *    allocated by tls_start_*() and freed by io_close() through
 *    io->tls_vt->free. Idle plaintext connections cost nothing.
 *
 * Memory per TLS connection (x86_64; tls_conn_bytes() in tls_int.h says it):
 *   25,474 bytes: engine 4.1 KiB + 16.3 KiB input buffer (a peer may send
 *   full 16 KiB records) + 4.1 KiB output buffer (our records carry at most
 *   4 KiB of plaintext) + ~0.4 KiB bookkeeping; plus, during the handshake
 *   only and only when a certificate is verified, 3.9 KiB of X.509 state; plus
 *   the client certificate (DER, <= 16 KiB) while the connection lives.
 */
#ifndef MP_TLS_H
#define MP_TLS_H

#include "../core/common.h"
#include "../core/io.h"
#include "../conf/conf.h"

#include <stddef.h>

struct tls_server_ctx; /* per conf_server: certificates + keys, trust anchors, suites, versions, ALPN name */
struct tls_client_ctx; /* per conf_server with proxy_ssl */

/*
 * Build from srv->ssl at configuration load, -t included. Errors are
 * nginx-style with file and line, e.g.
 *   cannot load certificate "/x/c.pem": no certificate found in /etc/mproxy.conf:12
 * (written into err, NULL returned). Notices about directives accepted but not
 * implementable with BearSSL (ssl_dhparam, ssl_conf_command, TLSv1.3,
 * ssl_session_ticket_key, ...) go through notice(level, msg) (LOGL_* levels;
 * notice may be NULL). The caller decides that the server needs TLS
 * (listen ... ssl, ssl on, starttls on|only).
 */
struct tls_server_ctx *tls_server_ctx_new(const struct conf_server *srv, char *err, size_t errcap,
					  void (*notice)(int level, const char *msg));
void tls_server_ctx_free(struct tls_server_ctx *ctx);
/* For srv->proxy_ssl.mode != 0. Verification policy (ctx.c, conn.c):
 * proxy_ssl_verify on needs proxy_ssl_trusted_certificate; proxy_ssl_name
 * set -> SNI + DNS-name check (or an IP check when it is an IP literal);
 * unset -> the backend certificate must carry the backend's IP address
 * (the connected peer) as an iPAddress subjectAltName. */
struct tls_client_ctx *tls_client_ctx_new(const struct conf_server *srv, char *err, size_t errcap);
void tls_client_ctx_free(struct tls_client_ctx *ctx);

/*
 * Start TLS on an open, non-blocking connection: installs io->tls/io->tls_vt.
 * Bytes already in io->in are raw bytes that arrived after the switch point
 * and are fed to the engine first (e.g. a ClientHello that came behind a
 * PROXY header); the caller guarantees io->in holds nothing from before the
 * switch (it drops pipelined plaintext itself). Bytes still queued in
 * io->out (e.g. a STARTTLS "OK Begin TLS now" the socket did not take yet)
 * are sent raw, before the first TLS record. MP_OK or MP_ERR (out of memory;
 * the io is left as it was).
 */
enum mp_status tls_start_server(struct io *io, const struct tls_server_ctx *ctx);
enum mp_status tls_start_client(struct io *io, const struct tls_client_ctx *ctx);

/*
 * Drive the handshake: MP_OK = done (application data may flow), MP_AGAIN =
 * call again when io_set_interest()'s events arrive (io_tls_vt.want says
 * which), MP_ERR = failed (reason via tls_error()). io_read/io_write drive
 * the handshake too (returning EAGAIN until it is done), so calling this is
 * needed only to know when it finished.
 */
enum mp_status tls_handshake(struct io *io);
/* "handshake failed: ...", "no application protocol", "peer closed connection
 * in handshake", ... ; "" when there is no error. */
const char *tls_error(const struct io *io);

/* After the handshake: facts for logs and Auth-SSL-* headers (NUL-terminated,
 * owned by the io's TLS state; "" before the handshake). */
const char *tls_protocol_name(const struct io *io); /* "TLSv1.2" */
const char *tls_cipher_name(const struct io *io);   /* "ECDHE-RSA-AES128-GCM-SHA256" */
bool tls_session_reused(const struct io *io);

struct tls_peer_cert {
	bool present;
	const char *verify;  /* "SUCCESS", "FAILED:<reason>", "NONE" */
	/* Subject and issuer in the one-line form of OpenSSL's X509_NAME_oneline
	 * ("/C=US/O=Example/CN=client"), as the brief asks. */
	const char *subject, *issuer;
	/* The same names in RFC 2253 form ("CN=client,O=Example,C=US"), as
	 * OpenSSL's X509_NAME_print_ex(XN_FLAG_RFC2253) writes them, which is
	 * what nginx >= 1.11.6 puts in $ssl_client_s_dn. */
	const char *subject_rfc2253, *issuer_rfc2253;
	const char *serial;      /* "0A1B..." upper-case hex, as i2a_ASN1_INTEGER */
	const char *fingerprint; /* SHA-1 of the DER, 40 lower-case hex digits */
	const char *pem;         /* "-----BEGIN CERTIFICATE-----\n...": for auth_http_pass_client_cert */
};
/* All strings are "" (verify "NONE") when there is no client certificate. */
void tls_peer_cert(const struct io *io, struct tls_peer_cert *out);

/* ssl_verify_client on and the client sent no/invalid certificate: the
 * protocol must answer nginx's "* BYE No required SSL certificate" /
 * "* BYE SSL certificate error" (and POP3/SMTP equivalents). Like nginx, the
 * handshake itself succeeds in these cases; checking this after
 * tls_handshake() returned MP_OK is the session's job. */
enum tls_cert_status {
	TLS_CERT_NONE_OK, /* not asked (verify off), or optional and not sent */
	TLS_CERT_OK,      /* sent and accepted by the verify policy */
	TLS_CERT_MISSING, /* ssl_verify_client on, none sent */
	TLS_CERT_BAD,     /* sent, and the policy refuses it */
};
enum tls_cert_status tls_peer_cert_status(const struct io *io);

/* Beyond the brief, optional to use: */
/* Queue a close_notify alert and try to send it now (never blocks). */
void tls_shutdown(struct io *io);
/* True when the peer closed the TCP connection without a close_notify (the
 * read side reported EOF all the same: mail protocols have end markers). */
bool tls_truncated(const struct io *io);

#endif
