/*
 * conf_load(): paths and defaults, the -g directives then the main file, and
 * at the end of the mail block nginx's merge: every server takes what it did
 * not set from the mail block, then the checks nginx makes at that point, in
 * its order (protocol, TLS certificates, auth_http).
 */
#include "conf_int.h"
#include "../core/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- defaults ------------------------------------------------------------------ */

static size_t page_size(void)
{
	long p = sysconf(_SC_PAGESIZE);
	return p >= CONF_BUF_MIN && p <= (long)CONF_BUF_MAX ? (size_t)p : 4096;
}

static int strlist_of(struct cparse *cp, struct conf_strlist *l, const char *const *v, size_t n)
{
	l->v = cp_alloc(cp, n * sizeof(*l->v));
	if (l->v == NULL) {
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		l->v[i] = v[i];
	}
	l->n = n;
	return 0;
}

int conf_srv_defaults(struct cparse *cp, struct conf_server *v)
{
	static const char *const imap_caps[] = { "IMAP4", "IMAP4rev1", "UIDPLUS" };
	static const char *const pop3_caps[] = { "TOP", "USER", "UIDL" };
	size_t page = page_size();

	v->server_name = cp->hostname;
	v->timeout_ms = 60000;
	v->proxy_timeout_ms = 24 * 60 * 60000;
	v->resolver_timeout_ms = 30000;
	v->auth_http_timeout_ms = 60000;
	v->smtp_greeting_delay_ms = 0;
	v->max_errors = 5;
	v->max_commands = 1000;

	v->proxy_buffer = page;
	v->xclient = true;
	v->proxy_ssl.verify = true;
	v->proxy_ssl.verify_depth = 1;

	v->imap_auth = AUTHM_PLAIN;
	v->imap_client_buffer = page;
	v->pop3_auth = AUTHM_PLAIN;
	v->pop3_client_buffer = 512;
	v->smtp_auth = AUTHM_PLAIN | AUTHM_LOGIN;
	v->smtp_client_buffer = page;
	if (strlist_of(cp, &v->imap_capabilities, imap_caps, MP_ARRAY_LEN(imap_caps)) != 0 ||
	    strlist_of(cp, &v->pop3_capabilities, pop3_caps, MP_ARRAY_LEN(pop3_caps)) != 0) {
		return -1;
	}

	v->resolver.ipv4 = true;
	v->resolver.ipv6 = true;

	v->ssl.starttls = STARTTLS_OFF;
	v->ssl.protocols = TLSP_TLSv1_2 | TLSP_TLSv1_3;
	v->ssl.ciphers = "HIGH:!aNULL:!MD5";
	v->ssl.ecdh_curve = "auto";
	v->ssl.session_cache = "none";
	v->ssl.session_timeout_ms = 300000;
	v->ssl.session_tickets = true;
	v->ssl.verify_client = VERIFY_OFF;
	v->ssl.verify_depth = 1;
	return 0;
}

/* ---- the end of mail {} ---------------------------------------------------------- */

static void inherit(struct conf_srv_raw *s, const struct conf_srv_raw *m)
{
	for (size_t i = 0; i < conf_ndirs; i++) {
		const struct conf_dir *d = &conf_dirs[i];
		if (!(d->ctx & CTX_MAIL) || d->size == 0 || s->set[d->field]) {
			continue;
		}
		memcpy((char *)&s->v + d->off, (const char *)&m->v + d->off, d->size);
	}
	if (!s->set[F_SSL_CERT]) {
		s->certs = m->certs;
		s->ncerts = m->ncerts;
	}
	if (!s->set[F_SSL_KEY]) {
		s->keys = m->keys;
	}
	if (s->v.ssl.file == NULL) {
		s->v.ssl.file = m->v.ssl.file;
		s->v.ssl.line = m->v.ssl.line;
	}
}

