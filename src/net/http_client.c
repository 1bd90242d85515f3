/*
 * http_client.c - intra-cluster HTTP client: one libcurl easy handle per thread so
 * keep-alive connections are reused (docs/design.md §13.6), no Expect: 100-continue
 * (docs/design.md §13.5), redirects not followed (callers decide).
 */
#include "net/net.h"
#include "common/log.h"
#include "net/internal.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static pthread_key_t curl_key;
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void handle_free(void *h)
{
    curl_easy_cleanup(h);
}

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    pthread_key_create(&curl_key, handle_free);
}

static char *tls_ca; /* httpc_set_tls_ca() */

void httpc_set_tls_ca(const char *ca_file)
{
    free(tls_ca);
    tls_ca = ca_file ? xstrdup(ca_file) : NULL;
}

void httpc_global_init(void)
{
    pthread_once(&curl_once, curl_init_once);
}

static CURL *thread_handle(void)
{
    pthread_once(&curl_once, curl_init_once);
    CURL *h = pthread_getspecific(curl_key);
    if (h == NULL) {
        h = curl_easy_init();
        if (h == NULL)
            locus_panic("curl_easy_init failed");
        pthread_setspecific(curl_key, h);
    } else {
        curl_easy_reset(h); /* keeps the connection cache */
    }
    return h;
}

void *httpc_thread_curl(void)
{
    return thread_handle();
}

void httpc_thread_cleanup(void)
{
    httpc_lite_thread_cleanup();
    pthread_once(&curl_once, curl_init_once);
    CURL *h = pthread_getspecific(curl_key);
    if (h) {
        curl_easy_cleanup(h);
        pthread_setspecific(curl_key, NULL);
    }
}

void httpc_resp_init(httpc_resp_t *r)
{
    memset(r, 0, sizeof(*r));
    buf_init(&r->body);
}

void httpc_resp_dispose(httpc_resp_t *r)
{
    buf_dispose(&r->body);
    free(r->location);
    free(r->err);
    memset(r, 0, sizeof(*r));
}

static size_t on_write(char *p, size_t sz, size_t n, void *ud)
{
    buf_append(ud, p, sz * n);
    return sz * n;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    httpc_resp_t *r = ud;
    size_t len = sz * n;
    if (len > 9 && strncasecmp(p, "Location:", 9) == 0) {
        const char *v = p + 9;
        while (*v == ' ')
            v++;
        size_t vl = len - (size_t)(v - p);
        while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n'))
            vl--;
        free(r->location);
        r->location = xstrndup(v, vl);
    }
    return len;
}

typedef struct {
    int fd;
    int64_t off, end;
} fd_src_t;

static size_t on_read_fd(char *p, size_t sz, size_t n, void *ud)
{
    fd_src_t *s = ud;
    size_t want = sz * n;
    if ((int64_t)want > s->end - s->off)
        want = (size_t)(s->end - s->off);
    if (want == 0)
        return 0;
    ssize_t r = pread(s->fd, p, want, s->off);
    if (r <= 0) /* an error, or a file shorter than promised: the peer would wait forever */
        return CURL_READFUNC_ABORT;
    s->off += r;
    return (size_t)r;
}

static httpc_sign_cb signer;

void httpc_set_signer(httpc_sign_cb cb)
{
    signer = cb;
}

/* Appends the signer's header lines for this request. */
static struct curl_slist *add_signature(struct curl_slist *sl, const char *method, const char *url,
                                        const httpc_body_t *body)
{
    if (signer == NULL || body == NULL)
        return sl;
    char **lines = signer(method, url, body->p, body->len, body->fd, body->fd_off, body->fd_size);
    for (char **l = lines; l && *l; l++) {
        sl = curl_slist_append(sl, *l);
        free(*l);
    }
    free(lines);
    return sl;
}

char **httpc_sign_lines(const char *method, const char *url, const void *body, size_t len)
{
    return signer ? signer(method, url, body, len, -1, 0, 0) : NULL;
}

struct curl_slist *httpc_prepare(CURL *h, const char *method, const char *url, const char *ctype,
                                 const httpc_header_t *hdrs, const httpc_body_t *body,
                                 int timeout_ms, httpc_resp_t *r)
{
    struct curl_slist *sl = NULL;
    sl = curl_slist_append(sl, "Expect:");
    sl = add_signature(sl, method, url, body);
    if (ctype) {
        char *line = xasprintf("Content-Type: %s", ctype);
        sl = curl_slist_append(sl, line);
        free(line);
    }
    for (const httpc_header_t *x = hdrs; x && x->name; x++) {
        char *line = xasprintf("%s: %s", x->name, x->value);
        sl = curl_slist_append(sl, line);
        free(line);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, sl);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    if (tls_ca)
        curl_easy_setopt(h, CURLOPT_CAINFO, tls_ca);
    if (timeout_ms > 0)
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    return sl;
}

