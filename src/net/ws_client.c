/*
 * ws_client.c - a WebSocket client (RFC 6455) for the ws:// ETL communicator: our own opening
 * handshake over a TCP or Unix socket, then wslay for framing (docs/design.md §13.8).
 *
 * DESIGN
 * One connection is driven by one thread at a time, with a non-blocking socket and poll():
 * ws_recv_msg() pushes out whatever was queued and reads until one whole data message has
 * arrived, both at once, so a server that answers while it is still reading cannot deadlock
 * us. Nothing holds a whole message:
 *   - receiving: wslay runs in no-buffering mode; the frame-chunk callbacks copy payload into a
 *     64 KiB buffer that is handed to the caller when full, when the socket has nothing more
 *     to read for now, and at the end of the message;
 *   - sending: a message from a file is queued with wslay_event_queue_fragmented_msg and read
 *     with pread (through a 128 KiB read-ahead buffer) while it goes out; small ones (up to
 *     64 KiB) are read at once and sent as a single frame.
 * wslay reads and writes in 4 KiB steps, so both directions go through our own 64 KiB socket
 * buffers: one recv/send syscall per 64 KiB instead of per 4 KiB. After any error the
 * connection is marked broken and the caller must close it.
 */
#include "net/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <wslay/wslay.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_RBUF 65536  /* socket read buffer (also holds the handshake response) */
#define WS_OBUF 65536  /* socket write buffer */
#define WS_DBUF 65536  /* received payload handed to on_data in pieces of this size */
#define WS_SBUF 131072 /* read-ahead of a message sent from a file */
#define WS_SMALL 65536 /* file messages up to this size are sent as one frame */
#define WS_UNIX_SOCKBUF (4 << 20)

struct ws_conn_s {
    int fd;
    char peer[128];
    wslay_event_context_ptr ctx;
    bool broken; /* after any error: only ws_close is allowed */
    uint64_t rng;
    uint64_t moved; /* bytes moved on the socket: the idle timer's notion of progress */
    /* socket input */
    uint8_t *rbuf;
    size_t rlen, roff;
    bool eof;
    int rd_errno;
    /* the message being received (state of one ws_recv_msg) */
    const ws_msg_cb_t *cb;
    bool in_ctrl;    /* the current frame is a control frame (wslay handles it) */
    bool msg_active; /* a data message has started */
    bool frame_fin;  /* the current data frame ends its message */
    bool msg_done;   /* the whole message has been delivered */
    bool cancelled;  /* a callback returned < 0 */
    bool extra;      /* a second data message arrived */
    uint8_t *dbuf;
    size_t dlen;
    /* socket output */
    uint8_t *obuf;
    size_t olen;
    int wr_errno;
    /* the message being sent from a file */
    int src_fd; /* -1 when none */
    int64_t src_size, src_off;
    uint8_t *sbuf;
    size_t slen, soff;
    int src_errno;
};

void ws_accept_key(const char *key, char out[29])
{
    char *in = xasprintf("%s%s", key, WS_GUID);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(in, strlen(in), md, &mdlen, EVP_sha1(), NULL) != 1 || mdlen != 20)
        locus_panic("SHA-1 is not available");
    free(in);
    char *b = base64_encode(md, 20);
    snprintf(out, 29, "%s", b);
    free(b);
}

const char *ws_peer(const ws_conn_t *c)
{
    return c->peer;
}

static void fill_random(void *p, size_t n)
{
    if (getrandom(p, n, 0) == (ssize_t)n)
        return;
    for (size_t i = 0; i < n; i += 8) {
        uint64_t r = random_u64();
        memcpy((char *)p + i, &r, n - i < 8 ? n - i : 8);
    }
}

/* ---- socket I/O ---- */