/* nginx's ngx_mail_ssl_merge_conf checks, and the certificate/key pairs. */
static int check_ssl(struct cparse *cp, struct conf_srv_raw *s)
{
	struct conf_ssl *ssl = &s->v.ssl;
	const char *mode = NULL;

	if (s->ssl_listen) {
		mode = "listen ... ssl";
	} else if (ssl->ssl_on) {
		mode = "ssl";
	} else if (ssl->starttls != STARTTLS_OFF) {
		mode = "starttls";
	}
	if (ssl->file == NULL) {
		ssl->file = s->v.file;
		ssl->line = s->v.line;
	}
	if (mode != NULL) {
		if (s->ncerts == 0) {
			return cp_err_plain(cp, "no \"ssl_certificate\" is defined for the \"%s\" directive in %s:%d",
					    mode, ssl->file, ssl->line);
		}
		if (s->keys.n == 0) {
			return cp_err_plain(cp, "no \"ssl_certificate_key\" is defined for the \"%s\" directive in %s:%d",
					    mode, ssl->file, ssl->line);
		}
		if (s->keys.n < s->ncerts) {
			return cp_err_plain(cp,
					    "no \"ssl_certificate_key\" is defined for certificate \"%s\" "
					    "and the \"%s\" directive in %s:%d",
					    s->certs[s->ncerts - 1].written, mode, ssl->file, ssl->line);
		}
		if (ssl->verify_client != VERIFY_OFF && ssl->verify_client != VERIFY_OPTIONAL_NO_CA &&
		    ssl->client_certificate == NULL && ssl->trusted_certificate == NULL) {
			return cp_err_plain(cp, "no ssl_client_certificate or ssl_trusted_certificate "
						"for ssl_verify_client");
		}
	}

	size_t n = MP_MIN(s->ncerts, s->keys.n);
	ssl->certs = NULL;
	ssl->ncerts = 0;
	if (n > 0) {
		ssl->certs = cp_alloc(cp, n * sizeof(*ssl->certs));
		if (ssl->certs == NULL) {
			return -1;
		}
		for (size_t i = 0; i < n; i++) {
			ssl->certs[i].cert = s->certs[i].path;
			ssl->certs[i].key = s->keys.v[i];
			ssl->certs[i].file = s->certs[i].file;
			ssl->certs[i].line = s->certs[i].line;
		}
		ssl->ncerts = n;
	}
	return 0;
}

int conf_mail_merge(struct cparse *cp)
{
	struct conf_srv_raw *m = cp->mail;
	struct conf *c = cp->c;

	for (size_t i = 0; i < cp->nservers; i++) {
		struct conf_srv_raw *s = cp->servers[i];
		inherit(s, m);
		if (s->v.server_name == NULL || s->v.server_name[0] == '\0') {
			s->v.server_name = cp->hostname;
		}
	}
	for (size_t i = 0; i < cp->nservers; i++) {
		struct conf_srv_raw *s = cp->servers[i];
		if (s->v.protocol == PROTO_NONE) {
			return cp_err_plain(cp, "unknown mail protocol for server in %s:%d", s->v.file,
					    s->v.line);
		}
	}
	for (size_t i = 0; i < cp->nservers; i++) {
		if (check_ssl(cp, cp->servers[i]) != 0) {
			return -1;
		}
	}
	for (size_t i = 0; i < cp->nservers; i++) {
		struct conf_srv_raw *s = cp->servers[i];
		if (s->v.auth_http.text == NULL && s->v.nauth_backends == 0) {
			return cp_err_plain(cp, "no \"auth_http\" is defined for server in %s:%d",
					    s->v.file, s->v.line);
		}
	}

	/* deprecated "ssl on": every listen of the server is implicit TLS */
	for (size_t i = 0; i < cp->nlistens; i++) {
		if (cp->listens[i]->server->ssl.ssl_on) {
			cp->listens[i]->ssl = true;
		}
	}

	if (cp->nservers > 0) {
		c->servers = cp_alloc(cp, cp->nservers * sizeof(*c->servers));
		if (c->servers == NULL) {
			return -1;
		}
		for (size_t i = 0; i < cp->nservers; i++) {
			c->servers[i] = &cp->servers[i]->v;
		}
	}
	c->nservers = cp->nservers;
	c->listens = cp->listens;
	c->nlistens = cp->nlistens;
	return 0;
}

