/*
 * xact.c - the job registry. See xact.h.
 */
#include "xact/xact.h"
#include "common/metrics.h"
#include "common/names.h"
#include "common/util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* reg_lock protects the registry array, every job's refcnt, err and obj_errors. */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static xact_t **reg;
static size_t n_reg;

/* Objects received for a job this node has not registered yet: a sender's part of the job can
 * start (and deliver here) before the proxy's start message reaches this node. The job takes
 * the counts over when it registers. Bounded: the oldest entry goes when it is full. Under
 * reg_lock. */
#define PENDING_IN_MAX 64
static struct {
    char id[64];
    int64_t objs, bytes, at_ns;
} pending_in[PENDING_IN_MAX];
static size_t n_pending_in;

static void pending_in_add(const char *id, int64_t objs, int64_t bytes)
{
    size_t i = 0, oldest = 0;
    for (; i < n_pending_in && strcmp(pending_in[i].id, id) != 0; i++)
        if (pending_in[i].at_ns < pending_in[oldest].at_ns)
            oldest = i;
    if (i == n_pending_in && n_pending_in == PENDING_IN_MAX)
        i = oldest;
    else if (i == n_pending_in)
        n_pending_in++;
    if (strcmp(pending_in[i].id, id) != 0) {
        snprintf(pending_in[i].id, sizeof(pending_in[i].id), "%s", id);
        pending_in[i].objs = pending_in[i].bytes = 0;
    }
    pending_in[i].objs += objs;
    pending_in[i].bytes += bytes;
    pending_in[i].at_ns = time_mono_ns();
}

static void pending_in_take(xact_t *x)
{
    for (size_t i = 0; i < n_pending_in; i++) {
        if (strcmp(pending_in[i].id, x->id) == 0) {
            x->in_objs += pending_in[i].objs;
            x->in_bytes += pending_in[i].bytes;
            pending_in[i] = pending_in[--n_pending_in];
            return;
        }
    }
}

/* The registered job id or NULL. Under reg_lock. */
static xact_t *reg_lookup(const char *id)
{
    for (size_t i = 0; i < n_reg; i++)
        if (strcmp(reg[i]->id, id) == 0)
            return reg[i];
    return NULL;
}

void xact_add_in(const char *id, int64_t objs, int64_t bytes)
{
    pthread_mutex_lock(&reg_lock);
    xact_t *x = reg_lookup(id);
    if (x) {
        x->in_objs += objs;
        x->in_bytes += bytes;
    } else {
        pending_in_add(id, objs, bytes);
    }
    pthread_mutex_unlock(&reg_lock);
}

static void do_xact_free(xact_t *x)
{
    free(x->err);
    json_decref(x->obj_errors);
    json_decref(x->ext);
    free(x);
}

xact_t *xact_create(const char *id, const char *kind, const char *src, const char *dst)
{
    pthread_mutex_lock(&reg_lock);
    xact_t *x = reg_lookup(id);
    if (x) {
        x->refcnt++;
        pthread_mutex_unlock(&reg_lock);
        return x;
    }
    x = xcalloc(1, sizeof(*x));
    snprintf(x->id, sizeof(x->id), "%s", id);
    snprintf(x->kind, sizeof(x->kind), "%s", kind);
    snprintf(x->src_bck, sizeof(x->src_bck), "%s", src ? src : "");
    snprintf(x->dst_bck, sizeof(x->dst_bck), "%s", dst ? dst : "");
    x->start_ns = time_now_ns();
    x->obj_errors = json_array();
    x->refcnt = 2; /* registry + caller */
    pending_in_take(x);
    reg = xrealloc(reg, (n_reg + 1) * sizeof(xact_t *));
    reg[n_reg++] = x;
    pthread_mutex_unlock(&reg_lock);
    return x;
}

xact_t *xact_find(const char *id)
{
    pthread_mutex_lock(&reg_lock);
    xact_t *x = reg_lookup(id);
    if (x)
        x->refcnt++;
    pthread_mutex_unlock(&reg_lock);
    return x;
}

void xact_put(xact_t *x)
{
    pthread_mutex_lock(&reg_lock);
    locus_assert(x->refcnt > 0);
    bool last = --x->refcnt == 0;
    pthread_mutex_unlock(&reg_lock);
    if (last)
        do_xact_free(x);
}

void xact_set_err(xact_t *x, const char *msg, bool fatal)
{
    pthread_mutex_lock(&reg_lock);
    if (x->err == NULL) {
        x->err = xstrdup(msg);
        utf8_scrub(x->err); /* it may quote an ETL server's output */
    }
    pthread_mutex_unlock(&reg_lock);
    if (fatal) {
        x->aborted = true;
        x->abort = true;
    }
}

