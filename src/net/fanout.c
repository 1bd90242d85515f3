/*
 * fanout.c - parallel requests driven by one process-wide I/O thread: it owns a libcurl multi
 * handle, so every transfer of every fan-out goes through the multi's single connection cache
 * (keep-alive connections are reused by the next fan-out, whichever thread asks). A caller
 * queues its batch, wakes the I/O thread and waits for the batch to end. Only the I/O thread
 * touches curl: a curl share of the connection cache between threads is not thread-safe in
 * libcurl (a known libcurl bug), a multi handle driven by one thread is.
 */
#include "net/fanout.h"
#include "common/log.h"
#include "common/util.h"
#include "net/internal.h"

#include <pthread.h>
#include <stdlib.h>

/* Idle connections the cache may keep (libcurl's default, 4 per easy handle in the multi,
 * would close other nodes' connections after a small fan-out). */
#define FANOUT_MAX_IDLE 256L

typedef struct batch_s batch_t;

/* One request of a batch, as the I/O thread sees it (CURLINFO_PRIVATE of its easy handle). */
typedef struct {
    batch_t *b;
    CURL *easy;              /* while in progress */
    struct curl_slist *hdrs; /* while in progress */
    int64_t due;             /* waiting for a retry: not before (monotonic ns); 0 = not */
} slot_t;

/* One fan-out. Fields below `finished` belong to the I/O thread until finished is set. */
struct batch_s {
    fanout_req_t *reqs;
    size_t n;
    int max_in_flight;
    int attempts;
    int retry_delay_ms;
    int timeout_ms;
    pthread_cond_t cond; /* with eng.lock: finished */
    bool finished;
    batch_t *next_batch;
    slot_t *slots;
    size_t next; /* first request never started */
    size_t in_flight, waiting, done;
};

static struct {
    pthread_mutex_t lock;
    CURLM *multi;
    batch_t *incoming; /* queued by callers (under lock) */
    batch_t *active;   /* the I/O thread's */
} eng = {.lock = PTHREAD_MUTEX_INITIALIZER};
static pthread_once_t eng_once = PTHREAD_ONCE_INIT;

static void start(batch_t *b, size_t i)
{
    fanout_req_t *q = &b->reqs[i];
    slot_t *s = &b->slots[i];
    if (s->easy == NULL) {
        CURL *h = curl_easy_init();
        if (h == NULL)
            locus_panic("curl_easy_init failed");
        httpc_body_t body = {q->body, q->body ? q->body_len : 0, -1, 0, 0};
        s->hdrs = httpc_prepare(h, q->method, q->url, q->content_type, q->hdrs, &body,
                                b->timeout_ms, &q->resp);
        if (q->body != NULL) {
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, q->body);
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body_len);
        }
        curl_easy_setopt(h, CURLOPT_PRIVATE, (void *)s);
        s->easy = h;
    }
    q->attempts++;
    curl_multi_add_handle(eng.multi, s->easy);
    b->in_flight++;
}

/* Starts what may start: retries that are due first, then new requests. */
static void launch(batch_t *b, int64_t now)
{
    for (size_t i = 0; i < b->n && b->waiting && b->in_flight < (size_t)b->max_in_flight; i++) {
        if (b->slots[i].due && b->slots[i].due <= now) {
            b->slots[i].due = 0;
            b->waiting--;
            start(b, i);
        }
    }
    while (b->next < b->n && b->in_flight < (size_t)b->max_in_flight)
        start(b, b->next++);
}

/* One transfer ended with cc. */
static void finish(CURL *h, CURLcode cc)
{
    char *p = NULL;
    curl_easy_getinfo(h, CURLINFO_PRIVATE, &p);
    slot_t *s = (slot_t *)p;
    batch_t *b = s->b;
    fanout_req_t *q = &b->reqs[s - b->slots];
    curl_multi_remove_handle(eng.multi, h);
    b->in_flight--;
    if (cc == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &q->resp.status);
        q->rc = 0;
    } else if (q->attempts < b->attempts) {
        /* No complete answer: drop what arrived and send again later. */
        buf_dispose(&q->resp.body);
        buf_init(&q->resp.body);
        free(q->resp.location);
        q->resp.location = NULL;
        s->due = time_mono_ns() + (int64_t)b->retry_delay_ms * 1000000 + 1;
        b->waiting++;
        return;
    } else {
        q->rc = -1;
        q->resp.status = 0;
        q->resp.err = xasprintf("%s %s: %s", q->method, q->url, curl_easy_strerror(cc));
    }
    curl_easy_cleanup(h);
    curl_slist_free_all(s->hdrs);
    s->easy = NULL;
    s->hdrs = NULL;
    b->done++;
}

