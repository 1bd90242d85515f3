/*
 * object.c - object calls of liblocus: PUT (buffer, fd, file), GET (callback, fd, memory,
 * optional Range), HEAD, DELETE, multi-object delete, and list-objects pages
 * (docs/protocol.md §1.3-§1.5, §1 row 20).
 */
#include "client/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int client_check_object(const char *bck, const char *obj, char *err)
{
    int rc = locus_check_bucket_name(bck, err);
    if (rc != 0)
        return rc;
    if (obj == NULL || obj[0] == '\0')
        return client_fail(err, LOCUS_EINVAL, "empty object name");
    return 0;
}

static int put_common(locus_client_t *c, const char *bck, const char *obj, client_req_t *r,
                      char *err)
{
    char *url = client_url_object(c->endpoint, bck, obj, NULL);
    r->url = url;
    r->method = "PUT";
    r->upload = true;
    int rc = client_do(c, r, err);
    r->url = NULL;
    free(url);
    return rc;
}

int locus_object_put_buf(locus_client_t *c, const char *bck, const char *obj, const void *data,
                         size_t len, char *err)
{
    int rc = client_check_object(bck, obj, err);
    if (rc != 0)
        return rc;
    client_req_t r;
    client_req_init(&r, "PUT", NULL);
    r.up_buf = data != NULL ? data : "";
    r.up_len = (int64_t)len;
    rc = put_common(c, bck, obj, &r, err);
    client_req_dispose(&r);
    return rc;
}

int locus_object_put_fd(locus_client_t *c, const char *bck, const char *obj, int fd, int64_t offset,
                        int64_t size, char *err)
{
    int rc = client_check_object(bck, obj, err);
    if (rc != 0)
        return rc;
    if (offset < 0)
        return client_fail(err, LOCUS_EINVAL, "negative offset");
    if (size < 0) {
        struct stat st;
        if (fstat(fd, &st) != 0)
            return client_fail(err, -errno, "fstat: %s", strerror(errno));
        if (!S_ISREG(st.st_mode))
            return client_fail(err, LOCUS_EINVAL, "not a regular file (size unknown)");
        size = st.st_size > offset ? st.st_size - offset : 0;
    }
    client_req_t r;
    client_req_init(&r, "PUT", NULL);
    r.up_fd = fd;
    r.up_off = offset;
    r.up_len = size;
    rc = put_common(c, bck, obj, &r, err);
    client_req_dispose(&r);
    return rc;
}

