/*
 * metasync.c - pushing the metadata to every node and applying what a node receives. See
 * metasync.h.
 */
#include "cluster/metasync.h"
#include "cluster/cluster.h"
#include "cluster/internal.h"
#include "common/log.h"
#include "common/util.h"
#include "net/net.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *url;
    const char *body;
} push_t;

static void *push_one(void *arg)
{
    push_t *p = arg;
    static const httpc_header_t hdrs[] = {{"Content-Type", "application/json"}, {NULL, NULL}};
    for (int attempt = 0; attempt < 3; attempt++) {
        httpc_resp_t r;
        httpc_resp_init(&r);
        int rc = httpc_do("POST", p->url, p->body, strlen(p->body), hdrs, 3000, &r);
        bool ok = rc == 0 && r.status == 200;
        if (!ok)
            LOCUS_LOG(LOG_VERBOSE, "[metasync] %s: %s", p->url,
                      r.err         ? r.err
                      : r.body.base ? r.body.base
                                    : "error");
        httpc_resp_dispose(&r);
        if (ok || rc == 0)
            break;
        sleep_ms(100);
    }
    httpc_thread_cleanup();
    return NULL;
}

/* POSTs body to each URL, one thread each, and waits for all. */
static void push_parallel(char **urls, size_t n, const char *body)
{
    push_t *pushes = xcalloc(n + 1, sizeof(push_t));
    pthread_t *th = xcalloc(n + 1, sizeof(pthread_t));
    for (size_t k = 0; k < n; k++) {
        pushes[k].url = urls[k];
        pushes[k].body = body;
        if (pthread_create(&th[k], NULL, push_one, &pushes[k]) != 0)
            push_one(&pushes[k]), th[k] = 0;
    }
    for (size_t k = 0; k < n; k++)
        if (th[k])
            pthread_join(th[k], NULL);
    free(th);
    free(pushes);
}

void metasync_all(void)
{
    char *body = meta_all_text();
    smap_t *s = smap_get();
    size_t n = s->n_proxies + s->n_targets;
    char **urls = xcalloc(n + 1, sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const snode_t *nd = i < s->n_proxies ? &s->proxies[i] : &s->targets[i - s->n_proxies];
        if (strcmp(nd->id, cluster_self_id()) != 0)
            urls[k++] = xasprintf("%s/v1/metasync", nd->url);
    }
    push_parallel(urls, k, body);
    for (size_t i = 0; i < k; i++)
        free(urls[i]);
    free(urls);
    free(body);
    smap_put(s);
}

static void apply_smap(json_t *sj)
{
    smap_t *s = json_is_object(sj) ? smap_from_json(sj) : NULL;
    if (s == NULL)
        return;
    smap_t *cur = smap_get();
    meta_order_t o = meta_order(cur->version, cur->uuid, s->version, s->uuid);
    smap_put(cur);
    if (meta_order_installs(o)) {
        LOCUS_LOG(LOG_VERBOSE, "[metasync] smap v%lld", (long long)s->version);
        meta_install_smap(s);
    } else {
        smap_put(s);
    }
}

static void apply_md(md_kind_t kind, json_t *dj)
{
    mdoc_t *d = json_is_object(dj) ? md_from_json(kind, dj) : NULL;
    if (d == NULL)
        return;
    mdoc_t *cur = md_get(kind);
    meta_order_t o = meta_order(cur->version, cur->uuid, d->version, d->uuid);
    md_put(cur);
    if (meta_order_installs(o)) {
        LOCUS_LOG(LOG_VERBOSE, "[metasync] %s v%lld", md_kind_name(kind), (long long)d->version);
        meta_install_md(d);
    } else {
        md_put(d);
    }
}

void metasync_apply(json_t *j)
{
    meta_write_lock();
    apply_smap(json_object_get(j, "smap"));
    for (int k = 0; k < MD_N; k++)
        apply_md((md_kind_t)k, json_object_get(j, md_kind_name((md_kind_t)k)));
    meta_write_unlock();
}

int cluster_md_modify(md_kind_t kind, md_modify_cb fn, void *arg, char *err, size_t errlen)
{
    locus_assert(cluster_is_primary());
    meta_write_lock();
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
