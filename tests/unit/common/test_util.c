/*
 * test_util.c - unit tests for src/common/util.c: durations, percent-encoding, buf_t,
 * RFC 3339 time, atomic file writes, who listens on a TCP port.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "common/util.h"

#define NS 1LL
#define US (1000 * NS)
#define MS (1000 * US)
#define SEC (1000 * MS)
#define MIN (60 * SEC)
#define HOUR (60 * MIN)

static void test_duration_parse(void **state)
{
    (void)state;
    assert_int_equal(duration_parse_ns("10s"), 10 * SEC);
    assert_int_equal(duration_parse_ns("5m"), 5 * MIN);
    assert_int_equal(duration_parse_ns("1m30s"), 90 * SEC);
    assert_int_equal(duration_parse_ns("250ms"), 250 * MS);
    assert_int_equal(duration_parse_ns("2h"), 2 * HOUR);
    assert_int_equal(duration_parse_ns("1h2m3s"), HOUR + 2 * MIN + 3 * SEC);
    assert_int_equal(duration_parse_ns("45"), 45 * SEC);
    assert_int_equal(duration_parse_ns("0"), 0);
    assert_int_equal(duration_parse_ns("0s"), 0);
    assert_int_equal(duration_parse_ns("1.5s"), 1500 * MS);
    assert_int_equal(duration_parse_ns("7us"), 7 * US);
    assert_int_equal(duration_parse_ns("9ns"), 9);
    assert_int_equal(duration_parse_ns("5m0s"), 5 * MIN); /* Go's cos.Duration marshaling */

    static const char *const bad[] = {"", "s", "abc", "5x", "-1s", "1m30", "10 s", "1d", "m5"};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        if (duration_parse_ns(bad[i]) != -1)
            fail_msg("duration \"%s\" parsed", bad[i]);
    }
    assert_int_equal(duration_parse_ns(NULL), -1);
}

static void check_encode(const char *in, const char *keep, const char *want)
{
    char *s = url_encode(in, keep);
    assert_string_equal(s, want);
    /* and back */
    size_t n = 0;
    char *d = url_decode(s, strlen(s), &n);
    assert_non_null(d);
    assert_int_equal(n, strlen(in));
    assert_string_equal(d, in);
    free(d);
    free(s);
}

static void test_url_encode(void **state)
{
    (void)state;
    /* Expected values are Python's urllib.parse.quote(s) (safe="/"), which the SDK uses. */
    check_encode("%", "/", "%25");
    check_encode("%25", "/", "%2525");
    check_encode("%3D", "/", "%253D");
    check_encode("a\\(b", "/", "a%5C%28b");
    check_encode("audio/raw/file.wav", "/", "audio/raw/file.wav");
    check_encode("file_#@!$%^&*()_+.mp3", "/", "file_%23%40%21%24%25%5E%26%2A%28%29_%2B.mp3");
    check_encode("track?name=lofi&v=1", "/", "track%3Fname%3Dlofi%26v%3D1");
    check_encode("my audio file .m4a", "/", "my%20audio%20file%20.m4a");
    check_encode("\xe4\xbd\xa0\xe5\xa5\xbd\xe4\xb8\x96\xe7\x95\x8c", "/",
                 "%E4%BD%A0%E5%A5%BD%E4%B8%96%E7%95%8C");
    check_encode("-x.ogg", "/", "-x.ogg");
    check_encode(".audio_hidden.wav", "/", ".audio_hidden.wav");
    check_encode("track=id=1234.mp3", "/", "track%3Did%3D1234.mp3");
    check_encode("~a b", "/", "~a%20b");
    /* "" must come back as a terminated empty string (compare the byte, in bounds). */
    char *e = url_encode("", "/");
    assert_int_equal(e[0], '\0');
    free(e);
    /* Without "/" in keep, slashes are escaped too; NULL keep = nothing extra. */
    check_encode("a/b", "", "a%2Fb");
    check_encode("a/b", NULL, "a%2Fb");
    check_encode("a=b&c", "=&", "a=b&c");
}

