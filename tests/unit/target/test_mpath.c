/*
 * test_mpath.c - unit tests for src/target/mpath.c and resilver.c on temp mountpaths under /tmp:
 * mountpaths.json overrides the configuration's list, attach/detach/disable/enable with the
 * resilver putting every object on its HRW mountpath (content and version kept), the statuses
 * of bad changes, and a write that commits after the set changed under it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "cluster/cluster.h"
#include "cluster/internal.h"
#include "cluster/meta.h"
#include "common/config.h"
#include "common/names.h"
#include "common/util.h"
#include "target/internal.h"
#include "target/target.h"

#define N_OBJS 120

static char root[] = "/tmp/locus-test-mpath-XXXXXX";
static config_t cfg;

static char *mp(int i)
{
    return xasprintf("%s/mp%d", root, i);
}

/* mountpaths.json names mp1 and mp3 (enabled) and mp2 (disabled); the config mp1 and mp2. */
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
    cfg.mountpaths[0] = mp(1);
    cfg.mountpaths[1] = mp(2);
    cfg.n_mountpaths = 2;
    mkdir_p(cfg.data_dir, 0755);
    char *f = xasprintf("%s/mountpaths.json", cfg.data_dir);
    char *text = xasprintf("{\"version\":4,\"available\":[\"%s/mp3\",\"%s/mp1/\"],"
                           "\"disabled\":[\"%s/mp2\"],\"resilvered\":true}",
                           root, root, root);
    write_file_atomic(f, text, strlen(text));
    free(f);
    free(text);
    char err[512] = "";
    if (cluster_init(&cfg, err, sizeof(err)) < 0 || target_init(err, sizeof(err)) < 0) {
        fprintf(stderr, "setup: %s\n", err);
        return -1;
    }
    mdoc_t *d = md_new(MD_BMD, "U1"); /* bucket b: the resilver walks known buckets only */
    d->version = 1;
    json_object_set_new(d->items, "b", json_pack("{s:s}", "bid", "b"));
    meta_write_lock();
    meta_install_md(d);
    meta_write_unlock();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    target_shutdown();
    remove_tree(root);
    return 0;
}

static void put(const char *obj, const char *data)
{
    obj_writer_t w;
    char err[512];
    assert_int_equal(store_writer_open(&w, "b", obj, err, sizeof(err)), 0);
    assert_int_equal(store_writer_write(&w, data, strlen(data)), 0);
    assert_int_equal(store_writer_commit(&w, NULL, err, sizeof(err)), 0);
}

/* Waits for the newest resilver to end. */
static void wait_resilver(void)
{
    char id[16], err[256];
    bool running = true;
    for (int i = 0; i < 1000 && running; i++) {
        assert_true(resilver_last(id, sizeof(id), &running, err, sizeof(err)));
        if (running)
            sleep_ms(10);
    }
    assert_false(running);
    assert_string_equal(err, "");
}

/* Every object o<i> is one file, on its HRW mountpath of the current set, with its content and
 * version 2. */
static void check_objects(void)
{
    mpset_t *s = mpath_get();
    for (int i = 0; i < N_OBJS; i++) {
        char name[32], want[64];
        snprintf(name, sizeof(name), "d%d/o%d", i % 4, i);
        snprintf(want, sizeof(want), "content of %d, second version", i);
        const char *hrw = mpset_hrw(s, "b", name);
        for (size_t k = 0; k < 5; k++) {
            char *m = mp((int)k + 1);
            char *fqn = fqn_make(m, "b", name);
            struct stat st;
            assert_int_equal(lstat(fqn, &st) == 0, strcmp(m, hrw) == 0);
            free(fqn);
            free(m);
        }
        int fd;
        lom_md_t md;
        assert_int_equal(store_open("b", name, &fd, &md), 0);
        char buf[64] = "";
        assert_int_equal(pread(fd, buf, sizeof(buf), 0), (ssize_t)strlen(want));
        assert_string_equal(buf, want);
        assert_int_equal(md.version, 2);
        lom_md_dispose(&md);
        close(fd);
    }
    mpath_put(s);
}

static void test_state_file_overrides_config(void **state)
{
    (void)state;
    mpset_t *s = mpath_get();
    assert_int_equal(s->version, 4);
    assert_int_equal(s->n_en, 2);
    char *m1 = mp(1), *m2 = mp(2), *m3 = mp(3);
    assert_string_equal(s->en[0], m1); /* sorted, trailing '/' dropped */
    assert_string_equal(s->en[1], m3);
    assert_int_equal(s->n_dis, 1);
    assert_string_equal(s->dis[0], m2);
    assert_int_equal(s->n_det, 0);
    assert_true(mpath_settled());
    mpath_put(s);
    free(m1);
    free(m2);
    free(m3);
}

static int act(const char *method, const char *action, const char *path, bool dont)
{
    char id[16], err[768];
    int st = mpath_act(method, action, path, dont, id, sizeof(id), err, sizeof(err));
    if (st == 200 && id[0])
        wait_resilver();
    return st;
}

