/*
 * pipeline.c - ETL pipelines (docs/etl.md, "Pipelines"; docs/protocol.md §5.1): the stages
 * after the first ETL of a request (`etl_pipeline=b,c` on an inline GET or a copy, "pipeline":
 * ["b","c"] in an etl-bck message) resolved to the URLs of their servers on this target.
 *
 * DESIGN
 * The target sends the object to the first stage only, as without a pipeline, with
 * `Ais-Node-Url: <url of b>,<url of c>[,<destination target>]` (ws: the control message's
 * "pipeline"). Each server transforms and PUTs its result to the first URL of the list,
 * passing the rest on; the last one answers with the bytes (they travel back through the
 * stages) or direct-puts them to the destination target. Every stage is resolved and held
 * before anything runs, so an unknown or stopped stage is the request's 4xx, never a stage
 * silently skipped.
 */
#include "common/util.h"
#include "etl/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int etl_pipeline_split(const char *s, size_t len, char names[][ETL_NAME_BUF], size_t max, size_t *n,
                       char *err, size_t errlen)
{
    *n = 0;
    size_t i = 0;
    while (i <= len) {
        size_t j = i;
        while (j < len && s[j] != ',')
            j++;
        size_t a = i, b = j;
        while (a < b && s[a] == ' ')
            a++;
        while (b > a && s[b - 1] == ' ')
            b--;
        if (a == b) {
            snprintf(err, errlen, "etl_pipeline \"%.*s\": empty stage name",
                     (int)(len < 200 ? len : 200), s);
            return -1;
        }
        if (*n == max) {
            snprintf(err, errlen, "etl_pipeline: more than %zu stages", max);
            return -1;
        }
        if (b - a >= ETL_NAME_BUF || memchr(s + a, '\0', b - a)) {
            snprintf(err, errlen, "etl_pipeline: invalid ETL name \"%.*s\"",
                     (int)(b - a > 64 ? 64 : b - a), s + a);
            return -1;
        }
        memcpy(names[*n], s + a, b - a);
        names[*n][b - a] = '\0';
        const char *why = etl_name_check(names[*n]);
        if (why) {
            snprintf(err, errlen, "etl_pipeline: invalid ETL name \"%s\": %s", names[*n], why);
            return -1;
        }
        (*n)++;
        i = j + 1;
    }
    return 0;
}

void etl_pipeline_release(etl_pipeline_t *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n; i++)
        etl_release(p->stages[i]);
    free(p->urls);
    free(p);
}

/* A stage must be a server another server can reach: not io:// (no server) and not behind a
 * Unix socket (only its target can reach that). 0, or 400 with err. */
static int stage_check(const etl_inst_t *e, bool first, char *err, size_t errlen)
{
    if (!e->comm->needs_server) {
        snprintf(err, errlen,
                 "etl %s (%s) cannot be a pipeline stage: it runs a command per "
                 "object and has no server to forward results",
                 e->name, e->comm->scheme);
        return 400;
    }
    if (!first && e->sock_path[0]) {
        snprintf(err, errlen,
                 "etl %s cannot be a later pipeline stage: its server listens on a "
                 "Unix socket that only its target reaches (turn locus_unix_socket off)",
                 e->name);
        return 400;
    }
    return 0;
}

etl_pipeline_t *etl_pipeline_acquire(const etl_inst_t *first, const char *spec, int *status,
                                     char *err, size_t errlen)
{
    char names[ETL_PIPELINE_MAX][ETL_NAME_BUF];
    size_t n;
    *status = 400;
    if (etl_pipeline_split(spec, strlen(spec), names, ETL_PIPELINE_MAX, &n, err, errlen) < 0)
        return NULL;
    if ((*status = stage_check(first, true, err, errlen)) != 0)
        return NULL;
    etl_pipeline_t *p = xcalloc(1, sizeof(*p));
    buf_t b;
    buf_init(&b);
    for (size_t i = 0; i < n; i++) {
        char why[768];
        etl_inst_t *e = etl_acquire(names[i], status, why, sizeof(why));
        if (e == NULL) {
            snprintf(err, errlen, "etl pipeline stage %zu: %s", i + 2, why);
            goto fail;
        }
        p->stages[p->n++] = e;
        if ((*status = stage_check(e, false, err, errlen)) != 0)
            goto fail;
        if (b.len)
            buf_append(&b, ",", 1);
        buf_puts(&b, e->url);
    }
    p->urls = buf_steal(&b);
    *status = 0;
    return p;
fail:
    buf_dispose(&b);
    etl_pipeline_release(p);
    return NULL;
}

const char *etl_pipeline_urls(const etl_pipeline_t *p)
{
    return p ? p->urls : NULL;
}

char *etl_node_urls(const etl_req_t *rq)
{
    bool pl = rq->pipeline && rq->pipeline[0], dst = rq->dst_url && rq->dst_url[0];
    if (pl && dst)
        return xasprintf("%s,%s", rq->pipeline, rq->dst_url);
    return pl ? xstrdup(rq->pipeline) : dst ? xstrdup(rq->dst_url) : NULL;
}
