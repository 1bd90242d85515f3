/*
 * jobs.c - the proxy's job control plane: start a job on every target, aggregate status
 * (what=status) and per-target snapshots (what=qryxstats), abort. Stateless: the targets'
 * registries are the truth, so any proxy answers for any job.
 */
#include "common/log.h"
#include "common/util.h"
#include "proxy/internal.h"
#include "xact/xact.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int proxy_job_launch(const char *kind, const char *src, const char *dst, json_t *msg, char *id,
                     size_t idlen, char *err, size_t errlen)
{
    xact_new_id(id, idlen);
    json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:O}", "id", id, "kind", kind, "src", src, "dst",
                             dst ? dst : "", "msg", json_is_object(msg) ? msg : json_object());
    if (!json_is_object(msg))
        json_decref(json_object_get(body, "msg")); /* the temporary object above */
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    proxy_bcast_t b = {.method = "POST",
                       .path = "/v1/xactions",
                       .body = text,
                       .timeout_ms = 10000,
                       .strict = true};
    int rc = proxy_bcast(&b);
    int status = 0;
    if (b.n_targets == 0) {
        snprintf(err, errlen, "no storage targets in the cluster");
        status = 503;
    } else if (rc) {
        char *q = xasprintf("/v1/xactions?id=%s", id);
        proxy_bcast_t ab = {.method = "DELETE", .path = q, .timeout_ms = 5000};
        proxy_bcast(&ab);
        free(q);
        snprintf(err, errlen, "cannot start %s on target %s", kind, b.failed);
        status = 503;
    } else {
        LOCUS_LOG(LOG_NOTICE, "job %s[%s] started on %zu targets", kind, id, b.n_targets);
    }
    free(text);
    return status;
}

void proxy_job_start(http_req_t *req, const char *kind, const char *src, const char *dst,
                     json_t *msg)
{
    char id[16], err[512];
    int st = proxy_job_launch(kind, src, dst, msg, id, sizeof(id), err, sizeof(err));
    if (st)
        http_reply_error(req, (unsigned)st, "%s", err);
    else
        http_reply_text(req, 200, id);
}

/* The job id from the JobArgs body ({"ID": ...}, keys case-insensitive) or ?id= / ?uuid=. */
static char *job_id_of(http_req_t *req, json_t **msgp)
{
    *msgp = NULL;
    const char *q = http_query(req, "id");
    if (q == NULL)
        q = http_query(req, "uuid");
    if (q && q[0])
        return xstrdup(q);
    if (req->body.len == 0)
        return NULL;
    json_t *msg = http_body_json(req);
    if (msg == NULL)
        return (char *)-1; /* answered */
    *msgp = msg;
    json_t *v = json_get_ci(msg, "id");
    if (!json_is_string(v))
        v = json_get_ci(msg, "uuid");
    return json_is_string(v) && json_string_value(v)[0] ? xstrdup(json_string_value(v)) : NULL;
}

/* The job's snapshots merged over the targets. */
typedef struct {
    json_t *per; /* per target: [snapshot] */
    size_t ended;
    int64_t max_end;
    bool aborted;
    const char *kind; /* borrowed from a snapshot in per */
    json_t *err;
} job_merge_t;

static int merge_snap(proxy_bcast_t *b, const snode_t *t, json_t *snap)
{
    job_merge_t *m = b->arg;
    int64_t end = json_integer_value(json_object_get(snap, "end_ns"));
    if (end) {
        m->ended++;
        if (end > m->max_end)
            m->max_end = end;
    }
    m->aborted = m->aborted || json_is_true(json_object_get(snap, "aborted"));
    const char *e = json_string_value(json_object_get(snap, "err"));
    if (e && e[0] && m->err == NULL)
        m->err = json_string(e);
    if (m->kind[0] == '\0') {
        json_t *k = json_object_get(snap, "kind");
        m->kind = json_is_string(k) ? json_string_value(k) : "";
    }
    json_object_del(snap, "end_ns");
    json_object_del(snap, "node");
    json_object_set_new(m->per, t->id, json_pack("[O]", snap));
    return 0;
}

void proxy_job_query(http_req_t *req)
{
    const char *what = http_query(req, "what");
    if (what == NULL || (strcmp(what, "status") && strcmp(what, "qryxstats"))) {
        http_reply_error(req, 400, "invalid what=\"%s\" (supported: status, qryxstats)",
                         what ? what : "");
        return;
    }
    json_t *msg;
    char *id = job_id_of(req, &msg);
    if (id == (char *)-1)
        return;
    if (id == NULL) {
        json_decref(msg);
        http_reply_error(req, 400, "job id is missing (JobArgs {\"ID\": ...})");
        return;
    }
    char *enc = url_encode(id, "");
    /* errors=true: each snapshot with its per-object errors (obj_errors) */
    char *q =
        xasprintf("/v1/xactions?id=%s%s", enc, http_query_bool(req, "errors") ? "&errors=1" : "");
    free(enc);
    job_merge_t m = {.per = json_object(), .kind = ""};
    proxy_bcast_t b = {
        .method = "GET", .path = q, .timeout_ms = 10000, .merge = merge_snap, .arg = &m};
    proxy_bcast(&b);
    free(q);
    if (b.n_ok == 0) {
        http_reply_error(req, 404, "job \"%s\" not found", id);
    } else if (strcmp(what, "qryxstats") == 0) {
        http_reply_json(req, 200, json_incref(m.per));
    } else {
        /* All targets that know the job must have ended; a target that lost it (restart)
         * cannot hold the job back. */
        json_t *st =
            json_pack("{s:s, s:s, s:s, s:I, s:b}", "kind", m.kind, "uuid", id, "err",
                      m.err ? json_string_value(m.err) : "", "end_time",
                      (json_int_t)(m.ended == b.n_ok ? m.max_end : 0), "aborted", (int)m.aborted);
        http_reply_json(req, 200, st);
    }
    json_decref(m.err);
    json_decref(m.per);
    json_decref(msg);
    free(id);
}

/* PUT /v1/cluster {"action":"stop-xaction"|"stop", "value":{"id":...}} */
void proxy_job_abort(http_req_t *req)
{
    json_t *msg = http_body_json(req);
    if (msg == NULL)
        return;
    const char *action = json_string_value(json_object_get(msg, "action"));
    json_t *v = json_get_ci(json_object_get(msg, "value"), "id");
    if (action == NULL || (strcmp(action, "stop-xaction") && strcmp(action, "stop"))) {
        http_reply_error(req, 400, "invalid action \"%s\" for PUT /v1/cluster",
                         action ? action : "");
    } else if (!json_is_string(v)) {
        http_reply_error(req, 400, "%s: value needs the job \"id\"", action);
    } else {
        char *enc = url_encode(json_string_value(v), "");
        char *q = xasprintf("/v1/xactions?id=%s", enc);
        free(enc);
        proxy_bcast_t b = {.method = "DELETE", .path = q, .timeout_ms = 10000};
        proxy_bcast(&b);
        free(q);
        if (b.n_ok)
            http_reply(req, 200, NULL, "", 0);
        else
            http_reply_error(req, 404, "job \"%s\" not found", json_string_value(v));
    }
    json_decref(msg);
}
