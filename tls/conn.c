/*
 * One TLS connection: the BearSSL engine, its record buffers, and the pump
 * that moves records between the socket and the engine for io.c.
 *
 * The pump (after BearSSL's tools, without their blocking br_sslio): ask
 * the engine its state (br_ssl_engine_current_state), do exactly one send()
 * or recv() into or out of its record buffer, acknowledge, repeat; stop as
 * soon as the socket would block. Nothing is buffered outside the engine
 * except two things handed over by the session at the switch:
 *   pre    bytes queued in io->out before TLS started (the STARTTLS "go
 *          ahead" reply): sent raw, before the first record;
 *   stash  bytes in io->in that arrived after the switch point (e.g. a
 *          ClientHello behind a PROXY header): fed to the engine before
 *          the socket is read.
 * The engine therefore sees exactly the bytes that follow the switch
 * (security.md #1).
 *
 * Server choices BearSSL leaves to the application, done here:
 *  - the policy (choose/do_keyx/do_sign): the first suite in preference
 *    order (client's, or ours with ssl_prefer_server_ciphers) for which a
 *    certificate pair fits: RSA key for ECDHE_RSA / RSA, EC key on a curve
 *    the client supports for ECDHE_ECDSA; ECDHE curves limited to
 *    ssl_ecdh_curve;
 *  - client certificates: an X.509 class wrapping BearSSL's minimal
 *    validator. Like nginx (whose verify callback accepts everything and
 *    checks after the handshake), the handshake goes on with a certificate
 *    that fails validation, so the session can answer "* BYE SSL
 *    certificate error"; the certificate's key is still used to check
 *    CertificateVerify (proof of possession). The end-entity certificate
 *    is kept (DER) for the Auth-SSL-* headers;
 *  - the session cache wrapper (isolation + timeout, see ctx.c);
 *  - ALPN: a client offering ALPN without our protocol gets a fatal
 *    no_application_protocol alert (BR_OPT_FAIL_ON_ALPN_MISMATCH), and a
 *    resumed session, for which BearSSL skips that check, is refused after
 *    the handshake.
 * Renegotiation is refused both ways (BR_OPT_NO_RENEGOTIATION).
 */
#include "tls_int.h"

#include "../core/buf.h"
#include "../core/loop.h"
#include "../core/rand.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <netinet/in.h>

enum verdict {
	VR_NONE = 0,   /* no certificate */
	VR_OK,         /* validated */
	VR_UNTRUSTED,  /* valid but no trusted issuer (optional_no_ca accepts it) */
	VR_FAIL,       /* anything else */
};

struct tls_xv;

struct tls_conn {
	union {
		br_ssl_server_context s;
		br_ssl_client_context c;
	} u;                        /* first: the engine is at offset 0 in both */
	const br_ssl_server_policy_class *policy_vt;
	const br_ssl_session_cache_class *cache_vt;
	bool server;
	bool hs_done, failed, truncated, resumed;
	struct tls_server_ctx *sctx;
	struct tls_client_ctx *cctx;
	struct tls_xv *xv;          /* handshake only */
	struct buf *pre, *stash;
	int pair;                   /* server: chosen certificate pair */
	int sys_errno;
	/* server: session cache hit (resumption happened if the final session
	 * ID is this one) */
	bool cache_hit;
	uint8_t hit_id[32];
	/* client: what we offered, and where to store the new session */
	uint8_t offered_id[32];
	size_t offered_len;
	uint8_t sess_key[32];
	/* client certificate */
	uint8_t *peer_der;
	size_t peer_len;
	enum verdict verdict;
	const char *reason;         /* OpenSSL's words for a failure */
	char *info;                 /* formatted strings for tls_peer_cert (lazy) */
	struct tls_peer_cert pc;
	char err[160];
	unsigned char bufs[];       /* TLS_IBUF_LEN + TLS_OBUF_LEN */
};

static br_ssl_engine_context *eng_of(struct tls_conn *t)
{
	return &t->u.s.eng;
}

static const struct io_tls_vt tls_vt;

static struct tls_conn *conn_of(const struct io *io)
{
	return io->tls_vt == &tls_vt ? io->tls : NULL;
}

/* ---- error texts ------------------------------------------------------- */

static const char *alert_name(unsigned a)
{
	switch (a) {
	case 0: return "close_notify";
	case 10: return "unexpected_message";
	case 20: return "bad_record_mac";
	case 22: return "record_overflow";
	case 40: return "handshake_failure";
	case 42: return "bad_certificate";
	case 43: return "unsupported_certificate";
	case 44: return "certificate_revoked";
	case 45: return "certificate_expired";
	case 46: return "certificate_unknown";
	case 47: return "illegal_parameter";
	case 48: return "unknown_ca";
	case 49: return "access_denied";
	case 50: return "decode_error";
	case 51: return "decrypt_error";
	case 70: return "protocol_version";
	case 71: return "insufficient_security";
	case 80: return "internal_error";
	case 86: return "inappropriate_fallback";
	case 90: return "user_canceled";
	case 100: return "no_renegotiation";
	case 109: return "missing_extension";
	case 110: return "unsupported_extension";
	case 112: return "unrecognized_name";
	case 116: return "certificate_required";
	case 120: return "no_application_protocol";
	default: return "unknown";
	}
}

/* OpenSSL's X509_verify_cert_error_string() words for BearSSL's codes. */
static const char *x509_reason(unsigned e)
{
	switch (e) {
	case BR_ERR_X509_NOT_TRUSTED:
	case BR_ERR_X509_DN_MISMATCH:
		return "unable to get local issuer certificate";
	case BR_ERR_X509_EXPIRED:
		return "certificate has expired";
	case BR_ERR_X509_BAD_SIGNATURE:
		return "certificate signature failure";
	case BR_ERR_X509_NOT_CA:
		return "invalid CA certificate";
	case BR_ERR_X509_FORBIDDEN_KEY_USAGE:
		return "unsupported certificate purpose";
	case BR_ERR_X509_CRITICAL_EXTENSION:
		return "unhandled critical extension";
	case BR_ERR_X509_WEAK_PUBLIC_KEY:
		return "EE certificate key too weak";
	case BR_ERR_X509_BAD_SERVER_NAME:
		return "hostname mismatch";
	case BR_ERR_X509_TIME_UNKNOWN:
		return "unable to check certificate validity time";
	case BR_ERR_X509_EMPTY_CHAIN:
		return "no certificate";
	case BR_ERR_X509_UNSUPPORTED:
	case BR_ERR_X509_WRONG_KEY_TYPE:
		return "unsupported certificate or key type";
	case BR_ERR_X509_LIMIT_EXCEEDED:
		return "certificate exceeds BearSSL limits";
	default:
		return "unable to decode certificate";
	}
}

