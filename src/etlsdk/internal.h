/*
 * internal.h - shared declarations of liblocus-etl's own files (not installed).
 *
 * The pure request-parsing helpers (etl_parse.c) are declared here with the `locus_etl__` prefix so
 * that tests/unit/etlsdk can call them directly.
 */
#ifndef LOCUS_ETLSDK_INTERNAL_H
#define LOCUS_ETLSDK_INTERNAL_H

#include "locus/etl.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

/* ------------------------------------------------------------------------------------------ */
/* etl_parse.c: pure helpers (no I/O) */

/* Query-decodes s[0..n) ('+' is a space, %XX escapes). NULL if malformed or if the result holds
 * a NUL byte. Caller frees. */
char *locus_etl__query_decode(const char *s, size_t n);

/* Percent-decodes s[0..n) like Go's url.PathUnescape ('+' stays). NULL if malformed or if the
 * result holds a NUL byte. Caller frees. */
char *locus_etl__path_unescape(const char *s, size_t n);

/* Lexically normalizes a path the way AIStore's Python framework does:
 * normpath(join("/", p.lstrip("/"))): absolute, no "." / ".." / empty components, no trailing
 * '/'. Caller frees. */
char *locus_etl__path_normalize(const char *p);

/* FQN from the current-protocol query value as it appears on the wire (still query-encoded):
 * query-decode, path-unescape once more, normalize. 0 and *fqn (caller frees), or -EINVAL. */
int locus_etl__fqn_from_query(const char *wire, char **fqn);

/* FQN from the v3.28 form: the raw URL path (with its leading '/', still escaped) is the escaped
 * FQN. 0 and *fqn (caller frees); -EINVAL when malformed or when it does not decode to an
 * absolute path (then it is an ordinary bck/obj path). */
int locus_etl__fqn_from_path(const char *raw_path, char **fqn);

/* true when `fqn` (normalized) is one of the colon-separated `roots` or lies under one of them.
 * NULL or "" roots allow everything; empty entries are ignored. */
bool locus_etl__fqn_allowed(const char *fqn, const char *roots);

/* A parsed request line. All strings owned by the struct (locus_etl__uri_dispose). */
typedef struct {
    char *path;         /* raw path without the leading '/', still escaped */
    char *dpath;        /* decoded path (what transform gets as in->path) */
    char *args;         /* decoded etl_args, or "" */
    char *fqn;          /* normalized FQN from etl_fqn (or the v3.28 path form), or NULL */
    char *node_url;     /* not from the URI: filled by the server from Ais-Node-Url */
    bool latest;        /* latest-ver=true */
    char *original_url; /* POST /download: decoded original_url, or NULL */
} locus_etl__uri_t;

/* Splits a raw request URI ("/a%2Fb?etl_args=x&etl_fqn=...") into `u`. With arg_type_fqn, a path
 * that decodes to an absolute path is taken as the FQN (unless etl_fqn is given). Unknown query
 * keys are ignored. 0, or -EINVAL for a malformed escape (u is then empty). */
int locus_etl__uri_parse(const char *raw_uri, bool arg_type_fqn, locus_etl__uri_t *u);
void locus_etl__uri_dispose(locus_etl__uri_t *u);

/* Splits an Ais-Node-Url header value ("url1, url2,...") into the first URL and the rest (the
 * rest joined by ',' again, NULL when none). Whitespace around items and empty items are
 * dropped. 0 and owned strings, or -EINVAL when there is no URL. */
int locus_etl__node_urls(const char *hdr, char **first, char **rest);

/* The URL to PUT a direct-put result to, from the first Ais-Node-Url entry `daddr`:
 * - path empty or "/": another ETL server (pipeline) -> daddr + "/" + raw_path;
 * - path already under /v1/etl/_object/: used as is (Locus sends full URLs);
 * - otherwise (AIStore: "<target>/<escaped uname>[?q]"): scheme and path prefix of target_url,
 *   host:port of daddr -> scheme://host:port + target_url.path + daddr.path [+ ?q];
 *   without target_url daddr is used as is.
 * etl_args (decoded; NULL/"" = none) are appended as an `etl_args` query parameter.
 * Returns the URL (caller frees) or NULL when daddr is not an http(s) URL. */
char *locus_etl__direct_put_url(const char *daddr, const char *target_url, const char *raw_path,
                                const char *etl_args);
