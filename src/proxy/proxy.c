/*
 * proxy.c - the proxy role's REST endpoints: redirects of object requests to their HRW
 * target, bucket create/destroy/list/HEAD, list objects, jobs. Bucket metadata changes go
 * through the primary: another proxy forwards them.
 */
#include "proxy/proxy.h"
#include "auth/auth.h"
#include "cluster/cluster.h"
#include "cluster/daemon.h"
#include "cluster/meta.h"
#include "cluster/metasync.h"
#include "cluster/trust.h"
#include "cluster/vote.h"
#include "common/log.h"
#include "common/names.h"
#include "common/template.h"
#include "common/util.h"
#include "etlspec/etlspec.h"
#include "net/fanout.h"
#include "proxy/internal.h"
#include "s3/s3.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    int status;
    char msg[768];
    char *location;
    trust_t who;  /* the caller (cluster/trust.h) */
    bool promote; /* POST /v1/objects/<bck> */
} pctx_t;

static void pctx_free(http_req_t *req)
{
    pctx_t *c = req->ctx;
    if (c) {
        free(c->location);
        trust_dispose(&c->who);
        free(c);
    }
    req->ctx = NULL;
}

/* Answers 401/403 and returns false unless the caller may do perms on bck (NULL: cluster). */
static bool authorized(http_req_t *req, auth_ace_t perms, const char *bck)
{
    if (!trust_active())
        return true;
    pctx_t *c = req->ctx;
    char msg[512];
    int rc = trust_require(&c->who, bck, perms, msg, sizeof(msg));
    if (rc)
        http_reply_error(req, (unsigned)rc, "%s", msg);
    return rc == 0;
}

/* ---------------------------------------------------------------- helpers */

json_t *json_get_ci(json_t *obj, const char *key)
{
    if (!json_is_object(obj))
        return NULL;
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) if (strcasecmp(k, key) == 0) return v;
    return NULL;
}

/* One call's answer into the merge of b. 0 or the status that fails the fan-out. */
static int merge_one(proxy_bcast_t *b, fanout_req_t *q)
{
    const snode_t *t = q->arg;
    if (q->rc < 0 || q->resp.status != 200) {
        if (!b->strict)
            return 0;
        snprintf(b->failed, sizeof(b->failed), "%s", t->id);
        snprintf(b->err, sizeof(b->err), "target %s failed: %s", t->id,
                 q->rc < 0           ? q->resp.err
                 : q->resp.body.base ? q->resp.body.base
                                     : "");
        if (b->pass_4xx && q->rc == 0 && q->resp.status >= 400 && q->resp.status < 500) {
            /* the client's mistake, not the cluster's: the target's own message */
            json_t *e = json_loadb(q->resp.body.base, q->resp.body.len, 0, NULL);
            const char *m = json_string_value(json_object_get(e, "message"));
            if (m)
                snprintf(b->err, sizeof(b->err), "%s", m);
            json_decref(e);
            return (int)q->resp.status;
        }
        return 503;
    }
    if (b->merge == NULL) {
        b->n_ok++;
        return 0;
    }
    json_t *j = json_loadb(q->resp.body.base, q->resp.body.len, 0, NULL);
    if (j == NULL) {
        if (!b->strict)
            return 0;
        snprintf(b->failed, sizeof(b->failed), "%s", t->id);
        snprintf(b->err, sizeof(b->err), "invalid JSON from target %s", t->id);
        return 500;
    }
    b->n_ok++;
    int rc = b->merge(b, t, j);
    json_decref(j);
    return rc;
}

int proxy_bcast(proxy_bcast_t *b)
{
    smap_t *s = smap_get();
    fanout_req_t *calls = xcalloc(s->n_targets + 1, sizeof(fanout_req_t));
    size_t n = 0;
    for (size_t i = 0; i < s->n_targets; i++) {
        const snode_t *t = &s->targets[i];
        if ((b->only && strcmp(t->id, b->only) != 0) || (!b->only && (t->flags & SNODE_DOWN)))
            continue; /* a target known to be down is not waited for */
        calls[n].method = b->method;
        calls[n].url = xasprintf("%s%s", t->url, b->path);
        calls[n].body = b->body;
        calls[n].body_len = b->body ? strlen(b->body) : 0;
        calls[n].content_type = "application/json";
        calls[n].arg = (void *)t;
        n++;
    }
    b->n_targets = n;
    b->n_ok = 0;
    b->failed[0] = b->err[0] = '\0';
    int rc = 0;
    if (b->only && n == 0) {
        snprintf(b->err, sizeof(b->err), "target %s is not in the cluster map", b->only);
        rc = 404;
    } else {
        fanout_opts_t o = {.concurrency = PROXY_FANOUT_MAX, .timeout_ms = b->timeout_ms};
        fanout_run(calls, n, &o);
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = merge_one(b, &calls[i]);
    }
    fanout_free(calls, n);
    smap_put(s);
    return rc;
}

/* Set on a request relayed to the primary: a proxy that gets one and is not the primary (the
 * role is moving and the two proxies' maps disagree for a moment) answers 503 rather than relay
 * it back. */
#define HDR_FORWARDED "Locus-Forwarded-By"

void proxy_forward_to_primary(http_req_t *req)
{
    const char *by = http_header(req, HDR_FORWARDED);
    if (by != NULL) {
        http_reply_error(req, 503,
                         "%s is not the primary proxy either (relayed by %.64s): the "
                         "primary is changing, try again",
                         cluster_self_name(), by);
        return;
    }
    char *url = xasprintf("%s%s%s%s", cluster_primary_url(), req->raw_path,
                          req->raw_query[0] ? "?" : "", req->raw_query);
    const httpc_header_t hdrs[] = {
        {"Content-Type", "application/json"}, {HDR_FORWARDED, cluster_self_id()}, {NULL, NULL}};
    httpc_resp_t r;
    httpc_resp_init(&r);
    int rc = httpc_do(req->method, url, req->body.len ? req->body.base : NULL, req->body.len, hdrs,
                      0, &r);
    if (rc < 0)
        http_reply_error(req, 503, "primary proxy unreachable: %s", r.err);
    else
        http_reply(req, (unsigned)r.status, "application/json", r.body.base ? r.body.base : "",
                   r.body.len);
    httpc_resp_dispose(&r);
    free(url);
}

