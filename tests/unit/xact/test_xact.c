/*
 * test_xact.c - unit tests for src/xact/xact.c: the job registry (create, find, references,
 * gc), errors and end states (finished, aborted), the snapshot JSON AIStore's SDK reads, and
 * counter updates from many threads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/util.h"
#include "xact/xact.h"

/* Objects received for a job before its start message arrived count once it registers. */
static void test_in_before_start(void **state)
{
    (void)state;
    xact_add_in("gone-1", 5, 5);
    for (int i = 0; i < 100; i++) { /* more unknown jobs than the table holds: the oldest go */
        char id[32];
        snprintf(id, sizeof(id), "noise-%d", i);
        xact_add_in(id, 1, 1);
    }
    xact_add_in("early-1", 1, 1000);
    xact_add_in("early-1", 1, 1001);
    xact_add_in("early-2", 1, 7);
    xact_t *g = xact_create("gone-1", "etl-bck", "s", "d");
    assert_int_equal(g->in_objs, 0); /* evicted */
    xact_finish(g);
    xact_put(g);
    xact_t *x = xact_create("early-2", "etl-bck", "s", "d");
    assert_int_equal(x->in_objs, 1);
    assert_int_equal(x->in_bytes, 7);
    xact_add_in("early-2", 2, 10); /* registered: counted at once */
    assert_int_equal(x->in_objs, 3);
    assert_int_equal(x->in_bytes, 17);
    xact_t *y = xact_create("early-1", "etl-bck", "s", "d");
    assert_int_equal(y->in_objs, 2);
    assert_int_equal(y->in_bytes, 2001);
    xact_finish(x);
    xact_finish(y);
    xact_put(x);
    xact_put(y);
}

