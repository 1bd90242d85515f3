/*
 * job.c - jobs (xactions) in liblocus: status, per-target snapshots, wait
 * (docs/protocol.md §1.8).
 */
#include "client/internal.h"

#include <jansson.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* GET /v1/cluster?what=<what> with the SDK's JobArgs body; reply body in r. */
static int job_query(locus_client_t *c, const char *what, const char *id, client_req_t *r,
                     char *err)
{
    if (id == NULL || id[0] == '\0')
        return client_fail(err, LOCUS_EINVAL, "empty job id");
    json_t *args = json_pack("{s:s, s:s, s:s, s:n, s:n}", "ID", id, "Kind", "", "DaemonID", "",
                             "Bck", "Buckets");
    char *body = json_dumps(args, JSON_COMPACT);
    json_decref(args);
    char *q = xasprintf("what=%s", what);
    char *url = client_url(c->endpoint, "cluster", q);
    r->url = url;
    r->json_body = body;
    int rc = client_do(c, r, err);
    if (rc == LOCUS_ENOENT && r->errbody.len == 0)
        client_fail(err, rc, "job \"%s\" not found", id);
    r->url = NULL;
    r->json_body = NULL;
    free(url);
    free(q);
    free(body);
    return rc;
}

void locus_job_status_dispose(locus_job_status_t *st)
{
    static const size_t offs[] = {offsetof(locus_job_status_t, kind),
                                  offsetof(locus_job_status_t, uuid),
                                  offsetof(locus_job_status_t, err)};
    client_dispose_record(st, sizeof(*st), offs, ARRAY_SIZE(offs));
}

static char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s != NULL ? xstrdup(s) : NULL;
}

int locus_job_status(locus_client_t *c, const char *id, locus_job_status_t *st, char *err)
{
    memset(st, 0, sizeof(*st));
    client_req_t r;
    client_req_init(&r, "GET", NULL);
    int rc = job_query(c, "status", id, &r, err);
    if (rc != 0)
        goto out;
    json_error_t jerr;
    json_t *j = json_loadb(r.body.base, r.body.len, 0, &jerr);
    if (!json_is_object(j)) {
        json_decref(j);
        rc = client_fail(err, LOCUS_EPROTO, "job status: reply is not a JSON object");
        goto out;
    }
    st->kind = jstr(j, "kind");
    st->uuid = jstr(j, "uuid");
    st->err = jstr(j, "err");
    st->end_time = json_int64(json_object_get(j, "end_time"));
    st->aborted = json_is_true(json_object_get(j, "aborted"));
    json_decref(j);
out:
    client_req_dispose(&r);
    return rc;
}

/* The body of GET /v1/cluster?what=<what> for job id into *json (caller frees). */
static int job_body(locus_client_t *c, const char *what, const char *id, char **json, char *err)
{
    *json = NULL;
    client_req_t r;
    client_req_init(&r, "GET", NULL);
    int rc = job_query(c, what, id, &r, err);
    if (rc == 0)
        *json = buf_steal(&r.body);
    client_req_dispose(&r);
    return rc;
}

int locus_job_snaps(locus_client_t *c, const char *id, char **json, char *err)
{
    return job_body(c, "qryxstats", id, json, err);
}

int locus_job_errors(locus_client_t *c, const char *id, char **json, char *err)
{
    return job_body(c, "qryxstats&errors=true", id, json, err);
}

int locus_job_wait(locus_client_t *c, const char *id, int64_t timeout_ns, locus_job_status_t *out,
                   char *err)
{
    return locus_job_wait_progress(c, id, timeout_ns, NULL, NULL, out, err);
}

int locus_job_wait_progress(locus_client_t *c, const char *id, int64_t timeout_ns,
                            locus_job_progress_fn progress, void *arg, locus_job_status_t *out,
                            char *err)
{
    if (out != NULL)
        memset(out, 0, sizeof(*out));
    int64_t now = time_mono_ns();
    /* A timeout too large for now + timeout is no limit. */
    int64_t deadline = timeout_ns > 0 && timeout_ns < INT64_MAX - now ? now + timeout_ns : 0;
    int sleep = 50;
    locus_job_status_t st;
    for (;;) {
        int rc = locus_job_status(c, id, &st, err);
        if (rc != 0) {
            locus_job_status_dispose(&st);
            return rc;
        }
        if (progress != NULL)
            progress(&st, arg);
        if (st.end_time != 0 || st.aborted) {
            if (st.aborted || (st.err != NULL && st.err[0] != '\0')) {
                rc = client_fail(
                    err, LOCUS_EJOB, "job %s %s%s%s", id, st.aborted ? "was aborted" : "failed",
                    st.err != NULL && st.err[0] ? ": " : "", st.err != NULL ? st.err : "");
            }
            if (out != NULL)
                *out = st;
            else
                locus_job_status_dispose(&st);
            return rc;
        }
        if (deadline != 0 && time_mono_ns() >= deadline) {
            if (out != NULL)
                *out = st;
            else
                locus_job_status_dispose(&st);
            return client_fail(err, LOCUS_ETIMEDOUT, "job %s still running after the timeout", id);
        }
        locus_job_status_dispose(&st);
        int ms = sleep;
        if (deadline != 0) {
            int64_t left_ms = (deadline - time_mono_ns()) / 1000000;
            if (left_ms < ms)
                ms = left_ms > 0 ? (int)left_ms : 1;
        }
        sleep_ms(ms);
        if (sleep < (progress != NULL ? 200 : 500))
            sleep *= 2;
    }
}

