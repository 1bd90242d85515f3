/*
 * podspec.c - AIStore's pod-spec init message (InitSpecMsg: "spec" = base64 of a Kubernetes Pod
 * YAML) as the runtime spec (ETLSpecMsg) that the process runtime runs (docs/etl.md, "Pod
 * specs"; docs/protocol.md §2.2).
 *
 * DESIGN: the Pod is untrusted YAML: bounded in size (ETL_POD_SPEC_MAX decoded bytes) and
 * converted by common/yamljson.c (which bounds nesting and alias expansion). Only what a process
 * can do is accepted: one container, its image (through the node's image table, or its command
 * and args where the node allows commands), env values, one port (its number in the command
 * becomes ${PORT}, the port the runtime picks), a readiness probe on GET /health, resources,
 * and emptyDir volumes at /tmp (the sandbox's private /tmp). Everything else a Pod may say that
 * would change what runs is a 400 naming it; unknown keys are a 400 too (a misspelling must not
 * be ignored). Harmless scheduling fields (restartPolicy, nodeSelector, ...) are accepted and
 * ignored.
 */
#include "etlspec/etlspec.h"
#include "common/util.h"
#include "common/yamljson.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Scalars that are strings in a Pod (Kubernetes types them; YAML would make `8000` a number). */
static bool pod_string_path(const char *path)
{
    static const char *const exact[] = {
        "apiVersion",
        "kind",
        "spec.containers[].name",
        "spec.containers[].image",
        "spec.containers[].imagePullPolicy",
        "spec.containers[].command[]",
        "spec.containers[].args[]",
        "spec.containers[].env[].name",
        "spec.containers[].env[].value",
        "spec.containers[].ports[].name",
        "spec.containers[].ports[].protocol",
        "spec.containers[].readinessProbe.httpGet.path",
        "spec.containers[].volumeMounts[].name",
        "spec.containers[].volumeMounts[].mountPath",
        "spec.volumes[].name",
    };
    for (size_t i = 0; i < ARRAY_SIZE(exact); i++)
        if (strcmp(path, exact[i]) == 0)
            return true;
    return str_has_prefix(path, "metadata.") ||
           str_has_prefix(path, "spec.containers[].resources.");
}

/* 400 naming the first key of obj that is not in known ("" ends the list). */
int etl_spec_known_keys(json_t *obj, const char *where, const char *const *known, const char *etl,
                        char *err, size_t errlen)
{
    if (obj == NULL || json_is_null(obj))
        return 0;
    if (!json_is_object(obj)) {
        snprintf(err, errlen, "ETL \"%s\": %s must be a mapping", etl, where);
        return 400;
    }
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        bool ok = false;
        for (const char *const *k = known; *k && !ok; k++)
            ok = strcmp(*k, key) == 0;
        if (!ok) {
            buf_t b;
            buf_init(&b);
            for (const char *const *k = known; *k; k++)
                buf_printf(&b, "%s%s", k == known ? "" : ", ", *k);
            snprintf(err, errlen, "ETL \"%s\": unknown key \"%.100s\" in %s (known: %s)", etl, key,
                     where, b.base ? b.base : "none");
            buf_dispose(&b);
            return 400;
        }
    }
    return 0;
}

/* Fails with "ETL "<name>": pod spec: <what>". */
static int pod_fail(char *err, size_t errlen, const char *etl, const char *what)
{
    snprintf(err, errlen, "ETL \"%s\": pod spec: %s", etl, what);
    return 400;
}

/* arg with every occurrence of the number port (not inside a longer number) as ${PORT}. */
static json_t *subst_container_port(const char *arg, long port)
{
    char num[24];
    snprintf(num, sizeof(num), "%ld", port);
    size_t nl = strlen(num);
    buf_t b;
    buf_init(&b);
    const char *p = arg;
    for (const char *q = arg; (q = strstr(q, num)) != NULL;) {
        bool before = q > arg && isdigit((unsigned char)q[-1]);
        bool after = isdigit((unsigned char)q[nl]);
        if (before || after) {
            q += nl;
            continue;
        }
        buf_append(&b, p, (size_t)(q - p));
        buf_puts(&b, "${PORT}");
        p = q += nl;
    }
    buf_puts(&b, p);
    json_t *s = json_string(b.base ? b.base : "");
    buf_dispose(&b);
    return s ? s : json_string("");
}

