/*
 * mirror.c - n-way mirror (docs/design.md §5): with the bucket property mirror {enabled,
 * copies: N}, an object has N - 1 copies besides its main replica, each on another enabled
 * mountpath of its target, at <mountpath>/@ais/<bucket>/%mi/<object> with the same xattr
 * metadata. A GET whose main replica is missing or fails its checksum is served from a good copy,
 * which first repairs the main replica.
 *
 * DESIGN
 * Copies live under %mi, not %ob: walks, listings, the resilver and the rebalance only ever see
 * main replicas. The copy mountpaths are the next enabled ones in the object's HRW order after the
 * main one (never the main replica's own), so a copy's place needs no record; a mountpath change
 * moves the places, and the resilver (and make-n-copies) rewrites the copies to match: a copy
 * already in its place with the main replica's metadata is kept, every other one goes. A copy is
 * written beside its place and renamed into it under the object's stripe lock, and only if the main
 * replica is still the one it copied (same write time): a concurrent newer PUT then wins, and
 * writes its own copies.
 */
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
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static _Atomic uint64_t tmp_seq;

int mirror_copies_props(json_t *props)
{
    json_t *m = json_object_get(props, "mirror");
    /* a BMD from metasync is parsed with JSON_DECODE_INT_AS_REAL (§13.10): read either form */
    int64_t n =
        json_is_true(json_object_get(m, "enabled")) ? json_int64(json_object_get(m, "copies")) : 1;
    return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

int mirror_copies(const char *bck)
{
    bmd_t *b = bmd_get();
    int n = mirror_copies_props(json_object_get(bmd_bucket(b, bck), "props"));
    bmd_put(b);
    return n;
}

/* The FQN of the copy of bck/obj on mountpath mp. Caller frees. */
static char *copy_fqn(const char *mp, const char *bck, const char *obj)
{
    return xasprintf("%s/@ais/%s/%%mi/%s", mp, bck, obj);
}

/* The enabled mountpaths of s in the HRW order of bck/obj (the first holds the main replica,
 * as mpset_hrw picks it), at most max. The count. */
static size_t ranked(const mpset_t *s, const char *bck, const char *obj, const char **out,
                     size_t max)
{
    char *u = uname_make(bck, obj);
    uint64_t d = hrw_digest_str(u);
    free(u);
    size_t n = s->n_en;
    size_t idx[n + 1];
    hrw_rank(s->digests, n, d, idx);
    size_t m = n < max ? n : max;
    for (size_t i = 0; i < m; i++)
        out[i] = s->en[idx[i]];
    return m;
}

/* Whether the copy may go in place (stripe lock held). A new copy: only if the main replica at
 * main_fqn is still the one copied (write time atime_ns). A repair of the main replica (dst is
 * main_fqn): only if it is missing or not newer than the copy. */
static bool may_install(const char *dst, const char *main_fqn, int64_t atime_ns)
{
    lom_md_t now;
    bool have = lom_md_load(main_fqn, &now) == 0;
    int64_t at = have ? now.atime_ns : 0;
    if (have)
        lom_md_dispose(&now);
    if (strcmp(dst, main_fqn) == 0)
        return !have || at <= atime_ns;
    return have && at == atime_ns;
}

/* Copies the file src (data and xattr metadata) to dst through a temporary file beside it; the
 * rename happens under the object's stripe lock when may_install says so (else -ESTALE). 0 or
 * -errno. */
static int copy_into(const char *src, const char *dst, const char *main_fqn, const char *bck,
                     const char *obj, int64_t atime_ns)
{
    char *tmp = xasprintf("%s.%llx.tmp", dst, (unsigned long long)atomic_fetch_add(&tmp_seq, 1));
    char *dir = xstrdup(dst);
    int rc = mkdir_p(dirname(dir), 0755);
    free(dir);
    int in = rc == 0 ? open(src, O_RDONLY | O_CLOEXEC) : -1;
    if (rc == 0 && in < 0)
        rc = -errno;
    int out = rc == 0 ? mpath_copy_new(in, tmp) : -1; /* the data */
    if (rc == 0 && out < 0)
        rc = out;
    lom_md_t md;
    lom_md_init(&md);
    if (rc == 0)
        rc = lom_md_load_fd(in, &md);
    if (rc == 0)
        rc = lom_md_store_fd(out, &md);
    if (rc == 0) {
        pthread_mutex_t *lk = store_stripe(bck, obj);
        pthread_mutex_lock(lk);
        rc = !may_install(dst, main_fqn, atime_ns) ? -ESTALE : rename(tmp, dst) < 0 ? -errno : 0;
        pthread_mutex_unlock(lk);
    }
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    if (rc < 0)
        unlink(tmp);
    lom_md_dispose(&md);
    free(tmp);
    return rc;
}

/* Whether the file at dst already is a copy of the replica described by main: same write time,
 * version, checksum and size (a copy is never rewritten in place, so that is its data). */
static bool copy_current(const char *dst, const lom_md_t *main)
{
    struct stat st;
    lom_md_t md;
    if (stat(dst, &st) != 0 || !S_ISREG(st.st_mode) || lom_md_load(dst, &md) != 0)
        return false;
    bool ok = md.atime_ns == main->atime_ns && md.version == main->version &&
              md.size == main->size && st.st_size == md.size &&
              strcmp(md.cs_val, main->cs_val) == 0;
    lom_md_dispose(&md);
    return ok;
}

/* Whether fqn lies on mountpath mp (<mp>/@ais/...). */
static bool on_mpath(const char *fqn, const char *mp)
{
    size_t n = strlen(mp);
    return strncmp(fqn, mp, n) == 0 && strncmp(fqn + n, "/@ais/", 6) == 0;
}

/* The mountpaths of the copies of bck/obj (its main replica at main_fqn): the first copies - 1
 * enabled ones of its HRW order that do not hold the main replica (the main one ranks first
 * once the replica is on its HRW mountpath). Their count. */
static size_t copy_places(const mpset_t *s, const char *bck, const char *obj, const char *main_fqn,
                          int copies, const char **out)
{
    const char *all[64];
    size_t n = ranked(s, bck, obj, all, 64), k = 0;
    for (size_t i = 0; i < n && (int)k < copies - 1; i++)
        if (!on_mpath(main_fqn, all[i]))
            out[k++] = all[i];
    return k;
}

void mirror_write(const char *bck, const char *obj, const char *main_fqn, int copies)
{
    lom_md_t md;
    if (lom_md_load(main_fqn, &md) != 0)
        return; /* no main replica (deleted meanwhile): its copies are not this call's to drop */
    mpset_t *s = mpath_get();
    const char *mps[64];
    size_t n = copy_places(s, bck, obj, main_fqn, copies > 64 ? 64 : copies, mps);
    bool failed = false;
    for (size_t i = 0; i < n; i++) {
        char *dst = copy_fqn(mps[i], bck, obj);
        int rc =
            copy_current(dst, &md) ? 0 : copy_into(main_fqn, dst, main_fqn, bck, obj, md.atime_ns);
        if (rc < 0 && rc != -ESTALE) {
            failed = true;
            LOCUS_LOG(LOG_WARNING, "[mirror] ais://%s/%s: copy on %s: %s", bck, obj, mps[i],
                      strerror(-rc));
        }
        free(dst);
    }
    lom_md_dispose(&md);
    /* any other copy goes: the property went down, or the mountpaths changed (a copy beside the
     * main replica, or on a mountpath no longer enabled, is no redundancy); not while a copy
     * could not be made, when an old one may be all the redundancy left */
    for (size_t i = 0; i < mpset_count(s) && !failed; i++) {
        const char *mp = mpset_path(s, i);
        bool keep = false;
        for (size_t k = 0; k < n; k++)
            keep = keep || strcmp(mps[k], mp) == 0;
        if (!keep) {
            char *f = copy_fqn(mp, bck, obj);
            unlink(f);
            free(f);
        }
    }
    mpath_put(s);
}

void mirror_remove_locked(const char *bck, const char *obj)
{
    mpset_t *s = mpath_get();
    for (size_t i = 0; i < mpset_count(s); i++) {
        char *f = copy_fqn(mpset_path(s, i), bck, obj);
        if (unlink(f) == 0) {
            char *top = xasprintf("%s/@ais/%s/%%mi", mpset_path(s, i), bck);
            char *p = xstrdup(f);
            char *slash;
            while ((slash = strrchr(p, '/')) != NULL && (*slash = '\0', strlen(p) > strlen(top)))
                if (rmdir(p) < 0)
                    break;
            free(p);
            free(top);
        }
        free(f);
    }
    mpath_put(s);
}

/* Whether the file f holds data matching its own stored checksum. */
static bool copy_good(const char *f)
{
    int fd = open(f, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    lom_md_t md;
    struct stat st;
    char cs[17];
    bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && lom_md_load_fd(fd, &md) == 0;
    if (ok) {
        ok = md.size == st.st_size && strcmp(md.cs_type, "xxhash") == 0 &&
             store_checksum(fd, md.size, cs) == 0 && strcmp(cs, md.cs_val) == 0;
        lom_md_dispose(&md);
    }
    close(fd);
    return ok;
}

int mirror_repair(const char *bck, const char *obj, const char *main_fqn)
{
    mpset_t *s = mpath_get();
    int rc = -ENOENT;
    for (size_t i = 0; i < mpset_count(s) && rc < 0; i++) {
        char *f = copy_fqn(mpset_path(s, i), bck, obj);
        if (copy_good(f)) {
            lom_md_t md;
            if (lom_md_load(f, &md) == 0) {
                char *dir = xstrdup(main_fqn);
                mkdir_p(dirname(dir), 0755);
                free(dir);
                rc = copy_into(f, main_fqn, main_fqn, bck, obj, md.atime_ns);
                lom_md_dispose(&md);
                if (rc == 0)
                    LOCUS_LOG(LOG_NOTICE, "[mirror] ais://%s/%s: main replica restored from %s",
                              bck, obj, f);
            }
        }
        free(f);
    }
    mpath_put(s);
    return rc;
}

int mirror_present(const char *bck, const char *obj, buf_t *paths)
{
    mpset_t *s = mpath_get();
    int n = 0;
    struct stat st;
    for (size_t i = 0; i < mpset_count(s); i++) {
        char *f = copy_fqn(mpset_path(s, i), bck, obj);
        if (stat(f, &st) == 0 && S_ISREG(st.st_mode)) {
            n++;
            if (paths)
                buf_printf(paths, ",%s", mpset_path(s, i));
        }
        free(f);
    }
    mpath_put(s);
    return n;
}
