/*
 * rebalance.c - the target's part of a global rebalance, and get-from-neighbor
 * (docs/design.md §14).
 *
 * DESIGN
 * A rebalance job (kind "rebalance", started by the primary on every map change that moves
 * placement) walks this target's objects and sends each one whose HRW owner is another target
 * to that owner: a PUT with ?reb=<job> and the object's metadata in the Locus-Lom header. The
 * owner writes it atomically, checks size and checksum, and keeps its own copy when that one
 * was written at the same time or later. Only after the owner's 200 does the sender delete its
 * copy, and only if the copy is still the one it sent (store_delete_if). So at every moment an
 * object is on its sender, its owner or both, and a newer write never loses to an older copy.
 *
 * One walker thread feeds a bounded queue that REB_WORKERS senders drain; a newer rebalance
 * aborts the running one (its workers stop between objects) before it starts. A rebalance
 * that ends with errors is started again by the primary (proxy/rebalance.c) until it ends
 * clean, which is what makes it resumable: the walk itself is idempotent.
 *
 * Get-from-neighbor: an owner that misses an object asks the other targets which of them holds
 * it (GET /v1/internal/lom), and the holder with the latest copy sends it over with the same
 * PUT as a rebalance (POST /v1/internal/send). The GET is then served from the local copy.
 */
#include "cluster/cluster.h"
#include "cluster/meta.h"
#include "common/json.h"
#include "common/hrw.h"
#include "common/log.h"
#include "common/names.h"
#include "common/util.h"
#include "net/fanout.h"
#include "net/net.h"
#include "target/internal.h"
#include "target/rebalance.h"
#include "xact/xact.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define REB_WORKERS 4
#define REB_QUEUE 256
#define REB_ATTEMPTS 3
#define REB_SMAP_WAIT_MS 10000
#define REB_KEEP_NS (3600LL * 1000000000LL)
#define REB_DROP_GRACE_MS 2000

typedef struct {
    char *bck, *obj;
} reb_item_t;

typedef struct {
    xact_t *x;
    smap_t *smap;
    int64_t smap_version;
    reb_item_t q[REB_QUEUE];
    size_t head, n;
    bool walk_done;
    pthread_mutex_t lock;
    pthread_cond_t not_empty, not_full;
    /* copies the owners acknowledged, deleted at the end (NUL-separated bck, obj, atime, cs) */
    FILE *dels;
    pthread_mutex_t del_lock;
} reb_t;

static pthread_mutex_t cur_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cur_cond = PTHREAD_COND_INITIALIZER;
static xact_t *cur; /* the running rebalance (referenced), or NULL */

/* ---------------------------------------------------------------- sending one object */

char *reb_lom_header(const lom_md_t *md)
{
    buf_t b;
    buf_init(&b);
    lom_md_encode(md, &b);
    buf_append(&b, "", 1);
    char *enc = url_encode(b.base, "");
    buf_dispose(&b);
    return enc;
}

int reb_lom_parse(const char *h, lom_md_t *md)
{
    lom_md_init(md);
    if (h == NULL)
        return -1;
    size_t n;
    char *raw = url_decode(h, strlen(h), &n);
    int rc = raw ? lom_md_decode(raw, n, md) : -1;
    free(raw);
    return rc;
}

/* The copy of bck/obj that the owner acknowledged, deleted now (sent == NULL) or later. */
static void drop_copy(const char *bck, const char *obj, const lom_md_t *md)
{
    int drc = store_delete_if(bck, obj, md);
    if (drc < 0 && drc != -ENOENT)
        LOCUS_LOG(LOG_VERBOSE, "[reb] ais://%s/%s changed while it was sent: kept", bck, obj);
}

/* Sends local bck/obj to owner_url. On 0 the sent copy's metadata is in *sent (caller disposes;
 * lom_md_init'ed when the object was gone). */
