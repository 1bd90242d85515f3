/*
 * locus/client.h - liblocus, the C client library of Locus (and of any AIStore-compatible
 * cluster): cluster map, buckets, objects, listing and jobs over the REST API of
 * PROTOCOL-REST.md.
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
#define LOCUS_ERR_LEN 256
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

/* Creates a client for endpoint ("http://host:port", no path; NULL = locus_default_endpoint()).
 * Makes no request. *out is owned by the caller (locus_client_destroy). */
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
/* GET /v1/health (with prr=true when primary is set). 0 when the node answers 200. */
int locus_cluster_health(locus_client_t *c, bool primary, char *err);

/* ------------------------------------------------------------------------------------------ */
/* Buckets */

int locus_bucket_create(locus_client_t *c, const char *bck, char *err);
/* Destroys the bucket and all its objects. */
int locus_bucket_destroy(locus_client_t *c, const char *bck, char *err);
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
} locus_copy_opts_t;

/* Starts copying bucket src into dst (created if missing). *job_id is the job id (caller frees);
 * wait for it with locus_job_wait(). opts may be NULL. */
int locus_bucket_copy(locus_client_t *c, const char *src, const char *dst,
                      const locus_copy_opts_t *opts, char **job_id, char *err);

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

/* Object properties from HEAD (PROTOCOL-REST.md §1.3). Strings owned by the struct. */
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

/* Multi-object delete job (delete-listrange): either names[0..n) or a template such as
 * "shard-{0000..0099}.tar" (names NULL). *job_id (caller frees) may be NULL. */
int locus_objects_delete(locus_client_t *c, const char *bck, const char *const *names, size_t n,
                         const char *template_str, char **job_id, char *err);

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
int locus_job_wait(locus_client_t *c, const char *id, int64_t timeout_ns, locus_job_status_t *st,
                   char *err);

#ifdef __cplusplus
}
#endif

#endif
