/*
 * metasync.c - pushing the metadata to every node and applying what a node receives. See
 * metasync.h.
 */
#include "cluster/metasync.h"
#include "cluster/cluster.h"
#include "cluster/internal.h"
#include "common/log.h"
#include "common/util.h"
#include "net/fanout.h"
#include "net/net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Pushes the current smap, BMD and EtlMD to every other node, in parallel, and waits: a change
 * is known to every reachable node when the request that made it returns. Transport failures
 * are retried; a node that answers with an error keeps its old version until the next push. */
void metasync_all(void)
{
    char *body = meta_all_text();
    smap_t *s = smap_get();
    size_t n = s->n_proxies + s->n_targets;
    fanout_req_t *rq = xcalloc(n + 1, sizeof(fanout_req_t));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const snode_t *nd = i < s->n_proxies ? &s->proxies[i] : &s->targets[i - s->n_proxies];
        if (strcmp(nd->id, cluster_self_id()) == 0 || (nd->flags & SNODE_DOWN))
            continue; /* a DOWN node gets the metadata with its join */
        rq[k].method = "POST";
        rq[k].url = xasprintf("%s/v1/metasync", nd->url);
        rq[k].body = body;
        rq[k].body_len = strlen(body);
        rq[k].content_type = "application/json";
        k++;
    }
    smap_put(s);
    fanout_run(rq, k, &(fanout_opts_t){.timeout_ms = 3000, .attempts = 3, .retry_delay_ms = 100});
    for (size_t i = 0; i < k; i++)
        if (rq[i].rc < 0 || rq[i].resp.status != 200)
            LOCUS_LOG(LOG_VERBOSE, "[metasync] %s: %s", rq[i].url,
                      rq[i].resp.err         ? rq[i].resp.err
                      : rq[i].resp.body.base ? rq[i].resp.body.base
                                             : "error");
    fanout_free(rq, k);
    free(body);
}

/* Installs smap s (takes it) when newer, or foreign and foreign ones are allowed. */
static void apply_smap(smap_t *s, bool foreign_ok)
{
    if (s == NULL)
        return;
    smap_t *cur = smap_get();
    meta_order_t o = meta_order(cur->version, cur->uuid, s->version, s->uuid);
    smap_put(cur);
    if (meta_order_installs(o) && (foreign_ok || o != META_FOREIGN)) {
        LOCUS_LOG(LOG_VERBOSE, "[metasync] smap v%lld", (long long)s->version);
        meta_install_smap(s);
    } else {
        smap_put(s);
    }
}

static void apply_md(md_kind_t kind, json_t *dj, bool foreign_ok)
{
    mdoc_t *d = json_is_object(dj) ? md_from_json(kind, dj) : NULL;
    if (d == NULL)
        return;
    mdoc_t *cur = md_get(kind);
    meta_order_t o = meta_order(cur->version, cur->uuid, d->version, d->uuid);
    md_put(cur);
    if (meta_order_installs(o) && (foreign_ok || o != META_FOREIGN)) {
        LOCUS_LOG(LOG_VERBOSE, "[metasync] %s v%lld", md_kind_name(kind), (long long)d->version);
        meta_install_md(d);
    } else {
        md_put(d);
    }
}

static smap_t *smap_of(json_t *j)
{
    json_t *sj = json_object_get(j, "smap");
    return json_is_object(sj) ? smap_from_json(sj) : NULL;
}

void metasync_apply(json_t *j)
{
    meta_write_lock();
    apply_smap(smap_of(j), true);
    for (int k = 0; k < MD_N; k++)
        apply_md((md_kind_t)k, json_object_get(j, md_kind_name((md_kind_t)k)), true);
    meta_write_unlock();
}

/* Why a push from sender with smap s (may be NULL) and documents j is refused, given this
 * node's smap cur: 0, or the status with err. */
/* A new primary's first push (docs/design.md §4.4): a newer map of this cluster that names the
 * sender primary, from a proxy of the current map that may be elected. */
static bool new_primary_push(const smap_t *cur, const smap_t *s, const char *sender)
{
    const snode_t *was = smap_find(cur, sender);
    const snode_t *now = s ? smap_find(s, sender) : NULL;
    return now && now->is_proxy && was && was->is_proxy &&
           !(was->flags & (SNODE_MAINT | SNODE_DECOMM)) && s->version > cur->version &&
           strcmp(s->uuid, cur->uuid) == 0 && strcmp(s->primary_id, sender) == 0;
}

