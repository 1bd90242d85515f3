/*
 * fuzz_s3_xml.c - the S3 API's XML (src/s3/xml.c): DeleteObjects bodies as clients send them
 * (s3x_parse_delete), and the escaping of the names our answers carry.
 *
 * Input: the request body. Properties: a parse succeeds with 1..S3_DELETE_MAX keys, each at
 * most S3_XML_TEXT_MAX bytes; each key, escaped with s3x_esc into a new body, parses back to
 * the same key (what we write, clients read back unchanged); an escaped text holds no raw
 * markup character.
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
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
