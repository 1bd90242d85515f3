/*
 * runtime.c - the process runtime: one ETL server process per (ETL, target), started,
 * health-checked, watched and stopped by this target, driven by the EtlMD.
 *
 * DESIGN
 * A reconcile thread compares the EtlMD with the local instances every 300 ms (and at once
 * when a new EtlMD arrives): ETLs that should run (stage Initializing or Running) and are not
 * running for the current generation (xid) get a starter thread (fork/exec in a new process
 * group, poll GET /health until init_timeout); ETLs that are gone or Aborted are stopped
 * (SIGTERM to the group, SIGKILL after 3 s). A server that exits on its own is marked failed
 * with its exit status and last log lines, and reported to the primary, which aborts the ETL
 * cluster-wide. Instances are reference-counted: a transform holds its instance, so stopping
 * never frees memory under a request.
 */
#include "cluster/cluster.h"
#include "cluster/meta.h"
#include "common/json.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/util.h"
#include "etl/internal.h"
#include "etlspec/etlspec.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* etl_lock protects insts[], every instance's refcnt, state and reason. */
static pthread_mutex_t etl_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t etl_wake = PTHREAD_COND_INITIALIZER;
static etl_inst_t *insts[256];
static size_t n_insts;
static bool stopping, kicked;
static pthread_t reconcile_thread;
static bool reconcile_started;

/* Starts of one server before a port clash counts as a failure. */
#define MAX_START_ATTEMPTS 5

/* Wakes the reconcile thread. Caller holds etl_lock. */
static void kick_locked(void)
{
    kicked = true;
    pthread_cond_signal(&etl_wake);
}

static const char *state_name(inst_state_t s)
{
    static const char *const names[] = {"starting", "running", "failed", "stopped"};
    return names[s];
}

static void inst_free(etl_inst_t *e)
{
    if (e->sock_path[0])
        unlink(e->sock_path);
    if (e->sock_dir[0])
        rmdir(e->sock_dir);
    if (e->comm && e->comm->dispose)
        e->comm->dispose(e);
    json_decref(e->entry);
    free(e->log_path);
    free(e);
}

void etl_release(etl_inst_t *e)
{
    pthread_mutex_lock(&etl_lock);
    locus_assert(e->refcnt > 0);
    bool last = --e->refcnt == 0;
    pthread_mutex_unlock(&etl_lock);
    if (last)
        inst_free(e);
}

etl_inst_t *etl_acquire(const char *name, int *status, char *err, size_t errlen)
{
    etl_inst_t *e = NULL;
    pthread_mutex_lock(&etl_lock);
    for (size_t i = 0; i < n_insts; i++)
        if (strcmp(insts[i]->name, name) == 0)
            e = insts[i];
    if (e && e->state == INST_RUNNING) {
        e->refcnt++;
        pthread_mutex_unlock(&etl_lock);
        return e;
    }
    char reason[1024] = "";
    inst_state_t st = e ? e->state : INST_STOPPED;
    if (e)
        snprintf(reason, sizeof(reason), "%s", e->reason);
    pthread_mutex_unlock(&etl_lock);
    mdoc_t *md = md_get(MD_ETL);
    json_t *entry = json_object_get(md->items, name);
    const char *stage = json_string_value(json_object_get(entry, "stage"));
    if (entry == NULL) {
        *status = 404;
        snprintf(err, errlen, "%s: etl job %s does not exist", cluster_self_name(), name);
    } else {
        *status = 503;
        snprintf(err, errlen, "%s: etl job %s is not running (stage %s, server %s)%s%s",
                 cluster_self_name(), name, stage ? stage : "?", e ? state_name(st) : "absent",
                 reason[0] ? ": " : "", reason);
        if ((stage && strcmp(stage, ETL_STAGE_ABORTED) == 0) || (e && st == INST_FAILED)) {
            /* A stopped or failed ETL is the user's state to fix (etl start), not a fault a
             * retry gets past: a failed one is being aborted already. */
            *status = 400;
        }
    }
    md_put(md);
    return NULL;
}

bool etl_alive(etl_inst_t *e, char *why, size_t whylen)
{
    pthread_mutex_lock(&etl_lock);
    bool ok = e->state == INST_RUNNING && !e->stop_requested;
    snprintf(why, whylen, "%s", e->reason[0] ? e->reason : state_name(e->state));
    pthread_mutex_unlock(&etl_lock);
    return ok;
}

int etl_check_secret(const char *etl, const char *secret, char *err, size_t errlen)
{
    mdoc_t *md = md_get(MD_ETL);
    json_t *entry = json_object_get(md->items, etl);
    const char *want = json_string_value(json_object_get(entry, "secret"));
    int rc = 0;
    if (entry == NULL) {
        snprintf(err, errlen, "%s: etl job %s does not exist", cluster_self_name(), etl);
        rc = 404;
    } else if (!want || strcmp(want, secret) != 0) {
        snprintf(err, errlen, "%s: invalid secret for etl job %s", cluster_self_name(), etl);
        rc = 403;
    }
    md_put(md);
    return rc;
}

