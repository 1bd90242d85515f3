/*
 * bprops.c - bucket properties (docs/protocol.md §1.2): the defaults a bucket is created with,
 * and AIStore's partial updates (BpropsToSet: create-bck's value, PATCH set-bprops) checked
 * field by field and merged into the BMD entry's "props".
 *
 * DESIGN
 * Only what Locus acts on is accepted: checksum {type, validate_warm_get, ...}, mirror
 * {enabled, copies, burst_buffer}, ec {enabled, data_slices, parity_slices, objsize_limit,
 * disk_only}, versioning {enabled}. Anything else is a 400 that names the key, so a misspelled
 * property never passes silently. The result is checked as a whole (check_ec): mirror and EC
 * are not enabled together, EC has the targets it needs, and an erasure-coded bucket keeps its
 * slice counts (its pieces were cut with them).
 */
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "proxy/internal.h"

#include <stdio.h>
#include <string.h>

json_t *bprops_default(void)
{
    return json_pack("{s:s, s:{s:s, s:b, s:b, s:b, s:b}, s:{s:I, s:I, s:b}, "
                     "s:{s:I, s:I, s:I, s:b, s:b}, s:{s:b}}",
                     "provider", "ais", "checksum", "type", "xxhash", "validate_cold_get", 0,
                     "validate_warm_get", 0, "validate_obj_move", 0, "enable_read_range", 0,
                     "mirror", "copies", (json_int_t)2, "burst_buffer", (json_int_t)128, "enabled",
                     0, "ec", "objsize_limit", (json_int_t)262144, "data_slices", (json_int_t)2,
                     "parity_slices", (json_int_t)2, "enabled", 0, "disk_only", 0, "versioning",
                     "enabled", 1);
}

typedef enum { F_BOOL, F_INT, F_CKSUM } ftype_t;

typedef struct {
    const char *section, *key;
    ftype_t type;
    json_int_t min, max;
} field_t;

static const field_t fields[] = {
    {"checksum", "type", F_CKSUM, 0, 0},
    {"checksum", "validate_cold_get", F_BOOL, 0, 0},
    {"checksum", "validate_warm_get", F_BOOL, 0, 0},
    {"checksum", "validate_obj_move", F_BOOL, 0, 0},
    {"checksum", "enable_read_range", F_BOOL, 0, 0},
    {"mirror", "enabled", F_BOOL, 0, 0},
    {"mirror", "copies", F_INT, 1, 32},
    {"mirror", "burst_buffer", F_INT, 0, 1 << 20},
    {"ec", "enabled", F_BOOL, 0, 0},
    {"ec", "data_slices", F_INT, 1, 32},
    {"ec", "parity_slices", F_INT, 1, 32},
    {"ec", "objsize_limit", F_INT, -1, INT64_MAX},
    {"ec", "disk_only", F_BOOL, 0, 0},
    {"versioning", "enabled", F_BOOL, 0, 0},
};

static const field_t *field_find(const char *section, const char *key)
{
    for (size_t i = 0; i < sizeof(fields) / sizeof(*fields); i++)
        if (strcmp(fields[i].section, section) == 0 && (!key || strcmp(fields[i].key, key) == 0))
            return &fields[i];
    return NULL;
}

/* Checks one value; 0 or 400 with err. */
static int check_value(const field_t *f, json_t *v, char *err, size_t errlen)
{
    bool ok;
    switch (f->type) {
    case F_BOOL:
        ok = json_is_boolean(v);
        if (!ok)
            snprintf(err, errlen, "%s.%s must be true or false", f->section, f->key);
        break;
    case F_INT:
        ok = json_is_integer(v) && json_integer_value(v) >= f->min &&
             json_integer_value(v) <= f->max;
        if (!ok)
            snprintf(err, errlen, "%s.%s must be an integer in %lld..%lld", f->section, f->key,
                     (long long)f->min, (long long)f->max);
        break;
    default:
        ok = json_is_string(v) && (strcmp(json_string_value(v), "xxhash") == 0 ||
                                   strcmp(json_string_value(v), "none") == 0);
        if (!ok)
            snprintf(err, errlen,
                     "checksum.type must be \"xxhash\" or \"none\" (the checksums "
                     "Locus computes)");
    }
    return ok ? 0 : 400;
}

static json_int_t ec_int(json_t *props, const char *key)
{
    return (json_int_t)json_int64(json_object_get(json_object_get(props, "ec"), key));
}

static bool enabled(json_t *props, const char *section)
{
    return json_is_true(json_object_get(json_object_get(props, section), "enabled"));
}

/* The merged properties next (props: the current ones) as a whole; 0 or 400 with err. */
static int check_ec(json_t *props, json_t *next, char *err, size_t errlen)
{
    if (!enabled(next, "ec"))
        return 0;
    if (enabled(next, "mirror")) {
        snprintf(err, errlen,
                 "mirror and ec cannot both be enabled: choose one (docs/operations.md, "
                 "\"Mirror or erasure coding\")");
        return 400;
    }
    json_int_t d = ec_int(next, "data_slices"), p = ec_int(next, "parity_slices");
    if (enabled(props, "ec")) { /* already on: it keeps working with the targets left */
        if (d == ec_int(props, "data_slices") && p == ec_int(props, "parity_slices"))
            return 0;
        snprintf(err, errlen,
                 "ec.data_slices and ec.parity_slices of an erasure-coded bucket cannot change "
                 "(its objects are coded with %lld+%lld): disable ec first",
                 (long long)ec_int(props, "data_slices"),
                 (long long)ec_int(props, "parity_slices"));
        return 400;
    }
    json_int_t need = ec_int(next, "objsize_limit") == -1 ? p + 1 : d + p + 1;
    smap_t *s = smap_get();
    size_t have = smap_active_targets(s);
    smap_put(s);
    if ((json_int_t)have < need) {
        snprintf(err, errlen,
                 "EC configuration (D = %lld, P = %lld) requires at least %lld targets (have %zu)",
                 (long long)d, (long long)p, (long long)need, have);
        return 400;
    }
    return 0;
}

int bprops_merge(json_t *props, json_t *set, char *err, size_t errlen)
{
    if (set == NULL || json_is_null(set))
        return 0;
    if (!json_is_object(set)) {
        snprintf(err, errlen, "bucket properties must be a JSON object");
        return 400;
    }
    json_t *next = json_deep_copy(props);
    const char *sec, *key;
    json_t *sv, *v;
    int rc = 0;
    json_object_foreach(set, sec, sv)
    {
        if (strcmp(sec, "provider") == 0 && json_is_string(sv) &&
            strcmp(json_string_value(sv), "ais") == 0)
            continue;
        if (field_find(sec, NULL) == NULL || !json_is_object(sv)) {
            snprintf(err, errlen,
                     "unknown or unsupported bucket property \"%s\" (supported: checksum, mirror, "
                     "ec, versioning; each an object)",
                     sec);
            rc = 400;
            break;
        }
        json_t *dst = json_object_get(next, sec);
        if (!json_is_object(dst))
            json_object_set_new(next, sec, dst = json_object());
        json_object_foreach(sv, key, v)
        {
            const field_t *f = field_find(sec, key);
            if (f == NULL) {
                snprintf(err, errlen, "unknown bucket property \"%s.%s\"", sec, key);
                rc = 400;
            } else {
                rc = check_value(f, v, err, errlen);
            }
            if (rc)
                break;
            json_object_set(dst, key, v);
        }
        if (rc)
            break;
    }
    if (rc == 0)
        rc = check_ec(props, next, err, errlen);
    if (rc == 0)
        json_object_update(props, next);
    json_decref(next);
    return rc;
}
