/*
 * etl.h - target-side ETL (docs/design.md §8): the process runtime that runs one ETL server
 * per (ETL, target), the communicators that send objects to it, and the inline (GET) and
 * offline (job) transform paths. The EtlMD entries it runs are described in etlspec/etlspec.h.
 */
#ifndef LOCUS_ETL_ETL_H
#define LOCUS_ETL_ETL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "etlspec/etlspec.h"
#include "net/net.h"

typedef struct etl_inst_s etl_inst_t;

/* How target-side ETL reaches the target's objects: the target hands these to etl_target_init,
 * so this component never includes the target's headers (docs/design.md §2). */
typedef struct {
    /* Opens a local object for reading: 0 with *fd and *size, or -errno (-ENOENT: missing). */
    int (*open)(const char *bck, const char *obj, int *fd, int64_t *size);
    /* The object's FQN (its local path) on this target; caller frees. */
    char *(*fqn)(const char *bck, const char *obj);
    /* Every mountpath that may hold objects now (they change at run time: attach, detach), at
     * most max, strdup'd into out (caller frees); the count. NULL: the config's list. */
    size_t (*mountpaths)(char **out, size_t max);
} etl_objects_t;

/* Starts the runtime; objs must outlive it. */
int etl_target_init(const etl_objects_t *objs, char *err, size_t errlen);
void etl_target_shutdown(void);
/* Checks the secret of an ETL's object endpoint (/v1/etl/_object/<etl>/<secret>/...): 0, or
 * 404 (unknown ETL) / 403 (wrong secret) with err filled. */
int etl_check_secret(const char *etl, const char *secret, char *err, size_t errlen);
/* Handles /v1/etl/... on a target (status, logs, health). True if answered. */
bool etl_target_handle(http_req_t *req, const char **segs, int nseg);

/* Referenced lookup of the running ETL server for name. NULL with an HTTP status and message
 * when there is none (404 unknown, 503 not running). */
etl_inst_t *etl_acquire(const char *name, int *status, char *err, size_t errlen);
void etl_release(etl_inst_t *e);
void etl_count(etl_inst_t *e, int64_t in_bytes, int64_t out_bytes);
/* Adds the bytes of a result that an ETL server of etl delivered to this target (direct put) to
 * that ETL's out_bytes here: its sender counted the object but could not know its size. */
void etl_count_delivered(const char *etl, int64_t bytes);
/* False (with the reason) once the server failed or was stopped. */
bool etl_alive(etl_inst_t *e, char *why, size_t whylen);

/* One transform request. */
typedef struct {
    const char *bck;
    const char *obj;
    int fd; /* object data, read from offset 0 */
    int64_t size;
    const char *args;     /* etl_args or NULL */
    const char *fqn;      /* the object's local path when the ETL runs in FQN mode, else NULL */
    const char *dst_url;  /* direct put: AIStore-style destination address
                           * "<dst target URL>/<PathEscape(dst uname)>[?uuid=<job>]", else NULL */
    void *session;        /* communicator session of an offline job (etl_session_open), or NULL
                           * for inline requests */
    const char *pipeline; /* the later stages' server URLs "u2,u3" (etl_pipeline_urls), or NULL;
                           * sent before dst_url in Ais-Node-Url / the ws "pipeline" */
} etl_req_t;

/* Result sink: on_status is called once when the server's status is known and before any data;
 * sink for each chunk of transformed bytes. Either returns 0 or -1 to cancel. batch > 0: the
 * communicator may gather the bytes into chunks of up to that size before it calls sink (fewer
 * writes of a work file); 0 for a sink that streams to a client, which gets each piece as it
 * comes. */
#define ETL_SINK_BATCH (256 * 1024) /* etl_out_t.batch of a sink that writes a work file */
typedef struct {
    int (*on_status)(void *arg, int status, int64_t content_length);
    int (*sink)(void *arg, const void *p, size_t n);
    void *arg;
    size_t batch;
} etl_out_t;

/* Transforms one object. Returns 0 with the server's status (200, or 204 = delivered elsewhere)
 * or an HTTP status >= 400 with err filled ("ETL error: <body>" for server errors, timeouts 504,
 * unreachable 503). */
int etl_transform(etl_inst_t *e, const etl_req_t *rq, const etl_out_t *out, char *err,
                  size_t errlen);

/* Offline jobs: a communicator may keep per-job state (ws: a pool of nconns long-lived
 * connections). NULL when the communicator has none (hpush, hpull, io) or on error (err set;
 * the job then fails). etl_session_close is safe with NULL. */
void *etl_session_open(etl_inst_t *e, int nconns, char *err, size_t errlen);
void etl_session_close(etl_inst_t *e, void *session);
/* Whether results may go straight to the destination target (support_direct_put), and whether
 * the server reads objects by FQN (argument: fqn). */
bool etl_direct_put(const etl_inst_t *e);
bool etl_fqn_mode(const etl_inst_t *e);

/* Pipelines (pipeline.c): the stages after the first ETL of a request. */
#define ETL_NAME_BUF 64
typedef struct etl_pipeline_s {
    etl_inst_t *stages[ETL_PIPELINE_MAX]; /* held (etl_acquire) until etl_pipeline_release */
    size_t n;
    char *urls; /* their server URLs joined by ',' */
} etl_pipeline_t;
/* Splits an `etl_pipeline` value s[0..len) ("b,c"; spaces around names dropped) into at most max
 * valid ETL names. 0 with *n, or -1 with err (empty entry, bad name, too many). */
int etl_pipeline_split(const char *s, size_t len, char names[][ETL_NAME_BUF], size_t max, size_t *n,
                       char *err, size_t errlen);
/* Resolves the stages named by spec on this target, after the first ETL `first`: each must be
 * running and reachable by another server (not io://, no Unix socket; `first` not io://).
 * NULL with an HTTP status (400 malformed or unusable, 404 unknown, 400/503 not running as
 * etl_acquire) and err. */
etl_pipeline_t *etl_pipeline_acquire(const etl_inst_t *first, const char *spec, int *status,
                                     char *err, size_t errlen);
void etl_pipeline_release(etl_pipeline_t *p);
const char *etl_pipeline_urls(const etl_pipeline_t *p);
/* The Ais-Node-Url value of a request: rq->pipeline then rq->dst_url, comma-joined; NULL when
 * neither. Caller frees. */
char *etl_node_urls(const etl_req_t *rq);

/* Inline GET: streams the transformed object to the client through the ETL `etl_name` and then
 * the stages of `pipeline` ("b,c", NULL = none). Answers the request. */
void etl_inline_get(http_req_t *req, const char *bck, const char *obj, const char *etl_name,
                    const char *args, const char *pipeline);

#endif
