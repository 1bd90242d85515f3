/*
 * fanout.h - parallel intra-cluster HTTP requests: one call sends a set of requests (to
 * several nodes, or several to one node), at most `concurrency` in flight at once, each with
 * its own timeout and optional retries on transport failure, and returns when every request
 * has its answer or its error.
 *
 * DESIGN
 * No thread per request: one process-wide I/O thread drives every transfer through one libcurl
 * multi handle, so all fan-outs share its cache of keep-alive connections (a fan-out reuses the
 * connections of the previous ones, whatever thread made them) and any number of threads may
 * fan out at once: each queues its requests and sleeps until they are all answered. Redirects
 * are not followed; no Expect: 100-continue (docs/design.md §13.5).
 */
#ifndef LOCUS_NET_FANOUT_H
#define LOCUS_NET_FANOUT_H

#include <stddef.h>

#include "net/net.h"

/* One request of a fan-out. The caller fills the request part (the rest zeroed, e.g. by
 * xcalloc); fanout_run overwrites the answer part, which must not hold an answer yet. */
typedef struct {
    /* request */
    const char *method;         /* "GET", "POST", ... */
    char *url;                  /* owned: freed by fanout_free */
    const void *body;           /* borrowed until fanout_run returns; NULL = no body */
    size_t body_len;            /* bytes of body */
    const char *content_type;   /* Content-Type header or NULL */
    const httpc_header_t *hdrs; /* more headers ({NULL, NULL}-terminated) or NULL */
    void *arg;                  /* the caller's tag (e.g. the node), untouched */
    /* answer */
    int rc;            /* 0: an HTTP answer arrived (any status); -1: transport failure */
    httpc_resp_t resp; /* status and body of the answer, or err (rc -1) */
    int attempts;      /* how many times it was sent */
} fanout_req_t;

typedef struct {
    int concurrency;    /* requests in flight at most; <= 0: all at once */
    int timeout_ms;     /* per attempt, whole exchange; 0 = none */
    int attempts;       /* tries on a transport failure (no answer); <= 1: one */
    int retry_delay_ms; /* pause before each retry */
} fanout_opts_t;

/* Sends the n requests and waits for all (a failed request fails alone). Thread-safe. */
void fanout_run(fanout_req_t *reqs, size_t n, const fanout_opts_t *opts);
/* Frees each request's url and answer, then reqs itself (NULL is a no-op). */
void fanout_free(fanout_req_t *reqs, size_t n);

#endif
