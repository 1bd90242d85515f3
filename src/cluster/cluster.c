/*
 * cluster.c - this node's identity and the start-up of its cluster side. See cluster.h.
 */
#include "cluster/cluster.h"
#include "cluster/internal.h"
#include "cluster/membership.h"
#include "cluster/meta.h"
#include "cluster/trust.h"
#include "cluster/vote.h"
#include "common/log.h"
#include "common/names.h"
#include "common/util.h"
#include "net/net.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static config_t *cfg;
static char self_id[128];
static char self_name[160];
static volatile bool ready;

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
    if (cfg->role != ROLE_PROXY)
        return false;
    smap_t *s = smap_get();
    bool p = s->primary_id && strcmp(s->primary_id, self_id) == 0;
    smap_put(s);
    return p;
}

/* The primary URLs handed out by cluster_primary_url: kept for the life of the process, so that
 * a caller's borrowed pointer stays valid after the primary changes (one per primary seen). */
static pthread_mutex_t urls_lock = PTHREAD_MUTEX_INITIALIZER;
static char **urls;
static size_t n_urls;

static const char *intern_url(const char *u)
{
    pthread_mutex_lock(&urls_lock);
    const char *out = NULL;
    for (size_t i = 0; i < n_urls && out == NULL; i++)
        if (strcmp(urls[i], u) == 0)
            out = urls[i];
    if (out == NULL) {
        urls = xrealloc(urls, (n_urls + 1) * sizeof(char *));
        out = urls[n_urls++] = xstrdup(u);
    }
    pthread_mutex_unlock(&urls_lock);
    return out;
}

const char *cluster_primary_url(void)
{
    smap_t *s = smap_get();
    const snode_t *p = s->primary_id && s->primary_id[0] ? smap_find(s, s->primary_id) : NULL;
    const char *u = p ? intern_url(p->url) : cfg->primary_url ? cfg->primary_url : cfg->public_url;
    smap_put(s);
    return u;
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
void cluster_mark_ready(void)
{
    ready = true;
}

static int load_or_make_id(char *err, size_t errlen)
{
    char *p = xasprintf("%s/daemon.id", cfg->data_dir);
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

/* The primary names itself primary in the smap and joins it; a new cluster's first smap is
 * version 1. */
static void primary_takeover(void)
{
    meta_write_lock();
    smap_t *cur = smap_get();
    if (strcmp(cur->primary_id, self_id) != 0) {
        smap_t *n = smap_clone(cur);
        free(n->primary_id);
        n->primary_id = xstrdup(self_id);
        n->version++;
        meta_install_smap(n);
    }
    smap_put(cur);
    smap_upsert(self_id, cfg->public_url, true);
    cur = smap_get();
    if (cur->version == 0) {
        smap_t *n = smap_clone(cur);
        n->version = 1;
        meta_install_smap(n);
    }
    smap_put(cur);
    for (int k = 0; k < MD_N; k++) {
        mdoc_t *d = md_get((md_kind_t)k);
        md_save(cfg->data_dir, d);
        md_put(d);
    }
    meta_write_unlock();
}

/* A proxy restarting with a map that names it primary, or with the bootstrap primary's
 * configuration, asks the nodes of its map whether the cluster moved on while it was away (a
 * new primary was elected): then it joins as a non-primary. The bootstrap primary claims the
 * role again only when the primary its map names does not answer. */
static void check_primacy(bool boot_primary)
{
    smap_t *s = smap_get();
    bool named = strcmp(s->primary_id, self_id) == 0;
    bool others = s->version > 0 && s->n_proxies + s->n_targets > (smap_find(s, self_id) ? 1 : 0);
    smap_put(s);
    if (!others || !(named || boot_primary))
        return;
    httpc_global_init();
    vote_discover(false);
    s = smap_get();
    const snode_t *p = smap_find(s, s->primary_id);
    char *purl = p && strcmp(p->id, self_id) != 0 ? xstrdup(p->url) : NULL;
    char *pid = xstrdup(s->primary_id);
    smap_put(s);
    if (purl == NULL && strcmp(pid, self_id) != 0 && !boot_primary) {
        LOCUS_LOG(LOG_WARNING, "%s: my map names primary %s, which it does not hold", self_name,
                  pid);
    } else if (purl && boot_primary && !vote_node_answers(purl)) {
        LOCUS_LOG(LOG_NOTICE, "%s: primary %s of my map does not answer: I am the primary again",
                  self_name, pid);
        meta_write_lock();
        smap_t *cur = smap_get();
        smap_t *n = smap_clone(cur);
        smap_put(cur);
        free(n->primary_id);
        n->primary_id = xstrdup(self_id);
        n->version++;
        meta_install_smap(n);
        meta_write_unlock();
    } else if (purl) {
        LOCUS_LOG(LOG_NOTICE, "%s: the cluster's primary is %s at %s: joining as a non-primary",
                  self_name, pid, purl);
    }
    free(purl);
    free(pid);
}

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
    trust_init();
    stats_init();
    bool boot_primary = cfg->role == ROLE_PROXY && cfg->primary_url == NULL;
    meta_load(cfg->data_dir, boot_primary ? self_id : "");
    if (cfg->role == ROLE_PROXY)
        check_primacy(boot_primary);
    if (cluster_is_primary())
        primary_takeover();
    return 0;
}

void cluster_start(void)
{
    httpc_global_init();
    membership_start();
}

void cluster_stop(void)
{
    membership_stop();
}
