/*
 * moss.c - GetBatch (AIStore's "moss", GET /v1/ml/moss[/<bck>]) on the target the proxy
 * chose: the entries of a MossReq, read here or from their owners, written in request order
 * into one archive (TAR, TGZ, ZIP or TAR.LZ4). docs/design.md §16, docs/protocol.md §1.14.
 *
 * DESIGN
 * A producer thread (tstream.c) writes the entries in request order. A local entry is opened
 * and copied into the archive. For the others, the batch opens at its start ONE request to
 * each other target that owns entries (signed intra-cluster GET /v1/internal/moss with all its
 * entries, in order): the owner answers a stream of frames "<status> <length>\n<bytes>", one per
 * entry, reading each as the connection takes the bytes (it resolves archpaths and ranges). A
 * thread per such target reads its stream into a ring of MOSS_RING bytes; the producer takes
 * each remote entry's frame from its target's ring when its turn comes, and copies its bytes
 * straight from the ring into the archive. Two round trips per target for the whole batch, the
 * owners reading ahead while this target writes: that is what makes a batch cheaper than as
 * many GETs. Memory: one ring per target, whatever the batch's length or its objects' sizes
 * (a ring full stops its reader, which stops the owner through TCP).
 * - Streaming (strm): the archive is the answer, sent as it is made. The answer starts only
 *   after the first MOSS_CLEAN_ENTRIES entries or MOSS_CLEAN_BYTES bytes of archive (held
 *   until then), so their errors are clean error replies; a later fatal error can only
 *   truncate the transfer (the client sees it as a failed transfer, never a short archive).
 * - Otherwise: the archive is spooled to an unnamed file on a mountpath, then sent as AIStore's
 *   multipart answer: part "metadata" (MossResp JSON: the size or error of every entry), part
 *   "archive". Any error before that is a clean error reply.
 * A missing object (or archived file) fails the batch with 404 naming it, unless coer: then it
 * is an empty member "__404__/<name>" and its MossOut says why.
 */
#include "cluster/cluster.h"
#include "cluster/meta.h"
#include "common/log.h"
#include "common/moss.h"
#include "common/util.h"
#include "target/arch.h"
#include "target/internal.h"
#include "xact/xact.h"

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <xxhash.h>

#define MOSS_RING (1u << 20)         /* per other target: its frames read ahead */
#define MOSS_OUT_BLOCK (256u * 1024) /* an owner's frames go out in blocks of this */
#define MOSS_CLEAN_ENTRIES 64        /* see DESIGN: errors that are clean error replies */
#define MOSS_CLEAN_BYTES (1u << 20)
#define MOSS_RECV_BUF (256L * 1024) /* what the reader of a stream gets at a time */
#define MOSS_STALL_S 120            /* an owner's stream that moves no byte for this long is dead */
#define MOSS_PROTO "locus-moss"     /* what GET /v1/internal/moss upgrades its connection to */

typedef struct {
    int status;       /* 0: ready; 404: missing; else the batch fails with it */
    char *err;        /* owned, with status */
    int fd;           /* local object, -1 */
    arch_reader_t *r; /* local archived file */
    int64_t off, len; /* what of the object (or archived file, or remote frame) goes out */
    int64_t mtime;    /* seconds */
} slot_t;

/* Entries owned here made into frames (GET /v1/internal/moss, or this target's own entries of
 * its GetBatch). */
typedef struct {
    moss_req_t r;
    int (*emit)(void *arg, const void *p, size_t n); /* where the frames go: 0 or -1 */
    void *emit_arg;
    buf_t out; /* frames not sent yet (at most MOSS_OUT_BLOCK and a frame header) */
    int sock;  /* an upgraded connection's socket: files go out by sendfile(2); else -1 */
} mint_t;

/* A target's stream of frames for this batch, read ahead by a thread of its own. */
typedef struct {
    char *url, *body; /* the request: its entries of the batch, in order */
    pthread_t th;
    bool running;
    pthread_mutex_t lock; /* guards head..why */
    pthread_cond_t cond;  /* bytes read, bytes taken, done, cancel */
    char *ring;
    size_t cap, head, len; /* the unread bytes: len from head, wrapping at cap */
    bool done;             /* the stream ended: no byte after these */
    bool rwait, wwait;     /* the producer waits for bytes; the reader, for room */
    size_t need;           /* with rwait: what the producer waits for (one wake-up for it) */
    tstream_t *flush;      /* flushed before the producer waits: the answer written so far */
    bool cancel;           /* the producer is done with it */
    char why[512];         /* when done: why the stream ended ("" for a complete answer) */
    buf_t refusal;         /* a non-200 answer's text (the reader's) */
    mint_t *local;         /* this target's own entries (their strings borrowed), else NULL */
} peer_t;