/* The container's port (0 when it declares none). -1 with err set when it cannot run. */
static long pod_port(json_t *c, const char *etl, char *err, size_t errlen)
{
    json_t *ports = json_object_get(c, "ports");
    if (ports == NULL || json_is_null(ports))
        return 0;
    if (!json_is_array(ports) || json_array_size(ports) > 1) {
        pod_fail(err, errlen, etl,
                 "a container may declare one port (the server's; the runtime picks the number "
                 "and passes it as ${PORT} and $PORT)");
        return -1;
    }
    json_t *p = json_array_get(ports, 0);
    static const char *const known[] = {"name", "containerPort", "protocol", "hostPort", NULL};
    if (p == NULL)
        return 0;
    if (etl_spec_known_keys(p, "spec.containers[0].ports[0]", known, etl, err, errlen) != 0)
        return -1;
    json_t *cp = json_object_get(p, "containerPort");
    const char *proto = json_string_value(json_object_get(p, "protocol"));
    if (!json_is_integer(cp) || json_integer_value(cp) < 1 || json_integer_value(cp) > 65535 ||
        (proto && strcmp(proto, "TCP") != 0)) {
        pod_fail(err, errlen, etl, "ports[0].containerPort must be a TCP port number (1-65535)");
        return -1;
    }
    return (long)json_integer_value(cp);
}

/* The readiness probe, if any, must be what the runtime does: GET /health on the port. */
static int pod_probe(json_t *c, const char *etl, char *err, size_t errlen)
{
    json_t *rp = json_object_get(c, "readinessProbe");
    if (rp == NULL || json_is_null(rp))
        return 0;
    static const char *const known[] = {"httpGet",
                                        "initialDelaySeconds",
                                        "periodSeconds",
                                        "timeoutSeconds",
                                        "failureThreshold",
                                        "successThreshold",
                                        NULL};
    if (etl_spec_known_keys(rp, "readinessProbe", known, etl, err, errlen) != 0)
        return 400;
    const char *path = json_string_value(json_object_get(json_object_get(rp, "httpGet"), "path"));
    if (path == NULL || strcmp(path, "/health") != 0)
        return pod_fail(err, errlen, etl,
                        "readinessProbe must be httpGet with path /health (the runtime checks "
                        "GET /health)");
    return 0;
}

/* Volumes: only emptyDir, mounted at /tmp or below (the sandbox's private /tmp). */
static int pod_volumes(json_t *spec, json_t *c, const char *etl, char *err, size_t errlen)
{
    json_t *vols = json_object_get(spec, "volumes");
    json_t *mounts = json_object_get(c, "volumeMounts");
    char what[300];
    size_t i;
    json_t *v;
    if (vols && !json_is_null(vols) && !json_is_array(vols))
        return pod_fail(err, errlen, etl, "volumes must be a list");
    json_array_foreach(vols, i, v)
    {
        const char *name = json_string_value(json_object_get(v, "name"));
        if (name == NULL || json_object_size(v) != 2 || !json_object_get(v, "emptyDir")) {
            const char *kind = "";
            const char *k;
            json_t *x;
            json_object_foreach(v, k, x) if (strcmp(k, "name") != 0) kind = k;
            snprintf(what, sizeof(what),
                     "volume \"%.60s\" (%.60s) cannot be mapped: the process runtime has only "
                     "emptyDir volumes, at /tmp",
                     name ? name : "?", kind);
            return pod_fail(err, errlen, etl, what);
        }
    }
    if (mounts && !json_is_null(mounts) && !json_is_array(mounts))
        return pod_fail(err, errlen, etl, "volumeMounts must be a list");
    json_array_foreach(mounts, i, v)
    {
        const char *mp = json_string_value(json_object_get(v, "mountPath"));
        if (mp == NULL || (strcmp(mp, "/tmp") != 0 && !str_has_prefix(mp, "/tmp/"))) {
            snprintf(what, sizeof(what),
                     "volumeMount at \"%.100s\" cannot be mapped: emptyDir volumes mount at /tmp",
                     mp ? mp : "?");
            return pod_fail(err, errlen, etl, what);
        }
    }
    return 0;
}

/* The container's env as an ETLSpecMsg env list; valueFrom (secrets, config maps, fields) cannot
 * be resolved without Kubernetes. NULL with err set. */
