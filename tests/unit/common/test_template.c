/*
 * test_template.c - unit tests for src/common/template.c: brace range expansion (padding,
 * steps, several groups, early stop), malformed templates, and ranges at the limits of a long
 * (no overflow while stepping; sizes counted without enumerating, overflow reported).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/template.h"
#include "common/util.h"

typedef struct {
    buf_t out; /* names joined by ',' */
    long calls;
    long stop_after; /* 0 = never stop */
} collect_t;

static int collect(const char *name, void *arg)
{
    collect_t *c = arg;
    if (c->calls++)
        buf_puts(&c->out, ",");
    buf_puts(&c->out, name);
    return c->stop_after && c->calls >= c->stop_after;
}

/* Expands tmpl and checks the joined names, the returned count and template_count. */
static void check_expand(const char *tmpl, const char *want, long n)
{
    collect_t c = {.stop_after = 0};
    buf_init(&c.out);
    buf_puts(&c.out, "");
    assert_int_equal(template_expand(tmpl, collect, &c), n);
    assert_int_equal(c.calls, n);
    assert_string_equal(c.out.base, want);
    assert_int_equal(template_count(tmpl), n);
    long size = -7;
    assert_int_equal(template_size(tmpl, &size), 0);
    assert_int_equal(size, n);
    buf_dispose(&c.out);
}

static void check_malformed(const char *tmpl)
{
    collect_t c = {.stop_after = 0};
    buf_init(&c.out);
    assert_int_equal(template_expand(tmpl, collect, &c), -1);
    assert_int_equal(c.calls, 0);
    assert_int_equal(template_count(tmpl), -1);
    long size = 0;
    assert_int_equal(template_size(tmpl, &size), -1);
    buf_dispose(&c.out);
}

static void test_basic(void **state)
{
    (void)state;
    check_expand("obj-{1..3}", "obj-1,obj-2,obj-3", 3);
    check_expand("{1..3}", "1,2,3", 3);
    check_expand("a{5..5}b", "a5b", 1);
    check_expand("{8..11}.tar", "8.tar,9.tar,10.tar,11.tar", 4);
    check_expand("{-2..1}", "-2,-1,0,1", 4);
    /* No group: the template is one name. */
    check_expand("plain-name", "plain-name", 1);
    check_expand("", "", 1);
}

static void test_padding(void **state)
{
    (void)state;
    check_expand("shard-{0001..0003}.tar", "shard-0001.tar,shard-0002.tar,shard-0003.tar", 3);
    /* Width comes from a; longer numbers are not cut. */
    check_expand("{08..11}", "08,09,10,11", 4);
    check_expand("{098..101}", "098,099,100,101", 4);
    /* A lone 0 is not a padding marker. */
    check_expand("{0..2}", "0,1,2", 3);
}

static void test_steps(void **state)
{
    (void)state;
    check_expand("shard-{0000..0010..2}.tar",
                 "shard-0000.tar,shard-0002.tar,shard-0004.tar,shard-0006.tar,shard-0008.tar,"
                 "shard-0010.tar",
                 6);
    /* The last value is the last one <= b. */
    check_expand("{1..10..4}", "1,5,9", 3);
    check_expand("{0..3..10}", "0", 1);
}

static void test_several_groups(void **state)
{
    (void)state;
    check_expand("a-{0..2..2}-b{1..3}", "a-0-b1,a-0-b2,a-0-b3,a-2-b1,a-2-b2,a-2-b3", 6);
    check_expand("d{1..2}/f{01..02}.txt", "d1/f01.txt,d1/f02.txt,d2/f01.txt,d2/f02.txt", 4);
    check_expand("{1..2}{3..4}", "13,14,23,24", 4);
    /* Eight groups are the maximum. */
    check_expand("{1..2}{1..1}{1..1}{1..1}{1..1}{1..1}{1..1}{1..2}",
                 "11111111,11111112,21111111,21111112", 4);
    check_malformed("{1..1}{1..1}{1..1}{1..1}{1..1}{1..1}{1..1}{1..1}{1..1}");
}

static void test_stop_early(void **state)
{
    (void)state;
    collect_t c = {.stop_after = 2};
    buf_init(&c.out);
    assert_int_equal(template_expand("x{1..3}-{1..3}", collect, &c), 2);
    assert_string_equal(c.out.base, "x1-1,x1-2");
    buf_dispose(&c.out);
}

static void test_malformed(void **state)
{
    (void)state;
    check_malformed("obj-{1..3");       /* unclosed */
    check_malformed("obj-1..3}");       /* stray close */
    check_malformed("obj-{1..3}}");     /* stray close after a group */
    check_malformed("obj-{}");          /* empty */
    check_malformed("obj-{1}");         /* no range */
    check_malformed("obj-{1..}");       /* no end */
    check_malformed("obj-{..3}");       /* no start */
    check_malformed("obj-{a..c}");      /* letters */
    check_malformed("obj-{1...3}");     /* three dots */
    check_malformed("obj-{1..3x}");     /* junk after the end */
    check_malformed("obj-{1..3..}");    /* no step */
    check_malformed("obj-{1..3..0}");   /* step 0 */
    check_malformed("obj-{1..3..-1}");  /* negative step */
    check_malformed("obj-{3..1}");      /* start > end */
    check_malformed("obj-{1..{2..3}}"); /* nested */
    check_malformed("obj-{1,2,3}");     /* brace lists are not ranges */
}