static void test_registry(void **state)
{
    (void)state;
    assert_null(xact_find("reg-1"));
    int64_t before = time_now_ns();
    xact_t *x = xact_create("reg-1", "copy-bck", "src", "dst");
    assert_non_null(x);
    assert_string_equal(x->id, "reg-1");
    assert_string_equal(x->kind, "copy-bck");
    assert_string_equal(x->src_bck, "src");
    assert_string_equal(x->dst_bck, "dst");
    assert_true(x->start_ns >= before && x->start_ns <= time_now_ns());
    assert_int_equal(x->end_ns, 0);
    assert_false(x->abort);
    assert_false(x->aborted);
    assert_int_equal(x->refcnt, 2); /* registry + caller */

    /* Creating an existing id returns that job, referenced. */
    xact_t *again = xact_create("reg-1", "other-kind", "s2", NULL);
    assert_ptr_equal(again, x);
    assert_string_equal(again->kind, "copy-bck");
    assert_int_equal(x->refcnt, 3);
    xact_put(again);

    xact_t *f = xact_find("reg-1");
    assert_ptr_equal(f, x);
    assert_int_equal(x->refcnt, 3);
    xact_put(f);
    assert_null(xact_find("reg-"));
    assert_null(xact_find("reg-10"));

    /* NULL buckets are empty strings; long values are cut, not overflowed. */
    char longid[200];
    memset(longid, 'i', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    xact_t *y = xact_create(longid, "evict-listrange-with-a-very-long-kind", NULL, NULL);
    assert_string_equal(y->src_bck, "");
    assert_string_equal(y->dst_bck, "");
    assert_int_equal(strlen(y->id), sizeof(y->id) - 1);
    assert_int_equal(strlen(y->kind), sizeof(y->kind) - 1);
    xact_finish(y);
    xact_put(y);
    xact_finish(x);
    xact_put(x);
}

static void test_end_states(void **state)
{
    (void)state;
    /* Finished normally. */
    xact_t *ok = xact_create("end-ok", "k", "b", NULL);
    xact_finish(ok);
    assert_true(ok->end_ns > 0);
    assert_false(ok->aborted);

    /* Abort requested: finishing marks it aborted. */
    xact_t *ab = xact_create("end-abort", "k", "b", NULL);
    ab->abort = true;
    assert_false(ab->aborted);
    xact_finish(ab);
    assert_true(ab->aborted);

    /* A non-fatal error is recorded (the first one only) without aborting. */
    xact_t *er = xact_create("end-err", "k", "b", NULL);
    xact_set_err(er, "first", false);
    xact_set_err(er, "second", false);
    assert_string_equal(er->err, "first");
    assert_false(er->abort);
    xact_finish(er);
    assert_false(er->aborted);

    /* A fatal error aborts at once (requests the abort and marks the end state). */
    xact_t *fe = xact_create("end-fatal", "k", "b", NULL);
    xact_set_err(fe, "disk on fire", true);
    assert_true(fe->abort);
    assert_true(fe->aborted);
    assert_string_equal(fe->err, "disk on fire");
    xact_finish(fe);
    assert_true(fe->aborted);

    xact_put(ok);
    xact_put(ab);
    xact_put(er);
    xact_put(fe);
}

static const char *str(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    assert_true(json_is_string(v));
    return json_string_value(v);
}

static void check_bck(json_t *b, const char *name)
{
    assert_true(json_is_object(b));
    assert_string_equal(str(b, "name"), name);
    assert_string_equal(str(b, "provider"), "ais");
    json_t *ns = json_object_get(b, "namespace");
    assert_string_equal(str(ns, "uuid"), "");
    assert_string_equal(str(ns, "name"), "");
}

/* The shape of AIStore's core.Snap as the SDK reads it: dashed keys, numbers in "stats" as
 * decimal strings, zero time while running. */
static void test_snapshot(void **state)
{
    (void)state;
    xact_t *x = xact_create("snap-1", "copy-bck", "src", NULL);
    x->loc_objs = 3;
    x->loc_bytes = 3000;
    x->out_objs = 2;
    x->out_bytes = 1 << 30;
    x->in_objs = 1;
    x->in_bytes = 5000000000LL;
    json_t *j = xact_snap(x, "t1");
    assert_string_equal(str(j, "id"), "snap-1");
    assert_string_equal(str(j, "kind"), "copy-bck");
    assert_string_equal(str(j, "node"), "t1");
    assert_string_equal(str(j, "glob.id"), "0");
    assert_string_equal(str(j, "end-time"), "0001-01-01T00:00:00Z");
    const char *st = str(j, "start-time");
    assert_int_equal(strlen(st), strlen("2026-01-01T00:00:00.000000000Z"));
    assert_int_equal(st[strlen(st) - 1], 'Z');
    check_bck(json_object_get(j, "bck"), "src");
    check_bck(json_object_get(j, "src-bck"), "src");
    check_bck(json_object_get(j, "dst-bck"), "src"); /* no destination: the source */
    json_t *stats = json_object_get(j, "stats");
    assert_string_equal(str(stats, "loc-objs"), "3");
    assert_string_equal(str(stats, "loc-bytes"), "3000");
    assert_string_equal(str(stats, "out-objs"), "2");
    assert_string_equal(str(stats, "out-bytes"), "1073741824");
    assert_string_equal(str(stats, "in-objs"), "1");
    assert_string_equal(str(stats, "in-bytes"), "5000000000");
    assert_string_equal(str(stats, "errors"), "0");
    assert_int_equal(json_object_size(stats), 7);
    assert_true(json_is_false(json_object_get(j, "aborted")));
    assert_true(json_is_false(json_object_get(j, "is_idle")));
    assert_string_equal(str(j, "err"), "");
    assert_string_equal(str(j, "abort-err"), "");
    assert_int_equal(json_integer_value(json_object_get(j, "end_ns")), 0);
    assert_true(json_is_null(json_object_get(j, "ext"))); /* AIStore's Snap.Ext: null */
    assert_int_equal(json_object_size(j), 16);
    json_decref(j);

    /* AIStore's Snap.Packed: workers << 10 | mountpath joggers; the kind's own result */
    x->n_workers = 5;
    x->n_joggers = 2;
    xact_set_ext(x, json_pack("{s:i}", "n", 1));
    j = xact_snap(x, "t1");
    assert_string_equal(str(j, "glob.id"), "5122");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "ext"), "n")), 1);
    json_decref(j);

    /* Ended by a fatal error: the error is also the abort error. */
    xact_set_err(x, "out of space", true);
    xact_finish(x);
    j = xact_snap(x, "t1");
    assert_true(json_is_true(json_object_get(j, "aborted")));
    assert_true(json_is_true(json_object_get(j, "is_idle")));
    assert_string_equal(str(j, "err"), "out of space");
    assert_string_equal(str(j, "abort-err"), "out of space");
    assert_int_equal(json_integer_value(json_object_get(j, "end_ns")), x->end_ns);
    assert_string_not_equal(str(j, "end-time"), "0001-01-01T00:00:00Z");
    json_decref(j);
    xact_put(x);

    /* With a destination; a non-fatal error is not an abort error. */
    x = xact_create("snap-2", "etl-bck", "a", "b");
    xact_set_err(x, "one object failed", false);
    xact_finish(x);
    j = xact_snap(x, "t2");
    check_bck(json_object_get(j, "bck"), "a");
    check_bck(json_object_get(j, "dst-bck"), "b");
    assert_true(json_is_false(json_object_get(j, "aborted")));
    assert_string_equal(str(j, "err"), "one object failed");
    assert_string_equal(str(j, "abort-err"), "");
    json_decref(j);
    xact_put(x);
}

