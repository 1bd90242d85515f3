/*
 * hpush.c - the HTTP communicators (docs/protocol.md §3.1-3.2). hpush:// PUTs /<bucket>/<object>
 * with the object's bytes streamed from its file (or nothing and ?etl_fqn= in FQN mode);
 * hpull:// GETs /<PathEscape(uname)> and the server fetches the object from the target; 200 =
 * transformed bytes (streamed to the caller's sink), 204 = delivered elsewhere, >= 400 = "ETL
 * error: <body>" with that status. obj_timeout bounds the whole request; connection failures before
 * any byte of the answer are retried a few times; the per-thread keep-alive handle reuses
 * connections.
 */
#include "common/log.h"
#include "common/names.h"
#include "common/util.h"
#include "etl/internal.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define HPUSH_RETRIES 3
#define HPUSH_ERRBODY_MAX 4096
/* libcurl's buffers for the exchange: its defaults (16 KiB in, 64 KiB out) cost a recv, a poll
 * and a write of the work file per 16 KiB of a transformed object (docs/benchmarks.md, "System
 * calls per transformed object"). */
#define HPUSH_RECV_BUF (512 * 1024)
#define HPUSH_SEND_BUF (512 * 1024)

typedef struct {
    const etl_out_t *out;
    int fd;
    int64_t off;
    long status;
    int64_t clen;
    bool started; /* on_status called */
    bool cancelled;
    buf_t errbody;
    buf_t batch; /* body bytes not yet given to the sink (out->batch: libcurl hands the body over
                  * in pieces of at most 16 KiB whatever its buffer) */
} hp_t;

/* Gives the batched body bytes to the sink; false when it refused them (cancelled). */
static bool batch_flush(hp_t *h)
{
    if (h->batch.len == 0)
        return true;
    int rc = h->out->sink(h->out->arg, h->batch.base, h->batch.len);
    h->batch.len = 0;
    if (rc < 0)
        h->cancelled = true;
    return rc >= 0;
}

static size_t on_read(char *p, size_t sz, size_t n, void *ud)
{
    hp_t *h = ud;
    ssize_t r = pread(h->fd, p, sz * n, h->off);
    if (r < 0)
        return CURL_READFUNC_ABORT;
    h->off += r;
    return (size_t)r;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    hp_t *h = ud;
    size_t len = sz * n;
    if (len > 5 && strncmp(p, "HTTP/", 5) == 0) {
        const char *sp = memchr(p, ' ', len);
        h->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        h->clen = -1;
    } else if (len > 15 && strncasecmp(p, "Content-Length:", 15) == 0) {
        h->clen = strtoll(p + 15, NULL, 10);
    }
    return len;
}

static bool is_ok(long st)
{
    return st == 200 || st == 202 || st == 0;
}

static size_t on_write(char *p, size_t sz, size_t n, void *ud)
{
    hp_t *h = ud;
    size_t len = sz * n;
    if (h->status >= 400 || h->status == 204) {
        if (h->errbody.len < HPUSH_ERRBODY_MAX)
            buf_append(&h->errbody, p, len);
        return len;
    }
    if (!h->started) {
        h->started = true;
        if (h->out->on_status && h->out->on_status(h->out->arg, 200, h->clen) < 0) {
            h->cancelled = true;
            return 0;
        }
    }
    if (h->batch.len == 0 && len >= h->out->batch) {
        if (h->out->sink(h->out->arg, p, len) < 0) {
            h->cancelled = true;
            return 0;
        }
        return len;
    }
    buf_append(&h->batch, p, len);
    if (h->batch.len >= h->out->batch && !batch_flush(h))
        return 0;
    return len;
}

/* Large socket buffers on the Unix socket: with the defaults bulk transfers are slower than
 * loopback TCP (docs/design.md §13.9). */
static int on_sockopt(void *ud, curl_socket_t fd, curlsocktype purpose)
{
    int buf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
    return CURL_SOCKOPT_OK;
}

