/*
 * vote.c - primary proxy failover: the HRW candidate, the vote, the takeover, the handover and
 * map discovery. See vote.h and docs/design.md §4.4.
 */
#include "cluster/vote.h"
#include "cluster/cluster.h"
#include "cluster/internal.h"
#include "cluster/metasync.h"
#include "common/log.h"
#include "common/names.h"
#include "common/util.h"
#include "net/fanout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define VOTE_MSG_MAX (1 << 20) /* bytes of a VoteMessage: a map of thousands of nodes */
#define PROBE_TIMEOUT_MS 1000
#define VOTE_TIMEOUT_MS 3000

/* ---------------------------------------------------------------- the candidate */

static bool electable(const snode_t *n)
{
    return (n->flags & (SNODE_MAINT | SNODE_DECOMM)) == 0;
}

size_t vote_rank(const smap_t *s, const char *skip_id, size_t *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n_proxies && n < max; i++) {
        const snode_t *p = &s->proxies[i];
        if ((skip_id && strcmp(p->id, skip_id) == 0) || !electable(p))
            continue;
        /* insertion by digest, highest first; equal digests keep the id order */
        size_t k = n;
        while (k > 0 && s->proxies[out[k - 1]].digest < p->digest) {
            out[k] = out[k - 1];
            k--;
        }
        out[k] = i;
        n++;
    }
    return n;
}

const snode_t *vote_next_primary(const smap_t *s, const char *skip_id)
{
    size_t idx[s->n_proxies + 1];
    size_t n = vote_rank(s, skip_id, idx, s->n_proxies);
    return n ? &s->proxies[idx[0]] : NULL;
}

bool vote_node_answers(const char *url)
{
    char *u = xasprintf("%s/v1/health", url);
    httpc_resp_t r;
    httpc_resp_init(&r);
    int rc = httpc_do("GET", u, NULL, 0, NULL, PROBE_TIMEOUT_MS, &r);
    httpc_resp_dispose(&r);
    free(u);
    return rc == 0;
}

/* The proxy of s that should run the election when skip_id is down: the first of the HRW order
 * that answers (self always does). NULL when none. Probes the proxies ranked above self. */
static const snode_t *live_candidate(const smap_t *s, const char *skip_id)
{
    size_t idx[s->n_proxies + 1];
    size_t n = vote_rank(s, skip_id, idx, s->n_proxies);
    for (size_t i = 0; i < n; i++) {
        const snode_t *p = &s->proxies[idx[i]];
        if (strcmp(p->id, cluster_self_id()) == 0 || vote_node_answers(p->url))
            return p;
        LOCUS_LOG(LOG_WARNING, "[vote] %s: next in line %s does not answer: passing over",
                  cluster_self_name(), p->id);
    }
    return NULL;
}

/* ---------------------------------------------------------------- the message */

static const char *check_id(const char *id)
{
    if (id == NULL)
        return "missing";
    return name_check_bucket(id); /* the daemon id alphabet (cluster.c) */
}

static bool url_ok(const char *u)
{
    size_t n = strlen(u);
    if (n < 8 || n > 512 || (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0))
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)u[i] <= ' ' || u[i] == 0x7f)
            return false;
    return true;
}

/* Every node of s has a valid id and URL; NULL or a reason in err. */
static const char *check_smap(const smap_t *s, char *err, size_t errlen)
{
    if (s->version <= 0 || s->uuid[0] == '\0' || strlen(s->uuid) > 64)
        return "the map needs a positive version and a uuid";
    for (size_t i = 0; i < s->n_proxies + s->n_targets; i++) {
        const snode_t *n = i < s->n_proxies ? &s->proxies[i] : &s->targets[i - s->n_proxies];
        const char *why = check_id(n->id);
        if (why || !url_ok(n->url)) {
            snprintf(err, errlen, "node %.64s of the map: %s", n->id,
                     why ? why : "its URL is not http(s)://host:port");
            return err;
        }
    }
    return NULL;
}

