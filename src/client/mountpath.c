/*
 * mountpath.c - a target's mountpaths in liblocus: list, attach, detach, enable, disable, sent
 * to the proxy's /v1/reverse/daemon with the target's id in Ais-Node-Id (docs/protocol.md).
 */
#include "client/internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int locus_mountpath_list(locus_client_t *c, const char *node, char **json, char *err)
{
    *json = NULL;
    if (node == NULL || node[0] == '\0')
        return client_fail(err, LOCUS_EINVAL, "empty node id");
    char *url = client_url(c->endpoint, "reverse/daemon", "what=mountpaths");
    client_req_t r;
    client_req_init(&r, "GET", url);
    r.node_id = node;
    int rc = client_do(c, &r, err);
    if (rc == 0)
        *json = buf_steal(&r.body);
    client_req_dispose(&r);
    free(url);
    return rc;
}

static const struct {
    const char *action, *method;
} mp_methods[] = {
    {"attach-mp", "PUT"},
    {"detach-mp", "DELETE"},
    {"enable-mp", "POST"},
    {"disable-mp", "POST"},
};

int locus_mountpath_action(locus_client_t *c, const char *node, const char *action,
                           const char *path, bool dont_resilver, char **job_id, bool *pending,
                           char *err)
{
    if (job_id)
        *job_id = NULL;
    if (pending)
        *pending = false;
    const char *method = NULL;
    for (size_t i = 0; action && i < ARRAY_SIZE(mp_methods); i++)
        if (strcmp(mp_methods[i].action, action) == 0)
            method = mp_methods[i].method;
    if (method == NULL)
        return client_fail(err, LOCUS_EINVAL, "unknown mountpath action \"%s\"",
                           action ? action : "");
    if (node == NULL || node[0] == '\0' || path == NULL || path[0] == '\0')
        return client_fail(err, LOCUS_EINVAL, "need a node id and a mountpath");
    json_t *msg = json_pack("{s:s, s:s}", "action", action, "value", path);
    char *body = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    char *url = client_url(c->endpoint, "reverse/daemon/mountpaths",
                           dont_resilver ? "dont-resilver=true" : NULL);
    client_req_t r;
    client_req_init(&r, method, url);
    r.node_id = node;
    r.json_body = body;
    int rc = client_do(c, &r, err);
    if (rc == 0) {
        if (pending)
            *pending = r.status == 202;
        if (job_id)
            *job_id = client_trim_id(r.body.base, r.body.len);
    }
    client_req_dispose(&r);
    free(url);
    free(body);
    return rc;
}
