/*
 * internal.h - what the parts of src/cluster share and no other component may use: the
 * writer side of the metadata (the write lock, installing a new version, loading the state
 * files) and the node's readiness flag.
 */
#ifndef LOCUS_CLUSTER_INTERNAL_H
#define LOCUS_CLUSTER_INTERNAL_H

#include "cluster/meta.h"
#include "common/json.h"

/* Serializes writers (primary changes, metasync receipt, start-up). Taken before the lock
 * that guards the snapshots; never held by readers. */
void meta_write_lock(void);
void meta_write_unlock(void);

/* Makes the documents persisted in dir current, or new empty ones when a file is missing (a
 * new smap gets a random uuid and primary new_primary_id, version 0). Every later install
 * persists into dir. Drops the reference to the documents that were current before. */
void meta_load(const char *dir, const char *new_primary_id);

/* Persists a new version, swaps it in (taking the caller's reference) and, for documents,
 * calls the change listeners. Caller holds the write lock. */
void meta_install_smap(smap_t *s);
void meta_install_md(mdoc_t *d);

/* New documents with one reference (smap_put/md_put free them). */
smap_t *smap_clone(const smap_t *s);
mdoc_t *md_new(md_kind_t kind, const char *uuid);
/* Frees a node's strings (the node itself belongs to its array). */
void snode_dispose(snode_t *n);
/* Restores the order by id after nodes were added. */
void smap_sort(smap_t *s);

/* Starts counting requests for GET /metrics (stats.c): once, when the node's id is known. */
void stats_init(void);

/* Set once the node has joined (or, on the primary, started): /v1/health answers 200. */
void cluster_mark_ready(void);

#endif
