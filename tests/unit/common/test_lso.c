/*
 * test_lso.c - unit tests for src/common/lso.c.
 *
 * The exact-bytes vector was computed by hand from the msgpack spec (annotated below) and
 * cross-checked with python3-msgpack by tests/unit/common/hrw_vectors.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <msgpack.h>

#include "common/lso.h"

static void add(lso_page_t *p, const char *name, int64_t size, const char *cs, const char *atime,
                uint32_t flags)
{
    lso_entry_t e = {.name = (char *)name,
                     .size = size,
                     .checksum = (char *)cs,
                     .atime = (char *)atime,
                     .flags = flags};
    lso_page_add(p, &e);
}

static void test_exact_bytes_one_entry(void **state)
{
    (void)state;
    lso_page_t p;
    lso_page_init(&p);
    p.uuid = xstrdup("u1");
    p.continuation_token = xstrdup("");
    add(&p, "obj1", 12, "abc", NULL, LSO_ENTRY_CACHED);

    static const uint8_t want[] = {
        0x84,                                        /* fixmap, 4 pairs */
        0xa4, 'U', 'U',  'I',  'D', 0xa2, 'u',  '1', /* "UUID": "u1" */
        0xb1, 'C', 'o',  'n',  't', 'i',  'n',  'u', 'a',  't',
        'i',  'o', 'n',  'T',  'o', 'k',  'e',  'n', 0xa0, /* "ContinuationToken": "" */
        0xa7, 'E', 'n',  't',  'r', 'i',  'e',  's',       /* "Entries": */
        0x91,                                              /* fixarray, 1 entry */
        0x84,                                              /* fixmap, 4 pairs: n, cs, s, f */
        0xa1, 'n', 0xa4, 'o',  'b', 'j',  '1',             /* "n": "obj1" */
        0xa2, 'c', 's',  0xa3, 'a', 'b',  'c',             /* "cs": "abc" */
        0xa1, 's', 0x0c,                                   /* "s": 12 */
        0xa1, 'f', 0x40,                                   /* "f": 64 */
        0xa5, 'F', 'l',  'a',  'g', 's',  0x00,            /* "Flags": 0 */
    };
    buf_t b;
    buf_init(&b);
    lso_encode_msgpack(&p, LSO_PROP_DEFAULT, &b);
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.base, want, sizeof(want));
    buf_dispose(&b);
    lso_page_dispose(&p);
}

static void test_exact_bytes_empty(void **state)
{
    (void)state;
    lso_page_t p;
    lso_page_init(&p); /* NULL uuid/token encode as "" */
    static const uint8_t want[] = {
        0x84, 0xa4, 'U',  'U', 'I', 'D', 0xa0, 0xb1, 'C', 'o', 'n',  't',
        'i',  'n',  'u',  'a', 't', 'i', 'o',  'n',  'T', 'o', 'k',  'e',
        'n',  0xa0, 0xa7, 'E', 'n', 't', 'r',  'i',  'e', 's', 0x90, /* Entries: empty array, never
                                                                        nil */
        0xa5, 'F',  'l',  'a', 'g', 's', 0x00,
    };
    buf_t b;
    buf_init(&b);
    lso_encode_msgpack(&p, LSO_PROP_DEFAULT, &b);
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.base, want, sizeof(want));

    lso_page_t d;
    assert_int_equal(lso_decode_msgpack(b.base, b.len, &d), 0);
    assert_int_equal(d.n, 0);
    assert_string_equal(d.continuation_token, "");
    lso_page_dispose(&d);
    buf_dispose(&b);
}

static void fill_full(lso_page_t *p)
{
    lso_page_init(p);
    p->uuid = xstrdup("8FdNKbZjM");
    p->continuation_token = xstrdup("obj-0002");
    p->flags = 1;
    char big[300];
    memset(big, 'z', sizeof(big) - 1); /* str16 name */
    big[sizeof(big) - 1] = '\0';
    lso_entry_t e = {.name = "\xe4\xbd\xa0\xe5\xa5\xbd", /* 你好 */
                     .checksum = "26c7827d889f6da3",
                     .atime = "Tue, 14 Nov 2023 22:13:20 UTC",
                     .version = "3",
                     .location = "t[abc]:/mp1",
                     .custom = "etag=1",
                     .size = 5000000000LL,
                     .copies = 2,
                     .flags = 64};
    lso_page_add(p, &e);
    add(p, big, 200, NULL, "", 0);
    add(p, "%25", 0, "", NULL, 64);
}