static bool bucket_exists(const char *name)
{
    bmd_t *b = bmd_get();
    bool ok = bmd_bucket(b, name) != NULL;
    bmd_put(b);
    return ok;
}

/* ---------------------------------------------------------------- objects */

/* Validates an object request and sets either c->location (the owner) or c->status + c->msg. */
static void object_route(http_req_t *req, pctx_t *c, const char **segs, int nseg)
{
    if (nseg < 3 || segs[2][0] == '\0') {
        c->status = 400;
        snprintf(c->msg, sizeof(c->msg), "object name is missing in \"%s\"", req->path);
        return;
    }
    const char *why = name_check_bucket(segs[1]);
    if (why) {
        c->status = 400;
        snprintf(c->msg, sizeof(c->msg), "bucket name \"%s\" is invalid: %s", segs[1], why);
        return;
    }
    why = name_check_object(segs[2], strlen(segs[2]));
    if (why) {
        c->status = 400;
        snprintf(c->msg, sizeof(c->msg), "object name \"%s\" is invalid: %s", segs[2], why);
        return;
    }
    const char *prov = http_query(req, "provider");
    if (prov && prov[0] && strcmp(prov, "ais") != 0) {
        c->status = 400;
        snprintf(c->msg, sizeof(c->msg), "provider \"%s\" is not supported (only ais)", prov);
        return;
    }
    if (!bucket_exists(segs[1])) {
        c->status = 404;
        snprintf(c->msg, sizeof(c->msg), "bucket \"ais://%s\" does not exist", segs[1]);
        return;
    }
    smap_t *s = smap_get();
    const snode_t *owner = smap_owner(s, segs[1], segs[2]);
    if (owner == NULL) {
        c->status = 503;
        snprintf(c->msg, sizeof(c->msg), "no storage targets in the cluster");
    } else {
        char utm[16];
        uint64_t ns = (uint64_t)time_now_ns();
        char tmp[16];
        int k = 0;
        do {
            tmp[k++] = "0123456789abcdefghijklmnopqrstuvwxyz"[ns % 36];
            ns /= 36;
        } while (ns && k < 15);
        for (int i = 0; i < k; i++)
            utm[i] = tmp[k - 1 - i];
        utm[k] = '\0';
        /* smap_ver: a target whose map is older waits for this one before it re-routes */
        c->location = xasprintf("%s%s?%s%spid=%s&utm=%s&smap_ver=%lld", owner->url, req->raw_path,
                                req->raw_query, req->raw_query[0] ? "&" : "", cluster_self_id(),
                                utm, (long long)s->version);
    }
    smap_put(s);
}

/* With auth on, only a caller with the access the method needs is redirected, and the redirect
 * carries a signature the target checks (the client drops its token on the way:
 * docs/security.md, "Redirects"). */
static void object_authorize(http_req_t *req, pctx_t *c, const char *bck)
{
    int rc = trust_require_object(&c->who, req, bck, c->msg, sizeof(c->msg));
    if (rc) {
        c->status = rc;
        free(c->location);
        c->location = NULL;
        return;
    }
    char *sfx = c->location ? trust_redirect_suffix(req->method, c->location) : NULL;
    if (sfx) {
        char *l = xasprintf("%s%s", c->location, sfx);
        free(c->location);
        free(sfx);
        c->location = l;
    }
}

static void object_headers(http_req_t *req, pctx_t *c, const char **segs, int nseg)
{
    req->body_mode = BODY_DISCARD; /* a redirected body is consumed, never forwarded */
    req->fast = true;              /* a redirect or an error: answered on the I/O thread */
    if (trust_active() && trust_authenticated(&c->who, c->msg, sizeof(c->msg)))
        c->status = 401; /* no (valid) credentials: say so before anything else */
    else
        object_route(req, c, segs, nseg);
    if (trust_active() && c->status == 0)
        object_authorize(req, c, segs[1]);
    /* A big body behind Expect: 100-continue is never sent (the connection then closes); a small
     * one is drained and answered from proxy_on_request on a kept connection. */
    if (http_answer_before_body(req)) {
        if (c->location)
            http_reply_redirect(req, 307, c->location);
        else
            http_reply_error(req, (unsigned)c->status, "%s", c->msg);
    }
}

/* ---------------------------------------------------------------- buckets */

/* A bucket and what to do with its properties (BMD changes below). */
typedef struct {
    const char *name;
    json_t *props; /* BpropsToSet (borrowed) or NULL */
    bool reset;    /* reset-bprops: back to the defaults */
} bck_change_t;

static int do_create(json_t *buckets, void *arg, char *err, size_t errlen)
{
    const bck_change_t *bc = arg;
    if (json_object_get(buckets, bc->name)) {
        snprintf(err, errlen, "bucket \"ais://%s\" already exists", bc->name);
        return 409;
    }
    json_t *props = bprops_default();
    int rc = bprops_merge(props, bc->props, err, errlen);
    if (rc) {
        json_decref(props);
        return rc;
    }
    char ns[32], bid[32];
    snprintf(ns, sizeof(ns), "%lld", (long long)time_now_ns());
    snprintf(bid, sizeof(bid), "%llu", (unsigned long long)(random_u64() >> 12));
    json_object_set_new(buckets, bc->name,
                        json_pack("{s:s, s:s, s:o}", "bid", bid, "created", ns, "props", props));
    return 0;
}

