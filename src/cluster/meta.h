/*
 * meta.h - the cluster metadata documents (docs/design.md §4): the cluster map (smap), the
 * bucket metadata (BMD) and the ETL metadata (EtlMD): types, reference-counted snapshots,
 * their JSON forms, their state files, and the version order that decides which copy wins.
 *
 * DESIGN
 * Readers take a reference-counted immutable snapshot (smap_get/bmd_get ... _put) and never
 * hold the metadata lock across I/O. A writer (the primary, or a node applying metasync)
 * builds a new version, persists it and swaps it in (cluster/internal.h); snapshots taken
 * before the swap stay valid until their _put.
 */
#ifndef LOCUS_CLUSTER_META_H
#define LOCUS_CLUSTER_META_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Node flags (the smap's "flags"): AIStore's bits, and Locus's DOWN. */
#define SNODE_MAINT 4u          /* in maintenance: out of placement, its objects move away */
#define SNODE_DECOMM 8u         /* being decommissioned: the same, then removed from the map */
#define SNODE_MAINT_POSTREB 16u /* AIStore: in maintenance after its rebalance */
#define SNODE_DOWN 1024u        /* stopped or silent: kept in the map, out of placement */
/* Targets with any of these hold no placement (HRW skips them). */
#define SNODE_NO_PLACEMENT (SNODE_MAINT | SNODE_DECOMM | SNODE_DOWN)

typedef struct {
    char *id;
    char *url; /* public URL, no trailing slash */
    uint64_t digest;
    bool is_proxy;
    uint32_t flags; /* SNODE_* */
} snode_t;

typedef struct smap_s {
    int refcnt; /* guarded by the metadata lock */
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
    int refcnt; /* guarded by the metadata lock */
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

/* HRW owner of an object (uname "ais/@#/b/o") among the targets that hold placement (no
 * SNODE_NO_PLACEMENT flag); NULL when there are none. */
const snode_t *smap_owner(const smap_t *s, const char *bck, const char *obj);
/* The same among the targets without any of the flags in skip (0: every target). */
const snode_t *smap_owner_skip(const smap_t *s, const char *bck, const char *obj, uint32_t skip);
/* Targets with placement (no SNODE_NO_PLACEMENT flag). */
size_t smap_active_targets(const smap_t *s);
const snode_t *smap_find(const smap_t *s, const char *id);

/* The bucket's entry or NULL (borrowed from b). */
json_t *bmd_bucket(const bmd_t *b, const char *name);
/* The names of the current BMD's buckets (a new array of strings): walks over them need not
 * hold the BMD. */
json_t *bmd_bucket_names(void);

/* The document's name: "bmd" or "etlmd" (its state file and its key in metasync bodies). */
const char *md_kind_name(md_kind_t kind);

/* ---- JSON forms */

/* The smap as AIStore's JSON (docs/protocol.md §1.1); caller frees. */
char *smap_to_text(const smap_t *s);
/* Parses the smap JSON (load it with JSON_DECODE_INT_AS_REAL: id_digest does not fit int64).
 * A new snapshot with one reference, or NULL when a required field is missing. */
smap_t *smap_from_json(json_t *j);
/* {"version":"N","uuid":..,"buckets"|"etls":{..}}; new reference. */
json_t *md_to_json(const mdoc_t *d);
/* md_to_json for a response: an EtlMD without its per-ETL secrets and with every env value
 * replaced by ETLMD_REDACTED (specs carry passwords and keys; only targets need them). */
json_t *md_to_public_json(const mdoc_t *d);
#define ETLMD_REDACTED "<redacted>"
/* One EtlMD entry the same way; new reference. */
json_t *etlmd_entry_public(const json_t *entry);
/* A new document with one reference (items copied), or NULL when j is not one. */
mdoc_t *md_from_json(md_kind_t kind, json_t *j);
/* All current documents as one JSON text {"smap":..,"bmd":..,"etlmd":..} (the body of
 * metasync and of the primary's join/keepalive answers); caller frees. */
char *meta_all_text(void);

/* ---- state files (dir/smap.json, dir/bmd.json, dir/etlmd.json, written atomically) */

/* 0 or -errno. */
int smap_save(const char *dir, const smap_t *s);
int md_save(const char *dir, const mdoc_t *d);
/* NULL when the file is missing or unreadable (the latter is logged). */
smap_t *smap_load(const char *dir);
mdoc_t *md_load(const char *dir, md_kind_t kind);

/* ---- version order */

/* How a received document relates to the current one. A different uuid is another
 * cluster's document whatever its version. */
typedef enum { META_OLDER, META_SAME, META_NEWER, META_FOREIGN } meta_order_t;
meta_order_t meta_order(int64_t cur_version, const char *cur_uuid, int64_t version,
                        const char *uuid);
/* Whether a received document of that order replaces the current one: newer ones do, and so
 * do foreign ones (the sender's cluster wins, e.g. after the primary lost its state). */
bool meta_order_installs(meta_order_t o);

/* ---- change listeners */

/* Called on every node when a new version replaces the old one (after the swap). */
typedef void (*md_listener_cb)(const mdoc_t *old_doc, const mdoc_t *new_doc);
void cluster_on_md_change(md_kind_t kind, md_listener_cb cb);
#define cluster_on_bmd_change(cb) cluster_on_md_change(MD_BMD, cb)
/* Called on every node when a new smap replaces the old one (after the swap, with the
 * metadata write lock held: a listener must not change metadata or wait for other nodes). */
typedef void (*smap_listener_cb)(const smap_t *old_smap, const smap_t *new_smap);
void cluster_on_smap_change(smap_listener_cb cb);
/* Blocks until this node's map is at least at version (installed by a push from the primary),
 * at most timeout_ms; true when it is. */
bool smap_wait_version(int64_t version, int timeout_ms);

#endif
