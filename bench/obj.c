/*
 * obj.c - `locus-bench obj`: object PUT and GET throughput with N concurrent clients, through
 * the proxy (307 redirects), directly to the owning target (HRW from the smap), and the same
 * GETs served by nginx from the very files the targets wrote (the "HTTP from local disk"
 * reference on this machine).
 *
 * DESIGN
 * - One measurement = one cell: (op, size, path). Each cell runs `clients` threads, each with
 *   its own libcurl easy handle (keep-alive; the handle caches one connection per host, so the
 *   proxy and every target keep theirs). Threads do one untimed warm-up request (small objects
 *   only), meet at a barrier, then loop until the deadline (--duration) or the request budget
 *   (--count), and every cell also stops at --max-bytes so 64 MiB cells stay short.
 * - Object contents are slices of one random pool: object `name` holds
 *   pool[off(name) .. off(name)+size). PUT bodies are streamed from the pool (read callback,
 *   nothing else buffered); every GET checks status and size, and every --verify-every'th GET
 *   byte-compares the body with the pool while it streams in. Any mismatch or HTTP/transport
 *   failure is an error, counted and reported; failed requests are not counted as throughput.
 * - PUT via proxy does what liblocus (`locus put`, locus_put_*) does: leg 1 sends a body up to
 *   1 MiB at once (the proxy drains it and answers 307 on the kept connection: the body crosses
 *   the wire twice but costs no 100 Continue round trip) and a bigger one behind `Expect:
 *   100-continue`, so the proxy answers 307 before any body byte is sent; leg 2 streams the body
 *   to the Location without Expect. PUT direct: straight to the HRW owner, no Expect. GET via proxy
 * follows 301/307 inside libcurl; GET direct goes to the owner; GET nginx goes to nginx. PUT
 * nginx is a WebDAV PUT into nginx's /put/ (temp file + rename): an HTTP server storing files,
 * shown next to the disk reference; PUT disk-net sends the same bytes over a kept TCP
 * connection to the sink (sink.c), the network floor of any store. GET nginx307 asks an nginx port
 * that answers 307 with the file server's URL (followed like the proxy's), GET nginxrelay an nginx
 * reverse proxy of it: Locus's proxy and S3 designs built from nginx, for like-for-like ratios.
 * - Objects PUT in a size's cells form that size's GET set; nginx serves hard links of the
 *   targets' object files (<mountpath>/@ais/<bucket>/%ob/<name>), so both read the same inodes
 *   from the same page cache.
 * - --mirror N / --ec D+P: buckets <bucket>-mirrorN and <bucket>-ecD-P are created with those
 *   properties (set-bprops right after create-bck); their proxy and direct cells join the same
 *   phases (each bucket its own GET set), and a second table puts each beside the plain bucket's
 *   cell (vs plain) with the server CPU per MB. A bucket whose properties the cluster refuses is
 *   a skip line with the cluster's message, not a failure of the run.
 */
#include <ctype.h>
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "bench.h"
#include "opts.h"

#define MAX_SIZES 8
#define MAX_CELLS 128
#define KiB 1024ULL
#define MiB (1024ULL * 1024ULL)
#define GiB (1024ULL * 1024ULL * 1024ULL)
/* The proxy drains a PUT body up to this size (HTTP_DRAIN_MAX, docs/protocol.md §1.10). */
#define PROXY_DRAIN_MAX MiB
#define EC_BENCH_OBJSIZE_LIMIT (256 * KiB) /* the EC bucket's objsize_limit (the default) */
#define UPLOAD_BUF (512 * KiB)             /* libcurl's upload buffer, and disk-net's */

typedef enum { OP_PUT, OP_GET } op_t;
/* nginx: the GET reference; disk: the PUT reference (plain write(2) of the same bytes to
 * files on the filesystem of the mountpaths). */
/* s3: the proxy's S3 API (/s3/<bucket>/<name>), which relays the bytes both ways (docs/s3.md). */
/* nginx307, nginxrelay (GET only): the nginx reference behind a front end of Locus's two designs,
 * nginx itself answering 307 to the file server's port (the proxy's GET) or relaying the bytes
 * from it (the S3 API's GET). */
typedef enum {
    PATH_PROXY,
    PATH_DIRECT,
    PATH_NGINX,
    PATH_DISK,
    PATH_DISKNET,
    PATH_S3,
    PATH_NGINX307,
    PATH_NGINXRELAY,
    PATH_COUNT
} path_kind_t;
static const char *const path_names[PATH_COUNT] = {"proxy",    "direct", "nginx",    "disk",
                                                   "disk-net", "s3",     "nginx307", "nginxrelay"};

/* The paths nginx serves (its CPU is the server CPU of their cells). */
static bool nginx_path(path_kind_t p)
{
    return p == PATH_NGINX || p == PATH_NGINX307 || p == PATH_NGINXRELAY;
}

/* Whether a path has cells of op: disk and disk-net are PUT only, the nginx front ends GET
 * only. */
static bool path_has_op(path_kind_t p, op_t op)
{
    if (op == OP_GET)
        return p != PATH_DISK && p != PATH_DISKNET;
    return p != PATH_NGINX307 && p != PATH_NGINXRELAY;
}

static path_kind_t ref_path(op_t op)
{
    return op == OP_GET ? PATH_NGINX : PATH_DISK;
}

/* The buckets of a run: the plain one, and with --mirror / --ec one with those properties, where
 * the proxy and direct cells run again (their figures relative to the plain bucket's). */
typedef enum { BCK_PLAIN, BCK_MIRROR, BCK_EC, BCK_COUNT } bck_kind_t;

typedef struct {
    char *name;
    uint32_t off; /* content = pool[off .. off + size) */
    int owner;    /* index in the smap's targets */
} obj_t;

typedef struct {
    obj_t *v;
    size_t n, cap;
} objset_t;

typedef struct {
    op_t op;
    path_kind_t path;
    size_t size;
    bck_kind_t bck; /* the bucket the cell's requests go to */
    bool skipped;
    char note[160];
    uint64_t ops, bytes, errors, bad_status, bad_size, bad_content, transport, verified;
    long conns;
    double secs, ops_s, mb_s, p50_ms, p99_ms, ratio;
    char first_err[320];
    const char *tag;          /* object name prefix of this cell's PUTs */
    long srv_ticks;           /* CPU time of the server processes (-1: not measurable) */
    double srv_us_op;         /* ... per successful request, in microseconds */
    double srv_ms_mb;         /* ... per MB moved, in milliseconds (-1: not measurable) */
    double vs_plain;          /* ops/s relative to the plain bucket's same cell (0: none) */
    struct client_s *clients; /* one per client thread, kept across rounds */
    uint64_t *lat;            /* latencies (ns) of the successful requests */
    size_t nlat;
} cell_t;

/* One simulated client: its easy handle (and so its kept-alive connections) lives for the
 * whole cell, across rounds; each round runs it on a new thread. */
typedef struct client_s {
    CURL *c;
    struct curl_slist *h_expect, *h_noexpect;
    uint64_t seq; /* next PUT name number */
    bool warm;    /* warm-up request done */
    int sink_fd;  /* disk-net: the kept connection to the sink, -1 before the first PUT */
    void *bounce; /* disk-net: the body goes through it, like libcurl's upload buffer */
} client_t;

typedef struct {
    bench_run_t run; /* first: bench_main fills it */
    /* options */
    int clients;
    double duration;
    long count;
    uint64_t max_bytes;
    size_t sizes[MAX_SIZES];
    int nsizes;
    bool quick, pin, do_put, do_get;
    bool path_on[PATH_COUNT];
    int verify_every, targets, rounds;
    const char *endpoint_opt, *md, *cluster_dir_opt, *bucket_opt;
    int mirror, ec_d, ec_p; /* --mirror N, --ec D+P (0: not asked) */

    /* state */
    char *endpoint, *bucket, *www, *diskdir;
    bench_sink_t *sink;    /* disk-net's receiver (sink.c), started with its first cell */
    char sink_err[150];    /* why it did not start */
    atomic_ullong sink_id; /* the next disk-net object's id */
    bool own_cluster, bucket_created;
    /* the buckets with properties (BCK_PLAIN's entries unused: that is `bucket`) */
    char *vbucket[BCK_COUNT];
    char vlabel[BCK_COUNT][24]; /* "plain", "mirror2", "ec2+1" */
    bool von[BCK_COUNT], vcreated[BCK_COUNT];
    char vnote[BCK_COUNT][LOCUS_ERR_LEN]; /* why a bucket with properties is not measured */
    bench_smap_t smap;
    bench_nginx_t nginx;
    bool nginx_up, nginx_linked; /* nginx_linked: www holds links to the targets' files */
    uint8_t *pool;
    size_t pool_len;
    cell_t cells[MAX_CELLS];
    int ncells;
} bench_t;

/* One round of one cell. */
typedef struct {
    bench_t *b;
    cell_t *cell;
    objset_t *set;
    pthread_barrier_t ready, go;
    int64_t t0, deadline;
    double duration;
    bool capped;          /* ops_left applies */
    atomic_long ops_left; /* request budget of the round */
    atomic_ullong next_obj;
} run_t;

