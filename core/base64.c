#include "base64.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

enum mp_status base64_encode(const uint8_t *in, size_t n, char *out, size_t cap, size_t *outlen)
{
	if (n > BASE64_INPUT_MAX || cap < BASE64_ENCODED_LEN(n)) {
		return MP_TOOLONG;
	}
	size_t o = 0, i = 0;
	for (; n - i >= 3; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = alphabet[v >> 18];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = alphabet[(v >> 6) & 63];
		out[o++] = alphabet[v & 63];
	}
	if (n - i > 0) {
		uint32_t v = (uint32_t)in[i] << 16 | (n - i == 2 ? (uint32_t)in[i + 1] << 8 : 0);
		out[o++] = alphabet[v >> 18];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = n - i == 2 ? alphabet[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	*outlen = o;
	return MP_OK;
}

/* 0..63, or -1 for anything else ('=' included). */
static int value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z') {
		return c - 'A';
	}
	if (c >= 'a' && c <= 'z') {
		return c - 'a' + 26;
	}
	if (c >= '0' && c <= '9') {
		return c - '0' + 52;
	}
	if (c == '+') {
		return 62;
	}
	if (c == '/') {
		return 63;
	}
	return -1;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* One quantum of four characters; `last` allows padding. Writes 1..3 bytes. */
static enum mp_status quantum(const char q[4], bool last, uint8_t *out, size_t cap, size_t *o)
{
	size_t pad = 0;
	if (last && q[3] == '=') {
		pad = q[2] == '=' ? 2 : 1;
	}
	size_t take = 4 - pad; /* significant characters */
	uint32_t v = 0;
	for (size_t k = 0; k < 4; k++) {
		int d = 0;
		if (k < take) {
			d = value((unsigned char)q[k]);
			if (d < 0) {
				return MP_INVALID;
			}
		}
		v = v << 6 | (uint32_t)d;
	}
	/* RFC 4648 §3.5: the bits the padding stands for must be zero */
	if ((pad == 1 && (v & 0xff) != 0) || (pad == 2 && (v & 0xffff) != 0)) {
		return MP_INVALID;
	}
	size_t bytes = take - 1; /* 4 -> 3, 3 -> 2, 2 -> 1 */
	if (*o + bytes > cap) {
		return MP_TOOLONG;
	}
	out[(*o)++] = (uint8_t)(v >> 16);
	if (bytes > 1) {
		out[(*o)++] = (uint8_t)(v >> 8);
	}
	if (bytes > 2) {
		out[(*o)++] = (uint8_t)v;
	}
	return MP_OK;
}

static enum mp_status decode(const char *in, size_t n, bool skip_space, uint8_t *out, size_t cap,
			     size_t *outlen)
{
	size_t significant = 0;
	for (size_t i = 0; i < n; i++) {
		if (skip_space && is_space(in[i])) {
			continue;
		}
		significant++;
	}
	if (significant % 4 != 0) {
		return MP_INVALID;
	}
	char q[4];
	size_t j = 0, seen = 0, o = 0;
	for (size_t i = 0; i < n; i++) {
		if (skip_space && is_space(in[i])) {
			continue;
		}
		q[j++] = in[i];
		seen++;
		if (j == 4) {
			enum mp_status st = quantum(q, seen == significant, out, cap, &o);
			if (st != MP_OK) {
				return st;
			}
			j = 0;
		}
	}
	*outlen = o;
	return MP_OK;
}

enum mp_status base64_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *outlen)
{
	return decode(in, n, false, out, cap, outlen);
}

enum mp_status base64_decode_lines(const char *in, size_t n, uint8_t *out, size_t cap,
				   size_t *outlen)
{
	return decode(in, n, true, out, cap, outlen);
}
