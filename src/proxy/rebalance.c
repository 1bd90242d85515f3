/*
 * rebalance.c - the primary's rebalance coordinator and the membership actions of
 * PUT /v1/cluster (docs/design.md §14).
 *
 * DESIGN
 * Every smap change that moves placement (a target joins or returns, enters or leaves
 * maintenance, is decommissioned) makes the primary start a global rebalance: job "g<N>" on
 * every target that is up, N the rebalance version. The state of the last one (RMD: version,
 * the smap version it serves, running/done/failed/aborted) is kept in <data_dir>/rmd.json, so
 * a primary that restarts during a rebalance starts it again. One thread polls the running
 * job; a rebalance that ends with errors (a target was unreachable, an object could not be
 * moved) is started again after REB_RETRY_MS, at most REB_MAX_ATTEMPTS times in a row, which
 * is what makes rebalance converge after crashes. A newer map simply starts a newer job: each
 * target aborts its older one. When a rebalance is done, decommissioned targets are told to
 * stop and removed from the map. The thread runs on every proxy and acts only while the proxy
 * is primary (the role moves with a failover: docs/design.md §4.4).
 */
#include "cluster/membership.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "proxy/internal.h"
#include "proxy/proxy.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REB_POLL_MS 300
#define REB_RETRY_MS 2000
#define REB_MAX_ATTEMPTS 20
#define REB_TERM_STRIDE 1000000LL

typedef enum { RMD_NONE, RMD_RUNNING, RMD_DONE, RMD_FAILED, RMD_ABORTED } rmd_state_t;
static const char *const state_names[] = {"none", "running", "done", "failed", "aborted"};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t thread;
    bool started, stopping;
    bool pending;   /* a map change asks for a new rebalance */
    bool skip_next; /* ...except the one a skip_rebalance action makes */
    int64_t version, smap_version, start_ns, end_ns, retry_at_ns;
    rmd_state_t state;
    int attempts;
    int missing_polls; /* polls in a row in which a target did not know the job */
    char err[512];
    json_t *decomm; /* node id -> {"rm_user_data": bool} */
    /* counters of the last poll, summed over the targets */
    int64_t objs, bytes, errors;
} rc = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

/* ---------------------------------------------------------------- RMD state file */

static char *rmd_path(void)
{
    return xasprintf("%s/rmd.json", cluster_config()->data_dir);
}

static json_t *rmd_json_locked(void)
{
    char id[32] = "";
    if (rc.version)
        snprintf(id, sizeof(id), "g%lld", (long long)rc.version);
    return json_pack("{s:I, s:s, s:I, s:s, s:I, s:I, s:I, s:I, s:I, s:s, s:O}", "version",
                     (json_int_t)rc.version, "id", id, "smap_version", (json_int_t)rc.smap_version,
                     "state", state_names[rc.state], "start_ns", (json_int_t)rc.start_ns, "end_ns",
                     (json_int_t)rc.end_ns, "objs", (json_int_t)rc.objs, "bytes",
                     (json_int_t)rc.bytes, "errors", (json_int_t)rc.errors, "err", rc.err,
                     "decommission", rc.decomm);
}

static void rmd_save_locked(void)
{
    json_t *j = rmd_json_locked();
    char *text = json_dumps(j, JSON_COMPACT);
    char *p = rmd_path();
    if (write_file_atomic(p, text, strlen(text)) < 0)
        LOCUS_LOG(LOG_WARNING, "[reb] cannot write %s", p);
    free(p);
    free(text);
    json_decref(j);
}

static void rmd_load(void)
{
    char *p = rmd_path();
    json_t *j = json_load_file(p, 0, NULL);
    free(p);
    json_decref(rc.decomm);
    rc.decomm = json_object();
    if (!json_is_object(j))
        return;
    rc.version = json_int64(json_object_get(j, "version"));
    rc.smap_version = json_int64(json_object_get(j, "smap_version"));
    const char *st = json_string_value(json_object_get(j, "state"));
    for (int i = 0; st && i < (int)(sizeof(state_names) / sizeof(*state_names)); i++)
        if (strcmp(st, state_names[i]) == 0)
            rc.state = (rmd_state_t)i;
    json_t *d = json_object_get(j, "decommission");
    if (json_is_object(d))
        json_object_update(rc.decomm, d);
    /* Interrupted by the primary's stop: start it again. */
    rc.pending = rc.state == RMD_RUNNING || rc.state == RMD_FAILED;
    json_decref(j);
}

