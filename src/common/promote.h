/*
 * promote.h - AIStore's PromoteArgs (the value of the "promote" action message): which local
 * file or directory of a target's host becomes objects, and how. Parsed and checked the same way
 * by the proxy (before it forwards) and by the targets (which promote).
 */
#ifndef LOCUS_COMMON_PROMOTE_H
#define LOCUS_COMMON_PROMOTE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define PROMOTE_SRC_MAX 4096 /* bytes of the source path */

typedef struct {
    char *src;   /* "src" (or the message's "name"): an absolute path, no "." or ".." elements */
    char *obj;   /* "obj": the object name (a file) or name prefix (a directory); "" = none */
    char *tid;   /* "tid": the one target that promotes; "" = every target */
    bool recurs; /* "rcr": into subdirectories */
    bool ovw;    /* "ovw": overwrite existing objects */
    bool dls;    /* "dls": delete each source file once promoted */
    bool notshr; /* "notshr": the source is not one file share seen by every target */
} promote_args_t;

/* Parses an ActMsg {"action":"promote","name":SRC,"value":{PromoteArgs}} (msg, borrowed; the
 * action is not checked here). 0, or -1 with err (a 400). a is initialized either way; dispose
 * it. */
int promote_args_parse(json_t *msg, promote_args_t *a, char *err, size_t errlen);
void promote_args_dispose(promote_args_t *a);
/* The object name of file fqn promoted from directory dir ("" when the source is that file) with
 * prefix (AIStore's naming): a file source is named prefix, or prefix + its base name when prefix
 * is empty or ends with '/'; a file under a directory source is prefix + its path relative to
 * dir. Caller frees. */
char *promote_obj_name(const char *fqn, const char *dir, const char *prefix);

#endif
