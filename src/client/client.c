/*
 * client.c - the client handle and the request engine of liblocus (see internal.h, DESIGN).
 */
#include "client/internal.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MAX_REDIRECTS 5
#define ERRBODY_MAX (64 * 1024)

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init_once(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int locus_client_create(const char *endpoint, locus_client_t **out, char *err)
{
    *out = NULL;
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK)
        return client_fail(err, LOCUS_ETRANSPORT, "curl_global_init: %s",
                           curl_easy_strerror(curl_init_rc));
    char *ep = client_normalize_endpoint(endpoint != NULL ? endpoint : locus_default_endpoint());
    if (ep == NULL)
        return client_fail(err, LOCUS_EINVAL, "empty endpoint");
    if (strncmp(ep, "http://", 7) != 0 && strncmp(ep, "https://", 8) != 0) {
        client_fail(err, LOCUS_EINVAL, "endpoint \"%s\": only http:// and https:// are supported",
                    ep);
        free(ep);
        return LOCUS_EINVAL;
    }
    CURL *curl = curl_easy_init();
    if (curl == NULL) {
        free(ep);
        return client_fail(err, LOCUS_ENOMEM, "curl_easy_init failed");
    }
    locus_client_t *c = xcalloc(1, sizeof(*c));
    c->endpoint = ep;
    c->curl = curl;
    c->connect_ms = 5000;
    c->stall_ms = 60000;
    /* The environment AIStore's CLI and SDK read for https endpoints. */
    const char *ca = getenv("LOCUS_CA");
    if (ca == NULL || ca[0] == '\0')
        ca = getenv("AIS_CLIENT_CA");
    c->ca = ca && ca[0] ? xstrdup(ca) : NULL;
    const char *skip = getenv("AIS_SKIP_VERIFY_CRT");
    c->insecure = skip && (strcmp(skip, "true") == 0 || strcmp(skip, "1") == 0);
    locus_client_set_token(c, locus_default_token());
    *out = c;
    return 0;
}

void locus_client_set_token(locus_client_t *c, const char *token)
{
    free(c->auth_hdr);
    c->auth_hdr = NULL;
    if (token == NULL)
        return;
    size_t n = strlen(token);
    while (n > 0 && (token[n - 1] == '\n' || token[n - 1] == '\r' || token[n - 1] == ' '))
        n--; /* a token read from a file */
    if (n > 0)
        c->auth_hdr = xasprintf("Authorization: Bearer %.*s", (int)n, token);
}

void locus_client_destroy(locus_client_t *c)
{
    if (c == NULL)
        return;
    curl_easy_cleanup(c->curl);
    free(c->auth_hdr);
    free(c->endpoint);
    free(c->ca);
    free(c);
}

const char *locus_client_endpoint(const locus_client_t *c)
{
    return c->endpoint;
}

long locus_client_last_status(const locus_client_t *c)
{
    return c->last_status;
}

void locus_client_set_timeouts(locus_client_t *c, long connect_ms, long stall_ms)
{
    if (connect_ms > 0)
        c->connect_ms = connect_ms;
    if (stall_ms >= 0)
        c->stall_ms = stall_ms;
}

/* ------------------------------------------------------------------------------------------ */

void client_req_init(client_req_t *r, const char *method, const char *url)
{
    memset(r, 0, sizeof(*r));
    r->method = method;
    r->url = url;
    r->up_fd = -1;
    buf_init(&r->body);
    buf_init(&r->errbody);
}

static void clear_headers(client_req_t *r)
{
    for (size_t i = 0; i < r->nhdrs; i++) {
        free(r->hdrs[i].name);
        free(r->hdrs[i].value);
    }
    r->nhdrs = 0;
}

void client_req_dispose(client_req_t *r)
{
    clear_headers(r);
    free(r->hdrs);
    r->hdrs = NULL;
    r->hdrs_cap = 0;
    buf_dispose(&r->body);
    buf_dispose(&r->errbody);
}

const char *client_req_header(const client_req_t *r, const char *name)
{
    for (size_t i = 0; i < r->nhdrs; i++)
        if (strcasecmp(r->hdrs[i].name, name) == 0)
            return r->hdrs[i].value;
    return NULL;
}

/* Collects the headers of the current response; a status line starts a new response (interim
 * 100 Continue, redirect legs), so only the final response's headers remain. */
static size_t on_header(char *p, size_t size, size_t nmemb, void *arg)
{
    client_req_t *r = arg;
    size_t n = size * nmemb;
    size_t len = n;
    while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r'))
        len--;
    if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
        clear_headers(r);
        return n;
    }
    const char *colon = memchr(p, ':', len);
    if (colon == NULL)
        return n;
    const char *v = colon + 1;
    while (v < p + len && (*v == ' ' || *v == '\t'))
        v++;
    if (r->nhdrs == r->hdrs_cap) {
        r->hdrs_cap = r->hdrs_cap ? 2 * r->hdrs_cap : 16;
        r->hdrs = xrealloc(r->hdrs, r->hdrs_cap * sizeof(*r->hdrs));
    }
    r->hdrs[r->nhdrs].name = xstrndup(p, (size_t)(colon - p));
    r->hdrs[r->nhdrs].value = xstrndup(v, (size_t)(p + len - v));
    r->nhdrs++;
    return n;
}

