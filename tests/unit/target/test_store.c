/*
 * test_store.c - unit tests for src/target/store.c on two temp mountpaths under /tmp: atomic
 * commits through work files (nothing visible before the rename, metadata and checksum set on
 * commit, versions counted), aborts, name clashes, deletes with directory pruning, walks and
 * listing across mountpaths, local copies, start-up cleanup of stale work files and trash,
 * directories removed behind the store's back, concurrent PUTs into new directories, unique
 * work-file names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <xxhash.h>

#include "cluster/cluster.h"
#include "common/config.h"
#include "common/names.h"
#include "common/util.h"
#include "target/internal.h"

static char root[] = "/tmp/locus-test-store-XXXXXX";
static config_t cfg;

/* A target configuration with two mountpaths (one given with a trailing '/', which store_init
 * strips), then the cluster state and the store, as target.c starts them. */
static int setup(void **state)
{
    (void)state;
    if (mkdtemp(root) == NULL)
        return -1;
    config_init(&cfg);
    cfg.role = ROLE_TARGET;
    cfg.id = xstrdup("t1");
    cfg.port = 1;
    cfg.public_url = xstrdup("http://127.0.0.1:1");
    cfg.primary_url = xstrdup("http://127.0.0.1:2");
    cfg.data_dir = xasprintf("%s/data", root);
    cfg.mountpaths[0] = xasprintf("%s/mp1", root);
    cfg.mountpaths[1] = xasprintf("%s/mp2//", root);
    cfg.n_mountpaths = 2;
    char err[512] = "";
    if (cluster_init(&cfg, err, sizeof(err)) < 0 || store_init(err, sizeof(err)) < 0) {
        fprintf(stderr, "setup: %s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    remove_tree(root);
    return 0;
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Number of entries (besides . and ..) in dir, -1 when it does not exist. */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static const char *mpath_of(const char *fqn)
{
    return strncmp(fqn, cfg.mountpaths[0], strlen(cfg.mountpaths[0])) == 0 ? cfg.mountpaths[0]
                                                                           : cfg.mountpaths[1];
}

/* Writes data as bck/obj; returns the commit status. */
static int put(const char *bck, const char *obj, const char *data, json_t *custom)
{
    obj_writer_t w;
    char err[512];
    assert_int_equal(store_writer_open(&w, bck, obj, err, sizeof(err)), 0);
    assert_int_equal(store_writer_write(&w, data, strlen(data)), 0);
    return store_writer_commit(&w, custom, err, sizeof(err));
}

/* The content of bck/obj (caller frees) with its metadata, or NULL with the store_open error. */
static char *get(const char *bck, const char *obj, lom_md_t *md, int *rc)
{
    int fd = -1;
    *rc = store_open(bck, obj, &fd, md);
    if (*rc < 0)
        return NULL;
    char *s = xcalloc(1, (size_t)md->size + 1);
    assert_int_equal(pread(fd, s, (size_t)md->size, 0), md->size);
    close(fd);
    return s;
}

static void test_config(void **state)
{
    (void)state;
    /* store_init trims trailing slashes in place and creates the mountpaths. */
    assert_string_equal(cfg.mountpaths[1] + strlen(root), "/mp2");
    assert_true(exists(cfg.mountpaths[0]));
    assert_true(exists(cfg.mountpaths[1]));
    char *fqn = store_fqn("b", "dir/obj");
    char *want = fqn_make(mpath_of(fqn), "b", "dir/obj");
    assert_string_equal(fqn, want);
    assert_non_null(strstr(fqn, "/@ais/b/%ob/dir/obj"));
    free(fqn);
    free(want);
}

/* A commit, an overwrite (named and unnamed work files) and an empty object in bucket bck. */
static void commit_in(const char *bck)
{
    const char *data = "hello, store";
    obj_writer_t w;
    char err[512];
    assert_int_equal(store_writer_open(&w, bck, "a/b/obj", err, sizeof(err)), 0);
    /* The work file lives under %wk of the object's mountpath: unnamed (O_TMPFILE) where the
     * filesystem allows, else named <16-char id>.<pid>. */
    char *fqn = store_fqn(bck, "a/b/obj");
    char *wd = fqn_workdir(mpath_of(fqn), bck);
    assert_string_equal(w.wd, wd);
    bool unnamed = w.work == NULL;
    assert_true(unnamed == store_tmpfile_enabled());
    assert_int_equal(count_entries(wd), unnamed ? 0 : 1);
    assert_int_equal(store_writer_name(&w), 0); /* what a rename-based commit does first */
    assert_memory_equal(w.work, wd, strlen(wd));
    const char *base = w.work + strlen(wd) + 1;
    char suffix[32];
    snprintf(suffix, sizeof(suffix), ".%d", (int)getpid());
    assert_int_equal(strlen(base), 16 + strlen(suffix));
    assert_string_equal(base + 16, suffix);
    assert_true(exists(w.work));
    assert_int_equal(count_entries(wd), 1);
    char *work = xstrdup(w.work);

    /* Written but not committed: the object does not exist anywhere yet. */
    assert_int_equal(store_writer_write(&w, data, 5), 0);
    assert_int_equal(store_writer_write(&w, data + 5, strlen(data) - 5), 0);
    assert_int_equal(w.written, (int64_t)strlen(data));
    lom_md_t md;
    int rc;
    assert_null(get(bck, "a/b/obj", &md, &rc));
    assert_int_equal(rc, -ENOENT);
    assert_false(exists(fqn));

    json_t *custom = json_pack("{s:s}", "etag", "e1");
    assert_int_equal(store_writer_commit(&w, custom, err, sizeof(err)), 0);
    json_decref(custom);
    assert_int_equal(w.fd, -1); /* disposed */
    assert_false(exists(work));
    assert_int_equal(count_entries(wd), 0);

    char *got = get(bck, "a/b/obj", &md, &rc);
    assert_non_null(got);
    assert_string_equal(got, data);
    assert_int_equal(md.size, (int64_t)strlen(data));
    assert_string_equal(md.cs_type, "xxhash");
    char cs[32];
    snprintf(cs, sizeof(cs), "%016llx", (unsigned long long)XXH64(data, strlen(data), 0));
    assert_string_equal(md.cs_val, cs);
    assert_int_equal(md.version, 1);
    assert_true(md.atime_ns > 0);
    assert_non_null(md.custom);
    assert_string_equal(json_string_value(json_object_get(md.custom, "etag")), "e1");
    lom_md_dispose(&md);
    free(got);

    /* A new version is committed over the old one; until then the old one is what reads see. */
    assert_int_equal(store_writer_open(&w, bck, "a/b/obj", err, sizeof(err)), 0);
    assert_int_equal(store_writer_write(&w, "v2", 2), 0);
    got = get(bck, "a/b/obj", &md, &rc);
    assert_string_equal(got, data);
    lom_md_dispose(&md);
    free(got);
    assert_int_equal(store_writer_commit(&w, NULL, err, sizeof(err)), 0);
    got = get(bck, "a/b/obj", &md, &rc);
    assert_string_equal(got, "v2");
    assert_int_equal(md.version, 2);
    assert_null(md.custom);
    lom_md_dispose(&md);
    free(got);
    assert_int_equal(count_entries(wd), 0);

    /* An unnamed work file over an existing object: its link finds the name taken, and the
     * commit counts on from the previous version like the named one. */
    assert_int_equal(store_writer_open(&w, bck, "a/b/obj", err, sizeof(err)), 0);
    assert_int_equal(store_writer_write(&w, "v3", 2), 0);
    assert_int_equal(store_writer_commit(&w, NULL, err, sizeof(err)), 0);
    got = get(bck, "a/b/obj", &md, &rc);
    assert_string_equal(got, "v3");
    assert_int_equal(md.version, 3);
    lom_md_dispose(&md);
    free(got);
    assert_int_equal(count_entries(wd), 0);

    /* An empty object is an object. */
    assert_int_equal(put(bck, "empty", "", NULL), 0);
    got = get(bck, "empty", &md, &rc);
    assert_string_equal(got, "");
    assert_int_equal(md.size, 0);
    assert_string_equal(md.cs_val, "ef46db3751d8e999"); /* XXH64 of nothing */
    lom_md_dispose(&md);
    free(got);
    free(work);
    free(wd);
    free(fqn);
}

static void test_commit(void **state)
{
    (void)state;
    commit_in("bc");
}

/* The same with named work files only, as on a filesystem without O_TMPFILE. */
static void test_commit_named(void **state)
{
    (void)state;
    store_tmpfile_enable(false);
    assert_false(store_tmpfile_enabled());
    commit_in("bn");
    store_tmpfile_enable(true);
}

/* The mountpath probe keeps unnamed work files where the filesystem makes and links them, and
 * turns them off for good where it cannot; writes go on with named ones. */
static void test_tmpfile_probe(void **state)
{
    (void)state;
    store_tmpfile_enable(true);
    bool here = store_tmpfile_enabled(); /* /proc/self/fd exists */
    store_tmpfile_probe(cfg.mountpaths[0]);
    assert_true(store_tmpfile_enabled() == here);
    char *gone = xasprintf("%s/no-such-dir", root);
    store_tmpfile_probe(gone);
    assert_false(store_tmpfile_enabled());
    assert_int_equal(put("bp", "o", "named", NULL), 0);
    lom_md_t md;
    int rc;
    char *got = get("bp", "o", &md, &rc);
    assert_string_equal(got, "named");
    assert_int_equal(md.version, 1);
    lom_md_dispose(&md);
    free(got);
    free(gone);
    store_tmpfile_enable(true);
}

static void test_abort(void **state)
{
    (void)state;
    obj_writer_t w;
    char err[512];
    /* as opened (unnamed where the filesystem allows), and after it got its name */
    for (int named = 0; named < 2; named++) {
        assert_int_equal(store_writer_open(&w, "ba", "obj", err, sizeof(err)), 0);
        assert_int_equal(store_writer_write(&w, "partial", 7), 0);
        if (named)
            assert_int_equal(store_writer_name(&w), 0);
        char *wd = xstrdup(w.wd);
        char *work = w.work ? xstrdup(w.work) : NULL;
        store_writer_abort(&w);
        if (work)
            assert_false(exists(work));
        assert_int_equal(count_entries(wd), 0);
        assert_int_equal(w.fd, -1);
        store_writer_abort(&w); /* idempotent on a disposed writer */
        lom_md_t md;
        int rc;
        assert_null(get("ba", "obj", &md, &rc));
        assert_int_equal(rc, -ENOENT);
        free(work);
        free(wd);
    }
}

/* A name "<base><i>" such that it and "<base><i>/<sub>" live on the same mountpath (with more
 * than one mountpath, HRW places each name independently). */
static char *same_mpath_pair(const char *bck, const char *base, const char *sub, char **child)
{
    for (int i = 0;; i++) {
        char *parent = xasprintf("%s%d", base, i);
        *child = xasprintf("%s/%s", parent, sub);
        char *a = store_fqn(bck, parent), *b = store_fqn(bck, *child);
        bool same = mpath_of(a) == mpath_of(b);
        free(a);
        free(b);
        if (same)
            return parent;
        free(parent);
        free(*child);
    }
}

static void test_clash(void **state)
{
    (void)state;
    char err[512] = "";
    char *dx, *d = same_mpath_pair("bx", "d", "x", &dx);
    assert_int_equal(put("bx", dx, "x", NULL), 0);
    /* d is a directory (prefix of d/x): committing an object named d is a 409 ... */
    obj_writer_t w;
    assert_int_equal(store_writer_open(&w, "bx", d, err, sizeof(err)), 0);
    char *wd = xstrdup(w.wd);
    assert_int_equal(store_writer_write(&w, "d", 1), 0);
    assert_int_equal(store_writer_commit(&w, NULL, err, sizeof(err)), 409);
    char *want = xasprintf("ais://bx/%s ", d);
    assert_non_null(strstr(err, want));
    assert_int_equal(count_entries(wd), 0); /* the work file went with it */
    /* ... and so is an object below an existing object. */
    char *fy, *f = same_mpath_pair("bx", "f", "y", &fy);
    assert_int_equal(put("bx", f, "f", NULL), 0);
    assert_int_equal(put("bx", fy, "y", NULL), 409);
    /* A directory is not an object for reads and deletes either. */
    lom_md_t md;
    int rc;
    assert_null(get("bx", d, &md, &rc));
    assert_int_equal(rc, -ENOENT);
    assert_int_equal(store_delete("bx", d), -ENOENT);
    char *got = get("bx", dx, &md, &rc);
    assert_string_equal(got, "x");
    lom_md_dispose(&md);
    free(got);
    free(want);
    free(wd);
    free(d);
    free(dx);
    free(f);
    free(fy);
}

static void test_delete(void **state)
{
    (void)state;
    assert_int_equal(store_delete("bd", "nope"), -ENOENT);
    assert_int_equal(put("bd", "p/q/r", "r", NULL), 0);
    assert_int_equal(put("bd", "p/s", "s", NULL), 0);
    char *fqn = store_fqn("bd", "p/q/r");
    char *objdir = fqn_objdir(mpath_of(fqn), "bd");
    char *qdir = xasprintf("%s/p/q", objdir);
    assert_true(exists(qdir));
    assert_int_equal(store_delete("bd", "p/q/r"), 0);
    assert_false(exists(fqn));
    assert_false(exists(qdir));  /* emptied directories are pruned ... */
    assert_true(exists(objdir)); /* ... up to %ob, which stays */
    assert_int_equal(store_delete("bd", "p/q/r"), -ENOENT);
    assert_int_equal(store_delete("bd", "p/s"), 0);
    free(qdir);
    free(objdir);
    free(fqn);
}

/* An object file put there by something else has no metadata: read with what can be known. */
static void test_foreign_file(void **state)
{
    (void)state;
    char *fqn = store_fqn("bf", "foreign");
    char *objdir = fqn_objdir(mpath_of(fqn), "bf");
    assert_int_equal(mkdir_p(objdir, 0755), 0);
    assert_int_equal(write_file_atomic(fqn, "abc", 3), 0);
    free(objdir);
    lom_md_t md;
    int rc;
    char *got = get("bf", "foreign", &md, &rc);
    assert_string_equal(got, "abc");
    assert_int_equal(md.size, 3);
    assert_string_equal(md.cs_type, "none");
    assert_int_equal(md.version, 1);
    lom_md_dispose(&md);
    free(got);
    free(fqn);
}

typedef struct {
    char names[64][32];
    int n;
} names_t;

static int add_name(const char *name, const char *fqn, void *arg)
{
    names_t *ns = arg;
    assert_true(exists(fqn));
    snprintf(ns->names[ns->n++], sizeof(ns->names[0]), "%s", name);
    return 0;
}

static int stop_at_first(const char *name, const char *fqn, void *arg)
{
    ++*(int *)arg;
    return 1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_walk_and_list(void **state)
{
    (void)state;
    const char *objs[] = {"a1", "a2", "b/1", "b/2", "b/c/3", "c", "a3/x"};
    size_t n = sizeof(objs) / sizeof(objs[0]);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(put("bw", objs[i], objs[i], NULL), 0);
    /* A walk covers both mountpaths: HRW spreads 32 names over them (the mountpaths' names are
     * random, so a handful of names all land on one now and then; 32 do with p = 2^-31). */
    int on_mp[2] = {0, 0};
    for (int i = 0; i < 32; i++) {
        char nm[16];
        snprintf(nm, sizeof(nm), "s%02d", i);
        assert_int_equal(put("bw2", nm, nm, NULL), 0);
        char *fqn = store_fqn("bw2", nm);
        on_mp[mpath_of(fqn) == cfg.mountpaths[0] ? 0 : 1]++;
        free(fqn);
    }
    assert_true(on_mp[0] > 0 && on_mp[1] > 0);
    names_t ns = {.n = 0};
    store_walk("bw2", "", add_name, &ns);
    assert_int_equal(ns.n, 32);
    store_remove_bucket("bw2");

    ns.n = 0;
    store_walk("bw", "", add_name, &ns);
    assert_int_equal(ns.n, (int)n);
    ns.n = 0;
    store_walk("bw", "b/", add_name, &ns);
    qsort(ns.names, (size_t)ns.n, sizeof(ns.names[0]), cmp_str);
    assert_int_equal(ns.n, 3);
    assert_string_equal(ns.names[0], "b/1");
    assert_string_equal(ns.names[2], "b/c/3");
    ns.n = 0;
    store_walk("bw", "a", add_name, &ns); /* a prefix need not end at a '/' */
    assert_int_equal(ns.n, 3);
    ns.n = 0;
    store_walk("nobucket", "", add_name, &ns);
    assert_int_equal(ns.n, 0);
    int calls = 0;
    store_walk("bw", "", stop_at_first, &calls);
    assert_int_equal(calls, 1);

    /* Sorted pages: after a name, at most limit entries. */
    lso_page_t p;
    lso_page_init(&p);
    store_list("bw", "", NULL, 100, LSO_PROP_NAME, &p);
    assert_int_equal(p.n, n);
    assert_string_equal(p.entries[0].name, "a1");
    assert_string_equal(p.entries[2].name, "a3/x");
    assert_string_equal(p.entries[n - 1].name, "c");
    assert_null(p.entries[0].checksum);
    lso_page_dispose(&p);
    lso_page_init(&p);
    store_list("bw", "", "a3/x", 2, LSO_PROP_DEFAULT | LSO_PROP_VERSION, &p);
    assert_int_equal(p.n, 2);
    assert_string_equal(p.entries[0].name, "b/1");
    assert_string_equal(p.entries[1].name, "b/2");
    assert_int_equal(p.entries[0].size, 3);
    assert_int_equal(strlen(p.entries[0].checksum), 16);
    assert_string_equal(p.entries[0].version, "1");
    assert_non_null(p.entries[0].atime);
    lso_page_dispose(&p);

    store_remove_bucket("bw");
    ns.n = 0;
    store_walk("bw", "", add_name, &ns);
    assert_int_equal(ns.n, 0);
    for (size_t i = 0; i < cfg.n_mountpaths; i++) {
        char *bd = fqn_bckdir(cfg.mountpaths[i], "bw");
        assert_false(exists(bd));
        free(bd);
    }
}

static void test_copy_local(void **state)
{
    (void)state;
    assert_int_equal(put("bs", "src", "copy me", NULL), 0);
    char *src = store_fqn("bs", "src");
    char err[512];
    assert_int_equal(store_copy_local(src, 7, "bt", "dst", err, sizeof(err)), 0);
    assert_int_equal(store_copy_local(src, 7, "bt", "dst", err, sizeof(err)), 0);
    lom_md_t a, b;
    int rc;
    char *ga = get("bs", "src", &a, &rc);
    char *gb = get("bt", "dst", &b, &rc);
    assert_string_equal(gb, "copy me");
    assert_string_equal(a.cs_val, b.cs_val);
    assert_int_equal(b.version, 2);
    lom_md_dispose(&a);
    lom_md_dispose(&b);
    free(ga);
    free(gb);
    char *missing = xasprintf("%s/none", root);
    assert_int_equal(store_copy_local(missing, 0, "bt", "x", err, sizeof(err)), 404);
    assert_int_equal(count_entries(root), 3); /* data, mp1, mp2: nothing else */
    free(missing);
    free(src);
}

/* Leftover work files (a crash mid-PUT) and trash (a crash mid-bucket-removal) go at start. */
static void test_cleanup_work(void **state)
{
    (void)state;
    assert_int_equal(put("bk", "keep", "k", NULL), 0);
    obj_writer_t w;
    char err[512];
    assert_int_equal(store_writer_open(&w, "bk", "stale", err, sizeof(err)), 0);
    /* a named work file, as a process that died left it (an unnamed one dies with it) */
    assert_int_equal(store_writer_name(&w), 0);
    char *work = xstrdup(w.work);
    char *trash = xasprintf("%s/@ais/.trash-abc/x/%%ob", cfg.mountpaths[0]);
    assert_int_equal(mkdir_p(trash, 0755), 0);
    store_cleanup_work();
    assert_false(exists(work));
    assert_false(exists(trash));
    lom_md_t md;
    int rc;
    char *got = get("bk", "keep", &md, &rc);
    assert_string_equal(got, "k");
    lom_md_dispose(&md);
    free(got);
    /* The writer's file is gone: its commit fails cleanly. */
    assert_int_equal(store_writer_commit(&w, NULL, err, sizeof(err)), 500);
    free(trash);
    free(work);
}

#define N_THREADS 4
#define N_PUTS 10

/* Runs fn in N_THREADS threads (arg: the thread's index) and checks that each returned NULL. */
static void run_threads(void *(*fn)(void *))
{
    pthread_t th[N_THREADS];
    for (long i = 0; i < N_THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, fn, (void *)i), 0);
    for (int i = 0; i < N_THREADS; i++) {
        void *ret;
        pthread_join(th[i], &ret);
        assert_null(ret);
    }
}

/* put() for threads (no cmocka asserts): 0, or non-zero on any failure. */
static int try_put(const char *bck, const char *obj, const char *data)
{
    obj_writer_t w;
    char err[512];
    if (store_writer_open(&w, bck, obj, err, sizeof(err)) != 0)
        return -1;
    if (store_writer_write(&w, data, strlen(data)) != 0) {
        store_writer_abort(&w);
        return -1;
    }
    return store_writer_commit(&w, NULL, err, sizeof(err));
}

static void *put_many(void *arg)
{
    (void)arg;
    for (int i = 0; i < N_PUTS; i++)
        if (try_put("bv", "hot", "x") != 0)
            return (void *)1;
    return NULL;
}

/* Concurrent commits of one name each get their own version. */
static void test_concurrent_versions(void **state)
{
    (void)state;
    run_threads(put_many);
    lom_md_t md;
    int rc;
    char *got = get("bv", "hot", &md, &rc);
    assert_int_equal(md.version, N_THREADS * N_PUTS);
    lom_md_dispose(&md);
    free(got);
    char *fqn = store_fqn("bv", "hot");
    char *wd = fqn_workdir(mpath_of(fqn), "bv");
    assert_int_equal(count_entries(wd), 0);
    free(wd);
    free(fqn);
}

/* Directories removed behind the store's back (a delete pruning the last object's directory,
 * someone cleaning %wk, a destroyed bucket) are created again by the next PUT. */
static void test_dirs_removed(void **state)
{
    (void)state;
    assert_int_equal(put("br", "x/y/o1", "1", NULL), 0);
    assert_int_equal(store_delete("br", "x/y/o1"), 0); /* prunes x/y and x */
    assert_int_equal(put("br", "x/y/o1", "1", NULL), 0);
    for (size_t m = 0; m < cfg.n_mountpaths; m++) {
        char *objdir = fqn_objdir(cfg.mountpaths[m], "br");
        char *xdir = xasprintf("%s/x", objdir);
        char *wd = fqn_workdir(cfg.mountpaths[m], "br");
        assert_int_equal(remove_tree(xdir), 0);
        assert_int_equal(remove_tree(wd), 0);
        free(wd);
        free(xdir);
        free(objdir);
    }
    assert_int_equal(put("br", "x/y/o2", "2", NULL), 0);
    lom_md_t md;
    int rc;
    char *got = get("br", "x/y/o2", &md, &rc);
    assert_string_equal(got, "2");
    lom_md_dispose(&md);
    free(got);
    store_remove_bucket("br");
    assert_int_equal(put("br", "x/y/o3", "3", NULL), 0);
    got = get("br", "x/y/o3", &md, &rc);
    assert_string_equal(got, "3");
    lom_md_dispose(&md);
    free(got);
    assert_null(get("br", "x/y/o2", &md, &rc));
    store_remove_bucket("br");
}

#define N_NEW 25

/* Threads PUT distinct names into directories none of them exist yet, racing to create the
 * same directories (d<i> is shared by every thread). */
static void *put_new_dirs(void *arg)
{
    long t = (long)arg;
    for (int i = 0; i < N_NEW; i++) {
        char name[64], data[64];
        snprintf(name, sizeof(name), "d%d/e%d/t%ld-o%d", i, i % 3, t, i);
        snprintf(data, sizeof(data), "%ld-%d", t, i);
        if (try_put("bn", name, data) != 0)
            return (void *)1;
    }
    return NULL;
}

static void test_concurrent_new_dirs(void **state)
{
    (void)state;
    run_threads(put_new_dirs);
    for (long t = 0; t < N_THREADS; t++)
        for (int i = 0; i < N_NEW; i++) {
            char name[64], data[64];
            snprintf(name, sizeof(name), "d%d/e%d/t%ld-o%d", i, i % 3, t, i);
            snprintf(data, sizeof(data), "%ld-%d", t, i);
            lom_md_t md;
            int rc;
            char *got = get("bn", name, &md, &rc);
            assert_non_null(got);
            assert_string_equal(got, data);
            assert_int_equal(md.version, 1);
            lom_md_dispose(&md);
            free(got);
        }
    for (size_t m = 0; m < cfg.n_mountpaths; m++) {
        char *wd = fqn_workdir(cfg.mountpaths[m], "bn");
        assert_true(count_entries(wd) <= 0);
        free(wd);
    }
    store_remove_bucket("bn");
}

#define N_OPEN 50

static char *opened[N_THREADS][N_OPEN];

/* Keeps N_OPEN writers open at once and records their work files in opened[thread]. */
static void *open_many(void *arg)
{
    char **names = opened[(long)arg];
    obj_writer_t w[N_OPEN];
    char err[512];
    for (int i = 0; i < N_OPEN; i++) {
        if (store_writer_open(&w[i], "bu", "same", err, sizeof(err)) != 0 ||
            store_writer_name(&w[i]) != 0)
            return (void *)1;
        names[i] = xstrdup(w[i].work);
    }
    for (int i = 0; i < N_OPEN; i++)
        store_writer_abort(&w[i]);
    return NULL;
}

static int cmp_strp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Work files of concurrent writers of one name never share a path. */
static void test_work_names_unique(void **state)
{
    (void)state;
    run_threads(open_many);
    char *all[N_THREADS * N_OPEN];
    memcpy(all, opened, sizeof(all));
    qsort(all, N_THREADS * N_OPEN, sizeof(char *), cmp_strp);
    for (int i = 1; i < N_THREADS * N_OPEN; i++)
        assert_string_not_equal(all[i - 1], all[i]);
    for (int i = 0; i < N_THREADS * N_OPEN; i++) {
        assert_false(exists(all[i])); /* aborted */
        free(all[i]);
    }
}

/* Receives data as bck/obj with metadata md (as a rebalance does); the commit status. */
static int receive(const char *bck, const char *obj, const char *data, const lom_md_t *md,
                   bool *kept)
{
    obj_writer_t w;
    char err[512];
    assert_int_equal(store_writer_open(&w, bck, obj, err, sizeof(err)), 0);
    assert_int_equal(store_writer_write(&w, data, strlen(data)), 0);
    return store_writer_commit_received(&w, md, kept, err, sizeof(err));
}

/* An object moved here keeps its metadata; a damaged one is refused; a local copy written at
 * the same time or later wins; the sender's conditional delete only takes the copy it sent. */
static void test_received_and_delete_if(void **state)
{
    (void)state;
    lom_md_t sent, md;
    lom_md_init(&sent);
    sent.size = 5;
    snprintf(sent.cs_type, sizeof(sent.cs_type), "xxhash");
    snprintf(sent.cs_val, sizeof(sent.cs_val), "%016llx", (unsigned long long)XXH64("moved", 5, 0));
    sent.version = 7;
    sent.atime_ns = 1000;
    sent.custom = json_pack("{s:s}", "k", "v");
    bool kept = true;
    assert_int_equal(receive("br", "m", "moved", &sent, &kept), 0);
    assert_false(kept);
    int rc;
    char *got = get("br", "m", &md, &rc);
    assert_string_equal(got, "moved");
    free(got);
    assert_int_equal(md.version, 7);
    assert_int_equal(md.atime_ns, 1000);
    assert_string_equal(json_string_value(json_object_get(md.custom, "k")), "v");
    lom_md_dispose(&md);
    /* Damaged on the way (other bytes or size): nothing changes. */
    assert_int_equal(receive("br", "m", "MOVED", &sent, &kept), 400);
    assert_int_equal(receive("br", "m2", "moved!", &sent, &kept), 400);
    assert_int_equal(store_exists("br", "m2"), false);
    /* A local PUT (written now, so later than atime 1000) wins over an older copy. */
    assert_int_equal(put("br", "m", "local", NULL), 0);
    assert_int_equal(receive("br", "m", "moved", &sent, &kept), 0);
    assert_true(kept);
    got = get("br", "m", &md, &rc);
    assert_string_equal(got, "local");
    free(got);
    assert_int_equal(md.version, 8); /* the PUT counted on from the moved copy's version */
    /* The sender's delete: only the copy it sent. */
    assert_int_equal(store_delete_if("br", "m", &sent), -ESTALE);
    assert_true(store_exists("br", "m"));
    assert_int_equal(store_delete_if("br", "m", &md), 0);
    assert_false(store_exists("br", "m"));
    assert_int_equal(store_delete_if("br", "m", &md), -ENOENT);
    lom_md_dispose(&md);
    lom_md_dispose(&sent);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_commit),
        cmocka_unit_test(test_commit_named),
        cmocka_unit_test(test_tmpfile_probe),
        cmocka_unit_test(test_abort),
        cmocka_unit_test(test_clash),
        cmocka_unit_test(test_delete),
        cmocka_unit_test(test_foreign_file),
        cmocka_unit_test(test_walk_and_list),
        cmocka_unit_test(test_copy_local),
        cmocka_unit_test(test_cleanup_work),
        cmocka_unit_test(test_concurrent_versions),
        cmocka_unit_test(test_dirs_removed),
        cmocka_unit_test(test_concurrent_new_dirs),
        cmocka_unit_test(test_work_names_unique),
        cmocka_unit_test(test_received_and_delete_if),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
