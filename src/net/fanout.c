/*
 * fanout.c - parallel requests driven by the calling thread through a libcurl multi handle;
 * the connections are kept in one process-wide, locked curl share so that every fan-out
 * reuses them (see fanout.h).
 */
#include "net/fanout.h"
#include "common/log.h"
#include "common/util.h"
#include "net/internal.h"

#include <pthread.h>
#include <stdlib.h>

/* Idle connections the shared cache may keep (libcurl's default, 4 per easy handle of the
 * multi at hand, would close other nodes' connections after a small fan-out). */
#define FANOUT_MAX_IDLE 256L

static CURLSH *share;
static pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
static pthread_once_t share_once = PTHREAD_ONCE_INIT;

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *arg)
{
    pthread_mutex_lock(&share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *arg)
{
    pthread_mutex_unlock(&share_locks[data]);
}

static void share_init(void)
{
    httpc_global_init();
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&share_locks[i], NULL);
    share = curl_share_init();
    if (share == NULL)
        locus_panic("curl_share_init failed");
    curl_share_setopt(share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
}

/* State of one fan-out. */
typedef struct {
    fanout_req_t *reqs;
    size_t n;
    int max_in_flight;
    int attempts;
    int retry_delay_ms;
    int timeout_ms;
    CURLM *multi;
    CURL **easy;              /* per request, while it is not done */
    struct curl_slist **hdrs; /* per request, while it is not done */
    int64_t *due;             /* per request waiting for a retry: not before (monotonic ns) */
    size_t next;              /* first request never started */
    size_t in_flight, waiting, done;
} run_t;

static void start(run_t *r, size_t i)
{
    fanout_req_t *q = &r->reqs[i];
    if (r->easy[i] == NULL) {
        CURL *h = curl_easy_init();
        if (h == NULL)
            locus_panic("curl_easy_init failed");
        r->hdrs[i] =
            httpc_prepare(h, q->method, q->url, q->content_type, q->hdrs, r->timeout_ms, &q->resp);
        if (q->body != NULL) {
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, q->body);
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body_len);
        }
        curl_easy_setopt(h, CURLOPT_SHARE, share);
        curl_easy_setopt(h, CURLOPT_PRIVATE, (void *)q);
        r->easy[i] = h;
    }
    q->attempts++;
    curl_multi_add_handle(r->multi, r->easy[i]);
    r->in_flight++;
}

/* Starts what may start: retries that are due first, then new requests. */
static void launch(run_t *r)
{
    int64_t now = time_mono_ns();
    for (size_t i = 0; i < r->n && r->waiting && r->in_flight < (size_t)r->max_in_flight; i++) {
        if (r->due[i] && r->due[i] <= now) {
            r->due[i] = 0;
            r->waiting--;
            start(r, i);
        }
    }
    while (r->next < r->n && r->in_flight < (size_t)r->max_in_flight)
        start(r, r->next++);
}

static void release(run_t *r, size_t i)
{
    curl_easy_cleanup(r->easy[i]);
    curl_slist_free_all(r->hdrs[i]);
    r->easy[i] = NULL;
    r->hdrs[i] = NULL;
    r->done++;
}

/* One transfer ended with cc. */
static void finish(run_t *r, CURL *h, CURLcode cc)
{
    char *p = NULL;
    curl_easy_getinfo(h, CURLINFO_PRIVATE, &p);
    fanout_req_t *q = (fanout_req_t *)p;
    size_t i = (size_t)(q - r->reqs);
    curl_multi_remove_handle(r->multi, h);
    r->in_flight--;
    if (cc == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &q->resp.status);
        q->rc = 0;
    } else if (q->attempts < r->attempts) {
        /* No complete answer: drop what arrived and send again later. */
        buf_dispose(&q->resp.body);
        buf_init(&q->resp.body);
        free(q->resp.location);
        q->resp.location = NULL;
        r->due[i] = time_mono_ns() + (int64_t)r->retry_delay_ms * 1000000 + 1;
        r->waiting++;
        return;
    } else {
        q->rc = -1;
        q->resp.status = 0;
        q->resp.err = xasprintf("%s %s: %s", q->method, q->url, curl_easy_strerror(cc));
    }
    release(r, i);
}

/* How long to wait for socket activity: until the next retry is due, at most 1 s. */
static int wait_ms(const run_t *r)
{
    int64_t ms = 1000;
    int64_t now = time_mono_ns();
    for (size_t i = 0; i < r->n && r->waiting; i++) {
        if (r->due[i]) {
            int64_t left = (r->due[i] - now + 999999) / 1000000;
            if (left < ms)
                ms = left < 0 ? 0 : left;
        }
    }
    return (int)ms;
}

void fanout_run(fanout_req_t *reqs, size_t n, const fanout_opts_t *opts)
{
    if (n == 0)
        return;
    pthread_once(&share_once, share_init);
    run_t r = {
        .reqs = reqs,
        .n = n,
        .max_in_flight = opts->concurrency > 0 ? opts->concurrency : (int)n,
        .attempts = opts->attempts > 1 ? opts->attempts : 1,
        .retry_delay_ms = opts->retry_delay_ms > 0 ? opts->retry_delay_ms : 0,
        .timeout_ms = opts->timeout_ms,
        .multi = curl_multi_init(),
        .easy = xcalloc(n, sizeof(CURL *)),
        .hdrs = xcalloc(n, sizeof(struct curl_slist *)),
        .due = xcalloc(n, sizeof(int64_t)),
    };
    if (r.multi == NULL)
        locus_panic("curl_multi_init failed");
    curl_multi_setopt(r.multi, CURLMOPT_MAXCONNECTS, FANOUT_MAX_IDLE);
    for (size_t i = 0; i < n; i++) {
        httpc_resp_init(&reqs[i].resp);
        reqs[i].rc = 0;
        reqs[i].attempts = 0;
    }
    while (r.done < n) {
        launch(&r);
        int running = 0;
        curl_multi_perform(r.multi, &running);
        CURLMsg *m;
        int left;
        size_t ended = 0;
        while ((m = curl_multi_info_read(r.multi, &left)) != NULL) {
            if (m->msg == CURLMSG_DONE) {
                CURL *h = m->easy_handle;
                CURLcode cc = m->data.result;
                finish(&r, h, cc); /* m is invalid from here on */
                ended++;
            }
        }
        if (r.done < n && ended == 0)
            curl_multi_poll(r.multi, NULL, 0, wait_ms(&r), NULL);
    }
    curl_multi_cleanup(r.multi);
    free(r.easy);
    free(r.hdrs);
    free(r.due);
}

void fanout_free(fanout_req_t *reqs, size_t n)
{
    if (reqs == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        free(reqs[i].url);
        httpc_resp_dispose(&reqs[i].resp);
    }
    free(reqs);
}
