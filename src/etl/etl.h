/*
 * etl.h - target-side ETL (docs/design.md §8): the process runtime that runs one ETL server
 * per (ETL, target), the communicators that send objects to it, and the inline (GET) and
 * offline (job) transform paths. Also the EtlMD entry helpers shared with the proxy.
 *
 * EtlMD entry (cluster metadata, items of MD_ETL):
 *   "<name>": {"init_msg": {...as received...}, "stage": "Initializing|Running|Aborted",
 *              "xid": "etl-...", "secret": "<10 letters>", "reason": "", "comm": "hpush://",
 *              "obj_timeout_ns": N, "init_timeout_ns": N, "command": [...resolved...]}
 */
#ifndef LOCUS_ETL_ETL_H
#define LOCUS_ETL_ETL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/config.h"
#include "net/net.h"

#define ETL_STAGE_INIT "Initializing"
#define ETL_STAGE_RUNNING "Running"
#define ETL_STAGE_ABORTED "Aborted"

/* ---- spec validation (proxy) ---- */

/* Validates an init message and fills the EtlMD entry fields (comm, timeouts, command). On error
 * returns an HTTP status (400) with a message; 0 on success with *entry a new object. */
int etl_spec_parse(const config_t *cfg, json_t *init_msg, json_t **entry, char *err, size_t errlen);
/* AIStore's ETL name rule: 6..32 chars of [a-z0-9-], starting and ending alphanumeric.
 * NULL when valid, else a reason. */
const char *etl_name_check(const char *name);
/* Whether target and server talk over a Unix socket: the spec's "locus_unix_socket" when set,
 * else the node config's etl_unix_sockets; never for hpull:// (clients follow its redirects) or
 * io:// (no server). */
bool etl_wants_unix_socket(const config_t *cfg, json_t *entry);

/* ---- target ---- */

typedef struct etl_inst_s etl_inst_t;

int etl_target_init(char *err, size_t errlen);
void etl_target_shutdown(void);
/* Checks the secret of an ETL's object endpoint (/v1/etl/_object/<etl>/<secret>/...): 0, or
 * 404 (unknown ETL) / 403 (wrong secret) with err filled. */
int etl_check_secret(const char *etl, const char *secret, char *err, size_t errlen);
/* Handles /v1/etl/... on a target (status, logs, health). True if answered. */
bool etl_target_handle(http_req_t *req, const char **segs, int nseg);

/* Referenced lookup of the running ETL server for name. NULL with an HTTP status and message
 * when there is none (404 unknown, 503 not running). */
etl_inst_t *etl_acquire(const char *name, int *status, char *err, size_t errlen);
void etl_release(etl_inst_t *e);
void etl_count(etl_inst_t *e, int64_t in_bytes, int64_t out_bytes);
/* False (with the reason) once the server failed or was stopped. */
bool etl_alive(etl_inst_t *e, char *why, size_t whylen);

/* One transform request. */
typedef struct {
    const char *bck;
    const char *obj;
    int fd; /* object data, read from offset 0 */
    int64_t size;
    const char *args;    /* etl_args or NULL */
    const char *fqn;     /* the object's local path when the ETL runs in FQN mode, else NULL */
    const char *dst_url; /* direct put: AIStore-style destination address
                          * "<dst target URL>/<PathEscape(dst uname)>[?uuid=<job>]", else NULL */
    void *session;       /* communicator session of an offline job (etl_session_open), or NULL
                          * for inline requests */
} etl_req_t;

/* Result sink: on_status is called once when the server's status is known and before any data;
 * sink for each chunk of transformed bytes. Either returns 0 or -1 to cancel. */
typedef struct {
    int (*on_status)(void *arg, int status, int64_t content_length);
    int (*sink)(void *arg, const void *p, size_t n);
    void *arg;
} etl_out_t;

/* Transforms one object. Returns 0 with the server's status (200, or 204 = delivered elsewhere)
 * or an HTTP status >= 400 with err filled ("ETL error: <body>" for server errors, timeouts 504,
 * unreachable 503). */
int etl_transform(etl_inst_t *e, const etl_req_t *rq, const etl_out_t *out, char *err,
                  size_t errlen);

/* Offline jobs: a communicator may keep per-job state (ws: a pool of nconns long-lived
 * connections). NULL when the communicator has none (hpush, hpull, io) or on error (err set;
 * the job then fails). etl_session_close is safe with NULL. */
void *etl_session_open(etl_inst_t *e, int nconns, char *err, size_t errlen);
void etl_session_close(etl_inst_t *e, void *session);
/* Whether results may go straight to the destination target (support_direct_put), and whether
 * the server reads objects by FQN (argument: fqn). */
bool etl_direct_put(const etl_inst_t *e);
bool etl_fqn_mode(const etl_inst_t *e);

/* Inline GET: streams the transformed object to the client. Answers the request. */
void etl_inline_get(http_req_t *req, const char *bck, const char *obj, const char *etl_name,
                    const char *args);

#endif
