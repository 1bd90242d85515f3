/*
 * etl.c - the ETL control plane on the proxy (docs/protocol.md §1.6): init, list, view, stop,
 * start, delete, logs, health. The ETL's state lives in the EtlMD (cluster metadata); targets
 * reconcile their ETL servers with it, and the primary waits for them on init and start.
 */
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "etlspec/etlspec.h"
#include "proxy/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    json_t *entry;     /* for add */
    const char *stage; /* for set_stage */
    const char *reason;
    const char *xid;     /* set_stage: only if the current xid matches (NULL = any) */
    const char *new_xid; /* set_stage: replace the xid */
    const char *from;    /* set_stage: only from this stage (NULL = any) */
} etl_op_t;

static int do_add(json_t *items, void *arg, char *err, size_t errlen)
{
    etl_op_t *op = arg;
    if (json_object_get(items, op->name)) {
        snprintf(err, errlen, "%s: etl job %s already exists", cluster_self_name(), op->name);
        return 409;
    }
    json_object_set(items, op->name, op->entry);
    return 0;
}

static int do_set_stage(json_t *items, void *arg, char *err, size_t errlen)
{
    etl_op_t *op = arg;
    json_t *e = json_object_get(items, op->name);
    if (e == NULL) {
        snprintf(err, errlen, "%s: etl job %s does not exist", cluster_self_name(), op->name);
        return 404;
    }
    const char *xid = json_string_value(json_object_get(e, "xid"));
    const char *stage = json_string_value(json_object_get(e, "stage"));
    if (op->xid && (!xid || strcmp(xid, op->xid) != 0)) {
        snprintf(err, errlen, "etl job %s: stale generation", op->name);
        return 409;
    }
    if (op->from && (!stage || strcmp(stage, op->from) != 0)) {
        snprintf(err, errlen, "%s: can't start etl job %s during %s stage", cluster_self_name(),
                 op->name, stage ? stage : "unknown");
        return 400;
    }
    if (stage && strcmp(stage, op->stage) == 0 && !op->new_xid)
        return 0; /* idempotent */
    json_object_set_new(e, "stage", json_string(op->stage));
    json_object_set_new(e, "reason", json_string(op->reason ? op->reason : ""));
    if (op->new_xid)
        json_object_set_new(e, "xid", json_string(op->new_xid));
    return 0;
}

static int do_delete(json_t *items, void *arg, char *err, size_t errlen)
{
    etl_op_t *op = arg;
    json_t *e = json_object_get(items, op->name);
    if (e == NULL) {
        snprintf(err, errlen, "%s: etl job %s does not exist", cluster_self_name(), op->name);
        return 404;
    }
    const char *xid = json_string_value(json_object_get(e, "xid"));
    if (op->xid && (!xid || strcmp(xid, op->xid) != 0)) {
        snprintf(err, errlen, "etl job %s: stale generation", op->name);
        return 409;
    }
    json_object_del(items, op->name);
    return 0;
}

static void new_xid(char *out, size_t len)
{
    char r[11];
    random_id(r, 10);
    snprintf(out, len, "etl-%s", r);
}

static void new_secret(char *out)
{
    static const char letters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    for (int i = 0; i < 10; i++)
        out[i] = letters[random_u64() % 52];
    out[10] = '\0';
}

/* The entry of name (new reference) or NULL. */
static json_t *etl_entry(const char *name)
{
    mdoc_t *md = md_get(MD_ETL);
    json_t *e = json_object_get(md->items, name);
    json_t *copy = e ? json_deep_copy(e) : NULL;
    md_put(md);
    return copy;
}

/* Counts the targets that run generation xid (b->arg); a failed one fails the start. */
typedef struct {
    const char *xid;
    const char *name;
    size_t running;
} run_count_t;

static int count_running(proxy_bcast_t *b, const snode_t *t, json_t *st)
{
    run_count_t *c = b->arg;
    const char *state = json_string_value(json_object_get(st, "state"));
    const char *sx = json_string_value(json_object_get(st, "xid"));
    if (!state || !sx || strcmp(sx, c->xid) != 0)
        return 0;
    if (strcmp(state, "running") == 0)
        c->running++;
    else if (strcmp(state, "failed") == 0) {
        snprintf(b->err, sizeof(b->err), "etl job %s failed to start on t[%s]: %s", c->name, t->id,
                 json_string_value(json_object_get(st, "reason")));
        return 400;
    }
    return 0;
}