typedef struct {
    run_t *r;
    int idx;
    pthread_t th;
    client_t *cl;
    CURL *c;
    uint64_t *lat;
    size_t nlat, caplat;
    uint64_t ops, bytes, errors, bad_status, bad_size, bad_content, transport, verified, nreq;
    long conns;
    int64_t t_end;
    char err[320];
    objset_t created;

    /* the request in flight */
    const uint8_t *ref;
    size_t size, upos, pos;
    long status;
    bool verify, mismatch;
    char ebody[160];
    size_t elen;
} worker_t;

/* ------------------------------------------------------------------------------------------ */
/* small helpers */

static void objset_add(objset_t *s, char *name, uint32_t off, int owner)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
    }
    s->v[s->n++] = (obj_t){.name = name, .off = off, .owner = owner};
}

static void objset_dispose(objset_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i].name);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

/* The bucket of bucket kind k. */
static const char *bucket_of(const bench_t *b, bck_kind_t k)
{
    return k == BCK_PLAIN ? b->bucket : b->vbucket[k];
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* ------------------------------------------------------------------------------------------ */
/* libcurl callbacks: streaming bodies from/to the pool */

static size_t on_read(char *p, size_t sz, size_t nm, void *ud)
{
    worker_t *w = ud;
    size_t n = sz * nm, left = w->size - w->upos;
    if (n > left)
        n = left;
    memcpy(p, w->ref + w->upos, n);
    w->upos += n;
    return n;
}

static int on_seek(void *ud, curl_off_t off, int origin)
{
    worker_t *w = ud;
    if (origin != SEEK_SET || off < 0 || (size_t)off > w->size)
        return CURL_SEEKFUNC_CANTSEEK;
    w->upos = (size_t)off;
    return CURL_SEEKFUNC_OK;
}

static size_t on_header(char *p, size_t sz, size_t nm, void *ud)
{
    worker_t *w = ud;
    size_t n = sz * nm;
    /* A status line starts a new response (100 Continue, a redirect, the final answer). */
    if (n > 9 && memcmp(p, "HTTP/", 5) == 0) {
        const char *sp = memchr(p, ' ', n);
        w->status = sp != NULL ? strtol(sp + 1, NULL, 10) : 0;
        w->pos = 0;
        w->mismatch = false;
        w->elen = 0;
    }
    return n;
}

static size_t on_body(char *p, size_t sz, size_t nm, void *ud)
{
    worker_t *w = ud;
    size_t n = sz * nm;
    if (w->status < 200 || w->status >= 300) {
        /* keep the start of an error (or redirect) body for the report */
        size_t room = sizeof(w->ebody) - 1 - w->elen;
        size_t k = n < room ? n : room;
        memcpy(w->ebody + w->elen, p, k);
        w->elen += k;
        w->ebody[w->elen] = '\0';
        return n;
    }
    if (w->verify && !w->mismatch && w->ref != NULL) {
        if (w->pos + n > w->size || memcmp(p, w->ref + w->pos, n) != 0)
            w->mismatch = true;
    }
    w->pos += n;
    return n;
}

/* ------------------------------------------------------------------------------------------ */
/* requests */

static CURLcode perform(worker_t *w, const char *url)
{
    w->upos = 0;
    w->pos = 0;
    w->status = 0;
    w->mismatch = false;
    w->elen = 0;
    w->ebody[0] = '\0';
    curl_easy_setopt(w->c, CURLOPT_URL, url);
    CURLcode rc = curl_easy_perform(w->c);
    long nc = 0;
    if (curl_easy_getinfo(w->c, CURLINFO_NUM_CONNECTS, &nc) == CURLE_OK)
        w->conns += nc;
    return rc;
}

static void note_err(worker_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note_err(worker_t *w, const char *fmt, ...)
{
    if (w->err[0] != '\0')
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->err, sizeof(w->err), fmt, ap);
    va_end(ap);
    for (char *p = w->err; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
}

static char *object_url(const char *base, const char *bck, const char *name)
{
    return xasprintf("%s/v1/objects/%s/%s?provider=ais", base, bck, name);
}

/* The same object through the S3 API (unsigned: auth is off in the bench's cluster). */
static char *s3_url(const char *base, const char *bck, const char *name)
{
    return xasprintf("%s/s3/%s/%s", base, bck, name);
}

/* The PUT reference: the same bytes written to a local file in the same 512 KiB pieces as
 * libcurl uploads them (no checksum, no metadata, no rename: the bare floor of a write). */
static bool do_disk_put(worker_t *w, const char *name, uint32_t off)
{
    bench_t *b = w->r->b;
    size_t size = w->r->cell->size;
    char *path = xasprintf("%s/%s", b->diskdir, name);
    bool ok = false;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        w->transport++;
        note_err(w, "open %s: %s", path, strerror(errno));
        goto out;
    }
    for (size_t pos = 0; pos < size;) {
        size_t n = size - pos < 512 * KiB ? size - pos : 512 * KiB;
        if (write_all(fd, b->pool + off + pos, n) != 0) {
            w->transport++;
            note_err(w, "write %s: %s", path, strerror(errno));
            close(fd);
            goto out;
        }
        pos += n;
    }
    ok = close(fd) == 0;
out:
    free(path);
    return ok;
}

/* The network floor of a PUT: the same bytes over the client's kept TCP connection to the
 * sink, which checksums them while it writes them to a new file and answers one byte. */
static bool do_disknet_put(worker_t *w, uint32_t off)
{
    bench_t *b = w->r->b;
    client_t *cl = w->cl;
    char err[200];
    if (cl->sink_fd < 0) {
        if ((cl->sink_fd = bench_sink_connect(b->sink, err, sizeof(err))) < 0) {
            w->transport++;
            note_err(w, "%s", err);
            return false;
        }
        w->conns++;
    }
    unsigned long long id = atomic_fetch_add(&b->sink_id, 1);
    if (cl->bounce == NULL)
        cl->bounce = xmalloc(UPLOAD_BUF);
    if (bench_sink_send(cl->sink_fd, id, b->pool + off, w->r->cell->size, cl->bounce, UPLOAD_BUF) !=
        0) {
        w->transport++;
        note_err(w, "disk-net PUT %llu: the sink did not store it", id);
        bench_sink_close(b->sink, cl->sink_fd);
        cl->sink_fd = -1;
        return false;
    }
    return true;
}

/* Sends the PUT already set up on w to url: true on a 2xx, else false with the error counted
 * (transport or status) and noted. */
static bool put_to(worker_t *w, const char *url)
{
    CURLcode rc = perform(w, url);
    if (rc != CURLE_OK) {
        w->transport++;
        note_err(w, "PUT %s: %s", url, curl_easy_strerror(rc));
        return false;
    }
    if (w->status < 200 || w->status >= 300) {
        w->bad_status++;
        note_err(w, "PUT %s: HTTP %ld: %s", url, w->status, w->ebody);
        return false;
    }
    return true;
}

/* The EC reference (an nginx PUT cell on the EC bucket): after the object, what an erasure-
 * coded PUT of it must also move, WebDAV PUTs of its pieces: D data and P parity slices of
 * size/D (P replicas of the object below the default objsize_limit), one after the other, with
 * no coding and no checksums. How close any server on this machine can get. */
static bool do_nginx_pieces(worker_t *w, const char *name, uint32_t off)
{
    bench_t *b = w->r->b;
    size_t size = w->r->cell->size;
    bool repl = size < EC_BENCH_OBJSIZE_LIMIT;
    size_t slice = repl ? size : (size + (size_t)b->ec_d - 1) / (size_t)b->ec_d;
    int n = repl ? b->ec_p : b->ec_d + b->ec_p;
    for (int i = 1; i <= n; i++) {
        w->ref = b->pool + off; /* bytes of the piece's length (nginx does not look) */
        w->size = slice;
        curl_easy_setopt(w->c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)w->size);
        char *url = xasprintf("http://127.0.0.1:%d/put/%s.ec%d", b->nginx.port, name, i);
        bool ok = put_to(w, url);
        free(url);
        if (!ok)
            return false;
    }
    return true;
}

/* One PUT of `name`; true on success. */
static bool do_put(worker_t *w, const char *name, uint32_t off, int owner)
{
    run_t *r = w->r;
    bench_t *b = r->b;
    w->ref = b->pool + off;
    w->size = r->cell->size;
    w->verify = false;
    curl_easy_setopt(w->c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)w->size);
    bool ok = false;
    char *url = NULL;
    CURLcode rc;
    if (r->cell->path == PATH_PROXY) {
        url = object_url(b->endpoint, bucket_of(b, r->cell->bck), name);
        curl_easy_setopt(w->c, CURLOPT_HTTPHEADER,
                         w->size > PROXY_DRAIN_MAX ? w->cl->h_expect : w->cl->h_noexpect);
        rc = perform(w, url);
        if (rc != CURLE_OK) {
            w->transport++;
            note_err(w, "PUT %s (proxy leg): %s", url, curl_easy_strerror(rc));
            goto out;
        }
        if (w->status >= 200 && w->status < 300) { /* the proxy stored it itself */
            ok = true;
            goto out;
        }
        char *loc = NULL;
        if ((w->status != 307 && w->status != 308) ||
            curl_easy_getinfo(w->c, CURLINFO_REDIRECT_URL, &loc) != CURLE_OK || loc == NULL) {
            w->bad_status++;
            note_err(w, "PUT %s (proxy leg): HTTP %ld, expected 307 + Location: %s", url, w->status,
                     w->ebody);
            goto out;
        }
        free(url);
        url = xstrdup(loc);
        curl_easy_setopt(w->c, CURLOPT_HTTPHEADER, w->cl->h_noexpect);
    } else if (r->cell->path == PATH_S3) { /* one request: the proxy relays the body */
        url = s3_url(b->endpoint, bucket_of(b, r->cell->bck), name);
        curl_easy_setopt(w->c, CURLOPT_HTTPHEADER, w->cl->h_noexpect);
    } else if (r->cell->path == PATH_NGINX) {
        url = xasprintf("http://127.0.0.1:%d/put/%s", b->nginx.port, name);
        curl_easy_setopt(w->c, CURLOPT_HTTPHEADER, w->cl->h_noexpect);
    } else {
        url = object_url(b->smap.t[owner].url, bucket_of(b, r->cell->bck), name);
        curl_easy_setopt(w->c, CURLOPT_HTTPHEADER, w->cl->h_noexpect);
    }
    ok = put_to(w, url) &&
         (r->cell->path != PATH_NGINX || r->cell->bck != BCK_EC || do_nginx_pieces(w, name, off));
