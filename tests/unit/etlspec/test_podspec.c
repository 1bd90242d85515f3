/*
 * test_podspec.c - AIStore's pod-spec init messages (src/etlspec/podspec.c) and unknown keys of
 * init messages (src/etlspec/spec.c).
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
    cfg.etl_allow_commands = true;
    return 0;
}

static int teardown(void **state)
{
    config_dispose(&cfg);
    return 0;
}

/* AIStore's documented example (its CLI docs, "Example Pod Spec"). */
static const char md5_pod[] =
    "apiVersion: v1\n"
    "kind: Pod\n"
    "metadata:\n"
    "  name: etl-echo\n"
    "  annotations:\n"
    "    communication_type: \"hpull://\"\n"
    "    wait_timeout: \"5m\"\n"
    "spec:\n"
    "  containers:\n"
    "    - name: server\n"
    "      image: aistorage/transformer_md5:latest\n"
    "      ports: [{ name: default, containerPort: 8000 }]\n"
    "      command: [\"uvicorn\", \"fastapi_server:fastapi_app\", \"--host\", \"0.0.0.0\", "
    "\"--port\", \"8000\"]\n"
    "      readinessProbe:\n"
    "        httpGet: { path: /health, port: default }\n";

/* {"name": name, "spec": base64(pod)} plus extra fields (a JSON fragment or ""). */
static int parse_pod(const char *name, const char *pod, const char *extra, json_t **entry,
                     char *err, size_t errlen)
{
    char *b64 = base64_encode(pod, strlen(pod));
    char *text = xasprintf("{\"name\":\"%s\",\"spec\":\"%s\"%s}", name, b64, extra);
    json_t *msg = json_loads(text, 0, NULL);
    assert_non_null(msg);
    json_t *e = NULL;
    int rc = etl_spec_parse(&cfg, msg, &e, err, errlen);
    json_decref(msg);
    free(text);
    free(b64);
    if (entry)
        *entry = e;
    else
        json_decref(e);
    return rc;
}

static void test_reference_pod(void **state)
{
    char err[1024] = "";
    json_t *e = NULL;
    assert_int_equal(parse_pod("md5-pod", md5_pod, "", &e, err, sizeof(err)), 0);
    /* annotations as AIStore reads them, when the message does not say otherwise */
    assert_string_equal(json_string_value(json_object_get(e, "comm")), "hpull://");
    assert_true(json_integer_value(json_object_get(e, "init_timeout_ns")) == 300000000000LL);
    /* the image table wins: the container's own command names programs inside the image */
    const char *prog = json_string_value(json_array_get(json_object_get(e, "command"), 0));
    assert_non_null(strstr(prog, "/locus-etl-md5"));
    json_t *im = json_object_get(e, "init_msg");
    assert_null(json_object_get(im, "spec"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(im, "runtime"), "image")),
                        "aistorage/transformer_md5:latest");
    json_decref(e);
    /* the message's own communication wins over the annotation (the SDK always sends one) */
    assert_int_equal(
        parse_pod("md5-pod", md5_pod, ",\"communication\":\"hpush://\"", &e, err, sizeof(err)), 0);
    assert_string_equal(json_string_value(json_object_get(e, "comm")), "hpush://");
    json_decref(e);
}

static void test_own_command_port_env(void **state)
{
    static const char pod[] =
        "spec:\n"
        "  containers:\n"
        "  - image: me/server:1\n"
        "    command: [python3, /srv/app.py]\n"
        "    args: [\"--port\", \"9000\", \"--bind=0.0.0.0:9000\", \"19000\"]\n"
        "    ports: [{containerPort: 9000}]\n"
        "    env: [{name: MODE, value: 5}]\n"
        "    resources: {limits: {memory: 256Mi}}\n"
        "  volumes: [{name: scratch, emptyDir: {}}]\n"
        "  restartPolicy: Never\n";
    char err[1024] = "";
    json_t *e = NULL;
    assert_int_equal(parse_pod("own-pod", pod, "", &e, err, sizeof(err)), 0);
    json_t *cmd = json_object_get(e, "command");
    assert_int_equal(json_array_size(cmd), 6);
    assert_string_equal(json_string_value(json_array_get(cmd, 0)), "python3");
    assert_string_equal(json_string_value(json_array_get(cmd, 3)), "${PORT}");
    assert_string_equal(json_string_value(json_array_get(cmd, 4)), "--bind=0.0.0.0:${PORT}");
    assert_string_equal(json_string_value(json_array_get(cmd, 5)), "19000"); /* not the port */
    json_t *rt = json_object_get(json_object_get(e, "init_msg"), "runtime");
    json_t *env0 = json_array_get(json_object_get(rt, "env"), 0);
    assert_string_equal(json_string_value(json_object_get(env0, "value")), "5"); /* a string */
    etl_limits_t lim;
    assert_int_equal(etl_spec_limits(&cfg, json_object_get(e, "init_msg"), &lim, err, sizeof(err)),
                     0);
    assert_true(lim.memory == 256LL << 20);
    json_decref(e);
    /* not allowed to run commands: the unmapped image is a 403, as for runtime specs */
    cfg.etl_allow_commands = false;
    assert_int_equal(parse_pod("own-pod", pod, "", NULL, err, sizeof(err)), 403);
    cfg.etl_allow_commands = true;
}

static void expect_pod_400(const char *pod, const char *needle)
{
    char err[1024] = "";
    assert_int_equal(parse_pod("bad-pod", pod, "", NULL, err, sizeof(err)), 400);
    if (strstr(err, needle) == NULL)
        fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
}

