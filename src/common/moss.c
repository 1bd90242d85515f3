/*
 * moss.c - the GetBatch request (see moss.h).
 */
#include "common/moss.h"
#include "common/json.h"
#include "common/names.h"
#include "common/util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    int f;
} fmt_names[] = {
    {"", 0},        {"tar", 0}, {".tar", 0}, {"tgz", 1},     {".tgz", 1},     {"tar.gz", 1},
    {".tar.gz", 1}, {"zip", 2}, {".zip", 2}, {"tar.lz4", 3}, {".tar.lz4", 3},
};

int moss_fmt_parse(const char *mime)
{
    for (size_t i = 0; i < ARRAY_SIZE(fmt_names); i++)
        if (strcmp(mime ? mime : "", fmt_names[i].name) == 0)
            return fmt_names[i].f;
    return -1;
}

int moss_fmt_of_name(const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < ARRAY_SIZE(fmt_names); i++) {
        const char *e = fmt_names[i].name;
        size_t m = strlen(e);
        if (e[0] == '.' && n > m && strcmp(name + n - m, e) == 0)
            return fmt_names[i].f;
    }
    return -1;
}

/* A string member k of o: 0 with *out (NULL when absent or null), -1 when of another type. */
static int opt_str(json_t *o, const char *k, const char **out)
{
    json_t *v = json_object_get(o, k);
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return -1;
    *out = json_string_value(v);
    return 0;
}

static int opt_int(json_t *o, const char *k, int64_t *out)
{
    json_t *v = json_object_get(o, k);
    *out = 0;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_integer(v))
        return -1;
    *out = json_integer_value(v);
    return 0;
}

static int parse_in(json_t *o, size_t i, const char *dflt_bck, moss_in_t *in, char *err,
                    size_t errlen)
{
    const char *obj, *bck, *prov, *uname, *ap, *opaque;
    if (!json_is_object(o) || opt_str(o, "objname", &obj) || opt_str(o, "bucket", &bck) ||
        opt_str(o, "provider", &prov) || opt_str(o, "uname", &uname) ||
        opt_str(o, "archpath", &ap) || opt_str(o, "opaque", &opaque) ||
        opt_int(o, "start", &in->start) || opt_int(o, "length", &in->length)) {
        snprintf(err, errlen,
                 "in[%zu]: expecting an object with string fields objname, bucket, "
                 "provider, archpath, opaque and integer start, length",
                 i);
        return -1;
    }
    if (uname && uname[0]) {
        snprintf(err, errlen, "in[%zu]: uname is not supported; give bucket and objname", i);
        return -1;
    }
    if (prov && prov[0] && strcmp(prov, "ais") != 0) {
        snprintf(err, errlen, "in[%zu]: provider \"%s\" is not supported (only ais)", i, prov);
        return -1;
    }
    if (bck == NULL || bck[0] == '\0')
        bck = dflt_bck;
    if (bck == NULL) {
        snprintf(err, errlen, "in[%zu]: no bucket (give one in the entry or in the URL)", i);
        return -1;
    }
    const char *why = obj ? name_check(bck, obj) : "objname is missing";
    if (why) {
        snprintf(err, errlen, "in[%zu]: %s", i, why);
        return -1;
    }
    if (ap && ap[0] && (why = name_check_object(ap, strlen(ap))) != NULL) {
        snprintf(err, errlen, "in[%zu]: invalid archpath \"%s\": %s", i, ap, why);
        return -1;
    }
    if (in->start < 0 || in->length < -1 || (in->start != 0 && in->length == 0)) {
        snprintf(err, errlen, "in[%zu]: not satisfiable range start=%lld,length=%lld (oname: %s)",
                 i, (long long)in->start, (long long)in->length, obj);
        return -1;
    }
    in->bucket = xstrdup(bck);
    in->objname = xstrdup(obj);
    in->archpath = ap && ap[0] ? xstrdup(ap) : NULL;
    in->opaque = opaque ? xstrdup(opaque) : NULL;
    return 0;
}