static int do_create_if_missing(json_t *buckets, void *arg, char *err, size_t errlen)
{
    if (json_object_get(buckets, (const char *)arg))
        return 0;
    bck_change_t bc = {.name = arg};
    return do_create(buckets, &bc, err, errlen);
}

/* set-bprops / reset-bprops: the merged properties replace the entry's (a bucket created before
 * the properties existed gets the defaults filled in). */
static int do_set_props(json_t *buckets, void *arg, char *err, size_t errlen)
{
    const bck_change_t *bc = arg;
    json_t *e = json_object_get(buckets, bc->name);
    if (e == NULL) {
        snprintf(err, errlen, "bucket \"ais://%s\" does not exist", bc->name);
        return 404;
    }
    json_t *props = bprops_default();
    if (!bc->reset)
        json_object_update(props, json_object_get(e, "props"));
    int rc = bprops_merge(props, bc->props, err, errlen);
    if (rc == 0)
        json_object_set(e, "props", props);
    json_decref(props);
    return rc;
}

static int do_destroy(json_t *buckets, void *arg, char *err, size_t errlen)
{
    const char *name = arg;
    if (json_object_get(buckets, name) == NULL) {
        snprintf(err, errlen, "bucket \"ais://%s\" does not exist", name);
        return 404;
    }
    json_object_del(buckets, name);
    return 0;
}

static void bmd_change(http_req_t *req, bmd_modify_cb fn, const void *arg)
{
    char err[512];
    int rc = cluster_bmd_modify(fn, (void *)arg, err, sizeof(err));
    if (rc)
        http_reply_error(req, (unsigned)rc, "%s", err);
    else
        http_reply(req, 200, NULL, "", 0);
}

static int cmp_strp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void list_buckets(http_req_t *req)
{
    bmd_t *b = bmd_get();
    json_t *arr = json_array();
    const char *name;
    json_t *v;
    /* sorted output */
    size_t n = json_object_size(b->items), k = 0;
    const char **names = xcalloc(n + 1, sizeof(char *));
    json_object_foreach(b->items, name, v) names[k++] = name;
    qsort(names, k, sizeof(char *), cmp_strp);
    for (size_t i = 0; i < k; i++) {
        json_array_append_new(arr,
                              json_pack("{s:s, s:s, s:{s:s, s:s}}", "name", names[i], "provider",
                                        "ais", "namespace", "uuid", "", "name", ""));
    }
    free(names);
    bmd_put(b);
    http_reply_json(req, 200, arr);
}

static void head_bucket(http_req_t *req, const char *name)
{
    bmd_t *b = bmd_get();
    json_t *e = bmd_bucket(b, name);
    if (e == NULL) {
        bmd_put(b);
        http_reply_error(req, 404, "bucket \"ais://%s\" does not exist", name);
        return;
    }
    json_t *props = json_deep_copy(json_object_get(e, "props"));
    json_object_set(props, "bid", json_object_get(e, "bid"));
    json_object_set(props, "created", json_object_get(e, "created"));
    bmd_put(b);
    char *s = json_dumps(props, JSON_COMPACT);
    json_decref(props);
    const char *bsumm = http_query(req, "bsumm_remote");
    if (bsumm && bsumm[0]) { /* AIStore's GetBucketInfo: the summary job, then its result */
        size_t skip = strlen("/v1/buckets/") + strlen(name);
        const char *pfx = strlen(req->path) > skip + 1 ? req->path + skip + 1 : "";
        proxy_bsumm_head(req, name, pfx, s);
        free(s);
        return;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Ais-Bucket-Props", s);
    free(s);
    http_send(req, 200, r);
}

/* The destination of a multi-object copy in its TCOMsg ("tobck": {"name", "provider"}, as
 * AIStore's API and SDK send it): a new name, or NULL when there is none. */
static char *tobck_name(json_t *value)
{
    json_t *n = json_get_ci(json_get_ci(value, "tobck"), "name");
    return json_is_string(n) && json_string_length(n) ? xstrdup(json_string_value(n)) : NULL;
}

/* Parses "bck_to" (ais/@#/dst/ or ais://dst), or takes the TCOMsg's "tobck" when the request has
 * none. Returns a new name or NULL (answered 400). */
static char *parse_bck_to(http_req_t *req, json_t *value)
{
    const char *to = http_query(req, "bck_to");
    char *tb = to ? NULL : tobck_name(value);
    if (tb)
        return tb;
    char *bck = NULL, *obj = NULL;
    if (to == NULL || uname_parse(to, &bck, &obj) < 0 || bck[0] == '\0') {
        http_reply_error(req, 400, "invalid or missing destination bucket bck_to=\"%s\"",
                         to ? to : "");
        free(bck);
        free(obj);
        return NULL;
    }
    free(obj);
    return bck;
}

static const char *const tcb_keys[] = {"prefix",     "prepend",     "dry_run",         "force",
                                       "latest-ver", "synchronize", "num-workers",     "coer",
                                       "ext",        "id",          "request_timeout", "pipeline",
                                       "names",      "template",    "objnames",        "TxnUUID",
                                       "non-recurs", "tobck",       "etl_args",        NULL};

/* Validates a TCBMsg: known keys and types. Returns NULL or a reason (static, or this thread's
 * until the next call). */
static const char *check_tcb(json_t *v)
{
    if (v == NULL || json_is_null(v))
        return NULL;
    if (!json_is_object(v))
        return "value must be a JSON object";
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x)
    {
        bool known = false;
        for (const char *const *t = tcb_keys; *t; t++)
            known = known || strcmp(*t, k) == 0;
        if (!known) { /* named: a misspelling must be found, not guessed */
            static _Thread_local char why[160];
            snprintf(why, sizeof(why), "unknown key \"%.100s\" in the request's value", k);
            return why;
        }
    }
    json_t *nw = json_object_get(v, "num-workers");
    if (nw && !(json_is_integer(nw) && json_integer_value(nw) >= 0 && json_integer_value(nw) <= 64))
        return "num-workers must be an integer 0..64";
    json_t *pf = json_object_get(v, "prefix");
    if (pf && !json_is_string(pf) && !json_is_null(pf))
        return "prefix must be a string";
    json_t *ea = json_object_get(v, "etl_args");
    if (ea && !json_is_null(ea) && !(json_is_string(ea) && json_string_length(ea) <= 4096))
        return "etl_args must be a string of at most 4096 bytes";
    json_t *pp = json_object_get(v, "prepend");
    if (pp && !json_is_string(pp) && !json_is_null(pp))
        return "prepend must be a string";
    if (json_is_string(pp)) { /* destination names are prepend + name: the prefix must fit */
        char *probe = xasprintf("%sx", json_string_value(pp));
        bool bad = name_check_object(probe, strlen(probe)) != NULL;
        free(probe);
        if (bad)
            return "prepend would make invalid object names (no leading '/', no \".\" or \"..\" "
                   "segment)";
    }
    json_t *ext = json_object_get(v, "ext");
    if (ext && !json_is_object(ext) && !json_is_null(ext))
        return "ext must be an object of strings";
    json_object_foreach(
        ext, k,
        x) if (!json_is_string(x) ||
               strchr(json_string_value(x),
                      '/')) return "ext must map extensions to extensions (strings without '/')";
    return NULL;
}

