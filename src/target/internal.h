/*
 * internal.h - target internals shared by the files of src/target only.
 */
#ifndef LOCUS_TARGET_INTERNAL_H
#define LOCUS_TARGET_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <xxhash.h>

#include "common/lso.h"
#include "target/lom.h"

/* A streaming, atomic object write: bytes go to a work file under %wk with the checksum
 * computed on the way; commit renames it over the FQN with its metadata. */
typedef struct {
    int fd;
    char *work; /* owned */
    char *fqn;  /* owned */
    char *bck;  /* owned */
    char *obj;  /* owned */
    XXH64_state_t *xx;
    int64_t written;
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
/* Drops the work file. Safe on a writer that failed to open (fd < 0). */
void store_writer_abort(obj_writer_t *w);

/* The FQN of bck/obj on its HRW mountpath (caller frees). */
char *store_fqn(const char *bck, const char *obj);
/* Opens an object for reading with its metadata. 0 or -errno (-ENOENT when missing). */
int store_open(const char *bck, const char *obj, int *fd, lom_md_t *md);
/* 0 or -errno (-ENOENT). */
int store_delete(const char *bck, const char *obj);
/* Deletes bck/obj only if it is still the copy described by expect (same write time and
 * checksum): 0, -ESTALE when it changed, or -errno (-ENOENT). */
int store_delete_if(const char *bck, const char *obj, const lom_md_t *expect);
/* Whether bck/obj is stored here (one stat). */
bool store_exists(const char *bck, const char *obj);
/* Calls cb for every local object of bck whose name starts with prefix (unsorted). Stops when
 * cb returns non-zero. */
typedef int (*store_walk_cb)(const char *name, const char *fqn, void *arg);
void store_walk(const char *bck, const char *prefix, store_walk_cb cb, void *arg);
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

#endif
