/*
 * tstream.c - answers produced by a thread of their own (see target/internal.h): the request's
 * worker starts the producer and waits for its first verdict (start, or an error before any
 * byte), then queues the answer and returns; the producer keeps writing through the
 * http_stream_t pipe at the client's pace (bounded memory).
 */
#include "common/util.h"
#include "target/internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { TS_PENDING = 0, TS_STARTED, TS_FAILED };

struct tstream_s {
    pthread_mutex_t lock; /* guards state..ctype and refs */
    pthread_cond_t cond;
    int state;
    unsigned status;
    char msg[1024];
    int64_t clen;
    char ctype[160];
    int refs; /* the worker and the producer */
    http_stream_t *st;
    tstream_fn fn;
    void *arg;
    void (*arg_free)(void *);
};

static void ts_unref(tstream_t *ts)
{
    pthread_mutex_lock(&ts->lock);
    bool last = --ts->refs == 0;
    pthread_mutex_unlock(&ts->lock);
    if (!last)
        return;
    pthread_mutex_destroy(&ts->lock);
    pthread_cond_destroy(&ts->cond);
    free(ts);
}

static void *ts_main(void *p)
{
    tstream_t *ts = p;
    int rc = ts->fn(ts, ts->arg);
    if (ts->arg_free)
        ts->arg_free(ts->arg);
    pthread_mutex_lock(&ts->lock);
    if (ts->state == TS_PENDING) {
        ts->state = TS_FAILED;
        ts->status = 500;
        snprintf(ts->msg, sizeof(ts->msg), "the answer ended before it started");
    }
    pthread_cond_broadcast(&ts->cond);
    pthread_mutex_unlock(&ts->lock);
    http_stream_end(ts->st, rc == 0);
    httpc_thread_cleanup();
    ts_unref(ts);
    return NULL;
}

void tstream_run(http_req_t *req, tstream_fn fn, void *arg, void (*arg_free)(void *))
{
    tstream_t *ts = xcalloc(1, sizeof(*ts));
    pthread_mutex_init(&ts->lock, NULL);
    pthread_cond_init(&ts->cond, NULL);
    ts->fn = fn;
    ts->arg = arg;
    ts->arg_free = arg_free;
    ts->refs = 2;
    ts->st = http_stream_new();
    pthread_t th;
    int rc = ts->st ? pthread_create(&th, NULL, ts_main, ts) : errno;
    if (rc != 0) {
        if (ts->st) {
            http_stream_cancel(ts->st);
            http_stream_end(ts->st, false);
        }
        if (arg_free)
            arg_free(arg);
        ts->refs = 1;
        ts_unref(ts);
        http_reply_error(req, 500, "cannot start a producer thread: %s", strerror(rc));
        return;
    }
    pthread_detach(th);
    pthread_mutex_lock(&ts->lock);
    while (ts->state == TS_PENDING)
        pthread_cond_wait(&ts->cond, &ts->lock);
    pthread_mutex_unlock(&ts->lock);
    if (ts->state == TS_STARTED) {
        http_stream_send(req, ts->st, 200, ts->clen, ts->ctype);
    } else {
        http_stream_cancel(ts->st);
        http_reply_error(req, ts->status, "%s", ts->msg);
    }
    ts_unref(ts);
}

int tstream_start(tstream_t *ts, int64_t clen, const char *ctype)
{
    pthread_mutex_lock(&ts->lock);
    if (ts->state == TS_PENDING) {
        ts->state = TS_STARTED;
        ts->clen = clen;
        snprintf(ts->ctype, sizeof(ts->ctype), "%s", ctype);
        pthread_cond_broadcast(&ts->cond);
    }
    int rc = ts->state == TS_STARTED ? 0 : -1;
    pthread_mutex_unlock(&ts->lock);
    return rc;
}

bool tstream_started(const tstream_t *ts)
{
    return ts->state == TS_STARTED; /* only the producer changes it from PENDING */
}

void tstream_fail(tstream_t *ts, unsigned status, const char *fmt, ...)
{
    pthread_mutex_lock(&ts->lock);
    if (ts->state == TS_PENDING) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ts->msg, sizeof(ts->msg), fmt, ap);
        va_end(ap);
        ts->status = status;
        ts->state = TS_FAILED;
        pthread_cond_broadcast(&ts->cond);
    }
    pthread_mutex_unlock(&ts->lock);
}

int tstream_write(tstream_t *ts, const void *p, size_t n)
{
    if (tstream_start(ts, -1, "application/octet-stream") < 0)
        return -1;
    return http_stream_write(ts->st, p, n);
}

int tstream_write_more(tstream_t *ts, const void *p, size_t n)
{
    if (tstream_start(ts, -1, "application/octet-stream") < 0)
        return -1;
    return http_stream_write_more(ts->st, p, n);
}

void tstream_flush(tstream_t *ts)
{
    http_stream_flush(ts->st);
}
