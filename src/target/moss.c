/*
 * moss.c - GetBatch (AIStore's "moss", GET /v1/ml/moss[/<bck>]) on the target the proxy
 * chose: the entries of a MossReq, read here or from their owners, written in request order
 * into one archive (TAR, TGZ, ZIP or TAR.LZ4). docs/design.md §16, docs/protocol.md §1.13.
 *
 * DESIGN
 * A producer thread (tstream.c) works through the request in windows of MOSS_WINDOW entries.
 * For each window it first gets every entry ready: a local object is opened (and its member
 * found when the entry names an archpath); the others are asked of their owning targets in one
 * parallel fan-out (net/fanout: signed intra-cluster GETs, ?archpath= resolved by the owner).
 * Then it writes the window's entries in order and drops them. Memory is one window's remote
 * bodies, whatever the batch's length.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#define MOSS_WINDOW 32

typedef struct {
    int status;       /* 0: ready; 404: missing; else the batch fails with it */
    char *err;        /* owned, with status */
    int fd;           /* local object, -1 */
    arch_reader_t *r; /* local archived file */
    fanout_req_t *q;  /* remote: its answer (borrowed from the window's array) */
    int64_t off, len; /* what of the object (or archived file, or remote body) goes out */
    int64_t mtime;    /* seconds */
    char range[64];   /* remote: the Range header */
    httpc_header_t hdrs[2];
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

static char *remote_url(const char *base, const moss_in_t *in)
{
    char *eb = url_encode(in->bucket, ""), *eo = url_encode(in->objname, "/");
    char *ea = in->archpath ? url_encode(in->archpath, "/") : NULL;
    char *u = xasprintf("%s/v1/objects/%s/%s?provider=ais%s%s", base, eb, eo,
                        ea ? "&archpath=" : "", ea ? ea : "");
    free(eb);
    free(eo);
    free(ea);
    return u;
}

/* A remote entry's answer: ready (its bytes in q->resp.body), missing, or a failure. */
static void slot_remote_done(const moss_in_t *in, slot_t *s)
{
    fanout_req_t *q = s->q;
    long st = q->resp.status;
    if (q->rc < 0) {
        s->status = 503;
        s->err = xasprintf("ais://%s/%s: its target did not answer: %s", in->bucket, in->objname,
                           q->resp.err ? q->resp.err : "?");
    } else if (st == 200 || st == 206) {
        int64_t size = (int64_t)q->resp.body.len;
        s->off = 0;
        s->len = size;
        if (in->archpath && moss_in_range(in, size, &s->off, &s->len) < 0)
            st = 416;
        s->mtime = time_now_ns() / 1000000000;
    }
    if (q->rc == 0 && st != 200 && st != 206) {
        s->status = st == 400 ? 404 : (int)st; /* 400: not an archive, a missing file */
        json_t *j =
            json_loadb(q->resp.body.base ? q->resp.body.base : "", q->resp.body.len, 0, NULL);
        const char *msg = json_string_value(json_object_get(j, "message"));
        s->err = xasprintf("%s", msg ? msg : "error");
        json_decref(j);
    }
}

/* Gets entries [a, b) ready: local ones opened, remote ones fetched in parallel. *qs: the
 * fan-out array (the caller frees it with fanout_free after writing the window). */
static size_t window_ready(moss_t *m, size_t a, size_t b, slot_t *slots, fanout_req_t **qs)
{
    smap_t *sm = smap_get();
    fanout_req_t *q = xcalloc(b - a, sizeof(*q));
    size_t nq = 0;
    for (size_t i = a; i < b; i++) {
        const moss_in_t *in = &m->r.in[i];
        slot_t *s = &slots[i - a];
        memset(s, 0, sizeof(*s));
        s->fd = -1;
        const snode_t *o = smap_owner(sm, in->bucket, in->objname);
        if (o == NULL || strcmp(o->id, cluster_self_id()) == 0) {
            slot_local(in, s);
            continue;
        }
        s->q = &q[nq++];
        s->q->method = "GET";
        s->q->url = remote_url(o->url, in);
        if (!in->archpath && (in->start || in->length)) {
            if (in->length > 0)
                snprintf(s->range, sizeof(s->range), "bytes=%" PRId64 "-%" PRId64, in->start,
                         in->start + in->length - 1);
            else
                snprintf(s->range, sizeof(s->range), "bytes=%" PRId64 "-", in->start);
            s->hdrs[0] = (httpc_header_t){"Range", s->range};
            s->q->hdrs = s->hdrs;
        }
    }
    smap_put(sm);
    if (nq)
        fanout_run(q, nq, &(fanout_opts_t){.concurrency = MOSS_WINDOW, .timeout_ms = 120000});
    for (size_t i = a; i < b; i++)
        if (slots[i - a].q)
            slot_remote_done(&m->r.in[i], &slots[i - a]);
    *qs = q;
    return nq;
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

/* Writes one ready entry (or its missing marker). 0, or the batch's failure status. */
static int write_slot(moss_t *m, const moss_in_t *in, slot_t *s)
{
    bool missing = s->status == 404 && m->r.coer;
    if (s->status && !missing)
        return s->status;
    char *name = moss_name_in_arch(&m->r, in, missing);
    int64_t len = missing ? 0 : s->len;
    int rc = arch_writer_begin(m->w, name, len, missing ? time_now_ns() / 1000000000 : s->mtime);
    free(name);
    if (rc == 0 && !missing) {
        if (s->q)
            rc = arch_writer_data(m->w, s->q->resp.body.base + s->off, (size_t)s->len);
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

/* Every window: ready, then written in order. 0 or -1 (answered by moss_fail). */
static int moss_windows(moss_t *m)
{
    slot_t slots[MOSS_WINDOW];
    int rc = 0;
    for (size_t a = 0; rc == 0 && a < m->r.n; a += MOSS_WINDOW) {
        size_t b = a + MOSS_WINDOW < m->r.n ? a + MOSS_WINDOW : m->r.n;
        fanout_req_t *qs;
        size_t nq = window_ready(m, a, b, slots, &qs);
        for (size_t i = a; rc == 0 && i < b; i++) { /* the whole window is good, or fails */
            slot_t *s = &slots[i - a];
            if (s->status && !(s->status == 404 && m->r.coer))
                rc = moss_fail(m, s->status, s->err);
        }
        for (size_t i = a; rc == 0 && i < b; i++) {
            slot_t *s = &slots[i - a];
            if (m->r.strm && tstream_start(m->ts, -1, arch_content_type(m->fmt)) < 0)
                rc = -1; /* the client went away */
            else if (write_slot(m, &m->r.in[i], s) != 0)
                rc = moss_fail(m, 500, arch_writer_error(m->w));
        }
        for (size_t i = a; i < b; i++)
            slot_dispose(&slots[i - a]);
        fanout_free(qs, nq);
    }
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
