/*
 * fuzz_range.c - the Range header of an object GET (src/target/range.c range_parse).
 *
 * Input: the first byte picks the object size (small sizes, sizes around powers of two, and
 * INT64_MAX-ish ones), the rest is the header value. Properties: a satisfiable range lies
 * inside the object and is not empty (so the Content-Range the target writes, "bytes
 * off-(off+len-1)/size", is well formed); an empty object has no satisfiable range.
 */
#include "fuzz.h"

#include <stdint.h>

#include "target/internal.h"

static int64_t pick_size(uint8_t b)
{
    switch (b >> 6) {
    case 0:
        return b & 63; /* 0..63 */
    case 1:
        return ((int64_t)1 << (b & 62)) - (b & 1); /* 2^k and 2^k - 1 */
    case 2:
        return INT64_MAX - (b & 63);
    default:
        return (int64_t)(b & 63) * 1000003;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    int64_t objsize = pick_size(data[0]);
    char *h = fuzz_cstr(data + 1, size - 1);
    int64_t off = -1, len = -1;
    int rc = range_parse(h, objsize, &off, &len);
    FUZZ_CHECK(rc == 0 || rc == -1, "range_parse(\"%s\", %lld) = %d", h, (long long)objsize, rc);
    if (rc == 0) {
        FUZZ_CHECK(objsize > 0, "range \"%s\" satisfied on an empty object", h);
        FUZZ_CHECK(off >= 0 && len >= 1 && off < objsize && len <= objsize - off,
                   "range \"%s\" of %lld bytes gave off %lld len %lld", h, (long long)objsize,
                   (long long)off, (long long)len);
    }
    FUZZ_CHECK(range_parse(NULL, objsize, &off, &len) == 1, "no header is not 1");
    free(h);
    return 0;
}
