/*
 * internal.h - proxy internals shared by the files of src/proxy only.
 */
#ifndef LOCUS_PROXY_INTERNAL_H
#define LOCUS_PROXY_INTERNAL_H

#include <jansson.h>

#include "cluster/cluster.h"
#include "cluster/meta.h"
#include "cluster/metasync.h"
#include "net/net.h"

/* One intra-cluster call of a fan-out. */
typedef struct {
    char *url; /* owned */
    const char *method;
    const char *body; /* borrowed, JSON or NULL */
    httpc_resp_t resp;
    int rc;
    const char *node_id; /* borrowed from the smap snapshot */
} call_t;

/* Runs the calls in parallel and waits for all. */
void proxy_fanout(call_t *calls, size_t n, int timeout_ms);
void proxy_calls_dispose(call_t *calls, size_t n);
/* Builds one call per target of s for path_query ("/v1/..."). Caller disposes and frees. */
call_t *proxy_calls_targets(const smap_t *s, const char *method, const char *path_query,
                            const char *body);

/* Case-insensitive object member lookup (Go's json decoding matches keys that way). */
json_t *json_get_ci(json_t *obj, const char *key);

/* Jobs (proxy/jobs.c). */
void proxy_job_start(http_req_t *req, const char *kind, const char *src, const char *dst,
                     json_t *msg);
void proxy_job_query(http_req_t *req);
void proxy_job_abort(http_req_t *req);

/* Relays the request to the primary proxy and its answer back (metadata changes). */
void proxy_forward_to_primary(http_req_t *req);

/* ETL control plane (proxy/etl.c): /v1/etl[/<name>[/<verb>[/<tid>]]]. */
void proxy_etl_request(http_req_t *req, const char **segs, int nseg);

/* Lists (proxy/list.c). */
void proxy_list_objects(http_req_t *req, const char *bck, json_t *lsomsg);

#endif