/* copy-listrange, etl-listrange (AIStore's TCOMsg): the objects listed or in the range. NULL or
 * why not (in err). */
static const char *check_tco(json_t *value, char *err, size_t errlen)
{
    json_t *names = json_get_ci(value, "objnames"), *tmpl = json_get_ci(value, "template");
    if (names && !json_is_null(names) && !json_is_array(names))
        return "objnames must be an array of strings";
    if (tmpl && !json_is_null(tmpl) && !json_is_string(tmpl))
        return "template must be a string";
    if (json_is_array(names) && json_is_string(tmpl) && json_string_length(tmpl))
        return "objnames and template are mutually exclusive";
    json_t *tb = json_get_ci(value, "tobck"), *prov = json_get_ci(tb, "provider");
    if (tb && !json_is_null(tb) && !json_is_object(tb))
        return "tobck must be a bucket ({\"name\", \"provider\"})";
    if (prov && !json_is_null(prov) &&
        !(json_is_string(prov) &&
          (json_string_length(prov) == 0 || strcmp(json_string_value(prov), "ais") == 0)))
        return "tobck: only ais buckets are supported";
    return check_listrange(json_is_array(names) ? names : NULL, json_is_string(tmpl) ? tmpl : NULL,
                           err, errlen);
}

/* Whether the ETL en is known and running; else answers 404 / 400 (what names it in the
 * message: "etl job" or "etl pipeline stage <n>"). */
static bool etl_running(http_req_t *req, const char *en, const char *what)
{
    mdoc_t *md = md_get(MD_ETL);
    json_t *e = json_object_get(md->items, en);
    const char *stage = json_string_value(json_object_get(e, "stage"));
    char stage_copy[32];
    snprintf(stage_copy, sizeof(stage_copy), "%s", stage ? stage : "");
    md_put(md);
    if (e == NULL) {
        http_reply_error(req, 404, "%s: %s %s does not exist", cluster_self_name(), what, en);
        return false;
    }
    if (strcmp(stage_copy, "Running") != 0) {
        http_reply_error(req, 400, "%s %s is not running (stage %s)", what, en, stage_copy);
        return false;
    }
    return true;
}

/* etl-bck, etl-listrange: the ETL ("id") and every stage of its "pipeline" (AIStore's TCBMsg
 * Transform.Pipeline: ETL names applied in order after it) exist and run, before any target
 * starts (AIStore answers 404 for an unknown stage too). Else answered. */
static bool etl_bck_runnable(http_req_t *req, const char *kind, json_t *value)
{
    const char *en = json_string_value(json_object_get(value, "id"));
    if (en == NULL || en[0] == '\0') {
        http_reply_error(req, 400, "%s: the ETL name (\"id\") is missing", kind);
        return false;
    }
    if (!etl_running(req, en, "etl job"))
        return false;
    json_t *pv = json_object_get(value, "pipeline");
    if (pv == NULL || json_is_null(pv))
        return true;
    if (!json_is_array(pv) || json_array_size(pv) > ETL_PIPELINE_MAX) {
        http_reply_error(req, 400, "%s: \"pipeline\" must be an array of at most %d ETL names",
                         kind, ETL_PIPELINE_MAX);
        return false;
    }
    size_t i;
    json_t *v;
    json_array_foreach(pv, i, v)
    {
        const char *why = json_is_string(v) ? etl_name_check(json_string_value(v)) : "not a string";
        if (why) {
            http_reply_error(req, 400, "%s: pipeline[%zu]: invalid ETL name: %s", kind, i, why);
            return false;
        }
        char what[48];
        snprintf(what, sizeof(what), "etl pipeline stage %zu", i + 2);
        if (!etl_running(req, json_string_value(v), what))
            return false;
    }
    return true;
}

/* copy-bck, etl-bck, copy-listrange and etl-listrange: validate, create the destination, start
 * the job on every target. */