typedef struct {
    moss_req_t r;
    arch_fmt_t fmt;
    char uuid[24];
    tstream_t *ts;
    arch_writer_t *w;
    int tmpfd;   /* multipart: the archive, spooled */
    json_t *out; /* multipart: MossResp.out */
    bool live;   /* streaming: the answer started */
    buf_t pre;   /* streaming: the archive's first bytes until then */
    int *owner;  /* per entry: the index of its stream in peers */
    peer_t **peers;
    size_t npeers;
} moss_t;

static void moss_free(void *p)
{
    moss_t *m = p;
    moss_req_dispose(&m->r);
    json_decref(m->out);
    if (m->tmpfd >= 0)
        close(m->tmpfd);
    buf_dispose(&m->pre);
    free(m);
}

static void slot_dispose(slot_t *s)
{
    arch_close(s->r);
    if (s->fd >= 0)
        close(s->fd);
    free(s->err);
}

/* ---------------------------------------------------------------- local entries */

static void slot_local(const moss_in_t *in, slot_t *s)
{
    struct stat st;
    int rc = store_open_data(in->bucket, in->objname, &s->fd, &st);
    if (rc < 0) {
        s->fd = -1;
        s->status = rc == -ENOENT ? 404 : 500;
        s->err = xasprintf("ais://%s/%s: %s", in->bucket, in->objname,
                           rc == -ENOENT ? "does not exist" : strerror(-rc));
        return;
    }
    int64_t size = st.st_size;
    if (in->archpath) {
        char err[512];
        int st = arch_find(s->fd, in->archpath, &s->r, &size, err, sizeof(err));
        if (st) { /* not an archive, or not in it: a missing file, as AIStore has it */
            s->status = st == 500 ? 500 : 404;
            s->err = xasprintf("ais://%s/%s: %s", in->bucket, in->objname, err);
            return;
        }
    }
    if (moss_in_range(in, size, &s->off, &s->len) < 0) {
        s->status = 416;
        s->err = xasprintf("ais://%s/%s: not satisfiable range start=%" PRId64 ",length=%" PRId64
                           " (size %" PRId64 ")",
                           in->bucket, in->objname, in->start, in->length, size);
    }
}

/* Skips off bytes of an archived file (its reader is a stream). */
static int reader_skip(arch_reader_t *r, int64_t off)
{
    char buf[8192];
    while (off > 0) {
        ssize_t n = arch_read(r, buf, off < (int64_t)sizeof(buf) ? (size_t)off : sizeof(buf));
        if (n <= 0)
            return -1;
        off -= n;
    }
    return 0;
}

/* ---------------------------------------------------------------- the owner's side */

static void mint_free(void *p)
{
    mint_t *x = p;
    moss_req_dispose(&x->r);
    buf_dispose(&x->out);
    free(x);
}

static int mint_flush(mint_t *x)
{
    int rc = x->out.len ? x->emit(x->emit_arg, x->out.base, x->out.len) : 0;
    x->out.len = 0;
    return rc;
}

/* n bytes to the socket (flags: MSG_MORE when more follow at once): 0 or -1. */
static int sock_send(int fd, const char *p, size_t n, int flags)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL | flags);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* An upgraded connection: the frames held so far, then the slot's bytes straight from its file
 * (the page cache to the socket, no copy here). 0 or -1. */
static int mint_sendfile(mint_t *x, slot_t *s)
{
    if (sock_send(x->sock, x->out.base, x->out.len, MSG_MORE) < 0)
        return -1;
    x->out.len = 0;
    off_t off = (off_t)s->off;
    for (int64_t left = s->len; left > 0;) {
        ssize_t n = sendfile(x->sock, s->fd, &off, left < (1 << 30) ? (size_t)left : (1 << 30));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        left -= n;
    }
    return 0;
}

/* Appends a ready slot's bytes to the frames, sending full blocks as it goes (*sent: some
 * were). 0, or -1 (a read error, or the caller went away). */
static int mint_body(mint_t *x, slot_t *s, bool *sent)
{
    if (x->sock >= 0 && s->r == NULL) {
        *sent = true;
        return mint_sendfile(x, s);
    }
    if (s->r && reader_skip(s->r, s->off) < 0)
        return -1;
    int64_t left = s->len, off = s->off;
    while (left > 0) {
        if (x->out.len >= MOSS_OUT_BLOCK) {
            *sent = true;
            if (mint_flush(x) < 0)
                return -1;
        }
        size_t k = MOSS_OUT_BLOCK - x->out.len;
        k = left < (int64_t)k ? (size_t)left : k;
        char *p = x->out.base + x->out.len;
        ssize_t n = s->r ? arch_read(s->r, p, k) : pread(s->fd, p, k, (off_t)off);
        if (n < 0 && errno == EINTR && !s->r)
            continue;
        if (n <= 0)
            return -1;
        x->out.len += (size_t)n;
        off += n;
        left -= n;
    }
    return 0;
}

