/*
 * arch.c - archive members on libarchive (see arch.h and docs/design.md §16).
 *
 * libarchive pitfalls handled here (docs/design.md §13):
 * - Only the formats we serve are enabled (tar, zip; gzip and lz4 filters), never "all": every
 *   extra format is more parser exposed to untrusted bytes.
 * - A ZIP read as a stream takes its sizes from local headers, which a data descriptor leaves
 *   unknown; the seekable ZIP reader uses the central directory, so the reader gets a seek
 *   callback (pread-based, the fd's offset untouched).
 * - archive_entry_pathname() converts to the locale's charset and fails (NULL) for non-ASCII
 *   names in the "C" locale of a daemon: the UTF-8 name is asked for first.
 * - The writer pads the last block to 10 KiB by default, which corrupts nothing but lengthens a
 *   stream and trails a compressed one with zeros: bytes_in_last_block is 1.
 */
#include "target/arch.h"
#include "common/moss.h"
#include "common/util.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ARCH_BLOCK (64 * 1024)
#define ARCH_WBLOCK (256 * 1024) /* what the writer hands its sink at a time */

int arch_fmt_parse(const char *mime, arch_fmt_t *f)
{
    int k = moss_fmt_parse(mime);
    if (k >= 0)
        *f = (arch_fmt_t)k;
    return k < 0 ? -1 : 0;
}

const char *arch_fmt_ext(arch_fmt_t f)
{
    static const char *ext[] = {".tar", ".tgz", ".zip", ".tar.lz4"};
    return ext[f];
}

const char *arch_content_type(arch_fmt_t f)
{
    static const char *ct[] = {"application/x-tar", "application/x-gzip", "application/zip",
                               "application/x-lz4"};
    return ct[f];
}

static bool has_suffix(const char *s, const char *sfx)
{
    size_t n = strlen(s), m = strlen(sfx);
    return n >= m && strcmp(s + n - m, sfx) == 0;
}

bool arch_name_has_ext(const char *name)
{
    return moss_fmt_of_name(name) >= 0;
}

bool arch_name_ok(const char *name, size_t len)
{
    if (len == 0 || len > ARCH_NAME_MAX || name[0] == '/')
        return false;
    size_t seg = 0; /* start of the current segment */
    for (size_t i = 0; i <= len; i++) {
        if (i < len && (unsigned char)name[i] < 0x20)
            return false;
        if (i < len && name[i] == '\\')
            return false; /* a Windows separator: "..\\x" would escape there */
        if (i == len || name[i] == '/') {
            if (i - seg == 2 && name[seg] == '.' && name[seg + 1] == '.')
                return false;
            seg = i + 1;
        }
    }
    return true;
}

/* ---------------------------------------------------------------- matching */

struct arch_match_s {
    arch_mode_t mode;
    bool all;
    char *pat;
    regex_t re;
};

arch_match_t *arch_match_new(const char *pat, const char *mode, char *err, size_t errlen)
{
    static const char *modes[] = {"regexp", "prefix", "suffix", "substr", "wdskey"};
    int k = -1;
    if (mode == NULL || mode[0] == '\0')
        k = 0;
    for (int i = 0; k < 0 && i < (int)ARRAY_SIZE(modes); i++)
        if (strcmp(mode, modes[i]) == 0)
            k = i;
    if (k < 0) {
        snprintf(err, errlen,
                 "invalid matching mode \"%s\", expecting one of: regexp, prefix, suffix, substr, "
                 "wdskey",
                 mode);
        return NULL;
    }
    arch_match_t *m = xcalloc(1, sizeof(*m));
    m->mode = (arch_mode_t)k;
    m->pat = xstrdup(pat ? pat : "");
    m->all = m->pat[0] == '\0' || strcmp(m->pat, "*") == 0;
    if (m->mode == ARCH_M_REGEXP && !m->all) {
        int rc = regcomp(&m->re, m->pat, REG_EXTENDED | REG_NOSUB);
        if (rc != 0) {
            char why[256];
            regerror(rc, &m->re, why, sizeof(why));
            snprintf(err, errlen, "invalid regular expression \"%s\": %s", m->pat, why);
            free(m->pat);
            free(m);
            return NULL;
        }
    }
    return m;
}