/* Writes out the output buffer as far as the socket takes it. 0, or -1 on a socket error. */
static int flush_out(ws_conn_t *c)
{
    size_t off = 0;
    while (off < c->olen) {
        ssize_t n = send(c->fd, c->obuf + off, c->olen - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            off += (size_t)n;
            c->moved += (uint64_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        } else {
            c->wr_errno = n < 0 ? errno : EPIPE;
            return -1;
        }
    }
    if (off > 0) {
        memmove(c->obuf, c->obuf + off, c->olen - off);
        c->olen -= off;
    }
    return 0;
}

static ssize_t on_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *ud)
{
    ws_conn_t *c = ud;
    if (c->olen == WS_OBUF && flush_out(c) < 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    if (c->olen == WS_OBUF) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = WS_OBUF - c->olen < len ? WS_OBUF - c->olen : len;
    memcpy(c->obuf + c->olen, data, n);
    c->olen += n;
    return (ssize_t)n;
}

static ssize_t on_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *ud)
{
    ws_conn_t *c = ud;
    if (c->cancelled || c->extra) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    if (c->msg_done) {
        /* Whatever follows belongs to the next exchange: leave it in rbuf. */
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    if (c->roff == c->rlen) {
        c->roff = c->rlen = 0;
        ssize_t n;
        do
            n = recv(c->fd, c->rbuf, WS_RBUF, MSG_DONTWAIT);
        while (n < 0 && errno == EINTR);
        if (n == 0) {
            c->eof = true;
            wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
            return -1;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
            } else {
                c->rd_errno = errno;
                wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
            }
            return -1;
        }
        c->rlen = (size_t)n;
        c->moved += (uint64_t)n;
    }
    size_t n = c->rlen - c->roff < len ? c->rlen - c->roff : len;
    memcpy(buf, c->rbuf + c->roff, n);
    c->roff += n;
    return (ssize_t)n;
}

static int on_genmask(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *ud)
{
    /* xorshift64* seeded from getrandom: masking only has to be unpredictable to scripts in a
     * browser (RFC 6455 §10.3), and a syscall per 4 KiB frame would cost more than it buys. */
    ws_conn_t *c = ud;
    for (size_t i = 0; i < len; i++) {
        c->rng ^= c->rng >> 12;
        c->rng ^= c->rng << 25;
        c->rng ^= c->rng >> 27;
        buf[i] = (uint8_t)((c->rng * 2685821657736338717ULL) >> 56);
    }
    return 0;
}

/* ---- receiving one message ---- */

static void deliver(ws_conn_t *c)
{
    if (c->dlen == 0 || c->cancelled)
        return;
    if (c->cb->on_data(c->cb->arg, c->dbuf, c->dlen) < 0)
        c->cancelled = true;
    c->dlen = 0;
}

static void on_frame_start(wslay_event_context_ptr ctx,
                           const struct wslay_event_on_frame_recv_start_arg *arg, void *ud)
{
    ws_conn_t *c = ud;
    c->in_ctrl = (arg->opcode & 8) != 0;
    if (c->in_ctrl)
        return;
    if (c->msg_done) {
        c->extra = true; /* a second answer to one request */
        return;
    }
    c->frame_fin = arg->fin;
    if (arg->opcode != WSLAY_CONTINUATION_FRAME) {
        c->msg_active = true;
        int64_t len = arg->fin ? (int64_t)arg->payload_length : -1;
        if (!c->cancelled && c->cb->on_start && c->cb->on_start(c->cb->arg, arg->opcode, len) < 0)
            c->cancelled = true;
    }
}

static void on_frame_chunk(wslay_event_context_ptr ctx,
                           const struct wslay_event_on_frame_recv_chunk_arg *arg, void *ud)
{
    ws_conn_t *c = ud;
    if (c->in_ctrl || c->msg_done || c->cancelled || c->extra)
        return;
    const uint8_t *p = arg->data;
    size_t n = arg->data_length;
    while (n > 0 && !c->cancelled) {
        size_t k = WS_DBUF - c->dlen < n ? WS_DBUF - c->dlen : n;
        memcpy(c->dbuf + c->dlen, p, k);
        c->dlen += k;
        p += k;
        n -= k;
        if (c->dlen == WS_DBUF)
            deliver(c);
    }
}

