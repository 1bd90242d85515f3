/*
 * bsumm.c - bucket summaries (AIStore's summary-bck and GetBucketInfo, docs/protocol.md §1.13).
 * The first request starts a summary-bck job on every target and answers 202 with its id; the
 * next ones (the id as BsummCtrlMsg.uuid, or ?uuid= on a HEAD) answer 202 while no target is
 * done, 206 while some are, and 200 with the sums once all are. Stateless: the targets' jobs are
 * the truth, so any proxy answers.
 */
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "proxy/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The targets' results for one summary job. */
typedef struct {
    size_t known, ended;
    char err[512];
    json_t *buckets; /* name -> {"objs","bytes","min","max","disk"} summed */
    int64_t disks_total;
} bsumm_agg_t;

static void add_bucket(json_t *to, json_t *from)
{
    int64_t objs = json_int64(json_object_get(from, "objs"));
    int64_t had = json_int64(json_object_get(to, "objs"));
    static const char *const sums[] = {"objs", "bytes", "disk"};
    for (size_t i = 0; i < 3; i++)
        json_object_set_new(to, sums[i],
                            json_integer(json_int64(json_object_get(to, sums[i])) +
                                         json_int64(json_object_get(from, sums[i]))));
    if (objs == 0)
        return;
    int64_t mn = json_int64(json_object_get(from, "min")),
            mx = json_int64(json_object_get(from, "max"));
    if (had == 0 || mn < json_int64(json_object_get(to, "min")))
        json_object_set_new(to, "min", json_integer(mn));
    if (mx > json_int64(json_object_get(to, "max")))
        json_object_set_new(to, "max", json_integer(mx));
}

static int merge_snap(proxy_bcast_t *b, const snode_t *t, json_t *snap)
{
    (void)t;
    bsumm_agg_t *a = b->arg;
    const char *kind = json_string_value(json_object_get(snap, "kind"));
    if (kind == NULL || strcmp(kind, "summary-bck") != 0)
        return 0;
    a->known++;
    const char *e = json_string_value(json_object_get(snap, "err"));
    if (e && e[0] && a->err[0] == '\0')
        snprintf(a->err, sizeof(a->err), "%s", e);
    if (json_integer_value(json_object_get(snap, "end_ns")) == 0)
        return 0;
    a->ended++;
    json_t *ext = json_object_get(snap, "ext");
    a->disks_total += json_int64(json_object_get(ext, "disks_total"));
    const char *name;
    json_t *v;
    json_object_foreach(json_object_get(ext, "buckets"), name, v)
    {
        json_t *to = json_object_get(a->buckets, name);
        if (to == NULL)
            json_object_set_new(a->buckets, name, to = json_object());
        add_bucket(to, v);
    }
    return 0;
}

static json_t *num_str(int64_t v)
{
    char s[32];
    snprintf(s, sizeof(s), "%lld", (long long)v);
    return json_string(s);
}

/* AIStore's cmn.BsummResult of one bucket. */
static json_t *bsumm_result(const char *name, json_t *r, int64_t disks_total)
{
    int64_t objs = json_int64(json_object_get(r, "objs"));
    int64_t bytes = json_int64(json_object_get(r, "bytes"));
    int64_t disk = json_int64(json_object_get(r, "disk"));
    return json_pack(
        "{s:s, s:s, s:{s:s, s:s}, s:{s:o, s:s}, s:{s:I, s:I, s:I}, s:{s:o, s:o, s:s, s:o}, "
        "s:I, s:b}",
        "name", name, "provider", "ais", "namespace", "uuid", "", "name", "", "ObjCount",
        "obj_count_present", num_str(objs), "obj_count_remote", "0", "ObjSize", "obj_min_size",
        (json_int_t)json_int64(json_object_get(r, "min")), "obj_avg_size",
        (json_int_t)(objs ? bytes / objs : 0), "obj_max_size",
        (json_int_t)json_int64(json_object_get(r, "max")), "TotalSize", "size_on_disk",
        num_str(disk), "size_all_present_objs", num_str(bytes), "size_all_remote_objs", "0",
        "total_disks_size", num_str(disks_total), "used_pct",
        (json_int_t)(disks_total > 0 ? disk * 100 / disks_total : 0), "is_present", 1);
}

/* Collects job id's results. The HTTP status to answer: 200 (all done), 206 (some), 202
 * (none yet), 404 (no target knows it), or 500 (it failed: a->err). */
