/*
 * config.c - node configuration: a table of settings drives JSON loading, flags and help.
 */
#include "common/config.h"
#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef enum {
    CT_STR,
    CT_INT,
    CT_ROLE,
    CT_DURATION,
    CT_BOOL,
    CT_STRLIST,
    CT_JSONOBJ,
    CT_SIZE
} ctype_t;

typedef struct {
    const char *key;  /* JSON key */
    const char *flag; /* command-line flag without "--" */
    ctype_t type;
    size_t off;
    const char *help;
} setting_t;

#define OFF(f) offsetof(config_t, f)
static const setting_t settings[] = {
    {"role", "role", CT_ROLE, OFF(role), "proxy or target"},
    {"id", "id", CT_STR, OFF(id), "daemon id (default: generated once, kept in data_dir)"},
    {"host", "host", CT_STR, OFF(host), "listen address (default 127.0.0.1)"},
    {"port", "port", CT_INT, OFF(port), "listen port"},
    {"public_url", "public-url", CT_STR, OFF(public_url),
     "URL others use (default http://host:port)"},
    {"primary_url", "primary", CT_STR, OFF(primary_url), "primary proxy URL (empty: I am primary)"},
    {"data_dir", "data-dir", CT_STR, OFF(data_dir), "node state directory"},
    {"mountpaths", "mountpath", CT_STRLIST, OFF(mountpaths), "object storage dir (repeatable)"},
    {"log_level", "log-level", CT_STR, OFF(log_level), "debug|verbose|notice|warning"},
    {"log_file", "log-file", CT_STR, OFF(log_file), "log file (default stderr)"},
    {"keepalive_interval", "keepalive-interval", CT_DURATION, OFF(keepalive_interval_ns),
     "keepalive period (default 1s)"},
    {"keepalive_timeout", "keepalive-timeout", CT_DURATION, OFF(keepalive_timeout_ns),
     "drop a silent node after this (default 6s)"},
    {"fsync", "fsync", CT_BOOL, OFF(fsync), "fsync objects before rename"},
    {"io_threads", "io-threads", CT_INT, OFF(io_threads),
     "HTTP I/O threads (default 0: one per usable CPU; fewer when nodes share a machine)"},
    {"tls_cert", "tls-cert", CT_STR, OFF(tls_cert),
     "PEM certificate: serve HTTPS on the port (with tls_key); default URL becomes https://"},
    {"tls_key", "tls-key", CT_STR, OFF(tls_key), "PEM private key of tls_cert"},
    {"tls_ca", "tls-ca", CT_STR, OFF(tls_ca),
     "PEM CA bundle that verifies other nodes' certificates (default: the system's)"},
    {"etl_images", "etl-images", CT_JSONOBJ, OFF(etl_images),
     "JSON object: container image -> local command array"},
    {"etl_unix_sockets", "etl-unix-sockets", CT_BOOL, OFF(etl_unix_sockets),
     "ETL servers on Unix sockets instead of loopback TCP"},
    {"etl_python", "etl-python", CT_STR, OFF(etl_python),
     "interpreter for Python ETL classes (default python3)"},
    {"auth_enabled", "auth-enabled", CT_BOOL, OFF(auth_enabled),
     "require AuthN tokens from clients (needs a token key and a cluster secret)"},
    {"auth_secret", "auth-secret", CT_STR, OFF(auth_secret),
     "HS256 token secret (prefer auth_secret_file)"},
    {"auth_secret_file", "auth-secret-file", CT_STR, OFF(auth_secret_file),
     "file with the HS256 token secret (mode 0600)"},
    {"auth_pubkey_file", "auth-pubkey-file", CT_STR, OFF(auth_pubkey_file),
     "PEM RSA public key verifying RS256 tokens"},
    {"cluster_secret", "cluster-secret", CT_STR, OFF(cluster_secret),
     "intra-cluster HMAC secret (prefer cluster_secret_file)"},
    {"cluster_secret_file", "cluster-secret-file", CT_STR, OFF(cluster_secret_file),
     "file with the intra-cluster HMAC secret (mode 0600)"},
    {"s3_keys_file", "s3-keys-file", CT_STR, OFF(s3_keys_file),
     "file of S3 access keys, \"<access key id> <secret>\" per line (mode 0600; docs/s3.md)"},
    {"etl_allow_commands", "etl-allow-commands", CT_BOOL, OFF(etl_allow_commands),
     "accept ETL commands not in the image table: runtime.command, io:// (default false)"},
    {"etl_sandbox", "etl-sandbox", CT_BOOL, OFF(etl_sandbox),
     "run ETL processes in a bubblewrap sandbox as an unprivileged user (default true)"},
    {"etl_default_memory", "etl-default-memory", CT_SIZE, OFF(etl_default_memory),
     "memory limit of ETL processes without resources.limits.memory (default 4GiB; 0: none)"},
    {"etl_sandbox_paths", "etl-sandbox-path", CT_STRLIST, OFF(etl_sandbox_paths),
     "extra host path ETL processes may read (repeatable)"},
    {"mpt_idle_timeout", "mpt-idle-timeout", CT_DURATION, OFF(mpt_idle_timeout_ns),
     "remove multipart uploads and appends untouched for this long (default 24h)"},
    {"s3_mpt_min_part", "s3-mpt-min-part", CT_SIZE, OFF(s3_mpt_min_part),
     "smallest part but the last of an S3 multipart upload (default 5MiB, S3's)"},
    {"promote_allowed", "promote-allowed", CT_STRLIST, OFF(promote_allowed),
     "directory whose files a target may promote into objects (repeatable; none: promote off)"},
};

