/*
 * etl_spec.c - the pure parts of liblocus's ETL support: ETL spec files (YAML through libyaml,
 * or JSON) to init messages, init messages from options, `--ext` maps, and job counters summed
 * from qryxstats snapshots (docs/protocol.md §2.2, docs/protocol.md §1.6-§1.8).
 *
 * DESIGN: YAML goes through common/yamljson.c; a scalar on a path the init message types as a
 * string keeps its text. Every document is converted before anything is returned, so a syntax
 * error in the third document sends nothing.
 */
#include "client/internal.h"
#include "common/yamljson.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const string_paths[] = {
    "name",
    "id",
    "communication",
    "argument",
    "init_timeout",
    "obj_timeout",
    "runtime.image",
    "runtime.command[]",
    "runtime.env[].name",
    "runtime.env[].value",
    "env[].name",
    "env[].value",
};

static bool is_string_path(const char *path)
{
    for (size_t i = 0; i < sizeof(string_paths) / sizeof(string_paths[0]); i++)
        if (strcmp(path, string_paths[i]) == 0)
            return true;
    /* k8s ResourceRequirements: quantities ("500m", 1, 0.5) are strings. */
    return str_has_prefix(path, "resources.");
}

static void strv_push(char ***v, size_t *n, char *s)
{
    *v = xrealloc(*v, (*n + 1) * sizeof(**v));
    (*v)[(*n)++] = s;
}

static int parse_yaml(const char *text, size_t len, char ***msgs, size_t *n, char *err)
{
    json_t *docs;
    char e[LOCUS_ERR_LEN];
    if (yamljson_load(text, len, is_string_path,
                      "an ETL spec must be a mapping (name: ..., runtime: ...)", &docs, e,
                      sizeof(e)) != 0)
        return client_fail(err, LOCUS_EINVAL, "%s", e);
    size_t i;
    json_t *j;
    json_array_foreach(docs, i, j)
    {
        /* A Kubernetes Pod (AIStore's pod-spec format): sent whole, as AIStore's CLI does, as
         * {"name": metadata.name, "spec": base64(the YAML)}; the proxy reads it. */
        const char *kind = json_string_value(json_object_get(j, "kind"));
        if (!(kind && strcmp(kind, "Pod") == 0) &&
            !json_is_array(json_object_get(json_object_get(j, "spec"), "containers")))
            continue;
        if (json_array_size(docs) != 1) {
            size_t nd = json_array_size(docs);
            json_decref(docs);
            return client_fail(err, LOCUS_EINVAL,
                               "a pod spec file holds one Pod (document %zu of %zu is a Pod)",
                               i + 1, nd);
        }
        json_t *msg = json_object();
        json_t *pname = json_object_get(json_object_get(j, "metadata"), "name");
        if (json_is_string(pname))
            json_object_set(msg, "name", pname);
        char *b64 = base64_encode(text, len);
        json_object_set_new(msg, "spec", json_string(b64));
        free(b64);
        json_array_set_new(docs, i, msg);
        break;
    }
    json_array_foreach(docs, i, j)
        strv_push(msgs, n, json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER));
    json_decref(docs);
    return 0;
}

static int parse_json(const char *text, size_t len, char ***msgs, size_t *n, char *err)
{
    json_error_t jerr;
    json_t *j = json_loadb(text, len, 0, &jerr);
    if (j == NULL)
        return client_fail(err, LOCUS_EINVAL, "line %d, column %d: %s", jerr.line, jerr.column,
                           jerr.text);
    int rc = 0;
    if (json_is_object(j)) {
        strv_push(msgs, n, json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER));
    } else if (json_is_array(j)) {
        size_t i;
        json_t *e;
        json_array_foreach(j, i, e)
        {
            if (!json_is_object(e)) {
                rc = client_fail(err, LOCUS_EINVAL,
                                 "element %zu of the JSON array is not an object", i);
                break;
            }
            strv_push(msgs, n, json_dumps(e, JSON_COMPACT | JSON_PRESERVE_ORDER));
        }
    } else {
        rc = client_fail(err, LOCUS_EINVAL, "an ETL spec must be a JSON object (or an array)");
    }
    json_decref(j);
    return rc;
}