/* Runs a prepared request and frees its header list: 0 with r->status, or -1 with r->err. */
static int run_prepared(CURL *h, struct curl_slist *sl, const char *method, const char *url,
                        httpc_resp_t *r)
{
    CURLcode cc = curl_easy_perform(h);
    curl_slist_free_all(sl);
    if (cc != CURLE_OK) {
        r->err = xasprintf("%s %s: %s", method, url, curl_easy_strerror(cc));
        return -1;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    return 0;
}

/* body: what the signer sees (NULL: a request not to sign, e.g. over a Unix socket). */
static int perform(CURL *h, const char *method, const char *url, const httpc_header_t *hdrs,
                   const httpc_body_t *body, int timeout_ms, httpc_resp_t *r)
{
    struct curl_slist *sl = httpc_prepare(h, method, url, NULL, hdrs, body, timeout_ms, r);
    return run_prepared(h, sl, method, url, r);
}

int httpc_do(const char *method, const char *url, const void *body, size_t len,
             const httpc_header_t *hdrs, int timeout_ms, httpc_resp_t *r)
{
    CURL *h = thread_handle();
    if (body != NULL) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    httpc_body_t b = {body, body ? len : 0, -1, 0, 0};
    return perform(h, method, url, hdrs, &b, timeout_ms, r);
}

typedef struct {
    CURL *h;
    int fd;
    httpc_resp_t *r;
} fd_sink_t;

/* A 200's body goes to the file; any other answer's to r->body (its error text). */
static size_t on_write_fd(char *p, size_t sz, size_t n, void *ud)
{
    fd_sink_t *s = ud;
    long st = 0;
    curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &st);
    if (st != 200) {
        buf_append(&s->r->body, p, sz * n);
        return sz * n;
    }
    return write_all(s->fd, p, sz * n) < 0 ? 0 : sz * n;
}

int httpc_get_fd(const char *url, int fd, int timeout_ms, httpc_resp_t *r)
{
    CURL *h = thread_handle();
    httpc_body_t b = {NULL, 0, -1, 0, 0};
    struct curl_slist *sl = httpc_prepare(h, "GET", url, NULL, NULL, &b, timeout_ms, r);
    fd_sink_t s = {h, fd, r};
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write_fd);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    CURLcode cc = curl_easy_perform(h);
    curl_slist_free_all(sl);
    if (cc != CURLE_OK) {
        r->err = xasprintf("GET %s: %s", url, curl_easy_strerror(cc));
        return -1;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    return 0;
}

int httpc_get_unix(const char *sock_path, const char *url, int timeout_ms, httpc_resp_t *r)
{
    CURL *h = thread_handle();
    curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, sock_path);
    return perform(h, "GET", url, NULL, NULL, timeout_ms, r);
}

int httpc_json(const char *method, const char *url, json_t *j, int timeout_ms, httpc_resp_t *r)
{
    static const httpc_header_t hdrs[] = {{"Content-Type", "application/json"}, {NULL, NULL}};
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    int rc = httpc_do(method, url, s, s ? strlen(s) : 0, hdrs, timeout_ms, r);
    free(s);
    return rc;
}

int httpc_put_fd(const char *url, int fd, int64_t size, const httpc_header_t *hdrs, int timeout_ms,
                 httpc_resp_t *r)
{
    return httpc_put_fd_range(url, fd, 0, size, hdrs, timeout_ms, r);
}

int httpc_put_fd_range(const char *url, int fd, int64_t off, int64_t size,
                       const httpc_header_t *hdrs, int timeout_ms, httpc_resp_t *r)
{
    CURL *h = thread_handle();
    fd_src_t src = {fd, off, off + size};
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read_fd);
    curl_easy_setopt(h, CURLOPT_READDATA, &src);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)size);
    httpc_body_t b = {NULL, 0, fd, off, size};
    return perform(h, "PUT", url, hdrs, &b, timeout_ms, r);
}

typedef struct {
    CURL *h;
    const httpc_cb_t *cb;
} cb_sink_t;

static size_t on_header_cb(char *p, size_t sz, size_t n, void *ud)
{
    cb_sink_t *s = ud;
    size_t len = sz * n;
    const char *colon = memchr(p, ':', len);
    if (colon == NULL || s->cb->on_header == NULL)
        return len; /* the status line, the empty line that ends the headers */
    const char *v = colon + 1, *end = p + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    s->cb->on_header(s->cb->arg, p, (size_t)(colon - p), v, (size_t)(end - v));
    return len;
}

static size_t on_write_cb(char *p, size_t sz, size_t n, void *ud)
{
    cb_sink_t *s = ud;
    long st = 0;
    curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &st);
    return s->cb->on_body(s->cb->arg, st, p, sz * n) < 0 ? 0 : sz * n;
}

int httpc_do_cb(const char *method, const char *url, const httpc_header_t *hdrs, int timeout_ms,
                const httpc_cb_t *cb, httpc_resp_t *r)
{
    CURL *h = thread_handle();
    httpc_body_t b = {cb->body, cb->body ? cb->body_len : 0, -1, 0, 0};
    if (cb->body != NULL) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, cb->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)cb->body_len);
    }
    if (cb->stall_s > 0) {
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)cb->stall_s);
    }
    struct curl_slist *sl = httpc_prepare(h, method, url, NULL, hdrs, &b, timeout_ms, r);
    cb_sink_t s = {h, cb};
    if (cb->buffer_size)
        curl_easy_setopt(h, CURLOPT_BUFFERSIZE, (long)cb->buffer_size);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header_cb);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &s);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    return run_prepared(h, sl, method, url, r);
}
