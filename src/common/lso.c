/*
 * lso.c - list-objects pages and their msgpack/JSON encodings (see lso.h).
 *
 * The msgpack layout is what Go's msgp generates for cmn.LsoRes/cmn.LsoEnt (cmn/objlist.go):
 * Go field names at the top level in declaration order, short tags in the entries in
 * declaration order (n, cs, a, v, t, m, s, c, f), omitempty fields left out of the map.
 * Integers use the smallest encoding; msgp writes non-negative int64 as signed (0xd0..0xd3)
 * where msgpack-c picks unsigned (0xcc..0xcf), which every decoder (msgspec included) treats
 * the same.
 *
 * The JSON layout follows Go's encoding/json of the same types; like Go ("size,string"),
 * the entry size is a JSON string. The decoder accepts a number too.
 */
#include "common/lso.h"

#include <errno.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lso_page_init(lso_page_t *p)
{
    memset(p, 0, sizeof(*p));
}

void lso_entry_dispose(lso_entry_t *e)
{
    free(e->name);
    free(e->checksum);
    free(e->atime);
    free(e->version);
    free(e->location);
    free(e->custom);
    memset(e, 0, sizeof(*e));
}

void lso_page_dispose(lso_page_t *p)
{
    for (size_t i = 0; i < p->n; i++)
        lso_entry_dispose(&p->entries[i]);
    free(p->entries);
    free(p->uuid);
    free(p->continuation_token);
    lso_page_init(p);
}

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

/* Appends an empty entry and returns it. */
static lso_entry_t *page_push(lso_page_t *p)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->entries = xrealloc(p->entries, p->cap * sizeof(*p->entries));
    }
    lso_entry_t *e = &p->entries[p->n++];
    memset(e, 0, sizeof(*e));
    return e;
}

void lso_page_add(lso_page_t *p, const lso_entry_t *e)
{
    lso_entry_t *d = page_push(p);
    d->name = xstrdup(e->name ? e->name : "");
    d->checksum = dup_or_null(e->checksum);
    d->atime = dup_or_null(e->atime);
    d->version = dup_or_null(e->version);
    d->location = dup_or_null(e->location);
    d->custom = dup_or_null(e->custom);
    d->size = e->size;
    d->copies = e->copies;
    d->flags = e->flags;
}

static int cmp_entry(const void *a, const void *b)
{
    const lso_entry_t *x = a, *y = b;
    return strcmp(x->name, y->name);
}

void lso_page_sort(lso_page_t *p)
{
    if (p->n > 1)
        qsort(p->entries, p->n, sizeof(*p->entries), cmp_entry);
}

static const struct {
    const char *name;
    int bit;
} props_table[] = {
    {"name", LSO_PROP_NAME},
    {"size", LSO_PROP_SIZE},
    {"version", LSO_PROP_VERSION},
    {"checksum", LSO_PROP_CHECKSUM},
    {"atime", LSO_PROP_ATIME},
    {"cached", LSO_PROP_CACHED},
    {"status", LSO_PROP_STATUS},
    {"copies", LSO_PROP_COPIES},
    {"ec", 0 /* accepted, no EC here */},
    {"custom", LSO_PROP_CUSTOM},
    {"location", LSO_PROP_LOCATION},
};

int lso_props_parse(const char *props)
{
    if (props == NULL)
        return LSO_PROP_DEFAULT;
    int mask = 0;
    bool any = false;
    const char *p = props;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *tok = p;
        while (len > 0 && (*tok == ' ' || *tok == '\t'))
            tok++, len--;
        while (len > 0 && (tok[len - 1] == ' ' || tok[len - 1] == '\t'))
            len--;
        if (len > 0) {
            size_t i;
            for (i = 0; i < ARRAY_SIZE(props_table); i++) {
                if (strlen(props_table[i].name) == len &&
                    memcmp(props_table[i].name, tok, len) == 0)
                    break;
            }
            if (i == ARRAY_SIZE(props_table))
                return -1;
            mask |= props_table[i].bit;
            any = true;
        }
        if (end == NULL)
            break;
        p = end + 1;
    }
    if (!any)
        return LSO_PROP_DEFAULT;
    return mask | LSO_PROP_NAME;
}

int lso_flags_parse(json_t *v, uint64_t *out)
{
    *out = 0;
    if (v == NULL || json_is_null(v))
        return 0;
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return 0;
    }
    if (!json_is_string(v))
        return -1;
    const char *t = json_string_value(v);
    size_t len = json_string_length(v); /* a JSON string may hold a NUL */
    if (len == 0)
        return 0;
    if (t[0] < '0' || t[0] > '9')
        return -1;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(t, &end, 10);
    if (end != t + len || errno)
        return -1;
    *out = x;
    return 0;
}

/*
 * msgpack
 */

