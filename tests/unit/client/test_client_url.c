/*
 * test_client_url.c - the pure parts of liblocus (src/client/client_url.c): "ais://b/o"
 * argument parsing, bucket name checks, endpoint normalization, URL building with
 * urllib.parse.quote-compatible escaping, error-message extraction.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "client/internal.h"

static void parse_ok(const char *arg, const char *want_b, const char *want_o)
{
    char *b = NULL, *o = NULL;
    char err[LOCUS_ERR_LEN] = "";
    assert_int_equal(locus_parse_name(arg, &b, &o, err), 0);
    assert_string_equal(b, want_b);
    if (want_o == NULL)
        assert_null(o);
    else
        assert_string_equal(o, want_o);
    free(b);
    free(o);
}

static void parse_bad(const char *arg)
{
    char *b = (char *)1, *o = (char *)1;
    char err[LOCUS_ERR_LEN] = "";
    assert_int_equal(locus_parse_name(arg, &b, &o, err), LOCUS_EINVAL);
    assert_null(b);
    assert_null(o);
    assert_true(err[0] != '\0');
}

static void test_parse_name_forms(void **state)
{
    (void)state;
    parse_ok("ais://b", "b", NULL);
    parse_ok("b", "b", NULL);
    parse_ok("ais://b/", "b", "");
    parse_ok("b/", "b", "");
    parse_ok("ais://b/o", "b", "o");
    parse_ok("b/o", "b", "o");
    parse_ok("ais://my-bck_1.x/dir/sub/file.txt", "my-bck_1.x", "dir/sub/file.txt");
    parse_ok("b/a b?c#d%25=e", "b", "a b?c#d%25=e");
    parse_ok("b/你好世界", "b", "你好世界");
    parse_ok("b/x://y", "b", "x://y"); /* "://" inside the object name */
    parse_ok("ais://b//o", "b", "/o"); /* kept verbatim; the server judges it */
}

static void test_parse_name_errors(void **state)
{
    (void)state;
    parse_bad("");
    parse_bad("ais://");
    parse_bad("ais:///o");
    parse_bad("/o");
    parse_bad("s3://b/o");
    parse_bad("gs://b");
    parse_bad("ais://.hidden");
    parse_bad("ais://a..b");
    parse_bad("b*d/o");
    parse_bad("bucket and name");
}