static void on_frame_end(wslay_event_context_ptr ctx, void *ud)
{
    ws_conn_t *c = ud;
    if (c->in_ctrl) {
        c->in_ctrl = false;
        return;
    }
    if (c->msg_done || c->extra || !c->frame_fin)
        return;
    deliver(c);
    c->msg_active = false;
    c->msg_done = true;
}

/* ---- sending from a file ---- */

static ssize_t on_src_read(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
                           const union wslay_event_msg_source *source, int *eof, void *ud)
{
    ws_conn_t *c = ud;
    if (c->soff == c->slen) {
        int64_t left = c->src_size - c->src_off;
        size_t want = left < WS_SBUF ? (size_t)left : WS_SBUF;
        ssize_t n;
        do
            n = pread(c->src_fd, c->sbuf, want, c->src_off);
        while (n < 0 && errno == EINTR);
        if (n <= 0) {
            c->src_errno = n < 0 ? errno : ENODATA; /* shorter than its size */
            wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
            return -1;
        }
        c->slen = (size_t)n;
        c->soff = 0;
        c->src_off += n;
    }
    size_t n = c->slen - c->soff < len ? c->slen - c->soff : len;
    memcpy(buf, c->sbuf + c->soff, n);
    c->soff += n;
    if (c->soff == c->slen && c->src_off == c->src_size) {
        *eof = 1;
        c->src_fd = -1;
    }
    return (ssize_t)n;
}

int ws_queue_msg(ws_conn_t *c, int opcode, const void *p, size_t n)
{
    if (c->broken)
        return -1;
    struct wslay_event_msg m = {(uint8_t)opcode, p, n};
    return wslay_event_queue_msg(c->ctx, &m) == 0 ? 0 : -1;
}

int ws_queue_fd(ws_conn_t *c, int opcode, int fd, int64_t size)
{
    if (c->broken || c->src_fd >= 0 || size < 0)
        return -1;
    if (size <= WS_SMALL) {
        /* One frame: cheaper for both sides than 4 KiB fragments. */
        uint8_t *tmp = xmalloc(size > 0 ? (size_t)size : 1);
        int64_t off = 0;
        while (off < size) {
            ssize_t n = pread(fd, tmp + off, (size_t)(size - off), off);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            off += n;
        }
        int rc = off == size ? ws_queue_msg(c, opcode, tmp, (size_t)size) : -1;
        free(tmp);
        return rc;
    }
    c->src_fd = fd;
    c->src_size = size;
    c->src_off = 0;
    c->slen = c->soff = 0;
    c->src_errno = 0;
    struct wslay_event_fragmented_msg m = {
        .opcode = (uint8_t)opcode, .source = {.fd = fd}, .read_callback = on_src_read};
    if (wslay_event_queue_fragmented_msg(c->ctx, &m) != 0) {
        c->src_fd = -1;
        return -1;
    }
    return 0;
}

