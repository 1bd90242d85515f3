/*
 * http_lite.c - GET, HEAD and in-memory PUT between nodes without libcurl: each thread keeps its
 * own kept-alive sockets to the peers it talks to; a request on a kept connection is one send(2)
 * and as many recv(2)s as its answer needs, nothing polled (the S3 relay's hot path; measured in
 * docs/s3.md, "What it costs").
 *
 * DESIGN
 * libcurl spent 42% of the proxy's CPU on a relayed 4 KiB GET, of which the two sends and
 * receives are less than half: it polls the socket before reusing it, polls again for the
 * answer, and allocates per transfer. Here the request says HTTP/1.0 with "Connection:
 * keep-alive", so a peer never answers chunked: an answer has a Content-Length (the connection is
 * kept) or runs to the end of the connection (closed after). A kept connection the peer closed
 * meanwhile fails at its first send or receive before any byte of an answer came; the request
 * then goes once more on a new connection (GET and HEAD are idempotent, and so is the PUT of
 * the same bytes: the peer had not read it, or stores the same object again). https:// peers and
 * anything this client does not do go to httpc_do_cb, with the same contract.
 */
#include "net/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define LITE_CONNS 8              /* kept connections per thread */
#define LITE_RECV_MIN (64u << 10) /* receive buffer */
#define LITE_RECV_MAX (1u << 20)  /* the largest a caller's buffer_size may make it */
#define LITE_CONNECT_MS 3000      /* as httpc_prepare's CURLOPT_CONNECTTIMEOUT_MS */
#define LITE_HOSTPORT 96          /* "host:port" of a peer */
#define LITE_REFUSAL (64u << 10)  /* what httpc_upgrade keeps of a refusal's text */

typedef struct {
    char key[LITE_HOSTPORT]; /* "host:port"; "" = free slot */
    int fd;
    int timeout_ms; /* SO_RCVTIMEO/SO_SNDTIMEO set on fd (0 = none) */
} lite_conn_t;

typedef struct {
    lite_conn_t conns[LITE_CONNS];
    unsigned next; /* slot to evict next when all are taken */
    char *rbuf;
    size_t rcap;
    buf_t req;
} lite_state_t;

static pthread_key_t lite_key;
static pthread_once_t lite_once = PTHREAD_ONCE_INIT;

static void state_free(void *p)
{
    lite_state_t *st = p;
    for (unsigned i = 0; i < LITE_CONNS; i++)
        if (st->conns[i].key[0])
            close(st->conns[i].fd);
    free(st->rbuf);
    buf_dispose(&st->req);
    free(st);
}

static void lite_init_once(void)
{
    pthread_key_create(&lite_key, state_free);
}

/* This thread's state, its receive buffer at least rbuf bytes (LITE_RECV_MIN..LITE_RECV_MAX). */
static lite_state_t *thread_state(size_t rbuf)
{
    pthread_once(&lite_once, lite_init_once);
    lite_state_t *st = pthread_getspecific(lite_key);
    if (st == NULL) {
        st = xcalloc(1, sizeof(*st));
        buf_init(&st->req);
        pthread_setspecific(lite_key, st);
    }
    size_t want = rbuf > LITE_RECV_MIN ? rbuf : LITE_RECV_MIN;
    want = want < LITE_RECV_MAX ? want : LITE_RECV_MAX;
    if (st->rcap < want) {
        free(st->rbuf);
        st->rbuf = xmalloc(want);
        st->rcap = want;
    }
    return st;
}

void httpc_lite_thread_cleanup(void)
{
    pthread_once(&lite_once, lite_init_once);
    lite_state_t *st = pthread_getspecific(lite_key);
    if (st) {
        state_free(st);
        pthread_setspecific(lite_key, NULL);
    }
}

/* ---------------------------------------------------------------- the answer's head */

static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

bool http_has_token(const char *v, size_t n, const char *token)
{
    size_t tl = strlen(token);
    for (size_t i = 0; i < n;) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t j = i;
        while (j < n && v[j] != ',')
            j++;
        size_t e = j;
        while (e > i && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (e - i == tl && strncasecmp(v + i, token, tl) == 0)
            return true;
        i = j;
    }
    return false;
}