/* ---------------------------------------------------------------- starting and polling */

/* Starts job g<version+1> on every target that is up. rc.lock held. */
static void start_locked(void)
{
    rc.pending = false;
    smap_t *s = smap_get();
    rc.version++;
    rc.smap_version = s->version;
    smap_put(s);
    rc.state = RMD_RUNNING;
    rc.start_ns = time_now_ns();
    rc.end_ns = rc.objs = rc.bytes = rc.errors = 0;
    rc.err[0] = '\0';
    rc.missing_polls = 0;
    rmd_save_locked();
    char id[32];
    snprintf(id, sizeof(id), "g%lld", (long long)rc.version);
    json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:{s:I}}", "id", id, "kind", "rebalance", "src",
                             "", "dst", "", "msg", "smap_version", (json_int_t)rc.smap_version);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    pthread_mutex_unlock(&rc.lock); /* the calls take a while; the state says running */
    proxy_bcast_t b = {.method = "POST",
                       .path = "/v1/xactions",
                       .body = text,
                       .timeout_ms = 10000,
                       .strict = true};
    int st = proxy_bcast(&b);
    pthread_mutex_lock(&rc.lock);
    free(text);
    LOCUS_LOG(LOG_NOTICE, "[reb] %s: rebalance for smap v%lld on %zu target(s)%s%s", id,
              (long long)rc.smap_version, b.n_targets, st ? ": " : "", st ? b.err : "");
    if (st && rc.state == RMD_RUNNING && rc.version == atoll(id + 1)) {
        rc.state = RMD_FAILED;
        snprintf(rc.err, sizeof(rc.err), "%.400s", b.err);
        rc.retry_at_ns = time_mono_ns() + REB_RETRY_MS * 1000000LL;
        rc.attempts++;
        rmd_save_locked();
    }
}

typedef struct {
    size_t ended;
    bool aborted_by_user, aborted;
    int64_t objs, bytes, errors;
    char err[256];
} poll_t;

static int merge_poll(proxy_bcast_t *b, const snode_t *t, json_t *snap)
{
    poll_t *p = b->arg;
    (void)t;
    p->ended += json_int64(json_object_get(snap, "end_ns")) != 0;
    p->aborted = p->aborted || json_is_true(json_object_get(snap, "aborted"));
    json_t *st = json_object_get(snap, "stats");
    p->objs += json_int64(json_object_get(st, "out-objs"));
    p->bytes += json_int64(json_object_get(st, "out-bytes"));
    p->errors += json_int64(json_object_get(st, "errors"));
    const char *e = json_string_value(json_object_get(snap, "err"));
    if (e && e[0] && p->err[0] == '\0')
        snprintf(p->err, sizeof(p->err), "target %s: %s", t->id, e);
    if (e && strstr(e, "aborted by user"))
        p->aborted_by_user = true;
    return 0;
}

static void finish_decommissions_locked(void);

/* After placement changed for good (a rebalance is done, a target that was down left the map):
 * every erasure-coded bucket's pieces follow the new map and the main replicas lost with a
 * target are rebuilt (design §15). Not with rc.lock held: it fans out. */
static void ec_restore_all(void)
{
    bmd_t *b = bmd_get();
    const char *name;
    json_t *v;
    json_t *names = json_array();
    json_object_foreach(b->items, name, v)
    {
        json_t *ec = json_object_get(json_object_get(v, "props"), "ec");
        if (json_is_true(json_object_get(ec, "enabled")))
            json_array_append_new(names, json_string(name));
    }
    bmd_put(b);
    size_t i;
    json_array_foreach(names, i, v)
    {
        char id[16], err[512];
        if (proxy_job_launch("ec-encode", json_string_value(v), NULL, NULL, id, sizeof(id), err,
                             sizeof(err)))
            LOCUS_LOG(LOG_WARNING, "[reb] ais://%s: cannot start its EC restore: %s",
                      json_string_value(v), err);
    }
    json_decref(names);
}

