/*
 * util.c - see util.h.
 */
#include "common/util.h"
#include "common/log.h"

#include <ctype.h>
#include <sched.h>
#include <signal.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void locus__panic(const char *file, int line, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_write(LOG_WARNING, "PANIC at %s:%d: %s", file, line, msg);
    fprintf(stderr, "PANIC at %s:%d: %s\n", file, line, msg);
    abort();
}

void *locus__xmalloc(size_t n, const char *file, int line)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        locus__panic(file, line, "out of memory allocating %zu bytes", n);
    return p;
}

void *locus__xcalloc(size_t n, size_t m, const char *file, int line)
{
    void *p = calloc(n ? n : 1, m ? m : 1);
    if (p == NULL)
        locus__panic(file, line, "out of memory allocating %zu x %zu bytes", n, m);
    return p;
}

void *locus__xrealloc(void *p, size_t n, const char *file, int line)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        locus__panic(file, line, "out of memory reallocating %zu bytes", n);
    return q;
}

char *locus__xstrdup(const char *s, const char *file, int line)
{
    size_t n = strlen(s);
    char *p = locus__xmalloc(n + 1, file, line);
    memcpy(p, s, n + 1);
    return p;
}

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = NULL;
    int n = vasprintf(&p, fmt, ap);
    va_end(ap);
    if (n < 0)
        locus_panic("out of memory in xasprintf");
    return p;
}

void buf_init(buf_t *b)
{
    b->base = NULL;
    b->len = 0;
    b->cap = 0;
}

void buf_dispose(buf_t *b)
{
    free(b->base);
    buf_init(b);
}

void buf_reserve(buf_t *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    b->base = xrealloc(b->base, cap);
    b->cap = cap;
    b->base[b->len] = '\0';
}

void buf_append(buf_t *b, const void *p, size_t n)
{
    buf_reserve(b, n);
    if (n)
        memcpy(b->base + b->len, p, n);
    b->len += n;
    b->base[b->len] = '\0';
}

void buf_puts(buf_t *b, const char *s)
{
    buf_append(b, s, strlen(s));
}

void buf_printf(buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->base + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

char *buf_steal(buf_t *b)
{
    if (b->base == NULL)
        buf_reserve(b, 0), b->base[0] = '\0';
    char *p = b->base;
    buf_init(b);
    return p;
}

int64_t time_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t time_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

struct timespec time_deadline_ms(int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    ts.tv_sec += ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    return ts;
}

void time_format_rfc3339(int64_t ns, char *out, size_t outlen)
{
    if (ns <= 0) {
        snprintf(out, outlen, "0001-01-01T00:00:00Z");
        return;
    }
    time_t sec = (time_t)(ns / 1000000000LL);
    struct tm tm;
    gmtime_r(&sec, &tm);
    snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long long)(ns % 1000000000LL));
}

int64_t duration_parse_ns(const char *s)
{
    if (s == NULL || *s == '\0')
        return -1;
    int64_t total = 0;
    const char *p = s;
    bool any = false;
    while (*p) {
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (end == p || errno != 0 || !(v >= 0 && v < 1e12) || !isdigit((unsigned char)*p))
            return -1;
        p = end;
        double mult;
        if (*p == '\0') {
            if (any)
                return -1;
            mult = 1e9; /* bare number: seconds */
        } else if (strncmp(p, "ns", 2) == 0) {
            mult = 1, p += 2;
        } else if (strncmp(p, "us", 2) == 0) {
            mult = 1e3, p += 2;
        } else if (strncmp(p, "ms", 2) == 0) {
            mult = 1e6, p += 2;
        } else if (*p == 's') {
            mult = 1e9, p++;
        } else if (*p == 'm') {
            mult = 60e9, p++;
        } else if (*p == 'h') {
            mult = 3600e9, p++;
        } else {
            return -1;
        }
        if (v * mult >= 9223372036854775807.0 - (double)total)
            return -1; /* past int64: the cast would be undefined */
        total += (int64_t)(v * mult);
        any = true;
    }
    return total;
}

void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

uint64_t random_u64(void)
{
    uint64_t v;
    if (getrandom(&v, sizeof(v), 0) != sizeof(v))
        v = (uint64_t)time_mono_ns() ^ ((uint64_t)getpid() << 32);
    return v;
}

void random_id(char *out, size_t n)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char rnd[64];
    for (size_t done = 0; done < n;) {
        size_t k = n - done < sizeof(rnd) ? n - done : sizeof(rnd);
        if (getrandom(rnd, k, 0) != (ssize_t)k) /* one syscall per id, not per character */
            for (size_t i = 0; i < k; i++)
                rnd[i] = (unsigned char)random_u64();
        for (size_t i = 0; i < k; i++)
            out[done + i] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
        done += k;
    }
    out[n] = '\0';
}

