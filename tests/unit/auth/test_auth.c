/*
 * test_auth.c - src/auth: AuthN tokens (good, expired, not yet valid, bad signature, algorithms
 * that must be refused including "none" and HS256 signed with the RSA public key, malformed
 * tokens, RS256 with a key pair made by openssl at test time, AIStore's claim layouts), the
 * permission check, the intra-cluster signature (a wrong secret, a changed request, the date
 * window), redirect signatures and the node config's keys.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <jwt.h>

#include "auth/auth.h"
#include "auth/internal.h"
#include "common/config.h"
#include "common/util.h"

static const char secret[] = "tokenSigningValue";
static const auth_keys_t hs_keys = {(const unsigned char *)secret, sizeof(secret) - 1, NULL, 0};
static char dir[64];
static char *priv_pem, *pub_pem; /* RS256 key pair (NULL when openssl is missing) */
static size_t priv_len, pub_len;

static int64_t now(void)
{
    return (int64_t)time(NULL);
}

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/locus-test-auth-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    char *cmd = xasprintf("openssl genrsa -out %s/k.pem 2048 2>/dev/null && "
                          "openssl rsa -in %s/k.pem -pubout -out %s/pub.pem 2>/dev/null",
                          dir, dir, dir);
    if (system(cmd) == 0) {
        char *p = xasprintf("%s/k.pem", dir);
        read_file(p, &priv_pem, &priv_len);
        free(p);
        p = xasprintf("%s/pub.pem", dir);
        read_file(p, &pub_pem, &pub_len);
        free(p);
    }
    free(cmd);
    return 0;
}

static int teardown(void **state)
{
    free(priv_pem);
    free(pub_pem);
    remove_tree(dir);
    auth_reset();
    return 0;
}

/* A token signed by libjwt with alg and key over the JSON payload. Caller frees. */
static char *sign(jwt_alg_t alg, const void *key, size_t klen, const char *payload)
{
    jwt_t *j = NULL;
    assert_int_equal(jwt_new(&j), 0);
    assert_int_equal(jwt_add_grants_json(j, payload), 0);
    assert_int_equal(jwt_set_alg(j, alg, key, (int)klen), 0);
    char *t = jwt_encode_str(j);
    jwt_free(j);
    assert_non_null(t);
    return t;
}

/* The payload of an AuthN user token: sub bob, expiring at exp, one bucket ACL. */
static char *payload(int64_t exp, const char *extra)
{
    return xasprintf("{\"sub\":\"bob\",\"exp\":%lld,\"iat\":%lld,\"iss\":\"https://authn\","
                     "\"aud\":[\"x\"],\"admin\":false,\"clusters\":[{\"id\":\"CLU\",\"perm\":"
                     "\"12288\"}],\"buckets\":[{\"bck\":{\"name\":\"b1\",\"provider\":\"ais\","
                     "\"namespace\":{\"uuid\":\"CLU\",\"name\":\"\"}},\"perm\":\"831\"}]%s}",
                     (long long)exp, (long long)now(), extra ? extra : "");
}

static int verify(const auth_keys_t *k, const char *tok, auth_claims_t *c, char *err)
{
    return auth_token_verify(k, tok, strlen(tok), now(), c, err, 256);
}

static void test_hs256_good(void **state)
{
    char *p = payload(now() + 600, NULL);
    char *tok = sign(JWT_ALG_HS256, secret, strlen(secret), p);
    auth_claims_t c;
    char err[256];
    assert_int_equal(verify(&hs_keys, tok, &c, err), 0);
    assert_string_equal(c.sub, "bob");
    assert_false(c.admin);
    assert_int_equal(c.n_clusters, 1);
    assert_string_equal(c.clusters[0].id, "CLU");
    assert_int_equal(c.clusters[0].perm, AUTH_CLUSTER_RO);
    assert_int_equal(c.n_buckets, 1);
    assert_string_equal(c.buckets[0].name, "b1");
    assert_string_equal(c.buckets[0].ns_uuid, "CLU");
    assert_int_equal(c.buckets[0].perm, AUTH_ACCESS_RW);
    auth_claims_dispose(&c);
    free(tok);
    free(p);
}

