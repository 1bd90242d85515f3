/*
 * client_url.c - the pure parts of liblocus: endpoint normalization, URL building with
 * Python-quote-compatible escaping, "ais://bucket/object" parsing, bucket name checks, error
 * message extraction. No I/O; unit-tested in tests/unit/client/test_client_url.c.
 */
#include "client/internal.h"

#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int client_fail(char *err, int code, const char *fmt, ...)
{
    if (err != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, LOCUS_ERR_LEN, fmt, ap);
        va_end(ap);
    }
    return code;
}

const char *locus_strerror(int code)
{
    switch (code) {
    case 0:
        return "success";
    case LOCUS_EINVAL:
        return "invalid argument";
    case LOCUS_ENOMEM:
        return "out of memory";
    case LOCUS_EIO:
        return "I/O error";
    case LOCUS_ENOENT:
        return "not found";
    case LOCUS_EEXIST:
        return "already exists";
    case LOCUS_ETIMEDOUT:
        return "timed out";
    case LOCUS_ECONNREFUSED:
        return "connection refused";
    case LOCUS_EPROTO:
        return "unexpected response";
    case LOCUS_ECANCELED:
        return "canceled";
    case LOCUS_EHTTP:
        return "HTTP error";
    case LOCUS_ETRANSPORT:
        return "transport error";
    case LOCUS_EJOB:
        return "job failed";
    default:
        return code < 0 && code > -4000 ? strerror(-code) : "unknown error";
    }
}

const char *locus_default_token(void)
{
    const char *e = getenv("LOCUS_TOKEN");
    if (e != NULL && e[0] != '\0')
        return e;
    e = getenv("AIS_AUTHN_TOKEN");
    return e != NULL && e[0] != '\0' ? e : NULL;
}

const char *locus_default_endpoint(void)
{
    const char *e = getenv("LOCUS_ENDPOINT");
    if (e != NULL && e[0] != '\0')
        return e;
    e = getenv("AIS_ENDPOINT");
    if (e != NULL && e[0] != '\0')
        return e;
    return LOCUS_DEFAULT_ENDPOINT;
}

char *client_normalize_endpoint(const char *ep)
{
    if (ep == NULL)
        return NULL;
    while (isspace((unsigned char)*ep))
        ep++;
    size_t n = strlen(ep);
    while (n > 0 && (ep[n - 1] == '/' || isspace((unsigned char)ep[n - 1])))
        n--;
    if (n == 0)
        return NULL;
    if (strstr(ep, "://") != NULL && (size_t)(strstr(ep, "://") - ep) < n)
        return xstrndup(ep, n);
    return xasprintf("http://%.*s", (int)n, ep);
}

char *client_url(const char *ep, const char *path, const char *query)
{
    if (query != NULL && query[0] != '\0')
        return xasprintf("%s/v1/%s?%s", ep, path, query);
    return xasprintf("%s/v1/%s", ep, path);
}

char *client_url_bucket(const char *ep, const char *bck, const char *extra_query)
{
    char *q = extra_query != NULL && extra_query[0] != '\0'
                  ? xasprintf("provider=ais&%s", extra_query)
                  : xstrdup("provider=ais");
    char *url;
    if (bck == NULL) {
        url = client_url(ep, "buckets", q);
    } else {
        char *eb = url_encode(bck, NULL);
        char *path = xasprintf("buckets/%s", eb);
        url = client_url(ep, path, q);
        free(path);
        free(eb);
    }
    free(q);
    return url;
}

char *client_url_object(const char *ep, const char *bck, const char *obj, const char *extra_query)
{
    char *eb = url_encode(bck, NULL);
    char *eo = url_encode(obj, "/");
    char *path = xasprintf("objects/%s/%s", eb, eo);
    char *q = extra_query != NULL && extra_query[0] != '\0'
                  ? xasprintf("provider=ais&%s", extra_query)
                  : xstrdup("provider=ais");
    char *url = client_url(ep, path, q);
    free(q);
    free(path);
    free(eo);
    free(eb);
    return url;
}

