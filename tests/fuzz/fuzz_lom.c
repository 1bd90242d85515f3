/*
 * fuzz_lom.c - object metadata from outside the process: the xattr value of an object file
 * (target/lom.c lom_md_decode) and the Locus-Lom header of an object another target moves here
 * (target/rebalance.c reb_lom_parse: URL-decoding, then the same decoder).
 *
 * Input: the first byte picks the parser (even: the xattr bytes, odd: the header value as a C
 * string). Properties: a decoded record has a size >= 0 and NUL-terminated checksum strings, and
 * encoding it and decoding that gives the same record back; the xattr decoder (which reads its
 * own layout without the JSON parser) agrees with the general JSON decoder on every input that
 * is not the binary form, and the binary form of a record decodes to the same record.
 */
#include "fuzz.h"

#include <string.h>

#include "target/lom.h"
#include "target/rebalance.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    lom_md_t md, again;
    int rc;
    if ((data[0] & 1) == 0) {
        rc = lom_md_decode((const char *)data + 1, size - 1, &md);
        lom_md_t json;
        int rj = lom_md_decode_json((const char *)data + 1, size - 1, &json);
        FUZZ_CHECK(size < 2 || data[1] == 'L' || /* the binary form ('L' starts no JSON) */
                       (rc == rj && json.size == md.size && json.version == md.version &&
                        json.atime_ns == md.atime_ns && strcmp(json.cs_type, md.cs_type) == 0 &&
                        strcmp(json.cs_val, md.cs_val) == 0),
                   "the two decoders disagree on %.*s", (int)size - 1, (const char *)data + 1);
        lom_md_dispose(&json);
    } else {
        char *h = fuzz_cstr(data + 1, size - 1);
        rc = reb_lom_parse(h, &md);
        free(h);
    }
    if (rc != 0) {
        lom_md_dispose(&md);
        return 0;
    }
    FUZZ_CHECK(md.size >= 0, "negative size %lld", (long long)md.size);
    FUZZ_CHECK(memchr(md.cs_type, 0, sizeof(md.cs_type)) && memchr(md.cs_val, 0, sizeof(md.cs_val)),
               "checksum strings not terminated");
    buf_t b;
    buf_init(&b);
    lom_md_encode(&md, &b);
    FUZZ_CHECK(lom_md_decode(b.base, b.len, &again) == 0, "re-decoding %.*s failed", (int)b.len,
               b.base);
    FUZZ_CHECK(again.size == md.size && again.version == md.version &&
                   again.atime_ns == md.atime_ns && strcmp(again.cs_type, md.cs_type) == 0 &&
                   strcmp(again.cs_val, md.cs_val) == 0 &&
                   (again.custom == NULL) == (md.custom == NULL) &&
                   (md.custom == NULL || json_equal(again.custom, md.custom)),
               "round trip changed %.*s", (int)b.len, b.base);
    buf_dispose(&b);
    lom_md_dispose(&again);
    uint8_t bin[LOM_MD_BIN_LEN];
    if (lom_md_encode_bin(&md, bin)) {
        FUZZ_CHECK(lom_md_decode((const char *)bin, sizeof(bin), &again) == 0 &&
                       again.size == md.size && again.version == md.version &&
                       again.atime_ns == md.atime_ns && strcmp(again.cs_type, md.cs_type) == 0 &&
                       strcmp(again.cs_val, md.cs_val) == 0 && again.custom == NULL,
                   "binary round trip changed the record");
        lom_md_dispose(&again);
    }
    lom_md_dispose(&md);
    return 0;
}