static const char *br_reason(int e)
{
	switch (e) {
	case BR_ERR_BAD_PARAM: return "bad parameter";
	case BR_ERR_BAD_STATE: return "bad state";
	case BR_ERR_UNSUPPORTED_VERSION: return "unsupported protocol version";
	case BR_ERR_BAD_VERSION: return "bad protocol version";
	case BR_ERR_BAD_LENGTH: return "bad record length";
	case BR_ERR_TOO_LARGE: return "record too large";
	case BR_ERR_BAD_MAC: return "bad record MAC";
	case BR_ERR_NO_RANDOM: return "no random source";
	case BR_ERR_UNKNOWN_TYPE: return "unknown record type";
	case BR_ERR_UNEXPECTED: return "unexpected message";
	case BR_ERR_BAD_CCS: return "bad ChangeCipherSpec";
	case BR_ERR_BAD_ALERT: return "bad alert";
	case BR_ERR_BAD_HANDSHAKE: return "bad handshake message";
	case BR_ERR_OVERSIZED_ID: return "oversized session ID";
	case BR_ERR_BAD_CIPHER_SUITE: return "bad cipher suite";
	case BR_ERR_BAD_COMPRESSION: return "bad compression";
	case BR_ERR_BAD_FRAGLEN: return "bad fragment length";
	case BR_ERR_BAD_SECRENEG: return "bad secure renegotiation";
	case BR_ERR_EXTRA_EXTENSION: return "unexpected extension";
	case BR_ERR_BAD_SNI: return "bad server name";
	case BR_ERR_BAD_HELLO_DONE: return "bad ServerHelloDone";
	case BR_ERR_LIMIT_EXCEEDED: return "limit exceeded";
	case BR_ERR_BAD_FINISHED: return "bad Finished";
	case BR_ERR_RESUME_MISMATCH: return "session resumption mismatch";
	case BR_ERR_INVALID_ALGORITHM: return "invalid algorithm";
	case BR_ERR_BAD_SIGNATURE: return "bad signature";
	case BR_ERR_WRONG_KEY_USAGE: return "wrong key usage";
	case BR_ERR_NO_CLIENT_AUTH: return "no client certificate";
	case BR_ERR_IO: return "I/O error";
	default: return "error";
	}
}

static void set_engine_error(struct tls_conn *t, int e)
{
	if (e == BR_ERR_SEND_FATAL_ALERT + 120 || e == BR_ERR_RECV_FATAL_ALERT + 120) {
		snprintf(t->err, sizeof(t->err), "no application protocol");
	} else if (e >= BR_ERR_SEND_FATAL_ALERT) {
		unsigned a = (unsigned)(e - BR_ERR_SEND_FATAL_ALERT);
		snprintf(t->err, sizeof(t->err), "handshake failed: sent fatal alert %u (%s)", a, alert_name(a));
	} else if (e >= BR_ERR_RECV_FATAL_ALERT) {
		unsigned a = (unsigned)(e - BR_ERR_RECV_FATAL_ALERT);
		snprintf(t->err, sizeof(t->err), "handshake failed: peer sent fatal alert %u (%s)", a, alert_name(a));
	} else if (e >= BR_ERR_X509_OK && e < BR_ERR_RECV_FATAL_ALERT) {
		snprintf(t->err, sizeof(t->err), "handshake failed: certificate verify failed: %s",
			 t->reason != NULL ? t->reason : x509_reason((unsigned)e));
	} else {
		snprintf(t->err, sizeof(t->err), "%s: %s (BearSSL error %d)", t->hs_done ? "TLS error" : "handshake failed",
			 br_reason(e), e);
	}
}

/* ---- the pump ---------------------------------------------------------- */

enum pump { P_IDLE, P_PROGRESS, P_BLOCKED, P_EOF, P_ERR };

static enum pump pump_send(struct io *io, struct tls_conn *t)
{
	const unsigned char *p;
	size_t n;
	bool raw = t->pre != NULL;
	if (raw) {
		p = (const unsigned char *)buf_head(t->pre);
		n = buf_len(t->pre);
	} else {
		p = br_ssl_engine_sendrec_buf(eng_of(t), &n);
		if (p == NULL || n == 0) {
			return P_IDLE;
		}
	}
	ssize_t r;
	do {
		r = send(io->w.fd, p, n, MSG_NOSIGNAL);
	} while (r < 0 && errno == EINTR);
	if (r > 0) {
		if (raw) {
			buf_consume(t->pre, (size_t)r);
			if (buf_len(t->pre) == 0) {
				buf_put(t->pre);
				t->pre = NULL;
			}
		} else {
			br_ssl_engine_sendrec_ack(eng_of(t), (size_t)r);
		}
		return P_PROGRESS;
	}
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		return P_BLOCKED;
	}
	t->sys_errno = r < 0 ? errno : EPIPE;
	return P_ERR;
}

static enum pump pump_recv(struct io *io, struct tls_conn *t)
{
	size_t n;
	unsigned char *p = br_ssl_engine_recvrec_buf(eng_of(t), &n);
	if (p == NULL || n == 0) {
		return P_IDLE;
	}
	if (t->stash != NULL) {
		size_t k = MP_MIN(n, buf_len(t->stash));
		memcpy(p, buf_head(t->stash), k);
		buf_consume(t->stash, k);
		if (buf_len(t->stash) == 0) {
			buf_put(t->stash);
			t->stash = NULL;
		}
		br_ssl_engine_recvrec_ack(eng_of(t), k);
		return P_PROGRESS;
	}
	ssize_t r;
	do {
		r = recv(io->w.fd, p, n, 0);
	} while (r < 0 && errno == EINTR);
	if (r > 0) {
		br_ssl_engine_recvrec_ack(eng_of(t), (size_t)r);
		return P_PROGRESS;
	}
	if (r == 0) {
		return P_EOF;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		return P_BLOCKED;
	}
	t->sys_errno = errno;
	return P_ERR;
}

static void fail_sys(struct tls_conn *t, const char *what)
{
	t->failed = true;
	snprintf(t->err, sizeof(t->err), "%s%s() failed (%d: %s)", t->hs_done ? "" : "handshake failed: ", what,
		 t->sys_errno, strerror(t->sys_errno));
}

/* ---- after the handshake ----------------------------------------------- */

static void xv_free(struct tls_conn *t);

static void client_save_session(struct tls_conn *t)
{
	struct tls_client_ctx *c = t->cctx;
	br_ssl_session_parameters p;
	br_ssl_engine_get_session_parameters(eng_of(t), &p);
	if (p.session_id_len == 0) {
		return;
	}
	struct tls_client_session *slot = NULL;
	for (size_t i = 0; i < TLS_CLIENT_SESSIONS; i++) {
		if (c->sess[i].used && memcmp(c->sess[i].key, t->sess_key, 32) == 0) {
			slot = &c->sess[i];
		}
	}
	if (slot == NULL) {
		slot = &c->sess[c->sess_next];
		c->sess_next = (c->sess_next + 1) % TLS_CLIENT_SESSIONS;
	}
	slot->used = true;
	memcpy(slot->key, t->sess_key, 32);
	slot->stored_ms = tls_now_ms();
	slot->params = p;
	tls_wipe(&p, sizeof(p));
}

static enum mp_status hs_finish(struct tls_conn *t)
{
	br_ssl_engine_context *eng = eng_of(t);
	t->hs_done = true;
	if (t->server) {
		/* BearSSL checks ALPN only on full handshakes (RFC 7301 3.2 asks
		 * for the alert on resumption too) */
		if (t->sctx->alpn[0] != NULL && eng->selected_protocol == 0xFFFF) {
			t->failed = true;
			snprintf(t->err, sizeof(t->err), "no application protocol");
			return MP_ERR;
		}
		t->resumed = t->cache_hit && memcmp(eng->session.session_id, t->hit_id, 32) == 0;
	} else {
		t->resumed = t->offered_len > 0 && eng->session.session_id_len == t->offered_len &&
			     memcmp(eng->session.session_id, t->offered_id, t->offered_len) == 0;
		client_save_session(t);
	}
	xv_free(t);
	return MP_OK;
}