static void test_pod_rejections(void **state)
{
    expect_pod_400("spec:\n  containers:\n  - {image: a/b}\n  - {image: c/d}\n", "2 containers");
    expect_pod_400("spec:\n  containers: [{image: a/b, command: [x]}]\n"
                   "  volumes: [{name: data, hostPath: {path: /data}}]\n",
                   "volume \"data\" (hostPath) cannot be mapped");
    expect_pod_400("spec:\n  containers: [{image: a/b, command: [x], volumeMounts: "
                   "[{name: s, mountPath: /data}]}]\n",
                   "volumeMount at \"/data\"");
    expect_pod_400("spec:\n  containers: [{image: unknown/img}]\n", "unknown image");
    expect_pod_400("spec:\n  initContainers: [{image: a}]\n  containers: [{image: a/b}]\n",
                   "unknown key \"initContainers\"");
    expect_pod_400("spec:\n  containers: [{image: a/b, comand: [x]}]\n", "unknown key \"comand\"");
    expect_pod_400("metadata: {anotations: {}}\nspec: {containers: [{image: a/b}]}\n",
                   "unknown key \"anotations\"");
    expect_pod_400("kind: Deployment\nspec: {containers: [{image: a/b}]}\n", "kind: Pod");
    expect_pod_400("spec: {containers: [{image: a/b, command: [x], env: [{name: S, valueFrom: "
                   "{secretKeyRef: {name: s, key: k}}}]}]}\n",
                   "valueFrom");
    expect_pod_400("spec: {containers: [{image: a/b, command: [x], readinessProbe: {httpGet: "
                   "{path: /ready, port: default}}}]}\n",
                   "/health");
    expect_pod_400("spec: {containers: [{image: a/b, command: [x], ports: [{containerPort: 1}, "
                   "{containerPort: 2}]}]}\n",
                   "one port");
    expect_pod_400("spec: {containers: [{image: a/b, command: [x], ports: [{containerPort: "
                   "70000}]}]}\n",
                   "containerPort");
    expect_pod_400("spec: {containers: [{command: [x]}]}\n", "image is required");
    expect_pod_400("a: [", "line");                                   /* YAML syntax */
    expect_pod_400("- 1\n", "must be a mapping");                     /* not a mapping */
    expect_pod_400("spec: {}\n---\nspec: {}\n", "one YAML document"); /* two Pods */
    expect_pod_400("a: &a [*a]\n", "line");                           /* recursive alias */
    /* ws:// needs direct put: the annotation gives it as AIStore reads it */
    char err[1024];
    assert_int_equal(parse_pod("ws-pod",
                               "metadata: {annotations: {communication_type: ws://}}\n"
                               "spec: {containers: [{image: aistorage/transformer_echo}]}\n",
                               "", NULL, err, sizeof(err)),
                     400);
    assert_int_equal(parse_pod("ws-pod",
                               "metadata: {annotations: {communication_type: ws://, "
                               "support_direct_put: \"true\"}}\n"
                               "spec: {containers: [{image: aistorage/transformer_echo}]}\n",
                               "", NULL, err, sizeof(err)),
                     0);
}

static void test_spec_bounds(void **state)
{
    char err[1024] = "";
    json_t *msg = json_pack("{s:s, s:s}", "name", "big-pod", "spec", "!!!notbase64");
    json_t *e = NULL;
    assert_int_equal(etl_spec_parse(&cfg, msg, &e, err, sizeof(err)), 400);
    assert_non_null(strstr(err, "base64"));
    json_decref(msg);
    size_t n = ETL_POD_SPEC_MAX + 10;
    char *big = xmalloc(n + 1);
    memset(big, '#', n);
    big[n] = '\0';
    char *b64 = base64_encode(big, n);
    msg = json_pack("{s:s, s:s}", "name", "big-pod", "spec", b64);
    assert_int_equal(etl_spec_parse(&cfg, msg, &e, err, sizeof(err)), 400);
    assert_non_null(strstr(err, "64 KiB"));
    json_decref(msg);
    free(b64);
    free(big);
}

static void expect_key_400(const char *text, const char *needle)
{
    char err[1024] = "";
    json_t *msg = json_loads(text, 0, NULL);
    assert_non_null(msg);
    json_t *e = NULL;
    assert_int_equal(etl_spec_parse(&cfg, msg, &e, err, sizeof(err)), 400);
    json_decref(msg);
    if (strstr(err, needle) == NULL)
        fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
}

static void test_unknown_keys(void **state)
{
    expect_key_400("{\"name\":\"good-name\",\"comunication\":\"hpush://\","
                   "\"runtime\":{\"image\":\"aistorage/transformer_md5\"}}",
                   "unknown key \"comunication\" in the init message");
    expect_key_400("{\"name\":\"good-name\",\"runtime\":{\"image\":\"aistorage/transformer_md5\","
                   "\"comand\":[\"x\"]}}",
                   "unknown key \"comand\" in runtime");
    expect_key_400("{\"name\":\"good-name\",\"runtime\":{\"image\":\"aistorage/transformer_md5\","
                   "\"env\":[{\"name\":\"A\",\"valeu\":\"1\"}]}}",
                   "unknown key \"valeu\" in runtime.env[]");
    expect_key_400("{\"name\":\"good-name\",\"resources\":{\"limit\":{}},"
                   "\"runtime\":{\"image\":\"aistorage/transformer_md5\"}}",
                   "unknown key \"limit\" in resources");
    expect_key_400("{\"name\":\"good-name\",\"spec\":\"YQ==\","
                   "\"runtime\":{\"image\":\"aistorage/transformer_md5\"}}",
                   "exclude each other");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_pod),  cmocka_unit_test(test_own_command_port_env),
        cmocka_unit_test(test_pod_rejections), cmocka_unit_test(test_spec_bounds),
        cmocka_unit_test(test_unknown_keys),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
