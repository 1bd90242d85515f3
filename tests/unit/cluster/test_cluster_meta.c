/*
 * test_cluster_meta.c - the cluster metadata without a cluster (src/cluster/meta.c and the
 * receiving side of src/cluster/metasync.c): snapshot reference counts across a new version,
 * state files round trip, the version order, what a node does with an older, newer or
 * foreign (other uuid) smap/BMD, and HRW owners of the smap against the vectors of
 * tests/unit/common/test_hrw.c. Each test loads the documents from its own temp dir.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cluster/internal.h"
#include "cluster/meta.h"
#include "cluster/metasync.h"
#include "common/util.h"

static char dir[64];

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/locus-test-meta-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    meta_load(dir, "p1");
    return 0;
}

static int teardown(void **state)
{
    remove_tree(dir);
    return 0;
}

/* An smap JSON text: primary p1 at http://p1, targets given by id at http://<id>. */
static json_t *smap_json(const char *uuid, int64_t version, const char *const *tids, size_t n)
{
    json_t *tmap = json_object();
    for (size_t i = 0; i < n; i++) {
        char *url = xasprintf("http://%s:1", tids[i]);
        json_object_set_new(tmap, tids[i], json_pack("{s:{s:s}}", "public_net", "direct_url", url));
        free(url);
    }
    char vers[32];
    snprintf(vers, sizeof(vers), "%lld", (long long)version);
    return json_pack("{s:o, s:{s:{s:{s:s}}}, s:{s:s}, s:s, s:s, s:s}", "tmap", tmap, "pmap", "p1",
                     "public_net", "direct_url", "http://p1:1", "proxy_si", "daemon_id", "p1",
                     "uuid", uuid, "version", vers, "creation_time", "2026-01-01T00:00:00Z");
}

/* Installs the smap of smap_json as the current one. */
static void install_smap_json(const char *uuid, int64_t version, const char *const *tids, size_t n)
{
    json_t *j = smap_json(uuid, version, tids, n);
    smap_t *s = smap_from_json(j);
    json_decref(j);
    assert_non_null(s);
    meta_write_lock();
    meta_install_smap(s);
    meta_write_unlock();
}

/* Installs a BMD with the given buckets (NULL-terminated) as the current one. */
static void install_bmd(const char *uuid, int64_t version, const char *const *buckets)
{
    mdoc_t *d = md_new(MD_BMD, uuid);
    d->version = version;
    for (; *buckets; buckets++)
        json_object_set_new(d->items, *buckets, json_pack("{s:s}", "bid", *buckets));
    meta_write_lock();
    meta_install_md(d);
    meta_write_unlock();
}

static void test_fresh(void **state)
{
    smap_t *s = smap_get();
    assert_int_equal(s->version, 0);
    assert_string_equal(s->primary_id, "p1");
    assert_int_equal(strlen(s->uuid), 12);
    assert_int_equal(s->n_proxies + s->n_targets, 0);
    assert_null(smap_owner(s, "b", "o"));
    for (int k = 0; k < MD_N; k++) {
        mdoc_t *d = md_get((md_kind_t)k);
        assert_int_equal(d->version, 0);
        assert_string_equal(d->uuid, s->uuid); /* a new cluster's documents share its uuid */
        assert_int_equal(json_object_size(d->items), 0);
        md_put(d);
    }
    smap_put(s);
    assert_string_equal(md_kind_name(MD_BMD), "bmd");
    assert_string_equal(md_kind_name(MD_ETL), "etlmd");
}