static void check_full(const lso_page_t *d, bool all_props)
{
    assert_string_equal(d->uuid, "8FdNKbZjM");
    assert_string_equal(d->continuation_token, "obj-0002");
    assert_int_equal(d->flags, 1);
    assert_int_equal(d->n, 3);
    const lso_entry_t *e = &d->entries[0];
    assert_string_equal(e->name, "\xe4\xbd\xa0\xe5\xa5\xbd");
    assert_string_equal(e->checksum, "26c7827d889f6da3");
    assert_string_equal(e->atime, "Tue, 14 Nov 2023 22:13:20 UTC");
    assert_int_equal(e->size, 5000000000LL);
    assert_int_equal(e->flags, 64);
    if (all_props) {
        assert_string_equal(e->version, "3");
        assert_string_equal(e->location, "t[abc]:/mp1");
        assert_string_equal(e->custom, "etag=1");
        assert_int_equal(e->copies, 2);
    } else {
        assert_null(e->version);
        assert_null(e->location);
        assert_null(e->custom);
        assert_int_equal(e->copies, 0);
    }
    assert_int_equal(strlen(d->entries[1].name), 299);
    assert_int_equal(d->entries[1].size, 200);
    assert_null(d->entries[1].atime); /* empty = omitted */
    assert_null(d->entries[1].checksum);
    assert_string_equal(d->entries[2].name, "%25");
    assert_int_equal(d->entries[2].size, 0);
    assert_null(d->entries[2].checksum);
    assert_int_equal(d->entries[2].flags, 64);
}

static void test_msgpack_round_trip(void **state)
{
    (void)state;
    lso_page_t p, d;
    fill_full(&p);
    int all = lso_props_parse("name,size,version,checksum,atime,copies,custom,location");
    assert_true(all > 0);
    for (int pass = 0; pass < 2; pass++) {
        buf_t b;
        buf_init(&b);
        lso_encode_msgpack(&p, pass ? all : LSO_PROP_DEFAULT, &b);
        assert_int_equal(lso_decode_msgpack(b.base, b.len, &d), 0);
        check_full(&d, pass == 1);
        lso_page_dispose(&d);

        /* Also decodes with msgpack-c's generic unpacker: a 4-key map with an Entries array. */
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        size_t off = 0;
        assert_int_equal(msgpack_unpack_next(&u, b.base, b.len, &off), MSGPACK_UNPACK_SUCCESS);
        assert_int_equal(off, b.len);
        assert_int_equal(u.data.type, MSGPACK_OBJECT_MAP);
        assert_int_equal(u.data.via.map.size, 4);
        assert_int_equal(u.data.via.map.ptr[2].val.type, MSGPACK_OBJECT_ARRAY);
        assert_int_equal(u.data.via.map.ptr[2].val.via.array.size, 3);
        msgpack_unpacked_destroy(&u);

        /* Truncations never decode. */
        for (size_t cut = 0; cut < b.len; cut += 7) {
            assert_int_equal(lso_decode_msgpack(b.base, cut, &d), -1);
            assert_int_equal(d.n, 0);
            assert_null(d.entries);
        }
        buf_dispose(&b);
    }
    lso_page_dispose(&p);
}

static void test_msgpack_decode_tolerant(void **state)
{
    (void)state;
    /* nil Entries, unknown keys, nil strings, extra entry fields: all accepted. */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    msgpack_pack_str_with_body(&pk, "Extra", 5);
    msgpack_pack_int(&pk, -5);
    msgpack_pack_str_with_body(&pk, "UUID", 4);
    msgpack_pack_nil(&pk);
    msgpack_pack_str_with_body(&pk, "Entries", 7);
    msgpack_pack_nil(&pk);
    lso_page_t d;
    assert_int_equal(lso_decode_msgpack(sb.data, sb.size, &d), 0);
    assert_int_equal(d.n, 0);
    assert_null(d.uuid);
    assert_string_equal(d.continuation_token, "");
    lso_page_dispose(&d);

    /* An entry without "n" is malformed. */
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str_with_body(&pk, "Entries", 7);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, 2);
    msgpack_pack_str_with_body(&pk, "s", 1);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_str_with_body(&pk, "zz", 2);
    msgpack_pack_true(&pk);
    assert_int_equal(lso_decode_msgpack(sb.data, sb.size, &d), -1);

    /* Wrong types. */
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_array(&pk, 0);
    assert_int_equal(lso_decode_msgpack(sb.data, sb.size, &d), -1);
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str_with_body(&pk, "UUID", 4);
    msgpack_pack_int(&pk, 3);
    assert_int_equal(lso_decode_msgpack(sb.data, sb.size, &d), -1);

    /* Trailing garbage. */
    static const uint8_t two[] = {0x80, 0x80};
    assert_int_equal(lso_decode_msgpack(two, sizeof(two), &d), -1);
    assert_int_equal(lso_decode_msgpack("", 0, &d), -1);
    msgpack_sbuffer_destroy(&sb);
}

