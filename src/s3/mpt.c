/*
 * mpt.c - S3 multipart uploads over the targets' native multipart upload (docs/protocol.md
 * §1.3.1): an upload lives on its object's HRW owner target, in that target's work directory,
 * and becomes the object only when completed (nothing partial is ever visible).
 *   CreateMultipartUpload    POST ?uploads          → the target's mpt-upload
 *   UploadPart(Copy)         PUT ?partNumber&uploadId (object.c: spooled, MD5 = its ETag)
 *   CompleteMultipartUpload  POST ?uploadId, XML     → mpt-complete with CLUSTER_HDR_S3_MPT: S3's
 *                            rules on the target (listed parts, their MD5s, EntityTooSmall)
 *   AbortMultipartUpload     DELETE ?uploadId        → mpt-abort
 *   ListParts                GET ?uploadId           → the owner's /v1/internal/mpt
 *   ListMultipartUploads     GET <bucket>?uploads    → /v1/internal/mpt on every target, merged
 */
#include "s3/internal.h"
#include "cluster/cluster.h"
#include "cluster/meta.h"
#include "common/json.h"
#include "common/util.h"
#include "net/fanout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S3_UPLOAD_ID_LEN 20 /* the targets' upload ids: [a-z0-9]{20} */

bool s3_upload_id_ok(const char *id)
{
    return id && strlen(id) == S3_UPLOAD_ID_LEN &&
           strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789") == S3_UPLOAD_ID_LEN;
}

int s3_part_number(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 5 || strspn(s, "0123456789") != n)
        return -1;
    int k = atoi(s);
    return k >= 1 && k <= S3_PARTS_MAX ? k : -1;
}

/* The upload id of the request, checked: NULL when answered (404 NoSuchUpload). */
static const char *upload_id(http_req_t *req)
{
    const char *id = http_query(req, "uploadId");
    if (s3_upload_id_ok(id))
        return id;
    s3_error(req, 404, "NoSuchUpload", "the upload id \"%.64s\" does not exist", id ? id : "");
    return NULL;
}

/* An answer of the target as S3's error: its "code" when it sent one (CLUSTER_HDR_S3_MPT), else
 * by status (404: NoSuchUpload); rc < 0: no answer. */
static void mpt_error(http_req_t *req, int rc, const httpc_resp_t *r)
{
    if (rc < 0) {
        s3_error(req, 503, "ServiceUnavailable", "target unreachable: %s", r->err);
        return;
    }
    json_t *j = r->body.base ? json_loadb(r->body.base, r->body.len, 0, NULL) : NULL;
    const char *code = json_string_value(json_object_get(j, "code"));
    const char *msg = json_string_value(json_object_get(j, "message"));
    if (code && r->status >= 400 && r->status < 600)
        s3_error(req, (unsigned)r->status, code, "%s", msg ? msg : code);
    else
        s3_error_native(req, r->status, &r->body, "NoSuchUpload");
    json_decref(j);
}

static void upload_head(buf_t *x, const char *root, const s3_ctx_t *c, const char *id)
{
    buf_printf(x, "<%s xmlns=\"" S3_XML_NS "\">", root);
    s3x_elem(x, "Bucket", c->bck);
    s3x_elem(x, "Key", c->key);
    if (id)
        s3x_elem(x, "UploadId", id);
}

/* POST /s3/<b>/<key>?uploads */
static void mpt_create(http_req_t *req, s3_ctx_t *c, const char *url)
{
    json_t *msg = json_pack("{s:s}", "action", "mpt-upload");
    httpc_resp_t r;
    httpc_resp_init(&r);
    int rc = httpc_json("POST", url, msg, S3_NATIVE_TIMEOUT_MS, &r);
    json_decref(msg);
    char id[S3_UPLOAD_ID_LEN + 1] = "";
    if (rc == 0 && r.status == 200 && r.body.len == S3_UPLOAD_ID_LEN)
        memcpy(id, r.body.base, S3_UPLOAD_ID_LEN);
    if (!s3_upload_id_ok(id)) {
        if (rc == 0 && r.status == 200)
            s3_error(req, 500, "InternalError", "the target answered no upload id");
        else
            mpt_error(req, rc, &r);
        httpc_resp_dispose(&r);
        return;
    }
    httpc_resp_dispose(&r);
    buf_t x;
    buf_init(&x);
    upload_head(&x, "InitiateMultipartUploadResult", c, id);
    buf_puts(&x, "</InitiateMultipartUploadResult>");
    s3_reply_xml(req, 200, &x);
}

/* The native body of an S3 complete: parts strictly ascending (else 400 InvalidPartOrder
 * answered, NULL). */
