/*
 * trust.h - who sent a request, and may they (docs/security.md): the glue between the
 * HTTP server, the cluster and auth/. Every request is identified once, when its headers are
 * in (trust_identify): a cluster node (an intra-cluster signature made with the cluster
 * secret), a client with a valid AuthN token, a client following a redirect a proxy signed, or
 * nobody. The role routers then require what each endpoint needs (trust_require,
 * trust_require_node). Outgoing calls to other nodes are signed by a hook this file registers
 * with net (trust_init).
 *
 * Modes: without a cluster secret (backward compatibility, a warning at start) intra-cluster
 * endpoints stay open and a node is whoever says so in Ais-Caller-Id; with one, they need a valid
 * signature. With auth_enabled (which needs a cluster secret) clients need a token.
 */
#ifndef LOCUS_CLUSTER_TRUST_H
#define LOCUS_CLUSTER_TRUST_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/auth.h"
#include "net/net.h"

typedef enum {
    TRUST_ANON = 0, /* no credentials */
    TRUST_USER,     /* a valid AuthN token: claims */
    TRUST_NODE,     /* a cluster node: node (and digest when signed) */
    TRUST_REDIRECT, /* a redirect signed by a proxy for exactly this method, path and query */
} trust_kind_t;

typedef struct {
    trust_kind_t kind;
    int status;    /* 401 when the request carried credentials that did not check out */
    char why[320]; /* with status */
    char node[64]; /* TRUST_NODE: the sender's daemon id */
    char digest[AUTH_DIGEST_LEN]; /* TRUST_NODE with a cluster secret: the body digest it signed,
                                     else "" */
    auth_claims_t claims;         /* TRUST_USER */
} trust_t;

/* Registers the signer of outgoing intra-cluster calls with net (cluster_init). */
void trust_init(void);
/* True when requests need checking at all (a cluster secret or auth is configured). */
bool trust_active(void);

/* Who sent req (headers only; never answers). Dispose t when the request ends. */
void trust_identify(http_req_t *req, trust_t *t);
void trust_dispose(trust_t *t);

/* 0 when the caller is known (a node, a signed redirect, a valid token, or anyone with auth
 * off), else 401 with msg. */
int trust_authenticated(const trust_t *t, char *msg, size_t len);
/* May the caller do perms on bucket bck (NULL: a cluster operation)? 0, or 401 (no or bad
 * credentials) / 403 (not allowed) with msg. Nodes and signed redirects may; with auth off,
 * everyone may. */
int trust_require(const trust_t *t, const char *bck, auth_ace_t perms, char *msg, size_t len);
/* trust_require for an object request on bucket bck: GET needs GET, HEAD HEAD-OBJECT, PUT PUT,
 * DELETE DELETE-OBJECT; a PUT with ?object_to= (copy) needs GET here and PUT on the
 * destination's bucket. Same returns. */
int trust_require_object(const trust_t *t, http_req_t *req, const char *bck, char *msg, size_t len);
/* Intra-cluster endpoints: 0 for a node (anyone without a cluster secret), else 401 with msg. */
int trust_require_node(const trust_t *t, char *msg, size_t len);
/* A node's request body (buffered) is the one it signed: true, or false when the digest
 * differs. Other callers: true. */
bool trust_body_ok(const trust_t *t, const void *body, size_t len);

/* The query suffix that signs a redirect of method to location (auth_redirect_sign), or NULL
 * when redirects need no signature (auth off). Caller frees. */
char *trust_redirect_suffix(const char *method, const char *location);

#endif