/* Polls the running job; rc.lock held. */
static void poll_locked(void)
{
    char path[64];
    snprintf(path, sizeof(path), "/v1/xactions?id=g%lld", (long long)rc.version);
    int64_t version = rc.version;
    poll_t p = {0};
    proxy_bcast_t b = {
        .method = "GET", .path = path, .timeout_ms = 5000, .merge = merge_poll, .arg = &p};
    pthread_mutex_unlock(&rc.lock);
    proxy_bcast(&b);
    pthread_mutex_lock(&rc.lock);
    if (rc.version != version || rc.state != RMD_RUNNING)
        return; /* a newer one started meanwhile */
    rc.objs = p.objs;
    rc.bytes = p.bytes;
    rc.errors = p.errors;
    if (b.n_ok < b.n_targets) { /* a target did not answer or lost the job (restart) */
        if (++rc.missing_polls > 20)
            rc.pending = true;
        return;
    }
    rc.missing_polls = 0;
    if (p.ended < b.n_ok)
        return;
    rc.end_ns = time_now_ns();
    if (p.aborted_by_user) {
        rc.state = RMD_ABORTED;
    } else if (p.aborted || p.errors) {
        rc.state = RMD_FAILED;
        rc.attempts++;
        rc.retry_at_ns = time_mono_ns() + REB_RETRY_MS * 1000000LL;
    } else {
        rc.state = RMD_DONE;
        rc.attempts = 0;
    }
    snprintf(rc.err, sizeof(rc.err), "%s", p.err);
    LOCUS_LOG(LOG_NOTICE, "[reb] g%lld %s: %lld objects (%lld bytes) moved, %lld errors%s%s",
              (long long)version, state_names[rc.state], (long long)rc.objs, (long long)rc.bytes,
              (long long)rc.errors, rc.err[0] ? ": " : "", rc.err);
    rmd_save_locked();
    if (rc.state == RMD_DONE) {
        finish_decommissions_locked();
        pthread_mutex_unlock(&rc.lock);
        ec_restore_all();
        pthread_mutex_lock(&rc.lock);
    }
}

/* After a complete rebalance: every decommissioned target has nothing left; tell it to stop
 * and remove it from the map. rc.lock held. */
static void finish_decommissions_locked(void)
{
    smap_t *s = smap_get();
    bool current = s->version == rc.smap_version;
    char *ids[s->n_targets + 1];
    char *urls[s->n_targets + 1];
    size_t n = 0;
    for (size_t i = 0; current && i < s->n_targets; i++)
        if (s->targets[i].flags & SNODE_DECOMM) {
            ids[n] = xstrdup(s->targets[i].id);
            urls[n++] = xstrdup(s->targets[i].url);
        }
    smap_put(s);
    for (size_t i = 0; i < n; i++) {
        bool wipe =
            json_is_true(json_object_get(json_object_get(rc.decomm, ids[i]), "rm_user_data"));
        json_t *msg = json_pack("{s:s, s:{s:b}}", "action", "decommission-node", "value",
                                "rm_user_data", wipe);
        char *url = xasprintf("%s/v1/daemon", urls[i]);
        httpc_resp_t r;
        httpc_resp_init(&r);
        int hr = httpc_json("PUT", url, msg, 5000, &r);
        if (hr < 0 || r.status != 200)
            LOCUS_LOG(LOG_WARNING, "[reb] decommissioned %s did not take the stop request: %s",
                      ids[i],
                      hr < 0        ? r.err
                      : r.body.base ? r.body.base
                                    : "refused");
        httpc_resp_dispose(&r);
        free(url);
        json_decref(msg);
        json_object_del(rc.decomm, ids[i]);
        pthread_mutex_unlock(&rc.lock); /* the removal changes the smap: its listener locks */
        membership_remove(ids[i]);
        pthread_mutex_lock(&rc.lock);
        LOCUS_LOG(LOG_NOTICE, "[reb] target %s decommissioned", ids[i]);
        free(ids[i]);
        free(urls[i]);
    }
    if (n)
        rmd_save_locked();
}

