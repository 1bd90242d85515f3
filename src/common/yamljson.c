/*
 * yamljson.c - YAML to JSON (yamljson.h).
 *
 * DESIGN: a YAML document is loaded whole (yaml_parser_load: anchors and aliases resolved by
 * libyaml) and converted node by node to a jansson value. Each node knows its path in the
 * document ("runtime.env[].value"); a scalar on a path the caller types as a string keeps its
 * text, any other plain scalar is typed like YAML's core schema.
 */
#include "common/yamljson.h"
#include "common/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

typedef struct {
    yaml_document_t *doc;
    yamljson_string_path_fn strpath;
    char *err;
    size_t errlen;
    size_t nvalues;
} yj_t;

static int node_fail(yj_t *cv, const yaml_node_t *nd, const char *fmt, const char *arg)
{
    char msg[400];
    snprintf(msg, sizeof(msg), fmt, arg);
    snprintf(cv->err, cv->errlen, "line %zu, column %zu: %s", (size_t)nd->start_mark.line + 1,
             (size_t)nd->start_mark.column + 1, msg);
    return -1;
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

static json_t *scalar_to_json(yj_t *cv, yaml_node_t *nd, const char *path)
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
    if (!plain || (cv->strpath && cv->strpath(path)))
        return json_stringn(s, len);
    json_t *v = resolve_plain(s);
    return v != NULL ? v : json_stringn(s, len);
}

static json_t *node_to_json(yj_t *cv, yaml_node_t *nd, const char *path, int depth)
{
    if (depth > YAMLJSON_MAX_DEPTH) {
        node_fail(cv, nd, "%s", "nesting too deep (recursive alias?)");
        return NULL;
    }
    if (++cv->nvalues > YAMLJSON_MAX_VALUES) {
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

static void parser_fail(const yaml_parser_t *p, char *err, size_t errlen)
{
    if (p->problem_mark.line || p->problem_mark.column || p->problem_offset)
        snprintf(err, errlen, "line %zu, column %zu: %s%s%s", (size_t)p->problem_mark.line + 1,
                 (size_t)p->problem_mark.column + 1, p->problem ? p->problem : "syntax error",
                 p->context ? " " : "", p->context ? p->context : "");
    else
        snprintf(err, errlen, "%s", p->problem ? p->problem : "invalid YAML");
}

int yamljson_load(const char *text, size_t len, yamljson_string_path_fn strpath,
                  const char *not_mapping, json_t **docs, char *err, size_t errlen)
{
    *docs = NULL;
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        snprintf(err, errlen, "yaml_parser_initialize failed");
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    json_t *out = json_array();
    int rc = 0;
    for (int ndoc = 1; rc == 0; ndoc++) {
        yaml_document_t doc;
        if (!yaml_parser_load(&parser, &doc)) {
            parser_fail(&parser, err, errlen);
            rc = -1;
            break;
        }
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (root == NULL) { /* end of the stream */
            yaml_document_delete(&doc);
            break;
        }
        yj_t cv = {&doc, strpath, err, errlen, 0};
        json_t *j = NULL;
        if (root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0 &&
            root->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
            /* an empty document ("---" alone) */
        } else if (not_mapping && root->type != YAML_MAPPING_NODE) {
            char what[300];
            snprintf(what, sizeof(what), "document %d: %.250s", ndoc, not_mapping);
            rc = node_fail(&cv, root, "%s", what);
        } else if ((j = node_to_json(&cv, root, "", 0)) == NULL) {
            rc = -1;
        } else {
            json_array_append_new(out, j);
        }
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    if (rc != 0) {
        json_decref(out);
        return -1;
    }
    *docs = out;
    return 0;
}
