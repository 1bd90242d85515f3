/*
 * cluster.c - smap and BMD: snapshots, persistence, metasync, join, keepalive and the
 * primary's dead-node check. See cluster.h for the design.
 */
#include "cluster/cluster.h"
#include "common/hrw.h"
#include "common/log.h"
#include "common/names.h"
#include "common/util.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* meta_lock protects cur_smap, cur_doc, their refcounts, last_seen and the listeners.
 * meta_write_lock serializes writers (primary changes, metasync receipt) and is taken
 * before meta_lock. */
static pthread_mutex_t meta_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t meta_write_lock = PTHREAD_MUTEX_INITIALIZER;
static smap_t *cur_smap;
static mdoc_t *cur_doc[MD_N];
static const char *const md_name[MD_N] = {"bmd", "etlmd"};
static const char *const md_items_key[MD_N] = {"buckets", "etls"};

typedef struct {
    char *id;
    int64_t last_seen; /* monotonic ns */
} seen_t;
static seen_t *last_seen;
static size_t n_last_seen;

#define MAX_LISTENERS 8
static md_listener_cb listeners[MD_N][MAX_LISTENERS];
static int n_listeners[MD_N];

static config_t *cfg;
static char self_id[128];
static char self_name[160];
static volatile bool ready;
static volatile bool stopping;
static pthread_t bg_thread;
static bool bg_started;

/* ---------------------------------------------------------------- snapshots */

static void snode_dispose(snode_t *n)
{
    free(n->id);
    free(n->url);
}

static void smap_free(smap_t *s)
{
    for (size_t i = 0; i < s->n_proxies; i++)
        snode_dispose(&s->proxies[i]);
    for (size_t i = 0; i < s->n_targets; i++)
        snode_dispose(&s->targets[i]);
    free(s->proxies);
    free(s->targets);
    free(s->uuid);
    free(s->creation_time);
    free(s->primary_id);
    free(s);
}

static void md_free(mdoc_t *d)
{
    json_decref(d->items);
    free(d->uuid);
    free(d);
}

smap_t *smap_get(void)
{
    pthread_mutex_lock(&meta_lock);
    smap_t *s = cur_smap;
    s->refcnt++;
    pthread_mutex_unlock(&meta_lock);
    return s;
}

void smap_put(smap_t *s)
{
    pthread_mutex_lock(&meta_lock);
    locus_assert(s->refcnt > 0);
    bool last = --s->refcnt == 0;
    pthread_mutex_unlock(&meta_lock);
    if (last)
        smap_free(s);
}

mdoc_t *md_get(md_kind_t kind)
{
    pthread_mutex_lock(&meta_lock);
    mdoc_t *d = cur_doc[kind];
    d->refcnt++;
    pthread_mutex_unlock(&meta_lock);
    return d;
}

void md_put(mdoc_t *d)
{
    pthread_mutex_lock(&meta_lock);
    locus_assert(d->refcnt > 0);
    bool last = --d->refcnt == 0;
    pthread_mutex_unlock(&meta_lock);
    if (last)
        md_free(d);
}

bmd_t *bmd_get(void)
{
    return md_get(MD_BMD);
}

void bmd_put(bmd_t *b)
{
    md_put(b);
}

json_t *bmd_bucket(const bmd_t *b, const char *name)
{
    return json_object_get(b->items, name);
}

const snode_t *smap_find(const smap_t *s, const char *id)
{
    for (size_t i = 0; i < s->n_targets; i++)
        if (strcmp(s->targets[i].id, id) == 0)
            return &s->targets[i];
    for (size_t i = 0; i < s->n_proxies; i++)
        if (strcmp(s->proxies[i].id, id) == 0)
            return &s->proxies[i];
    return NULL;
}

const snode_t *smap_owner(const smap_t *s, const char *bck, const char *obj)
{
    if (s->n_targets == 0)
        return NULL;
    char *uname = uname_make(bck, obj);
    uint64_t d = hrw_digest_str(uname);
    free(uname);
    uint64_t digests[s->n_targets];
    for (size_t i = 0; i < s->n_targets; i++)
        digests[i] = s->targets[i].digest;
    int k = hrw_select(digests, s->n_targets, d);
    return k < 0 ? NULL : &s->targets[k];
}

/* ---------------------------------------------------------------- (de)serialization */

