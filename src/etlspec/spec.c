/*
 * spec.c - ETL init messages (docs/protocol.md §2.2): validation and the EtlMD entry.
 */
#include "etlspec/etlspec.h"
#include "common/util.h"

#include <ctype.h>
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
    if (json_is_integer(v) && json_integer_value(v) > 0)
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

int etl_spec_parse(const config_t *cfg, json_t *msg, json_t **entry, char *err, size_t errlen)
{
    *entry = NULL;
    if (!json_is_object(msg)) {
        snprintf(err, errlen, "ETL init message must be a JSON object");
        return 400;
    }
    json_t *name = json_object_get(msg, "name");
    if (!json_is_string(name))
        name = json_object_get(msg, "id"); /* v3.28 */
    if (!json_is_string(name)) {
        snprintf(err, errlen, "ETL init message: \"name\" is required");
        return 400;
    }
    const char *why = etl_name_check(json_string_value(name));
    if (why) {
        snprintf(err, errlen, "invalid ETL name \"%s\": %s", json_string_value(name), why);
        return 400;
    }
    if (json_object_get(msg, "spec") || json_object_get(msg, "code")) {
        snprintf(err, errlen,
                 "ETL \"%s\": pod-spec and code init messages need the Kubernetes runtime; use a "
                 "runtime spec (runtime.image, runtime.command)",
                 json_string_value(name));
        return 400;
    }
    json_t *rt = json_object_get(msg, "runtime");
    json_t *image = json_object_get(rt, "image");
    if (!json_is_object(rt) || !json_is_string(image) || json_string_value(image)[0] == '\0') {
        snprintf(err, errlen, "ETL \"%s\": runtime.image is required", json_string_value(name));
        return 400;
    }
    /* communication: default hpush://, "://" appended when missing */
    json_t *comm = json_object_get(msg, "communication");
    char ct[32] = "hpush://";
    if (json_is_string(comm) && json_string_value(comm)[0]) {
        const char *c = json_string_value(comm);
        snprintf(ct, sizeof(ct), "%s%s", c, strstr(c, "://") ? "" : "://");
    } else if (comm && !json_is_null(comm) && !json_is_string(comm)) {
        snprintf(err, errlen, "ETL \"%s\": communication must be a string",
                 json_string_value(name));
        return 400;
    }
    if (strcmp(ct, "ws://") == 0 && !json_is_true(json_object_get(msg, "support_direct_put"))) {
        /* As AIStore: its ws servers answer direct-put requests with Text frames only. */
        snprintf(err, errlen,
                 "ETL \"%s\": ws:// (WebSocket) without direct put is not supported (set "
                 "support_direct_put: true)",
                 json_string_value(name));
        return 400;
    }
    if (strcmp(ct, "hpush://") != 0 && strcmp(ct, "hpull://") != 0 && strcmp(ct, "io://") != 0 &&
        strcmp(ct, "ws://") != 0) {
        snprintf(err, errlen,
                 "ETL \"%s\": unknown communication type \"%s\" (hpush://, hpull://, ws://, io://)",
                 json_string_value(name), ct);
        return 400;
    }
    /* argument: "" | "url" | "fqn" (AIStore's reference specs all say fqn). */
    json_t *arg = json_object_get(msg, "argument");
    if (arg && !json_is_null(arg) &&
        !(json_is_string(arg) &&
          (strcmp(json_string_value(arg), "") == 0 || strcmp(json_string_value(arg), "url") == 0 ||
           strcmp(json_string_value(arg), "fqn") == 0))) {
        snprintf(err, errlen, "ETL \"%s\": argument must be \"\", \"url\" or \"fqn\"",
                 json_string_value(name));
        return 400;
    }
    int64_t it = spec_duration(json_object_get(msg, "init_timeout"), ETL_DEFAULT_INIT_TIMEOUT_NS);
    int64_t ot = spec_duration(json_object_get(msg, "obj_timeout"), ETL_DEFAULT_OBJ_TIMEOUT_NS);
    if (it <= 0 || ot <= 0) {
        snprintf(err, errlen,
                 "ETL \"%s\": invalid init_timeout or obj_timeout (e.g. \"45s\", \"5m\")",
                 json_string_value(name));
        return 400;
    }
    if (!env_list_ok(json_object_get(rt, "env")) || !env_list_ok(json_object_get(msg, "env"))) {
        snprintf(err, errlen, "ETL \"%s\": env must be a list of {\"name\", \"value\"}",
                 json_string_value(name));
        return 400;
    }
    json_t *us = json_object_get(msg, "locus_unix_socket");
    if (us && !json_is_boolean(us) && !json_is_null(us)) {
        snprintf(err, errlen, "ETL \"%s\": locus_unix_socket must be a boolean",
                 json_string_value(name));
        return 400;
    }
    if (json_is_true(us) && strcmp(ct, "hpull://") == 0) {
        snprintf(err, errlen,
                 "ETL \"%s\": locus_unix_socket is not possible with hpull:// (clients follow "
                 "the redirect to the server)",
                 json_string_value(name));
        return 400;
    }
    json_t *dp = json_object_get(msg, "support_direct_put");
    if (dp && !json_is_boolean(dp) && !json_is_null(dp)) {
        snprintf(err, errlen, "ETL \"%s\": support_direct_put must be a boolean",
                 json_string_value(name));
        return 400;
    }
    /* The local command: the node's image table first (AIStore's reference images map to our
     * built-ins), else the spec's own runtime.command. */
    bool io = strcmp(ct, "io://") == 0;
    /* io:// runs a command-line tool per object: the spec's own command, never a server
     * binary from the image table. */
    json_t *cmd = io ? NULL : config_etl_command(cfg, json_string_value(image));
    if (cmd == NULL) {
        json_t *rc = json_object_get(rt, "command");
        bool ok = json_is_array(rc) && json_array_size(rc) > 0;
        for (size_t i = 0; ok && i < json_array_size(rc); i++)
            ok = json_is_string(json_array_get(rc, i));
        if (!ok) {
            if (io)
                snprintf(err, errlen,
                         "ETL \"%s\": io:// needs runtime.command (the program to run per "
                         "object, e.g. [\"gzip\", \"-c\"])",
                         json_string_value(name));
            else
                snprintf(err, errlen,
                         "ETL \"%s\": unknown image \"%s\" and no runtime.command: add a "
                         "command, or map the image in the node config (etl_images)",
                         json_string_value(name), json_string_value(image));
            return 400;
        }
        cmd = json_deep_copy(rc);
    }
    json_t *e = json_object();
    json_object_set_new(e, "init_msg", json_deep_copy(msg));
    json_object_set_new(json_object_get(e, "init_msg"), "name",
                        json_string(json_string_value(name)));
    json_object_set_new(json_object_get(e, "init_msg"), "communication", json_string(ct));
    json_t *im = json_object_get(e, "init_msg");
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
    json_object_set_new(e, "direct_put", json_boolean(json_is_true(dp)));
    *entry = e;
    return 0;
}