int locus_check_bucket_name(const char *bck, char *err)
{
    if (bck == NULL || bck[0] == '\0')
        return client_fail(err, LOCUS_EINVAL, "bucket name is empty");
    size_t n = strlen(bck);
    if (n > 64)
        return client_fail(err, LOCUS_EINVAL, "bucket name \"%s\" is longer than 64 characters",
                           bck);
    if (bck[0] == '.')
        return client_fail(err, LOCUS_EINVAL, "bucket name \"%s\" starts with '.'", bck);
    if (strstr(bck, "..") != NULL)
        return client_fail(err, LOCUS_EINVAL, "bucket name \"%s\" contains \"..\"", bck);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)bck[i];
        if (!(isalnum(ch) || ch == '_' || ch == '.' || ch == '-'))
            return client_fail(err, LOCUS_EINVAL,
                               "invalid bucket name \"%s\": may only contain letters, digits, "
                               "'_', '.' and '-'",
                               bck);
    }
    return 0;
}

int locus_parse_name(const char *arg, char **bck, char **obj, char *err)
{
    *bck = NULL;
    *obj = NULL;
    if (arg == NULL || arg[0] == '\0')
        return client_fail(err, LOCUS_EINVAL, "empty bucket name");
    const char *p = arg;
    const char *sep = strstr(arg, "://");
    if (sep != NULL) {
        size_t plen = (size_t)(sep - arg);
        if (!(plen == 3 && strncmp(arg, "ais", 3) == 0)) {
            /* A "scheme" with a '/' before "://" is part of an object name, not a provider. */
            if (memchr(arg, '/', plen) == NULL)
                return client_fail(err, LOCUS_EINVAL,
                                   "\"%s\": unsupported provider \"%.*s://\" (only ais://)", arg,
                                   (int)plen, arg);
        } else {
            p = sep + 3;
        }
    }
    const char *slash = strchr(p, '/');
    size_t blen = slash != NULL ? (size_t)(slash - p) : strlen(p);
    if (blen == 0)
        return client_fail(err, LOCUS_EINVAL, "\"%s\": missing bucket name", arg);
    char *b = xstrndup(p, blen);
    int rc = locus_check_bucket_name(b, err);
    if (rc != 0) {
        free(b);
        return rc;
    }
    *bck = b;
    if (slash != NULL)
        *obj = xstrdup(slash + 1);
    return 0;
}

char *client_error_message(const char *body, size_t len)
{
    if (body == NULL || len == 0)
        return NULL;
    json_error_t jerr;
    json_t *j = json_loadb(body, len, JSON_DECODE_ANY, &jerr);
    if (j != NULL) {
        const char *m = NULL;
        if (json_is_object(j)) {
            json_t *jm = json_object_get(j, "message");
            if (json_is_string(jm))
                m = json_string_value(jm);
        } else if (json_is_string(j)) {
            m = json_string_value(j);
        }
        char *out = m != NULL && m[0] != '\0' ? xstrdup(m) : NULL;
        json_decref(j);
        if (out != NULL)
            return out;
    }
    /* Plain text: the first non-empty line, trimmed. */
    size_t i = 0;
    while (i < len && isspace((unsigned char)body[i]))
        i++;
    size_t e = i;
    while (e < len && body[e] != '\n' && body[e] != '\r')
        e++;
    while (e > i && isspace((unsigned char)body[e - 1]))
        e--;
    if (e == i)
        return NULL;
    if (e - i > 200)
        e = i + 200;
    return xstrndup(body + i, e - i);
}

char *client_trim_id(const char *body, size_t len)
{
    size_t i = 0;
    while (i < len && isspace((unsigned char)body[i]))
        i++;
    while (len > i && isspace((unsigned char)body[len - 1]))
        len--;
    if (len - i >= 2 && body[i] == '"' && body[len - 1] == '"') {
        i++;
        len--;
    }
    return xstrndup(body + i, len - i);
}

int client_job_id(const buf_t *body, const char *what, char **job_id, char *err)
{
    *job_id = client_trim_id(body->base, body->len);
    if ((*job_id)[0] != '\0')
        return 0;
    free(*job_id);
    *job_id = NULL;
    return client_fail(err, LOCUS_EPROTO, "%s: the reply carries no job id", what);
}