static void copy_bucket(http_req_t *req, const char *kind, const char *src, json_t *value)
{
    char lrerr[256];
    bool lr = strstr(kind, "-listrange") != NULL;
    const char *why = check_tcb(value);
    if (why == NULL && lr)
        why = check_tco(value, lrerr, sizeof(lrerr));
    if (why) {
        http_reply_error(req, 400, "%s: %s", kind, why);
        return;
    }
    if (strncmp(kind, "etl-", 4) == 0 && !etl_bck_runnable(req, kind, value))
        return;
    char *dst = parse_bck_to(req, lr ? value : NULL);
    if (dst == NULL)
        return;
    why = name_check_bucket(dst);
    if (why) {
        http_reply_error(req, 400, "bucket name \"%s\" is invalid: %s", dst, why);
        goto out;
    }
    if (!bucket_exists(src)) {
        http_reply_error(req, 404, "bucket \"ais://%s\" does not exist", src);
        goto out;
    }
    if (strcmp(src, dst) == 0) {
        http_reply_error(req, 400, "cannot copy bucket \"ais://%s\" onto itself", src);
        goto out;
    }
    json_t *dry = json_object_get(value, "dry_run");
    if (!json_is_true(dry)) {
        char err[512];
        int rc = cluster_bmd_modify(do_create_if_missing, dst, err, sizeof(err));
        if (rc) {
            http_reply_error(req, (unsigned)rc, "%s", err);
            goto out;
        }
    }
    proxy_job_start(req, kind, src, dst, value);
out:
    free(dst);
}

/* Validates the object names or the range template of a list/range operation: every listed
 * name, and a template's size (counted, never enumerated) and first name. The targets check
 * each name again as they expand the template. NULL when valid, else a reason in err. */
const char *check_listrange(json_t *names, json_t *tmpl, char *err, size_t errlen)
{
    if (json_is_array(names)) {
        size_t i;
        json_t *v;
        json_array_foreach(names, i, v)
        {
            if (!json_is_string(v))
                return "objnames must be an array of strings";
            const char *why = name_check_object(json_string_value(v), json_string_length(v));
            if (why != NULL) {
                snprintf(err, errlen, "objnames[%zu]: %s", i, why);
                return err;
            }
        }
        return NULL;
    }
    const char *t = json_string_value(tmpl);
    if (t == NULL || strchr(t, '{') == NULL)
        return NULL; /* no range: a prefix */
    long n;
    int rc = template_size(t, &n);
    if (rc == -1)
        return "malformed template (expecting e.g. \"obj-{0001..1000}\")";
    if (rc == -2 || n > TEMPLATE_MAX_NAMES) {
        snprintf(err, errlen, "the template names %s%ld objects; the limit is %ld",
                 rc == -2 ? "more than " : "", n, TEMPLATE_MAX_NAMES);
        return err;
    }
    template_iter_t *it = template_iter_new(t);
    const char *first = template_iter_next(it);
    const char *why = name_check_object(first, strlen(first));
    if (why)
        snprintf(err, errlen, "the template makes invalid object names: %s", why);
    template_iter_free(it);
    return why ? err : NULL;
}

/* The access a bucket request needs (AIStore's, ais/proxy.go): answers 401/403 and returns
 * false when the caller lacks it. */
static bool bucket_authorized(http_req_t *req, const char *name, const char *action, json_t *value)
{
    const char *m = req->method;
    if (!trust_active())
        return true;
    if (name == NULL || name[0] == '\0')
        return authorized(req, AUTH_ACE_LIST_BUCKETS, NULL);
    if (strcmp(m, "HEAD") == 0)
        return authorized(req, AUTH_ACE_BCK_HEAD, name);
    if (strcmp(m, "GET") == 0)
        return authorized(req, AUTH_ACE_OBJ_LIST, name);
    if (action == NULL)
        return authorized(req, AUTH_ACE_BCK_HEAD, name); /* 401 for nobody; then a 400 */
    if (strcmp(action, "create-bck") == 0)
        return authorized(req, AUTH_ACE_CREATE_BUCKET, NULL);
    if (strcmp(action, "destroy-bck") == 0)
        return authorized(req, AUTH_ACE_DESTROY_BUCKET, name);
    if (strcmp(action, "delete-listrange") == 0)
        return authorized(req, AUTH_ACE_OBJ_DELETE, name);
    if (strcmp(action, "set-bprops") == 0 || strcmp(action, "reset-bprops") == 0 ||
        strcmp(action, "ec-encode") == 0)
        return authorized(req, AUTH_ACE_PATCH, name);
    if (strcmp(action, "archive") == 0) { /* reads here, writes the archive to tobck */
        const char *to =
            json_string_value(json_object_get(json_object_get(value, "tobck"), "name"));
        return authorized(req, AUTH_ACE_GET, name) &&
               authorized(req, AUTH_ACE_PUT, to && to[0] && !name_check_bucket(to) ? to : name);
    }
    if (strcmp(action, "scrub-bck") == 0) /* it reads every object */
        return authorized(req, AUTH_ACE_GET | AUTH_ACE_OBJ_LIST, name);
    if (strcmp(action, "copy-bck") != 0 && strcmp(action, "etl-bck") != 0 &&
        strcmp(action, "copy-listrange") != 0 && strcmp(action, "etl-listrange") != 0)
        return authorized(req, AUTH_ACE_BCK_HEAD, name);
    if (!authorized(req, AUTH_ACE_GET | AUTH_ACE_OBJ_LIST, name))
        return false;
    char *dbck = NULL, *dobj = NULL;
    const char *to = http_query(req, "bck_to");
    bool ok = true;
    if (to == NULL) /* a TCOMsg's own destination */
        dbck = tobck_name(value);
    if ((dbck || (to && uname_parse(to, &dbck, &dobj) == 0)) && dbck[0] &&
        name_check_bucket(dbck) == NULL) {
        ok = authorized(req, AUTH_ACE_PUT, dbck);
        if (ok && !json_is_true(json_object_get(value, "dry_run")) && !bucket_exists(dbck))
            ok = authorized(req, AUTH_ACE_CREATE_BUCKET, NULL);
    }
    free(dbck);
    free(dobj);
    return ok;
}

/* POST /v1/buckets/<b> {"action":"scrub-bck","value":{"prefix":P}} (Locus): every target checks
 * the checksum of each object it holds (whose name starts with P) and reports the corrupt ones
 * as the job's errors; answers the job id. */
