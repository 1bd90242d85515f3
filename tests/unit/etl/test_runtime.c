/*
 * test_runtime.c - the target-side ETL process runtime (src/etl/runtime.c), driven the way a
 * target drives it: the node's cluster side initialised on a temporary data dir (no daemon),
 * etl_target_init once, and EtlMD versions installed in-process (entries made by
 * etl_spec_parse from init messages, as the proxy does), which wake the runtime through its
 * change listener. The servers are the real built-in transformers of this build
 * (LOCUS_TEST_BIN_DIR/locus-etl-echo, -md5) or small sh scripts. Our HTTP server routes
 * /v1/etl/... to etl_target_handle and plays the primary, recording the failures the runtime
 * reports to it (POST /v1/etl/<name>/_abort).
 *
 * Covered: start, GET /health, Running, etl_acquire/etl_transform/etl_release over TCP and a
 * Unix socket; stop by stage Aborted, by a removed entry and by a new generation (xid), each
 * killing the server's process group, also while it is still starting; a server that exits
 * while starting or dies while running (reason with the log's last lines, reported to the
 * primary); the init timeout; a start again on a new port when another process took the
 * port; io:// (no server); the secret check; the status, health and logs endpoints.
 *
 * Every test removes all ETLs in its teardown and then kills whatever is left of the process
 * groups it saw, so a failed assertion leaves no server behind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cluster/daemon.h"
#include "cluster/internal.h"
#include "etl_fixture.h"
#include "etlspec/etlspec.h"

#ifndef LOCUS_TEST_BIN_DIR
#error "LOCUS_TEST_BIN_DIR (the build's bin dir) must be defined by tests/CMakeLists.txt"
#endif

#define SECRET "abcdefghij"

static http_server_t *srv;
static int port;

/* What the "primary" received: failure reports. */
static pthread_mutex_t abort_lock = PTHREAD_MUTEX_INITIALIZER;
static int n_aborts;
static json_t *last_abort;

/* Process groups of servers seen by the current test (killed in teardown if still there). */
static pid_t groups[32];
static size_t n_groups;

/* ---------------------------------------------------------------- processes */

/* ppid, process group and session of a process from /proc/<pid>/stat; false if it is gone
 * or a zombie (dead, only not reaped yet). */
static bool proc_ids(const char *pid, int *ppid, int *pgrp, int *sid)
{
    char path[300], *stat = NULL, state = 'Z';
    snprintf(path, sizeof(path), "/proc/%s/stat", pid);
    if (read_file(path, &stat, NULL) != 0)
        return false;
    /* pid (comm) state ppid pgrp session ...: comm may hold spaces and parentheses */
    const char *rp = strrchr(stat, ')');
    bool ok = rp && sscanf(rp + 1, " %c %d %d %d", &state, ppid, pgrp, sid) == 4;
    free(stat);
    return ok && state != 'Z';
}

/* Calls fn for every live process of this session (the servers stay in it: setpgid only). */
static void each_process(void (*fn)(pid_t pid, int ppid, int pgrp, void *arg), void *arg)
{
    DIR *d = opendir("/proc");
    assert_non_null(d);
    int mysid = (int)getsid(0);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        int ppid, pgrp, sid;
        if (isdigit((unsigned char)de->d_name[0]) && proc_ids(de->d_name, &ppid, &pgrp, &sid) &&
            sid == mysid)
            fn((pid_t)atoi(de->d_name), ppid, pgrp, arg);
    }
    closedir(d);
}

static void count_in_group(pid_t pid, int ppid, int pgrp, void *arg)
{
    int *want = arg;
    if (pgrp == want[0])
        want[1]++;
}

/* Live processes in process group pgid. */
static int group_size(pid_t pgid)
{
    int a[2] = {(int)pgid, 0};
    each_process(count_in_group, a);
    return a[1];
}

static void track(pid_t pgid)
{
    for (size_t i = 0; i < n_groups; i++)
        if (groups[i] == pgid)
            return;
    if (n_groups < ARRAY_SIZE(groups))
        groups[n_groups++] = pgid;
}

