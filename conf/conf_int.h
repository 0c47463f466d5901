/*
 * Private to conf/: the pieces the loader is built from. Nothing outside conf/
 * (except its unit tests and fuzzer) includes this header.
 *
 *   arena.c       one allocation pool per loaded configuration
 *   lexer.c       nginx's tokenizer, over an in-memory buffer
 *   units.c       numbers, sizes, offsets, times (ngx_atoi, ngx_parse_*)
 *   addr.c        IPv4 literals, URLs (ngx_parse_url), CIDRs, /etc/hosts
 *   directives.c  the directive table and its setters
 *   parse.c       files, include, blocks, dispatch, error formatting
 *   conf.c        conf_load(), mail -> server inheritance, validation
 */
#ifndef MP_CONF_INT_H
#define MP_CONF_INT_H

#include "conf.h"
#include "../core/str.h"

#include <stdarg.h>

/* ---- limits ------------------------------------------------------------ */

/* Longest parameter, raw (nginx: NGX_CONF_BUFFER, the read buffer size). */
#define CONF_TOKEN_MAX 4096
/* Words in one directive, its name included (nginx: no limit). */
#define CONF_ARGS_MAX 256
/* One configuration file, and all files of one load together. */
#define CONF_FILE_MAX (4u << 20)
#define CONF_TOTAL_MAX (32u << 20)
/* Files read by one load (include with globs). */
#define CONF_FILES_MAX 1024
/* Nested blocks and includes together (nginx: none; recursion is finite here). */
#define CONF_DEPTH_MAX 32
/* Memory of one loaded configuration. */
#define CONF_ARENA_MAX (256u << 20)
/* Addresses kept from one hostname (listen, resolver, set_real_ip_from). */
#define CONF_URL_ADDRS_MAX 16
/* /etc/hosts is read at most this far. */
#define CONF_HOSTS_FILE_MAX (1u << 20)
/* Name servers of one `resolver` directive. */
#define CONF_RESOLVERS_MAX 32
/* Client and proxy buffers: a command line must fit, a typo must not eat RAM. */
#define CONF_BUF_MIN 128
#define CONF_BUF_MAX (16u << 20)
/* One composed error or notice message. */
#define CONF_MSG_MAX 1024
/* Budget for one built-in TLS session cache entry (BearSSL's LRU: ~100 bytes). */
#define CONF_SSL_SESSION_ENTRY 100
/* nginx's default builtin cache size (OpenSSL's SSL_SESSION_CACHE_MAX_SIZE_DEFAULT). */
#define CONF_SSL_BUILTIN_DEFAULT 20480

/* Compile-time defaults; a package may override them with -D. */
#ifndef MP_CONF_PATH
#define MP_CONF_PATH "/etc/mproxy/mproxy.conf"
#endif
#ifndef MP_PID_PATH
#define MP_PID_PATH "/run/mproxy.pid"
#endif
#ifndef MP_ERROR_LOG_PATH
#define MP_ERROR_LOG_PATH "stderr"
#endif
#ifndef MP_HOSTS_PATH
#define MP_HOSTS_PATH "/etc/hosts"
#endif
/* MP_PREFIX: when undefined, the prefix is the current directory (as nginx
 * built without --prefix). */

/* ---- arena ------------------------------------------------------------- */

struct conf_arena;

struct conf_arena *conf_arena_new(size_t limit);
/* Zeroed, aligned for any type; NULL when the limit would be passed. */
void *conf_arena_alloc(struct conf_arena *a, size_t n);
/* NUL-terminated copy of n bytes. */
char *conf_arena_strndup(struct conf_arena *a, const char *s, size_t n);
void conf_arena_free(struct conf_arena *a);

/* Append one element to an arena vector *v of *n elements. Capacity is not
 * stored: it is the next power of two >= max(n, 4), so growing reallocates
 * only when n reaches a power of two. Returns the new slot (zeroed) or NULL. */
void *conf_vec_push(struct conf_arena *a, void *vp, size_t *n, size_t elsize);

/* ---- lexer ------------------------------------------------------------- */

enum conf_tok {
	CONF_TOK_ERROR = 0,
	CONF_TOK_END,         /* directive terminated by ";" */
	CONF_TOK_BLOCK_START, /* directive terminated by "{" */
	CONF_TOK_BLOCK_DONE,  /* "}" */
	CONF_TOK_FILE_DONE,   /* end of input */
};

struct conf_lexer {
	const char *p, *end; /* what is left to read */
	unsigned line;       /* current line, 1-based; error line after an error */
	bool param;          /* -g text: "unexpected end of parameter" wording */
};

