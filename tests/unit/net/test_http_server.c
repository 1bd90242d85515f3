/*
 * test_http_server.c - unit tests for src/net/http_server.c: a server on a kernel-chosen port
 * with small handlers, driven with httpc_do and libcurl: the AIStore error body, query and
 * path decoding, the three body modes and the buffering cap, missing and double answers,
 * keep-alive (two requests on one connection), the threads (a blocking handler holds up no one,
 * blocking handlers run side by side), and responses streamed from another thread.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cmocka.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "net/net.h"

static http_server_t *srv;
static char base[64];

/* ---------------------------------------------------------------- the server side */

typedef struct {
    int64_t streamed;
    int chunks;
} stream_ctx_t;

static int on_stream_body(http_req_t *req, const char *data, size_t n)
{
    stream_ctx_t *c = req->ctx;
    c->streamed += (int64_t)n;
    c->chunks++;
    /* "/stream-fail" refuses the body after its first piece. */
    return strcmp(req->path, "/stream-fail") == 0 ? -1 : 0;
}

static void free_ctx(http_req_t *req)
{
    free(req->ctx);
}

/* ---- blocking handlers: /block waits until SIDE_BY_SIDE of them run at once (at most 5 s) */

#define SIDE_BY_SIDE 6
static pthread_mutex_t block_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t block_cond = PTHREAD_COND_INITIALIZER;
static int blocked;  /* /block handlers running now */
static int released; /* set by /release (a fast request) */

static void block_handler(http_req_t *req)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 5;
    pthread_mutex_lock(&block_lock);
    blocked++;
    pthread_cond_broadcast(&block_cond);
    int rc = 0;
    while (rc == 0 && !released && blocked < SIDE_BY_SIDE)
        rc = pthread_cond_timedwait(&block_cond, &block_lock, &ts);
    int seen = blocked;
    bool rel = released;
    pthread_mutex_unlock(&block_lock);
    char s[64];
    snprintf(s, sizeof(s), "%s %d", rel ? "released" : rc ? "timeout" : "together", seen);
    http_reply_text(req, 200, s);
}

/* ---- /produce?n=N[&fail=1]: N chunks of 10000 bytes written by another thread, slowly enough
 * that the connection waits for data between them */

typedef struct {
    http_stream_t *st;
    int n;
    bool fail;
} producer_t;

static void chunk_fill(char *buf, int i)
{
    for (int k = 0; k < 10000; k++)
        buf[k] = (char)('a' + (i + k) % 26);
}

static void *producer_main(void *arg)
{
    producer_t *p = arg;
    char buf[10000];
    bool ok = true;
    for (int i = 0; i < p->n && ok; i++) {
        usleep(2000);
        chunk_fill(buf, i);
        ok = http_stream_write(p->st, buf, sizeof(buf)) == 0;
    }
    http_stream_end(p->st, ok && !p->fail);
    free(p);
    return NULL;
}

static void produce_handler(http_req_t *req)
{
    const char *n = http_query(req, "n");
    producer_t *p = xcalloc(1, sizeof(*p));
    p->n = n ? atoi(n) : 1;
    p->fail = http_query_bool(req, "fail");
    p->st = http_stream_new();
    assert_non_null(p->st);
    http_stream_t *st = p->st;
    /* sized: Content-Length is known (one chunk more than sent when failing) */
    int64_t size = 10000 * (int64_t)(p->n + p->fail);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, producer_main, p), 0); /* p is the thread's */
    pthread_detach(th);
    http_stream_send(req, st, 200, http_query_bool(req, "sized") ? size : -1, "x/test");
}

static void on_headers(http_req_t *req)
{
    /* Everything but /block and /produce is quick: half of the paths run on the I/O thread, so
     * that both ways of answering go through every test. */
    req->fast = strcmp(req->path, "/block") != 0 && strcmp(req->path, "/produce") != 0 &&
                strcmp(req->path, "/query") != 0 && strcmp(req->path, "/json") != 0;
    if (strncmp(req->path, "/stream", 7) == 0) {
        req->body_mode = BODY_STREAM;
        req->on_body = on_stream_body;
        req->ctx = xcalloc(1, sizeof(stream_ctx_t));
        req->ctx_free = free_ctx;
    } else if (strcmp(req->path, "/discard") == 0) {
        req->body_mode = BODY_DISCARD;
    }
}