/* AIStore's WebDataset key: the name without its last extension (and a leading '/'). */
static bool wds_key_eq(const char *name, const char *key)
{
    const char *slash = strrchr(name, '/');
    const char *dot = strrchr(slash ? slash : name, '.');
    size_t n = dot ? (size_t)(dot - name) : strlen(name);
    if (n > 0 && name[0] == '/') {
        name++;
        n--;
    }
    return strlen(key) == n && strncmp(name, key, n) == 0;
}

bool arch_match(const arch_match_t *m, const char *name)
{
    if (m->all)
        return true;
    switch (m->mode) {
    case ARCH_M_PREFIX:
        return strncmp(name, m->pat, strlen(m->pat)) == 0;
    case ARCH_M_SUFFIX:
        return has_suffix(name, m->pat);
    case ARCH_M_SUBSTR:
        return strstr(name, m->pat) != NULL;
    case ARCH_M_WDSKEY:
        return wds_key_eq(name, m->pat);
    default:
        return regexec(&m->re, name, 0, NULL, 0) == 0;
    }
}

void arch_match_free(arch_match_t *m)
{
    if (m == NULL)
        return;
    if (m->mode == ARCH_M_REGEXP && !m->all)
        regfree(&m->re);
    free(m->pat);
    free(m);
}

/* ---------------------------------------------------------------- reading */

struct arch_reader_s {
    struct archive *a;
    int fd;
    int64_t off, size;
    char name[ARCH_NAME_MAX + 1];
    char buf[ARCH_BLOCK];
};

static la_ssize_t on_read(struct archive *a, void *arg, const void **out)
{
    arch_reader_t *r = arg;
    for (;;) {
        ssize_t n = pread(r->fd, r->buf, sizeof(r->buf), (off_t)r->off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            archive_set_error(a, errno, "read: %s", strerror(errno));
            return -1;
        }
        r->off += n;
        *out = r->buf;
        return n;
    }
}

static la_int64_t on_seek(struct archive *a, void *arg, la_int64_t off, int whence)
{
    arch_reader_t *r = arg;
    int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? r->off : r->size;
    if (off < -base || base + off > r->size) {
        archive_set_error(a, EINVAL, "seek out of the file");
        return ARCHIVE_FATAL;
    }
    r->off = base + off;
    return r->off;
}

static la_int64_t on_skip(struct archive *a, void *arg, la_int64_t n)
{
    arch_reader_t *r = arg;
    (void)a;
    if (n > r->size - r->off)
        n = r->size - r->off;
    if (n < 0)
        n = 0;
    r->off += n;
    return n;
}

arch_reader_t *arch_open(int fd, char *err, size_t errlen)
{
    struct stat st;
    if (fstat(fd, &st) < 0) {
        snprintf(err, errlen, "stat: %s", strerror(errno));
        return NULL;
    }
    arch_reader_t *r = xcalloc(1, sizeof(*r));
    r->fd = fd;
    r->size = st.st_size;
    r->a = archive_read_new();
    if (r->a == NULL)
        locus_panic("archive_read_new: out of memory");
    archive_read_support_format_tar(r->a);
    archive_read_support_format_zip_seekable(r->a);
    archive_read_support_filter_gzip(r->a);
    archive_read_support_filter_lz4(r->a);
    archive_read_set_read_callback(r->a, on_read);
    archive_read_set_seek_callback(r->a, on_seek);
    archive_read_set_skip_callback(r->a, on_skip);
    archive_read_set_callback_data(r->a, r);
    if (archive_read_open1(r->a) != ARCHIVE_OK) {
        snprintf(err, errlen, "not an archive (tar, tgz, zip, tar.lz4): %s",
                 archive_error_string(r->a) ? archive_error_string(r->a) : "unknown format");
        arch_close(r);
        return NULL;
    }
    return r;
}