out:
    free(url);
    return ok;
}

/* One GET of o; true on success (status 200, exact size, and content if verified). */
static bool do_get(worker_t *w, const obj_t *o)
{
    run_t *r = w->r;
    bench_t *b = r->b;
    w->ref = b->pool + o->off;
    w->size = r->cell->size;
    w->verify = b->verify_every > 0 && (w->nreq++ % (uint64_t)b->verify_every) == 0;
    char *url;
    switch (r->cell->path) {
    case PATH_PROXY:
        url = object_url(b->endpoint, bucket_of(b, r->cell->bck), o->name);
        break;
    case PATH_DIRECT:
        url = object_url(b->smap.t[o->owner].url, bucket_of(b, r->cell->bck), o->name);
        break;
    case PATH_S3:
        url = s3_url(b->endpoint, bucket_of(b, r->cell->bck), o->name);
        break;
    case PATH_NGINX307:
        url = xasprintf("http://127.0.0.1:%d/%s", b->nginx.port_307, o->name);
        break;
    case PATH_NGINXRELAY:
        url = xasprintf("http://127.0.0.1:%d/%s", b->nginx.port_relay, o->name);
        break;
    default:
        url = xasprintf("http://127.0.0.1:%d/%s", b->nginx.port, o->name);
        break;
    }
    bool ok = false;
    CURLcode rc = perform(w, url);
    if (rc != CURLE_OK) {
        w->transport++;
        note_err(w, "GET %s: %s", url, curl_easy_strerror(rc));
    } else if (w->status != 200) {
        w->bad_status++;
        note_err(w, "GET %s: HTTP %ld: %s", url, w->status, w->ebody);
    } else if (w->pos != w->size) {
        w->bad_size++;
        note_err(w, "GET %s: %zu bytes, expected %zu", url, w->pos, w->size);
    } else if (w->verify && w->mismatch) {
        w->bad_content++;
        note_err(w, "GET %s: content differs from what was PUT", url);
    } else {
        ok = true;
        if (w->verify)
            w->verified++;
    }
    free(url);
    return ok;
}

static bool reserve(run_t *r)
{
    if (bench_stop || time_mono_ns() >= r->deadline)
        return false;
    return !r->capped || atomic_fetch_sub(&r->ops_left, 1) > 0;
}

static bool one_op(worker_t *w, bool warm)
{
    run_t *r = w->r;
    if (r->cell->op == OP_GET) {
        uint64_t i = atomic_fetch_add(&r->next_obj, 1) % r->set->n;
        return do_get(w, &r->set->v[i]);
    }
    char *name =
        warm ? xasprintf("%s-warm-%02d", r->cell->tag, w->idx)
             : xasprintf("%s-%02d-%07llu", r->cell->tag, w->idx, (unsigned long long)w->cl->seq++);
    int owner = bench_smap_owner(&r->b->smap, bucket_of(r->b, r->cell->bck), name);
    uint32_t off = bench_pool_off(name);
    if (r->cell->path == PATH_DISK || r->cell->path == PATH_DISKNET) {
        bool ok = r->cell->path == PATH_DISK ? do_disk_put(w, name, off) : do_disknet_put(w, off);
        free(name);
        return ok;
    }
    bool ok = owner >= 0 && do_put(w, name, off, owner);
    if (ok && !warm && r->cell->path != PATH_NGINX)
        objset_add(&w->created, name, off, owner);
    else
        free(name);
    return ok;
}

/* Creates a client's easy handle for the cell's operation (the per-round data pointers are
 * set by the worker). Easy handles are not thread-safe, but a handle may move from thread to
 * thread between rounds. */
static void client_init(client_t *cl, const cell_t *cell)
{
    CURL *c = cl->c = curl_easy_init();
    locus_assert(c != NULL);
    cl->sink_fd = -1;
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 30L);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 512L * 1024L);
    if (cell->op == OP_PUT) {
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, (long)UPLOAD_BUF);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
        cl->h_expect = curl_slist_append(NULL, "Expect: 100-continue");
        cl->h_noexpect = curl_slist_append(NULL, "Expect:");
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(c, CURLOPT_MAXREDIRS, 3L);
    }
}

static void client_dispose(bench_t *b, client_t *cl)
{
    if (cl->sink_fd >= 0)
        bench_sink_close(b->sink, cl->sink_fd);
    free(cl->bounce);
    curl_slist_free_all(cl->h_expect);
    curl_slist_free_all(cl->h_noexpect);
    curl_easy_cleanup(cl->c);
    memset(cl, 0, sizeof(*cl));
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    run_t *r = w->r;
    CURL *c = w->c = w->cl->c;
    curl_easy_setopt(c, CURLOPT_HEADERDATA, w);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, w);
    curl_easy_setopt(c, CURLOPT_READDATA, w);
    curl_easy_setopt(c, CURLOPT_SEEKDATA, w);

    /* Warm-up: open the connections before the clock starts (not worth it for big objects,
     * where one connect is noise and a warm-up would cost a whole transfer). Its failures
     * are not counted (the timed requests will show them); its connections are, so `conns`
     * is every connection the cell opened. */
    if (!w->cl->warm && r->cell->size <= MiB)
        (void)one_op(w, true);
    w->cl->warm = true;
    w->nreq = 0;
    w->verified = w->bad_status = w->bad_size = w->bad_content = w->transport = 0;
    w->err[0] = '\0';

    pthread_barrier_wait(&r->ready);
    pthread_barrier_wait(&r->go);
    while (reserve(r)) {
        int64_t t = time_mono_ns();
        bool ok = one_op(w, false);
        int64_t dt = time_mono_ns() - t;
        if (!ok) {
            w->errors++;
            continue;
        }
        w->ops++;
        w->bytes += r->cell->size;
        if (w->nlat == w->caplat) {
            w->caplat = w->caplat ? w->caplat * 2 : 4096;
            w->lat = xrealloc(w->lat, w->caplat * sizeof(*w->lat));
        }
        w->lat[w->nlat++] = (uint64_t)dt;
    }
    w->t_end = time_mono_ns();
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* cells */

static cell_t *cell_new(bench_t *b, op_t op, path_kind_t path, size_t size)
{
    locus_assert(b->ncells < MAX_CELLS);
    cell_t *cell = &b->cells[b->ncells++];
    memset(cell, 0, sizeof(*cell));
    cell->op = op;
    cell->path = path;
    cell->size = size;
    return cell;
}

static void print_progress(const bench_t *b, const cell_t *cell)
{
    char sz[32], where[48];
    size_format(cell->size, sz, sizeof(sz));
    snprintf(where, sizeof(where), "%s%s%s", path_names[cell->path],
             cell->bck == BCK_PLAIN ? "" : "@", cell->bck == BCK_PLAIN ? "" : b->vlabel[cell->bck]);
    if (cell->skipped) {
        fprintf(stderr, "  %-3s %6s %-10s  skipped: %s\n", cell->op == OP_PUT ? "PUT" : "GET", sz,
                where, cell->note);
        return;
    }
    fprintf(stderr,
            "  %-3s %6s %-10s %9.0f ops/s %8.1f MB/s  p50 %.2f ms  p99 %.2f ms  errors %llu\n",
            cell->op == OP_PUT ? "PUT" : "GET", sz, where, cell->ops_s, cell->mb_s, cell->p50_ms,
            cell->p99_ms, (unsigned long long)cell->errors);
}

/* The processes serving a path: every locusd of the cluster (from its pid files) or the nginx
 * master and its workers. Returns how many were found (0 = unknown, e.g. a remote cluster). */
static int server_pids(const bench_t *b, path_kind_t path, pid_t *out, int max)
{
    int n = 0;
    if (nginx_path(path) && b->nginx_up) {
        out[n++] = b->nginx.pid;
        DIR *d = opendir("/proc");
        struct dirent *e;
        while (d != NULL && (e = readdir(d)) != NULL && n < max) {
            char path_buf[300], line[512];
            snprintf(path_buf, sizeof(path_buf), "/proc/%s/stat", e->d_name);
            FILE *f = fopen(path_buf, "r");
            if (f == NULL)
                continue;
            if (fgets(line, sizeof(line), f) != NULL) {
                const char *rp = strrchr(line, ')');
                long ppid = 0;
                if (rp != NULL && sscanf(rp + 2, "%*c %ld", &ppid) == 1 && ppid == b->nginx.pid)
                    out[n++] = (pid_t)atol(e->d_name);
            }
            fclose(f);
        }
        if (d != NULL)
            closedir(d);
    } else if (path == PATH_PROXY || path == PATH_DIRECT || path == PATH_S3) {
        const char *cdir = b->own_cluster ? b->run.cluster_dir : b->cluster_dir_opt;
        if (cdir == NULL)
            return 0;
        n = bench_cluster_pids(cdir, out, max);
    }
    return n;
}

