/*
 * test_sandbox.c - the ETL sandbox (src/etl/sandbox.c, src/etl/sandbox/exec.c): the bwrap
 * command line it builds (namespaces, read-only mountpaths, node state covered, the helper with
 * the ETL's limits, the command last), how it reads the end of a process (bwrap's 128 + signal,
 * running out of memory), and, where bwrap runs (as root, like CI), io:// commands really run in
 * it: as uid 65534, unable to write a mountpath or read the node's config, stopped by their
 * memory limit with a reason that says so.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "etl_fixture.h"

#ifndef LOCUS_TEST_BIN_DIR
#error "LOCUS_TEST_BIN_DIR (the build's bin dir) must be defined by tests/CMakeLists.txt"
#endif

static char *mp, *extra, *config_path;

static int setup(void **state)
{
    if (fx_node_setup() != 0)
        return -1;
    /* A target whose mountpath lies in its data dir, which lies in an etl_sandbox_paths entry
     * (the data dir must be covered, the mountpath still visible). */
    mp = xasprintf("%s/mp1", fx_data_dir);
    extra = xstrdup(fx_data_dir);
    config_path = xasprintf("%s/config.json", fx_data_dir);
    mkdir(mp, 0755);
    FILE *f = fopen(config_path, "w");
    assert_non_null(f);
    fputs("{\"secret\": \"node config\"}\n", f);
    fclose(f);
    fx_cfg.mountpaths[fx_cfg.n_mountpaths++] = xstrdup(mp);
    fx_cfg.etl_sandbox_paths[fx_cfg.n_etl_sandbox_paths++] = xstrdup(extra);
    fx_cfg.config_file = xstrdup(config_path);
    fx_cfg.etl_sandbox = true;
    free(fx_cfg.bin_dir);
    fx_cfg.bin_dir = xstrdup(LOCUS_TEST_BIN_DIR);
    return 0;
}

static int teardown(void **state)
{
    free(mp);
    free(extra);
    free(config_path);
    return fx_node_teardown();
}

static etl_inst_t *sandboxed_io(etl_inst_t *e, const char *cmd_json, int64_t memory)
{
    fx_io_inst(e, cmd_json, 10000);
    e->sandboxed = true;
    e->limits = (etl_limits_t){.memory = memory, .open_files = 64, .processes = 4096};
    return e;
}

/* Index of the first i >= from with v[i] == a (and v[i + 1] == b when b), or -1. */
static int find(char **v, int from, const char *a, const char *b)
{
    for (int i = from; v[i]; i++)
        if (strcmp(v[i], a) == 0 && (b == NULL || (v[i + 1] && strcmp(v[i + 1], b) == 0)))
            return i;
    return -1;
}

static void test_command_line(void **state)
{
    etl_inst_t e;
    sandboxed_io(&e, "[\"cat\"]", 64LL << 20);
    char *cmd[] = {"my-server", "--port", "8000", NULL};
    char err[512] = "";
    char **v = etl_sandbox_argv(&e, cmd, err, sizeof(err));
    if (v == NULL) {
        json_decref(e.entry);
        skip(); /* no bwrap on this machine: the runtime then fails with err */
    }
    assert_non_null(strstr(v[0], "bwrap"));
    const char *flags[] = {"--die-with-parent", "--unshare-pid", "--unshare-ipc", "--unshare-uts"};
    for (size_t i = 0; i < ARRAY_SIZE(flags); i++)
        assert_true(find(v, 1, flags[i], NULL) > 0);
    assert_int_equal(find(v, 1, "--unshare-net", NULL), -1); /* loopback to the targets */
    assert_int_equal(find(v, 1, "--bind", "/"), -1);
    assert_true(find(v, 1, "--ro-bind", "/usr") > 0);
    assert_true(find(v, 1, "--tmpfs", "/tmp") > 0);
    int ro_extra = find(v, 1, "--ro-bind", extra);
    int cover = find(v, 1, "--tmpfs", fx_data_dir);
    int ro_mp = find(v, cover > 0 ? cover : 1, "--ro-bind", mp);
    assert_true(ro_extra > 0 && cover > ro_extra && ro_mp > cover);
    assert_int_equal(find(v, 1, "--bind", mp), -1); /* never read-write */
    int dd = find(v, 1, "--", NULL);
    assert_true(dd > 0);
    assert_non_null(strstr(v[dd + 1], "/locus-sandbox-exec"));
    assert_true(find(v, dd, "--as", "67108864") > dd);
    assert_true(find(v, dd, "--nofile", "64") > dd);
    if (geteuid() == 0)
        assert_true(find(v, dd, "--uid", "65534") > dd);
    int n = 0;
    while (v[n])
        n++;
    assert_string_equal(v[n - 3], "my-server");
    assert_string_equal(v[n - 1], "8000");
    assert_string_equal(v[n - 4], "--");
    etl_strv_free(v);
    json_decref(e.entry);
}