/* Waits until every target runs generation xid of name. 0, or an HTTP status with err. */
static int wait_running(const char *name, const char *xid, int64_t timeout_ns, char *err,
                        size_t errlen)
{
    int64_t deadline = time_mono_ns() + timeout_ns + 2000000000LL;
    char *q = xasprintf("/v1/etl/_status/%s", name);
    int rc = 0;
    for (;;) {
        json_t *e = etl_entry(name);
        const char *stage = json_string_value(json_object_get(e, "stage"));
        const char *cur = json_string_value(json_object_get(e, "xid"));
        if (e == NULL || !cur || strcmp(cur, xid) != 0) {
            snprintf(err, errlen, "etl job %s was deleted or restarted while starting", name);
            json_decref(e);
            rc = 409;
            break;
        }
        if (strcmp(stage, ETL_STAGE_ABORTED) == 0) {
            snprintf(err, errlen, "etl job %s failed to start: %s", name,
                     json_string_value(json_object_get(e, "reason")));
            json_decref(e);
            rc = 400;
            break;
        }
        json_decref(e);
        run_count_t rcnt = {.xid = xid, .name = name};
        proxy_bcast_t b = {
            .method = "GET", .path = q, .timeout_ms = 5000, .merge = count_running, .arg = &rcnt};
        rc = proxy_bcast(&b);
        if (b.n_targets == 0) {
            snprintf(err, errlen, "no storage targets in the cluster");
            rc = 503;
            break;
        }
        if (rc) {
            snprintf(err, errlen, "%s", b.err);
            break;
        }
        if (rcnt.running == b.n_targets)
            break;
        if (time_mono_ns() > deadline) {
            snprintf(err, errlen,
                     "etl job %s: not every target's server became healthy within "
                     "init_timeout %llds",
                     name, (long long)(timeout_ns / 1000000000LL));
            rc = 400;
            break;
        }
        sleep_ms(150);
    }
    free(q);
    return rc;
}

/* Marks the ETL generation Aborted with a reason (best effort). */
static void abort_generation(const char *name, const char *xid, const char *reason)
{
    etl_op_t op = {.name = name, .stage = ETL_STAGE_ABORTED, .reason = reason, .xid = xid};
    char err[256];
    cluster_md_modify(MD_ETL, do_set_stage, &op, err, sizeof(err));
}

/* Waits for the generation to run; answers the request with the xid or the error. A failed
 * init (fresh) leaves nothing behind: the entry goes, so the targets stop what they started and
 * a retry with the same name is a new init (a failed start keeps the ETL, Aborted, as AIStore). */
static void finish_start(http_req_t *req, const char *name, const char *xid, int64_t timeout_ns,
                         bool fresh)
{
    char err[PROXY_ERR_MAX];
    int rc = wait_running(name, xid, timeout_ns, err, sizeof(err));
    if (rc == 0) {
        etl_op_t op = {.name = name, .stage = ETL_STAGE_RUNNING, .xid = xid};
        char e2[256];
        rc = cluster_md_modify(MD_ETL, do_set_stage, &op, e2, sizeof(e2));
        if (rc)
            snprintf(err, sizeof(err), "%s", e2);
    } else if (fresh && rc != 409) {
        char e2[256];
        cluster_md_modify(MD_ETL, do_delete, &(etl_op_t){.name = name, .xid = xid}, e2, sizeof(e2));
    } else if (rc == 400) {
        abort_generation(name, xid, err);
    }
    if (rc) {
        LOCUS_LOG(LOG_WARNING, "%s", err);
        http_reply_error(req, (unsigned)rc, "%s", err);
    } else {
        LOCUS_LOG(LOG_NOTICE, "etl %s running (%s)", name, xid);
        http_reply_text(req, 200, xid);
    }
}

