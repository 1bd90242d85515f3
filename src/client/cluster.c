/*
 * cluster.c - cluster membership calls of liblocus: the membership actions on PUT /v1/cluster
 * (maintenance, decommission, shutdown, rebalance), moving the primary role
 * (PUT /v1/cluster/proxy/<id>) and the state of the last global rebalance
 * (GET /v1/cluster?what=rmd).
 */
#include "client/internal.h"

#include <jansson.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* PUT /v1/cluster with {action, name: "", value (stolen; NULL = null)}; *reply (may be NULL) =
 * the trimmed reply body (caller frees). */
static int cluster_put(locus_client_t *c, const char *action, json_t *value, char **reply,
                       char *err)
{
    if (reply != NULL)
        *reply = NULL;
    json_t *j = json_pack("{s:s, s:s, s:o}", "action", action, "name", "", "value",
                          value != NULL ? value : json_null());
    char *msg = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    char *url = client_url(c->endpoint, "cluster", NULL);
    client_req_t r;
    client_req_init(&r, "PUT", url);
    r.json_body = msg;
    int rc = client_do(c, &r, err);
    if (rc == 0 && reply != NULL)
        *reply = client_trim_id(r.body.base != NULL ? r.body.base : "", r.body.len);
    r.url = NULL;
    r.json_body = NULL;
    client_req_dispose(&r);
    free(msg);
    free(url);
    return rc;
}

int locus_node_action(locus_client_t *c, const char *action, const char *node_id,
                      const locus_node_opts_t *opts, char **job_id, char *err)
{
    if (job_id != NULL)
        *job_id = NULL;
    if (action == NULL || action[0] == '\0')
        return client_fail(err, LOCUS_EINVAL, "empty action");
    if (node_id == NULL || node_id[0] == '\0')
        return client_fail(err, LOCUS_EINVAL, "empty node id");
    locus_node_opts_t none = {0};
    if (opts == NULL)
        opts = &none;
    json_t *v =
        json_pack("{s:s, s:b, s:b, s:b}", "sid", node_id, "skip_rebalance", opts->skip_rebalance,
                  "rm_user_data", opts->rm_user_data, "no_shutdown", opts->no_shutdown);
    return cluster_put(c, action, v, job_id, err);
}

int locus_cluster_set_primary(locus_client_t *c, const char *proxy_id, char *err)
{
    if (proxy_id == NULL || proxy_id[0] == '\0' || strlen(proxy_id) > 64 ||
        strspn(proxy_id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
            strlen(proxy_id))
        return client_fail(err, LOCUS_EINVAL, "invalid proxy id \"%s\"",
                           proxy_id != NULL ? proxy_id : "");
    char *path = xasprintf("cluster/proxy/%s", proxy_id);
    char *url = client_url(c->endpoint, path, NULL);
    client_req_t r;
    client_req_init(&r, "PUT", url);
    int rc = client_do(c, &r, err);
    r.url = NULL;
    client_req_dispose(&r);
    free(url);
    free(path);
    return rc;
}

int locus_rebalance_start(locus_client_t *c, char **job_id, char *err)
{
    char *id = NULL;
    int rc = cluster_put(c, "rebalance", NULL, &id, err);
    if (rc == 0 && id[0] == '\0')
        rc = client_fail(err, LOCUS_EPROTO, "rebalance: the reply carries no job id");
    if (rc != 0) {
        free(id);
        id = NULL;
    }
    *job_id = id;
    return rc;
}

void locus_rmd_dispose(locus_rmd_t *rmd)
{
    static const size_t offs[] = {offsetof(locus_rmd_t, id), offsetof(locus_rmd_t, state),
                                  offsetof(locus_rmd_t, err)};
    client_dispose_record(rmd, sizeof(*rmd), offs, ARRAY_SIZE(offs));
}

static char *str_or_empty(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return xstrdup(s != NULL ? s : "");
}

int locus_cluster_rmd(locus_client_t *c, locus_rmd_t *rmd, char **json, char *err)
{
    memset(rmd, 0, sizeof(*rmd));
    if (json != NULL)
        *json = NULL;
    char *url = client_url(c->endpoint, "cluster", "what=rmd");
    client_req_t r;
    client_req_init(&r, "GET", url);
    int rc = client_do(c, &r, err);
    json_t *j = NULL;
    if (rc == 0) {
        json_error_t jerr;
        j = json_loadb(r.body.base != NULL ? r.body.base : "", r.body.len, 0, &jerr);
        if (!json_is_object(j))
            rc = client_fail(err, LOCUS_EPROTO, "rebalance state: reply is not a JSON object");
    }
    if (rc == 0) {
        rmd->version = json_int64(json_object_get(j, "version"));
        rmd->id = str_or_empty(j, "id");
        rmd->smap_version = json_int64(json_object_get(j, "smap_version"));
        rmd->state = str_or_empty(j, "state");
        rmd->start_ns = json_int64(json_object_get(j, "start_ns"));
        rmd->end_ns = json_int64(json_object_get(j, "end_ns"));
        rmd->objs = json_int64(json_object_get(j, "objs"));
        rmd->bytes = json_int64(json_object_get(j, "bytes"));
        rmd->errors = json_int64(json_object_get(j, "errors"));
        rmd->err = str_or_empty(j, "err");
        if (rmd->state[0] == '\0') {
            free(rmd->state);
            rmd->state = xstrdup("none");
        }
        if (json != NULL)
            *json = buf_steal(&r.body);
    }
    json_decref(j);
    client_req_dispose(&r);
    free(url);
    return rc;
}

bool locus_rmd_finished(const locus_rmd_t *rmd)
{
    const char *s = rmd->state != NULL ? rmd->state : "";
    return strcmp(s, "done") == 0 || strcmp(s, "failed") == 0 || strcmp(s, "aborted") == 0;
}