static void test_snapshot_survives_new_version(void **state)
{
    static const char *const t1[] = {"t1"};
    install_smap_json("U1", 3, t1, 1);
    smap_t *old = smap_get();
    assert_int_equal(old->refcnt, 2); /* current + ours */
    smap_t *again = smap_get();
    assert_ptr_equal(again, old);
    assert_int_equal(old->refcnt, 3);
    smap_put(again);

    meta_write_lock();
    smap_t *n = smap_clone(old);
    n->version++;
    meta_install_smap(n);
    meta_write_unlock();

    /* The old snapshot is no longer current but still whole until our put. */
    assert_int_equal(old->refcnt, 1);
    assert_int_equal(old->version, 3);
    assert_string_equal(old->uuid, "U1");
    assert_string_equal(smap_find(old, "t1")->url, "http://t1:1");
    smap_t *cur = smap_get();
    assert_ptr_not_equal(cur, old);
    assert_int_equal(cur->version, 4);
    assert_string_equal(smap_find(cur, "t1")->url, "http://t1:1");
    smap_put(cur);
    smap_put(old);

    static const char *const b1[] = {"b1", NULL};
    install_bmd("U1", 7, b1);
    bmd_t *ob = bmd_get();
    assert_int_equal(ob->refcnt, 2);
    static const char *const b2[] = {"b1", "b2", NULL};
    install_bmd("U1", 8, b2);
    assert_int_equal(ob->refcnt, 1);
    assert_non_null(bmd_bucket(ob, "b1"));
    assert_null(bmd_bucket(ob, "b2"));
    bmd_t *nb = bmd_get();
    assert_int_equal(nb->version, 8);
    assert_non_null(bmd_bucket(nb, "b2"));
    bmd_put(nb);
    bmd_put(ob);
}

static void check_loaded_equal(const char *text, const json_t *bmd_j)
{
    smap_t *s = smap_get();
    char *t = smap_to_text(s);
    smap_put(s);
    assert_string_equal(t, text);
    free(t);
    mdoc_t *d = md_get(MD_BMD);
    json_t *j = md_to_json(d);
    md_put(d);
    assert_true(json_equal(j, (json_t *)bmd_j));
    json_decref(j);
}

static void test_persist_round_trip(void **state)
{
    static const char *const tids[] = {"tB", "tA", "tC"};
    install_smap_json("U2", 12, tids, 3);
    static const char *const bs[] = {"x", "y", NULL};
    install_bmd("U2", 5, bs);
    mdoc_t *e = md_new(MD_ETL, "U2");
    e->version = 2;
    json_object_set_new(e->items, "etl1", json_pack("{s:s}", "comm_type", "hpush://"));
    meta_write_lock();
    meta_install_md(e);
    meta_write_unlock();

    smap_t *s = smap_get();
    assert_string_equal(s->targets[0].id, "tA"); /* sorted by id */
    char *text = smap_to_text(s);
    smap_put(s);
    mdoc_t *d = md_get(MD_BMD);
    json_t *bj = md_to_json(d);
    md_put(d);

    /* Every install was written to the state dir: loading it again gives the same. */
    meta_load(dir, "other");
    check_loaded_equal(text, bj);
    mdoc_t *le = md_get(MD_ETL);
    assert_int_equal(le->version, 2);
    assert_string_equal(le->uuid, "U2");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(le->items, "etl1"), "comm_type")),
        "hpush://");
    md_put(le);

    /* The same through the explicit save/load of another dir. */
    char dir2[64];
    snprintf(dir2, sizeof(dir2), "/tmp/locus-test-meta-XXXXXX");
    assert_non_null(mkdtemp(dir2));
    assert_null(smap_load(dir2));
    assert_null(md_load(dir2, MD_BMD));
    s = smap_get();
    assert_int_equal(smap_save(dir2, s), 0);
    smap_put(s);
    d = md_get(MD_BMD);
    assert_int_equal(md_save(dir2, d), 0);
    md_put(d);
    smap_t *ls = smap_load(dir2);
    char *lt = smap_to_text(ls);
    assert_string_equal(lt, text);
    free(lt);
    smap_put(ls);
    mdoc_t *ld = md_load(dir2, MD_BMD);
    json_t *lj = md_to_json(ld);
    assert_true(json_equal(lj, bj));
    json_decref(lj);
    md_put(ld);

    /* An unreadable file is ignored (a new document is made). */
    char *p = xasprintf("%s/smap.json", dir2);
    assert_int_equal(write_file_atomic(p, "{not json", 9), 0);
    free(p);
    assert_null(smap_load(dir2));
    remove_tree(dir2);
    json_decref(bj);
    free(text);
}

