/*
 * inline.c - inline transforms: GET /v1/objects/<b>/<o>?etl_name=X streams the ETL server's
 * answer to the client as it arrives.
 *
 * DESIGN
 * The request's handler cannot both drive the ETL request and hand MHD the response body, so
 * a thread runs the transform and writes its bytes into an http_stream_t (net.h); once the
 * ETL's status is known, the handler sends the stream as the response (or answers the ETL's
 * error). Nothing is buffered beyond the stream's pipe, whatever the object size. If the
 * transform fails mid-stream the response ends with an error, so the client sees a truncated
 * transfer rather than a silently short object.
 */
#include "cluster/cluster.h"
#include "common/log.h"
#include "common/util.h"
#include "etl/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const etl_objects_t *objects;

void etl_inline_set_objects(const etl_objects_t *objs)
{
    objects = objs;
}

typedef struct {
    etl_inst_t *e;
    etl_pipeline_t *pl; /* later stages, or NULL */
    etl_req_t rq;
    char *bck, *obj, *args, *fqn;
    http_stream_t *st;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int status; /* guarded by lock: 0 until known */
    int64_t clen;
    char err[1024];
    int64_t out_bytes;
    pthread_t th;
    int refs; /* guarded by lock: the handler and the worker */
} inl_t;

static void inl_unref(inl_t *s)
{
    pthread_mutex_lock(&s->lock);
    bool last = --s->refs == 0;
    pthread_mutex_unlock(&s->lock);
    if (!last)
        return;
    if (s->rq.fd >= 0)
        close(s->rq.fd);
    etl_release(s->e);
    etl_pipeline_release(s->pl);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    free(s->bck);
    free(s->obj);
    free(s->args);
    free(s->fqn);
    free(s);
}

static int on_status(void *arg, int status, int64_t clen)
{
    inl_t *s = arg;
    pthread_mutex_lock(&s->lock);
    s->status = status;
    s->clen = clen;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

static int sink(void *arg, const void *p, size_t n)
{
    inl_t *s = arg;
    if (http_stream_write(s->st, p, n) < 0)
        return -1; /* the client went away */
    s->out_bytes += (int64_t)n;
    return 0;
}

/* The transform. After a 200 the response is the stream; otherwise the handler joins this
 * thread and answers the error. */
static void *worker(void *arg)
{
    inl_t *s = arg;
    etl_out_t out = {on_status, sink, s, 0};
    char err[1024] = "";
    int st = etl_transform(s->e, &s->rq, &out, err, sizeof(err));
    if (st == 200)
        etl_count(s->e, s->rq.size, s->out_bytes);
    pthread_mutex_lock(&s->lock);
    bool streaming = s->status == 200;
    if (s->status == 0)
        s->status = st;
    snprintf(s->err, sizeof(s->err), "%s", err);
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    http_stream_end(s->st, st == 200);
    if (streaming && st != 200)
        LOCUS_LOG(LOG_WARNING, "inline etl %s of ais://%s/%s failed mid-stream: %s", s->e->name,
                  s->bck, s->obj, err);
    inl_unref(s);
    httpc_thread_cleanup();
    return NULL;
}

/* Opens the local object for reading. 0, or an HTTP status with the request answered. */
static int open_object(http_req_t *req, const char *bck, const char *obj, int *fd, int64_t *size)
{
    int rc = objects->open(bck, obj, fd, size);
    if (rc == -ENOENT) {
        http_reply_error(req, 404, "%s: ais://%s/%s does not exist", cluster_self_name(), bck, obj);
        return 404;
    }
    if (rc < 0) {
        http_reply_error(req, 500, "cannot open ais://%s/%s: %s", bck, obj, strerror(-rc));
        return 500;
    }
    return 0;
}

void etl_inline_get(http_req_t *req, const char *bck, const char *obj, const char *etl_name,
                    const char *args, const char *pipeline)
{
    int status;
    char err[1024];
    etl_inst_t *e = etl_acquire(etl_name, &status, err, sizeof(err));
    if (e == NULL) {
        http_reply_error(req, (unsigned)status, "%s", err);
        return;
    }
    etl_pipeline_t *pl = NULL;
    if (pipeline && (pl = etl_pipeline_acquire(e, pipeline, &status, err, sizeof(err))) == NULL) {
        etl_release(e);
        http_reply_error(req, (unsigned)status, "%s", err);
        return;
    }
    etl_inline_serve_pipeline(req, e, pl, bck, obj, args);
}

void etl_inline_serve(http_req_t *req, etl_inst_t *e, const char *bck, const char *obj,
                      const char *args)
{
    etl_inline_serve_pipeline(req, e, NULL, bck, obj, args);
}

void etl_inline_serve_pipeline(http_req_t *req, etl_inst_t *e, etl_pipeline_t *pl, const char *bck,
                               const char *obj, const char *args)
{
    int fd;
    int64_t size;
    if (open_object(req, bck, obj, &fd, &size) != 0) {
        etl_pipeline_release(pl);
        etl_release(e);
        return;
    }
    char *fqn = etl_fqn_mode(e) ? objects->fqn(bck, obj) : NULL;
    if (e->comm == &etl_comm_hpull && pl == NULL) {
        /* hpull: the client fetches the transformed object from the ETL server itself (a
         * redirect cannot carry a pipeline's Ais-Node-Url: with one, the target asks the
         * server as in jobs and streams the answer). */
        etl_req_t rq = {.bck = bck, .obj = obj, .args = args, .fqn = fqn};
        char *loc = etl_object_url(e, &rq, true);
        http_reply_redirect(req, 307, loc);
        free(loc);
        free(fqn);
        close(fd);
        etl_release(e);
        return;
    }
    inl_t *s = xcalloc(1, sizeof(*s));
    s->fqn = fqn;
    s->e = e;
    s->bck = xstrdup(bck);
    s->obj = xstrdup(obj);
    s->args = args ? xstrdup(args) : NULL;
    s->pl = pl;
    s->rq = (etl_req_t){.bck = s->bck,
                        .obj = s->obj,
                        .fd = fd,
                        .size = size,
                        .args = s->args,
                        .fqn = s->fqn,
                        .pipeline = etl_pipeline_urls(pl)};
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    s->refs = 2;
    s->st = http_stream_new();
    int rc = s->st ? pthread_create(&s->th, NULL, worker, s) : errno;
    if (rc != 0) {
        if (s->st) {
            http_stream_cancel(s->st);
            http_stream_end(s->st, false);
        }
        s->refs = 1;
        inl_unref(s);
        http_reply_error(req, 500, "cannot start inline transform: %s", strerror(rc));
        return;
    }
    pthread_mutex_lock(&s->lock);
    while (s->status == 0)
        pthread_cond_wait(&s->cond, &s->lock);
    int st = s->status;
    int64_t clen = s->clen;
    pthread_mutex_unlock(&s->lock);
    if (st == 200) {
        pthread_detach(s->th);
        http_stream_send(req, s->st, 200, clen, "application/octet-stream");
        inl_unref(s);
        return;
    }
    /* Error (or 204) before any byte: wait for the worker and answer with its status. */
    http_stream_cancel(s->st);
    pthread_join(s->th, NULL);
    if (st == 204)
        http_reply(req, 204, NULL, "", 0);
    else
        http_reply_error(req, (unsigned)st, "%s", s->err);
    inl_unref(s);
}
