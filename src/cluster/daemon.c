/*
 * daemon.c - the endpoints every node serves and the /v1 path splitter. See daemon.h.
 */
#include "cluster/daemon.h"
#include "cluster/cluster.h"
#include "cluster/membership.h"
#include "cluster/meta.h"
#include "cluster/metasync.h"
#include "cluster/vote.h"
#include "common/log.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int route_split(const char *path, char *copy, size_t copylen, const char **segs, int max)
{
    if (strncmp(path, "/v1/", 4) != 0 && strcmp(path, "/v1") != 0)
        return -1;
    snprintf(copy, copylen, "%s", path[3] ? path + 4 : "");
    if (strlen(path + (path[3] ? 4 : 3)) >= copylen)
        return -1;
    int n = 0;
    char *p = copy;
    if (*p == '\0')
        return 0;
    while (n < max) {
        segs[n++] = p;
        if (n == max)
            break;
        char *slash = strchr(p, '/');
        if (slash == NULL)
            break;
        *slash = '\0';
        p = slash + 1;
    }
    return n;
}

static cluster_daemon_what_cb what_cb;

void cluster_on_daemon_what(cluster_daemon_what_cb cb)
{
    what_cb = cb;
}

static void handle_daemon(http_req_t *req)
{
    json_t *extra = NULL;
    const char *what = http_query(req, "what");
    if (what == NULL || strcmp(what, "smap") == 0) {
        smap_t *s = smap_get();
        char *t = smap_to_text(s);
        smap_put(s);
        http_reply(req, 200, "application/json", t, strlen(t));
        free(t);
    } else if (strcmp(what, "bmd") == 0 || strcmp(what, "etlmd") == 0) {
        mdoc_t *d = md_get(what[0] == 'b' ? MD_BMD : MD_ETL);
        http_reply_json(req, 200, md_to_public_json(d));
        md_put(d);
    } else if (strcmp(what, "snode") == 0) {
        json_t *j = json_pack("{s:s, s:s, s:s}", "daemon_id", cluster_self_id(), "daemon_type",
                              cluster_role() == ROLE_PROXY ? "proxy" : "target", "direct_url",
                              cluster_self_url());
        http_reply_json(req, 200, j);
    } else if (what_cb && (extra = what_cb(what)) != NULL) {
        http_reply_json(req, 200, extra);
    } else {
        http_reply_error(req, 400, "invalid what=\"%s\" (supported: smap, bmd, etlmd, snode%s)",
                         what, what_cb ? ", mountpaths, node_stats, node_status (targets)" : "");
    }
}

static void handle_metasync(http_req_t *req, const trust_t *who)
{
    /* id_digest is a uint64 that jansson cannot hold as an integer. */
    json_t *j = json_loadb(req->body.base ? req->body.base : "", req->body.len,
                           JSON_DECODE_INT_AS_REAL, NULL);
    if (j == NULL) {
        http_reply_error(req, 400, "metasync: invalid JSON body");
        return;
    }
    char err[512];
    int rc = metasync_receive(j, who->kind == TRUST_NODE ? who->node : NULL, err, sizeof(err));
    json_decref(j);
    if (rc)
        http_reply_error(req, (unsigned)rc, "%s", err);
    else
        http_reply(req, 200, NULL, "", 0);
}

static void (*stop_cb)(bool rm_user_data);

void cluster_on_stop_request(void (*cb)(bool rm_user_data))
{
    stop_cb = cb;
}

/* PUT /v1/daemon {"action":"shutdown-node"|"decommission-node","value":{"rm_user_data":..}}
 * from the primary: this node stops (decommission: it also stops rejoining first, and with
 * rm_user_data its role removes the data it stores). */