static void test_order(void **state)
{
    assert_int_equal(meta_order(5, "U", 4, "U"), META_OLDER);
    assert_int_equal(meta_order(5, "U", 5, "U"), META_SAME);
    assert_int_equal(meta_order(5, "U", 6, "U"), META_NEWER);
    assert_int_equal(meta_order(5, "U", 6, "V"), META_FOREIGN);
    assert_int_equal(meta_order(5, "U", 1, "V"), META_FOREIGN);
    assert_false(meta_order_installs(META_OLDER));
    assert_false(meta_order_installs(META_SAME));
    assert_true(meta_order_installs(META_NEWER));
    assert_true(meta_order_installs(META_FOREIGN));
}

/* A metasync body holding the given smap and BMD (either may be NULL; references stolen), as
 * received: through the text and the decoder metasync uses. */
static json_t *received_body(json_t *smap_j, json_t *bmd_j)
{
    json_t *body = json_object();
    if (smap_j)
        json_object_set_new(body, "smap", smap_j);
    if (bmd_j)
        json_object_set_new(body, "bmd", bmd_j);
    char *t = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    json_t *j = json_loads(t, JSON_DECODE_INT_AS_REAL, NULL);
    free(t);
    assert_non_null(j);
    return j;
}

/* Applies a metasync body holding the given smap and BMD (either may be NULL). */
static void apply(json_t *smap_j, json_t *bmd_j)
{
    json_t *j = received_body(smap_j, bmd_j);
    metasync_apply(j);
    json_decref(j);
}

static void check_smap(const char *uuid, int64_t version, const char *has)
{
    smap_t *s = smap_get();
    assert_string_equal(s->uuid, uuid);
    assert_int_equal(s->version, version);
    assert_non_null(smap_find(s, has));
    smap_put(s);
}

static int64_t n_changes, last_old, last_new;

static void on_bmd(const mdoc_t *old_doc, const mdoc_t *new_doc)
{
    n_changes++;
    last_old = old_doc->version;
    last_new = new_doc->version;
}

static json_t *bmd_json(const char *uuid, int64_t version, const char *bucket)
{
    char vers[32];
    snprintf(vers, sizeof(vers), "%lld", (long long)version);
    return json_pack("{s:s, s:s, s:{s:{}}}", "version", vers, "uuid", uuid, "buckets", bucket);
}

static void test_apply_older_newer_foreign(void **state)
{
    static const char *const cur_t[] = {"tCur"}, *const old_t[] = {"tOld"},
                             *const new_t[] = {"tNew"}, *const other_t[] = {"tOther"};
    install_smap_json("U", 10, cur_t, 1);
    static const char *const bs[] = {"cur", NULL};
    install_bmd("U", 10, bs);
    cluster_on_bmd_change(on_bmd);
    n_changes = 0;

    apply(smap_json("U", 9, old_t, 1), bmd_json("U", 9, "old")); /* older: ignored */
    check_smap("U", 10, "tCur");
    apply(smap_json("U", 10, old_t, 1), bmd_json("U", 10, "old")); /* same: ignored */
    check_smap("U", 10, "tCur");
    assert_int_equal(n_changes, 0);
    bmd_t *b = bmd_get();
    assert_non_null(bmd_bucket(b, "cur"));
    bmd_put(b);

    apply(smap_json("U", 11, new_t, 1), bmd_json("U", 11, "new")); /* newer: installed */
    check_smap("U", 11, "tNew");
    assert_int_equal(n_changes, 1);
    assert_int_equal(last_old, 10);
    assert_int_equal(last_new, 11);

    /* Foreign (another cluster's uuid): installed even with a lower version. */
    apply(smap_json("V", 2, other_t, 1), bmd_json("V", 2, "other"));
    check_smap("V", 2, "tOther");
    b = bmd_get();
    assert_string_equal(b->uuid, "V");
    assert_int_equal(b->version, 2);
    assert_non_null(bmd_bucket(b, "other"));
    bmd_put(b);
    assert_int_equal(n_changes, 2);

    /* Missing or malformed documents are skipped, the others still applied. */
    apply(NULL, bmd_json("V", 3, "only-bmd"));
    check_smap("V", 2, "tOther");
    apply(json_pack("{s:s}", "uuid", "V"), NULL); /* no tmap/pmap/proxy_si */
    check_smap("V", 2, "tOther");
    b = bmd_get();
    assert_int_equal(b->version, 3);
    bmd_put(b);
    /* The applied documents are the state files. */
    smap_t *ls = smap_load(dir);
    assert_string_equal(ls->uuid, "V");
    assert_int_equal(ls->version, 2);
    smap_put(ls);
}