static json_t *complete_body(http_req_t *req, const s3_complete_t *p)
{
    json_t *v = json_array();
    for (size_t i = 0; i < p->n; i++) {
        if (i > 0 && p->parts[i].num <= p->parts[i - 1].num) {
            s3_error(req, 400, "InvalidPartOrder",
                     "part %d comes after part %d: the list must be in ascending order",
                     p->parts[i].num, p->parts[i - 1].num);
            json_decref(v);
            return NULL;
        }
        json_array_append_new(
            v, json_pack("{s:i, s:s}", "part-number", p->parts[i].num, "etag", p->parts[i].etag));
    }
    return json_pack("{s:s, s:o}", "action", "mpt-complete", "value", v);
}

/* POST /s3/<b>/<key>?uploadId=<id> with the parts list. */
static void mpt_complete(http_req_t *req, s3_ctx_t *c, const char *url)
{
    const char *id = upload_id(req);
    if (id == NULL)
        return;
    s3_complete_t p;
    char err[256];
    if (s3x_parse_complete(req->body.base, req->body.len, &p, err, sizeof(err)) < 0) {
        s3_complete_dispose(&p);
        s3_error(req, 400, "MalformedXML", "%s", err);
        return;
    }
    json_t *body = complete_body(req, &p);
    s3_complete_dispose(&p);
    if (body == NULL)
        return;
    char *text = json_dumps(body, JSON_COMPACT), min[24];
    json_decref(body);
    snprintf(min, sizeof(min), "%lld", (long long)cluster_config()->s3_mpt_min_part);
    const httpc_header_t hdrs[] = {
        {"Content-Type", "application/json"}, {CLUSTER_HDR_S3_MPT, min}, {NULL, NULL}};
    char *u = xasprintf("%s?uploadId=%s", url, id);
    httpc_resp_t r;
    httpc_resp_init(&r);
    int rc = httpc_do("POST", u, text, strlen(text), hdrs, 0, &r);
    json_t *j = rc == 0 && r.status == 200 ? json_loadb(r.body.base, r.body.len, 0, NULL) : NULL;
    const char *etag = json_string_value(json_object_get(j, "etag"));
    if (etag) {
        char q[64], *loc = xasprintf("/%s/%s", c->bck, c->key);
        snprintf(q, sizeof(q), "\"%.48s\"", etag);
        buf_t x;
        buf_init(&x);
        buf_printf(&x, "<CompleteMultipartUploadResult xmlns=\"" S3_XML_NS "\">");
        s3x_elem(&x, "Location", loc);
        s3x_elem(&x, "Bucket", c->bck);
        s3x_elem(&x, "Key", c->key);
        s3x_elem(&x, "ETag", q);
        buf_puts(&x, "</CompleteMultipartUploadResult>");
        s3_reply_xml(req, 200, &x);
        free(loc);
    } else {
        mpt_error(req, rc, &r);
    }
    json_decref(j);
    httpc_resp_dispose(&r);
    free(u);
    free(text);
}

/* DELETE /s3/<b>/<key>?uploadId=<id> */
static void mpt_abort(http_req_t *req, const char *url)
{
    const char *id = upload_id(req);
    if (id == NULL)
        return;
    char *u = xasprintf("%s?uploadId=%s", url, id);
    json_t *msg = json_pack("{s:s}", "action", "mpt-abort");
    httpc_resp_t r;
    httpc_resp_init(&r);
    int rc = httpc_json("DELETE", u, msg, S3_NATIVE_TIMEOUT_MS, &r);
    if (rc == 0 && r.status == 200)
        http_reply(req, 204, NULL, "", 0);
    else
        mpt_error(req, rc, &r);
    httpc_resp_dispose(&r);
    json_decref(msg);
    free(u);
}

/* A non-negative integer query parameter (def when absent, at most max); -1 when answered
 * (400 InvalidArgument). */
static long query_count(http_req_t *req, const char *name, long def, long max)
{
    const char *s = http_query(req, name);
    if (s == NULL)
        return def;
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end || v < 0 || v > 1000000000L) {
        s3_error(req, 400, "InvalidArgument", "%s must be a non-negative integer", name);
        return -1;
    }
    return v > max ? max : v;
}

static void put_part(buf_t *x, json_t *p)
{
    char t[32], etag[40] = "";
    s3_time_iso(json_integer_value(json_object_get(p, "mtime")), t);
    const char *e = json_string_value(json_object_get(p, "etag"));
    if (e && e[0])
        snprintf(etag, sizeof(etag), "\"%.32s\"", e);
    buf_printf(x, "<Part><PartNumber>%d</PartNumber>",
               (int)json_integer_value(json_object_get(p, "part-number")));
    s3x_elem(x, "LastModified", t);
    s3x_elem(x, "ETag", etag);
    buf_printf(x, "<Size>%lld</Size></Part>",
               (long long)json_integer_value(json_object_get(p, "size")));
}

