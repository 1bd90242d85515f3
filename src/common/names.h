/*
 * names.h - bucket and object names, unames and FQNs (docs/design.md §5).
 *
 *   uname = "ais/@#/<bucket>/<object>"            (AIStore's cmn.Bck.MakeUname, provider ais,
 *                                                  global namespace)
 *   FQN   = "<mountpath>/@ais/<bucket>/%ob/<object>"
 *   work  = "<mountpath>/@ais/<bucket>/%wk/<unique>"
 *
 * Object names are untrusted: validate before touching the filesystem.
 */
#ifndef LOCUS_COMMON_NAMES_H
#define LOCUS_COMMON_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#define NAME_MAX_BUCKET 64
#define NAME_MAX_OBJECT 1024 /* bytes; also each path segment must be <= 255 bytes */

/* AIStore's rule: [A-Za-z0-9_.-], no leading '.', no "..", 1..64 chars.
 * Returns NULL when valid, else a static human-readable reason. */
const char *name_check_bucket(const char *name);
/* Object name: non-empty, <= NAME_MAX_OBJECT bytes, no NUL (n is the length), no control
 * character, well-formed UTF-8, not starting with '/', no "." or ".." segment, no empty segment
 * ("a//b"), no segment > 255 bytes. Returns NULL when valid, else a static reason. */
const char *name_check_object(const char *name, size_t n);
/* Both checks: the one gate every (bucket, object) pair passes before it becomes a path,
 * whatever its origin (HTTP, template, list, job message, metasync). NULL when valid. */
const char *name_check(const char *bck, const char *obj);

/* "ais/@#/<bck>/<obj>"; caller frees. */
char *uname_make(const char *bck, const char *obj);
/* Parses a uname (also "ais://bck/obj", "ais/@#/bck/" and "ais/@#/bck" with empty object).
 * On success *bck and *obj are new strings (caller frees), provider checked to be "ais".
 * Returns 0 or -1. */
int uname_parse(const char *uname, char **bck, char **obj);

/* "<mpath>/@ais/<bck>/%ob/<obj>"; caller frees. */
char *fqn_make(const char *mpath, const char *bck, const char *obj);
/* "<mpath>/@ais/<bck>/%ob" and "<mpath>/@ais/<bck>/%wk" and "<mpath>/@ais/<bck>"; caller frees. */
char *fqn_objdir(const char *mpath, const char *bck);
char *fqn_workdir(const char *mpath, const char *bck);
char *fqn_bckdir(const char *mpath, const char *bck);
/* Splits an FQN back into mountpath-relative parts given the list of mountpaths.
 * Returns 0 and new strings (caller frees) or -1 when fqn is not under any mountpath or is
 * not an object FQN (bucket or object name invalid). *mpath_idx receives the index of the
 * mountpath; the longest matching mountpath wins. Any of mpath_idx, bck, obj may be NULL. */
int fqn_parse(const char *fqn, const char *const *mpaths, size_t n_mpaths, int *mpath_idx,
              char **bck, char **obj);

#endif
