/*
 * resilver.c - the local job (kind "resilver") that puts every object of this target on its
 * HRW mountpath after the mountpath set changed (docs/design.md §5).
 *
 * DESIGN
 * One thread per resilver. A newer change aborts the running one; the new thread joins the old
 * before it starts, so one resilver runs at a time. It takes every stripe lock once (after that,
 * no commit of the old set is still on its way), then walks every mountpath of its set (enabled,
 * detaching, disabled) bucket by bucket, streaming (no name lists), and moves each object whose
 * HRW mountpath is another one: under the object's stripe lock, by rename(2), or on another
 * filesystem by a copy to a work file (data and metadata xattr, fsync) renamed into place before
 * the source is unlinked. A reader never sees a partial object, and a miss on the HRW mountpath
 * looks at the others under the same lock (mpath.c), so a GET never misses a moving object.
 * Detaching and disabled mountpaths are walked again until a walk finds nothing; the emptied
 * detaching ones then leave the set. In a mirrored bucket every object it meets also gets its
 * copies on distinct enabled mountpaths again (mirror_write: a main replica that moved may now
 * sit beside its copy, and a copy on a mountpath that left is gone).
 */
#include "cluster/cluster.h"
#include "cluster/meta.h"
#include "common/json.h"
#include "common/log.h"
#include "common/names.h"
#include "common/util.h"
#include "target/internal.h"
#include "xact/xact.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define RESILVER_RECHECKS 3 /* walks of a detaching/disabled mountpath after the first */

typedef struct {
    xact_t *x;
    mpset_t *s;
    pthread_t prev;
    bool have_prev;
    int64_t found; /* objects off their HRW mountpath seen by the current walk */
} rs_t;

static pthread_mutex_t rs_lock = PTHREAD_MUTEX_INITIALIZER;
static xact_t *last_x;    /* the newest resilver (referenced) */
static pthread_t last_th; /* its thread, joinable */
static bool have_th;

/* ---------------------------------------------------------------- one object */

static void prune_up(const char *fqn, const char *stop)
{
    char *p = xstrdup(fqn);
    size_t sl = strlen(stop);
    char *slash;
    while ((slash = strrchr(p, '/')) != NULL) {
        *slash = '\0';
        if (strlen(p) <= sl || rmdir(p) < 0)
            break;
    }
    free(p);
}

/* rename(2) that creates dst's parent directories when missing. 0 or -errno. */
static int rename_mkdir(const char *src, const char *dst)
{
    if (rename(src, dst) == 0)
        return 0;
    if (errno != ENOENT)
        return -errno;
    char *dir = xstrdup(dst);
    int rc = mkdir_p(dirname(dir), 0755);
    free(dir);
    if (rc == 0 && rename(src, dst) < 0)
        rc = -errno;
    return rc;
}

/* src -> dst on another filesystem: copy data and metadata into a work file of dst_mp, fsync,
 * rename into place, then unlink src. 0 or -errno (src untouched). */
static int copy_move(const char *src, const char *dst, const char *dst_mp, const char *bck)
{
    char *wd = fqn_workdir(dst_mp, bck);
    char *work = xasprintf("%s/%016llx.rs", wd, (unsigned long long)random_u64());
    int rc = mkdir_p(wd, 0755);
    int sfd = rc == 0 ? open(src, O_RDONLY | O_CLOEXEC) : -1;
    if (rc == 0 && sfd < 0)
        rc = -errno;
    int wfd = rc == 0 ? mpath_copy_new(sfd, work) : -1;
    if (rc == 0 && wfd < 0)
        rc = wfd;
    if (rc == 0) {
        char md[65536];
        ssize_t n = fgetxattr(sfd, LOM_XATTR, md, sizeof(md));
        if (n < 0 && errno != ENODATA)
            rc = -errno;
        else if (n >= 0 && fsetxattr(wfd, LOM_XATTR, md, (size_t)n, 0) < 0)
            rc = -errno;
        if (rc == 0 && fsync(wfd) < 0)
            rc = -errno;
        if (rc == 0)
            rc = rename_mkdir(work, dst);
        if (rc < 0)
            unlink(work);
    }
    if (wfd >= 0)
        close(wfd);
    if (sfd >= 0)
        close(sfd);
    if (rc == 0) {
        char *dir = xstrdup(dst);
        int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        free(dir);
        unlink(src);
    }
    free(work);
    free(wd);
    return rc;
}

static int64_t version_of(const char *fqn)
{
    lom_md_t md;
    if (lom_md_load(fqn, &md) < 0)
        return 0;
    int64_t v = md.version;
    lom_md_dispose(&md);
    return v;
}

/* With the stripe lock held: moves src (on src_mp) to dst_mp. 1 moved, 0 nothing to do, or
 * -errno. A copy already on dst_mp (a newer PUT) wins unless src has the higher version. */
