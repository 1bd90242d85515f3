/*
 * etl_http.c - the ETL server's outgoing HTTP: hpull fetches from AIS_TARGET_URL, POST /download
 * fetches, and direct-put PUTs (libcurl).
 *
 * DESIGN
 * libcurl easy handles are not thread-safe and connection reuse happens only within one handle
 * (docs/design.md §13.6), so every thread that makes requests (the MHD connection threads) keeps
 * one easy handle in thread-local storage; a pthread key destructor cleans it up at thread exit.
 */
#include "etlsdk/internal.h"
#include "common/util.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static pthread_key_t easy_key;

static void easy_free(void *p)
{
    curl_easy_cleanup((CURL *)p);
}

static void do_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    pthread_key_create(&easy_key, easy_free);
}

void locus_etl__http_global_init(void)
{
    pthread_once(&init_once, do_init);
}

static CURL *thread_easy(void)
{
    locus_etl__http_global_init();
    CURL *c = pthread_getspecific(easy_key);
    if (c == NULL) {
        c = curl_easy_init();
        if (c == NULL)
            return NULL;
        pthread_setspecific(easy_key, c);
    } else {
        curl_easy_reset(c);
    }
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    /* An https target (TLS on): the CA bundle the target passes in the environment. */
    const char *ca = getenv("CURL_CA_BUNDLE");
    if (ca && ca[0])
        curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    return c;
}

typedef struct {
    buf_t b;
    uint64_t max;
    bool too_big;
    CURL *c;
    int fd;          /* >= 0: a 2xx body goes here */
    uint64_t fd_len; /* written to fd */
    bool fd_failed;
    locus_etl__fetch_t *f; /* a streaming fetch: told when the first 2xx bytes arrive */
} sink_t;

/* A 2xx body into s->fd (get_fd); false when it is not for the fd. */
static bool body_to_fd(sink_t *s, const char *p, size_t n, size_t *ret)
{
    long st = 0;
    if (s->fd < 0 || curl_easy_getinfo(s->c, CURLINFO_RESPONSE_CODE, &st) != CURLE_OK || st < 200 ||
        st > 299)
        return false;
    *ret = 0;
    if (s->f != NULL && s->fd_len == 0) {
        pthread_mutex_lock(&s->f->mu);
        s->f->streaming = true;
        pthread_cond_broadcast(&s->f->cond);
        pthread_mutex_unlock(&s->f->mu);
    }
    if (s->fd_len + n > s->max) {
        s->too_big = true;
        return true;
    }
    if (write_all(s->fd, p, n) != 0) {
        s->fd_failed = true;
        return true;
    }
    s->fd_len += n;
    *ret = n;
    return true;
}

static size_t on_body(char *p, size_t sz, size_t nm, void *ud)
{
    sink_t *s = ud;
    size_t n = sz * nm, ret;
    if (body_to_fd(s, p, n, &ret))
        return ret;
    if (s->b.len + n > (s->fd >= 0 ? 4096 : s->max)) {
        if (s->fd >= 0)
            return n; /* an error body: its start is enough */
        s->too_big = true;
        return 0;
    }
    buf_append(&s->b, p, n);
    return n;
}

static void finish(CURL *c, CURLcode cc, const char *errbuf, char *err, size_t errlen)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
}

static long http_get(const char *url, int timeout_ms, uint64_t max_size, locus_etl__fetch_t *f,
                     char **body, size_t *len, char *err, size_t errlen)
{
    *body = NULL;
    *len = 0;
    CURL *c = thread_easy();
    if (c == NULL) {
        snprintf(err, errlen, "curl_easy_init failed");
        return 0;
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    sink_t s = {.max = max_size, .c = c, .fd = f ? f->wfd : -1, .f = f};
    buf_init(&s.b);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    if (f == NULL) {
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    } else { /* as long as bytes move: the transform reading the pipe sets the pace */
        long sec = timeout_ms >= 1000 ? timeout_ms / 1000 : 1;
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, sec);
    }
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    CURLcode cc = curl_easy_perform(c);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    long status = 0;
    if (cc != CURLE_OK) {
        if (s.too_big)
            snprintf(err, errlen, "object larger than %llu bytes", (unsigned long long)max_size);
        else if (s.fd_failed)
            snprintf(err, errlen, "cannot spool the object: %s", strerror(errno));
        else
            finish(c, cc, errbuf, err, errlen);
        buf_dispose(&s.b);
        return s.too_big ? 413 : 0;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    *len = s.b.len;
    *body = buf_steal(&s.b);
    return status;
}

long locus_etl__http_get(const char *url, int timeout_ms, uint64_t max_size, char **body,
                         size_t *len, char *err, size_t errlen)
{
    return http_get(url, timeout_ms, max_size, NULL, body, len, err, errlen);
}

static void *fetch_main(void *arg)
{
    locus_etl__fetch_t *f = arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE); /* the reader may close its end: EPIPE, not a signal */
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    char *body = NULL;
    size_t len = 0;
    char err[sizeof(f->err)] = "";
    long st = http_get(f->url, f->timeout_ms, f->max, f, &body, &len, err, sizeof(err));
    close(f->wfd);
    pthread_mutex_lock(&f->mu);
    f->status = st;
    f->body = body;
    f->len = len;
    snprintf(f->err, sizeof(f->err), "%s", err);
    f->done = true;
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

locus_etl__fetch_t *locus_etl__fetch_start(const char *url, int timeout_ms, uint64_t max_size)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return NULL;
    locus_etl__fetch_t *f = xcalloc(1, sizeof(*f));
    f->url = xstrdup(url);
    f->timeout_ms = timeout_ms;
    f->max = max_size;
    f->rfd = p[0];
    f->wfd = p[1];
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cond, NULL);
    /* A small stack: the thread only runs curl, and a streaming transformer may live under a
     * tight address-space limit (a default 8 MiB stack is an eighth of 64 MiB). */
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 512 * 1024);
    int rc = pthread_create(&f->th, &attr, fetch_main, f);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        close(f->wfd);
        f->done = true;
        f->status = 0;
        snprintf(f->err, sizeof(f->err), "cannot start a fetch thread");
        return f;
    }
    f->joinable = true;
    pthread_mutex_lock(&f->mu);
    while (!f->streaming && !f->done)
        pthread_cond_wait(&f->cond, &f->mu);
    pthread_mutex_unlock(&f->mu);
    return f;
}