/* The primary's handover push: a newer map of this cluster naming another of its proxies. */
static bool handover_push(const smap_t *cur, const smap_t *s)
{
    const snode_t *to = s ? smap_find(s, s->primary_id) : NULL;
    return to && to->is_proxy && s->version > cur->version && strcmp(s->uuid, cur->uuid) == 0;
}

static int push_refused(const smap_t *cur, const smap_t *s, json_t *j, const char *sender,
                        char *err, size_t errlen)
{
    bool fresh = cur->version == 0; /* never joined: learns its cluster from the push */
    const char *primary = fresh ? (s ? s->primary_id : "") : cur->primary_id;
    bool named = sender && sender[0] && primary && strcmp(sender, primary) == 0;
    if (!named && !(sender && !fresh && new_primary_push(cur, s, sender))) {
        snprintf(err, errlen, "%s: metasync from %s refused: only the primary (%s) pushes metadata",
                 cluster_self_name(), sender && sender[0] ? sender : "an unknown sender",
                 primary && primary[0] ? primary : "unknown");
        return 403;
    }
    if (!named)
        LOCUS_LOG(LOG_NOTICE, "%s: %s is the new primary (smap v%lld)", cluster_self_name(), sender,
                  (long long)s->version);
    if (s && s->primary_id && strcmp(s->primary_id, sender) != 0 &&
        (fresh || !handover_push(cur, s))) {
        snprintf(err, errlen, "%s: metasync from %s refused: its cluster map names %s primary",
                 cluster_self_name(), sender, s->primary_id);
        return 403;
    }
    if (s && s->primary_id && strcmp(s->primary_id, sender) != 0)
        LOCUS_LOG(LOG_NOTICE, "%s: primary %s hands its role to %s (smap v%lld)",
                  cluster_self_name(), sender, s->primary_id, (long long)s->version);
    if (fresh)
        return 0;
    const char *other = s && strcmp(s->uuid, cur->uuid) != 0 ? s->uuid : NULL;
    for (int k = 0; k < MD_N && other == NULL; k++) {
        const char *u = json_string_value(
            json_object_get(json_object_get(j, md_kind_name((md_kind_t)k)), "uuid"));
        mdoc_t *d = md_get((md_kind_t)k);
        if (u && strcmp(u, d->uuid) != 0)
            other = u;
        md_put(d);
    }
    if (other) {
        snprintf(err, errlen, "%s: metasync of another cluster (uuid %s; this cluster: %s) refused",
                 cluster_self_name(), other, cur->uuid);
        return 409;
    }
    return 0;
}

int metasync_receive(json_t *j, const char *sender, char *err, size_t errlen)
{
    smap_t *s = smap_of(j);
    meta_write_lock();
    smap_t *cur = smap_get();
    bool fresh = cur->version == 0;
    int rc = push_refused(cur, s, j, sender, err, errlen);
    smap_put(cur);
    if (rc) {
        meta_write_unlock();
        if (s)
            smap_put(s);
        LOCUS_LOG(LOG_WARNING, "%s", err);
        return rc;
    }
    apply_smap(s, fresh);
    for (int k = 0; k < MD_N; k++)
        apply_md((md_kind_t)k, json_object_get(j, md_kind_name((md_kind_t)k)), fresh);
    meta_write_unlock();
    return 0;
}

int cluster_md_modify(md_kind_t kind, md_modify_cb fn, void *arg, char *err, size_t errlen)
{
    meta_write_lock();
    if (!cluster_is_primary()) { /* the role moved between the caller's check and now */
        meta_write_unlock();
        snprintf(err, errlen, "%s is no longer the primary proxy (now %s): try again",
                 cluster_self_name(), cluster_primary_url());
        return 503;
    }
    mdoc_t *cur = md_get(kind);
    json_t *copy = json_deep_copy(cur->items);
    int rc = fn(copy, arg, err, errlen);
    if (rc != 0) {
        json_decref(copy);
        md_put(cur);
        meta_write_unlock();
        return rc;
    }
    mdoc_t *d = md_new(kind, cur->uuid);
    json_decref(d->items);
    d->items = copy;
    d->version = cur->version + 1;
    md_put(cur);
    meta_install_md(d);
    metasync_all();
    meta_write_unlock();
    return 0;
}
