/*
 * http_stream.c - response bodies produced by another thread, sent without blocking an I/O
 * thread (net.h).
 *
 * DESIGN
 * A ring in memory joins the producer (it waits while the ring is full: the client is behind)
 * and MHD's content reader on the I/O thread (it never waits). Each side copies outside the
 * lock: the producer fills free space only it touches, the reader takes the bytes only it
 * consumes; the lock guards the counters and the flags. When the ring is empty the reader
 * suspends the connection and marks the stream parked; the producer's next bytes, or its end,
 * resume it. The mark and the reader's final look at the ring happen under the lock, and the
 * producer checks the mark under the same lock after adding bytes, so a wake-up is never lost.
 * A waiting producer says how much room it needs (up to a quarter of the ring), and the reader
 * wakes it only once that much is free: few wake-ups however small the pieces.
 * The stream is freed when both sides are done with it: the producer (http_stream_end) and the
 * response (MHD's free callback, or http_stream_cancel when never sent).
 *
 * A ring, not a pipe: on a virtual machine each system call is expensive, and a pipe costs two
 * per piece (write, read) plus its page allocations; GetBatch's answers spent 15% of the
 * targets' CPU in the pipe's code (docs/benchmarks.md, "GetBatch").
 */
#include "net/internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define STREAM_BLOCK (64u * 1024)
#define STREAM_RING (256u * 1024) /* bounded memory per stream, whatever the body's size */

struct http_stream_s {
    pthread_mutex_t lock;        /* guards head..refs */
    pthread_cond_t room;         /* the producer waits for free space */
    char *ring;                  /* STREAM_RING bytes */
    size_t head, len;            /* the unread bytes: len from head, wrapping */
    size_t want;                 /* > 0: the producer waits until this much is free */
    struct MHD_Connection *conn; /* set when sent; the connection outlives its response */
    http_server_t *srv;
    bool parked; /* the reader suspended conn until the producer writes or ends */
    bool ended;  /* the producer is done: no byte after these */
    bool ok;     /* the producer's verdict, valid once ended */
    bool gone;   /* the response is gone (sent, failed or cancelled): writes fail */
    int refs;    /* producer + response */
};

static void unref(http_stream_t *st)
{
    pthread_mutex_lock(&st->lock);
    bool last = --st->refs == 0;
    pthread_mutex_unlock(&st->lock);
    if (!last)
        return;
    pthread_mutex_destroy(&st->lock);
    pthread_cond_destroy(&st->room);
    free(st->ring);
    free(st);
}

http_stream_t *http_stream_new(void)
{
    http_stream_t *st = calloc(1, sizeof(*st));
    char *ring = malloc(STREAM_RING);
    if (st == NULL || ring == NULL) {
        free(st);
        free(ring);
        errno = ENOMEM;
        return NULL;
    }
    st->ring = ring;
    pthread_mutex_init(&st->lock, NULL);
    pthread_cond_init(&st->room, NULL);
    st->refs = 2;
    return st;
}

/* Resumes a parked connection (locked; producer side). */
static void wake_locked(http_stream_t *st)
{
    if (st->parked) {
        st->parked = false;
        MHD_resume_connection(st->conn);
        http_server_unpark(st->srv);
    }
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    http_stream_t *st = cls;
    pthread_mutex_lock(&st->lock);
    size_t head = st->head, len = st->len;
    if (len == 0) {
        ssize_t rc = 0;
        if (st->ended)
            rc = st->ok ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
        else if (!http_server_park(st->srv))
            rc = MHD_CONTENT_READER_END_WITH_ERROR; /* the server is stopping */
        else {
            st->parked = true;
            MHD_suspend_connection(st->conn);
        }
        pthread_mutex_unlock(&st->lock);
        return rc;
    }
    pthread_mutex_unlock(&st->lock);
    /* the bytes from head are this side's until it takes them: copied without the lock */
    size_t n = len < max ? len : max;
    size_t first = STREAM_RING - head < n ? STREAM_RING - head : n;
    memcpy(buf, st->ring + head, first);
    memcpy(buf + first, st->ring, n - first);
    pthread_mutex_lock(&st->lock);
    st->head = (head + n) % STREAM_RING;
    st->len -= n;
    if (st->want && STREAM_RING - st->len >= st->want)
        pthread_cond_signal(&st->room);
    pthread_mutex_unlock(&st->lock);
    return (ssize_t)n;
}