static void reply_query(http_req_t *req)
{
    static const char *keys[] = {"a", "b", "empty", "plus", "bad", "dup", "none"};
    json_t *j = json_object();
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const char *v = http_query(req, keys[i]);
        json_object_set_new(j, keys[i], v ? json_string(v) : json_null());
    }
    static const char *flags[] = {"t", "one", "yes", "no", "zero", "True", "none"};
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        char k[32];
        snprintf(k, sizeof(k), "bool-%s", flags[i]);
        json_object_set_new(j, k, json_boolean(http_query_bool(req, flags[i])));
    }
    json_object_set_new(j, "raw_query", json_string(req->raw_query));
    http_reply_json(req, 200, j);
}

static void on_request(http_req_t *req)
{
    const char *p = req->path;
    if (strcmp(p, "/error") == 0) {
        http_reply_error(req, 404, "no such %s \"%s\"", "thing", "x");
    } else if (strncmp(p, "/quote/", 7) == 0) {
        /* Like the routers: the message quotes the decoded name, cut to a fixed size. */
        char msg[40];
        snprintf(msg, sizeof(msg), "object \"%s\" does not exist", p + 7);
        http_reply_error(req, 404, "%s", msg);
    } else if (strcmp(p, "/query") == 0) {
        reply_query(req);
    } else if (strcmp(p, "/json") == 0) {
        json_t *j = http_body_json(req);
        if (j)
            http_reply_json(req, 200, j);
    } else if (strcmp(p, "/discard") == 0) {
        char s[64];
        snprintf(s, sizeof(s), "%zu", req->body.len);
        http_reply_text(req, 200, s);
    } else if (strncmp(p, "/stream", 7) == 0) {
        stream_ctx_t *c = req->ctx;
        json_t *j = json_pack("{s:I, s:b, s:I}", "streamed", (json_int_t)c->streamed, "failed",
                              req->sink_failed, "content_length", (json_int_t)req->content_length);
        http_reply_json(req, 200, j);
    } else if (strcmp(p, "/remote") == 0) {
        http_reply_text(req, 200, req->remote);
    } else if (strcmp(p, "/twice") == 0) {
        http_reply_text(req, 200, "first");
        http_reply_text(req, 500, "second"); /* ignored */
    } else if (strcmp(p, "/redirect") == 0) {
        http_reply_redirect(req, 307, "http://127.0.0.1:1/elsewhere?x=%20");
    } else if (strncmp(p, "/path/", 6) == 0) {
        json_t *j = json_pack("{s:s, s:s}", "path", req->path, "raw_path", req->raw_path);
        http_reply_json(req, 200, j);
    } else if (strcmp(p, "/block") == 0) {
        block_handler(req);
    } else if (strcmp(p, "/release") == 0) {
        pthread_mutex_lock(&block_lock);
        released = 1;
        pthread_cond_broadcast(&block_cond);
        pthread_mutex_unlock(&block_lock);
        http_reply_text(req, 200, "ok");
    } else if (strcmp(p, "/produce") == 0) {
        produce_handler(req);
    } else if (strcmp(p, "/noreply") == 0) {
        /* no answer: the wrapper answers 500 */
    } else {
        http_reply_text(req, 200, "ok");
    }
}

static int setup(void **state)
{
    (void)state;
    httpc_global_init();
    char err[256] = "";
    srv = http_server_start("127.0.0.1", 0, "t[test]", on_headers, on_request, err, sizeof(err));
    if (srv == NULL) {
        fprintf(stderr, "setup: %s\n", err);
        return -1;
    }
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", http_server_port(srv));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    httpc_thread_cleanup();
    http_server_stop(srv);
    return 0;
}

/* ---------------------------------------------------------------- the client side */

/* One request; the response body as JSON when it is JSON (caller decrefs), else NULL. */
static json_t *request(const char *method, const char *path, const void *body, size_t len,
                       long want_status, httpc_resp_t *r)
{
    char *url = xasprintf("%s%s", base, path);
    httpc_resp_init(r);
    assert_int_equal(httpc_do(method, url, body, len, NULL, 10000, r), 0);
    free(url);
    assert_int_equal(r->status, want_status);
    return r->body.len ? json_loadb(r->body.base, r->body.len, 0, NULL) : NULL;
}