/* The words of one directive: NUL-terminated, unescaped copies in the arena. */
struct conf_args {
	struct mp_str v[CONF_ARGS_MAX];
	size_t n;
};

/* nginx's ngx_conf_read_token(): read one directive (or "}" / end of input).
 * On CONF_TOK_ERROR, msg holds nginx's message without location and lx->line
 * the line it refers to. */
enum conf_tok conf_lex(struct conf_lexer *lx, struct conf_arena *a,
		       struct conf_args *args, char *msg, size_t msgcap);

/* ---- units ------------------------------------------------------------- */

/* ngx_atoi: decimal digits only, no sign, no overflow. */
enum mp_status conf_atoi(struct mp_str s, int64_t *out);
/* ngx_parse_size: N, Nk, Nm (either case); at most PTRDIFF_MAX. */
enum mp_status conf_parse_size(struct mp_str s, int64_t *out);
/* ngx_parse_offset: N, Nk, Nm, Ng. */
enum mp_status conf_parse_offset(struct mp_str s, int64_t *out);
/* ngx_parse_time: "1h 30m", "500ms", "2d"...; result in ms (is_sec false)
 * or s (is_sec true). "y" and "M" are accepted only with is_sec, as nginx. */
enum mp_status conf_parse_time(struct mp_str s, bool is_sec, int64_t *out);

/* ---- addresses ---------------------------------------------------------- */

/* ngx_inet_addr: dotted quad, decimal octets. out in network order. */
bool conf_inet4(const char *p, size_t n, uint8_t out[4]);
/* A hostname lookup: fill up to max addresses (port 0), return how many. */
typedef size_t (*conf_resolve_fn)(void *ctx, const char *host, size_t n,
				  struct mp_addr *out, size_t max);

struct conf_url_in {
	struct mp_str url;
	bool listen;           /* bare port and "*" allowed, no URI */
	bool uri_part;         /* "/uri" allowed (auth_http) */
	uint16_t default_port; /* 0 = none */
};

struct conf_url_out {
	const char *err;        /* nginx's u.err text on MP_INVALID */
	struct mp_addr addrs[CONF_URL_ADDRS_MAX];
	size_t naddrs;
	struct mp_str host;     /* host part as written, no port */
	struct mp_str hostport; /* host[:port] as written */
	struct mp_str uri;      /* from "/" or "?", or after "unix:path:" */
	uint16_t port;
	bool no_port;
	bool wildcard;
	int family;
};

/* nginx's ngx_parse_url(): "unix:path[:uri]", "[v6][:port][/uri]",
 * "host[:port][/uri]", and for listen a bare port or "*:port". Hostnames go
 * to resolve (NULL = none: "host not found"). */
enum mp_status conf_url_parse(const struct conf_url_in *in, struct conf_url_out *out,
			      conf_resolve_fn resolve, void *ctx);

/* ngx_ptocidr: "addr" or "addr/bits", IPv4 or IPv6. *low_bits is set when
 * host bits had to be cleared ("low address bits ... are meaningless"). */
enum mp_status conf_cidr_parse(struct mp_str s, struct conf_cidr *out, bool *low_bits);

/* Look a name up in the text of a hosts file (case-insensitive, file order,
 * no duplicates). Returns the number of addresses written (port 0). */
size_t conf_hosts_find(const char *text, size_t n, const char *name, size_t nlen,
		       struct mp_addr *out, size_t max);

/* ---- loading with test/fuzz hooks ---------------------------------------- */

struct conf_load_ex {
	const struct conf_opts *opts;
	const char *text;       /* main file from memory (named opts->conf_file) */
	size_t textlen;
	const char *hosts_file; /* default MP_HOSTS_PATH */
	const char *hostname;   /* default: gethostname() */
	bool no_files;          /* fuzzing: "include" reads nothing */
	bool no_user_lookup;    /* "user" is stored, not checked against passwd */
};

struct conf *conf_load_ex(const struct conf_load_ex *ex, char *err, size_t errcap,
			  void (*notice)(int level, const char *msg));
/* For the fuzzer: parse text as the main file, nothing read from disk. */
struct conf *conf_load_text(const char *text, size_t n, char *err, size_t errcap);

/* ---- the parse state shared by parse.c, directives.c and conf.c ---------- */

/* Context bits: where a directive may appear. */
enum {
	CTX_MAIN = 1u << 0,
	CTX_EVENTS = 1u << 1,
	CTX_MAIL = 1u << 2,
	CTX_SERVER = 1u << 3,
	CTX_SKIP = 1u << 4, /* inside http {} / stream {}: syntax only */
};
#define CTX_ANY (CTX_MAIN | CTX_EVENTS | CTX_MAIL | CTX_SERVER | CTX_SKIP)

