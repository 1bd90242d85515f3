/*
 * store.c - objects on mountpaths: FQN <mpath>/@ais/<bck>/%ob/<obj>, atomic streaming writes
 * through work files in <mpath>/@ais/<bck>/%wk, metadata in an xattr (lom.h), listing walks.
 *
 * DESIGN
 * A commit reads the previous version, sets the new metadata on the work file and renames it
 * over the FQN under a striped lock keyed by the object, so concurrent PUTs of one name get
 * distinct versions and a reader only ever sees a complete object.
 *
 * The work file is unnamed (O_TMPFILE in %wk) when the filesystem and /proc allow it. A new
 * object (the common case: loading a dataset) is then committed with version 1 by one linkat(2)
 * of the file to its FQN, which fails with EEXIST if a previous version is there: only then is
 * the work file named and the commit done as above. That saves the directory entry in %wk and
 * its removal, and the failed look for a previous version: about a quarter of the filesystem's
 * work of a small PUT (docs/benchmarks.md, "PUT path"). While a resilver runs, and for copies
 * another target sent, the named path is taken from the start.
 */
#include "target/internal.h"
#include "cluster/cluster.h"
#include "cluster/meta.h"
#include "common/hrw.h"
#include "common/log.h"
#include "common/names.h"
#include "common/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define N_STRIPES 256
static pthread_mutex_t stripes[N_STRIPES]; /* serialize commit/delete of one object name */
static const config_t *cfg;
/* Work-file ids: a random base read once per process plus a counter, and the pid read once, so
 * that naming a work file costs no system call (it used to cost getrandom and getpid). */
static _Atomic uint64_t work_seq;
static int work_pid;
/* Unnamed work files: off when /proc/self/fd (how one gets linked) is missing, or once a
 * filesystem refused O_TMPFILE. */
static atomic_bool tmpfile_on;

static pthread_mutex_t *stripe_for(const char *bck, const char *obj)
{
    char *u = uname_make(bck, obj);
    uint64_t d = hrw_digest_str(u);
    free(u);
    return &stripes[d % N_STRIPES];
}

pthread_mutex_t *store_stripe(const char *bck, const char *obj)
{
    return stripe_for(bck, obj);
}

void store_barrier(void)
{
    for (int i = 0; i < N_STRIPES; i++) {
        pthread_mutex_lock(&stripes[i]);
        pthread_mutex_unlock(&stripes[i]);
    }
}

/* The HRW mountpath of bck/obj in the current mountpath set (caller frees); *version (may be
 * NULL) receives the set's version. */
static char *mpath_for(const char *bck, const char *obj, int64_t *version)
{
    mpset_t *s = mpath_get();
    char *mp = xstrdup(mpset_hrw(s, bck, obj));
    if (version)
        *version = s->version;
    mpath_put(s);
    return mp;
}

/* The last gate before a name becomes a path: whatever the caller checked, a name with "..",
 * a leading '/', or bytes that are not UTF-8 never reaches the filesystem (docs/security.md). */
static bool names_ok(const char *bck, const char *obj)
{
    const char *why = name_check(bck, obj);
    if (why == NULL)
        return true;
    LOCUS_LOG(LOG_VERBOSE, "[store] refused a name: %s", why);
    return false;
}

char *store_fqn(const char *bck, const char *obj)
{
    if (!names_ok(bck, obj))
        return NULL;
    char *mp = mpath_for(bck, obj, NULL);
    char *fqn = fqn_make(mp, bck, obj);
    free(mp);
    struct stat st;
    if (!mpath_settled() && lstat(fqn, &st) < 0) { /* a resilver may be moving it */
        pthread_mutex_t *lk = stripe_for(bck, obj);
        pthread_mutex_lock(lk);
        char *there = mpath_locate_locked(bck, obj);
        pthread_mutex_unlock(lk);
        if (there) {
            free(fqn);
            fqn = there;
        }
    }
    return fqn;
}

