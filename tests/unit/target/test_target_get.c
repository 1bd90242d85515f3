/*
 * test_target_get.c - object GET and HEAD on a real HTTP server (this process is target t1 with
 * one temp mountpath, no daemon), read as raw bytes off the socket: bodies of 0 B..1 MiB on both
 * sides of TARGET_SMALL_GET_MAX (read into memory below it, sendfile above it), ranges whose
 * length falls on either side, 416, a file without metadata, a directory that is no object, and
 * the same header names in the same order for every size; and PUTs over HTTP with and without
 * fsync (whose commit runs on a request worker, not on an I/O thread).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "cluster/cluster.h"
#include "cluster/internal.h"
#include "cluster/membership.h"
#include "cluster/meta.h"
#include "common/config.h"
#include "common/util.h"
#include "net/net.h"
#include "../node_http.h"
#include "target/internal.h"
#include "target/target.h"

#define T TARGET_SMALL_GET_MAX

static char root[] = "/tmp/locus-test-tget-XXXXXX";
static config_t cfg;
static http_server_t *tsrv;

static int setup(void **state)
{
    if (mkdtemp(root) == NULL)
        return -1;
    char err[512] = "";
    tsrv = http_server_start("127.0.0.1", 0, "t[t1]", target_on_headers, target_on_request, err,
                             sizeof(err));
    if (tsrv == NULL) {
        fprintf(stderr, "setup: %s\n", err);
        return -1;
    }
    node_port = http_server_port(tsrv);
    node_config(&cfg, ROLE_TARGET, "t1", xasprintf("%s/data", root));
    cfg.primary_url = xstrdup("http://127.0.0.1:1"); /* never called: no cluster_start */
    cfg.mountpaths[0] = xasprintf("%s/mp1", root);
    cfg.n_mountpaths = 1;
    if (cluster_init(&cfg, err, sizeof(err)) < 0 || target_init(err, sizeof(err)) < 0) {
        fprintf(stderr, "setup: %s\n", err);
        return -1;
    }
    cluster_mark_ready();             /* no join here: the target serves at once */
    mdoc_t *d = md_new(MD_BMD, "U1"); /* bucket b */
    d->version = 1;
    json_object_set_new(d->items, "b", json_pack("{s:s}", "bid", "b"));
    meta_write_lock();
    smap_upsert("t1", cfg.public_url, false);
    meta_install_md(d);
    meta_write_unlock();
    return 0;
}

static int teardown(void **state)
{
    httpc_thread_cleanup();
    http_server_stop(tsrv);
    target_shutdown();
    remove_tree(root);
    return 0;
}

/* size bytes of a pattern that differs at every offset within 251 bytes and per size. */
static char *pattern(size_t size)
{
    char *p = xmalloc(size + 1);
    for (size_t i = 0; i < size; i++)
        p[i] = (char)((i * 7 + size) % 251);
    return p;
}

static void put(const char *obj, const char *data, size_t n)
{
    obj_writer_t w;
    char err[512];
    assert_int_equal(store_writer_open(&w, "b", obj, err, sizeof(err)), 0);
    assert_int_equal(store_writer_write(&w, data, n), 0);
    assert_int_equal(store_writer_commit(&w, NULL, err, sizeof(err)), 0);
}

typedef struct {
    buf_t raw;
    size_t head_len; /* status line and headers, up to the empty line */
    int status;
} resp_t;

/* One request on its own connection (Connection: close), read to EOF. */
static void request(const char *method, const char *obj, const char *range, resp_t *r)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)node_port)};
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    char *req =
        xasprintf("%s /v1/objects/b/%s HTTP/1.1\r\nHost: x\r\n%s%s%sConnection: close\r\n\r\n",
                  method, obj, range ? "Range: " : "", range ? range : "", range ? "\r\n" : "");
    assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    free(req);
    buf_init(&r->raw);
    char tmp[65536];
    ssize_t n;
    while ((n = read(fd, tmp, sizeof(tmp))) > 0)
        buf_append(&r->raw, tmp, (size_t)n);
    close(fd);
    buf_append(&r->raw, "", 1); /* NUL for the string functions; not counted in body */
    const char *end = strstr(r->raw.base, "\r\n\r\n");
    assert_non_null(end);
    r->head_len = (size_t)(end - r->raw.base) + 2;
    r->status = atoi(r->raw.base + strlen("HTTP/1.1 "));
}

