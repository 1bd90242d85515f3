/*
 * cmd_cluster.c - `locus cluster up|down|show`: a local development cluster of separate locusd
 * processes laid out as docs/DEV-CONTRACT.md says (DIR/<id>/ with config.json, locusd.log,
 * locusd.pid, node state and, for targets, mp1/ and mp2/; the primary on port P, then p2..pN,
 * t1..tM on P+1, P+2, ...), and the cluster map as a table.
 */
#include "cli/cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"

#define DEFAULT_DIR "/tmp/locus-cluster"
#define DEFAULT_PORT 8080

static const char *default_dir(void)
{
    const char *d = getenv("LOCUS_CLUSTER_DIR");
    return d != NULL && d[0] != '\0' ? d : DEFAULT_DIR;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: locus cluster up [--proxies N] [--targets N] [--dir DIR] [--port P]\n"
            "                        [--timeout D] [--log-level L] [--auth]\n"
            "       locus cluster down [--dir DIR] [--timeout D]\n"
            "       locus cluster show [--json]\n"
            "\n"
            "up    starts N proxies (default 1) and N targets (default 3) as separate locusd\n"
            "      processes with state and logs under DIR/<id>/ (default $LOCUS_CLUSTER_DIR or\n"
            "      %s); the primary proxy listens on P (default %d), the other nodes on\n"
            "      P+1, P+2, ...; waits (at most --timeout, default 30s) until the cluster map\n"
            "      shows every node, then prints the endpoint URL on stdout. The nodes sign\n"
            "      their calls to each other with DIR/cluster.secret (made once, mode 0600).\n"
            "      --auth: clients need a token (docs/security.md): the token secret is\n"
            "      DIR/auth.secret, an admin token DIR/admin.token (export LOCUS_TOKEN=...).\n"
            "down  stops the nodes of DIR: SIGTERM, then SIGKILL after --timeout (default 10s).\n"
            "show  prints the cluster map of the endpoint ($LOCUS_ENDPOINT, $AIS_ENDPOINT).\n",
            DEFAULT_DIR, DEFAULT_PORT);
}

/* ------------------------------------------------------------------------------------------ */
/* up */

typedef struct {
    char id[16];
    bool proxy;
    int port;
    char *dir;
    char *log;
    pid_t pid;
    bool exited;
    int wstatus;
} node_t;

/* Where locusd lives: next to this executable (/proc/self/exe), else $PATH. Caller frees. */
static char *find_locusd(void)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash != NULL) {
            *slash = '\0';
            char *p = xasprintf("%s/locusd", self);
            if (access(p, X_OK) == 0)
                return p;
            free(p);
        }
    }
    const char *path = getenv("PATH");
    if (path == NULL)
        return NULL;
    char *copy = xstrdup(path), *save = NULL;
    for (char *d = strtok_r(copy, ":", &save); d != NULL; d = strtok_r(NULL, ":", &save)) {
        char *p = xasprintf("%s/locusd", d[0] ? d : ".");
        if (access(p, X_OK) == 0) {
            free(copy);
            return p;
        }
        free(p);
    }
    free(copy);
    return NULL;
}