/* ---- paths ------------------------------------------------------------------------ */

/* dir + name, made to end in '/' when slash is set. */
static char *join(struct cparse *cp, const char *dir, const char *name, bool slash)
{
	size_t dl = strlen(dir), nl = strlen(name);
	bool sep = dl > 0 && dir[dl - 1] != '/' && nl > 0;
	bool tail = slash && (nl > 0 ? name[nl - 1] != '/' : (dl == 0 || dir[dl - 1] != '/'));
	char *p = cp_alloc(cp, dl + nl + 3);
	if (p == NULL) {
		return NULL;
	}
	size_t o = 0;
	memcpy(p, dir, dl);
	o += dl;
	if (sep) {
		p[o++] = '/';
	}
	memcpy(p + o, name, nl);
	o += nl;
	if (tail) {
		p[o++] = '/';
	}
	p[o] = '\0';
	return p;
}

static const char *cwd(struct cparse *cp)
{
	char buf[4096];
	if (getcwd(buf, sizeof(buf)) == NULL) {
		return "/";
	}
	return cp_strdup(cp, buf, strlen(buf));
}

static int set_paths(struct cparse *cp, const struct conf_opts *o)
{
	struct conf *c = cp->c;
	const char *prefix = o != NULL ? o->prefix : NULL;
	const char *file = o != NULL && o->conf_file != NULL ? o->conf_file : MP_CONF_PATH;

	if (prefix == NULL || prefix[0] == '\0') {
#ifdef MP_PREFIX
		prefix = MP_PREFIX;
#else
		prefix = "";
#endif
	}
	if (prefix[0] == '/') {
		c->prefix = join(cp, "", prefix, true);
	} else {
		const char *dir = cwd(cp);
		c->prefix = dir != NULL ? join(cp, dir, prefix, true) : NULL;
	}
	if (c->prefix == NULL) {
		return -1;
	}
	c->conf_file = file[0] == '/' ? cp_strdup(cp, file, strlen(file)) : join(cp, c->prefix, file, false);
	if (c->conf_file == NULL) {
		return -1;
	}
	const char *slash = strrchr(c->conf_file, '/');
	cp->conf_prefix = cp_strdup(cp, c->conf_file, (size_t)(slash - c->conf_file) + 1);
	return cp->conf_prefix != NULL ? 0 : -1;
}

static const char *machine_hostname(struct cparse *cp)
{
	char buf[256];
	if (gethostname(buf, sizeof(buf) - 1) != 0) {
		return "localhost";
	}
	buf[sizeof(buf) - 1] = '\0';
	size_t n = strlen(buf);
	if (n == 0) {
		return "localhost";
	}
	/* nginx lowercases the host name (ngx_strlow in ngx_init_cycle) */
	for (size_t i = 0; i < n; i++) {
		if (buf[i] >= 'A' && buf[i] <= 'Z') {
			buf[i] = (char)(buf[i] + 32);
		}
	}
	return cp_strdup(cp, buf, n);
}

/* ---- load ---------------------------------------------------------------------------- */

static int load(struct cparse *cp)
{
	const struct conf_load_ex *ex = cp->ex;
	const struct conf_opts *o = ex->opts;
	struct conf *c = cp->c;

	c->daemon = true;
	c->master_process = true;
	c->error_log_level = LOGL_ERR;
	c->worker_connections = 1024;
	cp->ctx = CTX_MAIN;

	if (set_paths(cp, o) != 0) {
		return -1;
	}
	cp->hostname = ex->hostname != NULL ? ex->hostname : machine_hostname(cp);
	if (cp->hostname == NULL) {
		return -1;
	}

	/* -g first, as nginx: a directive given twice is then "duplicate" in the file */
	if (o != NULL && o->directives != NULL && o->directives[0] != '\0') {
		struct conf_lexer lx = { o->directives, o->directives + strlen(o->directives), 1, true };
		cp->lx = &lx;
		cp->fname = NULL;
		int rc = conf_parse(cp, CONF_PARSE_PARAM);
		cp->lx = NULL;
		if (rc != 0) {
			return -1;
		}
	}

	int rc = ex->text != NULL ? conf_parse_text(cp, c->conf_file, ex->text, ex->textlen)
				  : conf_include_file(cp, c->conf_file);
	if (rc != 0) {
		return -1;
	}

	if (c->pid_file == NULL) {
		c->pid_file = cp_full_path(cp, MP_PID_PATH, false);
	}
	if (c->error_log == NULL) {
		c->error_log = strcmp(MP_ERROR_LOG_PATH, "stderr") == 0
				       ? "stderr"
				       : cp_full_path(cp, MP_ERROR_LOG_PATH, false);
	}
	return c->pid_file != NULL && c->error_log != NULL ? 0 : -1;
}