static json_t *pod_env(json_t *c, const char *etl, char *err, size_t errlen)
{
    json_t *env = json_object_get(c, "env");
    json_t *out = json_array();
    if (env == NULL || json_is_null(env))
        return out;
    static const char *const known[] = {"name", "value", NULL};
    size_t i;
    json_t *e;
    bool ok = json_is_array(env);
    json_array_foreach(env, i, e)
    {
        const char *name = json_string_value(json_object_get(e, "name"));
        if (json_object_get(e, "valueFrom")) {
            char what[200];
            snprintf(what, sizeof(what),
                     "env \"%.60s\": valueFrom (secrets, config maps, fields) cannot be mapped",
                     name ? name : "?");
            pod_fail(err, errlen, etl, what);
            ok = false;
            break;
        }
        if (etl_spec_known_keys(e, "spec.containers[0].env[]", known, etl, err, errlen) != 0) {
            ok = false;
            break;
        }
        json_array_append(out, e);
    }
    if (!ok) {
        if (!json_is_array(env))
            pod_fail(err, errlen, etl, "env must be a list");
        json_decref(out);
        return NULL;
    }
    return out;
}

/* command + args of the container with its port as ${PORT}; NULL when it has neither. */
static json_t *pod_command(json_t *c, long port)
{
    json_t *out = json_array();
    const char *which[] = {"command", "args"};
    for (size_t w = 0; w < 2; w++) {
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(c, which[w]), i, a)
        {
            const char *s = json_string_value(a);
            json_array_append_new(out, port > 0 && s ? subst_container_port(s, port)
                                                     : json_deep_copy(a));
        }
    }
    if (json_array_size(out) == 0) {
        json_decref(out);
        return NULL;
    }
    return out;
}

/* The Pod document of a decoded spec, its top level checked. NULL with err set. */
static json_t *pod_load(const char *yaml, size_t len, const char *etl, char *err, size_t errlen)
{
    json_t *docs;
    char e[600];
    if (yamljson_load(yaml, len, pod_string_path, "a pod spec must be a mapping", &docs, e,
                      sizeof(e)) != 0) {
        pod_fail(err, errlen, etl, e);
        return NULL;
    }
    if (json_array_size(docs) != 1) {
        json_decref(docs);
        pod_fail(err, errlen, etl, "expected one YAML document (one Pod)");
        return NULL;
    }
    json_t *pod = json_incref(json_array_get(docs, 0));
    json_decref(docs);
    static const char *const top[] = {"apiVersion", "kind", "metadata", "spec", NULL};
    static const char *const meta[] = {"name", "namespace", "labels", "annotations", NULL};
    const char *kind = json_string_value(json_object_get(pod, "kind"));
    const char *api = json_string_value(json_object_get(pod, "apiVersion"));
    int rc = etl_spec_known_keys(pod, "the pod spec", top, etl, err, errlen);
    if (rc == 0)
        rc = etl_spec_known_keys(json_object_get(pod, "metadata"), "metadata", meta, etl, err,
                                 errlen);
    if (rc == 0 && ((json_object_get(pod, "kind") && (!kind || strcmp(kind, "Pod") != 0)) ||
                    (json_object_get(pod, "apiVersion") && (!api || strcmp(api, "v1") != 0))))
        rc = pod_fail(err, errlen, etl, "expected kind: Pod, apiVersion: v1");
    if (rc != 0) {
        json_decref(pod);
        return NULL;
    }
    return pod;
}

/* The one container of the Pod, its keys checked. NULL with err set. */
static json_t *pod_container(json_t *pod, const char *etl, char *err, size_t errlen)
{
    json_t *spec = json_object_get(pod, "spec");
    /* accepted and ignored: where and how Kubernetes would schedule the Pod */
    static const char *const spec_keys[] = {
        "containers",  "volumes",           "restartPolicy",      "nodeSelector",
        "tolerations", "affinity",          "serviceAccountName", "terminationGracePeriodSeconds",
        "dnsPolicy",   "priorityClassName", "imagePullSecrets",   "securityContext",
        NULL};
    static const char *const ckeys[] = {
        "name",         "image",        "imagePullPolicy", "command",   "args",
        "env",          "ports",        "readinessProbe",  "resources", "livenessProbe",
        "startupProbe", "volumeMounts", "securityContext", NULL};
    if (!json_is_object(spec)) {
        pod_fail(err, errlen, etl, "spec.containers is required");
        return NULL;
    }
    if (etl_spec_known_keys(spec,
                            "spec (initContainers, hostPath volumes and the like cannot "
                            "run on the process runtime)",
                            spec_keys, etl, err, errlen) != 0)
        return NULL;
    json_t *cs = json_object_get(spec, "containers");
    if (!json_is_array(cs) || json_array_size(cs) != 1) {
        char what[160];
        snprintf(what, sizeof(what),
                 "%zu containers: the process runtime runs exactly one (one server per target)",
                 json_is_array(cs) ? json_array_size(cs) : 0);
        pod_fail(err, errlen, etl, what);
        return NULL;
    }
    json_t *c = json_array_get(cs, 0);
    if (etl_spec_known_keys(c, "spec.containers[0]", ckeys, etl, err, errlen) != 0)
        return NULL;
    const char *image = json_string_value(json_object_get(c, "image"));
    if (image == NULL || image[0] == '\0') {
        pod_fail(err, errlen, etl, "spec.containers[0].image is required");
        return NULL;
    }
    for (const char *const *k = (const char *const[]){"command", "args", NULL}; *k; k++) {
        json_t *a = json_object_get(c, *k);
        bool ok = a == NULL || json_is_null(a) || json_is_array(a);
        for (size_t i = 0; ok && i < json_array_size(a); i++)
            ok = json_is_string(json_array_get(a, i));
        if (!ok) {
            char what[80];
            snprintf(what, sizeof(what), "spec.containers[0].%s must be a list of strings", *k);
            pod_fail(err, errlen, etl, what);
            return NULL;
        }
    }
    return c;
}

