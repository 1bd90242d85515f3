/*
 * objapi.c - the object API beyond PUT/GET/HEAD/DELETE: multipart uploads, appends, custom
 * metadata (PATCH) and promote of a target's local files (docs/protocol.md §1.3.1).
 *
 * DESIGN
 * An upload is a directory %wk/mpt-<id>-<digest> in the bucket's work directory on the object's
 * HRW mountpath (digest: of the object's uname, so that an id only works with its own object);
 * each part is streamed to a tmp.* file there and renamed to part.NNNNN when whole. Complete
 * renames the directory away (a second complete or an abort then finds nothing), concatenates the
 * parts into an ordinary writer and commits it: checksum, version, mirror and EC as any PUT. An
 * append is a file %wk/apnd-<id>-<digest>; a flush copies it into a writer and commits it. Both
 * are under the work directory: never listed, removed at start-up with the other work files, and
 * removed when idle for OBJAPI_IDLE_S (a sweep of the bucket's work directories whenever a new
 * upload or append starts in it). Handles and upload ids are random [a-z0-9] strings checked
 * character by character before they become part of a path.
 */
#include "cluster/cluster.h"
#include "cluster/meta.h"
#include "common/hrw.h"
#include "common/log.h"
#include "common/names.h"
#include "common/util.h"
#include "target/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define OBJAPI_IDLE_S (24 * 3600)

static bool id_ok(const char *id)
{
    if (id == NULL || strlen(id) != OBJAPI_ID_LEN)
        return false;
    for (const char *p = id; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
            return false;
    return true;
}

/* The work-directory entry of kind ("mpt" or "apnd") id for bck/obj. Caller frees. */
static char *leaf_name(const char *kind, const char *id, const char *bck, const char *obj)
{
    char *u = uname_make(bck, obj);
    char *l = xasprintf("%s-%s-%016llx", kind, id, (unsigned long long)hrw_digest_str(u));
    free(u);
    return l;
}

/* The path of leaf in the bucket's work directory of whichever mountpath has it (caller frees),
 * NULL when none does. */
static char *wk_find(const char *bck, const char *leaf)
{
    char *found = NULL;
    mpset_t *s = mpath_get();
    for (size_t i = 0; i < mpset_count(s) && found == NULL; i++) {
        char *wd = fqn_workdir(mpset_path(s, i), bck);
        char *p = xasprintf("%s/%s", wd, leaf);
        struct stat st;
        if (lstat(p, &st) == 0)
            found = p;
        else
            free(p);
        free(wd);
    }
    mpath_put(s);
    return found;
}

/* The path of leaf in the bucket's work directory on obj's HRW mountpath, the directory made if
 * missing (caller frees); NULL with errno. */
static char *wk_new(const char *bck, const char *obj, const char *leaf)
{
    mpset_t *s = mpath_get();
    char *wd = fqn_workdir(mpset_hrw(s, bck, obj), bck);
    mpath_put(s);
    int rc = mkdir_p(wd, 0755);
    char *p = rc == 0 ? xasprintf("%s/%s", wd, leaf) : NULL;
    free(wd);
    if (rc < 0)
        errno = -rc;
    return p;
}

/* Removes the uploads and appends of bck that nobody touched for OBJAPI_IDLE_S. */
static void wk_sweep(const char *bck)
{
    time_t idle_since = time(NULL) - OBJAPI_IDLE_S;
    mpset_t *s = mpath_get();
    for (size_t i = 0; i < mpset_count(s); i++) {
        char *wd = fqn_workdir(mpset_path(s, i), bck);
        DIR *d = opendir(wd);
        struct dirent *de;
        while (d && (de = readdir(d)) != NULL) {
            if (strncmp(de->d_name, "mpt-", 4) != 0 && strncmp(de->d_name, "apnd-", 5) != 0)
                continue;
            char *p = xasprintf("%s/%s", wd, de->d_name);
            struct stat st;
            if (lstat(p, &st) == 0 && st.st_mtime < idle_since) {
                LOCUS_LOG(LOG_NOTICE, "%s: ais://%s: removing %s, idle for more than %d s",
                          cluster_self_name(), bck, de->d_name, OBJAPI_IDLE_S);
                remove_tree(p);
            }
            free(p);
        }
        if (d)
            closedir(d);
        free(wd);
    }
    mpath_put(s);
}

/* Appends the bytes of src from offset 0 to its end at dst's current offset. 0 or -errno. */
static int fd_append(int dst, int src)
{
    char *buf = xmalloc(1 << 20);
    int rc = 0;
    for (off_t off = 0;;) {
        ssize_t n = pread(src, buf, 1 << 20, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n < 0 ? -errno : 0;
            break;
        }
        if ((rc = write_all(dst, buf, (size_t)n)) < 0)
            break;
        off += n;
    }
    free(buf);
    return rc;
}

/* ---------------------------------------------------------------- multipart upload */

int mpt_part_number(const char *s)
{
    if (s == NULL || s[0] == '\0' || strlen(s) > 5 || strspn(s, "0123456789") != strlen(s))
        return -1;
    int n = atoi(s);
    return n >= 1 && n <= MPT_MAX_PARTS ? n : -1;
}

int mpt_parts_parse(const char *body, size_t len, char *err, size_t errlen)
{
    json_error_t je;
    json_t *m = json_loadb(body ? body : "", len, 0, &je);
    json_t *v = json_object_get(m, "value");
    size_t n = json_array_size(v);
    int rc = -1;
    if (!json_is_array(v) || n == 0 || n > MPT_MAX_PARTS) {
        snprintf(err, errlen,
                 "mpt-complete: expecting {\"action\":\"mpt-complete\",\"value\":"
                 "[{\"part-number\":1},...]} with 1..%d parts",
                 MPT_MAX_PARTS);
        json_decref(m);
        return -1;
    }
    unsigned char *seen = xcalloc(n + 1, 1);
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        json_t *pn = json_object_get(e, "part-number");
        if (!json_is_integer(pn)) {
            snprintf(err, errlen, "mpt-complete: entry %zu has no integer \"part-number\"", i);
            goto out;
        }
        json_int_t k = json_integer_value(pn);
        if (k < 1 || (size_t)k > n) {
            snprintf(err, errlen, "mpt-complete: parts must be exactly 1..%zu: got %lld", n,
                     (long long)k);
            goto out;
        }
        if (seen[k]) {
            snprintf(err, errlen, "mpt-complete: part %lld is listed twice", (long long)k);
            goto out;
        }
        seen[k] = 1;
    }
    rc = (int)n; /* n distinct numbers in 1..n: every one of them */
out:
    free(seen);
    json_decref(m);
    return rc;
}

