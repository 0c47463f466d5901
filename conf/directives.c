/*
 * Every directive mproxy knows: nginx's core, events and mail modules, and
 * mproxy's own. One table row per directive {name, contexts, arguments,
 * setter, field, storage, post}; nginx's generic slot setters (flag, msec,
 * size, number, string, enum, bitmask) serve most rows. Messages are nginx's.
 *
 * Storage: rows for mail/server write into the struct conf_server of the
 * current block (see conf_int.h); rows for main/events into struct conf.
 * A field's set flag gives nginx's "is duplicate" and drives inheritance.
 */
#include "conf_int.h"
#include "../core/log.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define ARG(i) (cp->args.v[(i)])
#define A(i) (cp->args.v[(i)].p)

/* ---- storage helpers -------------------------------------------------------- */

static bool is_srv_dir(const struct conf_dir *d)
{
	return (d->ctx & (CTX_MAIL | CTX_SERVER)) != 0;
}

static struct conf_srv_raw *cur(struct cparse *cp)
{
	return cp->srv != NULL ? cp->srv : cp->mail;
}

static uint8_t *setp(struct cparse *cp, const struct conf_dir *d)
{
	return is_srv_dir(d) ? &cur(cp)->set[d->field] : &cp->main_set[d->field];
}

static void *slot(struct cparse *cp, const struct conf_dir *d)
{
	if (is_srv_dir(d)) {
		return (char *)&cur(cp)->v + d->off;
	}
	return (char *)cp->c + d->off;
}

/* nginx's `"%s" directive %s` for a setter's short answer. */
static int dir_rv(struct cparse *cp, const struct conf_dir *d, const char *rv)
{
	return cp_err(cp, "\"%s\" directive %s", d->name, rv);
}

/* Checks the set flag ("is duplicate") and marks the field set. */
static int take(struct cparse *cp, const struct conf_dir *d)
{
	uint8_t *s = setp(cp, d);
	if (*s) {
		return dir_rv(cp, d, "is duplicate");
	}
	*s = 1;
	return 0;
}

/* Values that end up in protocol lines must not carry CR or LF (a "\r\n"
 * escape in the file would otherwise split a greeting or a header). */
static int check_line_safe(struct cparse *cp, const struct conf_dir *d, struct mp_str s)
{
	if (str_has_ctl_crlfnul(s)) {
		return cp_err(cp, "invalid character in \"%s\" directive", d->name);
	}
	return 0;
}

static int parse_onoff(struct cparse *cp, const struct conf_dir *d, bool *out)
{
	if (strcasecmp(A(1), "on") == 0) {
		*out = true;
	} else if (strcasecmp(A(1), "off") == 0) {
		*out = false;
	} else {
		return cp_err(cp, "invalid value \"%s\" in \"%s\" directive, it must be \"on\" or \"off\"",
			      A(1), d->name);
	}
	return 0;
}

/* ---- generic slots ------------------------------------------------------------ */

static int set_flag(struct cparse *cp, const struct conf_dir *d)
{
	bool v;
	if (take(cp, d) != 0 || parse_onoff(cp, d, &v) != 0) {
		return -1;
	}
	*(bool *)slot(cp, d) = v;
	return 0;
}

static int set_msec(struct cparse *cp, const struct conf_dir *d)
{
	int64_t v;
	if (take(cp, d) != 0) {
		return -1;
	}
	if (conf_parse_time(ARG(1), false, &v) != MP_OK) {
		return dir_rv(cp, d, "invalid value");
	}
	*(uint64_t *)slot(cp, d) = (uint64_t)v;
	return 0;
}

/* A time nginx reads in seconds (ngx_conf_set_sec_slot), kept in ms. */
static int set_sec_ms(struct cparse *cp, const struct conf_dir *d)
{
	int64_t v;
	if (take(cp, d) != 0) {
		return -1;
	}
	if (conf_parse_time(ARG(1), true, &v) != MP_OK || v > INT64_MAX / 1000) {
		return dir_rv(cp, d, "invalid value");
	}
	*(uint64_t *)slot(cp, d) = (uint64_t)v * 1000;
	return 0;
}

/* A buffer size: nginx's size slot, within [CONF_BUF_MIN, CONF_BUF_MAX]. */
static int set_bufsize(struct cparse *cp, const struct conf_dir *d)
{
	int64_t v;
	if (take(cp, d) != 0) {
		return -1;
	}
	if (conf_parse_size(ARG(1), &v) != MP_OK || v < CONF_BUF_MIN || v > (int64_t)CONF_BUF_MAX) {
		return dir_rv(cp, d, "invalid value");
	}
	*(size_t *)slot(cp, d) = (size_t)v;
	return 0;
}

static int set_uint(struct cparse *cp, const struct conf_dir *d)
{
	int64_t v;
	if (take(cp, d) != 0) {
		return -1;
	}
	if (conf_atoi(ARG(1), &v) != MP_OK || v > (int64_t)UINT_MAX) {
		return dir_rv(cp, d, "invalid number");
	}
	*(unsigned *)slot(cp, d) = (unsigned)v;
	return 0;
}

static int set_long(struct cparse *cp, const struct conf_dir *d)
{
	int64_t v;
	if (take(cp, d) != 0) {
		return -1;
	}
	if (conf_atoi(ARG(1), &v) != MP_OK || v > (int64_t)LONG_MAX) {
		return dir_rv(cp, d, "invalid number");
	}
	*(long *)slot(cp, d) = (long)v;
	return 0;
}

static int set_str(struct cparse *cp, const struct conf_dir *d)
{
	if (take(cp, d) != 0) {
		return -1;
	}
	*(const char **)slot(cp, d) = A(1);
	return 0;
}

/* A string that goes on the wire (server_name, proxy_ssl_name). */
static int set_wire_str(struct cparse *cp, const struct conf_dir *d)
{
	if (take(cp, d) != 0 || check_line_safe(cp, d, ARG(1)) != 0) {
		return -1;
	}
	*(const char **)slot(cp, d) = A(1);
	return 0;
}

/* A file nginx resolves against the configuration's directory (TLS files). */
static int set_conf_path(struct cparse *cp, const struct conf_dir *d)
{
	if (take(cp, d) != 0) {
		return -1;
	}
	const char *p = cp_full_path(cp, A(1), true);
	if (p == NULL) {
		return -1;
	}
	*(const char **)slot(cp, d) = p;
	return 0;
}

struct conf_enum {
	const char *name;
	int value;
};

struct conf_mask {
	const char *name;
	unsigned mask;
};

static int set_enum(struct cparse *cp, const struct conf_dir *d)
{
	if (take(cp, d) != 0) {
		return -1;
	}
	for (const struct conf_enum *e = d->post; e->name != NULL; e++) {
		if (strcasecmp(e->name, A(1)) == 0) {
			int v = e->value;
			memcpy(slot(cp, d), &v, sizeof(v));
			return 0;
		}
	}
	return cp_err(cp, "invalid value \"%s\"", A(1));
}

/* nginx's bitmask slot: repeated directives add up; the first one in a
 * block replaces the inherited/default value. */
static int set_bitmask(struct cparse *cp, const struct conf_dir *d)
{
	unsigned *np = slot(cp, d);
	uint8_t *s = setp(cp, d);
	if (!*s) {
		*np = 0;
		*s = 1;
	}
	for (size_t i = 1; i < cp->args.n; i++) {
		const struct conf_mask *m;
		for (m = d->post; m->name != NULL; m++) {
			if (strcasecmp(m->name, A(i)) != 0) {
				continue;
			}
			if (*np & m->mask) {
				cp_notice(cp, LOGL_WARN, "duplicate value \"%s\"", A(i));
			} else {
				*np |= m->mask;
			}
			break;
		}
		if (m->name == NULL) {
			return cp_err(cp, "invalid value \"%s\"", A(i));
		}
	}
	return 0;
}

/* Appends to a string list; the first occurrence in a block starts it anew. */
static struct conf_strlist *strlist_begin(struct cparse *cp, const struct conf_dir *d)
{
	struct conf_strlist *l = slot(cp, d);
	uint8_t *s = setp(cp, d);
	if (!*s) {
		l->v = NULL;
		l->n = 0;
		*s = 1;
	}
	return l;
}

static int strlist_add(struct cparse *cp, struct conf_strlist *l, const char *v)
{
	const char **slotp = cp_push(cp, &l->v, &l->n, sizeof(*l->v));
	if (slotp == NULL) {
		return -1;
	}
	*slotp = v;
	return 0;
}

/* imap_capabilities etc.: every argument is one capability, spaces and all
 * (nginx's example: smtp_capabilities "SIZE 10485760" ...). */