static void test_expired_and_nbf(void **state)
{
    char err[256];
    auth_claims_t c;
    char *p = payload(now() - 1, NULL);
    char *tok = sign(JWT_ALG_HS256, secret, strlen(secret), p);
    assert_int_equal(verify(&hs_keys, tok, &c, err), -1);
    assert_non_null(strstr(err, "expired"));
    free(tok);
    free(p);
    /* No exp at all: refused (AIStore requires it). */
    tok = sign(JWT_ALG_HS256, secret, strlen(secret), "{\"sub\":\"bob\",\"admin\":true}");
    assert_int_equal(verify(&hs_keys, tok, &c, err), -1);
    assert_non_null(strstr(err, "expiration"));
    free(tok);
    char *extra = xasprintf(",\"nbf\":%lld", (long long)now() + 100);
    p = payload(now() + 600, extra);
    tok = sign(JWT_ALG_HS256, secret, strlen(secret), p);
    assert_int_equal(verify(&hs_keys, tok, &c, err), -1);
    assert_non_null(strstr(err, "not valid yet"));
    free(tok);
    free(p);
    free(extra);
}

static void test_bad_signature(void **state)
{
    char err[256];
    auth_claims_t c;
    char *p = payload(now() + 600, NULL);
    char *tok = sign(JWT_ALG_HS256, "another secret", 14, p);
    assert_int_equal(verify(&hs_keys, tok, &c, err), -1);
    assert_non_null(strstr(err, "signature"));
    free(tok);
    /* A valid token with a changed payload (admin: true) keeps its signature: refused. */
    tok = sign(JWT_ALG_HS256, secret, strlen(secret), p);
    char *d1 = strchr(tok, '.'), *d2 = strchr(d1 + 1, '.');
    char *forged_payload =
        xasprintf("{\"sub\":\"bob\",\"exp\":%lld,\"admin\":true}", (long long)now() + 600);
    char enc[512];
    b64url_encode((const unsigned char *)forged_payload, strlen(forged_payload), enc);
    char *forged = xasprintf("%.*s.%s%s", (int)(d1 - tok), tok, enc, d2);
    assert_int_equal(verify(&hs_keys, forged, &c, err), -1);
    free(forged);
    free(forged_payload);
    free(tok);
    free(p);
}

static void test_algorithms_refused(void **state)
{
    char err[256];
    auth_claims_t c;
    char *p = payload(now() + 600, NULL);
    /* "none": unsigned. */
    char h[64], b[1024];
    const char *none_hdr = "{\"alg\":\"none\",\"typ\":\"JWT\"}";
    b64url_encode((const unsigned char *)none_hdr, strlen(none_hdr), h);
    b64url_encode((const unsigned char *)p, strlen(p), b);
    char *tok = xasprintf("%s.%s.", h, b);
    assert_int_equal(verify(&hs_keys, tok, &c, err), -1);
    assert_non_null(strstr(err, "none"));
    free(tok);
    /* HS384/HS512 are not AIStore's. */
    tok = sign(JWT_ALG_HS384, secret, strlen(secret), p);
    assert_int_equal(verify(&hs_keys, tok, &c, err), -1);
    assert_non_null(strstr(err, "HS384"));
    free(tok);
    /* RS256 on a cluster with an HMAC secret only. */
    if (priv_pem) {
        tok = sign(JWT_ALG_RS256, priv_pem, priv_len, p);
        assert_int_equal(verify(&hs_keys, tok, &c, err), -1);
        free(tok);
    }
    free(p);
}

