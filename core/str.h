/* Byte slices and the few string helpers parsers share. Pure, no allocation. */
#ifndef MP_STR_H
#define MP_STR_H

#include "common.h"

/* A slice of someone else's memory: never NUL-terminated, never owned. */
struct mp_str {
	const char *p;
	size_t n;
};

#define MP_STR_LIT(s) ((struct mp_str){ (s), sizeof(s) - 1 })

/* ASCII case-insensitive equality of a slice with a C string. */
bool str_eq_nocase(struct mp_str s, const char *lit);
/* ASCII case-insensitive prefix test. */
bool str_has_prefix_nocase(struct mp_str s, const char *lit);
/* Parse an unsigned decimal with overflow check; whole slice must be digits. */
enum mp_status str_to_u64(struct mp_str s, uint64_t max, uint64_t *out);
/* Copy into a bounded NUL-terminated buffer; MP_TOOLONG if it does not fit. */
enum mp_status str_copy(char *dst, size_t cap, struct mp_str s);
/* True when the slice contains CR, LF or NUL (must never cross into another protocol). */
bool str_has_ctl_crlfnul(struct mp_str s);

#endif
