/*
 * moss.c - GetBatch (AIStore's "moss", GET /v1/ml/moss[/<bck>]) on the target the proxy
 * chose: the entries of a MossReq, read here or from their owners, written in request order
 * into one archive (TAR, TGZ, ZIP or TAR.LZ4). docs/design.md §16, docs/protocol.md §1.14.
 *
 * DESIGN
 * A producer thread (tstream.c) works through the request in windows of MOSS_WINDOW entries.
 * For each window it first gets every entry ready: a local object is opened (and its member
 * found when the entry names an archpath); the others are asked of their owning targets, one
 * request per target for all its entries of the window, in one parallel fan-out (net/fanout:
 * signed intra-cluster GET /v1/internal/moss, whose answer frames each entry's bytes or error;
 * the owner resolves archpaths and ranges). One request per target and window instead of one
 * per object is what makes a batch cheaper than as many GETs.
 * Then it writes the window's entries in order and drops them, while a helper thread gets the
 * next window ready. Memory is two windows' remote bodies, whatever the batch's length.
 * - Streaming (strm): the archive is the answer, sent as it is made. The first window is ready
 *   before the first byte, so its errors are clean error replies; a later fatal error can only
 *   truncate the transfer (the client sees it as a failed transfer, never a short archive).
 * - Otherwise: the archive is spooled to an unnamed file on a mountpath, then sent as AIStore's
 *   multipart answer: part "metadata" (MossResp JSON: the size or error of every entry), part
 *   "archive". Any error before that is a clean error reply.
 * A missing object (or archived file) fails the batch with 404 naming it, unless coer: then it
 * is an empty member "__404__/<name>" and its MossOut says why.
 */
#include "cluster/cluster.h"
#include "cluster/meta.h"
#include "common/log.h"
#include "common/moss.h"
#include "common/util.h"
#include "net/fanout.h"
#include "target/arch.h"
#include "target/internal.h"
#include "xact/xact.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#define MOSS_WINDOW 64
/* An owner sends entries up to this size inline in its framed answer; a bigger one is marked
 * (303) and the assembling target fetches it alone into a spool file when it writes it, so a
 * window's memory stays under MOSS_WINDOW x MOSS_INLINE_MAX whatever the objects' sizes. */
#define MOSS_INLINE_MAX (256 * 1024)
#define MOSS_ALONE 303

typedef struct {
    int status;       /* 0: ready; 404: missing; else the batch fails with it */
    char *err;        /* owned, with status */
    int fd;           /* local object, -1 */
    arch_reader_t *r; /* local archived file */
    const char *data; /* remote: its bytes (borrowed from its target's answer) */
    int64_t off, len; /* what of the object (or archived file, or remote bytes) goes out */
    int64_t mtime;    /* seconds */
    int owner;        /* remote: the index of its target's request in the window, else -1 */
} slot_t;

typedef struct {
    moss_req_t r;
    arch_fmt_t fmt;
    char uuid[24];
    tstream_t *ts;
    arch_writer_t *w;
    int tmpfd;   /* multipart: the archive, spooled */
    json_t *out; /* multipart: MossResp.out */
} moss_t;

static void moss_free(void *p)
{
    moss_t *m = p;
    moss_req_dispose(&m->r);
    json_decref(m->out);
    if (m->tmpfd >= 0)
        close(m->tmpfd);
    free(m);
}

static void slot_dispose(slot_t *s)
{
    arch_close(s->r);
    if (s->fd >= 0)
        close(s->fd);
    free(s->err);
}

/* ---------------------------------------------------------------- getting a window ready */

static void slot_local(const moss_in_t *in, slot_t *s)
{
    lom_md_t md;
    int rc = store_open(in->bucket, in->objname, &s->fd, &md);
    if (rc < 0) {
        s->fd = -1;
        s->status = rc == -ENOENT ? 404 : 500;
        s->err = xasprintf("ais://%s/%s: %s", in->bucket, in->objname,
                           rc == -ENOENT ? "does not exist" : strerror(-rc));
        return;
    }
    int64_t size = md.size;
    s->mtime = md.atime_ns / 1000000000;
    lom_md_dispose(&md);
    if (in->archpath) {
        char err[512];
        int st = arch_find(s->fd, in->archpath, &s->r, &size, err, sizeof(err));
        if (st) { /* not an archive, or not in it: a missing file, as AIStore has it */
            s->status = st == 500 ? 500 : 404;
            s->err = xasprintf("ais://%s/%s: %s", in->bucket, in->objname, err);
            return;
        }
    }
    if (moss_in_range(in, size, &s->off, &s->len) < 0) {
        s->status = 416;
        s->err = xasprintf("ais://%s/%s: not satisfiable range start=%" PRId64 ",length=%" PRId64
                           " (size %" PRId64 ")",
                           in->bucket, in->objname, in->start, in->length, size);
    }
}

