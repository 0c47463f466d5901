/* Unpredictable bytes from the kernel (getrandom(2), else /dev/urandom). */
#ifndef MP_RAND_H
#define MP_RAND_H

#include "common.h"

/* MP_OK or MP_ERR (no source of randomness at all). */
enum mp_status rand_bytes(void *dst, size_t n);

#endif