static void test_rs256(void **state)
{
    if (priv_pem == NULL || pub_pem == NULL)
        skip();
    auth_keys_t k = {NULL, 0, (const unsigned char *)pub_pem, pub_len};
    char err[256];
    auth_claims_t c;
    char *p = payload(now() + 600, NULL);
    char *tok = sign(JWT_ALG_RS256, priv_pem, priv_len, p);
    assert_int_equal(verify(&k, tok, &c, err), 0);
    assert_string_equal(c.sub, "bob");
    auth_claims_dispose(&c);
    free(tok);
    tok = sign(JWT_ALG_RS512, priv_pem, priv_len, p);
    assert_int_equal(verify(&k, tok, &c, err), 0);
    auth_claims_dispose(&c);
    free(tok);
    /* Algorithm confusion: HS256 "signed" with the public key's PEM as the secret. */
    tok = sign(JWT_ALG_HS256, pub_pem, pub_len, p);
    assert_int_equal(verify(&k, tok, &c, err), -1);
    assert_non_null(strstr(err, "HS256"));
    free(tok);
    /* With both keys the HS256 secret is the secret, never the PEM. */
    auth_keys_t both = {(const unsigned char *)secret, strlen(secret),
                        (const unsigned char *)pub_pem, pub_len};
    tok = sign(JWT_ALG_HS256, pub_pem, pub_len, p);
    assert_int_equal(verify(&both, tok, &c, err), -1);
    free(tok);
    /* Another RSA key. */
    char *cmd = xasprintf("openssl genrsa -out %s/k2.pem 2048 2>/dev/null", dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    char *path = xasprintf("%s/k2.pem", dir), *k2 = NULL;
    size_t k2len = 0;
    assert_int_equal(read_file(path, &k2, &k2len), 0);
    tok = sign(JWT_ALG_RS256, k2, k2len, p);
    assert_int_equal(verify(&k, tok, &c, err), -1);
    free(tok);
    free(k2);
    free(path);
    free(p);
}

static void test_malformed(void **state)
{
    static const char *const bad[] = {
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        ".payload.sig",
        "eyJhbGciOiJIUzI1NiJ9..sig",
        "eyJhbGciOiJIUzI1NiJ9.e30=.c2ln", /* padding */
        "eyJhbGciOiJIUzI1NiJ9.e3#.c2ln",  /* bad character */
        "eyJhbGciOiJIUzI1NiJ9.e31.c2ln",  /* stray bits after the last byte */
        "bm90IGpzb24.e30.c2ln",           /* header not JSON */
        "e30.e30.c2ln",                   /* header without alg */
        "eyJhbGciOiJIUzI1NiJ9.WzFd.c2ln", /* payload an array */
        "eyJhbGciOiJIUzI1NiJ9.e30.c2ln",  /* no sub */
    };
    char err[256];
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        auth_token_t t;
        assert_int_equal(auth_token_parse(bad[i], strlen(bad[i]), &t, err, sizeof(err)), -1);
        auth_token_dispose(&t);
        auth_claims_t c;
        assert_int_equal(verify(&hs_keys, bad[i], &c, err), -1);
    }
    /* Too long. */
    size_t n = AUTH_TOKEN_MAX + 10;
    char *big = xmalloc(n + 1);
    memset(big, 'a', n);
    big[n] = '\0';
    big[10] = big[20] = '.';
    auth_token_t t;
    assert_int_equal(auth_token_parse(big, n, &t, err, sizeof(err)), -1);
    auth_token_dispose(&t);
    free(big);
}

static void test_claims_layouts(void **state)
{
    char err[256];
    auth_claims_t c;
    /* AIStore before v4.3: "username" and "expires" (RFC 3339), perm as a number. */
    json_t *j = json_loads("{\"username\":\"old\",\"expires\":\"2030-01-02T03:04:05.5+01:00\","
                           "\"admin\":true,\"clusters\":null,\"buckets\":[null,{\"bck\":{\"name\":"
                           "\"b\"},\"perm\":771}]}",
                           0, NULL);
    assert_int_equal(auth_claims_from_json(j, &c, err, sizeof(err)), 0);
    assert_string_equal(c.sub, "old");
    assert_true(c.admin);
    assert_int_equal(c.exp, 1893553445 - 3600);
    assert_int_equal(c.n_buckets, 1);
    assert_int_equal(c.buckets[0].perm, AUTH_ACCESS_RO);
    assert_string_equal(c.buckets[0].provider, "");
    auth_claims_dispose(&c);
    json_decref(j);
    static const char *const bad[] = {
        "{\"sub\":\"\"}",
        "{\"sub\":\"u\",\"admin\":\"yes\"}",
        "{\"sub\":\"u\",\"exp\":\"soon\"}",
        "{\"sub\":\"u\",\"exp\":-5}",
        "{\"sub\":\"u\",\"clusters\":{}}",
        "{\"sub\":\"u\",\"clusters\":[{\"id\":1}]}",
        "{\"sub\":\"u\",\"clusters\":[{\"perm\":\"-1\"}]}",
        "{\"sub\":\"u\",\"buckets\":[{\"perm\":\"1\"}]}",
        "{\"sub\":\"u\",\"buckets\":[{\"bck\":{\"name\":\"b\"},\"perm\":\"x\"}]}",
        "{\"sub\":\"u\",\"expires\":\"tomorrow\"}",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        j = json_loads(bad[i], 0, NULL);
        assert_non_null(j);
        assert_int_equal(auth_claims_from_json(j, &c, err, sizeof(err)), -1);
        auth_claims_dispose(&c);
        json_decref(j);
    }
}