static void find_child(pid_t pid, int ppid, int pgrp, void *arg)
{
    if (ppid == (int)getpid() && pid == pgrp) { /* a server: a child leading its own group */
        track(pid);
        *(pid_t *)arg = pid;
    }
}

/* Tracks the server processes of ours (the runtime forks them from this process); one of
 * them, or 0 if there is none. */
static pid_t server_child(void)
{
    pid_t pid = 0;
    each_process(find_child, &pid);
    return pid;
}

/* Polls cond every 20 ms for at most ms milliseconds; its last value. */
#define WAIT_UNTIL(cond, ms)                                                                       \
    ({                                                                                             \
        int64_t until_ = time_mono_ns() + (int64_t)(ms)*1000000LL;                                 \
        bool ok_;                                                                                  \
        while (!(ok_ = (cond)) && time_mono_ns() < until_)                                         \
            sleep_ms(20);                                                                          \
        ok_;                                                                                       \
    })

/* ---------------------------------------------------------------- the EtlMD */

/* The EtlMD entry of an init message (JSON text), as the proxy stores it. */
static json_t *entry_of(const char *init_msg, const char *xid, const char *stage)
{
    json_t *msg = json_loads(init_msg, 0, NULL);
    assert_non_null(msg);
    json_t *entry = NULL;
    char err[512];
    int rc = etl_spec_parse(&fx_cfg, msg, &entry, err, sizeof(err));
    json_decref(msg);
    if (rc != 0)
        fail_msg("etl_spec_parse: %s", err);
    json_object_set_new(entry, "xid", json_string(xid));
    json_object_set_new(entry, "secret", json_string(SECRET));
    json_object_set_new(entry, "stage", json_string(stage));
    json_object_set_new(entry, "reason", json_string(""));
    return entry;
}

/* Installs the next EtlMD version: the current entries with name set to entry (taken over)
 * or, with entry NULL, removed (name NULL: all removed). */
static void etlmd_set(const char *name, json_t *entry)
{
    meta_write_lock();
    mdoc_t *cur = md_get(MD_ETL);
    mdoc_t *d = md_new(MD_ETL, cur->uuid);
    d->version = cur->version + 1;
    if (name) {
        json_decref(d->items);
        d->items = json_deep_copy(cur->items);
        if (entry)
            json_object_set_new(d->items, name, entry);
        else
            json_object_del(d->items, name);
    }
    md_put(cur);
    meta_install_md(d);
    meta_write_unlock();
}

/* Sets the stage of an installed ETL in a new EtlMD version. */
static void etlmd_stage(const char *name, const char *stage)
{
    mdoc_t *cur = md_get(MD_ETL);
    json_t *entry = json_deep_copy(json_object_get(cur->items, name));
    md_put(cur);
    assert_non_null(entry);
    json_object_set_new(entry, "stage", json_string(stage));
    etlmd_set(name, entry);
}

/* ---------------------------------------------------------------- the runtime's answers */

/* The running instance of name within ms (tracked), or NULL with the last error in err. */
static etl_inst_t *acquire_within(const char *name, int ms, char *err, size_t errlen)
{
    int st;
    etl_inst_t *e = NULL;
    WAIT_UNTIL((e = etl_acquire(name, &st, err, errlen)) != NULL, ms);
    if (e && e->pid > 0)
        track(e->pid);
    return e;
}

/* GET path on our server (the target's /v1/etl/... routes); the JSON answer. */
static json_t *get_json(const char *path, long *status)
{
    char *url = xasprintf("http://127.0.0.1:%d%s", port, path);
    httpc_resp_t r;
    httpc_resp_init(&r);
    assert_int_equal(httpc_do("GET", url, NULL, 0, NULL, 5000, &r), 0);
    free(url);
    *status = r.status;
    json_t *j = json_loadb(r.body.base ? r.body.base : "", r.body.len, 0, NULL);
    httpc_resp_dispose(&r);
    return j;
}

