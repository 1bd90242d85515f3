/*
 * limits.c - the resource limits of an ETL from its init message's `resources` (AIStore's field:
 * a Kubernetes ResourceRequirements, {"requests": {...}, "limits": {"memory": "512Mi", ...}}).
 *
 * Locus runs ETL processes without containers, so only what a process limit can express is
 * enforced (etl/sandbox.c): limits.memory (the address space of each process), and two keys of
 * our own, limits["locus/open-files"] and limits["locus/processes"]. cpu and every other resource
 * are checked for form and otherwise ignored, so specs written for AIStore keep working.
 */
#include "etlspec/etlspec.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* Kubernetes quantity suffixes and their multipliers. */
static const struct {
    const char *suffix;
    long double mult;
} suffixes[] = {
    {"Ki", 1024.0L},
    {"Mi", 1048576.0L},
    {"Gi", 1073741824.0L},
    {"Ti", 1099511627776.0L},
    {"Pi", 1125899906842624.0L},
    {"Ei", 1152921504606846976.0L},
    {"m", 1e-3L},
    {"k", 1e3L},
    {"M", 1e6L},
    {"G", 1e9L},
    {"T", 1e12L},
    {"P", 1e15L},
    {"E", 1e18L},
    {"", 1.0L},
};

/* A Kubernetes quantity ("512Mi", "1.5G", "500m", "1e9", "2") into *v. 0 or -1 when malformed. */
static int quantity_text(const char *s, long double *v)
{
    const char *p = s;
    long double m = 0;
    int digits = 0;
    for (; isdigit((unsigned char)*p); p++, digits++)
        m = m * 10 + (*p - '0');
    if (*p == '.') {
        long double scale = 0.1L;
        for (p++; isdigit((unsigned char)*p); p++, digits++, scale /= 10)
            m += (*p - '0') * scale;
    }
    if (digits == 0 || digits > 30)
        return -1;
    if ((*p == 'e' || *p == 'E') && p[1] != '\0' && p[1] != 'i') { /* "1e9"; "Ei" below */
        int sign = 1, ex = 0, n = 0;
        p++;
        if (*p == '-' || *p == '+')
            sign = *p++ == '-' ? -1 : 1;
        for (; isdigit((unsigned char)*p) && n < 3; p++, n++)
            ex = ex * 10 + (*p - '0');
        if (n == 0 || *p != '\0' || ex > 30)
            return -1;
        for (; ex > 0; ex--)
            m = sign > 0 ? m * 10 : m / 10;
        *v = m;
        return 0;
    }
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        if (strcmp(p, suffixes[i].suffix) == 0) {
            *v = m * suffixes[i].mult;
            return 0;
        }
    }
    return -1;
}

/* A quantity given as a JSON string or number. 0, or -1 when malformed or negative. */
static int quantity(json_t *j, long double *v)
{
    if (json_is_string(j))
        return quantity_text(json_string_value(j), v);
    if (json_is_number(j) && json_number_value(j) >= 0) {
        *v = (long double)json_number_value(j);
        return 0;
    }
    return -1;
}

/* One limit that must be a whole number in [min, max]: into *out when present. 0 or 400. */
static int limit_value(json_t *limits, const char *key, const char *unit, long double min,
                       long double max, int64_t *out, const char *etl, char *err, size_t errlen)
{
    json_t *j = json_object_get(limits, key);
    if (j == NULL || json_is_null(j))
        return 0;
    long double v;
    if (quantity(j, &v) != 0) {
        snprintf(
            err, errlen,
            "ETL \"%s\": resources.limits.%s is not a quantity (e.g. \"512Mi\", \"2Gi\", 1024)",
            etl, key);
        return 400;
    }
    if (v < min || v > max) {
        snprintf(err, errlen, "ETL \"%s\": resources.limits.%s must be %.0Lf..%.0Lf %s", etl, key,
                 min, max, unit);
        return 400;
    }
    *out = (int64_t)v;
    if ((long double)*out < v) /* round a fraction up: "0.5Ki" is 512 */
        (*out)++;
    return 0;
}

/* Every value of requests/limits must at least be a quantity (cpu: "500m"). 0 or 400. */
static int check_list(json_t *list, const char *which, const char *etl, char *err, size_t errlen)
{
    if (list == NULL || json_is_null(list))
        return 0;
    if (!json_is_object(list)) {
        snprintf(err, errlen, "ETL \"%s\": resources.%s must be an object", etl, which);
        return 400;
    }
    const char *k;
    json_t *v;
    long double q;
    json_object_foreach(list, k, v)
    {
        if (quantity(v, &q) != 0) {
            snprintf(err, errlen, "ETL \"%s\": resources.%s.%s is not a quantity", etl, which, k);
            return 400;
        }
    }
    return 0;
}

int etl_spec_limits(const config_t *cfg, json_t *init_msg, etl_limits_t *lim, char *err,
                    size_t errlen)
{
    const char *etl = json_string_value(json_object_get(init_msg, "name"));
    if (etl == NULL)
        etl = "?";
    lim->memory = cfg->etl_default_memory;
    lim->open_files = ETL_DEFAULT_OPEN_FILES;
    lim->processes = ETL_DEFAULT_PROCESSES;
    json_t *res = json_object_get(init_msg, "resources");
    if (res == NULL || json_is_null(res))
        return 0;
    if (!json_is_object(res)) {
        snprintf(err, errlen, "ETL \"%s\": resources must be an object ({\"limits\": {...}})", etl);
        return 400;
    }
    json_t *limits = json_object_get(res, "limits");
    if (check_list(json_object_get(res, "requests"), "requests", etl, err, errlen) != 0 ||
        check_list(limits, "limits", etl, err, errlen) != 0)
        return 400;
    /* 16 MiB: below that not even a shell starts; the caps keep the values in rlim_t. */
    if (limit_value(limits, "memory", "bytes", 16.0L * 1048576, 1099511627776.0L * 1024,
                    &lim->memory, etl, err, errlen) != 0 ||
        limit_value(limits, ETL_LIMIT_OPEN_FILES, "files", 16, 1 << 24, &lim->open_files, etl, err,
                    errlen) != 0 ||
        limit_value(limits, ETL_LIMIT_PROCESSES, "processes", 1, 1 << 22, &lim->processes, etl, err,
                    errlen) != 0)
        return 400;
    return 0;
}

void etl_size_str(int64_t bytes, char *out, size_t outlen)
{
    static const char units[][4] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    size_t u = 0;
    while (u + 1 < sizeof(units) / sizeof(units[0]) && bytes >= 1024 && bytes % 1024 == 0) {
        bytes /= 1024;
        u++;
    }
    snprintf(out, outlen, "%lld%s", (long long)bytes, units[u]);
}
