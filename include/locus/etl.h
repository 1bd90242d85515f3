/*
 * locus/etl.h - liblocus-etl, the framework for writing ETL transformers in C.
 *
 * A transformer is an HTTP server that an AIStore-compatible storage target (Locus or AIStore)
 * starts next to itself and sends objects to. The framework implements the whole wire protocol
 * (docs/etl-framework.md, docs/protocol.md): `GET /health`, hpush `PUT /<path>` (object bytes in
 * the body, or a local file named by `etl_fqn`), hpull `GET /<path>` (the framework fetches the
 * object from `AIS_TARGET_URL`), `GET /ws` (WebSocket: objects streamed over long-lived
 * connections, replies Binary = result, Text = delivered by direct put or
 * "ETL-ERROR <status> <msg>"), `etl_args`, direct put (`Ais-Node-Url`, ws `dst_addr`/`pipeline`),
 * worker threads, SIGTERM/SIGINT shutdown and logging. The author writes one function:
 *
 *     static int xf(const locus_etl_input_t *in, locus_etl_output_t *out, void *ud)
 *     {
 *         return locus_etl_set_copy(out, in->data, in->len);   (an echo)
 *     }
 *
 *     int main(int argc, char **argv)
 *     {
 *         return locus_etl_serve(&(locus_etl_server_t){LOCUS_ETL_API_V1, .name = "echo",
 *                                                      .transform = xf}, argc, argv);
 *     }
 *
 * Conventions
 * - Fallible functions return 0 (LOCUS_ETL_OK) or a negative LOCUS_ETL_E* code.
 * - Strings and buffers passed in are borrowed for the duration of the call unless a comment says
 *   otherwise.
 * - Threads: the transform callback runs on a pool of worker threads (`NUM_WORKERS`), so it must
 *   be safe to call concurrently; `userdata` is shared by all calls. One call handles one object
 *   and owns its `locus_etl_output_t` exclusively.
 * - The framework never exits the process on a per-request error; it answers the request with an
 *   HTTP error (a Text "ETL-ERROR <status> <msg>" message on /ws) and logs through the hook
 *   set by locus_etl_set_log_hook() (default: stderr).
 */
#ifndef LOCUS_ETL_H
#define LOCUS_ETL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* API version: the first field of every struct the user fills in. */
#define LOCUS_ETL_API_V1 1

/* Result codes. */
#define LOCUS_ETL_OK 0
#define LOCUS_ETL_ERROR (-1)       /* the transform failed (the message says why) */
#define LOCUS_ETL_EINVAL (-22)     /* bad argument, or output API misuse (set after write...) */
#define LOCUS_ETL_ENOMEM (-12)     /* out of memory */
#define LOCUS_ETL_ECANCELED (-125) /* the request is gone (client closed, server stopping) */
#define LOCUS_ETL_EIO (-5)         /* I/O error (listen, file, network) */

/* Static text for a result code (never NULL). */
const char *locus_etl_strerror(int code);

/* ------------------------------------------------------------------------------------------ */
/* Transform input and output */

/* Where the input bytes came from. */
typedef enum {
    LOCUS_ETL_SRC_BODY = 0, /* hpush: the request body */
    LOCUS_ETL_SRC_FQN = 1,  /* a local file (etl_fqn or a v3.28 FQN path), mapped read-only */
    LOCUS_ETL_SRC_FETCH = 2 /* hpull: fetched from AIS_TARGET_URL (or POST /download) */
} locus_etl_source_t;

/* One object to transform. Everything here is read-only and borrowed: valid until the response
 * for this request has been sent completely (so the output may point into `data`, see
 * locus_etl_set_static()). */
typedef struct locus_etl_input_s {
    const void *data;          /* the whole object, contiguous; never NULL (len 0 -> "") */
    size_t len;                /* its size in bytes */
    const char *path;          /* "bck/obj" (hpush), "ais/@#/bck/obj" (hpull) or the FQN
                                * (v3.28 FQN form), percent-decoded; never NULL */
    const char *args;          /* the `etl_args` query value, decoded; "" when absent */
    const char *fqn;           /* the local file's absolute path, or NULL if not from a file */
    locus_etl_source_t source; /* where `data` came from */
} locus_etl_input_t;

/* The result being built for one request. Opaque; owned by the framework. */
typedef struct locus_etl_output_s locus_etl_output_t;