static int pack_to_buf(void *data, const char *p, size_t n)
{
    buf_append(data, p, n);
    return 0;
}

static void pack_cstr(msgpack_packer *pk, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s ? s : "", n);
}

static bool has(const char *s)
{
    return s != NULL && s[0] != '\0';
}

static void pack_entry(msgpack_packer *pk, const lso_entry_t *e, int props)
{
    bool cs = (props & LSO_PROP_CHECKSUM) && has(e->checksum);
    bool at = (props & LSO_PROP_ATIME) && has(e->atime);
    bool ver = (props & LSO_PROP_VERSION) && has(e->version);
    bool loc = (props & LSO_PROP_LOCATION) && has(e->location);
    bool cus = (props & LSO_PROP_CUSTOM) && has(e->custom);
    bool sz = (props & LSO_PROP_SIZE) && e->size != 0;
    bool cp = (props & LSO_PROP_COPIES) && e->copies != 0;
    bool fl = e->flags != 0;

    msgpack_pack_map(pk, 1 + cs + at + ver + loc + cus + sz + cp + fl);
    pack_cstr(pk, "n");
    pack_cstr(pk, e->name);
    if (cs)
        pack_cstr(pk, "cs"), pack_cstr(pk, e->checksum);
    if (at)
        pack_cstr(pk, "a"), pack_cstr(pk, e->atime);
    if (ver)
        pack_cstr(pk, "v"), pack_cstr(pk, e->version);
    if (loc)
        pack_cstr(pk, "t"), pack_cstr(pk, e->location);
    if (cus)
        pack_cstr(pk, "m"), pack_cstr(pk, e->custom);
    if (sz)
        pack_cstr(pk, "s"), msgpack_pack_int64(pk, e->size);
    if (cp)
        pack_cstr(pk, "c"), msgpack_pack_int32(pk, e->copies);
    if (fl)
        pack_cstr(pk, "f"), msgpack_pack_uint32(pk, e->flags);
}

void lso_encode_msgpack(const lso_page_t *p, int props, buf_t *out)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, pack_to_buf);
    msgpack_pack_map(&pk, 4);
    pack_cstr(&pk, "UUID");
    pack_cstr(&pk, p->uuid);
    pack_cstr(&pk, "ContinuationToken");
    pack_cstr(&pk, p->continuation_token);
    pack_cstr(&pk, "Entries");
    msgpack_pack_array(&pk, p->n);
    for (size_t i = 0; i < p->n; i++)
        pack_entry(&pk, &p->entries[i], props);
    pack_cstr(&pk, "Flags");
    msgpack_pack_uint32(&pk, p->flags);
}

static bool mp_key_is(const msgpack_object *k, const char *s)
{
    size_t n = strlen(s);
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
           memcmp(k->via.str.ptr, s, n) == 0;
}

/* String or nil into *dst (replacing it). 0 or -1 on a type mismatch. */
static int mp_str(const msgpack_object *o, char **dst)
{
    free(*dst);
    *dst = NULL;
    if (o->type == MSGPACK_OBJECT_NIL)
        return 0;
    if (o->type == MSGPACK_OBJECT_STR)
        *dst = xstrndup(o->via.str.ptr, o->via.str.size);
    else if (o->type == MSGPACK_OBJECT_BIN)
        *dst = xstrndup(o->via.bin.ptr, o->via.bin.size);
    else
        return -1;
    return 0;
}

static int mp_int(const msgpack_object *o, int64_t *dst)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (o->via.u64 > (uint64_t)INT64_MAX)
            return -1;
        *dst = (int64_t)o->via.u64;
    } else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *dst = o->via.i64;
    } else if (o->type == MSGPACK_OBJECT_NIL) {
        *dst = 0;
    } else {
        return -1;
    }
    return 0;
}

static int mp_entry(const msgpack_object *o, lso_page_t *out)
{
    if (o->type != MSGPACK_OBJECT_MAP)
        return -1;
    lso_entry_t *e = page_push(out);
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key, *v = &o->via.map.ptr[i].val;
        int64_t x = 0;
        int rc = 0;
        if (mp_key_is(k, "n"))
            rc = mp_str(v, &e->name);
        else if (mp_key_is(k, "cs"))
            rc = mp_str(v, &e->checksum);
        else if (mp_key_is(k, "a"))
            rc = mp_str(v, &e->atime);
        else if (mp_key_is(k, "v"))
            rc = mp_str(v, &e->version);
        else if (mp_key_is(k, "t"))
            rc = mp_str(v, &e->location);
        else if (mp_key_is(k, "m"))
            rc = mp_str(v, &e->custom);
        else if (mp_key_is(k, "s"))
            rc = mp_int(v, &x), e->size = x;
        else if (mp_key_is(k, "c"))
            rc = mp_int(v, &x), e->copies = (int32_t)x;
        else if (mp_key_is(k, "f"))
            rc = mp_int(v, &x), e->flags = (uint32_t)x;
        if (rc < 0)
            return -1;
    }
    return e->name != NULL ? 0 : -1;
}

