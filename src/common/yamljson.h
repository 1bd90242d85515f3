/*
 * yamljson.h - YAML (through libyaml) to jansson values, for the ETL spec files of the client
 * and the Kubernetes Pod specs the proxy and targets read (docs/protocol.md §2.2). The input is
 * untrusted: nesting, values produced (alias expansion) and key shapes are bounded, duplicate
 * and merge keys are refused.
 */
#ifndef LOCUS_COMMON_YAMLJSON_H
#define LOCUS_COMMON_YAMLJSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Bounds against alias bombs (`&a [*a, *a, ...]` nested): depth and total values produced. */
#define YAMLJSON_MAX_DEPTH 64
#define YAMLJSON_MAX_VALUES 100000

/* Whether the scalars at path ("runtime.env[].value", "metadata.annotations.x") are strings in
 * the caller's schema; any other plain scalar is typed like YAML 1.2's core schema. */
typedef bool (*yamljson_string_path_fn)(const char *path);

/* Converts every document of a YAML stream (empty documents skipped) into *docs, a new JSON
 * array. With mapping_only a document that is not a mapping is an error naming what ("document
 * 2: <what> must be a mapping"). Every document is converted before any is returned. 0, or -1
 * with err set ("line L, column C: ..."). */
int yamljson_load(const char *text, size_t len, yamljson_string_path_fn strpath,
                  const char *mapping_what, json_t **docs, char *err, size_t errlen);

#endif
