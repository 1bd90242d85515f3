/*
 * cmd_cluster.c - `locus cluster up|down|add-target`: a local development cluster of separate
 * locusd processes laid out as docs/DEV-CONTRACT.md says (DIR/<id>/ with config.json, locusd.log,
 * locusd.pid, node state and, for targets, mp1/ .. mpN/; the primary on port P, then p2..pN,
 * t1..tM on P+1, P+2, ...; targets added later take the next id and the next free port), and the
 * command table of `locus cluster` (show and the membership commands: cmd_cluster_member.c).
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

#include "common/json.h"
#include "common/util.h"

#define DEFAULT_DIR "/tmp/locus-cluster"
#define DEFAULT_PORT 8080

static const char *default_dir(void)
{
    const char *d = getenv("LOCUS_CLUSTER_DIR");
    return d != NULL && d[0] != '\0' ? d : DEFAULT_DIR;
}

void cli_cluster_usage(FILE *f)
{
    fprintf(f,
            "usage: locus cluster up [--proxies N] [--targets N] [--mountpaths N] [--dir DIR]\n"
            "                        [--port P] [--timeout D] [--log-level L] [--auth]\n"
            "       locus cluster add-target [--dir DIR] [--mountpaths N] [--timeout D]\n"
            "       locus cluster down [--dir DIR] [--timeout D]\n"
            "       locus cluster show [--json] [--stats]\n"
            "       locus cluster maintenance start|stop NODE [--skip-rebalance] [--wait]\n"
            "       locus cluster decommission NODE [--rm-user-data] [--skip-rebalance] [--wait]\n"
            "       locus cluster shutdown-node NODE\n"
            "       locus cluster rebalance [--wait]\n"
            "       locus cluster set-primary PROXY\n"
            "\n"
            "up    starts N proxies (default 1) and N targets (default 3) as separate locusd\n"
            "      processes with state and logs under DIR/<id>/ (default $LOCUS_CLUSTER_DIR or\n"
            "      %s), each target with --mountpaths dirs mp1..mpN (1..64, default 2);\n"
            "      the primary proxy listens on P (default %d), the other nodes on P+1, P+2, ...;\n"
            "      waits (at most --timeout, default 30s) until the cluster map shows every node\n"
            "      and each answers /v1/health, then prints the endpoint URL on stdout. On a DIR\n"
            "      that holds a stopped cluster it restarts every node of the saved map (added\n"
            "      targets too; targets keep their mountpaths). The nodes sign their calls to\n"
            "      each other with DIR/cluster.secret (made once, mode 0600).\n"
            "      --auth: clients need a token (docs/security.md): the token secret is\n"
            "      DIR/auth.secret, an admin token DIR/admin.token (export LOCUS_TOKEN=...).\n"
            "add-target  starts one more target in the running cluster of DIR (the next id and\n"
            "      free port; --mountpaths default: as the existing targets), waits until it\n"
            "      joined, prints its id and URL on stdout.\n"
            "down  stops the nodes of DIR: SIGTERM, then SIGKILL after --timeout (default 10s).\n"
            "\n"
            "The others talk to the endpoint ($LOCUS_ENDPOINT, $AIS_ENDPOINT):\n"
            "show  prints the cluster map (with each node's flags) and the last rebalance;\n"
            "      --stats adds each node's requests, errors, bytes and disk use (its metrics).\n"
            "maintenance start|stop, decommission, shutdown-node  change a node's membership\n"
            "      (NODE: its id, such as t1, or t[t1]); rebalance starts a global rebalance.\n"
            "      They print the rebalance job id; --wait [--timeout D] waits until that\n"
            "      rebalance ends (decommission: and the node left the map) and fails if it\n"
            "      failed or was aborted.\n"
            "set-primary  hands the primary role to proxy PROXY (its id); `show` marks the\n"
            "      primary with *.\n",
            DEFAULT_DIR, DEFAULT_PORT);
}

/* ------------------------------------------------------------------------------------------ */
/* up */