static int parse_flags(json_t *j, moss_req_t *r, char *err, size_t errlen)
{
    static const char *keys[] = {"coer", "onob", "strm"};
    bool *dst[] = {&r->coer, &r->onob, &r->strm};
    for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
        json_t *v = json_object_get(j, keys[k]);
        if (v && !json_is_null(v) && !json_is_boolean(v)) {
            snprintf(err, errlen, "\"%s\" must be a boolean", keys[k]);
            return -1;
        }
        *dst[k] = json_is_true(v);
    }
    int64_t coloc;
    const char *mime;
    if (opt_int(j, "coloc", &coloc) || coloc < 0 || coloc > 2) {
        snprintf(err, errlen, "\"coloc\" must be 0, 1 or 2");
        return -1;
    }
    r->coloc = (int)coloc;
    if (opt_str(j, "mime", &mime)) {
        snprintf(err, errlen, "\"mime\" must be a string");
        return -1;
    }
    r->mime = xstrdup(mime ? mime : "");
    return 0;
}

int moss_req_parse(const char *body, size_t len, const char *dflt_bck, moss_req_t *r, char *err,
                   size_t errlen)
{
    memset(r, 0, sizeof(*r));
    json_error_t je;
    json_t *j = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &je);
    int rc = -1;
    if (!json_is_object(j)) {
        snprintf(err, errlen, "GetBatch: the body must be a JSON MossReq object%s%s", j ? "" : ": ",
                 j ? "" : je.text);
        goto out;
    }
    if (parse_flags(j, r, err, errlen) < 0)
        goto out;
    json_t *in = json_object_get(j, "in");
    size_t n = json_is_array(in) ? json_array_size(in) : 0;
    if (n == 0 || n > MOSS_MAX_IN) {
        snprintf(err, errlen, "GetBatch: \"in\" must be an array of 1 to %d entries", MOSS_MAX_IN);
        goto out;
    }
    r->in = xcalloc(n, sizeof(*r->in));
    for (size_t i = 0; i < n; i++) {
        if (parse_in(json_array_get(in, i), i, dflt_bck, &r->in[i], err, errlen) < 0)
            goto out;
        r->n = i + 1;
    }
    rc = 0;
out:
    json_decref(j);
    return rc;
}

void moss_req_dispose(moss_req_t *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->in[i].bucket);
        free(r->in[i].objname);
        free(r->in[i].archpath);
        free(r->in[i].opaque);
    }
    free(r->in);
    free(r->mime);
    memset(r, 0, sizeof(*r));
}

int moss_in_range(const moss_in_t *in, int64_t size, int64_t *off, int64_t *len)
{
    if (in->start == 0 && in->length == 0) {
        *off = 0;
        *len = size;
        return 0;
    }
    if (in->start >= size)
        return -1;
    *off = in->start;
    if (in->length == -1) {
        *len = size - in->start;
        return 0;
    }
    if (in->length <= 0 || in->length > size - in->start)
        return -1;
    *len = in->length;
    return 0;
}

char *moss_name_in_arch(const moss_req_t *r, const moss_in_t *in, bool missing)
{
    return xasprintf("%s%s%s%s%s%s", missing ? MOSS_MISSING_DIR "/" : "", r->onob ? "" : in->bucket,
                     r->onob ? "" : "/", in->objname, in->archpath ? "/" : "",
                     in->archpath ? in->archpath : "");
}

int moss_frame_hdr(const char *line, size_t n, int64_t *len)
{
    /* exactly: 3 digits, a space, 1..18 digits (no sign, no other byte) */
    if (n < 5 || n > 4 + 18 || line[3] != ' ')
        return -1;
    int st = 0;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 3)
            continue;
        if (line[i] < '0' || line[i] > '9')
            return -1;
        if (i < 3)
            st = st * 10 + (line[i] - '0');
        else
            v = v * 10 + (line[i] - '0');
    }
    if ((st != 200 && (st < 400 || st > 599)) || (st != 200 && v > MOSS_FRAME_ERR_MAX))
        return -1;
    *len = v;
    return st;
}