static void scrub_bucket(http_req_t *req, const char *name, json_t *value)
{
    json_t *pfx = json_get_ci(value, "prefix");
    if (value && !json_is_null(value) && !json_is_object(value)) {
        http_reply_error(req, 400, "scrub-bck: value must be a JSON object ({\"prefix\": ...})");
    } else if (pfx && !json_is_null(pfx) && !json_is_string(pfx)) {
        http_reply_error(req, 400, "scrub-bck: prefix must be a string");
    } else if (!bucket_exists(name)) {
        http_reply_error(req, 404, "bucket \"ais://%s\" does not exist", name);
    } else {
        json_t *jm =
            json_pack("{s:s}", "prefix", json_is_string(pfx) ? json_string_value(pfx) : "");
        proxy_job_start(req, "scrub-bck", name, NULL, jm);
        json_decref(jm);
    }
}

/* A copy of the bucket's properties (new reference; NULL when it does not exist). */
static json_t *bucket_props(const char *name)
{
    bmd_t *b = bmd_get();
    json_t *p = json_deep_copy(json_object_get(bmd_bucket(b, name), "props"));
    bmd_put(b);
    return p;
}

/* Whether section of the properties changed in a way the objects must follow: it is (or was)
 * enabled and differs. */
static bool section_changed(json_t *before, json_t *after, const char *section)
{
    json_t *x = json_object_get(before, section), *y = json_object_get(after, section);
    bool on =
        json_is_true(json_object_get(x, "enabled")) || json_is_true(json_object_get(y, "enabled"));
    return on && !json_equal(x, y);
}

/* PATCH /v1/buckets/<b> {"action":"set-bprops","value":BpropsToSet} or "reset-bprops": the
 * answer is the id of the job the change started, empty when none (AIStore's). */
static void patch_bucket(http_req_t *req, const char *name, const char *action, json_t *value)
{
    bool set = action && strcmp(action, "set-bprops") == 0;
    if (!set && (action == NULL || strcmp(action, "reset-bprops") != 0)) {
        http_reply_error(req, 400,
                         "invalid action \"%s\" for PATCH bucket (set-bprops, "
                         "reset-bprops)",
                         action ? action : "");
        return;
    }
    if (!cluster_is_primary()) {
        proxy_forward_to_primary(req);
        return;
    }
    char err[512];
    bck_change_t bc = {.name = name, .props = set ? value : NULL, .reset = !set};
    if (set && !json_is_object(value)) {
        http_reply_error(req, 400, "set-bprops: value must be a JSON object (BpropsToSet)");
        return;
    }
    json_t *before = bucket_props(name);
    int rc = cluster_bmd_modify(do_set_props, &bc, err, sizeof(err));
    json_t *after = bucket_props(name);
    bool mirror = rc == 0 && section_changed(before, after, "mirror");
    bool ec = rc == 0 && section_changed(before, after, "ec");
    json_decref(before);
    json_decref(after);
    if (rc)
        http_reply_error(req, (unsigned)rc, "%s", err);
    else if (ec) /* the objects get (or lose) their pieces */
        proxy_job_start(req, "ec-encode", name, NULL, NULL);
    else if (mirror) /* the objects get (or lose) their copies: AIStore's make-n-copies */
        proxy_job_start(req, "make-n-copies", name, NULL, NULL);
    else
        http_reply_text(req, 200, "");
}

/* POST /v1/buckets/<b> {"action":"ec-encode","value":ECConfToSet} (AIStore's): enables erasure
 * coding with the given slices (a BMD change on the primary) and starts the ec-encode job that
 * codes the objects already there; with EC on, a value that changes nothing starts the job
 * alone: it restores full redundancy (after a target was lost). Answers the job id. */
static void ec_encode_bucket(http_req_t *req, const char *name, json_t *value)
{
    if (!cluster_is_primary()) {
        proxy_forward_to_primary(req);
        return;
    }
    if (value && !json_is_null(value) && !json_is_object(value)) {
        http_reply_error(req, 400, "ec-encode: value must be a JSON object (ECConfToSet)");
        return;
    }
    json_t *ec = json_is_object(value) ? json_deep_copy(value) : json_object();
    json_object_set_new(ec, "enabled", json_true());
    json_t *set = json_pack("{s:o}", "ec", ec);
    char err[512];
    bck_change_t bc = {.name = name, .props = set};
    int rc = cluster_bmd_modify(do_set_props, &bc, err, sizeof(err));
    json_decref(set);
    if (rc)
        http_reply_error(req, (unsigned)rc, "ec-encode: %s", err);
    else
        proxy_job_start(req, "ec-encode", name, NULL, NULL);
}

