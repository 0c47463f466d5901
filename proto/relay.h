/* The relay: after login, bytes flow both ways untouched, with back-pressure. */
#ifndef MP_RELAY_H
#define MP_RELAY_H

#include "../core/io.h"

struct session;

/* Move what `from` has to `to` until `from` has nothing more now or `to`
 * cannot take more (then reading `from` pauses until `to` drains). */
void relay_pump(struct session *s, struct io *from, struct io *to);

#endif