/* The ListPartsResult of a target's {"parts":[...]} after marker, max of them. */
static void list_parts_answer(http_req_t *req, s3_ctx_t *c, const char *id, json_t *j, long marker,
                              long max)
{
    buf_t x;
    buf_init(&x);
    upload_head(&x, "ListPartsResult", c, id);
    buf_printf(&x, "<PartNumberMarker>%ld</PartNumberMarker>", marker);
    buf_t parts;
    buf_init(&parts);
    long n = 0, last = marker;
    bool truncated = false;
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(j, "parts"), i, p)
    {
        long num = (long)json_integer_value(json_object_get(p, "part-number"));
        if (num <= marker)
            continue;
        if (n == max) {
            truncated = true;
            break;
        }
        put_part(&parts, p);
        last = num;
        n++;
    }
    buf_printf(&x, "<NextPartNumberMarker>%ld</NextPartNumberMarker><MaxParts>%ld</MaxParts>", last,
               max);
    buf_printf(&x, "<IsTruncated>%s</IsTruncated>", truncated ? "true" : "false");
    buf_append(&x, parts.base ? parts.base : "", parts.len);
    buf_dispose(&parts);
    buf_puts(&x, "<Initiator><ID>locus</ID><DisplayName>locus</DisplayName></Initiator>"
                 "<Owner><ID>locus</ID><DisplayName>locus</DisplayName></Owner>"
                 "<StorageClass>STANDARD</StorageClass></ListPartsResult>");
    s3_reply_xml(req, 200, &x);
}

/* The base URL of key's owner target (caller frees), NULL when there is none. */
static char *owner_url(const char *bck, const char *key)
{
    smap_t *s = smap_get();
    const snode_t *t = smap_owner(s, bck, key);
    char *url = t ? xstrdup(t->url) : NULL;
    smap_put(s);
    return url;
}

/* GET /s3/<b>/<key>?uploadId=<id>[&max-parts=&part-number-marker=] */
static void mpt_list_parts(http_req_t *req, s3_ctx_t *c)
{
    const char *id = upload_id(req);
    long max = id ? query_count(req, "max-parts", 1000, 1000) : -1;
    long marker = max >= 0 ? query_count(req, "part-number-marker", 0, S3_PARTS_MAX) : -1;
    if (marker < 0)
        return;
    char *base = owner_url(c->bck, c->key);
    if (base == NULL) {
        s3_error(req, 503, "ServiceUnavailable", "no storage targets in the cluster");
        return;
    }
    char *eb = url_encode(c->bck, NULL), *ek = url_encode(c->key, NULL);
    char *u = xasprintf("%s/v1/internal/mpt?bck=%s&obj=%s&uploadId=%s", base, eb, ek, id);
    httpc_resp_t r;
    httpc_resp_init(&r);
    int rc = httpc_do("GET", u, NULL, 0, NULL, S3_NATIVE_TIMEOUT_MS, &r);
    json_t *j = rc == 0 && r.status == 200 ? json_loadb(r.body.base, r.body.len, 0, NULL) : NULL;
    if (j)
        list_parts_answer(req, c, id, j, marker, max);
    else
        mpt_error(req, rc, &r);
    json_decref(j);
    httpc_resp_dispose(&r);
    free(u);
    free(eb);
    free(ek);
    free(base);
}

bool s3_mpt_object(http_req_t *req, s3_ctx_t *c, const char *url)
{
    const char *m = req->method;
    if (c->part > 0 && strcmp(m, "PUT") == 0)
        return false; /* UploadPart: object.c */
    bool uploads = http_query(req, "uploads") != NULL, uid = http_query(req, "uploadId") != NULL;
    if (strcmp(m, "POST") == 0 && uploads)
        mpt_create(req, c, url);
    else if (strcmp(m, "POST") == 0 && uid)
        mpt_complete(req, c, url);
    else if (strcmp(m, "DELETE") == 0 && uid)
        mpt_abort(req, url);
    else if (strcmp(m, "GET") == 0 && uid)
        mpt_list_parts(req, c);
    else if (uploads || uid || strcmp(m, "POST") == 0)
        s3_error(req, 405, "MethodNotAllowed", "%s is not allowed here", m);
    else
        return false;
    return true;
}

/* ---------------------------------------------------------------- ListMultipartUploads */

static int cmp_upload(const void *a, const void *b)
{
    return json_cmp_members(*(json_t *const *)a, *(json_t *const *)b, "name", "id");
}

/* Every target's first max + 1 uploads after the markers into one sorted array (owned
 * references, *n of them); -1 when answered (a target failed). */