/* This proxy became primary: its own RMD (a primary that restarted during a rebalance starts it
 * again; on a takeover the file is the one of its own last term as primary, if any). After a
 * failover or a handover (takeover) the rebalance ids continue above REB_TERM_STRIDE x the smap
 * version, above any id an earlier primary gave: the targets take a start with a lower number than
 * their current job's for a late, stale one. */
static void activate_locked(bool takeover)
{
    if (!takeover)
        return; /* the primary it started as: proxy_reb_init loaded the RMD */
    bool pending = rc.pending;
    rmd_load();
    rc.pending = rc.pending || pending;
    smap_t *s = smap_get();
    int64_t floor = s->version * REB_TERM_STRIDE;
    smap_put(s);
    if (rc.version < floor)
        rc.version = floor;
    LOCUS_LOG(LOG_NOTICE, "[reb] %s coordinates rebalance now (next id g%lld)", cluster_self_name(),
              (long long)rc.version + 1);
}

static void *coord_main(void *arg)
{
    (void)arg;
    bool active = false, takeover = false;
    pthread_mutex_lock(&rc.lock);
    while (!rc.stopping) {
        struct timespec until = time_deadline_ms(REB_POLL_MS);
        if (!rc.pending || !active)
            pthread_cond_timedwait(&rc.cond, &rc.lock, &until);
        if (rc.stopping)
            break;
        if (!cluster_is_primary()) { /* the coordinator's duties are the primary's */
            active = false;
            takeover = true;
            continue;
        }
        if (!active) {
            activate_locked(takeover);
            active = true;
        }
        if (rc.pending)
            start_locked();
        else if (rc.state == RMD_RUNNING)
            poll_locked();
        else if (rc.state == RMD_FAILED && rc.attempts < REB_MAX_ATTEMPTS &&
                 time_mono_ns() >= rc.retry_at_ns)
            start_locked();
    }
    pthread_mutex_unlock(&rc.lock);
    httpc_thread_cleanup();
    return NULL;
}

/* ---------------------------------------------------------------- what needs a rebalance */

static bool placed(const snode_t *t)
{
    return (t->flags & SNODE_NO_PLACEMENT) == 0;
}

/* Whether the change from o to n moves placement in a way a rebalance can act on: a target
 * gains placement (joins, returns, leaves maintenance), or loses it while it is still there
 * to send its objects away (maintenance, decommission). A target going down moves nothing
 * that could be sent, and neither does a proxy. */
static bool moves_placement(const smap_t *o, const smap_t *n)
{
    for (size_t i = 0; i < n->n_targets; i++) {
        const snode_t *t = &n->targets[i];
        const snode_t *was = smap_find(o, t->id);
        bool before = was && !was->is_proxy && placed(was);
        if (placed(t) && !before)
            return true;
        if (!placed(t) && before && !(t->flags & SNODE_DOWN))
            return true;
    }
    return false;
}

static void on_smap_change(const smap_t *o, const smap_t *n)
{
    if (!cluster_is_primary() || !moves_placement(o, n))
        return;
    pthread_mutex_lock(&rc.lock);
    if (rc.skip_next)
        rc.skip_next = false;
    else
        rc.pending = true;
    pthread_cond_signal(&rc.cond);
    pthread_mutex_unlock(&rc.lock);
}

static void on_rejoin(const char *id)
{
    pthread_mutex_lock(&rc.lock);
    if (rc.state == RMD_RUNNING || rc.state == RMD_FAILED) {
        LOCUS_LOG(LOG_NOTICE, "[reb] target %s restarted during rebalance g%lld: starting over", id,
                  (long long)rc.version);
        rc.pending = true;
        pthread_cond_signal(&rc.cond);
    }
    pthread_mutex_unlock(&rc.lock);
}

