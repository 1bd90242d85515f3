/*
 * test_target_jobs.c - the target's job runners (src/target/jobs.c) through their endpoint
 * /v1/xactions on a real HTTP server: this process is target t1 with two temp mountpaths and no
 * running daemon; for copies to another target the smap also names t2, a mock server that
 * records the PUTs it receives and can fail them or hold them. Covered: copy-bck within t1
 * (prefix, prepend, extension mapping, dry run), copies split between t1 and t2 by HRW, remote
 * failures with and without coer, abort while running, delete-listrange by list, by range
 * template and by prefix, etl-bck through an io:// ETL (tr) that this target's ETL runtime runs
 * from the EtlMD, the endpoint's errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cluster/cluster.h"
#include "cluster/internal.h"
#include "cluster/membership.h"
#include "cluster/meta.h"
#include "common/config.h"
#include "common/util.h"
#include "etlspec/etlspec.h"
#include "net/net.h"
#include "target/internal.h"
#include "target/jobs.h"
#include "target/target.h"
#include "xact/xact.h"

#include "../node_http.h"

#define NOBJ 20

static char root[] = "/tmp/locus-test-tjobs-XXXXXX";
static config_t cfg;
static http_server_t *tsrv, *msrv; /* this target, the mock t2 */
static char t1_url[64], t2_url[64];

/* The mock t2: what it received and how it answers PUTs. */
static pthread_mutex_t lk = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int m_status = 200;
static bool m_hold;    /* hold PUTs until released */
static int m_waiting;  /* PUTs being held */
static json_t *m_puts; /* "path?query" -> body */

static void on_headers(http_req_t *req)
{
}

static void mock_request(http_req_t *req)
{
    pthread_mutex_lock(&lk);
    char *key = xasprintf("%s?%s", req->path, req->raw_query);
    json_object_set_new(m_puts, key,
                        json_stringn(req->body.base ? req->body.base : "", req->body.len));
    free(key);
    m_waiting++;
    pthread_cond_broadcast(&cv);
    while (m_hold)
        pthread_cond_wait(&cv, &lk);
    m_waiting--;
    int st = m_status;
    pthread_mutex_unlock(&lk);
    if (st == 200)
        http_reply(req, 200, NULL, "", 0);
    else
        http_reply_text(req, (unsigned)st, "t2 cannot store it");
}

static void mock_reset(int status, bool hold)
{
    pthread_mutex_lock(&lk);
    m_status = status;
    m_hold = hold;
    json_object_clear(m_puts);
    pthread_mutex_unlock(&lk);
}

static size_t mock_n_puts(void)
{
    pthread_mutex_lock(&lk);
    size_t n = json_object_size(m_puts);
    pthread_mutex_unlock(&lk);
    return n;
}

static void smap_set_t2(bool in)
{
    meta_write_lock();
    if (in) {
        smap_upsert("t2", t2_url, false);
    } else {
        char *ids[] = {"t2"};
        smap_remove_nodes(ids, 1);
    }
    meta_write_unlock();
}

static int setup(void **state)
{
    if (mkdtemp(root) == NULL)
        return -1;
    httpc_global_init();
    m_puts = json_object();
    char err[512] = "";
    tsrv = http_server_start("127.0.0.1", 0, "t[t1]", target_on_headers, target_on_request, err,
                             sizeof(err));
    msrv = tsrv ? http_server_start("127.0.0.1", 0, "t[t2]", on_headers, mock_request, err,
                                    sizeof(err))
                : NULL;
    if (msrv == NULL) {
        fprintf(stderr, "setup: %s\n", err);
        return -1;
    }
    node_port = http_server_port(tsrv);
    snprintf(t1_url, sizeof(t1_url), "http://127.0.0.1:%d", node_port);
    snprintf(t2_url, sizeof(t2_url), "http://127.0.0.1:%d", http_server_port(msrv));
    node_config(&cfg, ROLE_TARGET, "t1", xasprintf("%s/data", root));
    cfg.primary_url = xstrdup("http://127.0.0.1:1"); /* never called: no cluster_start */
    cfg.mountpaths[0] = xasprintf("%s/mp1", root);
    cfg.mountpaths[1] = xasprintf("%s/mp2", root);
    cfg.n_mountpaths = 2;
    cfg.etl_allow_commands = true; /* its io:// ETL runs a command, outside the sandbox */
    cfg.etl_sandbox = false;
    if (cluster_init(&cfg, err, sizeof(err)) < 0 || target_init(err, sizeof(err)) < 0) {
        fprintf(stderr, "setup: %s\n", err);
        return -1;
    }
    cluster_mark_ready(); /* no join here: the target serves at once */
    meta_write_lock();
    smap_upsert("t1", t1_url, false);
    meta_write_unlock();
    return 0;
}