/* Regression (found by tests/fuzz/fuzz_lso.c): msgpack-c allocates the elements an array or map
 * announces before reading them, so a few bytes announcing 2^32 entries asked malloc for up to
 * 192 GiB. Such headers are refused before msgpack-c sees them; every kind of value still
 * decodes where a page may hold it (unknown keys). */
static void test_msgpack_hostile_sizes(void **state)
{
    (void)state;
    static const struct {
        const char *bytes;
        size_t n;
    } bad[] = {
        {"\xdf\xff\xff\xff\xff", 5},     /* map32 of 2^32 - 1 */
        {"\xdd\x7f\xff\xff\xff\xc0", 6}, /* array32 of 2^31 - 1 */
        {"\x81\xa7"
         "Entries\xdc\xff\xff",
         12}, /* array16 of 65535 */
        {"\x81\xa1x\xdb\xff\xff\xff\xf0"
         "abc",
         11}, /* str32 past the end */
        {"\x81\xa1x\xc9\x00\x00\x00\x02\x01"
         "a",
         10},                 /* ext32 past the end */
        {"\x81\xa1x\xc1", 4}, /* never-used 0xc1 */
    };
    lso_page_t d;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(lso_decode_msgpack(bad[i].bytes, bad[i].n, &d), -1);

    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 8);
    msgpack_pack_str_with_body(&pk, "f32", 3);
    msgpack_pack_float(&pk, 1.5f);
    msgpack_pack_str_with_body(&pk, "f64", 3);
    msgpack_pack_double(&pk, 2.5);
    msgpack_pack_str_with_body(&pk, "bin", 3);
    msgpack_pack_bin_with_body(&pk, "\x00\x01", 2);
    msgpack_pack_str_with_body(&pk, "ext", 3);
    msgpack_pack_ext_with_body(&pk, "abcdefgh", 8, 7); /* fixext 8 */
    msgpack_pack_str_with_body(&pk, "ext8", 4);
    msgpack_pack_ext_with_body(&pk, "abc", 3, 1);
    msgpack_pack_str_with_body(&pk, "ints", 4);
    msgpack_pack_array(&pk, 4);
    msgpack_pack_uint64(&pk, UINT64_MAX);
    msgpack_pack_int64(&pk, INT64_MIN);
    msgpack_pack_int16(&pk, -300);
    msgpack_pack_uint8(&pk, 200);
    msgpack_pack_str_with_body(&pk, "Entries", 7);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, 2);
    msgpack_pack_str_with_body(&pk, "n", 1);
    msgpack_pack_str_with_body(&pk, "obj", 3);
    msgpack_pack_str_with_body(&pk, "x", 1);
    msgpack_pack_map(&pk, 0);
    msgpack_pack_str_with_body(&pk, "Flags", 5);
    msgpack_pack_uint32(&pk, 3);
    assert_int_equal(lso_decode_msgpack(sb.data, sb.size, &d), 0);
    assert_int_equal(d.n, 1);
    assert_string_equal(d.entries[0].name, "obj");
    assert_int_equal(d.flags, 3);
    lso_page_dispose(&d);
    /* ... and one byte less is not a page. */
    assert_int_equal(lso_decode_msgpack(sb.data, sb.size - 1, &d), -1);
    msgpack_sbuffer_destroy(&sb);
}

