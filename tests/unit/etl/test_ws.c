/*
 * test_ws.c - the ws:// communicator (src/etl/ws.c) and the WebSocket client under it
 * (src/net/ws_client.c): the handshake's accept key, the control message, error replies,
 * and whole exchanges against a scripted WebSocket server written here with its own tiny
 * frame codec (a second, independent implementation of RFC 6455 framing): small, empty and
 * 8 MiB objects (single-frame and fragmented replies), Text = delivered (204), error replies,
 * FQN (no object message), a connection dropped mid-reply (503, then a reconnect), a hung
 * server (504), nothing listening (503), a bad accept key, a cancelling sink, and a job
 * session spread over concurrent workers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "etl_fixture.h"

extern const etl_comm_t etl_comm_ws;
char *etl__ws_ctrl_json(const etl_req_t *rq);
int etl__ws_parse_error(const char *text, size_t n, char *msg, size_t msglen);

/* ---- the scripted server ---- */

static int lfd = -1, port;
static pthread_t lthread;
static pthread_t cthreads[256];
static atomic_int nconns;      /* connections accepted */
static atomic_int last_frames; /* frames of the last object message received */
static atomic_bool bad_accept; /* answer the handshake with a wrong key */
static atomic_bool stopping;

static int read_n(int fd, void *p, size_t n)
{
    return read_full(fd, p, n) == (ssize_t)n ? 0 : -1;
}

/* One frame (client frames are masked). -1 on EOF/error. */
static int read_frame(int fd, int *op, int *fin, buf_t *payload)
{
    uint8_t h[2];
    if (read_n(fd, h, 2) < 0)
        return -1;
    *fin = h[0] >> 7;
    *op = h[0] & 15;
    uint64_t len = h[1] & 127;
    if (len == 126) {
        uint8_t e[2];
        if (read_n(fd, e, 2) < 0)
            return -1;
        len = (uint64_t)e[0] << 8 | e[1];
    } else if (len == 127) {
        uint8_t e[8];
        if (read_n(fd, e, 8) < 0)
            return -1;
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | e[i];
    }
    uint8_t mask[4] = {0};
    if ((h[1] & 128) && read_n(fd, mask, 4) < 0)
        return -1;
    if (!(h[1] & 128))
        return -1; /* clients must mask */
    size_t at = payload->len;
    buf_reserve(payload, len);
    if (len && read_n(fd, payload->base + at, len) < 0)
        return -1;
    for (uint64_t i = 0; i < len; i++)
        payload->base[at + i] ^= mask[i % 4];
    payload->len = at + len;
    payload->base[payload->len] = '\0';
    return 0;
}

/* One data message; pings/pongs skipped. Returns its opcode, -1 on EOF/close. */
static int read_msg(int fd, buf_t *msg, int *frames)
{
    int op0 = -1;
    *frames = 0;
    for (;;) {
        int op, fin;
        buf_t f;
        buf_init(&f);
        if (read_frame(fd, &op, &fin, &f) < 0 || op == 8) {
            buf_dispose(&f);
            return -1;
        }
        if (op >= 8) {
            buf_dispose(&f);
            continue;
        }
        if (op0 < 0)
            op0 = op;
        buf_append(msg, f.base ? f.base : "", f.len);
        buf_dispose(&f);
        (*frames)++;
        if (fin)
            return op0;
    }
}

static void write_frame(int fd, int op, int fin, const void *p, size_t n)
{
    uint8_t h[10];
    size_t hl = 2;
    h[0] = (uint8_t)((fin ? 128 : 0) | op);
    if (n < 126) {
        h[1] = (uint8_t)n;
    } else if (n < 65536) {
        h[1] = 126;
        h[2] = (uint8_t)(n >> 8);
        h[3] = (uint8_t)n;
        hl = 4;
    } else {
        h[1] = 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
        hl = 10;
    }
    write_all(fd, h, hl);
    if (n)
        write_all(fd, p, n);
}

