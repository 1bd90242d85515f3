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
 * removed when idle for mpt_idle_timeout (a sweep of the bucket's work directories whenever a new
 * upload or append starts in it or its uploads are listed, and of every bucket by a thread).
 * For the S3 API (src/s3/mpt.c) a part keeps the MD5 its PUT carried in an xattr, an upload's
 * meta file names its object, and an S3 complete joins the listed parts only, S3's way. Handles and
 * upload ids are random [a-z0-9] strings checked character by character before they become part of
 * a path.
 */
#include "cluster/cluster.h"
#include "cluster/meta.h"
#include "common/hrw.h"
#include "common/json.h"
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
#include <openssl/evp.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define MPT_XATTR_ETAG "user.locus.mpt-etag" /* a part's MD5 (hex), when its PUT carried one */
#define MPT_META "meta"                      /* an upload's {"name","initiated"} */

/* How long an upload or append may stay untouched (config mpt_idle_timeout), in s. */
static time_t idle_s(void)
{
    int64_t ns = cluster_config()->mpt_idle_timeout_ns;
    return ns > 0 ? (time_t)(ns / 1000000000LL) : 24 * 3600;
}

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

/* Removes the uploads and appends of bck that nobody touched for idle_s(). */
static void wk_sweep(const char *bck)
{
    time_t idle = idle_s(), idle_since = time(NULL) - idle;
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
                LOCUS_LOG(LOG_NOTICE, "%s: ais://%s: removing %s, idle for more than %lld s",
                          cluster_self_name(), bck, de->d_name, (long long)idle);
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

/* Writes dir/MPT_META: the object's name (the directory's own name holds only its digest) and
 * when the upload started, for the listings. 0 or -errno. */
static int mpt_meta_write(const char *dir, const char *obj)
{
    json_t *m = json_pack("{s:s, s:I}", "name", obj, "initiated", (json_int_t)time_now_ns());
    char *text = json_dumps(m, JSON_COMPACT);
    json_decref(m);
    char *p = xasprintf("%s/" MPT_META, dir);
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    int rc = fd < 0 ? -errno : write_all(fd, text, strlen(text));
    if (fd >= 0)
        close(fd);
    free(p);
    free(text);
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
    int st = 0, rc = dir == NULL || mkdir(dir, 0755) < 0 ? -errno : mpt_meta_write(dir, obj);
    if (rc < 0) {
        snprintf(err, errlen, "cannot start a multipart upload of ais://%s/%s: %s", bck, obj,
                 strerror(-rc));
        st = 500;
        if (dir)
            remove_tree(dir);
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

int mpt_part_commit(obj_writer_t *w, const char *etag, char *err, size_t errlen)
{
    int st = 0;
    if (etag && etag[0] && fsetxattr(w->fd, MPT_XATTR_ETAG, etag, strlen(etag), 0) < 0) {
        st = 500;
        snprintf(err, errlen, "ais://%s/%s: cannot keep the part's ETag: %s", w->bck, w->obj,
                 strerror(errno));
    } else if (rename(w->work, w->fqn) < 0) {
        st = errno == ENOENT ? 404 : 500;
        snprintf(err, errlen,
                 "ais://%s/%s: the part could not be stored (%s): the upload was "
                 "completed or aborted meanwhile?",
                 w->bck, w->obj, strerror(errno));
    }
    store_writer_abort(w); /* its work file is the part now (or gone): only the writer goes */
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

/* Whether dir holds exactly parts 1..n (AIStore's rule: no gap, no partial completion). 0 or
 * 400 with err. */
static int mpt_check_all(const char *dir, int n, char *err, size_t errlen)
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
    return 0;
}

/* Concatenates parts nums[0..n) of dir, in that order, into bck/obj and commits it with custom
 * (may be NULL). 0 or an HTTP status with err. */
static int mpt_join(const char *dir, const int *nums, int n, const char *bck, const char *obj,
                    json_t *custom, char *err, size_t errlen)
{
    obj_writer_t w;
    if (store_writer_open(&w, bck, obj, err, errlen) < 0)
        return 500;
    int st = 0;
    for (int i = 0; i < n && st == 0; i++) {
        char *p = xasprintf("%s/part.%05d", dir, nums[i]);
        int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        free(p);
        if (fd < 0) {
            snprintf(err, errlen, "mpt-complete: part %d was not uploaded", nums[i]);
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
    return store_writer_commit(&w, custom, err, errlen);
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
    if (rename(*dir, claimed) == 0) {
        utimensat(AT_FDCWD, claimed, NULL, 0); /* touched: no sweep while it is being joined */
        return claimed;
    }
    snprintf(err, errlen, "multipart upload \"%s\" of ais://%s/%s is being completed or aborted",
             id, bck, obj);
    free(claimed);
    free(*dir);
    *dir = NULL;
    return NULL;
}

/* The end of a complete: the claimed directory goes on success, else it is the upload again
 * (the client may fix its list, or abort). */
static void mpt_release(char *claimed, char *dir, int st)
{
    if (st == 0)
        remove_tree(claimed);
    else if (rename(claimed, dir) < 0)
        remove_tree(claimed);
    free(claimed);
    free(dir);
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
    int st = mpt_check_all(claimed, n, err, errlen);
    if (st == 0) {
        int *nums = xcalloc((size_t)n, sizeof(int));
        for (int i = 0; i < n; i++)
            nums[i] = i + 1;
        st = mpt_join(claimed, nums, n, bck, obj, NULL, err, errlen);
        free(nums);
    }
    mpt_release(claimed, dir, st);
    return st;
}

/* The MD5 (hex) a part's PUT carried, into out[33]; "" when it had none. */
static void part_etag(const char *path, char out[33])
{
    ssize_t k = getxattr(path, MPT_XATTR_ETAG, out, 32);
    out[k == 32 ? 32 : 0] = '\0';
}

int mpt_s3_parse(const char *body, size_t len, mpt_s3_parts_t *p, char *err, size_t errlen)
{
    memset(p, 0, sizeof(*p));
    json_t *m = json_loadb(body ? body : "", len, 0, NULL);
    json_t *v = json_object_get(m, "value");
    size_t n = json_array_size(v), i;
    json_t *e;
    int rc = -1;
    if (!json_is_array(v) || n == 0 || n > MPT_MAX_PARTS) {
        snprintf(err, errlen, "mpt-complete: expecting 1..%d parts", MPT_MAX_PARTS);
        goto out;
    }
    p->num = xcalloc(n, sizeof(int));
    p->etag = xcalloc(n, sizeof(*p->etag));
    json_array_foreach(v, i, e)
    {
        json_t *pn = json_object_get(e, "part-number");
        const char *et = json_string_value(json_object_get(e, "etag"));
        json_int_t k = json_is_integer(pn) ? json_integer_value(pn) : -1;
        if (k < 1 || k > MPT_MAX_PARTS || et == NULL || strlen(et) != 32 ||
            strspn(et, "0123456789abcdef") != 32) {
            snprintf(err, errlen,
                     "mpt-complete: entry %zu needs a part-number in 1..%d and an "
                     "etag of 32 hex digits",
                     i, MPT_MAX_PARTS);
            goto out;
        }
        if (i > 0 && k <= p->num[i - 1]) {
            snprintf(err, errlen,
                     "mpt-complete: part %lld after part %d: the list must be in "
                     "ascending order",
                     (long long)k, p->num[i - 1]);
            rc = -2;
            goto out;
        }
        p->num[i] = (int)k;
        memcpy(p->etag[i], et, 33);
    }
    p->n = (int)n;
    rc = 0;
out:
    json_decref(m);
    return rc;
}

void mpt_s3_dispose(mpt_s3_parts_t *p)
{
    free(p->num);
    free(p->etag);
    memset(p, 0, sizeof(*p));
}

/* S3's checks of the listed parts in dir (InvalidPart, EntityTooSmall), and the object's ETag
 * into etag: the MD5 of the parts' MD5s, "-", their count. 0, or 400 with *code and err. */
static int mpt_s3_check(const char *dir, const mpt_s3_parts_t *p, int64_t min_part, char etag[48],
                        const char **code, char *err, size_t errlen)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (md == NULL || EVP_DigestInit_ex(md, EVP_md5(), NULL) != 1)
        locus_panic("cannot start an MD5 digest");
    int st = 0;
    for (int i = 0; i < p->n && st == 0; i++) {
        char *path = xasprintf("%s/part.%05d", dir, p->num[i]);
        struct stat sb;
        char have[33] = "";
        if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode))
            part_etag(path, have);
        free(path);
        st = 400;
        if (have[0] == '\0' || strcmp(have, p->etag[i]) != 0) {
            *code = "InvalidPart";
            snprintf(err, errlen, "part %d %s", p->num[i],
                     have[0] ? "has another ETag" : "was not uploaded (through S3)");
        } else if (i + 1 < p->n && sb.st_size < min_part) {
            *code = "EntityTooSmall";
            snprintf(err, errlen, "part %d has %lld bytes: each part but the last needs %lld",
                     p->num[i], (long long)sb.st_size, (long long)min_part);
        } else {
            unsigned char d[16];
            for (int j = 0; j < 16; j++) {
                unsigned x;
                sscanf(have + 2 * j, "%2x", &x);
                d[j] = (unsigned char)x;
            }
            EVP_DigestUpdate(md, d, 16);
            st = 0;
        }
    }
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned dn = 0;
    EVP_DigestFinal_ex(md, d, &dn);
    EVP_MD_CTX_free(md);
    for (int j = 0; j < 16; j++)
        snprintf(etag + 2 * j, 3, "%02x", d[j]);
    snprintf(etag + 32, 16, "-%d", p->n);
    return st;
}

int mpt_complete_s3(const char *bck, const char *obj, const char *id, const mpt_s3_parts_t *p,
                    int64_t min_part, char etag[48], const char **code, char *err, size_t errlen)
{
    char *dir;
    char *claimed = mpt_claim(bck, obj, id, "cmpl", &dir, err, errlen);
    if (claimed == NULL) {
        *code = "NoSuchUpload";
        return 404;
    }
    int st = mpt_s3_check(claimed, p, min_part, etag, code, err, errlen);
    if (st == 0) {
        json_t *custom = json_pack("{s:s}", "ETag", etag);
        st = mpt_join(claimed, p->num, p->n, bck, obj, custom, err, errlen);
        json_decref(custom);
    }
    mpt_release(claimed, dir, st);
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

/* ---------------------------------------------------------------- listings, sweeper */

/* dir/MPT_META's name and start time; -1 when it has none (being completed, or torn). */
static int mpt_meta_read(const char *dir, char **name, int64_t *initiated)
{
    char *p = xasprintf("%s/" MPT_META, dir), *text = NULL;
    size_t len = 0;
    int rc = read_file(p, &text, &len);
    free(p);
    json_t *m = rc == 0 ? json_loadb(text, len, 0, NULL) : NULL;
    free(text);
    const char *n = json_string_value(json_object_get(m, "name"));
    if (n)
        *name = xstrdup(n);
    *initiated = json_int64(json_object_get(m, "initiated"));
    json_decref(m);
    return n ? 0 : -1;
}

static int cmp_part(const void *a, const void *b)
{
    return (int)json_integer_value(json_object_get(*(json_t *const *)a, "part-number")) -
           (int)json_integer_value(json_object_get(*(json_t *const *)b, "part-number"));
}

int mpt_list_parts(const char *bck, const char *obj, const char *id, json_t **out, char *err,
                   size_t errlen)
{
    char *dir = mpt_dir(bck, obj, id, err, errlen), *name = NULL;
    int64_t initiated = 0;
    if (dir == NULL)
        return 404;
    mpt_meta_read(dir, &name, &initiated);
    json_t *parts = json_array();
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        if (strlen(nm) != 10 || strncmp(nm, "part.", 5) != 0 || strspn(nm + 5, "0123456789") != 5)
            continue;
        char *p = xasprintf("%s/%s", dir, nm);
        struct stat sb;
        char etag[33];
        if (lstat(p, &sb) == 0 && S_ISREG(sb.st_mode)) {
            part_etag(p, etag);
            json_array_append_new(
                parts,
                json_pack("{s:i, s:s, s:I, s:I}", "part-number", atoi(nm + 5), "etag", etag, "size",
                          (json_int_t)sb.st_size, "mtime",
                          (json_int_t)sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec));
        }
        free(p);
    }
    if (d)
        closedir(d);
    size_t n = json_array_size(parts);
    json_t **v = xcalloc(n + 1, sizeof(json_t *));
    for (size_t i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(parts, i));
    qsort(v, n, sizeof(json_t *), cmp_part);
    json_array_clear(parts);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(parts, v[i]);
    free(v);
    *out = json_pack("{s:s, s:s, s:I, s:o}", "name", name ? name : obj, "id", id, "initiated",
                     (json_int_t)initiated, "parts", parts);
    free(name);
    free(dir);
    return 0;
}

/* Whether upload (name, id) comes after S3's markers: key_marker alone skips names up to it;
 * with id_marker, the uploads of key_marker with greater ids come too. */
static bool after_markers(const char *name, const char *id, const char *kmark, const char *imark)
{
    int c = strcmp(name, kmark);
    return c > 0 || (c == 0 && imark[0] && strcmp(id, imark) > 0);
}

static int cmp_upload(const void *a, const void *b)
{
    return json_cmp_members(*(json_t *const *)a, *(json_t *const *)b, "name", "id");
}

/* The uploads of one work directory that pass the filters, appended to v (*n of them). */
static void uploads_in(const char *wd, const mpt_filter_t *f, json_t ***v, size_t *n, size_t *cap)
{
    DIR *d = opendir(wd);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        const char *nm = de->d_name; /* mpt-<id>-<16 hex digits>, nothing after */
        if (strncmp(nm, "mpt-", 4) != 0 || strlen(nm) != 4 + OBJAPI_ID_LEN + 1 + 16)
            continue;
        char id[OBJAPI_ID_LEN + 1], *dir = xasprintf("%s/%s", wd, nm), *name = NULL;
        snprintf(id, sizeof(id), "%s", nm + 4);
        int64_t initiated;
        if (mpt_meta_read(dir, &name, &initiated) == 0 && str_has_prefix(name, f->prefix) &&
            after_markers(name, id, f->key_marker, f->id_marker)) {
            if (*n == *cap) {
                *cap = *cap ? *cap * 2 : 64;
                *v = xrealloc(*v, *cap * sizeof(json_t *));
            }
            (*v)[(*n)++] = json_pack("{s:s, s:s, s:I}", "name", name, "id", id, "initiated",
                                     (json_int_t)initiated);
        }
        free(name);
        free(dir);
    }
    if (d)
        closedir(d);
}

json_t *mpt_list_uploads(const char *bck, const mpt_filter_t *f)
{
    wk_sweep(bck);
    json_t **v = NULL;
    size_t n = 0, cap = 0;
    mpset_t *s = mpath_get();
    for (size_t i = 0; i < mpset_count(s); i++) {
        char *wd = fqn_workdir(mpset_path(s, i), bck);
        uploads_in(wd, f, &v, &n, &cap);
        free(wd);
    }
    mpath_put(s);
    if (n)
        qsort(v, n, sizeof(json_t *), cmp_upload);
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++) {
        if (i < f->limit)
            json_array_append(out, v[i]);
        json_decref(v[i]);
    }
    free(v);
    return out;
}