int locus_etl_spec_parse(const char *text, size_t len, char ***msgs, size_t *n, char *err)
{
    *msgs = NULL;
    *n = 0;
    size_t i = 0;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        i = 3; /* UTF-8 BOM */
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
        i++;
    int rc;
    if (i < len && (text[i] == '{' || text[i] == '[')) {
        /* JSON. A YAML flow mapping ({name: x}) is not JSON: fall back to YAML, and report the
         * JSON error only if YAML cannot read it either. */
        char jerr[LOCUS_ERR_LEN] = "";
        rc = parse_json(text, len, msgs, n, jerr);
        if (rc != 0) {
            locus_strv_free(*msgs, *n);
            *msgs = NULL;
            *n = 0;
            rc = parse_yaml(text, len, msgs, n, NULL);
            if (rc != 0)
                rc = client_fail(err, LOCUS_EINVAL, "%s", jerr);
        }
    } else {
        rc = parse_yaml(text, len, msgs, n, err);
    }
    if (rc == 0 && *n == 0)
        rc = client_fail(err, LOCUS_EINVAL, "no ETL spec in the input (empty document)");
    if (rc != 0) {
        locus_strv_free(*msgs, *n);
        *msgs = NULL;
        *n = 0;
    }
    return rc;
}

/* ------------------------------------------------------------------------------------------ */

