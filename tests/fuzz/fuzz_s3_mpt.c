/*
 * fuzz_s3_mpt.c - the S3 API's CompleteMultipartUpload bodies (src/s3/xml.c s3x_parse_complete),
 * as clients send them to the proxy.
 *
 * Input: the request body. Properties: a parse succeeds with 1..S3_PARTS_MAX parts, each with a
 * part number in 1..S3_PARTS_MAX and an ETag of 32 lowercase hex digits; the parts written back
 * as a body (quoted ETags, as clients send them) parse to the same list; a refusal has a reason.
 */
#include "fuzz.h"

#include "s3/xml.h"

static void check_roundtrip(const s3_complete_t *c)
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    s3_complete_t c;
    char err[256] = "";
    int rc = s3x_parse_complete((const char *)data, size, &c, err, sizeof(err));
    FUZZ_CHECK(rc == 0 || rc == -1, "rc %d", rc);
    if (rc == 0) {
        FUZZ_CHECK(c.n >= 1 && c.n <= S3_PARTS_MAX, "%zu parts", c.n);
        for (size_t i = 0; i < c.n; i++) {
            FUZZ_CHECK(c.parts[i].num >= 1 && c.parts[i].num <= S3_PARTS_MAX, "part number %d",
                       c.parts[i].num);
            FUZZ_CHECK(strlen(c.parts[i].etag) == 32 &&
                           strspn(c.parts[i].etag, "0123456789abcdef") == 32,
                       "ETag \"%s\"", c.parts[i].etag);
        }
        check_roundtrip(&c);
    } else {
        FUZZ_CHECK(err[0] != '\0', "a refusal without a reason");
    }
    s3_complete_dispose(&c);
    return 0;
}