static int move_locked(const char *src, const char *src_mp, const char *dst_mp, const char *bck,
                       const char *obj, int64_t *bytes)
{
    struct stat st, dt;
    if (lstat(src, &st) < 0 || !S_ISREG(st.st_mode))
        return 0; /* deleted or moved meanwhile */
    char *dst = fqn_make(dst_mp, bck, obj);
    int rc = 1;
    if (lstat(dst, &dt) == 0 && S_ISREG(dt.st_mode) && version_of(src) <= version_of(dst)) {
        unlink(src); /* dst is newer: the stale copy goes */
    } else {
        int r = rename_mkdir(src, dst);
        if (r == -EXDEV)
            r = copy_move(src, dst, dst_mp, bck);
        if (r < 0)
            rc = r;
        else
            *bytes = st.st_size;
    }
    if (rc > 0) {
        char *od = fqn_objdir(src_mp, bck);
        prune_up(src, od);
        free(od);
    }
    free(dst);
    return rc;
}

/* The object's mirror copies (copies > 1 in the bucket's props) put back on distinct mountpaths
 * of the set: the main replica's moved, and a copy may be beside it now, or on a mountpath that
 * left. Copies already in place stay as they are. */
static void mirror_fix(rs_t *r, const char *bck, const char *obj, const char *mp, int copies)
{
    if (copies < 2 || mpath_version() != r->s->version)
        return;
    char *fqn = fqn_make(mp, bck, obj);
    mirror_write(bck, obj, fqn, copies);
    free(fqn);
}

static void move_one(rs_t *r, const char *mp, const char *bck, const char *obj, const char *fqn,
                     int copies)
{
    const char *dst_mp = mpset_hrw(r->s, bck, obj);
    if (strcmp(dst_mp, mp) == 0) {
        mirror_fix(r, bck, obj, mp, copies);
        return;
    }
    r->found++;
    int64_t bytes = 0;
    pthread_mutex_t *lk = store_stripe(bck, obj);
    pthread_mutex_lock(lk);
    /* a newer set (this job is being aborted) may place it elsewhere: leave it to the next job */
    int rc = mpath_version() == r->s->version ? move_locked(fqn, mp, dst_mp, bck, obj, &bytes) : 0;
    pthread_mutex_unlock(lk);
    if (rc > 0) {
        r->x->loc_objs++;
        r->x->loc_bytes += bytes;
        mirror_fix(r, bck, obj, dst_mp, copies);
    } else if (rc < 0) {
        char *u = uname_make(bck, obj);
        char msg[512];
        snprintf(msg, sizeof(msg), "cannot move %s to %s: %s", fqn, dst_mp, strerror(-rc));
        LOCUS_LOG(LOG_WARNING, "[resilver %s] %s", r->x->id, msg);
        xact_add_obj_error(r->x, u, msg, 500);
        free(u);
    }
}

/* ---------------------------------------------------------------- walks */

typedef struct {
    rs_t *r;
    const char *mp, *bck;
    int copies; /* the bucket's mirror copies */
} rs_walk_t;

static int walk_cb(const char *name, const char *fqn, void *arg)
{
    rs_walk_t *w = arg;
    if (w->r->x->abort)
        return 1;
    move_one(w->r, w->mp, w->bck, name, fqn, w->copies);
    return 0;
}

static bool bucket_known(const char *bck)
{
    bmd_t *b = bmd_get();
    bool ok = bmd_bucket(b, bck) != NULL;
    bmd_put(b);
    return ok;
}

/* Walks every bucket of mp; returns how many objects off their HRW mountpath it saw. */
static int64_t walk_mpath(rs_t *r, const char *mp)
{
    r->found = 0;
    char *root = xasprintf("%s/@ais", mp);
    DIR *d = opendir(root);
    struct dirent *de;
    while (d && !r->x->abort && (de = readdir(d)) != NULL) {
        /* dot entries are trash; a bucket that is gone is being removed */
        if (de->d_name[0] == '.' || name_check_bucket(de->d_name) != NULL ||
            !bucket_known(de->d_name))
            continue;
        char *od = fqn_objdir(mp, de->d_name);
        rs_walk_t w = {r, mp, de->d_name, mirror_copies(de->d_name)};
        store_walk_objdir(od, walk_cb, &w);
        free(od);
    }
    if (d)
        closedir(d);
    free(root);
    return r->found;
}

/* The walks; the emptied detaching mountpaths into det (*n_det). True when every object of the
 * set is on its HRW mountpath. */
