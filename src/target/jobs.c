/*
 * jobs.c - target-side job runners.
 *
 * DESIGN
 * A start request registers the job (xact registry) and spawns a coordinator thread that
 * walks the target's local objects and feeds a bounded pool of worker threads through a
 * queue; each worker handles one object at a time (copy locally, or PUT to the owning
 * target), checks the abort flag between objects and counts what it did.
 */
#include "target/jobs.h"
#include "cluster/cluster.h"
#include "cluster/meta.h"
#include "common/log.h"
#include "common/names.h"
#include "common/template.h"
#include "common/util.h"
#include "etl/etl.h"
#include "target/internal.h"
#include "target/rebalance.h"
#include "xact/xact.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define JOBS_MAX_WORKERS 64
#define JOBS_KEEP_NS (3600LL * 1000000000LL)

typedef struct {
    xact_t *x;
    json_t *msg; /* the job's message (TCBMsg or list/range) */
    /* The names to work on come from one of: a walk of the local objects (names), the
     * message's objnames (list), or its range template (tmpl, expanded as workers ask). */
    char **names;
    size_t n_names, next;
    json_t *list;
    template_iter_t *tmpl;
    size_t total;         /* how many names there are (to size the worker pool) */
    pthread_mutex_t lock; /* protects next and tmpl */
    int workers;
    bool dry_run, coer;
    etl_inst_t *etl;    /* etl-bck: the transformer, held for the job's life */
    void *session;      /* etl-bck: the communicator's per-job state (ws connections) */
    etl_pipeline_t *pl; /* etl-bck: the later stages of a pipeline ("pipeline"), or NULL */
    char etl_name[64];
    const char *etl_args; /* etl-bck: passed with every object (in msg) */
    const char *prepend;
    json_t *ext;
    int copies; /* make-n-copies: the bucket's mirror copies when the job started */
} job_t;

char *jobs_to_name(const char *name, const char *prepend, json_t *ext)
{
    const char *base = name;
    char *mapped = NULL;
    const char *dot = strrchr(name, '.');
    const char *slash = strrchr(name, '/');
    if (json_is_object(ext) && dot && (!slash || dot > slash) && dot[1]) {
        json_t *to = json_object_get(ext, dot + 1);
        if (json_is_string(to)) {
            const char *t = json_string_value(to);
            while (*t == '.')
                t++;
            mapped = xasprintf("%.*s.%s", (int)(dot - name), name, t);
            base = mapped;
        }
    }
    char *out = xasprintf("%s%s", prepend ? prepend : "", base);
    free(mapped);
    return out;
}

/* ---------------------------------------------------------------- runners */

/* Job threads alive, so that a shutdown can wait for them (at most JOBS_STOP_WAIT_SEC). */
#define JOBS_STOP_WAIT_SEC 10
static pthread_mutex_t run_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t run_cond = PTHREAD_COND_INITIALIZER;
static int n_running;

static void running_add(int d)
{
    pthread_mutex_lock(&run_lock);
    n_running += d;
    if (n_running == 0)
        pthread_cond_broadcast(&run_cond);
    pthread_mutex_unlock(&run_lock);
}

static void job_free(job_t *j)
{
    for (size_t i = j->next; i < j->n_names; i++)
        free(j->names[i]);
    free(j->names);
    template_iter_free(j->tmpl);
    json_decref(j->msg);
    etl_pipeline_release(j->pl);
    if (j->etl) {
        etl_session_close(j->etl, j->session);
        etl_release(j->etl);
    }
    pthread_mutex_destroy(&j->lock);
    xact_put(j->x);
    free(j);
}

static int add_name(const char *name, const char *fqn, void *arg)
{
    job_t *j = arg;
    if ((j->n_names & (j->n_names - 1)) == 0 || j->n_names == 0)
        j->names = xrealloc(j->names, (j->n_names ? j->n_names * 2 : 64) * sizeof(char *));
    j->names[j->n_names++] = xstrdup(name);
    return j->x->abort ? 1 : 0;
}

