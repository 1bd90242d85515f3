/*
 * test_sandbox.c - the ETL sandbox (src/etl/sandbox.c, src/etl/sandbox/exec.c): the bwrap
 * command line it builds (namespaces, read-only mountpaths, node state covered, the helper with
 * the ETL's limits, the command last), how it reads the end of a process (bwrap's 128 + signal,
 * running out of memory), and, where bwrap runs (as root, like CI), io:// commands really run in
 * it, through the sandbox's spawner (locus-sandbox-exec --serve, started here as the runtime
 * starts it): as uid 65534, unable to write a mountpath or read the node's config, killed on
 * obj_timeout, stopped by their memory limit with a reason that says so.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
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
    char **v = etl_sandbox_argv(&e, cmd, false, err, sizeof(err));
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
    /* the config file, inside the covered data dir, is covered by an empty mode-0000 file, not
     * by the host's /dev/null (whatever that is on a broken host) */
    char *mask = xasprintf("%s/etl-sandbox-mask", fx_data_dir);
    int cfg_cover = find(v, 1, "--ro-bind", mask);
    assert_true(cfg_cover > cover);
    assert_string_equal(v[cfg_cover + 2], config_path);
    struct stat st;
    assert_int_equal(lstat(mask, &st), 0);
    assert_true(S_ISREG(st.st_mode) && st.st_size == 0 && (st.st_mode & 07777) == 0);
    free(mask);
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
    assert_int_equal(find(v, dd, "--serve", NULL), -1);
    etl_strv_free(v);
    /* io://: the helper serves the command on the instance's socket, which is bound writable */
    snprintf(e.sock_dir, sizeof(e.sock_dir), "%s/box", fx_data_dir);
    snprintf(e.sock_path, sizeof(e.sock_path), "%s/box/io.sock", fx_data_dir);
    v = etl_sandbox_argv(&e, cmd, true, err, sizeof(err));
    assert_non_null(v);
    dd = find(v, 1, "--", NULL);
    assert_true(find(v, dd, "--serve", e.sock_path) > dd);
    assert_true(find(v, 1, "--bind", e.sock_dir) > find(v, 1, "--tmpfs", fx_data_dir));
    etl_strv_free(v);
    json_decref(e.entry);
}

static void test_describe_end(void **state)
{
    etl_inst_t e;
    sandboxed_io(&e, "[\"cat\"]", 256LL << 20);
    char out[512];
    etl_describe_end(&e, "ETL server", 137 << 8, true, "", out, sizeof(out)); /* bwrap: 137 */
    assert_string_equal(out, "ETL server killed by signal 9");
    etl_describe_end(&e, "ETL server", 1 << 8, true, "Traceback ...\nMemoryError", out,
                     sizeof(out));
    assert_string_equal(out, "stopped: memory limit 256MiB exceeded (ETL server exited with "
                             "status 1)");
    etl_describe_end(&e, "gzip", SIGKILL, true, "", out, sizeof(out)); /* bwrap itself killed */
    assert_string_equal(out, "gzip killed by signal 9");
    /* the spawner reports a command's own status: 137 is an exit status like any other */
    etl_describe_end(&e, "gzip", 137 << 8, false, "", out, sizeof(out));
    assert_string_equal(out, "gzip exited with status 137");
    e.sandboxed = false; /* outside the sandbox no limit is named */
    etl_describe_end(&e, "x", 1 << 8, false, "out of memory", out, sizeof(out));
    assert_string_equal(out, "x exited with status 1");
    json_decref(e.entry);
}

/* Starts the sandbox's spawner for e as the runtime does (bwrap, setsid) and waits until its
 * socket takes connections. Its pid. */
static pid_t start_spawner(etl_inst_t *e)
{
    snprintf(e->sock_dir, sizeof(e->sock_dir), "%s/box", fx_data_dir);
    snprintf(e->sock_path, sizeof(e->sock_path), "%s/box/io.sock", fx_data_dir);
    char err[512];
    assert_int_equal(etl_sandbox_sockdir(e, err, sizeof(err)), 0);
    json_t *cmd = json_object_get(e->entry, "command");
    char *argv[8] = {0};
    for (size_t i = 0; i < json_array_size(cmd) && i < 7; i++)
        argv[i] = (char *)json_string_value(json_array_get(cmd, i));
    char **v = etl_sandbox_argv(e, argv, true, err, sizeof(err));
    assert_non_null(v);
    char **envp = etl_build_env(e, NULL);
    pid_t pid = fork();
    if (pid == 0) {
        setsid();
        execve(v[0], v, envp);
        _exit(127);
    }
    etl_strv_free(v);
    etl_strv_free(envp);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", e->sock_path);
    bool up = false;
    for (int i = 0; i < 250 && !up; i++) {
        int s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
        up = connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0;
        close(s);
        if (!up)
            sleep_ms(20);
    }
    assert_true(up);
    return pid;
}