/* Stepping up to LONG_MAX must stop at the last value, not overflow (UBSan aborts on it). */
static void test_limits(void **state)
{
    (void)state;
    check_expand("{9223372036854775800..9223372036854775807..5}",
                 "9223372036854775800,9223372036854775805", 2);
    check_expand("{9223372036854775806..9223372036854775807}",
                 "9223372036854775806,9223372036854775807", 2);
    check_expand("{9223372036854775807..9223372036854775807..9223372036854775807}",
                 "9223372036854775807", 1);
    check_expand("{0..9223372036854775807..9223372036854775807}", "0,9223372036854775807", 2);
    check_expand("{-9223372036854775808..-9223372036854775807}",
                 "-9223372036854775808,-9223372036854775807", 2);
    check_expand("{-9223372036854775808..9223372036854775807..9223372036854775807}",
                 "-9223372036854775808,-1,9223372036854775806", 3);
    /* Numbers beyond a long are malformed rather than silently clamped. */
    check_malformed("{0..9223372036854775808}");
    check_malformed("{99999999999999999999..99999999999999999999}");
    check_malformed("{0..1..9223372036854775808}");
}

/* Huge ranges are counted arithmetically: this would take ages if it enumerated. */
static void test_huge_counts(void **state)
{
    (void)state;
    long n = 0;
    assert_int_equal(template_size("shard-{0..999999999999}.tar", &n), 0);
    assert_int_equal(n, 1000000000000L);
    assert_int_equal(template_count("shard-{0..999999999999}.tar"), 1000000000000L);
    assert_int_equal(template_count("{0..999999999999..1000}"), 1000000000L);
    assert_int_equal(template_count("{1..1000000}-{1..1000000}"), 1000000000000L);
    assert_int_equal(template_count("{1..9223372036854775807}"), LONG_MAX);
    assert_int_equal(template_size("{1..9223372036854775807}", &n), 0);

    /* More names than a long holds: reported, not wrapped. */
    assert_int_equal(template_size("{0..9223372036854775807}", &n), -2);
    assert_int_equal(n, LONG_MAX);
    assert_int_equal(template_count("{0..9223372036854775807}"), LONG_MAX);
    assert_int_equal(template_size("{-9223372036854775808..9223372036854775807}", &n), -2);
    assert_int_equal(template_size("{1..4294967296}{1..4294967296}", &n), -2);
    assert_int_equal(template_size("{1..3037000500}{1..3037000500}", &n), -2);
    assert_int_equal(template_size("{1..3037000499}{1..3037000499}", &n), 0);
    assert_int_equal(n, 3037000499L * 3037000499L);
    /* A malformed group wins over an overflowing one. */
    assert_int_equal(template_size("{0..9223372036854775807}{1..0}", &n), -1);

    /* Expanding a huge range can still be stopped by the callback. */
    collect_t c = {.stop_after = 3};
    buf_init(&c.out);
    assert_int_equal(template_expand("{-9223372036854775808..9223372036854775807}", collect, &c),
                     3);
    assert_string_equal(c.out.base, "-9223372036854775808,-9223372036854775807,"
                                    "-9223372036854775806");
    buf_dispose(&c.out);
}

/* The iterator gives the names one at a time, in the same order as template_expand, and its
 * memory does not depend on how many there are. */
static void test_iterator(void **state)
{
    (void)state;
    template_iter_t *it = template_iter_new("a{1..2}-{08..10..2}.tar");
    assert_non_null(it);
    static const char *const want[] = {"a1-08.tar", "a1-10.tar", "a2-08.tar", "a2-10.tar"};
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(template_iter_next(it), want[i]);
    assert_null(template_iter_next(it));
    assert_null(template_iter_next(it)); /* stays done */
    template_iter_free(it);

    it = template_iter_new("plain"); /* no group: one name */
    assert_string_equal(template_iter_next(it), "plain");
    assert_null(template_iter_next(it));
    template_iter_free(it);

    assert_null(template_iter_new("x{1..}"));
    template_iter_free(NULL);

    /* Steps near the top of a long end without overflowing (UBSan would report it). */
    it = template_iter_new("{0..9223372036854775807..4611686018427387904}");
    assert_string_equal(template_iter_next(it), "0");
    assert_string_equal(template_iter_next(it), "4611686018427387904");
    assert_null(template_iter_next(it));
    template_iter_free(it);

    /* A range of a trillion names: the first few come at once. */
    it = template_iter_new("shard-{0..999999999999}");
    for (int i = 0; i < 1000; i++)
        assert_non_null(template_iter_next(it));
    assert_string_equal(template_iter_next(it), "shard-1000");
    template_iter_free(it);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),      cmocka_unit_test(test_padding),
        cmocka_unit_test(test_steps),      cmocka_unit_test(test_several_groups),
        cmocka_unit_test(test_stop_early), cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_limits),     cmocka_unit_test(test_huge_counts),
        cmocka_unit_test(test_iterator),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
