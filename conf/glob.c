/*
 * `include` with wildcards, without libc's glob(3): musl's glob and fnmatch
 * pull in the wide-character class tables (about 15 KB of a binary that
 * should fit on a router). Wildcards are allowed in the last path component
 * only, which is how include patterns are written (conf.d/ then a star and .conf).
 * Matches are sorted, and a leading '.' must be matched explicitly, as
 * glob(3) does.
 */
#include "conf_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* "[a-z]", "[!0-9]", "[^x]": p points after '['. Returns the position after
 * ']' and whether c matched, or NULL for an unterminated class (then '[' is
 * an ordinary character, as fnmatch does). */
static const char *match_class(const char *p, unsigned char c, bool *matched)
{
	bool neg = false, hit = false;
	if (*p == '!' || *p == '^') {
		neg = true;
		p++;
	}
	const char *start = p;
	while (*p != '\0' && (*p != ']' || p == start)) {
		unsigned char lo = (unsigned char)*p, hi = lo;
		if (p[1] == '-' && p[2] != '\0' && p[2] != ']') {
			hi = (unsigned char)p[2];
			p += 2;
		}
		if (c >= lo && c <= hi) {
			hit = true;
		}
		p++;
	}
	if (*p != ']') {
		return NULL;
	}
	*matched = hit != neg;
	return p + 1;
}

bool conf_glob_match(const char *pat, const char *name)
{
	/* iterative '*' with one backtrack point: linear in practice, never
	 * exponential on hostile patterns */
	const char *star_p = NULL, *star_n = NULL;
	if (name[0] == '.' && pat[0] != '.') {
		return false;
	}
	while (*name != '\0') {
		if (*pat == '*') {
			star_p = ++pat;
			star_n = name;
			continue;
		}
		if (*pat == '?') {
			pat++;
			name++;
			continue;
		}
		if (*pat == '[') {
			bool m = false;
			const char *next = match_class(pat + 1, (unsigned char)*name, &m);
			if (next != NULL) {
				if (m) {
					pat = next;
					name++;
					continue;
				}
				goto backtrack;
			}
		}
		if (*pat == '\\' && pat[1] != '\0') {
			pat++;
		}
		if (*pat != '\0' && *pat == *name) {
			pat++;
			name++;
			continue;
		}
	backtrack:
		if (star_p == NULL) {
			return false;
		}
		pat = star_p;
		name = ++star_n;
	}
	while (*pat == '*') {
		pat++;
	}
	return *pat == '\0';
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int conf_glob(const char *pattern, char ***out, size_t *n)
{
	const char *slash = strrchr(pattern, '/');
	size_t dlen = slash != NULL ? (size_t)(slash - pattern) : 0;
	const char *file = slash != NULL ? slash + 1 : pattern;
	char dir[4096];
	*out = NULL;
	*n = 0;
	if (dlen >= sizeof(dir) || strpbrk(file, "/") != NULL) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(dir, pattern, dlen);
	dir[dlen] = '\0';
	if (strpbrk(dir, "*?[") != NULL) {
		errno = EINVAL; /* wildcards in directory names: not supported */
		return -1;
	}
	DIR *d = opendir(dlen > 0 ? dir : (slash != NULL ? "/" : "."));
	if (d == NULL) {
		return errno == ENOENT ? 0 : -1;
	}
	char **v = NULL;
	size_t cnt = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (!conf_glob_match(file, e->d_name)) {
			continue;
		}
		if (cnt == CONF_FILES_MAX) {
			break; /* the include itself will report too many files */
		}
		if (cnt == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			char **nv = realloc(v, ncap * sizeof(*nv));
			if (nv == NULL) {
				goto oom;
			}
			v = nv;
			cap = ncap;
		}
		size_t len = dlen + 1 + strlen(e->d_name) + 1;
		v[cnt] = malloc(len);
		if (v[cnt] == NULL) {
			goto oom;
		}
		memcpy(v[cnt], pattern, dlen + (slash != NULL));
		strcpy(v[cnt] + dlen + (slash != NULL), e->d_name);
		cnt++;
	}
	closedir(d);
	if (cnt > 1) {
		qsort(v, cnt, sizeof(*v), by_name);
	}
	*out = v;
	*n = cnt;
	return 0;
oom:
	closedir(d);
	conf_glob_free(v, cnt);
	errno = ENOMEM;
	return -1;
}

void conf_glob_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i]);
	}
	free(v);
}
