/*
 * util.h - allocation, assertions, growable buffers, time and filesystem helpers
 * shared by every component. Depends on nothing else of ours but log.h.
 */
#ifndef LOCUS_COMMON_UTIL_H
#define LOCUS_COMMON_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define LOCUS_ERR_LEN 1024
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Small bounded allocations: running out of memory is fatal (file:line reported). */
#define xmalloc(n) locus__xmalloc((n), __FILE__, __LINE__)
#define xcalloc(n, m) locus__xcalloc((n), (m), __FILE__, __LINE__)
#define xrealloc(p, n) locus__xrealloc((p), (n), __FILE__, __LINE__)
#define xstrdup(s) locus__xstrdup((s), __FILE__, __LINE__)
void *locus__xmalloc(size_t n, const char *file, int line);
void *locus__xcalloc(size_t n, size_t m, const char *file, int line);
void *locus__xrealloc(void *p, size_t n, const char *file, int line);
char *locus__xstrdup(const char *s, const char *file, int line);
/* Caller frees. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xstrndup(const char *s, size_t n);

#define locus_panic(...) locus__panic(__FILE__, __LINE__, __VA_ARGS__)
#define locus_assert(c)                                                                            \
    do {                                                                                           \
        if (!(c))                                                                                  \
            locus__panic(__FILE__, __LINE__, "assertion failed: %s", #c);                          \
    } while (0)
void locus__panic(const char *file, int line, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));

/* A growable byte buffer, always NUL-terminated (len excludes the NUL). */
typedef struct {
    char *base;
    size_t len;
    size_t cap;
} buf_t;

void buf_init(buf_t *b);
void buf_dispose(buf_t *b);
void buf_reserve(buf_t *b, size_t extra);
void buf_append(buf_t *b, const void *p, size_t n);
void buf_puts(buf_t *b, const char *s);
void buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the bytes to the caller (caller frees) and resets b. */
char *buf_steal(buf_t *b);

/* Wall-clock and monotonic time in nanoseconds. */
int64_t time_now_ns(void);
int64_t time_mono_ns(void);
/* The CLOCK_REALTIME instant ms milliseconds from now: the deadline of pthread_cond_timedwait. */
struct timespec time_deadline_ms(int64_t ms);
/* Formats unix-ns as RFC 3339 with nanoseconds ("0001-01-01T00:00:00Z" for 0). */
void time_format_rfc3339(int64_t ns, char *out, size_t outlen);
/* Parses "10s", "5m", "1m30s", "250ms", "2h" or a bare number of seconds. -1 on error. */
int64_t duration_parse_ns(const char *s);
void sleep_ms(int ms);

/* Random lowercase-alphanumeric id of n chars into out (n+1 bytes). */
void random_id(char *out, size_t n);
uint64_t random_u64(void);

/* mkdir -p; 0 or -errno. */
int mkdir_p(const char *path, mode_t mode);
/* rm -rf; 0 or -errno (missing is fine). */
int remove_tree(const char *path);
/* Writes data atomically: temp file in the same dir, fsync, rename, fsync dir. 0 or -errno. */
int write_file_atomic(const char *path, const void *data, size_t len);
/* Reads a whole (small) file; caller frees *out. 0 or -errno. */
int read_file(const char *path, char **out, size_t *len);
/* write(2)/read(2) loops that retry EINTR and short transfers. 0 or -errno. */
int write_all(int fd, const void *p, size_t n);
ssize_t read_full(int fd, void *p, size_t n);

/* Length of the well-formed UTF-8 sequence at s[0..n) (1..4), or 0 when s starts with a byte
 * that is not one (overlong forms, surrogates and code points past U+10FFFF are not). */
size_t utf8_seq_len(const unsigned char *s, size_t n);
/* Whether s[0..n) is well-formed UTF-8. */
bool utf8_valid(const char *s, size_t n);
/* Replaces, in place, every byte that is not part of well-formed UTF-8 with '?', so that any
 * byte sequence (a name cut mid-character, an ETL server's output) can go into JSON. */
void utf8_scrub(char *s);
/* A copy of s with every byte that does not start a valid UTF-8 sequence replaced by U+FFFD, as
 * Go's encoding/json writes such strings (jansson refuses them). Caller frees. */
char *utf8_sanitize(const char *s);
/* Percent-decodes src[0..n) into a new string (caller frees); NULL if malformed. */
char *url_decode(const char *src, size_t n, size_t *outlen);
/* Percent-encodes s like Python's urllib.parse.quote(s, safe=keep) ("/" kept when keep has it). */
char *url_encode(const char *s, const char *keep);

/* Standard base64 (with padding) of n bytes; caller frees. */
char *base64_encode(const void *p, size_t n);
/* Standard base64 (also the URL alphabet; padding optional, whitespace ignored) into a new
 * NUL-terminated buffer; NULL if malformed. Caller frees. */
char *base64_decode(const char *s, size_t *outlen);

/* Who listens on TCP port `port` (any local address, IPv4 or IPv6), from /proc:
 * 1 if a process of process group `pgid` holds the listening socket, 0 if only others do (or
 * their owner is not visible), -1 if nobody listens. Used to tell our own child's server from
 * another one that took the port first. */
int tcp_port_listener(int port, pid_t pgid);
/* Sends sig to the process group pgid (a child made leader of its own group). Refuses
 * pgid <= 1 with EINVAL: kill(-0) would hit the caller's own group and kill(-1) every process
 * it may signal, never what a caller that lost track of its child means. 0 or -1 (errno). */
int kill_pgrp(pid_t pgid, int sig);
/* The CPUs this process may run on (its affinity mask: a cpuset or taskset counts, not the
 * machine's total); at least 1. */
int cpus_usable(void);

/* "1048576", "4k", "512M", "16GiB", "2 TB" -> bytes (binary units, case-insensitive, optional
 * "B"/"iB"); -1 if malformed or too large. */
int64_t size_parse(const char *s);
/* The exact inverse for round sizes: 65536 -> "64KiB", 1000 -> "1000B". */
void size_format(uint64_t n, char *out, size_t len);

bool str_has_prefix(const char *s, const char *prefix);
bool str_has_suffix(const char *s, const char *suffix);

#endif
