/*
 * internal.h - target ETL internals shared by the files of src/etl only.
 */
#ifndef LOCUS_ETL_INTERNAL_H
#define LOCUS_ETL_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

#include "etl/etl.h"
#include "etlspec/etlspec.h"

/* Lifecycle of one ETL server on this target. */
typedef enum {
    INST_STARTING, /* forked, waiting for GET /health */
    INST_RUNNING,  /* healthy, serving transforms */
    INST_FAILED,   /* did not start or exited unexpectedly (reason set) */
    INST_STOPPED,  /* stopped on request */
} inst_state_t;

typedef struct etl_comm_s etl_comm_t;

struct etl_inst_s {
    char name[64];
    char xid[64]; /* generation: the EtlMD xid it was started for */
    char secret[32];
    int refcnt;         /* guarded by etl_lock */
    inst_state_t state; /* guarded by etl_lock */
    char reason[1024];  /* guarded by etl_lock */
    pid_t pid;
    int port;
    bool respawn;        /* guarded by etl_lock: another process took the port; start again */
    int attempts;        /* starts so far */
    char url[128];       /* http://127.0.0.1:PORT (http://localhost with a Unix socket) */
    char sock_path[108]; /* Unix socket between target and server, "" = loopback TCP */
    char sock_dir[108];  /* the socket's own directory (the server may write only there) */
    bool sandboxed;      /* its processes run in the sandbox (node config etl_sandbox) */
    etl_limits_t limits; /* resources.limits of the spec, defaults filled in */
    char *log_path;
    int64_t obj_timeout_ns;
    int64_t init_timeout_ns;
    const etl_comm_t *comm;
    bool fqn_mode;    /* argument: fqn */
    bool direct_put;  /* support_direct_put */
    int ws_conns;     /* ws: connections per job session (default 8) */
    json_t *entry;    /* the EtlMD entry it was started from (owned reference) */
    void *comm_state; /* communicator's per-instance state (ws: the inline pool); freed by
                       * comm->dispose when the instance is freed */
    atomic_bool stop_requested;
    _Atomic int64_t obj_count, in_bytes, out_bytes;
    _Atomic int
        fails_in_row; /* server errors (5xx, unreachable, timeouts) since the last success */
    _Atomic int64_t transforms, transform_errs, transform_ns; /* etl_transform() calls */
};

/* A server that fails this many requests in a row (no success between) is failed: the ETL is
 * aborted with the last error instead of being sent every remaining object. */
#define ETL_MAX_FAILS_IN_ROW 10
/* Accounts the outcome of one transform (etl_transform does): a status >= 500 other than a
 * cancel counts towards ETL_MAX_FAILS_IN_ROW, anything below 400 resets the count. */
void etl_note_result(etl_inst_t *e, int status, const char *err);

/* A communicator: how a target sends one object to its ETL server. */
struct etl_comm_s {
    const char *scheme; /* "hpush://" */
    /* Serves one object; see etl_transform. Safe from any thread. */
    int (*transform)(etl_inst_t *e, const etl_req_t *rq, const etl_out_t *out, char *err,
                     size_t errlen);
    /* Optional per-job state (may be NULL). */
    void *(*session_open)(etl_inst_t *e, int nconns, char *err, size_t errlen);
    void (*session_close)(etl_inst_t *e, void *session);
    /* Optional: frees comm_state when the instance goes away (may be NULL). */
    void (*dispose)(etl_inst_t *e);
    /* Whether the runtime starts a server process (io:// runs the command per object). */
    bool needs_server;
};

extern const etl_comm_t etl_comm_hpush;
extern const etl_comm_t etl_comm_hpull;
extern const etl_comm_t etl_comm_io;
extern const etl_comm_t etl_comm_ws;

/* Go's url.PathEscape ('/' escaped, '@' kept). Caller frees. */
char *etl_path_escape(const char *s);
/* The ETL server URL of one request (hpull: /<PathEscape(uname)>, else /<bck>/<obj>), with
 * etl_args and etl_fqn. Caller frees. */
char *etl_object_url(const etl_inst_t *e, const etl_req_t *rq, bool hpull);
/* The environment of an ETL process: the daemon's, the spec's env lists, then extra
 * ("K=V" strings, NULL-terminated, may be NULL). NULL-terminated; caller frees with
 * etl_strv_free. */
char **etl_build_env(const etl_inst_t *e, const char *const *extra);
void etl_strv_free(char **v);
/* The sandbox (etl/sandbox.c). The argv that runs cmd (NULL-terminated, borrowed) in e's
 * sandbox: bwrap, the helper with e's uid and limits, then cmd; with serve (io://) the helper
 * serves cmd per object on e->sock_path instead. NULL-terminated, caller frees with
 * etl_strv_free; NULL with err set when the sandbox cannot run (no bwrap, no helper). */
/* The target's mountpaths now (etl_objects_t.mountpaths, else the config's), strdup'd into out
 * (at most CONFIG_MAX_MPATHS); the count. An ETL server sees those that existed when it started. */
size_t etl_mountpaths(char **out);
char **etl_sandbox_argv(const etl_inst_t *e, char *const *cmd, bool serve, char *err,
                        size_t errlen);
/* Creates e->sock_dir for the server's Unix socket, owned by the sandbox user. 0 or -1. */
int etl_sandbox_sockdir(const etl_inst_t *e, char *err, size_t errlen);
/* How a process of e ended (wst from waitpid, of bwrap itself when of_bwrap; who: "ETL server",
 * a command name), given its last output: "<who> exited with status 1", "<who> killed by
 * signal 9", or "stopped: memory limit 256MiB exceeded (<who> ...)" when the output says it ran
 * out of memory under the sandbox's limit. bwrap's exit 128 + N reads as signal N. */
void etl_describe_end(const etl_inst_t *e, const char *who, int wst, bool of_bwrap,
                      const char *output, char *out, size_t outlen);
/* Sets the object provider of the inline path (etl_target_init; tests give their own). */
void etl_inline_set_objects(const etl_objects_t *objs);
/* The inline GET with the instance already acquired; takes over the caller's reference. */
void etl_inline_serve(http_req_t *req, etl_inst_t *e, const char *bck, const char *obj,
                      const char *args);
/* The packages of the spec's OS_PACKAGES (Debian) and PACKAGES (Python, for etl_python) are
 * installed on this node (etl/deps.c): 0, or -1 with err naming the missing ones. */
int etl_check_packages(const etl_inst_t *e, char *err, size_t errlen);
/* The same with the later stages of a pipeline (NULL = none), whose references it takes over. */
void etl_inline_serve_pipeline(http_req_t *req, etl_inst_t *e, etl_pipeline_t *pl, const char *bck,
                               const char *obj, const char *args);
/* Looks up the communicator of a scheme ("hpush://"); NULL when unknown. */
const etl_comm_t *etl_comm_find(const char *scheme);

#endif