static int send_object(xact_t *x, const char *owner_url, const char *bck, const char *obj,
                       lom_md_t *sent, char *err, size_t errlen)
{
    int fd;
    lom_md_t md;
    lom_md_init(sent);
    int rc = store_open(bck, obj, &fd, &md);
    if (rc == -ENOENT)
        return 0; /* deleted or moved meanwhile */
    if (rc < 0) {
        snprintf(err, errlen, "cannot open ais://%s/%s: %s", bck, obj, strerror(-rc));
        return 500;
    }
    char *lom = reb_lom_header(&md);
    char *enc = url_encode(obj, "/");
    char *url = xasprintf("%s/v1/objects/%s/%s?provider=ais&reb=%s", owner_url, bck, enc,
                          x ? x->id : "gfn");
    httpc_header_t hdrs[] = {{REB_HDR_LOM, lom}, {NULL, NULL}};
    httpc_resp_t r;
    httpc_resp_init(&r);
    rc = httpc_put_fd(url, fd, md.size, hdrs, 0, &r);
    close(fd);
    int status = 0;
    if (rc < 0) {
        snprintf(err, errlen, "sending ais://%s/%s to %s: %s", bck, obj, owner_url, r.err);
        status = 503;
    } else if (r.status != 200) {
        snprintf(err, errlen, "sending ais://%s/%s to %s: %ld %.*s", bck, obj, owner_url, r.status,
                 (int)(r.body.len < 400 ? r.body.len : 400), r.body.base ? r.body.base : "");
        status = (int)r.status;
    } else {
        if (x) {
            x->out_objs++;
            x->out_bytes += md.size;
        }
        *sent = md;
        lom_md_init(&md);
    }
    httpc_resp_dispose(&r);
    lom_md_dispose(&md);
    free(url);
    free(enc);
    free(lom);
    return status;
}

int reb_send_object(xact_t *x, const char *owner_url, const char *bck, const char *obj, char *err,
                    size_t errlen)
{
    lom_md_t sent;
    int st = send_object(x, owner_url, bck, obj, &sent, err, errlen);
    if (st == 0 && sent.cs_type[0])
        drop_copy(bck, obj, &sent);
    lom_md_dispose(&sent);
    return st;
}

/* ---------------------------------------------------------------- the job */

static void cond_wait_ms(pthread_cond_t *c, pthread_mutex_t *m, int ms)
{
    struct timespec until = time_deadline_ms(ms);
    pthread_cond_timedwait(c, m, &until);
}

static void queue_push(reb_t *rb, const char *bck, const char *obj)
{
    pthread_mutex_lock(&rb->lock);
    while (rb->n == REB_QUEUE && !rb->x->abort)
        cond_wait_ms(&rb->not_full, &rb->lock, 200); /* an abort does not signal */
    if (!rb->x->abort) {
        reb_item_t *it = &rb->q[(rb->head + rb->n) % REB_QUEUE];
        it->bck = xstrdup(bck);
        it->obj = xstrdup(obj);
        rb->n++;
        pthread_cond_signal(&rb->not_empty);
    }
    pthread_mutex_unlock(&rb->lock);
}

/* The next item (false when the walk is done and the queue empty, or on abort). */
static bool queue_pop(reb_t *rb, reb_item_t *out)
{
    pthread_mutex_lock(&rb->lock);
    while (rb->n == 0 && !rb->walk_done && !rb->x->abort)
        cond_wait_ms(&rb->not_empty, &rb->lock, 200);
    bool ok = rb->n > 0 && !rb->x->abort;
    if (ok) {
        *out = rb->q[rb->head];
        rb->head = (rb->head + 1) % REB_QUEUE;
        rb->n--;
        pthread_cond_signal(&rb->not_full);
    }
    pthread_mutex_unlock(&rb->lock);
    return ok;
}

typedef struct {
    reb_t *rb;
    const char *bck;
} walk_arg_t;

