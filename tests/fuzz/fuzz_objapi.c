/*
 * fuzz_objapi.c - the object API's parsers of client messages: the body of mpt-complete
 * (target/objapi.c mpt_parts_parse, and mpt_s3_parse for the S3 API's complete) and AIStore's
 * PromoteArgs (common/promote.c promote_args_parse, which the proxy and the targets run on a
 * client's promote message).
 *
 * Input: byte 0 modulo 3 picks the parser (0: mpt-complete, 1: promote, 2: the S3 complete), the
 * rest is the JSON body. Properties: a parts list is 1..10000 parts and a rejected one has a
 * message; an S3 list is strictly ascending with 32-hex-digit ETags; accepted
 * PromoteArgs have an absolute source without "." or ".." elements or control characters, a
 * valid object name (or prefix) and target id, and a rejected one has a message and no fields.
 */
#include "fuzz.h"

#include <string.h>

#include "common/names.h"
#include "common/promote.h"
#include "target/internal.h"

static void check_src(const char *s)
{
    FUZZ_CHECK(s[0] == '/', "relative source \"%s\"", s);
    for (const char *p = s; *p; p++)
        FUZZ_CHECK((unsigned char)*p >= 0x20 && *p != 0x7f, "control character in \"%s\"", s);
    FUZZ_CHECK(strstr(s, "/../") == NULL && strstr(s, "/./") == NULL, "dot element in \"%s\"", s);
    size_t n = strlen(s);
    FUZZ_CHECK(!(n >= 3 && strcmp(s + n - 3, "/..") == 0) &&
                   !(n >= 2 && strcmp(s + n - 2, "/.") == 0),
               "dot element at the end of \"%s\"", s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    char err[512] = "";
    if (data[0] % 3 == 2) {
        mpt_s3_parts_t p;
        int rc = mpt_s3_parse(body, len, &p, err, sizeof(err));
        FUZZ_CHECK(rc == 0 || ((rc == -1 || rc == -2) && err[0]), "rc %d without a message", rc);
        for (int i = 0; rc == 0 && i < p.n; i++) {
            FUZZ_CHECK(p.num[i] >= 1 && p.num[i] <= MPT_MAX_PARTS, "part %d", p.num[i]);
            FUZZ_CHECK(i == 0 || p.num[i] > p.num[i - 1], "not ascending at %d", i);
            FUZZ_CHECK(strlen(p.etag[i]) == 32 && strspn(p.etag[i], "0123456789abcdef") == 32,
                       "ETag \"%s\"", p.etag[i]);
        }
        FUZZ_CHECK(rc != 0 || (p.n >= 1 && p.n <= MPT_MAX_PARTS), "%d parts", p.n);
        mpt_s3_dispose(&p);
        return 0;
    }
    if (data[0] % 3 == 0) {
        int n = mpt_parts_parse(body, len, err, sizeof(err));
        FUZZ_CHECK(n == -1 || (n >= 1 && n <= MPT_MAX_PARTS), "%d parts", n);
        FUZZ_CHECK(n > 0 || err[0], "rejected without a message");
        return 0;
    }
    json_t *j = json_loadb(body, len, 0, NULL);
    promote_args_t a;
    int rc = promote_args_parse(j, &a, err, sizeof(err));
    if (rc == 0) {
        check_src(a.src);
        size_t on = strlen(a.obj);
        FUZZ_CHECK(on == 0 || on == 1 ||
                       name_check_object(a.obj, a.obj[on - 1] == '/' ? on - 1 : on) == NULL,
                   "invalid object name \"%s\"", a.obj);
        FUZZ_CHECK(a.tid[0] == '\0' || name_check_bucket(a.tid) == NULL, "invalid tid \"%s\"",
                   a.tid);
        char *name = promote_obj_name("/x/y/z", "", a.obj);
        FUZZ_CHECK(name != NULL, "no name");
        free(name);
    } else {
        FUZZ_CHECK(err[0] && a.src == NULL && a.obj == NULL && a.tid == NULL,
                   "rejected without a message, or with fields");
    }
    promote_args_dispose(&a);
    json_decref(j);
    return 0;
}
