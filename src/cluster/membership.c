/*
 * membership.c - join, keepalive and the primary's dead-node check. See membership.h.
 */
#include "cluster/membership.h"
#include "cluster/cluster.h"
#include "cluster/internal.h"
#include "cluster/metasync.h"
#include "cluster/vote.h"
#include "common/hrw.h"
#include "common/log.h"
#include "common/names.h"
#include "common/util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* When each node was last heard from (primary only). */
typedef struct {
    char *id;
    int64_t last_seen; /* monotonic ns */
} seen_t;
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static seen_t *last_seen;
static size_t n_last_seen;

static volatile bool stopping;
static volatile bool leaving; /* told to leave the cluster: no more joins or keepalives */
static void (*rejoin_cb)(const char *id);
static pthread_t bg_thread;
static bool bg_started;

/* ---------------------------------------------------------------- primary: the smap */

void seen_touch(const char *id)
{
    pthread_mutex_lock(&seen_lock);
    for (size_t i = 0; i < n_last_seen; i++) {
        if (strcmp(last_seen[i].id, id) == 0) {
            last_seen[i].last_seen = time_mono_ns();
            pthread_mutex_unlock(&seen_lock);
            return;
        }
    }
    last_seen = xrealloc(last_seen, (n_last_seen + 1) * sizeof(seen_t));
    last_seen[n_last_seen].id = xstrdup(id);
    last_seen[n_last_seen].last_seen = time_mono_ns();
    n_last_seen++;
    pthread_mutex_unlock(&seen_lock);
}

/* Forgets when nodes were heard from: a new primary gives every node a grace period. */
static void seen_reset(void)
{
    pthread_mutex_lock(&seen_lock);
    for (size_t i = 0; i < n_last_seen; i++)
        free(last_seen[i].id);
    free(last_seen);
    last_seen = NULL;
    n_last_seen = 0;
    pthread_mutex_unlock(&seen_lock);
}

static int64_t seen_get(const char *id)
{
    int64_t v = 0;
    pthread_mutex_lock(&seen_lock);
    for (size_t i = 0; i < n_last_seen; i++)
        if (strcmp(last_seen[i].id, id) == 0)
            v = last_seen[i].last_seen;
    pthread_mutex_unlock(&seen_lock);
    return v;
}

bool smap_upsert(const char *id, const char *url, bool is_proxy)
{
    smap_t *cur = smap_get();
    const snode_t *have = smap_find(cur, id);
    if (have && strcmp(have->url, url) == 0 && have->is_proxy == is_proxy &&
        !(have->flags & SNODE_DOWN)) {
        smap_put(cur);
        return false;
    }
    smap_t *s = smap_clone(cur);
    smap_put(cur);
    snode_t **arr = is_proxy ? &s->proxies : &s->targets;
    size_t *n = is_proxy ? &s->n_proxies : &s->n_targets;
    bool found = false;
    for (size_t i = 0; i < *n; i++) {
        if (strcmp((*arr)[i].id, id) == 0) {
            free((*arr)[i].url);
            (*arr)[i].url = xstrdup(url);
            (*arr)[i].flags &= ~SNODE_DOWN; /* back: maintenance and decommission stay */
            found = true;
        }
    }
    if (!found) {
        *arr = xrealloc(*arr, (*n + 1) * sizeof(snode_t));
        (*arr)[*n].id = xstrdup(id);
        (*arr)[*n].url = xstrdup(url);
        (*arr)[*n].digest = hrw_digest_str(id);
        (*arr)[*n].is_proxy = is_proxy;
        (*arr)[*n].flags = 0;
        (*n)++;
    }
    smap_sort(s);
    s->version++;
    meta_install_smap(s);
    return true;
}

bool smap_set_flags(const char *id, uint32_t set, uint32_t clear)
{
    smap_t *cur = smap_get();
    const snode_t *have = smap_find(cur, id);
    if (have == NULL || ((have->flags | set) & ~clear) == have->flags) {
        smap_put(cur);
        return false;
    }
    smap_t *s = smap_clone(cur);
    smap_put(cur);
    snode_t *n = (snode_t *)smap_find(s, id);
    n->flags = (n->flags | set) & ~clear;
    s->version++;
    meta_install_smap(s);
    return true;
}