static int walk_cb(const char *name, const char *fqn, void *arg)
{
    walk_arg_t *wa = arg;
    (void)fqn;
    if (wa->rb->x->abort)
        return 1;
    wa->rb->x->loc_objs++;
    const snode_t *owner = smap_owner(wa->rb->smap, wa->bck, name);
    if (owner && strcmp(owner->id, cluster_self_id()) != 0)
        queue_push(wa->rb, wa->bck, name);
    return 0;
}

/* Remembers an acknowledged copy for deletion at the end (or deletes it now without a spool). */
static void defer_drop(reb_t *rb, const char *bck, const char *obj, const lom_md_t *md)
{
    pthread_mutex_lock(&rb->del_lock);
    bool ok = rb->dels && fprintf(rb->dels, "%s%c%s%c%lld%c%s%c", bck, 0, obj, 0,
                                  (long long)md->atime_ns, 0, md->cs_val, 0) > 0;
    pthread_mutex_unlock(&rb->del_lock);
    if (!ok)
        drop_copy(bck, obj, md);
}

static void send_item(reb_t *rb, const reb_item_t *it)
{
    const snode_t *owner = smap_owner(rb->smap, it->bck, it->obj);
    if (owner == NULL || strcmp(owner->id, cluster_self_id()) == 0)
        return;
    char err[768];
    int st = 0;
    lom_md_t sent;
    lom_md_init(&sent);
    for (int a = 0; a < REB_ATTEMPTS && !rb->x->abort; a++) {
        if (a)
            sleep_ms(300 * a);
        lom_md_dispose(&sent);
        st = send_object(rb->x, owner->url, it->bck, it->obj, &sent, err, sizeof(err));
        if (st == 0 || (st >= 400 && st < 500 && st != 408 && st != 429))
            break; /* done, or refused for good */
    }
    if (st == 0 && sent.cs_type[0])
        defer_drop(rb, it->bck, it->obj, &sent);
    else if (st && !rb->x->abort)
        xact_add_obj_error(rb->x, it->obj, err, st);
    lom_md_dispose(&sent);
}

/* One NUL-terminated field of the spool into buf; false at the end or on a field too long. */
static bool read_field(FILE *f, char *buf, size_t len)
{
    size_t n = 0;
    int ch;
    while ((ch = fgetc(f)) != EOF && ch != 0)
        if (n + 1 < len)
            buf[n++] = (char)ch;
    buf[n] = '\0';
    return ch == 0;
}

/* The end of a rebalance: after REB_DROP_GRACE_MS (a listing that asked the owner before an
 * object arrived and its sender after the drop would miss it), deletes the copies the owners
 * acknowledged, each only if it did not change since. */
static void drop_acknowledged(reb_t *rb)
{
    if (rb->dels == NULL || ftell(rb->dels) <= 0)
        return;
    for (int waited = 0; waited < REB_DROP_GRACE_MS && !rb->x->abort; waited += 100)
        sleep_ms(100);
    rewind(rb->dels);
    char bck[NAME_MAX_BUCKET + 2], at[32], cs[64];
    char *obj = xmalloc(NAME_MAX_OBJECT + 2);
    while (!rb->x->abort && read_field(rb->dels, bck, sizeof(bck)) &&
           read_field(rb->dels, obj, NAME_MAX_OBJECT + 2) && read_field(rb->dels, at, sizeof(at)) &&
           read_field(rb->dels, cs, sizeof(cs))) {
        lom_md_t md;
        lom_md_init(&md);
        md.atime_ns = atoll(at);
        snprintf(md.cs_val, sizeof(md.cs_val), "%s", cs);
        drop_copy(bck, obj, &md);
    }
    free(obj);
}

static void *worker_main(void *arg)
{
    reb_t *rb = arg;
    reb_item_t it;
    while (queue_pop(rb, &it)) {
        send_item(rb, &it);
        free(it.bck);
        free(it.obj);
    }
    httpc_thread_cleanup();
    return NULL;
}