static void write_text(int fd, const char *s)
{
    write_frame(fd, 1, 1, s, strlen(s));
}

static int handshake(int fd)
{
    char req[4096];
    size_t len = 0;
    while (len < sizeof(req) - 1) {
        ssize_t n = read(fd, req + len, 1); /* byte by byte: frames may follow */
        if (n <= 0)
            return -1;
        len++;
        req[len] = '\0';
        if (len >= 4 && strcmp(req + len - 4, "\r\n\r\n") == 0)
            break;
    }
    const char *k = strstr(req, "Sec-WebSocket-Key: ");
    if (k == NULL || strncmp(req, "GET /ws HTTP/1.1\r\n", 18) != 0)
        return -1;
    char key[64];
    sscanf(k + 19, "%63[^\r]", key);
    char acc[29];
    ws_accept_key(bad_accept ? "x" : key, acc);
    char *resp = xasprintf("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                           acc);
    write_all(fd, resp, strlen(resp));
    free(resp);
    return 0;
}

static void serve(int fd);

static void *conn_main(void *arg)
{
    int fd = (int)(intptr_t)arg;
    if (handshake(fd) == 0)
        serve(fd);
    close(fd);
    return NULL;
}

static void *conn_main_after_handshake(void *arg)
{
    int fd = (int)(intptr_t)arg;
    serve(fd);
    close(fd);
    return NULL;
}

/* Answers requests until the client goes away. */
static void serve(int fd)
{
    for (;;) {
        buf_t ctrl, obj;
        buf_init(&ctrl);
        buf_init(&obj);
        int frames;
        int op = read_msg(fd, &ctrl, &frames);
        if (op < 0) {
            buf_dispose(&ctrl);
            break;
        }
        json_t *j = json_loads(ctrl.base, 0, NULL);
        const char *path = json_string_value(json_object_get(j, "path"));
        const char *args = json_string_value(json_object_get(j, "etl_args"));
        const char *fqn = json_string_value(json_object_get(j, "fqn"));
        bool ok = op == 2 && path;
        if (ok && fqn == NULL) {
            ok = read_msg(fd, &obj, &frames) == 2;
            last_frames = frames;
        }
        if (!ok) {
            write_text(fd, "ETL-ERROR 400 bad request");
        } else if (str_has_prefix(path, "upper")) {
            for (size_t i = 0; i < obj.len; i++)
                if (obj.base[i] >= 'a' && obj.base[i] <= 'z')
                    obj.base[i] -= 32;
            if (args)
                buf_printf(&obj, "|%s", args);
            write_frame(fd, 2, 1, obj.base ? obj.base : "", obj.len);
        } else if (str_has_prefix(path, "echo")) {
            write_frame(fd, 2, 1, obj.base ? obj.base : "", obj.len);
        } else if (str_has_prefix(path, "frag")) {
            /* three frames: Binary, Continuation, Continuation(fin); a ping in between */
            size_t a = obj.len / 3, b = obj.len / 3;
            write_frame(fd, 2, 0, obj.base, a);
            write_frame(fd, 9, 1, "hi", 2);
            write_frame(fd, 0, 0, obj.base + a, b);
            write_frame(fd, 0, 1, obj.base + a + b, obj.len - a - b);
        } else if (str_has_prefix(path, "ctrl")) {
            write_frame(fd, 2, 1, ctrl.base, ctrl.len);
        } else if (str_has_prefix(path, "delivered")) {
            write_text(fd, "direct put success");
        } else if (str_has_prefix(path, "fail")) {
            write_text(fd, "ETL-ERROR 500 cannot transform this");
        } else if (str_has_prefix(path, "missing")) {
            write_text(fd, "ETL-ERROR 404 no such file");
        } else if (str_has_prefix(path, "drop")) {
            /* announce 100000 bytes, send 1000, hang up */
            char part[1000];
            memset(part, 'x', sizeof(part));
            uint8_t h[10] = {0x82, 127, 0, 0, 0, 0, 0, 1, 0x86, 0xa0};
            write_all(fd, h, sizeof(h));
            write_all(fd, part, sizeof(part));
            json_decref(j);
            buf_dispose(&ctrl);
            buf_dispose(&obj);
            break;
        } else if (str_has_prefix(path, "hang")) {
            sleep_ms(800);
            json_decref(j);
            buf_dispose(&ctrl);
            buf_dispose(&obj);
            break;
        } else {
            write_text(fd, "ETL-ERROR 404 unknown");
        }
        json_decref(j);
        buf_dispose(&ctrl);
        buf_dispose(&obj);
    }
}

static void *listen_main(void *arg)
{
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0 || stopping) {
            if (fd >= 0)
                close(fd);
            return NULL;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* header and payload
                                                                        are separate writes */
        int i = atomic_fetch_add(&nconns, 1);
        assert_true(i < (int)ARRAY_SIZE(cthreads));
        pthread_create(&cthreads[i], NULL, conn_main, (void *)(intptr_t)fd);
    }
}

