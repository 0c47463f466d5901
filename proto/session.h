/*
 * One client session, from accept to the summary log line, and what every
 * protocol shares: the phases, the authenticator hand-off, the backend
 * connection, the relay and the deferred close. Protocol files (imap.c,
 * pop3.c, smtp.c) plug in through struct proto_ops.
 */
#ifndef MP_SESSION_H
#define MP_SESSION_H

#include "../conf/conf.h"
#include "../core/io.h"
#include "../core/loop.h"
#include "../core/net.h"
#include "../core/str.h"
#include "auth.h"
#include "proxy_proto.h"

enum session_phase {
	PH_PROXY_HEADER,   /* reading a PROXY protocol header */
	PH_TLS_HANDSHAKE,  /* implicit TLS or after STARTTLS */
	PH_RESOLVE,        /* client name lookup (resolver) */
	PH_GREETING_DELAY, /* smtp_greeting_delay */
	PH_AUTH,           /* client dialogue before login */
	PH_AUTH_WAIT,      /* the authenticator is working */
	PH_AUTH_DELAY,     /* Auth-Wait: holding the error back */
	PH_BACKEND,        /* connecting to and logging in to the backend */
	PH_RELAY,          /* bytes flow both ways */
};

struct session;
struct resolver_query;

struct proto_ops {
	const char *name;
	/* Send the greeting; the session is in PH_AUTH afterwards. */
	void (*greet)(struct session *s);
	/* Bytes are waiting in s->client.in (PH_AUTH): parse and act. */
	void (*client_input)(struct session *s);
	/* The authenticator said no. `text` is its message; if keep is set the
	 * client may try again (Auth-Wait), else the session ends after it. */
	void (*auth_failed)(struct session *s, const char *text, const char *code, bool keep);
	/* The backend connection is up (PH_BACKEND): start the login dialogue. */
	void (*backend_connected)(struct session *s);
	/* Bytes are waiting in s->backend.in (PH_BACKEND). */
	void (*backend_input)(struct session *s);
	/* Tell the client about a temporary failure before closing. */
	void (*internal_error)(struct session *s);
	/* Optional: the client talked during smtp_greeting_delay. */
	void (*early_talker)(struct session *s);
	/* proxy_ssl starttls: TLS to the backend is up after its STARTTLS. */
	void (*backend_tls_ready)(struct session *s);
	/* nginx's last words when ssl_verify_client refuses the client. */
	const char *no_cert;
	const char *cert_error;
};

/* Per-protocol state that must live for the whole pre-relay phase. */
struct imap_state {
	uint8_t step;       /* imap.c's own sub-state */
	uint8_t conts;      /* continuations sent for the current command */
	bool id_pending;    /* proxy_client_id: our ID's tagged reply is due */
	bool backend_id;    /* the backend's greeting announced ID */
};

struct pop3_state {
	uint8_t step;       /* pop3.c's state (client dialogue, then backend login) */
	uint8_t user;       /* USER seen, PASS expected */
	bool backend_xclient; /* the backend's greeting offered XCLIENT */
};

struct smtp_state {
	uint8_t step;       /* smtp.c's backend login step */
	uint8_t esmtp;      /* the client said EHLO (not HELO) */
};

struct session {
	struct session *next;            /* free list / close list */
	struct session *aprev, *anext;   /* all live sessions (for shutdown) */
	uint64_t id;
	const struct conf_server *srv;
	const struct conf_listen *ls;
	const struct proto_ops *ops;
	struct io client;
	struct io backend;
	struct timer timer;
	struct mp_ipaddr client_ip;      /* after real-IP substitution (compact:
					  * session_client_addr() expands it) */
	uint64_t started_ms;
	uint64_t last_activity_ms;       /* relay: proxy_timeout counts from here */
	size_t client_buffer_cap;        /* pre-auth line limit (per protocol) */
	char *backend_text;              /* "127.0.0.1:143", owned, for logs */
	struct pp_header *pp;            /* PROXY protocol header received, owned */
	char *client_host;               /* resolver: confirmed name or "[UNAVAILABLE]", owned */
	struct resolver_query *rq;       /* client name lookup in flight */
	enum session_phase phase;
	uint8_t errors;                  /* protocol errors, against max_errors */
	uint8_t attempts;                /* login attempts (Auth-Login-Attempt) */
	bool quit;                       /* close once the client's output is sent */
	bool closed;                     /* on the close list: touch nothing */
	bool backend_connecting;         /* connect(2) in progress */
	bool starttls_pending;           /* start TLS once the reply is sent */
	bool backend_handshake;          /* proxy_ssl: TLS to the backend in progress */
	bool backend_starttls;           /* ... started by STARTTLS, not at connect */
	bool tls_implicit;               /* the handshake leads to the greeting */
	uint16_t commands;               /* pre-auth commands, against max_commands */
	struct auth_ctx *auth;           /* from the first login command to relay start */
	char *login;                     /* for log lines; owned */
	const char *close_reason;
	union {
		struct imap_state imap;
		struct smtp_state smtp;
		struct pop3_state pop3;
	} p;
};