static void snode_text(buf_t *b, const snode_t *n)
{
    /* Host and port split out of the URL for public_net. */
    const char *hp = strstr(n->url, "://");
    hp = hp ? hp + 3 : n->url;
    const char *colon = strrchr(hp, ':');
    char host[128] = "", port[16] = "";
    if (colon) {
        snprintf(host, sizeof(host), "%.*s", (int)(colon - hp), hp);
        snprintf(port, sizeof(port), "%s", colon + 1);
    } else {
        snprintf(host, sizeof(host), "%s", hp);
    }
    char *slash = strchr(port, '/');
    if (slash)
        *slash = '\0';
    json_t *net = json_pack("{s:s, s:s, s:s}", "node_ip_addr", host, "daemon_port", port,
                            "direct_url", n->url);
    char *nets = json_dumps(net, JSON_COMPACT);
    json_decref(net);
    json_t *idj = json_string(n->id);
    char *ids = json_dumps(idj, JSON_ENCODE_ANY);
    json_decref(idj);
    /* id_digest is a uint64: jansson has no unsigned integers, so the text is written here. */
    buf_printf(b,
               "{\"daemon_id\":%s,\"daemon_type\":\"%s\",\"flags\":0,\"id_digest\":%llu,"
               "\"public_net\":%s,\"intra_control_net\":%s,\"intra_data_net\":%s}",
               ids, n->is_proxy ? "proxy" : "target", (unsigned long long)n->digest, nets, nets,
               nets);
    free(ids);
    free(nets);
}

char *smap_to_text(const smap_t *s)
{
    buf_t b;
    buf_init(&b);
    buf_puts(&b, "{\"tmap\":{");
    for (size_t i = 0; i < s->n_targets; i++) {
        json_t *k = json_string(s->targets[i].id);
        char *ks = json_dumps(k, JSON_ENCODE_ANY);
        json_decref(k);
        buf_printf(&b, "%s%s:", i ? "," : "", ks);
        free(ks);
        snode_text(&b, &s->targets[i]);
    }
    buf_puts(&b, "},\"pmap\":{");
    const snode_t *primary = NULL;
    for (size_t i = 0; i < s->n_proxies; i++) {
        json_t *k = json_string(s->proxies[i].id);
        char *ks = json_dumps(k, JSON_ENCODE_ANY);
        json_decref(k);
        buf_printf(&b, "%s%s:", i ? "," : "", ks);
        free(ks);
        snode_text(&b, &s->proxies[i]);
        if (s->primary_id && strcmp(s->proxies[i].id, s->primary_id) == 0)
            primary = &s->proxies[i];
    }
    buf_puts(&b, "},\"proxy_si\":");
    if (primary)
        snode_text(&b, primary);
    else
        buf_puts(&b, "null");
    json_t *u = json_pack("{s:s, s:s, s:s}", "uuid", s->uuid, "creation_time", s->creation_time,
                          "version", "");
    json_object_set_new(u, "version", json_string(""));
    char vers[32];
    snprintf(vers, sizeof(vers), "%lld", (long long)s->version);
    json_object_set_new(u, "version", json_string(vers));
    char *us = json_dumps(u, JSON_COMPACT);
    json_decref(u);
    /* append the tail object's members */
    buf_printf(&b, ",%s", us + 1);
    free(us);
    return buf_steal(&b);
}

static int cmp_snode(const void *a, const void *b)
{
    return strcmp(((const snode_t *)a)->id, ((const snode_t *)b)->id);
}

static void smap_sort(smap_t *s)
{
    qsort(s->proxies, s->n_proxies, sizeof(snode_t), cmp_snode);
    qsort(s->targets, s->n_targets, sizeof(snode_t), cmp_snode);
}

static int64_t json_int_or_str(json_t *v)
{
    if (json_is_integer(v))
        return json_integer_value(v);
    if (json_is_real(v))
        return (int64_t)json_real_value(v);
    if (json_is_string(v))
        return strtoll(json_string_value(v), NULL, 10);
    return 0;
}

static int parse_nodes(json_t *map, bool is_proxy, snode_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!json_is_object(map))
        return -1;
    *out = xcalloc(json_object_size(map) + 1, sizeof(snode_t));
    const char *id;
    json_t *v;
    json_object_foreach(map, id, v)
    {
        json_t *url = json_object_get(json_object_get(v, "public_net"), "direct_url");
        if (!json_is_string(url))
            return -1;
        snode_t *sn = &(*out)[(*n)++];
        sn->id = xstrdup(id);
        sn->url = xstrdup(json_string_value(url));
        sn->digest = hrw_digest_str(id);
        sn->is_proxy = is_proxy;
    }
    return 0;
}

