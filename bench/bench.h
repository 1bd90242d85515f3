/*
 * bench.h - shared pieces of locus-bench: child processes (cluster, nginx), free ports,
 * small HTTP calls, the cluster map with HRW ownership, and the nginx reference server.
 *
 * Everything here is for the benchmark tool only; nothing in src/ depends on it.
 */
#ifndef LOCUS_BENCH_H
#define LOCUS_BENCH_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <jansson.h>
#include <locus/client.h>

#include "common/util.h"
#include "common/json.h"

/* Set by SIGINT/SIGTERM: every loop stops and the cleanup path runs. */
extern volatile sig_atomic_t bench_stop;
/* SIGINT/SIGTERM/SIGHUP set bench_stop (each command stops and cleans up); SIGPIPE ignored. */
void bench_catch_signals(void);

/* Subcommands (one per file). */
int bench_cmd_obj(int argc, char **argv);
int bench_cmd_etl(int argc, char **argv);
int bench_cmd_gen_librispeech(int argc, char **argv);
int bench_cmd_etl_ffmpeg(int argc, char **argv);
int bench_cmd_ec(int argc, char **argv);
int bench_cmd_batch(int argc, char **argv);

/* --- processes and ports (proc.c) --- */

/* Directory of the running executable (caller frees). */
char *bench_self_dir(void);
/* fork+exec argv with stdout/stderr appended to log (NULL = inherit), optionally pinned to
 * CPU `cpu` (-1 = no pinning; the affinity is inherited by everything the child starts).
 * Returns the pid or -1. */
pid_t bench_spawn(char *const argv[], const char *log, int cpu);
/* Runs argv to completion (bench_spawn + wait, killed after timeout_s). Returns the exit
 * status, or -1 if it could not run, was killed or timed out. */
int bench_run(char *const argv[], const char *log, int cpu, int timeout_s);
/* A port P such that P..P+n-1 are all free on 127.0.0.1 (best effort); -1 if none found. */
int bench_free_ports(int n);
/* true if something accepts TCP connections on 127.0.0.1:port. */
bool bench_port_open(int port);
/* Pins the calling process (all future threads) to one CPU. 0 or -1. */
int bench_pin_self(int cpu);
/* Appends the last `max` bytes of a file to stderr, each line prefixed (for failures). */
void bench_dump_tail(const char *path, size_t max);

/* --- small HTTP calls (proc.c) --- */

/* One request with a fresh easy handle. body may be NULL. The response body goes to resp
 * (may be NULL). Returns the HTTP status, or -1 on a transport error (err filled). */
long bench_http(const char *method, const char *url, const char *body, buf_t *resp, char *err,
                size_t errlen);

/* --- cluster map and HRW (cluster.c) --- */

typedef struct {
    char *id;        /* daemon_id */
    char *url;       /* public_net.direct_url */
    uint64_t digest; /* hrw_digest_str(id) */
} bench_target_t;

typedef struct {
    char *proxy_url; /* proxy_si.public_net.direct_url (may be NULL) */
    bench_target_t *t;
    size_t nt;
    long version;
} bench_smap_t;

/* GET <endpoint>/v1/daemon?what=smap and keeps the active targets. 0 or -1 (err filled). */
int bench_smap_fetch(const char *endpoint, bench_smap_t *sm, char *err, size_t errlen);
void bench_smap_dispose(bench_smap_t *sm);
/* Index in sm->t of the target that owns bck/obj (AIStore's HRW), -1 if there are none. */
int bench_smap_owner(const bench_smap_t *sm, const char *bck, const char *obj);

/* Starts `locus cluster up` from bindir with its data under dir, primary on port, and waits
 * until the smap has 1 proxy and `targets` targets. 0 or -1 (err filled). */
int bench_cluster_up(const char *bindir, const char *dir, int port, int targets, int cpu, char *err,
                     size_t errlen);