int mpt_start(const char *bck, const char *obj, char id[OBJAPI_ID_LEN + 1], char *err,
              size_t errlen)
{
    wk_sweep(bck);
    random_id(id, OBJAPI_ID_LEN);
    id[OBJAPI_ID_LEN] = '\0';
    char *leaf = leaf_name("mpt", id, bck, obj);
    char *dir = wk_new(bck, obj, leaf);
    int st = 0;
    if (dir == NULL || mkdir(dir, 0755) < 0) {
        snprintf(err, errlen, "cannot start a multipart upload of ais://%s/%s: %s", bck, obj,
                 strerror(errno));
        st = 500;
    }
    free(dir);
    free(leaf);
    return st;
}

/* The directory of upload id of bck/obj (caller frees), or NULL with a 404 message. */
static char *mpt_dir(const char *bck, const char *obj, const char *id, char *err, size_t errlen)
{
    char *dir = NULL;
    if (id_ok(id)) {
        char *leaf = leaf_name("mpt", id, bck, obj);
        dir = wk_find(bck, leaf);
        free(leaf);
    }
    if (dir == NULL)
        snprintf(err, errlen,
                 "multipart upload \"%.64s\" of ais://%s/%s does not exist (never started, "
                 "completed, aborted or expired)",
                 id ? id : "", bck, obj);
    return dir;
}

