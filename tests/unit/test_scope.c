/* test_scope.c - scope paths and who may write where. */
#include "check.h"
#include "scope.h"

int
main(void)
{
	char d[64];

	CHECK(scope_valid("gangzha", 0));
	CHECK(scope_valid("gangzha/qinzao/feiqiao", 0));
	CHECK(!scope_valid("gangzha/*", 0));
	CHECK(scope_valid("gangzha/*", 1));
	CHECK(!scope_valid("*", 1));
	CHECK(!scope_valid("gangzha//x", 0));
	CHECK(!scope_valid("gangzha/", 0));
	CHECK(!scope_valid("/gangzha", 0));
	CHECK(!scope_valid("Gangzha", 0));
	CHECK(!scope_valid("gang zha", 0));
	CHECK(!scope_valid("gangzha/*/x", 1));
	CHECK(!scope_valid("", 0));

	CHECK(scope_within("gangzha/qinzao/feiqiao", "gangzha/qinzao"));
	CHECK(scope_within("gangzha/qinzao", "gangzha/qinzao"));
	CHECK(!scope_within("gangzha/qinzaox", "gangzha/qinzao"));
	CHECK(!scope_within("gangzha", "gangzha/qinzao"));

	CHECK(scope_may_write("gangzha/qinzao", "office",
			      "gangzha/qinzao/feiqiao"));
	CHECK(scope_may_write("gangzha", "office", "gangzha/*"));
	CHECK(scope_may_write("gangzha/qinzao", "office", "gangzha/qinzao/*"));
	CHECK(!scope_may_write("gangzha/qinzao", "office", "gangzha/*"));
	CHECK(!scope_may_write("gangzha/qinzao/feiqiao", "office",
			       "gangzha/qinzao/other"));
	CHECK(!scope_may_write("gangzha", "auditor", "gangzha/qinzao"));

	/* Visibility: own subtree, broadcast above, whatever the role. */
	CHECK(scope_may_see("gangzha/qinzao", "office", "gangzha/qinzao/feiqiao"));
	CHECK(scope_may_see("gangzha/qinzao/feiqiao", "office",
			    "gangzha/qinzao/feiqiao"));
	CHECK(!scope_may_see("gangzha/qinzao/feiqiao", "office",
			     "gangzha/qinzao/tangzha"));
	CHECK(!scope_may_see("gangzha/qinzao/feiqiao", "office",
			     "gangzha/qinzao"));
	CHECK(scope_may_see("gangzha/qinzao/feiqiao", "office", "gangzha/*"));
	CHECK(scope_may_see("gangzha/qinzao/feiqiao", "office",
			    "gangzha/qinzao/*"));
	CHECK(!scope_may_see("gangzha/qinzao/feiqiao", "office",
			     "gangzha/other/*"));
	CHECK(scope_may_see("gangzha", "auditor", "gangzha/other/x"));
	CHECK(scope_may_see("gangzha", "auditor", "gangzha/*"));
	CHECK(!scope_may_see("gangzha", "auditor", "other/x"));
	/* An auditor below the district sees only its own scope. */
	CHECK(scope_may_see("gangzha/qinzao/feiqiao", "auditor",
			    "gangzha/qinzao/feiqiao"));
	CHECK(scope_may_see("gangzha/qinzao/feiqiao", "auditor",
			    "gangzha/qinzao/*"));
	CHECK(!scope_may_see("gangzha/qinzao/feiqiao", "auditor",
			     "gangzha/qinzao/tangzha"));
	CHECK(!scope_may_see("gangzha/qinzao/feiqiao", "auditor",
			     "gangzha/qinzao"));
	CHECK(!scope_may_see("gangzha/qinzao", "auditor", "gangzha/other/x"));
	CHECK(scope_may_see("gangzha/qinzao", "auditor",
			    "gangzha/qinzao/tangzha"));

	scope_district("gangzha/qinzao", d, sizeof(d));
	CHECK_STR(d, "gangzha");
	return CHECK_DONE();
}
