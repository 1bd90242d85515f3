/*
 * test_etl_spec.c - the pure ETL parts of liblocus (src/client/etl_spec.c): spec files (YAML,
 * multi-document, JSON) to init messages, including AIStore's published reference spec files
 * (tests/assets/aistore-specs, or $LOCUS_REFERENCE_SPECS), bad YAML, init messages from options,
 * `--ext` maps, job counters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/internal.h"

/* ------------------------------------------------------------------------------------------ */
/* helpers */

/* Parses text, expects n messages; returns them as JSON values (caller frees with free_all). */
static json_t **parse_ok(const char *text, size_t want_n)
{
    char **msgs = NULL;
    size_t n = 0;
    char err[LOCUS_ERR_LEN] = "";
    int rc = locus_etl_spec_parse(text, strlen(text), &msgs, &n, err);
    if (rc != 0)
        print_error("unexpected error: %s\n", err);
    assert_int_equal(rc, 0);
    assert_int_equal(n, want_n);
    json_t **v = calloc(n + 1, sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        json_error_t jerr;
        v[i] = json_loads(msgs[i], 0, &jerr);
        assert_non_null(v[i]);
        assert_true(json_is_object(v[i]));
    }
    locus_strv_free(msgs, n);
    return v;
}

static void free_all(json_t **v)
{
    for (size_t i = 0; v[i] != NULL; i++)
        json_decref(v[i]);
    free(v);
}

static void parse_bad(const char *text, const char *want_in_err)
{
    char **msgs = (char **)1;
    size_t n = 7;
    char err[LOCUS_ERR_LEN] = "";
    assert_int_equal(locus_etl_spec_parse(text, strlen(text), &msgs, &n, err), LOCUS_EINVAL);
    assert_null(msgs);
    assert_int_equal(n, 0);
    if (want_in_err != NULL && strstr(err, want_in_err) == NULL)
        fail_msg("error \"%s\" does not contain \"%s\"", err, want_in_err);
}

static const char *sget(json_t *o, const char *path)
{
    /* "a.b.c" */
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", path);
    json_t *cur = o;
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save))
        cur = json_object_get(cur, k);
    if (!json_is_string(cur))
        fail_msg("%s is not a string", path);
    return json_string_value(cur);
}

/* ------------------------------------------------------------------------------------------ */
/* reference spec files */

static char *specs_dir(void)
{
    const char *env = getenv("LOCUS_REFERENCE_SPECS");
    if (env != NULL && env[0])
        return strdup(env);
    /* __FILE__ = <repo>/tests/unit/client/test_etl_spec.c */
    const char *f = __FILE__;
    const char *p = strstr(f, "tests/unit/client/");
    if (p == NULL)
        return strdup("tests/assets/aistore-specs");
    return xasprintf("%.*stests/assets/aistore-specs", (int)(p - f), f);
}

static char *read_spec(const char *name)
{
    char *dir = specs_dir();
    char *path = xasprintf("%s/%s", dir, name);
    free(dir);
    char *data = NULL;
    size_t len = 0;
    int rc = read_file(path, &data, &len);
    free(path);
    return rc == 0 ? data : NULL;
}

static void check_reference(const char *file, const char *name, const char *image)
{
    char *text = read_spec(file);
    if (text == NULL)
        fail_msg("reference spec %s not found (tests/assets/aistore-specs)", file);
    json_t **v = parse_ok(text, 1);
    json_t *m = v[0];
    assert_string_equal(sget(m, "name"), name);
    assert_string_equal(sget(m, "runtime.image"), image);
    assert_string_equal(sget(m, "communication"), "hpush://");
    assert_string_equal(sget(m, "argument"), "fqn");
    assert_string_equal(sget(m, "init_timeout"), "5m");
    assert_string_equal(sget(m, "obj_timeout"), "45s");
    assert_true(json_is_true(json_object_get(m, "support_direct_put")));
    /* Commented-out commands stay out. */
    assert_null(json_object_get(json_object_get(m, "runtime"), "command"));
    free_all(v);
    free(text);
}

static void test_ref_echo(void **state)
{
    check_reference("echo.etl_spec.yaml", "echo-transformer-etl",
                    "aistorage/transformer_echo:latest");
}

static void test_ref_md5(void **state)
{
    check_reference("md5.etl_spec.yaml", "md5-transformer-etl", "aistorage/transformer_md5:latest");
}