/* One header line's meaning for the transfer; -1 when it breaks the framing. */
static int head_field(httpc_head_t *h, const char *n, size_t nl, const char *v, size_t vl,
                      bool *keep_alive)
{
    if (nl == 14 && strncasecmp(n, "Content-Length", 14) == 0) {
        if (vl == 0 || vl > 18)
            return -1;
        int64_t len = 0;
        for (size_t i = 0; i < vl; i++) {
            if (v[i] < '0' || v[i] > '9')
                return -1;
            len = len * 10 + (v[i] - '0');
        }
        if (h->content_length >= 0 && h->content_length != len)
            return -1; /* two different lengths: which one frames the body? */
        h->content_length = len;
    } else if (nl == 17 && strncasecmp(n, "Transfer-Encoding", 17) == 0) {
        return -1; /* not to an HTTP/1.0 request */
    } else if (nl == 10 && strncasecmp(n, "Connection", 10) == 0) {
        if (http_has_token(v, vl, "close"))
            h->close = true;
        if (http_has_token(v, vl, "keep-alive"))
            *keep_alive = true;
    }
    return 0;
}

int httpc_head_parse(const char *p, size_t n, httpc_head_t *h,
                     void (*on_header)(void *arg, const char *name, size_t nlen, const char *value,
                                       size_t vlen),
                     void *arg)
{
    memset(h, 0, sizeof(*h));
    h->content_length = -1;
    size_t lim = n < HTTPC_HEAD_MAX ? n : HTTPC_HEAD_MAX;
    const char *end = NULL;
    for (size_t i = 0; i + 3 < lim; i++)
        if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' && p[i + 3] == '\n') {
            end = p + i + 2; /* the last header line's CRLF included */
            break;
        }
    if (end == NULL)
        return n >= HTTPC_HEAD_MAX ? -1 : 0;
    /* "HTTP/1.x NNN[ reason]" */
    if (end - p < 12 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') || p[8] != ' ')
        return -1;
    for (int i = 9; i < 12; i++)
        if (p[i] < '0' || p[i] > '9')
            return -1;
    h->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    if (h->status < 100 || (p[12] != ' ' && p[12] != '\r'))
        return -1;
    bool keep_alive = false;
    const char *line = memchr(p, '\n', (size_t)(end - p));
    if (line == NULL || line[-1] != '\r')
        return -1;
    for (line++; line < end;) {
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (eol == NULL || eol == line || eol[-1] != '\r')
            return -1;
        const char *colon = memchr(line, ':', (size_t)(eol - line));
        if (colon == NULL || colon == line)
            return -1; /* no name (a folded line starts with a space: not a token either) */
        for (const char *c = line; c < colon; c++)
            if (!is_tchar((unsigned char)*c))
                return -1;
        const char *v = colon + 1, *ve = eol - 1;
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        for (const char *c = v; c < ve; c++)
            if (*c == '\r' || *c == '\0')
                return -1;
        size_t nl = (size_t)(colon - line), vl = (size_t)(ve - v);
        if (head_field(h, line, nl, v, vl, &keep_alive) < 0)
            return -1;
        if (on_header)
            on_header(arg, line, nl, v, vl);
        line = eol + 1;
    }
    if (p[7] == '0' && !keep_alive)
        h->close = true; /* an HTTP/1.0 answer is kept only when it says so */
    return (int)(end - p + 2);
}

/* ---------------------------------------------------------------- connections */

/* "http://host:port/path" -> key "host:port", host, port, path (into the caller's buffers). */
static bool split_url(const char *url, char key[LITE_HOSTPORT], char host[LITE_HOSTPORT],
                      char port[8], const char **path)
{
    if (strncmp(url, "http://", 7) != 0)
        return false;
    const char *hp = url + 7, *slash = strchr(hp, '/');
    size_t kl = slash ? (size_t)(slash - hp) : strlen(hp);
    if (kl == 0 || kl >= LITE_HOSTPORT || hp[0] == '[' || memchr(hp, '@', kl))
        return false; /* IPv6 literals and user info: httpc_do_cb's */
    memcpy(key, hp, kl);
    key[kl] = '\0';
    char *colon = strchr(key, ':');
    if (colon == NULL || colon == key || strlen(colon + 1) == 0 || strlen(colon + 1) > 5)
        return false;
    memcpy(host, key, (size_t)(colon - key));
    host[colon - key] = '\0';
    strcpy(port, colon + 1);
    *path = slash ? slash : "/";
    return true;
}

