/*
 * io.c - the io:// communicator: no server. Per object the target runs the spec's command with
 * the object's file as stdin and takes stdout as the result, so any command-line tool becomes
 * a transformer (`gzip -c`, `ffmpeg -i pipe:0 ...`). etl_args reach the command as ETL_ARGS.
 * A non-zero exit is an error carrying the last lines of stderr; obj_timeout kills the
 * command's process group. This is the honest model of a fork-per-object transformer.
 *
 * In the ETL sandbox the command is not spawned here: the instance's spawner (the runtime starts
 * `locus-sandbox-exec --serve` in the sandbox, once) forks it per object. The target connects to
 * the spawner's socket, hands over stdin, stdout and stderr, and gets the wait status back;
 * closing the connection early kills the command (src/etl/sandbox/exec.c).
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
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define IO_STDERR_MAX 2048

/* One run of the command for one object. */
typedef struct {
    etl_inst_t *e;
    const etl_req_t *rq;
    const etl_out_t *out;
    char **argv; /* the command */
    pid_t pid;   /* -1 when not running (never started or killed and reaped) */
    int conn;    /* in the sandbox: the connection to the spawner running it, else -1 */
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
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
    int sp = posix_spawnp(&r->pid, r->argv[0], &fa, &at, r->argv, envp);
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

/* In the sandbox: has the instance's spawner start the command on in and the run's pipes.
 * 0, or 503 with err set when the spawner cannot be reached. */
static int io_spawn_boxed(io_run_t *r, int in)
{
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", r->e->sock_path);
    const char *args = r->rq->args ? r->rq->args : "";
    char *payload = xasprintf("A%s", args); /* never an empty message */
    int fds[3] = {in, r->po[1], r->pe[1]};
    char ctl[CMSG_SPACE(sizeof(fds))];
    memset(ctl, 0, sizeof(ctl));
    struct iovec iov = {payload, strlen(payload)};
    struct msghdr m = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(fds));
    memcpy(CMSG_DATA(c), fds, sizeof(fds));
    int rc = s < 0 ? -1 : connect(s, (struct sockaddr *)&sa, sizeof(sa));
    if (rc == 0 && sendmsg(s, &m, MSG_NOSIGNAL) != (ssize_t)iov.iov_len)
        rc = -1;
    free(payload);
    if (rc != 0) {
        snprintf(r->err, r->errlen, "ETL error: the sandbox of %s cannot run %s: %s", r->e->name,
                 r->argv[0], strerror(errno));
        if (s >= 0)
            close(s);
        return 503;
    }
    r->conn = s;
    close(r->po[1]);
    close(r->pe[1]);
    r->po[1] = r->pe[1] = -1;
    return 0;
}

/* Stops the command now (obj_timeout, a cancelled request). */
static void io_kill(io_run_t *r)
{
    if (r->conn >= 0) { /* the spawner kills the command's group when we hang up */
        close(r->conn);
        r->conn = -1;
    } else if (r->pid > 0) {
        kill_pgrp(r->pid, SIGKILL);
        waitpid(r->pid, NULL, 0);
    }
    r->pid = -1;
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
            io_kill(r);
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
                io_kill(r);
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
    if (r->conn >= 0) {
        ssize_t n;
        while ((n = recv(r->conn, &wst, sizeof(wst), 0)) < 0 && errno == EINTR)
            ;
        close(r->conn);
        r->conn = -1;
        if (n != (ssize_t)sizeof(wst)) {
            snprintf(r->err, r->errlen, "ETL error: the sandbox of %s ended while running %s",
                     r->e->name, r->argv[0]);
            return 503;
        }
    } else {
        while (waitpid(r->pid, &wst, 0) < 0 && errno == EINTR)
            ;
    }
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
    etl_describe_end(r->e, r->argv[0], wst, false, r->errtail, how, sizeof(how));
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
                    .conn = -1,
                    .po = {-1, -1},
                    .pe = {-1, -1},
                    .err = err,
                    .errlen = errlen};
    io_run_t *r = &run;
    r->argv = xcalloc(argc + 1, sizeof(char *));
    for (size_t i = 0; i < argc; i++)
        r->argv[i] = xstrdup(json_string_value(json_array_get(cmd, i)));
    char **envp = NULL; /* in the sandbox, the spawner has the environment */
    if (!e->sandboxed) {
        char *args_env = xasprintf("ETL_ARGS=%s", rq->args ? rq->args : "");
        const char *extra[] = {args_env, NULL};
        envp = etl_build_env(e, extra);
        free(args_env);
    }
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
    if (status == 0)
        status = e->sandboxed ? io_spawn_boxed(r, in) : io_spawn(r, in, envp);
    if (status == 0)
        status = io_pump(r);
    if (r->pid > 0 || r->conn >= 0)
        status = io_wait(r);
    if (r->conn >= 0)
        close(r->conn);
    for (int i = 0; i < 2; i++) {
        if (r->po[i] >= 0)
            close(r->po[i]);
        if (r->pe[i] >= 0)
            close(r->pe[i]);
    }
    if (in >= 0)
        close(in);
    etl_strv_free(r->argv);
    etl_strv_free(envp);
    return status;
}

const etl_comm_t etl_comm_io = {
    .scheme = "io://", .transform = io_transform, .needs_server = false};
