/*
 * test_config.c - node configuration: JSON loading, flag overrides, validation errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/util.h"

static void test_json_and_flags(void **state)
{
    config_t c;
    char err[LOCUS_ERR_LEN] = "";
    config_init(&c);
    assert_int_equal(config_load_json(&c,
                                      "{\"_comment\":\"x\",\"role\":\"target\",\"port\":9001,"
                                      "\"data_dir\":\"/d\",\"mountpaths\":[\"/m1\",\"/m2\"],"
                                      "\"primary_url\":\"http://127.0.0.1:9000/\","
                                      "\"keepalive_timeout\":\"1m30s\",\"fsync\":true,"
                                      "\"io_threads\":3}",
                                      err, sizeof(err)),
                     0);
    char *argv[] = {"locusd", "--port", "9002", "--log-level=debug", "--mountpath", "/m3"};
    assert_int_equal(config_parse_args(&c, 6, argv, err, sizeof(err)), 0);
    assert_int_equal(config_validate(&c, err, sizeof(err)), 0);
    assert_int_equal(c.role, ROLE_TARGET);
    assert_int_equal(c.port, 9002);
    assert_string_equal(c.log_level, "debug");
    assert_int_equal(c.n_mountpaths, 3);
    assert_string_equal(c.mountpaths[2], "/m3");
    assert_string_equal(c.primary_url, "http://127.0.0.1:9000");
    assert_string_equal(c.public_url, "http://127.0.0.1:9002");
    assert_true(c.keepalive_timeout_ns == 90LL * 1000000000LL);
    assert_true(c.fsync);
    assert_int_equal(c.io_threads, 3);
    config_dispose(&c);
}

static void test_config_file(void **state)
{
    char path[] = "/tmp/locus-test-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "{\"role\":\"proxy\",\n \"port\": 8080,\n \"data_dir\": \"/p\"}";
    assert_int_equal(write_all(fd, text, strlen(text)), 0);
    close(fd);
    config_t c;
    char err[LOCUS_ERR_LEN] = "";
    config_init(&c);
    char *argv[] = {"locusd", "--id", "p7", "--config", path};
    assert_int_equal(config_parse_args(&c, 5, argv, err, sizeof(err)), 0);
    assert_int_equal(config_validate(&c, err, sizeof(err)), 0);
    assert_int_equal(c.role, ROLE_PROXY);
    assert_string_equal(c.id, "p7"); /* flags win over the file wherever --config appears */
    assert_string_equal(c.config_file, path);
    assert_null(c.primary_url);
    config_dispose(&c);
    unlink(path);
}

/* The ETL sandbox's settings: commands off and the sandbox on unless the config says else. */
static void test_etl_sandbox_settings(void **state)
{
    config_t c;
    char err[LOCUS_ERR_LEN] = "";
    config_init(&c);
    assert_false(c.etl_allow_commands);
    assert_true(c.etl_sandbox);
    assert_int_equal(c.n_etl_sandbox_paths, 0);
#if defined(__SANITIZE_ADDRESS__)
    assert_true(c.etl_default_memory == 0); /* sanitizer builds: no default limit */
#else
    assert_true(c.etl_default_memory == 4LL << 30);
#endif
    assert_int_equal(config_load_json(&c, "{\"etl_default_memory\":\"512MiB\"}", err, sizeof(err)),
                     0);
    assert_true(c.etl_default_memory == 512LL << 20);
    assert_int_equal(config_load_json(&c, "{\"etl_default_memory\":0}", err, sizeof(err)), 0);
    assert_true(c.etl_default_memory == 0);
    assert_int_equal(config_load_json(&c, "{\"etl_default_memory\":\"lots\"}", err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "etl_default_memory"));
    assert_int_equal(config_load_json(&c,
                                      "{\"etl_allow_commands\":true,\"etl_sandbox\":false,"
                                      "\"etl_sandbox_paths\":[\"/opt/venv\",\"/srv/models\"]}",
                                      err, sizeof(err)),
                     0);
    char *argv[] = {"locusd", "--etl-sandbox-path", "/x", "--etl-sandbox"};
    assert_int_equal(config_parse_args(&c, 4, argv, err, sizeof(err)), 0);
    assert_true(c.etl_allow_commands);
    assert_true(c.etl_sandbox);
    assert_int_equal(c.n_etl_sandbox_paths, 3);
    assert_string_equal(c.etl_sandbox_paths[1], "/srv/models");
    assert_string_equal(c.etl_sandbox_paths[2], "/x");
    assert_int_equal(c.n_mountpaths, 0);
    config_dispose(&c);
}

static void expect_error(const char *json, char **argv, int argc, const char *needle)
{
    config_t c;
    char err[LOCUS_ERR_LEN] = "";
    config_init(&c);
    int rc = json ? config_load_json(&c, json, err, sizeof(err)) : 0;
    if (rc == 0 && argv)
        rc = config_parse_args(&c, argc, argv, err, sizeof(err));
    if (rc == 0)
        rc = config_validate(&c, err, sizeof(err));
    assert_int_equal(rc, -1);
    if (strstr(err, needle) == NULL)
        fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
    config_dispose(&c);
}

static void test_errors(void **state)
{
    expect_error("{\"role\":\"proxy\",\"port\":1,\"data_dir\":\"/d\",\"bogus\":1}", NULL, 0,
                 "unknown key \"bogus\"");
    expect_error("{\"role\":\"gateway\"}", NULL, 0, "role");
    expect_error("{\"role\":\"proxy\",\"port\":70000}", NULL, 0, "port");
    expect_error("{\"role\":\"proxy\",\"port\":1,\"data_dir\":\"/d\","
                 "\"keepalive_interval\":\"soon\"}",
                 NULL, 0, "invalid duration");
    expect_error("{\"role\":\"target\",\"port\":1,\"data_dir\":\"/d\","
                 "\"primary_url\":\"http://x:1\"}",
                 NULL, 0, "mountpath");
    expect_error("{\"role\":\"target\",\"port\":1,\"data_dir\":\"/d\",\"mountpaths\":[\"/m\"]}",
                 NULL, 0, "primary");
    expect_error("{\"role\": ", NULL, 0, "line");
    char *argv[] = {"locusd", "--no-such-flag"};
    expect_error(NULL, argv, 2, "unknown flag");
    char *argv2[] = {"locusd", "--port"};
    expect_error(NULL, argv2, 2, "needs a value");
    expect_error("{\"role\":\"proxy\",\"port\":1,\"data_dir\":\"/d\",\"log_level\":\"loud\"}", NULL,
                 0, "log_level");
    expect_error("{\"role\":\"proxy\",\"port\":1,\"data_dir\":\"/d\",\"io_threads\":65}", NULL, 0,
                 "io_threads");
    expect_error("{\"role\":\"proxy\",\"port\":1,\"data_dir\":\"/d\",\"io_threads\":-1}", NULL, 0,
                 "io_threads");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_and_flags),
        cmocka_unit_test(test_config_file),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_etl_sandbox_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