static int set_caps(struct cparse *cp, const struct conf_dir *d)
{
	struct conf_strlist *l = strlist_begin(cp, d);
	for (size_t i = 1; i < cp->args.n; i++) {
		if (check_line_safe(cp, d, ARG(i)) != 0 || strlist_add(cp, l, A(i)) != 0) {
			return -1;
		}
	}
	return 0;
}

static int set_conf_path_list(struct cparse *cp, const struct conf_dir *d)
{
	struct conf_strlist *l = strlist_begin(cp, d);
	const char *p = cp_full_path(cp, A(1), true);
	return p != NULL ? strlist_add(cp, l, p) : -1;
}

/* ---- main context ------------------------------------------------------------- */

enum ign_kind {
	IGN_ANY,
	IGN_FLAG,
	IGN_MSEC,
	IGN_NUM,
	IGN_OFFSET,
	IGN_PRIORITY,
	IGN_PROCESSES,
	IGN_DEBUG_POINTS,
};

struct ign {
	enum ign_kind kind;
	const char *reason;
};

#define WHY_SINGLE "mproxy is single-process"
#define WHY_NOSUP "not supported by mproxy"

static const struct ign ign_any_single = { IGN_ANY, WHY_SINGLE };
static const struct ign ign_flag_single = { IGN_FLAG, WHY_SINGLE };
static const struct ign ign_msec_single = { IGN_MSEC, WHY_SINGLE };
static const struct ign ign_priority = { IGN_PRIORITY, WHY_SINGLE };
static const struct ign ign_processes = { IGN_PROCESSES, WHY_SINGLE };
static const struct ign ign_timer = { IGN_MSEC, "mproxy keeps its own timers" };
static const struct ign ign_any_nosup = { IGN_ANY, WHY_NOSUP };
static const struct ign ign_flag_nosup = { IGN_FLAG, WHY_NOSUP };
static const struct ign ign_num_nosup = { IGN_NUM, WHY_NOSUP };
static const struct ign ign_offset_nosup = { IGN_OFFSET, WHY_NOSUP };
static const struct ign ign_debug_points = { IGN_DEBUG_POINTS, WHY_NOSUP };
static const struct ign ign_modules = { IGN_ANY, "mproxy has the mail modules built in" };
static const struct ign ign_use = { IGN_ANY, "mproxy picks its event method when built" };
static const struct ign ign_block = { IGN_ANY, "mproxy proxies mail only" };

/* Accepted for compatibility, checked as nginx would, then reported. */
static int set_ignored(struct cparse *cp, const struct conf_dir *d)
{
	const struct ign *g = d->post;
	int64_t v;
	bool b;

	if (d->field != F_NONE && take(cp, d) != 0) {
		return -1;
	}
	switch (g->kind) {
	case IGN_ANY:
		break;
	case IGN_FLAG:
		if (parse_onoff(cp, d, &b) != 0) {
			return -1;
		}
		break;
	case IGN_MSEC:
		if (conf_parse_time(ARG(1), false, &v) != MP_OK) {
			return dir_rv(cp, d, "invalid value");
		}
		break;
	case IGN_NUM:
		if (conf_atoi(ARG(1), &v) != MP_OK) {
			return dir_rv(cp, d, "invalid number");
		}
		break;
	case IGN_OFFSET:
		if (conf_parse_offset(ARG(1), &v) != MP_OK) {
			return dir_rv(cp, d, "invalid value");
		}
		break;
	case IGN_PRIORITY: {
		struct mp_str s = ARG(1);
		if (s.n > 0 && (s.p[0] == '-' || s.p[0] == '+')) {
			s.p++;
			s.n--;
		}
		if (conf_atoi(s, &v) != MP_OK) {
			return dir_rv(cp, d, "invalid number");
		}
		break;
	}
	case IGN_PROCESSES:
		if (strcmp(A(1), "auto") != 0 && conf_atoi(ARG(1), &v) != MP_OK) {
			return dir_rv(cp, d, "invalid value");
		}
		break;
	case IGN_DEBUG_POINTS:
		if (strcasecmp(A(1), "stop") != 0 && strcasecmp(A(1), "abort") != 0) {
			return cp_err(cp, "invalid value \"%s\"", A(1));
		}
		break;
	}
	cp_notice(cp, LOGL_NOTICE, "\"%s\" directive is ignored here (%s)", d->name, g->reason);
	return 0;
}

static int set_master(struct cparse *cp, const struct conf_dir *d)
{
	if (set_flag(cp, d) != 0) {
		return -1;
	}
	cp_notice(cp, LOGL_NOTICE, "\"%s\" directive is ignored here (%s)", d->name, WHY_SINGLE);
	return 0;
}

static int set_pid(struct cparse *cp, const struct conf_dir *d)
{
	if (take(cp, d) != 0) {
		return -1;
	}
	const char *p = cp_full_path(cp, A(1), false);
	if (p == NULL) {
		return -1;
	}
	cp->c->pid_file = p;
	return 0;
}

static int set_user(struct cparse *cp, const struct conf_dir *d)
{
	const char *user = A(1);
	const char *group = cp->args.n == 3 ? A(2) : A(1);

	if (cp->main_set[d->field]) {
		return dir_rv(cp, d, "is duplicate");
	}
	if (!cp->ex->no_user_lookup) {
		if (geteuid() != 0) {
			cp_notice(cp, LOGL_WARN,
				  "the \"user\" directive makes sense only if the master process "
				  "runs with super-user privileges, ignored");
			return 0;
		}
		errno = 0;
		if (getpwnam(user) == NULL) {
			return cp_err_errno(cp, errno, "getpwnam(\"%s\") failed", user);
		}
		errno = 0;
		if (getgrnam(group) == NULL) {
			return cp_err_errno(cp, errno, "getgrnam(\"%s\") failed", group);
		}
	}
	cp->main_set[d->field] = 1;
	cp->c->user = user;
	cp->c->group = group;
	return 0;
}

/* ---- error_log ---------------------------------------------------------------- */

static const char *const log_levels[] = {
	[LOGL_EMERG] = "emerg", [LOGL_ALERT] = "alert", [LOGL_CRIT] = "crit",
	[LOGL_ERR] = "error",   [LOGL_WARN] = "warn",   [LOGL_NOTICE] = "notice",
	[LOGL_INFO] = "info",   [LOGL_DEBUG] = "debug",
};

static const char *const debug_levels[] = {
	"debug_core", "debug_alloc", "debug_mutex", "debug_event",
	"debug_http", "debug_mail",  "debug_stream",
};

static const char *const syslog_facilities[] = {
	"kern",   "user",   "mail",   "daemon", "auth",   "intern", "lpr",    "news",
	"uucp",   "clock",  "authpriv", "ftp",  "ntp",    "audit",  "alert",  "cron",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
};

static const char *const syslog_severities[] = {
	"emerg", "alert", "crit", "error", "warn", "notice", "info", "debug",
};

static bool in_list(const char *const *list, size_t n, const char *p, size_t len)
{
	for (size_t i = 0; i < n; i++) {
		if (strlen(list[i]) == len && memcmp(list[i], p, len) == 0) {
			return true;
		}
	}
	return false;
}

/* nginx's ngx_syslog_parse_args: "server=addr[:port],facility=,severity=,tag=,nohostname". */
static int check_syslog(struct cparse *cp, const char *p)
{
	bool server = false, facility = false, severity = false, tag = false;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		int il = (int)MP_MIN(len, 512);

		if (len >= 7 && memcmp(p, "server=", 7) == 0) {
			if (server) {
				return cp_err(cp, "duplicate syslog \"server\"");
			}
			struct conf_url_in in = { { p + 7, len - 7 }, false, false, 514 };
			struct conf_url_out out;
			if (conf_url_parse(&in, &out, cp_resolve, cp) != MP_OK) {
				return cp_err(cp, "%s in syslog server \"%.*s\"", out.err, il - 7, p + 7);
			}
			server = true;
		} else if (len >= 9 && memcmp(p, "facility=", 9) == 0) {
			if (facility) {
				return cp_err(cp, "duplicate syslog \"facility\"");
			}
			if (!in_list(syslog_facilities, MP_ARRAY_LEN(syslog_facilities), p + 9, len - 9)) {
				return cp_err(cp, "unknown syslog facility \"%.*s\"", il - 9, p + 9);
			}
			facility = true;
		} else if (len >= 9 && memcmp(p, "severity=", 9) == 0) {
			if (severity) {
				return cp_err(cp, "duplicate syslog \"severity\"");
			}
			if (!in_list(syslog_severities, MP_ARRAY_LEN(syslog_severities), p + 9, len - 9)) {
				return cp_err(cp, "unknown syslog severity \"%.*s\"", il - 9, p + 9);
			}
			severity = true;
		} else if (len >= 4 && memcmp(p, "tag=", 4) == 0) {
			if (tag) {
				return cp_err(cp, "duplicate syslog \"tag\"");
			}
			/* RFC 3164: the TAG is alphanumeric, at most 32 characters */
			if (len - 4 > 32) {
				return cp_err(cp, "syslog tag length exceeds 32");
			}
			for (size_t i = 4; i < len; i++) {
				char c = p[i];
				if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
				      (c >= 'A' && c <= 'Z') || c == '_')) {
					return cp_err(cp, "syslog \"tag\" only allows alphanumeric "
						      "characters and underscore");
				}
			}
			tag = true;
		} else if (len == 10 && memcmp(p, "nohostname", 10) == 0) {
			/* nothing to check */
		} else {
			return cp_err(cp, "unknown syslog parameter \"%.*s\"", il, p);
		}
		if (comma == NULL) {
			break;
		}
		p = comma + 1;
	}
	if (!server) {
		return cp_err(cp, "no syslog server specified");
	}
	return 0;
}