static int setup(void **state)
{
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 64) < 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &sl) < 0)
        return -1;
    port = ntohs(sa.sin_port);
    return pthread_create(&lthread, NULL, listen_main, NULL);
}

static int teardown(void **state)
{
    stopping = true;
    shutdown(lfd, SHUT_RDWR);
    pthread_join(lthread, NULL);
    close(lfd);
    for (int i = 0; i < nconns; i++)
        pthread_join(cthreads[i], NULL);
    return 0;
}

/* ---- the client side ---- */

static etl_inst_t inst;

static etl_inst_t *mock_inst(int srv_port, int64_t obj_timeout_ms)
{
    memset(&inst, 0, sizeof(inst));
    snprintf(inst.name, sizeof(inst.name), "mock-etl");
    snprintf(inst.url, sizeof(inst.url), "http://127.0.0.1:%d", srv_port);
    inst.obj_timeout_ns = obj_timeout_ms * 1000000LL;
    inst.comm = &etl_comm_ws;
    inst.ws_conns = 8;
    return &inst;
}

/* One transform of content (n bytes) as object b/<obj>. Returns the status. */
static int run(etl_inst_t *e, void *session, const char *obj, const void *content, size_t n,
               const char *args, const char *dst, collect_t *c, char *err, size_t errlen)
{
    etl_req_t rq = {.bck = "b", .obj = obj, .args = args, .dst_url = dst, .session = session};
    return fx_run(e, rq, content, n, c, err, errlen);
}

typedef struct {
    int lfd;
    int cfd; /* the accepted connection once upgraded, else -1 */
} accept_t;

static void *accept_one(void *arg)
{
    accept_t *a = arg;
    int fd = accept(a->lfd, NULL, NULL);
    if (fd >= 0 && handshake(fd) == 0)
        a->cfd = fd;
    else if (fd >= 0)
        close(fd);
    return NULL;
}

static int msg_start(void *arg, int opcode, int64_t len)
{
    ((collect_t *)arg)->status_calls = opcode; /* records the opcode */
    return 0;
}

static int msg_data(void *arg, const void *p, size_t n)
{
    buf_append(&((collect_t *)arg)->data, p, n);
    return 0;
}