static int fail(ws_conn_t *c, int code, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int fail(ws_conn_t *c, int code, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    c->broken = true;
    return code;
}

/* Explains why wslay stopped: a socket error, the peer's close, or its protocol error. */
static int fail_conn(ws_conn_t *c, char *err, size_t errlen)
{
    if (c->cancelled)
        return fail(c, WS_ERR_CANCELLED, err, errlen, "cancelled by the receiver");
    if (c->extra)
        return fail(c, WS_ERR_CONN, err, errlen, "%s sent more than one message", c->peer);
    if (c->src_errno)
        return fail(c, WS_ERR_CONN, err, errlen, "cannot read the message to send: %s",
                    c->src_errno == ENODATA ? "file shorter than its size"
                                            : strerror(c->src_errno));
    if (wslay_event_get_close_received(c->ctx))
        return fail(c, WS_ERR_CONN, err, errlen, "%s closed the connection (close code %u)",
                    c->peer, wslay_event_get_status_code_received(c->ctx));
    if (c->eof)
        return fail(c, WS_ERR_CONN, err, errlen, "%s closed the connection", c->peer);
    if (c->rd_errno)
        return fail(c, WS_ERR_CONN, err, errlen, "receiving from %s: %s", c->peer,
                    strerror(c->rd_errno));
    if (c->wr_errno)
        return fail(c, WS_ERR_CONN, err, errlen, "sending to %s: %s", c->peer,
                    strerror(c->wr_errno));
    return fail(c, WS_ERR_CONN, err, errlen, "WebSocket protocol error from %s", c->peer);
}

int ws_recv_msg(ws_conn_t *c, const ws_msg_cb_t *cb, int idle_timeout_ms, char *err, size_t errlen)
{
    if (c->broken)
        return fail(c, WS_ERR_CONN, err, errlen, "connection to %s is broken", c->peer);
    c->cb = cb;
    c->in_ctrl = c->msg_active = c->frame_fin = c->msg_done = false;
    c->cancelled = c->extra = false;
    c->dlen = 0;
    int64_t last = time_mono_ns();
    for (;;) {
        uint64_t before = c->moved;
        if (wslay_event_want_write(c->ctx) && wslay_event_send(c->ctx) != 0)
            return fail_conn(c, err, errlen);
        if (flush_out(c) < 0)
            return fail_conn(c, err, errlen);
        if (!c->msg_done) {
            int rc = wslay_event_recv(c->ctx);
            deliver(c);
            if (rc != 0 || c->cancelled || c->extra || wslay_event_get_close_received(c->ctx) ||
                !wslay_event_get_read_enabled(c->ctx))
                return fail_conn(c, err, errlen);
        }
        bool sending = wslay_event_want_write(c->ctx) || c->olen > 0;
        if (c->msg_done && !sending)
            return 0;
        int64_t now = time_mono_ns();
        if (c->moved != before) {
            last = now;
            continue;
        }
        int wait = -1;
        if (idle_timeout_ms > 0) {
            int64_t left = (int64_t)idle_timeout_ms - (now - last) / 1000000;
            if (left <= 0)
                return fail(c, WS_ERR_TIMEOUT, err, errlen, "nothing from %s for %d ms", c->peer,
                            idle_timeout_ms);
            wait = (int)left;
        }
        struct pollfd p = {.fd = c->fd,
                           .events = (short)((c->msg_done ? 0 : POLLIN) | (sending ? POLLOUT : 0))};
        if (poll(&p, 1, wait) < 0 && errno != EINTR)
            return fail(c, WS_ERR_CONN, err, errlen, "poll: %s", strerror(errno));
    }
}

/* ---- connecting ---- */

static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = (deadline - time_mono_ns()) / 1000000;
        if (left <= 0)
            return -ETIMEDOUT;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, (int)left);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -errno;
    }
}

/* Non-blocking connect bounded by the deadline. 0 or -errno. */
static int connect_fd(int fd, const struct sockaddr *sa, socklen_t salen, int64_t deadline)
{
    if (connect(fd, sa, salen) == 0)
        return 0;
    if (errno != EINPROGRESS && errno != EINTR)
        return -errno;
    int rc = wait_fd(fd, POLLOUT, deadline);
    if (rc < 0)
        return rc;
    int soerr = 0;
    socklen_t l = sizeof(soerr);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &l) < 0)
        return -errno;
    return -soerr;
}

static const char *find_header(const char *hdrs, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    for (const char *l = strstr(hdrs, "\r\n"); l && l[2] != '\r'; l = strstr(l + 2, "\r\n")) {
        const char *h = l + 2;
        if (strncasecmp(h, name, nl) == 0 && h[nl] == ':') {
            const char *v = h + nl + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            const char *e = strstr(v, "\r\n");
            while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            *vlen = (size_t)(e - v);
            return v;
        }
    }
    return NULL;
}

