/*
 * test_lom.c - unit tests for src/target/lom.c: the metadata codec and a real xattr round
 * trip on a temp file under /tmp (ext4 with user xattrs).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <cmocka.h>

#include "target/lom.h"

static void fill(lom_md_t *md)
{
    lom_md_init(md);
    md->size = 5;
    snprintf(md->cs_type, sizeof(md->cs_type), "xxhash");
    snprintf(md->cs_val, sizeof(md->cs_val), "26c7827d889f6da3");
    md->version = 3;
    md->atime_ns = 1700000000123456789LL;
    md->custom = json_object();
    json_object_set_new(md->custom, "etag", json_string("abc"));
    json_object_set_new(md->custom, "src", json_string("a=b,c"));
}

static void check_same(const lom_md_t *a, const lom_md_t *b)
{
    assert_int_equal(a->size, b->size);
    assert_string_equal(a->cs_type, b->cs_type);
    assert_string_equal(a->cs_val, b->cs_val);
    assert_int_equal(a->version, b->version);
    assert_int_equal(a->atime_ns, b->atime_ns);
    if (a->custom == NULL || b->custom == NULL)
        assert_ptr_equal(a->custom, b->custom);
    else
        assert_true(json_equal(a->custom, b->custom));
}

static void test_encode_exact(void **state)
{
    (void)state;
    lom_md_t md;
    fill(&md);
    buf_t b;
    buf_init(&b);
    lom_md_encode(&md, &b);
    assert_string_equal(b.base, "{\"v\":1,\"size\":5,\"cs_type\":\"xxhash\",\"cs_val\":"
                                "\"26c7827d889f6da3\",\"ver\":3,\"atime\":1700000000123456789,"
                                "\"custom\":{\"etag\":\"abc\",\"src\":\"a=b,c\"}}");
    buf_dispose(&b);

    /* Empty custom is omitted. */
    json_object_clear(md.custom);
    lom_md_encode(&md, &b);
    assert_null(strstr(b.base, "custom"));
    buf_dispose(&b);
    lom_md_dispose(&md);
    assert_null(md.custom);
}

static void test_round_trip(void **state)
{
    (void)state;
    lom_md_t md, got;
    fill(&md);
    buf_t b;
    buf_init(&b);
    lom_md_encode(&md, &b);
    assert_int_equal(lom_md_decode(b.base, b.len, &got), 0);
    check_same(&md, &got);
    lom_md_dispose(&got);
    buf_dispose(&b);

    /* Without custom, and with zero values. */
    lom_md_dispose(&md);
    lom_md_init(&md);
    lom_md_encode(&md, &b);
    assert_int_equal(lom_md_decode(b.base, b.len, &got), 0);
    check_same(&md, &got);
    assert_null(got.custom);
    lom_md_dispose(&got);
    buf_dispose(&b);

    /* Large values survive (sizes above 4 GiB, max-length checksum). */
    md.size = 5000000000LL;
    memset(md.cs_val, 'f', sizeof(md.cs_val) - 1);
    snprintf(md.cs_type, sizeof(md.cs_type), "sha256");
    lom_md_encode(&md, &b);
    assert_int_equal(lom_md_decode(b.base, b.len, &got), 0);
    check_same(&md, &got);
    lom_md_dispose(&got);
    buf_dispose(&b);
}

static void test_decode_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "{",
        "[]",
        "null",
        "{\"size\":1}",                                          /* no version */
        "{\"v\":2,\"size\":1}",                                  /* unknown version */
        "{\"v\":1}",                                             /* no size */
        "{\"v\":1,\"size\":-1}",                                 /* negative size */
        "{\"v\":1,\"size\":\"1\"}",                              /* wrong type */
        "{\"v\":1,\"size\":1,\"cs_type\":5}",                    /* wrong type */
        "{\"v\":1,\"size\":1,\"custom\":[]}",                    /* custom not an object */
        "{\"v\":1,\"size\":1,\"custom\":{\"a\":1}}",             /* custom value not a string */
        "{\"v\":1,\"size\":1,\"cs_type\":\"0123456789abcdef\"}", /* too long for cs_type */
        "{\"v\":1,\"size\":1} trailing",
        "{\"v\":1,\"v\":1,\"size\":1}", /* duplicate key */
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        lom_md_t md;
        if (lom_md_decode(bad[i], strlen(bad[i]), &md) != -1)
            fail_msg("decoded \"%s\"", bad[i]);
        assert_null(md.custom);
        assert_int_equal(md.size, 0);
    }

    /* Only len bytes count; unknown keys are ignored. */
    const char *ok = "{\"v\":1,\"size\":9,\"future\":[1,2]}GARBAGE";
    lom_md_t md;
    assert_int_equal(lom_md_decode(ok, strlen(ok) - 7, &md), 0);
    assert_int_equal(md.size, 9);
    assert_string_equal(md.cs_type, "");
    lom_md_dispose(&md);
}

/* The encoder's layout is read without the JSON parser: it must agree with the parser on
 * every record of that layout, good or bad. */