/* Parses the smap JSON (integers may be decoded as reals: id_digest does not fit int64). */
static smap_t *smap_from_json(json_t *j)
{
    smap_t *s = xcalloc(1, sizeof(*s));
    s->refcnt = 1;
    if (parse_nodes(json_object_get(j, "tmap"), false, &s->targets, &s->n_targets) < 0 ||
        parse_nodes(json_object_get(j, "pmap"), true, &s->proxies, &s->n_proxies) < 0)
        goto fail;
    s->version = json_int_or_str(json_object_get(j, "version"));
    json_t *u = json_object_get(j, "uuid");
    json_t *ct = json_object_get(j, "creation_time");
    json_t *pid = json_object_get(json_object_get(j, "proxy_si"), "daemon_id");
    if (!json_is_string(u) || !json_is_string(pid))
        goto fail;
    s->uuid = xstrdup(json_string_value(u));
    s->creation_time = xstrdup(json_is_string(ct) ? json_string_value(ct) : "");
    s->primary_id = xstrdup(json_string_value(pid));
    smap_sort(s);
    return s;
fail:
    smap_free(s);
    return NULL;
}

static json_t *md_to_json(const mdoc_t *d)
{
    char vers[32];
    snprintf(vers, sizeof(vers), "%lld", (long long)d->version);
    return json_pack("{s:s, s:s, s:O}", "version", vers, "uuid", d->uuid, md_items_key[d->kind],
                     d->items);
}

static mdoc_t *md_from_json(md_kind_t kind, json_t *j)
{
    json_t *items = json_object_get(j, md_items_key[kind]);
    json_t *u = json_object_get(j, "uuid");
    if (!json_is_object(items) || !json_is_string(u))
        return NULL;
    mdoc_t *d = xcalloc(1, sizeof(*d));
    d->refcnt = 1;
    d->kind = kind;
    d->version = json_int_or_str(json_object_get(j, "version"));
    d->uuid = xstrdup(json_string_value(u));
    d->items = json_deep_copy(items);
    return d;
}

static mdoc_t *md_new(md_kind_t kind, const char *uuid)
{
    mdoc_t *d = xcalloc(1, sizeof(*d));
    d->refcnt = 1;
    d->kind = kind;
    d->uuid = xstrdup(uuid);
    d->items = json_object();
    return d;
}

/* All metadata documents as one JSON text {"smap":..,"bmd":..,"etlmd":..}; caller frees. */
static char *meta_all_text(void)
{
    smap_t *s = smap_get();
    char *st = smap_to_text(s);
    smap_put(s);
    buf_t b;
    buf_init(&b);
    buf_printf(&b, "{\"smap\":%s", st);
    free(st);
    for (int k = 0; k < MD_N; k++) {
        mdoc_t *d = md_get((md_kind_t)k);
        json_t *j = md_to_json(d);
        md_put(d);
        char *t = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        buf_printf(&b, ",\"%s\":%s", md_name[k], t);
        free(t);
    }
    buf_puts(&b, "}");
    return buf_steal(&b);
}

static smap_t *smap_clone(const smap_t *o)
{
    smap_t *s = xcalloc(1, sizeof(*s));
    s->refcnt = 1;
    s->version = o->version;
    s->uuid = xstrdup(o->uuid);
    s->creation_time = xstrdup(o->creation_time);
    s->primary_id = xstrdup(o->primary_id);
    s->proxies = xcalloc(o->n_proxies + 1, sizeof(snode_t));
    s->targets = xcalloc(o->n_targets + 1, sizeof(snode_t));
    for (size_t i = 0; i < o->n_proxies; i++) {
        s->proxies[i] = o->proxies[i];
        s->proxies[i].id = xstrdup(o->proxies[i].id);
        s->proxies[i].url = xstrdup(o->proxies[i].url);
    }
    for (size_t i = 0; i < o->n_targets; i++) {
        s->targets[i] = o->targets[i];
        s->targets[i].id = xstrdup(o->targets[i].id);
        s->targets[i].url = xstrdup(o->targets[i].url);
    }
    s->n_proxies = o->n_proxies;
    s->n_targets = o->n_targets;
    return s;
}

/* ---------------------------------------------------------------- persistence */