int store_init(char *err, size_t errlen)
{
    cfg = cluster_config();
    work_seq = random_u64();
    work_pid = (int)getpid();
    store_tmpfile_enable(true);
    for (int i = 0; i < N_STRIPES; i++)
        pthread_mutex_init(&stripes[i], NULL);
    if (mpath_init(err, errlen) < 0)
        return -1;
    store_cleanup_work();
    mpath_resume();
    return 0;
}

/* ---------------------------------------------------------------- writes */

/* The next work file name in wd (caller frees): unique within the process by the counter,
 * across restarts by the random base. */
static char *work_name(const char *wd)
{
    return xasprintf("%s/%016llx.%d", wd, (unsigned long long)atomic_fetch_add(&work_seq, 1),
                     work_pid);
}

/* Creates a fresh work file in wd; its path into *work (caller frees). fd or -errno. */
static int work_create(const char *wd, char **work)
{
    int fd = -1;
    /* EEXIST only for a leftover of another process with the same pid and base: next id. */
    for (int tries = 0; fd < 0 && tries < 4; tries++) {
        free(*work);
        *work = work_name(wd);
        fd = open(*work, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    return fd < 0 ? -errno : fd;
}

bool store_tmpfile_enabled(void)
{
    return atomic_load(&tmpfile_on);
}

void store_tmpfile_enable(bool on)
{
    atomic_store(&tmpfile_on, on && access("/proc/self/fd", X_OK) == 0);
}

/* Links the open file fd at path (a new name; EEXIST if taken): 0 or -errno. */
static int link_fd(int fd, const char *path)
{
    char proc[40];
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    return linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0 ? 0 : -errno;
}

void store_tmpfile_probe(const char *dir)
{
    if (!atomic_load(&tmpfile_on))
        return;
    char *probe = xasprintf("%s/.locus-tmpfile-probe", dir);
    unlink(probe);
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);
    int rc = fd < 0 ? -errno : link_fd(fd, probe);
    if (fd >= 0)
        close(fd);
    unlink(probe);
    if (rc < 0) {
        LOCUS_LOG(LOG_NOTICE, "store: %s: no unnamed work files (%s): named ones from now on", dir,
                  strerror(-rc));
        atomic_store(&tmpfile_on, false);
    }
    free(probe);
}

/* An unnamed work file in wd, or a named one (*work) where unnamed ones are off. fd or -errno. */
static int work_open(const char *wd, char **work)
{
    if (atomic_load(&tmpfile_on)) {
        int fd = open(wd, O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);
        if (fd >= 0 || errno == ENOENT)
            return fd < 0 ? -errno : fd;
        if (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL) {
            LOCUS_LOG(LOG_NOTICE, "store: %s refuses O_TMPFILE (%s): named work files from now on",
                      wd, strerror(errno));
            atomic_store(&tmpfile_on, false);
        } else {
            return -errno;
        }
    }
    return work_create(wd, work);
}

int store_writer_name(obj_writer_t *w)
{
    if (w->work != NULL)
        return 0;
    for (int tries = 0; tries < 4; tries++) {
        w->work = work_name(w->wd);
        int rc = link_fd(w->fd, w->work);
        if (rc == 0)
            return 0;
        free(w->work);
        w->work = NULL;
        if (rc != -EEXIST)
            return rc;
    }
    return -EEXIST;
}

int store_writer_open(obj_writer_t *w, const char *bck, const char *obj, char *err, size_t errlen)
{
    memset(w, 0, sizeof(*w));
    w->fd = -1;
    if (!names_ok(bck, obj)) {
        snprintf(err, errlen, "invalid bucket or object name: %s", name_check(bck, obj));
        return -EINVAL;
    }
    int64_t mp_version;
    char *mp = mpath_for(bck, obj, &mp_version);
    char *wd = fqn_workdir(mp, bck);
    /* The work dir exists after the first PUT: create it only when missing. */
    int rc = work_open(wd, &w->work);
    if (rc == -ENOENT) {
        rc = mkdir_p(wd, 0755);
        if (rc == 0)
            rc = work_open(wd, &w->work);
    }
    if (rc < 0) {
        snprintf(err, errlen, "cannot create a work file in %s: %s", wd, strerror(-rc));
        free(w->work);
        w->work = NULL;
        free(wd);
        free(mp);
        return rc;
    }
    w->wd = wd;
    w->fd = rc;
    w->fqn = fqn_make(mp, bck, obj);
    w->mp_version = mp_version;
    free(mp);
    w->bck = xstrdup(bck);
    w->obj = xstrdup(obj);
    w->xx = XXH64_createState();
    XXH64_reset(w->xx, 0);
    return 0;
}

int store_writer_write(obj_writer_t *w, const void *p, size_t n)
{
    int rc = write_all(w->fd, p, n);
    if (rc < 0)
        return rc;
    XXH64_update(w->xx, p, n);
    w->written += (int64_t)n;
    return 0;
}

static void writer_dispose(obj_writer_t *w)
{
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
    if (w->xx)
        XXH64_freeState(w->xx);
    free(w->work);
    free(w->wd);
    free(w->fqn);
    free(w->bck);
    free(w->obj);
    memset(w, 0, sizeof(*w));
    w->fd = -1;
}

void store_writer_abort(obj_writer_t *w)
{
    if (w->work)
        unlink(w->work);
    writer_dispose(w);
}

void store_prune_dirs(const char *fqn, const char *stop)
{
    char *p = xstrdup(fqn);
    size_t sl = strlen(stop);
    for (;;) {
        char *slash = strrchr(p, '/');
        if (slash == NULL)
            break;
        *slash = '\0';
        if (strlen(p) <= sl)
            break;
        if (rmdir(p) < 0)
            break;
    }
    free(p);
}

/* Links the work file at fd to path, creating path's directory if it is the first object under
 * it: 0 or -errno (-EEXIST: path is taken). */
static int link_new(int fd, const char *path)
{
    int rc = link_fd(fd, path);
    if (rc == -ENOENT) {
        char *dir = xstrdup(path);
        rc = mkdir_p(dirname(dir), 0755);
        free(dir);
        if (rc == 0)
            rc = link_fd(fd, path);
    }
    return rc;
}

/* Renames the work file over the FQN with md (the object's stripe lock held). received: md
 * comes from another target (rebalance, get-from-neighbor): it keeps its version, and a local
 * copy written at the same time or later wins (*kept; the work file is dropped). Otherwise the
 * version is the previous one + 1. While a resilver runs, the previous copy may still be on
 * another mountpath (stale): it counts as the previous one, and is removed after the commit so
 * that no resilver moves it over the new one. 0 or -errno. */
static int writer_install(obj_writer_t *w, lom_md_t *md, bool received, bool *kept)
{
    /* the set changed since the open: the object goes to its HRW mountpath of the new one */
    int rc = mpath_writer_retarget(w);
    if (rc < 0)
        return rc;
    if (w->work == NULL && !received && mpath_settled()) {
        /* unnamed: a new object is one link away; EEXIST says there is a previous version */
        md->version = 1;
        rc = lom_md_store_fd(w->fd, md);
        if (rc == 0)
            rc = link_new(w->fd, w->fqn);
        if (rc != -EEXIST)
            return rc;
    }
    if ((rc = store_writer_name(w)) < 0)
        return rc;
    lom_md_t old;
    lom_md_init(&old);
    char *stale = NULL;
    bool have = lom_md_load(w->fqn, &old) == 0;
    int64_t stale_version = have ? 0 : mpath_stale_version_locked(w->bck, w->obj, w->fqn, &stale);
    if (!have && stale)
        have = lom_md_load(stale, &old) == 0;
    if (received && have && old.atime_ns >= md->atime_ns) {
        *kept = true;
        unlink(w->work);
        goto out;
    }
    if (!received)
        md->version = have ? old.version + 1 : stale_version + 1;
    rc = lom_md_store_fd(w->fd, md);
    if (rc == 0 && rename(w->work, w->fqn) < 0) {
        rc = -errno;
        if (rc == -ENOENT) { /* first object under this directory */
            char *dir = xstrdup(w->fqn);
            rc = mkdir_p(dirname(dir), 0755);
            free(dir);
            if (rc == 0 && rename(w->work, w->fqn) < 0)
                rc = -errno;
        }
    }
    if (rc == 0 && stale)
        mpath_drop_stale_locked(stale, w->obj);
out:
    free(stale);
    lom_md_dispose(&old);
    return rc;
}

/* Commits with md (see writer_install); the HTTP status or 0. */
static int writer_commit(obj_writer_t *w, lom_md_t *md, bool received, bool *kept, char *err,
                         size_t errlen)
{
    int status = 0;
    if (cfg->fsync && fsync(w->fd) < 0) {
        snprintf(err, errlen, "fsync of the work file of %s: %s", w->fqn, strerror(errno));
        status = 500;
        goto out;
    }
    pthread_mutex_t *lk = stripe_for(w->bck, w->obj);
    pthread_mutex_lock(lk);
    int rc = writer_install(w, md, received, kept);
    pthread_mutex_unlock(lk);
    if (rc == -EISDIR || rc == -ENOTDIR || rc == -EEXIST || rc == -ENOTEMPTY) {
        snprintf(err, errlen,
                 "object name ais://%s/%s clashes with an existing object or directory name",
                 w->bck, w->obj);
        status = 409;
    } else if (rc < 0) {
        snprintf(err, errlen, "cannot store ais://%s/%s: %s", w->bck, w->obj, strerror(-rc));
        status = 500;
    } else if (cfg->fsync && !*kept) {
        char *dir = xstrdup(w->fqn);
        int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        free(dir);
    }
out:
    if (status != 0) {
        if (w->work != NULL)
            unlink(w->work);
        char *objdir = xasprintf("%.*s", (int)(strlen(w->fqn) - strlen(w->obj) - 1), w->fqn);
        store_prune_dirs(w->fqn, objdir);
        free(objdir);
    }
    /* the bucket's redundancy, from one look at the BMD */
    bmd_t *b = status == 0 && !*kept ? bmd_get() : NULL;
    json_t *props = b ? json_object_get(bmd_bucket(b, w->bck), "props") : NULL;
    int copies = mirror_copies_props(props);
    ec_conf_t ec;
    bool coded = ec_conf_props(props, &ec);
    if (b)
        bmd_put(b);
    if (copies > 1) /* n-way mirror: the copies follow the new main replica */
        mirror_write(w->bck, w->obj, w->fqn, copies);
    char *bck = coded && !received ? xstrdup(w->bck) : NULL;
    char *obj = bck ? xstrdup(w->obj) : NULL;
    writer_dispose(w);
    if (bck) { /* erasure coding: the pieces go before the write is acknowledged */
        char eerr[768];
        if (ec_encode(bck, obj, &ec, eerr, sizeof(eerr)) != 0)
            LOCUS_LOG(LOG_WARNING, "%s: ais://%s/%s stored without its full EC redundancy: %s",
                      cluster_self_name(), bck, obj, eerr);
        free(bck);
        free(obj);
    }
    return status;
}

int store_writer_commit(obj_writer_t *w, json_t *custom, char *err, size_t errlen)
{
    lom_md_t md;
    lom_md_init(&md);
    md.size = w->written;
    snprintf(md.cs_type, sizeof(md.cs_type), "xxhash");
    snprintf(md.cs_val, sizeof(md.cs_val), "%016llx", (unsigned long long)XXH64_digest(w->xx));
    md.atime_ns = time_now_ns();
    if (custom)
        md.custom = json_incref(custom);
    bool kept = false;
    int status = writer_commit(w, &md, false, &kept, err, errlen);
    lom_md_dispose(&md);
    return status;
}

int store_writer_commit_received(obj_writer_t *w, const lom_md_t *in, bool *kept, char *err,
                                 size_t errlen)
{
    *kept = false;
    char cs[64];
    snprintf(cs, sizeof(cs), "%016llx", (unsigned long long)XXH64_digest(w->xx));
    if (w->written != in->size || (strcmp(in->cs_type, "xxhash") == 0 && strcmp(cs, in->cs_val))) {
        snprintf(err, errlen,
                 "ais://%s/%s arrived damaged: %lld bytes with checksum %s, expected %lld "
                 "bytes with %s",
                 w->bck, w->obj, (long long)w->written, cs, (long long)in->size, in->cs_val);
        store_writer_abort(w);
        return 400;
    }
    lom_md_t md = *in;
    md.custom = in->custom ? json_deep_copy(in->custom) : NULL;
    int status = writer_commit(w, &md, true, kept, err, errlen);
    lom_md_dispose(&md);
    return status;
}

int store_writer_copy_fd(obj_writer_t *w, int fd, char *err, size_t errlen)
{
    char *chunk = xmalloc(1 << 20);
    int rc = 0;
    for (;;) {
        ssize_t n = read(fd, chunk, 1 << 20);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, errlen, "read: %s", strerror(errno));
            rc = -1;
            break;
        }
        if (n == 0)
            break;
        if (store_writer_write(w, chunk, (size_t)n) < 0) {
            snprintf(err, errlen, "write of the work file of %s: %s", w->fqn, strerror(errno));
            rc = -1;
            break;
        }
    }
    free(chunk);
    return rc;
}