static void test_decode_compact_agrees(void **state)
{
    (void)state;
#define REC(size, cs, ver, atime)                                                                  \
    "{\"v\":1,\"size\":" size ",\"cs_type\":\"xxhash\",\"cs_val\":\"" cs "\",\"ver\":" ver         \
    ",\"atime\":" atime "}"
    static const struct {
        const char *in;
        int rc;
    } cases[] = {
        {REC("4096", "26c7827d889f6da3", "1", "1700000000000000000"), 0},
        {REC("0", "", "0", "0"), 0},
        {REC("9223372036854775807", "x", "2", "3"), 0},
        {REC("9223372036854775808", "x", "2", "3"), -1}, /* past int64 */
        {REC("01", "x", "1", "1"), -1},                  /* a leading zero is not JSON */
        {REC("-1", "x", "1", "1"), -1},                  /* negative size */
        {REC("1.5", "x", "1", "1"), -1},                 /* not an integer */
        {REC("1", "x", "-7", "-9"), 0},                  /* negative version, atime: JSON's */
        {REC("1", "a\\\"b", "1", "1"), 0},               /* an escape: JSON's */
        {REC("1", "caf\xc3\xa9", "1", "1"), 0},          /* UTF-8: JSON's */
        {REC("1", "ab\tc", "1", "1"), -1},               /* a raw control character */
        {REC("1", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "1", "1"),
         -1}, /* 64 characters: too long */
        {"{\"v\":1,\"size\":5,\"cs_type\":\"xxhash\",\"cs_val\":\"a\",\"ver\":1,\"atime\":2} ", 0},
    };
#undef REC
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        lom_md_t a, b;
        int ra = lom_md_decode(cases[i].in, strlen(cases[i].in), &a);
        int rb = lom_md_decode_json(cases[i].in, strlen(cases[i].in), &b);
        if (ra != cases[i].rc || rb != cases[i].rc)
            fail_msg("%s: %d and %d, expected %d", cases[i].in, ra, rb, cases[i].rc);
        assert_true(a.size == b.size && a.version == b.version && a.atime_ns == b.atime_ns);
        assert_string_equal(a.cs_type, b.cs_type);
        assert_string_equal(a.cs_val, b.cs_val);
        lom_md_dispose(&a);
        lom_md_dispose(&b);
    }
}

/* Without custom metadata the xattr holds the binary form (small enough for the inode). */
static void test_binary_form(void **state)
{
    (void)state;
    lom_md_t md, got;
    fill(&md);
    uint8_t bin[LOM_MD_BIN_LEN];
    assert_false(lom_md_encode_bin(&md, bin)); /* custom metadata: JSON */
    json_decref(md.custom);
    md.custom = NULL;
    assert_true(lom_md_encode_bin(&md, bin));
    assert_int_equal(bin[0], 'L');
    assert_int_equal(lom_md_decode((const char *)bin, sizeof(bin), &got), 0);
    check_same(&md, &got);
    lom_md_dispose(&got);
    static const char *const other[][2] = {{"none", ""}, {"", ""}, {"xxhash", "ffffffffffffffff"}};
    for (size_t i = 0; i < ARRAY_SIZE(other); i++) {
        snprintf(md.cs_type, sizeof(md.cs_type), "%s", other[i][0]);
        snprintf(md.cs_val, sizeof(md.cs_val), "%s", other[i][1]);
        assert_true(lom_md_encode_bin(&md, bin));
        assert_int_equal(lom_md_decode((const char *)bin, sizeof(bin), &got), 0);
        check_same(&md, &got);
        lom_md_dispose(&got);
    }
    /* what the binary form cannot say goes to JSON */
    static const char *const json_only[][2] = {
        {"md5", "0123"}, {"xxhash", "26C7827D889F6DA3"}, {"xxhash", "26c7"}, {"none", "x"}};
    for (size_t i = 0; i < ARRAY_SIZE(json_only); i++) {
        snprintf(md.cs_type, sizeof(md.cs_type), "%s", json_only[i][0]);
        snprintf(md.cs_val, sizeof(md.cs_val), "%s", json_only[i][1]);
        assert_false(lom_md_encode_bin(&md, bin));
    }
    /* malformed: short, unknown format or checksum type, a value with no xxhash, size < 0 */
    snprintf(md.cs_type, sizeof(md.cs_type), "none");
    md.cs_val[0] = '\0';
    assert_true(lom_md_encode_bin(&md, bin));
    uint8_t bad[LOM_MD_BIN_LEN];
    for (int k = 0; k < 5; k++) {
        memcpy(bad, bin, sizeof(bad));
        size_t len = sizeof(bad);
        if (k == 0)
            len--;
        else if (k == 1)
            bad[1] = 3;
        else if (k == 2)
            bad[2] = 3;
        else if (k == 3)
            bad[27] = 1;
        else
            bad[10] = 0x80;
        assert_int_equal(lom_md_decode((const char *)bad, len, &got), -1);
        assert_int_equal(got.size, 0);
    }
}

