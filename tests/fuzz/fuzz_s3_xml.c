/*
 * fuzz_s3_xml.c - the S3 API's XML (src/s3/xml.c): the request bodies clients send,
 * DeleteObjects (s3x_parse_delete) and CompleteMultipartUpload (s3x_parse_complete), both parsers
 * on every input, and the escaping of the names our answers carry.
 *
 * Input: the request body. Properties: a delete parses with 1..S3_DELETE_MAX keys, each at
 * most S3_XML_TEXT_MAX bytes; each key, escaped with s3x_esc into a new body, parses back to
 * the same key (what we write, clients read back unchanged); an escaped text holds no raw
 * markup character. A complete parses with 1..S3_PARTS_MAX parts, part numbers in
 * 1..S3_PARTS_MAX and ETags of 32 lower-case hex digits, and written back as a body (quoted
 * ETags, as clients send them) parses to the same list. A refusal has a reason.
 */
#include "fuzz.h"

#include "s3/xml.h"

static void check_roundtrip(const char *key)
{
    buf_t b;
    buf_init(&b);
    buf_puts(&b, "<Delete><Object>");
    s3x_elem(&b, "Key", key);
    buf_puts(&b, "</Object></Delete>");
    FUZZ_CHECK(strpbrk(b.base + strlen("<Delete><Object><Key>"), "\"'") == NULL,
               "a quote left unescaped in \"%s\"", key);
    s3_delete_t d;
    char err[256];
    int rc = s3x_parse_delete(b.base, b.len, &d, err, sizeof(err));
    /* whitespace-only or control-character keys may be refused by expat: never a changed key */
    if (rc == 0)
        FUZZ_CHECK(d.n == 1 && strcmp(d.keys[0], key) == 0, "key \"%s\" came back as \"%s\"", key,
                   d.n ? d.keys[0] : "");
    s3_delete_dispose(&d);
    buf_dispose(&b);
}

static void check_complete_roundtrip(const s3_complete_t *c)
{
    buf_t b;
    buf_init(&b);
    buf_puts(&b, "<CompleteMultipartUpload>");
    for (size_t i = 0; i < c->n; i++)
        buf_printf(&b, "<Part><ETag>\"%s\"</ETag><PartNumber>%d</PartNumber></Part>",
                   c->parts[i].etag, c->parts[i].num);
    buf_puts(&b, "</CompleteMultipartUpload>");
    s3_complete_t d;
    char err[256];
    int rc = s3x_parse_complete(b.base, b.len, &d, err, sizeof(err));
    FUZZ_CHECK(rc == 0 && d.n == c->n, "the written list does not parse back: %s", err);
    for (size_t i = 0; i < d.n; i++)
        FUZZ_CHECK(d.parts[i].num == c->parts[i].num &&
                       strcmp(d.parts[i].etag, c->parts[i].etag) == 0,
                   "part %zu came back changed", i);
    s3_complete_dispose(&d);
    buf_dispose(&b);
}

static void check_complete(const uint8_t *data, size_t size)
{
    s3_complete_t c;
    char err[256] = "";
    int rc = s3x_parse_complete((const char *)data, size, &c, err, sizeof(err));
    FUZZ_CHECK(rc == 0 || (rc == -1 && err[0]), "rc %d, reason \"%s\"", rc, err);
    if (rc == 0) {
        FUZZ_CHECK(c.n >= 1 && c.n <= S3_PARTS_MAX, "%zu parts", c.n);
        for (size_t i = 0; i < c.n; i++) {
            FUZZ_CHECK(c.parts[i].num >= 1 && c.parts[i].num <= S3_PARTS_MAX, "part number %d",
                       c.parts[i].num);
            FUZZ_CHECK(strlen(c.parts[i].etag) == 32 &&
                           strspn(c.parts[i].etag, "0123456789abcdef") == 32,
                       "ETag \"%s\"", c.parts[i].etag);
        }
        check_complete_roundtrip(&c);
    }
    s3_complete_dispose(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_complete(data, size);
    s3_delete_t d;
    char err[256];
    int rc = s3x_parse_delete((const char *)data, size, &d, err, sizeof(err));
    FUZZ_CHECK(rc == 0 || rc == -1, "rc %d", rc);
    if (rc == 0) {
        FUZZ_CHECK(d.n >= 1 && d.n <= S3_DELETE_MAX, "%zu keys", d.n);
        for (size_t i = 0; i < d.n; i++) {
            FUZZ_CHECK(strlen(d.keys[i]) <= S3_XML_TEXT_MAX, "key %zu too long", i);
            check_roundtrip(d.keys[i]);
        }
    } else {
        FUZZ_CHECK(err[0] != '\0', "a refusal without a reason");
    }
    s3_delete_dispose(&d);
    return 0;
}