/* Skips off bytes of an archived file (its reader is a stream). */
static int reader_skip(arch_reader_t *r, int64_t off)
{
    char buf[8192];
    while (off > 0) {
        ssize_t n = arch_read(r, buf, off < (int64_t)sizeof(buf) ? (size_t)off : sizeof(buf));
        if (n <= 0)
            return -1;
        off -= n;
    }
    return 0;
}

/* The bytes of a ready local slot into out (appended). 0 or -1. */
static int slot_read(slot_t *s, buf_t *out)
{
    buf_reserve(out, (size_t)s->len);
    char *p = out->base + out->len;
    int64_t got = 0;
    if (s->r && reader_skip(s->r, s->off) < 0)
        return -1;
    while (got < s->len) {
        ssize_t n = s->r ? arch_read(s->r, p + got, (size_t)(s->len - got))
                         : pread(s->fd, p + got, (size_t)(s->len - got), (off_t)(s->off + got));
        if (n < 0 && errno == EINTR && !s->r)
            continue;
        if (n <= 0)
            return -1;
        got += n;
    }
    out->len += (size_t)got;
    return 0;
}

/* GET /v1/internal/moss (a node: the target assembling a GetBatch): the entries of the MossReq
 * body, all owned here, answered in order as frames "<status> <length>\n<bytes>": status 200
 * with the (ranged) object or archived file, else the error message. docs/protocol.md §1.14. */
void moss_internal(http_req_t *req)
{
    moss_req_t r;
    char err[1024];
    if (moss_req_parse(req->body.base, req->body.len, NULL, &r, err, sizeof(err)) < 0) {
        http_reply_error(req, 400, "%s", err);
        moss_req_dispose(&r);
        return;
    }
    buf_t out;
    buf_init(&out);
    for (size_t i = 0; i < r.n; i++) {
        slot_t s = {.fd = -1, .owner = -1};
        slot_local(&r.in[i], &s);
        char hdr[64];
        size_t at = out.len;
        if (s.status == 0 && s.len > MOSS_INLINE_MAX) {
            buf_puts(&out, "303 0\n"); /* big: fetched alone (see MOSS_INLINE_MAX) */
        } else if (s.status == 0) {
            snprintf(hdr, sizeof(hdr), "200 %" PRId64 "\n", s.len);
            buf_puts(&out, hdr);
            if (slot_read(&s, &out) < 0) {
                out.len = at;
                s.status = 500;
                s.err = xasprintf("ais://%s/%s: read error", r.in[i].bucket, r.in[i].objname);
            }
        }
        if (s.status) {
            snprintf(hdr, sizeof(hdr), "%d %zu\n", s.status, strlen(s.err));
            buf_puts(&out, hdr);
            buf_puts(&out, s.err);
        }
        slot_dispose(&s);
    }
    http_reply(req, 200, "application/octet-stream", out.base ? out.base : "", out.len);
    buf_dispose(&out);
    moss_req_dispose(&r);
}

/* Parses one frame at *p (untrusted: another node's answer) into s. false when malformed. */
int moss_frame_next(const char **p, const char *end, const char **data, int64_t *len)
{
    const char *nl = *p && end > *p ? memchr(*p, '\n', (size_t)(end - *p)) : NULL;
    if (nl == NULL || nl - *p > 40)
        return -1;
    char line[48];
    memcpy(line, *p, (size_t)(nl - *p));
    line[nl - *p] = '\0';
    int st, n = 0;
    long long l;
    if (sscanf(line, "%3d %19lld%n", &st, &l, &n) != 2 || line[n] != '\0' || st < 200 || st > 599 ||
        l < 0 || l > end - (nl + 1))
        return -1;
    *data = nl + 1;
    *len = l;
    *p = nl + 1 + l;
    return st;
}

