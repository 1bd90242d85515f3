/*
 * lom.h - local object metadata: size, checksum, version, atime and custom key/values,
 * stored in the extended attribute "user.locus.md" of the object file so the object and
 * its metadata move and vanish together (docs/design.md §5).
 *
 * Encoding on the wire: compact JSON
 *   {"v":1,"size":N,"cs_type":"xxhash","cs_val":"<16 hex>","ver":N,"atime":<unix ns>,
 *    "custom":{"k":"v",...}}            ("custom" omitted when empty)
 * In the xattr: that JSON, or, for a record without custom metadata whose checksum is xxhash
 * or none, LOM_MD_BIN_LEN binary bytes that fit inside an ext4 inode (lom.c). Decoding reads
 * both.
 * The checksum type "xxhash" is AIStore's: XXH64 with seed 0, hex of the 8 big-endian bytes
 * (printf "%016llx").
 */
#ifndef LOCUS_TARGET_LOM_H
#define LOCUS_TARGET_LOM_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/util.h"

#define LOM_XATTR "user.locus.md"
#define LOM_MD_BIN_LEN 35 /* the binary xattr form */

typedef struct {
    int64_t size;
    char cs_type[16];
    char cs_val[64];
    int64_t version;
    int64_t atime_ns;
    json_t *custom; /* owned; NULL or a JSON object of string values */
} lom_md_t;

void lom_md_init(lom_md_t *md);
void lom_md_dispose(lom_md_t *md);
/* Appends the JSON encoding to out. */
void lom_md_encode(const lom_md_t *md, buf_t *out);
/* 0 or -1 (malformed). md is initialized by the call. Reads the binary form, and JSON: the JSON
 * encoder's own layout without custom metadata in place, anything else through
 * lom_md_decode_json. */
int lom_md_decode(const char *data, size_t len, lom_md_t *md);
/* The binary xattr form of md into out; false when md has custom metadata or another checksum
 * (JSON then). */
bool lom_md_encode_bin(const lom_md_t *md, uint8_t out[LOM_MD_BIN_LEN]);
/* The general decoder: any key order, unknown keys ignored, custom metadata. Same contract. */
int lom_md_decode_json(const char *data, size_t len, lom_md_t *md);
/* fsetxattr / fgetxattr / getxattr wrappers. 0 or -errno (-ENODATA when absent, -EINVAL
 * when malformed). */
int lom_md_store_fd(int fd, const lom_md_t *md);
int lom_md_load_fd(int fd, lom_md_t *md);
int lom_md_load(const char *fqn, lom_md_t *md);
/* "k=v,k2=v2" as AIStore's Ais-Custom-Md header; caller frees; NULL when no custom md. */
char *lom_md_custom_header(const lom_md_t *md);

#endif
