/*
 * The configuration as the rest of mproxy sees it: fully parsed, validated and
 * inherited (mail -> server). Built by conf_load(); read-only afterwards.
 * All strings and arrays live in the configuration's own arena and are freed
 * together by conf_free().
 */
#ifndef MP_CONF_H
#define MP_CONF_H

#include "../core/common.h"
#include "../core/net.h"

enum mail_proto {
	PROTO_NONE = 0,
	PROTO_IMAP,
	PROTO_POP3,
	PROTO_SMTP,
};

/* Authentication methods (bits). Which are allowed per protocol is the
 * directive's business: imap_auth, pop3_auth, smtp_auth. */
enum auth_method_bit {
	AUTHM_PLAIN = 1u << 0,
	AUTHM_LOGIN = 1u << 1,
	AUTHM_APOP = 1u << 2,
	AUTHM_CRAM_MD5 = 1u << 3,
	AUTHM_EXTERNAL = 1u << 4,
	AUTHM_NONE = 1u << 5, /* smtp_auth none */
};

enum starttls_mode {
	STARTTLS_OFF = 0,
	STARTTLS_ON,
	STARTTLS_ONLY,
};

enum verify_client_mode {
	VERIFY_OFF = 0,
	VERIFY_ON,
	VERIFY_OPTIONAL,
	VERIFY_OPTIONAL_NO_CA,
};

/* ssl_protocols bits */
enum tls_proto_bit {
	TLSP_SSLv2 = 1u << 0,
	TLSP_SSLv3 = 1u << 1,
	TLSP_TLSv1 = 1u << 2,
	TLSP_TLSv1_1 = 1u << 3,
	TLSP_TLSv1_2 = 1u << 4,
	TLSP_TLSv1_3 = 1u << 5,
};

struct conf_strlist {
	const char **v;
	size_t n;
};

struct conf_server;
struct tls_server_ctx;
struct tls_client_ctx;

/* One `listen` directive, parsed completely. */
struct conf_listen {
	struct mp_addr addr;     /* IPv4, IPv6 (port set) or unix path */
	const char *text;        /* as written, for logs: "127.0.0.1:143" */
	bool wildcard;           /* "*:port" or bare port */
	bool ssl;
	bool proxy_protocol;
	bool bind;
	int ipv6only;            /* -1 unset, 0 off, 1 on (nginx default on) */
	int backlog;             /* -1 = default (511, like nginx) */
	int rcvbuf, sndbuf;      /* 0 = unset */
	int keepalive;           /* -1 unset, 0 off, 1 on */
	int keepidle, keepintvl, keepcnt; /* 0 = system default */
	bool multipath;
	const char *file;        /* where it was written */
	int line;
	struct conf_server *server;
};

/* One allow/deny or set_real_ip_from entry. */
struct conf_cidr {
	int family;          /* AF_INET, AF_INET6, AF_UNIX (unix:), 0 = "all" */
	uint8_t addr[16];    /* network byte order, masked */
	unsigned prefix;     /* bits */
	bool allow;          /* allow/deny only */
};

struct conf_cidrlist {
	struct conf_cidr *v;
	size_t n;
};

/* auth_http URL: "http://host:port/uri", "host:port/uri", "unix:/path:/uri". */
struct conf_url {
	const char *text;        /* as written */
	struct mp_addr addr;     /* resolved at load time (first address) */
	const char *host_header; /* the host as written (no port, as nginx), or "localhost" for unix */
	const char *uri;         /* "/" when absent */
};

struct conf_header {
	const char *name;
	const char *value;
};

/* mproxy's built-in authenticator: `auth_backend USER ADDR:PORT [password=HASH];`
 * USER is "name", "*@domain" or "*". No password= means pass-through: the
 * backend checks the client's password. */
struct conf_auth_backend {
	const char *user;        /* "alice@example.com", "*@example.com", "*" */
	struct mp_addr addr;     /* backend, port set */
	const char *hash;        /* NULL = pass-through; else "$pbkdf2-sha256$..." */
	const char *file;
	int line;
};

struct conf_resolver {
	struct mp_addr *addrs;   /* port 53 unless given */
	size_t n;                /* 0 = resolver off */
	uint64_t valid_ms;       /* 0 = honour TTLs */
	bool ipv4, ipv6;
};

struct conf_ssl_cert {
	const char *cert;        /* path (or "data:...") as written, prefix-resolved */
	const char *key;
	const char *file;        /* where ssl_certificate was written */
	int line;
};

struct conf_ssl {
	bool ssl_on;                   /* deprecated `ssl on` */
	enum starttls_mode starttls;
	struct conf_ssl_cert *certs;   /* ssl_certificate / ssl_certificate_key pairs */
	size_t ncerts;
	unsigned protocols;            /* TLSP_* bits; default TLSv1.2|TLSv1.3 */
	const char *ciphers;           /* default "HIGH:!aNULL:!MD5" */
	bool prefer_server_ciphers;
	const char *ecdh_curve;        /* default "auto" */
	const char *session_cache;     /* as written: "off", "none", "builtin:1000 shared:SSL:10m" */
	size_t session_cache_size;     /* entries-ish budget in bytes; 0 = none */
	uint64_t session_timeout_ms;   /* default 5m */
	bool session_tickets;          /* default on */
	struct conf_strlist session_ticket_keys;
	const char *password_file;
	const char *dhparam;
	enum verify_client_mode verify_client;
	unsigned verify_depth;         /* default 1 */
	const char *client_certificate;
	const char *trusted_certificate;
	const char *crl;
	bool certificate_compression;
	struct conf_strlist conf_commands; /* "name value" pairs, flattened */
	/* where the directives were written, for -t errors about files */
	const char *file;
	int line;
};

