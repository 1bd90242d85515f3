/*
 * fuzz_s3_chunked.c - the S3 API's aws-chunked body decoder (src/s3/chunked.c), on the bytes
 * a client sends as a PUT or UploadPart body.
 *
 * Input: byte 0 picks the mode (bits 0-1: unsigned with trailer, signed, signed with trailer),
 * the announced checksum (bits 2-4: none, crc32, crc32c, sha1, sha256) and whether signatures are
 * checked (bit 5, against a fixed key); byte 1 the size of the pieces the body arrives in; the
 * rest is the body. Properties: the decoded bytes never exceed the declared length; the outcome
 * and the decoded bytes are the same whatever the pieces (one call or many); an accepted body
 * decoded exactly up to its end; a refusal has a code and a reason.
 */
#include "fuzz.h"

#include "s3/chunked.h"

#define MAX_DECODED 4096

typedef struct {
    unsigned char out[MAX_DECODED];
    size_t n;
} sink_t;

static int emit(void *arg, const void *p, size_t n)
{
    sink_t *s = arg;
    FUZZ_CHECK(s->n + n <= MAX_DECODED, "decoded past the declared length");
    memcpy(s->out + s->n, p, n);
    s->n += n;
    return 0;
}

/* Decodes body in pieces of step bytes (0: at once). rc of the feeds and finish, out in s. */
static int decode(uint8_t sel, const char *body, size_t len, size_t step, sink_t *s)
{
    static const char *const modes[] = {
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"};
    static const char *const cks[] = {NULL,
                                      "x-amz-checksum-crc32",
                                      "x-amz-checksum-crc32c",
                                      "x-amz-checksum-sha1",
                                      "x-amz-checksum-sha256",
                                      "x-amz-checksum-crc64nvme",
                                      "X-Amz-Checksum-CRC32",
                                      ""};
    s3_chain_t chain = {.date = "20260101T000000Z", .scope = "20260101/us-east-1/s3/aws4_request"};
    memset(chain.prev, 'a', 64);
    s3_chunked_t d;
    int rc = s3_chunked_init(&d, modes[sel & 3], cks[(sel >> 2) & 7], sel & 32 ? &chain : NULL,
                             MAX_DECODED);
    for (size_t i = 0; rc == 0 && i < len; i += step ? step : len)
        rc = s3_chunked_feed(&d, body + i, step && len - i > step ? step : len - i, emit, s);
    if (rc == 0)
        rc = s3_chunked_finish(&d);
    FUZZ_CHECK(rc == 0 || (d.code && d.err[0]), "a refusal without a code or a reason");
    FUZZ_CHECK(d.total == (int64_t)s->n && d.total <= MAX_DECODED, "decoded %lld, emitted %zu",
               (long long)d.total, s->n);
    s3_chunked_dispose(&d);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    const char *body = (const char *)data + 2;
    size_t len = size - 2;
    static sink_t whole, pieces;
    whole.n = pieces.n = 0;
    int a = decode(data[0], body, len, 0, &whole);
    int b = decode(data[0], body, len, (size_t)(data[1] % 17) + 1, &pieces);
    FUZZ_CHECK(a == b, "one call: %d, in pieces of %d: %d", a, data[1] % 17 + 1, b);
    if (a == 0)
        FUZZ_CHECK(whole.n == pieces.n && memcmp(whole.out, pieces.out, whole.n) == 0,
                   "the pieces decode to other bytes");
    return 0;
}