static enum mp_status hs_step(struct io *io, struct tls_conn *t)
{
	if (t->failed) {
		return MP_ERR;
	}
	if (t->hs_done) {
		return MP_OK;
	}
	br_ssl_engine_context *eng = eng_of(t);
	for (;;) {
		unsigned st = br_ssl_engine_current_state(eng);
		if (st & BR_SSL_CLOSED) {
			t->failed = true;
			int e = br_ssl_engine_last_error(eng);
			if (e == BR_ERR_OK) {
				snprintf(t->err, sizeof(t->err), "handshake failed: closed by peer");
			} else {
				set_engine_error(t, e);
			}
			return MP_ERR;
		}
		enum pump r = pump_send(io, t);
		if (r == P_PROGRESS) {
			continue;
		}
		if (r == P_ERR) {
			fail_sys(t, "send");
			return MP_ERR;
		}
		if (r == P_BLOCKED) {
			return MP_AGAIN;
		}
		if (st & (BR_SSL_SENDAPP | BR_SSL_RECVAPP)) {
			return hs_finish(t);
		}
		r = pump_recv(io, t);
		if (r == P_PROGRESS) {
			continue;
		}
		if (r == P_EOF) {
			t->failed = true;
			t->truncated = true;
			snprintf(t->err, sizeof(t->err), "peer closed connection in handshake");
			return MP_ERR;
		}
		if (r == P_ERR) {
			fail_sys(t, "recv");
			return MP_ERR;
		}
		return MP_AGAIN;
	}
}

/* ---- io_tls_vt --------------------------------------------------------- */

static ssize_t vt_read(struct io *io, void *dst, size_t cap)
{
	struct tls_conn *t = io->tls;
	enum mp_status hs = hs_step(io, t);
	if (hs == MP_AGAIN) {
		errno = EAGAIN;
		return -1;
	}
	if (hs == MP_ERR) {
		if (t->truncated) {
			return 0;
		}
		errno = EPROTO;
		return -1;
	}
	br_ssl_engine_context *eng = eng_of(t);
	for (;;) {
		unsigned st = br_ssl_engine_current_state(eng);
		if (st & BR_SSL_CLOSED) {
			int e = br_ssl_engine_last_error(eng);
			if (e == BR_ERR_OK) {
				return 0; /* close_notify */
			}
			if (!t->failed) {
				t->failed = true;
				set_engine_error(t, e);
			}
			errno = EPROTO;
			return -1;
		}
		if (st & BR_SSL_RECVAPP) {
			size_t n;
			unsigned char *b = br_ssl_engine_recvapp_buf(eng, &n);
			n = MP_MIN(n, cap);
			memcpy(dst, b, n);
			br_ssl_engine_recvapp_ack(eng, n);
			return (ssize_t)n;
		}
		enum pump r = pump_send(io, t);
		if (r == P_PROGRESS) {
			continue;
		}
		if (r == P_ERR) {
			fail_sys(t, "send");
			errno = t->sys_errno;
			return -1;
		}
		r = pump_recv(io, t);
		if (r == P_PROGRESS) {
			continue;
		}
		if (r == P_EOF) {
			/* no close_notify: mail protocols have their own end
			 * markers, so this is an EOF, but remembered */
			t->truncated = true;
			return 0;
		}
		if (r == P_ERR) {
			fail_sys(t, "recv");
			errno = t->sys_errno;
			return -1;
		}
		errno = EAGAIN;
		return -1;
	}
}

static ssize_t vt_write(struct io *io, const void *src, size_t n)
{
	struct tls_conn *t = io->tls;
	enum mp_status hs = hs_step(io, t);
	if (hs != MP_OK) {
		errno = hs == MP_AGAIN ? EAGAIN : EPIPE;
		return -1;
	}
	br_ssl_engine_context *eng = eng_of(t);
	const unsigned char *p = src;
	size_t acc = 0;
	for (;;) {
		unsigned st = br_ssl_engine_current_state(eng);
		if (st & BR_SSL_CLOSED) {
			if (acc > 0) {
				break;
			}
			errno = EPIPE;
			return -1;
		}
		if (st & BR_SSL_SENDREC) {
			enum pump r = pump_send(io, t);
			if (r == P_PROGRESS) {
				continue;
			}
			if (r == P_ERR) {
				fail_sys(t, "send");
				if (acc > 0) {
					break;
				}
				errno = t->sys_errno;
				return -1;
			}
			break; /* blocked: what was accepted is in records already */
		}
		if (acc == n) {
			break;
		}
		if (st & BR_SSL_SENDAPP) {
			size_t room;
			unsigned char *b = br_ssl_engine_sendapp_buf(eng, &room);
			size_t k = MP_MIN(room, n - acc);
			memcpy(b, p + acc, k);
			br_ssl_engine_sendapp_ack(eng, k);
			acc += k;
			if (acc == n) {
				/* close the record now: nothing waits for more */
				br_ssl_engine_flush(eng, 0);
			}
			continue;
		}
		break; /* the engine waits for the peer */
	}
	if (acc == 0) {
		errno = EAGAIN;
		return -1;
	}
	return (ssize_t)acc;
}

static enum mp_status vt_flush(struct io *io)
{
	struct tls_conn *t = io->tls;
	enum mp_status hs = hs_step(io, t);
	if (hs != MP_OK) {
		return hs;
	}
	for (;;) {
		unsigned st = br_ssl_engine_current_state(eng_of(t));
		if ((st & BR_SSL_CLOSED) && t->pre == NULL) {
			return br_ssl_engine_last_error(eng_of(t)) == BR_ERR_OK ? MP_OK : MP_ERR;
		}
		switch (pump_send(io, t)) {
		case P_PROGRESS:
			continue;
		case P_BLOCKED:
			return MP_AGAIN;
		case P_ERR:
			fail_sys(t, "send");
			return MP_ERR;
		default:
			return MP_OK;
		}
	}
}

static unsigned vt_want(struct io *io, unsigned app_want)
{
	struct tls_conn *t = io->tls;
	if (t->failed) {
		return app_want;
	}
	unsigned st = br_ssl_engine_current_state(eng_of(t));
	if (st & BR_SSL_CLOSED) {
		return t->pre != NULL ? EV_WRITE : app_want;
	}
	unsigned w = 0;
	if (t->pre != NULL || (st & BR_SSL_SENDREC)) {
		w |= EV_WRITE;
	}
	if (!t->hs_done) {
		if (st & BR_SSL_RECVREC) {
			w |= EV_READ;
		}
		return w;
	}
	if ((app_want & EV_READ) && (st & BR_SSL_RECVREC)) {
		w |= EV_READ;
	}
	if (app_want & EV_WRITE) {
		if (st & BR_SSL_SENDAPP) {
			w |= EV_WRITE;
		} else if (!(st & BR_SSL_SENDREC) && (st & BR_SSL_RECVREC)) {
			w |= EV_READ;
		}
	}
	return w;
}

static bool vt_pending(struct io *io)
{
	struct tls_conn *t = io->tls;
	return (br_ssl_engine_current_state(eng_of(t)) & BR_SSL_RECVAPP) != 0 || t->stash != NULL;
}

static void vt_free(struct io *io)
{
	struct tls_conn *t = io->tls;
	if (t == NULL) {
		return;
	}
	xv_free(t);
	buf_put(t->pre);
	buf_put(t->stash);
	free(t->peer_der);
	free(t->info);
	if (t->server) {
		tls_server_ctx_free(t->sctx);
	} else {
		tls_client_ctx_free(t->cctx);
	}
	/* keys of the session and plaintext in the record buffers */
	tls_wipe(t, sizeof(*t) + TLS_IBUF_LEN + TLS_OBUF_LEN);
	free(t);
	io->tls = NULL;
}

