/*
 * mproxy: main. The command line (nginx's), start-up, signals and the loop
 * that ties it together. The process exits only from here: before the loop
 * starts, or when a signal says so.
 */
#include "conf/conf.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/rand.h"
#include "proto/pwhash.h"
#include "proto/resolver.h"
#include "proto/session.h"
#include "tls/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef MP_PREFIX
#define MP_PREFIX "/etc/mproxy/"
#endif
#ifndef MP_CONF_PATH
#define MP_CONF_PATH "mproxy.conf"
#endif

struct options {
	const char *conf_file;
	const char *prefix;
	const char *error_log;
	const char *directives;
	const char *signal;
	bool test, dump, quiet, version, version_full, help, hash;
};

static const char usage_text[] =
	"Usage: mproxy [-?hvVtTqH] [-s signal] [-p prefix]\n"
	"             [-e filename] [-c filename] [-g directives]\n"
	"\n"
	"Options:\n"
	"  -?,-h         : this help\n"
	"  -v            : show version and exit\n"
	"  -V            : show version and build options then exit\n"
	"  -t            : test configuration and exit\n"
	"  -T            : test configuration, dump it and exit\n"
	"  -q            : suppress non-error messages during configuration testing\n"
	"  -s signal     : send signal to the running instance: stop, quit, reopen, reload\n"
	"  -p prefix     : set prefix path (default: " MP_PREFIX ")\n"
	"  -e filename   : set error log file (default: stderr)\n"
	"  -c filename   : set configuration file (default: " MP_PREFIX MP_CONF_PATH ")\n"
	"  -g directives : set global directives out of configuration file\n"
	"  -H            : read a password on stdin, print a hash for auth_backend\n";

static int parse_args(int argc, char **argv, struct options *o)
{
	for (int i = 1; i < argc; i++) {
		const char *p = argv[i];
		if (*p++ != '-') {
			fprintf(stderr, "mproxy: invalid option: \"%s\"\n", argv[i]);
			return -1;
		}
		while (*p != '\0') {
			char opt = *p++;
			const char **target = NULL;
			switch (opt) {
			case '?':
			case 'h':
				o->help = true;
				break;
			case 'v':
				o->version = true;
				break;
			case 'V':
				o->version = o->version_full = true;
				break;
			case 't':
				o->test = true;
				break;
			case 'T':
				o->test = o->dump = true;
				break;
			case 'q':
				o->quiet = true;
				break;
			case 'H':
				o->hash = true;
				break;
			case 'c':
				target = &o->conf_file;
				break;
			case 'p':
				target = &o->prefix;
				break;
			case 'e':
				target = &o->error_log;
				break;
			case 'g':
				target = &o->directives;
				break;
			case 's':
				target = &o->signal;
				break;
			default:
				fprintf(stderr, "mproxy: invalid option: \"%c\"\n", opt);
				return -1;
			}
			if (target != NULL) {
				/* "-cfile" or "-c file", as nginx */
				if (*p != '\0') {
					*target = p;
				} else if (i + 1 < argc) {
					*target = argv[++i];
				} else {
					fprintf(stderr, "mproxy: option \"-%c\" requires %s\n", opt,
						opt == 's' ? "signal name" : opt == 'g' ? "directives" : "file name");
					return -1;
				}
				break;
			}
		}
	}
	if (o->signal != NULL && strcmp(o->signal, "stop") != 0 && strcmp(o->signal, "quit") != 0 &&
	    strcmp(o->signal, "reopen") != 0 && strcmp(o->signal, "reload") != 0) {
		fprintf(stderr, "mproxy: invalid option: \"-s %s\"\n", o->signal);
		return -1;
	}
	return 0;
}

static void show_version(bool full)
{
	fprintf(stderr, "mproxy version: mproxy/%s\n", MP_VERSION);
	if (full) {
		fprintf(stderr, "built with BearSSL 0.6 (Debian source), event loop: %s\n",
			loop_backend_name());
#if defined(__VERSION__)
		fprintf(stderr, "built by cc %s\n", __VERSION__);
#endif
		fprintf(stderr, "modules: mail core, auth_http, proxy, imap, pop3, smtp, realip, "
				"auth_backend (built-in)\n");
		fprintf(stderr, "configure arguments: --prefix=%s --conf-path=%s\n", MP_PREFIX,
			MP_PREFIX MP_CONF_PATH);
	}
}

/* ---- notices from the configuration loader ---- */

static bool quiet_notices;
static bool log_ready; /* the configured error log is open */

/* Before the error log is open, messages go to stderr as nginx's do:
 * "mproxy: [notice] ..."; afterwards (reload) into the log. */
static void conf_notice(int level, const char *msg)
{
	if (quiet_notices && level > LOGL_WARN) {
		return;
	}
	if (log_ready) {
		log_msg(level, 0, "%s", msg);
	} else {
		fprintf(stderr, "mproxy: [%s] %s\n", log_level_name(level), msg);
	}
}