/* nginx's ngx_log_set_log + ngx_log_set_levels. */
static int parse_error_log(struct cparse *cp, const char **target, int *level)
{
	const char *v = A(1);
	int lv = 0;
	bool debug = false;

	if (strcmp(v, "stderr") == 0 || v[0] == '\0') {
		*target = "stderr";
	} else if (strncmp(v, "memory:", 7) == 0) {
		return cp_err(cp, "mproxy was built without debug support");
	} else if (strncmp(v, "syslog:", 7) == 0) {
		if (check_syslog(cp, v + 7) != 0) {
			return -1;
		}
		*target = v;
	} else {
		*target = cp_full_path(cp, v, false);
		if (*target == NULL) {
			return -1;
		}
	}

	for (size_t i = 2; i < cp->args.n; i++) {
		bool found = false;
		for (int n = LOGL_EMERG; n <= LOGL_DEBUG; n++) {
			if (strcmp(A(i), log_levels[n]) == 0) {
				if (lv != 0 || debug) {
					return cp_err(cp, "duplicate log level \"%s\"", A(i));
				}
				lv = n;
				found = true;
				break;
			}
		}
		for (size_t n = 0; !found && n < MP_ARRAY_LEN(debug_levels); n++) {
			if (strcmp(A(i), debug_levels[n]) == 0) {
				if (lv != 0) {
					return cp_err(cp, "invalid log level \"%s\"", A(i));
				}
				debug = true;
				found = true;
			}
		}
		if (!found) {
			return cp_err(cp, "invalid log level \"%s\"", A(i));
		}
	}
	*level = debug ? LOGL_DEBUG : lv != 0 ? lv : LOGL_ERR;
	return 0;
}

/* nginx writes to every error_log given; mproxy writes to one: the first. A
 * -g "error_log stderr;" thus wins over the file, as -g is read first. */
static int set_error_log_main(struct cparse *cp, const struct conf_dir *d)
{
	const char *target;
	int level;
	if (parse_error_log(cp, &target, &level) != 0) {
		return -1;
	}
	if (cp->main_set[d->field]) {
		cp_notice(cp, LOGL_NOTICE, "\"%s\" directive is ignored here (%s)", d->name,
			  "mproxy writes only the first error log");
		return 0;
	}
	cp->main_set[d->field] = 1;
	cp->c->error_log = target;
	cp->c->error_log_level = level;
	return 0;
}

static int set_error_log_srv(struct cparse *cp, const struct conf_dir *d)
{
	const char *target;
	int level;
	if (parse_error_log(cp, &target, &level) != 0) {
		return -1;
	}
	struct conf_srv_raw *r = cur(cp);
	if (r->set[d->field]) {
		cp_notice(cp, LOGL_NOTICE, "\"%s\" directive is ignored here (%s)", d->name,
			  "mproxy writes only the first error log");
		return 0;
	}
	r->set[d->field] = 1;
	r->v.error_log = target;
	r->v.error_log_level = level;
	return 0;
}

/* ---- blocks -------------------------------------------------------------------- */

static int set_include(struct cparse *cp, const struct conf_dir *d)
{
	(void)d;
	const char *p = cp_full_path(cp, A(1), true);
	return p != NULL ? conf_include(cp, p) : -1;
}

static int set_events(struct cparse *cp, const struct conf_dir *d)
{
	if (take(cp, d) != 0) {
		return -1;
	}
	return conf_parse_block(cp, CTX_EVENTS);
}

static int set_skip(struct cparse *cp, const struct conf_dir *d)
{
	if (take(cp, d) != 0) {
		return -1;
	}
	cp_notice(cp, LOGL_NOTICE, "\"%s\" directive is ignored here (%s)", d->name,
		  ((const struct ign *)d->post)->reason);
	return conf_parse_block(cp, CTX_SKIP);
}

static int set_mail(struct cparse *cp, const struct conf_dir *d)
{
	if (take(cp, d) != 0) {
		return -1;
	}
	struct conf_srv_raw *m = cp_alloc(cp, sizeof(*m));
	if (m == NULL || conf_srv_defaults(cp, &m->v) != 0) {
		return -1;
	}
	m->v.file = cp->fname;
	m->v.line = (int)cp->lx->line;
	cp->mail = m;
	cp->c->has_mail = true;
	if (conf_parse_block(cp, CTX_MAIL) != 0) {
		return -1;
	}
	return conf_mail_merge(cp);
}

static int set_server(struct cparse *cp, const struct conf_dir *d)
{
	(void)d;
	struct conf_srv_raw *s = cp_alloc(cp, sizeof(*s));
	struct conf_srv_raw **slotp = cp_push(cp, &cp->servers, &cp->nservers, sizeof(*slotp));
	if (s == NULL || slotp == NULL) {
		return -1;
	}
	*slotp = s;
	s->v.file = cp->fname;
	s->v.line = (int)cp->lx->line;
	cp->srv = s;
	int rc = conf_parse_block(cp, CTX_SERVER);
	cp->srv = NULL;
	if (rc == 0 && !s->listen) {
		return cp_err_plain(cp, "no \"listen\" is defined for server in %s:%d", s->v.file,
				    s->v.line);
	}
	return rc;
}

/* ---- events --------------------------------------------------------------------- */

static int set_worker_connections(struct cparse *cp, const struct conf_dir *d)
{
	int64_t v;
	if (take(cp, d) != 0) {
		return -1;
	}
	if (conf_atoi(ARG(1), &v) != MP_OK || v == 0 || v > (int64_t)UINT_MAX) {
		return cp_err(cp, "invalid number \"%s\"", A(1));
	}
	cp->c->worker_connections = (unsigned)v;
	return 0;
}

static int set_use(struct cparse *cp, const struct conf_dir *d)
{
	static const char *const methods[] = {
		"epoll", "kqueue", "poll", "select", "eventport", "/dev/poll",
	};
	if (take(cp, d) != 0) {
		return -1;
	}
	if (!in_list(methods, MP_ARRAY_LEN(methods), A(1), ARG(1).n)) {
		return cp_err(cp, "invalid event type \"%s\"", A(1));
	}
	cp_notice(cp, LOGL_NOTICE, "\"%s\" directive is ignored here (%s)", d->name, ign_use.reason);
	return 0;
}

/* ---- mail core --------------------------------------------------------------------- */

static enum mail_proto proto_by_port(unsigned port)
{
	switch (port) {
	case 143:
	case 993:
		return PROTO_IMAP;
	case 110:
	case 995:
		return PROTO_POP3;
	case 25:
	case 465:
	case 587:
		return PROTO_SMTP;
	default:
		return PROTO_NONE;
	}
}

/* "so_keepalive=" value: on | off | [idle]:[intvl]:[cnt] (times in seconds). */
static bool parse_keepalive(const char *s, struct conf_listen *l)
{
	const char *end = s + strlen(s);
	const char *p;
	int64_t v;

	if (strcmp(s, "on") == 0) {
		l->keepalive = 1;
		return true;
	}
	if (strcmp(s, "off") == 0) {
		l->keepalive = 0;
		return true;
	}
	p = strchr(s, ':');
	if (p == NULL) {
		p = end;
	}
	if (p > s) {
		if (conf_parse_time((struct mp_str){ s, (size_t)(p - s) }, true, &v) != MP_OK ||
		    v > INT_MAX) {
			return false;
		}
		l->keepidle = (int)v;
	}
	s = p < end ? p + 1 : end;
	p = strchr(s, ':');
	if (p == NULL) {
		p = end;
	}
	if (p > s) {
		if (conf_parse_time((struct mp_str){ s, (size_t)(p - s) }, true, &v) != MP_OK ||
		    v > INT_MAX) {
			return false;
		}
		l->keepintvl = (int)v;
	}
	s = p < end ? p + 1 : end;
	if (s < end) {
		if (conf_atoi((struct mp_str){ s, (size_t)(end - s) }, &v) != MP_OK || v > INT_MAX) {
			return false;
		}
		l->keepcnt = (int)v;
	}
	if (l->keepidle == 0 && l->keepintvl == 0 && l->keepcnt == 0) {
		return false;
	}
	l->keepalive = 1;
	return true;
}

