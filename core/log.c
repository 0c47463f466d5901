/*
 * The error log. Lines look like nginx's:
 *   2026/11/21 10:00:00 [info] 123#0: *5 client 127.0.0.1:5555 connected to 0.0.0.0:143
 * Targets: a file (O_APPEND), stderr, or syslog over UDP (RFC 3164 framing, as
 * nginx's "syslog:server=..."). Writes are single write(2)/send(2) calls on a
 * non-blocking descriptor: a full pipe or socket drops the line rather than
 * stalling every session.
 */
#include "log.h"

#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 2048
#define LOG_PATH_MAX 1024

static const char *const level_names[] = {
	"", "emerg", "alert", "crit", "error", "warn", "notice", "info", "debug",
};

static struct {
	int fd;           /* -1: stderr */
	int level;
	bool syslog;
	bool is_file;
	char path[LOG_PATH_MAX];
	struct mp_addr syslog_addr;
	char syslog_tag[32];
	int syslog_facility;
} lg = { .fd = -1, .level = LOGL_NOTICE, .syslog_facility = 23 /* local7 */ };

int log_level_parse(const char *name)
{
	for (int i = 1; i < (int)MP_ARRAY_LEN(level_names); i++) {
		if (strcmp(name, level_names[i]) == 0) {
			return i;
		}
	}
	return 0;
}

const char *log_level_name(int level)
{
	if (level < 1 || level >= (int)MP_ARRAY_LEN(level_names)) {
		return "unknown";
	}
	return level_names[level];
}

int log_get_level(void)
{
	return lg.level;
}

static int open_file(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0644);
}

/* "syslog:server=127.0.0.1:514,tag=mproxy,facility=local7,severity=info,nohostname" */
static int parse_syslog(const char *spec, char *err, size_t errcap)
{
	const char *p = spec + strlen("syslog:");
	bool have_server = false;
	snprintf(lg.syslog_tag, sizeof(lg.syslog_tag), "mproxy");
	while (*p != '\0') {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (n > 7 && strncmp(p, "server=", 7) == 0) {
			const char *v = p + 7;
			size_t vn = n - 7;
			if (net_parse_addr_port(v, vn, &lg.syslog_addr) != MP_OK) {
				char tmp[300];
				snprintf(tmp, sizeof(tmp), "%.*s:514", (int)MP_MIN(vn, 200), v);
				if (net_parse_addr_port(tmp, strlen(tmp), &lg.syslog_addr) != MP_OK) {
					snprintf(err, errcap, "invalid syslog server \"%.*s\"", (int)MP_MIN(vn, 200), v);
					return -1;
				}
			}
			have_server = true;
		} else if (n > 4 && strncmp(p, "tag=", 4) == 0) {
			snprintf(lg.syslog_tag, sizeof(lg.syslog_tag), "%.*s", (int)(n - 4), p + 4);
		}
		/* facility=, severity=, nohostname: accepted; local7 as nginx's default */
		p += n;
		if (*p == ',') {
			p++;
		}
	}
	if (!have_server) {
		snprintf(err, errcap, "no server specified in \"%s\"", spec);
		return -1;
	}
	return 0;
}

int log_open(const char *target, int level, char *err, size_t errcap)
{
	int fd = -1;
	bool is_syslog = strncmp(target, "syslog:", 7) == 0;
	if (level > 0) {
		lg.level = level;
	}
	if (is_syslog) {
		if (parse_syslog(target, err, errcap) != 0) {
			return -1;
		}
		fd = socket(lg.syslog_addr.u.sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, &lg.syslog_addr.u.sa, lg.syslog_addr.len) != 0) {
			snprintf(err, errcap, "socket() for syslog failed (%d: %s)", errno, strerror(errno));
			if (fd >= 0) {
				close(fd);
			}
			return -1;
		}
	} else if (strcmp(target, "stderr") != 0) {
		fd = open_file(target);
		if (fd < 0) {
			snprintf(err, errcap, "open() \"%s\" failed (%d: %s)", target, errno, strerror(errno));
			return -1;
		}
	}
	if (lg.fd >= 0) {
		close(lg.fd);
	}
	lg.fd = fd;
	lg.syslog = is_syslog;
	lg.is_file = fd >= 0 && !is_syslog;
	snprintf(lg.path, sizeof(lg.path), "%s", target);
	return 0;
}

void log_reopen(void)
{
	if (!lg.is_file) {
		return;
	}
	int fd = open_file(lg.path);
	if (fd < 0) {
		log_msg(LOGL_ALERT, 0, "open() \"%s\" failed (%d: %s)", lg.path, errno, strerror(errno));
		return;
	}
	close(lg.fd);
	lg.fd = fd;
}

void log_vmsg(int level, uint64_t sid, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	size_t n = 0;
	if (level > lg.level) {
		return;
	}
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	if (lg.syslog) {
		static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
						   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
		/* severity: nginx maps emerg..debug to syslog 0..7 */
		int pri = lg.syslog_facility * 8 + (level - 1);
		n = (size_t)snprintf(line, sizeof(line), "<%d>%s %2d %02d:%02d:%02d mproxy %s: ", pri,
				     mon[tm.tm_mon], tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
				     lg.syslog_tag);
	} else {
		n = (size_t)snprintf(line, sizeof(line), "%04d/%02d/%02d %02d:%02d:%02d ",
				     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
				     tm.tm_min, tm.tm_sec);
	}
	n += (size_t)snprintf(line + n, sizeof(line) - n, "[%s] %d#0: ", log_level_name(level),
			      (int)getpid());
	if (sid != 0 && n < sizeof(line)) {
		n += (size_t)snprintf(line + n, sizeof(line) - n, "*%llu ", (unsigned long long)sid);
	}
	if (n < sizeof(line)) {
		int r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		if (r > 0) {
			n += (size_t)r;
		}
	}
	if (n >= sizeof(line) - 1) {
		n = sizeof(line) - 2; /* truncated: keep the newline */
	}
	if (!lg.syslog) {
		line[n++] = '\n';
	}
	int fd = lg.fd >= 0 ? lg.fd : STDERR_FILENO;
	ssize_t w = lg.syslog ? send(fd, line, n, MSG_DONTWAIT) : write(fd, line, n);
	(void)w; /* a log line that cannot be written now is dropped, never retried */
}

void log_msg(int level, uint64_t sid, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, sid, fmt, ap);
	va_end(ap);
}
