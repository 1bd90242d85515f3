/*
 * test_client_put.c - liblocus PUT legs against an in-process fake proxy and target on
 * loopback: the first leg waits for 100 Continue only for a body over CLIENT_DRAIN_MAX (the
 * fake proxy, like the real one, answers that before the body and closes; smaller bodies are
 * read and dropped, then 307 on the kept connection), and the target receives every body intact.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/internal.h"

typedef struct {
    int lsock, port;
    bool proxy;
} fake_t;

static fake_t proxy_srv, target_srv;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int proxy_reqs, proxy_expects, proxy_continues;
static char *stored;
static size_t stored_len;

static bool recv_n(int fd, char *dst, size_t n)
{
    for (size_t got = 0; got < n;) {
        ssize_t k = recv(fd, dst + got, n - got, 0);
        if (k <= 0)
            return false;
        got += (size_t)k;
    }
    return true;
}

static bool send_str(int fd, const char *s)
{
    return send(fd, s, strlen(s), MSG_NOSIGNAL) == (ssize_t)strlen(s);
}

/* Reads one request head byte by byte (no read-ahead into the body); false at EOF. */
static bool read_head(int fd, char *head, size_t cap, long *len, bool *expect)
{
    size_t n = 0;
    while (n < 4 || memcmp(head + n - 4, "\r\n\r\n", 4) != 0) {
        if (n + 1 >= cap || recv(fd, head + n, 1, 0) != 1)
            return false;
        n++;
    }
    head[n] = '\0';
    const char *cl = strcasestr(head, "\r\nContent-Length:");
    *len = cl != NULL ? strtol(cl + 17, NULL, 10) : 0;
    *expect = strcasestr(head, "\r\nExpect: 100-continue") != NULL;
    return true;
}

static void *serve_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    fake_t *f = NULL;
    struct sockaddr_in a;
    socklen_t al = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &al);
    f = ntohs(a.sin_port) == proxy_srv.port ? &proxy_srv : &target_srv;
    char head[8192];
    long len;
    bool expect;
    while (read_head(fd, head, sizeof(head), &len, &expect)) {
        char *body = malloc((size_t)len + 1);
        pthread_mutex_lock(&mu);
        if (f->proxy) {
            proxy_reqs++;
            proxy_expects += expect;
            proxy_continues += expect && len <= CLIENT_DRAIN_MAX;
        }
        pthread_mutex_unlock(&mu);
        if (f->proxy && expect && len > CLIENT_DRAIN_MAX) {
            char r[256];
            snprintf(r, sizeof(r),
                     "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:%d/v1/objects/"
                     "b/o\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                     target_srv.port);
            send_str(fd, r);
            free(body);
            break;
        }
        if ((expect && !send_str(fd, "HTTP/1.1 100 Continue\r\n\r\n")) ||
            !recv_n(fd, body, (size_t)len)) {
            free(body);
            break;
        }
        if (f->proxy) {
            char r[256];
            snprintf(r, sizeof(r),
                     "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:%d/v1/objects/"
                     "b/o\r\nContent-Length: 0\r\n\r\n",
                     target_srv.port);
            free(body);
            if (!send_str(fd, r))
                break;
            continue;
        }
        pthread_mutex_lock(&mu);
        free(stored);
        stored = body;
        stored_len = (size_t)len;
        pthread_mutex_unlock(&mu);
        if (!send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
            break;
    }
    close(fd);
    return NULL;
}

static void *accept_loop(void *arg)
{
    fake_t *f = arg;
    for (;;) {
        int fd = accept(f->lsock, NULL, NULL);
        if (fd < 0)
            return NULL;
        pthread_t t;
        if (pthread_create(&t, NULL, serve_conn, (void *)(intptr_t)fd) == 0)
            pthread_detach(t);
        else
            close(fd);
    }
}

static void fake_start(fake_t *f, bool proxy)
{
    f->proxy = proxy;
    f->lsock = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(f->lsock >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(f->lsock, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(f->lsock, 16), 0);
    socklen_t al = sizeof(a);
    assert_int_equal(getsockname(f->lsock, (struct sockaddr *)&a, &al), 0);
    f->port = ntohs(a.sin_port);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, accept_loop, f), 0);
    pthread_detach(t);
}

static void test_put_expect_header(void **state)
{
    (void)state;
    assert_string_equal(client_put_expect(0, 0), "Expect:");
    assert_string_equal(client_put_expect(0, 4096), "Expect:");
    assert_string_equal(client_put_expect(0, CLIENT_DRAIN_MAX), "Expect:");
    assert_string_equal(client_put_expect(0, CLIENT_DRAIN_MAX + 1), "Expect: 100-continue");
    assert_string_equal(client_put_expect(1, CLIENT_DRAIN_MAX + 1), "Expect:");
}

static void test_put_buf_through_redirect(void **state)
{
    (void)state;
    fake_start(&proxy_srv, true);
    fake_start(&target_srv, false);
    char ep[64], err[LOCUS_ERR_LEN] = "";
    snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", proxy_srv.port);
    locus_client_t *c = NULL;
    assert_int_equal(locus_client_create(ep, &c, err), 0);
    const size_t sizes[] = {0, 4096, CLIENT_DRAIN_MAX, CLIENT_DRAIN_MAX + 1, 8 * CLIENT_DRAIN_MAX};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t n = sizes[i];
        char *data = malloc(n + 1);
        for (size_t k = 0; k < n; k++)
            data[k] = (char)(k * 7 + i);
        pthread_mutex_lock(&mu);
        int reqs0 = proxy_reqs, expects0 = proxy_expects;
        pthread_mutex_unlock(&mu);
        int rc = locus_object_put_buf(c, "b", "o", data, n, err);
        assert_int_equal(rc, 0);
        pthread_mutex_lock(&mu);
        assert_int_equal(proxy_reqs - reqs0, 1);
        assert_int_equal(proxy_expects - expects0, n > CLIENT_DRAIN_MAX ? 1 : 0);
        assert_int_equal(proxy_continues, 0);
        assert_int_equal(stored_len, n);
        assert_memory_equal(stored, data, n);
        pthread_mutex_unlock(&mu);
        free(data);
    }
    locus_client_destroy(c);
    shutdown(proxy_srv.lsock, SHUT_RDWR);
    shutdown(target_srv.lsock, SHUT_RDWR);
    pthread_mutex_lock(&mu);
    free(stored);
    stored = NULL;
    pthread_mutex_unlock(&mu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_expect_header),
        cmocka_unit_test(test_put_buf_through_redirect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
