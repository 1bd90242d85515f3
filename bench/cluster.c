/*
 * cluster.c - the cluster under test: `locus cluster up/down` around a run, the cluster map
 * and HRW ownership for target-direct requests (common/hrw.h, the same digests as AIStore).
 */
#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "common/hrw.h"
#include "common/names.h"

/* AIStore's Snode flags: maintenance and decommission exclude a target from HRW. */
#define SNODE_FLAG_MAINT (1 << 2)
#define SNODE_FLAG_DECOMM (1 << 3)

static const char *net_url(json_t *node)
{
    json_t *net = json_object_get(node, "public_net");
    return json_string_value(json_object_get(net, "direct_url"));
}

int bench_smap_fetch(const char *endpoint, bench_smap_t *sm, char *err, size_t errlen)
{
    memset(sm, 0, sizeof(*sm));
    char *url = xasprintf("%s/v1/daemon?what=smap", endpoint);
    buf_t resp;
    buf_init(&resp);
    int rc = -1;
    json_t *root = NULL;
    long status = bench_http("GET", url, NULL, &resp, err, errlen);
    if (status < 0)
        goto out;
    if (status != 200) {
        snprintf(err, errlen, "GET %s: HTTP %ld", url, status);
        goto out;
    }
    json_error_t jerr;
    /* id_digest is a uint64 (as in AIStore) and overflows jansson's json_int_t: read every
     * number as a double; only flags and version are used, and they are small. */
    root = json_loadb(resp.base, resp.len, JSON_DECODE_INT_AS_REAL, &jerr);
    json_t *tmap = json_object_get(root, "tmap");
    if (root == NULL || !json_is_object(tmap)) {
        snprintf(err, errlen, "GET %s: %s", url,
                 root == NULL ? jerr.text : "no tmap in the answer");
        goto out;
    }
    const char *purl = net_url(json_object_get(root, "proxy_si"));
    if (purl != NULL)
        sm->proxy_url = xstrdup(purl);
    json_t *ver = json_object_get(root, "version");
    sm->version = json_is_number(ver)   ? (long)json_number_value(ver)
                  : json_is_string(ver) ? strtol(json_string_value(ver), NULL, 10)
                                        : 0;
    sm->t = xcalloc(json_object_size(tmap) + 1, sizeof(*sm->t));
    const char *key;
    json_t *node;
    json_object_foreach(tmap, key, node)
    {
        uint64_t flags = (uint64_t)json_number_value(json_object_get(node, "flags"));
        if (flags & (SNODE_FLAG_MAINT | SNODE_FLAG_DECOMM))
            continue;
        const char *id = json_string_value(json_object_get(node, "daemon_id"));
        const char *turl = net_url(node);
        if (id == NULL)
            id = key;
        if (turl == NULL)
            continue;
        bench_target_t *t = &sm->t[sm->nt++];
        t->id = xstrdup(id);
        t->url = xstrdup(turl);
        t->digest = hrw_digest_str(id);
    }
    rc = 0;
out:
    json_decref(root);
    buf_dispose(&resp);
    free(url);
    return rc;
}

void bench_smap_dispose(bench_smap_t *sm)
{
    for (size_t i = 0; i < sm->nt; i++) {
        free(sm->t[i].id);
        free(sm->t[i].url);
    }
    free(sm->t);
    free(sm->proxy_url);
    memset(sm, 0, sizeof(*sm));
}

int bench_smap_owner(const bench_smap_t *sm, const char *bck, const char *obj)
{
    if (sm->nt == 0)
        return -1;
    uint64_t digests[64];
    uint64_t *d = sm->nt <= 64 ? digests : xmalloc(sm->nt * sizeof(*d));
    for (size_t i = 0; i < sm->nt; i++)
        d[i] = sm->t[i].digest;
    char *uname = uname_make(bck, obj);
    int idx = hrw_select(d, sm->nt, hrw_digest_str(uname));
    free(uname);
    if (d != digests)
        free(d);
    return idx;
}

