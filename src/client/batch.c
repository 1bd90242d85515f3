/*
 * batch.c - liblocus: GetBatch (GET /v1/ml/moss/<bck>, AIStore's MossReq body, followed through
 * the proxy's redirect with the body re-sent) and the archive job (docs/protocol.md §1.14).
 */
#include "client/internal.h"

#include <stdlib.h>
#include <string.h>

int locus_batch_get(locus_client_t *c, const char *bck, const locus_batch_in_t *in, size_t n,
                    const locus_batch_opts_t *opts, locus_write_cb cb, void *arg, int64_t *nbytes,
                    char *err)
{
    int rc = locus_check_bucket_name(bck, err);
    if (rc != 0)
        return rc;
    if (n == 0)
        return client_fail(err, LOCUS_EINVAL, "a batch needs at least one object");
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_pack("{s:s}", "objname", in[i].objname ? in[i].objname : "");
        if (in[i].bucket)
            json_object_set_new(e, "bucket", json_string(in[i].bucket));
        if (in[i].archpath)
            json_object_set_new(e, "archpath", json_string(in[i].archpath));
        json_array_append_new(a, e);
    }
    json_t *req = json_pack(
        "{s:o, s:s, s:b, s:b, s:b}", "in", a, "mime", opts && opts->format ? opts->format : ".tar",
        "coer", opts && opts->cont_on_err, "onob", opts && opts->only_obj_name, "strm", 1);
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    char *eb = url_encode(bck, "");
    char *path = xasprintf("ml/moss/%s", eb);
    char *url = client_url(c->endpoint, path, "provider=ais");
    client_req_t r;
    client_req_init(&r, "GET", url);
    r.json_body = body;
    r.sink = cb;
    r.sink_arg = arg;
    rc = client_do(c, &r, err);
    if (nbytes != NULL)
        *nbytes = r.nbytes;
    r.json_body = NULL;
    client_req_dispose(&r);
    free(url);
    free(path);
    free(eb);
    free(body);
    return rc;
}

int locus_objects_archive(locus_client_t *c, const char *bck, const char *const *names, size_t n,
                          const char *template_str, const char *dst_bck, const char *archname,
                          bool include_bck, bool append, char **job_id, char *err)
{
    if (job_id != NULL)
        *job_id = NULL;
    int rc = client_check_buckets(bck, dst_bck ? dst_bck : bck, err);
    if (rc != 0)
        return rc;
    if (archname == NULL || archname[0] == '\0')
        return client_fail(err, LOCUS_EINVAL, "the archive needs a name");
    json_t *v =
        json_pack("{s:s, s:{s:s, s:s}, s:b, s:b}", "archname", archname, "tobck", "name",
                  dst_bck ? dst_bck : bck, "provider", "ais", "isbn", include_bck, "aate", append);
    if (names != NULL) {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(a, json_string(names[i]));
        json_object_set_new(v, "objnames", a);
    } else if (template_str != NULL) {
        json_object_set_new(v, "template", json_string(template_str));
    } else {
        json_decref(v);
        return client_fail(err, LOCUS_EINVAL, "neither names nor a template");
    }
    client_req_t r;
    rc = client_bucket_call(c, "PUT", bck, NULL, "archive", v, NULL, &r, err);
    if (rc == 0 && job_id != NULL)
        *job_id = client_trim_id(r.body.base, r.body.len);
    client_req_dispose(&r);
    return rc;
}
