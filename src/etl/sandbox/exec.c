/*
 * exec.c - locus-sandbox-exec: the last step into the ETL sandbox (src/etl/sandbox.c). bwrap runs
 * it inside the new namespaces; it sets the ETL's resource limits, becomes the sandbox user for
 * good and executes the ETL's command:
 *
 *   locus-sandbox-exec [--uid U --gid G] --as BYTES --nofile N --nproc N -- COMMAND [ARG...]
 *
 * With --uid (bwrap ran as root and left us CAP_SETUID, CAP_SETGID and CAP_SETPCAP) it empties
 * the capability bounding set, drops the supplementary groups, sets the real, effective and
 * saved ids, clears every capability set and checks that root cannot be regained. The limits are
 * hard limits (soft = hard), so the command cannot raise them. Only libc: it runs once per
 * io:// object.
 *
 * Exit status: the command's (exec), or 127 with one line on stderr saying what failed.
 */
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ME "locus-sandbox-exec"

static int fail(const char *what, const char *arg)
{
    fprintf(stderr, ME ": %s%s%s: %s\n", what, arg ? " " : "", arg ? arg : "", strerror(errno));
    return 127;
}

static int usage(void)
{
    fprintf(stderr, "usage: " ME " [--uid U --gid G] --as BYTES --nofile N --nproc N -- CMD...\n");
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

int main(int argc, char **argv)
{
    long long uid = -1, gid = -1, as = -1, nofile = -1, nproc = -1;
    int i = 1;
    for (; i + 1 < argc && strcmp(argv[i], "--") != 0; i += 2) {
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
    if (i >= argc || strcmp(argv[i], "--") != 0 || i + 1 >= argc || as < 0 || nofile < 0 ||
        nproc < 0 || (uid < 0) != (gid < 0))
        return usage();
    char **cmd = argv + i + 1;
    if (set_limit(RLIMIT_AS, as, "RLIMIT_AS") ||
        set_limit(RLIMIT_NOFILE, nofile, "RLIMIT_NOFILE") ||
        set_limit(RLIMIT_NPROC, nproc, "RLIMIT_NPROC"))
        return 127;
    if (uid >= 0 && become(uid, gid) != 0)
        return 127;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return fail("cannot set no_new_privs", NULL);
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
