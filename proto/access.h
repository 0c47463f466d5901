/* Who is the client: allow/deny and set_real_ip_from matching. Pure. */
#ifndef MP_ACCESS_H
#define MP_ACCESS_H

#include "../conf/conf.h"

/* Does addr fall in rule (address/CIDR, unix:, or all)? IPv4-mapped IPv6
 * addresses match IPv4 rules, as nginx's access module does. */
bool access_cidr_match(const struct conf_cidr *rule, const struct mp_addr *addr);
/* allow/deny: first match wins; no match allows (nginx's access module). */
bool access_allowed(const struct conf_cidrlist *rules, const struct mp_addr *addr);
/* set_real_ip_from: is this peer trusted to tell us the client's address? */
bool access_trusted(const struct conf_cidrlist *from, const struct mp_addr *addr);

#endif