/* The entry's name, UTF-8 first (see the pitfalls above); "./" prefixes dropped. */
static const char *entry_name(struct archive_entry *e)
{
    const char *n = archive_entry_pathname_utf8(e);
    if (n == NULL)
        n = archive_entry_pathname(e);
    if (n == NULL)
        return NULL;
    while (n[0] == '.' && n[1] == '/')
        n += 2;
    return n;
}

int arch_next(arch_reader_t *r, const char **name, int64_t *size, char *err, size_t errlen)
{
    for (;;) {
        struct archive_entry *e;
        int rc = archive_read_next_header(r->a, &e);
        if (rc == ARCHIVE_EOF)
            return 1;
        if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
            snprintf(err, errlen, "damaged archive: %s",
                     archive_error_string(r->a) ? archive_error_string(r->a) : "read error");
            return -1;
        }
        if (archive_entry_filetype(e) != AE_IFREG)
            continue;
        const char *n = entry_name(e);
        if (n == NULL || !arch_name_ok(n, strlen(n)))
            continue; /* never listed, never matched */
        snprintf(r->name, sizeof(r->name), "%s", n);
        *name = r->name;
        *size = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
        return 0;
    }
}

ssize_t arch_read(arch_reader_t *r, void *buf, size_t n)
{
    la_ssize_t got = archive_read_data(r->a, buf, n);
    return got < 0 ? -1 : got;
}

void arch_close(arch_reader_t *r)
{
    if (r == NULL)
        return;
    archive_read_free(r->a);
    free(r);
}

int arch_find(int fd, const char *name, arch_reader_t **out, int64_t *size, char *err,
              size_t errlen)
{
    arch_reader_t *r = arch_open(fd, err, errlen);
    if (r == NULL)
        return 400;
    for (;;) {
        const char *n;
        int rc = arch_next(r, &n, size, err, errlen);
        if (rc == 0 && strcmp(n, name) == 0) {
            *out = r;
            return 0;
        }
        if (rc != 0) {
            arch_close(r);
            if (rc > 0)
                snprintf(err, errlen, "file \"%s\" not found in the archive", name);
            return rc > 0 ? 404 : 500;
        }
    }
}

/* ---------------------------------------------------------------- writing */

struct arch_writer_s {
    struct archive *a;
    struct archive_entry *e;
    arch_sink_cb sink;
    void *arg;
    char *buf; /* ARCH_BLOCK: what the copies read into (made at the first) */
    bool failed;
    char err[256];
};

static la_ssize_t on_write(struct archive *a, void *arg, const void *p, size_t n)
{
    arch_writer_t *w = arg;
    if (w->sink(w->arg, p, n) < 0) {
        archive_set_error(a, EIO, "the receiver went away");
        return -1;
    }
    return (la_ssize_t)n;
}

arch_writer_t *arch_writer_new(arch_fmt_t f, bool unblocked, arch_sink_cb sink, void *arg,
                               char *err, size_t errlen)
{
    arch_writer_t *w = xcalloc(1, sizeof(*w));
    w->sink = sink;
    w->arg = arg;
    w->a = archive_write_new();
    w->e = archive_entry_new();
    if (w->a == NULL || w->e == NULL)
        locus_panic("libarchive: out of memory");
    int rc = f == ARCH_ZIP ? archive_write_set_format_zip(w->a)
                           : archive_write_set_format_pax_restricted(w->a);
    if (rc == ARCHIVE_OK && f == ARCH_ZIP) /* members are usually compressed already */
        rc = archive_write_set_format_option(w->a, "zip", "compression", "store");
    if (rc == ARCHIVE_OK && f == ARCH_TGZ)
        rc = archive_write_add_filter_gzip(w->a);
    if (rc == ARCHIVE_OK && f == ARCH_TAR_LZ4)
        rc = archive_write_add_filter_lz4(w->a);
    if (rc == ARCHIVE_OK) /* fewer, bigger writes to the sink (a pipe to the client) */
        rc = archive_write_set_bytes_per_block(w->a, unblocked ? 0 : ARCH_WBLOCK);
    if (rc == ARCHIVE_OK)
        rc = archive_write_set_bytes_in_last_block(w->a, 1);
    if (rc == ARCHIVE_OK)
        rc = archive_write_open2(w->a, w, NULL, on_write, NULL, NULL);
    if (rc != ARCHIVE_OK) {
        snprintf(err, errlen, "cannot start a %s archive: %s", arch_fmt_ext(f),
                 archive_error_string(w->a) ? archive_error_string(w->a) : "?");
        archive_entry_free(w->e);
        archive_write_free(w->a);
        free(w);
        return NULL;
    }
    return w;
}