typedef struct {
    char id[16];
    bool proxy;
    int port;
    int nmp;          /* target: mountpaths DIR/<id>/mp1..mpN to make, unless keep_mps */
    json_t *keep_mps; /* target: the mountpaths of its existing config (owned), or NULL */
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

/* What every node's config of one cluster shares. io_threads: the HTTP I/O threads of each
 * node; nodes that share one machine share its CPUs. */
typedef struct {
    const char *log_level;
    int io_threads;
    secrets_t sec;
} node_cfg_t;

/* The "mountpaths" of a target's config: the ones it had, else DIR/<id>/mp1..mpN (made). */
static json_t *node_mountpaths(const node_t *n)
{
    if (n->keep_mps != NULL) {
        size_t i;
        json_t *mp;
        json_array_foreach(n->keep_mps, i, mp)
        {
            if (json_is_string(mp))
                mkdir_p(json_string_value(mp), 0755);
        }
        return json_incref(n->keep_mps);
    }
    json_t *mps = json_array();
    for (int i = 1; i <= n->nmp; i++) {
        char *mp = xasprintf("%s/mp%d", n->dir, i);
        mkdir_p(mp, 0755);
        json_array_append_new(mps, json_string(mp));
        free(mp);
    }
    return mps;
}

/* Writes DIR/<id>/config.json: the one config shape of `up` and `add-target`. */
static int write_config(const node_t *n, const char *primary_url, const node_cfg_t *cfg)
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
    if (!n->proxy)
        json_object_set_new(j, "mountpaths", node_mountpaths(n));
    json_object_set_new(j, "log_level", json_string(cfg->log_level));
    json_object_set_new(j, "log_file", json_string(n->log));
    json_object_set_new(j, "io_threads", json_integer(cfg->io_threads));
    json_object_set_new(j, "cluster_secret_file", json_string(cfg->sec.cluster_secret));
    if (cfg->sec.auth_secret) {
        json_object_set_new(j, "auth_enabled", json_true());
        json_object_set_new(j, "auth_secret_file", json_string(cfg->sec.auth_secret));
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

/* DIR/<id>/config.json parsed, or NULL when it is missing or unreadable. */
static json_t *read_config(const char *absdir, const char *id)
{
    char *p = xasprintf("%s/%s/config.json", absdir, id);
    json_t *j = json_load_file(p, 0, NULL);
    free(p);
    if (j != NULL && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

/* A node of DIR: its paths and, for a target with a config, the mountpaths it had. */
static void node_init(node_t *n, const char *absdir, const char *id, bool proxy, int port, int nmp)
{
    memset(n, 0, sizeof(*n));
    snprintf(n->id, sizeof(n->id), "%s", id);
    n->proxy = proxy;
    n->port = port;
    n->nmp = nmp;
    n->dir = xasprintf("%s/%s", absdir, n->id);
    n->log = xasprintf("%s/locusd.log", n->dir);
    json_t *cfg = proxy ? NULL : read_config(absdir, n->id);
    json_t *mps = json_object_get(cfg, "mountpaths");
    if (json_is_array(mps) && json_array_size(mps) > 0)
        n->keep_mps = json_incref(mps);
    json_decref(cfg);
}

static void nodes_free(node_t *nodes, int nn)
{
    for (int i = 0; nodes != NULL && i < nn; i++) {
        free(nodes[i].dir);
        free(nodes[i].log);
        json_decref(nodes[i].keep_mps);
    }
    free(nodes);
}

/* The first node of DIR whose locusd runs: its id into id (idlen bytes) and its pid; 0 when
 * none. */
static pid_t running_node(const char *absdir, char *id, size_t idlen)
{
    DIR *d = opendir(absdir);
    if (d == NULL)
        return 0;
    pid_t p = 0;
    struct dirent *de;
    while (p == 0 && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char *pf = xasprintf("%s/%s/locusd.pid", absdir, de->d_name);
        if ((p = live_pid(pf)) > 0)
            snprintf(id, idlen, "%s", de->d_name);
        free(pf);
    }
    closedir(d);
    return p;
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

static int node_died(const char *cmd, node_t *d, node_t *nodes, int nn)
{
    char how[64];
    if (WIFEXITED(d->wstatus))
        snprintf(how, sizeof(how), "exited with status %d", WEXITSTATUS(d->wstatus));
    else if (WIFSIGNALED(d->wstatus))
        snprintf(how, sizeof(how), "was killed by signal %d", WTERMSIG(d->wstatus));
    else
        snprintf(how, sizeof(how), "stopped");
    cli_fail(cmd, "node %s %s before the cluster was ready; see %s", d->id, how, d->log);
    print_log_tail(d->log);
    stop_nodes(nodes, nn);
    return CLI_EXIT_FAIL;
}

/* The state of one `cluster up` or `cluster add-target`. */
typedef struct {
    const char *cmd; /* "cluster up" or "cluster add-target", for messages */
    int64_t nproxies, ntargets, port, timeout, nmp;
    const char *dir, *log_level;
    bool auth;
    bool restart;   /* up: DIR holds a cluster that ran before (p1/smap.json) */
    bool whole_map; /* the wait checks every node of the map, not only ours */
    char absdir[PATH_MAX];
    char *cluster_secret, *auth_secret, *admin_token; /* file paths */
    char *locusd, *primary_url;
    node_t *nodes; /* the nodes this command starts */
    int nn;
    locus_client_t *c;
    char err[LOCUS_ERR_LEN];
    char *not_up; /* what the last look at the cluster found not up yet */
} up_t;

static void up_free(up_t *u)
{
    locus_client_destroy(u->c);
    nodes_free(u->nodes, u->nn);
    free(u->primary_url);
    free(u->locusd);
    free(u->cluster_secret);
    free(u->auth_secret);
    free(u->admin_token);
    free(u->not_up);
    free(u);
}

static int up_options(up_t *u, int argc, char **argv)
{
    u->nproxies = 1, u->ntargets = 3, u->port = DEFAULT_PORT, u->nmp = 2;
    u->dir = default_dir();
    u->log_level = "notice";
    u->timeout = 30000000000LL;
    const cli_opt_t opts[] = {
        CLI_INT("proxies", &u->nproxies, 1, INT64_MAX, "--proxies: need a positive number"),
        CLI_INT("targets", &u->ntargets, 1, INT64_MAX, "--targets: need a positive number"),
        CLI_INT("mountpaths", &u->nmp, 1, 64, "--mountpaths: need a number from 1 to 64"),
        CLI_STR("dir", &u->dir),
        CLI_INT("port", &u->port, 1, 65535, "--port: need a port number"),
        CLI_DURATION("timeout", &u->timeout, "--timeout: need a duration such as 30s"),
        CLI_STR("log-level", &u->log_level),
        CLI_FLAG("auth", &u->auth),
    };
    static const cli_cmd_t cmd = {"cluster", cli_cluster_usage, 0, 0,
                                  "cluster up: unexpected argument \"%s\""};
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

static bool have_node(const up_t *u, const char *id)
{
    for (int i = 0; i < u->nn; i++)
        if (strcmp(u->nodes[i].id, id) == 0)
            return true;
    return false;
}

/* A restart: the saved map of the primary (DIR/p1/smap.json) names the cluster's nodes. The
 * nodes of DIR that are in it but not in the layout of the options (targets added with
 * add-target, a smaller --targets than before) are started too, on the port of their config. */
static void up_saved_nodes(up_t *u)
{
    char *path = xasprintf("%s/p1/smap.json", u->absdir), *text = NULL;
    size_t len = 0;
    int rc = read_file(path, &text, &len);
    free(path);
    locus_node_t *ns = NULL;
    size_t cnt = 0;
    if (rc != 0 || locus_smap_parse(text, &ns, &cnt, NULL, NULL) != 0) {
        free(text);
        return;
    }
    free(text);
    u->restart = true;
    for (size_t k = 0; k < cnt; k++) {
        if (strlen(ns[k].id) >= sizeof(u->nodes[0].id) || have_node(u, ns[k].id))
            continue;
        json_t *cfg = read_config(u->absdir, ns[k].id);
        int64_t port = json_int64(json_object_get(cfg, "port"));
        const char *role = json_string_value(json_object_get(cfg, "role"));
        if (cfg != NULL && port > 0 && port <= 65535 && role != NULL) {
            u->nodes = xrealloc(u->nodes, (size_t)(u->nn + 1) * sizeof(node_t));
            node_init(&u->nodes[u->nn++], u->absdir, ns[k].id, strcmp(role, "proxy") == 0,
                      (int)port, (int)u->nmp);
        }
        json_decref(cfg);
    }
    locus_nodes_free(ns, cnt);
}

/* Names the nodes, refuses to start over a running cluster or on a busy port. 0 or
 * CLI_EXIT_FAIL (printed). */
static int up_nodes(up_t *u)
{
    if ((u->locusd = find_locusd()) == NULL)
        return cli_fail("cluster up", "locusd not found next to the locus binary or in $PATH");
    int rc = mkdir_p(u->dir, 0755);
    if (rc != 0 || realpath(u->dir, u->absdir) == NULL)
        return cli_fail("cluster up", "%s: %s", u->dir, strerror(rc != 0 ? -rc : errno));
    char id[256];
    pid_t p = running_node(u->absdir, id, sizeof(id));
    if (p > 0)
        return cli_fail("cluster up",
                        "the cluster in %s is already running (node %s, pid %d); add a target "
                        "with 'locus cluster add-target --dir %s', or stop it with 'locus "
                        "cluster down --dir %s' first",
                        u->absdir, id, (int)p, u->absdir, u->absdir);
    u->nodes = xcalloc((size_t)u->nn, sizeof(node_t));
    for (int i = 0; i < u->nn; i++) {
        bool proxy = i < u->nproxies;
        snprintf(id, sizeof(id), "%c%d", proxy ? 'p' : 't',
                 (int)(proxy ? i + 1 : i - u->nproxies + 1));
        node_init(&u->nodes[i], u->absdir, id, proxy, (int)u->port + i, (int)u->nmp);
    }
    up_saved_nodes(u);
    for (int i = 0; i < u->nn; i++)
        if ((rc = port_free(u->nodes[i].port)) != 0)
            return cli_fail("cluster up", "port %d (for %s) is not free: %s", u->nodes[i].port,
                            u->nodes[i].id, strerror(-rc));
    return 0;
}

/* The nodes and their configs. 0 or CLI_EXIT_FAIL (printed). */
static int up_prepare(up_t *u)
{
    int rc = up_nodes(u);
    if (rc != 0)
        return rc;
    u->primary_url = xasprintf("http://127.0.0.1:%lld", (long long)u->port);
    /* All nodes run on this machine: one I/O thread each unless there are CPUs to spare (an
     * I/O thread per CPU in every node costs CPU per request in wake-ups: docs/benchmarks.md,
     * "The server model"). */
    int io_threads = cpus_usable() / u->nn;
    if (io_threads < 1)
        io_threads = 1;
    if (up_secrets(u) != 0)
        return CLI_EXIT_FAIL;
    node_cfg_t cfg = {
        u->log_level, io_threads, {u->cluster_secret, u->auth ? u->auth_secret : NULL}};
    for (int i = 0; i < u->nn; i++) {
        node_t *n = &u->nodes[i];
        if ((rc = mkdir_p(n->dir, 0755)) != 0 ||
            (rc = write_config(n, i == 0 ? NULL : u->primary_url, &cfg)) != 0)
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
    cli_fail(u->cmd, "primary p1 not ready on %s after the timeout (%s); see %s", u->primary_url,
             u->err, u->nodes[0].log);
}

/* Adds "id (why)" to the list of nodes not up. */
static void not_up(up_t *u, const char *id, const char *why)
{
    char *s = u->not_up != NULL ? xasprintf("%s, %s (%s)", u->not_up, id, why)
                                : xasprintf("%s (%s)", id, why);
    free(u->not_up);
    u->not_up = s;
}

/* A client for url with the command's token and short timeouts (a wait polls it). */
static locus_client_t *poll_client(up_t *u, const char *url)
{
    locus_client_t *c = NULL;
    if (locus_client_create(url, &c, u->err) != 0)
        return NULL;
    locus_client_set_timeouts(c, 1000, 2000);
    char *tok = NULL;
    size_t tl = 0;
    if (u->admin_token != NULL && read_file(u->admin_token, &tok, &tl) == 0) {
        char *nl = strchr(tok, '\n');
        if (nl != NULL)
            *nl = '\0';
        locus_client_set_token(c, tok);
    }
    free(tok);
    return c;
}

/* Looks at node k of the map: DOWN, or /v1/health not 200, goes into u->not_up. */
static void check_node(up_t *u, const locus_node_t *n)
{
    if (n->flags & LOCUS_NODE_DOWN) {
        not_up(u, n->id, "DOWN in the cluster map");
        return;
    }
    char err[LOCUS_ERR_LEN] = "";
    locus_client_t *c = poll_client(u, n->url);
    if (c == NULL || locus_cluster_health(c, false, err) != 0) {
        char *why = xasprintf("/v1/health: %s", c == NULL ? u->err : err);
        not_up(u, n->id, why);
        free(why);
    }
    locus_client_destroy(c);
}

/* True once the primary's map lists every node this command started and each node looked at
 * (every node of the map with whole_map, else ours) answers /v1/health 200 and is not DOWN; else
 * u->not_up says which are not. */
static bool all_up(up_t *u)
{
    free(u->not_up);
    u->not_up = NULL;
    char *smap = NULL;
    locus_node_t *ns = NULL;
    size_t cnt = 0;
    if (locus_cluster_smap(u->c, &smap, u->err) != 0 ||
        locus_smap_parse(smap, &ns, &cnt, NULL, u->err) != 0) {
        u->not_up = xasprintf("cluster map: %s", u->err);
        free(smap);
        return false;
    }
    free(smap);
    for (int i = 0; i < u->nn; i++) {
        bool found = false;
        for (size_t k = 0; k < cnt && !found; k++)
            found = strcmp(ns[k].id, u->nodes[i].id) == 0;
        if (!found)
            not_up(u, u->nodes[i].id, "not in the cluster map");
    }
    for (size_t k = 0; k < cnt; k++)
        if (u->whole_map || have_node(u, ns[k].id))
            check_node(u, &ns[k]);
    locus_nodes_free(ns, cnt);
    return u->not_up == NULL;
}

static void up_late(up_t *u)
{
    cli_fail(u->cmd, "timed out after %.0fs; not up: %s; see the logs in %s/*/locusd.log",
             (double)u->timeout / 1e9, u->not_up != NULL ? u->not_up : "?", u->absdir);
}

/* Polls ready(u) every sleep ms until it holds: 0, or CLI_EXIT_FAIL with every node stopped
 * when a node dies or the deadline passes (late(u) says why). */
static int up_wait(up_t *u, int64_t deadline, bool (*ready)(up_t *), void (*late)(up_t *),
                   int sleep)
{
    for (;;) {
        node_t *d = check_dead(u->nodes, u->nn);
        if (d != NULL)
            return node_died(u->cmd, d, u->nodes, u->nn);
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

/* u->c: a client of the primary with the cluster's admin token (if any). 0 or CLI_EXIT_FAIL. */
static int up_client(up_t *u)
{
    if ((u->c = poll_client(u, u->primary_url)) == NULL)
        return cli_fail(u->cmd, "%s", u->err);
    locus_client_set_timeouts(u->c, 1000, 5000);
    return 0;
}

static void count_nodes(const up_t *u, int *np, int *nt)
{
    *np = *nt = 0;
    for (int i = 0; i < u->nn; i++)
        *(u->nodes[i].proxy ? np : nt) += 1;
}

/* Starts the primary, waits for it, then starts the others (they join it) and waits until the
 * cluster map shows them all, healthy. 0 or CLI_EXIT_FAIL (printed; nodes stopped). */
static int up_start(up_t *u)
{
    int np, nt;
    count_nodes(u, &np, &nt);
    fprintf(stderr, "%s %d prox%s and %d target%s in %s\n", u->restart ? "restarting" : "starting",
            np, np == 1 ? "y" : "ies", nt, nt == 1 ? "" : "s", u->absdir);
    int64_t deadline = time_mono_ns() + u->timeout;
    if (up_client(u) != 0)
        return CLI_EXIT_FAIL;
    int rc = spawn_node(&u->nodes[0], u->locusd);
    if (rc != 0)
        return cli_fail(u->cmd, "fork: %s", strerror(-rc));
    if ((rc = up_wait(u, deadline, primary_ready, primary_late, 50)) != 0)
        return rc;
    for (int i = 1; i < u->nn; i++) {
        if ((rc = spawn_node(&u->nodes[i], u->locusd)) != 0) {
            cli_fail(u->cmd, "fork: %s", strerror(-rc));
            stop_nodes(u->nodes, u->nn);
            return CLI_EXIT_FAIL;
        }
    }
    /* A restarted primary knows every node at once from its saved map: ready is when each one
     * answers and none is DOWN. */
    u->whole_map = true;
    return up_wait(u, deadline, all_up, up_late, 100);
}

static int cluster_up(int argc, char **argv)
{
    up_t *u = xcalloc(1, sizeof(*u));
    u->cmd = "cluster up";
    int ret = up_options(u, argc, argv);
    if (ret == CLI_OPTS_GO && (ret = up_prepare(u)) == 0 && (ret = up_start(u)) == 0) {
        int np, nt;
        count_nodes(u, &np, &nt);
        fprintf(stderr,
                "cluster is up: %d prox%s, %d target%s (logs: %s/<id>/locusd.log)\n"
                "stop it with: locus cluster down --dir %s\n",
                np, np == 1 ? "y" : "ies", nt, nt == 1 ? "" : "s", u->absdir, u->absdir);
        if (u->auth)
            fprintf(stderr, "auth is on: export LOCUS_TOKEN=$(cat %s)\n", u->admin_token);
        printf("%s\n", u->primary_url);
        fflush(stdout);
    }
    up_free(u);
    return ret;
}

/* ------------------------------------------------------------------------------------------ */
/* add-target */

/* From the primary's config: the settings of the cluster's configs and the primary's URL. 0 or
 * CLI_EXIT_FAIL (printed). */
static int at_settings(up_t *u, json_t *p1, node_cfg_t *cfg)
{
    const char *url = json_string_value(json_object_get(p1, "public_url"));
    int64_t port = json_int64(json_object_get(p1, "port"));
    if (url != NULL)
        u->primary_url = xstrdup(url);
    else if (port > 0)
        u->primary_url = xasprintf("http://127.0.0.1:%lld", (long long)port);
    else
        return cli_fail(u->cmd, "%s/p1/config.json names no port", u->absdir);
    const char *ll = json_string_value(json_object_get(p1, "log_level"));
    cfg->log_level = ll != NULL ? ll : "notice";
    cfg->io_threads = (int)json_int64(json_object_get(p1, "io_threads"));
    if (cfg->io_threads < 1)
        cfg->io_threads = 1;
    const char *cs = json_string_value(json_object_get(p1, "cluster_secret_file"));
    u->cluster_secret =
        cs != NULL && cs[0] ? xstrdup(cs) : xasprintf("%s/cluster.secret", u->absdir);
    cfg->sec.cluster_secret = u->cluster_secret;
    const char *as = json_string_value(json_object_get(p1, "auth_secret_file"));
    if (json_is_true(json_object_get(p1, "auth_enabled")) && as != NULL) {
        u->auth_secret = xstrdup(as);
        cfg->sec.auth_secret = u->auth_secret;
        u->admin_token = xasprintf("%s/admin.token", u->absdir);
    }
    return 0;
}

/* The next target id (one past the highest tN of DIR), the next free port (past the highest
 * port of DIR's configs) and, unless given, the mountpath count of the existing targets. */
static void at_next(up_t *u, char *id, size_t idlen, int *port)
{
    int maxt = 0, maxport = (int)u->port, nmp = 0;
    DIR *d = opendir(u->absdir);
    struct dirent *de;
    while (d != NULL && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char *end = NULL;
        long t = de->d_name[0] == 't' ? strtol(de->d_name + 1, &end, 10) : 0;
        if (end != NULL && *end == '\0' && t > maxt && t < 100000)
            maxt = (int)t;
        json_t *cfg = read_config(u->absdir, de->d_name);
        int64_t p = json_int64(json_object_get(cfg, "port"));
        if (p > maxport && p <= 65535)
            maxport = (int)p;
        json_t *mps = json_object_get(cfg, "mountpaths");
        if (nmp == 0 && json_is_array(mps))
            nmp = (int)json_array_size(mps);
        json_decref(cfg);
    }
    if (d != NULL)
        closedir(d);
    snprintf(id, idlen, "t%d", maxt + 1);
    *port = maxport + 1;
    while (*port < 65535 && port_free(*port) != 0)
        (*port)++;
    if (u->nmp == 0)
        u->nmp = nmp >= 1 && nmp <= 64 ? nmp : 2;
}

/* Finds the cluster of DIR, checks that its primary runs, writes the new target's config. 0 or
 * CLI_EXIT_FAIL (printed). */
static int at_prepare(up_t *u)
{
    if ((u->locusd = find_locusd()) == NULL)
        return cli_fail(u->cmd, "locusd not found next to the locus binary or in $PATH");
    json_t *p1 = NULL;
    if (realpath(u->dir, u->absdir) == NULL || (p1 = read_config(u->absdir, "p1")) == NULL)
        return cli_fail(u->cmd,
                        "no cluster in %s (no p1/config.json); start one with 'locus "
                        "cluster up --dir %s'",
                        u->dir, u->dir);
    node_cfg_t cfg = {0};
    int rc = at_settings(u, p1, &cfg);
    char *pf = xasprintf("%s/p1/locusd.pid", u->absdir);
    if (rc == 0 && live_pid(pf) <= 0)
        rc = cli_fail(u->cmd,
                      "the cluster in %s is not running (its primary p1 is down); start "
                      "it with 'locus cluster up --dir %s'",
                      u->absdir, u->absdir);
    free(pf);
    if (rc == 0 && up_client(u) == 0 && locus_cluster_health(u->c, true, u->err) != 0)
        rc = cli_fail(u->cmd, "the primary p1 of %s does not answer on %s: %s", u->absdir,
                      u->primary_url, u->err);
    else if (rc == 0 && u->c == NULL)
        rc = CLI_EXIT_FAIL;
    if (rc == 0) {
        char id[16];
        int port;
        at_next(u, id, sizeof(id), &port);
        u->nodes = xcalloc(1, sizeof(node_t));
        u->nn = 1;
        node_init(&u->nodes[0], u->absdir, id, false, port, (int)u->nmp);
        json_decref(u->nodes[0].keep_mps); /* a new target: a config left in its dir is stale */
        u->nodes[0].keep_mps = NULL;
        if ((rc = mkdir_p(u->nodes[0].dir, 0755)) != 0 ||
            (rc = write_config(&u->nodes[0], u->primary_url, &cfg)) != 0)
            rc = cli_fail(u->cmd, "%s: %s", u->nodes[0].dir, strerror(-rc));
    }
    json_decref(p1); /* cfg borrowed its log level until here */
    return rc;
}

static int cluster_add_target(int argc, char **argv)
{
    up_t *u = xcalloc(1, sizeof(*u));
    u->cmd = "cluster add-target";
    u->dir = default_dir();
    u->timeout = 30000000000LL;
    const cli_opt_t opts[] = {
        CLI_STR("dir", &u->dir),
        CLI_INT("mountpaths", &u->nmp, 1, 64, "--mountpaths: need a number from 1 to 64"),
        CLI_DURATION("timeout", &u->timeout, "--timeout: need a duration such as 30s"),
    };
    static const cli_cmd_t cmd = {"cluster", cli_cluster_usage, 0, 0,
                                  "cluster add-target: unexpected argument \"%s\""};
    int pos, ret = cli_options(&cmd, opts, ARRAY_SIZE(opts), argc, argv, &pos);
    if (ret == CLI_OPTS_GO && (ret = at_prepare(u)) == 0) {
        node_t *n = &u->nodes[0];
        fprintf(stderr, "starting target %s on port %d in %s\n", n->id, n->port, u->absdir);
        int rc = spawn_node(n, u->locusd);
        if (rc != 0)
            ret = cli_fail(u->cmd, "fork: %s", strerror(-rc));
        else if ((ret = up_wait(u, time_mono_ns() + u->timeout, all_up, up_late, 100)) == 0) {
            fprintf(stderr, "target %s joined the cluster (log: %s)\n", n->id, n->log);
            printf("%s http://127.0.0.1:%d\n", n->id, n->port);
            fflush(stdout);
        }
    }
    up_free(u);
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
    static const cli_cmd_t cmd = {"cluster", cli_cluster_usage, 0, 0,
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

int locus_cli_cmd_cluster(int argc, char **argv)
{
    static const cli_sub_t subs[] = {
        {"up", cluster_up},
        {"down", cluster_down},
        {"add-target", cluster_add_target},
        {"show", cli_cluster_show},
        {"maintenance", cli_cluster_maintenance},
        {"decommission", cli_cluster_decommission},
        {"shutdown-node", cli_cluster_shutdown_node},
        {"rebalance", cli_cluster_rebalance},
        {"set-primary", cli_cluster_set_primary},
    };
    return cli_dispatch("cluster", cli_cluster_usage, subs, ARRAY_SIZE(subs), 0, argc, argv);
}