/* The next name to work on (caller frees), or NULL when done or aborted. */
static char *next_name(job_t *j)
{
    char *n = NULL;
    pthread_mutex_lock(&j->lock);
    if (j->x->abort) {
        /* done */
    } else if (j->tmpl) {
        const char *t = template_iter_next(j->tmpl);
        n = t ? xstrdup(t) : NULL;
    } else if (j->list) {
        json_t *v;
        while (n == NULL && (v = json_array_get(j->list, j->next)) != NULL) {
            j->next++;
            n = json_is_string(v) ? xstrdup(json_string_value(v)) : NULL;
        }
    } else if (j->next < j->n_names) {
        n = j->names[j->next++];
    }
    pthread_mutex_unlock(&j->lock);
    return n;
}

static void obj_failed(job_t *j, const char *bck, const char *name, const char *msg, int ecode)
{
    char *full = xasprintf("ais://%s/%s", bck, name);
    xact_add_obj_error(j->x, full, msg, ecode);
    if (!j->coer) {
        char *e = xasprintf("%s: %s", full, msg);
        xact_set_err(j->x, e, true);
        free(e);
    }
    LOCUS_LOG(LOG_VERBOSE, "job %s[%s]: %s: %s", j->x->kind, j->x->id, full, msg);
    free(full);
}

/* Where a transformation goes while it arrives: the destination's own work file when this
 * target owns the destination name; otherwise memory up to SPOOL_MEM_MAX, spilling into a
 * temporary work file beyond it. A work file is created only when bytes need it: creating and
 * unlinking one per object was a third of the target's CPU on small objects (bench: ext4 inode
 * allocation), and with direct put nothing comes back at all. */
#define SPOOL_MEM_MAX (1 << 20)

typedef struct {
    const char *bck, *obj;
    bool to_file; /* local destination: always a work file (it becomes the object) */
    buf_t mem;
    obj_writer_t w;
    bool w_open;
    int64_t n;
    int failed; /* errno of a failed open or write */
} spool_t;

static int spool_open(spool_t *sp)
{
    char err[256];
    int rc = store_writer_open(&sp->w, sp->bck, sp->obj, err, sizeof(err));
    if (rc < 0) {
        sp->failed = -rc;
        return -1;
    }
    sp->w_open = true;
    if (sp->mem.len && store_writer_write(&sp->w, sp->mem.base, sp->mem.len) < 0) {
        sp->failed = errno;
        return -1;
    }
    buf_dispose(&sp->mem);
    return 0;
}

static int spool_sink(void *arg, const void *p, size_t n)
{
    spool_t *sp = arg;
    if (sp->failed)
        return -1;
    if (!sp->w_open && (sp->to_file || sp->mem.len + n > SPOOL_MEM_MAX) && spool_open(sp) < 0)
        return -1;
    if (sp->w_open) {
        if (store_writer_write(&sp->w, p, n) < 0) {
            sp->failed = errno;
            return -1;
        }
    } else {
        buf_append(&sp->mem, p, n);
    }
    sp->n += (int64_t)n;
    return 0;
}

static void spool_dispose(spool_t *sp)
{
    if (sp->w_open)
        store_writer_abort(&sp->w);
    sp->w_open = false;
    buf_dispose(&sp->mem);
}

static int discard_sink(void *arg, const void *p, size_t n)
{
    *(int64_t *)arg += (int64_t)n;
    return 0;
}

/* Dry run: transforms into nothing and counts what would have been written. */
static int copy_dry_run(xact_t *x, etl_inst_t *etl, const etl_req_t *rq, char *err, size_t errlen)
{
    int status = 0;
    int64_t out_size = rq->size;
    if (etl) {
        int64_t n = 0;
        etl_out_t out = {NULL, discard_sink, &n, ETL_SINK_BATCH};
        int st = etl_transform(etl, rq, &out, err, errlen);
        status = st >= 400 ? st : 0;
        out_size = n;
    }
    if (status == 0 && x) {
        x->loc_objs++;
        x->loc_bytes += out_size;
    }
    return status;
}

/* Transforms into sp. 0 with *out_size set when sp holds the bytes to store (in a work file
 * when local), -1 when the ETL server delivered them itself (direct put), else an HTTP status
 * with err set. sp is disposed unless 0 is returned. */