int store_copy_local(const char *src_fqn, int64_t size, const char *bck, const char *obj, char *err,
                     size_t errlen)
{
    obj_writer_t w;
    int rc = store_writer_open(&w, bck, obj, err, errlen);
    if (rc < 0)
        return 500;
    int src = open(src_fqn, O_RDONLY | O_CLOEXEC);
    if (src < 0) {
        snprintf(err, errlen, "cannot open %s: %s", src_fqn, strerror(errno));
        store_writer_abort(&w);
        return errno == ENOENT ? 404 : 500;
    }
    rc = store_writer_copy_fd(&w, src, err, errlen);
    close(src);
    if (rc < 0) {
        store_writer_abort(&w);
        return 500;
    }
    (void)size;
    return store_writer_commit(&w, NULL, err, errlen);
}

/* ---------------------------------------------------------------- reads, deletes */

int store_open(const char *bck, const char *obj, int *fdp, lom_md_t *md)
{
    char *fqn = store_fqn(bck, obj);
    if (fqn == NULL)
        return -EINVAL;
    int rc = store_open_fqn(fqn, bck, obj, fdp, md);
    free(fqn);
    return rc;
}

/* fd if it is a regular file (its fstat in st), else closed; -errno of the open that made fd
 * (< 0) otherwise, -ENOENT for a path through or to a directory. */
