/*
 * test_arch.c - unit tests for src/target/arch.c: member name safety, AIStore's match modes,
 * and a write/read round trip of every format through an unnamed file (members in order, sizes,
 * bytes; unsafe names skipped by the reader; arch_find's 404 and 400).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/util.h"
#include "target/arch.h"

static void test_names(void **state)
{
    (void)state;
    static const char *ok[] = {"a", "a/b.jpg", "a..b", "..a/b", "a/.../b", "x/./y"};
    static const char *bad[] = {"",     "/etc/passwd", "..",       "../a",
                                "a/..", "a/../b",      "a\\..\\b", "a\nb"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        assert_true(arch_name_ok(ok[i], strlen(ok[i])));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(arch_name_ok(bad[i], strlen(bad[i])));
    char big[ARCH_NAME_MAX + 2];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_false(arch_name_ok(big, strlen(big)));
}

static void test_match(void **state)
{
    (void)state;
    char err[256];
    arch_match_t *m = arch_match_new("a/1", "wdskey", err, sizeof(err));
    assert_non_null(m);
    assert_true(arch_match(m, "a/1.jpg"));
    assert_true(arch_match(m, "a/1"));
    assert_false(arch_match(m, "a/12.jpg"));
    arch_match_free(m);
    m = arch_match_new("\\.jpg$", NULL, err, sizeof(err));
    assert_true(arch_match(m, "x.jpg"));
    assert_false(arch_match(m, "x.jpgx"));
    arch_match_free(m);
    m = arch_match_new("*", "regexp", err, sizeof(err)); /* match-all, not a bad expression */
    assert_true(arch_match(m, "anything"));
    arch_match_free(m);
    m = arch_match_new("b", "substr", err, sizeof(err));
    assert_true(arch_match(m, "abc"));
    arch_match_free(m);
    m = arch_match_new(".txt", "suffix", err, sizeof(err));
    assert_true(arch_match(m, "a.txt"));
    assert_false(arch_match(m, "a.txt.gz"));
    arch_match_free(m);
    assert_null(arch_match_new("(", "regexp", err, sizeof(err)));
    assert_non_null(strstr(err, "regular expression"));
    assert_null(arch_match_new("a", "glob", err, sizeof(err)));
    assert_non_null(strstr(err, "matching mode"));
}

static int sink_fd(void *arg, const void *p, size_t n)
{
    return write_all(*(int *)arg, p, n);
}

static void round_trip(arch_fmt_t f, bool unblocked)
{
    int fd = memfd_create("arch", 0);
    assert_true(fd >= 0);
    char err[256];
    arch_writer_t *w = arch_writer_new(f, unblocked, sink_fd, &fd, err, sizeof(err));
    assert_non_null(w);
    static const char *names[] = {"b/2.txt", "../evil", "a/1.bin", "/abs"};
    char data[3000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (char)(i * 7);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(arch_writer_begin(w, names[i], (int64_t)(100 * (i + 1)), 1700000000), 0);
        assert_int_equal(arch_writer_data(w, data, 100 * (i + 1)), 0);
    }
    assert_int_equal(arch_writer_finish(w, true), 0);

    arch_reader_t *r = arch_open(fd, err, sizeof(err));
    assert_non_null(r);
    const char *name;
    int64_t size;
    char buf[1000];
    static const char *want[] = {"b/2.txt", "a/1.bin"};
    static const int64_t wsize[] = {100, 300};
    for (size_t k = 0; k < 2; k++) {
        assert_int_equal(arch_next(r, &name, &size, err, sizeof(err)), 0);
        assert_string_equal(name, want[k]);
        assert_int_equal(size, wsize[k]);
        assert_int_equal(arch_read(r, buf, sizeof(buf)), wsize[k]);
        assert_memory_equal(buf, data, (size_t)wsize[k]);
    }
    assert_int_equal(arch_next(r, &name, &size, err, sizeof(err)), 1);
    arch_close(r);
    assert_int_equal(arch_find(fd, "a/1.bin", &r, &size, err, sizeof(err)), 0);
    assert_int_equal(size, 300);
    arch_close(r);
    assert_int_equal(arch_find(fd, "nope", &r, &size, err, sizeof(err)), 404);
    assert_int_equal(arch_find(fd, "../evil", &r, &size, err, sizeof(err)), 404);
    close(fd);
}

static void test_round_trip(void **state)
{
    (void)state;
    for (int unblocked = 0; unblocked < 2; unblocked++) {
        round_trip(ARCH_TAR, unblocked);
        round_trip(ARCH_TGZ, unblocked);
        round_trip(ARCH_ZIP, unblocked);
        round_trip(ARCH_TAR_LZ4, unblocked);
    }
}

static void test_not_archive(void **state)
{
    (void)state;
    int fd = memfd_create("x", 0);
    assert_int_equal(write_all(fd, "hello, this is plain text\n", 26), 0);
    char err[256];
    arch_reader_t *r;
    int64_t size;
    assert_int_equal(arch_find(fd, "a", &r, &size, err, sizeof(err)), 400);
    close(fd);
    fd = memfd_create("empty", 0);
    assert_null(arch_open(fd, err, sizeof(err)));
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_not_archive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