/* Built-in image table: AIStore's reference transformer images run our built-ins, so their
 * published spec files work unchanged. */
static const struct {
    const char *image;
    const char *program;
} builtin_images[] = {
    {"aistorage/transformer_md5", "locus-etl-md5"},
    {"aistorage/transformer_hello_world", "locus-etl-hello"},
    {"aistorage/transformer_echo", "locus-etl-echo"},
    {"aistorage/transformer_hash_with_args", "locus-etl-xxhash"},
    {"aistorage/transformer_ffmpeg", "locus-etl-ffmpeg"},
};

void config_init(config_t *c)
{
    memset(c, 0, sizeof(*c));
    c->host = xstrdup("127.0.0.1");
    c->log_level = xstrdup("notice");
    c->keepalive_interval_ns = 1000000000LL;
    c->keepalive_timeout_ns = 6000000000LL;
    c->mpt_idle_timeout_ns = 24LL * 3600 * 1000000000LL;
    c->s3_mpt_min_part = 5LL << 20;
    c->etl_python = xstrdup("python3");
    c->etl_sandbox = true;
#if defined(__SANITIZE_ADDRESS__)
    /* A sanitizer build's ETL servers are sanitizer builds too: their shadow memory is terabytes
     * of address space, which no address-space limit can hold. */
    c->etl_default_memory = 0;
#else
    c->etl_default_memory = 4LL << 30;
#endif
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        c->bin_dir = xstrdup(exe);
    } else {
        c->bin_dir = xstrdup(".");
    }
}

json_t *config_etl_command(const config_t *c, const char *image)
{
    char base[512];
    snprintf(base, sizeof(base), "%s", image);
    char *colon = strrchr(base, ':');
    if (colon && !strchr(colon, '/'))
        *colon = '\0'; /* drop the tag */
    json_t *cmd = c->etl_images ? json_object_get(c->etl_images, base) : NULL;
    if (json_is_array(cmd))
        return json_deep_copy(cmd);
    if (strcmp(base, "aistorage/runtime_python") == 0) {
        char *launcher = xasprintf("%s/locus-etl-python-runtime.py", c->bin_dir);
        json_t *a = json_pack("[s, s]", c->etl_python, launcher);
        free(launcher);
        return a;
    }
    for (size_t i = 0; i < ARRAY_SIZE(builtin_images); i++) {
        if (strcmp(builtin_images[i].image, base) == 0) {
            char *prog = xasprintf("%s/%s", c->bin_dir, builtin_images[i].program);
            json_t *a = json_pack("[s, s, s]", prog, "--port", "${PORT}");
            free(prog);
            return a;
        }
    }
    return NULL;
}

