/* Things every module of mproxy shares: outcome codes, small macros. */
#ifndef MP_COMMON_H
#define MP_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Named outcomes. Parsers and helpers return these, never bare -1/-2. */
enum mp_status {
	MP_OK = 0,      /* done, output valid */
	MP_AGAIN = 1,   /* need more input (or the operation would block) */
	MP_INVALID = 2, /* input is malformed: a protocol error, not a crash */
	MP_TOOLONG = 3, /* input exceeds a named limit */
	MP_ERR = 4,     /* system or internal error */
};

#define MP_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MP_MIN(a, b) ((a) < (b) ? (a) : (b))
#define MP_MAX(a, b) ((a) > (b) ? (a) : (b))
#define MP_CONTAINER_OF(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#define MP_VERSION "0.1.0"

#endif