void etl_count(etl_inst_t *e, int64_t in_bytes, int64_t out_bytes)
{
    e->obj_count++;
    e->in_bytes += in_bytes;
    e->out_bytes += out_bytes;
}

void etl_count_delivered(const char *etl, int64_t bytes)
{
    pthread_mutex_lock(&etl_lock);
    for (size_t i = 0; i < n_insts; i++)
        if (strcmp(insts[i]->name, etl) == 0)
            insts[i]->out_bytes += bytes;
    pthread_mutex_unlock(&etl_lock);
}

/* ---------------------------------------------------------------- process control */

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sin = {0};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sin);
    int port = -1;
    if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
        port = ntohs(sin.sin_port);
    close(fd);
    return port;
}

/* Picks the loopback port the server will listen on (not with a Unix socket). */
static void assign_port(etl_inst_t *e)
{
    e->port = free_port();
    e->attempts++;
    if (!e->sock_path[0])
        snprintf(e->url, sizeof(e->url), "http://127.0.0.1:%d", e->port);
}

static char *subst_port(const char *s, int port)
{
    buf_t b;
    buf_init(&b);
    const char *p = s;
    for (const char *q; (q = strstr(p, "${PORT}")) != NULL; p = q + 7) {
        buf_append(&b, p, (size_t)(q - p));
        buf_printf(&b, "%d", port);
    }
    buf_puts(&b, p);
    return buf_steal(&b);
}

static void env_add(char ***envp, size_t *n, const char *name, const char *value)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < *n; i++) {
        if (strncmp((*envp)[i], name, nl) == 0 && (*envp)[i][nl] == '=') {
            free((*envp)[i]);
            (*envp)[i] = xasprintf("%s=%s", name, value);
            return;
        }
    }
    *envp = xrealloc(*envp, (*n + 2) * sizeof(char *));
    (*envp)[(*n)++] = xasprintf("%s=%s", name, value);
    (*envp)[*n] = NULL;
}

static void env_add_list(char ***envp, size_t *n, json_t *list)
{
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        const char *k = json_string_value(json_object_get(e, "name"));
        const char *v = json_string_value(json_object_get(e, "value"));
        if (k)
            env_add(envp, n, k, v ? v : "");
    }
}

void etl_strv_free(char **v)
{
    for (char **p = v; p && *p; p++)
        free(*p);
    free(v);
}

char **etl_build_env(const etl_inst_t *e, const char *const *extra)
{
    const config_t *cfg = cluster_config();
    json_t *im = json_object_get(e->entry, "init_msg");
    size_t n = 0;
    char **envp = xcalloc(1, sizeof(char *));
    for (char **p = environ; *p; p++) {
        envp = xrealloc(envp, (n + 2) * sizeof(char *));
        envp[n++] = xstrdup(*p);
        envp[n] = NULL;
    }
    if (e->sandboxed) {
        /* the daemon's home and temporary dirs are not in the sandbox; the spec may say else */
        env_add(&envp, &n, "HOME", "/tmp");
        env_add(&envp, &n, "TMPDIR", "/tmp");
    }
    env_add_list(&envp, &n, json_object_get(json_object_get(im, "runtime"), "env"));
    env_add_list(&envp, &n, json_object_get(im, "env"));
    char *tu = xasprintf("%s/v1/etl/_object/%s/%s", cluster_self_url(), e->name, e->secret);
    env_add(&envp, &n, "AIS_TARGET_URL", tu);
    free(tu);
    if (cfg->tls_ca) /* an https AIS_TARGET_URL: the CA for curl, OpenSSL and Python requests */
        for (const char *const *v = (const char *const[]){"CURL_CA_BUNDLE", "SSL_CERT_FILE",
                                                          "REQUESTS_CA_BUNDLE", NULL};
             *v; v++)
            env_add(&envp, &n, *v, cfg->tls_ca);
    env_add(&envp, &n, "DIRECT_PUT", e->direct_put ? "true" : "false");
    env_add(&envp, &n, "direct_put", e->direct_put ? "true" : "false");
    /* FQNs travel as ?etl_fqn= (the current protocol), never as the URL path: the v3.28
     * ARG_TYPE=fqn convention would make servers take every path for an FQN. */
    env_add(&envp, &n, "ARG_TYPE", "");
    buf_t roots;
    buf_init(&roots);
    char *mps[CONFIG_MAX_MPATHS];
    size_t nmp = etl_mountpaths(mps);
    for (size_t i = 0; i < nmp; i++) {
        buf_printf(&roots, "%s%s", i ? ":" : "", mps[i]);
        free(mps[i]);
    }
    env_add(&envp, &n, "LOCUS_ETL_FQN_ROOTS", roots.base ? roots.base : "");
    buf_dispose(&roots);
    for (const char *const *x = extra; x && *x; x++) {
        const char *eq = strchr(*x, '=');
        if (eq == NULL)
            continue;
        char *k = xstrndup(*x, (size_t)(eq - *x));
        env_add(&envp, &n, k, eq + 1);
        free(k);
    }
    return envp;
}

