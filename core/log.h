/* The error log: nginx's levels and line format, never blocking the loop. */
#ifndef MP_LOG_H
#define MP_LOG_H

#include "common.h"

#include <stdarg.h>

/* nginx's levels, most severe first (the numbers order them, nothing more). */
enum log_level {
	LOGL_EMERG = 1,
	LOGL_ALERT,
	LOGL_CRIT,
	LOGL_ERR,
	LOGL_WARN,
	LOGL_NOTICE,
	LOGL_INFO,
	LOGL_DEBUG,
};

/* "emerg" ... "debug" -> level; 0 when unknown. */
int log_level_parse(const char *name);
const char *log_level_name(int level);

/* Where lines go: "stderr", a file path, or "syslog:server=addr[,...]".
 * Returns 0 or -1 with a reason in errbuf. Replaces the current target. */
int log_open(const char *target, int level, char *errbuf, size_t errcap);
/* Reopen the current file target (SIGUSR1). */
void log_reopen(void);
int log_get_level(void);

/* One line: "2026/11/21 10:00:00 [info] 123#0: *5 text". sid 0 = no session. */
void log_msg(int level, uint64_t sid, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void log_vmsg(int level, uint64_t sid, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

#define log_error(...) log_msg(LOGL_ERR, 0, __VA_ARGS__)

#endif
