/*
 * cmd_auth.c - `locus auth token`: mints an HS256 token in AIStore AuthN's format from the
 * cluster's token secret, and the secret files `locus cluster up` keeps (docs/cli.md,
 * docs/security.md).
 */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth.h"
#include "common/util.h"

#define DEFAULT_TTL_NS (24 * 3600 * 1000000000LL)

static void usage(FILE *f)
{
    fprintf(f,
            "usage: locus auth token --user U [--admin] [--bucket B=ACCESS]... [--cluster ACCESS]\n"
            "                        [--ttl D] [--secret-file F]\n"
            "\n"
            "token  prints a token (a JWT signed with HS256, AIStore AuthN's claims) for user U,\n"
            "       valid for --ttl (default 24h). --admin may do everything; --bucket grants\n"
            "       ACCESS on bucket B (repeatable); --cluster grants ACCESS cluster-wide.\n"
            "       ACCESS: ro, rw, su, AIStore operation names joined by ',' (GET, PUT,\n"
            "       LIST-OBJECTS, CREATE-BUCKET, ...) or a number. The secret is read from F\n"
            "       (default $LOCUS_AUTH_SECRET_FILE, else DIR/auth.secret of `locus cluster up\n"
            "       --auth`, DIR = $LOCUS_CLUSTER_DIR or /tmp/locus-cluster).\n"
            "       Use it: export LOCUS_TOKEN=$(locus auth token --user alice --bucket b=rw)\n");
}

int cli_auth_random_secret(const char *path, char *err, size_t errlen)
{
    if (access(path, F_OK) == 0)
        return 0; /* a cluster keeps its secret across restarts */
    unsigned char rnd[32];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        snprintf(err, errlen, "getrandom: %s", strerror(errno));
        return -1;
    }
    char hex[65];
    for (size_t i = 0; i < sizeof(rnd); i++)
        snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
    hex[64] = '\n';
    return cli_auth_write_private(path, hex, 65, err, errlen);
}