static void test_url_decode(void **state)
{
    (void)state;
    size_t n = 99;
    char *d = url_decode("a%2fb%2Fc+d", 11, &n);
    assert_string_equal(d, "a/b/c+d"); /* paths: '+' stays '+' */
    assert_int_equal(n, 7);
    free(d);

    /* Only the first n bytes are read. */
    d = url_decode("abc%41", 3, &n);
    assert_string_equal(d, "abc");
    free(d);
    d = url_decode("%41%42", 6, NULL);
    assert_string_equal(d, "AB");
    free(d);

    /* %00 decodes to a NUL byte; the length says so and name checks must reject it. */
    d = url_decode("a%00b", 5, &n);
    assert_non_null(d);
    assert_int_equal(n, 3);
    assert_memory_equal(d, "a\0b", 3);
    free(d);

    d = url_decode("", 0, &n);
    assert_string_equal(d, "");
    assert_int_equal(n, 0);
    free(d);

    static const char *const bad[] = {"%",   "%4",  "a%",     "a%4", "%zz",
                                      "%4g", "%g4", "ok%%41", "% 41"};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        if ((d = url_decode(bad[i], strlen(bad[i]), &n)) != NULL)
            fail_msg("url_decode(\"%s\") = \"%s\"", bad[i], d);
    }
    /* Truncating a valid escape with n makes it malformed. */
    assert_null(url_decode("%41", 2, &n));
}

static void test_buf(void **state)
{
    (void)state;
    buf_t b;
    buf_init(&b);
    assert_null(b.base);
    assert_int_equal(b.len, 0);

    buf_append(&b, "ab", 2);
    buf_puts(&b, "cd");
    buf_printf(&b, "-%d-%s", 42, "x");
    assert_int_equal(b.len, 9);
    assert_string_equal(b.base, "abcd-42-x");
    buf_append(&b, "", 0);
    assert_int_equal(b.len, 9);

    /* Binary data with NULs, and growth well past the first allocation. */
    buf_append(&b, "\0z", 2);
    assert_int_equal(b.len, 11);
    assert_memory_equal(b.base + 9, "\0z", 2);
    assert_int_equal(b.base[b.len], '\0');
    for (int i = 0; i < 1000; i++)
        buf_printf(&b, "%04d", i);
    assert_int_equal(b.len, 11 + 4000);
    assert_true(b.cap > b.len);
    assert_memory_equal(b.base + 11 + 4 * 999, "0999", 4);
    assert_int_equal(b.base[b.len], '\0');

    buf_reserve(&b, 100000);
    assert_true(b.cap >= b.len + 100000 + 1);

    size_t len = b.len;
    char *s = buf_steal(&b);
    assert_null(b.base);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    assert_memory_equal(s, "abcd-42-x", 9);
    assert_int_equal(s[len], '\0');
    free(s);

    /* Stealing an empty buffer gives "", also after a reserve without an append. */
    s = buf_steal(&b);
    assert_string_equal(s, "");
    free(s);
    buf_reserve(&b, 10);
    assert_int_equal(b.len, 0);
    s = buf_steal(&b);
    assert_int_equal(s[0], '\0');
    free(s);

    buf_puts(&b, "again");
    buf_dispose(&b);
    assert_null(b.base);
    assert_int_equal(b.len, 0);
    buf_dispose(&b); /* idempotent */
}

static void test_time_format(void **state)
{
    (void)state;
    char out[64];
    time_format_rfc3339(0, out, sizeof(out));
    assert_string_equal(out, "0001-01-01T00:00:00Z");
    time_format_rfc3339(1000000000LL, out, sizeof(out));
    assert_string_equal(out, "1970-01-01T00:00:01.000000000Z");
    time_format_rfc3339(1700000000123456789LL, out, sizeof(out));
    assert_string_equal(out, "2023-11-14T22:13:20.123456789Z");
    time_format_rfc3339(951782400000000001LL, out, sizeof(out)); /* leap day 2000 */
    assert_string_equal(out, "2000-02-29T00:00:00.000000001Z");

    /* Truncates safely. */
    char small[8];
    time_format_rfc3339(1700000000123456789LL, small, sizeof(small));
    assert_string_equal(small, "2023-11");

    /* time_now_ns is wall-clock (after 2020) and mono is monotonic. */
    assert_true(time_now_ns() > 1577836800LL * 1000000000LL);
    int64_t a = time_mono_ns(), b = time_mono_ns();
    assert_true(b >= a);
}

