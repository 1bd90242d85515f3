/*
 * internal.h - target internals shared by the files of src/target only.
 */
#ifndef LOCUS_TARGET_INTERNAL_H
#define LOCUS_TARGET_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <xxhash.h>

#include "cluster/trust.h"
#include "common/lso.h"
#include "common/promote.h"
#include "net/net.h"
#include "target/lom.h"

/* A streaming, atomic object write: bytes go to a work file under %wk with the checksum
 * computed on the way; commit puts it at the FQN with its metadata. The work file is unnamed
 * (O_TMPFILE) where the filesystem allows: a new object is then linked into place in one step
 * (no rename, no look for a previous version), and nothing is left behind by a crash. */
typedef struct {
    int fd;
    char *work; /* owned; NULL while the work file is unnamed (store_writer_name) */
    char *wd;   /* owned: the work dir, where an unnamed work file gets its name */
    char *fqn;  /* owned */
    char *bck;  /* owned */
    char *obj;  /* owned */
    XXH64_state_t *xx;
    int64_t written;
    int64_t mp_version; /* the mountpath set's version the writer chose its mountpath from */
} obj_writer_t;

/* Opens a writer for bck/obj on its HRW mountpath. 0 or -errno (err filled). */
int store_writer_open(obj_writer_t *w, const char *bck, const char *obj, char *err, size_t errlen);
int store_writer_write(obj_writer_t *w, const void *p, size_t n);
/* Commits: metadata (version = previous + 1), optional fsync, rename. On failure the work file
 * is removed and an HTTP status (409 for a name clash with a directory, else 500) returned with
 * err filled; 0 on success. The writer is disposed either way. */
int store_writer_commit(obj_writer_t *w, json_t *custom, char *err, size_t errlen);
/* Commits an object that another target sent (rebalance, get-from-neighbor) with its
 * metadata in (version, atime, checksum, custom kept). The body must match in's size and
 * checksum (else 400, nothing stored). A local copy with the same or a later write time wins:
 * then *kept is set and the received bytes are dropped (0). The writer is disposed either
 * way. 0 or an HTTP status with err. */
int store_writer_commit_received(obj_writer_t *w, const lom_md_t *in, bool *kept, char *err,
                                 size_t errlen);
/* Writes everything fd has from its offset to its end into w. 0, or -1 with err. */
int store_writer_copy_fd(obj_writer_t *w, int fd, char *err, size_t errlen);
/* Gives an unnamed work file its name under %wk (w->work), for the steps that rename it: 0
 * (also when it has one already) or -errno. */
int store_writer_name(obj_writer_t *w);
/* Whether writers open unnamed work files; tests turn it off to run the named path. */
bool store_tmpfile_enabled(void);
void store_tmpfile_enable(bool on);
/* Turns unnamed work files off for good if dir's filesystem cannot make and link one
 * (mpath_probe() asks for every mountpath it accepts). */
void store_tmpfile_probe(const char *dir);
/* Drops the work file. Safe on a writer that failed to open (fd < 0). */
void store_writer_abort(obj_writer_t *w);

/* The FQN of bck/obj on its HRW mountpath (caller frees). */
char *store_fqn(const char *bck, const char *obj);
/* Opens an object for reading with its metadata. 0 or -errno (-ENOENT when missing). */
int store_open(const char *bck, const char *obj, int *fd, lom_md_t *md);
/* The same at fqn, which store_fqn(bck, obj) returned (a request looks it up once). */
int store_open_fqn(const char *fqn, const char *bck, const char *obj, int *fd, lom_md_t *md);
/* Opens an object's bytes only, without its metadata (its fstat in st: the size): for readers
 * that need nothing else, such as GetBatch's entries. 0 or -errno (-ENOENT when missing). */
int store_open_data(const char *bck, const char *obj, int *fd, struct stat *st);
/* Opens the regular file at fqn (its fstat in st): the fd, or -errno (-ENOENT when missing or
 * not a regular file). No resilver fallback: a GET's first look (one path walk for both the
 * "is it here" and the read). */
