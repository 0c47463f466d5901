/*
 * A tiny unit-test kit. Each test file defines tests with TEST(name) { ... }
 * and checks with CHECK(...). Tests register themselves; main.c runs them all
 * (or those whose name contains argv[1]) and prints "N passed, M failed".
 *
 * For parsers, t_guarded() copies input to the very end of a page followed by
 * an unreadable page, so any over-read crashes at once (picohttpparser's trick).
 */
#ifndef MP_T_H
#define MP_T_H

#include <stddef.h>
#include <stdio.h>
#include <string.h>

struct t_case {
	const char *name;
	void (*fn)(void);
	struct t_case *next;
};

void t_register(struct t_case *c);
void t_fail(const char *file, int line, const char *what);
/* Copy n bytes so that they end exactly at an unreadable page. The pointer
 * stays valid until the next t_guarded() call. */
const char *t_guarded(const void *p, size_t n);

#define TEST(name)                                                          \
	static void name(void);                                             \
	static struct t_case name##_case = { #name, name, NULL };          \
	__attribute__((constructor)) static void name##_reg(void)           \
	{                                                                   \
		t_register(&name##_case);                                   \
	}                                                                   \
	static void name(void)

#define CHECK(cond)                                        \
	do {                                               \
		if (!(cond)) {                             \
			t_fail(__FILE__, __LINE__, #cond); \
		}                                          \
	} while (0)

#define CHECK_STR(got, want)                                                  \
	do {                                                                  \
		const char *g_ = (got), *w_ = (want);                         \
		if (g_ == NULL || strcmp(g_, w_) != 0) {                      \
			char m_[1024];                                        \
			snprintf(m_, sizeof(m_), "%s: got \"%s\" want \"%s\"", \
				 #got, g_ ? g_ : "(null)", w_);               \
			t_fail(__FILE__, __LINE__, m_);                       \
		}                                                             \
	} while (0)

#define CHECK_MEM(got, gotlen, want)                                              \
	do {                                                                      \
		const char *w_ = (want);                                          \
		size_t gl_ = (gotlen);                                            \
		if (gl_ != strlen(w_) || memcmp((got), w_, gl_) != 0) {           \
			char m_[1024];                                            \
			snprintf(m_, sizeof(m_), "%s: got \"%.*s\" want \"%s\"",  \
				 #got, (int)(gl_ > 400 ? 400 : gl_), (const char *)(got), w_); \
			t_fail(__FILE__, __LINE__, m_);                           \
		}                                                                 \
	} while (0)

#define CHECK_INT(got, want)                                                     \
	do {                                                                     \
		long long g_ = (long long)(got), w_ = (long long)(want);         \
		if (g_ != w_) {                                                  \
			char m_[256];                                            \
			snprintf(m_, sizeof(m_), "%s: got %lld want %lld", #got, \
				 g_, w_);                                        \
			t_fail(__FILE__, __LINE__, m_);                          \
		}                                                                \
	} while (0)

#endif