static void buckets_request(http_req_t *req, const char **segs, int nseg)
{
    const char *m = req->method;
    const char *prov = http_query(req, "provider");
    if (prov && prov[0] && strcmp(prov, "ais") != 0) {
        http_reply_error(req, 400, "provider \"%s\" is not supported (only ais)", prov);
        return;
    }
    const char *name = nseg >= 2 ? segs[1] : NULL;
    if (nseg > 2 && strcmp(m, "HEAD") != 0) { /* HEAD /v1/buckets/<b>/<prefix>: bucket info */
        http_reply_error(req, 400, "invalid bucket path \"%s\"", req->path);
        return;
    }
    /* Optional JSON ActMsg. */
    json_t *msg = NULL;
    if (req->body.len || req->body_too_large) {
        msg = http_body_json(req);
        if (msg == NULL)
            return;
        if (!json_is_object(msg)) {
            json_decref(msg);
            http_reply_error(req, 400, "request body must be a JSON object (ActMsg)");
            return;
        }
    }
    const char *action = json_string_value(json_object_get(msg, "action"));
    json_t *value = json_object_get(msg, "value");
    if (!bucket_authorized(req, name, action, value))
        goto out;

    bool summ = action && strcmp(action, "summary-bck") == 0;
    if (name == NULL || name[0] == '\0') {
        if (strcmp(m, "GET") == 0 && summ)
            proxy_bsumm_get(req, NULL, value);
        else if (strcmp(m, "GET") == 0 && (action == NULL || strcmp(action, "list") == 0) &&
                 (value == NULL || json_is_null(value)))
            list_buckets(req);
        else
            http_reply_error(req, 400, "bucket name is missing");
        goto out;
    }
    const char *why = name_check_bucket(name);
    if (why) {
        http_reply_error(req, 400, "bucket name \"%s\" is invalid: %s", name, why);
        goto out;
    }
    if (strcmp(m, "HEAD") == 0) {
        head_bucket(req, name);
    } else if (strcmp(m, "GET") == 0 && summ) {
        if (bucket_exists(name))
            proxy_bsumm_get(req, name, value);
        else
            http_reply_error(req, 404, "bucket \"ais://%s\" does not exist", name);
    } else if (strcmp(m, "GET") == 0) {
        if (action && strcmp(action, "list") != 0) {
            http_reply_error(req, 400, "invalid action \"%s\" for GET bucket", action);
        } else if (!bucket_exists(name)) {
            http_reply_error(req, 404, "bucket \"ais://%s\" does not exist", name);
        } else {
            proxy_list_objects(req, name, value);
        }
    } else if (strcmp(m, "PATCH") == 0) {
        patch_bucket(req, name, action, value);
    } else if ((m[0] == 'P' && m[1] != 'A') && action && strcmp(action, "archive") == 0) {
        proxy_archive(req, name, value); /* PUT as AIStore's api.ArchiveMultiObj, or POST */
    } else if (strcmp(m, "POST") == 0 || strcmp(m, "DELETE") == 0) {
        if (action == NULL) {
            http_reply_error(req, 400, "missing \"action\" in the request body");
        } else if (!cluster_is_primary() &&
                   (strcmp(action, "create-bck") == 0 || strcmp(action, "destroy-bck") == 0 ||
                    strcmp(action, "copy-bck") == 0 || strcmp(action, "etl-bck") == 0 ||
                    strcmp(action, "copy-listrange") == 0 ||
                    strcmp(action, "etl-listrange") == 0)) {
            proxy_forward_to_primary(req);
        } else if (m[0] == 'P' && strcmp(action, "create-bck") == 0) {
            bck_change_t bc = {.name = name, .props = value};
            bmd_change(req, do_create, &bc);
        } else if (m[0] == 'P' &&
                   (strcmp(action, "copy-bck") == 0 || strcmp(action, "etl-bck") == 0 ||
                    strcmp(action, "copy-listrange") == 0 ||
                    strcmp(action, "etl-listrange") == 0)) {
            copy_bucket(req, action, name, value);
        } else if (m[0] == 'P' && strcmp(action, "scrub-bck") == 0) {
            scrub_bucket(req, name, value);
        } else if (m[0] == 'P' && strcmp(action, "ec-encode") == 0) {
            if (bucket_exists(name))
                ec_encode_bucket(req, name, value);
            else
                http_reply_error(req, 404, "bucket \"ais://%s\" does not exist", name);
        } else if (m[0] == 'D' && strcmp(action, "destroy-bck") == 0) {
            bmd_change(req, do_destroy, name);
        } else if (m[0] == 'D' && strcmp(action, "delete-listrange") == 0) {
            char lrerr[256];
            json_t *names = json_get_ci(value, "objnames");
            json_t *tmpl = json_get_ci(value, "template");
            if (!bucket_exists(name)) {
                http_reply_error(req, 404, "bucket \"ais://%s\" does not exist", name);
            } else if (!json_is_array(names) && !json_is_string(tmpl)) {
                http_reply_error(req, 400,
                                 "delete-listrange: value needs \"objnames\" (array) or "
                                 "\"template\" (string)");
            } else if ((why = check_listrange(names, tmpl, lrerr, sizeof(lrerr))) != NULL) {
                http_reply_error(req, 400, "delete-listrange: %s", why);
            } else {
                json_t *jm = json_object();
                if (json_is_array(names))
                    json_object_set(jm, "objnames", names);
                else
                    json_object_set(jm, "template", tmpl);
                proxy_job_start(req, "delete-listrange", name, NULL, jm);
                json_decref(jm);
            }
        } else {
            http_reply_error(req, 400, "invalid action \"%s\" for %s bucket", action, m);
        }
    } else {
        http_reply_error(req, 405, "method %s is not supported for buckets", m);
    }
out:
    json_decref(msg);
}

/* ---------------------------------------------------------------- dispatch */

void proxy_on_headers(http_req_t *req)
{
    if (s3_is_request(req)) {
        s3_on_headers(req); /* the S3 API: its own context (src/s3) */
        return;
    }
    pctx_t *c = xcalloc(1, sizeof(*c));
    req->ctx = c;
    req->ctx_free = pctx_free;
    trust_identify(req, &c->who); /* cheap without a cluster secret: one header */
    char copy[8192];
    const char *segs[3];
    int n = route_split(req->path, copy, sizeof(copy), segs, 3);
    if (n == 2 && strcmp(segs[0], "objects") == 0 && strcmp(req->method, "POST") == 0)
        c->promote = true; /* proxy_promote: the body is read here */
    if (n >= 1 && strcmp(segs[0], "objects") == 0 && !c->promote)
        object_headers(req, c, segs, n);
    else if (auth_enabled() && trust_authenticated(&c->who, c->msg, sizeof(c->msg)))
        req->body_mode = BODY_DISCARD; /* a 401 follows: never buffer a stranger's body */
}

/* What the routes other than objects, buckets (bucket_authorized) and cluster_handle's need:
 * a node's body is the one it signed; ETL management is admin-only, as are aborting a job and
 * relaying to a target (/v1/reverse); a
 * job's status needs SHOW-CLUSTER; a target's ETL failure report comes from a node. */
