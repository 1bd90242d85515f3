/*
 * test_etl_parse.c - the pure parts of liblocus-etl (src/etlsdk/etl_parse.c): FQN decoding in both
 * protocol eras (double-encoded etl_fqn query, v3.28 escaped-FQN path), path normalization,
 * FQN root checks, request URI and etl_args parsing, Ais-Node-Url lists, direct-put and hpull
 * URLs, sizes. Vectors follow docs/protocol.md §3 and §9a.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "etlsdk/internal.h"

static void norm_is(const char *in, const char *want)
{
    char *got = locus_etl__path_normalize(in);
    assert_string_equal(got, want);
    free(got);
}

static void test_normalize(void **state)
{
    norm_is("/ais/mp1/@ais/src/%ob/a", "/ais/mp1/@ais/src/%ob/a");
    norm_is("ais/mp1//x/", "/ais/mp1/x");
    norm_is("/a/./b/../c", "/a/c");
    norm_is("/../../etc/passwd", "/etc/passwd");
    norm_is("/mp/../../etc", "/etc");
    norm_is("", "/");
    norm_is("///", "/");
    norm_is("/a/..", "/");
    norm_is("/a/...", "/a/...");
}

static void test_fqn_query(void **state)
{
    char *fqn = NULL;
    /* §9a B: the value as it appears on the wire (url.Values.Encode of a PathEscaped FQN) */
    assert_int_equal(
        locus_etl__fqn_from_query(
            "%252Fais%252Fmp1%252F%40ais%252Fsrc%252F%2525ob%252Fdir%252Fa.flac", &fqn),
        0);
    assert_string_equal(fqn, "/ais/mp1/@ais/src/%ob/dir/a.flac");
    free(fqn);
    /* object names with spaces and '+': Go QueryEscape turns ' ' into '+' and '%20' stays */
    assert_int_equal(locus_etl__fqn_from_query("%252Fmp%252F%2525ob%252Fa%2Bb%2520c+d", &fqn), 0);
    assert_string_equal(fqn, "/mp/%ob/a+b c d");
    free(fqn);
    /* single-encoded (not what AIS sends, but decodes to the same path when no '%' in it) */
    assert_int_equal(locus_etl__fqn_from_query("%2Ftmp%2Fx", &fqn), 0);
    assert_string_equal(fqn, "/tmp/x");
    free(fqn);
    /* traversal is normalized away before any root check */
    assert_int_equal(locus_etl__fqn_from_query("%252Fmp%252F..%252F..%252Fetc%252Fpasswd", &fqn),
                     0);
    assert_string_equal(fqn, "/etc/passwd");
    free(fqn);
    /* malformed escapes, escaped NUL, empty */
    assert_int_equal(locus_etl__fqn_from_query("%25zz", &fqn), -EINVAL);
    assert_null(fqn);
    assert_int_equal(locus_etl__fqn_from_query("%2", &fqn), -EINVAL);
    assert_int_equal(locus_etl__fqn_from_query("%252Fa%2500b", &fqn), -EINVAL);
    assert_int_equal(locus_etl__fqn_from_query("", &fqn), -EINVAL);
}

static void test_fqn_path(void **state)
{
    char *fqn = NULL;
    /* v3.28: the URL path is url.PathEscape(FQN) */
    assert_int_equal(
        locus_etl__fqn_from_path("/%2Fais%2Fmp1%2F@ais%2Fsrc%2F%25ob%2Fdir%2Fa.flac", &fqn), 0);
    assert_string_equal(fqn, "/ais/mp1/@ais/src/%ob/dir/a.flac");
    free(fqn);
    assert_int_equal(locus_etl__fqn_from_path("//mp/x", &fqn), 0);
    assert_string_equal(fqn, "/mp/x");
    free(fqn);
    /* an ordinary bck/obj path is not an FQN */
    assert_int_equal(locus_etl__fqn_from_path("/src/dir/a.flac", &fqn), -EINVAL);
    assert_null(fqn);
    assert_int_equal(locus_etl__fqn_from_path("/%2", &fqn), -EINVAL);
}