static void test_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/locus-test-util-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *path = xasprintf("%s/sub/file.json", dir);
    char *sub = xasprintf("%s/sub", dir);

    /* Missing directory. */
    assert_int_equal(write_file_atomic(path, "x", 1), -ENOENT);
    char *data = NULL;
    size_t len = 7;
    assert_int_equal(read_file(path, &data, &len), -ENOENT);

    assert_int_equal(mkdir_p(sub, 0755), 0);
    assert_int_equal(mkdir_p(sub, 0755), 0); /* exists: fine */
    assert_int_equal(write_file_atomic(path, "hello\0world", 11), 0);
    assert_int_equal(read_file(path, &data, &len), 0);
    assert_int_equal(len, 11);
    assert_memory_equal(data, "hello\0world", 11);
    assert_int_equal(data[11], '\0');
    free(data);

    /* Overwrite with something shorter, then something big. */
    assert_int_equal(write_file_atomic(path, "v2", 2), 0);
    assert_int_equal(read_file(path, &data, &len), 0);
    assert_int_equal(len, 2);
    assert_string_equal(data, "v2");
    free(data);
    size_t big = 300 * 1024;
    char *blob = xmalloc(big);
    for (size_t i = 0; i < big; i++)
        blob[i] = (char)(i * 7);
    assert_int_equal(write_file_atomic(path, blob, big), 0);
    assert_int_equal(read_file(path, &data, &len), 0);
    assert_int_equal(len, big);
    assert_memory_equal(data, blob, big);
    free(data);
    free(blob);

    /* Empty file; NULL len is allowed. */
    assert_int_equal(write_file_atomic(path, "", 0), 0);
    assert_int_equal(read_file(path, &data, NULL), 0);
    assert_string_equal(data, "");
    free(data);

    /* No temp files are left behind: the directory holds just the file. */
    char *ls = xasprintf("%s/file.json", sub);
    struct stat st;
    assert_int_equal(stat(ls, &st), 0);
    assert_int_equal(st.st_size, 0);
    free(ls);
    assert_int_equal(remove_tree(sub), 0);
    assert_int_equal(rmdir(dir), 0);
    assert_int_equal(remove_tree(dir), 0); /* missing is fine */

    free(sub);
    free(path);
}

static void test_sizes(void **state)
{
    (void)state;
    assert_int_equal(size_parse("1048576"), 1048576);
    assert_int_equal(size_parse("16GiB"), 16LL << 30);
    assert_int_equal(size_parse("512M"), 512LL << 20);
    assert_int_equal(size_parse("2k"), 2048);
    assert_int_equal(size_parse("4KB"), 4096);
    assert_int_equal(size_parse("0"), 0);
    assert_int_equal(size_parse("-1"), -1);
    assert_int_equal(size_parse("12x"), -1);
    assert_int_equal(size_parse("4KiBs"), -1);
    assert_int_equal(size_parse("7B"), 7);
    assert_int_equal(size_parse("7BB"), -1);
    assert_int_equal(size_parse(""), -1);
    assert_int_equal(size_parse(NULL), -1);
    assert_int_equal(size_parse("99999999999999999999"), -1);
    assert_int_equal(size_parse("99999999999T"), -1);
    char s[32];
    size_format(64 << 20, s, sizeof(s));
    assert_string_equal(s, "64MiB");
    size_format(4096, s, sizeof(s));
    assert_string_equal(s, "4KiB");
    size_format(3ULL << 30, s, sizeof(s));
    assert_string_equal(s, "3GiB");
    size_format(1000, s, sizeof(s));
    assert_string_equal(s, "1000B");
    size_format(0, s, sizeof(s));
    assert_string_equal(s, "0B");
    for (uint64_t n = 1; n < (1ULL << 42); n = n * 3 + 1) {
        size_format(n, s, sizeof(s));
        assert_int_equal(size_parse(s), (int64_t)n);
    }
}

static void test_strings(void **state)
{
    (void)state;
    assert_true(str_has_prefix("ais://b", "ais://"));
    assert_true(str_has_prefix("x", ""));
    assert_false(str_has_prefix("ai", "ais"));
    assert_true(str_has_suffix("file.wav", ".wav"));
    assert_false(str_has_suffix("wav", ".wav"));
    char *s = xstrndup("abcdef", 3);
    assert_string_equal(s, "abc");
    free(s);
    s = xasprintf("%s-%05d", "id", 42);
    assert_string_equal(s, "id-00042");
    free(s);
    char id[17];
    random_id(id, 16);
    assert_int_equal(strlen(id), 16);
    for (int i = 0; i < 16; i++)
        assert_non_null(strchr("abcdefghijklmnopqrstuvwxyz0123456789", id[i]));
}

/* A listening socket on a free loopback port (IPv4 or IPv6); *port gets the port. */
static int listen_any(int family, int *port)
{
    int fd = socket(family, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_storage ss = {0};
    socklen_t len;
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        sin->sin_family = AF_INET;
        sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof(*sin);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_addr = in6addr_loopback;
        len = sizeof(*sin6);
    }
    if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
        close(fd);
        return -1; /* no IPv6 on this host */
    }
    assert_int_equal(listen(fd, 1), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
    *port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                    : ((struct sockaddr_in6 *)&ss)->sin6_port);
    return fd;
}