/* ---------------------------------------------------------------- API */

void proxy_reb_init(void)
{
    cluster_on_smap_change(on_smap_change);
    membership_on_rejoin(on_rejoin);
    rc.decomm = json_object();
    if (cluster_is_primary())
        rmd_load(); /* now: the first status query may come before the thread runs */
    if (pthread_create(&rc.thread, NULL, coord_main, NULL) != 0)
        locus_panic("cannot start the rebalance coordinator");
    rc.started = true;
}

void proxy_reb_stop(void)
{
    pthread_mutex_lock(&rc.lock);
    rc.stopping = true;
    pthread_cond_signal(&rc.cond);
    pthread_mutex_unlock(&rc.lock);
    if (rc.started)
        pthread_join(rc.thread, NULL);
    rc.started = false;
    json_decref(rc.decomm);
    rc.decomm = NULL;
}

/* Starts the pending rebalance now, from the caller's thread, so that the caller can answer
 * its id; "" when none is pending. */
static void start_pending(char *id, size_t len)
{
    pthread_mutex_lock(&rc.lock);
    id[0] = '\0';
    if (rc.pending || rc.state == RMD_RUNNING) {
        if (rc.pending)
            start_locked();
        snprintf(id, len, "g%lld", (long long)rc.version);
    }
    pthread_mutex_unlock(&rc.lock);
}

void proxy_reb_status(http_req_t *req)
{
    pthread_mutex_lock(&rc.lock);
    json_t *j = rmd_json_locked();
    pthread_mutex_unlock(&rc.lock);
    json_object_del(j, "decommission");
    http_reply_json(req, 200, j);
}

/* ---------------------------------------------------------------- membership actions */

/* Tells node url to stop (PUT /v1/daemon shutdown-node). 0 or -1 with err. */
static int tell_stop(const char *url, char *err, size_t errlen)
{
    json_t *msg = json_pack("{s:s}", "action", "shutdown-node");
    char *u = xasprintf("%s/v1/daemon", url);
    httpc_resp_t r;
    httpc_resp_init(&r);
    int hr = httpc_json("PUT", u, msg, 5000, &r);
    int out = hr == 0 && r.status == 200 ? 0 : -1;
    if (out)
        snprintf(err, errlen, "%s", hr < 0 ? r.err : r.body.base ? r.body.base : "refused");
    httpc_resp_dispose(&r);
    free(u);
    json_decref(msg);
    return out;
}

/* The node of an ActValRmNode ({"sid": ...}); NULL when answered (400/404). Caller frees. */
static char *action_node(http_req_t *req, json_t *v, const char *action, bool *is_proxy)
{
    json_t *sid = json_get_ci(v, "sid");
    json_t *sids = json_get_ci(v, "sids");
    if (!json_is_string(sid) && json_is_array(sids) && json_array_size(sids) == 1)
        sid = json_array_get(sids, 0);
    if (!json_is_string(sid) || json_string_value(sid)[0] == '\0') {
        http_reply_error(req, 400, "%s: value needs the node id (\"sid\")", action);
        return NULL;
    }
    smap_t *s = smap_get();
    const snode_t *n = smap_find(s, json_string_value(sid));
    char *id = n ? xstrdup(n->id) : NULL;
    *is_proxy = n && n->is_proxy;
    bool self = n && strcmp(n->id, cluster_self_id()) == 0;
    smap_put(s);
    if (id == NULL) {
        http_reply_error(req, 404, "%s: node \"%s\" is not in the cluster map", action,
                         json_string_value(sid));
    } else if (self) {
        http_reply_error(req, 400, "%s: %s is the primary proxy", action, id);
        free(id);
        id = NULL;
    }
    return id;
}

static bool node_down(const char *id)
{
    smap_t *s = smap_get();
    const snode_t *n = smap_find(s, id);
    bool down = n && (n->flags & SNODE_DOWN);
    smap_put(s);
    return down;
}

