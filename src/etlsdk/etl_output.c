/*
 * etl_output.c - the transform's output object: a buffer (static, copied, owned) or bytes written
 * in pieces, and the hand-off of written bytes to the connection thread once the response
 * streams.
 *
 * DESIGN
 * The transform runs on a worker thread; the response is sent by the connection's MHD thread.
 * Both meet in locus_etl_output_t under o->mu:
 * - The connection thread waits until the job is JOB_DONE or JOB_STREAMING.
 * - locus_etl_write() appends to o->buf. When o->may_stream and more than STREAM_AT bytes are
 *   pending while still JOB_RUNNING, it switches the job to JOB_STREAMING and wakes the
 *   connection thread, which queues a chunked response whose reader drains buf[off..len).
 *   While streaming, a writer blocks when more than PENDING_MAX bytes are pending.
 * - Cancellation (client gone, server stopping) sets o->cancelled; blocked writers return
 *   LOCUS_ETL_ECANCELED.
 * - A ws connection thread (etl_ws.c) cannot wait on a condition variable while it also polls
 *   its socket, so it sets o->wake_fd: every wake-up of o->cond also bumps that eventfd.
 */
#include "etlsdk/internal.h"
#include "common/util.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void locus_etl__output_init(locus_etl_output_t *o, bool may_stream)
{
    memset(o, 0, sizeof(*o));
    pthread_mutex_init(&o->mu, NULL);
    pthread_cond_init(&o->cond, NULL);
    o->state = JOB_QUEUED;
    o->may_stream = may_stream;
    o->wake_fd = -1;
}

void locus_etl__output_signal(locus_etl_output_t *o)
{
    pthread_cond_broadcast(&o->cond);
    if (o->wake_fd >= 0) {
        /* eventfd counter: the ws connection thread polls it instead of waiting on cond. */
        uint64_t one = 1;
        ssize_t rc;
        do
            rc = write(o->wake_fd, &one, sizeof(one));
        while (rc < 0 && errno == EINTR);
    }
}

static void release_data(locus_etl_output_t *o)
{
    if (o->kind == OUT_OWNED && o->data != NULL) {
        if (o->free_fn != NULL)
            o->free_fn((void *)o->data);
        else
            free((void *)o->data);
    }
    o->data = NULL;
    o->len = 0;
    o->free_fn = NULL;
    o->kind = OUT_NONE;
}

void locus_etl__output_dispose(locus_etl_output_t *o)
{
    if (o->kind != OUT_STREAM)
        release_data(o);
    free(o->buf);
    free(o->err_msg);
    pthread_cond_destroy(&o->cond);
    pthread_mutex_destroy(&o->mu);
}

void locus_etl__output_cancel(locus_etl_output_t *o)
{
    pthread_mutex_lock(&o->mu);
    o->cancelled = true;
    locus_etl__output_signal(o);
    pthread_mutex_unlock(&o->mu);
}

void locus_etl__output_bytes(locus_etl_output_t *o, const char **p, size_t *n)
{
    if (o->kind == OUT_STREAM) {
        *p = o->buf + o->off;
        *n = o->len - o->off;
    } else if (o->kind == OUT_NONE) {
        *p = "";
        *n = 0;
    } else {
        *p = o->data;
        *n = o->len;
    }
}

static int set_data(locus_etl_output_t *o, locus_etl__out_kind_t kind, const void *p, size_t n,
                    void (*free_fn)(void *))
{
    if (o == NULL)
        return LOCUS_ETL_EINVAL;
    pthread_mutex_lock(&o->mu);
    if (o->kind == OUT_STREAM) {
        pthread_mutex_unlock(&o->mu);
        if (kind == OUT_OWNED && p != NULL)
            free_fn ? free_fn((void *)p) : free((void *)p);
        return LOCUS_ETL_EINVAL;
    }
    release_data(o);
    o->kind = kind;
    o->data = p != NULL ? p : "";
    if (p == NULL && kind == OUT_OWNED)
        o->kind = OUT_BORROW; /* nothing to free */
    o->len = p != NULL ? n : 0;
    o->free_fn = free_fn;
    pthread_mutex_unlock(&o->mu);
    return LOCUS_ETL_OK;
}

int locus_etl_set_static(locus_etl_output_t *out, const void *p, size_t n)
{
    return set_data(out, OUT_BORROW, p, n, NULL);
}

