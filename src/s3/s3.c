/*
 * s3.c - the S3 API's dispatch (AIStore's /s3 rules: path-style /s3/<bucket>/<key>), its
 * errors, and the bucket operations: ListBuckets and HeadBucket from the BMD, CreateBucket and
 * DeleteBucket through this proxy's native API (which forwards them to the primary),
 * GetBucketLocation and GetBucketVersioning answered as a single-region, unversioned store.
 *
 * Authentication: with auth off, S3 signatures (SigV4, SigV2) are accepted without checking,
 * as AIStore does; with auth on, a request needs a valid SigV4 signature by one of the node's
 * S3 access keys (sigv4.c), in the header or a presigned URL.
 */
#include "s3/internal.h"
#include "auth/auth.h"
#include "cluster/cluster.h"
#include "cluster/meta.h"
#include "common/log.h"
#include "common/names.h"
#include "common/util.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static bool under_s3(const char *path)
{
    return strncmp(path, "/s3", 3) == 0 && (path[3] == '\0' || path[3] == '/');
}

bool s3_is_request(http_req_t *req)
{
    if (under_s3(req->path))
        return true;
    if (strncmp(req->path, "/v1", 3) == 0 && (req->path[3] == '\0' || req->path[3] == '/'))
        return false;
    const char *a = http_header(req, "Authorization");
    if (a && (strncmp(a, "AWS4-HMAC-SHA256 ", 17) == 0 || strncmp(a, "AWS ", 4) == 0))
        return true;
    return http_header(req, "x-amz-date") || http_header(req, "x-amz-content-sha256") ||
           http_query(req, "X-Amz-Algorithm") || http_query(req, "AWSAccessKeyId");
}

static void ctx_free(http_req_t *req);

bool s3_owns(const http_req_t *req)
{
    return req->ctx_free == ctx_free;
}

static void ctx_free(http_req_t *req)
{
    s3_ctx_t *c = req->ctx;
    if (c == NULL)
        return;
    free(c->bck);
    free(c->key);
    buf_dispose(&c->mem);
    s3_block_put(c->block);
    if (c->fd >= 0)
        close(c->fd);
    EVP_MD_CTX_free(c->md5);
    EVP_MD_CTX_free(c->sha);
    if (c->chunked)
        s3_chunked_dispose(c->chunked);
    free(c->chunked);
    OPENSSL_cleanse(c->chain.key, sizeof(c->chain.key));
    free(c);
    req->ctx = NULL;
}

/* ---------------------------------------------------------------- answers */

void s3_reply_xml(http_req_t *req, unsigned status, buf_t *xml)
{
    buf_t b;
    buf_init(&b);
    buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    buf_append(&b, xml->base ? xml->base : "", xml->len);
    buf_dispose(xml);
    http_reply(req, status, "application/xml", b.base, b.len);
    buf_dispose(&b);
}

void s3_error(http_req_t *req, unsigned status, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (status >= 500)
        LOCUS_LOG(LOG_WARNING, "[s3] %s %s: %u %s %s", req->method, req->raw_path, status, code,
                  msg);
    if (strcmp(req->method, "HEAD") == 0) { /* no body: the status says it */
        http_reply(req, status, NULL, "", 0);
        return;
    }
    utf8_scrub(msg);
    buf_t b;
    buf_init(&b);
    buf_puts(&b, "<Error>");
    s3x_elem(&b, "Code", code);
    s3x_elem(&b, "Message", msg);
    s3x_elem(&b, "Resource", req->path);
    s3x_elem(&b, "RequestId", "");
    buf_puts(&b, "</Error>");
    s3_reply_xml(req, status, &b);
}

void s3_error_native(http_req_t *req, long status, const buf_t *body, const char *nokey)
{
    char msg[768] = "";
    json_t *j = body->base ? json_loadb(body->base, body->len, 0, NULL) : NULL;
    const char *m = json_string_value(json_object_get(j, "message"));
    if (m)
        snprintf(msg, sizeof(msg), "%s", m);
    else if (body->base)
        snprintf(msg, sizeof(msg), "%.*s", (int)(body->len < 700 ? body->len : 700), body->base);
    json_decref(j);
    const char *code = "InternalError";
    switch (status) {
    case 400:
        code = "InvalidArgument";
        break;
    case 401:
    case 403:
        code = "AccessDenied";
        break;
    case 404:
        code = nokey;
        break;
    case 405:
        code = "MethodNotAllowed";
        break;
    case 409:
        code = "OperationAborted";
        break;
    case 416:
        code = "InvalidRange";
        break;
    case 501:
        code = "NotImplemented";
        break;
    case 503:
        code = "ServiceUnavailable";
        break;
    }
    s3_error(req, status > 0 ? (unsigned)status : 503, code, "%s", msg[0] ? msg : "error");
}

