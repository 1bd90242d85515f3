/*
 * arch.h - archives ("shards") on libarchive: reading the members of a TAR, TGZ (tar.gz), ZIP or
 * TAR.LZ4 object file, selecting members by name (AIStore's archpath / archregx + archmode),
 * and writing an archive of any of these formats as a stream (GetBatch answers, the archive
 * job). docs/design.md §16.
 *
 * DESIGN
 * Member names come from untrusted bytes: they are matched and copied, never used as a path.
 * A name that is empty, absolute, has a ".." segment or a control character, or is longer than
 * ARCH_NAME_MAX is not listed and never matches. Memory is bounded: the reader pulls 64 KiB at
 * a time with pread (the fd's offset is untouched) and the writer pushes each block to a
 * callback as it is made; only a ZIP's central directory is held (one entry per member).
 */
#ifndef LOCUS_TARGET_ARCH_H
#define LOCUS_TARGET_ARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ARCH_NAME_MAX 1024
#define ARCH_MAX_MEMBERS 1000000 /* a listing stops there (ZIP directories are held) */

typedef enum { ARCH_TAR = 0, ARCH_TGZ, ARCH_ZIP, ARCH_TAR_LZ4 } arch_fmt_t;

/* AIStore's archive "mime" names: "", "tar", ".tar" -> TAR; "tgz", ".tgz", "tar.gz", ".tar.gz"
 * -> TGZ; "zip", ".zip" -> ZIP; "tar.lz4", ".tar.lz4" -> TAR.LZ4. 0 or -1. */
int arch_fmt_parse(const char *mime, arch_fmt_t *f);
/* ".tar", ".tgz", ".zip", ".tar.lz4" */
const char *arch_fmt_ext(arch_fmt_t f);
/* The Content-Type of an archive of format f. */
const char *arch_content_type(arch_fmt_t f);
/* Whether name ends with one of the archive extensions (what AIStore lists as a shard). */
bool arch_name_has_ext(const char *name);
/* Whether a member name may be listed, matched and written (see DESIGN). len bytes. */
bool arch_name_ok(const char *name, size_t len);

/* ---- matching (AIStore's archmode) ---- */
typedef enum {
    ARCH_M_REGEXP = 0,
    ARCH_M_PREFIX,
    ARCH_M_SUFFIX,
    ARCH_M_SUBSTR,
    ARCH_M_WDSKEY
} arch_mode_t;
typedef struct arch_match_s arch_match_t;
/* A matcher of pat in mode ("regexp", "prefix", "suffix", "substr", "wdskey"; NULL or "" =
 * regexp). "" and "*" match everything. NULL with err filled on a bad mode or expression (a
 * POSIX extended regular expression). Caller frees with arch_match_free. */
arch_match_t *arch_match_new(const char *pat, const char *mode, char *err, size_t errlen);
bool arch_match(const arch_match_t *m, const char *name);
void arch_match_free(arch_match_t *m);

/* ---- reading ---- */
typedef struct arch_reader_s arch_reader_t;
/* Opens the archive in fd (borrowed until arch_close; read with pread, the offset untouched).
 * The format is detected from the bytes (TAR, ZIP; gzip and lz4 compression). NULL with err
 * filled when it is not an archive of these formats. */
arch_reader_t *arch_open(int fd, char *err, size_t errlen);
/* The next regular member with a safe name: 0 with its name (borrowed until the next call) and
 * size; 1 at the end; -1 when the archive is damaged (err filled). */
int arch_next(arch_reader_t *r, const char **name, int64_t *size, char *err, size_t errlen);
/* Reads the current member's data: bytes read, 0 at its end, -1 on error. */
ssize_t arch_read(arch_reader_t *r, void *buf, size_t n);
void arch_close(arch_reader_t *r);

/* Looks up member name in fd: 0 with the reader positioned on it (its size in *size; caller
 * closes *out), 404 when it is not there, 400 when fd is not an archive, 500 when damaged; err
 * filled unless 0. */
int arch_find(int fd, const char *name, arch_reader_t **out, int64_t *size, char *err,
              size_t errlen);

/* ---- writing ---- */
/* Where the written bytes go: 0, or -1 to fail the archive. */
typedef int (*arch_sink_cb)(void *arg, const void *p, size_t n);
typedef struct arch_writer_s arch_writer_t;
/* A writer of format f whose bytes go to sink(arg) as they are made: in blocks of 256 KiB, or
 * (unblocked) each piece as it comes, the members' bytes passed through without a copy (for a
 * sink that gathers them itself). NULL with err. */
arch_writer_t *arch_writer_new(arch_fmt_t f, bool unblocked, arch_sink_cb sink, void *arg,
                               char *err, size_t errlen);
/* Starts a member (a regular file of size bytes, mode 0644, mtime in seconds). 0 or -1. */
int arch_writer_begin(arch_writer_t *w, const char *name, int64_t size, int64_t mtime);
/* Data of the current member (exactly size bytes in all). 0 or -1. */
int arch_writer_data(arch_writer_t *w, const void *p, size_t n);
/* Copies the current member's data from a reader (exactly size bytes). 0 or -1. */
int arch_writer_copy(arch_writer_t *w, arch_reader_t *r, int64_t size);
/* Copies size bytes of fd from offset off into the current member. 0 or -1. */
int arch_writer_copy_fd(arch_writer_t *w, int fd, int64_t off, int64_t size);
/* Ends the archive (ok) and frees w: 0, or -1 when a write failed (then the stream is
 * incomplete). With ok false the trailer is not written. */
int arch_writer_finish(arch_writer_t *w, bool ok);
/* The last error of w. */
const char *arch_writer_error(arch_writer_t *w);

#endif