static int regular_fd(int fd, struct stat *st)
{
    if (fd < 0)
        return errno == ENOTDIR || errno == EISDIR ? -ENOENT : -errno;
    if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
        close(fd);
        return -ENOENT; /* a directory (prefix of other names) is not an object */
    }
    return fd;
}

int store_open_file(const char *fqn, struct stat *st)
{
    return regular_fd(open(fqn, O_RDONLY | O_CLOEXEC), st);
}

void store_md_of(int fd, const struct stat *st, lom_md_t *md)
{
    if (lom_md_load_fd(fd, md) < 0) {
        /* A file without metadata was not written by us: recover what we can. */
        lom_md_init(md);
        snprintf(md->cs_type, sizeof(md->cs_type), "none");
        md->version = 1;
        md->atime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
    }
    md->size = st->st_size;
}

/* The object's file at fqn, else wherever a resilver may be moving it: fd or -errno. */
static int open_object(const char *fqn, const char *bck, const char *obj, struct stat *st)
{
    int fd = store_open_file(fqn, st);
    if (fd == -ENOENT) /* elsewhere while a resilver runs? */
        fd = regular_fd(mpath_open_anywhere(bck, obj), st);
    return fd;
}

int store_open_fqn(const char *fqn, const char *bck, const char *obj, int *fdp, lom_md_t *md)
{
    struct stat st;
    int fd = open_object(fqn, bck, obj, &st);
    if (fd < 0)
        return fd;
    store_md_of(fd, &st, md);
    *fdp = fd;
    return 0;
}

