/*
 * sandbox.c - the ETL sandbox (docs/security.md, "ETL sandbox"): every process the runtime starts
 * for an ETL (a server, or an io:// command per object) runs under bubblewrap as an unprivileged
 * user, with the ETL's resource limits.
 *
 * DESIGN
 * etl_sandbox_argv() turns a command into
 *
 *   bwrap <namespaces> <file system> -- <bin_dir>/locus-sandbox-exec <uid, limits> -- <command>
 *
 * bwrap builds a new mount namespace holding only: /usr and the /bin, /lib* links or directories,
 * a few files of /etc, a new /proc (new pid namespace), a minimal /dev, a private tmpfs /tmp, the
 * build's bin dir, the node's mountpaths and the paths of etl_sandbox_paths (all read-only), and
 * the ETL's own Unix socket directory (read-write). Node state that would fall inside one of
 * those (data dir, config file, log file) is covered up, files by an empty mode-0000 file of the
 * data dir (not /dev/null, which a broken host may have turned into a regular file). The network
 * namespace is the host's: servers listen on loopback and reach the targets (hpull, direct put) as
 * before.
 *
 * Under root (the usual case) bwrap runs privileged without a user namespace, keeps only
 * CAP_SETUID, CAP_SETGID and CAP_SETPCAP, and locus-sandbox-exec (src/etl/sandbox/exec.c) sets
 * the rlimits, empties the capability sets and switches to uid/gid 65534 before it executes the
 * command: the ETL's processes are really uid 65534 on the host. bwrap's --unshare-user would
 * only rename root (uid 65534 inside maps to 0 outside). A daemon that is not root cannot
 * change uid: bwrap then uses a user namespace (unprivileged user namespaces must be enabled) and
 * the processes keep the daemon's uid.
 *
 * The child that execs bwrap calls setsid() itself: the sandbox has no controlling terminal (what
 * bwrap's --new-session is for) and every process in it stays in one process group led by
 * bwrap, which the runtime signals and matches listening sockets against.
 */
#include "cluster/cluster.h"
#include "common/log.h"
#include "common/util.h"
#include "etl/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SANDBOX_UID 65534
#define SANDBOX_GID 65534
#define SANDBOX_HELPER "locus-sandbox-exec"

/* What of /etc the processes see: name lookups, TLS roots, the dynamic linker's cache,
 * alternatives (symlinks of /usr/bin), time zone, Python's site configuration. */
static const char *const etc_files[] = {
    "passwd",     "group",          "nsswitch.conf", "hosts",     "host.conf",       "resolv.conf",
    "gai.conf",   "services",       "protocols",     "localtime", "timezone",        "ld.so.cache",
    "ld.so.conf", "ld.so.conf.d",   "alternatives",  "ssl",       "ca-certificates", "mime.types",
    "os-release", "debian_version", "fonts",
};
/* Directories of /etc bound by prefix (python3, python3.11; ImageMagick-6). */
static const char *const etc_prefixes[] = {"python3", "ImageMagick"};
/* Top-level entries that are links into /usr on merged-/usr systems, directories elsewhere. */
static const char *const root_entries[] = {"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"};

typedef struct {
    char **v;
    size_t n, cap;
    char **dirs; /* directories made with --dir so far */
    size_t ndirs;
} argv_t;

static void av_add(argv_t *a, const char *s)
{
    if (a->n + 2 > a->cap) {
        a->cap = a->cap ? a->cap * 2 : 64;
        a->v = xrealloc(a->v, a->cap * sizeof(char *));
    }
    a->v[a->n++] = xstrdup(s);
    a->v[a->n] = NULL;
}

static void av_add3(argv_t *a, const char *x, const char *y, const char *z)
{
    av_add(a, x);
    av_add(a, y);
    if (z)
        av_add(a, z);
}

static bool path_within(const char *path, const char *root);

/* Makes the parent directories of dest (outside /usr) with --dir: bwrap would make them mode
 * 0700 as root, and the sandbox user could not reach dest through them. */
