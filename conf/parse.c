/*
 * The parse engine: nginx's ngx_conf_parse() and ngx_conf_handler() over the
 * lexer, with include, nested blocks, and nginx's error wording
 * ("... in FILE:LINE", "... in command line").
 */
#include "conf_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- messages ----------------------------------------------------------- */

/* Copy src to dst, control bytes as \xHH: the text may come from the file
 * and goes to a terminal or a log. */
static void copy_escaped(char *dst, size_t cap, const char *src)
{
	size_t o = 0;
	if (cap == 0) {
		return;
	}
	for (; *src != '\0'; src++) {
		unsigned char ch = (unsigned char)*src;
		if (ch < 0x20 || ch == 0x7f) {
			if (o + 4 >= cap) {
				break;
			}
			snprintf(dst + o, cap - o, "\\x%02X", ch);
			o += 4;
		} else {
			if (o + 1 >= cap) {
				break;
			}
			dst[o++] = (char)ch;
		}
	}
	dst[o] = '\0';
}

__attribute__((format(printf, 6, 0))) static void
format_msg(struct cparse *cp, char *out, size_t cap, int errnum, bool loc, const char *fmt,
	   va_list ap)
{
	char raw[CONF_MSG_MAX];
	size_t len;
	int r = vsnprintf(raw, sizeof(raw), fmt, ap);
	len = r < 0 ? 0 : MP_MIN((size_t)r, sizeof(raw) - 1);
	raw[len] = '\0';
	if (errnum != 0 && len < sizeof(raw)) {
		r = snprintf(raw + len, sizeof(raw) - len, " (%d: %s)", errnum, strerror(errnum));
		len = r < 0 ? len : MP_MIN(len + (size_t)r, sizeof(raw) - 1);
	}
	if (loc && cp->lx != NULL && len < sizeof(raw)) {
		if (cp->fname == NULL) {
			snprintf(raw + len, sizeof(raw) - len, " in command line");
		} else {
			snprintf(raw + len, sizeof(raw) - len, " in %s:%u", cp->fname, cp->lx->line);
		}
	}
	copy_escaped(out, cap, raw);
}

__attribute__((format(printf, 4, 0))) static int
set_error(struct cparse *cp, int errnum, bool loc, const char *fmt, va_list ap)
{
	if (!cp->failed) {
		cp->failed = true;
		if (cp->err != NULL && cp->errcap > 0) {
			format_msg(cp, cp->err, cp->errcap, errnum, loc, fmt, ap);
		}
	}
	return -1;
}

int cp_err(struct cparse *cp, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_error(cp, 0, true, fmt, ap);
	va_end(ap);
	return -1;
}

int cp_err_errno(struct cparse *cp, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_error(cp, errnum, true, fmt, ap);
	va_end(ap);
	return -1;
}

int cp_err_plain(struct cparse *cp, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_error(cp, 0, false, fmt, ap);
	va_end(ap);
	return -1;
}

void cp_notice(struct cparse *cp, int level, const char *fmt, ...)
{
	char msg[CONF_MSG_MAX];
	va_list ap;
	if (cp->notice == NULL) {
		return;
	}
	va_start(ap, fmt);
	format_msg(cp, msg, sizeof(msg), 0, true, fmt, ap);
	va_end(ap);
	cp->notice(level, msg);
}

/* ---- memory and paths ---------------------------------------------------- */

void *cp_alloc(struct cparse *cp, size_t n)
{
	void *p = conf_arena_alloc(cp->a, n);
	if (p == NULL) {
		cp_err(cp, "out of memory");
	}
	return p;
}

char *cp_strdup(struct cparse *cp, const char *s, size_t n)
{
	char *p = conf_arena_strndup(cp->a, s, n);
	if (p == NULL) {
		cp_err(cp, "out of memory");
	}
	return p;
}

void *cp_push(struct cparse *cp, void *vp, size_t *n, size_t elsize)
{
	void *p = conf_vec_push(cp->a, vp, n, elsize);
	if (p == NULL) {
		cp_err(cp, "out of memory");
	}
	return p;
}

const char *cp_full_path(struct cparse *cp, const char *name, bool conf_prefix)
{
	if (name[0] == '/') {
		return name;
	}
	const char *prefix = conf_prefix ? cp->conf_prefix : cp->c->prefix;
	size_t pl = strlen(prefix), nl = strlen(name);
	char *p = cp_alloc(cp, pl + nl + 1);
	if (p != NULL) {
		memcpy(p, prefix, pl);
		memcpy(p + pl, name, nl + 1);
	}
	return p;
}

/* ---- host names ---------------------------------------------------------- */

/* The hosts file is read once per load into a malloc'd buffer that
 * conf_load_ex() frees at the end: it is not kept with the configuration. */