static char *state_path(const char *name)
{
    return xasprintf("%s/%s", cfg->data_dir, name);
}

static void persist_smap(const smap_t *s)
{
    char *text = smap_to_text(s);
    char *p = state_path("smap.json");
    int rc = write_file_atomic(p, text, strlen(text));
    if (rc < 0)
        LOCUS_LOG(LOG_WARNING, "[cluster] cannot persist %s: %s", p, strerror(-rc));
    free(p);
    free(text);
}

static void persist_md(const mdoc_t *d)
{
    json_t *j = md_to_json(d);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    char *name = xasprintf("%s.json", md_name[d->kind]);
    char *p = state_path(name);
    int rc = write_file_atomic(p, text, strlen(text));
    if (rc < 0)
        LOCUS_LOG(LOG_WARNING, "[cluster] cannot persist %s: %s", p, strerror(-rc));
    free(p);
    free(name);
    free(text);
}

static json_t *load_json_file(const char *name)
{
    char *p = state_path(name);
    json_error_t je;
    json_t *j = json_load_file(p, JSON_DECODE_INT_AS_REAL, &je);
    if (j == NULL && access(p, F_OK) == 0)
        LOCUS_LOG(LOG_WARNING, "[cluster] ignoring unreadable %s: %s", p, je.text);
    free(p);
    return j;
}

/* Swaps in new metadata (takes ownership), persists it, notifies listeners.
 * Caller holds meta_write_lock. */
static void install_smap(smap_t *s)
{
    persist_smap(s);
    pthread_mutex_lock(&meta_lock);
    smap_t *old = cur_smap;
    cur_smap = s;
    pthread_mutex_unlock(&meta_lock);
    if (old)
        smap_put(old);
}

static void install_md(mdoc_t *d)
{
    persist_md(d);
    pthread_mutex_lock(&meta_lock);
    mdoc_t *old = cur_doc[d->kind];
    cur_doc[d->kind] = d;
    int nl = n_listeners[d->kind];
    pthread_mutex_unlock(&meta_lock);
    if (old) {
        for (int i = 0; i < nl; i++)
            listeners[d->kind][i](old, d);
        md_put(old);
    }
}

void cluster_on_md_change(md_kind_t kind, md_listener_cb cb)
{
    pthread_mutex_lock(&meta_lock);
    if (n_listeners[kind] < MAX_LISTENERS)
        listeners[kind][n_listeners[kind]++] = cb;
    pthread_mutex_unlock(&meta_lock);
}

/* ---------------------------------------------------------------- identity */

const char *cluster_self_id(void)
{
    return self_id;
}
const char *cluster_self_url(void)
{
    return cfg->public_url;
}
const char *cluster_self_name(void)
{
    return self_name;
}
bool cluster_is_primary(void)
{
    return cfg->role == ROLE_PROXY && cfg->primary_url == NULL;
}
const char *cluster_primary_url(void)
{
    return cfg->primary_url ? cfg->primary_url : cfg->public_url;
}
node_role_t cluster_role(void)
{
    return cfg->role;
}
const config_t *cluster_config(void)
{
    return cfg;
}
bool cluster_ready(void)
{
    return ready;
}

static int load_or_make_id(char *err, size_t errlen)
{
    char *p = state_path("daemon.id");
    char *text = NULL;
    int rc = 0;
    if (cfg->id) {
        snprintf(self_id, sizeof(self_id), "%s", cfg->id);
    } else if (read_file(p, &text, NULL) == 0 && text[0]) {
        text[strcspn(text, "\r\n")] = '\0';
        snprintf(self_id, sizeof(self_id), "%s", text);
    } else {
        char rnd[9];
        random_id(rnd, 8);
        snprintf(self_id, sizeof(self_id), "%c%s", cfg->role == ROLE_PROXY ? 'p' : 't', rnd);
    }
    if (name_check_bucket(self_id) != NULL) { /* same alphabet rule */
        snprintf(err, errlen, "invalid daemon id \"%s\": use [A-Za-z0-9_.-]", self_id);
        rc = -1;
        goto out;
    }
    rc = write_file_atomic(p, self_id, strlen(self_id));
    if (rc < 0) {
        snprintf(err, errlen, "cannot write %s: %s", p, strerror(-rc));
        rc = -1;
    }
out:
    free(text);
    free(p);
    return rc;
}

/* ---------------------------------------------------------------- metasync */

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

