/*
 * mpath.c - the target's mountpath set (docs/design.md §5): the reference-counted snapshot of
 * enabled (HRW), detaching and disabled mountpaths, its state file <data_dir>/mountpaths.json,
 * the lookups that find objects off their HRW mountpath while a resilver runs, and the
 * /v1/daemon/mountpaths endpoint (attach, detach, enable, disable).
 *
 * DESIGN
 * Readers take a snapshot (mpath_get/mpath_put) and never hold a lock across I/O. A change
 * (chg_lock, one at a time) validates, builds the next version, persists it, swaps it in under
 * mp_lock and starts a resilver (resilver.c), which moves every object to its HRW mountpath of
 * the new set. A mountpath leaves the HRW set at once when it is detached or disabled, so new
 * writes never go to it; a detached one leaves the set only once the resilver emptied it.
 */
#include "cluster/cluster.h"
#include "cluster/meta.h"
#include "common/hrw.h"
#include "common/json.h"
#include "common/log.h"
#include "common/names.h"
#include "common/util.h"
#include "target/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MPATH_MAX_LEN 1024
/* How long a detach waits for its resilver before it answers 202 with the job id. */
#define MPATH_DETACH_WAIT_SEC 45

static pthread_mutex_t mp_lock = PTHREAD_MUTEX_INITIALIZER;  /* cur and every refcnt */
static pthread_mutex_t chg_lock = PTHREAD_MUTEX_INITIALIZER; /* one change at a time */
static mpset_t *cur;
static _Atomic int64_t cur_version;
static atomic_bool settled = true;

/* ---------------------------------------------------------------- snapshots */

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void set_free(mpset_t *s)
{
    strv_free(s->en, s->n_en);
    strv_free(s->det, s->n_det);
    strv_free(s->dis, s->n_dis);
    free(s->digests);
    free(s);
}

mpset_t *mpath_get(void)
{
    pthread_mutex_lock(&mp_lock);
    mpset_t *s = cur;
    s->refcnt++;
    pthread_mutex_unlock(&mp_lock);
    return s;
}

void mpath_put(mpset_t *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&mp_lock);
    bool last = --s->refcnt == 0;
    pthread_mutex_unlock(&mp_lock);
    if (last)
        set_free(s);
}

int64_t mpath_version(void)
{
    return cur_version;
}

bool mpath_settled(void)
{
    return settled;
}

const char *mpset_hrw(const mpset_t *s, const char *bck, const char *obj)
{
    if (s->n_en == 1)
        return s->en[0];
    char *u = uname_make(bck, obj);
    int k = hrw_select(s->digests, s->n_en, hrw_digest_str(u));
    free(u);
    return s->en[k < 0 ? 0 : k];
}

size_t mpset_count(const mpset_t *s)
{
    return s->n_en + s->n_det + s->n_dis;
}