/* The runtime's /v1/etl/_status/<name> answer; caller frees. */
static json_t *status_of(const char *name)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/etl/_status/%s", name);
    long st;
    json_t *j = get_json(path, &st);
    assert_int_equal(st, 200);
    assert_non_null(j);
    return j;
}

static bool state_is(const char *name, const char *state)
{
    json_t *j = status_of(name);
    bool is = strcmp(json_string_value(json_object_get(j, "state")), state) == 0;
    json_decref(j);
    return is;
}

static int aborts(void)
{
    pthread_mutex_lock(&abort_lock);
    int n = n_aborts;
    pthread_mutex_unlock(&abort_lock);
    return n;
}

/* Field of the last failure report; caller frees. */
static char *abort_field(const char *key)
{
    pthread_mutex_lock(&abort_lock);
    const char *s = json_string_value(json_object_get(last_abort, key));
    char *v = xstrdup(s ? s : "");
    pthread_mutex_unlock(&abort_lock);
    return v;
}

/* Transforms content through e; asserts 200 and the expected result. */
static void transform_ok(etl_inst_t *e, const char *content, const char *want)
{
    collect_t c = {0};
    char err[512];
    etl_req_t rq = {.bck = "b", .obj = "o"};
    int st = fx_run(e, rq, content, strlen(content), &c, err, sizeof(err));
    if (st != 200)
        fail_msg("transform: %d %s", st, err);
    assert_int_equal(c.status_calls, 1);
    assert_int_equal(c.data.len, strlen(want));
    assert_memory_equal(c.data.base, want, strlen(want));
    buf_dispose(&c.data);
}

/* ---------------------------------------------------------------- our server */

static void on_headers(http_req_t *req)
{
}

static void on_request(http_req_t *req)
{
    if (str_has_prefix(req->path, "/primary/v1/etl/")) {
        json_t *j = json_loadb(req->body.base ? req->body.base : "", req->body.len, 0, NULL);
        pthread_mutex_lock(&abort_lock);
        n_aborts++;
        json_decref(last_abort);
        last_abort = json_is_object(j) ? json_incref(j) : json_object();
        json_object_set_new(last_abort, "path", json_string(req->path));
        pthread_mutex_unlock(&abort_lock);
        json_decref(j);
        http_reply(req, 200, NULL, "", 0);
        return;
    }
    char copy[256];
    const char *segs[4];
    int n = route_split(req->path, copy, sizeof(copy), segs, 4);
    if (n < 1 || strcmp(segs[0], "etl") != 0 || !etl_target_handle(req, segs, n))
        http_reply_error(req, 404, "no route");
}

/* ---------------------------------------------------------------- fixtures */

static int objs_open(const char *bck, const char *obj, int *fd, int64_t *size)
{
    return -ENOENT;
}

static char *objs_fqn(const char *bck, const char *obj)
{
    return xasprintf("%s/%s/%s", fx_data_dir, bck, obj);
}

static const etl_objects_t objs = {objs_open, objs_fqn, NULL};

static int group_setup(void **state)
{
    httpc_global_init();
    srv = fx_server_start(on_headers, on_request, &port);
    if (srv == NULL || fx_node_setup() != 0)
        return -1;
    /* The primary (where failures go) is our server; the servers come from this build. */
    fx_cfg.primary_url = xasprintf("http://127.0.0.1:%d/primary", port);
    free(fx_cfg.bin_dir);
    fx_cfg.bin_dir = xstrdup(LOCUS_TEST_BIN_DIR);
    cluster_mark_ready();
    char err[256];
    return etl_target_init(&objs, err, sizeof(err));
}

static int group_teardown(void **state)
{
    etl_target_shutdown();
    http_server_stop(srv);
    httpc_thread_cleanup();
    json_decref(last_abort);
    return fx_node_teardown();
}

static int setup(void **state)
{
    n_groups = 0;
    pthread_mutex_lock(&abort_lock);
    n_aborts = 0;
    json_decref(last_abort);
    last_abort = NULL;
    pthread_mutex_unlock(&abort_lock);
    return 0;
}