void xact_add_obj_error(xact_t *x, const char *obj_name, const char *msg, int ecode)
{
    x->errors++;
    char *n = xstrdup(obj_name), *m = xstrdup(msg); /* either may quote untrusted bytes */
    utf8_scrub(n);
    utf8_scrub(m);
    pthread_mutex_lock(&reg_lock);
    if (json_array_size(x->obj_errors) < 10000)
        json_array_append_new(
            x->obj_errors, json_pack("{s:s, s:s, s:i}", "obj_name", n, "msg", m, "ecode", ecode));
    pthread_mutex_unlock(&reg_lock);
    free(n);
    free(m);
}

json_t *xact_obj_errors(xact_t *x)
{
    pthread_mutex_lock(&reg_lock);
    json_t *a = json_deep_copy(x->obj_errors);
    pthread_mutex_unlock(&reg_lock);
    return a;
}

void xact_abort_running(void)
{
    pthread_mutex_lock(&reg_lock);
    for (size_t i = 0; i < n_reg; i++)
        if (reg[i]->end_ns == 0)
            reg[i]->abort = true;
    pthread_mutex_unlock(&reg_lock);
}

void xact_finish(xact_t *x)
{
    if (x->abort)
        x->aborted = true;
    x->end_ns = time_now_ns();
}

static json_t *bck_json(const char *name)
{
    return json_pack("{s:s, s:s, s:{s:s, s:s}}", "name", name, "provider", "ais", "namespace",
                     "uuid", "", "name", "");
}

static json_t *num_str(int64_t v)
{
    char s[32];
    snprintf(s, sizeof(s), "%lld", (long long)v);
    return json_string(s);
}

json_t *xact_snap(xact_t *x, const char *node_id)
{
    char st[64], et[64];
    time_format_rfc3339(x->start_ns, st, sizeof(st));
    int64_t end = x->end_ns;
    time_format_rfc3339(end, et, sizeof(et));
    json_t *stats = json_object();
    json_object_set_new(stats, "loc-objs", num_str(x->loc_objs));
    json_object_set_new(stats, "loc-bytes", num_str(x->loc_bytes));
    json_object_set_new(stats, "out-objs", num_str(x->out_objs));
    json_object_set_new(stats, "out-bytes", num_str(x->out_bytes));
    json_object_set_new(stats, "in-objs", num_str(x->in_objs));
    json_object_set_new(stats, "in-bytes", num_str(x->in_bytes));
    json_object_set_new(stats, "errors", num_str(x->errors));
    char packed[32];
    snprintf(packed, sizeof(packed), "%lld",
             (long long)((x->n_joggers & 1023) | (x->n_workers & 1023) << 10));
    pthread_mutex_lock(&reg_lock);
    const char *err = x->err ? x->err : "";
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:b, s:b, s:s, s:s, s:s, "
                          "s:I, s:s, s:O?}",
                          "id", x->id, "kind", x->kind, "start-time", st, "end-time", et, "bck",
                          bck_json(x->src_bck), "src-bck", bck_json(x->src_bck), "dst-bck",
                          bck_json(x->dst_bck[0] ? x->dst_bck : x->src_bck), "stats", stats,
                          "aborted", (int)x->aborted, "is_idle", end != 0, "abort-err",
                          x->aborted ? err : "", "err", err, "glob.id", packed, "end_ns",
                          (json_int_t)end, "node", node_id, "ext", x->ext);
    pthread_mutex_unlock(&reg_lock);
    return j;
}

void xact_new_id(char *out, size_t len)
{
    char r[11];
    random_id(r, 10);
    snprintf(out, len, "%s", r);
}

void xact_gc(int64_t keep_ns)
{
    int64_t now = time_now_ns();
    xact_t *drop[64];
    size_t nd = 0;
    pthread_mutex_lock(&reg_lock);
    for (size_t i = 0; i < n_reg && nd < 64;) {
        int64_t end = reg[i]->end_ns;
        if (end != 0 && now - end > keep_ns) {
            drop[nd++] = reg[i];
            reg[i] = reg[--n_reg];
        } else {
            i++;
        }
    }
    pthread_mutex_unlock(&reg_lock);
    for (size_t i = 0; i < nd; i++)
        xact_put(drop[i]);
}

/* ---------------------------------------------------------------- listing */

