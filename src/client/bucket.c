/*
 * bucket.c - bucket calls of liblocus: create, destroy, head, list, copy (docs/protocol.md §1.2,
 * §1.7) and the cluster map / health calls (§1.1).
 */
#include "client/internal.h"

#include <jansson.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static char *actmsg(const char *action, json_t *value)
{
    json_t *j = json_pack("{s:s, s:s, s:o}", "action", action, "name", "", "value",
                          value != NULL ? value : json_null());
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

int client_bucket_call(locus_client_t *c, const char *method, const char *bck, const char *query,
                       const char *action, json_t *value, const char *accept, client_req_t *r,
                       char *err)
{
    char *url = client_url_bucket(c->endpoint, bck, query);
    char *msg = action != NULL ? actmsg(action, value) : NULL;
    client_req_init(r, method, url);
    r->json_body = msg;
    r->accept = accept;
    int rc = client_do(c, r, err);
    r->url = NULL;
    r->json_body = NULL;
    free(msg);
    free(url);
    return rc;
}

/* An action on a bucket whose reply body does not matter. */
static int bucket_action(locus_client_t *c, const char *method, const char *bck, const char *action,
                         char *err)
{
    int rc = locus_check_bucket_name(bck, err);
    if (rc != 0)
        return rc;
    client_req_t r;
    rc = client_bucket_call(c, method, bck, NULL, action, NULL, NULL, &r, err);
    client_req_dispose(&r);
    return rc;
}

int locus_bucket_create(locus_client_t *c, const char *bck, char *err)
{
    return bucket_action(c, "POST", bck, "create-bck", err);
}

int locus_bucket_destroy(locus_client_t *c, const char *bck, char *err)
{
    return bucket_action(c, "DELETE", bck, "destroy-bck", err);
}

int locus_bucket_set_props(locus_client_t *c, const char *bck, const char *props_json, char *err)
{
    int rc = locus_check_bucket_name(bck, err);
    if (rc != 0)
        return rc;
    json_t *v = NULL;
    if (props_json != NULL && (v = json_loads(props_json, 0, NULL)) == NULL)
        return client_fail(err, LOCUS_EINVAL, "bucket properties are not JSON: %s", props_json);
    client_req_t r;
    rc = client_bucket_call(c, "PATCH", bck, NULL, v ? "set-bprops" : "reset-bprops", v, NULL, &r,
                            err);
    client_req_dispose(&r);
    return rc;
}

int locus_bucket_scrub(locus_client_t *c, const char *bck, const char *prefix, char **job_id,
                       char *err)
{
    *job_id = NULL;
    int rc = locus_check_bucket_name(bck, err);
    if (rc != 0)
        return rc;
    client_req_t r;
    rc = client_bucket_call(c, "POST", bck, NULL, "scrub-bck",
                            json_pack("{s:s}", "prefix", prefix ? prefix : ""), NULL, &r, err);
    if (rc == 0)
        rc = client_job_id(&r.body, "scrub-bck", job_id, err);
    client_req_dispose(&r);
    return rc;
}

int locus_bucket_ec_encode(locus_client_t *c, const char *bck, int data, int parity, char **job_id,
                           char *err)
{
    *job_id = NULL;
    int rc = locus_check_bucket_name(bck, err);
    if (rc != 0)
        return rc;
    json_t *v = data > 0 && parity > 0
                    ? json_pack("{s:i, s:i}", "data_slices", data, "parity_slices", parity)
                    : json_object();
    client_req_t r;
    rc = client_bucket_call(c, "POST", bck, NULL, "ec-encode", v, NULL, &r, err);
    if (rc == 0)
        rc = client_job_id(&r.body, "ec-encode", job_id, err);
    client_req_dispose(&r);
    return rc;
}

int locus_bucket_head(locus_client_t *c, const char *bck, char **props_json, char *err)
{
    if (props_json != NULL)
        *props_json = NULL;
    int rc = locus_check_bucket_name(bck, err);
    if (rc != 0)
        return rc;
    client_req_t r;
    rc = client_bucket_call(c, "HEAD", bck, NULL, NULL, NULL, NULL, &r, err);
    if (rc == LOCUS_ENOENT)
        client_fail(err, rc, "bucket \"ais://%s\" does not exist", bck);
    if (rc == 0 && props_json != NULL) {
        const char *p = client_req_header(&r, "Ais-Bucket-Props");
        if (p != NULL)
            *props_json = xstrdup(p);
    }
    client_req_dispose(&r);
    return rc;
}

void locus_strv_free(char **v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int locus_bucket_list(locus_client_t *c, char ***names, size_t *n, char *err)
{
    *names = NULL;
    *n = 0;
    client_req_t r;
    int rc = client_bucket_call(c, "GET", NULL, NULL, "list", NULL, NULL, &r, err);
    if (rc != 0)
        goto out;
    json_error_t jerr;
    json_t *j = json_loadb(r.body.base, r.body.len, 0, &jerr);
    if (j == NULL || !(json_is_array(j) || json_is_null(j))) {
        json_decref(j);
        rc = client_fail(err, LOCUS_EPROTO, "list buckets: unexpected reply (not a JSON array)");
        goto out;
    }
    size_t cnt = json_is_array(j) ? json_array_size(j) : 0;
    char **v = xcalloc(cnt + 1, sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; i < cnt; i++) {
        json_t *e = json_array_get(j, i);
        const char *name = json_string_value(json_object_get(e, "name"));
        const char *prov = json_string_value(json_object_get(e, "provider"));
        if (name == NULL || (prov != NULL && strcmp(prov, "ais") != 0))
            continue;
        v[k++] = xstrdup(name);
    }
    json_decref(j);
    qsort(v, k, sizeof(char *), cmp_str);
    *names = v;
    *n = k;
out:
    client_req_dispose(&r);
    return rc;
}

int client_bucket_job(locus_client_t *c, const char *action, const char *src, const char *dst,
                      json_t *value, char **job_id, char *err)
{
    char *uname = xasprintf("ais/@#/%s/", dst);
    char *enc = url_encode(uname, NULL);
    char *q = xasprintf("bck_to=%s", enc);
    client_req_t r;
    int rc = client_bucket_call(c, "POST", src, q, action, value, NULL, &r, err);
    if (rc == 0)
        rc = client_job_id(&r.body, action, job_id, err);
    client_req_dispose(&r);
    free(q);
    free(enc);
    free(uname);
    return rc;
}

int client_check_buckets(const char *src, const char *dst, char *err)
{
    int rc = locus_check_bucket_name(src, err);
    return rc != 0 ? rc : locus_check_bucket_name(dst, err);
}

int locus_bucket_copy(locus_client_t *c, const char *src, const char *dst,
                      const locus_copy_opts_t *opts, char **job_id, char *err)
{
    *job_id = NULL;
    int rc = client_check_buckets(src, dst, err);
    if (rc != 0)
        return rc;
    locus_copy_opts_t none = {0};
    if (opts == NULL)
        opts = &none;
    json_t *v = json_pack(
        "{s:s, s:s, s:b, s:b, s:b, s:b}", "prefix", opts->prefix != NULL ? opts->prefix : "",
        "prepend", opts->prepend != NULL ? opts->prepend : "", "dry_run", opts->dry_run, "force",
        opts->force, "latest-ver", opts->latest, "synchronize", opts->sync);
    if (opts->num_workers > 0)
        json_object_set_new(v, "num-workers", json_integer(opts->num_workers));
    bool lr = opts->names != NULL || opts->template_str != NULL;
    if (opts->names != NULL) {
        json_t *a = json_array();
        for (size_t i = 0; i < opts->n_names; i++)
            json_array_append_new(a, json_string(opts->names[i]));
        json_object_set_new(v, "objnames", a);
    } else if (opts->template_str != NULL) {
        json_object_set_new(v, "template", json_string(opts->template_str));
    }
    return client_bucket_job(c, lr ? "copy-listrange" : "copy-bck", src, dst, v, job_id, err);
}

/* ------------------------------------------------------------------------------------------ */
/* Cluster map */

/* GET url (freed here): the body as text into *out (caller frees). */
static int get_text(locus_client_t *c, char *url, char **out, char *err)
{
    *out = NULL;
    client_req_t r;
    client_req_init(&r, "GET", url);
    int rc = client_do(c, &r, err);
    if (rc == 0)
        *out = buf_steal(&r.body);
    client_req_dispose(&r);
    free(url);
    return rc;
}

int locus_cluster_smap(locus_client_t *c, char **json, char *err)
{
    return get_text(c, client_url(c->endpoint, "daemon", "what=smap"), json, err);
}

int locus_node_metrics(locus_client_t *c, const char *node_url, char **text, char *err)
{
    return get_text(c, xasprintf("%s/metrics", node_url), text, err);
}

int locus_cluster_health(locus_client_t *c, bool primary, char *err)
{
    char *url = client_url(c->endpoint, "health", primary ? "prr=true" : NULL);
    client_req_t r;
    client_req_init(&r, "GET", url);
    int rc = client_do(c, &r, err);
    client_req_dispose(&r);
    free(url);
    return rc;
}

void locus_nodes_free(locus_node_t *nodes, size_t n)
{
    static const size_t offs[] = {offsetof(locus_node_t, id), offsetof(locus_node_t, role),
                                  offsetof(locus_node_t, url)};
    client_free_records(nodes, n, sizeof(*nodes), offs, ARRAY_SIZE(offs));
}

static int cmp_node(const void *a, const void *b)
{
    const locus_node_t *x = a, *y = b;
    int rx = strcmp(x->role, "proxy") == 0 ? 0 : 1, ry = strcmp(y->role, "proxy") == 0 ? 0 : 1;
    if (rx != ry)
        return rx - ry;
    return strcmp(x->id, y->id);
}

static void add_nodes(json_t *map, const char *role, const char *primary_id, locus_node_t **v,
                      size_t *n, size_t *cap)
{
    const char *key;
    json_t *sn;
    json_object_foreach(map, key, sn)
    {
        if (*n == *cap) {
            *cap = *cap ? 2 * *cap : 8;
            *v = xrealloc(*v, *cap * sizeof(**v));
        }
        locus_node_t *nd = &(*v)[(*n)++];
        const char *id = json_string_value(json_object_get(sn, "daemon_id"));
        const char *type = json_string_value(json_object_get(sn, "daemon_type"));
        json_t *pub = json_object_get(sn, "public_net");
        const char *url = json_string_value(json_object_get(pub, "direct_url"));
        nd->id = xstrdup(id != NULL ? id : key);
        nd->role = xstrdup(type != NULL ? type : role);
        nd->url = xstrdup(url != NULL ? url : "");
        nd->flags = (uint64_t)json_int64(json_object_get(sn, "flags"));
        nd->is_primary = primary_id != NULL && strcmp(nd->id, primary_id) == 0;
    }
}

int locus_smap_parse(const char *json, locus_node_t **nodes, size_t *n, int64_t *version, char *err)
{
    *nodes = NULL;
    *n = 0;
    json_error_t jerr;
    /* id_digest is a uint64 that jansson's int64 cannot hold: read numbers as doubles (the
     * fields used here, flags and version, are small). */
    json_t *j = json_loads(json, JSON_DECODE_INT_AS_REAL, &jerr);
    if (j == NULL || !json_is_object(j)) {
        json_decref(j);
        return client_fail(err, LOCUS_EPROTO, "cluster map: invalid JSON (%s)", jerr.text);
    }
    json_t *pmap = json_object_get(j, "pmap"), *tmap = json_object_get(j, "tmap");
    if (!json_is_object(pmap) || !(json_is_object(tmap) || json_is_null(tmap) || tmap == NULL)) {
        json_decref(j);
        return client_fail(err, LOCUS_EPROTO, "cluster map: no pmap/tmap");
    }
    const char *primary =
        json_string_value(json_object_get(json_object_get(j, "proxy_si"), "daemon_id"));
    locus_node_t *v = NULL;
    size_t cnt = 0, cap = 0;
    add_nodes(pmap, "proxy", primary, &v, &cnt, &cap);
    if (json_is_object(tmap))
        add_nodes(tmap, "target", primary, &v, &cnt, &cap);
    if (cnt > 0)
        qsort(v, cnt, sizeof(*v), cmp_node);
    if (version != NULL)
        *version = json_int64(json_object_get(j, "version"));
    json_decref(j);
    *nodes = v;
    *n = cnt;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Bucket summary */

int locus_bucket_summary(locus_client_t *c, const char *bck, const char *prefix, int64_t timeout_ns,
                         char **json, char *err)
{
    *json = NULL;
    if (bck != NULL) {
        int rc = locus_check_bucket_name(bck, err);
        if (rc != 0)
            return rc;
    }
    /* BsummCtrlMsg; each call takes a reference (actmsg) */
    json_t *v = json_pack("{s:s, s:s, s:b, s:b}", "uuid", "", "prefix", prefix ? prefix : "",
                          "cached", 1, "present", 1);
    client_req_t r;
    int rc = client_bucket_call(c, "GET", bck, NULL, "summary-bck", json_incref(v), NULL, &r, err);
    char *id = rc == 0 ? buf_steal(&r.body) : NULL;
    if (rc == 0 && r.status != 202) {
        rc = client_fail(err, LOCUS_EPROTO, "summary-bck: expected 202, got %ld", r.status);
    }
    client_req_dispose(&r);
    int64_t deadline = timeout_ns > 0 ? time_mono_ns() + timeout_ns : 0;
    int ms = 20;
    while (rc == 0) {
        json_object_set_new(v, "uuid", json_string(id));
        rc = client_bucket_call(c, "GET", bck, NULL, "summary-bck", json_incref(v), NULL, &r, err);
        if (rc == 0 && r.status == 200) {
            *json = buf_steal(&r.body);
            client_req_dispose(&r);
            break;
        }
        client_req_dispose(&r);
        if (rc == 0 && deadline && time_mono_ns() > deadline) {
            rc = client_fail(err, LOCUS_ETIMEDOUT, "bucket summary %s: still running", id);
        }
        if (rc == 0) {
            sleep_ms(ms);
            ms = ms < 500 ? ms * 2 : ms;
        }
    }
    free(id);
    json_decref(v);
    return rc;
}