/* Parses one frame at *p into s. false when malformed. */
static bool frame_parse(const char **p, const char *end, slot_t *s)
{
    const char *data;
    int64_t len;
    int st = moss_frame_next(p, end, &data, &len);
    if (st < 0)
        return false;
    if (st == 200) {
        s->data = data;
        s->off = 0;
        s->len = len;
        s->mtime = time_now_ns() / 1000000000;
    } else if (st == MOSS_ALONE) {
        s->status = MOSS_ALONE;
    } else {
        s->status = st == 400 ? 404 : st;
        s->err = xasprintf("%.*s", (int)(len > 1000 ? 1000 : len), data);
    }
    return true;
}

/* The answer of one target's request q to the slots it served (in order). */
static void owner_done(const moss_t *m, size_t a, size_t b, slot_t *slots, int k, fanout_req_t *q)
{
    const char *p = q->resp.body.base, *end = p + q->resp.body.len;
    bool ok = q->rc == 0 && q->resp.status == 200;
    for (size_t i = a; i < b; i++) {
        slot_t *s = &slots[i - a];
        if (s->owner != k)
            continue;
        const moss_in_t *in = &m->r.in[i];
        if (ok && (ok = p != NULL && frame_parse(&p, end, s)))
            continue;
        s->status = q->rc < 0 ? 503 : 500;
        s->err = xasprintf("ais://%s/%s: its target %s: %s", in->bucket, in->objname,
                           q->rc < 0 ? "did not answer" : "answered badly",
                           q->rc < 0 && q->resp.err ? q->resp.err : "");
    }
}

/* Gets entries [a, b) ready: local ones opened, the others read by their targets, one request
 * per target (all in parallel). *qs: the fan-out array and its bodies (the caller frees them
 * with window_dispose after writing the window). */
static size_t window_ready(moss_t *m, size_t a, size_t b, slot_t *slots, fanout_req_t **qs,
                           char ***bodies)
{
    smap_t *sm = smap_get();
    size_t nt = sm->n_targets;
    json_t **ins = xcalloc(nt ? nt : 1, sizeof(json_t *));
    for (size_t i = a; i < b; i++) {
        const moss_in_t *in = &m->r.in[i];
        slot_t *s = &slots[i - a];
        memset(s, 0, sizeof(*s));
        s->fd = -1;
        s->owner = -1;
        const snode_t *o = smap_owner(sm, in->bucket, in->objname);
        if (o == NULL || strcmp(o->id, cluster_self_id()) == 0) {
            slot_local(in, s);
            continue;
        }
        size_t t = (size_t)(o - sm->targets);
        if (ins[t] == NULL)
            ins[t] = json_array();
        json_t *e = json_pack("{s:s, s:s, s:I, s:I}", "bucket", in->bucket, "objname", in->objname,
                              "start", (json_int_t)in->start, "length", (json_int_t)in->length);
        if (in->archpath)
            json_object_set_new(e, "archpath", json_string(in->archpath));
        json_array_append_new(ins[t], e);
        s->owner = (int)t;
    }
    fanout_req_t *q = xcalloc(nt ? nt : 1, sizeof(*q));
    char **bd = xcalloc(nt ? nt : 1, sizeof(char *));
    for (size_t t = 0; t < nt; t++) {
        if (ins[t] == NULL)
            continue;
        json_t *j = json_pack("{s:o}", "in", ins[t]);
        bd[t] = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        q[t] = (fanout_req_t){.method = "GET",
                              .url = xasprintf("%s/v1/internal/moss", sm->targets[t].url),
                              .body = bd[t],
                              .body_len = strlen(bd[t]),
                              .content_type = "application/json"};
    }
    smap_put(sm);
    /* one request per target that has entries; the empty ones are skipped by index */
    fanout_req_t *live = xcalloc(nt ? nt : 1, sizeof(*live));
    size_t nl = 0;
    for (size_t t = 0; t < nt; t++)
        if (bd[t])
            live[nl++] = q[t];
    if (nl)
        fanout_run(live, nl, &(fanout_opts_t){.timeout_ms = 120000});
    for (size_t t = 0, k = 0; t < nt; t++)
        if (bd[t])
            q[t] = live[k++];
    free(live);
    for (size_t t = 0; t < nt; t++)
        if (bd[t])
            owner_done(m, a, b, slots, (int)t, &q[t]);
    free(ins);
    *qs = q;
    *bodies = bd;
    return nt;
}

