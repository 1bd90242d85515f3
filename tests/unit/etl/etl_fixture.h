/*
 * etl_fixture.h - what the unit tests of target-side ETL share: a minimal target node (the
 * cluster component initialised on a temporary data dir, as etl_build_env reads the node's
 * config and URL), a result collector for etl_out_t, one transform of given bytes, io://
 * instances running a real command, objects in unlinked temporary files and a scripted HTTP
 * server on a free loopback port. Include after cmocka.h.
 */
#ifndef LOCUS_TESTS_ETL_FIXTURE_H
#define LOCUS_TESTS_ETL_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster/cluster.h"
#include "common/config.h"
#include "common/util.h"
#include "etl/internal.h"
#include "net/net.h"

static config_t fx_cfg;
static char fx_data_dir[] = "/tmp/locus-test-etl-XXXXXX";

static inline int fx_node_setup(void)
{
    char err[256];
    if (mkdtemp(fx_data_dir) == NULL)
        return -1;
    config_init(&fx_cfg);
    fx_cfg.role = ROLE_TARGET;
    fx_cfg.data_dir = xstrdup(fx_data_dir);
    fx_cfg.public_url = xstrdup("http://127.0.0.1:1");
    /* the tests run their own commands, outside the sandbox unless a test says otherwise */
    fx_cfg.etl_allow_commands = true;
    fx_cfg.etl_sandbox = false;
    return cluster_init(&fx_cfg, err, sizeof(err));
}

static inline int fx_node_teardown(void)
{
    char *cmd = xasprintf("rm -rf %s", fx_data_dir);
    int rc = system(cmd);
    free(cmd);
    return rc == 0 ? 0 : -1;
}

typedef struct {
    buf_t data;
    int status_calls;
    int64_t clen;
    size_t cancel_after; /* sink fails once this many bytes arrived (0 = never) */
    size_t batch;        /* etl_out_t.batch of the transform */
    int sink_calls;
    int short_pieces; /* sink calls with fewer than batch bytes */
} collect_t;

static inline int fx_on_status(void *arg, int status, int64_t clen)
{
    collect_t *c = arg;
    c->status_calls++;
    c->clen = clen;
    return 0;
}

static inline int fx_sink(void *arg, const void *p, size_t n)
{
    collect_t *c = arg;
    buf_append(&c->data, p, n);
    c->sink_calls++;
    if (n < c->batch)
        c->short_pieces++;
    return c->cancel_after && c->data.len >= c->cancel_after ? -1 : 0;
}

/* An io:// instance running the command given as JSON (e.g. ["cat"]); free with
 * json_decref(e->entry). */
static inline etl_inst_t *fx_io_inst(etl_inst_t *e, const char *cmd_json, int64_t obj_timeout_ms)
{
    memset(e, 0, sizeof(*e));
    snprintf(e->name, sizeof(e->name), "io-etl");
    e->obj_timeout_ns = obj_timeout_ms * 1000000LL;
    e->comm = &etl_comm_io;
    e->state = INST_RUNNING;
    e->entry = json_pack("{s:o}", "command", json_loads(cmd_json, 0, NULL));
    assert_non_null(json_object_get(e->entry, "command"));
    return e;
}

/* A descriptor of an unlinked temporary file holding n bytes of content. */
static inline int fx_object_fd(const void *content, size_t n)
{
    char path[] = "/tmp/locus-test-etl-obj-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(write_all(fd, content, n), 0);
    return fd;
}

/* Transforms content (n bytes) through e with the request rq (its fd and size are set here)
 * into c (data, status calls and length reset first). Returns the status. */
static inline int fx_run(etl_inst_t *e, etl_req_t rq, const void *content, size_t n, collect_t *c,
                         char *err, size_t errlen)
{
    rq.fd = fx_object_fd(content, n);
    rq.size = (int64_t)n;
    etl_out_t out = {fx_on_status, fx_sink, c, c->batch};
    buf_init(&c->data);
    c->status_calls = 0;
    c->sink_calls = 0;
    c->short_pieces = 0;
    c->clen = -2;
    err[0] = '\0';
    int st = etl_transform(e, &rq, &out, err, errlen);
    close(rq.fd);
    return st;
}

/* Our HTTP server on the first free port of [from, from + 100): NULL when none. */
/* A test server on a kernel-chosen loopback port (*port gets it); NULL on error. */
static inline http_server_t *fx_server_start(http_handler_cb on_headers, http_handler_cb on_request,
                                             int *port)
{
    char err[256];
    http_server_t *srv =
        http_server_start("127.0.0.1", 0, "etl-test", on_headers, on_request, err, sizeof(err));
    if (srv != NULL)
        *port = http_server_port(srv);
    return srv;
}

#endif