void smap_remove_nodes(char **ids, size_t nids)
{
    smap_t *cur = smap_get();
    smap_t *s = smap_clone(cur);
    smap_put(cur);
    for (size_t k = 0; k < nids; k++) {
        for (int pass = 0; pass < 2; pass++) {
            snode_t *arr = pass ? s->proxies : s->targets;
            size_t *n = pass ? &s->n_proxies : &s->n_targets;
            for (size_t i = 0; i < *n; i++) {
                if (strcmp(arr[i].id, ids[k]) == 0) {
                    snode_dispose(&arr[i]);
                    memmove(&arr[i], &arr[i + 1], (*n - i - 1) * sizeof(snode_t));
                    (*n)--;
                    break;
                }
            }
        }
    }
    s->version++;
    meta_install_smap(s);
}

/* Nodes that stopped or went silent: a proxy leaves the map; a target stays in it, flagged
 * DOWN, so that placement skips it while GETs of the objects it may hold answer 503 rather
 * than 404 (docs/design.md §4). Caller holds the write lock; does not push. */
static void node_gone(char **ids, size_t n)
{
    smap_t *s = smap_get();
    char *proxies[n + 1];
    size_t np = 0;
    for (size_t i = 0; i < n; i++) {
        const snode_t *nd = smap_find(s, ids[i]);
        if (nd && nd->is_proxy)
            proxies[np++] = ids[i];
    }
    smap_put(s);
    if (np)
        smap_remove_nodes(proxies, np);
    for (size_t i = 0; i < n; i++)
        if (smap_set_flags(ids[i], SNODE_DOWN, 0))
            LOCUS_LOG(LOG_WARNING,
                      "[cluster] target %s is down: its objects are unavailable "
                      "until it returns or is removed",
                      ids[i]);
}

void check_dead_nodes(void)
{
    smap_t *s = smap_get();
    int64_t now = time_mono_ns();
    int64_t timeout = cluster_config()->keepalive_timeout_ns;
    char *dead[s->n_proxies + s->n_targets + 1];
    size_t nd = 0;
    for (size_t i = 0; i < s->n_proxies + s->n_targets; i++) {
        const snode_t *n = i < s->n_proxies ? &s->proxies[i] : &s->targets[i - s->n_proxies];
        if (strcmp(n->id, cluster_self_id()) == 0)
            continue;
        if (n->flags & SNODE_DOWN)
            continue; /* known to be down: waits for its join */
        int64_t seen = seen_get(n->id);
        if (seen == 0) {
            seen_touch(n->id); /* grace period after a primary restart */
            continue;
        }
        if (now - seen > timeout)
            dead[nd++] = xstrdup(n->id);
    }
    smap_put(s);
    if (nd == 0)
        return;
    /* Silent nodes: perhaps this primary was cut off (paused) and another one was elected. */
    if (vote_discover(false) && !cluster_is_primary()) {
        for (size_t i = 0; i < nd; i++)
            free(dead[i]);
        return;
    }
    meta_write_lock();
    for (size_t i = 0; i < nd && cluster_is_primary(); i++)
        LOCUS_LOG(LOG_WARNING, "[cluster] node %s missed keepalives for %lld ms", dead[i],
                  (long long)(timeout / 1000000));
    if (cluster_is_primary()) { /* not handed over meanwhile */
        node_gone(dead, nd);
        metasync_all();
    }
    meta_write_unlock();
    for (size_t i = 0; i < nd; i++)
        free(dead[i]);
}

/* ---------------------------------------------------------------- primary: endpoints */

static void meta_reply(http_req_t *req)
{
    char *body = meta_all_text();
    http_reply(req, 200, "application/json", body, strlen(body));
    free(body);
}