static bool route_authorized(http_req_t *req, pctx_t *c, const char **segs, int n)
{
    if (!trust_body_ok(&c->who, req->body.base, req->body.len)) {
        http_reply_error(req, 401, "intra-cluster request: the body is not the one signed");
        return false;
    }
    const char *m = req->method;
    char msg[512];
    int rc = 0;
    if (n >= 1 && strcmp(segs[0], "buckets") == 0)
        return true;
    if (n >= 3 && strcmp(segs[0], "etl") == 0 && strcmp(segs[2], "_abort") == 0)
        rc = trust_require_node(&c->who, msg, sizeof(msg));
    else if (n >= 1 && strcmp(segs[0], "etl") == 0)
        rc = trust_require(&c->who, NULL, AUTH_ACE_ADMIN, msg, sizeof(msg));
    else if (n >= 1 && strcmp(segs[0], "reverse") == 0)
        rc = trust_require(&c->who, NULL, AUTH_ACE_ADMIN, msg, sizeof(msg));
    else if (c->promote) /* reads the targets' hosts' files */
        rc = trust_require(&c->who, NULL, AUTH_ACE_ADMIN, msg, sizeof(msg));
    else if (n >= 1 && strcmp(segs[0], "cluster") == 0)
        rc = trust_require(&c->who, NULL,
                           strcmp(m, "GET") == 0 ? AUTH_ACE_SHOW_CLUSTER : AUTH_ACE_ADMIN, msg,
                           sizeof(msg));
    else
        rc = trust_authenticated(&c->who, msg, sizeof(msg));
    if (rc)
        http_reply_error(req, (unsigned)rc, "%s", msg);
    return rc == 0;
}

/* GET /v1/cluster: the last rebalance (what=rmd, from the primary) or a job's status. */
static void cluster_get(http_req_t *req)
{
    const char *what = http_query(req, "what");
    if (what && strcmp(what, "rmd") == 0) {
        if (cluster_is_primary())
            proxy_reb_status(req);
        else
            proxy_forward_to_primary(req);
        return;
    }
    proxy_job_query(req);
}

/* PUT /v1/cluster/proxy/<id> (AIStore's set-primary): the primary hands its role to that proxy
 * (docs/design.md §4.4); another proxy forwards the request to the primary. */
static void set_primary(http_req_t *req, const char *id)
{
    const char *why = name_check_bucket(id);
    if (why) {
        http_reply_error(req, 400, "invalid proxy id \"%s\": %s", id, why);
        return;
    }
    if (!cluster_is_primary()) {
        proxy_forward_to_primary(req);
        return;
    }
    char err[256];
    int st = vote_set_primary(id, err, sizeof(err));
    if (st)
        http_reply_error(req, (unsigned)st, "set-primary: %s", err);
    else
        http_reply(req, 200, NULL, "", 0);
}

/* PUT /v1/cluster: a membership action, a rebalance, or stopping a job. */
static void cluster_put(http_req_t *req)
{
    json_t *msg = http_body_json(req);
    if (msg == NULL)
        return;
    const char *action = json_string_value(json_object_get(msg, "action"));
    if (action && strcmp(action, "start") == 0) /* AIStore's StartXaction */
        proxy_job_start_kind(req, json_object_get(msg, "value"));
    else if (action == NULL || !proxy_cluster_action(req, action, json_object_get(msg, "value")))
        proxy_job_abort(req);
    json_decref(msg);
}

void proxy_on_request(http_req_t *req)
{
    if (s3_owns(req)) {
        s3_on_request(req);
        return;
    }
    pctx_t *c = req->ctx;
    if (stats_handle(req))
        return;
    char copy[8192];
    const char *segs[4];
    int n = route_split(req->path, copy, sizeof(copy), segs, 4);
    if (n < 0) {
        http_reply_error(req, 400, "invalid URL path \"%s\": expecting /v1/...", req->raw_path);
        return;
    }
    if (c->promote) {
        if (!trust_active() || route_authorized(req, c, segs, n))
            proxy_promote(req, segs[1]);
        return;
    }
    if (n >= 1 && strcmp(segs[0], "objects") == 0) {
        if (c->status)
            http_reply_error(req, (unsigned)c->status, "%s", c->msg);
        else
            http_reply_redirect(req, 307, c->location);
        return;
    }
    if (cluster_handle(req, segs, n, &c->who))
        return;
    if (trust_active() && !route_authorized(req, c, segs, n))
        return;
    if (n >= 1 && strcmp(segs[0], "buckets") == 0) {
        buckets_request(req, segs, n);
        return;
    }
    if ((n == 2 || n == 3) && strcmp(segs[0], "ml") == 0 && strcmp(segs[1], "moss") == 0) {
        proxy_moss(req, &c->who, n == 3 ? segs[2] : NULL);
        return;
    }
    if (n >= 1 && strcmp(segs[0], "etl") == 0) {
        proxy_etl_request(req, segs, n);
        return;
    }
    if (n >= 1 && strcmp(segs[0], "reverse") == 0) {
        proxy_reverse(req, segs, n);
        return;
    }
    if (n == 3 && strcmp(segs[0], "cluster") == 0 && strcmp(segs[1], "proxy") == 0 &&
        strcmp(req->method, "PUT") == 0) {
        set_primary(req, segs[2]);
        return;
    }
    if (n == 1 && strcmp(segs[0], "cluster") == 0) {
        if (strcmp(req->method, "GET") == 0)
            cluster_get(req);
        else if (strcmp(req->method, "PUT") == 0)
            cluster_put(req);
        else
            http_reply_error(req, 405, "method %s is not supported for /v1/cluster", req->method);
        return;
    }
    http_reply_error(req, 404, "%s: no such endpoint: %s %s", cluster_self_name(), req->method,
                     req->raw_path);
}

int proxy_init(char *err, size_t errlen)
{
    if (s3_init(cluster_config()->s3_keys_file, err, errlen) < 0)
        return -1;
    proxy_reb_init();
    return 0;
}

void proxy_shutdown(void)
{
    proxy_reb_stop();
}
