/*
 * test_ec.c - unit tests for the erasure-coding codec and piece metadata of src/target/ec.c:
 * slice lengths, the "D,P,slice,xxhash" text (strict: it comes from other nodes), and the
 * ISA-L codec end to end on real files: code the parity of an object, lose up to P slices in
 * every pattern, rebuild, and compare byte for byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "target/internal.h"

static void test_piece_len(void **state)
{
    (void)state;
    /* 10 bytes, 3 data slices: S = 4; data 4, 4, 2; parity 4; replica 10 */
    assert_int_equal(ec_piece_len(10, 3, 1), 4);
    assert_int_equal(ec_piece_len(10, 3, 2), 4);
    assert_int_equal(ec_piece_len(10, 3, 3), 2);
    assert_int_equal(ec_piece_len(10, 3, 4), 4);
    assert_int_equal(ec_piece_len(10, 3, 0), 10);
    /* fewer bytes than slices: the last data slices are empty */
    assert_int_equal(ec_piece_len(1, 4, 1), 1);
    assert_int_equal(ec_piece_len(1, 4, 2), 0);
    assert_int_equal(ec_piece_len(1, 4, 5), 1);
    assert_int_equal(ec_piece_len(0, 2, 1), 0);
}

static void test_piece_text(void **state)
{
    (void)state;
    ec_piece_t pc = {.d = 2, .p = 1, .slice = 3};
    snprintf(pc.scs, sizeof(pc.scs), "0123456789abcdef");
    char t[EC_PIECE_TEXT];
    ec_piece_format(&pc, t);
    assert_string_equal(t, "2,1,3,0123456789abcdef");
    ec_piece_t back;
    assert_int_equal(ec_piece_parse(t, strlen(t), &back), 0);
    assert_int_equal(back.d, 2);
    assert_int_equal(back.p, 1);
    assert_int_equal(back.slice, 3);
    assert_string_equal(back.scs, pc.scs);
    static const char *bad[] = {
        "",
        "2,1,3",
        "2,1,4,0123456789abcdef",   /* slice beyond d + p */
        "0,1,0,0123456789abcdef",   /* no data slices */
        "33,1,0,0123456789abcdef",  /* too many */
        "2,1,-1,0123456789abcdef",  /* negative */
        "2,1,1,0123456789ABCDEF",   /* upper-case hex */
        "2,1,1,0123456789abcde",    /* short checksum */
        "2,1,1,0123456789abcdef0",  /* long checksum */
        "002,1,1,0123456789abcdef", /* three digits */
        " 2,1,1,0123456789abcdef",
        "2;1;1;0123456789abcdef",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        assert_int_equal(ec_piece_parse(bad[i], strlen(bad[i]), &back), -1);
    assert_int_equal(ec_piece_parse("2,1,1,0123456789abcdef\0x", 24, &back), -1); /* a NUL */
}

/* A new unnamed file in /tmp holding n bytes of p. */
static int file_of(const unsigned char *p, int64_t n)
{
    int fd = ec_tmp_open("/tmp");
    assert_true(fd >= 0);
    assert_int_equal(n > 0 ? pwrite(fd, p, (size_t)n, 0) : 0, n);
    return fd;
}

/* Codes an object of size bytes with d+p, then for every pattern of up to p lost slices
 * rebuilds the data slices and compares them with the object. */
static void roundtrip(int64_t size, int d, int p)
{
    unsigned char *obj = malloc(size ? (size_t)size : 1);
    for (int64_t i = 0; i < size; i++)
        obj[i] = (unsigned char)(rand() >> 7);
    int fd = file_of(obj, size);
    int pfd[EC_MAX_SLICES];
    char scs[2 * EC_MAX_SLICES][17];
    assert_int_equal(ec_code_parity(fd, size, d, p, "/tmp", pfd, scs), 0);
    int64_t s = (size + d - 1) / d;
    int n = d + p;
    for (unsigned mask = 0; mask < (1u << n); mask++) {
        if (__builtin_popcount(mask) > p)
            continue;
        int have[2 * EC_MAX_SLICES + 1];
        for (int i = 0; i <= n; i++)
            have[i] = -1;
        for (int i = 1; i <= n; i++) {
            if (mask & (1u << (i - 1)))
                continue; /* lost */
            if (i <= d)
                have[i] = file_of(obj + (int64_t)(i - 1) * s, ec_piece_len(size, d, i));
            else
                have[i] = dup(pfd[i - d - 1]);
        }
        assert_int_equal(ec_code_rebuild(size, d, p, have, "/tmp"), 0);
        for (int i = 1; i <= d; i++) {
            int64_t len = ec_piece_len(size, d, i);
            unsigned char *got = malloc(len ? (size_t)len : 1);
            assert_int_equal(len ? pread(have[i], got, (size_t)len, 0) : 0, len);
            assert_memory_equal(got, obj + (int64_t)(i - 1) * s, (size_t)len);
            free(got);
        }
        for (int i = 0; i <= n; i++)
            if (have[i] >= 0)
                close(have[i]);
    }
    for (int k = 0; k < p; k++)
        close(pfd[k]);
    close(fd);
    free(obj);
}

static void test_codec_roundtrip(void **state)
{
    (void)state;
    roundtrip(1, 2, 1);
    roundtrip(7, 4, 2);
    roundtrip(300001, 2, 1);
    roundtrip(1000003, 3, 2);   /* slices over a stripe step, uneven last slice */
    roundtrip(3 * 65536, 3, 3); /* exact multiple */
    roundtrip(5 * 1048576 + 3, 4, 2);
}

static void test_codec_too_few(void **state)
{
    (void)state;
    unsigned char obj[1000];
    memset(obj, 7, sizeof(obj));
    int fd = file_of(obj, sizeof(obj));
    int pfd[1];
    char scs[3][17];
    assert_int_equal(ec_code_parity(fd, sizeof(obj), 2, 1, "/tmp", pfd, scs), 0);
    int have[4] = {-1, -1, -1, pfd[0]}; /* one slice of the two needed */
    assert_int_equal(ec_code_rebuild(sizeof(obj), 2, 1, have, "/tmp"), -ENODATA);
    close(pfd[0]);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_piece_len),
        cmocka_unit_test(test_piece_text),
        cmocka_unit_test(test_codec_roundtrip),
        cmocka_unit_test(test_codec_too_few),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