struct conf *conf_load_ex(const struct conf_load_ex *ex, char *err, size_t errcap,
			  void (*notice)(int level, const char *msg))
{
	if (err != NULL && errcap > 0) {
		err[0] = '\0';
	}
	struct conf_priv *priv = calloc(1, sizeof(*priv));
	struct cparse *cp = calloc(1, sizeof(*cp));
	struct conf *c = NULL;
	if (priv == NULL || cp == NULL || (priv->arena = conf_arena_new(CONF_ARENA_MAX)) == NULL) {
		if (err != NULL && errcap > 0) {
			snprintf(err, errcap, "out of memory");
		}
		goto fail;
	}
	priv->files_tail = &priv->files;
	cp->priv = priv;
	cp->a = priv->arena;
	cp->ex = ex;
	cp->err = err;
	cp->errcap = errcap;
	cp->notice = notice;
	c = cp_alloc(cp, sizeof(*c));
	if (c == NULL) {
		goto fail;
	}
	c->arena = priv;
	cp->c = c;
	if (load(cp) != 0) {
		goto fail;
	}
	free(cp->hosts);
	free(cp);
	return c;

fail:
	if (err != NULL && errcap > 0 && err[0] == '\0') {
		snprintf(err, errcap, "out of memory");
	}
	if (priv != NULL) {
		conf_arena_free(priv->arena);
	}
	free(priv);
	if (cp != NULL) {
		free(cp->hosts);
	}
	free(cp);
	return NULL;
}

struct conf *conf_load(const struct conf_opts *opts, char *err, size_t errcap,
		       void (*notice)(int level, const char *msg))
{
	struct conf_load_ex ex;
	memset(&ex, 0, sizeof(ex));
	ex.opts = opts;
	return conf_load_ex(&ex, err, errcap, notice);
}

struct conf *conf_load_text(const char *text, size_t n, char *err, size_t errcap)
{
	struct conf_opts o = { "/fuzz/mproxy.conf", "/fuzz/", NULL };
	struct conf_load_ex ex;
	memset(&ex, 0, sizeof(ex));
	ex.opts = &o;
	ex.text = text;
	ex.textlen = n;
	ex.hostname = "mproxy.test";
	ex.no_files = true;
	ex.no_user_lookup = true;
	return conf_load_ex(&ex, err, errcap, NULL);
}

void conf_free(struct conf *c)
{
	if (c == NULL) {
		return;
	}
	struct conf_priv *priv = c->arena; /* c lives in the arena: read first */
	conf_arena_free(priv->arena);
	free(priv);
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t r = write(fd, p, n);
		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r <= 0) {
			return;
		}
		p += r;
		n -= (size_t)r;
	}
}

void conf_dump(const struct conf *c, int fd)
{
	const struct conf_priv *priv = c->arena;
	for (const struct conf_dumpfile *f = priv->files; f != NULL; f = f->next) {
		write_all(fd, "# configuration file ", 21);
		write_all(fd, f->name, strlen(f->name));
		write_all(fd, ":\n", 2);
		write_all(fd, f->data, f->len);
		write_all(fd, "\n", 1);
	}
}

const char *conf_proto_name(enum mail_proto p)
{
	switch (p) {
	case PROTO_IMAP:
		return "imap";
	case PROTO_POP3:
		return "pop3";
	case PROTO_SMTP:
		return "smtp";
	default:
		return "none";
	}
}