/* One entry's frame: "200 <length>\n<bytes>", else "<status> <length>\n<error text>". 0 or -1
 * (the answer is cut: a read error after some of the entry's bytes were sent). */
static int mint_entry(mint_t *x, const moss_in_t *in)
{
    slot_t s = {.fd = -1};
    slot_local(in, &s);
    int rc = 0;
    if (x->out.len >= MOSS_OUT_BLOCK)
        rc = mint_flush(x);
    size_t at = x->out.len;
    if (rc == 0 && s.status == 0) {
        buf_printf(&x->out, "200 %" PRId64 "\n", s.len);
        bool sent = false;
        if (mint_body(x, &s, &sent) < 0) {
            rc = sent ? -1 : 0; /* nothing of it left: its frame says why instead */
            x->out.len = at;
            s.status = 500;
            s.err = xasprintf("ais://%s/%s: read error", in->bucket, in->objname);
        }
    }
    if (rc == 0 && s.status) {
        size_t n = strlen(s.err) < MOSS_FRAME_ERR_MAX ? strlen(s.err) : MOSS_FRAME_ERR_MAX;
        buf_printf(&x->out, "%d %zu\n%.*s", s.status, n, (int)n, s.err);
    }
    slot_dispose(&s);
    return rc;
}

/* Every entry's frame, in order: 0 or -1 (the answer is cut). */
static int mint_all(mint_t *x)
{
    buf_reserve(&x->out, MOSS_OUT_BLOCK + 64);
    for (size_t i = 0; i < x->r.n; i++)
        if (mint_entry(x, &x->r.in[i]) < 0)
            return -1;
    return mint_flush(x);
}

static int emit_stream(void *arg, const void *p, size_t n)
{
    return tstream_write(arg, p, n);
}

static int mint_produce(tstream_t *ts, void *p)
{
    mint_t *x = p;
    x->emit = emit_stream;
    x->emit_arg = ts;
    pthread_setname_np(pthread_self(), "moss-frames");
    if (tstream_start(ts, -1, "application/octet-stream") < 0)
        return -1;
    return mint_all(x);
}

static int emit_sock(void *arg, const void *p, size_t n)
{
    return sock_send(((mint_t *)arg)->sock, p, n, 0);
}

/* The session of an upgraded GET /v1/internal/moss: the frames straight to the socket, on the
 * session's own thread. Returning ends the connection (the assembling target reads its end). */
static void mint_session(void *arg, int fd, const char *extra, size_t n)
{
    (void)extra; /* the request had its body: nothing follows it */
    (void)n;
    mint_t *x = arg;
    pthread_setname_np(pthread_self(), "moss-frames");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* MHD turned it off */
    struct timeval tv = {MOSS_STALL_S, 0}; /* a reader that takes nothing for this long is gone */
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    x->sock = fd;
    x->emit = emit_sock;
    x->emit_arg = x;
    if (mint_all(x) < 0)
        LOCUS_LOG(LOG_NOTICE, "%s: GetBatch frames for %zu entries cut (the reader went away?)",
                  cluster_self_name(), x->r.n);
}

/* GET /v1/internal/moss (a node: the target assembling a GetBatch): the entries of the MossReq
 * body, all owned here, answered in order as a stream of frames (see mint_entry) while the
 * connection takes them: over the connection itself when the request asked to upgrade it to
 * MOSS_PROTO (file bytes by sendfile), else as a streamed HTTP answer. docs/protocol.md §1.14. */
void moss_internal(http_req_t *req)
{
    mint_t *x = xcalloc(1, sizeof(*x));
    x->sock = -1;
    char err[1024];
    if (moss_req_parse(req->body.base, req->body.len, NULL, &x->r, err, sizeof(err)) < 0) {
        http_reply_error(req, 400, "%s", err);
        mint_free(x);
        return;
    }
    const char *up = http_header(req, "Upgrade");
    if (up && strcasecmp(up, MOSS_PROTO) == 0)
        http_upgrade(req, MOSS_PROTO, mint_session, x, mint_free);
    else
        tstream_run(req, mint_produce, x, mint_free);
}

/* ---------------------------------------------------------------- other targets' streams */

/* The filling side of q's ring (its reader thread): fn(arg, p, max) puts up to max bytes at p
 * and says how many (> 0), 0 at its end, -1 when it failed (errno). Waits while the ring is
 * full. 0 at fn's end, else -1 (errno ECANCELED: the producer is done with q). */