static const char *str(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    assert_true(json_is_string(v));
    return json_string_value(v);
}

static void test_error_shape(void **state)
{
    (void)state;
    httpc_resp_t r;
    json_t *j = request("GET", "/error?x=1", NULL, 0, 404, &r);
    assert_non_null(j);
    assert_string_equal(str(j, "message"), "no such thing \"x\"");
    assert_string_equal(str(j, "method"), "GET");
    assert_string_equal(str(j, "url_path"), "/error");
    assert_string_equal(str(j, "caller"), "");
    assert_string_equal(str(j, "node"), "t[test]");
    assert_int_equal(strncmp(str(j, "remote_addr"), "127.0.0.1:", 10), 0);
    assert_int_equal(json_integer_value(json_object_get(j, "status")), 404);
    assert_int_equal(json_object_size(j), 7);
    assert_string_equal(http_node_name(), "t[test]");
    json_decref(j);
    httpc_resp_dispose(&r);
}

/* Regression (found by tests/fuzz/fuzz_url.c): a message quoting bytes that are not UTF-8, or
 * cut inside a character, made json_pack fail and the node crash on strlen(NULL). Every bad byte
 * now becomes U+FFFD, as in Go's encoding/json. */
static void test_error_not_utf8(void **state)
{
    (void)state;
    httpc_resp_t r;
    /* A path that does not decode to UTF-8 never reaches a handler (docs/security.md §2). */
    json_t *j = request("GET", "/quote/%FF%FE", NULL, 0, 400, &r);
    assert_non_null(j);
    assert_string_equal(str(j, "message"), "URL path is not valid UTF-8");
    json_decref(j);
    httpc_resp_dispose(&r);
    /* 12 x U+20AC: the 40-byte message ends inside the 11th euro sign */
    j = request("GET",
                "/quote/%E2%82%AC%E2%82%AC%E2%82%AC%E2%82%AC%E2%82%AC%E2%82%AC%E2%82%AC"
                "%E2%82%AC%E2%82%AC%E2%82%AC%E2%82%AC%E2%82%AC",
                NULL, 0, 404, &r);
    assert_non_null(j);
    assert_string_equal(str(j, "message"), "object \"\u20ac\u20ac\u20ac\u20ac\u20ac\u20ac\u20ac"
                                           "\u20ac\u20ac\u20ac\xEF\xBF\xBD");
    json_decref(j);
    httpc_resp_dispose(&r);
    char *body = http_error_json(400, "bad \xC3", "G\xE9T", "/v1/\x80", "127.0.0.1:1");
    assert_non_null(body);
    j = json_loads(body, 0, NULL);
    assert_non_null(j);
    assert_string_equal(str(j, "message"), "bad \xEF\xBF\xBD");
    assert_string_equal(str(j, "method"), "G\xEF\xBF\xBDT");
    assert_string_equal(str(j, "url_path"), "/v1/\xEF\xBF\xBD");
    json_decref(j);
    free(body);
}

static size_t find_hdr_error(char *p, size_t sz, size_t n, void *ud)
{
    size_t len = sz * n;
    if (len > 10 && strncasecmp(p, "Hdr-Error:", 10) == 0)
        snprintf(ud, 256, "%.*s", (int)(len - 11 - 2), p + 11);
    return len;
}

/* A HEAD has no body: the message travels in the Hdr-Error header. */
static void test_head_error(void **state)
{
    (void)state;
    CURL *h = httpc_thread_curl();
    char *url = xasprintf("%s/error", base);
    char hdr[256] = "";
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, find_hdr_error);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, hdr);
    assert_int_equal(curl_easy_perform(h), CURLE_OK);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    assert_int_equal(status, 404);
    assert_string_equal(hdr, "no such thing \"x\"");
    free(url);
}

