/*
 * list.c - ListObjectsV2 (list-type=2) and ListObjects (V1) over the native listing of this
 * proxy (sorted pages whose continuation token is the last name returned: any name works as a
 * start). The delimiter is applied here: names that hold it after the prefix fold into one
 * CommonPrefixes entry, and the listing jumps past the rest of them (the prefix followed by
 * U+10FFFF, the last code point: only a name with that very character right after the prefix
 * would be skipped too). A V2 continuation token is that native start, hex-encoded.
 */
#include "s3/internal.h"
#include "common/lso.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SKIP_PAST "\xf4\x8f\xbf\xbf" /* U+10FFFF */

typedef struct {
    /* in */
    const char *bck, *prefix, *delim;
    long max_keys;
    bool url_enc; /* encoding-type=url */
    /* out */
    buf_t contents; /* <Contents>... and <CommonPrefixes>... */
    long count;
    bool truncated;
    char *last;    /* the last key or common prefix answered (NextMarker) */
    char *next;    /* the native start of the next page (NextContinuationToken) */
    char *last_cp; /* the last common prefix answered */
} lst_t;

/* A name as answered: url-encoded with encoding-type=url. */
static void put_name(lst_t *l, buf_t *x, const char *tag, const char *name)
{
    if (!l->url_enc) {
        s3x_elem(x, tag, name);
        return;
    }
    char *e = url_encode(name, "/");
    s3x_elem(x, tag, e);
    free(e);
}

/* "07 Dec 26 06:35 UTC" (the listing's atime) to S3's ISO time. */
static void list_time(const char *at, char out[32])
{
    struct tm tm = {0};
    int64_t ns = 0;
    if (at && strptime(at, "%d %b %y %H:%M", &tm))
        ns = (int64_t)timegm(&tm) * 1000000000LL;
    s3_time_iso(ns, out);
}

static void add_entry(lst_t *l, const lso_entry_t *e)
{
    char t[32], etag[80] = "";
    list_time(e->atime, t);
    const char *cm = e->custom ? strstr(e->custom, "ETag=") : NULL;
    if (cm && (cm == e->custom || cm[-1] == ','))
        snprintf(etag, sizeof(etag), "\"%.*s\"", (int)strcspn(cm + 5, ","), cm + 5);
    else if (e->checksum)
        snprintf(etag, sizeof(etag), "\"%.64s\"", e->checksum);
    buf_puts(&l->contents, "<Contents>");
    put_name(l, &l->contents, "Key", e->name);
    s3x_elem(&l->contents, "LastModified", t);
    s3x_elem(&l->contents, "ETag", etag);
    buf_printf(&l->contents, "<Size>%lld</Size><StorageClass>STANDARD</StorageClass>",
               (long long)e->size);
    buf_puts(&l->contents, "</Contents>");
}

/* One entry of a native page; false when the page is full (max_keys answered). */
static bool take(lst_t *l, const lso_entry_t *e)
{
    const char *name = e->name;
    if (l->last_cp && str_has_prefix(name, l->last_cp))
        return true; /* folded into the common prefix already answered */
    if (l->count >= l->max_keys) {
        l->truncated = true;
        return false;
    }
    size_t pl = strlen(l->prefix), dl = strlen(l->delim);
    const char *d = dl ? strstr(name + pl, l->delim) : NULL;
    free(l->last);
    free(l->next);
    if (d) {
        free(l->last_cp);
        l->last_cp = xstrndup(name, (size_t)(d - name) + dl);
        buf_puts(&l->contents, "<CommonPrefixes>");
        put_name(l, &l->contents, "Prefix", l->last_cp);
        buf_puts(&l->contents, "</CommonPrefixes>");
        l->last = xstrdup(l->last_cp);
        l->next = xasprintf("%s" SKIP_PAST, l->last_cp);
    } else {
        add_entry(l, e);
        l->last = xstrdup(name);
        l->next = xstrdup(name);
    }
    l->count++;
    return true;
}

/* Native pages from start on until max_keys are answered or the listing ends. 0, or the
 * native status with the error answered. */
static long collect(http_req_t *req, lst_t *l, const char *start)
{
    char *path = xasprintf("/v1/buckets/%s", l->bck);
    char *token = xstrdup(start);
    long st = 0;
    for (;;) {
        long want = l->max_keys - l->count + 1;
        json_t *msg =
            json_pack("{s:s, s:{s:s, s:s, s:I, s:s}}", "action", "list", "value", "prefix",
                      l->prefix, "continuation_token", token, "pagesize",
                      (json_int_t)(l->delim[0] || want > S3_LIST_MAX ? S3_LIST_MAX : want), "props",
                      "name,size,checksum,atime,custom");
        if (msg == NULL) { /* a prefix or start that is not UTF-8 */
            s3_error(req, 400, "InvalidArgument", "prefix, marker and tokens must be UTF-8");
            st = 400;
            break;
        }
        httpc_resp_t r;
        httpc_resp_init(&r);
        int rc = s3_native("GET", path, msg, &r);
        json_decref(msg);
        json_t *j =
            rc == 0 && r.status == 200 ? json_loadb(r.body.base, r.body.len, 0, NULL) : NULL;
        lso_page_t p;
        lso_page_init(&p);
        if (j == NULL || lso_decode_json(j, &p) < 0) {
            st = rc < 0 ? 503 : r.status == 200 ? 500 : r.status;
            if (rc < 0)
                s3_error(req, 503, "ServiceUnavailable", "%s", r.err);
            else
                s3_error_native(req, st, &r.body, "NoSuchBucket");
        }
        httpc_resp_dispose(&r);
        json_decref(j);
        bool more = st == 0;
        for (size_t i = 0; more && i < p.n; i++)
            more = take(l, &p.entries[i]);
        char *prev = token;
        token = more && p.continuation_token && p.continuation_token[0] &&
                        strcmp(p.continuation_token, prev) > 0 /* always forward */
                    ? xstrdup(p.continuation_token)
                    : NULL;
        free(prev);
        /* past a common prefix at the end of a page: skip the rest of it */
        if (token && l->last_cp && str_has_prefix(token, l->last_cp)) {
            free(token);
            token = xasprintf("%s" SKIP_PAST, l->last_cp);
        }
        lso_page_dispose(&p);
        if (token == NULL)
            break;
    }
    free(token);
    free(path);
    return st;
}

