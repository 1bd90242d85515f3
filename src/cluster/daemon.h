/*
 * daemon.h - the endpoints every node serves whatever its role (/v1/health, /v1/daemon,
 * /v1/metasync, /v1/cluster/join|keepalive on the primary, /v1/vote/proxy on proxies), and the
 * path splitting the role routers share (docs/protocol.md §1.1).
 */
#ifndef LOCUS_CLUSTER_DAEMON_H
#define LOCUS_CLUSTER_DAEMON_H

#include <stdbool.h>
#include <stddef.h>

#include "cluster/trust.h"
#include "net/net.h"

/* Handles the endpoints above for caller who (trust_identify): /v1/health is public,
 * /v1/daemon needs SHOW-CLUSTER (what=etlmd: ADMIN), the rest are intra-cluster (metasync only
 * from the primary). Returns true if it answered. */
bool cluster_handle(http_req_t *req, const char **segs, int nseg, const trust_t *who);

/* GET /metrics (Prometheus text; docs/operations.md, "Metrics"): public like /v1/health.
 * Returns true if it answered (the path is /metrics). */
bool stats_handle(http_req_t *req);

/* What this node does when the primary tells it to stop (PUT /v1/daemon shutdown-node or
 * decommission-node): the daemon registers it (it must not block: it starts the shutdown).
 * rm_user_data: a decommissioned target removes its objects first. */
void cluster_on_stop_request(void (*cb)(bool rm_user_data));
/* Lets the role answer more what= values of GET /v1/daemon: cb returns the JSON answer (a new
 * reference), or NULL when it does not know what. Register once, at start-up. */
typedef json_t *(*cluster_daemon_what_cb)(const char *what);
void cluster_on_daemon_what(cluster_daemon_what_cb cb);

/* Splits a decoded path "/v1/a/b/c" into segments after "v1" (at most max). Returns the
 * count, or -1 if the path does not start with /v1/. The object part (everything after the
 * second segment of /v1/objects/<b>/<o>) is returned whole by route_object_name(). */
int route_split(const char *path, char *copy, size_t copylen, const char **segs, int max);

#endif