/* ---- -H: password hashes for auth_backend ---- */

static int hash_password(void)
{
	char pw[1024];
	if (isatty(STDIN_FILENO)) {
		fprintf(stderr, "password: ");
	}
	if (fgets(pw, sizeof(pw), stdin) == NULL) {
		fprintf(stderr, "mproxy: no password on stdin\n");
		return 1;
	}
	size_t n = strcspn(pw, "\r\n");
	pw[n] = '\0';
	uint8_t salt[16];
	char out[256];
	if (rand_bytes(salt, sizeof(salt)) != MP_OK ||
	    pwhash_make(pw, n, salt, sizeof(salt), PWHASH_ROUNDS_DEFAULT, out, sizeof(out)) != MP_OK) {
		fprintf(stderr, "mproxy: cannot make a hash\n");
		return 1;
	}
	memset(pw, 0, sizeof(pw));
	printf("%s\n", out);
	return 0;
}

/* ---- pid file and signals to a running instance ---- */

static const char *pid_path(const struct conf *c)
{
	return c->pid_file;
}

static int send_signal(const struct conf *c, const char *name)
{
	const char *path = pid_path(c);
	char buf[32];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "mproxy: [error] open() \"%s\" failed (%d: %s)\n", path, errno, strerror(errno));
		return 1;
	}
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0) {
		fprintf(stderr, "mproxy: [error] invalid PID number \"\" in \"%s\"\n", path);
		return 1;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	char *end = NULL;
	long pid = strtol(buf, &end, 10);
	if (end == buf || *end != '\0' || pid <= 0) {
		fprintf(stderr, "mproxy: [error] invalid PID number \"%s\" in \"%s\"\n", buf, path);
		return 1;
	}
	int sig = strcmp(name, "stop") == 0     ? SIGTERM
		  : strcmp(name, "quit") == 0   ? SIGQUIT
		  : strcmp(name, "reopen") == 0 ? SIGUSR1
						: SIGHUP;
	if (kill((pid_t)pid, sig) != 0) {
		fprintf(stderr, "mproxy: [alert] kill(%ld, %d) failed (%d: %s)\n", pid, sig, errno,
			strerror(errno));
		return 1;
	}
	return 0;
}

static int write_pid(const char *path)
{
	char buf[32];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		log_msg(LOGL_EMERG, 0, "open() \"%s\" failed (%d: %s)", path, errno, strerror(errno));
		return -1;
	}
	int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	ssize_t w = write(fd, buf, (size_t)n);
	close(fd);
	return w == n ? 0 : -1;
}

/* ---- signals: a self-pipe, so the loop sees them as events ---- */

static int sig_pipe[2] = { -1, -1 };
static volatile sig_atomic_t sig_pending[NSIG];

static void on_signal(int sig)
{
	int saved = errno;
	sig_pending[sig] = 1;
	char c = (char)sig;
	ssize_t r = write(sig_pipe[1], &c, 1);
	(void)r;
	errno = saved;
}

static struct ev_watch sig_watch;

static void drain_signals(struct ev_watch *w, unsigned ev)
{
	char buf[64];
	(void)ev;
	while (read(w->fd, buf, sizeof(buf)) > 0) {
	}
}

