/*
 * rebalance.h - the target's side of a global rebalance and of get-from-neighbor
 * (docs/design.md §14): sending objects to their HRW owner, finding a missing object on the
 * other targets, and the intra-cluster endpoints for both.
 */
#ifndef LOCUS_TARGET_REBALANCE_H
#define LOCUS_TARGET_REBALANCE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "cluster/meta.h"
#include "net/fanout.h"
#include "net/net.h"
#include "target/lom.h"
#include "xact/xact.h"

/* The header that carries an object's metadata (its xattr JSON, URL-encoded) with a rebalance
 * or get-from-neighbor PUT (?reb=<job id>). */
#define REB_HDR_LOM "Locus-Lom"

/* POST /v1/xactions with kind "rebalance" (msg {"smap_version":N}): aborts the running
 * rebalance, if any, and starts job id. Answers the id. */
void reb_start(http_req_t *req, const char *id, json_t *msg);
/* Aborts the running rebalance and waits for it (shutdown). */
void reb_shutdown(void);

/* Sends local bck/obj to the target at owner_url and, once it acknowledged, deletes the local
 * copy if it did not change meanwhile. Counts into x when given. 0 (also when the object is
 * gone) or an HTTP status with err (503: the owner did not answer). */
int reb_send_object(xact_t *x, const char *owner_url, const char *bck, const char *obj, char *err,
                    size_t errlen);
/* The Locus-Lom header value of md: its xattr JSON, URL-encoded. Caller frees. */
char *reb_lom_header(const lom_md_t *md);
/* Parses a Locus-Lom header value into md (initialized by the call). 0 or -1. */
int reb_lom_parse(const char *h, lom_md_t *md);

/* This target owns bck/obj but does not have it: finds the latest copy on the other targets
 * and has it moved here. 0 (now local), 404 (nowhere), 503 with err (it may be on a target
 * that is down or did not answer), or another status with err. */
int reb_gfn(const char *bck, const char *obj, char *err, size_t errlen);
/* Deletes bck/obj on every other target that is up (?local=true). *deleted set when one of
 * them had it. 0, or 503 with err when a target did not answer or the object may be on a
 * target that is down. */
int reb_delete_others(const char *bck, const char *obj, bool *deleted, char *err, size_t errlen);

/* A fan-out of method path (with bck/obj as query or object path) to every other target that is
 * not DOWN; *n set. Caller frees with fanout_free. */
fanout_req_t *reb_to_others(const smap_t *s, const char *method, const char *path, size_t *n);
/* bck and obj from the query of an intra-cluster request, checked; false when answered (400). */
bool reb_query_names(http_req_t *req, const char **bck, const char **obj);

/* Remembers that bck/obj was deleted now (for a few minutes); whether it was deleted after
 * written_ns (a copy written then, arriving from a rebalance, is dropped). */
void reb_tombstone(const char *bck, const char *obj);
bool reb_deleted_after(const char *bck, const char *obj, int64_t written_ns);

/* Intra-cluster: GET /v1/internal/lom?bck=&obj= (the local copy's metadata, or 404) and POST
 * /v1/internal/send?bck=&obj=&to=<target id> (send the local copy to that target). */
void reb_handle_lom(http_req_t *req);
void reb_handle_send(http_req_t *req);

#endif