static void test_mint_roundtrip(void **state)
{
    auth_bck_acl_t b = {.name = "b1", .provider = "ais", .ns_uuid = "", .perm = AUTH_ACCESS_RO};
    auth_claims_t c = {.sub = "alice", .exp = now() + 60, .buckets = &b, .n_buckets = 1};
    char err[256];
    char *tok =
        auth_token_mint((const unsigned char *)secret, strlen(secret), &c, now(), err, sizeof(err));
    assert_non_null(tok);
    assert_null(strchr(tok, '=')); /* base64url without padding */
    auth_token_t t;
    assert_int_equal(auth_token_parse(tok, strlen(tok), &t, err, sizeof(err)), 0);
    assert_string_equal(t.alg, "HS256");
    assert_string_equal(json_string_value(json_object_get(t.payload, "sub")), "alice");
    json_t *bk = json_array_get(json_object_get(t.payload, "buckets"), 0);
    assert_string_equal(json_string_value(json_object_get(bk, "perm")), "771"); /* ,string */
    assert_true(json_is_null(json_object_get(t.payload, "clusters")));
    auth_token_dispose(&t);
    auth_claims_t v;
    assert_int_equal(verify(&hs_keys, tok, &v, err), 0);
    assert_int_equal(v.buckets[0].perm, AUTH_ACCESS_RO);
    auth_claims_dispose(&v);
    free(tok);
}

static void test_bearer(void **state)
{
    const char *tok;
    size_t n;
    const char *h = "Bearer abc.def.ghi";
    assert_int_equal(auth_parse_bearer(h, strlen(h), &tok, &n), 0);
    assert_int_equal(n, 11);
    assert_memory_equal(tok, "abc.def.ghi", 11);
    static const char *const bad[] = {
        "", "Bearer", "Bearer ", "bearer x", "Basic dXNlcg==", "Bearer a b", "Bearerx"};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
        assert_int_equal(auth_parse_bearer(bad[i], strlen(bad[i]), &tok, &n), -1);
    /* The fuzzers' entry point: header to claims, no key; lengths, not NUL, bound the input. */
    char err[256];
    char *p = payload(now() + 60, NULL);
    char *t = sign(JWT_ALG_HS256, secret, strlen(secret), p);
    char *hdr = xasprintf("Bearer %s\xffjunk", t);
    auth_token_t at;
    assert_int_equal(auth_parse_authorization(hdr, 7 + strlen(t), &at, err, sizeof(err)), 0);
    assert_string_equal(at.claims.sub, "bob");
    auth_token_dispose(&at);
    assert_int_equal(auth_parse_authorization(hdr, 7 + strlen(t) + 1, &at, err, sizeof(err)), -1);
    auth_token_dispose(&at);
    assert_int_equal(auth_parse_authorization("Basic x", 7, &at, err, sizeof(err)), -1);
    auth_token_dispose(&at);
    free(hdr);
    free(t);
    free(p);
}

static void test_access_parse(void **state)
{
    auth_ace_t a;
    assert_int_equal(auth_access_parse("ro", &a), 0);
    assert_int_equal(a, 771);
    assert_int_equal(auth_access_parse("rw", &a), 0);
    assert_int_equal(a, 831);
    assert_int_equal(auth_access_parse("su", &a), 0);
    assert_int_equal(a, AUTH_ACCESS_ALL);
    assert_int_equal(auth_access_parse("GET,PUT", &a), 0);
    assert_int_equal(a, AUTH_ACE_GET | AUTH_ACE_PUT);
    assert_int_equal(auth_access_parse("ADMIN", &a), 0);
    assert_int_equal(a, 1u << 17);
    assert_int_equal(auth_access_parse("126976", &a), 0);
    assert_int_equal(a, AUTH_CLUSTER_RW);
    assert_int_equal(auth_access_parse("GET,", &a), -1);
    assert_int_equal(auth_access_parse("read", &a), -1);
    assert_int_equal(auth_access_parse("", &a), -1);
}