/* The pids (> 1) in the pid files matching the glob pattern, at most max into out; their count. */
int bench_pid_files(const char *pattern, pid_t *out, int max);
/* The pids of the locusd of the cluster under cluster_dir (<cluster_dir>/<node>/locusd.pid). */
int bench_cluster_pids(const char *cluster_dir, pid_t *out, int max);
/* utime + stime of the processes, in clock ticks (all threads included; gone ones count 0). */
long bench_cpu_ticks(const pid_t *pids, int n);
/* The same for threads of this process (/proc/self/task/<tid>/stat: /proc/<tid>/stat would sum
 * the whole process). */
long bench_thread_ticks(const pid_t *tids, int n);
/* `locus cluster down --dir dir`, then SIGKILLs any locusd whose pid file is still alive
 * under dir (only the processes of this cluster). */
void bench_cluster_down(const char *bindir, const char *dir);

/* --- nginx reference server (nginx.c) --- */

typedef struct {
    pid_t pid;      /* nginx master (runs with daemon off) */
    int port;       /* 127.0.0.1 port: the files (GET) and WebDAV PUT under /put/ */
    int port_307;   /* answers 307 with a Location on `port` (the same path) */
    int port_relay; /* a reverse proxy to `port` (upstream keep-alive, in-memory buffers) */
    char *dir;      /* prefix dir: nginx.conf, logs, temp dirs */
    char *version;  /* "nginx/1.22.1" */
} bench_nginx_t;

/* Writes a config serving `root` (sendfile, keep-alive, no access log, worker_processes
 * auto), with the redirect and relay front ends of it, and starts nginx on three free ports.
 * 0 or -1 (err filled). */
int bench_nginx_start(bench_nginx_t *ng, const char *workdir, const char *root, int cpu, char *err,
                      size_t errlen);
/* Stops nginx (SIGQUIT, then SIGKILL after 5 s) and frees the struct's strings. */
void bench_nginx_stop(bench_nginx_t *ng);

/* Hard-links every regular file below each `<cluster_dir>/<node>/<mountpath>/@ais/<bck>/%ob`
 * into dst at the same relative path (symlinks if hard links fail). Returns the number of
 * files linked, or -1. */
long bench_link_objects(const char *cluster_dir, const char *bck, const char *dst);

/* One line describing this machine (CPUs and model, memory, kernel). */
void bench_machine_desc(char *out, size_t len);
/* What a cluster benchmark (obj, etl, etl-ffmpeg) keeps from its start to its end: the first
 * member of the subcommand's state, so that bench_main can fill it. */
typedef struct {
    int64_t started_ns;
    char *tmp;         /* $TMPDIR/<prefix>-XXXXXX */
    char *bindir;      /* the executable's dir */
    char *cluster_dir; /* NULL, or the dir of the cluster the subcommand started */
    char mach[512];    /* bench_machine_desc */
    bool keep;         /* --keep: the temp dir stays */
} bench_run_t;

/* A cluster benchmark: its state (size bytes, a bench_run_t first), its options and its run. */
typedef struct {
    const char *name;   /* "etl": the banner "locus-bench etl: <machine>" and the end line */
    const char *prefix; /* of the temp dir */
    size_t size;
    /* Reads the options into the zeroed state: BENCH_OPTS_GO or an exit code (as
     * bench_opts_parse). */
    int (*parse)(void *state, int argc, char **argv);
    /* The benchmark, once the temp dir exists: its exit code. It frees what it put in the state
     * besides the bench_run_t. */
    int (*run)(void *state);
} bench_cmd_t;

/* Runs a cluster benchmark: the state, its options, then signals (bench_catch_signals),
 * libcurl, the temp dir and the banner on stderr, the run, and at the end (always) the cluster
 * under run.cluster_dir stopped, the temp dir removed unless --keep and "locus-bench <name>: done
 * in N s". The exit code: the run's, 0 after --help, 2 for bad options, 1 when the start
 * failed. */
int bench_main(const bench_cmd_t *c, int argc, char **argv);
/* Starts a cluster of 1 proxy + `targets` targets on free ports with its data under dir
 * (bench_cluster_up; cpu as there) and sets *endpoint (caller frees). 0, or -1 with the reason
 * printed. */
int bench_own_cluster(const char *bindir, const char *dir, int targets, int cpu, char **endpoint);
/* The cluster map of endpoint (which must have active targets) into *sm and, when cl is not NULL,
 * a client for it (5 s to connect, 2 min stall timeout). 0, or -1 with the reason printed. */