static bool no_server_child(void)
{
    return server_child() == 0;
}

/* Removes every ETL, lets the runtime stop its servers (SIGKILL comes 3 s after SIGTERM),
 * then kills what is left of every group seen. */
static int teardown(void **state)
{
    server_child();
    etlmd_set(NULL, NULL);
    WAIT_UNTIL(no_server_child(), 5000);
    int left = 0;
    for (size_t i = 0; i < n_groups; i++) {
        if (group_size(groups[i]) > 0) {
            left++;
            kill(-groups[i], SIGKILL);
        }
    }
    return left == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------- tests */

#define ECHO_INIT(name)                                                                            \
    "{\"name\": \"" name "\", \"communication\": \"hpush://\", \"init_timeout\": \"10s\", "        \
    "\"runtime\": {\"image\": \"aistorage/transformer_echo:latest\"}}"

static void test_echo_serves_and_abort_kills_group(void **state)
{
    etlmd_set("echo-rt", entry_of(ECHO_INIT("echo-rt"), "etl-gen1", ETL_STAGE_INIT));
    char err[1024], why[1024];
    etl_inst_t *e = acquire_within("echo-rt", 10000, err, sizeof(err));
    if (e == NULL)
        fail_msg("not running: %s", err);
    assert_int_equal(e->state, INST_RUNNING);
    assert_true(e->pid > 0);
    assert_true(e->port > 0);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", e->port);
    assert_string_equal(e->url, url);
    assert_string_equal(e->xid, "etl-gen1");
    assert_string_equal(e->secret, SECRET);
    assert_ptr_equal(e->comm, &etl_comm_hpush);
    assert_int_equal(e->attempts, 1);
    assert_int_equal(e->sock_path[0], '\0');
    assert_true(etl_alive(e, why, sizeof(why)));
    assert_string_equal(why, "running");
    /* The server runs in its own process group, which it leads. */
    assert_int_equal(getpgid(e->pid), e->pid);

    transform_ok(e, "hello runtime", "hello runtime");
    etl_count(e, 13, 13);

    json_t *j = status_of("echo-rt");
    assert_string_equal(json_string_value(json_object_get(j, "state")), "running");
    assert_string_equal(json_string_value(json_object_get(j, "xid")), "etl-gen1");
    assert_int_equal(json_integer_value(json_object_get(j, "obj_count")), 1);
    assert_int_equal(json_integer_value(json_object_get(j, "in_bytes")), 13);
    json_decref(j);
    long st;
    j = get_json("/v1/etl/echo-rt/health", &st);
    assert_int_equal(st, 200);
    assert_string_equal(json_string_value(json_object_get(j, "health_status")), "Running");
    json_decref(j);
    j = get_json("/v1/etl/echo-rt/logs", &st);
    assert_int_equal(st, 200);
    assert_true(strlen(json_string_value(json_object_get(j, "logs"))) > 0);
    json_decref(j);
    char *log_path = xasprintf("%s/etl/echo-rt.log", fx_data_dir), *log = NULL;
    assert_int_equal(read_file(log_path, &log, NULL), 0);
    assert_non_null(strstr(log, "starting " LOCUS_TEST_BIN_DIR "/locus-etl-echo on port"));
    free(log);
    free(log_path);

    /* Aborted: the server's group is killed; our reference stays valid but is not alive. */
    pid_t pid = e->pid;
    etlmd_stage("echo-rt", ETL_STAGE_ABORTED);
    assert_true(WAIT_UNTIL(!etl_alive(e, why, sizeof(why)), 5000));
    assert_string_equal(why, "stopped");
    assert_true(WAIT_UNTIL(group_size(pid) == 0, 5000));
    assert_true(state_is("echo-rt", "absent"));
    int status;
    assert_null(etl_acquire("echo-rt", &status, err, sizeof(err)));
    assert_int_equal(status, 400); /* the user's state to fix */
    assert_non_null(strstr(err, "is not running (stage Aborted, server absent)"));
    etl_release(e);
    assert_int_equal(aborts(), 0); /* a stop is no failure */
}

static void test_md5_unix_socket_and_removed_entry(void **state)
{
    etlmd_set("md5-rt", entry_of("{\"name\": \"md5-rt\", \"locus_unix_socket\": true, "
                                 "\"runtime\": {\"image\": \"aistorage/transformer_md5\"}}",
                                 "etl-md5", ETL_STAGE_INIT));
    char err[1024];
    etl_inst_t *e = acquire_within("md5-rt", 10000, err, sizeof(err));
    if (e == NULL)
        fail_msg("not running: %s", err);
    char sock[128];
    snprintf(sock, sizeof(sock), "%s/etl/md5-rt/md5-rt.sock", fx_data_dir);
    assert_string_equal(e->sock_path, sock);
    assert_string_equal(e->url, "http://localhost");
    assert_int_equal(access(sock, F_OK), 0);
    transform_ok(e, "hello", "5d41402abc4b2a76b9719d911017c592");
    pid_t pid = e->pid;
    etl_release(e);

    /* Deleted from the EtlMD: stopped, gone from the registry, its socket removed. */
    etlmd_set("md5-rt", NULL);
    assert_true(WAIT_UNTIL(group_size(pid) == 0, 5000));
    assert_true(WAIT_UNTIL(access(sock, F_OK) != 0, 2000));
    assert_true(state_is("md5-rt", "absent"));
    int status;
    assert_null(etl_acquire("md5-rt", &status, err, sizeof(err)));
    assert_int_equal(status, 404);
    assert_non_null(strstr(err, "etl job md5-rt does not exist"));
}

static void test_new_generation_restarts(void **state)
{
    etlmd_set("echo-gen", entry_of(ECHO_INIT("echo-gen"), "etl-old", ETL_STAGE_RUNNING));
    char err[1024];
    etl_inst_t *old = acquire_within("echo-gen", 10000, err, sizeof(err));
    if (old == NULL)
        fail_msg("not running: %s", err);
    pid_t old_pid = old->pid;
    etl_release(old);

    /* Started again (a new xid): the old server goes, a new one comes up. */
    etlmd_set("echo-gen", entry_of(ECHO_INIT("echo-gen"), "etl-new", ETL_STAGE_INIT));
    assert_true(WAIT_UNTIL(group_size(old_pid) == 0, 5000));
    etl_inst_t *e = NULL;
    for (int64_t until = time_mono_ns() + 10000000000LL; time_mono_ns() < until;) {
        e = acquire_within("echo-gen", 10000, err, sizeof(err));
        if (e == NULL || strcmp(e->xid, "etl-new") == 0)
            break;
        etl_release(e); /* still the old one */
        e = NULL;
        sleep_ms(20);
    }
    if (e == NULL)
        fail_msg("new generation not running: %s", err);
    assert_int_not_equal(e->pid, old_pid);
    transform_ok(e, "again", "again");
    etl_release(e);
}

static void test_exit_while_starting_fails_with_log(void **state)
{
    etlmd_set("dies-rt", entry_of("{\"name\": \"dies-rt\", \"init_timeout\": \"10s\", "
                                  "\"runtime\": {\"image\": \"example/broken:1\", "
                                  "\"command\": [\"sh\", \"-c\", \"echo loading model; echo "
                                  "'fatal: no such model' >&2; exit 3\"]}}",
                                  "etl-f1", ETL_STAGE_INIT));
    assert_true(WAIT_UNTIL(state_is("dies-rt", "failed"), 5000));
    json_t *j = status_of("dies-rt");
    const char *reason = json_string_value(json_object_get(j, "reason"));
    assert_non_null(strstr(reason, "ETL server exited with status 3: "));
    /* The log's last lines, joined with '|' */
    assert_non_null(strstr(reason, "loading model|fatal: no such model"));
    json_decref(j);

    char err[1024];
    int status;
    assert_null(etl_acquire("dies-rt", &status, err, sizeof(err)));
    assert_int_equal(status, 400); /* failed: for the user to fix (etl start), not to retry */
    assert_non_null(strstr(err, "not running (stage Initializing, server failed): "));
    assert_non_null(strstr(err, "fatal: no such model"));

    /* Reported to the primary, which aborts the ETL cluster-wide. */
    assert_true(WAIT_UNTIL(aborts() > 0, 3000));
    char *path = abort_field("path"), *xid = abort_field("xid"), *why = abort_field("reason"),
         *target = abort_field("target");
    assert_string_equal(path, "/primary/v1/etl/dies-rt/_abort");
    assert_string_equal(xid, "etl-f1");
    assert_string_equal(target, cluster_self_id());
    assert_true(str_has_prefix(why, cluster_self_name()));
    assert_non_null(strstr(why, "fatal: no such model"));
    free(path);
    free(xid);
    free(why);
    free(target);

    /* Aborted: the failed instance stays, its reason visible, and is no longer reported. */
    etlmd_stage("dies-rt", ETL_STAGE_ABORTED);
    sleep_ms(400); /* a reconcile round that saw the new stage */
    int n = aborts();
    sleep_ms(700);
    assert_int_equal(aborts(), n);
    assert_true(state_is("dies-rt", "failed"));
    assert_null(etl_acquire("dies-rt", &status, err, sizeof(err)));
    assert_int_equal(status, 400);
    assert_non_null(strstr(err, "fatal: no such model"));
}

static void test_dies_while_running(void **state)
{
    etlmd_set("echo-die", entry_of(ECHO_INIT("echo-die"), "etl-d1", ETL_STAGE_INIT));
    char err[1024], why[1024];
    etl_inst_t *e = acquire_within("echo-die", 10000, err, sizeof(err));
    if (e == NULL)
        fail_msg("not running: %s", err);
    kill(-e->pid, SIGKILL);
    assert_true(WAIT_UNTIL(!etl_alive(e, why, sizeof(why)), 3000));
    assert_true(str_has_prefix(why, "ETL server killed by signal 9: "));
    assert_non_null(strstr(why, "starting " LOCUS_TEST_BIN_DIR "/locus-etl-echo"));
    etl_release(e);
    assert_true(state_is("echo-die", "failed"));
    assert_true(WAIT_UNTIL(aborts() > 0, 3000));
    char *reason = abort_field("reason");
    assert_non_null(strstr(reason, "killed by signal 9"));
    free(reason);
}

/* A server that keeps failing: ETL_MAX_FAILS_IN_ROW server errors with no success between fail
 * it (reported, stopped); a success resets the count; 4xx never counts. */
static void test_keeps_failing_is_failed(void **state)
{
    etlmd_set("echo-5xx", entry_of(ECHO_INIT("echo-5xx"), "etl-f5", ETL_STAGE_INIT));
    char err[1024], why[1024];
    etl_inst_t *e = acquire_within("echo-5xx", 10000, err, sizeof(err));
    if (e == NULL)
        fail_msg("not running: %s", err);
    pid_t pid = e->pid;
    for (int i = 0; i < ETL_MAX_FAILS_IN_ROW - 1; i++)
        etl_note_result(e, 500, "ETL error: boom");
    etl_note_result(e, 200, "");
    for (int i = 0; i < 2 * ETL_MAX_FAILS_IN_ROW; i++)
        etl_note_result(e, 404, "ETL error: no such object");
    assert_true(etl_alive(e, why, sizeof(why)));
    for (int i = 0; i < ETL_MAX_FAILS_IN_ROW; i++)
        etl_note_result(e, i & 1 ? 503 : 504, "ETL error: still broken");
    assert_false(etl_alive(e, why, sizeof(why)));
    assert_non_null(strstr(why, "failed 10 requests in a row; the last: ETL error: still broken"));
    etl_release(e);
    assert_true(WAIT_UNTIL(aborts() > 0, 3000));
    assert_true(WAIT_UNTIL(group_size(pid) == 0, 5000)); /* stopped, not left running */
}

/* A server that never answers GET /health: three processes in its group. */
#define SILENT_INIT(name, timeout)                                                                 \
    "{\"name\": \"" name "\", \"init_timeout\": \"" timeout "\", \"runtime\": {\"image\": "        \
    "\"example/silent\", \"command\": [\"sh\", \"-c\", \"sleep 30 & sleep 30 & wait\"]}}"

static void test_init_timeout_kills_group(void **state)
{
    etlmd_set("silent-rt", entry_of(SILENT_INIT("silent-rt", "2s"), "etl-s1", ETL_STAGE_INIT));
    pid_t pid = 0;
    assert_true(WAIT_UNTIL((pid = server_child()) > 0, 3000));
    assert_true(WAIT_UNTIL(group_size(pid) == 3, 2000));
    assert_true(state_is("silent-rt", "starting"));
    assert_true(WAIT_UNTIL(state_is("silent-rt", "failed"), 5000));
    json_t *j = status_of("silent-rt");
    assert_string_equal(json_string_value(json_object_get(j, "reason")),
                        "ETL server did not answer GET /health within 2s");
    json_decref(j);
    assert_true(WAIT_UNTIL(group_size(pid) == 0, 5000));
}

/* A server that ignores SIGTERM, stopped while the starter is already killing it for its init
 * timeout: two threads then reap the same server. Each must work on its own copy of the pid;
 * with a shared one cleared by the other, a kill(-0) signals the test's own process group. */
#define STUBBORN_INIT(name)                                                                        \
    "{\"name\": \"" name "\", \"init_timeout\": \"1s\", \"runtime\": {\"image\": "                 \
    "\"example/stubborn\", \"command\": [\"sh\", \"-c\", \"trap '' TERM; sleep 30 & wait\"]}}"

static void test_stop_during_init_timeout_kill(void **state)
{
    etlmd_set("stubborn-rt", entry_of(STUBBORN_INIT("stubborn-rt"), "etl-k1", ETL_STAGE_INIT));
    pid_t pid = 0;
    assert_true(WAIT_UNTIL((pid = server_child()) > 0, 3000));
    assert_true(WAIT_UNTIL(group_size(pid) == 2, 2000));
    sleep_ms(1500); /* the starter is in its kill (SIGTERM ignored: SIGKILL after 3 s) */
    etlmd_stage("stubborn-rt", ETL_STAGE_ABORTED);
    assert_true(WAIT_UNTIL(group_size(pid) == 0, 6000));
    assert_true(WAIT_UNTIL(state_is("stubborn-rt", "absent"), 3000));
    sleep_ms(3500); /* until both kill loops (3 s each) are surely over: we are still alive */
}

static void test_stop_while_starting(void **state)
{
    etlmd_set("slow-rt", entry_of(SILENT_INIT("slow-rt", "30s"), "etl-w1", ETL_STAGE_INIT));
    pid_t pid = 0;
    assert_true(WAIT_UNTIL((pid = server_child()) > 0, 3000));
    assert_true(WAIT_UNTIL(group_size(pid) == 3, 2000));
    etlmd_stage("slow-rt", ETL_STAGE_ABORTED);
    assert_true(WAIT_UNTIL(group_size(pid) == 0, 5000));
    assert_true(state_is("slow-rt", "absent"));
    sleep_ms(400);
    assert_int_equal(aborts(), 0);
}

/* A listening socket on 127.0.0.1:port_no, or -1. */
static int listen_on(int port_no)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port_no)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 || listen(fd, 4) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static void test_respawn_when_port_taken(void **state)
{
    /* First start: the script tells us its port, waits until we (another process) listen on
     * it and exits, as a server whose bind failed. Second start: the echo server. */
    char *port_file = xasprintf("%s/rt-port", fx_data_dir);
    char *bound_file = xasprintf("%s/rt-bound", fx_data_dir);
    char *script =
        xasprintf("if [ ! -e %s ]; then echo $PORT > %s.tmp && mv %s.tmp %s; "
                  "while [ ! -e %s ]; do sleep 0.05; done; echo bind: address in use; "
                  "exit 1; fi; exec %s/locus-etl-echo --port $PORT",
                  port_file, port_file, port_file, port_file, bound_file, LOCUS_TEST_BIN_DIR);
    json_t *cmd = json_pack("[s, s, s]", "sh", "-c", script);
    char *cmd_text = json_dumps(cmd, 0);
    char *init = xasprintf("{\"name\": \"clash-rt\", \"init_timeout\": \"10s\", \"runtime\": "
                           "{\"image\": \"example/clash\", \"command\": %s}}",
                           cmd_text);
    etlmd_set("clash-rt", entry_of(init, "etl-c1", ETL_STAGE_INIT));
    free(init);
    free(cmd_text);
    json_decref(cmd);
    free(script);

    char *text = NULL;
    assert_true(WAIT_UNTIL(read_file(port_file, &text, NULL) == 0, 5000));
    int taken = atoi(text);
    free(text);
    assert_true(taken > 0);
    int fd = listen_on(taken);
    assert_true(fd >= 0);
    assert_int_equal(write_file_atomic(bound_file, "1", 1), 0);

    char err[1024];
    etl_inst_t *e = acquire_within("clash-rt", 10000, err, sizeof(err));
    close(fd);
    if (e == NULL)
        fail_msg("not running after the port clash: %s", err);
    assert_int_equal(e->attempts, 2);
    assert_int_not_equal(e->port, taken);
    transform_ok(e, "second start", "second start");
    etl_release(e);
    assert_int_equal(aborts(), 0); /* a clash is no failure */
    free(port_file);
    free(bound_file);
}