/* A metasync push from sender holding the given smap and BMD (either may be NULL): the status. */
static int push(const char *sender, json_t *smap_j, json_t *bmd_j)
{
    json_t *j = received_body(smap_j, bmd_j);
    char err[512];
    int rc = metasync_receive(j, sender, err, sizeof(err));
    json_decref(j);
    return rc;
}

/* Pushes come only from this cluster's primary and with this cluster's uuid (issue 10, defect
 * 5: a forged push replaced the maps and ran an ETL command); a node that never joined learns
 * both from the push. */
static void test_receive_only_own_primary(void **state)
{
    static const char *const t1[] = {"t1"}, *const t2[] = {"t2"}, *const tx[] = {"tx"};
    /* Fresh (version 0): the primary is the one the pushed map names. */
    assert_int_equal(push("t9", smap_json("U", 5, t1, 1), bmd_json("U", 5, "b")), 403);
    assert_int_equal(push(NULL, smap_json("U", 5, t1, 1), NULL), 403);
    smap_t *s0 = smap_get();
    assert_int_equal(s0->version, 0); /* unchanged */
    smap_put(s0);
    assert_int_equal(push("p1", smap_json("U", 5, t1, 1), bmd_json("U", 5, "b")), 0);
    check_smap("U", 5, "t1");
    /* Joined: another node, another cluster, or a map naming another primary are refused. */
    assert_int_equal(push("t1", smap_json("U", 9, tx, 1), NULL), 403);
    assert_int_equal(push("p2", smap_json("U", 9, tx, 1), NULL), 403);
    assert_int_equal(push("p1", smap_json("V", 9, tx, 1), NULL), 409);
    assert_int_equal(push("p1", smap_json("U", 9, tx, 1), bmd_json("V", 9, "evil")), 409);
    json_t *other = smap_json("U", 9, tx, 1);
    json_object_set_new(other, "proxy_si", json_pack("{s:s}", "daemon_id", "p2"));
    assert_int_equal(push("p1", other, NULL), 403);
    check_smap("U", 5, "t1");
    bmd_t *b = bmd_get();
    assert_int_equal(b->version, 5);
    assert_null(bmd_bucket(b, "evil"));
    bmd_put(b);
    /* The primary's newer documents of this cluster are installed, older ones ignored. */
    assert_int_equal(push("p1", smap_json("U", 6, t2, 1), bmd_json("U", 6, "c")), 0);
    check_smap("U", 6, "t2");
    assert_int_equal(push("p1", smap_json("U", 4, t1, 1), NULL), 0);
    check_smap("U", 6, "t2");
    /* A join answer still installs another cluster's maps (the primary started over). */
    apply(smap_json("V", 1, tx, 1), NULL);
    check_smap("V", 1, "tx");
}

