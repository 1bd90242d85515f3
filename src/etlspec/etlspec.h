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
#include <stdint.h>

#include "common/config.h"

#define ETL_STAGE_INIT "Initializing"
#define ETL_STAGE_RUNNING "Running"
#define ETL_STAGE_ABORTED "Aborted"

/* Validates an init message and fills the EtlMD entry fields (comm, timeouts, command). On error
 * returns an HTTP status (400; 403 for a command the node does not allow, etl_command_allowed)
 * with a message; 0 on success with *entry a new object. The proxy calls it on init and every
 * target again, with its own config, before it runs anything. */
int etl_spec_parse(const config_t *cfg, json_t *init_msg, json_t **entry, char *err, size_t errlen);
/* AIStore's pod-spec init message (InitSpecMsg: "spec" = base64 of a Kubernetes Pod YAML, at most
 * ETL_POD_SPEC_MAX bytes decoded) as the runtime spec (ETLSpecMsg) it amounts to: the container's
 * image, command + args (its port number as ${PORT}), env and resources, and the annotations
 * communication_type, wait_timeout and support_direct_put where the message does not set them.
 * What a process cannot do (several containers, volumes other than emptyDir at /tmp, env
 * valueFrom, a readiness probe other than GET /health) and unknown keys are a 400 naming it.
 * 0 with *out a new message, or 400 with err set. etl_spec_parse calls it. */
#define ETL_POD_SPEC_MAX (64 * 1024)
int etl_podspec_convert(json_t *msg, json_t **out, char *err, size_t errlen);
/* 0 when every key of the mapping obj (NULL/null: none) is one of known (NULL-terminated), else
 * 400 with err naming the unknown key, where it is and what is known. */
int etl_spec_known_keys(json_t *obj, const char *where, const char *const *known, const char *etl,
                        char *err, size_t errlen);
/* AIStore's ETL name rule: 6..32 chars of [a-z0-9-], starting and ending alphanumeric.
 * NULL when valid, else a reason. */
const char *etl_name_check(const char *name);
/* Most stages after the first ETL of a pipeline (etl_pipeline, TCBMsg "pipeline"). */
#define ETL_PIPELINE_MAX 16
/* Whether target and server talk over a Unix socket: the spec's "locus_unix_socket" when set,
 * else the node config's etl_unix_sockets; never for hpull:// (clients follow its redirects) or
 * io:// (no server). */
bool etl_wants_unix_socket(const config_t *cfg, json_t *entry);

/* The one decision whether this node runs an ETL command that is not in its image table (a
 * spec's runtime.command for an unmapped image, io://): the node config's etl_allow_commands.
 * what names the command for the message. 0, or 403 with err set. */
int etl_command_allowed(const config_t *cfg, const char *etl, const char *what, char *err,
                        size_t errlen);

/* Resource limits of every process of an ETL (the sandbox applies them, etl/sandbox.c). */
typedef struct {
    int64_t memory;     /* bytes of address space per process (RLIMIT_AS), 0 = none */
    int64_t open_files; /* open descriptors per process (RLIMIT_NOFILE) */
    int64_t processes;  /* processes and threads of the sandbox user (RLIMIT_NPROC) */
} etl_limits_t;

#define ETL_DEFAULT_OPEN_FILES 4096
#define ETL_DEFAULT_PROCESSES 4096
/* Our keys in resources.limits, next to Kubernetes' memory and cpu. */
#define ETL_LIMIT_OPEN_FILES "locus/open-files"
#define ETL_LIMIT_PROCESSES "locus/processes"

/* The limits of an init message: resources.limits.memory (a Kubernetes quantity: "512Mi"; unset:
 * the node's etl_default_memory), locus/open-files and locus/processes (unset: 4096 each). cpu,
 * requests and other resources are checked for form only. 0, or 400 with err set. */
int etl_spec_limits(const config_t *cfg, json_t *init_msg, etl_limits_t *lim, char *err,
                    size_t errlen);
/* A size for messages: "256MiB", "4GiB", "100000B" (exact, never rounded). */
void etl_size_str(int64_t bytes, char *out, size_t outlen);

#endif
