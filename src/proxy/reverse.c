/*
 * reverse.c - /v1/reverse/daemon[/...]: a request for one target's own endpoints
 * (`Ais-Node-Id: <target id>`), relayed by the proxy as an intra-cluster call (signed by the
 * HTTP client's signer) to that target's /v1/daemon[/...] with the method, query and body, and
 * its answer relayed back. AIStore's mountpath calls (attach, detach, enable, disable, list)
 * come this way (docs/protocol.md).
 */
#include "common/log.h"
#include "common/util.h"
#include "proxy/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A detach waits for its resilver on the target (45 s at most) before it answers. */
#define REVERSE_TIMEOUT_MS 90000

void proxy_reverse(http_req_t *req, const char **segs, int nseg)
{
    if (nseg < 2 || strcmp(segs[1], "daemon") != 0) {
        http_reply_error(req, 404, "%s: no such endpoint: %s %s (only /v1/reverse/daemon[/...])",
                         cluster_self_name(), req->method, req->raw_path);
        return;
    }
    const char *nid = http_header(req, "Ais-Node-Id");
    if (nid == NULL || nid[0] == '\0') {
        http_reply_error(req, 400, "/v1/reverse needs the header Ais-Node-Id: <target id>");
        return;
    }
    smap_t *s = smap_get();
    const snode_t *t = smap_find(s, nid);
    char *url = NULL;
    if (t && !t->is_proxy) {
        /* raw_path is /v1/reverse/daemon...: the target's path is what follows /v1/reverse */
        const char *rest = strstr(req->raw_path, "/daemon");
        url = xasprintf("%s/v1%s%s%s", t->url, rest ? rest : "/daemon",
                        req->raw_query[0] ? "?" : "", req->raw_query);
    }
    smap_put(s);
    if (url == NULL) {
        http_reply_error(req, 404, "node \"%.64s\" is not a target of this cluster", nid);
        return;
    }
    static const httpc_header_t hdrs[] = {{"Content-Type", "application/json"}, {NULL, NULL}};
    httpc_resp_t r;
    httpc_resp_init(&r);
    int rc = httpc_do(req->method, url, req->body.len ? req->body.base : NULL, req->body.len, hdrs,
                      REVERSE_TIMEOUT_MS, &r);
    if (rc < 0) {
        http_reply_error(req, 503, "target %s unreachable: %s", nid, r.err);
    } else {
        /* the target answers JSON, or a job id as text */
        const char *b = r.body.base ? r.body.base : "";
        http_reply(req, (unsigned)r.status,
                   b[0] == '{' || b[0] == '[' ? "application/json" : "text/plain", b, r.body.len);
    }
    httpc_resp_dispose(&r);
    free(url);
}
