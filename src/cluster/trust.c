/*
 * trust.c - identifying callers and signing this node's calls to other nodes. See trust.h and
 * docs/security.md.
 */
#include "cluster/trust.h"
#include "cluster/cluster.h"
#include "cluster/meta.h"
#include "common/log.h"
#include "common/names.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t now_sec(void)
{
    return (int64_t)time(NULL);
}

bool trust_active(void)
{
    return auth_intra_enabled() || auth_enabled();
}

/* Whether url is one of a cluster node's: the primary's (current or configured) or an smap
 * member's (so that nothing
 * signed ever goes to an ETL server or another process). */
static bool is_node_url(const char *url)
{
    const char *prims[] = {cluster_primary_url(), cluster_config()->primary_url};
    for (size_t i = 0; i < 2; i++) {
        size_t pl = prims[i] ? strlen(prims[i]) : 0;
        if (pl && strncmp(url, prims[i], pl) == 0 && strchr("/?", url[pl]) && url[pl])
            return true;
    }
    smap_t *s = smap_get();
    bool found = false;
    for (size_t i = 0; i < s->n_proxies + s->n_targets && !found; i++) {
        const snode_t *n = i < s->n_proxies ? &s->proxies[i] : &s->targets[i - s->n_proxies];
        size_t nl = strlen(n->url);
        found = strncmp(url, n->url, nl) == 0 && url[nl] && strchr("/?", url[nl]);
    }
    smap_put(s);
    return found;
}

static char **trust_sign(const char *method, const char *url, const void *body, size_t len, int fd,
                         int64_t fd_off, int64_t fd_size)
{
    if (!is_node_url(url))
        return NULL;
    char **lines = xcalloc(5, sizeof(char *));
    lines[0] = xasprintf("%s: %s", AUTH_HDR_CALLER, cluster_self_id());
    if (!auth_intra_enabled())
        return lines;
    char dg[AUTH_DIGEST_LEN];
    if (fd >= 0 ? auth_digest_fd(fd, fd_off, fd_size, dg) != 0
                : auth_digest_buf(body ? body : "", body ? len : 0, dg) != 0)
        snprintf(dg, sizeof(dg), "unreadable"); /* the receiver refuses it */
    const char *q;
    char *path = auth_url_path(url, &q);
    char *canon = auth_canon_request(method, path ? path : "", q, NULL);
    int64_t date = now_sec();
    char sig[64];
    auth_intra_sign(canon, date, cluster_self_id(), dg, sig);
    lines[1] = xasprintf("%s: %lld", AUTH_HDR_DATE, (long long)date);
    lines[2] = xasprintf("%s: %s", AUTH_HDR_DIGEST, dg);
    lines[3] = xasprintf("%s: %s", AUTH_HDR_SIG, sig);
    free(canon);
    free(path);
    return lines;
}

void trust_init(void)
{
    httpc_set_signer(trust_sign);
}

void trust_dispose(trust_t *t)
{
    auth_claims_dispose(&t->claims);
}

static void fail(trust_t *t, const char *why)
{
    t->kind = TRUST_ANON;
    t->status = 401;
    snprintf(t->why, sizeof(t->why), "%s", why);
}

/* An intra-cluster signature: a node, or 401. */
static void identify_node(http_req_t *req, trust_t *t, const char *caller, const char *sig)
{
    const char *date = http_header(req, AUTH_HDR_DATE);
    const char *dg = http_header(req, AUTH_HDR_DIGEST);
    char *canon = auth_canon_request(req->method, req->path, req->raw_query, NULL);
    char err[256];
    int rc = auth_intra_verify(canon, date, caller, dg, sig, now_sec(), err, sizeof(err));
    free(canon);
    if (rc < 0 || strlen(caller) >= sizeof(t->node)) {
        LOCUS_LOG(LOG_WARNING, "%s: %s %s from %s (caller %s) refused: %s", cluster_self_name(),
                  req->method, req->raw_path, req->remote, caller ? caller : "-", err);
        fail(t, rc < 0 ? err : "intra-cluster request: caller id too long");
        return;
    }
    t->kind = TRUST_NODE;
    snprintf(t->node, sizeof(t->node), "%s", caller);
    snprintf(t->digest, sizeof(t->digest), "%s", dg);
}