int mkdir_p(const char *path, mode_t mode)
{
    /* Deepest first: a new leaf under an existing parent costs one mkdir, not one per
     * component of the path (the PUT path creates object directories this way). */
    if (mkdir(path, mode) == 0 || errno == EEXIST)
        return 0;
    if (errno != ENOENT)
        return -errno;
    char *p = xstrdup(path);
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/')
        p[--n] = '\0';
    char *slash = strrchr(p, '/');
    int rc = -ENOENT;
    if (slash != NULL && slash != p) {
        *slash = '\0';
        rc = mkdir_p(p, mode);
        if (rc == 0 && mkdir(path, mode) < 0 && errno != EEXIST)
            rc = -errno;
    }
    free(p);
    return rc;
}

int remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISDIR(st.st_mode))
        return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
    DIR *d = opendir(path);
    if (d == NULL)
        return -errno;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char *child = xasprintf("%s/%s", path, de->d_name);
        int r = remove_tree(child);
        if (r < 0 && rc == 0)
            rc = r;
        free(child);
    }
    closedir(d);
    if (rmdir(path) < 0 && errno != ENOENT && rc == 0)
        rc = -errno;
    return rc;
}

int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

ssize_t read_full(int fd, void *p, size_t n)
{
    char *c = p;
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, c + got, n - got);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

static int fsync_dir_of(const char *path)
{
    char *copy = xstrdup(path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd < 0)
        return -errno;
    fsync(fd);
    close(fd);
    return 0;
}

int write_file_atomic(const char *path, const void *data, size_t len)
{
    char *tmp = xasprintf("%s.tmp.%d.%llx", path, (int)getpid(), (unsigned long long)random_u64());
    int rc = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    rc = write_all(fd, data, len);
    if (rc == 0 && fsync(fd) < 0)
        rc = -errno;
    close(fd);
    if (rc == 0 && rename(tmp, path) < 0)
        rc = -errno;
    if (rc < 0)
        unlink(tmp);
    else
        fsync_dir_of(path);
out:
    free(tmp);
    return rc;
}

int read_file(const char *path, char **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    buf_t b;
    buf_init(&b);
    char chunk[65536];
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof(chunk));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = -errno;
            close(fd);
            buf_dispose(&b);
            return e;
        }
        if (r == 0)
            break;
        buf_append(&b, chunk, (size_t)r);
    }
    close(fd);
    if (len)
        *len = b.len;
    *out = buf_steal(&b);
    return 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *url_decode(const char *src, size_t n, size_t *outlen)
{
    char *out = xmalloc(n + 1);
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (src[i] == '%') {
            if (i + 2 >= n) {
                free(out);
                return NULL;
            }
            int hi = hexval((unsigned char)src[i + 1]), lo = hexval((unsigned char)src[i + 2]);
            if (hi < 0 || lo < 0) {
                free(out);
                return NULL;
            }
            out[j++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[j++] = src[i];
        }
    }
    out[j] = '\0';
    if (outlen)
        *outlen = j;
    return out;
}

char *url_encode(const char *s, const char *keep)
{
    static const char hex[] = "0123456789ABCDEF";
    buf_t b;
    buf_init(&b);
    buf_reserve(&b, strlen(s));
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || *p == '_' || *p == '.' || *p == '-' || *p == '~' ||
            (keep && *p && strchr(keep, *p))) {
            char c = (char)*p;
            buf_append(&b, &c, 1);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            buf_append(&b, e, 3);
        }
    }
    return buf_steal(&b);
}

bool str_has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool str_has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

char *base64_encode(const void *p, size_t n)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *in = p;
    char *out = xmalloc((n + 2) / 3 * 4 + 1);
    size_t j = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[j++] = tbl[(v >> 18) & 63];
        out[j++] = tbl[(v >> 12) & 63];
        out[j++] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
        out[j++] = i + 2 < n ? tbl[v & 63] : '=';
    }
    out[j] = '\0';
    return out;
}

char *base64_decode(const char *s, size_t *outlen)
{
    size_t n = strlen(s);
    char *out = xmalloc(n / 4 * 3 + 4);
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        int v;
        if (ch >= 'A' && ch <= 'Z')
            v = ch - 'A';
        else if (ch >= 'a' && ch <= 'z')
            v = ch - 'a' + 26;
        else if (ch >= '0' && ch <= '9')
            v = ch - '0' + 52;
        else if (ch == '+' || ch == '-')
            v = 62;
        else if (ch == '/' || ch == '_')
            v = 63;
        else if (ch == '=')
            break;
        else if (ch == '\n' || ch == '\r' || ch == ' ' || ch == '\t')
            continue;
        else {
            free(out);
            return NULL;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)((acc >> bits) & 0xFF);
        }
    }
    out[o] = '\0';
    *outlen = o;
    return out;
}

/* Inodes of the sockets listening on `port` in one /proc/net/tcp* table; appends to ino[]. */
static void listen_inodes(const char *table, int port, unsigned long *ino, size_t cap, size_t *n)
{
    FILE *f = fopen(table, "r");
    if (f == NULL)
        return;
    char line[512];
    if (fgets(line, sizeof(line), f) == NULL) { /* header */
        fclose(f);
        return;
    }
    while (*n < cap && fgets(line, sizeof(line), f) != NULL) {
        /* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
        char local[64];
        unsigned st;
        unsigned long inode;
        if (sscanf(line, "%*s %63s %*s %x %*s %*s %*s %*s %*s %lu", local, &st, &inode) != 3)
            continue;
        const char *colon = strrchr(local, ':');
        if (st == 0x0A /* TCP_LISTEN */ && colon && strtol(colon + 1, NULL, 16) == port)
            ino[(*n)++] = inode;
    }
    fclose(f);
}