static int set_listen(struct cparse *cp, const struct conf_dir *d)
{
	(void)d;
	struct conf_srv_raw *s = cp->srv;
	struct conf_url_in in = { ARG(1), true, false, 0 };
	struct conf_url_out u;
	struct conf_listen tl;
	int64_t v;

	s->listen = true;
	if (conf_url_parse(&in, &u, cp_resolve, cp) != MP_OK) {
		return cp_err(cp, "%s in \"%s\" of the \"listen\" directive", u.err, A(1));
	}
	if (u.family != AF_UNIX && u.no_port) {
		/* nginx would bind port 0 here: an ephemeral port nobody can find */
		return cp_err(cp, "no port in \"%s\" of the \"listen\" directive", A(1));
	}

	if (s->v.protocol == PROTO_NONE) {
		s->v.protocol = proto_by_port(u.port);
	}

	memset(&tl, 0, sizeof(tl));
	tl.ipv6only = -1;
	tl.backlog = -1;
	tl.keepalive = -1;
	tl.file = cp->fname;
	tl.line = (int)cp->lx->line;
	tl.server = &s->v;

	for (size_t i = 2; i < cp->args.n; i++) {
		const char *p = A(i);
		if (strcmp(p, "bind") == 0) {
			tl.bind = true;
			continue;
		}
		if (strncmp(p, "backlog=", 8) == 0) {
			tl.bind = true;
			if (conf_atoi((struct mp_str){ p + 8, ARG(i).n - 8 }, &v) != MP_OK || v == 0 ||
			    v > INT_MAX) {
				return cp_err(cp, "invalid backlog \"%s\"", p);
			}
			tl.backlog = (int)v;
			continue;
		}
		if (strncmp(p, "rcvbuf=", 7) == 0 || strncmp(p, "sndbuf=", 7) == 0) {
			tl.bind = true;
			if (conf_parse_size((struct mp_str){ p + 7, ARG(i).n - 7 }, &v) != MP_OK ||
			    v > INT_MAX) {
				return cp_err(cp, "invalid %.6s \"%s\"", p, p);
			}
			if (p[0] == 'r') {
				tl.rcvbuf = (int)v;
			} else {
				tl.sndbuf = (int)v;
			}
			continue;
		}
		if (strncmp(p, "ipv6only=o", 10) == 0) {
			if (strcmp(p + 10, "n") == 0) {
				tl.ipv6only = 1;
			} else if (strcmp(p + 10, "ff") == 0) {
				tl.ipv6only = 0;
			} else {
				return cp_err(cp, "invalid ipv6only flags \"%s\"", p + 9);
			}
			tl.bind = true;
			continue;
		}
		if (strcmp(p, "ssl") == 0) {
			tl.ssl = true;
			s->ssl_listen = true;
			s->v.ssl.file = cp->fname;
			s->v.ssl.line = (int)cp->lx->line;
			continue;
		}
		if (strncmp(p, "so_keepalive=", 13) == 0) {
			if (!parse_keepalive(p + 13, &tl)) {
				return cp_err(cp, "invalid so_keepalive value: \"%s\"", p + 13);
			}
			tl.bind = true;
			continue;
		}
		if (strcmp(p, "proxy_protocol") == 0) {
			tl.proxy_protocol = true;
			continue;
		}
		if (strcmp(p, "multipath") == 0) {
			tl.multipath = true;
			continue;
		}
		return cp_err(cp, "the invalid \"%s\" parameter", p);
	}

	for (size_t n = 0; n < u.naddrs; n++) {
		char text[MP_ADDR_TEXT_MAX + 8];
		bool dup_here = false;
		/* one hostname may list an address twice: keep it once */
		for (size_t k = 0; k < n; k++) {
			if (net_addr_equal(&u.addrs[k], &u.addrs[n])) {
				dup_here = true;
			}
		}
		if (dup_here) {
			continue;
		}
		net_addr_text(&u.addrs[n], text, sizeof(text));
		for (size_t k = 0; k < cp->nlistens; k++) {
			if (net_addr_equal(&cp->listens[k]->addr, &u.addrs[n])) {
				return cp_err(cp, "duplicate \"%s\" address and port pair", text);
			}
		}
		struct conf_listen *l = cp_alloc(cp, sizeof(*l));
		struct conf_listen **lp = cp_push(cp, &cp->listens, &cp->nlistens, sizeof(*lp));
		if (l == NULL || lp == NULL) {
			return -1;
		}
		*l = tl;
		l->addr = u.addrs[n];
		l->wildcard = u.family != AF_UNIX &&
			      ((u.addrs[n].u.sa.sa_family == AF_INET &&
				u.addrs[n].u.in4.sin_addr.s_addr == 0) ||
			       (u.addrs[n].u.sa.sa_family == AF_INET6 &&
				IN6_IS_ADDR_UNSPECIFIED(&u.addrs[n].u.in6.sin6_addr)));
		l->text = cp_strdup(cp, text, strlen(text));
		if (l->text == NULL) {
			return -1;
		}
		*lp = l;
	}
	return 0;
}

static int set_protocol(struct cparse *cp, const struct conf_dir *d)
{
	(void)d;
	static const struct conf_enum protos[] = {
		{ "imap", PROTO_IMAP }, { "pop3", PROTO_POP3 }, { "smtp", PROTO_SMTP }, { NULL, 0 },
	};
	for (const struct conf_enum *e = protos; e->name != NULL; e++) {
		if (strcmp(e->name, A(1)) == 0) {
			cp->srv->v.protocol = (enum mail_proto)e->value;
			return 0;
		}
	}
	return cp_err(cp, "unknown protocol \"%s\"", A(1));
}

static int set_resolver(struct cparse *cp, const struct conf_dir *d)
{
	struct conf_resolver r;
	int64_t v;

	if (take(cp, d) != 0) {
		return -1;
	}
	memset(&r, 0, sizeof(r));
	r.ipv4 = true;
	r.ipv6 = true;
	if (strcmp(A(1), "off") == 0) {
		cur(cp)->v.resolver = r;
		return 0;
	}
	for (size_t i = 1; i < cp->args.n; i++) {
		const char *p = A(i);
		size_t len = ARG(i).n;
		if (strncmp(p, "valid=", 6) == 0) {
			if (conf_parse_time((struct mp_str){ p + 6, len - 6 }, true, &v) != MP_OK ||
			    v > INT64_MAX / 1000) {
				return cp_err(cp, "invalid parameter: %s", p);
			}
			r.valid_ms = (uint64_t)v * 1000;
			continue;
		}
		if (strncmp(p, "ipv4=", 5) == 0 || strncmp(p, "ipv6=", 5) == 0) {
			bool on;
			if (strcmp(p + 5, "on") == 0) {
				on = true;
			} else if (strcmp(p + 5, "off") == 0) {
				on = false;
			} else {
				return cp_err(cp, "invalid parameter: %s", p);
			}
			if (p[3] == '4') {
				r.ipv4 = on;
			} else {
				r.ipv6 = on;
			}
			continue;
		}
		if (strncmp(p, "status_zone=", 12) == 0) {
			continue; /* statistics zone of the commercial nginx: nothing here */
		}
		struct conf_url_in in = { ARG(i), false, false, 53 };
		struct conf_url_out u;
		if (conf_url_parse(&in, &u, cp_resolve, cp) != MP_OK) {
			return cp_err(cp, "%s in resolver \"%s\"", u.err, p);
		}
		if (u.family == AF_UNIX) {
			return cp_err(cp, "invalid parameter: %s", p);
		}
		for (size_t k = 0; k < u.naddrs; k++) {
			if (r.n >= CONF_RESOLVERS_MAX) {
				return cp_err(cp, "too many name servers in \"resolver\" directive (max %d)",
					      CONF_RESOLVERS_MAX);
			}
			struct mp_addr *a = cp_push(cp, &r.addrs, &r.n, sizeof(*a));
			if (a == NULL) {
				return -1;
			}
			*a = u.addrs[k];
		}
	}
	if (r.n == 0) {
		return cp_err(cp, "no name servers defined");
	}
	if (!r.ipv4 && !r.ipv6) {
		return cp_err(cp, "\"ipv4\" and \"ipv6\" cannot both be \"off\"");
	}
	cur(cp)->v.resolver = r;
	return 0;
}