static int gather_uploads(http_req_t *req, const char *query, json_t ***out, size_t *n)
{
    smap_t *s = smap_get();
    fanout_req_t *calls = xcalloc(s->n_targets + 1, sizeof(*calls));
    size_t nt = 0;
    for (size_t i = 0; i < s->n_targets; i++) /* a stopped target's uploads cannot go on */
        if (!(s->targets[i].flags & SNODE_DOWN))
            calls[nt++] =
                (fanout_req_t){.method = "GET",
                               .url = xasprintf("%s/v1/internal/mpt?%s", s->targets[i].url, query)};
    smap_put(s);
    fanout_opts_t o = {.concurrency = 16, .timeout_ms = S3_NATIVE_TIMEOUT_MS};
    fanout_run(calls, nt, &o);
    json_t **v = NULL;
    size_t k = 0;
    int rc = 0;
    for (size_t i = 0; i < nt && rc == 0; i++) {
        json_t *j = calls[i].rc == 0 && calls[i].resp.status == 200
                        ? json_loadb(calls[i].resp.body.base, calls[i].resp.body.len, 0, NULL)
                        : NULL;
        if (!json_is_array(j)) {
            mpt_error(req, calls[i].rc, &calls[i].resp);
            rc = -1;
        }
        size_t x;
        json_t *e;
        json_array_foreach(j, x, e)
        {
            if (!json_is_string(json_object_get(e, "name")) ||
                !json_is_string(json_object_get(e, "id")))
                continue;
            v = xrealloc(v, (k + 1) * sizeof(json_t *));
            v[k++] = json_incref(e);
        }
        json_decref(j);
    }
    fanout_free(calls, nt);
    if (k)
        qsort(v, k, sizeof(json_t *), cmp_upload);
    *out = v;
    *n = k;
    return rc;
}

static void put_upload(buf_t *x, json_t *u)
{
    char t[32];
    s3_time_iso(json_integer_value(json_object_get(u, "initiated")), t);
    buf_puts(x, "<Upload>");
    s3x_elem(x, "Key", json_string_value(json_object_get(u, "name")));
    s3x_elem(x, "UploadId", json_string_value(json_object_get(u, "id")));
    buf_puts(x, "<Initiator><ID>locus</ID><DisplayName>locus</DisplayName></Initiator>"
                "<Owner><ID>locus</ID><DisplayName>locus</DisplayName></Owner>"
                "<StorageClass>STANDARD</StorageClass>");
    s3x_elem(x, "Initiated", t);
    buf_puts(x, "</Upload>");
}

/* GET /s3/<b>?uploads[&prefix=&key-marker=&upload-id-marker=&max-uploads=]: sorted by key, then
 * upload id (S3 sorts a key's uploads by start time; the id order keeps the markers exact). */
void s3_mpt_list_uploads(http_req_t *req, s3_ctx_t *c)
{
    long max = query_count(req, "max-uploads", 1000, 1000);
    if (max < 0)
        return;
    if (http_query(req, "delimiter")) {
        s3_error(req, 501, "NotImplemented", "ListMultipartUploads with a delimiter");
        return;
    }
    const char *p = http_query(req, "prefix"), *km = http_query(req, "key-marker");
    const char *im = km ? http_query(req, "upload-id-marker") : NULL;
    p = p ? p : "";
    km = km ? km : "";
    im = im ? im : "";
    char *ep = url_encode(p, NULL), *ek = url_encode(km, NULL), *ei = url_encode(im, NULL);
    char *eb = url_encode(c->bck, NULL);
    char *q =
        xasprintf("bck=%s&prefix=%s&key_marker=%s&id_marker=%s&limit=%ld", eb, ep, ek, ei, max + 1);
    json_t **v = NULL;
    size_t n = 0;
    if (gather_uploads(req, q, &v, &n) == 0) {
        bool truncated = n > (size_t)max;
        size_t take = truncated ? (size_t)max : n;
        buf_t x;
        buf_init(&x);
        buf_puts(&x, "<ListMultipartUploadsResult xmlns=\"" S3_XML_NS "\">");
        s3x_elem(&x, "Bucket", c->bck);
        s3x_elem(&x, "KeyMarker", km);
        s3x_elem(&x, "UploadIdMarker", im);
        if (take > 0) {
            s3x_elem(&x, "NextKeyMarker", json_string_value(json_object_get(v[take - 1], "name")));
            s3x_elem(&x, "NextUploadIdMarker",
                     json_string_value(json_object_get(v[take - 1], "id")));
        }
        s3x_elem(&x, "Prefix", p);
        buf_printf(&x, "<MaxUploads>%ld</MaxUploads><IsTruncated>%s</IsTruncated>", max,
                   truncated ? "true" : "false");
        for (size_t i = 0; i < take; i++)
            put_upload(&x, v[i]);
        buf_puts(&x, "</ListMultipartUploadsResult>");
        s3_reply_xml(req, 200, &x);
    }
    for (size_t i = 0; i < n; i++)
        json_decref(v[i]);
    free(v);
    free(q);
    free(ep);
    free(ek);
    free(ei);
    free(eb);
}