static void test_obj_errors(void **state)
{
    (void)state;
    xact_t *x = xact_create("oe-1", "k", "b", NULL);
    json_t *a = xact_obj_errors(x);
    assert_int_equal(json_array_size(a), 0);
    json_decref(a);
    xact_add_obj_error(x, "o1", "not found", 404);
    xact_add_obj_error(x, "o2", "boom", 500);
    assert_int_equal(x->errors, 2);
    a = xact_obj_errors(x);
    assert_int_equal(json_array_size(a), 2);
    json_t *e = json_array_get(a, 1);
    assert_string_equal(str(e, "obj_name"), "o2");
    assert_string_equal(str(e, "msg"), "boom");
    assert_int_equal(json_integer_value(json_object_get(e, "ecode")), 500);
    /* A copy: changing it does not change the job. */
    json_array_clear(a);
    json_decref(a);
    a = xact_obj_errors(x);
    assert_int_equal(json_array_size(a), 2);
    json_decref(a);
    /* The list is capped; the counter is not. */
    for (int i = 0; i < 10010; i++)
        xact_add_obj_error(x, "o", "e", 1);
    assert_int_equal(x->errors, 10012);
    a = xact_obj_errors(x);
    assert_int_equal(json_array_size(a), 10000);
    json_decref(a);
    json_t *j = xact_snap(x, "t");
    assert_string_equal(str(json_object_get(j, "stats"), "errors"), "10012");
    json_decref(j);
    xact_finish(x);
    xact_put(x);
}

static void test_gc(void **state)
{
    (void)state;
    xact_t *done = xact_create("gc-done", "k", "b", NULL);
    xact_t *run = xact_create("gc-run", "k", "b", NULL);
    xact_finish(done);
    xact_gc(3600LL * 1000000000LL); /* ended too recently */
    xact_t *f = xact_find("gc-done");
    assert_ptr_equal(f, done);
    xact_put(f);
    sleep_ms(2);
    xact_gc(1000000); /* 1 ms */
    assert_null(xact_find("gc-done"));
    /* The caller's reference stays valid after the registry dropped it. */
    assert_string_equal(done->id, "gc-done");
    assert_int_equal(done->refcnt, 1);
    xact_put(done);
    f = xact_find("gc-run"); /* running jobs are never collected */
    assert_ptr_equal(f, run);
    xact_put(f);
    /* An id can be reused once its job is gone. */
    xact_t *again = xact_create("gc-done", "k2", "b", NULL);
    assert_string_equal(again->kind, "k2");
    xact_finish(again);
    xact_put(again);
    xact_finish(run);
    xact_put(run);
}

static void test_new_id(void **state)
{
    (void)state;
    char a[16], b[16];
    xact_new_id(a, sizeof(a));
    xact_new_id(b, sizeof(b));
    assert_int_equal(strlen(a), 10);
    assert_int_equal(strspn(a, "abcdefghijklmnopqrstuvwxyz0123456789"), 10);
    assert_string_not_equal(a, b);
    char small[5];
    xact_new_id(small, sizeof(small));
    assert_int_equal(strlen(small), 4);
}

#define N_THREADS 8
#define N_ITERS 20000

static void *worker(void *arg)
{
    xact_t *x = arg;
    for (int i = 0; i < N_ITERS; i++) {
        x->loc_objs++;
        x->loc_bytes += 3;
        x->out_objs += 1;
        if (i % 1000 == 0) {
            xact_add_obj_error(x, "o", "e", 1);
            xact_set_err(x, "e", false);
            json_decref(xact_snap(x, "t"));
        }
    }
    /* Every thread also takes and drops references. */
    for (int i = 0; i < 100; i++) {
        xact_t *f = xact_find(x->id);
        xact_put(f);
    }
    return NULL;
}

