/*
 * test_spec.c - ETL init message validation (src/etlspec/spec.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "common/config.h"
#include "common/util.h"
#include "etlspec/etlspec.h"

static config_t cfg;

static int setup(void **state)
{
    config_init(&cfg);
    cfg.etl_allow_commands = true; /* test_commands_not_allowed turns it off */
    return 0;
}

static int teardown(void **state)
{
    config_dispose(&cfg);
    return 0;
}

/* Parses text; returns the status and fills err; entry is freed unless wanted. */
static int parse(const char *text, json_t **entry, char *err, size_t errlen)
{
    json_t *msg = json_loads(text, 0, NULL);
    assert_non_null(msg);
    json_t *e = NULL;
    int rc = etl_spec_parse(&cfg, msg, &e, err, errlen);
    json_decref(msg);
    if (entry)
        *entry = e;
    else
        json_decref(e);
    return rc;
}

static void test_names(void **state)
{
    assert_null(etl_name_check("md5-etl"));
    assert_null(etl_name_check("abcdef"));
    assert_null(etl_name_check("a1234567890123456789012345678901")); /* 32 */
    assert_non_null(etl_name_check("abcde"));
    assert_non_null(etl_name_check("a12345678901234567890123456789012")); /* 33 */
    assert_non_null(etl_name_check("Bad_Name"));
    assert_non_null(etl_name_check("-abcdef"));
    assert_non_null(etl_name_check("abcdef-"));
    assert_non_null(etl_name_check(NULL));
}

static void test_defaults_and_builtin_image(void **state)
{
    char err[512] = "";
    json_t *e;
    assert_int_equal(
        parse("{\"name\":\"md5-etl\",\"runtime\":{\"image\":\"aistorage/transformer_md5:latest\"}}",
              &e, err, sizeof(err)),
        0);
    assert_string_equal(json_string_value(json_object_get(e, "comm")), "hpush://");
    assert_true(json_integer_value(json_object_get(e, "obj_timeout_ns")) == 10000000000LL);
    assert_true(json_integer_value(json_object_get(e, "init_timeout_ns")) == 45000000000LL);
    json_t *cmd = json_object_get(e, "command");
    assert_int_equal(json_array_size(cmd), 3);
    const char *prog = json_string_value(json_array_get(cmd, 0));
    assert_true(strstr(prog, "/locus-etl-md5") != NULL);
    assert_string_equal(json_string_value(json_array_get(cmd, 2)), "${PORT}");
    /* the stored init message is what views echo: timeouts as strings, name, communication */
    json_t *im = json_object_get(e, "init_msg");
    assert_string_equal(json_string_value(json_object_get(im, "obj_timeout")), "10s");
    assert_string_equal(json_string_value(json_object_get(im, "communication")), "hpush://");
    json_decref(e);
}

static void test_own_command_and_timeouts(void **state)
{
    char err[512] = "";
    json_t *e;
    assert_int_equal(parse("{\"name\":\"my-etl-1\",\"communication\":\"hpush\","
                           "\"init_timeout\":\"1m30s\",\"obj_timeout\":5,"
                           "\"runtime\":{\"image\":\"me/mine\",\"command\":[\"./srv\",\"-p\","
                           "\"${PORT}\"],\"env\":[{\"name\":\"A\",\"value\":\"1\"}]}}",
                           &e, err, sizeof(err)),
                     0);
    assert_string_equal(json_string_value(json_object_get(e, "comm")), "hpush://");
    assert_true(json_integer_value(json_object_get(e, "init_timeout_ns")) == 90000000000LL);
    assert_true(json_integer_value(json_object_get(e, "obj_timeout_ns")) == 5000000000LL);
    assert_string_equal(json_string_value(json_array_get(json_object_get(e, "command"), 0)),
                        "./srv");
    json_decref(e);
}

static void expect_400(const char *text, const char *needle)
{
    char err[512] = "";
    assert_int_equal(parse(text, NULL, err, sizeof(err)), 400);
    if (strstr(err, needle) == NULL)
        fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
}

static void test_errors(void **state)
{
    expect_400("[]", "JSON object");
    expect_400("{\"runtime\":{\"image\":\"x\"}}", "\"name\" is required");
    expect_400("{\"name\":\"Bad_Name\",\"runtime\":{\"image\":\"x\"}}", "invalid ETL name");
    expect_400("{\"name\":\"good-name\"}", "runtime.image is required");
    expect_400("{\"name\":\"good-name\",\"runtime\":{\"image\":\"unknown/img\"}}", "unknown image");
    expect_400("{\"name\":\"good-name\",\"communication\":\"foo://\","
               "\"runtime\":{\"image\":\"aistorage/transformer_md5\"}}",
               "unknown communication");
    expect_400("{\"name\":\"good-name\",\"obj_timeout\":\"soon\","
               "\"runtime\":{\"image\":\"aistorage/transformer_md5\"}}",
               "obj_timeout");
    expect_400("{\"name\":\"good-name\",\"runtime\":{\"image\":\"x\",\"command\":[1]}}",
               "unknown image");
    expect_400("{\"name\":\"good-name\",\"runtime\":{\"image\":\"aistorage/transformer_md5\","
               "\"env\":[{\"value\":\"1\"}]}}",
               "env");
    expect_400("{\"name\":\"good-name\",\"spec\":\"YWJj\"}", "must be a mapping");
    /* Seconds past int64 nanoseconds: refused, not multiplied into undefined behaviour. */
    expect_400("{\"name\":\"good-name\",\"obj_timeout\":9223372036854775807,"
               "\"runtime\":{\"image\":\"aistorage/transformer_md5\"}}",
               "obj_timeout");
    expect_400("{\"name\":\"good-name\",\"init_timeout\":9223372037,"
               "\"runtime\":{\"image\":\"aistorage/transformer_md5\"}}",
               "init_timeout");
    expect_400("{\"name\":\"good-name\",\"init_timeout\":\"9999999999999h\","
               "\"runtime\":{\"image\":\"aistorage/transformer_md5\"}}",
               "init_timeout");
}

