/*
 * keys.c - the node's keys, loaded once from its config (auth_init) before any thread runs and
 * read-only afterwards: the token keys (HS256 secret, RSA public key) and the cluster secret.
 */
#include "auth/internal.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static struct {
    bool enabled;
    unsigned char *secret, *pubkey, *cluster;
    size_t secret_len, pubkey_len, cluster_len;
    auth_keys_t keys;
} st;

#define SECRET_FILE_MAX (64u << 10)

bool auth_enabled(void)
{
    return st.enabled;
}

bool auth_intra_enabled(void)
{
    return st.cluster != NULL;
}

const auth_keys_t *auth_node_keys(void)
{
    return &st.keys;
}

const unsigned char *auth_cluster_secret(size_t *len)
{
    if (len)
        *len = st.cluster_len;
    return st.cluster;
}

void auth_reset(void)
{
    auth_token_cache_clear();
    free(st.secret);
    free(st.pubkey);
    free(st.cluster);
    memset(&st, 0, sizeof(st));
}

static unsigned char *copy_bytes(const void *p, size_t n)
{
    unsigned char *c = xmalloc(n + 1);
    memcpy(c, p, n);
    c[n] = '\0';
    return c;
}

static void update_keys(void)
{
    st.keys.secret = st.secret;
    st.keys.secret_len = st.secret_len;
    st.keys.pubkey = st.pubkey;
    st.keys.pubkey_len = st.pubkey_len;
}

void auth_set_cluster_secret(const void *secret, size_t len)
{
    free(st.cluster);
    st.cluster = secret && len ? copy_bytes(secret, len) : NULL;
    st.cluster_len = st.cluster ? len : 0;
}

void auth_set_enabled(bool on, const auth_keys_t *keys)
{
    auth_token_cache_clear();
    st.enabled = on;
    free(st.secret);
    free(st.pubkey);
    st.secret = st.pubkey = NULL;
    st.secret_len = st.pubkey_len = 0;
    if (keys && keys->secret) {
        st.secret = copy_bytes(keys->secret, keys->secret_len);
        st.secret_len = keys->secret_len;
    }
    if (keys && keys->pubkey) {
        st.pubkey = copy_bytes(keys->pubkey, keys->pubkey_len);
        st.pubkey_len = keys->pubkey_len;
    }
    update_keys();
}

/* A secret from a value or a file (trailing whitespace dropped). 0, 1 when neither is set, -1
 * with err. A secret file others may read is refused. */
static int load_secret(const char *what, const char *value, const char *file, bool trim,
                       unsigned char **out, size_t *outlen, char *err, size_t errlen)
{
    if (value && value[0]) {
        *out = copy_bytes(value, strlen(value));
        *outlen = strlen(value);
        return 0;
    }
    if (file == NULL || file[0] == '\0')
        return 1;
    struct stat sb;
    char *text = NULL;
    size_t len = 0;
    if (stat(file, &sb) != 0 || read_file(file, &text, &len) != 0) {
        snprintf(err, errlen, "%s: cannot read %s", what, file);
        return -1;
    }
    if (trim && (sb.st_mode & 077) != 0) {
        free(text);
        snprintf(err, errlen, "%s: %s is readable by others (mode %03o): chmod 600 it", what, file,
                 (unsigned)(sb.st_mode & 0777));
        return -1;
    }
    while (trim && len > 0 && strchr(" \t\r\n", text[len - 1]))
        len--;
    if (len == 0 || len > SECRET_FILE_MAX) {
        free(text);
        snprintf(err, errlen, "%s: %s is empty or too large", what, file);
        return -1;
    }
    *out = copy_bytes(text, len);
    *outlen = len;
    free(text);
    return 0;
}

int auth_init(const config_t *cfg, char *err, size_t errlen)
{
    auth_reset();
    int rc = load_secret("cluster_secret", cfg->cluster_secret, cfg->cluster_secret_file, true,
                         &st.cluster, &st.cluster_len, err, errlen);
    if (rc < 0)
        goto fail;
    st.enabled = cfg->auth_enabled;
    if (!st.enabled)
        return 0; /* the token keys are not read: a config may name them before turning auth on */
    rc = load_secret("auth_secret", cfg->auth_secret, cfg->auth_secret_file, true, &st.secret,
                     &st.secret_len, err, errlen);
    if (rc < 0)
        goto fail;
    rc = load_secret("auth_pubkey_file", NULL, cfg->auth_pubkey_file, false, &st.pubkey,
                     &st.pubkey_len, err, errlen);
    if (rc < 0)
        goto fail;
    update_keys();
    if (st.enabled && st.secret == NULL && st.pubkey == NULL) {
        snprintf(err, errlen,
                 "auth_enabled needs auth_secret_file (HS256) or auth_pubkey_file "
                 "(RS256) to verify tokens");
        goto fail;
    }
    if (st.enabled && st.cluster == NULL) {
        snprintf(err, errlen,
                 "auth_enabled needs cluster_secret_file: redirects and "
                 "intra-cluster calls are signed with it");
        goto fail;
    }
    return 0;
fail:
    auth_reset();
    return -1;
}
