/*
 * tstats.c - a target's own metrics (docs/operations.md, "Metrics"): capacity and use of each
 * mountpath, read when scraped, and its jobs (xact_metrics). Requests are counted by the node
 * (src/cluster/stats.c) and ETLs by the ETL runtime.
 */
#include "common/metrics.h"
#include "target/internal.h"
#include "xact/xact.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/statvfs.h>

static void mountpaths_collect(buf_t *b)
{
    static const struct {
        const char *name, *help;
    } fam[] = {
        {"locus_mountpath_capacity_bytes", "size of the mountpath's filesystem"},
        {"locus_mountpath_used_bytes", "bytes in use on the mountpath's filesystem"},
        {"locus_mountpath_available_bytes", "bytes available to this node there"},
        {"locus_mountpath_enabled", "1: in the placement set; 0: disabled or detaching"},
    };
    mpset_t *s = mpath_get();
    size_t n = mpset_count(s);
    double(*v)[4] = xcalloc(n ? n : 1, sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        struct statvfs st;
        if (statvfs(mpset_path(s, i), &st) == 0) {
            v[i][0] = (double)st.f_blocks * (double)st.f_frsize;
            v[i][1] = (double)(st.f_blocks - st.f_bfree) * (double)st.f_frsize;
            v[i][2] = (double)st.f_bavail * (double)st.f_frsize;
        }
        v[i][3] = i < s->n_en ? 1 : 0;
    }
    for (size_t f = 0; f < ARRAY_SIZE(fam); f++) {
        metrics_family(b, fam[f].name, "gauge", fam[f].help);
        for (size_t i = 0; i < n; i++) {
            char *e = metrics_escape(mpset_path(s, i));
            char *lab = xasprintf("mountpath=\"%s\"", e);
            metrics_sample(b, fam[f].name, lab, v[i][f]);
            free(lab);
            free(e);
        }
    }
    free(v);
    mpath_put(s);
}

void tstats_init(void)
{
    metrics_register(mountpaths_collect);
    metrics_register(xact_metrics);
}
