/*
 * locus/client.h - liblocus, the C client library of Locus (and of any AIStore-compatible
 * cluster): cluster map, buckets, objects, listing, jobs and ETL over the REST API of
 * docs/protocol.md.
 *
 * Conventions
 * - Every fallible function returns 0 on success or a negative LOCUS_E* code. Codes that have an
 *   errno twin are the negated errno (LOCUS_ENOENT == -ENOENT); the others are domain codes.
 *   locus_strerror() translates a code.
 * - Functions take an optional `char err[LOCUS_ERR_LEN]` buffer (may be NULL). On failure it
 *   receives one human-readable line: the server's JSON `message` when there is one, else the
 *   HTTP status or the transport error.
 * - Strings passed in are borrowed for the duration of the call. Strings and arrays handed out
 *   are owned by the caller unless a comment says otherwise; free them with free() or with the
 *   matching _dispose() or _free() function named next to the type.
 * - Buckets are AIStore buckets of provider `ais` in the global namespace. Object names are any
 *   UTF-8 strings; the library percent-encodes them like Python's urllib.parse.quote (keeping
 *   '/').
 *
 * Threads: a locus_client_t is NOT thread-safe. It owns one libcurl easy handle (and so one
 * kept-alive connection); make one client per thread. Different clients may be used
 * concurrently from different threads. The library calls curl_global_init() once in a
 * thread-safe way on the first locus_client_create().
 */
#ifndef LOCUS_CLIENT_H
#define LOCUS_CLIENT_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef LOCUS_ERR_LEN
#define LOCUS_ERR_LEN 1024
#endif

/* Default endpoint when neither LOCUS_ENDPOINT nor AIS_ENDPOINT is set. */
#define LOCUS_DEFAULT_ENDPOINT "http://127.0.0.1:8080"

/* Result codes (all negative). */
#define LOCUS_EINVAL (-EINVAL)             /* bad argument (name, option) */
#define LOCUS_ENOMEM (-ENOMEM)             /* out of memory */
#define LOCUS_EIO (-EIO)                   /* local file read/write failed */
#define LOCUS_ENOENT (-ENOENT)             /* HTTP 404: no such bucket, object or job */
#define LOCUS_EEXIST (-EEXIST)             /* HTTP 409: already exists / conflict */
#define LOCUS_ETIMEDOUT (-ETIMEDOUT)       /* a wait or the transfer timed out */
#define LOCUS_ECONNREFUSED (-ECONNREFUSED) /* cannot connect to the endpoint */
#define LOCUS_EPROTO (-EPROTO)             /* unexpected or unparseable response */
#define LOCUS_ECANCELED (-ECANCELED)       /* a user callback aborted the transfer */
#define LOCUS_EHTTP (-4000)                /* other HTTP error status (see last_status) */
#define LOCUS_ETRANSPORT (-4001)           /* other transport (libcurl) error */
#define LOCUS_EJOB (-4002)                 /* a job ended with an error or was aborted */

/* Static text for a result code (never NULL). */
const char *locus_strerror(int code);

typedef struct locus_client_s locus_client_t;

/* ------------------------------------------------------------------------------------------ */
/* Client */

/* The endpoint to use when the caller has none: $LOCUS_ENDPOINT, then $AIS_ENDPOINT, then
 * LOCUS_DEFAULT_ENDPOINT. Borrowed (environment or static storage). */
const char *locus_default_endpoint(void);

/* The AuthN token to send when the caller sets none: $LOCUS_TOKEN, then $AIS_AUTHN_TOKEN, else
 * NULL. Borrowed (environment). */
const char *locus_default_token(void);

/* Creates a client for endpoint ("http://host:port", no path; NULL = locus_default_endpoint())
 * with the token locus_default_token(). Makes no request. *out is owned by the caller
 * (locus_client_destroy). */
int locus_client_create(const char *endpoint, locus_client_t **out, char *err);
/* Frees the client and closes its connection. NULL is fine. */
void locus_client_destroy(locus_client_t *c);
/* The endpoint (borrowed, valid while c lives; no trailing '/'). */
const char *locus_client_endpoint(const locus_client_t *c);
/* HTTP status of the last response received (0 if none). */
long locus_client_last_status(const locus_client_t *c);
/* Timeouts in milliseconds for the following requests: connect (default 5000) and low-speed
 * abort (a transfer slower than 1 byte/s for this long fails; default 60000; 0 = never). */
