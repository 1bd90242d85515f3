/*
 * http_stream.c - response bodies produced by another thread, sent without blocking an I/O
 * thread (net.h).
 *
 * DESIGN
 * A pipe joins the producer (blocking writes: it waits while the client is behind) and MHD's
 * content reader on the I/O thread (non-blocking reads). When the pipe is empty the reader
 * suspends the connection and marks the stream parked; the producer's next write, or its end,
 * resumes it. Both the mark and the final re-read of the pipe happen under the stream's lock,
 * and the producer checks the mark under the same lock after writing, so a wake-up is never
 * lost. The stream is freed when both sides are done with it: the producer (http_stream_end)
 * and the response (MHD's free callback, or http_stream_cancel when never sent).
 */
#include "net/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#define STREAM_BLOCK (64u * 1024)
#define STREAM_PIPE_MIN (64u * 1024) /* a pipe's capacity (Linux's default) */
/* A bigger pipe, so the producer and the I/O thread wait for each other less often; 64 pages
 * only: Linux counts pipe pages per user (soft limit 16384 by default, beyond which every new
 * pipe of the user gets 2 pages), and all daemons of a host may share one user. */
#define STREAM_PIPE (256u * 1024)

struct http_stream_s {
    pthread_mutex_t lock;
    int pfd[2];                  /* [0] read by the I/O thread, [1] written by the producer */
    struct MHD_Connection *conn; /* set when sent; the connection outlives its response */
    http_server_t *srv;
    size_t cap;  /* the pipe's capacity: what one write may fill */
    bool parked; /* the reader suspended conn until the producer writes or ends */
    bool ok;     /* the producer's verdict, valid once pfd[1] is closed */
    int refs;    /* producer + response */
};

static void unref(http_stream_t *st)
{
    pthread_mutex_lock(&st->lock);
    bool last = --st->refs == 0;
    pthread_mutex_unlock(&st->lock);
    if (!last)
        return;
    if (st->pfd[0] >= 0)
        close(st->pfd[0]);
    if (st->pfd[1] >= 0)
        close(st->pfd[1]);
    pthread_mutex_destroy(&st->lock);
    free(st);
}

http_stream_t *http_stream_new(void)
{
    http_stream_t *st = xcalloc(1, sizeof(*st));
    if (pipe2(st->pfd, O_CLOEXEC) < 0) {
        int e = errno;
        free(st);
        errno = e;
        return NULL;
    }
    fcntl(st->pfd[0], F_SETFL, fcntl(st->pfd[0], F_GETFL) | O_NONBLOCK);
    int cap = fcntl(st->pfd[1], F_SETPIPE_SZ, (int)STREAM_PIPE);
    st->cap = cap >= (int)STREAM_PIPE_MIN ? (size_t)cap : STREAM_PIPE_MIN;
    pthread_mutex_init(&st->lock, NULL);
    st->refs = 2;
    return st;
}

/* Resumes a parked connection (producer side). */
static void wake(http_stream_t *st)
{
    pthread_mutex_lock(&st->lock);
    if (st->parked) {
        st->parked = false;
        MHD_resume_connection(st->conn);
        http_server_unpark(st->srv);
    }
    pthread_mutex_unlock(&st->lock);
}

/* One non-blocking read: > 0 bytes, 0 at the end, -1 with errno (EAGAIN: nothing yet). */
static ssize_t pipe_read(http_stream_t *st, char *buf, size_t max)
{
    ssize_t n;
    do
        n = read(st->pfd[0], buf, max);
    while (n < 0 && errno == EINTR);
    return n;
}

static ssize_t end_of(http_stream_t *st)
{
    pthread_mutex_lock(&st->lock);
    bool ok = st->ok;
    pthread_mutex_unlock(&st->lock);
    return ok ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    http_stream_t *st = cls;
    ssize_t n = pipe_read(st, buf, max);
    if (n > 0)
        return n;
    if (n == 0)
        return end_of(st);
    if (errno != EAGAIN)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    pthread_mutex_lock(&st->lock);
    n = pipe_read(st, buf, max); /* again under the lock: see DESIGN */
    if (n < 0 && errno == EAGAIN) {
        if (!http_server_park(st->srv)) {
            pthread_mutex_unlock(&st->lock);
            return MHD_CONTENT_READER_END_WITH_ERROR; /* the server is stopping */
        }
        st->parked = true;
        MHD_suspend_connection(st->conn);
        pthread_mutex_unlock(&st->lock);
        return 0;
    }
    pthread_mutex_unlock(&st->lock);
    if (n > 0)
        return n;
    return n == 0 ? end_of(st) : MHD_CONTENT_READER_END_WITH_ERROR;
}

/* The response is gone (sent, or the client left): later producer writes fail with EPIPE. */
static void reader_free(void *cls)
{
    http_stream_t *st = cls;
    pthread_mutex_lock(&st->lock);
    close(st->pfd[0]);
    st->pfd[0] = -1;
    st->conn = NULL;
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

int http_stream_write(http_stream_t *st, const void *p, size_t n)
{
    /* A piece at a time, each no bigger than the pipe, with a wake-up after each: a write that
     * fills the pipe would otherwise wait for a reader parked until the write's end. */
    for (const char *c = p; n > 0;) {
        size_t k = n < st->cap ? n : st->cap;
        if (write_all(st->pfd[1], c, k) < 0)
            return -1; /* EPIPE: the response is gone */
        wake(st);
        c += k;
        n -= k;
    }
    return 0;
}

void http_stream_end(http_stream_t *st, bool ok)
{
    pthread_mutex_lock(&st->lock);
    st->ok = ok;
    close(st->pfd[1]); /* the reader sees the end only after ok is set */
    st->pfd[1] = -1;
    pthread_mutex_unlock(&st->lock);
    wake(st);
    unref(st);
}