/* ---------------------------------------------------------------- writing */

static int sink_file(void *arg, const void *p, size_t n)
{
    moss_t *m = arg;
    return write_all(m->tmpfd, p, n) < 0 ? -1 : 0;
}

static int sink_stream(void *arg, const void *p, size_t n)
{
    moss_t *m = arg;
    return tstream_write(m->ts, p, n);
}

static void out_add(moss_t *m, const moss_in_t *in, int64_t size, const char *err)
{
    if (m->out == NULL)
        return;
    json_t *o = json_pack("{s:s, s:s, s:s, s:I}", "objname", in->objname, "bucket", in->bucket,
                          "provider", "ais", "size", (json_int_t)size);
    if (in->archpath)
        json_object_set_new(o, "archpath", json_string(in->archpath));
    if (in->opaque)
        json_object_set_new(o, "opaque", json_string(in->opaque));
    if (err)
        json_object_set_new(o, "err_msg", json_string(err));
    json_array_append_new(m->out, o);
}

/* A big remote entry (MOSS_ALONE): fetched alone from its owner into a spool file now, its
 * range applied here. */
static void slot_alone(const moss_in_t *in, slot_t *s)
{
    smap_t *sm = smap_get();
    const snode_t *o = smap_owner(sm, in->bucket, in->objname);
    char *eb = url_encode(in->bucket, ""), *eo = url_encode(in->objname, "/");
    char *ea = in->archpath ? url_encode(in->archpath, "/") : NULL;
    char *url = o ? xasprintf("%s/v1/objects/%s/%s?provider=ais%s%s", o->url, eb, eo,
                              ea ? "&archpath=" : "", ea ? ea : "")
                  : NULL;
    smap_put(sm);
    free(eb);
    free(eo);
    free(ea);
    char err[512] = "no target";
    int64_t size = 0;
    s->status = 500;
    s->fd = url ? arch_spool_fetch(url, &size, &s->status, err, sizeof(err)) : -1;
    free(url);
    if (s->fd < 0) {
        s->err = xasprintf("ais://%s/%s: %s", in->bucket, in->objname, err);
        return;
    }
    s->status = moss_in_range(in, size, &s->off, &s->len) < 0 ? 416 : 0;
    s->mtime = time_now_ns() / 1000000000;
    if (s->status)
        s->err = xasprintf("ais://%s/%s: not satisfiable range", in->bucket, in->objname);
}

/* Writes one ready entry (or its missing marker). 0, or the batch's failure status. */
static int write_slot(moss_t *m, const moss_in_t *in, slot_t *s)
{
    if (s->status == MOSS_ALONE)
        slot_alone(in, s);
    bool missing = s->status == 404 && m->r.coer;
    if (s->status && !missing)
        return s->status;
    char *name = moss_name_in_arch(&m->r, in, missing);
    int64_t len = missing ? 0 : s->len;
    int rc = arch_writer_begin(m->w, name, len, missing ? time_now_ns() / 1000000000 : s->mtime);
    free(name);
    if (rc == 0 && !missing) {
        if (s->data)
            rc = arch_writer_data(m->w, s->data + s->off, (size_t)s->len);
        else if (s->r)
            rc = reader_skip(s->r, s->off) < 0 ? -1 : arch_writer_copy(m->w, s->r, s->len);
        else
            rc = arch_writer_copy_fd(m->w, s->fd, s->off, s->len);
    }
    out_add(m, in, len, missing ? s->err : NULL);
    return rc < 0 ? 500 : 0;
}

/* A fatal error: a clean error reply when nothing was sent yet, else a truncated answer. */
static int moss_fail(moss_t *m, int status, const char *err)
{
    if (tstream_started(m->ts))
        LOCUS_LOG(LOG_WARNING, "%s: GetBatch %s failed after its start: %s", cluster_self_name(),
                  m->uuid, err);
    else
        tstream_fail(m->ts, (unsigned)status, "GetBatch: %s", err);
    return -1;
}

/* One window being made ready (on a helper thread while the previous one is written). */
typedef struct {
    moss_t *m;
    size_t a, b;
    slot_t slots[MOSS_WINDOW];
    fanout_req_t *qs; /* one per target of the map (those without entries unused) */
    char **bodies;
    size_t nq;
} window_t;

