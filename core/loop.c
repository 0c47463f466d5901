/* What both back-ends share: one turn of the loop. */
#include "loop.h"

int loop_init(void)
{
	loop_update_time();
	return loop_backend_init();
}

int loop_run_once(int max_ms)
{
	int t = timer_next_ms();
	if (max_ms >= 0 && (t < 0 || t > max_ms)) {
		t = max_ms;
	}
	int r = loop_backend_wait(t); /* updates the time before dispatching */
	timer_run_expired();
	return r;
}