static int setup_signals(void)
{
	if (pipe2(sig_pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
		return -1;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	int sigs[] = { SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1 };
	for (size_t i = 0; i < MP_ARRAY_LEN(sigs); i++) {
		sigaction(sigs[i], &sa, NULL);
	}
	signal(SIGPIPE, SIG_IGN);
	sig_watch.fd = sig_pipe[0];
	sig_watch.fn = drain_signals;
	return loop_set(&sig_watch, EV_READ);
}

static bool take_signal(int sig)
{
	if (sig_pending[sig]) {
		sig_pending[sig] = 0;
		return true;
	}
	return false;
}

/* ---- privileges, daemon ---- */

static int drop_privileges(const struct conf *c)
{
	if (c->user == NULL || geteuid() != 0) {
		return 0;
	}
	struct passwd *pw = getpwnam(c->user);
	if (pw == NULL) {
		log_msg(LOGL_EMERG, 0, "getpwnam(\"%s\") failed", c->user);
		return -1;
	}
	gid_t gid = pw->pw_gid;
	if (c->group != NULL) {
		struct group *gr = getgrnam(c->group);
		if (gr == NULL) {
			log_msg(LOGL_EMERG, 0, "getgrnam(\"%s\") failed", c->group);
			return -1;
		}
		gid = gr->gr_gid;
	}
	if (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(pw->pw_uid) != 0) {
		log_msg(LOGL_EMERG, 0, "cannot switch to user \"%s\" (%d: %s)", c->user, errno, strerror(errno));
		return -1;
	}
	return 0;
}

static int daemonize(bool keep_stderr)
{
	pid_t pid = fork();
	if (pid < 0) {
		log_msg(LOGL_EMERG, 0, "fork() failed (%d: %s)", errno, strerror(errno));
		return -1;
	}
	if (pid > 0) {
		_exit(0);
	}
	setsid();
	int fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		/* a daemon keeps no terminal: stderr too, unless it is the log */
		if (!keep_stderr) {
			dup2(fd, STDERR_FILENO);
		}
		if (fd > STDERR_FILENO) {
			close(fd);
		}
	}
	return 0;
}

static int open_conf_log(const struct conf *c, const struct options *o)
{
	char err[256];
	/* the same choice as main()'s log_target */
	const char *target = c->error_log ? c->error_log : (o->error_log ? o->error_log : "stderr");
	if (log_open(target, c->error_log_level, err, sizeof(err)) != 0) {
		log_msg(LOGL_EMERG, 0, "%s", err);
		return -1;
	}
	return 0;
}

static void apply_rlimit(const struct conf *c)
{
	if (c->worker_rlimit_nofile > 0) {
		struct rlimit rl = { (rlim_t)c->worker_rlimit_nofile, (rlim_t)c->worker_rlimit_nofile };
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
			log_msg(LOGL_ALERT, 0, "setrlimit(RLIMIT_NOFILE, %ld) failed (%d: %s)",
				c->worker_rlimit_nofile, errno, strerror(errno));
		}
	}
}

/* ---- TLS contexts, built per server from its ssl_* directives ---- */

static bool server_needs_tls(const struct conf *c, const struct conf_server *srv)
{
	if (srv->ssl.ssl_on || srv->ssl.starttls != STARTTLS_OFF || srv->ssl.ncerts > 0) {
		return true;
	}
	for (size_t i = 0; i < c->nlistens; i++) {
		if (c->listens[i]->server == srv && c->listens[i]->ssl) {
			return true;
		}
	}
	return false;
}

static void tls_teardown(struct conf *c)
{
	for (size_t i = 0; c != NULL && i < c->nservers; i++) {
		/* contexts are reference-counted: sessions still using them keep them */
		tls_server_ctx_free(c->servers[i]->tls);
		c->servers[i]->tls = NULL;
		tls_client_ctx_free(c->servers[i]->proxy_tls);
		c->servers[i]->proxy_tls = NULL;
	}
}

/* Certificates and keys are loaded here, so that `-t` reports a missing,
 * broken or mismatched one with the file and line of its directive. */
static int tls_setup(struct conf *c, char *err, size_t errcap)
{
	for (size_t i = 0; i < c->nservers; i++) {
		struct conf_server *srv = c->servers[i];
		if (server_needs_tls(c, srv)) {
			srv->tls = tls_server_ctx_new(srv, err, errcap, conf_notice);
			if (srv->tls == NULL) {
				tls_teardown(c);
				return -1;
			}
		}
		if (srv->proxy_ssl.mode != 0) {
			srv->proxy_tls = tls_client_ctx_new(srv, err, errcap);
			if (srv->proxy_tls == NULL) {
				tls_teardown(c);
				return -1;
			}
		}
	}
	return 0;
}

static void conf_release(struct conf *c)
{
	tls_teardown(c);
	conf_free(c);
}

/* ---- reload ---- */

#define OLD_CONFS_MAX 16

static struct conf *old_confs[OLD_CONFS_MAX];

static struct conf *reload(struct conf *cur, const struct conf_opts *co)
{
	char err[1024];
	log_msg(LOGL_NOTICE, 0, "reconfiguring");
	struct conf *next = conf_load(co, err, sizeof(err), conf_notice);
	if (next != NULL && tls_setup(next, err, sizeof(err)) != 0) {
		conf_free(next);
		next = NULL;
	}
	if (next == NULL) {
		log_msg(LOGL_EMERG, 0, "%s", err);
		log_msg(LOGL_NOTICE, 0, "reload failed, keeping the old configuration");
		return cur;
	}
	session_stop_listening();
	if (session_listen_all(next) != 0) {
		log_msg(LOGL_EMERG, 0, "cannot listen with the new configuration, keeping the old one");
		session_stop_listening();
		conf_release(next);
		if (session_listen_all(cur) != 0) {
			log_msg(LOGL_ALERT, 0, "cannot listen with the old configuration either");
		}
		return cur;
	}
	/* sessions still point into the old configuration: keep it while we run */
	for (size_t i = 0; i < OLD_CONFS_MAX; i++) {
		if (old_confs[i] == NULL) {
			old_confs[i] = cur;
			cur = NULL;
			break;
		}
	}
	if (cur != NULL && session_count() == 0) {
		conf_release(cur);
	}
	log_msg(LOGL_NOTICE, 0, "configuration reloaded");
	return next;
}

