/*
 * fuzz_moss.c - the GetBatch request body (src/common/moss.c moss_req_parse), which proxies and
 * targets parse from any client.
 *
 * Input: the JSON body; the first byte says whether the URL named a bucket. Properties: a parsed
 * request has 1..MOSS_MAX_IN entries, every entry's bucket and object name pass the names check,
 * an archpath is a valid relative name, the range follows AIStore's rules, and every member name
 * of the answer can be made.
 */
#include "fuzz.h"

#include <stdint.h>

#include "common/moss.h"
#include "common/names.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
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