static void test_accept_key(void **state)
{
    char out[29];
    ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out);
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_ctrl_json(void **state)
{
    etl_req_t rq = {.bck = "src", .obj = "dir/a b.flac"};
    char *s = etl__ws_ctrl_json(&rq);
    assert_string_equal(s, "{\"path\":\"dir/a b.flac\"}");
    free(s);
    rq.args = "";
    s = etl__ws_ctrl_json(&rq);
    assert_string_equal(s, "{\"path\":\"dir/a b.flac\"}"); /* empty args omitted */
    free(s);
    rq.args = "{\"k\":1}";
    rq.fqn = "/ais/mp1/@ais/src/%ob/dir/a b.flac";
    rq.dst_url = "http://10.1.2.4:51081/ais%2F@%23%2Fdst%2Fa.wav?uuid=Hk3";
    s = etl__ws_ctrl_json(&rq);
    assert_string_equal(s,
                        "{\"dst_addr\":\"http://10.1.2.4:51081/ais%2F@%23%2Fdst%2Fa.wav?uuid=Hk3\","
                        "\"pipeline\":\"http://10.1.2.4:51081/ais%2F@%23%2Fdst%2Fa.wav?uuid=Hk3\","
                        "\"etl_args\":\"{\\\"k\\\":1}\","
                        "\"fqn\":\"%2Fais%2Fmp1%2F@ais%2Fsrc%2F%25ob%2Fdir%2Fa%20b.flac\","
                        "\"path\":\"dir/a b.flac\"}");
    free(s);
}

static void test_parse_error(void **state)
{
    char msg[128];
    const char *t = "ETL-ERROR 404 no such file";
    assert_int_equal(etl__ws_parse_error(t, strlen(t), msg, sizeof(msg)), 404);
    assert_string_equal(msg, "no such file");
    t = "ETL-ERROR something broke";
    assert_int_equal(etl__ws_parse_error(t, strlen(t), msg, sizeof(msg)), 500);
    assert_string_equal(msg, "something broke");
    t = "ETL-ERROR 200 not an error status";
    assert_int_equal(etl__ws_parse_error(t, strlen(t), msg, sizeof(msg)), 500);
    t = "direct put success";
    assert_int_equal(etl__ws_parse_error(t, strlen(t), msg, sizeof(msg)), 0);
    t = "12345";
    assert_int_equal(etl__ws_parse_error(t, strlen(t), msg, sizeof(msg)), 0);
}

static void test_small_and_empty(void **state)
{
    etl_inst_t *e = mock_inst(port, 5000);
    collect_t c = {0};
    char err[512];
    assert_int_equal(run(e, NULL, "upper/x y", "hello", 5, "k=v", NULL, &c, err, sizeof(err)), 200);
    assert_int_equal(c.status_calls, 1);
    assert_int_equal(c.clen, 9);
    assert_int_equal(c.data.len, 9);
    assert_memory_equal(c.data.base, "HELLO|k=v", 9);
    buf_dispose(&c.data);
    /* an empty object, and an empty answer */
    assert_int_equal(run(e, NULL, "echo/empty", "", 0, NULL, NULL, &c, err, sizeof(err)), 200);
    assert_int_equal(c.status_calls, 1);
    assert_int_equal(c.clen, 0);
    assert_int_equal(c.data.len, 0);
    buf_dispose(&c.data);
    /* reuses the inline pool's connection */
    int before = nconns;
    for (int i = 0; i < 20; i++) {
        assert_int_equal(run(e, NULL, "upper/again", "abc", 3, NULL, NULL, &c, err, sizeof(err)),
                         200);
        assert_memory_equal(c.data.base, "ABC", 3);
        buf_dispose(&c.data);
    }
    assert_int_equal(nconns, before);
    etl_comm_ws.dispose(e);
}

static void test_big(void **state)
{
    etl_inst_t *e = mock_inst(port, 5000);
    size_t n = 8u << 20;
    char *big = xmalloc(n);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)(i * 2654435761u >> 13);
    collect_t c = {0};
    char err[512];
    /* single-frame reply: the length is known up front */
    assert_int_equal(run(e, NULL, "echo/big", big, n, NULL, NULL, &c, err, sizeof(err)), 200);
    assert_int_equal(c.status_calls, 1);
    assert_int_equal(c.clen, (int64_t)n);
    assert_int_equal(c.data.len, n);
    assert_memory_equal(c.data.base, big, n);
    assert_true(last_frames > 1); /* the object went out fragmented, streamed from its file */
    buf_dispose(&c.data);
    /* fragmented reply with a ping inside */
    assert_int_equal(run(e, NULL, "frag/big", big, n, NULL, NULL, &c, err, sizeof(err)), 200);
    assert_int_equal(c.status_calls, 1);
    assert_int_equal(c.clen, -1);
    assert_int_equal(c.data.len, n);
    assert_memory_equal(c.data.base, big, n);
    buf_dispose(&c.data);
    /* 64 KiB + 1: the first size sent fragmented */
    assert_int_equal(run(e, NULL, "echo/edge", big, 65537, NULL, NULL, &c, err, sizeof(err)), 200);
    assert_int_equal(c.data.len, 65537);
    assert_memory_equal(c.data.base, big, 65537);
    buf_dispose(&c.data);
    free(big);
    etl_comm_ws.dispose(e);
}

