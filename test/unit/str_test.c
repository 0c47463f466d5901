#include "t.h"

#include "../../core/str.h"

TEST(str_to_u64_bounds)
{
	uint64_t v = 0;
	CHECK_INT(str_to_u64(MP_STR_LIT("0"), 10, &v), MP_OK);
	CHECK_INT(v, 0);
	CHECK_INT(str_to_u64(MP_STR_LIT("10"), 10, &v), MP_OK);
	CHECK_INT(v, 10);
	CHECK_INT(str_to_u64(MP_STR_LIT("11"), 10, &v), MP_TOOLONG);
	CHECK_INT(str_to_u64(MP_STR_LIT(""), 10, &v), MP_INVALID);
	CHECK_INT(str_to_u64(MP_STR_LIT("1a"), 10, &v), MP_INVALID);
	CHECK_INT(str_to_u64(MP_STR_LIT("18446744073709551615"), UINT64_MAX, &v), MP_OK);
	CHECK(v == UINT64_MAX);
	CHECK_INT(str_to_u64(MP_STR_LIT("18446744073709551616"), UINT64_MAX, &v), MP_TOOLONG);
}

TEST(str_nocase)
{
	CHECK(str_eq_nocase(MP_STR_LIT("LoGiN"), "login"));
	CHECK(!str_eq_nocase(MP_STR_LIT("logins"), "login"));
	CHECK(str_has_prefix_nocase(MP_STR_LIT("AUTH=PLAIN"), "auth="));
	CHECK(!str_has_prefix_nocase(MP_STR_LIT("AU"), "auth="));
	CHECK(str_has_ctl_crlfnul((struct mp_str){ "a\0b", 3 }));
	CHECK(!str_has_ctl_crlfnul(MP_STR_LIT("a b")));
}