int mpt_part_open(obj_writer_t *w, const char *bck, const char *obj, const char *id,
                  const char *part, char *err, size_t errlen)
{
    memset(w, 0, sizeof(*w));
    w->fd = -1;
    int n = mpt_part_number(part);
    if (n < 0) {
        snprintf(err, errlen, "invalid part number \"%.32s\" (expecting 1..%d)", part ? part : "",
                 MPT_MAX_PARTS);
        return 400;
    }
    char *dir = mpt_dir(bck, obj, id, err, errlen);
    if (dir == NULL)
        return 404;
    char rnd[13];
    random_id(rnd, 12);
    rnd[12] = '\0';
    w->work = xasprintf("%s/tmp.%s", dir, rnd);
    w->fqn = xasprintf("%s/part.%05d", dir, n);
    free(dir);
    w->fd = open(w->work, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        int e = errno;
        snprintf(err, errlen, "multipart upload \"%s\": cannot store part %d: %s", id, n,
                 strerror(e));
        store_writer_abort(w);
        return e == ENOENT ? 404 : 500;
    }
    w->bck = xstrdup(bck);
    w->obj = xstrdup(obj);
    w->xx = XXH64_createState();
    XXH64_reset(w->xx, 0);
    return 0;
}

int mpt_part_commit(obj_writer_t *w, char *err, size_t errlen)
{
    int st = 0;
    if (rename(w->work, w->fqn) < 0) {
        st = errno == ENOENT ? 404 : 500;
        snprintf(err, errlen,
                 "ais://%s/%s: the part could not be stored (%s): the upload was "
                 "completed or aborted meanwhile?",
                 w->bck, w->obj, strerror(errno));
    }
    store_writer_abort(w); /* its work file is the part now: only the writer goes */
    return st;
}

/* How many part files dir holds. */
static int count_parts(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL)
        n += strncmp(de->d_name, "part.", 5) == 0;
    if (d)
        closedir(d);
    return n;
}

/* Concatenates parts 1..n of dir into bck/obj and commits it. 0 or an HTTP status with err. */
static int mpt_concat(const char *dir, int n, const char *bck, const char *obj, char *err,
                      size_t errlen)
{
    for (int i = 1; i <= n; i++) {
        char *p = xasprintf("%s/part.%05d", dir, i);
        struct stat st;
        bool there = lstat(p, &st) == 0 && S_ISREG(st.st_mode);
        free(p);
        if (!there) {
            snprintf(err, errlen, "mpt-complete: part %d was not uploaded", i);
            return 400;
        }
    }
    int have = count_parts(dir);
    if (have != n) {
        snprintf(err, errlen,
                 "mpt-complete: the parts list names %d parts; the upload has %d (a partial "
                 "completion is not allowed)",
                 n, have);
        return 400;
    }
    obj_writer_t w;
    if (store_writer_open(&w, bck, obj, err, errlen) < 0)
        return 500;
    int st = 0;
    for (int i = 1; i <= n && st == 0; i++) {
        char *p = xasprintf("%s/part.%05d", dir, i);
        int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        free(p);
        if (fd < 0) {
            snprintf(err, errlen, "mpt-complete: part %d was not uploaded", i);
            st = 400;
        } else {
            st = store_writer_copy_fd(&w, fd, err, errlen) < 0 ? 500 : 0;
            close(fd);
        }
    }
    if (st) {
        store_writer_abort(&w);
        return st;
    }
    return store_writer_commit(&w, NULL, err, errlen);
}

/* Renames upload id's directory to <dir>.<sfx> so that no other complete or abort finds it: the
 * new path (caller frees; *dir the old one) or NULL with 404 and err. */
static char *mpt_claim(const char *bck, const char *obj, const char *id, const char *sfx,
                       char **dir, char *err, size_t errlen)
{
    *dir = mpt_dir(bck, obj, id, err, errlen);
    if (*dir == NULL)
        return NULL;
    char *claimed = xasprintf("%s.%s", *dir, sfx);
    if (rename(*dir, claimed) == 0)
        return claimed;
    snprintf(err, errlen, "multipart upload \"%s\" of ais://%s/%s is being completed or aborted",
             id, bck, obj);
    free(claimed);
    free(*dir);
    *dir = NULL;
    return NULL;
}

int mpt_complete(const char *bck, const char *obj, const char *id, const char *body, size_t len,
                 char *err, size_t errlen)
{
    int n = mpt_parts_parse(body, len, err, errlen);
    if (n < 0)
        return 400;
    char *dir;
    char *claimed = mpt_claim(bck, obj, id, "cmpl", &dir, err, errlen);
    if (claimed == NULL)
        return 404;
    int st = mpt_concat(claimed, n, bck, obj, err, errlen);
    if (st == 0)
        remove_tree(claimed);
    else if (rename(claimed, dir) < 0) /* back: the client may fix its list, or abort */
        remove_tree(claimed);
    free(claimed);
    free(dir);
    return st;
}

