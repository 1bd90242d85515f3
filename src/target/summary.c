/*
 * summary.c - summary-bck on a target (AIStore's bucket summary, docs/protocol.md §1.13): one walk
 * per bucket counting the objects this target holds, their sizes and the space they take, and
 * the capacity of the disks under the mountpaths. The proxy sums the targets' results.
 */
#include "cluster/meta.h"
#include "common/util.h"
#include "target/internal.h"
#include "xact/xact.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

typedef struct {
    xact_t *x;
    int64_t objs, bytes, min, max, disk;
} bsum_t;

static int count_one(const char *name, const char *fqn, void *arg)
{
    (void)name;
    bsum_t *b = arg;
    struct stat st;
    if (stat(fqn, &st) != 0)
        return 0; /* deleted meanwhile */
    int64_t sz = st.st_size;
    if (b->objs == 0 || sz < b->min)
        b->min = sz;
    if (sz > b->max)
        b->max = sz;
    b->objs++;
    b->bytes += sz;
    b->disk += (int64_t)st.st_blocks * 512;
    b->x->loc_objs++;
    b->x->loc_bytes += sz;
    return b->x->abort ? 1 : 0;
}

/* The total size of the filesystems under the mountpaths, each counted once. */
static int64_t disks_total(void)
{
    mpset_t *s = mpath_get();
    dev_t seen[64];
    size_t n_seen = 0;
    int64_t total = 0;
    for (size_t i = 0; i < mpset_count(s); i++) {
        struct stat st;
        struct statvfs vf;
        const char *p = mpset_path(s, i);
        if (stat(p, &st) != 0 || statvfs(p, &vf) != 0)
            continue;
        bool dup = false;
        for (size_t k = 0; k < n_seen; k++)
            dup = dup || seen[k] == st.st_dev;
        if (dup)
            continue;
        if (n_seen < 64)
            seen[n_seen++] = st.st_dev;
        total += (int64_t)vf.f_blocks * (int64_t)vf.f_frsize;
    }
    mpath_put(s);
    return total;
}

static json_t *summarize(xact_t *x, const char *bck, const char *prefix)
{
    bsum_t b = {.x = x};
    store_walk(bck, prefix ? prefix : "", count_one, &b);
    return json_pack("{s:I, s:I, s:I, s:I, s:I}", "objs", (json_int_t)b.objs, "bytes",
                     (json_int_t)b.bytes, "min", (json_int_t)b.min, "max", (json_int_t)b.max,
                     "disk", (json_int_t)b.disk);
}

void summary_job(xact_t *x, const char *prefix)
{
    json_t *per = json_object();
    if (x->src_bck[0]) {
        json_object_set_new(per, x->src_bck, summarize(x, x->src_bck, prefix));
    } else {
        json_t *names = bmd_bucket_names(), *v; /* every bucket: the walks without the BMD */
        size_t i;
        json_array_foreach(names, i, v)
        {
            if (x->abort)
                break;
            const char *bn = json_string_value(v);
            json_object_set_new(per, bn, summarize(x, bn, prefix));
        }
        json_decref(names);
    }
    xact_set_ext(x,
                 json_pack("{s:o, s:I}", "buckets", per, "disks_total", (json_int_t)disks_total()));
}
