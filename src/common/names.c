/*
 * names.c - bucket and object name checks, unames and FQNs (see names.h).
 *
 * Bucket names follow AIStore's cmn.Bck.ValidateName + cos.CheckAlphaPlus, made slightly
 * stricter: no leading '.' (AIStore rejects only "." itself), so a bucket directory can
 * never be hidden or be confused with "." and "..".
 */
#include "common/names.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>

#define NAME_MAX_SEGMENT 255

const char *name_check_bucket(const char *name)
{
    if (name == NULL || name[0] == '\0')
        return "bucket name is missing";
    size_t n = strlen(name);
    if (n > NAME_MAX_BUCKET)
        return "bucket name is too long (max 64 characters)";
    if (name[0] == '.')
        return "bucket name must not start with '.'";
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_')
            continue;
        if (c != '.')
            return "bucket name may only contain letters, numbers, '-', '_' and '.'";
        if (name[i + 1] == '.')
            return "bucket name must not contain \"..\"";
    }
    return NULL;
}

const char *name_check_object(const char *name, size_t n)
{
    if (name == NULL || n == 0)
        return "object name is missing";
    if (n > NAME_MAX_OBJECT)
        return "object name is too long (max 1024 bytes)";
    if (memchr(name, '\0', n) != NULL)
        return "object name contains a NUL byte";
    /* Control characters would end up in response headers (Ais-Name) and log lines. */
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return "object name contains a control character";
    if (!utf8_valid(name, n))
        return "object name is not valid UTF-8";
    if (name[0] == '/')
        return "object name must not start with '/'";
    /* Walk the '/'-separated segments; the end of the name closes the last one. */
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && name[i] != '/')
            continue;
        size_t len = i - start;
        const char *seg = name + start;
        if (len == 0)
            return "object name contains an empty path segment";
        if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
            return "object name contains a \".\" or \"..\" path segment";
        if (len > NAME_MAX_SEGMENT)
            return "object name contains a path segment longer than 255 bytes";
        start = i + 1;
    }
    return NULL;
}

const char *name_check(const char *bck, const char *obj)
{
    const char *why = name_check_bucket(bck);
    return why ? why : name_check_object(obj, obj ? strlen(obj) : 0);
}

char *uname_make(const char *bck, const char *obj)
{
    return xasprintf("ais/@#/%s/%s", bck, obj);
}

int uname_parse(const char *uname, char **bck, char **obj)
{
    const char *rest;
    if (str_has_prefix(uname, "ais/@#/"))
        rest = uname + strlen("ais/@#/");
    else if (str_has_prefix(uname, "ais://"))
        rest = uname + strlen("ais://");
    else
        return -1; /* other providers and non-global namespaces are not supported */
    const char *slash = strchr(rest, '/');
    size_t blen = slash ? (size_t)(slash - rest) : strlen(rest);
    char *b = xstrndup(rest, blen);
    if (name_check_bucket(b) != NULL) {
        free(b);
        return -1;
    }
    *bck = b;
    *obj = xstrdup(slash ? slash + 1 : "");
    return 0;
}

/* Length of mpath without trailing slashes ("/" stays "" so that "/" + "/@ais" works). */
static size_t mpath_len(const char *mpath)
{
    size_t n = strlen(mpath);
    while (n > 0 && mpath[n - 1] == '/')
        n--;
    return n;
}

char *fqn_make(const char *mpath, const char *bck, const char *obj)
{
    return xasprintf("%.*s/@ais/%s/%%ob/%s", (int)mpath_len(mpath), mpath, bck, obj);
}

char *fqn_objdir(const char *mpath, const char *bck)
{
    return xasprintf("%.*s/@ais/%s/%%ob", (int)mpath_len(mpath), mpath, bck);
}

char *fqn_workdir(const char *mpath, const char *bck)
{
    return xasprintf("%.*s/@ais/%s/%%wk", (int)mpath_len(mpath), mpath, bck);
}

char *fqn_bckdir(const char *mpath, const char *bck)
{
    return xasprintf("%.*s/@ais/%s", (int)mpath_len(mpath), mpath, bck);
}

int fqn_parse(const char *fqn, const char *const *mpaths, size_t n_mpaths, int *mpath_idx,
              char **bck, char **obj)
{
    /* Longest matching mountpath wins, should one mountpath be nested in another. */
    int best = -1;
    size_t best_len = 0;
    for (size_t i = 0; i < n_mpaths; i++) {
        size_t ml = mpath_len(mpaths[i]);
        if (strncmp(fqn, mpaths[i], ml) != 0 || !str_has_prefix(fqn + ml, "/@ais/"))
            continue;
        if (best < 0 || ml > best_len) {
            best = (int)i;
            best_len = ml;
        }
    }
    if (best < 0)
        return -1;
    const char *b = fqn + best_len + strlen("/@ais/");
    const char *slash = strchr(b, '/');
    if (slash == NULL || !str_has_prefix(slash, "/%ob/"))
        return -1;
    const char *o = slash + strlen("/%ob/");
    char *bname = xstrndup(b, (size_t)(slash - b));
    if (name_check_bucket(bname) != NULL || name_check_object(o, strlen(o)) != NULL) {
        free(bname);
        return -1;
    }
    if (mpath_idx)
        *mpath_idx = best;
    if (obj)
        *obj = xstrdup(o);
    if (bck)
        *bck = bname;
    else
        free(bname);
    return 0;
}