int store_open_data(const char *bck, const char *obj, int *fdp, struct stat *st)
{
    char *fqn = store_fqn(bck, obj);
    if (fqn == NULL)
        return -EINVAL;
    int fd = open_object(fqn, bck, obj, st);
    free(fqn);
    if (fd < 0)
        return fd;
    *fdp = fd;
    return 0;
}

int store_checksum(int fd, int64_t size, char out[17])
{
    XXH64_state_t *st = XXH64_createState();
    XXH64_reset(st, 0);
    char *buf = xmalloc(1 << 20);
    int64_t off = 0;
    ssize_t n = 0;
    while (off < size && (n = pread(fd, buf, 1 << 20, (off_t)off)) > 0) {
        XXH64_update(st, buf, (size_t)n);
        off += n;
    }
    free(buf);
    snprintf(out, 17, "%016llx", (unsigned long long)XXH64_digest(st));
    XXH64_freeState(st);
    return off == size ? 0 : n < 0 ? -errno : -EIO;
}

/* Deletes bck/obj wherever it is (its HRW mountpath, or another one while a resilver runs);
 * with expect, only if it is still that copy (-ESTALE otherwise). 0 or -errno. */
static int delete_copy(const char *bck, const char *obj, const lom_md_t *expect)
{
    if (!names_ok(bck, obj))
        return -EINVAL;
    pthread_mutex_t *lk = stripe_for(bck, obj);
    pthread_mutex_lock(lk);
    char *fqn = mpath_locate_locked(bck, obj);
    int rc = fqn == NULL ? -ENOENT : 0;
    lom_md_t md;
    if (rc == 0 && expect) {
        if (lom_md_load(fqn, &md) < 0) {
            rc = -ESTALE; /* not ours to judge: leave it */
        } else {
            if (md.atime_ns != expect->atime_ns || strcmp(md.cs_val, expect->cs_val) != 0)
                rc = -ESTALE;
            lom_md_dispose(&md);
        }
    }
    if (rc == 0 && unlink(fqn) < 0)
        rc = -errno;
    if (rc == 0 || (rc == -ENOENT && expect == NULL))
        mirror_remove_locked(bck, obj); /* its copies go with it */
    if (expect == NULL) /* a delete, not a move: its erasure-coded piece here goes too */
        ec_remove_locked(bck, obj);
    pthread_mutex_unlock(lk);
    if (rc == 0) {
        char *objdir = xasprintf("%.*s", (int)(strlen(fqn) - strlen(obj) - 1), fqn);
        store_prune_dirs(fqn, objdir);
        free(objdir);
    }
    free(fqn);
    return rc;
}