static const struct io_tls_vt tls_vt = {
	.read = vt_read,
	.write = vt_write,
	.flush = vt_flush,
	.want = vt_want,
	.pending = vt_pending,
	.free = vt_free,
};

/* ---- server policy ----------------------------------------------------- */

/* Hash for the ServerKeyExchange signature among those the client accepts
 * (bit n = hash id n): SHA-256 first, as BearSSL's own policies. */
static unsigned choose_hash(unsigned bf)
{
	static const unsigned char pref[] = { br_sha256_ID, br_sha384_ID, br_sha512_ID, br_sha224_ID, br_sha1_ID };
	for (size_t i = 0; i < sizeof(pref); i++) {
		if ((bf >> pref[i]) & 1) {
			return pref[i];
		}
	}
	return 0;
}

static int find_pair(const struct tls_server_ctx *ctx, int type, uint32_t curves)
{
	for (size_t i = 0; i < ctx->npairs; i++) {
		const struct tls_pair *p = &ctx->pairs[i];
		if (p->key.type != type) {
			continue;
		}
		if (type == BR_KEYTYPE_EC && !((curves >> p->curve) & 1)) {
			continue; /* the client could not verify our signature */
		}
		return (int)i;
	}
	return -1;
}

static int pol_choose(const br_ssl_server_policy_class **pctx, const br_ssl_server_context *cc,
		      br_ssl_server_choices *ch)
{
	struct tls_conn *t = MP_CONTAINER_OF(pctx, struct tls_conn, policy_vt);
	const struct tls_server_ctx *ctx = t->sctx;
	size_t n;
	const br_suite_translated *st = br_ssl_server_get_client_suites(cc, &n);
	unsigned version = cc->eng.session.version;
	uint32_t hashes = br_ssl_server_get_client_hashes(cc);
	uint32_t client_curves = br_ssl_server_get_client_curves(cc);
	/* ssl_ecdh_curve: BearSSL picks the ECDHE curve from this field after
	 * choose() (X25519 first, then the lowest id); the context is ours */
	t->u.s.curves = client_curves & ctx->curves;
	bool ecdhe = t->u.s.curves != 0;
	unsigned rsa_hash = version < BR_TLS12 ? 0 : choose_hash(hashes & 0xFF);
	unsigned ec_hash = version < BR_TLS12 ? br_sha1_ID : choose_hash((hashes >> 8) & 0xFF);
	for (size_t u = 0; u < n; u++) {
		int pair = -1;
		unsigned algo = 0;
		switch (st[u][1] >> 12) {
		case BR_SSLKEYX_RSA:
			pair = find_pair(ctx, BR_KEYTYPE_RSA, 0);
			break;
		case BR_SSLKEYX_ECDHE_RSA:
			if (ecdhe && (version < BR_TLS12 || rsa_hash != 0)) {
				pair = find_pair(ctx, BR_KEYTYPE_RSA, 0);
				algo = 0xFF00 + rsa_hash;
			}
			break;
		case BR_SSLKEYX_ECDHE_ECDSA:
			if (ecdhe && ec_hash != 0) {
				pair = find_pair(ctx, BR_KEYTYPE_EC, client_curves);
				algo = 0xFF00 + ec_hash;
			}
			break;
		default:
			break;
		}
		if (pair >= 0) {
			t->pair = pair;
			ch->cipher_suite = st[u][0];
			ch->algo_id = algo;
			ch->chain = ctx->pairs[pair].chain;
			ch->chain_len = ctx->pairs[pair].chain_len;
			return 1;
		}
	}
	return 0;
}

static uint32_t pol_do_keyx(const br_ssl_server_policy_class **pctx, unsigned char *data, size_t *len)
{
	struct tls_conn *t = MP_CONTAINER_OF(pctx, struct tls_conn, policy_vt);
	const struct tls_pair *p = &t->sctx->pairs[t->pair];
	if (p->key.type != BR_KEYTYPE_RSA) {
		return 0;
	}
	return br_rsa_ssl_decrypt(br_rsa_private_get_default(), &p->key.rsa, data, *len);
}

static const unsigned char *const HASH_OID[] = {
	(const unsigned char *)"\x05\x2B\x0E\x03\x02\x1A",
	(const unsigned char *)"\x09\x60\x86\x48\x01\x65\x03\x04\x02\x04",
	(const unsigned char *)"\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01",
	(const unsigned char *)"\x09\x60\x86\x48\x01\x65\x03\x04\x02\x02",
	(const unsigned char *)"\x09\x60\x86\x48\x01\x65\x03\x04\x02\x03",
};

static size_t pol_do_sign(const br_ssl_server_policy_class **pctx, unsigned algo_id, unsigned char *data,
			  size_t hv_len, size_t len)
{
	struct tls_conn *t = MP_CONTAINER_OF(pctx, struct tls_conn, policy_vt);
	const struct tls_pair *p = &t->sctx->pairs[t->pair];
	unsigned char hv[64];
	if (hv_len > sizeof(hv)) {
		return 0;
	}
	memcpy(hv, data, hv_len);
	algo_id &= 0xFF;
	if (p->key.type == BR_KEYTYPE_RSA) {
		const unsigned char *oid;
		if (algo_id == 0) {
			oid = NULL; /* TLS 1.0/1.1: MD5+SHA-1, no DigestInfo */
		} else if (algo_id >= br_sha1_ID && algo_id <= br_sha512_ID) {
			oid = HASH_OID[algo_id - br_sha1_ID];
		} else {
			return 0;
		}
		size_t sig_len = (p->key.rsa.n_bitlen + 7) >> 3;
		if (len < sig_len) {
			return 0;
		}
		return br_rsa_pkcs1_sign_get_default()(oid, hv, hv_len, &p->key.rsa, data) ? sig_len : 0;
	}
	const br_hash_class *hc = br_multihash_getimpl(&eng_of(t)->mhash, (int)algo_id);
	if (hc == NULL || len < 139) {
		return 0;
	}
	return br_ecdsa_sign_asn1_get_default()(&br_ec_all_m31, hc, hv, &p->key.ec, data);
}

static const br_ssl_server_policy_class policy_class = {
	sizeof(const br_ssl_server_policy_class *),
	pol_choose,
	pol_do_keyx,
	pol_do_sign,
};

/* ---- session cache wrapper --------------------------------------------- */

static uint64_t cache_bucket(const struct tls_server_ctx *ctx)
{
	uint64_t w = ctx->timeout_ms / 4;
	return tls_now_ms() / (w > 0 ? w : 1);
}

/* The key a session is stored under: bound to the server's identity and
 * to a time bucket (see ctx.c). */
static void cache_derive(const struct tls_server_ctx *ctx, uint64_t bucket, const uint8_t *id, uint8_t *out)
{
	br_sha256_context h;
	uint8_t b[8];
	for (int i = 0; i < 8; i++) {
		b[i] = (uint8_t)(bucket >> (56 - 8 * i));
	}
	br_sha256_init(&h);
	br_sha256_update(&h, ctx->cache_key, sizeof(ctx->cache_key));
	br_sha256_update(&h, b, sizeof(b));
	br_sha256_update(&h, id, 32);
	br_sha256_out(&h, out);
}

static void cache_save(const br_ssl_session_cache_class **cctx, br_ssl_server_context *sc,
		       const br_ssl_session_parameters *params)
{
	struct tls_conn *t = MP_CONTAINER_OF(cctx, struct tls_conn, cache_vt);
	br_ssl_session_cache_lru *lru = tls_cache_get();
	if (lru == NULL || params->session_id_len != 32) {
		return;
	}
	br_ssl_session_parameters p = *params;
	cache_derive(t->sctx, cache_bucket(t->sctx), params->session_id, p.session_id);
	lru->vtable->save(&lru->vtable, sc, &p);
	tls_wipe(&p, sizeof(p));
}

