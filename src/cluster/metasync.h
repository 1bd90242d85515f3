/*
 * metasync.h - metadata distribution (docs/design.md §4): the primary changes a document and
 * pushes every document to every other node; every node applies what it receives when it is
 * newer (or another cluster's, see meta_order_installs).
 *
 * DESIGN
 * The push is synchronous: a bucket created through any proxy is known to every target when
 * the create returns. Changes are serialized by the metadata write lock.
 */
#ifndef LOCUS_CLUSTER_METASYNC_H
#define LOCUS_CLUSTER_METASYNC_H

#include <jansson.h>
#include <stddef.h>

#include "cluster/meta.h"

/* Primary only: applies fn to a copy of the document's items; on 0 the new version is
 * persisted and pushed to all nodes before returning. fn returns 0, or an HTTP status (>= 400)
 * with a message in err to refuse; 503 when this node is not (or no longer) the primary. */
typedef int (*md_modify_cb)(json_t *items, void *arg, char *err, size_t errlen);
int cluster_md_modify(md_kind_t kind, md_modify_cb fn, void *arg, char *err, size_t errlen);
#define cluster_bmd_modify(fn, arg, err, errlen) cluster_md_modify(MD_BMD, fn, arg, err, errlen)
typedef md_modify_cb bmd_modify_cb;

/* Installs each document of a metasync body {"smap":..,"bmd":..,"etlmd":..} (any may be
 * missing) that is newer or foreign; others are ignored. For the primary's answers to this
 * node's own join and keepalive requests (a primary that started over has another uuid).
 * Takes the write lock: the caller must not hold it. */
void metasync_apply(json_t *j);

/* A metasync push (POST /v1/metasync) from node sender: accepted only from the primary of this
 * node's cluster (sender is its smap's primary; a node that never joined takes the primary the
 * pushed smap names) and only with this cluster's uuid: then newer documents are installed,
 * the rest ignored. Two pushes change the primary (docs/design.md §4.4): an elected proxy's
 * (a newer map naming the sender, a proxy of the current map that may be elected) and the
 * primary's handover (a newer map naming another proxy). 0, or an HTTP status with err: 403 (not
 * the primary), 409 (another cluster's uuid). Takes the write lock. */
int metasync_receive(json_t *j, const char *sender, char *err, size_t errlen);

/* Pushes all current documents to every other node of the current smap, in parallel, and
 * waits (a node that does not answer is logged and skipped). Caller holds the write lock. */
void metasync_all(void);

#endif
