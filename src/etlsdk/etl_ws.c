/*
 * etl_ws.c - GET /ws: the WebSocket transport of liblocus-etl (docs/protocol.md §3.4), over
 * libmicrohttpd's upgrade (etl_server.c does the handshake) and wslay for the framing.
 *
 * Wire format (docs/etl-framework.md, "WebSocket"):
 *   client -> server, per object: a control message (Binary or Text) holding a JSON object
 *     {"path", "etl_args", "fqn", "dst_addr" (v3.28), "pipeline" (current; string "u1,u2" or
 *     array)}, then, unless "fqn" is set, the object as one data message (any number of frames).
 *   server -> client, exactly one reply per request, in request order:
 *     Binary = the transformed bytes; Text "<n>" = delivered by direct put (n bytes);
 *     Text "ETL-ERROR <status> <message>" = the request failed (status as in HTTP).
 *
 * DESIGN
 * - One connection = one MHD connection thread running a poll() loop over the socket and an
 *   eventfd (wake_fd). All wslay calls happen on that thread. The eventfd is bumped by the
 *   worker pool (the job's output is signalled: streaming started, more bytes, done) and by
 *   locus_etl__ws_set_mode() (shutdown).
 * - wslay runs in no-buffering mode: frame chunks go straight into the request being received,
 *   kept in memory up to WS_SPILL_AT and beyond that in an unlinked temp file that is mapped
 *   read-only once the message is complete (the transform API wants one contiguous buffer).
 *   Replies are queued with wslay_event_queue_fragmented_msg; its read callback copies from the
 *   result (or from the output's pending bytes while the transform is still writing), so no
 *   reply is ever copied whole. Mapped input pages that were read are dropped with
 *   MADV_DONTNEED so RSS stays bounded for multi-GiB objects.
 * - Requests are processed strictly in order, one at a time per connection (the head of
 *   c->qhead). Up to WS_READAHEAD complete requests may wait behind it; then the socket is not
 *   read until the head is answered (TCP backpressure).
 * - Our own socket buffering: reads fill ibuf with one recv() (wslay asks for at most 4 KiB at a
 *   time) and frames are coalesced in obuf before send().
 * - Shutdown (ctx->ws_mode): DRAIN stops reading, answers the complete requests, then sends
 *   Close 1001; ABORT cancels the running transform and closes at once.
 * - A request is freed only on the loop thread, after wslay_event_send() returned (never inside
 *   a wslay callback) and after its job has left the worker pool (locus_etl__job_finish).
 */
#include "etlsdk/internal.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wslay/wslay.h>

#define LOG(level, ...) locus_etl_log(LOCUS_ETL_LOG_##level, "[etl ws] " __VA_ARGS__)

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_CTRL_MAX (1u << 20)      /* a larger control message is a protocol error */
#define WS_SPILL_AT (4u << 20)      /* object bytes kept in memory; beyond: a temp file */
#define WS_READAHEAD 2              /* complete requests that may wait behind the active one */
#define WS_IBUF (256u * 1024)       /* socket read buffer */
#define WS_OBUF (256u * 1024)       /* socket write buffer */
#define WS_SMALL_REPLY (64u * 1024) /* replies up to this size go out as a single frame */
#define WS_DONTNEED_STEP (8u << 20) /* drop mapped pages already sent every this many bytes */
#define WS_LINGER_MS 1000           /* after our Close: wait this long for the peer's EOF */
#define WS_ERR_PREFIX "ETL-ERROR "  /* Text reply of a failed request */
#define WS_ERR_MSG_MAX 4000

/* ------------------------------------------------------------------------------------------ */
/* Pure helpers: handshake key, control message, error text */

static bool is_b64(int ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '+' || ch == '/';
}

int locus_etl__ws_accept_key(const char *key, char out[LOCUS_ETL__WS_ACCEPT_LEN + 1])
{
    /* RFC 6455 §4.1: the key is base64 of 16 random bytes: 22 characters and "==". */
    if (key == NULL || strlen(key) != 24 || key[22] != '=' || key[23] != '=')
        return -EINVAL;
    for (int i = 0; i < 22; i++)
        if (!is_b64((unsigned char)key[i]))
            return -EINVAL;
    unsigned char buf[24 + sizeof(WS_GUID)];
    memcpy(buf, key, 24);
    memcpy(buf + 24, WS_GUID, sizeof(WS_GUID) - 1);
    unsigned char md[SHA_DIGEST_LENGTH];
    SHA1(buf, 24 + sizeof(WS_GUID) - 1, md);
    EVP_EncodeBlock((unsigned char *)out, md, SHA_DIGEST_LENGTH); /* 28 chars + NUL */
    return 0;
}

void locus_etl__ws_ctrl_dispose(locus_etl__ws_ctrl_t *c)
{
    free(c->path);
    free(c->args);
    free(c->fqn);
    free(c->dst_first);
    free(c->dst_rest);
    memset(c, 0, sizeof(*c));
}

/* A string member: 0 and *out (a copy, or NULL when absent/null), or -1 when of another type. */
static int get_str(json_t *o, const char *key, char **out)
{
    *out = NULL;
    json_t *v = json_object_get(o, key);
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return -1;
    *out = xstrndup(json_string_value(v), json_string_length(v));
    return 0;
}