static void test_check(void **state)
{
    char err[256];
    auth_bck_acl_t bk[] = {
        {.name = "mine", .provider = "ais", .ns_uuid = "CLU", .perm = AUTH_ACCESS_RW},
        {.name = "ro", .provider = "ais", .ns_uuid = "", .perm = AUTH_ACCESS_RO},
        {.name = "elsewhere", .provider = "ais", .ns_uuid = "OTHER", .perm = AUTH_ACCESS_RW},
    };
    auth_clu_acl_t cl[] = {{.id = "", .perm = AUTH_CLUSTER_RO | AUTH_ACE_GET}};
    auth_claims_t c = {.sub = "u", .buckets = bk, .n_buckets = 3, .clusters = cl, .n_clusters = 1};
    assert_int_equal(auth_check(&c, "CLU", "mine", AUTH_ACE_PUT, err, sizeof(err)), 0);
    assert_int_equal(auth_check(&c, "CLU", "ro", AUTH_ACE_GET, err, sizeof(err)), 0);
    assert_int_equal(auth_check(&c, "CLU", "ro", AUTH_ACE_PUT, err, sizeof(err)), 403);
    assert_non_null(strstr(err, "PUT"));
    /* Another cluster's bucket ACL does not apply; the default cluster ACL does (GET only). */
    assert_int_equal(auth_check(&c, "CLU", "elsewhere", AUTH_ACE_PUT, err, sizeof(err)), 403);
    assert_int_equal(auth_check(&c, "CLU", "elsewhere", AUTH_ACE_GET, err, sizeof(err)), 0);
    assert_int_equal(auth_check(&c, "CLU", NULL, AUTH_ACE_LIST_BUCKETS, err, sizeof(err)), 0);
    assert_int_equal(auth_check(&c, "CLU", NULL, AUTH_ACE_CREATE_BUCKET, err, sizeof(err)), 403);
    assert_int_equal(auth_check(&c, "CLU", NULL, AUTH_ACE_ADMIN, err, sizeof(err)), 403);
    assert_int_equal(auth_check(&c, "CLU", NULL, 0, err, sizeof(err)), 403);
    /* A cluster's own ACL wins over the default one. */
    auth_clu_acl_t cl2[] = {{.id = "", .perm = AUTH_CLUSTER_RW}, {.id = "CLU", .perm = 0}};
    auth_claims_t d = {.sub = "u", .clusters = cl2, .n_clusters = 2};
    assert_int_equal(auth_check(&d, "CLU", NULL, AUTH_ACE_CREATE_BUCKET, err, sizeof(err)), 403);
    assert_int_equal(auth_check(&d, "X", NULL, AUTH_ACE_CREATE_BUCKET, err, sizeof(err)), 0);
    /* No ACL at all: nothing; an admin: everything. */
    auth_claims_t none = {.sub = "n"};
    assert_int_equal(auth_check(&none, "CLU", "b", AUTH_ACE_GET, err, sizeof(err)), 403);
    none.admin = true;
    assert_int_equal(auth_check(&none, "CLU", NULL, AUTH_ACE_ADMIN, err, sizeof(err)), 0);
}

static void test_canon(void **state)
{
    char *a = auth_canon_request("GET", "/v1/objects/b/a b", "provider=ais&x=%41+c&flag", NULL);
    assert_string_equal(a, "GET\n17:/v1/objects/b/a b\n8:provider=3:ais\n1:x=3:A c\n4:flag=0:\n");
    static const char *const skip[] = {"x", NULL};
    char *b = auth_canon_request("GET", "/v1/objects/b/a b", "provider=ais&x=1&flag", skip);
    assert_string_equal(b, "GET\n17:/v1/objects/b/a b\n8:provider=3:ais\n4:flag=0:\n");
    /* Length prefixes: a value holding "\n1:x=" cannot pass for another parameter. */
    char *c1 = auth_canon_request("GET", "/p", "a=1%0A1:b=2", NULL);
    char *c2 = auth_canon_request("GET", "/p", "a=1&b=2", NULL);
    assert_string_not_equal(c1, c2);
    free(a);
    free(b);
    free(c1);
    free(c2);
}