static int connect_to(const char *host, const char *port, char *why, size_t wlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0) {
        snprintf(why, wlen, "cannot resolve %s: %s", host, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
            continue;
        int err = 0;
        if (connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
            err = errno;
            if (err == EINPROGRESS) {
                struct pollfd pf = {.fd = fd, .events = POLLOUT};
                socklen_t el = sizeof(err);
                if (poll(&pf, 1, LITE_CONNECT_MS) == 1 &&
                    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0)
                    ; /* err is the outcome */
                else
                    err = ETIMEDOUT;
            }
        }
        if (err != 0) {
            snprintf(why, wlen, "cannot connect to %s:%s: %s", host, port, strerror(err));
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int fl = fcntl(fd, F_GETFL); /* blocking from here: a request is a send and receives */
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
        snprintf(why, wlen, "cannot set up the socket: %s", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* This thread's kept connection to key, or -1 (then *slot is where a new one goes). */
static int conn_find(lite_state_t *st, const char *key, unsigned *slot)
{
    unsigned free_slot = LITE_CONNS;
    for (unsigned i = 0; i < LITE_CONNS; i++) {
        if (strcmp(st->conns[i].key, key) == 0) {
            *slot = i;
            return st->conns[i].fd;
        }
        if (st->conns[i].key[0] == '\0' && free_slot == LITE_CONNS)
            free_slot = i;
    }
    if (free_slot == LITE_CONNS) { /* all taken: the oldest goes */
        free_slot = st->next;
        st->next = (st->next + 1) % LITE_CONNS;
        close(st->conns[free_slot].fd);
        st->conns[free_slot].key[0] = '\0';
    }
    *slot = free_slot;
    return -1;
}

static void conn_drop(lite_state_t *st, unsigned slot)
{
    if (st->conns[slot].key[0]) {
        close(st->conns[slot].fd);
        st->conns[slot].key[0] = '\0';
    }
}

static int set_timeout(lite_conn_t *c, int timeout_ms)
{
    if (c->timeout_ms == timeout_ms)
        return 0;
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    if (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
        setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
        return -1;
    c->timeout_ms = timeout_ms;
    return 0;
}

/* The request's head and body (n may be 0), in as few sendmsg(2)s as the socket takes. */
static int send_all(int fd, const char *head, size_t hn, const char *body, size_t n)
{
    struct iovec iov[2] = {{(void *)head, hn}, {(void *)body, n}};
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = n ? 2 : 1};
    while (m.msg_iovlen > 0) {
        ssize_t w = sendmsg(fd, &m, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        while (m.msg_iovlen > 0 && (size_t)w >= m.msg_iov[0].iov_len) {
            w -= (ssize_t)m.msg_iov[0].iov_len;
            m.msg_iov++;
            m.msg_iovlen--;
        }
        if (m.msg_iovlen > 0) {
            m.msg_iov[0].iov_base = (char *)m.msg_iov[0].iov_base + w;
            m.msg_iov[0].iov_len -= (size_t)w;
        }
    }
    return 0;
}

static ssize_t recv_some(int fd, char *p, size_t n)
{
    ssize_t r;
    while ((r = recv(fd, p, n, 0)) < 0 && errno == EINTR)
        ;
    return r;
}

/* ---------------------------------------------------------------- one request */

/* The request's head into st->req (a Content-Length when it has a body); false when a header
 * would break it (CR or LF). */
static bool build_request(lite_state_t *st, const char *method, const char *key, const char *url,
                          const char *path, const httpc_header_t *hdrs, const httpc_cb_t *cb,
                          const char *upgrade)
{
    buf_t *b = &st->req;
    b->len = 0;
    if (upgrade)
        buf_printf(b, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: %s\r\n",
                   method, path, key, upgrade);
    else
        buf_printf(b, "%s %s HTTP/1.0\r\nHost: %s\r\nConnection: keep-alive\r\n", method, path,
                   key);
    if (cb->body)
        buf_printf(b, "Content-Length: %zu\r\n", cb->body_len);
    char **lines = httpc_sign_lines(method, url, cb->body, cb->body ? cb->body_len : 0);
    bool ok = true;
    for (char **l = lines; l && *l; l++) {
        ok = ok && strpbrk(*l, "\r\n") == NULL;
        buf_printf(b, "%s\r\n", *l);
        free(*l);
    }
    free(lines);
    for (const httpc_header_t *x = hdrs; x && x->name; x++) {
        ok = ok && strpbrk(x->name, "\r\n:") == NULL && strpbrk(x->value, "\r\n") == NULL;
        buf_printf(b, "%s: %s\r\n", x->name, x->value);
    }
    buf_append(b, "\r\n", 2);
    return ok;
}

typedef struct {
    const httpc_cb_t *cb;
    bool head_only; /* HEAD: no body whatever the length says */
    long status;
    bool got_any; /* a byte of the answer arrived */
    char why[160];
} lite_xfer_t;

/* Reads the answer on fd. 1 = complete and the connection may be kept, 0 = complete and it must
 * be closed, -1 = failed (x->why), -2 = the connection was dead before any byte (retry). */
static int read_answer(lite_state_t *st, int fd, lite_xfer_t *x)
{
    size_t have = 0;
    httpc_head_t h;
    int hl;
    for (;;) {
        ssize_t r = recv_some(fd, st->rbuf + have, st->rcap - have);
        if (r <= 0) {
            if (!x->got_any && (r == 0 || errno == ECONNRESET || errno == EPIPE))
                return -2;
            snprintf(x->why, sizeof(x->why), "%s",
                     r == 0 ? "connection closed in the answer's head" : strerror(errno));
            return -1;
        }
        x->got_any = true;
        have += (size_t)r;
        hl = httpc_head_parse(st->rbuf, have, &h, x->cb->on_header, x->cb->arg);
        if (hl < 0) {
            snprintf(x->why, sizeof(x->why), "malformed answer head");
            return -1;
        }
        if (hl > 0)
            break;
    }
    x->status = h.status;
    bool no_body = x->head_only || h.status == 204 || h.status == 304 || h.status < 200;
    int64_t left = no_body ? 0 : h.content_length; /* -1: to the end of the connection */
    size_t extra = have - (size_t)hl;
    if (left >= 0 && (int64_t)extra > left) {
        snprintf(x->why, sizeof(x->why), "more bytes than the answer's Content-Length");
        return -1;
    }
    char *p = st->rbuf + hl;
    while (extra > 0 || left != 0) {
        if (extra > 0) {
            if (x->cb->on_body && x->cb->on_body(x->cb->arg, x->status, p, extra) < 0) {
                snprintf(x->why, sizeof(x->why), "aborted by the receiver");
                return -1;
            }
            if (left > 0)
                left -= (int64_t)extra;
            extra = 0;
            if (left == 0)
                break;
        }
        size_t want = st->rcap;
        if (left > 0 && (int64_t)want > left)
            want = (size_t)left;
        ssize_t r = recv_some(fd, st->rbuf, want);
        if (r == 0 && left < 0)
            return 0; /* the end of a body without a length */
        if (r <= 0) {
            snprintf(x->why, sizeof(x->why), "%s",
                     r == 0 ? "connection closed in the answer's body" : strerror(errno));
            return -1;
        }
        p = st->rbuf;
        extra = (size_t)r;
    }
    return h.close || left < 0 ? 0 : 1;
}

static int lite_do(const char *method, const char *url, const httpc_header_t *hdrs, int timeout_ms,
                   const httpc_cb_t *cb, httpc_resp_t *r)
{
    char key[LITE_HOSTPORT], host[LITE_HOSTPORT], port[8];
    const char *path;
    if (!split_url(url, key, host, port, &path))
        return httpc_do_cb(method, url, hdrs, timeout_ms, cb, r);
    lite_state_t *st = thread_state(cb->buffer_size);
    if (!build_request(st, method, key, url, path, hdrs, cb, NULL)) {
        r->err = xasprintf("%s %s: a header holds a line break", method, url);
        return -1;
    }
    lite_xfer_t x = {.cb = cb, .head_only = strcmp(method, "HEAD") == 0};
    for (int attempt = 0; attempt < 2; attempt++) {
        unsigned slot;
        int fd = conn_find(st, key, &slot);
        bool reused = fd >= 0;
        if (fd < 0) {
            fd = connect_to(host, port, x.why, sizeof(x.why));
            if (fd < 0)
                break;
            lite_conn_t *c = &st->conns[slot];
            snprintf(c->key, sizeof(c->key), "%s", key);
            c->fd = fd;
            c->timeout_ms = 0;
        }
        if (set_timeout(&st->conns[slot], timeout_ms > 0 ? timeout_ms : 0) < 0) {
            snprintf(x.why, sizeof(x.why), "cannot set a timeout: %s", strerror(errno));
            conn_drop(st, slot);
            break;
        }
        int rc;
        if (send_all(fd, st->req.base, st->req.len, cb->body, cb->body ? cb->body_len : 0) < 0) {
            snprintf(x.why, sizeof(x.why), "cannot send: %s", strerror(errno));
            rc = -2;
        } else {
            rc = read_answer(st, fd, &x);
        }
        if (rc != 1)
            conn_drop(st, slot);
        if (rc >= 0) {
            r->status = x.status;
            return 0;
        }
        if (rc == -1 || !reused)
            break;         /* a new connection that fails is the peer's answer */
        x.got_any = false; /* a kept connection the peer had closed: once more, on a new one */
    }
    r->err = xasprintf("%s %s: %s", method, url, x.why[0] ? x.why : "connection closed");
    return -1;
}

int httpc_get_lite(const char *method, const char *url, const httpc_header_t *hdrs, int timeout_ms,
                   const httpc_cb_t *cb, httpc_resp_t *r)
{
    if ((strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) || cb->body != NULL ||
        cb->stall_s > 0)
        return httpc_do_cb(method, url, hdrs, timeout_ms, cb, r);
    return lite_do(method, url, hdrs, timeout_ms, cb, r);
}

static int to_resp_body(void *arg, long status, const void *p, size_t n)
{
    (void)status;
    buf_append(&((httpc_resp_t *)arg)->body, p, n);
    return 0;
}

int httpc_put_lite(const char *url, const void *body, size_t len, const httpc_header_t *hdrs,
                   int timeout_ms, httpc_resp_t *r)
{
    httpc_cb_t cb = {.on_body = to_resp_body, .arg = r, .body = body ? body : "", .body_len = len};
    return lite_do("PUT", url, hdrs, timeout_ms, &cb, r); /* https://: httpc_do_cb, the same */
}

/* A refusal's body after its head (have bytes of rbuf read, the head hl of them) into r->body,
 * at most LITE_REFUSAL bytes of it. */
static void read_refusal(lite_state_t *st, int fd, const httpc_head_t *h, size_t hl, size_t have,
                         httpc_resp_t *r)
{
    int64_t left = h->content_length >= 0 ? h->content_length : LITE_REFUSAL;
    left = left < LITE_REFUSAL ? left : LITE_REFUSAL;
    size_t k = have - hl < (size_t)left ? have - hl : (size_t)left;
    buf_append(&r->body, st->rbuf + hl, k);
    left -= (int64_t)k;
    while (left > 0) {
        ssize_t n = recv_some(fd, st->rbuf, (size_t)left < st->rcap ? (size_t)left : st->rcap);
        if (n <= 0)
            break;
        buf_append(&r->body, st->rbuf, (size_t)n);
        left -= n;
    }
}

int httpc_upgrade(const char *url, const httpc_header_t *hdrs, const void *body, size_t len,
                  const char *proto, int timeout_ms, httpc_resp_t *r, buf_t *extra)
{
    char key[LITE_HOSTPORT], host[LITE_HOSTPORT], port[8], why[160] = "";
    const char *path;
    if (!split_url(url, key, host, port, &path))
        return -2;
    lite_state_t *st = thread_state(0);
    httpc_cb_t cb = {.body = body, .body_len = len};
    if (!build_request(st, "GET", key, url, path, hdrs, &cb, proto)) {
        r->err = xasprintf("GET %s: a header holds a line break", url);
        return -1;
    }
    int fd = connect_to(host, port, why, sizeof(why));
    lite_conn_t c = {.fd = fd};
    if (fd >= 0 && set_timeout(&c, timeout_ms) < 0)
        snprintf(why, sizeof(why), "cannot set a timeout: %s", strerror(errno));
    else if (fd >= 0 && send_all(fd, st->req.base, st->req.len, body, len) < 0)
        snprintf(why, sizeof(why), "cannot send: %s", strerror(errno));
    size_t have = 0;
    httpc_head_t h;
    int hl = 0;
    while (fd >= 0 && why[0] == '\0' && hl == 0) {
        ssize_t n = recv_some(fd, st->rbuf + have, st->rcap - have);
        if (n <= 0)
            snprintf(why, sizeof(why), "%s",
                     n == 0 ? "connection closed in the answer's head" : strerror(errno));
        have += n > 0 ? (size_t)n : 0;
        if (n > 0 && (hl = httpc_head_parse(st->rbuf, have, &h, NULL, NULL)) < 0)
            snprintf(why, sizeof(why), "malformed answer head");
    }
    if (fd < 0 || why[0]) {
        if (fd >= 0)
            close(fd);
        r->err = xasprintf("GET %s: %s", url, why);
        return -1;
    }
    r->status = h.status;
    if (h.status == 101) {
        buf_append(extra, st->rbuf + hl, have - (size_t)hl);
        return fd;
    }
    read_refusal(st, fd, &h, (size_t)hl, have, r);
    close(fd);
    return -1;
}