const char *mpset_path(const mpset_t *s, size_t i)
{
    if (i < s->n_en)
        return s->en[i];
    i -= s->n_en;
    return i < s->n_det ? s->det[i] : s->dis[i - s->n_det];
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A new set of these lists (copied, sorted), with digests; refcnt 1 (the caller's). */
static mpset_t *set_build(int64_t version, char *const *en, size_t n_en, char *const *det,
                          size_t n_det, char *const *dis, size_t n_dis)
{
    mpset_t *s = xcalloc(1, sizeof(*s));
    s->refcnt = 1;
    s->version = version;
    char **lists[3] = {NULL, NULL, NULL};
    char *const *src[3] = {en, det, dis};
    size_t ns[3] = {n_en, n_det, n_dis};
    for (int l = 0; l < 3; l++) {
        lists[l] = xcalloc(ns[l] + 1, sizeof(char *));
        for (size_t i = 0; i < ns[l]; i++)
            lists[l][i] = xstrdup(src[l][i]);
        qsort(lists[l], ns[l], sizeof(char *), cmp_str);
    }
    s->en = lists[0], s->n_en = n_en;
    s->det = lists[1], s->n_det = n_det;
    s->dis = lists[2], s->n_dis = n_dis;
    s->digests = xcalloc(n_en + 1, sizeof(uint64_t));
    for (size_t i = 0; i < n_en; i++)
        s->digests[i] = hrw_digest_str(s->en[i]);
    return s;
}

/* Swaps s in (takes the caller's reference). */
static void set_install(mpset_t *s)
{
    pthread_mutex_lock(&mp_lock);
    mpset_t *old = cur;
    cur = s;
    cur_version = s->version;
    pthread_mutex_unlock(&mp_lock);
    mpath_put(old);
}

/* ---------------------------------------------------------------- lookups off the HRW path */

char *mpath_locate_locked(const char *bck, const char *obj)
{
    mpset_t *s = mpath_get();
    char *found = NULL;
    const char *hrw = mpset_hrw(s, bck, obj);
    size_t n = mpset_count(s);
    for (size_t i = 0; i <= n && found == NULL; i++) {
        const char *mp = i == 0 ? hrw : mpset_path(s, i - 1);
        if (i > 0 && mp == hrw)
            continue;
        char *fqn = fqn_make(mp, bck, obj);
        struct stat st;
        if (lstat(fqn, &st) == 0 && S_ISREG(st.st_mode))
            found = fqn;
        else
            free(fqn);
    }
    mpath_put(s);
    return found;
}

int64_t mpath_stale_version_locked(const char *bck, const char *obj, const char *fqn, char **stale)
{
    *stale = NULL;
    if (settled)
        return 0;
    char *there = mpath_locate_locked(bck, obj);
    if (there == NULL || strcmp(there, fqn) == 0) {
        free(there);
        return 0;
    }
    lom_md_t md;
    int64_t v = 1; /* a file without metadata counts as version 1 */
    if (lom_md_load(there, &md) == 0) {
        v = md.version;
        lom_md_dispose(&md);
    }
    *stale = there;
    return v;
}

void mpath_drop_stale_locked(const char *stale, const char *obj)
{
    if (unlink(stale) < 0)
        return;
    char *od = xasprintf("%.*s", (int)(strlen(stale) - strlen(obj) - 1), stale);
    char *p = xstrdup(stale);
    char *slash;
    while ((slash = strrchr(p, '/')) != NULL) {
        *slash = '\0';
        if (strlen(p) <= strlen(od) || rmdir(p) < 0)
            break;
    }
    free(p);
    free(od);
}

int mpath_open_anywhere(const char *bck, const char *obj)
{
    pthread_mutex_t *lk = store_stripe(bck, obj);
    pthread_mutex_lock(lk);
    char *fqn = mpath_locate_locked(bck, obj);
    int fd = fqn ? open(fqn, O_RDONLY | O_CLOEXEC) : -1;
    int e = fqn ? errno : ENOENT;
    pthread_mutex_unlock(lk);
    free(fqn);
    errno = e;
    return fd;
}

int mpath_copy_new(int fd, const char *path)
{
    int out = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (out < 0)
        return -errno;
    char *buf = xmalloc(1 << 18);
    off_t off = 0;
    int rc = 0;
    for (;;) {
        ssize_t n = pread(fd, buf, 1 << 18, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            break;
        }
        if (n == 0)
            break;
        rc = write_all(out, buf, (size_t)n);
        if (rc < 0)
            break;
        off += n;
    }
    free(buf);
    if (rc < 0) {
        close(out);
        unlink(path);
        return rc;
    }
    return out;
}

int mpath_writer_retarget(obj_writer_t *w)
{
    if (w->mp_version == mpath_version())
        return 0;
    mpset_t *s = mpath_get();
    const char *mp = mpset_hrw(s, w->bck, w->obj);
    char *fqn = fqn_make(mp, w->bck, w->obj);
    int rc = 0;
    if (strcmp(fqn, w->fqn) != 0 && (rc = store_writer_name(w)) == 0) {
        char *wd = fqn_workdir(mp, w->bck);
        char *work = xasprintf("%s/%s", wd, strrchr(w->work, '/') + 1);
        rc = mkdir_p(wd, 0755);
        if (rc == 0 && rename(w->work, work) < 0) {
            rc = -errno;
            if (rc == -EXDEV && (rc = mpath_copy_new(w->fd, work)) >= 0) {
                close(w->fd);
                unlink(w->work);
                w->fd = rc;
                rc = 0;
            }
        }
        if (rc == 0) {
            LOCUS_LOG(LOG_DEBUG, "[mpath] write of ais://%s/%s moved to %s", w->bck, w->obj, mp);
            free(w->work);
            w->work = work;
            work = NULL;
            free(w->fqn);
            w->fqn = fqn;
            fqn = NULL;
            free(w->wd);
            w->wd = wd;
            wd = NULL;
        }
        free(work);
        free(wd);
    }
    w->mp_version = s->version;
    free(fqn);
    mpath_put(s);
    return rc;
}

/* ---------------------------------------------------------------- validation */

int mpath_probe(const char *path, char *err, size_t errlen)
{
    int rc = mkdir_p(path, 0755);
    if (rc < 0) {
        snprintf(err, errlen, "mountpath %s: cannot create it: %s", path, strerror(-rc));
        return -1;
    }
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "mountpath %s is not a directory", path);
        return -1;
    }
    /* Metadata lives in xattrs: refuse a filesystem without them rather than lose it. */
    char *probe = xasprintf("%s/.locus-xattr-probe", path);
    int fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "mountpath %s is not writable: %s", path, strerror(errno));
        free(probe);
        return -1;
    }
    lom_md_t md;
    lom_md_init(&md);
    rc = lom_md_store_fd(fd, &md);
    close(fd);
    unlink(probe);
    free(probe);
    if (rc < 0) {
        snprintf(err, errlen, "mountpath %s: extended attributes not supported: %s", path,
                 strerror(-rc));
        return -1;
    }
    store_tmpfile_probe(path);
    return 0;
}