void membership_handle_join(http_req_t *req)
{
    json_t *j = http_body_json(req);
    if (j == NULL)
        return;
    const char *id = json_string_value(json_object_get(j, "daemon_id"));
    const char *type = json_string_value(json_object_get(j, "daemon_type"));
    const char *url = json_string_value(json_object_get(j, "direct_url"));
    if (!id || !type || !url || (strcmp(type, "proxy") && strcmp(type, "target")) ||
        name_check_bucket(id) != NULL) {
        json_decref(j);
        http_reply_error(req, 400, "invalid join request: need daemon_id, daemon_type, direct_url");
        return;
    }
    meta_write_lock();
    if (!cluster_is_primary()) { /* the role moved meanwhile */
        meta_write_unlock();
        json_decref(j);
        http_reply_error(req, 503, "%s is no longer the primary proxy", cluster_self_name());
        return;
    }
    seen_touch(id);
    bool changed = smap_upsert(id, url, strcmp(type, "proxy") == 0);
    if (changed) {
        LOCUS_LOG(LOG_NOTICE, "[cluster] %s %s joined at %s", type, id, url);
        metasync_all();
    }
    meta_write_unlock();
    if (!changed && strcmp(type, "target") == 0 && rejoin_cb)
        rejoin_cb(id); /* a restart the map does not show: placement work may be unfinished */
    json_decref(j);
    meta_reply(req);
}

void membership_on_rejoin(void (*cb)(const char *id))
{
    rejoin_cb = cb;
}

void membership_handle_leave(http_req_t *req, const char *caller)
{
    json_t *j = http_body_json(req);
    if (j == NULL)
        return;
    const char *id = json_string_value(json_object_get(j, "daemon_id"));
    if (id == NULL || caller == NULL || strcmp(id, caller) != 0) {
        http_reply_error(req, 400, "invalid leave request: daemon_id must be the caller's id");
    } else {
        meta_write_lock();
        smap_t *s = smap_get();
        bool known = smap_find(s, id) != NULL;
        smap_put(s);
        if (known) {
            LOCUS_LOG(LOG_NOTICE, "[cluster] node %s is stopping", id);
            char *ids[1] = {(char *)id};
            node_gone(ids, 1);
            metasync_all();
        }
        meta_write_unlock();
        http_reply(req, 200, NULL, "", 0);
    }
    json_decref(j);
}

int membership_set_flags(const char *id, uint32_t set, uint32_t clear)
{
    meta_write_lock();
    smap_t *s = smap_get();
    bool known = smap_find(s, id) != NULL;
    smap_put(s);
    bool changed = known && smap_set_flags(id, set, clear);
    if (changed)
        metasync_all();
    meta_write_unlock();
    return known ? 0 : -1;
}

int membership_remove(const char *id)
{
    meta_write_lock();
    smap_t *s = smap_get();
    bool known = smap_find(s, id) != NULL;
    smap_put(s);
    if (known) {
        char *ids[1] = {(char *)id};
        smap_remove_nodes(ids, 1);
        metasync_all();
        LOCUS_LOG(LOG_NOTICE, "[cluster] node %s removed from the cluster map", id);
    }
    meta_write_unlock();
    return known ? 0 : -1;
}

/* "bmd_version", "etlmd_version": the keys of the document versions in a keepalive. */
static void md_version_key(md_kind_t kind, char *key, size_t len)
{
    snprintf(key, len, "%s_version", md_kind_name(kind));
}

void membership_handle_keepalive(http_req_t *req)
{
    json_t *j = http_body_json(req);
    if (j == NULL)
        return;
    const char *id = json_string_value(json_object_get(j, "daemon_id"));
    int64_t sv = json_int64(json_object_get(j, "smap_version"));
    smap_t *s = smap_get();
    const snode_t *nd = id ? smap_find(s, id) : NULL;
    bool known = nd != NULL && !(nd->flags & SNODE_DOWN); /* a DOWN node joins again */
    bool behind = s->version != sv;
    smap_put(s);
    for (int k = 0; k < MD_N; k++) {
        char key[32];
        md_version_key((md_kind_t)k, key, sizeof(key));
        mdoc_t *d = md_get((md_kind_t)k);
        behind = behind || d->version != json_int64(json_object_get(j, key));
        md_put(d);
    }
    if (!known) {
        http_reply_error(req, 404, "node %s is not in the cluster map: join again",
                         id ? id : "(none)");
    } else {
        seen_touch(id);
        if (behind)
            meta_reply(req);
        else
            http_reply(req, 200, "application/json", "{}", 2);
    }
    json_decref(j);
}