static int ring_fill(peer_t *q, ssize_t (*fn)(void *arg, char *p, size_t max), void *arg)
{
    for (;;) {
        pthread_mutex_lock(&q->lock);
        while (q->cap - q->len < q->cap / 4 && !q->cancel) { /* room in big pieces */
            q->wwait = true;
            pthread_cond_wait(&q->cond, &q->lock);
            q->wwait = false;
        }
        bool cancel = q->cancel;
        size_t tail = (q->head + q->len) % q->cap, room = q->cap - q->len;
        pthread_mutex_unlock(&q->lock);
        if (cancel) {
            errno = ECANCELED;
            return -1;
        }
        /* free space: only this thread touches it until it adds it */
        ssize_t n = fn(arg, q->ring + tail, room < q->cap - tail ? room : q->cap - tail);
        if (n <= 0)
            return n == 0 ? 0 : -1;
        pthread_mutex_lock(&q->lock);
        q->len += (size_t)n;
        if (q->rwait && q->len >= q->need)
            pthread_cond_signal(&q->cond);
        pthread_mutex_unlock(&q->lock);
    }
}

typedef struct {
    const char *p;
    size_t n;
} span_t;

static ssize_t fill_copy(void *arg, char *p, size_t max)
{
    span_t *s = arg;
    size_t k = s->n < max ? s->n : max;
    memcpy(p, s->p, k);
    s->p += k;
    s->n -= k;
    return (ssize_t)k;
}

static ssize_t fill_recv(void *arg, char *p, size_t max)
{
    ssize_t n;
    while ((n = recv(*(int *)arg, p, max, 0)) < 0 && errno == EINTR)
        ;
    return n;
}

/* The reader thread: bytes of a 200 into the ring (waiting while it is full). */
static int peer_on_body(void *arg, long status, const void *p, size_t n)
{
    peer_t *q = arg;
    if (status != 200) {
        if (q->refusal.len < 400)
            buf_append(&q->refusal, p, n < 400 ? n : 400);
        return 0;
    }
    span_t sp = {p, n};
    return ring_fill(q, fill_copy, &sp);
}

/* The reader thread of an upgraded stream: straight from the socket into the ring, to its end
 * (why set when it broke). */
static void peer_recv(peer_t *q, int fd)
{
    if (ring_fill(q, fill_recv, &fd) < 0 && errno != ECANCELED) {
        int e = errno;
        pthread_mutex_lock(&q->lock);
        snprintf(q->why, sizeof(q->why), "broke its answer: %s",
                 e == EAGAIN ? "no byte for too long" : strerror(e));
        pthread_mutex_unlock(&q->lock);
    }
}

static const httpc_header_t peer_hdrs[] = {{"Content-Type", "application/json"}, {NULL, NULL}};

/* Why q's stream ended without its frames: no answer (err), or an answer other than the
 * stream's (status and the start of its text). */
static void peer_refused(peer_t *q, const char *err, long status, const char *text, size_t n)
{
    pthread_mutex_lock(&q->lock);
    if (err)
        snprintf(q->why, sizeof(q->why), "did not answer: %s", err);
    else
        snprintf(q->why, sizeof(q->why), "answered %ld: %.*s", status, (int)(n < 400 ? n : 400),
                 text ? text : "");
    pthread_mutex_unlock(&q->lock);
}

/* The owner's frames over the request's own connection, upgraded (http:// owners): 0, or -2
 * when the owner must be asked another way. */
static int peer_upgraded(peer_t *q)
{
    buf_t extra;
    buf_init(&extra);
    httpc_resp_t r;
    httpc_resp_init(&r);
    int fd = httpc_upgrade(q->url, peer_hdrs, q->body, strlen(q->body), MOSS_PROTO,
                           MOSS_STALL_S * 1000, &r, &extra);
    if (fd >= 0) {
        if (extra.len == 0 || peer_on_body(q, 200, extra.base, extra.len) == 0)
            peer_recv(q, fd);
        close(fd);
    } else if (fd == -1) {
        peer_refused(q, r.err, r.status, r.body.base, r.body.len);
    }
    buf_dispose(&extra);
    httpc_resp_dispose(&r);
    return fd == -2 ? -2 : 0;
}

/* The owner's frames as a streamed HTTP answer, through libcurl (https:// owners). */
static void peer_streamed(peer_t *q)
{
    httpc_cb_t cb = {.on_body = peer_on_body,
                     .arg = q,
                     .body = q->body,
                     .body_len = strlen(q->body),
                     .stall_s = MOSS_STALL_S,
                     .buffer_size = MOSS_RECV_BUF};
    httpc_resp_t r;
    httpc_resp_init(&r);
    int rc = httpc_do_cb("GET", q->url, peer_hdrs, 0, &cb, &r);
    if (rc < 0 || r.status != 200) /* the refusal's text is the reader's (peer_on_body) */
        peer_refused(q, rc < 0 ? (r.err ? r.err : "?") : NULL, r.status, q->refusal.base,
                     q->refusal.len);
    httpc_resp_dispose(&r);
}