/* Launches the requests of the active batches, hands back the finished ones; returns how
 * long to wait for socket activity: until the next retry is due, at most 1 s. */
static int step(void)
{
    pthread_mutex_lock(&eng.lock);
    batch_t **tail = &eng.active;
    while (*tail)
        tail = &(*tail)->next_batch;
    *tail = eng.incoming;
    eng.incoming = NULL;
    int64_t now = time_mono_ns(), wait_ns = 1000000000LL;
    for (batch_t **pb = &eng.active; *pb;) {
        batch_t *b = *pb;
        launch(b, now);
        for (size_t i = 0; i < b->n && b->waiting; i++)
            if (b->slots[i].due && b->slots[i].due - now < wait_ns)
                wait_ns = b->slots[i].due - now;
        if (b->done == b->n) {
            *pb = b->next_batch;
            b->finished = true;
            pthread_cond_signal(&b->cond);
        } else {
            pb = &b->next_batch;
        }
    }
    pthread_mutex_unlock(&eng.lock);
    return wait_ns <= 0 ? 0 : (int)((wait_ns + 999999) / 1000000);
}

static void *io_loop(void *arg)
{
    for (;;) {
        int wait_ms = step();
        int running = 0;
        curl_multi_perform(eng.multi, &running);
        CURLMsg *m;
        int left, ended = 0;
        while ((m = curl_multi_info_read(eng.multi, &left)) != NULL) {
            if (m->msg == CURLMSG_DONE) {
                CURL *h = m->easy_handle;
                CURLcode cc = m->data.result;
                finish(h, cc); /* m is invalid from here on */
                ended++;
            }
        }
        if (ended == 0)
            curl_multi_poll(eng.multi, NULL, 0, wait_ms, NULL);
    }
    return NULL;
}

static void eng_init(void)
{
    httpc_global_init();
    eng.multi = curl_multi_init();
    if (eng.multi == NULL)
        locus_panic("curl_multi_init failed");
    curl_multi_setopt(eng.multi, CURLMOPT_MAXCONNECTS, FANOUT_MAX_IDLE);
    pthread_t th;
    if (pthread_create(&th, NULL, io_loop, NULL) != 0)
        locus_panic("cannot start the fan-out thread");
    pthread_detach(th);
}

void fanout_run(fanout_req_t *reqs, size_t n, const fanout_opts_t *opts)
{
    if (n == 0)
        return;
    pthread_once(&eng_once, eng_init);
    batch_t b = {
        .reqs = reqs,
        .n = n,
        .max_in_flight = opts->concurrency > 0 ? opts->concurrency : (int)n,
        .attempts = opts->attempts > 1 ? opts->attempts : 1,
        .retry_delay_ms = opts->retry_delay_ms > 0 ? opts->retry_delay_ms : 0,
        .timeout_ms = opts->timeout_ms,
        .slots = xcalloc(n, sizeof(slot_t)),
    };
    pthread_cond_init(&b.cond, NULL);
    for (size_t i = 0; i < n; i++) {
        httpc_resp_init(&reqs[i].resp);
        reqs[i].rc = 0;
        reqs[i].attempts = 0;
        b.slots[i].b = &b;
    }
    pthread_mutex_lock(&eng.lock);
    batch_t **tail = &eng.incoming; /* first come, first served */
    while (*tail)
        tail = &(*tail)->next_batch;
    *tail = &b;
    curl_multi_wakeup(eng.multi);
    while (!b.finished)
        pthread_cond_wait(&b.cond, &eng.lock);
    pthread_mutex_unlock(&eng.lock);
    pthread_cond_destroy(&b.cond);
    free(b.slots);
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