static void add_parents(argv_t *a, const char *dest)
{
    char *p = xstrdup(dest);
    for (char *slash = strchr(p + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        bool seen = path_within(p, "/usr") || strcmp(p, "/tmp") == 0;
        for (size_t i = 0; i < a->ndirs && !seen; i++)
            seen = strcmp(a->dirs[i], p) == 0;
        if (!seen) {
            a->dirs = xrealloc(a->dirs, (a->ndirs + 1) * sizeof(char *));
            a->dirs[a->ndirs++] = xstrdup(p);
            av_add3(a, "--dir", p, NULL);
        }
        *slash = '/';
    }
    free(p);
}

/* Absolute path of an executable named prog in PATH into out. 0, or -1 when there is none. */
static int find_in_path(const char *prog, char *out, size_t outlen)
{
    const char *path = getenv("PATH");
    if (path == NULL || path[0] == '\0')
        path = "/usr/local/bin:/usr/bin:/bin";
    for (const char *p = path; *p;) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        int n = snprintf(out, outlen, "%.*s/%s", (int)len, p, prog);
        if (len > 0 && n > 0 && (size_t)n < outlen && access(out, X_OK) == 0)
            return 0;
        p += len + (colon ? 1 : 0);
    }
    return -1;
}

/* Whether path is root itself or lies below it. */
static bool path_within(const char *path, const char *root)
{
    size_t n = strlen(root);
    while (n > 1 && root[n - 1] == '/')
        n--;
    return strncmp(path, root, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static void bind_system(argv_t *a)
{
    av_add3(a, "--ro-bind", "/usr", "/usr");
    for (size_t i = 0; i < ARRAY_SIZE(root_entries); i++) {
        struct stat st;
        char target[PATH_MAX];
        if (lstat(root_entries[i], &st) != 0)
            continue;
        ssize_t n =
            S_ISLNK(st.st_mode) ? readlink(root_entries[i], target, sizeof(target) - 1) : -1;
        if (n > 0) {
            target[n] = '\0';
            av_add3(a, "--symlink", target, root_entries[i]);
        } else if (S_ISDIR(st.st_mode)) {
            av_add3(a, "--ro-bind", root_entries[i], root_entries[i]);
        }
    }
    av_add3(a, "--dir", "/etc", NULL); /* mode 0755: bwrap would make it 0700 */
    for (size_t i = 0; i < ARRAY_SIZE(etc_files); i++) {
        char *p = xasprintf("/etc/%s", etc_files[i]);
        av_add3(a, "--ro-bind-try", p, p);
        free(p);
    }
    DIR *d = opendir("/etc");
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        for (size_t i = 0; i < ARRAY_SIZE(etc_prefixes); i++) {
            if (strncmp(de->d_name, etc_prefixes[i], strlen(etc_prefixes[i])) == 0) {
                char *p = xasprintf("/etc/%s", de->d_name);
                av_add3(a, "--ro-bind", p, p);
                free(p);
            }
        }
    }
    if (d)
        closedir(d);
}

/* The file bound over a private file: empty, mode 0000, in the data dir. Not /dev/null: a host
 * whose /dev/null was replaced by a regular file (a `mv` or `cp` onto it by root) would show the
 * sandbox whatever the host's processes discarded. NULL when it cannot be made. */
static char *mask_file(const config_t *cfg)
{
    if (cfg->data_dir == NULL)
        return NULL;
    char *p = xasprintf("%s/etl-sandbox-mask", cfg->data_dir);
    struct stat st;
    if (lstat(p, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0 && (st.st_mode & 07777) == 0)
        return p;
    unlink(p);
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0);
    if (fd < 0 || fchmod(fd, 0) != 0) {
        LOCUS_LOG(LOG_WARNING, "ETL sandbox: cannot make %s: %s", p, strerror(errno));
        if (fd >= 0)
            close(fd);
        free(p);
        return NULL;
    }
    close(fd);
    return p;
}

/* Covers node state that a bound tree would show: the data dir (with every ETL's log and
 * socket), the config file and the log file. Then binds again the mountpaths that lie inside a
 * covered directory (a mountpath under the data dir, itself under an etl_sandbox_paths entry).
 * *mask: the file that covers files, made by the first that needs it (the caller frees it). */
static void mask_private(argv_t *a, const config_t *cfg, char *const *bound, size_t nbound,
                         char **mask)
{
    const char *priv[] = {cfg->data_dir, cfg->config_file, cfg->log_file};
    for (size_t i = 0; i < ARRAY_SIZE(priv); i++) {
        char real[PATH_MAX];
        if (priv[i] == NULL || realpath(priv[i], real) == NULL)
            continue;
        bool hit = false;
        for (size_t k = 0; k < nbound && !hit; k++) {
            char rb[PATH_MAX];
            hit = realpath(bound[k], rb) != NULL && path_within(real, rb);
        }
        struct stat st;
        if (!hit || stat(real, &st) != 0)
            continue;
        if (!S_ISDIR(st.st_mode)) {
            if (*mask == NULL) /* made once per command line, when a file needs it */
                *mask = mask_file(cfg);
            av_add3(a, "--ro-bind", *mask ? *mask : "/dev/null", real);
            continue;
        }
        av_add3(a, "--tmpfs", real, NULL);
        char *mps[CONFIG_MAX_MPATHS];
        size_t nmp = etl_mountpaths(mps);
        for (size_t m = 0; m < nmp; m++) {
            char rm[PATH_MAX];
            if (realpath(mps[m], rm) && path_within(rm, real) && strcmp(rm, real)) {
                add_parents(a, rm);
                av_add3(a, "--ro-bind", rm, rm);
            }
        }
        for (size_t m = 0; m < nmp; m++)
            free(mps[m]);
    }
}

/* The helper's part: uid, limits, then the command. */
static void add_helper(argv_t *a, const etl_inst_t *e, const char *helper, char *const *cmd,
                       bool serve)
{
    char num[32];
    av_add(a, "--");
    av_add(a, helper);
    if (geteuid() == 0) {
        snprintf(num, sizeof(num), "%d", SANDBOX_UID);
        av_add3(a, "--uid", num, NULL);
        snprintf(num, sizeof(num), "%d", SANDBOX_GID);
        av_add3(a, "--gid", num, NULL);
    }
    if (e->limits.memory > 0) { /* 0: no memory limit (etl_default_memory 0) */
        snprintf(num, sizeof(num), "%lld", (long long)e->limits.memory);
        av_add3(a, "--as", num, NULL);
    }
    snprintf(num, sizeof(num), "%lld", (long long)e->limits.open_files);
    av_add3(a, "--nofile", num, NULL);
    snprintf(num, sizeof(num), "%lld", (long long)e->limits.processes);
    av_add3(a, "--nproc", num, NULL);
    if (serve)
        av_add3(a, "--serve", e->sock_path, NULL);
    av_add(a, "--");
    for (char *const *c = cmd; *c; c++)
        av_add(a, *c);
}

char **etl_sandbox_argv(const etl_inst_t *e, char *const *cmd, bool serve, char *err, size_t errlen)
{
    const config_t *cfg = cluster_config();
    char bwrap[PATH_MAX];
    if (find_in_path("bwrap", bwrap, sizeof(bwrap)) != 0) {
        snprintf(err, errlen,
                 "the ETL sandbox needs bubblewrap, and bwrap is not in PATH: install the Debian "
                 "package bubblewrap, or set etl_sandbox to false in the node config (no "
                 "isolation)");
        return NULL;
    }
    char *helper = xasprintf("%s/%s", cfg->bin_dir, SANDBOX_HELPER);
    if (access(helper, X_OK) != 0) {
        snprintf(err, errlen, "the ETL sandbox helper %s is missing: %s", helper, strerror(errno));
        free(helper);
        return NULL;
    }
    argv_t a = {0};
    av_add(&a, bwrap);
    const char *flags[] = {"--die-with-parent", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
                           "--unshare-cgroup-try"};
    for (size_t i = 0; i < ARRAY_SIZE(flags); i++)
        av_add(&a, flags[i]);
    av_add3(&a, "--hostname", "locus-etl", NULL);
    if (geteuid() == 0) {
        /* what the helper needs to switch to the sandbox user; it drops them before exec */
        av_add3(&a, "--cap-drop", "ALL", NULL);
        av_add3(&a, "--cap-add", "CAP_SETUID", NULL);
        av_add3(&a, "--cap-add", "CAP_SETGID", NULL);
        av_add3(&a, "--cap-add", "CAP_SETPCAP", NULL);
    } else {
        av_add(&a, "--unshare-user");
    }
    bind_system(&a);
    av_add3(&a, "--proc", "/proc", NULL);
    av_add3(&a, "--dev", "/dev", NULL);
    char size[32];
    snprintf(size, sizeof(size), "%lld", (long long)e->limits.memory);
    const char *tmps[] = {"/tmp", "/dev/shm"};
    for (size_t i = 0; i < ARRAY_SIZE(tmps); i++) {
        av_add3(&a, "--perms", "1777", NULL);
        if (e->limits.memory > 0) /* each holds at most the memory limit */
            av_add3(&a, "--size", size, NULL);
        av_add3(&a, "--tmpfs", tmps[i], NULL);
    }
    char *bound[CONFIG_MAX_MPATHS + CONFIG_MAX_SANDBOX_PATHS + 2];
    size_t nb = 0;
    bound[nb++] = cfg->bin_dir;
    if (cfg->tls_ca) /* https targets: the ETL verifies them with it (docs/security.md §6) */
        bound[nb++] = cfg->tls_ca;
    char *mps[CONFIG_MAX_MPATHS];
    size_t nmp = etl_mountpaths(mps);
    for (size_t i = 0; i < nmp; i++)
        bound[nb++] = mps[i];
    for (size_t i = 0; i < cfg->n_etl_sandbox_paths; i++)
        bound[nb++] = cfg->etl_sandbox_paths[i];
    for (size_t i = 0; i < nb; i++) {
        add_parents(&a, bound[i]);
        av_add3(&a, "--ro-bind", bound[i], bound[i]);
    }
    char *usr[] = {"/usr"};
    char *mask = NULL;
    mask_private(&a, cfg, usr, 1, &mask);
    mask_private(&a, cfg, bound, nb, &mask);
    free(mask);
    for (size_t i = 0; i < nmp; i++)
        free(mps[i]);
    if (e->sock_dir[0]) {
        add_parents(&a, e->sock_dir);
        av_add3(&a, "--bind", e->sock_dir, e->sock_dir);
    }
    av_add3(&a, "--chdir", "/tmp", NULL);
    add_helper(&a, e, helper, cmd, serve);
    free(helper);
    for (size_t i = 0; i < a.ndirs; i++)
        free(a.dirs[i]);
    free(a.dirs);
    return a.v;
}

int etl_sandbox_sockdir(const etl_inst_t *e, char *err, size_t errlen)
{
    if (mkdir(e->sock_dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", e->sock_dir, strerror(errno));
        return -1;
    }
    unlink(e->sock_path); /* a leftover of a server that was killed */
    /* The server creates its socket here as the sandbox user. */
    if (e->sandboxed && geteuid() == 0 && chown(e->sock_dir, SANDBOX_UID, SANDBOX_GID) != 0) {
        snprintf(err, errlen, "cannot hand %s to uid %d: %s", e->sock_dir, SANDBOX_UID,
                 strerror(errno));
        return -1;
    }
    return 0;
}

/* Whether a process's last output says it could not get memory. */
static bool says_out_of_memory(const char *out)
{
    static const char *const exact[] = {"MemoryError", "bad_alloc", "ENOMEM"};
    static const char *const any_case[] = {"out of memory", "cannot allocate memory",
                                           "memory exhausted", "failed to allocate"};
    for (size_t i = 0; i < ARRAY_SIZE(exact); i++)
        if (strstr(out, exact[i]))
            return true;
    for (size_t i = 0; i < ARRAY_SIZE(any_case); i++)
        if (strcasestr(out, any_case[i]))
            return true;
    return false;
}

void etl_describe_end(const etl_inst_t *e, const char *who, int wst, bool of_bwrap,
                      const char *output, char *out, size_t outlen)
{
    int sig = WIFSIGNALED(wst) ? WTERMSIG(wst) : 0;
    int code = WIFEXITED(wst) ? WEXITSTATUS(wst) : -1;
    /* bwrap exits with 128 + N when the command died of signal N */
    if (of_bwrap && code > 128 && code < 128 + NSIG) {
        sig = code - 128;
        code = -1;
    }
    char how[160];
    if (sig)
        snprintf(how, sizeof(how), "%s killed by signal %d", who, sig);
    else
        snprintf(how, sizeof(how), "%s exited with status %d", who, code);
    if (e->sandboxed && e->limits.memory > 0 && says_out_of_memory(output)) {
        char lim[32];
        etl_size_str(e->limits.memory, lim, sizeof(lim));
        snprintf(out, outlen, "stopped: memory limit %s exceeded (%s)", lim, how);
    } else {
        snprintf(out, outlen, "%s", how);
    }
}