/* ---------------------------------------------------------------- non-primary */

/* POSTs j to the primary's /v1/cluster/<what>; the transport's rc, r filled. */
static int post_primary(const char *what, json_t *j, int timeout_ms, httpc_resp_t *r)
{
    char *url = xasprintf("%s/v1/cluster/%s", cluster_primary_url(), what);
    httpc_resp_init(r);
    int rc = httpc_json("POST", url, j, timeout_ms, r);
    free(url);
    return rc;
}

/* Applies the metadata in an answer of the primary; -1 when it is not JSON. */
static int apply_answer(const httpc_resp_t *r)
{
    /* id_digest is a uint64 that jansson cannot hold as an integer. */
    json_t *m = json_loadb(r->body.base, r->body.len, JSON_DECODE_INT_AS_REAL, NULL);
    if (m == NULL)
        return -1;
    metasync_apply(m);
    json_decref(m);
    return 0;
}

int join_once(void)
{
    const config_t *cfg = cluster_config();
    json_t *j =
        json_pack("{s:s, s:s, s:s}", "daemon_id", cluster_self_id(), "daemon_type",
                  cfg->role == ROLE_PROXY ? "proxy" : "target", "direct_url", cfg->public_url);
    httpc_resp_t r;
    int rc = post_primary("join", j, 5000, &r);
    json_decref(j);
    if (rc == 0 && r.status == 200)
        rc = apply_answer(&r);
    else
        rc = -1;
    httpc_resp_dispose(&r);
    return rc;
}

int keepalive_once(void)
{
    smap_t *s = smap_get();
    json_t *j = json_pack("{s:s, s:I}", "daemon_id", cluster_self_id(), "smap_version",
                          (json_int_t)s->version);
    smap_put(s);
    for (int k = 0; k < MD_N; k++) {
        char key[32];
        md_version_key((md_kind_t)k, key, sizeof(key));
        mdoc_t *d = md_get((md_kind_t)k);
        json_object_set_new(j, key, json_integer(d->version));
        md_put(d);
    }
    httpc_resp_t r;
    /* Half the silence after which the primary drops a node, 0.5..3 s: a primary that hangs
     * rather than dies counts as unreachable about as soon as one that refuses connections. */
    int64_t tmo = cluster_config()->keepalive_timeout_ns / 2000000;
    int rc = post_primary("keepalive", j, (int)(tmo < 500 ? 500 : tmo > 3000 ? 3000 : tmo), &r);
    json_decref(j);
    int out = 0;
    if (rc != 0)
        out = -1; /* primary unreachable: keep trying */
    else if (r.status == 404)
        out = 1; /* dropped: rejoin */
    else if (r.status == 200 && r.body.len > 2)
        apply_answer(&r);
    else if (r.status != 200)
        out = -1; /* e.g. no longer the primary: as good as unreachable */
    httpc_resp_dispose(&r);
    return out;
}

/* ---------------------------------------------------------------- the thread */

/* The membership thread's state while this node is not the primary. */
typedef struct {
    bool joined;
    int failures; /* keepalives (or joins) in a row the primary did not answer */
} member_t;

/* The primary's keepalives failed VOTE_FAILED_KEEPALIVES times in a row: a newer map (another
 * primary) from the other nodes, else an election when this proxy is the candidate. */
static void primary_lost(member_t *m)
{
    if (m->failures == VOTE_FAILED_KEEPALIVES)
        LOCUS_LOG(LOG_WARNING, "%s: primary %s unreachable for %d keepalives", cluster_self_name(),
                  cluster_primary_url(), m->failures);
    char *was = xstrdup(cluster_primary_url());
    bool moved = vote_discover(true) && strcmp(was, cluster_primary_url()) != 0;
    free(was);
    if (moved) { /* another primary: keep alive to it */
        m->failures = 0;
        return;
    }
    if (cluster_role() == ROLE_PROXY && m->joined && vote_maybe_elect())
        m->failures = 0;
}

