/*
 * fuzz_etl_uri.c - the request parsing of liblocus-etl's HTTP server (src/etlsdk/etl_parse.c):
 * what reaches a transformer's port from a target, or from anyone who can connect to it.
 *
 * Input: up to two lines: the request URI ("/bck/obj?etl_args=..&etl_fqn=..", also the v3.28
 * FQN-in-path form) and an Ais-Node-Url header; the last byte picks the v3.28 mode and one of
 * three AIS_TARGET_URL settings (configuration, not input). Properties: a parsed FQN is
 * normalized (absolute, no ".", ".." or empty components, idempotent), an FQN allowed under
 * the roots lies inside one of them, the first direct-put URL is trimmed and non-empty, and
 * every URL built for a direct put or an hpull fetch is http(s).
 */
#include "fuzz.h"

#include <strings.h>

#include "etlsdk/internal.h"

static const char *const roots = "/mnt/a:/mnt/b/::/srv/../data";

static bool normalized(const char *p)
{
    if (p[0] != '/')
        return false;
    if (strcmp(p, "/") == 0)
        return true;
    size_t n = strlen(p);
    return p[n - 1] != '/' && strstr(p, "//") == NULL && strstr(p, "/./") == NULL &&
           strstr(p, "/../") == NULL && !(n >= 2 && strcmp(p + n - 2, "/.") == 0) &&
           !(n >= 3 && strcmp(p + n - 3, "/..") == 0);
}

/* Our own reading of the roots rule, on normalized paths. */
static bool inside(const char *fqn, const char *root)
{
    size_t rl = strlen(root);
    return strcmp(root, "/") == 0 ||
           (strncmp(fqn, root, rl) == 0 && (fqn[rl] == '\0' || fqn[rl] == '/'));
}

static void check_fqn(const char *fqn)
{
    FUZZ_CHECK(normalized(fqn), "FQN \"%s\" is not normalized", fqn);
    char *again = locus_etl__path_normalize(fqn);
    FUZZ_CHECK(strcmp(again, fqn) == 0, "normalizing \"%s\" again gave \"%s\"", fqn, again);
    free(again);
    if (locus_etl__fqn_allowed(fqn, roots))
        FUZZ_CHECK(inside(fqn, "/mnt/a") || inside(fqn, "/mnt/b") || inside(fqn, "/data"),
                   "\"%s\" allowed outside the roots", fqn);
}

/* Schemes are case-insensitive (RFC 3986 §3.1). */
static bool http_url(const char *u)
{
    return strncasecmp(u, "http://", 7) == 0 || strncasecmp(u, "https://", 8) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const targets[] = {NULL, "http://t1:8081", "https://t2:443/base/"};
    char *in = fuzz_cstr(data, size);
    char *lines[2] = {in, NULL};
    char *nl = strchr(in, '\n');
    if (nl) {
        *nl = '\0';
        lines[1] = nl + 1;
    }
    uint8_t last = size > 0 ? data[size - 1] : 0;
    const char *hdr = lines[1], *target = targets[(last >> 1) % 3];
    locus_etl__uri_t u;
    bool v328 = last & 1;
    if (locus_etl__uri_parse(lines[0], v328, &u) == 0) {
        FUZZ_CHECK(u.path && u.dpath && u.args, "parsed URI without path, dpath or args");
        if (u.fqn)
            check_fqn(u.fqn);
        char *first = NULL, *rest = NULL;
        if (hdr && locus_etl__node_urls(hdr, &first, &rest) == 0) {
            size_t n = strlen(first);
            FUZZ_CHECK(n > 0 && first[0] != ' ' && first[n - 1] != ' ' && !strchr(first, ','),
                       "first node URL \"%s\"", first);
            char *url = locus_etl__direct_put_url(first, target, u.path, u.args);
            if (url)
                FUZZ_CHECK(http_url(url), "direct-put URL \"%s\"", url);
            free(url);
        }
        free(first);
        free(rest);
        if (target) {
            char *url = locus_etl__hpull_url(target, u.dpath, u.latest);
            FUZZ_CHECK(http_url(url), "hpull URL \"%s\"", url);
            free(url);
        }
        locus_etl__uri_dispose(&u);
    }
    char *fqn = NULL;
    if (locus_etl__fqn_from_path(lines[0], &fqn) == 0)
        check_fqn(fqn);
    free(fqn);
    free(in);
    return 0;
}
