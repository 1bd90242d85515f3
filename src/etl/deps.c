/*
 * deps.c - the packages an ETL says it needs (AIStore's init_class os_packages= and
 * dependencies=, sent as the env variables OS_PACKAGES and PACKAGES, comma-separated) must be
 * installed on this node already: AIStore installs them in a throw-away container at start, a
 * Locus node runs the server on its own system and never installs anything. Checked before the
 * server starts (dpkg-query for Debian packages, importlib.metadata of etl_python for Python
 * distributions); a missing one fails the init with its name (docs/etl.md).
 */
#include "cluster/cluster.h"
#include "common/util.h"
#include "etl/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define DEPS_MAX 64

/* The value of env variable name in the init message (runtime.env, then env: the later wins,
 * as etl_build_env). NULL when unset. */
static const char *spec_env(json_t *im, const char *name)
{
    const char *v = NULL;
    json_t *lists[] = {json_object_get(json_object_get(im, "runtime"), "env"),
                       json_object_get(im, "env")};
    for (size_t l = 0; l < 2; l++) {
        size_t i;
        json_t *e;
        json_array_foreach(lists[l], i, e)
        {
            const char *k = json_string_value(json_object_get(e, "name"));
            if (k && strcmp(k, name) == 0)
                v = json_string_value(json_object_get(e, "value"));
        }
    }
    return v;
}

/* Splits a comma/space separated list into names (at most DEPS_MAX, strdup'd), a Python
 * requirement cut at its version ("numpy>=1.2" -> "numpy"). -1 with err naming a bad one. */
static int split_names(const char *list, bool python, char **out, size_t *n, char *err,
                       size_t errlen)
{
    *n = 0;
    const char *ok = python ? "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"
                            : "abcdefghijklmnopqrstuvwxyz0123456789+.-";
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ", \t\n");
        if (len > 0) {
            size_t name_len = python ? strcspn(p, "<>=!~[;@ ,\t\n") : len;
            if (name_len > len)
                name_len = len;
            char *name = xstrndup(p, name_len);
            if (name_len == 0 || name_len > 128 || strspn(name, ok) != name_len || name[0] == '-' ||
                *n == DEPS_MAX) {
                snprintf(err, errlen, "%s: invalid package name \"%.128s\"",
                         python ? "PACKAGES" : "OS_PACKAGES", name);
                free(name);
                return -1;
            }
            out[(*n)++] = name;
        }
        p += len;
        if (*p)
            p++;
    }
    return 0;
}

/* Runs argv with stdout into a buffer (stderr discarded). 0, or -1 when it cannot run. */
static int run_capture(char *const *argv, buf_t *out)
{
    int po[2];
    if (pipe2(po, O_CLOEXEC) != 0)
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, po[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(po[1]);
    if (rc != 0) {
        close(po[0]);
        return -1;
    }
    char b[4096];
    ssize_t n;
    while ((n = read(po[0], b, sizeof(b))) > 0 || (n < 0 && errno == EINTR))
        if (n > 0 && out->len < (1 << 20))
            buf_append(out, b, (size_t)n);
    close(po[0]);
    int wst;
    while (waitpid(pid, &wst, 0) < 0 && errno == EINTR)
        ;
    return 0;
}

/* Appends to missing the names of n that are not installed. -1 when the check cannot run. */
static int find_missing(char **names, size_t n, bool python, buf_t *missing)
{
    const char *py = "import importlib.metadata as m, sys\n"
                     "for n in sys.argv[1:]:\n"
                     "    try:\n"
                     "        m.distribution(n)\n"
                     "        print(n)\n"
                     "    except Exception:\n"
                     "        pass\n";
    char **argv = xcalloc(n + 8, sizeof(char *));
    size_t a = 0;
    if (python) {
        const char *interp = cluster_config()->etl_python;
        argv[a++] = (char *)(interp && interp[0] ? interp : "python3");
        argv[a++] = (char *)"-c";
        argv[a++] = (char *)py;
    } else {
        argv[a++] = (char *)"dpkg-query";
        argv[a++] = (char *)"-W";
        argv[a++] = (char *)"-f";
        argv[a++] = (char *)"${Package} ${db:Status-Status}\\n";
    }
    for (size_t i = 0; i < n; i++)
        argv[a++] = names[i];
    buf_t out;
    buf_init(&out);
    int rc = run_capture(argv, &out);
    free(argv);
    /* each installed one prints a line "<name>" (python) or "<name> installed" (dpkg) */
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char *want = python ? xasprintf("%s\n", names[i]) : xasprintf("%s installed\n", names[i]);
        bool found = false;
        for (const char *p = out.base; p && !found && (p = strstr(p, want)) != NULL; p++)
            found = p == out.base || p[-1] == '\n';
        free(want);
        if (!found)
            buf_printf(missing, "%s%s", missing->len ? ", " : "", names[i]);
    }
    buf_dispose(&out);
    return rc;
}

int etl_check_packages(const etl_inst_t *e, char *err, size_t errlen)
{
    json_t *im = json_object_get(e->entry, "init_msg");
    static const char *const vars[] = {"OS_PACKAGES", "PACKAGES"};
    for (size_t v = 0; v < 2; v++) {
        const char *list = spec_env(im, vars[v]);
        if (list == NULL || list[0] == '\0')
            continue;
        char *names[DEPS_MAX];
        size_t n;
        int rc = split_names(list, v == 1, names, &n, err, errlen);
        buf_t missing;
        buf_init(&missing);
        if (rc == 0 && n > 0 && find_missing(names, n, v == 1, &missing) != 0) {
            snprintf(err, errlen, "%s: cannot check the packages (%s does not run)", vars[v],
                     v == 1 ? "etl_python" : "dpkg-query");
            rc = -1;
        } else if (rc == 0 && missing.len > 0) {
            snprintf(err, errlen,
                     "%s: not installed on %s: %.600s (Locus never installs packages at run "
                     "time: install them on every target node%s)",
                     vars[v], cluster_self_name(), missing.base,
                     v == 1 ? " for etl_python" : ", e.g. apt-get install");
            rc = -1;
        }
        buf_dispose(&missing);
        for (size_t i = 0; i < n; i++)
            free(names[i]);
        if (rc != 0)
            return -1;
    }
    return 0;
}
