/*
 * meta.c - smap, BMD and EtlMD: snapshots, JSON forms, state files, installing new versions
 * and the change listeners. See meta.h for the design.
 */
#include "cluster/meta.h"
#include "cluster/internal.h"
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

/* meta_lock protects cur_smap, cur_doc, their refcounts and the listeners. meta_write_lock
 * serializes writers and is taken before meta_lock. */
static pthread_mutex_t meta_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t smap_changed = PTHREAD_COND_INITIALIZER; /* with meta_lock */
static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;
static smap_t *cur_smap;
static mdoc_t *cur_doc[MD_N];
static char *state_dir; /* set by meta_load */
static const char *const md_name[MD_N] = {"bmd", "etlmd"};
static const char *const md_items_key[MD_N] = {"buckets", "etls"};

#define MAX_LISTENERS 8
static md_listener_cb listeners[MD_N][MAX_LISTENERS];
static int n_listeners[MD_N];
static smap_listener_cb smap_listeners[MAX_LISTENERS];
static int n_smap_listeners;

void meta_write_lock(void)
{
    pthread_mutex_lock(&write_lock);
}

void meta_write_unlock(void)
{
    pthread_mutex_unlock(&write_lock);
}

const char *md_kind_name(md_kind_t kind)
{
    return md_name[kind];
}

/* ---------------------------------------------------------------- snapshots */

void snode_dispose(snode_t *n)
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

json_t *bmd_bucket_names(void)
{
    bmd_t *b = bmd_get();
    json_t *names = json_array(), *v;
    const char *name;
    json_object_foreach(b->items, name, v) json_array_append_new(names, json_string(name));
    bmd_put(b);
    return names;
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

const snode_t *smap_owner_skip(const smap_t *s, const char *bck, const char *obj, uint32_t skip)
{
    if (s->n_targets == 0)
        return NULL;
    char *uname = uname_make(bck, obj);
    uint64_t d = hrw_digest_str(uname);
    free(uname);
    uint64_t digests[s->n_targets];
    size_t idx[s->n_targets], n = 0;
    for (size_t i = 0; i < s->n_targets; i++) {
        if (s->targets[i].flags & skip)
            continue;
        idx[n] = i;
        digests[n++] = s->targets[i].digest;
    }
    int k = hrw_select(digests, n, d);
    return k < 0 ? NULL : &s->targets[idx[k]];
}

const snode_t *smap_owner(const smap_t *s, const char *bck, const char *obj)
{
    return smap_owner_skip(s, bck, obj, SNODE_NO_PLACEMENT);
}

size_t smap_active_targets(const smap_t *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n_targets; i++)
        n += (s->targets[i].flags & SNODE_NO_PLACEMENT) == 0;
    return n;
}

/* ---------------------------------------------------------------- new documents */

static smap_t *smap_new(const char *primary_id)
{
    smap_t *s = xcalloc(1, sizeof(*s));
    s->refcnt = 1;
    char uuid[13];
    random_id(uuid, 12);
    s->uuid = xstrdup(uuid);
    char ct[64];
    time_format_rfc3339(time_now_ns(), ct, sizeof(ct));
    s->creation_time = xstrdup(ct);
    s->primary_id = xstrdup(primary_id);
    s->version = 0;
    return s;
}

smap_t *smap_clone(const smap_t *o)
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

static int cmp_snode(const void *a, const void *b)
{
    return strcmp(((const snode_t *)a)->id, ((const snode_t *)b)->id);
}

void smap_sort(smap_t *s)
{
    qsort(s->proxies, s->n_proxies, sizeof(snode_t), cmp_snode);
    qsort(s->targets, s->n_targets, sizeof(snode_t), cmp_snode);
}

mdoc_t *md_new(md_kind_t kind, const char *uuid)
{
    mdoc_t *d = xcalloc(1, sizeof(*d));
    d->refcnt = 1;
    d->kind = kind;
    d->uuid = xstrdup(uuid);
    d->items = json_object();
    return d;
}