static void etl_init(http_req_t *req)
{
    json_t *msg = http_body_json(req);
    if (msg == NULL)
        return;
    json_t *entry = NULL;
    char err[1024];
    int rc = etl_spec_parse(cluster_config(), msg, &entry, err, sizeof(err));
    json_decref(msg);
    if (rc) {
        http_reply_error(req, (unsigned)rc, "%s", err);
        return;
    }
    const char *name =
        json_string_value(json_object_get(json_object_get(entry, "init_msg"), "name"));
    char xid[32], secret[16];
    new_xid(xid, sizeof(xid));
    new_secret(secret);
    json_object_set_new(entry, "xid", json_string(xid));
    json_object_set_new(entry, "secret", json_string(secret));
    json_object_set_new(entry, "stage", json_string(ETL_STAGE_INIT));
    json_object_set_new(entry, "reason", json_string(""));
    char *nm = xstrdup(name);
    etl_op_t op = {.name = nm, .entry = entry};
    rc = cluster_md_modify(MD_ETL, do_add, &op, err, sizeof(err));
    int64_t it = json_integer_value(json_object_get(entry, "init_timeout_ns"));
    json_decref(entry);
    if (rc)
        http_reply_error(req, (unsigned)rc, "%s", err);
    else
        finish_start(req, nm, xid, it, true);
    free(nm);
}

typedef struct {
    json_int_t objs, in, out;
} counters_t;

static int add_counters(proxy_bcast_t *b, const snode_t *t, json_t *st)
{
    counters_t *c = b->arg;
    c->objs += json_integer_value(json_object_get(st, "obj_count"));
    c->in += json_integer_value(json_object_get(st, "in_bytes"));
    c->out += json_integer_value(json_object_get(st, "out_bytes"));
    return 0;
}

static json_t *sum_counters(const char *name)
{
    char *q = xasprintf("/v1/etl/_status/%s", name);
    counters_t c = {0};
    proxy_bcast_t b = {
        .method = "GET", .path = q, .timeout_ms = 5000, .merge = add_counters, .arg = &c};
    proxy_bcast(&b);
    free(q);
    return json_pack("{s:I, s:I, s:I}", "obj_count", c.objs, "in_bytes", c.in, "out_bytes", c.out);
}

static void etl_list(http_req_t *req)
{
    mdoc_t *md = md_get(MD_ETL);
    json_t *items = json_incref(md->items);
    md_put(md);
    json_t *arr = json_array();
    const char *name;
    json_t *e;
    json_object_foreach(items, name, e)
    {
        json_t *j = sum_counters(name);
        json_object_set_new(j, "id", json_string(name));
        json_object_set(j, "stage", json_object_get(e, "stage"));
        json_object_set(j, "xaction_id", json_object_get(e, "xid"));
        json_array_append_new(arr, j);
    }
    json_decref(items);
    http_reply_json(req, 200, arr);
}

static int add_obj_errors(proxy_bcast_t *b, const snode_t *t, json_t *snap)
{
    json_array_extend(b->arg, json_object_get(snap, "obj_errors"));
    return 0;
}

static void etl_view(http_req_t *req, const char *name)
{
    json_t *e = etl_entry(name);
    if (e == NULL) {
        http_reply_error(req, 404, "%s: etl job %s does not exist", cluster_self_name(), name);
        return;
    }
    json_t *errs = json_array();
    const char *uuid = http_query(req, "uuid");
    if (uuid && uuid[0]) {
        char *enc = url_encode(uuid, "");
        char *q = xasprintf("/v1/xactions?id=%s&errors=1", enc);
        free(enc);
        proxy_bcast_t b = {
            .method = "GET", .path = q, .timeout_ms = 5000, .merge = add_obj_errors, .arg = errs};
        proxy_bcast(&b);
        free(q);
        if (b.n_ok == 0) { /* no target knows it */
            http_reply_error(req, 404, "%s: no such job \"%s\" (etl job %s)", cluster_self_name(),
                             uuid, name);
            json_decref(errs);
            json_decref(e);
            return;
        }
    }
    json_t *pub = etlmd_entry_public(e); /* no secret, no env values */
    json_t *j = json_pack("{s:O, s:o, s:O, s:O}", "init_msg", json_object_get(pub, "init_msg"),
                          "obj_errors", errs, "stage", json_object_get(e, "stage"), "reason",
                          json_object_get(e, "reason"));
    json_decref(pub);
    json_decref(e);
    http_reply_json(req, 200, j);
}

static int add_answer(proxy_bcast_t *b, const snode_t *t, json_t *j)
{
    json_array_append(b->arg, j);
    return 0;
}