/* A transform: read `in`, produce the result through `out`, return 0 (LOCUS_ETL_OK) on success or
 * any non-zero value on failure (ideally after locus_etl_set_error()); a failure is answered with
 * HTTP 500 (or the status given to locus_etl_set_error()) and the message as the body.
 * Runs on a worker thread; `userdata` is locus_etl_server_t.userdata. */
typedef int (*locus_etl_transform_cb)(const locus_etl_input_t *in, locus_etl_output_t *out,
                                      void *userdata);

/* The result is `p[0..n)`, borrowed: it must stay valid until the response has been sent, e.g.
 * static storage or a pointer into in->data (zero-copy echo). Replaces any earlier set_*. Fails
 * with LOCUS_ETL_EINVAL after locus_etl_write(). */
int locus_etl_set_static(locus_etl_output_t *out, const void *p, size_t n);

/* The result is a copy of `p[0..n)` (p stays the caller's). LOCUS_ETL_ENOMEM if the copy can't
 * be allocated; LOCUS_ETL_EINVAL after locus_etl_write(). */
int locus_etl_set_copy(locus_etl_output_t *out, const void *p, size_t n);

/* The result is `p[0..n)` and the framework takes ownership: it calls free_fn(p) (free() when
 * free_fn is NULL) once the response is sent, also when this call fails or is replaced. */
int locus_etl_set_owned(locus_etl_output_t *out, void *p, size_t n, void (*free_fn)(void *));

/* Appends `p[0..n)` to a result produced in pieces (the bytes are copied; p stays the caller's).
 * Small results are sent with a Content-Length; once more than ~1 MiB is pending the response
 * starts streaming (chunked) and this call blocks while the client is slower than the transform.
 * If the transform fails after streaming started, the connection is aborted so the receiver sees
 * a truncated response. Returns LOCUS_ETL_ECANCELED when the request is gone (stop working and
 * return), LOCUS_ETL_EINVAL after a set_* call. */
int locus_etl_write(locus_etl_output_t *out, const void *p, size_t n);

