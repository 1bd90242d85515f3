/*
 * fuzz_moss_frames.c - the framed answer of GET /v1/internal/moss (src/target/moss.c
 * moss_frame_next): "<status> <length>\n<bytes>" per GetBatch entry, from another target.
 *
 * Input: the answer's bytes. Properties: every frame's status is 200..599, its bytes lie inside
 * the input, the cursor only moves forward, and parsing stops at the first malformed frame.
 */
#include "fuzz.h"

#include <stdint.h>

#include "target/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size ? size : 1); /* exactly size bytes: ASan sees any overread */
    if (copy == NULL)
        abort();
    memcpy(copy, data, size);
    const char *p = copy, *end = copy + size;
    for (int k = 0; k < 100000; k++) {
        const char *before = p, *d;
        int64_t len;
        int st = moss_frame_next(&p, end, &d, &len);
        if (st < 0) {
            FUZZ_CHECK(p == before, "the cursor moved on a malformed frame");
            break;
        }
        FUZZ_CHECK(st >= 200 && st <= 599, "status %d", st);
        FUZZ_CHECK(d > before && len >= 0 && d + len <= end && p == d + len,
                   "frame bytes outside the input");
    }
    free(copy);
    return 0;
}
