/*
 * archjob.c - the "archive" job (AIStore's ActArchive with an ArchiveBckMsg): the objects a list
 * or a range template names, in that order, written into one TAR, TGZ, ZIP or TAR.LZ4 object.
 * Every target runs the job (its status and counters are the usual ones); only the owner of the
 * archive's name builds it: each source object is read here, or from its owner into an unnamed
 * spool file, and copied into the archive, which streams into the destination's work file and is
 * committed at the end (nothing partial is ever visible). docs/design.md §16.
 */
#include "cluster/cluster.h"
#include "cluster/meta.h"
#include "common/log.h"
#include "common/moss.h"
#include "common/names.h"
#include "common/util.h"
#include "target/arch.h"
#include "target/internal.h"
#include "target/jobs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    xact_t *x;
    const char *src, *dst, *archname;
    bool isbn, bnonly, coer;
    obj_writer_t w;
    arch_writer_t *aw;
} ajob_t;

static int sink_writer(void *arg, const void *p, size_t n)
{
    return store_writer_write(arg, p, n) < 0 ? -1 : 0;
}

int arch_spool_fetch(const char *url, int64_t *size, int *status, char *err, size_t errlen)
{
    mpset_t *ms = mpath_get();
    int fd = ec_tmp_open(ms->en[0]);
    mpath_put(ms);
    httpc_resp_t r;
    httpc_resp_init(&r);
    int rc = fd < 0 ? -1 : httpc_get_fd(url, fd, 120000, &r);
    struct stat st;
    if (rc == 0 && r.status == 200 && fstat(fd, &st) == 0) {
        *size = st.st_size;
    } else {
        *status = rc == 0 && (r.status == 404 || r.status == 400) ? 404 : 500;
        snprintf(err, errlen, "%s",
                 rc == 0 && *status == 404 ? "does not exist"
                 : r.err                   ? r.err
                                           : "cannot read from its target");
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    httpc_resp_dispose(&r);
    return fd;
}

/* Opens src/name: local, or fetched from its owner into a spool file. fd or -1 with err (and
 * *status: 404 when missing). */
static int source_open(ajob_t *a, const char *name, int64_t *size, int *status, char *err,
                       size_t errlen)
{
    smap_t *s = smap_get();
    const snode_t *o = smap_owner(s, a->src, name);
    char *url = NULL;
    if (o && strcmp(o->id, cluster_self_id()) != 0) {
        char *eb = url_encode(a->src, ""), *eo = url_encode(name, "/");
        url = xasprintf("%s/v1/objects/%s/%s?provider=ais", o->url, eb, eo);
        free(eb);
        free(eo);
    }
    smap_put(s);
    if (url) {
        int fd = arch_spool_fetch(url, size, status, err, errlen);
        free(url);
        return fd;
    }
    int fd;
    lom_md_t md;
    int rc = store_open(a->src, name, &fd, &md);
    *status = rc == -ENOENT ? 404 : 500;
    snprintf(err, errlen, "%s", rc == -ENOENT ? "does not exist" : strerror(-rc));
    if (rc < 0)
        return -1;
    *size = md.size;
    lom_md_dispose(&md);
    return fd;
}

static void ajob_failed(ajob_t *a, const char *name, const char *msg, int ecode)
{
    char *full = xasprintf("ais://%s/%s", a->src, name);
    xact_add_obj_error(a->x, full, msg, ecode);
    if (!a->coer) {
        char *e = xasprintf("%s: %s", full, msg);
        xact_set_err(a->x, e, true);
        free(e);
    }
    free(full);
}

/* Adds one source object. 0, or -1 when the job must stop. */
static int add_one(ajob_t *a, const char *name)
{
    char err[512];
    int status = 0;
    int64_t size = 0;
    const char *bad = name_check_object(name, strlen(name));
    int fd = bad ? -1 : source_open(a, name, &size, &status, err, sizeof(err));
    if (fd < 0) {
        ajob_failed(a, name, bad ? bad : err, bad ? 400 : status);
        return a->coer ? 0 : -1;
    }
    const char *base = strrchr(name, '/');
    const char *n = a->bnonly && base ? base + 1 : name;
    char *in_arch = a->isbn ? xasprintf("%s/%s", a->src, n) : xstrdup(n);
    int rc = arch_writer_begin(a->aw, in_arch, size, time_now_ns() / 1000000000);
    if (rc == 0)
        rc = arch_writer_copy_fd(a->aw, fd, 0, size);
    free(in_arch);
    close(fd);
    if (rc < 0) {
        xact_set_err(a->x, arch_writer_error(a->aw), true);
        return -1;
    }
    a->x->loc_objs++;
    a->x->loc_bytes += size;
    return 0;
}

/* append_if_exists: the members of the archive already there come first. */
static int copy_existing(ajob_t *a)
{
    int fd;
    lom_md_t md;
    if (store_open(a->dst, a->archname, &fd, &md) < 0)
        return 0; /* nothing to append to */
    lom_md_dispose(&md);
    char err[512];
    arch_reader_t *r = arch_open(fd, err, sizeof(err));
    int rc = r ? 0 : -1;
    const char *name;
    int64_t size;
    int nr;
    while (rc == 0 && (nr = arch_next(r, &name, &size, err, sizeof(err))) == 0)
        if (arch_writer_begin(a->aw, name, size, time_now_ns() / 1000000000) < 0 ||
            arch_writer_copy(a->aw, r, size) < 0)
            rc = -1;
    if (rc == 0 && nr < 0)
        rc = -1;
    arch_close(r);
    close(fd);
    if (rc < 0)
        xact_set_err(a->x, err, true);
    return rc;
}

void arch_job(xact_t *x, json_t *msg, char *(*next)(void *), void *arg)
{
    ajob_t a = {.x = x, .src = x->src_bck, .dst = x->dst_bck[0] ? x->dst_bck : x->src_bck};
    a.archname = json_string_value(json_object_get(msg, "archname"));
    const char *mime = json_string_value(json_object_get(msg, "mime"));
    int fmt = mime && mime[0] ? moss_fmt_parse(mime) : moss_fmt_of_name(a.archname);
    smap_t *s = smap_get();
    const snode_t *o = smap_owner(s, a.dst, a.archname);
    bool mine = o && strcmp(o->id, cluster_self_id()) == 0;
    smap_put(s);
    if (!mine || fmt < 0) /* the proxy checked the format; another target builds it */
        return;
    a.isbn = json_is_true(json_object_get(msg, "isbn"));
    a.bnonly = json_is_true(json_object_get(msg, "bnonly"));
    a.coer = json_is_true(json_object_get(msg, "coer"));
    char err[1024];
    if (store_writer_open(&a.w, a.dst, a.archname, err, sizeof(err)) < 0) {
        xact_set_err(x, err, true);
        return;
    }
    a.aw = arch_writer_new((arch_fmt_t)fmt, false, sink_writer, &a.w, err, sizeof(err));
    int rc = a.aw ? 0 : -1;
    if (rc == 0 && json_is_true(json_object_get(msg, "aate")))
        rc = copy_existing(&a);
    char *name;
    while (rc == 0 && (name = next(arg)) != NULL) {
        rc = add_one(&a, name);
        free(name);
    }
    if (rc == 0 && x->abort)
        rc = -1;
    if (a.aw && arch_writer_finish(a.aw, rc == 0) < 0 && rc == 0) {
        xact_set_err(x, "cannot write the archive", true);
        rc = -1;
    }
    if (rc < 0) {
        store_writer_abort(&a.w);
        return;
    }
    if (store_writer_commit(&a.w, NULL, err, sizeof(err)) != 0)
        xact_set_err(x, err, true);
    else
        LOCUS_LOG(LOG_NOTICE, "job archive[%s]: ais://%s/%s: %lld objects", x->id, a.dst,
                  a.archname, (long long)x->loc_objs);
}