static void test_delivered_and_ctrl(void **state)
{
    etl_inst_t *e = mock_inst(port, 5000);
    collect_t c = {0};
    char err[512];
    const char *dst = "http://127.0.0.1:1/ais%2F@%23%2Fdst%2Fo?uuid=J1";
    assert_int_equal(run(e, NULL, "delivered", "abc", 3, NULL, dst, &c, err, sizeof(err)), 204);
    assert_int_equal(c.status_calls, 0);
    buf_dispose(&c.data);
    /* what the server received */
    assert_int_equal(run(e, NULL, "ctrl/o", "abc", 3, "a=1", dst, &c, err, sizeof(err)), 200);
    json_t *j = json_loadb(c.data.base, c.data.len, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "dst_addr")), dst);
    assert_string_equal(json_string_value(json_object_get(j, "pipeline")), dst);
    assert_string_equal(json_string_value(json_object_get(j, "etl_args")), "a=1");
    assert_string_equal(json_string_value(json_object_get(j, "path")), "ctrl/o");
    assert_null(json_object_get(j, "fqn"));
    json_decref(j);
    buf_dispose(&c.data);
    etl_comm_ws.dispose(e);
}

static void test_fqn(void **state)
{
    etl_inst_t *e = mock_inst(port, 5000);
    collect_t c = {0};
    char err[512] = "";
    etl_req_t rq = {.bck = "b", .obj = "ctrl/f", .fd = -1, .size = 5, .fqn = "/mp/@ais/b/%ob/f"};
    etl_out_t out = {fx_on_status, fx_sink, &c, 0};
    buf_init(&c.data);
    /* no object message follows: the server answers right after the control message */
    assert_int_equal(etl_transform(e, &rq, &out, err, sizeof(err)), 200);
    json_t *j = json_loadb(c.data.base, c.data.len, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "fqn")),
                        "%2Fmp%2F@ais%2Fb%2F%25ob%2Ff");
    json_decref(j);
    buf_dispose(&c.data);
    etl_comm_ws.dispose(e);
}

static void test_errors(void **state)
{
    etl_inst_t *e = mock_inst(port, 5000);
    collect_t c = {0};
    char err[512];
    assert_int_equal(run(e, NULL, "fail/x", "abc", 3, NULL, NULL, &c, err, sizeof(err)), 500);
    assert_string_equal(err, "ETL error: cannot transform this");
    assert_int_equal(c.status_calls, 0);
    buf_dispose(&c.data);
    assert_int_equal(run(e, NULL, "missing/x", "abc", 3, NULL, NULL, &c, err, sizeof(err)), 404);
    assert_string_equal(err, "ETL error: no such file");
    buf_dispose(&c.data);
    /* an error reply leaves the connection usable */
    int before = nconns;
    assert_int_equal(run(e, NULL, "upper/ok", "abc", 3, NULL, NULL, &c, err, sizeof(err)), 200);
    assert_int_equal(nconns, before);
    buf_dispose(&c.data);
    etl_comm_ws.dispose(e);
}