typedef struct {
    locus_client_t *c;
    client_req_t *r;
} xfer_t;

static size_t on_write(char *p, size_t size, size_t nmemb, void *arg)
{
    xfer_t *x = arg;
    client_req_t *r = x->r;
    size_t n = size * nmemb;
    long status = 0;
    curl_easy_getinfo(x->c->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status >= 300) {
        /* Redirect and error bodies: keep a bounded amount for the error message. */
        if (r->errbody.len < ERRBODY_MAX)
            buf_append(&r->errbody, p,
                       n < ERRBODY_MAX - r->errbody.len ? n : ERRBODY_MAX - r->errbody.len);
        return n;
    }
    if (r->sink != NULL) {
        int rc = r->sink(r->sink_arg, p, n);
        if (rc != 0) {
            r->sink_rc = rc;
            return 0; /* CURLE_WRITE_ERROR */
        }
    } else {
        buf_append(&r->body, p, n);
    }
    r->nbytes += (int64_t)n;
    return n;
}

static size_t on_read(char *dst, size_t size, size_t nmemb, void *arg)
{
    client_req_t *r = arg;
    size_t want = size * nmemb;
    int64_t left = r->up_len - r->up_pos;
    if (left <= 0)
        return 0;
    if ((int64_t)want > left)
        want = (size_t)left;
    if (r->up_buf != NULL) {
        memcpy(dst, r->up_buf + r->up_pos, want);
        r->up_pos += (int64_t)want;
        return want;
    }
    ssize_t got;
    do {
        got = pread(r->up_fd, dst, want, (off_t)(r->up_off + r->up_pos));
    } while (got < 0 && errno == EINTR);
    if (got < 0) {
        r->io_err = -errno;
        return CURL_READFUNC_ABORT;
    }
    if (got == 0) {
        r->io_err = -ENODATA; /* the file shrank under us */
        return CURL_READFUNC_ABORT;
    }
    r->up_pos += got;
    return (size_t)got;
}

static int on_seek(void *arg, curl_off_t offset, int origin)
{
    client_req_t *r = arg;
    if (origin != SEEK_SET || offset < 0 || offset > r->up_len)
        return CURL_SEEKFUNC_CANTSEEK;
    r->up_pos = offset;
    return CURL_SEEKFUNC_OK;
}

/* Why a connect failed: the OS error curl saw, else curl's own text. */
static const char *errno_text_of(locus_client_t *c)
{
    long oserr = 0;
    curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &oserr);
    return oserr != 0 ? strerror((int)oserr) : "connection failed";
}

static int map_status(long status)
{
    switch (status) {
    case 400:
        return LOCUS_EINVAL;
    case 404:
        return LOCUS_ENOENT;
    case 409:
        return LOCUS_EEXIST;
    default:
        return LOCUS_EHTTP;
    }
}

static const char *status_text(long s)
{
    switch (s) {
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 416:
        return "Range Not Satisfiable";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    default:
        return "";
    }
}

const char *client_put_expect(int leg, int64_t len)
{
    /* Only a body the proxy would not drain waits for 100 Continue on the first leg, so its
     * 307 comes back before the body is sent; a smaller one is sent at once (docs/design.md
     * §13.5). Later legs go straight to the target. */
    return leg == 0 && len > CLIENT_DRAIN_MAX ? "Expect: 100-continue" : "Expect:";
}

/* One leg: sets up the handle from scratch (curl_easy_reset keeps the connection cache). */
static CURLcode perform_leg(locus_client_t *c, client_req_t *r, const char *url, int leg, xfer_t *x)
{
    CURL *h = c->curl;
    curl_easy_reset(h);
    c->curl_err[0] = '\0';
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->curl_err);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_ms);
    if (c->stall_ms > 0) {
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (c->stall_ms + 999) / 1000);
    }
    curl_easy_setopt(h, CURLOPT_USERAGENT, "locus/0.1");
    if (c->ca)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->ca);
    if (c->insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);

    struct curl_slist *hl = NULL;
    if (leg == 0 && c->auth_hdr != NULL) /* not to where a redirect points: see client.h */
        hl = curl_slist_append(hl, c->auth_hdr);
    if (r->json_body != NULL)
        hl = curl_slist_append(hl, "Content-Type: application/json");
    if (r->accept != NULL) {
        char a[128];
        snprintf(a, sizeof(a), "Accept: %s", r->accept);
        hl = curl_slist_append(hl, a);
    }
    if (r->node_id != NULL) {
        char a[160];
        snprintf(a, sizeof(a), "Ais-Node-Id: %s", r->node_id);
        hl = curl_slist_append(hl, a);
    }
    if (r->range[0] != '\0') {
        char a[96];
        snprintf(a, sizeof(a), "Range: %s", r->range);
        hl = curl_slist_append(hl, a);
    }

    if (strcmp(r->method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (r->upload) {
        r->up_pos = 0;
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->up_len);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, r);
        curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(h, CURLOPT_SEEKDATA, r);
        if (strcmp(r->method, "PUT") != 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
        hl = curl_slist_append(hl, client_put_expect(leg, r->up_len));
    } else if (r->json_body != NULL) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->json_body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(r->json_body));
        if (strcmp(r->method, "POST") != 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
        hl = curl_slist_append(hl, "Expect:");
    } else if (strcmp(r->method, "GET") == 0) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(r->method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    } else {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
    }
    if (hl != NULL)
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);

    CURLcode rc = curl_easy_perform(h);
    curl_slist_free_all(hl);
    return rc;
}