/* Argument specs, as nginx's NGX_CONF_NOARGS ... NGX_CONF_2MORE. */
enum {
	ARG_NOARGS = 1u << 0,
	ARG_TAKE1 = 1u << 1,
	ARG_TAKE2 = 1u << 2,
	ARG_TAKE3 = 1u << 3,
	ARG_TAKE4 = 1u << 4,
	ARG_TAKE5 = 1u << 5,
	ARG_TAKE6 = 1u << 6,
	ARG_TAKE7 = 1u << 7,
	ARG_BLOCK = 1u << 8,
	ARG_FLAG = 1u << 9,
	ARG_ANY = 1u << 10,
	ARG_1MORE = 1u << 11,
	ARG_2MORE = 1u << 12,
};
#define ARG_TAKE12 (ARG_TAKE1 | ARG_TAKE2)
#define ARG_TAKE23 (ARG_TAKE2 | ARG_TAKE3)
/* nginx's NGX_CONF_MAX_ARGS for fixed counts */
#define CONF_FIXED_ARGS_MAX 8

/* Fields, for "is duplicate" and for inheritance: one per storage slot. */
enum conf_field {
	F_NONE = 0,
	/* main and events */
	F_DAEMON, F_MASTER, F_TIMER_RES, F_PID, F_LOCK_FILE, F_WORKER_PROCESSES,
	F_DEBUG_POINTS, F_USER, F_PRIORITY, F_CPU_AFFINITY, F_RLIMIT_NOFILE,
	F_RLIMIT_CORE, F_SHUTDOWN_TIMEOUT, F_WORKING_DIR, F_MAIN_ERROR_LOG,
	F_PCRE_JIT, F_SSL_ENGINE, F_EVENTS, F_HTTP, F_STREAM, F_MAIL,
	F_WORKER_CONNECTIONS, F_USE, F_MULTI_ACCEPT, F_ACCEPT_MUTEX,
	F_ACCEPT_MUTEX_DELAY, F_AIO_REQUESTS,
	/* mail and server */
	F_PROTOCOL, F_SERVER_NAME, F_TIMEOUT, F_PROXY_TIMEOUT, F_RESOLVER_TIMEOUT,
	F_AUTH_HTTP_TIMEOUT, F_SMTP_GREETING_DELAY, F_MAX_ERRORS, F_MAX_COMMANDS,
	F_AUTH_HTTP, F_AUTH_HTTP_HEADER, F_AUTH_HTTP_PASS_CERT, F_AUTH_BACKEND,
	F_PROXY, F_PROXY_BUFFER, F_PROXY_PASS_ERROR, F_PROXY_PROTOCOL,
	F_PROXY_SMTP_AUTH, F_XCLIENT, F_PROXY_CLIENT_ID, F_PROXY_SSL,
	F_PROXY_SSL_VERIFY, F_PROXY_SSL_TRUSTED, F_PROXY_SSL_NAME, F_PROXY_SSL_DEPTH,
	F_IMAP_AUTH, F_IMAP_CAPS, F_IMAP_BUF, F_POP3_AUTH, F_POP3_CAPS, F_POP3_BUF,
	F_SMTP_AUTH, F_SMTP_CAPS, F_SMTP_BUF, F_RESOLVER, F_REALIP, F_ACCESS,
	F_SSL_ON, F_STARTTLS, F_SSL_CERT, F_SSL_KEY, F_SSL_PROTOCOLS, F_SSL_CIPHERS,
	F_SSL_PREFER, F_SSL_ECDH, F_SSL_SESS_CACHE, F_SSL_SESS_TIMEOUT, F_SSL_TICKETS,
	F_SSL_TICKET_KEY, F_SSL_PASSWORD, F_SSL_DHPARAM, F_SSL_VERIFY,
	F_SSL_VERIFY_DEPTH, F_SSL_CLIENT_CERT, F_SSL_TRUSTED, F_SSL_CRL,
	F_SSL_COMPRESSION, F_SSL_CONF_CMD, F_ERROR_LOG,
	F__COUNT
};

/* One ssl_certificate as written and resolved, until paired with its key. */
struct conf_raw_cert {
	const char *written;
	const char *path;
	const char *file;
	int line;
};

/* A mail{} or server{} block while it is parsed. v holds what the block set;
 * the mail block's v starts with the defaults, a server's v starts zeroed and
 * takes every unset field from the mail block's v when the mail block ends. */