/* Pushes the current smap and BMD to every other node, in parallel, and waits. */
static void metasync_all(void)
{
    char *body = meta_all_text();
    smap_t *s = smap_get();
    size_t n = s->n_proxies + s->n_targets;
    push_t *pushes = xcalloc(n + 1, sizeof(push_t));
    pthread_t *th = xcalloc(n + 1, sizeof(pthread_t));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const snode_t *nd = i < s->n_proxies ? &s->proxies[i] : &s->targets[i - s->n_proxies];
        if (strcmp(nd->id, self_id) == 0)
            continue;
        pushes[k].url = xasprintf("%s/v1/metasync", nd->url);
        pushes[k].body = body;
        if (pthread_create(&th[k], NULL, push_one, &pushes[k]) != 0)
            push_one(&pushes[k]), th[k] = 0;
        k++;
    }
    for (size_t i = 0; i < k; i++) {
        if (th[i])
            pthread_join(th[i], NULL);
        free(pushes[i].url);
    }
    free(th);
    free(pushes);
    free(body);
    smap_put(s);
}

/* Applies received metadata if newer. Caller must not hold locks. */
static void apply_meta(json_t *j)
{
    pthread_mutex_lock(&meta_write_lock);
    json_t *sj = json_object_get(j, "smap");
    if (json_is_object(sj)) {
        smap_t *s = smap_from_json(sj);
        if (s) {
            smap_t *cur = smap_get();
            bool newer = s->version > cur->version || strcmp(s->uuid, cur->uuid) != 0;
            smap_put(cur);
            if (newer) {
                LOCUS_LOG(LOG_VERBOSE, "[metasync] smap v%lld", (long long)s->version);
                install_smap(s);
            } else {
                smap_free(s);
            }
        }
    }
    for (int k = 0; k < MD_N; k++) {
        json_t *dj = json_object_get(j, md_name[k]);
        mdoc_t *d = json_is_object(dj) ? md_from_json((md_kind_t)k, dj) : NULL;
        if (d == NULL)
            continue;
        mdoc_t *cur = md_get((md_kind_t)k);
        bool newer = d->version > cur->version || strcmp(d->uuid, cur->uuid) != 0;
        md_put(cur);
        if (newer) {
            LOCUS_LOG(LOG_VERBOSE, "[metasync] %s v%lld", md_name[k], (long long)d->version);
            install_md(d);
        } else {
            md_free(d);
        }
    }
    pthread_mutex_unlock(&meta_write_lock);
}

int cluster_md_modify(md_kind_t kind, md_modify_cb fn, void *arg, char *err, size_t errlen)
{
    locus_assert(cluster_is_primary());
    pthread_mutex_lock(&meta_write_lock);
    mdoc_t *cur = md_get(kind);
    json_t *copy = json_deep_copy(cur->items);
    int rc = fn(copy, arg, err, errlen);
    if (rc != 0) {
        json_decref(copy);
        md_put(cur);
        pthread_mutex_unlock(&meta_write_lock);
        return rc;
    }
    mdoc_t *d = md_new(kind, cur->uuid);
    json_decref(d->items);
    d->items = copy;
    d->version = cur->version + 1;
    md_put(cur);
    install_md(d);
    metasync_all();
    pthread_mutex_unlock(&meta_write_lock);
    return 0;
}

/* ---------------------------------------------------------------- primary: membership */

static void seen_touch(const char *id)
{
    pthread_mutex_lock(&meta_lock);
    for (size_t i = 0; i < n_last_seen; i++) {
        if (strcmp(last_seen[i].id, id) == 0) {
            last_seen[i].last_seen = time_mono_ns();
            pthread_mutex_unlock(&meta_lock);
            return;
        }
    }
    last_seen = xrealloc(last_seen, (n_last_seen + 1) * sizeof(seen_t));
    last_seen[n_last_seen].id = xstrdup(id);
    last_seen[n_last_seen].last_seen = time_mono_ns();
    n_last_seen++;
    pthread_mutex_unlock(&meta_lock);
}

static int64_t seen_get(const char *id)
{
    int64_t v = 0;
    pthread_mutex_lock(&meta_lock);
    for (size_t i = 0; i < n_last_seen; i++)
        if (strcmp(last_seen[i].id, id) == 0)
            v = last_seen[i].last_seen;
    pthread_mutex_unlock(&meta_lock);
    return v;
}