/* The scheme://host:port of an http(s) url (the whole url when it is not one) into out. */
void locus_etl__url_origin(const char *url, char *out, size_t cap);

/* hpull: the URL to GET an object from: target_url + "/" + quote(dpath, safe="@")
 * [+ "?latest-ver=true"]. Caller frees. */
char *locus_etl__hpull_url(const char *target_url, const char *dpath, bool latest);

/* ------------------------------------------------------------------------------------------ */
/* etl_log.c */

void locus_etl__vlog(locus_etl_log_level_t level, const char *fmt, va_list ap);
int locus_etl__log_level_parse(const char *s);

/* ------------------------------------------------------------------------------------------ */
/* etl_http.c: libcurl client (hpull fetch, download, direct put). Thread-safe: each thread keeps
 * its own easy handle (kept-alive connection), released at thread exit. */

void locus_etl__http_global_init(void);

/* GETs url into *body (malloc'd, NUL-terminated, caller frees). Returns the HTTP status, or 0
 * on a transport error (message in err). */
long locus_etl__http_get(const char *url, int timeout_ms, uint64_t max_size, char **body,
                         size_t *len, char *err, size_t errlen);

/* A streaming GET (transform_stream's hpull input): a thread GETs url and writes a 2xx body
 * into a pipe whose read end (rfd) the transform reads, at the pace it reads. */
typedef struct locus_etl__fetch_s {
    char *url;
    int timeout_ms; /* bytes must move at least once per this long */
    uint64_t max;
    int rfd, wfd;
    pthread_t th;
    bool joinable;
    pthread_mutex_t mu; /* protects what follows */
    pthread_cond_t cond;
    bool streaming; /* 2xx bytes started to arrive */
    bool done;      /* the transfer ended (wfd closed) */
    long status;    /* HTTP status, 0 on a transport error (err) */
    char *body;     /* a non-2xx answer's body */
    size_t len;
    char err[512];
} locus_etl__fetch_t;
/* Starts the fetch and waits until its bytes start to flow or it ended (then status, body, err
 * tell the outcome). NULL only when no pipe could be made. */
locus_etl__fetch_t *locus_etl__fetch_start(const char *url, int timeout_ms, uint64_t max_size);
/* At the end of the pipe: 0 when the whole object arrived, LOCUS_ETL_EIO when the transfer
 * failed. Waits for the transfer to end. */
int locus_etl__fetch_end(void *f);
/* Closes the read end, waits for the thread, frees f. NULL is fine. */
void locus_etl__fetch_free(locus_etl__fetch_t *f);
/* PUTs data[0..n) to url with `Ais-Node-Url: node_url` when node_url is set. The response body
 * goes to *resp (caller frees, may be NULL). Returns the HTTP status, LOCUS_ETL_HTTP_REFUSED when
 * nothing listens there (connection refused), or 0 on another transport error (message in err). */
#define LOCUS_ETL_HTTP_REFUSED (-1L)
long locus_etl__http_put(const char *url, const char *node_url, const void *data, size_t n,
                         int timeout_ms, char **resp, size_t *resp_len, char *err, size_t errlen);

/* ------------------------------------------------------------------------------------------ */
/* etl_output.c: the output object and the transform job */

/* A transform job's lifecycle (guarded by job->mu). */
typedef enum {
    JOB_QUEUED,    /* waiting for a worker thread */
    JOB_RUNNING,   /* transform running; output buffered, response not started */
    JOB_STREAMING, /* response started (chunked); writes go through the pending buffer */
    JOB_DONE       /* transform returned (rc, error set) */
} locus_etl__job_state_t;

typedef enum {
    OUT_NONE,   /* nothing set yet */
    OUT_BORROW, /* set_static: data borrowed */
    OUT_OWNED,  /* set_copy/set_owned: data freed with free_fn */
    OUT_STREAM  /* locus_etl_write: bytes in buf */
} locus_etl__out_kind_t;