/* ---- auth ------------------------------------------------------------------------- */

/* The request line is built from the URI: no spaces, no controls. */
static bool uri_ok(struct mp_str s)
{
	for (size_t i = 0; i < s.n; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if (c <= 0x20 || c == 0x7f) {
			return false;
		}
	}
	return true;
}

static int set_auth_http(struct cparse *cp, const struct conf_dir *d)
{
	struct conf_url_in in = { ARG(1), false, true, 80 };
	struct conf_url_out u;
	const char *shown = A(1);
	struct conf_url url;

	if (strncmp(A(1), "http://", 7) == 0) {
		in.url.p += 7;
		in.url.n -= 7;
		shown += 7;
	}
	if (conf_url_parse(&in, &u, cp_resolve, cp) != MP_OK) {
		return cp_err(cp, "%s in auth_http \"%s\"", u.err, shown);
	}
	if (!uri_ok(u.uri)) {
		return cp_err(cp, "invalid URI in auth_http \"%s\"", shown);
	}
	memset(&url, 0, sizeof(url));
	url.text = A(1);
	url.addr = u.addrs[0];
	if (u.family == AF_UNIX) {
		url.host_header = "localhost";
	} else {
		/* the host alone, as nginx sends it (ahcf->host_header = u.host;
		 * checked on nginx 1.22: "Host: 127.0.0.1" for 127.0.0.1:9000) */
		url.host_header = cp_strdup(cp, u.host.p, u.host.n);
	}
	if (u.uri.n == 0) {
		url.uri = "/";
	} else if (u.uri.p[0] != '/') {
		/* "host?args": the request line needs a path */
		char *p = cp_alloc(cp, u.uri.n + 2);
		if (p != NULL) {
			p[0] = '/';
			memcpy(p + 1, u.uri.p, u.uri.n);
		}
		url.uri = p;
	} else {
		url.uri = cp_strdup(cp, u.uri.p, u.uri.n);
	}
	if (url.host_header == NULL || url.uri == NULL) {
		return -1;
	}
	/* as nginx: a second auth_http in the same block replaces the first */
	*setp(cp, d) = 1;
	cur(cp)->v.auth_http = url;
	return 0;
}

/* RFC 9110 5.6.2 token characters. */
static bool header_name_ok(struct mp_str s)
{
	if (s.n == 0) {
		return false;
	}
	for (size_t i = 0; i < s.n; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      strchr("!#$%&'*+-.^_`|~", c) != NULL) ||
		    c == '\0') {
			return false;
		}
	}
	return true;
}

static int set_auth_http_header(struct cparse *cp, const struct conf_dir *d)
{
	struct conf_srv_raw *r = cur(cp);
	if (!header_name_ok(ARG(1))) {
		return cp_err(cp, "invalid header name \"%s\" in \"%s\" directive", A(1), d->name);
	}
	if (check_line_safe(cp, d, ARG(2)) != 0) {
		return -1;
	}
	if (!r->set[d->field]) {
		r->v.auth_http_headers = NULL;
		r->v.nauth_http_headers = 0;
		r->set[d->field] = 1;
	}
	struct conf_header *h =
		cp_push(cp, &r->v.auth_http_headers, &r->v.nauth_http_headers, sizeof(*h));
	if (h == NULL) {
		return -1;
	}
	h->name = A(1);
	h->value = A(2);
	return 0;
}

/* USER of auth_backend: "*", "*@domain" or a login, printable, no spaces. */
static bool backend_user_ok(struct mp_str s)
{
	if (s.n == 0) {
		return false;
	}
	for (size_t i = 0; i < s.n; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if (c <= 0x20 || c == 0x7f) {
			return false;
		}
	}
	const char *star = memchr(s.p, '*', s.n);
	if (star == NULL) {
		return true;
	}
	if (s.n == 1) {
		return true; /* "*" */
	}
	/* "*@domain": one star, first, then "@", then a domain without * or @ */
	if (star != s.p || s.n < 3 || s.p[1] != '@') {
		return false;
	}
	return memchr(s.p + 2, '*', s.n - 2) == NULL && memchr(s.p + 2, '@', s.n - 2) == NULL;
}

static int set_auth_backend(struct cparse *cp, const struct conf_dir *d)
{
	struct conf_srv_raw *r = cur(cp);
	struct conf_auth_backend b;

	memset(&b, 0, sizeof(b));
	if (!backend_user_ok(ARG(1))) {
		return cp_err(cp, "invalid user \"%s\" in \"%s\" directive", A(1), d->name);
	}
	if (net_parse_addr_port(ARG(2).p, ARG(2).n, &b.addr) != MP_OK) {
		return cp_err(cp, "invalid address \"%s\" in \"%s\" directive", A(2), d->name);
	}
	if (cp->args.n == 4) {
		const char *p = A(3);
		if (strncmp(p, "password=", 9) != 0 || p[9] == '\0' ||
		    !uri_ok((struct mp_str){ p + 9, ARG(3).n - 9 })) {
			return cp_err(cp, "invalid parameter \"%s\" in \"%s\" directive", p, d->name);
		}
		b.hash = p + 9;
	}
	if (!r->set[d->field]) {
		r->v.auth_backends = NULL;
		r->v.nauth_backends = 0;
		r->set[d->field] = 1;
	}
	for (size_t i = 0; i < r->v.nauth_backends; i++) {
		if (strcasecmp(r->v.auth_backends[i].user, A(1)) == 0) {
			return cp_err(cp, "duplicate user \"%s\" in \"%s\" directive", A(1), d->name);
		}
	}
	b.user = A(1);
	b.file = cp->fname;
	b.line = (int)cp->lx->line;
	struct conf_auth_backend *slotp =
		cp_push(cp, &r->v.auth_backends, &r->v.nauth_backends, sizeof(*slotp));
	if (slotp == NULL) {
		return -1;
	}
	*slotp = b;
	return 0;
}

/* ---- proxy ---------------------------------------------------------------------- */

/* An on/off directive that grew a third value (proxy_protocol v2, proxy_ssl starttls). */
static int set_tristate(struct cparse *cp, const struct conf_dir *d)
{
	const char *third = d->post;
	int v;
	if (take(cp, d) != 0) {
		return -1;
	}
	if (strcasecmp(A(1), "off") == 0) {
		v = 0;
	} else if (strcasecmp(A(1), "on") == 0) {
		v = 1;
	} else if (strcasecmp(A(1), third) == 0) {
		v = 2;
	} else {
		return cp_err(cp, "invalid value \"%s\" in \"%s\" directive, it must be \"on\", \"off\" or \"%s\"",
			      A(1), d->name, third);
	}
	*(int *)slot(cp, d) = v;
	return 0;
}

/* ---- access ---------------------------------------------------------------------- */

static int cidr_push(struct cparse *cp, struct conf_cidrlist *l, const struct conf_cidr *c)
{
	struct conf_cidr *slotp = cp_push(cp, &l->v, &l->n, sizeof(*slotp));
	if (slotp == NULL) {
		return -1;
	}
	*slotp = *c;
	return 0;
}

static struct conf_cidrlist *cidr_begin(struct cparse *cp, const struct conf_dir *d)
{
	struct conf_cidrlist *l = slot(cp, d);
	uint8_t *s = setp(cp, d);
	if (!*s) {
		l->v = NULL;
		l->n = 0;
		*s = 1;
	}
	return l;
}

static int set_real_ip_from(struct cparse *cp, const struct conf_dir *d)
{
	struct conf_cidrlist *l = cidr_begin(cp, d);
	struct conf_cidr c;
	bool low;

	memset(&c, 0, sizeof(c));
	if (strcmp(A(1), "unix:") == 0) {
		c.family = AF_UNIX;
		return cidr_push(cp, l, &c);
	}
	if (conf_cidr_parse(ARG(1), &c, &low) == MP_OK) {
		if (low) {
			cp_notice(cp, LOGL_WARN, "low address bits of %s are meaningless", A(1));
		}
		return cidr_push(cp, l, &c);
	}
	struct mp_addr addrs[CONF_URL_ADDRS_MAX];
	size_t n = cp_resolve(cp, A(1), ARG(1).n, addrs, CONF_URL_ADDRS_MAX);
	if (n == 0) {
		return cp_err(cp, "host not found in set_real_ip_from \"%s\"", A(1));
	}
	for (size_t i = 0; i < n; i++) {
		memset(&c, 0, sizeof(c));
		c.family = addrs[i].u.sa.sa_family;
		if (c.family == AF_INET) {
			memcpy(c.addr, &addrs[i].u.in4.sin_addr, 4);
			c.prefix = 32;
		} else {
			memcpy(c.addr, &addrs[i].u.in6.sin6_addr, 16);
			c.prefix = 128;
		}
		if (cidr_push(cp, l, &c) != 0) {
			return -1;
		}
	}
	return 0;
}