static const char *body(const resp_t *r, size_t *n)
{
    *n = r->raw.len - 1 - r->head_len - 2;
    return r->raw.base + r->head_len + 2;
}

/* The value of header name (caller frees), NULL when absent. */
static char *header(const resp_t *r, const char *name)
{
    char *key = xasprintf("\r\n%s: ", name);
    const char *p = strstr(r->raw.base, key);
    char *v = NULL;
    if (p && (size_t)(p - r->raw.base) < r->head_len) {
        p += strlen(key);
        v = xstrndup(p, strcspn(p, "\r"));
    }
    free(key);
    return v;
}

static void assert_header(const resp_t *r, const char *name, const char *want)
{
    char *v = header(r, name);
    assert_non_null(v);
    assert_string_equal(v, want);
    free(v);
}

/* The header names in order, without Date, joined by ','. */
static char *names(const resp_t *r)
{
    buf_t b;
    buf_init(&b);
    const char *p = strstr(r->raw.base, "\r\n") + 2;
    while ((size_t)(p - r->raw.base) < r->head_len) {
        size_t klen = strcspn(p, ":");
        if (strncmp(p, "Date", klen) != 0) {
            buf_append(&b, p, klen);
            buf_append(&b, ",", 1);
        }
        p = strstr(p, "\r\n") + 2;
    }
    return buf_steal(&b);
}

static void assert_range(const char *obj, const char *data, size_t size, const char *range,
                         size_t lo, size_t hi)
{
    resp_t r;
    request("GET", obj, range, &r);
    assert_int_equal(r.status, 206);
    size_t n;
    const char *b = body(&r, &n);
    assert_int_equal(n, hi - lo + 1);
    assert_memory_equal(b, data + lo, n);
    char want[96];
    snprintf(want, sizeof(want), "bytes %zu-%zu/%zu", lo, hi, size);
    assert_header(&r, "Content-Range", want);
    buf_dispose(&r.raw);
}

static void test_sizes_and_ranges(void **state)
{
    const size_t sizes[] = {0, 1, 4096, T - 1, T, T + 1, 1 << 20};
    char *first_names = NULL;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t size = sizes[i];
        char obj[32], want[32];
        snprintf(obj, sizeof(obj), "o-%zu", size);
        char *data = pattern(size);
        put(obj, data, size);
        resp_t r, h;
        request("GET", obj, NULL, &r);
        assert_int_equal(r.status, 200);
        size_t n;
        const char *b = body(&r, &n);
        assert_int_equal(n, size);
        assert_memory_equal(b, data, size);
        snprintf(want, sizeof(want), "%zu", size);
        assert_header(&r, "Content-Length", want);
        assert_header(&r, "Ais-Size", want);
        char *nm = names(&r);
        if (first_names == NULL)
            first_names = xstrdup(nm);
        assert_string_equal(nm, first_names);
        free(nm);
        /* HEAD: the GET's head (Date aside) with the object's properties before the
         * Content-Length, no body. */
        request("HEAD", obj, NULL, &h);
        assert_int_equal(h.status, 200);
        assert_int_equal(h.raw.len - 1, h.head_len + 2);
        char *hn = names(&h), *gn = names(&r);
        assert_non_null(strstr(gn, "Accept-Ranges,Content-Length,"));
        buf_t want_hn;
        buf_init(&want_hn);
        buf_printf(&want_hn,
                   "%.*sAis-Name,Ais-Bucket-Name,Ais-Bucket-Provider,Ais-Location,"
                   "Ais-Mirror-Paths,Ais-Mirror-Copies,Ais-Present,Content-Length,",
                   (int)(strstr(gn, "Content-Length,") - gn), gn);
        assert_string_equal(hn, want_hn.base);
        buf_dispose(&want_hn);
        free(hn);
        free(gn);
        buf_dispose(&h.raw);
        buf_dispose(&r.raw);
        if (size > 0) {
            char rng[64];
            assert_range(obj, data, size, "bytes=0-0", 0, 0);
            assert_range(obj, data, size, "bytes=-1", size - 1, size - 1);
            snprintf(rng, sizeof(rng), "bytes=-%zu", size + 9);
            assert_range(obj, data, size, rng, 0, size - 1);
            snprintf(rng, sizeof(rng), "bytes=%zu-", size / 2);
            assert_range(obj, data, size, rng, size / 2, size - 1);
        }
        if (size > T + 1) {
            char rng[64];
            snprintf(rng, sizeof(rng), "bytes=3-%d", 3 + T - 1); /* T bytes: in memory */
            assert_range(obj, data, size, rng, 3, 3 + T - 1);
            snprintf(rng, sizeof(rng), "bytes=3-%d", 3 + T); /* T + 1: sendfile */
            assert_range(obj, data, size, rng, 3, 3 + T);
            snprintf(rng, sizeof(rng), "bytes=-%d", T);
            assert_range(obj, data, size, rng, size - T, size - 1);
        }
        char rng[64];
        snprintf(rng, sizeof(rng), "bytes=%zu-", size);
        request("GET", obj, rng, &r);
        assert_int_equal(r.status, 416);
        snprintf(want, sizeof(want), "bytes */%zu", size);
        assert_header(&r, "Content-Range", want);
        buf_dispose(&r.raw);
        free(data);
    }
    free(first_names);
}

