/*
 * fuzz_ws_server.c - the WebSocket transport of liblocus-etl, the transformer framework's
 * server side (src/etlsdk/etl_ws.c): the input is what a target sends on an upgraded /ws
 * connection (masked client frames: control messages, object messages, pings, closes).
 *
 * The connection is served by locus_etl__ws_serve() itself, on one end of a socket pair whose
 * other end a thread drains; the input is handed over as the bytes already read past the
 * upgrade request. The server context is a real one (locus_etl_start on a Unix socket, one
 * worker) with a transform that echoes, streams, fails, returns nothing or returns 100 KB or
 * 1.5 MB depending on etl_args; FQNs are confined to a directory holding one file; direct puts go
 * to a stub of the HTTP client defined here (it replaces src/etlsdk/etl_http.c at link time:
 * nothing leaves the process).
 *
 * The end of the stream: the server treats the peer's EOF as a broken connection and drops what
 * it has not answered, so an input that ends on a frame boundary outside a fragmented message
 * is followed by one more request whose transform puts the server in drain mode (it answers
 * every request received, then closes); any other input ends with EOF, as a peer that died
 * mid-frame would. Properties: no crash, no hang, no leak.
 */
#include "fuzz.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "etlsdk/internal.h"
#include "locus/etl.h"

/* The request appended to an input: {"etl_args":END_ARGS} and an empty object, as masked
 * frames (a zero mask). Its transform ends the connection. */
#define END_ARGS "fuzz-end-of-input"
static uint8_t end_request[64];
static size_t end_len;

static locus_etl_ctx_t *ctx;
static char dir[256], sock_path[300];

/* ---- the HTTP client of liblocus-etl, stubbed (etl_http.c is then not linked) ---- */

void locus_etl__http_global_init(void)
{
}

long locus_etl__http_get(const char *url, int timeout_ms, uint64_t max_size, char **body,
                         size_t *len, char *err, size_t errlen)
{
    snprintf(err, errlen, "no network in the fuzzer");
    *body = NULL;
    *len = 0;
    return 0;
}

/* A streaming transform's hpull fetch (not used: the harness's transform is whole-buffer). */
locus_etl__fetch_t *locus_etl__fetch_start(const char *url, int timeout_ms, uint64_t max_size)
{
    return NULL;
}

int locus_etl__fetch_end(void *f)
{
    return LOCUS_ETL_EIO;
}

void locus_etl__fetch_free(locus_etl__fetch_t *f)
{
}

/* The answer depends on the URL, so that every branch of the direct-put reply runs. */
long locus_etl__http_put(const char *url, const char *node_url, const void *data, size_t n,
                         int timeout_ms, char **resp, size_t *resp_len, char *err, size_t errlen)
{
    size_t k = strlen(url) % 4;
    *resp = NULL;
    *resp_len = 0;
    if (k == 0)
        return 204;
    if (k == 1) {
        *resp = strdup("next stage result");
        *resp_len = strlen(*resp);
        return 200;
    }
    if (k == 2)
        return 404;
    snprintf(err, errlen, "no network in the fuzzer");
    return 0;
}

/* ---- the transform ---- */

static int xf(const locus_etl_input_t *in, locus_etl_output_t *out, void *ud)
{
    if (strcmp(in->args, END_ARGS) == 0) {
        /* Every request before this one has been answered (one at a time, in order). */
        locus_etl__ws_set_mode(ctx, WS_MODE_DRAIN);
        return 0;
    }
    if (strcmp(in->args, "fail") == 0)
        return locus_etl_set_error(out, 418, "failed on purpose: %s", in->path);
    if (strcmp(in->args, "empty") == 0)
        return 0;
    if (strcmp(in->args, "stream") == 0) {
        for (size_t off = 0; off < in->len; off += 7)
            if (locus_etl_write(out, (const char *)in->data + off,
                                in->len - off < 7 ? in->len - off : 7) != 0)
                return LOCUS_ETL_ECANCELED;
        return 0;
    }
    if (strcmp(in->args, "static") == 0)
        return locus_etl_set_static(out, in->data, in->len);
    if (strcmp(in->args, "big") == 0 || strcmp(in->args, "bigstream") == 0) {
        /* Replies over 64 KiB go out in frames pulled by wslay; over 1 MiB they stream while
         * the transform still writes. */
        size_t total = in->args[3] ? (3u << 20) / 2 : 100000, piece = 65536;
        char *buf = calloc(1, piece);
        if (buf == NULL)
            return LOCUS_ETL_ENOMEM;
        memcpy(buf, in->data, in->len < piece ? in->len : piece);
        int rc = 0;
        for (size_t off = 0; off < total && rc == 0; off += piece)
            rc = locus_etl_write(out, buf, total - off < piece ? total - off : piece);
        free(buf);
        return rc;
    }
    return locus_etl_set_copy(out, in->data, in->len);
}

static void quiet(locus_etl_log_level_t level, const char *msg, void *ud)
{
}