static void test_concurrent_counters(void **state)
{
    (void)state;
    xact_t *x = xact_create("conc-1", "k", "b", NULL);
    pthread_t th[N_THREADS];
    for (int i = 0; i < N_THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, worker, x), 0);
    for (int i = 0; i < N_THREADS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(x->loc_objs, N_THREADS * N_ITERS);
    assert_int_equal(x->loc_bytes, 3LL * N_THREADS * N_ITERS);
    assert_int_equal(x->out_objs, N_THREADS * N_ITERS);
    int per_thread = (N_ITERS + 999) / 1000;
    assert_int_equal(x->errors, N_THREADS * per_thread);
    json_t *a = xact_obj_errors(x);
    assert_int_equal(json_array_size(a), (size_t)(N_THREADS * per_thread));
    json_decref(a);
    assert_int_equal(x->refcnt, 2);
    xact_finish(x);
    xact_put(x);
}

/* The filter of a listing: QueryMsg JSON (any key case) and query-parameter text, each input
 * checked. */
/* AIStore's display names (xact.Table) and what StartXaction may start. */
static void test_kind_names(void **state)
{
    (void)state;
    static const char *const pairs[][2] = {{"copy-bck", "copy-bucket"},
                                           {"etl-bck", "etl-bucket"},
                                           {"copy-listrange", "copy-objects"},
                                           {"etl-listrange", "etl-objects"},
                                           {"delete-listrange", "delete-objects"},
                                           {"make-n-copies", "mirror"},
                                           {"ec-encode", "ec-bucket"},
                                           {"summary-bck", "summary"},
                                           {"rebalance", "rebalance"}};
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        assert_string_equal(xact_display_name(pairs[i][0]), pairs[i][1]);
        assert_string_equal(xact_kind_of(pairs[i][0]), pairs[i][0]);
        assert_string_equal(xact_kind_of(pairs[i][1]), pairs[i][0]);
        assert_true(xact_kind_valid(pairs[i][0]));
    }
    assert_null(xact_kind_of("bogus"));
    assert_null(xact_kind_of(""));
    assert_string_equal(xact_display_name("bogus"), "bogus");
    assert_true(xact_kind_startable("rebalance") && xact_kind_startable("resilver") &&
                xact_kind_startable("make-n-copies") && xact_kind_startable("ec-encode") &&
                xact_kind_startable("scrub-bck"));
    assert_false(xact_kind_startable("copy-bck") || xact_kind_startable("summary-bck") ||
                 xact_kind_startable("delete-listrange") || xact_kind_startable("bogus"));
    /* filters take display names */
    xact_filter_t f;
    char err[128];
    memset(&f, 0, sizeof(f));
    assert_int_equal(xact_filter_set(&f, "mirror", NULL, NULL, err, sizeof(err)), 0);
    assert_string_equal(f.kind, "make-n-copies");
}