static int collect(const char *id, bsumm_agg_t *a)
{
    char *enc = url_encode(id, "");
    char *q = xasprintf("/v1/xactions?id=%s", enc);
    free(enc);
    a->buckets = json_object();
    proxy_bcast_t b = {
        .method = "GET", .path = q, .timeout_ms = 10000, .merge = merge_snap, .arg = a};
    proxy_bcast(&b);
    free(q);
    if (a->known == 0)
        return 404;
    if (a->err[0])
        return 500;
    return a->ended == a->known ? 200 : a->ended ? 206 : 202;
}

/* Starts the job: 0 with its id, or answered. */
static int start(http_req_t *req, const char *bck, const char *prefix, char *id, size_t idlen)
{
    char err[512];
    json_t *msg = json_pack("{s:s}", "prefix", prefix);
    int st =
        proxy_job_launch("summary-bck", bck ? bck : "", NULL, msg, id, idlen, err, sizeof(err));
    json_decref(msg);
    if (st)
        http_reply_error(req, (unsigned)st, "summary-bck: %s", err);
    return st;
}

void proxy_bsumm_get(http_req_t *req, const char *bck, json_t *value)
{
    if (value && !json_is_null(value) && !json_is_object(value)) {
        http_reply_error(req, 400, "summary-bck: value must be a JSON object (BsummCtrlMsg)");
        return;
    }
    json_t *u = json_get_ci(value, "uuid"), *p = json_get_ci(value, "prefix");
    if ((u && !json_is_null(u) && !json_is_string(u)) ||
        (p && !json_is_null(p) && !json_is_string(p))) {
        http_reply_error(req, 400, "summary-bck: uuid and prefix must be strings");
        return;
    }
    const char *uuid = json_is_string(u) ? json_string_value(u) : "";
    if (uuid[0] == '\0') {
        char id[16];
        if (start(req, bck, json_is_string(p) ? json_string_value(p) : "", id, sizeof(id)) == 0)
            http_reply(req, 202, "text/plain", id, strlen(id));
        return;
    }
    bsumm_agg_t a = {0};
    int st = collect(uuid, &a);
    if (st == 404) {
        http_reply_error(req, 404, "summary job \"%s\" not found", uuid);
    } else if (st == 500) {
        http_reply_error(req, 500, "summary job %s failed: %s", uuid, a.err);
    } else {
        json_t *all = json_array(); /* AllBsummResults, sorted by bucket */
        void *it = json_object_iter(a.buckets);
        const char **names = xcalloc(json_object_size(a.buckets) + 1, sizeof(char *));
        size_t n = 0;
        for (; it; it = json_object_iter_next(a.buckets, it))
            names[n++] = json_object_iter_key(it);
        for (size_t i = 1; i < n; i++) /* few buckets: insertion sort */
            for (size_t k = i; k > 0 && strcmp(names[k - 1], names[k]) > 0; k--) {
                const char *t = names[k];
                names[k] = names[k - 1];
                names[k - 1] = t;
            }
        for (size_t i = 0; i < n; i++)
            json_array_append_new(
                all, bsumm_result(names[i], json_object_get(a.buckets, names[i]), a.disks_total));
        free(names);
        char *text = json_dumps(all, JSON_COMPACT);
        http_reply(req, (unsigned)st, "application/json", text, strlen(text));
        free(text);
        json_decref(all);
    }
    json_decref(a.buckets);
}

void proxy_bsumm_head(http_req_t *req, const char *bck, const char *prefix, const char *props)
{
    const char *uuid = http_query(req, "uuid");
    char id[16];
    int st = 202;
    bsumm_agg_t a = {0};
    if (uuid == NULL || uuid[0] == '\0') {
        if (start(req, bck, prefix, id, sizeof(id)) != 0)
            return;
    } else {
        snprintf(id, sizeof(id), "%.15s", uuid);
        st = collect(uuid, &a);
        if (st == 404 || st == 500) {
            http_reply_error(req, (unsigned)st, "summary job \"%s\" %s%s", uuid,
                             st == 404 ? "not found" : "failed: ", st == 404 ? "" : a.err);
            json_decref(a.buckets);
            return;
        }
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Ais-Bucket-Props", props);
    MHD_add_response_header(r, "Ais-Xaction-Id", id);
    if (st == 200 || st == 206) {
        json_t *none = json_object(); /* no target had anything to count */
        json_t *one = json_object_get(a.buckets, bck);
        json_t *res = bsumm_result(bck, one ? one : none, a.disks_total);
        json_decref(none);
        char *text = json_dumps(res, JSON_COMPACT);
        MHD_add_response_header(r, "Ais-Bucket-Summ", text);
        free(text);
        json_decref(res);
    }
    json_decref(a.buckets);
    http_send(req, (unsigned)st, r);
}