static void test_changes_resilver(void **state)
{
    (void)state;
    char *m1 = mp(1), *m2 = mp(2), *m4 = mp(4);
    for (int i = 0; i < N_OBJS; i++) {
        char name[32], data[64];
        snprintf(name, sizeof(name), "d%d/o%d", i % 4, i);
        snprintf(data, sizeof(data), "content of %d", i);
        put(name, data);
        snprintf(data, sizeof(data), "content of %d, second version", i);
        put(name, data);
    }
    check_objects();
    assert_int_equal(act("PUT", "attach-mp", m4, false), 200);
    check_objects();
    assert_int_equal(act("POST", "enable-mp", m2, false), 200);
    check_objects();
    assert_int_equal(act("DELETE", "detach-mp", m1, false), 200);
    mpset_t *s = mpath_get();
    assert_int_equal(mpset_count(s), 3); /* mp2, mp3, mp4 */
    mpath_put(s);
    check_objects();
    assert_int_equal(act("POST", "disable-mp", m4, false), 200);
    check_objects();
    assert_int_equal(act("POST", "enable-mp", m4, false), 200);
    check_objects();
    /* persisted */
    char *f = xasprintf("%s/mountpaths.json", cfg.data_dir);
    json_t *j = json_load_file(f, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_array_size(json_object_get(j, "available")), 3);
    assert_true(json_is_true(json_object_get(j, "resilvered")));
    json_decref(j);
    free(f);
    free(m1);
    free(m2);
    free(m4);
}

static void test_bad_changes(void **state)
{
    (void)state;
    char *m2 = mp(2), *m3 = mp(3);
    char *inner = xasprintf("%s/inner", m2);
    char *file = xasprintf("%s/a-file", root);
    char *under = xasprintf("%s/sub", file);
    write_file_atomic(file, "x", 1);
    assert_int_equal(act("PUT", "attach-mp", "relative/path", false), 400);
    assert_int_equal(act("PUT", "attach-mp", "/a/../b", false), 400);
    assert_int_equal(act("PUT", "attach-mp", "/", false), 400);
    assert_int_equal(act("PUT", "attach-mp", m2, false), 409);
    assert_int_equal(act("PUT", "attach-mp", inner, false), 400);
    assert_int_equal(act("PUT", "attach-mp", root, false), 400);
    assert_int_equal(act("PUT", "attach-mp", under, false), 400);
    assert_int_equal(act("PUT", "attach-mp", file, false), 400);
    assert_int_equal(act("PUT", "detach-mp", m2, false), 400);
    assert_int_equal(act("DELETE", "detach-mp", "/nowhere/mp", false), 404);
    assert_int_equal(act("POST", "disable-mp", NULL, false), 400);
    assert_int_equal(act("POST", "flip-mp", m2, false), 400);
    /* down to one enabled mountpath, which stays */
    mpset_t *s = mpath_get();
    size_t n = s->n_en;
    char *en[8];
    for (size_t i = 0; i < n; i++)
        en[i] = xstrdup(s->en[i]);
    mpath_put(s);
    for (size_t i = 1; i < n; i++)
        assert_int_equal(act("POST", "disable-mp", en[i], false), 200);
    assert_int_equal(act("POST", "disable-mp", en[0], false), 409);
    assert_int_equal(act("DELETE", "detach-mp", en[0], false), 409);
    for (size_t i = 1; i < n; i++) {
        assert_int_equal(act("POST", "enable-mp", en[i], false), 200);
        free(en[i]);
    }
    free(en[0]);
    check_objects();
    free(m2);
    free(m3);
    free(inner);
    free(file);
    free(under);
}

/* A writer opened before a change commits to the object's HRW mountpath of the new set. */
static void test_write_across_a_change(void **state)
{
    (void)state;
    char *m5 = mp(5);
    char name[32] = "";
    obj_writer_t w;
    char err[512];
    /* a name whose HRW mountpath becomes mp5 */
    assert_int_equal(act("PUT", "attach-mp", m5, false), 200);
    mpset_t *s = mpath_get();
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof(name), "late-%d", i);
        if (strcmp(mpset_hrw(s, "b", name), m5) == 0)
            break;
    }
    mpath_put(s);
    assert_int_equal(act("DELETE", "detach-mp", m5, true), 200); /* no objects on it yet */
    assert_int_equal(store_writer_open(&w, "b", name, err, sizeof(err)), 0);
    assert_null(strstr(w.fqn, m5));
    assert_int_equal(store_writer_write(&w, "late", 4), 0);
    assert_int_equal(act("PUT", "attach-mp", m5, false), 200);
    assert_int_equal(store_writer_commit(&w, NULL, err, sizeof(err)), 0);
    char *fqn = fqn_make(m5, "b", name);
    struct stat st;
    assert_int_equal(lstat(fqn, &st), 0);
    assert_int_equal(st.st_size, 4);
    free(fqn);
    free(m5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_file_overrides_config),
        cmocka_unit_test(test_changes_resilver),
        cmocka_unit_test(test_bad_changes),
        cmocka_unit_test(test_write_across_a_change),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