static bool retriable(CURLcode cc)
{
    return cc == CURLE_COULDNT_CONNECT || cc == CURLE_SEND_ERROR || cc == CURLE_RECV_ERROR ||
           cc == CURLE_GOT_NOTHING;
}

/* Go's url.PathEscape: everything but unreserved characters and "@" escaped ('/' too).
 * Caller frees. */
char *etl_path_escape(const char *s)
{
    return url_encode(s, "@");
}

/* The request URL of one object. hpush: /<bck>/<obj>; hpull: /<PathEscape(uname)>.
 * Query: etl_args, and etl_fqn = PathEscape(FQN) query-encoded again (docs/protocol.md §3.1).
 * Caller frees. */
char *etl_object_url(const etl_inst_t *e, const etl_req_t *rq, bool hpull)
{
    buf_t b;
    buf_init(&b);
    buf_puts(&b, e->url);
    if (hpull) {
        char *u = uname_make(rq->bck, rq->obj);
        char *eu = etl_path_escape(u);
        buf_printf(&b, "/%s", eu);
        free(eu);
        free(u);
    } else {
        char *eobj = url_encode(rq->obj, "/");
        char *ebck = url_encode(rq->bck, "");
        buf_printf(&b, "/%s/%s", ebck, eobj);
        free(eobj);
        free(ebck);
    }
    char sep = '?';
    if (rq->args && rq->args[0]) {
        char *ea = url_encode(rq->args, "");
        buf_printf(&b, "%cetl_args=%s", sep, ea);
        free(ea);
        sep = '&';
    }
    if (rq->fqn) {
        char *pe = etl_path_escape(rq->fqn);
        char *qe = url_encode(pe, "");
        buf_printf(&b, "%cetl_fqn=%s", sep, qe);
        free(qe);
        free(pe);
    }
    return buf_steal(&b);
}

/* One HTTP exchange with the ETL server: hpush PUTs the object (or nothing in FQN mode),
 * hpull GETs. Ais-Node-Url carries the later pipeline stages and the direct-put destination. */
static int http_transform(etl_inst_t *e, const etl_req_t *rq, const etl_out_t *out, char *err,
                          size_t errlen, bool hpull)
{
    char *url = etl_object_url(e, rq, hpull);
    bool body = !hpull && rq->fqn == NULL;
    char *nodes = etl_node_urls(rq);
    char *node_hdr = nodes ? xasprintf("Ais-Node-Url: %s", nodes) : NULL;
    free(nodes);
    hp_t h = {.out = out, .fd = rq->fd, .clen = -1};
    buf_init(&h.errbody);
    buf_init(&h.batch);
    int status = 0;
    CURLcode cc = CURLE_OK;
    for (int attempt = 0; attempt <= HPUSH_RETRIES; attempt++) {
        CURL *c = httpc_thread_curl();
        struct curl_slist *sl = curl_slist_append(NULL, "Expect:");
        if (!hpull)
            sl = curl_slist_append(sl, "Content-Type: application/octet-stream");
        if (node_hdr)
            sl = curl_slist_append(sl, node_hdr);
        h.off = 0;
        h.status = 0;
        buf_dispose(&h.errbody);
        curl_easy_setopt(c, CURLOPT_URL, url);
        if (!hpull) {
            curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
            curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)(body ? rq->size : 0));
            curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
            curl_easy_setopt(c, CURLOPT_READDATA, &h);
        }
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &h);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, sl);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
        curl_easy_setopt(c, CURLOPT_BUFFERSIZE, (long)HPUSH_RECV_BUF);
        curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, (long)HPUSH_SEND_BUF);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(e->obj_timeout_ns / 1000000));
        if (e->sock_path[0]) {
            curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, e->sock_path);
            curl_easy_setopt(c, CURLOPT_SOCKOPTFUNCTION, on_sockopt);
        }
        cc = curl_easy_perform(c);
        curl_slist_free_all(sl);
        if (cc == CURLE_OK)
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &h.status);
        if (cc == CURLE_OK)
            (void)batch_flush(&h);
        if (cc == CURLE_OK || h.started || h.cancelled || !retriable(cc) || e->stop_requested)
            break;
        LOCUS_LOG(LOG_VERBOSE, "etl %s: %s: %s (retrying)", e->name, url, curl_easy_strerror(cc));
        sleep_ms(100 << attempt);
    }
    if (h.cancelled) {
        snprintf(err, errlen, "transform of ais://%s/%s cancelled", rq->bck, rq->obj);
        status = 499;
    } else if (cc == CURLE_OPERATION_TIMEDOUT) {
        snprintf(err, errlen, "ETL error: %s did not answer within obj_timeout %llds", e->name,
                 (long long)(e->obj_timeout_ns / 1000000000LL));
        status = 504;
    } else if (cc != CURLE_OK) {
        snprintf(err, errlen, "ETL error: %s server unreachable: %s", e->name,
                 curl_easy_strerror(cc));
        status = h.started ? 502 : 503;
    } else if (h.status >= 400) {
        snprintf(err, errlen, "ETL error: %.*s", (int)h.errbody.len,
                 h.errbody.base ? h.errbody.base : "");
        status = (int)h.status;
    } else if (h.status == 204) {
        status = 204;
    } else if (is_ok(h.status)) {
        if (!h.started && out->on_status && out->on_status(out->arg, 200, 0) < 0)
            status = 499;
        else
            status = 200;
    } else {
        snprintf(err, errlen, "ETL error: unexpected status %ld from %s", h.status, e->name);
        status = 502;
    }
    buf_dispose(&h.errbody);
    buf_dispose(&h.batch);
    free(node_hdr);
    free(url);
    return status;
}