static int copy_transform(xact_t *x, etl_inst_t *etl, const etl_req_t *rq, spool_t *sp, bool local,
                          int64_t *out_size, char *err, size_t errlen)
{
    etl_out_t out = {NULL, spool_sink, sp, ETL_SINK_BATCH};
    int st = etl_transform(etl, rq, &out, err, errlen);
    if (st == 204 && rq->dst_url) { /* delivered by the ETL server */
        spool_dispose(sp);
        etl_count(etl, rq->size, 0);
        if (x)
            x->out_objs++;
        return -1;
    }
    if (sp->failed) {
        snprintf(err, errlen, "cannot spool the transformation of %s: %s", rq->obj,
                 strerror(sp->failed));
        st = 500;
    }
    if (st >= 400 || st == 204) {
        if (st == 204)
            snprintf(err, errlen, "ETL error: %s answered 204 without direct put", rq->obj);
        spool_dispose(sp);
        return st == 204 ? 502 : st;
    }
    /* 200 with the bytes even with a destination: the server could not deliver, so this
     * target forwards them itself. */
    *out_size = sp->n;
    etl_count(etl, rq->size, *out_size);
    if (local && !sp->w_open && spool_open(sp) < 0) {
        snprintf(err, errlen, "cannot create a work file for %s: %s", sp->obj,
                 strerror(sp->failed));
        spool_dispose(sp);
        return 500;
    }
    return 0;
}

/* Stores the copy on this target: the spooled transformation, or a copy of the source file. */
static int copy_store_local(xact_t *x, bool transformed, spool_t *sp, const char *src_bck,
                            const char *name, int64_t size, int64_t out_size, char *err,
                            size_t errlen)
{
    int status;
    if (transformed) {
        status = store_writer_commit(&sp->w, NULL, err, errlen);
    } else {
        char *sfqn = store_fqn(src_bck, name);
        status = store_copy_local(sfqn, size, sp->bck, sp->obj, err, errlen);
        free(sfqn);
    }
    sp->w_open = false; /* committed (or removed) by store_writer_commit */
    if (status == 0 && x) {
        x->loc_objs++;
        x->loc_bytes += out_size;
    }
    return status;
}

/* PUTs the copy to its owner: the spooled transformation, or the source object (fd). */
static int copy_forward(xact_t *x, bool transformed, spool_t *sp, int fd, const char *owner_url,
                        int64_t out_size, char *err, size_t errlen)
{
    int status = 0, rc;
    char *enc = url_encode(sp->obj, "/");
    char *url = xasprintf("%s/v1/objects/%s/%s?provider=ais%s%s", owner_url, sp->bck, enc,
                          x ? "&xid=" : "", x ? x->id : "");
    httpc_resp_t r;
    httpc_resp_init(&r);
    if (transformed && !sp->w_open) /* small result: straight from memory */
        rc = httpc_do("PUT", url, sp->mem.base ? sp->mem.base : "", sp->mem.len, NULL, 0, &r);
    else
        rc = httpc_put_fd(url, transformed ? sp->w.fd : fd, out_size, NULL, 0, &r);
    if (rc < 0) {
        snprintf(err, errlen, "%s", r.err);
        status = 503;
    } else if (r.status != 200) {
        snprintf(err, errlen, "%s", r.body.len ? r.body.base : "PUT failed");
        status = (int)r.status;
    } else if (x) {
        x->out_objs++;
        x->out_bytes += out_size;
    }
    httpc_resp_dispose(&r);
    free(url);
    free(enc);
    return status;
}

