/*
 * ec.c - erasure coding across targets (docs/design.md §15): with the bucket property
 * ec {enabled, data_slices: D, parity_slices: P, objsize_limit}, the owner of an object keeps
 * its main replica and puts D + P pieces on other targets: D data slices and P parity slices
 * computed with Intel ISA-L's Reed-Solomon code, or, for an object smaller than objsize_limit,
 * P full replicas. Any D slices (or one replica) rebuild the object.
 *
 * DESIGN
 * A piece lives at <mountpath>/@ais/<bucket>/%ec/<object> on its target, with the object's
 * metadata in the usual xattr (lom.h: size, checksum, write time, version, custom) and the
 * piece's own in "user.locus.ec" ("D,P,slice,xxhash of the piece"). Slice 0 is a full replica;
 * 1..D are the object's bytes cut in D runs of S = ceil(size / D) bytes (the last one shorter,
 * never padded on disk); D+1..D+P are parity over the data slices zero-padded to S. A target
 * holds at most one piece of an object.
 *
 * Placement needs no record: the targets that take part (not in maintenance, decommissioned or
 * down) in the object's HRW order are T0 (the owner, main replica), T1, T2, ...; piece i goes to
 * T(i). When only D + P targets are left, the last (parity) piece goes to T0 beside the main
 * replica: losing T0 then costs the main replica and one parity slice, and the D + P - 1 slices
 * left still rebuild it, so P losses are still survived.
 *
 * Writes: a PUT to an EC bucket commits the main replica, then encodes and sends the pieces
 * before it answers (on a worker thread, in parallel, signed intra-cluster PUTs
 * /v1/internal/ec); a failure is logged and left to the ec-encode job. A receiver keeps the
 * piece of the newest write. Reads: an owner that misses the main replica (it was on a target
 * that died, or its bytes rotted) asks every target for its piece's metadata, takes the pieces
 * of the newest write, rebuilds, checks the object's checksum and commits the main replica as
 * a get-from-neighbor would. The ec-encode job (every target) brings each object of a bucket to
 * its full set of pieces at the current placement, rebuilds main replicas that are gone, and
 * removes the pieces of a bucket whose EC was turned off.
 */
#include "cluster/cluster.h"
#include "cluster/meta.h"
#include "common/hrw.h"
#include "common/json.h"
#include "common/log.h"
#include "common/names.h"
#include "common/util.h"
#include "net/fanout.h"
#include "target/internal.h"
#include "target/rebalance.h"

#include <errno.h>
#include <fcntl.h>
#include <isa-l/erasure_code.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define EC_XATTR "user.locus.ec"
#define EC_MAX_PIECES (2 * EC_MAX_SLICES)
#define EC_BUF_BUDGET (8u << 20) /* bytes of stripe buffers per encode or decode */
#define EC_SMALL_PIECE (1 << 20) /* pieces up to this size go in memory, in one fan-out */

/* ---------------------------------------------------------------- configuration */

bool ec_conf_props(json_t *props, ec_conf_t *c)
{
    json_t *e = json_object_get(props, "ec");
    memset(c, 0, sizeof(*c));
    c->enabled = json_is_true(json_object_get(e, "enabled"));
    /* a BMD from metasync is parsed with JSON_DECODE_INT_AS_REAL (§13.10): json_int64 reads both */
    int64_t d = json_int64(json_object_get(e, "data_slices"));
    int64_t p = json_int64(json_object_get(e, "parity_slices"));
    c->d = d < 1 ? 2 : d > EC_MAX_SLICES ? EC_MAX_SLICES : (int)d;
    c->p = p < 1 ? 2 : p > EC_MAX_SLICES ? EC_MAX_SLICES : (int)p;
    json_t *lim = json_object_get(e, "objsize_limit");
    c->limit = lim ? json_int64(lim) : 256 * 1024;
    return c->enabled;
}

bool ec_conf(const char *bck, ec_conf_t *c)
{
    bmd_t *b = bmd_get();
    bool on = ec_conf_props(json_object_get(bmd_bucket(b, bck), "props"), c);
    bmd_put(b);
    return on;
}

/* Whether an object of size bytes is kept as P replicas rather than sliced. */
static bool replicated(const ec_conf_t *c, int64_t size)
{
    return size == 0 || c->limit < 0 || (c->limit > 0 && size < c->limit);
}

int64_t ec_piece_len(int64_t size, int d, int slice)
{
    if (slice == 0)
        return size;
    int64_t s = (size + d - 1) / d;
    if (slice > d)
        return s;
    int64_t rest = size - (int64_t)(slice - 1) * s;
    return rest < 0 ? 0 : rest < s ? rest : s;
}

/* ---------------------------------------------------------------- piece metadata */

void ec_piece_format(const ec_piece_t *pc, char out[EC_PIECE_TEXT])
{
    snprintf(out, EC_PIECE_TEXT, "%d,%d,%d,%s", pc->d, pc->p, pc->slice, pc->scs);
}

/* One decimal field of at most 2 digits, then sep; the position after it or NULL. */
static const char *small_int(const char *s, int *out, char sep)
{
    int v = 0, n = 0;
    while (s[n] >= '0' && s[n] <= '9' && n < 3)
        v = v * 10 + (s[n++] - '0');
    if (n == 0 || n > 2 || s[n] != sep)
        return NULL;
    *out = v;
    return s + n + 1;
}

int ec_piece_parse(const char *s, size_t len, ec_piece_t *pc)
{
    char t[EC_PIECE_TEXT];
    if (s == NULL || len == 0 || len >= sizeof(t))
        return -1;
    memcpy(t, s, len);
    t[len] = '\0';
    if (strlen(t) != len)
        return -1; /* a NUL inside */
    const char *q = small_int(t, &pc->d, ',');
    q = q ? small_int(q, &pc->p, ',') : NULL;
    q = q ? small_int(q, &pc->slice, ',') : NULL;
    if (q == NULL || strlen(q) != 16 || strspn(q, "0123456789abcdef") != 16)
        return -1;
    if (pc->d < 1 || pc->d > EC_MAX_SLICES || pc->p < 1 || pc->p > EC_MAX_SLICES || pc->slice < 0 ||
        pc->slice > pc->d + pc->p)
        return -1;
    memcpy(pc->scs, q, 17);
    return 0;
}

/* The piece file of bck/obj on mountpath mp. Caller frees. */
static char *piece_path(const char *mp, const char *bck, const char *obj)
{
    return xasprintf("%s/@ais/%s/%%ec/%s", mp, bck, obj);
}