static void test_roots(void **state)
{
    assert_true(locus_etl__fqn_allowed("/etc/passwd", NULL));
    assert_true(locus_etl__fqn_allowed("/etc/passwd", ""));
    const char *roots = "/ais/mp1:/ais/mp2/";
    assert_true(locus_etl__fqn_allowed("/ais/mp1/@ais/b/%ob/o", roots));
    assert_true(locus_etl__fqn_allowed("/ais/mp2/@ais/b/%ob/o", roots));
    assert_true(locus_etl__fqn_allowed("/ais/mp1", roots));
    assert_false(locus_etl__fqn_allowed("/ais/mp10/x", roots)); /* prefix, not a parent */
    assert_false(locus_etl__fqn_allowed("/ais/mp3/x", roots));
    assert_false(locus_etl__fqn_allowed("/etc/passwd", roots));
    assert_true(locus_etl__fqn_allowed("/x/y", "::/x:"));  /* empty entries ignored */
    assert_false(locus_etl__fqn_allowed("/x/y", ":::"));   /* only empty entries: nothing */
    assert_true(locus_etl__fqn_allowed("/anything", "/")); /* root "/" */
    assert_true(locus_etl__fqn_allowed("/a/b", "/a/./c/../"));
}

static void test_uri_hpush(void **state)
{
    locus_etl__uri_t u;
    assert_int_equal(locus_etl__uri_parse("/src/dir/a.flac", false, &u), 0);
    assert_string_equal(u.path, "src/dir/a.flac");
    assert_string_equal(u.dpath, "src/dir/a.flac");
    assert_string_equal(u.args, "");
    assert_null(u.fqn);
    assert_false(u.latest);
    locus_etl__uri_dispose(&u);

    /* §9a B: current hpush with args and FQN */
    assert_int_equal(
        locus_etl__uri_parse("/src/dir/a.flac?etl_args=x&etl_fqn=%252Fais%252Fmp1%252F%40ais%252F"
                             "src%252F%2525ob%252Fdir%252Fa.flac",
                             false, &u),
        0);
    assert_string_equal(u.dpath, "src/dir/a.flac");
    assert_string_equal(u.args, "x");
    assert_string_equal(u.fqn, "/ais/mp1/@ais/src/%ob/dir/a.flac");
    locus_etl__uri_dispose(&u);

    /* etl_args are query-decoded (JSON from the Python SDK), other keys ignored */
    assert_int_equal(locus_etl__uri_parse("/b/o%20x?foo&etl_args=%7B%22a%22%3A1%7D+z&latest-ver="
                                          "true&x=1",
                                          false, &u),
                     0);
    assert_string_equal(u.path, "b/o%20x");
    assert_string_equal(u.dpath, "b/o x");
    assert_string_equal(u.args, "{\"a\":1} z");
    assert_true(u.latest);
    locus_etl__uri_dispose(&u);

    /* empty etl_args, download's original_url */
    assert_int_equal(locus_etl__uri_parse("/download?original_url=http%3A%2F%2Fh%2Fx%3Fa%3D1&"
                                          "etl_args=",
                                          false, &u),
                     0);
    assert_string_equal(u.path, "download");
    assert_string_equal(u.original_url, "http://h/x?a=1");
    assert_string_equal(u.args, "");
    locus_etl__uri_dispose(&u);

    assert_int_equal(locus_etl__uri_parse("/b/o?etl_args=%zz", false, &u), -EINVAL);
    assert_null(u.path);
    assert_int_equal(locus_etl__uri_parse("/b/%zz", false, &u), -EINVAL);
    assert_int_equal(locus_etl__uri_parse("/b/o?etl_fqn=%25", false, &u), -EINVAL);
}