int jobs_copy_object(xact_t *x, etl_inst_t *etl, void *session, const etl_pipeline_t *pl,
                     const char *args, const char *src_bck, const char *name, const char *dst_bck,
                     const char *dst, bool dry_run, char *err, size_t errlen)
{
    int fd, status = 0;
    char *fqn = NULL, *daddr = NULL, *owner_url = NULL;
    lom_md_t md;
    int rc = store_open(src_bck, name, &fd, &md);
    if (rc < 0) {
        snprintf(err, errlen, "%s: ais://%s/%s does not exist", cluster_self_name(), src_bck, name);
        return 404;
    }
    int64_t size = md.size, out_size = size;
    lom_md_dispose(&md);
    if (name_check_object(dst, strlen(dst)) != NULL) {
        snprintf(err, errlen, "invalid destination object name \"%s\"", dst);
        status = 400;
        goto out;
    }
    smap_t *s = smap_get();
    const snode_t *owner = smap_owner(s, dst_bck, dst);
    owner_url = owner ? xstrdup(owner->url) : NULL;
    bool local = owner && strcmp(owner->id, cluster_self_id()) == 0;
    smap_put(s);
    if (owner_url == NULL) {
        snprintf(err, errlen, "no targets in the cluster map");
        status = 503;
        goto out;
    }
    etl_req_t rq = {.bck = src_bck,
                    .obj = name,
                    .fd = fd,
                    .size = size,
                    .args = args,
                    .session = session,
                    .pipeline = etl_pipeline_urls(pl)};
    fqn = etl && etl_fqn_mode(etl) ? store_fqn(src_bck, name) : NULL;
    rq.fqn = fqn;
    const etl_inst_t *last = pl && pl->n ? pl->stages[pl->n - 1] : etl;
    if (etl && etl_direct_put(last) && !local && !dry_run) {
        /* Direct put: the ETL server PUTs the result to the owner itself (AIStore's daddr:
         * <target>/<PathEscape(uname)>[?uuid=<job>], docs/protocol.md §5). */
        char *u = uname_make(dst_bck, dst);
        char *eu = url_encode(u, "@");
        daddr = xasprintf("%s/%s%s%s", owner_url, eu, x ? "?uuid=" : "", x ? x->id : "");
        free(eu);
        free(u);
        rq.dst_url = daddr;
    }
    if (dry_run) {
        status = copy_dry_run(x, etl, &rq, err, errlen);
        goto out;
    }
    /* The bytes to store: the object itself, or its transformation (spooled, see spool_t). */
    spool_t sp = {.bck = dst_bck, .obj = dst, .to_file = local};
    buf_init(&sp.mem);
    if (etl) {
        status = copy_transform(x, etl, &rq, &sp, local, &out_size, err, errlen);
        if (status != 0) {
            status = status < 0 ? 0 : status;
            goto out;
        }
    }
    if (local)
        status = copy_store_local(x, etl != NULL, &sp, src_bck, name, size, out_size, err, errlen);
    else
        status = copy_forward(x, etl != NULL, &sp, fd, owner_url, out_size, err, errlen);
    spool_dispose(&sp);
out:
    free(owner_url);
    free(fqn);
    free(daddr);
    close(fd);
    return status;
}

/* A job on a list or range of names (AIStore's ListRange): delete-, copy- or etl-listrange. */
static bool kind_listrange(const char *kind)
{
    size_t n = strlen(kind);
    return n > 10 && strcmp(kind + n - 10, "-listrange") == 0;
}

/* Copies (or transforms) one object of the source bucket to the destination. */
static void copy_one(job_t *j, const char *name)
{
    char err[1024];
    char *dst = jobs_to_name(name, j->prepend, j->ext);
    int st = jobs_copy_object(j->x, j->etl, j->session, j->pl, j->etl_args, j->x->src_bck, name,
                              j->x->dst_bck, dst, j->dry_run, err, sizeof(err));
    if (st && st != 404) /* 404: deleted meanwhile */
        obj_failed(j, j->x->src_bck, name, err, st);
    free(dst);
}

static void delete_one(job_t *j, const char *name)
{
    int fd;
    lom_md_t md;
    ec_conf_t ec;
    bool coded = ec_conf(j->x->src_bck, &ec);
    if (store_open(j->x->src_bck, name, &fd, &md) < 0) {
        /* not here: another target has it, or it does not exist; an erasure-coded piece here
         * goes (every target sees a listed name) */
        if (coded && (j->list || j->tmpl)) {
            pthread_mutex_t *lk = store_stripe(j->x->src_bck, name);
            pthread_mutex_lock(lk);
            ec_remove_locked(j->x->src_bck, name);
            pthread_mutex_unlock(lk);
        }
        return;
    }
    int64_t size = md.size;
    close(fd);
    lom_md_dispose(&md);
    reb_tombstone(j->x->src_bck, name);
    if (store_delete(j->x->src_bck, name) == 0) {
        j->x->loc_objs++;
        j->x->loc_bytes += size;
    }
    if (coded && !j->list && !j->tmpl) { /* found by a walk here: the pieces elsewhere go too */
        bool any = false;
        char err[512];
        reb_delete_others(j->x->src_bck, name, &any, err, sizeof(err));
    }
}

