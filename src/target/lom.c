/*
 * lom.c - local object metadata codec and its xattr storage (see lom.h).
 *
 * On the wire (and in the xattr when it has custom metadata or an unusual checksum) the value
 * is compact JSON with keys in a fixed order, e.g.
 *   {"v":1,"size":5,"cs_type":"xxhash","cs_val":"26c7827d889f6da3","ver":1,
 *    "atime":1700000000000000000,"custom":{"k":"v"}}
 * Unknown keys are ignored on decode so later versions can add fields.
 *
 * In the xattr, a record without custom metadata whose checksum is xxhash or none is stored in
 * LOM_MD_BIN_LEN bytes instead (lom.h): small enough for ext4 to keep it inside the inode (up
 * to 64 bytes with 256-byte inodes). The ~105-byte JSON took a 4 KiB block of its own per
 * object: a 4 KiB object used 8 KiB of disk, and every GET read that block's metadata.
 */
#include "target/lom.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#define LOM_MD_VERSION 1

void lom_md_init(lom_md_t *md)
{
    memset(md, 0, sizeof(*md));
}

void lom_md_dispose(lom_md_t *md)
{
    if (md->custom)
        json_decref(md->custom);
    lom_md_init(md);
}

void lom_md_encode(const lom_md_t *md, buf_t *out)
{
    json_t *o = json_object();
    json_object_set_new(o, "v", json_integer(LOM_MD_VERSION));
    json_object_set_new(o, "size", json_integer(md->size));
    json_object_set_new(o, "cs_type", json_string(md->cs_type));
    json_object_set_new(o, "cs_val", json_string(md->cs_val));
    json_object_set_new(o, "ver", json_integer(md->version));
    json_object_set_new(o, "atime", json_integer(md->atime_ns));
    if (md->custom && json_is_object(md->custom) && json_object_size(md->custom) > 0)
        json_object_set(o, "custom", md->custom);
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (s == NULL)
        locus_panic("json_dumps failed encoding object metadata");
    buf_puts(out, s);
    free(s);
}

/* Copies a JSON string into a fixed buffer; -1 if it is not a string or does not fit. */
static int copy_str(json_t *v, char *dst, size_t cap)
{
    if (v == NULL)
        return 0;
    if (!json_is_string(v) || json_string_length(v) >= cap)
        return -1;
    memcpy(dst, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

static int get_int(json_t *o, const char *key, int64_t *dst, bool required)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL)
        return required ? -1 : 0;
    if (!json_is_integer(v))
        return -1;
    *dst = json_integer_value(v);
    return 0;
}

int lom_md_decode_json(const char *data, size_t len, lom_md_t *md)
{
    lom_md_init(md);
    json_t *o = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL);
    if (o == NULL)
        return -1;
    int64_t v = 0;
    if (!json_is_object(o) || get_int(o, "v", &v, true) < 0 || v != LOM_MD_VERSION)
        goto fail;
    if (get_int(o, "size", &md->size, true) < 0 || md->size < 0 ||
        get_int(o, "ver", &md->version, false) < 0 ||
        get_int(o, "atime", &md->atime_ns, false) < 0 ||
        copy_str(json_object_get(o, "cs_type"), md->cs_type, sizeof(md->cs_type)) < 0 ||
        copy_str(json_object_get(o, "cs_val"), md->cs_val, sizeof(md->cs_val)) < 0)
        goto fail;
    json_t *custom = json_object_get(o, "custom");
    if (custom != NULL && !json_is_null(custom)) {
        if (!json_is_object(custom))
            goto fail;
        const char *k;
        json_t *val;
        json_object_foreach(custom, k, val)
        {
            if (!json_is_string(val))
                goto fail;
        }
        if (json_object_size(custom) > 0)
            md->custom = json_incref(custom);
    }
    json_decref(o);
    return 0;
fail:
    json_decref(o);
    lom_md_dispose(md);
    return -1;
}

/* The fast path of a GET: the encoder's own layout without custom metadata, read in place (a
 * JSON parse is ~2 us and a dozen allocations, a 4 KiB GET's whole budget is ~40). Anything
 * else, even valid JSON in another order, is left to the JSON decoder: false here. */