static void test_drop_and_reconnect(void **state)
{
    etl_inst_t *e = mock_inst(port, 5000);
    collect_t c = {0};
    char err[512];
    assert_int_equal(run(e, NULL, "upper/a", "abc", 3, NULL, NULL, &c, err, sizeof(err)), 200);
    buf_dispose(&c.data);
    int before = nconns;
    assert_int_equal(run(e, NULL, "drop/x", "abc", 3, NULL, NULL, &c, err, sizeof(err)), 503);
    assert_non_null(strstr(err, "ETL error: ws connection to mock-etl lost: "));
    assert_non_null(strstr(err, "closed the connection"));
    assert_int_equal(c.status_calls, 1); /* the reply had started */
    assert_int_equal(c.data.len, 1000);
    buf_dispose(&c.data);
    /* the next request gets a new connection */
    assert_int_equal(run(e, NULL, "upper/b", "def", 3, NULL, NULL, &c, err, sizeof(err)), 200);
    assert_memory_equal(c.data.base, "DEF", 3);
    assert_int_equal(nconns, before + 1);
    buf_dispose(&c.data);
    etl_comm_ws.dispose(e);
}

static void test_hung_server(void **state)
{
    etl_inst_t *e = mock_inst(port, 300);
    collect_t c = {0};
    char err[512];
    int64_t t0 = time_mono_ns();
    assert_int_equal(run(e, NULL, "hang/x", "abc", 3, NULL, NULL, &c, err, sizeof(err)), 504);
    int64_t ms = (time_mono_ns() - t0) / 1000000;
    assert_true(ms >= 250 && ms < 2000);
    assert_non_null(strstr(err, "ETL error: mock-etl sent nothing"));
    buf_dispose(&c.data);
    etl_comm_ws.dispose(e);
}

static void test_unreachable_and_bad_accept(void **state)
{
    /* a port nobody listens on: bind one and close it */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    bind(s, (struct sockaddr *)&sa, sizeof(sa));
    getsockname(s, (struct sockaddr *)&sa, &sl);
    close(s);
    etl_inst_t *e = mock_inst(ntohs(sa.sin_port), 1000);
    collect_t c = {0};
    char err[512];
    assert_int_equal(run(e, NULL, "upper/a", "abc", 3, NULL, NULL, &c, err, sizeof(err)), 503);
    assert_non_null(strstr(err, "ETL error: cannot open a ws connection to mock-etl"));
    buf_dispose(&c.data);
    char serr[256] = "";
    assert_null(etl_comm_ws.session_open(e, 2, serr, sizeof(serr)));
    assert_non_null(strstr(serr, "cannot open a ws connection"));
    etl_comm_ws.dispose(e);

    e = mock_inst(port, 1000);
    bad_accept = true;
    assert_int_equal(run(e, NULL, "upper/a", "abc", 3, NULL, NULL, &c, err, sizeof(err)), 503);
    assert_non_null(strstr(err, "wrong Sec-WebSocket-Accept"));
    bad_accept = false;
    buf_dispose(&c.data);
    etl_comm_ws.dispose(e);
}

static void test_cancel(void **state)
{
    etl_inst_t *e = mock_inst(port, 5000);
    size_t n = 1u << 20;
    char *big = xcalloc(1, n);
    collect_t c = {.cancel_after = 100000};
    char err[512];
    int fd = fx_object_fd(big, n);
    etl_req_t rq = {.bck = "b", .obj = "echo/c", .fd = fd, .size = (int64_t)n};
    etl_out_t out = {fx_on_status, fx_sink, &c, 0};
    buf_init(&c.data);
    assert_int_equal(etl_transform(e, &rq, &out, err, sizeof(err)), 499);
    close(fd);
    buf_dispose(&c.data);
    c.cancel_after = 0;
    assert_int_equal(run(e, NULL, "upper/z", "z", 1, NULL, NULL, &c, err, sizeof(err)), 200);
    buf_dispose(&c.data);
    free(big);
    etl_comm_ws.dispose(e);
}