/* The client's address as a full struct mp_addr (a unix client gets the
 * listener's path). */
void session_client_addr(const struct session *s, struct mp_addr *out);

/* Start accepting on every listen of the configuration. */
int session_listen_all(const struct conf *c);
/* Stop accepting (SIGQUIT, reload); sessions go on. */
void session_stop_listening(void);
/* Close every session now (SIGTERM). */
void session_close_all(const char *reason);
/* Release cached memory before exit (leak checkers). */
void session_free_all(void);
size_t session_count(void);
/* Free closed sessions; call after each loop turn. */
void session_reap(void);

/* For protocol code. */
enum mp_status session_send(struct session *s, const char *p, size_t n);
enum mp_status session_sendf(struct session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Line protocols (POP3, SMTP): the next client line (without its CRLF) of
 * at most client_buffer_cap bytes, and the bytes to consume for it. false:
 * none complete yet, or it was too long: then `too_long` has been sent and
 * the session is ending, as nginx does. */
bool session_client_line(struct session *s, const char *too_long, struct mp_str *line,
			 size_t *used);
/* Count a protocol error; true when max_errors is reached (caller closes). */
bool session_error(struct session *s);
/* s->auth for a login: made if missing; with reset_creds, the credentials
 * of an earlier attempt are wiped (the SMTP envelope stays). False: out of
 * memory, the client was told and the session is ending. */
bool session_auth_ctx(struct session *s, bool reset_creds);
/* Ask the authenticator; s->auth is filled in. Leads to ops->auth_failed,
 * ops->internal_error or a backend connection. */
void session_authenticate(struct session *s);
/* Backend login done: `client_reply` goes to the client, then the relay. */
void session_start_relay(struct session *s, const char *client_reply, size_t n);
/* End the session after the client has been sent what is queued. */
void session_quit(struct session *s, const char *reason);
/* End now. */
void session_close(struct session *s, const char *reason);
/* Record the login for log lines (copied). */
void session_set_login(struct session *s, const char *login, size_t n);
/* TLS toward the client. */
bool session_tls_active(const struct session *s);
/* STARTTLS/STLS may be offered: TLS configured, `starttls on|only`, not yet on. */
bool session_starttls_offered(const struct session *s);
/* `starttls only` and no TLS yet: logins must be refused. */
bool session_login_needs_tls(const struct session *s);
/* The protocol has queued its "go ahead" reply: switch to TLS once it is
 * sent. `cmd_len` bytes of client.in are the STARTTLS command itself; any
 * plaintext pipelined behind it is dropped here (CVE-2011-0411 class). The
 * protocol forgets its own pre-TLS state before calling. */
void session_starttls(struct session *s, size_t cmd_len);

/* proxy_ssl starttls: the backend accepted STARTTLS and its reply line is
 * consumed. Refuses anything the backend sent behind that reply (response
 * injection, security.md row 2), then starts the handshake; the protocol's
 * backend_tls_ready() follows. False when the session is ending. */
bool session_backend_starttls(struct session *s);

/* Re-derive I/O interest from the phase (the only place that does). */
void session_update(struct session *s);

/* Protocol tables. */
extern const struct proto_ops imap_ops;
extern const struct proto_ops pop3_ops;
extern const struct proto_ops smtp_ops;

#endif