int store_open_file(const char *fqn, struct stat *st);
/* The metadata of the object file open at fd, whose fstat is st (a file without its xattr, not
 * written by Locus, gets what its inode tells). */
void store_md_of(int fd, const struct stat *st, lom_md_t *md);
/* 0 or -errno (-ENOENT). */
int store_delete(const char *bck, const char *obj);
/* Deletes bck/obj only if it is still the copy described by expect (same write time and
 * checksum): 0, -ESTALE when it changed, or -errno (-ENOENT). */
int store_delete_if(const char *bck, const char *obj, const lom_md_t *expect);
/* The xxhash checksum ("%016llx") of the size bytes of fd from offset 0 into out. 0, or -errno
 * (-EIO when the file is shorter than size). */
int store_checksum(int fd, int64_t size, char out[17]);
/* Removes now-empty parent directories of fqn up to (not including) stop. */
void store_prune_dirs(const char *fqn, const char *stop);
/* Whether bck/obj is stored here (one stat). */
bool store_exists(const char *bck, const char *obj);
/* Calls cb for every local object of bck whose name starts with prefix (unsorted). Stops when
 * cb returns non-zero. */
typedef int (*store_walk_cb)(const char *name, const char *fqn, void *arg);
void store_walk(const char *bck, const char *prefix, store_walk_cb cb, void *arg);
/* The same over one object directory (<mountpath>/@ais/<bck>/%ob) only. */
void store_walk_objdir(const char *objdir, store_walk_cb cb, void *arg);
/* One sorted page of local objects: names > after, at most limit. */
void store_list(const char *bck, const char *prefix, const char *after, size_t limit, int props,
                lso_page_t *out);
void store_remove_bucket(const char *bck);
/* Removes leftover work files of every bucket on every mountpath (start-up). */
void store_cleanup_work(void);
int store_init(char *err, size_t errlen);
/* Parses a Range header h (NULL = none) of a GET of an object of size bytes: a single
 * "bytes=a-b", "bytes=a-" or "bytes=-n" range. 0 with the range in *off, *len (clamped to the
 * object); 1 when there is no header; -1 when it is malformed or cannot be satisfied (416). */
int range_parse(const char *h, int64_t size, int64_t *off, int64_t *len);

/* Copies a local object to bck/obj of this target (atomic, new version). 0 or HTTP status. */
int store_copy_local(const char *src_fqn, int64_t size, const char *bck, const char *obj, char *err,
                     size_t errlen);

/* The stripe lock of bck/obj: commits, deletes and resilver moves of one object name hold it. */
pthread_mutex_t *store_stripe(const char *bck, const char *obj);
/* Takes and drops every stripe lock: a commit that chose its mountpath before this call has
 * renamed its file into place when it returns. */
void store_barrier(void);

/* ---------------------------------------------------------------- object API (objapi.c)
 * Multipart uploads, appends and custom metadata; promote (promote.c). docs/protocol.md §1.3.1. */

#define OBJAPI_ID_LEN 20       /* upload ids and append handle ids: [a-z0-9]{20} */
#define MPT_MAX_PARTS 10000    /* part numbers 1..MPT_MAX_PARTS */
#define OBJAPI_CUSTOM_MAX 4096 /* bytes of custom keys and values set by one PATCH */

/* A part number as the query gives it: 1..MPT_MAX_PARTS, else -1. */
int mpt_part_number(const char *s);
/* The body of mpt-complete (untrusted): {"action":..., "value":[{"part-number":N,"etag":..}..]},
 * whose part numbers must be exactly 1..n in any order. n, or -1 with err (a 400). */
