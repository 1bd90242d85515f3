/*
 * promote.c - AIStore's PromoteArgs: parsing and the lexical checks of the source path.
 */
#include "common/promote.h"
#include "common/names.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Lexical checks of a promote source (the targets also resolve it with realpath and compare it
 * with their allowed directories). NULL or why not. */
static const char *src_check(const char *s)
{
    size_t n = strlen(s);
    if (n == 0)
        return "the source path is empty";
    if (n >= PROMOTE_SRC_MAX)
        return "the source path is too long";
    if (s[0] != '/')
        return "the source must be an absolute path";
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return "the source path has control characters";
    for (const char *p = s; *p;) {
        while (*p == '/')
            p++;
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
            return "the source path must not have \".\" or \"..\" elements";
        p += len;
    }
    return NULL;
}

/* A string member, or "" when absent or null; NULL when it is something else. */
static const char *str_member(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL || json_is_null(v))
        return "";
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* A boolean member into *b (absent or null: false). false when it is something else. */
static bool bool_member(json_t *o, const char *key, bool *b)
{
    json_t *v = json_object_get(o, key);
    *b = json_is_true(v);
    return v == NULL || json_is_null(v) || json_is_boolean(v);
}

int promote_args_parse(json_t *msg, promote_args_t *a, char *err, size_t errlen)
{
    memset(a, 0, sizeof(*a));
    json_t *v = json_object_get(msg, "value");
    const char *name = json_is_object(msg) ? str_member(msg, "name") : NULL;
    if (name == NULL || !json_is_object(v)) {
        snprintf(err, errlen,
                 "promote: expecting {\"action\":\"promote\",\"name\":SRC,"
                 "\"value\":{\"src\":SRC,\"obj\":NAME,...}}");
        return -1;
    }
    const char *src = str_member(v, "src"), *obj = str_member(v, "obj"),
               *tid = str_member(v, "tid");
    if (src == NULL || obj == NULL || tid == NULL || !bool_member(v, "rcr", &a->recurs) ||
        !bool_member(v, "ovw", &a->ovw) || !bool_member(v, "dls", &a->dls) ||
        !bool_member(v, "notshr", &a->notshr)) {
        snprintf(err, errlen,
                 "promote: src, obj and tid are strings; rcr, ovw, dls and notshr "
                 "are booleans");
        return -1;
    }
    if (src[0] && name[0] && strcmp(src, name) != 0) {
        snprintf(err, errlen, "promote: conflicting sources \"%.256s\" (name) and \"%.256s\" (src)",
                 name, src);
        return -1;
    }
    const char *s = src[0] ? src : name;
    const char *why = src_check(s);
    size_t on = strlen(obj);
    if (why == NULL && on > 0 && obj[on - 1] != '/')
        why = name_check_object(obj, on);
    else if (why == NULL && on > 1)
        why = name_check_object(obj, on - 1);
    if (why == NULL && tid[0])
        why = name_check_bucket(tid) ? "invalid target id (tid)" : NULL;
    if (why) {
        snprintf(err, errlen, "promote \"%.256s\": %s", s, why);
        return -1;
    }
    a->src = xstrdup(s);
    a->obj = xstrdup(obj);
    a->tid = xstrdup(tid);
    return 0;
}

void promote_args_dispose(promote_args_t *a)
{
    free(a->src);
    free(a->obj);
    free(a->tid);
    memset(a, 0, sizeof(*a));
}

char *promote_obj_name(const char *fqn, const char *dir, const char *prefix)
{
    size_t pl = strlen(prefix);
    if (dir == NULL || dir[0] == '\0') {
        if (pl > 0 && prefix[pl - 1] != '/')
            return xstrdup(prefix);
        const char *base = strrchr(fqn, '/');
        return xasprintf("%s%s", prefix, base ? base + 1 : fqn);
    }
    size_t dl = strlen(dir);
    const char *rel = fqn + dl;
    while (*rel == '/')
        rel++;
    return xasprintf("%s%s", prefix, rel);
}