struct locus_etl_output_s {
    pthread_mutex_t mu; /* protects everything below; taken by the worker, the connection
                           thread (reader) and the canceller; no other lock is held with it */
    pthread_cond_t cond;
    locus_etl__job_state_t state;
    locus_etl__out_kind_t kind;
    const char *data; /* OUT_BORROW / OUT_OWNED */
    size_t len;
    void (*free_fn)(void *);
    char *buf; /* OUT_STREAM: bytes not yet sent are buf[off..len) */
    size_t off;
    size_t cap;
    uint64_t total;  /* bytes written in all (stream) */
    bool may_stream; /* false for direct put: keep everything in memory */
    bool cancelled;  /* request gone: writes fail */
    int rc;          /* transform's return value (JOB_DONE) */
    int err_status;  /* set_error status (0 = 500) */
    char *err_msg;   /* set_error message or NULL */
    bool oom;        /* an append failed for lack of memory */
    int wake_fd;     /* eventfd written whenever waiters on cond are woken (ws), or -1 */
};

void locus_etl__output_init(locus_etl_output_t *o, bool may_stream);
void locus_etl__output_dispose(locus_etl_output_t *o);
/* Wakes everyone waiting on o (cond broadcast, and the wake_fd when set). Caller holds o->mu. */
void locus_etl__output_signal(locus_etl_output_t *o);
/* Marks the output cancelled and wakes a blocked writer. */
void locus_etl__output_cancel(locus_etl_output_t *o);
/* The result bytes once JOB_DONE (not streaming). Borrowed from o. */
void locus_etl__output_bytes(locus_etl_output_t *o, const char **p, size_t *n);

/* Bytes pending beyond this switch a written result to streaming; the writer blocks while more
 * than LOCUS_ETL__PENDING_MAX are pending. */
#define LOCUS_ETL__STREAM_AT (1u << 20)
#define LOCUS_ETL__PENDING_MAX (4u << 20)

/* ------------------------------------------------------------------------------------------ */
/* etl_server.c: the server context, the worker pool and helpers shared with etl_ws.c */

/* The input of a streaming transform: a file descriptor (use_fd: an FQN, or an object spooled
 * to an unlinked temporary file) or, by default, in->data[0..len) of the job. */
struct locus_etl_reader_s {
    bool use_fd;
    int fd;
    const char *mem;
    uint64_t len, off;
    locus_etl_output_t *out;  /* for cancellation */
    int (*at_end)(void *arg); /* at the fd's end: 0, or the error to return (a failed fetch) */
    void *end_arg;
};
/* One transform to run on the worker pool: the input, the output and the FIFO linkage. */
typedef struct locus_etl__job_s {
    locus_etl_input_t in;
    locus_etl_reader_t rd; /* transform_stream only */
    locus_etl_output_t out;
    struct locus_etl__job_s *qnext;
    bool queued;    /* in the pool's FIFO (ctx->qmu) */
    bool submitted; /* handed to the pool (then it must reach JOB_DONE before it is freed) */
} locus_etl__job_t;

typedef struct locus_etl__ws_s locus_etl__ws_t;

/* What the server does with WebSocket connections (ctx->ws_mode). */
typedef enum {
    WS_MODE_RUN = 0,   /* serving */
    WS_MODE_DRAIN = 1, /* stopping: read no new requests, answer the received ones, then close */
    WS_MODE_ABORT = 2  /* grace period over: cancel what runs, close now */
} locus_etl__ws_mode_t;

struct req_s;

struct locus_etl_ctx_s {
    locus_etl_server_t srv;
    locus_etl_options_t opts;
    const char *content_type;
    char *roots_resolved; /* realpath() of each FQN root, colon-joined; NULL when no roots */
    struct MHD_Daemon *mhd;
    int port;

    pthread_mutex_t qmu; /* protects qhead/qtail/stopping and job->queued */
    pthread_cond_t qcond;
    locus_etl__job_t *qhead, *qtail;
    bool stopping;
    pthread_t *workers;
    int nworkers;

    pthread_mutex_t amu;   /* protects the active list (HTTP requests between URI log and
                              completion; upgraded /ws requests leave it), the ws list, ws_mode */
    pthread_cond_t wscond; /* signalled (amu) when a ws connection leaves the list */
    struct req_s *active;
    size_t nactive;
    locus_etl__ws_t *ws_conns; /* open WebSocket connections (etl_ws.c) */
    size_t nws;
    locus_etl__ws_mode_t ws_mode;
};

/* Queues j on the worker pool; false when the pool is stopping. j->in and j->out must be set
 * up (out initialized) and stay valid until locus_etl__job_finish(). */
bool locus_etl__submit(locus_etl_ctx_t *ctx, locus_etl__job_t *j);

/* Makes sure j is no longer used by the pool: takes it out of the FIFO (completing it as
 * cancelled) or cancels its output and waits until the transform has returned. No-op for a job
 * never submitted. Then j can be freed. */