static int hpush_transform(etl_inst_t *e, const etl_req_t *rq, const etl_out_t *out, char *err,
                           size_t errlen)
{
    return http_transform(e, rq, out, err, errlen, false);
}

static int hpull_transform(etl_inst_t *e, const etl_req_t *rq, const etl_out_t *out, char *err,
                           size_t errlen)
{
    return http_transform(e, rq, out, err, errlen, true);
}

const etl_comm_t etl_comm_hpull = {
    .scheme = "hpull://", .transform = hpull_transform, .needs_server = true};

const etl_comm_t etl_comm_hpush = {
    .scheme = "hpush://", .transform = hpush_transform, .needs_server = true};

const etl_comm_t *etl_comm_find(const char *scheme)
{
    static const etl_comm_t *const comms[] = {&etl_comm_hpush, &etl_comm_hpull, &etl_comm_io,
                                              &etl_comm_ws};
    for (size_t i = 0; i < ARRAY_SIZE(comms); i++)
        if (strcmp(comms[i]->scheme, scheme) == 0)
            return comms[i];
    return NULL;
}

void *etl_session_open(etl_inst_t *e, int nconns, char *err, size_t errlen)
{
    return e->comm->session_open ? e->comm->session_open(e, nconns, err, errlen) : NULL;
}

void etl_session_close(etl_inst_t *e, void *session)
{
    if (session && e->comm->session_close)
        e->comm->session_close(e, session);
}

bool etl_direct_put(const etl_inst_t *e)
{
    return e->direct_put;
}

bool etl_fqn_mode(const etl_inst_t *e)
{
    return e->fqn_mode;
}

int etl_transform(etl_inst_t *e, const etl_req_t *rq, const etl_out_t *out, char *err,
                  size_t errlen)
{
    int64_t t0 = time_mono_ns();
    int rc = e->comm->transform(e, rq, out, err, errlen);
    e->transform_ns += time_mono_ns() - t0;
    e->transforms++;
    if (rc < 0 || rc >= 400)
        e->transform_errs++;
    etl_note_result(e, rc, err);
    return rc;
}
