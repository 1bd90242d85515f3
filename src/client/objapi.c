/*
 * objapi.c - the object API calls of liblocus beyond PUT/GET/HEAD/DELETE: append and flush,
 * custom metadata, multipart upload, promote (docs/protocol.md §1.3.1).
 */
#include "client/internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One request on bck/obj with extra query q, a body (up_buf for PUT, json for others; fd >= 0:
 * len bytes of fd from offset off); r holds the reply (caller disposes). */
static int objapi_call_fd(locus_client_t *c, const char *method, const char *bck, const char *obj,
                          const char *q, const void *data, int fd, int64_t off, size_t len,
                          const char *json, client_req_t *r, char *err)
{
    client_req_init(r, method, NULL);
    int rc = obj ? client_check_object(bck, obj, err) : locus_check_bucket_name(bck, err);
    if (rc != 0)
        return rc;
    char *path = obj ? NULL : xasprintf("objects/%s", bck); /* promote: /v1/objects/<bck> */
    char *url = obj ? client_url_object(c->endpoint, bck, obj, q)
                    : client_url(c->endpoint, path, "provider=ais");
    free(path);
    r->url = url;
    r->json_body = json;
    if (json == NULL) {
        r->upload = true;
        r->up_buf = fd >= 0 ? NULL : data ? data : "";
        r->up_fd = fd;
        r->up_off = off;
        r->up_len = (int64_t)len;
    }
    rc = client_do(c, r, err);
    r->url = NULL;
    r->json_body = NULL;
    free(url);
    return rc;
}

static int objapi_call(locus_client_t *c, const char *method, const char *bck, const char *obj,
                       const char *q, const void *data, size_t len, const char *json,
                       client_req_t *r, char *err)
{
    return objapi_call_fd(c, method, bck, obj, q, data, -1, 0, len, json, r, err);
}

static char *append_query(const char *type, const char *handle)
{
    char *h = url_encode(handle ? handle : "", "");
    char *q = xasprintf("append_type=%s&append_handle=%s", type, h);
    free(h);
    return q;
}

int locus_object_append(locus_client_t *c, const char *bck, const char *obj, const void *data,
                        size_t len, const char *handle, char **next, char *err)
{
    *next = NULL;
    char *q = append_query("append", handle);
    client_req_t r;
    int rc = objapi_call(c, "PUT", bck, obj, q, data, len, NULL, &r, err);
    const char *h = rc == 0 ? client_req_header(&r, "Ais-Append-Handle") : NULL;
    if (rc == 0 && (h == NULL || h[0] == '\0'))
        rc = client_fail(err, LOCUS_EPROTO, "append: no Ais-Append-Handle in the reply");
    else if (rc == 0)
        *next = xstrdup(h);
    client_req_dispose(&r);
    free(q);
    return rc;
}

int locus_object_flush(locus_client_t *c, const char *bck, const char *obj, const char *handle,
                       char *err)
{
    char *q = append_query("flush", handle);
    client_req_t r;
    int rc = objapi_call(c, "PUT", bck, obj, q, "", 0, NULL, &r, err);
    client_req_dispose(&r);
    free(q);
    return rc;
}

static char *actmsg_text(const char *action, const char *name, json_t *value)
{
    json_t *j = json_pack("{s:s, s:s, s:o}", "action", action, "name", name, "value", value);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

int locus_object_set_custom(locus_client_t *c, const char *bck, const char *obj,
                            const char *const *keys, const char *const *vals, size_t n,
                            bool replace, char *err)
{
    json_t *kv = json_object();
    for (size_t i = 0; i < n; i++)
        json_object_set_new(kv, keys[i], json_string(vals[i]));
    char *msg = actmsg_text("", "", kv);
    client_req_t r;
    int rc = objapi_call(c, "PATCH", bck, obj, replace ? "set-new-custom=true" : NULL, NULL, 0, msg,
                         &r, err);
    client_req_dispose(&r);
    free(msg);
    return rc;
}

/* The mpt-complete (or mpt-abort, n == 0) of upload id. */
static int mpt_finish(locus_client_t *c, const char *bck, const char *obj, const char *id,
                      int64_t n, char *err)
{
    json_t *parts = json_array();
    for (int64_t i = 1; i <= n; i++)
        json_array_append_new(parts,
                              json_pack("{s:s, s:I}", "etag", "", "part-number", (json_int_t)i));
    char *msg = actmsg_text(n ? "mpt-complete" : "mpt-abort", "", parts);
    char *q = xasprintf("uploadId=%s", id);
    client_req_t r;
    int rc = objapi_call(c, n ? "POST" : "DELETE", bck, obj, q, NULL, 0, msg, &r, err);
    client_req_dispose(&r);
    free(q);
    free(msg);
    return rc;
}

int locus_object_put_multipart(locus_client_t *c, const char *bck, const char *obj, int fd,
                               int64_t size, int64_t part_size, char *err)
{
    if (part_size < 1 || size < 0 || (size + part_size - 1) / part_size > 10000)
        return client_fail(err, LOCUS_EINVAL, "multipart: need a part size giving 1..10000 parts");
    int64_t n = size == 0 ? 1 : (size + part_size - 1) / part_size;
    char *msg = actmsg_text("mpt-upload", "", json_null());
    client_req_t r;
    int rc = objapi_call(c, "POST", bck, obj, NULL, NULL, 0, msg, &r, err);
    char *id = rc == 0 ? client_trim_id(r.body.base, r.body.len) : NULL;
    client_req_dispose(&r);
    free(msg);
    if (rc == 0 && (id == NULL || id[0] == '\0'))
        rc = client_fail(err, LOCUS_EPROTO, "mpt-upload: no upload id in the reply");
    for (int64_t i = 0; i < n && rc == 0; i++) {
        int64_t off = i * part_size, len = size - off < part_size ? size - off : part_size;
        char *q = xasprintf("uploadId=%s&partNumber=%lld", id, (long long)(i + 1));
        rc = objapi_call_fd(c, "PUT", bck, obj, q, NULL, fd, off, (size_t)len, NULL, &r, err);
        client_req_dispose(&r);
        free(q);
    }
    if (rc == 0)
        rc = mpt_finish(c, bck, obj, id, n, err);
    else if (id && id[0]) {
        char ignored[LOCUS_ERR_LEN];
        mpt_finish(c, bck, obj, id, 0, ignored);
    }
    free(id);
    return rc;
}

int locus_object_promote(locus_client_t *c, const char *bck, const locus_promote_opts_t *o,
                         char *err)
{
    if (o == NULL || o->src == NULL || o->src[0] != '/')
        return client_fail(err, LOCUS_EINVAL, "promote: the source must be an absolute path");
    json_t *v = json_pack("{s:s, s:s, s:b, s:b, s:b, s:b}", "src", o->src, "obj",
                          o->obj ? o->obj : "", "rcr", o->recursive, "ovw", o->overwrite, "dls",
                          o->delete_src, "notshr", o->not_shared);
    if (o->target)
        json_object_set_new(v, "tid", json_string(o->target));
    char *msg = actmsg_text("promote", o->src, v);
    client_req_t r;
    int rc = objapi_call(c, "POST", bck, NULL, NULL, NULL, 0, msg, &r, err);
    client_req_dispose(&r);
    free(msg);
    return rc;
}
