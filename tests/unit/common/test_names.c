/*
 * test_names.c - unit tests for src/common/names.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/names.h"
#include "common/util.h"

static void test_bucket_valid(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "a",
        "bck",
        "INVALID_BCK_NAME",
        "my-bucket.v2",
        "a.b.c",
        "x_1-2",
        "trailing.",
        "0",
        "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl", /* 64 */
    };
    for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
        const char *err = name_check_bucket(ok[i]);
        if (err != NULL)
            fail_msg("bucket %s rejected: %s", ok[i], err);
    }
}

static void test_bucket_invalid(void **state)
{
    (void)state;
    /* The first nine are the SDK's test_create_bucket_invalid_name. */
    static const char *const bad[] = {
        "*",
        ".",
        "",
        " ",
        "bucket/badname",
        "bucket and name",
        "#badname",
        "$badname",
        "~badname",
        "..x",
        "a..b",
        ".hidden",
        "a\\b",
        "a%b",
        "caf\xc3\xa9",
        "x\n",
        "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklm", /* 65 */
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        if (name_check_bucket(bad[i]) == NULL)
            fail_msg("bucket \"%s\" accepted", bad[i]);
    }
    assert_non_null(name_check_bucket(NULL));
}

static void check_obj_ok(const char *name)
{
    const char *err = name_check_object(name, strlen(name));
    if (err != NULL)
        fail_msg("object \"%s\" rejected: %s", name, err);
}

static void check_obj_bad(const char *name, size_t n)
{
    if (name_check_object(name, n) == NULL)
        fail_msg("object \"%.*s\" (%zu bytes) accepted", (int)n, name, n);
}

static void test_object_valid(void **state)
{
    (void)state;
    /* The SDK's test_object_name_encoding names, then a few more. */
    static const char *const ok[] = {
        "%",
        "%25",
        "%3D",
        "a\\(b",
        "audio/raw/file.wav",
        "file_#@!$%^&*()_+.mp3",
        "track?name=lofi&v=1",
        "my audio file .m4a",
        "\xe4\xbd\xa0\xe5\xa5\xbd\xe4\xb8\x96\xe7\x95\x8c", /* 你好世界 */
        "-x.ogg",
        ".audio_hidden.wav",
        "track=id=1234.mp3",
        "...",
        "a/.b/..c/c..",
        "a.",
        " ",
        "~",
        "dir/sub/obj",
    };
    for (size_t i = 0; i < ARRAY_SIZE(ok); i++)
        check_obj_ok(ok[i]);

    /* Exactly at the limits: 255-byte segments, 1024 bytes total. */
    char name[NAME_MAX_OBJECT + 2];
    memset(name, 'x', 255);
    name[255] = '\0';
    check_obj_ok(name);
    memset(name, 'y', NAME_MAX_OBJECT);
    for (size_t i = 200; i < NAME_MAX_OBJECT; i += 200)
        name[i] = '/';
    name[NAME_MAX_OBJECT] = '\0';
    check_obj_ok(name);
}