/* scrub-bck: reads the object and compares it with its checksum; a mismatch is repaired from a
 * good mirror copy when there is one, and reported as the job's per-object error either way. */
static void scrub_one(job_t *j, const char *name)
{
    int fd;
    lom_md_t md;
    if (store_open(j->x->src_bck, name, &fd, &md) < 0)
        return; /* deleted meanwhile */
    char cs[17] = "";
    int rc = strcmp(md.cs_type, "xxhash") == 0 ? store_checksum(fd, md.size, cs) : 0;
    close(fd);
    j->x->loc_objs++;
    j->x->loc_bytes += md.size;
    if (rc < 0 || (cs[0] && strcmp(cs, md.cs_val) != 0)) {
        /* a good mirror copy repairs it: reported as repaired (ecode 0, counted in out-objs) */
        char *fqn = store_fqn(j->x->src_bck, name);
        bool fixed = fqn && mirror_repair(j->x->src_bck, name, fqn) == 0;
        free(fqn);
        ec_conf_t ec;
        char eerr[768];
        bool rebuilt = !fixed && ec_conf(j->x->src_bck, &ec) &&
                       ec_repair(j->x->src_bck, name, &md, eerr, sizeof(eerr)) == 0;
        fixed = fixed || rebuilt;
        char msg[200];
        snprintf(msg, sizeof(msg), "%s: xxhash %s, read %s",
                 rebuilt ? "rebuilt from its EC pieces"
                 : fixed ? "repaired from a copy"
                         : "corrupt",
                 md.cs_val, rc < 0 ? strerror(-rc) : cs);
        if (fixed) {
            j->x->out_objs++;
            char *full = xasprintf("ais://%s/%s", j->x->src_bck, name);
            xact_add_obj_error(j->x, full, msg, 0);
            free(full);
        } else {
            obj_failed(j, j->x->src_bck, name, msg, 500);
        }
    }
    lom_md_dispose(&md);
}

/* make-n-copies: the object's mirror copies as the bucket's properties say now (none when
 * mirroring is off). */
static void mirror_one(job_t *j, const char *name)
{
    char *fqn = store_fqn(j->x->src_bck, name);
    if (fqn && store_exists(j->x->src_bck, name)) {
        mirror_write(j->x->src_bck, name, fqn, j->copies);
        j->x->loc_objs++;
    }
    free(fqn);
}

static void *worker_main(void *arg)
{
    job_t *j = arg;
    const char *k = j->x->kind;
    bool copy = strcmp(k, "copy-bck") == 0 || strcmp(k, "etl-bck") == 0 ||
                strcmp(k, "copy-listrange") == 0 || strcmp(k, "etl-listrange") == 0;
    bool scrub = strcmp(k, "scrub-bck") == 0, mirror = strcmp(k, "make-n-copies") == 0;
    char *name;
    while ((name = next_name(j)) != NULL) {
        char why[512];
        /* A list or template may name anything: the store refuses bad names too, but say why. */
        const char *bad = name_check_object(name, strlen(name));
        if (bad) {
            obj_failed(j, j->x->src_bck, name, bad, 400);
            free(name);
            continue;
        }
        if (j->etl && !etl_alive(j->etl, why, sizeof(why))) {
            char *e = xasprintf("etl job %s is not running: %s", j->etl_name, why);
            xact_set_err(j->x, e, true);
            free(e);
            break;
        }
        if (copy)
            copy_one(j, name);
        else if (scrub)
            scrub_one(j, name);
        else if (mirror)
            mirror_one(j, name);
        else
            delete_one(j, name);
        free(name);
    }
    httpc_thread_cleanup();
    return NULL;
}

static char *next_name_cb(void *arg)
{
    return next_name(arg);
}

