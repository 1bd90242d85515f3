/*
 * exec.c - locus-sandbox-exec: the last step into the ETL sandbox (src/etl/sandbox.c). bwrap runs
 * it inside the new namespaces; it sets the ETL's resource limits, becomes the sandbox user for
 * good and executes the ETL's command:
 *
 *   locus-sandbox-exec [--uid U --gid G] [--as BYTES] --nofile N --nproc N [--serve SOCKET]
 *                      -- COMMAND [ARG...]
 *
 * With --uid (bwrap ran as root and left us CAP_SETUID, CAP_SETGID and CAP_SETPCAP) it empties
 * the capability bounding set, drops the supplementary groups, sets the real, effective and
 * saved ids, clears every capability set and checks that root cannot be regained. The limits are
 * hard limits (soft = hard), so the command cannot raise them. Only libc: it runs once per
 * io:// object.
 *
 * With --serve it does not execute COMMAND itself but becomes the io:// spawner of the sandbox:
 * it listens on the SOCK_SEQPACKET socket SOCKET (in the ETL's socket directory, which the
 * target reaches), and runs COMMAND once per connection, inside the sandbox it already is in.
 * Per object the target connects and sends one message: a byte, then the value of ETL_ARGS,
 * with three descriptors (SCM_RIGHTS): the command's stdin (the object), stdout and stderr. The
 * spawner forks, the child starts a session of its own and execs COMMAND with them; when the
 * child ends the spawner answers with its wait status (an int) and closes the connection. A
 * connection the target closes first (obj_timeout, a cancelled request) gets its command's
 * process group killed. So an io:// ETL pays for the sandbox (namespaces, mounts: milliseconds,
 * serialised in the kernel) once, not per object.
 *
 * DESIGN: one thread; poll() over the listening socket, a signalfd for SIGCHLD and the open
 * connections; a table of (connection, child pid).
 *
 * Exit status: the command's (exec), or 127 with one line on stderr saying what failed.
 */
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define ME "locus-sandbox-exec"

static int fail(const char *what, const char *arg)
{
    fprintf(stderr, ME ": %s%s%s: %s\n", what, arg ? " " : "", arg ? arg : "", strerror(errno));
    return 127;
}

static int usage(void)
{
    fprintf(stderr, "usage: " ME " [--uid U --gid G] [--as BYTES] --nofile N --nproc N "
                    "[--serve SOCKET] -- CMD...\n");
    return 127;
}

/* A positive decimal number, or -1. */
static long long number(const char *s)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    return errno == 0 && end != s && *end == '\0' && v > 0 ? v : -1;
}

static int set_limit(int res, long long v, const char *name)
{
    struct rlimit rl = {(rlim_t)v, (rlim_t)v};
    if (setrlimit(res, &rl) != 0)
        return fail("cannot set the limit", name);
    return 0;
}

/* Becomes uid/gid for good: no capability can come back, from any set. */
static int become(long long uid, long long gid)
{
    for (int cap = 0; cap <= 63; cap++) {
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
            return fail("cannot drop a capability from the bounding set", NULL);
    }
    if (setgroups(0, NULL) != 0 || setresgid((gid_t)gid, (gid_t)gid, (gid_t)gid) != 0)
        return fail("cannot switch to the sandbox group", NULL);
    if (setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid) != 0)
        return fail("cannot switch to the sandbox user", NULL);
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof(data));
    if (syscall(SYS_capset, &hdr, data) != 0 ||
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0)
        return fail("cannot clear the capabilities", NULL);
    if (setuid(0) == 0 || getuid() != (uid_t)uid || geteuid() != (uid_t)uid) {
        errno = EPERM;
        return fail("still privileged after the switch to the sandbox user", NULL);
    }
    return 0;
}

/* Executes cmd; on failure says why on stderr. Returns 127. */
static int run(char **cmd)
{
    execvp(cmd[0], cmd);
    int err = errno;
    const char *hint = "";
    if (err == ENOENT || err == EACCES)
        hint = " (only /usr, the bin dir, the mountpaths and etl_sandbox_paths are visible in the "
               "ETL sandbox)";
    else if (err == EAGAIN)
        hint = " (the processes limit of the sandbox user is reached)";
    fprintf(stderr, ME ": cannot execute %s: %s%s\n", cmd[0], strerror(err), hint);
    return 127;
}

/* One object being transformed: its connection (-1 once the target hung up) and command. */
typedef struct {
    int conn;
    pid_t pid;
} job_t;

static job_t *jobs;
static size_t njobs, capjobs;

/* Child of the spawner for one connection: the command on the passed descriptors. */
static void child(const int fds[3], const char *args, char **cmd)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    setsid(); /* its own group: a hang-up kills all of it */
    for (int i = 0; i < 3; i++)
        if (dup2(fds[i], i) < 0)
            _exit(127);
    setenv("ETL_ARGS", args, 1);
    _exit(run(cmd));
}