/* The canonical form of a mountpath a client gave (absolute, single slashes, no trailing one,
 * no "." or ".." segments, printable), or NULL with err. Caller frees. */
static char *path_normalize(const char *in, char *err, size_t errlen)
{
    size_t n = strlen(in);
    if (n == 0 || in[0] != '/') {
        snprintf(err, errlen, "mountpath \"%.200s\" is not an absolute path", in);
        return NULL;
    }
    if (n > MPATH_MAX_LEN || !utf8_valid(in, n)) {
        snprintf(err, errlen, "mountpath is too long or not UTF-8");
        return NULL;
    }
    buf_t b;
    buf_init(&b);
    for (const char *p = in; *p;) {
        while (*p == '/')
            p++;
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.')) {
            snprintf(err, errlen, "mountpath \"%.200s\" has a \".\" or \"..\" segment", in);
            buf_dispose(&b);
            return NULL;
        }
        for (size_t i = 0; i < len; i++) {
            if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f) {
                snprintf(err, errlen, "mountpath has a control character");
                buf_dispose(&b);
                return NULL;
            }
        }
        if (len)
            buf_printf(&b, "/%.*s", (int)len, p);
        p += len;
    }
    if (b.len == 0) {
        snprintf(err, errlen, "mountpath \"/\" is not allowed (the whole filesystem)");
        buf_dispose(&b);
        return NULL;
    }
    return buf_steal(&b);
}

/* True when a is b or one is inside the other. */
static bool paths_overlap(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t l = la < lb ? la : lb;
    return strncmp(a, b, l) == 0 && (la == lb || (la > lb ? a[l] : b[l]) == '/');
}

