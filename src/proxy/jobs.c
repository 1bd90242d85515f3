/*
 * jobs.c - the proxy's job control plane: start a job on every target, aggregate status
 * (what=status) and per-target snapshots (what=qryxstats), abort. Stateless: the targets'
 * registries are the truth, so any proxy answers for any job.
 */
#include "common/log.h"
#include "common/names.h"
#include "common/util.h"
#include "proxy/internal.h"
#include "xact/xact.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int proxy_job_launch(const char *kind, const char *src, const char *dst, json_t *msg, char *id,
                     size_t idlen, char *err, size_t errlen)
{
    return proxy_job_launch_on(NULL, kind, src, dst, msg, id, idlen, err, errlen);
}

int proxy_job_launch_on(const char *only, const char *kind, const char *src, const char *dst,
                        json_t *msg, char *id, size_t idlen, char *err, size_t errlen)
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
                       .strict = true,
                       .only = only};
    int rc = proxy_bcast(&b);
    int status = 0;
    if (rc == 404 && only) {
        snprintf(err, errlen, "%s", b.err);
        status = 404;
    } else if (b.n_targets == 0) {
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

/* One job's snapshots merged over the targets (AIStore's nl.Status). */
typedef struct {
    char id[64];
    char kind[32];
    size_t known, ended; /* targets that answered for it, and those where it ended */
    int64_t max_end;
    bool aborted;
    char *err; /* the first target error */
} job_merge_t;

static void merge_one(job_merge_t *m, json_t *snap)
{
    int64_t end = json_integer_value(json_object_get(snap, "end_ns"));
    m->known++;
    if (end) {
        m->ended++;
        if (end > m->max_end)
            m->max_end = end;
    }
    m->aborted = m->aborted || json_is_true(json_object_get(snap, "aborted"));
    const char *e = json_string_value(json_object_get(snap, "err"));
    if (e && e[0] && m->err == NULL)
        m->err = xstrdup(e);
    const char *k = json_string_value(json_object_get(snap, "kind"));
    if (m->kind[0] == '\0' && k)
        snprintf(m->kind, sizeof(m->kind), "%s", k);
}

/* The job's nl.Status: it ended when every target that knows it has ended (a target that lost
 * it, after a restart, cannot hold the job back). */
static json_t *merge_status(const job_merge_t *m)
{
    return json_pack("{s:s, s:s, s:s, s:I, s:b}", "kind", m->kind, "uuid", m->id, "err",
                     m->err ? m->err : "", "end_time",
                     (json_int_t)(m->ended == m->known ? m->max_end : 0), "aborted",
                     (int)m->aborted);
}

/* The snapshot as the SDK sees it (without the fields for the proxy). */
static void snap_strip(json_t *snap)
{
    json_object_del(snap, "end_ns");
    json_object_del(snap, "node");
}

typedef struct {
    job_merge_t one;
    json_t *per; /* per target: [snapshot] */
} single_t;

static int merge_snap(proxy_bcast_t *b, const snode_t *t, json_t *snap)
{
    single_t *m = b->arg;
    merge_one(&m->one, snap);
    snap_strip(snap);
    json_object_set_new(m->per, t->id, json_pack("[O]", snap));
    return 0;
}

/* what=status|qryxstats for the one job id. */
static void query_one(http_req_t *req, const char *what, const char *id)
{
    char *enc = url_encode(id, "");
    /* errors=true: each snapshot with its per-object errors (obj_errors) */
    char *q =
        xasprintf("/v1/xactions?id=%s%s", enc, http_query_bool(req, "errors") ? "&errors=1" : "");
    free(enc);
    single_t m = {.per = json_object()};
    snprintf(m.one.id, sizeof(m.one.id), "%s", id);
    proxy_bcast_t b = {
        .method = "GET", .path = q, .timeout_ms = 10000, .merge = merge_snap, .arg = &m};
    proxy_bcast(&b);
    free(q);
    if (b.n_ok == 0)
        http_reply_error(req, 404, "job \"%s\" not found", id);
    else if (strcmp(what, "qryxstats") == 0)
        http_reply_json(req, 200, json_incref(m.per));
    else
        http_reply_json(req, 200, merge_status(&m.one));
    free(m.one.err);
    json_decref(m.per);
}

/* The jobs of a query for many: every target's matching snapshots. */
typedef struct {
    const char *id; /* only this job (status_all/running_all with an id), or NULL */
    json_t *per;    /* per target: [snapshot], targets with none left out */
    job_merge_t *jobs;
    size_t n_jobs;
} many_t;

static job_merge_t *many_job(many_t *m, const char *id)
{
    for (size_t i = 0; i < m->n_jobs; i++)
        if (strcmp(m->jobs[i].id, id) == 0)
            return &m->jobs[i];
    m->jobs = xrealloc(m->jobs, (m->n_jobs + 1) * sizeof(*m->jobs));
    job_merge_t *j = &m->jobs[m->n_jobs++];
    memset(j, 0, sizeof(*j));
    snprintf(j->id, sizeof(j->id), "%s", id);
    return j;
}

static int merge_many(proxy_bcast_t *b, const snode_t *t, json_t *answer)
{
    many_t *m = b->arg;
    if (!json_is_array(answer) || json_array_size(answer) == 0)
        return 0;
    for (size_t i = 0; i < json_array_size(answer);) {
        json_t *snap = json_array_get(answer, i);
        const char *id = json_string_value(json_object_get(snap, "id"));
        if (id == NULL || (m->id && strcmp(id, m->id) != 0)) {
            json_array_remove(answer, i); /* not a job snapshot, or another job */
            continue;
        }
        merge_one(many_job(m, id), snap);
        snap_strip(snap);
        i++;
    }
    if (json_array_size(answer))
        json_object_set(m->per, t->id, answer);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* what=running_all: the sorted "kind[id]" names of the running jobs (AIStore's). */
static json_t *running_names(const many_t *m)
{
    char **names = xcalloc(m->n_jobs + 1, sizeof(char *));
    size_t n = 0;
    for (size_t i = 0; i < m->n_jobs; i++)
        if (m->jobs[i].ended < m->jobs[i].known)
            names[n++] = xasprintf("%s[%s]", m->jobs[i].kind, m->jobs[i].id);
    qsort(names, n, sizeof(char *), cmp_str);
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(a, json_string(names[i]));
        free(names[i]);
    }
    free(names);
    return a;
}

/* The filter of a query for many jobs: the QueryMsg body (msg, may be NULL) and the query
 * parameters kind, bck and show_active. 0, or -1 when answered (400). */
static int many_filter(http_req_t *req, json_t *msg, xact_filter_t *f)
{
    char err[256];
    memset(f, 0, sizeof(*f));
    if (xact_filter_parse(msg, f, err, sizeof(err)) < 0 ||
        xact_filter_set(f, http_query(req, "kind"), http_query(req, "bck"),
                        http_query(req, "show_active"), err, sizeof(err)) < 0) {
        http_reply_error(req, 400, "%s", err);
        return -1;
    }
    return 0;
}

/* what=qryxstats (no id), status_all or running_all (id: of that job only, or NULL). */
static void query_many(http_req_t *req, const char *what, json_t *msg, const char *id)
{
    xact_filter_t f;
    if (many_filter(req, msg, &f) < 0)
        return;
    if (strcmp(what, "running_all") == 0)
        f.only_running = true;
    char *ek = url_encode(f.kind, ""), *eb = url_encode(f.bck, "");
    char *q = xasprintf("/v1/xactions?kind=%s&bck=%s&show_active=%s", ek, eb,
                        f.only_running ? "true" : "false");
    free(ek);
    free(eb);
    many_t m = {.id = id, .per = json_object()};
    proxy_bcast_t b = {.method = "GET",
                       .path = q,
                       .timeout_ms = 10000,
                       .strict = true,
                       .merge = merge_many,
                       .arg = &m};
    int rc = proxy_bcast(&b);
    free(q);
    if (rc) {
        http_reply_error(req, (unsigned)rc, "%s", b.err);
    } else if (strcmp(what, "qryxstats") == 0) {
        http_reply_json(req, 200, json_incref(m.per));
    } else if (strcmp(what, "running_all") == 0) {
        http_reply_json(req, 200, running_names(&m));
    } else {
        json_t *vec = json_array();
        for (size_t i = 0; i < m.n_jobs; i++)
            json_array_append_new(vec, merge_status(&m.jobs[i]));
        http_reply_json(req, 200, vec);
    }
    for (size_t i = 0; i < m.n_jobs; i++)
        free(m.jobs[i].err);
    free(m.jobs);
    json_decref(m.per);
}

void proxy_job_query(http_req_t *req)
{
    const char *what = http_query(req, "what");
    bool all = what && (strcmp(what, "status_all") == 0 || strcmp(what, "running_all") == 0);
    if (what == NULL || (!all && strcmp(what, "status") && strcmp(what, "qryxstats"))) {
        http_reply_error(req, 400,
                         "invalid what=\"%s\" (supported: status, qryxstats, status_all, "
                         "running_all)",
                         what ? what : "");
        return;
    }
    json_t *msg;
    char *id = job_id_of(req, &msg);
    if (id == (char *)-1)
        return;
    if (id == NULL && strcmp(what, "status") == 0)
        http_reply_error(req, 400, "job id is missing (JobArgs {\"ID\": ...})");
    else if (id == NULL || all)
        query_many(req, what, msg, id);
    else
        query_one(req, what, id);
    json_decref(msg);
    free(id);
}

static int sum_stopped(proxy_bcast_t *b, const snode_t *t, json_t *answer)
{
    (void)t;
    *(json_int_t *)b->arg += json_integer_value(json_object_get(answer, "stopped"));
    return 0;
}

/* Stops every running job value's kind (and bck) select; answers {"stopped": n} with n the jobs
 * stopped summed over the targets. As AIStore, no kind (and no id) is a 400. */
static void abort_many(http_req_t *req, json_t *value)
{
    xact_filter_t f;
    if (many_filter(req, value, &f) < 0)
        return;
    if (f.kind[0] == '\0') {
        http_reply_error(req, 400, "cannot stop jobs without a kind or an id");
        return;
    }
    char *ek = url_encode(f.kind, ""), *eb = url_encode(f.bck, "");
    char *q = xasprintf("/v1/xactions?kind=%s&bck=%s", ek, eb);
    free(ek);
    free(eb);
    json_int_t n = 0;
    proxy_bcast_t b = {.method = "DELETE",
                       .path = q,
                       .timeout_ms = 10000,
                       .strict = true,
                       .merge = sum_stopped,
                       .arg = &n};
    int rc = proxy_bcast(&b);
    free(q);
    if (rc)
        http_reply_error(req, (unsigned)rc, "%s", b.err);
    else
        http_reply_json(req, 200, json_pack("{s:I}", "stopped", n));
}

/* PUT /v1/cluster {"action":"stop-xaction"|"stop", "value":{"id":...}} stops that job; a value
 * with no id but a kind (and a bck) stops every running job they select (AIStore's
 * xact.ArgsMsg). */
void proxy_job_abort(http_req_t *req)
{
    json_t *msg = http_body_json(req);
    if (msg == NULL)
        return;
    const char *action = json_string_value(json_object_get(msg, "action"));
    json_t *value = json_object_get(msg, "value");
    json_t *v = json_get_ci(value, "id");
    if (action == NULL || (strcmp(action, "stop-xaction") && strcmp(action, "stop"))) {
        http_reply_error(req, 400, "invalid action \"%s\" for PUT /v1/cluster",
                         action ? action : "");
    } else if (!json_is_object(value) || (v && !json_is_string(v) && !json_is_null(v))) {
        http_reply_error(req, 400, "%s: value needs the job \"id\", or a \"kind\"", action);
    } else if (!json_is_string(v) || json_string_value(v)[0] == '\0') {
        abort_many(req, value);
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

/* The bucket of an xact.ArgsMsg ("Bck": {"name", "provider"}, or the one of "Buckets"), ""
 * when none; NULL when invalid (answered 400/404). */
static const char *start_bck(http_req_t *req, json_t *value, const char *kind)
{
    json_t *bck = json_get_ci(value, "bck"), *many = json_get_ci(value, "buckets");
    if ((bck == NULL || json_is_null(bck)) && json_is_array(many) && json_array_size(many)) {
        if (json_array_size(many) > 1) { /* the SDK's Job.start(buckets=[...]) */
            http_reply_error(req, 400, "start %s: one bucket at a time", kind);
            return NULL;
        }
        bck = json_array_get(many, 0);
    }
    json_t *n = json_get_ci(bck, "name");
    json_t *prov = json_get_ci(bck, "provider");
    if (bck && !json_is_null(bck) && !json_is_object(bck)) {
        http_reply_error(req, 400, "start %s: Bck must be an object", kind);
        return NULL;
    }
    if (prov && json_is_string(prov) && json_string_length(prov) &&
        strcmp(json_string_value(prov), "ais") != 0) {
        http_reply_error(req, 400, "provider \"%s\" is not supported (only ais)",
                         json_string_value(prov));
        return NULL;
    }
    const char *name = json_is_string(n) ? json_string_value(n) : "";
    if (name[0] == '\0')
        return "";
    const char *why = name_check_bucket(name);
    if (why) {
        http_reply_error(req, 400, "bucket name \"%s\" is invalid: %s", name, why);
        return NULL;
    }
    bmd_t *b = bmd_get();
    bool ok = bmd_bucket(b, name) != NULL;
    bmd_put(b);
    if (!ok) {
        http_reply_error(req, 404, "bucket \"ais://%s\" does not exist", name);
        return NULL;
    }
    return name;
}

/* Whether the bucket's properties have section ("ec", "mirror") enabled. */
static bool bck_enabled(const char *bck, const char *section)
{
    bmd_t *b = bmd_get();
    json_t *sec = json_object_get(json_object_get(bmd_bucket(b, bck), "props"), section);
    bool on = json_is_true(json_object_get(sec, "enabled"));
    bmd_put(b);
    return on;
}

void proxy_job_start_kind(http_req_t *req, json_t *value)
{
    json_t *k = json_get_ci(value, "kind");
    if (!json_is_object(value) || !json_is_string(k)) {
        http_reply_error(req, 400, "start: value must be an xact.ArgsMsg with the job \"kind\"");
        return;
    }
    const char *kind = xact_kind_of(json_string_value(k));
    if (kind == NULL || !xact_kind_startable(kind)) {
        http_reply_error(req, 400, "job kind \"%.64s\" %s", json_string_value(k),
                         kind ? "is not startable" : "is unknown");
        return;
    }
    if (strcmp(kind, "rebalance") == 0) {
        proxy_cluster_action(req, "rebalance", NULL);
        return;
    }
    json_t *d = json_get_ci(value, "daemonid");
    const char *node = json_is_string(d) && json_string_length(d) ? json_string_value(d) : NULL;
    if (strcmp(kind, "resilver") == 0) {
        char id[16], err[512];
        int st = proxy_job_launch_on(node, kind, "", NULL, NULL, id, sizeof(id), err, sizeof(err));
        if (st)
            http_reply_error(req, (unsigned)st, "start resilver: %s", err);
        else
            http_reply_text(req, 200, id);
        return;
    }
    const char *bck = start_bck(req, value, kind);
    if (bck == NULL)
        return;
    if (bck[0] == '\0') {
        http_reply_error(req, 400, "start %s: the bucket (Bck) is missing", kind);
    } else if (strcmp(kind, "ec-encode") == 0 && !bck_enabled(bck, "ec")) {
        http_reply_error(req, 400,
                         "start ec-encode: ais://%s is not erasure coded (POST the bucket's "
                         "ec-encode action to enable it)",
                         bck);
    } else {
        json_t *jm = json_pack("{s:s}", "prefix", "");
        proxy_job_start(req, kind, bck, NULL, jm);
        json_decref(jm);
    }
}
