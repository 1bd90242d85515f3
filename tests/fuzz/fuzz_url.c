/*
 * fuzz_url.c - a request target ("/v1/objects/<bucket>/<object>?<query>") as the HTTP server,
 * the proxy and the target take it apart: the path percent-decoded (http_path_decode), the
 * query split into decoded keys and values (http_query_decode, after libmicrohttpd's split on
 * '&' and '='), the path split into /v1 segments (route_split), the bucket and object names of
 * an object request checked (name_check_bucket, name_check_object), the uname of an ETL object
 * path and of bck_to/object_to parsed (uname_parse), the ETL name checked, list-objects props
 * parsed, and the error messages the handlers build from all of that turned into the JSON error
 * body (http_error_json) that every 4xx carries.
 *
 * Properties: no crash; route_split's segments lie in its copy; every error body is JSON text
 * that parses back with the same status.
 */
#include "fuzz.h"

#include <jansson.h>

#include "cluster/daemon.h"
#include "common/lso.h"
#include "common/names.h"
#include "etlspec/etlspec.h"
#include "net/net.h"

/* The error body for msg must be JSON that parses back (http_reply_error sends it as is). */
static void check_error(unsigned status, const char *msg, const char *raw_path)
{
    char *body = http_error_json(status, msg, "GET", raw_path, "127.0.0.1:1234");
    FUZZ_CHECK(body != NULL, "no error body for message \"%s\" (path \"%s\")", msg, raw_path);
    json_error_t je;
    json_t *j = json_loads(body, 0, &je);
    FUZZ_CHECK(j != NULL, "error body is not JSON: %s (%s)", je.text, body);
    FUZZ_CHECK(json_integer_value(json_object_get(j, "status")) == status, "status in %s", body);
    FUZZ_CHECK(json_is_string(json_object_get(j, "message")), "message in %s", body);
    json_decref(j);
    free(body);
}

typedef struct {
    char *key, *val;
} param_t;

typedef struct {
    param_t p[64];
    size_t n;
} query_t;

/* libmicrohttpd's split of the query (on '&', then the first '='; '+' already turned into a
 * space, which collect_arg turns back), then our decoding of each key and value. */
static void query_parse(char *q, query_t *out)
{
    out->n = 0;
    for (char *save = NULL, *kv = strtok_r(q, "&", &save); kv && out->n < 64;
         kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        if (eq)
            *eq = '\0';
        out->p[out->n].key = http_query_decode(kv);
        out->p[out->n].val = http_query_decode(eq ? eq + 1 : "");
        out->n++;
    }
}

static const char *query_get(const query_t *q, const char *key)
{
    for (size_t i = 0; i < q->n; i++)
        if (strcmp(q->p[i].key, key) == 0)
            return q->p[i].val;
    return NULL;
}

static void query_dispose(query_t *q)
{
    for (size_t i = 0; i < q->n; i++) {
        free(q->p[i].key);
        free(q->p[i].val);
    }
}

static int split(const char *path, char *copy, size_t copylen, const char **segs, int max)
{
    int n = route_split(path, copy, copylen, segs, max);
    FUZZ_CHECK(n <= max, "route_split gave %d > %d segments", n, max);
    for (int i = 0; i < n; i++)
        FUZZ_CHECK(segs[i] >= copy && segs[i] < copy + copylen, "segment %d outside the copy", i);
    return n;
}

/* proxy object_route() / target object_headers(): the checks before any metadata lookup. */
static void object_request(const char *path, const char *raw_path, const query_t *q)
{
    char copy[8192], msg[768];
    const char *segs[3];
    int n = split(path, copy, sizeof(copy), segs, 3);
    if (n < 1 || strcmp(segs[0], "objects") != 0)
        return;
    const char *why;
    const char *prov = query_get(q, "provider");
    if (n < 3 || segs[2][0] == '\0')
        snprintf(msg, sizeof(msg), "object name is missing in \"%s\"", path);
    else if ((why = name_check_bucket(segs[1])) != NULL)
        snprintf(msg, sizeof(msg), "bucket name \"%s\" is invalid: %s", segs[1], why);
    else if ((why = name_check_object(segs[2], strlen(segs[2]))) != NULL)
        snprintf(msg, sizeof(msg), "object name \"%s\" is invalid: %s", segs[2], why);
    else if (prov && prov[0] && strcmp(prov, "ais") != 0)
        snprintf(msg, sizeof(msg), "provider \"%s\" is not supported (only ais)", prov);
    else
        snprintf(msg, sizeof(msg), "t[fuzz]: ais://%s/%s does not exist", segs[1], segs[2]);
    check_error(400, msg, raw_path);
    const char *to = query_get(q, "object_to");
    char *bck = NULL, *obj = NULL;
    if (to && uname_parse(to, &bck, &obj) == 0) {
        FUZZ_CHECK(name_check_bucket(bck) == NULL, "object_to bucket \"%s\"", bck);
        free(bck);
        free(obj);
    }
}

