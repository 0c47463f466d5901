#include "auth_route.h"

#include <string.h>

const struct conf_auth_backend *auth_route_match(const struct conf_auth_backend *v,
						 size_t n, struct mp_str login)
{
	const struct conf_auth_backend *domain = NULL, *any = NULL;
	struct mp_str dom = { NULL, 0 };

	for (size_t i = login.n; i > 0; i--) {
		if (login.p[i - 1] == '@') {
			dom = (struct mp_str){ login.p + i, login.n - i };
			break;
		}
	}
	for (size_t i = 0; i < n; i++) {
		const char *u = v[i].user;
		if (u == NULL) {
			continue;
		}
		if (u[0] != '*') {
			if (str_eq_nocase(login, u)) {
				return &v[i]; /* nothing beats an exact match */
			}
		} else if (u[1] == '\0') {
			if (any == NULL) {
				any = &v[i];
			}
		} else if (u[1] == '@' && u[2] != '\0') {
			if (domain == NULL && dom.n > 0 && str_eq_nocase(dom, u + 2)) {
				domain = &v[i];
			}
		}
	}
	return domain != NULL ? domain : any;
}