static void handle_daemon_action(http_req_t *req)
{
    json_t *j = http_body_json(req);
    if (j == NULL)
        return;
    const char *action = json_string_value(json_object_get(j, "action"));
    json_t *v = json_object_get(j, "value");
    bool decomm = action && strcmp(action, "decommission-node") == 0;
    if (action == NULL || (!decomm && strcmp(action, "shutdown-node") != 0)) {
        http_reply_error(req, 400, "invalid action \"%s\" for PUT /v1/daemon",
                         action ? action : "");
    } else if (cluster_is_primary()) {
        http_reply_error(req, 400, "%s is the primary proxy: it does not stop on request",
                         cluster_self_name());
    } else {
        LOCUS_LOG(LOG_NOTICE, "%s: %s requested by the primary", cluster_self_name(), action);
        if (decomm)
            membership_leave();
        http_reply(req, 200, NULL, "", 0);
        if (stop_cb)
            stop_cb(decomm && json_is_true(json_object_get(v, "rm_user_data")));
    }
    json_decref(j);
}

/* Answers 401/403 and returns false when who may not do this; intra-cluster when node. */
static bool allowed(http_req_t *req, const trust_t *who, bool node, auth_ace_t perms)
{
    char msg[512];
    int rc = node ? trust_require_node(who, msg, sizeof(msg))
                  : trust_require(who, NULL, perms, msg, sizeof(msg));
    if (rc == 0 && node && !trust_body_ok(who, req->body.base, req->body.len)) {
        rc = 401;
        snprintf(msg, sizeof(msg), "intra-cluster request: the body is not the one signed");
    }
    if (rc)
        http_reply_error(req, (unsigned)rc, "%s", msg);
    return rc == 0;
}

bool cluster_handle(http_req_t *req, const char **segs, int nseg, const trust_t *who)
{
    const char *m = req->method;
    if (nseg >= 1 && strcmp(segs[0], "health") == 0 && nseg == 1) {
        if (cluster_ready())
            http_reply(req, 200, NULL, "", 0);
        else
            http_reply_error(req, 503, "%s is starting up", cluster_self_name());
        return true;
    }
    if (nseg == 1 && strcmp(segs[0], "daemon") == 0 && strcmp(m, "GET") == 0) {
        const char *what = http_query(req, "what");
        bool etlmd = what && strcmp(what, "etlmd") == 0;
        if (allowed(req, who, false, etlmd ? AUTH_ACE_ADMIN : AUTH_ACE_SHOW_CLUSTER))
            handle_daemon(req);
        return true;
    }
    if (nseg == 1 && strcmp(segs[0], "metasync") == 0 && strcmp(m, "POST") == 0) {
        if (allowed(req, who, true, 0))
            handle_metasync(req, who);
        return true;
    }
    if (nseg == 2 && strcmp(segs[0], "cluster") == 0 && strcmp(m, "POST") == 0 &&
        (strcmp(segs[1], "join") == 0 || strcmp(segs[1], "keepalive") == 0 ||
         strcmp(segs[1], "leave") == 0)) {
        if (!allowed(req, who, true, 0))
            return true;
        if (!cluster_is_primary())
            http_reply_error(req, 400, "%s is not the primary proxy", cluster_self_name());
        else if (strcmp(segs[1], "join") == 0)
            membership_handle_join(req);
        else if (strcmp(segs[1], "leave") == 0)
            membership_handle_leave(req, who->kind == TRUST_NODE ? who->node : NULL);
        else
            membership_handle_keepalive(req);
        return true;
    }
    if (nseg == 2 && strcmp(segs[0], "vote") == 0 && strcmp(segs[1], "proxy") == 0 &&
        strcmp(m, "GET") == 0 && cluster_role() == ROLE_PROXY) {
        if (allowed(req, who, true, 0))
            vote_handle(req);
        return true;
    }
    if (nseg == 1 && strcmp(segs[0], "daemon") == 0 && strcmp(m, "PUT") == 0) {
        if (allowed(req, who, true, 0))
            handle_daemon_action(req);
        return true;
    }
    return false;
}
