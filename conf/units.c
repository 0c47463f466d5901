/*
 * Numbers with units, exactly as nginx reads them (src/core/ngx_parse.c,
 * ngx_atoi/ngx_atosz/ngx_atoof). Limits are the 64-bit nginx ones on every
 * platform, except sizes, which stay within ptrdiff_t.
 */
#include "conf_int.h"

static enum mp_status atoi_max(const char *p, size_t n, int64_t max, int64_t *out)
{
	int64_t v = 0;
	if (n == 0) {
		return MP_INVALID;
	}
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9') {
			return MP_INVALID;
		}
		int d = p[i] - '0';
		if (v > (max - d) / 10) {
			return MP_INVALID;
		}
		v = v * 10 + d;
	}
	*out = v;
	return MP_OK;
}

enum mp_status conf_atoi(struct mp_str s, int64_t *out)
{
	return atoi_max(s.p, s.n, INT64_MAX, out);
}

static enum mp_status parse_scaled(struct mp_str s, int64_t limit, bool giga, int64_t *out)
{
	size_t len = s.n;
	int64_t scale = 1;
	if (len == 0) {
		return MP_INVALID;
	}
	switch (s.p[len - 1]) {
	case 'K':
	case 'k':
		len--;
		scale = 1024;
		break;
	case 'M':
	case 'm':
		len--;
		scale = 1024 * 1024;
		break;
	case 'G':
	case 'g':
		if (giga) {
			len--;
			scale = 1024 * 1024 * 1024;
		}
		break;
	default:
		break;
	}
	int64_t v;
	if (atoi_max(s.p, len, limit, &v) != MP_OK || v > limit / scale) {
		return MP_INVALID;
	}
	*out = v * scale;
	return MP_OK;
}

enum mp_status conf_parse_size(struct mp_str s, int64_t *out)
{
	return parse_scaled(s, (int64_t)PTRDIFF_MAX, false, out);
}

enum mp_status conf_parse_offset(struct mp_str s, int64_t *out)
{
	return parse_scaled(s, INT64_MAX, true, out);
}

enum time_step {
	ST_START = 0,
	ST_YEAR,
	ST_MONTH,
	ST_WEEK,
	ST_DAY,
	ST_HOUR,
	ST_MIN,
	ST_SEC,
	ST_MSEC,
	ST_LAST,
};

enum mp_status conf_parse_time(struct mp_str s, bool is_sec, int64_t *out)
{
	const int64_t maxv = INT64_MAX;
	int64_t value = 0, total = 0, scale, max;
	bool valid = false;
	enum time_step step = is_sec ? ST_START : ST_MONTH;
	const char *p = s.p, *last = s.p + s.n;

	while (p < last) {
		if (*p >= '0' && *p <= '9') {
			int d = *p++ - '0';
			if (value > (maxv - d) / 10) {
				return MP_INVALID;
			}
			value = value * 10 + d;
			valid = true;
			continue;
		}

		switch (*p++) {
		case 'y':
			if (step > ST_START) {
				return MP_INVALID;
			}
			step = ST_YEAR;
			scale = 60 * 60 * 24 * 365;
			break;
		case 'M':
			if (step >= ST_MONTH) {
				return MP_INVALID;
			}
			step = ST_MONTH;
			scale = 60 * 60 * 24 * 30;
			break;
		case 'w':
			if (step >= ST_WEEK) {
				return MP_INVALID;
			}
			step = ST_WEEK;
			scale = 60 * 60 * 24 * 7;
			break;
		case 'd':
			if (step >= ST_DAY) {
				return MP_INVALID;
			}
			step = ST_DAY;
			scale = 60 * 60 * 24;
			break;
		case 'h':
			if (step >= ST_HOUR) {
				return MP_INVALID;
			}
			step = ST_HOUR;
			scale = 60 * 60;
			break;
		case 'm':
			if (p < last && *p == 's') {
				if (is_sec || step >= ST_MSEC) {
					return MP_INVALID;
				}
				p++;
				step = ST_MSEC;
				scale = 1;
				break;
			}
			if (step >= ST_MIN) {
				return MP_INVALID;
			}
			step = ST_MIN;
			scale = 60;
			break;
		case 's':
			if (step >= ST_SEC) {
				return MP_INVALID;
			}
			step = ST_SEC;
			scale = 1;
			break;
		case ' ':
			/* a bare number followed by a space counts as seconds */
			if (step >= ST_SEC) {
				return MP_INVALID;
			}
			step = ST_LAST;
			scale = 1;
			break;
		default:
			return MP_INVALID;
		}

		if (step != ST_MSEC && !is_sec) {
			scale *= 1000;
		}
		max = maxv / scale;
		if (value > max) {
			return MP_INVALID;
		}
		value *= scale;
		if (total > maxv - value) {
			return MP_INVALID;
		}
		total += value;
		value = 0;
		while (p < last && *p == ' ') {
			p++;
		}
	}

	if (!valid) {
		return MP_INVALID;
	}
	if (!is_sec) {
		if (value > maxv / 1000) {
			return MP_INVALID;
		}
		value *= 1000;
	}
	if (total > maxv - value) {
		return MP_INVALID;
	}
	*out = total + value;
	return MP_OK;
}