/* Checks whether a cell can run at all; if not, marks it skipped. */
static bool cell_runnable(bench_t *b, cell_t *cell, const objset_t *set)
{
    if (bench_stop)
        snprintf(cell->note, sizeof(cell->note), "interrupted");
    else if (cell->op == OP_GET && set->n == 0)
        snprintf(cell->note, sizeof(cell->note), "no objects to read (all PUTs failed?)");
    else if (nginx_path(cell->path) && !b->nginx_up)
        snprintf(cell->note, sizeof(cell->note), "nginx is not running");
    else if (cell->path == PATH_DISKNET && b->sink == NULL)
        snprintf(cell->note, sizeof(cell->note), "%s", b->sink_err);
    else
        return true;
    cell->skipped = true;
    return false;
}

/* The request budget of one round: --count split over the rounds, and --max-bytes turned
 * into a whole number of requests per client so no client idles at the end of a round while
 * the others finish (which would understate big-object throughput). -1 = none. */
static long round_budget(const bench_t *b, const cell_t *cell, int round, int rounds)
{
    long ops = -1;
    if (b->count > 0) {
        ops = b->count / rounds + (round < b->count % rounds ? 1 : 0);
        if (ops < 1)
            ops = 1;
    }
    if (b->max_bytes > 0 && cell->op == OP_PUT) {
        uint64_t per_round = b->max_bytes / cell->size / (uint64_t)rounds;
        long cap = (long)(per_round / (uint64_t)b->clients) * b->clients;
        if (cap < b->clients)
            cap = b->clients;
        if (ops < 0 || cap < ops)
            ops = cap;
    }
    return ops;
}

/* Runs one round of a cell with its clients; results accumulate in the cell and PUT cells add
 * what they stored to `set`. */
static void run_round(bench_t *b, cell_t *cell, objset_t *set, double duration, long budget)
{
    int n = b->clients;
    if (cell->clients == NULL) {
        cell->clients = xcalloc((size_t)n, sizeof(*cell->clients));
        for (int i = 0; i < n; i++)
            client_init(&cell->clients[i], cell);
    }
    run_t r = {.b = b, .cell = cell, .set = set, .duration = duration, .capped = budget >= 0};
    atomic_init(&r.ops_left, budget);
    /* GETs spread over the set; each round starts somewhere else */
    atomic_init(&r.next_obj, set->n > 0 ? (uint64_t)cell->ops * 7919 % set->n : 0);
    pthread_barrier_init(&r.ready, NULL, (unsigned)n + 1);
    pthread_barrier_init(&r.go, NULL, (unsigned)n + 1);
    worker_t *ws = xcalloc((size_t)n, sizeof(*ws));
    for (int i = 0; i < n; i++) {
        ws[i].r = &r;
        ws[i].idx = i;
        ws[i].cl = &cell->clients[i];
        if (pthread_create(&ws[i].th, NULL, worker_main, &ws[i]) != 0)
            locus_panic("pthread_create failed");
    }
    pid_t pids[64];
    int npids = server_pids(b, cell->path, pids, 64);
    bool sink = cell->path == PATH_DISKNET;
    pthread_barrier_wait(&r.ready);
    long ticks0 = sink ? bench_sink_ticks(b->sink) : npids > 0 ? bench_cpu_ticks(pids, npids) : 0;
    r.t0 = time_mono_ns();
    r.deadline = r.t0 + (int64_t)(duration * 1e9);
    pthread_barrier_wait(&r.go);

    int64_t t_end = r.t0;
    size_t nlat = cell->nlat;
    for (int i = 0; i < n; i++) {
        pthread_join(ws[i].th, NULL);
        if (ws[i].t_end > t_end)
            t_end = ws[i].t_end;
        nlat += ws[i].nlat;
    }
    cell->lat = xrealloc(cell->lat, (nlat + 1) * sizeof(*cell->lat));
    for (int i = 0; i < n; i++) {
        worker_t *w = &ws[i];
        memcpy(cell->lat + cell->nlat, w->lat, w->nlat * sizeof(*cell->lat));
        cell->nlat += w->nlat;
        cell->ops += w->ops;
        cell->bytes += w->bytes;
        cell->errors += w->errors;
        cell->bad_status += w->bad_status;
        cell->bad_size += w->bad_size;
        cell->bad_content += w->bad_content;
        cell->transport += w->transport;
        cell->verified += w->verified;
        cell->conns += w->conns;
        if (cell->first_err[0] == '\0' && w->err[0] != '\0')
            snprintf(cell->first_err, sizeof(cell->first_err), "%s", w->err);
        for (size_t k = 0; k < w->created.n; k++)
            objset_add(set, w->created.v[k].name, w->created.v[k].off, w->created.v[k].owner);
        free(w->created.v);
        free(w->lat);
    }
    cell->secs += (double)(t_end - r.t0) / 1e9;
    if (sink)
        cell->srv_ticks += bench_sink_ticks(b->sink) - ticks0;
    else if (npids == 0)
        cell->srv_ticks = -1;
    else if (cell->srv_ticks >= 0)
        cell->srv_ticks += bench_cpu_ticks(pids, npids) - ticks0;
    free(ws);
    pthread_barrier_destroy(&r.ready);
    pthread_barrier_destroy(&r.go);
}

/* Closes the cell's clients and computes its figures. */
static void cell_finish(bench_t *b, cell_t *cell)
{
    if (cell->clients != NULL) {
        for (int i = 0; i < b->clients; i++)
            client_dispose(b, &cell->clients[i]);
        free(cell->clients);
        cell->clients = NULL;
    }
    if (cell->secs > 0) {
        cell->ops_s = (double)cell->ops / cell->secs;
        cell->mb_s = (double)cell->bytes / cell->secs / 1e6;
    }
    cell->srv_us_op =
        cell->srv_ticks >= 0 && cell->ops > 0
            ? (double)cell->srv_ticks * 1e6 / (double)sysconf(_SC_CLK_TCK) / (double)cell->ops
            : -1;
    cell->srv_ms_mb =
        cell->srv_us_op >= 0 ? cell->srv_us_op / 1e3 / ((double)cell->size / 1e6) : -1;
    if (cell->nlat > 0) {
        qsort(cell->lat, cell->nlat, sizeof(*cell->lat), cmp_u64);
        cell->p50_ms = (double)cell->lat[(cell->nlat - 1) / 2] / 1e6;
        cell->p99_ms = (double)cell->lat[(size_t)((double)(cell->nlat - 1) * 0.99)] / 1e6;
    }
    free(cell->lat);
    cell->lat = NULL;
}

/* Runs a group of cells of the same op and size in `rounds` interleaved rounds (A B C A B C
 * ...), so slow drifts of the background load on a shared machine hit every path and bucket
 * alike. sets: the object set of each bucket kind (indexed by the cells' bck). */
