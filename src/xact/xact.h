/*
 * xact.h - jobs ("xactions", docs/design.md §7): the per-node registry of job runners with
 * their counters, abort flag and end state, and the JSON snapshot AIStore's SDK reads
 * (docs/protocol.md §1.8). The work itself is done by the role that owns the data (target
 * runners in src/target); the proxy aggregates snapshots.
 */
#ifndef LOCUS_XACT_XACT_H
#define LOCUS_XACT_XACT_H

#include <jansson.h>

#include "common/util.h"
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct xact_s {
    char id[64];
    char kind[32];
    char src_bck[80];
    char dst_bck[80];
    int64_t start_ns;
    _Atomic int64_t end_ns; /* 0 while running */
    atomic_bool abort;      /* requested */
    atomic_bool aborted;    /* ended by abort or error */
    _Atomic int64_t loc_objs, loc_bytes, out_objs, out_bytes, in_objs, in_bytes, errors;
    /* err and obj_errors are guarded by the registry lock */
    char *err;
    json_t *obj_errors; /* [{"obj_name","msg","ecode"}] */
    json_t *ext;        /* the kind's own result (summary-bck), NULL = none; registry lock */
    int refcnt;         /* guarded by the registry lock */
    /* AIStore's Snap.Packed ("glob.id"): workers << 10 | mountpath joggers */
    int n_workers, n_joggers;
} xact_t;

/* Registers a new running job (or returns the existing one with that id, referenced).
 * Caller drops it with xact_put. */
xact_t *xact_create(const char *id, const char *kind, const char *src, const char *dst);
/* Referenced lookup or NULL. */
xact_t *xact_find(const char *id);
/* Adds objs/bytes received for job id to its in-counters; when no job id is registered yet (a
 * sender started before this node got the start message), xact_create gives them to it. */
void xact_add_in(const char *id, int64_t objs, int64_t bytes);
void xact_put(xact_t *x);
/* Records the first error (and marks aborted when fatal). Safe from any thread. */
void xact_set_err(xact_t *x, const char *msg, bool fatal);
void xact_add_obj_error(xact_t *x, const char *obj_name, const char *msg, int ecode);
void xact_finish(xact_t *x);
/* Snapshot JSON (AIStore core.Snap). New reference. */
json_t *xact_snap(xact_t *x, const char *node_id);
/* A copy of the per-object errors (new reference). */
json_t *xact_obj_errors(xact_t *x);
/* Job ids like AIStore's (short, url-safe); out must hold 16 bytes. */
void xact_new_id(char *out, size_t len);
/* Asks every running job to stop (shutdown). */
void xact_abort_running(void);
/* Which jobs a listing selects (AIStore's QueryMsg: kind, bck, show_active); empty = any. */
typedef struct {
    char kind[32];
    char bck[80];
    bool only_running;
} xact_filter_t;

/* Whether kind names a kind of job this cluster runs. */
bool xact_kind_valid(const char *kind);
/* The kind a kind or AIStore display name ("copy-bucket", "mirror", ...) names, or NULL. */
const char *xact_kind_of(const char *kind_or_name);
/* AIStore's display name of kind (the kind itself when it has none). */
const char *xact_display_name(const char *kind);
/* Whether AIStore's StartXaction may start kind (PUT /v1/cluster "start"). */
bool xact_kind_startable(const char *kind);
/* Sets the job's kind-specific result (takes the reference). */
void xact_set_ext(xact_t *x, json_t *ext);
/* Adds an AIStore QueryMsg ({"kind", "bck": {"name", "provider"}, "show_active"}, or
 * xact.ArgsMsg's "OnlyRunning"; keys in any case, null values ignored) to f. 0, or -1 with err
 * for what is not a valid filter. */
int xact_filter_parse(json_t *msg, xact_filter_t *f, char *err, size_t errlen);
/* Sets one filter field from text (kind, bck, or running: "true"/"false"/"1"/"0"); NULL
 * leaves it. 0, or -1 with err. */
int xact_filter_set(xact_filter_t *f, const char *kind, const char *bck, const char *running,
                    char *err, size_t errlen);
bool xact_filter_match(const xact_filter_t *f, xact_t *x);
/* Snapshots (xact_snap) of the registered jobs f selects, oldest first. New reference. */
json_t *xact_list(const xact_filter_t *f, const char *node_id);
/* The jobs' metrics (docs/operations.md, "Metrics"): a metrics_register() collector. */
void xact_metrics(buf_t *b);
/* Asks every running job f selects (not already stopping) to stop, with err why; how many. */
int xact_abort_matching(const xact_filter_t *f, const char *why);
/* Forgets jobs that ended more than keep_ns ago. */
void xact_gc(int64_t keep_ns);

#endif