int locus_etl__ws_ctrl_parse(const char *json, size_t n, locus_etl__ws_ctrl_t *c, char *err,
                             size_t errlen)
{
    memset(c, 0, sizeof(*c));
    json_error_t je;
    json_t *o = json_loadb(json, n, 0, &je);
    char *fqn = NULL, *dst = NULL, *pipe = NULL;
    if (o == NULL) {
        snprintf(err, errlen, "control message is not JSON: %s", je.text);
        return -EINVAL;
    }
    if (!json_is_object(o)) {
        snprintf(err, errlen, "control message is not a JSON object");
        goto fail;
    }
    const char *bad = NULL;
    if (get_str(o, "path", &c->path) != 0)
        bad = "path";
    else if (get_str(o, "etl_args", &c->args) != 0)
        bad = "etl_args";
    else if (get_str(o, "fqn", &fqn) != 0)
        bad = "fqn";
    else if (get_str(o, "dst_addr", &dst) != 0)
        bad = "dst_addr";
    if (bad != NULL) {
        snprintf(err, errlen, "control message: \"%s\" is not a string", bad);
        goto fail;
    }
    /* "pipeline": Go sends one string ("u1,u2"), be lenient and take an array too. */
    json_t *pv = json_object_get(o, "pipeline");
    if (pv != NULL && json_is_string(pv)) {
        pipe = xstrdup(json_string_value(pv));
    } else if (pv != NULL && json_is_array(pv)) {
        buf_t b;
        buf_init(&b);
        size_t i;
        json_t *it;
        json_array_foreach(pv, i, it)
        {
            if (!json_is_string(it)) {
                buf_dispose(&b);
                snprintf(err, errlen, "control message: \"pipeline\" holds a non-string");
                goto fail;
            }
            if (b.len)
                buf_append(&b, ",", 1);
            buf_puts(&b, json_string_value(it));
        }
        if (b.len)
            pipe = buf_steal(&b);
        buf_dispose(&b);
    } else if (pv != NULL && !json_is_null(pv)) {
        snprintf(err, errlen, "control message: \"pipeline\" is neither a string nor an array");
        goto fail;
    }
    if (c->path == NULL)
        c->path = xstrdup("");
    if (c->args == NULL)
        c->args = xstrdup("");
    if (fqn != NULL && fqn[0] != '\0') {
        /* Single PathEscape on the wire (§3.4, §10.3). */
        char *raw = locus_etl__path_unescape(fqn, strlen(fqn));
        if (raw == NULL) {
            snprintf(err, errlen, "control message: malformed escape in \"fqn\"");
            goto fail;
        }
        c->fqn = locus_etl__path_normalize(raw);
        free(raw);
    }
    /* The current field wins; old targets send only dst_addr, Locus sends both (equal). */
    const char *d = pipe != NULL && pipe[0] ? pipe : dst;
    if (d != NULL && d[0] != '\0' && locus_etl__node_urls(d, &c->dst_first, &c->dst_rest) != 0) {
        c->dst_first = NULL;
        c->dst_rest = NULL;
    }
    free(fqn);
    free(dst);
    free(pipe);
    json_decref(o);
    return 0;
fail:
    free(fqn);
    free(dst);
    free(pipe);
    json_decref(o);
    locus_etl__ws_ctrl_dispose(c);
    return -EINVAL;
}

/* Length of the valid UTF-8 sequence at p[0..n), or 0 if there is none. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    unsigned char b = p[0];
    size_t len;
    unsigned cp;
    if (b < 0x80)
        return 1;
    if (b >= 0xc2 && b <= 0xdf) {
        len = 2;
        cp = b & 0x1f;
    } else if (b >= 0xe0 && b <= 0xef) {
        len = 3;
        cp = b & 0x0f;
    } else if (b >= 0xf0 && b <= 0xf4) {
        len = 4;
        cp = b & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

char *locus_etl__ws_error_text(int status, const char *msg, size_t *len)
{
    if (status < 100 || status > 999)
        status = 500;
    if (msg == NULL || msg[0] == '\0')
        msg = "transform failed";
    buf_t b;
    buf_init(&b);
    char head[32];
    int hn = snprintf(head, sizeof(head), WS_ERR_PREFIX "%d ", status);
    buf_append(&b, head, (size_t)hn);
    const unsigned char *p = (const unsigned char *)msg;
    size_t n = strlen(msg);
    /* A Text frame must be valid UTF-8 (RFC 6455 §8.1); messages may quote odd paths. */
    for (size_t i = 0; i < n && b.len < WS_ERR_MSG_MAX;) {
        size_t k = utf8_seq(p + i, n - i);
        if (k == 0) {
            buf_append(&b, "?", 1);
            i++;
        } else {
            buf_append(&b, (const char *)p + i, k);
            i += k;
        }
    }
    *len = b.len;
    return buf_steal(&b);
}

/* ------------------------------------------------------------------------------------------ */
/* Connection and request state */

/* One request on a connection. */
typedef struct ws_req_s {
    locus_etl__job_t job;
    locus_etl__ws_ctrl_t ctrl;
    bool want_data; /* the object follows as the next data message */
    int status;     /* != 0: answer with this error, run no transform */
    char *msg;
    bool fatal; /* protocol error: close the connection after answering */
    /* the object: in memory (mem) or spilled to an unlinked temp file, then mapped */
    char *mem;
    size_t mem_len, mem_cap;
    int spill_fd;
    uint64_t size;
    void *map;
    size_t map_len;
    locus_etl__dput_t dput; /* direct-put outcome (its body may be the reply) */
    struct ws_req_s *next;
} ws_req_t;

