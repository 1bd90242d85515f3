/*
 * fuzz_moss.c - GetBatch's two parsers: the request body (src/common/moss.c moss_req_parse),
 * which proxies and targets parse from any client, and the framed answer of another target's
 * GET /v1/internal/moss (src/target/moss.c moss_frame_next). One harness for both keeps the
 * smoke run short.
 *
 * Input: the first byte picks the parser (bit 1: frames) and, for the body, whether the URL
 * named a bucket (bit 0); the rest is the JSON body or the answer's bytes.
 * Body: a parsed request has 1..MOSS_MAX_IN entries, every entry's bucket and object name pass
 * the names check, an archpath is a valid relative name, the range follows AIStore's rules, and
 * every member name of the answer can be made.
 * Frames: status 200..599, every frame's bytes inside the input, the cursor moves forward only,
 * and not on a malformed frame.
 */
#include "fuzz.h"

#include <stdint.h>

#include "common/moss.h"
#include "common/names.h"
#include "target/internal.h"

static void frames(const uint8_t *data, size_t size)
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
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] & 2) {
        frames(data + 1, size - 1);
        return 0;
    }
    const char *bck = data[0] & 1 ? "b" : NULL;
    moss_req_t r;
    char err[1024];
    int rc = moss_req_parse((const char *)data + 1, size - 1, bck, &r, err, sizeof(err));
    FUZZ_CHECK(rc == 0 || rc == -1, "moss_req_parse = %d", rc);
    if (rc == 0) {
        FUZZ_CHECK(r.n >= 1 && r.n <= MOSS_MAX_IN, "%zu entries", r.n);
        FUZZ_CHECK(r.mime != NULL, "no mime");
        for (size_t i = 0; i < r.n; i++) {
            const moss_in_t *in = &r.in[i];
            FUZZ_CHECK(name_check(in->bucket, in->objname) == NULL, "bad name %s/%s", in->bucket,
                       in->objname);
            FUZZ_CHECK(!in->archpath ||
                           name_check_object(in->archpath, strlen(in->archpath)) == NULL,
                       "bad archpath %s", in->archpath);
            FUZZ_CHECK(in->start >= 0 && in->length >= -1 && !(in->start && !in->length),
                       "bad range %lld,%lld", (long long)in->start, (long long)in->length);
            char *n = moss_name_in_arch(&r, in, i & 1);
            free(n);
        }
    } else {
        FUZZ_CHECK(err[0] != '\0', "no reason for a refused request");
    }
    moss_req_dispose(&r);
    return 0;
}