/* Waits until this node has the smap the job was started for (the primary starts the job
 * right after it pushed the map). */
static smap_t *wait_smap(int64_t version, xact_t *x)
{
    for (int waited = 0;; waited += 50) {
        smap_t *s = smap_get();
        if (s->version >= version || waited >= REB_SMAP_WAIT_MS || x->abort)
            return s;
        smap_put(s);
        sleep_ms(50);
    }
}

static void walk_all(reb_t *rb)
{
    bmd_t *b = bmd_get();
    const char *bck;
    json_t *v;
    json_object_foreach(b->items, bck, v)
    {
        walk_arg_t wa = {rb, bck};
        if (!rb->x->abort)
            store_walk(bck, "", walk_cb, &wa);
    }
    bmd_put(b);
}

static void *reb_main(void *arg)
{
    reb_t *rb = arg;
    xact_t *x = rb->x;
    rb->smap = wait_smap(rb->smap_version, x);
    if (rb->smap->version < rb->smap_version && !x->abort)
        xact_set_err(x, "the cluster map of this rebalance did not arrive", true);
    LOCUS_LOG(LOG_NOTICE, "[reb] %s started (smap v%lld)", x->id, (long long)rb->smap->version);
    pthread_t th[REB_WORKERS];
    int nw = 0;
    for (int i = 0; i < REB_WORKERS && !x->aborted; i++)
        if (pthread_create(&th[nw], NULL, worker_main, rb) == 0)
            nw++;
    if (!x->aborted)
        walk_all(rb);
    pthread_mutex_lock(&rb->lock);
    rb->walk_done = true;
    pthread_cond_broadcast(&rb->not_empty);
    pthread_mutex_unlock(&rb->lock);
    for (int i = 0; i < nw; i++)
        pthread_join(th[i], NULL);
    drop_acknowledged(rb); /* an abort leaves them: the next rebalance sends and drops again */
    if (rb->dels)
        fclose(rb->dels);
    for (; rb->n > 0; rb->n--) { /* left by an abort */
        free(rb->q[rb->head].bck);
        free(rb->q[rb->head].obj);
        rb->head = (rb->head + 1) % REB_QUEUE;
    }
    if (x->errors && !x->abort) {
        char *e = xasprintf("%lld object(s) could not be moved", (long long)x->errors);
        xact_set_err(x, e, false);
        free(e);
    }
    xact_finish(x);
    LOCUS_LOG(LOG_NOTICE,
              "[reb] %s %s: %lld walked, %lld sent (%lld bytes), %lld received, %lld "
              "errors",
              x->id, x->abort ? "aborted" : "finished", (long long)x->loc_objs,
              (long long)x->out_objs, (long long)x->out_bytes, (long long)x->in_objs,
              (long long)x->errors);
    smap_put(rb->smap);
    pthread_mutex_destroy(&rb->lock);
    pthread_mutex_destroy(&rb->del_lock);
    pthread_cond_destroy(&rb->not_empty);
    pthread_cond_destroy(&rb->not_full);
    free(rb);
    pthread_mutex_lock(&cur_lock);
    if (cur == x)
        cur = NULL;
    pthread_cond_broadcast(&cur_cond);
    pthread_mutex_unlock(&cur_lock);
    xact_gc(REB_KEEP_NS);
    xact_put(x);
    return NULL;
}

/* Asks the running rebalance (if any) to stop; cur_lock held. One that already ended keeps its
 * result: it only has to leave cur. */
static void abort_current_locked(const char *why)
{
    if (cur && !cur->abort && cur->end_ns == 0) {
        cur->abort = true;
        xact_set_err(cur, why, false);
    }
}

/* Aborts the running rebalance (if any) and waits for it to end; cur_lock held. */
static void stop_current_locked(const char *why)
{
    while (cur) {
        abort_current_locked(why);
        pthread_cond_wait(&cur_cond, &cur_lock);
    }
}