int mpt_parts_parse(const char *body, size_t len, char *err, size_t errlen);
/* mpt-upload: a new upload of bck/obj, its id into id. 0 or an HTTP status with err. */
int mpt_start(const char *bck, const char *obj, char id[OBJAPI_ID_LEN + 1], char *err,
              size_t errlen);
/* A part PUT (?uploadId=&partNumber=): a writer of part (400: bad number, 404: no such upload)
 * whose mpt_part_commit makes it the part (replacing one uploaded before). 0 or a status. */
int mpt_part_open(obj_writer_t *w, const char *bck, const char *obj, const char *id,
                  const char *part, char *err, size_t errlen);
/* etag: the part's MD5 (hex) as its PUT's CLUSTER_HDR_MD5_ETAG said, kept with it; NULL or "":
 * none. */
int mpt_part_commit(obj_writer_t *w, const char *etag, char *err, size_t errlen);
/* mpt-complete with its body: the parts, in order, become bck/obj (an ordinary commit). */
int mpt_complete(const char *bck, const char *obj, const char *id, const char *body, size_t len,
                 char *err, size_t errlen);
/* S3's complete (the proxy's mpt-complete with CLUSTER_HDR_S3_MPT): the listed parts only, in
 * strictly ascending order, each with the MD5 its PUT carried. */
typedef struct {
    int *num;
    char (*etag)[33];
    int n;
} mpt_s3_parts_t;
/* Parses {"value":[{"part-number":N,"etag":"<md5 hex>"},...]} (untrusted). 0; -1 malformed, -2
 * not in ascending order (S3's InvalidPartOrder), with err. mpt_s3_dispose frees p either way. */
int mpt_s3_parse(const char *body, size_t len, mpt_s3_parts_t *p, char *err, size_t errlen);
void mpt_s3_dispose(mpt_s3_parts_t *p);
/* Joins the listed parts into bck/obj once each matches its ETag (else 400 InvalidPart) and each
 * but the last has min_part bytes (400 EntityTooSmall); the object's custom ETag, into etag too,
 * is S3's "<md5 of the parts' md5s>-<n>"; the unlisted parts go with the upload. 0, or an HTTP
 * status with S3's code and err (404 NoSuchUpload). */
int mpt_complete_s3(const char *bck, const char *obj, const char *id, const mpt_s3_parts_t *p,
                    int64_t min_part, char etag[48], const char **code, char *err, size_t errlen);
/* The parts of an upload: {"name","id","initiated","parts":[{"part-number","etag","size",
 * "mtime"}]} by part number into *out. 0 or 404 with err. */
int mpt_list_parts(const char *bck, const char *obj, const char *id, json_t **out, char *err,
                   size_t errlen);
/* Which of a bucket's uploads to list (S3's ListMultipartUploads). */
typedef struct {
    const char *prefix;     /* "": any */
    const char *key_marker; /* "": from the start */
    const char *id_marker;  /* with key_marker: its uploads with greater ids come too */
    size_t limit;
} mpt_filter_t;
/* The bucket's uploads here that pass f, sorted by (name, id), at most f->limit:
 * [{"name","id","initiated"}]. Expired ones are swept first. */
json_t *mpt_list_uploads(const char *bck, const mpt_filter_t *f);
/* A thread that sweeps every bucket's expired uploads and appends (config mpt_idle_timeout). */
void mpt_sweeper_start(void);
void mpt_sweeper_stop(void);
/* mpt-abort: the upload and its parts go. 0 or 404. */
int mpt_abort(const char *bck, const char *obj, const char *id, char *err, size_t errlen);
/* PUT ?append_type=append: the body (in w, which this disposes) goes at the end of the append
 * file of handle ("" or NULL: a new one, which starts with the object's bytes when it exists).
 * The handle for the next call into out. 0 or an HTTP status with err. */
int apnd_append(obj_writer_t *w, const char *handle, char *out, size_t outlen, char *err,
                size_t errlen);