static int cache_load(const br_ssl_session_cache_class **cctx, br_ssl_server_context *sc,
		      br_ssl_session_parameters *params)
{
	struct tls_conn *t = MP_CONTAINER_OF(cctx, struct tls_conn, cache_vt);
	br_ssl_session_cache_lru *lru = tls_cache_get();
	if (lru == NULL) {
		return 0;
	}
	uint8_t id[32];
	memcpy(id, params->session_id, 32);
	uint64_t b = cache_bucket(t->sctx);
	for (uint64_t k = 0; k < 4 && k <= b; k++) {
		cache_derive(t->sctx, b - k, id, params->session_id);
		if (lru->vtable->load(&lru->vtable, sc, params)) {
			memcpy(params->session_id, id, 32);
			t->cache_hit = true;
			memcpy(t->hit_id, id, 32);
			return 1;
		}
	}
	memcpy(params->session_id, id, 32);
	return 0;
}

static const br_ssl_session_cache_class cache_class = {
	sizeof(const br_ssl_session_cache_class *),
	cache_save,
	cache_load,
};

/* ---- certificate validation wrapper ------------------------------------ */

struct tls_xv {
	const br_x509_class *vtable;
	struct tls_conn *t;
	bool use_inner;
	br_x509_minimal_context inner;
	uint32_t ncerts, max_feed;
	bool feeding;
	uint8_t *ee;
	size_t ee_len, ee_cap;
	bool ee_bad;
	br_x509_pkey pk;
	unsigned char pkbuf[BR_X509_BUFSIZE_KEY];
	unsigned usages;
	bool have_pk;
	/* client side: the IP the backend certificate must name (RFC 5280
	 * 4.2.1.6 iPAddress), when there is no DNS name to check */
	bool need_ip;
	uint8_t ip[16];
	size_t iplen;
};

static void xv_free(struct tls_conn *t)
{
	if (t->xv != NULL) {
		free(t->xv->ee);
		tls_wipe(t->xv, sizeof(*t->xv));
		free(t->xv);
		t->xv = NULL;
	}
}

static void xv_start_chain(const br_x509_class **ctx, const char *server_name)
{
	struct tls_xv *x = (struct tls_xv *)(void *)ctx;
	x->ncerts = 0;
	x->feeding = false;
	x->have_pk = false;
	x->ee_bad = false;
	free(x->ee);
	x->ee = NULL;
	x->ee_len = x->ee_cap = 0;
	if (x->use_inner) {
		x->inner.vtable->start_chain(&x->inner.vtable, server_name);
	}
}

static void xv_start_cert(const br_x509_class **ctx, uint32_t length)
{
	struct tls_xv *x = (struct tls_xv *)(void *)ctx;
	x->ncerts++;
	x->feeding = x->use_inner && x->ncerts <= x->max_feed;
	if (x->feeding) {
		x->inner.vtable->start_cert(&x->inner.vtable, length);
	}
	if (x->ncerts == 1) {
		if (length == 0 || length > TLS_PEER_CERT_MAX || (x->ee = malloc(length)) == NULL) {
			x->ee_bad = true;
		} else {
			x->ee_cap = length;
		}
	}
}

static void xv_append(const br_x509_class **ctx, const unsigned char *buf, size_t len)
{
	struct tls_xv *x = (struct tls_xv *)(void *)ctx;
	if (x->ncerts == 1 && x->ee != NULL) {
		size_t k = MP_MIN(len, x->ee_cap - x->ee_len);
		memcpy(x->ee + x->ee_len, buf, k);
		x->ee_len += k;
	}
	if (x->feeding) {
		x->inner.vtable->append(&x->inner.vtable, buf, len);
	}
}

static void xv_end_cert(const br_x509_class **ctx)
{
	struct tls_xv *x = (struct tls_xv *)(void *)ctx;
	if (x->feeding) {
		x->inner.vtable->end_cert(&x->inner.vtable);
	}
	x->feeding = false;
}

/* The end-entity key from our copy of the certificate. */
static bool xv_decode_key(struct tls_xv *x)
{
	br_x509_decoder_context dc;
	br_x509_decoder_init(&dc, NULL, NULL);
	br_x509_decoder_push(&dc, x->ee, x->ee_len);
	const br_x509_pkey *pk = br_x509_decoder_get_pkey(&dc);
	if (pk == NULL) {
		return false;
	}
	x->pk.key_type = pk->key_type;
	if (pk->key_type == BR_KEYTYPE_RSA) {
		if (pk->key.rsa.nlen + pk->key.rsa.elen > sizeof(x->pkbuf)) {
			return false;
		}
		memcpy(x->pkbuf, pk->key.rsa.n, pk->key.rsa.nlen);
		memcpy(x->pkbuf + pk->key.rsa.nlen, pk->key.rsa.e, pk->key.rsa.elen);
		x->pk.key.rsa.n = x->pkbuf;
		x->pk.key.rsa.nlen = pk->key.rsa.nlen;
		x->pk.key.rsa.e = x->pkbuf + pk->key.rsa.nlen;
		x->pk.key.rsa.elen = pk->key.rsa.elen;
	} else {
		if (pk->key.ec.qlen > sizeof(x->pkbuf)) {
			return false;
		}
		memcpy(x->pkbuf, pk->key.ec.q, pk->key.ec.qlen);
		x->pk.key.ec.curve = pk->key.ec.curve;
		x->pk.key.ec.q = x->pkbuf;
		x->pk.key.ec.qlen = pk->key.ec.qlen;
	}
	x->have_pk = true;
	return true;
}