static void test_custom_header(void **state)
{
    (void)state;
    lom_md_t md;
    lom_md_init(&md);
    assert_null(lom_md_custom_header(&md));
    md.custom = json_object();
    assert_null(lom_md_custom_header(&md)); /* empty object: no header */
    json_object_set_new(md.custom, "k", json_string("v"));
    char *h = lom_md_custom_header(&md);
    assert_string_equal(h, "k=v");
    free(h);
    json_object_set_new(md.custom, "k2", json_string("v2"));
    h = lom_md_custom_header(&md);
    assert_string_equal(h, "k=v,k2=v2"); /* insertion order */
    free(h);
    lom_md_dispose(&md);
}

static char tmpdir[] = "/tmp/locus-test-lom-XXXXXX";

static int setup_dir(void **state)
{
    (void)state;
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
    (void)state;
    return remove_tree(tmpdir);
}

static void test_xattr_round_trip(void **state)
{
    (void)state;
    char *path = xasprintf("%s/obj", tmpdir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "hello", 5), 5);

    lom_md_t md, got;
    assert_int_equal(lom_md_load_fd(fd, &got), -ENODATA);
    assert_int_equal(lom_md_load(path, &got), -ENODATA);
    assert_null(got.custom);

    fill(&md);
    assert_int_equal(lom_md_store_fd(fd, &md), 0);
    assert_int_equal(lom_md_load_fd(fd, &got), 0);
    check_same(&md, &got);
    lom_md_dispose(&got);
    assert_int_equal(lom_md_load(path, &got), 0);
    check_same(&md, &got);
    lom_md_dispose(&got);

    /* The attribute is the exact encoding, under LOM_XATTR. */
    buf_t b;
    buf_init(&b);
    lom_md_encode(&md, &b);
    char raw[4096];
    ssize_t n = getxattr(path, LOM_XATTR, raw, sizeof(raw));
    assert_int_equal(n, b.len);
    assert_memory_equal(raw, b.base, b.len);
    buf_dispose(&b);

    /* Without custom metadata: the binary form. */
    lom_md_t plain = md;
    plain.custom = NULL;
    assert_int_equal(lom_md_store_fd(fd, &plain), 0);
    assert_int_equal(getxattr(path, LOM_XATTR, raw, sizeof(raw)), LOM_MD_BIN_LEN);
    assert_int_equal(raw[0], 'L');
    assert_int_equal(lom_md_load_fd(fd, &got), 0);
    check_same(&plain, &got);
    lom_md_dispose(&got);

    /* Overwrite with a value larger than the loader's 2 KiB stack buffer (ext4 allows
     * about 4 KiB of xattrs per inode unless the ea_inode feature is on). */
    for (int i = 0; i < 60; i++) {
        char k[16], v[48];
        snprintf(k, sizeof(k), "key%03d", i);
        snprintf(v, sizeof(v), "value-%03d-xxxxxxxxxxxxxxxxxxxxxxxx", i);
        json_object_set_new(md.custom, k, json_string(v));
    }
    md.version = 4;
    assert_int_equal(lom_md_store_fd(fd, &md), 0);
    assert_int_equal(lom_md_load_fd(fd, &got), 0);
    check_same(&md, &got);
    lom_md_dispose(&got);
    assert_int_equal(lom_md_load(path, &got), 0);
    check_same(&md, &got);
    lom_md_dispose(&got);

    /* Too large for the filesystem: an error code, and the old value stays. */
    lom_md_t huge;
    fill(&huge);
    for (int i = 0; i < 400; i++) {
        char k[16];
        snprintf(k, sizeof(k), "big%03d", i);
        json_object_set_new(huge.custom, k, json_string("yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"));
    }
    int rc = lom_md_store_fd(fd, &huge);
    assert_true(rc == -ENOSPC || rc == -E2BIG);
    lom_md_dispose(&huge);
    assert_int_equal(lom_md_load_fd(fd, &got), 0);
    check_same(&md, &got);
    lom_md_dispose(&got);

    /* A malformed attribute reads as -EINVAL. */
    assert_int_equal(setxattr(path, LOM_XATTR, "{bad", 4, 0), 0);
    assert_int_equal(lom_md_load_fd(fd, &got), -EINVAL);
    assert_int_equal(lom_md_load(path, &got), -EINVAL);
    assert_null(got.custom);

    /* Metadata follows the file through a rename, and vanishes with it. */
    assert_int_equal(lom_md_store_fd(fd, &md), 0);
    close(fd);
    char *moved = xasprintf("%s/moved", tmpdir);
    assert_int_equal(rename(path, moved), 0);
    assert_int_equal(lom_md_load(moved, &got), 0);
    check_same(&md, &got);
    lom_md_dispose(&got);
    assert_int_equal(lom_md_load(path, &got), -ENOENT);
    assert_int_equal(lom_md_load_fd(-1, &got), -EBADF);

    lom_md_dispose(&md);
    free(moved);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_exact),     cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_decode_malformed), cmocka_unit_test(test_decode_compact_agrees),
        cmocka_unit_test(test_binary_form),      cmocka_unit_test(test_custom_header),
        cmocka_unit_test(test_xattr_round_trip),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