/* Where the active (head) request is. */
typedef enum {
    RS_IDLE,    /* no request active */
    RS_RUNNING, /* its job is on the worker pool */
    RS_SENDING  /* its reply is queued in wslay; the read callback pulls the bytes */
} ws_run_state_t;

/* The connection's lifecycle. */
typedef enum {
    WS_OPEN,     /* reading and answering requests */
    WS_DRAINING, /* server stopping: no more reading, answering what was received */
    WS_CLOSING   /* Close queued (or failed): flush, then leave */
} ws_state_t;

struct locus_etl__ws_s {
    locus_etl_ctx_t *ctx;
    int fd;
    int wake_fd;
    const char *peer;
    wslay_event_context_ptr ws;
    ws_state_t state;
    bool broken; /* I/O error or EOF: no more traffic, clean up */

    /* receiving */
    ws_req_t *rx;    /* control received, waiting for its data message */
    bool in_obj;     /* the data message being received is rx's object */
    bool frame_ctl;  /* the current frame is a ping/pong/close */
    bool frame_fin;  /* the current frame ends its message */
    buf_t ctl;       /* control message being received */
    bool ctl_toobig; /* ... and it is over WS_CTRL_MAX */

    /* requests received completely, head = active */
    ws_req_t *qhead, *qtail;
    size_t nq;
    ws_run_state_t rs;

    /* the head's reply */
    const char *rp; /* buffered reply (!streaming) */
    size_t rn, roff;
    bool streaming;    /* pulled from the job's output while the transform writes */
    bool stalled;      /* the read callback had nothing: wait for wake_fd */
    bool reply_done;   /* the read callback handed out the last byte */
    bool reply_failed; /* the transform failed mid-stream */
    size_t dontneed_off;

    /* our Close, sent once every reply queued before it is out (wslay sends control frames
     * ahead of queued messages) */
    bool close_wanted;
    uint16_t close_code;
    const char *close_reason;

    unsigned char *ibuf;
    size_t ipos, ilen;
    unsigned char *obuf;
    size_t opos, olen;

    locus_etl__ws_t *next, *prev; /* ctx->ws_conns (ctx->amu) */
};

typedef locus_etl__ws_t ws_conn_t;

static ws_req_t *req_new(void)
{
    ws_req_t *r = xcalloc(1, sizeof(*r));
    r->spill_fd = -1;
    locus_etl__output_init(&r->job.out, true);
    return r;
}

static void req_free(ws_conn_t *c, ws_req_t *r)
{
    if (r == NULL)
        return;
    locus_etl__job_finish(c->ctx, &r->job);
    locus_etl__output_dispose(&r->job.out);
    if (r->map != NULL)
        munmap(r->map, r->map_len);
    if (r->spill_fd >= 0)
        close(r->spill_fd);
    free(r->mem);
    free(r->msg);
    locus_etl__dput_dispose(&r->dput);
    locus_etl__ws_ctrl_dispose(&r->ctrl);
    free(r);
}

static void req_fail(ws_req_t *r, int status, char *msg)
{
    if (r->status != 0) {
        free(msg);
        return;
    }
    r->status = status;
    r->msg = msg;
}

/* ------------------------------------------------------------------------------------------ */
/* Receiving: object bytes */

static void obj_append(ws_conn_t *c, ws_req_t *r, const uint8_t *p, size_t n)
{
    if (r->status != 0 || n == 0)
        return; /* already failed: discard the rest of the message */
    uint64_t max = c->ctx->opts.max_object_size;
    if (r->size + n > max) {
        req_fail(r, 413, xasprintf("object too large (limit %llu bytes)", (unsigned long long)max));
        goto drop;
    }
    if (r->spill_fd < 0 && r->mem_len + n > WS_SPILL_AT) {
        r->spill_fd = locus_etl__tmpfile();
        if (r->spill_fd < 0 || write_all(r->spill_fd, r->mem, r->mem_len) != 0) {
            req_fail(r, 500,
                     xasprintf("cannot spill the object to a temp file: %s", strerror(errno)));
            goto drop;
        }
        free(r->mem);
        r->mem = NULL;
        r->mem_len = r->mem_cap = 0;
    }
    if (r->spill_fd >= 0) {
        if (write_all(r->spill_fd, p, n) != 0) {
            req_fail(r, 500,
                     xasprintf("cannot write the object to a temp file: %s", strerror(errno)));
            goto drop;
        }
    } else {
        if (r->mem_len + n > r->mem_cap) {
            size_t cap = r->mem_cap ? r->mem_cap : 64 * 1024;
            while (cap < r->mem_len + n)
                cap *= 2;
            char *nb = realloc(r->mem, cap);
            if (nb == NULL) {
                req_fail(r, 500, xstrdup("out of memory for the object"));
                goto drop;
            }
            r->mem = nb;
            r->mem_cap = cap;
        }
        memcpy(r->mem + r->mem_len, p, n);
        r->mem_len += n;
    }
    r->size += n;
    return;
drop:
    free(r->mem);
    r->mem = NULL;
    r->mem_len = r->mem_cap = 0;
    if (r->spill_fd >= 0) {
        close(r->spill_fd);
        r->spill_fd = -1;
    }
}

/* The object is complete: make it one contiguous read-only buffer (for a streaming transform a
 * spilled object is read from its file instead: ws_input). */
