/*
 * cluster.h - cluster metadata (docs/design.md §4): the cluster map (smap) and the bucket
 * metadata (BMD), versioned, owned by the primary proxy, pushed to every node on change
 * (metasync), persisted atomically by every node; join, keepalive and the primary's
 * dead-node check.
 *
 * DESIGN
 * Readers take a reference-counted immutable snapshot (smap_get/bmd_get ... _put) and never
 * hold the metadata lock across I/O. Writers (the primary only) build a new version under
 * meta_lock, persist it, swap it in and push it to every other node synchronously, so a
 * bucket created through any proxy is known to every target when the create returns.
 */
#ifndef LOCUS_CLUSTER_CLUSTER_H
#define LOCUS_CLUSTER_CLUSTER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/config.h"
#include "net/net.h"

typedef struct {
    char *id;
    char *url; /* public URL, no trailing slash */
    uint64_t digest;
    bool is_proxy;
} snode_t;

typedef struct smap_s {
    int refcnt; /* guarded by meta_lock */
    int64_t version;
    char *uuid;
    char *creation_time;
    char *primary_id;
    snode_t *proxies; /* sorted by id */
    size_t n_proxies;
    snode_t *targets; /* sorted by id */
    size_t n_targets;
} smap_t;

/* Versioned metadata documents besides the smap: buckets (BMD) and ETLs (EtlMD). */
typedef enum { MD_BMD = 0, MD_ETL = 1, MD_N } md_kind_t;

typedef struct mdoc_s {
    int refcnt; /* guarded by meta_lock */
    md_kind_t kind;
    int64_t version;
    char *uuid;
    json_t *items; /* BMD: name -> {"bid","created","props"}; EtlMD: name -> ETL entry */
} mdoc_t;
typedef mdoc_t bmd_t;
typedef mdoc_t etlmd_t;

/* Snapshots: the returned pointer is valid until the matching _put. Safe from any thread. */
smap_t *smap_get(void);
void smap_put(smap_t *s);
mdoc_t *md_get(md_kind_t kind);
void md_put(mdoc_t *d);
bmd_t *bmd_get(void);
void bmd_put(bmd_t *b);

/* The smap as AIStore's JSON (docs/protocol.md §1.1); caller frees. */
char *smap_to_text(const smap_t *s);
/* HRW owner of an object (uname "ais/@#/b/o"); NULL when there are no targets. */
const snode_t *smap_owner(const smap_t *s, const char *bck, const char *obj);
const snode_t *smap_find(const smap_t *s, const char *id);

/* The bucket's entry or NULL (borrowed from b). */
json_t *bmd_bucket(const bmd_t *b, const char *name);

/* This node. */
const char *cluster_self_id(void);
const char *cluster_self_url(void);
const char *cluster_self_name(void); /* "p[ID]" or "t[ID]" */
bool cluster_is_primary(void);
const char *cluster_primary_url(void); /* borrowed; the configured primary or self */
node_role_t cluster_role(void);
const config_t *cluster_config(void);
bool cluster_ready(void);

/* Loads or creates the node id and the persisted metadata. 0 or -1 with err. */
int cluster_init(config_t *cfg, char *err, size_t errlen);
/* Starts joining (non-primary) or serving as primary, and the keepalive/dead-node threads. */
void cluster_start(void);
void cluster_stop(void);

/* Handles the endpoints every node serves (/v1/health, /v1/daemon, /v1/metasync,
 * /v1/cluster/join|keepalive on the primary). Returns true if it answered. */
bool cluster_handle(http_req_t *req, const char **segs, int nseg);

/* Primary only: applies fn to a copy of the document's items; on 0 the new version is
 * persisted and pushed to all nodes before returning. fn returns 0, or an HTTP status (>= 400)
 * with a message in err to refuse. */
typedef int (*md_modify_cb)(json_t *items, void *arg, char *err, size_t errlen);
int cluster_md_modify(md_kind_t kind, md_modify_cb fn, void *arg, char *err, size_t errlen);
#define cluster_bmd_modify(fn, arg, err, errlen) cluster_md_modify(MD_BMD, fn, arg, err, errlen)
typedef md_modify_cb bmd_modify_cb;

/* Called on every node when a new version replaces the old one (after the swap). */
typedef void (*md_listener_cb)(const mdoc_t *old_doc, const mdoc_t *new_doc);
void cluster_on_md_change(md_kind_t kind, md_listener_cb cb);
#define cluster_on_bmd_change(cb) cluster_on_md_change(MD_BMD, cb)

/* Splits a decoded path "/v1/a/b/c" into segments after "v1" (at most max). Returns the
 * count, or -1 if the path does not start with /v1/. The object part (everything after the
 * second segment of /v1/objects/<b>/<o>) is returned whole by route_object_name(). */
int route_split(const char *path, char *copy, size_t copylen, const char **segs, int max);

#endif
