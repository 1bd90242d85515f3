/*
 * promote.c - AIStore's promote through a proxy: POST /v1/objects/<bck> with action "promote"
 * and PromoteArgs. The arguments are checked here; the targets do the work (target/promote.c):
 * the one named by "tid", else every target, each promoting the names it owns of what is taken
 * to be one file share seen by all ("notshr": each promotes every file it sees). Synchronous:
 * the answer (200, empty body: no job id, as AIStore's small promotes) comes when all are done.
 * Each target answers {"gone": bool}: in a share with "dls", a target may find the source
 * already promoted and deleted by another; it is missing only when all found it gone.
 */
#include "cluster/cluster.h"
#include "cluster/meta.h"
#include "common/promote.h"
#include "common/util.h"
#include "proxy/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int count_gone(proxy_bcast_t *b, const snode_t *t, json_t *answer)
{
    (void)t;
    if (json_is_true(json_object_get(answer, "gone")))
        (*(size_t *)b->arg)++;
    return 0;
}

void proxy_promote(http_req_t *req, const char *bck)
{
    json_t *msg = http_body_json(req);
    if (msg == NULL)
        return;
    const char *action = json_string_value(json_object_get(msg, "action"));
    promote_args_t a;
    char err[1024];
    bmd_t *b = bmd_get();
    bool exists = bmd_bucket(b, bck) != NULL;
    bmd_put(b);
    if (action == NULL || strcmp(action, "promote") != 0) {
        http_reply_error(req, 400,
                         "POST /v1/objects/%s: action \"%.64s\" is not supported (promote is)", bck,
                         action ? action : "");
    } else if (!exists) {
        http_reply_error(req, 404, "bucket \"ais://%s\" does not exist", bck);
    } else if (promote_args_parse(msg, &a, err, sizeof(err)) < 0) {
        http_reply_error(req, 400, "%s", err);
    } else {
        char *body = json_dumps(msg, JSON_COMPACT);
        bool fshare = a.tid[0] == '\0' && !a.notshr;
        size_t gone = 0;
        char *path = xasprintf("/v1/objects/%s?provider=ais%s", bck, fshare ? "&fshare=true" : "");
        proxy_bcast_t bc = {.method = "POST",
                            .path = path,
                            .body = body,
                            .timeout_ms = 600000,
                            .strict = true,
                            .pass_4xx = true,
                            .only = a.tid[0] ? a.tid : NULL,
                            .merge = count_gone,
                            .arg = &gone};
        int st = proxy_bcast(&bc);
        if (st)
            http_reply_error(req, (unsigned)st, "promote: %s", bc.err);
        else if (gone > 0 && gone == bc.n_ok)
            http_reply_error(req, 404, "promote: source \"%.256s\" not found on any target", a.src);
        else
            http_reply(req, 200, "text/plain", "", 0);
        free(path);
        free(body);
        promote_args_dispose(&a);
    }
    json_decref(msg);
}