void locus_client_set_timeouts(locus_client_t *c, long connect_ms, long stall_ms);
/* The AuthN token (a JWT; copied) sent as "Authorization: Bearer <token>" to the endpoint; NULL
 * or "" sends none. Never sent on to where a redirect points: a cluster with auth signs its
 * redirects instead. */
void locus_client_set_token(locus_client_t *c, const char *token);

/* ------------------------------------------------------------------------------------------ */
/* Names */

/* Parses a bucket/object argument as AIStore's CLI writes it: "ais://bucket[/object]" or a bare
 * "bucket[/object]". A trailing '/' after the bucket gives an empty object name. Providers other
 * than ais are rejected. On success *bck is a new string and *obj a new string or NULL when no
 * object part was given ("b" and "ais://b"); "b/" gives obj "" (caller frees both). */
int locus_parse_name(const char *arg, char **bck, char **obj, char *err);
/* Checks a bucket name against AIStore's rule: [A-Za-z0-9_.-], 1..64 chars, no leading '.',
 * no "..". 0 or LOCUS_EINVAL (message in err). */
int locus_check_bucket_name(const char *bck, char *err);

/* ------------------------------------------------------------------------------------------ */
/* Cluster */

/* One node of the cluster map. */
typedef struct {
    char *id;        /* daemon_id */
    char *role;      /* "proxy" or "target" (daemon_type) */
    char *url;       /* public_net.direct_url */
    bool is_primary; /* proxy_si */
    uint64_t flags;  /* smap flags (maintenance bits) */
} locus_node_t;

/* GET /v1/daemon?what=smap. *json is the raw JSON text of the cluster map (caller frees). */
int locus_cluster_smap(locus_client_t *c, char **json, char *err);
/* Parses smap JSON into nodes: proxies first then targets, each group sorted by id.
 * *nodes (caller frees with locus_nodes_free) has *n entries. *version may be NULL. */
int locus_smap_parse(const char *json, locus_node_t **nodes, size_t *n, int64_t *version,
                     char *err);
void locus_nodes_free(locus_node_t *nodes, size_t n);
/* GET <node_url>/metrics: the node's Prometheus metrics as text (caller frees). */
int locus_node_metrics(locus_client_t *c, const char *node_url, char **text, char *err);
/* GET /v1/health (with prr=true when primary is set). 0 when the node answers 200. */
int locus_cluster_health(locus_client_t *c, bool primary, char *err);

/* Smap node flags (locus_node_t.flags): AIStore's maintenance and decommission bits, and Locus's
 * DOWN (the node shut down or missed its keepalives; it stays in the map until it returns or is
 * removed). */
#define LOCUS_NODE_MAINT 4
#define LOCUS_NODE_DECOMM 8
#define LOCUS_NODE_DOWN 1024

/* Options of a membership action; zero-initialize. */
typedef struct {
    bool skip_rebalance; /* start/stop-maintenance, decommission-node: no rebalance */
    bool rm_user_data;   /* decommission-node: the node deletes its mountpaths' data first */
    bool no_shutdown;    /* decommission-node: the node is removed but keeps running */
} locus_node_opts_t;

/* PUT /v1/cluster with the membership ActMsg {action, value: {sid: node_id, ...opts}}; action is
 * "start-maintenance", "stop-maintenance", "decommission-node" or "shutdown-node". *job_id
 * (caller frees; may be NULL) is the rebalance job the action started, "" when none.
 * LOCUS_ENOENT for an unknown node. opts may be NULL. */
int locus_node_action(locus_client_t *c, const char *action, const char *node_id,
                      const locus_node_opts_t *opts, char **job_id, char *err);
/* PUT /v1/cluster/proxy/<proxy_id> (AIStore's api.SetPrimaryProxy): the primary hands its role
 * to that proxy; any proxy forwards the request to the primary. LOCUS_ENOENT when the proxy is
 * not in the cluster map. */
int locus_cluster_set_primary(locus_client_t *c, const char *proxy_id, char *err);
/* PUT /v1/cluster {"action":"rebalance"}: starts a global rebalance; *job_id its id (caller
 * frees). */
int locus_rebalance_start(locus_client_t *c, char **job_id, char *err);

/* The state of the last global rebalance (GET /v1/cluster?what=rmd). Strings owned by the
 * struct (locus_rmd_dispose). */
typedef struct {
    int64_t version;             /* the rebalance's number: its job id is "g<version>" */
    char *id;                    /* job id, "" when there was none */
    int64_t smap_version;        /* the cluster map it rebalances to */
    char *state;                 /* "running", "done", "failed", "aborted" or "none" */
    int64_t start_ns, end_ns;    /* unix ns; end_ns 0 while running */
    int64_t objs, bytes, errors; /* objects and bytes moved so far, failures (all targets) */
    char *err;                   /* "" unless it failed */
} locus_rmd_t;