/* Takes one request from a new connection and starts its command. */
static void start(int conn, char **cmd)
{
    char buf[65536];
    char ctl[CMSG_SPACE(3 * sizeof(int))];
    struct iovec iov = {buf, sizeof(buf) - 1};
    struct msghdr m = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)};
    struct timeval tv = {5, 0}; /* the target sends at once; never wait on it for long */
    setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ssize_t n = recvmsg(conn, &m, MSG_CMSG_CLOEXEC);
    struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&m) : NULL;
    if (c == NULL || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(3 * sizeof(int))) {
        close(conn);
        return;
    }
    int fds[3];
    memcpy(fds, CMSG_DATA(c), sizeof(fds));
    buf[n] = '\0';
    pid_t pid = njobs < capjobs ? fork() : -1;
    if (pid == 0)
        child(fds, buf + 1, cmd);
    for (int i = 0; i < 3; i++)
        close(fds[i]);
    if (pid < 0) {
        int st = 127 << 8; /* as a failed exec */
        send(conn, &st, sizeof(st), MSG_NOSIGNAL);
        close(conn);
        return;
    }
    jobs[njobs++] = (job_t){conn, pid};
}

/* Reaps ended commands and answers their connections. */
static void reap(void)
{
    int st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        for (size_t i = 0; i < njobs; i++) {
            if (jobs[i].pid != pid)
                continue;
            if (jobs[i].conn >= 0) {
                send(jobs[i].conn, &st, sizeof(st), MSG_NOSIGNAL);
                close(jobs[i].conn);
            }
            jobs[i] = jobs[--njobs];
            break;
        }
    }
}

static int serve(const char *path, char **cmd)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    capjobs = rl.rlim_cur > 64 ? (size_t)rl.rlim_cur / 4 : 16;
    jobs = calloc(capjobs, sizeof(job_t));
    struct pollfd *pf = calloc(capjobs + 2, sizeof(struct pollfd));
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (jobs == NULL || pf == NULL || strlen(path) >= sizeof(sa.sun_path))
        return fail("cannot serve on", path);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    int sfd = signalfd(-1, &chld, SFD_CLOEXEC);
    int ls = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    unlink(path);
    if (sfd < 0 || ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(ls, 128) != 0)
        return fail("cannot serve on", path);
    for (;;) {
        pf[0] = (struct pollfd){ls, njobs < capjobs ? POLLIN : 0, 0};
        pf[1] = (struct pollfd){sfd, POLLIN, 0};
        for (size_t i = 0; i < njobs; i++)
            pf[2 + i] = (struct pollfd){jobs[i].conn, POLLIN, 0}; /* -1: ignored */
        size_t n = njobs;
        if (poll(pf, n + 2, -1) < 0 && errno != EINTR)
            return fail("poll", NULL);
        for (size_t i = 0; i < n; i++) {
            if (pf[2 + i].fd >= 0 && pf[2 + i].revents) { /* the target gave up on it */
                kill(-jobs[i].pid, SIGKILL);
                kill(jobs[i].pid, SIGKILL); /* before its setsid() */
                close(jobs[i].conn);
                jobs[i].conn = -1;
            }
        }
        if (pf[1].revents) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof(si)) < 0 && errno != EAGAIN && errno != EINTR)
                return fail("read signalfd", NULL);
            reap();
        }
        if (pf[0].revents) {
            int conn = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
            if (conn >= 0)
                start(conn, cmd);
        }
    }
}

int main(int argc, char **argv)
{
    long long uid = -1, gid = -1, as = -1, nofile = -1, nproc = -1;
    const char *serve_path = NULL;
    int i = 1;
    for (; i + 1 < argc && strcmp(argv[i], "--") != 0; i += 2) {
        if (strcmp(argv[i], "--serve") == 0) {
            serve_path = argv[i + 1];
            continue;
        }
        long long v = number(argv[i + 1]);
        if (v < 0)
            return usage();
        if (strcmp(argv[i], "--uid") == 0)
            uid = v;
        else if (strcmp(argv[i], "--gid") == 0)
            gid = v;
        else if (strcmp(argv[i], "--as") == 0)
            as = v;
        else if (strcmp(argv[i], "--nofile") == 0)
            nofile = v;
        else if (strcmp(argv[i], "--nproc") == 0)
            nproc = v;
        else
            return usage();
    }
    if (i >= argc || strcmp(argv[i], "--") != 0 || i + 1 >= argc || nofile < 0 || nproc < 0 ||
        (uid < 0) != (gid < 0))
        return usage();
    char **cmd = argv + i + 1;
    if ((as > 0 && set_limit(RLIMIT_AS, as, "RLIMIT_AS")) || /* no --as: no memory limit */
        set_limit(RLIMIT_NOFILE, nofile, "RLIMIT_NOFILE") ||
        set_limit(RLIMIT_NPROC, nproc, "RLIMIT_NPROC"))
        return 127;
    if (uid >= 0 && become(uid, gid) != 0)
        return 127;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return fail("cannot set no_new_privs", NULL);
    return serve_path ? serve(serve_path, cmd) : run(cmd);
}