static void load_hosts(struct cparse *cp)
{
	const char *path = cp->ex->hosts_file != NULL ? cp->ex->hosts_file : MP_HOSTS_PATH;
	cp->hosts_loaded = true;
	if (cp->ex->no_files) {
		return;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return; /* no hosts file: only "localhost" and literals resolve */
	}
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	while (buf != NULL) {
		if (len == cap) {
			char *nb = cap < CONF_HOSTS_FILE_MAX ? realloc(buf, cap * 2) : NULL;
			if (nb == NULL) {
				break; /* at the limit: use what was read */
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r <= 0) {
			break;
		}
		len += (size_t)r;
	}
	close(fd);
	cp->hosts = buf;
	cp->nhosts = buf != NULL ? len : 0;
}

size_t cp_resolve(void *cpv, const char *host, size_t n, struct mp_addr *out, size_t max)
{
	struct cparse *cp = cpv;
	if (!cp->hosts_loaded) {
		load_hosts(cp);
	}
	size_t found = cp->hosts != NULL ? conf_hosts_find(cp->hosts, cp->nhosts, host, n, out, max)
					 : 0;
	if (found == 0 && max > 0 && str_eq_nocase((struct mp_str){ host, n }, "localhost")) {
		memset(&out[0], 0, sizeof(out[0]));
		out[0].u.in4.sin_family = AF_INET;
		out[0].u.in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		out[0].len = sizeof(out[0].u.in4);
		found = 1;
	}
	return found;
}

/* ---- files --------------------------------------------------------------- */

static int read_file(struct cparse *cp, const char *path, const char **data, size_t *len)
{
	if (cp->ex->no_files) {
		return cp_err_errno(cp, EACCES, "open() \"%s\" failed", path);
	}
	if (cp->nfiles >= CONF_FILES_MAX) {
		return cp_err(cp, "too many configuration files (more than %u)", CONF_FILES_MAX);
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return cp_err_errno(cp, errno, "open() \"%s\" failed", path);
	}
	size_t limit = MP_MIN((size_t)CONF_FILE_MAX, CONF_TOTAL_MAX - cp->total);
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	int rc = 0;
	for (;;) {
		if (buf == NULL) {
			rc = cp_err(cp, "out of memory");
			break;
		}
		if (n == cap) {
			if (cap > limit) {
				rc = cp_err(cp, "configuration file \"%s\" is too large", path);
				break;
			}
			char *nb = realloc(buf, cap * 2);
			if (nb == NULL) {
				rc = cp_err(cp, "out of memory");
				break;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r < 0) {
			rc = cp_err_errno(cp, errno, "read() \"%s\" failed", path);
			break;
		}
		if (r == 0) {
			break;
		}
		n += (size_t)r;
		if (n > limit) {
			rc = cp_err(cp, "configuration file \"%s\" is too large", path);
			break;
		}
	}
	close(fd);
	if (rc == 0) {
		char *copy = cp_alloc(cp, n + 1);
		if (copy == NULL) {
			rc = -1;
		} else {
			if (n > 0) {
				memcpy(copy, buf, n);
			}
			*data = copy;
			*len = n;
			cp->total += n;
			cp->nfiles++;
		}
	}
	free(buf);
	return rc;
}

/* Remember a file for -T, once per name. */
static int add_dump(struct cparse *cp, const char *name, const char *data, size_t len)
{
	for (struct conf_dumpfile *f = cp->priv->files; f != NULL; f = f->next) {
		if (strcmp(f->name, name) == 0) {
			return 0;
		}
	}
	struct conf_dumpfile *f = cp_alloc(cp, sizeof(*f));
	if (f == NULL) {
		return -1;
	}
	f->name = name;
	f->data = data;
	f->len = len;
	*cp->priv->files_tail = f;
	cp->priv->files_tail = &f->next;
	return 0;
}

/* Parse data as a file named path, in the current context. */
int conf_parse_text(struct cparse *cp, const char *path, const char *data, size_t len)
{
	if (cp->depth >= CONF_DEPTH_MAX) {
		return cp_err(cp, "too deep nesting of blocks and includes (more than %d)",
			      CONF_DEPTH_MAX);
	}
	if (add_dump(cp, path, data, len) != 0) {
		return -1;
	}
	struct conf_lexer lx = { data, data + len, 1, false };
	struct conf_lexer *saved_lx = cp->lx;
	const char *saved_name = cp->fname;
	cp->lx = &lx;
	cp->fname = path;
	cp->depth++;
	int rc = conf_parse(cp, CONF_PARSE_FILE);
	cp->depth--;
	/* an error message is formatted when it happens: restoring is safe */
	cp->lx = saved_lx;
	cp->fname = saved_name;
	return rc;
}

int conf_include_file(struct cparse *cp, const char *path)
{
	const char *data = NULL;
	size_t len = 0;
	if (cp->depth >= CONF_DEPTH_MAX) {
		return cp_err(cp, "too deep nesting of blocks and includes (more than %d)",
			      CONF_DEPTH_MAX);
	}
	if (read_file(cp, path, &data, &len) != 0) {
		return -1;
	}
	return conf_parse_text(cp, path, data, len);
}

int conf_include(struct cparse *cp, const char *pattern)
{
	if (strpbrk(pattern, "*?[") == NULL) {
		return conf_include_file(cp, pattern);
	}
	if (cp->ex->no_files) {
		return 0;
	}
	char **v = NULL;
	size_t n = 0;
	errno = 0;
	if (conf_glob(pattern, &v, &n) != 0) {
		return cp_err_errno(cp, errno, "glob() \"%s\" failed", pattern);
	}
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		const char *name = cp_strdup(cp, v[i], strlen(v[i]));
		rc = name != NULL ? conf_include_file(cp, name) : -1;
	}
	conf_glob_free(v, n);
	return rc;
}

/* ---- blocks and directives ------------------------------------------------ */

static bool args_ok(unsigned spec, size_t n)
{
	if (spec & ARG_ANY) {
		return true;
	}
	if (spec & ARG_FLAG) {
		return n == 2;
	}
	if (spec & ARG_1MORE) {
		return n >= 2;
	}
	if (spec & ARG_2MORE) {
		return n >= 3;
	}
	if (n > CONF_FIXED_ARGS_MAX) {
		return false;
	}
	return (spec & (1u << (n - 1))) != 0;
}

static int dispatch(struct cparse *cp, enum conf_tok last)
{
	const char *name = cp->args.v[0].p;
	bool found = false;

	if (cp->ctx == CTX_SKIP && strcmp(name, "include") != 0) {
		/* inside http {} or stream {}: syntax only */
		return last == CONF_TOK_BLOCK_START ? conf_parse_block(cp, CTX_SKIP) : 0;
	}

	for (size_t i = 0; i < conf_ndirs; i++) {
		const struct conf_dir *d = &conf_dirs[i];
		if (strcmp(d->name, name) != 0) {
			continue;
		}
		found = true;
		if (!(d->ctx & cp->ctx)) {
			continue;
		}
		if (!(d->args & ARG_BLOCK) && last != CONF_TOK_END) {
			return cp_err(cp, "directive \"%s\" is not terminated by \";\"", name);
		}
		if ((d->args & ARG_BLOCK) && last != CONF_TOK_BLOCK_START) {
			return cp_err(cp, "directive \"%s\" has no opening \"{\"", name);
		}
		if (!args_ok(d->args, cp->args.n)) {
			return cp_err(cp, "invalid number of arguments in \"%s\" directive", name);
		}
		return d->set(cp, d);
	}
	if (found || conf_dir_known_elsewhere(name)) {
		return cp_err(cp, "\"%s\" directive is not allowed here", name);
	}
	return cp_err(cp, "unknown directive \"%s\"", name);
}

int conf_parse(struct cparse *cp, int type)
{
	char msg[CONF_MSG_MAX];
	for (;;) {
		enum conf_tok t = conf_lex(cp->lx, cp->a, &cp->args, msg, sizeof(msg));
		switch (t) {
		case CONF_TOK_ERROR:
			return cp_err(cp, "%s", msg);
		case CONF_TOK_BLOCK_DONE:
			if (type != CONF_PARSE_BLOCK) {
				return cp_err(cp, "unexpected \"}\"");
			}
			return 0;
		case CONF_TOK_FILE_DONE:
			if (type == CONF_PARSE_BLOCK) {
				return cp_err(cp, "unexpected end of file, expecting \"}\"");
			}
			return 0;
		case CONF_TOK_BLOCK_START:
			if (type == CONF_PARSE_PARAM) {
				return cp_err(cp, "block directives are not supported in -g option");
			}
			break;
		case CONF_TOK_END:
			break;
		}
		if (dispatch(cp, t) != 0) {
			return -1;
		}
	}
}

int conf_parse_block(struct cparse *cp, unsigned ctx)
{
	if (cp->depth >= CONF_DEPTH_MAX) {
		return cp_err(cp, "too deep nesting of blocks and includes (more than %d)",
			      CONF_DEPTH_MAX);
	}
	unsigned saved = cp->ctx;
	cp->ctx = ctx;
	cp->depth++;
	int rc = conf_parse(cp, CONF_PARSE_BLOCK);
	cp->depth--;
	cp->ctx = saved;
	return rc;
}