static void test_ref_hello(void **state)
{
    check_reference("hello_world.etl_spec.yaml", "hello-world-etl",
                    "aistorage/transformer_hello_world:latest");
}

static void test_ref_hash_with_args(void **state)
{
    check_reference("hash_with_args.etl_spec.yaml", "hash-with-args-etl",
                    "aistorage/transformer_hash_with_args:latest");
    char *text = read_spec("hash_with_args.etl_spec.yaml");
    json_t **v = parse_ok(text, 1);
    json_t *env = json_object_get(json_object_get(v[0], "runtime"), "env");
    assert_int_equal(json_array_size(env), 1);
    assert_string_equal(sget(json_array_get(env, 0), "name"), "SEED_DEFAULT");
    assert_string_equal(sget(json_array_get(env, 0), "value"), "0");
    free_all(v);
    free(text);
}

static void test_ref_ffmpeg(void **state)
{
    check_reference("ffmpeg.etl_spec.yaml", "ffmpeg-etl-new",
                    "aistorage/transformer_ffmpeg:latest");
    char *text = read_spec("ffmpeg.etl_spec.yaml");
    json_t **v = parse_ok(text, 1);
    json_t *env = json_object_get(json_object_get(v[0], "runtime"), "env");
    assert_int_equal(json_array_size(env), 3);
    const char *want[][2] = {{"ETL_DIRECT_FQN", "true"}, {"AR", "44100"}, {"AC", "2"}};
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(sget(json_array_get(env, i), "name"), want[i][0]);
        assert_string_equal(sget(json_array_get(env, i), "value"), want[i][1]);
    }
    free_all(v);
    free(text);
}

/* ------------------------------------------------------------------------------------------ */
/* typing, multi-document, JSON */

static void test_typing(void **state)
{
    const char *y = "name: typed-etl\n"
                    "runtime:\n"
                    "  image: img\n"
                    "  command: [\"/usr/bin/python3\", server.py, --port, 8000]\n"
                    "  env:\n"
                    "    - {name: N, value: 500}\n"
                    "    - name: B\n"
                    "      value: true\n"
                    "init_timeout: 300\n"
                    "support_direct_put: false\n"
                    "resources: {requests: {cpu: 1, memory: 256Mi}}\n"
                    "extra: {i: 12, f: 1.5, n: ~, s: 'quoted 12', b: TRUE, h: 0x1f, w: 12abc}\n";
    json_t **v = parse_ok(y, 1);
    json_t *m = v[0];
    json_t *cmd = json_object_get(json_object_get(m, "runtime"), "command");
    assert_int_equal(json_array_size(cmd), 4);
    assert_string_equal(json_string_value(json_array_get(cmd, 3)), "8000");
    json_t *env = json_object_get(json_object_get(m, "runtime"), "env");
    assert_string_equal(sget(json_array_get(env, 0), "value"), "500");
    assert_string_equal(sget(json_array_get(env, 1), "value"), "true");
    assert_string_equal(sget(m, "init_timeout"), "300");
    assert_true(json_is_false(json_object_get(m, "support_direct_put")));
    assert_string_equal(sget(m, "resources.requests.cpu"), "1");
    json_t *x = json_object_get(m, "extra");
    assert_int_equal(json_integer_value(json_object_get(x, "i")), 12);
    assert_true(json_is_real(json_object_get(x, "f")));
    assert_true(json_is_null(json_object_get(x, "n")));
    assert_string_equal(sget(x, "s"), "quoted 12");
    assert_true(json_is_true(json_object_get(x, "b")));
    assert_int_equal(json_integer_value(json_object_get(x, "h")), 31);
    assert_string_equal(sget(x, "w"), "12abc");
    free_all(v);
}

static void test_multi_document(void **state)
{
    const char *y = "# two ETLs\n"
                    "name: first-etl\n"
                    "runtime: {image: a}\n"
                    "---\n"
                    "---\n"
                    "name: second-etl\n"
                    "runtime:\n"
                    "  image: b\n"
                    "...\n"
                    "---\n"
                    "name: third-etl\n"
                    "runtime: {image: c}\n"
                    "---\n";
    json_t **v = parse_ok(y, 3);
    assert_string_equal(sget(v[0], "name"), "first-etl");
    assert_string_equal(sget(v[1], "name"), "second-etl");
    assert_string_equal(sget(v[1], "runtime.image"), "b");
    assert_string_equal(sget(v[2], "name"), "third-etl");
    free_all(v);
}