/* The last lines of the log (at most 2 KiB) for error messages. Caller frees. */
static char *log_tail(const char *path, size_t max)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return xstrdup("");
    struct stat st;
    fstat(fd, &st);
    off_t off = st.st_size > (off_t)max ? st.st_size - (off_t)max : 0;
    char *b = xcalloc(max + 1, 1);
    ssize_t n = pread(fd, b, max, off);
    close(fd);
    if (n < 0)
        n = 0;
    b[n] = '\0';
    while (n > 0 && (b[n - 1] == '\n' || b[n - 1] == ' '))
        b[--n] = '\0';
    for (ssize_t i = 0; i < n; i++)
        if (b[i] == '\n')
            b[i] = '|';
    return b;
}

static void set_failed(etl_inst_t *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_failed(etl_inst_t *e, const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&etl_lock);
    va_start(ap, fmt);
    vsnprintf(e->reason, sizeof(e->reason), fmt, ap);
    va_end(ap);
    utf8_scrub(e->reason); /* it quotes the server's log, any bytes */
    e->state = INST_FAILED;
    pthread_mutex_unlock(&etl_lock);
    LOCUS_LOG(LOG_WARNING, "etl %s: %s", e->name, e->reason);
}

/* Appends one line about the server to its log, as the "starting" lines. */
static void log_note(const etl_inst_t *e, const char *what)
{
    int fd = open(e->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    char *line = xasprintf("---- %s: %s (%s)\n", cluster_self_name(), what, e->xid);
    write_all(fd, line, strlen(line));
    free(line);
    close(fd);
}

void etl_note_result(etl_inst_t *e, int status, const char *err)
{
    if (status < 400) {
        atomic_store(&e->fails_in_row, 0);
        return;
    }
    /* io:// has no server: a failing command is the object's error */
    if (status < 500 || !e->comm->needs_server || e->stop_requested)
        return;
    if (atomic_fetch_add(&e->fails_in_row, 1) + 1 != ETL_MAX_FAILS_IN_ROW)
        return;
    /* Once: the reconcile thread reports it (the ETL is aborted) and stops the server. */
    char line[900];
    snprintf(line, sizeof(line), "ETL server failed %d requests in a row; the last: %.700s",
             ETL_MAX_FAILS_IN_ROW, err);
    log_note(e, line);
    set_failed(e, "%s", line);
}

/* Describes how a child ended, with its last log lines, and notes it in the log. */
static void describe_exit(etl_inst_t *e, int wst, char *out, size_t outlen)
{
    char *tail = log_tail(e->log_path, 600);
    char how[400];
    etl_describe_end(e, "ETL server", wst, e->sandboxed, tail, how, sizeof(how));
    log_note(e, how);
    snprintf(out, outlen, "%s: %s", how, tail);
    free(tail);
}

/* e->pid as the caller may use it now; 0 once the server was reaped. The reconcile thread
 * (stop) and a starter thread (exit while starting) may both reap the server: each works on its
 * own copy, and whoever reaps it clears e->pid under etl_lock (clear_pid). */
static pid_t server_pid(etl_inst_t *e)
{
    pthread_mutex_lock(&etl_lock);
    pid_t pid = e->pid;
    pthread_mutex_unlock(&etl_lock);
    return pid;
}

static void clear_pid(etl_inst_t *e, pid_t reaped)
{
    pthread_mutex_lock(&etl_lock);
    if (e->pid == reaped)
        e->pid = 0;
    pthread_mutex_unlock(&etl_lock);
}

static void kill_group(etl_inst_t *e)
{
    pid_t pid = server_pid(e);
    if (pid <= 0)
        return;
    kill_pgrp(pid, SIGTERM);
    for (int i = 0; i < 30; i++) {
        pid_t r = waitpid(pid, NULL, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD)) { /* ECHILD: the starter reaped it */
            kill_pgrp(pid, SIGKILL);                  /* leftovers of the group */
            clear_pid(e, pid);
            return;
        }
        sleep_ms(100);
    }
    kill_pgrp(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    clear_pid(e, pid);
}

/* The server's command line: the entry's command with ${PORT} substituted, in the sandbox when
 * e is sandboxed. NULL with the reason set. Caller frees with etl_strv_free. */
static char **server_argv(etl_inst_t *e)
{
    json_t *cmd = json_object_get(e->entry, "command");
    size_t argc = json_array_size(cmd);
    char **argv = xcalloc(argc + 1, sizeof(char *));
    for (size_t i = 0; i < argc; i++)
        argv[i] = subst_port(json_string_value(json_array_get(cmd, i)), e->port);
    if (!e->sandboxed || argc == 0)
        return argv;
    char err[512];
    /* io:// has no server: its sandbox runs the spawner that runs the command per object */
    char **sb = etl_sandbox_argv(e, argv, !e->comm->needs_server, err, sizeof(err));
    etl_strv_free(argv);
    if (sb == NULL) {
        log_note(e, err);
        set_failed(e, "%s", err);
    }
    return sb;
}

/* The "starting" line of the log: what runs, where, and in which sandbox. */
static void log_start(const etl_inst_t *e, int logfd)
{
    const char *prog = json_string_value(json_array_get(json_object_get(e->entry, "command"), 0));
    char mem[32], box[160] = "";
    if (e->sandboxed) {
        if (e->limits.memory > 0)
            etl_size_str(e->limits.memory, mem, sizeof(mem));
        else
            snprintf(mem, sizeof(mem), "unlimited");
        snprintf(box, sizeof(box),
                 " in the sandbox (memory %s, open files %lld, processes %lld per uid)", mem,
                 (long long)e->limits.open_files, (long long)e->limits.processes);
    }
    char where[64];
    if (e->comm->needs_server)
        snprintf(where, sizeof(where), "on port %d", e->port);
    else
        snprintf(where, sizeof(where), "per object (io://)");
    char *hdr = xasprintf("---- %s: starting %s %s%s (%s)\n", cluster_self_name(),
                          prog ? prog : "?", where, box, e->xid);
    write_all(logfd, hdr, strlen(hdr));
    free(hdr);
}

/* Child after fork: async-signal-safe calls only until exec. A sandbox gets a session of its
 * own (no controlling terminal; bwrap leads the process group), a plain server a process group.
 * Reports a failed exec on ep. */
static void exec_child(char **argv, char **envp, bool sandboxed, pid_t parent, int devnull,
                       int logfd, int ep)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(1); /* the daemon died before prctl */
    if (sandboxed)
        setsid();
    else
        setpgid(0, 0);
    if (devnull >= 0)
        dup2(devnull, 0);
    if (logfd >= 0) {
        dup2(logfd, 1);
        dup2(logfd, 2);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    execvpe(argv[0], argv, envp);
    int err = errno;
    char msg[512];
    int ml = snprintf(msg, sizeof(msg), "cannot execute %s: %s\n", argv[0], strerror(err));
    if (write(2, msg, (size_t)ml) < 0 || write(ep, &err, sizeof(err)) < 0) {
    }
    _exit(127);
}

/* Forks and execs the server. 0 or -1 with the reason set. */
static int spawn(etl_inst_t *e)
{
    char **argv = server_argv(e);
    if (argv == NULL)
        return -1;
    char port[16];
    snprintf(port, sizeof(port), "PORT=%d", e->port);
    char sock[160];
    snprintf(sock, sizeof(sock), "LOCUS_ETL_SOCKET=%s", e->sock_path);
    const char *extra[] = {port, e->sock_path[0] ? sock : NULL, NULL};
    char **envp = etl_build_env(e, extra);

    int logfd = open(e->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (logfd >= 0)
        log_start(e, logfd);
    int ep[2] = {-1, -1};
    if (pipe2(ep, O_CLOEXEC) != 0)
        ep[0] = ep[1] = -1;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0)
        exec_child(argv, envp, e->sandboxed, parent, devnull, logfd, ep[1]);
    int err = errno;
    if (pid > 0 && !e->sandboxed)
        setpgid(pid, pid); /* also from the parent: no race with kill(-pid) */
    if (ep[1] >= 0)
        close(ep[1]);
    /* Until the child has exec'd (the pipe closes) or failed: a sandbox's setsid() is then
     * done, so a stop right after this reaches the whole group. */
    int cerr;
    while (pid > 0 && ep[0] >= 0 && read(ep[0], &cerr, sizeof(cerr)) < 0 && errno == EINTR)
        ;
    if (ep[0] >= 0)
        close(ep[0]);
    if (logfd >= 0)
        close(logfd);
    if (devnull >= 0)
        close(devnull);
    etl_strv_free(argv);
    etl_strv_free(envp);
    if (pid < 0) {
        set_failed(e, "fork failed: %s", strerror(err));
        return -1;
    }
    e->pid = pid;
    return 0;
}

typedef struct {
    etl_inst_t *e;
    json_t *entry;
} start_arg_t;

/* Whether the server of e answers: GET /health is 200 (a healthy answer counts only from our
 * own server, not from one that another target started on the same port), or for the io://
 * spawner of a sandbox, its socket takes a connection. */
static bool server_healthy(etl_inst_t *e, pid_t pid, const char *url)
{
    if (!e->comm->needs_server) {
        int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", e->sock_path);
        bool ok = s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0;
        if (s >= 0)
            close(s); /* the spawner takes a connection without a request as nothing */
        return ok;
    }
    httpc_resp_t r;
    httpc_resp_init(&r);
    int rc = e->sock_path[0] ? httpc_get_unix(e->sock_path, url, 2000, &r)
                             : httpc_do("GET", url, NULL, 0, NULL, 2000, &r);
    long st = r.status;
    httpc_resp_dispose(&r);
    return rc == 0 && st == 200 && (e->sock_path[0] || tcp_port_listener(e->port, pid) != 0);
}

static void *starter_main(void *arg)
{
    start_arg_t *sa = arg;
    etl_inst_t *e = sa->e;
    pid_t pid = server_pid(e); /* set by spawn() before this thread started */
    if (pid > 0) {
        int64_t deadline = time_mono_ns() + e->init_timeout_ns;
        char *url = xasprintf("%s/health", e->url);
        for (;;) {
            if (e->stop_requested)
                break;
            int wst;
            if (waitpid(pid, &wst, WNOHANG) == pid) {
                clear_pid(e, pid);
                if (e->stop_requested)
                    break; /* stopped meanwhile: the exit is the stop's */
                /* Another target on this host may have picked the same free port a moment
                 * before us (the port is free until a server binds it): start again. */
                if (!e->sock_path[0] && e->attempts < MAX_START_ATTEMPTS &&
                    tcp_port_listener(e->port, pid) == 0) {
                    LOCUS_LOG(LOG_WARNING,
                              "etl %s: port %d was taken by another process; starting the "
                              "server again on a new port",
                              e->name, e->port);
                    kill_pgrp(pid, SIGKILL); /* leftovers of the group */
                    pthread_mutex_lock(&etl_lock);
                    e->respawn = true;
                    kick_locked();
                    pthread_mutex_unlock(&etl_lock);
                    break;
                }
                char why[sizeof(e->reason)];
                describe_exit(e, wst, why, sizeof(why));
                set_failed(e, "%s", why);
                break;
            }
            if (server_healthy(e, pid, url)) {
                pthread_mutex_lock(&etl_lock);
                if (e->state == INST_STARTING)
                    e->state = INST_RUNNING;
                pthread_mutex_unlock(&etl_lock);
                LOCUS_LOG(LOG_NOTICE, "etl %s: server healthy at %s", e->name, e->url);
                break;
            }
            if (time_mono_ns() > deadline) {
                kill_group(e);
                set_failed(e, "ETL server did not answer GET /health within %llds",
                           (long long)(e->init_timeout_ns / 1000000000LL));
                break;
            }
            sleep_ms(100);
        }
        free(url);
    }
    httpc_thread_cleanup();
    json_decref(sa->entry);
    free(sa);
    etl_release(e);
    return NULL;
}

/* Stops and unregisters instance i. Caller holds etl_lock; releases it while waiting. */
static void do_stop_locked(size_t i)
{
    etl_inst_t *e = insts[i];
    insts[i] = insts[--n_insts];
    e->stop_requested = true;
    if (e->state == INST_STARTING || e->state == INST_RUNNING)
        e->state = INST_STOPPED;
    pthread_mutex_unlock(&etl_lock);
    LOCUS_LOG(LOG_NOTICE, "etl %s: stopping server (pid %d)", e->name, (int)e->pid);
    kill_group(e);
    etl_release(e);
    pthread_mutex_lock(&etl_lock);
}

static void report_failure(const char *name, const char *xid, const char *reason)
{
    json_t *j =
        json_pack("{s:s, s:s, s:s}", "xid", xid, "reason", reason, "target", cluster_self_id());
    char *url = xasprintf("%s/v1/etl/%s/_abort", cluster_primary_url(), name);
    httpc_resp_t r;
    httpc_resp_init(&r);
    if (httpc_json("POST", url, j, 5000, &r) < 0)
        LOCUS_LOG(LOG_WARNING, "etl %s: cannot report failure to the primary: %s", name, r.err);
    httpc_resp_dispose(&r);
    free(url);
    json_decref(j);
}

/* Reconcile step 1: stops the instances the EtlMD no longer wants. Caller holds etl_lock. */
static void stop_unwanted_locked(const mdoc_t *md)
{
    for (size_t i = 0; i < n_insts;) {
        etl_inst_t *e = insts[i];
        json_t *entry = json_object_get(md->items, e->name);
        const char *stage = json_string_value(json_object_get(entry, "stage"));
        const char *xid = json_string_value(json_object_get(entry, "xid"));
        /* Same generation: keep it while it should run, and keep a failed one (its reason
         * stays visible) until the ETL is started again or deleted. */
        bool same = stage && xid && strcmp(xid, e->xid) == 0;
        bool keep = same && (strcmp(stage, ETL_STAGE_ABORTED) != 0 || e->state == INST_FAILED);
        if (!keep) {
            do_stop_locked(i);
            continue;
        }
        i++;
    }
}

/* The first failure to report to the primary in a round ("" name = none). */
typedef struct {
    char name[64], xid[64], reason[1300];
} failure_t;

/* Reconcile step 2: marks servers that exited as failed and picks the first failed instance
 * whose ETL is not aborted yet. Caller holds etl_lock. */
static void watch_servers_locked(const mdoc_t *md, failure_t *f)
{
    for (size_t i = 0; i < n_insts; i++) {
        etl_inst_t *e = insts[i];
        int wst;
        if (e->state == INST_RUNNING && e->pid > 0 && waitpid(e->pid, &wst, WNOHANG) == e->pid) {
            e->pid = 0;
            char why[sizeof(e->reason)];
            describe_exit(e, wst, why, sizeof(why));
            snprintf(e->reason, sizeof(e->reason), "%s", why);
            e->state = INST_FAILED;
            LOCUS_LOG(LOG_WARNING, "etl %s: %s", e->name, why);
        }
        if (e->state == INST_FAILED && e->pid > 0) {
            /* failed while running (etl_note_result): it goes now, not at the next start */
            kill_pgrp(e->pid, SIGKILL);
            if (waitpid(e->pid, &wst, WNOHANG) == e->pid)
                e->pid = 0;
        }
        if (e->state == INST_FAILED && f->name[0] == '\0') {
            json_t *entry = json_object_get(md->items, e->name);
            const char *stage = json_string_value(json_object_get(entry, "stage"));
            if (stage && strcmp(stage, ETL_STAGE_ABORTED) != 0) {
                snprintf(f->name, sizeof(f->name), "%s", e->name);
                snprintf(f->xid, sizeof(f->xid), "%s", e->xid);
                snprintf(f->reason, sizeof(f->reason), "%s: %s", cluster_self_name(), e->reason);
            }
        }
    }
}

/* Checks the entry against this node's own config, as the proxy did against its own: the
 * command this node runs for it (its image table, or runtime.command where allowed) replaces
 * the entry's, and the limits are read. Fails the instance (reason set) when this node refuses;
 * nothing runs then. */
static void inst_check_local(etl_inst_t *e, json_t *entry)
{
    char err[1024];
    json_t *im = json_object_get(entry, "init_msg");
    json_t *local = NULL;
    if (etl_spec_parse(cluster_config(), im, &local, err, sizeof(err)) != 0 ||
        etl_spec_limits(cluster_config(), im, &e->limits, err, sizeof(err)) != 0) {
        snprintf(e->reason, sizeof(e->reason), "refused by %s: %.900s", cluster_self_name(), err);
        e->state = INST_FAILED;
        e->entry = json_incref(entry);
        LOCUS_LOG(LOG_WARNING, "etl %s: %s", e->name, e->reason);
        json_decref(local);
        return;
    }
    e->entry = json_deep_copy(entry);
    json_object_set(e->entry, "command", json_object_get(local, "command"));
    json_decref(local);
}

/* The Unix socket of a server, in a directory of its own (the only place the sandboxed server
 * may write): <data_dir>/etl/<name>/<name>.sock, or under /tmp when that path is too long for
 * sun_path (108 bytes). */
static void inst_socket(etl_inst_t *e, const char *dir)
{
    char *path = xasprintf("%s/%s/%s.sock", dir, e->name, e->name);
    if (strlen(path) >= sizeof(e->sock_path)) {
        free(path);
        path = xasprintf("/tmp/locus-%d-%s/%s.sock", (int)getpid(), e->name, e->name);
    }
    snprintf(e->sock_path, sizeof(e->sock_path), "%s", path);
    *strrchr(path, '/') = '\0';
    snprintf(e->sock_dir, sizeof(e->sock_dir), "%s", path);
    free(path);
    snprintf(e->url, sizeof(e->url), "http://localhost");
    char err[256];
    if (etl_sandbox_sockdir(e, err, sizeof(err)) != 0)
        LOCUS_LOG(LOG_WARNING, "etl %s: %s", e->name, err);
}

/* A new instance (state starting, two references: registry and starter) for an EtlMD entry; in
 * state failed when this node refuses the entry. */
static etl_inst_t *inst_new(const char *name, const char *xid, json_t *entry)
{
    etl_inst_t *e = xcalloc(1, sizeof(*e));
    snprintf(e->name, sizeof(e->name), "%s", name);
    snprintf(e->xid, sizeof(e->xid), "%s", xid);
    snprintf(e->secret, sizeof(e->secret), "%s",
             json_string_value(json_object_get(entry, "secret")));
    e->refcnt = 2; /* registry + starter */
    e->state = INST_STARTING;
    e->obj_timeout_ns = json_int64(json_object_get(entry, "obj_timeout_ns"));
    e->init_timeout_ns = json_int64(json_object_get(entry, "init_timeout_ns"));
    const char *scheme = json_string_value(json_object_get(entry, "comm"));
    e->comm = etl_comm_find(scheme ? scheme : "hpush://");
    if (e->comm == NULL)
        e->comm = &etl_comm_hpush;
    json_t *im = json_object_get(entry, "init_msg");
    const char *arg = json_string_value(json_object_get(im, "argument"));
    e->fqn_mode = arg && strcmp(arg, "fqn") == 0;
    e->direct_put = json_is_true(json_object_get(entry, "direct_put"));
    e->ws_conns = 8;
    e->sandboxed = cluster_config()->etl_sandbox;
    inst_check_local(e, entry);
    char *dir = xasprintf("%s/etl", cluster_config()->data_dir);
    mkdir_p(dir, 0755);
    e->log_path = xasprintf("%s/%s.log", dir, name);
    /* a Unix socket: the server's, or the io:// spawner's in the sandbox */
    bool spawner = !e->comm->needs_server && e->sandboxed;
    if (e->state != INST_FAILED && (spawner || etl_wants_unix_socket(cluster_config(), entry)))
        inst_socket(e, dir);
    free(dir);
    assign_port(e);
    return e;
}

/* Reconcile step 3: collects into fresh (at most nmax) what should start: again on a new port
 * after a port clash, then the ETLs that have no instance yet. Caller holds etl_lock. */
static size_t collect_starts_locked(const mdoc_t *md, start_arg_t *fresh, size_t nmax)
{
    size_t n_new = 0;
    for (size_t i = 0; i < n_insts && n_new < nmax; i++) {
        etl_inst_t *e = insts[i];
        if (!e->respawn || e->stop_requested)
            continue;
        e->respawn = false;
        assign_port(e);
        e->refcnt++; /* the new starter's */
        fresh[n_new].e = e;
        fresh[n_new].entry = json_incref(e->entry);
        n_new++;
    }
    const char *name;
    json_t *entry;
    json_object_foreach(md->items, name, entry)
    {
        const char *stage = json_string_value(json_object_get(entry, "stage"));
        const char *xid = json_string_value(json_object_get(entry, "xid"));
        if (!stage || !xid || strcmp(stage, ETL_STAGE_ABORTED) == 0)
            continue;
        bool have = false;
        for (size_t i = 0; i < n_insts; i++)
            have = have || strcmp(insts[i]->name, name) == 0;
        if (have || n_insts == ARRAY_SIZE(insts))
            continue;
        etl_inst_t *e = inst_new(name, xid, entry);
        insts[n_insts++] = e;
        if (e->state == INST_FAILED) { /* refused here: reported to the primary */
            e->refcnt--;
            continue;
        }
        if (!e->comm->needs_server && !e->sandboxed) { /* io://: the command runs per object */
            char perr[900];
            e->refcnt--;
            if (etl_check_packages(e, perr, sizeof(perr)) != 0) { /* only when it names some */
                log_note(e, perr);
                snprintf(e->reason, sizeof(e->reason), "%s", perr);
                e->state = INST_FAILED;
                LOCUS_LOG(LOG_WARNING, "etl %s: %s", e->name, perr);
                continue;
            }
            e->state = INST_RUNNING;
            LOCUS_LOG(LOG_NOTICE, "etl %s: ready (%s, no server)", e->name, e->comm->scheme);
            continue;
        }
        if (n_new < nmax) {
            fresh[n_new].e = e;
            fresh[n_new].entry = json_incref(entry);
            n_new++;
        } else {
            e->refcnt--; /* the next round starts it */
        }
    }
    return n_new;
}

/* Forks one server and hands it to a starter thread that waits for its health. */
static void launch(const start_arg_t *fresh)
{
    start_arg_t *sa = xcalloc(1, sizeof(*sa));
    *sa = *fresh;
    char err[900];
    if (sa->e->attempts <= 1 && etl_check_packages(sa->e, err, sizeof(err)) != 0) {
        log_note(sa->e, err);
        set_failed(sa->e, "%s", err);
        json_decref(sa->entry);
        etl_release(sa->e);
        free(sa);
        return;
    }
    if (spawn(sa->e) < 0) {
        json_decref(sa->entry);
        etl_release(sa->e);
        free(sa);
        return;
    }
    LOCUS_LOG(LOG_NOTICE, "etl %s: started pid %d on port %d", sa->e->name, (int)sa->e->pid,
              sa->e->port);
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&th, &attr, starter_main, sa) != 0) {
        set_failed(sa->e, "cannot start a thread");
        json_decref(sa->entry);
        etl_release(sa->e);
        free(sa);
    }
    pthread_attr_destroy(&attr);
}