static void obj_finish(ws_conn_t *c, ws_req_t *r)
{
    if (r->status != 0 || r->spill_fd < 0)
        return;
    if (c->ctx->srv.transform_stream != NULL) {
        lseek(r->spill_fd, 0, SEEK_SET);
        return;
    }
    if (r->size > 0) {
        void *m = mmap(NULL, (size_t)r->size, PROT_READ, MAP_PRIVATE, r->spill_fd, 0);
        if (m == MAP_FAILED) {
            req_fail(r, 500, xasprintf("cannot map the spilled object: %s", strerror(errno)));
        } else {
            madvise(m, (size_t)r->size, MADV_SEQUENTIAL);
            r->map = m;
            r->map_len = (size_t)r->size;
        }
    }
    close(r->spill_fd); /* the mapping keeps the unlinked file alive */
    r->spill_fd = -1;
}

static void enqueue(ws_conn_t *c, ws_req_t *r)
{
    r->next = NULL;
    if (c->qtail)
        c->qtail->next = r;
    else
        c->qhead = r;
    c->qtail = r;
    c->nq++;
}

/* A complete control message is in c->ctl. */
static void on_control(ws_conn_t *c)
{
    ws_req_t *r = req_new();
    char err[256];
    if (c->ctl_toobig) {
        req_fail(r, 400, xasprintf("control message larger than %u bytes", WS_CTRL_MAX));
        r->fatal = true;
    } else if (locus_etl__ws_ctrl_parse(c->ctl.base ? c->ctl.base : "", c->ctl.len, &r->ctrl, err,
                                        sizeof(err)) != 0) {
        /* We cannot tell whether object bytes follow: answer, then close the connection. */
        req_fail(r, 400, xstrdup(err));
        r->fatal = true;
    }
    c->ctl.len = 0;
    c->ctl_toobig = false;
    if (r->status == 0 && r->ctrl.fqn == NULL) {
        r->want_data = true;
        c->rx = r;
        return;
    }
    enqueue(c, r);
}

/* ------------------------------------------------------------------------------------------ */
/* wslay callbacks (all on the connection thread) */