/* ---------------------------------------------------------------- JSON forms */

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
               "{\"daemon_id\":%s,\"daemon_type\":\"%s\",\"flags\":%u,\"id_digest\":%llu,"
               "\"public_net\":%s,\"intra_control_net\":%s,\"intra_data_net\":%s}",
               ids, n->is_proxy ? "proxy" : "target", (unsigned)n->flags,
               (unsigned long long)n->digest, nets, nets, nets);
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
        json_t *fl = json_object_get(v, "flags");
        double f = json_is_number(fl) ? json_number_value(fl) : 0;
        sn->flags = f >= 0 && f < 4294967296.0 ? (uint32_t)f : 0;
    }
    return 0;
}

smap_t *smap_from_json(json_t *j)
{
    smap_t *s = xcalloc(1, sizeof(*s));
    s->refcnt = 1;
    if (parse_nodes(json_object_get(j, "tmap"), false, &s->targets, &s->n_targets) < 0 ||
        parse_nodes(json_object_get(j, "pmap"), true, &s->proxies, &s->n_proxies) < 0)
        goto fail;
    s->version = json_int64(json_object_get(j, "version"));
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

json_t *md_to_json(const mdoc_t *d)
{
    char vers[32];
    snprintf(vers, sizeof(vers), "%lld", (long long)d->version);
    return json_pack("{s:s, s:s, s:O}", "version", vers, "uuid", d->uuid, md_items_key[d->kind],
                     d->items);
}

/* Env values in place of which responses show REDACTED. */
static void redact_env(json_t *env)
{
    size_t i;
    json_t *e;
    json_array_foreach(env, i, e) if (json_is_object(e) && json_object_get(e, "value"))
        json_object_set_new(e, "value", json_string(ETLMD_REDACTED));
}

json_t *etlmd_entry_public(const json_t *entry)
{
    json_t *c = json_deep_copy(entry);
    if (!json_is_object(c))
        return c;
    json_object_del(c, "secret");
    json_t *im = json_object_get(c, "init_msg");
    redact_env(json_object_get(im, "env"));
    redact_env(json_object_get(json_object_get(im, "runtime"), "env"));
    return c;
}

json_t *md_to_public_json(const mdoc_t *d)
{
    json_t *j = md_to_json(d);
    if (d->kind != MD_ETL)
        return j;
    json_t *items = json_object_get(j, md_items_key[d->kind]), *pub = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(items, k, v) json_object_set_new(pub, k, etlmd_entry_public(v));
    json_object_set_new(j, md_items_key[d->kind], pub);
    return j;
}

mdoc_t *md_from_json(md_kind_t kind, json_t *j)
{
    json_t *items = json_object_get(j, md_items_key[kind]);
    json_t *u = json_object_get(j, "uuid");
    if (!json_is_object(items) || !json_is_string(u))
        return NULL;
    /* Bucket and ETL names become directory and file names on the targets: a document that
     * names one with '/' or ".." is refused whole, whoever sent it (BMD keys are bucket names,
     * EtlMD keys ETL names, whose alphabet is narrower still). */
    const char *k;
    json_t *v;
    json_object_foreach(items, k, v)
    {
        if (name_check_bucket(k) != NULL)
            return NULL;
    }
    mdoc_t *d = xcalloc(1, sizeof(*d));
    d->refcnt = 1;
    d->kind = kind;
    d->version = json_int64(json_object_get(j, "version"));
    d->uuid = xstrdup(json_string_value(u));
    d->items = json_deep_copy(items);
    return d;
}

static char *md_to_text(const mdoc_t *d)
{
    json_t *j = md_to_json(d);
    char *t = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return t;
}

char *meta_all_text(void)
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
        char *t = md_to_text(d);
        md_put(d);
        buf_printf(&b, ",\"%s\":%s", md_name[k], t);
        free(t);
    }
    buf_puts(&b, "}");
    return buf_steal(&b);
}

/* ---------------------------------------------------------------- version order */

meta_order_t meta_order(int64_t cur_version, const char *cur_uuid, int64_t version,
                        const char *uuid)
{
    if (strcmp(uuid, cur_uuid) != 0)
        return META_FOREIGN;
    if (version > cur_version)
        return META_NEWER;
    return version == cur_version ? META_SAME : META_OLDER;
}

bool meta_order_installs(meta_order_t o)
{
    return o == META_NEWER || o == META_FOREIGN;
}