/* With the stripe lock held: the piece of bck/obj on whichever mountpath holds it (the HRW one
 * first), or NULL. Caller frees. */
static char *piece_locate_locked(const char *bck, const char *obj)
{
    mpset_t *s = mpath_get();
    char *found = NULL;
    struct stat st;
    char *p = piece_path(mpset_hrw(s, bck, obj), bck, obj);
    if (stat(p, &st) == 0 && S_ISREG(st.st_mode))
        found = p;
    else
        free(p);
    for (size_t i = 0; found == NULL && i < mpset_count(s); i++) {
        p = piece_path(mpset_path(s, i), bck, obj);
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode))
            found = p;
        else
            free(p);
    }
    mpath_put(s);
    return found;
}

/* The metadata of the piece file at path: 0, or -1 when it has none or it is malformed. */
static int piece_load(const char *path, lom_md_t *md, ec_piece_t *pc)
{
    char v[EC_PIECE_TEXT];
    ssize_t n = getxattr(path, EC_XATTR, v, sizeof(v) - 1);
    if (n <= 0 || ec_piece_parse(v, (size_t)n, pc) < 0)
        return -1;
    if (lom_md_load(path, md) < 0)
        return -1;
    if (ec_piece_len(md->size, pc->d, pc->slice) < 0) {
        lom_md_dispose(md);
        return -1;
    }
    return 0;
}

/* Removes the piece file at path of object obj and its directories left empty. 0 or -errno. */
static int piece_unlink(const char *path, const char *obj)
{
    if (unlink(path) < 0)
        return -errno;
    char *top = xstrndup(path, strlen(path) - strlen(obj) - 1); /* .../%ec */
    store_prune_dirs(path, top);
    free(top);
    return 0;
}

void ec_remove_locked(const char *bck, const char *obj)
{
    char *p;
    while ((p = piece_locate_locked(bck, obj)) != NULL) {
        int rc = piece_unlink(p, obj);
        free(p);
        if (rc < 0)
            break;
    }
}

/* ---------------------------------------------------------------- storing a piece */

/* The mountpath of fqn = <mp>/@ais/<bck>/%ob/<obj> (caller frees). */
static char *mountpath_of(const char *fqn, const char *bck, const char *obj)
{
    return xstrndup(fqn, strlen(fqn) - strlen(obj) - strlen(bck) - strlen("/@ais//%ob/"));
}

int ec_piece_open(obj_writer_t *w, const char *bck, const char *obj, char *err, size_t errlen)
{
    int rc = store_writer_open(w, bck, obj, err, errlen);
    if (rc < 0)
        return rc;
    char *mp = mountpath_of(w->fqn, bck, obj); /* the piece goes beside it, under %ec */
    free(w->fqn);
    w->fqn = piece_path(mp, bck, obj);
    free(mp);
    return 0;
}

/* Renames the work file into place (the stripe lock held) unless a piece of a later write is
 * there; 0 or -errno. */
static int piece_install_locked(obj_writer_t *w, const lom_md_t *md, const char *meta)
{
    char *old = piece_locate_locked(w->bck, w->obj);
    lom_md_t om;
    ec_piece_t op;
    if (old && piece_load(old, &om, &op) == 0) {
        bool newer = om.atime_ns > md->atime_ns;
        lom_md_dispose(&om);
        if (newer) {
            free(old);
            return 0; /* a later write's piece stays */
        }
    }
    int rc = store_writer_name(w);
    if (rc == 0)
        rc = lom_md_store_fd(w->fd, md);
    if (rc == 0 && fsetxattr(w->fd, EC_XATTR, meta, strlen(meta), 0) < 0)
        rc = -errno;
    if (rc == 0 && rename(w->work, w->fqn) < 0) {
        rc = -errno;
        if (rc == -ENOENT) {
            char *dir = xstrdup(w->fqn);
            rc = mkdir_p(dirname(dir), 0755);
            free(dir);
            if (rc == 0 && rename(w->work, w->fqn) < 0)
                rc = -errno;
        }
    }
    if (rc == 0 && old && strcmp(old, w->fqn) != 0)
        piece_unlink(old, w->obj); /* the previous piece, on another mountpath */
    free(old);
    return rc;
}

int ec_piece_commit(obj_writer_t *w, const lom_md_t *md, const ec_piece_t *pc, char *err,
                    size_t errlen)
{
    char cs[17];
    snprintf(cs, sizeof(cs), "%016llx", (unsigned long long)XXH64_digest(w->xx));
    int64_t want = ec_piece_len(md->size, pc->d, pc->slice);
    int status = 0;
    if (w->written != want || strcmp(cs, pc->scs) != 0) {
        snprintf(err, errlen,
                 "EC piece %d of ais://%s/%s arrived damaged: %lld bytes with checksum %s, "
                 "expected %lld bytes with %s",
                 pc->slice, w->bck, w->obj, (long long)w->written, cs, (long long)want, pc->scs);
        status = 400;
    } else {
        char meta[EC_PIECE_TEXT];
        ec_piece_format(pc, meta);
        pthread_mutex_t *lk = store_stripe(w->bck, w->obj);
        pthread_mutex_lock(lk);
        int rc = piece_install_locked(w, md, meta);
        pthread_mutex_unlock(lk);
        if (rc < 0) {
            snprintf(err, errlen, "cannot store EC piece of ais://%s/%s: %s", w->bck, w->obj,
                     strerror(-rc));
            status = rc == -EISDIR || rc == -ENOTDIR || rc == -EEXIST ? 409 : 500;
        }
    }
    store_writer_abort(w); /* the work file is gone when installed; disposes the writer */
    return status;
}

/* Stores len bytes of fd from off as this target's piece pc of bck/obj (pc->scs is computed
 * here). 0 or an HTTP status with err. */