static void run_phase(bench_t *b, cell_t **cells, int n, objset_t *sets, int rounds)
{
    bool on[MAX_CELLS];
    for (int i = 0; i < n; i++)
        on[i] = cell_runnable(b, cells[i], &sets[cells[i]->bck]);
    for (int round = 0; round < rounds; round++)
        for (int i = 0; i < n; i++)
            if (on[i] && cell_runnable(b, cells[i], &sets[cells[i]->bck]))
                run_round(b, cells[i], &sets[cells[i]->bck],
                          b->count > 0 ? 1e9 : b->duration / rounds,
                          round_budget(b, cells[i], round, rounds));
    for (int i = 0; i < n; i++) {
        cell_finish(b, cells[i]);
        print_progress(b, cells[i]);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* set-up and tear-down */

static void fill_pool(bench_t *b)
{
    size_t max = 0;
    for (int i = 0; i < b->nsizes; i++)
        if (b->sizes[i] > max)
            max = b->sizes[i];
    b->pool = bench_pool_new(max, &b->pool_len);
}

/* Creates bucket bck: 0 (*created says whether this call made it: 409, it exists, is fine, the
 * bench only adds objects) or -1 with err. */
static int bucket_create(const bench_t *b, const char *bck, bool *created, char *err, size_t errlen)
{
    char *url = xasprintf("%s/v1/buckets/%s?provider=ais", b->endpoint, bck);
    buf_t resp;
    buf_init(&resp);
    long st = bench_http("POST", url, "{\"action\":\"create-bck\",\"name\":\"\",\"value\":null}",
                         &resp, err, errlen);
    int rc = 0;
    *created = st == 200 || st == 201;
    if (!*created && st != 409) {
        if (st >= 0)
            snprintf(err, errlen, "POST %s: HTTP %ld: %.200s", url, st,
                     resp.base != NULL ? resp.base : "");
        rc = -1;
    }
    buf_dispose(&resp);
    free(url);
    return rc;
}

static void bucket_destroy(const bench_t *b, const char *bck)
{
    char *url = xasprintf("%s/v1/buckets/%s?provider=ais", b->endpoint, bck);
    char err[256];
    long st = bench_http("DELETE", url, "{\"action\":\"destroy-bck\",\"name\":\"\",\"value\":null}",
                         NULL, err, sizeof(err));
    if (st != 200)
        fprintf(stderr, "locus-bench: could not destroy bucket %s (%ld)\n", bck, st);
    free(url);
}

/* PATCH set-bprops of the bucket of kind k (mirror or ec, enabled): 0, or -1 with the server's
 * answer (its error message) in err. */
static int bucket_set_props(const bench_t *b, bck_kind_t k, char *err, size_t errlen)
{
    json_t *v = k == BCK_MIRROR
                    ? json_pack("{s:{s:b, s:i}}", "mirror", "enabled", 1, "copies", b->mirror)
                    : json_pack("{s:{s:b, s:i, s:i}}", "ec", "enabled", 1, "data_slices", b->ec_d,
                                "parity_slices", b->ec_p);
    json_t *msg = json_pack("{s:s, s:s, s:o}", "action", "set-bprops", "name", "", "value", v);
    char *body = json_dumps(msg, JSON_COMPACT);
    char *url = xasprintf("%s/v1/buckets/%s?provider=ais", b->endpoint, b->vbucket[k]);
    buf_t resp;
    buf_init(&resp);
    long st = bench_http("PATCH", url, body, &resp, err, errlen);
    if (st >= 0 && st != 200) {
        json_t *e = resp.base != NULL ? json_loadb(resp.base, resp.len, 0, NULL) : NULL;
        const char *m = json_string_value(json_object_get(e, "message"));
        snprintf(err, errlen, "the cluster refused set-bprops %s: HTTP %ld: %.200s", body, st,
                 m != NULL           ? m
                 : resp.base != NULL ? resp.base
                                     : "");
        json_decref(e);
    }
    buf_dispose(&resp);
    free(url);
    free(body);
    json_decref(msg);
    return st == 200 ? 0 : -1;
}

/* Creates the buckets --mirror and --ec ask for, named <bucket>-mirrorN and <bucket>-ecD-P, and
 * sets their properties; one the cluster refuses (ec before it is built: a 501) is reported as
 * skipped with the server's message, and removed again. */
static void variants_create(bench_t *b)
{
    snprintf(b->vlabel[BCK_PLAIN], sizeof(b->vlabel[BCK_PLAIN]), "plain");
    if (b->mirror > 0)
        snprintf(b->vlabel[BCK_MIRROR], sizeof(b->vlabel[BCK_MIRROR]), "mirror%d", b->mirror);
    if (b->ec_d > 0)
        snprintf(b->vlabel[BCK_EC], sizeof(b->vlabel[BCK_EC]), "ec%d+%d", b->ec_d, b->ec_p);
    for (int k = BCK_MIRROR; k < BCK_COUNT && !bench_stop; k++) {
        if (b->vlabel[k][0] == '\0')
            continue;
        b->vbucket[k] = k == BCK_MIRROR ? xasprintf("%s-mirror%d", b->bucket, b->mirror)
                                        : xasprintf("%s-ec%d-%d", b->bucket, b->ec_d, b->ec_p);
        char err[LOCUS_ERR_LEN] = "";
        if (bucket_create(b, b->vbucket[k], &b->vcreated[k], err, sizeof(err)) == 0 &&
            bucket_set_props(b, k, err, sizeof(err)) == 0) {
            b->von[k] = true;
            continue;
        }
        snprintf(b->vnote[k], sizeof(b->vnote[k]), "%s", err);
        fprintf(stderr, "locus-bench: %s bucket %s: skipped: %s\n", b->vlabel[k], b->vbucket[k],
                err);
        if (b->vcreated[k])
            bucket_destroy(b, b->vbucket[k]);
        b->vcreated[k] = false;
    }
}

/* Without access to the targets' files (a remote --endpoint), nginx serves copies fetched
 * from Locus itself: same names and bytes, different inodes. */
static long download_set(bench_t *b, const objset_t *set)
{
    long n = 0;
    char err[256];
    for (size_t i = 0; i < set->n && !bench_stop; i++) {
        char *url = object_url(b->endpoint, b->bucket, set->v[i].name);
        char *path = xasprintf("%s/%s", b->www, set->v[i].name);
        buf_t resp;
        buf_init(&resp);
        if (bench_http("GET", url, NULL, &resp, err, sizeof(err)) == 200 &&
            write_file_atomic(path, resp.base, resp.len) == 0)
            n++;
        buf_dispose(&resp);
        free(path);
        free(url);
    }
    return n;
}

/* Starts nginx the first time (the GET and HTTP PUT reference). */
static void start_nginx(bench_t *b)
{
    char err[LOCUS_ERR_LEN] = "";
    if (b->nginx_up)
        return;
    mkdir_p(b->www, 0755);
    if (bench_nginx_start(&b->nginx, b->run.tmp, b->www, b->pin ? 0 : -1, err, sizeof(err)) == 0)
        b->nginx_up = true;
    else
        fprintf(stderr, "locus-bench: %s\n", err);
}

/* Makes the GET set of one size available to nginx and starts nginx the first time. */
static void prepare_nginx(bench_t *b, const objset_t *set)
{
    const char *cdir = b->own_cluster ? b->run.cluster_dir : b->cluster_dir_opt;
    long n = -1;
    if (cdir != NULL)
        n = bench_link_objects(cdir, b->bucket, b->www);
    if (n > 0) {
        b->nginx_linked = true;
    } else {
        if (cdir != NULL)
            fprintf(stderr,
                    "locus-bench: no object files under %s/*/*/@ais/%s/%%ob; nginx "
                    "will serve copies downloaded from Locus\n",
                    cdir, b->bucket);
        mkdir_p(b->www, 0755);
        n = download_set(b, set);
    }
    if (n > 0)
        start_nginx(b);
}

/* ------------------------------------------------------------------------------------------ */
/* report */

static const char legend[] =
    "MB = 10^6 bytes. Latency: the whole request, redirects included. Locus/ref: ops/s relative "
    "to the reference of the same op and size: nginx serving the same files (GET), write(2) of "
    "the same bytes to local files (PUT; the nginx PUT row is WebDAV PUT, the HTTP server "
    "doing the same; the disk-net row is the network floor of a PUT: the same bytes over a "
    "kept loopback TCP connection to a thread that XXH64-sums them while it writes them to a "
    "new file and answers one byte, no HTTP, no metadata, no rename). conns: TCP connections the "
    "clients opened in the "
    "cell. srvCPU/op: CPU time (user+sys) of the serving processes (all locusd, or nginx's "
    "master and workers, or disk-net's receiving threads) per request; the client's own CPU is not "
    "included. nginx307 and "
    "nginxrelay (GET only: no PUT rows): the nginx files behind nginx's own front end on another "
    "port, a 307 to the file server (like the proxy's GET) or a reverse proxy relaying the bytes "
    "over kept-alive upstream connections (like the S3 API's GET); their Locus/ref is relative to "
    "the plain nginx GET, and the like-for-like line puts proxy over nginx307 and s3 over "
    "nginxrelay.";

static void compute_ratios(bench_t *b)
{
    for (int i = 0; i < b->ncells; i++) {
        cell_t *c = &b->cells[i];
        c->ratio = 0;
        if (c->path == ref_path(c->op) || c->skipped)
            continue;
        for (int j = 0; j < b->ncells; j++) {
            cell_t *n = &b->cells[j];
            if (n->op == c->op && n->path == ref_path(c->op) && n->size == c->size && !n->skipped &&
                n->ops_s > 0)
                c->ratio = c->ops_s / n->ops_s;
            if (c->bck != BCK_PLAIN && n->bck == BCK_PLAIN && n->op == c->op &&
                n->path == c->path && n->size == c->size && !n->skipped && n->ops_s > 0)
                c->vs_plain = c->ops_s / n->ops_s;
        }
    }
}

/* The plain bucket's cell of op, path and size that ran, or NULL. */
static const cell_t *plain_cell(const bench_t *b, op_t op, path_kind_t path, size_t size)
{
    for (int i = 0; i < b->ncells; i++) {
        const cell_t *c = &b->cells[i];
        if (c->op == op && c->bck == BCK_PLAIN && c->path == path && c->size == size &&
            !c->skipped && c->ops_s > 0)
            return c;
    }
    return NULL;
}

/* GET ops/s of Locus over nginx in the same design, per size, for the pairs whose cells ran:
 * proxy/nginx307 (redirect) and s3/nginxrelay (relay). */
static void print_like_for_like(const bench_t *b, FILE *f)
{
    static const path_kind_t pairs[][2] = {{PATH_PROXY, PATH_NGINX307}, {PATH_S3, PATH_NGINXRELAY}};
    char line[512] = "";
    for (size_t k = 0; k < ARRAY_SIZE(pairs); k++) {
        char part[256] = "";
        for (int si = 0; si < b->nsizes; si++) {
            const cell_t *l = plain_cell(b, OP_GET, pairs[k][0], b->sizes[si]);
            const cell_t *n = plain_cell(b, OP_GET, pairs[k][1], b->sizes[si]);
            if (l == NULL || n == NULL)
                continue;
            char sz[32];
            size_format(b->sizes[si], sz, sizeof(sz));
            snprintf(part + strlen(part), sizeof(part) - strlen(part), "%s %s %.2f",
                     part[0] != '\0' ? "," : "", sz, l->ops_s / n->ops_s);
        }
        if (part[0] != '\0')
            snprintf(line + strlen(line), sizeof(line) - strlen(line), "%s%s/%s:%s",
                     line[0] != '\0' ? "; " : "", path_names[pairs[k][0]], path_names[pairs[k][1]],
                     part);
    }
    if (line[0] != '\0')
        fprintf(f, "\nLike for like (GET ops/s, Locus over nginx in the same design): %s\n", line);
}

/* Per size whose disk-net cell ran: disk-net over disk (what crossing a socket leaves of the
 * disk reference), and the HTTP PUTs over disk-net. */
static void print_net_floor(const bench_t *b, FILE *f)
{
    static const path_kind_t over[] = {PATH_DIRECT, PATH_PROXY, PATH_NGINX};
    bool head = false;
    for (int si = 0; si < b->nsizes; si++) {
        const cell_t *net = plain_cell(b, OP_PUT, PATH_DISKNET, b->sizes[si]);
        const cell_t *disk = plain_cell(b, OP_PUT, PATH_DISK, b->sizes[si]);
        if (net == NULL)
            continue;
        char sz[32], line[256] = "";
        size_format(b->sizes[si], sz, sizeof(sz));
        if (disk != NULL)
            snprintf(line, sizeof(line), "disk-net %.2f of disk", net->ops_s / disk->ops_s);
        for (size_t k = 0; k < ARRAY_SIZE(over); k++) {
            const cell_t *c = plain_cell(b, OP_PUT, over[k], b->sizes[si]);
            if (c != NULL)
                snprintf(line + strlen(line), sizeof(line) - strlen(line), "%s%s %.2f",
                         line[0] != '\0' ? ", " : "", path_names[over[k]], c->ops_s / net->ops_s);
        }
        if (!head)
            fprintf(f, "\nPUT against the network floor (disk-net over disk; each path over "
                       "disk-net):\n");
        head = true;
        fprintf(f, "  %s: %s\n", sz, line);
    }
}

/* Server CPU per request as the tables show it ("-": not measured). */
static void fmt_cpu(double us, char *out, size_t len)
{
    if (us < 0)
        snprintf(out, len, "-");
    else if (us >= 10000)
        snprintf(out, len, "%.0fms", us / 1000);
    else
        snprintf(out, len, "%.0fus", us);
}

static void print_table(bench_t *b, FILE *f, bool md)
{
    char sz[32], ratio[32], cpu[32];
    if (md) {
        fprintf(f, "| op | size | path | ops/s | MB/s | p50 ms | p99 ms | errors | conns | "
                   "srv CPU us/op | Locus/ref |\n");
        fprintf(f, "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|\n");
    } else {
        fprintf(f, "%-3s  %-6s  %-10s  %10s  %9s  %8s  %8s  %6s  %6s  %9s  %9s\n", "op", "size",
                "path", "ops/s", "MB/s", "p50 ms", "p99 ms", "errors", "conns", "srvCPU/op",
                "Locus/ref");
    }
    for (int i = 0; i < b->ncells; i++) {
        cell_t *c = &b->cells[i];
        if (c->bck != BCK_PLAIN)
            continue; /* print_redundancy() */
        size_format(c->size, sz, sizeof(sz));
        const char *op = c->op == OP_PUT ? "PUT" : "GET";
        if (c->ratio > 0)
            snprintf(ratio, sizeof(ratio), "%.2f", c->ratio);
        else
            snprintf(ratio, sizeof(ratio), c->path == ref_path(c->op) ? "1" : "-");
        fmt_cpu(c->srv_us_op, cpu, sizeof(cpu));
        if (c->skipped) {
            if (md)
                fprintf(f, "| %s | %s | %s | skipped: %s | | | | | | | |\n", op, sz,
                        path_names[c->path], c->note);
            else
                fprintf(f, "%-3s  %-6s  %-10s  skipped: %s\n", op, sz, path_names[c->path],
                        c->note);
            continue;
        }
        if (md)
            fprintf(f, "| %s | %s | %s | %.0f | %.1f | %.2f | %.2f | %llu | %ld | %s | %s |\n", op,
                    sz, path_names[c->path], c->ops_s, c->mb_s, c->p50_ms, c->p99_ms,
                    (unsigned long long)c->errors, c->conns, cpu, ratio);
        else
            fprintf(f, "%-3s  %-6s  %-10s  %10.0f  %9.1f  %8.2f  %8.2f  %6llu  %6ld  %9s  %9s\n",
                    op, sz, path_names[c->path], c->ops_s, c->mb_s, c->p50_ms, c->p99_ms,
                    (unsigned long long)c->errors, c->conns, cpu, ratio);
    }
}

static const char red_legend[] =
    "Buckets with redundancy: the proxy and direct cells again on a bucket created with mirror "
    "{enabled, copies: N} (--mirror N) or ec {enabled, data_slices: D, parity_slices: P} (--ec "
    "D+P), interleaved in the same rounds as the plain bucket's. vs plain: ops/s relative to the "
    "plain bucket's cell of the same op, size and path in this run. srvCPU/MB: CPU time of all "
    "locusd per MB the cell's successful requests moved (a mirrored PUT writes its copies before "
    "it answers, so their cost is in it). With --ec, the nginx PUT row on the EC bucket is the "
    "reference of what erasure coding must move on this machine: each op is the object's WebDAV "
    "PUT and then WebDAV PUTs of its D + P pieces of size/D (P copies below 256 KiB), with no "
    "coding and no checksums; its vs plain is the most any server doing that here could reach.";

/* One row of the redundancy table. */
static void print_red_row(const bench_t *b, FILE *f, bool md, const cell_t *c)
{
    char sz[32], cpu[32], vs[32];
    size_format(c->size, sz, sizeof(sz));
    fmt_cpu(c->srv_us_op, cpu, sizeof(cpu));
    const char *op = c->op == OP_PUT ? "PUT" : "GET";
    const char *bck = b->vlabel[c->bck];
    if (c->skipped) {
        fprintf(f,
                md ? "| %s | %s | %s | %s | skipped: %s | | | | | | |\n"
                   : "%-3s  %-6s  %-6s  %-9s  skipped: %s\n",
                op, sz, path_names[c->path], bck, c->note);
        return;
    }
    if (c->bck == BCK_PLAIN)
        snprintf(vs, sizeof(vs), "1");
    else if (c->vs_plain > 0)
        snprintf(vs, sizeof(vs), "%.2f", c->vs_plain);
    else
        snprintf(vs, sizeof(vs), "-");
    char mb[32] = "-";
    if (c->srv_ms_mb >= 0)
        snprintf(mb, sizeof(mb), "%.3gms", c->srv_ms_mb);
    fprintf(f,
            md ? "| %s | %s | %s | %s | %.0f | %.1f | %.2f | %llu | %s | %s | %s |\n"
               : "%-3s  %-6s  %-6s  %-9s  %10.0f  %9.1f  %8.2f  %6llu  %9s  %9s  %8s\n",
            op, sz, path_names[c->path], bck, c->ops_s, c->mb_s, c->p50_ms,
            (unsigned long long)c->errors, cpu, mb, vs);
}

/* With --mirror / --ec: each plain proxy and direct cell, then the same cell on each bucket with
 * redundancy; and a line for a bucket the cluster refused. */
static void print_redundancy(const bench_t *b, FILE *f, bool md)
{
    if (b->vlabel[BCK_MIRROR][0] == '\0' && b->vlabel[BCK_EC][0] == '\0')
        return;
    if (md)
        fprintf(f, "\n| op | size | path | bucket | ops/s | MB/s | p50 ms | errors | "
                   "srv CPU us/op | srv CPU ms/MB | vs plain |\n"
                   "|---|---|---|---|--:|--:|--:|--:|--:|--:|--:|\n");
    else
        fprintf(f, "\n%-3s  %-6s  %-6s  %-9s  %10s  %9s  %8s  %6s  %9s  %9s  %8s\n", "op", "size",
                "path", "bucket", "ops/s", "MB/s", "p50 ms", "errors", "srvCPU/op", "srvCPU/MB",
                "vs plain");
    for (int i = 0; i < b->ncells; i++) {
        const cell_t *p = &b->cells[i];
        bool ec_ref = p->path == PATH_NGINX && p->op == OP_PUT && b->von[BCK_EC];
        if (p->bck != BCK_PLAIN || (p->path != PATH_PROXY && p->path != PATH_DIRECT && !ec_ref))
            continue;
        print_red_row(b, f, md, p);
        for (int j = 0; j < b->ncells; j++) {
            const cell_t *c = &b->cells[j];
            if (c->bck != BCK_PLAIN && c->op == p->op && c->size == p->size && c->path == p->path)
                print_red_row(b, f, md, c);
        }
    }
    for (int k = BCK_MIRROR; k < BCK_COUNT; k++)
        if (b->vlabel[k][0] != '\0' && !b->von[k])
            fprintf(f, "%s%s: skipped: %s\n", md ? "\n- " : "", b->vlabel[k], b->vnote[k]);
    fprintf(f, "\n%s\n", red_legend);
}

static void print_errors(bench_t *b, FILE *f, bool md)
{
    for (int i = 0; i < b->ncells; i++) {
        cell_t *c = &b->cells[i];
        if (c->errors == 0)
            continue;
        char sz[32];
        size_format(c->size, sz, sizeof(sz));
        fprintf(f,
                "%s%s %s %s%s%s: %llu errors (status %llu, size %llu, content %llu, transport "
                "%llu); first: %s\n",
                md ? "- " : "  ", c->op == OP_PUT ? "PUT" : "GET", sz, path_names[c->path],
                c->bck == BCK_PLAIN ? "" : " on ", c->bck == BCK_PLAIN ? "" : b->vlabel[c->bck],
                (unsigned long long)c->errors, (unsigned long long)c->bad_status,
                (unsigned long long)c->bad_size, (unsigned long long)c->bad_content,
                (unsigned long long)c->transport, c->first_err);
    }
}

static void params_line(bench_t *b, char *out, size_t len)
{
    char sizes[128] = "", one[32];
    for (int i = 0; i < b->nsizes; i++) {
        size_format(b->sizes[i], one, sizeof(one));
        snprintf(sizes + strlen(sizes), sizeof(sizes) - strlen(sizes), "%s%s", i ? "," : "", one);
    }
    char cap[32];
    size_format(b->max_bytes, cap, sizeof(cap));
    char limit[64];
    if (b->count > 0)
        snprintf(limit, sizeof(limit), "%ld ops per cell", b->count);
    else
        snprintf(limit, sizeof(limit), "%.1f s per cell", b->duration);
    snprintf(out, len,
             "clients %d, %s in %d interleaved rounds, at most %s per PUT cell, sizes %s, "
             "verify every %d%s GET, %s, "
             "cluster: %s (%zu targets)%s",
             b->clients, limit, b->rounds, b->max_bytes ? cap : "unlimited", sizes, b->verify_every,
             b->verify_every == 1 ? "st" : "th",
             b->nginx_up ? (b->nginx_linked ? "nginx serves hard links of the targets' files"
                                            : "nginx serves downloaded copies")
                         : "no nginx",
             b->own_cluster ? "started by the bench, 1 proxy" : b->endpoint, b->smap.nt,
             b->pin ? ", pinned: servers on CPU0, clients on CPU1" : ", unpinned");
    for (int k = BCK_MIRROR; k < BCK_COUNT; k++)
        if (b->vlabel[k][0] != '\0')
            snprintf(out + strlen(out), len - strlen(out), ", bucket %s%s", b->vlabel[k],
                     b->von[k] ? "" : " (skipped)");
}

static int write_md(bench_t *b, const char *path)
{
    char mach[512], params[768];
    bench_machine_desc(mach, sizeof(mach));
    params_line(b, params, sizeof(params));
    FILE *f = bench_md_open(path, "obj", mach, params);
    if (f == NULL)
        return -1;
    fprintf(f, "; nginx: %s.\n\n", b->nginx.version ? b->nginx.version : "n/a");
    print_table(b, f, true);
    print_like_for_like(b, f);
    print_net_floor(b, f);
    fprintf(f, "\n%s\n", legend);
    print_redundancy(b, f, true);
    fprintf(f, "\n");
    print_errors(b, f, true);
    fclose(f);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* command */

static int parse_list(const char *s, const char *const *names, int n, bool *on)
{
    for (int i = 0; i < n; i++)
        on[i] = false;
    char *dup = xstrdup(s), *save = NULL;
    int rc = 0;
    for (char *t = strtok_r(dup, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
        int k = 0;
        while (k < n && strcmp(t, names[k]) != 0)
            k++;
        if (k == n) {
            fprintf(stderr, "locus-bench: unknown item '%s'\n", t);
            rc = -1;
            break;
        }
        on[k] = true;
    }
    free(dup);
    return rc;
}

static const char usage[] =
    "usage: locus-bench obj [options]\n"
    "\n"
    "PUT and GET throughput with N concurrent clients, through the proxy, directly to the\n"
    "owning target, and the same GETs from nginx serving the same files (directly, and\n"
    "behind nginx's own redirect and relay front ends).\n";

static int opt_ops(const bench_opt_t *o, const char *arg)
{
    static const char *const ops[] = {"put", "get"};
    bench_t *b = o->dst;
    bool on[2];
    if (parse_list(arg, ops, 2, on) != 0)
        return -1;
    b->do_put = on[0];
    b->do_get = on[1];
    return 0;
}

static int opt_paths(const bench_opt_t *o, const char *arg)
{
    return parse_list(arg, path_names, PATH_COUNT, o->dst);
}

/* --ec D+P: data and parity slices, each 1..32 (the bucket property's range). */
static int opt_ec(const bench_opt_t *o, const char *arg)
{
    bench_t *b = o->dst;
    int d = 0, p = 0, used = 0;
    const char *plus = strchr(arg, '+');
    if (!isdigit((unsigned char)arg[0]) || plus == NULL || !isdigit((unsigned char)plus[1]) ||
        sscanf(arg, "%3d+%3d%n", &d, &p, &used) != 2 || arg[used] != '\0' || d < 1 || d > 32 ||
        p < 1 || p > 32) {
        fprintf(stderr, "locus-bench: bad options (see --help): --ec '%s' (D+P, each 1-32)\n", arg);
        return -1;
    }
    b->ec_d = d;
    b->ec_p = p;
    return 0;
}

static int parse_args(void *state, int argc, char **argv)
{
    bench_t *b = state;
    b->clients = 8;
    b->duration = 6;
    b->max_bytes = 2 * GiB;
    b->verify_every = 8;
    b->targets = 3;
    b->do_put = b->do_get = true;
    for (int i = 0; i < PATH_COUNT; i++)
        b->path_on[i] = i != PATH_S3; /* s3 only when --paths names it */
    bool dur_set = false, cap_set = false, rounds_set = false;
    b->rounds = 3;
    const char *sizes = "4KiB,64MiB";
    const bench_opt_t opts[] = {
        BOPT("endpoint", BOPT_STR, &b->endpoint_opt, "URL",
             "use a running cluster (default: start 1 proxy + 3 targets with\n"
             "`locus cluster up` in a temp dir, and stop it at the end)"),
        BOPT("cluster-dir", BOPT_STR, &b->cluster_dir_opt, "DIR",
             "with --endpoint: the `cluster up --dir` of that cluster, so nginx\n"
             "can serve the targets' own files (else it serves copies)"),
        BOPT("clients", BOPT_INT, &b->clients, "N", "concurrent clients (threads), default 8",
             .min = 1, .max = 1024),
        BOPT("duration", BOPT_SECS, &b->duration, "S", "seconds per cell, default 6", .min = 1e-6,
             .max = 1e9, .set = &dur_set),
        BOPT("rounds", BOPT_INT, &b->rounds, "N",
             "split each cell into N slices interleaved with the other paths\n"
             "(proxy, direct, nginx, ..., proxy, ...), default 3",
             .min = 1, .max = 100, .set = &rounds_set),
        BOPT("count", BOPT_LONG, &b->count, "N", "N requests per cell instead of a duration",
             .min = 0, .max = 1e15),
        BOPT("sizes", BOPT_STR, &sizes, "LIST", "object sizes, default 4KiB,64MiB"),
        BOPT("max-bytes", BOPT_SIZE, &b->max_bytes, "SIZE",
             "cap on bytes written per PUT cell (whole requests per client\n"
             "and round, at least one each), default 2GiB (0 = none)",
             .set = &cap_set),
        BOPT("ops", BOPT_FN, b, "put,get",
             "operations, default both (GET needs the PUT cells' objects;\n"
             "GET alone first stores a set untimed)",
             .fn = opt_ops),
        BOPT("paths", BOPT_FN, b->path_on, "LIST",
             "proxy,direct,nginx,disk,disk-net,s3,nginx307,nginxrelay\n"
             "(default all but s3; nginx is the GET reference and WebDAV\n"
             "PUT the HTTP one for PUT, disk = write(2) to local files the\n"
             "PUT reference, disk-net = the same bytes over a kept TCP\n"
             "connection to a thread that checksums and writes them (PUT\n"
             "only); s3 = through the proxy's S3 API, /s3; GET only:\n"
             "nginx307 = nginx's 307 to its file server on another port,\n"
             "like the proxy, nginxrelay = an nginx reverse proxy of it,\n"
             "like s3)",
             .fn = opt_paths),
        BOPT("targets", BOPT_INT, &b->targets, "N",
             "targets of the cluster the bench starts, default 3", .min = 1, .max = 1024),
        BOPT("verify-every", BOPT_INT, &b->verify_every, "N",
             "byte-compare every Nth GET body, default 8 (size: always)", .min = 0, .max = 1e9),
        BOPT("pin", BOPT_BOOL, &b->pin, NULL,
             "servers on CPU0, bench clients on CPU1 (own cluster only)"),
        BOPT("quick", BOPT_BOOL, &b->quick, NULL,
             "~30 s smoke run: 2 s cells, at most 512MiB per cell"),
        BOPT("md", BOPT_STR, &b->md, "FILE", "also write the table as markdown"),
        BOPT("bucket", BOPT_STR, &b->bucket_opt, "NAME",
             "bucket to use (default: bench, or bench-<random> with --endpoint)"),
        BOPT("keep", BOPT_BOOL, &b->run.keep, NULL,
             "keep the temp dir (cluster data and logs) and the bucket"),
        BOPT("mirror", BOPT_INT, &b->mirror, "N",
             "also run the proxy and direct cells on a bucket with mirror\n"
             "copies N, reported relative to the plain bucket",
             .min = 2, .max = 32),
        BOPT("ec", BOPT_FN, b, "D+P",
             "the same on a bucket with erasure coding D data + P parity\n"
             "slices (a skip line with the cluster's answer if it refuses);\n"
             "with nginx on, also the EC reference: nginx PUTs of each\n"
             "object and its D + P pieces, what EC must move here",
             .fn = opt_ec),
    };
    int rc = bench_opts_parse(usage, opts, ARRAY_SIZE(opts), argc, argv);
    if (rc != BENCH_OPTS_GO)
        return rc;
    if (b->quick) {
        if (!dur_set)
            b->duration = 2;
        if (!cap_set)
            b->max_bytes = 512 * MiB;
        if (!rounds_set)
            b->rounds = 1;
    }
    char *dup = xstrdup(sizes), *save = NULL;
    for (char *t = strtok_r(dup, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
        int64_t v = size_parse(t);
        if (v <= 0 || (uint64_t)v > 4 * GiB || b->nsizes == MAX_SIZES) {
            fprintf(stderr, "locus-bench: bad size '%s'\n", t);
            free(dup);
            return 2;
        }
        b->sizes[b->nsizes++] = (size_t)v;
    }
    free(dup);
    if (b->nsizes == 0 || (!b->do_put && !b->do_get)) {
        fprintf(stderr, "locus-bench: bad options (see --help)\n");
        return 2;
    }
    if (b->pin && b->endpoint_opt != NULL)
        fprintf(stderr, "locus-bench: --pin pins only the bench and nginx with --endpoint\n");
    return BENCH_OPTS_GO;
}

/* GET-only runs still need objects: store a set untimed, directly on the owners, in the bucket
 * of kind k (its set: sets[k]). */
static void seed_set(bench_t *b, size_t size, objset_t *sets, bck_kind_t k, const char *tag)
{
    bench_t *tmp = xmalloc(sizeof(*tmp));
    *tmp = *b;
    tmp->count = b->clients * 32;
    tmp->ncells = 0;
    cell_t *cell = cell_new(tmp, OP_PUT, PATH_DIRECT, size);
    cell->tag = tag;
    cell->bck = k;
    fprintf(stderr, "  (storing the objects to read, untimed)\n");
    run_phase(tmp, &cell, 1, sets, 1);
    free(tmp);
}

/* The cells of one op and size: every asked path on the plain bucket, then the proxy and direct
 * paths on each bucket with redundancy; the count. */
static int size_cells(bench_t *b, op_t op, size_t size, char **tags, cell_t **cells)
{
    int n = 0;
    for (int k = BCK_PLAIN; k < BCK_COUNT; k++) {
        if (k != BCK_PLAIN && !b->von[k])
            continue;
        for (int p = PATH_PROXY; p < PATH_COUNT; p++) {
            bool ec_ref = k == BCK_EC && op == OP_PUT && p == PATH_NGINX;
            if (!b->path_on[p] || !path_has_op(p, op) ||
                (k != BCK_PLAIN && p != PATH_PROXY && p != PATH_DIRECT && !ec_ref))
                continue;
            cells[n] = cell_new(b, op, p, size);
            cells[n]->bck = k;
            cells[n++]->tag = tags[p];
        }
    }
    return n;
}

/* The PUT and GET cells of one size. */
static void run_size(bench_t *b, size_t size)
{
    char sz[32];
    size_format(size, sz, sizeof(sz));
    objset_t sets[BCK_COUNT];
    memset(sets, 0, sizeof(sets));
    char *tags[PATH_COUNT];
    cell_t *cells[MAX_CELLS];
    for (int p = PATH_PROXY; p < PATH_COUNT; p++)
        tags[p] = xasprintf("%s-%s", sz, path_names[p]);
    if (b->do_put) {
        if (b->path_on[PATH_NGINX] && !bench_stop)
            start_nginx(b);
        if (b->path_on[PATH_DISKNET] && b->sink == NULL && b->sink_err[0] == '\0') {
            char *dir = xasprintf("%s/disk-net", b->run.tmp);
            mkdir_p(dir, 0755);
            b->sink = bench_sink_start(dir, b->pin ? 0 : -1, b->sink_err, sizeof(b->sink_err));
            free(dir);
        }
        run_phase(b, cells, size_cells(b, OP_PUT, size, tags, cells), sets, b->rounds);
    }
    if (b->do_get) {
        char *tag = xasprintf("%s-seed", sz);
        for (int k = BCK_PLAIN; k < BCK_COUNT; k++)
            if ((k == BCK_PLAIN || b->von[k]) && sets[k].n == 0 && !bench_stop)
                seed_set(b, size, sets, k, tag);
        free(tag);
        bool ngx =
            b->path_on[PATH_NGINX] || b->path_on[PATH_NGINX307] || b->path_on[PATH_NGINXRELAY];
        if (ngx && sets[BCK_PLAIN].n > 0 && !bench_stop)
            prepare_nginx(b, &sets[BCK_PLAIN]);
        run_phase(b, cells, size_cells(b, OP_GET, size, tags, cells), sets, b->rounds);
    }
    for (int k = BCK_PLAIN; k < BCK_COUNT; k++)
        objset_dispose(&sets[k]);
    for (int p = PATH_PROXY; p < PATH_COUNT; p++)
        free(tags[p]);
}

/* The tables on stdout and, with --md, in the markdown file. */
static void report(bench_t *b)
{
    compute_ratios(b);
    char params[768];
    params_line(b, params, sizeof(params));
    printf("\nlocus-bench obj: %s\n%s; nginx: %s\n\n", b->run.mach, params,
           b->nginx.version ? b->nginx.version : "n/a");
    print_table(b, stdout, false);
    print_like_for_like(b, stdout);
    print_net_floor(b, stdout);
    print_errors(b, stdout, false);
    printf("\n%s\n", legend);
    print_redundancy(b, stdout, false);
    fflush(stdout);
    if (b->md != NULL)
        write_md(b, b->md);
}

/* The benchmark, between bench_main's start and end. */
static int run_bench(void *state)
{
    bench_t *b = state;
    int rc = 1;
    char err[LOCUS_ERR_LEN] = "";
    b->www = xasprintf("%s/www", b->run.tmp);
    b->diskdir = xasprintf("%s/disk", b->run.tmp);
    mkdir_p(b->diskdir, 0755);

    if (b->endpoint_opt == NULL) {
        b->run.cluster_dir = xasprintf("%s/cluster", b->run.tmp);
        b->own_cluster = true;
        if (bench_own_cluster(b->run.bindir, b->run.cluster_dir, b->targets, b->pin ? 0 : -1,
                              &b->endpoint) != 0)
            goto out;
    } else {
        b->endpoint = xstrdup(b->endpoint_opt);
        size_t n = strlen(b->endpoint);
        while (n > 0 && b->endpoint[n - 1] == '/')
            b->endpoint[--n] = '\0';
    }
    if (b->pin)
        bench_pin_self(1);

    if (bench_cluster_open(b->endpoint, &b->smap, NULL) != 0)
        goto out;
    if (b->bucket_opt != NULL) {
        b->bucket = xstrdup(b->bucket_opt);
    } else if (b->own_cluster) {
        b->bucket = xstrdup("bench");
    } else {
        char id[9];
        random_id(id, 8);
        b->bucket = xasprintf("bench-%s", id);
    }
    if (bucket_create(b, b->bucket, &b->bucket_created, err, sizeof(err)) != 0) {
        fprintf(stderr, "locus-bench: cannot create bucket %s: %s\n", b->bucket, err);
        goto out;
    }
    variants_create(b);
    fill_pool(b);
    fprintf(stderr, "endpoint %s, %zu targets, bucket %s, %d clients\n", b->endpoint, b->smap.nt,
            b->bucket, b->clients);
    for (int si = 0; si < b->nsizes && !bench_stop; si++)
        run_size(b, b->sizes[si]);
    report(b);

    rc = 0;
    for (int i = 0; i < b->ncells; i++)
        if (b->cells[i].errors > 0 || b->cells[i].skipped)
            rc = 1;
    if (bench_stop)
        rc = 130;
out:
    if (b->nginx_up)
        bench_nginx_stop(&b->nginx);
    bench_sink_stop(b->sink);
    bool drop = !b->own_cluster && !b->run.keep;
    if (b->bucket != NULL && drop && b->bucket_created)
        bucket_destroy(b, b->bucket);
    for (int k = BCK_MIRROR; k < BCK_COUNT; k++) {
        if (b->vcreated[k] && drop)
            bucket_destroy(b, b->vbucket[k]);
        free(b->vbucket[k]);
    }
    bench_smap_dispose(&b->smap);
    free(b->pool);
    free(b->bucket);
    free(b->endpoint);
    free(b->www);
    free(b->diskdir);
    return rc;
}

int bench_cmd_obj(int argc, char **argv)
{
    static const bench_cmd_t cmd = {"obj", "locus-bench", sizeof(bench_t), parse_args, run_bench};
    return bench_main(&cmd, argc, argv);
}