/* start-maintenance, stop-maintenance, decommission-node, shutdown-node with an ActValRmNode;
 * answers the rebalance job id ("" when none). Primary only. */
static void membership_action(http_req_t *req, const char *action, json_t *v)
{
    bool is_proxy = false;
    char *id = action_node(req, v, action, &is_proxy);
    if (id == NULL)
        return;
    bool skip = json_is_true(json_get_ci(v, "skip_rebalance"));
    char err[512] = "";
    int st = 0;
    pthread_mutex_lock(&rc.lock);
    rc.skip_next = skip;
    pthread_mutex_unlock(&rc.lock);
    if (strcmp(action, "shutdown-node") == 0) {
        smap_t *s = smap_get();
        const snode_t *n = smap_find(s, id);
        char *url = n ? xstrdup(n->url) : NULL;
        smap_put(s);
        if (url && tell_stop(url, err, sizeof(err)) < 0)
            st = 503;
        free(url);
    } else if (is_proxy && strcmp(action, "decommission-node") == 0) {
        smap_t *s = smap_get();
        const snode_t *n = smap_find(s, id);
        char *url = n ? xstrdup(n->url) : NULL;
        smap_put(s);
        if (url)
            tell_stop(url, err, sizeof(err)); /* it may be gone already */
        membership_remove(id);
        free(url);
    } else if (is_proxy) {
        st = 400;
        snprintf(err, sizeof(err), "%s: %s is a proxy (maintenance is for targets)", action, id);
    } else if (strcmp(action, "decommission-node") == 0 && node_down(id)) {
        /* nothing can move off a target that is down, and placement already skips it: it
         * leaves the map now (its data is lost unless redundancy elsewhere has it) */
        membership_remove(id);
        ec_restore_all();
        skip = true;
    } else if (strcmp(action, "decommission-node") == 0) {
        pthread_mutex_lock(&rc.lock);
        json_object_set_new(
            rc.decomm, id,
            json_pack("{s:b}", "rm_user_data", json_is_true(json_get_ci(v, "rm_user_data"))));
        rmd_save_locked();
        pthread_mutex_unlock(&rc.lock);
        membership_set_flags(id, SNODE_DECOMM, 0);
    } else {
        bool start = strcmp(action, "start-maintenance") == 0;
        membership_set_flags(id, start ? SNODE_MAINT : 0,
                             start ? 0 : SNODE_MAINT | SNODE_MAINT_POSTREB);
    }
    pthread_mutex_lock(&rc.lock);
    rc.skip_next = false;
    pthread_mutex_unlock(&rc.lock);
    if (st) {
        http_reply_error(req, (unsigned)st, "%s", err);
    } else {
        char xid[32] = "";
        if (!skip && strcmp(action, "shutdown-node") != 0)
            start_pending(xid, sizeof(xid));
        LOCUS_LOG(LOG_NOTICE, "[cluster] %s %s%s%s", action, id, xid[0] ? ": rebalance " : "", xid);
        http_reply_text(req, 200, xid);
    }
    free(id);
}

bool proxy_cluster_action(http_req_t *req, const char *action, json_t *value)
{
    static const char *const acts[] = {"start-maintenance", "stop-maintenance", "decommission-node",
                                       "shutdown-node", "rebalance"};
    size_t k = 0;
    while (k < sizeof(acts) / sizeof(*acts) && strcmp(acts[k], action) != 0)
        k++;
    if (k == sizeof(acts) / sizeof(*acts))
        return false;
    if (!cluster_is_primary()) {
        proxy_forward_to_primary(req);
    } else if (strcmp(action, "rebalance") == 0) {
        pthread_mutex_lock(&rc.lock);
        rc.pending = true;
        pthread_mutex_unlock(&rc.lock);
        char xid[32];
        start_pending(xid, sizeof(xid));
        http_reply_text(req, 200, xid);
    } else {
        membership_action(req, action, value);
    }
    return true;
}
