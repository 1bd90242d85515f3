/*
 * internal.h - shared by the files of liblocus (src/client/) and its unit tests only.
 *
 * DESIGN: every API call builds a request description (client_req_t) and hands it to
 * client_do(), which runs it on the client's one curl easy handle (curl_easy_reset keeps the
 * kept-alive connection), follows the proxy's 301/307 redirects by hand (same method, body
 * re-sent from its start; the first leg of a PUT over CLIENT_DRAIN_MAX carries `Expect:
 * 100-continue` so the proxy can redirect before the body is sent, a smaller body and later legs
 * don't), collects the final response's headers,
 * streams a 2xx body into a sink and turns any error into a LOCUS_E* code plus one line of text
 * (the server's JSON "message" when present).
 */
#ifndef LOCUS_CLIENT_INTERNAL_H
#define LOCUS_CLIENT_INTERNAL_H

#include "locus/client.h"
#include "common/util.h"
#include "common/json.h"

#include <curl/curl.h>
#include <jansson.h>

struct locus_client_s {
    char *endpoint; /* normalized: scheme://host:port, no trailing '/' */
    char *auth_hdr; /* "Authorization: Bearer <token>" or NULL */
    CURL *curl;
    long last_status;
    long connect_ms;
    long stall_ms;
    char *ca;      /* CA bundle for https (env LOCUS_CA or AIS_CLIENT_CA), NULL: the system's */
    bool insecure; /* env AIS_SKIP_VERIFY_CRT=true: no certificate check (testing only) */
    char curl_err[CURL_ERROR_SIZE];
};

typedef struct {
    /* in */
    const char *method;    /* "GET", "PUT", "POST", "DELETE", "HEAD" */
    const char *url;       /* full URL of the first leg (borrowed) */
    const char *json_body; /* control message (borrowed) or NULL */
    const char *accept;    /* Accept header value or NULL */
    const char *node_id;   /* Ais-Node-Id header value (/v1/reverse) or NULL */
    char range[64];        /* Range header value or "" */
    /* upload body (PUT): a buffer, or fd + offset */
    bool upload;
    const char *up_buf;
    int up_fd; /* -1 when up_buf is used */
    int64_t up_off, up_len, up_pos;
    /* 2xx body: to sink when set, else collected into body */
    locus_write_cb sink;
    void *sink_arg;
    int sink_rc;    /* what the sink returned when it aborted */
    int64_t nbytes; /* 2xx body bytes delivered */
    /* out */
    long status;
    buf_t body;    /* 2xx body when no sink; error body otherwise (capped) */
    buf_t errbody; /* non-2xx body (capped) */
    locus_header_t *hdrs;
    size_t nhdrs, hdrs_cap;
    int io_err; /* upload read error (negative errno) */
} client_req_t;

void client_req_init(client_req_t *r, const char *method, const char *url);
void client_req_dispose(client_req_t *r);
/* The proxy reads and drops a PUT body up to this size and answers 307 on the kept connection
 * (server side: HTTP_DRAIN_MAX, docs/protocol.md §1.10). */
#define CLIENT_DRAIN_MAX (INT64_C(1) << 20)
/* The Expect header of leg `leg` (0: to the endpoint) of an upload of `len` bytes. */
const char *client_put_expect(int leg, int64_t len);
/* Runs the request. 0 for a 2xx final response, else a LOCUS_E* code with err filled. */
int client_do(locus_client_t *c, client_req_t *r, char *err);
/* Value of a header of the final response (case-insensitive), borrowed from r; NULL if absent. */
const char *client_req_header(const client_req_t *r, const char *name);

/* A response sink (client_req_t.sink) writing to a file descriptor; err keeps the first write
 * error (negative errno) so the caller can tell it from an HTTP failure. */
typedef struct {
    int fd;
    int err;
} client_fd_sink_t;
int client_fd_sink(void *arg, const void *data, size_t len);

/* Fills err (may be NULL) printf-style; returns code. */
int client_fail(char *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* --- pure helpers (client_url.c) --- */

/* "http://h:p" from "h:p", "http://h:p/", ...; caller frees. NULL if empty. */
char *client_normalize_endpoint(const char *ep);
/* <ep>/v1/<path>[?query]; path is used verbatim. Caller frees. */
char *client_url(const char *ep, const char *path, const char *query);
/* <ep>/v1/buckets/<bck>?provider=ais[&extra]; bck NULL = "/v1/buckets". Caller frees. */
char *client_url_bucket(const char *ep, const char *bck, const char *extra_query);
/* <ep>/v1/objects/<bck>/<quote(obj)>?provider=ais[&extra]. Caller frees. */
char *client_url_object(const char *ep, const char *bck, const char *obj, const char *extra_query);
/* The message to show for an error response body: the JSON "message" field, else the body's
 * first line (trimmed, at most ~200 bytes), else NULL. Caller frees. */
char *client_error_message(const char *body, size_t len);
/* Trims whitespace and one pair of surrounding double quotes; returns a new string. */
char *client_trim_id(const char *body, size_t len);
/* The job id a reply body carries (client_trim_id) into *job_id (caller frees); LOCUS_EPROTO
 * when it is empty (what names the request in the message). */
int client_job_id(const buf_t *body, const char *what, char **job_id, char *err);
/* GET of object bck/obj (query: extra URL query or NULL; range may be NULL) streamed to cb;
 * *nbytes (may be NULL) = bytes delivered. The names are checked by the caller. */
int client_get_stream(locus_client_t *c, const char *bck, const char *obj, const char *query,
                      const locus_range_t *range, locus_write_cb cb, void *arg, int64_t *nbytes,
                      char *err);
/* A request on bucket bck (NULL: all buckets) with the ActMsg {action, value (stolen)} as its
 * body when action is not NULL; accept may be NULL. The reply is in r (caller disposes). */
int client_bucket_call(locus_client_t *c, const char *method, const char *bck, const char *query,
                       const char *action, json_t *value, const char *accept, client_req_t *r,
                       char *err);
/* POSTs the bucket-to-bucket job action (copy-bck, etl-bck) on src with bck_to=dst and the ActMsg
 * value (stolen); *job_id = the job id of the reply (caller frees). */
int client_bucket_job(locus_client_t *c, const char *action, const char *src, const char *dst,
                      json_t *value, char **job_id, char *err);
/* LOCUS_EINVAL (err filled) unless both are valid bucket names (a job's source and
 * destination). */
int client_check_buckets(const char *src, const char *dst, char *err);
/* LOCUS_EINVAL (err filled) unless bck is a valid bucket name and obj is not empty. */
int client_check_object(const char *bck, const char *obj, char *err);
/* The one destructor of the client's result records: frees the char * fields at offsets
 * offs[0..noffs) of the record rec of size sz and zeroes it (NULL is fine). */
void client_dispose_record(void *rec, size_t sz, const size_t *offs, size_t noffs);
/* client_dispose_record on each of the n records of size sz at v, then frees v. */
void client_free_records(void *v, size_t n, size_t sz, const size_t *offs, size_t noffs);

#endif
