/*
 * moss.c - GetBatch on the proxy (GET /v1/ml/moss[/<bck>], AIStore's "moss"): the MossReq is
 * checked (format, names, buckets, the caller's GET permission on each bucket) and the client is
 * redirected (307, as AIStore does) to the target that will assemble the answer (target/moss.c).
 * The redirect carries the body's hash (mbh) under the proxy's signature, so a client cannot
 * swap in entries the proxy did not check. docs/protocol.md §1.13.
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
