/*
 * archget.c - reading into a stored archive ("shard"): GET of one member (?archpath=) or of the
 * members that match (?archregx=&archmode=, answered as a TAR, as AIStore does), and the
 * archive expansion of a listing page (AIStore's LsArchDir flag). docs/design.md §16.
 */
#include "cluster/cluster.h"
#include "common/log.h"
#include "common/names.h"
#include "common/util.h"
#include "target/arch.h"
#include "target/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    int fd;
    arch_reader_t *r;
    arch_match_t *m; /* archregx: the selection; NULL for one member */
    int64_t size;    /* archpath: the member's size */
} aget_t;

static void aget_free(void *p)
{
    aget_t *g = p;
    arch_close(g->r);
    arch_match_free(g->m);
    if (g->fd >= 0)
        close(g->fd);
    free(g);
}

/* One member: its bytes as they are decompressed. */
static int member_produce(tstream_t *ts, void *p)
{
    aget_t *g = p;
    if (tstream_start(ts, g->size, "application/octet-stream") < 0)
        return -1;
    char *buf = xmalloc(64 * 1024);
    int64_t left = g->size;
    int rc = 0;
    while (rc == 0 && left > 0) {
        ssize_t n = arch_read(g->r, buf, left < 65536 ? (size_t)left : 65536);
        if (n <= 0 || tstream_write(ts, buf, (size_t)n) < 0)
            rc = -1;
        left -= n;
    }
    free(buf);
    return rc;
}

static int sink_stream(void *arg, const void *p, size_t n)
{
    return tstream_write(arg, p, n);
}

/* The matching members, as a TAR (whatever the shard's format). */
static int select_produce(tstream_t *ts, void *p)
{
    aget_t *g = p;
    char err[512];
    if (tstream_start(ts, -1, arch_content_type(ARCH_TAR)) < 0)
        return -1;
    arch_writer_t *w = arch_writer_new(ARCH_TAR, false, sink_stream, ts, err, sizeof(err));
    if (w == NULL)
        return -1;
    int rc = 0;
    for (;;) {
        const char *name;
        int64_t size;
        int nr = arch_next(g->r, &name, &size, err, sizeof(err));
        if (nr != 0) {
            rc = nr < 0 ? -1 : 0;
            break;
        }
        if (!arch_match(g->m, name))
            continue;
        if (arch_writer_begin(w, name, size, time_now_ns() / 1000000000) < 0 ||
            arch_writer_copy(w, g->r, size) < 0) {
            rc = -1;
            break;
        }
    }
    if (rc < 0)
        LOCUS_LOG(LOG_WARNING, "%s: archregx: %s", cluster_self_name(),
                  arch_writer_error(w)[0] ? arch_writer_error(w) : err);
    return arch_writer_finish(w, rc == 0) < 0 ? -1 : rc;
}

void arch_object_get(http_req_t *req, const char *bck, const char *obj)
{
    const char *ap = http_query(req, "archpath");
    const char *rx = http_query(req, "archregx");
    char err[1024];
    aget_t *g = xcalloc(1, sizeof(*g));
    g->fd = -1;
    if (ap && (ap[0] == '\0' || name_check_object(ap, strlen(ap)) != NULL)) {
        http_reply_error(req, 400, "invalid archpath \"%s\": %s", ap,
                         ap[0] ? name_check_object(ap, strlen(ap)) : "empty");
        goto fail;
    }
    if (!ap && (g->m = arch_match_new(rx, http_query(req, "archmode"), err, sizeof(err))) == NULL) {
        http_reply_error(req, 400, "%s", err);
        goto fail;
    }
    lom_md_t md;
    int rc = store_open(bck, obj, &g->fd, &md);
    if (rc < 0) {
        http_reply_error(req, rc == -ENOENT ? 404 : 500, "%s: ais://%s/%s: %s", cluster_self_name(),
                         bck, obj, rc == -ENOENT ? "does not exist" : strerror(-rc));
        g->fd = -1;
        goto fail;
    }
    lom_md_dispose(&md);
    if (ap) {
        int st = arch_find(g->fd, ap, &g->r, &g->size, err, sizeof(err));
        if (st) {
            http_reply_error(req, (unsigned)st, "ais://%s/%s: %s", bck, obj, err);
            goto fail;
        }
        tstream_run(req, member_produce, g, aget_free);
        return;
    }
    if ((g->r = arch_open(g->fd, err, sizeof(err))) == NULL) {
        http_reply_error(req, 400, "ais://%s/%s: %s", bck, obj, err);
        goto fail;
    }
    tstream_run(req, select_produce, g, aget_free);
    return;
fail:
    aget_free(g);
}

/* The members of the archive out->entries[at], appended to out; it gets EntryIsArchive. */
static void expand_one(const char *bck, lso_page_t *out, size_t at)
{
    int fd;
    lom_md_t md;
    if (store_open(bck, out->entries[at].name, &fd, &md) < 0)
        return;
    lom_md_dispose(&md);
    char err[512];
    arch_reader_t *r = arch_open(fd, err, sizeof(err));
    if (r == NULL) { /* an archive by name only: listed as a plain object */
        close(fd);
        return;
    }
    char *parent = xstrdup(out->entries[at].name);
    uint32_t flags = out->entries[at].flags | LSO_ENTRY_IN_ARCH;
    out->entries[at].flags |= LSO_ENTRY_IS_ARCHIVE;
    const char *name;
    int64_t size;
    for (size_t k = 0; k < ARCH_MAX_MEMBERS && arch_next(r, &name, &size, err, sizeof(err)) == 0;
         k++) {
        char *full = xasprintf("%s/%s", parent, name);
        lso_entry_t m = {.name = full, .size = size, .flags = flags};
        lso_page_add(out, &m);
        free(full);
    }
    free(parent);
    arch_close(r);
    close(fd);
}

void arch_expand_page(const char *bck, lso_page_t *page)
{
    lso_page_t out;
    lso_page_init(&out);
    for (size_t i = 0; i < page->n; i++) {
        lso_page_add(&out, &page->entries[i]);
        if (arch_name_has_ext(page->entries[i].name))
            expand_one(bck, &out, out.n - 1);
    }
    for (size_t i = 0; i < page->n; i++)
        lso_entry_dispose(&page->entries[i]);
    free(page->entries);
    page->entries = out.entries;
    page->n = out.n;
    page->cap = out.cap;
    out.entries = NULL;
    out.n = out.cap = 0;
    lso_page_dispose(&out);
}
