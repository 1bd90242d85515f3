/*
 * node_http.h - what the unit tests that drive a node through its own HTTP server share: JSON
 * requests to 127.0.0.1:node_port, asserting that an answer arrived, and the node's config.
 * Include after cmocka.h and set node_port once the server listens.
 */
#ifndef LOCUS_TESTS_NODE_HTTP_H
#define LOCUS_TESTS_NODE_HTTP_H

#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/util.h"
#include "net/net.h"

static int node_port;

/* The config of node `id` listening on 127.0.0.1:node_port, its state in data_dir (taken). A
 * proxy with no primary_url is the primary; a target's caller sets primary_url and mountpaths. */
static inline void node_config(config_t *c, node_role_t role, const char *id, char *data_dir)
{
    config_init(c);
    c->role = role;
    c->id = xstrdup(id);
    c->port = node_port;
    c->public_url = xasprintf("http://127.0.0.1:%d", node_port);
    c->data_dir = data_dir;
}

/* method path [body] against the node; the status, r filled (caller disposes). */
static inline int call(const char *method, const char *path, const char *body, httpc_resp_t *r)
{
    static const httpc_header_t hdrs[] = {{"Content-Type", "application/json"}, {NULL, NULL}};
    char *url = xasprintf("http://127.0.0.1:%d%s", node_port, path);
    httpc_resp_init(r);
    int rc = httpc_do(method, url, body, body ? strlen(body) : 0, hdrs, 10000, r);
    free(url);
    assert_int_equal(rc, 0);
    return (int)r->status;
}

static inline int call_status(const char *method, const char *path, const char *body)
{
    httpc_resp_t r;
    int st = call(method, path, body, &r);
    httpc_resp_dispose(&r);
    return st;
}

#endif
