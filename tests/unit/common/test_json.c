/*
 * test_json.c - unit tests for src/common/json.c: int64 values as AIStore sends them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>

#include "common/json.h"

static int64_t of(json_t *v)
{
    int64_t r = json_int64(v);
    json_decref(v);
    return r;
}

static void test_int64_forms(void **state)
{
    (void)state;
    assert_int_equal(of(json_integer(42)), 42);
    assert_int_equal(of(json_integer(INT64_MIN)), INT64_MIN);
    assert_int_equal(of(json_string("9223372036854775807")), INT64_MAX);
    assert_int_equal(of(json_string("-17")), -17);
    assert_int_equal(of(json_real(1e6)), 1000000);
    assert_int_equal(of(json_true()), 0);
    assert_int_equal(of(json_object()), 0);
    assert_int_equal(json_int64(NULL), 0);
}

/* A real outside int64 clamps: the plain cast would be undefined behaviour (UBSan build). */
static void test_int64_real_limits(void **state)
{
    (void)state;
    assert_int_equal(of(json_real(1e300)), INT64_MAX);
    assert_int_equal(of(json_real(9223372036854775808.0)), INT64_MAX);
    assert_int_equal(of(json_real(-1e300)), INT64_MIN);
    assert_int_equal(of(json_real(-9223372036854775808.0)), INT64_MIN);
    assert_int_equal(of(json_real(-2.5)), -2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_int64_forms),
        cmocka_unit_test(test_int64_real_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
