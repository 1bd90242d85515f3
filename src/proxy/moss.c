/*
 * moss.c - GetBatch on the proxy (GET /v1/ml/moss[/<bck>], AIStore's "moss"): the MossReq is
 * checked (format, names, buckets, the caller's GET permission on each bucket) and the client is
 * redirected (307, as AIStore does) to the target that will assemble the answer (target/moss.c).
 * The redirect carries the body's hash (mbh) under the proxy's signature, so a client cannot
 * swap in entries the proxy did not check. docs/protocol.md §1.14.
 */
#include "cluster/cluster.h"
#include "cluster/meta.h"
#include "cluster/trust.h"
#include "common/moss.h"
#include "common/names.h"
#include "common/util.h"
#include "proxy/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* 0, or a status with err: every bucket exists and the caller may read it. */
static int moss_check_buckets(const moss_req_t *r, const trust_t *who, char *err, size_t errlen)
{
    bmd_t *b = bmd_get();
    int st = 0;
    for (size_t i = 0; st == 0 && i < r->n; i++) {
        const char *bck = r->in[i].bucket;
        if (i > 0 && strcmp(bck, r->in[i - 1].bucket) == 0)
            continue;
        if (bmd_bucket(b, bck) == NULL) {
            st = 404;
            snprintf(err, errlen, "bucket \"ais://%s\" does not exist", bck);
        } else if (trust_active()) {
            st = trust_require(who, bck, AUTH_ACE_GET, err, errlen);
        }
    }
    bmd_put(b);
    return st;
}

/* The assembling target: with a colocation hint, the owner of the first entry (the batch's
 * objects are said to live together); else any target, at random, to spread the work. */
static char *moss_target_url(const moss_req_t *r)
{
    smap_t *s = smap_get();
    const snode_t *t = NULL;
    if (r->coloc > 0)
        t = smap_owner(s, r->in[0].bucket, r->in[0].objname);
    else if (s->n_targets > 0)
        t = &s->targets[random_u64() % s->n_targets];
    char *url = t ? xstrdup(t->url) : NULL;
    smap_put(s);
    return url;
}

void proxy_moss(http_req_t *req, const trust_t *who, const char *bck)
{
    if (strcmp(req->method, "GET") != 0) {
        http_reply_error(req, 405, "GetBatch: expecting GET, not %s", req->method);
        return;
    }
    const char *why = bck ? name_check_bucket(bck) : NULL;
    if (why) {
        http_reply_error(req, 400, "bucket name \"%s\" is invalid: %s", bck, why);
        return;
    }
    const char *prov = http_query(req, "provider");
    if (prov && prov[0] && strcmp(prov, "ais") != 0) {
        http_reply_error(req, 400, "provider \"%s\" is not supported (only ais)", prov);
        return;
    }
    moss_req_t r;
    char err[1024];
    int st = moss_req_parse(req->body.base, req->body.len, bck, &r, err, sizeof(err)) < 0 ? 400 : 0;
    if (req->body_too_large) {
        st = 413;
        snprintf(err, sizeof(err), "GetBatch: the request body is too large");
    }
    if (st == 0)
        st = moss_check_buckets(&r, who, err, sizeof(err));
    char *url = st ? NULL : moss_target_url(&r);
    if (st == 0 && url == NULL) {
        st = 503;
        snprintf(err, sizeof(err), "no storage targets in the cluster");
    }
    moss_req_dispose(&r);
    if (st) {
        http_reply_error(req, (unsigned)st, "%s", err);
        return;
    }
    char *loc = xasprintf(
        "%s%s?%s%smbh=%016llx", url, req->raw_path, req->raw_query, req->raw_query[0] ? "&" : "",
        (unsigned long long)XXH64(req->body.base ? req->body.base : "", req->body.len, 0));
    char *sfx = trust_redirect_suffix("GET", loc);
    if (sfx) {
        char *l = xasprintf("%s%s", loc, sfx);
        free(loc);
        free(sfx);
        loc = l;
    }
    http_reply_redirect(req, 307, loc);
    free(loc);
    free(url);
}

/* The archive job's message (AIStore's ArchiveBckMsg): NULL when valid, else the reason (in
 * err); *dst: the destination bucket. */
static const char *archive_check(json_t *v, const char *src, const char **dst, char *err,
                                 size_t errlen)
{
    if (!json_is_object(v))
        return "value must be a JSON object (ArchiveBckMsg)";
    const char *an = json_string_value(json_object_get(v, "archname"));
    json_t *mime = json_object_get(v, "mime");
    json_t *tobck = json_object_get(v, "tobck");
    const char *to = json_string_value(json_object_get(tobck, "name"));
    const char *prov = json_string_value(json_object_get(tobck, "provider"));
    *dst = to && to[0] ? to : src;
    if (an == NULL || name_check_object(an, strlen(an)) != NULL) {
        snprintf(err, errlen, "invalid archname \"%s\": %s", an ? an : "",
                 an ? name_check_object(an, strlen(an)) : "missing");
        return err;
    }
    if (mime && !json_is_null(mime) && !json_is_string(mime))
        return "mime must be a string";
    const char *ms = json_string_value(mime);
    if ((ms && ms[0] ? moss_fmt_parse(ms) : moss_fmt_of_name(an)) < 0) {
        snprintf(err, errlen,
                 "unknown archive format of \"%s\"%s%s (expecting .tar, .tgz, .tar.gz, .zip or "
                 ".tar.lz4)",
                 an, ms && ms[0] ? ", mime " : "", ms && ms[0] ? ms : "");
        return err;
    }
    if ((prov && prov[0] && strcmp(prov, "ais") != 0) || name_check_bucket(*dst) != NULL)
        return "tobck must be an ais:// bucket with a valid name";
    json_t *names = json_object_get(v, "objnames");
    json_t *tmpl = json_object_get(v, "template");
    if (!json_is_array(names) && !(json_is_string(tmpl) && strchr(json_string_value(tmpl), '{')))
        return "give \"objnames\" (an array) or a range \"template\" (e.g. \"a-{0..9}\")";
    if (json_is_array(names) && json_array_size(names) == 0)
        return "objnames is empty";
    return check_listrange(names, tmpl, err, errlen);
}

void proxy_archive(http_req_t *req, const char *src, json_t *value)
{
    char err[512];
    const char *dst;
    const char *why = archive_check(value, src, &dst, err, sizeof(err));
    bmd_t *b = bmd_get();
    bool src_ok = bmd_bucket(b, src) != NULL, dst_ok = why || bmd_bucket(b, dst) != NULL;
    bmd_put(b);
    if (why)
        http_reply_error(req, 400, "archive: %s", why);
    else if (!src_ok || !dst_ok)
        http_reply_error(req, 404, "bucket \"ais://%s\" does not exist", src_ok ? dst : src);
    else
        proxy_job_start(req, "archive", src, strcmp(dst, src) ? dst : NULL, value);
}
