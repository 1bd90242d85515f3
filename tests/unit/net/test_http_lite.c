/*
 * test_http_lite.c - httpc_get_lite (src/net/http_lite.c) against a real http_server and
 * against a scripted peer on a raw socket: bodies with and without a length, kept connections
 * reused, a kept connection the peer closed (the request goes again), errors, HEAD, and the
 * answer-head parser's refusals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/net.h"

static http_server_t *srv;
static char base[64];
static int accepted; /* connections the server saw: on_request counts distinct remotes */
static char last_remote[64];

#define BIG (3u << 20)

static void on_headers(http_req_t *req)
{
    req->fast = true;
}

/* An upgraded session: the request's body (arg), then what the client sends until it shuts
 * its side, echoed back. */
static void echo_session(void *arg, int fd, const char *extra, size_t n)
{
    const char *body = arg;
    if (send(fd, body, strlen(body), MSG_NOSIGNAL) < 0 ||
        (n && send(fd, extra, n, MSG_NOSIGNAL) < 0))
        return;
    char b[4096];
    ssize_t k;
    while ((k = recv(fd, b, sizeof(b), 0)) > 0)
        if (send(fd, b, (size_t)k, MSG_NOSIGNAL) < 0)
            return;
}

static void on_request(http_req_t *req)
{
    const char *up = http_header(req, "Upgrade");
    if (strcmp(req->path, "/upgrade") == 0 && up && strcmp(up, "t-echo") == 0) {
        char *body = strndup(req->body.base ? req->body.base : "", req->body.len);
        http_upgrade(req, "t-echo", echo_session, body, free);
        return;
    }
    if (strcmp(req->remote, last_remote) != 0) {
        accepted++;
        snprintf(last_remote, sizeof(last_remote), "%s", req->remote);
    }
    if (strcmp(req->path, "/small") == 0) {
        const char *range = http_header(req, "Range");
        http_reply_text(req, 200, range ? range : "hello");
    } else if (strcmp(req->path, "/echo") == 0) {
        char m[16];
        snprintf(m, sizeof(m), "%s:", req->method);
        buf_t b;
        buf_init(&b);
        buf_append(&b, m, strlen(m));
        buf_append(&b, req->body.base ? req->body.base : "", req->body.len);
        http_reply(req, 200, "application/octet-stream", b.base, b.len);
        buf_dispose(&b);
    } else if (strcmp(req->path, "/big") == 0) {
        char *b = malloc(BIG);
        for (size_t i = 0; i < BIG; i++)
            b[i] = (char)(i * 7 + 3);
        http_reply(req, 200, "application/octet-stream", b, BIG);
        free(b);
    } else {
        http_reply_error(req, 404, "no such thing");
    }
}

static int setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    httpc_global_init();
    char err[256] = "";
    srv = http_server_start("127.0.0.1", 0, "t[lite]", on_headers, on_request, err, sizeof(err));
    if (srv == NULL)
        return -1;
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

typedef struct {
    buf_t body;
    int pieces;
    size_t max_piece;
    char ctype[64];
    int abort_after; /* >0: on_body fails at that piece */
} sink_t;

static void on_hdr(void *arg, const char *n, size_t nl, const char *v, size_t vl)
{
    sink_t *s = arg;
    if (nl == 12 && strncasecmp(n, "Content-Type", 12) == 0)
        snprintf(s->ctype, sizeof(s->ctype), "%.*s", (int)vl, v);
}

static int on_body(void *arg, long status, const void *p, size_t n)
{
    (void)status;
    sink_t *s = arg;
    s->pieces++;
    if (n > s->max_piece)
        s->max_piece = n;
    if (s->abort_after && s->pieces >= s->abort_after)
        return -1;
    buf_append(&s->body, p, n);
    return 0;
}