static unsigned xv_end_chain(const br_x509_class **ctx)
{
	struct tls_xv *x = (struct tls_xv *)(void *)ctx;
	struct tls_conn *t = x->t;
	if (x->ncerts == 0) {
		return BR_ERR_X509_EMPTY_CHAIN;
	}
	unsigned inner = x->use_inner ? x->inner.vtable->end_chain(&x->inner.vtable) : BR_ERR_X509_NOT_TRUSTED;
	bool truncated = x->ncerts > x->max_feed;
	struct tls_cert_info ci;
	bool parsed = !x->ee_bad && x->ee_len == x->ee_cap &&
		      tls_cert_parse(x->ee, x->ee_len, &ci) == MP_OK;
	int64_t now = (int64_t)time(NULL);
	const char *reason = NULL;
	enum verdict v;
	if (!parsed) {
		v = VR_FAIL;
		reason = "unable to decode certificate";
	} else if (inner == 0) {
		v = VR_OK;
	} else if (inner == BR_ERR_X509_NOT_TRUSTED) {
		/* OpenSSL's words, as nginx passes them on: a chain cut at
		 * ssl_verify_depth is one whose issuer was not found */
		v = VR_UNTRUSTED;
		bool self = ci.subject_len == ci.issuer_len && memcmp(ci.subject, ci.issuer, ci.issuer_len) == 0;
		if (x->ncerts == 1 && !truncated) {
			reason = self ? "self-signed certificate" : "unable to verify the first certificate";
		} else {
			reason = "unable to get local issuer certificate";
		}
	} else if (inner == BR_ERR_X509_EXPIRED) {
		v = VR_FAIL;
		reason = now < ci.not_before ? "certificate is not yet valid" : "certificate has expired";
	} else {
		v = VR_FAIL;
		reason = x509_reason(inner);
	}
	if (t->server) {
		if (v == VR_OK) {
			const char *crl = tls_crl_check(t->sctx, &ci, now);
			if (crl != NULL) {
				v = VR_FAIL;
				reason = crl;
			}
		}
		/* keep the certificate for the Auth-SSL-* headers */
		t->verdict = v;
		t->reason = reason;
		free(t->peer_der);
		t->peer_der = NULL;
		t->peer_len = 0;
		if (!x->ee_bad && x->ee_len == x->ee_cap) {
			t->peer_der = x->ee;
			t->peer_len = x->ee_len;
			x->ee = NULL;
		}
		/* hand BearSSL the key so that CertificateVerify is checked
		 * whatever the verdict; the session acts on the verdict */
		if ((inner == 0 || inner == BR_ERR_X509_NOT_TRUSTED) && x->use_inner) {
			const br_x509_pkey *pk = x->inner.vtable->get_pkey(&x->inner.vtable, &x->usages);
			if (pk != NULL) {
				x->pk = *pk;
				x->have_pk = true;
				return 0;
			}
		}
		if (t->peer_der != NULL) {
			uint8_t *keep = x->ee;
			x->ee = t->peer_der;
			bool ok = xv_decode_key(x);
			x->ee = keep;
			if (ok) {
				x->usages = BR_KEYTYPE_SIGN;
				return 0;
			}
		}
		t->verdict = VR_FAIL;
		if (t->reason == NULL) {
			t->reason = "unable to decode certificate";
		}
		return BR_ERR_X509_UNSUPPORTED;
	}
	/* client side: the backend's certificate */
	if (t->cctx->verify) {
		if (inner != 0) {
			t->reason = reason != NULL ? reason : x509_reason(inner);
			return inner == BR_ERR_X509_NOT_TRUSTED && truncated ? BR_ERR_X509_LIMIT_EXCEEDED : inner;
		}
		if (x->need_ip && (x->iplen == 0 || !parsed || !tls_san_has_ip(ci.san, ci.san_len, x->ip, x->iplen))) {
			t->reason = "IP address mismatch";
			return BR_ERR_X509_BAD_SERVER_NAME;
		}
		const br_x509_pkey *pk = x->inner.vtable->get_pkey(&x->inner.vtable, &x->usages);
		if (pk == NULL) {
			return BR_ERR_X509_UNSUPPORTED;
		}
		x->pk = *pk;
		x->have_pk = true;
		return 0;
	}
	/* proxy_ssl_verify off: any certificate, its key for the handshake */
	if (x->ee_bad || x->ee_len != x->ee_cap || !xv_decode_key(x)) {
		t->reason = "unable to decode certificate";
		return BR_ERR_X509_UNSUPPORTED;
	}
	x->usages = BR_KEYTYPE_KEYX | BR_KEYTYPE_SIGN;
	return 0;
}

static const br_x509_pkey *xv_get_pkey(const br_x509_class *const *ctx, unsigned *usages)
{
	const struct tls_xv *x = (const struct tls_xv *)(const void *)ctx;
	if (!x->have_pk) {
		return NULL;
	}
	if (usages != NULL) {
		*usages = x->usages;
	}
	return &x->pk;
}

static const br_x509_class xv_class = {
	sizeof(struct tls_xv),
	xv_start_chain,
	xv_start_cert,
	xv_append,
	xv_end_cert,
	xv_end_chain,
	xv_get_pkey,
};

static struct tls_xv *xv_new(struct tls_conn *t, const struct tls_tas *tas, unsigned depth)
{
	struct tls_xv *x = calloc(1, sizeof(*x));
	if (x == NULL) {
		return NULL;
	}
	x->vtable = &xv_class;
	x->t = t;
	x->max_feed = depth + 1;
	if (tas != NULL && tas->n > 0) {
		x->use_inner = true;
		br_x509_minimal_init(&x->inner, &br_sha256_vtable, tas->v, tas->n);
		br_x509_minimal_set_hash(&x->inner, br_sha1_ID, &br_sha1_vtable);
		br_x509_minimal_set_hash(&x->inner, br_sha224_ID, &br_sha224_vtable);
		br_x509_minimal_set_hash(&x->inner, br_sha256_ID, &br_sha256_vtable);
		br_x509_minimal_set_hash(&x->inner, br_sha384_ID, &br_sha384_vtable);
		br_x509_minimal_set_hash(&x->inner, br_sha512_ID, &br_sha512_vtable);
		br_x509_minimal_set_rsa(&x->inner, br_rsa_pkcs1_vrfy_get_default());
		br_x509_minimal_set_ecdsa(&x->inner, &br_ec_all_m31, br_ecdsa_vrfy_asn1_get_default());
	}
	return x;
}

/* ---- engine set-up ----------------------------------------------------- */

/*
 * The symmetric implementations, chosen once per process. BearSSL's
 * br_ssl_engine_set_default_*() probe the CPU (CPUID) on every call, and a
 * hypervisor traps each CPUID: ~10 us apiece, six per handshake here.
 */
static struct {
	bool done;
	const br_block_cbcenc_class *cbcenc;
	const br_block_cbcdec_class *cbcdec;
	const br_block_ctr_class *ctr;
	br_ghash ghash;
	br_chacha20_run chacha20;
	br_poly1305_run poly1305;
} impl;

static void choose_impl(void)
{
	if (impl.done) {
		return;
	}
	impl.done = true;
	/* the hardware versions return NULL where the CPU (or the build
	 * target) lacks them; the constant-time portable ones are the rest */
	impl.cbcenc = br_aes_x86ni_cbcenc_get_vtable();
	impl.cbcdec = br_aes_x86ni_cbcdec_get_vtable();
	impl.ctr = br_aes_x86ni_ctr_get_vtable();
	impl.ghash = br_ghash_pclmul_get();
	impl.chacha20 = br_chacha20_sse2_get();
	impl.poly1305 = br_poly1305_ctmulq_get();
#if UINTPTR_MAX > 0xFFFFFFFFu
	if (impl.cbcenc == NULL || impl.cbcdec == NULL || impl.ctr == NULL) {
		impl.cbcenc = &br_aes_ct64_cbcenc_vtable;
		impl.cbcdec = &br_aes_ct64_cbcdec_vtable;
		impl.ctr = &br_aes_ct64_ctr_vtable;
	}
	if (impl.ghash == 0) {
		impl.ghash = &br_ghash_ctmul64;
	}
#else
	if (impl.cbcenc == NULL || impl.cbcdec == NULL || impl.ctr == NULL) {
		impl.cbcenc = &br_aes_ct_cbcenc_vtable;
		impl.cbcdec = &br_aes_ct_cbcdec_vtable;
		impl.ctr = &br_aes_ct_ctr_vtable;
	}
	if (impl.ghash == 0) {
		impl.ghash = &br_ghash_ctmul;
	}
#endif
	if (impl.chacha20 == 0) {
		impl.chacha20 = &br_chacha20_ct_run;
	}
	if (impl.poly1305 == 0) {
		impl.poly1305 = &br_poly1305_ctmul_run;
	}
}