#define MD5_RT "\"runtime\":{\"image\":\"aistorage/transformer_md5\"}"

static void test_option_errors(void **state)
{
    expect_400("{\"name\":\"good-name\",\"communication\":7," MD5_RT "}", "must be a string");
    expect_400("{\"name\":\"good-name\",\"communication\":\"ws\"," MD5_RT "}", "direct put");
    expect_400("{\"name\":\"good-name\",\"argument\":\"path\"," MD5_RT "}", "argument");
    expect_400("{\"name\":\"good-name\",\"locus_unix_socket\":1," MD5_RT "}",
               "locus_unix_socket must be a boolean");
    expect_400("{\"name\":\"good-name\",\"locus_unix_socket\":true,"
               "\"communication\":\"hpull://\"," MD5_RT "}",
               "not possible with hpull");
    expect_400("{\"name\":\"good-name\",\"support_direct_put\":\"yes\"," MD5_RT "}",
               "support_direct_put must be a boolean");
    expect_400("{\"name\":\"good-name\",\"communication\":\"io://\"," MD5_RT "}",
               "io:// needs runtime.command");
    /* Regression (found by tests/fuzz/fuzz_etl_spec.c): seconds * 10^9 overflowed int64 (UB;
     * in practice 18446744074 s wrapped around to an init timeout of 0.29 s). */
    expect_400("{\"name\":\"good-name\",\"init_timeout\":18446744074," MD5_RT "}", "init_timeout");
    expect_400("{\"name\":\"good-name\",\"init_timeout\":9223372037," MD5_RT "}", "init_timeout");
    expect_400("{\"name\":\"good-name\",\"obj_timeout\":9223372036854775807," MD5_RT "}",
               "obj_timeout");
}

static void test_io_direct_put_and_socket(void **state)
{
    char err[512] = "";
    json_t *e;
    /* v3.28 "id"; io:// takes the spec's command even for an image of the table */
    assert_int_equal(parse("{\"id\":\"gzip-etl\",\"communication\":\"io\","
                           "\"support_direct_put\":true,\"runtime\":{\"image\":"
                           "\"aistorage/transformer_md5\",\"command\":[\"gzip\",\"-c\"]}}",
                           &e, err, sizeof(err)),
                     0);
    assert_string_equal(json_string_value(json_object_get(e, "comm")), "io://");
    assert_true(json_is_true(json_object_get(e, "direct_put")));
    json_t *im = json_object_get(e, "init_msg");
    assert_string_equal(json_string_value(json_object_get(im, "name")), "gzip-etl");
    assert_string_equal(json_string_value(json_array_get(json_object_get(e, "command"), 0)),
                        "gzip");
    assert_false(etl_wants_unix_socket(&cfg, e)); /* io:// has no server */
    json_decref(e);
    assert_int_equal(
        parse("{\"name\":\"md5-etl\",\"locus_unix_socket\":true," MD5_RT "}", &e, err, sizeof(err)),
        0);
    assert_false(json_is_true(json_object_get(e, "direct_put")));
    assert_true(etl_wants_unix_socket(&cfg, e));
    json_decref(e);
}

/* Defect 6: without etl_allow_commands a node runs only its image table; the refusal is a 403
 * that names the setting, and a mapped image still works. */