static int get(const char *method, const char *url, const httpc_header_t *hdrs, sink_t *s,
               httpc_resp_t *r)
{
    memset(s->ctype, 0, sizeof(s->ctype));
    buf_init(&s->body);
    httpc_cb_t cb = {.on_header = on_hdr, .on_body = on_body, .arg = s, .buffer_size = 256 << 10};
    httpc_resp_init(r);
    return httpc_get_lite(method, url, hdrs, 5000, &cb, r);
}

static void test_bodies_and_reuse(void **state)
{
    (void)state;
    char url[128];
    accepted = 0;
    last_remote[0] = '\0';
    for (int i = 0; i < 5; i++) {
        sink_t s = {0};
        httpc_resp_t r;
        snprintf(url, sizeof(url), "%s/small", base);
        assert_int_equal(get("GET", url, NULL, &s, &r), 0);
        assert_int_equal(r.status, 200);
        assert_int_equal(s.body.len, 5);
        assert_memory_equal(s.body.base, "hello", 5);
        assert_string_equal(s.ctype, "text/plain; charset=utf-8");
        buf_dispose(&s.body);
        httpc_resp_dispose(&r);
    }
    assert_int_equal(accepted, 1); /* one kept connection */

    sink_t s = {0};
    httpc_resp_t r;
    snprintf(url, sizeof(url), "%s/big", base);
    assert_int_equal(get("GET", url, NULL, &s, &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(s.body.len, BIG);
    for (size_t i = 0; i < BIG; i += 4099)
        assert_int_equal((unsigned char)s.body.base[i], (unsigned char)(i * 7 + 3));
    assert_true(s.max_piece <= (256u << 10));
    assert_true(s.pieces > 1);
    buf_dispose(&s.body);
    httpc_resp_dispose(&r);

    /* the header goes through; HEAD has no body; an error's body is delivered */
    httpc_header_t h[] = {{"Range", "bytes=1-2"}, {NULL, NULL}};
    snprintf(url, sizeof(url), "%s/small", base);
    assert_int_equal(get("GET", url, h, &s, &r), 0);
    assert_int_equal(s.body.len, 9);
    assert_memory_equal(s.body.base, "bytes=1-2", 9);
    buf_dispose(&s.body);
    httpc_resp_dispose(&r);
    snprintf(url, sizeof(url), "%s/big", base);
    assert_int_equal(get("HEAD", url, NULL, &s, &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(s.body.len, 0);
    buf_dispose(&s.body);
    httpc_resp_dispose(&r);
    snprintf(url, sizeof(url), "%s/nothing", base);
    assert_int_equal(get("GET", url, NULL, &s, &r), 0);
    assert_int_equal(r.status, 404);
    buf_append(&s.body, "", 1);
    assert_non_null(strstr(s.body.base, "no such thing"));
    buf_dispose(&s.body);
    httpc_resp_dispose(&r);
    assert_int_equal(accepted, 1); /* all on the same connection */

    /* a receiver that gives up mid-body: an error, and the next request still works */
    sink_t a = {.abort_after = 2};
    snprintf(url, sizeof(url), "%s/big", base);
    assert_int_equal(get("GET", url, NULL, &a, &r), -1);
    assert_non_null(r.err);
    buf_dispose(&a.body);
    httpc_resp_dispose(&r);
    snprintf(url, sizeof(url), "%s/small", base);
    assert_int_equal(get("GET", url, NULL, &s, &r), 0);
    assert_int_equal(r.status, 200);
    buf_dispose(&s.body);
    httpc_resp_dispose(&r);

    /* a header with a line break is refused, not sent */
    httpc_header_t bad[] = {{"Range", "bytes=1-2\r\nX-Evil: 1"}, {NULL, NULL}};
    assert_int_equal(get("GET", url, bad, &s, &r), -1);
    assert_non_null(strstr(r.err, "line break"));
    buf_dispose(&s.body);
    httpc_resp_dispose(&r);
}

/* PUTs of in-memory bodies: empty, small, and larger than a socket buffer takes at once. */
static void test_put(void **state)
{
    (void)state;
    char url[128];
    snprintf(url, sizeof(url), "%s/echo", base);
    size_t sizes[] = {0, 5, 700u << 10, 3};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t n = sizes[i];
        char *body = malloc(n + 1);
        for (size_t j = 0; j < n; j++)
            body[j] = (char)(j * 13 + i);
        httpc_header_t h[] = {{"X-Test", "1"}, {NULL, NULL}};
        httpc_resp_t r;
        httpc_resp_init(&r);
        assert_int_equal(httpc_put_lite(url, body, n, h, 5000, &r), 0);
        assert_int_equal(r.status, 200);
        assert_int_equal(r.body.len, n + 4);
        assert_memory_equal(r.body.base, "PUT:", 4);
        if (n)
            assert_memory_equal(r.body.base + 4, body, n);
        httpc_resp_dispose(&r);
        free(body);
    }
}

/* ---------------------------------------------------------------- a scripted peer */

typedef struct {
    int lfd;
    const char *answers[4]; /* one per request; NULL: close the connection instead */
    int close_after;        /* close the connection after this many answers */
    int requests;
} peer_t;

static void *peer_main(void *arg)
{
    peer_t *p = arg;
    int served = 0;
    while (served < 4 && p->answers[served]) {
        int fd = accept(p->lfd, NULL, NULL);
        if (fd < 0)
            break;
        for (int n = 0; served < 4 && p->answers[served] && n < p->close_after; n++) {
            char buf[4096];
            size_t have = 0;
            while (have < sizeof(buf) - 1) {
                ssize_t r = recv(fd, buf + have, sizeof(buf) - 1 - have, 0);
                if (r <= 0)
                    break;
                have += (size_t)r;
                buf[have] = '\0';
                if (strstr(buf, "\r\n\r\n"))
                    break;
            }
            p->requests++;
            const char *a = p->answers[served++];
            send(fd, a, strlen(a), MSG_NOSIGNAL);
        }
        close(fd);
    }
    return NULL;
}

static int peer_listen(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 4), 0);
    socklen_t sl = sizeof(sa);
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    *port = ntohs(sa.sin_port);
    return fd;
}

static void test_scripted_peer(void **state)
{
    (void)state;
    int port;
    peer_t p = {.lfd = peer_listen(&port), .close_after = 1};
    /* 1: kept (it says so) but closed by the peer after it: the next request retries on a new
     *    connection; 2: no length, body to the end; 3: a malformed head. */
    p.answers[0] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
    p.answers[1] = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nto the end";
    p.answers[2] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd";
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, peer_main, &p), 0);
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", port);
    sink_t s = {0};
    httpc_resp_t r;
    assert_int_equal(get("GET", url, NULL, &s, &r), 0);
    assert_int_equal(s.body.len, 3);
    buf_dispose(&s.body);
    httpc_resp_dispose(&r);
    usleep(20000); /* the peer has closed the kept connection */
    assert_int_equal(get("GET", url, NULL, &s, &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(s.body.len, 10);
    assert_memory_equal(s.body.base, "to the end", 10);
    buf_dispose(&s.body);
    httpc_resp_dispose(&r);
    assert_int_equal(get("GET", url, NULL, &s, &r), -1);
    assert_non_null(strstr(r.err, "malformed"));
    buf_dispose(&s.body);
    httpc_resp_dispose(&r);
    pthread_join(th, NULL);
    assert_int_equal(p.requests, 3);
    close(p.lfd);

    /* nobody listening: an error, not a hang */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", port);
    assert_int_equal(get("GET", url, NULL, &s, &r), -1);
    assert_non_null(r.err);
    buf_dispose(&s.body);
    httpc_resp_dispose(&r);
}

/* ---------------------------------------------------------------- the head parser */

static void test_head_parse(void **state)
{
    (void)state;
    httpc_head_t h;
    const char *ok = "HTTP/1.1 206 Partial Content\r\nContent-Length: 12\r\nX: y\r\n\r\nbody";
    assert_int_equal(httpc_head_parse(ok, strlen(ok), &h, NULL, NULL), (int)strlen(ok) - 4);
    assert_int_equal(h.status, 206);
    assert_int_equal(h.content_length, 12);
    assert_false(h.close);
    const char *v10 = "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n";
    assert_true(httpc_head_parse(v10, strlen(v10), &h, NULL, NULL) > 0);
    assert_true(h.close); /* 1.0 without keep-alive */
    const char *v10k = "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n\r\n";
    assert_true(httpc_head_parse(v10k, strlen(v10k), &h, NULL, NULL) > 0);
    assert_false(h.close);
    assert_int_equal(h.content_length, -1);
    assert_int_equal(httpc_head_parse(ok, 20, &h, NULL, NULL), 0); /* not whole yet */
    const char *bad[] = {
        "HTTP/2 200 OK\r\n\r\n",
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 099 OK\r\n\r\n",
        "HTTP/1.1 200OK\r\n\r\n",
        "HTTP/1.1 200 OK\r\nNo-Colon\r\n\r\n",
        "HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
        "HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n",
        "HTTP/1.1 200 OK\r\nBad Name: v\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1234567890123456789\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.1 200 OK\nA: b\r\n\r\n",
        "HTTP/1.1 200 OK\r\nA: b\n\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(httpc_head_parse(bad[i], strlen(bad[i]), &h, NULL, NULL), -1);
    /* a head that never ends is refused once it passes the bound */
    size_t n = HTTPC_HEAD_MAX + 10;
    char *huge = malloc(n);
    memcpy(huge, "HTTP/1.1 200 OK\r\nX: ", 20);
    memset(huge + 20, 'a', n - 20);
    assert_int_equal(httpc_head_parse(huge, n, &h, NULL, NULL), -1);
    free(huge);
}

/* httpc_upgrade against http_upgrade: the session gets the connection both ways; an answer
 * other than 101 comes back with its text; https:// is not this client's. */
static void test_upgrade(void **state)
{
    (void)state;
    char url[128];
    snprintf(url, sizeof(url), "%s/upgrade", base);
    httpc_resp_t r;
    httpc_resp_init(&r);
    buf_t extra;
    buf_init(&extra);
    int fd = httpc_upgrade(url, NULL, "request-body;", 13, "t-echo", 5000, &r, &extra);
    assert_true(fd >= 0);
    assert_int_equal(r.status, 101);
    assert_int_equal(send(fd, "after", 5, MSG_NOSIGNAL), 5);
    shutdown(fd, SHUT_WR);
    char b[256];
    ssize_t k;
    while ((k = recv(fd, b, sizeof(b), 0)) > 0)
        buf_append(&extra, b, (size_t)k);
    close(fd);
    assert_int_equal(extra.len, 18);
    assert_memory_equal(extra.base, "request-body;after", 18);
    buf_dispose(&extra);
    httpc_resp_dispose(&r);

    for (int i = 0; i < 2; i++) { /* not asked right, or not served: the answer, not a session */
        httpc_resp_init(&r);
        buf_init(&extra);
        snprintf(url, sizeof(url), "%s/%s", base, i ? "small" : "upgrade");
        assert_int_equal(httpc_upgrade(url, NULL, "x", 1, i ? "t-echo" : "other", 5000, &r, &extra),
                         -1);
        assert_int_equal(r.status, i ? 200 : 404);
        assert_non_null(r.body.base);
        assert_non_null(strstr(r.body.base, i ? "hello" : "no such thing"));
        assert_int_equal(extra.len, 0);
        httpc_resp_dispose(&r);
    }
    httpc_resp_init(&r);
    assert_int_equal(httpc_upgrade("https://127.0.0.1:1/x", NULL, "", 0, "t-echo", 0, &r, &extra),
                     -2);
    httpc_resp_dispose(&r);
    buf_dispose(&extra);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head_parse), cmocka_unit_test(test_bodies_and_reuse),
        cmocka_unit_test(test_put),        cmocka_unit_test(test_scripted_peer),
        cmocka_unit_test(test_upgrade),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