/* Fills *rmd (zeroed first; dispose it also after failure); *json (may be NULL) receives the raw
 * reply (caller frees). A cluster without global rebalance answers 400 (LOCUS_EINVAL). */
int locus_cluster_rmd(locus_client_t *c, locus_rmd_t *rmd, char **json, char *err);
void locus_rmd_dispose(locus_rmd_t *rmd);
/* True when the rebalance state is final: "done", "failed" or "aborted". */
bool locus_rmd_finished(const locus_rmd_t *rmd);

/* ------------------------------------------------------------------------------------------ */
/* Buckets */

int locus_bucket_create(locus_client_t *c, const char *bck, char *err);
/* Destroys the bucket and all its objects. */
int locus_bucket_destroy(locus_client_t *c, const char *bck, char *err);
/* PATCH set-bprops with props_json (AIStore's BpropsToSet, e.g. {"mirror":{"copies":2}}: only
 * what it names changes), or reset-bprops (back to the defaults) when props_json is NULL. */
int locus_bucket_set_props(locus_client_t *c, const char *bck, const char *props_json, char *err);
/* Starts a scrub of bck (POST scrub-bck): every target checks the objects it holds (whose name
 * starts with prefix, NULL = all) against their checksums; *job_id (caller frees). The corrupt
 * ones are the job's per-object errors (locus_job_errors). */
int locus_bucket_scrub(locus_client_t *c, const char *bck, const char *prefix, char **job_id,
                       char *err);
/* Erasure-codes bck (POST ec-encode, AIStore's ECEncodeBucket): with data > 0 and parity > 0,
 * enables ec with those slices; with both 0, the bucket must be erasure-coded already and the
 * job restores full redundancy (after a target was lost). *job_id: the ec-encode job. */
int locus_bucket_ec_encode(locus_client_t *c, const char *bck, int data, int parity, char **job_id,
                           char *err);
/* HEAD; *props_json receives the Ais-Bucket-Props header (caller frees; NULL if absent).
 * props_json may be NULL. LOCUS_ENOENT when the bucket does not exist. */
int locus_bucket_head(locus_client_t *c, const char *bck, char **props_json, char *err);
/* Names of the ais buckets, sorted. *names (caller frees with locus_strv_free) has *n entries. */
int locus_bucket_list(locus_client_t *c, char ***names, size_t *n, char *err);
void locus_strv_free(char **v, size_t n);

/* Options of a bucket-to-bucket copy (copy-bck); zero-initialize, NULL = default. */
typedef struct {
    const char *prefix;  /* only source objects with this name prefix */
    const char *prepend; /* prepended to every destination name */
    bool dry_run;        /* count, don't write */
    bool force;
    bool latest;
    bool sync;
    /* Only these objects (AIStore's copy-listrange, TCOMsg): names[0..n_names), or the range
     * template_str ("shard-{000..099}.tar"); both NULL: the whole bucket (copy-bck). */
    const char *const *names;
    size_t n_names;
    const char *template_str;
    int num_workers; /* 0 = the server's default */
} locus_copy_opts_t;

/* Starts copying bucket src into dst (created if missing). *job_id is the job id (caller frees);
 * wait for it with locus_job_wait(). opts may be NULL. */
int locus_bucket_copy(locus_client_t *c, const char *src, const char *dst,
                      const locus_copy_opts_t *opts, char **job_id, char *err);

/* AIStore's bucket summary (summary-bck, docs/protocol.md §1.13) of bck (NULL: every bucket),
 * objects under prefix (NULL: all): starts the job and polls it until it is done (timeout_ns 0 =
 * no limit: LOCUS_ETIMEDOUT after it). *json (caller frees) is AIStore's AllBsummResults text,
 * [{"name", "ObjCount": {"obj_count_present"}, "ObjSize", "TotalSize", "used_pct", ...}]. */
int locus_bucket_summary(locus_client_t *c, const char *bck, const char *prefix, int64_t timeout_ns,
                         char **json, char *err);

/* ------------------------------------------------------------------------------------------ */
/* Objects */

/* PUT from a buffer (borrowed during the call). */
int locus_object_put_buf(locus_client_t *c, const char *bck, const char *obj, const void *data,
                         size_t len, char *err);
/* PUT of `size` bytes read from fd starting at `offset` (pread: the fd's position is untouched,
 * so the body can be re-sent after a redirect). size < 0 = up to the end of the file (fstat).
 * fd must support pread (a regular file); it stays open and owned by the caller. */