int main(int argc, char **argv)
{
	struct options o;
	memset(&o, 0, sizeof(o));
	if (parse_args(argc, argv, &o) != 0) {
		return 1;
	}
	if (o.help) {
		show_version(false);
		fputs(usage_text, stderr);
		return 0;
	}
	if (o.version) {
		show_version(o.version_full);
		if (!o.test) {
			return 0;
		}
	}
	if (o.hash) {
		return hash_password();
	}
	char err[1024];
	if (o.error_log != NULL && log_open(o.error_log, 0, err, sizeof(err)) != 0) {
		fprintf(stderr, "mproxy: [alert] %s\n", err);
		return 1;
	}
	quiet_notices = o.quiet;

	char conf_path[4096];
	const char *prefix = o.prefix ? o.prefix : MP_PREFIX;
	if (o.conf_file == NULL) {
		snprintf(conf_path, sizeof(conf_path), "%s%s%s", prefix,
			 prefix[strlen(prefix) - 1] == '/' ? "" : "/", MP_CONF_PATH);
		o.conf_file = conf_path;
	}
	struct conf_opts co = { .conf_file = o.conf_file, .prefix = o.prefix, .directives = o.directives };
	/* during -t the loader's messages go to stderr with nginx's prefix */
	struct conf *c = conf_load(&co, err, sizeof(err), conf_notice);
	if (c != NULL && tls_setup(c, err, sizeof(err)) != 0) {
		conf_free(c);
		c = NULL;
	}
	if (c == NULL) {
		fprintf(stderr, "mproxy: [emerg] %s\n", err);
		if (o.error_log != NULL && strcmp(o.error_log, "stderr") != 0) {
			log_msg(LOGL_EMERG, 0, "%s", err);
		}
		if (o.test) {
			fprintf(stderr, "mproxy: configuration file %s test failed\n", o.conf_file);
		}
		return 1;
	}
	if (o.test) {
		if (!o.quiet) {
			fprintf(stderr, "mproxy: the configuration file %s syntax is ok\n", c->conf_file);
			fprintf(stderr, "mproxy: configuration file %s test is successful\n", c->conf_file);
		}
		if (o.dump) {
			fflush(stderr);
			conf_dump(c, STDOUT_FILENO);
		}
		conf_release(c);
		return 0;
	}
	if (o.signal != NULL) {
		int r = send_signal(c, o.signal);
		conf_release(c);
		return r;
	}

	if (open_conf_log(c, &o) != 0 || loop_init() != 0 || setup_signals() != 0) {
		conf_release(c);
		return 1;
	}
	log_ready = true;
	apply_rlimit(c);
	if (session_listen_all(c) != 0 || drop_privileges(c) != 0) {
		conf_release(c);
		return 1;
	}
	const char *log_target = c->error_log ? c->error_log : (o.error_log ? o.error_log : "stderr");
	bool log_is_stderr = strcmp(log_target, "stderr") == 0;
	if (c->daemon && daemonize(log_is_stderr) != 0) {
		return 1;
	}
	const char *pidfile = c->pid_file ? strdup(c->pid_file) : NULL;
	if (pidfile != NULL && write_pid(pidfile) != 0) {
		return 1;
	}
	log_msg(LOGL_NOTICE, 0, "mproxy/%s started, %zu listening sockets, %s", MP_VERSION, c->nlistens,
		loop_backend_name());

	bool quitting = false;
	for (;;) {
		if (loop_run_once(quitting ? 1000 : -1) != 0) {
			log_msg(LOGL_ALERT, 0, "event loop failed (%d: %s)", errno, strerror(errno));
			break;
		}
		session_reap();
		if (take_signal(SIGTERM) || take_signal(SIGINT)) {
			log_msg(LOGL_NOTICE, 0, "exiting");
			break;
		}
		if (take_signal(SIGQUIT) && !quitting) {
			log_msg(LOGL_NOTICE, 0, "gracefully shutting down");
			session_stop_listening();
			quitting = true;
		}
		if (take_signal(SIGUSR1)) {
			log_msg(LOGL_NOTICE, 0, "reopening logs");
			log_reopen();
		}
		if (take_signal(SIGHUP) && !quitting) {
			c = reload(c, &co);
		}
		if (quitting && session_count() == 0) {
			log_msg(LOGL_NOTICE, 0, "exiting");
			break;
		}
	}
	session_stop_listening();
	session_close_all("shutting down");
	session_free_all();
	resolver_shutdown();
	if (pidfile != NULL) {
		unlink(pidfile);
		free((void *)pidfile);
	}
	for (size_t i = 0; i < OLD_CONFS_MAX; i++) {
		conf_release(old_confs[i]);
	}
	conf_release(c);
	buf_trim();
	return 0;
}