/* GET /v1/etl/<name>/logs[/<tid>] and /health: fan-out to targets, array of answers. */
static void etl_gather(http_req_t *req, const char *name, const char *what, const char *tid)
{
    json_t *e = etl_entry(name);
    if (e == NULL) {
        http_reply_error(req, 404, "%s: etl job %s does not exist", cluster_self_name(), name);
        return;
    }
    json_decref(e);
    char *q = xasprintf("/v1/etl/%s/%s", name, what);
    json_t *arr = json_array();
    proxy_bcast_t b = {.method = "GET",
                       .path = q,
                       .timeout_ms = 10000,
                       .only = tid,
                       .merge = add_answer,
                       .arg = arr};
    int rc = proxy_bcast(&b);
    free(q);
    if (rc) {
        json_decref(arr);
        http_reply_error(req, (unsigned)rc, "%s", b.err);
        return;
    }
    http_reply_json(req, 200, arr);
}

/* Applies fn to the EtlMD and answers 200 with no body, or the refusal. */
static void etl_md_change(http_req_t *req, md_modify_cb fn, etl_op_t *op)
{
    char err[512];
    int rc = cluster_md_modify(MD_ETL, fn, op, err, sizeof(err));
    if (rc)
        http_reply_error(req, (unsigned)rc, "%s", err);
    else
        http_reply(req, 200, NULL, "", 0);
}

static void etl_stop(http_req_t *req, const char *name, const char *reason)
{
    etl_md_change(req, do_set_stage,
                  &(etl_op_t){.name = name, .stage = ETL_STAGE_ABORTED, .reason = reason});
}

static void etl_start(http_req_t *req, const char *name)
{
    char xid[32], err[512];
    new_xid(xid, sizeof(xid));
    etl_op_t op = {
        .name = name, .stage = ETL_STAGE_INIT, .new_xid = xid, .from = ETL_STAGE_ABORTED};
    int rc = cluster_md_modify(MD_ETL, do_set_stage, &op, err, sizeof(err));
    if (rc) {
        http_reply_error(req, (unsigned)rc, "%s", err);
        return;
    }
    json_t *e = etl_entry(name);
    int64_t it = json_int64(json_object_get(e, "init_timeout_ns"));
    json_decref(e);
    finish_start(req, name, xid, it, false);
}

/* POST /v1/etl/<name>/_abort from a target whose ETL server failed. */
static void etl_abort_report(http_req_t *req, const char *name)
{
    json_t *j = http_body_json(req);
    if (j == NULL)
        return;
    const char *xid = json_string_value(json_object_get(j, "xid"));
    const char *reason = json_string_value(json_object_get(j, "reason"));
    if (xid && reason) {
        LOCUS_LOG(LOG_WARNING, "etl %s aborted: %s", name, reason);
        abort_generation(name, xid, reason);
    }
    json_decref(j);
    http_reply(req, 200, NULL, "", 0);
}

void proxy_etl_request(http_req_t *req, const char **segs, int nseg)
{
    const char *m = req->method;
    bool modifies = strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0;
    if (modifies && !cluster_is_primary()) {
        proxy_forward_to_primary(req);
        return;
    }
    if (nseg == 1) {
        if (strcmp(m, "PUT") == 0)
            etl_init(req);
        else if (strcmp(m, "GET") == 0)
            etl_list(req);
        else
            http_reply_error(req, 405, "method %s is not supported for /v1/etl", m);
        return;
    }
    const char *name = segs[1];
    if (nseg == 2) {
        if (strcmp(m, "GET") == 0)
            etl_view(req, name);
        else if (strcmp(m, "DELETE") == 0)
            etl_md_change(req, do_delete, &(etl_op_t){.name = name});
        else
            http_reply_error(req, 405, "method %s is not supported for /v1/etl/<name>", m);
        return;
    }
    const char *verb = segs[2];
    if (strcmp(m, "POST") == 0 && strcmp(verb, "stop") == 0)
        etl_stop(req, name, "stopped by user");
    else if (strcmp(m, "POST") == 0 && strcmp(verb, "start") == 0)
        etl_start(req, name);
    else if (strcmp(m, "POST") == 0 && strcmp(verb, "_abort") == 0)
        etl_abort_report(req, name);
    else if (strcmp(m, "GET") == 0 && strcmp(verb, "logs") == 0)
        etl_gather(req, name, "logs", nseg > 3 ? segs[3] : NULL);
    else if (strcmp(m, "GET") == 0 && strcmp(verb, "health") == 0)
        etl_gather(req, name, "health", NULL);
    else
        http_reply_error(req, 404, "no such ETL endpoint: %s %s", m, req->raw_path);
}
