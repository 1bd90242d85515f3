/*
 * fuzz_etl_podspec.c - Kubernetes Pod specs of AIStore's pod-spec init message (InitSpecMsg:
 * "spec" = base64 of the Pod YAML): src/etlspec/podspec.c etl_podspec_convert through
 * etl_spec_parse, and common/yamljson.c beneath it.
 *
 * The input is the Pod YAML; the harness wraps it as {"name": "fuzz-pod", "spec": base64(input)}.
 * Properties: a rejected spec is a 400 (403 for a command the node does not allow) with a
 * message and no entry; an accepted one is an entry whose init message is a runtime spec (no
 * "spec" left, runtime.image a string) with a non-empty command of strings.
 */
#include "fuzz.h"

#include <jansson.h>

#include "common/config.h"
#include "common/util.h"
#include "etlspec/etlspec.h"

static config_t cfg;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    config_init(&cfg);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > ETL_POD_SPEC_MAX + 64)
        return 0;
    cfg.etl_allow_commands = size & 1; /* both node policies */
    char *b64 = base64_encode(data, size);
    json_t *msg = json_pack("{s:s, s:s}", "name", "fuzz-pod", "spec", b64);
    free(b64);
    json_t *entry = NULL;
    char err[1024] = "";
    int rc = etl_spec_parse(&cfg, msg, &entry, err, sizeof(err));
    json_decref(msg);
    if (rc != 0) {
        FUZZ_CHECK((rc == 400 || (rc == 403 && !cfg.etl_allow_commands)) && entry == NULL &&
                       err[0] != '\0',
                   "rc %d, entry %p, err \"%s\"", rc, (void *)entry, err);
        return 0;
    }
    json_t *im = json_object_get(entry, "init_msg");
    FUZZ_CHECK(json_object_get(im, "spec") == NULL, "the pod spec is left in the entry");
    FUZZ_CHECK(json_is_string(json_object_get(json_object_get(im, "runtime"), "image")),
               "no runtime.image");
    json_t *cmd = json_object_get(entry, "command");
    FUZZ_CHECK(json_is_array(cmd) && json_array_size(cmd) > 0, "entry without a command");
    for (size_t i = 0; i < json_array_size(cmd); i++)
        FUZZ_CHECK(json_is_string(json_array_get(cmd, i)), "command[%zu] is not a string", i);
    etl_limits_t lim;
    (void)etl_spec_limits(&cfg, im, &lim, err, sizeof(err));
    char *text = json_dumps(entry, JSON_COMPACT);
    FUZZ_CHECK(text != NULL, "entry does not serialize");
    free(text);
    json_decref(entry);
    return 0;
}
