/*
 * test_objapi.c - unit tests for the pure parsers of the object API (src/target/objapi.c,
 * src/common/promote.c): part numbers, the mpt-complete body (untrusted: a client's), AIStore's
 * PromoteArgs and the names promote gives objects.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/promote.h"
#include "target/internal.h"

static void test_part_number(void **state)
{
    (void)state;
    assert_int_equal(mpt_part_number("1"), 1);
    assert_int_equal(mpt_part_number("10000"), 10000);
    assert_int_equal(mpt_part_number("00042"), 42);
    static const char *bad[] = {NULL, "",   "0",     "10001",  "-1",  "+1",
                                "1x", " 1", "99999", "123456", "0x10"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(mpt_part_number(bad[i]), -1);
}

static int parts(const char *body)
{
    char err[256];
    err[0] = '\0';
    int n = mpt_parts_parse(body, strlen(body), err, sizeof(err));
    if (n < 0)
        assert_true(err[0] != '\0');
    return n;
}

static void test_parts_parse(void **state)
{
    (void)state;
    assert_int_equal(parts("{\"action\":\"mpt-complete\",\"value\":[{\"etag\":\"\","
                           "\"part-number\":1}]}"),
                     1);
    assert_int_equal(parts("{\"value\":[{\"part-number\":3},{\"part-number\":1},"
                           "{\"part-number\":2}]}"),
                     3); /* any order, as AIStore sorts */
    static const char *bad[] = {
        "",
        "null",
        "[]",
        "{\"value\":[]}",                                        /* no parts */
        "{\"value\":{}}",                                        /* not a list */
        "{\"value\":[{\"part-number\":2}]}",                     /* 1 missing */
        "{\"value\":[{\"part-number\":1},{\"part-number\":1}]}", /* twice */
        "{\"value\":[{\"part-number\":0}]}",                     /* out of range */
        "{\"value\":[{\"part-number\":-5}]}",                    /* negative */
        "{\"value\":[{\"part-number\":\"1\"}]}",                 /* a string */
        "{\"value\":[{\"part-number\":1.0}]}",                   /* a real */
        "{\"value\":[{\"partNumber\":1}]}",                      /* S3's name */
        "{\"value\":[1]}",                                       /* not objects */
        "{\"value\":[{\"part-number\":9223372036854775807}]}",   /* huge */
        "{\"value\":[{\"part-number\":1},{\"part-number\":3}]}", /* a gap */
        "{\"value\":[{\"part-number\":1}",                       /* truncated */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(parts(bad[i]), -1);
}

static int prm(const char *text, promote_args_t *a)
{
    json_t *j = json_loads(text, 0, NULL);
    char err[512];
    err[0] = '\0';
    int rc = promote_args_parse(j, a, err, sizeof(err));
    if (rc < 0)
        assert_true(err[0] != '\0');
    json_decref(j);
    return rc;
}

static void test_promote_args(void **state)
{
    (void)state;
    promote_args_t a;
    assert_int_equal(prm("{\"action\":\"promote\",\"name\":\"/data/x\",\"value\":{\"src\":"
                         "\"/data/x\",\"obj\":\"p/\",\"rcr\":true,\"ovw\":false,\"dls\":true,"
                         "\"tid\":\"t1\"}}",
                         &a),
                     0);
    assert_string_equal(a.src, "/data/x");
    assert_string_equal(a.obj, "p/");
    assert_string_equal(a.tid, "t1");
    assert_true(a.recurs && a.dls && !a.ovw && !a.notshr);
    promote_args_dispose(&a);
    /* the source from the name alone (AIStore's api.Promote sets both) */
    assert_int_equal(prm("{\"name\":\"/d\",\"value\":{}}", &a), 0);
    assert_string_equal(a.src, "/d");
    assert_string_equal(a.obj, "");
    promote_args_dispose(&a);
    static const char *bad[] = {
        "{\"value\":{}}",                                /* no source */
        "{\"name\":\"/a\",\"value\":{\"src\":\"/b\"}}",  /* conflicting */
        "{\"value\":{\"src\":\"rel/path\"}}",            /* relative */
        "{\"value\":{\"src\":\"/a/../etc\"}}",           /* .. */
        "{\"value\":{\"src\":\"/a/./b\"}}",              /* . */
        "{\"value\":{\"src\":\"/a/..\"}}",               /* .. at the end */
        "{\"value\":{\"src\":\"/a\\nb\"}}",              /* control character */
        "{\"value\":{\"src\":\"/a\",\"rcr\":\"yes\"}}",  /* not a boolean */
        "{\"value\":{\"src\":\"/a\",\"obj\":5}}",        /* not a string */
        "{\"value\":{\"src\":\"/a\",\"obj\":\"../x\"}}", /* bad object name */
        "{\"value\":{\"src\":\"/a\",\"tid\":\"../t\"}}", /* bad target id */
        "{\"name\":\"/a\",\"value\":[]}",                /* value not an object */
        "[]",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(prm(bad[i], &a), -1);
        assert_null(a.src);
    }
}

static void test_promote_names(void **state)
{
    (void)state;
    static const struct {
        const char *fqn, *dir, *prefix, *want;
    } cases[] = {
        {"/d/f.txt", "", "", "f.txt"},           /* a file: its base name */
        {"/d/f.txt", "", "obj", "obj"},          /* a file: named by obj */
        {"/d/f.txt", "", "p/", "p/f.txt"},       /* a file into a "directory" */
        {"/d/f.txt", "/d", "", "f.txt"},         /* a directory: relative names */
        {"/d/s/f.txt", "/d", "p/", "p/s/f.txt"}, /* ... with the prefix */
        {"/d/s/f.txt", "/d", "p-", "p-s/f.txt"}, /* the prefix as is, as AIStore */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *n = promote_obj_name(cases[i].fqn, cases[i].dir, cases[i].prefix);
        assert_string_equal(n, cases[i].want);
        free(n);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_part_number),
        cmocka_unit_test(test_parts_parse),
        cmocka_unit_test(test_promote_args),
        cmocka_unit_test(test_promote_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