/* The opening handshake (RFC 6455 §4.1). Bytes after the response stay in rbuf. */
static int handshake(ws_conn_t *c, const char *host, const char *path, int64_t deadline, char *err,
                     size_t errlen)
{
    uint8_t raw[16];
    fill_random(raw, sizeof(raw));
    char *key = base64_encode(raw, sizeof(raw));
    char accept[29];
    ws_accept_key(key, accept);
    char *req = xasprintf("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                          "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                          "Sec-WebSocket-Version: 13\r\n\r\n",
                          path, host, key);
    free(key);
    size_t len = strlen(req), off = 0;
    int rc = 0;
    while (off < len && rc == 0) {
        ssize_t n = send(c->fd, req + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0)
            off += (size_t)n;
        else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            rc = wait_fd(c->fd, POLLOUT, deadline);
        else if (n < 0 && errno != EINTR)
            rc = -errno;
    }
    free(req);
    if (rc < 0) {
        snprintf(err, errlen, "sending the upgrade request to %s: %s", c->peer, strerror(-rc));
        return -1;
    }
    /* Read the response headers (kept NUL-terminated for parsing). */
    char *end = NULL;
    while (end == NULL) {
        if (c->rlen >= WS_RBUF - 1) {
            snprintf(err, errlen, "upgrade response from %s is too large", c->peer);
            return -1;
        }
        ssize_t n = recv(c->fd, c->rbuf + c->rlen, WS_RBUF - 1 - c->rlen, MSG_DONTWAIT);
        if (n > 0) {
            c->rlen += (size_t)n;
            c->rbuf[c->rlen] = '\0';
            end = strstr((char *)c->rbuf, "\r\n\r\n");
            continue;
        }
        if (n == 0) {
            snprintf(err, errlen, "%s closed the connection during the upgrade", c->peer);
            return -1;
        }
        if (errno == EINTR)
            continue;
        rc = errno == EAGAIN || errno == EWOULDBLOCK ? wait_fd(c->fd, POLLIN, deadline) : -errno;
        if (rc < 0) {
            snprintf(err, errlen, "waiting for the upgrade response from %s: %s", c->peer,
                     strerror(-rc));
            return -1;
        }
    }
    const char *hdrs = (const char *)c->rbuf;
    const char *eol = strstr(hdrs, "\r\n");
    int status = 0;
    if (strncmp(hdrs, "HTTP/1.", 7) == 0 && strlen(hdrs) > 12)
        status = atoi(hdrs + 9);
    if (status != 101) {
        snprintf(err, errlen, "%s refused the WebSocket upgrade: %.*s", c->peer,
                 (int)(eol - hdrs > 200 ? 200 : eol - hdrs), hdrs);
        return -1;
    }
    size_t n1 = 0, n2 = 0, n3 = 0;
    const char *up = find_header(hdrs, "Upgrade", &n1);
    const char *conn = find_header(hdrs, "Connection", &n2);
    const char *acc = find_header(hdrs, "Sec-WebSocket-Accept", &n3);
    if (up == NULL || !http_has_token(up, n1, "websocket") || conn == NULL ||
        !http_has_token(conn, n2, "upgrade")) {
        snprintf(err, errlen, "%s: 101 without Upgrade: websocket / Connection: Upgrade", c->peer);
        return -1;
    }
    if (acc == NULL || n3 != 28 || memcmp(acc, accept, 28) != 0) {
        snprintf(err, errlen, "%s: wrong Sec-WebSocket-Accept (expected %s)", c->peer, accept);
        return -1;
    }
    c->roff = (size_t)(end + 4 - hdrs);
    if (c->roff == c->rlen)
        c->roff = c->rlen = 0;
    return 0;
}

static ws_conn_t *conn_new(int fd, const char *peer)
{
    ws_conn_t *c = xcalloc(1, sizeof(*c));
    c->fd = fd;
    c->src_fd = -1;
    snprintf(c->peer, sizeof(c->peer), "%s", peer);
    c->rbuf = xmalloc(WS_RBUF);
    c->obuf = xmalloc(WS_OBUF);
    c->dbuf = xmalloc(WS_DBUF);
    c->sbuf = xmalloc(WS_SBUF);
    fill_random(&c->rng, sizeof(c->rng));
    c->rng |= 1;
    return c;
}