/* The spool of acknowledged copies: an unnamed file in the data dir (nothing to clean after a
 * crash; it may be big, so not in memory), or NULL (then copies are deleted at once). */
static FILE *spool_open(void)
{
    int fd = open(cluster_config()->data_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w+") : NULL;
    if (f == NULL && fd >= 0)
        close(fd);
    if (f == NULL)
        LOCUS_LOG(LOG_WARNING, "[reb] no spool in %s: acknowledged copies go at once",
                  cluster_config()->data_dir);
    return f;
}

/* N of a rebalance id "g<N>" (0 for anything else). */
static long long reb_number(const char *id)
{
    return id[0] == 'g' ? atoll(id + 1) : 0;
}

void reb_start(http_req_t *req, const char *id, json_t *msg)
{
    int64_t sv = json_int64(json_object_get(msg, "smap_version"));
    pthread_mutex_lock(&cur_lock);
    /* The checks run again after every wait for the current one to end: two starts may wait
     * together, and the newer one may take cur first (then the older must not abort it). */
    for (;;) {
        xact_t *old = xact_find(id);
        if (old) {
            xact_put(old);
            pthread_mutex_unlock(&cur_lock);
            http_reply_text(req, 200, id); /* started already (a retried start) */
            return;
        }
        if (cur && reb_number(cur->id) > reb_number(id)) { /* an older start arrived late */
            LOCUS_LOG(LOG_NOTICE, "[reb] %s ignored: %s runs", id, cur->id);
            pthread_mutex_unlock(&cur_lock);
            http_reply_text(req, 200, id);
            return;
        }
        if (cur == NULL)
            break;
        abort_current_locked("aborted by a newer rebalance");
        pthread_cond_wait(&cur_cond, &cur_lock);
    }
    reb_t *rb = xcalloc(1, sizeof(*rb));
    rb->x = xact_create(id, "rebalance", "", "");
    rb->smap_version = sv;
    pthread_mutex_init(&rb->lock, NULL);
    pthread_mutex_init(&rb->del_lock, NULL);
    pthread_cond_init(&rb->not_empty, NULL);
    pthread_cond_init(&rb->not_full, NULL);
    rb->dels = spool_open();
    cur = rb->x;
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&th, &attr, reb_main, rb);
    pthread_attr_destroy(&attr);
    pthread_mutex_unlock(&cur_lock);
    if (rc != 0) {
        http_reply_error(req, 500, "cannot start the rebalance thread");
        return;
    }
    http_reply_text(req, 200, id);
}

void reb_shutdown(void)
{
    pthread_mutex_lock(&cur_lock);
    stop_current_locked("aborted: the target is stopping");
    pthread_mutex_unlock(&cur_lock);
}

/* ---------------------------------------------------------------- tombstones */

/* Deletes remembered for a while, so that a copy a rebalance was sending when the object was
 * deleted does not come back: direct-mapped by the uname's digest (a collision forgets the
 * older delete, which only reopens that rare race). */
#define TOMB_SLOTS 4096
#define TOMB_KEEP_NS (300LL * 1000000000LL)
static struct {
    uint64_t digest;
    int64_t at_ns;
} tombs[TOMB_SLOTS];
static pthread_mutex_t tomb_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t uname_digest(const char *bck, const char *obj)
{
    char *u = uname_make(bck, obj);
    uint64_t d = hrw_digest_str(u);
    free(u);
    return d;
}

void reb_tombstone(const char *bck, const char *obj)
{
    uint64_t d = uname_digest(bck, obj);
    pthread_mutex_lock(&tomb_lock);
    tombs[d % TOMB_SLOTS].digest = d;
    tombs[d % TOMB_SLOTS].at_ns = time_now_ns();
    pthread_mutex_unlock(&tomb_lock);
}