static void *window_main(void *p)
{
    window_t *w = p;
    w->nq = window_ready(w->m, w->a, w->b, w->slots, &w->qs, &w->bodies);
    return NULL;
}

static void window_dispose(window_t *w)
{
    for (size_t i = w->a; i < w->b; i++)
        slot_dispose(&w->slots[i - w->a]);
    for (size_t t = 0; t < w->nq; t++)
        free(w->bodies[t]);
    free(w->bodies);
    fanout_free(w->qs, w->nq);
    w->qs = NULL;
    w->bodies = NULL;
    w->nq = 0;
}

/* Writes a ready window in order: 0, or -1 (answered by moss_fail). The whole window is good, or
 * the batch fails before any of it is written. */
static int window_write(moss_t *m, window_t *w)
{
    for (size_t i = w->a; i < w->b; i++) {
        slot_t *s = &w->slots[i - w->a];
        if (s->status && s->status != MOSS_ALONE && !(s->status == 404 && m->r.coer))
            return moss_fail(m, s->status, s->err);
    }
    for (size_t i = w->a; i < w->b; i++) {
        if (m->r.strm && tstream_start(m->ts, -1, arch_content_type(m->fmt)) < 0)
            return -1; /* the client went away */
        slot_t *s = &w->slots[i - w->a];
        int st = write_slot(m, &m->r.in[i], s);
        if (st != 0)
            return moss_fail(m, st, s->status ? s->err : arch_writer_error(m->w));
    }
    return 0;
}

/* Every window: made ready while the one before it is written (two windows in memory at most),
 * then written in order. 0 or -1 (answered by moss_fail). */
static int moss_windows(moss_t *m)
{
    window_t *w[2] = {xcalloc(1, sizeof(window_t)), xcalloc(1, sizeof(window_t))};
    int rc = 0, k = 0;
    *w[0] = (window_t){.m = m, .a = 0, .b = m->r.n < MOSS_WINDOW ? m->r.n : MOSS_WINDOW};
    window_main(w[0]);
    while (w[k]->a < w[k]->b) {
        window_t *nx = w[1 - k];
        size_t b = w[k]->b + MOSS_WINDOW < m->r.n ? w[k]->b + MOSS_WINDOW : m->r.n;
        *nx = (window_t){.m = m, .a = w[k]->b, .b = b};
        pthread_t th;
        bool async = rc == 0 && nx->a < nx->b && pthread_create(&th, NULL, window_main, nx) == 0;
        if (rc == 0)
            rc = window_write(m, w[k]);
        window_dispose(w[k]);
        if (async)
            pthread_join(th, NULL);
        else if (rc == 0 && nx->a < nx->b)
            window_main(nx);
        if (rc != 0) {
            window_dispose(nx);
            break;
        }
        k = 1 - k;
    }
    free(w[0]);
    free(w[1]);
    return rc;
}