static void member_step(member_t *m, int64_t interval_ms)
{
    if (!m->joined) {
        if (join_once() == 0) {
            m->joined = true;
            m->failures = 0;
            if (!cluster_ready())
                LOCUS_LOG(LOG_NOTICE, "%s: joined %s, ready at %s", cluster_self_name(),
                          cluster_primary_url(), cluster_self_url());
            cluster_mark_ready();
        } else {
            /* The primary may have changed, or primary_url names another proxy: ask for the
             * current map after the first failure, then every 3 s. */
            if (++m->failures % (VOTE_FAILED_KEEPALIVES * 5) == 1)
                vote_discover(false);
            sleep_ms(200);
        }
        return;
    }
    sleep_ms((int)interval_ms);
    if (stopping || cluster_is_primary())
        return;
    int rc = keepalive_once();
    if (rc == 1) {
        LOCUS_LOG(LOG_WARNING, "%s: primary does not know me: joining again", cluster_self_name());
        m->joined = false;
    } else if (rc == 0) {
        m->failures = 0;
    } else if (++m->failures >= VOTE_FAILED_KEEPALIVES) {
        primary_lost(m);
    }
}

/* The node's role follows the smap: a proxy that becomes primary (elected, or handed the role)
 * starts checking for dead nodes; a primary that is no longer one keeps alive to the new one. */
static void *bg_main(void *arg)
{
    (void)arg;
    int64_t interval_ms = cluster_config()->keepalive_interval_ns / 1000000;
    if (interval_ms < 50)
        interval_ms = 50;
    bool was_primary = false;
    member_t m = {0};
    while (!stopping) {
        if (cluster_is_primary()) {
            if (!was_primary) {
                seen_reset(); /* every node gets a grace period */
                LOCUS_LOG(LOG_NOTICE, "%s: primary proxy%s ready at %s", cluster_self_name(),
                          cluster_ready() ? " (taking over)" : "", cluster_self_url());
                cluster_mark_ready();
                was_primary = true;
            }
            sleep_ms((int)(interval_ms / 2 > 0 ? interval_ms / 2 : 1));
            if (!stopping)
                check_dead_nodes();
            continue;
        }
        if (was_primary) {
            LOCUS_LOG(LOG_NOTICE, "%s: no longer the primary (now %s)", cluster_self_name(),
                      cluster_primary_url());
            was_primary = false;
            m = (member_t){.joined = true}; /* the new primary's map holds me, or says 404 */
        }
        if (leaving) {
            sleep_ms(100);
            continue;
        }
        member_step(&m, interval_ms);
    }
    httpc_thread_cleanup();
    return NULL;
}

void membership_start(void)
{
    if (pthread_create(&bg_thread, NULL, bg_main, NULL) != 0)
        locus_panic("cannot start the cluster thread");
    bg_started = true;
}

void membership_leave(void)
{
    leaving = true;
}

/* Tells the primary this node is stopping, so that the map changes now rather than after
 * keepalive_timeout (a target becomes DOWN, a proxy leaves the map). */
static void say_goodbye(void)
{
    if (cluster_is_primary() || !cluster_ready())
        return;
    json_t *j = json_pack("{s:s}", "daemon_id", cluster_self_id());
    httpc_resp_t r;
    int rc = post_primary("leave", j, 2000, &r);
    json_decref(j);
    if (rc != 0 || r.status != 200)
        LOCUS_LOG(LOG_WARNING, "%s: could not tell the primary that I am stopping: %s",
                  cluster_self_name(), rc ? (r.err ? r.err : "unreachable") : "refused");
    httpc_resp_dispose(&r);
}

void membership_stop(void)
{
    leaving = true;
    say_goodbye();
    stopping = true;
    if (bg_started)
        pthread_join(bg_thread, NULL);
    bg_started = false;
}