static void test_io_needs_no_server(void **state)
{
    etlmd_set("upper-io",
              entry_of("{\"name\": \"upper-io\", \"communication\": \"io://\", \"runtime\": "
                       "{\"image\": \"example/tr\", \"command\": [\"tr\", \"a-z\", \"A-Z\"]}}",
                       "etl-io", ETL_STAGE_INIT));
    char err[1024];
    etl_inst_t *e = acquire_within("upper-io", 3000, err, sizeof(err));
    if (e == NULL)
        fail_msg("not ready: %s", err);
    assert_ptr_equal(e->comm, &etl_comm_io);
    assert_int_equal(e->pid, 0);
    assert_int_equal(server_child(), 0);
    transform_ok(e, "shout", "SHOUT");
    etl_release(e);
}

static void test_secret_and_unknown(void **state)
{
    char err[256];
    int status;
    assert_null(etl_acquire("nothing-here", &status, err, sizeof(err)));
    assert_int_equal(status, 404);
    assert_true(state_is("nothing-here", "absent"));
    assert_int_equal(etl_check_secret("nothing-here", SECRET, err, sizeof(err)), 404);

    etlmd_set("cat-io", entry_of("{\"name\": \"cat-io\", \"communication\": \"io://\", "
                                 "\"runtime\": {\"image\": \"x\", \"command\": [\"cat\"]}}",
                                 "etl-s", ETL_STAGE_INIT));
    assert_int_equal(etl_check_secret("cat-io", SECRET, err, sizeof(err)), 0);
    assert_int_equal(etl_check_secret("cat-io", "wrongwrong", err, sizeof(err)), 403);
    assert_non_null(strstr(err, "invalid secret for etl job cat-io"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_echo_serves_and_abort_kills_group, setup, teardown),
        cmocka_unit_test_setup_teardown(test_md5_unix_socket_and_removed_entry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_generation_restarts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exit_while_starting_fails_with_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dies_while_running, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keeps_failing_is_failed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_init_timeout_kills_group, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_while_starting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_during_init_timeout_kill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_respawn_when_port_taken, setup, teardown),
        cmocka_unit_test_setup_teardown(test_io_needs_no_server, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_and_unknown, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
