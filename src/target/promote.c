/*
 * promote.c - AIStore's promote on a target: a file or directory of the target's host becomes
 * objects (POST /v1/objects/<bck>, action "promote"; docs/protocol.md §1.3.1, docs/security.md).
 *
 * Only directories named by the node config's promote_allowed may be read: the source is
 * resolved with realpath and must be one of them or under one (resolved too). A directory walk
 * never follows a symlink (files are opened with O_NOFOLLOW, subdirectories entered only when
 * lstat says directory), so nothing outside the resolved source is read. In a file share (the
 * default without "tid"), every target walks the same files and promotes the names it owns;
 * with "tid" or "notshr" a target promotes every file it sees and PUTs the names it does not own
 * to their owners. In a share with "dls" (delete the source) the owner of a file may delete it
 * before another target looks: a source or entry that is gone then is not an error here
 * (PROMOTE_GONE for the source itself); the proxy answers 404 only when every target found the
 * source gone.
 */
#include "cluster/cluster.h"
#include "cluster/meta.h"
#include "common/log.h"
#include "common/names.h"
#include "common/promote.h"
#include "common/util.h"
#include "target/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    const char *bck;
    const promote_args_t *a;
    bool fshare; /* promote only the names this target owns */
    bool racy;   /* fshare with dls: the other targets delete what they promote */
    const char *dir;
    int64_t done, skipped, failed;
    int first_status;
    char first_err[512];
} prm_t;

/* Whether the resolved path real is an allowed directory or under one. */
static bool allowed(const char *real)
{
    const config_t *cfg = cluster_config();
    for (size_t i = 0; i < cfg->n_promote_allowed; i++) {
        char dir[PATH_MAX];
        if (realpath(cfg->promote_allowed[i], dir) == NULL)
            continue;
        size_t n = strlen(dir);
        if (strcmp(dir, "/") == 0 ||
            (strncmp(real, dir, n) == 0 && (real[n] == '\0' || real[n] == '/')))
            return true;
    }
    return false;
}

static void prm_fail(prm_t *p, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void prm_fail(prm_t *p, int status, const char *fmt, ...)
{
    p->failed++;
    if (p->first_status)
        return;
    p->first_status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->first_err, sizeof(p->first_err), fmt, ap);
    va_end(ap);
}

/* PUTs the file (fd, size bytes) to the owner of name. 0 or an HTTP status with err. */
static int put_to_owner(const char *url, const char *bck, const char *name, int fd, int64_t size,
                        char *err, size_t errlen)
{
    char *enc = url_encode(name, "/");
    char *u = xasprintf("%s/v1/objects/%s/%s?provider=ais", url, bck, enc);
    httpc_resp_t r;
    httpc_resp_init(&r);
    int st = 0;
    if (httpc_put_fd(u, fd, size, NULL, 0, &r) < 0) {
        snprintf(err, errlen, "%s", r.err);
        st = 503;
    } else if (r.status != 200) {
        snprintf(err, errlen, "%.*s", (int)r.body.len, r.body.base ? r.body.base : "");
        st = (int)r.status;
    }
    httpc_resp_dispose(&r);
    free(u);
    free(enc);
    return st;
}

/* Whether the owner at url has bck/name (a HEAD; an unreachable owner counts as not). */
static bool owner_has(const char *url, const char *bck, const char *name)
{
    char *enc = url_encode(name, "/");
    char *u = xasprintf("%s/v1/objects/%s/%s?provider=ais", url, bck, enc);
    httpc_resp_t r;
    httpc_resp_init(&r);
    bool has = httpc_do("HEAD", u, NULL, 0, NULL, 10000, &r) == 0 && r.status == 200;
    httpc_resp_dispose(&r);
    free(u);
    free(enc);
    return has;
}

