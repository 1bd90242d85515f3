/*
 * job.c - buckets and bucket-to-bucket jobs for the benchmarks: create, destroy and wait for the
 * targets to drop a destroyed bucket; jobs: start (copy-bck or etl-bck), wait, and the
 * job's own duration from every target's snapshot (earliest start-time to latest end-time).
 */
#include "bench.h"

#include <ctype.h>
#include <glob.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

int bench_job_start(const char *endpoint, const char *src, const char *dst, json_t *value,
                    char **id, char *err, size_t errlen)
{
    *id = NULL;
    char *to = xasprintf("ais/@#/%s/", dst);
    char *enc = url_encode(to, NULL);
    char *url = xasprintf("%s/v1/buckets/%s?provider=ais&bck_to=%s", endpoint, src, enc);
    bool etl = json_object_get(value, "id") != NULL;
    json_t *m = json_pack("{s:s, s:s, s:o}", "action", etl ? "etl-bck" : "copy-bck", "name", "",
                          "value", value);
    char *body = json_dumps(m, JSON_COMPACT);
    json_decref(m);
    buf_t resp;
    buf_init(&resp);
    long st = bench_http("POST", url, body, &resp, err, errlen);
    int rc = -1;
    if (st == 200) {
        buf_append(&resp, "", 1);
        char *s = resp.base;
        while (*s == '"' || isspace((unsigned char)*s))
            s++;
        size_t n = strlen(s);
        while (n > 0 && (s[n - 1] == '"' || isspace((unsigned char)s[n - 1])))
            n--;
        if (n > 0) {
            *id = xstrndup(s, n);
            rc = 0;
        } else {
            snprintf(err, errlen, "POST %s: no job id in the reply", url);
        }
    } else if (st >= 0) {
        snprintf(err, errlen, "POST %s: HTTP %ld: %.300s", url, st,
                 resp.base != NULL ? resp.base : "");
    }
    buf_dispose(&resp);
    free(body);
    free(url);
    free(enc);
    free(to);
    return rc;
}

/* Waits for the job to end (status end_time != 0). 0, or -1 with err filled. */
int bench_job_wait(locus_client_t *cl, const char *id, int timeout_s, char *err, size_t errlen)
{
    int64_t deadline = time_mono_ns() + (int64_t)timeout_s * 1000000000LL;
    for (;;) {
        locus_job_status_t st;
        char e[LOCUS_ERR_LEN] = "";
        int rc = locus_job_status(cl, id, &st, e);
        if (rc != 0) {
            snprintf(err, errlen, "job %s status: %s", id, e);
            locus_job_status_dispose(&st);
            return -1;
        }
        bool ended = st.end_time != 0 || st.aborted;
        bool failed = ended && (st.aborted || (st.err != NULL && st.err[0] != '\0'));
        if (failed)
            snprintf(err, errlen, "job %s %s: %s", id, st.aborted ? "aborted" : "failed",
                     st.err != NULL ? st.err : "");
        locus_job_status_dispose(&st);
        if (ended)
            return failed ? -1 : 0;
        if (bench_stop) {
            snprintf(err, errlen, "interrupted");
            return -1;
        }
        if (time_mono_ns() > deadline) {
            snprintf(err, errlen, "job %s still running after %d s", id, timeout_s);
            return -1;
        }
        sleep_ms(25);
    }
}

/* The job's own duration and counters from every target's snapshot. Polls briefly until every
 * snapshot has ended. 0, or -1 with err filled. */