/* ---------------------------------------------------------------- helpers */

bool s3_bucket_exists(const char *bck, int64_t *created)
{
    bmd_t *b = bmd_get();
    json_t *e = bmd_bucket(b, bck);
    if (e && created) {
        const char *s = json_string_value(json_object_get(e, "created"));
        *created = s ? strtoll(s, NULL, 10) : 0;
    }
    bmd_put(b);
    return e != NULL;
}

char *s3_target_url(const char *bck, const char *key)
{
    smap_t *s = smap_get();
    const snode_t *t = smap_owner(s, bck, key);
    char *url = NULL;
    if (t) {
        char *eb = url_encode(bck, NULL), *ek = url_encode(key, "/");
        url = xasprintf("%s/v1/objects/%s/%s", t->url, eb, ek);
        free(eb);
        free(ek);
    }
    smap_put(s);
    return url;
}

int s3_native(const char *method, const char *path, json_t *body, httpc_resp_t *r)
{
    char *url = xasprintf("%s%s", cluster_self_url(), path);
    int rc = httpc_json(method, url, body, S3_NATIVE_TIMEOUT_MS, r);
    free(url);
    return rc;
}

void s3_time_iso(int64_t ns, char out[32])
{
    time_t sec = (time_t)(ns / 1000000000LL);
    struct tm tm;
    gmtime_r(&sec, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}

void s3_time_http(int64_t ns, char out[40])
{
    time_t sec = (time_t)(ns / 1000000000LL);
    struct tm tm;
    gmtime_r(&sec, &tm);
    strftime(out, 40, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* ---------------------------------------------------------------- buckets */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void list_buckets(http_req_t *req)
{
    bmd_t *b = bmd_get();
    size_t n = json_object_size(b->items), k = 0;
    const char **names = xcalloc(n + 1, sizeof(char *));
    const char *name;
    json_t *v;
    json_object_foreach(b->items, name, v) names[k++] = name;
    qsort(names, k, sizeof(char *), cmp_str);
    buf_t x;
    buf_init(&x);
    buf_puts(&x, "<ListAllMyBucketsResult xmlns=\"" S3_XML_NS "\"><Owner><ID>locus</ID>"
                 "<DisplayName>locus</DisplayName></Owner><Buckets>");
    for (size_t i = 0; i < k; i++) {
        const char *cs = json_string_value(json_object_get(bmd_bucket(b, names[i]), "created"));
        char t[32];
        s3_time_iso(cs ? strtoll(cs, NULL, 10) : 0, t);
        buf_puts(&x, "<Bucket>");
        s3x_elem(&x, "Name", names[i]);
        s3x_elem(&x, "CreationDate", t);
        buf_puts(&x, "</Bucket>");
    }
    buf_puts(&x, "</Buckets></ListAllMyBucketsResult>");
    free(names);
    bmd_put(b);
    s3_reply_xml(req, 200, &x);
}

/* A bucket action (create-bck, destroy-bck) through this proxy's native API; answers a failure
 * (409 as conflict_code) and returns false, true on a 200. */
static bool bucket_action(http_req_t *req, const char *method, const char *bck, const char *action,
                          const char *conflict_code)
{
    char *path = xasprintf("/v1/buckets/%s", bck);
    json_t *msg = json_pack("{s:s}", "action", action);
    httpc_resp_t r;
    httpc_resp_init(&r);
    int rc = s3_native(method, path, msg, &r);
    if (rc < 0)
        s3_error(req, 503, "ServiceUnavailable", "%s", r.err);
    else if (r.status == 409 && conflict_code)
        s3_error(req, 409, conflict_code, "bucket %s already exists", bck);
    else if (r.status != 200)
        s3_error_native(req, r.status, &r.body, "NoSuchBucket");
    bool ok = rc == 0 && r.status == 200;
    httpc_resp_dispose(&r);
    json_decref(msg);
    free(path);
    return ok;
}

/* PUT /s3/<b>: create-bck (any CreateBucketConfiguration body is ignored: one region). */
static void create_bucket(http_req_t *req, const char *bck)
{
    if (!bucket_action(req, "POST", bck, "create-bck", "BucketAlreadyOwnedByYou"))
        return;
    char *loc = xasprintf("/%s", bck);
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(resp, "Location", loc);
    http_send(req, 200, resp);
    free(loc);
}

/* Whether the bucket holds at least one object: -1 when the listing failed (answered). */
static int bucket_has_objects(http_req_t *req, const char *bck)
{
    char *path = xasprintf("/v1/buckets/%s", bck);
    json_t *msg =
        json_pack("{s:s, s:{s:i, s:s}}", "action", "list", "value", "pagesize", 1, "props", "name");
    httpc_resp_t r;
    httpc_resp_init(&r);
    int rc = s3_native("GET", path, msg, &r), out = -1;
    if (rc < 0) {
        s3_error(req, 503, "ServiceUnavailable", "%s", r.err);
    } else if (r.status != 200) {
        s3_error_native(req, r.status, &r.body, "NoSuchBucket");
    } else {
        json_t *j = json_loadb(r.body.base, r.body.len, 0, NULL);
        out = json_array_size(json_object_get(j, "entries")) > 0;
        json_decref(j);
    }
    httpc_resp_dispose(&r);
    json_decref(msg);
    free(path);
    return out;
}

/* DELETE /s3/<b>: as S3, a bucket that holds objects stays (BucketNotEmpty). */
static void delete_bucket(http_req_t *req, const char *bck)
{
    int has = bucket_has_objects(req, bck);
    if (has < 0)
        return;
    if (has) {
        s3_error(req, 409, "BucketNotEmpty", "bucket %s is not empty", bck);
        return;
    }
    if (bucket_action(req, "DELETE", bck, "destroy-bck", NULL))
        http_reply(req, 204, NULL, "", 0);
}

static bool has_query(http_req_t *req, const char *name)
{
    return http_query(req, name) != NULL;
}

static void bucket_get(http_req_t *req, s3_ctx_t *c)
{
    buf_t x;
    buf_init(&x);
    if (has_query(req, "location")) {
        buf_puts(&x, "<LocationConstraint xmlns=\"" S3_XML_NS "\"></LocationConstraint>");
        s3_reply_xml(req, 200, &x);
    } else if (has_query(req, "versioning")) {
        buf_puts(&x, "<VersioningConfiguration xmlns=\"" S3_XML_NS "\"></VersioningConfiguration>");
        s3_reply_xml(req, 200, &x);
    } else if (has_query(req, "uploads")) {
        s3_mpt_list_uploads(req, c);
    } else if (has_query(req, "lifecycle") || has_query(req, "policy") || has_query(req, "cors") ||
               has_query(req, "acl") || has_query(req, "tagging") || has_query(req, "website")) {
        s3_error(req, 501, "NotImplemented", "this bucket sub-resource is not implemented");
    } else {
        s3_list_objects(req, c);
    }
}

static void bucket_request(http_req_t *req, s3_ctx_t *c)
{
    const char *m = req->method;
    bool exists = s3_bucket_exists(c->bck, NULL);
    if (strcmp(m, "PUT") == 0) {
        if (has_query(req, "versioning") || has_query(req, "acl") || has_query(req, "policy") ||
            has_query(req, "tagging") || has_query(req, "lifecycle") || has_query(req, "cors"))
            s3_error(req, 501, "NotImplemented", "this bucket sub-resource is not implemented");
        else
            create_bucket(req, c->bck);
        return;
    }
    if (!exists) {
        s3_error(req, 404, "NoSuchBucket", "bucket %s does not exist", c->bck);
        return;
    }
    if (strcmp(m, "HEAD") == 0) {
        struct MHD_Response *r = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "x-amz-bucket-region", "us-east-1");
        http_send(req, 200, r);
    } else if (strcmp(m, "GET") == 0) {
        bucket_get(req, c);
    } else if (strcmp(m, "DELETE") == 0) {
        delete_bucket(req, c->bck);
    } else if (strcmp(m, "POST") == 0 && has_query(req, "delete")) {
        s3_delete_many(req, c);
    } else {
        s3_error(req, 405, "MethodNotAllowed", "%s is not allowed on a bucket", m);
    }
}

/* ---------------------------------------------------------------- dispatch */

/* /s3[/<bucket>[/<key>]] into c->bck and c->key (the key may hold slashes). false with the
 * error in c. */
static bool parse_path(http_req_t *req, s3_ctx_t *c)
{
    const char *p = req->path + (under_s3(req->path) ? 3 : 0);
    while (*p == '/')
        p++;
    if (*p == '\0')
        return true;
    const char *slash = strchr(p, '/');
    c->bck = slash ? xstrndup(p, (size_t)(slash - p)) : xstrdup(p);
    const char *why = name_check_bucket(c->bck);
    if (why) {
        c->status = 400;
        c->code = "InvalidBucketName";
        snprintf(c->msg, sizeof(c->msg), "bucket name \"%.200s\" is invalid: %s", c->bck, why);
        return false;
    }
    if (slash == NULL || slash[1] == '\0')
        return true;
    c->key = xstrdup(slash + 1);
    why = name_check_object(c->key, strlen(c->key));
    if (why) {
        c->status = 400;
        c->code = strlen(c->key) > 1024 ? "KeyTooLongError" : "InvalidArgument";
        snprintf(c->msg, sizeof(c->msg), "object name \"%.200s\" is invalid: %s", c->key, why);
        return false;
    }
    return true;
}

void s3_on_headers(http_req_t *req)
{
    s3_ctx_t *c = xcalloc(1, sizeof(*c));
    c->fd = -1;
    req->ctx = c;
    req->ctx_free = ctx_free;
    const char *code =
        auth_enabled() ? s3_sigv4_check(req, c->want_sha, &c->chain, c->msg, sizeof(c->msg)) : NULL;
    if (code) {
        c->code = code;
        c->status = strstr(code, "Malformed") || strstr(code, "ParametersError") ? 400 : 403;
    } else if (parse_path(req, c) && c->key && strcmp(req->method, "PUT") == 0) {
        s3_put_headers(req, c);
    } else if (c->status == 0 && req->content_length > (int64_t)S3_XML_MAX) {
        c->status = 400;
        c->code = "MaxMessageLengthExceeded";
        snprintf(c->msg, sizeof(c->msg), "a request body over %u bytes", S3_XML_MAX);
    }
    if (c->status) {
        req->body_mode = BODY_DISCARD;
        if (http_answer_before_body(req) || req->content_length > (int64_t)HTTP_DRAIN_MAX)
            s3_error(req, c->status, c->code, "%s", c->msg);
    }
}

bool s3_payload_ok(const s3_ctx_t *c, const unsigned char d[32])
{
    if (c->want_sha[0] == '\0')
        return true;
    char hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    return strcmp(hex, c->want_sha) == 0;
}

void s3_on_request(http_req_t *req)
{
    s3_ctx_t *c = req->ctx;
    if (c->status) {
        s3_error(req, c->status, c->code, "%s", c->msg);
        return;
    }
    if (req->body_mode == BODY_BUFFER && c->want_sha[0]) {
        unsigned char d[32];
        EVP_Digest(req->body.base ? req->body.base : "", req->body.len, d, NULL, EVP_sha256(),
                   NULL);
        if (!s3_payload_ok(c, d)) {
            s3_error(req, 400, "XAmzContentSHA256Mismatch",
                     "the body does not match x-amz-content-sha256");
            return;
        }
    }
    if (req->body_too_large || req->body.len > S3_XML_MAX) {
        s3_error(req, 400, "MaxMessageLengthExceeded", "a request body over %u bytes", S3_XML_MAX);
        return;
    }
    if (c->bck == NULL) {
        if (strcmp(req->method, "GET") == 0)
            list_buckets(req);
        else
            s3_error(req, 405, "MethodNotAllowed", "%s is not allowed on /s3", req->method);
        return;
    }
    if (c->key == NULL)
        bucket_request(req, c);
    else
        s3_object_request(req, c);
}
