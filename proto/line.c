#include "line.h"

#include <string.h>

enum mp_status line_frame(const char *p, size_t n, size_t max, size_t *linelen,
			  size_t *consumed)
{
	size_t look = MP_MIN(n, max);
	const char *lf = look > 0 ? memchr(p, '\n', look) : NULL;

	if (lf == NULL) {
		return n < max ? MP_AGAIN : MP_TOOLONG;
	}
	size_t end = (size_t)(lf - p);
	size_t len = end;
	/* CRLF or bare LF: only the CR right before the LF belongs to the line end. */
	if (len > 0 && p[len - 1] == '\r') {
		len--;
	}
	*linelen = len;
	*consumed = end + 1;
	return MP_OK;
}