/* target etl_object_headers(): /v1/etl/_object/<etl>/<secret>/<uname>. */
static void etl_object_request(const char *path, const char *raw_path)
{
    char copy[8192], msg[768];
    const char *segs[5];
    int n = split(path, copy, sizeof(copy), segs, 5);
    if (n != 5 || strcmp(segs[0], "etl") != 0 || strcmp(segs[1], "_object") != 0)
        return;
    char *bck = NULL, *obj = NULL;
    if (segs[4][0] == '\0' || uname_parse(segs[4], &bck, &obj) < 0 || obj[0] == '\0' ||
        name_check_object(obj, strlen(obj)) != NULL)
        snprintf(msg, sizeof(msg), "invalid object \"%s\" in ETL object path", segs[4]);
    else
        snprintf(msg, sizeof(msg), "t[fuzz]: etl job %s does not exist", segs[2]);
    check_error(404, msg, raw_path);
    free(bck);
    free(obj);
}

/* The rest of the routers: buckets, ETL names, the internal listing, a 404. */
static void other_request(const char *path, const char *raw_path, const query_t *q)
{
    char copy[8192], msg[768];
    const char *segs[4];
    int n = split(path, copy, sizeof(copy), segs, 4);
    if (n < 0) {
        snprintf(msg, sizeof(msg), "invalid URL path \"%s\": expecting /v1/...", raw_path);
        check_error(400, msg, raw_path);
        return;
    }
    const char *why;
    if (n >= 2 && strcmp(segs[0], "buckets") == 0 && (why = name_check_bucket(segs[1])) != NULL) {
        snprintf(msg, sizeof(msg), "bucket name \"%s\" is invalid: %s", segs[1], why);
        check_error(400, msg, raw_path);
    }
    if (n >= 2 && strcmp(segs[0], "etl") == 0 && (why = etl_name_check(segs[1])) != NULL) {
        snprintf(msg, sizeof(msg), "invalid ETL name \"%s\": %s", segs[1], why);
        check_error(400, msg, raw_path);
    }
    const char *to = query_get(q, "bck_to");
    char *bck = NULL, *obj = NULL;
    if (to && (uname_parse(to, &bck, &obj) < 0 || bck[0] == '\0')) {
        snprintf(msg, sizeof(msg), "invalid or missing destination bucket bck_to=\"%s\"", to);
        check_error(400, msg, raw_path);
    }
    free(bck);
    free(obj);
    const char *props = query_get(q, "props");
    int mask = lso_props_parse(props ? props : "");
    FUZZ_CHECK(mask == -1 || (mask & LSO_PROP_NAME), "props \"%s\" -> %d", props, mask);
    const char *what = query_get(q, "what");
    if (what) {
        snprintf(msg, sizeof(msg), "invalid what=\"%s\" (supported: smap, bmd, etlmd, snode)",
                 what);
        check_error(400, msg, raw_path);
    }
    snprintf(msg, sizeof(msg), "p[fuzz]: no such endpoint: %s %s", "GET", raw_path);
    check_error(404, msg, raw_path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *target = fuzz_cstr(data, size);
    char *qmark = strchr(target, '?');
    char empty[1] = "";
    char *query = qmark ? qmark + 1 : empty;
    if (qmark)
        *qmark = '\0';
    const char *raw_path = target;
    char *path = http_path_decode(raw_path);
    if (path == NULL) {
        check_error(400, "malformed percent-encoding (or %00) in URL path", raw_path);
        free(target);
        return 0;
    }
    FUZZ_CHECK(strlen(path) <= strlen(raw_path), "decoding made the path longer");
    query_t q;
    query_parse(query, &q);
    object_request(path, raw_path, &q);
    etl_object_request(path, raw_path);
    other_request(path, raw_path, &q);
    query_dispose(&q);
    free(path);
    free(target);
    return 0;
}