/* 0 when nothing listens on 127.0.0.1:port (we can bind it), else -errno. */
static int port_free(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

/* True when pid is a running (not zombie) locusd process. */
static bool pid_alive(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    char *st = NULL;
    size_t len = 0;
    if (read_file(path, &st, &len) != 0)
        return false;
    /* "pid (comm) S ...": a zombie counts as gone. */
    char *rp = strrchr(st, ')');
    bool zombie = rp != NULL && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X');
    bool is_locusd = strstr(st, "(locusd)") != NULL;
    free(st);
    return is_locusd && !zombie;
}

/* pid from DIR/<id>/locusd.pid if that process is alive and is a locusd; else 0. */
static pid_t live_pid(const char *pidfile)
{
    char *s = NULL;
    size_t len = 0;
    if (read_file(pidfile, &s, &len) != 0)
        return 0;
    long pid = strtol(s, NULL, 10);
    free(s);
    if (pid <= 0 || pid > INT_MAX)
        return 0;
    return pid_alive((pid_t)pid) ? (pid_t)pid : 0;
}

/* The secret files every node's config names (auth_secret NULL without --auth). */
typedef struct {
    const char *cluster_secret, *auth_secret;
} secrets_t;

/* io_threads: the HTTP I/O threads of each node; nodes that share one machine share its CPUs. */
static int write_config(const node_t *n, const char *primary_url, const char *log_level,
                        int io_threads, const secrets_t *sec)
{
    json_t *j = json_object();
    json_object_set_new(j, "role", json_string(n->proxy ? "proxy" : "target"));
    json_object_set_new(j, "id", json_string(n->id));
    json_object_set_new(j, "host", json_string("127.0.0.1"));
    json_object_set_new(j, "port", json_integer(n->port));
    char *url = xasprintf("http://127.0.0.1:%d", n->port);
    json_object_set_new(j, "public_url", json_string(url));
    free(url);
    if (primary_url != NULL)
        json_object_set_new(j, "primary_url", json_string(primary_url));
    json_object_set_new(j, "data_dir", json_string(n->dir));
    if (!n->proxy) {
        json_t *mps = json_array();
        for (int i = 1; i <= 2; i++) {
            char *mp = xasprintf("%s/mp%d", n->dir, i);
            mkdir_p(mp, 0755);
            json_array_append_new(mps, json_string(mp));
            free(mp);
        }
        json_object_set_new(j, "mountpaths", mps);
    }
    json_object_set_new(j, "log_level", json_string(log_level));
    json_object_set_new(j, "log_file", json_string(n->log));
    json_object_set_new(j, "io_threads", json_integer(io_threads));
    json_object_set_new(j, "cluster_secret_file", json_string(sec->cluster_secret));
    if (sec->auth_secret) {
        json_object_set_new(j, "auth_enabled", json_true());
        json_object_set_new(j, "auth_secret_file", json_string(sec->auth_secret));
    }
    /* A local development cluster runs any ETL command (runtime.command, io://), still in the
     * sandbox; a deployed node's config decides for itself (default off). */
    json_object_set_new(j, "etl_allow_commands", json_true());
    char *text = json_dumps(j, JSON_INDENT(2));
    json_decref(j);
    char *path = xasprintf("%s/config.json", n->dir);
    size_t tl = strlen(text);
    text[tl] = '\n'; /* replaces the NUL; length passed explicitly */
    int rc = write_file_atomic(path, text, tl + 1);
    free(path);
    free(text);
    return rc;
}

static int spawn_node(node_t *n, const char *locusd)
{
    char *cfg = xasprintf("%s/config.json", n->dir);
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        free(cfg);
        return -e;
    }
    if (pid == 0) {
        /* Child: own session (a ^C on the terminal doesn't reach the daemons), stdin from
         * /dev/null, stdout/stderr appended to the node's log so early failures land there. */
        setsid();
        int in = open("/dev/null", O_RDONLY);
        int out = open(n->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (in >= 0)
            dup2(in, 0);
        if (out >= 0) {
            dup2(out, 1);
            dup2(out, 2);
        }
        char *argv[] = {(char *)locusd, "--config", cfg, NULL};
        execv(locusd, argv);
        fprintf(stderr, "locus cluster up: exec %s: %s\n", locusd, strerror(errno));
        _exit(127);
    }
    free(cfg);
    n->pid = pid;
    return 0;
}

/* Reaps exited children; returns the first node found dead (or NULL). */
static node_t *check_dead(node_t *nodes, int nn)
{
    for (int i = 0; i < nn; i++) {
        if (nodes[i].pid <= 0 || nodes[i].exited)
            continue;
        int st;
        pid_t r = waitpid(nodes[i].pid, &st, WNOHANG);
        if (r == nodes[i].pid) {
            nodes[i].exited = true;
            nodes[i].wstatus = st;
            return &nodes[i];
        }
    }
    return NULL;
}

static void print_log_tail(const char *log)
{
    char *s = NULL;
    size_t len = 0;
    if (read_file(log, &s, &len) != 0 || len == 0) {
        free(s);
        return;
    }
    /* last 8 lines */
    size_t i = len;
    int lines = 0;
    while (i > 0) {
        if (s[i - 1] == '\n' && i != len && ++lines == 8)
            break;
        i--;
    }
    fprintf(stderr, "--- last lines of %s ---\n%s", log, s + i);
    if (s[len - 1] != '\n')
        fputc('\n', stderr);
    free(s);
}

static void stop_nodes(node_t *nodes, int nn)
{
    for (int i = 0; i < nn; i++)
        if (nodes[i].pid > 0 && !nodes[i].exited)
            kill(nodes[i].pid, SIGTERM);
    int64_t deadline = time_mono_ns() + 5000000000LL;
    for (;;) {
        bool alive = false;
        for (int i = 0; i < nn; i++) {
            if (nodes[i].pid <= 0 || nodes[i].exited)
                continue;
            if (waitpid(nodes[i].pid, NULL, WNOHANG) == nodes[i].pid)
                nodes[i].exited = true;
            else
                alive = true;
        }
        if (!alive)
            return;
        if (time_mono_ns() > deadline) {
            for (int i = 0; i < nn; i++)
                if (nodes[i].pid > 0 && !nodes[i].exited) {
                    kill(nodes[i].pid, SIGKILL);
                    waitpid(nodes[i].pid, NULL, 0);
                    nodes[i].exited = true;
                }
            return;
        }
        sleep_ms(50);
    }
}

static int node_died(node_t *d, node_t *nodes, int nn)
{
    char how[64];
    if (WIFEXITED(d->wstatus))
        snprintf(how, sizeof(how), "exited with status %d", WEXITSTATUS(d->wstatus));
    else if (WIFSIGNALED(d->wstatus))
        snprintf(how, sizeof(how), "was killed by signal %d", WTERMSIG(d->wstatus));
    else
        snprintf(how, sizeof(how), "stopped");
    cli_fail("cluster up", "node %s %s before the cluster was ready; see %s", d->id, how, d->log);
    print_log_tail(d->log);
    stop_nodes(nodes, nn);
    return CLI_EXIT_FAIL;
}

/* The state of one `cluster up`. */
typedef struct {
    int64_t nproxies, ntargets, port, timeout;
    const char *dir, *log_level;
    bool auth;
    char absdir[PATH_MAX];
    char *cluster_secret, *auth_secret, *admin_token; /* file paths */
    char *locusd, *primary_url;
    node_t *nodes;
    int nn;
    locus_client_t *c;
    char err[LOCUS_ERR_LEN];
    int64_t have_p, have_t; /* nodes in the last cluster map seen */
} up_t;

static int up_options(up_t *u, int argc, char **argv)
{
    u->nproxies = 1, u->ntargets = 3, u->port = DEFAULT_PORT;
    u->dir = default_dir();
    u->log_level = "notice";
    u->timeout = 30000000000LL;
    const cli_opt_t opts[] = {
        CLI_INT("proxies", &u->nproxies, 1, INT64_MAX, "--proxies: need a positive number"),
        CLI_INT("targets", &u->ntargets, 1, INT64_MAX, "--targets: need a positive number"),
        CLI_STR("dir", &u->dir),
        CLI_INT("port", &u->port, 1, 65535, "--port: need a port number"),
        CLI_DURATION("timeout", &u->timeout, "--timeout: need a duration such as 30s"),
        CLI_STR("log-level", &u->log_level),
        CLI_FLAG("auth", &u->auth),
    };
    static const cli_cmd_t cmd = {"cluster", usage, 0, 0, "cluster up: unexpected argument \"%s\""};
    int pos, rc = cli_options(&cmd, opts, ARRAY_SIZE(opts), argc, argv, &pos);
    if (rc != CLI_OPTS_GO)
        return rc;
    if (u->nproxies > 200 || u->ntargets > 200 || u->nproxies + u->ntargets > 200 ||
        u->port + u->nproxies + u->ntargets - 1 > 65535)
        return cli_usage_error("cluster", "too many nodes");
    u->nn = (int)(u->nproxies + u->ntargets);
    return CLI_OPTS_GO;
}

/* DIR/cluster.secret (always) and, with --auth, DIR/auth.secret and an admin token valid for a
 * year in DIR/admin.token, all mode 0600; secrets made once and kept across restarts. 0 or
 * CLI_EXIT_FAIL (printed). */
static int up_secrets(up_t *u)
{
    char err[LOCUS_ERR_LEN];
    u->cluster_secret = xasprintf("%s/cluster.secret", u->absdir);
    u->auth_secret = xasprintf("%s/auth.secret", u->absdir);
    u->admin_token = xasprintf("%s/admin.token", u->absdir);
    if (cli_auth_random_secret(u->cluster_secret, err, sizeof(err)) != 0)
        return cli_fail("cluster up", "%s", err);
    if (!u->auth)
        return 0;
    if (cli_auth_random_secret(u->auth_secret, err, sizeof(err)) != 0)
        return cli_fail("cluster up", "%s", err);
    char *tok = cli_auth_admin_token(u->auth_secret, "admin", 365 * 24 * 3600, err, sizeof(err));
    if (tok == NULL)
        return cli_fail("cluster up", "%s", err);
    size_t tl = strlen(tok);
    char *line = xasprintf("%s\n", tok);
    int rc = cli_auth_write_private(u->admin_token, line, tl + 1, err, sizeof(err));
    free(line);
    free(tok);
    return rc == 0 ? 0 : cli_fail("cluster up", "%s", err);
}

/* Names the nodes, refuses to start over a running cluster or on a busy port, writes the
 * configs. 0 or CLI_EXIT_FAIL (printed). */
static int up_prepare(up_t *u)
{
    if ((u->locusd = find_locusd()) == NULL)
        return cli_fail("cluster up", "locusd not found next to the locus binary or in $PATH");
    int rc = mkdir_p(u->dir, 0755);
    if (rc != 0 || realpath(u->dir, u->absdir) == NULL)
        return cli_fail("cluster up", "%s: %s", u->dir, strerror(rc != 0 ? -rc : errno));
    u->nodes = xcalloc((size_t)u->nn, sizeof(node_t));
    for (int i = 0; i < u->nn; i++) {
        node_t *n = &u->nodes[i];
        n->proxy = i < u->nproxies;
        snprintf(n->id, sizeof(n->id), "%c%d", n->proxy ? 'p' : 't',
                 (int)(n->proxy ? i + 1 : i - u->nproxies + 1));
        n->port = (int)u->port + i;
        n->dir = xasprintf("%s/%s", u->absdir, n->id);
        n->log = xasprintf("%s/locusd.log", n->dir);
    }
    for (int i = 0; i < u->nn; i++) {
        char *pf = xasprintf("%s/locusd.pid", u->nodes[i].dir);
        pid_t p = live_pid(pf);
        free(pf);
        if (p > 0)
            return cli_fail("cluster up",
                            "node %s is already running (pid %d) in %s; run 'locus cluster down "
                            "--dir %s' first",
                            u->nodes[i].id, (int)p, u->absdir, u->absdir);
    }
    for (int i = 0; i < u->nn; i++)
        if ((rc = port_free(u->nodes[i].port)) != 0)
            return cli_fail("cluster up", "port %d (for %s) is not free: %s", u->nodes[i].port,
                            u->nodes[i].id, strerror(-rc));
    u->primary_url = xasprintf("http://127.0.0.1:%lld", (long long)u->port);
    /* All nodes run on this machine: one I/O thread each unless there are CPUs to spare (an
     * I/O thread per CPU in every node costs CPU per request in wake-ups: docs/benchmarks.md,
     * "The server model"). */
    int io_threads = cpus_usable() / u->nn;
    if (io_threads < 1)
        io_threads = 1;
    if (up_secrets(u) != 0)
        return CLI_EXIT_FAIL;
    secrets_t sec = {u->cluster_secret, u->auth ? u->auth_secret : NULL};
    for (int i = 0; i < u->nn; i++) {
        node_t *n = &u->nodes[i];
        if ((rc = mkdir_p(n->dir, 0755)) != 0 ||
            (rc = write_config(n, i == 0 ? NULL : u->primary_url, u->log_level, io_threads,
                               &sec)) != 0)
            return cli_fail("cluster up", "%s: %s", n->dir, strerror(-rc));
    }
    return 0;
}

static bool primary_ready(up_t *u)
{
    return locus_cluster_health(u->c, true, u->err) == 0;
}

static void primary_late(up_t *u)
{
    cli_fail("cluster up", "primary p1 not ready on %s after the timeout (%s); see %s",
             u->primary_url, u->err, u->nodes[0].log);
}

/* True once the cluster map lists every node. */
static bool all_joined(up_t *u)
{
    char *smap = NULL;
    if (locus_cluster_smap(u->c, &smap, u->err) != 0)
        return false;
    locus_node_t *ns = NULL;
    size_t cnt = 0;
    if (locus_smap_parse(smap, &ns, &cnt, NULL, u->err) == 0) {
        u->have_p = u->have_t = 0;
        for (size_t k = 0; k < cnt; k++) {
            if (strcmp(ns[k].role, "proxy") == 0)
                u->have_p++;
            else
                u->have_t++;
        }
        locus_nodes_free(ns, cnt);
    }
    free(smap);
    return u->have_p >= u->nproxies && u->have_t >= u->ntargets;
}

static void join_late(up_t *u)
{
    cli_fail("cluster up",
             "timed out waiting for %lld proxies and %lld targets (cluster map has %lld and "
             "%lld); see the logs in %s/*/locusd.log",
             (long long)u->nproxies, (long long)u->ntargets, (long long)u->have_p,
             (long long)u->have_t, u->absdir);
}

/* Polls ready(u) every sleep ms until it holds: 0, or CLI_EXIT_FAIL with every node stopped
 * when a node dies or the deadline passes (late(u) says why). */
static int up_wait(up_t *u, int64_t deadline, bool (*ready)(up_t *), void (*late)(up_t *),
                   int sleep)
{
    for (;;) {
        node_t *d = check_dead(u->nodes, u->nn);
        if (d != NULL)
            return node_died(d, u->nodes, u->nn);
        if (ready(u))
            return 0;
        if (time_mono_ns() > deadline) {
            late(u);
            stop_nodes(u->nodes, u->nn);
            return CLI_EXIT_FAIL;
        }
        sleep_ms(sleep);
    }
}

/* Starts the primary, waits for it, then starts the others (they join it) and waits until the
 * cluster map shows them all. 0 or CLI_EXIT_FAIL (printed; nodes stopped). */
static int up_start(up_t *u)
{
    fprintf(stderr, "starting %lld prox%s and %lld target%s in %s\n", (long long)u->nproxies,
            u->nproxies == 1 ? "y" : "ies", (long long)u->ntargets, u->ntargets == 1 ? "" : "s",
            u->absdir);
    int64_t deadline = time_mono_ns() + u->timeout;
    if (locus_client_create(u->primary_url, &u->c, u->err) != 0)
        return cli_fail("cluster up", "%s", u->err);
    locus_client_set_timeouts(u->c, 1000, 5000);
    if (u->auth) {
        char *tok = NULL;
        size_t tl = 0;
        if (read_file(u->admin_token, &tok, &tl) == 0)
            locus_client_set_token(u->c, tok);
        free(tok);
    }
    int rc = spawn_node(&u->nodes[0], u->locusd);
    if (rc != 0)
        return cli_fail("cluster up", "fork: %s", strerror(-rc));
    if ((rc = up_wait(u, deadline, primary_ready, primary_late, 50)) != 0)
        return rc;
    for (int i = 1; i < u->nn; i++) {
        if ((rc = spawn_node(&u->nodes[i], u->locusd)) != 0) {
            cli_fail("cluster up", "fork: %s", strerror(-rc));
            stop_nodes(u->nodes, u->nn);
            return CLI_EXIT_FAIL;
        }
    }
    return up_wait(u, deadline, all_joined, join_late, 100);
}

static int cluster_up(int argc, char **argv)
{
    up_t *u = xcalloc(1, sizeof(*u));
    int ret = up_options(u, argc, argv);
    if (ret == CLI_OPTS_GO && (ret = up_prepare(u)) == 0 && (ret = up_start(u)) == 0) {
        fprintf(stderr,
                "cluster is up: %lld prox%s, %lld target%s (logs: %s/<id>/locusd.log)\n"
                "stop it with: locus cluster down --dir %s\n",
                (long long)u->nproxies, u->nproxies == 1 ? "y" : "ies", (long long)u->ntargets,
                u->ntargets == 1 ? "" : "s", u->absdir, u->absdir);
        if (u->auth)
            fprintf(stderr, "auth is on: export LOCUS_TOKEN=$(cat %s)\n", u->admin_token);
        printf("%s\n", u->primary_url);
        fflush(stdout);
    }
    locus_client_destroy(u->c);
    for (int i = 0; u->nodes != NULL && i < u->nn; i++) {
        free(u->nodes[i].dir);
        free(u->nodes[i].log);
    }
    free(u->nodes);
    free(u->primary_url);
    free(u->locusd);
    free(u->cluster_secret);
    free(u->auth_secret);
    free(u->admin_token);
    free(u);
    return ret;
}

/* ------------------------------------------------------------------------------------------ */
/* down */

static int cluster_down(int argc, char **argv)
{
    const char *dir = default_dir();
    int64_t timeout = 10000000000LL;
    const cli_opt_t opts[] = {
        CLI_STR("dir", &dir),
        CLI_DURATION("timeout", &timeout, "--timeout: need a duration such as 10s"),
    };
    static const cli_cmd_t cmd = {"cluster", usage, 0, 0,
                                  "cluster down: unexpected argument \"%s\""};
    int pos, rc = cli_options(&cmd, opts, ARRAY_SIZE(opts), argc, argv, &pos);
    if (rc != CLI_OPTS_GO)
        return rc;
    DIR *d = opendir(dir);
    if (d == NULL)
        return cli_fail("cluster down", "%s: %s", dir, strerror(errno));
    struct {
        char id[64];
        pid_t pid;
        char *pidfile;
    } nodes[256];
    int nn = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && nn < 256) {
        if (de->d_name[0] == '.' || strlen(de->d_name) >= sizeof(nodes[0].id))
            continue;
        char *pf = xasprintf("%s/%s/locusd.pid", dir, de->d_name);
        pid_t p = live_pid(pf);
        if (p <= 0) {
            if (access(pf, F_OK) == 0)
                unlink(pf); /* stale */
            free(pf);
            continue;
        }
        memcpy(nodes[nn].id, de->d_name, strlen(de->d_name) + 1); /* length checked above */
        nodes[nn].pid = p;
        nodes[nn].pidfile = pf;
        nn++;
    }
    closedir(d);
    if (nn == 0) {
        fprintf(stderr, "no locusd running in %s\n", dir);
        return CLI_EXIT_OK;
    }
    for (int i = 0; i < nn; i++)
        kill(nodes[i].pid, SIGTERM);
    int64_t deadline = time_mono_ns() + timeout;
    int killed = 0;
    for (;;) {
        int alive = 0;
        for (int i = 0; i < nn; i++) {
            if (nodes[i].pid != 0 && !pid_alive(nodes[i].pid))
                nodes[i].pid = 0;
            alive += nodes[i].pid != 0;
        }
        if (alive == 0)
            break;
        if (time_mono_ns() > deadline) {
            for (int i = 0; i < nn; i++)
                if (nodes[i].pid != 0) {
                    fprintf(stderr, "locus: cluster down: %s (pid %d) ignored SIGTERM; killing\n",
                            nodes[i].id, (int)nodes[i].pid);
                    kill(nodes[i].pid, SIGKILL);
                    killed++;
                }
            sleep_ms(200);
            break;
        }
        sleep_ms(50);
    }
    for (int i = 0; i < nn; i++) {
        unlink(nodes[i].pidfile);
        free(nodes[i].pidfile);
    }
    fprintf(stderr, "stopped %d node%s in %s%s\n", nn, nn == 1 ? "" : "s", dir,
            killed ? " (some with SIGKILL)" : "");
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* show */

static int cluster_show(int argc, char **argv)
{
    bool as_json = false;
    const cli_opt_t opts[] = {CLI_FLAG("json", &as_json)};
    static const cli_cmd_t cmd = {"cluster", usage, 0, -1, NULL};
    int pos, ret = cli_options(&cmd, opts, ARRAY_SIZE(opts), argc, argv, &pos);
    if (ret != CLI_OPTS_GO)
        return ret;
    locus_client_t *c = cli_client();
    if (c == NULL)
        return CLI_EXIT_FAIL;
    char err[LOCUS_ERR_LEN] = "";
    char *smap = NULL;
    ret = CLI_EXIT_OK;
    if (locus_cluster_smap(c, &smap, err) != 0) {
        ret = cli_fail("cluster show", "%s", err);
        goto out;
    }
    if (as_json) {
        printf("%s\n", smap);
        goto out;
    }
    locus_node_t *ns = NULL;
    size_t n = 0;
    int64_t version = 0;
    if (locus_smap_parse(smap, &ns, &n, &version, err) != 0) {
        ret = cli_fail("cluster show", "%s", err);
        goto out;
    }
    static const cli_col_t cols[] = {
        {"ID", false, 0, 0}, {"ROLE", false, 6, 6}, {"URL", false, 0, 0}, {"PRIMARY", false, 0, 0}};
    cli_table_t t;
    cli_table_init(&t, cols, ARRAY_SIZE(cols));
    for (size_t i = 0; i < n; i++)
        cli_table_add(
            &t, (const char *[]){ns[i].id, ns[i].role, ns[i].url, ns[i].is_primary ? "*" : ""});
    cli_table_finish(&t, stdout);
    size_t np = 0;
    for (size_t i = 0; i < n; i++)
        np += strcmp(ns[i].role, "proxy") == 0;
    printf("\n%zu prox%s, %zu target%s, cluster map version %lld\n", np, np == 1 ? "y" : "ies",
           n - np, n - np == 1 ? "" : "s", (long long)version);
    locus_nodes_free(ns, n);
out:
    free(smap);
    locus_client_destroy(c);
    return ret;
}

int locus_cli_cmd_cluster(int argc, char **argv)
{
    static const cli_sub_t subs[] = {
        {"up", cluster_up}, {"down", cluster_down}, {"show", cluster_show}};
    return cli_dispatch("cluster", usage, subs, ARRAY_SIZE(subs), 0, argc, argv);
}
