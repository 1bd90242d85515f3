/*
 * spec.c - ETL init messages (docs/protocol.md §2.2): validation and the EtlMD entry.
 */
#include "etlspec/etlspec.h"
#include "common/util.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define ETL_DEFAULT_INIT_TIMEOUT_NS (45LL * 1000000000LL)
#define ETL_DEFAULT_OBJ_TIMEOUT_NS (10LL * 1000000000LL)

const char *etl_name_check(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n < 6 || n > 32)
        return "must be 6 to 32 characters long";
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (!(islower((unsigned char)ch) || isdigit((unsigned char)ch) || ch == '-'))
            return "may contain only lowercase letters, digits and '-'";
    }
    if (name[0] == '-' || name[n - 1] == '-')
        return "must start and end with a letter or digit";
    return NULL;
}

/* Duration as a Go string ("45s", "5m") or a number of seconds; dflt when absent. -1 if bad. */
static int64_t spec_duration(json_t *v, int64_t dflt)
{
    if (v == NULL || json_is_null(v))
        return dflt;
    if (json_is_string(v)) {
        if (json_string_value(v)[0] == '\0')
            return dflt;
        return duration_parse_ns(json_string_value(v));
    }
    /* Seconds; past int64 nanoseconds (292 years) is a mistake, not an overflow. */
    if (json_is_integer(v) && json_integer_value(v) > 0 &&
        json_integer_value(v) <= INT64_MAX / 1000000000LL)
        return json_integer_value(v) * 1000000000LL;
    return -1;
}

static bool env_list_ok(json_t *env)
{
    if (env == NULL || json_is_null(env))
        return true;
    if (!json_is_array(env))
        return false;
    size_t i;
    json_t *e;
    json_array_foreach(env, i, e)
    {
        json_t *n = json_object_get(e, "name");
        json_t *v = json_object_get(e, "value");
        if (!json_is_string(n) || json_string_value(n)[0] == '\0' ||
            strchr(json_string_value(n), '=') || (v && !json_is_string(v) && !json_is_null(v)))
            return false;
    }
    return true;
}

bool etl_wants_unix_socket(const config_t *cfg, json_t *entry)
{
    const char *comm = json_string_value(json_object_get(entry, "comm"));
    if (comm == NULL || strcmp(comm, "hpull://") == 0 || strcmp(comm, "io://") == 0)
        return false;
    json_t *v = json_object_get(json_object_get(entry, "init_msg"), "locus_unix_socket");
    return json_is_boolean(v) ? json_is_true(v) : cfg->etl_unix_sockets;
}

/* The ETL's name ("name", or v3.28's "id"), checked. NULL with err set when missing or bad. */
static const char *spec_name(json_t *msg, char *err, size_t errlen)
{
    json_t *name = json_object_get(msg, "name");
    if (!json_is_string(name))
        name = json_object_get(msg, "id"); /* v3.28 */
    if (!json_is_string(name)) {
        snprintf(err, errlen, "ETL init message: \"name\" is required");
        return NULL;
    }
    const char *why = etl_name_check(json_string_value(name));
    if (why) {
        snprintf(err, errlen, "invalid ETL name \"%s\": %s", json_string_value(name), why);
        return NULL;
    }
    return json_string_value(name);
}

/* The communication type into ct: default hpush://, "://" appended when missing. 0, or 400
 * with err set. */
static int spec_comm(json_t *msg, const char *name, char *ct, size_t ctlen, char *err,
                     size_t errlen)
{
    json_t *comm = json_object_get(msg, "communication");
    snprintf(ct, ctlen, "hpush://");
    if (json_is_string(comm) && json_string_value(comm)[0]) {
        const char *c = json_string_value(comm);
        snprintf(ct, ctlen, "%s%s", c, strstr(c, "://") ? "" : "://");
    } else if (comm && !json_is_null(comm) && !json_is_string(comm)) {
        snprintf(err, errlen, "ETL \"%s\": communication must be a string", name);
        return 400;
    }
    if (strcmp(ct, "ws://") == 0 && !json_is_true(json_object_get(msg, "support_direct_put"))) {
        /* As AIStore: its ws servers answer direct-put requests with Text frames only. */
        snprintf(err, errlen,
                 "ETL \"%s\": ws:// (WebSocket) without direct put is not supported (set "
                 "support_direct_put: true)",
                 name);
        return 400;
    }
    if (strcmp(ct, "hpush://") != 0 && strcmp(ct, "hpull://") != 0 && strcmp(ct, "io://") != 0 &&
        strcmp(ct, "ws://") != 0) {
        snprintf(err, errlen,
                 "ETL \"%s\": unknown communication type \"%s\" (hpush://, hpull://, ws://, io://)",
                 name, ct);
        return 400;
    }
    return 0;
}

/* Checks the optional fields (argument, env, locus_unix_socket, support_direct_put) and reads
 * the timeouts. 0, or 400 with err set. */