static void *job_main(void *arg)
{
    job_t *j = arg;
    xact_t *x = j->x;
    LOCUS_LOG(LOG_NOTICE, "job %s[%s] started: ais://%s%s%s", x->kind, x->id, x->src_bck,
              x->dst_bck[0] ? " -> ais://" : "", x->dst_bck);
    if (strcmp(x->kind, "ec-encode") == 0) { /* its own walks (ec.c) */
        ec_job(x);
        goto done;
    }
    if (strcmp(x->kind, "summary-bck") == 0) { /* its own walks (summary.c), on this thread */
        x->n_workers = 1;
        summary_job(x, json_string_value(json_object_get(j->msg, "prefix")));
        goto done;
    }
    if (strcmp(x->kind, "archive") == 0) { /* one writer, in list order (archjob.c) */
        arch_job(x, j->msg, next_name_cb, j);
        goto done;
    }
    if (j->list == NULL && j->tmpl == NULL) {
        json_t *pfx = json_object_get(j->msg, "template"); /* a list/range job: no range */
        if (!kind_listrange(x->kind))
            pfx = json_object_get(j->msg, "prefix");
        mpset_t *ms = mpath_get();
        x->n_joggers = (int)mpset_count(ms);
        mpath_put(ms);
        store_walk(x->src_bck, json_is_string(pfx) ? json_string_value(pfx) : "", add_name, j);
        j->total = j->n_names;
    }
    int nw = j->workers;
    if ((size_t)nw > j->total)
        nw = j->total ? (int)j->total : 1;
    pthread_t th[JOBS_MAX_WORKERS];
    int started = 0;
    for (int i = 0; i < nw; i++)
        if (pthread_create(&th[started], NULL, worker_main, j) == 0)
            started++;
    if (started == 0)
        worker_main(j);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
done:
    xact_finish(x);
    LOCUS_LOG(LOG_NOTICE, "job %s[%s] %s: %lld local, %lld sent, %lld errors", x->kind, x->id,
              x->aborted ? "aborted" : "finished", (long long)x->loc_objs, (long long)x->out_objs,
              (long long)x->errors);
    job_free(j);
    xact_gc(JOBS_KEEP_NS);
    running_add(-1);
    return NULL;
}

/* A list/range job's names: its objnames, or its range template streamed by the workers
 * (counted without expanding it, and capped). Anything else walks the local objects. */
static int job_names_init(job_t *j, char *err, size_t errlen)
{
    if (!kind_listrange(j->x->kind) && strcmp(j->x->kind, "archive") != 0)
        return 0;
    json_t *names = json_object_get(j->msg, "objnames");
    const char *t = json_string_value(json_object_get(j->msg, "template"));
    if (json_is_array(names)) {
        j->list = names;
        j->total = json_array_size(names);
    } else if (t && strchr(t, '{')) {
        long n;
        int rc = template_size(t, &n);
        if (rc == -1) {
            snprintf(err, errlen, "malformed template");
            return 400;
        }
        if (rc == -2 || n > TEMPLATE_MAX_NAMES) {
            snprintf(err, errlen, "template names more than %ld objects", TEMPLATE_MAX_NAMES);
            return 400;
        }
        j->tmpl = template_iter_new(t);
        j->total = (size_t)n;
    }
    return 0;
}

/* A job that cannot start: it ends at once with err (so a status query says why), and the
 * request gets status. Frees j and the request body b. */
static void job_refuse(http_req_t *req, job_t *j, json_t *b, int status, const char *err)
{
    xact_set_err(j->x, err, true);
    xact_finish(j->x);
    job_free(j);
    json_decref(b);
    http_reply_error(req, (unsigned)status, "%s", err);
}

/* etl-bck: the message's "pipeline" (AIStore's TCBMsg Transform.Pipeline, an array of ETL
 * names) resolved on this target. 0, or -1 with *st and err. */
static int job_pipeline(job_t *j, char *err, size_t errlen, int *st)
{
    json_t *pv = json_object_get(j->msg, "pipeline");
    if (pv == NULL || json_is_null(pv) || (json_is_array(pv) && json_array_size(pv) == 0))
        return 0;
    buf_t b;
    buf_init(&b);
    size_t i;
    json_t *v;
    bool ok = json_is_array(pv);
    json_array_foreach(pv, i, v)
    {
        ok = ok && json_is_string(v);
        if (ok)
            buf_printf(&b, "%s%s", i ? "," : "", json_string_value(v));
    }
    if (!ok) {
        buf_dispose(&b);
        *st = 400;
        snprintf(err, errlen, "etl-bck: \"pipeline\" must be an array of ETL names");
        return -1;
    }
    char *spec = buf_steal(&b);
    j->pl = etl_pipeline_acquire(j->etl, spec, st, err, errlen);
    free(spec);
    return j->pl ? 0 : -1;
}