static void test_query(void **state)
{
    (void)state;
    httpc_resp_t r;
    json_t *j = request("GET",
                        "/query?a=1+2&b=x%20y%2By&empty&plus=%2B&bad=%zz&dup=1&dup=2&t=true&one=1"
                        "&yes=yes&no=no&zero=0&True=True",
                        NULL, 0, 200, &r);
    assert_non_null(j);
    assert_string_equal(str(j, "a"), "1 2");   /* '+' is a space in a query */
    assert_string_equal(str(j, "b"), "x y+y"); /* %2B is a plus */
    assert_string_equal(str(j, "empty"), "");
    assert_string_equal(str(j, "plus"), "+");
    assert_string_equal(str(j, "bad"), "%zz"); /* malformed escapes are kept as sent */
    assert_string_equal(str(j, "dup"), "1");   /* the first of repeated keys */
    assert_true(json_is_null(json_object_get(j, "none")));
    assert_true(json_is_true(json_object_get(j, "bool-t")));
    assert_true(json_is_true(json_object_get(j, "bool-one")));
    assert_true(json_is_true(json_object_get(j, "bool-yes")));
    assert_true(json_is_false(json_object_get(j, "bool-no")));
    assert_true(json_is_false(json_object_get(j, "bool-zero")));
    assert_true(json_is_false(json_object_get(j, "bool-True"))); /* case matters */
    assert_true(json_is_false(json_object_get(j, "bool-none")));
    assert_string_equal(str(j, "raw_query"), "a=1+2&b=x%20y%2By&empty&plus=%2B&bad=%zz&dup=1&dup=2"
                                             "&t=true&one=1&yes=yes&no=no&zero=0&True=True");
    json_decref(j);
    httpc_resp_dispose(&r);

    j = request("GET", "/query", NULL, 0, 200, &r);
    assert_string_equal(str(j, "raw_query"), "");
    assert_true(json_is_null(json_object_get(j, "a")));
    json_decref(j);
    httpc_resp_dispose(&r);
}

static void test_paths(void **state)
{
    (void)state;
    httpc_resp_t r;
    json_t *j = request("GET", "/path/a%20b%2Fc+d", NULL, 0, 200, &r);
    assert_string_equal(str(j, "path"), "/path/a b/c+d"); /* '+' is literal in a path */
    assert_string_equal(str(j, "raw_path"), "/path/a%20b%2Fc+d");
    json_decref(j);
    httpc_resp_dispose(&r);
    /* Malformed escapes and NUL bytes are refused before any handler runs. */
    j = request("GET", "/path/%zz", NULL, 0, 400, &r);
    assert_non_null(strstr(str(j, "message"), "malformed percent-encoding"));
    json_decref(j);
    httpc_resp_dispose(&r);
    j = request("GET", "/path/a%00b", NULL, 0, 400, &r);
    json_decref(j);
    httpc_resp_dispose(&r);
}

static void test_json_body(void **state)
{
    (void)state;
    httpc_resp_t r;
    const char *doc = "{\"action\":\"x\",\"value\":[1,2]}";
    json_t *j = request("POST", "/json", doc, strlen(doc), 200, &r);
    assert_string_equal(str(j, "action"), "x");
    json_decref(j);
    httpc_resp_dispose(&r);
    j = request("POST", "/json", "{bad", 4, 400, &r);
    assert_non_null(strstr(str(j, "message"), "invalid JSON in request body"));
    json_decref(j);
    httpc_resp_dispose(&r);
    j = request("POST", "/json", NULL, 0, 400, &r);
    assert_string_equal(str(j, "message"), "missing JSON request body");
    json_decref(j);
    httpc_resp_dispose(&r);
}

/* Buffered bodies stop growing at HTTP_MAX_CONTROL_BODY; the handler sees the flag. */
static void test_body_cap(void **state)
{
    (void)state;
    size_t n = HTTP_MAX_CONTROL_BODY + 1;
    char *big = xmalloc(n);
    memset(big, ' ', n);
    httpc_resp_t r;
    json_t *j = request("POST", "/json", big, n, 413, &r);
    assert_non_null(strstr(str(j, "message"), "request body too large"));
    json_decref(j);
    httpc_resp_dispose(&r);
    /* Exactly at the cap is accepted (all spaces and a JSON value at the end). */
    memcpy(big + HTTP_MAX_CONTROL_BODY - 2, "[]", 2);
    j = request("POST", "/json", big, HTTP_MAX_CONTROL_BODY, 200, &r);
    assert_true(json_is_array(j));
    json_decref(j);
    httpc_resp_dispose(&r);
    free(big);
}

