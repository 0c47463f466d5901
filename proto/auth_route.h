/*
 * Which auth_backend entry a login belongs to (the built-in authenticator).
 * Pure: no I/O, no allocation.
 */
#ifndef MP_AUTH_ROUTE_H
#define MP_AUTH_ROUTE_H

#include "../conf/conf.h"
#include "../core/str.h"

/*
 * The entry for login among v[0..n):
 *   1. an exact match of the whole login (ASCII case-insensitive: mail
 *      systems treat logins case-insensitively, and two entries differing
 *      only in case would be a configuration mistake anyway);
 *   2. else "*@domain" where domain equals the part after the login's last
 *      '@' (case-insensitive, RFC 5321 §2.4; a login without '@' or with
 *      nothing after it matches no domain entry);
 *   3. else "*".
 * Within a class the first entry in configuration order wins. An entry
 * starting with '*' is only ever a pattern, never an exact match, and a
 * malformed pattern ("*x", "*@") matches nothing. NULL when nothing matches.
 */
const struct conf_auth_backend *auth_route_match(const struct conf_auth_backend *v,
						 size_t n, struct mp_str login);

#endif
