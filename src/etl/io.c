/*
 * io.c - the io:// communicator: no server. Per object the target runs the spec's command with
 * the object's file as stdin and takes stdout as the result, so any command-line tool becomes
 * a transformer (`gzip -c`, `ffmpeg -i pipe:0 ...`). etl_args reach the command as ETL_ARGS.
 * A non-zero exit is an error carrying the last lines of stderr; obj_timeout kills the
 * command's process group. This is the honest model of a fork-per-object transformer.
 */
#include "common/log.h"
#include "common/util.h"
#include "etl/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define IO_STDERR_MAX 2048

static void kill_child(pid_t pid)
{
    kill_pgrp(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* One run of the command for one object. */
typedef struct {
    etl_inst_t *e;
    const etl_req_t *rq;
    const etl_out_t *out;
    char **argv;      /* the command */
    char **exec_argv; /* what runs: argv, or argv in the sandbox (bwrap ...) */
    pid_t pid;        /* -1 when not running (never started or killed and reaped) */
    int po[2], pe[2];
    char errtail[IO_STDERR_MAX + 1]; /* the last bytes of stderr */
    size_t errn;
    bool started; /* on_status(200) was called */
    char *err;
    size_t errlen;
} io_run_t;

/* Starts the command with stdin from in and stdout, stderr to the run's pipes. 0, or 500 with
 * err set. */
static int io_spawn(io_run_t *r, int in, char **envp)
{
    /* posix_spawn (vfork-like in glibc), not fork: forking the multi-threaded daemon for every
     * object copied its page tables and then took copy-on-write faults (bench: ~30% of the
     * target's CPU on small objects). */
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in, 0);
    posix_spawn_file_actions_adddup2(&fa, r->po[1], 1);
    posix_spawn_file_actions_adddup2(&fa, r->pe[1], 2);
    posix_spawnattr_init(&at);
    sigset_t none, def;
    sigemptyset(&none);
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &def);
    posix_spawnattr_setpgroup(&at, 0);
    /* A sandbox gets a session of its own (no controlling terminal), a plain command a process
     * group; either way obj_timeout kills the whole group. */
    short group = r->e->sandboxed ? POSIX_SPAWN_SETSID : POSIX_SPAWN_SETPGROUP;
    posix_spawnattr_setflags(&at, group | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    int sp = posix_spawnp(&r->pid, r->exec_argv[0], &fa, &at, r->exec_argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (sp != 0) {
        r->pid = -1;
        snprintf(r->err, r->errlen, "ETL error: cannot execute %s: %s", r->argv[0], strerror(sp));
        return 500;
    }
    close(r->po[1]);
    close(r->pe[1]);
    r->po[1] = r->pe[1] = -1;
    return 0;
}

/* Appends n bytes of stderr, keeping the last IO_STDERR_MAX. */
static void io_keep_stderr(io_run_t *r, const char *eb, size_t n)
{
    if (r->errn + n > IO_STDERR_MAX) {
        size_t drop = r->errn + n - IO_STDERR_MAX;
        if (drop > r->errn)
            drop = r->errn;
        memmove(r->errtail, r->errtail + drop, r->errn - drop);
        r->errn -= drop;
    }
    size_t take = n > IO_STDERR_MAX ? IO_STDERR_MAX : n;
    memcpy(r->errtail + r->errn, eb + n - take, take);
    r->errn += take;
}

/* Passes one chunk of stdout to the sink. 0, or 499 when the caller cancelled. */
static int io_deliver(io_run_t *r, const char *chunk, size_t n)
{
    int status = 0;
    if (!r->started) {
        r->started = true;
        if (r->out->on_status && r->out->on_status(r->out->arg, 200, -1) < 0)
            status = 499;
    }
    if (status == 0 && r->out->sink(r->out->arg, chunk, n) < 0)
        status = 499;
    return status;
}

/* Reads stdout and stderr until both end. 0, or 504 (obj_timeout) / 499 (cancelled) with the
 * command killed and err set. */
static int io_pump(io_run_t *r)
{
    int64_t deadline = time_mono_ns() + r->e->obj_timeout_ns;
    char *chunk = xmalloc(1 << 16);
    bool out_open = true, err_open = true;
    int status = 0;
    while (out_open || err_open) {
        int64_t left = (deadline - time_mono_ns()) / 1000000;
        if (left <= 0) {
            kill_child(r->pid);
            r->pid = -1;
            snprintf(r->err, r->errlen, "ETL error: %s did not finish within obj_timeout %llds",
                     r->argv[0], (long long)(r->e->obj_timeout_ns / 1000000000LL));
            status = 504;
            break;
        }
        struct pollfd pf[2] = {{out_open ? r->po[0] : -1, POLLIN, 0},
                               {err_open ? r->pe[0] : -1, POLLIN, 0}};
        int pr = poll(pf, 2, (int)(left > 1000 ? 1000 : left));
        if (pr < 0 && errno == EINTR)
            continue;
        if (pf[0].revents) {
            ssize_t n = read(r->po[0], chunk, 1 << 16);
            if (n <= 0) {
                out_open = false;
            } else if ((status = io_deliver(r, chunk, (size_t)n)) != 0) {
                kill_child(r->pid);
                r->pid = -1;
                snprintf(r->err, r->errlen, "transform of ais://%s/%s cancelled", r->rq->bck,
                         r->rq->obj);
                break;
            }
        }
        if (pf[1].revents) {
            char eb[1024];
            ssize_t n = read(r->pe[0], eb, sizeof(eb));
            if (n <= 0)
                err_open = false;
            else
                io_keep_stderr(r, eb, (size_t)n);
        }
    }
    free(chunk);
    return status;
}

/* Reaps the command after its output ended: 200, 499 (cancelled at the status) or 500 with
 * the exit status and the tail of stderr. */
static int io_wait(io_run_t *r)
{
    int wst = 0;
    while (waitpid(r->pid, &wst, 0) < 0 && errno == EINTR)
        ;
    size_t errn = r->errn;
    r->errtail[errn] = '\0';
    while (errn > 0 && (r->errtail[errn - 1] == '\n' || r->errtail[errn - 1] == ' '))
        r->errtail[--errn] = '\0';
    if (WIFEXITED(wst) && WEXITSTATUS(wst) == 0) {
        if (!r->started && r->out->on_status && r->out->on_status(r->out->arg, 200, 0) < 0)
            return 499;
        return 200;
    }
    char how[300];
    etl_describe_end(r->e, r->argv[0], wst, r->errtail, how, sizeof(how));
    snprintf(r->err, r->errlen, "ETL error: %s: %s", how, r->errtail);
    return 500;
}

static int io_transform(etl_inst_t *e, const etl_req_t *rq, const etl_out_t *out, char *err,
                        size_t errlen)
{
    json_t *cmd = json_object_get(e->entry, "command");
    size_t argc = json_array_size(cmd);
    if (argc == 0) {
        snprintf(err, errlen, "ETL error: %s has no command", e->name);
        return 500;
    }
    io_run_t run = {.e = e,
                    .rq = rq,
                    .out = out,
                    .pid = -1,
                    .po = {-1, -1},
                    .pe = {-1, -1},
                    .err = err,
                    .errlen = errlen};
    io_run_t *r = &run;
    r->argv = xcalloc(argc + 1, sizeof(char *));
    for (size_t i = 0; i < argc; i++)
        r->argv[i] = xstrdup(json_string_value(json_array_get(cmd, i)));
    char *args_env = xasprintf("ETL_ARGS=%s", rq->args ? rq->args : "");
    const char *extra[] = {args_env, NULL};
    char **envp = etl_build_env(e, extra);
    free(args_env);
    int status = 0;
    /* The child reads the object file directly: no copy through the target. Its own
     * descriptor, so the offset starts at 0 whatever the caller did with rq->fd. */
    char self[64];
    snprintf(self, sizeof(self), "/proc/self/fd/%d", rq->fd);
    int in = open(self, O_RDONLY | O_CLOEXEC);
    if (in < 0 || pipe2(r->po, O_CLOEXEC) < 0 || pipe2(r->pe, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "ETL error: cannot set up %s: %s", r->argv[0], strerror(errno));
        status = 500;
    }
    r->exec_argv = r->argv;
    if (status == 0 && r->e->sandboxed) {
        char why[512];
        r->exec_argv = etl_sandbox_argv(e, r->argv, why, sizeof(why));
        if (r->exec_argv == NULL) {
            snprintf(err, errlen, "ETL error: %s", why);
            status = 500;
        }
    }
    if (status == 0)
        status = io_spawn(r, in, envp);
    if (status == 0)
        status = io_pump(r);
    if (r->pid > 0)
        status = io_wait(r);
    for (int i = 0; i < 2; i++) {
        if (r->po[i] >= 0)
            close(r->po[i]);
        if (r->pe[i] >= 0)
            close(r->pe[i]);
    }
    if (in >= 0)
        close(in);
    if (r->exec_argv != r->argv)
        etl_strv_free(r->exec_argv);
    etl_strv_free(r->argv);
    etl_strv_free(envp);
    return status;
}

const etl_comm_t etl_comm_io = {
    .scheme = "io://", .transform = io_transform, .needs_server = false};