int bench_job_timing(locus_client_t *cl, const char *id, size_t ntargets, bench_job_time_t *t,
                     char *err, size_t errlen)
{
    for (int attempt = 0; attempt < 100; attempt++) {
        char *text = NULL;
        char e[LOCUS_ERR_LEN] = "";
        if (locus_job_snaps(cl, id, &text, e) != 0) {
            snprintf(err, errlen, "job %s qryxstats: %s", id, e);
            return -1;
        }
        json_error_t jerr;
        json_t *root = json_loads(text, 0, &jerr);
        free(text);
        if (!json_is_object(root)) {
            json_decref(root);
            snprintf(err, errlen, "job %s qryxstats: not a JSON object", id);
            return -1;
        }
        int64_t start = 0, end = 0, objs = 0, bytes = 0;
        int nsnaps = 0, nended = 0;
        const char *tid;
        json_t *list;
        json_object_foreach(root, tid, list)
        {
            size_t i;
            json_t *s;
            json_array_foreach(list, i, s)
            {
                const char *sid = json_string_value(json_object_get(s, "id"));
                if (sid == NULL || strcmp(sid, id) != 0)
                    continue;
                nsnaps++;
                int64_t st = bench_rfc3339_ns(json_string_value(json_object_get(s, "start-time")));
                int64_t et = bench_rfc3339_ns(json_string_value(json_object_get(s, "end-time")));
                if (st != 0 && (start == 0 || st < start))
                    start = st;
                if (et != 0) {
                    nended++;
                    if (et > end)
                        end = et;
                }
                json_t *stats = json_object_get(s, "stats");
                objs += json_int64(json_object_get(stats, "loc-objs")) +
                        json_int64(json_object_get(stats, "out-objs"));
                bytes += json_int64(json_object_get(stats, "loc-bytes")) +
                         json_int64(json_object_get(stats, "out-bytes"));
            }
        }
        json_decref(root);
        if (nsnaps > 0 && nended == nsnaps && start != 0 && end >= start) {
            t->secs = (double)(end - start) / 1e9;
            t->objs = objs;
            t->bytes = bytes;
            return 0;
        }
        if (ntargets && nsnaps < (int)ntargets && attempt == 99) {
            snprintf(err, errlen, "job %s: %d snapshots for %zu targets", id, nsnaps, ntargets);
            return -1;
        }
        sleep_ms(20);
    }
    snprintf(err, errlen, "job %s: not every target's snapshot has an end-time", id);
    return -1;
}

int bench_bucket_create(const char *endpoint, const char *bck, char *err, size_t errlen)
{
    char *url = xasprintf("%s/v1/buckets/%s?provider=ais", endpoint, bck);
    buf_t resp;
    buf_init(&resp);
    long st = bench_http("POST", url, "{\"action\":\"create-bck\",\"name\":\"\",\"value\":null}",
                         &resp, err, errlen);
    int rc = st == 200 || st == 201 ? 0 : -1;
    if (rc != 0 && st >= 0)
        snprintf(err, errlen, "create bucket %s: HTTP %ld: %.200s", bck, st,
                 resp.base != NULL ? resp.base : "");
    buf_dispose(&resp);
    free(url);
    return rc;
}

void bench_bucket_destroy(const char *endpoint, const char *bck)
{
    char *url = xasprintf("%s/v1/buckets/%s?provider=ais", endpoint, bck);
    char err[256];
    long st = bench_http("DELETE", url, "{\"action\":\"destroy-bck\",\"name\":\"\",\"value\":null}",
                         NULL, err, sizeof(err));
    if (st != 200)
        fprintf(stderr, "locus-bench: could not destroy bucket %s (%ld)\n", bck, st);
    free(url);
}

/* Waits (at most 60 s) until no target of the cluster under cluster_dir holds a directory of
 * bucket bck or a trash directory: a destroyed bucket's files are removed on the targets, and
 * that work must not run into the next timed cell. NULL cluster_dir (external cluster): no-op. */
void bench_bucket_settle(const char *cluster_dir, const char *bck)
{
    if (cluster_dir == NULL)
        return;
    char *pat = xasprintf("%s/t*/mp*/@ais/%s", cluster_dir, bck);
    char *tpat = xasprintf("%s/t*/mp*/@ais/.trash-*", cluster_dir);
    int64_t deadline = time_mono_ns() + 60 * 1000000000LL;
    while (!bench_stop && time_mono_ns() < deadline) {
        glob_t g = {0}, t = {0};
        bool busy = glob(pat, GLOB_NOSORT, NULL, &g) == 0 && g.gl_pathc > 0;
        busy = (glob(tpat, GLOB_NOSORT, NULL, &t) == 0 && t.gl_pathc > 0) || busy;
        globfree(&g);
        globfree(&t);
        if (!busy)
            break;
        sleep_ms(50);
    }
    free(tpat);
    free(pat);
}

long bench_bucket_sizes(locus_client_t *cl, const char *bck, void (*each)(int64_t size, void *arg),
                        void *arg, char *err, size_t errlen)
{
    long n = 0;
    char *token = NULL;
    char e[LOCUS_ERR_LEN] = "";
    for (;;) {
        locus_lso_opts_t o = {.props = "name,size", .continuation_token = token};
        locus_lso_page_t page;
        int rc = locus_object_list_page(cl, bck, &o, &page, e);
        free(token);
        token = NULL;
        if (rc != 0) {
            locus_lso_page_dispose(&page);
            snprintf(err, errlen, "list %s: %s", bck, e);
            return -1;
        }
        n += (long)page.n;
        for (size_t i = 0; i < page.n; i++)
            each(page.entries[i].size, arg);
        if (page.continuation_token != NULL && page.continuation_token[0] != '\0')
            token = xstrdup(page.continuation_token);
        locus_lso_page_dispose(&page);
        if (token == NULL)
            return n;
    }
}
