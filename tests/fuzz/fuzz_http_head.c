/*
 * fuzz_http_head.c - the answer head that httpc_get_lite reads from another node
 * (src/net/http_lite.c httpc_head_parse): status line, header lines, the framing headers
 * (Content-Length, Connection, Transfer-Encoding).
 *
 * Properties: the length returned is within the input and ends with the empty line; a prefix
 * one byte shorter is not whole yet (0); an accepted head has a status of 100..999, a length of
 * -1 or more, and every header reported lies inside the head without a line break in it.
 */
#include "fuzz.h"

#include "net/net.h"

typedef struct {
    const char *base;
    size_t len;
    unsigned n;
} seen_t;

static void on_header(void *arg, const char *name, size_t nl, const char *value, size_t vl)
{
    seen_t *s = arg;
    s->n++;
    FUZZ_CHECK(nl > 0, "empty header name");
    FUZZ_CHECK(name >= s->base && name + nl <= s->base + s->len, "name outside the head");
    FUZZ_CHECK(value >= s->base && value + vl <= s->base + s->len, "value outside the head");
    FUZZ_CHECK(memchr(name, '\n', nl) == NULL && memchr(value, '\n', vl) == NULL,
               "line break in a header");
    FUZZ_CHECK(memchr(value, '\r', vl) == NULL, "CR in a value");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    httpc_head_t h;
    seen_t s = {p, size, 0};
    int n = httpc_head_parse(p, size, &h, on_header, &s);
    FUZZ_CHECK(n >= -1 && n <= (int)size, "length %d of %zu", n, size);
    if (n <= 0) {
        FUZZ_CHECK(n < 0 || s.n == 0, "headers reported for a head not whole");
        return 0;
    }
    FUZZ_CHECK(n >= 4 && memcmp(p + n - 4, "\r\n\r\n", 4) == 0, "head does not end empty line");
    FUZZ_CHECK(h.status >= 100 && h.status <= 999, "status %d", h.status);
    FUZZ_CHECK(h.content_length >= -1, "length %lld", (long long)h.content_length);
    httpc_head_t h2;
    FUZZ_CHECK(httpc_head_parse(p, (size_t)n - 1, &h2, NULL, NULL) == 0, "shorter prefix whole");
    return 0;
}