int locus_object_put_fd(locus_client_t *c, const char *bck, const char *obj, int fd, int64_t offset,
                        int64_t size, char *err);
/* PUT of a whole file. */
int locus_object_put_file(locus_client_t *c, const char *bck, const char *obj, const char *path,
                          char *err);

/* Receives a GET body piece by piece; return 0 to continue, anything else to abort the transfer
 * (the GET then fails with LOCUS_ECANCELED, or with the value returned if it is negative). */
typedef int (*locus_write_cb)(void *arg, const void *data, size_t len);

/* An optional byte range for GET: `len` bytes from `off` (len < 0 = to the end). */
typedef struct {
    int64_t off;
    int64_t len;
} locus_range_t;

/* Streams the object (or range; NULL = whole) to cb. *nbytes (may be NULL) = bytes delivered. */
int locus_object_get_cb(locus_client_t *c, const char *bck, const char *obj,
                        const locus_range_t *range, locus_write_cb cb, void *arg, int64_t *nbytes,
                        char *err);
/* Streams the object into fd (write(2) at the fd's position; fd stays the caller's). */
int locus_object_get_fd(locus_client_t *c, const char *bck, const char *obj,
                        const locus_range_t *range, int fd, int64_t *nbytes, char *err);
/* Reads the object into memory: *data (caller frees, NUL-terminated for convenience), *len. */
int locus_object_get_buf(locus_client_t *c, const char *bck, const char *obj,
                         const locus_range_t *range, char **data, size_t *len, char *err);

/* A response header (name as received). */
typedef struct {
    char *name;
    char *value;
} locus_header_t;

/* Object properties from HEAD (docs/protocol.md §1.3). Strings owned by the struct. */
typedef struct {
    int64_t size;         /* Content-Length */
    char *checksum_type;  /* Ais-Checksum-Type, NULL if absent (same for the others) */
    char *checksum_value; /* Ais-Checksum-Value */
    char *version;        /* Ais-Version */
    int64_t atime_ns;     /* Ais-Atime (unix ns), 0 if absent */
    char *location;       /* Ais-Location */
    char *custom_md;      /* Ais-Custom-Md ("k=v,k2=v2") */
    locus_header_t *hdrs; /* every Ais-* header, in the order received */
    size_t nhdrs;
} locus_obj_props_t;

/* HEAD the object; fills *props (dispose with locus_obj_props_dispose, also after failure). */
int locus_object_head(locus_client_t *c, const char *bck, const char *obj, locus_obj_props_t *props,
                      char *err);
void locus_obj_props_dispose(locus_obj_props_t *props);

int locus_object_delete(locus_client_t *c, const char *bck, const char *obj, char *err);

/* AIStore's append (api.AppendObject / the SDK's append_content): appends data[0..len) to the
 * append of handle ("" or NULL: a new one, which starts with the object's current bytes). The
 * handle to pass next into *next (caller frees). Nothing is visible until locus_object_flush. */
int locus_object_append(locus_client_t *c, const char *bck, const char *obj, const void *data,
                        size_t len, const char *handle, char **next, char *err);
/* AIStore's flush (api.FlushObject): the appends of handle become the object. */
int locus_object_flush(locus_client_t *c, const char *bck, const char *obj, const char *handle,
                       char *err);
/* AIStore's api.SetObjectCustomProps: keys[i]=vals[i] merged into the object's custom metadata,
 * or replacing it all (replace: ?set-new-custom=true). */
int locus_object_set_custom(locus_client_t *c, const char *bck, const char *obj,
                            const char *const *keys, const char *const *vals, size_t n,
                            bool replace, char *err);

/* AIStore's multipart upload (api.CreateMultipartUpload, UploadPart, CompleteMultipartUpload,
 * AbortMultipartUpload) of size bytes of fd (from offset 0; pread) in parts of part_size bytes
 * (the last one shorter), uploaded in order; the object appears whole when the last call
 * completes it. On a failure the upload is aborted. part_size >= 1 and at most 10000 parts. */
int locus_object_put_multipart(locus_client_t *c, const char *bck, const char *obj, int fd,
                               int64_t size, int64_t part_size, char *err);