static int spec_options(json_t *msg, const char *name, const char *ct, int64_t *it, int64_t *ot,
                        char *err, size_t errlen)
{
    /* argument: "" | "url" | "fqn" (AIStore's reference specs all say fqn). */
    json_t *arg = json_object_get(msg, "argument");
    if (arg && !json_is_null(arg) &&
        !(json_is_string(arg) &&
          (strcmp(json_string_value(arg), "") == 0 || strcmp(json_string_value(arg), "url") == 0 ||
           strcmp(json_string_value(arg), "fqn") == 0))) {
        snprintf(err, errlen, "ETL \"%s\": argument must be \"\", \"url\" or \"fqn\"", name);
        return 400;
    }
    *it = spec_duration(json_object_get(msg, "init_timeout"), ETL_DEFAULT_INIT_TIMEOUT_NS);
    *ot = spec_duration(json_object_get(msg, "obj_timeout"), ETL_DEFAULT_OBJ_TIMEOUT_NS);
    if (*it <= 0 || *ot <= 0) {
        snprintf(err, errlen,
                 "ETL \"%s\": invalid init_timeout or obj_timeout (e.g. \"45s\", \"5m\")", name);
        return 400;
    }
    json_t *rt = json_object_get(msg, "runtime");
    if (!env_list_ok(json_object_get(rt, "env")) || !env_list_ok(json_object_get(msg, "env"))) {
        snprintf(err, errlen, "ETL \"%s\": env must be a list of {\"name\", \"value\"}", name);
        return 400;
    }
    json_t *us = json_object_get(msg, "locus_unix_socket");
    if (us && !json_is_boolean(us) && !json_is_null(us)) {
        snprintf(err, errlen, "ETL \"%s\": locus_unix_socket must be a boolean", name);
        return 400;
    }
    if (json_is_true(us) && strcmp(ct, "hpull://") == 0) {
        snprintf(err, errlen,
                 "ETL \"%s\": locus_unix_socket is not possible with hpull:// (clients follow "
                 "the redirect to the server)",
                 name);
        return 400;
    }
    json_t *dp = json_object_get(msg, "support_direct_put");
    if (dp && !json_is_boolean(dp) && !json_is_null(dp)) {
        snprintf(err, errlen, "ETL \"%s\": support_direct_put must be a boolean", name);
        return 400;
    }
    return 0;
}

int etl_command_allowed(const config_t *cfg, const char *etl, const char *what, char *err,
                        size_t errlen)
{
    /* With auth on, every ETL init needs an admin's token at the proxy (docs/security.md §4),
     * so a command comes only from an admin; the node's setting decides whether at all. */
    if (cfg->etl_allow_commands)
        return 0;
    snprintf(err, errlen,
             "ETL \"%s\": %s is not allowed on this node: it runs only the images of its image "
             "table (etl_images and the built-in aistorage/* images) unless the node config sets "
             "etl_allow_commands",
             etl, what);
    return 403;
}

/* Whether rc is a non-empty array of strings. */
static bool command_ok(json_t *rc)
{
    bool ok = json_is_array(rc) && json_array_size(rc) > 0;
    for (size_t i = 0; ok && i < json_array_size(rc); i++)
        ok = json_is_string(json_array_get(rc, i));
    return ok;
}

/* The local command into *out: the node's image table first (AIStore's reference images map to
 * our built-ins), else the spec's own runtime.command, which only a node that allows commands
 * accepts (etl_command_allowed). 0 with a new reference, or 400/403 with err set. */
static int spec_command(const config_t *cfg, json_t *msg, const char *name, const char *ct,
                        json_t **out, char *err, size_t errlen)
{
    json_t *rt = json_object_get(msg, "runtime");
    const char *image = json_string_value(json_object_get(rt, "image"));
    bool io = strcmp(ct, "io://") == 0;
    /* io:// runs a command-line tool per object: the spec's own command, never a server
     * binary from the image table. */
    *out = io ? NULL : config_etl_command(cfg, image);
    if (*out)
        return 0;
    json_t *rc = json_object_get(rt, "command");
    if (!command_ok(rc)) {
        if (io)
            snprintf(err, errlen,
                     "ETL \"%s\": io:// needs runtime.command (the program to run per "
                     "object, e.g. [\"gzip\", \"-c\"])",
                     name);
        else
            snprintf(err, errlen,
                     "ETL \"%s\": unknown image \"%s\" and no runtime.command: add a "
                     "command, or map the image in the node config (etl_images)",
                     name, image);
        return 400;
    }
    char what[300];
    if (io)
        snprintf(what, sizeof(what), "io:// (runtime.command run per object)");
    else
        snprintf(what, sizeof(what), "runtime.command (image \"%.200s\" is not in the image table)",
                 image);
    int st = etl_command_allowed(cfg, name, what, err, errlen);
    if (st != 0)
        return st;
    *out = json_deep_copy(rc);
    return 0;
}

/* The EtlMD entry: the init message as received with name, communication and timeouts
 * normalised, and the resolved fields. Takes over cmd. */