/* A file put there by hand (no metadata xattr), small and big: served with checksum "none". */
static void test_file_without_metadata(void **state)
{
    const size_t sizes[] = {5, T + 1};
    for (size_t i = 0; i < 2; i++) {
        char obj[32];
        snprintf(obj, sizeof(obj), "bare-%zu", sizes[i]);
        put("bare-dir-maker", "x", 1); /* creates the bucket's object directory */
        char *fqn = store_fqn("b", obj);
        char *data = pattern(sizes[i]);
        FILE *f = fopen(fqn, "w");
        assert_non_null(f);
        assert_int_equal(fwrite(data, 1, sizes[i], f), sizes[i]);
        fclose(f);
        resp_t r;
        request("GET", obj, NULL, &r);
        assert_int_equal(r.status, 200);
        size_t n;
        const char *b = body(&r, &n);
        assert_int_equal(n, sizes[i]);
        assert_memory_equal(b, data, n);
        assert_header(&r, "Ais-Checksum-Type", "none");
        assert_header(&r, "Ais-Version", "1");
        buf_dispose(&r.raw);
        free(data);
        free(fqn);
    }
}

/* "d" is only the directory of "d/x": not an object. */
static void test_directory_is_404(void **state)
{
    put("d/x", "x", 1);
    resp_t r;
    request("GET", "d", NULL, &r);
    assert_int_equal(r.status, 404);
    buf_dispose(&r.raw);
    request("GET", "d/x", NULL, &r);
    assert_int_equal(r.status, 200);
    buf_dispose(&r.raw);
}

/* PUT through the server, then GET: with fsync the commit waits for the disk, so the request
 * is not fast and runs on a worker; the object is the same either way. */
static void test_put_with_and_without_fsync(void **state)
{
    for (int f = 0; f < 2; f++) {
        cfg.fsync = f == 1;
        char path[64], body[100];
        snprintf(path, sizeof(path), "/v1/objects/b/fsync-%d", f);
        snprintf(body, sizeof(body), "stored with fsync %s", f ? "on" : "off");
        assert_int_equal(call_status("PUT", path, body), 200);
        httpc_resp_t r;
        assert_int_equal(call("GET", path, NULL, &r), 200);
        assert_int_equal(r.body.len, strlen(body));
        assert_memory_equal(r.body.base, body, strlen(body));
        httpc_resp_dispose(&r);
    }
    cfg.fsync = false;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes_and_ranges),
        cmocka_unit_test(test_file_without_metadata),
        cmocka_unit_test(test_directory_is_404),
        cmocka_unit_test(test_put_with_and_without_fsync),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
