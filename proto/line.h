/*
 * The line framer every line-based protocol shares (OpenSMTPD's shape: frame
 * a line, then parse it). Pure: it only looks at the bytes it is given and
 * hands back lengths, so a caller may keep the bytes where they are.
 */
#ifndef MP_LINE_H
#define MP_LINE_H

#include "../core/common.h"

/*
 * Find one line in p[0..n).
 *   MP_OK:      *linelen = bytes before the line end, *consumed = bytes
 *               including the line end. The line end is CRLF or a bare LF
 *               (nginx accepts bare LF from clients, and so do Postfix and
 *               Dovecot). A CR not followed by LF is kept as data: the
 *               protocol parser decides what it means (ours reject it).
 *   MP_AGAIN:   no line end yet and n < max.
 *   MP_TOOLONG: no line end within the first max bytes; max counts the line
 *               end, so "abc\r\n" needs max >= 5.
 * Never reads p[max] or beyond, nor p[n] or beyond. *linelen and *consumed
 * are written only on MP_OK.
 */
enum mp_status line_frame(const char *p, size_t n, size_t max, size_t *linelen,
			  size_t *consumed);

#endif