static int teardown(void **state)
{
    http_server_stop(tsrv);
    http_server_stop(msrv);
    target_shutdown();
    httpc_thread_cleanup();
    json_decref(m_puts);
    remove_tree(root);
    return 0;
}

/* ---------------------------------------------------------------- helpers */

static void put(const char *bck, const char *obj, const char *data)
{
    obj_writer_t w;
    char err[512];
    assert_int_equal(store_writer_open(&w, bck, obj, err, sizeof(err)), 0);
    assert_int_equal(store_writer_write(&w, data, strlen(data)), 0);
    assert_int_equal(store_writer_commit(&w, NULL, err, sizeof(err)), 0);
}

/* The content of bck/obj (caller frees), NULL when it does not exist here. */
static char *get(const char *bck, const char *obj)
{
    int fd;
    lom_md_t md;
    if (store_open(bck, obj, &fd, &md) < 0)
        return NULL;
    char *s = xcalloc(1, (size_t)md.size + 1);
    assert_int_equal(pread(fd, s, (size_t)md.size, 0), md.size);
    close(fd);
    lom_md_dispose(&md);
    return s;
}

static bool exists(const char *bck, const char *obj)
{
    char *s = get(bck, obj);
    free(s);
    return s != NULL;
}

/* Starts job id as the proxy does (POST /v1/xactions); the status. */
static int start(const char *id, const char *kind, const char *src, const char *dst,
                 const char *msg)
{
    char *body =
        xasprintf("{\"id\":\"%s\",\"kind\":\"%s\",\"src\":\"%s\",\"dst\":\"%s\",\"msg\":%s}", id,
                  kind, src, dst, msg);
    int st = call_status("POST", "/v1/xactions", body);
    free(body);
    return st;
}

/* Waits for job id to end; the job, referenced (xact_put). */
static xact_t *wait_end(const char *id)
{
    xact_t *x = xact_find(id);
    assert_non_null(x);
    for (int i = 0; i < 1000 && x->end_ns == 0; i++)
        sleep_ms(10);
    assert_true(x->end_ns != 0);
    return x;
}

/* The job's snapshot from GET /v1/xactions?id= (?errors=true with the per-object errors). */
static json_t *snap(const char *id, bool errors)
{
    char *path = xasprintf("/v1/xactions?id=%s%s", id, errors ? "&errors=true" : "");
    httpc_resp_t r;
    assert_int_equal(call("GET", path, NULL, &r), 200);
    json_t *j = json_loadb(r.body.base, r.body.len, 0, NULL);
    httpc_resp_dispose(&r);
    free(path);
    assert_non_null(j);
    return j;
}

static const char *stat_of(json_t *snap, const char *key)
{
    return json_string_value(json_object_get(json_object_get(snap, "stats"), key));
}

/* NOBJ objects o-00..o-19 in bck, each holding its own name; their total size. */
static int64_t put_many(const char *bck)
{
    int64_t total = 0;
    for (int i = 0; i < NOBJ; i++) {
        char name[16];
        snprintf(name, sizeof(name), "o-%02d", i);
        put(bck, name, name);
        total += (int64_t)strlen(name);
    }
    return total;
}

/* Whether HRW places bck/obj on t1. */
static bool owned_here(const char *bck, const char *obj)
{
    smap_t *s = smap_get();
    bool here = strcmp(smap_owner(s, bck, obj)->id, "t1") == 0;
    smap_put(s);
    return here;
}

/* ---------------------------------------------------------------- copy-bck */