static void test_filter_parse(void **state)
{
    (void)state;
    char err[256];
    xact_filter_t f = {0};
    json_t *m = json_loads("{\"Kind\":\"copy-bck\",\"bck\":{\"name\":\"b1\",\"provider\":\"ais\","
                           "\"namespace\":{}},\"show_active\":true,\"node\":\"\"}",
                           0, NULL);
    assert_int_equal(xact_filter_parse(m, &f, err, sizeof(err)), 0);
    json_decref(m);
    assert_string_equal(f.kind, "copy-bck");
    assert_string_equal(f.bck, "b1");
    assert_true(f.only_running);

    xact_filter_t g = {0};
    assert_int_equal(xact_filter_parse(NULL, &g, err, sizeof(err)), 0);
    m = json_loads("{\"ID\":\"x\",\"Kind\":\"\",\"Bck\":null,\"OnlyRunning\":false}", 0, NULL);
    assert_int_equal(xact_filter_parse(m, &g, err, sizeof(err)), 0);
    json_decref(m);
    assert_string_equal(g.kind, "");
    assert_string_equal(g.bck, "");
    assert_false(g.only_running);

    static const char *bad[] = {
        "[1]",
        "{\"kind\":7}",
        "{\"kind\":\"no-such-kind\"}",
        "{\"show_active\":\"yes\"}",
        "{\"bck\":\"b1\"}",
        "{\"bck\":{\"name\":5}}",
        "{\"bck\":{\"name\":\"a/b\"}}",
        "{\"bck\":{\"name\":\"b\",\"provider\":\"gcp\"}}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        xact_filter_t h = {0};
        m = json_loads(bad[i], 0, NULL);
        assert_non_null(m);
        err[0] = '\0';
        assert_int_equal(xact_filter_parse(m, &h, err, sizeof(err)), -1);
        assert_true(err[0] != '\0');
        json_decref(m);
    }

    xact_filter_t t = {0};
    assert_int_equal(xact_filter_set(&t, "etl-bck", "b2", "1", err, sizeof(err)), 0);
    assert_string_equal(t.kind, "etl-bck");
    assert_string_equal(t.bck, "b2");
    assert_true(t.only_running);
    assert_int_equal(xact_filter_set(&t, NULL, NULL, "false", err, sizeof(err)), 0);
    assert_false(t.only_running);
    assert_string_equal(t.kind, "etl-bck"); /* NULL leaves it */
    assert_int_equal(xact_filter_set(&t, NULL, NULL, "maybe", err, sizeof(err)), -1);
    assert_int_equal(xact_filter_set(&t, "COPY", NULL, NULL, err, sizeof(err)), -1);
    assert_int_equal(xact_filter_set(&t, NULL, "..", NULL, err, sizeof(err)), -1);
    assert_true(xact_kind_valid("rebalance"));
    assert_false(xact_kind_valid(""));
}

/* Listing and stopping by filter: kind, either bucket, running only; oldest first. */
static void test_list_and_abort(void **state)
{
    (void)state;
    xact_t *a = xact_create("ls-a", "copy-bck", "lsrc", "ldst");
    xact_t *b = xact_create("ls-b", "etl-bck", "lsrc", "lother");
    xact_t *c = xact_create("ls-c", "copy-bck", "lx", "ly");
    xact_finish(c);
    xact_filter_t f = {0};
    snprintf(f.bck, sizeof(f.bck), "lsrc");
    json_t *l = xact_list(&f, "t1");
    assert_int_equal(json_array_size(l), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(l, 0), "id")), "ls-a");
    assert_string_equal(json_string_value(json_object_get(json_array_get(l, 1), "id")), "ls-b");
    assert_string_equal(json_string_value(json_object_get(json_array_get(l, 0), "node")), "t1");
    json_decref(l);

    xact_filter_t k = {0};
    snprintf(k.kind, sizeof(k.kind), "copy-bck");
    l = xact_list(&k, "t1");
    size_t n = json_array_size(l);
    json_decref(l);
    k.only_running = true;
    l = xact_list(&k, "t1");
    assert_int_equal(json_array_size(l) + 1, n); /* ls-c ended */
    json_decref(l);
    xact_filter_t d = {0};
    snprintf(d.bck, sizeof(d.bck), "ldst"); /* destination bucket matches too */
    l = xact_list(&d, "t1");
    assert_int_equal(json_array_size(l), 1);
    json_decref(l);

    snprintf(k.bck, sizeof(k.bck), "lsrc");
    assert_int_equal(xact_abort_matching(&k, "aborted by user"), 1);
    assert_true(a->abort);
    assert_false(b->abort);
    assert_false(c->abort);
    assert_int_equal(xact_abort_matching(&k, "again"), 0); /* already stopping */
    xact_finish(a);
    assert_true(a->aborted);
    json_t *s = xact_snap(a, "t1");
    assert_string_equal(json_string_value(json_object_get(s, "err")), "aborted by user");
    json_decref(s);
    xact_finish(b);
    xact_put(a);
    xact_put(b);
    xact_put(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry),       cmocka_unit_test(test_in_before_start),
        cmocka_unit_test(test_end_states),     cmocka_unit_test(test_snapshot),
        cmocka_unit_test(test_obj_errors),     cmocka_unit_test(test_gc),
        cmocka_unit_test(test_new_id),         cmocka_unit_test(test_concurrent_counters),
        cmocka_unit_test(test_filter_parse),   cmocka_unit_test(test_kind_names),
        cmocka_unit_test(test_list_and_abort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