/* The kinds, AIStore's display names (xact.Table) and whether StartXaction may start them. */
static const struct {
    const char *kind, *name;
    bool startable;
} table[] = {
    {"copy-bck", "copy-bucket", false},
    {"etl-bck", "etl-bucket", false},
    {"copy-listrange", "copy-objects", false},
    {"etl-listrange", "etl-objects", false},
    {"delete-listrange", "delete-objects", false},
    {"archive", "archive", false},
    {"summary-bck", "summary", false},
    {"scrub-bck", "scrub", true},
    {"make-n-copies", "mirror", true},
    {"ec-encode", "ec-bucket", true},
    {"rebalance", "rebalance", true},
    {"resilver", "resilver", true},
};
#define N_KINDS (sizeof(table) / sizeof(table[0]))

const char *xact_kind_of(const char *kind_or_name)
{
    for (size_t i = 0; i < N_KINDS; i++)
        if (strcmp(kind_or_name, table[i].kind) == 0 || strcmp(kind_or_name, table[i].name) == 0)
            return table[i].kind;
    return NULL;
}

const char *xact_display_name(const char *kind)
{
    for (size_t i = 0; i < N_KINDS; i++)
        if (strcmp(kind, table[i].kind) == 0)
            return table[i].name;
    return kind;
}

bool xact_kind_startable(const char *kind)
{
    for (size_t i = 0; i < N_KINDS; i++)
        if (strcmp(kind, table[i].kind) == 0)
            return table[i].startable;
    return false;
}

void xact_set_ext(xact_t *x, json_t *ext)
{
    pthread_mutex_lock(&reg_lock);
    json_decref(x->ext);
    x->ext = ext;
    pthread_mutex_unlock(&reg_lock);
}

bool xact_kind_valid(const char *kind)
{
    for (size_t i = 0; i < N_KINDS; i++)
        if (strcmp(kind, table[i].kind) == 0)
            return true;
    return false;
}

static int bool_text(const char *s, bool *out)
{
    if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0)
        *out = true;
    else if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0 || s[0] == '\0')
        *out = false;
    else
        return -1;
    return 0;
}

int xact_filter_set(xact_filter_t *f, const char *kind, const char *bck, const char *running,
                    char *err, size_t errlen)
{
    if (kind && kind[0]) {
        const char *k = xact_kind_of(kind); /* AIStore accepts its display names too */
        if (k == NULL) {
            snprintf(err, errlen, "invalid job kind \"%.64s\"", kind);
            return -1;
        }
        snprintf(f->kind, sizeof(f->kind), "%s", k);
    }
    if (bck && bck[0]) {
        const char *why = name_check_bucket(bck);
        if (why != NULL || strlen(bck) >= sizeof(f->bck)) {
            snprintf(err, errlen, "invalid bucket name \"%.80s\": %s", bck, why ? why : "too long");
            return -1;
        }
        snprintf(f->bck, sizeof(f->bck), "%s", bck);
    }
    if (running && bool_text(running, &f->only_running) < 0) {
        snprintf(err, errlen, "invalid boolean \"%.32s\"", running);
        return -1;
    }
    return 0;
}

/* obj[key] with the key in any case. */
static json_t *get_ci(json_t *obj, const char *key)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        if (strcasecmp(k, key) == 0)
            return v;
    }
    return NULL;
}

static int filter_bck(json_t *b, xact_filter_t *f, char *err, size_t errlen)
{
    if (b == NULL || json_is_null(b))
        return 0;
    json_t *name = get_ci(b, "name"), *prov = get_ci(b, "provider");
    if (!json_is_object(b) || (name && !json_is_string(name)) || (prov && !json_is_string(prov))) {
        snprintf(err, errlen, "invalid \"bck\": expecting {\"name\": ..., \"provider\": ...}");
        return -1;
    }
    const char *p = prov ? json_string_value(prov) : "";
    if (p[0] && strcmp(p, "ais") != 0) {
        snprintf(err, errlen, "invalid \"bck\": provider \"%.32s\" is not served", p);
        return -1;
    }
    return xact_filter_set(f, NULL, name ? json_string_value(name) : NULL, NULL, err, errlen);
}

int xact_filter_parse(json_t *msg, xact_filter_t *f, char *err, size_t errlen)
{
    if (msg == NULL || json_is_null(msg))
        return 0;
    if (!json_is_object(msg)) {
        snprintf(err, errlen, "invalid query: expecting a JSON object (QueryMsg)");
        return -1;
    }
    json_t *kind = get_ci(msg, "kind"), *act = get_ci(msg, "show_active");
    if (act == NULL)
        act = get_ci(msg, "OnlyRunning"); /* xact.ArgsMsg's name for it */
    if (kind && !json_is_null(kind) && !json_is_string(kind)) {
        snprintf(err, errlen, "invalid \"kind\": expecting a string");
        return -1;
    }
    if (act && !json_is_null(act) && !json_is_boolean(act)) {
        snprintf(err, errlen, "invalid \"show_active\": expecting true or false");
        return -1;
    }
    if (json_is_true(act))
        f->only_running = true;
    if (xact_filter_set(f, json_string_value(kind), NULL, NULL, err, errlen) < 0)
        return -1;
    return filter_bck(get_ci(msg, "bck"), f, err, errlen);
}

