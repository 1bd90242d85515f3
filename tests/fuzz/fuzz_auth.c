/*
 * fuzz_auth.c - the Authorization header and AIStore AuthN tokens (src/auth): what every client
 * request with auth on hands the node before anything else.
 *
 * The input is an Authorization header value. Properties: parsing never crashes or leaks and
 * gives claims whose strings are valid C strings; verification with the fuzz secret and with no
 * keys at all never accepts a token that parsing refused, never accepts "none", and only
 * accepts what also parses; the access check of accepted claims is total. The same bytes as an
 * intra-cluster body digest (Locus-Content-Digest): a digest object exists exactly for the valid
 * forms, and it digests to a valid digest of the same form.
 */
#include "fuzz.h"

#include "auth/auth.h"

static const unsigned char secret[] = "fuzz-secret";

static void fuzz_digest(const uint8_t *data, size_t size)
{
    static bool once;
    if (!once) {
        auth_set_cluster_secret(secret, sizeof(secret) - 1);
        once = true;
    }
    char *claimed = strndup((const char *)data, size);
    bool valid = auth_digest_valid(claimed);
    auth_digest_t *h = auth_digest_new(claimed);
    FUZZ_CHECK(valid == (h != NULL),
               "a digest object for a malformed digest, or none for a valid one");
    if (h != NULL) {
        char got[AUTH_DIGEST_LEN];
        auth_digest_update(h, data, size);
        auth_digest_final(h, got);
        FUZZ_CHECK(auth_digest_valid(got) && strlen(got) == strlen(claimed),
                   "digest of another form");
    }
    free(claimed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_digest(data, size);
    char err[256];
    auth_token_t t;
    int parsed = auth_parse_authorization((const char *)data, size, &t, err, sizeof(err));
    bool none = parsed == 0 && strcmp(t.alg, "none") == 0;
    if (parsed == 0 && t.claims.sub)
        FUZZ_CHECK(strlen(t.claims.sub) < size, "sub longer than the input");
    auth_token_dispose(&t);

    const char *tok;
    size_t len;
    if (auth_parse_bearer((const char *)data, size, &tok, &len) != 0)
        return 0;
    auth_keys_t keys = {.secret = secret, .secret_len = sizeof(secret) - 1};
    auth_keys_t nokeys = {0};
    const auth_keys_t *ks[] = {&keys, &nokeys};
    for (size_t i = 0; i < 2; i++) {
        auth_claims_t c;
        memset(&c, 0, sizeof(c));
        int ok = auth_token_verify(ks[i], tok, len, 1700000000, &c, err, sizeof(err));
        if (ok == 0) {
            FUZZ_CHECK(parsed == 0, "verified a token that does not parse");
            FUZZ_CHECK(!none, "verified an unsigned token");
            FUZZ_CHECK(ks[i] == &keys, "verified a token with no keys");
            (void)auth_check(&c, "uuid", "bck", AUTH_ACCESS_RO, err, sizeof(err));
            auth_claims_dispose(&c);
        }
    }
    return 0;
}