int locus_etl_set_copy(locus_etl_output_t *out, const void *p, size_t n)
{
    if (out == NULL)
        return LOCUS_ETL_EINVAL;
    void *c = malloc(n ? n : 1);
    if (c == NULL)
        return LOCUS_ETL_ENOMEM;
    if (n)
        memcpy(c, p, n);
    return set_data(out, OUT_OWNED, c, n, free);
}

int locus_etl_set_owned(locus_etl_output_t *out, void *p, size_t n, void (*free_fn)(void *))
{
    return set_data(out, OUT_OWNED, p, n, free_fn);
}

int locus_etl_write(locus_etl_output_t *o, const void *p, size_t n)
{
    if (o == NULL)
        return LOCUS_ETL_EINVAL;
    pthread_mutex_lock(&o->mu);
    int rc = LOCUS_ETL_OK;
    if (o->kind != OUT_NONE && o->kind != OUT_STREAM) {
        rc = LOCUS_ETL_EINVAL;
        goto out;
    }
    o->kind = OUT_STREAM;
    while (o->state == JOB_STREAMING && !o->cancelled && o->len - o->off > LOCUS_ETL__PENDING_MAX)
        pthread_cond_wait(&o->cond, &o->mu);
    if (o->cancelled) {
        rc = LOCUS_ETL_ECANCELED;
        goto out;
    }
    if (n == 0)
        goto out;
    /* Compact before growing: sent bytes at the front are dead. */
    if (o->off > 0 && o->len + n > o->cap) {
        memmove(o->buf, o->buf + o->off, o->len - o->off);
        o->len -= o->off;
        o->off = 0;
    }
    if (o->len + n > o->cap) {
        size_t cap = o->cap ? o->cap : 64 * 1024;
        while (cap < o->len + n)
            cap *= 2;
        char *nb = realloc(o->buf, cap);
        if (nb == NULL) {
            o->oom = true;
            rc = LOCUS_ETL_ENOMEM;
            goto out;
        }
        o->buf = nb;
        o->cap = cap;
    }
    memcpy(o->buf + o->len, p, n);
    o->len += n;
    o->total += n;
    if (o->state == JOB_STREAMING) {
        locus_etl__output_signal(o);
    } else if (o->may_stream && o->state == JOB_RUNNING && o->len - o->off > LOCUS_ETL__STREAM_AT) {
        o->state = JOB_STREAMING;
        locus_etl__output_signal(o);
    }
out:
    pthread_mutex_unlock(&o->mu);
    return rc;
}

int locus_etl_printf(locus_etl_output_t *out, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return LOCUS_ETL_EINVAL;
    if ((size_t)n < sizeof(small))
        return locus_etl_write(out, small, (size_t)n);
    char *big = malloc((size_t)n + 1);
    if (big == NULL)
        return LOCUS_ETL_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = locus_etl_write(out, big, (size_t)n);
    free(big);
    return rc;
}

int locus_etl_set_error(locus_etl_output_t *out, int http_status, const char *fmt, ...)
{
    if (out == NULL)
        return LOCUS_ETL_ERROR;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&out->mu);
    free(out->err_msg);
    out->err_msg = strdup(msg);
    out->err_status = (http_status >= 400 && http_status <= 599) ? http_status : 0;
    pthread_mutex_unlock(&out->mu);
    return LOCUS_ETL_ERROR;
}

long locus_etl_read(locus_etl_reader_t *r, void *buf, size_t n)
{
    if (r == NULL || (buf == NULL && n > 0))
        return LOCUS_ETL_EINVAL;
    if (r->out != NULL) {
        pthread_mutex_lock(&r->out->mu);
        bool gone = r->out->cancelled;
        pthread_mutex_unlock(&r->out->mu);
        if (gone)
            return LOCUS_ETL_ECANCELED;
    }
    if (n > LONG_MAX)
        n = LONG_MAX;
    if (!r->use_fd) {
        uint64_t left = r->len - r->off;
        size_t k = left < n ? (size_t)left : n;
        if (k)
            memcpy(buf, r->mem + r->off, k);
        r->off += k;
        return (long)k;
    }
    for (;;) {
        ssize_t k = read(r->fd, buf, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return LOCUS_ETL_EIO;
        if (k == 0 && r->at_end != NULL) {
            int rc = r->at_end(r->end_arg);
            if (rc != 0)
                return rc;
        }
        r->off += (uint64_t)k;
        return (long)k;
    }
}