static void job_start(http_req_t *req)
{
    json_t *b = http_body_json(req);
    if (b == NULL)
        return;
    const char *id = json_string_value(json_object_get(b, "id"));
    const char *kind = json_string_value(json_object_get(b, "kind"));
    const char *src = json_string_value(json_object_get(b, "src"));
    const char *dst = json_string_value(json_object_get(b, "dst"));
    json_t *msg = json_object_get(b, "msg");
    if (id && kind && strcmp(kind, "rebalance") == 0) {
        reb_start(req, id, msg);
        json_decref(b);
        return;
    }
    if (id && kind && strcmp(kind, "resilver") == 0 && strlen(id) < 16) {
        mpath_resilver_start(id);
        http_reply_text(req, 200, id);
        json_decref(b);
        return;
    }
    if (!id || !kind || !src || !xact_kind_valid(kind) || strcmp(kind, "resilver") == 0) {
        http_reply_error(req, 400, "invalid job start request");
        json_decref(b);
        return;
    }
    /* a summary of every bucket has no source */
    const char *bad = src[0] || strcmp(kind, "summary-bck") ? name_check_bucket(src) : NULL;
    if (bad == NULL && dst && dst[0])
        bad = name_check_bucket(dst);
    if (bad) {
        http_reply_error(req, 400, "invalid job start request: %s", bad);
        json_decref(b);
        return;
    }
    xact_t *x = xact_find(id);
    if (x) {
        xact_put(x);
        http_reply_error(req, 409, "job %s already exists", id);
        json_decref(b);
        return;
    }
    job_t *j = xcalloc(1, sizeof(*j));
    j->x = xact_create(id, kind, src, dst);
    j->msg = json_is_object(msg) ? json_incref(msg) : json_object();
    pthread_mutex_init(&j->lock, NULL);
    json_t *nw = json_object_get(j->msg, "num-workers");
    /* Default (absent or 0): one per CPU. A worker keeps one transform (or copy) in flight, and
     * more conversions than cores only thrash (docs/benchmarks.md, "ETL workers"). Negative:
     * serial, as AIStore's -1. */
    json_int_t nwv = json_is_integer(nw) ? json_integer_value(nw) : 0;
    json_int_t w = nwv > 0 ? nwv : nwv < 0 ? 1 : cpus_usable();
    j->workers = (int)(w < JOBS_MAX_WORKERS ? w : JOBS_MAX_WORKERS);
    j->x->n_workers = j->workers;
    j->dry_run = json_is_true(json_object_get(j->msg, "dry_run"));
    j->coer = json_is_true(json_object_get(j->msg, "coer")) || strcmp(kind, "scrub-bck") == 0;
    j->copies = mirror_copies(src);
    j->prepend = json_string_value(json_object_get(j->msg, "prepend"));
    j->etl_args = json_string_value(json_object_get(j->msg, "etl_args"));
    j->ext = json_object_get(j->msg, "ext");
    char nerr[128];
    int nst = job_names_init(j, nerr, sizeof(nerr));
    if (nst) {
        job_refuse(req, j, b, nst, nerr);
        return;
    }
    if (strcmp(kind, "etl-bck") == 0 || strcmp(kind, "etl-listrange") == 0) {
        const char *en = json_string_value(json_object_get(j->msg, "id"));
        int st = 400;
        char err[1024];
        snprintf(err, sizeof(err), "%s: the ETL name (\"id\") is missing", kind);
        j->etl = en ? etl_acquire(en, &st, err, sizeof(err)) : NULL;
        if (j->etl == NULL) {
            job_refuse(req, j, b, st, err);
            return;
        }
        snprintf(j->etl_name, sizeof(j->etl_name), "%s", en);
        if (job_pipeline(j, err, sizeof(err), &st) < 0) {
            job_refuse(req, j, b, st, err);
            return;
        }
        err[0] = '\0';
        j->session = etl_session_open(j->etl, j->workers, err, sizeof(err));
        if (j->session == NULL && err[0]) {
            job_refuse(req, j, b, 503, err);
            return;
        }
    }
    char idcopy[sizeof(j->x->id)];
    snprintf(idcopy, sizeof(idcopy), "%s", id);
    json_decref(b); /* id, kind, src and dst pointed into it */
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    running_add(1);
    if (pthread_create(&th, &attr, job_main, j) != 0) {
        running_add(-1);
        xact_set_err(j->x, "cannot start job thread", true);
        xact_finish(j->x);
        job_free(j);
        pthread_attr_destroy(&attr);
        http_reply_error(req, 500, "cannot start job thread");
        return;
    }
    pthread_attr_destroy(&attr);
    http_reply_text(req, 200, idcopy);
}

