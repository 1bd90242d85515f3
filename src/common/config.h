/*
 * config.h - the node configuration of locusd: one JSON file per node, flags override it.
 *
 * The settings are declared once in a table (config.c) that drives the JSON loader, the
 * flag parser and `locusd --help`; see docs/DEV-CONTRACT.md and deploy/locusd.example.json.
 */
#ifndef LOCUS_COMMON_CONFIG_H
#define LOCUS_COMMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define CONFIG_MAX_MPATHS 64
#define CONFIG_MAX_SANDBOX_PATHS 32
#define CONFIG_MAX_PROMOTE_DIRS 16

typedef enum { ROLE_NONE = 0, ROLE_PROXY, ROLE_TARGET } node_role_t;

typedef struct {
    node_role_t role;
    char *id;
    char *host;
    int port;
    char *public_url;
    char *primary_url;
    char *data_dir;
    char *mountpaths[CONFIG_MAX_MPATHS];
    size_t n_mountpaths;
    char *log_level;
    char *log_file;
    int64_t keepalive_interval_ns;
    int64_t keepalive_timeout_ns;
    bool fsync;
    int io_threads; /* HTTP I/O threads; 0 = one per CPU the process may use (net.h) */
    char *tls_cert; /* PEM files: serve HTTPS (docs/security.md §6) */
    char *tls_key;
    char *tls_ca; /* verifies peers' certificates; NULL: the system's CA store */
    /* ETL process runtime: container image name (without tag) -> local command (array of
     * strings, "${PORT}" substituted); merged over the built-in table (config_etl_command). */
    json_t *etl_images;
    bool etl_unix_sockets; /* ETL servers listen on Unix sockets (spec locus_unix_socket wins) */
    char *etl_python;      /* interpreter for aistorage/runtime_python images (default python3) */
    /* ETL commands that are not in the image table (runtime.command, io://, unmapped images)
     * are refused unless this is set (etlspec: etl_command_allowed). Default false. */
    bool etl_allow_commands;
    /* Every ETL process runs in a bubblewrap sandbox as an unprivileged user (etl/sandbox.c).
     * Default true. */
    bool etl_sandbox;
    /* Address-space limit of ETL processes whose spec sets no resources.limits.memory; 0 = none
     * (sanitizer builds need that: their shadow memory is terabytes of address space). */
    int64_t etl_default_memory;
    /* Extra host paths ETL processes may read (bound read-only into the sandbox). */
    char *etl_sandbox_paths[CONFIG_MAX_SANDBOX_PATHS];
    size_t n_etl_sandbox_paths;
    /* Directories (and their trees) whose files a target may promote into objects; none: promote
     * is refused (docs/security.md). Compared after realpath on both sides. */
    char *promote_allowed[CONFIG_MAX_PROMOTE_DIRS];
    size_t n_promote_allowed;
    char *bin_dir;     /* directory of the running binary (set by config_init) */
    char *config_file; /* the --config file, NULL without one (set by config_parse_args) */
    /* Authentication (docs/security.md). */
    bool auth_enabled;         /* clients must present an AuthN token (401/403) */
    char *auth_secret;         /* HS256 token secret (prefer auth_secret_file) */
    char *auth_secret_file;    /* file holding it (mode 0600) */
    char *auth_pubkey_file;    /* PEM RSA public key for RS256 tokens */
    char *cluster_secret;      /* intra-cluster HMAC secret (prefer cluster_secret_file) */
    char *cluster_secret_file; /* file holding it (mode 0600) */
    char *s3_keys_file;        /* S3 access keys checked with auth on (src/s3, mode 0600) */
    /* Multipart uploads and appends untouched this long are removed (a target's sweep). */
    int64_t mpt_idle_timeout_ns;
    int64_t s3_mpt_min_part; /* S3's EntityTooSmall: parts but the last below this (bytes) */
} config_t;

void config_init(config_t *c);
void config_dispose(config_t *c);
/* Loads a JSON file into c. 0 or -1 with a message (file and key) in err. */
int config_load_file(config_t *c, const char *path, char *err, size_t errlen);
/* Loads a JSON text into c (same rules). 0 or -1. */
int config_load_json(config_t *c, const char *text, char *err, size_t errlen);
/* Applies command-line flags (argv[0] skipped). "--config FILE" is loaded first wherever it
 * appears. 0, 1 when --help was printed, or -1 with a message in err. */
int config_parse_args(config_t *c, int argc, char **argv, char *err, size_t errlen);
/* Checks required settings and fills defaults (public_url). 0 or -1 with a message. */
int config_validate(config_t *c, char *err, size_t errlen);
void config_print_help(const char *prog);
/* The local command for a container image (tag ignored) as a new JSON array of strings, or
 * NULL when the image is unknown. Relative program names of the built-in table resolve next
 * to the running binary. */
json_t *config_etl_command(const config_t *c, const char *image);

#endif