static int set_access(struct cparse *cp, const struct conf_dir *d)
{
	struct conf_cidrlist *l = cidr_begin(cp, d);
	struct conf_cidr c;
	bool low = false;

	memset(&c, 0, sizeof(c));
	if (strcmp(A(1), "all") == 0) {
		c.family = 0;
	} else if (strcmp(A(1), "unix:") == 0) {
		c.family = AF_UNIX;
	} else if (conf_cidr_parse(ARG(1), &c, &low) != MP_OK) {
		return cp_err(cp, "invalid parameter \"%s\"", A(1));
	}
	if (low) {
		cp_notice(cp, LOGL_WARN, "low address bits of %s are meaningless", A(1));
	}
	c.allow = d->post != NULL;
	return cidr_push(cp, l, &c);
}

/* ---- ssl -------------------------------------------------------------------------- */

static int set_ssl(struct cparse *cp, const struct conf_dir *d)
{
	struct conf_srv_raw *r = cur(cp);
	if (set_flag(cp, d) != 0) {
		return -1;
	}
	cp_notice(cp, LOGL_WARN,
		  "the \"ssl\" directive is deprecated, use the \"listen ... ssl\" directive instead");
	if (r->v.ssl.ssl_on && r->v.ssl.starttls != STARTTLS_OFF) {
		return cp_err(cp, "\"starttls\" directive conflicts with \"ssl on\"");
	}
	if (!r->ssl_listen) {
		r->v.ssl.file = cp->fname;
		r->v.ssl.line = (int)cp->lx->line;
	}
	return 0;
}

static int set_starttls(struct cparse *cp, const struct conf_dir *d)
{
	struct conf_srv_raw *r = cur(cp);
	if (set_enum(cp, d) != 0) {
		return -1;
	}
	if (r->v.ssl.ssl_on && r->v.ssl.starttls != STARTTLS_OFF) {
		return cp_err(cp, "\"ssl\" directive conflicts with \"starttls\"");
	}
	if (!r->ssl_listen) {
		r->v.ssl.file = cp->fname;
		r->v.ssl.line = (int)cp->lx->line;
	}
	return 0;
}

/* data:... (inline PEM) is kept as is; everything else is a file. */
static const char *tls_path(struct cparse *cp, const char *v, bool key)
{
	if (strncmp(v, "data:", 5) == 0 ||
	    (key && (strncmp(v, "engine:", 7) == 0 || strncmp(v, "store:", 6) == 0))) {
		return v;
	}
	return cp_full_path(cp, v, true);
}

static int set_ssl_certificate(struct cparse *cp, const struct conf_dir *d)
{
	struct conf_srv_raw *r = cur(cp);
	if (!r->set[d->field]) {
		r->certs = NULL;
		r->ncerts = 0;
		r->set[d->field] = 1;
	}
	const char *path = tls_path(cp, A(1), false);
	struct conf_raw_cert *c = cp_push(cp, &r->certs, &r->ncerts, sizeof(*c));
	if (path == NULL || c == NULL) {
		return -1;
	}
	c->written = A(1);
	c->path = path;
	c->file = cp->fname;
	c->line = (int)cp->lx->line;
	return 0;
}

static int set_ssl_certificate_key(struct cparse *cp, const struct conf_dir *d)
{
	struct conf_srv_raw *r = cur(cp);
	if (!r->set[d->field]) {
		r->keys.v = NULL;
		r->keys.n = 0;
		r->set[d->field] = 1;
	}
	const char *path = tls_path(cp, A(1), true);
	return path != NULL ? strlist_add(cp, &r->keys, path) : -1;
}

static int set_ssl_session_cache(struct cparse *cp, const struct conf_dir *d)
{
	struct conf_ssl *ssl = &cur(cp)->v.ssl;
	uint64_t builtin = 0, shared = 0;
	size_t textlen = 0;
	int64_t v;

	for (size_t i = 1; i < cp->args.n; i++) {
		const char *p = A(i);
		size_t len = ARG(i).n;
		textlen += len + 1;
		if (strcmp(p, "off") == 0 || strcmp(p, "none") == 0) {
			builtin = 0;
			continue;
		}
		if (strcmp(p, "builtin") == 0) {
			builtin = CONF_SSL_BUILTIN_DEFAULT;
			continue;
		}
		if (len > 8 && strncmp(p, "builtin:", 8) == 0) {
			if (conf_atoi((struct mp_str){ p + 8, len - 8 }, &v) != MP_OK) {
				return cp_err(cp, "invalid session cache \"%s\"", p);
			}
			builtin = (uint64_t)v;
			continue;
		}
		if (len > 7 && strncmp(p, "shared:", 7) == 0) {
			const char *colon = strchr(p + 7, ':');
			if (colon == NULL || colon == p + 7 ||
			    conf_parse_size((struct mp_str){ colon + 1, strlen(colon + 1) }, &v) != MP_OK) {
				return cp_err(cp, "invalid session cache \"%s\"", p);
			}
			if (v < 8 * 4096) {
				return cp_err(cp, "session cache \"%s\" is too small", p);
			}
			shared = (uint64_t)v;
			continue;
		}
		return cp_err(cp, "invalid session cache \"%s\"", p);
	}
	*setp(cp, d) = 1;

	char *text = cp_alloc(cp, textlen);
	if (text == NULL) {
		return -1;
	}
	for (size_t i = 1, o = 0; i < cp->args.n; i++) {
		if (i > 1) {
			text[o++] = ' ';
		}
		memcpy(text + o, A(i), ARG(i).n);
		o += ARG(i).n;
	}
	ssl->session_cache = text;
	/* entries-ish budget in bytes; clamp, nobody wants more than the arena */
	uint64_t bytes = builtin > UINT64_MAX / CONF_SSL_SESSION_ENTRY
				 ? UINT64_MAX
				 : builtin * CONF_SSL_SESSION_ENTRY;
	bytes = bytes > UINT64_MAX - shared ? UINT64_MAX : bytes + shared;
	ssl->session_cache_size = bytes > SIZE_MAX ? SIZE_MAX : (size_t)bytes;
	return 0;
}

static int set_ssl_conf_command(struct cparse *cp, const struct conf_dir *d)
{
	struct conf_strlist *l = strlist_begin(cp, d);
	if (strlist_add(cp, l, A(1)) != 0 || strlist_add(cp, l, A(2)) != 0) {
		return -1;
	}
	return 0;
}

/* ---- the tables ---------------------------------------------------------------------- */

static const struct conf_mask imap_auth_methods[] = {
	{ "plain", AUTHM_PLAIN },
	{ "login", AUTHM_LOGIN },
	{ "cram-md5", AUTHM_CRAM_MD5 },
	{ "external", AUTHM_EXTERNAL },
	{ NULL, 0 },
};

static const struct conf_mask pop3_auth_methods[] = {
	{ "plain", AUTHM_PLAIN },
	{ "apop", AUTHM_APOP },
	{ "cram-md5", AUTHM_CRAM_MD5 },
	{ "external", AUTHM_EXTERNAL },
	{ NULL, 0 },
};

static const struct conf_mask smtp_auth_methods[] = {
	{ "plain", AUTHM_PLAIN },
	{ "login", AUTHM_LOGIN },
	{ "cram-md5", AUTHM_CRAM_MD5 },
	{ "external", AUTHM_EXTERNAL },
	{ "none", AUTHM_NONE },
	{ NULL, 0 },
};

static const struct conf_mask ssl_protocols[] = {
	{ "SSLv2", TLSP_SSLv2 },     { "SSLv3", TLSP_SSLv3 },     { "TLSv1", TLSP_TLSv1 },
	{ "TLSv1.1", TLSP_TLSv1_1 }, { "TLSv1.2", TLSP_TLSv1_2 }, { "TLSv1.3", TLSP_TLSv1_3 },
	{ NULL, 0 },
};

static const struct conf_enum starttls_modes[] = {
	{ "off", STARTTLS_OFF },
	{ "on", STARTTLS_ON },
	{ "only", STARTTLS_ONLY },
	{ NULL, 0 },
};

