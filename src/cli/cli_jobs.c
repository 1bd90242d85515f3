/*
 * cli_jobs.c - the rows of `locus job ls` (cmd_job.c) from a what=qryxstats answer, and the JSON
 * field helpers of the job commands. See cli.h.
 */
#include "cli/cli.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>

const char *cli_jget(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (json_is_string(v))
        return json_string_value(v);
    return NULL;
}

long long cli_jnum(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (json_is_integer(v))
        return json_integer_value(v);
    if (json_is_string(v))
        return strtoll(json_string_value(v), NULL, 10);
    return 0;
}

static const char *snap_bck(json_t *s, const char *k)
{
    const char *n = cli_jget(json_object_get(s, k), "name");
    return n ? n : "";
}

static bool snap_ended(json_t *s)
{
    const char *end = cli_jget(s, "end-time");
    return end != NULL && end[0] && strncmp(end, "0001-", 5) != 0;
}

/* A new row for job id from its first snapshot s. */
static json_t *job_row(const char *id, json_t *s)
{
    const char *src = snap_bck(s, "src-bck"), *dst = snap_bck(s, "dst-bck");
    char *b = dst[0] && strcmp(src, dst) != 0 ? xasprintf("%s -> %s", src, dst) : xstrdup(src);
    json_t *r = json_pack("{s:s, s:s?, s:s, s:s, s:I, s:I, s:I, s:s?, s:s, s:i}", "id", id, "kind",
                          cli_jget(s, "kind"), "bucket", b, "state", "finished", "objects",
                          (json_int_t)0, "bytes", (json_int_t)0, "errors", (json_int_t)0, "start",
                          cli_jget(s, "start-time"), "end", "", "targets", 0);
    free(b);
    return r;
}

static void row_add_int(json_t *r, const char *k, long long v)
{
    json_object_set_new(r, k, json_integer(json_integer_value(json_object_get(r, k)) + v));
}

/* Adds one target's snapshot s to row r. */
static void row_merge(json_t *r, json_t *s)
{
    json_t *st = json_object_get(s, "stats");
    row_add_int(r, "objects", cli_jnum(st, "loc-objs") + cli_jnum(st, "out-objs"));
    row_add_int(r, "bytes", cli_jnum(st, "loc-bytes") + cli_jnum(st, "out-bytes"));
    row_add_int(r, "errors", cli_jnum(st, "errors"));
    row_add_int(r, "targets", 1);
    const char *start = cli_jget(s, "start-time"), *rs = cli_jget(r, "start");
    if (start && (rs == NULL || strcmp(start, rs) < 0))
        json_object_set_new(r, "start", json_string(start));
    const char *state = cli_jget(r, "state"), *e = cli_jget(s, "err");
    bool running = strcmp(state, "running") == 0 || !snap_ended(s);
    if (json_is_true(json_object_get(s, "aborted")) || strcmp(state, "aborted") == 0)
        state = "aborted";
    else if (running)
        state = "running";
    else if ((e && e[0]) || strcmp(state, "failed") == 0)
        state = "failed";
    json_object_set_new(r, "state", json_string(state));
    json_object_set_new(r, "running", json_boolean(running));
    const char *end = cli_jget(s, "end-time"), *re = cli_jget(r, "end");
    if (snap_ended(s) && strcmp(end, re) > 0)
        json_object_set_new(r, "end", json_string(end));
}

json_t *cli_job_rows(const char *json)
{
    json_t *j = json_loads(json, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    json_t *rows = json_array(), *index = json_object();
    const char *tid;
    json_t *arr;
    json_object_foreach(j, tid, arr)
    {
        size_t i;
        json_t *s;
        json_array_foreach(arr, i, s)
        {
            const char *id = cli_jget(s, "id");
            if (id == NULL)
                continue;
            json_t *r = json_object_get(index, id);
            if (r == NULL) {
                r = job_row(id, s);
                json_array_append_new(rows, r);
                json_object_set(index, id, r);
            }
            row_merge(r, s);
        }
    }
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r)
    {
        if (json_is_true(json_object_get(r, "running"))) /* an end only once all ended */
            json_object_set_new(r, "end", json_string(""));
        json_object_del(r, "running");
    }
    json_decref(index);
    json_decref(j);
    return rows;
}