/* PUT ?append_type=flush: the append file of handle becomes bck/obj (an ordinary commit). */
int apnd_flush(const char *bck, const char *obj, const char *handle, char *err, size_t errlen);
/* PATCH: merges value (a JSON object of strings, checked here) into the object's custom
 * metadata, or replaces it with value. 0 or an HTTP status with err. */
int obj_set_custom(const char *bck, const char *obj, json_t *value, bool replace, char *err,
                   size_t errlen);
/* Promote on this target (promote.c): refused (403) unless the resolved source is in one of the
 * config's promote_allowed directories; with fshare only the names this target owns. 0 or an
 * HTTP status with err. */
/* In a file share with "dls", the source is gone: another target of the share promoted it and
 * deleted it first (promote_run's answer, not an HTTP status). */
#define PROMOTE_GONE 1
int promote_run(const char *bck, const promote_args_t *a, bool fshare, char *err, size_t errlen);

/* ---------------------------------------------------------------- mirror (mirror.c)
 * n-way mirror: copies of an object on other mountpaths of its target, under %mi. */

/* The copies the bucket asks for (its main replica included): mirror.copies when
 * mirror.enabled, else 1. */
int mirror_copies(const char *bck);
/* The same from a BMD entry's "props" (borrowed; NULL: 1). */
int mirror_copies_props(json_t *props);
/* Makes the copies of bck/obj (the main replica at main_fqn) on the next copies - 1 enabled
 * mountpaths of its HRW order other than the main replica's (one already there and current is
 * kept) and removes any other copy. Nothing when the main replica is missing. Takes the stripe
 * lock itself, briefly. */
void mirror_write(const char *bck, const char *obj, const char *main_fqn, int copies);
/* Removes every copy of bck/obj (the stripe lock held: a delete). */
void mirror_remove_locked(const char *bck, const char *obj);
/* How many copies of bck/obj exist (the main replica not counted); with paths, ",<mountpath>"
 * of each is appended to it. */
int mirror_present(const char *bck, const char *obj, buf_t *paths);
/* Restores the main replica at main_fqn from a copy whose data matches its checksum. 0, or
 * -ENOENT when there is none. */
int mirror_repair(const char *bck, const char *obj, const char *main_fqn);

/* ---------------------------------------------------------------- erasure coding (ec.c)
 * Pieces of an object on other targets: D data + P parity slices, or P full replicas of a small
 * object, under %ec (docs/design.md §15). */

#define EC_MAX_SLICES 32
#define EC_PIECE_TEXT 40        /* "D,P,slice,<16 hex>" and its NUL */
#define EC_HDR_PIECE "Locus-Ec" /* a piece PUT's "D,P,slice,xxhash" */

typedef struct {
    bool enabled;
    int d, p;      /* data_slices, parity_slices */
    int64_t limit; /* objsize_limit: smaller objects are replicated; 0: none; -1: all */
} ec_conf_t;

typedef struct {
    int d, p;
    int slice;    /* 0: a full replica; 1..d data; d+1..d+p parity */
    char scs[17]; /* xxhash of the piece's bytes */
} ec_piece_t;

/* The codec (ISA-L Reed-Solomon over a Cauchy matrix; files, not memory: the object may be
 * larger than RAM). A file nobody sees in directory dir: fd or -errno. */
int ec_tmp_open(const char *dir);
/* The P parity slices of the object of size bytes in fd, each into a new unnamed file in dir
 * (pfd[0..p)), and the xxhash of every slice (scs[0..d+p), data first). 0 or -errno. */
int ec_code_parity(int fd, int64_t size, int d, int p, const char *dir, int *pfd, char (*scs)[17]);
/* Rebuilds the missing data slices from d of the slices in have[1..d+p] (fds; -1 when missing;
 * a data slice is its ec_piece_len bytes), each into a new unnamed file in dir put into have[]
 * (the caller closes every fd of have). 0, -ENODATA when fewer than d slices are there, or
 * -errno. */