bool reb_deleted_after(const char *bck, const char *obj, int64_t written_ns)
{
    uint64_t d = uname_digest(bck, obj);
    int64_t now = time_now_ns();
    pthread_mutex_lock(&tomb_lock);
    bool dead = tombs[d % TOMB_SLOTS].digest == d && tombs[d % TOMB_SLOTS].at_ns > written_ns &&
                now - tombs[d % TOMB_SLOTS].at_ns < TOMB_KEEP_NS;
    pthread_mutex_unlock(&tomb_lock);
    return dead;
}

/* ---------------------------------------------------------------- get from neighbor */

fanout_req_t *reb_to_others(const smap_t *s, const char *method, const char *path, size_t *n)
{
    fanout_req_t *rq = xcalloc(s->n_targets + 1, sizeof(fanout_req_t));
    size_t k = 0;
    for (size_t i = 0; i < s->n_targets; i++) {
        const snode_t *t = &s->targets[i];
        if (strcmp(t->id, cluster_self_id()) == 0 || (t->flags & SNODE_DOWN))
            continue;
        rq[k].method = method;
        rq[k].url = xasprintf("%s%s", t->url, path);
        rq[k].arg = (void *)t;
        k++;
    }
    *n = k;
    return rq;
}

/* Whether a miss may not be a real one: 503 with err when HRW over every target but those in
 * maintenance picks a DOWN one (the object may be there), or a target did not answer; 0 when
 * the miss is real. */
static int miss_status(const smap_t *s, const char *bck, const char *obj, const fanout_req_t *rq,
                       size_t n, char *err, size_t errlen)
{
    /* its owner among the targets that are not being drained, or among all of them (it may
     * have been placed before a maintenance that did not finish moving it) */
    const snode_t *o = smap_owner_skip(s, bck, obj, SNODE_MAINT | SNODE_DECOMM);
    if (o == NULL || !(o->flags & SNODE_DOWN))
        o = smap_owner_skip(s, bck, obj, 0);
    if (o && (o->flags & SNODE_DOWN)) {
        snprintf(err, errlen, "ais://%s/%s is unavailable: its target %s is down", bck, obj, o->id);
        return 503;
    }
    for (size_t i = 0; i < n; i++)
        if (rq[i].rc < 0 || rq[i].resp.status >= 500) {
            snprintf(err, errlen, "ais://%s/%s is unavailable: target %s did not answer", bck, obj,
                     ((const snode_t *)rq[i].arg)->id);
            return 503;
        }
    return 0;
}

int reb_gfn(const char *bck, const char *obj, char *err, size_t errlen)
{
    smap_t *s = smap_get();
    char *eb = url_encode(bck, ""), *eo = url_encode(obj, "");
    char *path = xasprintf("/v1/internal/lom?bck=%s&obj=%s", eb, eo);
    size_t n;
    fanout_req_t *rq = reb_to_others(s, "GET", path, &n);
    fanout_run(rq, n, &(fanout_opts_t){.timeout_ms = 5000, .attempts = 2, .retry_delay_ms = 100});
    const snode_t *best = NULL;
    int64_t best_at = -1;
    for (size_t i = 0; i < n; i++) {
        if (rq[i].rc < 0 || rq[i].resp.status != 200)
            continue;
        json_t *j = json_loadb(rq[i].resp.body.base, rq[i].resp.body.len, 0, NULL);
        int64_t at = json_int64(json_object_get(j, "atime"));
        json_decref(j);
        if (at > best_at) {
            best_at = at;
            best = rq[i].arg;
        }
    }
    int status = 404;
    if (best) {
        char *eid = url_encode(cluster_self_id(), "");
        char *u = xasprintf("%s/v1/internal/send?bck=%s&obj=%s&to=%s", best->url, eb, eo, eid);
        httpc_resp_t r;
        httpc_resp_init(&r);
        int rc = httpc_do("POST", u, NULL, 0, NULL, 0, &r);
        status = rc < 0 ? 503 : r.status == 200 ? 0 : (int)r.status;
        if (status)
            snprintf(err, errlen, "getting ais://%s/%s from target %s: %s", bck, obj, best->id,
                     rc < 0        ? r.err
                     : r.body.base ? r.body.base
                                   : "failed");
        else
            LOCUS_LOG(LOG_VERBOSE, "[gfn] ais://%s/%s moved here from %s", bck, obj, best->id);
        httpc_resp_dispose(&r);
        free(u);
        free(eid);
    } else if (miss_status(s, bck, obj, rq, n, err, errlen)) {
        status = 503;
    }
    fanout_free(rq, n);
    free(path);
    free(eb);
    free(eo);
    smap_put(s);
    return status;
}