/* ---------------------------------------------------------------- state files */

static int save_text(const char *dir, const char *name, const char *text)
{
    char *p = xasprintf("%s/%s", dir, name);
    int rc = write_file_atomic(p, text, strlen(text));
    if (rc < 0)
        LOCUS_LOG(LOG_WARNING, "[cluster] cannot persist %s: %s", p, strerror(-rc));
    free(p);
    return rc;
}

static json_t *load_json_file(const char *dir, const char *name)
{
    char *p = xasprintf("%s/%s", dir, name);
    json_error_t je;
    json_t *j = json_load_file(p, JSON_DECODE_INT_AS_REAL, &je);
    if (j == NULL && access(p, F_OK) == 0)
        LOCUS_LOG(LOG_WARNING, "[cluster] ignoring unreadable %s: %s", p, je.text);
    free(p);
    return j;
}

int smap_save(const char *dir, const smap_t *s)
{
    char *text = smap_to_text(s);
    int rc = save_text(dir, "smap.json", text);
    free(text);
    return rc;
}

int md_save(const char *dir, const mdoc_t *d)
{
    char *text = md_to_text(d);
    char *name = xasprintf("%s.json", md_name[d->kind]);
    int rc = save_text(dir, name, text);
    free(name);
    free(text);
    return rc;
}

smap_t *smap_load(const char *dir)
{
    json_t *j = load_json_file(dir, "smap.json");
    smap_t *s = j ? smap_from_json(j) : NULL;
    json_decref(j);
    return s;
}

mdoc_t *md_load(const char *dir, md_kind_t kind)
{
    char *name = xasprintf("%s.json", md_name[kind]);
    json_t *j = load_json_file(dir, name);
    free(name);
    mdoc_t *d = j ? md_from_json(kind, j) : NULL;
    json_decref(j);
    return d;
}

/* ---------------------------------------------------------------- current versions */

void meta_load(const char *dir, const char *new_primary_id)
{
    free(state_dir);
    state_dir = xstrdup(dir);
    smap_t *s = smap_load(dir);
    if (s == NULL)
        s = smap_new(new_primary_id);
    mdoc_t *docs[MD_N];
    for (int k = 0; k < MD_N; k++) {
        docs[k] = md_load(dir, (md_kind_t)k);
        if (docs[k] == NULL)
            docs[k] = md_new((md_kind_t)k, s->uuid);
    }
    pthread_mutex_lock(&meta_lock);
    smap_t *old = cur_smap;
    cur_smap = s;
    mdoc_t *old_docs[MD_N];
    for (int k = 0; k < MD_N; k++) {
        old_docs[k] = cur_doc[k];
        cur_doc[k] = docs[k];
    }
    pthread_mutex_unlock(&meta_lock);
    if (old)
        smap_put(old);
    for (int k = 0; k < MD_N; k++)
        if (old_docs[k])
            md_put(old_docs[k]);
}

void meta_install_smap(smap_t *s)
{
    smap_save(state_dir, s);
    pthread_mutex_lock(&meta_lock);
    smap_t *old = cur_smap;
    cur_smap = s;
    int nl = n_smap_listeners;
    pthread_cond_broadcast(&smap_changed);
    pthread_mutex_unlock(&meta_lock);
    if (old) {
        for (int i = 0; i < nl; i++)
            smap_listeners[i](old, s);
        smap_put(old);
    }
}

bool smap_wait_version(int64_t version, int timeout_ms)
{
    struct timespec until = time_deadline_ms(timeout_ms);
    pthread_mutex_lock(&meta_lock);
    int rc = 0;
    while (cur_smap->version < version && rc == 0)
        rc = pthread_cond_timedwait(&smap_changed, &meta_lock, &until);
    bool ok = cur_smap->version >= version;
    pthread_mutex_unlock(&meta_lock);
    return ok;
}

void cluster_on_smap_change(smap_listener_cb cb)
{
    pthread_mutex_lock(&meta_lock);
    if (n_smap_listeners < MAX_LISTENERS)
        smap_listeners[n_smap_listeners++] = cb;
    pthread_mutex_unlock(&meta_lock);
}

void meta_install_md(mdoc_t *d)
{
    md_save(state_dir, d);
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