typedef struct {
    etl_inst_t *e;
    void *session;
    int id;
    int failures;
} worker_t;

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    for (int i = 0; i < 25; i++) {
        char obj[64], content[64], want[64];
        snprintf(obj, sizeof(obj), "upper/w%d-%d", w->id, i);
        snprintf(content, sizeof(content), "worker %d object %d", w->id, i);
        snprintf(want, sizeof(want), "WORKER %d OBJECT %d", w->id, i);
        collect_t c = {0};
        char err[512];
        int st =
            run(w->e, w->session, obj, content, strlen(content), NULL, NULL, &c, err, sizeof(err));
        if (st != 200 || c.data.len != strlen(want) || memcmp(c.data.base, want, c.data.len))
            w->failures++;
        buf_dispose(&c.data);
    }
    return NULL;
}

static void test_session(void **state)
{
    etl_inst_t *e = mock_inst(port, 5000);
    char err[256] = "";
    int before = nconns;
    void *s = etl_comm_ws.session_open(e, 3, err, sizeof(err));
    assert_non_null(s);
    /* connections open at job start */
    for (int i = 0; i < 100 && nconns < before + 3; i++)
        sleep_ms(10);
    assert_int_equal(nconns, before + 3);
    worker_t w[6];
    pthread_t th[6];
    for (int i = 0; i < 6; i++) {
        w[i] = (worker_t){e, s, i, 0};
        pthread_create(&th[i], NULL, worker_main, &w[i]);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    assert_int_equal(nconns, before + 3); /* six workers shared three connections */
    etl_comm_ws.session_close(e, s);
    assert_null(e->comm_state); /* the inline pool was never needed */
}

/* The client API directly, over a Unix socket (the same scripted server behind it). */
static void test_unix_socket(void **state)
{
    char path[108];
    snprintf(path, sizeof(path), "/tmp/locus-test-ws-%d.sock", (int)getpid());
    unlink(path);
    int ufd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    assert_int_equal(bind(ufd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(ufd, 4), 0);
    char err[256] = "";
    /* the handshake needs the server: accept in a thread */
    pthread_t th;
    accept_t a = {ufd, -1};
    assert_int_equal(pthread_create(&th, NULL, accept_one, &a), 0);
    ws_conn_t *c = ws_connect_unix(path, "/ws", 2000, err, sizeof(err));
    pthread_join(th, NULL);
    assert_non_null(c);
    int cfd = a.cfd;
    assert_string_equal(ws_peer(c), path);
    pthread_t sth;
    pthread_create(&sth, NULL, conn_main_after_handshake, (void *)(intptr_t)cfd);
    for (int i = 0; i < 3; i++) {
        const char *ctrl = "{\"path\":\"upper/u\"}";
        assert_int_equal(ws_queue_msg(c, WS_OP_BINARY, ctrl, strlen(ctrl)), 0);
        int fd = fx_object_fd("unix", 4);
        assert_int_equal(ws_queue_fd(c, WS_OP_BINARY, fd, 4), 0);
        collect_t col = {0};
        buf_init(&col.data);
        ws_msg_cb_t cb = {msg_start, msg_data, &col};
        assert_int_equal(ws_recv_msg(c, &cb, 2000, err, sizeof(err)), 0);
        close(fd);
        assert_int_equal(col.status_calls, WS_OP_BINARY);
        assert_int_equal(col.data.len, 4);
        assert_memory_equal(col.data.base, "UNIX", 4);
        buf_dispose(&col.data);
    }
    ws_close(c); /* a Close frame: the server thread ends */
    pthread_join(sth, NULL);
    close(ufd);
    unlink(path);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* the scripted server writes to clients that hung up */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_key),
        cmocka_unit_test(test_ctrl_json),
        cmocka_unit_test(test_parse_error),
        cmocka_unit_test(test_small_and_empty),
        cmocka_unit_test(test_big),
        cmocka_unit_test(test_delivered_and_ctrl),
        cmocka_unit_test(test_fqn),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_drop_and_reconnect),
        cmocka_unit_test(test_hung_server),
        cmocka_unit_test(test_unreachable_and_bad_accept),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_session),
        cmocka_unit_test(test_unix_socket),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