/* Whether process pid has one of the socket inodes open. */
static bool holds_socket(const char *pid, const unsigned long *ino, size_t n)
{
    char path[300];
    snprintf(path, sizeof(path), "/proc/%.255s/fd", pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return false;
    bool found = false;
    struct dirent *de;
    while (!found && (de = readdir(d)) != NULL) {
        char link[64], fdp[600];
        snprintf(fdp, sizeof(fdp), "%s/%s", path, de->d_name);
        ssize_t l = readlink(fdp, link, sizeof(link) - 1);
        if (l <= 0)
            continue;
        link[l] = '\0';
        unsigned long v;
        if (sscanf(link, "socket:[%lu]", &v) == 1)
            for (size_t i = 0; i < n && !found; i++)
                found = ino[i] == v;
    }
    closedir(d);
    return found;
}

int tcp_port_listener(int port, pid_t pgid)
{
    unsigned long ino[16];
    size_t n = 0;
    listen_inodes("/proc/net/tcp", port, ino, ARRAY_SIZE(ino), &n);
    listen_inodes("/proc/net/tcp6", port, ino, ARRAY_SIZE(ino), &n);
    if (n == 0)
        return -1;
    DIR *d = opendir("/proc");
    if (d == NULL)
        return 0;
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        char path[300], *stat = NULL;
        size_t len;
        snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
        if (read_file(path, &stat, &len) != 0)
            continue;
        /* pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses */
        const char *rp = strrchr(stat, ')');
        int pgrp = -1;
        if (rp == NULL || sscanf(rp + 1, " %*c %*d %d", &pgrp) != 1)
            pgrp = -1;
        free(stat);
        if (pgrp == (int)pgid && holds_socket(de->d_name, ino, n))
            rc = 1;
    }
    closedir(d);
    return rc;
}

/* Binary units, 1 << (10 * (index + 1)) bytes each. */
static const char size_units[] = "KMGT";

int64_t size_parse(const char *s)
{
    if (s == NULL || !isdigit((unsigned char)*s))
        return -1;
    char *e;
    errno = 0;
    unsigned long long v = strtoull(s, &e, 10);
    if (errno != 0)
        return -1;
    const char *end = e;
    while (isspace((unsigned char)*end))
        end++;
    int shift = 0;
    const char *u = *end ? strchr(size_units, toupper((unsigned char)*end)) : NULL;
    if (u != NULL) {
        shift = 10 * (int)(u - size_units + 1);
        end++;
    }
    /* then nothing, "B", or (after a unit) "iB" */
    if (*end && strcasecmp(end, "B") != 0 && (shift == 0 || strcasecmp(end, "iB") != 0))
        return -1;
    if (v > (unsigned long long)INT64_MAX >> shift)
        return -1;
    return (int64_t)(v << shift);
}

void size_format(uint64_t n, char *out, size_t len)
{
    for (int i = (int)sizeof(size_units) - 2; i >= 0; i--) {
        uint64_t unit = 1ULL << (10 * (i + 1));
        if (n >= unit && n % unit == 0) {
            snprintf(out, len, "%llu%ciB", (unsigned long long)(n / unit), size_units[i]);
            return;
        }
    }
    snprintf(out, len, "%lluB", (unsigned long long)n);
}

int cpus_usable(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) != 0)
        return 1;
    int n = CPU_COUNT(&set);
    return n > 0 ? n : 1;
}

int kill_pgrp(pid_t pgid, int sig)
{
    if (pgid <= 1) {
        errno = EINVAL;
        return -1;
    }
    return kill(-pgid, sig);
}

/* ---------------------------------------------------------------- UTF-8 */

size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned lo = 0x80, hi = 0xbf; /* the range of the second byte (RFC 3629 table) */
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        lo = c == 0xe0 ? 0xa0 : 0x80; /* no overlong forms */
        hi = c == 0xed ? 0x9f : 0xbf; /* no surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        lo = c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xf4 ? 0x8f : 0xbf; /* nothing past U+10FFFF */
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

bool utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq_len(p + i, n - i);
        if (k == 0)
            return false;
        i += k;
    }
    return true;
}

void utf8_scrub(char *s)
{
    unsigned char *p = (unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq_len(p + i, n - i);
        if (k == 0) {
            p[i++] = '?';
            continue;
        }
        i += k;
    }
}

char *utf8_sanitize(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    buf_t b;
    buf_init(&b);
    buf_reserve(&b, n + 1);
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq_len(p + i, n - i);
        if (k == 0) {
            buf_append(&b, "\xEF\xBF\xBD", 3);
            i++;
        } else {
            buf_append(&b, s + i, k);
            i += k;
        }
    }
    return buf_steal(&b);
}
