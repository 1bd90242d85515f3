/*
 * xact.c - the job registry. See xact.h.
 */
#include "xact/xact.h"
#include "common/util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* reg_lock protects the registry array, every job's refcnt, err and obj_errors. */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static xact_t **reg;
static size_t n_reg;

static void do_xact_free(xact_t *x)
{
    free(x->err);
    json_decref(x->obj_errors);
    free(x);
}

xact_t *xact_create(const char *id, const char *kind, const char *src, const char *dst)
{
    pthread_mutex_lock(&reg_lock);
    for (size_t i = 0; i < n_reg; i++) {
        if (strcmp(reg[i]->id, id) == 0) {
            reg[i]->refcnt++;
            pthread_mutex_unlock(&reg_lock);
            return reg[i];
        }
    }
    xact_t *x = xcalloc(1, sizeof(*x));
    snprintf(x->id, sizeof(x->id), "%s", id);
    snprintf(x->kind, sizeof(x->kind), "%s", kind);
    snprintf(x->src_bck, sizeof(x->src_bck), "%s", src ? src : "");
    snprintf(x->dst_bck, sizeof(x->dst_bck), "%s", dst ? dst : "");
    x->start_ns = time_now_ns();
    x->obj_errors = json_array();
    x->refcnt = 2; /* registry + caller */
    reg = xrealloc(reg, (n_reg + 1) * sizeof(xact_t *));
    reg[n_reg++] = x;
    pthread_mutex_unlock(&reg_lock);
    return x;
}

xact_t *xact_find(const char *id)
{
    xact_t *x = NULL;
    pthread_mutex_lock(&reg_lock);
    for (size_t i = 0; i < n_reg; i++) {
        if (strcmp(reg[i]->id, id) == 0) {
            x = reg[i];
            x->refcnt++;
            break;
        }
    }
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
    pthread_mutex_lock(&reg_lock);
    const char *err = x->err ? x->err : "";
    json_t *j =
        json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:b, s:b, s:s, s:s, s:s, "
                  "s:I, s:s}",
                  "id", x->id, "kind", x->kind, "start-time", st, "end-time", et, "bck",
                  bck_json(x->src_bck), "src-bck", bck_json(x->src_bck), "dst-bck",
                  bck_json(x->dst_bck[0] ? x->dst_bck : x->src_bck), "stats", stats, "aborted",
                  (int)x->aborted, "is_idle", end != 0, "abort-err", x->aborted ? err : "", "err",
                  err, "glob.id", "0", "end_ns", (json_int_t)end, "node", node_id);
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