static bool resilver_walks(rs_t *r, char **det, size_t *n_det)
{
    mpset_t *s = r->s;
    size_t n = mpset_count(s);
    for (size_t i = 0; i < n && !r->x->abort; i++)
        walk_mpath(r, mpset_path(s, i));
    bool ok = true;
    *n_det = 0;
    for (size_t i = s->n_en; i < n && !r->x->abort; i++) {
        const char *mp = mpset_path(s, i);
        int64_t left = 1;
        for (int k = 0; k < RESILVER_RECHECKS && left > 0 && !r->x->abort; k++)
            left = walk_mpath(r, mp);
        if (left == 0 && i < s->n_en + s->n_det)
            det[(*n_det)++] = xstrdup(mp);
        if (left > 0) {
            ok = false;
            char msg[600];
            snprintf(msg, sizeof(msg), "%lld object(s) could not be moved off %s", (long long)left,
                     mp);
            xact_set_err(r->x, msg, false);
        }
    }
    return ok && r->x->errors == 0 && !r->x->abort;
}

static void *resilver_main(void *arg)
{
    rs_t *r = arg;
    if (r->have_prev)
        pthread_join(r->prev, NULL);
    r->s = mpath_get();
    xact_t *x = r->x;
    LOCUS_LOG(LOG_NOTICE, "job resilver[%s] started: %zu enabled, %zu detaching, %zu disabled",
              x->id, r->s->n_en, r->s->n_det, r->s->n_dis);
    store_barrier();
    char *det[CONFIG_MAX_MPATHS];
    size_t n_det = 0;
    bool ok = resilver_walks(r, det, &n_det);
    if (!x->abort)
        mpath_resilver_done(r->s->version, det, n_det, ok);
    for (size_t i = 0; i < n_det; i++)
        free(det[i]);
    xact_finish(x);
    LOCUS_LOG(LOG_NOTICE, "job resilver[%s] %s: %lld objects (%lld bytes) moved, %lld errors",
              x->id, x->aborted ? "aborted" : "finished", (long long)x->loc_objs,
              (long long)x->loc_bytes, (long long)x->errors);
    mpath_put(r->s);
    xact_put(x);
    free(r);
    return NULL;
}

/* ---------------------------------------------------------------- control */

void resilver_start(char *id, size_t idlen)
{
    xact_new_id(id, idlen);
    resilver_start_id(id);
}

void resilver_start_id(const char *id)
{
    rs_t *r = xcalloc(1, sizeof(*r));
    r->x = xact_create(id, "resilver", "", "");
    pthread_mutex_lock(&rs_lock);
    if (last_x && last_x->end_ns == 0) {
        char msg[96];
        snprintf(msg, sizeof(msg), "superseded by resilver %s", id);
        xact_set_err(last_x, msg, false);
        last_x->abort = true;
    }
    r->prev = last_th;
    r->have_prev = have_th;
    pthread_t th;
    if (pthread_create(&th, NULL, resilver_main, r) != 0) {
        /* the previous thread stays ours to join; this job never ran */
        xact_set_err(r->x, "cannot start the resilver thread", true);
        xact_finish(r->x);
        xact_put(r->x);
        free(r);
        LOCUS_LOG(LOG_WARNING, "[resilver] cannot start a thread");
    } else {
        last_th = th;
        have_th = true;
    }
    if (last_x)
        xact_put(last_x);
    last_x = xact_find(id);
    pthread_mutex_unlock(&rs_lock);
}

bool resilver_last(char *id, size_t idlen, bool *running, char *err, size_t errlen)
{
    pthread_mutex_lock(&rs_lock); /* last_x stays referenced while it is held */
    xact_t *x = last_x;
    json_t *snap = x ? xact_snap(x, "") : NULL;
    if (x) {
        snprintf(id, idlen, "%s", x->id);
        *running = x->end_ns == 0;
    }
    pthread_mutex_unlock(&rs_lock);
    if (x == NULL)
        return false;
    const char *e = json_string_value(json_object_get(snap, "err"));
    snprintf(err, errlen, "%s", e ? e : "");
    json_decref(snap);
    return true;
}

json_t *resilver_status(void)
{
    pthread_mutex_lock(&rs_lock); /* last_x stays referenced while it is held */
    json_t *snap = last_x ? xact_snap(last_x, "") : NULL;
    pthread_mutex_unlock(&rs_lock);
    if (snap == NULL)
        return NULL;
    json_t *j = json_pack(
        "{s:O, s:b, s:I, s:O}", "id", json_object_get(snap, "id"), "running",
        !json_is_true(json_object_get(snap, "is_idle")), "moved",
        (json_int_t)json_int64(json_object_get(json_object_get(snap, "stats"), "loc-objs")), "err",
        json_object_get(snap, "err"));
    json_decref(snap);
    return j;
}

void resilver_shutdown(void)
{
    pthread_mutex_lock(&rs_lock);
    if (last_x)
        last_x->abort = true;
    bool join = have_th;
    pthread_t th = last_th;
    have_th = false;
    pthread_mutex_unlock(&rs_lock);
    if (join)
        pthread_join(th, NULL);
}