static void cleanup(void)
{
    char p[300];
    snprintf(p, sizeof(p), "%s/obj", dir);
    unlink(p);
    unlink(sock_path);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    signal(SIGPIPE, SIG_IGN);
    locus_etl_set_log_hook(quiet, NULL);
    /* FQN requests may read only <TMPDIR>/locus-fuzz-ws-fqn/obj (named in the corpus). */
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/locus-fuzz-ws-fqn", tmp && *tmp ? tmp : "/tmp");
    mkdir(dir, 0700);
    char p[300];
    snprintf(p, sizeof(p), "%s/obj", dir);
    FILE *f = fopen(p, "w");
    if (f == NULL || fputs("an object on disk\n", f) < 0 || fclose(f) != 0)
        abort();
    snprintf(sock_path, sizeof(sock_path), "%s/srv-%d.sock", dir, (int)getpid());
    const char *ctl = "{\"etl_args\":\"" END_ARGS "\"}";
    uint8_t *e = end_request;
    *e++ = 0x82; /* fin, binary */
    *e++ = (uint8_t)(0x80 | strlen(ctl));
    memset(e, 0, 4);
    memcpy(e + 4, ctl, strlen(ctl));
    e += 4 + strlen(ctl);
    *e++ = 0x82;
    *e++ = 0x80;
    memset(e, 0, 4);
    end_len = (size_t)(e + 4 - end_request);
    atexit(cleanup);
    static locus_etl_server_t srv = {LOCUS_ETL_API_V1, .name = "fuzz", .transform = xf};
    static locus_etl_options_t o;
    locus_etl_options_init(&o);
    o.workers = 1;
    o.unix_socket = sock_path;
    o.fqn_roots = dir;
    o.max_object_size = 1 << 20;
    o.direct_put_retries = 0;
    o.target_url = "http://127.0.0.1:1";
    char err[256];
    if (locus_etl_start(&srv, &o, &ctx, err, sizeof(err)) != 0) {
        fprintf(stderr, "fuzz_ws_server: %s\n", err);
        abort();
    }
    return 0;
}

/* The peer: reads and drops what the server sends. When the server closes (or shuts down its
 * side after its Close), the peer closes its side too; after a second of silence it ends the
 * stream (a server waiting for the rest of a message). */
static void *drain(void *arg)
{
    int fd = *(int *)arg;
    char sink[16384];
    for (;;) {
        struct pollfd pl = {.fd = fd, .events = POLLIN};
        if (poll(&pl, 1, 1000) == 0) {
            shutdown(fd, SHUT_WR);
            continue;
        }
        if (recv(fd, sink, sizeof(sink), 0) <= 0)
            break;
    }
    shutdown(fd, SHUT_WR);
    return NULL;
}

/* Whether p[0..n) ends right after a frame, outside a fragmented message. */
static bool ends_clean(const uint8_t *p, size_t n)
{
    bool open = false;
    size_t i = 0;
    while (i < n) {
        if (n - i < 2)
            return false;
        uint8_t b0 = p[i], b1 = p[i + 1];
        i += 2;
        uint64_t len = b1 & 127;
        size_t ext = len == 126 ? 2 : len == 127 ? 8 : 0;
        if (n - i < ext)
            return false;
        if (ext)
            len = 0;
        for (size_t k = 0; k < ext; k++)
            len = len << 8 | p[i++];
        size_t mask = b1 & 128 ? 4 : 0;
        if (n - i < mask || len > n - i - mask)
            return false;
        i += mask + (size_t)len;
        if ((b0 & 8) == 0)
            open = (b0 & 128) == 0; /* a data frame: fin ends its message */
    }
    return !open;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size <= 64) { /* the upgrade request's Sec-WebSocket-Key, too */
        char key[65], acc[LOCUS_ETL__WS_ACCEPT_LEN + 1];
        memcpy(key, data, size);
        key[size] = '\0';
        if (locus_etl__ws_accept_key(key, acc) == 0)
            FUZZ_CHECK(strlen(acc) == LOCUS_ETL__WS_ACCEPT_LEN, "accept key \"%s\"", acc);
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        abort();
    uint8_t *in = malloc(size + end_len);
    if (in == NULL)
        abort();
    memcpy(in, data, size);
    size_t n = size;
    if (ends_clean(data, size)) {
        memcpy(in + size, end_request, end_len);
        n += end_len;
    } else {
        shutdown(sv[1], SHUT_WR); /* a peer that died mid-frame */
    }
    pthread_t th;
    if (pthread_create(&th, NULL, drain, &sv[1]) != 0)
        abort();
    locus_etl__ws_serve(ctx, sv[0], (const char *)in, n, "fuzz-peer");
    locus_etl__ws_set_mode(ctx, WS_MODE_RUN);
    close(sv[0]);
    pthread_join(th, NULL);
    close(sv[1]);
    free(in);
    return 0;
}