/* AIStore's PromoteArgs: a file or directory on the targets' hosts becomes objects. */
typedef struct {
    const char *src;    /* absolute path on the target hosts (under their promote_allowed) */
    const char *obj;    /* object name (a file) or name prefix (a directory); NULL = none */
    const char *target; /* the one target that promotes (its host's files); NULL = every one */
    bool recursive;     /* into subdirectories */
    bool overwrite;     /* replace existing objects */
    bool delete_src;    /* remove each source file once promoted */
    bool not_shared;    /* each target promotes every file it sees (not one shared directory) */
} locus_promote_opts_t;
/* AIStore's api.Promote (synchronous here). */
int locus_object_promote(locus_client_t *c, const char *bck, const locus_promote_opts_t *o,
                         char *err);

/* Multi-object delete job (delete-listrange): either names[0..n) or a template such as
 * "shard-{0000..0099}.tar" (names NULL). *job_id (caller frees) may be NULL. */
int locus_objects_delete(locus_client_t *c, const char *bck, const char *const *names, size_t n,
                         const char *template_str, char **job_id, char *err);

/* ------------------------------------------------------------------------------------------ */
/* Archives and GetBatch (AIStore's "moss") */

/* One entry of a GetBatch: an object, or a file inside an archived object (archpath). */
typedef struct {
    const char *bucket;   /* NULL: the batch's bucket */
    const char *objname;  /* required */
    const char *archpath; /* NULL: the whole object */
} locus_batch_in_t;

/* GetBatch options; zero-initialize. */
typedef struct {
    const char *format; /* ".tar" (NULL), ".tgz", ".zip", ".tar.lz4" */
    bool cont_on_err;   /* missing entries become empty "__404__/..." members */
    bool only_obj_name; /* members named <objname> instead of <bucket>/<objname> */
} locus_batch_opts_t;

/* GET /v1/ml/moss/<bck>: the n entries, in order, as one streamed archive written to cb(arg).
 * *nbytes (may be NULL) = bytes delivered. */
int locus_batch_get(locus_client_t *c, const char *bck, const locus_batch_in_t *in, size_t n,
                    const locus_batch_opts_t *opts, locus_write_cb cb, void *arg, int64_t *nbytes,
                    char *err);

/* Archive job (AIStore's "archive" action): names[0..n) or a range template (names NULL) of
 * bck, written in that order into dst_bck/archname (dst_bck NULL: bck); format by archname's
 * extension. include_bck: members named <bck>/<name>; append: add to an existing archive.
 * *job_id (caller frees) may be NULL. */
int locus_objects_archive(locus_client_t *c, const char *bck, const char *const *names, size_t n,
                          const char *template_str, const char *dst_bck, const char *archname,
                          bool include_bck, bool append, char **job_id, char *err);

/* ------------------------------------------------------------------------------------------ */
/* Listing */

/* One listed object. Strings owned by the page; NULL when the property was not asked for. */
typedef struct {
    char *name;
    int64_t size; /* 0 if absent (the server omits zero sizes) */
    char *checksum;
    char *atime;
    char *version;
    char *location;
    char *custom;
    int64_t copies;
    uint32_t flags;
} locus_lso_entry_t;

/* One page of a listing. Dispose with locus_lso_page_dispose. */
typedef struct {
    locus_lso_entry_t *entries;
    size_t n;
    char *uuid;
    char *continuation_token; /* "" on the last page */
} locus_lso_page_t;

/* Listing options; zero-initialize, NULL strings = not set. */
typedef struct {
    const char *prefix;
    const char
        *props; /* "name,size,checksum,atime,version,location,custom,copies"; NULL = default */
    uint32_t page_size;             /* 0 = server maximum */
    uint64_t flags;                 /* LsoMsg flags bits */
    const char *uuid;               /* from the previous page */
    const char *continuation_token; /* from the previous page; NULL/"" = first page */
} locus_lso_opts_t;

/* Lists one page (JSON reply). Fills *page (zeroed first; dispose it also after failure). */
int locus_object_list_page(locus_client_t *c, const char *bck, const locus_lso_opts_t *opts,
                           locus_lso_page_t *page, char *err);
void locus_lso_page_dispose(locus_lso_page_t *page);

/* ------------------------------------------------------------------------------------------ */
/* Jobs */

typedef struct {
    char *kind; /* NULL if the server did not say */
    char *uuid;
    char *err;        /* NULL or "" when no error */
    int64_t end_time; /* unix ns, 0 while running */
    bool aborted;
} locus_job_status_t;

