/*
 * nstats.c - a target's node statistics and status (AIStore's what=node_stats and
 * what=node_status, through GET /v1/reverse/daemon with Ais-Node-Id; docs/protocol.md §1.12):
 * the node's request counters ("tracker", AIStore's metric names: cluster/stats.c, the same as
 * GET /metrics), the capacity of every mountpath ("capacity") and the node's identity.
 */
#include "cluster/cluster.h"
#include "cluster/daemon.h"
#include "cluster/meta.h"
#include "common/util.h"
#include "target/internal.h"

#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>

static json_t *num_str(uint64_t v)
{
    char s[32];
    snprintf(s, sizeof(s), "%llu", (unsigned long long)v);
    return json_string(s);
}

/* AIStore's fs.Tcdf: per mountpath {"used","avail","pct_used"} and the totals. */
static json_t *capacity(void)
{
    json_t *mps = json_object();
    uint64_t tu = 0, ta = 0;
    int pmax = 0, pmin = 100, psum = 0, n = 0;
    mpset_t *s = mpath_get();
    for (size_t i = 0; i < mpset_count(s); i++) {
        struct statvfs vf;
        const char *p = mpset_path(s, i);
        if (statvfs(p, &vf) != 0)
            continue;
        uint64_t total = (uint64_t)vf.f_blocks * vf.f_frsize;
        uint64_t avail = (uint64_t)vf.f_bavail * vf.f_frsize;
        uint64_t used = total - (uint64_t)vf.f_bfree * vf.f_frsize;
        int pct = total ? (int)(used * 100 / total) : 0;
        json_object_set_new(mps, p,
                            json_pack("{s:s, s:{}, s:[], s:o, s:o, s:i}", "mountpath_label", "",
                                      "fs", "disks", "used", num_str(used), "avail", num_str(avail),
                                      "pct_used", pct));
        tu += used;
        ta += avail;
        pmax = pct > pmax ? pct : pmax;
        pmin = pct < pmin ? pct : pmin;
        psum += pct;
        n++;
    }
    mpath_put(s);
    return json_pack("{s:o, s:s, s:o, s:o, s:i, s:i, s:i}", "mountpaths", mps, "cs_err", "",
                     "total_used", num_str(tu), "total_avail", num_str(ta), "pct_max", pmax,
                     "pct_avg", n ? psum / n : 0, "pct_min", n ? pmin : 0);
}

json_t *nstats_json(bool status)
{
    smap_t *sm = smap_get();
    const snode_t *me = smap_find(sm, cluster_self_id());
    json_t *snode =
        json_pack("{s:s, s:s, s:{s:s}}", "daemon_id", cluster_self_id(), "daemon_type", "target",
                  "public_net", "direct_url", me ? me->url : cluster_self_url());
    int64_t smap_version = sm->version;
    smap_put(sm);
    json_t *j = json_pack("{s:o, s:o, s:o}", "snode", snode, "tracker", stats_tracker_json(),
                          "capacity", capacity());
    if (status) {
        char v[32];
        snprintf(v, sizeof(v), "%lld", (long long)smap_version);
        json_object_set_new(j, "status", json_string("online"));
        json_object_set_new(j, "deployment", json_string("locus"));
        json_object_set_new(j, "ais_version", json_string("locus"));
        json_object_set_new(j, "build_time", json_string(__DATE__));
        json_object_set_new(j, "k8s_pod_name", json_string(""));
        json_object_set_new(j, "cluster", json_pack("{s:i}", "flags", 0));
        json_object_set_new(j, "sys_info", json_pack("{s:i}", "num_cpu", cpus_usable()));
        json_object_set_new(j, "smap_version", json_string(v));
    }
    return j;
}
