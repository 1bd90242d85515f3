/*
 * jobs.h - target-side job runners (copy-bck, delete-listrange) and their control endpoint
 * /v1/xactions (POST start, GET ?id= snapshot, DELETE ?id= abort).
 */
#ifndef LOCUS_TARGET_JOBS_H
#define LOCUS_TARGET_JOBS_H

#include <stdbool.h>
#include <stddef.h>

#include "etl/etl.h"
#include "net/net.h"
#include "xact/xact.h"

void jobs_init(void);
void jobs_shutdown(void);
void jobs_handle(http_req_t *req);

/* Copies bck/name to dst_bck/dst, through the ETL when etl is not NULL (with args): locally
 * when this target owns the destination, else by PUT to its owner (or by the ETL server itself:
 * direct put). session: the job's communicator session or NULL; pl: the later stages of an ETL
 * pipeline or NULL (the last stage's support_direct_put decides the direct put). Counts into x
 * when given. dry_run reads (and transforms) but writes nothing. 0 or an HTTP status with err
 * filled. */
int jobs_copy_object(xact_t *x, etl_inst_t *etl, void *session, const etl_pipeline_t *pl,
                     const char *args, const char *src_bck, const char *name, const char *dst_bck,
                     const char *dst, bool dry_run, char *err, size_t errlen);

/* Destination name of a bucket-to-bucket job (AIStore TCBMsg.ToName): prepend + name with the
 * extension after the last '.' mapped through ext ({"jpg":"txt"}). Caller frees. */
char *jobs_to_name(const char *name, const char *prepend, json_t *ext);

#endif