/* GET /v1/cluster?what=status. Fills *st (dispose with locus_job_status_dispose). */
int locus_job_status(locus_client_t *c, const char *id, locus_job_status_t *st, char *err);
void locus_job_status_dispose(locus_job_status_t *st);
/* GET /v1/cluster?what=qryxstats: raw JSON `{target-id: [snap, ...]}` (caller frees). */
int locus_job_snaps(locus_client_t *c, const char *id, char **json, char *err);
/* Polls the status until the job ends or timeout_ns passes (<= 0 = no limit). 0 when it ended
 * without error, LOCUS_EJOB when it failed or was aborted (message in err), LOCUS_ETIMEDOUT.
 * st may be NULL; else it receives the last status seen (dispose it). */
/* locus_job_snaps with each snapshot's per-object errors ("obj_errors": [{"obj_name","msg",
 * "ecode"}]). */
int locus_job_errors(locus_client_t *c, const char *id, char **json, char *err);
int locus_job_wait(locus_client_t *c, const char *id, int64_t timeout_ns, locus_job_status_t *st,
                   char *err);
/* Which jobs a listing selects (AIStore's QueryMsg): kind and bck NULL or "" = any; all = the
 * finished ones still in the targets' registries too (else only running ones). */
typedef struct {
    const char *kind;
    const char *bck;
    bool all;
} locus_job_query_t;

/* GET /v1/cluster?what=qryxstats with a QueryMsg and no id: raw JSON `{target-id: [snap, ...]}`
 * of the selected jobs (caller frees). q may be NULL (running jobs of any kind). */
int locus_job_list(locus_client_t *c, const locus_job_query_t *q, char **json, char *err);
/* GET /v1/cluster?what=status_all: raw JSON `[nl.Status, ...]`, one per job (caller frees). */
int locus_job_status_all(locus_client_t *c, const locus_job_query_t *q, char **json, char *err);
/* GET /v1/cluster?what=running_all: raw JSON, the sorted `["kind[id]", ...]` (caller frees). */
int locus_job_running(locus_client_t *c, const char *kind, char **json, char *err);
/* AIStore's StartXaction: PUT /v1/cluster {"action":"start","value":{"Kind","Bck","DaemonID"}}
 * for a startable kind (or AIStore's display name): rebalance, resilver (node: one target, NULL
 * = every target), make-n-copies, ec-encode, scrub-bck (these need bck). *job_id: caller frees. */
int locus_job_start(locus_client_t *c, const char *kind, const char *bck, const char *node,
                    char **job_id, char *err);
/* PUT /v1/cluster {"action":"stop-xaction","value":{"id":id}}: LOCUS_ENOENT for no such job. */
int locus_job_stop(locus_client_t *c, const char *id, char *err);
/* Stops every running job of kind (and bck; NULL or "" = any): one stop-xaction by kind, or
 * without a kind one per kind running now (what=running_all). *stopped (may be NULL) = how
 * many, summed over the targets. */
int locus_job_stop_many(locus_client_t *c, const char *kind, const char *bck, int64_t *stopped,
                        char *err);
/* Called after each status poll of a wait, the last one included (a progress display). */
typedef void (*locus_job_progress_fn)(const locus_job_status_t *st, void *arg);
/* locus_job_wait that calls progress(status, arg) after every poll (progress may be NULL) and
 * polls at least every 200 ms when it is given. */
int locus_job_wait_progress(locus_client_t *c, const char *id, int64_t timeout_ns,
                            locus_job_progress_fn progress, void *arg, locus_job_status_t *st,
                            char *err);

/* ------------------------------------------------------------------------------------------ */
/* Mountpaths of a target (docs/protocol.md, "Mountpaths"), through the proxy's /v1/reverse */

/* GET the target's mountpaths: *json is AIStore's MountpathList text
 * {"available":[...],"waiting_dd":[...],"disabled":[...]} (caller frees). */
int locus_mountpath_list(locus_client_t *c, const char *node, char **json, char *err);
/* action "attach-mp", "detach-mp", "enable-mp" or "disable-mp" on mountpath path of target node.
 * dont_resilver (detach only) leaves the objects behind. *job_id (may be NULL; caller frees)
 * receives the resilver's job id, "" when none ran. *pending (may be NULL) is true when a detach
 * answered 202: its resilver still runs and the mountpath leaves once it is done. */
int locus_mountpath_action(locus_client_t *c, const char *node, const char *action,
                           const char *path, bool dont_resilver, char **job_id, bool *pending,
                           char *err);

/* ------------------------------------------------------------------------------------------ */
/* ETL (docs/protocol.md §1.6-§1.7, docs/protocol.md §2.2) */