/* AIStore's QueryMsg for q (NULL: running jobs of any kind). */
static json_t *query_msg(const locus_job_query_t *q)
{
    const char *kind = q != NULL && q->kind != NULL ? q->kind : "";
    const char *bck = q != NULL && q->bck != NULL ? q->bck : "";
    json_t *m = json_pack("{s:s, s:b}", "kind", kind, "show_active", q == NULL || !q->all);
    if (bck[0])
        json_object_set_new(m, "bck", json_pack("{s:s, s:s}", "name", bck, "provider", "ais"));
    return m;
}

/* A request to /v1/cluster with the JSON body msg (stolen); the 2xx body into *out when out
 * is not NULL (caller frees). */
static int cluster_call(locus_client_t *c, const char *method, const char *query, json_t *msg,
                        char **out, char *err)
{
    if (out != NULL)
        *out = NULL;
    char *body = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    char *url = client_url(c->endpoint, "cluster", query);
    client_req_t r;
    client_req_init(&r, method, url);
    r.json_body = body;
    int rc = client_do(c, &r, err);
    if (rc == 0 && out != NULL)
        *out = buf_steal(&r.body);
    client_req_dispose(&r);
    free(url);
    free(body);
    return rc;
}

static int check_query(const locus_job_query_t *q, char *err)
{
    if (q != NULL && q->bck != NULL && q->bck[0])
        return locus_check_bucket_name(q->bck, err);
    return 0;
}

int locus_job_list(locus_client_t *c, const locus_job_query_t *q, char **json, char *err)
{
    *json = NULL;
    int rc = check_query(q, err);
    return rc ? rc : cluster_call(c, "GET", "what=qryxstats", query_msg(q), json, err);
}

int locus_job_status_all(locus_client_t *c, const locus_job_query_t *q, char **json, char *err)
{
    *json = NULL;
    int rc = check_query(q, err);
    return rc ? rc : cluster_call(c, "GET", "what=status_all", query_msg(q), json, err);
}

int locus_job_running(locus_client_t *c, const char *kind, char **json, char *err)
{
    locus_job_query_t q = {.kind = kind};
    return cluster_call(c, "GET", "what=running_all", query_msg(&q), json, err);
}

int locus_job_start(locus_client_t *c, const char *kind, const char *bck, const char *node,
                    char **job_id, char *err)
{
    *job_id = NULL;
    if (kind == NULL || kind[0] == '\0')
        return client_fail(err, LOCUS_EINVAL, "empty job kind");
    if (bck != NULL && bck[0]) {
        int rc = locus_check_bucket_name(bck, err);
        if (rc != 0)
            return rc;
    }
    json_t *v = json_pack("{s:s, s:s}", "Kind", kind, "DaemonID", node ? node : "");
    if (bck != NULL && bck[0])
        json_object_set_new(v, "Bck", json_pack("{s:s, s:s}", "name", bck, "provider", "ais"));
    char *out = NULL;
    int rc = cluster_call(c, "PUT", NULL, json_pack("{s:s, s:o}", "action", "start", "value", v),
                          &out, err);
    if (rc == 0 && (out == NULL || out[0] == '\0')) {
        free(out);
        return client_fail(err, LOCUS_EPROTO, "start %s: no job id in the answer", kind);
    }
    *job_id = out;
    return rc;
}

int locus_job_stop(locus_client_t *c, const char *id, char *err)
{
    if (id == NULL || id[0] == '\0')
        return client_fail(err, LOCUS_EINVAL, "empty job id");
    json_t *m = json_pack("{s:s, s:{s:s}}", "action", "stop-xaction", "value", "id", id);
    return cluster_call(c, "PUT", NULL, m, NULL, err);
}

/* PUT stop-xaction for the running jobs of one kind (and bck); adds the count to *n. */
static int stop_kind(locus_client_t *c, const char *kind, const char *bck, int64_t *n, char *err)
{
    locus_job_query_t q = {.kind = kind, .bck = bck, .all = true};
    json_t *v = query_msg(&q);
    json_object_del(v, "show_active");
    char *out = NULL;
    int rc = cluster_call(c, "PUT", NULL,
                          json_pack("{s:s, s:o}", "action", "stop-xaction", "value", v), &out, err);
    if (rc == 0 && out != NULL) {
        json_t *j = json_loads(out, 0, NULL);
        *n += json_int64(json_object_get(j, "stopped"));
        json_decref(j);
    }
    free(out);
    return rc;
}

int locus_job_stop_many(locus_client_t *c, const char *kind, const char *bck, int64_t *stopped,
                        char *err)
{
    int64_t n = 0;
    locus_job_query_t q = {.kind = kind, .bck = bck, .all = true};
    int rc = check_query(&q, err);
    if (rc == 0 && kind != NULL && kind[0])
        rc = stop_kind(c, kind, bck, &n, err);
    else if (rc == 0) {
        /* AIStore stops by kind: every kind that runs now (running_all's "kind[id]") */
        char *json = NULL;
        rc = locus_job_running(c, NULL, &json, err);
        json_t *names = rc == 0 ? json_loads(json, 0, NULL) : NULL;
        free(json);
        json_t *done = json_object(), *v;
        size_t i;
        json_array_foreach(names, i, v)
        {
            const char *s = json_string_value(v), *lb = s ? strchr(s, '[') : NULL;
            char *k = lb ? xstrndup(s, (size_t)(lb - s)) : NULL;
            if (rc == 0 && k && json_object_get(done, k) == NULL) {
                json_object_set_new(done, k, json_true());
                rc = stop_kind(c, k, bck, &n, err);
            }
            free(k);
        }
        json_decref(done);
        json_decref(names);
    }
    if (stopped != NULL)
        *stopped = n;
    return rc;
}
