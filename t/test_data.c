/* SPDX-License-Identifier: MIT */
/* Per-core storage for modules (mqb_core_async_data): values by name, one
 * core's apart from another's, replaced and removed with their free
 * function, and freed with the core after its entities. */
#include "config.h"

#include <errno.h>

#include "testutil.h"
#include "lib/internal.h"

struct value {
	int *freed;
	const char *name;
};

static void value_free(void *p)
{
	struct value *v = p;
	(*v->freed)++;
}

static void each_core_keeps_its_own_values_by_name(void **state)
{
	struct mqb_core *a, *b;
	assert_int_equal(mqb_core_new(NULL, &a), 0);
	assert_int_equal(mqb_core_new(NULL, &b), 0);
	int freed = 0;
	struct value va = {&freed, "a"}, vb = {&freed, "b"}, vc = {&freed, "c"};
	assert_null(mqb_core_async_data(a, "template"));
	assert_int_equal(mqb_core_async_set_data(a, "template", &va, value_free), 0);
	assert_int_equal(mqb_core_async_set_data(b, "template", &vb, value_free), 0);
	assert_int_equal(mqb_core_async_set_data(a, "mqtt", &vc, NULL), 0);
	assert_ptr_equal(mqb_core_async_data(a, "template"), &va);
	assert_ptr_equal(mqb_core_async_data(b, "template"), &vb);
	assert_ptr_equal(mqb_core_async_data(a, "mqtt"), &vc);
	assert_null(mqb_core_async_data(b, "mqtt"));
	assert_null(mqb_core_async_data(a, NULL));
	mqb_core_free(a);
	assert_int_equal(freed, 1);
	mqb_core_free(b);
	assert_int_equal(freed, 2);
}

static void replacing_or_removing_frees_the_old_value(void **state)
{
	struct mqb_core *core;
	assert_int_equal(mqb_core_new(NULL, &core), 0);
	int freed_old = 0, freed_new = 0;
	struct value old = {&freed_old, "old"}, new = {&freed_new, "new"};
	assert_int_equal(mqb_core_async_set_data(core, "x", &old, value_free), 0);
	assert_int_equal(mqb_core_async_set_data(core, "x", &new, value_free), 0);
	assert_int_equal(freed_old, 1);
	assert_ptr_equal(mqb_core_async_data(core, "x"), &new);
	assert_int_equal(mqb_core_async_set_data(core, "x", NULL, NULL), 0);
	assert_int_equal(freed_new, 1);
	assert_null(mqb_core_async_data(core, "x"));
	assert_int_equal(mqb_core_async_set_data(core, "nothing", NULL, NULL), 0);
	mqb_core_free(core);
	assert_int_equal(freed_old + freed_new, 2);
}

static void bad_keys_and_no_memory_store_nothing(void **state)
{
	struct mqb_core *core;
	assert_int_equal(mqb_core_new(NULL, &core), 0);
	int freed = 0;
	struct value v = {&freed, "v"};
	assert_int_equal(mqb_core_async_set_data(core, NULL, &v, value_free), -EINVAL);
	assert_int_equal(mqb_core_async_set_data(core, "", &v, value_free), -EINVAL);
	mqb__alloc_fail_after(1);
	assert_int_equal(mqb_core_async_set_data(core, "v", &v, value_free), -ENOMEM);
	mqb__alloc_fail_after(2);
	assert_int_equal(mqb_core_async_set_data(core, "v", &v, value_free), -ENOMEM);
	mqb__alloc_fail_after(0);
	assert_null(mqb_core_async_data(core, "v"));
	mqb_core_free(core);
	assert_int_equal(freed, 0); /* the caller still owns it */
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(each_core_keeps_its_own_values_by_name),
	cmocka_unit_test(replacing_or_removing_frees_the_old_value),
	cmocka_unit_test(bad_keys_and_no_memory_store_nothing),
};

TU_MAIN(tests)