/* Converts the text of an ETL spec file into init messages for locus_etl_init. The text is YAML
 * (one or more documents separated by `---`, each a mapping such as AIStore's etl_spec.yaml) or
 * JSON (one object, or an array of objects). Plain YAML scalars are typed as YAML's core schema
 * does (true/false, integers, floats, null), except where the init message wants a string
 * (name, communication, argument, init_timeout, obj_timeout, runtime.image, runtime.command
 * items, env names and values, resources): those keep their text, so `value: 44100` gives
 * "44100". Anchors and aliases work; empty documents are skipped. The messages are not
 * validated further (the server does). On a syntax error LOCUS_EINVAL with
 * "line L, column C: <problem>" in err, and no message is returned.
 * *msgs (compact JSON object texts; caller frees with locus_strv_free) has *n >= 1 entries. */
int locus_etl_spec_parse(const char *text, size_t len, char ***msgs, size_t *n, char *err);

/* An ETL described by options instead of a file (`locus etl init --name ...`). Zero-initialize;
 * all pointers are borrowed; NULL = not set (the server's default). */
typedef struct {
    const char *name;        /* required */
    const char *image;       /* runtime.image; required (any name when command is given) */
    const char *comm_type;   /* "hpush", "hpull", "ws" (or with "://") */
    const char *const *argv; /* runtime.command: argv[0..argc) */
    size_t argc;
    const char *const *env; /* runtime.env entries, each "NAME=VALUE" */
    size_t nenv;
    const char *init_timeout; /* duration text such as "5m" */
    const char *obj_timeout;  /* duration text such as "45s" */
    const char *argument;     /* "", "fqn" */
    bool direct_put;          /* support_direct_put */
} locus_etl_spec_t;

/* Builds the init message (JSON object text) of spec; *json: caller frees. LOCUS_EINVAL when
 * name or image is missing or an env entry has no '='. */
int locus_etl_spec_json(const locus_etl_spec_t *spec, char **json, char *err);

/* Parses an extension map as AIStore's CLI takes it: `{flac:wav}`, `{"flac":"wav"}`,
 * `{flac:wav, mp3:ogg}` or without braces `flac:wav,mp3:ogg` (keys and values may be quoted;
 * a leading '.' is dropped). *json (caller frees) is a JSON object text such as
 * {"flac":"wav"}. LOCUS_EINVAL with a message for anything else (also for an empty map). */
int locus_etl_parse_ext(const char *s, char **json, char *err);

/* PUT /v1/etl: starts the ETL described by init_json (borrowed) on every target and waits until
 * it runs (the server bounds the wait by the spec's init_timeout, so this call has no stall
 * timeout). *job_id (caller frees; may be NULL) is the ETL's job id. The server's 4xx message
 * lands in err (bad spec, name taken: LOCUS_EEXIST, init failure). */
int locus_etl_init(locus_client_t *c, const char *init_json, char **job_id, char *err);

/* One ETL of GET /v1/etl. Strings owned by the array (locus_etl_infos_free). */
typedef struct {
    char *name;
    char *stage;  /* "Initializing", "Running", "Aborted" */
    char *job_id; /* xaction_id, "" if none */
    int64_t obj_count;
    int64_t in_bytes;
    int64_t out_bytes;
} locus_etl_info_t;

/* GET /v1/etl: every ETL, sorted by name. *etls (caller frees with locus_etl_infos_free; NULL
 * when *n is 0). */
int locus_etl_list(locus_client_t *c, locus_etl_info_t **etls, size_t *n, char *err);
void locus_etl_infos_free(locus_etl_info_t *etls, size_t n);

/* One per-object failure of an offline transform. */
typedef struct {
    char *obj_name; /* "ais://bucket/object" */
    char *msg;
    int ecode; /* HTTP status of the failure, 0 if unknown */
} locus_etl_obj_err_t;

/* GET /v1/etl/<name>[?uuid=<job>]. Strings owned by the struct (locus_etl_details_dispose). */
typedef struct {
    char *init_msg; /* the stored init message, JSON text */
    char *stage;
    char *reason; /* why it is Aborted; "" otherwise */
    locus_etl_obj_err_t *obj_errors;
    size_t n_obj_errors;
} locus_etl_details_t;

/* Fills *d (zeroed first; dispose it also after failure). job (NULL = none) asks for the
 * obj_errors of that offline job. LOCUS_ENOENT when the ETL does not exist. */
int locus_etl_show(locus_client_t *c, const char *name, const char *job, locus_etl_details_t *d,
                   char *err);
void locus_etl_details_dispose(locus_etl_details_t *d);

/* POST /v1/etl/<name>/stop (idempotent), POST /v1/etl/<name>/start (from Aborted only; waits
 * like locus_etl_init), DELETE /v1/etl/<name>. */
