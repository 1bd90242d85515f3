/*
 * etl.c - ETL calls of liblocus: init, list, show, stop/start/delete, logs, health, inline
 * transform, transform-copy and the offline bucket transform (docs/protocol.md §1.6-§1.7), and
 * job counters (§1.8). The spec/ext/counter parsing lives in etl_spec.c.
 */
#include "client/internal.h"

#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *jdup(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return xstrdup(s != NULL ? s : "");
}

static int check_etl_name(const char *name, char *err)
{
    if (name == NULL || name[0] == '\0')
        return client_fail(err, LOCUS_EINVAL, "empty ETL name");
    if (strchr(name, '/') != NULL || strchr(name, '?') != NULL || strchr(name, '#') != NULL)
        return client_fail(err, LOCUS_EINVAL, "invalid ETL name \"%s\"", name);
    return 0;
}

/* <ep>/v1/etl[/<name>[/<verb>[/<arg>]]][?query]; caller frees. */
static char *etl_url(locus_client_t *c, const char *name, const char *verb, const char *arg,
                     const char *query)
{
    char *en = name != NULL ? url_encode(name, NULL) : NULL;
    char *ea = arg != NULL ? url_encode(arg, NULL) : NULL;
    char *path = name == NULL   ? xstrdup("etl")
                 : verb == NULL ? xasprintf("etl/%s", en)
                 : arg == NULL  ? xasprintf("etl/%s/%s", en, verb)
                                : xasprintf("etl/%s/%s/%s", en, verb, ea);
    char *url = client_url(c->endpoint, path, query);
    free(path);
    free(ea);
    free(en);
    return url;
}

/* Runs a bodyless request on url (freed here); the 2xx body stays in *r (dispose it). */
static int simple_call(locus_client_t *c, const char *method, char *url, client_req_t *r, char *err)
{
    client_req_init(r, method, url);
    int rc = client_do(c, r, err);
    r->url = NULL;
    free(url);
    return rc;
}

/* A JSON reply body; NULL after filling err. */
static json_t *reply_json(client_req_t *r, const char *what, char *err)
{
    json_error_t jerr;
    json_t *j = json_loadb(r->body.base, r->body.len, 0, &jerr);
    if (j == NULL)
        client_fail(err, LOCUS_EPROTO, "%s: invalid JSON reply (%s)", what, jerr.text);
    return j;
}

