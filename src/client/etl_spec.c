/*
 * etl_spec.c - the pure parts of liblocus's ETL support: ETL spec files (YAML through libyaml,
 * or JSON) to init messages, init messages from options, `--ext` maps, and job counters summed
 * from qryxstats snapshots (docs/protocol.md §2.2, docs/protocol.md §1.6-§1.8).
 *
 * DESIGN: a YAML document is loaded whole (yaml_parser_load: anchors and aliases resolved by
 * libyaml) and converted node by node to a jansson value. Each node knows its path in the spec
 * ("runtime.env[].value"); a scalar on a path the init message types as a string keeps its
 * text, any other plain scalar is typed like YAML's core schema. Every document is converted
 * before anything is returned, so a syntax error in the third document sends nothing.
 */
#include "client/internal.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

/* Bounds against alias bombs (`&a [*a, *a, ...]` nested): depth and total values produced. */
#define SPEC_MAX_DEPTH 64
#define SPEC_MAX_VALUES 100000

/* Paths whose scalars are strings in the init message (ETLSpecMsg). */
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

typedef struct {
    yaml_document_t *doc;
    char *err;
    size_t nvalues;
} conv_t;

static int node_fail(conv_t *cv, const yaml_node_t *nd, const char *fmt, const char *arg)
{
    char msg[160];
    snprintf(msg, sizeof(msg), fmt, arg);
    return client_fail(cv->err, LOCUS_EINVAL, "line %zu, column %zu: %s",
                       (size_t)nd->start_mark.line + 1, (size_t)nd->start_mark.column + 1, msg);
}

static bool all_digits(const char *s, const char *digits)
{
    if (*s == '\0')
        return false;
    for (; *s; s++)
        if (strchr(digits, *s) == NULL)
            return false;
    return true;
}

/* A plain scalar typed like YAML 1.2's core schema; NULL = it is a string. */
static json_t *resolve_plain(const char *s)
{
    if (s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
        strcmp(s, "NULL") == 0)
        return json_null();
    if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0)
        return json_true();
    if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0)
        return json_false();
    const char *p = s + (s[0] == '-' || s[0] == '+');
    char *end;
    if (all_digits(p, "0123456789")) {
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno == 0 && *end == '\0')
            return json_integer(v);
        return NULL;
    }
    if (p == s && (str_has_prefix(s, "0x") || str_has_prefix(s, "0o")) &&
        all_digits(s + 2, s[1] == 'x' ? "0123456789abcdefABCDEF" : "01234567")) {
        errno = 0;
        long long v = strtoll(s + 2, &end, s[1] == 'x' ? 16 : 8);
        if (errno == 0 && *end == '\0')
            return json_integer(v);
        return NULL;
    }
    /* [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )? */
    const char *q = p;
    size_t nd = 0;
    while (*q >= '0' && *q <= '9')
        q++, nd++;
    if (*q == '.') {
        q++;
        while (*q >= '0' && *q <= '9')
            q++, nd++;
    }
    if (nd > 0 && (*q == 'e' || *q == 'E')) {
        q++;
        if (*q == '-' || *q == '+')
            q++;
        if (!(*q >= '0' && *q <= '9'))
            return NULL;
        while (*q >= '0' && *q <= '9')
            q++;
    }
    if (nd > 0 && *q == '\0')
        return json_real(strtod(s, NULL));
    return NULL;
}

static json_t *scalar_to_json(conv_t *cv, yaml_node_t *nd, const char *path)
{
    const char *s = (const char *)nd->data.scalar.value;
    size_t len = nd->data.scalar.length;
    if (strlen(s) != len) {
        node_fail(cv, nd, "%s", "NUL byte in a scalar");
        return NULL;
    }
    /* libyaml gives every plain scalar the default tag !!str, so an explicit `!!str 5` cannot
     * be told from `5`: the style and the path decide. */
    bool plain = nd->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    if (!plain || is_string_path(path))
        return json_stringn(s, len);
    json_t *v = resolve_plain(s);
    return v != NULL ? v : json_stringn(s, len);
}