static const struct conf_enum verify_modes[] = {
	{ "off", VERIFY_OFF },
	{ "on", VERIFY_ON },
	{ "optional", VERIFY_OPTIONAL },
	{ "optional_no_ca", VERIFY_OPTIONAL_NO_CA },
	{ NULL, 0 },
};

static const bool allow_rule = true;

_Static_assert(sizeof(enum starttls_mode) == sizeof(int), "enum setter writes an int");
_Static_assert(sizeof(enum verify_client_mode) == sizeof(int), "enum setter writes an int");

#define MS (CTX_MAIL | CTX_SERVER)
#define SRV(f) offsetof(struct conf_server, f), sizeof(((struct conf_server *)0)->f)
#define SRV2(a, b)                                 \
	offsetof(struct conf_server, a),           \
		(offsetof(struct conf_server, b) + \
		 sizeof(((struct conf_server *)0)->b) - offsetof(struct conf_server, a))
#define MAINF(f) offsetof(struct conf, f), sizeof(((struct conf *)0)->f)
#define NOSLOT 0, 0
#define BLOCK (ARG_BLOCK | ARG_NOARGS)

const struct conf_dir conf_dirs[] = {
	/* ngx_core_module and friends (main context) */
	{ "daemon", CTX_MAIN, ARG_FLAG, set_flag, F_DAEMON, MAINF(daemon), NULL },
	{ "master_process", CTX_MAIN, ARG_FLAG, set_master, F_MASTER, MAINF(master_process), NULL },
	{ "timer_resolution", CTX_MAIN, ARG_TAKE1, set_ignored, F_TIMER_RES, NOSLOT, &ign_timer },
	{ "pid", CTX_MAIN, ARG_TAKE1, set_pid, F_PID, MAINF(pid_file), NULL },
	{ "lock_file", CTX_MAIN, ARG_TAKE1, set_ignored, F_LOCK_FILE, NOSLOT, &ign_any_single },
	{ "worker_processes", CTX_MAIN, ARG_TAKE1, set_ignored, F_WORKER_PROCESSES, NOSLOT,
	  &ign_processes },
	{ "debug_points", CTX_MAIN, ARG_TAKE1, set_ignored, F_DEBUG_POINTS, NOSLOT,
	  &ign_debug_points },
	{ "user", CTX_MAIN, ARG_TAKE12, set_user, F_USER, NOSLOT, NULL },
	{ "worker_priority", CTX_MAIN, ARG_TAKE1, set_ignored, F_PRIORITY, NOSLOT, &ign_priority },
	{ "worker_cpu_affinity", CTX_MAIN, ARG_1MORE, set_ignored, F_CPU_AFFINITY, NOSLOT,
	  &ign_any_single },
	{ "worker_rlimit_nofile", CTX_MAIN, ARG_TAKE1, set_long, F_RLIMIT_NOFILE,
	  MAINF(worker_rlimit_nofile), NULL },
	{ "worker_rlimit_core", CTX_MAIN, ARG_TAKE1, set_ignored, F_RLIMIT_CORE, NOSLOT,
	  &ign_offset_nosup },
	{ "worker_shutdown_timeout", CTX_MAIN, ARG_TAKE1, set_ignored, F_SHUTDOWN_TIMEOUT, NOSLOT,
	  &ign_msec_single },
	{ "working_directory", CTX_MAIN, ARG_TAKE1, set_ignored, F_WORKING_DIR, NOSLOT,
	  &ign_any_nosup },
	{ "env", CTX_MAIN, ARG_TAKE1, set_ignored, F_NONE, NOSLOT, &ign_any_nosup },
	{ "load_module", CTX_MAIN, ARG_TAKE1, set_ignored, F_NONE, NOSLOT, &ign_modules },
	{ "error_log", CTX_MAIN, ARG_1MORE, set_error_log_main, F_MAIN_ERROR_LOG, NOSLOT, NULL },
	{ "pcre_jit", CTX_MAIN, ARG_FLAG, set_ignored, F_PCRE_JIT, NOSLOT, &ign_flag_nosup },
	{ "thread_pool", CTX_MAIN, ARG_TAKE23, set_ignored, F_NONE, NOSLOT, &ign_any_nosup },
	{ "ssl_engine", CTX_MAIN, ARG_TAKE1, set_ignored, F_SSL_ENGINE, NOSLOT, &ign_any_nosup },
	{ "events", CTX_MAIN, BLOCK, set_events, F_EVENTS, NOSLOT, NULL },
	{ "http", CTX_MAIN, BLOCK, set_skip, F_HTTP, NOSLOT, &ign_block },
	{ "stream", CTX_MAIN, BLOCK, set_skip, F_STREAM, NOSLOT, &ign_block },
	{ "mail", CTX_MAIN, BLOCK, set_mail, F_MAIL, NOSLOT, NULL },
	{ "include", CTX_ANY, ARG_TAKE1, set_include, F_NONE, NOSLOT, NULL },

	/* events {} */
	{ "worker_connections", CTX_EVENTS, ARG_TAKE1, set_worker_connections,
	  F_WORKER_CONNECTIONS, MAINF(worker_connections), NULL },
	{ "use", CTX_EVENTS, ARG_TAKE1, set_use, F_USE, NOSLOT, NULL },
	{ "multi_accept", CTX_EVENTS, ARG_FLAG, set_ignored, F_MULTI_ACCEPT, NOSLOT,
	  &ign_flag_single },
	{ "accept_mutex", CTX_EVENTS, ARG_FLAG, set_ignored, F_ACCEPT_MUTEX, NOSLOT,
	  &ign_flag_single },
	{ "accept_mutex_delay", CTX_EVENTS, ARG_TAKE1, set_ignored, F_ACCEPT_MUTEX_DELAY, NOSLOT,
	  &ign_msec_single },
	{ "debug_connection", CTX_EVENTS, ARG_TAKE1, set_ignored, F_NONE, NOSLOT, &ign_any_nosup },
	{ "worker_aio_requests", CTX_EVENTS, ARG_TAKE1, set_ignored, F_AIO_REQUESTS, NOSLOT,
	  &ign_num_nosup },

	/* ngx_mail_core_module */
	{ "server", CTX_MAIL, BLOCK, set_server, F_NONE, NOSLOT, NULL },
	{ "listen", CTX_SERVER, ARG_1MORE, set_listen, F_NONE, NOSLOT, NULL },
	{ "protocol", CTX_SERVER, ARG_TAKE1, set_protocol, F_PROTOCOL, NOSLOT, NULL },
	{ "timeout", MS, ARG_TAKE1, set_msec, F_TIMEOUT, SRV(timeout_ms), NULL },
	{ "server_name", MS, ARG_TAKE1, set_wire_str, F_SERVER_NAME, SRV(server_name), NULL },
	{ "error_log", MS, ARG_1MORE, set_error_log_srv, F_ERROR_LOG,
	  SRV2(error_log, error_log_level), NULL },
	{ "resolver", MS, ARG_1MORE, set_resolver, F_RESOLVER, SRV(resolver), NULL },
	{ "resolver_timeout", MS, ARG_TAKE1, set_msec, F_RESOLVER_TIMEOUT,
	  SRV(resolver_timeout_ms), NULL },
	{ "max_errors", MS, ARG_TAKE1, set_uint, F_MAX_ERRORS, SRV(max_errors), NULL },
	/* freenginx/Angie */
	{ "max_commands", MS, ARG_TAKE1, set_uint, F_MAX_COMMANDS, SRV(max_commands), NULL },

	/* ngx_mail_auth_http_module */
	{ "auth_http", MS, ARG_TAKE1, set_auth_http, F_AUTH_HTTP, SRV(auth_http), NULL },
	{ "auth_http_timeout", MS, ARG_TAKE1, set_msec, F_AUTH_HTTP_TIMEOUT,
	  SRV(auth_http_timeout_ms), NULL },
	{ "auth_http_header", MS, ARG_TAKE2, set_auth_http_header, F_AUTH_HTTP_HEADER,
	  SRV2(auth_http_headers, nauth_http_headers), NULL },
	{ "auth_http_pass_client_cert", MS, ARG_FLAG, set_flag, F_AUTH_HTTP_PASS_CERT,
	  SRV(auth_http_pass_client_cert), NULL },
	/* mproxy: built-in authenticator */
	{ "auth_backend", MS, ARG_TAKE23, set_auth_backend, F_AUTH_BACKEND,
	  SRV2(auth_backends, nauth_backends), NULL },

	/* ngx_mail_proxy_module */
	{ "proxy", MS, ARG_FLAG, set_flag, F_PROXY, SRV(proxy), NULL },
	{ "proxy_buffer", MS, ARG_TAKE1, set_bufsize, F_PROXY_BUFFER, SRV(proxy_buffer), NULL },
	{ "proxy_timeout", MS, ARG_TAKE1, set_msec, F_PROXY_TIMEOUT, SRV(proxy_timeout_ms), NULL },
	{ "proxy_pass_error_message", MS, ARG_FLAG, set_flag, F_PROXY_PASS_ERROR,
	  SRV(proxy_pass_error_message), NULL },
	{ "xclient", MS, ARG_FLAG, set_flag, F_XCLIENT, SRV(xclient), NULL },
	{ "proxy_smtp_auth", MS, ARG_FLAG, set_flag, F_PROXY_SMTP_AUTH, SRV(proxy_smtp_auth), NULL },
	{ "proxy_protocol", MS, ARG_TAKE1, set_tristate, F_PROXY_PROTOCOL, SRV(proxy_protocol),
	  "v2" },
	/* mproxy: client identity and TLS toward the backend */
	{ "proxy_client_id", MS, ARG_FLAG, set_flag, F_PROXY_CLIENT_ID, SRV(proxy_client_id), NULL },
	{ "proxy_ssl", MS, ARG_TAKE1, set_tristate, F_PROXY_SSL, SRV(proxy_ssl.mode), "starttls" },
	{ "proxy_ssl_verify", MS, ARG_FLAG, set_flag, F_PROXY_SSL_VERIFY, SRV(proxy_ssl.verify),
	  NULL },
	{ "proxy_ssl_trusted_certificate", MS, ARG_TAKE1, set_conf_path, F_PROXY_SSL_TRUSTED,
	  SRV(proxy_ssl.trusted_certificate), NULL },
	{ "proxy_ssl_name", MS, ARG_TAKE1, set_wire_str, F_PROXY_SSL_NAME, SRV(proxy_ssl.name),
	  NULL },
	{ "proxy_ssl_verify_depth", MS, ARG_TAKE1, set_uint, F_PROXY_SSL_DEPTH,
	  SRV(proxy_ssl.verify_depth), NULL },

	/* ngx_mail_realip_module, and allow/deny (nginx's access module, for mail) */
	{ "set_real_ip_from", MS, ARG_TAKE1, set_real_ip_from, F_REALIP, SRV(real_ip_from), NULL },
	{ "allow", MS, ARG_TAKE1, set_access, F_ACCESS, SRV(access), &allow_rule },
	{ "deny", MS, ARG_TAKE1, set_access, F_ACCESS, SRV(access), NULL },

	/* ngx_mail_imap_module, ngx_mail_pop3_module, ngx_mail_smtp_module */
	{ "imap_client_buffer", MS, ARG_TAKE1, set_bufsize, F_IMAP_BUF, SRV(imap_client_buffer),
	  NULL },
	{ "imap_capabilities", MS, ARG_1MORE, set_caps, F_IMAP_CAPS, SRV(imap_capabilities), NULL },
	{ "imap_auth", MS, ARG_1MORE, set_bitmask, F_IMAP_AUTH, SRV(imap_auth), imap_auth_methods },
	{ "pop3_capabilities", MS, ARG_1MORE, set_caps, F_POP3_CAPS, SRV(pop3_capabilities), NULL },
	{ "pop3_auth", MS, ARG_1MORE, set_bitmask, F_POP3_AUTH, SRV(pop3_auth), pop3_auth_methods },
	{ "pop3_client_buffer", MS, ARG_TAKE1, set_bufsize, F_POP3_BUF, SRV(pop3_client_buffer),
	  NULL },
	{ "smtp_client_buffer", MS, ARG_TAKE1, set_bufsize, F_SMTP_BUF, SRV(smtp_client_buffer),
	  NULL },
	{ "smtp_greeting_delay", MS, ARG_TAKE1, set_msec, F_SMTP_GREETING_DELAY,
	  SRV(smtp_greeting_delay_ms), NULL },
	{ "smtp_capabilities", MS, ARG_1MORE, set_caps, F_SMTP_CAPS, SRV(smtp_capabilities), NULL },
	{ "smtp_auth", MS, ARG_1MORE, set_bitmask, F_SMTP_AUTH, SRV(smtp_auth), smtp_auth_methods },

	/* ngx_mail_ssl_module */
	{ "ssl", MS, ARG_FLAG, set_ssl, F_SSL_ON, SRV(ssl.ssl_on), NULL },
	{ "starttls", MS, ARG_TAKE1, set_starttls, F_STARTTLS, SRV(ssl.starttls), starttls_modes },
	{ "ssl_certificate", MS, ARG_TAKE1, set_ssl_certificate, F_SSL_CERT, NOSLOT, NULL },
	{ "ssl_certificate_key", MS, ARG_TAKE1, set_ssl_certificate_key, F_SSL_KEY, NOSLOT, NULL },
	{ "ssl_password_file", MS, ARG_TAKE1, set_conf_path, F_SSL_PASSWORD,
	  SRV(ssl.password_file), NULL },
	{ "ssl_dhparam", MS, ARG_TAKE1, set_conf_path, F_SSL_DHPARAM, SRV(ssl.dhparam), NULL },
	{ "ssl_ecdh_curve", MS, ARG_TAKE1, set_str, F_SSL_ECDH, SRV(ssl.ecdh_curve), NULL },
	{ "ssl_protocols", MS, ARG_1MORE, set_bitmask, F_SSL_PROTOCOLS, SRV(ssl.protocols),
	  ssl_protocols },
	{ "ssl_ciphers", MS, ARG_TAKE1, set_str, F_SSL_CIPHERS, SRV(ssl.ciphers), NULL },
	{ "ssl_prefer_server_ciphers", MS, ARG_FLAG, set_flag, F_SSL_PREFER,
	  SRV(ssl.prefer_server_ciphers), NULL },
	{ "ssl_session_cache", MS, ARG_TAKE12, set_ssl_session_cache, F_SSL_SESS_CACHE,
	  SRV2(ssl.session_cache, ssl.session_cache_size), NULL },
	{ "ssl_session_tickets", MS, ARG_FLAG, set_flag, F_SSL_TICKETS, SRV(ssl.session_tickets),
	  NULL },
	{ "ssl_session_ticket_key", MS, ARG_TAKE1, set_conf_path_list, F_SSL_TICKET_KEY,
	  SRV(ssl.session_ticket_keys), NULL },
	{ "ssl_session_timeout", MS, ARG_TAKE1, set_sec_ms, F_SSL_SESS_TIMEOUT,
	  SRV(ssl.session_timeout_ms), NULL },
	{ "ssl_verify_client", MS, ARG_TAKE1, set_enum, F_SSL_VERIFY, SRV(ssl.verify_client),
	  verify_modes },
	{ "ssl_verify_depth", MS, ARG_TAKE1, set_uint, F_SSL_VERIFY_DEPTH, SRV(ssl.verify_depth),
	  NULL },
	{ "ssl_client_certificate", MS, ARG_TAKE1, set_conf_path, F_SSL_CLIENT_CERT,
	  SRV(ssl.client_certificate), NULL },
	{ "ssl_trusted_certificate", MS, ARG_TAKE1, set_conf_path, F_SSL_TRUSTED,
	  SRV(ssl.trusted_certificate), NULL },
	{ "ssl_crl", MS, ARG_TAKE1, set_conf_path, F_SSL_CRL, SRV(ssl.crl), NULL },
	{ "ssl_conf_command", MS, ARG_TAKE2, set_ssl_conf_command, F_SSL_CONF_CMD,
	  SRV(ssl.conf_commands), NULL },
	{ "ssl_certificate_compression", MS, ARG_FLAG, set_flag, F_SSL_COMPRESSION,
	  SRV(ssl.certificate_compression), NULL },
};

const size_t conf_ndirs = MP_ARRAY_LEN(conf_dirs);

/* Common directives of nginx's http and stream modules: written in the wrong
 * block they are "not allowed here" in nginx, not unknown. */
bool conf_dir_known_elsewhere(const char *name)
{
	static const char *const names[] = {
		"access_log", "add_header", "client_max_body_size", "default_type",
		"gzip", "index", "keepalive_timeout", "limit_conn", "limit_req", "location",
		"log_format", "map", "proxy_connect_timeout", "proxy_pass",
		"proxy_read_timeout", "proxy_set_header", "return", "rewrite", "root",
		"sendfile", "server_names_hash_bucket_size", "server_tokens", "ssl_buffer_size",
		"ssl_early_data", "ssl_ocsp", "ssl_preread", "ssl_reject_handshake",
		"ssl_stapling", "ssl_stapling_verify", "tcp_nodelay", "tcp_nopush", "types",
		"upstream",
	};
	return in_list(names, MP_ARRAY_LEN(names), name, strlen(name));
}
