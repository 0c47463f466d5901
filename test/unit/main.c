/* Runs every registered unit test; prints "N passed, M failed". */
#include "t.h"

#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static struct t_case *cases;
static int failures_in_case;

void t_register(struct t_case *c)
{
	/* constructors run in link order; prepend then reverse at run time */
	c->next = cases;
	cases = c;
}

void t_fail(const char *file, int line, const char *what)
{
	failures_in_case++;
	if (failures_in_case <= 5) {
		fprintf(stderr, "    %s:%d: check failed: %s\n", file, line, what);
	}
}

const char *t_guarded(const void *p, size_t n)
{
	static char *region;
	static size_t region_pages;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t need = (n + page - 1) / page + 1;
	if (need > region_pages) {
		if (region != NULL) {
			munmap(region, region_pages * page);
		}
		region = mmap(NULL, need * page, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (region == MAP_FAILED) {
			abort();
		}
		region_pages = need;
		mprotect(region + (need - 1) * page, page, PROT_NONE);
	}
	char *end = region + (region_pages - 1) * page;
	memcpy(end - n, p, n);
	return end - n;
}

int main(int argc, char **argv)
{
	struct t_case *rev = NULL;
	while (cases != NULL) {
		struct t_case *next = cases->next;
		cases->next = rev;
		rev = cases;
		cases = next;
	}
	int passed = 0, failed = 0;
	for (struct t_case *c = rev; c != NULL; c = c->next) {
		if (argc > 1 && strstr(c->name, argv[1]) == NULL) {
			continue;
		}
		failures_in_case = 0;
		c->fn();
		if (failures_in_case == 0) {
			passed++;
			if (getenv("T_VERBOSE") != NULL) {
				printf("ok   %s\n", c->name);
			}
		} else {
			failed++;
			printf("FAIL %s\n", c->name);
		}
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