static void reconcile(void)
{
    mdoc_t *md = md_get(MD_ETL);
    failure_t fail = {0};
    start_arg_t fresh[16];
    pthread_mutex_lock(&etl_lock);
    stop_unwanted_locked(md);
    watch_servers_locked(md, &fail);
    size_t n_new = collect_starts_locked(md, fresh, ARRAY_SIZE(fresh));
    pthread_mutex_unlock(&etl_lock);
    md_put(md);
    /* Fork from this long-lived thread: PR_SET_PDEATHSIG in the child follows the thread that
     * forked, so the servers die with the daemon (even by SIGKILL) and never leak. */
    for (size_t i = 0; i < n_new; i++)
        launch(&fresh[i]);
    if (fail.name[0])
        report_failure(fail.name, fail.xid, fail.reason);
}

static void *reconcile_main(void *arg)
{
    pthread_mutex_lock(&etl_lock);
    while (!stopping) {
        struct timespec ts = time_deadline_ms(300);
        if (!kicked)
            pthread_cond_timedwait(&etl_wake, &etl_lock, &ts);
        kicked = false;
        if (stopping)
            break;
        pthread_mutex_unlock(&etl_lock);
        if (cluster_ready())
            reconcile();
        pthread_mutex_lock(&etl_lock);
    }
    pthread_mutex_unlock(&etl_lock);
    httpc_thread_cleanup();
    return NULL;
}

