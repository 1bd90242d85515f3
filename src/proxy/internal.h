/*
 * internal.h - proxy internals shared by the files of src/proxy only.
 */
#ifndef LOCUS_PROXY_INTERNAL_H
#define LOCUS_PROXY_INTERNAL_H

#include <jansson.h>

#include "cluster/cluster.h"
#include "cluster/meta.h"
#include "cluster/metasync.h"
#include "cluster/trust.h"
#include "net/net.h"

/* Fan-outs of a handler to the storage targets: the calls run in parallel, then the answers
 * are checked and merged in smap order, on the caller's thread. */
#define PROXY_FANOUT_MAX 32 /* calls in flight at once */
#define PROXY_ERR_MAX 2048  /* error messages of a fan-out */

typedef struct proxy_bcast_s proxy_bcast_t;
/* Takes one target's 200 JSON answer (borrowed: incref to keep it). Returns 0 to go on, or an
 * HTTP status (b->err filled) that ends the merge and becomes proxy_bcast's result. */
typedef int (*proxy_merge_cb)(proxy_bcast_t *b, const snode_t *t, json_t *answer);

struct proxy_bcast_s {
    /* in */
    const char *method;
    const char *path;     /* "/v1/..." with its query */
    const char *body;     /* JSON text or NULL */
    int timeout_ms;       /* per call */
    bool strict;          /* any target without a 200 (JSON, with merge) answer fails it all */
    const char *only;     /* call this target only (NULL: every target of the smap) */
    bool pass_4xx;        /* strict: a target's 4xx answer fails it with that status */
    proxy_merge_cb merge; /* NULL: answers are not parsed */
    void *arg;            /* for merge */
    /* out */
    size_t n_targets; /* targets called */
    size_t n_ok;      /* 200 answers (with merge: those handed to it) */
    char failed[64];  /* strict: the id of the first target that failed */
    char err[PROXY_ERR_MAX];
};

/* Calls the targets of the current smap with b's request, then hands each OK answer to
 * b->merge. Returns 0, or the HTTP status of the failure with b->err: 503 "target <id>
 * failed: <why>" (strict), 500 for an answer that is not JSON (strict), 404 when b->only is not
 * in the smap, or what merge returned. */
int proxy_bcast(proxy_bcast_t *b);
/* POST /v1/objects/<bck> {"action":"promote",...} (promote.c). */
void proxy_promote(http_req_t *req, const char *bck);

/* Case-insensitive object member lookup (Go's json decoding matches keys that way). */
json_t *json_get_ci(json_t *obj, const char *key);

/* Jobs (proxy/jobs.c). */
/* Starts job kind on every target (POST /v1/xactions); its id into id (16 bytes). 0, or 503
 * with err (a target refused it: it is aborted on the others). */
int proxy_job_launch(const char *kind, const char *src, const char *dst, json_t *msg, char *id,
                     size_t idlen, char *err, size_t errlen);
/* The same on one target only (only: its id) or, with NULL, on every target. */
int proxy_job_launch_on(const char *only, const char *kind, const char *src, const char *dst,
                        json_t *msg, char *id, size_t idlen, char *err, size_t errlen);
void proxy_job_start(http_req_t *req, const char *kind, const char *src, const char *dst,
                     json_t *msg);
void proxy_job_query(http_req_t *req);
void proxy_job_abort(http_req_t *req);

/* Relays the request to the primary proxy and its answer back (metadata changes). */
void proxy_forward_to_primary(http_req_t *req);

/* ETL control plane (proxy/etl.c): /v1/etl[/<name>[/<verb>[/<tid>]]]. */
void proxy_etl_request(http_req_t *req, const char **segs, int nseg);

/* Rebalance and membership (proxy/rebalance.c). PUT /v1/cluster with a membership action
 * (start-maintenance, stop-maintenance, decommission-node, shutdown-node) or "rebalance":
 * handled (true) or not one of them (false). GET /v1/cluster?what=rmd: the last rebalance. */
bool proxy_cluster_action(http_req_t *req, const char *action, json_t *value);
void proxy_reb_status(http_req_t *req);
/* /v1/reverse/daemon[/...] with Ais-Node-Id: relayed to that target (proxy/reverse.c). */
void proxy_reverse(http_req_t *req, const char **segs, int nseg);

/* Bucket properties (proxy/bprops.c): the defaults of a new bucket (new reference), and a
 * partial update (AIStore's BpropsToSet, NULL = none) checked and merged into props: 0, or 400
 * (bad key or value) / 501 (a redundancy not built yet) with err, props unchanged. */
json_t *bprops_default(void);
int bprops_merge(json_t *props, json_t *set, char *err, size_t errlen);

/* Bucket summaries (proxy/bsumm.c), AIStore's summary-bck: GET /v1/buckets[/<b>] with the
 * action (bck NULL: every bucket), and HEAD /v1/buckets/<b>[/<prefix>]?bsumm_remote=...
 * (GetBucketInfo) answering with props (Ais-Bucket-Props). */
void proxy_bsumm_get(http_req_t *req, const char *bck, json_t *value);
void proxy_bsumm_head(http_req_t *req, const char *bck, const char *prefix, const char *props);
/* PUT /v1/cluster {"action":"start","value":xact.ArgsMsg} (proxy/jobs.c). */
void proxy_job_start_kind(http_req_t *req, json_t *value);

/* Lists (proxy/list.c). */
void proxy_list_objects(http_req_t *req, const char *bck, json_t *lsomsg);
/* GET /v1/ml/moss[/<bck>] (GetBatch, moss.c): checks the MossReq, redirects to a target. */
void proxy_moss(http_req_t *req, const trust_t *who, const char *bck);
/* PUT|POST /v1/buckets/<b> {"action":"archive","value":ArchiveBckMsg} (moss.c): checks the
 * message and starts the archive job. */
void proxy_archive(http_req_t *req, const char *src, json_t *value);
/* Validates the objnames or the range template of a list/range operation (proxy.c). NULL when
 * valid, else a reason (static or in err). */
const char *check_listrange(json_t *names, json_t *tmpl, char *err, size_t errlen);

#endif