static ssize_t on_recv(wslay_event_context_ptr ws, uint8_t *buf, size_t len, int flags, void *ud)
{
    ws_conn_t *c = ud;
    /* Backpressure: do not read past WS_READAHEAD waiting requests, nor while stopping. */
    if (c->state != WS_OPEN || c->nq > WS_READAHEAD) {
        wslay_event_set_error(ws, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    if (c->ipos == c->ilen) {
        c->ipos = c->ilen = 0;
        ssize_t n;
        do
            n = recv(c->fd, c->ibuf, WS_IBUF, MSG_DONTWAIT);
        while (n < 0 && errno == EINTR);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            wslay_event_set_error(ws, WSLAY_ERR_WOULDBLOCK);
            return -1;
        }
        if (n <= 0) {
            if (n < 0 || c->rx != NULL || c->in_obj || c->ctl.len > 0)
                LOG(VERBOSE, "connection from %s %s%s", c->peer,
                    n < 0 ? "failed: " : "closed by the peer",
                    n < 0                                        ? strerror(errno)
                    : (c->rx != NULL || c->in_obj || c->ctl.len) ? " in the middle of a request"
                                                                 : "");
            c->broken = true;
            wslay_event_set_error(ws, WSLAY_ERR_CALLBACK_FAILURE);
            return -1;
        }
        c->ilen = (size_t)n;
    }
    size_t n = c->ilen - c->ipos;
    if (n > len)
        n = len;
    memcpy(buf, c->ibuf + c->ipos, n);
    c->ipos += n;
    return (ssize_t)n;
}

/* Sends what obuf holds without blocking. 0, or -1 when the connection is broken. */
static int flush(ws_conn_t *c)
{
    while (c->opos < c->olen) {
        ssize_t n = send(c->fd, c->obuf + c->opos, c->olen - c->opos, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            c->opos += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (!c->broken)
            LOG(VERBOSE, "connection from %s: send failed: %s", c->peer,
                n < 0 ? strerror(errno) : "closed");
        c->broken = true;
        return -1;
    }
    if (c->opos == c->olen)
        c->opos = c->olen = 0;
    return 0;
}

static ssize_t on_send(wslay_event_context_ptr ws, const uint8_t *data, size_t len, int flags,
                       void *ud)
{
    ws_conn_t *c = ud;
    if (c->olen == WS_OBUF) {
        if (flush(c) != 0) {
            wslay_event_set_error(ws, WSLAY_ERR_CALLBACK_FAILURE);
            return -1;
        }
        if (c->opos > 0) {
            memmove(c->obuf, c->obuf + c->opos, c->olen - c->opos);
            c->olen -= c->opos;
            c->opos = 0;
        }
        if (c->olen == WS_OBUF) {
            wslay_event_set_error(ws, WSLAY_ERR_WOULDBLOCK);
            return -1;
        }
    }
    size_t n = WS_OBUF - c->olen;
    if (n > len)
        n = len;
    memcpy(c->obuf + c->olen, data, n);
    c->olen += n;
    return (ssize_t)n;
}

static void on_frame_start(wslay_event_context_ptr ws,
                           const struct wslay_event_on_frame_recv_start_arg *arg, void *ud)
{
    ws_conn_t *c = ud;
    c->frame_fin = arg->fin;
    c->frame_ctl = (arg->opcode & 0x8) != 0;
    if (c->frame_ctl || arg->opcode == WSLAY_CONTINUATION_FRAME)
        return; /* wslay handles ping/close; a continuation goes on with the message */
    /* A new data message (Binary or Text, both accepted): rx's object, or a control message. */
    c->in_obj = c->rx != NULL && c->rx->want_data;
    c->ctl.len = 0;
    c->ctl_toobig = false;
}

static void on_frame_chunk(wslay_event_context_ptr ws,
                           const struct wslay_event_on_frame_recv_chunk_arg *arg, void *ud)
{
    ws_conn_t *c = ud;
    if (c->frame_ctl)
        return;
    if (c->in_obj) {
        obj_append(c, c->rx, arg->data, arg->data_length);
    } else if (!c->ctl_toobig) {
        if (c->ctl.len + arg->data_length > WS_CTRL_MAX)
            c->ctl_toobig = true;
        else
            buf_append(&c->ctl, (const char *)arg->data, arg->data_length);
    }
}

static void on_frame_end(wslay_event_context_ptr ws, void *ud)
{
    ws_conn_t *c = ud;
    if (c->frame_ctl || !c->frame_fin)
        return;
    if (c->in_obj) {
        ws_req_t *r = c->rx;
        c->rx = NULL;
        c->in_obj = false;
        obj_finish(c, r);
        enqueue(c, r);
    } else {
        on_control(c);
    }
}

/* Pulls the head's reply into wslay's frame buffer (at most len bytes per frame). */
static ssize_t on_read_reply(wslay_event_context_ptr ws, uint8_t *buf, size_t len,
                             const union wslay_event_msg_source *src, int *eof, void *ud)
{
    ws_conn_t *c = ud;
    ws_req_t *r = c->qhead;
    if (r == NULL || c->rs != RS_SENDING) {
        /* The request was dropped (server abort) while wslay still held its message. */
        wslay_event_set_error(ws, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    if (!c->streaming) {
        size_t n = c->rn - c->roff;
        if (n > len)
            n = len;
        memcpy(buf, c->rp + c->roff, n);
        c->roff += n;
        /* Echo-style results point into the mapped input: drop the pages already sent. */
        if (r->map != NULL && c->rp >= (const char *)r->map &&
            c->rp + c->rn <= (const char *)r->map + r->map_len &&
            (c->roff - c->dontneed_off >= WS_DONTNEED_STEP || c->roff == c->rn)) {
            size_t pg = (size_t)sysconf(_SC_PAGESIZE);
            uintptr_t from = ((uintptr_t)(c->rp + c->dontneed_off)) & ~(uintptr_t)(pg - 1);
            uintptr_t to = ((uintptr_t)(c->rp + c->roff)) & ~(uintptr_t)(pg - 1);
            if (to > from)
                madvise((void *)from, to - from, MADV_DONTNEED);
            c->dontneed_off = c->roff;
        }
        if (c->roff == c->rn) {
            *eof = 1;
            c->reply_done = true;
        }
        return (ssize_t)n;
    }
    /* Streaming: the transform is still writing. wslay cannot end a message with an empty
     * frame (a 0 return means "nothing yet"), so one byte is held back until the job is done
     * and the last frame is never empty. */
    locus_etl_output_t *o = &r->job.out;
    pthread_mutex_lock(&o->mu);
    size_t pending = o->len - o->off;
    bool done = o->state == JOB_DONE;
    if (done && (o->rc != 0 || o->oom || o->cancelled || pending == 0)) {
        LOG(WARNING,
            "transform of %s failed after %llu bytes were streamed: %s; closing the connection "
            "from %s",
            r->ctrl.path, (unsigned long long)(o->total - pending),
            o->err_msg ? o->err_msg : locus_etl_strerror(o->rc), c->peer);
        pthread_mutex_unlock(&o->mu);
        c->reply_failed = true;
        wslay_event_set_error(ws, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    size_t avail = done ? pending : (pending > 0 ? pending - 1 : 0);
    if (avail == 0) {
        pthread_mutex_unlock(&o->mu);
        c->stalled = true;
        return 0;
    }
    size_t n = avail < len ? avail : len;
    memcpy(buf, o->buf + o->off, n);
    o->off += n;
    pthread_cond_broadcast(&o->cond); /* a writer may wait for room */
    if (done && o->off == o->len) {
        *eof = 1;
        c->reply_done = true;
    }
    pthread_mutex_unlock(&o->mu);
    return (ssize_t)n;
}

/* ------------------------------------------------------------------------------------------ */
/* Answering */

/* Queues a reply message. p[0..n) must stay valid until the read callback reports the end
 * (it points into the head request), or is copied when small. */
static void queue_reply(ws_conn_t *c, uint8_t opcode, const char *p, size_t n)
{
    int rc;
    if (n <= WS_SMALL_REPLY) {
        struct wslay_event_msg m = {opcode, (const uint8_t *)p, n}; /* copied by wslay */
        rc = wslay_event_queue_msg(c->ws, &m);
        c->reply_done = true;
    } else {
        c->rp = p;
        c->rn = n;
        c->roff = 0;
        c->dontneed_off = 0;
        c->streaming = false;
        struct wslay_event_fragmented_msg m = {.opcode = opcode, .read_callback = on_read_reply};
        rc = wslay_event_queue_fragmented_msg(c->ws, &m);
    }
    c->rs = RS_SENDING;
    if (rc != 0) {
        /* A Close was queued (the peer's): nothing can be sent any more. */
        c->reply_done = true;
        c->state = WS_CLOSING;
    }
}

static void reply_error(ws_conn_t *c, ws_req_t *r, int status, const char *msg)
{
    LOG(WARNING, "%d %s, while handling ws request %s from %s", status, msg,
        r->ctrl.path ? r->ctrl.path : "?", c->peer);
    size_t n;
    char *t = locus_etl__ws_error_text(status, msg, &n);
    queue_reply(c, WSLAY_TEXT_FRAME, t, n); /* small: copied */
    free(t);
}

/* Path-escapes an object name for a pipeline stage URL (keeps '/'). Caller frees. */
static char *escape_path(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    buf_t b;
    buf_init(&b);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~/@!$&'()*+,;=:", *p) != NULL) {
            buf_append(&b, (const char *)p, 1);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            buf_append(&b, e, 3);
        }
    }
    return buf_steal(&b);
}

static void do_direct_put(ws_conn_t *c, ws_req_t *r, const char *p, size_t n)
{
    char *raw = escape_path(r->ctrl.path);
    locus_etl__direct_put(c->ctx, r->ctrl.dst_first, r->ctrl.dst_rest, raw, r->ctrl.args, p, n,
                          &r->dput);
    free(raw);
    locus_etl__dput_t *d = &r->dput;
    char *m = NULL;
    if (d->url == NULL) {
        m = xasprintf("invalid direct-put destination %s", r->ctrl.dst_first);
        reply_error(c, r, 400, m);
    } else if (d->status == 0) {
        m = xasprintf("direct put to %s failed: %s", d->url, d->err);
        reply_error(c, r, 502, m);
    } else if (d->status == 204 || (d->status >= 200 && d->status < 300 && d->len == 0)) {
        char nb[32];
        int k = snprintf(nb, sizeof(nb), "%zu", n);
        LOG(DEBUG, "direct put %s: %zu bytes", d->url, n);
        queue_reply(c, WSLAY_TEXT_FRAME, nb, (size_t)k);
    } else if (d->status >= 200 && d->status < 300) {
        /* The next stage of a pipeline answered with its result: it is ours to return. */
        queue_reply(c, WSLAY_BINARY_FRAME, d->body, d->len);
    } else {
        m = xasprintf("direct put to %s: HTTP %ld: %.*s", d->url, d->status,
                      (int)(d->len > 512 ? 512 : d->len), d->body ? d->body : "");
        reply_error(c, r, (int)d->status, m);
    }
    free(m);
}

/* The head request's input: its FQN mapped (a streaming transform reads it in place), or the
 * object message in memory, mapped or (streaming) in its spill file. Fails r on error. */
static void ws_input(ws_conn_t *c, ws_req_t *r)
{
    bool streaming = c->ctx->srv.transform_stream != NULL;
    locus_etl_input_t *in = &r->job.in;
    char *msg = NULL;
    if (r->ctrl.fqn != NULL) {
        uint64_t size = 0;
        int st = streaming ? locus_etl__open_fqn(c->ctx, r->ctrl.fqn, &r->spill_fd, &size, &msg)
                           : locus_etl__map_fqn(c->ctx, r->ctrl.fqn, &r->map, &r->map_len, &msg);
        if (st != 0) {
            req_fail(r, st, msg);
            return;
        }
        r->size = size;
    }
    in->data = r->map != NULL   ? (const void *)r->map
               : r->mem != NULL ? (const void *)r->mem
                                : (const void *)"";
    in->len = r->map != NULL ? r->map_len : r->mem_len;
    if (streaming && r->spill_fd >= 0) {
        r->job.rd.use_fd = true;
        r->job.rd.fd = r->spill_fd;
        in->len = (size_t)r->size;
    }
    in->path = r->ctrl.path;
    in->args = r->ctrl.args;
    in->fqn = r->ctrl.fqn;
    in->source = r->ctrl.fqn != NULL ? LOCUS_ETL_SRC_FQN : LOCUS_ETL_SRC_BODY;
}

/* Starts the head request: an error answer, or its job on the worker pool. */
static void start_head(ws_conn_t *c)
{
    ws_req_t *r = c->qhead;
    if (r->status == 0)
        ws_input(c, r);
    if (r->status != 0) {
        reply_error(c, r, r->status, r->msg);
        return;
    }
    r->job.out.may_stream = r->ctrl.dst_first == NULL; /* direct put may retry: keep it all */
    r->job.out.wake_fd = c->wake_fd;
    if (!locus_etl__submit(c->ctx, &r->job)) {
        reply_error(c, r, 503, "server is shutting down");
        return;
    }
    c->rs = RS_RUNNING;
}

/* The head's job moved on (woken through wake_fd): queue its reply if it is ready. */
static void check_running(ws_conn_t *c)
{
    ws_req_t *r = c->qhead;
    locus_etl_output_t *o = &r->job.out;
    pthread_mutex_lock(&o->mu);
    locus_etl__job_state_t state = o->state;
    int rc = o->rc;
    bool failed = state == JOB_DONE && (rc != 0 || o->oom);
    pthread_mutex_unlock(&o->mu);
    if (state == JOB_STREAMING) {
        c->streaming = true;
        c->stalled = false;
        struct wslay_event_fragmented_msg m = {.opcode = WSLAY_BINARY_FRAME,
                                               .read_callback = on_read_reply};
        c->rs = RS_SENDING;
        if (wslay_event_queue_fragmented_msg(c->ws, &m) != 0) {
            c->reply_done = true;
            c->state = WS_CLOSING;
        }
        return;
    }
    if (state != JOB_DONE)
        return;
    /* Pages the transform touched are not needed any more (re-read on demand if the result
     * points into them). */
    if (r->map != NULL)
        madvise(r->map, r->map_len, MADV_DONTNEED);
    if (failed) {
        /* No lock needed: the job is done, nothing else touches o. */
        char *msg;
        if (o->err_msg != NULL)
            msg = xstrdup(o->err_msg);
        else if (o->oom)
            msg = xstrdup("transform failed: out of memory for the output");
        else
            msg = xasprintf("transform failed: %s (%d)", locus_etl_strerror(rc), rc);
        int status = o->err_status ? o->err_status : 500;
        if (rc == LOCUS_ETL_ECANCELED && o->err_msg == NULL)
            status = 503;
        reply_error(c, r, status, msg);
        free(msg);
        return;
    }
    const char *p;
    size_t n;
    locus_etl__output_bytes(o, &p, &n);
    if (r->ctrl.dst_first != NULL)
        do_direct_put(c, r, p, n);
    else
        queue_reply(c, WSLAY_BINARY_FRAME, p, n);
}

/* Closes after the replies already queued (state WS_CLOSING: nothing new starts). */
static void close_after_replies(ws_conn_t *c, uint16_t code, const char *reason)
{
    if (c->state == WS_CLOSING)
        return;
    c->state = WS_CLOSING;
    c->close_wanted = true;
    c->close_code = code;
    c->close_reason = reason;
}

/* The head's reply has been handed to wslay completely: release it. */
static void finish_head(ws_conn_t *c)
{
    ws_req_t *r = c->qhead;
    c->qhead = r->next;
    if (c->qhead == NULL)
        c->qtail = NULL;
    c->nq--;
    c->rs = RS_IDLE;
    c->reply_done = false;
    c->streaming = false;
    c->rp = NULL;
    c->rn = c->roff = 0;
    if (r->fatal)
        close_after_replies(c, WSLAY_CODE_PROTOCOL_ERROR, "bad control message");
    req_free(c, r);
}

/* Advances the request pipeline as far as it goes without waiting. */
static void pump(ws_conn_t *c)
{
    for (;;) {
        if (c->rs == RS_SENDING) {
            if (!c->reply_done)
                return;
            finish_head(c);
            continue;
        }
        if (c->rs == RS_RUNNING) {
            check_running(c);
            if (c->rs == RS_RUNNING)
                return;
            continue;
        }
        if (c->qhead == NULL || c->state == WS_CLOSING)
            return;
        start_head(c);
    }
}

/* Drops every request (the connection is going away). Waits for a running transform. */
static void drop_requests(ws_conn_t *c)
{
    while (c->qhead != NULL) {
        ws_req_t *r = c->qhead;
        c->qhead = r->next;
        req_free(c, r);
    }
    c->qtail = NULL;
    c->nq = 0;
    req_free(c, c->rx);
    c->rx = NULL;
    c->rs = RS_IDLE;
}

/* ------------------------------------------------------------------------------------------ */
/* The connection loop */

void locus_etl__ws_set_mode(locus_etl_ctx_t *ctx, locus_etl__ws_mode_t mode)
{
    pthread_mutex_lock(&ctx->amu);
    ctx->ws_mode = mode;
    uint64_t one = 1;
    for (ws_conn_t *c = ctx->ws_conns; c != NULL; c = c->next)
        if (write(c->wake_fd, &one, sizeof(one)) < 0) {
            /* eventfd counter overflow only: it is non-zero, so the thread wakes anyway */
        }
    pthread_mutex_unlock(&ctx->amu);
}

static locus_etl__ws_mode_t get_mode(ws_conn_t *c)
{
    pthread_mutex_lock(&c->ctx->amu);
    locus_etl__ws_mode_t m = c->ctx->ws_mode;
    pthread_mutex_unlock(&c->ctx->amu);
    return m;
}

/* After our Close went out: half-close and wait a little for the peer's EOF, so that unread
 * bytes do not turn our close into a reset that may destroy the Close frame in flight. */
static void linger(ws_conn_t *c)
{
    shutdown(c->fd, SHUT_WR);
    int64_t until = time_mono_ns() / 1000000 + WS_LINGER_MS;
    char sink[16384];
    for (;;) {
        int64_t now = time_mono_ns() / 1000000;
        if (now >= until)
            break;
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        int k = poll(&p, 1, (int)(until - now));
        if (k <= 0)
            break;
        ssize_t n = recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
            break;
    }
}

static void run(ws_conn_t *c)
{
    for (;;) {
        locus_etl__ws_mode_t mode = get_mode(c);
        if (mode == WS_MODE_ABORT && (c->state != WS_CLOSING || c->close_wanted)) {
            drop_requests(c);
            c->close_wanted = false;
            wslay_event_queue_close(c->ws, WSLAY_CODE_GOING_AWAY,
                                    (const uint8_t *)"server shutting down", 20);
            c->state = WS_CLOSING;
        } else if (mode == WS_MODE_DRAIN && c->state == WS_OPEN) {
            c->state = WS_DRAINING;
        }
        if (c->state == WS_DRAINING && c->qhead == NULL)
            close_after_replies(c, WSLAY_CODE_GOING_AWAY, "server shutting down");
        pump(c);
        if (c->close_wanted && wslay_event_get_queued_msg_count(c->ws) == 0) {
            c->close_wanted = false;
            wslay_event_queue_close(c->ws, c->close_code, (const uint8_t *)c->close_reason,
                                    strlen(c->close_reason));
        }
        if (wslay_event_get_close_received(c->ws) && c->state != WS_CLOSING) {
            /* The peer closed: its pending requests are moot. wslay has queued our Close. */
            c->state = WS_CLOSING;
        }
        if (wslay_event_send(c->ws) != 0 || c->reply_failed)
            break; /* a failed stream or a broken socket: abort the connection */
        if (flush(c) != 0)
            break;
        if (wslay_event_get_close_sent(c->ws) && c->olen == 0) {
            if (!wslay_event_get_close_received(c->ws))
                linger(c);
            break;
        }
        if (c->close_wanted && wslay_event_get_queued_msg_count(c->ws) == 0)
            continue; /* the replies are out: queue our Close (top of the loop) */
        if (c->state == WS_CLOSING && !wslay_event_want_write(c->ws) && c->olen == 0)
            break; /* nothing more can be sent (e.g. a Close could not be queued) */
        if (c->reply_done)
            continue; /* the reply went out inside wslay_event_send(): the next one can start */

        bool want_in = c->state == WS_OPEN && wslay_event_want_read(c->ws) && c->nq <= WS_READAHEAD;
        if (want_in && c->ipos < c->ilen) {
            /* Bytes buffered already: no need to wait for the socket. */
            if (wslay_event_recv(c->ws) != 0)
                break;
            continue;
        }
        bool want_out = c->olen > 0 || (wslay_event_want_write(c->ws) && !c->stalled);
        struct pollfd p[2] = {
            {.fd = c->wake_fd, .events = POLLIN},
            {.fd = c->fd, .events = (short)((want_in ? POLLIN : 0) | (want_out ? POLLOUT : 0))}};
        int k = poll(p, 2, -1);
        if (k < 0 && errno != EINTR)
            break;
        if (k <= 0)
            continue;
        if (p[0].revents & POLLIN) {
            uint64_t v;
            if (read(c->wake_fd, &v, sizeof(v)) < 0) {
                /* EAGAIN: someone else's wake-up was consumed already */
            }
            c->stalled = false;
        }
        if (p[1].revents & (POLLERR | POLLHUP | POLLNVAL) && !(p[1].revents & POLLIN)) {
            c->broken = true;
            break;
        }
        if (p[1].revents & POLLOUT && flush(c) != 0)
            break;
        if (p[1].revents & POLLIN && want_in && wslay_event_recv(c->ws) != 0)
            break;
    }
}

void locus_etl__ws_serve(locus_etl_ctx_t *ctx, int sock, const char *extra_in, size_t extra_len,
                         const char *peer)
{
    ws_conn_t *c = xcalloc(1, sizeof(*c));
    c->ctx = ctx;
    c->fd = sock;
    c->peer = peer;
    buf_init(&c->ctl);
    c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    size_t icap = extra_len > WS_IBUF ? extra_len : WS_IBUF;
    c->ibuf = malloc(icap);
    c->obuf = malloc(WS_OBUF);
    struct wslay_event_callbacks cb = {
        .recv_callback = on_recv,
        .send_callback = on_send,
        .on_frame_recv_start_callback = on_frame_start,
        .on_frame_recv_chunk_callback = on_frame_chunk,
        .on_frame_recv_end_callback = on_frame_end,
    };
    if (c->wake_fd < 0 || c->ibuf == NULL || c->obuf == NULL ||
        wslay_event_context_server_init(&c->ws, &cb, c) != 0) {
        LOG(WARNING, "cannot set up the WebSocket from %s: out of resources", peer);
        goto out;
    }
    wslay_event_config_set_no_buffering(c->ws, 1);
    /* Per frame in no-buffering mode; whole objects are limited in obj_append(). */
    wslay_event_config_set_max_recv_msg_length(c->ws, UINT64_MAX);
    if (extra_len > 0) {
        memcpy(c->ibuf, extra_in, extra_len);
        c->ilen = extra_len;
    }
    int one = 1;
    setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    pthread_mutex_lock(&ctx->amu);
    c->next = ctx->ws_conns;
    if (ctx->ws_conns)
        ctx->ws_conns->prev = c;
    ctx->ws_conns = c;
    ctx->nws++;
    pthread_mutex_unlock(&ctx->amu);

    LOG(VERBOSE, "connection from %s opened", peer);
    run(c);
    drop_requests(c);
    LOG(VERBOSE, "connection from %s closed", peer);

    pthread_mutex_lock(&ctx->amu);
    if (c->prev)
        c->prev->next = c->next;
    else
        ctx->ws_conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    ctx->nws--;
    pthread_cond_broadcast(&ctx->wscond);
    pthread_mutex_unlock(&ctx->amu);
out:
    if (c->ws != NULL)
        wslay_event_context_free(c->ws);
    if (c->wake_fd >= 0)
        close(c->wake_fd);
    free(c->ibuf);
    free(c->obuf);
    buf_dispose(&c->ctl);
    free(c);
}
