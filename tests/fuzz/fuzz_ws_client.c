/*
 * fuzz_ws_client.c - the target's WebSocket client (src/net/ws_client.c: its opening handshake
 * and wslay's framing under our callbacks) against a peer that sends the input.
 *
 * The harness is the server, on a Unix socket: for each input it accepts the client's
 * connection, reads the upgrade request and sends the input as its answer, with the first
 * "@ACCEPT@" replaced by the Sec-WebSocket-Accept the client expects; so an input is a
 * handshake response followed by frames (see corpus/ws_client). Then it half-closes and drains
 * what the client sends (a request message, pongs, a close). The client queues one message and
 * receives messages until the connection fails. Properties: no crash, no hang (a bounded idle
 * timeout), a message announced with a length delivers exactly that many bytes.
 */
#include "fuzz.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "net/net.h"

#define ACCEPT_MARK "@ACCEPT@"
#define MAX_MSGS 16

static char sock_path[108];
static int lfd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    signal(SIGPIPE, SIG_IGN);
    const char *tmp = getenv("TMPDIR");
    snprintf(sock_path, sizeof(sock_path), "%s/locus-fuzz-ws-%d.sock", tmp && *tmp ? tmp : "/tmp",
             (int)getpid());
    unlink(sock_path);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
    lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(lfd, 4) != 0) {
        perror("fuzz_ws_client: listen");
        abort();
    }
    return 0;
}

__attribute__((destructor)) static void cleanup(void)
{
    if (sock_path[0])
        unlink(sock_path);
}

typedef struct {
    const uint8_t *data;
    size_t size;
} peer_t;

static void send_all(int fd, const void *p, size_t n)
{
    const char *s = p;
    while (n > 0) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* the client gave up: fine */
        s += w;
        n -= (size_t)w;
    }
}

/* The Sec-WebSocket-Key of the request in req (NUL-terminated), into key. */
static void request_key(const char *req, char *key, size_t keylen)
{
    key[0] = '\0';
    const char *k = strstr(req, "Sec-WebSocket-Key: ");
    if (k == NULL)
        return;
    k += strlen("Sec-WebSocket-Key: ");
    size_t n = strcspn(k, "\r\n");
    snprintf(key, keylen, "%.*s", (int)(n < keylen ? n : keylen - 1), k);
}

static void *peer_main(void *arg)
{
    peer_t *p = arg;
    struct pollfd pl = {.fd = lfd, .events = POLLIN};
    if (poll(&pl, 1, 5000) != 1)
        return NULL;
    int fd = accept(lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    char req[4096];
    size_t got = 0;
    while (got < sizeof(req) - 1) {
        ssize_t n = recv(fd, req + got, sizeof(req) - 1 - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
        req[got] = '\0';
        if (strstr(req, "\r\n\r\n"))
            break;
    }
    req[got] = '\0';
    char key[64], accept_key[29];
    request_key(req, key, sizeof(key));
    ws_accept_key(key, accept_key);
    const uint8_t *mark = memmem(p->data, p->size, ACCEPT_MARK, strlen(ACCEPT_MARK));
    if (mark != NULL) {
        send_all(fd, p->data, (size_t)(mark - p->data));
        send_all(fd, accept_key, strlen(accept_key));
        size_t after = (size_t)(mark - p->data) + strlen(ACCEPT_MARK);
        send_all(fd, p->data + after, p->size - after);
    } else {
        send_all(fd, p->data, p->size);
    }
    shutdown(fd, SHUT_WR);
    char sink[16384];
    while (recv(fd, sink, sizeof(sink), 0) > 0)
        ;
    close(fd);
    return NULL;
}

typedef struct {
    int64_t announced; /* length given to on_start, -1 when unknown */
    uint64_t got;
    int starts;
} msg_t;

static int on_start(void *arg, int opcode, int64_t len)
{
    msg_t *m = arg;
    FUZZ_CHECK(opcode == WS_OP_TEXT || opcode == WS_OP_BINARY, "data message with opcode %d",
               opcode);
    m->starts++;
    m->announced = len;
    return 0;
}

static int on_data(void *arg, const void *p, size_t n)
{
    msg_t *m = arg;
    FUZZ_CHECK(n > 0 && n <= 65536, "a piece of %zu bytes", n);
    m->got += n;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    peer_t p = {data, size};
    pthread_t th;
    if (pthread_create(&th, NULL, peer_main, &p) != 0)
        abort();
    char err[256];
    ws_conn_t *c = ws_connect_unix(sock_path, "/ws", 5000, err, sizeof(err));
    if (c != NULL) {
        if (ws_queue_msg(c, WS_OP_BINARY, "obj", 3) != 0)
            abort();
        for (int i = 0; i < MAX_MSGS; i++) {
            msg_t m = {.announced = -1};
            ws_msg_cb_t cb = {.on_start = on_start, .on_data = on_data, .arg = &m};
            if (ws_recv_msg(c, &cb, 5000, err, sizeof(err)) != 0)
                break;
            FUZZ_CHECK(m.starts == 1, "message with %d starts", m.starts);
            FUZZ_CHECK(m.announced < 0 || (uint64_t)m.announced == m.got,
                       "announced %lld bytes, delivered %llu", (long long)m.announced,
                       (unsigned long long)m.got);
        }
        ws_close(c);
    }
    pthread_join(th, NULL);
    return 0;
}
