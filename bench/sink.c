/*
 * sink.c - the network floor of a store, shared by `locus-bench obj` (the disk-net PUT row) and
 * `locus-bench etl-ffmpeg` (bare-store-net): bytes that cross a kept loopback TCP connection to
 * a receiving thread, which XXH64-sums them while it writes them to a new file and answers one
 * byte. No HTTP, no metadata, no rename: the least any store does whose data arrives over a
 * socket, next to the plain write(2) references of those benches.
 *
 * Each accepted connection gets its own thread (a blocking recv loop), so the senders' threads
 * and the receivers pair up one to one. The receivers' CPU is read per thread from
 * /proc/self/task/<tid>/stat, so a bench can show it like a server's.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define XXH_STATIC_LINKING_ONLY /* XXH64_state_t on the stack */
#include <xxhash.h>

#include "bench.h"

#define SINK_BUF (256u * 1024)

struct bench_sink_s {
    int lfd, port, cpu;
    char *dir;
    pthread_t acceptor;
    pthread_mutex_t lock; /* guards everything below */
    pthread_t *rx;        /* the receiving threads, joined at the end */
    pid_t *tid;           /* their thread ids (0 until the thread has started) */
    size_t nrx, caprx;
    int *tx; /* the senders' open connections, closed at the end */
    size_t ntx, captx;
};

typedef struct {
    bench_sink_t *s;
    int fd;
    size_t slot;
} rx_arg_t;

/* One object: "<id u64><length u64>" then its bytes; answered with one byte, 0 = stored. */
static int rx_one(const bench_sink_t *s, int fd, char *buf, const uint64_t hdr[2])
{
    char *path = xasprintf("%s/%llu.out", s->dir, (unsigned long long)hdr[0]);
    int out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    free(path);
    XXH64_state_t st;
    XXH64_reset(&st, 0);
    bool bad = out < 0;
    for (uint64_t left = hdr[1]; left > 0;) {
        ssize_t n = recv(fd, buf, left < SINK_BUF ? left : SINK_BUF, 0);
        if (n <= 0) {
            if (out >= 0)
                close(out);
            return -1;
        }
        XXH64_update(&st, buf, (size_t)n);
        bad = bad || write_all(out, buf, (size_t)n) != 0;
        left -= (uint64_t)n;
    }
    volatile uint64_t sum = XXH64_digest(&st); /* what a target keeps with the object */
    (void)sum;
    bad = (out >= 0 && close(out) != 0) || bad;
    uint8_t ack = bad ? 1 : 0;
    return write_all(fd, &ack, 1) == 0 ? 0 : -1;
}

static void *rx_main(void *arg)
{
    rx_arg_t a = *(rx_arg_t *)arg;
    free(arg);
    if (a.s->cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(a.s->cpu, &set);
        (void)pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
    }
    pthread_mutex_lock(&a.s->lock);
    a.s->tid[a.slot] = (pid_t)syscall(SYS_gettid);
    pthread_mutex_unlock(&a.s->lock);
    char *buf = xmalloc(SINK_BUF);
    uint64_t hdr[2];
    while (read_full(a.fd, hdr, sizeof(hdr)) == (ssize_t)sizeof(hdr) &&
           rx_one(a.s, a.fd, buf, hdr) == 0)
        ;
    free(buf);
    close(a.fd);
    return NULL;
}

/* Grows *v (of *cap elements of size sz) so that it holds n + 1. */
static void *room_for_one(void *v, size_t *cap, size_t n, size_t sz)
{
    if (n < *cap)
        return v;
    *cap = *cap ? *cap * 2 : 16;
    return xrealloc(v, *cap * sz);
}