static void *peer_main(void *arg)
{
    peer_t *q = arg;
    pthread_setname_np(pthread_self(), "moss-peer");
    if (peer_upgraded(q) == -2)
        peer_streamed(q);
    pthread_mutex_lock(&q->lock);
    q->done = true;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
    httpc_thread_cleanup();
    return NULL;
}

static int emit_ring(void *arg, const void *p, size_t n)
{
    return peer_on_body(arg, 200, p, n);
}

/* The entries this target owns, made into frames on a thread of their own as an owner makes
 * its answer, into a ring: their reads overlap the writing of the archive like the others'. */
static void *peer_local_main(void *arg)
{
    peer_t *q = arg;
    pthread_setname_np(pthread_self(), "moss-local");
    mint_t *x = q->local;
    x->emit = emit_ring;
    x->emit_arg = q;
    int rc = mint_all(x);
    pthread_mutex_lock(&q->lock);
    if (rc < 0 && !q->cancel)
        snprintf(q->why, sizeof(q->why), "(this one) had a read error");
    q->done = true;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

/* Waits for unread bytes of q, want of them (up to a quarter of the ring) unless it ends first:
 * how many follow *p in the ring (> 0), or 0 at its end. */
static size_t peer_span(peer_t *q, const char **p, size_t want)
{
    size_t need = want < q->cap / 4 ? (want ? want : 1) : q->cap / 4;
    pthread_mutex_lock(&q->lock);
    if (q->flush && q->len < need && !q->done) { /* about to wait: the client gets what is made */
        pthread_mutex_unlock(&q->lock);
        tstream_flush(q->flush);
        pthread_mutex_lock(&q->lock);
    }
    q->need = need;
    while (q->len < q->need && !q->done) {
        q->rwait = true;
        pthread_cond_wait(&q->cond, &q->lock);
        q->rwait = false;
    }
    size_t n = q->len < q->cap - q->head ? q->len : q->cap - q->head;
    *p = q->ring + q->head;
    pthread_mutex_unlock(&q->lock);
    return n;
}

static void peer_take(peer_t *q, size_t n)
{
    pthread_mutex_lock(&q->lock);
    q->head = (q->head + n) % q->cap;
    q->len -= n;
    if (q->wwait && q->cap - q->len >= q->cap / 4)
        pthread_cond_signal(&q->cond);
    pthread_mutex_unlock(&q->lock);
}

/* Hands the next n bytes of q to fn(arg) as they come: 0, or -1 (the stream ended first, or fn
 * failed). */
static int peer_read(peer_t *q, int64_t n, int (*fn)(void *, const void *, size_t), void *arg)
{
    while (n > 0) {
        const char *p;
        size_t k = peer_span(q, &p, n < (int64_t)q->cap ? (size_t)n : q->cap);
        if (k == 0)
            return -1;
        k = (int64_t)k < n ? k : (size_t)n;
        int rc = fn(arg, p, k);
        peer_take(q, k);
        if (rc < 0)
            return -1;
        n -= (int64_t)k;
    }
    return 0;
}

/* The next frame header line of q (without its '\n') into line: 0, or -1 (too long, or the
 * stream ended). */
static int peer_line(peer_t *q, char *line, size_t max)
{
    size_t got = 0;
    for (;;) {
        const char *p;
        size_t k = peer_span(q, &p, 1);
        if (k == 0)
            return -1;
        const char *nl = memchr(p, '\n', k);
        size_t use = nl ? (size_t)(nl - p) : k;
        if (got + use >= max)
            return -1;
        memcpy(line + got, p, use);
        got += use;
        peer_take(q, nl ? use + 1 : use);
        if (nl) {
            line[got] = '\0';
            return 0;
        }
    }
}

static int sink_buf(void *arg, const void *p, size_t n)
{
    buf_append(arg, p, n);
    return 0;
}

/* The next frame of q, for entry in, into s: a member to copy from the ring (s->len bytes), or
 * the entry's error; or the stream is broken (500). */
static void peer_frame(peer_t *q, const moss_in_t *in, slot_t *s)
{
    char line[MOSS_FRAME_HDR_MAX + 1];
    int64_t len = 0;
    int st = peer_line(q, line, sizeof(line)) < 0 ? -2 : moss_frame_hdr(line, strlen(line), &len);
    buf_t text;
    buf_init(&text);
    if (st > 0 && st != 200 && peer_read(q, len, sink_buf, &text) < 0)
        st = -2;
    if (st == 200) {
        s->len = len;
        s->mtime = time_now_ns() / 1000000000;
    } else if (st > 0) { /* not an archive (400) is a missing file, as AIStore has it */
        s->status = st == 400 ? 404 : st;
        s->err = xasprintf("%s", text.base);
    } else {
        pthread_mutex_lock(&q->lock);
        s->status = 500;
        s->err = xasprintf("ais://%s/%s: its target %s", in->bucket, in->objname,
                           st == -1            ? "answered badly (a malformed frame)"
                           : q->why[0] != '\0' ? q->why
                                               : "ended its answer early");
        pthread_mutex_unlock(&q->lock);
    }
    buf_dispose(&text);
}

static void peer_free(peer_t *q)
{
    if (q == NULL)
        return;
    pthread_mutex_lock(&q->lock);
    q->cancel = true;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
    if (q->running)
        pthread_join(q->th, NULL);
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->cond);
    buf_dispose(&q->refusal);
    if (q->local) {
        free(q->local->r.in); /* the entries' strings are the batch's */
        buf_dispose(&q->local->out);
        free(q->local);
    }
    free(q->ring);
    free(q->url);
    free(q->body);
    free(q);
}