int mpt_abort(const char *bck, const char *obj, const char *id, char *err, size_t errlen)
{
    char *dir;
    char *gone = mpt_claim(bck, obj, id, "abrt", &dir, err, errlen);
    if (gone == NULL)
        return 404;
    remove_tree(gone);
    free(gone);
    free(dir);
    return 0;
}

/* ---------------------------------------------------------------- append */

/* The append file of handle "<target id>|<id>" for bck/obj (caller frees), or NULL with a status
 * and err. */
static char *apnd_path(const char *bck, const char *obj, const char *handle, int *status, char *err,
                       size_t errlen)
{
    const char *bar = strchr(handle, '|');
    const char *self = cluster_self_id();
    if (bar == NULL || !id_ok(bar + 1)) {
        snprintf(err, errlen, "invalid append handle \"%.80s\"", handle);
        *status = 400;
        return NULL;
    }
    if ((size_t)(bar - handle) != strlen(self) || strncmp(handle, self, strlen(self)) != 0) {
        snprintf(err, errlen,
                 "append handle \"%.80s\" is not %s's (the object moved to another target?)",
                 handle, self);
        *status = 400;
        return NULL;
    }
    char *leaf = leaf_name("apnd", bar + 1, bck, obj);
    char *p = wk_find(bck, leaf);
    free(leaf);
    if (p == NULL) {
        snprintf(err, errlen,
                 "append handle \"%.80s\" is unknown for ais://%s/%s (flushed, expired, or of "
                 "another object)",
                 handle, bck, obj);
        *status = 404;
    }
    return p;
}

/* A new append file for bck/obj, with the object's current bytes when it exists. fd, or -1
 * with err; its path and id into *path and id. */
static int apnd_create(const char *bck, const char *obj, char **path, char id[OBJAPI_ID_LEN + 1],
                       char *err, size_t errlen)
{
    wk_sweep(bck);
    random_id(id, OBJAPI_ID_LEN);
    id[OBJAPI_ID_LEN] = '\0';
    char *leaf = leaf_name("apnd", id, bck, obj);
    *path = wk_new(bck, obj, leaf);
    free(leaf);
    int fd = *path ? open(*path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644) : -1;
    if (fd < 0) {
        snprintf(err, errlen, "cannot start an append to ais://%s/%s: %s", bck, obj,
                 strerror(errno));
        return -1;
    }
    int ofd, rc = 0;
    lom_md_t md;
    if (store_open(bck, obj, &ofd, &md) == 0) { /* the SDK's mode "a": the old bytes stay */
        lom_md_dispose(&md);
        rc = fd_append(fd, ofd);
        close(ofd);
    }
    if (rc < 0) {
        snprintf(err, errlen, "cannot start an append to ais://%s/%s: %s", bck, obj, strerror(-rc));
        close(fd);
        unlink(*path);
        return -1;
    }
    return fd;
}

int apnd_append(obj_writer_t *w, const char *handle, char *out, size_t outlen, char *err,
                size_t errlen)
{
    char id[OBJAPI_ID_LEN + 1];
    char *path = NULL;
    int fd, st = 0;
    if (handle == NULL || handle[0] == '\0') {
        fd = apnd_create(w->bck, w->obj, &path, id, err, errlen);
        st = fd < 0 ? 500 : 0;
    } else {
        path = apnd_path(w->bck, w->obj, handle, &st, err, errlen);
        fd = path ? open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW) : -1;
        if (path && fd < 0) {
            snprintf(err, errlen, "append handle \"%.80s\": %s", handle, strerror(errno));
            st = errno == ENOENT ? 404 : 500;
        }
        if (path) /* a valid handle: "<target id>|<id>" */
            snprintf(id, sizeof(id), "%s", strchr(handle, '|') + 1);
    }
    if (st == 0) {
        int rc = fd_append(fd, w->fd);
        if (rc < 0) {
            snprintf(err, errlen, "append to ais://%s/%s: %s", w->bck, w->obj, strerror(-rc));
            st = 500;
        }
        snprintf(out, outlen, "%s|%s", cluster_self_id(), id);
    }
    if (fd >= 0)
        close(fd);
    free(path);
    store_writer_abort(w); /* the body was copied into the append file */
    return st;
}