static void test_copy_local(void **state)
{
    put("src", "a/1.jpg", "one");
    put("src", "a/2.jpg", "two!");
    put("src", "a/3.png", "three");
    put("src", "b/4.jpg", "four");
    assert_int_equal(start("cp1", "copy-bck", "src", "dst",
                           "{\"prefix\":\"a/\",\"prepend\":\"p-\",\"ext\":{\"jpg\":\"txt\"},"
                           "\"num-workers\":2}"),
                     200);
    xact_t *x = wait_end("cp1");
    assert_int_equal(x->loc_objs, 3);
    assert_int_equal(x->loc_bytes, 3 + 4 + 5);
    assert_int_equal(x->out_objs, 0);
    assert_int_equal(x->errors, 0);
    assert_false(x->aborted);
    xact_put(x);
    char *s = get("dst", "p-a/1.txt");
    assert_string_equal(s, "one");
    free(s);
    s = get("dst", "p-a/2.txt");
    assert_string_equal(s, "two!");
    free(s);
    assert_true(exists("dst", "p-a/3.png")); /* not in ext: name kept */
    assert_false(exists("dst", "p-b/4.txt"));
    assert_false(exists("dst", "b/4.jpg"));
    assert_true(exists("src", "a/1.jpg")); /* a copy, not a move */

    json_t *j = snap("cp1", false);
    assert_string_equal(json_string_value(json_object_get(j, "kind")), "copy-bck");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "bck"), "name")),
                        "src");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "dst-bck"), "name")),
                        "dst");
    assert_true(json_is_true(json_object_get(j, "is_idle")));
    assert_string_equal(stat_of(j, "loc-objs"), "3");
    assert_string_equal(stat_of(j, "loc-bytes"), "12");
    assert_string_equal(json_string_value(json_object_get(j, "node")), "t1");
    json_decref(j);
}

static void test_copy_dry_run(void **state)
{
    put("src", "a/1.jpg", "one");
    assert_int_equal(start("cp2", "copy-bck", "src", "dry", "{\"prefix\":\"a/\",\"dry_run\":true}"),
                     200);
    xact_t *x = wait_end("cp2");
    assert_int_equal(x->loc_objs, 3); /* counted as if copied: a/1.jpg, a/2.jpg, a/3.png */
    assert_int_equal(x->errors, 0);
    xact_put(x);
    assert_false(exists("dry", "a/1.jpg"));
    assert_false(exists("dry", "a/2.jpg"));
}

static void upper(char *s)
{
    for (; *s; s++)
        if (*s >= 'a' && *s <= 'z')
            *s = (char)(*s - 'a' + 'A');
}

/* Checks the end of job xid that copied put_many's objects (total bytes) to dst: each copy
 * (upper-cased when transformed) stored here when HRW places it on t1, else PUT to t2, and
 * counted as such. Both targets must own some. */
static void check_split(const char *xid, const char *dst, bool transformed, int64_t total)
{
    xact_t *x = wait_end(xid);
    assert_int_equal(x->errors, 0);
    assert_false(x->aborted);
    size_t local = 0;
    for (int i = 0; i < NOBJ; i++) {
        char name[16], want[16];
        snprintf(name, sizeof(name), "o-%02d", i);
        snprintf(want, sizeof(want), "%s", name);
        if (transformed)
            upper(want);
        char *key = xasprintf("/v1/objects/%s/%s?provider=ais&xid=%s", dst, name, xid);
        json_t *got = json_object_get(m_puts, key);
        if (owned_here(dst, name)) {
            local++;
            char *s = get(dst, name);
            assert_string_equal(s, want);
            free(s);
            assert_null(got);
        } else {
            assert_false(exists(dst, name));
            assert_non_null(got);
            assert_string_equal(json_string_value(got), want);
        }
        free(key);
    }
    assert_true(local > 0 && local < NOBJ);
    assert_int_equal(x->loc_objs, local);
    assert_int_equal(x->out_objs, NOBJ - local);
    assert_int_equal(mock_n_puts(), NOBJ - local);
    assert_int_equal(x->loc_bytes + x->out_bytes, total);
    xact_put(x);
}