int locus_etl_stop(locus_client_t *c, const char *name, char *err);
int locus_etl_start(locus_client_t *c, const char *name, char *err);
int locus_etl_delete(locus_client_t *c, const char *name, char *err);

/* The transformer log of one target, base64-decoded. Owned by the array (locus_etl_logs_free). */
typedef struct {
    char *target_id;
    char *data; /* len bytes, NUL-terminated for convenience */
    size_t len;
} locus_etl_log_t;

/* GET /v1/etl/<name>/logs[/<target>] (target NULL = every target), sorted by target id.
 * *logs: caller frees with locus_etl_logs_free. */
int locus_etl_logs(locus_client_t *c, const char *name, const char *target, locus_etl_log_t **logs,
                   size_t *n, char *err);
void locus_etl_logs_free(locus_etl_log_t *logs, size_t n);

/* One target's answer to GET /v1/etl/<name>/health. Owned by the array. */
typedef struct {
    char *target_id;
    char *status; /* health_status, e.g. "Running" */
} locus_etl_health_t;

/* GET /v1/etl/<name>/health, sorted by target id. *v: caller frees with locus_etl_health_free. */
int locus_etl_health(locus_client_t *c, const char *name, locus_etl_health_t **v, size_t *n,
                     char *err);
void locus_etl_health_free(locus_etl_health_t *v, size_t n);

/* Inline transform: GET /v1/objects/<bck>/<obj>?etl_name=<etl>[&etl_args=<args>] streamed to cb
 * (see locus_object_get_cb; args NULL = none). *nbytes (may be NULL) = bytes delivered. */
int locus_etl_object_get_cb(locus_client_t *c, const char *etl, const char *args, const char *bck,
                            const char *obj, locus_write_cb cb, void *arg, int64_t *nbytes,
                            char *err);
/* Same, written to fd (write(2) at its position; fd stays the caller's). */
int locus_etl_object_get_fd(locus_client_t *c, const char *etl, const char *args, const char *bck,
                            const char *obj, int fd, int64_t *nbytes, char *err);

/* Transform-copy of one object: PUT /v1/objects/<src_bck>/<src_obj>?object_to=ais/@#/<dst_bck>/
 * <dst_obj>&etl_name=<etl>[&etl_args=<args>]. Synchronous. */
int locus_etl_object_copy(locus_client_t *c, const char *etl, const char *args, const char *src_bck,
                          const char *src_obj, const char *dst_bck, const char *dst_obj, char *err);

/* Options of an offline bucket transform (etl-bck); zero-initialize, NULL = not set. */
typedef struct {
    const char *prefix;  /* only source objects with this name prefix */
    const char *prepend; /* prepended to every destination name */
    const char *ext;     /* extension map, JSON object text (see locus_etl_parse_ext) */
    bool dry_run;        /* transform and count, write nothing */
    bool cont_on_err;    /* coer: record per-object failures and go on */
    bool force;
    int num_workers;  /* 0 = the server's default */
    const char *args; /* etl_args passed with every object (Locus), NULL = none */
} locus_etl_bck_opts_t;

/* Starts transforming bucket src into dst (created if missing) with ETL etl. *job_id (caller
 * frees) is the job id; follow it with locus_job_wait / locus_job_totals. opts may be NULL. */
int locus_etl_bucket(locus_client_t *c, const char *etl, const char *src, const char *dst,
                     const locus_etl_bck_opts_t *opts, char **job_id, char *err);

/* The counters of a job summed over its per-target snapshots (qryxstats). */
typedef struct {
    int64_t loc_objs, loc_bytes; /* done locally (written here, or counted in a dry run) */
    int64_t out_objs, out_bytes; /* sent to the owning target */
    int64_t in_objs, in_bytes;   /* received from other targets (direct puts included) */
    int64_t written_bytes;       /* bytes of all results: loc_bytes + max(out_bytes, in_bytes)
                                  * (with direct put the sources send nothing: out_bytes 0) */
    size_t ntargets;             /* snapshots seen */
    size_t nfinished;            /* of which ended */
    bool aborted;                /* any snapshot aborted */
} locus_job_totals_t;

/* Sums the qryxstats snapshots of job id into *t. Objects processed by a copy-bck or etl-bck
 * job = loc_objs + out_objs. */
int locus_job_totals(locus_client_t *c, const char *id, locus_job_totals_t *t, char *err);
/* The same from a qryxstats reply (JSON text, borrowed). */
int locus_job_totals_parse(const char *json, locus_job_totals_t *t, char *err);

#ifdef __cplusplus
}
#endif

#endif