static void on_etlmd_change(const mdoc_t *old_doc, const mdoc_t *new_doc)
{
    pthread_mutex_lock(&etl_lock);
    kick_locked();
    pthread_mutex_unlock(&etl_lock);
}

static const etl_objects_t *target_objs;

size_t etl_mountpaths(char **out)
{
    if (target_objs && target_objs->mountpaths)
        return target_objs->mountpaths(out, CONFIG_MAX_MPATHS);
    const config_t *c = cluster_config();
    for (size_t i = 0; i < c->n_mountpaths; i++)
        out[i] = xstrdup(c->mountpaths[i]);
    return c->n_mountpaths;
}

/* ---------------------------------------------------------------- metrics */

/* Per ETL on this target (docs/operations.md, "Metrics"): what it transformed, inline and in
 * jobs alike, its errors and time, and whether its server runs. */
static void etl_collect(buf_t *b)
{
    static const struct {
        const char *name, *type, *help;
    } fam[] = {
        {"locus_etl_objects_total", "counter", "objects the ETL transformed"},
        {"locus_etl_in_bytes_total", "counter", "bytes of the objects sent to the ETL"},
        {"locus_etl_out_bytes_total", "counter", "bytes the ETL produced"},
        {"locus_etl_errors_total", "counter", "transforms that failed"},
        {"locus_etl_transform_seconds_total", "counter",
         "time spent in transforms (divide by locus_etl_transforms_total for the mean)"},
        {"locus_etl_transforms_total", "counter", "transforms tried (including failed ones)"},
        {"locus_etl_running", "gauge", "1 while the ETL's server runs on this target"},
    };
    pthread_mutex_lock(&etl_lock);
    for (size_t f = 0; f < ARRAY_SIZE(fam); f++) {
        metrics_family(b, fam[f].name, fam[f].type, fam[f].help);
        for (size_t i = 0; i < n_insts; i++) {
            etl_inst_t *e = insts[i];
            double v[] = {(double)e->obj_count,
                          (double)e->in_bytes,
                          (double)e->out_bytes,
                          (double)e->transform_errs,
                          (double)e->transform_ns / 1e9,
                          (double)e->transforms,
                          e->state == INST_RUNNING ? 1.0 : 0.0};
            char *n = metrics_escape(e->name);
            char *lab = xasprintf("etl=\"%s\"", n);
            metrics_sample(b, fam[f].name, lab, v[f]);
            free(lab);
            free(n);
        }
    }
    pthread_mutex_unlock(&etl_lock);
}