static const char *record_check(json_t *rec, vote_record_t *out, char *err, size_t errlen)
{
    static const char *const keys[] = {"candidate", "primary", "initiator"};
    char *dst[] = {out->candidate, out->primary, out->initiator};
    for (size_t i = 0; i < 3; i++) {
        const char *v = json_string_value(json_object_get(rec, keys[i]));
        const char *why = check_id(v);
        if (why) {
            snprintf(err, errlen, "%s: %s", keys[i], why);
            return err;
        }
        snprintf(dst[i], sizeof(out->candidate), "%s", v);
    }
    json_t *st = json_object_get(rec, "start_time");
    if (st && !json_is_null(st) && !(json_is_string(st) && json_string_length(st) <= 64) &&
        !json_is_number(st))
        return "start_time must be a time string";
    out->start_time = json_is_number(st) ? json_int64(st) : 0;
    json_t *sj = json_object_get(rec, "smap");
    out->smap = json_is_object(sj) ? smap_from_json(sj) : NULL;
    if (out->smap == NULL)
        return "smap: missing or not a cluster map";
    const char *why = check_smap(out->smap, err, errlen);
    if (why)
        return why;
    const snode_t *c = smap_find(out->smap, out->candidate);
    const snode_t *p = smap_find(out->smap, out->primary);
    if (c == NULL || !c->is_proxy)
        return "the candidate is not a proxy of the map";
    if (p == NULL || !p->is_proxy || strcmp(out->smap->primary_id, out->primary) != 0)
        return "the primary is not the map's primary proxy";
    if (strcmp(out->candidate, out->primary) == 0)
        return "the candidate is the primary";
    return NULL;
}

int vote_msg_parse(const char *body, size_t len, vote_record_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (body == NULL || len == 0 || len > VOTE_MSG_MAX) {
        snprintf(err, errlen, "vote message: empty or larger than %d bytes", VOTE_MSG_MAX);
        return -1;
    }
    /* id_digest is a uint64 that jansson cannot hold as an integer. */
    json_t *j = json_loadb(body, len, JSON_DECODE_INT_AS_REAL | JSON_REJECT_DUPLICATES, NULL);
    json_t *rec = json_object_get(j, "vote_record");
    char why_buf[256];
    const char *why = json_is_object(rec) ? record_check(rec, out, why_buf, sizeof(why_buf))
                                          : "not a JSON object {\"vote_record\": {...}}";
    json_decref(j);
    if (why) {
        snprintf(err, errlen, "vote message: %s", why);
        vote_record_dispose(out);
        return -1;
    }
    return 0;
}

