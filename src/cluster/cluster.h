/*
 * cluster.h - this node in the cluster (docs/design.md §4): its identity (id, URL, role, the
 * primary's URL, its configuration, whether it is ready) and the start and stop of its
 * cluster side: loading the persisted metadata, then joining or serving as primary.
 *
 * The cluster is split by responsibility: cluster/meta.h (smap, BMD, EtlMD, snapshots, state
 * files), cluster/metasync.h (distribution, cluster_md_modify), cluster/membership.h (join,
 * keepalive, dead nodes), cluster/vote.h (primary failover) and cluster/daemon.h (the endpoints
 * every node serves, route_split).
 */
#ifndef LOCUS_CLUSTER_CLUSTER_H
#define LOCUS_CLUSTER_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>

#include "common/config.h"

/* A PUT with this header (32 lowercase hex digits: the body's MD5, computed by the S3 API of the
 * proxy that relays it, src/s3) makes the target keep it in the object's custom metadata as
 * "ETag", which the S3 API answers as the object's ETag. */
#define CLUSTER_HDR_MD5_ETAG "Locus-Md5-Etag"
/* An mpt-complete with this header (the smallest part but the last, in bytes) follows S3's rules
 * (the listed parts only, in ascending order, their MD5s checked) and answers {"etag"} (200) or
 * {"message","status","code"} with S3's error code. A part PUT keeps its CLUSTER_HDR_MD5_ETAG. */
#define CLUSTER_HDR_S3_MPT "Locus-S3-Mpt"

const char *cluster_self_id(void);
const char *cluster_self_url(void);
const char *cluster_self_name(void); /* "p[ID]" or "t[ID]" */
/* Whether this node is the primary proxy: what the current smap says (it changes with a
 * failover or a handover, docs/design.md §4.4). Thread-safe. */
bool cluster_is_primary(void);
/* The current primary's URL: the smap's primary, else (before this node joined) the configured
 * primary_url, else self. Borrowed, valid for the life of the process. Thread-safe. */
const char *cluster_primary_url(void);
node_role_t cluster_role(void);
const config_t *cluster_config(void);
bool cluster_ready(void);

/* Loads or creates the node id (data_dir/daemon.id) and the metadata persisted in data_dir;
 * the primary puts itself into the smap. Needs no server: the network starts with
 * cluster_start. 0 or -1 with err. */
int cluster_init(config_t *cfg, char *err, size_t errlen);
/* Starts joining (non-primary) or serving as primary, and the keepalive/dead-node thread. */
void cluster_start(void);
void cluster_stop(void);

#endif