/* A stream read by its own thread: another target's answer to url for its entries ins, or (url
 * NULL) this target's own entries, local. npeers: how many streams the batch has. */
static peer_t *peer_new(const char *url, json_t *ins, mint_t *local, size_t npeers)
{
    peer_t *q = xcalloc(1, sizeof(*q));
    if (url) {
        json_t *j = json_pack("{s:o}", "in", ins);
        q->body = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        q->url = xasprintf("%s/v1/internal/moss", url);
    }
    q->local = local;
    /* about MOSS_RING in all, and never under a quarter of it per stream */
    q->cap = npeers > 4 ? MOSS_RING / 4 : MOSS_RING / npeers;
    q->ring = xmalloc(q->cap);
    buf_init(&q->refusal);
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->cond, NULL);
    int rc = pthread_create(&q->th, NULL, url ? peer_main : peer_local_main, q);
    q->running = rc == 0;
    if (rc != 0) {
        q->done = true;
        snprintf(q->why, sizeof(q->why), "could not be asked: %s", strerror(rc));
    }
    return q;
}

/* Which target owns each entry, and one stream per target that owns some: this one's made
 * here (index nt), the others' asked of them. */
static void peers_start(moss_t *m)
{
    smap_t *sm = smap_get();
    size_t nt = sm->n_targets;
    json_t **ins = xcalloc(nt ? nt : 1, sizeof(json_t *));
    m->owner = xcalloc(m->r.n, sizeof(int));
    mint_t *loc = xcalloc(1, sizeof(*loc));
    loc->sock = -1;
    loc->r.in = xcalloc(m->r.n, sizeof(moss_in_t));
    size_t npeers = 0;
    for (size_t i = 0; i < m->r.n; i++) {
        const moss_in_t *in = &m->r.in[i];
        const snode_t *o = smap_owner(sm, in->bucket, in->objname);
        if (o == NULL || strcmp(o->id, cluster_self_id()) == 0) {
            loc->r.in[loc->r.n++] = *in; /* borrowed */
            m->owner[i] = (int)nt;
            continue;
        }
        size_t t = (size_t)(o - sm->targets);
        if (ins[t] == NULL) {
            ins[t] = json_array();
            npeers++;
        }
        json_t *e = json_pack("{s:s, s:s, s:I, s:I}", "bucket", in->bucket, "objname", in->objname,
                              "start", (json_int_t)in->start, "length", (json_int_t)in->length);
        if (in->archpath)
            json_object_set_new(e, "archpath", json_string(in->archpath));
        json_array_append_new(ins[t], e);
        m->owner[i] = (int)t;
    }
    npeers += loc->r.n > 0;
    m->peers = xcalloc(nt + 1, sizeof(peer_t *));
    m->npeers = nt + 1;
    for (size_t t = 0; t < nt; t++)
        if (ins[t])
            m->peers[t] = peer_new(sm->targets[t].url, ins[t], NULL, npeers);
    smap_put(sm);
    free(ins);
    if (loc->r.n > 0) {
        m->peers[nt] = peer_new(NULL, NULL, loc, npeers);
    } else {
        free(loc->r.in);
        free(loc);
    }
}

static void peers_stop(moss_t *m)
{
    for (size_t t = 0; t < m->npeers; t++)
        peer_free(m->peers[t]);
    free(m->peers);
    free(m->owner);
    m->peers = NULL;
    m->owner = NULL;
}

/* ---------------------------------------------------------------- writing */

static int sink_file(void *arg, const void *p, size_t n)
{
    moss_t *m = arg;
    return write_all(m->tmpfd, p, n) < 0 ? -1 : 0;
}