static void test_stream_and_discard(void **state)
{
    (void)state;
    size_t n = 3 << 20;
    char *data = xcalloc(1, n);
    httpc_resp_t r;
    json_t *j = request("PUT", "/stream", data, n, 200, &r);
    assert_int_equal(json_integer_value(json_object_get(j, "streamed")), (json_int_t)n);
    assert_int_equal(json_integer_value(json_object_get(j, "content_length")), (json_int_t)n);
    assert_true(json_is_false(json_object_get(j, "failed")));
    json_decref(j);
    httpc_resp_dispose(&r);
    /* A failing sink is not called again; the request is still answered. */
    j = request("PUT", "/stream-fail", data, n, 200, &r);
    assert_true(json_integer_value(json_object_get(j, "streamed")) < (json_int_t)n);
    assert_true(json_is_true(json_object_get(j, "failed")));
    json_decref(j);
    httpc_resp_dispose(&r);
    request("PUT", "/discard", data, n, 200, &r);
    assert_string_equal(r.body.base, "0");
    httpc_resp_dispose(&r);
    free(data);
}

static void test_answers(void **state)
{
    (void)state;
    httpc_resp_t r;
    json_t *j = request("GET", "/noreply", NULL, 0, 500, &r);
    assert_non_null(strstr(str(j, "message"), "no response for /noreply"));
    json_decref(j);
    httpc_resp_dispose(&r);
    request("GET", "/twice", NULL, 0, 200, &r);
    assert_string_equal(r.body.base, "first");
    httpc_resp_dispose(&r);
    request("GET", "/redirect", NULL, 0, 307, &r);
    assert_string_equal(r.location, "http://127.0.0.1:1/elsewhere?x=%20");
    httpc_resp_dispose(&r);
}

/* Two requests from one thread share one connection: the server sees one client port. */
static void test_keep_alive(void **state)
{
    (void)state;
    httpc_resp_t r1, r2;
    request("GET", "/remote", NULL, 0, 200, &r1);
    const char *doc = "{}";
    json_decref(request("PUT", "/json", doc, 2, 200, &r2)); /* a request with a body between */
    httpc_resp_dispose(&r2);
    request("GET", "/remote", NULL, 0, 200, &r2);
    assert_int_equal(strncmp(r1.body.base, "127.0.0.1:", 10), 0);
    assert_string_equal(r1.body.base, r2.body.base);
    httpc_resp_dispose(&r1);
    httpc_resp_dispose(&r2);
}

typedef struct {
    const char *path;
    httpc_resp_t r;
    int rc;
} call_t;

static void *call_main(void *arg)
{
    call_t *c = arg;
    char *url = xasprintf("%s%s", base, c->path);
    httpc_resp_init(&c->r);
    c->rc = httpc_do("GET", url, NULL, 0, NULL, 20000, &c->r);
    free(url);
    httpc_thread_cleanup();
    return NULL;
}

/* Blocking handlers each get a thread: SIDE_BY_SIDE of them run at once (with a fixed pool
 * smaller than that they would time out one after the other). */
static void test_blocking_side_by_side(void **state)
{
    (void)state;
    blocked = 0;
    released = 0;
    call_t c[SIDE_BY_SIDE];
    pthread_t th[SIDE_BY_SIDE];
    for (int i = 0; i < SIDE_BY_SIDE; i++) {
        c[i].path = "/block";
        assert_int_equal(pthread_create(&th[i], NULL, call_main, &c[i]), 0);
    }
    for (int i = 0; i < SIDE_BY_SIDE; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(c[i].rc, 0);
        assert_int_equal(c[i].r.status, 200);
        buf_append(&c[i].r.body, "", 1);
        assert_string_equal(c[i].r.body.base, "together 6");
        httpc_resp_dispose(&c[i].r);
    }
}

/* A blocked handler holds up no one: while one waits, a quick request (the one that releases
 * it) and a blocking one on another connection are answered. */