int client_do(locus_client_t *c, client_req_t *r, char *err)
{
    char *url = xstrdup(r->url);
    int ret = 0;
    xfer_t x = {c, r};
    c->last_status = 0;
    for (int leg = 0;; leg++) {
        buf_dispose(&r->errbody);
        buf_init(&r->errbody);
        r->io_err = 0;
        CURLcode rc = perform_leg(c, r, url, leg, &x);
        long status = 0;
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
        r->status = status;
        c->last_status = status;
        if (rc != CURLE_OK) {
            const char *detail = c->curl_err[0] != '\0' ? c->curl_err : curl_easy_strerror(rc);
            if (rc == CURLE_WRITE_ERROR && r->sink_rc != 0) {
                ret = r->sink_rc < 0 ? r->sink_rc : LOCUS_ECANCELED;
                client_fail(err, ret, "transfer aborted: %s", locus_strerror(ret));
            } else if ((rc == CURLE_READ_ERROR || rc == CURLE_ABORTED_BY_CALLBACK) &&
                       r->io_err != 0) {
                ret = r->io_err == -ENODATA ? LOCUS_EIO : r->io_err;
                client_fail(err, ret, "reading the upload: %s",
                            r->io_err == -ENODATA ? "file shrank while uploading"
                                                  : strerror(-r->io_err));
            } else if (rc == CURLE_COULDNT_CONNECT) {
                char *origin = xstrdup(url);
                char *p = strstr(origin, "://");
                if (p != NULL && (p = strchr(p + 3, '/')) != NULL)
                    *p = '\0';
                ret = client_fail(err, LOCUS_ECONNREFUSED, "cannot connect to %s (%s)", origin,
                                  errno_text_of(c));
                free(origin);
            } else if (rc == CURLE_OPERATION_TIMEDOUT) {
                ret = client_fail(err, LOCUS_ETIMEDOUT, "%s", detail);
            } else {
                ret = client_fail(err, LOCUS_ETRANSPORT, "%s", detail);
            }
            goto out;
        }
        if (status == 301 || status == 302 || status == 303 || status == 307 || status == 308) {
            char *loc = NULL;
            curl_easy_getinfo(c->curl, CURLINFO_REDIRECT_URL, &loc);
            if (loc == NULL || loc[0] == '\0') {
                ret =
                    client_fail(err, LOCUS_EPROTO, "HTTP %ld redirect without a Location", status);
                goto out;
            }
            if (leg + 1 >= MAX_REDIRECTS) {
                ret = client_fail(err, LOCUS_EPROTO, "too many redirects (last to %s)", loc);
                goto out;
            }
            free(url);
            url = xstrdup(loc);
            if (r->sink == NULL) {
                buf_dispose(&r->body);
                buf_init(&r->body);
            }
            continue;
        }
        if (status >= 200 && status < 300)
            goto out;
        ret = map_status(status);
        if (err != NULL) {
            char *m = client_error_message(r->errbody.base, r->errbody.len);
            if (m == NULL) {
                const char *he = client_req_header(r, "Hdr-Error");
                if (he != NULL && he[0] != '\0')
                    m = client_error_message(he, strlen(he));
            }
            if (m != NULL)
                client_fail(err, ret, "%s", m);
            else
                client_fail(err, ret, "HTTP %ld %s", status, status_text(status));
            free(m);
        }
        goto out;
    }
out:
    free(url);
    return ret;
}

int client_fd_sink(void *arg, const void *data, size_t len)
{
    client_fd_sink_t *s = arg;
    int rc = write_all(s->fd, data, len);
    if (rc != 0)
        s->err = rc;
    return rc;
}

void client_dispose_record(void *rec, size_t sz, const size_t *offs, size_t noffs)
{
    if (rec == NULL)
        return;
    for (size_t k = 0; k < noffs; k++)
        free(*(char **)((char *)rec + offs[k]));
    memset(rec, 0, sz);
}

void client_free_records(void *v, size_t n, size_t sz, const size_t *offs, size_t noffs)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        client_dispose_record((char *)v + i * sz, sz, offs, noffs);
    free(v);
}