int store_delete(const char *bck, const char *obj)
{
    return delete_copy(bck, obj, NULL);
}

int store_delete_if(const char *bck, const char *obj, const lom_md_t *expect)
{
    return delete_copy(bck, obj, expect);
}

bool store_exists(const char *bck, const char *obj)
{
    char *fqn = store_fqn(bck, obj);
    struct stat st;
    bool ok = fqn != NULL && stat(fqn, &st) == 0 && S_ISREG(st.st_mode);
    free(fqn);
    return ok;
}

/* ---------------------------------------------------------------- walks and listing */

typedef struct {
    store_walk_cb cb;
    void *arg;
    const char *prefix;
    size_t plen;
    bool stop;
} walk_t;

/* rel is the object-name prefix of dir ("" at the %ob root). */
static void walk_dir(walk_t *wk, const char *dir, const char *rel)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *de;
    while (!wk->stop && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char *name = rel[0] ? xasprintf("%s/%s", rel, de->d_name) : xstrdup(de->d_name);
        size_t nl = strlen(name);
        /* Prune subtrees that cannot match the prefix. */
        size_t cmp = nl < wk->plen ? nl : wk->plen;
        if (strncmp(name, wk->prefix, cmp) != 0) {
            free(name);
            continue;
        }
        char *path = xasprintf("%s/%s", dir, de->d_name);
        unsigned char type = de->d_type;
        if (type == DT_UNKNOWN) {
            struct stat st;
            type = lstat(path, &st) == 0 ? (S_ISDIR(st.st_mode) ? DT_DIR : DT_REG) : DT_UNKNOWN;
        }
        if (type == DT_DIR)
            walk_dir(wk, path, name);
        else if (type == DT_REG && nl >= wk->plen && name_check_object(name, nl) != NULL)
            LOCUS_LOG(LOG_WARNING, "[store] skipping %s: not a valid object name", path);
        else if (type == DT_REG && nl >= wk->plen)
            wk->stop = wk->cb(name, path, wk->arg) != 0;
        free(path);
        free(name);
    }
    closedir(d);
}

