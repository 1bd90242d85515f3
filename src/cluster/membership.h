/*
 * membership.h - who is in the cluster (docs/design.md §4): non-primary nodes join the
 * primary and send it keepalives; the primary adds joining nodes to the smap and drops the
 * nodes it has not heard from for keepalive_timeout.
 *
 * DESIGN
 * One background thread per node (membership_start). Its role follows the smap (the primary
 * can change: cluster/vote.h): on the primary it checks for dead nodes every half keepalive
 * interval; elsewhere it joins the current primary (retrying every 200 ms), then sends a
 * keepalive every interval and joins again when the primary no longer knows the node. After
 * VOTE_FAILED_KEEPALIVES failed keepalives in a row it asks the other nodes for a newer map
 * (another primary) and, on a proxy, runs the election when it is the candidate. The join and
 * keepalive answers carry the metadata when the node is behind.
 */
#ifndef LOCUS_CLUSTER_MEMBERSHIP_H
#define LOCUS_CLUSTER_MEMBERSHIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/net.h"

/* Starts and stops the background thread (cluster_start/cluster_stop). */
void membership_start(void);
void membership_stop(void);

/* Primary: POST /v1/cluster/join, /v1/cluster/keepalive and /v1/cluster/leave (caller: the
 * id the request is signed with, NULL when unknown). */
void membership_handle_join(http_req_t *req);
void membership_handle_keepalive(http_req_t *req);
void membership_handle_leave(http_req_t *req, const char *caller);

/* Primary: sets and clears SNODE_* flags of a node (a new smap version, pushed, when they
 * change), or removes it from the map. 0, or -1 when the node is not in the map. */
int membership_set_flags(const char *id, uint32_t set, uint32_t clear);
int membership_remove(const char *id);
/* Primary: cb(id) when a target joins that the map already holds as it is (it restarted
 * within keepalive_timeout). Set once at start-up. */
void membership_on_rejoin(void (*cb)(const char *id));
/* This node was told to leave the cluster (decommission): it stops joining and sending
 * keepalives. */
void membership_leave(void);

/* ---- the steps, for cluster_init and tests */

/* Adds a node or updates its URL or role (one new smap version); false, with no new version,
 * when the node is already there as given. Caller holds the write lock (cluster/internal.h);
 * does not push the new smap. */
bool smap_upsert(const char *id, const char *url, bool is_proxy);
/* Removes the nodes (unknown ids are skipped) in one new smap version; same rules. */
void smap_remove_nodes(char **ids, size_t nids);
/* Sets and clears a node's flags in one new smap version; false (no version) when unknown or
 * unchanged. Same rules. */
bool smap_set_flags(const char *id, uint32_t set, uint32_t clear);
/* Records that the node was heard from now. */
void seen_touch(const char *id);
/* Primary: removes the nodes not heard from for keepalive_timeout and pushes the new smap. A
 * node never heard from (e.g. after a primary restart) gets a grace period from now. */
void check_dead_nodes(void);
/* Non-primary: one join (0: joined and metadata applied) and one keepalive (0: fine, 1: the
 * primary does not know us, -1: primary unreachable). */
int join_once(void);
int keepalive_once(void);

#endif