static void test_commands_not_allowed(void **state)
{
    cfg.etl_allow_commands = false;
    const char *refused[] = {
        "{\"name\":\"sh-etl\",\"runtime\":{\"image\":\"x/y\",\"command\":[\"sh\",\"-c\",\"id\"]}}",
        "{\"name\":\"io-etl\",\"communication\":\"io://\"," MD5_RT ",\"x\":1}",
        "{\"name\":\"io-etl\",\"communication\":\"io://\",\"runtime\":{\"image\":\"none\","
        "\"command\":[\"cat\"]}}",
    };
    char err[512];
    for (size_t i = 0; i < 3; i++) {
        err[0] = '\0';
        int rc = parse(refused[i], NULL, err, sizeof(err));
        if (i == 1) { /* io:// without a command stays a 400 */
            assert_int_equal(rc, 400);
            continue;
        }
        assert_int_equal(rc, 403);
        assert_non_null(strstr(err, "etl_allow_commands"));
        assert_non_null(strstr(err, "not allowed on this node"));
    }
    json_t *e = NULL;
    assert_int_equal(parse("{\"name\":\"md5-etl\"," MD5_RT "}", &e, err, sizeof(err)), 0);
    json_decref(e);
    /* the node's own table (etl_images) is the admin's choice, not the requester's */
    cfg.etl_images = json_pack("{s:[s,s]}", "my/img", "/opt/srv", "${PORT}");
    assert_int_equal(parse("{\"name\":\"my-etl\",\"runtime\":{\"image\":\"my/img:2\","
                           "\"command\":[\"sh\"]}}",
                           &e, err, sizeof(err)),
                     0);
    assert_string_equal(json_string_value(json_array_get(json_object_get(e, "command"), 0)),
                        "/opt/srv");
    json_decref(e);
    json_decref(cfg.etl_images);
    cfg.etl_images = NULL;
    cfg.etl_allow_commands = true;
}

static int limits_of(const char *resources, etl_limits_t *lim, char *err, size_t errlen)
{
    char *text = xasprintf("{\"name\":\"lim-etl\",\"resources\":%s}", resources);
    json_t *msg = json_loads(text, 0, NULL);
    free(text);
    assert_non_null(msg);
    int rc = etl_spec_limits(&cfg, msg, lim, err, errlen);
    json_decref(msg);
    return rc;
}

/* resources as AIStore spells it (Kubernetes quantities) plus our two keys. */
static void test_limits(void **state)
{
    etl_limits_t lim;
    char err[512] = "";
    cfg.etl_default_memory = 4LL << 30; /* a release build's default (none under sanitizers) */
    assert_int_equal(limits_of("null", &lim, err, sizeof(err)), 0);
    assert_true(lim.memory == 4LL << 30 && lim.open_files == ETL_DEFAULT_OPEN_FILES &&
                lim.processes == ETL_DEFAULT_PROCESSES);
    cfg.etl_default_memory = 0; /* the node's default: none (sanitizer builds) */
    assert_int_equal(limits_of("{}", &lim, err, sizeof(err)), 0);
    assert_true(lim.memory == 0);
    assert_int_equal(limits_of("{\"limits\":{\"memory\":\"1Gi\"}}", &lim, err, sizeof(err)), 0);
    assert_true(lim.memory == 1LL << 30); /* the spec's own still applies */
    cfg.etl_default_memory = 4LL << 30;
    assert_int_equal(limits_of("{\"requests\":{\"memory\":\"256Mi\",\"cpu\":\"500m\"},"
                               "\"limits\":{\"memory\":\"512Mi\",\"cpu\":1,"
                               "\"locus/open-files\":\"256\",\"locus/processes\":32,"
                               "\"nvidia.com/gpu\":\"1\"}}",
                               &lim, err, sizeof(err)),
                     0);
    assert_true(lim.memory == 512LL << 20);
    assert_true(lim.open_files == 256 && lim.processes == 32);
    const struct {
        const char *q;
        int64_t bytes;
    } ok[] = {{"\"1Gi\"", 1LL << 30},  {"\"1.5Gi\"", 3LL << 29}, {"\"100M\"", 100000000},
              {"\"1e8\"", 100000000},  {"\"0.5Gi\"", 1LL << 29}, {"67108864", 64LL << 20},
              {"\"64Mi\"", 64LL << 20}};
    for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
        char *r = xasprintf("{\"limits\":{\"memory\":%s}}", ok[i].q);
        assert_int_equal(limits_of(r, &lim, err, sizeof(err)), 0);
        assert_true(lim.memory == ok[i].bytes);
        free(r);
    }
    const char *bad[] = {"{\"limits\":{\"memory\":\"lots\"}}",
                         "{\"limits\":{\"memory\":\"1Mi\"}}", /* below 16 MiB */
                         "{\"limits\":{\"memory\":\"-1Gi\"}}",
                         "{\"limits\":{\"memory\":\"1GB\"}}",
                         "{\"limits\":{\"locus/open-files\":\"0\"}}",
                         "{\"limits\":{\"cpu\":\"fast\"}}",
                         "{\"limits\":[1]}",
                         "\"512Mi\""};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        err[0] = '\0';
        assert_int_equal(limits_of(bad[i], &lim, err, sizeof(err)), 400);
        assert_non_null(strstr(err, "resources"));
    }
    /* the init message is checked whole: a bad limit refuses the ETL */
    expect_400("{\"name\":\"good-name\",\"resources\":{\"limits\":{\"memory\":\"x\"}}," MD5_RT "}",
               "resources.limits.memory");
    char size[32];
    etl_size_str(256LL << 20, size, sizeof(size));
    assert_string_equal(size, "256MiB");
    etl_size_str(100000000, size, sizeof(size));
    assert_string_equal(size, "100000000B");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_defaults_and_builtin_image),
        cmocka_unit_test(test_own_command_and_timeouts),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_option_errors),
        cmocka_unit_test(test_io_direct_put_and_socket),
        cmocka_unit_test(test_commands_not_allowed),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