void config_dispose(config_t *c)
{
    free(c->id);
    free(c->host);
    free(c->public_url);
    free(c->tls_cert);
    free(c->tls_key);
    free(c->tls_ca);
    free(c->primary_url);
    free(c->data_dir);
    free(c->log_level);
    free(c->log_file);
    free(c->etl_python);
    free(c->bin_dir);
    free(c->auth_secret);
    free(c->auth_secret_file);
    free(c->auth_pubkey_file);
    free(c->cluster_secret);
    free(c->cluster_secret_file);
    free(c->s3_keys_file);
    free(c->config_file);
    json_decref(c->etl_images);
    for (size_t i = 0; i < c->n_mountpaths; i++)
        free(c->mountpaths[i]);
    for (size_t i = 0; i < c->n_etl_sandbox_paths; i++)
        free(c->etl_sandbox_paths[i]);
    for (size_t i = 0; i < c->n_promote_allowed; i++)
        free(c->promote_allowed[i]);
    memset(c, 0, sizeof(*c));
}

/* The entry count of a CT_STRLIST setting, and its capacity in *max. */
static size_t *list_count(config_t *c, const setting_t *s, size_t *max)
{
    if (s->off == OFF(mountpaths)) {
        *max = CONFIG_MAX_MPATHS;
        return &c->n_mountpaths;
    }
    if (s->off == OFF(promote_allowed)) {
        *max = CONFIG_MAX_PROMOTE_DIRS;
        return &c->n_promote_allowed;
    }
    *max = CONFIG_MAX_SANDBOX_PATHS;
    return &c->n_etl_sandbox_paths;
}

/* Sets one setting from a string value. 0 or -1 with a message. */
static int set_value(config_t *c, const setting_t *s, const char *v, char *err, size_t errlen)
{
    void *field = (char *)c + s->off;
    switch (s->type) {
    case CT_STR: {
        char **p = field;
        free(*p);
        *p = xstrdup(v);
        return 0;
    }
    case CT_INT: {
        char *end;
        long n = strtol(v, &end, 10);
        if (*v == '\0' || *end != '\0' || n < 0 || n > 65535) {
            snprintf(err, errlen, "%s: invalid number \"%s\"", s->key, v);
            return -1;
        }
        *(int *)field = (int)n;
        return 0;
    }
    case CT_ROLE:
        if (strcmp(v, "proxy") == 0)
            *(node_role_t *)field = ROLE_PROXY;
        else if (strcmp(v, "target") == 0)
            *(node_role_t *)field = ROLE_TARGET;
        else {
            snprintf(err, errlen, "%s: must be \"proxy\" or \"target\", not \"%s\"", s->key, v);
            return -1;
        }
        return 0;
    case CT_DURATION: {
        int64_t ns = duration_parse_ns(v);
        if (ns <= 0) {
            snprintf(err, errlen, "%s: invalid duration \"%s\" (e.g. 500ms, 5s, 1m)", s->key, v);
            return -1;
        }
        *(int64_t *)field = ns;
        return 0;
    }
    case CT_SIZE: {
        int64_t n = size_parse(v);
        if (n < 0) {
            snprintf(err, errlen, "%s: invalid size \"%s\" (e.g. 512MiB, 4GiB, 0)", s->key, v);
            return -1;
        }
        *(int64_t *)field = n;
        return 0;
    }
    case CT_BOOL:
        if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
            *(bool *)field = true;
        else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
            *(bool *)field = false;
        else {
            snprintf(err, errlen, "%s: invalid boolean \"%s\"", s->key, v);
            return -1;
        }
        return 0;
    case CT_JSONOBJ: {
        json_t *j = json_loads(v, 0, NULL);
        if (!json_is_object(j)) {
            json_decref(j);
            snprintf(err, errlen, "%s: must be a JSON object", s->key);
            return -1;
        }
        json_t **p = field;
        json_decref(*p);
        *p = j;
        return 0;
    }
    case CT_STRLIST: {
        char **list = field;
        size_t max;
        size_t *n = list_count(c, s, &max);
        if (*n >= max) {
            snprintf(err, errlen, "%s: too many entries (max %zu)", s->key, max);
            return -1;
        }
        list[(*n)++] = xstrdup(v);
        return 0;
    }
    }
    return -1;
}

