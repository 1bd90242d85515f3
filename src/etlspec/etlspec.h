/*
 * etlspec.h - ETL init specs (docs/protocol.md §2, docs/design.md §8): validation of an init
 * message into an EtlMD entry, the ETL name rule, and the entry's stages. Shared by the proxy
 * (which validates and stores entries) and the target-side ETL runtime (which starts them);
 * depends on common only.
 *
 * EtlMD entry (cluster metadata, items of MD_ETL):
 *   "<name>": {"init_msg": {...as received...}, "stage": "Initializing|Running|Aborted",
 *              "xid": "etl-...", "secret": "<10 letters>", "reason": "", "comm": "hpush://",
 *              "obj_timeout_ns": N, "init_timeout_ns": N, "command": [...resolved...]}
 */
#ifndef LOCUS_ETLSPEC_ETLSPEC_H
#define LOCUS_ETLSPEC_ETLSPEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/config.h"

#define ETL_STAGE_INIT "Initializing"
#define ETL_STAGE_RUNNING "Running"
#define ETL_STAGE_ABORTED "Aborted"

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

#endif