char *vote_msg_text(const vote_record_t *r)
{
    char *st = smap_to_text(r->smap);
    json_t *sj = json_loads(st, JSON_DECODE_INT_AS_REAL, NULL);
    free(st);
    char when[64];
    time_t sec = (time_t)(r->start_time / 1000000000LL);
    struct tm tm;
    gmtime_r(&sec, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *j = json_pack("{s:{s:s, s:s, s:o, s:s, s:s}}", "vote_record", "candidate", r->candidate,
                          "primary", r->primary, "smap", sj ? sj : json_null(), "start_time", when,
                          "initiator", r->initiator);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return text;
}

void vote_record_dispose(vote_record_t *r)
{
    if (r->smap)
        smap_put(r->smap);
    r->smap = NULL;
}

/* ---------------------------------------------------------------- the voter */

/* The voter's answer to record r given its own map cur: NULL for YES, or why NO. */
static const char *vote_on(const smap_t *cur, const vote_record_t *r)
{
    const smap_t *rs = r->smap;
    if (strcmp(rs->uuid, cur->uuid) != 0)
        return "the record's map is another cluster's";
    if (strcmp(cur->primary_id, cluster_self_id()) == 0)
        return "I am the primary, and alive";
    if (rs->version < cur->version)
        return "my map is newer than the record's";
    if (rs->version == cur->version && strcmp(cur->primary_id, r->primary) != 0)
        return "my map names another primary";
    const snode_t *p = smap_find(rs, r->primary);
    if (vote_node_answers(p->url))
        return "the primary answers me";
    const snode_t *next = live_candidate(rs, r->primary);
    if (next == NULL || strcmp(next->id, r->candidate) != 0)
        return "my HRW order gives another candidate";
    return NULL;
}

void vote_handle(http_req_t *req)
{
    vote_record_t r;
    char err[320];
    if (vote_msg_parse(req->body.base, req->body.len, &r, err, sizeof(err)) < 0) {
        http_reply_error(req, 400, "%s", err);
        return;
    }
    smap_t *cur = smap_get();
    const char *no = cur->version > 0 ? vote_on(cur, &r) : "I have not joined the cluster";
    smap_put(cur);
    LOCUS_LOG(LOG_NOTICE,
              "[vote] %s: vote %s for candidate %s (primary %s, map v%lld, from %s)%s%s",
              cluster_self_name(), no ? VOTE_NO : VOTE_YES, r.candidate, r.primary,
              (long long)r.smap->version, r.initiator, no ? ": " : "", no ? no : "");
    http_reply_text(req, 200, no ? VOTE_NO : VOTE_YES);
    vote_record_dispose(&r);
}

/* ---------------------------------------------------------------- newest documents */

typedef struct {
    smap_t *smap;        /* newest map seen (one reference) or NULL */
    mdoc_t *bmd;         /* newest BMD seen or NULL */
    int64_t etl_version; /* highest EtlMD version seen */
} newest_t;

static void newest_dispose(newest_t *nw)
{
    if (nw->smap)
        smap_put(nw->smap);
    if (nw->bmd)
        md_put(nw->bmd);
}

/* The answer of one GET /v1/daemon?what=... into nw (uuid: the cluster's, "" for any). */
static void take_answer(fanout_req_t *q, const char *uuid, newest_t *nw)
{
    if (q->rc < 0 || q->resp.status != 200 || q->resp.body.base == NULL)
        return;
    json_t *j = json_loadb(q->resp.body.base, q->resp.body.len, JSON_DECODE_INT_AS_REAL, NULL);
    const char *what = q->arg;
    const char *u = json_string_value(json_object_get(j, "uuid"));
    if (j == NULL || u == NULL || (uuid[0] && strcmp(u, uuid) != 0)) {
        json_decref(j);
        return;
    }
    if (strcmp(what, "smap") == 0) {
        smap_t *s = smap_from_json(j);
        char err[128];
        if (s && check_smap(s, err, sizeof(err)) == NULL &&
            (nw->smap == NULL || s->version > nw->smap->version)) {
            if (nw->smap)
                smap_put(nw->smap);
            nw->smap = s;
        } else if (s) {
            smap_put(s);
        }
    } else if (strcmp(what, "bmd") == 0) {
        mdoc_t *d = md_from_json(MD_BMD, j);
        if (d && (nw->bmd == NULL || d->version > nw->bmd->version)) {
            if (nw->bmd)
                md_put(nw->bmd);
            nw->bmd = d;
        } else if (d) {
            md_put(d);
        }
    } else {
        int64_t v = json_int64(json_object_get(j, "version"));
        nw->etl_version = v > nw->etl_version ? v : nw->etl_version;
    }
    json_decref(j);
}

/* Asks every node of s but self and skip_id (and extra_url, when set) for its map, and with docs
 * for its BMD and EtlMD too; the newest of this cluster's (uuid; "" any) into nw. */
static void fetch_newest(const smap_t *s, const char *skip_id, const char *extra_url, bool docs,
                         const char *uuid, newest_t *nw)
{
    static const char *const whats[] = {"smap", "bmd", "etlmd"};
    size_t nw_what = docs ? 3 : 1, n = s->n_proxies + s->n_targets;
    fanout_req_t *rq = xcalloc((n + 1) * nw_what, sizeof(fanout_req_t));
    size_t k = 0;
    for (size_t i = 0; i <= n; i++) {
        const char *url = extra_url;
        if (i < n) {
            const snode_t *nd = i < s->n_proxies ? &s->proxies[i] : &s->targets[i - s->n_proxies];
            if (strcmp(nd->id, cluster_self_id()) == 0 || (skip_id && strcmp(nd->id, skip_id) == 0))
                continue;
            url = nd->url;
        }
        for (size_t w = 0; url && w < nw_what; w++) {
            rq[k].method = "GET";
            rq[k].url = xasprintf("%s/v1/daemon?what=%s", url, whats[w]);
            rq[k].arg = (void *)whats[w];
            k++;
        }
    }
    fanout_run(rq, k, &(fanout_opts_t){.timeout_ms = PROBE_TIMEOUT_MS, .attempts = 1});
    for (size_t i = 0; i < k; i++)
        take_answer(&rq[i], uuid, nw);
    fanout_free(rq, k);
}

bool vote_discover(bool skip_primary)
{
    smap_t *cur = smap_get();
    const char *boot = skip_primary ? NULL : cluster_config()->primary_url;
    newest_t nw = {0};
    fetch_newest(cur, skip_primary ? cur->primary_id : NULL, boot, false,
                 cur->version > 0 ? cur->uuid : "", &nw);
    bool installed = false;
    if (nw.smap && nw.smap->version > cur->version) {
        LOCUS_LOG(LOG_NOTICE, "[vote] %s: the cluster has map v%lld (mine: v%lld), primary %s",
                  cluster_self_name(), (long long)nw.smap->version, (long long)cur->version,
                  nw.smap->primary_id);
        json_t *j = json_object();
        char *t = smap_to_text(nw.smap);
        json_object_set_new(j, "smap", json_loads(t, JSON_DECODE_INT_AS_REAL, NULL));
        free(t);
        metasync_apply(j); /* newer, or any when this node never joined */
        json_decref(j);
        installed = true;
    }
    smap_put(cur);
    newest_dispose(&nw);
    return installed;
}

/* ---------------------------------------------------------------- becoming primary */

/* A copy of s without node id (a proxy), naming self primary, at version v. */
static smap_t *smap_as_primary(const smap_t *s, const char *drop_id, int64_t v)
{
    smap_t *n = smap_clone(s);
    for (size_t i = 0; drop_id && i < n->n_proxies; i++) {
        if (strcmp(n->proxies[i].id, drop_id) == 0) {
            snode_dispose(&n->proxies[i]);
            memmove(&n->proxies[i], &n->proxies[i + 1], (n->n_proxies - i - 1) * sizeof(snode_t));
            n->n_proxies--;
            break;
        }
    }
    free(n->primary_id);
    n->primary_id = xstrdup(cluster_self_id());
    n->version = v;
    return n;
}

/* Installs d's items (or the current ones when d is NULL) as version above max(cur, seen). */
static void bump_md(md_kind_t kind, const mdoc_t *newest, int64_t seen)
{
    mdoc_t *cur = md_get(kind);
    const mdoc_t *from = newest && newest->version > cur->version ? newest : cur;
    int64_t v = from->version > seen ? from->version : seen;
    mdoc_t *d = md_new(kind, cur->uuid);
    json_decref(d->items);
    d->items = json_deep_copy(from->items);
    d->version = v + 1;
    md_put(cur);
    meta_install_md(d);
}

/* The winner's takeover: the map without the old primary and naming self, BMD and EtlMD above
 * every version a live node holds (the newest BMD's buckets: a change the old primary pushed
 * to some nodes only is kept), pushed to every node. false when the map changed meanwhile or a
 * live node holds a newer one. */
static bool take_over(const vote_record_t *r)
{
    newest_t nw = {0};
    fetch_newest(r->smap, r->primary, NULL, true, r->smap->uuid, &nw);
    meta_write_lock();
    smap_t *cur = smap_get();
    bool ok = cur->version == r->smap->version && strcmp(cur->primary_id, r->primary) == 0;
    if (ok && nw.smap && nw.smap->version > cur->version) {
        LOCUS_LOG(LOG_WARNING, "[vote] %s: a live node has map v%lld (mine v%lld): not taking over",
                  cluster_self_name(), (long long)nw.smap->version, (long long)cur->version);
        ok = false; /* the next round discovers it first */
    }
    if (ok) {
        meta_install_smap(smap_as_primary(cur, r->primary, cur->version + 1));
        bump_md(MD_BMD, nw.bmd, nw.bmd ? nw.bmd->version : 0);
        bump_md(MD_ETL, NULL, nw.etl_version);
        metasync_all();
        smap_t *s = smap_get();
        mdoc_t *b = md_get(MD_BMD), *e = md_get(MD_ETL);
        LOCUS_LOG(LOG_NOTICE,
                  "[vote] %s: I am the primary now (old primary %s): smap v%lld, bmd v%lld, etlmd "
                  "v%lld pushed to every node",
                  cluster_self_name(), r->primary, (long long)s->version, (long long)b->version,
                  (long long)e->version);
        md_put(b);
        md_put(e);
        smap_put(s);
    }
    smap_put(cur);
    meta_write_unlock();
    newest_dispose(&nw);
    return ok;
}

/* Asks the other proxies of r's map (not the primary) for their votes; true on a majority of
 * those that answered, counting self. */
static bool run_vote(const vote_record_t *r)
{
    char *body = vote_msg_text(r);
    const smap_t *s = r->smap;
    fanout_req_t *rq = xcalloc(s->n_proxies + 1, sizeof(fanout_req_t));
    size_t k = 0;
    for (size_t i = 0; i < s->n_proxies; i++) {
        const snode_t *p = &s->proxies[i];
        if (strcmp(p->id, r->primary) == 0 || strcmp(p->id, cluster_self_id()) == 0)
            continue;
        rq[k].method = "GET";
        rq[k].url = xasprintf("%s/v1/vote/proxy", p->url);
        rq[k].body = body;
        rq[k].body_len = strlen(body);
        rq[k].content_type = "application/json";
        rq[k].arg = p->id;
        k++;
    }
    fanout_run(rq, k, &(fanout_opts_t){.timeout_ms = VOTE_TIMEOUT_MS, .attempts = 1});
    int yes = 1, answered = 1; /* self */
    for (size_t i = 0; i < k; i++) {
        const char *who = rq[i].arg;
        if (rq[i].rc < 0 || rq[i].resp.status != 200) {
            LOCUS_LOG(LOG_WARNING, "[vote] %s: no vote from %s: %s", cluster_self_name(), who,
                      rq[i].rc < 0 ? rq[i].resp.err : "refused");
            continue;
        }
        answered++;
        bool y = rq[i].resp.body.base && strncmp(rq[i].resp.body.base, VOTE_YES, 3) == 0;
        yes += y;
        LOCUS_LOG(LOG_NOTICE, "[vote] %s: %s votes %s", cluster_self_name(), who,
                  y ? VOTE_YES : VOTE_NO);
    }
    fanout_free(rq, k);
    free(body);
    bool won = 2 * yes > answered;
    LOCUS_LOG(LOG_NOTICE, "[vote] %s: %d of %d live proxies for me: %s", cluster_self_name(), yes,
              answered, won ? "elected" : "not elected");
    return won;
}

bool vote_maybe_elect(void)
{
    smap_t *s = smap_get();
    const snode_t *prim = s->version > 0 ? smap_find(s, s->primary_id) : NULL;
    bool member = smap_find(s, cluster_self_id()) != NULL;
    const snode_t *cand = prim && member ? live_candidate(s, prim->id) : NULL;
    if (cand == NULL || strcmp(cand->id, cluster_self_id()) != 0) {
        if (cand)
            LOCUS_LOG(LOG_VERBOSE, "[vote] %s: waiting for candidate %s", cluster_self_name(),
                      cand->id);
        smap_put(s);
        return false;
    }
    if (vote_node_answers(prim->url)) {
        smap_put(s);
        return false;
    }
    vote_record_t r = {.smap = s, .start_time = time_now_ns()};
    snprintf(r.candidate, sizeof(r.candidate), "%s", cluster_self_id());
    snprintf(r.primary, sizeof(r.primary), "%s", prim->id);
    snprintf(r.initiator, sizeof(r.initiator), "%s", cluster_self_id());
    LOCUS_LOG(LOG_NOTICE,
              "[vote] %s: primary %s is down (smap v%lld): I am next by HRW; asking %zu proxies "
              "to vote",
              cluster_self_name(), prim->id, (long long)s->version, s->n_proxies - 2);
    bool won = run_vote(&r) && take_over(&r);
    vote_record_dispose(&r);
    return won;
}

/* ---------------------------------------------------------------- handover */

int vote_set_primary(const char *id, char *err, size_t errlen)
{
    meta_write_lock();
    smap_t *cur = smap_get();
    const snode_t *n = smap_find(cur, id);
    int st = 0;
    if (strcmp(cur->primary_id, cluster_self_id()) != 0) {
        st = 503;
        snprintf(err, errlen, "%s is not the primary proxy", cluster_self_name());
    } else if (n == NULL || !n->is_proxy) {
        st = 404;
        snprintf(err, errlen, "proxy \"%s\" is not in the cluster map", id);
    } else if (strcmp(id, cluster_self_id()) == 0) {
        st = 0; /* already */
    } else if (!electable(n)) {
        st = 400;
        snprintf(err, errlen, "proxy %s is in maintenance or being decommissioned", id);
    } else if (!vote_node_answers(n->url)) {
        st = 503;
        snprintf(err, errlen, "proxy %s does not answer", id);
    } else {
        smap_t *s = smap_clone(cur);
        free(s->primary_id);
        s->primary_id = xstrdup(id);
        s->version++;
        meta_install_smap(s);
        LOCUS_LOG(LOG_NOTICE, "[vote] %s: handing the primary role to %s (smap v%lld)",
                  cluster_self_name(), id, (long long)s->version);
        metasync_all();
    }
    smap_put(cur);
    meta_write_unlock();
    return st;
}