int etl_target_init(const etl_objects_t *objs, char *err, size_t errlen)
{
    metrics_register(etl_collect);
    target_objs = objs;
    etl_inline_set_objects(objs);
    cluster_on_md_change(MD_ETL, on_etlmd_change);
    if (pthread_create(&reconcile_thread, NULL, reconcile_main, NULL) != 0) {
        snprintf(err, errlen, "cannot start the ETL thread");
        return -1;
    }
    reconcile_started = true;
    return 0;
}

void etl_target_shutdown(void)
{
    pthread_mutex_lock(&etl_lock);
    stopping = true;
    pthread_cond_signal(&etl_wake);
    pthread_mutex_unlock(&etl_lock);
    if (reconcile_started)
        pthread_join(reconcile_thread, NULL);
    reconcile_started = false;
    pthread_mutex_lock(&etl_lock);
    while (n_insts > 0)
        do_stop_locked(n_insts - 1);
    pthread_mutex_unlock(&etl_lock);
}

/* ---------------------------------------------------------------- endpoints */

static json_t *status_json(const char *name)
{
    json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "target_id", cluster_self_id(), "state", "absent",
                          "xid", "", "reason", "");
    pthread_mutex_lock(&etl_lock);
    for (size_t i = 0; i < n_insts; i++) {
        etl_inst_t *e = insts[i];
        if (strcmp(e->name, name) != 0)
            continue;
        json_object_set_new(j, "state", json_string(state_name(e->state)));
        json_object_set_new(j, "xid", json_string(e->xid));
        json_object_set_new(j, "reason", json_string(e->reason));
        json_object_set_new(j, "obj_count", json_integer(e->obj_count));
        json_object_set_new(j, "in_bytes", json_integer(e->in_bytes));
        json_object_set_new(j, "out_bytes", json_integer(e->out_bytes));
    }
    pthread_mutex_unlock(&etl_lock);
    return j;
}