int bench_cluster_up(const char *bindir, const char *dir, int port, int targets, int cpu, char *err,
                     size_t errlen)
{
    char *cli = xasprintf("%s/locus", bindir);
    char *log = xasprintf("%s.up.log", dir);
    char sport[16], stargets[16];
    snprintf(sport, sizeof(sport), "%d", port);
    snprintf(stargets, sizeof(stargets), "%d", targets);
    char *argv[] = {cli,   "cluster",   "up", "--dir",     (char *)dir, "--port",
                    sport, "--proxies", "1",  "--targets", stargets,    NULL};
    int rc = -1;
    if (access(cli, X_OK) != 0) {
        snprintf(err, errlen, "%s not found (build it first: make)", cli);
        goto out;
    }
    int st = bench_run(argv, log, cpu, 90);
    if (st != 0) {
        snprintf(err, errlen, "`locus cluster up --dir %s --port %d` failed (status %d); log: %s",
                 dir, port, st, log);
        bench_dump_tail(log, 2000);
        goto out;
    }
    /* `cluster up` waits for readiness itself; double-check the map before measuring. */
    char *endpoint = xasprintf("http://127.0.0.1:%d", port);
    for (int i = 0; i < 150 && !bench_stop; i++) {
        bench_smap_t sm;
        char e[256];
        if (bench_smap_fetch(endpoint, &sm, e, sizeof(e)) == 0) {
            size_t nt = sm.nt;
            bench_smap_dispose(&sm);
            if ((int)nt >= targets) {
                rc = 0;
                break;
            }
        }
        sleep_ms(200);
    }
    if (rc != 0)
        snprintf(err, errlen, "cluster at %s did not reach %d targets in the smap", endpoint,
                 targets);
    free(endpoint);
out:
    free(log);
    free(cli);
    return rc;
}

int bench_pid_files(const char *pattern, pid_t *out, int max)
{
    int n = 0;
    glob_t g;
    if (glob(pattern, 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc && n < max; i++) {
            FILE *f = fopen(g.gl_pathv[i], "r");
            long pid = 0;
            if (f != NULL && fscanf(f, "%ld", &pid) == 1 && pid > 1)
                out[n++] = (pid_t)pid;
            if (f != NULL)
                fclose(f);
        }
        globfree(&g);
    }
    return n;
}

int bench_cluster_pids(const char *cluster_dir, pid_t *out, int max)
{
    char *pat = xasprintf("%s/*/locusd.pid", cluster_dir);
    int n = bench_pid_files(pat, out, max);
    free(pat);
    return n;
}

void bench_cluster_down(const char *bindir, const char *dir)
{
    char *cli = xasprintf("%s/locus", bindir);
    char *log = xasprintf("%s.down.log", dir);
    char *argv[] = {cli, "cluster", "down", "--dir", (char *)dir, NULL};
    if (access(cli, X_OK) == 0)
        (void)bench_run(argv, log, -1, 60);

    /* Safety net: whatever `cluster down` left behind (it may not exist yet, or fail). Only
     * pids recorded under our own cluster dir, and only if they still are locusd. */
    pid_t pids[256];
    int n = bench_cluster_pids(dir, pids, 256);
    for (int i = 0; i < n; i++) {
        char comm_path[64], comm[64] = "";
        snprintf(comm_path, sizeof(comm_path), "/proc/%ld/comm", (long)pids[i]);
        FILE *c = fopen(comm_path, "r");
        if (c == NULL)
            continue;
        if (fgets(comm, sizeof(comm), c) == NULL)
            comm[0] = '\0';
        fclose(c);
        if (strncmp(comm, "locusd", 6) != 0)
            continue;
        fprintf(stderr, "locus-bench: locusd pid %ld still alive after cluster down; killing\n",
                (long)pids[i]);
        kill(pids[i], SIGKILL);
    }
    free(log);
    free(cli);
}