static void *accept_main(void *arg)
{
    bench_sink_t *s = arg;
    for (;;) {
        int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return NULL; /* shut down */
        }
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        pthread_mutex_lock(&s->lock);
        if (s->nrx == s->caprx) { /* rx and tid grow together */
            s->rx = room_for_one(s->rx, &s->caprx, s->nrx, sizeof(*s->rx));
            s->tid = xrealloc(s->tid, s->caprx * sizeof(*s->tid));
        }
        rx_arg_t *a = xmalloc(sizeof(*a));
        *a = (rx_arg_t){.s = s, .fd = fd, .slot = s->nrx};
        s->tid[s->nrx] = 0;
        if (pthread_create(&s->rx[s->nrx], NULL, rx_main, a) != 0) {
            free(a);
            close(fd);
        } else {
            s->nrx++;
        }
        pthread_mutex_unlock(&s->lock);
    }
}

bench_sink_t *bench_sink_start(const char *dir, int cpu, char *err, size_t errlen)
{
    bench_sink_t *s = xcalloc(1, sizeof(*s));
    s->dir = xstrdup(dir);
    s->cpu = cpu;
    pthread_mutex_init(&s->lock, NULL);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(s->lfd, 128) != 0 || getsockname(s->lfd, (struct sockaddr *)&a, &al) != 0 ||
        pthread_create(&s->acceptor, NULL, accept_main, s) != 0) {
        snprintf(err, errlen, "the network sink: %s", strerror(errno));
        if (s->lfd >= 0)
            close(s->lfd);
        pthread_mutex_destroy(&s->lock);
        free(s->dir);
        free(s);
        return NULL;
    }
    s->port = ntohs(a.sin_port);
    return s;
}

int bench_sink_connect(bench_sink_t *s, char *err, size_t errlen)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)s->port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        snprintf(err, errlen, "connect to the network sink: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    pthread_mutex_lock(&s->lock);
    s->tx = room_for_one(s->tx, &s->captx, s->ntx, sizeof(*s->tx));
    s->tx[s->ntx++] = fd;
    pthread_mutex_unlock(&s->lock);
    return fd;
}

void bench_sink_close(bench_sink_t *s, int fd)
{
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->ntx; i++)
        if (s->tx[i] == fd) {
            s->tx[i] = s->tx[--s->ntx];
            close(fd);
            break;
        }
    pthread_mutex_unlock(&s->lock);
}

int bench_sink_send(int fd, uint64_t id, const void *p, size_t n, void *bounce, size_t blen)
{
    uint64_t hdr[2] = {id, (uint64_t)n};
    uint8_t ack = 1;
    if (send(fd, hdr, sizeof(hdr), MSG_MORE | MSG_NOSIGNAL) != (ssize_t)sizeof(hdr))
        return -1;
    for (size_t pos = 0; pos < n;) {
        size_t k = bounce == NULL || n - pos < blen ? n - pos : blen;
        const void *src = (const uint8_t *)p + pos;
        if (bounce != NULL) /* as an HTTP client library copies a body into its buffer */
            src = memcpy(bounce, src, k);
        if (write_all(fd, src, k) != 0)
            return -1;
        pos += k;
    }
    if (read_full(fd, &ack, 1) != 1)
        return -1;
    return ack == 0 ? 0 : -1;
}

long bench_sink_ticks(bench_sink_t *s)
{
    pthread_mutex_lock(&s->lock);
    size_t n = s->nrx;
    pid_t *tids = xmalloc((n + 1) * sizeof(*tids));
    int k = 0;
    for (size_t i = 0; i < n; i++)
        if (s->tid[i] > 0)
            tids[k++] = s->tid[i];
    pthread_mutex_unlock(&s->lock);
    long t = bench_thread_ticks(tids, k);
    free(tids);
    return t;
}

void bench_sink_stop(bench_sink_t *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->ntx; i++)
        close(s->tx[i]);
    s->ntx = 0;
    pthread_mutex_unlock(&s->lock);
    shutdown(s->lfd, SHUT_RDWR); /* wakes accept() */
    pthread_join(s->acceptor, NULL);
    close(s->lfd);
    for (size_t i = 0; i < s->nrx; i++)
        pthread_join(s->rx[i], NULL);
    pthread_mutex_destroy(&s->lock);
    free(s->rx);
    free(s->tid);
    free(s->tx);
    free(s->dir);
    free(s);
}