int locus_etl_spec_json(const locus_etl_spec_t *spec, char **json, char *err)
{
    *json = NULL;
    if (spec->name == NULL || spec->name[0] == '\0')
        return client_fail(err, LOCUS_EINVAL, "the ETL needs a name");
    if (spec->image == NULL || spec->image[0] == '\0')
        return client_fail(err, LOCUS_EINVAL, "the ETL needs an image (runtime.image)");
    json_t *rt = json_pack("{s:s}", "image", spec->image);
    if (spec->argc > 0) {
        json_t *cmd = json_array();
        for (size_t i = 0; i < spec->argc; i++)
            json_array_append_new(cmd, json_string(spec->argv[i]));
        json_object_set_new(rt, "command", cmd);
    }
    if (spec->nenv > 0) {
        json_t *env = json_array();
        for (size_t i = 0; i < spec->nenv; i++) {
            const char *eq = strchr(spec->env[i], '=');
            if (eq == NULL || eq == spec->env[i]) {
                json_decref(env);
                json_decref(rt);
                return client_fail(err, LOCUS_EINVAL, "env \"%s\": expecting NAME=VALUE",
                                   spec->env[i]);
            }
            json_t *e = json_object();
            json_object_set_new(e, "name", json_stringn(spec->env[i], (size_t)(eq - spec->env[i])));
            json_object_set_new(e, "value", json_string(eq + 1));
            json_array_append_new(env, e);
        }
        json_object_set_new(rt, "env", env);
    }
    json_t *j = json_object();
    json_object_set_new(j, "name", json_string(spec->name));
    if (spec->comm_type != NULL && spec->comm_type[0] != '\0') {
        char *ct = strstr(spec->comm_type, "://") != NULL ? xstrdup(spec->comm_type)
                                                          : xasprintf("%s://", spec->comm_type);
        json_object_set_new(j, "communication", json_string(ct));
        free(ct);
    }
    if (spec->argument != NULL)
        json_object_set_new(j, "argument", json_string(spec->argument));
    if (spec->init_timeout != NULL)
        json_object_set_new(j, "init_timeout", json_string(spec->init_timeout));
    if (spec->obj_timeout != NULL)
        json_object_set_new(j, "obj_timeout", json_string(spec->obj_timeout));
    json_object_set_new(j, "support_direct_put", json_boolean(spec->direct_put));
    json_object_set_new(j, "runtime", rt);
    *json = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */

static void skip_ws(const char **p)
{
    while (**p == ' ' || **p == '\t')
        (*p)++;
}

/* One key or value of an ext map: quoted ("..." or '...') or bare up to a delimiter. */
static char *ext_token(const char **p, const char *delims)
{
    skip_ws(p);
    if (**p == '"' || **p == '\'') {
        char q = *(*p)++;
        const char *s = *p;
        while (**p && **p != q)
            (*p)++;
        if (**p != q)
            return NULL;
        char *t = xstrndup(s, (size_t)(*p - s));
        (*p)++;
        return t;
    }
    const char *s = *p;
    while (**p && strchr(delims, **p) == NULL)
        (*p)++;
    const char *e = *p;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    return xstrndup(s, (size_t)(e - s));
}

static bool ext_ok(const char *s)
{
    if (s[0] == '\0')
        return false;
    for (const char *p = s; *p; p++)
        if (*p == '/' || *p == '"' || (unsigned char)*p < 0x20)
            return false;
    return true;
}

int locus_etl_parse_ext(const char *s, char **json, char *err)
{
    *json = NULL;
    if (s == NULL)
        return client_fail(err, LOCUS_EINVAL, "empty extension map");
    const char *p = s;
    skip_ws(&p);
    bool braces = *p == '{';
    if (braces)
        p++;
    json_t *map = json_object();
    int rc = 0;
    for (;;) {
        skip_ws(&p);
        if (braces && *p == '}')
            break;
        if (!braces && *p == '\0')
            break;
        char *k = ext_token(&p, ":,}");
        skip_ws(&p);
        if (k == NULL || *p != ':') {
            free(k);
            rc = client_fail(err, LOCUS_EINVAL,
                             "extension map \"%s\": expecting {from:to, ...}, e.g. {flac:wav}", s);
            goto out;
        }
        p++;
        char *v = ext_token(&p, ",}");
        const char *kk = k != NULL && k[0] == '.' ? k + 1 : k;
        const char *vv = v != NULL && v[0] == '.' ? v + 1 : v;
        if (v == NULL || !ext_ok(kk) || !ext_ok(vv)) {
            rc = client_fail(err, LOCUS_EINVAL,
                             "extension map \"%s\": bad or empty extension in \"%s:%s\"", s, k,
                             v != NULL ? v : "");
            free(k);
            free(v);
            goto out;
        }
        json_object_set_new(map, kk, json_string(vv));
        free(k);
        free(v);
        skip_ws(&p);
        if (*p == ',') {
            p++;
            continue;
        }
        if ((braces && *p == '}') || (!braces && *p == '\0'))
            break;
        rc = client_fail(err, LOCUS_EINVAL, "extension map \"%s\": unexpected \"%s\"", s, p);
        goto out;
    }
    if (braces) {
        p++; /* '}' */
        skip_ws(&p);
        if (*p != '\0') {
            rc = client_fail(err, LOCUS_EINVAL, "extension map \"%s\": text after '}'", s);
            goto out;
        }
    }
    if (json_object_size(map) == 0) {
        rc = client_fail(err, LOCUS_EINVAL, "extension map \"%s\" is empty", s);
        goto out;
    }
    *json = json_dumps(map, JSON_COMPACT | JSON_SORT_KEYS);
out:
    json_decref(map);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */

int locus_job_totals_parse(const char *json, locus_job_totals_t *t, char *err)
{
    memset(t, 0, sizeof(*t));
    json_error_t jerr;
    json_t *j = json_loads(json, 0, &jerr);
    if (!json_is_object(j)) {
        json_decref(j);
        return client_fail(err, LOCUS_EPROTO, "job snapshots: reply is not a JSON object");
    }
    const char *tid;
    json_t *arr;
    json_object_foreach(j, tid, arr)
    {
        size_t i;
        json_t *s;
        json_array_foreach(arr, i, s)
        {
            json_t *st = json_object_get(s, "stats");
            t->loc_objs += json_int64(json_object_get(st, "loc-objs"));
            t->loc_bytes += json_int64(json_object_get(st, "loc-bytes"));
            t->out_objs += json_int64(json_object_get(st, "out-objs"));
            t->out_bytes += json_int64(json_object_get(st, "out-bytes"));
            t->in_objs += json_int64(json_object_get(st, "in-objs"));
            t->in_bytes += json_int64(json_object_get(st, "in-bytes"));
            t->ntargets++;
            const char *end = json_string_value(json_object_get(s, "end-time"));
            if (end != NULL && end[0] != '\0' && strncmp(end, "0001-", 5) != 0)
                t->nfinished++;
            if (json_is_true(json_object_get(s, "aborted")))
                t->aborted = true;
        }
    }
    /* Sent bytes are counted by their sender (out) and their receiver (in); a direct put only by
     * its receiver (the ETL server sent it), so the larger of the two is what went elsewhere. */
    t->written_bytes = t->loc_bytes + (t->in_bytes > t->out_bytes ? t->in_bytes : t->out_bytes);
    json_decref(j);
    return 0;
}
