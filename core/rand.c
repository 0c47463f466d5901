#include "rand.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

enum mp_status rand_bytes(void *dst, size_t n)
{
	unsigned char *p = dst;
	while (n > 0) {
		ssize_t r = getrandom(p, n, 0);
		if (r < 0) {
			if (errno == EINTR) {
				continue;
			}
			break;
		}
		p += r;
		n -= (size_t)r;
	}
	if (n == 0) {
		return MP_OK;
	}
	/* old kernels without getrandom(2) */
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return MP_ERR;
	}
	while (n > 0) {
		ssize_t r = read(fd, p, n);
		if (r <= 0) {
			close(fd);
			return MP_ERR;
		}
		p += r;
		n -= (size_t)r;
	}
	close(fd);
	return MP_OK;
}
