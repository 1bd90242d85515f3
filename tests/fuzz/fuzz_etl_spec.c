/*
 * fuzz_etl_spec.c - ETL specs: the spec file of `locus etl init -f` (YAML through libyaml, or
 * JSON; src/client/etl_spec.c locus_etl_spec_parse) and the init message a proxy validates into
 * an EtlMD entry (src/etlspec/spec.c etl_spec_parse), which also receives raw JSON from any
 * client (PUT /v1/etl).
 *
 * The input goes both ways: through locus_etl_spec_parse, each message it returns into
 * etl_spec_parse; and as a JSON body straight into etl_spec_parse. Properties: every message
 * of the spec parser is a JSON object; a rejected spec has an error message and no entry; an
 * accepted one is an entry with comm, positive timeouts and a non-empty command of strings.
 */
#include "fuzz.h"

#include <jansson.h>

#include "common/config.h"
#include "etlspec/etlspec.h"
#include "locus/client.h"

static config_t cfg;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    config_init(&cfg);
    char err[256];
    /* One mapped image besides the built-in table, so both branches of the lookup run. */
    if (config_load_json(&cfg, "{\"etl_images\": {\"fuzz/img\": [\"fuzz-etl\", \"${PORT}\"]}}", err,
                         sizeof(err)) != 0) {
        fprintf(stderr, "config: %s\n", err);
        abort();
    }
    return 0;
}

static void check_entry(json_t *msg)
{
    json_t *entry = NULL;
    char err[1024] = "";
    int rc = etl_spec_parse(&cfg, msg, &entry, err, sizeof(err));
    if (rc != 0) {
        /* 403: a command the node does not allow (etl_allow_commands) */
        FUZZ_CHECK((rc == 400 || (rc == 403 && !cfg.etl_allow_commands)) && entry == NULL &&
                       err[0] != '\0',
                   "rc %d, entry %p, err \"%s\"", rc, (void *)entry, err);
        return;
    }
    FUZZ_CHECK(json_is_object(entry), "entry is not an object");
    FUZZ_CHECK(json_is_string(json_object_get(entry, "comm")), "entry without comm");
    FUZZ_CHECK(json_integer_value(json_object_get(entry, "obj_timeout_ns")) > 0 &&
                   json_integer_value(json_object_get(entry, "init_timeout_ns")) > 0,
               "timeouts not positive");
    json_t *cmd = json_object_get(entry, "command");
    FUZZ_CHECK(json_is_array(cmd) && json_array_size(cmd) > 0, "entry without a command");
    for (size_t i = 0; i < json_array_size(cmd); i++)
        FUZZ_CHECK(json_is_string(json_array_get(cmd, i)), "command[%zu] is not a string", i);
    (void)etl_wants_unix_socket(&cfg, entry);
    char *text = json_dumps(entry, JSON_COMPACT);
    FUZZ_CHECK(text != NULL, "entry does not serialize");
    free(text);
    json_decref(entry);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char **msgs = NULL;
    size_t n = 0;
    char err[LOCUS_ERR_LEN] = "";
    /* Both node policies: commands allowed for inputs of odd length, refused (403) otherwise. */
    cfg.etl_allow_commands = size & 1;
    int rc = locus_etl_spec_parse((const char *)data, size, &msgs, &n, err);
    if (rc == 0) {
        FUZZ_CHECK(n >= 1 && msgs != NULL, "accepted with %zu messages", n);
        for (size_t i = 0; i < n; i++) {
            json_error_t je;
            json_t *m = json_loads(msgs[i], 0, &je);
            FUZZ_CHECK(json_is_object(m), "message %zu is not a JSON object: %s", i, msgs[i]);
            check_entry(m);
            json_decref(m);
        }
        locus_strv_free(msgs, n);
    } else {
        FUZZ_CHECK(msgs == NULL && n == 0 && err[0] != '\0', "failed (%d) without a message", rc);
    }
    json_t *body = json_loadb((const char *)data, size, 0, NULL);
    if (body != NULL) {
        check_entry(body);
        json_decref(body);
    }
    return 0;
}