void locus_etl__job_finish(locus_etl_ctx_t *ctx, locus_etl__job_t *j);

/* Opens `fqn` (normalized) read-only after the FQN-roots checks: 0 with *fd and *size, or an
 * HTTP status with *msg (caller frees). */
int locus_etl__open_fqn(locus_etl_ctx_t *ctx, const char *fqn, int *fd, uint64_t *size, char **msg);
/* An unlinked temporary file in $TMPDIR (or /tmp), read-write: the fd or -1. */
int locus_etl__tmpfile(void);
/* Opens and maps `fqn` (normalized) read-only after the FQN-roots checks. 0 with *map (NULL for
 * an empty file; munmap(*map, *len) to release), or an HTTP status with *msg (caller frees). */
int locus_etl__map_fqn(locus_etl_ctx_t *ctx, const char *fqn, void **map, size_t *len, char **msg);

/* The outcome of a direct put (locus_etl__direct_put). */
typedef struct {
    long status; /* the destination's final HTTP status, 0 when it could not be reached */
    char *url;   /* the URL PUT to (caller frees), NULL when `first` is not a valid URL */
    char *body;  /* the destination's response body (caller frees), may be NULL */
    size_t len;
    char err[256]; /* transport error when status is 0 */
} locus_etl__dput_t;

/* PUTs p[0..n) to the destination named by the first direct-put URL `first` (Ais-Node-Url or
 * ws dst_addr/pipeline), forwarding `rest` (NULL = none) as Ais-Node-Url, with the retries of
 * docs/etl-framework.md. raw_path is the escaped request path (for a pipeline stage URL without
 * a path), args the decoded etl_args. Blocks. Fills *res (dispose with
 * locus_etl__dput_dispose). */
void locus_etl__direct_put(locus_etl_ctx_t *ctx, const char *first, const char *rest,
                           const char *raw_path, const char *args, const void *p, size_t n,
                           locus_etl__dput_t *res);
void locus_etl__dput_dispose(locus_etl__dput_t *res);

/* ------------------------------------------------------------------------------------------ */
/* etl_ws.c: GET /ws (docs/protocol.md §3.4) */

#define LOCUS_ETL__WS_ACCEPT_LEN 28

/* Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + RFC 6455 GUID)) into
 * out[0..28] (NUL-terminated). 0, or -EINVAL when key is not base64 of 16 bytes. */
int locus_etl__ws_accept_key(const char *key, char out[LOCUS_ETL__WS_ACCEPT_LEN + 1]);

/* A parsed ws control message. All strings owned (locus_etl__ws_ctrl_dispose). */
typedef struct {
    char *path;      /* "path" as given (the object name), "" when absent */
    char *args;      /* "etl_args", "" when absent */
    char *fqn;       /* "fqn" path-unescaped and normalized, NULL when absent or "" */
    char *dst_first; /* direct put: first URL of "pipeline" (string "u1,u2" or array) or else
                        of "dst_addr"; NULL = no direct put, answer with the bytes */
    char *dst_rest;  /* the remaining pipeline URLs joined by ',', or NULL */
} locus_etl__ws_ctrl_t;

/* Parses a control message (JSON object; unknown keys ignored). 0, or -EINVAL with a message
 * in err (c is then empty). */
int locus_etl__ws_ctrl_parse(const char *json, size_t n, locus_etl__ws_ctrl_t *c, char *err,
                             size_t errlen);
void locus_etl__ws_ctrl_dispose(locus_etl__ws_ctrl_t *c);

/* Formats the Text reply for a failed request: "ETL-ERROR <status> <msg>", msg made valid
 * UTF-8 and cut to a sane length. Caller frees. */
char *locus_etl__ws_error_text(int status, const char *msg, size_t *len);

/* Serves one upgraded connection until it closes (blocks the calling MHD connection thread).
 * `sock` stays MHD's: the caller closes it with MHD_upgrade_action afterwards. extra_in are
 * bytes MHD already read past the request headers. */
void locus_etl__ws_serve(locus_etl_ctx_t *ctx, int sock, const char *extra_in, size_t extra_len,
                         const char *peer);

/* Sets ctx->ws_mode and wakes every connection so it notices. Takes ctx->amu. */
void locus_etl__ws_set_mode(locus_etl_ctx_t *ctx, locus_etl__ws_mode_t mode);

#endif