bool xact_filter_match(const xact_filter_t *f, xact_t *x)
{
    if (f->kind[0] && strcmp(f->kind, x->kind) != 0)
        return false;
    if (f->bck[0] && strcmp(f->bck, x->src_bck) != 0 && strcmp(f->bck, x->dst_bck) != 0)
        return false;
    return !f->only_running || x->end_ns == 0;
}

/* The matching jobs, referenced, oldest first; *n how many. */
static xact_t **collect(const xact_filter_t *f, size_t *n)
{
    pthread_mutex_lock(&reg_lock);
    xact_t **out = xcalloc(n_reg + 1, sizeof(*out));
    *n = 0;
    for (size_t i = 0; i < n_reg; i++) {
        if (xact_filter_match(f, reg[i])) {
            reg[i]->refcnt++;
            out[(*n)++] = reg[i];
        }
    }
    pthread_mutex_unlock(&reg_lock);
    for (size_t i = 1; i < *n; i++) /* insertion sort by start time */
        for (size_t k = i; k > 0 && out[k - 1]->start_ns > out[k]->start_ns; k--) {
            xact_t *t = out[k];
            out[k] = out[k - 1];
            out[k - 1] = t;
        }
    return out;
}

json_t *xact_list(const xact_filter_t *f, const char *node_id)
{
    size_t n;
    xact_t **xs = collect(f, &n);
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(a, xact_snap(xs[i], node_id));
        xact_put(xs[i]);
    }
    free(xs);
    return a;
}

static const char *job_state(const xact_t *x)
{
    return x->end_ns == 0 ? "running" : x->aborted ? "aborted" : "done";
}

void xact_metrics(buf_t *b)
{
    xact_filter_t all = {0};
    size_t n;
    xact_t **xs = collect(&all, &n);
    metrics_family(b, "locus_jobs", "gauge",
                   "jobs this node remembers, by kind and state (running, done, aborted)");
    for (size_t i = 0; i < n; i++) { /* one sample per kind and state, at its first job */
        size_t count = 0, first = i;
        for (size_t j = 0; j < n; j++) {
            bool same =
                strcmp(xs[j]->kind, xs[i]->kind) == 0 && job_state(xs[j]) == job_state(xs[i]);
            count += same;
            if (same && j < first)
                first = j;
        }
        if (first != i)
            continue;
        char *lab = xasprintf("kind=\"%s\",state=\"%s\"", xs[i]->kind, job_state(xs[i]));
        metrics_sample(b, "locus_jobs", lab, (double)count);
        free(lab);
    }
    static const char *const fams[] = {"locus_job_objects", "locus_job_bytes"};
    for (int f = 0; f < 2; f++) {
        metrics_family(b, fams[f], "gauge",
                       f ? "bytes a job moved so far: local, sent to (out) and received from (in) "
                           "other targets (a rebalance's progress: kind=\"rebalance\")"
                         : "objects a job handled so far, as locus_job_bytes");
        for (size_t i = 0; i < n; i++) {
            xact_t *x = xs[i];
            int64_t v[3] = {f ? x->loc_bytes : x->loc_objs, f ? x->out_bytes : x->out_objs,
                            f ? x->in_bytes : x->in_objs};
            static const char *const dir[3] = {"loc", "out", "in"};
            for (int d = 0; d < 3; d++) {
                char *lab = xasprintf("kind=\"%s\",job=\"%s\",dir=\"%s\"", x->kind, x->id, dir[d]);
                metrics_sample(b, fams[f], lab, (double)v[d]);
                free(lab);
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        xact_put(xs[i]);
    free(xs);
}

int xact_abort_matching(const xact_filter_t *f, const char *why)
{
    size_t n;
    int stopped = 0;
    xact_t **xs = collect(f, &n);
    for (size_t i = 0; i < n; i++) {
        if (xs[i]->end_ns == 0 && !xs[i]->abort) {
            xs[i]->abort = true;
            xact_set_err(xs[i], why, false);
            stopped++;
        }
        xact_put(xs[i]);
    }
    free(xs);
    return stopped;
}