int reb_delete_others(const char *bck, const char *obj, bool *deleted, char *err, size_t errlen)
{
    smap_t *s = smap_get();
    char *eo = url_encode(obj, "/");
    char *path = xasprintf("/v1/objects/%s/%s?provider=ais&local=true", bck, eo);
    size_t n;
    fanout_req_t *rq = reb_to_others(s, "DELETE", path, &n);
    fanout_run(rq, n, &(fanout_opts_t){.timeout_ms = 5000, .attempts = 2, .retry_delay_ms = 100});
    int status = 0;
    for (size_t i = 0; i < n; i++) {
        if (rq[i].rc == 0 && rq[i].resp.status == 200)
            *deleted = true;
        else if (rq[i].rc < 0 || rq[i].resp.status != 404) {
            snprintf(err, errlen, "deleting ais://%s/%s on target %s: %s", bck, obj,
                     ((const snode_t *)rq[i].arg)->id, rq[i].rc < 0 ? rq[i].resp.err : "failed");
            status = 503;
        }
    }
    if (!*deleted && status == 0)
        status = miss_status(s, bck, obj, rq, n, err, errlen);
    fanout_free(rq, n);
    free(path);
    free(eo);
    smap_put(s);
    return status;
}

bool reb_query_names(http_req_t *req, const char **bck, const char **obj)
{
    *bck = http_query(req, "bck");
    *obj = http_query(req, "obj");
    const char *why = *bck && *obj ? name_check(*bck, *obj) : "bck and obj are required";
    if (why)
        http_reply_error(req, 400, "%s: %s", req->path, why);
    return why == NULL;
}

void reb_handle_lom(http_req_t *req)
{
    const char *bck, *obj;
    if (!reb_query_names(req, &bck, &obj))
        return;
    int fd;
    lom_md_t md;
    int rc = store_open(bck, obj, &fd, &md);
    if (rc < 0) {
        http_reply_error(req, rc == -ENOENT ? 404 : 500, "ais://%s/%s: %s", bck, obj,
                         strerror(-rc));
        return;
    }
    close(fd);
    http_reply_json(req, 200,
                    json_pack("{s:I, s:I, s:s, s:I}", "atime", (json_int_t)md.atime_ns, "size",
                              (json_int_t)md.size, "cs", md.cs_val, "version",
                              (json_int_t)md.version));
    lom_md_dispose(&md);
}

void reb_handle_send(http_req_t *req)
{
    const char *bck, *obj, *to = http_query(req, "to");
    if (!reb_query_names(req, &bck, &obj))
        return;
    smap_t *s = smap_get();
    const snode_t *t = to ? smap_find(s, to) : NULL;
    char err[768];
    if (t == NULL || t->is_proxy) {
        http_reply_error(req, 400, "send: target \"%s\" is not in the cluster map", to ? to : "");
    } else if (!store_exists(bck, obj)) {
        http_reply_error(req, 404, "%s: ais://%s/%s does not exist", cluster_self_name(), bck, obj);
    } else {
        int st = reb_send_object(NULL, t->url, bck, obj, err, sizeof(err));
        if (st)
            http_reply_error(req, (unsigned)st, "%s", err);
        else
            http_reply(req, 200, NULL, "", 0);
    }
    smap_put(s);
}