static void stop_spawner(pid_t pid)
{
    kill(-pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* Runs cmd_json as a sandboxed io:// command with args; its status, output in c, error in
 * err. */
static int run_boxed(const char *cmd_json, int64_t memory, int64_t timeout_ms, const char *args,
                     collect_t *c, char *err, size_t errlen)
{
    etl_inst_t e;
    sandboxed_io(&e, cmd_json, memory);
    e.obj_timeout_ns = timeout_ms * 1000000LL;
    pid_t sp = start_spawner(&e);
    etl_req_t rq = {.bck = "b", .obj = "o", .args = args};
    int st = fx_run(&e, rq, "object", 6, c, err, errlen);
    stop_spawner(sp);
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
    char **v = etl_sandbox_argv(&e, cmd, false, err, sizeof(err));
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
    assert_int_equal(run_boxed("[\"sh\", \"-c\", \"id -u; id -g; cat; echo \\\"$ETL_ARGS\\\"\"]",
                               256LL << 20, 10000, "a b", &c, err, sizeof(err)),
                     200);
    const char *want = "65534\n65534\nobjecta b\n";
    assert_int_equal(c.data.len, strlen(want));
    assert_memory_equal(c.data.base, want, c.data.len);
    buf_dispose(&c.data);
    /* the mountpath is read-only, the node's config not there, /tmp private and writable */
    char *probe = xasprintf("[\"sh\", \"-c\", \"touch %s/x 2>/dev/null && echo wrote-mp; "
                            "cat %s && echo read-config; echo t > /tmp/t && cat "
                            "/tmp/t; ls /proc | grep -c '^[0-9]'\"]",
                            mp, config_path);
    assert_int_equal(run_boxed(probe, 256LL << 20, 10000, NULL, &c, err, sizeof(err)), 200);
    free(probe);
    buf_append(&c.data, "", 1);
    assert_null(strstr(c.data.base, "wrote-mp"));
    assert_null(strstr(c.data.base, "read-config"));
    assert_null(strstr(c.data.base, "node config"));
    assert_non_null(strstr(c.data.base, "t\n"));
    char *mpx = xasprintf("%s/x", mp);
    assert_int_not_equal(access(mpx, F_OK), 0);
    free(mpx);
    buf_dispose(&c.data);
    /* a failing command: its own exit status and stderr; obj_timeout kills it */
    assert_int_equal(run_boxed("[\"sh\", \"-c\", \"echo no luck >&2; exit 3\"]", 256LL << 20, 10000,
                               NULL, &c, err, sizeof(err)),
                     500);
    assert_non_null(strstr(err, "sh exited with status 3: no luck"));
    buf_dispose(&c.data);
    int64_t t0 = time_mono_ns();
    assert_int_equal(run_boxed("[\"sleep\", \"30\"]", 256LL << 20, 500, NULL, &c, err, sizeof(err)),
                     504);
    assert_true(time_mono_ns() - t0 < 5000000000LL);
    buf_dispose(&c.data);
}

static void test_memory_limit(void **state)
{
    if (!can_sandbox() || access("/usr/bin/python3", X_OK) != 0)
        skip();
    collect_t c = {0};
    char err[1024] = "";
    int st = run_boxed("[\"python3\", \"-c\", \"b = bytearray(512 << 20)\"]", 64LL << 20, 10000,
                       NULL, &c, err, sizeof(err));
    assert_int_equal(st, 500);
    if (strstr(err, "memory limit 64MiB exceeded (python3 exited with status 1)") == NULL)
        fail_msg("err: %s", err);
    buf_dispose(&c.data);
    /* under the limit the same command works */
    assert_int_equal(run_boxed("[\"python3\", \"-c\", \"b = bytearray(8 << 20)\"]", 256LL << 20,
                               10000, NULL, &c, err, sizeof(err)),
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