/* kill_pgrp signals a child's own group, and refuses 0 and 1: a caller holding a cleared pid
 * must not signal its own process group (kill(-0)) or everything (kill(-1)). */
static void test_utf8(void **state)
{
    (void)state;
    assert_true(utf8_valid("", 0));
    assert_true(utf8_valid("plain", 5));
    assert_true(utf8_valid("\xe2\x82\xac\xf0\x9f\x98\x80\xc3\xa9", 9));
    assert_false(utf8_valid("\xff", 1));
    assert_false(utf8_valid("\xe2\x82", 2));         /* cut */
    assert_false(utf8_valid("\xc1\xbf", 2));         /* overlong */
    assert_false(utf8_valid("\xe0\x80\xaf", 3));     /* overlong */
    assert_false(utf8_valid("\xed\xbf\xbf", 3));     /* surrogate */
    assert_false(utf8_valid("\xf4\x90\x80\x80", 4)); /* past U+10FFFF */
    assert_false(utf8_valid("\xf5\x80\x80\x80", 4));
    assert_true(utf8_valid("a\0b", 3)); /* NUL is UTF-8; names refuse it separately */

    /* Scrub: same length, valid sequences kept, the rest '?'. A message cut mid-'€'. */
    char s[] = "ok \xe2\x82\xac \xff\xfe \xe2\x82";
    utf8_scrub(s);
    assert_string_equal(s, "ok \xe2\x82\xac ?? ??");
    char t[] = "\xf0\x9f\x98";
    utf8_scrub(t);
    assert_string_equal(t, "???");
}

/* U+FFFD for every byte that does not start a valid UTF-8 sequence (Go's encoding/json). */
static void test_utf8_sanitize(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"", ""},
        {"plain ascii", "plain ascii"},
        {"k\xC3\xB6nig \xE2\x82\xAC \xF0\x9F\x98\x80",
         "k\xC3\xB6nig \xE2\x82\xAC \xF0\x9F\x98\x80"},
        {"\xFF", "\xEF\xBF\xBD"},
        {"a\xE2\x82", "a\xEF\xBF\xBD\xEF\xBF\xBD"},               /* cut inside a character */
        {"\xC0\xAF", "\xEF\xBF\xBD\xEF\xBF\xBD"},                 /* overlong '/' */
        {"\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"}, /* a surrogate */
        {"\xF4\x90\x80\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"}, /* > U+10FFFF */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *s = utf8_sanitize(cases[i].in);
        assert_string_equal(s, cases[i].out);
        assert_true(utf8_valid(s, strlen(s)));
        assert_true(utf8_valid(cases[i].in, strlen(cases[i].in)) ==
                    (strcmp(cases[i].in, cases[i].out) == 0));
        free(s);
    }
}

static void test_kill_pgrp(void **state)
{
    (void)state;
    errno = 0;
    assert_int_equal(kill_pgrp(0, SIGKILL), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(kill_pgrp(1, SIGKILL), -1);
    assert_int_equal(kill_pgrp(-5, SIGKILL), -1);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setpgid(0, 0);
        pause();
        _exit(0);
    }
    setpgid(pid, pid);
    assert_int_equal(kill_pgrp(pid, SIGKILL), 0);
    int wst = 0;
    assert_int_equal(waitpid(pid, &wst, 0), pid);
    assert_true(WIFSIGNALED(wst) && WTERMSIG(wst) == SIGKILL);
}

static void test_tcp_port_listener(void **state)
{
    (void)state;
    int families[] = {AF_INET, AF_INET6};
    for (size_t i = 0; i < ARRAY_SIZE(families); i++) {
        int port;
        int fd = listen_any(families[i], &port);
        if (fd < 0)
            continue;
        assert_int_equal(tcp_port_listener(port, getpgrp()), 1);
        /* a process group that does not exist: someone else listens */
        assert_int_equal(tcp_port_listener(port, 0x7ffffff0), 0);
        close(fd);
        assert_int_equal(tcp_port_listener(port, getpgrp()), -1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duration_parse), cmocka_unit_test(test_url_encode),
        cmocka_unit_test(test_url_decode),     cmocka_unit_test(test_buf),
        cmocka_unit_test(test_time_format),    cmocka_unit_test(test_files),
        cmocka_unit_test(test_strings),        cmocka_unit_test(test_tcp_port_listener),
        cmocka_unit_test(test_kill_pgrp),      cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_sizes),          cmocka_unit_test(test_utf8_sanitize),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