void store_walk_objdir(const char *objdir, store_walk_cb cb, void *arg)
{
    walk_t wk = {cb, arg, "", 0, false};
    walk_dir(&wk, objdir, "");
}

void store_walk(const char *bck, const char *prefix, store_walk_cb cb, void *arg)
{
    walk_t wk = {cb, arg, prefix ? prefix : "", prefix ? strlen(prefix) : 0, false};
    if (name_check_bucket(bck) != NULL)
        return;
    mpset_t *s = mpath_get();
    for (size_t i = 0; i < mpset_count(s) && !wk.stop; i++) {
        char *od = fqn_objdir(mpset_path(s, i), bck);
        walk_dir(&wk, od, "");
        free(od);
    }
    mpath_put(s);
}

typedef struct {
    const char *after;
    char **names;
    char **fqns;
    size_t n, cap;
} collect_t;

static int collect_cb(const char *name, const char *fqn, void *arg)
{
    collect_t *c = arg;
    if (c->after && c->after[0] && strcmp(name, c->after) <= 0)
        return 0;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 256;
        c->names = xrealloc(c->names, c->cap * sizeof(char *));
        c->fqns = xrealloc(c->fqns, c->cap * sizeof(char *));
    }
    c->names[c->n] = xstrdup(name);
    c->fqns[c->n] = xstrdup(fqn);
    c->n++;
    return 0;
}

static int cmp_idx_names(const void *a, const void *b, void *arg)
{
    char **names = arg;
    return strcmp(names[*(const size_t *)a], names[*(const size_t *)b]);
}