static const setting_t *find_key(const char *key)
{
    for (size_t i = 0; i < ARRAY_SIZE(settings); i++)
        if (strcmp(settings[i].key, key) == 0)
            return &settings[i];
    return NULL;
}

static int load_json(config_t *c, json_t *root, const char *src, char *err, size_t errlen)
{
    if (!json_is_object(root)) {
        snprintf(err, errlen, "%s: top level must be a JSON object", src);
        return -1;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        if (key[0] == '_')
            continue; /* comment */
        const setting_t *s = find_key(key);
        if (s == NULL) {
            snprintf(err, errlen, "%s: unknown key \"%s\"", src, key);
            return -1;
        }
        char tmp[64];
        char sub[LOCUS_ERR_LEN];
        if (s->type == CT_STRLIST) {
            if (!json_is_array(v)) {
                snprintf(err, errlen, "%s: \"%s\" must be an array of strings", src, key);
                return -1;
            }
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e)
            {
                if (!json_is_string(e)) {
                    snprintf(err, errlen, "%s: \"%s\" must be an array of strings", src, key);
                    return -1;
                }
                if (set_value(c, s, json_string_value(e), sub, sizeof(sub)) < 0) {
                    snprintf(err, errlen, "%s: %s", src, sub);
                    return -1;
                }
            }
            continue;
        }
        if (s->type == CT_JSONOBJ) {
            json_t **p = (json_t **)((char *)c + s->off);
            if (!json_is_object(v)) {
                snprintf(err, errlen, "%s: \"%s\" must be a JSON object", src, key);
                return -1;
            }
            json_t *e;
            const char *ik;
            json_object_foreach(v, ik, e)
            {
                bool ok = json_is_array(e) && json_array_size(e) > 0;
                for (size_t i = 0; ok && i < json_array_size(e); i++)
                    ok = json_is_string(json_array_get(e, i));
                if (!ok) {
                    snprintf(err, errlen, "%s: \"%s\": \"%s\" must be a non-empty array of strings",
                             src, key, ik);
                    return -1;
                }
            }
            json_decref(*p);
            *p = json_incref(v);
            continue;
        }
        const char *sv;
        if (json_is_string(v))
            sv = json_string_value(v);
        else if (json_is_integer(v))
            snprintf(tmp, sizeof(tmp), "%lld", (long long)json_integer_value(v)), sv = tmp;
        else if (json_is_boolean(v))
            sv = json_is_true(v) ? "true" : "false";
        else if (json_is_null(v))
            continue;
        else {
            snprintf(err, errlen, "%s: \"%s\" has the wrong type", src, key);
            return -1;
        }
        if (s->type == CT_STR && sv[0] == '\0')
            continue; /* "" = default */
        if (set_value(c, s, sv, sub, sizeof(sub)) < 0) {
            snprintf(err, errlen, "%s: %s", src, sub);
            return -1;
        }
    }
    return 0;
}

int config_load_json(config_t *c, const char *text, char *err, size_t errlen)
{
    json_error_t je;
    json_t *root = json_loads(text, 0, &je);
    if (root == NULL) {
        snprintf(err, errlen, "config: line %d: %s", je.line, je.text);
        return -1;
    }
    int rc = load_json(c, root, "config", err, errlen);
    json_decref(root);
    return rc;
}

int config_load_file(config_t *c, const char *path, char *err, size_t errlen)
{
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (root == NULL) {
        snprintf(err, errlen, "%s:%d: %s", path, je.line, je.text);
        return -1;
    }
    int rc = load_json(c, root, path, err, errlen);
    json_decref(root);
    return rc;
}