/* The filter of a request for many jobs: an AIStore QueryMsg body and/or the query parameters
 * kind, bck and show_active. 0, or -1 when the request was answered (400). */
static int jobs_filter(http_req_t *req, xact_filter_t *f)
{
    char err[256];
    memset(f, 0, sizeof(*f));
    if (req->body.len) {
        json_t *msg = http_body_json(req);
        if (msg == NULL)
            return -1;
        int rc = xact_filter_parse(msg, f, err, sizeof(err));
        json_decref(msg);
        if (rc < 0) {
            http_reply_error(req, 400, "%s", err);
            return -1;
        }
    }
    if (xact_filter_set(f, http_query(req, "kind"), http_query(req, "bck"),
                        http_query(req, "show_active"), err, sizeof(err)) < 0) {
        http_reply_error(req, 400, "%s", err);
        return -1;
    }
    return 0;
}

/* GET /v1/xactions without an id: the snapshots of the jobs the filter selects; DELETE without
 * an id: stops the running ones of a kind (and bucket), answering {"stopped": n}. */
static void jobs_many(http_req_t *req)
{
    xact_filter_t f;
    if (jobs_filter(req, &f) < 0)
        return;
    if (strcmp(req->method, "GET") == 0) {
        http_reply_json(req, 200, xact_list(&f, cluster_self_id()));
    } else if (strcmp(req->method, "DELETE") == 0) {
        if (f.kind[0] == '\0') {
            http_reply_error(req, 400, "stopping jobs needs an id or a kind");
            return;
        }
        f.only_running = true;
        int n = xact_abort_matching(&f, "aborted by user");
        http_reply_json(req, 200, json_pack("{s:i}", "stopped", n));
    } else {
        http_reply_error(req, 405, "method %s not supported for jobs", req->method);
    }
}

void jobs_handle(http_req_t *req)
{
    const char *m = req->method;
    if (strcmp(m, "POST") == 0) {
        job_start(req);
        return;
    }
    const char *id = http_query(req, "id");
    if (id == NULL || id[0] == '\0') {
        jobs_many(req);
        return;
    }
    xact_t *x = id ? xact_find(id) : NULL;
    if (x == NULL) {
        http_reply_error(req, 404, "job \"%s\" not found", id ? id : "");
        return;
    }
    if (strcmp(m, "GET") == 0) {
        json_t *snap = xact_snap(x, cluster_self_id());
        if (http_query_bool(req, "errors"))
            json_object_set_new(snap, "obj_errors", xact_obj_errors(x));
        http_reply_json(req, 200, snap);
    } else if (strcmp(m, "DELETE") == 0) {
        if (x->end_ns == 0) {
            x->abort = true;
            xact_set_err(x, "aborted by user", false);
        }
        http_reply(req, 200, NULL, "", 0);
    } else {
        http_reply_error(req, 405, "method %s not supported for jobs", m);
    }
    xact_put(x);
}

void jobs_init(void)
{
}

void jobs_shutdown(void)
{
    /* Job threads use the store and the configuration, which the daemon frees after this. */
    xact_abort_running();
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += JOBS_STOP_WAIT_SEC;
    pthread_mutex_lock(&run_lock);
    while (n_running > 0 && pthread_cond_timedwait(&run_cond, &run_lock, &until) == 0)
        ;
    if (n_running > 0)
        LOCUS_LOG(LOG_WARNING, "%d job(s) still stopping at shutdown", n_running);
    pthread_mutex_unlock(&run_lock);
}