/* A client: a signed redirect or a bearer token, or 401 when either is bad. */
static void identify_client(http_req_t *req, trust_t *t)
{
    char err[320];
    if (http_query(req, AUTH_Q_SIG) != NULL) {
        if (auth_redirect_verify(req->method, req->path, req->raw_query, now_sec(), err,
                                 sizeof(err)) == 0) {
            t->kind = TRUST_REDIRECT;
            return;
        }
        fail(t, err);
        return;
    }
    const char *h = http_header(req, "Authorization");
    if (h == NULL)
        return; /* anonymous */
    const char *tok;
    size_t tl;
    if (auth_parse_bearer(h, strlen(h), &tok, &tl) < 0) {
        fail(t, "invalid Authorization header: expecting \"Bearer <token>\"");
        return;
    }
    if (auth_token_verify(auth_node_keys(), tok, tl, now_sec(), &t->claims, err, sizeof(err)) < 0) {
        LOCUS_LOG(LOG_VERBOSE, "%s: token refused for %s %s from %s: %s", cluster_self_name(),
                  req->method, req->raw_path, req->remote, err);
        fail(t, err);
        return;
    }
    t->kind = TRUST_USER;
}

void trust_identify(http_req_t *req, trust_t *t)
{
    memset(t, 0, sizeof(*t));
    const char *caller = http_header(req, AUTH_HDR_CALLER);
    if (!auth_intra_enabled()) {
        /* No cluster secret: a node is whoever says so (backward compatibility). */
        if (caller && caller[0] && strlen(caller) < sizeof(t->node)) {
            t->kind = TRUST_NODE;
            snprintf(t->node, sizeof(t->node), "%s", caller);
        }
        return;
    }
    const char *sig = http_header(req, AUTH_HDR_SIG);
    if (sig != NULL) {
        identify_node(req, t, caller ? caller : "", sig);
        return;
    }
    if (auth_enabled())
        identify_client(req, t);
}

int trust_require_node(const trust_t *t, char *msg, size_t len)
{
    if (t->status) {
        snprintf(msg, len, "%s", t->why);
        return t->status;
    }
    if (t->kind == TRUST_NODE || !auth_intra_enabled())
        return 0;
    snprintf(msg, len,
             "%s: intra-cluster endpoint: the request must be signed with the cluster "
             "secret",
             cluster_self_name());
    return 401;
}

int trust_authenticated(const trust_t *t, char *msg, size_t len)
{
    if (t->status) {
        snprintf(msg, len, "%s", t->why);
        return t->status;
    }
    if (t->kind == TRUST_ANON && auth_enabled()) {
        snprintf(msg, len, "token required (Authorization: Bearer <token>)");
        return 401;
    }
    return 0;
}

int trust_require(const trust_t *t, const char *bck, auth_ace_t perms, char *msg, size_t len)
{
    int rc = trust_authenticated(t, msg, len);
    if (rc || t->kind != TRUST_USER || !auth_enabled())
        return rc;
    smap_t *s = smap_get();
    rc = auth_check(&t->claims, s->uuid, bck, perms, msg, len);
    smap_put(s);
    if (rc)
        LOCUS_LOG(LOG_VERBOSE, "%s: %s", cluster_self_name(), msg);
    return rc;
}

int trust_require_object(const trust_t *t, http_req_t *req, const char *bck, char *msg, size_t len)
{
    const char *m = req->method;
    const char *to = strcmp(m, "PUT") == 0 ? http_query(req, "object_to") : NULL;
    auth_ace_t perms = strcmp(m, "GET") == 0            ? AUTH_ACE_GET
                       : strcmp(m, "HEAD") == 0         ? AUTH_ACE_OBJ_HEAD
                       : strcmp(m, "DELETE") == 0       ? AUTH_ACE_OBJ_DELETE
                       : strcmp(m, "PATCH") == 0        ? AUTH_ACE_OBJ_UPDATE /* custom metadata */
                       : to != NULL                     ? AUTH_ACE_GET
                       : http_query(req, "append_type") ? AUTH_ACE_APPEND
                                                        : AUTH_ACE_PUT;
    int rc = trust_require(t, bck, perms, msg, len);
    if (rc || to == NULL || t->kind != TRUST_USER)
        return rc;
    char *dbck = NULL, *dobj = NULL;
    if (uname_parse(to, &dbck, &dobj) == 0 && dbck[0])
        rc = trust_require(t, dbck, AUTH_ACE_PUT, msg, len);
    free(dbck);
    free(dobj);
    return rc;
}

bool trust_body_ok(const trust_t *t, const void *body, size_t len)
{
    if (t->kind != TRUST_NODE || t->digest[0] == '\0')
        return true;
    return auth_digest_matches(t->digest, body ? body : "", body ? len : 0);
}

char *trust_redirect_suffix(const char *method, const char *location)
{
    if (!auth_enabled())
        return NULL;
    return auth_redirect_sign(method, location, now_sec());
}