static json_t *spec_entry(json_t *msg, const char *name, const char *ct, int64_t it, int64_t ot,
                          json_t *cmd)
{
    json_t *e = json_object();
    json_t *im = json_deep_copy(msg);
    json_object_set_new(e, "init_msg", im);
    json_object_set_new(im, "name", json_string(name));
    json_object_set_new(im, "communication", json_string(ct));
    char d[32];
    if (!json_is_string(json_object_get(im, "init_timeout"))) {
        snprintf(d, sizeof(d), "%llds", (long long)(it / 1000000000LL));
        json_object_set_new(im, "init_timeout", json_string(d));
    }
    if (!json_is_string(json_object_get(im, "obj_timeout"))) {
        snprintf(d, sizeof(d), "%llds", (long long)(ot / 1000000000LL));
        json_object_set_new(im, "obj_timeout", json_string(d));
    }
    json_object_set_new(e, "comm", json_string(ct));
    json_object_set_new(e, "obj_timeout_ns", json_integer(ot));
    json_object_set_new(e, "init_timeout_ns", json_integer(it));
    json_object_set_new(e, "command", cmd);
    json_object_set_new(e, "direct_put",
                        json_boolean(json_is_true(json_object_get(msg, "support_direct_put"))));
    return e;
}

/* Unknown keys of an init message, its runtime, env lists and resources are a 400 naming the
 * key: a misspelled field must not be ignored. An init message is either a runtime spec
 * (ETLSpecMsg) or a pod spec (InitSpecMsg, "spec"), not both. */
static int spec_keys(json_t *msg, const char *name, char *err, size_t errlen)
{
    static const char *const base[] = {"name",
                                       "id",
                                       "communication",
                                       "env",
                                       "init_timeout",
                                       "obj_timeout",
                                       "support_direct_put",
                                       "argument",
                                       "locus_unix_socket",
                                       "runtime",
                                       "resources",
                                       "spec",
                                       NULL};
    static const char *const rt[] = {"image", "command", "env", NULL};
    static const char *const env[] = {"name", "value", NULL};
    static const char *const res[] = {"limits", "requests", "claims", NULL};
    if (etl_spec_known_keys(msg, "the init message", base, name, err, errlen) != 0 ||
        etl_spec_known_keys(json_object_get(msg, "runtime"), "runtime", rt, name, err, errlen) ||
        etl_spec_known_keys(json_object_get(msg, "resources"), "resources", res, name, err,
                            errlen) != 0)
        return 400;
    json_t *lists[] = {json_object_get(msg, "env"),
                       json_object_get(json_object_get(msg, "runtime"), "env")};
    for (size_t l = 0; l < 2; l++) {
        size_t i;
        json_t *e;
        json_array_foreach(lists[l], i,
                           e) if (json_is_object(e) &&
                                  etl_spec_known_keys(e, l ? "runtime.env[]" : "env[]", env, name,
                                                      err, errlen) != 0) return 400;
    }
    json_t *spec = json_object_get(msg, "spec");
    if (spec && !json_is_null(spec) &&
        (json_object_get(msg, "runtime") || json_object_get(msg, "resources"))) {
        snprintf(err, errlen,
                 "ETL \"%s\": \"spec\" (a pod spec) and \"runtime\"/\"resources\" (a runtime "
                 "spec) exclude each other",
                 name);
        return 400;
    }
    return 0;
}

int etl_spec_parse(const config_t *cfg, json_t *msg, json_t **entry, char *err, size_t errlen)
{
    *entry = NULL;
    if (!json_is_object(msg)) {
        snprintf(err, errlen, "ETL init message must be a JSON object");
        return 400;
    }
    const char *name = spec_name(msg, err, errlen);
    if (name == NULL)
        return 400;
    if (json_object_get(msg, "code")) {
        snprintf(err, errlen,
                 "ETL \"%s\": code init messages (AIStore's removed init_code) are not supported; "
                 "use a runtime spec (runtime.image, runtime.command) or a pod spec",
                 name);
        return 400;
    }
    json_t *pod = NULL;
    if (spec_keys(msg, name, err, errlen) != 0 ||
        (json_object_get(msg, "spec") && etl_podspec_convert(msg, &pod, err, errlen) != 0))
        return 400;
    if (pod) {
        int rc = etl_spec_parse(cfg, pod, entry, err, errlen);
        json_decref(pod);
        return rc;
    }
    json_t *rt = json_object_get(msg, "runtime");
    json_t *image = json_object_get(rt, "image");
    if (!json_is_object(rt) || !json_is_string(image) || json_string_value(image)[0] == '\0') {
        snprintf(err, errlen, "ETL \"%s\": runtime.image is required", name);
        return 400;
    }
    char ct[32];
    int64_t it, ot;
    if (spec_comm(msg, name, ct, sizeof(ct), err, errlen) != 0 ||
        spec_options(msg, name, ct, &it, &ot, err, errlen) != 0)
        return 400;
    etl_limits_t lim;
    if (etl_spec_limits(cfg, msg, &lim, err, errlen) != 0)
        return 400;
    json_t *cmd = NULL;
    int st = spec_command(cfg, msg, name, ct, &cmd, err, errlen);
    if (st != 0)
        return st;
    *entry = spec_entry(msg, name, ct, it, ot, cmd);
    return 0;
}