typedef struct {
    const char *p, *end;
} cursor_t;

static bool take(cursor_t *c, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, lit, n) != 0)
        return false;
    c->p += n;
    return true;
}

/* A JSON integer >= 0 that fits int64 (no sign, no leading zero, no fraction). */
static bool take_uint(cursor_t *c, int64_t *out)
{
    const char *start = c->p;
    uint64_t v = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        unsigned d = (unsigned)(*c->p++ - '0');
        if (v > ((uint64_t)INT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (c->p == start || (*start == '0' && c->p - start > 1))
        return false;
    *out = (int64_t)v;
    return true;
}

/* A JSON string of printable ASCII without escapes, shorter than cap, into dst. */
static bool take_str(cursor_t *c, char *dst, size_t cap)
{
    if (!take(c, "\""))
        return false;
    const char *start = c->p;
    while (c->p < c->end && *c->p != '"') {
        unsigned char ch = (unsigned char)*c->p++;
        if (ch < 0x20 || ch > 0x7e || ch == '\\')
            return false;
    }
    size_t n = (size_t)(c->p - start);
    if (c->p == c->end || n >= cap)
        return false;
    memcpy(dst, start, n);
    dst[n] = '\0';
    c->p++;
    return true;
}

static bool decode_compact(const char *data, size_t len, lom_md_t *md)
{
    cursor_t c = {data, data + len};
    int64_t v;
    lom_md_init(md);
    return take(&c, "{\"v\":") && take_uint(&c, &v) && v == LOM_MD_VERSION &&
           take(&c, ",\"size\":") && take_uint(&c, &md->size) && take(&c, ",\"cs_type\":") &&
           take_str(&c, md->cs_type, sizeof(md->cs_type)) && take(&c, ",\"cs_val\":") &&
           take_str(&c, md->cs_val, sizeof(md->cs_val)) && take(&c, ",\"ver\":") &&
           take_uint(&c, &md->version) && take(&c, ",\"atime\":") && take_uint(&c, &md->atime_ns) &&
           take(&c, "}") && c.p == c.end;
}

/* The binary form: 'L', 2, checksum type (0: "", 1: xxhash, 2: none), then little-endian
 * int64 size, version, atime and the XXH64 value (0 unless xxhash). */
enum { BIN_MAGIC = 'L', BIN_FORMAT = 2, CS_EMPTY = 0, CS_XXHASH = 1, CS_NONE = 2 };

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* 16 lowercase hex digits (how the store writes an XXH64) into v. */
static bool parse_hex64(const char *s, uint64_t *v)
{
    if (strlen(s) != 16)
        return false;
    *v = 0;
    for (int i = 0; i < 16; i++) {
        char ch = s[i];
        unsigned d = ch >= '0' && ch <= '9'   ? (unsigned)(ch - '0')
                     : ch >= 'a' && ch <= 'f' ? (unsigned)(ch - 'a' + 10)
                                              : 16u;
        if (d > 15)
            return false;
        *v = *v << 4 | d;
    }
    return true;
}

bool lom_md_encode_bin(const lom_md_t *md, uint8_t out[LOM_MD_BIN_LEN])
{
    uint64_t cs = 0;
    int type;
    if (md->custom != NULL && json_object_size(md->custom) > 0)
        return false;
    if (strcmp(md->cs_type, "xxhash") == 0 && parse_hex64(md->cs_val, &cs))
        type = CS_XXHASH;
    else if (md->cs_val[0] == '\0' && (md->cs_type[0] == '\0' || strcmp(md->cs_type, "none") == 0))
        type = md->cs_type[0] == '\0' ? CS_EMPTY : CS_NONE;
    else
        return false;
    out[0] = BIN_MAGIC;
    out[1] = BIN_FORMAT;
    out[2] = (uint8_t)type;
    put_le64(out + 3, (uint64_t)md->size);
    put_le64(out + 11, (uint64_t)md->version);
    put_le64(out + 19, (uint64_t)md->atime_ns);
    put_le64(out + 27, cs);
    return true;
}

/* -1: malformed; 0: decoded; 1: not the binary form. */
static int decode_bin(const uint8_t *p, size_t len, lom_md_t *md)
{
    if (len == 0 || p[0] != BIN_MAGIC)
        return 1;
    lom_md_init(md);
    if (len != LOM_MD_BIN_LEN || p[1] != BIN_FORMAT || p[2] > CS_NONE)
        return -1;
    uint64_t cs = get_le64(p + 27);
    md->size = (int64_t)get_le64(p + 3);
    if (md->size < 0 || (p[2] != CS_XXHASH && cs != 0)) {
        md->size = 0;
        return -1; /* only one encoding per record */
    }
    md->version = (int64_t)get_le64(p + 11);
    md->atime_ns = (int64_t)get_le64(p + 19);
    static const char *const types[] = {"", "xxhash", "none"};
    snprintf(md->cs_type, sizeof(md->cs_type), "%s", types[p[2]]);
    if (p[2] == CS_XXHASH)
        snprintf(md->cs_val, sizeof(md->cs_val), "%016llx", (unsigned long long)cs);
    return 0;
}

int lom_md_decode(const char *data, size_t len, lom_md_t *md)
{
    int rc = decode_bin((const uint8_t *)data, len, md);
    if (rc <= 0)
        return rc;
    return decode_compact(data, len, md) ? 0 : lom_md_decode_json(data, len, md);
}

int lom_md_store_fd(int fd, const lom_md_t *md)
{
    uint8_t bin[LOM_MD_BIN_LEN];
    if (lom_md_encode_bin(md, bin))
        return fsetxattr(fd, LOM_XATTR, bin, sizeof(bin), 0) < 0 ? -errno : 0;
    buf_t b;
    buf_init(&b);
    lom_md_encode(md, &b);
    int rc = 0;
    if (fsetxattr(fd, LOM_XATTR, b.base, b.len, 0) < 0)
        rc = -errno;
    buf_dispose(&b);
    return rc;
}

/*
 * Reads the attribute with get(), which is fgetxattr or getxattr bound to its target.
 * The value normally fits the stack buffer; when it does not (ERANGE), ask for the size
 * and retry, since another writer may grow it between the two calls.
 */
typedef ssize_t (*xattr_get_fn)(const void *target, void *value, size_t size);

static ssize_t get_fd(const void *target, void *value, size_t size)
{
    return fgetxattr(*(const int *)target, LOM_XATTR, value, size);
}

static ssize_t get_path(const void *target, void *value, size_t size)
{
    return getxattr((const char *)target, LOM_XATTR, value, size);
}

static int load(xattr_get_fn get, const void *target, lom_md_t *md)
{
    lom_md_init(md);
    char stackbuf[2048];
    ssize_t n = get(target, stackbuf, sizeof(stackbuf));
    if (n >= 0)
        return lom_md_decode(stackbuf, (size_t)n, md) == 0 ? 0 : -EINVAL;
    if (errno != ERANGE)
        return -errno;
    for (int tries = 0; tries < 8; tries++) {
        ssize_t need = get(target, NULL, 0);
        if (need < 0)
            return -errno;
        char *heap = xmalloc((size_t)need + 1);
        n = get(target, heap, (size_t)need + 1);
        if (n >= 0) {
            int rc = lom_md_decode(heap, (size_t)n, md) == 0 ? 0 : -EINVAL;
            free(heap);
            return rc;
        }
        int e = errno;
        free(heap);
        if (e != ERANGE)
            return -e;
    }
    return -ERANGE;
}

int lom_md_load_fd(int fd, lom_md_t *md)
{
    return load(get_fd, &fd, md);
}

int lom_md_load(const char *fqn, lom_md_t *md)
{
    return load(get_path, fqn, md);
}

char *lom_md_custom_header(const lom_md_t *md)
{
    if (md->custom == NULL || !json_is_object(md->custom) || json_object_size(md->custom) == 0)
        return NULL;
    buf_t b;
    buf_init(&b);
    const char *k;
    json_t *v;
    json_object_foreach(md->custom, k, v)
    {
        if (b.len > 0)
            buf_puts(&b, ",");
        buf_printf(&b, "%s=%s", k, json_is_string(v) ? json_string_value(v) : "");
    }
    return buf_steal(&b);
}