int cli_auth_write_private(const char *path, const char *data, size_t len, char *err, size_t errlen)
{
    char *tmp = xasprintf("%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int rc = fd < 0 ? -errno : 0;
    if (rc == 0 && fchmod(fd, 0600) != 0)
        rc = -errno;
    if (rc == 0)
        rc = write_all(fd, data, len);
    if (fd >= 0 && close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc != 0) {
        unlink(tmp);
        snprintf(err, errlen, "%s: %s", path, strerror(-rc));
    }
    free(tmp);
    return rc == 0 ? 0 : -1;
}

/* A token with claims signed with the secret in secret_file (caller frees), or NULL with err. */
static char *mint(const char *secret_file, const auth_claims_t *claims, char *err, size_t errlen)
{
    char *secret = NULL;
    size_t len = 0;
    if (read_file(secret_file, &secret, &len) != 0) {
        snprintf(err, errlen, "cannot read the token secret %s: %s", secret_file, strerror(errno));
        return NULL;
    }
    while (len > 0 && strchr(" \t\r\n", secret[len - 1]))
        len--;
    int64_t now = (int64_t)time(NULL);
    char *tok = auth_token_mint((const unsigned char *)secret, len, claims, now, err, errlen);
    free(secret);
    return tok;
}

char *cli_auth_admin_token(const char *secret_file, const char *user, int64_t ttl_s, char *err,
                           size_t errlen)
{
    auth_claims_t c = {.sub = xstrdup(user), .admin = true, .exp = (int64_t)time(NULL) + ttl_s};
    char *tok = mint(secret_file, &c, err, errlen);
    auth_claims_dispose(&c);
    return tok;
}

static const char *default_secret_file(char *buf, size_t len)
{
    const char *f = getenv("LOCUS_AUTH_SECRET_FILE");
    if (f && f[0])
        return f;
    const char *d = getenv("LOCUS_CLUSTER_DIR");
    snprintf(buf, len, "%s/auth.secret", d && d[0] ? d : "/tmp/locus-cluster");
    return buf;
}

typedef struct {
    const char *user, *cluster, *secret_file;
    bool admin;
    int64_t ttl;
    auth_claims_t claims;
} token_t;

/* --bucket B=ACCESS (repeatable). */
static int opt_bucket(const cli_opt_t *o, const char *cmd, const char *arg)
{
    token_t *t = o->dst;
    const char *eq = strrchr(arg, '=');
    auth_ace_t perm;
    if (eq == NULL || eq == arg || auth_access_parse(eq + 1, &perm) < 0)
        return cli_usage_error(cmd, "--bucket: expecting BUCKET=ACCESS (ro, rw, ...), got \"%s\"",
                               arg);
    char *name = xstrndup(arg, (size_t)(eq - arg));
    char *bck = NULL, *obj = NULL, e[LOCUS_ERR_LEN];
    int rc = locus_parse_name(name, &bck, &obj, e);
    free(name);
    if (rc != 0 || (obj && obj[0]) || locus_check_bucket_name(bck, e) != 0) {
        free(bck);
        free(obj);
        return cli_usage_error(cmd, "--bucket: invalid bucket in \"%s\"", arg);
    }
    free(obj);
    auth_claims_t *c = &t->claims;
    c->buckets = xrealloc(c->buckets, (c->n_buckets + 1) * sizeof(auth_bck_acl_t));
    c->buckets[c->n_buckets++] = (auth_bck_acl_t){
        .name = bck, .provider = xstrdup("ais"), .ns_uuid = xstrdup(""), .perm = perm};
    return 0;
}

static int auth_token_cmd(int argc, char **argv)
{
    token_t t = {.ttl = DEFAULT_TTL_NS};
    const cli_opt_t opts[] = {
        CLI_STR("user", &t.user),
        CLI_FLAG("admin", &t.admin),
        CLI_FN("bucket", opt_bucket, &t, NULL),
        CLI_STR("cluster", &t.cluster),
        CLI_DURATION("ttl", &t.ttl, "--ttl: need a duration such as 24h or 30m"),
        CLI_STR("secret-file", &t.secret_file),
    };
    static const cli_cmd_t cmd = {"auth", usage, 0, 0, "auth token: unexpected argument \"%s\""};
    int pos, ret = cli_options(&cmd, opts, ARRAY_SIZE(opts), argc, argv, &pos);
    char err[LOCUS_ERR_LEN], buf[4096];
    auth_ace_t cperm = 0;
    if (ret != CLI_OPTS_GO)
        goto out;
    ret = CLI_EXIT_USAGE;
    if (t.user == NULL || t.user[0] == '\0') {
        cli_usage_error("auth", "auth token: --user is required");
        goto out;
    }
    if (t.cluster && auth_access_parse(t.cluster, &cperm) < 0) {
        cli_usage_error("auth", "--cluster: invalid access \"%s\"", t.cluster);
        goto out;
    }
    t.claims.sub = xstrdup(t.user);
    t.claims.admin = t.admin;
    t.claims.exp = (int64_t)time(NULL) + t.ttl / 1000000000LL;
    if (t.cluster) {
        t.claims.clusters = xcalloc(1, sizeof(auth_clu_acl_t));
        t.claims.clusters[0] = (auth_clu_acl_t){.id = xstrdup(""), .perm = cperm};
        t.claims.n_clusters = 1;
    }
    const char *sf = t.secret_file ? t.secret_file : default_secret_file(buf, sizeof(buf));
    char *tok = mint(sf, &t.claims, err, sizeof(err));
    if (tok == NULL) {
        ret = cli_fail("auth token", "%s", err);
        goto out;
    }
    printf("%s\n", tok);
    free(tok);
    ret = CLI_EXIT_OK;
out:
    auth_claims_dispose(&t.claims);
    return ret;
}

int locus_cli_cmd_auth(int argc, char **argv)
{
    static const cli_sub_t subs[] = {{"token", auth_token_cmd}};
    return cli_dispatch("auth", usage, subs, ARRAY_SIZE(subs), 0, argc, argv);
}