static json_t *node_to_json(conv_t *cv, yaml_node_t *nd, const char *path, int depth)
{
    if (depth > SPEC_MAX_DEPTH) {
        node_fail(cv, nd, "%s", "nesting too deep (recursive alias?)");
        return NULL;
    }
    if (++cv->nvalues > SPEC_MAX_VALUES) {
        node_fail(cv, nd, "%s", "document too large (alias expansion?)");
        return NULL;
    }
    switch (nd->type) {
    case YAML_SCALAR_NODE:
        return scalar_to_json(cv, nd, path);
    case YAML_SEQUENCE_NODE: {
        json_t *arr = json_array();
        char *sub = xasprintf("%s[]", path);
        for (yaml_node_item_t *it = nd->data.sequence.items.start; it < nd->data.sequence.items.top;
             it++) {
            json_t *v = node_to_json(cv, yaml_document_get_node(cv->doc, *it), sub, depth + 1);
            if (v == NULL) {
                json_decref(arr);
                arr = NULL;
                break;
            }
            json_array_append_new(arr, v);
        }
        free(sub);
        return arr;
    }
    case YAML_MAPPING_NODE: {
        json_t *obj = json_object();
        for (yaml_node_pair_t *pr = nd->data.mapping.pairs.start; pr < nd->data.mapping.pairs.top;
             pr++) {
            yaml_node_t *k = yaml_document_get_node(cv->doc, pr->key);
            yaml_node_t *v = yaml_document_get_node(cv->doc, pr->value);
            if (k->type != YAML_SCALAR_NODE) {
                node_fail(cv, k, "%s", "a mapping key must be a scalar");
                goto bad;
            }
            const char *key = (const char *)k->data.scalar.value;
            if (strcmp(key, "<<") == 0 && k->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
                node_fail(cv, k, "%s", "merge keys (<<) are not supported");
                goto bad;
            }
            if (json_object_get(obj, key) != NULL) {
                node_fail(cv, k, "duplicate key \"%s\"", key);
                goto bad;
            }
            char *sub = path[0] ? xasprintf("%s.%s", path, key) : xstrdup(key);
            json_t *jv = node_to_json(cv, v, sub, depth + 1);
            free(sub);
            if (jv == NULL)
                goto bad;
            json_object_set_new(obj, key, jv);
        }
        return obj;
    bad:
        json_decref(obj);
        return NULL;
    }
    default:
        node_fail(cv, nd, "%s", "empty node");
        return NULL;
    }
}

static void strv_push(char ***v, size_t *n, char *s)
{
    *v = xrealloc(*v, (*n + 1) * sizeof(**v));
    (*v)[(*n)++] = s;
}

static int parse_yaml(const char *text, size_t len, char ***msgs, size_t *n, char *err)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return client_fail(err, LOCUS_ENOMEM, "yaml_parser_initialize failed");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int rc = 0;
    for (int ndoc = 1;; ndoc++) {
        yaml_document_t doc;
        if (!yaml_parser_load(&parser, &doc)) {
            if (parser.problem_mark.line || parser.problem_mark.column || parser.problem_offset)
                rc = client_fail(err, LOCUS_EINVAL, "line %zu, column %zu: %s%s%s",
                                 (size_t)parser.problem_mark.line + 1,
                                 (size_t)parser.problem_mark.column + 1,
                                 parser.problem ? parser.problem : "syntax error",
                                 parser.context ? " " : "", parser.context ? parser.context : "");
            else
                rc = client_fail(err, LOCUS_EINVAL, "%s",
                                 parser.problem ? parser.problem : "invalid YAML");
            break;
        }
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (root == NULL) { /* end of the stream */
            yaml_document_delete(&doc);
            break;
        }
        if (root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0 &&
            root->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
            yaml_document_delete(&doc); /* an empty document ("---" alone) */
            continue;
        }
        conv_t cv = {&doc, err, 0};
        if (root->type != YAML_MAPPING_NODE) {
            char what[64];
            snprintf(what, sizeof(what), "document %d", ndoc);
            node_fail(&cv, root, "%s: an ETL spec must be a mapping (name: ..., runtime: ...)",
                      what);
            rc = LOCUS_EINVAL;
            yaml_document_delete(&doc);
            break;
        }
        json_t *j = node_to_json(&cv, root, "", 0);
        yaml_document_delete(&doc);
        if (j == NULL) {
            rc = LOCUS_EINVAL;
            break;
        }
        strv_push(msgs, n, json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER));
        json_decref(j);
    }
    yaml_parser_delete(&parser);
    return rc;
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
    json_decref(j);
    return 0;
}