/* TLS toward the backend: mproxy's own `proxy_ssl*` directives (beyond nginx). */
struct conf_proxy_ssl {
	int mode;                      /* 0 off, 1 on (implicit TLS), 2 starttls */
	bool verify;                   /* proxy_ssl_verify, default on when mode set */
	const char *trusted_certificate;
	const char *name;              /* proxy_ssl_name: expected server name */
	unsigned verify_depth;
};

/* One `server {}` block, with everything inherited from `mail {}` applied. */
struct conf_server {
	const char *file;
	int line;
	enum mail_proto protocol;
	const char *server_name;          /* default: the machine's hostname */

	uint64_t timeout_ms;              /* 60s */
	uint64_t proxy_timeout_ms;        /* 24h */
	uint64_t resolver_timeout_ms;     /* 30s */
	uint64_t auth_http_timeout_ms;    /* 60s */
	uint64_t smtp_greeting_delay_ms;  /* 0 */
	unsigned max_errors;              /* 5 */
	unsigned max_commands;            /* 1000 (freenginx/Angie) */

	struct conf_url auth_http;        /* text == NULL when unset */
	struct conf_header *auth_http_headers;
	size_t nauth_http_headers;
	bool auth_http_pass_client_cert;
	struct conf_auth_backend *auth_backends;
	size_t nauth_backends;

	bool proxy;                       /* accepted, does nothing (as nginx) */
	size_t proxy_buffer;              /* 4k|8k: page size */
	bool proxy_pass_error_message;
	int proxy_protocol;               /* 0 off, 1 v1, 2 v2 */
	bool proxy_smtp_auth;
	bool xclient;                     /* default on */
	bool proxy_client_id;             /* mproxy: IMAP ID / POP3 XCLIENT to backend */
	struct conf_proxy_ssl proxy_ssl;

	unsigned imap_auth;               /* AUTHM_* bits; default PLAIN */
	struct conf_strlist imap_capabilities; /* default IMAP4 IMAP4rev1 UIDPLUS */
	size_t imap_client_buffer;        /* page size */
	unsigned pop3_auth;               /* default PLAIN */
	struct conf_strlist pop3_capabilities; /* default TOP USER UIDL */
	size_t pop3_client_buffer;        /* mproxy: default 512 (nginx: fixed 128) */
	unsigned smtp_auth;               /* default PLAIN|LOGIN */
	struct conf_strlist smtp_capabilities;
	size_t smtp_client_buffer;        /* page size */

	struct conf_resolver resolver;
	struct conf_cidrlist real_ip_from;  /* set_real_ip_from */
	struct conf_cidrlist access;        /* allow/deny, in order */

	struct conf_ssl ssl;

	const char *error_log;            /* per-server error_log as written, or NULL */
	int error_log_level;

	/* Run-time state built from this server's ssl_* directives by tls/
	 * (tls_server_ctx_new()); NULL when the server has no TLS. */
	struct tls_server_ctx *tls;
	struct tls_client_ctx *proxy_tls; /* proxy_ssl: TLS toward the backend */
};

/* The whole file: top-level directives and the mail block. */
struct conf {
	const char *prefix;               /* -p, ends in '/' */
	const char *conf_file;            /* absolute path */
	bool daemon;                      /* default on */
	bool master_process;              /* accepted; single process here */
	const char *pid_file;             /* default PREFIX "/logs/mproxy.pid"? see conf.c */
	const char *user, *group;         /* NULL = do not change */
	const char *error_log;            /* target: path, "stderr", "syslog:..." */
	int error_log_level;              /* default LOGL_ERR */
	long worker_rlimit_nofile;        /* 0 = leave */
	unsigned worker_connections;      /* from events {}, default 1024; caps sessions */
	bool has_mail;

	struct conf_server **servers;
	size_t nservers;
	struct conf_listen **listens;     /* all listens of all servers */
	size_t nlistens;

	void *arena;                      /* private */
};

/* Options from the command line that shape loading. */
struct conf_opts {
	const char *conf_file;  /* -c */
	const char *prefix;     /* -p */
	const char *directives; /* -g */
};

/* Load and validate. On error returns NULL and writes one nginx-style message
 * (without the "mproxy: [emerg] " prefix) into err, e.g.
 * `unknown directive "foo" in /etc/mproxy/mproxy.conf:12`. Notices (directives
 * accepted but ignored) go to the notice callback, which may be NULL. */
struct conf *conf_load(const struct conf_opts *opts, char *err, size_t errcap,
		       void (*notice)(int level, const char *msg));
void conf_free(struct conf *c);
/* Write the configuration files as read (for -T): "# configuration file X:" then the text. */
void conf_dump(const struct conf *c, int fd);

const char *conf_proto_name(enum mail_proto p); /* "imap", "pop3", "smtp" */

#endif