int locus_etl__fetch_end(void *arg)
{
    locus_etl__fetch_t *f = arg;
    pthread_mutex_lock(&f->mu);
    while (!f->done)
        pthread_cond_wait(&f->cond, &f->mu);
    bool ok = f->status >= 200 && f->status <= 299;
    pthread_mutex_unlock(&f->mu);
    return ok ? 0 : LOCUS_ETL_EIO;
}

void locus_etl__fetch_free(locus_etl__fetch_t *f)
{
    if (f == NULL)
        return;
    close(f->rfd); /* a writer blocked on a full pipe gets EPIPE and ends the transfer */
    if (f->joinable)
        pthread_join(f->th, NULL);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cond);
    free(f->body);
    free(f->url);
    free(f);
}

typedef struct {
    const char *p;
    size_t n;
    size_t off;
} src_t;

static size_t on_read(char *dst, size_t sz, size_t nm, void *ud)
{
    src_t *s = ud;
    size_t n = sz * nm;
    if (n > s->n - s->off)
        n = s->n - s->off;
    memcpy(dst, s->p + s->off, n);
    s->off += n;
    return n;
}

static int on_seek(void *ud, curl_off_t off, int origin)
{
    src_t *s = ud;
    if (origin != SEEK_SET || off < 0 || (size_t)off > s->n)
        return CURL_SEEKFUNC_CANTSEEK;
    s->off = (size_t)off;
    return CURL_SEEKFUNC_OK;
}

long locus_etl__http_put(const char *url, const char *node_url, const void *data, size_t n,
                         int timeout_ms, char **resp, size_t *resp_len, char *err, size_t errlen)
{
    *resp = NULL;
    *resp_len = 0;
    CURL *c = thread_easy();
    if (c == NULL) {
        snprintf(err, errlen, "curl_easy_init failed");
        return 0;
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    src_t src = {.p = data, .n = n};
    sink_t s = {.max = (uint64_t)1 << 40, .c = c, .fd = -1};
    buf_init(&s.b);
    struct curl_slist *hdrs = NULL;
    hdrs =
        curl_slist_append(hdrs, "Expect:"); /* no 100-continue round trip (docs/design.md §13.5) */
    hdrs = curl_slist_append(hdrs, "Content-Type: application/octet-stream");
    char *nh = NULL;
    if (node_url != NULL && node_url[0]) {
        nh = xasprintf("Ais-Node-Url: %s", node_url);
        hdrs = curl_slist_append(hdrs, nh);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(c, CURLOPT_READDATA, &src);
    curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek);
    curl_easy_setopt(c, CURLOPT_SEEKDATA, &src);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)n);
    /* libcurl's 64 KiB default costs a send and a poll per 64 KiB of an output */
    curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    CURLcode cc = curl_easy_perform(c);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    long status = 0;
    if (cc != CURLE_OK) {
        finish(c, cc, errbuf, err, errlen);
        buf_dispose(&s.b);
        if (cc == CURLE_COULDNT_CONNECT)
            status = LOCUS_ETL_HTTP_REFUSED;
    } else {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        *resp_len = s.b.len;
        *resp = buf_steal(&s.b);
    }
    /* The handle keeps pointers to hdrs until the next reset: clear them before freeing. */
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdrs);
    free(nh);
    return status;
}