bool etl_target_handle(http_req_t *req, const char **segs, int nseg)
{
    /* segs[0] == "etl" */
    if (strcmp(req->method, "GET") != 0)
        return false;
    if (nseg == 3 && strcmp(segs[1], "_status") == 0) {
        http_reply_json(req, 200, status_json(segs[2]));
        return true;
    }
    if (nseg == 3 && strcmp(segs[2], "health") == 0) {
        json_t *st = status_json(segs[1]);
        const char *s = json_string_value(json_object_get(st, "state"));
        json_t *j = json_pack("{s:s, s:s}", "target_id", cluster_self_id(), "health_status",
                              strcmp(s, "running") == 0 ? "Running" : s);
        json_decref(st);
        http_reply_json(req, 200, j);
        return true;
    }
    if (nseg == 3 && strcmp(segs[2], "logs") == 0) {
        char *path = xasprintf("%s/etl/%s.log", cluster_config()->data_dir, segs[1]);
        char *tail = NULL;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        size_t max = 1 << 20;
        if (fd >= 0) {
            struct stat st;
            fstat(fd, &st);
            off_t off = st.st_size > (off_t)max ? st.st_size - (off_t)max : 0;
            tail = xcalloc(max + 1, 1);
            ssize_t n = pread(fd, tail, max, off);
            close(fd);
            char *b64 = base64_encode(tail, n > 0 ? (size_t)n : 0);
            http_reply_json(req, 200,
                            json_pack("{s:s, s:s}", "target_id", cluster_self_id(), "logs", b64));
            free(b64);
        } else {
            http_reply_error(req, 404, "%s: no logs for etl job %s", cluster_self_name(), segs[1]);
        }
        free(tail);
        free(path);
        return true;
    }
    return false;
}