static char *hex_encode(const char *s)
{
    buf_t b;
    buf_init(&b);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        buf_printf(&b, "%02x", *p);
    buf_append(&b, "", 1);
    return buf_steal(&b);
}

/* NULL when s is not the hex of a string without NUL. Caller frees. */
static char *hex_decode(const char *s)
{
    size_t n = strlen(s);
    if (n % 2 || n > 4096)
        return NULL;
    char *out = xmalloc(n / 2 + 1);
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1 || v == 0 ||
            strchr("0123456789abcdef", s[2 * i]) == NULL ||
            strchr("0123456789abcdef", s[2 * i + 1]) == NULL) {
            free(out);
            return NULL;
        }
        out[i] = (char)v;
    }
    out[n / 2] = '\0';
    return out;
}

/* The native start of a listing: V2's continuation-token (or start-after), V1's marker (a
 * marker that is a common prefix skips its names). NULL when invalid (answered). */
static char *list_start(http_req_t *req, lst_t *l, bool v2)
{
    const char *tok = v2 ? http_query(req, "continuation-token") : NULL;
    if (tok) {
        char *s = hex_decode(tok);
        if (s == NULL)
            s3_error(req, 400, "InvalidArgument", "invalid continuation-token");
        return s;
    }
    const char *m = http_query(req, v2 ? "start-after" : "marker");
    if (m == NULL)
        return xstrdup("");
    size_t dl = strlen(l->delim);
    if (!v2 && dl && str_has_suffix(m, l->delim) && str_has_prefix(m, l->prefix))
        return xasprintf("%s" SKIP_PAST, m);
    return xstrdup(m);
}

static void list_answer(http_req_t *req, lst_t *l, bool v2, const char *start)
{
    buf_t x;
    buf_init(&x);
    buf_puts(&x, "<ListBucketResult xmlns=\"" S3_XML_NS "\">");
    s3x_elem(&x, "Name", l->bck);
    put_name(l, &x, "Prefix", l->prefix);
    if (l->delim[0])
        put_name(l, &x, "Delimiter", l->delim);
    buf_printf(&x, "<MaxKeys>%ld</MaxKeys>", l->max_keys);
    if (l->url_enc)
        s3x_elem(&x, "EncodingType", "url");
    buf_printf(&x, "<IsTruncated>%s</IsTruncated>", l->truncated ? "true" : "false");
    if (v2) {
        buf_printf(&x, "<KeyCount>%ld</KeyCount>", l->count);
        const char *tok = http_query(req, "continuation-token");
        const char *sa = http_query(req, "start-after");
        if (tok)
            s3x_elem(&x, "ContinuationToken", tok);
        if (sa)
            put_name(l, &x, "StartAfter", sa);
        if (l->truncated && l->next) {
            char *h = hex_encode(l->next);
            s3x_elem(&x, "NextContinuationToken", h);
            free(h);
        }
    } else {
        const char *m = http_query(req, "marker");
        put_name(l, &x, "Marker", m ? m : "");
        if (l->truncated && l->delim[0] && l->last)
            put_name(l, &x, "NextMarker", l->last);
    }
    (void)start;
    buf_append(&x, l->contents.base ? l->contents.base : "", l->contents.len);
    buf_puts(&x, "</ListBucketResult>");
    s3_reply_xml(req, 200, &x);
}

void s3_list_objects(http_req_t *req, s3_ctx_t *c)
{
    const char *lt = http_query(req, "list-type");
    bool v2 = lt && strcmp(lt, "2") == 0;
    if (lt && !v2) {
        s3_error(req, 400, "InvalidArgument", "list-type must be 2 (or absent: V1)");
        return;
    }
    const char *mk = http_query(req, "max-keys");
    const char *enc = http_query(req, "encoding-type");
    lst_t l = {.bck = c->bck, .max_keys = S3_LIST_MAX};
    l.prefix = http_query(req, "prefix") ? http_query(req, "prefix") : "";
    l.delim = http_query(req, "delimiter") ? http_query(req, "delimiter") : "";
    if (mk) {
        char *end;
        l.max_keys = strtol(mk, &end, 10);
        if (*end || end == mk || l.max_keys < 0) {
            s3_error(req, 400, "InvalidArgument", "max-keys must be a non-negative integer");
            return;
        }
        if (l.max_keys > S3_LIST_MAX)
            l.max_keys = S3_LIST_MAX;
    }
    if (enc && strcmp(enc, "url") != 0) {
        s3_error(req, 400, "InvalidArgument", "encoding-type must be url");
        return;
    }
    l.url_enc = enc != NULL;
    char *start = list_start(req, &l, v2);
    if (start == NULL)
        return;
    buf_init(&l.contents);
    if (l.max_keys == 0 || collect(req, &l, start) == 0)
        list_answer(req, &l, v2, start);
    buf_dispose(&l.contents);
    free(l.last);
    free(l.next);
    free(l.last_cp);
    free(start);
}