/* printf-style locus_etl_write(). */
int locus_etl_printf(locus_etl_output_t *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Records the failure message (copied) sent as the body of the error response and the HTTP
 * status (0 = 500). The transform must still return non-zero. Returns LOCUS_ETL_ERROR so that
 * `return locus_etl_set_error(out, 0, "bad seed %s", in->args);` reads naturally. */
int locus_etl_set_error(locus_etl_output_t *out, int http_status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------------------------------------------ */
/* Streaming transforms (AIStore's transform_stream): for objects of any size in constant memory */

/* The input of a streaming transform. Opaque; owned by the framework, valid during the call. */
typedef struct locus_etl_reader_s locus_etl_reader_t;

/* Reads up to n bytes of the object into buf: the count (> 0), 0 at the end of the object, or a
 * negative LOCUS_ETL_E* code (LOCUS_ETL_ECANCELED: the request is gone; LOCUS_ETL_EIO). */
long locus_etl_read(locus_etl_reader_t *r, void *buf, size_t n);

/* A streaming transform: reads the object with locus_etl_read() and writes the result with
 * locus_etl_write() as it goes (or sets it at once like a whole-buffer transform). `in` is as
 * for locus_etl_transform_cb except that in->data is NULL and in->len is the object's size when
 * known (else 0). Returns 0 on success, non-zero on failure (ideally after
 * locus_etl_set_error()). */
typedef int (*locus_etl_stream_cb)(const locus_etl_input_t *in, locus_etl_reader_t *r,
                                   locus_etl_output_t *out, void *userdata);

/* ------------------------------------------------------------------------------------------ */
/* Server */

/* What the author provides. Fill it with a designated initializer starting with
 * LOCUS_ETL_API_V1; the strings are borrowed for the server's lifetime. */
typedef struct locus_etl_server_s {
    int api_version;                      /* LOCUS_ETL_API_V1 */
    const char *name;                     /* transformer name, used in logs and --help */
    locus_etl_transform_cb transform;     /* required unless transform_stream is set */
    void *userdata;                       /* passed to transform */
    const char *content_type;             /* of 200 responses; NULL = "application/octet-stream" */
    locus_etl_stream_cb transform_stream; /* instead of transform: the object is never held in
                                           * memory (docs/etl-framework.md, "Streaming") */
} locus_etl_server_t;

/* Runtime settings. locus_etl_options_init() fills the defaults from the environment; the command
 * line of locus_etl_serve() overrides them. Strings are borrowed for the server's lifetime. */
typedef struct locus_etl_options_s {
    int api_version;          /* LOCUS_ETL_API_V1 */
    const char *host;         /* bind address; default "0.0.0.0" (--host, -l) */
    int port;                 /* $PORT or 8000 (--port, -p); 0 = pick a free port */
    int workers;              /* transform threads: $NUM_WORKERS or #CPUs (--workers) */
    int max_connections;      /* $MAX_CONN or 256: simultaneous connections (threads) */
    uint64_t max_object_size; /* $LOCUS_ETL_MAX_OBJECT_SIZE or 16 GiB: larger bodies -> 413 */
    const char *target_url;   /* $AIS_TARGET_URL: where hpull fetches objects; may be NULL */
    const char *fqn_roots;    /* $LOCUS_ETL_FQN_ROOTS: colon-separated dirs FQNs must lie under
                               * (others -> 403); NULL or "" = any path */
    int arg_type_fqn;         /* $ARG_TYPE == "fqn": a URL path that decodes to an absolute
                               * path is an FQN (AIStore v3.28 form) */
    int direct_put_retries;   /* $AIS_DIRECT_PUT_RETRIES or 3: retries of a transient failure */
    int obj_timeout_ms;       /* $LOCUS_ETL_FETCH_TIMEOUT_MS or 300000: hpull fetch / direct put
                               * per-attempt timeout */
    const char *unix_socket;  /* $LOCUS_ETL_SOCKET: listen on this Unix socket path instead of
                               * host:port (a Locus target next to the server sets it when the
                               * ETL asks for Unix sockets); NULL or "" = TCP */
} locus_etl_options_t;

/* Fills `o` with the defaults and the environment variables named above. `o` borrows strings
 * from the environment. */
void locus_etl_options_init(locus_etl_options_t *o);

/* A running server. Opaque. */
typedef struct locus_etl_ctx_s locus_etl_ctx_t;

/* Validates `srv` and `opts`, starts the worker threads and listens. On success *out is owned by
 * the caller (locus_etl_destroy). `srv` and the strings in `opts` are borrowed until destroy.
 * `err` (may be NULL) receives a message of up to `errlen` bytes on failure. */
int locus_etl_start(const locus_etl_server_t *srv, const locus_etl_options_t *opts,
                    locus_etl_ctx_t **out, char *err, size_t errlen);

/* The TCP port the server listens on (useful with port 0). */
int locus_etl_port(const locus_etl_ctx_t *ctx);

/* Graceful stop: stops accepting connections, waits up to `grace_ms` for requests in flight,
 * cancels the rest (their locus_etl_write() calls return LOCUS_ETL_ECANCELED), closes
 * everything and frees ctx (invalid after the call). NULL is fine. Not async-signal-safe. */
void locus_etl_destroy(locus_etl_ctx_t *ctx, int grace_ms);

/* The whole main(): parses the command line (--host/-l, --port/-p, --workers, --log-level,
 * --help) over locus_etl_options_init(), ignores SIGPIPE, serves until SIGTERM or SIGINT, then
 * stops gracefully. Returns the process exit status: 0 after a signal, 1 if the server could not
 * start, 2 on a usage error. Call it from the main thread before starting other threads (it
 * blocks SIGTERM/SIGINT in all threads it creates). */
int locus_etl_serve(const locus_etl_server_t *srv, int argc, char **argv);

/* ------------------------------------------------------------------------------------------ */
/* Logging */

/* Log levels (same as the daemons'). */
typedef enum {
    LOCUS_ETL_LOG_DEBUG = 0,
    LOCUS_ETL_LOG_VERBOSE = 1,
    LOCUS_ETL_LOG_NOTICE = 2,
    LOCUS_ETL_LOG_WARNING = 3
} locus_etl_log_level_t;

/* Receives one log line without the trailing newline; `msg` is borrowed for the call. May be
 * called from any thread concurrently. */
typedef void (*locus_etl_log_cb)(locus_etl_log_level_t level, const char *msg, void *userdata);

/* Replaces the log hook (NULL restores the default, which writes
 * `pid:E YYYY-MM-DD HH:MM:SS.mmm L msg` lines to stderr). Call before locus_etl_start(). */
void locus_etl_set_log_hook(locus_etl_log_cb cb, void *userdata);

/* Messages below `level` are dropped (default NOTICE; --log-level or $LOCUS_ETL_LOG_LEVEL). */
void locus_etl_set_log_level(locus_etl_log_level_t level);

/* Logs through the hook, for transformer authors too. Safe to call from any thread. */
void locus_etl_log(locus_etl_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#ifdef __cplusplus
}
#endif

#endif /* LOCUS_ETL_H */
