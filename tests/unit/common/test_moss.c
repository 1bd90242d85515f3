/*
 * test_moss.c - unit tests for src/common/moss.c: the GetBatch request (MossReq) parser, its
 * range rules, the member names of the answer, and the archive format names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/moss.h"

static int parse(const char *body, const char *bck, moss_req_t *r)
{
    char err[512];
    int rc = moss_req_parse(body, strlen(body), bck, r, err, sizeof(err));
    if (rc < 0)
        assert_true(err[0] != '\0');
    return rc;
}

static void test_parse_ok(void **state)
{
    (void)state;
    moss_req_t r;
    assert_int_equal(
        parse("{\"in\":[{\"objname\":\"a/b\"},{\"objname\":\"s.tar\",\"bucket\":\"x\","
              "\"archpath\":\"d/f.jpg\",\"opaque\":\"aGk=\",\"start\":2,\"length\":-1}],"
              "\"mime\":\".zip\",\"coer\":true,\"onob\":false,\"strm\":true}",
              "b", &r),
        0);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.in[0].bucket, "b");
    assert_null(r.in[0].archpath);
    assert_string_equal(r.in[1].bucket, "x");
    assert_string_equal(r.in[1].archpath, "d/f.jpg");
    assert_string_equal(r.in[1].opaque, "aGk=");
    assert_true(r.coer && r.strm && !r.onob);
    assert_string_equal(r.mime, ".zip");
    char *n = moss_name_in_arch(&r, &r.in[1], false);
    assert_string_equal(n, "x/s.tar/d/f.jpg");
    free(n);
    n = moss_name_in_arch(&r, &r.in[0], true);
    assert_string_equal(n, "__404__/b/a/b");
    free(n);
    r.onob = true;
    n = moss_name_in_arch(&r, &r.in[0], false);
    assert_string_equal(n, "a/b");
    free(n);
    moss_req_dispose(&r);
}

static void test_parse_bad(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",
        "[]",
        "{\"in\":[]}",
        "{\"in\":{}}",
        "{\"in\":[{\"objname\":\"../x\"}]}",
        "{\"in\":[{\"objname\":\"a\",\"archpath\":\"/etc/passwd\"}]}",
        "{\"in\":[{\"objname\":\"a\",\"archpath\":\"a/../../b\"}]}",
        "{\"in\":[{\"objname\":\"a\",\"start\":-1}]}",
        "{\"in\":[{\"objname\":\"a\",\"start\":5,\"length\":0}]}",
        "{\"in\":[{\"objname\":\"a\",\"length\":-2}]}",
        "{\"in\":[{\"objname\":\"a\",\"provider\":\"s3\"}]}",
        "{\"in\":[{\"objname\":\"a\",\"uname\":\"ais/@#/b/a\"}]}",
        "{\"in\":[{\"objname\":\"a\",\"bucket\":\"../b\"}]}",
        "{\"in\":[{\"objname\":1}]}",
        "{\"in\":[{\"objname\":\"a\"}],\"coer\":\"yes\"}",
        "{\"in\":[{\"objname\":\"a\"}],\"coloc\":7}",
        "{\"in\":[{\"objname\":\"a\"}],\"mime\":3}",
        "{\"in\":[{\"objname\":\"a\"}],\"in\":[]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        moss_req_t r;
        assert_int_equal(parse(bad[i], "b", &r), -1);
        moss_req_dispose(&r);
    }
    moss_req_t r; /* no bucket anywhere */
    assert_int_equal(parse("{\"in\":[{\"objname\":\"a\"}]}", NULL, &r), -1);
    moss_req_dispose(&r);
}

static void test_range(void **state)
{
    (void)state;
    moss_in_t in = {0};
    int64_t off, len;
    assert_int_equal(moss_in_range(&in, 10, &off, &len), 0);
    assert_true(off == 0 && len == 10);
    in.start = 3, in.length = 4;
    assert_int_equal(moss_in_range(&in, 10, &off, &len), 0);
    assert_true(off == 3 && len == 4);
    in.length = 8;
    assert_int_equal(moss_in_range(&in, 10, &off, &len), -1);
    in.length = -1;
    assert_int_equal(moss_in_range(&in, 10, &off, &len), 0);
    assert_true(off == 3 && len == 7);
    in.start = 10;
    assert_int_equal(moss_in_range(&in, 10, &off, &len), -1);
}

static void test_formats(void **state)
{
    (void)state;
    assert_int_equal(moss_fmt_parse(""), 0);
    assert_int_equal(moss_fmt_parse(NULL), 0);
    assert_int_equal(moss_fmt_parse("tar.gz"), 1);
    assert_int_equal(moss_fmt_parse(".tgz"), 1);
    assert_int_equal(moss_fmt_parse("zip"), 2);
    assert_int_equal(moss_fmt_parse(".tar.lz4"), 3);
    assert_int_equal(moss_fmt_parse(".rar"), -1);
    assert_int_equal(moss_fmt_of_name("a/b.tar.gz"), 1);
    assert_int_equal(moss_fmt_of_name("x.tar"), 0);
    assert_int_equal(moss_fmt_of_name("x.tar.lz4"), 3);
    assert_int_equal(moss_fmt_of_name(".tar"), -1);
    assert_int_equal(moss_fmt_of_name("x.txt"), -1);
}

/* The header line of a frame of another target's streamed answer (untrusted bytes). */
static void test_frame_hdr(void **state)
{
    (void)state;
    int64_t len = -1;
    assert_int_equal(moss_frame_hdr("200 16384", 9, &len), 200);
    assert_int_equal(len, 16384);
    assert_int_equal(moss_frame_hdr("404 24", 6, &len), 404);
    assert_int_equal(len, 24);
    assert_int_equal(moss_frame_hdr("200 0", 5, &len), 200);
    assert_int_equal(len, 0);
    assert_int_equal(moss_frame_hdr("200 999999999999999999", 22, &len), 200); /* 18 digits */
    const char *bad[] = {
        "",      "200",    "200 ",   "200  5",   "200 -5", "200 +5",
        "+20 5", " 200 5", "200 5 ", "199 1",    "303 0",  "399 1",
        "600 1", "2000 1", "200 5x", "500 4097", "20a 1",  "200 1234567890123456789",
        "200\t5"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(moss_frame_hdr(bad[i], strlen(bad[i]), &len), -1);
    assert_int_equal(moss_frame_hdr("500 4096", 8, &len), 500); /* the longest error text */
    assert_int_equal(moss_frame_hdr("200 5\n", 5, &len), 200);  /* n bytes only */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_ok),  cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_range),     cmocka_unit_test(test_formats),
        cmocka_unit_test(test_frame_hdr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