/* Adds or updates a node; returns true when the smap changed. Caller holds meta_write_lock. */
static bool smap_upsert(const char *id, const char *url, bool is_proxy)
{
    smap_t *cur = smap_get();
    const snode_t *have = smap_find(cur, id);
    if (have && strcmp(have->url, url) == 0 && have->is_proxy == is_proxy) {
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
            found = true;
        }
    }
    if (!found) {
        *arr = xrealloc(*arr, (*n + 1) * sizeof(snode_t));
        (*arr)[*n].id = xstrdup(id);
        (*arr)[*n].url = xstrdup(url);
        (*arr)[*n].digest = hrw_digest_str(id);
        (*arr)[*n].is_proxy = is_proxy;
        (*n)++;
    }
    smap_sort(s);
    s->version++;
    install_smap(s);
    return true;
}

static void smap_remove_nodes(char **ids, size_t nids)
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
    install_smap(s);
}

static void meta_reply(http_req_t *req)
{
    char *body = meta_all_text();
    http_reply(req, 200, "application/json", body, strlen(body));
    free(body);
}

static void handle_join(http_req_t *req)
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
    pthread_mutex_lock(&meta_write_lock);
    seen_touch(id);
    bool changed = smap_upsert(id, url, strcmp(type, "proxy") == 0);
    if (changed) {
        LOCUS_LOG(LOG_NOTICE, "[cluster] %s %s joined at %s", type, id, url);
        metasync_all();
    }
    pthread_mutex_unlock(&meta_write_lock);
    json_decref(j);
    meta_reply(req);
}