static void test_uri_v328_fqn(void **state)
{
    locus_etl__uri_t u;
    const char *raw = "/%2Fais%2Fmp1%2F@ais%2Fsrc%2F%25ob%2Fa.flac?etl_args=y";
    /* ARG_TYPE=fqn: the path is the FQN, and it is also what transform sees as the path */
    assert_int_equal(locus_etl__uri_parse(raw, true, &u), 0);
    assert_string_equal(u.fqn, "/ais/mp1/@ais/src/%ob/a.flac");
    assert_string_equal(u.dpath, "/ais/mp1/@ais/src/%ob/a.flac");
    assert_string_equal(u.args, "y");
    locus_etl__uri_dispose(&u);
    /* without ARG_TYPE=fqn the same path is just a (strange) object path */
    assert_int_equal(locus_etl__uri_parse(raw, false, &u), 0);
    assert_null(u.fqn);
    locus_etl__uri_dispose(&u);
    /* ARG_TYPE=fqn but a bck/obj path with the body: not an FQN */
    assert_int_equal(locus_etl__uri_parse("/src/a.flac", true, &u), 0);
    assert_null(u.fqn);
    locus_etl__uri_dispose(&u);
    /* etl_fqn wins over the path form */
    assert_int_equal(locus_etl__uri_parse("/%2Fa?etl_fqn=%252Fb", true, &u), 0);
    assert_string_equal(u.fqn, "/b");
    locus_etl__uri_dispose(&u);
    /* hpull v3.28 uname path: ais%2F@%23%2Fsrc%2Fa -> not absolute */
    assert_int_equal(locus_etl__uri_parse("/ais%2F@%23%2Fsrc%2Fdir%2Fa.flac", true, &u), 0);
    assert_null(u.fqn);
    assert_string_equal(u.dpath, "ais/@#/src/dir/a.flac");
    locus_etl__uri_dispose(&u);
}

static void node_urls_is(const char *hdr, const char *first, const char *rest)
{
    char *f = NULL, *r = NULL;
    assert_int_equal(locus_etl__node_urls(hdr, &f, &r), 0);
    assert_string_equal(f, first);
    if (rest == NULL)
        assert_null(r);
    else
        assert_string_equal(r, rest);
    free(f);
    free(r);
}

static void test_node_urls(void **state)
{
    node_urls_is("http://10.1.2.4:51081/ais%2F@%23%2Fdst%2Fa.wav?owt=3&uuid=Hk3dL0aXq",
                 "http://10.1.2.4:51081/ais%2F@%23%2Fdst%2Fa.wav?owt=3&uuid=Hk3dL0aXq", NULL);
    node_urls_is("http://e2:1, http://e3:2 ,http://t:3/x", "http://e2:1",
                 "http://e3:2,http://t:3/x");
    node_urls_is(" , http://a:1 ,,", "http://a:1", NULL);
    char *f = (char *)1, *r = (char *)1;
    assert_int_equal(locus_etl__node_urls(" , ,", &f, &r), -EINVAL);
    assert_null(f);
    assert_null(r);
    assert_int_equal(locus_etl__node_urls("", &f, &r), -EINVAL);
    assert_int_equal(locus_etl__node_urls(NULL, &f, &r), -EINVAL);
}