static void test_describe_end(void **state)
{
    etl_inst_t e;
    sandboxed_io(&e, "[\"cat\"]", 256LL << 20);
    char out[512];
    etl_describe_end(&e, "ETL server", 137 << 8, "", out, sizeof(out)); /* bwrap: exit 137 */
    assert_string_equal(out, "ETL server killed by signal 9");
    etl_describe_end(&e, "ETL server", 1 << 8, "Traceback ...\nMemoryError", out, sizeof(out));
    assert_string_equal(out, "stopped: memory limit 256MiB exceeded (ETL server exited with "
                             "status 1)");
    etl_describe_end(&e, "gzip", SIGKILL, "", out, sizeof(out)); /* bwrap itself killed */
    assert_string_equal(out, "gzip killed by signal 9");
    e.sandboxed = false; /* outside the sandbox 137 is an exit status like any other */
    etl_describe_end(&e, "x", 137 << 8, "out of memory", out, sizeof(out));
    assert_string_equal(out, "x exited with status 137");
    json_decref(e.entry);
}

/* Runs cmd_json as a sandboxed io:// command; its status, output in c, error in err. */
static int run_boxed(const char *cmd_json, int64_t memory, collect_t *c, char *err, size_t errlen)
{
    etl_inst_t e;
    sandboxed_io(&e, cmd_json, memory);
    etl_req_t rq = {.bck = "b", .obj = "o"};
    int st = fx_run(&e, rq, "object", 6, c, err, errlen);
    json_decref(e.entry);
    return st;
}

static bool can_sandbox(void)
{
    if (geteuid() != 0)
        return false; /* CI and the dev machines run as root; elsewhere userns decides */
    etl_inst_t e;
    sandboxed_io(&e, "[\"true\"]", 64LL << 20);
    char *cmd[] = {"true", NULL}, err[512];
    char **v = etl_sandbox_argv(&e, cmd, err, sizeof(err));
    json_decref(e.entry);
    etl_strv_free(v);
    return v != NULL;
}

static void test_runs_confined(void **state)
{
    if (!can_sandbox())
        skip();
    collect_t c = {0};
    char err[1024];
    /* unprivileged, on the object as stdin */
    assert_int_equal(
        run_boxed("[\"sh\", \"-c\", \"id -u; id -g; cat\"]", 256LL << 20, &c, err, sizeof(err)),
        200);
    assert_int_equal(c.data.len, strlen("65534\n65534\nobject"));
    assert_memory_equal(c.data.base, "65534\n65534\nobject", c.data.len);
    buf_dispose(&c.data);
    /* the mountpath is read-only, the node's config not there, /tmp private and writable */
    char *probe = xasprintf("[\"sh\", \"-c\", \"touch %s/x 2>/dev/null && echo wrote-mp; "
                            "cat %s 2>/dev/null && echo read-config; echo t > /tmp/t && cat "
                            "/tmp/t; ls /proc | grep -c '^[0-9]'\"]",
                            mp, config_path);
    assert_int_equal(run_boxed(probe, 256LL << 20, &c, err, sizeof(err)), 200);
    free(probe);
    buf_append(&c.data, "", 1);
    assert_null(strstr(c.data.base, "wrote-mp"));
    assert_null(strstr(c.data.base, "read-config"));
    assert_non_null(strstr(c.data.base, "t\n"));
    char *mpx = xasprintf("%s/x", mp);
    assert_int_not_equal(access(mpx, F_OK), 0);
    free(mpx);
    buf_dispose(&c.data);
}

static void test_memory_limit(void **state)
{
    if (!can_sandbox() || access("/usr/bin/python3", X_OK) != 0)
        skip();
    collect_t c = {0};
    char err[1024] = "";
    int st = run_boxed("[\"python3\", \"-c\", \"b = bytearray(512 << 20)\"]", 64LL << 20, &c, err,
                       sizeof(err));
    assert_int_equal(st, 500);
    if (strstr(err, "memory limit 64MiB exceeded (python3 exited with status 1)") == NULL)
        fail_msg("err: %s", err);
    buf_dispose(&c.data);
    /* under the limit the same command works */
    assert_int_equal(run_boxed("[\"python3\", \"-c\", \"b = bytearray(8 << 20)\"]", 256LL << 20, &c,
                               err, sizeof(err)),
                     200);
    buf_dispose(&c.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_command_line),
        cmocka_unit_test(test_describe_end),
        cmocka_unit_test(test_runs_confined),
        cmocka_unit_test(test_memory_limit),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
