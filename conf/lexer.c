/*
 * nginx's configuration tokenizer (ngx_conf_read_token), state for state,
 * over a buffer that holds the whole file. The quirks are kept on purpose:
 * "#" starts a comment only at the start of a word; "}" ends a block only at
 * the start of a word ("a}" is one word); a quoted word must be followed by
 * space, ";", "{" or ")"; "${" inside a word does not open a block; in
 * words, \" \' \\ \t \r \n are unescaped and any other \x is kept as is.
 *
 * The one addition: a NUL byte outside a comment is an error, because every
 * word becomes a C string.
 */
#include "conf_int.h"

#include <stdio.h>
#include <string.h>

static bool is_space(unsigned char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* "%c" for messages: the character, or \xHH when it is not printable. */
static const char *char_text(unsigned char ch, char buf[8])
{
	if (ch > 0x20 && ch < 0x7f) {
		buf[0] = (char)ch;
		buf[1] = '\0';
	} else {
		snprintf(buf, 8, "\\x%02X", ch);
	}
	return buf;
}

/* Copy [start, stop) unescaped into the arena as the next word. */
static bool push_word(struct conf_arena *a, struct conf_args *args, const char *start,
		      const char *stop)
{
	size_t raw = (size_t)(stop - start);
	char *dst = conf_arena_alloc(a, raw + 1);
	if (dst == NULL) {
		return false;
	}
	size_t len = 0;
	const char *src = start;
	while (src < stop) {
		if (*src == '\\' && src + 1 < stop) {
			switch (src[1]) {
			case '"':
			case '\'':
			case '\\':
				src++;
				break;
			case 't':
				dst[len++] = '\t';
				src += 2;
				continue;
			case 'r':
				dst[len++] = '\r';
				src += 2;
				continue;
			case 'n':
				dst[len++] = '\n';
				src += 2;
				continue;
			default:
				break;
			}
		}
		dst[len++] = *src++;
	}
	dst[len] = '\0';
	args->v[args->n].p = dst;
	args->v[args->n].n = len;
	args->n++;
	return true;
}

enum conf_tok conf_lex(struct conf_lexer *lx, struct conf_arena *a,
		       struct conf_args *args, char *msg, size_t msgcap)
{
	bool found = false, need_space = false, last_space = true;
	bool sharp_comment = false, variable = false;
	bool quoted = false, s_quoted = false, d_quoted = false;
	const char *start = lx->p;
	unsigned start_line = lx->line;
	char cb[8];

	args->n = 0;

	for (;;) {
		if (lx->p >= lx->end) {
			if (args->n > 0 || !last_space) {
				snprintf(msg, msgcap, "%s",
					 lx->param ? "unexpected end of parameter, expecting \";\""
						   : "unexpected end of file, expecting \";\" or \"}\"");
				return CONF_TOK_ERROR;
			}
			return CONF_TOK_FILE_DONE;
		}

		/* a word (with its closing quote) that reaches CONF_TOKEN_MAX bytes:
		 * nginx's read buffer is full */
		if (!last_space && (size_t)(lx->p - start) >= CONF_TOKEN_MAX) {
			lx->line = start_line;
			if (d_quoted || s_quoted) {
				snprintf(msg, msgcap,
					 "too long parameter, probably missing terminating \"%c\" character",
					 d_quoted ? '"' : '\'');
			} else {
				snprintf(msg, msgcap, "too long parameter \"%.10s...\" started", start);
			}
			return CONF_TOK_ERROR;
		}

		unsigned char ch = (unsigned char)*lx->p++;

		if (ch == '\n') {
			lx->line++;
			sharp_comment = false;
		}

		if (sharp_comment) {
			continue;
		}

		if (ch == '\0') {
			snprintf(msg, msgcap, "unexpected NUL character");
			return CONF_TOK_ERROR;
		}

		if (quoted) {
			quoted = false;
			continue;
		}

		if (need_space) {
			if (is_space(ch)) {
				last_space = true;
				need_space = false;
				continue;
			}
			if (ch == ';') {
				return CONF_TOK_END;
			}
			if (ch == '{') {
				return CONF_TOK_BLOCK_START;
			}
			if (ch == ')') {
				last_space = true;
				need_space = false;
			} else {
				snprintf(msg, msgcap, "unexpected \"%s\"", char_text(ch, cb));
				return CONF_TOK_ERROR;
			}
		}

		if (last_space) {
			start = lx->p - 1;
			start_line = lx->line;

			if (is_space(ch)) {
				continue;
			}

			switch (ch) {
			case ';':
			case '{':
				if (args->n == 0) {
					snprintf(msg, msgcap, "unexpected \"%c\"", ch);
					return CONF_TOK_ERROR;
				}
				return ch == '{' ? CONF_TOK_BLOCK_START : CONF_TOK_END;
			case '}':
				if (args->n != 0) {
					snprintf(msg, msgcap, "unexpected \"}\"");
					return CONF_TOK_ERROR;
				}
				return CONF_TOK_BLOCK_DONE;
			case '#':
				sharp_comment = true;
				continue;
			case '\\':
				quoted = true;
				last_space = false;
				continue;
			case '"':
				start++;
				d_quoted = true;
				last_space = false;
				continue;
			case '\'':
				start++;
				s_quoted = true;
				last_space = false;
				continue;
			case '$':
				variable = true;
				last_space = false;
				continue;
			default:
				last_space = false;
			}
		} else {
			if (ch == '{' && variable) {
				continue;
			}
			variable = false;
			if (ch == '\\') {
				quoted = true;
				continue;
			}
			if (ch == '$') {
				variable = true;
				continue;
			}
			if (d_quoted) {
				if (ch == '"') {
					d_quoted = false;
					need_space = true;
					found = true;
				}
			} else if (s_quoted) {
				if (ch == '\'') {
					s_quoted = false;
					need_space = true;
					found = true;
				}
			} else if (is_space(ch) || ch == ';' || ch == '{') {
				last_space = true;
				found = true;
			}

			if (found) {
				if (args->n >= CONF_ARGS_MAX) {
					snprintf(msg, msgcap, "too many parameters in \"%s\" directive",
						 args->v[0].p);
					return CONF_TOK_ERROR;
				}
				if (!push_word(a, args, start, lx->p - 1)) {
					snprintf(msg, msgcap, "out of memory");
					return CONF_TOK_ERROR;
				}
				if (ch == ';') {
					return CONF_TOK_END;
				}
				if (ch == '{') {
					return CONF_TOK_BLOCK_START;
				}
				found = false;
			}
		}
	}
}