static void test_bucket_names(void **state)
{
    (void)state;
    char err[LOCUS_ERR_LEN];
    assert_int_equal(locus_check_bucket_name("abc", err), 0);
    assert_int_equal(locus_check_bucket_name("A-Z_0.9", err), 0);
    assert_int_equal(locus_check_bucket_name("INVALID_BCK_NAME", err), 0);
    char long64[65], long65[66];
    memset(long64, 'a', 64);
    long64[64] = '\0';
    memset(long65, 'a', 65);
    long65[65] = '\0';
    assert_int_equal(locus_check_bucket_name(long64, err), 0);
    assert_int_equal(locus_check_bucket_name(long65, err), LOCUS_EINVAL);
    const char *bad[] = {
        "",         "*",        ".",  " ",   "bucket/badname", "bucket and name", "#badname",
        "$badname", "~badname", ".x", "a..b"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(locus_check_bucket_name(bad[i], err), LOCUS_EINVAL);
    assert_int_equal(locus_check_bucket_name(NULL, NULL), LOCUS_EINVAL);
}

static void endpoint_is(const char *in, const char *want)
{
    char *got = client_normalize_endpoint(in);
    if (want == NULL) {
        assert_null(got);
        return;
    }
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_endpoint(void **state)
{
    (void)state;
    endpoint_is("http://127.0.0.1:8080", "http://127.0.0.1:8080");
    endpoint_is("http://127.0.0.1:8080/", "http://127.0.0.1:8080");
    endpoint_is("  http://h:1//  ", "http://h:1");
    endpoint_is("localhost:9000", "http://localhost:9000");
    endpoint_is("https://x.example", "https://x.example");
    endpoint_is("", NULL);
    endpoint_is("/", NULL);
    endpoint_is(NULL, NULL);
}

static void test_default_endpoint(void **state)
{
    (void)state;
    unsetenv("LOCUS_ENDPOINT");
    unsetenv("AIS_ENDPOINT");
    assert_string_equal(locus_default_endpoint(), LOCUS_DEFAULT_ENDPOINT);
    setenv("AIS_ENDPOINT", "http://ais:1", 1);
    assert_string_equal(locus_default_endpoint(), "http://ais:1");
    setenv("LOCUS_ENDPOINT", "http://locus:2", 1);
    assert_string_equal(locus_default_endpoint(), "http://locus:2");
    setenv("LOCUS_ENDPOINT", "", 1);
    assert_string_equal(locus_default_endpoint(), "http://ais:1");
    unsetenv("LOCUS_ENDPOINT");
    unsetenv("AIS_ENDPOINT");
}

static void url_is(char *got, const char *want)
{
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_urls(void **state)
{
    (void)state;
    const char *ep = "http://h:1";
    url_is(client_url(ep, "daemon", "what=smap"), "http://h:1/v1/daemon?what=smap");
    url_is(client_url(ep, "health", NULL), "http://h:1/v1/health");
    url_is(client_url(ep, "health", ""), "http://h:1/v1/health");
    url_is(client_url_bucket(ep, NULL, NULL), "http://h:1/v1/buckets?provider=ais");
    url_is(client_url_bucket(ep, "b", NULL), "http://h:1/v1/buckets/b?provider=ais");
    url_is(client_url_bucket(ep, "b", "bck_to=ais%2F%40%23%2Fd%2F"),
           "http://h:1/v1/buckets/b?provider=ais&bck_to=ais%2F%40%23%2Fd%2F");
    url_is(client_url_object(ep, "b", "o", NULL), "http://h:1/v1/objects/b/o?provider=ais");
    /* Exactly Python's urllib.parse.quote(name) (safe="/"). */
    url_is(client_url_object(ep, "b", "audio/raw/file.wav", NULL),
           "http://h:1/v1/objects/b/audio/raw/file.wav?provider=ais");
    url_is(client_url_object(ep, "b", "%", NULL), "http://h:1/v1/objects/b/%25?provider=ais");
    url_is(client_url_object(ep, "b", "%25", NULL), "http://h:1/v1/objects/b/%2525?provider=ais");
    url_is(client_url_object(ep, "b", "track?name=lofi&v=1", NULL),
           "http://h:1/v1/objects/b/track%3Fname%3Dlofi%26v%3D1?provider=ais");
    url_is(client_url_object(ep, "b", "file_#@!$%^&*()_+.mp3", NULL),
           "http://h:1/v1/objects/b/file_%23%40%21%24%25%5E%26%2A%28%29_%2B.mp3?provider=ais");
    url_is(client_url_object(ep, "b", "my audio file .m4a", NULL),
           "http://h:1/v1/objects/b/my%20audio%20file%20.m4a?provider=ais");
    url_is(client_url_object(ep, "b", "你好世界", NULL),
           "http://h:1/v1/objects/b/%E4%BD%A0%E5%A5%BD%E4%B8%96%E7%95%8C?provider=ais");
    url_is(client_url_object(ep, "b", "a\\(b", NULL),
           "http://h:1/v1/objects/b/a%5C%28b?provider=ais");
    url_is(client_url_object(ep, "b", "-x.ogg", NULL),
           "http://h:1/v1/objects/b/-x.ogg?provider=ais");
    url_is(client_url_object(ep, "b", ".audio_hidden.wav", NULL),
           "http://h:1/v1/objects/b/.audio_hidden.wav?provider=ais");
    url_is(client_url_object(ep, "b", "~tilde", NULL),
           "http://h:1/v1/objects/b/~tilde?provider=ais");
}

static void msg_is(const char *body, const char *want)
{
    char *got = client_error_message(body, body ? strlen(body) : 0);
    if (want == NULL) {
        assert_null(got);
        return;
    }
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_error_message(void **state)
{
    (void)state;
    msg_is("{\"message\":\"bucket \\\"ais://x\\\" does not exist\",\"status\":404}",
           "bucket \"ais://x\" does not exist");
    msg_is("{\"status\":404}", "{\"status\":404}");
    msg_is("  plain text error\nsecond line", "plain text error");
    msg_is("\"quoted\"", "quoted");
    msg_is("", NULL);
    msg_is(NULL, NULL);
    msg_is(" \r\n ", NULL);
}

static void test_trim_id(void **state)
{
    (void)state;
    char *s = client_trim_id("  abc123\n", 9);
    assert_string_equal(s, "abc123");
    free(s);
    s = client_trim_id("\"xyz\"", 5);
    assert_string_equal(s, "xyz");
    free(s);
    s = client_trim_id("", 0);
    assert_string_equal(s, "");
    free(s);
}

static void test_strerror(void **state)
{
    (void)state;
    assert_string_equal(locus_strerror(0), "success");
    assert_string_equal(locus_strerror(LOCUS_ENOENT), "not found");
    assert_string_equal(locus_strerror(LOCUS_EHTTP), "HTTP error");
    assert_string_equal(locus_strerror(LOCUS_EJOB), "job failed");
    assert_non_null(locus_strerror(-123456));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_name_forms), cmocka_unit_test(test_parse_name_errors),
        cmocka_unit_test(test_bucket_names),     cmocka_unit_test(test_endpoint),
        cmocka_unit_test(test_default_endpoint), cmocka_unit_test(test_urls),
        cmocka_unit_test(test_error_message),    cmocka_unit_test(test_trim_id),
        cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