static void conn_free(ws_conn_t *c)
{
    if (c->ctx)
        wslay_event_context_free(c->ctx);
    if (c->fd >= 0)
        close(c->fd);
    free(c->rbuf);
    free(c->obuf);
    free(c->dbuf);
    free(c->sbuf);
    free(c);
}

/* Handshake, then the wslay context. Takes fd (closed on failure). */
static ws_conn_t *conn_start(int fd, const char *peer, const char *host, const char *path,
                             int64_t deadline, char *err, size_t errlen)
{
    ws_conn_t *c = conn_new(fd, peer);
    if (handshake(c, host, path, deadline, err, errlen) < 0) {
        conn_free(c);
        return NULL;
    }
    struct wslay_event_callbacks cbs = {
        .recv_callback = on_recv,
        .send_callback = on_send,
        .genmask_callback = on_genmask,
        .on_frame_recv_start_callback = on_frame_start,
        .on_frame_recv_chunk_callback = on_frame_chunk,
        .on_frame_recv_end_callback = on_frame_end,
    };
    if (wslay_event_context_client_init(&c->ctx, &cbs, c) != 0)
        locus_panic("out of memory");
    wslay_event_config_set_no_buffering(c->ctx, 1);
    /* In no-buffering mode the limit applies per frame; AIStore's target allows 16 GiB per
     * message, we do not limit what we never hold. */
    wslay_event_config_set_max_recv_msg_length(c->ctx, UINT64_MAX >> 1);
    return c;
}

ws_conn_t *ws_connect_tcp(const char *host, int port, const char *path, int timeout_ms, char *err,
                          size_t errlen)
{
    int64_t deadline = time_mono_ns() + (int64_t)timeout_ms * 1000000;
    char portstr[16], peer[128];
    snprintf(portstr, sizeof(portstr), "%d", port);
    snprintf(peer, sizeof(peer), "%s:%d", host, port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int grc = getaddrinfo(host, portstr, &hints, &res);
    if (grc != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(grc));
        return NULL;
    }
    int rc = -EHOSTUNREACH, fd = -1;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            rc = -errno;
            continue;
        }
        rc = connect_fd(fd, ai->ai_addr, ai->ai_addrlen, deadline);
        if (rc == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, errlen, "cannot connect to %s: %s", peer, strerror(-rc));
        return NULL;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    char hosthdr[160];
    snprintf(hosthdr, sizeof(hosthdr), strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    return conn_start(fd, peer, hosthdr, path, deadline, err, errlen);
}

ws_conn_t *ws_connect_unix(const char *sock_path, const char *path, int timeout_ms, char *err,
                           size_t errlen)
{
    int64_t deadline = time_mono_ns() + (int64_t)timeout_ms * 1000000;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(sock_path) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "socket path too long: %s", sock_path);
        return NULL;
    }
    memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return NULL;
    }
    int sz = WS_UNIX_SOCKBUF;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    int rc = connect_fd(fd, (struct sockaddr *)&sa, sizeof(sa), deadline);
    if (rc < 0) {
        snprintf(err, errlen, "cannot connect to %s: %s", sock_path, strerror(-rc));
        close(fd);
        return NULL;
    }
    return conn_start(fd, sock_path, "localhost", path, deadline, err, errlen);
}

void ws_close(ws_conn_t *c)
{
    if (c == NULL)
        return;
    if (!c->broken && c->ctx && c->src_fd < 0) {
        /* A polite close frame if the socket takes it right away; we do not wait for the
         * peer's close (AIStore's target just closes the TCP connection). */
        if (wslay_event_queue_close(c->ctx, WSLAY_CODE_NORMAL_CLOSURE, NULL, 0) == 0 &&
            wslay_event_send(c->ctx) == 0)
            flush_out(c);
    }
    conn_free(c);
}