static int mp_page(const msgpack_object *o, lso_page_t *out)
{
    if (o->type != MSGPACK_OBJECT_MAP)
        return -1;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key, *v = &o->via.map.ptr[i].val;
        int64_t x = 0;
        if (mp_key_is(k, "UUID")) {
            if (mp_str(v, &out->uuid) < 0)
                return -1;
        } else if (mp_key_is(k, "ContinuationToken")) {
            if (mp_str(v, &out->continuation_token) < 0)
                return -1;
        } else if (mp_key_is(k, "Flags")) {
            if (mp_int(v, &x) < 0)
                return -1;
            out->flags = (uint32_t)x;
        } else if (mp_key_is(k, "Entries")) {
            if (v->type == MSGPACK_OBJECT_NIL)
                continue;
            if (v->type != MSGPACK_OBJECT_ARRAY)
                return -1;
            for (uint32_t j = 0; j < v->via.array.size; j++) {
                if (mp_entry(&v->via.array.ptr[j], out) < 0)
                    return -1;
            }
        }
    }
    return 0;
}

/* Big-endian unsigned of n bytes at p. */
static uint64_t mp_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Whether data[0..len) can be one msgpack object at all, judged from its headers alone: every
 * string, binary and extension fits in the input, and the objects that arrays and maps announce
 * (each at least one byte) fit in what is left. msgpack-c allocates the announced number of
 * elements before it reads them, so a 5-byte "map of 2^32 entries" would ask for 192 GiB. */
static bool mp_plausible(const uint8_t *p, size_t len)
{
    uint64_t pending = 1; /* objects still to come */
    size_t i = 0;
    while (pending > 0) {
        if (i >= len)
            return false;
        uint8_t b = p[i++];
        pending--;
        uint64_t elems = 0, skip = 0;
        size_t hdr = 0; /* bytes of the length that follow the type byte */
        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
            /* fixint, nil, bool */
        } else if (b <= 0x8f) {
            elems = 2 * (uint64_t)(b & 0x0f);
        } else if (b <= 0x9f) {
            elems = b & 0x0f;
        } else if (b <= 0xbf) {
            skip = b & 0x1f;
        } else if (b == 0xc4 || b == 0xd9) {
            hdr = 1;
        } else if (b == 0xc5 || b == 0xda || b == 0xdc || b == 0xde) {
            hdr = 2;
        } else if (b == 0xc6 || b == 0xdb || b == 0xdd || b == 0xdf) {
            hdr = 4;
        } else if (b >= 0xc7 && b <= 0xc9) {
            hdr = (size_t)1 << (b - 0xc7); /* ext 8/16/32: length, then a type byte */
            skip = 1;
        } else if (b == 0xca || b == 0xcb) {
            skip = b == 0xca ? 4 : 8;
        } else if (b >= 0xcc && b <= 0xd3) {
            skip = (uint64_t)1 << ((b - 0xcc) & 3);
        } else if (b >= 0xd4 && b <= 0xd8) {
            skip = 1 + ((uint64_t)1 << (b - 0xd4)); /* fixext: type byte and 1..16 bytes */
        } else {
            return false; /* 0xc1: never used */
        }
        if (hdr > len - i)
            return false;
        uint64_t n = mp_be(p + i, hdr);
        i += hdr;
        if (b == 0xdc || b == 0xdd)
            elems = n;
        else if (b == 0xde || b == 0xdf)
            elems = 2 * n;
        else if (hdr)
            skip += n;
        if (skip > len - i)
            return false;
        i += (size_t)skip;
        pending += elems;
        if (pending > len - i)
            return false;
    }
    return true;
}

int lso_decode_msgpack(const void *data, size_t len, lso_page_t *out)
{
    lso_page_init(out);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    int rc = -1;
    if (!mp_plausible(data, len) ||
        msgpack_unpack_next(&u, data, len, &off) != MSGPACK_UNPACK_SUCCESS || off != len)
        goto out;
    rc = mp_page(&u.data, out);
out:
    msgpack_unpacked_destroy(&u);
    if (rc < 0)
        lso_page_dispose(out);
    else if (out->continuation_token == NULL)
        out->continuation_token = xstrdup("");
    return rc;
}

/*
 * JSON
 */

static void json_set_str(json_t *o, const char *key, const char *s)
{
    json_t *v = json_string(s ? s : "");
    if (v == NULL) {
        /* Not UTF-8 (object names are bytes): jansson refuses it, and the entry would lose its
         * name. Go's encoding/json writes U+FFFD for each bad byte; so do we. */
        char *t = utf8_sanitize(s);
        v = json_string(t);
        free(t);
    }
    json_object_set_new(o, key, v);
}