/* The copies of objects t2 owns go to t2 by PUT; the others stay on t1. */
static void test_copy_split_by_hrw(void **state)
{
    int64_t total = put_many("many");
    smap_set_t2(true);
    mock_reset(200, false);
    assert_int_equal(start("cp3", "copy-bck", "many", "many2", "{}"), 200);
    check_split("cp3", "many2", false, total);
    smap_set_t2(false);
}

/* t2 refusing: without coer the first failure ends the job; with coer every failure is
 * recorded and the job goes on. */
static void test_copy_remote_failure(void **state)
{
    put_many("many");
    smap_set_t2(true);
    mock_reset(500, false);
    assert_int_equal(start("cp4", "copy-bck", "many", "fail1", "{\"num-workers\":1}"), 200);
    xact_t *x = wait_end("cp4");
    assert_true(x->aborted);
    assert_true(x->errors >= 1);
    assert_non_null(x->err);
    assert_true(str_has_prefix(x->err, "ais://many/o-"));
    assert_non_null(strstr(x->err, "t2 cannot store it"));
    assert_true(x->loc_objs + x->errors < NOBJ); /* stopped early */
    xact_put(x);

    mock_reset(500, false);
    assert_int_equal(start("cp5", "copy-bck", "many", "fail2", "{\"coer\":true}"), 200);
    x = wait_end("cp5");
    assert_false(x->aborted);
    size_t remote = mock_n_puts();
    assert_true(remote > 0);
    assert_int_equal(x->errors, remote);
    assert_int_equal(x->loc_objs, NOBJ - remote);
    assert_int_equal(x->out_objs, 0);
    xact_put(x);
    json_t *j = snap("cp5", true);
    json_t *errs = json_object_get(j, "obj_errors");
    assert_int_equal(json_array_size(errs), remote);
    json_t *e = json_array_get(errs, 0);
    assert_true(str_has_prefix(json_string_value(json_object_get(e, "obj_name")), "ais://many/o-"));
    assert_int_equal(json_integer_value(json_object_get(e, "ecode")), 500);
    assert_string_equal(json_string_value(json_object_get(e, "msg")), "t2 cannot store it");
    assert_string_equal(json_string_value(json_object_get(j, "err")), "");
    json_decref(j);
    smap_set_t2(false);
}

/* Abort while a worker is busy: the job ends, aborted, without the remaining objects. */
static void test_abort(void **state)
{
    put_many("many");
    smap_set_t2(true);
    mock_reset(200, true);
    assert_int_equal(start("cp6", "copy-bck", "many", "ab", "{\"num-workers\":1}"), 200);
    pthread_mutex_lock(&lk);
    while (m_waiting == 0) /* the worker is inside its first PUT to t2 */
        pthread_cond_wait(&cv, &lk);
    pthread_mutex_unlock(&lk);
    assert_int_equal(call_status("DELETE", "/v1/xactions?id=cp6", NULL), 200);
    mock_reset(200, false);
    pthread_mutex_lock(&lk);
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&lk);
    xact_t *x = wait_end("cp6");
    assert_true(x->aborted);
    assert_string_equal(x->err, "aborted by user");
    assert_int_equal(x->out_objs, 1); /* the held PUT completed */
    assert_true(x->loc_objs + x->out_objs < NOBJ);
    xact_put(x);
    json_t *j = snap("cp6", false);
    assert_true(json_is_true(json_object_get(j, "aborted")));
    assert_string_equal(json_string_value(json_object_get(j, "abort-err")), "aborted by user");
    json_decref(j);
    /* Aborting an ended job changes nothing. */
    assert_int_equal(call_status("DELETE", "/v1/xactions?id=cp6", NULL), 200);
    smap_set_t2(false);
}

/* ---------------------------------------------------------------- delete-listrange */

