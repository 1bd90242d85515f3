/*
 * etl_parse.c - the pure parts of the ETL server: request URIs, FQN decoding in both protocol eras,
 * FQN root checks, Ais-Node-Url lists and the URLs the server talks to (docs/protocol.md §3-§5).
 * No I/O here; everything is unit-tested in tests/unit/etlsdk/test_etl_parse.c.
 */
#include "etlsdk/internal.h"
#include "common/util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static char *decode(const char *s, size_t n, bool plus)
{
    char *tmp = xstrndup(s, n);
    if (plus)
        for (size_t i = 0; i < n; i++)
            if (tmp[i] == '+')
                tmp[i] = ' ';
    size_t outlen = 0;
    char *out = url_decode(tmp, n, &outlen);
    free(tmp);
    if (out != NULL && strlen(out) != outlen) { /* an escaped NUL: never valid in a path */
        free(out);
        out = NULL;
    }
    return out;
}

char *locus_etl__query_decode(const char *s, size_t n)
{
    return decode(s, n, true);
}

char *locus_etl__path_unescape(const char *s, size_t n)
{
    return decode(s, n, false);
}

char *locus_etl__path_normalize(const char *p)
{
    size_t n = strlen(p);
    /* Components are copied into out one by one; ".." pops the last one. */
    char *out = xmalloc(n + 2);
    size_t len = 0;
    const char *s = p;
    while (*s) {
        while (*s == '/')
            s++;
        const char *e = s;
        while (*e && *e != '/')
            e++;
        size_t cl = (size_t)(e - s);
        if (cl == 0 || (cl == 1 && s[0] == '.')) {
            /* skip */
        } else if (cl == 2 && s[0] == '.' && s[1] == '.') {
            while (len > 0 && out[len - 1] != '/')
                len--;
            if (len > 0)
                len--; /* the '/' itself */
        } else {
            out[len++] = '/';
            memcpy(out + len, s, cl);
            len += cl;
        }
        s = e;
    }
    if (len == 0)
        out[len++] = '/';
    out[len] = '\0';
    return out;
}

int locus_etl__fqn_from_query(const char *wire, char **fqn)
{
    *fqn = NULL;
    char *once = locus_etl__query_decode(wire, strlen(wire));
    if (once == NULL)
        return -EINVAL;
    char *twice = locus_etl__path_unescape(once, strlen(once));
    free(once);
    if (twice == NULL || twice[0] == '\0') {
        free(twice);
        return -EINVAL;
    }
    *fqn = locus_etl__path_normalize(twice);
    free(twice);
    return 0;
}

int locus_etl__fqn_from_path(const char *raw_path, char **fqn)
{
    *fqn = NULL;
    const char *p = raw_path;
    if (*p == '/')
        p++;
    char *dec = locus_etl__path_unescape(p, strlen(p));
    if (dec == NULL)
        return -EINVAL;
    if (dec[0] != '/') {
        free(dec);
        return -EINVAL;
    }
    *fqn = locus_etl__path_normalize(dec);
    free(dec);
    return 0;
}

bool locus_etl__fqn_allowed(const char *fqn, const char *roots)
{
    if (roots == NULL || roots[0] == '\0')
        return true;
    const char *s = roots;
    while (*s) {
        const char *e = strchr(s, ':');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n > 0) {
            char *r = xstrndup(s, n);
            char *nr = locus_etl__path_normalize(r);
            free(r);
            size_t rl = strlen(nr);
            bool ok = strncmp(fqn, nr, rl) == 0 &&
                      (fqn[rl] == '\0' || fqn[rl] == '/' || (rl == 1 && nr[0] == '/'));
            free(nr);
            if (ok)
                return true;
        }
        s += n;
        if (*s == ':')
            s++;
    }
    return false;
}

void locus_etl__uri_dispose(locus_etl__uri_t *u)
{
    free(u->path);
    free(u->dpath);
    free(u->args);
    free(u->fqn);
    free(u->node_url);
    free(u->original_url);
    memset(u, 0, sizeof(*u));
}

int locus_etl__uri_parse(const char *raw_uri, bool arg_type_fqn, locus_etl__uri_t *u)
{
    memset(u, 0, sizeof(*u));
    const char *q = strchr(raw_uri, '?');
    size_t plen = q ? (size_t)(q - raw_uri) : strlen(raw_uri);
    const char *p = raw_uri;
    /* Strip one leading '/' only: "//x" keeps a leading '/' (an escaped-FQN-like path). */
    if (plen > 0 && *p == '/') {
        p++;
        plen--;
    }
    u->path = xstrndup(p, plen);
    u->dpath = locus_etl__path_unescape(p, plen);
    if (u->dpath == NULL)
        goto fail;
    char *fqn_wire = NULL;
    if (q != NULL) {
        const char *s = q + 1;
        while (*s) {
            const char *e = strchr(s, '&');
            size_t n = e ? (size_t)(e - s) : strlen(s);
            const char *eq = memchr(s, '=', n);
            size_t kl = eq ? (size_t)(eq - s) : n;
            const char *v = eq ? eq + 1 : s + n;
            size_t vl = (size_t)(s + n - v);
            if (kl == 8 && memcmp(s, "etl_args", 8) == 0) {
                free(u->args);
                u->args = locus_etl__query_decode(v, vl);
                if (u->args == NULL)
                    goto fail_q;
            } else if (kl == 7 && memcmp(s, "etl_fqn", 7) == 0) {
                free(fqn_wire);
                fqn_wire = xstrndup(v, vl);
            } else if (kl == 10 && memcmp(s, "latest-ver", 10) == 0) {
                u->latest = (vl == 4 && strncasecmp(v, "true", 4) == 0) || (vl == 1 && *v == '1');
            } else if (kl == 12 && memcmp(s, "original_url", 12) == 0) {
                free(u->original_url);
                u->original_url = locus_etl__query_decode(v, vl);
                if (u->original_url == NULL)
                    goto fail_q;
            }
            s += n;
            if (*s == '&')
                s++;
        }
    }
    if (fqn_wire != NULL) {
        int rc = locus_etl__fqn_from_query(fqn_wire, &u->fqn);
        free(fqn_wire);
        fqn_wire = NULL;
        if (rc != 0)
            goto fail;
    } else if (arg_type_fqn && u->dpath[0] == '/') {
        u->fqn = locus_etl__path_normalize(u->dpath);
        /* v3.28 Python passes the FQN itself as the transform's path */
        free(u->dpath);
        u->dpath = xstrdup(u->fqn);
    }
    if (u->args == NULL)
        u->args = xstrdup("");
    return 0;
fail_q:
    free(fqn_wire);
fail:
    locus_etl__uri_dispose(u);
    return -EINVAL;
}