static void test_aliases(void **state)
{
    const char *y = "common: &env [{name: A, value: 1}]\n"
                    "name: alias-etl\n"
                    "runtime: {image: x, env: *env}\n";
    json_t **v = parse_ok(y, 1);
    json_t *env = json_object_get(json_object_get(v[0], "runtime"), "env");
    assert_string_equal(sget(json_array_get(env, 0), "value"), "1");
    free_all(v);
    /* An alias bomb is cut off, not expanded. */
    buf_t b;
    buf_init(&b);
    buf_puts(&b, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for (int i = 1; i < 10; i++)
        buf_printf(&b, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n",
                   i, i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
    buf_puts(&b, "name: bomb\n");
    char *s = buf_steal(&b);
    parse_bad(s, "too large");
    free(s);
}

static void test_json_input(void **state)
{
    json_t **v = parse_ok(
        "  {\"name\":\"json-etl\",\"runtime\":{\"image\":\"i\"},\"obj_timeout\":\"9s\"}", 1);
    assert_string_equal(sget(v[0], "obj_timeout"), "9s");
    free_all(v);
    v = parse_ok("[{\"name\":\"one-etl\"},{\"name\":\"two-etl\"}]", 2);
    assert_string_equal(sget(v[1], "name"), "two-etl");
    free_all(v);
    /* A YAML flow mapping is not JSON but is accepted. */
    v = parse_ok("{name: flow-etl, runtime: {image: i}}\n", 1);
    assert_string_equal(sget(v[0], "runtime.image"), "i");
    free_all(v);
    parse_bad("{\"name\": \"x\",\n \"runtime\": {]}\n", "line 2");
    parse_bad("[1, 2]", "not an object");
}

static void test_bad_yaml(void **state)
{
    /* A tab indentation / bad mapping value: error names line and column. */
    parse_bad("name: bad-etl\nruntime:\n  image: x\n  env: [a, b\n", "line ");
    parse_bad("name: x\n  image: y\n", "line 2, column");
    parse_bad("name: \"unterminated\n", "line ");
    /* The second document is broken: nothing is returned for the first either. */
    parse_bad("name: ok-etl\nruntime: {image: a}\n---\nname: [\n", "line ");
    parse_bad("- a\n- b\n", "mapping");
    parse_bad("just a string\n", "mapping");
    parse_bad("", "no ETL spec");
    parse_bad("# only a comment\n", "no ETL spec");
    parse_bad("name: a\nname: b\n", "duplicate key \"name\"");
    parse_bad("? [a, b]\n: c\n", "key must be a scalar");
}

/* ------------------------------------------------------------------------------------------ */
/* options, ext, counters */

static void test_spec_json(void **state)
{
    const char *argv[] = {"/usr/bin/python3", "/x/py_server.py"};
    const char *env[] = {"MODE=upper", "EMPTY=", "EQ=a=b"};
    locus_etl_spec_t s = {.name = "opt-etl",
                          .image = "local",
                          .comm_type = "hpush",
                          .argv = argv,
                          .argc = 2,
                          .env = env,
                          .nenv = 3,
                          .init_timeout = "1m",
                          .direct_put = true};
    char *js = NULL;
    char err[LOCUS_ERR_LEN] = "";
    assert_int_equal(locus_etl_spec_json(&s, &js, err), 0);
    json_t *j = json_loads(js, 0, NULL);
    assert_string_equal(sget(j, "communication"), "hpush://");
    assert_string_equal(sget(j, "init_timeout"), "1m");
    assert_null(json_object_get(j, "obj_timeout"));
    assert_true(json_is_true(json_object_get(j, "support_direct_put")));
    json_t *rt = json_object_get(j, "runtime");
    assert_string_equal(json_string_value(json_array_get(json_object_get(rt, "command"), 1)),
                        "/x/py_server.py");
    json_t *e = json_object_get(rt, "env");
    assert_string_equal(sget(json_array_get(e, 0), "value"), "upper");
    assert_string_equal(sget(json_array_get(e, 1), "value"), "");
    assert_string_equal(sget(json_array_get(e, 2), "name"), "EQ");
    assert_string_equal(sget(json_array_get(e, 2), "value"), "a=b");
    json_decref(j);
    free(js);

    s.comm_type = "ws://";
    s.env = (const char *[]){"NOEQUALS"};
    s.nenv = 1;
    assert_int_equal(locus_etl_spec_json(&s, &js, err), LOCUS_EINVAL);
    assert_non_null(strstr(err, "NAME=VALUE"));
    s.nenv = 0;
    s.image = NULL;
    assert_int_equal(locus_etl_spec_json(&s, &js, err), LOCUS_EINVAL);
    assert_null(js);
}

static void ext_ok(const char *in, const char *want)
{
    char *js = NULL;
    char err[LOCUS_ERR_LEN] = "";
    int rc = locus_etl_parse_ext(in, &js, err);
    if (rc != 0)
        fail_msg("ext \"%s\": %s", in, err);
    assert_string_equal(js, want);
    free(js);
}

static void ext_bad(const char *in)
{
    char *js = (char *)1;
    char err[LOCUS_ERR_LEN] = "";
    assert_int_equal(locus_etl_parse_ext(in, &js, err), LOCUS_EINVAL);
    assert_null(js);
    assert_true(err[0] != '\0');
}

static void test_ext(void **state)
{
    ext_ok("{flac:wav}", "{\"flac\":\"wav\"}");
    ext_ok("{\"flac\":\"wav\"}", "{\"flac\":\"wav\"}");
    ext_ok(" { flac : wav , mp3:ogg } ", "{\"flac\":\"wav\",\"mp3\":\"ogg\"}");
    ext_ok("flac:wav,mp3:ogg", "{\"flac\":\"wav\",\"mp3\":\"ogg\"}");
    ext_ok("{'.jpg': '.txt'}", "{\"jpg\":\"txt\"}");
    ext_ok("{tar.gz:tgz}", "{\"tar.gz\":\"tgz\"}");
    ext_bad("{}");
    ext_bad("");
    ext_bad("{flac}");
    ext_bad("{flac:}");
    ext_bad("{:wav}");
    ext_bad("{flac:wav");
    ext_bad("{flac:wav} x");
    ext_bad("{\"flac:wav}");
    ext_bad("{a/b:c}");
    ext_bad(NULL);
}

static void test_totals(void **state)
{
    const char *js =
        "{\"t1\":[{\"id\":\"j\",\"end-time\":\"0001-01-01T00:00:00Z\",\"aborted\":false,"
        "\"stats\":{\"loc-objs\":\"2\",\"loc-bytes\":\"10\",\"out-objs\":\"1\",\"out-bytes\":\"5\","
        "\"in-objs\":\"0\",\"in-bytes\":\"0\"}}],"
        "\"t2\":[{\"id\":\"j\",\"end-time\":\"2026-01-01T00:00:00Z\",\"aborted\":true,"
        "\"stats\":{\"loc-objs\":3,\"loc-bytes\":\"7\",\"out-objs\":\"0\",\"in-objs\":\"1\","
        "\"in-bytes\":\"5\"}}]}";
    locus_job_totals_t t;
    char err[LOCUS_ERR_LEN] = "";
    assert_int_equal(locus_job_totals_parse(js, &t, err), 0);
    assert_int_equal(t.loc_objs, 5);
    assert_int_equal(t.loc_bytes, 17);
    assert_int_equal(t.out_objs, 1);
    assert_int_equal(t.out_bytes, 5);
    assert_int_equal(t.in_objs, 1);
    assert_int_equal(t.in_bytes, 5);
    assert_int_equal(t.written_bytes, 22); /* 17 here + 5 sent (counted twice: out and in) */
    assert_int_equal(t.ntargets, 2);
    assert_int_equal(t.nfinished, 1);
    assert_true(t.aborted);
    assert_int_equal(locus_job_totals_parse("[]", &t, err), LOCUS_EPROTO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ref_echo),       cmocka_unit_test(test_ref_md5),
        cmocka_unit_test(test_ref_hello),      cmocka_unit_test(test_ref_hash_with_args),
        cmocka_unit_test(test_ref_ffmpeg),     cmocka_unit_test(test_typing),
        cmocka_unit_test(test_multi_document), cmocka_unit_test(test_aliases),
        cmocka_unit_test(test_json_input),     cmocka_unit_test(test_bad_yaml),
        cmocka_unit_test(test_spec_json),      cmocka_unit_test(test_ext),
        cmocka_unit_test(test_totals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