void store_list(const char *bck, const char *prefix, const char *after, size_t limit, int props,
                lso_page_t *out)
{
    collect_t c = {after, NULL, NULL, 0, 0};
    store_walk(bck, prefix, collect_cb, &c);
    size_t *idx = xcalloc(c.n + 1, sizeof(size_t));
    for (size_t i = 0; i < c.n; i++)
        idx[i] = i;
    qsort_r(idx, c.n, sizeof(size_t), cmp_idx_names, c.names);
    size_t taken = 0;
    for (size_t k = 0; k < c.n && taken < limit; k++) {
        size_t i = idx[k];
        /* a resilver moving an object between mountpaths: the walk may meet it twice */
        if (k > 0 && strcmp(c.names[i], c.names[idx[k - 1]]) == 0)
            continue;
        taken++;
        lso_entry_t e;
        memset(&e, 0, sizeof(e));
        e.name = c.names[i];
        e.flags = LSO_ENTRY_CACHED;
        char cs[80] = "", ver[32] = "", at[64] = "", loc[300] = "";
        if (props & ~LSO_PROP_NAME) {
            lom_md_t md;
            struct stat st;
            if (stat(c.fqns[i], &st) == 0)
                e.size = st.st_size;
            if (lom_md_load(c.fqns[i], &md) == 0) {
                snprintf(cs, sizeof(cs), "%s", md.cs_val);
                snprintf(ver, sizeof(ver), "%lld", (long long)md.version);
                time_t sec = (time_t)(md.atime_ns / 1000000000LL);
                struct tm tm;
                gmtime_r(&sec, &tm);
                strftime(at, sizeof(at), "%d %b %y %H:%M UTC", &tm);
                e.custom = lom_md_custom_header(&md);
                lom_md_dispose(&md);
            }
            if (props & LSO_PROP_CHECKSUM && cs[0])
                e.checksum = cs;
            if (props & LSO_PROP_VERSION && ver[0])
                e.version = ver;
            if (props & LSO_PROP_ATIME && at[0])
                e.atime = at;
            if (props & LSO_PROP_LOCATION) {
                snprintf(loc, sizeof(loc), "%s:%.*s", cluster_self_name(),
                         (int)(strlen(c.fqns[i]) - strlen(c.names[i])), c.fqns[i]);
                e.location = loc;
            }
            if (props & LSO_PROP_COPIES) /* the main replica and its mirror copies here */
                e.copies = (int32_t)(1 + mirror_present(bck, c.names[i], NULL));
            if (!(props & LSO_PROP_CUSTOM)) {
                free(e.custom);
                e.custom = NULL;
            }
        }
        lso_page_add(out, &e);
        free(e.custom);
    }
    for (size_t i = 0; i < c.n; i++) {
        free(c.names[i]);
        free(c.fqns[i]);
    }
    free(c.names);
    free(c.fqns);
    free(idx);
}

void store_remove_bucket(const char *bck)
{
    if (name_check_bucket(bck) != NULL) { /* the tree below would not be the bucket's */
        LOCUS_LOG(LOG_WARNING, "[store] refused to remove a bucket with an invalid name");
        return;
    }
    mpset_t *s = mpath_get();
    for (size_t i = 0; i < mpset_count(s); i++) {
        const char *mp = mpset_path(s, i);
        char *bd = fqn_bckdir(mp, bck);
        /* Rename first so the bucket vanishes at once, then delete at leisure. */
        char id[13];
        random_id(id, 12);
        char *trash = xasprintf("%s/@ais/.trash-%s", mp, id);
        const char *victim = rename(bd, trash) == 0 ? trash : bd;
        int rc = remove_tree(victim);
        if (rc < 0)
            LOCUS_LOG(LOG_WARNING, "[store] removing %s: %s", victim, strerror(-rc));
        free(trash);
        free(bd);
    }
    mpath_put(s);
}

void store_cleanup_work(void)
{
    mpset_t *s = mpath_get();
    for (size_t i = 0; i < mpset_count(s); i++) {
        char *root = xasprintf("%s/@ais", mpset_path(s, i));
        DIR *d = opendir(root);
        if (d) {
            struct dirent *de;
            while ((de = readdir(d)) != NULL) {
                if (de->d_name[0] == '.' && (de->d_name[1] == '\0' || de->d_name[1] == '.'))
                    continue;
                char *p = de->d_name[0] == '.' ? xasprintf("%s/%s", root, de->d_name)
                                               : xasprintf("%s/%s/%%wk", root, de->d_name);
                int rc = remove_tree(p); /* leftover work files and trash */
                if (rc < 0)
                    LOCUS_LOG(LOG_WARNING, "[store] cleaning %s: %s", p, strerror(-rc));
                else
                    LOCUS_LOG(LOG_DEBUG, "[store] cleaned %s", p);
                free(p);
            }
            closedir(d);
        }
        free(root);
    }
    mpath_put(s);
}
