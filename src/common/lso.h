/*
 * lso.h - list-objects pages (docs/protocol.md §1.4-1.5): the entry type and the two
 * encodings, msgpack (Go msgp of cmn.LsoRes, what the SDK requires) and JSON.
 *
 * msgpack layout: map{"UUID": str, "ContinuationToken": str, "Entries": [ENTRY...], "Flags": u32}
 * ENTRY = map{"n": name, "cs": checksum, "a": atime-str, "v": version, "t": location,
 *             "m": custom, "s": size, "c": copies, "f": flags}; all but "n" omitted when empty/0.
 * JSON layout (Go's encoding/json of cmn.LsoRes; like Go, "size" is a decimal string and
 * empty fields are omitted):
 *              {"uuid":..., "continuation_token":..., "flags":0,
 *               "entries":[{"name":..,"size":..,"checksum":..,"atime":..,"version":..,
 *                           "location":..,"custom-md":..,"copies":..,"flags":..}]}
 * (Entries always an array, never null.)
 */
#ifndef LOCUS_COMMON_LSO_H
#define LOCUS_COMMON_LSO_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

/* props bits: which fields a listing carries */
enum {
    LSO_PROP_NAME = 1 << 0,
    LSO_PROP_SIZE = 1 << 1,
    LSO_PROP_CHECKSUM = 1 << 2,
    LSO_PROP_ATIME = 1 << 3,
    LSO_PROP_VERSION = 1 << 4,
    LSO_PROP_LOCATION = 1 << 5,
    LSO_PROP_CUSTOM = 1 << 6,
    LSO_PROP_COPIES = 1 << 7,
    LSO_PROP_CACHED = 1 << 8,
    LSO_PROP_STATUS = 1 << 9,
    LSO_PROP_DEFAULT = LSO_PROP_NAME | LSO_PROP_SIZE | LSO_PROP_CHECKSUM | LSO_PROP_ATIME,
};

#define LSO_ENTRY_CACHED 64u      /* EntryIsCached = 1<<6 */
#define LSO_ENTRY_IN_ARCH 128u    /* EntryInArch: a member of an archive (LsArchDir) */
#define LSO_ENTRY_IS_ARCHIVE 512u /* EntryIsArchive: an archive whose members follow */
#define LSO_FLAG_ARCH_DIR 8u      /* LsoMsg flags: LsArchDir, list archive members */

/* LsoMsg flags (AIStore's apc.Ls*) that change what a listing of an ais bucket carries */
#define LSO_FLAG_NAME_ONLY (1u << 4) /* names (and status flags) only */
#define LSO_FLAG_NAME_SIZE (1u << 5) /* names and sizes */

/* LsoMsg "flags": a decimal string (Go's ",string"), a non-negative number, "" or null (0).
 * 0, or -1 when invalid. */
int lso_flags_parse(json_t *v, uint64_t *out);

typedef struct {
    char *name;     /* owned */
    char *checksum; /* owned, NULL = none */
    char *atime;    /* owned, NULL = none (RFC 1123-ish string as AIStore lists it) */
    char *version;  /* owned, NULL = none */
    char *location; /* owned, NULL = none */
    char *custom;   /* owned, NULL = none */
    int64_t size;
    int32_t copies;
    uint32_t flags;
} lso_entry_t;

typedef struct {
    lso_entry_t *entries; /* owned */
    size_t n, cap;
    char *uuid;               /* owned */
    char *continuation_token; /* owned, "" when last page */
    uint32_t flags;
} lso_page_t;

void lso_page_init(lso_page_t *p);
void lso_page_dispose(lso_page_t *p);
/* Appends a copy of e (deep copy of the strings). */
void lso_page_add(lso_page_t *p, const lso_entry_t *e);
void lso_entry_dispose(lso_entry_t *e);
/* Sorts entries by name (bytewise strcmp). */
void lso_page_sort(lso_page_t *p);

/* Parses a props string ("name,size,..."; "" = default). Returns the bitmask or -1 if unknown. */
int lso_props_parse(const char *props);

/* Appends the msgpack encoding of page (only fields in props; "n" always, "f" whenever
 * non-zero, as AIStore sets EntryIsCached regardless of props) to out. */
void lso_encode_msgpack(const lso_page_t *p, int props, buf_t *out);
/* New JSON object (caller decrefs). */
json_t *lso_encode_json(const lso_page_t *p, int props);
/* Decodes a msgpack page (as lso_encode_msgpack writes it) for the client library and tests.
 * out is initialized by the call (continuation_token "" when absent, uuid NULL when absent)
 * and left empty on failure. 0 or -1. */
int lso_decode_msgpack(const void *data, size_t len, lso_page_t *out);
/* Decodes a JSON page (either layout above; "size" as number or decimal string). out is
 * initialized as for lso_decode_msgpack. j stays the caller's. 0 or -1. */
int lso_decode_json(json_t *j, lso_page_t *out);

#endif