json_t *lso_encode_json(const lso_page_t *p, int props)
{
    json_t *root = json_object();
    json_t *arr = json_array();
    json_set_str(root, "uuid", p->uuid);
    json_set_str(root, "continuation_token", p->continuation_token);
    for (size_t i = 0; i < p->n; i++) {
        const lso_entry_t *e = &p->entries[i];
        json_t *o = json_object();
        json_set_str(o, "name", e->name);
        if ((props & LSO_PROP_CHECKSUM) && has(e->checksum))
            json_set_str(o, "checksum", e->checksum);
        if ((props & LSO_PROP_ATIME) && has(e->atime))
            json_set_str(o, "atime", e->atime);
        if ((props & LSO_PROP_VERSION) && has(e->version))
            json_set_str(o, "version", e->version);
        if ((props & LSO_PROP_LOCATION) && has(e->location))
            json_set_str(o, "location", e->location);
        if ((props & LSO_PROP_CUSTOM) && has(e->custom))
            json_set_str(o, "custom-md", e->custom);
        if ((props & LSO_PROP_SIZE) && e->size != 0) {
            char num[32];
            snprintf(num, sizeof(num), "%lld", (long long)e->size);
            json_set_str(o, "size", num);
        }
        if ((props & LSO_PROP_COPIES) && e->copies != 0)
            json_object_set_new(o, "copies", json_integer(e->copies));
        if (e->flags != 0)
            json_object_set_new(o, "flags", json_integer(e->flags));
        json_array_append_new(arr, o);
    }
    json_object_set_new(root, "entries", arr);
    json_object_set_new(root, "flags", json_integer(p->flags));
    return root;
}

/* The first of two alternative keys that is present. */
static json_t *json_get2(json_t *o, const char *a, const char *b)
{
    json_t *v = json_object_get(o, a);
    return v ? v : json_object_get(o, b);
}

static int js_str(json_t *o, const char *a, const char *b, char **dst)
{
    json_t *v = json_get2(o, a, b);
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return -1;
    free(*dst);
    *dst = xstrndup(json_string_value(v), json_string_length(v));
    return 0;
}

/* Integer or decimal string (Go's ",string" option). */
static int js_int(json_t *o, const char *a, const char *b, int64_t *dst)
{
    json_t *v = json_get2(o, a, b);
    if (v == NULL || json_is_null(v))
        return 0;
    if (json_is_integer(v)) {
        *dst = json_integer_value(v);
        return 0;
    }
    if (!json_is_string(v))
        return -1;
    const char *s = json_string_value(v);
    char *end;
    long long x = strtoll(s, &end, 10);
    if (*s == '\0' || *end != '\0')
        return -1;
    *dst = x;
    return 0;
}

static int js_entry(json_t *o, lso_page_t *out)
{
    if (!json_is_object(o))
        return -1;
    lso_entry_t *e = page_push(out);
    int64_t size = 0, copies = 0, flags = 0;
    if (js_str(o, "name", "n", &e->name) < 0 || js_str(o, "checksum", "cs", &e->checksum) < 0 ||
        js_str(o, "atime", "a", &e->atime) < 0 || js_str(o, "version", "v", &e->version) < 0 ||
        js_str(o, "location", "t", &e->location) < 0 ||
        js_str(o, "custom-md", "m", &e->custom) < 0 || js_int(o, "size", "s", &size) < 0 ||
        js_int(o, "copies", "c", &copies) < 0 || js_int(o, "flags", "f", &flags) < 0)
        return -1;
    e->size = size;
    e->copies = (int32_t)copies;
    e->flags = (uint32_t)flags;
    return e->name != NULL ? 0 : -1;
}

int lso_decode_json(json_t *j, lso_page_t *out)
{
    lso_page_init(out);
    int64_t flags = 0;
    if (!json_is_object(j))
        goto fail;
    if (js_str(j, "uuid", "UUID", &out->uuid) < 0 ||
        js_str(j, "continuation_token", "ContinuationToken", &out->continuation_token) < 0 ||
        js_int(j, "flags", "Flags", &flags) < 0)
        goto fail;
    out->flags = (uint32_t)flags;
    json_t *arr = json_get2(j, "entries", "Entries");
    if (arr != NULL && !json_is_null(arr)) {
        if (!json_is_array(arr))
            goto fail;
        size_t i;
        json_t *v;
        json_array_foreach(arr, i, v)
        {
            if (js_entry(v, out) < 0)
                goto fail;
        }
    }
    if (out->continuation_token == NULL)
        out->continuation_token = xstrdup("");
    return 0;
fail:
    lso_page_dispose(out);
    return -1;
}
