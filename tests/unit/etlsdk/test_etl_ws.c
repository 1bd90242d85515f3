/*
 * test_etl_ws.c - the pure parts of liblocus-etl's WebSocket transport (src/etlsdk/etl_ws.c):
 * the RFC 6455 handshake accept key, control-message parsing (docs/protocol.md §3.4: v3.28
 * dst_addr, current pipeline as a string or an array, fqn, etl_args, path) and the error reply
 * format documented in docs/etl-framework.md.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etlsdk/internal.h"

static void test_accept_key(void **state)
{
    char out[LOCUS_ETL__WS_ACCEPT_LEN + 1];
    /* RFC 6455 §1.3 sample */
    assert_int_equal(locus_etl__ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_int_equal(strlen(out), LOCUS_ETL__WS_ACCEPT_LEN);
    /* another key (value computed with Python: base64(sha1(key + GUID))) */
    assert_int_equal(locus_etl__ws_accept_key("x3JJHMbDL1EzLkh9GBhXDw==", out), 0);
    assert_string_equal(out, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
    /* malformed keys */
    assert_int_equal(locus_etl__ws_accept_key("", out), -EINVAL);
    assert_int_equal(locus_etl__ws_accept_key("dGhlIHNhbXBsZSBub25jZQ", out), -EINVAL);
    assert_int_equal(locus_etl__ws_accept_key("dGhlIHNhbXBsZSBub25jZQ===", out), -EINVAL);
    assert_int_equal(locus_etl__ws_accept_key("dGhlIHNhbXBsZSBub25j?Q==", out), -EINVAL);
    assert_int_equal(locus_etl__ws_accept_key(NULL, out), -EINVAL);
}

static int parse(const char *json, locus_etl__ws_ctrl_t *c)
{
    char err[256] = "";
    int rc = locus_etl__ws_ctrl_parse(json, strlen(json), c, err, sizeof(err));
    if (rc != 0)
        assert_true(err[0] != '\0');
    return rc;
}

static void test_ctrl_bytes_mode(void **state)
{
    locus_etl__ws_ctrl_t c;
    assert_int_equal(parse("{\"path\":\"dir/b.flac\"}", &c), 0);
    assert_string_equal(c.path, "dir/b.flac");
    assert_string_equal(c.args, "");
    assert_null(c.fqn);
    assert_null(c.dst_first);
    assert_null(c.dst_rest);
    locus_etl__ws_ctrl_dispose(&c);

    /* everything optional; unknown keys and nulls ignored */
    assert_int_equal(parse("{}", &c), 0);
    assert_string_equal(c.path, "");
    assert_string_equal(c.args, "");
    assert_null(c.fqn);
    locus_etl__ws_ctrl_dispose(&c);
    assert_int_equal(parse(" {\"x\":[1,2],\"etl_args\":null,\"fqn\":\"\",\"pipeline\":null,"
                           "\"dst_addr\":\"\",\"path\":\"a b/\\u00e9\"}\n",
                           &c),
                     0);
    assert_string_equal(c.path, "a b/\xc3\xa9");
    assert_string_equal(c.args, "");
    assert_null(c.fqn);
    assert_null(c.dst_first);
    locus_etl__ws_ctrl_dispose(&c);

    assert_int_equal(parse("{\"path\":\"o\",\"etl_args\":\"{\\\"k\\\":1}\"}", &c), 0);
    assert_string_equal(c.args, "{\"k\":1}");
    locus_etl__ws_ctrl_dispose(&c);
}

static void test_ctrl_fqn(void **state)
{
    locus_etl__ws_ctrl_t c;
    /* §9a D: single PathEscape */
    assert_int_equal(parse("{\"fqn\":\"%2Fais%2Fmp1%2F@ais%2Fsrc%2F%25ob%2Fdir%2Fa.flac\","
                           "\"path\":\"dir/a.flac\"}",
                           &c),
                     0);
    assert_string_equal(c.fqn, "/ais/mp1/@ais/src/%ob/dir/a.flac");
    assert_string_equal(c.path, "dir/a.flac");
    locus_etl__ws_ctrl_dispose(&c);
    /* unescaped paths work too; traversal is normalized away */
    assert_int_equal(parse("{\"fqn\":\"/mp/../../etc/passwd\"}", &c), 0);
    assert_string_equal(c.fqn, "/etc/passwd");
    locus_etl__ws_ctrl_dispose(&c);
    assert_int_equal(parse("{\"fqn\":\"mp/x\"}", &c), 0);
    assert_string_equal(c.fqn, "/mp/x");
    locus_etl__ws_ctrl_dispose(&c);
    /* malformed escapes and NUL bytes are refused */
    assert_int_equal(parse("{\"fqn\":\"%2Fmp%2\"}", &c), -EINVAL);
    assert_null(c.path);
    assert_int_equal(parse("{\"fqn\":\"%2Fmp%00x\"}", &c), -EINVAL);
}

static void test_ctrl_direct_put(void **state)
{
    locus_etl__ws_ctrl_t c;
    const char *d = "http://10.1.2.4:51081/ais%2F@%23%2Fdst%2Fdir%2Fa.wav?owt=3&uuid=Hk3dL0aXq";
    char json[512];

    /* v3.28 */
    snprintf(json, sizeof(json), "{\"dst_addr\":\"%s\",\"path\":\"dir/a.flac\"}", d);
    assert_int_equal(parse(json, &c), 0);
    assert_string_equal(c.dst_first, d);
    assert_null(c.dst_rest);
    locus_etl__ws_ctrl_dispose(&c);

    /* current, one string (Go) */
    snprintf(json, sizeof(json), "{\"pipeline\":\"%s\"}", d);
    assert_int_equal(parse(json, &c), 0);
    assert_string_equal(c.dst_first, d);
    assert_null(c.dst_rest);
    locus_etl__ws_ctrl_dispose(&c);

    /* both (what Locus sends): pipeline wins */
    snprintf(json, sizeof(json), "{\"dst_addr\":\"http://old:1/x\",\"pipeline\":\"%s\"}", d);
    assert_int_equal(parse(json, &c), 0);
    assert_string_equal(c.dst_first, d);
    locus_etl__ws_ctrl_dispose(&c);

    /* empty pipeline: dst_addr */
    assert_int_equal(parse("{\"dst_addr\":\"http://h:1/x\",\"pipeline\":\"\"}", &c), 0);
    assert_string_equal(c.dst_first, "http://h:1/x");
    locus_etl__ws_ctrl_dispose(&c);

    /* a pipeline list: string with commas, or an array */
    assert_int_equal(parse("{\"pipeline\":\"http://e2:8000, http://e3:8000,http://t:1/u\"}", &c),
                     0);
    assert_string_equal(c.dst_first, "http://e2:8000");
    assert_string_equal(c.dst_rest, "http://e3:8000,http://t:1/u");
    locus_etl__ws_ctrl_dispose(&c);
    assert_int_equal(
        parse("{\"pipeline\":[\"http://e2:8000\",\"http://e3:8000\",\"http://t:1/u\"]}", &c), 0);
    assert_string_equal(c.dst_first, "http://e2:8000");
    assert_string_equal(c.dst_rest, "http://e3:8000,http://t:1/u");
    locus_etl__ws_ctrl_dispose(&c);
    assert_int_equal(parse("{\"pipeline\":[\"http://t:1/u\"]}", &c), 0);
    assert_string_equal(c.dst_first, "http://t:1/u");
    assert_null(c.dst_rest);
    locus_etl__ws_ctrl_dispose(&c);
    assert_int_equal(parse("{\"pipeline\":[]}", &c), 0);
    assert_null(c.dst_first);
    locus_etl__ws_ctrl_dispose(&c);
}

static void test_ctrl_malformed(void **state)
{
    locus_etl__ws_ctrl_t c;
    assert_int_equal(parse("", &c), -EINVAL);
    assert_int_equal(parse("not json", &c), -EINVAL);
    assert_int_equal(parse("[1,2]", &c), -EINVAL);
    assert_int_equal(parse("\"path\"", &c), -EINVAL);
    assert_int_equal(parse("{\"path\":1}", &c), -EINVAL);
    assert_int_equal(parse("{\"etl_args\":{}}", &c), -EINVAL);
    assert_int_equal(parse("{\"fqn\":true}", &c), -EINVAL);
    assert_int_equal(parse("{\"dst_addr\":[\"x\"]}", &c), -EINVAL);
    assert_int_equal(parse("{\"pipeline\":5}", &c), -EINVAL);
    assert_int_equal(parse("{\"pipeline\":[\"http://a:1\",2]}", &c), -EINVAL);
    assert_int_equal(parse("{\"path\":\"a\"} trailing", &c), -EINVAL);
    /* a JSON text with a NUL byte inside the buffer */
    char err[128];
    assert_int_equal(locus_etl__ws_ctrl_parse("{}\0x", 4, &c, err, sizeof(err)), -EINVAL);
    /* the buffer need not be NUL-terminated */
    const char *two = "{\"path\":\"a\"}{\"path\":\"b\"}";
    assert_int_equal(locus_etl__ws_ctrl_parse(two, 12, &c, err, sizeof(err)), 0);
    assert_string_equal(c.path, "a");
    locus_etl__ws_ctrl_dispose(&c);
}

static void test_error_text(void **state)
{
    size_t n;
    char *t = locus_etl__ws_error_text(404, "cannot open /mp/x: No such file or directory", &n);
    assert_string_equal(t, "ETL-ERROR 404 cannot open /mp/x: No such file or directory");
    assert_int_equal(n, strlen(t));
    free(t);
    t = locus_etl__ws_error_text(0, NULL, &n);
    assert_string_equal(t, "ETL-ERROR 500 transform failed");
    free(t);
    /* invalid UTF-8 is replaced, valid multi-byte sequences kept */
    t = locus_etl__ws_error_text(500, "bad \xff\xfe name \xc3\xa9 \xe2\x82 x \xed\xa0\x80", &n);
    assert_string_equal(t, "ETL-ERROR 500 bad ?? name \xc3\xa9 ?? x ???");
    free(t);
    /* long messages are cut */
    char big[10000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    t = locus_etl__ws_error_text(413, big, &n);
    assert_true(n > 3000 && n < 4100);
    assert_memory_equal(t, "ETL-ERROR 413 aaa", 17);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_key),     cmocka_unit_test(test_ctrl_bytes_mode),
        cmocka_unit_test(test_ctrl_fqn),       cmocka_unit_test(test_ctrl_direct_put),
        cmocka_unit_test(test_ctrl_malformed), cmocka_unit_test(test_error_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
