/*
 * fuzz_names.c - object and bucket names, unames and FQNs (src/common/names.c): the checks that
 * stand between a request and the filesystem.
 *
 * The input is one name. Properties: a valid bucket name is [A-Za-z0-9_.-]{1,64} with no leading
 * '.' and no ".."; a valid object name is UTF-8 with no NUL or control byte, no leading '/', no
 * empty, "." or ".." segment (checked here independently of names.c); uname_parse() and fqn_parse()
 * only return valid names and round-trip with uname_make() and fqn_make().
 */
#include "fuzz.h"

#include "common/names.h"

static const char *const mpaths[] = {"/mnt/a", "/mnt/a/b", "/mnt/c/", "/"};
#define N_MPATHS (sizeof(mpaths) / sizeof(mpaths[0]))

/* Our own reading of the object name rule, to compare with name_check_object(). */
static bool object_ok(const char *s, size_t n)
{
    if (n == 0 || n > NAME_MAX_OBJECT || s[0] == '/' || !fuzz_utf8_valid(s, n))
        return false;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && ((unsigned char)s[i] < 0x20 || s[i] == 0x7f))
            return false;
        if (i < n && s[i] != '/')
            continue;
        size_t len = i - start;
        if (len == 0 || len > 255 || (len == 1 && s[start] == '.') ||
            (len == 2 && s[start] == '.' && s[start + 1] == '.'))
            return false;
        start = i + 1;
    }
    return true;
}

static bool bucket_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > NAME_MAX_BUCKET || s[0] == '.' || strstr(s, "..") != NULL)
        return false;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

static void check_uname(const char *s)
{
    char *bck = NULL, *obj = NULL;
    if (uname_parse(s, &bck, &obj) != 0)
        return;
    FUZZ_CHECK(bucket_ok(bck), "uname_parse(\"%s\") gave bucket \"%s\"", s, bck);
    char *u = uname_make(bck, obj);
    char *b2 = NULL, *o2 = NULL;
    FUZZ_CHECK(uname_parse(u, &b2, &o2) == 0, "uname \"%s\" does not parse back", u);
    FUZZ_CHECK(strcmp(b2, bck) == 0 && strcmp(o2, obj) == 0, "uname \"%s\" round trip", u);
    free(b2);
    free(o2);
    free(u);
    free(bck);
    free(obj);
}

static void check_fqn(const char *s)
{
    int idx = -1;
    char *bck = NULL, *obj = NULL;
    if (fqn_parse(s, mpaths, N_MPATHS, &idx, &bck, &obj) != 0)
        return;
    FUZZ_CHECK(idx >= 0 && (size_t)idx < N_MPATHS, "fqn_parse index %d", idx);
    FUZZ_CHECK(bucket_ok(bck), "fqn_parse(\"%s\") gave bucket \"%s\"", s, bck);
    FUZZ_CHECK(object_ok(obj, strlen(obj)), "fqn_parse(\"%s\") gave object \"%s\"", s, obj);
    char *f = fqn_make(mpaths[idx], bck, obj);
    FUZZ_CHECK(strcmp(f, s) == 0, "fqn_make(\"%s\", \"%s\", \"%s\") = \"%s\", parsed from \"%s\"",
               mpaths[idx], bck, obj, f, s);
    free(f);
    free(bck);
    free(obj);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *raw = (const char *)data;
    bool ok = name_check_object(raw, size) == NULL;
    bool want = memchr(raw, '\0', size) == NULL && object_ok(raw, size);
    FUZZ_CHECK(ok == want, "name_check_object says %s, the rule says %s", ok ? "valid" : "invalid",
               want ? "valid" : "invalid");

    char *s = fuzz_cstr(data, size);
    ok = name_check_bucket(s) == NULL;
    FUZZ_CHECK(ok == bucket_ok(s), "name_check_bucket(\"%s\") says %s", s,
               ok ? "valid" : "invalid");
    check_uname(s);
    check_fqn(s);
    free(s);
    return 0;
}