void config_print_help(const char *prog)
{
    printf("usage: %s --role proxy|target --port P --data-dir D [options]\n\n", prog);
    printf("  --config FILE              JSON config (flags override it)\n");
    for (size_t i = 0; i < ARRAY_SIZE(settings); i++) {
        char flag[64];
        snprintf(flag, sizeof(flag), "--%s%s", settings[i].flag,
                 settings[i].type == CT_BOOL ? "" : " V");
        printf("  %-26s %s (config key \"%s\")\n", flag, settings[i].help, settings[i].key);
    }
}

int config_parse_args(config_t *c, int argc, char **argv, char *err, size_t errlen)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            config_print_help(argv[0]);
            return 1;
        }
        if (strcmp(argv[i], "--config") == 0) {
            if (i + 1 >= argc) {
                snprintf(err, errlen, "--config needs a file");
                return -1;
            }
            if (config_load_file(c, argv[i + 1], err, errlen) < 0)
                return -1;
            free(c->config_file);
            c->config_file = xstrdup(argv[i + 1]);
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--config") == 0) {
            i++;
            continue;
        }
        if (strncmp(a, "--", 2) != 0) {
            snprintf(err, errlen, "unexpected argument \"%s\"", a);
            return -1;
        }
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const setting_t *s = NULL;
        for (size_t k = 0; k < ARRAY_SIZE(settings); k++)
            if (strlen(settings[k].flag) == nlen && strncmp(settings[k].flag, name, nlen) == 0)
                s = &settings[k];
        if (s == NULL) {
            snprintf(err, errlen, "unknown flag \"%s\" (see --help)", a);
            return -1;
        }
        const char *v;
        if (eq)
            v = eq + 1;
        else if (s->type == CT_BOOL)
            v = "true";
        else if (i + 1 < argc)
            v = argv[++i];
        else {
            snprintf(err, errlen, "flag \"%s\" needs a value", a);
            return -1;
        }
        if (set_value(c, s, v, err, errlen) < 0)
            return -1;
    }
    return 0;
}

int config_validate(config_t *c, char *err, size_t errlen)
{
    if (c->role == ROLE_NONE) {
        snprintf(err, errlen, "role is required (--role proxy|target)");
        return -1;
    }
    if (c->port <= 0) {
        snprintf(err, errlen, "port is required (--port P)");
        return -1;
    }
    if (c->data_dir == NULL) {
        snprintf(err, errlen, "data_dir is required (--data-dir D)");
        return -1;
    }
    if (c->role == ROLE_TARGET && c->n_mountpaths == 0) {
        snprintf(err, errlen, "a target needs at least one mountpath (--mountpath M)");
        return -1;
    }
    if (log_level_parse(c->log_level) < 0) {
        snprintf(err, errlen, "log_level: unknown level \"%s\"", c->log_level);
        return -1;
    }
    if (c->io_threads > 64) {
        snprintf(err, errlen, "io_threads: %d is more than 64", c->io_threads);
        return -1;
    }
    if ((c->tls_cert == NULL) != (c->tls_key == NULL)) {
        snprintf(err, errlen, "tls_cert and tls_key go together (one is missing)");
        return -1;
    }
    const char *tls_files[] = {c->tls_cert, c->tls_key, c->tls_ca};
    for (size_t i = 0; i < 3; i++)
        if (tls_files[i] && access(tls_files[i], R_OK) != 0) {
            snprintf(err, errlen, "cannot read %s: %s", tls_files[i], strerror(errno));
            return -1;
        }
    if (c->public_url == NULL)
        c->public_url = xasprintf("%s://%s:%d", c->tls_cert ? "https" : "http", c->host, c->port);
    size_t n = strlen(c->public_url);
    while (n > 0 && c->public_url[n - 1] == '/')
        c->public_url[--n] = '\0';
    if (c->primary_url != NULL) {
        n = strlen(c->primary_url);
        while (n > 0 && c->primary_url[n - 1] == '/')
            c->primary_url[--n] = '\0';
        if (strcmp(c->primary_url, c->public_url) == 0) {
            free(c->primary_url);
            c->primary_url = NULL;
        }
    }
    if (c->role == ROLE_TARGET && c->primary_url == NULL) {
        snprintf(err, errlen, "a target needs the primary proxy's URL (--primary URL)");
        return -1;
    }
    return 0;
}