int locus_object_put_file(locus_client_t *c, const char *bck, const char *obj, const char *path,
                          char *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return client_fail(err, -errno, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int e = errno;
        close(fd);
        return client_fail(err, LOCUS_EINVAL, "%s: %s", path,
                           S_ISDIR(st.st_mode) ? "is a directory"
                                               : (e ? strerror(e) : "not a regular file"));
    }
    int rc = locus_object_put_fd(c, bck, obj, fd, 0, st.st_size, err);
    close(fd);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */

int locus_object_get_cb(locus_client_t *c, const char *bck, const char *obj,
                        const locus_range_t *range, locus_write_cb cb, void *arg, int64_t *nbytes,
                        char *err)
{
    if (nbytes != NULL)
        *nbytes = 0;
    int rc = client_check_object(bck, obj, err);
    if (rc != 0)
        return rc;
    if (range != NULL && range->off < 0)
        return client_fail(err, LOCUS_EINVAL, "negative range offset");
    if (range != NULL && range->len == 0)
        return client_fail(err, LOCUS_EINVAL, "empty range");
    return client_get_stream(c, bck, obj, NULL, range, cb, arg, nbytes, err);
}

int client_get_stream(locus_client_t *c, const char *bck, const char *obj, const char *query,
                      const locus_range_t *range, locus_write_cb cb, void *arg, int64_t *nbytes,
                      char *err)
{
    char *url = client_url_object(c->endpoint, bck, obj, query);
    client_req_t r;
    client_req_init(&r, "GET", url);
    /* A range past the largest offset reads to the end (off + len would overflow). */
    if (range != NULL && (range->len < 0 || range->len > INT64_MAX - range->off))
        snprintf(r.range, sizeof(r.range), "bytes=%lld-", (long long)range->off);
    else if (range != NULL)
        snprintf(r.range, sizeof(r.range), "bytes=%lld-%lld", (long long)range->off,
                 (long long)(range->off + range->len - 1));
    r.sink = cb;
    r.sink_arg = arg;
    int rc = client_do(c, &r, err);
    if (nbytes != NULL)
        *nbytes = r.nbytes;
    client_req_dispose(&r);
    free(url);
    return rc;
}

int locus_object_get_fd(locus_client_t *c, const char *bck, const char *obj,
                        const locus_range_t *range, int fd, int64_t *nbytes, char *err)
{
    client_fd_sink_t s = {fd, 0};
    int rc = locus_object_get_cb(c, bck, obj, range, client_fd_sink, &s, nbytes, err);
    if (rc != 0 && s.err != 0)
        rc = client_fail(err, s.err, "write: %s", strerror(-s.err));
    return rc;
}

static int on_buf_write(void *arg, const void *data, size_t len)
{
    buf_append(arg, data, len);
    return 0;
}

int locus_object_get_buf(locus_client_t *c, const char *bck, const char *obj,
                         const locus_range_t *range, char **data, size_t *len, char *err)
{
    *data = NULL;
    *len = 0;
    buf_t b;
    buf_init(&b);
    int rc = locus_object_get_cb(c, bck, obj, range, on_buf_write, &b, NULL, err);
    if (rc != 0) {
        buf_dispose(&b);
        return rc;
    }
    *len = b.len;
    *data = buf_steal(&b);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */

void locus_obj_props_dispose(locus_obj_props_t *p)
{
    static const size_t offs[] = {
        offsetof(locus_obj_props_t, checksum_type), offsetof(locus_obj_props_t, checksum_value),
        offsetof(locus_obj_props_t, version), offsetof(locus_obj_props_t, location),
        offsetof(locus_obj_props_t, custom_md)};
    static const size_t hdr_offs[] = {offsetof(locus_header_t, name),
                                      offsetof(locus_header_t, value)};
    if (p != NULL)
        client_free_records(p->hdrs, p->nhdrs, sizeof(*p->hdrs), hdr_offs, ARRAY_SIZE(hdr_offs));
    client_dispose_record(p, sizeof(*p), offs, ARRAY_SIZE(offs));
}

static char *hdr_dup(const client_req_t *r, const char *name)
{
    const char *v = client_req_header(r, name);
    return v != NULL ? xstrdup(v) : NULL;
}

/* One request on object bck/obj without a body; r holds the reply (caller disposes). */
static int object_call(locus_client_t *c, const char *method, const char *bck, const char *obj,
                       client_req_t *r, char *err)
{
    client_req_init(r, method, NULL);
    int rc = client_check_object(bck, obj, err);
    if (rc != 0)
        return rc;
    char *url = client_url_object(c->endpoint, bck, obj, NULL);
    r->url = url;
    rc = client_do(c, r, err);
    r->url = NULL;
    free(url);
    return rc;
}

int locus_object_head(locus_client_t *c, const char *bck, const char *obj, locus_obj_props_t *p,
                      char *err)
{
    memset(p, 0, sizeof(*p));
    p->size = -1;
    client_req_t r;
    int rc = object_call(c, "HEAD", bck, obj, &r, err);
    if (rc == LOCUS_ENOENT && r.errbody.len == 0)
        client_fail(err, rc, "ais://%s/%s does not exist", bck, obj);
    if (rc == 0) {
        const char *cl = client_req_header(&r, "Content-Length");
        p->size = cl != NULL ? strtoll(cl, NULL, 10) : -1;
        p->checksum_type = hdr_dup(&r, "Ais-Checksum-Type");
        p->checksum_value = hdr_dup(&r, "Ais-Checksum-Value");
        p->version = hdr_dup(&r, "Ais-Version");
        p->location = hdr_dup(&r, "Ais-Location");
        p->custom_md = hdr_dup(&r, "Ais-Custom-Md");
        const char *at = client_req_header(&r, "Ais-Atime");
        p->atime_ns = at != NULL ? strtoll(at, NULL, 10) : 0;
        p->hdrs = xcalloc(r.nhdrs + 1, sizeof(*p->hdrs));
        for (size_t i = 0; i < r.nhdrs; i++) {
            if (strncasecmp(r.hdrs[i].name, "Ais-", 4) != 0)
                continue;
            p->hdrs[p->nhdrs].name = xstrdup(r.hdrs[i].name);
            p->hdrs[p->nhdrs].value = xstrdup(r.hdrs[i].value);
            p->nhdrs++;
        }
    }
    client_req_dispose(&r);
    return rc;
}

int locus_object_delete(locus_client_t *c, const char *bck, const char *obj, char *err)
{
    client_req_t r;
    int rc = object_call(c, "DELETE", bck, obj, &r, err);
    client_req_dispose(&r);
    return rc;
}

int locus_objects_delete(locus_client_t *c, const char *bck, const char *const *names, size_t n,
                         const char *template_str, char **job_id, char *err)
{
    if (job_id != NULL)
        *job_id = NULL;
    int rc = locus_check_bucket_name(bck, err);
    if (rc != 0)
        return rc;
    json_t *v;
    if (names != NULL) {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(a, json_string(names[i]));
        v = json_pack("{s:o}", "objnames", a);
    } else if (template_str != NULL) {
        v = json_pack("{s:s}", "template", template_str);
    } else {
        return client_fail(err, LOCUS_EINVAL, "neither names nor a template");
    }
    client_req_t r;
    rc = client_bucket_call(c, "DELETE", bck, NULL, "delete-listrange", v, NULL, &r, err);
    if (rc == 0 && job_id != NULL)
        *job_id = client_trim_id(r.body.base, r.body.len);
    client_req_dispose(&r);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Listing */

void locus_lso_page_dispose(locus_lso_page_t *page)
{
    static const size_t offs[] = {offsetof(locus_lso_page_t, uuid),
                                  offsetof(locus_lso_page_t, continuation_token)};
    static const size_t ent_offs[] = {
        offsetof(locus_lso_entry_t, name),     offsetof(locus_lso_entry_t, checksum),
        offsetof(locus_lso_entry_t, atime),    offsetof(locus_lso_entry_t, version),
        offsetof(locus_lso_entry_t, location), offsetof(locus_lso_entry_t, custom)};
    if (page != NULL)
        client_free_records(page->entries, page->n, sizeof(*page->entries), ent_offs,
                            ARRAY_SIZE(ent_offs));
    client_dispose_record(page, sizeof(*page), offs, ARRAY_SIZE(offs));
}

/* A property that may arrive as string, number or object (custom metadata): as a string. */
static char *prop_str(json_t *v)
{
    if (v == NULL || json_is_null(v))
        return NULL;
    if (json_is_string(v))
        return json_string_length(v) > 0 ? xstrdup(json_string_value(v)) : NULL;
    if (json_is_integer(v))
        return xasprintf("%lld", (long long)json_integer_value(v));
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    return s;
}

int locus_object_list_page(locus_client_t *c, const char *bck, const locus_lso_opts_t *opts,
                           locus_lso_page_t *page, char *err)
{
    memset(page, 0, sizeof(*page));
    int rc = locus_check_bucket_name(bck, err);
    if (rc != 0)
        return rc;
    locus_lso_opts_t none = {0};
    if (opts == NULL)
        opts = &none;
    char flags[32];
    snprintf(flags, sizeof(flags), "%llu", (unsigned long long)opts->flags);
    json_t *v = json_pack(
        "{s:s, s:i, s:s, s:s, s:s, s:s, s:s}", "prefix", opts->prefix ? opts->prefix : "",
        "pagesize", (json_int_t)opts->page_size, "uuid", opts->uuid ? opts->uuid : "", "props",
        opts->props ? opts->props : "", "continuation_token",
        opts->continuation_token ? opts->continuation_token : "", "flags", flags, "target", "");
    client_req_t r;
    rc = client_bucket_call(c, "GET", bck, NULL, "list", v, "application/json", &r, err);
    if (rc != 0)
        goto out;
    json_error_t jerr;
    json_t *j = json_loadb(r.body.base, r.body.len, 0, &jerr);
    if (j == NULL || !json_is_object(j)) {
        json_decref(j);
        rc = client_fail(err, LOCUS_EPROTO, "list objects: reply is not a JSON object (%s)",
                         j == NULL ? jerr.text : "wrong type");
        goto out;
    }
    /* JSON LsoRes; accept Go's field names too ("UUID", "ContinuationToken", "Entries"). */
    json_t *ents = json_object_get(j, "entries");
    if (ents == NULL)
        ents = json_object_get(j, "Entries");
    json_t *uuid = json_object_get(j, "uuid");
    if (uuid == NULL)
        uuid = json_object_get(j, "UUID");
    json_t *tok = json_object_get(j, "continuation_token");
    if (tok == NULL)
        tok = json_object_get(j, "ContinuationToken");
    page->uuid = xstrdup(json_is_string(uuid) ? json_string_value(uuid) : "");
    page->continuation_token = xstrdup(json_is_string(tok) ? json_string_value(tok) : "");
    size_t cnt = json_is_array(ents) ? json_array_size(ents) : 0;
    page->entries = xcalloc(cnt + 1, sizeof(*page->entries));
    for (size_t i = 0; i < cnt; i++) {
        json_t *e = json_array_get(ents, i);
        const char *name = json_string_value(json_object_get(e, "name"));
        if (name == NULL)
            name = json_string_value(json_object_get(e, "n"));
        if (name == NULL)
            continue;
        locus_lso_entry_t *le = &page->entries[page->n++];
        le->name = xstrdup(name);
        le->size = json_int64(json_object_get(e, "size")); /* omitted when 0 */
        le->checksum = prop_str(json_object_get(e, "checksum"));
        le->atime = prop_str(json_object_get(e, "atime"));
        le->version = prop_str(json_object_get(e, "version"));
        le->location = prop_str(json_object_get(e, "location"));
        json_t *cm = json_object_get(e, "custom-md");
        le->custom = prop_str(cm != NULL ? cm : json_object_get(e, "custom"));
        le->copies = json_int64(json_object_get(e, "copies"));
        le->flags = (uint32_t)json_int64(json_object_get(e, "flags"));
    }
    json_decref(j);
out:
    client_req_dispose(&r);
    return rc;
}