static pthread_mutex_t sweeper_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sweeper_cond = PTHREAD_COND_INITIALIZER;
static bool sweeper_stop, sweeper_running;
static pthread_t sweeper_th;

/* Every quarter of the idle timeout (10 minutes at most): each bucket's sweep. */
static void *sweeper_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&sweeper_lock);
    while (!sweeper_stop) {
        time_t period = idle_s() / 4;
        period = period < 1 ? 1 : period > 600 ? 600 : period;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += period;
        pthread_cond_timedwait(&sweeper_cond, &sweeper_lock, &ts);
        if (sweeper_stop)
            break;
        pthread_mutex_unlock(&sweeper_lock);
        json_t *names = bmd_bucket_names(), *e;
        size_t i;
        json_array_foreach(names, i, e) wk_sweep(json_string_value(e));
        json_decref(names);
        pthread_mutex_lock(&sweeper_lock);
    }
    pthread_mutex_unlock(&sweeper_lock);
    return NULL;
}

void mpt_sweeper_start(void)
{
    sweeper_stop = false;
    sweeper_running = pthread_create(&sweeper_th, NULL, sweeper_main, NULL) == 0;
}

void mpt_sweeper_stop(void)
{
    if (!sweeper_running)
        return;
    pthread_mutex_lock(&sweeper_lock);
    sweeper_stop = true;
    pthread_cond_signal(&sweeper_cond);
    pthread_mutex_unlock(&sweeper_lock);
    pthread_join(sweeper_th, NULL);
    sweeper_running = false;
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