static void test_delete_list(void **state)
{
    for (int i = 0; i < 6; i++) {
        char name[16];
        snprintf(name, sizeof(name), "d/%d", i);
        put("del", name, "12345");
        put("other", name, "x"); /* same names in another bucket */
    }
    put("del", "e/1", "e");
    assert_int_equal(
        start("dl1", "delete-listrange", "del", "", "{\"objnames\":[\"d/1\",\"d/3\",\"nope\"]}"),
        200);
    xact_t *x = wait_end("dl1");
    assert_int_equal(x->loc_objs, 2); /* the missing name is not counted */
    assert_int_equal(x->loc_bytes, 10);
    assert_int_equal(x->errors, 0);
    xact_put(x);
    assert_false(exists("del", "d/1"));
    assert_false(exists("del", "d/3"));
    assert_true(exists("del", "d/0"));
    assert_true(exists("del", "d/2"));

    /* A range template: names that are already gone are skipped. */
    assert_int_equal(start("dl2", "delete-listrange", "del", "", "{\"template\":\"d/{0..3}\"}"),
                     200);
    x = wait_end("dl2");
    assert_int_equal(x->loc_objs, 2);
    xact_put(x);
    assert_false(exists("del", "d/0"));
    assert_false(exists("del", "d/2"));
    assert_true(exists("del", "d/4"));

    /* A template without a range is a prefix. */
    assert_int_equal(start("dl3", "delete-listrange", "del", "", "{\"template\":\"d/\"}"), 200);
    x = wait_end("dl3");
    assert_int_equal(x->loc_objs, 2);
    xact_put(x);
    assert_false(exists("del", "d/4"));
    assert_false(exists("del", "d/5"));
    assert_true(exists("del", "e/1"));
    for (int i = 0; i < 6; i++) { /* the other bucket is untouched */
        char name[16];
        snprintf(name, sizeof(name), "d/%d", i);
        assert_true(exists("other", name));
    }
}

/* ---------------------------------------------------------------- etl-bck */

/* Installs a new EtlMD version holding entry (stolen) as "upper-etl". */
static void etl_md_set(json_t *entry)
{
    meta_write_lock();
    mdoc_t *cur = md_get(MD_ETL);
    mdoc_t *d = md_new(MD_ETL, cur->uuid ? cur->uuid : "etlmd");
    d->version = cur->version + 1;
    md_put(cur);
    json_object_set_new(d->items, "upper-etl", entry);
    meta_install_md(d);
    meta_write_unlock();
}

/* Puts an io:// ETL "upper-etl" (tr a-z A-Z, once per object) in the EtlMD as the primary would,
 * and waits until this target's ETL runtime has it running. */