static char *trim_dup(const char *s, size_t n)
{
    while (n > 0 && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    return n ? xstrndup(s, n) : NULL;
}

int locus_etl__node_urls(const char *hdr, char **first, char **rest)
{
    *first = NULL;
    *rest = NULL;
    if (hdr == NULL)
        return -EINVAL;
    buf_t r;
    buf_init(&r);
    const char *s = hdr;
    for (;;) {
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        char *item = trim_dup(s, n);
        if (item != NULL) {
            if (*first == NULL) {
                *first = item;
            } else {
                if (r.len)
                    buf_append(&r, ",", 1);
                buf_puts(&r, item);
                free(item);
            }
        }
        if (e == NULL)
            break;
        s = e + 1;
    }
    if (*first == NULL) {
        buf_dispose(&r);
        return -EINVAL;
    }
    if (r.len)
        *rest = buf_steal(&r);
    else
        buf_dispose(&r);
    return 0;
}

/* Splits "scheme://authority/path?query" (fragment not expected). Pointers into url. */
typedef struct {
    const char *scheme;
    size_t scheme_len;
    const char *auth;
    size_t auth_len;
    const char *path; /* may be empty */
    size_t path_len;
    const char *query; /* after '?', or NULL */
} url_parts_t;

static int split_url(const char *url, url_parts_t *p)
{
    memset(p, 0, sizeof(*p));
    const char *sep = strstr(url, "://");
    if (sep == NULL)
        return -EINVAL;
    p->scheme = url;
    p->scheme_len = (size_t)(sep - url);
    if (!((p->scheme_len == 4 && strncasecmp(url, "http", 4) == 0) ||
          (p->scheme_len == 5 && strncasecmp(url, "https", 5) == 0)))
        return -EINVAL;
    p->auth = sep + 3;
    p->auth_len = strcspn(p->auth, "/?");
    if (p->auth_len == 0)
        return -EINVAL;
    p->path = p->auth + p->auth_len;
    p->path_len = strcspn(p->path, "?");
    p->query = p->path[p->path_len] == '?' ? p->path + p->path_len + 1 : NULL;
    return 0;
}

void locus_etl__url_origin(const char *url, char *out, size_t cap)
{
    url_parts_t p;
    size_t n = split_url(url, &p) == 0 ? (size_t)(p.auth + p.auth_len - url) : strlen(url);
    snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), url);
}

static void append_args(buf_t *b, bool has_query, const char *etl_args)
{
    if (etl_args == NULL || etl_args[0] == '\0')
        return;
    char *enc = url_encode(etl_args, NULL);
    buf_printf(b, "%cetl_args=%s", has_query ? '&' : '?', enc);
    free(enc);
}

char *locus_etl__direct_put_url(const char *daddr, const char *target_url, const char *raw_path,
                                const char *etl_args)
{
    url_parts_t d;
    if (split_url(daddr, &d) != 0)
        return NULL;
    buf_t b;
    buf_init(&b);
    bool has_query = d.query != NULL && d.query[0] != '\0';
    if (d.path_len == 0 || (d.path_len == 1 && d.path[0] == '/')) {
        /* Next ETL server of a pipeline: same request path there. */
        buf_append(&b, daddr, (size_t)(d.auth + d.auth_len - daddr));
        buf_printf(&b, "/%s", raw_path ? raw_path : "");
    } else if ((d.path_len >= 16 && strncmp(d.path, "/v1/etl/_object/", 16) == 0) ||
               target_url == NULL || target_url[0] == '\0') {
        buf_append(&b, daddr, (size_t)(d.path + d.path_len - daddr));
    } else {
        url_parts_t t;
        if (split_url(target_url, &t) != 0) {
            buf_append(&b, daddr, (size_t)(d.path + d.path_len - daddr));
        } else {
            buf_append(&b, t.scheme, t.scheme_len);
            buf_puts(&b, "://");
            buf_append(&b, d.auth, d.auth_len);
            size_t tl = t.path_len;
            while (tl > 0 && t.path[tl - 1] == '/')
                tl--;
            buf_append(&b, t.path, tl);
            buf_append(&b, d.path, d.path_len);
        }
    }
    if (has_query)
        buf_printf(&b, "?%s", d.query);
    append_args(&b, has_query, etl_args);
    return buf_steal(&b);
}

char *locus_etl__hpull_url(const char *target_url, const char *dpath, bool latest)
{
    size_t tl = strlen(target_url);
    while (tl > 0 && target_url[tl - 1] == '/')
        tl--;
    char *enc = url_encode(dpath, "@");
    char *url = xasprintf("%.*s/%s%s", (int)tl, target_url, enc, latest ? "?latest-ver=true" : "");
    free(enc);
    return url;
}
