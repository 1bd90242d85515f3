/*
 * fuzz_etl_pipeline.c - the `etl_pipeline` query value of an inline GET or object copy
 * ("b,c": the ETLs after the first one, src/etl/pipeline.c), straight from a client.
 *
 * The input is the value (any bytes, NULs included). Properties: on success there are 1..max
 * names, each a valid ETL name (AIStore's rule, checked here independently: 6-32 of [a-z0-9-],
 * alphanumeric at both ends), their count is the number of commas + 1, and joining them with ','
 * gives the input with the spaces around names removed; on failure err says why.
 */
#include "fuzz.h"

#include "etl/etl.h"

static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 6 || n > 32)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && (c != '-' || i == 0 || i == n - 1))
            return false;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char names[4][ETL_NAME_BUF];
    size_t n = 99;
    char err[256] = "";
    const char *s = (const char *)data;
    int rc = etl_pipeline_split(s, size, names, 4, &n, err, sizeof(err));
    if (rc != 0) {
        FUZZ_CHECK(err[0] != '\0', "failure without a message");
        return 0;
    }
    FUZZ_CHECK(n >= 1 && n <= 4, "n = %zu", n);
    size_t commas = 0;
    for (size_t i = 0; i < size; i++)
        commas += data[i] == ',';
    FUZZ_CHECK(n == commas + 1, "%zu names for %zu commas", n, commas);
    char joined[4 * ETL_NAME_BUF + 4] = "";
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(name_ok(names[i]), "invalid name accepted: \"%s\"", names[i]);
        if (i)
            strcat(joined, ",");
        strcat(joined, names[i]);
    }
    char *stripped = malloc(size + 1);
    size_t k = 0;
    for (size_t i = 0; i < size; i++)
        if (data[i] != ' ')
            stripped[k++] = (char)data[i];
    stripped[k] = '\0';
    FUZZ_CHECK(strcmp(stripped, joined) == 0, "\"%s\" != \"%s\"", stripped, joined);
    free(stripped);
    return 0;
}
