/*
 * fuzz_lso.c - list-objects pages (src/common/lso.c): the msgpack decoder that liblocus and the
 * SDK-compatible clients run on a proxy's answer, and the JSON codec of the pages targets send
 * to proxies.
 *
 * The input is a msgpack page. Properties: a page that decodes re-encodes (all props) to
 * msgpack that decodes to the same page (empty strings and absent fields are the same thing, as
 * msgp's omitempty makes them); its JSON encoding decodes to as many entries, the same ones
 * when its strings are valid UTF-8. The input is also given to the JSON decoder as JSON text,
 * and to the LsoMsg flags parser as a string (taken only when all digits).
 */
#include "fuzz.h"

#include <jansson.h>

#include "common/lso.h"

#define ALL_PROPS 0x3ff

static const char *nz(const char *s)
{
    return s ? s : "";
}

static bool same_str(const char *a, const char *b)
{
    return strcmp(nz(a), nz(b)) == 0;
}

static bool page_utf8(const lso_page_t *p)
{
    const char *s[] = {p->uuid, p->continuation_token};
    for (size_t i = 0; i < 2; i++)
        if (!fuzz_utf8_valid(nz(s[i]), strlen(nz(s[i]))))
            return false;
    for (size_t i = 0; i < p->n; i++) {
        const lso_entry_t *e = &p->entries[i];
        const char *f[] = {e->name, e->checksum, e->atime, e->version, e->location, e->custom};
        for (size_t k = 0; k < 6; k++)
            if (!fuzz_utf8_valid(nz(f[k]), strlen(nz(f[k]))))
                return false;
    }
    return true;
}

static void check_same(const lso_page_t *a, const lso_page_t *b, const char *how)
{
    FUZZ_CHECK(a->n == b->n, "%s: %zu entries became %zu", how, a->n, b->n);
    FUZZ_CHECK(same_str(a->uuid, b->uuid), "%s: uuid", how);
    FUZZ_CHECK(same_str(a->continuation_token, b->continuation_token), "%s: token", how);
    FUZZ_CHECK(a->flags == b->flags, "%s: flags", how);
    for (size_t i = 0; i < a->n; i++) {
        const lso_entry_t *x = &a->entries[i], *y = &b->entries[i];
        FUZZ_CHECK(strcmp(x->name, y->name) == 0, "%s: entry %zu name \"%s\" vs \"%s\"", how, i,
                   x->name, y->name);
        FUZZ_CHECK(same_str(x->checksum, y->checksum) && same_str(x->atime, y->atime) &&
                       same_str(x->version, y->version) && same_str(x->location, y->location) &&
                       same_str(x->custom, y->custom),
                   "%s: entry %zu strings", how, i);
        FUZZ_CHECK(x->size == y->size && x->copies == y->copies && x->flags == y->flags,
                   "%s: entry %zu numbers", how, i);
    }
}

static void check_msgpack(const lso_page_t *p)
{
    buf_t out;
    buf_init(&out);
    lso_encode_msgpack(p, ALL_PROPS, &out);
    lso_page_t q;
    FUZZ_CHECK(lso_decode_msgpack(out.base, out.len, &q) == 0, "re-encoded page does not decode");
    check_same(p, &q, "msgpack");
    lso_page_dispose(&q);
    buf_dispose(&out);
}

static void check_json(const lso_page_t *p)
{
    json_t *j = lso_encode_json(p, ALL_PROPS);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    FUZZ_CHECK(text != NULL, "JSON page does not serialize");
    json_t *back = json_loads(text, 0, NULL);
    FUZZ_CHECK(back != NULL, "JSON page does not parse: %s", text);
    lso_page_t q;
    FUZZ_CHECK(lso_decode_json(back, &q) == 0, "JSON page does not decode: %s", text);
    if (page_utf8(p))
        check_same(p, &q, "json");
    else
        FUZZ_CHECK(q.n == p->n, "json: %zu entries became %zu", p->n, q.n);
    lso_page_dispose(&q);
    json_decref(back);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lso_page_t p;
    if (lso_decode_msgpack(data, size, &p) == 0) {
        FUZZ_CHECK(p.continuation_token != NULL, "no continuation token after decoding");
        for (size_t i = 0; i < p.n; i++)
            FUZZ_CHECK(p.entries[i].name != NULL, "entry %zu without a name", i);
        check_msgpack(&p);
        check_json(&p);
        lso_page_sort(&p);
        lso_page_dispose(&p);
    } else {
        FUZZ_CHECK(p.n == 0 && p.entries == NULL, "failed decode left entries");
    }
    json_t *j = json_loadb((const char *)data, size, 0, NULL);
    if (j != NULL) {
        if (lso_decode_json(j, &p) == 0)
            lso_page_dispose(&p);
        json_decref(j);
    }
    /* LsoMsg.flags as the string a client sent: taken only when it is all digits */
    json_t *fs = json_stringn_nocheck((const char *)data, size);
    uint64_t fl;
    if (fs != NULL && lso_flags_parse(fs, &fl) == 0)
        for (size_t i = 0; i < size; i++)
            FUZZ_CHECK(data[i] >= '0' && data[i] <= '9', "flags \"%.*s\" taken", (int)size,
                       (const char *)data);
    json_decref(fs);
    return 0;
}
