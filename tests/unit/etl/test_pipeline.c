/*
 * test_pipeline.c - ETL pipelines on the target (src/etl/pipeline.c): the etl_pipeline value
 * parser, the Ais-Node-Url list a request carries (later stages, then the direct-put
 * destination), and the ws control message's "pipeline" / "dst_addr".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etl/internal.h"

char *etl__ws_ctrl_json(const etl_req_t *rq);

static int split(const char *s, char names[][ETL_NAME_BUF], size_t *n, char *err)
{
    return etl_pipeline_split(s, strlen(s), names, 4, n, err, 256);
}

static void test_split_ok(void **state)
{
    char names[4][ETL_NAME_BUF], err[256];
    size_t n;
    assert_int_equal(split("upper-etl", names, &n, err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(names[0], "upper-etl");
    assert_int_equal(split(" upper-etl ,md5-etl1,  echo-etl", names, &n, err), 0);
    assert_int_equal(n, 3);
    assert_string_equal(names[0], "upper-etl");
    assert_string_equal(names[1], "md5-etl1");
    assert_string_equal(names[2], "echo-etl");
    assert_int_equal(split("same-etl,same-etl", names, &n, err), 0); /* twice: two passes */
    assert_int_equal(n, 2);
}

static void test_split_bad(void **state)
{
    char names[4][ETL_NAME_BUF], err[256];
    size_t n;
    const char *bad[] = {"",
                         ",",
                         "upper-etl,",
                         "upper-etl,,md5-etl1",
                         " , upper-etl",
                         "Upper-ETL",
                         "up",
                         "upper etl",
                         "-upper-etl",
                         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                         "stage-01,stage-02,stage-03,stage-04,stage-05",
                         "upper-etl;md5-etl1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(split(bad[i], names, &n, err), -1);
        assert_true(err[0] != '\0');
    }
    assert_non_null(strstr((split("a-etl-1,,b", names, &n, err), err), "empty stage name"));
    assert_non_null(strstr((split("s-0001,s-0002,s-0003,s-0004,s-0005", names, &n, err), err),
                           "more than 4 stages"));
    /* an embedded NUL is not a name */
    char nul[] = "upper-etl\0,evil-etl";
    assert_int_equal(etl_pipeline_split(nul, sizeof(nul) - 1, names, 4, &n, err, sizeof(err)), -1);
}

static void test_node_urls(void **state)
{
    etl_req_t rq = {.bck = "b", .obj = "o"};
    assert_null(etl_node_urls(&rq));
    rq.pipeline = "";
    rq.dst_url = "";
    assert_null(etl_node_urls(&rq));
    rq.pipeline = "http://127.0.0.1:2,http://127.0.0.1:3";
    char *s = etl_node_urls(&rq);
    assert_string_equal(s, "http://127.0.0.1:2,http://127.0.0.1:3");
    free(s);
    rq.dst_url = "http://t2:8081/ais%2F@%23%2Fdst%2Fo?uuid=J";
    s = etl_node_urls(&rq);
    assert_string_equal(
        s, "http://127.0.0.1:2,http://127.0.0.1:3,http://t2:8081/ais%2F@%23%2Fdst%2Fo?uuid=J");
    free(s);
    rq.pipeline = NULL;
    s = etl_node_urls(&rq);
    assert_string_equal(s, "http://t2:8081/ais%2F@%23%2Fdst%2Fo?uuid=J");
    free(s);
}

static void test_ws_ctrl(void **state)
{
    etl_req_t rq = {.bck = "b", .obj = "o", .dst_url = "http://t2:1/x"};
    char *j = etl__ws_ctrl_json(&rq);
    assert_string_equal(j, "{\"dst_addr\":\"http://t2:1/x\",\"pipeline\":\"http://t2:1/x\","
                           "\"path\":\"o\"}");
    free(j);
    /* with later stages: v3.28's dst_addr (no pipelines there) is left out */
    rq.pipeline = "http://127.0.0.1:5";
    j = etl__ws_ctrl_json(&rq);
    assert_string_equal(j, "{\"pipeline\":\"http://127.0.0.1:5,http://t2:1/x\",\"path\":\"o\"}");
    free(j);
    rq.dst_url = NULL;
    j = etl__ws_ctrl_json(&rq);
    assert_string_equal(j, "{\"pipeline\":\"http://127.0.0.1:5\",\"path\":\"o\"}");
    free(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_ok),
        cmocka_unit_test(test_split_bad),
        cmocka_unit_test(test_node_urls),
        cmocka_unit_test(test_ws_ctrl),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