int ec_code_rebuild(int64_t size, int d, int p, int *have, const char *dir);
/* The bucket's EC settings from a BMD entry's "props" (borrowed) / by name; whether enabled. */
bool ec_conf_props(json_t *props, ec_conf_t *c);
bool ec_conf(const char *bck, ec_conf_t *c);
/* The bytes of piece slice of an object of size bytes coded with d data slices. */
int64_t ec_piece_len(int64_t size, int d, int slice);
void ec_piece_format(const ec_piece_t *pc, char out[EC_PIECE_TEXT]);
/* Parses "D,P,slice,xxhash" (len bytes, untrusted). 0 or -1. */
int ec_piece_parse(const char *s, size_t len, ec_piece_t *pc);
/* After a commit of bck/obj here, in a bucket erasure-coded as c says: its pieces to their
 * targets, in parallel. 0, or 503 with err when a piece did not go (the object is stored; the
 * ec-encode job completes it). */
int ec_encode(const char *bck, const char *obj, const ec_conf_t *c, char *err, size_t errlen);
/* This target owns bck/obj and lacks its main replica: rebuilds it from the pieces of its
 * newest write. 0, 404 (no piece anywhere), 503 or 500 with err. */
int ec_restore(const char *bck, const char *obj, char *err, size_t errlen);
/* The main replica (metadata bad) failed its checksum: drops it and rebuilds it. */
int ec_repair(const char *bck, const char *obj, const lom_md_t *bad, char *err, size_t errlen);
/* Brings the pieces of local bck/obj to the full set at the current placement and removes the
 * others; *sent: pieces sent. 0, 404 (not here), or 503 with err. */
int ec_ensure(const char *bck, const char *obj, int *sent, char *err, size_t errlen);
/* Removes this target's piece of bck/obj (the stripe lock held: a delete). */
void ec_remove_locked(const char *bck, const char *obj);
/* Removes it only if it is still the piece slice of the write at atime_ns. */
void ec_delete_piece_if(const char *bck, const char *obj, int64_t atime_ns, int slice);
/* A piece arriving (PUT /v1/internal/ec): a writer whose commit puts it under %ec, and the
 * commit that checks its length and checksum and keeps the newest write's piece. */
int ec_piece_open(obj_writer_t *w, const char *bck, const char *obj, char *err, size_t errlen);
int ec_piece_commit(obj_writer_t *w, const lom_md_t *md, const ec_piece_t *pc, char *err,
                    size_t errlen);
/* GET (?what=meta), DELETE (?atime=&slice=) and POST (recover) /v1/internal/ec?bck=&obj=. */
void ec_handle(http_req_t *req);
/* The ec-encode job's work on this target for bucket x->src_bck. */
struct xact_s;
void ec_job(struct xact_s *x);

/* Node statistics (nstats.c): AIStore's stats.Node JSON, with status: stats.NodeStatus. */
json_t *nstats_json(bool status);

/* summary-bck (summary.c): counts the objects of x's bucket (every bucket when it has none)
 * whose names start with prefix (NULL: all) and the disks under them; the per-bucket result
 * becomes the job's ext: {"buckets":{b:{"objs","bytes","min","max","disk"}},"disks_total"}. */
void summary_job(struct xact_s *x, const char *prefix);

/* The target's metrics collectors (tstats.c): mountpaths and jobs. */
void tstats_init(void);

/* ---------------------------------------------------------------- mountpaths (mpath.c)
 * The target's mountpaths (docs/design.md §5): an immutable, reference-counted snapshot that a
 * change replaces under a lock. Enabled mountpaths are the HRW set that places objects; disabled
 * and detaching ones are out of it but may still hold objects until the resilver (resilver.c)
 * has moved them off; a detaching one leaves the set then. */