/* Writes len bytes of fd from offset off through w. 0 or -errno. */
static int copy_to_writer(obj_writer_t *w, int fd, int64_t off, int64_t len)
{
    size_t bufsz = 1u << 20;
    char *buf = xmalloc(bufsz);
    int rc = 0;
    for (int64_t done = 0; rc == 0 && done < len;) {
        size_t want = len - done < (int64_t)bufsz ? (size_t)(len - done) : bufsz;
        ssize_t n = pread(fd, buf, want, (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        rc = n <= 0 ? -EIO : store_writer_write(w, buf, (size_t)n);
        done += n > 0 ? n : 0;
    }
    free(buf);
    return rc;
}

static int piece_store_local(const char *bck, const char *obj, const lom_md_t *md, ec_piece_t *pc,
                             int fd, int64_t off, int64_t len, char *err, size_t errlen)
{
    obj_writer_t w;
    int rc = ec_piece_open(&w, bck, obj, err, errlen);
    if (rc < 0)
        return rc == -EINVAL ? 400 : 500;
    if ((rc = copy_to_writer(&w, fd, off, len)) < 0) {
        snprintf(err, errlen, "cannot store EC piece of ais://%s/%s: %s", bck, obj, strerror(-rc));
        store_writer_abort(&w);
        return 500;
    }
    snprintf(pc->scs, sizeof(pc->scs), "%016llx", (unsigned long long)XXH64_digest(w.xx));
    return ec_piece_commit(&w, md, pc, err, errlen);
}

/* ---------------------------------------------------------------- placement */

/* The targets that take part (not in maintenance, decommissioned or down) in the HRW order of
 * bck/obj, the owner first, into out (room for s->n_targets); their count. */
static size_t ranked_targets(const smap_t *s, const char *bck, const char *obj, const snode_t **out)
{
    size_t n = 0, cap = s->n_targets + 1;
    uint64_t dg[cap];
    size_t map[cap], idx[cap];
    for (size_t i = 0; i < s->n_targets; i++) {
        if (s->targets[i].flags & SNODE_NO_PLACEMENT)
            continue;
        map[n] = i;
        dg[n++] = s->targets[i].digest;
    }
    char *u = uname_make(bck, obj);
    uint64_t d = hrw_digest_str(u);
    free(u);
    hrw_rank(dg, n, d, idx);
    for (size_t k = 0; k < n; k++)
        out[k] = &s->targets[map[idx[k]]];
    return n;
}

/* Where piece i (1-based) goes among the n ranked targets: T(i); with exactly i targets, the
 * owner (beside the main replica); NULL when there are fewer (the piece is not placed). */
static const snode_t *piece_target(const snode_t **rk, size_t n, int i)
{
    if ((size_t)i < n)
        return rk[i];
    return (size_t)i == n && n > 0 ? rk[0] : NULL;
}

static bool is_self(const snode_t *t)
{
    return strcmp(t->id, cluster_self_id()) == 0;
}

/* ---------------------------------------------------------------- the codec (ISA-L) */

int ec_tmp_open(const char *dir)
{
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
        return fd >= 0 ? fd : -errno;
    char *p = xasprintf("%s/ec.%016llx", dir, (unsigned long long)random_u64());
    fd = open(p, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int e = errno;
    if (fd >= 0)
        unlink(p);
    free(p);
    return fd >= 0 ? fd : -e;
}

/* The work directory of bck on the mountpath of the main replica at fqn (caller frees). */
static char *work_dir_of(const char *fqn, const char *bck, const char *obj)
{
    char *mp = mountpath_of(fqn, bck, obj);
    char *wd = fqn_workdir(mp, bck);
    free(mp);
    mkdir_p(wd, 0755);
    return wd;
}

/* Bytes per slice per stripe step: the buffers of all pieces stay within EC_BUF_BUDGET. */
static size_t chunk_size(int pieces)
{
    size_t ch = EC_BUF_BUDGET / (size_t)pieces;
    return ch > (1u << 20) ? (1u << 20) : ch < (64u << 10) ? (64u << 10) : ch;
}

/* Reads the part of piece fd (real_len bytes on disk) at [off, off + len) into buf, zero-padded
 * past real_len. 0 or -EIO. */
static int read_padded(int fd, int64_t base, int64_t real_len, int64_t off, unsigned char *buf,
                       size_t len)
{
    int64_t avail = real_len - off;
    size_t n = avail <= 0 ? 0 : avail < (int64_t)len ? (size_t)avail : len;
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, buf + got, n - got, (off_t)(base + off + (int64_t)got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -EIO;
        got += (size_t)r;
    }
    memset(buf + n, 0, len - n);
    return 0;
}

int ec_code_parity(int fd, int64_t size, int d, int p, const char *dir, int *pfd, char (*scs)[17])
{
    int64_t S = (size + d - 1) / d;
    size_t ch = chunk_size(d + p);
    unsigned char *a = xmalloc((size_t)(d + p) * d), *tbls = xmalloc(32u * d * p);
    gf_gen_cauchy1_matrix(a, d + p, d);
    ec_init_tables(d, p, &a[d * d], tbls);
    unsigned char *buf = xmalloc(ch * (size_t)(d + p)), *data[d], *par[p];
    XXH64_state_t *st[d + p];
    for (int i = 0; i < d + p; i++) {
        st[i] = XXH64_createState();
        XXH64_reset(st[i], 0);
        if (i < d)
            data[i] = buf + ch * i;
        else
            par[i - d] = buf + ch * i;
    }
    int rc = 0;
    for (int k = 0; k < p; k++)
        pfd[k] = -1;
    for (int k = 0; k < p && rc == 0; k++)
        if ((pfd[k] = ec_tmp_open(dir)) < 0)
            rc = pfd[k];
    for (int64_t off = 0; rc == 0 && off < S; off += (int64_t)ch) {
        size_t len = S - off < (int64_t)ch ? (size_t)(S - off) : ch;
        for (int i = 0; i < d && rc == 0; i++) {
            int64_t real = ec_piece_len(size, d, i + 1);
            rc = read_padded(fd, (int64_t)i * S, real, off, data[i], len);
            int64_t n = real - off;
            if (rc == 0 && n > 0)
                XXH64_update(st[i], data[i], n < (int64_t)len ? (size_t)n : len);
        }
        if (rc)
            break;
        ec_encode_data((int)len, d, p, tbls, data, par);
        for (int k = 0; k < p && rc == 0; k++) {
            XXH64_update(st[d + k], par[k], len);
            if (pwrite(pfd[k], par[k], len, (off_t)off) != (ssize_t)len)
                rc = -EIO;
        }
    }
    for (int i = 0; i < d + p; i++) {
        snprintf(scs[i], 17, "%016llx", (unsigned long long)XXH64_digest(st[i]));
        XXH64_freeState(st[i]);
    }
    free(buf);
    free(a);
    free(tbls);
    return rc < 0 ? rc : 0;
}

int ec_code_rebuild(int64_t size, int d, int p, int *have, const char *dir)
{
    int rows[d], miss[d], nrow = 0, nmiss = 0;
    for (int i = 1; i <= d + p && nrow < d; i++)
        if (have[i] >= 0)
            rows[nrow++] = i;
    for (int i = 1; i <= d; i++)
        if (have[i] < 0)
            miss[nmiss++] = i;
    if (nrow < d)
        return -ENODATA;
    if (nmiss == 0)
        return 0;
    int64_t S = (size + d - 1) / d;
    size_t ch = chunk_size(d + nmiss);
    unsigned char *a = xmalloc((size_t)(d + p) * d), *b = xmalloc((size_t)d * d);
    unsigned char *inv = xmalloc((size_t)d * d), *c = xmalloc((size_t)d * nmiss);
    unsigned char *tbls = xmalloc(32u * d * nmiss);
    gf_gen_cauchy1_matrix(a, d + p, d);
    for (int r = 0; r < d; r++)
        memcpy(&b[r * d], &a[(rows[r] - 1) * d], (size_t)d);
    int rc = gf_invert_matrix(b, inv, d) == 0 ? 0 : -EINVAL;
    for (int k = 0; k < nmiss; k++) /* data = inv x chosen: the missing data rows of inv */
        memcpy(&c[k * d], &inv[(miss[k] - 1) * d], (size_t)d);
    ec_init_tables(d, nmiss, c, tbls);
    unsigned char *buf = xmalloc(ch * (size_t)(d + nmiss)), *src[d], *out[nmiss];
    for (int r = 0; r < d; r++)
        src[r] = buf + ch * r;
    int ofd[nmiss];
    for (int k = 0; k < nmiss; k++) {
        out[k] = buf + ch * (d + k);
        ofd[k] = rc == 0 ? ec_tmp_open(dir) : -1;
        if (ofd[k] < 0 && rc == 0)
            rc = ofd[k];
    }
    for (int64_t off = 0; rc == 0 && off < S; off += (int64_t)ch) {
        size_t len = S - off < (int64_t)ch ? (size_t)(S - off) : ch;
        for (int r = 0; r < d && rc == 0; r++)
            rc = read_padded(have[rows[r]], 0, ec_piece_len(size, d, rows[r]), off, src[r], len);
        if (rc)
            break;
        ec_encode_data((int)len, d, nmiss, tbls, src, out);
        for (int k = 0; k < nmiss && rc == 0; k++)
            if (pwrite(ofd[k], out[k], len, (off_t)off) != (ssize_t)len)
                rc = -EIO;
    }
    for (int k = 0; k < nmiss; k++) {
        if (rc == 0)
            have[miss[k]] = ofd[k];
        else if (ofd[k] >= 0)
            close(ofd[k]);
    }
    free(buf);
    free(a);
    free(b);
    free(inv);
    free(c);
    free(tbls);
    return rc;
}

/* ---------------------------------------------------------------- sending pieces */

typedef struct {
    const char *bck, *obj;
    const lom_md_t *md;
    const snode_t *to; /* this target: stored here */
    ec_piece_t pc;
    int fd;
    int64_t off, len;
    int status;
    char err[512];
} send_t;

/* The URL of piece t's PUT (caller frees) and its headers' values: *lom (caller frees), meta. */
static char *piece_put_url(const send_t *t, char **lom, char meta[EC_PIECE_TEXT])
{
    ec_piece_format(&t->pc, meta);
    *lom = reb_lom_header(t->md);
    char *eb = url_encode(t->bck, ""), *eo = url_encode(t->obj, "");
    char *url = xasprintf("%s/v1/internal/ec?bck=%s&obj=%s", t->to->url, eb, eo);
    free(eb);
    free(eo);
    return url;
}

static void send_result(send_t *t, int rc, const httpc_resp_t *r)
{
    if (rc < 0) {
        t->status = 503;
        snprintf(t->err, sizeof(t->err), "%s", r->err ? r->err : "no answer");
    } else if (r->status != 200) {
        t->status = (int)r->status;
        snprintf(t->err, sizeof(t->err), "%ld %.*s", r->status,
                 (int)(r->body.len < 300 ? r->body.len : 300), r->body.base ? r->body.base : "");
    }
}

/* A big piece: streamed from its file by a thread of its own. */
static void *send_main(void *arg)
{
    send_t *t = arg;
    char meta[EC_PIECE_TEXT], *lom;
    char *url = piece_put_url(t, &lom, meta);
    httpc_header_t hdrs[] = {{REB_HDR_LOM, lom}, {EC_HDR_PIECE, meta}, {NULL, NULL}};
    httpc_resp_t r;
    httpc_resp_init(&r);
    send_result(t, httpc_put_fd_range(url, t->fd, t->off, t->len, hdrs, 0, &r), &r);
    httpc_resp_dispose(&r);
    free(url);
    free(lom);
    httpc_thread_cleanup();
    return NULL;
}

/* Small pieces: read into memory and sent by one fan-out, over the process's keep-alive
 * connections (a thread and a connection per piece cost more than a small piece). */
static void send_small(send_t **t, size_t n)
{
    if (n == 0)
        return;
    fanout_req_t *rq = xcalloc(n, sizeof(*rq));
    httpc_header_t(*hdrs)[3] = xcalloc(n, sizeof(*hdrs));
    char **lom = xcalloc(n, sizeof(char *)), **body = xcalloc(n, sizeof(char *));
    char(*meta)[EC_PIECE_TEXT] = xcalloc(n, sizeof(*meta));
    for (size_t i = 0; i < n; i++) {
        body[i] = xmalloc(t[i]->len ? (size_t)t[i]->len : 1);
        if (read_padded(t[i]->fd, t[i]->off, t[i]->len, 0, (unsigned char *)body[i],
                        (size_t)t[i]->len) < 0) {
            t[i]->status = 500;
            snprintf(t[i]->err, sizeof(t[i]->err), "cannot read the piece");
        }
        rq[i].url = piece_put_url(t[i], &lom[i], meta[i]);
        hdrs[i][0] = (httpc_header_t){REB_HDR_LOM, lom[i]};
        hdrs[i][1] = (httpc_header_t){EC_HDR_PIECE, meta[i]};
        rq[i].method = "PUT";
        rq[i].body = body[i];
        rq[i].body_len = (size_t)t[i]->len;
        rq[i].hdrs = hdrs[i];
    }
    fanout_run(rq, n, &(fanout_opts_t){.timeout_ms = 60000});
    for (size_t i = 0; i < n; i++) {
        if (t[i]->status == 0)
            send_result(t[i], rq[i].rc, &rq[i].resp);
        free(lom[i]);
        free(body[i]);
    }
    fanout_free(rq, n);
    free(hdrs);
    free(lom);
    free(body);
    free(meta);
}

/* Runs the n sends in parallel: big pieces on threads, small ones in one fan-out, this
 * target's own piece here. The number that failed (the first error into err). */
static int send_all(send_t *t, size_t n, char *err, size_t errlen)
{
    pthread_t th[n + 1];
    bool started[n + 1];
    send_t *small[n + 1];
    size_t ns = 0;
    for (size_t i = 0; i < n; i++) {
        started[i] = false;
        if (!is_self(t[i].to) && t[i].len > EC_SMALL_PIECE)
            started[i] = pthread_create(&th[i], NULL, send_main, &t[i]) == 0;
        else if (!is_self(t[i].to))
            small[ns++] = &t[i];
    }
    send_small(small, ns);
    for (size_t i = 0; i < n; i++) {
        if (started[i])
            pthread_join(th[i], NULL);
        else if (is_self(t[i].to))
            t[i].status = piece_store_local(t[i].bck, t[i].obj, t[i].md, &t[i].pc, t[i].fd,
                                            t[i].off, t[i].len, t[i].err, sizeof(t[i].err));
        else if (t[i].len > EC_SMALL_PIECE) /* no thread: sent from here */
            send_main(&t[i]);
    }
    int failed = 0;
    for (size_t i = 0; i < n; i++)
        if (t[i].status && failed++ == 0)
            snprintf(err, errlen, "EC piece %d of ais://%s/%s to %s: %s", t[i].pc.slice, t[i].bck,
                     t[i].obj, t[i].to->id, t[i].err);
    return failed;
}

/* Sends the pieces of bck/obj (main replica open at fd with md, its FQN fqn) that mask names
 * (bit i - 1: piece i, 1-based) to their targets. The number of pieces that went, or -1 with err.
 */
static int send_pieces(const char *bck, const char *obj, int fd, const lom_md_t *md,
                       const char *fqn, const ec_conf_t *c, uint64_t mask, char *err, size_t errlen)
{
    bool repl = replicated(c, md->size);
    int np = repl ? c->p : c->d + c->p;
    smap_t *s = smap_get();
    const snode_t *rk[s->n_targets + 1];
    size_t n = ranked_targets(s, bck, obj, rk);
    int pfd[EC_MAX_SLICES];
    char scs[EC_MAX_PIECES][17];
    int rc = 0, p_open = 0;
    if (!repl && mask != 0) { /* one pass: the parity and the checksum of every slice */
        char *wd = work_dir_of(fqn, bck, obj);
        rc = ec_code_parity(fd, md->size, c->d, c->p, wd, pfd, scs);
        p_open = c->p;
        free(wd);
    }
    send_t t[EC_MAX_PIECES];
    size_t nt = 0;
    int64_t S = repl ? 0 : (md->size + c->d - 1) / c->d;
    for (int i = 1; rc == 0 && i <= np; i++) {
        const snode_t *to = piece_target(rk, n, i);
        if (!(mask & (1ull << (i - 1))) || to == NULL)
            continue;
        send_t *x = &t[nt++];
        memset(x, 0, sizeof(*x));
        *x = (send_t){.bck = bck, .obj = obj, .md = md, .to = to, .fd = fd};
        x->pc = (ec_piece_t){.d = c->d, .p = c->p, .slice = repl ? 0 : i};
        if (repl) {
            x->len = md->size;
            if (strcmp(md->cs_type, "xxhash") == 0)
                snprintf(x->pc.scs, sizeof(x->pc.scs), "%.16s", md->cs_val);
            else /* a replica's checksum is the object's xxhash: computed when not stored */
                rc = store_checksum(fd, md->size, x->pc.scs);
        } else if (i <= c->d) {
            x->off = (int64_t)(i - 1) * S;
            x->len = ec_piece_len(md->size, c->d, i);
            memcpy(x->pc.scs, scs[i - 1], 17);
        } else {
            x->fd = pfd[i - c->d - 1];
            x->len = S;
            memcpy(x->pc.scs, scs[i - 1], 17);
        }
    }
    int sent = -1;
    if (rc == 0)
        sent = send_all(t, nt, err, errlen) ? -1 : (int)nt;
    else
        snprintf(err, errlen, "coding ais://%s/%s: %s", bck, obj, strerror(-rc));
    for (int k = 0; k < p_open; k++)
        if (pfd[k] >= 0)
            close(pfd[k]);
    smap_put(s);
    return sent;
}

/* The local main replica of bck/obj: its FQN (caller frees), fd and metadata. 0 or -1 (not
 * here). */
static int open_main(const char *bck, const char *obj, char **fqn, int *fd, lom_md_t *md)
{
    *fqn = store_fqn(bck, obj);
    if (*fqn && store_open_fqn(*fqn, bck, obj, fd, md) == 0)
        return 0;
    free(*fqn);
    *fqn = NULL;
    return -1;
}

int ec_encode(const char *bck, const char *obj, const ec_conf_t *c, char *err, size_t errlen)
{
    char *fqn;
    int fd;
    lom_md_t md;
    if (open_main(bck, obj, &fqn, &fd, &md) < 0)
        return 0; /* deleted or replaced meanwhile: that one is encoded by its own writer */
    int sent = send_pieces(bck, obj, fd, &md, fqn, c, ~0ull, err, errlen);
    close(fd);
    lom_md_dispose(&md);
    free(fqn);
    return sent < 0 ? 503 : 0;
}

/* ---------------------------------------------------------------- finding pieces */

typedef struct {
    const snode_t *t; /* the holder; NULL: this target */
    lom_md_t md;
    ec_piece_t pc;
} holder_t;

static bool holder_is(const holder_t *h, const snode_t *t)
{
    return h->t == NULL ? is_self(t) : strcmp(h->t->id, t->id) == 0;
}

static bool same_write(const lom_md_t *a, const lom_md_t *b)
{
    return a->atime_ns == b->atime_ns && a->size == b->size && strcmp(a->cs_val, b->cs_val) == 0;
}

/* Parses a target's answer to GET /v1/internal/ec?what=meta; 0 or -1. */
static int meta_parse(const buf_t *body, lom_md_t *md, ec_piece_t *pc)
{
    json_t *j = json_loadb(body->base ? body->base : "", body->len, 0, NULL);
    const char *lom = json_string_value(json_object_get(j, "lom"));
    const char *ec = json_string_value(json_object_get(j, "ec"));
    int rc = lom && ec && ec_piece_parse(ec, strlen(ec), pc) == 0 &&
                     lom_md_decode(lom, strlen(lom), md) == 0
                 ? 0
                 : -1;
    json_decref(j);
    return rc;
}

/* The pieces of bck/obj on this target and every other one that is up, into h (room for
 * s->n_targets + 1); their count. *unsure: a target did not answer. */
static size_t find_pieces(const smap_t *s, const char *bck, const char *obj, holder_t *h,
                          bool *unsure)
{
    size_t k = 0;
    pthread_mutex_t *lk = store_stripe(bck, obj);
    pthread_mutex_lock(lk);
    char *p = piece_locate_locked(bck, obj);
    if (p && piece_load(p, &h[k].md, &h[k].pc) == 0)
        h[k++].t = NULL;
    pthread_mutex_unlock(lk);
    free(p);
    char *eb = url_encode(bck, ""), *eo = url_encode(obj, "");
    char *path = xasprintf("/v1/internal/ec?bck=%s&obj=%s&what=meta", eb, eo);
    size_t n;
    fanout_req_t *rq = reb_to_others(s, "GET", path, &n);
    fanout_run(rq, n, &(fanout_opts_t){.timeout_ms = 5000, .attempts = 2, .retry_delay_ms = 100});
    *unsure = false;
    for (size_t i = 0; i < n; i++) {
        if (rq[i].rc < 0 || rq[i].resp.status >= 500)
            *unsure = true;
        if (rq[i].rc < 0 || rq[i].resp.status != 200)
            continue;
        if (meta_parse(&rq[i].resp.body, &h[k].md, &h[k].pc) == 0)
            h[k++].t = rq[i].arg;
    }
    fanout_free(rq, n);
    free(path);
    free(eb);
    free(eo);
    return k;
}

static void holders_dispose(holder_t *h, size_t n)
{
    for (size_t i = 0; i < n; i++)
        lom_md_dispose(&h[i].md);
}

/* The piece that h describes, checked against its checksum, in an unnamed file in dir (or the
 * local piece file itself): fd, or -1. */
static int fetch_piece(const holder_t *h, const char *bck, const char *obj, const char *dir)
{
    int64_t len = ec_piece_len(h->md.size, h->pc.d, h->pc.slice);
    int fd = -1;
    if (h->t == NULL) {
        pthread_mutex_t *lk = store_stripe(bck, obj);
        pthread_mutex_lock(lk);
        char *p = piece_locate_locked(bck, obj);
        fd = p ? open(p, O_RDONLY | O_CLOEXEC) : -1;
        pthread_mutex_unlock(lk);
        free(p);
    } else if ((fd = ec_tmp_open(dir)) >= 0) {
        char *eb = url_encode(bck, ""), *eo = url_encode(obj, "");
        char *url = xasprintf("%s/v1/internal/ec?bck=%s&obj=%s", h->t->url, eb, eo);
        httpc_resp_t r;
        httpc_resp_init(&r);
        if (httpc_get_fd(url, fd, 0, &r) < 0 || r.status != 200) {
            close(fd);
            fd = -1;
        }
        httpc_resp_dispose(&r);
        free(url);
        free(eb);
        free(eo);
    }
    char cs[17];
    if (fd >= 0 && (store_checksum(fd, len, cs) < 0 || strcmp(cs, h->pc.scs) != 0)) {
        LOCUS_LOG(LOG_WARNING, "[ec] ais://%s/%s: piece %d on %s is damaged: not used", bck, obj,
                  h->pc.slice, h->t ? h->t->id : cluster_self_id());
        close(fd);
        fd = -1;
    }
    return fd;
}

/* Rebuilds the object of the newest write among h[0..n) into w: 0, -ENODATA (too few good
 * pieces), or -errno. */
static int rebuild(obj_writer_t *w, const holder_t *h, size_t n, size_t best, const char *dir)
{
    const holder_t *b = &h[best];
    int d = b->pc.d, p = b->pc.p, have[EC_MAX_PIECES + 1], got = 0, rc = -ENODATA;
    for (int i = 0; i <= d + p; i++)
        have[i] = -1;
    for (size_t i = 0; i < n && rc == -ENODATA; i++) { /* a full replica is enough */
        if (h[i].pc.slice != 0 || !same_write(&h[i].md, &b->md))
            continue;
        int fd = fetch_piece(&h[i], w->bck, w->obj, dir);
        if (fd >= 0) {
            rc = copy_to_writer(w, fd, 0, b->md.size);
            close(fd);
        }
    }
    for (size_t k = 0; k < 2 * n && rc == -ENODATA && got < d; k++) {
        const holder_t *x = &h[k % n];
        bool data_pass = k < n; /* data slices first: with all of them nothing is decoded */
        if (x->pc.slice == 0 || (x->pc.slice <= d) != data_pass || x->pc.d != d || x->pc.p != p ||
            !same_write(&x->md, &b->md) || have[x->pc.slice] >= 0)
            continue;
        if ((have[x->pc.slice] = fetch_piece(x, w->bck, w->obj, dir)) >= 0)
            got++;
    }
    if (rc == -ENODATA && got == d)
        rc = ec_code_rebuild(b->md.size, d, p, have, dir);
    for (int i = 1; rc == 0 && got == d && i <= d; i++)
        rc = copy_to_writer(w, have[i], 0, ec_piece_len(b->md.size, d, i));
    for (int i = 0; i <= d + p; i++)
        if (have[i] >= 0)
            close(have[i]);
    return rc;
}

int ec_restore(const char *bck, const char *obj, char *err, size_t errlen)
{
    smap_t *s = smap_get(); /* held until the end: the holders point at its nodes */
    holder_t h[s->n_targets + 1];
    bool unsure;
    size_t n = find_pieces(s, bck, obj, h, &unsure);
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (h[i].md.atime_ns > h[best].md.atime_ns)
            best = i;
    int status = 0;
    obj_writer_t w;
    if (n > 0 && reb_deleted_after(bck, obj, h[best].md.atime_ns)) {
        /* deleted here after that write: a piece left on a target that was down does not
         * bring it back (within the tombstones' memory, design §14) */
        snprintf(err, errlen, "ais://%s/%s was deleted", bck, obj);
        status = 404;
    } else if (n == 0) {
        snprintf(err, errlen, "ais://%s/%s: no erasure-coded piece of it %s", bck, obj,
                 unsure ? "answered (a target did not)" : "exists");
        status = unsure ? 503 : 404;
    } else if (store_writer_open(&w, bck, obj, err, errlen) < 0) {
        status = 500;
    } else {
        char *wd = work_dir_of(w.fqn, bck, obj);
        int rc = rebuild(&w, h, n, best, wd);
        free(wd);
        bool kept = false;
        if (rc == 0) {
            status = store_writer_commit_received(&w, &h[best].md, &kept, err, errlen);
        } else {
            store_writer_abort(&w);
            snprintf(err, errlen,
                     "ais://%s/%s cannot be rebuilt: %s (%zu pieces found, %d needed)%s", bck, obj,
                     rc == -ENODATA ? "too few good pieces" : strerror(-rc), n,
                     h[best].pc.slice == 0 ? 1 : h[best].pc.d,
                     unsure ? "; a target did not answer" : "");
            status = rc == -ENODATA && unsure ? 503 : 500;
        }
        if (status == 0)
            LOCUS_LOG(LOG_NOTICE, "[ec] ais://%s/%s rebuilt from its erasure-coded pieces", bck,
                      obj);
    }
    holders_dispose(h, n);
    smap_put(s);
    return status;
}

int ec_repair(const char *bck, const char *obj, const lom_md_t *bad, char *err, size_t errlen)
{
    int rc = store_delete_if(bck, obj, bad); /* the damaged main replica must not win */
    if (rc < 0 && rc != -ENOENT) {
        snprintf(err, errlen, "ais://%s/%s changed while being repaired", bck, obj);
        return 409;
    }
    return ec_restore(bck, obj, err, errlen);
}

/* ---------------------------------------------------------------- full redundancy */

/* Deletes the piece that h describes (only if it is still that one). */
static void drop_piece(const holder_t *h, const char *bck, const char *obj)
{
    if (h->t == NULL) {
        ec_delete_piece_if(bck, obj, h->md.atime_ns, h->pc.slice);
        return;
    }
    char *eb = url_encode(bck, ""), *eo = url_encode(obj, "");
    char *url = xasprintf("%s/v1/internal/ec?bck=%s&obj=%s&atime=%lld&slice=%d", h->t->url, eb, eo,
                          (long long)h->md.atime_ns, h->pc.slice);
    httpc_resp_t r;
    httpc_resp_init(&r);
    httpc_do("DELETE", url, NULL, 0, NULL, 5000, &r);
    httpc_resp_dispose(&r);
    free(url);
    free(eb);
    free(eo);
}

int ec_ensure(const char *bck, const char *obj, int *sent, char *err, size_t errlen)
{
    *sent = 0;
    ec_conf_t c;
    char *fqn;
    int fd;
    lom_md_t md;
    if (!ec_conf(bck, &c))
        return 0;
    if (open_main(bck, obj, &fqn, &fd, &md) < 0)
        return 404;
    smap_t *s = smap_get();
    holder_t h[s->n_targets + 1];
    bool unsure, keep[s->n_targets + 1];
    size_t nh = find_pieces(s, bck, obj, h, &unsure);
    const snode_t *rk[s->n_targets + 1];
    size_t n = ranked_targets(s, bck, obj, rk);
    bool repl = replicated(&c, md.size);
    int np = repl ? c.p : c.d + c.p;
    uint64_t missing = 0;
    memset(keep, 0, sizeof(keep));
    for (int i = 1; i <= np; i++) {
        const snode_t *to = piece_target(rk, n, i);
        bool found = to == NULL; /* not placed: too few targets */
        for (size_t k = 0; k < nh && !found; k++) {
            const holder_t *x = &h[k];
            found = holder_is(x, to) && same_write(&x->md, &md) && x->pc.d == c.d &&
                    x->pc.p == c.p && x->pc.slice == (repl ? 0 : i);
            keep[k] = keep[k] || found;
        }
        if (!found)
            missing |= 1ull << (i - 1);
    }
    int status = 0;
    if (missing) {
        int r = send_pieces(bck, obj, fd, &md, fqn, &c, missing, err, errlen);
        status = r < 0 ? 503 : 0;
        *sent = r < 0 ? 0 : r;
    }
    /* The full set is in place: the other pieces of this write or an older one go (a newer
     * write's, made on another target meanwhile, is not this replica's to judge). */
    for (size_t k = 0; status == 0 && !unsure && k < nh; k++)
        if (!keep[k] && h[k].md.atime_ns <= md.atime_ns)
            drop_piece(&h[k], bck, obj);
    holders_dispose(h, nh);
    smap_put(s);
    close(fd);
    lom_md_dispose(&md);
    free(fqn);
    return status;
}

void ec_delete_piece_if(const char *bck, const char *obj, int64_t atime_ns, int slice)
{
    pthread_mutex_t *lk = store_stripe(bck, obj);
    pthread_mutex_lock(lk);
    char *p = piece_locate_locked(bck, obj);
    lom_md_t md;
    ec_piece_t pc;
    if (p && piece_load(p, &md, &pc) == 0) {
        if (md.atime_ns == atime_ns && pc.slice == slice)
            piece_unlink(p, obj);
        lom_md_dispose(&md);
    }
    pthread_mutex_unlock(lk);
    free(p);
}

/* ---------------------------------------------------------------- /v1/internal/ec */

/* GET: the local piece (?what=meta: its metadata as {"lom","ec"}). */
static void piece_get(http_req_t *req, const char *bck, const char *obj)
{
    pthread_mutex_t *lk = store_stripe(bck, obj);
    pthread_mutex_lock(lk);
    char *p = piece_locate_locked(bck, obj);
    lom_md_t md;
    ec_piece_t pc;
    bool ok = p && piece_load(p, &md, &pc) == 0;
    int fd = ok ? open(p, O_RDONLY | O_CLOEXEC) : -1;
    pthread_mutex_unlock(lk);
    free(p);
    if (fd < 0) {
        if (ok)
            lom_md_dispose(&md);
        http_reply_error(req, 404, "%s: no EC piece of ais://%s/%s", cluster_self_name(), bck, obj);
        return;
    }
    const char *what = http_query(req, "what");
    if (what && strcmp(what, "meta") == 0) {
        close(fd);
        buf_t b;
        buf_init(&b);
        lom_md_encode(&md, &b);
        buf_append(&b, "", 1);
        char meta[EC_PIECE_TEXT];
        ec_piece_format(&pc, meta);
        http_reply_json(req, 200, json_pack("{s:s, s:s}", "lom", b.base, "ec", meta));
        buf_dispose(&b);
    } else {
        int64_t len = ec_piece_len(md.size, pc.d, pc.slice);
        http_send(req, 200, MHD_create_response_from_fd_at_offset64((uint64_t)len, fd, 0));
    }
    lom_md_dispose(&md);
}

/* POST: this target owns bck/obj; rebuild its main replica if it is gone, then bring its pieces
 * to the full set. Answers "rebuilt" when it rebuilt the main replica. */
static void piece_recover(http_req_t *req, const char *bck, const char *obj)
{
    char err[768];
    int st = 0, sent = 0;
    bool rebuilt = !store_exists(bck, obj);
    if (rebuilt)
        st = ec_restore(bck, obj, err, sizeof(err));
    if (st == 0)
        st = ec_ensure(bck, obj, &sent, err, sizeof(err));
    if (st)
        http_reply_error(req, (unsigned)st, "%s", err);
    else
        http_reply_text(req, 200, rebuilt ? "rebuilt" : "");
}

void ec_handle(http_req_t *req)
{
    const char *bck, *obj;
    if (!reb_query_names(req, &bck, &obj))
        return;
    const char *m = req->method;
    if (strcmp(m, "GET") == 0) {
        piece_get(req, bck, obj);
    } else if (strcmp(m, "POST") == 0) {
        piece_recover(req, bck, obj);
    } else if (strcmp(m, "DELETE") == 0) {
        const char *at = http_query(req, "atime"), *sl = http_query(req, "slice");
        char *e1 = NULL, *e2 = NULL;
        long long a = at ? strtoll(at, &e1, 10) : 0;
        long v = sl ? strtol(sl, &e2, 10) : 0;
        if (!at || !sl || *e1 || *e2 || v < 0 || v > EC_MAX_PIECES) {
            http_reply_error(req, 400, "EC piece delete needs atime and slice");
            return;
        }
        ec_delete_piece_if(bck, obj, a, (int)v);
        http_reply(req, 200, NULL, "", 0);
    } else {
        http_reply_error(req, 405, "method %s is not supported for EC pieces", m);
    }
}

/* ---------------------------------------------------------------- the ec-encode job */

typedef struct {
    char **v;
    size_t n, cap;
} names_t;

static int collect(const char *name, const char *fqn, void *arg)
{
    (void)fqn;
    names_t *ns = arg;
    if (ns->n == ns->cap) {
        ns->cap = ns->cap ? ns->cap * 2 : 256;
        ns->v = xrealloc(ns->v, ns->cap * sizeof(char *));
    }
    ns->v[ns->n++] = xstrdup(name);
    return 0;
}

static void names_free(names_t *ns)
{
    for (size_t i = 0; i < ns->n; i++)
        free(ns->v[i]);
    free(ns->v);
}

static void job_error(xact_t *x, const char *obj, const char *msg, int status)
{
    char *full = xasprintf("ais://%s/%s", x->src_bck, obj);
    xact_add_obj_error(x, full, msg, status);
    LOCUS_LOG(LOG_VERBOSE, "job %s[%s]: %s: %s", x->kind, x->id, full, msg);
    free(full);
}

/* A piece held here: its owner rebuilds the main replica if it is gone and completes the
 * pieces (here, or asked over the network); with EC off, the piece goes. */
static void job_piece(xact_t *x, const ec_conf_t *c, const char *obj)
{
    const char *bck = x->src_bck;
    if (!c->enabled) {
        pthread_mutex_t *lk = store_stripe(bck, obj);
        pthread_mutex_lock(lk);
        ec_remove_locked(bck, obj);
        pthread_mutex_unlock(lk);
        x->loc_objs++;
        return;
    }
    if (store_exists(bck, obj))
        return; /* its main replica is here: the walk of main replicas covers it */
    smap_t *s = smap_get();
    const snode_t *owner = smap_owner(s, bck, obj);
    char *url = NULL;
    if (owner && !is_self(owner)) {
        char *eb = url_encode(bck, ""), *eo = url_encode(obj, "");
        url = xasprintf("%s/v1/internal/ec?bck=%s&obj=%s", owner->url, eb, eo);
        free(eb);
        free(eo);
    }
    smap_put(s);
    char err[768] = "";
    int st = 0, sent = 0;
    if (url) {
        httpc_resp_t r;
        httpc_resp_init(&r);
        int rc = httpc_do("POST", url, NULL, 0, NULL, 0, &r);
        st = rc < 0 ? 503 : r.status == 200 ? 0 : (int)r.status;
        if (st == 0 && r.body.len == 7 && memcmp(r.body.base, "rebuilt", 7) == 0)
            x->in_objs++; /* counted by the one holder whose request rebuilt it */
        if (st)
            snprintf(err, sizeof(err), "%.*s", (int)(r.body.len < 500 ? r.body.len : 500),
                     rc < 0        ? r.err
                     : r.body.base ? r.body.base
                                   : "");
        httpc_resp_dispose(&r);
        free(url);
    } else if (owner) {
        st = ec_restore(bck, obj, err, sizeof(err));
        if (st == 0) {
            x->in_objs++;
            st = ec_ensure(bck, obj, &sent, err, sizeof(err));
            x->out_objs += sent;
        }
    }
    if (st && st != 404)
        job_error(x, obj, err, st);
}

void ec_job(xact_t *x)
{
    ec_conf_t c;
    ec_conf(x->src_bck, &c);
    names_t mains = {0}, pieces = {0};
    if (c.enabled)
        store_walk(x->src_bck, "", collect, &mains);
    mpset_t *s = mpath_get();
    for (size_t i = 0; i < mpset_count(s); i++) {
        char *dir = xasprintf("%s/@ais/%s/%%ec", mpset_path(s, i), x->src_bck);
        store_walk_objdir(dir, collect, &pieces);
        free(dir);
    }
    mpath_put(s);
    for (size_t i = 0; i < mains.n && !x->abort; i++) {
        char err[768];
        int sent = 0;
        int st = ec_ensure(x->src_bck, mains.v[i], &sent, err, sizeof(err));
        if (st == 404)
            continue; /* deleted meanwhile */
        x->loc_objs++;
        x->out_objs += sent;
        if (st)
            job_error(x, mains.v[i], err, st);
    }
    for (size_t i = 0; i < pieces.n && !x->abort; i++)
        job_piece(x, &c, pieces.v[i]);
    names_free(&mains);
    names_free(&pieces);
}