static void test_json_round_trip(void **state)
{
    (void)state;
    lso_page_t p, d;
    fill_full(&p);
    int all = lso_props_parse("name,size,version,checksum,atime,copies,custom,location");
    json_t *j = lso_encode_json(&p, all);
    /* Go's encoding: size as a decimal string, copies/flags as numbers. */
    json_t *e0 = json_array_get(json_object_get(j, "entries"), 0);
    assert_string_equal(json_string_value(json_object_get(e0, "size")), "5000000000");
    assert_string_equal(json_string_value(json_object_get(e0, "custom-md")), "etag=1");
    assert_int_equal(json_integer_value(json_object_get(e0, "copies")), 2);
    json_t *e2 = json_array_get(json_object_get(j, "entries"), 2);
    assert_null(json_object_get(e2, "size"));
    assert_null(json_object_get(e2, "checksum"));
    assert_int_equal(lso_decode_json(j, &d), 0);
    check_full(&d, true);
    lso_page_dispose(&d);
    json_decref(j);

    /* Default props drop version/location/custom/copies. */
    j = lso_encode_json(&p, LSO_PROP_DEFAULT);
    assert_int_equal(lso_decode_json(j, &d), 0);
    check_full(&d, false);
    lso_page_dispose(&d);
    json_decref(j);
    lso_page_dispose(&p);

    /* Empty page: entries is [] (never null). */
    lso_page_init(&p);
    j = lso_encode_json(&p, LSO_PROP_DEFAULT);
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(s,
                        "{\"continuation_token\":\"\",\"entries\":[],\"flags\":0,\"uuid\":\"\"}");
    free(s);
    json_decref(j);
}

/* Regression (found by tests/fuzz/fuzz_lso.c): a name that is not UTF-8 (names are bytes)
 * vanished from its JSON entry, which then did not decode, and the listing failed. Bad bytes
 * now become U+FFFD, as in Go's encoding/json. */
static void test_json_not_utf8(void **state)
{
    (void)state;
    lso_page_t p, d;
    lso_page_init(&p);
    lso_page_add(&p, &(lso_entry_t){.name = "u\xFFx", .checksum = "\xC3", .size = 1});
    lso_page_add(&p, &(lso_entry_t){.name = "ok"});
    json_t *j = lso_encode_json(&p, LSO_PROP_DEFAULT);
    assert_int_equal(lso_decode_json(j, &d), 0);
    assert_int_equal(d.n, 2);
    assert_string_equal(d.entries[0].name, "u\xEF\xBF\xBDx");
    assert_string_equal(d.entries[0].checksum, "\xEF\xBF\xBD");
    assert_int_equal(d.entries[0].size, 1);
    assert_string_equal(d.entries[1].name, "ok");
    lso_page_dispose(&d);
    json_decref(j);
    lso_page_dispose(&p);
}

static void test_json_decode_layouts(void **state)
{
    (void)state;
    lso_page_t d;
    json_t *j = json_loads("{\"UUID\":\"x\",\"ContinuationToken\":\"t\",\"Flags\":2,"
                           "\"Entries\":[{\"n\":\"a\",\"s\":7,\"cs\":\"c\",\"f\":64}]}",
                           0, NULL);
    assert_non_null(j);
    assert_int_equal(lso_decode_json(j, &d), 0);
    assert_string_equal(d.uuid, "x");
    assert_string_equal(d.continuation_token, "t");
    assert_int_equal(d.flags, 2);
    assert_int_equal(d.n, 1);
    assert_string_equal(d.entries[0].name, "a");
    assert_int_equal(d.entries[0].size, 7);
    assert_string_equal(d.entries[0].checksum, "c");
    assert_int_equal(d.entries[0].flags, 64);
    lso_page_dispose(&d);
    json_decref(j);

    j = json_loads("{\"uuid\":\"\",\"continuation_token\":\"\",\"entries\":null,\"flags\":0}", 0,
                   NULL);
    assert_int_equal(lso_decode_json(j, &d), 0);
    assert_int_equal(d.n, 0);
    lso_page_dispose(&d);
    json_decref(j);

    static const char *const bad[] = {
        "[]",
        "{\"entries\":{}}",
        "{\"entries\":[{\"size\":\"1\"}]}",
        "{\"entries\":[{\"name\":\"a\",\"size\":\"12x\"}]}",
        "{\"entries\":[{\"name\":5}]}",
        "{\"uuid\":1}",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        j = json_loads(bad[i], 0, NULL);
        assert_non_null(j);
        if (lso_decode_json(j, &d) != -1)
            fail_msg("decoded %s", bad[i]);
        assert_int_equal(d.n, 0);
        json_decref(j);
    }
}

