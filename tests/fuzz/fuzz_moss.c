/*
 * fuzz_moss.c - GetBatch's two parsers: the request body (src/common/moss.c moss_req_parse),
 * which proxies and targets parse from any client, and the header line of each frame of another
 * target's streamed answer of GET /v1/internal/moss (src/common/moss.c moss_frame_hdr). One
 * harness for both keeps the smoke run short.
 *
 * Input: the first byte picks the parser (bit 1: frames) and, for the body, whether the URL
 * named a bucket (bit 0); the rest is the JSON body or the answer's bytes.
 * Body: a parsed request has 1..MOSS_MAX_IN entries, every entry's bucket and object name pass
 * the names check, an archpath is a valid relative name, the range follows AIStore's rules, and
 * every member name of the answer can be made.
 * Frames: read as the assembling target reads a stream (a header line of at most
 * MOSS_FRAME_HDR_MAX bytes, then its length of bytes); a parsed header has a status 200 or
 * 400..599, a length >= 0, an error frame's length within MOSS_FRAME_ERR_MAX, and its line is
 * only digits and the one space.
 */
#include "fuzz.h"

#include <stdint.h>

#include "common/moss.h"
#include "common/names.h"

static void frames(const uint8_t *data, size_t size)
{
    size_t at = 0;
    for (int k = 0; k < 100000 && at < size; k++) {
        const uint8_t *nl = memchr(data + at, '\n', size - at);
        size_t n = nl ? (size_t)(nl - (data + at)) : size - at;
        if (nl == NULL || n > MOSS_FRAME_HDR_MAX)
            break;                      /* the reader's line buffer refuses it before parsing */
        char *line = malloc(n ? n : 1); /* exactly n bytes: ASan sees any overread */
        if (line == NULL)
            abort();
        memcpy(line, data + at, n);
        int64_t len = -1;
        int st = moss_frame_hdr(line, n, &len);
        if (st >= 0) {
            FUZZ_CHECK(st == 200 || (st >= 400 && st <= 599), "status %d", st);
            FUZZ_CHECK(len >= 0, "length %lld", (long long)len);
            FUZZ_CHECK(st == 200 || len <= MOSS_FRAME_ERR_MAX, "error text of %lld bytes",
                       (long long)len);
            for (size_t i = 0; i < n; i++)
                FUZZ_CHECK(i == 3 ? line[i] == ' ' : (line[i] >= '0' && line[i] <= '9'),
                           "byte %zu of a parsed header line", i);
        }
        free(line);
        if (st < 0 || (uint64_t)len > size - at - n - 1)
            break; /* malformed, or the stream ends before the frame's bytes */
        at += n + 1 + (size_t)len;
    }
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