static void engine_common(br_ssl_engine_context *eng, const uint16_t *suites, size_t nsuites)
{
	static const br_hash_class *const hashes[] = {
		&br_md5_vtable, &br_sha1_vtable, &br_sha224_vtable, &br_sha256_vtable, &br_sha384_vtable, &br_sha512_vtable,
	};
	br_ssl_engine_set_suites(eng, suites, nsuites);
	br_ssl_engine_set_ec(eng, &br_ec_all_m31);
	for (int id = br_md5_ID; id <= br_sha512_ID; id++) {
		br_ssl_engine_set_hash(eng, id, hashes[id - br_md5_ID]);
	}
	br_ssl_engine_set_prf10(eng, &br_tls10_prf);
	br_ssl_engine_set_prf_sha256(eng, &br_tls12_sha256_prf);
	br_ssl_engine_set_prf_sha384(eng, &br_tls12_sha384_prf);
	choose_impl();
	br_ssl_engine_set_cbc(eng, &br_sslrec_in_cbc_vtable, &br_sslrec_out_cbc_vtable);
	br_ssl_engine_set_aes_cbc(eng, impl.cbcenc, impl.cbcdec);
	br_ssl_engine_set_gcm(eng, &br_sslrec_in_gcm_vtable, &br_sslrec_out_gcm_vtable);
	br_ssl_engine_set_aes_ctr(eng, impl.ctr);
	br_ssl_engine_set_ghash(eng, impl.ghash);
	br_ssl_engine_set_chapol(eng, &br_sslrec_in_chapol_vtable, &br_sslrec_out_chapol_vtable);
	br_ssl_engine_set_chacha20(eng, impl.chacha20);
	br_ssl_engine_set_poly1305(eng, impl.poly1305);
	br_ssl_engine_set_default_rsavrfy(eng);
	br_ssl_engine_set_default_ecdsa(eng);
}

static struct tls_conn *conn_new(struct io *io, bool server)
{
	struct tls_conn *t = malloc(sizeof(*t) + TLS_IBUF_LEN + TLS_OBUF_LEN);
	if (t == NULL) {
		return NULL;
	}
	memset(t, 0, sizeof(*t));
	t->server = server;
	t->pair = -1;
	(void)io;
	return t;
}

static bool seed(br_ssl_engine_context *eng)
{
	uint8_t s[32];
	if (rand_bytes(s, sizeof(s)) != MP_OK) {
		return false;
	}
	br_ssl_engine_inject_entropy(eng, s, sizeof(s));
	tls_wipe(s, sizeof(s));
	/* seeded from the kernel: skip BearSSL's own system seeder, which
	 * probes the CPU for RDRAND on every engine */
	eng->rng_os_rand_done = 1;
	return true;
}

/* Hand the session's buffered bytes to the TLS state (see the top). */
static void install(struct io *io, struct tls_conn *t)
{
	t->pre = io->out;
	io->out = NULL;
	t->stash = io->in;
	io->in = NULL;
	if (t->stash != NULL && buf_len(t->stash) == 0) {
		buf_put(t->stash);
		t->stash = NULL;
	}
	io->tls = t;
	io->tls_vt = &tls_vt;
}

enum mp_status tls_start_server(struct io *io, const struct tls_server_ctx *cctx)
{
	struct tls_server_ctx *ctx = (struct tls_server_ctx *)cctx;
	struct tls_conn *t = conn_new(io, true);
	if (t == NULL) {
		return MP_ERR;
	}
	br_ssl_server_context *sc = &t->u.s;
	br_ssl_engine_context *eng = &sc->eng;
	br_ssl_server_zero(sc);
	br_ssl_engine_set_versions(eng, ctx->vmin, ctx->vmax);
	engine_common(eng, ctx->suites, ctx->nsuites);
	uint32_t flags = BR_OPT_NO_RENEGOTIATION;
	if (ctx->prefer_server) {
		flags |= BR_OPT_ENFORCE_SERVER_PREFERENCES;
	}
	if (ctx->alpn[0] != NULL) {
		flags |= BR_OPT_FAIL_ON_ALPN_MISMATCH;
		br_ssl_engine_set_protocol_names(eng, ctx->alpn, 1);
	}
	t->policy_vt = &policy_class;
	br_ssl_server_set_policy(sc, &t->policy_vt);
	if (ctx->cache) {
		t->cache_vt = &cache_class;
		br_ssl_server_set_cache(sc, &t->cache_vt);
	}
	if (ctx->verify != VERIFY_OFF) {
		flags |= BR_OPT_TOLERATE_NO_CLIENT_AUTH;
		t->xv = xv_new(t, &ctx->tas, ctx->depth);
		if (t->xv == NULL) {
			free(t);
			return MP_ERR;
		}
		br_ssl_server_set_trust_anchor_names(sc, ctx->ta_names, ctx->nta_names);
		br_ssl_engine_set_x509(eng, &t->xv->vtable);
	}
	br_ssl_engine_set_all_flags(eng, flags);
	br_ssl_engine_set_buffers_bidi(eng, t->bufs, TLS_IBUF_LEN, t->bufs + TLS_IBUF_LEN, TLS_OBUF_LEN);
	if (!seed(eng) || !br_ssl_server_reset(sc)) {
		xv_free(t);
		free(t);
		return MP_ERR;
	}
	t->sctx = ctx;
	tls_server_ctx_ref(ctx);
	install(io, t);
	return MP_OK;
}