typedef struct mpset_s {
    int refcnt; /* guarded by the set's lock */
    int64_t version;
    char **en; /* enabled, sorted: the HRW set (never empty) */
    uint64_t *digests;
    size_t n_en;
    char **det; /* detaching, sorted */
    size_t n_det;
    char **dis; /* disabled, sorted */
    size_t n_dis;
} mpset_t;

/* Snapshot: valid until mpath_put. Safe from any thread. */
mpset_t *mpath_get(void);
void mpath_put(mpset_t *s);
/* The version of the current set (cheap: no reference taken). */
int64_t mpath_version(void);
/* The HRW mountpath of bck/obj in s (borrowed from s). */
const char *mpset_hrw(const mpset_t *s, const char *bck, const char *obj);
/* Every mountpath that may hold objects: enabled, then detaching, then disabled (i below
 * mpset_count). */
size_t mpset_count(const mpset_t *s);
const char *mpset_path(const mpset_t *s, size_t i);
/* False from a change until its resilver has put every object on its HRW mountpath: lookups
 * then also look at the other mountpaths. */
bool mpath_settled(void);
/* With the stripe lock of bck/obj held: the FQN of the object on whichever mountpath of the set
 * holds it (the HRW one first), or NULL. Caller frees. */
char *mpath_locate_locked(const char *bck, const char *obj);
/* With the stripe lock held, in a commit to fqn (the HRW FQN) where no copy exists: while the set
 * is not settled, the version of a copy on another mountpath (its FQN into *stale, caller
 * frees), else 0. */
int64_t mpath_stale_version_locked(const char *bck, const char *obj, const char *fqn, char **stale);
/* With the stripe lock held, after the commit: removes that older copy (so no resilver moves
 * it over the new one) and prunes its empty directories. */
void mpath_drop_stale_locked(const char *stale, const char *obj);
/* Opens bck/obj wherever it is (under its stripe lock): fd, or -1 with errno (ENOENT). */
int mpath_open_anywhere(const char *bck, const char *obj);
/* With the stripe lock held, in a commit: when the set changed since the writer opened and
 * bck/obj now belongs on another mountpath, moves the work file there (rename, or a copy across
 * filesystems) and points w->fqn at it. 0 or -errno. */
int mpath_writer_retarget(obj_writer_t *w);
/* Copies the bytes of fd (from offset 0) into a new file at path (O_EXCL): the new file's fd, or
 * -errno (nothing left behind). */
int mpath_copy_new(int fd, const char *path);
/* Creates path if missing and checks it is a writable directory with user xattrs. 0, or -1 with
 * err. */
int mpath_probe(const char *path, char *err, size_t errlen);
/* Loads <data_dir>/mountpaths.json (else the config's list), probes the enabled mountpaths and
 * installs the set. 0, or -1 with err. */
int mpath_init(char *err, size_t errlen);
/* Starts the resilver a restart interrupted, if any (after the start-up cleanup). */
void mpath_resume(void);
/* One change of the set as /v1/daemon/mountpaths takes it: method PUT action "attach-mp",
 * DELETE "detach-mp" (waits up to 45 s for the resilver to empty the mountpath; dont_resilver
 * drops it at once), POST "enable-mp" or "disable-mp"; path as the client gave it. 200 or 202
 * (detach still running) with the resilver's job id in id ("" when none), or a 4xx/5xx status
 * with err. */
int mpath_act(const char *method, const char *action, const char *path, bool dont_resilver,
              char *id, size_t idlen, char *err, size_t errlen);
/* /v1/daemon/mountpaths: attach (PUT), detach (DELETE), enable/disable (POST). The caller has
 * checked who may. */
void mpath_handle(http_req_t *req);
/* AIStore's MountpathList {"available","waiting_dd","disabled"} (new reference). */
json_t *mpath_list_json(void);
/* Starts a resilver with job id id (AIStore's StartXaction "resilver"), under the change lock. */
void mpath_resilver_start(const char *id);
/* The resilver is done with the set of version v: it dropped the detaching mountpaths it
 * emptied (detached: those with no objects left) and marks the set settled when all_ok. */