/* Streaming: the answer starts with the bytes held so far. 0 or -1 (the client went away). */
static int go_live(moss_t *m)
{
    if (m->live)
        return 0;
    m->live = true;
    int rc = tstream_start(m->ts, -1, arch_content_type(m->fmt));
    if (rc == 0 && m->pre.len)
        rc = tstream_write(m->ts, m->pre.base, m->pre.len);
    buf_dispose(&m->pre);
    return rc;
}

static int sink_stream(void *arg, const void *p, size_t n)
{
    moss_t *m = arg;
    if (!m->live && m->pre.len + n <= MOSS_CLEAN_BYTES) {
        if (m->pre.cap == 0)
            buf_reserve(&m->pre, MOSS_CLEAN_BYTES);
        buf_append(&m->pre, p, n);
        return 0;
    }
    return go_live(m) < 0 ? -1 : tstream_write_more(m->ts, p, n);
}

static void out_add(moss_t *m, const moss_in_t *in, int64_t size, const char *err)
{
    if (m->out == NULL)
        return;
    json_t *o = json_pack("{s:s, s:s, s:s, s:I}", "objname", in->objname, "bucket", in->bucket,
                          "provider", "ais", "size", (json_int_t)size);
    if (in->archpath)
        json_object_set_new(o, "archpath", json_string(in->archpath));
    if (in->opaque)
        json_object_set_new(o, "opaque", json_string(in->opaque));
    if (err)
        json_object_set_new(o, "err_msg", json_string(err));
    json_array_append_new(m->out, o);
}

static int sink_writer(void *arg, const void *p, size_t n)
{
    return arch_writer_data(arg, p, n);
}

/* Writes one entry whose frame was read from q (or its missing marker). 0, or the batch's
 * failure status. */
static int write_slot(moss_t *m, const moss_in_t *in, slot_t *s, peer_t *q)
{
    bool missing = s->status == 404 && m->r.coer;
    if (s->status && !missing)
        return s->status;
    char *name = moss_name_in_arch(&m->r, in, missing);
    int64_t len = missing ? 0 : s->len;
    int rc = arch_writer_begin(m->w, name, len, missing ? time_now_ns() / 1000000000 : s->mtime);
    free(name);
    if (rc == 0 && !missing) {
        rc = peer_read(q, s->len, sink_writer, m->w);
        if (rc < 0 && arch_writer_error(m->w)[0] == '\0') {
            s->status = 500; /* the stream broke in the middle of the member */
            s->err =
                xasprintf("ais://%s/%s: its target's answer ended early", in->bucket, in->objname);
            return 500;
        }
    }
    out_add(m, in, len, missing ? s->err : NULL);
    return rc < 0 ? 500 : 0;
}

/* A fatal error: a clean error reply when nothing was sent yet, else a truncated answer. */
static int moss_fail(moss_t *m, int status, const char *err)
{
    if (tstream_started(m->ts))
        LOCUS_LOG(LOG_WARNING, "%s: GetBatch %s failed after its start: %s", cluster_self_name(),
                  m->uuid, err);
    else
        tstream_fail(m->ts, (unsigned)status, "GetBatch: %s", err);
    return -1;
}

/* Every entry in order: local ones read here, the others taken from their targets' streams.
 * 0 or -1 (answered by moss_fail). */
static int moss_entries(moss_t *m)
{
    peers_start(m);
    for (size_t t = 0; m->r.strm && t < m->npeers; t++)
        if (m->peers[t])
            m->peers[t]->flush = m->ts;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < m->r.n; i++) {
        const moss_in_t *in = &m->r.in[i];
        peer_t *q = m->peers[m->owner[i]];
        slot_t s = {.fd = -1};
        peer_frame(q, in, &s);
        int st = write_slot(m, in, &s, q);
        if (st != 0)
            rc = moss_fail(m, st, s.status ? s.err : arch_writer_error(m->w));
        else if (m->r.strm && i + 1 == MOSS_CLEAN_ENTRIES && go_live(m) < 0)
            rc = -1; /* the client went away */
        slot_dispose(&s);
    }
    peers_stop(m);
    return rc;
}