int bench_cluster_open(const char *endpoint, bench_smap_t *sm, locus_client_t **cl);
/* Creates the markdown report path and writes its head: a "generated by locus-bench <cmd>" comment
 * with the time, and "Machine: <mach>. <params>" for the caller to end. NULL after printing why. */
FILE *bench_md_open(const char *path, const char *cmd, const char *mach, const char *params);
/* RFC 3339 time with nanoseconds (job snapshots' start-time/end-time) -> unix ns; 0 for Go's
 * zero time or anything unparseable. */
int64_t bench_rfc3339_ns(const char *s);

/* --- the network floor of a store (sink.c) --- */

/* A receiver on a free 127.0.0.1 port: each connection gets a thread that reads "<id u64><length
 * u64>" and the bytes, XXH64-sums them while writing them to <dir>/<id>.out, and answers one
 * byte (0 = stored). No HTTP, no metadata, no rename: the least a store whose data arrives over
 * a socket does. */
typedef struct bench_sink_s bench_sink_t;
/* Starts the sink; cpu >= 0 pins its receiving threads. NULL on failure (err filled). */
bench_sink_t *bench_sink_start(const char *dir, int cpu, char *err, size_t errlen);
/* A new kept connection to the sink (TCP_NODELAY), or -1 (err filled). The sink closes it at
 * its stop unless bench_sink_close() did before. */
int bench_sink_connect(bench_sink_t *s, char *err, size_t errlen);
void bench_sink_close(bench_sink_t *s, int fd);
/* Sends one object of n bytes on fd and waits for its answer: 0 if stored, else -1. With a
 * bounce buffer (blen bytes), each piece is copied into it first, as libcurl's upload buffer
 * does for the HTTP rows (NULL: sent from p). */
int bench_sink_send(int fd, uint64_t id, const void *p, size_t n, void *bounce, size_t blen);
/* CPU ticks (user + system) the receiving threads have used so far. */
long bench_sink_ticks(bench_sink_t *s);
/* Closes the connections still open, waits for the receivers and frees s (NULL: nothing). */
void bench_sink_stop(bench_sink_t *s);

/* The data pool (pool.c) of obj and etl: object bodies are slices of one buffer of random bytes. */
#define BENCH_POOL_SLACK 4096 /* a body starts at one of 4096 offsets in the pool */
/* A pool for bodies of up to max bytes (*len = max + the slack, rounded up). Caller frees. */
uint8_t *bench_pool_new(size_t max, size_t *len);
/* Where object name's body starts in the pool (FNV-1a of the name, modulo the slack). */
uint32_t bench_pool_off(const char *name);

/* Bucket-to-bucket jobs (job.c). bench_job_start POSTs copy-bck, or etl-bck when value (a TCBMsg,
 * stolen) has "id"; *id: caller frees. bench_job_timing: ntargets 0 = do not check the count. */
typedef struct {
    double secs;
    int64_t objs, bytes;
} bench_job_time_t;
int bench_job_start(const char *endpoint, const char *src, const char *dst, json_t *value,
                    char **id, char *err, size_t errlen);
int bench_job_wait(locus_client_t *cl, const char *id, int timeout_s, char *err, size_t errlen);
int bench_job_timing(locus_client_t *cl, const char *id, size_t ntargets, bench_job_time_t *t,
                     char *err, size_t errlen);
/* Buckets (job.c): create (0, or -1 with err), destroy (logs a failure), and wait until the
 * targets of a cluster started under cluster_dir removed a destroyed bucket's files. */
int bench_bucket_create(const char *endpoint, const char *bck, char *err, size_t errlen);
void bench_bucket_destroy(const char *endpoint, const char *bck);
void bench_bucket_settle(const char *cluster_dir, const char *bck);
/* Lists every object of bck (all pages), calling each(size, arg) per object. The count, or -1
 * with err filled ("list <bck>: <why>"). */
long bench_bucket_sizes(locus_client_t *cl, const char *bck, void (*each)(int64_t size, void *arg),
                        void *arg, char *err, size_t errlen);

#endif
