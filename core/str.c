#include "str.h"

#include <string.h>

static int lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

bool str_eq_nocase(struct mp_str s, const char *lit)
{
	size_t n = strlen(lit);
	if (n != s.n) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (lower((unsigned char)s.p[i]) != lower((unsigned char)lit[i])) {
			return false;
		}
	}
	return true;
}

bool str_has_prefix_nocase(struct mp_str s, const char *lit)
{
	size_t n = strlen(lit);
	if (n > s.n) {
		return false;
	}
	return str_eq_nocase((struct mp_str){ s.p, n }, lit);
}

enum mp_status str_to_u64(struct mp_str s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	if (s.n == 0) {
		return MP_INVALID;
	}
	for (size_t i = 0; i < s.n; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if (c < '0' || c > '9') {
			return MP_INVALID;
		}
		if (v > (max - (c - '0')) / 10) {
			return MP_TOOLONG;
		}
		v = v * 10 + (c - '0');
	}
	*out = v;
	return MP_OK;
}

enum mp_status str_copy(char *dst, size_t cap, struct mp_str s)
{
	if (cap == 0 || s.n >= cap) {
		return MP_TOOLONG;
	}
	memcpy(dst, s.p, s.n);
	dst[s.n] = '\0';
	return MP_OK;
}

bool str_has_ctl_crlfnul(struct mp_str s)
{
	for (size_t i = 0; i < s.n; i++) {
		if (s.p[i] == '\r' || s.p[i] == '\n' || s.p[i] == '\0') {
			return true;
		}
	}
	return false;
}