/* RFC 4231 test cases 1 and 2, alternating keys (each thread keeps a keyed context). */
static void test_hmac_sha256(void **state)
{
    (void)state;
    unsigned char k1[20], out[32];
    memset(k1, 0x0b, sizeof(k1));
    char hex[65];
    for (int i = 0; i < 3; i++) {
        hmac_sha256(k1, sizeof(k1), "Hi There", 8, out);
        hex_encode(out, sizeof(out), hex);
        assert_string_equal(hex,
                            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
        hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, out);
        hex_encode(out, sizeof(out), hex);
        assert_string_equal(hex,
                            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, out); /* same key again */
        hex_encode(out, sizeof(out), hex);
        assert_string_equal(hex,
                            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }
    /* a key longer than the cached copy: still right, every time */
    unsigned char big[131];
    memset(big, 0xaa, sizeof(big));
    for (int i = 0; i < 2; i++) {
        hmac_sha256(big, sizeof(big), "Test Using Larger Than Block-Size Key - Hash Key First", 54,
                    out);
        hex_encode(out, sizeof(out), hex);
        assert_string_equal(hex,
                            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    }
}

static void test_intra_sign(void **state)
{
    char err[256], sig[64], sha[65];
    auth_sha256_hex("", 0, sha);
    assert_string_equal(sha, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_int_equal(auth_intra_sign("c", 1, "p1", sha, sig), -1); /* no secret */
    auth_set_cluster_secret("cluster-secret", 14);
    char *canon = auth_canon_request("POST", "/v1/metasync", "", NULL);
    int64_t t = now();
    char ds[32];
    snprintf(ds, sizeof(ds), "%lld", (long long)t);
    assert_int_equal(auth_intra_sign(canon, t, "p1", sha, sig), 0);
    assert_int_equal(auth_intra_verify(canon, ds, "p1", sha, sig, t, err, sizeof(err)), 0);
    /* Skew within the window, then out of it either way (a replay later, a date ahead). */
    assert_int_equal(
        auth_intra_verify(canon, ds, "p1", sha, sig, t + AUTH_INTRA_WINDOW, err, sizeof(err)), 0);
    assert_int_equal(
        auth_intra_verify(canon, ds, "p1", sha, sig, t + AUTH_INTRA_WINDOW + 1, err, sizeof(err)),
        -1);
    assert_non_null(strstr(err, "clock"));
    assert_int_equal(
        auth_intra_verify(canon, ds, "p1", sha, sig, t - AUTH_INTRA_WINDOW - 1, err, sizeof(err)),
        -1);
    /* Any other caller, digest, request or secret. */
    assert_int_equal(auth_intra_verify(canon, ds, "t1", sha, sig, t, err, sizeof(err)), -1);
    char sha2[65];
    auth_sha256_hex("x", 1, sha2);
    assert_int_equal(auth_intra_verify(canon, ds, "p1", sha2, sig, t, err, sizeof(err)), -1);
    char *other = auth_canon_request("POST", "/v1/cluster/join", "", NULL);
    assert_int_equal(auth_intra_verify(other, ds, "p1", sha, sig, t, err, sizeof(err)), -1);
    auth_set_cluster_secret("another-secret", 14);
    assert_int_equal(auth_intra_verify(canon, ds, "p1", sha, sig, t, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "invalid signature"));
    /* Malformed headers. */
    assert_int_equal(auth_intra_verify(canon, "12x", "p1", sha, sig, t, err, sizeof(err)), -1);
    assert_int_equal(auth_intra_verify(canon, NULL, "p1", sha, sig, t, err, sizeof(err)), -1);
    assert_int_equal(auth_intra_verify(canon, ds, "p1", "abc", sig, t, err, sizeof(err)), -1);
    auth_set_cluster_secret(NULL, 0);
    free(other);
    free(canon);
}

static void test_body_digest(void **state)
{
    char a[AUTH_DIGEST_LEN], b[AUTH_DIGEST_LEN], c[AUTH_DIGEST_LEN];
    assert_int_equal(auth_digest_buf("x", 1, a), -1); /* no secret: no p1305 */
    /* An empty body: its SHA-256, with or without a secret, and only an empty body checks. */
    assert_int_equal(auth_digest_buf("", 0, a), 0);
    auth_sha256_hex("", 0, b);
    assert_string_equal(a, b);
    assert_true(auth_digest_valid(a) && auth_digest_matches(a, "", 0));
    assert_false(auth_digest_matches(a, "x", 1));
    char sha[65];
    auth_sha256_hex("hello world", 11, sha);
    assert_true(auth_digest_matches(sha, "hello world", 11)); /* SHA-256 needs none */
    assert_false(auth_digest_matches(sha, "hello World", 11));
    auth_set_cluster_secret("cluster-secret", 14);
    assert_int_equal(auth_digest_buf("hello world", 11, a), 0);
    assert_true(auth_digest_valid(a));
    assert_int_equal(strlen(a), AUTH_DIGEST_LEN - 1);
    assert_true(auth_digest_matches(a, "hello world", 11));
    /* A fresh nonce each time: another tag for the same body, both check. */
    assert_int_equal(auth_digest_buf("hello world", 11, b), 0);
    assert_string_not_equal(a, b);
    assert_true(auth_digest_matches(b, "hello world", 11));
    /* Streamed, from a file, and what must not check. */
    auth_digest_t *h = auth_digest_new(a);
    auth_digest_update(h, "hello ", 6);
    auth_digest_update(h, "world", 5);
    assert_true(auth_digest_check(h, a));
    char *p = xasprintf("%s/f", dir);
    assert_int_equal(write_file_atomic(p, "hello world", 11), 0);
    FILE *f = fopen(p, "r");
    assert_int_equal(auth_digest_fd(fileno(f), 0, 11, c), 0);
    assert_true(auth_digest_matches(c, "hello world", 11));
    assert_int_equal(auth_digest_fd(fileno(f), 6, 5, c), 0);
    assert_true(auth_digest_matches(c, "world", 5));
    fclose(f);
    free(p);
    assert_false(auth_digest_matches(a, "hello World", 11));
    assert_false(auth_digest_matches(a, "hello world!", 12));
    memcpy(b, a, sizeof(b));
    b[10] = b[10] == '0' ? '1' : '0'; /* another nonce: another key */
    assert_false(auth_digest_matches(b, "hello world", 11));
    memcpy(b, a, sizeof(b));
    b[60] = b[60] == '0' ? '1' : '0'; /* another tag */
    assert_false(auth_digest_matches(b, "hello world", 11));
    auth_set_cluster_secret("another-secret", 14);
    assert_false(auth_digest_matches(a, "hello world", 11));
    /* Malformed digests: never a digest object. */
    const char *bad[] = {"",
                         "p1305-",
                         "p1305-00",
                         sha + 1,
                         "P1305-00000000000000000000000000000000-00000000000000000000000000000000",
                         "p1305-0000000000000000000000000000000g-00000000000000000000000000000000",
                         "p1305-00000000000000000000000000000000+00000000000000000000000000000000"};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        assert_false(auth_digest_valid(bad[i]));
        assert_null(auth_digest_new(bad[i]));
        assert_false(auth_digest_matches(bad[i], "", 0));
    }
    auth_set_cluster_secret(NULL, 0);
    assert_null(auth_digest_new(a)); /* p1305 without the secret: refused */
}

static void test_redirect(void **state)
{
    assert_null(auth_redirect_sign("GET", "http://t:1/v1/objects/b/o?provider=ais", now()));
    auth_set_cluster_secret("cluster-secret", 14);
    int64_t t = now();
    const char *loc = "http://127.0.0.1:8081/v1/objects/b/dir/a%20b?provider=ais&pid=p1&utm=x";
    char *sfx = auth_redirect_sign("PUT", loc, t);
    assert_non_null(sfx);
    assert_true(str_has_prefix(sfx, "&auth_exp="));
    char *q = xasprintf("provider=ais&pid=p1&utm=x%s", sfx);
    char err[256];
    const char *path = "/v1/objects/b/dir/a b";
    assert_int_equal(auth_redirect_verify("PUT", path, q, t, err, sizeof(err)), 0);
    assert_int_equal(auth_redirect_verify("PUT", path, q, t + AUTH_REDIRECT_TTL, err, sizeof(err)),
                     0);
    /* Expired, another method, object or query. */
    assert_int_equal(
        auth_redirect_verify("PUT", path, q, t + AUTH_REDIRECT_TTL + 1, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "expired"));
    assert_int_equal(auth_redirect_verify("DELETE", path, q, t, err, sizeof(err)), -1);
    assert_int_equal(auth_redirect_verify("PUT", "/v1/objects/b/other", q, t, err, sizeof(err)),
                     -1);
    char *q2 = xasprintf("provider=ais&pid=p1&utm=x&object_to=ais%%2F%%40%%23%%2Fz%%2Fo%s", sfx);
    assert_int_equal(auth_redirect_verify("PUT", path, q2, t, err, sizeof(err)), -1);
    /* The client's own escaping may change (requests re-quotes): the decoded form is signed. */
    char *q3 = xasprintf("provider=%%61is&pid=p1&utm=x%s", sfx);
    assert_int_equal(auth_redirect_verify("PUT", path, q3, t, err, sizeof(err)), 0);
    assert_int_equal(auth_redirect_verify("PUT", path, "provider=ais", t, err, sizeof(err)), -1);
    /* Without a '?' in the location, the suffix starts the query. */
    char *s2 = auth_redirect_sign("GET", "http://h:1/v1/objects/b/o", t);
    assert_true(str_has_prefix(s2, "?auth_exp="));
    assert_int_equal(auth_redirect_verify("GET", "/v1/objects/b/o", s2 + 1, t, err, sizeof(err)),
                     0);
    auth_set_cluster_secret(NULL, 0);
    free(s2);
    free(q3);
    free(q2);
    free(q);
    free(sfx);
}

/* Tokens verified with the node's keys are remembered, their times checked on every use, and
 * forgotten when the keys change. */
static void test_node_key_cache(void **state)
{
    auth_set_enabled(true, &hs_keys);
    char err[256];
    auth_claims_t c;
    int64_t exp = now() + 600;
    char *p = payload(exp, NULL);
    char *tok = sign(JWT_ALG_HS256, secret, strlen(secret), p);
    const auth_keys_t *k = auth_node_keys();
    for (int i = 0; i < 3; i++) {
        assert_int_equal(auth_token_verify(k, tok, strlen(tok), now(), &c, err, sizeof(err)), 0);
        assert_string_equal(c.sub, "bob");
        assert_int_equal(c.n_buckets, 1);
        assert_string_equal(c.buckets[0].name, "b1");
        auth_claims_dispose(&c);
    }
    assert_int_equal(auth_token_verify(k, tok, strlen(tok), exp, &c, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "expired"));
    /* A bad token is never remembered as good. */
    char *bad = sign(JWT_ALG_HS256, "other", 5, p);
    for (int i = 0; i < 2; i++)
        assert_int_equal(auth_token_verify(k, bad, strlen(bad), now(), &c, err, sizeof(err)), -1);
    auth_keys_t other = {(const unsigned char *)"other", 5, NULL, 0};
    auth_set_enabled(true, &other);
    assert_int_equal(
        auth_token_verify(auth_node_keys(), tok, strlen(tok), now(), &c, err, sizeof(err)), -1);
    auth_reset();
    free(bad);
    free(tok);
    free(p);
}

static void test_init_from_config(void **state)
{
    config_t cfg;
    config_init(&cfg);
    char err[512];
    assert_int_equal(auth_init(&cfg, err, sizeof(err)), 0);
    assert_false(auth_enabled());
    assert_false(auth_intra_enabled());
    cfg.auth_enabled = true; /* no keys */
    assert_int_equal(auth_init(&cfg, err, sizeof(err)), -1);
    char *sf = xasprintf("%s/auth.secret", dir), *cf = xasprintf("%s/cluster.secret", dir);
    assert_int_equal(write_file_atomic(sf, "s3cret\n", 7), 0);
    assert_int_equal(write_file_atomic(cf, "c\n", 2), 0);
    chmod(sf, 0600);
    chmod(cf, 0644);
    cfg.auth_secret_file = xstrdup(sf);
    assert_int_equal(auth_init(&cfg, err, sizeof(err)), -1); /* no cluster secret */
    assert_non_null(strstr(err, "cluster_secret"));
    cfg.cluster_secret_file = xstrdup(cf);
    assert_int_equal(auth_init(&cfg, err, sizeof(err)), -1); /* readable by others */
    assert_non_null(strstr(err, "chmod"));
    chmod(cf, 0600);
    assert_int_equal(auth_init(&cfg, err, sizeof(err)), 0);
    assert_true(auth_enabled());
    assert_true(auth_intra_enabled());
    assert_int_equal(auth_node_keys()->secret_len, 6); /* trailing newline dropped */
    assert_memory_equal(auth_node_keys()->secret, "s3cret", 6);
    free(cfg.auth_secret_file);
    cfg.auth_secret_file = xasprintf("%s/missing", dir);
    assert_int_equal(auth_init(&cfg, err, sizeof(err)), -1);
    assert_false(auth_enabled());
    auth_reset();
    free(sf);
    free(cf);
    config_dispose(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hs256_good),
        cmocka_unit_test(test_expired_and_nbf),
        cmocka_unit_test(test_bad_signature),
        cmocka_unit_test(test_algorithms_refused),
        cmocka_unit_test(test_rs256),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_claims_layouts),
        cmocka_unit_test(test_mint_roundtrip),
        cmocka_unit_test(test_bearer),
        cmocka_unit_test(test_access_parse),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_canon),
        cmocka_unit_test(test_hmac_sha256),
        cmocka_unit_test(test_intra_sign),
        cmocka_unit_test(test_body_digest),
        cmocka_unit_test(test_redirect),
        cmocka_unit_test(test_init_from_config),
        cmocka_unit_test(test_node_key_cache),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