/* 400 unless path (and its real path) stays clear of every mountpath of s. */
static int check_overlap(const mpset_t *s, const char *path, char *err, size_t errlen)
{
    char real[PATH_MAX];
    bool have_real = realpath(path, real) != NULL;
    for (size_t i = 0; i < mpset_count(s); i++) {
        const char *mp = mpset_path(s, i);
        char rm[PATH_MAX];
        bool clash = paths_overlap(path, mp) ||
                     (have_real && realpath(mp, rm) != NULL && paths_overlap(real, rm));
        if (clash) {
            snprintf(err, errlen, "mountpath %s overlaps mountpath %s (one is inside the other)",
                     path, mp);
            return 400;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- state file */

static char *state_path(void)
{
    return xasprintf("%s/mountpaths.json", cluster_config()->data_dir);
}

static json_t *strv_json(char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

/* Writes s to mountpaths.json (atomically). 0 or -errno. */
static int set_save(const mpset_t *s, bool resilvered)
{
    json_t *j =
        json_pack("{s:I, s:o, s:o, s:o, s:b}", "version", (json_int_t)s->version, "available",
                  strv_json(s->en, s->n_en), "detaching", strv_json(s->det, s->n_det), "disabled",
                  strv_json(s->dis, s->n_dis), "resilvered", (int)resilvered);
    char *text = json_dumps(j, JSON_INDENT(2));
    json_decref(j);
    char *path = state_path();
    int rc = write_file_atomic(path, text, strlen(text));
    if (rc < 0)
        LOCUS_LOG(LOG_WARNING, "[mpath] cannot save %s: %s", path, strerror(-rc));
    free(path);
    free(text);
    return rc;
}

/* The strings of array a (a JSON array of absolute paths) into *v; -1 when malformed. */
static int strv_from_json(json_t *a, char ***v, size_t *n)
{
    *v = NULL;
    *n = 0;
    if (a == NULL)
        return 0;
    if (!json_is_array(a) || json_array_size(a) > CONFIG_MAX_MPATHS)
        return -1;
    *v = xcalloc(json_array_size(a) + 1, sizeof(char *));
    size_t i;
    json_t *x;
    json_array_foreach(a, i, x)
    {
        char e[256];
        char *p = json_is_string(x) ? path_normalize(json_string_value(x), e, sizeof(e)) : NULL;
        if (p == NULL)
            return -1;
        (*v)[(*n)++] = p;
    }
    return 0;
}

/* *s from mountpaths.json when it exists: 1 (loaded), 0 (no file), -1 (err). */
static int set_load(mpset_t **s, bool *resilvered, char *err, size_t errlen)
{
    char *path = state_path();
    char *text = NULL;
    size_t len = 0;
    int rc = read_file(path, &text, &len);
    if (rc < 0) {
        free(path);
        return 0;
    }
    json_t *j = json_loadb(text, len, 0, NULL);
    char **v[3] = {NULL, NULL, NULL};
    size_t n[3] = {0, 0, 0};
    const char *keys[3] = {"available", "detaching", "disabled"};
    rc = json_is_object(j) ? 1 : -1;
    for (int l = 0; l < 3 && rc == 1; l++)
        if (strv_from_json(json_object_get(j, keys[l]), &v[l], &n[l]) < 0)
            rc = -1;
    if (rc == 1 && n[0] == 0)
        rc = -1;
    if (rc == 1) {
        *s = set_build(json_int64(json_object_get(j, "version")), v[0], n[0], v[1], n[1], v[2],
                       n[2]);
        *resilvered = !json_is_false(json_object_get(j, "resilvered"));
        LOCUS_LOG(LOG_NOTICE,
                  "[mpath] mountpaths from %s (it overrides the configuration's list): %zu "
                  "enabled, %zu detaching, %zu disabled",
                  path, n[0], n[1], n[2]);
    } else {
        snprintf(err, errlen, "%s: malformed (need \"available\": [absolute paths, at least one])",
                 path);
    }
    for (int l = 0; l < 3; l++)
        strv_free(v[l], n[l]);
    json_decref(j);
    free(text);
    free(path);
    return rc;
}

int mpath_init(char *err, size_t errlen)
{
    mpset_t *s = NULL;
    bool resilvered = true;
    int rc = set_load(&s, &resilvered, err, errlen);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        const config_t *cfg = cluster_config();
        char *v[CONFIG_MAX_MPATHS];
        size_t n = 0;
        for (size_t i = 0; i < cfg->n_mountpaths && rc == 0; i++) {
            /* trimmed in place too, as the ETL runtime reads the configuration's list */
            size_t len = strlen(cfg->mountpaths[i]);
            while (len > 1 && cfg->mountpaths[i][len - 1] == '/')
                cfg->mountpaths[i][--len] = '\0';
            char *p = path_normalize(cfg->mountpaths[i], err, errlen);
            rc = p ? 0 : -1;
            for (size_t k = 0; p && k < n; k++)
                if (strcmp(v[k], p) == 0) {
                    snprintf(err, errlen, "mountpath %s is listed twice", p);
                    rc = -1;
                }
            if (p)
                v[n++] = p;
        }
        if (rc == 0 && n == 0) {
            snprintf(err, errlen, "a target needs at least one mountpath");
            rc = -1;
        }
        if (rc == 0)
            s = set_build(1, v, n, NULL, 0, NULL, 0);
        for (size_t i = 0; i < n; i++)
            free(v[i]);
        if (rc < 0)
            return -1;
    }
    for (size_t i = 0; i < s->n_en; i++) {
        if (mpath_probe(s->en[i], err, errlen) < 0) {
            set_free(s);
            return -1;
        }
    }
    set_install(s);
    settled = resilvered && s->n_det == 0;
    return 0;
}

void mpath_resilver_start(const char *id)
{
    pthread_mutex_lock(&chg_lock);
    resilver_start_id(id);
    LOCUS_LOG(LOG_NOTICE, "[mpath] resilver %s started on request", id);
    pthread_mutex_unlock(&chg_lock);
}

void mpath_resume(void)
{
    pthread_mutex_lock(&chg_lock);
    if (!settled) {
        char id[16];
        resilver_start(id, sizeof(id));
        LOCUS_LOG(LOG_NOTICE, "[mpath] resuming the interrupted resilver: job %s", id);
    }
    pthread_mutex_unlock(&chg_lock);
}

/* ---------------------------------------------------------------- changes */

typedef enum { ACT_ATTACH, ACT_DETACH, ACT_ENABLE, ACT_DISABLE } mp_act_t;

typedef struct {
    char **v[3]; /* en, det, dis: working copies */
    size_t n[3];
} lists_t;

static void lists_from(lists_t *l, const mpset_t *s)
{
    char *const *src[3] = {s->en, s->det, s->dis};
    size_t ns[3] = {s->n_en, s->n_det, s->n_dis};
    for (int k = 0; k < 3; k++) {
        l->v[k] = xcalloc(ns[k] + 2, sizeof(char *));
        l->n[k] = 0;
        for (size_t i = 0; i < ns[k]; i++)
            l->v[k][l->n[k]++] = xstrdup(src[k][i]);
    }
}

static void lists_dispose(lists_t *l)
{
    for (int k = 0; k < 3; k++)
        strv_free(l->v[k], l->n[k]);
}

/* Removes p from list k; true when it was there. */
static bool lists_take(lists_t *l, int k, const char *p)
{
    for (size_t i = 0; i < l->n[k]; i++) {
        if (strcmp(l->v[k][i], p) == 0) {
            free(l->v[k][i]);
            l->v[k][i] = l->v[k][--l->n[k]];
            return true;
        }
    }
    return false;
}

static void lists_add(lists_t *l, int k, const char *p)
{
    l->v[k][l->n[k]++] = xstrdup(p);
}

/* Which list of s holds p: 0 enabled, 1 detaching, 2 disabled, -1 none. */
static int where(const mpset_t *s, const char *p)
{
    for (size_t i = 0; i < mpset_count(s); i++)
        if (strcmp(mpset_path(s, i), p) == 0)
            return i < s->n_en ? 0 : i < s->n_en + s->n_det ? 1 : 2;
    return -1;
}

/* Applies act on p to l (from s). 0, 1 (nothing to change), or an HTTP status with err. */
static int apply(lists_t *l, const mpset_t *s, mp_act_t act, const char *p, char *err,
                 size_t errlen)
{
    int w = where(s, p);
    if (act == ACT_ATTACH) {
        if (w >= 0) {
            snprintf(err, errlen, "mountpath %s is already attached%s", p,
                     w == 2   ? " (disabled: enable it)"
                     : w == 1 ? " (being detached)"
                              : "");
            return 409;
        }
        int st = check_overlap(s, p, err, errlen);
        if (st == 0 && mpset_count(s) >= CONFIG_MAX_MPATHS) {
            snprintf(err, errlen, "a target has at most %d mountpaths", CONFIG_MAX_MPATHS);
            st = 400;
        }
        if (st == 0 && mpath_probe(p, err, errlen) < 0)
            st = 400;
        if (st == 0 && (st = check_overlap(s, p, err, errlen)) == 0) /* real paths now */
            lists_add(l, 0, p);
        return st;
    }
    if (w < 0) {
        snprintf(err, errlen, "mountpath %s is not attached to %s", p, cluster_self_name());
        return 404;
    }
    if (act == ACT_ENABLE) {
        if (w == 0)
            return 1;
        lists_take(l, w, p);
        lists_add(l, 0, p);
        return 0;
    }
    if (w == 0 && s->n_en == 1) {
        snprintf(err, errlen, "cannot %s %s: it is the last enabled mountpath of %s",
                 act == ACT_DETACH ? "detach" : "disable", p, cluster_self_name());
        return 409;
    }
    if (act == ACT_DISABLE && w == 2)
        return 1;
    if (act == ACT_DISABLE && w == 1) {
        snprintf(err, errlen, "mountpath %s is being detached", p);
        return 409;
    }
    lists_take(l, w, p);
    lists_add(l, act == ACT_DETACH ? 1 : 2, p);
    return 0;
}

/* Installs l as the next version and persists it (with chg_lock held). 0 or 500 with err. */
static int commit_lists(lists_t *l, int64_t version, bool resilvered, char *err, size_t errlen)
{
    mpset_t *ns = set_build(version, l->v[0], l->n[0], l->v[1], l->n[1], l->v[2], l->n[2]);
    int rc = set_save(ns, resilvered);
    if (rc < 0) {
        snprintf(err, errlen, "cannot save the mountpaths: %s", strerror(-rc));
        set_free(ns);
        return 500;
    }
    if (!resilvered)
        settled = false;
    set_install(ns);
    return 0;
}

/* Runs act on p: the new set, then its resilver (unless dont_resilver) whose id goes into
 * id ("" when none). 0, or an HTTP status with err. */
static int mpath_change(mp_act_t act, const char *p, bool dont_resilver, char *id, size_t idlen,
                        char *err, size_t errlen)
{
    id[0] = '\0';
    pthread_mutex_lock(&chg_lock);
    mpset_t *s = mpath_get();
    lists_t l;
    lists_from(&l, s);
    int st = apply(&l, s, act, p, err, errlen);
    if (st == 0 && act == ACT_DETACH && dont_resilver)
        lists_take(&l, 1, p); /* its objects stay behind, out of reach (docs/operations.md) */
    /* without a resilver, unless one was still due: it then goes on over the new set */
    bool resilver = st == 0 && (!(act == ACT_DETACH && dont_resilver) || !settled);
    if (st == 0)
        st = commit_lists(&l, s->version + 1, !resilver && settled, err, errlen);
    if (st == 0 && resilver)
        resilver_start(id, idlen);
    if (st == 0)
        LOCUS_LOG(LOG_NOTICE, "[mpath] %s %s: %zu enabled mountpaths%s%s",
                  act == ACT_ATTACH   ? "attached"
                  : act == ACT_DETACH ? (dont_resilver ? "detached (no resilver)" : "detaching")
                  : act == ACT_ENABLE ? "enabled"
                                      : "disabled",
                  p, l.n[0], id[0] ? ", resilver " : "", id);
    lists_dispose(&l);
    mpath_put(s);
    pthread_mutex_unlock(&chg_lock);
    return st == 1 ? 0 : st;
}

void mpath_resilver_done(int64_t v, char **detached, size_t n_detached, bool all_ok)
{
    pthread_mutex_lock(&chg_lock);
    mpset_t *s = mpath_get();
    if (s->version == v) { /* else a newer change started a newer resilver */
        lists_t l;
        lists_from(&l, s);
        for (size_t i = 0; i < n_detached; i++)
            if (lists_take(&l, 1, detached[i]))
                LOCUS_LOG(LOG_NOTICE, "[mpath] detached %s: the resilver moved its objects off",
                          detached[i]);
        bool ok = all_ok && l.n[1] == 0;
        char err[256];
        if (n_detached > 0 || ok != settled) {
            if (commit_lists(&l, s->version + (n_detached > 0), ok, err, sizeof(err)) == 0)
                settled = ok;
        }
        lists_dispose(&l);
    }
    mpath_put(s);
    pthread_mutex_unlock(&chg_lock);
}

json_t *mpath_list_json(void)
{
    mpset_t *s = mpath_get();
    json_t *j = json_pack("{s:o, s:o, s:o}", "available", strv_json(s->en, s->n_en), "waiting_dd",
                          strv_json(s->det, s->n_det), "disabled", strv_json(s->dis, s->n_dis));
    mpath_put(s);
    json_t *rs = resilver_status(); /* Locus: the operator's view of the last resilver */
    if (rs)
        json_object_set_new(j, "resilver", rs);
    return j;
}

/* ---------------------------------------------------------------- the endpoint */

/* Waits (bounded) until the detach of p is done: 200 when p left the set, 202 when the
 * resilver still runs, 500 when it ended without emptying p. */
static int detach_wait(const char *p, char *id, size_t idlen, char *err, size_t errlen)
{
    int64_t deadline = time_mono_ns() + (int64_t)MPATH_DETACH_WAIT_SEC * 1000000000LL;
    for (;;) {
        mpset_t *s = mpath_get();
        int w = where(s, p);
        mpath_put(s);
        if (w != 1)
            return 200;
        bool running = false;
        char rerr[256] = "";
        if (!resilver_last(id, idlen, &running, rerr, sizeof(rerr)) || !running) {
            snprintf(err, errlen,
                     "detach %s: resilver %s ended with objects left on it (%s); it stays "
                     "detaching, out of placement: detach it again or enable it",
                     p, id, rerr[0] ? rerr : "see the target's log");
            return 500;
        }
        if (time_mono_ns() > deadline)
            return 202;
        sleep_ms(100);
    }
}

static const struct {
    const char *method, *action;
    mp_act_t act;
} acts[] = {
    {"PUT", "attach-mp", ACT_ATTACH},
    {"DELETE", "detach-mp", ACT_DETACH},
    {"POST", "enable-mp", ACT_ENABLE},
    {"POST", "disable-mp", ACT_DISABLE},
};

int mpath_act(const char *method, const char *action, const char *path, bool dont_resilver,
              char *id, size_t idlen, char *err, size_t errlen)
{
    id[0] = '\0';
    int k = -1;
    for (size_t i = 0; action && i < sizeof(acts) / sizeof(acts[0]); i++)
        if (strcmp(acts[i].method, method) == 0 && strcmp(acts[i].action, action) == 0)
            k = (int)i;
    if (k < 0) {
        snprintf(err, errlen,
                 "invalid action \"%.64s\" for %s /v1/daemon/mountpaths (PUT: attach-mp, "
                 "DELETE: detach-mp, POST: enable-mp, disable-mp)",
                 action ? action : "", method);
        return 400;
    }
    if (path == NULL) {
        snprintf(err, errlen, "%s: \"value\" must be the mountpath (a string)", action);
        return 400;
    }
    char *p = path_normalize(path, err, errlen);
    if (p == NULL)
        return 400;
    bool dont = acts[k].act == ACT_DETACH && dont_resilver;
    int st = mpath_change(acts[k].act, p, dont, id, idlen, err, errlen);
    if (st == 0 && acts[k].act == ACT_DETACH && !dont)
        st = detach_wait(p, id, idlen, err, errlen);
    free(p);
    return st == 0 ? 200 : st;
}

void mpath_handle(http_req_t *req)
{
    const char *m = req->method;
    if (strcmp(m, "PUT") && strcmp(m, "DELETE") && strcmp(m, "POST")) {
        http_reply_error(req, 405, "method %s is not supported for /v1/daemon/mountpaths", m);
        return;
    }
    json_t *msg = http_body_json(req);
    if (msg == NULL)
        return;
    char err[768] = "", id[16] = "";
    int st = mpath_act(m, json_string_value(json_object_get(msg, "action")),
                       json_string_value(json_object_get(msg, "value")),
                       http_query_bool(req, "dont-resilver"), id, sizeof(id), err, sizeof(err));
    if (st == 200 || st == 202)
        http_reply_text(req, (unsigned)st, id);
    else
        http_reply_error(req, (unsigned)st, "%s", err);
    json_decref(msg);
}