static void etl_install(void)
{
    json_t *msg = json_loads("{\"name\":\"upper-etl\",\"communication\":\"io://\",\"runtime\":"
                             "{\"image\":\"aistorage/transformer_md5\",\"command\":"
                             "[\"tr\",\"a-z\",\"A-Z\"]}}",
                             0, NULL);
    json_t *entry = NULL;
    char err[512];
    if (etl_spec_parse(cluster_config(), msg, &entry, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    json_decref(msg);
    json_object_set_new(entry, "xid", json_string("etl-gen1"));
    json_object_set_new(entry, "secret", json_string("secret"));
    json_object_set_new(entry, "stage", json_string(ETL_STAGE_RUNNING));
    etl_md_set(entry);
    cluster_mark_ready(); /* the runtime reconciles only on a node that has joined */
    etl_inst_t *e = NULL;
    for (int i = 0; i < 500 && e == NULL; i++) {
        int st;
        e = etl_acquire("upper-etl", &st, err, sizeof(err));
        if (e == NULL)
            sleep_ms(10);
    }
    assert_non_null(e);
    etl_release(e);
}

/* Each object through the ETL: stored transformed here, or its transformation PUT to t2. */
static void test_etl_bck(void **state)
{
    etl_install();
    int64_t total = put_many("many");
    smap_set_t2(true);
    mock_reset(200, false);
    assert_int_equal(start("eb1", "etl-bck", "many", "up", "{\"id\":\"upper-etl\"}"), 200);
    check_split("eb1", "up", true, total); /* tr keeps the size */
    smap_set_t2(false);

    /* Dry run: transformed and counted, nothing stored. */
    xact_t *x;
    assert_int_equal(
        start("eb2", "etl-bck", "many", "updry", "{\"id\":\"upper-etl\",\"dry_run\":true}"), 200);
    x = wait_end("eb2");
    assert_int_equal(x->loc_objs, NOBJ);
    assert_int_equal(x->loc_bytes, total);
    xact_put(x);
    assert_false(exists("updry", "o-00"));

    /* Stopped (Aborted in the EtlMD): once the runtime has dropped it, a job is refused. */
    mdoc_t *md = md_get(MD_ETL);
    json_t *entry = json_deep_copy(json_object_get(md->items, "upper-etl"));
    md_put(md);
    json_object_set_new(entry, "stage", json_string(ETL_STAGE_ABORTED));
    etl_md_set(entry);
    char err[512];
    int st = 0;
    for (int i = 0; i < 500; i++) {
        etl_inst_t *e = etl_acquire("upper-etl", &st, err, sizeof(err));
        if (e == NULL)
            break;
        etl_release(e);
        sleep_ms(10);
    }
    assert_int_equal(st, 400); /* a stopped ETL is the user's to fix */
    httpc_resp_t r;
    assert_int_equal(call("POST", "/v1/xactions",
                          "{\"id\":\"eb3\",\"kind\":\"etl-bck\",\"src\":\"many\",\"dst\":"
                          "\"x\",\"msg\":{\"id\":\"upper-etl\"}}",
                          &r),
                     400);
    assert_non_null(strstr(r.body.base, "etl job upper-etl is not running (stage Aborted"));
    httpc_resp_dispose(&r);
}

/* ---------------------------------------------------------------- endpoint */

static void test_endpoint_errors(void **state)
{
    assert_int_equal(start("e1", "nosuch-kind", "src", "", "{}"), 400); /* unknown kind */
    assert_int_equal(call_status("POST", "/v1/xactions", "{\"kind\":\"copy-bck\",\"src\":\"a\"}"),
                     400); /* no id */
    assert_int_equal(call_status("POST", "/v1/xactions", "{not json"), 400);
    assert_int_equal(start("cp1", "copy-bck", "src", "dst", "{}"), 409); /* exists */
    assert_int_equal(call_status("GET", "/v1/xactions?id=nope", NULL), 404);
    assert_int_equal(call_status("DELETE", "/v1/xactions?id=nope", NULL), 404);
    assert_int_equal(call_status("PUT", "/v1/xactions?id=cp1", NULL), 405);
    /* etl-bck with an ETL this target does not know: refused, the job registered as failed. */
    httpc_resp_t r;
    char *body = xasprintf("{\"id\":\"e2\",\"kind\":\"etl-bck\",\"src\":\"src\",\"dst\":\"x\","
                           "\"msg\":{\"id\":\"noetl\"}}");
    assert_int_equal(call("POST", "/v1/xactions", body, &r), 404);
    assert_non_null(strstr(r.body.base, "etl job noetl does not exist"));
    httpc_resp_dispose(&r);
    free(body);
    xact_t *x = xact_find("e2");
    assert_non_null(x);
    assert_true(x->aborted);
    assert_true(x->end_ns != 0);
    xact_put(x);
}

/* jobs_copy_object alone (the single-object copy of the object endpoint). */
static void test_copy_object(void **state)
{
    put("src", "one", "payload");
    char err[256];
    assert_int_equal(jobs_copy_object(NULL, NULL, NULL, NULL, NULL, "src", "one", "cp", "two",
                                      false, err, sizeof(err)),
                     0);
    char *s = get("cp", "two");
    assert_string_equal(s, "payload");
    free(s);
    assert_int_equal(jobs_copy_object(NULL, NULL, NULL, NULL, NULL, "src", "nothere", "cp", "x",
                                      false, err, sizeof(err)),
                     404);
    assert_string_equal(err, "t[t1]: ais://src/nothere does not exist");
    assert_int_equal(jobs_copy_object(NULL, NULL, NULL, NULL, NULL, "src", "one", "cp", "", false,
                                      err, sizeof(err)),
                     400);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_copy_local),
        cmocka_unit_test(test_copy_dry_run),
        cmocka_unit_test(test_copy_split_by_hrw),
        cmocka_unit_test(test_copy_remote_failure),
        cmocka_unit_test(test_abort),
        cmocka_unit_test(test_delete_list),
        cmocka_unit_test(test_etl_bck),
        cmocka_unit_test(test_endpoint_errors),
        cmocka_unit_test(test_copy_object),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