/* An annotation as AIStore reads it: the message's own field wins when set. */
static void pod_annotations(json_t *pod, json_t *msg, json_t *out, const char *etl)
{
    json_t *ann = json_object_get(json_object_get(pod, "metadata"), "annotations");
    const char *ct = json_string_value(json_object_get(ann, "communication_type"));
    const char *wt = json_string_value(json_object_get(ann, "wait_timeout"));
    const char *dp = json_string_value(json_object_get(ann, "support_direct_put"));
    json_t *mc = json_object_get(msg, "communication");
    if (ct && ct[0] && !(json_is_string(mc) && json_string_value(mc)[0]))
        json_object_set_new(out, "communication", json_string(ct));
    json_t *mt = json_object_get(msg, "init_timeout");
    if (wt && wt[0] &&
        (mt == NULL || json_is_null(mt) ||
         (json_is_string(mt) && json_string_value(mt)[0] == '\0')))
        json_object_set_new(out, "init_timeout", json_string(wt));
    /* AIStore: the annotation, when present, decides (a bad value is the caller's 400). */
    if (dp) {
        bool t = strcmp(dp, "true") == 0 || strcmp(dp, "1") == 0 || strcasecmp(dp, "TRUE") == 0;
        bool f = strcmp(dp, "false") == 0 || strcmp(dp, "0") == 0 || strcasecmp(dp, "FALSE") == 0;
        json_object_set_new(out, "support_direct_put",
                            t   ? json_true()
                            : f ? json_false()
                                : json_string(dp));
    }
    (void)etl;
}

int etl_podspec_convert(json_t *msg, json_t **out, char *err, size_t errlen)
{
    *out = NULL;
    const char *name = json_string_value(json_object_get(msg, "name"));
    const char *etl = name ? name : "?";
    json_t *spec = json_object_get(msg, "spec");
    if (!json_is_string(spec))
        return pod_fail(err, errlen, etl, "\"spec\" must be a base64 string (the Pod YAML)");
    if (json_string_length(spec) > ETL_POD_SPEC_MAX / 3 * 4 + 8)
        return pod_fail(err, errlen, etl, "larger than 64 KiB");
    size_t len;
    char *yaml = base64_decode(json_string_value(spec), &len);
    if (yaml == NULL)
        return pod_fail(err, errlen, etl, "\"spec\" is not valid base64");
    json_t *pod = pod_load(yaml, len, etl, err, errlen);
    free(yaml);
    if (pod == NULL)
        return 400;
    json_t *res = NULL, *c = pod_container(pod, etl, err, errlen);
    long port = c ? pod_port(c, etl, err, errlen) : -1;
    json_t *env = port >= 0 && pod_probe(c, etl, err, errlen) == 0 &&
                          pod_volumes(json_object_get(pod, "spec"), c, etl, err, errlen) == 0
                      ? pod_env(c, etl, err, errlen)
                      : NULL;
    if (env != NULL) {
        res = json_deep_copy(msg);
        json_object_del(res, "spec");
        const char *pname =
            json_string_value(json_object_get(json_object_get(pod, "metadata"), "name"));
        if (name == NULL && pname)
            json_object_set_new(res, "name", json_string(pname));
        pod_annotations(pod, msg, res, etl);
        json_t *rt = json_pack("{s:O, s:o}", "image", json_object_get(c, "image"), "env", env);
        json_t *cmd = pod_command(c, port);
        if (cmd)
            json_object_set_new(rt, "command", cmd);
        json_object_set_new(res, "runtime", rt);
        json_t *resources = json_object_get(c, "resources");
        if (resources && !json_object_get(res, "resources"))
            json_object_set(res, "resources", resources);
    }
    json_decref(pod);
    *out = res;
    return res ? 0 : 400;
}