/* Promotes one regular file fqn. */
static void promote_file(prm_t *p, const char *fqn)
{
    char *name = promote_obj_name(fqn, p->dir, p->a->obj);
    const char *why = name_check_object(name, strlen(name));
    if (why) {
        prm_fail(p, 400, "%s: invalid object name \"%.256s\": %s", fqn, name, why);
        free(name);
        return;
    }
    smap_t *s = smap_get();
    const snode_t *owner = smap_owner(s, p->bck, name);
    char *url = owner ? xstrdup(owner->url) : NULL;
    bool local = owner && strcmp(owner->id, cluster_self_id()) == 0;
    smap_put(s);
    int fd = -1;
    if (url == NULL) {
        prm_fail(p, 503, "no targets in the cluster map");
    } else if (p->fshare && !local) {
        /* another target of the share promotes it */
    } else if (!p->a->ovw && (local ? store_exists(p->bck, name) : owner_has(url, p->bck, name))) {
        p->skipped++;
    } else if ((fd = open(fqn, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
        prm_fail(p, errno == ENOENT ? 404 : 403, "%s: %s", fqn, strerror(errno));
    } else {
        char err[512];
        int st;
        obj_writer_t w;
        struct stat sb;
        if (!local)
            st = fstat(fd, &sb) == 0
                     ? put_to_owner(url, p->bck, name, fd, sb.st_size, err, sizeof(err))
                     : 500;
        else if (store_writer_open(&w, p->bck, name, err, sizeof(err)) < 0)
            st = 500;
        else if (store_writer_copy_fd(&w, fd, err, sizeof(err)) < 0) {
            store_writer_abort(&w);
            st = 500;
        } else
            st = store_writer_commit(&w, NULL, err, sizeof(err));
        if (st)
            prm_fail(p, st, "%s -> ais://%s/%s: %s", fqn, p->bck, name, err);
        else
            p->done++;
        if (st == 0 && p->a->dls && unlink(fqn) < 0)
            LOCUS_LOG(LOG_WARNING, "promote: cannot delete %s: %s", fqn, strerror(errno));
    }
    if (fd >= 0)
        close(fd);
    free(url);
    free(name);
}

/* Promotes the regular files of dir, and of its subdirectories when recursive. Symlinks and other
 * special files are skipped. */
static void promote_dir(prm_t *p, const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        prm_fail(p, 403, "%s: %s", dir, strerror(errno));
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char *path = xasprintf("%s/%s", dir, de->d_name);
        struct stat st;
        int lr = lstat(path, &st);
        if (lr < 0 && errno == ENOENT && p->racy)
            ; /* promoted and deleted by its owner meanwhile */
        else if (lr < 0)
            prm_fail(p, 404, "%s: %s", path, strerror(errno));
        else if (S_ISREG(st.st_mode))
            promote_file(p, path);
        else if (S_ISDIR(st.st_mode) && p->a->recurs)
            promote_dir(p, path);
        free(path);
    }
    closedir(d);
}

int promote_run(const char *bck, const promote_args_t *a, bool fshare, char *err, size_t errlen)
{
    if (cluster_config()->n_promote_allowed == 0) {
        snprintf(err, errlen,
                 "promote is disabled on %s: its config names no directory to promote from "
                 "(promote_allowed)",
                 cluster_self_name());
        return 403;
    }
    char real[PATH_MAX];
    bool racy = fshare && a->dls;
    if (realpath(a->src, real) == NULL) {
        if (errno == ENOENT && racy)
            return PROMOTE_GONE;
        snprintf(err, errlen, "%s: promote source \"%.256s\": %s", cluster_self_name(), a->src,
                 strerror(errno));
        return errno == ENOENT || errno == ENOTDIR ? 404 : 403;
    }
    if (!allowed(real)) {
        snprintf(err, errlen,
                 "%s: promote source \"%.256s\" (\"%.256s\") is outside the directories this "
                 "target may promote from (promote_allowed)",
                 cluster_self_name(), a->src, real);
        return 403;
    }
    struct stat st;
    prm_t p = {.bck = bck, .a = a, .fshare = fshare, .racy = racy};
    bool there = stat(real, &st) == 0;
    if (!there && errno == ENOENT && racy)
        return PROMOTE_GONE;
    if (there && S_ISDIR(st.st_mode)) {
        p.dir = real;
        promote_dir(&p, real);
    } else if (there && S_ISREG(st.st_mode)) {
        p.dir = "";
        promote_file(&p, real);
    } else {
        snprintf(err, errlen, "promote source \"%.256s\" is neither a file nor a directory",
                 a->src);
        return 400;
    }
    LOCUS_LOG(LOG_NOTICE, "%s: promote %s -> ais://%s/%s: %lld promoted, %lld kept, %lld failed",
              cluster_self_name(), real, bck, a->obj, (long long)p.done, (long long)p.skipped,
              (long long)p.failed);
    if (p.failed) {
        snprintf(err, errlen, "%s: promote: %lld of the files failed; first: %s",
                 cluster_self_name(), (long long)p.failed, p.first_err);
        return p.first_status;
    }
    return 0;
}