struct conf_srv_raw {
	struct conf_server v;
	uint8_t set[F__COUNT];
	/* ssl_certificate / ssl_certificate_key as written, paired at merge */
	struct conf_raw_cert *certs;
	size_t ncerts;
	struct conf_strlist keys; /* resolved paths */
	bool listen;     /* a listen was seen */
	bool ssl_listen; /* a "listen ... ssl" was seen */
};

struct conf_dumpfile {
	const char *name;
	const char *data;
	size_t len;
	struct conf_dumpfile *next;
};

/* What conf->arena points to. */
struct conf_priv {
	struct conf_arena *arena;
	struct conf_dumpfile *files, **files_tail;
};

struct cparse {
	struct conf *c;
	struct conf_priv *priv;
	struct conf_arena *a;
	const struct conf_load_ex *ex;
	void (*notice)(int level, const char *msg);
	char *err;
	size_t errcap;
	bool failed;

	/* where we are: lx NULL before the first file is open */
	struct conf_lexer *lx;
	const char *fname; /* NULL = command line */
	struct conf_args args;
	unsigned ctx;
	int depth;
	size_t nfiles, total;

	uint8_t main_set[F__COUNT];
	struct conf_srv_raw *mail; /* NULL outside mail{} (and before it) */
	struct conf_srv_raw *srv;  /* NULL outside server{} */
	struct conf_srv_raw **servers;
	size_t nservers;
	struct conf_listen **listens;
	size_t nlistens;

	const char *conf_prefix; /* directory of the main file, ends in '/' */
	const char *hostname;
	char *hosts; /* hosts file text (malloc), loaded on first use */
	size_t nhosts;
	bool hosts_loaded;
};

struct conf_dir;
typedef int (*conf_setter)(struct cparse *cp, const struct conf_dir *d);

struct conf_dir {
	const char *name;
	unsigned ctx;
	unsigned args;
	conf_setter set;
	enum conf_field field;
	size_t off, size;  /* storage in struct conf_server (mail/server) or struct conf */
	const void *post;  /* enum or bitmask table, or an ignore reason */
};

extern const struct conf_dir conf_dirs[];
extern const size_t conf_ndirs;
/* Names that exist in nginx's http/stream modules only: "not allowed here". */
bool conf_dir_known_elsewhere(const char *name);

/* parse.c */
int conf_parse(struct cparse *cp, int type); /* type: CONF_PARSE_* */
enum { CONF_PARSE_FILE, CONF_PARSE_BLOCK, CONF_PARSE_PARAM };
/* A nested block: depth-checked conf_parse(BLOCK) in context ctx. */
int conf_parse_block(struct cparse *cp, unsigned ctx);
/* Read and parse one file in the current context (include, main file). */
int conf_include_file(struct cparse *cp, const char *path);
int conf_include(struct cparse *cp, const char *pattern);
/* Parse data as the file named path (kept for -T). */
int conf_parse_text(struct cparse *cp, const char *path, const char *data, size_t len);

/* Messages. cp_err appends " in FILE:LINE" (or " in command line", or
 * nothing before the first file) and returns -1; cp_err_plain appends
 * nothing; cp_notice formats like cp_err and hands the text to the callback. */
int cp_err(struct cparse *cp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cp_err_errno(struct cparse *cp, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int cp_err_plain(struct cparse *cp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cp_notice(struct cparse *cp, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Arena allocation that reports "out of memory" on failure. */
void *cp_alloc(struct cparse *cp, size_t n);
char *cp_strdup(struct cparse *cp, const char *s, size_t n);
void *cp_push(struct cparse *cp, void *vp, size_t *n, size_t elsize);
/* name made absolute: against the prefix (-p) or the conf prefix. */
const char *cp_full_path(struct cparse *cp, const char *name, bool conf_prefix);
/* Hostname lookup through the hosts file ("localhost" always resolves). */
size_t cp_resolve(void *cpv, const char *host, size_t n, struct mp_addr *out, size_t max);

/* conf.c */
int conf_srv_defaults(struct cparse *cp, struct conf_server *v);
/* End of the mail block: inherit, validate, publish servers and listens. */
int conf_mail_merge(struct cparse *cp);

/* glob.c: include wildcards (*, ?, [...]) in the last path component. */
bool conf_glob_match(const char *pattern, const char *name);
/* Sorted matches as malloc'ed paths; 0 (possibly none) or -1 with errno. */
int conf_glob(const char *pattern, char ***out, size_t *n);
void conf_glob_free(char **v, size_t n);

#endif