int apnd_flush(const char *bck, const char *obj, const char *handle, char *err, size_t errlen)
{
    if (handle == NULL || handle[0] == '\0') {
        snprintf(err, errlen, "flush: the append_handle of the appends is missing");
        return 400;
    }
    int st = 0;
    char *path = apnd_path(bck, obj, handle, &st, err, errlen);
    if (path == NULL)
        return st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    obj_writer_t w;
    if (fd < 0) {
        snprintf(err, errlen, "flush ais://%s/%s: %s", bck, obj, strerror(errno));
        st = errno == ENOENT ? 404 : 500;
    } else if (store_writer_open(&w, bck, obj, err, errlen) < 0) {
        st = 500;
    } else if (store_writer_copy_fd(&w, fd, err, errlen) < 0) {
        store_writer_abort(&w);
        st = 500;
    } else {
        st = store_writer_commit(&w, NULL, err, errlen);
    }
    if (fd >= 0)
        close(fd);
    if (st == 0)
        unlink(path);
    free(path);
    return st;
}

/* ---------------------------------------------------------------- custom metadata */

/* Whether a custom key or value can be carried by Ais-Custom-Md ("k=v,k2=v2"). */
static bool custom_text_ok(const char *s)
{
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == ',' || *p == '=')
            return false;
    return true;
}

/* Checks the new custom metadata value (a JSON object of strings). NULL or why not. */
static const char *custom_check(json_t *value, char *why, size_t len)
{
    if (!json_is_object(value) || json_object_size(value) == 0)
        return "expecting {\"value\":{\"key\":\"value\",...}} with at least one key";
    const char *k;
    json_t *v;
    size_t total = 0;
    json_object_foreach(value, k, v)
    {
        if (k[0] == '\0' || !json_is_string(v)) {
            snprintf(why, len, "key \"%.64s\": keys are non-empty, values are strings", k);
            return why;
        }
        if (!custom_text_ok(k) || !custom_text_ok(json_string_value(v))) {
            snprintf(why, len,
                     "key \"%.64s\": keys and values may not hold ',', '=' or control "
                     "characters",
                     k);
            return why;
        }
        total += strlen(k) + strlen(json_string_value(v));
    }
    if (total > OBJAPI_CUSTOM_MAX) {
        snprintf(why, len, "%zu bytes of keys and values: the limit is %d", total,
                 OBJAPI_CUSTOM_MAX);
        return why;
    }
    return NULL;
}

int obj_set_custom(const char *bck, const char *obj, json_t *value, bool replace, char *err,
                   size_t errlen)
{
    char why[160];
    const char *bad = custom_check(value, why, sizeof(why));
    if (bad) {
        snprintf(err, errlen, "ais://%s/%s: set custom metadata: %s", bck, obj, bad);
        return 400;
    }
    pthread_mutex_t *lk = store_stripe(bck, obj);
    pthread_mutex_lock(lk);
    char *fqn = mpath_locate_locked(bck, obj);
    int fd = fqn ? open(fqn, O_RDONLY | O_CLOEXEC) : -1;
    int st = 0;
    lom_md_t md;
    lom_md_init(&md);
    if (fd < 0) {
        snprintf(err, errlen, "%s: ais://%s/%s does not exist", cluster_self_name(), bck, obj);
        st = 404;
    } else if (lom_md_load_fd(fd, &md) < 0) {
        snprintf(err, errlen, "ais://%s/%s has no readable metadata", bck, obj);
        st = 500;
    } else {
        json_t *c = replace || md.custom == NULL ? json_object() : json_deep_copy(md.custom);
        json_object_update(c, value);
        json_decref(md.custom);
        md.custom = c;
        int rc = lom_md_store_fd(fd, &md);
        if (rc < 0) {
            snprintf(err, errlen, "ais://%s/%s: cannot store its metadata: %s", bck, obj,
                     strerror(-rc));
            st = 500;
        }
    }
    pthread_mutex_unlock(lk);
    if (fd >= 0)
        close(fd);
    lom_md_dispose(&md);
    free(fqn);
    return st;
}