static void test_owner_vectors(void **state)
{
    /* Owners from tests/unit/common/test_hrw.c (index into the ids sorted, as the smap is). */
    static const char *const t3[] = {"tMnOpQr", "tAbCdEf", "tGhIjKl"};
    static const char *const t10[] = {"t9-xyzzy", "t0-x", "t1-xy", "t2-xyz", "t3-xyzz",
                                      "t4-xyzzy", "t5-x", "t6-xy", "t7-xyz", "t8-xyzz"};
    static const struct {
        const char *bck, *obj, *owner3, *owner10;
    } v[] = {
        {"bck", "obj", "tAbCdEf", "t9-xyzzy"},
        {"bck", "obj-0", "tMnOpQr", "t6-xy"},
        {"test-bck", "audio/raw/file.wav", "tGhIjKl", "t7-xyz"},
        {"b", ".audio_hidden.wav", "tMnOpQr", "t2-xyz"},
    };
    json_t *j3 = smap_json("U", 1, t3, 3), *j10 = smap_json("U", 1, t10, 10);
    smap_t *s3 = smap_from_json(j3), *s10 = smap_from_json(j10);
    json_decref(j3);
    json_decref(j10);
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        assert_string_equal(smap_owner(s3, v[i].bck, v[i].obj)->id, v[i].owner3);
        assert_string_equal(smap_owner(s10, v[i].bck, v[i].obj)->id, v[i].owner10);
    }
    assert_ptr_equal(smap_find(s3, "tAbCdEf"), &s3->targets[0]);
    assert_string_equal(smap_find(s3, "p1")->url, "http://p1:1");
    assert_true(smap_find(s3, "p1")->is_proxy);
    assert_null(smap_find(s3, "nope"));
    smap_put(s3);
    smap_put(s10);
}

/* Flags survive the JSON forms, and placement skips maintenance, decommission and DOWN targets
 * (docs/design.md §14) while smap_owner_skip can still name the owner among all of them. */
static void test_flags_and_placement(void **state)
{
    (void)state;
    static const char *const t3[] = {"tMnOpQr", "tAbCdEf", "tGhIjKl"};
    json_t *j = smap_json("U", 1, t3, 3);
    json_object_set_new(json_object_get(json_object_get(j, "tmap"), "tAbCdEf"), "flags",
                        json_integer(SNODE_MAINT));
    json_object_set_new(json_object_get(json_object_get(j, "tmap"), "tGhIjKl"), "flags",
                        json_real(4294967296.0)); /* out of range: ignored, not wrapped */
    smap_t *s = smap_from_json(j);
    json_decref(j);
    assert_int_equal(smap_find(s, "tAbCdEf")->flags, SNODE_MAINT);
    assert_int_equal(smap_find(s, "tGhIjKl")->flags, 0);
    assert_int_equal(smap_active_targets(s), 2);
    /* "bck/obj" belongs to tAbCdEf among all three (test_owner_vectors) */
    assert_string_equal(smap_owner_skip(s, "bck", "obj", 0)->id, "tAbCdEf");
    const snode_t *o = smap_owner(s, "bck", "obj");
    assert_non_null(o);
    assert_string_not_equal(o->id, "tAbCdEf");
    char *text = smap_to_text(s);
    assert_non_null(strstr(text, "\"flags\":4,"));
    json_t *back = json_loads(text, JSON_DECODE_INT_AS_REAL, NULL);
    smap_t *s2 = smap_from_json(back);
    json_decref(back);
    free(text);
    assert_int_equal(smap_find(s2, "tAbCdEf")->flags, SNODE_MAINT);
    /* Every target out of placement: no owner, but the skip-nothing owner is still known. */
    for (size_t i = 0; i < s2->n_targets; i++)
        s2->targets[i].flags = SNODE_DOWN;
    assert_null(smap_owner(s2, "bck", "obj"));
    assert_string_equal(smap_owner_skip(s2, "bck", "obj", SNODE_MAINT)->id, "tAbCdEf");
    smap_put(s);
    smap_put(s2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fresh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_survives_new_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_persist_round_trip, setup, teardown),
        cmocka_unit_test(test_order),
        cmocka_unit_test_setup_teardown(test_apply_older_newer_foreign, setup, teardown),
        cmocka_unit_test_setup_teardown(test_receive_only_own_primary, setup, teardown),
        cmocka_unit_test(test_owner_vectors),
        cmocka_unit_test(test_flags_and_placement),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