static void handle_keepalive(http_req_t *req)
{
    json_t *j = http_body_json(req);
    if (j == NULL)
        return;
    const char *id = json_string_value(json_object_get(j, "daemon_id"));
    int64_t sv = json_int_or_str(json_object_get(j, "smap_version"));
    smap_t *s = smap_get();
    bool known = id && smap_find(s, id) != NULL;
    bool behind = s->version != sv;
    smap_put(s);
    for (int k = 0; k < MD_N; k++) {
        char key[32];
        snprintf(key, sizeof(key), "%s_version", md_name[k]);
        mdoc_t *d = md_get((md_kind_t)k);
        behind = behind || d->version != json_int_or_str(json_object_get(j, key));
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

/* Primary: drops nodes silent for longer than keepalive_timeout. */
static void check_dead_nodes(void)
{
    smap_t *s = smap_get();
    int64_t now = time_mono_ns();
    char *dead[s->n_proxies + s->n_targets + 1];
    size_t nd = 0;
    for (size_t i = 0; i < s->n_proxies + s->n_targets; i++) {
        const snode_t *n = i < s->n_proxies ? &s->proxies[i] : &s->targets[i - s->n_proxies];
        if (strcmp(n->id, self_id) == 0)
            continue;
        int64_t seen = seen_get(n->id);
        if (seen == 0) {
            seen_touch(n->id); /* grace period after a primary restart */
            continue;
        }
        if (now - seen > cfg->keepalive_timeout_ns)
            dead[nd++] = xstrdup(n->id);
    }
    smap_put(s);
    if (nd == 0)
        return;
    pthread_mutex_lock(&meta_write_lock);
    for (size_t i = 0; i < nd; i++)
        LOCUS_LOG(LOG_WARNING, "[cluster] node %s missed keepalives for %lld ms: removing it",
                  dead[i], (long long)(cfg->keepalive_timeout_ns / 1000000));
    smap_remove_nodes(dead, nd);
    metasync_all();
    pthread_mutex_unlock(&meta_write_lock);
    for (size_t i = 0; i < nd; i++)
        free(dead[i]);
}

/* ---------------------------------------------------------------- non-primary: join */

static int join_once(void)
{
    json_t *j =
        json_pack("{s:s, s:s, s:s}", "daemon_id", self_id, "daemon_type",
                  cfg->role == ROLE_PROXY ? "proxy" : "target", "direct_url", cfg->public_url);
    char *url = xasprintf("%s/v1/cluster/join", cfg->primary_url);
    httpc_resp_t r;
    httpc_resp_init(&r);
    int rc = httpc_json("POST", url, j, 5000, &r);
    json_decref(j);
    free(url);
    if (rc == 0 && r.status == 200) {
        json_t *m = json_loadb(r.body.base, r.body.len, JSON_DECODE_INT_AS_REAL, NULL);
        if (m) {
            apply_meta(m);
            json_decref(m);
        } else {
            rc = -1;
        }
    } else {
        rc = -1;
    }
    httpc_resp_dispose(&r);
    return rc;
}

static int keepalive_once(void)
{
    smap_t *s = smap_get();
    json_t *j =
        json_pack("{s:s, s:I}", "daemon_id", self_id, "smap_version", (json_int_t)s->version);
    smap_put(s);
    for (int k = 0; k < MD_N; k++) {
        char key[32];
        snprintf(key, sizeof(key), "%s_version", md_name[k]);
        mdoc_t *d = md_get((md_kind_t)k);
        json_object_set_new(j, key, json_integer(d->version));
        md_put(d);
    }
    char *url = xasprintf("%s/v1/cluster/keepalive", cfg->primary_url);
    httpc_resp_t r;
    httpc_resp_init(&r);
    int rc = httpc_json("POST", url, j, 3000, &r);
    json_decref(j);
    free(url);
    int out = 0;
    if (rc != 0)
        out = -1; /* primary unreachable: keep trying */
    else if (r.status == 404)
        out = 1; /* dropped: rejoin */
    else if (r.status == 200 && r.body.len > 2) {
        json_t *m = json_loadb(r.body.base, r.body.len, JSON_DECODE_INT_AS_REAL, NULL);
        if (m) {
            apply_meta(m);
            json_decref(m);
        }
    }
    httpc_resp_dispose(&r);
    return out;
}

static void *bg_main(void *arg)
{
    int64_t interval_ms = cfg->keepalive_interval_ns / 1000000;
    if (interval_ms < 50)
        interval_ms = 50;
    if (cluster_is_primary()) {
        ready = true;
        LOCUS_LOG(LOG_NOTICE, "%s: primary proxy ready at %s", self_name, cfg->public_url);
        while (!stopping) {
            sleep_ms((int)(interval_ms / 2 > 0 ? interval_ms / 2 : 1));
            check_dead_nodes();
        }
        return NULL;
    }
    bool joined = false;
    while (!stopping) {
        if (!joined) {
            if (join_once() == 0) {
                joined = true;
                if (!ready)
                    LOCUS_LOG(LOG_NOTICE, "%s: joined %s, ready at %s", self_name, cfg->primary_url,
                              cfg->public_url);
                ready = true;
            } else {
                sleep_ms(200);
                continue;
            }
        }
        sleep_ms((int)interval_ms);
        if (stopping)
            break;
        int rc = keepalive_once();
        if (rc == 1) {
            LOCUS_LOG(LOG_WARNING, "%s: primary does not know me: joining again", self_name);
            joined = false;
        }
    }
    httpc_thread_cleanup();
    return NULL;
}

/* ---------------------------------------------------------------- init */

int cluster_init(config_t *c, char *err, size_t errlen)
{
    cfg = c;
    int rc = mkdir_p(cfg->data_dir, 0755);
    if (rc < 0) {
        snprintf(err, errlen, "cannot create data dir %s: %s", cfg->data_dir, strerror(-rc));
        return -1;
    }
    if (load_or_make_id(err, errlen) < 0)
        return -1;
    snprintf(self_name, sizeof(self_name), "%c[%s]", cfg->role == ROLE_PROXY ? 'p' : 't', self_id);
    http_set_node_name(self_name);

    json_t *sj = load_json_file("smap.json");
    smap_t *s = sj ? smap_from_json(sj) : NULL;
    json_decref(sj);
    if (s == NULL) {
        s = xcalloc(1, sizeof(*s));
        s->refcnt = 1;
        char uuid[13];
        random_id(uuid, 12);
        s->uuid = xstrdup(uuid);
        char ct[64];
        time_format_rfc3339(time_now_ns(), ct, sizeof(ct));
        s->creation_time = xstrdup(ct);
        s->primary_id = xstrdup(cluster_is_primary() ? self_id : "");
        s->version = 0;
    }
    cur_smap = s;
    for (int k = 0; k < MD_N; k++) {
        char *fname = xasprintf("%s.json", md_name[k]);
        json_t *dj = load_json_file(fname);
        free(fname);
        mdoc_t *d = dj ? md_from_json((md_kind_t)k, dj) : NULL;
        json_decref(dj);
        cur_doc[k] = d ? d : md_new((md_kind_t)k, cur_smap->uuid);
    }
    if (cluster_is_primary()) {
        pthread_mutex_lock(&meta_write_lock);
        if (strcmp(cur_smap->primary_id, self_id) != 0) {
            smap_t *n = smap_clone(cur_smap);
            free(n->primary_id);
            n->primary_id = xstrdup(self_id);
            n->version++;
            install_smap(n);
        }
        smap_upsert(self_id, cfg->public_url, true);
        if (cur_smap->version == 0) {
            smap_t *n = smap_clone(cur_smap);
            n->version = 1;
            install_smap(n);
        }
        for (int k = 0; k < MD_N; k++)
            persist_md(cur_doc[k]);
        pthread_mutex_unlock(&meta_write_lock);
    }
    return 0;
}

void cluster_start(void)
{
    httpc_global_init();
    if (pthread_create(&bg_thread, NULL, bg_main, NULL) != 0)
        locus_panic("cannot start the cluster thread");
    bg_started = true;
}

void cluster_stop(void)
{
    stopping = true;
    if (bg_started)
        pthread_join(bg_thread, NULL);
    bg_started = false;
}

/* ---------------------------------------------------------------- routes */

int route_split(const char *path, char *copy, size_t copylen, const char **segs, int max)
{
    if (strncmp(path, "/v1/", 4) != 0 && strcmp(path, "/v1") != 0)
        return -1;
    snprintf(copy, copylen, "%s", path[3] ? path + 4 : "");
    if (strlen(path + (path[3] ? 4 : 3)) >= copylen)
        return -1;
    int n = 0;
    char *p = copy;
    if (*p == '\0')
        return 0;
    while (n < max) {
        segs[n++] = p;
        if (n == max)
            break;
        char *slash = strchr(p, '/');
        if (slash == NULL)
            break;
        *slash = '\0';
        p = slash + 1;
    }
    return n;
}

static void handle_daemon(http_req_t *req)
{
    const char *what = http_query(req, "what");
    if (what == NULL || strcmp(what, "smap") == 0) {
        smap_t *s = smap_get();
        char *t = smap_to_text(s);
        smap_put(s);
        http_reply(req, 200, "application/json", t, strlen(t));
        free(t);
    } else if (strcmp(what, "bmd") == 0 || strcmp(what, "etlmd") == 0) {
        mdoc_t *d = md_get(what[0] == 'b' ? MD_BMD : MD_ETL);
        http_reply_json(req, 200, md_to_json(d));
        md_put(d);
    } else if (strcmp(what, "snode") == 0) {
        json_t *j =
            json_pack("{s:s, s:s, s:s}", "daemon_id", self_id, "daemon_type",
                      cfg->role == ROLE_PROXY ? "proxy" : "target", "direct_url", cfg->public_url);
        http_reply_json(req, 200, j);
    } else {
        http_reply_error(req, 400, "invalid what=\"%s\" (supported: smap, bmd, etlmd, snode)",
                         what);
    }
}

bool cluster_handle(http_req_t *req, const char **segs, int nseg)
{
    const char *m = req->method;
    if (nseg >= 1 && strcmp(segs[0], "health") == 0 && nseg == 1) {
        if (ready)
            http_reply(req, 200, NULL, "", 0);
        else
            http_reply_error(req, 503, "%s is starting up", self_name);
        return true;
    }
    if (nseg == 1 && strcmp(segs[0], "daemon") == 0 && strcmp(m, "GET") == 0) {
        handle_daemon(req);
        return true;
    }
    if (nseg == 1 && strcmp(segs[0], "metasync") == 0 && strcmp(m, "POST") == 0) {
        /* id_digest is a uint64 that jansson cannot hold as an integer. */
        json_t *j = json_loadb(req->body.base ? req->body.base : "", req->body.len,
                               JSON_DECODE_INT_AS_REAL, NULL);
        if (j) {
            apply_meta(j);
            json_decref(j);
            http_reply(req, 200, NULL, "", 0);
        } else {
            http_reply_error(req, 400, "metasync: invalid JSON body");
        }
        return true;
    }
    if (nseg == 2 && strcmp(segs[0], "cluster") == 0 && strcmp(m, "POST") == 0 &&
        (strcmp(segs[1], "join") == 0 || strcmp(segs[1], "keepalive") == 0)) {
        if (!cluster_is_primary())
            http_reply_error(req, 400, "%s is not the primary proxy", self_name);
        else if (strcmp(segs[1], "join") == 0)
            handle_join(req);
        else
            handle_keepalive(req);
        return true;
    }
    return false;
}