/* The multipart answer: MossResp, then the spooled archive. */
static int send_multipart(moss_t *m, int64_t size)
{
    char bnd[61];
    snprintf(bnd, sizeof(bnd), "%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%012" PRIx64,
             (uint64_t)random_u64(), (uint64_t)random_u64(), (uint64_t)random_u64(),
             (uint64_t)(random_u64() & 0xffffffffffffULL));
    json_t *resp = json_pack("{s:s, s:O}", "uuid", m->uuid, "out", m->out);
    char *meta = json_dumps(resp, JSON_COMPACT);
    json_decref(resp);
    char *h1 = xasprintf("--%s\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\n%s\n",
                         bnd, meta);
    char *h2 = xasprintf("\r\n--%s\r\nContent-Disposition: form-data; name=\"archive\"; "
                         "filename=\"%s%s\"\r\nContent-Type: application/octet-stream\r\n\r\n",
                         bnd, m->uuid, arch_fmt_ext(m->fmt));
    char *tail = xasprintf("\r\n--%s--\r\n", bnd);
    char *ct = xasprintf("multipart/mixed; boundary=%s", bnd);
    int64_t clen = (int64_t)(strlen(h1) + strlen(h2) + strlen(tail)) + size;
    int rc = tstream_start(m->ts, clen, ct);
    if (rc == 0)
        rc = tstream_write(m->ts, h1, strlen(h1)) || tstream_write(m->ts, h2, strlen(h2)) ? -1 : 0;
    char *buf = xmalloc(64 * 1024);
    for (int64_t off = 0; rc == 0 && off < size;) {
        ssize_t n = pread(m->tmpfd, buf, 64 * 1024, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        rc = n <= 0 || tstream_write(m->ts, buf, (size_t)n) < 0 ? -1 : 0;
        off += n > 0 ? n : 0;
    }
    if (rc == 0)
        rc = tstream_write(m->ts, tail, strlen(tail));
    free(buf);
    free(ct);
    free(tail);
    free(h2);
    free(h1);
    free(meta);
    return rc;
}

static int spool_open(void)
{
    mpset_t *s = mpath_get();
    int fd = ec_tmp_open(s->en[0]);
    mpath_put(s);
    return fd;
}

static int moss_produce(tstream_t *ts, void *p)
{
    moss_t *m = p;
    m->ts = ts;
    char err[512];
    if (!m->r.strm) {
        m->out = json_array();
        if ((m->tmpfd = spool_open()) < 0)
            return moss_fail(m, 500, "cannot open a spool file on a mountpath");
    }
    m->w = arch_writer_new(m->fmt, m->r.strm ? sink_stream : sink_file, m, err, sizeof(err));
    if (m->w == NULL)
        return moss_fail(m, 500, err);
    int rc = moss_windows(m);
    if (arch_writer_finish(m->w, rc == 0) < 0 && rc == 0)
        rc = moss_fail(m, 500, "cannot finish the archive");
    m->w = NULL;
    if (rc == 0 && !m->r.strm) {
        off_t size = lseek(m->tmpfd, 0, SEEK_END);
        rc = size < 0 ? moss_fail(m, 500, "spool file") : send_multipart(m, size);
    }
    if (rc == 0 && m->r.strm) /* an archive with no byte yet (cannot happen: n >= 1) */
        rc = tstream_start(ts, -1, arch_content_type(m->fmt));
    return rc;
}

/* A client following the proxy's signed redirect sends the body the proxy checked: its hash is
 * in the signed query (mbh). */
static bool body_is_signed_one(http_req_t *req, const trust_t *who)
{
    if (who->kind != TRUST_REDIRECT)
        return true;
    const char *mbh = http_query(req, "mbh");
    char want[17];
    snprintf(want, sizeof(want), "%016llx",
             (unsigned long long)XXH64(req->body.base ? req->body.base : "", req->body.len, 0));
    return mbh && strcmp(mbh, want) == 0;
}

void moss_handle(http_req_t *req, const trust_t *who, const char *bck)
{
    if (strcmp(req->method, "GET") != 0) {
        http_reply_error(req, 405, "GetBatch: expecting GET, not %s", req->method);
        return;
    }
    moss_t *m = xcalloc(1, sizeof(*m));
    m->tmpfd = -1;
    char err[1024];
    int prc = moss_req_parse(req->body.base, req->body.len, bck, &m->r, err, sizeof(err));
    if (prc < 0 || arch_fmt_parse(m->r.mime, &m->fmt) < 0) {
        if (prc == 0) /* parsed: the format was wrong */
            snprintf(err, sizeof(err),
                     "GetBatch: invalid output format \"%s\" (expecting .tar, .tgz, .tar.gz, "
                     ".zip or .tar.lz4)",
                     m->r.mime);
        http_reply_error(req, req->body_too_large ? 413 : 400, "%s", err);
        moss_free(m);
        return;
    }
    int st = body_is_signed_one(req, who) ? 0 : 401;
    if (st)
        snprintf(err, sizeof(err), "GetBatch: the body is not the one the proxy redirected");
    for (size_t i = 0; st == 0 && i < m->r.n; i++)
        if (i == 0 || strcmp(m->r.in[i].bucket, m->r.in[i - 1].bucket) != 0)
            st = trust_require(who, m->r.in[i].bucket, AUTH_ACE_GET, err, sizeof(err));
    if (st) {
        http_reply_error(req, (unsigned)st, "%s", err);
        moss_free(m);
        return;
    }
    xact_new_id(m->uuid, sizeof(m->uuid));
    tstream_run(req, moss_produce, m, moss_free);
}