enum mp_status tls_start_client(struct io *io, const struct tls_client_ctx *cctx)
{
	struct tls_client_ctx *ctx = (struct tls_client_ctx *)cctx;
	struct tls_conn *t = conn_new(io, false);
	if (t == NULL) {
		return MP_ERR;
	}
	t->cctx = ctx;
	br_ssl_client_context *cc = &t->u.c;
	br_ssl_engine_context *eng = &cc->eng;
	br_ssl_client_zero(cc);
	br_ssl_engine_set_versions(eng, BR_TLS10, BR_TLS12);
	engine_common(eng, ctx->suites, ctx->nsuites);
	br_ssl_client_set_default_rsapub(cc);
	if (ctx->alpn[0] != NULL) {
		br_ssl_engine_set_protocol_names(eng, ctx->alpn, 1);
	}
	br_ssl_engine_set_all_flags(eng, BR_OPT_NO_RENEGOTIATION);
	t->xv = xv_new(t, ctx->verify ? &ctx->tas : NULL, ctx->depth);
	if (t->xv == NULL) {
		free(t);
		return MP_ERR;
	}
	br_ssl_engine_set_x509(eng, &t->xv->vtable);
	/* the backend's address: session key, and the IP to verify when
	 * proxy_ssl_name is not a DNS name */
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	memset(&ss, 0, sizeof(ss));
	if (getpeername(io->w.fd, (struct sockaddr *)&ss, &sl) != 0) {
		sl = 0;
	}
	const char *sni = NULL;
	t->xv->need_ip = ctx->verify && (ctx->name[0] == '\0' || ctx->name_is_ip);
	if (ctx->name[0] != '\0' && !ctx->name_is_ip) {
		sni = ctx->name;
	} else if (ctx->name_is_ip) {
		memcpy(t->xv->ip, ctx->ip, ctx->iplen);
		t->xv->iplen = ctx->iplen;
	} else if (ss.ss_family == AF_INET) {
		memcpy(t->xv->ip, &((struct sockaddr_in *)&ss)->sin_addr, 4);
		t->xv->iplen = 4;
	} else if (ss.ss_family == AF_INET6) {
		memcpy(t->xv->ip, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
		t->xv->iplen = 16;
	}
	/* a unix socket and no proxy_ssl_name: iplen stays 0, nothing can
	 * match, and a verifying connection is refused */
	br_sha256_context h;
	br_sha256_init(&h);
	br_sha256_update(&h, &ss, sl);
	br_sha256_update(&h, ctx->name, strlen(ctx->name));
	br_sha256_out(&h, t->sess_key);
	int resume = 0;
	uint64_t now = tls_now_ms();
	for (size_t i = 0; i < TLS_CLIENT_SESSIONS; i++) {
		struct tls_client_session *s = &ctx->sess[i];
		if (s->used && memcmp(s->key, t->sess_key, 32) == 0) {
			if (now - s->stored_ms < TLS_CLIENT_SESSION_TTL_MS) {
				br_ssl_engine_set_session_parameters(eng, &s->params);
				memcpy(t->offered_id, s->params.session_id, s->params.session_id_len);
				t->offered_len = s->params.session_id_len;
				resume = 1;
			} else {
				tls_wipe(s, sizeof(*s));
			}
		}
	}
	br_ssl_engine_set_buffers_bidi(eng, t->bufs, TLS_IBUF_LEN, t->bufs + TLS_IBUF_LEN, TLS_OBUF_LEN);
	if (!seed(eng) || !br_ssl_client_reset(cc, sni, resume)) {
		xv_free(t);
		free(t);
		return MP_ERR;
	}
	tls_client_ctx_ref(ctx);
	install(io, t);
	return MP_OK;
}

size_t tls_conn_bytes(void)
{
	return sizeof(struct tls_conn) + TLS_IBUF_LEN + TLS_OBUF_LEN;
}

/* ---- the public getters ------------------------------------------------ */

enum mp_status tls_handshake(struct io *io)
{
	struct tls_conn *t = conn_of(io);
	if (t == NULL) {
		return MP_ERR;
	}
	return hs_step(io, t);
}

const char *tls_error(const struct io *io)
{
	struct tls_conn *t = conn_of(io);
	return t != NULL ? t->err : "";
}

const char *tls_protocol_name(const struct io *io)
{
	struct tls_conn *t = conn_of(io);
	return t != NULL && t->hs_done ? tls_version_name(eng_of(t)->session.version) : "";
}

const char *tls_cipher_name(const struct io *io)
{
	struct tls_conn *t = conn_of(io);
	return t != NULL && t->hs_done ? tls_suite_name(eng_of(t)->session.cipher_suite) : "";
}

bool tls_session_reused(const struct io *io)
{
	struct tls_conn *t = conn_of(io);
	return t != NULL && t->resumed;
}

bool tls_truncated(const struct io *io)
{
	struct tls_conn *t = conn_of(io);
	return t != NULL && t->truncated;
}

void tls_shutdown(struct io *io)
{
	struct tls_conn *t = conn_of(io);
	/* before the handshake no version is agreed: an alert now would be a
	 * malformed record (nginx sends nothing then either) */
	if (t == NULL || t->failed || !t->hs_done) {
		return;
	}
	br_ssl_engine_close(eng_of(t));
	while (pump_send(io, t) == P_PROGRESS) {
	}
}

/* The strings of tls_peer_cert, in one allocation of exactly their size:
 * formatted once to measure (sp->p == NULL), once to store. */
struct strpool {
	char *p;
	size_t n;
};

static const char *pool_add(struct strpool *sp, const char *s, size_t l)
{
	char *d = sp->p != NULL ? sp->p + sp->n : NULL;
	if (d != NULL) {
		memcpy(d, s, l);
		d[l] = '\0';
	}
	sp->n += l + 1;
	return d != NULL ? d : "";
}

static void format_into(struct tls_conn *t, struct strpool *sp)
{
	struct tls_peer_cert *pc = &t->pc;
	char tmp[TLS_DN_TEXT_MAX];
	if (t->verdict == VR_OK) {
		pc->verify = "SUCCESS";
	} else {
		int l = snprintf(tmp, sizeof(tmp), "FAILED:%s", t->reason != NULL ? t->reason : "unknown error");
		pc->verify = pool_add(sp, tmp, (size_t)l);
	}
	struct tls_cert_info ci;
	if (t->peer_der == NULL || tls_cert_parse(t->peer_der, t->peer_len, &ci) != MP_OK) {
		return;
	}
	if (tls_dn_oneline(ci.subject, ci.subject_len, tmp, sizeof(tmp)) == MP_OK) {
		pc->subject = pool_add(sp, tmp, strlen(tmp));
	}
	if (tls_dn_oneline(ci.issuer, ci.issuer_len, tmp, sizeof(tmp)) == MP_OK) {
		pc->issuer = pool_add(sp, tmp, strlen(tmp));
	}
	if (tls_dn_rfc2253(ci.subject, ci.subject_len, tmp, sizeof(tmp)) == MP_OK) {
		pc->subject_rfc2253 = pool_add(sp, tmp, strlen(tmp));
	}
	if (tls_dn_rfc2253(ci.issuer, ci.issuer_len, tmp, sizeof(tmp)) == MP_OK) {
		pc->issuer_rfc2253 = pool_add(sp, tmp, strlen(tmp));
	}
	if (tls_serial_hex(ci.serial, ci.serial_len, tmp, sizeof(tmp)) == MP_OK) {
		pc->serial = pool_add(sp, tmp, strlen(tmp));
	}
	uint8_t sha[20];
	br_sha1_context h;
	br_sha1_init(&h);
	br_sha1_update(&h, t->peer_der, t->peer_len);
	br_sha1_out(&h, sha);
	for (size_t i = 0; i < sizeof(sha); i++) {
		snprintf(tmp + 2 * i, 3, "%02x", sha[i]);
	}
	pc->fingerprint = pool_add(sp, tmp, 40);
	/* the PEM, as PEM_write_bio_X509 writes it */
	size_t pem_cap = (t->peer_len + 2) / 3 * 4 + t->peer_len / 48 + 64;
	if (sp->p == NULL) {
		sp->n += pem_cap;
	} else {
		size_t pl = tls_pem_encode("CERTIFICATE", t->peer_der, t->peer_len, sp->p + sp->n, pem_cap);
		if (pl > 0) {
			pc->pem = sp->p + sp->n;
		}
		sp->n += pem_cap;
	}
}

static void format_peer(struct tls_conn *t)
{
	struct tls_peer_cert *pc = &t->pc;
	pc->present = t->peer_der != NULL || t->verdict != VR_NONE;
	pc->verify = "NONE";
	pc->subject = pc->issuer = pc->subject_rfc2253 = pc->issuer_rfc2253 = "";
	pc->serial = pc->fingerprint = pc->pem = "";
	if (!pc->present) {
		return;
	}
	struct strpool sp = { NULL, 0 };
	format_into(t, &sp);
	free(t->info);
	t->info = malloc(sp.n);
	if (t->info == NULL) {
		pc->verify = "FAILED:out of memory";
		return;
	}
	sp.p = t->info;
	sp.n = 0;
	format_into(t, &sp);
}

void tls_peer_cert(const struct io *io, struct tls_peer_cert *out)
{
	static const struct tls_peer_cert none = { false, "NONE", "", "", "", "", "", "", "" };
	struct tls_conn *t = conn_of(io);
	if (t == NULL || !t->server || !t->hs_done) {
		*out = none;
		return;
	}
	if (t->info == NULL) {
		format_peer(t);
	}
	*out = t->pc;
}

enum tls_cert_status tls_peer_cert_status(const struct io *io)
{
	struct tls_conn *t = conn_of(io);
	if (t == NULL || !t->server || t->sctx->verify == VERIFY_OFF) {
		return TLS_CERT_NONE_OK;
	}
	switch (t->verdict) {
	case VR_NONE:
		return t->sctx->verify == VERIFY_ON ? TLS_CERT_MISSING : TLS_CERT_NONE_OK;
	case VR_OK:
		return TLS_CERT_OK;
	case VR_UNTRUSTED:
		return t->sctx->verify == VERIFY_OPTIONAL_NO_CA ? TLS_CERT_OK : TLS_CERT_BAD;
	default:
		return TLS_CERT_BAD;
	}
}