/* The multipart answer: MossResp, then the spooled archive. */
static int send_multipart(moss_t *m, int64_t size)
{
    char bnd[61];
    snprintf(bnd, sizeof(bnd), "%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%012" PRIx64,
             (uint64_t)random_u64(), (uint64_t)random_u64(), (uint64_t)random_u64(),
             (uint64_t)(random_u64() & 0xffffffffffffULL));
    json_t *resp = json_pack("{s:s, s:O}", "uuid", m->uuid, "out", m->out);
    char *meta = json_dumps(resp, JSON_COMPACT);
    json_decref(resp);
    char *h1 = xasprintf("--%s\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\n%s\n",
                         bnd, meta);
    char *h2 = xasprintf("\r\n--%s\r\nContent-Disposition: form-data; name=\"archive\"; "
                         "filename=\"%s%s\"\r\nContent-Type: application/octet-stream\r\n\r\n",
                         bnd, m->uuid, arch_fmt_ext(m->fmt));
    char *tail = xasprintf("\r\n--%s--\r\n", bnd);
    char *ct = xasprintf("multipart/mixed; boundary=%s", bnd);
    int64_t clen = (int64_t)(strlen(h1) + strlen(h2) + strlen(tail)) + size;
    int rc = tstream_start(m->ts, clen, ct);
    if (rc == 0)
        rc = tstream_write(m->ts, h1, strlen(h1)) || tstream_write(m->ts, h2, strlen(h2)) ? -1 : 0;
    char *buf = xmalloc(64 * 1024);
    for (int64_t off = 0; rc == 0 && off < size;) {
        ssize_t n = pread(m->tmpfd, buf, 64 * 1024, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        rc = n <= 0 || tstream_write(m->ts, buf, (size_t)n) < 0 ? -1 : 0;
        off += n > 0 ? n : 0;
    }
    if (rc == 0)
        rc = tstream_write(m->ts, tail, strlen(tail));
    free(buf);
    free(ct);
    free(tail);
    free(h2);
    free(h1);
    free(meta);
    return rc;
}

static int spool_open(void)
{
    mpset_t *s = mpath_get();
    int fd = ec_tmp_open(s->en[0]);
    mpath_put(s);
    return fd;
}

static int moss_produce(tstream_t *ts, void *p)
{
    moss_t *m = p;
    m->ts = ts;
    pthread_setname_np(pthread_self(), "moss-tar");
    char err[512];
    if (!m->r.strm) {
        m->out = json_array();
        if ((m->tmpfd = spool_open()) < 0)
            return moss_fail(m, 500, "cannot open a spool file on a mountpath");
    }
    /* streamed: the pieces go to the stream's ring as they come (one copy, not two) */
    m->w = arch_writer_new(m->fmt, m->r.strm, m->r.strm ? sink_stream : sink_file, m, err,
                           sizeof(err));
    if (m->w == NULL)
        return moss_fail(m, 500, err);
    int rc = moss_entries(m);
    if (arch_writer_finish(m->w, rc == 0) < 0 && rc == 0)
        rc = moss_fail(m, 500, "cannot finish the archive");
    m->w = NULL;
    if (rc == 0 && m->r.strm)
        rc = go_live(m);
    if (rc == 0 && !m->r.strm) {
        off_t size = lseek(m->tmpfd, 0, SEEK_END);
        rc = size < 0 ? moss_fail(m, 500, "spool file") : send_multipart(m, size);
    }
    return rc;
}

/* A client following the proxy's signed redirect sends the body the proxy checked: its hash is
 * in the signed query (mbh). */
static bool body_is_signed_one(http_req_t *req, const trust_t *who)
{
    if (who->kind != TRUST_REDIRECT)
        return true;
    const char *mbh = http_query(req, "mbh");
    char want[17];
    snprintf(want, sizeof(want), "%016llx",
             (unsigned long long)XXH64(req->body.base ? req->body.base : "", req->body.len, 0));
    return mbh && strcmp(mbh, want) == 0;
}

void moss_handle(http_req_t *req, const trust_t *who, const char *bck)
{
    if (strcmp(req->method, "GET") != 0) {
        http_reply_error(req, 405, "GetBatch: expecting GET, not %s", req->method);
        return;
    }
    moss_t *m = xcalloc(1, sizeof(*m));
    m->tmpfd = -1;
    char err[1024];
    int prc = moss_req_parse(req->body.base, req->body.len, bck, &m->r, err, sizeof(err));
    if (prc < 0 || arch_fmt_parse(m->r.mime, &m->fmt) < 0) {
        if (prc == 0) /* parsed: the format was wrong */
            snprintf(err, sizeof(err),
                     "GetBatch: invalid output format \"%s\" (expecting .tar, .tgz, .tar.gz, "
                     ".zip or .tar.lz4)",
                     m->r.mime);
        http_reply_error(req, req->body_too_large ? 413 : 400, "%s", err);
        moss_free(m);
        return;
    }
    int st = body_is_signed_one(req, who) ? 0 : 401;
    if (st)
        snprintf(err, sizeof(err), "GetBatch: the body is not the one the proxy redirected");
    for (size_t i = 0; st == 0 && i < m->r.n; i++)
        if (i == 0 || strcmp(m->r.in[i].bucket, m->r.in[i - 1].bucket) != 0)
            st = trust_require(who, m->r.in[i].bucket, AUTH_ACE_GET, err, sizeof(err));
    if (st) {
        http_reply_error(req, (unsigned)st, "%s", err);
        moss_free(m);
        return;
    }
    xact_new_id(m->uuid, sizeof(m->uuid));
    tstream_run(req, moss_produce, m, moss_free);
}