/* The response is gone (sent, or the client left): later producer writes fail. */
static void reader_free(void *cls)
{
    http_stream_t *st = cls;
    pthread_mutex_lock(&st->lock);
    st->gone = true;
    if (st->parked) { /* only if MHD dropped a suspended connection: nothing to resume */
        st->parked = false;
        http_server_unpark(st->srv);
    }
    st->conn = NULL;
    pthread_cond_broadcast(&st->room);
    pthread_mutex_unlock(&st->lock);
    unref(st);
}

void http_stream_send(http_req_t *req, http_stream_t *st, unsigned status, int64_t size,
                      const char *ctype)
{
    http_stream_send_hdrs(req, st, status, size, ctype, NULL);
}

void http_stream_send_hdrs(http_req_t *req, http_stream_t *st, unsigned status, int64_t size,
                           const char *ctype, const httpc_header_t *hdrs)
{
    st->conn = req->conn;
    st->srv = req->_server;
    struct MHD_Response *r = MHD_create_response_from_callback(
        size >= 0 ? (uint64_t)size : MHD_SIZE_UNKNOWN, STREAM_BLOCK, reader, st, reader_free);
    if (ctype)
        MHD_add_response_header(r, "Content-Type", ctype);
    for (const httpc_header_t *h = hdrs; h && h->name; h++)
        MHD_add_response_header(r, h->name, h->value);
    http_send(req, status, r);
}

void http_stream_cancel(http_stream_t *st)
{
    reader_free(st);
}

/* Adds p[0..n) to the ring, waiting for room; wakes a parked reader after each piece, or (lazy)
 * once a block is unread, and always before waiting for room. */
static int put(http_stream_t *st, const void *p, size_t n, bool lazy)
{
    for (const char *c = p; n > 0;) {
        pthread_mutex_lock(&st->lock);
        size_t need = n < STREAM_RING / 4 ? n : STREAM_RING / 4;
        while (!st->gone && STREAM_RING - st->len < need) {
            wake_locked(st);
            st->want = need;
            pthread_cond_wait(&st->room, &st->lock);
        }
        st->want = 0;
        bool gone = st->gone;
        size_t tail = (st->head + st->len) % STREAM_RING, room = STREAM_RING - st->len;
        pthread_mutex_unlock(&st->lock);
        if (gone) {
            errno = EPIPE;
            return -1;
        }
        /* free space is this side's until it adds it: copied without the lock */
        size_t k = n < room ? n : room;
        k = k < STREAM_RING - tail ? k : STREAM_RING - tail;
        memcpy(st->ring + tail, c, k);
        pthread_mutex_lock(&st->lock);
        st->len += k;
        if (!lazy || st->len >= STREAM_BLOCK)
            wake_locked(st);
        pthread_mutex_unlock(&st->lock);
        c += k;
        n -= k;
    }
    return 0;
}

int http_stream_write(http_stream_t *st, const void *p, size_t n)
{
    return put(st, p, n, false);
}

int http_stream_write_more(http_stream_t *st, const void *p, size_t n)
{
    return put(st, p, n, true);
}

void http_stream_flush(http_stream_t *st)
{
    pthread_mutex_lock(&st->lock);
    if (st->len > 0)
        wake_locked(st);
    pthread_mutex_unlock(&st->lock);
}

void http_stream_end(http_stream_t *st, bool ok)
{
    pthread_mutex_lock(&st->lock);
    st->ok = ok;
    st->ended = true;
    wake_locked(st);
    pthread_mutex_unlock(&st->lock);
    unref(st);
}
