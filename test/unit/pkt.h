/* A bounded byte-packet builder for tests that hand-craft wire messages
 * (DNS answers for the codec and the resolver). Writes past PKT_MAX are
 * dropped, so a builder bug shows up as a short packet, never an overflow.
 * Define PKT_MAX before including it to change the bound. */
#ifndef MP_TEST_PKT_H
#define MP_TEST_PKT_H

#include <stddef.h>
#include <stdint.h>

#ifndef PKT_MAX
#define PKT_MAX 8192
#endif

struct pkt {
	uint8_t b[PKT_MAX];
	size_t n;
};

static inline void p8(struct pkt *k, unsigned v)
{
	if (k->n < PKT_MAX) {
		k->b[k->n++] = (uint8_t)v;
	}
}

static inline void p16(struct pkt *k, unsigned v)
{
	p8(k, v >> 8);
	p8(k, v & 0xff);
}

static inline void p32(struct pkt *k, uint32_t v)
{
	p16(k, v >> 16);
	p16(k, v & 0xffff);
}

static inline void pbytes(struct pkt *k, const void *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		p8(k, ((const uint8_t *)p)[i]);
	}
}

#endif