static int writer_fail(arch_writer_t *w)
{
    if (!w->failed)
        snprintf(w->err, sizeof(w->err), "%s",
                 archive_error_string(w->a) ? archive_error_string(w->a) : "write failed");
    w->failed = true;
    return -1;
}

int arch_writer_begin(arch_writer_t *w, const char *name, int64_t size, int64_t mtime)
{
    if (w->failed)
        return -1;
    archive_entry_clear(w->e);
    archive_entry_set_pathname_utf8(w->e, name);
    archive_entry_set_filetype(w->e, AE_IFREG);
    archive_entry_set_perm(w->e, 0644);
    archive_entry_set_size(w->e, size);
    archive_entry_set_mtime(w->e, (time_t)mtime, 0);
    int rc = archive_write_header(w->a, w->e);
    return rc == ARCHIVE_OK || rc == ARCHIVE_WARN ? 0 : writer_fail(w);
}

int arch_writer_data(arch_writer_t *w, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0 && !w->failed) {
        la_ssize_t k = archive_write_data(w->a, c, n);
        if (k <= 0)
            return writer_fail(w);
        c += k;
        n -= (size_t)k;
    }
    return w->failed ? -1 : 0;
}

static char *copy_buf(arch_writer_t *w)
{
    if (w->buf == NULL)
        w->buf = xmalloc(ARCH_BLOCK);
    return w->buf;
}

int arch_writer_copy(arch_writer_t *w, arch_reader_t *r, int64_t size)
{
    char *buf = copy_buf(w);
    int rc = 0;
    while (rc == 0 && size > 0) {
        ssize_t n = arch_read(r, buf, size < ARCH_BLOCK ? (size_t)size : ARCH_BLOCK);
        if (n <= 0) {
            snprintf(w->err, sizeof(w->err), "archived file is shorter than its size");
            w->failed = true;
            rc = -1;
            break;
        }
        rc = arch_writer_data(w, buf, (size_t)n);
        size -= n;
    }
    return rc;
}

int arch_writer_copy_fd(arch_writer_t *w, int fd, int64_t off, int64_t size)
{
    char *buf = copy_buf(w);
    int rc = 0;
    while (rc == 0 && size > 0) {
        ssize_t n = pread(fd, buf, size < ARCH_BLOCK ? (size_t)size : ARCH_BLOCK, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(w->err, sizeof(w->err), "object is shorter than its size");
            w->failed = true;
            rc = -1;
            break;
        }
        rc = arch_writer_data(w, buf, (size_t)n);
        off += n;
        size -= n;
    }
    return rc;
}

int arch_writer_finish(arch_writer_t *w, bool ok)
{
    int rc = w->failed ? -1 : 0;
    if (ok && !w->failed && archive_write_close(w->a) != ARCHIVE_OK)
        rc = writer_fail(w);
    archive_entry_free(w->e);
    archive_write_free(w->a); /* closes when not closed yet: the trailer, unless failed */
    free(w->buf);
    free(w);
    return rc;
}

const char *arch_writer_error(arch_writer_t *w)
{
    return w->err;
}
