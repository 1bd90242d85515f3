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
    kill(-pid, SIGKILL);
    waitpid(pid, NULL, 0);
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
    char **argv = xcalloc(argc + 1, sizeof(char *));
    for (size_t i = 0; i < argc; i++)
        argv[i] = xstrdup(json_string_value(json_array_get(cmd, i)));
    char *args_env = xasprintf("ETL_ARGS=%s", rq->args ? rq->args : "");
    const char *extra[] = {args_env, NULL};
    char **envp = etl_build_env(e, extra);
    free(args_env);
    int po[2] = {-1, -1}, pe[2] = {-1, -1};
    int status = 0;
    pid_t pid = -1;
    /* The child reads the object file directly: no copy through the target. Its own
     * descriptor, so the offset starts at 0 whatever the caller did with rq->fd. */
    char self[64];
    snprintf(self, sizeof(self), "/proc/self/fd/%d", rq->fd);
    int in = open(self, O_RDONLY | O_CLOEXEC);
    if (in < 0 || pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "ETL error: cannot set up %s: %s", argv[0], strerror(errno));
        status = 500;
        goto out;
    }
    /* posix_spawn (vfork-like in glibc), not fork: forking the multi-threaded daemon for every
     * object copied its page tables and then took copy-on-write faults (bench: ~30% of the
     * target's CPU on small objects). */
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in, 0);
    posix_spawn_file_actions_adddup2(&fa, po[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
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
    int sp = posix_spawnp(&pid, argv[0], &fa, &at, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (sp != 0) {
        pid = -1;
        snprintf(err, errlen, "ETL error: cannot execute %s: %s", argv[0], strerror(sp));
        status = 500;
        goto out;
    }
    close(po[1]);
    close(pe[1]);
    po[1] = pe[1] = -1;

    int64_t deadline = time_mono_ns() + e->obj_timeout_ns;
    char errtail[IO_STDERR_MAX + 1];
    size_t errn = 0;
    char *chunk = xmalloc(1 << 16);
    bool started = false, out_open = true, err_open = true;
    while (out_open || err_open) {
        int64_t left = (deadline - time_mono_ns()) / 1000000;
        if (left <= 0) {
            kill_child(pid);
            pid = -1;
            snprintf(err, errlen, "ETL error: %s did not finish within obj_timeout %llds", argv[0],
                     (long long)(e->obj_timeout_ns / 1000000000LL));
            status = 504;
            break;
        }
        struct pollfd pf[2] = {{out_open ? po[0] : -1, POLLIN, 0},
                               {err_open ? pe[0] : -1, POLLIN, 0}};
        int pr = poll(pf, 2, (int)(left > 1000 ? 1000 : left));
        if (pr < 0 && errno == EINTR)
            continue;
        if (pf[0].revents) {
            ssize_t n = read(po[0], chunk, 1 << 16);
            if (n <= 0) {
                out_open = false;
            } else {
                if (!started) {
                    started = true;
                    if (out->on_status && out->on_status(out->arg, 200, -1) < 0)
                        status = 499;
                }
                if (status == 0 && out->sink(out->arg, chunk, (size_t)n) < 0)
                    status = 499;
                if (status) {
                    kill_child(pid);
                    pid = -1;
                    snprintf(err, errlen, "transform of ais://%s/%s cancelled", rq->bck, rq->obj);
                    break;
                }
            }
        }
        if (pf[1].revents) {
            char eb[1024];
            ssize_t n = read(pe[0], eb, sizeof(eb));
            if (n <= 0) {
                err_open = false;
            } else { /* keep the last IO_STDERR_MAX bytes */
                if (errn + (size_t)n > IO_STDERR_MAX) {
                    size_t drop = errn + (size_t)n - IO_STDERR_MAX;
                    if (drop > errn)
                        drop = errn;
                    memmove(errtail, errtail + drop, errn - drop);
                    errn -= drop;
                }
                size_t take = (size_t)n > IO_STDERR_MAX ? IO_STDERR_MAX : (size_t)n;
                memcpy(errtail + errn, eb + (size_t)n - take, take);
                errn += take;
            }
        }
    }
    free(chunk);
    if (pid > 0) {
        int wst = 0;
        while (waitpid(pid, &wst, 0) < 0 && errno == EINTR)
            ;
        errtail[errn] = '\0';
        while (errn > 0 && (errtail[errn - 1] == '\n' || errtail[errn - 1] == ' '))
            errtail[--errn] = '\0';
        if (WIFEXITED(wst) && WEXITSTATUS(wst) == 0) {
            if (!started && out->on_status && out->on_status(out->arg, 200, 0) < 0)
                status = 499;
            else
                status = 200;
        } else if (WIFEXITED(wst)) {
            snprintf(err, errlen, "ETL error: %s exited with status %d: %s", argv[0],
                     WEXITSTATUS(wst), errtail);
            status = 500;
        } else {
            snprintf(err, errlen, "ETL error: %s killed by signal %d: %s", argv[0], WTERMSIG(wst),
                     errtail);
            status = 500;
        }
    }
out:
    for (int i = 0; i < 2; i++) {
        if (po[i] >= 0)
            close(po[i]);
        if (pe[i] >= 0)
            close(pe[i]);
    }
    if (in >= 0)
        close(in);
    etl_strv_free(argv);
    etl_strv_free(envp);
    return status;
}

const etl_comm_t etl_comm_io = {
    .scheme = "io://", .transform = io_transform, .needs_server = false};