static void test_blocked_holds_up_no_one(void **state)
{
    (void)state;
    blocked = 0;
    released = 0;
    call_t waiter = {.path = "/block"};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, call_main, &waiter), 0);
    for (int i = 0; i < 500; i++) { /* until it runs */
        pthread_mutex_lock(&block_lock);
        int b = blocked;
        pthread_mutex_unlock(&block_lock);
        if (b)
            break;
        usleep(10000);
    }
    httpc_resp_t r;
    json_t *j = request("GET", "/query?a=1", NULL, 0, 200, &r); /* a worker too */
    json_decref(j);
    httpc_resp_dispose(&r);
    request("GET", "/release", NULL, 0, 200, &r);
    httpc_resp_dispose(&r);
    pthread_join(th, NULL);
    assert_int_equal(waiter.rc, 0);
    buf_append(&waiter.r.body, "", 1);
    assert_string_equal(waiter.r.body.base, "released 1");
    httpc_resp_dispose(&waiter.r);
}

static void check_produced(const httpc_resp_t *r, int n)
{
    assert_int_equal(r->body.len, (size_t)n * 10000);
    char want[10000];
    for (int i = 0; i < n; i++) {
        chunk_fill(want, i);
        assert_memory_equal(r->body.base + (size_t)i * 10000, want, sizeof(want));
    }
}

/* A body written by another thread arrives whole, sized or not, with the connection waiting
 * for data between the chunks; several at once. */
static void test_stream_from_thread(void **state)
{
    (void)state;
    const char *paths[] = {"/produce?n=40", "/produce?n=40&sized=1", "/produce?n=1",
                           "/produce?n=0&sized=1"};
    const int ns[] = {40, 40, 1, 0};
    call_t c[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        c[i].path = paths[i];
        assert_int_equal(pthread_create(&th[i], NULL, call_main, &c[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(c[i].rc, 0);
        assert_int_equal(c[i].r.status, 200);
        check_produced(&c[i].r, ns[i]);
        httpc_resp_dispose(&c[i].r);
    }
}

/* A producer that fails mid-body: the client sees a broken transfer, not a short success. */
static void test_stream_failure(void **state)
{
    (void)state;
    const char *paths[] = {"/produce?n=5&fail=1&sized=1", "/produce?n=5&fail=1"};
    for (int i = 0; i < 2; i++) {
        call_t c = {.path = paths[i]};
        call_main(&c);
        assert_int_equal(c.rc, -1);
        assert_non_null(c.r.err);
        httpc_resp_dispose(&c.r);
    }
}

/* Workers that go idle, time out and exit while requests keep coming: every request is
 * answered, including those that reach a worker just as its wait times out. */
static void test_workers_come_and_go(void **state)
{
    (void)state;
    http_set_worker_idle_ms(5);
    for (int round = 0; round < 40; round++) {
        call_t c[4];
        pthread_t th[4];
        for (int i = 0; i < 4; i++) {
            c[i].path = "/query"; /* offloaded, quick */
            assert_int_equal(pthread_create(&th[i], NULL, call_main, &c[i]), 0);
        }
        for (int i = 0; i < 4; i++) {
            pthread_join(th[i], NULL);
            assert_int_equal(c[i].rc, 0);
            assert_int_equal(c[i].r.status, 200);
            httpc_resp_dispose(&c[i].r);
        }
        usleep((useconds_t)(round % 8) * 1000); /* around the idle time: both sides of it */
    }
    http_set_worker_idle_ms(30000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_shape),
        cmocka_unit_test(test_error_not_utf8),
        cmocka_unit_test(test_head_error),
        cmocka_unit_test(test_query),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_json_body),
        cmocka_unit_test(test_body_cap),
        cmocka_unit_test(test_stream_and_discard),
        cmocka_unit_test(test_answers),
        cmocka_unit_test(test_keep_alive),
        cmocka_unit_test(test_blocking_side_by_side),
        cmocka_unit_test(test_blocked_holds_up_no_one),
        cmocka_unit_test(test_stream_from_thread),
        cmocka_unit_test(test_stream_failure),
        cmocka_unit_test(test_workers_come_and_go),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