/* Orders records by their first member, a string (the name or target id of every ETL record). */
static int cmp_first(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* GET /v1/etl[/<name>/<verb>[/<arg>]] (name NULL: the list, which may be null) whose reply is a
 * JSON array: n records of size sz, one per element, filled by fill and sorted by their first
 * field, a string (NULL when none; *rc = 0, or the error with err filled). what names the reply
 * in errors. */
static void *get_records(locus_client_t *c, const char *name, const char *verb, const char *arg,
                         const char *what, size_t sz, void (*fill)(void *rec, json_t *e), size_t *n,
                         int *rc, char *err)
{
    *n = 0;
    if (name != NULL && (*rc = check_etl_name(name, err)) != 0)
        return NULL;
    client_req_t r;
    *rc = simple_call(c, "GET", etl_url(c, name, verb, arg, NULL), &r, err);
    json_t *j = *rc == 0 ? reply_json(&r, what, err) : NULL;
    client_req_dispose(&r);
    if (*rc != 0 || j == NULL) {
        *rc = *rc != 0 ? *rc : LOCUS_EPROTO;
        return NULL;
    }
    /* The list of ETLs may be null when there are none. */
    if (!json_is_array(j) && !(name == NULL && json_is_null(j))) {
        json_decref(j);
        *rc = client_fail(err, LOCUS_EPROTO, "%s: reply is not a JSON array", what);
        return NULL;
    }
    size_t cnt = json_array_size(j);
    char *v = cnt ? xcalloc(cnt, sz) : NULL;
    for (size_t i = 0; i < cnt; i++)
        fill(v + i * sz, json_array_get(j, i));
    if (cnt > 1)
        qsort(v, cnt, sz, cmp_first);
    json_decref(j);
    *n = cnt;
    return v;
}

/* The server bounds init/start by the spec's init_timeout: no stall timeout meanwhile. */
static int call_no_stall(locus_client_t *c, client_req_t *r, char *err)
{
    long stall = c->stall_ms;
    c->stall_ms = 0;
    int rc = client_do(c, r, err);
    c->stall_ms = stall;
    return rc;
}

int locus_etl_init(locus_client_t *c, const char *init_json, char **job_id, char *err)
{
    if (job_id != NULL)
        *job_id = NULL;
    if (init_json == NULL || init_json[0] == '\0')
        return client_fail(err, LOCUS_EINVAL, "empty init message");
    char *url = etl_url(c, NULL, NULL, NULL, NULL);
    client_req_t r;
    client_req_init(&r, "PUT", url);
    r.json_body = init_json;
    int rc = call_no_stall(c, &r, err);
    if (rc == 0 && job_id != NULL)
        *job_id = client_trim_id(r.body.base, r.body.len);
    client_req_dispose(&r);
    free(url);
    return rc;
}

void locus_etl_infos_free(locus_etl_info_t *v, size_t n)
{
    static const size_t offs[] = {offsetof(locus_etl_info_t, name),
                                  offsetof(locus_etl_info_t, stage),
                                  offsetof(locus_etl_info_t, job_id)};
    client_free_records(v, n, sizeof(*v), offs, ARRAY_SIZE(offs));
}

static void fill_info(void *rec, json_t *e)
{
    locus_etl_info_t *v = rec;
    v->name = jdup(e, "id");
    v->stage = jdup(e, "stage");
    v->job_id = jdup(e, "xaction_id");
    v->obj_count = json_int64(json_object_get(e, "obj_count"));
    v->in_bytes = json_int64(json_object_get(e, "in_bytes"));
    v->out_bytes = json_int64(json_object_get(e, "out_bytes"));
}

int locus_etl_list(locus_client_t *c, locus_etl_info_t **etls, size_t *n, char *err)
{
    int rc;
    *etls = get_records(c, NULL, NULL, NULL, "etl list", sizeof(**etls), fill_info, n, &rc, err);
    return rc;
}

void locus_etl_details_dispose(locus_etl_details_t *d)
{
    static const size_t offs[] = {offsetof(locus_etl_details_t, init_msg),
                                  offsetof(locus_etl_details_t, stage),
                                  offsetof(locus_etl_details_t, reason)};
    static const size_t err_offs[] = {offsetof(locus_etl_obj_err_t, obj_name),
                                      offsetof(locus_etl_obj_err_t, msg)};
    if (d != NULL)
        client_free_records(d->obj_errors, d->n_obj_errors, sizeof(*d->obj_errors), err_offs,
                            ARRAY_SIZE(err_offs));
    client_dispose_record(d, sizeof(*d), offs, ARRAY_SIZE(offs));
}

int locus_etl_show(locus_client_t *c, const char *name, const char *job, locus_etl_details_t *d,
                   char *err)
{
    memset(d, 0, sizeof(*d));
    int rc = check_etl_name(name, err);
    if (rc != 0)
        return rc;
    char *q = NULL;
    if (job != NULL && job[0] != '\0') {
        char *ej = url_encode(job, NULL);
        q = xasprintf("uuid=%s", ej);
        free(ej);
    }
    client_req_t r;
    rc = simple_call(c, "GET", etl_url(c, name, NULL, NULL, q), &r, err);
    free(q);
    if (rc != 0)
        goto out;
    json_t *j = reply_json(&r, "etl show", err);
    if (!json_is_object(j)) {
        json_decref(j);
        rc = client_fail(err, LOCUS_EPROTO, "etl show: reply is not a JSON object");
        goto out;
    }
    json_t *im = json_object_get(j, "init_msg");
    d->init_msg = json_dumps(im != NULL ? im : json_null(),
                             JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    d->stage = jdup(j, "stage");
    d->reason = jdup(j, "reason");
    json_t *errs = json_object_get(j, "obj_errors");
    size_t ne = json_array_size(errs);
    if (ne > 0) {
        d->obj_errors = xcalloc(ne, sizeof(*d->obj_errors));
        for (size_t i = 0; i < ne; i++) {
            json_t *e = json_array_get(errs, i);
            d->obj_errors[i].obj_name = jdup(e, "obj_name");
            d->obj_errors[i].msg = jdup(e, "msg");
            d->obj_errors[i].ecode = (int)json_int64(json_object_get(e, "ecode"));
        }
        d->n_obj_errors = ne;
    }
    json_decref(j);
out:
    client_req_dispose(&r);
    return rc;
}

static int etl_action(locus_client_t *c, const char *method, const char *name, const char *verb,
                      bool no_stall, char *err)
{
    int rc = check_etl_name(name, err);
    if (rc != 0)
        return rc;
    char *url = etl_url(c, name, verb, NULL, NULL);
    client_req_t r;
    client_req_init(&r, method, url);
    rc = no_stall ? call_no_stall(c, &r, err) : client_do(c, &r, err);
    client_req_dispose(&r);
    free(url);
    return rc;
}

int locus_etl_stop(locus_client_t *c, const char *name, char *err)
{
    return etl_action(c, "POST", name, "stop", false, err);
}

int locus_etl_start(locus_client_t *c, const char *name, char *err)
{
    return etl_action(c, "POST", name, "start", true, err);
}

int locus_etl_delete(locus_client_t *c, const char *name, char *err)
{
    return etl_action(c, "DELETE", name, NULL, false, err);
}

void locus_etl_logs_free(locus_etl_log_t *logs, size_t n)
{
    static const size_t offs[] = {offsetof(locus_etl_log_t, target_id),
                                  offsetof(locus_etl_log_t, data)};
    client_free_records(logs, n, sizeof(*logs), offs, ARRAY_SIZE(offs));
}

static void fill_log(void *rec, json_t *e)
{
    locus_etl_log_t *v = rec;
    v->target_id = jdup(e, "target_id");
    const char *b64 = json_string_value(json_object_get(e, "logs"));
    v->data = base64_decode(b64 != NULL ? b64 : "", &v->len);
    if (v->data == NULL) { /* not base64: show it as it came */
        v->data = xstrdup(b64);
        v->len = strlen(b64);
    }
}

int locus_etl_logs(locus_client_t *c, const char *name, const char *target, locus_etl_log_t **logs,
                   size_t *n, char *err)
{
    int rc;
    *logs = get_records(c, name, "logs", target != NULL && target[0] ? target : NULL, "etl logs",
                        sizeof(**logs), fill_log, n, &rc, err);
    return rc;
}

void locus_etl_health_free(locus_etl_health_t *v, size_t n)
{
    static const size_t offs[] = {offsetof(locus_etl_health_t, target_id),
                                  offsetof(locus_etl_health_t, status)};
    client_free_records(v, n, sizeof(*v), offs, ARRAY_SIZE(offs));
}

static void fill_health(void *rec, json_t *e)
{
    locus_etl_health_t *v = rec;
    v->target_id = jdup(e, "target_id");
    v->status = jdup(e, "health_status");
}

int locus_etl_health(locus_client_t *c, const char *name, locus_etl_health_t **hv, size_t *n,
                     char *err)
{
    int rc;
    *hv =
        get_records(c, name, "health", NULL, "etl health", sizeof(**hv), fill_health, n, &rc, err);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */

/* An ETL name or a pipeline as AIStore's CLI writes it, "a>>b>>c" (spaces around ">>"
 * allowed): the first name and the later ones as a JSON array (NULL when there are none).
 * 0, or LOCUS_EINVAL with err (an empty or invalid name). */
static int split_pipeline(const char *spec, char **first, json_t **rest, char *err)
{
    *first = NULL;
    *rest = NULL;
    if (spec == NULL)
        return check_etl_name(spec, err);
    for (const char *p = spec;;) {
        const char *e = strstr(p, ">>");
        size_t n = e ? (size_t)(e - p) : strlen(p);
        while (n && p[0] == ' ')
            p++, n--;
        while (n && p[n - 1] == ' ')
            n--;
        char *name = xstrndup(p, n);
        int rc = check_etl_name(name, err);
        if (rc != 0) {
            free(name);
            free(*first);
            json_decref(*rest);
            *first = NULL;
            *rest = NULL;
            return rc;
        }
        if (*first == NULL) {
            *first = name;
        } else {
            if (*rest == NULL)
                *rest = json_array();
            json_array_append_new(*rest, json_string(name));
            free(name);
        }
        if (e == NULL)
            return 0;
        p = e + 2;
    }
}

/* "etl_name=<etl>[&etl_pipeline=<b>,<c>][&etl_args=<args>]" for an ETL or a pipeline "a>>b>>c"
 * (AIStore's query), or NULL with err; caller frees. */
static char *etl_query(const char *etl, const char *args, char *err, int *rc)
{
    char *first;
    json_t *rest;
    if ((*rc = split_pipeline(etl, &first, &rest, err)) != 0)
        return NULL;
    buf_t b;
    buf_init(&b);
    char *en = url_encode(first, NULL);
    buf_printf(&b, "etl_name=%s", en);
    free(en);
    size_t i;
    json_t *v;
    json_array_foreach(rest, i, v)
    {
        char *ev = url_encode(json_string_value(v), NULL);
        buf_printf(&b, "%s%s", i ? "," : "&etl_pipeline=", ev);
        free(ev);
    }
    if (args != NULL) {
        char *ea = url_encode(args, NULL);
        buf_printf(&b, "&etl_args=%s", ea);
        free(ea);
    }
    free(first);
    json_decref(rest);
    return buf_steal(&b);
}

int locus_etl_object_get_cb(locus_client_t *c, const char *etl, const char *args, const char *bck,
                            const char *obj, locus_write_cb cb, void *arg, int64_t *nbytes,
                            char *err)
{
    if (nbytes != NULL)
        *nbytes = 0;
    int rc = client_check_object(bck, obj, err);
    if (rc != 0)
        return rc;
    char *q = etl_query(etl, args, err, &rc);
    if (q == NULL)
        return rc;
    rc = client_get_stream(c, bck, obj, q, NULL, cb, arg, nbytes, err);
    free(q);
    return rc;
}

int locus_etl_object_get_fd(locus_client_t *c, const char *etl, const char *args, const char *bck,
                            const char *obj, int fd, int64_t *nbytes, char *err)
{
    client_fd_sink_t s = {fd, 0};
    int rc = locus_etl_object_get_cb(c, etl, args, bck, obj, client_fd_sink, &s, nbytes, err);
    if (rc != 0 && s.err != 0)
        rc = client_fail(err, s.err, "writing the output: %s", strerror(-s.err));
    return rc;
}

int locus_etl_object_copy(locus_client_t *c, const char *etl, const char *args, const char *src_bck,
                          const char *src_obj, const char *dst_bck, const char *dst_obj, char *err)
{
    int rc = client_check_object(src_bck, src_obj, err);
    if (rc == 0)
        rc = client_check_object(dst_bck, dst_obj, err);
    if (rc != 0)
        return rc;
    char *eq = etl_query(etl, args, err, &rc);
    if (eq == NULL)
        return rc;
    /* object_to is a uname, ais/@#/<bucket>/<object>, sent percent-encoded. */
    char *eb = url_encode(dst_bck, NULL);
    char *eo = url_encode(dst_obj, NULL);
    char *q = xasprintf("object_to=ais%%2F%%40%%23%%2F%s%%2F%s&%s", eb, eo, eq);
    char *url = client_url_object(c->endpoint, src_bck, src_obj, q);
    client_req_t r;
    client_req_init(&r, "PUT", url);
    r.upload = true;
    r.up_buf = "";
    r.up_len = 0;
    rc = client_do(c, &r, err);
    client_req_dispose(&r);
    free(url);
    free(q);
    free(eq);
    free(eo);
    free(eb);
    return rc;
}

int locus_etl_bucket(locus_client_t *c, const char *etl, const char *src, const char *dst,
                     const locus_etl_bck_opts_t *opts, char **job_id, char *err)
{
    *job_id = NULL;
    char *first;
    json_t *pipeline;
    int rc = split_pipeline(etl, &first, &pipeline, err);
    if (rc == 0)
        rc = client_check_buckets(src, dst, err);
    if (rc != 0) {
        free(first);
        json_decref(pipeline);
        return rc;
    }
    locus_etl_bck_opts_t none = {0};
    if (opts == NULL)
        opts = &none;
    json_t *ext = NULL;
    if (opts->ext != NULL) {
        json_error_t jerr;
        ext = json_loads(opts->ext, 0, &jerr);
        if (!json_is_object(ext)) {
            json_decref(ext);
            free(first);
            json_decref(pipeline);
            return client_fail(err, LOCUS_EINVAL, "ext: not a JSON object: %s", opts->ext);
        }
    }
    json_t *v = json_object();
    json_object_set_new(v, "id", json_string(first));
    free(first);
    if (pipeline != NULL) /* AIStore's TCBMsg Transform.Pipeline: the later stages */
        json_object_set_new(v, "pipeline", pipeline);
    json_object_set_new(v, "prefix", json_string(opts->prefix ? opts->prefix : ""));
    json_object_set_new(v, "prepend", json_string(opts->prepend ? opts->prepend : ""));
    json_object_set_new(v, "dry_run", json_boolean(opts->dry_run));
    json_object_set_new(v, "force", json_boolean(opts->force));
    if (ext != NULL)
        json_object_set_new(v, "ext", ext);
    if (opts->args != NULL)
        json_object_set_new(v, "etl_args", json_string(opts->args));
    if (opts->num_workers != 0)
        json_object_set_new(v, "num-workers", json_integer(opts->num_workers));
    if (opts->cont_on_err)
        json_object_set_new(v, "coer", json_true());
    return client_bucket_job(c, "etl-bck", src, dst, v, job_id, err);
}

int locus_job_totals(locus_client_t *c, const char *id, locus_job_totals_t *t, char *err)
{
    memset(t, 0, sizeof(*t));
    char *json = NULL;
    int rc = locus_job_snaps(c, id, &json, err);
    if (rc == 0)
        rc = locus_job_totals_parse(json, t, err);
    free(json);
    return rc;
}