static void dp_is(const char *daddr, const char *tu, const char *path, const char *args,
                  const char *want)
{
    char *got = locus_etl__direct_put_url(daddr, tu, path, args);
    if (want == NULL) {
        assert_null(got);
        return;
    }
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_direct_put_url(void **state)
{
    const char *tu = "http://10.1.2.3:51081/v1/etl/_object/ffx/QwErTyUiOp";
    /* AIStore: daddr = dst target + escaped uname; prefix from AIS_TARGET_URL (§5, §9a A) */
    dp_is("http://10.1.2.4:51081/ais%2F@%23%2Fdst%2Fdir%2Fa.wav?owt=3&uuid=Hk3dL0aXq", tu,
          "src/dir/a.flac", NULL,
          "http://10.1.2.4:51081/v1/etl/_object/ffx/QwErTyUiOp/ais%2F@%23%2Fdst%2Fdir%2Fa.wav"
          "?owt=3&uuid=Hk3dL0aXq");
    /* trailing '/' on AIS_TARGET_URL */
    dp_is("http://h:1/ais%2F@%23%2Fd%2Fo", "http://t:2/v1/etl/_object/e/s/", "b/o", "",
          "http://h:1/v1/etl/_object/e/s/ais%2F@%23%2Fd%2Fo");
    /* Locus: a full URL of the destination endpoint is used as is (+ etl_args) */
    dp_is(
        "http://10.0.0.5:9001/v1/etl/_object/md5-etl/sec/ais%2F@%23%2Fdst%2Fo", tu, "src/o",
        "a b&c",
        "http://10.0.0.5:9001/v1/etl/_object/md5-etl/sec/ais%2F@%23%2Fdst%2Fo?etl_args=a%20b%26c");
    dp_is("http://10.0.0.5:9001/v1/etl/_object/e/s/u?uuid=j", NULL, "src/o", "7",
          "http://10.0.0.5:9001/v1/etl/_object/e/s/u?uuid=j&etl_args=7");
    /* next ETL server of a pipeline (no path): same request path there */
    dp_is("http://10.1.2.3:31235", tu, "src/dir/a.flac", NULL,
          "http://10.1.2.3:31235/src/dir/a.flac");
    dp_is("http://10.1.2.3:31235/", tu, "src/o%20x", "q",
          "http://10.1.2.3:31235/src/o%20x?etl_args=q");
    /* no AIS_TARGET_URL: daddr as is */
    dp_is("http://h:1/ais%2F@%23%2Fd%2Fo?owt=3", NULL, "b/o", NULL,
          "http://h:1/ais%2F@%23%2Fd%2Fo?owt=3");
    /* scheme of AIS_TARGET_URL wins (AIStore composes it so) */
    dp_is("http://h:1/u", "https://t:2/v1/etl/_object/e/s", "b/o", NULL,
          "https://h:1/v1/etl/_object/e/s/u");
    /* not a URL */
    dp_is("h:1/x", tu, "b/o", NULL, NULL);
    dp_is("ftp://h/x", tu, "b/o", NULL, NULL);
    dp_is("http:///x", tu, "b/o", NULL, NULL);
}

static void test_hpull_url(void **state)
{
    char *u = locus_etl__hpull_url("http://10.1.2.3:51081/v1/etl/_object/ffx/QwErTyUiOp",
                                   "ais/@#/src/dir/a.flac", false);
    /* §9a C: quote(path, safe="@") */
    assert_string_equal(
        u, "http://10.1.2.3:51081/v1/etl/_object/ffx/QwErTyUiOp/ais%2F@%23%2Fsrc%2Fdir%2Fa.flac");
    free(u);
    u = locus_etl__hpull_url("http://t/x/", "b/o p+q", true);
    assert_string_equal(u, "http://t/x/b%2Fo%20p%2Bq?latest-ver=true");
    free(u);
}

static void test_decode_and_size(void **state)
{
    char *s = locus_etl__query_decode("a+b%2B%20", 9);
    assert_string_equal(s, "a b+ ");
    free(s);
    s = locus_etl__path_unescape("a+b%2B", 6);
    assert_string_equal(s, "a+b+");
    free(s);
    assert_null(locus_etl__path_unescape("a%00", 4));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize), cmocka_unit_test(test_fqn_query),
        cmocka_unit_test(test_fqn_path),  cmocka_unit_test(test_roots),
        cmocka_unit_test(test_uri_hpush), cmocka_unit_test(test_uri_v328_fqn),
        cmocka_unit_test(test_node_urls), cmocka_unit_test(test_direct_put_url),
        cmocka_unit_test(test_hpull_url), cmocka_unit_test(test_decode_and_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