static void test_props_parse(void **state)
{
    (void)state;
    assert_int_equal(lso_props_parse(""), LSO_PROP_DEFAULT);
    assert_int_equal(lso_props_parse(NULL), LSO_PROP_DEFAULT);
    assert_int_equal(lso_props_parse("name"), LSO_PROP_NAME);
    assert_int_equal(lso_props_parse("size"), LSO_PROP_NAME | LSO_PROP_SIZE);
    assert_int_equal(lso_props_parse("name,size,checksum,atime"), LSO_PROP_DEFAULT);
    assert_int_equal(lso_props_parse("name, version ,copies"),
                     LSO_PROP_NAME | LSO_PROP_VERSION | LSO_PROP_COPIES);
    assert_int_equal(lso_props_parse("name,size,version,checksum,atime,cached,status,copies,ec,"
                                     "custom,location"),
                     LSO_PROP_NAME | LSO_PROP_SIZE | LSO_PROP_VERSION | LSO_PROP_CHECKSUM |
                         LSO_PROP_ATIME | LSO_PROP_CACHED | LSO_PROP_STATUS | LSO_PROP_COPIES |
                         LSO_PROP_CUSTOM | LSO_PROP_LOCATION);
    assert_int_equal(lso_props_parse("name,bogus"), -1);
    assert_int_equal(lso_props_parse("Name"), -1);
    assert_int_equal(lso_props_parse("names"), -1);
}

static void test_sort_and_add(void **state)
{
    (void)state;
    lso_page_t p;
    lso_page_init(&p);
    static const char *const names[] = {"b", "a/z", "\xe4\xbd\xa0", "a", "B", "a/b", "%"};
    char name[8];
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        /* lso_page_add copies: reuse one buffer to prove it */
        snprintf(name, sizeof(name), "%s", names[i]);
        add(&p, name, (int64_t)i, NULL, NULL, 0);
    }
    for (int i = 0; i < 40; i++) { /* grow past the initial capacity */
        snprintf(name, sizeof(name), "x%02d", 39 - i);
        add(&p, name, 0, NULL, NULL, 0);
    }
    lso_page_sort(&p);
    assert_int_equal(p.n, ARRAY_SIZE(names) + 40);
    assert_string_equal(p.entries[0].name, "%");
    assert_string_equal(p.entries[1].name, "B");
    assert_string_equal(p.entries[2].name, "a");
    assert_string_equal(p.entries[3].name, "a/b");
    assert_string_equal(p.entries[4].name, "a/z");
    assert_string_equal(p.entries[5].name, "b");
    assert_string_equal(p.entries[6].name, "x00");
    assert_string_equal(p.entries[p.n - 1].name, "\xe4\xbd\xa0"); /* bytewise: UTF-8 last */
    for (size_t i = 1; i < p.n; i++)
        assert_true(strcmp(p.entries[i - 1].name, p.entries[i].name) < 0);
    lso_page_dispose(&p);
    assert_int_equal(p.n, 0);
    assert_null(p.entries);
}

/* LsoMsg.flags: Go writes it as a decimal string; numbers are taken too. */
static void test_flags_parse(void **state)
{
    (void)state;
    uint64_t f = 99;
    static const struct {
        const char *json;
        int rc;
        uint64_t want;
    } cases[] = {
        {"\"0\"", 0, 0},
        {"\"16\"", 0, 16},
        {"32", 0, 32},
        {"null", 0, 0},
        {"\"\"", 0, 0},
        {"\"-1\"", -1, 0},
        {"-1", -1, 0},
        {"\"x\"", -1, 0},
        {"\"1x\"", -1, 0},
        {"\" 1\"", -1, 0},
        {"[1]", -1, 0},
        {"{}", -1, 0},
        {"true", -1, 0},
        {"1.5", -1, 0},
        {"\"18446744073709551615\"", 0, UINT64_MAX},
        {"\"18446744073709551616\"", -1, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *v = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);
        assert_non_null(v);
        assert_int_equal(lso_flags_parse(v, &f), cases[i].rc);
        if (cases[i].rc == 0)
            assert_true(f == cases[i].want);
        json_decref(v);
    }
    json_t *nul = json_stringn("1\0"
                               "2",
                               3); /* a NUL inside: not a number */
    assert_int_equal(lso_flags_parse(nul, &f), -1);
    json_decref(nul);
    nul = json_stringn("\0", 1);
    assert_int_equal(lso_flags_parse(nul, &f), -1);
    json_decref(nul);
    assert_int_equal(lso_flags_parse(NULL, &f), 0);
    assert_true(f == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_bytes_one_entry),
        cmocka_unit_test(test_exact_bytes_empty),
        cmocka_unit_test(test_msgpack_round_trip),
        cmocka_unit_test(test_msgpack_decode_tolerant),
        cmocka_unit_test(test_msgpack_hostile_sizes),
        cmocka_unit_test(test_json_round_trip),
        cmocka_unit_test(test_json_not_utf8),
        cmocka_unit_test(test_json_decode_layouts),
        cmocka_unit_test(test_props_parse),
        cmocka_unit_test(test_flags_parse),
        cmocka_unit_test(test_sort_and_add),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