void mpath_resilver_done(int64_t v, char **detached, size_t n_detached, bool all_ok);

/* ---------------------------------------------------------------- resilver (resilver.c) */

/* Starts a resilver of the current set (aborting a running one, which it waits for before it
 * walks); its job id into id. Call with the change lock of mpath.c held. */
void resilver_start(char *id, size_t idlen);
/* The same with the id given (same lock). */
void resilver_start_id(const char *id);
/* The id of the newest resilver and whether it is still running; false when there was none. */
bool resilver_last(char *id, size_t idlen, bool *running, char *err, size_t errlen);
/* The last resilver as {"id","running","moved","err"} (new reference), NULL when none ran. */
json_t *resilver_status(void);
/* Aborts the running resilver and waits for it (shutdown). */
void resilver_shutdown(void);

/* ---------------------------------------------------------------- answers made by a producer
 * thread (tstream.c): an archive assembled while it is sent. The request's worker waits until
 * the producer either starts the answer (status 200, then bytes) or fails it before any byte (an
 * error reply); after the start a failure truncates the transfer (net.h, http_stream_t). */
typedef struct tstream_s tstream_t;
/* The producer: 0 when the body is complete, -1 when it failed. */
typedef int (*tstream_fn)(tstream_t *ts, void *arg);
/* Runs fn(ts, arg) on a new thread and answers req with what it produces; arg_free(arg) runs
 * when the producer is done. Call from on_request on a worker. */
void tstream_run(http_req_t *req, tstream_fn fn, void *arg, void (*arg_free)(void *));
/* Producer: starts the 200 answer (Content-Length clen when >= 0). 0, or -1 when the client is
 * gone. Idempotent. */
int tstream_start(tstream_t *ts, int64_t clen, const char *ctype);
bool tstream_started(const tstream_t *ts);
/* Producer, before tstream_start: the answer is this error instead. */
void tstream_fail(tstream_t *ts, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Producer: body bytes (starts a chunked answer of ctype "application/octet-stream" if not
 * started). 0 or -1 (client gone). */
int tstream_write(tstream_t *ts, const void *p, size_t n);
/* The same in small pieces, and the flush due before waiting for anything else (net.h,
 * http_stream_write_more). */
int tstream_write_more(tstream_t *ts, const void *p, size_t n);
void tstream_flush(tstream_t *ts);

/* ---------------------------------------------------------------- archives (archget.c, moss.c)
 * docs/design.md §16. */

/* GET /v1/objects/<b>/<o>?archpath= (the member's bytes) or ?archregx=[&archmode=] (a TAR of
 * the matching members) of a local object. */
void arch_object_get(http_req_t *req, const char *bck, const char *obj);
/* Expands the archives of a listing page (AIStore's LsArchDir): after each object whose name
 * has an archive extension, one entry "<name>/<member>" per member (flag EntryInArch); the
 * archive itself gets EntryIsArchive. */
void arch_expand_page(const char *bck, lso_page_t *page);
/* The archive job's work here (archjob.c): when this target owns msg's archname, the names
 * next(arg) returns (in order, caller frees each), archived into it. */
struct xact_s;
void arch_job(struct xact_s *x, json_t *msg, char *(*next)(void *), void *arg);
/* GETs url (an object of another target, signed) into an unnamed spool file on a mountpath: its
 * fd (size in *size; caller closes), or -1 with err and *status (404 when missing or not an
 * archive, else 500). */
int arch_spool_fetch(const char *url, int64_t *size, int *status, char *err, size_t errlen);
/* GET /v1/ml/moss[/<bck>]: GetBatch, assembled on this target (docs/protocol.md §1.14). */
void moss_handle(http_req_t *req, const trust_t *who, const char *bck);
/* GET /v1/internal/moss: the entries another target needs for its GetBatch (a node's call). */
void moss_internal(http_req_t *req);

#endif
