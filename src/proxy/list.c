/*
 * list.c - list objects: every target returns a sorted page of its local names after the
 * continuation token; the proxy merges them into one page. The token is the last name
 * returned (stateless: any proxy can serve the next page).
 */
#include "common/json.h"
#include "common/log.h"
#include "common/lso.h"
#include "common/util.h"
#include "proxy/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LSO_MAX_PAGE 10000

/* The string member k of o (dflt when absent or null); NULL when present with another type. */
static const char *json_str_or(json_t *o, const char *k, const char *dflt)
{
    json_t *v = json_get_ci(o, k);
    if (v == NULL || json_is_null(v))
        return dflt;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Adds a target's page to the merged one (b->arg). */
static int merge_page(proxy_bcast_t *b, const snode_t *t, json_t *j)
{
    lso_page_t p;
    lso_page_init(&p);
    if (lso_decode_json(j, &p) < 0) {
        lso_page_dispose(&p);
        snprintf(b->err, sizeof(b->err), "bad page from target %s", t->id);
        return 500;
    }
    for (size_t k = 0; k < p.n; k++)
        lso_page_add(b->arg, &p.entries[k]);
    lso_page_dispose(&p);
    return 0;
}

/* While a rebalance moves an object, its sender and its owner both hold it: list it once.
 * Pages are sorted, so copies are adjacent; the first one is kept. */
static void dedup(lso_page_t *p)
{
    size_t k = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (k > 0 && strcmp(p->entries[k - 1].name, p->entries[i].name) == 0) {
            lso_entry_dispose(&p->entries[i]);
            continue;
        }
        if (k != i)
            p->entries[k] = p->entries[i];
        k++;
    }
    p->n = k;
}

void proxy_list_objects(http_req_t *req, const char *bck, json_t *lsomsg)
{
    if (lsomsg && !json_is_null(lsomsg) && !json_is_object(lsomsg)) {
        http_reply_error(req, 400, "list objects: value must be a JSON object (LsoMsg)");
        return;
    }
    const char *prefix = json_str_or(lsomsg, "prefix", "");
    const char *token = json_str_or(lsomsg, "continuation_token", "");
    const char *props = json_str_or(lsomsg, "props", "");
    const char *uuid = json_str_or(lsomsg, "uuid", "");
    const char *start_after = json_str_or(lsomsg, "start_after", "");
    if (!prefix || !token || !props || !uuid || !start_after) {
        http_reply_error(req, 400,
                         "list objects: prefix, continuation_token, start_after, props and uuid "
                         "must be strings");
        return;
    }
    uint64_t flags;
    if (lso_flags_parse(json_get_ci(lsomsg, "flags"), &flags) < 0) {
        http_reply_error(req, 400, "list objects: invalid flags (a decimal number expected)");
        return;
    }
    if (strcmp(start_after, token) > 0) /* the later of the two */
        token = start_after;
    json_t *ps = json_get_ci(lsomsg, "pagesize");
    long long pagesize = 0;
    if (json_is_integer(ps))
        pagesize = json_integer_value(ps);
    else if (json_is_string(ps)) {
        char *end;
        pagesize = strtoll(json_string_value(ps), &end, 10);
        if (*end || end == json_string_value(ps))
            pagesize = -1;
    } else if (ps && !json_is_null(ps)) {
        http_reply_error(req, 400, "list objects: pagesize must be a number");
        return;
    }
    if (pagesize < 0) {
        http_reply_error(req, 400, "list objects: invalid pagesize (a number 0..10000 expected)");
        return;
    }
    if (pagesize == 0 || pagesize > LSO_MAX_PAGE)
        pagesize = LSO_MAX_PAGE;
    int pmask = lso_props_parse(props);
    if (pmask < 0) {
        http_reply_error(req, 400, "list objects: invalid props \"%s\"", props);
        return;
    }
    if (props[0] == '\0')
        pmask = LSO_PROP_DEFAULT;
    pmask |= LSO_PROP_NAME;
    /* as AIStore's targets: name-only skips every property, name-size adds the size */
    char *sent = NULL;
    if (flags & LSO_FLAG_NAME_ONLY) {
        pmask = LSO_PROP_NAME;
        sent = xstrdup("name");
    } else if ((flags & LSO_FLAG_NAME_SIZE) && !(pmask & LSO_PROP_SIZE)) {
        pmask |= LSO_PROP_SIZE;
        sent = xasprintf("%s,size", props);
    }
    if (sent)
        props = sent;

    char *eb = url_encode(bck, ""), *ep = url_encode(prefix, ""), *et = url_encode(token, "");
    char *epr = url_encode(props, ",");
    free(sent);
    /* LsArchDir: the targets list the members of archives too (docs/design.md §16) */
    bool arch = (flags & LSO_FLAG_ARCH_DIR) != 0;
    char *pq = xasprintf("/v1/internal/lso?bck=%s&prefix=%s&after=%s&limit=%lld&props=%s%s", eb, ep,
                         et, pagesize, epr, arch ? "&arch=true" : "");
    free(eb);
    free(ep);
    free(et);
    free(epr);
    lso_page_t all;
    lso_page_init(&all);
    proxy_bcast_t b = {.method = "GET",
                       .path = pq,
                       .timeout_ms = 60000,
                       .strict = true,
                       .merge = merge_page,
                       .arg = &all};
    int rc = proxy_bcast(&b);
    free(pq);
    if (rc) {
        http_reply_error(req, (unsigned)rc, "list objects: %s", b.err);
        goto out;
    }
    lso_page_sort(&all);
    dedup(&all);
    if (all.n > (size_t)pagesize) {
        for (size_t k = (size_t)pagesize; k < all.n; k++)
            lso_entry_dispose(&all.entries[k]);
        all.n = (size_t)pagesize;
    }
    free(all.continuation_token);
    all.continuation_token = xstrdup(all.n == (size_t)pagesize ? all.entries[all.n - 1].name : "");
    free(all.uuid);
    all.uuid = xstrdup(uuid[0] ? uuid : "lso");

    const char *accept = http_header(req, "Accept");
    if (accept && strcasestr(accept, "application/msgpack")) {
        buf_t mp;
        buf_init(&mp);
        lso_encode_msgpack(&all, pmask, &mp);
        http_reply(req, 200, "application/msgpack", mp.base ? mp.base : "", mp.len);
        buf_dispose(&mp);
    } else {
        http_reply_json(req, 200, lso_encode_json(&all, pmask));
    }
out:
    lso_page_dispose(&all);
}