static void test_object_invalid(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",    "..",  ".",    "/abs", "a/../b", "a/./b", "../x", "x/..",
        "x/.", "./x", "a//b", "a/",   "/",      "//",    "dir/",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
        check_obj_bad(bad[i], strlen(bad[i]));

    check_obj_bad("a\0b", 3);
    check_obj_bad("ab\0", 3);
    /* Not UTF-8: a lone continuation byte, a cut sequence, an overlong '/', a surrogate. */
    static const char *const not_utf8[] = {
        "u\xffx", "\xfe", "a\x80", "\xe2\x82", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80"};
    for (size_t i = 0; i < ARRAY_SIZE(not_utf8); i++) {
        const char *why = name_check_object(not_utf8[i], strlen(not_utf8[i]));
        assert_non_null(why);
        assert_non_null(strstr(why, "UTF-8"));
    }
    assert_null(name_check_object("\xe2\x82\xac/\xf0\x9f\x98\x80", 8)); /* "€/😀" */
    assert_null(name_check("b", "x"));
    assert_non_null(name_check("..", "x"));
    assert_non_null(name_check("b", "../x"));
    assert_non_null(name_check("b", NULL));
    assert_non_null(name_check_object(NULL, 0));

    char name[NAME_MAX_OBJECT + 2];
    memset(name, 'x', 256); /* one segment of 256 bytes */
    check_obj_bad(name, 256);
    memset(name, 'y', NAME_MAX_OBJECT + 1);
    for (size_t i = 200; i < NAME_MAX_OBJECT; i += 200)
        name[i] = '/';
    check_obj_bad(name, NAME_MAX_OBJECT + 1);
}

static void test_uname(void **state)
{
    (void)state;
    char *u = uname_make("bck", "dir/obj.txt");
    assert_string_equal(u, "ais/@#/bck/dir/obj.txt");

    char *b = NULL, *o = NULL;
    assert_int_equal(uname_parse(u, &b, &o), 0);
    assert_string_equal(b, "bck");
    assert_string_equal(o, "dir/obj.txt");
    free(b), free(o), free(u);

    static const struct {
        const char *in, *bck, *obj;
    } ok[] = {
        {"ais://bck/obj", "bck", "obj"}, {"ais://bck/a/b/c", "bck", "a/b/c"},
        {"ais://bck", "bck", ""},        {"ais/@#/dst/", "dst", ""},
        {"ais/@#/dst", "dst", ""},       {"ais/@#/b/%25", "b", "%25"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
        b = o = NULL;
        if (uname_parse(ok[i].in, &b, &o) != 0)
            fail_msg("uname_parse(%s) failed", ok[i].in);
        assert_string_equal(b, ok[i].bck);
        assert_string_equal(o, ok[i].obj);
        free(b), free(o);
    }

    static const char *const bad[] = {
        "",
        "ais",
        "ais/@#/",
        "ais://",
        "aws://bck/obj",
        "gs/@#/bck/obj",
        "ais/@uuid#ns/bck/obj",
        "ais://bad name/obj",
        "ais:///obj",
        "bck/obj",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        b = o = NULL;
        if (uname_parse(bad[i], &b, &o) == 0)
            fail_msg("uname_parse(%s) succeeded", bad[i]);
        assert_null(b);
        assert_null(o);
    }
}

static void test_fqn_make(void **state)
{
    (void)state;
    char *s = fqn_make("/data/mp1", "bck", "dir/obj");
    assert_string_equal(s, "/data/mp1/@ais/bck/%ob/dir/obj");
    free(s);
    s = fqn_make("/data/mp1/", "bck", "o");
    assert_string_equal(s, "/data/mp1/@ais/bck/%ob/o");
    free(s);
    s = fqn_objdir("/m", "b");
    assert_string_equal(s, "/m/@ais/b/%ob");
    free(s);
    s = fqn_workdir("/m", "b");
    assert_string_equal(s, "/m/@ais/b/%wk");
    free(s);
    s = fqn_bckdir("/m/", "b");
    assert_string_equal(s, "/m/@ais/b");
    free(s);
    /* printf-like characters in names are copied, not interpreted */
    s = fqn_make("/m", "b", "%s%n%%");
    assert_string_equal(s, "/m/@ais/b/%ob/%s%n%%");
    free(s);
}

static void test_fqn_parse(void **state)
{
    (void)state;
    const char *const mpaths[] = {"/data/mp1", "/data/mp2/", "/data/mp1/nested"};
    int idx = -1;
    char *b = NULL, *o = NULL;

    assert_int_equal(fqn_parse("/data/mp2/@ais/bck/%ob/a/b.txt", mpaths, 3, &idx, &b, &o), 0);
    assert_int_equal(idx, 1);
    assert_string_equal(b, "bck");
    assert_string_equal(o, "a/b.txt");
    free(b), free(o);

    assert_int_equal(fqn_parse("/data/mp1/@ais/x/%ob/y", mpaths, 3, &idx, &b, &o), 0);
    assert_int_equal(idx, 0);
    free(b), free(o);

    /* The longest mountpath wins. */
    assert_int_equal(fqn_parse("/data/mp1/nested/@ais/x/%ob/y", mpaths, 3, &idx, &b, &o), 0);
    assert_int_equal(idx, 2);
    assert_string_equal(b, "x");
    assert_string_equal(o, "y");
    free(b), free(o);

    /* Round trip with fqn_make, including the SDK's odd names. */
    char *f = fqn_make(mpaths[1], "bck", "file_#@!$%^&*()_+.mp3");
    assert_int_equal(fqn_parse(f, mpaths, 3, &idx, &b, &o), 0);
    assert_string_equal(o, "file_#@!$%^&*()_+.mp3");
    free(b), free(o), free(f);

    /* NULL outputs are allowed. */
    assert_int_equal(fqn_parse("/data/mp1/@ais/x/%ob/y", mpaths, 3, NULL, NULL, NULL), 0);

    static const char *const bad[] = {
        "/data/mp3/@ais/bck/%ob/o", /* not under a mountpath */
        "/data/mp1x/@ais/bck/%ob/o",
        "/data/mp1/@ais/bck/%wk/o",
        "/data/mp1/@ais/bck/%ob/",
        "/data/mp1/@ais/bck/%ob",
        "/data/mp1/@ais/bck",
        "/data/mp1/@ais//%ob/o",
        "/data/mp1/@ais/bck/%ob/../../etc/passwd",
        "/data/mp1/bck/%ob/o",
        "",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        b = o = NULL;
        idx = -7;
        if (fqn_parse(bad[i], mpaths, 3, &idx, &b, &o) == 0)
            fail_msg("fqn_parse(%s) succeeded", bad[i]);
        assert_null(b);
        assert_null(o);
        assert_int_equal(idx, -7);
    }
    assert_int_equal(fqn_parse("/data/mp1/@ais/x/%ob/y", mpaths, 0, &idx, &b, &o), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket_valid), cmocka_unit_test(test_bucket_invalid),
        cmocka_unit_test(test_object_valid), cmocka_unit_test(test_object_invalid),
        cmocka_unit_test(test_uname),        cmocka_unit_test(test_fqn_make),
        cmocka_unit_test(test_fqn_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
